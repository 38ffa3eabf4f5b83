"""Classify stage: give recovered cells canonical keys.

Two parts:
* a *mapper* scores a cell's text against label classes (``requests.row:granted`` …,
  see templates.label_classes). FuzzyMapper (normalised fuzzy matching) is the
  baseline; the trained classifier (pipeline/keymodel.py) has the same interface.
* the table decoder (below) uses the table's structure: rows follow the template's
  order, so rows and columns are assigned jointly by monotone alignment.
"""
from __future__ import annotations

import difflib
import functools

import numpy as np

from .normalize import normalize
from .templates import all_label_classes


class FuzzyMapper:
    """Baseline mapper: best normalised similarity to any printed label or variant.

    scikit-learn style: fit is a no-op (the labels come from the templates),
    predict_proba returns one row per text over ``classes + ["none"]``.
    """
    name = "fuzzy"
    none_score = 0.55    # similarity below which "not a label" wins
    temperature = 0.05

    def __init__(self, label_texts: dict[str, tuple[str, ...]] | None = None):
        self.label_texts = label_texts or all_label_classes()
        self._norm = {k: tuple(normalize(t) for t in v) for k, v in self.label_texts.items()}

    def fit(self, texts=None, labels=None):
        return self

    @functools.lru_cache(maxsize=65536)
    def similarity(self, text: str, cls: str) -> float:
        t = normalize(text)
        if not t:
            return 0.0
        best = 0.0
        for lab in self._norm.get(cls, ()):
            if not lab:
                continue
            if t == lab:
                return 1.0
            r = difflib.SequenceMatcher(None, t, lab, autojunk=False).ratio()
            if len(lab) >= 2 and lab in t:      # label inside a longer (glued) text
                r = max(r, 0.9 * len(lab) / max(len(t), len(lab)) + 0.08)
            if len(t) >= 4 and t in lab:        # truncated label
                r = max(r, 0.6 + 0.35 * len(t) / len(lab))
            best = max(best, r)
        return best

    def predict_proba(self, texts: list[str], classes: list[str]) -> np.ndarray:
        sims = np.array([[self.similarity(t, c) for c in classes] + [self.none_score] for t in texts],
                        dtype=float).reshape(len(texts), len(classes) + 1)
        z = (sims - sims.max(axis=1, keepdims=True)) / self.temperature
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, texts: list[str], classes: list[str]) -> list[str]:
        p = self.predict_proba(texts, classes)
        names = list(classes) + ["none"]
        return [names[i] for i in p.argmax(axis=1)]

    def score(self, texts: list[str], labels: list[str], classes: list[str]) -> float:
        pred = self.predict(texts, classes)
        return float(np.mean([a == b for a, b in zip(pred, labels)])) if labels else 0.0


# ---------------------------------------------------------------------------------------
# Table decoder
# ---------------------------------------------------------------------------------------
import re  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from itertools import combinations  # noqa: E402

from .model import Cell, Document, Field, Table  # noqa: E402
from .templates import Template, config, label_classes, templates  # noqa: E402
from .values import is_value_text, parse_value  # noqa: E402

ANCHOR_SIM = 0.8      # a short cell this close to a header label starts a table region
ROW_MIN_P = 0.35      # below this a row label is not trusted (DP may still use it)
SANITY_OFF = False    # training/eval_scans.py --no-sanity: the guards (sanity, the (六) contradiction,
                      # doubtful blanks of a grid row without values) off, for a before figure


@dataclass
class Row:
    """One recovered table row: its label cells and the value cells after them."""
    labels: list[Cell]
    values: list[Cell]
    block: int
    index: int
    aligned: bool
    table: Table | None = None
    note: str = ""

    @property
    def sep(self) -> str:
        """tab | pipe | space | line for flattened text, "grid" for aligned tables."""
        if self.aligned or self.table is None:
            return "grid"
        return self.table.separators.get(self.index, "line")

    @property
    def label(self) -> str:
        return " ".join(c.text for c in self.labels if c.text)

    @property
    def last_label(self) -> str:
        return next((c.text for c in reversed(self.labels) if c.text), "")

    @property
    def has_values(self) -> bool:
        """Prints at least one value field (an empty field after a label is a blank cell)."""
        return bool(self.values)

    @property
    def has_numbers(self) -> bool:
        return any(c.text.strip() for c in self.values)


@dataclass
class Decoded:
    """What the decoder found in one report table (before solving)."""
    kind: str
    template: str | None = None
    cells: dict[str, Cell] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)   # {text, class, p}: for retraining
    unreadable: set[str] = field(default_factory=set)  # printed but not placeable: the solver may infer
    absent_cols: list[str] = field(default_factory=list)
    placement: dict[str, float] = field(default_factory=dict)  # key -> P(placed right), when doubtful


def _is_label(cell: Cell) -> bool:
    return bool(cell.text.strip()) and not is_value_text(cell.text)


def _value_columns(t: Table) -> set[int]:
    """Columns of a recovered grid where most body cells got numeric readings: their cells
    are values even when OCR made their text look like words (a heavy scan's "リ" for 0)."""
    if not t.aligned:
        return set()
    seen: dict[int, list[bool]] = {}
    for c in t.cells:
        if c.colspan == 1 and not c.is_header and (c.text.strip() or c.readings):
            seen.setdefault(c.col, []).append(bool(c.readings))
    return {k for k, v in seen.items() if sum(v) >= 0.5 * len(v)}


