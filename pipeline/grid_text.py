"""The "text" grid strategy: rows and columns where the printed numbers put them.

Why: the "lines" strategy (grid_cells) cuts a table between its ruling lines, and a scan
can break, erase or double them (thinned strokes, a copier's threshold, emboldening). A
vanished rule merges two printed rows (each value cell then holds two numbers stacked,
read as one: "0" over "0" → 00, and a row is "not found") or two columns; a doubled rule
adds an empty sliver row. The text cannot vanish without the numbers vanishing too, so
it decides (as pdfplumber's "text" strategy beside its "lines" one):

* cells whose ink is two numbers stacked with a row's gap between them (at least
  `min_support` of them, their gaps overlapping) are two rows, cut at a rule the rest of
  the table prints in that gap or else mid-gap; the other cells of the merged band are
  cut there too when no ink crosses the cut;
* the same across, for two numbers side by side (a vanished column rule);
* an empty row or column thinner than the text lies between two strokes of one doubled
  rule: its cells go, and the two strokes index as one boundary.

refine() keeps the "lines" grid when the text agrees with it (nearly every page) and
says "text" when it changed it. Settings: configs/grid.yaml `grid_text:`.
"""
from __future__ import annotations

import numpy as np

from .grid_cells import RawCell, components, index_cells
from .templates import config

LINES, FAINT, TEXT = "lines", "faint", "text"


def settings() -> dict:
    return config("grid.yaml")["grid_text"]


def ink_boxes(binv: np.ndarray, rules: np.ndarray, scale_px: float, cfg: dict) -> np.ndarray:
    """Word boxes (x0, y0, x1, y1; px) of the ink that is not a rule: glyphs closer than
    `join_pt` along a line joined, specks and flat bars (lower than `min_height` × the
    median height) left out."""
    import cv2
    ink = np.where(rules > 0, 0, binv).astype(np.uint8)
    k = max(2, int(round(cfg["join_pt"] * scale_px)))
    joined = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    n, _, st = components(joined)
    if n < 2:
        return np.zeros((0, 4), int)
    st = st[1:]
    min_area = max(4, int(1.5 * scale_px * scale_px))
    st = st[(st[:, 4] >= min_area) & (st[:, 3] >= 3)]
    if not len(st):
        return np.zeros((0, 4), int)
    med = float(np.median(st[:, 3]))
    st = st[st[:, 3] >= cfg["min_height"] * med]
    half = k // 2               # the dilation widened each box by about k/2 on each side
    return np.stack([st[:, 0] + half, st[:, 1], st[:, 0] + st[:, 2] - half, st[:, 1] + st[:, 3]], axis=1)


def _inside(boxes: np.ndarray, c: RawCell) -> np.ndarray:
    if not len(boxes):
        return boxes
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    return boxes[(cx >= c.x0) & (cx < c.x1) & (cy >= c.y0) & (cy < c.y1)]


def _bands(boxes: np.ndarray, axis: int) -> list[list[float]]:
    """Boxes grouped where they overlap along `axis` (1: lines top to bottom, 0: groups
    left to right): [lo, hi, extent across] per group."""
    lo, hi = (1, 3) if axis == 1 else (0, 2)
    a, b = (0, 2) if axis == 1 else (1, 3)
    out: list[list[float]] = []
    for bx in sorted(boxes.tolist(), key=lambda r: r[lo]):
        if out and bx[lo] < out[-1][1]:
            g = out[-1]
            g[1] = max(g[1], bx[hi])
            g[2], g[3] = min(g[2], bx[a]), max(g[3], bx[b])
        else:
            out.append([bx[lo], bx[hi], bx[a], bx[b]])
    return out


def _number_like(group: list[float], h: float, axis: int, cfg: dict) -> bool:
    """A line (axis 1) or a column group (axis 0) of ink shaped like a printed number."""
    extent = group[3] - group[2] if axis == 1 else group[1] - group[0]
    tall = group[1] - group[0] if axis == 1 else group[3] - group[2]
    return extent <= cfg["number_width"] * max(tall, 1) and cfg["min_number_height"] * h <= tall <= 1.6 * h


