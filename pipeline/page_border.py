"""Black page borders and corners: dark regions a scan leaves at the page's edges.

Why: a page scanned on a dark lid shows black bands at its sides, a folded corner a black
triangle, and a copier's fixed threshold turns the dim corner of an unevenly lit page into
solid black that fades out in speckles. The page's adaptive threshold (grid_cells.binarise)
then draws the region's outline and its speckle as ink: long runs of it pass for ruling
lines, join the table's grid and cut it wrongly, and its blobs pass for words in the "text"
grid (grid_text). Nothing printed is solid at that scale, so such a region is found by its
size alone and painted as paper before any rule, cell or text is looked for.

The rule (configs/grid.yaml `page_border:`): the share of dark pixels (grey under
`dark_grey`) over a window of `seed_pt` is at least `seed_density` (solid at a scale far
beyond a glyph or a bold title line); such a region touching the page's edge (within
`edge_pt`) and of at least `min_area_pt2` is a border. It is extended into its fringe, where
the share over `fringe_pt` stays at least `fringe_density`, by at most `grow_pt`, and
padded by `pad_pt` (the adaptive threshold would draw the edge of what is left as a line). Cells that
the region covers or reaches (within `doubt_pt`) are doubted (grid.py): what lay under the
black is lost, and a cell's rule may have gone with it.
"""
from __future__ import annotations

import numpy as np

from .templates import config

BORDER_DOUBT = "a black page border or corner covers part of the cell (painted out): its ink may be lost"


def settings() -> dict:
    return config("grid.yaml")["page_border"]


def _density(dark: np.ndarray, k: int) -> np.ndarray:
    import cv2
    k = max(3, int(k) | 1)
    return cv2.blur(dark, (k, k), borderType=cv2.BORDER_REFLECT)


def border_mask(grey: np.ndarray, px_per_pt: float, cfg: dict | None = None) -> np.ndarray | None:
    """Bool mask of the dark regions connected to the page's edge (None when there is none).
    `grey` is the page (uint8, ink dark), `px_per_pt` its pixels per point."""
    import cv2
    cfg = cfg or settings()
    if not cfg.get("enabled", True) or grey is None or grey.ndim != 2 or min(grey.shape) < 16:
        return None
    H, W = grey.shape
    # the density maps on a coarse raster: a border is tens of points across, and a full-page
    # box filter at 200 dpi costs more than the rest of this step
    step = max(1, int(cfg["raster_pt"] * px_per_pt))
    small = cv2.resize(grey, (max(1, W // step), max(1, H // step)), interpolation=cv2.INTER_AREA) \
        if step > 1 else grey
    h, w = small.shape
    sx, sy = W / w, H / h
    ppt = px_per_pt / ((sx + sy) / 2)          # pixels per point on the coarse raster
    dark = (small < cfg["dark_grey"]).astype(np.float32)
    if not dark.any():
        return None
    seeds = _density(dark, cfg["seed_pt"] * ppt) >= cfg["seed_density"]
    if not seeds.any():
        return None
    fringe = _density(dark, cfg["fringe_pt"] * ppt) >= cfg["fringe_density"]
    region = (seeds | fringe).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(seeds.astype(np.uint8), connectivity=8)
    edge = cfg["edge_pt"] * ppt
    min_area = cfg["min_area_pt2"] * ppt * ppt
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, ww, hh, a = st[i]
        touches = x <= edge or y <= edge or x + ww >= w - edge or y + hh >= h - edge
        keep[i] = touches and a >= min_area
    if not keep[1:].any():
        return None
    core = keep[lab].astype(np.uint8)
    g = max(1, int(round(cfg["grow_pt"] * ppt)))
    reach = cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
    mask = core | (reach & region)
    # only the fringe connected to a core (not text that the reach happens to cover)
    k, flab = cv2.connectedComponents(mask, connectivity=8)
    hit = np.unique(flab[core > 0])
    mask = np.isin(flab, hit[hit > 0]).astype(np.uint8)
    p = int(round(cfg["pad_pt"] * ppt))        # the outline a solid region's edge leaves
    if p > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * p + 1, 2 * p + 1)))
    if step > 1:
        mask = cv2.resize(mask.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST) > 0
    return mask


def paint_out(grey: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The page with the masked region set to its paper tone (the median of the rest)."""
    rest = grey[~mask]
    paper = int(np.median(rest)) if rest.size else 255
    out = grey.copy()
    out[mask] = paper
    return out


def touches(mask: np.ndarray, box_px, margin_px: float) -> bool:
    """Whether the mask covers any of a box (px) grown by `margin_px` on every side."""
    m = int(round(margin_px))
    x0, y0, x1, y1 = (int(round(v)) for v in box_px)
    H, W = mask.shape
    x0, y0, x1, y1 = max(0, x0 - m), max(0, y0 - m), min(W, x1 + m), min(H, y1 + m)
    return x1 > x0 and y1 > y0 and bool(mask[y0:y1, x0:x1].any())
