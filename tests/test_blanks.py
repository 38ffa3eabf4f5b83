"""Blanks printed as nothing on text without positions (pipeline/stream/blanks.py).

Fixtures in tests/fixtures/blanks/: the text pdftotext -raw and pdfplumber wrote for digital
PDFs of reports that print their zeros as nothing (generated with every blank printed as
nothing: /tmp build script of issue #13/#21's blanks session, val split), with their truth."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.export import to_result
from pipeline.run import extract
from pipeline.stream import blanks
from pipeline.stream.tokens import Item
from pipeline.templates import templates

FIX = Path(__file__).parent / "fixtures" / "blanks"
REVIEW = 0.995


def _read(name: str) -> tuple[dict, dict]:
    truth = json.loads((FIX / f"{name.split('.')[0]}.truth.json").read_text(encoding="utf-8"))["cells"]
    return truth, to_result(extract(FIX / f"{name}.txt"))


@pytest.fixture(scope="module")
def v14():
    return _read("v14.pdftotext-raw")


@pytest.fixture(scope="module")
def v21():
    return _read("v21.pdftotext-raw")


def test_requests_table_printed_empty_reads_blank_not_missing(v14):
    """Every requests row label printed, no value at all (a year without requests, zeros
    printed as nothing): every cell blank, none missing, none accepted without a look."""
    truth, res = v14
    req = {k: v for k, v in truth.items() if k.startswith("requests/")}
    assert all(v is None for v in req.values())
    assert all(k in res["cells"] for k in req), [k for k in req if k not in res["cells"]][:3]
    assert all(res["cells"][k]["value"] is None for k in req)
    assert all(res["cells"][k]["confidence"] < REVIEW for k in req)
    assert any("every row printed without a value" in w for w in res["warnings"])


def test_appeals_table_printed_empty_reads_blank_not_missing(v21):
    truth, res = v21
    app = {k: v for k, v in truth.items() if k.startswith("appeals/")}
    assert app and all(v is None for v in app.values())
    assert all(k in res["cells"] and res["cells"][k]["value"] is None for k in app)
    assert all(res["cells"][k]["confidence"] < REVIEW for k in app)


@pytest.mark.parametrize("name", ["v12.pdfplumber", "v12.pdftotext-raw", "v14.pdftotext-raw", "v21.pdftotext-raw"])
def test_no_confident_wrong_cell(name):
    truth, res = _read(name)
    wrong = [k for k, v in truth.items() if k in res["cells"] and res["cells"][k]["value"] != v]
    assert not [k for k in wrong if res["cells"][k]["confidence"] >= REVIEW], wrong[:5]
    if res["status"] == "ok":
        assert not wrong


# -- the position search -------------------------------------------------------------------------

TPL = templates()["2021"]
COLS = [c.key for c in TPL.request_columns]
ROWS = [r.key for r in TPL.request_rows if r.expected]


def _toks(*rows: str) -> list[list[Item]]:
    return [[Item("V", t, line=n, pos=10 * n + i) for i, t in enumerate(r.split())] for n, r in enumerate(rows)]


def _keys(rows: list[str]) -> list[list[str]]:
    return [[f"requests/{r}/{c}" for c in COLS] for r in rows]


def test_columns_blank_in_every_row_leave_the_places_open():
    """`5 3 8` in three rows of 7 columns: four of the six columns are blank in every row,
    so any two of the six, taken alike in every row, balance every equation. The text
    cannot say which (only positions could): no reading (the decoders' doubt stays)."""
    rows = ["new_received", "granted", "total"]
    assert blanks.place(_toks("5 3 8", "5 3 8", "5 3 8"), _keys(rows), None, TPL) is None


def test_search_refuses_when_a_value_has_two_balanced_places():
    """Real text (pdfplumber, val 12): its blank columns are blank in every row, so the
    columns can be swapped without breaking an equation; the search says so (None) and
    the decoder's doubtful reading stays."""
    from pipeline import stream
    from pipeline.classify.mappers import FUZZY
    text = (FIX / "v12.pdfplumber.txt").read_text(encoding="utf-8")
    st = stream.decode_requests(text, TPL, FUZZY.similarity)
    assert st is None or not any("every equation holds" in w for w in st.warnings)


def test_placement_proved_by_the_column_sums_is_sure():
    """Short rows whose values have one place where every equation holds (no 0 printed;
    every column holds a value somewhere, so no column can swap with a blank one): the
    cells are read there, sure; the unprinted cells are blank, not 0."""
    vals = {"new_received": [5, 3, 2, 7, 4, 6, 27],
            "granted": [5, None, 2, None, None, None, 7],
            "partially_granted": [None, 3, None, 7, None, None, 10],
            "unavailable_not_held": [None, None, None, None, 4, 6, 10],
            "total": [5, 3, 2, 7, 4, 6, 27]}
    items, doubt = _place(vals)
    read = {k: None if it is None else float(it.text) for k, it in items.items()}
    for r, vs in vals.items():
        assert [read[f"requests/{r}/{c}"] for c in COLS] == vs, r
    assert all(read[f"requests/{r}/{c}"] is None for r in ROWS if r not in vals for c in COLS)
    assert not doubt


def _place(vals: dict, printed: dict | None = None):
    printed = printed or {r: " ".join(str(x) for x in vs if x is not None) for r, vs in vals.items()}
    toks = _toks(*[printed[r] for r in ROWS if r in vals])
    cost = [[0 if ROWS[j] == r else 1 for j in range(len(ROWS))] for r in ROWS if r in vals]
    got = blanks.place(toks, _keys(ROWS), cost, TPL)
    assert got is not None
    return got


def test_a_printed_zero_leaves_its_place_doubtful():
    """The same table printing a 0 in the granted row: where the 0 stood (and so which of
    that row's cells are blank) is a guess, doubtful; its non-zero values are still placed."""
    vals = {"new_received": [5, 3, 2, 7, 4, 6, 27],
            "granted": [5, None, 2, 0, None, None, 7],
            "partially_granted": [None, 3, None, 7, None, None, 10],
            "unavailable_not_held": [None, None, None, None, 4, 6, 10],
            "total": [5, 3, 2, 7, 4, 6, 27]}
    items, doubt = _place(vals)
    assert items["requests/granted/natural_person"].text == "5"
    assert items["requests/granted/research_institution"].text == "2"
    zero_or_blank = [f"requests/granted/{c}" for c in COLS if c not in ("natural_person", "research_institution",
                                                                        "total")]
    assert all(doubt.get(k, 1.0) < REVIEW for k in zero_or_blank)
    assert "requests/granted/natural_person" not in doubt
    assert "requests/total/natural_person" not in doubt
