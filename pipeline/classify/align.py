"""Alignment: template rows to printed rows (monotone DP), and a row's value fields to
the template's columns."""
from __future__ import annotations

from itertools import combinations

import numpy as np

from ..model import Cell
from ..templates import config
from ..values import parse_value
from .rows import Row


def _cands(values: list[Cell], width: int):
    """Candidate readings of a row's value fields as `width` columns.

    Returns (alignments, first_positions): each alignment a list of `width` cells (None =
    cell absent in the flattening, read as blank when trailing).
    """
    n_lead = 0
    while n_lead < len(values) and not values[n_lead].text.strip():
        n_lead += 1
    out = []
    for lead in range(0, n_lead + 1):
        v = values[lead:]
        body = list(v)
        while len(body) > width and not body[-1].text.strip():
            body.pop()
        if len(body) > width:
            if lead == n_lead:  # only with every leading empty dropped: those were padding
                out.append(("overfull", lead, body))
        elif len(body) == width:
            out.append(("exact", lead, body))
        else:
            out.append(("short", lead, body + [None] * (width - len(body))))
    return out


def split_spanning(c: Cell, n: int) -> list[Cell] | None:
    """A value cell over n value columns (a ruling line missing, a text run joining a row's
    numbers): its n space-separated numbers, one per column, each only as sure as
    `split_span_reading` allows; None when it does not print exactly n numbers."""
    toks = c.text.split()
    parsed = [parse_value(t) for t in toks]
    if len(toks) != n or not all(ok for ok, _ in parsed):
        return None
    p = float(config("classify.yaml").get("split_span_reading", 0.9))
    p *= max((float(q) for _, q in c.readings), default=1.0)
    x0, y0, x1, y1 = c.bbox or (0.0, 0.0, 0.0, 0.0)
    w = (x1 - x0) / n
    return [Cell(row=c.row, col=c.col + i, text=t, rowspan=c.rowspan, page=c.page, readings=[(v, p)],
                 bbox=(x0 + i * w, y0, x0 + (i + 1) * w, y1) if c.bbox else None)
            for i, (t, (_, v)) in enumerate(zip(toks, parsed))]


def align_values(row: Row, cols: list[str], positions: list[int] | None, check=None) -> tuple[dict | None, str]:
    """Map a row's value cells to column keys, or explain why that cannot be done.

    Aligned grids map by position. Flattened rows may have lost or gained empty fields
    at merged cells: candidates drop leading empties; a single candidate, or the one
    that starts at the header's position, or several that all give the same values,
    is accepted. A row with one value too many (a merged cell split in two) is resolved
    only when the row's balance equation (`check`) leaves one reading.
    """
    W = len(cols)
    vals = row.values
    if row.aligned and positions:
        out, doubtful, why = dict.fromkeys(cols), set(), ""
        for c in vals:
            over = [k for k, p in zip(cols, positions) if c.col <= p < c.col + c.colspan]
            if not over:
                continue
            parts = [c] if len(over) == 1 else split_spanning(c, len(over))
            if parts is None:   # left out: which column its number belongs to is a guess
                doubtful.update(over)
                why = f"one printed item {c.text!r} spans {len(over)} value columns"
            else:
                out.update(zip(over, parts))
        return {k: v for k, v in out.items() if k not in doubtful}, why
    if not vals:
        return None, "no values printed in this row"
    if positions and row.strategy == "tab":  # tab rows keep field positions up to their trailing empties
        p0 = positions[0]
        byp = {c.col: c for c in vals}
        label_end = max((c.col for c in row.labels), default=-1)
        if label_end < p0 and all(not c.text.strip() for c in vals if c.col < p0):
            body = [byp.get(p0 + j) for j in range(W)]
            extra = [c for c in vals if c.col >= p0 + W and c.text.strip()]
            if not extra and any(c is not None and c.text.strip() for c in body):
                return dict(zip(cols, body)), ""
    cands = _cands(vals, W)
    # A row with fewer fields than columns lost empty cells somewhere (flatteners drop
    # trailing empties, or pack non-empty cells to the left): without field positions no
    # reading is safe unless every printed cell is blank.
    cands = [c for c in cands if c[0] != "short" or all(x is None or not x.text.strip() for x in c[2])]
    exact = [b for kind, lead, b in cands if kind == "exact"]
    if any(kind == "overfull" for kind, _, _ in cands):
        cands = [c for c in cands if c[0] == "overfull"]  # more values than columns: none is blank
    elif len(exact) == 1:
        return dict(zip(cols, exact[0])), ""
    readings = []
    for kind, lead, b in cands:
        if kind == "overfull":
            extra = len(b) - W
            if extra > 2:
                continue
            for drop in combinations(range(len(b)), extra):
                readings.append([c for j, c in enumerate(b) if j not in drop])
        else:
            readings.append(b)
    def vals_of(b):
        return tuple(None if c is None else parse_value(c.text)[1] for c in b)
    distinct = {vals_of(b): b for b in readings}
    if len(distinct) > 1 and check is not None:
        ok = {k: b for k, b in distinct.items() if check(dict(zip(cols, k)))}
        if ok:
            distinct = ok
    if len(distinct) == 1:
        b = next(iter(distinct.values()))
        note = "" if len(exact) == 1 else f"{len(vals)} fields for {W} columns; one reading fits"
        return dict(zip(cols, b)), note
    n = sum(1 for c in vals if c.text.strip())
    return None, (f"row printed {n} values in {len(vals)} fields for {W} columns; "
                  f"merged cells shifted them and {len(distinct)} readings remain")


def monotone_assign(P: np.ndarray, min_p: float = 0.0) -> list[int | None]:
    """Assign each text row i to a template row j (strictly increasing) or to none.

    P: (n_rows, n_keys + 1) probabilities, last column "none". Maximises Σ log p.
    """
    n, m1 = P.shape
    m = m1 - 1
    L = np.log(np.clip(P, 1e-9, 1.0))
    NEG = -1e18
    # best[i][j]: best score for first i rows with last used key < j
    best = np.full((n + 1, m + 1), NEG)
    best[0, :] = 0.0
    choice = np.full((n + 1, m + 1), -1, dtype=int)
    for i in range(1, n + 1):
        for j in range(0, m + 1):
            # row i-1 → none
            s_none = best[i - 1, j] + L[i - 1, m]
            best[i, j], choice[i, j] = s_none, -1
            # row i-1 → key k < j, with previous rows using keys < k
            for k in range(0, j):
                if P[i - 1, k] < min_p:
                    continue
                s = best[i - 1, k] + L[i - 1, k]
                if s > best[i, j]:
                    best[i, j], choice[i, j] = s, k
    out: list[int | None] = [None] * n
    j = m
    for i in range(n, 0, -1):
        k = choice[i, j]
        if k >= 0:
            out[i - 1] = int(k)
            j = k
    return out


def row_check(cols: list[str], equations) -> object:
    """Row balance check used to choose between readings of a shifted row."""
    if "total" not in cols:
        return None
    def check(vals: dict) -> bool:
        v = {k: (0 if x is None else x) for k, x in vals.items()}
        parts = [v[k] for k in cols if k != "total"]
        try:
            return abs(sum(parts) - v["total"]) < 1e-6
        except TypeError:
            return False
    return check
