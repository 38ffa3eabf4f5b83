"""Rows printed as a label alone (pipeline/stream/blanks.blank_rows_sure): sure blank rows only
where the document rules out lost values; the stream decoder and the joined-row solver alike.

Fixtures in tests/fixtures/blanks/: `t38` is the `pdftotext -layout` text of a report that
prints its rows of zeros as nothing, whole (configs/synth.yaml blanks style `whole_rows`; test
report 038 of the corpus), `s2021_b` the bundled sample of the same style whose printed
inconsistencies break equations; each with its truth (cells and the keys printed blank)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.export import to_result
from pipeline.run import extract
from pipeline.stream.blanks import blank_rows_sure
from training.synth.joined import join_rows

FIX = Path(__file__).parent / "fixtures" / "blanks"
REVIEW = 0.995


@pytest.fixture(autouse=True)
def rule_on(monkeypatch):
    """The rule ships on since session 28 (configs/values.yaml; it was off for pdfminer's
    test_00008 rows of zeros printed apart); these tests pin what it does when on, whatever
    the shipped setting."""
    from pipeline.templates import config
    monkeypatch.setitem(config("values.yaml")["printed_nothing"]["blank_rows"], "enabled", True)


def _truth(name: str) -> dict:
    return json.loads((FIX / f"{name}.truth.json").read_text(encoding="utf-8"))


def _read(name: str, tmp_path: Path, joined: bool = False) -> dict:
    text = (FIX / f"{name}.pdftotext-layout.txt").read_text(encoding="utf-8")
    p = tmp_path / f"{name}{'.joined' if joined else ''}.txt"
    p.write_text(join_rows(text) if joined else text, encoding="utf-8")
    return to_result(extract(p))


def _blank_rows(truth: dict) -> set[str]:
    rows: dict[str, list[str]] = {}
    for k in truth["cells"]:
        if k.startswith("requests/"):
            rows.setdefault(k.rsplit("/", 1)[0], []).append(k)
    blank = set(truth["blank_keys"])
    return {k for ks in rows.values() if set(ks) <= blank for k in ks}


def test_rule_needs_every_piece_of_evidence():
    assert blank_rows_sure(13, 10, stray=0, broken=0, doubted=0, marks=0)
    assert not blank_rows_sure(0, 10, stray=0, broken=0, doubted=0, marks=0)     # nothing to decide
    assert not blank_rows_sure(1, 22, stray=0, broken=0, doubted=0, marks=0)     # one bare row: maybe lost zeros
    assert not blank_rows_sure(13, 10, stray=7, broken=0, doubted=0, marks=0)    # values no row took
    assert not blank_rows_sure(13, 10, stray=0, broken=1, doubted=0, marks=0)    # an equation broken
    assert not blank_rows_sure(13, 10, stray=0, broken=0, doubted=3, marks=0)    # a placement in doubt
    assert not blank_rows_sure(13, 10, stray=0, broken=0, doubted=0, marks=2)    # the table marks its blanks
    assert not blank_rows_sure(20, 2, stray=0, broken=0, doubted=0, marks=0)     # too few rows say anything


@pytest.mark.parametrize("joined", [False, True], ids=["layout", "joined-rows"])
def test_rows_printed_as_nothing_are_sure_blanks(joined, tmp_path):
    """The report's 13 rows printed as a label alone: blank and accepted, as the text shows
    (every other row printed whole, every equation holds); no wrong cell accepted."""
    truth = _truth("t38")
    res = _read("t38", tmp_path, joined)
    blank = _blank_rows(truth)
    assert len(blank) == 13 * 7
    for k in blank:
        assert res["cells"][k]["value"] is None, k
        assert res["cells"][k]["confidence"] >= REVIEW, (k, res["cells"][k]["confidence"])
    for k, t in truth["cells"].items():
        got = res["cells"].get(k)
        if got is not None and got["confidence"] >= REVIEW:
            assert got["value"] == t["value"], (k, got["value"], t["value"])


def test_broken_equations_keep_label_alone_rows_doubtful(tmp_path):
    """s2021_b prints four rows as nothing but also misprints: the rule does not apply, the
    rows stay blank below the review threshold (a person looks)."""
    truth = _truth("s2021_b")
    res = _read("s2021_b", tmp_path)
    blank = _blank_rows(truth)
    assert blank
    assert all(res["cells"][k]["value"] is None and res["cells"][k]["confidence"] < REVIEW
               for k in blank if k in res["cells"])


def test_rows_printed_apart_are_no_blank_rows(tmp_path):
    """pdfminer's text of test report 008 (landscape, every cell 0): nine requests rows' value
    boxes printed after the appeals title (63 zeros before the appeals row's 15), their
    labels alone in the requests region. Values printed beyond another table's cells are
    stray values for the rule (stream.requests.values_elsewhere): the rows are not read as
    sure blanks (was: `ok` with 63 wrong cells at 0.9998)."""
    from pipeline import stream
    from pipeline.templates import templates
    text = (FIX / "t08.pdfminer.txt").read_text(encoding="utf-8")
    assert stream.requests.values_elsewhere(text, templates()["2021"]) == 63
    p = tmp_path / "t08.txt"
    p.write_text(text, encoding="utf-8")
    res = to_result(extract(p))
    truth = _truth("t08")
    wrong = [k for k, c in res["cells"].items() if k in truth["cells"] and c["value"] != truth["cells"][k]["value"]]
    assert not [k for k in wrong if res["cells"][k]["confidence"] >= REVIEW]
    assert res["status"] != "ok" or not wrong
