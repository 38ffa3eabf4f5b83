"""Value runs of rows whose cells ran together, and their candidate splits (issue #21).

A run (`801000081`, `0项000000`, `3—0—003`) is cut into pieces where a cell surely ends
(units, blank marks, spaces), then every reading of the pieces as the row's cells is a
candidate: no leading zeros unless the cell is 0, at most `max_cell_digits` a cell,
decimals only in 万元 columns, a sign only in 本年增/减, blanks where printed (or, when
asked, vanished). The read stage (pipeline/joined.py) and the solve stage
(pipeline/joined_solve.py) share these. Settings: configs/joined.yaml.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import nfkc
from .templates import Template, config, templates
from .values import blank_marks


def settings() -> dict:
    """configs/joined.yaml."""
    return dict(config("joined.yaml"))


# -- value runs ----------------------------------------------------------------------------------

def unit_rx(cfg) -> str:
    units = sorted(cfg["units"], key=len, reverse=True)
    return r"[（(]?(?:" + "|".join(map(re.escape, units)) + r")[)）]?"


def marks(cfg) -> str:
    """The blank marks a run may hold, as a regex character-class body (configs/values.yaml)."""
    return re.escape("".join(sorted(blank_marks("joined_blank_marks"))))


def _tail_rx(cfg) -> re.Pattern:
    """A line's trailing value run: numbers (with a unit after them), blank marks, spaces."""
    unit = unit_rx(cfg)
    return re.compile(rf"(?:(?:[+＋]?\d+(?:\.\d+)?(?:{unit})?)|[{marks(cfg)}]|[ \t])+$")


def pieces(run: str, cfg: dict | None = None) -> list[tuple[str, str]]:
    """A value run cut where a cell surely ends: ("d", digits) pieces to split further,
    ("b", mark) one printed blank each. Units and spaces end a cell and are dropped."""
    cfg = cfg or settings()
    s = nfkc(run)
    out: list[tuple[str, str]] = []
    rx = re.compile(rf"(?P<d>\d+(?:\.\d+)*)|(?P<u>{unit_rx(cfg)})|(?P<b>[{marks(cfg)}+])|(?P<s>\s+)")
    pos = 0
    for m in rx.finditer(s):
        if m.start() != pos:
            return []
        pos = m.end()
        if m.group("d"):
            out.append(("d", m.group("d")))
        elif m.group("b"):
            out.append(("b", m.group("b")))
    return out if pos == len(s) else []


def split_tail(line: str, cfg: dict | None = None) -> tuple[str, str]:
    """(label, value run) of a line; the run is "" when the line does not end in values
    (a number inside a label, a blank mark inside a word: 本年增/减)."""
    cfg = cfg or settings()
    s = line.rstrip()
    m = _tail_rx(cfg).search(s)
    if not m or not re.search(rf"[\d{marks(cfg)}]", m.group(0)):
        return s, ""
    label, run = s[:m.start()], m.group(0)
    if re.search(r"\d[,，]?$", label):    # a number the run did not take (12.3.4, 1,205): not a row
        return s, ""
    # a blank mark inside a word (本年增/减) is text
    if label and not re.search(r"\d", run) and re.match(r"[\u4e00-\u9fff]", s[m.end():] or "x"):
        return s, ""
    return label, run


# -- candidate splits ---------------------------------------------------------------------------

class TooMany(Exception):
    """A run with more splits than max_candidates (or search steps than max_nodes)."""


@dataclass
class Split:
    values: tuple
    empties: int        # blanks printed as nothing that this split assumes


def cell_value(part: str, kind: str, cfg) -> object:
    """The value of one cell's digits, or NO_CELL when no printed cell reads so."""
    if kind == "amount":
        m = re.fullmatch(r"(0|[1-9]\d*)(\.\d+)?", part)
        if not m or len(m.group(1)) > cfg["max_cell_digits"] or len(m.group(2) or ".") - 1 > cfg["max_decimals"]:
            return NO_CELL
        return float(part)
    if kind == "signed":    # 本年增/减: a sign the mark before the digits gave
        m = re.fullmatch(r"([+-]?)(0|[1-9]\d*)", part)
        if not m or len(m.group(2)) > cfg["max_cell_digits"] or (m.group(1) and m.group(2) == "0"):
            return NO_CELL
        return int(part)
    if not re.fullmatch(r"0|[1-9]\d*", part) or len(part) > cfg["max_cell_digits"]:
        return NO_CELL
    return int(part)


NO_CELL = object()


