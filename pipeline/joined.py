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

Modules: this one (the read stage), pipeline/joined_cells.py (value runs and their
candidate splits), pipeline/joined_solve.py (the solve stage); their public names are
importable from here too. Settings: configs/joined.yaml. Figures: docs/joined-cells.md.
"""
from __future__ import annotations

import re

from .joined_cells import (NO_CELL, Split, TooMany, cell_value, fmt, kind_of, marks, pieces, row_equations,
                           row_shape, settings, split_tail, splits, unit_rx)
from .joined_solve import place_runs, resolve, resolve_placed
from .model import Document, Field, JoinedRun, Source
from .templates import Template, config, templates

# the read stage's own names and, re-exported, the two other modules' (importable from here as before)
__all__ = ["unjoin", "grid_lines", "glued_cells", "is_one_line", "split_one_line", "active_template", "settings",
           "pieces", "split_tail",
           "splits", "Split", "TooMany", "row_shape", "row_equations", "kind_of", "resolve", "place_runs"]


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
    # a value whose unit wrapped round the row below it (`0(` / run / `件)` run together:
    # 0(21003000000000件)): the three lines they were, for the run to take the value
    units = "|".join(map(re.escape, sorted(cfg["units"], key=len, reverse=True)))
    text = re.sub(rf"(\d+(?:\.\d+)?)\s*[（(](\d{{2,}})((?:{units})[)）])", r"\n\1\n\2\n\3\n", text)
    heads = sorted({t for v in _titles().values() for t in v}, key=len, reverse=True)
    rx = "|".join(re.escape(h) for h in heads)
    text = re.sub(rf"([一二三四五六七八九十]+、\s*(?:{rx}))", r"\n\1\n", text)
    text = re.sub(r"(第\s*二十\s*条\s*第\s*[（(]?\s*[一二三四五六七八九十]+\s*[)）]?\s*项)", r"\n\1\n", text)
    for p in (p for ps in list(_untitled().values()) + list(cfg.get("untitled_starts", {}).values()) for p in ps):
        if not p.startswith("第"):
            text = re.sub(rf"({p.lstrip('^')})", r"\n\1", text)
    lines = [s.strip() for s in text.split("\n") if s.strip()]
    unit = unit_rx(cfg)
    out = []
    rows = sorted({w for t in templates().values() for sec in t.sections for r in sec.rows for w in r.texts},
                  key=len, reverse=True)
    act_rows = "|".join(r"\s*".join(map(re.escape, w)) for w in rows)
    n_app = len(templates()["2021"].keys("appeals"))
    bare_units = "|".join(map(re.escape, sorted(cfg["units"], key=len, reverse=True)))
    lifted = (re.compile(rf"(?<![\d.．])(\d)(\d{{{n_app - 1}}})({bare_units})$") if cfg.get("one_line_lifted_value", False)
              else None)
    head = re.compile(cfg["running_header"]) if cfg.get("running_header") else None
    for line, (table, _) in zip(lines, _regions(lines)):
        if head is not None and head.fullmatch(line):
            out.append(line)      # a running head: its year is no value run
            continue
        if table == "active":   # the header runs into the first row: cut before each row label
            line = re.sub(rf"(?<=\S)({act_rows})", r"\n\1", line)
        if table is not None:
            # row ordinals: （一） / 一、 / 1. (not 第（一）项, not a decimal point)
            line = re.sub(r"(?<!第)([（(][一二三四五六七八九十]+[)）])", r"\n\1", line)
            line = re.sub(r"(?<![第（(])([一二三四五六七八九十]+、)", r"\n\1", line)
            line = re.sub(r"(\d[.．、]\s?(?=[\u4e00-\u9fff]))", r"\n\1", line)
            # after each value run: a digit (with its unit) or a blank mark before a label
            line = re.sub(rf"(\d(?:{unit})?|[{marks(cfg)}])(?=[\u4e00-\u9fff（(])(?!{unit})"
                          rf"(?![{cfg['words_after_numbers']}])", r"\1\n", line)
        for s in (s.strip() for s in line.split("\n") if s.strip()):
            m = lifted.search(s) if table == "appeals" and lifted is not None else None
            # the appeals row with one value lifted over its wrapped unit (`5` over `项`, the
            # line of the other 14 between them: `500000200300000项`): the three lines they
            # were, for the run to take the value as a floating piece (_lifted)
            out += [p for p in (s[:m.start()].strip(), *m.groups()) if p] if m else [s]
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
    """Page numbers (— 1 —, —2—, 第2页) in order 1, 2, 3 … become line breaks; other matches
    stay. A running head glued after one (`第4页某局2022年政府信息公开工作年度报告…`, the next
    page's) becomes a line of its own (configs/joined.yaml `running_header`).
    The spaced form when the report has it (a row's `02— 2 —` is then not `—02—`)."""
    pats = cfg["footer"] if isinstance(cfg["footer"], list) else [cfg["footer"]]
    pat = next((p for p in pats if re.search(p, text)), pats[-1])
    head = re.compile(cfg["running_header"]) if cfg.get("running_header") else None
    out, pos, want = [], 0, None
    for m in re.finditer(pat, text):
        k = int(m.group(1))
        if (want is None and k <= 2) or k == want:
            out.append(text[pos:m.start()] + "\n")
            pos, want = m.end(), k + 1
            h = head.match(text, pos) if head is not None else None
            if h:   # the next page's running head (the report's title) is a line of its own
                out.append(h.group(0) + "\n")
                pos = h.end()
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


def unjoin(text: str, doc: Document | None = None, proven: bool = False) -> str:
    """The text with its joined rows rewritten as label and provisional cells separated by
    wide spaces (recorded on `doc.joined`); unchanged when it has none. `proven`: the
    caller saw cells run together (a web page's <td> holding `——22`), so rows short of
    values are joined rows even when none of them is fused or impossible."""
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
        label, run = split_tail(_WRAPPED_UNIT.sub(r"\1", line), cfg)
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
        too_long = any(k == "d" and cell_value(s, "amount", cfg) is NO_CELL and len(s) > 1 for k, s in ps)
        lone = not label.strip() and len(printed) == 1 and W > 1 and len(ps[0][1]) >= W
        if not (fused or too_long or lone or len(printed) < W):
            continue                      # a row printed with its separators
        # a label glued to one blank mark is no proof: a wrapped header word (`本年增/` over `减`)
        strong = (fused and (W > 1 or len(ps) > 1) and (len(ps) > 1 or any(ch.isdigit() for ch in run))
                  ) or too_long
        found.append((n, label, run, ps, table, section, tpl, keys, kinds, fused, strong))
    if not one and not proven and not any(f[-1] for f in found):
        return text                       # no row proves that cells ran together
    found = _lifted(_rejoined(found, lines, cfg), lines, cfg)
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
        cells = ["—" if v is None else fmt(v) for v in got]
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


# -- grids whose cells hold joined rows (web pages, Word tables) -----------------------------------

def grid_lines(rows: list[list[str]]) -> str:
    """A grid as flattened text: a line per row, its cells two spaces apart (as
    `pdftotext -layout` leaves them); an empty cell after a value is a printed blank."""
    lines = []
    for cells in rows:
        out, seen_value = [], False
        for c in cells:
            if c:
                out.append(c)
                seen_value = seen_value or bool(re.search(r"\d", c))
            elif seen_value:
                out.append("—")
        lines.append("  ".join(out))
    return "\n".join(lines)


# one cell holding several values glued (`——22`, `0—0`): at least two tokens after an
# optional leading sign, each a number or a blank mark (not 3/12, not a year 2020-2021)
_GLUED = re.compile(r"[—\-－–]?(?:\d+(?:\.\d+)?|[—/／\-－–])(?:\d+(?:\.\d+)?|[—/／\-－–])+")


def glued_cells(texts: list[str]) -> bool:
    """Some grid cell holds several values glued together: proof that the grid's rows ran
    together (unjoin's `proven`). Only a blank mark between or after values shows it
    (`——22`, `31—`, `0—0`); digits alone (`12`) may be one number, a signed number
    (`-5`) is one value."""
    return any(_GLUED.fullmatch(c) and re.search(r"\d", c) and re.search(r"[—/／\-－–]", c)
               and not re.fullmatch(r"[—\-－–]?\d+(?:\.\d+)?", c) and not re.fullmatch(r"\d+/\d+", c)
               and not re.search(r"(?<!\d)(?:19|20)\d\d(?!\d)", c) for c in texts)


# a row ordinal inside a line, after a vertical header character or a group label
# (度1.本机关… / 理 （四）2.没有…): the wide gap the joining removed goes back before it
_ORDINAL_IN_LABEL = re.compile(r"([^\s\d第（(])\s?((?:[（(][一二三四五六七八九十]+[)）])|(?:\d[.．]\s?(?=[\u4e00-\u9fff])))")


def _room(ps) -> int:
    return sum(1 if k != "d" else len(s.replace(".", "")) for k, s in ps)


# a value whose unit wrapped after its opening bracket (`0(` over `件)`): the value alone
_WRAPPED_UNIT = re.compile(r"^(\s*\d+(?:\.\d+)?)\s*[（(]\s*$")


def _rejoined(found: list, lines: list[str], cfg) -> list:
    """One row printed as two runs around a value whose unit wrapped (`pdftotext -raw`:
    `000002003` / `5` / `项` / `00000`, the cells left of the wrapped one, its number, its
    unit, the cells right of it): one run again, in that order, when the two runs and the
    value fill the row exactly and nothing but the value and its unit stands between them
    (configs/joined.yaml `rejoin_split_row`). Before `_lifted`, which would float the value."""
    if not cfg.get("rejoin_split_row", False):
        return found
    unit_line = re.compile(rf"\s*{unit_rx(cfg)}\s*")
    out, skip = [], set()
    for a, v, b in zip(found, found[1:], found[2:]):
        if {a[0], v[0], b[0]} & skip:
            continue
        if (any(f[1].strip() for f in (a, v, b)) or len({(f[4], f[5]) for f in (a, v, b)}) != 1
                or not a[0] < v[0] < b[0] or len(v[3]) != 1 or v[3][0][0] != "d"
                or cell_value(v[3][0][1], "amount", cfg) is NO_CELL):
            continue
        between = [lines[j] for j in range(a[0] + 1, b[0]) if j != v[0]]
        wrapped = v[0] + 1 < b[0] and unit_line.fullmatch(lines[v[0] + 1]) is not None
        W = len(a[8])
        if (not wrapped or not all(not s.strip() or unit_line.fullmatch(s) for s in between)
                or _room(a[3]) + 1 + _room(b[3]) != W or min(_room(a[3]), _room(b[3])) < 1):
            continue
        run = f"{a[2].strip()} {v[2].strip()} {b[2].strip()}"
        out.append((a[0], "", run, a[3] + v[3] + b[3]) + a[4:9] + (False, a[10] or b[10]))
        for j in range(a[0] + 1, b[0] + 1):
            lines[j] = ""
        skip |= {a[0], v[0], b[0]}
    return sorted([f for f in found if f[0] not in skip] + out, key=lambda f: f[0])


def _lifted(found: list, lines: list[str], cfg) -> list:
    """A value printed a line above or below its row (its unit wrapped: `5` over `项`,
    `0(` over `件)`, pdftotext -layout) beside a run one cell short: the run takes it as a
    floating piece (`f`), placed wherever the row's equations allow; its own line and the
    wrapped unit's line beside the two are emptied (a lone `件` there hides the table)."""
    out, skip = [], set()
    unit_line = re.compile(rf"\s*{unit_rx(cfg)}\s*")
    for a, b in zip(found, found[1:] + [None]):
        if b is None or a[0] in skip:
            continue
        pairs = [(a, b), (b, a)]
        for short, long_ in pairs:
            if (short[1].strip() or long_[1].strip() or abs(short[0] - long_[0]) > 2 or short[4] != long_[4]
                    or short[5] != long_[5] or len(short[3]) != 1 or short[3][0][0] != "d"
                    or cell_value(short[3][0][1], "amount", cfg) is NO_CELL):
                continue
            W = len(long_[8])
            if _room(long_[3]) == W - 1 and not re.search(r"\s", long_[2].strip()):
                n, label, run, ps = long_[:4]
                merged = (n, label, run, [("f", short[3][0][1])] + ps) + long_[4:]
                lines[short[0]] = ""
                for j in (min(short[0], n) - 1, max(short[0], n) + 1):
                    if 0 <= j < len(lines) and unit_line.fullmatch(lines[j]):
                        lines[j] = ""
                skip |= {short[0], long_[0]}
                out.append(merged)
                break
    return [f for f in found if f[0] not in skip] + out


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
        resolve_placed(tmp, placed, settings())
    except Exception:   # the readers still get the row-by-row splits
        return
    for run, ks in placed:
        got = [tmp.fields[k].value for k in ks]
        if got != run.provisional:
            run.provisional = got
            label = run.label
            lines[run.line] = "  ".join(([label] if label else []) + ["—" if v is None else fmt(v) for v in got])