def _gaps(c: RawCell, boxes: np.ndarray, h: float, axis: int, cfg: dict) -> list[tuple[float, float]]:
    """Open intervals in one cell where numbers printed on both sides show a boundary."""
    groups = _bands(_inside(boxes, c), axis)
    most = cfg["max_numbers"] if axis == 0 else _rows_cfg(cfg).get("max_numbers", cfg["max_numbers"])
    if not 2 <= len(groups) <= most or not all(_number_like(g, h, axis, cfg) for g in groups):
        return []
    need = (cfg["row_gap"] if axis == 1 else cfg["col_gap"]) * h
    gaps = [(a[1], b[0]) for a, b in zip(groups, groups[1:])]
    if len(groups) > cfg["max_numbers"] and any(b - a < need for a, b in gaps):
        return []       # the numbers of merged rows stand a row apart each; a text's lines closer
    return [(a, b) for a, b in gaps if b - a >= need]


def _numeric_column(c: RawCell, cells: list[RawCell], boxes: np.ndarray, h: float, cfg: dict, tol: float) -> bool:
    """Most other cells of c's column (same left and right edges) hold one number: a value
    column, not a label column (a group label printed down its column stands there alone)."""
    same = [d for d in cells if d is not c and abs(d.x0 - c.x0) <= tol and abs(d.x1 - c.x1) <= tol]
    ones = 0
    for d in same:
        g = _bands(_inside(boxes, d), 1)
        ones += len(g) == 1 and _number_like(g[0], h, 1, cfg)
    return len(same) >= 2 and ones >= 0.5 * len(same)


def _crossed(c: RawCell, boxes: np.ndarray, at: float, axis: int) -> bool:
    lo, hi = (1, 3) if axis == 1 else (0, 2)
    inside = _inside(boxes, c)
    return bool(len(inside) and ((inside[:, lo] < at) & (inside[:, hi] > at)).any())


