"""The stream decoder (pipeline/stream.py): flattened text as real extractors write it.

Fixtures in tests/fixtures/flattened/ are the bundled samples' digital PDFs flattened by
pdftotext (default, -layout, -raw) and pypdfium2; their truth is datasets/samples/*.truth.json.
"""
import json
from pathlib import Path

import pytest

from pipeline import stream
from pipeline.classify import FuzzyMapper
from pipeline.export import to_result
from pipeline.run import extract
from pipeline.templates import templates

from conftest import FIXTURES

SAMPLES = Path(__file__).parent.parent / "datasets" / "samples"
FLAT = sorted((FIXTURES / "flattened").glob("*.txt"))
REVIEW = 0.995


def _truth(path: Path) -> dict:
    return json.loads((SAMPLES / f"{path.name.split('.')[0]}.truth.json").read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", FLAT, ids=lambda p: p.stem)
def test_no_confident_wrong_cell(path):
    """Whatever the extractor did, a wrong cell is never confident and an `ok` document
    has every cell right."""
    truth = _truth(path)
    res = to_result(extract(path))
    wrong = [k for k, c in truth.items() if k in res["cells"] and res["cells"][k]["value"] != c["value"]]
    assert not [k for k in wrong if res["cells"][k]["confidence"] >= REVIEW], wrong[:5]
    if res["status"] == "ok":
        assert not wrong and all(k in res["cells"] for k in truth)


@pytest.mark.parametrize("name", ["s2019_a.pdftotext-raw", "s2019_a.pdftotext", "s2019_a.pypdfium2",
                                  "s2021_a.pdftotext-layout", "s2021_b.pdftotext-layout"])
def test_every_cell_right(name):
    """Single-space rows (-raw), labels then values (default), wrapped labels with values
    between their lines (-layout), rows that lost their empty cells (-layout): all right."""
    path = FIXTURES / "flattened" / f"{name}.txt"
    truth = _truth(path)
    res = to_result(extract(path))
    got = {k: res["cells"].get(k, {}).get("value", "missing") for k in truth}
    assert {k: v for k, v in got.items() if v != truth[k]["value"]} == {}


def test_blank_rows_in_a_block_are_not_confident():
    """-raw of a report whose blank rows print nothing, all labels before all values:
    which rows are blank cannot be told, so the document needs review."""
    res = to_result(extract(FIXTURES / "flattened" / "s2021_b.pdftotext-raw.txt"))
    assert res["status"] == "needs_review"


def test_tokens_single_spaces_footers_and_word_blanks():
    items = stream.tokens("2.申请人逾期未按收费通\n0 0 0 0 0 0 0\n— 2 —\n(四) 无\n法提供\n- 0 - 1 0 0 1")
    kinds = [(it.kind, it.text) for it in items]
    assert kinds[:8] == [("F", "2.申请人逾期未按收费通")] + [("V", "0")] * 7
    assert ("V", "2") not in kinds                       # the page footer is gone
    assert ("F", "(四) 无") in kinds                      # 无 beside label words is text
    assert [t for k, t in kinds[-7:]] == ["-", "0", "-", "1", "0", "0", "1"]   # not a footer


def test_wrapped_labels_become_rows():
    tpl = templates()["2021"]
    rows = list(tpl.request_rows)
    frags = [it for it in stream.tokens("1.本机关不掌握相关政府\n信息\n2.没有现成信息需要另行\n制作\n"
                                        "3.补正后申请内容仍不明\n确") if it.kind == "F"]
    sim = FuzzyMapper().similarity
    spans = stream.label_rows(frags, rows, lambda t, j: sim(t, f"requests.row:{rows[j].key}"),
                              [0.4] * len(rows))
    assert [rows[s.j].key for s in spans] == ["unavailable_not_held", "unavailable_needs_creation",
                                              "unavailable_unclear"]
    assert [len(s.frags) for s in spans] == [2, 2, 2]


def test_value_rows_one_per_line_across_a_header_word():
    items = stream.tokens("一、本年新收政府信息公开申请数量\n0\n0\n0\n0\n0\n其他\n1\n总计\n1")
    labels = {items[0].pos}
    vr = stream.value_rows(items, 7, labels)
    assert len(vr) == 1 and vr[0].full and [it.text for it in vr[0].items] == ["0"] * 5 + ["1", "1"]


def test_assignments_count_alike_readings():
    # two value rows, three printed rows, no geometry: three readings cost alike
    cost, maps, complete = stream.assignments([[0, 0, 0], [0, 0, 0]], 10)
    assert cost == 0 and len(maps) == 3 and complete
    # in their windows: one reading
    cost, maps, _ = stream.assignments([[0, 1, 1], [1, 1, 0]], 10)
    assert maps == [[0, 2]]


def test_column_major_chunk_read_as_the_row_totals_prefer():
    """pdfminer prints a page's rows column by column after their labels."""
    text = "一、本年新收政府信息公开申请数量\n二、上年结转政府信息公开申请数量\n" + "\n".join(
        "1 2 0 0 0 0 0 0 0 0 0 0 1 2".split())
    items = stream.tokens(text)
    tpl = templates()["2021"]
    rows = list(tpl.request_rows)
    sim = FuzzyMapper().similarity
    spans = stream.label_rows([it for it in items if it.kind == "F"], rows,
                              lambda t, j: sim(t, f"requests.row:{rows[j].key}"), [0.4] * len(rows))
    cols = [c.key for c in tpl.request_columns]
    keys = [[f"requests/{rows[s.j].key}/{c}" for c in cols] for s in spans]
    vrows, doubt = stream.chunked_rows(items, spans, keys, tpl)
    assert [[it.text for it in v.slots] for v in vrows] == [["1", "0", "0", "0", "0", "0", "1"],
                                                             ["2", "0", "0", "0", "0", "0", "2"]]
    assert not doubt and [v.pos for v in vrows] == [s.first for s in spans]


def test_page_number_broken_over_two_lines_is_a_footer():
    kinds = [(it.kind, it.text) for it in stream.tokens("0 0\n— 2\n—\n四、结转下年度继续办理 0 0")]
    assert ("V", "2") not in kinds and ("V", "—") not in kinds


def test_appeals_value_out_of_column_order_is_moved_and_doubted():
    """pdftotext's default mode printed the review total after two litigation values."""
    text = "四、政府信息公开行政复议、行政诉讼情况\n结果维持\n" + "\n".join("1 0 2 1 0 0 4 0 0 0 0 0 0 0 0".split())
    st = stream.decode_appeals(text, templates()["2021"])
    assert st.cells["appeals/review/total"].text == "4"
    assert st.cells["appeals/litigation_direct/corrected"].text == "0"
    assert st.placement["appeals/review/total"] < REVIEW
