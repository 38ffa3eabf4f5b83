"""Benchmarks side by side with peers, on the same documents in the same run.

    python -m training.bench --mode quick|full [--out DIR] [--docs N] [--splits a,b] [--stop-at HH:MM]

Why: "gouji beats what a user would pick instead" is only true if a side-by-side run on
the same documents shows it; every later change is judged by this run.

Systems (configs/bench.yaml): gouji; gouji without the solver; gouji with the fuzzy
baseline mapper; img2table + Tesseract (cells keyed by gouji's own classify stage, so
only table recovery and OCR differ); PP-OCR lines with naive row/column clustering (same
keying); the number stream of existing open-source parsers. Splits: the synthetic test
split's renderings (digital PDF, light and heavy scans, flattened text) and the five real
seeds. Each system group runs in its own process, one after another (peak memory is that
process's, and the 2 cores are not fought over by our own jobs).

Writes OUT/benchmarks.json (every figure and per-document detail), OUT/benchmarks.md
(a table per split, the command, versions, date) and OUT/benchmarks.png (cell accuracy
against seconds per page).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "bench.yaml"
SCANS = ("scan_light", "scan_heavy")
PDF_SPLITS = ("digital",) + SCANS
GOUJI = ("gouji", "gouji_no_solver", "gouji_fuzzy")
RUN_ORDER = ("text", "seeds", "digital", "scan_light", "scan_heavy")   # cheapest first


def load_config(path: Path | str = CONFIG) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


# =========================================================================================
# Metrics (pure functions; tests/test_bench.py checks them on handmade inputs)
# =========================================================================================

def values_equal(a, b, tol: float = 1e-6) -> bool:
    """Same printed value: both blank (None), or numbers within tol (0 == 0.0)."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))
    except (TypeError, ValueError):
        return a == b


def cell_scores(pred: dict, truth: dict, may_be_missing=(), tol: float = 1e-6) -> dict:
    """Cell value accuracy of one report.

    pred: {key: value}; truth: {key: value}. A truth cell counts right when the predicted
    value equals it; a missing prediction is wrong, except for keys in may_be_missing (the
    seeds' cells that a correct reader may decline to place), which are then not counted.
    """
    mbm = set(may_be_missing or ())
    right = total = 0
    for k, v in truth.items():
        if k not in pred:
            if k in mbm:
                continue
            total += 1
            continue
        total += 1
        right += values_equal(pred[k], v, tol)
    return {"right": right, "total": total, "all_right": total > 0 and right == total}


def bbox_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def grid_f1(pred: list, truth: list, iou: float = 0.5) -> dict:
    """Grid structure F1: recovered cell boxes vs printed cell boxes, one-to-one by IoU.

    pred, truth: [[page, x0, y0, x1, y1], ...] in the same unit. Greedy matching on IoU
    (highest first), a pair counts when IoU ≥ iou.
    """
    pairs = []
    by_page: dict[int, list[int]] = {}
    for j, t in enumerate(truth):
        by_page.setdefault(int(t[0]), []).append(j)
    for i, p in enumerate(pred):
        for j in by_page.get(int(p[0]), []):
            v = bbox_iou(p[1:], truth[j][1:])
            if v >= iou:
                pairs.append((v, i, j))
    pairs.sort(reverse=True)
    used_p, used_t, tp = set(), set(), 0
    for _, i, j in pairs:
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        tp += 1
    prec = tp / len(pred) if pred else 0.0
    rec = tp / len(truth) if truth else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"tp": tp, "pred": len(pred), "truth": len(truth), "precision": prec, "recall": rec, "f1": f1}


def key_right(key: str, cell: dict, truth_cells: dict, tol: float = 1e-6) -> bool:
    """Did the cell get the right key? Located cells: the cell's centre lies in the printed
    cell of that key (same page, 2 pt slack). Cells without a location (text inputs,
    inferred cells) fall back to the value: the only evidence there is."""
    t = truth_cells.get(key)
    if t is None:
        return False
    bb, tb = cell.get("bbox"), t.get("bbox")
    if bb is not None and tb is not None and cell.get("page") is not None and t.get("page") is not None:
        if int(cell["page"]) != int(t["page"]):
            return False
        cx, cy = (bb[0] + bb[2]) / 2, (bb[1] + bb[3]) / 2
        return tb[0] - 2 <= cx <= tb[2] + 2 and tb[1] - 2 <= cy <= tb[3] + 2
    return values_equal(cell.get("value"), t.get("value"), tol)


def ece(conf, correct, bins: int = 10) -> float | None:
    """Expected calibration error: Σ_b n_b/N · |accuracy_b − mean confidence_b|, equal-width bins."""
    conf = np.asarray(conf, float)
    correct = np.asarray(correct, float)
    if conf.size == 0:
        return None
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    out = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            out += m.sum() / conf.size * abs(correct[m].mean() - conf[m].mean())
    return float(out)


def auto_accept(conf, correct, n_total: int | None = None, target: float = 0.995) -> dict:
    """Largest share of cells that can be accepted without review at ≥ target precision.

    Cells are accepted from the most confident down; the threshold is the lowest
    confidence at which the accepted set is still ≥ target precise (ties accepted
    together). coverage = accepted / n_total (default: all cells given).
    """
    conf = np.asarray(conf, float)
    correct = np.asarray(correct, bool)
    n_total = conf.size if n_total is None else n_total
    if conf.size == 0 or n_total == 0:
        return {"coverage": 0.0, "threshold": None, "precision": None, "accepted": 0}
    order = np.argsort(-conf, kind="stable")
    c, ok = conf[order], correct[order]
    cum_ok = np.cumsum(ok)
    best = None
    i = 0
    while i < c.size:
        j = i
        while j + 1 < c.size and c[j + 1] == c[i]:
            j += 1
        n = j + 1
        if cum_ok[j] / n >= target:
            best = (n, float(c[i]), float(cum_ok[j] / n))
        i = j + 1
    if best is None:
        return {"coverage": 0.0, "threshold": None, "precision": None, "accepted": 0}
    return {"coverage": best[0] / n_total, "threshold": best[1], "precision": best[2], "accepted": best[0]}


# =========================================================================================
# Documents and ground truth
# =========================================================================================

