"""One printed 0 in a wide cell of a noisy scan (grid_crops.ink_mask, configs/grid.yaml
crops.paper_split; session 29c, docs/scans.md): Otsu's threshold, seeing only paper, lands in the
paper's grain and the cell's crop spans the whole cell, specks and all; with the switch the ink is
what stands well under the grain and the crop is the 0. A cell whose print Otsu does separate is
cut as before. No OCR: crops only."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline import grid_crops
from pipeline.grid_cells import RawCell
from pipeline.grid_crops import cut_cell_lines, ink_mask, paper_grain
from tablefix import FONT

PX = 200 / 72


def _cell(text: str, width_pt: float, seed: int = 0, paper: int = 218, ink: int = 110, grain: float = 9.0):
    """A cell `width_pt` × 18 pt at 200 dpi, `text` printed `ink` grey at its centre, the paper
    `paper` grey with Gaussian grain of deviation `grain` smoothed over 2 px (a scan's mottle)."""
    import cv2
    w, h = int(width_pt * PX), int(18 * PX)
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, int(9 * PX))
    d.text((w // 2 - int(3 * PX), int(4 * PX)), text, fill=0, font=font)
    glyph = np.asarray(img, np.float32) / 255.0          # 0 ink .. 1 paper
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.0)
    noise *= grain / max(float(noise.std()), 1e-6)
    grey = paper + noise
    grey = grey * glyph + ink * (1 - glyph)
    return np.clip(grey, 0, 255).astype(np.uint8), RawCell(0, 0, w, h)


def _settings(monkeypatch, enabled: bool):
    base = grid_crops.crop_settings()
    cfg = {**base, "paper_split": {**base["paper_split"], "enabled": enabled}}     # the shipped settings
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: cfg)
    return cfg


def test_a_zero_in_a_wide_grainy_cell_is_cut_to_the_zero(monkeypatch):
    grey, rc = _cell("0", 280)
    rules = np.zeros_like(grey)
    _settings(monkeypatch, False)
    ok, lines, _ = cut_cell_lines(grey, rules, rc, PX)
    assert ok and lines[0].shape[1] > 150 * PX               # the grain is read as ink over the cell
    _settings(monkeypatch, True)
    ok, lines, _ = cut_cell_lines(grey, rules, rc, PX)
    assert ok and len(lines) == 1 and lines[0].shape[1] < 30 * PX   # the 0 and its side pads


def test_otsu_kept_where_it_separates_the_print(monkeypatch):
    grey, rc = _cell("23", 34)
    cfg = _settings(monkeypatch, True)
    import cv2
    t, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    paper, sigma = paper_grain(grey)
    assert t < paper - sigma                                  # Otsu found the print: not replaced
    off = {**cfg, "paper_split": {**cfg["paper_split"], "enabled": False}}
    assert (ink_mask(grey, PX, cfg) == ink_mask(grey, PX, off)).all()


def test_paper_grain_is_the_papers_not_the_prints():
    grey, _ = _cell("0", 280, grain=6.0)
    paper, sigma = paper_grain(grey)
    assert abs(paper - 218) < 3 and 3.0 < sigma < 8.0


def test_a_cell_mostly_ink_keeps_otsu(monkeypatch):
    """A bold label filling its cell on a binarised scan (test_00000 heavy 法律服务机构): the
    median is no paper and its deviation no grain; Otsu's cut stands."""
    cfg = _settings(monkeypatch, True)
    grey = np.full((60, 90), 255, np.uint8)
    grey[5:55, 5:85] = 0
    grey[20:40, 30:60] = 255
    import cv2
    _, otsu = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    assert (ink_mask(grey, PX, cfg) == otsu).all()
