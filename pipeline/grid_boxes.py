"""The "boxes" grid strategy: a table rebuilt from its text alone, when no ruling line
survives (a thinned scan at 150 dpi, a light copier threshold, a table printed without
rules): pdfplumber's "text" strategy beside its "lines" one.

Why from ink boxes and not OCR detection: the page's ink, cut into word boxes the way
grid_text does (glyphs closer than `join_pt` joined, specks and flat bars left out), costs
no model pass; the cells are then read as any ruled table's are (grid.build_table).

How a table shows itself without rules:
* value columns: number-shaped boxes (no wider than `number_width` × the text height) of
  lines that print several of them, their x extents projected on the page's width: a
  column is a run of x the numbers of at least `min_rows` lines cover;
* the label column: the text left of the first value column on the same lines;
* rows: the lines that print in the value columns (numbers, dashes, a sub-header's words),
  merged when closer than `row_gap` (a value column's wrapped header, never two rows);
  a label wrapped over 2–6 lines around its number joins that row (the label's lines stand
  closer than `row_gap`), a label alone in its block (blank values printed as nothing)
  is a row of its own;
* header bands: the lines just above the first row (gaps under `header_gap`), cut into one
  cell per column, a box over several columns (申请人情况, 法人或其他组织) a spanning cell.

Every cell of such a table is doubted (grid.BOXES_DOUBT): its position is inferred, not
printed. Settings: configs/grid.yaml `grid_boxes:`.
"""
from __future__ import annotations

import numpy as np

from .grid_cells import RawCell, index_cells
from .grid_text import ink_boxes
from .templates import config

BOXES = "boxes"


def settings() -> dict:
    return config("grid.yaml")["grid_boxes"]


# -- lines and columns ----------------------------------------------------------------------

def _lines(boxes: np.ndarray, h: float) -> list[np.ndarray]:
    """Boxes grouped into text lines (centres within half a text height), top to bottom,
    each line's boxes left to right."""
    if not len(boxes):
        return []
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    order = np.argsort(cy)
    out: list[list[int]] = []
    last = None
    for i in order:
        if out and cy[i] - last <= 0.5 * h:
            out[-1].append(i)
            last = float(np.mean(cy[out[-1]]))
        else:
            out.append([i])
            last = cy[i]
    return [boxes[sorted(ix, key=lambda k: boxes[k, 0])] for ix in out]


def _fields(line: np.ndarray, h: float, gap: float, cfg: dict | None = None) -> np.ndarray:
    """A line's boxes joined where closer than `gap` × h (a label's spaced words); two
    digit-high boxes are never joined (a narrow table's numbers stand closer than that;
    a number's own digits were joined already, ink_boxes)."""
    out: list[list[float]] = []
    low = (lambda b: b[3] - b[1] <= cfg["max_number_height"] * h) if cfg else (lambda b: False)
    prev_low = False
    for b in line.tolist():
        if out and b[0] - out[-1][2] < gap * h and not (prev_low and low(b)):
            f = out[-1]
            f[1], f[2], f[3] = min(f[1], b[1]), max(f[2], b[2]), max(f[3], b[3])
            prev_low = low(f)
        else:
            out.append(list(b))
            prev_low = low(b)
    return np.array(out, float).reshape(-1, 4)


def _text_height(boxes: np.ndarray, pct: float) -> float:
    hs = boxes[:, 3] - boxes[:, 1]
    o = np.argsort(hs)
    cum = np.cumsum((boxes[:, 2] - boxes[:, 0])[o])
    return float(hs[o][min(len(o) - 1, np.searchsorted(cum, pct / 100 * cum[-1]))])


def _is_number(f, h: float, cfg: dict) -> bool:
    w, t = f[2] - f[0], f[3] - f[1]
    return w <= cfg["number_width"] * h and cfg["min_number_height"] * h <= t <= cfg["max_number_height"] * h