def table_rows(doc: Document) -> list[Row]:
    """All grid rows of all tables in reading order, split into labels and values.

    One-cell-per-line flattening puts a label on one line and its values on the lines
    after it: a label-only line followed by value-only lines is joined into one row.
    """
    rows: list[Row] = []
    for b, t in enumerate(doc.tables):
        vcols = _value_columns(t)
        # a grid's label columns lie left of its value columns: a number there is a label
        # whose words were lost (a sub-row's ordinal "2" on a heavy scan), not a value
        first_v = min((k for k in vcols if any(c.col == k and c.readings and c.readings[0][0] is not None
                                               for c in t.cells)), default=None) if t.aligned else None
        for i, cells in enumerate(t.rows()):
            if not cells:
                continue
            li = max((k for k, c in enumerate(cells)
                      if (_is_label(c) or (first_v is not None and c.col + c.colspan <= first_v and c.text.strip()))
                      and (c.is_header or c.colspan > 1 or c.col not in vcols)
                      # … and a body cell right of the label columns is a value misread ('O'), not a label
                      and (c.is_header or not first_v or c.col < first_v)), default=-1)
            labels = [c for c in cells[:li + 1] if c.text.strip()]
            values = cells[li + 1:]
            if labels and not values and not t.aligned:
                labels, values = _unfuse(labels)
            prev = rows[-1] if rows else None
            if (not labels and prev is not None and prev.block == b and prev.index + prev.note.count("+") == i - 1
                    and _joinable(prev, values)):
                prev.values = prev.values + values
                prev.note += "+"
                continue
            rows.append(Row(labels, values, b, i, t.aligned, t))
    return rows


_FUSED = re.compile(r"^(?P<label>.*[\u4e00-\u9fff）)])(?P<digits>[0-9]{1,8})$")


def _unfuse(labels: list[Cell]) -> tuple[list[Cell], list[Cell]]:
    """A whole row fused into one string (规章000): split off the digits, one per cell.
    Alignment later accepts them only when their count equals the row's column count."""
    m = _FUSED.match(labels[-1].text.strip())
    if not m or len(m.group("label")) > 40:
        return labels, []
    last = labels[-1]
    head = Cell(row=last.row, col=last.col, text=m.group("label"), page=last.page, bbox=last.bbox)
    digits = [Cell(row=last.row, col=last.col + 1 + j, text=d, page=last.page) for j, d in enumerate(m.group("digits"))]
    return labels[:-1] + [head], digits


def _joinable(prev: Row, values: list[Cell]) -> bool:
    """A value-only line continues a label line printed alone (one cell per line, or a
    wrapped WPS label whose numbers sit on the next line)."""
    if len(prev.labels) != 1 and not (len(prev.labels) == 2 and not prev.values):
        return False
    if "+" in prev.note:
        return len(values) == 1
    return not any(c.text.strip() for c in prev.values)


_FUZZY = FuzzyMapper()


def _short_match(text: str, classes: list[str], thr: float = ANCHOR_SIM) -> str | None:
    """Best class for a short header-like cell, or None."""
    from .normalize import normalize
    n = normalize(text)
    if not n or len(n) > 40:
        return None
    best, bc = 0.0, None
    for c in classes:
        s = _FUZZY.similarity(text, c)
        if s > best:
            best, bc = s, c
    return bc if best >= thr else None


APPEALS_CHARS = set("结果维持纠正其他尚未审总计")


def _vertical_header(rows: list[Row]) -> bool:
    """Lines of single characters: a vertical header read column-wise (seed 000)."""
    cells = [c for r in rows for c in r.labels + r.values if c.text.strip()]
    if len(cells) < 8:
        return False
    single = [c for c in cells if len(c.text.strip()) == 1]
    return len(single) >= 0.8 * len(cells)


def find_regions(rows: list[Row], tpl_classes: dict[str, tuple[str, ...]]) -> dict[str, tuple[int, int]]:
    """Row index ranges of the active, requests and appeals tables."""
    act = [c for c in tpl_classes if c.startswith("active.")]
    req_cols = [c for c in tpl_classes if c.startswith("requests.col:") and not c.endswith(":other_org")
                and not c.endswith(":total")]
    req_rows = [c for c in tpl_classes if c.startswith("requests.row:")]
    app = [c for c in tpl_classes if c.startswith("appeals.")]
    starts: dict[str, int] = {}
    markers = {k: [normalize(m) for m in v] for k, v in config("classify.yaml").get("title_markers", {}).items()}
    for i, r in enumerate(rows):
        if not (i == 0 or rows[i - 1].table is not r.table):
            continue
        title = normalize(r.table.title) if r.table is not None and r.table.title else ""
        # a grid whose first row is the title (printed inside the table's frame)
        inner = normalize(" ".join(c.text for c in r.labels)) if r.aligned and not r.has_numbers else ""
        for name, ms in markers.items():
            if name not in starts and any(m and (m in title or m in inner) for m in ms):
                starts[name] = i
    for i, r in enumerate(rows):
        texts = [c.text for c in r.labels]
        if "requests" not in starts and any(_short_match(t, req_cols) or "申请人情况" in t or "勾稽关系" in t
                                            for t in texts):
            starts["requests"] = i
        if "requests" not in starts and any(_short_match(t, req_rows, 0.9) for t in texts) and r.has_values:
            starts["requests"] = i
        if "active" not in starts and any(_short_match(t, act, 0.85) for t in texts):
            starts["active"] = i
        if "appeals" not in starts and "requests" in starts and i > starts["requests"]:
            if any(_short_match(t, app, 0.85) for t in texts if not _short_match(t, req_cols + req_rows, 0.9)):
                starts["appeals"] = i
            elif r.labels and _vertical_header([r]) and set("".join(texts)) <= APPEALS_CHARS:
                starts["appeals"] = i
    if "appeals" not in starts and "requests" in starts:
        # headers too garbled to read: the appeals table is the grid after the requests
        # table whose value row prints one value per group and column (15), and nothing else
        n_app = sum(c.startswith("appeals.group:") for c in tpl_classes) * \
            sum(c.startswith("appeals.col:") for c in tpl_classes)
        for i, r in enumerate(rows):
            if i <= starts["requests"] or not r.aligned or rows[i - 1].table is r.table:
                continue
            body = [x for x in rows[i:] if x.table is r.table and x.has_numbers]
            if len(body) == 1 and len(body[0].values) == n_app and len(body[0].labels) == 0:
                starts["appeals"] = i
                break
    order = sorted(starts.items(), key=lambda kv: kv[1])
    out = {}
    for k, (name, s) in enumerate(order):
        e = order[k + 1][1] if k + 1 < len(order) else len(rows)
        out[name] = (s, e)
    return out


