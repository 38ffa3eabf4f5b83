"""Rows from the stream: label fragments aligned to the template's row sequence (a dynamic
programme: printed rows and their wrapped label pieces), and value tokens cut into value
rows (a line of values; one value a line dealt by count; rows that lost empty cells
placed by column where the text keeps geometry; pdfminer's blocks and chunks)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..normalize import normalize
from ..templates import Template
from .equations import own_balance
from .tokens import Item, settings, value


# -- 1. label fragments -> printed rows ----------------------------------------------------------

@dataclass
class RowSpan:
    """A printed template row: its index in the row sequence and its label fragments."""
    j: int
    frags: list[Item]
    score: float

    @property
    def first(self) -> int:
        return self.frags[0].pos

    @property
    def text(self) -> str:
        return " ".join(f.text for f in self.frags)


_ORDINAL = re.compile(r"^\s*[(（]?\s*([一二三四五六七八九十]+|\d{1,2})\s*[)）、.．]")


def _ordinal(text: str) -> str | None:
    m = _ORDINAL.match(text)
    return normalize(m.group(1), keep_ordinals=True) if m else None


def label_rows(frags: list[Item], rows: list, sim, skip_cost: list[float]) -> list[RowSpan]:
    """Printed rows from the label fragments: a monotone alignment of fragments to the row
    sequence (a fragment starts row j when it matches j's label; skipping an expected row
    costs), then each row takes the fragments after its start that improve its match
    (the wrapped rest of its label, possibly after a group label or a vertical character)."""
    cfg = settings()
    thr = float(cfg.get("start_similarity", 0.6))
    ord_w = float(cfg.get("ordinal_weight", 0.1))
    n, m = len(frags), len(rows)
    max_join = int(cfg.get("max_start_fragments", 5))
    # gain[i][j] = (gain, k): fragments i..i+k-1 start row j. A label broken into bits
    # (3.危及“ / 三安全 / 一 / 稳 / 定) starts with its first few bits joined.
    gain: list[list[tuple[float, int] | None]] = [[None] * m for _ in range(n)]
    for i, f in enumerate(frags):
        o = _ordinal(f.text)
        for k in range(1, max_join + 1):
            if i + k > n or (k > 1 and any(g is not None for g in gain[i])):
                break
            text = " ".join(x.text for x in frags[i:i + k])
            for j, r in enumerate(rows):
                s = sim(text, j)
                if s >= thr and _numbered_if_short(text, r):
                    num = normalize(r.number or "", keep_ordinals=True) if r.number else None
                    bonus = 0.0 if o is None or not num else (ord_w if o == num else -ord_w)
                    gain[i][j] = (s - thr + bonus, k)
    NEG = -1e18
    # best[i][j]: first i fragments seen, rows < j decided; back pointers to rebuild
    best = [[NEG] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            b = best[i][j]
            if b == NEG:
                continue
            if j < m and b - skip_cost[j] > best[i][j + 1]:          # row j not printed
                best[i][j + 1], back[i][j + 1] = b - skip_cost[j], ("skip", i, j)
            if i < n:
                if b > best[i + 1][j]:                              # fragment i is no row's start
                    best[i + 1][j], back[i + 1][j] = b, ("none", i, j)
                if j < m and gain[i][j] is not None:
                    g, k = gain[i][j]
                    if b + g > best[i + k][j + 1]:
                        best[i + k][j + 1], back[i + k][j + 1] = b + g, ("take", i, j)
    i, j = n, m
    starts: list[tuple[int, int]] = []
    while (i, j) != (0, 0):
        op, pi, pj = back[i][j]
        if op == "take":
            starts.append((pi, pj))
        i, j = pi, pj
    starts.reverse()
    spans = []
    for k, (i, j) in enumerate(starts):
        nxt = starts[k + 1][0] if k + 1 < len(starts) else n
        first = gain[i][j][1]
        taken = frags[i:i + first]
        s = sim(" ".join(x.text for x in taken), j)
        for f in frags[i + first:min(nxt, i + first + int(cfg.get("max_continuations", 4)))]:
            s2 = sim(" ".join(x.text for x in taken + [f]), j)
            if s2 > s + 0.01:
                taken, s = taken + [f], s2
        spans.append(RowSpan(j, taken, s))
    return spans


def present_rows(frags: list[Item], rows: list, sim) -> list[RowSpan]:
    """The rows whose labels are printed anywhere in the table, in template order: each
    fragment counts for its best row (a short label like 其他 or 总计 only with its
    row's printed number, else it is a column header)."""
    thr = float(settings().get("present_similarity", 0.75))
    max_join = int(settings().get("max_start_fragments", 5))
    best: dict[int, RowSpan] = {}
    for i in range(len(frags)):
        for k in range(1, max_join + 1):   # a wrapped label: its first lines joined
            if i + k > len(frags):
                break
            text = " ".join(f.text for f in frags[i:i + k])
            s, j = max((sim(text, j), j) for j in range(len(rows)))
            if s >= thr and _numbered_if_short(text, rows[j]):
                if j not in best or s > best[j].score:
                    best[j] = RowSpan(j, frags[i:i + k], s)
                break
    return [best[j] for j in sorted(best)]


def inline_anchors(items: list[Item], vrows: list["ValueRow"], rows: list, sim) -> dict[int, int]:
    """Value rows printed right after their own label (value row index -> row index).
    pdftotext's default mode reads a one-line label and its values as one block, but a
    wrapped label or a merged cell's labels as another, printed before or after all the
    values: the labels then fall into two sequences, each in template order, and a
    monotone alignment of labels keeps only one. A label that the values follow directly
    says where those values belong whatever the other labels do. The fragments between
    the previous value and the row's first value are read whole or by their last few
    (a header may stand before the label: the first row)."""
    thr = float(settings().get("present_similarity", 0.75))
    max_join = int(settings().get("max_start_fragments", 5))
    index = {it.pos: i for i, it in enumerate(items)}
    out: dict[int, int] = {}
    for k, v in enumerate(vrows):
        i = index.get(v.items[0].pos)
        if i is None or not v.full:
            continue
        b = i
        while b > 0 and items[b - 1].kind == "F":
            b -= 1
        before = items[b:i]
        found = None
        for n in range(1, min(max_join, len(before)) + 1):
            text = " ".join(f.text for f in before[len(before) - n:])
            s, j = max((sim(text, j), j) for j in range(len(rows)))
            if s >= thr and _numbered_if_short(text, rows[j]) and (found is None or s > found[0]):
                found = (s, j)
        if found is not None:
            out[k] = found[1]
    return out


def _numbered_if_short(text: str, row) -> bool:
    """A row with a short label (其他, 总计: also column headers) needs its printed number."""
    if len(normalize(row.label)) > 2 or not row.number:
        return True
    return _ordinal(text) == normalize(row.number, keep_ordinals=True)


# -- 2. value tokens -> value rows ----------------------------------------------------------------

@dataclass
class ValueRow:
    """A row's value tokens; `slots` one per column (None: an empty cell) once known."""
    items: list[Item]
    full: bool
    slots: list[Item | None] | None = None
    doubt: float = 1.0      # placement probability of its tokens' columns
    at: int | None = None   # stream position of its row's label, when a block says which

    def __post_init__(self):
        if self.full and self.slots is None:
            self.slots = list(self.items)

    @property
    def pos(self) -> int:
        return self.items[0].pos if self.at is None else self.at


def place_by_columns(vrows: list[ValueRow], width: int, frags: list[Item] = ()) -> None:
    """Rows that lost their empty cells (fewer tokens than columns) on text that keeps
    the page's geometry (`pdftotext -layout`): each token goes to the column whose centre,
    from the page's complete rows, is nearest. Only where columns stand clearly apart
    (single-space separated text has no geometry) and the tokens fall in order. An empty
    cell that a label on the same line (`frags`) reaches into may hold a value glued to
    that label: its row is doubtful."""
    cfg = settings()
    min_gap = float(cfg.get("column_min_gap", 3))
    tol = float(cfg.get("column_tolerance", 0.5))
    sure = float(cfg.get("column_sure", 0.5))
    one_line = [v for v in vrows if v.full and len({it.line for it in v.items}) == 1]
    for v in vrows:
        if v.full or len({it.line for it in v.items}) != 1:
            continue
        page = v.items[0].page
        ref = [r for r in one_line if r.items[0].page == page]
        clustered = False
        if len(ref) >= 2:
            centres = []
            for c in range(width):
                xs = sorted(r.items[c].x for r in ref)
                spread = xs[-1] - xs[0] if len(xs) < 5 else xs[int(len(xs) * 0.9)] - xs[int(len(xs) * 0.1)]
                centres.append((xs[len(xs) // 2], spread))
        else:   # too few complete rows on the page: the columns its values fall into
            centres = _x_clusters([it.x for r in vrows if r.items[0].page == page
                                   and len({it.line for it in r.items}) == 1 for it in r.items], width, min_gap)
            if centres is None:
                continue
            clustered = True
        gaps = [centres[c + 1][0] - centres[c][0] for c in range(width - 1)]
        if min(gaps) < min_gap or any(sp > min(gaps) * tol for _, sp in centres):
            continue
        cols, worst = [], 0.0
        for it in v.items:
            d = [abs(it.x - x) for x, _ in centres]
            c = min(range(width), key=d.__getitem__)
            half = min(g for k, g in enumerate(gaps) if k in (c - 1, c)) / 2
            cols.append(c)
            worst = max(worst, d[c] / half)
        if worst > 1.0 or cols != sorted(set(cols)):
            continue
        slots: list[Item | None] = [None] * width
        for c, it in zip(cols, v.items):
            slots[c] = it
        v.slots, v.full = slots, True
        v.doubt = 1.0 if worst <= sure and not clustered else float(cfg.get("column_doubtful", 0.9))
        line = v.items[0].line
        reach = max((f.x + len(f.text) for f in frags if f.line == line), default=None)
        if reach is not None and any(slots[c] is None and reach > centres[c][0] - gaps[min(c, width - 2)] / 2
                                     for c in range(width)):
            v.doubt = min(v.doubt, float(cfg.get("column_doubtful", 0.9)))


def _x_clusters(xs: list[float], width: int, min_gap: float) -> list[tuple[float, float]] | None:
    """Column centres (median, spread) from the positions of a page's values when they
    fall into exactly `width` groups at least `min_gap` apart; else None. A column no
    value of the page fills leaves too few groups, so nothing is guessed."""
    xs = sorted(xs)
    if not xs:
        return None
    groups = [[xs[0]]]
    for x in xs[1:]:
        if x - groups[-1][-1] >= min_gap:
            groups.append([x])
        else:
            groups[-1].append(x)
    if len(groups) != width:
        return None
    return [(g[len(g) // 2], g[-1] - g[0]) for g in groups]


def value_rows(items: list[Item], width: int, labels: set[int] | None = None) -> list[ValueRow] | None:
    """Runs of value tokens cut into rows of `width` tokens: a line holding several tokens
    is one row (fewer tokens: a row whose blanks collapsed, not placeable); tokens one per
    line are dealt `width` at a time, across fragments that are no row's label (`labels`:
    their positions; a column header printed between a row's values). None when a run
    cannot be cut without guessing."""
    out: list[ValueRow] = []
    run: list[Item] = []

    def flush(at_label: bool = True) -> bool:
        if not run:
            return True
        lines: dict[int, list[Item]] = {}
        for it in run:
            lines.setdefault(it.line, []).append(it)
        if not at_label and all(len(v) == 1 for v in lines.values()) and len(run) % width:
            return True     # one value a line, cut by a header word: the row goes on after it
        if any(len(v) > 1 for v in lines.values()):
            for ln, v in list(lines.items()):
                if len(v) > width and all(it.text == "" for it in v[:len(v) - width]):
                    lines[ln] = v[len(v) - width:]   # empty label columns of a pipe row
            for v in lines.values():
                if len(v) % width == 0:
                    out.extend(ValueRow(v[k:k + width], True) for k in range(0, len(v), width))
                elif len(v) < width:
                    out.append(ValueRow(v, False))
                else:
                    return False
        elif len(run) % width == 0:
            out.extend(ValueRow(run[k:k + width], True) for k in range(0, len(run), width))
        elif len(run) < width:
            out.append(ValueRow(list(run), False))
        else:
            return False
        run.clear()
        return True

    for it in items:
        if it.kind == "V":
            run.append(it)
        elif not flush(labels is None or it.pos in labels):
            return None
    return out if flush() else None


def label_blocks(items: list[Item], vrows: list[ValueRow], spans: list[RowSpan], keys: list[list[str]],
                 tpl: Template) -> tuple[list[ValueRow], set[str], int]:
    """Blocks of labels, then their values one a line (pdfminer prints a table's rows
    that way, a few rows or the whole table at a time, usually column by column): a run
    of one value a line right after a run of labels that starts k rows, holding k × width
    values, belongs to those k rows. The run is read row- or column-major, whichever more
    of the rows' own equations (row totals) hold, and each value row is anchored at its
    row's label. `keys[r]`: span r's cell keys. Returns the value rows, the keys the
    two orders disagree on when they tie, and the number of blocks."""
    W = len(keys[0]) if keys else 0
    by_first = {it.pos: v for v in vrows for it in v.items[:1]}
    out: list[ValueRow] = []
    doubt: set[str] = set()
    k = blocks = 0
    starts = [sp.first for sp in spans]
    while k < len(items):
        if items[k].kind != "V":
            k += 1
            continue
        e = k
        while e < len(items) and items[e].kind == "V":
            e += 1
        run = items[k:e]
        prev_v = max((i for i in range(k) if items[i].kind == "V"), default=-1)
        owners = [r for r, p in enumerate(starts) if prev_v < p < k]
        one_a_line = len({it.line for it in run}) == len(run)
        if W and len(owners) >= 2 and one_a_line and len(run) == len(owners) * W:
            R = len(owners)
            orders = {"rows": [run[r * W:(r + 1) * W] for r in range(R)],
                      "columns": [[run[c * R + r] for c in range(W)] for r in range(R)]}
            got = {name: {kk: value(it) for r, row in enumerate(rs) for kk, it in zip(keys[owners[r]], row)}
                   for name, rs in orders.items()}
            score = {name: own_balance(v, tpl) for name, v in got.items()}
            best = max(score, key=score.get)
            if score["rows"] == score["columns"]:
                doubt |= {kk for kk in got["rows"] if got["rows"][kk] != got["columns"][kk]}
            out += [ValueRow(list(row), True, at=spans[owners[r]].first) for r, row in enumerate(orders[best])]
            blocks += 1
        elif W and len(owners) >= 2 and _whole_lines(run, W) == len(owners):
            # a page's labels, then its rows of values a line each (`-raw`, pypdfium2 on a
            # table split over pages or turned landscape): the k-th line is the k-th row's
            lines = _lines(run)
            out += [ValueRow(ln, True, at=spans[owners[r]].first) for r, ln in enumerate(lines)]
            blocks += 1
        else:
            out += [v for it in run for v in [by_first.get(it.pos)] if v is not None]
        k = e
    return out, doubt, blocks


def _lines(run: list[Item]) -> list[list[Item]]:
    out: list[list[Item]] = []
    for it in run:
        if out and out[-1][0].line == it.line:
            out[-1].append(it)
        else:
            out.append([it])
    return out


def _whole_lines(run: list[Item], width: int) -> int:
    """How many lines a run of values fills when every line holds one row (`width` values);
    0 when some line holds another count."""
    lines = _lines(run)
    return len(lines) if all(len(ln) == width for ln in lines) else 0


def chunked_rows(items: list[Item], spans: list[RowSpan], keys: list[list[str]], tpl: Template
                 ) -> tuple[list[ValueRow], set[str]] | None:
    """A table printed one value per cell, in chunks of rows (pdfminer: each page's rows,
    column by column, the first column maybe among the labels; pypdfium2: the whole
    table): the values are cut into the smallest chunks whose values all come before the
    next chunk's first label, each chunk read row- or column-major as its rows' own
    equations prefer. None unless the table prints exactly one value per cell of its
    labelled rows and some chunk holds several rows; also the keys two orders that tie
    disagree on. A chunk whose every line holds one row's values (`-raw` on a table split
    over pages: each page's labels, then its rows a line each) is read row by row: the
    tool put them on one line because they stand on one baseline."""
    W = len(keys[0]) if keys else 0
    vals = [it for it in items if it.kind == "V"]
    if not W or len(vals) != len(spans) * W:
        return None
    out: list[ValueRow] = []
    doubt: set[str] = set()
    a = 0
    several = False
    while a < len(spans):
        b = a + 1
        while b < len(spans) and vals[b * W - 1].pos > spans[b].first:
            b += 1
        R, run = b - a, vals[a * W:b * W]
        orders = {"rows": [run[r * W:(r + 1) * W] for r in range(R)],
                  "columns": [[run[c * R + r] for c in range(W)] for r in range(R)]}
        best = "rows"
        if R > 1:
            several = True
        if R > 1 and _whole_lines(run, W) != R:   # a line of W values is a row: no other order
            got = {name: {kk: value(it) for r, row in enumerate(rs) for kk, it in zip(keys[a + r], row)}
                   for name, rs in orders.items()}
            score = {name: own_balance(v, tpl) for name, v in got.items()}
            best = max(score, key=score.get)
            if score["rows"] == score["columns"]:
                doubt |= {kk for kk in got["rows"] if got["rows"][kk] != got["columns"][kk]}
        out += [ValueRow(list(row), True, at=spans[a + r].first) for r, row in enumerate(orders[best])]
        a = b
    return (out, doubt) if several else None
