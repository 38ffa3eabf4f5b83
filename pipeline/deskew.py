"""A scanned page's skew, by a coarse-to-fine search over projection profiles of its ink.

Why this way: the Hough transform at 0.1° bins (the estimate before, issue #15) cost
~1.4 CPU s per page, and at coarser bins it missed small skews. Here the ink pixels'
coordinates are taken once from a shrunken copy of the binarised page; for a trial angle
a, the rows' profile (ink counted along lines y - x·tan a) and the columns' profile
(x + y·tan a) are the sharpest at the page's skew: ruling lines and text lines, rows and
columns (so a page turned a quarter reads the same). The angle is searched coarsely on a
small copy over ±`max_skew_deg`, then finely around the best on a larger copy, and the
peak interpolated between the fine steps. Each trial is a bincount over the ink points:
a page costs a few tens of ms.

`grid.skew.hough_min_blob_frac` > 0 lets only long connected components (rules, tables)
vote in the Hough transform: half its CPU, but the angle moves as with the search and the
same fragile pages change cells, so it is off too (docs/speed.md, session 25a).

estimate_skew(binv) returns the angle that rotate_small(grey, angle) takes to deskew.
`grid.skew.method`: "hough" (the estimate before, the default) or "search" (this one: far
closer to the true skew and ~4× cheaper per table page's `lines` stage). Still off: on test
scans it cost cells, not through the rules (the same on every page but two, where the search
was right) but through a cell's one-pixel ink test on a thinned scan and a shadow joined to
a table, which a rotation 0.01° apart tips (docs/speed.md, session 23f).
"""
from __future__ import annotations

import math

import numpy as np

from . import greys
from .pdf import config


def skew_config() -> dict:
    return config()["grid"]["skew"]


def _shrunk(binv: np.ndarray, size: tuple[int, int], memo: dict | None) -> np.ndarray:
    """cv2.resize(binv, size, INTER_AREA), made once per page where `memo` (a dict the caller
    keeps for that page) is given: the search's fine pass and Hough shrink it to the same half
    size (session 32c). The result is only read."""
    import cv2
    if memo is not None and size in memo:
        return memo[size]
    small = cv2.resize(binv, size, interpolation=cv2.INTER_AREA)
    if memo is not None:
        memo[size] = small
    return small


