"""Rows whose cells were joined without separators (issue #21).

Portal crawlers, search caches and some copy-paste paths keep a web page's table rows as
`一、本年新收政府信息公开申请数量801000081`: the label, then every cell's digits run
together, sometimes the whole report on one line. No reader can place such a row, and
the digits alone do not say where one cell ends. The template's balance equations do.

* read (`unjoin`, called by read.read_text): a report on one line is cut into lines at its
  table titles, row ordinals and value runs; in the tables' text, a line that ends in a
  value run that cannot be the row's cells as printed (fewer values than the row has
  columns, or a label fused to its digits) is a joined row. Its run is cut into pieces at
  what survived (units such as 项, blank marks such as —, spaces), recorded on the
  Document (`Document.joined`) and the line rewritten with a provisional split (the
  first that keeps the row's own totals) so that the readers place it as any row.
* solve (`resolve`, called by solve.solve before its program): each run's keys are found
  by the provisional values; every split of every run (no leading zeros unless the cell
  is 0, decimals only in 万元 columns, at most `max_cell_digits` a cell, blanks only where
  printed, or, in a report one of whose rows cannot be filled otherwise, vanished) is a
  candidate, and one integer program chooses a candidate per run so that the fewest
  equations (row totals, column sums, cross-row) break. A run for which another choice
  is as good (within `tie_nats`) leaves the cells those choices read differently
  doubtful (placement below the review threshold), with the values as alternatives.
  The 主动公开 table has no equations: its runs are doubtful whenever they split more
  than one way.

Settings: configs/joined.yaml. Figures: docs/joined-cells.md.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .model import Document, Field, JoinedRun, Source
from .normalize import nfkc
from .templates import Template, config, templates
from .values import same_number as _same


def settings() -> dict:
    return dict(config("joined.yaml"))


# -- value runs ----------------------------------------------------------------------------------

def _unit_rx(cfg) -> str:
    units = sorted(cfg["units"], key=len, reverse=True)
    return r"[（(]?(?:" + "|".join(map(re.escape, units)) + r")[)）]?"


def _marks(cfg) -> str:
    return re.escape(cfg["blank_marks"])


def _tail_rx(cfg) -> re.Pattern:
    """A line's trailing value run: numbers (with a unit after them), blank marks, spaces."""
    unit = _unit_rx(cfg)
    return re.compile(rf"(?:(?:[+＋]?\d+(?:\.\d+)?(?:{unit})?)|[{_marks(cfg)}]|[ \t])+$")


def pieces(run: str, cfg: dict | None = None) -> list[tuple[str, str]]:
    """A value run cut where a cell surely ends: ("d", digits) pieces to split further,
    ("b", mark) one printed blank each. Units and spaces end a cell and are dropped."""
    cfg = cfg or settings()
    s = nfkc(run)
    out: list[tuple[str, str]] = []
    rx = re.compile(rf"(?P<d>\d+(?:\.\d+)*)|(?P<u>{_unit_rx(cfg)})|(?P<b>[{_marks(cfg)}+])|(?P<s>\s+)")
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
    if not m or not re.search(rf"[\d{_marks(cfg)}]", m.group(0)):
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


def _part(part: str, kind: str, cfg) -> object:
    """The value of one cell's digits, or _NO when no printed cell reads so."""
    if kind == "amount":
        m = re.fullmatch(r"(0|[1-9]\d*)(\.\d+)?", part)
        if not m or len(m.group(1)) > cfg["max_cell_digits"] or len(m.group(2) or ".") - 1 > cfg["max_decimals"]:
            return _NO
        return float(part)
    if kind == "signed":    # 本年增/减: a sign the mark before the digits gave
        m = re.fullmatch(r"([+-]?)(0|[1-9]\d*)", part)
        if not m or len(m.group(2)) > cfg["max_cell_digits"] or (m.group(1) and m.group(2) == "0"):
            return _NO
        return int(part)
    if not re.fullmatch(r"0|[1-9]\d*", part) or len(part) > cfg["max_cell_digits"]:
        return _NO
    return int(part)


_NO = object()


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
            v = _part(floating[0], kinds[pos], cfg)
            if v is _NO:
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
            v = _part(sign + s[off:end], kinds[i], cfg)
            if v is _NO:
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