def corpus_items(cfg: dict, n_docs: int) -> list[dict]:
    """The first n_docs of the test split: from the corpus (`make data`) when it holds them,
    else generated with the same seeds into the bench cache (datasets/cache/bench/test), so a
    corpus being rebuilt meanwhile cannot pull files from under a run."""
    scfg = yaml.safe_load((ROOT / cfg["synth_config"]).read_text(encoding="utf-8"))
    ids = [f"test_{i:05d}" for i in range(n_docs)]

    def complete(d: Path, doc: str) -> bool:
        return (d / f"{doc}.truth.json").exists() and all((d / _file(doc, s)).exists() for s in cfg["splits"])
    corpus, cache = ROOT / cfg["corpus"], ROOT / cfg["cache"]
    out = []
    todo = []
    for i, d in enumerate(ids):
        where = corpus if complete(corpus, d) else cache
        if where is cache and not complete(cache, d):
            todo.append(i)
        out.append({"doc": d, "dir": str(where)})
    if todo:
        from training.synth.build import SPLITS, make_document
        si = SPLITS.index("test")
        print(f"bench: generating {len(todo)} test documents into {cache} (same seeds as make data)",
              file=sys.stderr, flush=True)
        for i in todo:
            make_document(ids[i], [int(scfg["seed"]), si, i], scfg, cache, scfg["renderings"],
                          scfg.get("page_images", "none"))
    return out


def _file(doc: str, split: str) -> str:
    return f"{doc}.text.txt" if split == "text" else f"{doc}.{split}.pdf"


def load_truth(cfg: dict, split: str, item: dict) -> dict:
    """{cells: {key: {value, page, bbox}}, may_be_missing, grid: [[page, x0, y0, x1, y1]] | None, pages}."""
    if split == "seeds":
        exp = json.loads(Path(item["expected"]).read_text(encoding="utf-8"))
        return {"cells": {k: {"value": v} for k, v in exp["cells"].items()},
                "may_be_missing": list(exp.get("may_be_missing") or []), "grid": None, "pages": 1}
    from training.synth.truth import truth_for
    t = json.loads((Path(item["dir"]) / f"{item['doc']}.truth.json").read_text(encoding="utf-8"))
    r = truth_for(t, split, unit="pt")
    cells = {k: {"value": c["value"], "page": c.get("page"), "bbox": c.get("bbox")} for k, c in r["cells"].items()}
    grid = None
    if split == "digital":
        grid = [[b["page"]] + list(b["bbox"]) for recs in t["grid"].values() for rec in recs for b in _boxes(rec)]
    elif split in SCANS:
        ren = t["renderings"][split]
        s = 72.0 / float(ren["dpi"])
        grid = [[b["page"]] + [v * s for v in b["bbox"]] for recs in ren["grid_px"].values()
                for rec in recs for b in _boxes(rec)]
    return {"cells": cells, "may_be_missing": [], "grid": grid, "pages": len(t["rendering"]["pages"])}


def _boxes(rec: dict) -> list[dict]:
    """A printed cell's visible boxes: the cell, its parts on other pages, repeated headers."""
    return [{"page": rec["page"], "bbox": rec["bbox"]}] + list(rec.get("fragments", [])) + list(rec.get("repeats", []))


def seed_items(cfg: dict) -> list[dict]:
    d = ROOT / cfg["seeds_dir"]
    return [{"doc": p.name[:3], "path": str(p), "expected": str(p.with_suffix(".expected.json"))}
            for p in sorted(d.glob("*.txt"))]


# =========================================================================================
# Workers (one process per system group and split)
# =========================================================================================

def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's peak
    over fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _page_transforms(doc) -> dict:
    """Page number → function mapping a box of gouji's upright, deskewed page back to the
    source page (PDF points), so boxes compare with the printed cells'."""
    out = {}
    for p in doc.pages:
        rot = int(getattr(p, "rotation", 0) or 0) % 360
        skew = float(getattr(p, "skew", 0.0) or 0.0)
        if not rot and not skew:
            continue
        W, H = float(p.width), float(p.height)   # of the final (rotated) page

        def f(bb, W=W, H=H, rot=rot, skew=skew):
            pts = np.array([[bb[0], bb[1]], [bb[2], bb[1]], [bb[0], bb[3]], [bb[2], bb[3]]], float)
            w, h = W, H
            for _ in range(rot // 90):            # undo one counter-clockwise quarter turn
                pts = np.column_stack([h - pts[:, 1], pts[:, 0]])
                w, h = h, w
            if skew:                              # undo rotate_small(angle) about the centre
                a = math.radians(-skew)
                ca, sa = math.cos(a), math.sin(a)
                cx, cy = w / 2, h / 2
                x, y = pts[:, 0] - cx, pts[:, 1] - cy
                pts = np.column_stack([ca * x + sa * y + cx, -sa * x + ca * y + cy])
            return [float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())]
        out[p.number] = f
    return out


def _cells_of(result: dict, transforms: dict | None = None, with_conf: bool = True) -> dict:
    out = {}
    for k, c in result["cells"].items():
        bb, page = c.get("bbox"), c.get("page")
        if bb is not None and transforms and page in transforms:
            bb = transforms[page](bb)
        out[k] = {"value": c.get("value"), "confidence": c.get("confidence") if with_conf else None,
                  "page": page, "bbox": bb}
    return out


def _grid_of(doc, transforms: dict | None = None) -> list:
    out = []
    for p in doc.pages:
        for t in p.tables:
            for c in t.cells:
                if c.bbox is None:
                    continue
                page = c.page or t.page or p.number
                bb = list(c.bbox)
                if transforms and page in transforms:
                    bb = transforms[page](bb)
                out.append([page] + [float(v) for v in bb])
    return out


