"""Labels printed faintly (a thinned scan's 8 pt table text) read again from the grey pixels
(pipeline/grid.py `_reread_labels`, pipeline/grid_crops.grey_lines, configs/grid.yaml
`relabel:`; session 27a, docs/scans.md).

* grey_lines' ink threshold is `contrast` or, on a faint cell, `contrast_share` of the cell's
  own ink contrast: the thin strokes of a simple glyph (行) stood less than 40 grey levels under
  the paper, the line was cut after it and 行政许可 read 政作可 (its row not found).
* an inked label cell read as nothing (a seal's ring through it set the cleaned crop's
  threshold: only the ring kept) is read again when it lies left of every column holding a
  number (`empty_labels`); value columns are never read so.
No OCR: crops and the selection of cells only."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline import grid
from pipeline.grid_crops import grey_lines
from pipeline.grid_cells import RawCell
from pipeline.model import Cell
from tablefix import FONT, faint_row

PX = 150 / 72


def _faint_label(first: int, rest: int, paper: int = 236):
    """A cell 90 pt × 16 pt at 150 dpi with two glyphs printed side by side: the first
    `first` grey levels under the paper, the second `rest` (grey, RawCell)."""
    w, h = int(90 * PX), int(16 * PX)
    img = Image.new("L", (w, h), paper)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, int(8 * PX))
    d.text((int(30 * PX), int(3 * PX)), "行", fill=paper - first, font=font)
    d.text((int(40 * PX), int(3 * PX)), "政", fill=paper - rest, font=font)
    return np.array(img), RawCell(0, 0, w, h)


def _ink_x0(line: np.ndarray, paper: int = 236) -> int:
    return int(np.where((line < paper - 10).any(0))[0][0])


def test_a_faint_cell_keeps_its_faintest_glyph():
    grey, rc = _faint_label(first=35, rest=62)
    rules = np.zeros_like(grey)
    fixed = {**grid.relabel_settings(), "contrast": 40, "contrast_share": 0}
    rel = {**grid.relabel_settings(), "contrast": 40, "contrast_share": 0.5, "min_contrast": 20}
    (cut,) = grey_lines(grey, rules, rc, PX, fixed)
    (whole,) = grey_lines(grey, rules, rc, PX, rel)
    # the fixed threshold leaves out 行 (35 under the paper): the line starts at 政
    assert whole.shape[1] >= cut.shape[1] + 8 * PX * 0.8
    assert whole[:, :_ink_x0(cut) + 1].min() <= 236 - 33 and cut.min() <= 236 - 60


def test_a_dark_cell_keeps_the_fixed_threshold():
    """Well printed labels (ink 150 levels under the paper): the threshold stays `contrast`,
    so a light smudge (20 under the paper) beside the text is no ink."""
    grey, rc = _faint_label(first=20, rest=150)
    rules = np.zeros_like(grey)
    rel = {**grid.relabel_settings(), "contrast": 40, "contrast_share": 0.5, "min_contrast": 20}
    (line,) = grey_lines(grey, rules, rc, PX, rel)
    assert line.shape[1] < 14 * PX            # 政 alone (8 pt) and its margins


def test_the_floor_keeps_paper_noise_out():
    rng = np.random.default_rng(0)
    grey = np.clip(236 + rng.normal(0, 3, (int(16 * PX), int(90 * PX))), 0, 255).astype(np.uint8)
    rel = {**grid.relabel_settings(), "contrast": 40, "contrast_share": 0.5, "min_contrast": 20}
    assert grey_lines(grey, np.zeros_like(grey), RawCell(0, 0, grey.shape[1], grey.shape[0]), PX, rel) == []


def _cells(rows):
    """Cells from (col, text | None) rows (None: no ink, so no reading); `recs` as grid's."""
    cells, recs = [], {}
    for r, row in enumerate(rows):
        for col, text in row:
            c = Cell(row=r, col=col, text=text or "")
            cells.append(c)
            if text is not None:
                recs[id(c)] = ["a reading"]
    return cells, recs


def test_an_empty_cell_in_a_column_of_labels_is_read_again():
    """Label column 0, numbers from column 1: the inked cell read as nothing in row 2 is a
    label to read again; the empty value cell and the cell with no ink are not."""
    cells, recs = _cells([[(0, "1.信访举报投诉类申请"), (1, "0")], [(0, ""), (1, "")],
                          [(0, "3.要求提供公开出版物"), (1, "0")], [(0, None), (1, "2")]])
    assert grid.empty_labels(cells, recs) == {id(cells[2])}