# -- where a row sits: tables, sections, widths ---------------------------------------------------

_SECTION = re.compile(r"第\s*二十\s*条\s*第\s*[（(]?\s*([一二三四五六七八九十]+)\s*[)）]?\s*项")


def _titles() -> dict[str, list[str]]:
    st = config("classify.yaml").get("stream", {})
    return {k: [re.sub(r"\s+", "", t) for t in v] for k, v in st.get("titles", {}).items()}


def _untitled() -> dict[str, list[str]]:
    return config("classify.yaml").get("stream", {}).get("untitled_starts", {})


def active_template(text: str) -> Template:
    """The active table's template, from its printed column words, else the report year."""
    tpls = templates()
    squeezed = re.sub(r"\s+", "", text)
    own = {}
    for name, t in tpls.items():
        words = {w for s in t.sections for c in s.columns for w in c.texts}
        others = {w for n2, t2 in tpls.items() if n2 != name for s in t2.sections for c in s.columns for w in c.texts}
        own[name] = sum(1 for w in words - others if w in squeezed)
    best = max(own, key=own.get)
    if own[best] > 0 and list(own.values()).count(own[best]) == 1:
        return tpls[best]
    from .classify import read_title
    year = read_title(text)[1] or 2021
    return tpls["2021" if year >= 2021 else "2019"]


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


# -- read: detection and the provisional split ----------------------------------------------------

def is_one_line(text: str, cfg: dict | None = None) -> bool:
    """A report on one line (or a few): a very long line holding two table titles."""
    cfg = cfg or settings()
    titles = [t for k in ("active", "requests", "appeals") for t in _titles().get(k, [])]
    for line in text.split("\n"):
        if len(line) >= int(cfg["one_line_min_chars"]):
            sq = re.sub(r"\s+", "", line)
            if sum(1 for t in set(titles) if t in sq) >= 2:
                return True
    return False


def split_one_line(text: str, cfg: dict | None = None) -> str:
    """A report on one line cut into lines: before its numbered titles (二、主动公开…) and
    section marks; inside its tables also before every row ordinal and after every value
    run. Prose stays as it is."""
    cfg = cfg or settings()
    text = _drop_page_numbers(text, cfg)
    heads = sorted({t for v in _titles().values() for t in v}, key=len, reverse=True)
    rx = "|".join(re.escape(h) for h in heads)
    text = re.sub(rf"([一二三四五六七八九十]+、\s*(?:{rx}))", r"\n\1\n", text)
    text = re.sub(r"(第\s*二十\s*条\s*第\s*[（(]?\s*[一二三四五六七八九十]+\s*[)）]?\s*项)", r"\n\1\n", text)
    for p in (p for ps in list(_untitled().values()) + list(cfg.get("untitled_starts", {}).values()) for p in ps):
        if not p.startswith("第"):
            text = re.sub(rf"({p.lstrip('^')})", r"\n\1", text)
    lines = [s.strip() for s in text.split("\n") if s.strip()]
    unit = _unit_rx(cfg)
    out = []
    rows = sorted({w for t in templates().values() for sec in t.sections for r in sec.rows for w in r.texts},
                  key=len, reverse=True)
    act_rows = "|".join(r"\s*".join(map(re.escape, w)) for w in rows)
    for line, (table, _) in zip(lines, _regions(lines)):
        if table == "active":   # the header runs into the first row: cut before each row label
            line = re.sub(rf"(?<=\S)({act_rows})", r"\n\1", line)
        if table is not None:
            # row ordinals: （一） / 一、 / 1. (not 第（一）项, not a decimal point)
            line = re.sub(r"(?<!第)([（(][一二三四五六七八九十]+[)）])", r"\n\1", line)
            line = re.sub(r"(?<![第（(])([一二三四五六七八九十]+、)", r"\n\1", line)
            line = re.sub(r"(\d[.．、]\s?(?=[\u4e00-\u9fff]))", r"\n\1", line)
            # after each value run: a digit (with its unit) or a blank mark before a label
            line = re.sub(rf"(\d(?:{unit})?|[{_marks(cfg)}])(?=[\u4e00-\u9fff（(])(?!{unit})"
                          rf"(?![{cfg['words_after_numbers']}])", r"\1\n", line)
        out += [s.strip() for s in line.split("\n") if s.strip()]
    return "\n".join(out)


