"""Table structure once cells are read: the header rows, and a table continued over a page
break joined into one (a header printed at the foot of a page joined to its body)."""
from __future__ import annotations

import difflib

import numpy as np

from .grid_cells import clusters, grid_config, nearest
from .model import Cell, Document, Table
from .ocr import is_numeric_text, normalise_text
from .templates import config
from .values import blank_marks


def numeric_like(c: Cell) -> bool:
    t = normalise_text(c.text)
    if not t:
        return False
    if is_numeric_text(t) or t in blank_marks("grid_blank_marks"):
        return True
    digits = sum(ch.isdigit() for ch in t)
    return len(t) <= 10 and digits >= max(1, 0.5 * len(t))


def read_as_slash(c: Cell) -> bool:
    """The recognisers read a slash-shaped crop as a slash is misread: PP-OCR's text is a 1
    (configs/ocr.yaml grid.slash.texts), or the readings' top is 1 or nothing. A tick over a
    printed 0 (PP-OCR reads nothing, the digit model 0) keeps its 0."""
    cfg = grid_config()["slash"]
    top = c.readings[0][0] if c.readings else None
    return normalise_text(c.text) in set(cfg["texts"]) or top is None or top == 1


def empty_labels(cells: list[Cell], recs: dict) -> set[int]:
    """ids of the inked cells read as nothing that may be labels, read again when
    `relabel.empty_labels`: left of every column holding a number, in a column with at least
    two cells of text and twice as many as cells inked but read as nothing (`recs`: the
    inked cells' readings). An empty label is one whose faint print the cleaned crop's
    threshold gave to the paper (a seal's ring through the cell set it: only the ring kept,
    read as nothing). A column of printed dashes read as nothing left of the first number
    read is no label column: its cells have no text but a header."""
    first_num = min((c.col for c in cells if numeric_like(c)), default=None)
    if first_num is None:
        return set()
    text, empty = {}, {}
    for c in cells:
        if id(c) not in recs or c.col + c.colspan > first_num:
            continue
        d = text if c.text and not numeric_like(c) else empty if not c.text else None
        if d is not None:
            d[c.col] = d.get(c.col, 0) + 1
    cols = {col for col, n in text.items() if n >= max(2, 2 * empty.get(col, 0))}
    return {id(c) for c in cells if id(c) in recs and not c.text and c.col in cols
            and c.col + c.colspan <= first_num}


def garbled_values(table: Table, numeric_cols: set[int]) -> set[int]:
    """ids of body cells read as numbers although their column is not numeric: a one-column
    cell right of the table's first numeric column, in no header row, whose text is a glyph or
    two with a letter or character in it (`grid.garbled_values.max_chars`, configs/ocr.yaml).
    A thinned, blurred scan's 0 reads 'U', 'A', 'I' …; where every figure of a column reads so
    (a narrow applicant column, an active section's 增/减 column under repeated headers), the
    column is not numeric and its cells had no readings: illegible, lost. In a column holding
    such a cell, the cells inked but read as nothing are read as numbers too. Blank marks and
    dashes are left alone (no letter: '_', '一'; a column of them read as nothing holds none).
    (A cell without ink never reaches its readings: grid._assign_readings reads it blank.)"""
    cfg = grid_config().get("garbled_values") or {}
    if not cfg.get("enabled") or not numeric_cols:
        return set()
    first = min(numeric_cols)
    out, cols = set(), set()
    body = [c for c in table.cells if not c.is_header and c.colspan == 1 and c.col > first
            and c.col not in numeric_cols]
    for c in body:
        t = normalise_text(c.text)
        if not t or len(t) > cfg["max_chars"] or numeric_like(c) or not any(ch.isalnum() for ch in t):
            continue
        out.add(id(c))
        cols.add(c.col)
    # … and in such a column the cells inked but read as nothing (a 0 too faint for any glyph)
    out.update(id(c) for c in body if c.col in cols and not c.text.strip())
    return out


def mark_headers(table: Table) -> set[int]:
    """Mark the header rows (Cell.is_header); returns the numeric columns.

    A column is numeric when, from its first number down, most inked cells are numbers
    (headers above do not count: a one-row appeals table has 3 header rows); a header row
    has text in a numeric column and no number anywhere."""
    num = {id(c): numeric_like(c) for c in table.cells}
    cols: dict[int, list[tuple[int, bool]]] = {}
    for c in table.cells:
        if c.text:
            cols.setdefault(c.col, []).append((c.row, num[id(c)]))
    numeric_cols = set()
    for k, v in cols.items():
        v.sort()
        first = next((i for i, (_, n) in enumerate(v) if n), None)
        if first is not None:
            below = [n for _, n in v[first:]]
            if sum(below) >= 0.5 * len(below):
                numeric_cols.add(k)
    header_rows, number_rows = set(), set()
    for r, row in enumerate(table.rows()):
        in_num = [c for c in row if c.col in numeric_cols or
                  any(k in numeric_cols for k in range(c.col, c.col + c.colspan))]
        if any(num[id(c)] for c in row):
            number_rows.add(r)
            continue
        if any(c.text and not num[id(c)] for c in in_num):
            header_rows.add(r)
    # header rows are contiguous from the top of a (sub)table: extend spanning header cells,
    # never over a row that prints numbers (a fax streak read as a cell down the whole table)
    for c in table.cells:
        if c.row in header_rows:
            header_rows.update(k for k in range(c.row, c.row + c.rowspan) if k not in number_rows)
    for c in table.cells:
        c.is_header = c.row in header_rows
    return numeric_cols