def _split(cells: list[RawCell], boxes: np.ndarray, h: float, axis: int, cfg: dict, tol: float) -> int:
    """Cut the cells where the numbers show a boundary the rules lost; returns the cuts made."""
    lo, hi = ("y0", "y1") if axis == 1 else ("x0", "x1")
    edges = sorted({getattr(c, lo) for c in cells} | {getattr(c, hi) for c in cells})
    wanted: list[tuple[float, list[RawCell]]] = []     # (cut, the cells that show it)
    loose: list[tuple[float, float, RawCell]] = []
    if axis == 0 and cfg.get("col_rule_users", 1) > 1:
        # a column rule other rows print is the edge of several cells; one cell's edge alone
        # borders a blob (a seal's fill, a black corner's speckle), not a column
        need = cfg["col_rule_users"]
        edges = [e for e, u in zip(edges, edge_users(edges, cells, tol)) if u >= need]
    for c in cells:
        for a, b in _gaps(c, boxes, h, axis, cfg):
            known = [e for e in edges if a <= e <= b and not (getattr(c, lo) - tol <= e <= getattr(c, lo) + tol
                                                              or getattr(c, hi) - tol <= e <= getattr(c, hi) + tol)]
            if known and axis == 0:     # a column rule the other rows print there
                wanted.append((min(known, key=lambda e: abs(e - (a + b) / 2)), [c]))
            elif known and _rows_cfg(cfg).get("edge_support") and _numeric_column(c, cells, boxes, h, cfg, tol):
                # a row rule the other columns print (in a column of numbers)
                wanted.append((min(known, key=lambda e: abs(e - (a + b) / 2)), [c]))
            elif axis == 1:         # a column rule no row prints: not cut (seal rings, spaced labels)
                loose.append((a, b, c))
    # a boundary no rule shows: the gap shared by at least min_support cells
    loose.sort(key=lambda t: t[0])
    used = set()
    for i, (a, b, c) in enumerate(loose):
        if i in used:
            continue
        group, lo_, hi_ = [c], a, b
        for j in range(i + 1, len(loose)):
            a2, b2, c2 = loose[j]
            if j not in used and max(lo_, a2) < min(hi_, b2):
                lo_, hi_ = max(lo_, a2), min(hi_, b2)
                group.append(c2)
                used.add(j)
        if len(group) >= cfg["min_support"]:
            near = [e for e in edges if lo_ <= e <= hi_]     # a rule the label columns print there
            mid = (lo_ + hi_) / 2
            if not near and _rows_cfg(cfg).get("free_cut"):
                mid = _free_cut(cells, boxes, lo_, hi_, group, tol)
            wanted.append((min(near, key=lambda e: abs(e - mid)) if near else mid, group))
    cuts = 0
    for at, shown in wanted:
        band_lo = min(getattr(c, lo) for c in shown) - tol
        band_hi = max(getattr(c, hi) for c in shown) + tol
        # the cells of the merged band that span the cut (not those that span more: a
        # group label printed over several rows) are cut, unless their ink crosses it
        hit = [c for c in cells if getattr(c, lo) + tol < at < getattr(c, hi) - tol
               and getattr(c, lo) >= band_lo and getattr(c, hi) <= band_hi]
        hit = [c for c in hit if c in shown or not _crossed(c, boxes, at, axis)]
        for c in hit:
            a, b = RawCell(c.x0, c.y0, c.x1, c.y1), RawCell(c.x0, c.y0, c.x1, c.y1)
            setattr(a, hi, int(round(at)))
            setattr(b, lo, int(round(at)))
            cells.remove(c)
            cells += [a, b]
        cuts += bool(hit)
    return cuts


def edge_users(edges: list, cells: list[RawCell], tol: float) -> list[int]:
    """For each x in `edges`, how many cells have their left or right edge within `tol` of it
    (all at once: the same differences as cell by cell, ~edges × cells of them a table)."""
    if not edges or not cells:
        return [0] * len(edges)
    e = np.asarray(edges, np.float64)[:, None]
    x0, x1 = (np.asarray([getattr(c, k) for c in cells], np.float64)[None, :] for k in ("x0", "x1"))
    return ((np.abs(x0 - e) <= tol) | (np.abs(x1 - e) <= tol)).sum(axis=1).tolist()


def _rows_cfg(cfg: dict) -> dict:
    """`grid_text.rows:` (row bands when a row rule vanished over the whole table or part of it)."""
    r = cfg.get("rows") or {}
    return r if r.get("enabled") else {}


def _free_cut(cells: list[RawCell], boxes: np.ndarray, lo: float, hi: float, shown: list[RawCell],
              tol: float) -> float:
    """Where in the numbers' shared gap [lo, hi] to cut a merged row band: the middle of the
    longest stretch that no other ink of the band crosses (a wrapped label beside a number
    printed mid-row can reach into the gap's middle), else the gap's middle."""
    band_lo = min(c.y0 for c in shown) - tol
    band_hi = max(c.y1 for c in shown) + tol
    occ = []
    for c in cells:
        if c.y0 < lo and c.y1 > hi and c.y0 >= band_lo and c.y1 <= band_hi:
            for b in _inside(boxes, c):
                if b[1] < hi and b[3] > lo:
                    occ.append((max(lo, b[1]), min(hi, b[3])))
    best, at = (0.0, (lo + hi) / 2), lo
    for a, b in sorted(occ) + [(hi, hi)]:
        if a - at > best[0]:
            best = (a - at, (at + a) / 2)
        at = max(at, b)
    return best[1]


