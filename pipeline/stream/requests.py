"""The requests table from flattened text: read by its row labels (rows, align), or, when
its values stand apart from its labels one per cell (pdfminer), as one block of values."""
from __future__ import annotations

from ..model import Cell
from ..normalize import normalize
from ..templates import Template, templates
from ..values import parse_value
from .blanks import blank_rows_sure, empty_table, read_rows
from .align import assignments, effect_assignments, windows_cost
from .equations import balance, judge, max_broken, misprinted, place_by_equations
from .rows import (ValueRow, chunked_rows, inline_anchors, label_blocks, label_rows, place_by_columns, present_rows,
                   value_rows)
from .foreign import drop_foreign
from .tokens import Item, StreamTable, label_only, region, settings, tokens, value
from .block import block_rows, lone_anchors, value_runs, whole_block
from .colruns import column_runs
from .wrapped import wrapped_boxes, wrapped_totals


# -- the table decoders -----------------------------------------------------------------------

def decode_requests(text: str, tpl: Template, sim) -> StreamTable | None:
    """The requests table from flattened text, or None when the stream cannot be read
    (no title, no label rows, a value run that cannot be cut into rows). Read by its
    labels first; a table whose values are exactly one per cell of a template but whose
    labels stand apart from them (pdfminer) is read as a whole block when that reading
    balances and the labels' does not (`whole_block`); one whose every value run is boxed
    with its column's header, page by page, by those headers when all equations hold
    (`column_runs`)."""
    part = region(text, "requests")
    if part is None:
        return None
    items = wrapped_boxes(wrapped_totals(drop_foreign(tokens(part), sim), len(tpl.request_columns)))
    by_labels = _requests_by_labels(items, tpl, sim, elsewhere=values_elsewhere(text, tpl))
    if by_labels is not None and by_labels.sure and balance(
            {k: None if c is None else parse_value(c.text)[1] for k, c in by_labels.cells.items()}, tpl)[1] == 0:
        return by_labels
    if by_labels is not None and by_labels.by_labels and not by_labels.missing and misprinted(
            {k: None if c is None else parse_value(c.text)[1] for k, c in by_labels.cells.items()}, tpl):
        return by_labels    # each row under its label; misprinted cells explain what breaks
    runs = column_runs(items, tpl, sim)
    if runs is not None and runs.broken == 0:
        return runs     # every run boxed with its header, every equation holding
    anchors = lone_anchors(items, tpl, sim)
    block = whole_block([it for it in items if it.kind == "V"], tpl, anchors, value_runs(items))
    if block is None:
        spill = spilled(text, tpl, sim)
        block = whole_block(spill[0], tpl, anchors) if spill else None
    if block is None:
        return by_labels if by_labels is not None else zero_table(items, tpl, sim)
    if by_labels is None:
        # no label reading to compare with: offered only when one reading balances best and,
        # when the region held values besides the block's, every equation holds (else the
        # line-based reading, if any, stands undoubted by it)
        # or, when several balance alike, their chunks end where the pages do (their
        # disagreements are doubtful cells)
        return block if (block.readings == 1 or block.paged) and not (block.broken and block.extra) else None
    if _rows(by_labels) - _rows(block):
        return by_labels    # the block reads a row sequence the printed labels contradict
    chosen, other = ((block, by_labels) if (block.sure and not by_labels.sure)
                     or len(block.placement) < len(by_labels.placement) else (by_labels, block))
    # the two readings of one text disagree on a cell, or the other doubts it: whichever
    # stands, that cell is doubtful (neither reading is sure, or the block would have won)
    doubtful = float(settings().get("doubtful", 0.5))
    for k, c in chosen.cells.items():
        if k in other.cells and _num(c) != _num(other.cells[k]):
            chosen.placement[k] = min(chosen.placement.get(k, 1.0), doubtful)
        elif k in other.placement:
            chosen.placement[k] = min(chosen.placement.get(k, 1.0), other.placement[k])
    return chosen


def _num(c):
    return None if c is None else parse_value(c.text)[1]


def _rows(t) -> set[str]:
    """The row keys a reading placed cells in ("requests/<row>")."""
    return {k.rsplit("/", 1)[0] for k in t.cells}