def _runs(cover: np.ndarray, need: float) -> list[tuple[int, int]]:
    on = np.concatenate([[False], cover >= need, [False]])
    d = np.diff(on.astype(np.int8))
    return list(zip(np.where(d == 1)[0], np.where(d == -1)[0]))


# -- one table ------------------------------------------------------------------------------

def text_tables(binv: np.ndarray, rules: np.ndarray, scale_px: float) -> list:
    """(bbox, cells) of each table the page's text shows (px of the upright page), as
    grid_cells.find_tables gives them, for a page where the rules show none."""
    cfg = settings()
    if not cfg.get("enabled", True):
        return []
    tcfg = config("grid.yaml")["grid_text"]
    boxes = ink_boxes(binv, rules, scale_px, tcfg)
    # the page's edges print no table (scanner borders, punch holes, a binding's specks)
    H, W = binv.shape
    e = cfg["edge"]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    boxes = boxes[(cx > e * W) & (cx < (1 - e) * W) & (cy > e * H) & (cy < (1 - e) * H)]
    if len(boxes) < cfg["min_boxes"]:
        return []
    # the unit: the table's CJK character height (digits stand lower: ~0.7 of it), from
    # the lines of three fields or more, two of them narrow (prose, set larger, is wide
    # runs of text between its commas), each box weighed by its width (a label is one
    # wide box, its numbers narrow ones)
    h0 = float(np.median(boxes[:, 3] - boxes[:, 1]))
    rows = []
    for ln in _lines(boxes, h0):
        fs = _fields(ln, h0, cfg["word_gap"])
        narrow = (fs[:, 2] - fs[:, 0]) <= cfg["number_width"] * h0
        if len(fs) >= 3 and narrow[1:].sum() >= 2:
            rows.append(ln)
    h = _text_height(np.concatenate(rows) if rows else boxes, cfg["text_height_pct"])
    lines, fields, cand = _candidates(boxes, h, cfg)
    # a skew the page's deskew left (it reads rules: there are none) tilts a row's numbers
    # across the table: measured on the rows of numbers, taken out of the boxes, put back
    # into the cells
    slope = _slope(fields, cand, h, cfg)
    xm = W / 2
    if abs(slope) >= cfg["min_slope"]:
        dy = slope * ((boxes[:, 0] + boxes[:, 2]) / 2 - xm)
        boxes = np.stack([boxes[:, 0], boxes[:, 1] - dy, boxes[:, 2], boxes[:, 3] - dy], axis=1)
        lines, fields, cand = _candidates(boxes, h, cfg)
    else:
        slope = 0.0
    out = []
    for run in _table_runs(lines, fields, cand, h, W, cfg):
        t = _build(run, lines, fields, h, W, cfg)
        if t is None:
            continue
        (x0, y0, x1, y1), cells = t
        for c in cells:
            d = int(round(slope * ((c.x0 + c.x1) / 2 - xm)))
            c.y0, c.y1 = max(0, c.y0 + d), min(H, c.y1 + d)
            c.x0, c.x1 = max(0, c.x0), min(W, c.x1)
        cells = [c for c in cells if c.x1 - c.x0 >= 6 and c.y1 - c.y0 >= 6]
        if len(cells) < config("ocr.yaml")["grid"]["min_cells"]:
            continue
        out.append(((x0, max(0, min(c.y0 for c in cells) - 1), x1, min(H, max(c.y1 for c in cells) + 1)), cells))
    out.sort(key=lambda t: (t[0][1], t[0][0]))
    return out


def _candidates(boxes: np.ndarray, h: float, cfg: dict):
    """(lines, their fields, the lines that print several number-shaped fields after their first)."""
    lines = _lines(boxes, h)
    fields = [_fields(ln, h, cfg["word_gap"], cfg) for ln in lines]
    cand = []
    for i, fs in enumerate(fields):
        if len(_values(fs, h, cfg)) >= cfg["min_values"]:
            cand.append(i)
    return lines, fields, cand


