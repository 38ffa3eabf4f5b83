"""Grid strategies chosen per table (pipeline/grid_text.py): a real rendered scan whose
rules are erased, thinned or doubled still gives every printed row and column, and the
strategy named is the one the page shows. Grid structure only (no OCR)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline import grid
from pipeline.grid_text import FAINT, LINES, TEXT
from tablefix import page_tables, scanned_page

PX = 200 / 72          # tablefix.scan renders at 200 dpi; boxes are in points


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    return scanned_page(tmp_path_factory.mktemp("gridtext"))


def _tables(grey):
    return page_tables(grey, PX)


def _structure(cells) -> dict:
    return {(c.row, c.col): (c.rowspan, c.colspan) for c in cells}


def _truth_structure(truth) -> dict:
    return {(c["row"], c["col"]): (c["rowspan"], c["colspan"]) for c in truth}


def _col_edges(truth) -> list[int]:
    return sorted({round(v * PX) for c in truth for v in (c["bbox"][0], c["bbox"][2])})


def _erase_row_rule(img, truth, y_pt, x_from=None, x_to=None):
    """Paint out the horizontal rule at y (pt) between x_from and x_to (pt), leaving the
    vertical rules it crosses."""
    y = round(y_pt * PX)
    xs = _col_edges(truth)
    a = round((x_from if x_from is not None else min(c["bbox"][0] for c in truth)) * PX)
    b = round((x_to if x_to is not None else max(c["bbox"][2] for c in truth)) * PX)
    band = img[y - 4:y + 5, a + 4:b - 4]
    keep = np.zeros(band.shape[1], bool)
    for x in xs:
        keep[max(0, x - 4 - a - 4):max(0, x + 5 - a - 4)] = True
    band[:, ~keep] = np.maximum(band[:, ~keep], 245)


def _erase_col_rule(img, x_pt, y0_pt, y1_pt):
    x = round(x_pt * PX)
    img[round(y0_pt * PX) + 4:round(y1_pt * PX) - 4, x - 4:x + 5] = np.maximum(
        img[round(y0_pt * PX) + 4:round(y1_pt * PX) - 4, x - 4:x + 5], 245)


def test_clean_scan_keeps_the_rules_grid(page):
    grey, truth = page
    [(_, cells, how, _)] = _tables(grey)
    assert how == LINES
    assert _structure(cells) == _truth_structure(truth)


def test_vanished_rules_are_found_again_from_the_numbers(page):
    grey, truth = page
    img = grey.copy()
    # the rule between rows 10 and 11 gone across the whole table: two printed rows
    # would be one, each value cell holding two numbers stacked
    y = next(c["bbox"][3] for c in truth if c["row"] == 10)
    _erase_row_rule(img, truth, y)
    # a column rule gone in three rows (the other rows still print it)
    _erase_col_rule(img, 410, 222, 288)
    binv = grid.binarise(img)
    hor, ver = grid.line_masks(binv, PX)
    [(_, lines_cells)] = grid.find_tables(hor, ver)
    assert _structure(lines_cells) != _truth_structure(truth)      # the rules alone lose them
    [(_, cells, how, _)] = _tables(img)
    assert how == TEXT
    assert _structure(cells) == _truth_structure(truth)


def test_a_doubled_rule_does_not_split_a_row(page):
    grey, truth = page
    img = grey.copy()
    y = round(next(c["bbox"][3] for c in truth if c["row"] == 6) * PX)
    x0 = round(min(c["bbox"][0] for c in truth if c["row"] == 6) * PX)   # right of the group label
    x1 = round(max(c["bbox"][2] for c in truth) * PX)
    cv2.line(img, (x0, y + 13), (x1, y + 13), 0, 2)          # the rule printed twice
    binv = grid.binarise(img)
    hor, ver = grid.line_masks(binv, PX)
    [(_, lines_cells)] = grid.find_tables(hor, ver)
    assert _structure(lines_cells) != _truth_structure(truth)      # a sliver row between them
    [(_, cells, how, _)] = _tables(img)
    assert how == TEXT
    assert _structure(cells) == _truth_structure(truth)


def test_thinned_faint_rules_are_found_by_the_faint_threshold(page, monkeypatch):
    from pipeline import grid_text
    cfg = {**grid_text.settings(), "faint": True}          # off by default (docs/scans.md)
    monkeypatch.setattr(grid_text, "settings", lambda: cfg)
    grey, truth = page
    img = grey.copy()
    # the rule under row 8 printed faint (a thinned, light scan): the page's threshold
    # loses it, the sensitive one finds it, and the text confirms it
    y = next(c["bbox"][3] for c in truth if c["row"] == 8)
    band = img[round(y * PX) - 4:round(y * PX) + 5]
    band[band < 200] = 239
    binv = grid.binarise(img)
    hor, ver = grid.line_masks(binv, PX)
    [(_, lines_cells)] = grid.find_tables(hor, ver)
    assert _structure(lines_cells) != _truth_structure(truth)
    [(_, cells, how, _)] = _tables(img)
    assert how in (FAINT, TEXT)
    assert _structure(cells) == _truth_structure(truth)


def test_a_wrapped_label_and_side_by_side_label_characters_are_not_cut(page):
    """Text that is not numbers never moves the grid: two lines of one label, characters
    of a spaced-out label (the text strategy's guards)."""
    grey, truth = page
    img = grey.copy()
    c = next(c for c in truth if c["row"] == 11 and c["col"] == 0)
    x0, y0, x1, y1 = (round(v * PX) for v in c["bbox"])
    img[y0 + 4:y1 - 4, x0 + 4:x1 - 4] = 255
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, "ABCD EFGH", (x0 + 10, y0 + 24), font, 0.5, 0, 1)
    cv2.putText(img, "A     B     C", (x0 + 10, y1 - 10), font, 0.5, 0, 1)
    [(_, cells, how, _)] = _tables(img)
    assert how == LINES
    assert _structure(cells) == _truth_structure(truth)


def test_a_column_cut_needs_a_rule_several_cells_use():
    """Two numbers side by side in one cell are cut at a column rule other rows print; with
    col_rule_users 2 an edge that one cell alone has (beside a seal's blob) is no such rule."""
    from pipeline import grid_text
    from pipeline.grid_cells import RawCell
    cfg = dict(grid_text.settings())

    def cells():
        return [RawCell(0, 0, 100, 40), RawCell(100, 0, 150, 40),            # row 0: a blob at 150-160
                RawCell(0, 40, 100, 80), RawCell(100, 40, 200, 80),
                RawCell(0, 80, 100, 120), RawCell(100, 80, 200, 120)]
    boxes = np.array([[105, 50, 115, 65], [180, 50, 190, 65]])             # two numbers, one cell
    cfg["col_rule_users"] = 1
    assert grid_text._split(cells(), boxes, 15.0, 0, cfg, 4.0) == 1
    cfg["col_rule_users"] = 2
    assert grid_text._split(cells(), boxes, 15.0, 0, cfg, 4.0) == 0