def splits(run_pieces: list[tuple[str, str]], kinds: list[str], equations=(), empties: bool = False,
           cfg: dict | None = None) -> list[Split]:
    """Every reading of the pieces as len(kinds) cells that keeps `equations` (index
    tuples (lhs, rhs): the row's own totals; a blank counts 0). `empties`: cells printed
    as nothing may lie anywhere (each counted in Split.empties)."""
    cfg = cfg or settings()
    W = len(kinds)
    floating = [s for k, s in run_pieces if k == "f"]
    if floating:      # one value printed off its row: every place for it among the others
        rest = [p for p in run_pieces if p[0] != "f"]
        out_f: dict[tuple, Split] = {}
        for pos in range(W):
            sub = kinds[:pos] + kinds[pos + 1:]
            v = cell_value(floating[0], kinds[pos], cfg)
            if v is NO_CELL:
                continue
            for sp in splits(rest, sub, (), False, cfg):
                vals = sp.values[:pos] + (v,) + sp.values[pos:]
                if all(abs(sum(vals[k] or 0 for k in lhs) - sum(vals[k] or 0 for k in rhs)) <= 1e-6
                       for lhs, rhs in equations):
                    out_f.setdefault(vals, Split(vals, 0))
        return list(out_f.values())
    ends: dict[int, list] = {}
    for lhs, rhs in equations:
        ends.setdefault(max(lhs + rhs), []).append((lhs, rhs))
    cells: list = [None] * W
    out: list[Split] = []
    budget = [int(cfg["max_nodes"])]
    limit = int(cfg["max_candidates"])

    def holds(i: int) -> bool:
        for lhs, rhs in ends.get(i, ()):
            if abs(sum(cells[k] or 0 for k in lhs) - sum(cells[k] or 0 for k in rhs)) > 1e-6:
                return False
        return True

    room = [0] * (len(run_pieces) + 1)       # most cells the pieces from pi on can fill
    need = [0] * (len(run_pieces) + 1)       # fewest: a sign mark may join the digits after it
    for p in range(len(run_pieces) - 1, -1, -1):
        k, s_ = run_pieces[p]
        room[p] = room[p + 1] + (1 if k == "b" else len(s_.replace(".", "")))
        sign = (k == "b" and nfkc(s_) in "+-" and "signed" in kinds and p + 1 < len(run_pieces)
                and run_pieces[p + 1][0] == "d")
        need[p] = need[p + 1] + (0 if sign else 1)

    def dfs(pi: int, off: int, i: int, n_empty: int) -> None:
        budget[0] -= 1
        if budget[0] < 0 or len(out) > limit:
            raise TooMany()
        if pi == len(run_pieces):
            if i == W:
                out.append(Split(tuple(cells), n_empty))
            elif empties:
                cells[i] = None
                if holds(i):
                    dfs(pi, 0, i + 1, n_empty + 1)
            return
        if i == W or W - i < need[pi]:
            return
        if not empties and W - i > room[pi] - off:
            return
        kind, s = run_pieces[pi]
        if empties:
            cells[i] = None
            if holds(i):
                dfs(pi, off, i + 1, n_empty + 1)
        if kind == "b":
            cells[i] = None
            if s != "+" and holds(i):       # a plus is only ever a sign
                dfs(pi + 1, 0, i + 1, n_empty)
            if (kinds[i] == "signed" and nfkc(s) in "+-" and pi + 1 < len(run_pieces)
                    and run_pieces[pi + 1][0] == "d"):   # or the sign of the change after it
                dfs_part(pi + 1, 0, i, n_empty, nfkc(s).replace("+", ""))
            return
        dfs_part(pi, off, i, n_empty, "")

    def dfs_part(pi: int, off: int, i: int, n_empty: int, sign: str) -> None:
        s = run_pieces[pi][1]
        for end in range(off + 1, len(s) + 1):
            v = cell_value(sign + s[off:end], kinds[i], cfg)
            if v is NO_CELL:
                if end - off > cfg["max_cell_digits"] + cfg["max_decimals"] + 1:
                    break
                continue
            cells[i] = v
            if holds(i):
                if end == len(s):
                    dfs(pi + 1, 0, i + 1, n_empty)
                else:
                    dfs(pi, end, i + 1, n_empty)
    dfs(0, 0, 0, 0)
    return out



def row_equations(tpl: Template, keys: list[str]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The template's equations among one row's keys, as index tuples."""
    idx = {k: i for i, k in enumerate(keys)}
    out = []
    for eq in tpl.expand_equations(set(keys)):
        if all(k in idx for k in eq.lhs + eq.rhs):
            out.append((tuple(idx[k] for k in eq.lhs), tuple(idx[k] for k in eq.rhs)))
    return out


def row_shape(tpl: Template, table: str, section: str | None) -> tuple[list[str], list[str]] | None:
    """Keys of a model row of this table (or section) and their value kinds."""
    if table == "requests":
        r = next(r for r in tpl.request_rows if not r.key.startswith("total"))
        keys = [f"requests/{r.key}/{c.key}" for c in tpl.request_columns]
    elif table == "appeals":
        keys = tpl.keys("appeals")
    else:
        sec = next((s for s in tpl.sections if s.key == section), None)
        if sec is None:
            return None
        keys = [f"active/{sec.key}.{sec.rows[0].key}/{c.key}" for c in sec.columns]
    return keys, [kind_of(k, cfg=None) for k in keys]


def kind_of(key: str, cfg: dict | None = None) -> str:
    """count | amount (万元, decimals) | signed (本年增/减: may print a sign)."""
    cfg = cfg or settings()
    if key.rsplit("/", 1)[1] in cfg.get("signed_columns", ()):
        return "signed"
    for t in templates().values():
        lab = t.column_label(key)
        if lab is not None:
            return lab.kind
    return "count"


def fmt(v) -> str:
    """A cell value as the rewritten row prints it."""
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else f"{v:.1f}"
    return str(v)

