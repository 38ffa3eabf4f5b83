"""pdfminer's active table with one x column's boxes grouped across sections (issue #13 P1,
stream.xcolumns). Fixtures (tests/fixtures/flattened_pdfminer/active_*): the active region of
the text pdfminer.six wrote for test reports 20 (template `2019`) and 13 (`2021`, landscape) of
`datasets/generated/s22b/pdf`, with their active truth. Their runs of values do not follow the
headers (stream.active._columns_named fails), so every cell is read doubtful."""
import json
from pathlib import Path

import pytest

from pipeline import stream
from pipeline.classify import FuzzyMapper
from pipeline.stream import xcolumns
from pipeline.stream.tokens import value
from pipeline.templates import templates
from pipeline.values import same_number

FIX = Path(__file__).parent / "fixtures" / "flattened_pdfminer"


def _read(name: str):
    truth = json.loads((FIX / f"{name}.truth.json").read_text(encoding="utf-8"))
    tpl = templates()[truth["tables"]["active"]]
    st = stream.decode_active((FIX / f"{name}.pdfminer.txt").read_text(encoding="utf-8"), tpl,
                              FuzzyMapper().similarity)
    right = sum(same_number(value(c) if c is not None else None, truth["cells"][k]["value"])
                for k, c in st.cells.items() if k in truth["cells"])
    return st, right, len(truth["cells"])


@pytest.mark.parametrize("name,least", [("active_t020", 20), ("active_t013", 10)])
def test_xcolumns_reads_more_cells_all_doubtful(name, least, monkeypatch):
    st, right, n = _read(name)
    assert right >= least
    assert all(st.placement.get(k, 1.0) < 0.995 for k in st.cells)    # no equations: a guess
    # switched off: the plain column-major order, section by section (fewer right)
    orig = xcolumns.settings
    monkeypatch.setattr(xcolumns, "settings", lambda: {**orig(), "active_xcolumns": {"enabled": False}})
    _, before, _ = _read(name)
    assert before < right


def test_units_keep_page_order():
    tpl = templates()["2021"]     # 法规 3 columns, then single-column sections
    cols = xcolumns.units(tpl)
    # the first x column holds every section (a single-column section's value counts there)
    assert len(cols[0]) == len(tpl.sections)
    assert [u[0][1].key for u in cols[0]] == [s.key for s in tpl.sections]
    assert all(len(cols[j]) == 1 for j in range(1, len(cols)))