def _split_labels(cells: list[RawCell], boxes: np.ndarray, h: float, cfg: dict, tol: float) -> int:
    """Cut a tall cell at a row boundary that the other cells print (at least `min_support`
    of them, beside it) where its own ink shows two printed rows: lines on both sides, a
    gap of at least `row_gap` × the text height around the boundary, none crossing it. Why:
    a row rule that vanished over the label column only (a thinned scan keeps it across
    the values) leaves two labels in one cell, and one of the two rows is then not found.
    A group label printed over several rows is one block of lines (wrapped lines stand
    0.3–0.6 apart): never cut."""
    rc = _rows_cfg(cfg)
    if not rc.get("split_labels"):
        return 0
    need = cfg["row_gap"] * h
    cuts = 0
    for c in list(cells):
        if c.y1 - c.y0 < 2 * need:
            continue
        inside = [e for d in cells if d is not c and (d.x1 <= c.x0 + tol or d.x0 >= c.x1 - tol)
                  for e in (d.y0, d.y1) if c.y0 + need <= e <= c.y1 - need]
        if not inside:
            continue
        lines = _bands(_inside(boxes, c), 1)
        if len(lines) < 2:
            continue
        at_ = []
        for e in sorted(set(inside)):
            support = sum(abs(x - e) <= tol for x in inside)
            if support < cfg["min_support"]:
                continue
            above = [g for g in lines if g[1] <= e]
            below = [g for g in lines if g[0] >= e]
            if not above or not below or len(above) + len(below) != len(lines):
                continue        # a line crosses it, or none on one side
            if below[0][0] - above[-1][1] < need:
                continue
            if not at_ or e - at_[-1] > tol:
                at_.append(e)
        for e in at_:
            piece = next((p for p in cells if p.x0 == c.x0 and p.x1 == c.x1 and p.y0 + tol < e < p.y1 - tol), None)
            if piece is None:
                continue
            a, b = RawCell(piece.x0, piece.y0, piece.x1, int(round(e))), RawCell(piece.x0, int(round(e)), piece.x1, piece.y1)
            cells.remove(piece)
            cells += [a, b]
            cuts += 1
    return cuts


def _drop_slivers(cells: list[RawCell], boxes: np.ndarray, h: float, cfg: dict, scale_px: float) -> int:
    """Empty cells thinner than `sliver` × the text height, between two strokes of one rule."""
    thin = min(cfg["sliver"] * h, cfg["sliver_pt"] * scale_px)
    drop = [c for c in cells if ((c.y1 - c.y0) < thin or (c.x1 - c.x0) < thin) and not len(_inside(boxes, c))]
    for c in drop:
        cells.remove(c)
    return len(drop)


def suspects(cells: list[RawCell], boxes: np.ndarray, h: float, cfg: dict) -> int:
    """Cells whose ink is numbers of two rows or two columns: the rules merged them."""
    return sum(bool(_gaps(c, boxes, h, 1, cfg) or _gaps(c, boxes, h, 0, cfg)) for c in cells)


def _cut_words(cells: list[RawCell], boxes: np.ndarray, h: float, slack: float = 3.0) -> int:
    """Words that a cell boundary cuts (a box reaching out of the cell its centre is in);
    only boxes of a text line's height count (a seal's ring crosses rules wherever it lies)."""
    tall = boxes[:, 3] - boxes[:, 1]
    boxes = boxes[(tall >= 0.4 * h) & (tall <= 1.3 * h)]
    n = 0
    for c in cells:
        b = _inside(boxes, c)
        if len(b):
            n += int(((b[:, 0] < c.x0 - slack) | (b[:, 1] < c.y0 - slack) |
                      (b[:, 2] > c.x1 + slack) | (b[:, 3] > c.y1 + slack)).sum())
    return n


def faint_masks(grey: np.ndarray, scale_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Rule masks of a sensitive threshold (`faint_c`): thinned or light rules that the
    page's own threshold broke. Its noise never forms rules (kernels longer than glyphs)."""
    import cv2
    from .grid_cells import line_masks
    c = float(settings()["faint_c"])
    return line_masks(cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 41, c),
                      scale_px)


