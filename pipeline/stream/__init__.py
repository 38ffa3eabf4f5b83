"""Stream decoder: a report table read from flattened text as a stream, not lines as rows.

Real extractors (pdftotext in its three modes, pypdfium2, WPS exports) do not keep a
table's rows on lines: labels wrap over 2-4 lines with the values after the last
fragment or between fragments, `-raw` separates a row's values by single spaces, the
default mode prints every label of a page first and the values after them. What they do
keep is order: the row labels in template order, and a row's values together, one per
column. So the table's text becomes a stream of label fragments and value tokens, and
  1. label fragments are aligned to the template's row sequence by dynamic programming
     (a row starts at a fragment that matches its label; the fragments after it that
     improve the match are its wrapped continuation), giving the printed rows;
  2. value tokens are cut into value rows of one token per column (a line of the
     flattened text, or a run of tokens between two label fragments);
  3. value rows are assigned to printed rows monotonically, each best inside its row's
     window of the stream (from its label to the next row's label); a row without one
     printed nothing (blank). When several assignments score alike (a block of values
     after a block of labels, fewer value rows than labels), the balance equations choose
     between their outcomes; cells on which the remaining outcomes disagree are doubtful
     (placement below 1), which keeps the document out of `ok`. Labels printed away
     from their values (the default mode) are counted where they are and the value rows
     dealt in order; a block of one value per cell is read row- or column-major
     (pypdfium2), whichever the equations prefer.
The active table is read section by section, or as one row sequence when its section
titles are printed after its rows, or (pdfminer: a box a cell) column by column, section
by section, sure only where each run of values is the columns its headers name. classify.py uses this when its line-based reading
places fewer cells (docs/flattened-text.md: figures per extractor). Thresholds and the
title/footer patterns live in configs/classify.yaml (`stream`).

Modules: tokens (region, stream items, shared types), rows (labels to printed rows, values
to value rows), align (value rows to printed rows), equations (balance, placement by the
equations), block (pdfminer's one-value-per-cell block), colruns (its
header-boxed column runs), foreign (another table's values
printed inside this one's region), requests / active / appeals (the table
decoders). Every name other modules
use is importable from the package as before (`from pipeline import stream; stream.X`).
"""
from __future__ import annotations

from .active import decode_active
from .align import assignments, effect_assignments, windows_cost
from .appeals import decode_appeals, one_page
from .equations import balance, own_balance, place_by_equations
from .block import block_rows, lone_anchors, value_runs, whole_block
from .colruns import column_runs
from .foreign import drop_foreign
from .requests import decode_requests, spilled
from .rows import (RowSpan, ValueRow, chunked_rows, label_blocks, label_rows, place_by_columns,
                   present_rows, value_rows)
from .tokens import Item, StreamTable, region, settings, tokens

__all__ = ["Item", "RowSpan", "StreamTable", "ValueRow", "assignments", "balance", "block_rows", "chunked_rows", "column_runs",
           "decode_active", "decode_appeals", "decode_requests", "drop_foreign", "effect_assignments", "label_blocks",
           "label_rows", "lone_anchors", "one_page", "own_balance", "place_by_columns", "place_by_equations", "present_rows",
           "region", "settings", "spilled", "tokens", "value_rows", "value_runs", "whole_block", "windows_cost"]
