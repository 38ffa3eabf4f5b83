"""Ruling lines and the cells between them: binarisation, the rule masks, and the
enclosed regions between rules indexed into rows and columns.

Why a module of its own: both grid strategies (grid.py's "lines", grid_text.py's "text"
repair) cut and index cells the same way; one place for it.
"""
from __future__ import annotations

import numpy as np

from .pdf import config


def grid_config() -> dict:
    """The `grid` section of configs/pdf.yaml (shared with layout's title band)."""
    return config()["grid"]


# -- binarisation, lines ------------------------------------------------------------------

def binarise(grey: np.ndarray) -> np.ndarray:
    """Ink = 255. Adaptive, so uneven scan backgrounds do not turn into ink."""
    import cv2
    return cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 41, 15)


def components(mask: np.ndarray, connectivity: int = 8) -> tuple[int, np.ndarray, np.ndarray]:
    """cv2.connectedComponentsWithStats' (n, labels, stats) with 16-bit labels: the same
    labels and stats, ~3.5× less CPU on a page mask (writing the 32-bit label image is most of
    the cost; docs/speed.md session 30e). OpenCV (≥ 5.0, pinned) raises when a mask has more
    labels than 16 bits hold, and then the 32-bit labels are used."""
    import cv2
    try:
        n, lab, st, _ = cv2.connectedComponentsWithStats(mask, connectivity=connectivity, ltype=cv2.CV_16U)
    except cv2.error:
        n, lab, st, _ = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
    return n, lab, st


def component_boxes(mask: np.ndarray) -> np.ndarray:
    """(x, y, w, h) of each 8-connected component of `mask`, in the order components() labels
    them, from the mask with its empty rows and columns taken out by pairs: one empty pair is
    left between pairs that hold ink (nothing joins that was apart) and pairs stay whole (the
    labelling walks 2×2 blocks: it meets the same ink in the same order). A page's rule masks
    are mostly empty: ~20× fewer pixels to label (session 32c)."""
    rows, cols = (_kept_pairs(np.flatnonzero(mask.any(axis=a)), mask.shape[1 - a]) for a in (1, 0))
    if not len(rows) or not len(cols):
        return np.zeros((0, 4), np.int64)
    n, _lab, st = components(np.ascontiguousarray(mask[np.ix_(rows, cols)]))
    x0, y0 = cols[st[1:, 0]], rows[st[1:, 1]]
    x1, y1 = cols[st[1:, 0] + st[1:, 2] - 1], rows[st[1:, 1] + st[1:, 3] - 1]
    return np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1)


