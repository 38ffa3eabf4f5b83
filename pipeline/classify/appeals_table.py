"""The appeals table (政府信息公开行政复议、行政诉讼情况): one value row under a two-level
header (groups × columns), a vertical header rebuilt from its characters."""
from __future__ import annotations

import re
from itertools import combinations

from ..templates import Template, config
from ..values import is_value_text, parse_value
from .align import align_values
from .decoded import Decoded, appeal_parts
from .guards import doubt, guards_on
from .mappers import FUZZY, short_match
from .regions import vertical_header
from .rows import Row


def _vertical_columns(rows: list[Row]) -> dict[int, str]:
    """Rebuild a vertical header read line by line: characters at the same field index,
    top to bottom, form one column's label (seed 000's 持 正 果 结)."""
    cols: dict[int, str] = {}
    for r in rows:
        for c in r.labels + r.values:
            if c.text.strip():
                cols[c.col] = cols.get(c.col, "") + c.text.strip()
    return cols


_CLEAN = re.compile(r"[0-9]+")


def _fields(r: Row, n: int) -> Row:
    """A grid row of the appeals table as its value fields. The table prints no label
    column: a grid row of exactly `n` body cells in `n` columns is all values, and a cell
    that rows.py took for a label there is a misread number ('Q', '项', 'U' on heavy scans),
    not a label that hides the values before it. A reading of such a row whose text is
    not a clean number ('1)' read as 1, 'I' as 0) is doubted: the recogniser's digits
    there are a guess the equations may then spread (test scans: 0 0 1) 0 I → total 1).
    The doubt holds in such a row with no label cell as well (its 'Q' read 0 by the digit
    model: heavy test_00000 with digit-first routing)."""
    if not r.aligned or r.table is None or r.note:
        return r
    cells = [c for c in r.table.rows()[r.index] if not c.is_header]
    if len(cells) != n or len({c.col for c in cells}) != n or any(c.colspan != 1 for c in cells):
        return r
    words = sum(1 for c in cells if c.text.strip() and not c.readings and not is_value_text(c.text))
    if 3 * words > n:       # a header row of leaf labels (HTML marks no header cells)
        return r
    if guards_on():
        for c in cells:
            if _clean_after_all(c):
                continue
            if c.readings and c.text.strip() and not _CLEAN.fullmatch(c.text.strip()):
                doubt(c, f"{c.text!r} in a value column of the appeals table: not a clean number")
    if not r.labels:
        return r
    return Row([], sorted(cells, key=lambda c: c.col), r.block, r.index, r.aligned, r.table, r.note)


def _clean_after_all(c) -> bool:
    """A value-row cell of the appeals table whose text is not bare digits but still says
    what its top reading says (classify.yaml `appeals_clean`; issue 14, session 26d: on the
    test scans the doubt hit 'O', '0件', '0项' and '/' read right and capped whole groups):
    a printed blank mark read as that blank (`blank_marks`), digits and a unit the recogniser's
    rules know (`units`: '0件'), or one character a printed 0 is read as, read 0 (`zero_shapes`,
    scoring.yaml sanity.blank_or_zero.zero_texts: 'O'). '1)', 'I', '一' stay doubted."""
    cfg = config("classify.yaml").get("appeals_clean") or {}
    if not c.readings:
        return False
    from ..ocr import normalise_text
    from ..values import blank_marks, parse_rules
    top, text = c.readings[0][0], normalise_text(c.text)
    if cfg.get("blank_marks") and top is None and text in blank_marks("grid_blank_marks"):
        return True
    if cfg.get("units") and top is not None:
        units = "|".join(map(re.escape, parse_rules("recognised").units))
        m = re.fullmatch(r"([0-9]+)(?:" + units + ")", text) if units else None
        if m and int(m.group(1)) == top:
            return True
    if cfg.get("zero_shapes") and top == 0:
        zeros = ((config("scoring.yaml").get("sanity") or {}).get("blank_or_zero") or {}).get("zero_texts", ["0"])
        if text in zeros:
            return True
    return False


def _leaf_columns(vrow: Row, n: int) -> list[int] | None:
    """The template's n columns in a recovered grid whose header labels OCR could not read:
    the rows above the value row print exactly n single-column cells (the leaf headers,
    whatever they read) in n distinct columns. Their columns, left to right, are the
    template's columns in its order; a value cell over several of them lost a rule."""
    t = vrow.table
    if not vrow.aligned or t is None:
        return None
    cols = sorted({c.col for c in t.cells if c.row < vrow.index and c.colspan == 1})
    return cols if len(cols) == n else None