def _repaired(cells, bbox, hor, ver, faint, boxes, h, cfg):
    """The table's cells from its rules and the faint ones, when they merge fewer cells."""
    from .grid_cells import find_tables
    x, y, x1, y1 = bbox
    m = int(2 * h)
    H, W = hor.shape
    xa, ya, xb, yb = max(0, x - m), max(0, y - m), min(W, x1 + m), min(H, y1 + m)
    fh, fv = faint
    hor2 = np.maximum(hor[ya:yb, xa:xb], fh[ya:yb, xa:xb])
    ver2 = np.maximum(ver[ya:yb, xa:xb], fv[ya:yb, xa:xb])
    found = find_tables(hor2, ver2)
    if not found:
        return None
    (bx, by, bx1, by1), raw = max(found, key=lambda t: (t[0][2] - t[0][0]) * (t[0][3] - t[0][1]))
    if (bx1 - bx) * (by1 - by) < 0.8 * (x1 - x) * (y1 - y):
        return None
    for c in raw:
        c.x0, c.x1, c.y0, c.y1 = c.x0 + xa, c.x1 + xa, c.y0 + ya, c.y1 + ya
    # verified by the text: more cells, none cutting through a word the old grid kept whole
    if len(raw) <= len(cells) or _cut_words(raw, boxes, h) > _cut_words(cells, boxes, h) + cfg["cut_slack"]:
        return None
    return raw, (bx + xa, by + ya, bx1 + xa, by1 + ya), hor2, ver2, (xa, ya)


def refine(cells: list[RawCell], binv: np.ndarray, rules: np.ndarray, hor: np.ndarray, ver: np.ndarray,
           bbox: tuple[int, int, int, int], scale_px: float, faint=None):
    """(cells, bbox, strategy) of one table as the text shows it. Strategies: "lines" (the
    rules' grid, unchanged), "faint" (rules the page's threshold broke, found again with a
    sensitive one, chosen because it merges fewer numbers into one cell), "text" (rows or
    columns then cut or merged by the text). `binv` is the page's ink (255), `rules` the
    dilated rule mask, `hor`/`ver` the masks, `bbox` the table's px box, `faint` a callable
    giving the page's faint_masks (computed only when a table needs them)."""
    cfg = settings()
    x, y, x1, y1 = bbox
    boxes = ink_boxes(binv[y:y1, x:x1], rules[y:y1, x:x1], scale_px, cfg)
    if not len(boxes):
        return cells, bbox, LINES
    boxes = boxes + np.array([x, y, x, y])
    h = float(np.median(boxes[:, 3] - boxes[:, 1]))
    how, (ox, oy) = LINES, (x, y)
    hreg, vreg = hor[y:y1, x:x1], ver[y:y1, x:x1]
    if faint is not None and cfg.get("faint") and suspects(cells, boxes, h, cfg):
        rep = _repaired(cells, bbox, hor, ver, faint(), boxes, h, cfg)
        if rep is not None:
            cells, bbox, hreg, vreg, (ox, oy) = rep
            how = FAINT
    work = [RawCell(c.x0, c.y0, c.x1, c.y1) for c in cells]
    changed = _drop_slivers(work, boxes, h, cfg, scale_px)
    tol = max(4.0, 0.3 * h)
    changed += _split(work, boxes, h, 1, cfg, tol)
    changed += _split_labels(work, boxes, h, cfg, tol)
    changed += _split(work, boxes, h, 0, cfg, tol)
    if not changed:
        return cells, bbox, how
    bx, by, bx1, by1 = bbox
    out = index_cells(work, hreg[by - oy:by1 - oy, bx - ox:bx1 - ox], vreg[by - oy:by1 - oy, bx - ox:bx1 - ox])
    return (out, bbox, TEXT) if out else (cells, bbox, how)