def _slope(fields, cand: list[int], h: float, cfg: dict) -> float:
    """The median slope (dy/dx) of the number centres along the lines that print three or more."""
    out = []
    for i in cand:
        v = _values(fields[i], h, cfg)
        if len(v) >= 3:
            x = (v[:, 0] + v[:, 2]) / 2
            y = (v[:, 1] + v[:, 3]) / 2
            if x.max() - x.min() > 5 * h:
                out.append(float(np.polyfit(x, y, 1)[0]))
    return float(np.median(out)) if len(out) >= 3 else 0.0


def _values(fs: np.ndarray, h: float, cfg: dict) -> np.ndarray:
    """A line's number-shaped fields after its label (all of them when it starts with one)."""
    start = 0 if _is_number(fs[0], h, cfg) else 1
    return np.array([f for f in fs[start:] if _is_number(f, h, cfg)], float).reshape(-1, 4)


def _fits(vals: np.ndarray, recent: list[np.ndarray], h: float, cfg: dict) -> bool:
    """A line's numbers stand in the columns of the table's last lines: most of them
    overlap (within `align_slack` × h) a number of those lines."""
    prev = np.concatenate(recent) if recent else np.zeros((0, 4))
    if not len(prev) or not len(vals):
        return True
    pad = cfg["align_slack"] * h
    hit = sum(bool(((prev[:, 0] - pad < v[2]) & (prev[:, 2] + pad > v[0])).any()) for v in vals)
    return hit >= cfg["align_share"] * len(vals)


def _table_runs(lines, fields, cand: list[int], h: float, W: int, cfg: dict) -> list[list[int]]:
    """Candidate lines grouped into tables: consecutive ones no farther apart than
    `max_row_gap` × h, no prose line (a line wider than `prose_width` of the page) between,
    their numbers in the same columns (a table below with other columns is another)."""
    runs: list[list[int]] = []
    for i in cand:
        if runs:
            j = runs[-1][-1]
            gap = lines[i][:, 1].min() - lines[j][:, 3].max()
            prose = any(ln[:, 2].max() - ln[:, 0].min() > cfg["prose_width"] * W and len(fields[k]) <= 2
                        for k, ln in enumerate(lines[j + 1:i], start=j + 1))
            recent = [_values(fields[k], h, cfg) for k in runs[-1][-cfg["align_lines"]:]]
            if gap <= cfg["max_row_gap"] * h and not prose and _fits(_values(fields[i], h, cfg), recent, h, cfg):
                runs[-1].append(i)
                continue
        runs.append([i])
    # a table prints `min_numbers` numbers, on one line only when it prints many (the
    # appeals table's 15): a line of prose a heavy scan broke into pieces is not one
    def numbers(r):
        return sum(len(_values(fields[i], h, cfg)) for i in r)
    runs = [r for r in runs if numbers(r) >= (cfg["min_numbers"] if len(r) > 1 else cfg["one_line_numbers"])]
    # a run just above the next one, no taller than a header, is that table's header
    # (a narrow table's vertical header characters side by side look like numbers)
    keep = []
    for k, r in enumerate(runs):
        nxt = runs[k + 1] if k + 1 < len(runs) else None
        if (nxt is not None and nxt[0] - r[0] <= cfg["max_header_lines"]
                and lines[nxt[0]][:, 1].min() - lines[r[-1]][:, 3].max() <= cfg["header_gap"] * h):
            continue
        keep.append(r)
    return keep


