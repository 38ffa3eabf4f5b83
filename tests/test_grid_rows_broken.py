"""Rows of a scanned ruled table whose row rules broke, faded or vanished (a thinned scan;
pipeline/grid_text.py, configs/grid.yaml `grid_text.rows:`): every printed row is kept,
from the numbers' lines and the labels' lines where the rules no longer show it.
Grid structure only (no OCR)."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline import grid_text
from tablefix import page_tables, scanned_page

PX = 200 / 72          # tablefix.scan renders at 200 dpi; truth boxes are in points


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    return scanned_page(tmp_path_factory.mktemp("gridrows"))


@pytest.fixture(autouse=True)
def rows_on(monkeypatch):
    """Row bands and region pieces on (off by default: configs/grid.yaml grid_text.rows)."""
    from pipeline import grid_cells
    tcfg = {**grid_text.settings()}
    tcfg["rows"] = {**tcfg["rows"], "enabled": True}
    monkeypatch.setattr(grid_text, "settings", lambda: tcfg)
    gcfg = {**grid_cells.grid_config()}
    gcfg["rect_pieces"] = {**gcfg["rect_pieces"], "enabled": True}
    monkeypatch.setattr(grid_cells, "grid_config", lambda: gcfg)


def _structure(cells) -> dict:
    return {(c.row, c.col): (c.rowspan, c.colspan) for c in cells}


def _truth_structure(truth) -> dict:
    return {(c["row"], c["col"]): (c["rowspan"], c["colspan"]) for c in truth}


def _erase(img, truth, y_pt, x_from_pt, x_to_pt):
    """Paint out the horizontal rule at y between two x (pt), keeping the vertical rules."""
    y = round(y_pt * PX)
    xs = sorted({round(v * PX) for c in truth for v in (c["bbox"][0], c["bbox"][2])})
    a, b = round(x_from_pt * PX), round(x_to_pt * PX)
    band = img[y - 4:y + 5, a:b]
    keep = np.zeros(band.shape[1], bool)
    for x in xs:
        keep[max(0, x - 4 - a):max(0, x + 5 - a)] = True
    band[:, ~keep] = np.maximum(band[:, ~keep], 245)


def _bottom(truth, row):
    return max(c["bbox"][3] for c in truth if c["row"] == row and c["rowspan"] == 1)


def _cols(truth, col):
    """x0, x1 (pt) of a one-column cell of `col`."""
    c = next(c for c in truth if c["col"] == col and c["colspan"] == 1)
    return c["bbox"][0], c["bbox"][2]


def _x_range(truth):
    return min(c["bbox"][0] for c in truth), max(c["bbox"][2] for c in truth)


def _rows_off(monkeypatch):
    cfg = {**grid_text.settings(), "rows": {"enabled": False}}
    monkeypatch.setattr(grid_text, "settings", lambda: cfg)


def _two_rules_gone(page):
    """The rules under two consecutive body rows erased across the whole table: three
    printed rows in one band, each value cell holding three numbers stacked."""
    grey, truth = page
    img = grey.copy()
    x0, x1 = _x_range(truth)
    for row in (6, 7):
        _erase(img, truth, _bottom(truth, row), x0, x1)
    return img


def test_three_rows_merged_by_two_vanished_rules_are_found_again(page):
    _, truth = page
    [(_, cells, how, _)] = page_tables(_two_rules_gone(page), PX)
    assert how == grid_text.TEXT
    assert _structure(cells) == _truth_structure(truth)


def test_without_row_bands_the_merged_rows_are_lost(page, monkeypatch):
    """The same page with `grid_text.rows` off: two of the three rows are not found (what
    the grid did before)."""
    _, truth = page
    _rows_off(monkeypatch)
    [(_, cells, _, _)] = page_tables(_two_rules_gone(page), PX)
    assert _structure(cells) != _truth_structure(truth)
    assert max(c.row + c.rowspan for c in cells) < max(c["row"] + c["rowspan"] for c in truth)


def _label_rule_gone(page):
    """A row rule gone over the label column only (the values still print it): two labels
    in one cell, one of the two rows without its label."""
    grey, truth = page
    img = grey.copy()
    x0, x1 = _cols(truth, 1)
    _erase(img, truth, _bottom(truth, 6), x0, x1)
    return img


def test_a_row_rule_gone_over_the_labels_only_keeps_both_labels(page, monkeypatch):
    _, truth = page
    [(_, cells, how, _)] = page_tables(_label_rule_gone(page), PX)
    assert how == grid_text.TEXT
    assert _structure(cells) == _truth_structure(truth)
    _rows_off(monkeypatch)
    [(_, cells, _, _)] = page_tables(_label_rule_gone(page), PX)
    assert _structure(cells) != _truth_structure(truth)


def test_a_rule_left_only_in_part_is_extended_across_the_table(page):
    """The rule under a row kept over the label column and one value column only (a
    partial rule, as a thinned scan leaves its heavier end): the row still splits."""
    grey, truth = page
    img = grey.copy()
    y = _bottom(truth, 7)
    x_keep = _cols(truth, 2)[1]
    _erase(img, truth, y, x_keep, _x_range(truth)[1])
    [(_, cells, _, _)] = page_tables(img, PX)
    assert _structure(cells) == _truth_structure(truth)


def test_a_group_label_over_several_rows_is_not_cut(page):
    """The clean page: the vertical group label over five rows and the three-row header
    cells keep their spans (no rule is missing: nothing is cut)."""
    grey, truth = page
    [(_, cells, how, _)] = page_tables(grey, PX)
    assert how == grid_text.LINES
    spans = {k: v for k, v in _structure(cells).items() if v[0] > 1}
    assert spans and spans == {k: v for k, v in _truth_structure(truth).items() if v[0] > 1}


def _corner_rule_gone(page):
    """The rule between a label spanning both label columns and the vertical group label
    below it gone over the group label's column: the two cells join into one L-shaped
    region."""
    grey, truth = page
    img = grey.copy()
    group = next(c for c in truth if c["col"] == 0 and c["rowspan"] > 1 and c["row"] > 2)
    x0, y0, x1, _ = group["bbox"]
    _erase(img, truth, y0, x0, x1)
    return img


def test_an_l_shaped_region_is_cut_into_its_two_cells(page, monkeypatch):
    _, truth = page
    [(_, cells, _, _)] = page_tables(_corner_rule_gone(page), PX)
    assert _structure(cells) == _truth_structure(truth)
    from pipeline import grid_cells
    cfg = {**grid_cells.grid_config(), "rect_pieces": {"enabled": False}}     # the default
    monkeypatch.setattr(grid_cells, "grid_config", lambda: cfg)
    [(_, cells, _, _)] = page_tables(_corner_rule_gone(page), PX)
    assert _structure(cells) != _truth_structure(truth)       # kept whole: over its neighbours


def test_rect_pieces_of_an_l():
    from pipeline.grid_cells import rect_pieces
    region = np.zeros((100, 200), bool)
    region[:30, :] = True              # a row over the whole width
    region[30:, :50] = True            # a column below its left part
    assert rect_pieces(region, {"tol_px": 6, "band_fill": 0.85, "cover": 0.95, "jump_px": 30}) == [(0, 0, 200, 30), (0, 30, 50, 100)]