# -- value alignment -----------------------------------------------------------------------

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
    if positions and row.sep == "tab":  # tab rows keep field positions up to their trailing empties
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


# -- DP alignment of rows to template rows ---------------------------------------------------

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


# -- per-table decoders -----------------------------------------------------------------------

def _header_columns(header: list[Cell], classes: list[str], thr: float = 0.75, mapper=None) -> dict[str, Cell]:
    """Best header cell for each column class (joined with its neighbour when a label was
    broken over two cells, e.g. 本年新 / 制作数量). With a trained mapper, a cell's score is
    the larger of its fuzzy similarity and the mapper's probability (garbled headers)."""
    found: dict[str, tuple[float, Cell]] = {}
    toks = [c for c in header if c.text.strip()]
    pairs = [(c, c.text, toks[i - 1].text if i else "") for i, c in enumerate(toks)]
    pairs += [(a, a.text + b.text, "") for a, b in zip(toks, toks[1:]) if a.col == b.col or not a.text[-1:].isdigit()]
    P = None
    if mapper is not None and mapper is not _FUZZY and pairs:
        table = classes[0].split(".")[0]
        ctx = [{"table": table, "header": True, "col": c.col, "prev": pv} for c, _, pv in pairs]
        P = mapper.predict_proba([t for _, t, _ in pairs], classes, context=ctx)
    for i, (cell, text, _) in enumerate(pairs):
        for j, cls in enumerate(classes):
            s = _FUZZY.similarity(text, cls)
            if P is not None:
                s = max(s, float(P[i, j]))
            if s >= thr and s > found.get(cls, (0, None))[0]:
                found[cls] = (s, cell)
    return {k: v[1] for k, v in found.items()}


def _unique_best(found: dict[str, Cell], classes: list[str]) -> dict[str, Cell]:
    """One class per header cell: a cell claimed by two classes keeps the better one."""
    by_cell: dict[int, list[str]] = {}
    for k, c in found.items():
        by_cell.setdefault(id(c), []).append(k)
    out = dict(found)
    for ks in by_cell.values():
        if len(ks) > 1:
            c = found[ks[0]]
            best = max(ks, key=lambda k: _FUZZY.similarity(c.text, k))
            for k in ks:
                if k != best:
                    out.pop(k)
    return out


def _by_elimination(found: dict[str, Cell], classes: list[str], header_rows: list[Row]) -> None:
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
    free = sorted((_value_columns(table) & read) - {c.col for c in found.values()})
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


def _label_record(r: Row, cls: str, p: float, table: str) -> dict:
    """A mapped label as a labelled sample (docs/retraining.md): fix `class`, feed back."""
    return {"text": r.last_label, "class": cls, "p": round(float(p), 4), "context": _row_context(r, table)}


def _header_records(found: dict[str, Cell], table: str) -> list[dict]:
    return [{"text": c.text, "class": cls, "p": round(_FUZZY.similarity(c.text, cls), 4),
             "context": {"table": table, "header": True, "col": c.col}} for cls, c in found.items()]


def _row_probs(mapper, rows: list[Row], classes: list[str], table: str) -> np.ndarray:
    texts = [r.last_label for r in rows]
    ctx = [_row_context(r, table) for r in rows]
    try:
        P = mapper.predict_proba(texts, classes, context=ctx)
    except TypeError:
        P = mapper.predict_proba(texts, classes)
    _ordinal_only(rows, classes, P)
    # a row whose last cell does not match may still match with its parent cells joined
    full = [r.label for r in rows]
    if any(f != t for f, t in zip(full, texts)):
        try:
            P2 = mapper.predict_proba(full, classes, context=ctx)
        except TypeError:
            P2 = mapper.predict_proba(full, classes)
        better = P2[:, :-1].max(axis=1) > P[:, :-1].max(axis=1) + 0.2
        P[better] = P2[better]
    return P


_ORD = re.compile(r"^[（(]?([一二三四五六七八九十]+|\d{1,2})[)）、.．]?$")


def _ordinal_only(rows: list[Row], classes: list[str], P: np.ndarray) -> None:
    """A label stripped to its ordinal ("(二)", "3.") still names a row: spread its
    probability over the rows with that number and let the monotone alignment choose."""
    from .normalize import nfkc, normalize
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


def _positional_prior(P: np.ndarray, rows: list[Row], layouts: list[list[int]]) -> None:
    """Mix a prior for template order into the label probabilities of a grid's value rows
    when their count equals a layout's row count (configs/classify.yaml: why)."""
    w = float(config("classify.yaml").get("positional_prior", 0.0))
    vidx = [i for i, r in enumerate(rows) if r.has_values and r.aligned]
    if w <= 0 or not vidx:
        return
    # a region may run into the next table's rows: count the rows of its main table
    main = max({id(rows[i].table): rows[i].table for i in vidx}.values(),
               key=lambda t: sum(rows[i].table is t for i in vidx))
    vidx = [i for i in vidx if rows[i].table is main]
    w_unread = float(config("classify.yaml").get("positional_prior_unreadable", w))
    for seq in layouts:
        if len(seq) == len(vidx):
            for i, j in zip(vidx, seq):
                wi = w_unread if P[i, :-1].max() < ROW_MIN_P else w
                P[i] *= 1.0 - wi
                P[i, j] += wi
            return


def _label_only_placement() -> float:
    """Placement probability of the blanks of a flattened row printed without values: a
    blank row, or a wrapped label whose values sit on a line of their own."""
    return float(config("classify.yaml").get("label_only_row_placement", 0.9))


def _row_check(cols: list[str], equations) -> object:
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


