"""Faint digits measured against their own table's print (grid_crops.faint_glyphs, configs/grid.yaml
crops.faint_glyphs; session 28c, docs/scans.md): a thinned scan prints its digits 25–36 grey levels
under the paper, under `faint_contrast`, and they read as blanks. A cell is ink when its contrast is
at least `share` of its table's median and it is shaped like digits on one line; a faint streak is
not, and a dark table keeps the page's bar. No OCR: crops only."""
from __future__ import annotations

import numpy as np

from pipeline import grid_crops
from pipeline.grid_cells import RawCell
from pipeline.grid_crops import cut_cell_lines, faint_glyphs, is_faint_glyphs
from tablefix import faint_row

PX = 150 / 72
ON = {"enabled": True, "share": 0.4, "contrast": 20, "min_cells": 8, "max_glyphs": 6,
      "glyph_min_pt": 2.5, "glyph_max_pt": 9.0}


def _table(ink: int, faint: int, mark: str = "digit", paper: int = 236):
    """A row of 10 cells 40 × 16 pt at 150 dpi: 9 labels printed `ink` under the paper and, in
    the last cell, `faint` under it: the digits 55 (`mark` "digit") or a long thin streak."""
    img, d, font, _, boxes = faint_row(ink, paper)
    w = boxes[0][2]
    if mark == "digit":
        d.text((9 * w + int(16 * PX), int(3 * PX)), "55", fill=paper - faint, font=font)
    else:
        d.line([(9 * w + int(4 * PX), int(8 * PX)), (10 * w - int(4 * PX), int(8 * PX))], fill=paper - faint, width=2)
    return np.array(img), [RawCell(*b) for b in boxes]


def _on(monkeypatch, **kw):
    cfg = {**grid_crops.crop_settings(), "ink_contrast": 36, "faint_contrast": 36,
           "faint_table": {"enabled": False}, "faint_glyphs": {**ON, **kw}}
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: cfg)


def test_faint_digits_in_a_faint_table_are_ink_and_doubted(monkeypatch):
    _on(monkeypatch)
    grey, raw = _table(ink=60, faint=28)
    rules = np.zeros_like(grey)
    assert not cut_cell_lines(grey, rules, raw[9], PX)[0]            # the page's bar: a blank
    bar = faint_glyphs(grey, rules, raw, PX)
    assert bar is not None and 20 <= bar < 28
    ok, lines, _ = cut_cell_lines(grey, rules, raw[9], PX, glyphs_from=bar)
    assert ok and len(lines) == 1 and lines[0].min() < 80             # stretched to full contrast
    assert is_faint_glyphs(grey, rules, raw[9], PX, None, bar)


def test_a_faint_streak_is_no_digit(monkeypatch):
    _on(monkeypatch)
    grey, raw = _table(ink=60, faint=28, mark="streak")
    rules = np.zeros_like(grey)
    bar = faint_glyphs(grey, rules, raw, PX)
    assert bar is not None
    assert not cut_cell_lines(grey, rules, raw[9], PX, glyphs_from=bar)[0]


def test_a_dark_table_keeps_the_bar_and_off_is_off(monkeypatch):
    _on(monkeypatch)
    dark, raw = _table(ink=150, faint=28)
    assert faint_glyphs(dark, np.zeros_like(dark), raw, PX) is None     # 0.4 × 150 is over the faint bar
    _on(monkeypatch, enabled=False)
    grey, raw = _table(ink=60, faint=28)
    assert faint_glyphs(grey, np.zeros_like(grey), raw, PX) is None
