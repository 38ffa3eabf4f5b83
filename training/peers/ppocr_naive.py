"""Peer (e): PP-OCR text lines + naive row/column clustering — an afternoon's script.

The same PP-OCR models gouji bundles (rapidocr wheel, onnxruntime) read every page at
200 dpi with their own text-line detector; lines are grouped into rows by vertical
overlap and into columns by clustering their horizontal centres. No ruling lines, no
deskew, no per-cell recognition. The rows go to gouji's classify stage as one table per
page (so key mapping is the same as gouji's), and their text, row by row, feeds the
number-stream peer on scans.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DPI = 200


@dataclass
class Line:
    text: str
    bbox: tuple[float, float, float, float]   # PDF points
    score: float


class PPOCRNaive:
    """fit/predict-free on purpose: it is a pipeline, not a learned piece."""

    def __init__(self, threads: int = 2, dpi: int = DPI):
        from rapidocr import RapidOCR
        self.dpi = dpi
        self.engine = RapidOCR(params={"Global.log_level": "error",
                                       "EngineConfig.onnxruntime.intra_op_num_threads": threads})

    def read(self, path) -> list[list[Line]]:
        """Text lines of every page of a PDF."""
        import pypdfium2 as pdfium
        pdf = pdfium.PdfDocument(str(path))
        pages = []
        try:
            for i in range(len(pdf)):
                img = np.asarray(pdf[i].render(scale=self.dpi / 72).to_pil().convert("RGB"))
                pages.append(self.lines(img))
        finally:
            pdf.close()
        return pages

    def lines(self, img: np.ndarray) -> list[Line]:
        r = self.engine(img)
        if r.boxes is None:
            return []
        s = 72.0 / self.dpi
        out = []
        for quad, text, score in zip(r.boxes, r.txts, r.scores):
            q = np.asarray(quad, float)
            out.append(Line(str(text), (q[:, 0].min() * s, q[:, 1].min() * s, q[:, 0].max() * s, q[:, 1].max() * s),
                            float(score)))
        return out


def rows_of(lines: list[Line]) -> list[list[Line]]:
    """Rows: a line joins the current row when its vertical centre lies inside the row's span."""
    rows: list[list[Line]] = []
    for ln in sorted(lines, key=lambda l: (l.bbox[1] + l.bbox[3]) / 2):
        cy = (ln.bbox[1] + ln.bbox[3]) / 2
        if rows:
            y0 = min(l.bbox[1] for l in rows[-1])
            y1 = max(l.bbox[3] for l in rows[-1])
            if y0 <= cy <= y1:
                rows[-1].append(ln)
                continue
        rows.append([ln])
    return [sorted(r, key=lambda l: l.bbox[0]) for r in rows]


def column_index(lines: list[Line]) -> dict[int, int]:
    """Columns: sorted horizontal centres split where the gap exceeds one line height."""
    if not lines:
        return {}
    h = float(np.median([l.bbox[3] - l.bbox[1] for l in lines]))
    order = sorted(range(len(lines)), key=lambda i: (lines[i].bbox[0] + lines[i].bbox[2]) / 2)
    col, out, prev = 0, {}, None
    for i in order:
        cx = (lines[i].bbox[0] + lines[i].bbox[2]) / 2
        if prev is not None and cx - prev > h:
            col += 1
        out[id(lines[i])] = col
        prev = cx
    return out


def to_document(path, pages: list[list[Line]]):
    """A gouji Document whose tables are the clustered rows (one table per page)."""
    from pipeline.model import Cell, Document, Page, Source, Table
    doc = Document(Source(str(path), kind="scanned_pdf"))
    texts = []
    for n, lines in enumerate(pages, start=1):
        page = Page(number=n, unit="pt", words=[])
        cols = column_index(lines)
        cells = []
        for r, row in enumerate(rows_of(lines)):
            by_col: dict[int, list[Line]] = {}
            for ln in row:
                by_col.setdefault(cols[id(ln)], []).append(ln)
            for c, lns in sorted(by_col.items()):
                bb = (min(l.bbox[0] for l in lns), min(l.bbox[1] for l in lns),
                      max(l.bbox[2] for l in lns), max(l.bbox[3] for l in lns))
                cells.append(Cell(row=r, col=c, text="".join(l.text for l in lns), bbox=bb, page=n))
        if cells:
            page.tables = [Table(cells=cells, page=n, pages=[n], aligned=False)]
        doc.pages.append(page)
        texts.append(page_text(lines))
    doc.text = "\n".join(texts)
    return doc


def page_text(lines: list[Line]) -> str:
    """The page as text, row by row, tab between lines of a row (for the number stream)."""
    return "\n".join("\t".join(l.text for l in row) for row in rows_of(lines))