def decode_requests(rows: list[Row], mapper, tpl: Template, out: Decoded) -> None:
    col_classes = [f"requests.col:{c.key}" for c in tpl.request_columns]
    row_classes = [f"requests.row:{r.key}" for r in tpl.request_rows]
    first_val = next((i for i, r in enumerate(rows) if r.has_numbers and r.labels and
                      not _short_match(r.last_label, col_classes)), len(rows))
    header = [c for r in rows[:first_val] for c in r.labels + r.values]
    found = _unique_best(_header_columns(header, col_classes, mapper=mapper), col_classes)
    out.labels += _header_records(found, "requests")
    _by_elimination(found, col_classes, rows[:first_val])
    if len(found) < 3:
        out.warnings.append("requests: header not recognised; columns taken in template order")
        cols = [c.key for c in tpl.request_columns]
        positions = None
    else:
        cols = [k.split(":")[1] for k in col_classes if k in found]
        positions = [found[f"requests.col:{k}"].col for k in cols]
        if positions != sorted(positions) or len(set(positions)) != len(positions):
            positions = None  # merged header cells (one per line): positions are not columns
        out.absent_cols = [k.split(":")[1] for k in col_classes if k not in found]
    body = [r for r in rows[first_val:] if r.labels]
    header_blocks = {r.block for r in rows[:first_val]}
    first_col = found.get(col_classes[0]) or next(iter(found.values()), None)
    header_table = next((r.table for r in rows[:first_val] if first_col is not None
                         and any(c is first_col for c in r.labels + r.values)), None)
    if not body:
        return
    P = _row_probs(mapper, body, row_classes, "requests")
    keys = [r.key for r in tpl.request_rows]
    _positional_prior(P, body, [[j for j, r in enumerate(tpl.request_rows) if r.expected]]
                      + [[keys.index(r.key) for r in t.request_rows] for t in templates().values()])
    assign = monotone_assign(P)
    moved: set[int] = set()     # ids of rows re-placed after a contradicted template decision
    redo = None if SANITY_OFF else _one_row_other_contradicted(P, assign, row_classes, out)
    if redo is not None:
        assign, moved = redo[0], {id(body[i]) for i in redo[1]}
    # rows of a block without the header: learn that block's first value position
    block_pos: dict[int, int] = {}
    joined: set[str] = set()    # cells of rows joined from one value a line
    unplaced = any(not r.labels and r.has_numbers and not r.aligned for r in rows[first_val:])
    for r, a in zip(body, assign):
        if a is None:
            if r.has_numbers and not re.fullmatch(r"[\W\d]*", r.label):
                out.unmapped.append(r.label)  # a printed row with numbers and no canonical key
            continue
        key = row_classes[a].split(":")[1]
        out.labels.append(_label_record(r, row_classes[a], P[body.index(r), a], "requests"))
        pos = positions if (r.block in header_blocks or r.aligned) else None
        if pos is not None and r.aligned and header_table is not None and r.table is not header_table:
            # a table continued on the next page: its value columns sit at the right edge
            # like the header's, while the label columns before them may differ in number
            pos = [p + (r.table.n_cols - header_table.n_cols) for p in pos]
        if pos is None and positions is not None and not r.aligned:
            if r.block in block_pos:
                pos = [block_pos[r.block] + (p - positions[0]) for p in positions]
        if not r.has_values:
            if P[body.index(r), a] < 0.5:
                out.missing.update({f"requests/{key}/{c}": "row label printed without values" for c in cols})
                continue
            mapping, why = {c: None for c in cols}, "row printed without values: its cells read as blank"
            # flattened: its values may sit on a line the reading did not join; a grid: its
            # value cells start on another grid row (a tall wrapped label split by a stray rule)
            if not r.aligned or not SANITY_OFF:
                out.placement.update({f"requests/{key}/{c}": _label_only_placement() for c in cols})
        else:
            mapping, why = align_values(r, cols, pos, _row_check(cols, None))
        if mapping is None:
            for c in cols:
                out.missing[f"requests/{key}/{c}"] = why
                out.unreadable.add(f"requests/{key}/{c}")
            unplaced |= r.has_numbers
            continue
        if why and (r.has_numbers or not r.has_values):
            out.warnings.append(f"requests/{key}: {why}")
        if "+" in r.note and not r.aligned:
            joined.update(f"requests/{key}/{c}" for c in mapping)
        first = next((c for c in mapping.values() if c is not None), None)
        if first is not None and not r.aligned and r.block not in header_blocks and r.block not in block_pos:
            block_pos[r.block] = first.col
        for c in cols:
            if c in mapping and id(r) in moved:
                if mapping[c] is None:
                    out.placement[f"requests/{key}/{c}"] = _label_only_placement()
                else:
                    _doubt(mapping[c], "row placed by the 2021 template after the 2019 one-row (六) "
                                       "was contradicted by the rows present")
            if c in mapping:
                out.cells[f"requests/{key}/{c}"] = mapping[c]
            else:               # a doubtful cell align_values left out: the solver may infer it
                out.missing[f"requests/{key}/{c}"] = why
                out.unreadable.add(f"requests/{key}/{c}")
    for r in tpl.request_rows:
        if not r.expected:
            continue
        for c in cols:
            k = f"requests/{r.key}/{c}"
            if k not in out.cells and k not in out.missing:
                out.missing[k] = "row not found in the table"
    if unplaced:
        _doubt_joined(out, joined)
    # hybrid: a one-row (六)其他处理 replaces the three 2021 sub-rows
    if any(k.startswith("requests/other/") for k in out.cells):
        for k in [k for k in out.missing if k.split("/")[1].startswith("other_")]:
            del out.missing[k]
        out.template = "2019"
    elif any(k.split("/")[1].startswith("other_") for k in out.cells):
        out.template = "2021"