def _active_rows(section: str | None) -> set[str]:
    """Every printed wording of the row labels of an active-table section."""
    return {w for t in templates().values() for sec in t.sections if sec.key == section
            for r in sec.rows for w in r.texts}


_TITLE_AT_START = r"(?:[（(]?[一二三四五六七八九十]+[)）]?[、.．]?)?(?:政府信息公开)?"


def _is_title(squeezed: str, title: str) -> bool:
    """A line that is the title (after its ordinal), not prose that starts with its words."""
    m = re.match(_TITLE_AT_START + re.escape(title), squeezed)
    return bool(m) and len(squeezed) - m.end() <= 4 and not re.search(r"[。，；,;：:]", squeezed[m.end():])


def _drop_page_numbers(text: str, cfg: dict) -> str:
    """Page numbers (— 1 —, —2—) in order 1, 2, 3 … become line breaks; other matches stay.
    The spaced form when the report has it (a row's `02— 2 —` is then not `—02—`)."""
    pats = cfg["footer"] if isinstance(cfg["footer"], list) else [cfg["footer"]]
    pat = next((p for p in pats if re.search(p, text)), pats[-1])
    out, pos, want = [], 0, None
    for m in re.finditer(pat, text):
        k = int(m.group(1))
        if (want is None and k <= 2) or k == want:
            out.append(text[pos:m.start()] + "\n")
            pos, want = m.end(), k + 1
    return "".join(out) + text[pos:]


def _regions(lines: list[str]) -> list[tuple[str | None, str | None]]:
    """(table, active section) of every line, from the titles and section marks."""
    titles = _titles()
    untitled = {k: [re.compile(p) for p in v] for k, v in _untitled().items()}
    for k, v in settings().get("untitled_starts", {}).items():
        untitled.setdefault(k, []).extend(re.compile(p) for p in v)
    order = ["active", "requests", "appeals"]
    by_num = {}
    for t in templates().values():
        for s in t.sections:
            m = _SECTION.search(s.label)
            if m:
                by_num[m.group(1)] = s.key
    out = []
    table, section = None, None
    for line in lines:
        sq = re.sub(r"\s+", "", line)
        hit = None
        if len(sq) <= 40:   # a title starts its line (after its ordinal): not the same words in prose
            for name in ("end", "appeals", "requests", "active"):
                if any(_is_title(sq, t) for t in titles.get(name, [])):
                    hit = name
                    break
        if hit is None:   # a table printed without its title: its header words, in table order
            later = order[order.index(table) + 1:] if table in order else order
            hit = next((n for n in later if any(p.search(line) for p in untitled.get(n, []))), None)
        if hit is not None:
            table, section = (None if hit == "end" else hit), None
        m = _SECTION.search(line)
        if m and table in (None, "active"):
            table, section = "active", by_num.get(m.group(1))
        out.append((table, section))
    return out


