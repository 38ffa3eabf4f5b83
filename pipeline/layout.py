"""Page regions as layoutparser types (lp.Layout of lp.TextBlock), after the grid stage.

Why: one list of regions per page in the standard type that layout tools share, so a
person (or `gouji inspect`) can draw, filter or export what gouji found without knowing
our Table/Cell tree. Nothing is detected again here: the regions come from the grid stage.

Blocks, in page units (pt for PDFs, px for images; origin top-left):
- "Table": one per table on the page (id = the table's index in the document, so a table
  continued over a page break has the same id on both pages; score = `table.score` if the
  table carries one). On a continuation page the rectangle is the union of its cells there.
- "Title": the table's title line (text = table.title, parent = the table's id).
- "Text": the other text lines of the page: OCR lines on scans, the text layer's characters
  joined into lines on digital pages (lines inside a table are left to its cells).
"""
from __future__ import annotations

import logging

from .model import Document, Page, Table, Word
from .pdf import px_per_pt

try:
    import layoutparser as lp
except ImportError:      # installed by scripts/setup.sh with --no-deps (see pyproject.toml)
    lp = None

log = logging.getLogger(__name__)
INSTALL = "layoutparser is missing: pip install --no-deps layoutparser==0.3.4 (scripts/setup.sh)"


def _title_band(page: Page) -> float:
    """Height (page units) of the band above a table where the grid stage reads its title."""
    from .grid import grid_config
    band_pt = float(grid_config()["title_band_pt"])
    return band_pt if page.unit == "pt" else band_pt * px_per_pt(page, 1.0)


def _lines(page: Page) -> list[Word]:
    """Text lines of the page: OCR lines as they are, text-layer characters joined."""
    if page.text_layer == "trusted":
        from .grid import line_words
        return line_words(list(page.words))
    return [w for w in page.words if w.text.strip()]


def _table_rect(t: Table, number: int) -> tuple[float, float, float, float] | None:
    if t.page == number and t.bbox:
        return tuple(t.bbox)
    boxes = [c.bbox for c in t.cells if c.page == number and c.bbox]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _inside(w: Word, rect) -> bool:
    cx, cy = (w.bbox[0] + w.bbox[2]) / 2, (w.bbox[1] + w.bbox[3]) / 2
    return rect[0] <= cx <= rect[2] and rect[1] <= cy <= rect[3]


def page_layout(page: Page, tables: list[Table] | None = None) -> "lp.Layout":
    """The page's regions. `tables`: every table of the document (default: the page's own),
    so that a table continued from the previous page gets a block here too."""
    if lp is None:
        raise ImportError(INSTALL)
    tables = page.tables if tables is None else tables
    band = _title_band(page)
    lines = _lines(page)
    used: set[int] = set()
    blocks: list[lp.TextBlock] = []
    rects = []
    for i, t in enumerate(tables):
        if page.number not in (t.pages or [t.page]):
            continue
        rect = _table_rect(t, page.number)
        if rect is None:
            continue
        rects.append(rect)
        score = getattr(t, "score", None)
        blocks.append(lp.TextBlock(lp.Rectangle(*rect), type="Table", id=i,
                                   score=None if score is None else float(score)))
        if t.page != page.number or not t.title:
            continue
        # the line the grid stage took as title: the lowest line in the band above
        above = [(j, w) for j, w in enumerate(lines)
                 if rect[1] - band <= (w.bbox[1] + w.bbox[3]) / 2 <= rect[1]
                 and w.bbox[2] > rect[0] and w.bbox[0] < rect[2]]
        if above:
            j, w = max(above, key=lambda jw: jw[1].bbox[3])
            used.add(j)
            blocks.append(lp.TextBlock(lp.Rectangle(*w.bbox), text=t.title, type="Title", parent=i,
                                       score=float(w.confidence)))
    for j, w in sorted(enumerate(lines), key=lambda jw: (jw[1].bbox[1], jw[1].bbox[0])):
        if j in used or any(_inside(w, r) for r in rects):
            continue
        blocks.append(lp.TextBlock(lp.Rectangle(*w.bbox), text=w.text, type="Text",
                                   score=float(w.confidence)))
    return lp.Layout(blocks, page_data={"number": page.number, "width": page.width,
                                        "height": page.height, "unit": page.unit})


def fill(doc: Document) -> None:
    """Set `page.layout` on every page of a PDF or image (whether or not its pixels are
    still held: the grid stage frees those of pages without a table) or with a text layer.

    The regions are for people and tools, not for the result: without layoutparser the
    pages keep an empty layout and extraction goes on."""
    if lp is None:
        log.warning(INSTALL)
        return
    tables = doc.tables
    for p in doc.pages:
        if p.unit in ("pt", "px") or p.text_layer != "none":
            p.layout = page_layout(p, tables)