def _one_row_other_contradicted(P: np.ndarray, assign: list, row_classes: list[str], out: Decoded):
    """2019's one-row (六)其他处理 and 2021's (六) sub-rows both taken: the rows present
    contradict the one-row (2019) reading (a tall wrapped sub-row label read with its
    parent 其他处理). The rows are aligned again without it, the row it took offered the
    sub-rows instead; returns (assignment, the rows that had taken the one row), or None
    when nothing contradicts."""
    keys = [c.split(":")[1] for c in row_classes]
    taken = [keys[a] for a in assign if a is not None]
    if "other" not in taken or not any(k.startswith("other_") for k in taken):
        return None
    j = keys.index("other")
    subs = [i for i, k in enumerate(keys) if k.startswith("other_")]
    P2 = P.copy()
    for i, a in enumerate(assign):
        if a == j:
            P2[i, subs] = np.maximum(P2[i, subs], P[i, j])
    P2[:, j] = 0.0
    new = monotone_assign(P2)
    out.warnings.append("requests: (六)其他处理 read both as one row (2019) and as sub-rows (2021); "
                        "the rows present decide 2021, rows re-placed are doubtful")
    return new, {i for i, (a, b) in enumerate(zip(assign, new)) if a == j and b != j}


def decode_active(rows: list[Row], mapper, tpl: Template, out: Decoded) -> None:
    """Sections 第二十条第(X)项, each a small table: header (信息内容 + columns) and rows."""
    sec_classes = [f"active.section:{s.key}" for s in tpl.sections]
    row_classes = [f"active.row:{s.key}.{r.key}" for s in tpl.sections for r in s.rows]
    body = [r for r in rows if r.labels]
    if not any(r.has_values for r in body):
        out.missing.update({k: "table cut off: no row printed" for k in tpl.keys("active")})
        return
    P = _row_probs(mapper, body, row_classes, "active")
    _positional_prior(P, body, [list(range(len(row_classes)))])
    assign = monotone_assign(P)
    header_of: dict[int, list[Cell]] = {}
    last_header: list[Cell] = []
    joined: set[str] = set()    # cells of rows joined from one value a line
    unplaced = any(not r.labels and r.has_numbers and not r.aligned for r in rows)
    for i, (r, a) in enumerate(zip(body, assign)):
        if a is not None:
            header_of[i] = last_header
        else:
            if any(_short_match(c.text, sec_classes, 0.85) for c in r.labels) or "信息内容" in r.label:
                last_header = []
            last_header = last_header + r.labels + r.values
    for i, (r, a) in enumerate(zip(body, assign)):
        if a is None:
            if r.has_numbers:
                out.unmapped.append(r.label)  # a printed row with numbers and no canonical key
            continue
        sec_key, row_key = row_classes[a].split(":")[1].split(".")
        sec = next(s for s in tpl.sections if s.key == sec_key)
        out.labels.append(_label_record(r, row_classes[a], P[i, a], "active"))
        col_classes = [f"active.col:{c.key}" for c in sec.columns]
        found = _unique_best(_header_columns(header_of.get(i, []), col_classes, mapper=mapper), col_classes)
        out.labels += [h for h in _header_records(found, "active") if h not in out.labels]
        cols = [c.key for c in sec.columns]
        positions = None
        if len(found) == len(cols):
            positions = [found[f"active.col:{k}"].col for k in cols]
            if positions != sorted(positions) or len(set(positions)) != len(positions):
                positions = None
        if not r.has_values:
            if P[i, a] < 0.5:
                continue
            mapping, why = {c: None for c in cols}, ""
            out.warnings.append(f"active/{sec_key}.{row_key}: row printed without values: its cells read as blank")
            if not r.aligned or not SANITY_OFF:
                out.placement.update({f"active/{sec_key}.{row_key}/{c}": _label_only_placement() for c in cols})
        else:
            mapping, why = align_values(r, cols, positions)
        if mapping is None:
            for c in cols:
                out.missing[f"active/{sec_key}.{row_key}/{c}"] = why
            unplaced |= r.has_numbers
            continue
        if "+" in r.note and not r.aligned:
            joined.update(f"active/{sec_key}.{row_key}/{c}" for c in mapping)
        for c in cols:
            if c in mapping:
                out.cells[f"active/{sec_key}.{row_key}/{c}"] = mapping[c]
            else:
                out.missing[f"active/{sec_key}.{row_key}/{c}"] = why
    for k in tpl.keys("active"):
        if k not in out.cells and k not in out.missing:
            out.missing[k] = "row not found in the table"
    if unplaced:
        _doubt_joined(out, joined)


def _doubt_joined(out: Decoded, joined: set[str]) -> None:
    """Rows joined from one value a line are dealt by count alone; when the same table
    printed values that no row could take, the text is not row by row (pdfminer, the
    default mode of pdftotext), so a count that happened to fit proves nothing."""
    p = float(config("classify.yaml").get("joined_row_placement", 0.9))
    for k in joined:
        out.placement[k] = min(out.placement.get(k, 1.0), p)


def _vertical_columns(rows: list[Row]) -> dict[int, str]:
    """Rebuild a vertical header read line by line: characters at the same field index,
    top to bottom, form one column's label (seed 000's 持 正 果 结)."""
    cols: dict[int, str] = {}
    for r in rows:
        for c in r.labels + r.values:
            if c.text.strip():
                cols[c.col] = cols.get(c.col, "") + c.text.strip()
    return cols


