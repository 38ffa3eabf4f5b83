"""Blanks printed as nothing (issues #13, #21): what text without positions still says
about them, one rule in one place for the stream decoders and the joined-row reader.

Text that keeps no positions (pdftotext default and -raw, pypdfium2, pdfplumber, pdfminer,
rows whose cells ran together) drops an empty cell without a trace: a row of 7 columns
prints `29 7 7 43`. What the text does keep:
- the printed values in order, row by row. An unprinted cell is blank (nothing was
  printed there); only WHICH cells those are is open. The row's own total, the column
  sums and the cross-row equations decide it: `place` searches every placement of
  every short row (and, where labels stand apart from their values, every row a value
  row may belong to) for those under which every equation holds, and proves per cell
  whether another such placement reads it differently.
- whether the table prints 0s. A table that prints no 0 (its zeros printed as nothing,
  as many offices do) has no 0-or-blank guess left: each cell the search proves is sure.
  Where it prints 0s as well as short rows, a 0 and a blank balance alike, so the cells a
  0 may have stood in stay doubtful, never guessed confidently.
- a row label with no value after it while other rows print theirs: the row printed
  nothing (a blank row), as sure as the search that leaves no value row for it.
A table whose equations cannot all hold under any placement (a misprint, a lost value)
is left to the decoders' own readings. Settings: configs/values.yaml `printed_nothing`.
"""
from __future__ import annotations

from itertools import combinations

from ..templates import Equation, Template, config
from .tokens import Item, value


def settings() -> dict:
    return dict(config("values.yaml").get("printed_nothing", {}))


def short_rows(rows: list[list[Item]], width: int) -> bool:
    """The rule's trigger: some value row printed fewer values than its columns."""
    return any(0 < len(r) < width for r in rows)


def prints_zero(rows: list[list[Item]]) -> bool:
    """Whether a table prints a 0 anywhere (then a 0 and a blank are a guess apart)."""
    return any(value(it) == 0 for r in rows for it in r)


def _placements(vals: list, keys: list[str], own: list) -> list[tuple]:
    """Every placement of a row's values (in order) in its columns, as the row's cell
    values (None: blank), under which the row's own equations hold; distinct outcomes."""
    W = len(keys)
    idx = {k: c for c, k in enumerate(keys)}
    out: dict[tuple, tuple] = {}
    for cols in combinations(range(W), len(vals)):
        v: list = [None] * W
        for c, x in zip(cols, vals):
            v[c] = x
        if all(abs(sum(v[idx[k]] or 0 for k in e.lhs) - sum(v[idx[k]] or 0 for k in e.rhs)) < 1e-6 for e in own):
            out.setdefault(tuple(v), cols)
    return [(v, cols) for v, cols in out.items()]


