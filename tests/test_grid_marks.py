"""A seal's grey ink over a value cell (grid_marks.grey_marks, configs/grid.yaml crops.grey_marks;
session 31a, docs/speed.md): the cells are test_00009 light p1's, cut as the grid cut them (rules
painted out): a seal's ring left of 45 (read "/45" or 0), the seal's 局 left of 27 (read 闻27 →
1270), and -5 below them (its minus a light, thin bar that must stay). With the switch the grey
marks are painted out and the line crop holds the print alone; without it they are in the crop.
A thinned scan's light print (no black ink in the cell) is never touched. No OCR: crops only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pipeline import grid_crops
from pipeline.grid_cells import RawCell
from pipeline.grid_crops import cut_cell_lines

PX = 200 / 72
FIX = Path(__file__).parent / "fixtures" / "grey_marks"


def _crop(name: str) -> np.ndarray:
    return np.asarray(Image.open(FIX / name).convert("L"))


def _settings(monkeypatch, enabled: bool) -> dict:
    base = grid_crops.crop_settings()
    cfg = {**base, "grey_marks": {**base["grey_marks"], "enabled": enabled}}     # the shipped thresholds
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: cfg)
    return cfg


def _lines(grey: np.ndarray) -> list[np.ndarray]:
    ok, lines, _ = cut_cell_lines(grey, np.zeros_like(grey), RawCell(0, 0, grey.shape[1], grey.shape[0]), PX)
    assert ok
    return lines


def _grey_pixels(line: np.ndarray) -> int:
    """Pixels of the seal's grey (its ink stands ~100-130 on this page; the print under 60)."""
    return int(((line > 80) & (line < 170)).sum())


def test_the_seal_ring_beside_45_is_painted_out(monkeypatch):
    grey = _crop("seal_ring_45.png")
    _settings(monkeypatch, False)
    off = _lines(grey)
    assert len(off) == 1 and off[0].shape[1] > 150 and off[0].shape[0] > 40   # ring and 45 in one crop
    _settings(monkeypatch, True)
    on = _lines(grey)
    assert len(on) == 1 and on[0].shape[1] < 100 and on[0].shape[0] < 32     # 45 and its side pads
    assert on[0].min() < 60                                 # the black print kept


def test_the_seal_character_before_27_is_painted_out(monkeypatch):
    grey = _crop("seal_char_27.png")
    _settings(monkeypatch, False)
    assert sum(l.shape[1] for l in _lines(grey)) > 150
    _settings(monkeypatch, True)
    on = _lines(grey)
    assert len(on) == 1 and on[0].shape[1] < 100 and on[0].shape[0] < 32


def test_a_light_thin_minus_sign_stays(monkeypatch):
    grey = _crop("minus_5.png")
    _settings(monkeypatch, False)
    off = _lines(grey)
    _settings(monkeypatch, True)
    on = _lines(grey)
    assert [l.shape for l in on] == [l.shape for l in off] and np.array_equal(on[0], off[0])


def test_light_print_of_a_thinned_scan_is_not_touched(monkeypatch):
    """No black in the cell (its darkest big component 150 under a 230 paper): the contrast is
    under min_contrast, the light component (a thinned stroke) stays."""
    grey = np.full((48, 140), 230, np.uint8)
    grey[12:36, 20:24] = 150                                # a thin dark-ish stroke
    grey[12:36, 60:70] = 200                                # a wide lighter one (0.6 of the contrast)
    grey[12:16, 60:100] = 200
    _settings(monkeypatch, False)
    off = _lines(grey)
    _settings(monkeypatch, True)
    on = _lines(grey)
    assert [l.shape for l in on] == [l.shape for l in off]


def test_the_same_marks_in_black_print_go(monkeypatch):
    """The check above's counterpart: the same shapes with the first stroke black are painted out."""
    grey = np.full((48, 140), 230, np.uint8)
    grey[12:36, 20:26] = 10
    grey[12:36, 60:70] = 150                                # (150-10)/(230-10) = 0.64 lighter, wide strokes
    grey[12:16, 60:100] = 150
    _settings(monkeypatch, True)
    on = _lines(grey)
    assert len(on) == 1 and _grey_pixels(on[0]) == 0 and on[0].min() == 10
    _settings(monkeypatch, False)
    assert _grey_pixels(_lines(grey)[0]) > 200


def test_a_light_fonts_lighter_glyphs_stay(monkeypatch):
    """test_00014 light's header 本年收费金额（单位：万元）in a light font: its simple glyphs stand 0.4-0.6
    of the contrast above its dense ones with every degree between (one ink): nothing painted out.
    Without `min_gap` and `min_core_share` (0) the lightest glyphs were painted out."""
    grey = _crop("light_font_label.png")
    cfg = _settings(monkeypatch, False)
    off = _lines(grey)
    _settings(monkeypatch, True)
    on = _lines(grey)
    assert [l.shape for l in on] == [l.shape for l in off] and all(np.array_equal(a, b) for a, b in zip(on, off))
    cfg = {**cfg, "grey_marks": {**cfg["grey_marks"], "enabled": True, "min_gap": 0.0, "min_core_share": 0.0}}
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: cfg)
    assert not all(np.array_equal(a, b) for a, b in zip(_lines(grey), off))


def test_a_light_font_with_one_black_glyph_stays(monkeypatch):
    """test_00014 light's 尚未审结: one glyph reaches black, the other three stand 0.45-0.65 light, two
    inks by their greys; their strokes are thin (≤ 0.3 of their pixels survive an erosion, a seal's
    0.6+): nothing painted out. Without `min_core_share` a glyph was."""
    grey = _crop("light_font_one_black.png")
    cfg = _settings(monkeypatch, False)
    off = _lines(grey)
    _settings(monkeypatch, True)
    assert all(np.array_equal(a, b) for a, b in zip(_lines(grey), off))
    cfg = {**cfg, "grey_marks": {**cfg["grey_marks"], "enabled": True, "min_core_share": 0.0}}
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: cfg)
    assert not all(np.array_equal(a, b) for a, b in zip(_lines(grey), off))


def test_a_small_light_bar_beside_big_black_print_stays(monkeypatch):
    """A light bar 0.14× the print's largest glyph (val_00010/11 heavy: one stroke of a vertical
    label's light font) is no seal: `min_area_share` keeps it; set to 0 it is painted out."""
    grey = np.full((60, 140), 230, np.uint8)
    grey[15:41, 20:44] = 10                                 # a black glyph, 624 px
    grey[26:31, 70:88] = 110                                # a light bar (0.45), 90 px, wide strokes
    cfg = _settings(monkeypatch, True)
    assert _grey_pixels(_lines(grey)[0]) >= 90
    cfg = {**cfg, "grey_marks": {**cfg["grey_marks"], "min_area_share": 0.0}}
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: cfg)
    assert _grey_pixels(_lines(grey)[0]) == 0