def decode_appeals(rows: list[Row], mapper, tpl: Template, out: Decoded) -> None:
    groups = [g.key for g in tpl.appeal_groups]
    leaf = [c.key for c in tpl.appeal_columns]
    leaf_classes = [f"appeals.col:{k}" for k in leaf]
    keys = [f"appeals/{g}/{c}" for g in groups for c in leaf]
    vrows = [r for r in rows if sum(1 for c in r.values if c.text.strip()) >= 3
             or (len(r.values) >= len(keys) - 2 and any(c.text.strip() for c in r.values))]
    if not vrows:
        out.missing.update({k: "appeals values not printed" for k in keys})
        return
    vrow = vrows[0]
    header_rows = [r for r in rows if r is not vrow and rows.index(r) < rows.index(vrow)]
    header_cells = [c for r in header_rows for c in r.labels] + vrow.labels
    positions = None
    # leaf labels by field position (tabbed header / aligned grid)
    if _vertical_header(header_rows):
        texts = _vertical_columns(header_rows)
        seq = []
        for col in sorted(texts):
            t = texts[col]
            m = [k for k, cl in zip(leaf, leaf_classes) if any(lab.endswith(t[-2:]) or lab.endswith(t[:1]) and len(t) == 1
                                                               for lab in _FUZZY.label_texts[cl])]
            seq.append((col, m))
        out.warnings.append("appeals: vertical header read column-wise; rebuilt from characters")
        c0 = min(texts)
        ok = len(seq) >= len(keys) - 1 and all(not m or leaf[(col - c0) % len(leaf)] in m for col, m in seq)
        if not ok:
            out.missing.update({k: "vertical header could not be matched to the template" for k in keys})
            return
    else:
        leaf_cells = [c for c in header_cells if _short_match(c.text, leaf_classes, 0.8)]
        group_ok = sum(1 for c in header_cells if _short_match(c.text, [f"appeals.group:{g}" for g in groups], 0.8))
        seq = [(_short_match(c.text, leaf_classes, 0.8).split(":")[1], c) for c in leaf_cells]
        if len(seq) == len(keys) and [k for k, _ in seq] == leaf * len(groups):
            pos = [c.col for _, c in seq]
            if vrow.aligned or (len(set(pos)) == len(pos) and pos == sorted(pos)):
                positions = pos
        elif len(seq) < len(leaf) or not group_ok:
            out.warnings.append("appeals: header incomplete; values taken in template order")
    mapping, why = align_values(vrow, keys, positions)
    if mapping is None:
        out.missing.update({k: why for k in keys})
        return
    for k in keys:
        if k in mapping:
            out.cells[k] = mapping[k]
        else:
            out.missing[k] = why


# -- the stage ---------------------------------------------------------------------------------

def get_mapper(name: str = "auto"):
    """The key mapper: the shipped trained classifier, or the fuzzy baseline."""
    if name in ("auto", "classifier"):
        try:
            from .keymodel import load_default
            m = load_default()
        except ImportError:
            m = None
        if m is not None:
            return m
        if name == "classifier":
            raise RuntimeError("no trained key classifier is shipped under models/keys/")
    return _FUZZY


_TITLE = re.compile(r"(?P<agency>[^\s#*，。,:：]{2,40}?)\s*(?P<year>(?:19|20)\d{2})\s*年度?\s*(?:政府)?\s*(?:信\s*息|资\s*讯)\s*公\s*开"
                    r"\s*(?:工\s*作)?\s*(?:年\s*度)?\s*报\s*告")


def read_title(text: str) -> tuple[str | None, int | None]:
    """Agency and year from the report's title (the first line naming the report)."""
    from .normalize import simplified
    head = simplified("\n".join(text.splitlines()[:60]))
    m = _TITLE.search(re.sub(r"[#*]+", " ", head))
    if not m:
        return None, None
    agency = re.sub(r"^(?:关于)?", "", m.group("agency")).strip(" 　")
    return agency or None, int(m.group("year"))


def _pre2019(text: str) -> bool:
    markers = config("detect.yaml").get("pre2019_markers", [])
    return sum(1 for mk in markers if mk in text) >= 2


def _detect_active_template(rows: list[Row]) -> str | None:
    """2019 vs 2021 from the active table's printed column labels."""
    score = {}
    for name, t in templates().items():
        classes = [f"active.col:{c.key}" for s in t.sections for c in s.columns]
        own = set(classes) - {f"active.col:{c.key}" for n2, t2 in templates().items() if n2 != name
                              for s in t2.sections for c in s.columns}
        cells = [c for r in rows for c in r.labels]
        score[name] = sum(1 for c in cells if _short_match(c.text, sorted(own), 0.8))
    best = max(score, key=score.get)
    return best if score[best] > 0 else None


def _active_template_by_rows(rows: list[Row]) -> str | None:
    """2019 vs 2021 when the active table's labels cannot be read: the one template whose
    row count equals the value rows of a recovered grid (2019 prints 8, 2021 prints 6)."""
    n = sum(1 for r in rows if r.has_values and r.aligned)
    hits = [name for name, t in templates().items() if sum(len(s.rows) for s in t.sections) == n]
    return hits[0] if len(hits) == 1 else None