def _pdf_pages(path) -> int:
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def run_gouji(job: dict, emit) -> None:
    """a, b, c: read and grid once per document, then classify → (solve) → score per variant,
    exactly as pipeline.run.extract does. Seconds = shared read+grid + the variant's own stages.

    On PDF splits the gridded document is also scored against the truth grid before any
    later stage (training.eval_grid.evaluate_doc: issue #4's figures) and emitted as a
    record with kind "grid_eval"."""
    from pipeline import read as rd
    from pipeline.export import to_result
    from pipeline.model import Document, Source
    from pipeline.run import Settings, run_stages
    variants = {"gouji": Settings(), "gouji_no_solver": Settings(solver=False), "gouji_fuzzy": Settings(mapper="fuzzy")}
    for it in job["items"]:
        path = Path(it["path"])
        t0 = time.perf_counter()
        try:
            doc = rd.read(path, Settings())
        except Exception as e:
            doc = Document(Source(str(path))).fail(f"could not read: {type(e).__name__}: {e}")
        t_read = time.perf_counter() - t0
        grid_err = None
        if doc.status != "failed" and any(p.image is not None for p in doc.pages):
            from pipeline import grid
            try:
                grid.recover(doc, Settings())
            except Exception as e:
                grid_err = f"internal error in pipeline: {type(e).__name__}: {e}"
        for p in doc.pages:
            p.image = None                    # grid done: later stages do not look at pixels
        common = time.perf_counter() - t0
        if job["split"] in PDF_SPLITS and it.get("dir"):
            emit(grid_eval_record(doc, it, job["split"], t_read, common, grid_err))
        tr = _page_transforms(doc)
        gbox = _grid_of(doc, tr) if job["split"] in PDF_SPLITS else None
        for name in job["systems"]:
            d = copy.deepcopy(doc)
            t1 = time.perf_counter()
            if grid_err:
                d.fail(grid_err)
            elif d.status != "failed":
                try:
                    run_stages(d, variants[name])
                except Exception as e:
                    d.fail(f"internal error in pipeline: {type(e).__name__}: {e}")
            secs = common + time.perf_counter() - t1
            res = to_result(d)
            emit({"system": name, "doc": it["doc"], "pages": it["pages"], "seconds": secs,
                  "cells": _cells_of(res, tr), "grid": gbox, "status": res["status"],
                  "error": "; ".join(res["errors"])[:300] or None})


GRID_COUNTS = ("fragments", "fragments_found", "cells", "cells_ok", "values", "values_ok", "values_topk")


def grid_eval_record(doc, item: dict, split: str, t_read: float, t_read_grid: float, grid_err: str | None) -> dict:
    """Issue #4's counts for one read + gridded document (training.eval_grid.evaluate_doc,
    unchanged), with its read+grid seconds and the seconds spent in the recogniser."""
    from training.eval_grid import evaluate_doc
    truth = json.loads((Path(item["dir"]) / f"{item['doc']}.truth.json").read_text(encoding="utf-8"))
    rec = {"kind": "grid_eval", "system": "gouji", "doc": item["doc"], "pages": item["pages"],
           "seconds": t_read_grid, "read_seconds": t_read, "ocr_seconds": float(doc.timings.get("ocr", 0.0)),
           "status": "failed" if (doc.status == "failed" or grid_err) else "ok",
           "error": grid_err or ("; ".join(doc.errors)[:300] if doc.status == "failed" else None)}
    if rec["status"] != "ok":            # a failed document still has truth tables and cells to miss
        from pipeline.model import Document, Source
        doc = Document(Source(str(item.get("path", ""))))
    c = evaluate_doc(doc, truth, split)
    missed = c.pop("_errors")
    errors = [[str(x) for x in e] for e in missed][:10] if rec["status"] == "ok" else []
    counts = {k: 0 for k in GRID_COUNTS}
    counts.update({k: int(v) for k, v in c.items()})
    rec["counts"], rec["errors"] = counts, errors
    return rec


def summarise_grid(recs: list[dict], peak_mb: float | None) -> dict:
    """Per split: the ratios training.eval_grid.run reports, from the summed counts; seconds
    per page (read + grid) median; OCR share = recogniser seconds / read+grid seconds
    (median over documents); peak resident memory of the gouji process."""
    n = {k: sum(r["counts"].get(k, 0) for r in recs) for k in GRID_COUNTS}
    ok = [r for r in recs if r["status"] == "ok"]
    spp = [r["seconds"] / r["pages"] for r in ok if r["pages"]]
    share = [r["ocr_seconds"] / r["seconds"] for r in ok if r["seconds"] > 0]
    return {
        "docs": len(recs), "failed": len(recs) - len(ok), "pages": sum(r["pages"] for r in recs),
        "table_recall": round(n["fragments_found"] / max(1, n["fragments"]), 4),
        "structure_accuracy": round(n["cells_ok"] / max(1, n["cells"]), 4),
        "numeric_accuracy": round(n["values_ok"] / max(1, n["values"]), 4),
        "numeric_topk_recall": round(n["values_topk"] / max(1, n["values"]), 4),
        "counts": n,
        "seconds_per_page_median": round(float(np.median(spp)), 3) if spp else None,
        "ocr_share_median": round(float(np.median(share)), 3) if share else None,
        "peak_rss_mb": peak_mb,
        "errors": [[r["doc"]] + e for r in recs for e in r["errors"]][:30],
    }


def _key_with_gouji(doc) -> dict:
    """gouji's classify stage alone (trained mapper if shipped): keys for a peer's cells."""
    from pipeline import classify
    from pipeline.export import to_result
    from pipeline.run import Settings
    try:
        classify.classify(doc, Settings(mapper="auto"))
    except Exception as e:
        doc.fail(f"classify failed on the peer's tables: {type(e).__name__}: {e}")
    return to_result(doc)