def spilled(text: str, tpl: Template, sim=None) -> tuple[list[Item], list[Item]] | None:
    """pdfminer may print the requests table's last value boxes after the appeals title,
    before the appeals table's own values (its last ones). When the requests region's
    values plus the appeals region's values but its last (groups × columns) number
    exactly one template's requests cells, those are the requests values (in that
    order) and the last ones the appeals row: (requests values, appeals values); else None.
    With `sim`, the requests region's values of another table are left out (foreign)."""
    req, app = region(text, "requests"), region(text, "appeals")
    if req is None or app is None:
        return None
    n_app = len(tpl.appeal_groups) * len(tpl.appeal_columns)
    rv = [it for it in drop_foreign(tokens(req), sim) if it.kind == "V"]
    av = [it for it in tokens(app) if it.kind == "V"]
    W = len(tpl.request_columns)
    if len(av) <= n_app or not any(len(ks) * W == len(rv) + len(av) - n_app for ks in block_rows(tpl).values()):
        return None
    return rv + av[:-n_app], av[-n_app:]


def _label_spans(items: list[Item], tpl: Template, sim) -> tuple[list[Item], list]:
    """The region's label fragments (group labels left out) and the printed rows they align
    to (rows.label_rows); 其他处理 is a group label above three rows (2021) or one row of
    its own (2019, hybrids): its own row is dropped when a sub-row is found."""
    cfg = settings()
    rows = list(tpl.request_rows)
    parents = {normalize(r.parent) for r in rows if r.parent}
    sub_other = [j for j, r in enumerate(rows) if r.parent == "其他处理"]
    own_other = next((j for j, r in enumerate(rows) if r.key == "other"), None)
    skip = [float(cfg.get("skip_expected", 0.4)) if r.expected else float(cfg.get("skip_optional", 0.05))
            for r in rows]
    frags = [f for f in items if f.kind == "F" and normalize(f.text) not in parents - {"其他处理"}]
    spans = label_rows(frags, rows, lambda t, j: sim(t, f"requests.row:{rows[j].key}"), skip)
    if any(s.j in sub_other for s in spans):
        spans = [s for s in spans if s.j != own_other]
    return frags, spans


def zero_table(items: list[Item], tpl: Template, sim) -> StreamTable | None:
    """A requests table whose every printed value is 0, its empty cells
    printed as nothing: no reading can say which cells the values were in, but every cell
    is 0 or blank whichever it is. Each cell is read 0 at `doubtful` placement (a person
    looks; 0 and blank are the only answers); a table that prints no value at all is
    read blank (blanks.empty_table). None unless the region's label rows are
    found (every expected row of its template), it prints fewer
    than the cells (blanks printed as marks keep the count: other readings place them),
    all 0 (a blank mark would say where the blanks are). The template: 2019 when its own 其他处理 row is found, else 2021."""
    cfg = settings()
    vals = [it for it in items if it.kind == "V"]
    frags, spans = _label_spans(items, tpl, sim)
    if len(spans) < int(cfg.get("min_rows", 5)) or any(value(it) != 0 for it in vals):
        return None
    rows = list(tpl.request_rows)
    name = "2019" if any(rows[s.j].key == "other" for s in spans) else "2021"
    cols = [c.key for c in tpl.request_columns]
    # rows printed in order or anywhere (the default mode prints some labels after the values)
    found = {rows[s.j].key for s in spans + present_rows(frags, rows,
                                                          lambda t, j: sim(t, f"requests.row:{rows[j].key}"))}
    if len(vals) >= len(block_rows(tpl)[name]) * len(cols) or any(
            r.key not in found for r in rows if r.expected and r.key in block_rows(tpl)[name]):
        return None     # a row not printed: a partial table, whose cells must not be made up
    out = StreamTable("requests", template=name)
    if not vals:    # every row's label, no value: a table printed empty (blanks.py)
        return empty_table(out, [[f"requests/{key}/{col}" for col in cols] for key in block_rows(tpl)[name]])
    for key in block_rows(tpl)[name]:
        for c, col in enumerate(cols):
            out.cells[f"requests/{key}/{col}"] = Cell(row=vals[0].line, col=c, text="0")
            out.placement[f"requests/{key}/{col}"] = float(cfg.get("doubtful", 0.5))
    out.warnings.append(f"requests: every value printed is 0 ({len(vals)} for {len(out.cells)} cells, the empty "
                        "ones printed as nothing): each cell 0 or blank, read 0, doubtful")
    return out


def values_elsewhere(text: str, tpl: Template) -> int:
    """Values the other tables' regions print beyond their own cells: the appeals region's
    beyond its row's (groups × columns), the active region's beyond its cells. pdfminer may
    print requests rows' value boxes there (test_00008: nine rows of 0s after the appeals
    title): evidence that a requests row printed as a label alone lost its values, so
    blanks.blank_rows_sure counts them as stray values."""
    n = 0
    # the active table may follow another template than the requests table: its largest
    active = max(len(t.keys("active")) for t in templates().values())
    for kind, cells in (("appeals", len(tpl.appeal_groups) * len(tpl.appeal_columns)), ("active", active)):
        part = region(text, kind)
        if part is not None:
            n += max(0, sum(1 for it in tokens(part) if it.kind == "V") - cells)
    return n


