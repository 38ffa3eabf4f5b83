"""Issue #13: a requests row's total wrapped over lines in its narrow cell (`72 0 0 36 54 0` /
`１６` / `２`: 162) by text without positions (pdftotext -raw, pypdfium2) is joined back onto its
row (stream.requests.wrapped_totals) only where its digits read together are the row's sum.
Fixture: val_00009 of datasets/generated/s23b, pdftotext -raw (real tool), with its requests truth."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.export import to_result
from pipeline.run import extract
from pipeline.stream.requests import wrapped_totals
from pipeline.stream.tokens import tokens
from pipeline.templates import config

FIX = Path(__file__).parent / "fixtures" / "flattened_wrapped"


def _values(text: str) -> list[list[str]]:
    rows: dict[int, list[str]] = {}
    for it in wrapped_totals(tokens(text), 7):
        if it.kind == "V":
            rows.setdefault(it.line, []).append(it.text)
    return list(rows.values())


def test_wrapped_total_joined_when_it_is_the_rows_sum():
    assert _values("1 0 0 0 0 0 1\n72 0 0 36 54 0\n１６\n２\n33 0 0 0 0 0 33\n") == [
        ["1", "0", "0", "0", "0", "0", "1"], ["72", "0", "0", "36", "54", "0", "162"],
        ["33", "0", "0", "0", "0", "0", "33"]]


def test_lone_values_that_are_not_the_sum_stay_apart():
    # the digits do not make the row's sum: rows printed one value a line (pdfminer), kept
    assert _values("72 0 0 36 54 0\n１６\n３\n") == [["72", "0", "0", "36", "54", "0"], ["１６"], ["３"]]
    # a lone 0 first is no wrapped number (`0` / `0`: rows of a 0 alone)
    assert _values("0 0 0 0 0 0\n0\n0\n") == [["0"] * 6, ["0"], ["0"]]
    # one lone line is a row of its own, not a wrap
    assert len(_values("5 0 0 0 0 0\n5\n")) == 2


def test_switched_off_keeps_the_tokens(monkeypatch):
    monkeypatch.setitem(config("classify.yaml")["stream"], "wrapped_total", False)
    assert len(_values("72 0 0 36 54 0\n１６\n２\n")) == 3


def test_report_with_a_wrapped_total_reads_right(tmp_path):
    """val_00009 (-raw): 171 requests cells lost before (the wrapped 162 broke the rows' count),
    every one right now; no wrong cell at or above the review threshold."""
    truth = json.loads((FIX / "v009.truth.json").read_text(encoding="utf-8"))["cells"]
    res = to_result(extract(FIX / "v009.pdftotext-raw.txt"))
    wrong = [k for k, v in truth.items() if k not in res["cells"] or res["cells"][k]["value"] != v]
    assert not wrong, wrong[:5]
    assert res["cells"]["requests/unavailable_not_held/total"]["value"] == 162
