"""Stream decoder: a report table read from flattened text as a stream, not lines as rows.

Real extractors (pdftotext in its three modes, pypdfium2, WPS exports) do not keep a
table's rows on lines: labels wrap over 2-4 lines with the values after the last
fragment or between fragments, `-raw` separates a row's values by single spaces, the
default mode prints every label of a page first and the values after them. What they do
keep is order: the row labels in template order, and a row's values together, one per
column. So the table's text becomes a stream of label fragments and value tokens, and
  1. label fragments are aligned to the template's row sequence by dynamic programming
     (a row starts at a fragment that matches its label; the fragments after it that
     improve the match are its wrapped continuation), giving the printed rows;
  2. value tokens are cut into value rows of one token per column (a line of the
     flattened text, or a run of tokens between two label fragments);
  3. value rows are assigned to printed rows monotonically, each best inside its row's
     window of the stream (from its label to the next row's label); a row without one
     printed nothing (blank). When several assignments score alike (a block of values
     after a block of labels, fewer value rows than labels), the balance equations choose
     between their outcomes; cells on which the remaining outcomes disagree are doubtful
     (placement below 1), which keeps the document out of `ok`. Labels printed away
     from their values (the default mode) are counted where they are and the value rows
     dealt in order; a block of one value per cell is read row- or column-major
     (pypdfium2), whichever the equations prefer.
The active table is read section by section, or as one row sequence when its section
titles are printed after its rows. classify.py uses this when its line-based reading
places fewer cells (docs/flattened-text.md: figures per extractor). Thresholds and the
title/footer patterns live in configs/classify.yaml (`stream`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import Cell
from .normalize import normalize
from .templates import Template, config
from .values import is_value_text, parse_value


def settings() -> dict:
    return dict(config("classify.yaml").get("stream", {}))


@dataclass
class Item:
    """One piece of the stream: a label fragment ("F") or a value token ("V")."""
    kind: str
    text: str
    line: int
    pos: int = 0
    x: float = 0.0      # character column of its centre (fragments: of their start)
    page: int = 0


@dataclass
class StreamTable:
    """What the stream decoder made of one report table."""
    kind: str
    template: str | None = None
    cells: dict[str, Cell | None] = field(default_factory=dict)   # None: the row printed nothing
    placement: dict[str, float] = field(default_factory=dict)     # key -> P(placed right) when < 1
    missing: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    readings: int = 1   # distinct readings that balance alike (whole_block)

    @property
    def placed(self) -> int:
        return len(self.cells)

    @property
    def sure(self) -> bool:
        return not self.placement and not self.missing


# -- the stream --------------------------------------------------------------------------------

def _title(phrase: str) -> str:
    """A title phrase as a regex: at the start of a line after an optional ordinal (not
    the same words inside a paragraph), spaces allowed between its characters."""
    body = r"[ \t\u3000]*".join(re.escape(ch) for ch in phrase if not ch.isspace())
    return r"(?m)^[ \t\u3000\f]*(?:[(（]?[一二三四五六七八九十]+[)）]?[ \t]*[、.．]?[ \t\u3000]*)?" + body


def region(text: str, kind: str) -> str | None:
    """The text of one report table: from its title to the next table's title."""
    cfg = settings()
    titles = cfg.get("titles", {})
    order = ["active", "requests", "appeals", "end"]

    def find(name: str, start: int):
        hits = [m for p in titles.get(name, []) for m in [re.search(_title(p), text[start:])] if m]
        return min(hits, key=lambda m: m.start(), default=None)

    m = find(kind, 0)
    if m is not None:
        s = m.end()
    else:   # no title printed: the table starts at the line of its first header words
        hits = [h.start() for p in cfg.get("untitled_starts", {}).get(kind, []) for h in [re.search(p, text)] if h]
        if not hits:
            return None
        s = text.rfind("\n", 0, min(hits)) + 1
    ends = [s + e.start() for n in order[order.index(kind) + 1:] for e in [find(n, s)] if e is not None]
    ends += [s + h.start() for n in order[order.index(kind) + 1:] for p in cfg.get("untitled_starts", {}).get(n, [])
             for h in [re.search(p, text[s:])] if h]
    e = min(ends, default=len(text))
    return text[s:e]


def tokens(text: str) -> list[Item]:
    """Label fragments and value tokens in reading order, page footers removed.

    A line splits at wide spaces into chunks; within a chunk, single-space separated
    tokens that read as values are value tokens and runs of the others are one fragment.
    A word that reads as a blank mark (无, 空) is a value only on a line of values: beside
    label words it is part of the label ((四)无 / 法提供)."""
    cfg = settings()
    footers = [re.compile(p) for p in cfg.get("footers", [])]
    for p in cfg.get("split_footers", []):   # a page number broken over two lines: one line
        text = re.sub(p, lambda m: " ".join(m.groups()), text)
    out: list[Item] = []
    ln = 0
    page = -1
    for page_text in text.split("\f"):
        page += 1
        for line in page_text.split("\n"):
            ln += 1
            blank = line
            for rx in footers:
                blank = rx.sub(lambda m: " " * max(2, len(m.group(0))), blank)
            if blank != line and not blank.strip():
                page += 1   # a page number alone: the page ends (form feeds may be gone)
            line = blank
            if _pipe_row(line, ln, page, out):
                continue
            toks = _unglue([(m.start(), m.group(0)) for m in re.finditer(r"[^\s\u3000]+", line)])
            kinds = [is_value_text(t) for _, t in toks]
            if not all(kinds):
                kinds = [k and not _is_word_blank(t) for (_, t), k in zip(toks, kinds)]
            frag: list[tuple[int, str]] = []
            for k, ((x, t), is_v) in enumerate(zip(toks, kinds)):
                if k and (x - (toks[k - 1][0] + len(toks[k - 1][1])) >= 2 or "\u3000" in
                          line[toks[k - 1][0] + len(toks[k - 1][1]):x]) and frag:
                    out.append(Item("F", " ".join(f for _, f in frag), ln, x=frag[0][0], page=page))
                    frag = []
                if is_v:
                    if frag:
                        out.append(Item("F", " ".join(f for _, f in frag), ln, x=frag[0][0], page=page))
                        frag = []
                    out.append(Item("V", t, ln, x=x + len(t) / 2, page=page))
                else:
                    frag.append((x, t))
            if frag:
                out.append(Item("F", " ".join(f for _, f in frag), ln, x=frag[0][0], page=page))
    for i, it in enumerate(out):
        it.pos = i
    return out


