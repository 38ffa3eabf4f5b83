"""The number stream of existing open-source parsers (training/peers/number_stream.py) on
text inputs: the flattened text or the PDF's text layer."""
from __future__ import annotations

import time
from pathlib import Path

from .records import cells_of


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
              "seconds": time.perf_counter() - t0, "cells": cells_of(res, with_conf=False),
              "grid": None, "status": "ok", "error": None})
