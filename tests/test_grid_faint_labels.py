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
from tablefix import FONT

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


def test_only_empty_cells_left_of_the_numbers_are_labels():
    on = {"empty_labels": True}
    first_num = 3
    assert grid._empty_label(Cell(row=4, col=2), first_num, on)
    assert grid._empty_label(Cell(row=4, col=0, colspan=3), first_num, on)
    assert not grid._empty_label(Cell(row=4, col=3), first_num, on)          # a value column
    assert not grid._empty_label(Cell(row=4, col=2, colspan=2), first_num, on)
    assert not grid._empty_label(Cell(row=4, col=0), None, on)                 # no number on the table
    assert not grid._empty_label(Cell(row=4, col=0), first_num, {"empty_labels": False})
