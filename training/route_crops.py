"""Why number crops are not routed to the digit model (docs/speed.md, session 30d).

`record`: every one-line cell crop the grid hands the recogniser on the scans matching
PATTERN, read by PP-OCR with routing off (what production reads for a crop it does not
route: digits.route keeps the others' padding), the routing model's gate
features under both ink rules (`digits.route.ink`), whether the page may be routed
(digits.settled), the grid's ranked readings and the truth cell's printed text (matched
by position, as training/train_digits.py builds its crops). `table`: for each ink rule and
gate, the numeric crops routed and how many would read a value other than the truth, PP-OCR
or the grid, and which gate condition (digits.failures) keeps the rest from routing.

    nice python -m training.route_crops record datasets/generated/s26scans/val \\
        'val_000*.scan_heavy.pdf' /tmp/vh.pkl
    python -m training.route_crops table /tmp/vh.pkl
    python -m training.route_crops table /tmp/vh.pkl --model NEW.onnx --share

`--model`: the gate features recomputed with another routing model (a retrained one,
measured crop by crop against the truth before any end-to-end run); `--share`: per table
page, the one-line crops left to PP-OCR under the configured gate, how many are numbers,
and their estimated share of PP-OCR's input width (its cost is ~linear in the padded width).
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from collections import Counter
from pathlib import Path

GATES = [(0.97, 0.99), (0.95, 0.97), (0.9, 0.95), (0.9, 0.9), (0.85, 0.9), (0.8, 0.8)]


def _same(a, b) -> bool:
    return a == b and type(a) is type(b)


def truth_value(text: str | None):
    """The printed value of a truth cell: a number, 'label' (printed, not a number) or None."""
    from pipeline.ocr import parse_value
    if text is None:
        return None
    ok, v = parse_value(text)
    return v if ok else "label"


def record(folder: Path, pattern: str, out: Path) -> None:
    from pipeline import digits, grid, read
    from pipeline.pdf import config
    from pipeline.run import Settings
    from training.train_digits import match_cells
    config()["digits"]["route"]["enabled"] = False       # PP-OCR reads every crop
    seen: list[dict] = []
    calls: list = []
    orig = grid.read_wrapped_cells

    def wrapped_cells(engine, crops, jobs, results, page):
        # called by the grid's recogniser with every crop of a table before PP-OCR fills
        # `results` in place: the crops, their cells and the list PP-OCR's readings land in
        orig(engine, crops, jobs, results, page)
        calls.append((list(crops), list(jobs), results, page))   # the grid extends its lists later
    grid.read_wrapped_cells = wrapped_cells

    def collect():
        for crops, jobs, res, page in calls:
            single, k = [], 0
            for cell, n in jobs:
                if n == 1:
                    single.append((cell, k))
                k += n
            rr = digits.route_reader().recognise([crops[k] for _, k in single]) if single else []
            for (cell, k), r in zip(single, rr):
                seen.append({"cell": cell, "page": page.number, "settled": digits.settled(page, {"pages": "upright"}),
                             "crop": crops[k], "ptext": res[k].text if res[k] is not None else "", "rtext": r.text,
                             "f": digits.gate_features(crops[k], r, "fixed"),
                             "f_rel": digits.gate_features(crops[k], r, "relative")})
        calls.clear()
    rows = []
    for pdf in sorted(Path(folder).glob(pattern)):
        t0 = time.process_time()
        name, rend = pdf.name.split(".")[:2]
        truth = json.loads((pdf.parent / f"{name}.truth.json").read_text(encoding="utf-8"))
        r = truth["renderings"][rend]
        tcells: dict[int, list] = {}
        for cells in truth["grid"].values():
            for c in cells:
                tcells.setdefault(c["page"], []).append(c)
        seen.clear()
        doc = read.read(pdf, Settings())
        grid.recover(doc, Settings(), join=False)
        collect()
        for x in seen:
            page = doc.pages[x["page"] - 1]
            info = r["pages"][page.number - 1] if page.number - 1 < len(r["pages"]) else {}
            t = None
            if (page.rotation - int(info.get("rotated_cw", 0) or 0)) % 360 == 0:
                t = match_cells([x["cell"]], tcells.get(page.number, [])).get(id(x["cell"]))
            c = x.pop("cell")
            x.update(doc=name, rendering=rend, held=bool(r.get("held_out")), row=c.row, col=c.col,
                     readings=list(c.readings or [])[:3], truth=None if t is None else t["text"])
            rows.append(x)
        print(pdf.name, len(seen), f"{time.process_time() - t0:.0f} CPU s", file=sys.stderr, flush=True)
        with open(out, "wb") as fh:
            pickle.dump(rows, fh)
    grid.read_wrapped_cells = orig


def tabulate(rows: list[dict], gates=GATES, max_char_width: float = 0.9) -> list[dict]:
    """Per ink rule and (min_char_score, min_top): numeric crops (truth a number, page
    routable) routed, wrong (value not the truth's), differing from PP-OCR's parsed text and
    from the grid's top reading, labels routed, and the failing conditions of the rest."""
    from pipeline.digits import failures
    from pipeline.ocr import parse_value
    out = []
    usable = [x for x in rows if x["settled"] and x["truth"] is not None]
    for ink in ("fixed", "relative"):
        for sc, top in gates:
            gate = {"min_char_score": sc, "min_top": top, "max_char_width": max_char_width}
            row = Counter(ink=0)
            why = Counter()
            for x in usable:
                f = x["f" if ink == "fixed" else "f_rel"]
                t = truth_value(x["truth"])
                fl = failures(f, gate)
                if t == "label":
                    row["labels_routed"] += not fl
                    continue
                row["numeric"] += 1
                if fl:
                    why["+".join(fl)] += 1
                    continue
                row["routed"] += 1
                row["wrong"] += not _same(f["value"], t)
                ok, pv = parse_value(x["ptext"])
                row["differs_ppocr"] += not (ok and _same(pv, f["value"]))
                row["differs_grid"] += not (x["readings"] and _same(x["readings"][0][0], f["value"]))
            out.append({"ink": ink, "min_char_score": sc, "min_top": top, **{k: v for k, v in row.items() if k != "ink"},
                        "not_routed_because": dict(why.most_common())})
    return out


def rescore(rows: list[dict], model: Path) -> list[dict]:
    """The recorded crops with their gate features (`f`, `f_rel`) and digit text (`rtext`)
    recomputed by the routing model at `model`."""
    from pipeline import digits
    reader = digits.DigitReader(model)
    out = []
    for x, r in zip(rows, reader.recognise([x["crop"] for x in rows])):
        out.append({**x, "rtext": r.text, "f": digits.gate_features(x["crop"], r, "fixed"),
                    "f_rel": digits.gate_features(x["crop"], r, "relative")})
    return out


def padded_px(crop, min_width: int = 160, squeeze: float = 7.0, factor: float = 0.6) -> float:
    """Estimated width in px at PP-OCR's height 48 a crop is padded to read alone: its own
    width, squeezed as squeeze.py squeezes long dark lines, never below `min_width`."""
    h, w = crop.shape[:2]
    r = w / max(1, h)
    if r > squeeze and h >= 18 and crop.min() < 128:
        r *= factor
    return max(min_width, 48 * r)


def share(rows: list[dict], gate: dict | None = None) -> dict:
    """Per table page (pages with recorded crops): one-line crops, routed under `gate`
    (configs/ocr.yaml digits.route when None), left to PP-OCR by truth kind, the numbers'
    estimated share of the left crops' padded width, and why the numbers were not routed."""
    from pipeline.digits import failures
    from pipeline.pdf import config
    gate = gate or config()["digits"]["route"]
    ink = "f_rel" if gate.get("ink", "fixed") == "relative" else "f"
    pages = {(x["doc"], x.get("rendering", x.get("rend")), x["page"]) for x in rows}
    c, px, why = Counter(), Counter(), Counter()
    for x in rows:
        t = truth_value(x["truth"])
        kind = "none" if t is None else "label" if t == "label" else "number"
        fl = failures(x[ink], gate) if x["settled"] else ["page"]
        c["crops"] += 1
        if not fl:
            c["routed"] += 1
            continue
        c["ppocr_" + kind] += 1
        px[kind] += padded_px(x["crop"])
        if kind == "number":
            why["+".join(fl) + ("" if fl != ["value"] or t != 0 else " (printed 0)")] += 1
    n = max(1, len(pages))
    return {"pages": len(pages), **c, "numbers_to_ppocr_per_page": round(c["ppocr_number"] / n, 1),
            "numbers_px_share": round(px["number"] / max(1.0, sum(px.values())), 3),
            "numbers_ms_per_page": round(px["number"] * 0.1 / n),          # ~0.1 ms per padded px
            "not_routed_because": dict(why.most_common())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("folder", type=Path)
    r.add_argument("pattern")
    r.add_argument("out", type=Path)
    t = sub.add_parser("table")
    t.add_argument("pkl", type=Path, nargs="+")
    t.add_argument("--model", type=Path, default=None, help="recompute the gate features with this routing model")
    t.add_argument("--share", action="store_true", help="the crops left to PP-OCR per page (configured gate)")
    a = ap.parse_args(argv)
    if a.cmd == "record":
        record(a.folder, a.pattern, a.out)
        return 0
    rows = [x for p in a.pkl for x in pickle.loads(p.read_bytes())]
    if a.model:
        rows = rescore(rows, a.model)
    if a.share:
        print(json.dumps(share(rows), ensure_ascii=False))
        return 0
    for line in tabulate(rows):
        print(json.dumps(line, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
