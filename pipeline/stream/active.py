"""The active-disclosure table from flattened text, section by section (第二十条第（X）项), or
as one sequence of rows when its section titles are printed after them."""
from __future__ import annotations

import re

from ..model import Cell
from ..normalize import normalize
from ..templates import Template
from .align import assignments, windows_cost
from .foreign import drop_foreign
from .rows import label_rows, place_by_columns, value_rows
from .tokens import Item, StreamTable, label_only, region, settings, tokens, value
from .xcolumns import read_xcolumns


_SECTION = re.compile(r"第\s*二十\s*条\s*第\s*[（(]?\s*([一二三四五六七八九十]+)\s*[)）]?\s*项")


def decode_active(text: str, tpl: Template, sim) -> StreamTable | None:
    """The active table, section by section (第二十条第（X）项: a few rows × columns each):
    the same alignment as the requests table within each section's stretch of text."""
    cfg = settings()
    part = region(text, "active")
    if part is None:
        return None
    items = tokens(part)
    marks = [(k, m.group(1)) for k, it in enumerate(items) if it.kind == "F" for m in [_SECTION.search(it.text)] if m]
    by_num = {m.group(1): sec for sec in tpl.sections for m in [_SECTION.search(sec.label)] if m}
    out = StreamTable("active", template=tpl.name)
    skip = float(cfg.get("skip_expected", 0.4))
    for n, (k, num) in enumerate(marks):
        sec = by_num.get(num)
        if sec is None:
            continue
        end = marks[n + 1][0] if n + 1 < len(marks) else len(items)
        part_items = items[k + 1:end]
        rows, cols = list(sec.rows), [c.key for c in sec.columns]
        keys = [[f"active/{sec.key}.{r.key}/{c}" for c in cols] for r in rows]

        def row_sim(t: str, j: int, sec=sec, rows=rows) -> float:
            return sim(t, f"active.row:{sec.key}.{rows[j].key}")
        spans = label_rows([it for it in part_items if it.kind == "F"], rows, row_sim, [skip] * len(rows))
        if not spans:
            continue
        vrows = value_rows(part_items, len(cols), {f.pos for sp in spans for f in sp.frags})
        if vrows is None or len(vrows) > len(spans):
            continue
        place_by_columns(vrows, len(cols), [it for it in part_items if it.kind == "F"])
        if any(not v.full for v in vrows):
            continue
        best, maps, complete = assignments(windows_cost(vrows, spans), int(cfg.get("max_alignments", 500)))
        if not maps:
            continue
        outcomes = {}
        for mp in maps:
            vals = {}
            for ki, ri in enumerate(mp):
                vals.update({kk: None if it is None else value(it) for kk, it in zip(keys[spans[ri].j], vrows[ki].slots)})
            outcomes.setdefault(tuple(sorted(vals.items(), key=str)), mp)
        mp = next(iter(outcomes.values()))
        doubt = {kk for o in outcomes for kk, _ in o if len({dict(x).get(kk, "∅") for x in outcomes}) > 1}
        used = set()
        for ki, ri in enumerate(mp):
            used.add(ri)
            for kk, it in zip(keys[spans[ri].j], vrows[ki].slots):
                out.cells[kk] = None if it is None else Cell(row=it.line, col=0, text=it.text)
                if vrows[ki].doubt < 1:
                    out.placement[kk] = vrows[ki].doubt
        if len(used) < len(spans):
            # a row label with no values in its section: blanks, or values printed elsewhere
            # (pdfminer reads a section column by column); which rows got which values is
            # then a guess for the whole section
            for ri, sp in enumerate(spans):
                for kk in keys[sp.j]:
                    if ri not in used:
                        out.cells[kk] = None
                    out.placement[kk] = float(cfg.get("doubtful", 0.5))
        for kk in doubt if not complete or len(outcomes) > 1 else ():
            out.placement[kk] = float(cfg.get("doubtful", 0.5))
    alt = _active_by_windows(items, tpl, sim)
    if _sure_cells(alt) > _sure_cells(out):
        out = alt
    cm = active_by_columns(items, tpl)
    if cm is not None and (_sure_cells(cm) > _sure_cells(out)
                           or (not _sure_cells(out) and cfg.get("active_columns_doubtful", True))
                           or _partly_sure(out, tpl, float(cfg.get("active_columns_over_sure_below", 0.0)))):
        out = cm
    if cfg.get("active_spill_doubt", True):
        _doubt_spilled(text, items, tpl, out, sim)
    for kk in tpl.keys("active"):
        if kk not in out.cells:
            out.missing[kk] = "row not found in the flattened text"
    return out if out.cells else None


