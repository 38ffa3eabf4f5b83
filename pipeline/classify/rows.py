"""Rows: the only place that reads table cells as rows of labels and values.

A Table is a recovered grid (``aligned``: a cell's col is geometric) or flattened text (a
cell's col is its field in a line, ``Table.separators`` says how the line was split). Each
Row says which by its ``strategy``: grid | tab | pipe | space | line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Cell, Document, Table
from ..templates import config
from ..values import is_value_text


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
    def strategy(self) -> str:
        """How the row was read from its table: "grid" (aligned: columns are geometric), or for
        flattened text the separator its line was split on, tab | pipe | space | line (one
        field a line). The stream decoder (pipeline/stream.py) reads text without rows."""
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
    def header_only(self) -> bool:
        """Every cell of the row is a header cell (grid_tables.mark_headers): a header row whose
        blank cell (a column its section does not print) still reads as a value field."""
        cells = self.labels + self.values
        return bool(cells) and all(c.is_header for c in cells)

    @property
    def has_numbers(self) -> bool:
        return any(c.text.strip() for c in self.values)

    @property
    def label_unread(self) -> bool:
        """A grid row printing numbers whose label was printed but read as nothing: no label
        cell, and a body cell outside the value columns recognised (`char_probs` set: a scan's
        inked cell) but read as nothing and given no readings (an empty cell gets a blank
        reading, a value cell a number or a blank). A seal's ring through a faint label."""
        return self.aligned and not self.labels and self.has_numbers and any(
            not c.is_header and c.char_probs is not None and not c.text.strip() and not c.readings
            for c in self.values)


def _is_label(cell: Cell) -> bool:
    return bool(cell.text.strip()) and not is_value_text(cell.text)


def value_columns(t: Table) -> set[int]:
    """Columns of a recovered grid where most body cells got numeric readings: their cells
    are values even when OCR made their text look like words (a heavy scan's "リ" for 0)."""
    if not t.aligned:
        return set()
    seen: dict[int, list[bool]] = {}
    for c in t.cells:
        if c.colspan == 1 and not c.is_header and (c.text.strip() or c.readings):
            seen.setdefault(c.col, []).append(bool(c.readings))
    return {k for k, v in seen.items() if sum(v) >= 0.5 * len(v)}


def first_value_column(t: Table, vcols: set[int]) -> int | None:
    """The leftmost value column of a grid: a column of `vcols` whose body cells hold numbers
    (a top reading that is not a blank) in at least `first_value_share` (configs/classify.yaml)
    as many rows as the column holding the most. A label column where one garbled label reads
    as a number ('1果' under a vertical label: its grid column was taken for a numeric one, its
    labels got readings) is not the first value column: taken for it, every label right of it
    was read as a value and the table's rows were not found (val_00010 heavy, session 27b)."""
    share = float(config("classify.yaml").get("first_value_share", 0.0))
    counts = {k: 0 for k in vcols}
    for c in t.cells:
        if c.col in counts and c.readings and c.readings[0][0] is not None:
            counts[c.col] += 1
    most = max(counts.values(), default=0)
    return min((k for k, n in counts.items() if n and n >= share * most), default=None)


def table_rows(doc: Document) -> list[Row]:
    """All grid rows of all tables in reading order, split into labels and values.

    One-cell-per-line flattening puts a label on one line and its values on the lines
    after it: a label-only line followed by value-only lines is joined into one row.
    """
    rows: list[Row] = []
    for b, t in enumerate(doc.tables):
        vcols = value_columns(t)
        # a grid's label columns lie left of its value columns: a number there is a label
        # whose words were lost (a sub-row's ordinal "2" on a heavy scan), not a value
        first_v = first_value_column(t, vcols) if t.aligned else None
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
