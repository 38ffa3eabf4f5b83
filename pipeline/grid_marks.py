"""Marks in a cell that are not its print: components of a lighter, grey ink (a seal's ring
or characters stamped over a value), found before the cell's lines are cut
(grid_crops._lines paints them out; configs/grid.yaml `crops.grey_marks`)."""
from __future__ import annotations

import numpy as np


def grey_marks(crop: np.ndarray, lab: np.ndarray, st: np.ndarray, keep: np.ndarray, paper: float,
               scale_px: float, cfg: dict) -> list[int]:
    """Big ink components (labels of `lab`) of a lighter ink than the cell's print: a grey
    seal's ring or characters over a value (test_00009 light: the ring read "/45" or 0, the
    seal's 局 read 闻 before 27). Only where the print is black (paper − the darkest big
    component's darkest grey ≥ `min_contrast`: a thinned scan's digits are light because
    thin, and differ by as much); a component is grey ink when its darkest pixel stands
    `min_lighter` × that contrast above the print's and its strokes are wide (≥ `min_core_pt2`
    pixels survive a 3×3 erosion, and at least `min_core_share` of its pixels: not a thin
    minus sign, not a light font's thin strokes), and the cell's
    components fall in two groups apart by `min_gap`, and it is at least `min_area_share` of
    the print's largest component. Off: none."""
    import cv2
    if not cfg.get("enabled"):
        return []
    big = [i for i in range(1, len(st)) if keep[i] and st[i, 4] >= 1.5 * scale_px * scale_px]
    if len(big) < 2:
        return []
    mins = st_min(crop, lab, big)
    ref = min(mins)
    if paper - ref < cfg["min_contrast"]:
        return []
    bar, core = ref + cfg["min_lighter"] * (paper - ref), cfg["min_core_pt2"] * scale_px * scale_px
    out = []
    for i, m in zip(big, mins):
        x, y, w, h = st[i, :4]
        if m <= bar:
            continue
        n = np.count_nonzero(cv2.erode(np.pad(lab[y:y + h, x:x + w] == i, 1).astype(np.uint8),
                                       np.ones((3, 3), np.uint8)))
        if n >= core and n >= cfg["min_core_share"] * st[i, 4]:
            out.append(i)
    # two inks, not one ink of varying weight: the print's lightest big component stands
    # `min_gap` × the contrast under the marks' darkest (a light font's 一 and 人 are lighter
    # than its dense characters by every degree between: test_00014 light's labels)
    if out:
        print_rel = [m for m in mins if m <= bar]
        gap = min(m for i, m in zip(big, mins) if i in out) - max(print_rel)
        if gap < cfg["min_gap"] * (paper - ref):
            return []
        # a mark is glyph-sized or more: not one light bar of a vertical label's light font (val_00010/11 heavy)
        largest = max(int(st[i, 4]) for i, m in zip(big, mins) if m <= bar)
        out = [i for i in out if st[i, 4] >= cfg["min_area_share"] * largest]
    return out


def st_min(crop: np.ndarray, lab: np.ndarray, ids: list[int]) -> list[float]:
    """The darkest grey of each component `ids` of `lab` in `crop`."""
    import scipy.ndimage as ndi
    return [float(v) for v in ndi.minimum(crop, lab, ids)]