def _columns(run: list[int], fields, h: float, W: int, cfg: dict):
    """(label extent or None, value columns): x runs covered by the fields of at least
    `min_rows` lines; the runs left of the first one mostly number-shaped are the labels."""
    cover = np.zeros(W + 1, np.int32)
    for i in run:
        for f in fields[i]:
            if _is_number(f, h, cfg):     # a label, a unit (0(件)) or a seal's ring would bridge columns
                cover[max(0, int(f[0])):int(f[2]) + 1] += 1
    need = min(cfg["min_rows"], max(1, len(run)))
    runs: list[list[float]] = []
    for a, b in _runs(cover, need):
        if runs and a - runs[-1][1] < cfg["col_gap"] * h:
            runs[-1][1] = float(b)
        else:
            runs.append([float(a), float(b)])
    kinds, seen = [], []
    for a, b in runs:
        fs = [f for i in run for f in fields[i] if a <= (f[0] + f[2]) / 2 <= b]
        seen.append(sum(any(a <= (f[0] + f[2]) / 2 <= b for f in fields[i]) for i in run))
        kinds.append(sum(_is_number(f, h, cfg) for f in fs) >= cfg["number_share"] * max(1, len(fs)))
    # a value column prints on most of the table's lines (a label column's vertical
    # characters, a tick or a unit beside a number do not)
    most = max(seen, default=0)
    kinds = [k and n >= cfg["line_share"] * most for k, n in zip(kinds, seen)]
    first = next((k for k, v in enumerate(kinds) if v), None)
    if first is None:
        return None, []
    cols = [(a, b) for (a, b), v in zip(runs[first:], kinds[first:]) if v]
    lefts = [float(fields[i][0][0]) for i in run if fields[i][0][2] < cols[0][0]]
    label = (min(lefts), cols[0][0]) if lefts else None
    return label, cols


def _build(run: list[int], lines, fields, h: float, W: int, cfg: dict):
    # the table's own text height when its row labels show it (a page's prose may be set
    # larger than its tables; a table of numbers alone keeps the page's)
    labels = [fields[i][0] for i in run if fields[i][0][2] - fields[i][0][0] >= cfg["label_min_width"] * h]
    hr = float(np.median([f[3] - f[1] for f in labels])) if len(labels) >= cfg["min_rows"] else h
    if hr < h:
        h = hr
        fields = {i: _fields(lines[i], h, cfg["word_gap"], cfg) for i in range(len(lines))}
    label, cols = _columns(run, fields, h, W, cfg)
    if len(cols) < cfg["min_cols"]:
        return None
    first, last = run[0], run[-1]
    left = label[0] if label else cols[0][0] - 0.5 * h
    # header bands: the lines just above the first row, within the table's width
    top_i = first
    k = first - 1
    # (a header or a section title may start left of the labels, a header word centred
    # over a right-aligned column end right of its numbers)
    x_lo, x_hi = left - cfg["tail_indent"] * h, cols[-1][1] + cfg["tail_indent"] * h
    while k >= 0 and first - k <= cfg["max_header_lines"]:
        ln = lines[k]
        gap = lines[top_i][:, 1].min() - ln[:, 3].max()
        if (gap > cfg["header_gap"] * h or ln[:, 0].min() < x_lo or ln[:, 2].max() > x_hi
                or ln[:, 2].max() - ln[:, 0].min() > cfg["prose_width"] * W):
            break
        top_i = k
        k -= 1
    # … and below the last row: label-only lines (a row of blanks), rows printing one
    # value (a merged value cell: 行政许可 66), and the section and sub-header lines
    # between them (第二十条第（五）项 / 信息内容 本年处理决定数量), kept only when a row
    # follows them
    bot_i = last
    k = last + 1
    wait = None
    vx = cols[0][0] - 0.5 * h
    while k < len(lines):
        ln = lines[k]
        gap = ln[:, 1].min() - lines[wait if wait is not None else bot_i][:, 3].max()
        if (gap > cfg["tail_gap"] * h or ln[:, 0].min() < x_lo or ln[:, 2].max() > x_hi
                or ln[:, 2].max() - ln[:, 0].min() > cfg["prose_width"] * W):
            break
        fs = fields[k]
        nums = [f for f in fs if f[0] >= vx and _is_number(f, h, cfg)]
        labelled = fs[0][2] < vx
        if labelled and (nums or ln[:, 2].max() < vx):
            bot_i, wait = k, None
        else:
            wait = k
        k += 1
    body = [lines[i] for i in range(first, bot_i + 1)]
    head = [lines[i] for i in range(top_i, first)]
    bounds = _col_bounds(left, cols, h)
    rows = _row_bands(body, bounds, h, cfg)
    if not rows:
        return None
    y_top = min(ln[:, 1].min() for ln in head) - 0.4 * h if head else rows[0][0]
    cells = _header_cells(head, bounds, y_top, rows[0][0], h) + _body_cells(body, bounds, rows, h)
    x0, x1 = int(bounds[0]), int(bounds[-1])
    y0, y1 = int(y_top), int(rows[-1][1])
    for c in cells:
        c.x0, c.y0, c.x1, c.y1 = (int(round(v)) for v in (c.x0, c.y0, c.x1, c.y1))
    empty = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), np.uint8)
    good = index_cells(cells, empty, empty)
    if len(good) < config("ocr.yaml")["grid"]["min_cells"]:
        return None
    return (x0, y0, x1, y1), good


