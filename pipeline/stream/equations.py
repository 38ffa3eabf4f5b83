"""The balance equations on a stream's readings: which hold, doubt for the cells of broken
ones, and columns chosen by the equations for rows printed with fewer values than columns."""
from __future__ import annotations

from ..templates import Template
from .tokens import Item, StreamTable, settings, value


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


def doubt_broken(out: StreamTable, keys: set[str]) -> None:
    """Cells of a broken equation in a table read from a stream: a printed inconsistency,
    or values dealt to the wrong column or row; either way a person looks."""
    p = float(settings().get("broken_equation_placement", 0.9))
    for k in keys & set(out.cells):
        out.placement[k] = min(out.placement.get(k, 1.0), p)


def judge(out: StreamTable, got: dict, tpl: Template, kind: str, placed_by_labels: bool = False) -> int:
    """The equations `got` (key -> value) breaks, doubted in `out`: a broken equation's cells
    doubtful, and every cell when more break than one misprint may (`max_broken`), unless
    every value row sat under its own label (`placed_by_labels`: one alignment, no freedom)
    and a few misprinted cells explain every broken equation (`misprinted`). Returns the
    count of broken equations."""
    _, broken, in_broken = balance(got, tpl)
    doubt_broken(out, in_broken)
    if broken > max_broken(kind) and not (placed_by_labels and misprinted(got, tpl)):
        p = float(settings().get("doubtful", 0.5))
        for k in out.cells:
            out.placement[k] = min(out.placement.get(k, 1.0), p)
    return broken


def misprinted(got: dict, tpl: Template) -> bool:
    """Whether printed misprints explain the broken equations: at most `max_misprints` cells,
    each of which lies only in broken equations that one change of its value would all
    mend (the same discrepancy, signed by its side), together covering every broken
    equation once. A value row dealt to the wrong row or column breaks equations that no
    such cells explain; a misprinted cell breaks exactly its own."""
    from itertools import combinations
    eqs = [e for e in tpl.expand_equations(set(got)) if all(k in got for k in e.lhs + e.rhs)]
    gap = {i: sum(got[k] or 0 for k in e.lhs) - sum(got[k] or 0 for k in e.rhs) for i, e in enumerate(eqs)}
    broken = {i for i, d in gap.items() if abs(d) >= 1e-6}
    if not broken:
        return True
    cover: dict[str, frozenset] = {}
    for k in {k for i in broken for k in eqs[i].lhs + eqs[i].rhs}:
        mine = [i for i, e in enumerate(eqs) if k in e.lhs or k in e.rhs]
        if not set(mine) <= broken:
            continue
        deltas = {round(gap[i] if k in eqs[i].lhs else -gap[i], 6) for i in mine}
        if len(deltas) == 1:
            cover[k] = frozenset(mine)
    limit = int(settings().get("max_misprints", 2))
    for n in range(1, limit + 1):
        for ks in combinations(sorted(cover), n):
            sets = [cover[k] for k in ks]
            if sum(map(len, sets)) == len(broken) and frozenset().union(*sets) == broken:
                return True
    return False


def max_broken(kind: str) -> int:
    """Equations one printed inconsistency may break in this table; more mean the
    alignment, not the print, is wrong."""
    return int(settings().get("max_broken_equations", {}).get(kind, 1))


def own_balance(values: dict, tpl: Template) -> int:
    """Held minus broken equations among those whose every term is in `values` (a
    block's row totals; a partial column sum says nothing)."""
    score = 0
    for e in tpl.expand_equations(None):
        terms = e.lhs + e.rhs
        if all(t in values for t in terms):
            d = sum(values[t] or 0 for t in e.lhs) - sum(values[t] or 0 for t in e.rhs)
            score += 1 if abs(d) < 1e-6 else -1
    return score


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
        W, vals = len(ks), [value(t) for t in toks]
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