def unjoin(text: str, doc: Document | None = None) -> str:
    """The text with its joined rows rewritten as label and provisional cells separated by
    wide spaces (recorded on `doc.joined`); unchanged when it has none."""
    cfg = settings()
    one = is_one_line(text, cfg)
    if one:
        text = split_one_line(text, cfg)
    lines = text.split("\n")
    regions = _regions(lines)
    if not any(t for t, _ in regions):
        return text
    tpls = templates()
    shapes: dict = {}
    act = None
    runs: list[JoinedRun] = []
    footers = [re.compile(p) for p in config("classify.yaml").get("stream", {}).get("footers", [])]
    found = []
    for n, (line, (table, section)) in enumerate(zip(lines, regions)):
        if table is None or (table == "active" and section is None):
            continue
        if any(rx.search(line) for rx in footers) and not re.search(r"(?<!\d)0", line):
            continue                      # a page number (3/12), never 0 nor led by a 0 (000/000 is a row)
        label, run = split_tail(line, cfg)
        if not run:
            continue
        ps = pieces(run, cfg)
        if not ps:
            continue
        if table == "active":
            act = act or active_template(text)
            tpl = act
            if not any(w in re.sub(r"\s+", "", label) for w in _active_rows(section)):
                continue                  # header words with a number in them (保留4位小数)
        else:
            tpl = tpls["2021"]
        key = (tpl.name, table, section)
        if key not in shapes:
            shapes[key] = row_shape(tpl, table, section)
        if shapes[key] is None:
            continue
        keys, kinds = shapes[key]
        W = len(kinds)
        printed = run.split()
        fused = bool(label.strip()) and not label[-1].isspace() and not run[0].isspace()
        too_long = any(k == "d" and _part(s, "amount", cfg) is _NO and len(s) > 1 for k, s in ps)
        lone = not label.strip() and len(printed) == 1 and W > 1 and len(ps[0][1]) >= W
        if not (fused or too_long or lone or len(printed) < W):
            continue                      # a row printed with its separators
        strong = (fused and (W > 1 or len(ps) > 1)) or too_long
        found.append((n, label, run, ps, table, section, tpl, keys, kinds, fused, strong))
    if not one and not any(f[-1] for f in found):
        return text                       # no row proves that cells ran together
    found = _lifted(found, lines, cfg)
    for n, label, run, ps, table, section, tpl, keys, kinds, fused, strong in found:
        W = len(kinds)
        if W == 1 and len(ps) == 1:
            lines[n] = f"{label.rstrip()}  {run.strip()}"    # a label fused to its one value
            continue
        eqs = row_equations(tpl, keys)
        got = None
        for empties in (False, True):
            try:
                cands = splits(ps, kinds, eqs, empties, cfg) or splits(ps, kinds, (), empties, cfg)
            except TooMany:
                cands = []
            if cands:
                got = min(cands, key=lambda c: c.empties).values
                break
        if got is None:
            if label.strip():
                lines[n] = f"{label.rstrip()}  {run.strip()}"
            continue
        runs.append(JoinedRun(table, section, label.strip(), ps, W, list(got), n))
        cells = ["—" if v is None else _fmt(v) for v in got]
        lines[n] = "  ".join(([label.strip()] if label.strip() else []) + cells)
    _joint_provisional(runs, lines)
    for n, (table, _) in enumerate(regions if not one else _regions(lines)):
        if table is not None and n < len(lines):   # fragments the lost gaps used to separate
            lines[n] = _ORDINAL_IN_LABEL.sub(r"\1  \2", _ORDINAL_IN_LABEL.sub(r"\1  \2", lines[n]))
    if doc is not None and runs:
        doc.joined.extend(runs)
        doc.warnings.append(f"{len(runs)} table rows printed with their cells run together"
                            f"{' (the report on one line)' if one else ''}: split by the equations")
    return "\n".join(lines)


# a row ordinal inside a line, after a vertical header character or a group label
# (度1.本机关… / 理 （四）2.没有…): the wide gap the joining removed goes back before it
_ORDINAL_IN_LABEL = re.compile(r"([^\s\d第（(])\s?((?:[（(][一二三四五六七八九十]+[)）])|(?:\d[.．]\s?(?=[\u4e00-\u9fff])))")


def _room(ps) -> int:
    return sum(1 if k != "d" else len(s.replace(".", "")) for k, s in ps)


def _lifted(found: list, lines: list[str], cfg) -> list:
    """A value printed a line above or below its row (its unit wrapped: `5` over `项`,
    pdftotext -layout) beside a run one cell short: the run takes it as a floating piece
    (`f`), placed wherever the row's equations allow; its own line is emptied."""
    out, skip = [], set()
    for a, b in zip(found, found[1:] + [None]):
        if b is None or a[0] in skip:
            continue
        pairs = [(a, b), (b, a)]
        for short, long_ in pairs:
            if (short[1].strip() or long_[1].strip() or abs(short[0] - long_[0]) > 2 or short[4] != long_[4]
                    or short[5] != long_[5] or len(short[3]) != 1 or short[3][0][0] != "d"
                    or _part(short[3][0][1], "amount", cfg) is _NO):
                continue
            W = len(long_[8])
            if _room(long_[3]) == W - 1 and not re.search(r"\s", long_[2].strip()):
                n, label, run, ps = long_[:4]
                merged = (n, label, run, [("f", short[3][0][1])] + ps) + long_[4:]
                lines[short[0]] = ""
                skip |= {short[0], long_[0]}
                out.append(merged)
                break
    return [f for f in found if f[0] not in skip] + out


