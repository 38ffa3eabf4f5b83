"""PP-OCR on the full page with naive row/column clustering (training/peers/ppocr_naive.py)
as an Extractor reader, keyed by gouji's classify stage; on scans the number stream reads
the same OCR lines (its Extractor's classifier stage on the OCR text)."""
from __future__ import annotations

import time

from .records import cells_of, grid_of, keyed_by_gouji
from .system_number_stream import NumberStream


class PPOCRNaiveReader:
    """Reader: PP-OCR lines of every page clustered into rows and columns, one table a page."""

    def __init__(self, threads: int = 2, dpi: int | None = None):
        from training.peers.ppocr_naive import DPI, PPOCRNaive
        self.engine = PPOCRNaive(threads=threads, dpi=DPI if dpi is None else dpi)

    def read(self, path):
        from training.peers.ppocr_naive import to_document
        return to_document(path, self.engine.read(path))


def run_ppocr(job: dict, emit) -> None:
    """e (PP-OCR lines + naive clustering, keyed by gouji's classify) and, on scans, f on
    the same OCR text. Seconds of f include the OCR it reads."""
    from pipeline.export import to_result
    from pipeline.model import Document
    cfg = job["config"]["peers"]["ppocr_naive"]
    ex = keyed_by_gouji(PPOCRNaiveReader(threads=int(cfg["threads"]), dpi=int(cfg["dpi"])))
    stream = NumberStream()
    for it in job["items"]:
        t0 = time.perf_counter()
        doc = ex.read(it["path"])             # a reader that raised: a failed Document
        failed = doc.status == "failed"
        t_ocr = time.perf_counter() - t0
        text_doc = Document(doc.source, text=doc.text)
        if "ppocr_naive" in job["systems"]:
            t1 = time.perf_counter()
            if not failed:
                try:
                    ex.run_stages(doc)
                except Exception as e:
                    doc.fail(f"internal error in pipeline: {type(e).__name__}: {e}")
            res = to_result(doc)
            emit({"system": "ppocr_naive", "doc": it["doc"], "pages": it["pages"],
                  "seconds": t_ocr + time.perf_counter() - t1, "cells": cells_of(res, with_conf=False),
                  "grid": grid_of(doc), "status": res["status"],
                  "error": "; ".join(res["errors"])[:300] or None})
        if "number_stream" in job["systems"]:
            t1 = time.perf_counter()
            stream(text_doc)
            res = to_result(text_doc)
            emit({"system": "number_stream", "doc": it["doc"], "pages": it["pages"],
                  "seconds": t_ocr + time.perf_counter() - t1, "cells": cells_of(res, with_conf=False),
                  "grid": None, "status": "failed" if failed else "ok",
                  "error": "; ".join(doc.errors)[:300] or None if failed else None})
