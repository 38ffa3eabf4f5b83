"""Grid stage: find ruled tables on page images, rebuild their cell grid, read each cell.

Why this way: the reports' tables are ruled, so the ruling lines (OpenCV morphology with
kernels longer than any glyph) give the grid exactly; the enclosed white regions between
the rules are the cells, so merged cells come out with their spans for free. Reading
each cell's own crop (rules painted out, trimmed to ink, split into text lines) recovers
the digits that full-page detection loses. On digital pages with a trusted text layer
the PDF's characters are placed into the cells instead of OCR.

Entry point: recover(doc, settings). Coordinates: page.image is replaced by the upright,
deskewed image that the grid refers to; cell and table boxes are in page units
(pt for PDFs, px for images) of that upright page.
"""
from __future__ import annotations

import difflib
import math
import time

import numpy as np

from .cost import lap
from .model import Cell, Document, Page, Table, Word
from .ocr import candidates, get_engine, is_numeric_text, normalise_text, parse_value
from .strips import recognise as recognise_rows
from .pdf import config


def grid_config() -> dict:
    """The `grid` section of configs/pdf.yaml (shared with layout's title band)."""
    return config()["grid"]


def page_scale(page: Page) -> float:
    """Pixels of page.image per page unit."""
    s = getattr(page, "scale", None)
    if s:
        return float(s)
    if page.image is not None and page.width:
        return page.image.shape[1] / float(page.width)
    return 1.0


# -- binarisation, skew, lines ------------------------------------------------------------

def binarise(grey: np.ndarray) -> np.ndarray:
    """Ink = 255. Adaptive, so uneven scan backgrounds do not turn into ink."""
    import cv2
    return cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 41, 15)