def _fmt(v) -> str:
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else f"{v:.1f}"
    return str(v)


# -- solve: every run's split chosen jointly ------------------------------------------------------

def _row_keys(doc: Document, run: JoinedRun) -> list[list[str]]:
    """Candidate key lists (column order) of the rows a run may have been placed in."""
    out = []
    for tpl in templates().values():
        if run.table == "requests":
            for r in tpl.request_rows:
                out.append([f"requests/{r.key}/{c.key}" for c in tpl.request_columns])
        elif run.table == "appeals":
            out.append(tpl.keys("appeals"))
        else:
            for s in tpl.sections:
                if s.key == run.section:
                    out += [[f"active/{s.key}.{r.key}/{c.key}" for c in s.columns] for r in s.rows]
    seen, uniq = set(), []
    for ks in out:
        if len(ks) == run.width and tuple(ks) not in seen and all(k in doc.fields for k in ks):
            seen.add(tuple(ks))
            uniq.append(ks)
    return uniq


def place_runs(doc: Document) -> list[tuple[JoinedRun, list[str]]]:
    """Each run with the keys its provisional cells were placed under (in text order,
    each row once); a run whose cells the readers did not place is left out."""
    taken: set[str] = set()
    out = []
    for run in doc.joined:
        for ks in _row_keys(doc, run):
            if ks[0] in taken:
                continue
            if all(_same(doc.fields[k].value, v) and not doc.fields[k].illegible for k, v in zip(ks, run.provisional)):
                taken.update(ks)
                out.append((run, ks))
                break
    return out


def _joint_provisional(runs: list[JoinedRun], lines: list[str]) -> None:
    """The requests runs' provisional splits chosen by the table's column equations too
    (`11|0|…|13` and `1|10|…|13` both keep their row's total): the readers weigh their
    row alignments by the equations, so a wrong provisional split costs them. Rows by
    position: the first two (新收, 结转), the last two (总计, 结转下年度), the result
    rows between them (their order does not matter to the equations)."""
    req = [r for r in runs if r.table == "requests"]
    tpl = templates()["2021"]
    head = ["new_received", "carried_over"]
    tail = ["total", "carried_forward"]
    middle = [r.key for r in tpl.request_rows if r.key not in head + tail]
    if len(req) < 5 or len(req) - 4 > len(middle) or any(r.width != len(tpl.request_columns) for r in req):
        return
    rows = head + middle[:len(req) - 4] + tail
    tmp = Document(Source("joined-provisional"))
    placed = []
    for run, row in zip(req, rows):
        ks = [f"requests/{row}/{c.key}" for c in tpl.request_columns]
        for k, v in zip(ks, run.provisional):
            tmp.fields[k] = Field(k, v, alternatives=[(v, 1.0)])
        placed.append((run, ks))
    try:
        _resolve_placed(tmp, placed, settings())
    except Exception:   # the readers still get the row-by-row splits
        return
    for run, ks in placed:
        got = [tmp.fields[k].value for k in ks]
        if got != run.provisional:
            run.provisional = got
            label = run.label
            lines[run.line] = "  ".join(([label] if label else []) + ["—" if v is None else _fmt(v) for v in got])


def resolve(doc: Document) -> set[str]:
    """Choose every joined run's split with the equations (see the module docstring); set
    the cells' values, alternatives and placement. Returns the keys it decided, which the
    consistency solver then keeps as they are."""
    if not doc.joined:
        return set()
    cfg = settings()
    placed = place_runs(doc)
    if not placed:
        return set()
    return _resolve_placed(doc, placed, cfg)