def _col_bounds(left: float, cols, h: float) -> list[float]:
    """x boundaries: the label column's left, midway between columns, past the last one."""
    out = [left - 0.4 * h]
    prev_hi = None
    for a, b in cols:
        out.append((prev_hi + a) / 2 if prev_hi is not None else a - 0.6 * h)
        prev_hi = b
    out.append(prev_hi + 0.6 * h)
    if out[1] - out[0] < h:          # no label column (the appeals table: values only)
        out = out[1:]
    return out


def _row_bands(body: list[np.ndarray], bounds: list[float], h: float, cfg: dict) -> list[tuple[float, float]]:
    """Rows (y0, y1). A row is what prints in the value columns (numbers, a sub-header's
    words), its lines merged when closer than `row_gap` × h, widened by its own label: the
    rightmost label box beside it and the lines of that label above and below (closer
    than `row_gap`, overlapping it across: a group label of several rows or a vertical
    one stands in another column). Labels beside no value (a row of blanks) are rows of
    their own; boundaries lie midway between rows."""
    boxes = np.concatenate(body) if body else np.zeros((0, 4))
    vx = bounds[1] if len(bounds) > 2 and bounds[1] - bounds[0] >= h else bounds[0]
    # specks of a heavy scan beside the numbers would join two rows: glyph-sized ink only
    boxes = boxes[(boxes[:, 3] - boxes[:, 1] >= cfg["min_number_height"] * h) & (boxes[:, 2] - boxes[:, 0] >= 0.2 * h)]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    val, lab = boxes[cx > vx], boxes[cx <= vx]
    gap = cfg["row_gap"] * h
    anchors = _merge([[float(b[1]), float(b[3])] for b in val], gap)
    free = list(range(len(lab)))
    rows = []
    for a0, a1 in anchors:
        near = [i for i in free if lab[i][1] < a1 and lab[i][3] > a0]
        grown = [max(near, key=lambda i: lab[i][2])] if near else []
        free = [i for i in free if i not in grown]
        grown = _grow(lab, grown, free, gap, h)
        free = [i for i in free if i not in grown]
        ys = [a0, a1] + [float(v) for i in grown for v in (lab[i][1], lab[i][3])]
        rows.append([min(ys), max(ys)])
    # label blocks beside no value: a row each when clear of every row (a group label
    # centred over its rows, a vertical one's characters, overlap them)
    while free:
        block = _grow(lab, [free[0]], free[1:], gap, h)
        free = [i for i in free if i not in block]
        y0, y1 = float(min(lab[i][1] for i in block)), float(max(lab[i][3] for i in block))
        wide = max(lab[i][2] - lab[i][0] for i in block) >= cfg["label_min_width"] * h
        if wide and not any(r0 < y1 and r1 > y0 for r0, r1 in rows):
            rows.append([y0, y1])
    rows.sort()
    out = []
    for i, (a, b) in enumerate(rows):
        top = (min(a, rows[i - 1][1]) + max(a, rows[i - 1][1])) / 2 if i else a - 0.4 * h
        if i + 1 < len(rows):
            bottom = (min(b, rows[i + 1][0]) + max(b, rows[i + 1][0])) / 2
        else:
            bottom = b + 0.4 * h
        out.append((top, bottom))
    return out