def _doubt_spilled(text: str, items: list[Item], tpl: Template, out: StreamTable, sim) -> None:
    """The table's last boxes printed past its region (pdfminer: `采购总金额 / 28.0673` after the
    requests title, stream.drop_foreign finds them there): a section whose column headers are
    not all printed in the region lost values to that stretch, and what looks like its row
    (`政府集中采购 / 0 / 6`) may be two sections' first column. Its cells become doubtful."""
    nxt = region(text, "requests")
    if not nxt:
        return
    toks = tokens(nxt)
    if sum(it.kind == "V" for it in drop_foreign(toks, sim)) == sum(it.kind == "V" for it in toks):
        return
    head = "".join(normalize(it.text) for it in items if it.kind == "F")
    for sec in tpl.sections:
        names = sorted({(normalize(t), c.key) for c in sec.columns for t in c.texts}, key=lambda x: -len(x[0]))
        if {c.key for c in sec.columns} <= set(_named(head, names)):
            continue
        for kk in (f"active/{sec.key}.{r.key}/{c.key}" for r in sec.rows for c in sec.columns):
            if kk in out.cells:
                out.placement[kk] = min(out.placement.get(kk, 1.0), float(settings().get("doubtful", 0.5)))


def _sure_cells(t: StreamTable) -> int:
    return sum(1 for k in t.cells if t.placement.get(k, 1.0) >= 1.0)


def _partly_sure(t: StreamTable, tpl: Template, share: float) -> bool:
    """A row reading sure of some cells only (fewer than `share` of the table's): a few
    rows found with values, the others without or doubtful. On text of one value a line
    whose count is the table's cells, that is the column-by-column text (pdfminer) cut at
    labels into runs that happen to be as long as a row (`行政许可 / 0 / 6 / 28` were three sections' first column): the column reading,
    doubtful, is the better guess, and the rows' sure cells were not sure."""
    return 0 < _sure_cells(t) < share * len(tpl.keys("active"))


def _active_by_windows(items: list[Item], tpl: Template, sim) -> StreamTable:
    """The active table as one sequence of rows, every section's rows in template order,
    section titles ignored (pdftotext's default mode may print them after the rows): a
    row's values are the tokens between its label and the next row's label, placed when
    they are exactly one per column."""
    cfg = settings()
    seq = [(sec, r) for sec in tpl.sections for r in sec.rows]
    out = StreamTable("active", template=tpl.name)

    def row_sim(t: str, j: int) -> float:
        sec, r = seq[j]
        return sim(t, f"active.row:{sec.key}.{r.key}")
    spans = label_rows([it for it in items if it.kind == "F" and not _SECTION.search(it.text)], [r for _, r in seq],
                       row_sim, [float(cfg.get("skip_expected", 0.4))] * len(seq))
    for n, sp in enumerate(spans):
        sec, r = seq[sp.j]
        cols = [c.key for c in sec.columns]
        end = spans[n + 1].first if n + 1 < len(spans) else len(items)
        vals = [it for it in items[sp.first:end] if it.kind == "V"]
        keys = [f"active/{sec.key}.{r.key}/{c}" for c in cols]
        if len(vals) == len(cols):
            for kk, it in zip(keys, vals):
                out.cells[kk] = Cell(row=it.line, col=0, text=it.text)
        elif not vals:     # blanks, or values printed elsewhere
            for kk in keys:
                out.cells[kk] = None
                out.placement[kk] = label_only()
    return out


