"""pipeline/layout.py: the page's regions as layoutparser blocks, built from the grid stage."""
from __future__ import annotations

import json
from pathlib import Path

import layoutparser as lp
import pytest

from pipeline import grid, layout, read
from pipeline.export import to_result, validate
from pipeline.model import Cell, Page, Table, Word
from pipeline.run import Settings, extract

SAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "samples"


def _recovered(path: Path, pages: set[int]):
    """The sample read and its grid recovered on `pages` only (keeps the test short)."""
    s = Settings()
    doc = read.read(path, s)
    for p in doc.pages:
        if p.number not in pages:
            p.image = None
    grid.recover(doc, s)
    layout.fill(doc)
    return doc


def _contains(rect, box, tol=0.5) -> bool:
    return (rect[0] - tol <= box[0] and rect[1] - tol <= box[1]
            and box[2] <= rect[2] + tol and box[3] <= rect[3] + tol)


def _check_tables(doc, page):
    tables = doc.tables
    blocks = [b for b in page.layout if b.type == "Table"]
    on_page = [i for i, t in enumerate(tables) if page.number in t.pages]
    assert sorted(b.id for b in blocks) == on_page          # one block per table, nothing else
    for b in blocks:
        cells = [c for c in tables[b.id].cells if c.page == page.number and c.bbox]
        assert cells and all(_contains(b.coordinates, c.bbox) for c in cells)


@pytest.mark.slow
def test_scan_sample_one_table_block_per_table_containing_its_cells():
    doc = _recovered(SAMPLES / "s2019_a.scan_light.pdf", {1})
    p1 = doc.pages[0]
    assert isinstance(p1.layout, lp.Layout) and p1.tables
    _check_tables(doc, p1)
    [title] = [b for b in p1.layout if b.type == "Title"]
    t0 = next(b for b in p1.layout if b.type == "Table")
    assert title.parent == t0.id and title.text == doc.tables[0].title and "主动公开" in title.text
    assert title.coordinates[3] <= t0.coordinates[1] + 1             # the title sits above its table
    texts = [b for b in p1.layout if b.type == "Text"]
    assert any("2020" in (b.text or "") for b in texts)              # the report's title line, OCR'd
    assert all(b.score is not None and 0 < b.score <= 1 for b in texts)
    # nothing found on pages the grid stage skipped
    assert all(len(p.layout) == 0 for p in doc.pages[1:] if p.text_layer == "none")


def test_digital_sample_continued_table_keeps_its_id_on_both_pages():
    doc = _recovered(SAMPLES / "s2019_a.digital.pdf", {1, 2, 3})
    for p in doc.pages[:3]:
        _check_tables(doc, p)
    ids = [{b.id for b in p.layout if b.type == "Table"} for p in doc.pages[:3]]
    assert ids[1] & ids[2]                    # the table continued from page 2 onto page 3
    cont = doc.tables[min(ids[1] & ids[2])]
    assert cont.pages == [2, 3]
    # text-layer lines: outside the tables only, in reading order
    p1 = doc.pages[0]
    tb = next(b for b in p1.layout if b.type == "Table").coordinates
    texts = [b for b in p1.layout if b.type == "Text"]
    assert texts and not any(layout._inside(Word(b.text, b.coordinates), tb) for b in texts)
    assert [b.coordinates[1] for b in texts] == sorted(b.coordinates[1] for b in texts)
    assert p1.layout.page_data["unit"] == "pt"


def test_page_layout_from_hand_made_page():
    """Title = the lowest line in the band above the table; lines in the table are not Text."""
    t = Table(cells=[Cell(0, 0, bbox=(100, 200, 200, 220), page=1), Cell(0, 1, bbox=(200, 200, 300, 240), page=1)],
              page=1, pages=[1], bbox=(100, 200, 300, 240), title="二、收到申请情况")
    t.score = 0.8
    words = [Word("报告", (100, 20, 160, 30), 0.9),            # far above: Text
             Word("一、概况", (100, 150, 160, 160), 0.9),       # in the band but not the lowest
             Word("二、收到申请情况", (100, 180, 220, 190), 0.95),  # the title
             Word("12", (110, 205, 120, 215), 0.99)]              # inside the table
    page = Page(number=1, width=600, height=800, unit="pt", words=words, tables=[t], text_layer="untrusted")
    lay = layout.page_layout(page)
    assert [(b.type, b.id, b.parent, b.text) for b in lay] == [
        ("Table", 0, None, None), ("Title", None, 0, "二、收到申请情况"),
        ("Text", None, None, "报告"), ("Text", None, None, "一、概况")]
    assert lay[0].score == 0.8 and lay[0].coordinates == (100, 200, 300, 240)
    # the same table seen from the next page, where it continues: its cells there, same id
    t.pages.append(2)
    t.cells.append(Cell(1, 0, bbox=(90, 50, 310, 70), page=2))
    lay2 = layout.page_layout(Page(number=2, unit="pt", words=[Word("续", (95, 55, 100, 60))]), [t])
    assert [(b.type, b.id) for b in lay2] == [("Table", 0)] and lay2[0].coordinates == (90, 50, 310, 70)


def test_extract_fills_page_layout_and_leaves_the_result_json_alone():
    doc = extract(SAMPLES / "s2021_b.digital.pdf")
    assert doc.status in ("ok", "needs_review"), doc.errors
    assert all(isinstance(p.layout, lp.Layout) for p in doc.pages)
    assert sum(b.type == "Table" for p in doc.pages for b in p.layout) >= len(doc.tables) >= 1
    res = to_result(doc)
    validate(res)
    assert '"layout"' not in json.dumps(res) and "TextBlock" not in repr(res)
    txt = extract(SAMPLES / "s2021_b.text.txt")
    assert all(p.layout == [] for p in txt.pages)                # text inputs: no layoutparser


def test_without_layoutparser_extraction_goes_on(monkeypatch, caplog):
    page = Page(number=1, unit="pt", words=[Word("x", (1, 1, 2, 2))], text_layer="trusted")
    from pipeline.model import Document, Source
    doc = Document(Source("x.pdf"), pages=[page])
    monkeypatch.setattr(layout, "lp", None)
    layout.fill(doc)
    assert page.layout == [] and "layoutparser is missing" in caplog.text
    with pytest.raises(ImportError, match="no-deps"):
        layout.page_layout(page)