def _kept_pairs(inked: np.ndarray, size: int) -> np.ndarray:
    """Indices (rows or columns, of `size`) of the pairs (2k, 2k+1) holding ink (`inked`), with
    the first empty pair after each run of them when more ink follows."""
    if not len(inked):
        return inked
    pairs = np.unique(inked // 2)
    gap = np.flatnonzero(np.diff(pairs) > 1)
    pairs = np.union1d(pairs, pairs[gap] + 1)
    idx = np.stack([2 * pairs, 2 * pairs + 1], axis=1).ravel()
    return idx[idx < size]


def line_masks(binv: np.ndarray, scale_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical ruling masks (kernels longer than any glyph)."""
    import cv2
    h, w = binv.shape
    kx = max(int(w * grid_config()["line_kernel_frac"]), int(3.2 * scale_px * 10))  # > 3 glyph widths
    bridge = grid_config()["bridge_px"]
    hor = _runs(binv, kx, bridge, axis=1)
    # row spacing sets the vertical kernel: shorter than a row, longer than a glyph
    ys = np.where(cv2.reduce(hor, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() > 255 * kx)[0]   # = hor.sum(1)
    gaps = np.diff(ys)
    gaps = gaps[gaps > 4]
    row_h = float(np.percentile(gaps, 10)) if len(gaps) else 20 * scale_px
    ky = int(max(grid_config()["vline_min_px"], min(0.7 * row_h, 13 * scale_px)))
    opened, ver, on = _runs(binv, ky, bridge, axis=0, both=True)
    # a vertical rule touches a horizontal one; a glyph stroke of that length does not.
    # The bridge joins the strokes of a wrapped label's lines into one tall column of ink
    # (on an emboldened scan 2-4 stacked strokes pass the length test, and painting them
    # out as a rule garbles the label): what counts is the longest piece of unbroken ink
    stack = grid_config().get("stroke_stack", 0.5)
    near = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
    kept = []
    for x, y, ww, hh, own in _column_parts(ver, on):
        piece = _longest_piece(opened[y:y + hh, x:x + ww], own)
        keep = False
        if piece >= 2.5 * ky:
            keep = True
        elif piece >= stack * hh or hh >= 2.5 * ky:
            # mostly unbroken ink, or a broken column of ink touching rules at both ends;
            # the rules grown by 3 px (7×7) near it, dilated over its box and 3 px round it
            ya, xa = max(0, y - 3), max(0, x - 3)
            hd = cv2.dilate(hor[ya:y + hh + 3, xa:x + ww + 3], near)[y - ya:y - ya + hh, x - xa:x - xa + ww]
            touch = hd & own
            rows = np.where(touch.any(1))[0]
            if piece >= stack * hh:
                keep = bool(len(rows))
            else:
                keep = bool(len(rows)) and rows[0] <= 0.25 * hh and rows[-1] >= 0.75 * hh
        if keep:
            kept.append((x, y, ww, hh, own))
    # only the kept components are painted (a few rules among ~100 strokes), not the page
    # through a label image (docs/speed.md, session 32c)
    ver = np.zeros_like(opened)
    for x, y, ww, hh, own in kept:
        ver[y:y + hh, x:x + ww][own] = 255
    return hor, ver


def _column_parts(mask: np.ndarray, cols: np.ndarray):
    """(x, y, w, h, own: its pixels in its box) of each 8-connected component of `mask`, whose
    ink lies in the columns `cols` (sorted) alone: labelled on those columns, with one empty
    column kept between runs of them (nothing joins that was apart), not on the whole page."""
    if not len(cols):
        return
    keep = np.union1d(cols, cols[np.flatnonzero(np.diff(cols) > 1)] + 1)
    n, lab, st = components(np.ascontiguousarray(mask[:, keep]))
    for i in range(1, n):
        sx, y, sw, hh, _a = st[i]       # a component never crosses an empty column: its columns
        yield int(keep[sx]), y, sw, hh, lab[y:y + hh, sx:sx + sw] == i      # are consecutive


def _runs(binv: np.ndarray, length: int, bridge: int, axis: int, both: bool = False):
    """cv2.morphologyEx OPEN of `binv` with a line `length` long (axis 1: along the rows, 0: down
    the columns), then CLOSE with one `bridge` long: the same masks, but only the rows (columns)
    where the opening's erosion left ink are dilated and closed — a line kernel treats each row
    (column) apart, and on a page only the rules' few rows (columns) keep any (session 32c).
    `both`: (opened, closed, the rows or columns that hold ink), else closed."""
    import cv2
    shape = (length, 1) if axis == 1 else (1, length)
    k_open = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
    k_close = cv2.getStructuringElement(cv2.MORPH_RECT, (bridge, 1) if axis == 1 else (1, bridge))
    eroded = cv2.erode(binv, k_open)
    on = np.flatnonzero(eroded.any(axis=axis))
    opened, closed = np.zeros_like(binv), np.zeros_like(binv)
    if len(on):
        pick = (on, slice(None)) if axis == 1 else (slice(None), on)
        part = cv2.dilate(np.ascontiguousarray(eroded[pick]), k_open)
        opened[pick] = part
        closed[pick] = cv2.morphologyEx(part, cv2.MORPH_CLOSE, k_close)
    return (opened, closed, on) if both else closed


def rule_mask(hor: np.ndarray, ver: np.ndarray) -> np.ndarray:
    """The rules grown by a pixel all round (3×3 dilation of both masks): what find_tables joins
    into tables and what a table's cells paint out; computed once per set of masks."""
    import cv2
    return cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8))