def classify(doc: Document, settings=None) -> None:
    """Fill doc.fields (canonical key → Field), template, agency/year, missing, unmapped."""
    mapper = get_mapper(getattr(settings, "mapper", "auto"))
    doc.models["mapper"] = getattr(mapper, "version", getattr(mapper, "name", "fuzzy"))
    text = doc.text or " ".join(w.text for p in doc.pages for w in p.words)
    doc.agency, doc.year = read_title(text)
    rows = table_rows(doc)
    union = templates()["2021"]  # holds every requests row (incl. the hybrid one-row 其他处理)
    regions = find_regions(rows, label_classes(union))
    streamed = stream_tables(doc, union)
    if not regions and not streamed:
        if _pre2019(text):
            doc.status = "unsupported_template"
            doc.errors.append("pre-2019 report: its statistics table (政府信息公开情况统计表) is not a "
                              "supported template")
        elif doc.year is None:
            doc.fail("not a government information disclosure annual report: no report title and no "
                     "report tables found")
        else:
            doc.status = "no_tables"
            doc.errors.append("no report table found in the document")
        return
    decoded: dict[str, Decoded] = {}
    act_tpl = None
    if "active" in regions:
        s, e = regions["active"]
        act_tpl = _detect_active_template(rows[s:e]) or _active_template_by_rows(rows[s:e])
    for name, (s, e) in regions.items():
        d = Decoded(kind=name)
        if name == "active":
            tpl = templates()[act_tpl or ("2021" if (doc.year or 0) >= 2021 else "2019")]
            d.template = tpl.name
            decode_active(rows[s:e], mapper, tpl, d)
        elif name == "requests":
            decode_requests(rows[s:e], mapper, union, d)
        else:
            decode_appeals(rows[s:e], mapper, union, d)
        decoded[name] = d
    if streamed or "active" in decoded:
        tpl_a = templates()[act_tpl or ("2021" if (doc.year or 0) >= 2021 else "2019")]
        streamed.update(stream_tables(doc, union, tpl_a, only=("active",)))
    for name, d in streamed.items():
        if name not in decoded:
            decoded[name] = d
            continue
        if _prefer_stream(d, decoded[name]):
            decoded[name] = d
        else:
            _doubt_disagreements(decoded[name], d)
    req_tpl = decoded.get("requests").template if "requests" in decoded else None
    doc.template = act_tpl or req_tpl or ("2021" if (doc.year or 0) >= 2021 else "2019")
    for name, d in decoded.items():
        doc.table_templates[name] = d.template or doc.template
    if "requests" in decoded and decoded["requests"].template is None:
        doc.table_templates["requests"] = doc.template
    tpl = templates()[doc.template]
    if "requests" in decoded:
        d = decoded["requests"]
        rows_t = templates()[doc.table_templates["requests"]].request_rows
        for c in d.absent_cols:
            d.missing.update({f"requests/{r.key}/{c}": f"column {c} not printed" for r in rows_t
                              if r.expected or any(k.startswith(f"requests/{r.key}/") for k in d.cells)})
    for name in ("active", "requests", "appeals"):
        if name not in decoded:
            doc.missing.append({"key": f"{name}/*", "reason": f"{tpl.table_titles.get(name, name)}: table not found"})
    if not SANITY_OFF:
        doc.warnings += sanity(decoded)
    for d in decoded.values():
        for k, cell in d.cells.items():
            doc.fields[k] = make_field(k, cell, tpl)
            if k in d.placement:
                doc.fields[k].placement = d.placement[k]
        for k in d.unreadable:
            doc.fields[k] = Field(k, None, 0.0, text="", illegible=True)
        for k, why in sorted(d.missing.items()):
            if k in doc.fields and k not in d.unreadable:
                continue
            if d.kind == "requests" and k.split("/")[1] not in {r.key for r in
                                                                templates()[doc.table_templates["requests"]].request_rows}:
                continue
            doc.missing.append({"key": k, "reason": why})
        doc.unmapped += [{"table": d.kind, "label": u} for u in d.unmapped]
        doc.warnings += d.warnings
    doc.labels = [lab for d in decoded.values() for lab in d.labels]
    if not doc.fields:
        doc.status = "no_tables"
        doc.errors.append("report tables found but no cell could be read")
    elif doc.missing:
        doc.status = "needs_review"
        doc.warnings.append(f"{len(doc.missing)} expected cells or tables missing (see `missing`)")


def stream_tables(doc: Document, union: Template, active: Template | None = None,
                  only=("requests", "appeals")) -> dict[str, Decoded]:
    """Flattened text read as a stream (pipeline/stream.py): the tables it could decode,
    as Decoded. Only for text inputs (no recovered grid)."""
    if not doc.text or any(t.aligned for t in doc.tables):
        return {}
    from . import stream
    readers = {"requests": lambda: stream.decode_requests(doc.text, union, _FUZZY.similarity),
               "appeals": lambda: stream.decode_appeals(doc.text, union),
               "active": lambda: stream.decode_active(doc.text, active, _FUZZY.similarity) if active else None}
    out = {}
    for name in only:
        try:
            st = readers[name]()
        except Exception as e:  # the line-based reading still stands: a decoder bug must not fail the document
            doc.warnings.append(f"{name}: stream decoder failed ({type(e).__name__}: {e}); line-based reading kept")
            continue
        if st is None or not st.cells:
            continue
        d = Decoded(kind=name, template=st.template, cells=dict(st.cells), missing=dict(st.missing),
                    warnings=list(st.warnings), labels=list(st.labels), placement=dict(st.placement))
        d.unreadable = {k for k, why in st.missing.items() if "cannot be told apart" in why}
        d.warnings.insert(0, f"{name}: read as a stream of labels and values (flattened text)")
        out[name] = d
    return out


def _prefer_stream(st: Decoded, line: Decoded) -> bool:
    """The stream's reading of a table wins when it places more cells than the line-based
    one, or as many without doubt where the line-based one missed or doubted some, or
    (requests) as many with fewer in doubt or with values for rows the line-based one read
    as label-only, or (appeals: one row, its columns read in order) as many with fewer
    equations broken."""
    n_st, n_line = len(st.cells), len(line.cells)
    if n_st != n_line:
        return n_st > n_line
    if not st.placement and not st.missing and bool(line.missing or line.unreadable or line.placement):
        return True
    if st.kind == "requests":
        if len(st.placement) + len(st.missing) < len(line.placement) + len(line.missing) + len(line.unreadable):
            return True   # as many cells, fewer in doubt (a label-only row the stream gave values)
        label_only = {k for k, c in line.cells.items() if c is None and k in line.placement}
        if label_only and all(st.cells.get(k) is not None for k in label_only) and _broken(st) <= _broken(line):
            return True   # rows the lines read as label-only (blank, doubtful) hold values in the stream
    # the appeals row as many cells: the reading whose equations hold
    return st.kind == "appeals" and _broken(st) < _broken(line)


def _broken(d: Decoded) -> int:
    from .stream import balance
    tpl = templates().get(d.template or "2021", templates()["2021"])
    return balance({k: None if c is None else parse_value(c.text)[1] for k, c in d.cells.items()}, tpl)[1]


