"""Long text lines read narrower: a label or header line squeezed horizontally before PP-OCR.

Why: the recogniser's cost is linear in its padded input width (~0.1 ms per px per crop at
height 48, docs/speed.md) and row labels and column headers are ~75 % of its pixels on a
table page, numbers ~15-28 % (session 29d). A CJK glyph at height 48 is ~48 px wide and the
model's CTC steps are 8 px, so at `factor` 0.6 a glyph still spans ~3-4 steps. Label and
header texts only have to be good enough for `classify` (trained on OCR noise) to map them
to keys; they are not exported character by character.

Which crops: decided before reading, from the crop's shape alone — a line wider than
`min_ratio` × its height is text (a table's numbers, cut to their ink with their height of
white either side, are ~2.5 × as wide as high; the widest numbers seen, amounts with 万元, ~6.6).
Every other crop is handed back as the same array, so `ocr.RapidOCREngine.padding_of` keeps
its padding (and its reading) as when nothing is squeezed (grid._recognise).
"""
from __future__ import annotations

import numpy as np

from .pdf import config


def squeeze_config() -> dict:
    """configs/ocr.yaml `squeeze:`."""
    return config().get("squeeze", {})


def squeeze(crop: np.ndarray, factor: float) -> np.ndarray:
    """The crop `factor` × as wide, its height kept (area-averaged: strokes stay inked)."""
    import cv2
    w = max(1, int(round(crop.shape[1] * factor)))
    return cv2.resize(crop, (w, crop.shape[0]), interpolation=cv2.INTER_AREA)


def squeezable(crop: np.ndarray, cfg: dict) -> bool:
    """A line crop wider than `min_ratio` × its height (text, not a number) and at least
    `min_height` px high (a low wide crop is a speck row or a rule's remnant, not a line of text)."""
    return crop.shape[0] >= cfg.get("min_height", 0) and crop.shape[1] > cfg["min_ratio"] * max(1, crop.shape[0])


def narrowed(crops: list[np.ndarray], cost=None) -> list[np.ndarray]:
    """`crops` with each long text line squeezed (`squeeze.enabled`); the others — and all of
    them when off — the very same arrays. `cost` (a PageCost) counts the crops squeezed."""
    cfg = squeeze_config()
    if not cfg.get("enabled"):
        return crops
    out = [squeeze(c, cfg["factor"]) if squeezable(c, cfg) else c for c in crops]
    if cost is not None:
        cost.squeezed += sum(a is not b for a, b in zip(out, crops))
    return out
