"""The active-disclosure table (主动公开政府信息情况): one small table per section of
article 20, each with its own header."""
from __future__ import annotations

from ..model import POSITION_DOUBT, Cell
from ..templates import Template, config
from .align import align_values, monotone_assign
from .decoded import Decoded, doubt_joined, label_only_placement
from .guards import doubt, guards_on
from .labels import header_columns, header_records, label_record, positional_prior, row_probs, unique_best
from .mappers import short_match
from .requests_table import fill_row_gaps
from .rows import Row


def decode_active(rows: list[Row], mapper, tpl: Template, out: Decoded) -> None:
    """Sections 第二十条第(X)项, each a small table: header (信息内容 + columns) and rows."""
    sec_classes = [f"active.section:{s.key}" for s in tpl.sections]
    row_classes = [f"active.row:{s.key}.{r.key}" for s in tpl.sections for r in s.rows]
    body = [r for r in rows if r.labels]
    if not any(r.has_values for r in body):
        out.missing.update({k: "table cut off: no row printed" for k in tpl.keys("active")})
        return
    P = row_probs(mapper, body, row_classes, "active")
    by_position = set(positional_prior(P, body, [list(range(len(row_classes)))]))
    assign = monotone_assign(P)
    filled: set[int] = set()    # rows placed by the rows around them (label unreadable)
    if config("classify.yaml").get("fill_row_gaps") and config("classify.yaml").get("fill_active_gaps"):
        assign, gaps = fill_active_gaps(body, assign, tpl, sec_classes)
        filled = set(gaps)
    header_of: dict[int, list[Cell]] = {}
    last_header: list[Cell] = []
    joined: set[str] = set()    # cells of rows joined from one value a line
    unplaced = any(not r.labels and r.has_numbers and not r.aligned for r in rows)
    for i, (r, a) in enumerate(zip(body, assign)):
        if a is not None:
            header_of[i] = last_header
        else:
            if any(short_match(c.text, sec_classes, 0.85) for c in r.labels) or "信息内容" in r.label:
                last_header = []
            last_header = last_header + r.labels + r.values
    for i, (r, a) in enumerate(zip(body, assign)):
        if a is None:
            if r.has_numbers:
                out.unmapped.append(r.label)  # a printed row with numbers and no canonical key
            continue
        sec_key, row_key = row_classes[a].split(":")[1].split(".")
        sec = next(s for s in tpl.sections if s.key == sec_key)
        out.labels.append(label_record(r, row_classes[a], P[i, a], "active"))
        col_classes = [f"active.col:{c.key}" for c in sec.columns]
        found = unique_best(header_columns(header_of.get(i, []), col_classes, mapper=mapper), col_classes)
        out.labels += [h for h in header_records(found, "active") if h not in out.labels]
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
            if not r.aligned or guards_on():
                out.placement.update({f"active/{sec_key}.{row_key}/{c}": label_only_placement() for c in cols})
        else:
            mapping, why = align_values(r, cols, positions)
        if mapping is None:
            for c in cols:
                out.missing[f"active/{sec_key}.{row_key}/{c}"] = why
            unplaced |= r.has_numbers
            continue
        if "+" in r.note and not r.aligned:
            joined.update(f"active/{sec_key}.{row_key}/{c}" for c in mapping)
        if i in filled:
            out.placement.update({f"active/{sec_key}.{row_key}/{c}": label_only_placement() for c in mapping})
        for c in cols:
            if c in mapping and i in by_position:
                doubt(mapping[c], POSITION_DOUBT)
            if c in mapping:
                out.cells[f"active/{sec_key}.{row_key}/{c}"] = mapping[c]
            else:
                out.missing[f"active/{sec_key}.{row_key}/{c}"] = why
    for k in tpl.keys("active"):
        if k not in out.cells and k not in out.missing:
            out.missing[k] = "row not found in the table"
    if unplaced:
        doubt_joined(out, joined)


def fill_active_gaps(body: list[Row], assign: list[int | None], tpl: Template,
                     sec_classes: list[str]) -> tuple[list[int | None], list[int]]:
    """Rows of the active table whose labels were read as noise, placed as the requests table's
    (requests_table.fill_row_gaps): between two rows the labels placed, or between a section's
    title (第二十条第(X)项, read) and a row of that section, when exactly as many rows print
    values there as the template prints. Thin test_00003 light read 规章 `现录`: the row between
    第二十条第(一)项 and 规范性文件 is 规章 (classify.yaml fill_active_gaps). Returns the
    assignment and the rows so placed (their cells doubted: placed by position)."""
    keys = [f"{s.key}.{r.key}" for s in tpl.sections for r in s.rows]
    marks = [f"§{s.key}" for s in tpl.sections]
    layout = [k for s in tpl.sections for k in [f"§{s.key}"] + [f"{s.key}.{r.key}" for r in s.rows]]
    ext = list(assign)
    for i, (r, a) in enumerate(zip(body, assign)):
        if a is None and not r.has_values:
            j = next((k for k, cls in enumerate(sec_classes)
                      if any(short_match(c.text, [cls], 0.85) for c in r.labels)), None)
            if j is not None:
                ext[i] = len(keys) + j
    got, placed = fill_row_gaps(ext, body, keys + marks, [layout])
    return [a if a is None or a < len(keys) else None for a in got], placed