def _requests_by_labels(items: list[Item], tpl: Template, sim, elsewhere: int = 0) -> StreamTable | None:
    """The requests table read by its row labels (the alignment of the module docstring).
    `elsewhere`: values printed in other tables' regions beyond their cells (stray values
    for the blank-row rule)."""
    cfg = settings()
    cols = [c.key for c in tpl.request_columns]
    W = len(cols)
    rows = list(tpl.request_rows)
    sub_other = [j for j, r in enumerate(rows) if r.parent == "其他处理"]
    own_other = next((j for j, r in enumerate(rows) if r.key == "other"), None)

    def row_sim(t: str, j: int) -> float:
        return sim(t, f"requests.row:{rows[j].key}")
    frags, spans = _label_spans(items, tpl, sim)
    if len(spans) < int(cfg.get("min_rows", 5)):
        return None
    vrows = value_rows(items, W, {f.pos for sp in spans for f in sp.frags})
    if vrows is not None:
        place_by_columns(vrows, W, [it for it in items if it.kind == "F"])
    vals = [it for it in items if it.kind == "V"]
    block_doubt: set[str] = set()
    span_keys = [[f"requests/{rows[s.j].key}/{c}" for c in cols] for s in spans]
    chunked = chunked_rows(items, spans, span_keys, tpl)
    if chunked is not None:
        vrows, block_doubt = chunked
    elif vrows is not None and spans:
        vrows, block_doubt, _ = label_blocks(items, vrows, spans, span_keys, tpl)
    if (vrows is None or any(not v.full for v in vrows)) and vals and len(vals) == len(spans) * W:
        # one value per cell but not cut into rows: a block printed row by row or column
        # by column (pypdfium2); the equations choose the order, a tie leaves doubt
        vrows, block_doubt = _block_order(vals, [rows[s.j].key for s in spans], cols, tpl)
    if vrows is None or not vrows:
        return None
    displaced = False
    present = present_rows(frags, rows, row_sim)
    if any(s.j in sub_other for s in present):
        present = [s for s in present if s.j != own_other]
    anchors = _anchored(items, vrows, spans, present, rows, row_sim)
    if anchors:
        # labels in two sequences (pdftotext's default mode): every row printed anywhere,
        # the value rows that follow their own label anchored to it
        spans = present
    if len(vrows) > len(spans) and not anchors:
        # more value rows than rows found in order: some labels were printed elsewhere
        # (pdftotext's default mode prints a merged cell's labels after the values)
        spans = present
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
    cost = [[0] * len(spans) for _ in vrows] if displaced else windows_cost(vrows, spans)
    if len(vrows) > 1 and spans and all(v.pos > spans[-1].first for v in vrows):
        cost = [[0] * len(spans) for _ in vrows]   # all values after all labels: nor do these
    if anchors:     # an anchored row goes to its label's row; the others anywhere between
        cost = [[int(k in anchors and anchors[k] != s.j) for s in spans] for k in range(len(vrows))]
    got = read_rows(out, vrows, [[f"requests/{k}/{c}" for c in cols] for k in keyed], cost, tpl,
                    stray=len(vals) - sum(len(v.items) for v in vrows) + elsewhere)
    if got is not None:     # rows that lost their blanks: placed where every equation holds (blanks.py)
        out.missing.update({f"requests/{k}/{c}": "row not found in the flattened text"
                            for k in expected if k not in keyed for c in cols})
        return out
    best, maps, complete = assignments(cost, int(cfg.get("max_alignments", 500)))
    if not maps:
        return None
    zero = [v.full and all(value(it) in (0, None) for it in v.slots if it is not None) for v in vrows]
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
                chosen[k] = None if it is None else value(it)
        if placed is not None:
            out.warnings.append(f"requests: {len(partial)} rows printed fewer values than columns; "
                                "their columns chosen by the balance equations (doubtful)")
    used = {keyed[ri] for ri in mp}
    if free_doubt:
        # which of the rows the non-zero rows left free hold the zero rows is a guess
        taken = {keyed[ri] for ki, ri in enumerate(mp) if not zero[ki] or ki in anchors}
        zero_cols = {c for ki, v in enumerate(vrows) if zero[ki] for c, it in zip(cols, v.slots) if it is not None}
        if any(zero) and len(keyed) - len(taken) > sum(z for ki, z in enumerate(zero) if ki not in anchors):
            for key in keyed:
                if key not in taken:
                    for c in zero_cols:
                        out.placement[f"requests/{key}/{c}"] = float(cfg.get("doubtful", 0.5))
            out.warnings.append(f"requests: {sum(zero)} rows of zeros among {len(keyed) - len(taken)} "
                                "rows: which of them are blank is a guess; doubtful")
    lone = [key for key in keyed if key not in used]
    for key in lone:
        for c in cols:
            # the row printed nothing (blanks), or its values sit where the reading lost
            # them (a block the text moved, a line taken for a page number): sure only
            # where the document rules the loss out (blanks.blank_rows_sure, below)
            out.cells[f"requests/{key}/{c}"] = None
            out.placement[f"requests/{key}/{c}"] = label_only()
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
    # placed by the labels alone: one cheapest alignment, each value row in its own label's
    # window, and each a whole line of one value per column (values one a line are dealt by
    # count, in the extractor's block order: no such certainty)
    out.by_labels = (complete and n_alt == 1 and best == 0 and not displaced and not anchors and not partial
                     and not block_doubt and not free_doubt and any(any(row) for row in cost)
                     and all(len(v.items) == W and len({it.line for it in v.items}) == 1 for v in vrows))
    broken = judge(out, chosen, tpl, "requests", placed_by_labels=out.by_labels)
    if (lone and complete and n_alt == 1 and best == 0 and any(any(r) for r in cost)
            and not (displaced or anchors or partial or block_doubt or free_doubt)):
        lone_keys = {f"requests/{key}/{c}" for key in lone for c in cols}
        stray = len(vals) - sum(len(vrows[ki].items) for ki in range(len(mp))) + elsewhere
        doubted = sum(1 for k, p in out.placement.items() if p < 1.0 and k not in lone_keys)
        marks = sum(1 for it in vals if value(it) is None)
        if blank_rows_sure(len(lone), len(used), stray, broken, doubted, marks):
            for k in lone_keys:
                del out.placement[k]
            out.warnings.append(f"requests: {len(lone)} rows printed as a label alone read blank for sure "
                                "(every value of the table placed under its own label, every equation holds)")
    if broken > max_broken("requests"):
        out.warnings.append(f"requests: {broken} equations broken, which misprinted cells explain (rows placed by "
                            "their labels); their cells doubtful" if out.by_labels and misprinted(chosen, tpl) else
                            f"requests: stream alignment leaves {broken} equations broken; cells doubtful")
    return out