def join_continued(doc: Document) -> None:
    """A table that ends one page and starts the next with the same columns is one table."""
    tol = grid_config()["continue_col_tol"]
    pages = [p for p in doc.pages]
    for a_page, b_page in zip(pages, pages[1:]):
        if not a_page.tables or not b_page.tables:
            continue
        a = next((t for t in reversed(doc.tables) if a_page.number in t.pages), None)
        if a is None:
            continue
        b = b_page.tables[0]
        width = max(a_page.width, 1)
        xa, xb = _col_edges(a), _col_edges(b)
        if len(xa) != a.n_cols + 1 or len(xb) != b.n_cols + 1:
            continue
        if b_page.number in a.pages:        # joined already (a second pass over a document)
            continue
        union = _same_columns(xa, xb, tol * width)
        if union is None:
            continue
        # B must open its page and A must close its own (nothing but a footer between)
        a_bottom = max(c.bbox[3] for c in a.cells if c.page == a_page.number and c.bbox)
        if b.bbox[1] > 0.25 * b_page.height or a_bottom < 0.6 * a_page.height:
            continue
        for t, xs in ((a, xa), (b, xb)):
            if len(xs) != len(union):
                idx = [nearest(union, x) for x in xs]
                for c in t.cells:
                    end = idx[c.col + c.colspan]
                    c.col = idx[c.col]
                    c.colspan = end - c.col
        # a header printed again on the new page is dropped; other header rows (a new
        # section of the same table) stay
        def head(t: Table) -> list[str]:
            out = []
            for r in t.rows():
                if not r or not all(c.is_header for c in r):
                    break
                out.append(normalise_text("".join(c.text for c in r)))
            return out
        ha, hb = head(a), head(b)

        def shape(t: Table, n: int) -> set:
            return {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells if c.row < n}
        drop = 0
        # the header block printed again (OCR noise allowed; a heavy scan garbles the
        # small header text, so the same cell layout lowers the bar on the text)
        bar = 0.6 if hb and shape(a, len(hb)) == shape(b, len(hb)) else 0.85
        if hb and len(hb) <= len(ha) and difflib.SequenceMatcher(
                None, "".join(hb), "".join(ha[:len(hb)])).ratio() >= bar:
            drop = len(hb)
        off = a.n_rows - drop
        header_only = not any(numeric_like(c) for c in a.cells)
        for c in b.cells:
            if c.row < drop:
                continue
            c.row += off
            a.cells.append(c)
        a.pages.append(b_page.number)
        b_page.tables.remove(b)
        if header_only:     # a header at the foot of a page: its rows are headers of the body below
            mark_headers(a)
            for c in a.cells:
                if c.is_header:
                    c.readings = []


def _same_columns(xa: list[float], xb: list[float], tol_pt: float) -> list[float] | None:
    """The union of two tables' column edges when they are one table's columns, else None.

    Inside the edges both share, one part's edges contain the other's (a label column
    printed merged on one page and split on the other: at most `join.inner_edges` more).
    Outside them each part may have up to `join.outer_edges` more on either side: on a scan
    an outer column's rule can fade (a merged vertical-header column, which no row rule
    crosses, is then bounded by nothing) or a streak at the margin reads as a rule. Edges
    both parts have: at least `join.shared_edges` of the part with fewer, spanning at least
    `join.shared_width` of the wider. The tolerance stays under half the narrowest column
    (a vertical-header column is narrower than 3 % of the page and must not fold into its
    neighbour)."""
    cfg = config("grid.yaml")["join"]
    narrow = min(min(np.diff(xa)), min(np.diff(xb)))
    tol_u = min(tol_pt, 0.45 * narrow)
    union = clusters(xa + xb, tol_u)
    has_a = {nearest(union, x) for x in xa}
    has_b = {nearest(union, x) for x in xb}
    if len(has_a) != len(xa) or len(has_b) != len(xb):    # two edges of one table in one cluster
        return None
    shared = sorted(has_a & has_b)
    if len(shared) < max(3, cfg["shared_edges"] * min(len(xa), len(xb))):
        return None
    lo, hi = shared[0], shared[-1]
    if union[hi] - union[lo] < cfg["shared_width"] * max(xa[-1] - xa[0], xb[-1] - xb[0]):
        return None
    inner_a = [e for e in has_a - has_b if lo < e < hi]
    inner_b = [e for e in has_b - has_a if lo < e < hi]
    if (inner_a and inner_b) or len(inner_a) + len(inner_b) > cfg["inner_edges"]:
        return None
    for has, other in ((has_a, has_b), (has_b, has_a)):
        extra = has - other
        if sum(e < lo for e in extra) > cfg["outer_edges"] or sum(e > hi for e in extra) > cfg["outer_edges"]:
            return None
    return union


def _col_edges(t: Table) -> list[float]:
    """Left edge of every column and the table's right edge (page units)."""
    edges: dict[int, list[float]] = {}
    for c in t.cells:
        if c.bbox:
            edges.setdefault(c.col, []).append(c.bbox[0])
            edges.setdefault(c.col + c.colspan, []).append(c.bbox[2])
    return [float(np.median(v)) for _, v in sorted(edges.items())]


