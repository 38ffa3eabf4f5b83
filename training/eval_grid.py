"""Measure the grid stage on the synthetic corpus (docs/ocr.md has the figures).

For every document with a *.truth.json and each rendering (digital, scan_light,
scan_heavy) it reads the file, runs grid.recover and compares with the truth grid:

* table detection recall — truth table fragments (table × page) with a detected table
  covering at least half of the fragment's value cells;
* grid structure accuracy — truth cells (not split over a page break) whose row/col
  span is found at the same relative grid position in the matched detected table
  (best row/col offset per table);
* numeric cell accuracy before any solver — value cells whose top reading equals the
  truth value (blank = None); also top-k (truth anywhere in the candidates);
* seconds per page (median), share of grid time spent in the recogniser, peak RSS.

    python -m training.eval_grid datasets/samples [--out docs/ocr_eval.json] [--limit N]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from pipeline.values import same_number as _value_equal

RENDERINGS = ("digital", "scan_light", "scan_heavy")


def _files(truth_path: Path, truth: dict) -> dict[str, Path]:
    stem = truth_path.name[: -len(".truth.json")]
    out = {}
    for r in RENDERINGS:
        f = truth["renderings"].get(r, {}).get("file") or f"{stem}.{r}.pdf"
        p = truth_path.parent / f
        if p.exists():
            out[r] = p
    return out


def _center_in(bbox, box) -> bool:
    cx, cy = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    return box[0] - 3 <= cx <= box[2] + 3 and box[1] - 3 <= cy <= box[3] + 3


def evaluate_doc(doc, truth: dict, rendering: str) -> dict:
    """Counts for one read document against its truth grid."""
    res = Counter()
    errors = []
    value_boxes = truth["renderings"].get(rendering, {}).get("cells")   # scans: boxes as scanned
    for tname, tcells in truth["grid"].items():
        # which detected table holds this truth table, per page (by value cell positions)
        by_page = defaultdict(list)
        for c in tcells:
            if c.get("role") == "value" and c.get("key"):
                box = c["bbox"]
                if value_boxes and c["key"] in value_boxes:
                    pg, *box = value_boxes[c["key"]]
                else:
                    pg = c["page"]
                by_page[pg].append(box)
        det_tables = set()
        for pg, boxes in by_page.items():
            res["fragments"] += 1
            page = next((p for p in doc.pages if p.number == pg), None)
            best = None
            for t in doc.tables:
                frag = [c.bbox for c in t.cells if c.page == pg and c.bbox]
                if not frag:
                    continue
                region = (min(b[0] for b in frag), min(b[1] for b in frag),
                          max(b[2] for b in frag), max(b[3] for b in frag))
                k = sum(_center_in(b, region) for b in boxes)
                if best is None or k > best[0]:
                    best = (k, t)
            if page is not None and (page.rotation or page.skew) and best:
                # rotated or deskewed pages: truth boxes are in the scan's own frame
                n_tables = sum(1 for t in doc.tables if pg in t.pages)
                if n_tables == 1 or best[0] < 0.5 * len(boxes):
                    best = (len(boxes) if n_tables == 1 else best[0], best[1])
            if best and best[0] >= 0.5 * len(boxes):
                res["fragments_found"] += 1
                det_tables.add(id(best[1]))
        # structure: best offset between truth and a detected table (joined over pages)
        cands = [t for t in doc.tables if id(t) in det_tables]
        if not cands:
            # a rotated page: fall back to any table on the pages of this truth table
            pages = {c["page"] for c in tcells}
            cands = [t for t in doc.tables if set(t.pages) & pages]
        whole = [c for c in tcells if not c.get("fragments")]
        res["cells"] += len(whole)
        vals = [c for c in tcells if c.get("role") == "value" and c.get("key")]
        res["values"] += len(vals)
        best_match, best_t, best_off = 0, None, (0, 0)
        for t in cands:
            spans = {(c.row, c.col): c for c in t.cells}
            offs = Counter()
            for c in whole:
                for d in t.cells:
                    if (d.rowspan, d.colspan) == (c["rowspan"], c["colspan"]) and abs(d.row - c["row"]) <= 4 \
                            and abs(d.col - c["col"]) <= 4:
                        offs[(d.row - c["row"], d.col - c["col"])] += 1
            for off, _ in offs.most_common(3):
                m = sum(1 for c in whole
                        if (d := spans.get((c["row"] + off[0], c["col"] + off[1]))) is not None
                        and (d.rowspan, d.colspan) == (c["rowspan"], c["colspan"]))
                if m > best_match:
                    best_match, best_t, best_off = m, t, off
        res["cells_ok"] += best_match
        if best_t is None:
            continue
        spans = {(c.row, c.col): c for c in best_t.cells}
        for c in vals:
            truth_v = truth["cells"].get(c["key"], {}).get("value", None)
            d = spans.get((c["row"] + best_off[0], c["col"] + best_off[1]))
            if d is None:
                errors.append((c["key"], truth_v, None))
                continue
            top = d.readings[0][0] if d.readings else "<illegible>"
            if d.readings and _value_equal(top, truth_v):
                res["values_ok"] += 1
            else:
                errors.append((c["key"], truth_v, d.readings[:3], d.text))
            if any(_value_equal(v, truth_v) for v, _ in d.readings):
                res["values_topk"] += 1
    res["_errors"] = errors
    return res


def run(folder: Path, limit: int | None = None, renderings=RENDERINGS, engine: str = "rapidocr",
        verbose: bool = False) -> dict:
    from pipeline import grid, read
    from pipeline.run import Settings
    settings = Settings(ocr_engine=engine)
    truths = sorted(folder.rglob("*.truth.json"))[:limit]
    per = {r: Counter() for r in renderings}
    secs = {r: [] for r in renderings}
    cpu = {r: [] for r in renderings}
    ocr_share = {r: [] for r in renderings}
    errs = {r: [] for r in renderings}
    for tp in truths:
        truth = json.loads(tp.read_text(encoding="utf-8"))
        if "grid" not in truth:
            continue
        files = _files(tp, truth)
        for r in renderings:
            if r not in files:
                continue
            t0 = time.perf_counter()
            c0 = time.process_time()
            doc = read.read(files[r], settings)
            if doc.status == "failed":
                per[r]["failed_docs"] += 1
                continue
            t1 = time.perf_counter()
            grid.recover(doc, settings)
            t2 = time.perf_counter()
            n = max(1, len(doc.pages))
            secs[r].append((t2 - t0) / n)
            cpu[r].append((time.process_time() - c0) / n)
            ocr_share[r].append(doc.timings.get("ocr", 0.0) / max(1e-9, t2 - t1))
            c = evaluate_doc(doc, truth, r)
            errs[r] += [(files[r].name, *e) for e in c.pop("_errors")]
            per[r].update(c)
            per[r]["docs"] += 1
            per[r]["pages"] += n
            if verbose:
                print(f"{files[r].name}: {dict(c)} {(t2 - t0) / n:.2f} s/page", file=sys.stderr)
            for p in doc.pages:
                p.image = None
    out = {}
    for r in renderings:
        c = per[r]
        if not c["docs"]:
            continue
        out[r] = {
            "docs": c["docs"], "pages": c["pages"],
            "table_recall": round(c["fragments_found"] / max(1, c["fragments"]), 4),
            "structure_accuracy": round(c["cells_ok"] / max(1, c["cells"]), 4),
            "numeric_accuracy": round(c["values_ok"] / max(1, c["values"]), 4),
            "numeric_topk_recall": round(c["values_topk"] / max(1, c["values"]), 4),
            "values": c["values"],
            "s_per_page_median": round(statistics.median(secs[r]), 3),
            "cpu_s_per_page_median": round(statistics.median(cpu[r]), 3),
            "ocr_share_median": round(statistics.median(ocr_share[r]), 3),
            "errors": errs[r][:40],
        }
    out["load_average_at_end"] = open("/proc/loadavg").read().split()[:3]
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["engine"] = engine
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, nargs="?", default=Path("datasets/samples"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None, help="first N documents")
    ap.add_argument("--renderings", default=",".join(RENDERINGS))
    ap.add_argument("--engine", default="rapidocr")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    res = run(a.folder, a.limit, tuple(a.renderings.split(",")), a.engine, a.verbose)
    text = json.dumps(res, ensure_ascii=False, indent=1, default=str)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text, encoding="utf-8")
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "errors"} if isinstance(v, dict) else v
               for k, v in res.items()}
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
