"""What a run did: the combined tables, the run summary (counts, timings, review queue,
cross-checks) and the HTML report, over every result the manifest lists."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fsname import json_safe, printable
from ..outdir import Manifest, OutDir
from .discover import Entry, load_json, result_abs
from .fingerprint import settings_dict
from .options import config, review_threshold
from .tables import key_order, num, review_cross_checks, write_table


@dataclass
class Summary:
    """What a run did; `line()` is what the CLI prints."""
    counts: dict[str, int] = field(default_factory=dict)
    documents: int = 0
    processed: int = 0
    already_done: int = 0
    duplicates: int = 0
    skipped: list[dict] = field(default_factory=list)
    pages: int = 0
    wall_s: float = 0.0
    out: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    data: dict = field(default_factory=dict)

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "no documents"
        extra = [f"{self.processed} processed", f"{self.already_done} already done"]
        if self.duplicates:
            extra.append(f"{self.duplicates} duplicates")
        if self.skipped:
            extra.append(f"{len(self.skipped)} skipped (reasons in the run summary)")
        rate = f"{self.pages / self.wall_s * 60:.0f} pages/min" if self.wall_s > 0 and self.pages else ""
        tail = (f" · {self.pages} pages in {self.wall_s:.1f} s" + (f" ({rate})" if rate else "")) \
            if self.processed else ""
        where = f" · {self.outputs.get('summary', '')}, {self.outputs.get('report', '')}" if self.outputs else ""
        return f"done: {counts} ({', '.join(extra)}){tail}{where}"



@dataclass
class RunFacts:
    """This run's part of the summary (refresh_tables, which reads nothing, passes an empty run)."""
    settings: Any
    fingerprint: str
    engine: str = "local"
    workers: int | None = None
    entries: list[Entry] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    estats: Any = None               # engines' stats: peak memory, restarts
    wall: float = 0.0                # seconds the engine ran
    pages: int = 0                   # pages read now
    doc_times: list[float] = field(default_factory=list)
    already: int = 0
    t_start: float = field(default_factory=time.time)


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))], 3)


def listed_results(entries: list[Entry], manifest: Manifest, out: Path) -> tuple[list[tuple[str, dict]], list]:
    """Every result in OUT the manifest lists (this run's and earlier runs'), sorted by name,
    and a failure line for each input of this run that has none."""
    found: dict[str, dict] = {}
    wanted = [(rec["name"], rec["abs"]) for rec in manifest.by_path.values()]
    wanted += [(e.name, e.abs) for e in entries if e.name]
    for name, ap in wanted:
        if name not in found:
            r = load_json(out / f"{name}.json")
            if r is not None and result_abs(r) == ap:
                found[name] = r
    missing = [{"source": str(e.path), "reason": "no result written (run interrupted?)"}
               for e in entries if not e.name or e.name not in found]
    return sorted(found.items()), missing


