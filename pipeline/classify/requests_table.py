"""The requests table (收到和处理政府信息公开申请情况): rows and columns decoded, the
2019 one-row (六) against the 2021 sub-rows."""
from __future__ import annotations

import re

import numpy as np

from ..templates import Template, config, templates
from .align import align_values, monotone_assign, row_check
from .decoded import Decoded, doubt_joined, label_only_placement
from .guards import doubt, guards_on
from .labels import (by_elimination, header_columns, header_records, label_record, positional_prior,
                     row_probs, unique_best)
from .mappers import short_match
from .rows import Row


def decode_requests(rows: list[Row], mapper, tpl: Template, out: Decoded, template_columns: bool = False) -> None:
    """`template_columns`: the rows were rewritten as the template's cells, in its column
    order (joined rows split by pipeline/joined.py): the header's words, run together by the
    same loss (`自然社会法律` / `商业科研总计` for a header wrapped over lines), do not decide
    which columns are printed."""
    col_classes = [f"requests.col:{c.key}" for c in tpl.request_columns]
    row_classes = [f"requests.row:{r.key}" for r in tpl.request_rows]
    first_val = next((i for i, r in enumerate(rows) if r.has_numbers and r.labels and
                      not short_match(r.last_label, col_classes)), len(rows))
    header = [c for r in rows[:first_val] for c in r.labels + r.values]
    found = unique_best(header_columns(header, col_classes, mapper=mapper), col_classes)
    out.labels += header_records(found, "requests")
    by_elimination(found, col_classes, rows[:first_val])
    if template_columns:
        cols = [c.key for c in tpl.request_columns]
        positions = None
    elif len(found) < 3:
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
    fill = config("classify.yaml").get("fill_row_gaps")
    unread = [r for r in rows[first_val:] if r.label_unread] \
        if fill and config("classify.yaml").get("fill_unread_labels") else []
    header_blocks = {r.block for r in rows[:first_val]}
    first_col = found.get(col_classes[0]) or next(iter(found.values()), None)
    header_table = next((r.table for r in rows[:first_val] if first_col is not None
                         and any(c is first_col for c in r.labels + r.values)), None)
    if not body:
        return
    P = row_probs(mapper, body, row_classes, "requests")
    keys = [r.key for r in tpl.request_rows]
    positional_prior(P, body, [[j for j, r in enumerate(tpl.request_rows) if r.expected]]
                      + [[keys.index(r.key) for r in t.request_rows] for t in templates().values()])
    assign = monotone_assign(P)
    moved: set[int] = set()     # ids of rows re-placed after a contradicted template decision
    redo = None if not guards_on() else one_row_other_contradicted(P, assign, row_classes, out)
    if redo is not None:
        assign, moved = redo[0], {id(body[i]) for i in redo[1]}
    filled: set[int] = set()    # ids of rows placed by the rows around them (label unreadable)
    if fill:
        if unread:          # rows whose printed label read as nothing take part in the gaps
            body, assign, P = with_unread_rows(rows[first_val:], body, assign, P)
        assign, gaps = fill_row_gaps(assign, body, keys, [[r.key for r in tpl.request_rows if r.expected]]
                                     + [[r.key for r in t.request_rows] for t in templates().values()])
        filled = {id(body[i]) for i in gaps}
    # rows of a block without the header: learn that block's first value position
    block_pos: dict[int, int] = {}
    joined: set[str] = set()    # cells of rows joined from one value a line
    continued: dict[int, list[int]] = {}   # id of a table the header's table goes on in → its positions
    unplaced = any(not r.labels and r.has_numbers and not r.aligned for r in rows[first_val:])
    for r, a in zip(body, assign):
        if a is None:
            if r.has_numbers and not re.fullmatch(r"[\W\d]*", r.label):
                out.unmapped.append(r.label)  # a printed row with numbers and no canonical key
            continue
        key = row_classes[a].split(":")[1]
        if r.labels:        # a row placed with no label read is no labelled sample
            out.labels.append(label_record(r, row_classes[a], P[body.index(r), a], "requests"))
        pos = positions if (r.block in header_blocks or r.aligned) else None
        if pos is not None and r.aligned and header_table is not None and r.table is not header_table:
            if id(r.table) not in continued:
                continued[id(r.table)] = continued_positions([found[f"requests.col:{k}"] for k in cols],
                                                             pos, header_table, r.table)
            pos = continued[id(r.table)]
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
            if not r.aligned or guards_on():
                out.placement.update({f"requests/{key}/{c}": label_only_placement() for c in cols})
        else:
            mapping, why = align_values(r, cols, pos, row_check(cols, None))
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
        if id(r) in filled:
            out.placement.update({f"requests/{key}/{c}": label_only_placement() for c in mapping})
        first = next((c for c in mapping.values() if c is not None), None)
        if first is not None and not r.aligned and r.block not in header_blocks and r.block not in block_pos:
            block_pos[r.block] = first.col
        for c in cols:
            if c in mapping and id(r) in moved:
                if mapping[c] is None:
                    out.placement[f"requests/{key}/{c}"] = label_only_placement()
                else:
                    doubt(mapping[c], "row placed by the 2021 template after the 2019 one-row (六) "
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
        doubt_joined(out, joined)
    # hybrid: a one-row (六)其他处理 replaces the three 2021 sub-rows
    if any(k.startswith("requests/other/") for k in out.cells):
        for k in [k for k in out.missing if k.split("/")[1].startswith("other_")]:
            del out.missing[k]
        out.template = "2019"
    elif any(k.split("/")[1].startswith("other_") for k in out.cells):
        out.template = "2021"


def fill_row_gaps(assign: list[int | None], body: list[Row], keys: list[str],
                  layouts: list[list[str]]) -> tuple[list[int | None], list[int]]:
    """Grid rows whose labels were read as noise, between two rows the labels placed: when the
    rows printing values between them are exactly as many as the rows one template layout
    prints between those two, they are those rows, in order ('2.車賃中品' between 1.信访举报
    and 3.要求提供公开出版物 is 2.重复申请). Returns the assignment and the rows so placed
    (their cells are doubted: placed by position, not by a label; classify.yaml fill_row_gaps).
    A run of another count (a repeated header, a rule's sliver row) is left as it was."""
    out = list(assign)
    placed = []
    idx = [i for i, a in enumerate(assign) if a is not None]
    for p, q in zip(idx, idx[1:]):
        run = [i for i in range(p + 1, q) if body[i].has_values and body[i].aligned]
        if not run:
            continue
        ka, kb = keys[assign[p]], keys[assign[q]]
        for seq in layouts:
            if ka in seq and kb in seq and seq.index(ka) < seq.index(kb):
                between = seq[seq.index(ka) + 1:seq.index(kb)]
                if len(between) == len(run):
                    for i, k in zip(run, between):
                        out[i] = keys.index(k)
                        placed.append(i)
                    break
    return out, placed


def with_unread_rows(rows: list[Row], body: list[Row], assign: list[int | None],
                     P: np.ndarray) -> tuple[list[Row], list[int | None], np.ndarray]:
    """`body` with the rows whose printed label read as nothing (Row.label_unread) put back in
    their places, unassigned and with no label probability: fill_row_gaps may then place them
    by the rows around them. A seal's ring through 5.要求行政机关确认或重新出具已获取信息 (thin
    test_00003 light) left its label cell inked but read as nothing: no label, so the row was
    no body row and its seven cells "row not found" though 4.无正当理由… and (六)其他处理 were
    read around it (classify.yaml fill_unread_labels)."""
    keep = {id(r) for r in body} | {id(r) for r in rows if r.label_unread}
    merged = [r for r in rows if id(r) in keep]
    at = {id(r): i for i, r in enumerate(body)}
    new_assign = [assign[at[id(r)]] if id(r) in at else None for r in merged]
    P2 = np.zeros((len(merged), P.shape[1]), dtype=P.dtype)
    for i, r in enumerate(merged):
        if id(r) in at:
            P2[i] = P[at[id(r)]]
    return merged, new_assign, P2


def continued_positions(header_cells: list, pos: list[int], header_table, body_table) -> list[int]:
    """The body columns under a header's columns when the table goes on on another page.

    The same table keeps its column widths from page to page, so a header cell's centre, as
    a share of its table's width, falls in its body column. Where a page's grid splits or
    merges a column the other does not (a stray rule, a faint one), counting columns puts
    every value one or two columns off while the row and column sums still hold (val_00011
    light: natural persons read as research institutes at 0.99998). Without boxes, or where
    the shares do not give one column per header in order, the value columns are taken to
    sit at the right edge like the header's (the label columns before them may differ)."""
    by_count = [p + (body_table.n_cols - header_table.n_cols) for p in pos]
    spans = column_spans(body_table)
    if header_table.bbox is None or body_table.bbox is None or not spans \
            or any(c.bbox is None for c in header_cells):
        return by_count
    hx0, _, hx1, _ = header_table.bbox
    bx0, _, bx1, _ = body_table.bbox
    if hx1 <= hx0 or bx1 <= bx0:
        return by_count
    out = []
    for c in header_cells:
        share = ((c.bbox[0] + c.bbox[2]) / 2 - hx0) / (hx1 - hx0)
        x = bx0 + share * (bx1 - bx0)
        inside = [j for j, (a, b) in spans.items() if a <= x <= b]
        if len(inside) != 1:
            return by_count
        out.append(inside[0])
    return out if out == sorted(set(out)) else by_count


def column_spans(table) -> dict[int, tuple[float, float]]:
    """Each column's x extent, from the boxes of the cells one column wide (median edges)."""
    edges: dict[int, list[tuple[float, float]]] = {}
    for c in table.cells:
        if c.colspan == 1 and c.bbox is not None:
            edges.setdefault(c.col, []).append((c.bbox[0], c.bbox[2]))
    return {j: (float(np.median([a for a, _ in e])), float(np.median([b for _, b in e])))
            for j, e in edges.items()}


def one_row_other_contradicted(P: np.ndarray, assign: list, row_classes: list[str], out: Decoded):
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