def test_a_column_of_dashes_read_as_nothing_is_no_label_column():
    """A value column of printed dashes PP-OCR read as nothing lies left of the first number
    read (test_00004 light's 自然人 column): one header's text there, five empty cells: none."""
    rows = [[(0, "申请人情况"), (1, "自然人"), (2, "商业企业")]]
    rows += [[(0, f"{k}. 属于国家秘密"), (1, ""), (2, "3")] for k in range(5)]
    cells, recs = _cells(rows)
    assert grid.empty_labels(cells, recs) == set()
    cells, recs = _cells([[(0, "行政许可"), (1, "")]])          # no number: nothing
    assert grid.empty_labels(cells, recs) == set()


def _table(ink: int, faint_digit: int, paper: int = 236):
    """A row of 10 cells 40 × 16 pt at 150 dpi: 9 labels printed `ink` under the paper and
    one digit `faint_digit` under it (grey, RawCells)."""
    img, d, font, _, boxes = faint_row(ink, paper)
    w = boxes[0][2]
    d.text((9 * w + int(18 * PX), int(3 * PX)), "5", fill=paper - faint_digit, font=font)
    return np.array(img), [RawCell(*b) for b in boxes]


def test_a_faint_table_takes_its_faint_digits_and_a_dark_one_does_not(monkeypatch):
    """grid_crops.faint_table (configs/grid.yaml crops.faint_table, off by default): a table
    printed 60 levels under the paper lowers the faint-ink bar, so its digit printed 30 under
    is ink (stretched, and doubted: is_faint); a table printed 150 under keeps the bar, and
    the same digit stays a blank. Off: no bar."""
    from pipeline import grid_crops
    from pipeline.grid_crops import cell_lines, cut_cell_lines, faint_table, is_faint
    on = {**grid_crops.crop_settings(), "ink_contrast": 36, "faint_contrast": 36,
          "faint_table": {"enabled": True, "max_median": 100, "min_cells": 8, "contrast": 20}}
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: on)
    grey, raw = _table(ink=60, faint_digit=30)
    rules = np.zeros_like(grey)
    bar = faint_table(grey, rules, raw, PX)
    assert bar == 20
    assert not cell_lines(grey, rules, raw[9], PX)[0]                       # the page's bar: a blank
    ok, lines, _ = cut_cell_lines(grey, rules, raw[9], PX, faint_from=bar)
    assert ok and len(lines) == 1 and is_faint(grey, rules, raw[9], PX, bar)
    dark, raw = _table(ink=150, faint_digit=30)
    assert faint_table(dark, np.zeros_like(dark), raw, PX) is None
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: {**on, "faint_table": {"enabled": False}})
    assert faint_table(grey, rules, raw, PX) is None


def _ruled(grey: np.ndarray, raw, rule: int, paper: int = 236):
    """The cells' rules drawn 2 px wide `rule` levels under the paper (grey with rules, the
    rule mask dilated as grid.page_tables hands it on)."""
    import cv2
    g = grey.copy()
    mask = np.zeros_like(g)
    for c in raw:
        cv2.rectangle(mask, (c.x0, c.y0), (c.x1 - 1, c.y1 - 1), 255, 2)
    g[mask > 0] = paper - rule
    return g, cv2.dilate(mask, np.ones((3, 3), np.uint8))


def test_faint_table_fires_only_where_the_rules_are_faint_too(monkeypatch):
    """crops.faint_table.max_rule_contrast (session 28a): a thinned scan thins the rules with
    the text, a heavy scan prints faint text between dark rules. The same table printed 60
    under the paper takes the faint bar between rules 80 under it, not between rules 200
    under it; rule_contrast measures the rules' dark core against the paper off them."""
    from pipeline import grid_crops
    from pipeline.grid_crops import faint_table, rule_contrast
    on = {**grid_crops.crop_settings(), "ink_contrast": 36, "faint_contrast": 36,
          "faint_table": {"enabled": True, "max_median": 100, "min_cells": 8, "contrast": 20,
                          "max_rule_contrast": 120, "rule_pct": 10}}
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: on)
    grey, raw = _table(ink=60, faint_digit=30)
    thin, thin_rules = _ruled(grey, raw, rule=80)
    dark, dark_rules = _ruled(grey, raw, rule=200)
    assert abs(rule_contrast(thin, thin_rules, raw, 10) - 80) <= 2
    assert abs(rule_contrast(dark, dark_rules, raw, 10) - 200) <= 2
    assert faint_table(thin, thin_rules, raw, PX) == 20
    assert faint_table(dark, dark_rules, raw, PX) is None
    no_gate = {**on, "faint_table": {**on["faint_table"], "max_rule_contrast": None}}
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: no_gate)
    assert faint_table(dark, dark_rules, raw, PX) == 20