def _points(binv: np.ndarray, scale: float, max_points: int, memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ink coordinates (centred, in pixels of the shrunken page), at most `max_points`."""
    h, w = binv.shape
    small = _shrunk(binv, (max(1, int(w * scale)), max(1, int(h * scale))), memo)
    ys, xs = np.nonzero(small > 100)
    if len(xs) > max_points:                     # evenly thinned: the profiles keep their shape
        keep = np.linspace(0, len(xs) - 1, max_points).astype(np.int64)
        xs, ys = xs[keep], ys[keep]
    sh, sw = small.shape
    # pixel centres dithered within their pixel (fixed seed): on the bare pixel grid the
    # profiles at exactly 0° are sharpest whatever the skew (every point on a bin centre)
    jitter = np.random.default_rng(0).random((2, len(xs)), dtype=np.float32) - 0.5
    return xs + jitter[0] - sw / 2.0, ys + jitter[1] - sh / 2.0


def _sharpness(xs: np.ndarray, ys: np.ndarray, angles_deg: np.ndarray, span: int) -> np.ndarray:
    """Sum of squared bin counts of the row and column profiles at each angle."""
    out = np.empty(len(angles_deg))
    buf = np.empty(len(xs))                # the same operations as ys - xs·t, xs + ys·t, in place
    for i, a in enumerate(angles_deg):
        t = math.tan(math.radians(a))
        u = np.rint(np.subtract(ys, np.multiply(xs, t, out=buf), out=buf), out=buf).astype(np.int64)
        u += span
        v = np.rint(np.add(xs, np.multiply(ys, t, out=buf), out=buf), out=buf).astype(np.int64)
        v += span
        hu = np.bincount(u, minlength=2 * span + 1).astype(np.float64)
        hv = np.bincount(v, minlength=2 * span + 1).astype(np.float64)
        out[i] = hu @ hu + hv @ hv
    return out


def _best(angles: np.ndarray, score: np.ndarray) -> float:
    """The best angle, moved to the vertex of the parabola through it and its neighbours."""
    i = int(np.argmax(score))
    if 0 < i < len(angles) - 1:
        l, c, r = score[i - 1], score[i], score[i + 1]
        d = l - 2 * c + r
        if d < 0:
            return float(angles[i] + 0.5 * (l - r) / d * (angles[1] - angles[0]))
    return float(angles[i])


def hough_skew(binv: np.ndarray, memo: dict | None = None) -> float:
    """Weighted median angle (degrees) of long line segments (Hough on half size, bins of
    `hough_step_deg`): the estimate before the search, still the default (docs/speed.md)."""
    import cv2
    h, w = binv.shape
    small = (_shrunk(binv, (w // 2, h // 2), memo) > 100).astype(np.uint8) * 255
    side = min(w, h)
    blob = skew_config().get("hough_min_blob_frac", 0)
    if blob:
        small = long_blobs(small, blob * side / 2)
    step = math.radians(skew_config()["hough_step_deg"])     # Hough angle bins (cost ∝ 1/step)
    lines = cv2.HoughLinesP(small, 1, step, threshold=max(60, side // 12),
                            minLineLength=side // 6, maxLineGap=6)
    if lines is None:
        return 0.0
    max_skew = config()["grid"]["max_skew_deg"]
    angles, weights = [], []
    for x0, y0, x1, y1 in np.asarray(lines).reshape(-1, 4):
        if abs(x1 - x0) >= abs(y1 - y0):          # near-horizontal rule
            if x1 < x0:
                x0, y0, x1, y1 = x1, y1, x0, y0
            a = math.degrees(math.atan2(y1 - y0, x1 - x0))
        else:                                     # near-vertical rule (rotated pages)
            if y1 < y0:
                x0, y0, x1, y1 = x1, y1, x0, y0
            a = -math.degrees(math.atan2(x1 - x0, y1 - y0))
        if abs(a) <= max_skew:
            angles.append(a)
            weights.append(math.hypot(x1 - x0, y1 - y0))
    if not angles:
        return 0.0
    order = np.argsort(angles)
    cw = np.cumsum(np.array(weights)[order])
    return float(np.array(angles)[order][np.searchsorted(cw, cw[-1] / 2)])


def long_blobs(mask: np.ndarray, min_len: float) -> np.ndarray:
    """The ink of `mask` (255) in connected components whose box is at least `min_len` px
    long or tall: rules and the tables they join; glyphs, specks and words go. Why: the
    Hough transform's cost is its votes, one per ink pixel and angle bin; a glyph's pixels
    vote at every bin and are never taken by a line, so text paid most of it (issue #15)."""
    import cv2
    n, lab, st, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = (np.maximum(st[:, cv2.CC_STAT_WIDTH], st[:, cv2.CC_STAT_HEIGHT]) >= min_len)
    keep[0] = False
    return np.where(keep[lab], 255, 0).astype(np.uint8)


def estimate_skew(binv: np.ndarray, grey: np.ndarray | None = None) -> float:
    """Skew of a binarised page (ink = 255) in degrees, by `grid.skew.method`; `grey` (the
    page as binarised) lets `checked` fall back to Hough on faintly printed pages."""
    method = skew_config()["method"]
    if method == "hough":
        return hough_skew(binv)
    if method == "checked":
        return checked_skew(binv, grey)
    return search_skew(binv)


def ink_contrast(grey: np.ndarray, binv: np.ndarray, step: int = 3) -> float:
    """Grey levels between the page's paper and its ink: the median grey of the pixels the
    binarisation left as paper minus that of its ink (every `step`-th row and column).

    Why: on a thinned or faded scan (strokes under a pixel wide) the ink stands 35–85 levels
    under the paper, on every other page of the corpus mostly far more; there a cell's ink
    test (`crops.ink_contrast`), the glyph boxes' size floor and the binarised rules sit at
    their thresholds, and a rotation a few hundredths of a degree apart tips them (session
    27e: every grid that the search's angle changed on a thinned scan was under 85)."""
    g = grey[::step, ::step]
    b = binv[::step, ::step] > 0
    n = int(np.count_nonzero(b))
    if n == 0 or n == b.size:
        return 255.0
    return _median(g[~b]) - _median(g[b])


def _median(a: np.ndarray) -> float:
    """np.median of a 1-D array, from a 256-bin histogram when it is 8-bit (the same value)."""
    return greys.median_kth(a, 1)[0] if a.dtype == np.uint8 else float(np.median(a))


def checked_skew(binv: np.ndarray, grey: np.ndarray | None = None) -> float:
    """The search's angle, but Hough's where the search lands near the page-turn cliff.

    Why: a page is turned only when |angle| >= `grid.skew.turn_min_deg`; there a few
    hundredths of a degree decide whether a page is turned at all, and a page Hough left
    unturned (test_00000 heavy p3: a black corner's axis-aligned edges pull Hough to 0°,
    the search finds the table's 0.126°) changed its grid when turned (docs/speed.md,
    session 25a). Within `check_band_deg` of the search's angle Hough decides as before;
    elsewhere (most pages: skewed by ~0.3–3°, or level) the search's ~0.05 CPU s replaces
    Hough's ~1–2 (issue #15)."""
    cfg = skew_config()
    thin = cfg.get("thin_contrast", 0)
    if thin and grey is not None and ink_contrast(grey, binv) < thin:
        return hough_skew(binv)              # a faint page: its grid and ink tests as before
    memo: dict = {}                          # the half-size page, shrunk once for both
    a = search_skew(binv, memo)
    lo, hi = cfg["check_band_deg"]
    if lo <= abs(a) <= hi:
        return hough_skew(binv, memo)
    return a


def search_skew(binv: np.ndarray, memo: dict | None = None) -> float:
    """Skew of a binarised page (ink = 255) in degrees by the coarse-to-fine search; 0.0
    when there is too little ink."""
    cfg = skew_config()
    lim = float(config()["grid"]["max_skew_deg"])
    h, w = binv.shape
    span = int(math.hypot(h, w)) + 2
    xs, ys = _points(binv, cfg["coarse_scale"], cfg["max_points"])
    if len(xs) < cfg["min_points"]:
        return 0.0
    step = cfg["coarse_step_deg"]
    coarse = np.arange(-lim, lim + 1e-9, step)
    a0 = float(coarse[int(np.argmax(_sharpness(xs, ys, coarse, span)))])
    xs, ys = _points(binv, cfg["fine_scale"], cfg["max_points"], memo)
    fstep = cfg["fine_step_deg"]
    fine = a0 + np.arange(-step, step + 1e-9, fstep)
    a = _best(fine, _sharpness(xs, ys, fine, span))
    return float(np.clip(a, -lim, lim))


def rotate_small(grey: np.ndarray, angle: float) -> np.ndarray:
    """The page turned by `angle` degrees (counter-clockwise) about its centre, white outside."""
    import cv2
    h, w = grey.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