def _anchored(items: list[Item], vrows: list[ValueRow], spans: list, present: list, rows: list, row_sim
              ) -> dict[int, int]:
    """Value rows anchored by the label printed right before them (rows.inline_anchors),
    when the labels form two sequences that the monotone label alignment cannot both keep
    (pdftotext's default mode: one-line labels with their values, the others in a block
    before or after them): at least `min_inline_anchors` anchored rows, in template order,
    all among the rows printed anywhere (`present`), and either two anchored rows the
    alignment left out or printed rows it left out while some value row has no anchor.
    Else {} (the alignment stands)."""
    got = inline_anchors(items, vrows, rows, row_sim)
    js = [got[k] for k in sorted(got)]
    if (len(got) < int(settings().get("min_inline_anchors", 2)) or js != sorted(set(js))
            or not set(js) <= {s.j for s in present}):
        return {}
    in_spans = {s.j for s in spans}
    lost = [j for j in js if j not in in_spans]
    left_out = {s.j for s in present} - in_spans
    if len(lost) >= int(settings().get("min_inline_anchors", 2)) or (left_out and len(got) < len(vrows)):
        return got
    return {}


def _block_order(vals: list[Item], keyed: list[str], cols: list[str], tpl: Template
                 ) -> tuple[list[ValueRow], set[str]]:
    """A block of len(keyed) × len(cols) values read row-major or column-major: the order
    under which more requests equations hold, and the keys the two orders disagree on
    when they tie."""
    R, W = len(keyed), len(cols)
    orders = {"rows": [vals[r * W:(r + 1) * W] for r in range(R)],
              "columns": [[vals[c * R + r] for c in range(W)] for r in range(R)]}
    got = {name: {f"requests/{keyed[r]}/{c}": value(it) for r, row in enumerate(rs) for c, it in zip(cols, row)}
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
                vals[f"requests/{keyed[ri]}/{c}"] = None if it is None else value(it)
    used = set(mp)
    for ri, key in enumerate(keyed):
        if ri not in used:
            for c in cols:
                vals[f"requests/{key}/{c}"] = None
    return vals