def place(vrows: list[list[Item]], rows: list[list[str]], cost: list[list[int]] | None, tpl: Template
          ) -> tuple[dict[str, Item | None], dict[str, float]] | None:
    """Value rows (each its tokens in order, at most one per column) placed in the printed
    rows `rows` (their keys in column order, in text order), keeping both orders, as few
    as can be outside their row's window (`cost` [value row][row]: 0 inside, 1 outside;
    None: anywhere alike). Returns (key -> the token placed there, None for a blank; key ->
    placement probability of the cells another placement as cheap and as balanced reads
    differently: a 0 or a blank), or None when no placement holds every equation of the
    table, the search is too large (`max_choices`), or a non-zero value has more than one
    balanced place (the decoders' own readings stay: they doubt those cells)."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    from ..solve import quiet_stdout
    cfg = settings()
    V, R = len(vrows), len(rows)
    if not V or V > R:
        return None
    all_keys = {k for ks in rows for k in ks}
    # an equation's term in a row the template does not expect (2019's single 其他处理 in
    # the union template) is left out when absent; one with an expected row not read is
    # not used (its values are unknown, not blank)
    optional = {f"requests/{r.key}/" for r in tpl.request_rows if not r.expected}
    eqs = [Equation(e.name, tuple(k for k in e.lhs if k in all_keys), tuple(k for k in e.rhs if k in all_keys))
           for e in tpl.expand_equations(None)
           if all(k in all_keys or k.startswith(tuple(optional)) for k in e.lhs + e.rhs)]
    eqs = [e for e in eqs if e.lhs and e.rhs]
    if not eqs:
        return None
    vals = [[value(it) for it in r] for r in vrows]
    if any(x is None for r in vals for x in r):
        return None
    cand: dict[tuple[int, int], list[tuple]] = {}
    for v in range(V):
        for r in range(R):
            ks = rows[r]
            if len(vals[v]) > len(ks):
                continue
            own = [e for e in eqs if set(e.lhs + e.rhs) <= set(ks)]
            p = _placements(vals[v], ks, own)
            if p:
                cand[(v, r)] = p
    var: list[tuple[int, int, int]] = [(v, r, i) for (v, r), ps in cand.items() for i in range(len(ps))]
    if not var or len(var) > int(cfg.get("max_choices", 60000)):
        return None
    n = len(var)
    A_rows, lo, hi = [], [], []

    def add(coef: dict[int, float], a: float, b: float) -> None:
        A_rows.append(coef)
        lo.append(a)
        hi.append(b)
    by_v: dict[int, list[int]] = {}
    by_r: dict[int, list[int]] = {}
    for j, (v, r, _) in enumerate(var):
        by_v.setdefault(v, []).append(j)
        by_r.setdefault(r, []).append(j)
    if len(by_v) < V:
        return None
    for v in range(V):
        add({j: 1.0 for j in by_v[v]}, 1, 1)            # every value row in one row, one way
    for r, js in by_r.items():
        add({j: 1.0 for j in js}, -np.inf, 1)           # a row holds one value row at most
    for v in range(V - 1):                              # text order kept: v+1 after v
        for r in range(R):
            coef = {j: 1.0 for j in by_v[v + 1] if var[j][1] <= r}
            for j in by_v[v]:
                if var[j][1] < r:
                    coef[j] = coef.get(j, 0.0) - 1.0
            if coef:
                add(coef, -np.inf, 0)
    col_of = {k: (r, c) for r, ks in enumerate(rows) for c, k in enumerate(ks)}

    def cell(k: str) -> dict[int, float]:
        r, c = col_of[k]
        return {j: float(cand[(var[j][0], r)][var[j][2]][0][c] or 0) for j in by_r.get(r, ())}
    for e in eqs:                                       # every equation holds
        coef: dict[int, float] = {}
        for k, s in e.terms():
            for j, a in cell(k).items():
                coef[j] = coef.get(j, 0.0) + s * a
        coef = {j: a for j, a in coef.items() if a}
        if coef:
            add(coef, -1e-6, 1e-6)
    c_int = np.array([0.0 if cost is None else float(cost[v][r]) for v, r, _ in var])
    # among readings as cheap, the one that puts each row's values leftmost (what the text's
    # order suggests when nothing else does; which 0s were printed is doubted anyway)
    eps = 0.4 / (V * max(len(ps) for ps in cand.values()) + 1)
    c_obj = c_int + eps * np.array([float(i) for _, _, i in var])

    from scipy.sparse import coo_matrix

    def matrix(rows_: list[dict[int, float]]):
        ii = [i for i, coef in enumerate(rows_) for _ in coef]
        jj = [j for coef in rows_ for j in coef]
        return coo_matrix(([a for coef in rows_ for a in coef.values()], (ii, jj)), shape=(len(rows_), n)).tocsr()

    def solve(extra: list[tuple[dict[int, float], float, float]]):
        cons = LinearConstraint(matrix(A_rows + [x[0] for x in extra]), np.array(lo + [x[1] for x in extra]), np.array(hi + [x[2] for x in extra]))
        with quiet_stdout(True):
            res = milp(c_obj, integrality=np.ones(n), bounds=Bounds(np.zeros(n), np.ones(n)), constraints=cons,
                       options={"node_limit": int(cfg.get("node_limit", 5000)),
                                "time_limit": float(cfg.get("time_limit_s", 60)), "mip_rel_gap": 0})
        _dbg("milp", res.status, res.message) if res.status != 0 else None
        if res.status == 2:
            return None         # infeasible: proved
        if res.x is None or res.status != 0:
            raise _Unproved(res.message)    # a bound reached: nothing proved either way
        return res

    try:
        return _search(solve, var, n, cand, rows, vrows, all_keys, by_r, col_of, c_int, cost, cfg)
    except _Unproved as e:
        _dbg("unproved", e)
        return None


class _Unproved(Exception):
    """An integer program stopped at its bound: neither a reading nor a proof."""


def _search(solve, var, n, cand, rows, vrows, all_keys, by_r, col_of, c_int, cost, cfg):
    import numpy as np
    first = solve([])
    if first is None:
        _dbg("infeasible", n)
        return None
    best = round(float(first.fun))
    pick = {var[j][:2]: var[j][2] for j in range(n) if first.x[j] > 0.5}

    def reading(pk: dict) -> dict[str, object]:
        got: dict[str, object] = {k: None for k in all_keys}
        for (v, r), i in pk.items():
            got.update(zip(rows[r], cand[(v, r)][i][0]))
        return got
    chosen = reading(pick)
    seen: dict[str, set] = {k: {chosen[k]} for k in all_keys}
    open_ = set(all_keys)      # cells not yet shown to read otherwise in an equal placement
    budget = [({j: a for j, a in enumerate(c_int) if a}, -np.inf, best + 0.5)] if cost is not None else []
    for _ in range(int(cfg.get("max_alternatives", 12))):
        if not open_:
            break
        # another placement, as cheap, that reads at least one open cell differently
        coef: dict[int, float] = {}
        const = 0.0
        for k in open_:
            r, c = col_of[k]
            if chosen[k] is None:
                const += 1.0            # the row holding no value row leaves the cell blank
            for j in by_r.get(r, ()):
                x = cand[(var[j][0], r)][var[j][2]][0][c]
                same = x is None if chosen[k] is None else (x is not None and abs(x - chosen[k]) < 1e-9)
                a = (1.0 if same else 0.0) - (1.0 if chosen[k] is None else 0.0)
                if a:
                    coef[j] = coef.get(j, 0.0) + a
        alt = solve(budget + [(coef, -np.inf, len(open_) - 1 - const + 1e-6)])
        if alt is None:
            open_ = set()
            break
        other = reading({var[j][:2]: var[j][2] for j in range(n) if alt.x[j] > 0.5})
        for k in all_keys:
            seen[k].add(other[k])
            if other[k] not in (None, 0) and other[k] != chosen[k]:
                _dbg("a non-zero value placed two ways:", k, chosen[k], other[k])
                return None     # a non-zero value with two balanced places: the text cannot say
        open_ -= {k for k in open_ if len(seen[k]) > 1}
    _dbg("cost", best, "open", len(open_), "alts", {k: s for k, s in seen.items() if len(s) > 1})
    if open_ or any(len(s) > 1 and any(x not in (None, 0) for x in s) for s in seen.values()):
        return None     # a non-zero value with more than one balanced place: the text cannot say
    doubtful = float(cfg.get("doubtful", 0.5))
    placement = {k: min(doubtful, 1.0 / len(s)) for k, s in seen.items() if len(s) > 1}
    items: dict[str, Item | None] = {k: None for k in all_keys}
    for (v, r), i in pick.items():
        cols = cand[(v, r)][i][1]
        for c, it in zip(cols, vrows[v]):
            items[rows[r][c]] = it
    held = {r: v for (v, r) in pick}
    for k, it in items.items():
        # a 0 and a blank balance alike: in a row that prints a 0, where it stood is a guess
        v = held.get(col_of[k][0])
        if v is not None and (it is None or value(it) == 0) and any(value(t) == 0 for t in vrows[v]):
            placement[k] = min(placement.get(k, 1.0), doubtful)
    return items, placement



def read_rows(out, vrows: list, rows: list[list[str]], cost: list[list[int]] | None, tpl: Template,
              stray: int = 0) -> dict[str, object] | None:
    """A stream decoder's value rows (rows.ValueRow) read into `out` (a StreamTable) by
    `place` when some row printed fewer values than columns and the text kept no
    positions to place them by (no row placed by its geometry). Returns the reading (key
    -> value; the decoder judges its equations) or None, `out` untouched, when the rule
    does not apply or no placement holds every equation. A row the search leaves without
    a value row printed nothing: its blanks are sure only by `blank_rows_sure` (`stray`:
    the table's values outside `vrows`)."""
    if any(v.full and any(s is None for s in v.slots) for v in vrows):
        return None     # a row placed by the page's geometry: the text keeps positions
    toks = [list(v.items) for v in vrows]
    if not rows or not short_rows(toks, len(rows[0])):
        return None
    got = place(toks, rows, cost, tpl)
    if got is None:
        return None
    items, placement = got
    bare = {k for ks in rows if all(items[k] is None for k in ks) for k in ks}
    if bare and not blank_rows_sure(len(bare) // len(rows[0]), len(rows) - len(bare) // len(rows[0]), stray, 0,
                                    sum(1 for k in placement if k not in bare), 0):
        from .tokens import label_only
        for k in bare:
            placement[k] = min(placement.get(k, 1.0), label_only())
    col = {k: c for ks in rows for c, k in enumerate(ks)}
    for k, it in items.items():
        out.cells[k] = None if it is None else _cell(it, col[k])
    out.placement.update(placement)
    zeros = "a 0 and a blank alike where the table prints 0s" if prints_zero(toks) else "the table prints no 0"
    out.warnings.append(f"{out.kind}: {sum(len(t) < len(rows[0]) for t in toks)} rows printed fewer values than "
                        f"columns: placed where every equation holds ({zeros}); {len(placement)} cells doubtful")
    return {k: None if it is None else value(it) for k, it in items.items()}


def blank_rows_sure(label_alone: int, with_values: int, stray: int, broken: int, doubted: int,
                    marks: int) -> bool:
    """Whether a table's rows printed as a label alone are surely blank rows (the one
    document-level rule for them, used by the stream decoders and the joined-row solver).

    A label with nothing after it is a row that printed nothing (a row of blanks printed as
    nothing, the habit of offices that leave zeros empty or whole zero rows empty) or a
    row whose values the reading lost (a wrapped label's values on a line of their own, a
    line taken for a page number). The document itself rules the second out only when
    all of these hold: every value of the table's text sits in some other row (`stray`
    values no row took: 0), every balance equation of the table holds with those rows
    blank (`broken`: 0; a lost row that was not all zeros breaks its column sums), each
    value row is placed under its own label with no other reading (`doubted`: cells of
    the table doubted for where their row or column is: 0), the table prints no blank mark
    (`marks`: a table that marks its blanks — `—`, `/` — would mark a blank row too, so a
    row there printing nothing lost its values), and enough rows printed their values
    (`min_rows_with_values`) for those equations to say something, and the table shows the
    habit more than once (`min_blank_rows` rows printed as a label alone: one bare row in a
    table that prints every other row whole is as likely a line of zeros the extractor
    lost, tests/test_joined.py). Then the row's
    cells are blank, not 0, as the text printed them. Otherwise they stay below the review
    threshold (classify.yaml label_only_row_placement). Settings: configs/values.yaml
    printed_nothing.blank_rows."""
    cfg = dict(settings().get("blank_rows") or {})
    if not cfg.get("enabled", False) or label_alone < int(cfg.get("min_blank_rows", 2)):
        return False
    return (with_values >= int(cfg.get("min_rows_with_values", 3)) and stray <= 0 and broken <= 0
            and doubted <= int(cfg.get("max_doubted", 0)) and marks <= int(cfg.get("max_marks", 0)))


def _cell(it: Item, col: int):
    from ..model import Cell
    return Cell(row=it.line, col=col, text=it.text)


def _dbg(*a):
    import os
    if os.environ.get("BLANKS_DEBUG"):
        print("blanks:", *a)


def empty_table(out, rows: list[list[str]]):
    """A table whose every row label is printed and no value at all (an office that prints
    its zeros as nothing and had nothing to report): every cell blank, as the text says,
    at the placement of a label printed alone (below the review threshold: a table
    whose values the reading lost would look the same)."""
    from .tokens import label_only
    for ks in rows:
        for k in ks:
            out.cells[k] = None
            out.placement[k] = label_only()
    out.warnings.append(f"{out.kind}: every row printed without a value: read blank (zeros printed as nothing); "
                        "cells doubtful")
    return out
