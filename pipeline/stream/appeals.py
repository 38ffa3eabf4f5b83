"""The appeals table from flattened text: one row of groups × columns, placed in order, by
the header's geometry, or by the balance equations when it lost empty cells; a value
printed out of column order moved where the equations hold (doubtful)."""
from __future__ import annotations

from ..model import Cell
from ..templates import Template
from .blanks import empty_table, read_rows
from .rows import ValueRow
from .equations import balance, judge, max_broken, place_by_equations
from .requests import spilled
from .tokens import Item, StreamTable, region, settings, tokens, value


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
    if len(vals) > len(keys) and (spill := spilled(text, tpl)) is not None:
        vals = spill[1]     # the values before them are the requests table's (pdfminer)
        out.warnings.append("appeals: the values before the last 15 of its region belong to the requests table")
    elif len(vals) > len(keys) and (one := one_page(vals, len(keys))) is not None:
        vals = one
        out.warnings.append("appeals: values on another page than the row's (a running header's year) left out")
    if len(vals) < len(keys):
        slots = _appeals_by_header_chars(items, vals, len(keys)) or _appeals_by_pitch(items, vals, len(keys))
        probs = [float(settings().get("column_doubtful", 0.9))] * len(keys)
        if slots is None and (counted := by_header_count(items, vals, tpl)) is not None:
            slots, probs = counted
            out.warnings.append(f"appeals: {len(vals)} values for {len(keys)} columns, printed among the header's "
                                "words: each placed under its column's header printed last before it "
                                f"({sum(p < 1 for p in probs)} cells doubtful)")
        heads = str(settings().get("appeals_header_chars", ""))
        if slots is None and set(heads) <= set(part) and (not vals or read_rows(out, [ValueRow(vals, False)], [keys],
                                                                           None, tpl) is not None):
            # printed empty, or one place for every value where all equations hold (blanks.py)
            return out if vals else empty_table(out, [keys])
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
            if p < 1:
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
    got = {k: None if it is None else value(it) for k, it in zip(keys, vals)}
    if judge(out, got, tpl, "appeals") > max_broken("appeals"):
        out.warnings.append("appeals: stream values leave most equations broken; cells doubtful")
    return out



def one_page(vals: list[Item], n: int) -> list[Item] | None:
    """The appeals row is one line of one page: when exactly one page of the region holds
    n values, those (the others are a running header's or page number's: `2024` of
    `某某局 2024 / 年政府信息公开工作年度报告` after the page's footer); else None."""
    pages: dict[int, list[Item]] = {}
    for it in vals:
        pages.setdefault(it.page, []).append(it)
    fit = [v for v in pages.values() if len(v) == n]
    return fit[0] if len(pages) > 1 and len(fit) == 1 else None


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


def by_header_count(items: list[Item], vals: list[Item], tpl: Template
                    ) -> tuple[list[Item | None], list[float]] | None:
    """The appeals row printed with empty cells among its header's words (pdftotext's default
    mode: each value a text block of its own, printed after the header cell above it; the
    three groups' headers repeat the same five column words). A column's k-th printed
    header (configs/classify.yaml `appeals_column_marks`: one character each) is group k's,
    so a run of values printed after some header cells, and before the next, belongs to those
    cells: the last of them in column order when the run holds fewer values than cells
    printed since the previous run (those cells doubtful: which of them the empty ones were
    is a guess), each its own when as many. Slots (group-major, as the keys) and their
    placement probabilities, or None unless every column's header is printed once per group,
    the values fall into at least two runs (one run after the whole header says nothing of
    where its values stand), some run holds as many values as cells (the sign that values
    follow their own header: pdfminer prints the whole header, then the values), no run
    holds more values than cells, the runs' cells follow each other in column order, and
    every balance equation holds."""
    cfg = settings()
    marks = dict(cfg.get("appeals_column_marks") or {})
    cols = [c.key for c in tpl.appeal_columns]
    G, W = len(tpl.appeal_groups), len(cols)
    if not marks or set(marks) != set(cols) or not vals:
        return None
    mark_col = {str(marks[c]): i for i, c in enumerate(cols)}
    at = {it.pos for it in vals}
    count = [0] * W
    since: list[int] = []                           # cells whose header printed since the last value
    runs: list[tuple[list[int], list[Item]]] = []
    for it in items:
        if it.kind == "F":
            for ch in it.text:
                c = mark_col.get(ch)
                if c is None:
                    continue
                count[c] += 1
                if count[c] > G:
                    return None
                since.append((count[c] - 1) * W + c)
        elif it.pos in at:
            if since or not runs:
                runs.append((sorted(since), [it]))
                since = []
            else:
                runs[-1][1].append(it)
    if count != [G] * W or len(runs) < 2 or not any(len(cells) == len(vs) for cells, vs in runs):
        return None     # no run of as many values as cells: no sign the values follow their headers
    n = G * W
    doubtful = float(cfg.get("doubtful", 0.5))
    slots: list[Item | None] = [None] * n
    probs = [1.0] * n
    last = -1
    for cells, vs in runs:
        if len(vs) > len(cells):
            return None
        take = cells[len(cells) - len(vs):]
        if take[0] <= last:
            return None
        for s, it in zip(take, vs):
            slots[s] = it
        if len(vs) < len(cells):
            for s in cells:
                probs[s] = doubtful
        last = take[-1]
    for s in since:         # header cells printed after the last value: blank, as far as the text says
        probs[s] = doubtful
    keys = [f"appeals/{g.key}/{c}" for g in tpl.appeal_groups for c in cols]
    if balance({k: None if it is None else value(it) for k, it in zip(keys, slots)}, tpl)[1]:
        return None
    return slots, probs


def _appeals_by_header_chars(items: list[Item], vals: list[Item], n: int) -> list[Item | None] | None:
    """The appeals row printed with empty cells under a vertical header that -layout prints
    character by character where each column stands (结 / 果 / 维 / 持): when the header's
    one-character fragments fall into exactly n columns, a value goes to the nearest, within
    half the gap to the next. None otherwise (the pitch or the equations decide)."""
    if not vals or len({it.line for it in vals}) != 1:
        return None
    xs = sorted(it.x + 1 for it in items if it.kind == "F" and it.pos < vals[0].pos
                and len(it.text) == 1 and "\u4e00" <= it.text <= "\u9fff")   # a wide character's centre
    groups: list[list[float]] = []
    for x in xs:
        if groups and x - groups[-1][-1] < 2:
            groups[-1].append(x)
        else:
            groups.append([x])
    if len(groups) != n:
        return None
    centres = [g[len(g) // 2] for g in groups]
    slots: list[Item | None] = [None] * n
    last = -1
    for it in vals:
        c = min(range(n), key=lambda k: abs(it.x - centres[k]))
        half = min(abs(centres[k] - centres[c]) for k in (c - 1, c + 1) if 0 <= k < n) / 2
        if c <= last or abs(it.x - centres[c]) > half:
            return None
        slots[c], last = it, c
    return slots


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
        return balance({k: value(it) for k, it in zip(keys, vs)}, tpl)[1]
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
                key = tuple(value(it) for it in vs)
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