def _doubt_disagreements(keep: Decoded, other: Decoded) -> None:
    """The line-based reading of a flattened table kept over the stream's: a cell the two
    place with different values, or that the stream found printed but could not place
    (a row that lost empty cells), is doubtful; so is one the stream placed alike but
    doubted (its equations broken)."""
    doubtful = float(config("classify.yaml").get("stream", {}).get("doubtful", 0.5))

    def value(cell):
        return None if cell is None else parse_value(cell.text)[1]
    for k, cell in keep.cells.items():
        if (k in other.cells and value(other.cells[k]) != value(cell)) or k in other.unreadable:
            keep.placement[k] = min(keep.placement.get(k, 1.0), doubtful)
        elif k in other.placement:   # the same value, which the stream found doubtful to place
            keep.placement[k] = min(keep.placement.get(k, 1.0), other.placement[k])


def make_field(key: str, cell: Cell | None, tpl: Template) -> Field:
    """A result Field from a decoded cell: value parsed with the column's kind (count or
    万元 amount); OCR readings carried as alternatives."""
    lab = tpl.column_label(key) or next((t.column_label(key) for t in templates().values()
                                         if t.column_label(key)), None)
    kind = lab.kind if lab else "count"
    if cell is None:  # a trailing field the flattening dropped: printed blank
        return Field(key, None, 1.0, text="", alternatives=[(None, 1.0)])
    doubts = list(cell.doubts)
    if cell.readings:
        alts = [(_as_kind(v, kind), float(p)) for v, p in cell.readings]
        return Field(key, alts[0][0], alts[0][1], page=cell.page, bbox=cell.bbox, text=cell.text, alternatives=alts,
                     doubts=doubts)
    ok, v = parse_value(cell.text, kind)
    if not ok:  # text that is not a number: illegible, the solver may infer it
        return Field(key, None, 0.0, page=cell.page, bbox=cell.bbox, text=cell.text, illegible=True, doubts=doubts)
    return Field(key, v, 1.0, page=cell.page, bbox=cell.bbox, text=cell.text, alternatives=[(v, 1.0)], doubts=doubts)


# -- sanity guards -------------------------------------------------------------------------------

def _top(cell: Cell | None):
    """(has a reading, its value): the top reading, else the parsed text."""
    if cell is None:
        return True, None
    if cell.readings:
        return True, cell.readings[0][0]
    ok, v = parse_value(cell.text)
    return ok, v


def _doubt(cell: Cell | None, why: str) -> bool:
    if cell is None or why in cell.doubts:
        return False
    cell.doubts.append(why)
    return True


def _digits(v) -> int:
    if v is None:
        return 0
    if isinstance(v, float) and not v.is_integer():
        return sum(ch.isdigit() for ch in f"{abs(v):.6f}".rstrip("0"))
    return len(str(abs(int(v))))


def _ink_doubt(cell: Cell, ink_cfg: dict) -> str | None:
    """Why a one-line scanned cell's ink cannot hold what was read from it, or None."""
    if not cell.ink or not cell.readings:
        return None
    v = cell.readings[0][0]
    w, h = cell.ink
    if v is None or h <= 0:
        return None
    n_dig = _digits(v)
    n_chars = max(n_dig, len(re.sub(r"\s", "", cell.text or "")))
    if n_dig >= 2 and w / (n_dig * h) < float(ink_cfg["min_digit_width"]):
        return f"{n_dig} digits read from ink {w:.0f} wide and {h:.0f} high: more digits than printed"
    if n_chars and w / (n_chars * h) > float(ink_cfg["max_char_width"]):
        return f"{n_chars} characters read from ink {w:.0f} wide and {h:.0f} high: characters or gaps lost"
    return None


def sanity(decoded: dict[str, Decoded]) -> list[str]:
    """Guards against confident readings the page contradicts (configs/scoring.yaml:
    sanity): a cell's ink too narrow or too wide for the characters read from it, a row
    whose non-zero values are all copies of one reading, a printed blank among a row of
    zeros or a lone 0 among blanks. Each doubted cell gets a reason in Cell.doubts (the
    score stage caps its confidence below the review threshold); returns warnings."""
    cfg = config("scoring.yaml").get("sanity", {}) or {}
    warnings: list[str] = []
    for d in decoded.values():
        rows: dict[str, list[tuple[str, Cell | None]]] = {}
        for k, c in d.cells.items():
            rows.setdefault(k.rsplit("/", 1)[0], []).append((k, c))
            why = _ink_doubt(c, cfg.get("ink", {})) if c is not None and "ink" in cfg else None
            if why and _doubt(c, why):
                warnings.append(f"{k}: {why}")
        for row, cells in rows.items():
            vals = [(k, c, _top(c)) for k, c in cells]
            nz = [(k, c, v) for k, c, (ok, v) in vals if ok and v is not None and v != 0]
            if len(nz) >= int(cfg.get("copies_min", 3)) and len({v for _, _, v in nz}) == 1:
                why = f"every value of the row is one reading ({nz[0][2]}) copied into {len(nz)} cells"
                if sum(_doubt(c, why) for _, c, _ in nz):
                    warnings.append(f"{row}: {why}")
            if not any(c is not None and c.ink for _, c in cells):
                continue     # text layers and flattened text: a blank is what the text prints
            n_min = int(cfg.get("blank_zero_min_row", 3))
            blanks = [(k, c) for k, c, (ok, v) in vals if ok and v is None]
            zeros = [(k, c) for k, c, (ok, v) in vals if ok and v is not None and v == 0]
            if len(blanks) == 1 and len(zeros) >= n_min and len(zeros) == len(vals) - 1:
                k, c = blanks[0]
                if _doubt(c, "a printed blank in a row of zeros (a faint 0?)"):
                    warnings.append(f"{k}: a printed blank in a row of zeros")
            if len(zeros) == 1 and len(blanks) >= n_min and len(blanks) == len(vals) - 1:
                k, c = zeros[0]
                if _doubt(c, "a 0 in a row of printed blanks (a mark read as 0?)"):
                    warnings.append(f"{k}: a 0 in a row of printed blanks")
    return warnings


def _as_kind(v, kind):
    if v is None:
        return None
    return float(v) if kind == "amount" else v
