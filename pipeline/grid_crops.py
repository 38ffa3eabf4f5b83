"""Cell crops: one cell's ink (rules painted out, specks dropped) cut into text-line crops,
and the shape tests on a crop (a solid blob, a flat bar, the ink's extent)."""
from __future__ import annotations

import functools

import numpy as np

from . import greys
from .grid_cells import RawCell, grid_config
from .grid_marks import grey_marks, st_min
from .templates import config


def cell_lines(grey: np.ndarray, rules: np.ndarray, c: RawCell, scale_px: float,
               pad: bool = True, whole: bool = False) -> tuple[bool, list[np.ndarray]]:
    """(has_ink, text-line crops) of one cell: rules painted out, specks dropped, trimmed."""
    ok, lines, _cut = cut_cell_lines(grey, rules, c, scale_px, pad, whole)
    return ok, lines


def cut_cell_lines(grey: np.ndarray, rules: np.ndarray, c: RawCell, scale_px: float,
                   pad: bool = True, whole: bool = False,
                   faint_from: float | None = None,
                   glyphs_from: float | None = None) -> tuple[bool, list[np.ndarray], float | None]:
    """cell_lines and the cell's `cut` (model.Cell.cut): None when no ink crossing the cell
    was painted out (`crops.drop_crossing`), else how far (pt) the ink kept lies from what
    was painted out (inf: nothing kept). Near 0 the cut ran through or beside what is read:
    a fragment of the stroke or of a glyph it touched may be all that is left.
    `faint_from`: the table's faint-ink bar (faint_table) where lower than `faint_contrast`.
    `glyphs_from`: the table's bar for faint ink shaped like digits (faint_glyphs): ink from
    there up to the faint bar is kept only when it is (_glyph_shaped)."""
    crop = _crop(grey, rules, c)
    if crop is None:
        return False, [], None
    return _lines(crop, scale_px, pad, whole, bool(crop_settings().get("drop_crossing", False)),
                  faint_from=faint_from, glyphs_from=glyphs_from)