def run_img2table(job: dict, emit) -> float:
    """d: img2table + Tesseract in the peers environment, cells keyed by gouji's classify."""
    from pipeline.model import Cell, Document, Page, Source, Table
    cfg = job["config"]["peers"]["img2table"]
    py = ROOT / cfg["python"]
    scanned = job["split"] in SCANS
    spec = {"psm": int(cfg["psm"]), "threads": int(cfg.get("threads", 1)), "jobs": [{"id": it["doc"], "path": it["path"], "scanned": scanned}
                                             for it in job["items"]]}
    tmp = Path(job["tmp"])
    (tmp / "i2t_jobs.json").write_text(json.dumps(spec), encoding="utf-8")
    out = tmp / "i2t_out.jsonl"
    # several Tesseract processes at once: one OpenMP thread each (Tesseract's own advice)
    env = dict(os.environ, OMP_THREAD_LIMIT=str(max(1, 2 // max(1, spec["threads"]))))
    subprocess.run([str(py), str(ROOT / "training" / "peers" / "img2table_tesseract.py"),
                    str(tmp / "i2t_jobs.json"), str(out)], check=False, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    recs, peer_peak = {}, 0.0
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if "peak_rss_mb" in r:
                peer_peak = r["peak_rss_mb"]
            else:
                recs[r["id"]] = r
    for it in job["items"]:
        r = recs.get(it["doc"])
        if r is None:
            emit({"system": "img2table", "doc": it["doc"], "pages": it["pages"], "seconds": None, "cells": {},
                  "grid": [], "status": "failed", "error": "img2table process gave no result"})
            continue
        t0 = time.perf_counter()
        doc = Document(Source(it["path"], kind="scanned_pdf" if scanned else "digital_pdf"))
        pages = {n: Page(number=n, unit="pt") for n in range(1, it["pages"] + 1)}
        for t in r["tables"]:
            cells = [Cell(row=c["row"], col=c["col"], rowspan=c["rowspan"], colspan=c["colspan"],
                          text=c["text"], bbox=tuple(c["bbox"]), page=c["page"]) for c in t["cells"]]
            pages.setdefault(t["page"], Page(number=t["page"], unit="pt")).tables.append(
                Table(cells=cells, page=t["page"], pages=[t["page"]], aligned=True))
        doc.pages = [pages[n] for n in sorted(pages)]
        if r.get("error"):
            doc.fail(f"img2table: {r['error']}")
            res = {"cells": {}, "status": "failed", "errors": doc.errors}
        else:
            res = _key_with_gouji(doc)
        emit({"system": "img2table", "doc": it["doc"], "pages": it["pages"],
              "seconds": r["seconds"] + time.perf_counter() - t0, "cells": _cells_of(res, with_conf=False),
              "grid": _grid_of(doc), "status": res["status"], "error": "; ".join(res["errors"])[:300] or None})
    return peer_peak


def run_ppocr(job: dict, emit) -> None:
    """e (PP-OCR lines + naive clustering, keyed by gouji's classify) and, on scans, f on
    the same OCR text. Seconds of f include the OCR it reads."""
    from training.peers import number_stream
    from training.peers.ppocr_naive import PPOCRNaive, to_document
    cfg = job["config"]["peers"]["ppocr_naive"]
    eng = PPOCRNaive(threads=int(cfg["threads"]), dpi=int(cfg["dpi"]))
    for it in job["items"]:
        t0 = time.perf_counter()
        try:
            pages = eng.read(it["path"])
            err = None
        except Exception as e:
            pages, err = [], f"{type(e).__name__}: {e}"
        t_ocr = time.perf_counter() - t0
        doc = to_document(it["path"], pages)
        if "ppocr_naive" in job["systems"]:
            t1 = time.perf_counter()
            res = _key_with_gouji(doc) if err is None else {"cells": {}, "status": "failed", "errors": [err]}
            emit({"system": "ppocr_naive", "doc": it["doc"], "pages": it["pages"],
                  "seconds": t_ocr + time.perf_counter() - t1, "cells": _cells_of(res, with_conf=False),
                  "grid": _grid_of(doc), "status": res["status"],
                  "error": "; ".join(res["errors"])[:300] or None})
        if "number_stream" in job["systems"]:
            t1 = time.perf_counter()
            res = number_stream.parse(doc.text)
            emit({"system": "number_stream", "doc": it["doc"], "pages": it["pages"],
                  "seconds": t_ocr + time.perf_counter() - t1, "cells": _cells_of(res, with_conf=False),
                  "grid": None, "status": "ok" if err is None else "failed", "error": err})


def pdf_text(path) -> str:
    """The PDF's text layer, page by page (what pdftotext-based parsers read)."""
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(str(path))
    try:
        out = []
        for i in range(len(pdf)):
            tp = pdf[i].get_textpage()
            out.append(tp.get_text_range())
            tp.close()
        return "\n".join(out)
    finally:
        pdf.close()


def run_number_stream(job: dict, emit) -> None:
    """f on text inputs: the flattened text (text, seeds) or the PDF's text layer (digital)."""
    from training.peers import number_stream
    for it in job["items"]:
        t0 = time.perf_counter()
        p = Path(it["path"])
        text = pdf_text(p) if p.suffix.lower() == ".pdf" else p.read_text(encoding="utf-8", errors="replace")
        res = number_stream.parse(text)
        emit({"system": "number_stream", "doc": it["doc"], "pages": it["pages"],
              "seconds": time.perf_counter() - t0, "cells": _cells_of(res, with_conf=False),
              "grid": None, "status": "ok", "error": None})


GROUPS = {"gouji": run_gouji, "img2table": run_img2table, "ppocr": run_ppocr, "number_stream": run_number_stream}


def worker_main(job_path: str, out_path: str) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    with open(out_path, "w", encoding="utf-8") as fh:
        def emit(rec):
            rec["split"] = job["split"]
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
        extra = GROUPS[job["group"]](job, emit) or 0.0
        fh.write(json.dumps({"peak_rss_mb": max(_peak_mb(), float(extra))}) + "\n")
    return 0


def groups_for(split: str, systems: list[str]) -> dict[str, list[str]]:
    """Which worker groups produce which systems on a split."""
    g: dict[str, list[str]] = {}
    for s in systems:
        if s in GOUJI:
            g.setdefault("gouji", []).append(s)
        elif s == "img2table":
            g.setdefault("img2table", []).append(s)
        elif s == "ppocr_naive" or (s == "number_stream" and split in SCANS):
            g.setdefault("ppocr", []).append(s)
        elif s == "number_stream":
            g.setdefault("number_stream", []).append(s)
    return g


GROUP_TIMES: list[dict] = []   # wall and CPU seconds of each worker process (for the report)


class Stopped(Exception):
    """The run reached --stop-at (or was interrupted) while a worker was running."""


def run_group(group: str, split: str, systems: list[str], items: list[dict], cfg: dict,
              tmp: Path, deadline: float | None = None) -> tuple[list, float | None, list]:
    """One worker process for a system group on a split → (records, peak MB, grid_eval records).
    deadline (time.time()): the worker is stopped there and Stopped is raised."""
    job = {"group": group, "split": split, "systems": systems, "items": items, "config": cfg, "tmp": str(tmp)}
    jp, op = tmp / f"job_{group}_{split}.json", tmp / f"rec_{group}_{split}.jsonl"
    jp.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    limit = float(cfg.get("seconds_per_document_limit", 900)) * max(1, len(items))
    proc = subprocess.Popen([sys.executable, "-m", "training.bench", "--worker", str(jp), str(op)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait = limit if deadline is None else max(1.0, min(limit, deadline - time.time()))
    try:
        _, err = proc.communicate(timeout=wait)
        why = f"worker exited {proc.returncode}: {(err or '').strip()[-300:]}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)              # the worker and what it started (Tesseract, peers venv)
        proc.communicate()
        if wait < limit:
            raise Stopped(f"{split}/{group} stopped at --stop-at")
        why = f"worker stopped after {limit:.0f} s (seconds_per_document_limit)"
    except BaseException:                   # Ctrl-C / SIGTERM: the worker's session goes too
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise
    recs, evals, peak = [], [], None
    if op.exists():
        for line in op.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if "peak_rss_mb" in r:
                peak = r["peak_rss_mb"]
            elif r.get("kind") == "grid_eval":
                evals.append(r)
            else:
                recs.append(r)
    done = {(r["system"], r["doc"]) for r in recs}
    for s in systems:
        for it in items:
            if (s, it["doc"]) not in done:
                recs.append({"system": s, "split": split, "doc": it["doc"], "pages": it["pages"], "seconds": None,
                             "cells": {}, "grid": [], "status": "failed",
                             "error": why})
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - t0
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    GROUP_TIMES.append({"split": split, "group": group, "docs": len(items), "wall_s": round(wall, 1),
                        "cpu_s": round(cpu, 1)})
    print(f"bench: {split:<10} {group:<13} {len(items)} docs in {wall:6.1f}s wall, {cpu:6.1f}s CPU"
          f" (peak {peak or 0:.0f} MB)", file=sys.stderr, flush=True)
    return recs, peak, evals


# =========================================================================================
# Scoring and reports
# =========================================================================================

def score_split(recs: list[dict], truths: dict, metrics: dict, peak: dict) -> dict:
    """Metrics per system for one split. recs: worker records; truths: doc → load_truth."""
    tol = float(metrics["value_tol"])
    out = {}
    for sysname in sorted({r["system"] for r in recs}):
        rs = [r for r in recs if r["system"] == sysname]
        right = total = all_right = 0
        k_right = k_total = 0
        confs, oks = [], []
        g_tp = g_pred = g_truth = 0
        grid_known = False
        spp, per_doc, failed = [], [], 0
        for r in sorted(rs, key=lambda r: r["doc"]):
            t = truths[r["doc"]]
            pred = {k: c["value"] for k, c in r["cells"].items()}
            tv = {k: c["value"] for k, c in t["cells"].items()}
            cs = cell_scores(pred, tv, t["may_be_missing"], tol)
            right += cs["right"]
            total += cs["total"]
            all_right += cs["all_right"]
            failed += r["status"] == "failed"
            for k, c in r["cells"].items():
                ok_key = key_right(k, c, t["cells"], tol)
                k_right += ok_key
                k_total += 1
                if c.get("confidence") is not None:
                    confs.append(float(c["confidence"]))
                    oks.append(k in tv and values_equal(c["value"], tv[k], tol))
            if t["grid"] is not None and r.get("grid") is not None:
                grid_known = True
                g = grid_f1(r["grid"], t["grid"], float(metrics["grid_iou"]))
                g_tp, g_pred, g_truth = g_tp + g["tp"], g_pred + g["pred"], g_truth + g["truth"]
            if r["seconds"] is not None and r["pages"]:
                spp.append(r["seconds"] / r["pages"])
            per_doc.append({"doc": r["doc"], "right": cs["right"], "total": cs["total"], "status": r["status"],
                            "seconds": None if r["seconds"] is None else round(r["seconds"], 3),
                            "error": r.get("error")})
        gp = g_tp / g_pred if g_pred else 0.0
        gr = g_tp / g_truth if g_truth else 0.0
        aa = auto_accept(confs, oks, total, float(metrics["target_precision"])) if confs else None
        out[sysname] = {
            "docs": len(rs), "failed": failed, "cells": total,
            "cell_accuracy": right / total if total else None,
            "reports_all_right": all_right / len(rs) if rs else None,
            "key_accuracy": k_right / k_total if k_total else None,
            "grid_f1": (2 * gp * gr / (gp + gr) if gp + gr else 0.0) if grid_known else None,
            "grid_precision": gp if grid_known else None, "grid_recall": gr if grid_known else None,
            "grid_cells": {"matched": g_tp, "recovered": g_pred, "printed": g_truth} if grid_known else None,
            "ece": ece(confs, oks, int(metrics["ece_bins"])) if confs else None,
            "auto_accept_coverage": aa["coverage"] if aa else None,
            "auto_accept_threshold": aa["threshold"] if aa else None,
            "seconds_per_page_median": float(np.median(spp)) if spp else None,
            "peak_rss_mb": peak.get(sysname),
            "per_doc": per_doc,
        }
    return out


def _fmt(v, kind="pct"):
    if v is None:
        return "—"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "f3":
        return f"{v:.3f}"
    if kind == "s":
        return f"{v:.2f}" if v < 100 else f"{v:.0f}"
    if kind == "mb":
        return f"{v:.0f}"
    return str(v)


def versions(cfg: dict) -> dict:
    import importlib.metadata as md
    out = {"python": platform.python_version()}
    for p in ("numpy", "onnxruntime", "rapidocr", "opencv-python-headless", "scikit-learn", "scipy", "pypdfium2",
              "matplotlib"):
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    try:
        out["gouji_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                             text=True, check=False).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "pipeline", "configs",
                                "models"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.split("\n")
        dirty = [ln[3:] for ln in dirty if ln.strip()]
        if dirty and out["gouji_commit"]:
            out["gouji_commit"] += f" + uncommitted changes in {', '.join(dirty)}"
    except OSError:
        out["gouji_commit"] = None
    py = ROOT / cfg["peers"]["img2table"]["python"]
    if py.exists():
        r = subprocess.run([str(py), "-c", "import importlib.metadata as m, json; print(json.dumps("
                            "{p: m.version(p) for p in ('img2table', 'opencv-contrib-python')}))"],
                           capture_output=True, text=True, check=False)
        try:
            out.update(json.loads(r.stdout))
        except ValueError:
            pass
    if shutil.which("tesseract"):
        r = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False)
        out["tesseract"] = (r.stdout or r.stderr).splitlines()[0].split()[-1] if (r.stdout or r.stderr) else None
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "tesseract-ocr-chi-sim"], capture_output=True,
                           text=True, check=False)
        out["tesseract-ocr-chi-sim"] = r.stdout.strip() or None
    return out


SPLIT_TITLES = {"digital": "Digital PDF (text layer)", "scan_light": "Scanned, light degradation",
                "scan_heavy": "Scanned, heavy degradation (skew ≤ 3°, blur, JPEG, seals, 90/180° turns, fax look)",
                "text": "Flattened text", "seeds": "Five real flattened reports (tests/fixtures/seeds)"}


def grid_eval_markdown(ge: dict) -> list[str]:
    """The issue #4 table: gouji's read + grid stages against the truth grid, per PDF split."""
    if not ge:
        return []
    L = ["## Scans and PDFs (issue #4 figures)", "",
         "gouji's read + grid stages only (before classify and the solver), on the same documents as "
         "above, scored by `training/eval_grid.py`'s `evaluate_doc`. **tables** — truth table fragments "
         "(table × page) found (a detected table covers ≥ half of its value cells); **grid** — printed "
         "cells whose row/column span is found at the same place in the matched table; **numeric** — "
         "value cells whose top reading is right, before any solver; **in cands** — the right value is "
         "among the cell's candidate readings; **s/page** — median seconds per page of read + grid; "
         "**OCR share** — median share of those seconds spent in the recogniser; **MB** — peak "
         "resident memory of the gouji process.", "",
         "| split | tables | grid | numeric | in cands | value cells | s/page | OCR share | MB | failed |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for split in PDF_SPLITS:
        m = ge.get(split)
        if not m:
            continue
        L.append(f"| {split} | {_fmt(m['table_recall'])} | {_fmt(m['structure_accuracy'])} | "
                 f"{_fmt(m['numeric_accuracy'])} | {_fmt(m['numeric_topk_recall'])} | {m['counts']['values']} | "
                 f"{_fmt(m['seconds_per_page_median'], 's')} | {_fmt(m['ocr_share_median'])} | "
                 f"{_fmt(m['peak_rss_mb'], 'mb')} | {m['failed']}/{m['docs']} |")
    return L + [""]


def flattened_by_extractors(items: list[dict]) -> dict:
    """The text split as real tools write it (issue #13): each test document's digital PDF
    flattened by pdftotext (three modes), pdfminer.six and pypdfium2, gouji beside the
    number stream (training/eval_flattened.py; extractors not installed are reported)."""
    from pipeline.run import Settings
    from training import eval_flattened
    pdfs = [Path(it["dir"]) / _file(it["doc"], "digital") for it in items]
    work = ROOT / "out" / "bench-flattened"
    return eval_flattened.evaluate([p for p in pdfs if p.exists()], list(eval_flattened.EXTRACTORS), work,
                                   Settings())


def joined_rows(items: list[dict]) -> dict:
    """Rows whose cells a crawler joined without separators (issue #21): the digital PDFs'
    pdftotext text with each row's separators removed, and the whole report on one line
    (training/eval_joined.py)."""
    from pipeline.run import Settings
    from training import eval_joined
    pdfs = [Path(it["dir"]) / _file(it["doc"], "digital") for it in items]
    return eval_joined.evaluate([p for p in pdfs if p.exists()], list(eval_joined.RENDITIONS),
                                ROOT / "out" / "bench-joined", Settings())


def office_kinds(n: int) -> dict:
    """Word and web-page renditions of the first n test reports, and what LibreOffice and
    Chromium make of them (issue #16, training/eval_office.py)."""
    from pipeline.run import Settings
    from training import eval_office
    from training.synth.build import load_config
    kinds = {"docx", "html", "doc", "lo_docx", "chromium_html"}
    return eval_office.evaluate(n, ROOT / "out" / "bench-office", kinds, load_config(str(ROOT / "configs" / "synth.yaml")),
                                Settings(), progress=False)


def write_markdown(report: dict, path: Path) -> None:
    cfg_sys = report["systems"]
    L = ["# Benchmarks: gouji side by side with peers", "",
         f"Run {report['date']} in mode `{report['mode']}` on {report['machine']}: "
         f"{report['n_docs']} synthetic test document(s) ({', '.join(report['docs']['test']) or 'none'}) × "
         f"{len([s for s in report['splits'] if s != 'seeds'])} renderings, plus the five real seeds. "
         "Reproduce with:", "",
         "```", report["command"], "```", "",
         "Same documents, same run, one system group per process, one process at a time. "
         "Accuracy figures are deterministic (fixed documents and seeds); seconds and memory are "
         "measured on this shared 2-core CPU and vary with its load.", "",
         "Columns: **cells** — share of printed cells whose value is right (a blank is `null`, not 0; "
         "a cell not given is wrong); **reports** — share of reports with every cell right; "
         "**keys** — share of the cells a system gave whose key is right (the cell lies in the printed "
         "cell of that key; without a location, its value must match); **grid F1** — recovered cell "
         "boxes against printed cell boxes (IoU ≥ 0.5); **ECE** — calibration error of the cell "
         "confidences (10 bins); **auto@99.5** — share of all cells that can be accepted without review "
         "while the accepted ones stay ≥ 99.5% right (best threshold on this set); **s/page** — median "
         "seconds per page (seeds: per report); **MB** — peak resident memory of the system's process.", ""]
    for split in report["splits"]:
        res = report["results"].get(split)
        if not res:
            continue
        L += [f"## {SPLIT_TITLES.get(split, split)}", "",
              "| system | cells | reports | keys | grid F1 | ECE | auto@99.5 | s/page | MB | failed |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for s in cfg_sys:
            m = res.get(s)
            if m is None:
                continue
            L.append(f"| {cfg_sys[s]} | {_fmt(m['cell_accuracy'])} | {_fmt(m['reports_all_right'])} | "
                     f"{_fmt(m['key_accuracy'])} | {_fmt(m['grid_f1'], 'f3')} | {_fmt(m['ece'], 'f3')} | "
                     f"{_fmt(m['auto_accept_coverage'])} | {_fmt(m['seconds_per_page_median'], 's')} | "
                     f"{_fmt(m['peak_rss_mb'], 'mb')} | {m['failed']}/{m['docs']} |")
        L.append("")
    if report.get("flattened"):
        from training.eval_flattened import table
        L += ["## Flattened text as real extractors write it", "",
              "The digital PDFs above flattened by each tool; cells right over the requests and appeals "
              "tables and over all tables, reports with every cell right, reports `ok`, `ok` with a wrong "
              "cell, and wrong cells at or above the review threshold (0.995); the number stream on the "
              "same text (docs/flattened-text.md).", "", table(report["flattened"]), ""]
    if report.get("joined"):
        from training.eval_joined import table
        L += ["## Rows joined without separators", "",
              "The same digital PDFs' `pdftotext` text with each row's separators removed (as a crawler "
              "keeps a web page), and the whole report on one line; share of cells auto-accepted and their "
              "precision; reports that print blanks as nothing apart (docs/joined-cells.md).", "",
              table(report["joined"]), ""]
    if report.get("office"):
        from training.eval_office import table
        L += ["## Word documents and saved web pages", "",
              "The test reports as .docx and saved web pages (gouji's generator), and as LibreOffice and "
              "headless Chromium turn them into .doc, .docx and HTML (docs/office.md).", "",
              table(report["office"]), ""]
    L += grid_eval_markdown(report.get("grid_eval") or {})
    if report.get("group_times"):
        L += ["## Run time", "", "Each worker process (a system group on a split): wall seconds and CPU seconds "
              "(user + system, with its children: Tesseract, the peers environment). CPU seconds above wall "
              "seconds mean both cores were busy; wall far above CPU means the machine was shared.", "",
              "| split | group | docs | wall s | CPU s |", "|---|---|---|---|---|"]
        L += [f"| {g['split']} | {g['group']} | {g['docs']} | {g['wall_s']:.0f} | {g['cpu_s']:.0f} |"
              for g in report["group_times"]]
        L.append("")
    L += ["## Not measured", ""] + [f"- {n}" for n in report["not_measured"]] + [""]
    L += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + ["", "## Versions", ""]
    L += [f"- {k}: {v}" for k, v in report["versions"].items()]
    L += ["", f"Plot: `{Path(report['plot']).name}` (cell accuracy against median seconds per page); "
          f"every figure and per-document detail: `{Path(report['json']).name}`.", ""]
    path.write_text("\n".join(L), encoding="utf-8")


def write_plot(report: dict, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(10.5, 5.5), dpi=110)
    markers = {"digital": "o", "scan_light": "s", "scan_heavy": "^", "text": "D", "seeds": "*"}
    colors = dict(zip(report["systems"], plt.get_cmap("tab10").colors))
    for split, res in report["results"].items():
        for s, m in res.items():
            x, y = m["seconds_per_page_median"], m["cell_accuracy"]
            if x is None or y is None:
                continue
            ax.scatter(max(x, 1e-4), 100 * y, marker=markers.get(split, "o"), color=colors.get(s, "k"), s=60,
                       edgecolors="black", linewidths=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("median seconds per page (log; seeds: per report)")
    ax.set_ylabel("cell value accuracy (%)")
    ax.set_title(f"gouji vs peers — {report['date'][:10]}, mode {report['mode']}, {report['n_docs']} docs/split")
    from matplotlib.lines import Line2D
    h1 = [Line2D([], [], marker="o", ls="", color=colors[s], label=s) for s in report["systems"]]
    h2 = [Line2D([], [], marker=markers[k], ls="", color="grey", label=k) for k in report["results"]]
    leg = ax.legend(handles=h1, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, title="system",
                    title_fontsize=8)
    ax.add_artist(leg)
    ax.legend(handles=h2, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=7, title="split",
              title_fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return True


# =========================================================================================
# Driver
# =========================================================================================

def ensure_peers(cfg: dict, needed: set[str], install: bool = True) -> list[str]:
    """Install what is missing (scripts/install_peers.sh); returns peers still unavailable."""
    def missing():
        m = []
        if "img2table" in needed and (not shutil.which("tesseract") or not (ROOT / cfg["peers"]["img2table"]["python"]).exists()):
            m.append("img2table")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            m.append("matplotlib")
        return m
    if install and missing():
        print("bench: installing peers (scripts/install_peers.sh) ...", file=sys.stderr, flush=True)
        subprocess.run(["bash", str(ROOT / "scripts" / "install_peers.sh")], cwd=ROOT, check=False)
    return missing()


def not_measured(cfg: dict, splits: list[str], unavailable: list[str]) -> list[str]:
    """What the tables leave out, and why (written into the report)."""
    out = []
    for sp in splits:
        why = (cfg.get("skipped") or {}).get(sp) or {}
        miss = [s for s in cfg["systems"] if s not in cfg["runs"].get(sp, [])]
        by_reason: dict[str, list[str]] = {}
        for s in miss:
            by_reason.setdefault(why.get(s, "no page image to recover a table from (text input)"), []).append(s)
        for reason, syss in by_reason.items():
            out.append(f"{sp}: {', '.join(syss)} — {reason.rstrip('.')}.")
    out += [f"{s}: could not be installed on this machine." for s in unavailable]
    out += ["ECE and auto@99.5 for img2table, PP-OCR-naive and the number stream: they give no "
            "per-cell confidence.",
            "grid F1 on text inputs: flattened text has no cell boxes; the number stream recovers no grid."]
    return out


def stop_time(hhmm: str, now: float | None = None) -> float:
    """The next UTC HH:MM (today, or tomorrow if already past) as time.time() seconds."""
    now = time.time() if now is None else now
    h, m = (int(x) for x in hhmm.split(":"))
    d = datetime.fromtimestamp(now, timezone.utc).replace(hour=h, minute=m, second=0, microsecond=0)
    t = d.timestamp()
    return t if t > now else t + 86400


def _raise_stopped(signum, frame):
    raise Stopped("terminated (SIGTERM)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["quick", "full"], default="quick")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default from configs/bench.yaml)")
    ap.add_argument("--docs", type=int, default=None, help="test documents per split (default from the mode)")
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--splits", default=None, help="comma-separated subset of splits (and/or 'seeds')")
    ap.add_argument("--render", type=Path, metavar="JSON", help="only rewrite the .md and .png next to a benchmarks.json")
    ap.add_argument("--stop-at", metavar="HH:MM", help="UTC time to stop at; the splits done by then are written "
                    "(marked PARTIAL), the one running is dropped")
    ap.add_argument("--no-install", action="store_true", help="do not install missing peers (they are reported)")
    ap.add_argument("--worker", nargs=2, metavar=("JOB", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker_main(*a.worker)
    if a.render:
        report = json.loads(a.render.read_text(encoding="utf-8"))
        write_plot(report, a.render.with_suffix(".png"))
        write_markdown(report, a.render.with_suffix(".md"))
        return 0
    cfg = load_config(a.config)
    mode = cfg["modes"][a.mode]
    n_docs = int(a.docs if a.docs is not None else mode["docs"])
    out = ROOT / (a.out or mode["out"]) if not (a.out and a.out.is_absolute()) else a.out
    out.mkdir(parents=True, exist_ok=True)
    splits = list(cfg["splits"]) + (["seeds"] if mode.get("seeds") else [])
    if a.splits:
        splits = [s for s in a.splits.split(",") if s]
    needed = {s for sp in splits for s in cfg["runs"].get(sp, [])}
    notes = []
    t_phase = time.perf_counter()
    unavailable = ensure_peers(cfg, needed, install=not a.no_install)
    if "img2table" in unavailable:
        notes.append("img2table + Tesseract could not be installed here: not measured.")
    print(f"bench: peers ready in {time.perf_counter() - t_phase:.0f}s", file=sys.stderr, flush=True)
    t_phase = time.perf_counter()
    items = corpus_items(cfg, n_docs) if any(s != "seeds" for s in splits) else []
    print(f"bench: {len(items)} test documents ready in {time.perf_counter() - t_phase:.0f}s", file=sys.stderr, flush=True)
    tmp = ROOT / "out" / "bench-tmp" / str(os.getpid())   # one folder per run: runs never share job files
    tmp.mkdir(parents=True, exist_ok=True)
    results, all_recs, grid_evals = {}, {}, {}
    t_start = time.perf_counter()
    cmd = "python -m training.bench --mode " + a.mode + (f" --docs {a.docs}" if a.docs is not None else "") + \
        (f" --splits {a.splits}" if a.splits else "") + (f" --out {a.out}" if a.out else "")

    def report_now(done: list[str]) -> dict:
        partial = [s for s in splits if s not in done]
        run_notes = notes + [
            "img2table and PP-OCR-naive cells are keyed by gouji's own classify stage (trained mapper when "
            "shipped), without the solver: only table recovery and OCR differ from 'gouji without the solver'.",
            f"img2table runs with its defaults (psm 11, min_confidence 50, ruled tables only) and "
            f"{int(cfg['peers']['img2table'].get('threads', 1))} Tesseract process(es) at a time, detect_rotation "
            "on scans and the PDF text layer on digital PDFs; its boxes are in its own rotation-fixed frame.",
            "gouji's boxes are mapped back through the skew and quarter turns it applied, so grid F1 and key "
            "checks compare with the printed cells in the source page's frame.",
            "The number stream reads the flattened text, the PDF text layer (digital) or the PP-OCR-naive "
            "lines (scans; its seconds include that OCR).",
            "auto@99.5 picks the best threshold on this very set (an upper bound for a threshold fixed in advance).",
            *[f"{sp}: {s} {why.strip().rstrip('.')} (configs/bench.yaml `skipped`)."
              for sp, d in (cfg.get("skipped") or {}).items() if sp in splits
              for s, why in d.items() if "no page image" not in why],
            f"Bench wall time {time.perf_counter() - t_start:.0f} s; CPU shared with other jobs, load average at "
            f"the end {os.getloadavg()[0]:.1f}.",
        ] + ([f"PARTIAL: the run is still going or was stopped; not done yet: {', '.join(partial)}."]
             if partial else [])
        return {
            "format": "gouji.bench/1", "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": a.mode, "command": cmd, "n_docs": n_docs, "splits": splits, "splits_done": list(done),
            "machine": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
                       f"{platform.system()} {platform.release()}",
            "systems": {s: n for s, n in cfg["systems"].items() if s not in unavailable},
            "docs": {"test": [it["doc"] for it in items], "seeds": [it["doc"] for it in seed_items(cfg)]},
            "versions": vers, "notes": run_notes, "unavailable": unavailable,
            "not_measured": not_measured(cfg, splits, unavailable),
            "results": {s: results[s] for s in splits if s in results},
            "grid_eval": {s: grid_evals[s] for s in splits if s in grid_evals}, "group_times": GROUP_TIMES,
            "json": str(out / "benchmarks.json"), "plot": str(out / "benchmarks.png"),
        }

    vers = versions(cfg)
    done: list[str] = []
    deadline = stop_time(a.stop_at) if a.stop_at else None
    prev_term = signal.signal(signal.SIGTERM, _raise_stopped)
    # cheap splits first: if a long run has to be stopped, what is done is already written
    for split in sorted(splits, key=lambda s: RUN_ORDER.index(s) if s in RUN_ORDER else len(RUN_ORDER)):
        if deadline is not None and time.time() >= deadline:
            print(f"bench: --stop-at reached before {split}", file=sys.stderr, flush=True)
            break
        systems = [s for s in cfg["runs"].get(split, []) if s not in unavailable]
        if split == "seeds":
            its = [dict(it, pages=1) for it in seed_items(cfg)]
        else:
            its = []
            for it in items:
                p = Path(it["dir"]) / _file(it["doc"], split)
                t = json.loads((Path(it["dir"]) / f"{it['doc']}.truth.json").read_text(encoding="utf-8"))
                pages = _pdf_pages(p) if split in PDF_SPLITS else len(t["rendering"]["pages"])
                its.append(dict(it, path=str(p), pages=pages))
        truths = {it["doc"]: load_truth(cfg, split, it) for it in its}
        recs, peak, evs = [], {}, {}
        try:
            for group, syss in groups_for(split, systems).items():
                r, pk, ev = run_group(group, split, syss, its, cfg, tmp, deadline)
                recs += r
                for s in syss:
                    peak[s] = pk
                if ev:
                    evs = summarise_grid(ev, pk)
        except (Stopped, KeyboardInterrupt) as e:
            print(f"bench: {e or 'interrupted'}; writing the splits done so far", file=sys.stderr, flush=True)
            break
        if evs:
            grid_evals[split] = evs
        results[split] = score_split(recs, truths, cfg["metrics"], peak)
        all_recs[split] = recs
        done.append(split)
        print(f"bench: {split} done, {time.perf_counter() - t_start:.0f}s since the first split", file=sys.stderr,
              flush=True)
        if len(done) < len(splits):
            report = report_now(done)
            (out / "benchmarks.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
            write_markdown(report, out / "benchmarks.md")
    signal.signal(signal.SIGTERM, prev_term)
    report = report_now(done)
    if "text" in done:   # the same documents flattened by real tools, and joined as crawlers keep them
        report["flattened"] = flattened_by_extractors(items)
        report["joined"] = joined_rows(items)
        report["office"] = office_kinds(len(items))     # and as Word documents and web pages
    if not write_plot(report, out / "benchmarks.png"):
        report["notes"].append("matplotlib missing: no plot.")
    (out / "benchmarks.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    write_markdown(report, out / "benchmarks.md")
    print(f"bench: wrote {out / 'benchmarks.md'}, {out / 'benchmarks.json'}, {out / 'benchmarks.png'}", file=sys.stderr)
    print((out / "benchmarks.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