def rule_tables(binv: np.ndarray, scale_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """(hor, ver, rule_mask, find_tables) of a binarised page."""
    hor, ver = line_masks(binv, scale_px)
    rules = rule_mask(hor, ver)
    return hor, ver, rules, find_tables(hor, ver, rules)


def _longest_piece(opened: np.ndarray, own: np.ndarray) -> int:
    """The height of the tallest piece of unbroken ink in `opened` (before the bridge closed
    its gaps) inside one bridged component (`own`: its pixels in its box). Each piece lies
    whole in one component (an odd bridge's closing keeps every pixel it was given), so the
    component's box alone is labelled, not the page (~10 ms a page less; session 32c)."""
    k, _lab, pst = components(opened * own)
    return int(pst[1:, 3].max()) if k > 1 else 0


def clusters(values: list[float], tol: float) -> list[float]:
    vals = sorted(values)
    out: list[list[float]] = []
    for v in vals:
        if out and v - out[-1][-1] <= tol:
            out[-1].append(v)
        else:
            out.append([v])
    return [float(np.mean(c)) for c in out]


def nearest(bounds: list[float], v: float) -> int:
    """Index of the bound closest to v, the first of equally close ones (np.argmin's answer,
    without building an array: ~700 calls per table page)."""
    best, at = None, 0
    for i, b in enumerate(bounds):
        d = abs(b - v)
        if best is None or d < best:
            best, at = d, i
    if best is None:
        raise ValueError("nearest: no bounds")
    return at


def nearest_all(bounds: list[float], values: list[float]) -> list[int]:
    """nearest(bounds, v) for each of `values` at once (the same float differences, the first
    of equally close bounds)."""
    if not values:
        return []
    d = np.abs(np.asarray(bounds, np.float64)[None, :] - np.asarray(values, np.float64)[:, None])
    return d.argmin(axis=1).tolist()


class RawCell:
    __slots__ = ("x0", "y0", "x1", "y1", "row", "col", "rowspan", "colspan")

    def __init__(self, x0, y0, x1, y1):
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1


def find_tables(hor: np.ndarray, ver: np.ndarray, rules: np.ndarray | None = None
                ) -> list[tuple[tuple[int, int, int, int], list[RawCell]]]:
    """Table regions (px bbox) with their cells (enclosed regions between rules); `rules` is
    rule_mask(hor, ver) where the caller has it."""
    import cv2
    H, W = hor.shape
    grid_d = rule_mask(hor, ver) if rules is None else rules
    n, lab, st = components(grid_d)
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
        k, clab, cst = components(free, connectivity=4)
        cells = []
        pieces = grid_config().get("rect_pieces") or {}
        for j in range(1, k):
            cx, cy, cw, ch, area = cst[j]
            if pieces.get("enabled") and cw >= 6 and ch >= 6 and area < pieces["fill"] * cw * ch:
                cut = rect_pieces(clab[cy:cy + ch, cx:cx + cw] == j, pieces)
                if cut:
                    cells += [RawCell(x + cx + a, y + cy + b, x + cx + c, y + cy + d) for a, b, c, d in cut]
                    continue
            if cw < 6 or ch < 6 or area < 60 or area < 0.5 * cw * ch:
                continue
            cells.append(RawCell(x + cx, y + cy, x + cx + cw, y + cy + ch))
        if len(cells) < grid_config()["min_cells"]:
            continue
        good = index_cells(cells, hor[y:y + h, x:x + w], ver[y:y + h, x:x + w],
                           lone=bool(grid_config().get("lone_edges")))
        if len(good) >= grid_config()["min_cells"]:
            out.append(((int(x), int(y), int(x + w), int(y + h)), good))
    out.sort(key=lambda t: (t[0][1], t[0][0]))
    return out


def rect_pieces(region: np.ndarray, cfg: dict) -> list[tuple[int, int, int, int]]:
    """A free region between rules that is no rectangle, cut into the rectangles it is made
    of: bands of rows whose extent (first and last free pixel) stays within `tol_px`, each
    kept when it is mostly free (`band_fill`) and at least 6 px high. Why: where a rule
    vanished over part of its length (a thinned scan), two cells of different shapes join
    into one L- or T-shaped region (a label spanning two columns above a group label's
    column); its bounding box overlaps its neighbours, and a region under half its box was
    dropped whole, so its labels' rows were not found. Boxes (x0, y0, x1, y1) in the
    region's own pixels; [] (the region is left as it was) unless the bands cover
    `cover` of it and each changes extent from the one above by at least `jump_px` (a
    cell's corner; a seal ring's arc bends the region's edge by a few pixels a band)."""
    tol = cfg["tol_px"]
    on = region.any(1)
    first = np.where(on, region.argmax(1), -1)
    last = np.where(on, region.shape[1] - 1 - region[:, ::-1].argmax(1), -1)
    out, start = [], None
    for yy in range(region.shape[0] + 1):
        if yy < region.shape[0] and on[yy] and start is not None and \
                abs(first[yy] - first[start]) <= tol and abs(last[yy] - last[start]) <= tol:
            continue
        if start is not None and yy - start >= 6:
            a, c = int(np.median(first[start:yy])), int(np.median(last[start:yy])) + 1
            band = region[start:yy, a:c]
            if c - a >= 6 and band.mean() >= cfg["band_fill"]:
                out.append((a, start, c, yy))
        start = yy if yy < region.shape[0] and on[yy] else None
    if len(out) < 2 or sum(region[b:d, a:c].sum() for a, b, c, d in out) < cfg.get("cover", 0.95) * region.sum():
        return []
    jump = cfg.get("jump_px", 0)
    for (a, b, c, d), (a2, b2, c2, d2) in zip(out, out[1:]):
        if max(abs(a2 - a), abs(c2 - c)) < jump:
            return []
    return out


def index_cells(cells: list[RawCell], hor: np.ndarray, ver: np.ndarray, lone: bool = False) -> list[RawCell]:
    """Row, column and spans of every cell (px boxes) from the clustered cell edges; `hor`
    and `ver` are the table region's rule masks (their thickness sets the tolerance)."""
    # the two edges of one rule lie a rule's thickness apart (thick on blurred scans)
    tol = max(8.0, 1.5 * thickness(ver, axis=1) + 4)
    xs = clusters([c.x0 for c in cells] + [c.x1 for c in cells], tol)
    tol = max(8.0, 1.5 * thickness(hor, axis=0) + 4)
    ys = clusters([c.y0 for c in cells] + [c.y1 for c in cells], tol)
    cells = drop_stray_splits(cells, xs, ys, tol)
    if lone and len(ys) >= 8:
        drop_lone_edges(cells, xs, tol)
    good = []
    cols = nearest_all(xs, [v for c in cells for v in (c.x0, c.x1)])
    rows = nearest_all(ys, [v for c in cells for v in (c.y0, c.y1)])
    for i, c in enumerate(cells):
        c.col, c.row = cols[2 * i], rows[2 * i]
        c.colspan = cols[2 * i + 1] - c.col
        c.rowspan = rows[2 * i + 1] - c.row
        if c.colspan >= 1 and c.rowspan >= 1:
            good.append(c)
    # boundaries are shared by two edges (a cell's right and the next one's left)
    return renumber(good)


def drop_stray_splits(cells: list[RawCell], xs: list[float], ys: list[float], tol: float) -> list[RawCell]:
    """A vertical boundary that only one row of a long table uses, inside what is one
    cell everywhere else, is a mark (a tick, a seal stroke), not a rule: merge the two
    cells it splits and forget the boundary."""
    if len(ys) < 8:
        return cells
    row_at: dict = {}           # ys stay as they are here: each top edge's row looked up once

    def row(c: RawCell) -> int:
        if c.y0 not in row_at:
            row_at[c.y0] = nearest(ys, c.y0)
        return row_at[c.y0]
    for xb in list(xs):
        users = [c for c in cells if abs(c.x0 - xb) <= tol or abs(c.x1 - xb) <= tol]
        rows = {row(c) for c in users}
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
        rows = sorted({row(c) for c in users})
        if len(rows) > 2 or len(users) != 2 * len(rows):
            continue
        pairs = []
        for r in rows:
            left = [c for c in users if row(c) == r and abs(c.x1 - xb) <= tol]
            right = [c for c in users if row(c) == r and abs(c.x0 - xb) <= tol]
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


def drop_lone_edges(cells: list[RawCell], xs: list[float], tol: float) -> int:
    """A vertical boundary inside the table that one cell's edge alone uses is no rule: a
    rule has a cell on both of its sides, and such an edge borders ink that is no cell (a
    bold glyph or a seal's blob touching two rules, a black corner's speckle), not a column.
    Cells lower than half the median cell count for nothing here: the holes of a bold
    header glyph closed by the rules are such "cells". Kept, such a boundary adds a column
    that every other row spans (their value cells then read as merged cells, the row "not
    found"); forgotten, each edge goes to the nearest boundary the other rows use. Returns
    how many were dropped (`xs` is changed in place)."""
    if not cells:
        return 0
    low = 0.5 * float(np.median([c.y1 - c.y0 for c in cells]))
    n = 0
    for xb in list(xs[1:-1]):
        users = [c for c in cells if (abs(c.x0 - xb) <= tol or abs(c.x1 - xb) <= tol) and c.y1 - c.y0 >= low]
        if len(users) <= 1 and len(xs) > 2:
            xs.remove(xb)
            n += 1
    return n


def thickness(mask: np.ndarray, axis: int) -> float:
    """Median thickness of rules in a mask: ink pixels per line of rule, across `axis`."""
    on = mask > 0
    runs = on.sum(axis=axis)                # per column (axis=0) or per row (axis=1)
    lines = (np.diff(on.astype(np.int8), axis=axis) == 1).sum(axis=axis)
    ok = lines > 0
    if not ok.any():
        return 2.0
    return float(np.median(runs[ok] / lines[ok]))


def renumber(cells: list[RawCell]) -> list[RawCell]:
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