def _resolve_placed(doc: Document, placed: list[tuple[JoinedRun, list[str]]], cfg: dict) -> set[str]:
    from .solve import equations_for
    eqs = equations_for(doc)
    kinds_of = {}
    for run, ks in placed:
        for k in ks:
            kinds_of[k] = kind_of(k, cfg)
    # candidates per run; vanished blanks only where some row cannot be read without them
    cands: list[list[Split] | None] = []
    need_empty = False
    for run, ks in placed:
        kinds = [kinds_of[k] for k in ks]
        try:
            if not splits(run.pieces, kinds, (), False, cfg):
                need_empty = True
        except TooMany:
            pass
        cands.append(None)
    for i, (run, ks) in enumerate(placed):
        kinds = [kinds_of[k] for k in ks]
        local = [(tuple(ks.index(k) for k in e.lhs), tuple(ks.index(k) for k in e.rhs))
                 for e in eqs if all(k in ks for k in e.lhs + e.rhs)]
        try:
            c = splits(run.pieces, kinds, local, need_empty, cfg)
            if not c:       # the row's own total is misprinted: every split stays possible
                c = splits(run.pieces, kinds, (), need_empty, cfg)
            cands[i] = c
        except TooMany:
            cands[i] = None
    decided: set[str] = set()
    sol = _choose(doc, placed, cands, eqs, cfg, need_empty)
    for i, (run, ks) in enumerate(placed):
        c = cands[i]
        if not c:
            for k in ks:
                doc.fields[k].placement = min(doc.fields[k].placement, float(cfg["unsplit_placement"]))
            why = "split too many ways to weigh" if c is None else "fit no split into its cells"
            doc.warnings.append(f"{ks[0].rsplit('/', 1)[0]}: joined digits {_text(run)!r} {why}; cells doubtful")
            continue
        chosen, alts = sol[i]
        options = [chosen] + alts
        for j, k in enumerate(ks):
            f = doc.fields[k]
            vals = [o.values[j] for o in options]
            f.value = chosen.values[j]
            f.text = "" if f.value is None else _fmt(f.value) if isinstance(f.value, float) else str(f.value)
            f.illegible = False
            if any(not _same(v, vals[0]) for v in vals[1:]):
                share: dict = {}
                for v in vals:
                    share[v] = share.get(v, 0) + 1.0 / len(vals)
                f.alternatives = sorted(share.items(), key=lambda t: (not _same(t[0], f.value), -t[1]))
                f.placement = min(f.placement, float(cfg["ambiguous_placement"]))
            else:
                f.alternatives = [(f.value, 1.0)]
            decided.add(k)
        if alts:
            doc.warnings.append(f"{ks[0].rsplit('/', 1)[0] if run.table != 'appeals' else 'appeals'}: joined digits "
                                f"{_text(run)!r} split {len(options)} ways alike; the cells they read "
                                "differently are doubtful")
    return decided


def _text(run: JoinedRun) -> str:
    return "".join(s for _, s in run.pieces)