_MD_RULE = re.compile(r"^\s*\|?(\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*$")


def _pipe_row(line: str, ln: int, page: int, out: list[Item]) -> bool:
    """A Markdown table row (`| 四、结转下年度继续办理 |  |  | 0 | 0 |  | 0 |`) keeps every
    field, empty ones too: its labels become fragments and, after its last label, every
    field a value token, an empty field a blank ("") — so a row with blanks keeps its
    columns (value_rows drops the empty label columns in front of them). The rule line
    under a header is skipped. False when the line is not a pipe row."""
    s = line.strip()
    if not s.startswith("|") or s.count("|") < 3:
        return False
    if _MD_RULE.match(s):
        return True
    fields, x = [], line.index("|") + 1
    for f in s.strip("|").split("|"):
        fields.append((x + len(f) - len(f.lstrip()), f.strip()))
        x += len(f) + 1
    kinds = [bool(t) and is_value_text(t) and not _is_word_blank(t) for _, t in fields]
    last_label = max((k for k, (_, t) in enumerate(fields) if t and not kinds[k]), default=-1)
    if not any(kinds[last_label + 1:]):
        for x, t in fields:     # a header or label row: its words, as on a line
            if t:
                out.append(Item("F", t, ln, x=x, page=page))
        return True
    for k, (x, t) in enumerate(fields):
        if k <= last_label:
            if t:
                out.append(Item("F", t, ln, x=x, page=page))
        else:
            out.append(Item("V", t, ln, x=x + len(t) / 2, page=page))
    return True


_GLUED = re.compile(r"^(.*[\u4e00-\u9fff”’」）)])(\d+)$")