def estimate_skew(binv: np.ndarray) -> float:
    """Median angle (degrees) of long near-horizontal line segments (Hough on half size)."""
    import cv2
    h, w = binv.shape
    small = cv2.resize(binv, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small = (small > 100).astype(np.uint8) * 255
    side = min(w, h)
    step = math.radians(grid_config().get("skew_step_deg", 0.1))     # Hough angle bins (cost ∝ 1/step)
    lines = cv2.HoughLinesP(small, 1, step, threshold=max(60, side // 12),
                            minLineLength=side // 6, maxLineGap=6)
    if lines is None:
        return 0.0
    max_skew = grid_config()["max_skew_deg"]
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


def rotate_small(grey: np.ndarray, angle: float) -> np.ndarray:
    import cv2
    h, w = grey.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)


def line_masks(binv: np.ndarray, scale_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical ruling masks (kernels longer than any glyph)."""
    import cv2
    h, w = binv.shape
    kx = max(int(w * grid_config()["line_kernel_frac"]), int(3.2 * scale_px * 10))  # > 3 glyph widths
    hor = cv2.morphologyEx(binv, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (kx, 1)))
    bridge = grid_config()["bridge_px"]
    hor = cv2.morphologyEx(hor, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (bridge, 1)))
    # row spacing sets the vertical kernel: shorter than a row, longer than a glyph
    ys = np.where(hor.sum(1) > 255 * kx)[0]
    gaps = np.diff(ys)
    gaps = gaps[gaps > 4]
    row_h = float(np.percentile(gaps, 10)) if len(gaps) else 20 * scale_px
    ky = int(max(grid_config()["vline_min_px"], min(0.7 * row_h, 13 * scale_px)))
    ver = cv2.morphologyEx(binv, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, ky)))
    ver = cv2.morphologyEx(ver, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, bridge)))
    # a vertical rule touches a horizontal one; a glyph stroke of that length does not
    n, lab, st, _ = cv2.connectedComponentsWithStats(ver, connectivity=8)
    hd = cv2.dilate(hor, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, ww, hh, _a = st[i]
        if hh >= 2.5 * ky or hd[y:y + hh, x:x + ww][lab[y:y + hh, x:x + ww] == i].any():
            keep[i] = True
    ver = np.where(keep[lab], 255, 0).astype(np.uint8)
    return hor, ver


def _clusters(values: list[float], tol: float) -> list[float]:
    vals = sorted(values)
    out: list[list[float]] = []
    for v in vals:
        if out and v - out[-1][-1] <= tol:
            out[-1].append(v)
        else:
            out.append([v])
    return [float(np.mean(c)) for c in out]


def _nearest(bounds: list[float], v: float) -> int:
    return int(np.argmin([abs(b - v) for b in bounds]))


# -- tables and cells -----------------------------------------------------------------------

class RawCell:
    __slots__ = ("x0", "y0", "x1", "y1", "row", "col", "rowspan", "colspan")

    def __init__(self, x0, y0, x1, y1):
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1


def find_tables(hor: np.ndarray, ver: np.ndarray) -> list[tuple[tuple[int, int, int, int], list[RawCell]]]:
    """Table regions (px bbox) with their cells (enclosed regions between rules)."""
    import cv2
    H, W = hor.shape
    grid = cv2.bitwise_or(hor, ver)
    grid_d = cv2.dilate(grid, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    n, lab, st, _ = cv2.connectedComponentsWithStats(grid_d, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, _ = st[i]
        frac = grid_config()["min_table_w_frac"]
        if (w < frac * W and h < frac * H) or w < 60 or h < 30:
            continue
        region = (lab[y:y + h, x:x + w] == i)
        if not (hor[y:y + h, x:x + w][region].any() and ver[y:y + h, x:x + w][region].any()):
            continue
        m = np.where(region, 255, 0).astype(np.uint8)
        cv2.rectangle(m, (0, 0), (w - 1, h - 1), 255, 2)      # close open outer sides
        free = cv2.bitwise_not(m)
        k, clab, cst, _ = cv2.connectedComponentsWithStats(free, connectivity=4)
        cells = []
        for j in range(1, k):
            cx, cy, cw, ch, area = cst[j]
            if cw < 6 or ch < 6 or area < 60 or area < 0.5 * cw * ch:
                continue
            cells.append(RawCell(x + cx, y + cy, x + cx + cw, y + cy + ch))
        if len(cells) < grid_config()["min_cells"]:
            continue
        # the two edges of one rule lie a rule's thickness apart (thick on blurred scans)
        tol = max(8.0, 1.5 * _thickness(ver[y:y + h, x:x + w], axis=1) + 4)
        xs = _clusters([c.x0 for c in cells] + [c.x1 for c in cells], tol)
        tol = max(8.0, 1.5 * _thickness(hor[y:y + h, x:x + w], axis=0) + 4)
        ys = _clusters([c.y0 for c in cells] + [c.y1 for c in cells], tol)
        cells = _drop_stray_splits(cells, xs, ys, tol)
        good = []
        for c in cells:
            c.col, c.row = _nearest(xs, c.x0), _nearest(ys, c.y0)
            c.colspan = _nearest(xs, c.x1) - c.col
            c.rowspan = _nearest(ys, c.y1) - c.row
            if c.colspan >= 1 and c.rowspan >= 1:
                good.append(c)
        # boundaries are shared by two edges (a cell's right and the next one's left)
        good = _renumber(good)
        if len(good) >= grid_config()["min_cells"]:
            out.append(((int(x), int(y), int(x + w), int(y + h)), good))
    out.sort(key=lambda t: (t[0][1], t[0][0]))
    return out


def _drop_stray_splits(cells: list[RawCell], xs: list[float], ys: list[float], tol: float) -> list[RawCell]:
    """A vertical boundary that only one row of a long table uses, inside what is one
    cell everywhere else, is a mark (a tick, a seal stroke), not a rule: merge the two
    cells it splits and forget the boundary."""
    if len(ys) < 8:
        return cells
    for xb in list(xs):
        users = [c for c in cells if abs(c.x0 - xb) <= tol or abs(c.x1 - xb) <= tol]
        rows = {_nearest(ys, c.y0) for c in users}
        if len(rows) != 1 or len(users) != 2:
            continue
        left, right = sorted(users, key=lambda c: c.x0)
        if abs(left.x1 - xb) > tol or abs(right.x0 - xb) > tol or xb in (xs[0], xs[-1]):
            continue
        if abs(left.x0 - xs[0]) <= tol and not any(
                c.x0 < xb - tol and c.x1 > xb + tol and c.y0 >= left.y1 - tol for c in cells):
            continue        # a label column that starts in the last row (the table goes on)
        merged = RawCell(left.x0, min(left.y0, right.y0), right.x1, max(left.y1, right.y1))
        cells = [c for c in cells if c is not left and c is not right] + [merged]
        xs.remove(xb)
    # a seal's ring crossing two rows: a boundary only those rows use, inside a cell that
    # spans it in the row above and in the row below
    for xb in list(xs[1:-1]):
        users = [c for c in cells if abs(c.x0 - xb) <= tol or abs(c.x1 - xb) <= tol]
        rows = sorted({_nearest(ys, c.y0) for c in users})
        if len(rows) > 2 or len(users) != 2 * len(rows):
            continue
        pairs = []
        for r in rows:
            left = [c for c in users if _nearest(ys, c.y0) == r and abs(c.x1 - xb) <= tol]
            right = [c for c in users if _nearest(ys, c.y0) == r and abs(c.x0 - xb) <= tol]
            if len(left) != 1 or len(right) != 1:
                break
            pairs.append((left[0], right[0]))
        if len(pairs) != len(rows):
            continue
        top = min(c.y0 for c in users)
        bottom = max(c.y1 for c in users)

        def spans(c):
            return c.x0 < xb - tol and c.x1 > xb + tol
        above = any(spans(c) and abs(c.y1 - top) <= 2 * tol for c in cells)
        below = any(spans(c) and abs(c.y0 - bottom) <= 2 * tol for c in cells)
        if not (above and below):
            continue
        for left, right in pairs:
            merged = RawCell(left.x0, min(left.y0, right.y0), right.x1, max(left.y1, right.y1))
            cells = [c for c in cells if c is not left and c is not right] + [merged]
        xs.remove(xb)
    return cells


def _thickness(mask: np.ndarray, axis: int) -> float:
    """Median thickness of rules in a mask: ink pixels per line of rule, across `axis`."""
    on = mask > 0
    runs = on.sum(axis=axis)                # per column (axis=0) or per row (axis=1)
    lines = (np.diff(on.astype(np.int8), axis=axis) == 1).sum(axis=axis)
    ok = lines > 0
    if not ok.any():
        return 2.0
    return float(np.median(runs[ok] / lines[ok]))


def _renumber(cells: list[RawCell]) -> list[RawCell]:
    """Boundary clusters alternate right-edge / left-edge of one rule: collapse to grid lines."""
    for axis in ("col", "row"):
        span = axis + "span"
        starts = sorted({getattr(c, axis) for c in cells})
        ends = sorted({getattr(c, axis) + getattr(c, span) for c in cells})
        lines = sorted(set(starts) | set(ends))
        # merge a boundary that is only an end with the next that is only a start (one rule)
        mapping, k, i = {}, 0, 0
        while i < len(lines):
            b = lines[i]
            if (i + 1 < len(lines) and b in ends and b not in starts
                    and lines[i + 1] in starts and lines[i + 1] not in ends):
                mapping[b] = mapping[lines[i + 1]] = k
                i += 2
            else:
                mapping[b] = k
                i += 1
            k += 1
        for c in cells:
            a, s = getattr(c, axis), getattr(c, span)
            setattr(c, axis, mapping[a])
            setattr(c, span, max(1, mapping[a + s] - mapping[a]))
    if not cells:
        return cells
    lo_r = min(c.row for c in cells)
    lo_c = min(c.col for c in cells)
    for c in cells:
        c.row -= lo_r
        c.col -= lo_c
    return cells


# -- cell crops -------------------------------------------------------------------------------

def cell_lines(grey: np.ndarray, rules: np.ndarray, c: RawCell, scale_px: float,
               pad: bool = True, whole: bool = False) -> tuple[bool, list[np.ndarray]]:
    """(has_ink, text-line crops) of one cell: rules painted out, specks dropped, trimmed."""
    import cv2
    inset = 1
    x0, y0, x1, y1 = c.x0 + inset, c.y0 + inset, c.x1 - inset, c.y1 - inset
    if x1 - x0 < 4 or y1 - y0 < 4:
        return False, []
    crop = grey[y0:y1, x0:x1].copy()
    crop[rules[y0:y1, x0:x1] > 0] = 255
    _, ink = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    # ink is darker than the cell's own background by a margin (light print on a grey
    # scan is still ink; uniform paper tone is not)
    if float(np.median(crop)) - float(crop.min()) < 45:
        return False, []
    # drop specks and rule remnants touching the crop border
    n, lab, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    min_area = max(3, int(0.6 * scale_px * scale_px))   # a decimal point survives
    keep = np.zeros(n, bool)
    hh, ww = ink.shape
    for i in range(1, n):
        x, y, w, h, a = st[i]
        border = x == 0 or y == 0 or x + w >= ww or y + h >= hh
        thin = (w <= 3 and h > 0.8 * hh) or (h <= 3 and w > 0.8 * ww)
        if a >= min_area and not (border and thin):
            keep[i] = True
    # isolated specks (scan noise) go; small marks next to glyphs (a decimal point) stay
    big = keep & (st[:, 4] >= 1.5 * scale_px * scale_px)
    big[0] = False
    if not big.any():
        return False, []                 # only specks: an empty cell on a noisy scan
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
        return False, []
    rows = np.where(ink.any(1))[0]
    # split into text lines at empty rows
    lines, start, prev = [], rows[0], rows[0]
    for r in rows[1:]:
        if r - prev > 1 + max(1, int(0.4 * scale_px)):
            lines.append((start, prev + 1))
            start = r
        prev = r
    lines.append((start, prev + 1))
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
    return bool(out), out


def _one_glyph(line: np.ndarray):
    """(x, y, w, h, area) of the line's only big ink component (specks under a fifth of
    the biggest do not count), or None when there are none or several."""
    import cv2
    _, ink = cv2.threshold(line, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, _, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n < 2:
        return None
    big = st[1:][st[1:, 4] >= 0.2 * st[1:, 4].max()]
    return tuple(int(v) for v in big[0]) if len(big) == 1 else None


def _is_blob(line: np.ndarray) -> bool:
    """One solid glyph-sized blob (a 0, 6, 8 or 9 whose holes a heavy scan filled)."""
    g = _one_glyph(line)
    if g is None:
        return False
    x, y, w, h, a = g
    return 1.1 <= h / max(w, 1) <= 2.6 and a >= 0.72 * w * h and h >= 8


def _is_dash(line: np.ndarray) -> bool:
    """One flat bar and nothing else: a printed blank (— - 一 _), which PP-OCR often reads
    as nothing or as 一 and the digit model, knowing only numbers, as 0."""
    g = _one_glyph(line)
    return g is not None and g[2] >= 3 * g[3] and g[2] >= 6


def _orientation(grey: np.ndarray, cells: list[RawCell], rules: np.ndarray, engine, scale_px: float) -> int:
    """0/90/180/270: read a few long label cells in each orientation, keep the most confident."""
    k = grid_config()["orientation_samples"]
    samples = []
    for c in sorted(cells, key=lambda c: -(c.x1 - c.x0) * (c.y1 - c.y0)):
        ok, lines = cell_lines(grey, rules, c, scale_px, pad=False, whole=True)
        if ok:
            h, w = lines[0].shape
            if max(h, w) >= 3 * min(h, w):
                samples.append(lines[0])
        if len(samples) >= k:
            break
    if not samples:
        return 0
    # upright pages are the rule: accept 0 when the samples read confidently as they are
    wide = [x for x in samples if x.shape[1] > x.shape[0]]
    if wide:
        # two confident multi-character readings as printed settle it (tall samples may be
        # one-character-per-line headers, which read as a line when turned)
        # (the first two are read alone: on an upright page they settle it, and the other
        # two, long label crops at ~0.1 CPU s each, are read only when they do not)
        need = min(2, len(wide))
        sure = 0
        for part in (wide[:2], wide[2:4]):
            if part:
                sure += sum(x.score >= 0.9 and len(x.text) >= 3 for x in engine.recognise(part))
            if sure >= need:
                return 0
    # long text runs lie along the lines of text: wide runs → upright or upside down,
    # tall runs → turned a quarter (one-character-per-line headers are the minority)
    if len(wide) >= 0.5 * len(samples):
        turns, samples = (0, 180), wide
    else:
        turns, samples = (0, 90, 270), [x for x in samples if x.shape[0] > x.shape[1]]
    crops, tags = [], []
    for s in samples:
        for r in turns:
            crops.append(np.ascontiguousarray(np.rot90(s, k=r // 90)))  # counter-clockwise
            tags.append(r)
    res = engine.recognise(crops)
    score = {r: 0.0 for r in turns}
    for r, x in zip(tags, res):
        score[r] += x.score * min(len(x.text), 6)
    best = max(score, key=score.get)
    if best != 0 and score[best] < 1.3 * score[0]:
        return 0
    return best


# -- reading cells -------------------------------------------------------------------------------

def _place_chars(words: list[Word], box_units) -> str:
    """Text-layer characters whose centres fall in a cell, as lines top to bottom."""
    x0, y0, x1, y1 = box_units
    inside = [w for w in words
              if x0 <= (w.bbox[0] + w.bbox[2]) / 2 <= x1 and y0 <= (w.bbox[1] + w.bbox[3]) / 2 <= y1]
    if not inside:
        return ""
    from .pdf import lines_text
    return "".join(lines_text(inside).split("\n"))


def _ink_extent(crop: np.ndarray, px_per_unit: float) -> tuple[float, float] | None:
    """(width, height) of a text-line crop's ink in page units (as cell boxes): cell_lines
    leaves paper at exactly 255, so anything darker is ink (margins and side padding are not)."""
    ink = crop < 255
    cols, rows = np.where(ink.any(0))[0], np.where(ink.any(1))[0]
    if not len(cols) or not len(rows):
        return None
    return (round(float(cols[-1] + 1 - cols[0]) / px_per_unit, 2),
            round(float(rows[-1] + 1 - rows[0]) / px_per_unit, 2))


def _readings_from_text(text: str):
    ok, v = parse_value(text)
    return [(v, 1.0)] if ok else None


def build_table(page: Page, grey: np.ndarray, rules: np.ndarray, bbox_px, raw: list[RawCell],
                engine, use_text_layer: bool) -> Table:
    s = page_scale(page)
    cells: list[Cell] = []
    jobs = []        # (cell, n_lines)
    crops = []
    inked = {}
    for rc in sorted(raw, key=lambda c: (c.row, c.col)):
        box = (rc.x0 / s, rc.y0 / s, rc.x1 / s, rc.y1 / s)
        cell = Cell(row=rc.row, col=rc.col, rowspan=rc.rowspan, colspan=rc.colspan,
                    bbox=tuple(round(v, 2) for v in box), page=page.number)
        cells.append(cell)
        if use_text_layer:
            cell.text = _place_chars(page.words, box)
            if cell.text:
                inked[id(cell)] = True
                continue
        ok, lines = cell_lines(grey, rules, rc, s if page.unit == "pt" else 200 / 72.0)
        inked[id(cell)] = ok
        if ok:
            jobs.append((cell, len(lines)))
            crops += lines
    lap(page, "cells")
    results = _recognise(engine, crops, jobs, page)
    lap(page, "recognise")
    i = 0
    for cell, n in jobs:
        rs = results[i:i + n]
        i += n
        cell.text = "".join(r.text for r in rs)
        cell._blob = n == 1 and _is_blob(crops[i - 1])
        cell._dash = n == 1 and _is_dash(crops[i - 1])
        cell.char_probs = [cp for r in rs for cp in r.char_probs]
        cell._slots = [sl for r in rs for sl in r.slots]
        cell._lines = crops[i - n:i]           # for the digit model's second opinion
        if n == 1:
            cell.ink = _ink_extent(crops[i - 1], s)
        cell._score = float(np.mean([r.score for r in rs])) if rs else 0.0
    table = Table(cells=cells, page=page.number, pages=[page.number],
                  bbox=tuple(round(v / s, 2) for v in bbox_px), aligned=True)
    _assign_readings(table, inked)
    lap(page, "readings")
    return table


def _numeric_like(c: Cell) -> bool:
    t = normalise_text(c.text)
    if not t:
        return False
    if is_numeric_text(t) or t in grid_config()["blank_marks"]:
        return True
    digits = sum(ch.isdigit() for ch in t)
    return len(t) <= 10 and digits >= max(1, 0.5 * len(t))


def mark_headers(table: Table) -> set[int]:
    """Mark the header rows (Cell.is_header); returns the numeric columns.

    A column is numeric when, from its first number down, most inked cells are numbers
    (headers above do not count: a one-row appeals table has 3 header rows); a header row
    has text in a numeric column and no number anywhere."""
    num = {id(c): _numeric_like(c) for c in table.cells}
    cols: dict[int, list[tuple[int, bool]]] = {}
    for c in table.cells:
        if c.text:
            cols.setdefault(c.col, []).append((c.row, num[id(c)]))
    numeric_cols = set()
    for k, v in cols.items():
        v.sort()
        first = next((i for i, (_, n) in enumerate(v) if n), None)
        if first is not None:
            below = [n for _, n in v[first:]]
            if sum(below) >= 0.5 * len(below):
                numeric_cols.add(k)
    header_rows, number_rows = set(), set()
    for r, row in enumerate(table.rows()):
        in_num = [c for c in row if c.col in numeric_cols or
                  any(k in numeric_cols for k in range(c.col, c.col + c.colspan))]
        if any(num[id(c)] for c in row):
            number_rows.add(r)
            continue
        if any(c.text and not num[id(c)] for c in in_num):
            header_rows.add(r)
    # header rows are contiguous from the top of a (sub)table: extend spanning header cells,
    # never over a row that prints numbers (a fax streak read as a cell down the whole table)
    for c in table.cells:
        if c.row in header_rows:
            header_rows.update(k for k in range(c.row, c.row + c.rowspan) if k not in number_rows)
    for c in table.cells:
        c.is_header = c.row in header_rows
    return numeric_cols


def _recognise(engine, crops: list[np.ndarray], jobs: list[tuple[Cell, int]], page: Page) -> list:
    """Every crop's RecResult. A one-line cell the small digit model reads as a number
    with confidence (digits.sure_numbers) is not sent to PP-OCR: ~40× the cost per crop
    (docs/speed.md, where the routing's accuracy is measured)."""
    results: list = [None] * len(crops)
    if crops and config().get("digits", {}).get("route", {}).get("enabled"):
        from .digits import sure_numbers
        single, k = [], 0
        for _, n in jobs:
            if n == 1:
                single.append(k)
            k += n
        for k, r in zip(single, sure_numbers([crops[k] for k in single])):
            results[k] = r
    rest = [k for k, r in enumerate(results) if r is None]
    rows = [getattr(cell, "row", None) if n == 1 else None for cell, n in jobs for _ in range(n)]   # row strips
    for k, r in zip(rest, recognise_rows(engine, [crops[k] for k in rest], [rows[k] for k in rest],
                                         page.cost) if rest else []):
        results[k] = r
    page.cost.crops += len(rest)
    page.cost.routed += len(crops) - len(rest)
    return results


def _assign_readings(table: Table, inked: dict) -> None:
    """Numeric cells get ranked readings; header rows are marked."""
    numeric_cols = mark_headers(table)
    num = {id(c): _numeric_like(c) for c in table.cells}
    for c in table.cells:
        slots = getattr(c, "_slots", None)
        in_numeric_col = c.col in numeric_cols and c.colspan == 1
        if c.is_header:
            c.readings = []
        elif not inked.get(id(c)):
            c.readings = [(None, 1.0)] if in_numeric_col or not c.text else []
        elif slots is None:                     # text layer
            r = _readings_from_text(c.text)
            c.readings = r if r is not None and (num[id(c)] or in_numeric_col) else []
        elif num[id(c)] or in_numeric_col:
            if normalise_text(c.text) in grid_config()["blank_marks"]:
                c.readings = [(None, 1.0)]
            elif getattr(c, "_dash", False):
                c.readings = [tuple(x) for x in grid_config()["dash_prior"]]
            else:
                c.readings = candidates(slots)
                if config().get("digits", {}).get("enabled"):
                    from .digits import second_opinion
                    c.readings = second_opinion(c.readings, getattr(c, "_lines", []))
        else:
            c.readings = []
        if not c.readings and getattr(c, "_blob", False) and not c.is_header and in_numeric_col:
            # a digit filled solid by a heavy scan: no recogniser reads it, but a lone
            # solid blob of digit shape in a count column is most often a 0
            c.readings = [tuple(x) for x in grid_config()["blob_prior"]]
        for attr in ("_slots", "_score", "_blob", "_dash", "_lines"):
            if hasattr(c, attr):
                delattr(c, attr)


# -- pages and documents ----------------------------------------------------------------------

def recover_page(page: Page, engine) -> None:
    """Tables of one page (page.image replaced by its upright, deskewed version)."""
    import cv2
    grey = page.image
    if grey is None:
        return
    if grey.ndim == 3:
        grey = cv2.cvtColor(grey, cv2.COLOR_RGB2GRAY)
    s = page_scale(page)
    px_per_pt = s if page.unit == "pt" else 200 / 72.0       # images: assume ~200 dpi scans
    use_text = page.text_layer == "trusted"
    binv = binarise(grey)
    if not use_text and np.count_nonzero(binv) < grid_config()["blank_ink_share"] * binv.size:
        page.cost.kind = "blank"      # nothing printed: no rules, no title to read
        lap(page, "lines")
        return
    if not use_text:
        angle = estimate_skew(binv)
        if abs(angle) >= 0.1:
            grey = rotate_small(grey, angle)
            binv = binarise(grey)
            page.skew = round(angle, 3)
    hor, ver = line_masks(binv, px_per_pt)
    tables = find_tables(hor, ver)
    lap(page, "lines")
    if tables and not use_text:
        rules = cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8))
        rot = _orientation(grey, [c for _, cs in tables for c in cs], rules, engine, px_per_pt)
        lap(page, "orientation")
        if rot:
            grey = np.ascontiguousarray(np.rot90(grey, k=rot // 90))
            page.rotation = (page.rotation + rot) % 360
            if rot in (90, 270):
                page.width, page.height = page.height, page.width
            binv = binarise(grey)
            hor, ver = line_masks(binv, px_per_pt)
            tables = find_tables(hor, ver)
    page.image = grey
    rules = cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8))
    page.rulings = _segments(hor, ver, s)
    page.cost.kind = "table" if tables else "text"
    lap(page, "lines")
    page.tables = [build_table(page, grey, rules, bbox, raw, engine, use_text) for bbox, raw in tables]
    _titles_and_text(page, grey, engine, use_text)
    lap(page, "text")


def _titles_and_text(page: Page, grey: np.ndarray, engine, use_text: bool) -> None:
    """Each table's title (the text line just above it) and, on scans, page words.

    Scanned pages: the band above each table is read (detection + recognition on that
    band only), and on the first page the top of the page too (`title_top_frac`), where
    the report's title names the agency and the year. Trusted pages: the text layer
    already has it all.
    """
    s = page_scale(page)
    band_h = int(grid_config()["title_band_pt"] * (s if page.unit == "pt" else 200 / 72.0))
    regions = []
    for t in page.tables:
        if t.page != page.number or not t.bbox:
            continue
        y1 = int(t.bbox[1] * s)
        regions.append((t, max(0, y1 - band_h), max(0, y1 - 2)))
    if page.number == 1 and not use_text:
        # the report's title (agency, year) is at the top: detection and recognition cost
        # grows with the band, and the paragraphs below it are never used
        first = min((int(t.bbox[1] * s) for t in page.tables), default=grey.shape[0] // 3)
        regions.append((None, 0, min(first - 2, int(grid_config()["title_top_frac"] * grey.shape[0]))))
    for t, ya, yb in regions:
        if yb - ya < 10:
            continue
        if use_text:
            lo, hi = ya / s, yb / s
            words = [w for w in page.words if lo <= (w.bbox[1] + w.bbox[3]) / 2 <= hi]
            lines = line_words(words)
        else:
            try:
                found = engine.read_lines(grey[ya:yb])
            except Exception:            # page text is a help for classify, never fatal
                found = []
            lines = [Word(w.text, (w.bbox[0] / s, (w.bbox[1] + ya) / s, w.bbox[2] / s, (w.bbox[3] + ya) / s),
                          w.confidence) for w in found]
            page.words.extend(lines)
        if t is not None and lines:
            t.title = max(lines, key=lambda w: w.bbox[3]).text


def line_words(words: list[Word]) -> list[Word]:
    """Text-layer characters joined into line Words (vertical overlap, left to right)."""
    lines: list[list[Word]] = []
    for c in sorted(words, key=lambda c: (c.bbox[1] + c.bbox[3]) / 2):
        cy = (c.bbox[1] + c.bbox[3]) / 2
        if lines and min(w.bbox[1] for w in lines[-1]) <= cy <= max(w.bbox[3] for w in lines[-1]):
            lines[-1].append(c)
        else:
            lines.append([c])
    out = []
    for ln in lines:
        ln.sort(key=lambda w: w.bbox[0])
        out.append(Word("".join(w.text for w in ln), (min(w.bbox[0] for w in ln), min(w.bbox[1] for w in ln),
                                                      max(w.bbox[2] for w in ln), max(w.bbox[3] for w in ln))))
    return out


def _segments(hor, ver, s) -> list:
    import cv2
    out = []
    for m in (hor, ver):
        n, _, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        for i in range(1, n):
            x, y, w, h, _ = st[i]
            out.append((round(x / s, 2), round(y / s, 2), round((x + w) / s, 2), round((y + h) / s, 2)))
    return out


def join_continued(doc: Document) -> None:
    """A table that ends one page and starts the next with the same columns is one table."""
    tol = grid_config()["continue_col_tol"]
    pages = [p for p in doc.pages]
    for a_page, b_page in zip(pages, pages[1:]):
        if not a_page.tables or not b_page.tables:
            continue
        a = next((t for t in reversed(doc.tables) if a_page.number in t.pages), None)
        if a is None:
            continue
        b = b_page.tables[0]
        width = max(a_page.width, 1)
        xa, xb = _col_edges(a), _col_edges(b)
        if len(xa) != a.n_cols + 1 or len(xb) != b.n_cols + 1:
            continue
        # same columns, or one table splits a label column the other prints merged; the
        # tolerance stays under half the narrowest column (a vertical-header column is
        # narrower than 3 % of the page and must not fold into its neighbour)
        narrow = min(min(np.diff(xa)), min(np.diff(xb)))
        tol_u = min(tol * width, 0.45 * narrow)
        union = _clusters(xa + xb, tol_u)
        if len(union) != max(len(xa), len(xb)) or abs(len(xa) - len(xb)) > 2 \
                or abs(xa[0] - xb[0]) > tol_u or abs(xa[-1] - xb[-1]) > tol_u:
            continue
        for t, xs in ((a, xa), (b, xb)):
            if len(xs) != len(union):
                idx = [_nearest(union, x) for x in xs]
                for c in t.cells:
                    end = idx[c.col + c.colspan]
                    c.col = idx[c.col]
                    c.colspan = end - c.col
        # B must open its page and A must close its own (nothing but a footer between)
        a_bottom = max(c.bbox[3] for c in a.cells if c.page == a_page.number and c.bbox)
        if b.bbox[1] > 0.25 * b_page.height or a_bottom < 0.6 * a_page.height:
            continue
        # a header printed again on the new page is dropped; other header rows (a new
        # section of the same table) stay
        def head(t: Table) -> list[str]:
            out = []
            for r in t.rows():
                if not r or not all(c.is_header for c in r):
                    break
                out.append(normalise_text("".join(c.text for c in r)))
            return out
        ha, hb = head(a), head(b)

        def shape(t: Table, n: int) -> set:
            return {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells if c.row < n}
        drop = 0
        # the header block printed again (OCR noise allowed; a heavy scan garbles the
        # small header text, so the same cell layout lowers the bar on the text)
        bar = 0.6 if hb and shape(a, len(hb)) == shape(b, len(hb)) else 0.85
        if hb and len(hb) <= len(ha) and difflib.SequenceMatcher(
                None, "".join(hb), "".join(ha[:len(hb)])).ratio() >= bar:
            drop = len(hb)
        off = a.n_rows - drop
        header_only = not any(_numeric_like(c) for c in a.cells)
        for c in b.cells:
            if c.row < drop:
                continue
            c.row += off
            a.cells.append(c)
        a.pages.append(b_page.number)
        b_page.tables.remove(b)
        if header_only:     # a header at the foot of a page: its rows are headers of the body below
            mark_headers(a)
            for c in a.cells:
                if c.is_header:
                    c.readings = []


def _col_edges(t: Table) -> list[float]:
    """Left edge of every column and the table's right edge (page units)."""
    edges: dict[int, list[float]] = {}
    for c in t.cells:
        if c.bbox:
            edges.setdefault(c.col, []).append(c.bbox[0])
            edges.setdefault(c.col + c.colspan, []).append(c.bbox[2])
    return [float(np.median(v)) for _, v in sorted(edges.items())]


def recover(doc: Document, settings=None, keep_images: bool = False) -> None:
    """Find and read the tables of every page that has an image, one page at a time.

    A lazily read page is rendered here, and the pixels of a page without a table are
    freed as soon as its grid is done (only table pages are drawn later: report pictures,
    `gouji inspect`), so a long scan never sits in memory whole. `keep_images` keeps them.
    """
    name = getattr(settings, "ocr_engine", None) or "rapidocr"
    engine = None
    t_ocr = 0.0
    for page in doc.pages:
        page.cost.start()
        try:
            img = page.image
        except Exception as e:        # a page pdfium cannot render: as when reading it
            doc.fail(f"could not render the PDF: page {page.number}: {type(e).__name__}: {e}")
            return
        lap(page, "rasterise")
        if img is None:
            continue
        if engine is None:
            engine = get_engine(name)
            doc.models["ocr"] = getattr(engine, "version", name)
        rec = engine.recognise

        def timed(crops, _rec=rec):
            nonlocal t_ocr
            t = time.perf_counter()
            try:
                return _rec(crops)
            finally:
                t_ocr += time.perf_counter() - t

        engine.recognise = timed
        try:
            recover_page(page, engine)
        finally:
            engine.recognise = rec
        if not page.tables and not keep_images:
            page.image = None
    join_continued(doc)
    doc.timings["ocr"] = doc.timings.get("ocr", 0.0) + t_ocr
    if not doc.text:      # scans: the OCR'd title and table titles, for template/agency/year
        doc.text = "\n".join(w.text for p in doc.pages for w in p.words if p.text_layer != "trusted")
    # digital only if every page that carries a table has a trusted text layer
    tpages = [p for p in doc.pages if p.tables]
    if doc.source.kind in ("digital_pdf", "scanned_pdf") and tpages:
        doc.source.kind = "digital_pdf" if all(p.text_layer == "trusted" for p in tpages) else "scanned_pdf"
