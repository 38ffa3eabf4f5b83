"""The combined tables: one row per cell (long), one per report (wide), the review queue;
CSV (UTF-8 with BOM, spreadsheet-safe cells) and Parquet, written through OutDir."""
from __future__ import annotations

import json
from pathlib import Path

from ..fsname import printable
from ..outdir import OutDir


def csv_cell(v):
    """A value as a CSV cell, safe to open in a spreadsheet (OWASP, CSV injection): text that
    starts with = + - @ or a tab / carriage return gets a leading single quote, so Excel shows
    it as text instead of running it as a formula. Numbers stay numbers."""
    if v is None:
        return ""
    if isinstance(v, str):
        v = printable(v)
        if v[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + v
    return v


def write_table(outdir: OutDir, rows: list[dict], columns: list[str], csv_path: Path | None,
                 parquet_path: Path | None, types: dict | None = None) -> dict[str, Path]:
    """CSV (UTF-8 with BOM, so Excel shows Chinese; cells through csv_cell) and Parquet.

    Returns where each was written (outdir may pick another name; see outdir.py)."""
    import csv
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    written = {}
    if csv_path:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([csv_cell(c) for c in columns])
        for r in rows:
            w.writerow([csv_cell(r.get(k)) for k in columns])
        written["csv"] = outdir.write_bytes(csv_path, ("\ufeff" + buf.getvalue()).encode("utf-8"))
    if parquet_path:
        types = types or {}
        arrays = {}
        for c in columns:
            vals = [r.get(c) for r in rows]
            t = types.get(c)
            if t is None:
                arrays[c] = pa.array([None if v is None else printable(str(v)) for v in vals], pa.string())
            else:
                arrays[c] = pa.array(vals, t)
        table = pa.table(arrays) if columns else pa.table({})
        written["parquet"] = outdir.write(parquet_path, lambda tmp: pq.write_table(table, str(tmp)))
    return written


def key_order(keys: set[str]) -> list[str]:
    """Keys in the templates' order (the wide table's columns), then any others sorted."""
    order: list[str] = []
    try:
        from ..templates import templates
        for t in templates().values():
            for k in t.keys(expected_only=False):
                if k in keys and k not in order:
                    order.append(k)
    except Exception:
        pass
    return order + sorted(keys - set(order))


def num(v):
    """A cell value for the tables: int stays int (CSV shows 12, not 12.0), else float or None."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() and abs(f) < 2**53 and not isinstance(v, float) else f


def review_cross_checks(review: list[dict], cross_rows: list[dict], by_name: dict[str, dict]) -> None:
    """Each cell of a cross-check that does not hold goes to the review queue (once), with
    the check in its `check` column: both documents' cells for a year-over-year one."""
    at = {(x["file"], x["key"]): x for x in review}
    for c in cross_rows:
        if c["holds"]:
            continue
        what = (f"{c['kind']}: {c['check']}: {c['source_a']} ({c['year_a']}) {c['keys_a']} = {c['value_a']}"
                f" ≠ {c['source_b']} ({c['year_b']}) {c['keys_b']} = {c['value_b']}"
                + (f" 「{c['sentence']}」" if c.get("sentence") else ""))
        sides = [(c["file_a"], c["keys_a"])] + ([(c["file_b"], c["keys_b"])] if c["kind"] == "cross_year" else [])
        for file, keys in sides:
            r = by_name.get(file[:-len(".json")]) or {}
            for key in keys.split(" + "):
                cell = (r.get("cells") or {}).get(key)
                if cell is None:
                    continue
                row = at.get((file, key))
                if row is None:
                    row = at[(file, key)] = {
                        "source": r["source"]["path"], "agency": r.get("agency"), "year": r.get("year"),
                        "template": r.get("template"), "key": key, "value": num(cell.get("value")),
                        "confidence": cell.get("confidence"), "status": cell.get("status"), "page": cell.get("page"),
                        "doc_status": r.get("status"), "file": file, "text": cell.get("text", ""),
                        "alternatives": json.dumps(cell.get("alternatives", []), ensure_ascii=False)}
                    review.append(row)
                row["check"] = "; ".join(x for x in (row.get("check"), what) if x)