def active_by_columns(items: list[Item], tpl: Template) -> StreamTable | None:
    """The active table as pdfminer prints it: every cell its own text box, the boxes of one
    section's column grouped first (rows are closer than columns), so the values come column
    by column, section by section, with the column headers' boxes between them. Read so when
    the region holds exactly one value per cell (blank marks included); None otherwise.

    The reading is sure only when every run of values (values with no label between them)
    holds whole columns and the column headers printed since the previous run name exactly
    those columns, in order (a run that starts, ends or turns where its headers do not
    say: pdfminer grouped boxes across sections or columns). Otherwise every cell is
    doubtful (`stream.doubtful`): the table has no equations to check a guess."""
    cfg = settings()
    vals = [it for it in items if it.kind == "V"]
    groups = [(sec, c) for sec in tpl.sections for c in sec.columns]
    keys = [f"active/{sec.key}.{r.key}/{c.key}" for sec, c in groups for r in sec.rows]
    if not vals or len(vals) != len(keys) or len({it.line for it in vals}) < len(vals):
        return None     # a line of several values: a row, not pdfminer's one box a cell
    out = StreamTable("active", template=tpl.name)
    for kk, it in zip(keys, vals):
        out.cells[kk] = Cell(row=it.line, col=0, text=it.text)
    if not _columns_named(items, tpl):
        names = sorted({(normalize(t), c.key) for sec in tpl.sections for c in sec.columns for t in c.texts},
                       key=lambda x: -len(x[0]))
        xcol = read_xcolumns(items, tpl, lambda t: _named(t, names))
        if xcol is not None:    # one x column's boxes grouped across sections (stream.xcolumns)
            return xcol
        for kk in keys:
            out.placement[kk] = float(cfg.get("doubtful", 0.5))
    return out


def _columns_named(items: list[Item], tpl: Template) -> bool:
    """Column-major, section by section, agrees with the headers: the values between two
    places where column headers or row labels are printed (other labels do not count: a
    section title, a running header) hold whole columns, and the headers before them name
    exactly those columns, in order. (Text printed row by row, one value a line, has a row
    label before each row's values: a run of one row is not whole columns.)"""
    cols: list[str] = []                    # the column key of each value, column-major
    ends: set[int] = {0}                    # value counts at which a column ends
    for sec in tpl.sections:
        for c in sec.columns:
            cols += [c.key] * len(sec.rows)
            ends.add(len(cols))
    names = sorted({(normalize(t), c.key) for sec in tpl.sections for c in sec.columns for t in c.texts},
                   key=lambda x: -len(x[0]))
    rows = {normalize(t) for sec in tpl.sections for r in sec.rows for t in r.texts} - {""}
    runs: list[list] = []                   # [headers named before the run, its values]
    text = ""                               # labels since the last value (a header wraps)
    for it in items:
        if it.kind == "V":
            named = _named(text, names)
            if named or not runs or any(r in text or (len(text) >= 2 and text in r) for r in rows):
                runs.append([named, 0])
            runs[-1][1] += 1
            text = ""
        else:
            text += normalize(it.text)
    n = 0
    for heads, size in runs:
        if n + size not in ends or heads != [cols[k] for k in range(n, n + size) if k in ends]:
            return False
        n += size
    return True


def _named(text: str, names: list[tuple[str, str]]) -> list[str]:
    """Column keys whose labels the text holds, left to right (longest label first at each
    place, no overlaps)."""
    out, i = [], 0
    while i < len(text):
        hit = next(((t, k) for t, k in names if t and text.startswith(t, i)), None)
        if hit:
            out.append(hit[1])
            i += len(hit[0])
        else:
            i += 1
    return out
