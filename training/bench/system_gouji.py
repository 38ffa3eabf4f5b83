"""gouji and its ablations (without the solver, with the fuzzy mapper): constructed
Extractors sharing one read + grid per document; and issue #4's read + grid figures."""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np

from .corpus import PDF_SPLITS
from .records import cells_of, grid_of, page_transforms


def variants() -> dict:
    """The gouji systems as constructed Extractors (pipeline/extractor.py): the ablations
    swap or drop one stage."""
    from pipeline.extractor import Classifier, Extractor
    from pipeline.run import Settings
    return {"gouji": Extractor(),
            "gouji_no_solver": Extractor(solver=False),
            "gouji_fuzzy": Extractor(classifier=Classifier(Settings(mapper="fuzzy")))}


def run_gouji(job: dict, emit) -> None:
    """a, b, c: the default Extractor reads and grids once per document, then each variant's
    Extractor runs its classify → (solve) → score on a copy (`Extractor.finish`), exactly as
    `extract` does. Seconds = shared read+grid + the variant's own stages.

    On PDF splits the gridded document is also scored against the truth grid before any
    later stage (training.eval_grid.evaluate_doc: issue #4's figures) and emitted as a
    record with kind "grid_eval"."""
    from pipeline.export import to_result
    systems = variants()
    shared = systems["gouji"]
    for it in job["items"]:
        t0 = time.perf_counter()
        doc = shared.read(it["path"])
        t_read = time.perf_counter() - t0
        grid_err = None
        if doc.status != "failed":
            try:
                shared.grid(doc)
            except Exception as e:
                grid_err = f"internal error in pipeline: {type(e).__name__}: {e}"
        for p in doc.pages:
            p.image = None                    # grid done: later stages do not look at pixels
        common = time.perf_counter() - t0
        if job["split"] in PDF_SPLITS and it.get("dir"):
            emit(grid_eval_record(doc, it, job["split"], t_read, common, grid_err))
        tr = page_transforms(doc)
        gbox = grid_of(doc, tr) if job["split"] in PDF_SPLITS else None
        for name in job["systems"]:
            d = copy.deepcopy(doc)
            t1 = time.perf_counter()
            if grid_err:
                d.fail(grid_err)
            elif d.status != "failed":
                try:
                    systems[name].finish(d)
                except Exception as e:
                    d.fail(f"internal error in pipeline: {type(e).__name__}: {e}")
            secs = common + time.perf_counter() - t1
            res = to_result(d)
            emit({"system": name, "doc": it["doc"], "pages": it["pages"], "seconds": secs,
                  "cells": cells_of(res, tr), "grid": gbox, "status": res["status"],
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
