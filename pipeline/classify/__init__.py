"""Classify stage: give recovered cells canonical keys (table/row/column).

How the package reads a report's tables, file by file:
* mappers — score a cell's text against label classes (one Mapper contract: FuzzyMapper,
  the baseline, and the trained keymodel.KeyClassifier take the same predict_proba arguments);
* rows — the tables' cells as rows of labels and values (the one place that knows a grid
  from flattened text: each Row's `strategy` is grid | tab | pipe | space | line);
* regions — which rows belong to the active, requests and appeals tables;
* labels — header cells matched to columns, row labels scored (ordinal, positional priors);
* align — rows to the template's row order by monotone DP; a row's values to its columns;
* active_table, requests_table, appeals_table — the three table decoders (→ Decoded);
* meta — title (agency, year) and template (2019 / 2021, pre-2019);
* guards — sanity guards: readings the page contradicts are doubted;
* stage — `classify(doc)`: the above in order, the stream reading of flattened text
  (pipeline/stream.py) weighed against the line-based one, Fields made.
"""
from __future__ import annotations

SANITY_OFF = False    # training/eval_scans.py --no-sanity: the guards (sanity, the (六) contradiction,
                      # doubtful blanks of a grid row without values) off, for a before figure

from .active_table import decode_active  # noqa: E402
from .align import align_values, monotone_assign, row_check, split_spanning  # noqa: E402
from .appeals_table import decode_appeals  # noqa: E402
from .decoded import Decoded  # noqa: E402
from .guards import sanity  # noqa: E402
from .labels import ROW_MIN_P  # noqa: E402
from .mappers import ANCHOR_SIM, FUZZY, FuzzyMapper, Mapper, get_mapper, short_match  # noqa: E402
from .meta import read_title  # noqa: E402
from .regions import find_regions  # noqa: E402
from .requests_table import decode_requests, one_row_other_contradicted  # noqa: E402
from .rows import Row, table_rows  # noqa: E402
from .stage import classify, make_field, stream_tables  # noqa: E402

__all__ = ["ANCHOR_SIM", "FUZZY", "ROW_MIN_P", "SANITY_OFF", "Decoded", "FuzzyMapper", "Mapper", "Row",
           "align_values", "classify", "decode_active", "decode_appeals", "decode_requests", "find_regions",
           "get_mapper", "make_field", "monotone_assign", "one_row_other_contradicted", "read_title",
           "row_check", "sanity", "short_match", "split_spanning", "stream_tables", "table_rows"]