def finish(out: Path, outdir: OutDir, report_dir: Path, run: RunFacts) -> Summary:
    """Write the combined tables, the report and the run summary; return what the CLI prints."""
    import pyarrow as pa
    cfg = config()
    names = cfg.get("outputs", {})
    thr = review_threshold()
    long_rows, wide_rows, review, docs, dup_list = [], [], [], [], []
    all_keys: set[str] = set()
    stage: dict[str, float] = {}
    status_counts: dict[str, int] = {}
    results, failures = listed_results(run.entries, outdir.manifest, out)
    from ..review_files import apply_review, load_reviewed      # a reviewer's decisions: status "reviewed"
    results = [(name, apply_review(r, load_reviewed(out, name))) for name, r in results]
    for name, r in results:
        b = r.get("batch") or {}
        st = r.get("status", "failed")
        status_counts[st] = status_counts.get(st, 0) + 1
        cells = r.get("cells") or {}
        n_review = n_conflict = 0
        for k, c in cells.items():
            low = c.get("status") == "conflict" or (c.get("confidence") is not None and c["confidence"] < thr)
            n_conflict += c.get("status") == "conflict"
            n_review += bool(low)
            if b.get("duplicate_of"):
                continue  # same content counted once in the cell tables
            row = {"source": r["source"]["path"], "agency": r.get("agency"), "year": r.get("year"),
                   "template": r.get("template"), "key": k, "value": num(c.get("value")),
                   "confidence": c.get("confidence"), "status": c.get("status"), "page": c.get("page"),
                   "doc_status": st, "file": f"{name}.json"}
            long_rows.append(row)
            if low:
                review.append({**row, "text": c.get("text", ""),
                               "alternatives": json.dumps(c.get("alternatives", []), ensure_ascii=False)})
        all_keys.update(cells)
        if st == "failed" or r.get("errors"):
            failures.append({"source": r["source"]["path"], "status": st, "reason": "; ".join(r.get("errors", []))})
        if not b.get("duplicate_of"):
            for k, v in (r.get("timings") or {}).items():
                stage[k] = stage.get(k, 0.0) + float(v or 0)
        if b.get("duplicate_of"):
            dup_list.append({"source": r["source"]["path"], "same_as": b["duplicate_of"]})
        wide = {"file": f"{name}.json", "source": r["source"]["path"], "sha256": r["source"].get("sha256"),
                "kind": r["source"].get("kind"), "agency": r.get("agency"), "year": r.get("year"),
                "template": r.get("template"), "status": st, "confidence": r.get("confidence"),
                "pages": b.get("pages"), "cells": len(cells), "review_cells": n_review, "conflicts": n_conflict,
                "duplicate_of": b.get("duplicate_of"), "reason": "; ".join(r.get("errors", [])) or None,
                **{f"v:{k}": num(c.get("value")) for k, c in cells.items()}}
        wide_rows.append(wide)
        docs.append({"name": name, "file": f"{name}.json", "result": r})
    keys = key_order(all_keys)
    from .. import crosscheck     # the prose and year-over-year checks across the batch's results
    year_checks = crosscheck.cross_year(results)
    cross_rows = crosscheck.rows(results, year_checks)
    review_cross_checks(review, cross_rows, {name: r for name, r in results})
    review.sort(key=lambda x: (x["confidence"] if x["confidence"] is not None else -1, x["source"], x["key"]))
    long_cols = ["source", "agency", "year", "template", "key", "value", "confidence", "status", "page",
                 "doc_status", "file"]
    types = {"year": pa.int64(), "value": pa.float64(), "confidence": pa.float64(), "page": pa.int64()}
    o = {k: out / v for k, v in names.items() if isinstance(v, str) and k not in ("state_dir", "report_dir")}
    o["cross_csv"] = out / crosscheck.settings()["cross_year"].get("output", "cross_checks.csv")
    written = {k: outdir.claim(v) for k, v in o.items()}    # where each goes (another name if not ours)
    write_table(outdir, long_rows, long_cols, o.get("long_csv"), o.get("long_parquet"), types)
    wide_cols = ["file", "source", "sha256", "kind", "agency", "year", "template", "status", "confidence", "pages",
                 "cells", "review_cells", "conflicts", "duplicate_of", "reason"] + [f"v:{k}" for k in keys]
    wtypes = {"year": pa.int64(), "confidence": pa.float64(), "pages": pa.int64(), "cells": pa.int64(),
              "review_cells": pa.int64(), "conflicts": pa.int64(), **{f"v:{k}": pa.float64() for k in keys}}
    # CSV header keeps the plain key names; Parquet columns too (the v: prefix only avoids clashes here)
    write_table(outdir, [{(k[2:] if k.startswith("v:") else k): v for k, v in w.items()} for w in wide_rows],
                [c[2:] if c.startswith("v:") else c for c in wide_cols], o.get("wide_csv"), o.get("wide_parquet"),
                {(k[2:] if k.startswith("v:") else k): t for k, t in wtypes.items()})
    review_cols = long_cols + ["text", "alternatives", "check"]
    write_table(outdir, review, review_cols, o.get("review_csv"), None)
    write_table(outdir, cross_rows, crosscheck.COLUMNS, o.get("cross_csv"), None)

    n_docs = sum(status_counts.values())
    processed = sum(1 for e in run.entries if e.state == "job")
    summary = {
        "format": "gouji.run/1", "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "out": str(out), "engine": run.engine, "workers": run.workers, "fingerprint": run.fingerprint,
        "settings": settings_dict(run.settings), "documents": n_docs, "counts": dict(sorted(status_counts.items())),
        "processed_now": processed, "already_done": run.already, "duplicates": dup_list, "skipped": run.skipped,
        "failures": failures,
        "timings": {"wall_s": round(run.wall, 3), "run_wall_s": round(time.time() - run.t_start, 3),
                    "pages": run.pages,
                    "pages_per_min": round(run.pages / run.wall * 60, 1) if run.wall > 0 and run.pages else None,
                    "docs_per_min": round(processed / run.wall * 60, 1) if run.wall > 0 and processed else None,
                    "per_doc_s": {"p50": pct(run.doc_times, 0.5), "p95": pct(run.doc_times, 0.95),
                                  "max": pct(run.doc_times, 1.0)},
                    "stage_s": {k: round(v, 3) for k, v in sorted(stage.items())}},
        "memory": {"peak_worker_rss_mb": round(run.estats.peak_worker_rss_mb, 1) if run.estats else None,
                   "peak_total_workers_rss_mb": round(run.estats.peak_total_rss_mb, 1) if run.estats else None,
                   "worker_restarts": run.estats.restarts if run.estats else 0},
        "review_threshold": thr, "review_cells": len(review), "review_queue": review[:500],
        "cross_checks": {"evaluated": len(cross_rows), "mismatches": sum(not c["holds"] for c in cross_rows),
                         "by_kind": {k: {"evaluated": sum(c["kind"] == k for c in cross_rows),
                                         "mismatches": sum(c["kind"] == k and not c["holds"] for c in cross_rows)}
                                     for k in ("narrative", "cross_year")},
                         "list": [c for c in cross_rows if not c["holds"]][:500]},
        "outputs": {k: outdir.rel(v) for k, v in written.items()},
        "warnings": outdir.warnings,
    }
    summary = json_safe(summary)
    from ..report_html import write_report
    write_report(outdir, docs, summary, report_dir, o["report"], thr)
    summary["warnings"] = json_safe(outdir.warnings)     # the report's pages may have added some
    outdir.write_json(o["summary"], summary)
    for w in outdir.warnings:
        print(f"gouji: warning: {printable(w)}", file=sys.stderr)
    return Summary(counts=dict(sorted(status_counts.items())), documents=n_docs, processed=processed,
                   already_done=run.already, duplicates=len(dup_list), skipped=summary["skipped"], pages=run.pages,
                   wall_s=run.wall, out=printable(str(out)),
                   outputs={k: printable(str(v)) for k, v in written.items() if k in ("summary", "report")},
                   data=summary)