def _grow(lab: np.ndarray, block: list[int], free: list[int], gap: float, h: float) -> list[int]:
    """A label's lines: boxes above or below the block (closer than `gap`) that overlap
    it across."""
    block = list(block)
    changed = True
    while changed and block:
        changed = False
        y0 = min(lab[i][1] for i in block)
        y1 = max(lab[i][3] for i in block)
        for j in free:
            if j in block:
                continue
            b = lab[j]
            near = b[1] - y1 < gap and y0 - b[3] < gap
            across = any(b[0] < lab[i][2] + 0.5 * h and b[2] > lab[i][0] - 0.5 * h for i in block)
            if near and across:
                block.append(j)
                changed = True
    return block


def _merge(spans: list[list[float]], gap: float) -> list[list[float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def _span(box, bounds: list[float]) -> tuple[int, int]:
    """The columns a box's ink reaches into (by more than a sliver)."""
    cols = [j for j in range(len(bounds) - 1)
            if min(box[2], bounds[j + 1]) - max(box[0], bounds[j]) > 0.25 * min(box[2] - box[0], bounds[j + 1] - bounds[j])]
    return (cols[0], cols[-1]) if cols else (-1, -1)


def _header_cells(head: list[np.ndarray], bounds, y0: float, y1: float, h: float) -> list[RawCell]:
    """One cell per column over the header band, cut under each box that spans columns."""
    if not head or y1 - y0 < 0.5 * h:
        return []
    n = len(bounds) - 1
    spans = []            # (a, b, top, bottom) of boxes over several columns
    for ln in head:
        for box in ln:
            a, b = _span(box, bounds)
            if b > a:
                spans.append((a, b, float(box[1]), float(box[3])))
    cuts = {j: [y0] for j in range(n)}
    cells = []
    for a, b, t, u in sorted(spans, key=lambda s: s[2]):
        top = max(max(cuts[j][-1] for j in range(a, b + 1)), t - 0.3 * h)
        bottom = u + 0.3 * h
        for j in range(a, b + 1):
            if cuts[j][-1] < top - 0.5 * h:
                cells.append(RawCell(bounds[j], cuts[j][-1], bounds[j + 1], top))
            cuts[j].append(bottom)
        cells.append(RawCell(bounds[a], top, bounds[b + 1], bottom))
    for j in range(n):
        if y1 - cuts[j][-1] > 0.5 * h:
            cells.append(RawCell(bounds[j], cuts[j][-1], bounds[j + 1], y1))
    return cells


def _body_cells(body: list[np.ndarray], bounds, rows, h: float) -> list[RawCell]:
    """A cell per row and column; a box over several columns (a section title across the
    table) makes its row's cells one."""
    n = len(bounds) - 1
    cells = []
    for top, bottom in rows:
        spans = []
        for ln in body:
            cy = (ln[:, 1] + ln[:, 3]) / 2
            for box in ln[(cy >= top) & (cy < bottom)]:
                a, b = _span(box, bounds)
                if b > a:
                    spans.append((a, b))
        j = 0
        while j < n:
            s = next((s for s in spans if s[0] <= j <= s[1]), None)
            k = s[1] if s else j
            cells.append(RawCell(bounds[j], top, bounds[k + 1], bottom))
            j = k + 1
    return cells
