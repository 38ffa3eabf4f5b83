"""Label evidence for the decoders: header cells matched to column classes, row labels
scored by the mapper (with ordinal and positional priors), and the labelled samples kept
for retraining (docs/retraining.md)."""
from __future__ import annotations

import re

import numpy as np

from ..model import Cell
from ..templates import config, templates
from .mappers import FUZZY
from .rows import Row, value_columns

ROW_MIN_P = 0.35      # below this a row label is not trusted (DP may still use it)


def header_columns(header: list[Cell], classes: list[str], thr: float = 0.75, mapper=None) -> dict[str, Cell]:
    """Best header cell for each column class (joined with its neighbour when a label was
    broken over two cells, e.g. 本年新 / 制作数量). With a trained mapper, a cell's score is
    the larger of its fuzzy similarity and the mapper's probability (garbled headers)."""
    found: dict[str, tuple[float, Cell]] = {}
    toks = [c for c in header if c.text.strip()]
    pairs = [(c, c.text, toks[i - 1].text if i else "") for i, c in enumerate(toks)]
    pairs += [(a, a.text + b.text, "") for a, b in zip(toks, toks[1:]) if a.col == b.col or not a.text[-1:].isdigit()]
    P = None
    if mapper is not None and mapper is not FUZZY and pairs:
        table = classes[0].split(".")[0]
        ctx = [{"table": table, "header": True, "col": c.col, "prev": pv} for c, _, pv in pairs]
        P = mapper.predict_proba([t for _, t, _ in pairs], classes, context=ctx)
    for i, (cell, text, _) in enumerate(pairs):
        for j, cls in enumerate(classes):
            s = FUZZY.similarity(text, cls)
            if P is not None:
                s = max(s, float(P[i, j]))
            if s >= thr and s > found.get(cls, (0, None))[0]:
                found[cls] = (s, cell)
    return {k: v[1] for k, v in found.items()}


def unique_best(found: dict[str, Cell], classes: list[str]) -> dict[str, Cell]:
    """One class per header cell: a cell claimed by two classes keeps the better one."""
    by_cell: dict[int, list[str]] = {}
    for k, c in found.items():
        by_cell.setdefault(id(c), []).append(k)
    out = dict(found)
    for ks in by_cell.values():
        if len(ks) > 1:
            c = found[ks[0]]
            best = max(ks, key=lambda k: FUZZY.similarity(c.text, k))
            for k in ks:
                if k != best:
                    out.pop(k)
    return out


def by_elimination(found: dict[str, Cell], classes: list[str], header_rows: list[Row]) -> None:
    """Header cells left unread (a seal over 科研机构, a label wrapped in a narrow column as
    商业企 / 业) in a recovered grid: when as many value columns are unclaimed as classes are
    left, they take those classes in the template's column order — only if every column
    then sits in that order, so a column whose numbers were read is not dropped."""
    missing = [k for k in classes if k not in found]
    if not missing or len(found) < 2:
        return
    ids = {id(c) for c in found.values()}
    table = next((r.table for r in header_rows if r.aligned and any(id(c) in ids for c in r.labels + r.values)), None)
    if table is None:
        return
    # a value column prints numbers: an empty label column (a group label's blank cells
    # read as printed blanks) is none
    read = {c.col for c in table.cells if not c.is_header and c.colspan == 1 and c.readings
            and c.readings[0][0] is not None}
    free = sorted((value_columns(table) & read) - {c.col for c in found.values()})
    if len(free) != len(missing):
        return
    col = {**{k: c.col for k, c in found.items()}, **dict(zip(missing, free))}
    order = [col[k] for k in classes]
    if order != sorted(order):
        return
    for k, c in zip(missing, free):
        found[k] = next((h for h in table.cells if h.col == c and h.is_header and h.colspan == 1), Cell(row=-1, col=c))


def _row_context(r: Row, table: str) -> dict:
    return {"table": table, "row": r.index, "header": False, "prev": r.label}


def label_record(r: Row, cls: str, p: float, table: str) -> dict:
    """A mapped label as a labelled sample (docs/retraining.md): fix `class`, feed back."""
    return {"text": r.last_label, "class": cls, "p": round(float(p), 4), "context": _row_context(r, table)}


def header_records(found: dict[str, Cell], table: str) -> list[dict]:
    return [{"text": c.text, "class": cls, "p": round(FUZZY.similarity(c.text, cls), 4),
             "context": {"table": table, "header": True, "col": c.col}} for cls, c in found.items()]


def row_probs(mapper, rows: list[Row], classes: list[str], table: str) -> np.ndarray:
    texts = [r.last_label for r in rows]
    ctx = [_row_context(r, table) for r in rows]
    P = mapper.predict_proba(texts, classes, context=ctx)
    _ordinal_only(rows, classes, P)
    # a row whose last cell does not match may still match with its parent cells joined
    full = [r.label for r in rows]
    if any(f != t for f, t in zip(full, texts)):
        P2 = mapper.predict_proba(full, classes, context=ctx)
        better = P2[:, :-1].max(axis=1) > P[:, :-1].max(axis=1) + 0.2
        P[better] = P2[better]
    return P


_ORD = re.compile(r"^[（(]?([一二三四五六七八九十]+|\d{1,2})[)）、.．]?$")


def _ordinal_only(rows: list[Row], classes: list[str], P: np.ndarray) -> None:
    """A label stripped to its ordinal ("(二)", "3.") still names a row: spread its
    probability over the rows with that number and let the monotone alignment choose."""
    from ..normalize import nfkc, normalize
    numbers = {}
    for t in templates().values():
        for r in t.request_rows:
            numbers[f"requests.row:{r.key}"] = normalize(r.number or "", keep_ordinals=True)
    for i, r in enumerate(rows):
        txt = nfkc(r.last_label).strip()
        m = _ORD.match(txt)
        if not m or normalize(txt):
            continue
        want = normalize(m.group(1), keep_ordinals=True)
        hits = [j for j, c in enumerate(classes) if numbers.get(c) == want]
        if hits:
            P[i, :] = 0.02 / (len(classes) + 1 - len(hits))
            P[i, hits] = 0.98 / len(hits)


def positional_prior(P: np.ndarray, rows: list[Row], layouts: list[list[int]]) -> list[int]:
    """Mix a prior for template order into the label probabilities of a grid's value rows
    when their count equals a layout's row count (configs/classify.yaml: why). A header row
    (Row.header_only) is no value row even where its blank cell reads as a value field: an
    active section printing two columns in a four-column grid (第二十条第(八)项, (九)项) leaves
    its header's last cell blank, and counted so the rows were 10, no layout's 8 (session 28b).
    Returns the rows whose label was unread (`positional_prior_unreadable`): placed by position."""
    w = float(config("classify.yaml").get("positional_prior", 0.0))
    vidx = [i for i, r in enumerate(rows) if r.has_values and r.aligned and not r.header_only]
    if w <= 0 or not vidx:
        return []
    # a region may run into the next table's rows: count the rows of its main table
    main = max({id(rows[i].table): rows[i].table for i in vidx}.values(),
               key=lambda t: sum(rows[i].table is t for i in vidx))
    vidx = [i for i in vidx if rows[i].table is main]
    w_unread = float(config("classify.yaml").get("positional_prior_unreadable", w))
    for seq in layouts:
        if len(seq) == len(vidx):
            unread = []
            for i, j in zip(vidx, seq):
                wi = w_unread if P[i, :-1].max() < ROW_MIN_P else w
                if P[i, :-1].max() < ROW_MIN_P:
                    unread.append(i)
                P[i] *= 1.0 - wi
                P[i, j] += wi
            return unread
    return []
