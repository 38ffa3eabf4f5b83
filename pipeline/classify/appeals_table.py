"""The appeals table (政府信息公开行政复议、行政诉讼情况): one value row under a two-level
header (groups × columns), a vertical header rebuilt from its characters."""
from __future__ import annotations

import re

from ..templates import Template
from .align import align_values
from .decoded import Decoded
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
    there are a guess the equations may then spread (test scans: 0 0 1) 0 I → total 1)."""
    if not r.aligned or not r.labels or r.table is None or r.note:
        return r
    cells = [c for c in r.table.rows()[r.index] if not c.is_header]
    if len(cells) != n or len({c.col for c in cells}) != n or any(c.colspan != 1 for c in cells):
        return r
    if guards_on():
        for c in cells:
            if c.readings and c.text.strip() and not _CLEAN.fullmatch(c.text.strip()):
                doubt(c, f"{c.text!r} in a value column of the appeals table: not a clean number")
    return Row([], sorted(cells, key=lambda c: c.col), r.block, r.index, r.aligned, r.table, r.note)


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
    mapping, why = align_values(vrow, keys, positions)
    if mapping is None:
        out.missing.update({k: why for k in keys})
        return
    for k in keys:
        if k in mapping:
            out.cells[k] = mapping[k]
        else:
            out.missing[k] = why
