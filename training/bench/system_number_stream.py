"""The number stream of existing open-source parsers (training/peers/number_stream.py) as
Extractor pieces: `TextLayerReader` (the flattened text, or the PDF's text layer, as a
Document's text) and `NumberStream`, the stage in the classifier's place that pours the
numbers into the template's keys in order (it replaces classify and solve; nothing scores
it)."""
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


class TextLayerReader:
    """Reader: a text file's text, or a PDF's text layer, as Document.text (no pages)."""

    def read(self, path):
        from pipeline.model import Document, Source
        p = Path(path)
        if p.suffix.lower() == ".pdf":
            return Document(Source(str(p), kind="digital_pdf"), text=pdf_text(p))
        return Document(Source(str(p), kind="text"), text=p.read_text(encoding="utf-8", errors="replace"))


class NumberStream:
    """Classifier stage: number_stream.parse(doc.text) → doc.template, doc.year, doc.fields
    (values only: the peer has no confidences)."""

    def __call__(self, doc) -> None:
        from pipeline.model import Field
        from training.peers import number_stream
        res = number_stream.parse(doc.text)
        doc.template, doc.year = res["template"], res["year"]
        doc.fields = {k: Field(key=k, value=c["value"]) for k, c in res["cells"].items()}


def number_stream_extractor(reader=None):
    """The number stream as an Extractor: `reader` (default TextLayerReader) → NumberStream."""
    from pipeline.extractor import Extractor
    return Extractor(reader=reader or TextLayerReader(), gridder=False, regions=False,
                     classifier=NumberStream(), solver=False, scorer=False)


def run_number_stream(job: dict, emit) -> None:
    """f on text inputs: the flattened text (text, seeds) or the PDF's text layer (digital)."""
    from pipeline.export import to_result
    ex = number_stream_extractor()
    for it in job["items"]:
        t0 = time.perf_counter()
        res = to_result(ex.extract(it["path"]))
        emit({"system": "number_stream", "doc": it["doc"], "pages": it["pages"],
              "seconds": time.perf_counter() - t0, "cells": cells_of(res, with_conf=False),
              "grid": None, "status": "ok" if res["status"] != "failed" else "failed",
              "error": "; ".join(res["errors"])[:300] or None})
