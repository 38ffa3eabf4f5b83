"""The "boxes" grid strategy (pipeline/grid_boxes.py): a real rendered table page whose
ruling lines are all erased (as a thinned scan loses them) still gives its table, its
value columns in printed order, every printed row, and its numbers read; a ruled page
keeps the rules' grid."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline import grid
from pipeline.grid_boxes import BOXES
from pipeline.grid_text import LINES
from pipeline.pdf import read_image
from tablefix import page_tables, scanned_page

PX = 200 / 72          # tablefix.scan renders at 200 dpi; boxes are in points


def _erase_rules(img: np.ndarray, truth: list[dict]) -> np.ndarray:
    """Every cell's four edges painted paper-white (the text inside is left alone)."""
    out = img.copy()
    for c in truth:
        x0, y0, x1, y1 = (round(v * PX) for v in c["bbox"])
        for a, b, u, v in ((x0 - 4, x0 + 5, y0 - 4, y1 + 5), (x1 - 4, x1 + 5, y0 - 4, y1 + 5),
                           (x0 - 4, x1 + 5, y0 - 4, y0 + 5), (x0 - 4, x1 + 5, y1 - 4, y1 + 5)):
            out[max(0, u):v, max(0, a):b] = np.maximum(out[max(0, u):v, max(0, a):b], 245)
    return out


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("gridboxes")
    grey, truth = scanned_page(d)
    bare = _erase_rules(grey, truth)
    cv2.imwrite(str(d / "bare.png"), bare)
    return d, truth, grey, bare


def _tables(grey):
    return page_tables(grey, PX)


def _owner(cells, tc, scale=PX):
    """The recovered cell holding a truth cell's centre (px cells, pt truth)."""
    x0, y0, x1, y1 = tc["bbox"]
    cx, cy = (x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale
    got = [c for c in cells if c.x0 <= cx < c.x1 and c.y0 <= cy < c.y1]
    return got[0] if len(got) == 1 else None


def test_the_erased_page_has_no_rules_left(made):
    _, _, _, bare = made
    binv = grid.binarise(bare)
    hor, ver = grid.line_masks(binv, PX)
    assert grid.find_tables(hor, ver) == []


def test_a_ruled_page_keeps_the_rules_grid(made):
    _, _, grey, _ = made
    assert [how for _, _, how, _ in _tables(grey)] == [LINES]


def test_a_rule_less_table_is_rebuilt_from_its_text(made):
    _, truth, _, bare = made
    [(bbox, cells, how, _)] = _tables(bare)
    assert how == BOXES
    printed = [tc for tc in truth if tc.get("numeric") and tc["text"] and tc["text"] != "/"]
    owners = {}
    for tc in printed:
        c = _owner(cells, tc)
        assert c is not None, f"no one cell holds the number at row {tc['row']} col {tc['col']}"
        owners[(tc["row"], tc["col"])] = c
    # one cell per printed number, never two numbers in one cell
    assert len({id(c) for c in owners.values()}) == len(owners)
    # the seven value columns in printed order, the same column down the table
    cols = {}
    for (r, k), c in owners.items():
        cols.setdefault(k, set()).add(c.col)
    assert all(len(v) == 1 for v in cols.values())
    order = [next(iter(cols[k])) for k in sorted(cols)]
    assert order == sorted(order) and len(set(order)) == 7
    # every printed row its own row, in order
    rows = {}
    for (r, k), c in owners.items():
        rows.setdefault(r, set()).add(c.row)
    assert all(len(v) == 1 for v in rows.values())
    rorder = [next(iter(rows[r])) for r in sorted(rows)]
    assert rorder == sorted(rorder) and len(set(rorder)) == len(rows) == 10
    # the header words stand above the first body row, the labels left of the first column
    first = min(c.row for c in owners.values())
    assert any(c.row < first for c in cells)
    assert any(c.col < min(order) for c in cells)


@pytest.mark.slow
def test_a_rule_less_page_is_read_and_its_cells_doubted(made):
    """Read whole (grid.recover, OCR): the numbers read right, every cell doubted (its
    position was inferred), so none can be sure enough to skip review."""
    d, truth, _, _ = made
    doc = read_image(d / "bare.png")
    grid.recover(doc, None)
    [t] = doc.tables
    assert t.strategy == BOXES
    page = doc.pages[0]
    s = grid.page_scale(page)
    printed = [tc for tc in truth if tc.get("numeric") and tc["text"] and tc["text"] != "/"]
    right = 0
    for tc in printed:
        x0, y0, x1, y1 = (v * PX / s for v in tc["bbox"])
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        got = [c for c in t.cells if c.bbox[0] <= cx < c.bbox[2] and c.bbox[1] <= cy < c.bbox[3]]
        if len(got) == 1 and got[0].readings and got[0].readings[0][0] == tc["value"]:
            right += 1
    assert right >= 0.95 * len(printed), f"{right} of {len(printed)} numbers read right"
    assert all(grid.BOXES_DOUBT in c.doubts for c in t.cells)
