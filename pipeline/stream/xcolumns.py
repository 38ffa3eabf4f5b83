"""pdfminer's active table when its boxes do not follow the headers: the boxes of one x
column grouped across sections (issue #13 P1).

pdfminer.six makes every value cell a text box and groups the boxes of cells that sit at
the same x, one above the other. In the active table the sections (第二十条第（X）项) share
one grid, so a column's boxes may be grouped within one section (a section's values come
column by column, sections in turn) or across sections (a section's first column printed
with the next sections' first column, a single-column section's value counting as the
first column), and pdfminer orders the groups as its layout analysis likes. What the text
keeps: each group is one x column's cells top to bottom, and a label printed between two
values (a header, a row label) usually ends a group.

So a reading is an order of *units* (one section's cells of one x column, top to bottom)
that keeps every x column's units in page order, and the values fill them in turn. Each
reading costs (weights in configs/classify.yaml `stream.active_xcolumns`):

* `inside` for a label printed inside a unit (`in_row` when that label is the next cell's
  own row label: pdfminer boxes a row label with the value on its line);
* `order` for a unit that does not follow its predecessor in the page's section-by-section,
  left-to-right order (the next column of the same section, or the next section's first);
* `joined` for two x columns' units with no label between them (one box would not hold
  two x columns; pdfminer prints them apart, mostly);
* `header` for a unit right after printed column headers whose first one names another
  column;
* `kind` for a value whose form its column does not take (a sign outside 增/减, a decimal
  point outside an amount).

The cheapest readings win; cells on which they disagree are put at 1 / (their number),
the others at `placement` (doubtful: the table has no equations to check a guess).
"""
from __future__ import annotations

import re
from typing import Callable

from ..model import Cell
from ..normalize import normalize
from ..templates import Template
from .tokens import Item, StreamTable, settings

_SIGNED = re.compile(r"^[+\-－＋]\s*\d")


def units(tpl: Template) -> list[list[list[tuple[str, object, object, object]]]]:
    """Per x column (left to right), its units top to bottom: one section's cells of that
    column as (key, section, row, column). A single-column section's value is the first
    column's (its cell spans the grid, its number printed at the left)."""
    ncol = max(len(s.columns) for s in tpl.sections)
    return [[[(f"active/{s.key}.{r.key}/{s.columns[j].key}", s, r, s.columns[j]) for r in s.rows]
             for s in tpl.sections if j < len(s.columns)] for j in range(ncol)]


def read_xcolumns(items: list[Item], tpl: Template, named: Callable[[str], list[str]]) -> StreamTable | None:
    """The active table read as x-column units (module docstring), or None when the region
    does not hold exactly one value per cell or the search is too large. `named`: the column
    keys a stretch of label text names, left to right."""
    cfg = dict(settings().get("active_xcolumns") or {})
    if not cfg.get("enabled", False):
        return None
    w = {k: float(cfg.get(k, d)) for k, d in (("inside", 1.0), ("in_row", 0.2), ("order", 0.3),
                                              ("joined", 0.0), ("header", 0.2), ("kind", 2.0))}
    pos = [k for k, it in enumerate(items) if it.kind == "V"]
    cols = units(tpl)
    n = sum(len(u) for us in cols for u in us)
    if len(pos) != n:
        return None
    vals = [items[k] for k in pos]
    between = ["".join(normalize(it.text) for it in items[(pos[p - 1] + 1 if p else 0):k] if it.kind == "F")
               for p, k in enumerate(pos)]
    heads = [named(t) for t in between]
    sec_at = {s.key: i for i, s in enumerate(tpl.sections)}
    best: list[list[tuple[int, int]]] = []
    bound = [float("inf")]
    budget = [int(cfg.get("max_nodes", 200000))]

    def kind_cost(it: Item, col) -> float:
        t = it.text.strip()
        c = 0.0
        if _SIGNED.match(t) and col.key != "change":
            c += w["kind"]
        if ("." in t or "．" in t) and "amount" not in col.key:
            c += w["kind"]
        return c

    def step(state: list[int], p: int, last, cost: float, seq: list) -> None:
        budget[0] -= 1
        if budget[0] < 0 or cost > bound[0] + 1e-9:
            return
        if p == n:
            if cost < bound[0] - 1e-9:
                bound[0] = cost
                best.clear()
            best.append(list(seq))
            return
        for j, us in enumerate(cols):
            i = state[j]
            if i >= len(us):
                continue
            u = us[i]
            si = sec_at[u[0][1].key]
            c = 0.0
            if last is None:
                c += w["order"] * (j != 0 or si != 0)
            else:
                lj, lsi = last
                if not ((si == lsi and j == lj + 1) or (si == lsi + 1 and j == 0)):
                    c += w["order"]
                if lj != j and not between[p]:
                    c += w["joined"]
            if heads[p] and u[0][3].key != heads[p][0]:
                c += w["header"]
            for q, (_, _, row, col) in enumerate(u):
                c += kind_cost(vals[p + q], col)
                if q and between[p + q]:
                    own = any(normalize(t) and normalize(t) in between[p + q] for t in row.texts)
                    c += w["in_row"] if own else w["inside"]
            state[j] += 1
            seq.append((j, i))
            step(state, p + len(u), (j, si), cost + c, seq)
            state[j] -= 1
            seq.pop()

    step([0] * len(cols), 0, None, 0.0, [])
    if budget[0] < 0 or not best:
        return None
    readings = []
    for seq in best:
        p, rd = 0, {}
        for j, i in seq:
            for key, *_ in cols[j][i]:
                rd[key] = vals[p]
                p += 1
        readings.append(rd)
    out = StreamTable("active", template=tpl.name)
    sure = float(cfg.get("placement", 0.5))
    for key, it in readings[0].items():
        out.cells[key] = Cell(row=it.line, col=0, text=it.text)
        texts = {rd[key].text for rd in readings}
        out.placement[key] = min(sure, 1.0 / len(texts)) if len(texts) > 1 else sure
    out.readings = len(readings)
    return out