def _gap_placements(vrow: Row, keys: list[str], groups: list[list[str]], out: Decoded) -> bool:
    """A value row of fewer fields than columns, with no header column to place them by
    (rules lost in header and body alike): its fields kept in order, the places of the
    missing columns chosen by the group totals (each group's 总计 = the sum of its parts;
    a group with one unknown cell takes the value that balances it). A column gets a
    value only when every placement the totals allow gives it the same one: a field then,
    or left to the solver where no field stands there; a column the placements disagree
    on is missing. Cells placed so are a guess about geometry: their placement is capped
    (classify.yaml appeals_gap_placement), below review."""
    cfg = config("classify.yaml")
    cells = list(vrow.values)
    m, n = len(cells), len(keys)
    if not (n - int(cfg.get("appeals_gap_max", 2)) <= m < n):
        return False

    def val(c):
        if c is None:
            return "?"
        if c.readings:
            return c.readings[0][0]
        ok, v = parse_value(c.text)
        return v if ok else "?"

    at = {k: j for j, k in enumerate(keys)}
    cands = []
    for gaps in combinations(range(n), n - m):
        it = iter(cells)
        slots = [None if j in gaps else next(it) for j in range(n)]
        vals = [val(c) for c in slots]
        ok = True
        for parts in groups:
            idx = [at[k] for k in parts] + [at[parts[0].rsplit("/", 1)[0] + "/total"]]
            xs = [vals[j] for j in idx]
            unknown = [i for i, x in enumerate(xs) if x == "?"]
            if len(unknown) > 1:
                continue
            if unknown:       # one unknown: the value that balances its group
                u = unknown[0]
                rest = sum(x or 0 for i, x in enumerate(xs[:-1]) if i != u)
                x = rest if u == len(xs) - 1 else (xs[-1] or 0) - rest
                if x < 0:
                    ok = False
                    break
                vals[idx[u]] = x
            elif sum(x or 0 for x in xs[:-1]) != (xs[-1] or 0):
                ok = False
                break
        if ok:
            cands.append((vals, slots))
    if not cands:
        return False
    p = float(cfg.get("appeals_gap_placement", 0.9))
    placed = 0
    for j, k in enumerate(keys):
        if len({repr(v[j]) for v, _ in cands}) != 1 or cands[0][0][j] == "?":
            out.missing[k] = f"{m} fields for {n} columns: the group totals leave its place open"
            continue
        cell = next((sl[j] for _, sl in cands if sl[j] is not None and val(sl[j]) == cands[0][0][j]), None)
        if cell is None:     # no field stands there in any placement: the solver infers it
            out.unreadable.add(k)
            out.missing[k] = f"{m} fields for {n} columns: no field printed under this column"
            continue
        out.cells[k] = cell
        out.placement[k] = min(out.placement.get(k, 1.0), p)
        placed += 1
    out.warnings.append(f"appeals: {m} fields for {n} columns; {placed} placed by the group totals")
    return True


def decode_appeals(rows: list[Row], mapper, tpl: Template, out: Decoded) -> None:
    groups = [g.key for g in tpl.appeal_groups]
    leaf = [c.key for c in tpl.appeal_columns]
    leaf_classes = [f"appeals.col:{k}" for k in leaf]
    keys = [f"appeals/{g}/{c}" for g in groups for c in leaf]
    rows = [_fields(r, len(keys)) for r in rows]
    vrows = [r for r in rows if sum(1 for c in r.values if c.text.strip()) >= 3
             or (len(r.values) >= len(keys) - 2 and any(c.text.strip() for c in r.values))]
    if not vrows:
        out.missing.update({k: "appeals values not printed" for k in keys})
        return
    # the value row prints groups × columns fields: a region that ran into the tail of a
    # garbled requests table above holds rows of a few values first (test scans: 4 of 15)
    vrow = next((r for r in vrows if len(r.values) == len(keys)), vrows[0])
    header_rows = [r for r in rows if r is not vrow and rows.index(r) < rows.index(vrow)
                   and (not vrow.aligned or r.table is vrow.table)]     # not the rows of a table above
    header_cells = [c for r in header_rows for c in r.labels] + vrow.labels
    positions = None
    # leaf labels by field position (tabbed header / aligned grid)
    if vertical_header(header_rows):
        texts = _vertical_columns(header_rows)
        seq = []
        for col in sorted(texts):
            t = texts[col]
            m = [k for k, cl in zip(leaf, leaf_classes) if any(lab.endswith(t[-2:]) or lab.endswith(t[:1]) and len(t) == 1
                                                               for lab in FUZZY.label_texts[cl])]
            seq.append((col, m))
        out.warnings.append("appeals: vertical header read column-wise; rebuilt from characters")
        c0 = min(texts)
        ok = len(seq) >= len(keys) - 1 and all(not m or leaf[(col - c0) % len(leaf)] in m for col, m in seq)
        if not ok:
            out.missing.update({k: "vertical header could not be matched to the template" for k in keys})
            return
    else:
        leaf_cells = [c for c in header_cells if short_match(c.text, leaf_classes, 0.8)]
        group_ok = sum(1 for c in header_cells if short_match(c.text, [f"appeals.group:{g}" for g in groups], 0.8))
        seq = [(short_match(c.text, leaf_classes, 0.8).split(":")[1], c) for c in leaf_cells]
        if len(seq) == len(keys) and [k for k, _ in seq] == leaf * len(groups):
            pos = [c.col for _, c in seq]
            if vrow.aligned or (len(set(pos)) == len(pos) and pos == sorted(pos)):
                positions = pos
        elif len(seq) < len(leaf) or not group_ok:
            out.warnings.append("appeals: header incomplete; values taken in template order")
            out.order_guessed = True
    if positions is None and vrow.aligned:
        positions = _leaf_columns(vrow, len(keys))
    mapping, why = align_values(vrow, keys, positions)
    if mapping is None:
        if vrow.aligned and _gap_placements(vrow, keys, appeal_parts(tpl), out):
            return
        out.missing.update({k: why for k in keys})
        return
    for k in keys:
        if vrow.aligned and positions and k in mapping and mapping[k] is None:
            mapping.pop(k)      # no cell of the grid row covers the column: not a printed blank
            why = why or "no cell of the value row under this column"
        if k in mapping:
            out.cells[k] = mapping[k]
        else:
            out.missing[k] = why