def _lines(crop: np.ndarray, scale_px: float, pad: bool, whole: bool, crossing: bool,
           gone: np.ndarray | None = None, faint_from: float | None = None,
           glyphs_from: float | None = None, greyed: bool = False) -> tuple[bool, list[np.ndarray], float | None]:
    """cut_cell_lines on the cell's pixels. `crossing`: ink that enters and leaves the cell
    (_crosses) is painted out and the rest read again, once: a printed 0 beside a seal's
    ring falls under the threshold the ring's darker ink set. `gone`: the pixels painted
    out so (the second pass), whose distance to the ink kept is returned as the cut."""
    import cv2
    orig = crop
    none = (False, [], None if gone is None else float("inf"))
    # ink is darker than the cell's own background by a margin (light print on a grey
    # scan is still ink; uniform paper tone is not). A thinned scan prints digits fainter
    # than that (strokes under a pixel wide): between `faint_contrast` and the margin the
    # crop is stretched to full contrast and kept only if its ink is glyph-sized
    cfg = crop_settings()
    paper, dark = _paper_and_ink(crop, scale_px)
    contrast = paper - dark
    bar = _faint_bar(cfg, faint_from)
    glyphs_only = contrast < bar          # faint_glyphs' band: kept only if shaped like digits
    if contrast < (bar if glyphs_from is None else min(bar, glyphs_from)):
        return none
    faint = contrast < cfg["ink_contrast"]
    if faint:
        lo = float(crop.min())
        crop = np.clip((crop.astype(np.float32) - lo) * (255.0 / max(paper - lo, 1.0)), 0, 255).astype(np.uint8)
    ink = ink_mask(crop, scale_px, cfg)
    # drop specks and rule remnants touching the crop border
    n, lab, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    min_area = max(3, int(0.6 * scale_px * scale_px))   # a decimal point survives
    keep = np.zeros(n, bool)
    hh, ww = ink.shape
    crossed = []
    for i in range(1, n):
        x, y, w, h, a = st[i]
        border = x == 0 or y == 0 or x + w >= ww or y + h >= hh
        thin = (w <= 3 and h > 0.8 * hh) or (h <= 3 and w > 0.8 * ww)
        if crossing and a >= min_area and _crosses(x, y, w, h, ww, hh) \
                and _stroke_only(lab[y:y + h, x:x + w] == i, cfg["crossing_max_half_pt"] * scale_px,
                                 cfg["crossing_hole_pt2"] * scale_px * scale_px):
            crossed.append(i)
        elif a >= min_area and not (border and thin):
            keep[i] = True
    if crossed:
        gone = cv2.dilate(np.isin(lab, crossed).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        clean = orig.copy()
        clean[gone] = 255                # as the rules are painted out (_crop)
        return _lines(clean, scale_px, pad, whole, False, gone, faint_from, glyphs_from, greyed)
    grey = [] if faint or greyed else grey_marks(crop, lab, st, keep, paper, scale_px, cfg.get("grey_marks") or {})
    if grey:                             # a seal's grey ring or characters beside darker print: painted out
        halo = cv2.dilate(np.isin(lab, grey).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        clean = orig.copy()
        clean[halo & (orig > min(st_min(crop, lab, grey)) - 1)] = 255
        return _lines(clean, scale_px, pad, whole, crossing, gone, faint_from, glyphs_from, True)
    # isolated specks (scan noise) go; small marks next to glyphs (a decimal point) stay
    big = keep & (st[:, 4] >= 1.5 * scale_px * scale_px)
    big[0] = False
    if not big.any():
        return none                      # only specks: an empty cell on a noisy scan
    bx0, by0 = st[big, 0].min(), st[big, 1].min()
    bx1, by1 = (st[big, 0] + st[big, 2]).max(), (st[big, 1] + st[big, 3]).max()
    reach = 0.35 * (by1 - by0)
    for i in np.where(keep & ~big)[0]:
        x, y, w, h, _a = st[i]
        cx, cy = x + w / 2, y + h / 2
        if not (bx0 - reach <= cx <= bx1 + reach and by0 - reach <= cy <= by1 + reach):
            keep[i] = False
    ink = np.where(keep[lab], 255, 0).astype(np.uint8)
    # a small light '0' in a wide merged cell is still ink: the bar is absolute (px per pt²)
    if (ink > 0).sum() < grid_config()["min_ink_pt2"] * scale_px * scale_px:
        return none
    if faint and (ink > 0).mean() > cfg["faint_max_cover"]:
        return none                      # a shading or lighting gradient, not faint glyphs
    if glyphs_only and not _glyph_shaped(st[keep], scale_px, cfg["faint_glyphs"]):
        return none
    rows = np.where(ink.any(1))[0]
    lines = line_bands(rows, 1 + max(1, int(0.4 * scale_px)))
    # fold tiny slivers (a stray dot) into their neighbour
    merged: list[list[int]] = []
    for a, b in lines:
        if merged and (b - a < 2.5 * scale_px or merged[-1][1] - merged[-1][0] < 2.5 * scale_px) \
                and a - merged[-1][1] < 2 * scale_px:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    if whole:
        merged = [[rows[0], rows[-1] + 1]]
    m = grid_config()["crop_margin_px"]
    out = []
    for a, b in merged:
        band = ink[a:b]
        cols = np.where(band.any(0))[0]
        if len(cols) == 0:
            continue
        l, r = cols[0], cols[-1] + 1
        ya, yb = max(0, a - m), min(hh, b + m)
        xa, xb = max(0, l - m), min(ww, r + m)
        piece = crop[ya:yb, xa:xb]
        mask = ink[ya:yb, xa:xb] > 0
        clean = np.where(mask | (piece < 128), piece, 255).astype(np.uint8)
        # white space beside a short line: a lone '/' or '1' is read far better with context
        side = max(0, int(clean.shape[0] * grid_config()["side_pad"]) - m)
        if side and pad:
            clean = cv2.copyMakeBorder(clean, 0, 0, side, side, cv2.BORDER_CONSTANT, value=255)
        out.append(clean)
    return bool(out), out, _cut_distance(gone, ink, scale_px) if out else none[2]


def ink_mask(crop: np.ndarray, scale_px: float, cfg: dict) -> np.ndarray:
    """The cell's ink (255) by Otsu's threshold. Otsu splits the crop in two classes; when the
    print is a small share of a wide cell (one 0 in a merged 主动公开 cell) the paper is the
    only class it sees, and its threshold lands inside the paper's own grain (or between two
    paper tones): half a noisy scan's paper turns to ink, specks over the whole cell, read
    `天`, `造` or nothing. `crops.paper_split`: where Otsu's threshold lies less than
    `within_sigma` grain deviations (paper_grain) under the paper grey and the print stands
    `far_sigma` deviations under it, the ink is what stands `cut_sigma` deviations (at least
    `min_cut` grey levels) under the paper instead."""
    import cv2
    t, ink = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ps = cfg.get("paper_split") or {}
    if not ps.get("enabled", False):
        return ink
    paper, sigma = paper_grain(crop)
    cut = paper - max(ps["cut_sigma"] * sigma, ps["min_cut"])
    _, dark = _paper_and_ink(crop, scale_px)
    # only where the threshold lies in the paper, under its grey, and the print stands far out
    # of the grain (`far_sigma` deviations, at least twice `min_cut`, under the paper): a cell
    # mostly ink (a bold label on a binarised scan) or two paper tones (a seal's shade) have no
    # grain to measure so
    far = max(ps["far_sigma"] * sigma, 2 * ps["min_cut"])
    if not (paper - ps["within_sigma"] * sigma <= t < paper) or dark > paper - far:
        return ink
    return np.where(crop < cut, 255, 0).astype(np.uint8)


def paper_grain(crop: np.ndarray) -> tuple[float, float]:
    """(paper grey, the grain's deviation): the crop's median and 1.4826 × the median absolute
    deviation from it (a robust standard deviation: the print, a small share, does not count)."""
    if crop.dtype != np.uint8:
        paper = float(np.median(crop))
        return paper, 1.4826 * float(np.median(np.abs(crop.astype(np.float32) - paper)))
    paper, mad = greys.median_mad(crop)
    return paper, 1.4826 * mad


def _cut_distance(gone: np.ndarray | None, ink: np.ndarray, scale_px: float) -> float | None:
    """How far (pt) the ink kept (`ink` > 0) lies from the pixels painted out (`gone`)."""
    if gone is None:
        return None
    import cv2
    d = cv2.distanceTransform((~gone).astype(np.uint8), cv2.DIST_L2, 3)
    return round(float(d[ink > 0].min()) / scale_px, 2)


def _crosses(x: int, y: int, w: int, h: int, ww: int, hh: int) -> bool:
    """One ink component enters and leaves the cell: it touches its top and bottom, or two
    sides that meet at a corner (a seal's ring, a streak, a handwritten tick). Printed text
    sits inside its cell; a number wider than a narrow cell touches only left and right."""
    left, top, right, bottom = x == 0, y == 0, x + w >= ww, y + h >= hh
    return (top and bottom) or ((top or bottom) and (left or right))


def _stroke_only(mask: np.ndarray, max_half_px: float, hole_px: float) -> bool:
    """A component that is a bare stroke: no part of it thicker than `max_half_px` each side
    (a seal's solid star, or a region the threshold cut off by shading, is not) and no hole
    of `hole_px` or more (a printed 0 the ring or a tick runs into has its counter)."""
    import cv2
    m = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    if float(cv2.distanceTransform(m, cv2.DIST_L2, 3).max()) > max_half_px:
        return False
    contours, hier = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return not any(h[3] >= 0 and cv2.contourArea(c) >= hole_px for c, h in zip(contours, hier[0])) \
        if hier is not None else True


def line_bands(rows: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Text lines as (first, last + 1) pixel rows: the inked rows `rows` (ascending, not
    empty) split where more than `gap` rows lie between two of them."""
    bands, start, prev = [], rows[0], rows[0]
    for r in rows[1:]:
        if r - prev > gap:
            bands.append((start, prev + 1))
            start = r
        prev = r
    bands.append((start, prev + 1))
    return bands


def grey_lines(grey: np.ndarray, rules: np.ndarray, rc: RawCell, scale_px: float, cfg: dict) -> list[np.ndarray]:
    """One cell's text lines cut from the page's grey pixels as printed (rules painted
    paper-white, nothing thresholded away): what a blurred or emboldened scan leaves of a
    label's strokes survives here when the cleaned crop (grid_crops.cell_lines, ink kept by
    Otsu) breaks the glyphs apart. `cfg`: configs/grid.yaml `relabel:`."""
    inset = max(2, int(round(cfg["inset_pt"] * scale_px)))
    x0, y0, x1, y1 = rc.x0 + inset, rc.y0 + inset, rc.x1 - inset, rc.y1 - inset
    if x1 - x0 < 8 or y1 - y0 < 8:
        return []
    crop = grey[y0:y1, x0:x1].copy()
    paper = float(np.median(crop))
    crop[rules[y0:y1, x0:x1] > 0] = int(paper)
    dark = crop < paper - _grey_contrast(crop, paper, scale_px, cfg)
    rows = np.where(dark.sum(1) >= 2)[0]
    if not len(rows):
        return []
    bands = line_bands(rows, max(2, int(round(cfg["line_gap_pt"] * scale_px))))
    m = max(2, int(round(cfg["margin_pt"] * scale_px)))
    out = []
    for a, b in bands:
        if b - a < cfg["min_line_pt"] * scale_px:
            continue
        cols = np.where(dark[a:b].any(0))[0]
        ya, yb = max(0, a - m), min(crop.shape[0], b + m)
        xa, xb = max(0, cols[0] - m), min(crop.shape[1], cols[-1] + 1 + m)
        out.append(np.ascontiguousarray(crop[ya:yb, xa:xb]))
    return out


def _grey_contrast(crop: np.ndarray, paper: float, scale_px: float, cfg: dict) -> float:
    """How much darker than the paper a pixel of grey_lines' crop must be to be ink:
    `contrast`, or less on a cell printed faintly: `contrast_share` of the cell's own ink
    contrast (paper against its k-th darkest pixel, _paper_and_ink). On a thinned scan
    (light 8 pt labels, 60 grey levels under the paper) a simple glyph's thin strokes
    (行 of 行政许可) stay above `contrast`: the line was cut after it and read 政作可."""
    share = cfg.get("contrast_share")
    if not share:
        return cfg["contrast"]
    k = max(1, int(round(crop_settings()["ink_rank_pt2"] * scale_px * scale_px)))
    flat = crop.ravel()
    dark = float(np.partition(flat, min(k, flat.size) - 1)[min(k, flat.size) - 1])
    return min(cfg["contrast"], max(cfg.get("min_contrast", 0), share * (paper - dark)))


def _crop(grey: np.ndarray, rules: np.ndarray, c: RawCell) -> np.ndarray | None:
    """The cell's pixels inside its rules (a pixel inset), rules painted out."""
    inset = 1
    x0, y0, x1, y1 = c.x0 + inset, c.y0 + inset, c.x1 - inset, c.y1 - inset
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    crop = grey[y0:y1, x0:x1].copy()
    crop[rules[y0:y1, x0:x1] > 0] = 255
    return crop


def _paper_and_ink(crop: np.ndarray, scale_px: float) -> tuple[float, float]:
    """(paper grey, ink grey) of a cell: the median, and the k-th darkest pixel with k a
    glyph stroke's few pixels (`crops.ink_rank_pt2` × px per pt²). Not the single darkest:
    on a thinned scan that one pixel moves by a few grey levels when the page turns by
    0.01° (the cell flipped between ink and blank), and a lone dark speck is no ink."""
    k = max(1, int(round(crop_settings()["ink_rank_pt2"] * scale_px * scale_px)))
    flat = crop.ravel()
    k = min(k, flat.size)
    if crop.dtype != np.uint8:
        return float(np.median(crop)), float(np.partition(flat, k - 1)[k - 1])
    return greys.median_kth(flat, k)


def is_faint(grey: np.ndarray, rules: np.ndarray, c: RawCell, scale_px: float,
             faint_from: float | None = None) -> bool:
    """The cell's ink is faint (cell_lines kept it only after stretching): strokes of a
    thinned scan may be lost, so a 0 can read as 1 or 11 (a sanity doubt, not 0.999)."""
    crop = _crop(grey, rules, c)
    if crop is None:
        return False
    cfg = crop_settings()
    paper, dark = _paper_and_ink(crop, scale_px)
    return _faint_bar(cfg, faint_from) <= paper - dark < cfg["ink_contrast"]


def _faint_bar(cfg: dict, faint_from: float | None) -> float:
    return cfg["faint_contrast"] if faint_from is None else min(cfg["faint_contrast"], faint_from)


def is_faint_glyphs(grey: np.ndarray, rules: np.ndarray, c: RawCell, scale_px: float,
                    faint_from: float | None, glyphs_from: float | None) -> bool:
    """The cell's ink lies in faint_glyphs' band (under the faint bar, from `glyphs_from`)."""
    crop = _crop(grey, rules, c)
    if crop is None or glyphs_from is None:
        return False
    paper, dark = _paper_and_ink(crop, scale_px)
    return glyphs_from <= paper - dark < _faint_bar(crop_settings(), faint_from)


def _glyph_shaped(stats: np.ndarray, scale_px: float, cfg: dict) -> bool:
    """The ink kept (components' x, y, w, h, area rows) is a few digits on one line: at most
    `max_glyphs` components, none taller or wider than `glyph_max_pt`, and those at least
    `glyph_min_pt` tall (a digit, not a minus sign) overlapping vertically (one text line).
    A faint streak, a shadow's edge or a rule's remnant is longer, or lies on another line."""
    if not len(stats) or len(stats) > cfg["max_glyphs"]:
        return False
    lo, hi = cfg["glyph_min_pt"] * scale_px, cfg["glyph_max_pt"] * scale_px
    if (stats[:, 2] > hi).any() or (stats[:, 3] > hi).any():
        return False
    tall = stats[stats[:, 3] >= lo]          # a minus sign or a decimal point is no glyph's height
    if not len(tall):
        return False
    return bool(tall[:, 1].max() < (tall[:, 1] + tall[:, 3]).min())


def inked_contrasts(grey: np.ndarray, rules: np.ndarray, raw: list[RawCell], scale_px: float) -> list[float]:
    """Ink contrast (grey levels under the paper) of a table's cells inked over `ink_contrast`:
    the table's print, which faint_glyphs and faint_table measure a faint cell against."""
    out = []
    for c in raw:
        crop = _crop(grey, rules, c)
        if crop is not None:
            paper, dark = _paper_and_ink(crop, scale_px)
            if paper - dark >= crop_settings()["ink_contrast"]:
                out.append(paper - dark)
    return out


def faint_glyphs(grey: np.ndarray, rules: np.ndarray, raw: list[RawCell], scale_px: float) -> float | None:
    """The bar for faint ink shaped like digits in this table (`crops.faint_glyphs`), or None.
    A thinned scan prints its digits 25–36 grey levels under the paper, under `faint_contrast`:
    5, 3, 55 and a lone 1 read as blanks (test_00003 light). A cell is measured against its
    own table's print: ink at least `share` of the table's median ink contrast (its inked
    cells) and at least `contrast` is kept when _glyph_shaped, stretched and doubted
    (is_faint_glyphs). A dark table's share stays over the faint bar: nothing changes."""
    cfg = crop_settings().get("faint_glyphs") or {}
    if not cfg.get("enabled"):
        return None
    inked = inked_contrasts(grey, rules, raw, scale_px)
    if len(inked) < cfg.get("min_cells", 8):
        return None
    bar = max(float(cfg["contrast"]), cfg["share"] * float(np.median(inked)))
    return bar if bar < crop_settings()["faint_contrast"] else None


def faint_table(grey: np.ndarray, rules: np.ndarray, raw: list[RawCell], scale_px: float) -> float | None:
    """The faint-ink bar of a table printed faintly throughout (`crops.faint_table`), or None.
    A thinned scan prints a whole table light: labels 50–90 grey levels under the paper, its
    digits 25–57, so 5, 3 and 55 fell under `ink_contrast` and read as blanks. Faint ink on
    every page (`faint_contrast` 20) lost cells of darkly printed heavy scans (a streak, a
    shadow under the bar); here the bar drops only in a table whose inked cells' median
    contrast stays under `max_median` (a dark table's median is 2–3 times that)."""
    cfg = crop_settings().get("faint_table") or {}
    if not cfg.get("enabled"):
        return None
    inked = inked_contrasts(grey, rules, raw, scale_px)
    if len(inked) < cfg["min_cells"] or float(np.median(inked)) >= cfg["max_median"]:
        return None
    if cfg.get("max_rule_contrast") is not None and not rules_faint(grey, rules, raw, cfg):
        return None
    return float(cfg["contrast"])


def rule_contrast(grey: np.ndarray, rules: np.ndarray, raw: list[RawCell], pct: float) -> float | None:
    """How far the table's rules stand under its paper: the page's grey median inside the
    table's box less the `pct`-th percentile grey of its rule pixels (the dark core of the
    strokes, not the halo the painted-out mask spreads around them). None: no rule there."""
    if not raw:
        return None
    x0, y0 = max(0, min(c.x0 for c in raw)), max(0, min(c.y0 for c in raw))
    x1, y1 = max(c.x1 for c in raw), max(c.y1 for c in raw)
    g, m = grey[y0:y1, x0:x1], rules[y0:y1, x0:x1] > 0
    if not m.any() or m.all():
        return None
    return float(np.median(g[~m])) - float(np.percentile(g[m], pct))


def rules_faint(grey: np.ndarray, rules: np.ndarray, raw: list[RawCell], cfg: dict) -> bool:
    """faint_table's gate (`crops.faint_table.max_rule_contrast`): a thinned scan thins the
    rules with the text (0.8 pt rules standing ~60–90 levels under the paper), a heavy one
    prints them dark whatever its text's contrast (test_00004 heavy: text median 51–56)."""
    c = rule_contrast(grey, rules, raw, cfg.get("rule_pct", 10))
    return c is not None and c < cfg["max_rule_contrast"]


@functools.lru_cache(maxsize=1)
def crop_settings() -> dict:
    """configs/grid.yaml `crops:` (read once: cell_lines runs for every cell)."""
    return config("grid.yaml")["crops"]


def _components(line: np.ndarray):
    """(n, labels, stats) of the line's ink (Otsu) components, 8-connected."""
    import cv2
    _, ink = cv2.threshold(line, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, lab, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return n, lab, st


def one_glyph(line: np.ndarray, comps=None):
    """(x, y, w, h, area) of the line's only big ink component (specks under a fifth of
    the biggest do not count), or None when there are none or several."""
    n, _, st = comps or _components(line)
    if n < 2:
        return None
    big = st[1:][st[1:, 4] >= 0.2 * st[1:, 4].max()]
    return tuple(int(v) for v in big[0]) if len(big) == 1 else None


def is_blob(line: np.ndarray, g=False) -> bool:
    """One solid glyph-sized blob (a 0, 6, 8 or 9 whose holes a heavy scan filled)."""
    g = one_glyph(line) if g is False else g
    if g is None:
        return False
    x, y, w, h, a = g
    return 1.1 <= h / max(w, 1) <= 2.6 and a >= 0.72 * w * h and h >= 8


def is_dash(line: np.ndarray, g=False) -> bool:
    """One flat bar and nothing else: a printed blank (— - 一 _), which PP-OCR often reads
    as nothing or as 一 and the digit model, knowing only numbers, as 0."""
    g = one_glyph(line) if g is False else g
    return g is not None and g[2] >= 3 * g[3] and g[2] >= 6


def shape_flags(line: np.ndarray) -> tuple[bool, bool, bool]:
    """(is_dash, is_blob, is_slash) of a one-line cell's crop from one threshold and component count,
    not three: the same answers (a ／ is one glyph: a crop with none or several is no slash)."""
    comps = _components(line)
    g = one_glyph(line, comps)
    if g is None:
        return False, False, False
    return is_dash(line, g), is_blob(line, g), is_slash(line, comps)



def ink_extent(crop: np.ndarray, px_per_unit: float) -> tuple[float, float] | None:
    """(width, height) of a text-line crop's ink in page units (as cell boxes): cell_lines
    leaves paper at exactly 255, so anything darker is ink (margins and side padding are not)."""
    ink = crop < 255
    cols, rows = np.where(ink.any(0))[0], np.where(ink.any(1))[0]
    if not len(cols) or not len(rows):
        return None
    return (round(float(cols[-1] + 1 - cols[0]) / px_per_unit, 2),
            round(float(rows[-1] + 1 - rows[0]) / px_per_unit, 2))


def slash_shape(line: np.ndarray, comps=None) -> dict | None:
    """The shape of a line crop's ink (its big components, as `one_glyph` counts them):
    `parts` how many, `angle` of its principal axis in degrees from the horizontal, counted
    anticlockwise (a ／ rising to the right ~60, an upright 1 ~90, a \\ ~120), `elong` the
    square root of the axes' variance ratio (a thin straight stroke: its length over its
    width, ×1), `h` its height in px. None when the crop has no ink. `comps`: _components(line)."""
    n, lab, st = comps or _components(line)
    if n < 2:
        return None
    big = [i + 1 for i, a in enumerate(st[1:, 4]) if a >= 0.2 * st[1:, 4].max()]
    ys, xs = np.nonzero(np.isin(lab, big))
    if len(xs) < 3:
        return None
    cov = np.cov(np.stack([xs.astype(float), -ys.astype(float)]))
    w, v = np.linalg.eigh(cov)
    major = v[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0]))) % 180.0
    return {"parts": len(big), "angle": round(angle, 1),
            "elong": round(float(np.sqrt(w[1] / max(w[0], 1e-6))), 2),
            "h": int(ys.max() - ys.min() + 1), "w": int(xs.max() - xs.min() + 1)}


def is_slash(line: np.ndarray, comps=None) -> bool:
    """One straight stroke rising to the right at a slant and nothing else: a printed ／
    (a blank mark), which PP-OCR and the digit model read as 1 when a scan made it thick
    (configs/ocr.yaml `grid.slash`; an upright 1's axis is near 90°)."""
    cfg = grid_config().get("slash") or {}
    if not cfg.get("enabled"):
        return False
    s = slash_shape(line, comps)
    return (s is not None and s["parts"] == 1 and cfg["min_angle"] <= s["angle"] <= cfg["max_angle"]
            and s["elong"] >= cfg["min_elong"] and s["h"] >= cfg["min_h"])
