"""PP-OCR on the full page with naive row/column clustering (training/peers/ppocr_naive.py),
keyed by gouji's classify stage; on scans the number stream reads the same OCR lines."""
from __future__ import annotations

import time

from .records import cells_of, grid_of, key_with_gouji


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
            res = key_with_gouji(doc) if err is None else {"cells": {}, "status": "failed", "errors": [err]}
            emit({"system": "ppocr_naive", "doc": it["doc"], "pages": it["pages"],
                  "seconds": t_ocr + time.perf_counter() - t1, "cells": cells_of(res, with_conf=False),
                  "grid": grid_of(doc), "status": res["status"],
                  "error": "; ".join(res["errors"])[:300] or None})
        if "number_stream" in job["systems"]:
            t1 = time.perf_counter()
            res = number_stream.parse(doc.text)
            emit({"system": "number_stream", "doc": it["doc"], "pages": it["pages"],
                  "seconds": t_ocr + time.perf_counter() - t1, "cells": cells_of(res, with_conf=False),
                  "grid": None, "status": "ok" if err is None else "failed", "error": err})