def _unglue(toks: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """A row's first value glued to the end of its label (`3.危及“三安全一稳定”0`: a wide
    label runs into its first column in pdfplumber's layout text) split off, on a line
    whose other tokens after it are all values. Not after 第/年/月/日/条/项 (第20, a date)."""
    out = list(toks)
    for k in range(len(out) - 1, -1, -1):
        x, t = out[k]
        m = _GLUED.match(t)
        rest = [u for _, u in out[k + 1:]]
        if (m and m.group(1)[-1] not in "第年月日条项号" and len(rest) >= 2
                and all(is_value_text(u) for u in rest) and not is_value_text(t)):
            out[k:k + 1] = [(x, m.group(1)), (x + len(m.group(1)), m.group(2))]
            break
    return out


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


def _is_word_blank(text: str) -> bool:
    """A blank mark that is also a word (无, 空)."""
    return parse_value(text) == (True, None) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


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
            got = {name: {kk: _value(it) for r, row in enumerate(rs) for kk, it in zip(keys[owners[r]], row)}
                   for name, rs in orders.items()}
            score = {name: _own_balance(v, tpl) for name, v in got.items()}
            best = max(score, key=score.get)
            if score["rows"] == score["columns"]:
                doubt |= {kk for kk in got["rows"] if got["rows"][kk] != got["columns"][kk]}
            out += [ValueRow(list(row), True, at=spans[owners[r]].first) for r, row in enumerate(orders[best])]
            blocks += 1
        else:
            out += [v for it in run for v in [by_first.get(it.pos)] if v is not None]
        k = e
    return out, doubt, blocks


def chunked_rows(items: list[Item], spans: list[RowSpan], keys: list[list[str]], tpl: Template
                 ) -> tuple[list[ValueRow], set[str]] | None:
    """A table printed one value per cell, in chunks of rows (pdfminer: each page's rows,
    column by column, the first column maybe among the labels; pypdfium2: the whole
    table): the values are cut into the smallest chunks whose values all come before the
    next chunk's first label, each chunk read row- or column-major as its rows' own
    equations prefer. None unless the table prints exactly one value per cell of its
    labelled rows and some chunk holds several rows; also the keys two orders that tie
    disagree on."""
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
            got = {name: {kk: _value(it) for r, row in enumerate(rs) for kk, it in zip(keys[a + r], row)}
                   for name, rs in orders.items()}
            score = {name: _own_balance(v, tpl) for name, v in got.items()}
            best = max(score, key=score.get)
            if score["rows"] == score["columns"]:
                doubt |= {kk for kk in got["rows"] if got["rows"][kk] != got["columns"][kk]}
        out += [ValueRow(list(row), True, at=spans[a + r].first) for r, row in enumerate(orders[best])]
        a = b
    return (out, doubt) if several else None


def _own_balance(values: dict, tpl: Template) -> int:
    """Held minus broken equations among those whose every term is in `values` (a
    block's row totals; a partial column sum says nothing)."""
    score = 0
    for e in tpl.expand_equations(None):
        terms = e.lhs + e.rhs
        if all(t in values for t in terms):
            d = sum(values[t] or 0 for t in e.lhs) - sum(values[t] or 0 for t in e.rhs)
            score += 1 if abs(d) < 1e-6 else -1
    return score


# -- 3. value rows -> printed rows ---------------------------------------------------------------

def _windows_cost(vrows: list[ValueRow], spans: list[RowSpan]) -> list[list[int]]:
    """0 when a value row lies in its row's window (label to the next row's label), else 1."""
    out = []
    for v in vrows:
        c = []
        for k, s in enumerate(spans):
            end = spans[k + 1].first if k + 1 < len(spans) else 1 << 30
            c.append(0 if s.first <= v.pos < end else 1)
        out.append(c)
    return out


def assignments(cost: list[list[int]], cap: int) -> tuple[int, list[list[int]], bool]:
    """All cheapest monotone injective maps of value rows to printed rows (up to `cap`):
    (cost, maps, complete)."""
    K = len(cost)
    R = len(cost[0]) if cost else 0
    INF = 1 << 30
    # f[k][r]: cheapest cost placing value rows k.. on printed rows r..
    f = [[INF] * (R + 1) for _ in range(K + 1)]
    for r in range(R + 1):
        f[K][r] = 0
    for k in range(K - 1, -1, -1):
        for r in range(R - 1, -1, -1):
            f[k][r] = min(f[k][r + 1], cost[k][r] + f[k + 1][r + 1] if f[k + 1][r + 1] < INF else INF)
    best = f[0][0]
    maps: list[list[int]] = []
    complete = True

    def walk(k: int, r: int, acc: list[int], budget: int) -> None:
        nonlocal complete
        if len(maps) >= cap:
            complete = False
            return
        if k == K:
            maps.append(list(acc))
            return
        for rr in range(r, R - (K - k) + 1):
            c = cost[k][rr]
            if c + f[k + 1][rr + 1] <= budget:
                acc.append(rr)
                walk(k + 1, rr + 1, acc, budget - c)
                acc.pop()
    if best < INF:
        walk(0, 0, [], best)
    return best, maps, complete


def effect_assignments(cost: list[list[int]], zero: list[bool], cap: int) -> list[list[int]] | None:
    """The cheapest monotone maps of value rows to printed rows, one per distinct placement
    of the value rows that are not all zeros (`zero[k]`): zero rows and blank rows balance
    alike, so where the zero rows go among the rest changes no equation. A table whose
    blank rows print nothing, all labels before all values, has C(rows, value rows)
    maps; it has only C(rows, non-zero value rows) placements the equations can tell
    apart. Each placement comes with one map (its zero rows as early as they fit). None
    when there are more than `cap` placements."""
    from functools import lru_cache
    K = len(cost)
    R = len(cost[0]) if cost else 0
    INF = 1 << 30
    f = [[INF] * (R + 1) for _ in range(K + 1)]
    for r in range(R + 1):
        f[K][r] = 0
    for k in range(K - 1, -1, -1):
        for r in range(R - 1, -1, -1):
            f[k][r] = min(f[k][r + 1], cost[k][r] + f[k + 1][r + 1] if f[k + 1][r + 1] < INF else INF)
    if not K or f[0][0] >= INF:
        return None

    class TooMany(Exception):
        pass

    @lru_cache(maxsize=None)
    def comp(k: int, r: int, budget: int) -> frozenset:
        if k == K:
            return frozenset({()})
        out = set()
        for rr in range(r, R - (K - k) + 1):
            c = cost[k][rr]
            if c + f[k + 1][rr + 1] <= budget:
                for t in comp(k + 1, rr + 1, budget - c):
                    out.add(t if zero[k] else (rr,) + t)
                    if len(out) > cap:
                        raise TooMany
        return frozenset(out)

    try:
        placements = sorted(comp(0, 0, f[0][0]))
    except TooMany:
        return None
    nz = [k for k in range(K) if not zero[k]]

    def first_map(fixed: dict[int, int]) -> list[int] | None:
        def walk(k: int, r: int, budget: int, acc: list[int]) -> list[int] | None:
            if k == K:
                return list(acc)
            cands = [fixed[k]] if k in fixed else range(r, R - (K - k) + 1)
            for rr in cands:
                if rr < r:
                    return None
                c = cost[k][rr]
                if c + f[k + 1][rr + 1] <= budget:
                    acc.append(rr)
                    got = walk(k + 1, rr + 1, budget - c, acc)
                    acc.pop()
                    if got is not None:
                        return got
            return None
        return walk(0, 0, f[0][0], [])

    maps = []
    for t in placements:
        mp = first_map(dict(zip(nz, t)))
        if mp is not None:
            maps.append(mp)
    return maps or None


# -- equations -------------------------------------------------------------------------------

def balance(values: dict, tpl: Template) -> tuple[int, int, set[str]]:
    """(holding, broken, keys of the broken) balance equations of the tables these values
    belong to, over the keys present (an absent term is left out, as the solver does;
    blank = 0)."""
    tables = {k.split("/")[0] for k in values}
    held = broken = 0
    keys: set[str] = set()
    for e in tpl.expand_equations(set(values)):
        if not all(k.split("/")[0] in tables for k in e.lhs + e.rhs):
            continue
        lhs = sum((values[k] or 0) for k in e.lhs)
        rhs = sum((values[k] or 0) for k in e.rhs)
        if abs(lhs - rhs) < 1e-6:
            held += 1
        else:
            broken += 1
            keys.update(e.lhs + e.rhs)
    return held, broken, keys


def _doubt_broken(out: StreamTable, keys: set[str]) -> None:
    """Cells of a broken equation in a table read from a stream: a printed inconsistency,
    or values dealt to the wrong column or row; either way a person looks."""
    p = float(settings().get("broken_equation_placement", 0.9))
    for k in keys & set(out.cells):
        out.placement[k] = min(out.placement.get(k, 1.0), p)


def _max_broken(kind: str) -> int:
    """Equations one printed inconsistency may break in this table; more mean the
    alignment, not the print, is wrong."""
    return int(settings().get("max_broken_equations", {}).get(kind, 1))


def _value(it: Item):
    return parse_value(it.text)[1]


def place_by_equations(rows: list[tuple[list[str], list[Item]]], fixed: dict, tpl: Template
                       ) -> dict[str, tuple[Item | None, float]] | None:
    """Rows printed with fewer values than columns on text without geometry (`-raw`,
    pypdfium2, the default mode drop empty cells): each row's tokens keep their order,
    so a placement is a choice of columns for them. Placements whose row's own equations
    (row total = sum of parts) hold are grouped by what they mean to the equations
    (blank = 0); the groups of all rows are combined to hold the most equations with the
    `fixed` cells (the table's complete rows). Per key: the token placed there (None: a
    blank) and its placement probability: `equation_placed` when every best placement
    puts the same value there, else 1 / the number of values they put there (a 0 and a
    blank balance alike, so which zeros were printed is often a guess). None when the
    combinations exceed `equation_placements_max`."""
    from itertools import combinations, product
    cfg = settings()
    cap = int(cfg.get("equation_placements_max", 20000))
    sure = float(cfg.get("equation_placed", 0.9))
    all_keys = set(fixed) | {k for ks, _ in rows for k in ks}
    eqs = [e for e in tpl.expand_equations(all_keys)
           if {k.split("/")[0] for k in e.lhs + e.rhs} <= {k.split("/")[0] for k in all_keys}]
    classes: list[list[list[tuple]]] = []   # per row: groups of placements (tuples of values)
    for ks, toks in rows:
        W, vals = len(ks), [_value(t) for t in toks]
        if len(toks) > W:
            return None
        own = [e for e in eqs if set(e.lhs + e.rhs) <= set(ks)]
        idx = {k: c for c, k in enumerate(ks)}
        places = []
        for cols in combinations(range(W), len(toks)):
            v: list = [None] * W
            for c, x in zip(cols, vals):
                v[c] = x
            places.append((cols, tuple(v)))
        held = [p for p in places if all(abs(sum(p[1][idx[k]] or 0 for k in e.lhs)
                                             - sum(p[1][idx[k]] or 0 for k in e.rhs)) < 1e-6 for e in own)]
        groups: dict[tuple, list] = {}
        for p in held or places:
            groups.setdefault(tuple(x or 0 for x in p[1]), []).append(p)
        classes.append(list(groups.values()))
    n = 1
    for g in classes:
        n *= len(g)
    if n > cap:
        return None
    rel = [e for e in eqs if any(k in e.lhs + e.rhs for ks, _ in rows for k in ks)]
    scored = []
    for combo in product(*[range(len(g)) for g in classes]):
        vals = dict(fixed)
        for (ks, _), g, c in zip(rows, classes, combo):
            vals.update(zip(ks, g[c][0][1]))
        held = sum(abs(sum(vals.get(k) or 0 for k in e.lhs) - sum(vals.get(k) or 0 for k in e.rhs)) < 1e-6
                   for e in rel)
        scored.append((held, combo))
    top = max(h for h, _ in scored)
    best = [c for h, c in scored if h == top]
    out: dict[str, tuple[Item | None, float]] = {}
    for r, ((ks, toks), g) in enumerate(zip(rows, classes)):
        seen: dict[int, set] = {c: set() for c in range(len(ks))}
        for combo in best:
            for cols, v in g[combo[r]]:
                for c in range(len(ks)):
                    seen[c].add("∅" if v[c] is None else v[c])
        cols = g[best[0][r]][0][0]
        at = dict(zip(cols, toks))
        for c, k in enumerate(ks):
            out[k] = (at.get(c), sure if len(seen[c]) == 1 else 1.0 / len(seen[c]))
    return out


# -- the table decoders -----------------------------------------------------------------------

def decode_requests(text: str, tpl: Template, sim) -> StreamTable | None:
    """The requests table from flattened text, or None when the stream cannot be read
    (no title, no label rows, a value run that cannot be cut into rows). Read by its
    labels first; a table whose values are exactly one per cell of a template but whose
    labels stand apart from them (pdfminer) is read as a whole block when that reading
    balances and the labels' does not (`whole_block`)."""
    part = region(text, "requests")
    if part is None:
        return None
    items = tokens(part)
    by_labels = _requests_by_labels(items, tpl, sim)
    if by_labels is not None and by_labels.sure and balance(
            {k: None if c is None else parse_value(c.text)[1] for k, c in by_labels.cells.items()}, tpl)[1] == 0:
        return by_labels
    block = whole_block([it for it in items if it.kind == "V"], tpl)
    if block is None:
        spilled = _spilled(text, tpl)
        block = whole_block(spilled[0], tpl) if spilled else None
    if block is None:
        return by_labels
    if by_labels is None:
        # no label reading to compare with: offered only when one reading balances best
        # (else the line-based reading, if any, stands undoubted by it)
        return block if block.readings == 1 else None
    if (block.sure and not by_labels.sure) or len(block.placement) < len(by_labels.placement):
        return block
    return by_labels


def whole_block(vals: list[Item], tpl: Template) -> StreamTable | None:
    """The requests table printed one value per cell, labels elsewhere: pdfminer prints a
    page's rows column by column (one text box a value, boxes ordered by column), so the
    table's values are chunks of consecutive rows (pages), each chunk row- or
    column-major. When the values number exactly rows × columns of one template (2019:
    23 rows, 2021: 25), every cut into at most `block_max_chunks` chunks and order is
    tried; the readings holding the most balance equations win. Cells on which winning
    readings disagree are doubtful (1 / the values they put there); a winning reading
    that leaves equations broken is doubtful where broken (more than a misprint breaks:
    every cell). None when the count fits no template."""
    from itertools import combinations, product
    cfg = settings()
    cols = [c.key for c in tpl.request_columns]
    W = len(cols)
    seqs = _block_rows(tpl)
    extra = int(cfg.get("block_max_extra", 8))
    name = next((n for n, ks in seqs.items() if 0 <= len(vals) - len(ks) * W <= extra), None)
    if name is None or not W:
        return None
    keyed = seqs[name]
    R = len(keyed)
    keys = [f"requests/{k}/{c}" for k in keyed for c in cols]     # row-major cell order
    at = {k: i for i, k in enumerate(keys)}
    eqs = [([at[k] for k in e.lhs], [at[k] for k in e.rhs]) for e in tpl.expand_equations(set(keys))
           if all(k in at for k in e.lhs + e.rhs)]
    nums_all = [_value(it) for it in vals]
    cands: dict[tuple, tuple] = {}     # outcome (values row-major) -> (order: value index per cell, chunks)
    max_chunks = int(cfg.get("block_max_chunks", 3))
    for off, n_cut in product(range(len(vals) - R * W + 1), range(max_chunks)):
        nums = nums_all[off:off + R * W]
        for cuts in combinations(range(1, R), n_cut):
            bounds = [0, *cuts, R]
            for orders in product((False, True), repeat=len(bounds) - 1):
                order = [0] * (R * W)
                k = 0
                chunks = []
                for (a, b), by_col in zip(zip(bounds, bounds[1:]), orders):
                    if by_col and b - a == 1:
                        by_col = False
                    chunks.append((a, b, by_col))
                    cells = ([(r, c) for c in range(W) for r in range(a, b)] if by_col
                             else [(r, c) for r in range(a, b) for c in range(W)])
                    for r, c in cells:
                        order[r * W + c] = k
                        k += 1
                cands.setdefault(tuple(nums[i] for i in order), ([off + i for i in order], chunks))

    def held(v) -> int:
        return sum(abs(sum(v[i] or 0 for i in lhs) - sum(v[i] or 0 for i in rhs)) < 1e-6 for lhs, rhs in eqs)
    scored = [(held(v), v) for v in cands]
    top = max(h for h, _ in scored)
    best = [v for h, v in scored if h == top]
    order, chunks = cands[best[0]]

    def swap(v, c1, c2, a=0, b=R):
        v = list(v)
        for r in range(a, b):
            v[r * W + c1], v[r * W + c2] = v[r * W + c2], v[r * W + c1]
        return tuple(v)
    # a chunk read column by column trusts the boxes' left-to-right order, which the row
    # totals cannot check: two part columns swapped balance alike (pdfminer may print
    # 商业企业 before 自然人); such cells are doubtful
    # columns the equations cannot tell apart (a whole-table swap balances alike)
    alike = [(c1, c2) for c1, c2 in combinations(range(W), 2) if held(swap(best[0], c1, c2)) == top]
    swapped: set[int] = set()
    for a, b, by_col in chunks:
        for c1, c2 in alike if by_col else ():
            swapped |= {r * W + c for r in range(a, b) for c in (c1, c2)
                        if best[0][r * W + c1] != best[0][r * W + c2]}
    out = StreamTable("requests", template=name, readings=len(best))
    for n, k in enumerate(keys):
        it = vals[order[n]]
        out.cells[k] = Cell(row=it.line, col=n % W, text=it.text)
        seen = {"∅" if v[n] is None else v[n] for v in best}
        if len(seen) > 1 or n in swapped:
            out.placement[k] = 1.0 / max(2, len(seen))
    if len(best) > 1:
        out.warnings.append(f"requests: {len(best)} readings of the value block balance alike; "
                            f"{len(out.placement)} cells doubtful")
    got = dict(zip(keys, best[0]))
    _, broken, in_broken = balance(got, tpl)
    _doubt_broken(out, in_broken)
    if broken > _max_broken("requests"):
        for k in out.cells:
            out.placement[k] = min(out.placement.get(k, 1.0), float(cfg.get("doubtful", 0.5)))
        out.warnings.append(f"requests: value block leaves {broken} equations broken; cells doubtful")
    out.warnings.insert(0, "requests: values read as one block, one per cell, labels apart (chunks of rows, "
                           "row- or column-major, chosen by the balance equations)")
    return out


def _block_rows(tpl: Template) -> dict[str, list[str]]:
    """The requests rows each template prints, in order (2021: 其他处理's three rows; 2019: 其他)."""
    rows = list(tpl.request_rows)
    sub_other = {r.key for r in rows if r.parent == "其他处理"}
    return {"2021": [r.key for r in rows if r.key != "other"],
            "2019": [r.key for r in rows if r.key not in sub_other]}


def _spilled(text: str, tpl: Template) -> tuple[list[Item], list[Item]] | None:
    """pdfminer may print the requests table's last value boxes after the appeals title,
    before the appeals table's own values (its last ones). When the requests region's
    values plus the appeals region's values but its last (groups × columns) number
    exactly one template's requests cells, those are the requests values (in that
    order) and the last ones the appeals row: (requests values, appeals values); else None."""
    req, app = region(text, "requests"), region(text, "appeals")
    if req is None or app is None:
        return None
    n_app = len(tpl.appeal_groups) * len(tpl.appeal_columns)
    rv = [it for it in tokens(req) if it.kind == "V"]
    av = [it for it in tokens(app) if it.kind == "V"]
    W = len(tpl.request_columns)
    if len(av) <= n_app or not any(len(ks) * W == len(rv) + len(av) - n_app for ks in _block_rows(tpl).values()):
        return None
    return rv + av[:-n_app], av[-n_app:]


def _requests_by_labels(items: list[Item], tpl: Template, sim) -> StreamTable | None:
    """The requests table read by its row labels (the alignment of the module docstring)."""
    cfg = settings()
    cols = [c.key for c in tpl.request_columns]
    W = len(cols)
    rows = list(tpl.request_rows)
    frags = [it for it in items if it.kind == "F"]
    # 其他处理: a group label above three rows (2021) or one row of its own (2019, hybrids)
    parents = {normalize(r.parent) for r in rows if r.parent}
    sub_other = [j for j, r in enumerate(rows) if r.parent == "其他处理"]
    own_other = next((j for j, r in enumerate(rows) if r.key == "other"), None)

    def row_sim(t: str, j: int) -> float:
        return sim(t, f"requests.row:{rows[j].key}")
    skip = [float(cfg.get("skip_expected", 0.4)) if r.expected else float(cfg.get("skip_optional", 0.05))
            for r in rows]
    frags = [f for f in frags if normalize(f.text) not in parents - {"其他处理"}]
    spans = label_rows(frags, rows, row_sim, skip)
    if any(s.j in sub_other for s in spans):
        spans = [s for s in spans if s.j != own_other]
    if len(spans) < int(cfg.get("min_rows", 5)):
        return None
    vrows = value_rows(items, W, {f.pos for sp in spans for f in sp.frags})
    if vrows is not None:
        place_by_columns(vrows, W, [it for it in items if it.kind == "F"])
    vals = [it for it in items if it.kind == "V"]
    block_doubt: set[str] = set()
    blocks = 0
    span_keys = [[f"requests/{rows[s.j].key}/{c}" for c in cols] for s in spans]
    chunked = chunked_rows(items, spans, span_keys, tpl)
    if chunked is not None:
        vrows, block_doubt = chunked
    elif vrows is not None and spans:
        vrows, block_doubt, blocks = label_blocks(items, vrows, spans, span_keys, tpl)
    if (vrows is None or any(not v.full for v in vrows)) and vals and len(vals) == len(spans) * W:
        # one value per cell but not cut into rows: a block printed row by row or column
        # by column (pypdfium2); the equations choose the order, a tie leaves doubt
        vrows, block_doubt = _block_order(vals, [rows[s.j].key for s in spans], cols, tpl)
    if vrows is None or not vrows:
        return None
    displaced = False
    if len(vrows) > len(spans):
        # more value rows than rows found in order: some labels were printed elsewhere
        # (pdftotext's default mode prints a merged cell's labels after the values)
        spans = present_rows(frags, rows, row_sim)
        if any(s.j in sub_other for s in spans):
            spans = [s for s in spans if s.j != own_other]
        if len(vrows) > len(spans):
            return None
        displaced = True
    out = StreamTable("requests", template="2019" if any(s.j == own_other for s in spans) else "2021")
    keyed = [rows[s.j].key for s in spans]
    expected = [r.key for r in rows if r.expected and (out.template == "2021" or r.parent != "其他处理")]
    if out.template == "2019":
        expected = [k for k in expected if k != "other"] + ["other"]
    for s in spans:
        out.labels.append({"text": s.text, "class": f"requests.row:{rows[s.j].key}", "p": round(s.score, 4),
                           "context": {"table": "requests", "header": False, "stream": True}})
    # displaced labels say nothing about where a value row goes: every order costs alike
    cost = [[0] * len(spans) for _ in vrows] if displaced else _windows_cost(vrows, spans)
    if len(vrows) > 1 and spans and all(v.pos > spans[-1].first for v in vrows):
        cost = [[0] * len(spans) for _ in vrows]   # all values after all labels: nor do these
    best, maps, complete = assignments(cost, int(cfg.get("max_alignments", 500)))
    if not maps:
        return None
    zero = [v.full and all(_value(it) in (0, None) for it in v.slots if it is not None) for v in vrows]
    free_doubt = False
    if not complete and any(zero):
        # too many maps to list: list one per placement of the rows that are not all zeros
        by_effect = effect_assignments(cost, zero, int(cfg.get("max_effect_placements", 10000)))
        if by_effect is not None:
            maps, complete, free_doubt = by_effect, True, True
    outcomes: dict[tuple, list[int]] = {}
    for mp in maps:
        got = _outcome(mp, vrows, keyed, cols)
        outcomes.setdefault(tuple(sorted(got.items())), mp)
    scored = sorted(((balance(dict(k), tpl)[0], k, mp) for k, mp in outcomes.items()), key=lambda x: -x[0])
    top = [x for x in scored if x[0] == scored[0][0]]
    mp = top[0][2]
    chosen = dict(top[0][1])
    partial: list[tuple[int, str]] = []
    for ki, ri in enumerate(mp):
        v = vrows[ki]
        key = keyed[ri]
        if not v.full:
            partial.append((ki, key))
            continue
        for c, it in zip(cols, v.slots):
            out.cells[f"requests/{key}/{c}"] = None if it is None else Cell(row=it.line, col=cols.index(c),
                                                                             text=it.text)
            if v.doubt < 1:
                out.placement[f"requests/{key}/{c}"] = v.doubt
    if partial:
        # rows that lost their empty cells: columns chosen by the equations, never sure
        placed = place_by_equations([([f"requests/{key}/{c}" for c in cols], vrows[ki].items)
                                     for ki, key in partial], chosen, tpl)
        for ki, key in partial:
            for c in cols:
                k = f"requests/{key}/{c}"
                if placed is None:
                    out.missing[k] = (f"row printed {len(vrows[ki].items)} values for {W} columns: "
                                      "their columns cannot be told apart")
                    continue
                it, p = placed[k]
                out.cells[k] = None if it is None else Cell(row=it.line, col=cols.index(c), text=it.text)
                out.placement[k] = p
                chosen[k] = None if it is None else _value(it)
        if placed is not None:
            out.warnings.append(f"requests: {len(partial)} rows printed fewer values than columns; "
                                "their columns chosen by the balance equations (doubtful)")
    used = {keyed[ri] for ri in mp}
    if free_doubt:
        # which of the rows the non-zero rows left free hold the zero rows is a guess
        taken = {keyed[ri] for ki, ri in enumerate(mp) if not zero[ki]}
        zero_cols = {c for ki, v in enumerate(vrows) if zero[ki] for c, it in zip(cols, v.slots) if it is not None}
        if any(zero) and len(keyed) - len(taken) > sum(zero):
            for key in keyed:
                if key not in taken:
                    for c in zero_cols:
                        out.placement[f"requests/{key}/{c}"] = float(cfg.get("doubtful", 0.5))
            out.warnings.append(f"requests: {sum(zero)} rows of zeros among {len(keyed) - len(taken)} "
                                "rows: which of them are blank is a guess; doubtful")
    for key in keyed:
        if key not in used:
            for c in cols:
                out.cells[f"requests/{key}/{c}"] = None   # the row printed nothing: blanks
                if blocks:   # or its values were printed in a block the text lost or moved
                    out.placement[f"requests/{key}/{c}"] = _label_only()
    for key in expected:
        if key not in keyed:
            for c in cols:
                out.missing[f"requests/{key}/{c}"] = "row not found in the flattened text"
    # doubt: cells on which equally good outcomes disagree, or any cell when the search
    # was cut short; all cells when the chosen outcome leaves many equations broken
    for k in block_doubt:
        out.placement[k] = float(cfg.get("doubtful", 0.5))
    n_alt = len(top)
    if not complete:
        for k in out.cells:
            out.placement[k] = float(cfg.get("doubtful", 0.5))
        out.warnings.append("requests: stream alignment ambiguous (too many readings); cells doubtful")
    elif n_alt > 1:
        for k in out.cells:
            vs = {dict(t[1]).get(k, "∅") for t in top}
            if len(vs) > 1:
                out.placement[k] = 1.0 / len(vs)
        out.warnings.append(f"requests: {n_alt} alignments of values to rows fit alike; "
                            f"{len(out.placement)} cells doubtful")
    _, broken, in_broken = balance(chosen, tpl)
    _doubt_broken(out, in_broken)
    if broken > _max_broken("requests"):
        for k in out.cells:
            out.placement[k] = min(out.placement.get(k, 1.0), float(cfg.get("doubtful", 0.5)))
        out.warnings.append(f"requests: stream alignment leaves {broken} equations broken; cells doubtful")
    return out


def _block_order(vals: list[Item], keyed: list[str], cols: list[str], tpl: Template
                 ) -> tuple[list[ValueRow], set[str]]:
    """A block of len(keyed) × len(cols) values read row-major or column-major: the order
    under which more requests equations hold, and the keys the two orders disagree on
    when they tie."""
    R, W = len(keyed), len(cols)
    orders = {"rows": [vals[r * W:(r + 1) * W] for r in range(R)],
              "columns": [[vals[c * R + r] for c in range(W)] for r in range(R)]}
    got = {name: {f"requests/{keyed[r]}/{c}": _value(it) for r, row in enumerate(rs) for c, it in zip(cols, row)}
           for name, rs in orders.items()}
    score = {name: balance(v, tpl)[0] for name, v in got.items()}
    best = max(score, key=score.get)
    doubt: set[str] = set()
    if len(set(score.values())) == 1:
        doubt = {k for k in got["rows"] if got["rows"][k] != got["columns"][k]}
    return [ValueRow(list(r), True) for r in orders[best]], doubt


def _outcome(mp: list[int], vrows: list[ValueRow], keyed: list[str], cols: list[str]) -> dict:
    vals = {}
    for ki, ri in enumerate(mp):
        if vrows[ki].full:
            for c, it in zip(cols, vrows[ki].slots):
                vals[f"requests/{keyed[ri]}/{c}"] = None if it is None else _value(it)
    used = set(mp)
    for ri, key in enumerate(keyed):
        if ri not in used:
            for c in cols:
                vals[f"requests/{key}/{c}"] = None
    return vals


_SECTION = re.compile(r"第\s*二十\s*条\s*第\s*[（(]?\s*([一二三四五六七八九十]+)\s*[)）]?\s*项")


def decode_active(text: str, tpl: Template, sim) -> StreamTable | None:
    """The active table, section by section (第二十条第（X）项: a few rows × columns each):
    the same alignment as the requests table within each section's stretch of text."""
    cfg = settings()
    part = region(text, "active")
    if part is None:
        return None
    items = tokens(part)
    marks = [(k, m.group(1)) for k, it in enumerate(items) if it.kind == "F" for m in [_SECTION.search(it.text)] if m]
    by_num = {m.group(1): sec for sec in tpl.sections for m in [_SECTION.search(sec.label)] if m}
    out = StreamTable("active", template=tpl.name)
    skip = float(cfg.get("skip_expected", 0.4))
    for n, (k, num) in enumerate(marks):
        sec = by_num.get(num)
        if sec is None:
            continue
        end = marks[n + 1][0] if n + 1 < len(marks) else len(items)
        part_items = items[k + 1:end]
        rows, cols = list(sec.rows), [c.key for c in sec.columns]
        keys = [[f"active/{sec.key}.{r.key}/{c}" for c in cols] for r in rows]

        def row_sim(t: str, j: int, sec=sec, rows=rows) -> float:
            return sim(t, f"active.row:{sec.key}.{rows[j].key}")
        spans = label_rows([it for it in part_items if it.kind == "F"], rows, row_sim, [skip] * len(rows))
        if not spans:
            continue
        vrows = value_rows(part_items, len(cols), {f.pos for sp in spans for f in sp.frags})
        if vrows is None or len(vrows) > len(spans):
            continue
        place_by_columns(vrows, len(cols), [it for it in part_items if it.kind == "F"])
        if any(not v.full for v in vrows):
            continue
        best, maps, complete = assignments(_windows_cost(vrows, spans), int(cfg.get("max_alignments", 500)))
        if not maps:
            continue
        outcomes = {}
        for mp in maps:
            vals = {}
            for ki, ri in enumerate(mp):
                vals.update({kk: None if it is None else _value(it) for kk, it in zip(keys[spans[ri].j], vrows[ki].slots)})
            outcomes.setdefault(tuple(sorted(vals.items(), key=str)), mp)
        mp = next(iter(outcomes.values()))
        doubt = {kk for o in outcomes for kk, _ in o if len({dict(x).get(kk, "∅") for x in outcomes}) > 1}
        used = set()
        for ki, ri in enumerate(mp):
            used.add(ri)
            for kk, it in zip(keys[spans[ri].j], vrows[ki].slots):
                out.cells[kk] = None if it is None else Cell(row=it.line, col=0, text=it.text)
                if vrows[ki].doubt < 1:
                    out.placement[kk] = vrows[ki].doubt
        if len(used) < len(spans):
            # a row label with no values in its section: blanks, or values printed elsewhere
            # (pdfminer reads a section column by column); which rows got which values is
            # then a guess for the whole section
            for ri, sp in enumerate(spans):
                for kk in keys[sp.j]:
                    if ri not in used:
                        out.cells[kk] = None
                    out.placement[kk] = float(cfg.get("doubtful", 0.5))
        for kk in doubt if not complete or len(outcomes) > 1 else ():
            out.placement[kk] = float(cfg.get("doubtful", 0.5))
    alt = _active_by_windows(items, tpl, sim)
    if _sure_cells(alt) > _sure_cells(out):
        out = alt
    for kk in tpl.keys("active"):
        if kk not in out.cells:
            out.missing[kk] = "row not found in the flattened text"
    return out if out.cells else None


def _sure_cells(t: StreamTable) -> int:
    return sum(1 for k in t.cells if t.placement.get(k, 1.0) >= 1.0)


def _active_by_windows(items: list[Item], tpl: Template, sim) -> StreamTable:
    """The active table as one sequence of rows, every section's rows in template order,
    section titles ignored (pdftotext's default mode may print them after the rows): a
    row's values are the tokens between its label and the next row's label, placed when
    they are exactly one per column."""
    cfg = settings()
    seq = [(sec, r) for sec in tpl.sections for r in sec.rows]
    out = StreamTable("active", template=tpl.name)

    def row_sim(t: str, j: int) -> float:
        sec, r = seq[j]
        return sim(t, f"active.row:{sec.key}.{r.key}")
    spans = label_rows([it for it in items if it.kind == "F" and not _SECTION.search(it.text)], [r for _, r in seq],
                       row_sim, [float(cfg.get("skip_expected", 0.4))] * len(seq))
    for n, sp in enumerate(spans):
        sec, r = seq[sp.j]
        cols = [c.key for c in sec.columns]
        end = spans[n + 1].first if n + 1 < len(spans) else len(items)
        vals = [it for it in items[sp.first:end] if it.kind == "V"]
        keys = [f"active/{sec.key}.{r.key}/{c}" for c in cols]
        if len(vals) == len(cols):
            for kk, it in zip(keys, vals):
                out.cells[kk] = Cell(row=it.line, col=0, text=it.text)
        elif not vals:     # blanks, or values printed elsewhere
            for kk in keys:
                out.cells[kk] = None
                out.placement[kk] = _label_only()
    return out


def _label_only() -> float:
    return float(config("classify.yaml").get("label_only_row_placement", 0.9))


def decode_appeals(text: str, tpl: Template) -> StreamTable | None:
    """The appeals table: one value per group × column, in template order, when the
    table's text prints exactly that many values."""
    part = region(text, "appeals")
    if part is None:
        return None
    keys = [f"appeals/{g.key}/{c.key}" for g in tpl.appeal_groups for c in tpl.appeal_columns]
    items = tokens(part)
    vals = _by_x_if_one_band([it for it in items if it.kind == "V"])
    out = StreamTable("appeals", template=tpl.name)
    if len(vals) > len(keys) and (spilled := _spilled(text, tpl)) is not None:
        vals = spilled[1]     # the values before them are the requests table's (pdfminer)
        out.warnings.append("appeals: the values before the last 15 of its region belong to the requests table")
    if len(vals) < len(keys):
        slots = _appeals_by_pitch(items, vals, len(keys))
        probs = [float(settings().get("column_doubtful", 0.9))] * len(keys)
        heads = str(settings().get("appeals_header_chars", ""))
        if slots is None and vals and set(heads) <= set(part):
            # no geometry: the equations choose the columns (only under the table's own
            # header: a pre-2019 report's 行政复议数量 line is no appeals row)
            placed = place_by_equations([(keys, vals)], {}, tpl)
            if placed is None:
                return None
            slots, probs = [placed[k][0] for k in keys], [placed[k][1] for k in keys]
            out.warnings.append(f"appeals: {len(vals)} values for {len(keys)} columns; "
                                "their columns chosen by the balance equations (doubtful)")
        if slots is None:
            return None
        for k, it, p in zip(keys, slots, probs):
            out.cells[k] = None if it is None else Cell(row=it.line, col=keys.index(k), text=it.text)
            out.placement[k] = p
        vals = slots
    elif len(vals) != len(keys):
        return None
    else:
        lines = [it.line for it in vals]
        lifted = len(set(lines)) == 2 and min(lines.count(ln) for ln in set(lines)) == 1
        # one value alone on a line of its own (`5` over a wrapped `项`), no geometry to order
        # it by: it may belong anywhere in the row
        moved = _one_move(vals, keys, tpl, len(vals) if lifted else None)
        if moved is not None:
            vals, changed = moved
            for k in changed:
                out.placement[k] = float(settings().get("column_doubtful", 0.9))
            out.warnings.append("appeals: a value printed out of column order moved where the equations hold; "
                                "its group doubtful")
    for k, it in zip(keys, vals):
        out.cells[k] = None if it is None else Cell(row=it.line, col=keys.index(k), text=it.text)
    got = {k: None if it is None else _value(it) for k, it in zip(keys, vals)}
    _, broken, in_broken = balance(got, tpl)
    _doubt_broken(out, in_broken)
    if broken > _max_broken("appeals"):
        for k in keys:
            out.placement[k] = float(settings().get("doubtful", 0.5))
        out.warnings.append("appeals: stream values leave most equations broken; cells doubtful")
    return out



def _by_x_if_one_band(vals: list[Item]) -> list[Item]:
    """Values of one printed row spread over two or three adjacent lines (a cell whose
    number and unit wrap, `5` above `项`, lifts the number a line in `-layout`): left to
    right, when the text keeps geometry (values apart) and no two share a column."""
    lines = sorted({it.line for it in vals})
    if len(lines) < 2 or lines[-1] - lines[0] > 2:
        return vals
    xs = sorted(it.x for it in vals)
    if any(b - a < 2 for a, b in zip(xs, xs[1:])):
        return vals
    main = max(lines, key=lambda ln: sum(it.line == ln for it in vals))
    row = sorted((it.x for it in vals if it.line == main))
    if any(b - a < 3 for a, b in zip(row, row[1:])):
        return vals     # single-space separated: no geometry to order by
    return sorted(vals, key=lambda it: it.x)


def _appeals_by_pitch(items: list[Item], vals: list[Item], n: int) -> list[Item | None] | None:
    """The appeals row printed with empty cells, on text that keeps geometry (-layout):
    its n columns share the header's width evenly (one vertical header word each), so a
    value goes to the column its centre falls in. A guess about columns, so its cells
    are doubtful; None when the values are not on one line apart or two share a column."""
    if not vals or len({it.line for it in vals}) != 1:
        return None
    xs = [it.x for it in vals]
    if any(b - a < 3 for a, b in zip(xs, xs[1:])):
        return None
    head = [it for it in items if it.kind == "F" and it.pos < vals[0].pos]
    if not head:
        return None
    left = min(it.x for it in head)
    right = max(max(it.x + len(it.text) for it in head), max(xs) + 1)
    pitch = (right - left) / n
    cols = [min(n - 1, max(0, int((x - left) / pitch))) for x in xs]
    if cols != sorted(set(cols)):
        return None
    slots: list[Item | None] = [None] * n
    for c, it in zip(cols, vals):
        slots[c] = it
    return slots


def _one_move(vals: list[Item], keys: list[str], tpl: Template, reach: int | None = None
              ) -> tuple[list[Item], set[str]] | None:
    """The default mode of pdftotext may print an appeals value a few columns late (its
    header is vertical text, ordered by position). When the values as printed break
    equations and moving one value at most `appeals_max_move` places makes all of them
    hold, the reading of the shortest such move when one (a 0 may go anywhere among zeros,
    the shortest move is the likeliest), and the keys of the groups it touched or the
    balancing readings disagree on (doubtful); else None."""
    def broken(vs):
        return balance({k: _value(it) for k, it in zip(keys, vs)}, tpl)[1]
    if broken(vals) == 0:
        return None
    reach = int(settings().get("appeals_max_move", 3)) if reach is None else reach
    found: dict[tuple, tuple[int, list[Item]]] = {}
    for i in range(len(vals)):
        for j in range(max(0, i - reach), min(len(vals), i + reach + 1)):
            if i == j:
                continue
            vs = vals[:i] + vals[i + 1:]
            vs.insert(j, vals[i])
            if broken(vs) == 0:
                key = tuple(_value(it) for it in vs)
                if key not in found or abs(i - j) < found[key][0]:
                    found[key] = (abs(i - j), vs)
    if not found:
        return None
    # several moves balance (a 0 may go anywhere among zeros): the shortest is the reading
    # when it is one; the cells the balancing readings disagree on stay doubtful
    near = min(d for d, _ in found.values())
    best = [vs for d, vs in found.values() if d == near]
    if len(best) != 1:
        return None
    vs = best[0]
    groups = {k.rsplit("/", 1)[0] for k, a, b in zip(keys, vals, vs) if a is not b}
    groups |= {k.rsplit("/", 1)[0] for n, k in enumerate(keys) if len({v[n] for v in found}) > 1}
    return vs, {k for k in keys if k.rsplit("/", 1)[0] in groups}