def _choose(doc, placed, cands, eqs, cfg, empties_on: bool):
    """The jointly best candidate of every run, and per run the other candidates that
    are as good (within tie_nats): an integer program over one binary per candidate and
    one 'broken' indicator per equation that touches a run."""
    ecost = float(cfg["empty_cost"]) if empties_on else 0.0

    def prior(sp: Split) -> float:
        """Vanished blanks cost; among equals, the split whose largest cell is smallest."""
        big = max((abs(float(v)) for v in sp.values if v is not None), default=0.0)
        return ecost * sp.empties + float(cfg["size_cost"]) * math.log10(1.0 + big)
    tie = float(cfg["tie_nats"])
    touched = set()
    for eq in eqs:
        keys = set(eq.lhs + eq.rhs)
        touched |= {i for i, (run, ks) in enumerate(placed) if cands[i] and keys & set(ks)}
    out = {}
    for i, c in enumerate(cands):     # a run no equation reaches: its candidates alone
        if c and (i not in touched or len(c) == 1):
            ranked = sorted(c, key=prior)
            best = prior(ranked[0])
            out[i] = (ranked[0], [sp for sp in ranked[1:] if prior(sp) <= best + tie])
    if all(i in out for i, c in enumerate(cands) if c):
        return out
    # splits that differ only in a 0 against a blank weigh alike in every equation (a blank
    # counts 0): one class each, chosen as one; the class's members within tie_nats of its
    # best stay alternatives (a 0 or a blank: doubtful)
    classes: dict[int, list[list[Split]]] = {}
    for i, c in enumerate(cands):
        if c and i not in out:
            by: dict[tuple, list[Split]] = {}
            for sp in c:
                by.setdefault(tuple(float(v or 0) for v in sp.values), []).append(sp)
            classes[i] = [sorted(g, key=prior) for g in by.values()]
    reps = {i: [g[0] for g in gs] for i, gs in classes.items()}
    import time
    t_start = time.process_time()
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    from .solve import quiet_stdout

    cost, lb, ub, integ = [], [], [], []

    def var(c, lo, hi):
        cost.append(c); lb.append(lo); ub.append(hi); integ.append(1)
        return len(cost) - 1
    u = {i: [var(prior(sp), 0, 1) for sp in c] for i, c in reps.items()}
    key_at = {k: (i, j) for i in u for j, k in enumerate(placed[i][1])}
    rows = []
    for eq in eqs:
        terms = eq.terms()
        if not any(k in key_at for k, _ in terms):
            continue
        coef: dict[int, float] = {}
        const = 0.0
        ok = True
        big = 0.0
        for k, s in terms:
            if k in key_at:
                i, j = key_at[k]
                vals = [float(c.values[j] or 0) for c in reps[i]]
                for n, v in enumerate(vals):
                    if v:
                        coef[u[i][n]] = coef.get(u[i][n], 0.0) + s * v
                big += max(vals, default=0.0)
            else:
                f = doc.fields.get(k)
                if f is None or (f.illegible and f.status != "inferred"):
                    ok = False
                    break
                try:
                    v = float(f.value or 0)
                except (TypeError, ValueError):
                    ok = False
                    break
                const += s * v
                big += abs(v)
        if ok:
            rows.append((coef, const, big + 1.0))
    vbr = [var(float(cfg["broken_cost"]), 0, 1) for _ in rows]
    n = len(cost)
    A = lil_matrix((len(u) + 2 * len(rows), n))
    lo, hi = [], []
    r = 0
    for i, idx in u.items():
        for j in idx:
            A[r, j] = 1
        lo.append(1); hi.append(1); r += 1
    tol = 1e-6
    for (coef, const, M), vb in zip(rows, vbr):
        for j, a in coef.items():
            A[r, j] = a
        A[r, vb] = -M
        lo.append(-np.inf); hi.append(-const + tol); r += 1
        for j, a in coef.items():
            A[r, j] = a
        A[r, vb] = M
        lo.append(-const - tol); hi.append(np.inf); r += 1
    A = A.tocsr()
    c_arr, lb_a, ub_a = np.array(cost, float), np.array(lb, float), np.array(ub, float)
    cons = LinearConstraint(A, np.array(lo, float), np.array(hi, float))

    def run_milp(ubx):
        with quiet_stdout(True):
            res = milp(c_arr, integrality=np.ones(n), bounds=Bounds(lb_a, ubx), constraints=cons,
                       options={"time_limit": float(cfg["time_limit_s"]), "mip_rel_gap": 1e-9})
        if res.x is None:
            return None, None
        return float(res.fun), res.x
    best, x = run_milp(ub_a)
    if x is None:   # no solution in time: every class of every run stays possible
        for i in u:
            out[i] = (reps[i][0], reps[i][1:])
        return out
    pick = {i: int(np.argmax([x[j] for j in idx])) for i, idx in u.items()}
    budget = float(cfg["search_budget_s"])
    for i, idx in u.items():
        g = classes[i][pick[i]]
        chosen = g[0]
        alts: list[Split] = [sp for sp in g[1:] if prior(sp) <= prior(chosen) + tie]
        if len(idx) > 1:
            if time.process_time() - t_start > budget:   # not searched: every class possible
                alts += [r for k, r in enumerate(reps[i]) if k != pick[i]]
            banned = [pick[i]]
            for _ in range(int(cfg["max_alternatives"]) if time.process_time() - t_start <= budget else 0):
                ubx = ub_a.copy()
                for b in banned:
                    ubx[idx[b]] = 0
                obj, x2 = run_milp(ubx)
                if x2 is None or obj > best + tie:
                    break
                k = int(np.argmax([x2[j] for j in idx]))
                banned.append(k)
                alts.append(reps[i][k])
            else:
                if len(banned) > 1:     # as many as we look for: maybe more, all doubtful
                    alts += [r for k, r in enumerate(reps[i]) if k not in banned]
        out[i] = (chosen, alts)
    return out
