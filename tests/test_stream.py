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


# -- reports of the synthetic test split flattened by real tools (issue #13, second round) ----------
# tests/fixtures/flattened_gen/: the text pdftotext / pdfplumber wrote for four digital PDFs of
# the synthetic test split (training/eval_flattened.py --build 40), with their truth values.

GEN = Path(__file__).parent / "fixtures" / "flattened_gen"


def _gen(name: str) -> tuple[dict, dict]:
    truth = json.loads((GEN / f"{name.split('.')[0]}.truth.json").read_text(encoding="utf-8"))["cells"]
    path = next(GEN.glob(f"{name}.*"))
    return truth, to_result(extract(path))


@pytest.mark.parametrize("name", ["t005.pdftotext-raw", "t038.pdftotext-raw", "t025.pdftotext-layout",
                                  "t001.pdfplumber-layout", "t005.markdown"])
def test_generated_no_confident_wrong_cell(name):
    truth, res = _gen(name)
    wrong = [k for k, v in truth.items() if k in res["cells"] and res["cells"][k]["value"] != v]
    assert not [k for k in wrong if res["cells"][k]["confidence"] >= REVIEW], wrong[:5]
    if res["status"] == "ok":
        assert not wrong and all(k in res["cells"] for k in truth)


def test_rows_that_lost_blanks_placed_by_the_equations():
    """-raw prints `1 0 1` for a row of 7 columns with 4 blanks: the row total and the
    column sums say where the 1s go; which of the zeros were printed is a guess (doubtful),
    and no cell is left missing."""
    truth, res = _gen("t005.pdftotext-raw")
    req = {k: v for k, v in truth.items() if k.startswith("requests/")}
    assert all(k in res["cells"] for k in req)
    nonzero = {k: v for k, v in req.items() if v}
    assert {k: res["cells"][k]["value"] for k in nonzero} == nonzero
    granted = {k: res["cells"][k] for k in req if k.startswith("requests/granted/")}
    assert granted["requests/granted/total"]["value"] == 1
    assert all(c["confidence"] < REVIEW for c in granted.values())
    assert res["status"] == "needs_review"


def test_place_by_equations_unit():
    tpl = templates()["2021"]
    cols = [c.key for c in tpl.request_columns]
    keys = [f"requests/granted/{c}" for c in cols]
    toks = [it for it in stream.tokens("1 0 1") if it.kind == "V"]
    placed = stream.place_by_equations([(keys, toks)], {}, tpl)
    # the row total holds only with the last 1 under 总计
    assert placed["requests/granted/total"][0].text == "1"
    assert placed["requests/granted/total"][1] < REVIEW
    # the first 1 and the 0 go somewhere in the six parts: not one of them is sure
    assert all(p < REVIEW for _, p in placed.values())


def test_appeals_row_that_lost_blanks_placed_by_the_equations():
    """-raw's appeals row printed 5 values for 15 columns (`1 1 1 2 5`): one group's four
    results and their total; which group is a guess, so nothing is sure."""
    text = ("四、政府信息公开行政复议、行政诉讼情况\n行政复议 行政诉讼\n结果\n维持\n结果\n纠正\n其他\n结果\n尚未\n审结\n"
            "总计\n1 1 1 2 5\n五、存在的主要问题及改进情况")
    st = stream.decode_appeals(text, templates()["2021"])
    got = [st.cells[k].text if st.cells.get(k) else None for k in st.cells if k.endswith("/total")]
    assert "5" in got
    assert all(st.placement[k] < REVIEW for k in st.cells)
    # a pre-2019 report's 行政复议数量 line is no appeals row
    assert stream.decode_appeals("四、行政复议数量\t件\t0\n五、行政诉讼数量\t件\t0\n", templates()["2021"]) is None


def test_blank_rows_in_a_block_placed_by_the_non_zero_rows():
    """-raw, all labels before all values, blank rows printing nothing: 10 value rows for
    22 rows. The equations place the non-zero rows (本年新收 2, 总计 2), not the last row
    (结转下年度) that the window of the last label would give them."""
    truth, res = _gen("t038.pdftotext-raw")
    for row in ("new_received", "total"):
        keys = [k for k in truth if k.startswith(f"requests/{row}/")]
        assert {k: res["cells"][k]["value"] for k in keys} == {k: truth[k] for k in keys}
    assert res["cells"]["requests/carried_forward/total"]["value"] in (None, 0)


def test_effect_assignments_one_map_per_non_zero_placement():
    # 3 value rows (the middle one not all zeros) on 5 rows, no geometry: 3 placements
    maps = stream.effect_assignments([[0] * 5] * 3, [True, False, True], 100)
    assert sorted(m[1] for m in maps) == [1, 2, 3]
    assert all(m == sorted(set(m)) for m in maps)
    assert stream.effect_assignments([[0] * 5] * 3, [True, False, True], 2) is None


def test_value_glued_to_its_label_is_split():
    """pdfplumber's layout text runs a wide label into its first column."""
    items = stream.tokens("   3.危及“三安全一稳定”0        0    0    0    0    0    0\n第二十条 1 2\n2020年12月31日 3 4")
    kinds = [(it.kind, it.text) for it in items]
    assert kinds[:8] == [("F", "3.危及“三安全一稳定”")] + [("V", "0")] * 7
    assert ("F", "第二十条") in kinds and ("F", "2020年12月31日") in kinds


def test_empty_cell_a_label_reaches_into_is_doubtful():
    text = ("甲行            1     2     3\n"
            "乙行            4     5     9\n"
            "很长很长很长很长很长很长很长很长    5     5\n")
    items = stream.tokens(text)
    vr = stream.value_rows(items, 3, {it.pos for it in items if it.kind == "F"})
    stream.place_by_columns(vr, 3, [it for it in items if it.kind == "F"])
    assert vr[2].full and vr[2].slots[0] is None and vr[2].doubt < 1
    vr = stream.value_rows(items, 3, {it.pos for it in items if it.kind == "F"})
    stream.place_by_columns(vr, 3)   # without the labels: sure (what the guard changes)
    assert vr[2].doubt == 1.0


def test_label_only_rows_on_a_continued_page_read_by_the_stream():
    """-layout, a table crossing a page with its header repeated: the line-based reading
    took two rows as printed without values (blank); the stream reads their zeros, with
    fewer cells in doubt, and wins."""
    truth, res = _gen("t025.pdftotext-layout")
    for row in ("other_no_correction", "other_unpaid_fee"):
        keys = [k for k in truth if k.startswith(f"requests/{row}/")]
        assert {k: res["cells"][k]["value"] for k in keys} == {k: truth[k] for k in keys}


def test_appeals_value_lifted_over_its_unit_moved_where_the_equations_hold():
    """pdfplumber (no geometry) prints a cell's number a line above the row when its unit
    wraps (`5` over `项`): the value may belong anywhere in the row; the one place where
    every equation holds is taken, doubtful."""
    text = ("四、政府信息公开行政复议、行政诉讼情况\n行政复议 行政诉讼\n未经复议直接起诉 复议后起诉\n结 其\n"
            "5\n0 0 0 0 0 2 0 0 3 0 0 0 0 0\n项\n五、存在的主要问题及改进情况\n")
    st = stream.decode_appeals(text, templates()["2021"])
    assert st.cells["appeals/litigation_direct/total"].text == "5"
    assert st.cells["appeals/review/upheld"].text == "0"
    assert st.placement["appeals/litigation_direct/total"] < REVIEW


def test_markdown_table_keeps_its_empty_cells():
    """A Markdown rendition (pdfplumber's tables as pipe tables): `|  | （六）其他处理 |  | 0 |  |
    0 |  | 0 | 0 |  |` keeps every field, so the blanks stay in their columns."""
    items = stream.tokens("|  | （六）其他处理 |  | 0 |  | 0 |  | 0 | 0 |  |\n|---|---|---|\n")
    assert [(it.kind, it.text) for it in items] == [("F", "（六）其他处理")] + [
        ("V", t) for t in ["", "0", "", "0", "", "0", "0", ""]]
    vr = stream.value_rows(items, 7, {items[0].pos})
    assert [it.text for it in vr[0].slots] == ["0", "", "0", "", "0", "0", ""]
    truth, res = _gen("t005.markdown")
    req = {k: v for k, v in truth.items() if k.startswith(("requests/", "appeals/"))}
    assert {k: res["cells"].get(k, {}).get("value", "missing") for k in req} == req


def test_appeals_shortest_balancing_move_is_the_reading():
    """The default mode printed 复议后起诉's total before its pending 0 (`0 3 2 5 0`): moving
    the 0 back one place balances, and so does moving it anywhere among the zeros before;
    the shortest move is read, its group doubtful."""
    text = "四、政府信息公开行政复议、行政诉讼情况\n结果维持\n" + "\n".join("0 0 0 0 0 0 0 0 0 0 0 3 2 5 0".split())
    st = stream.decode_appeals(text, templates()["2021"])
    assert st.cells["appeals/litigation_after_review/total"].text == "5"
    assert st.cells["appeals/litigation_after_review/pending"].text == "0"
    assert all(st.placement[f"appeals/litigation_after_review/{c}"] < REVIEW
               for c in ("upheld", "corrected", "other", "pending", "total"))


# -- pdfminer.six: a table's values one text box each, labels apart (issue #13, third round) --------

def test_pdfminer_page_chunks_read_column_by_column():
    """pdfminer prints the requests table page by page, each page's rows column by column,
    the labels elsewhere: the value block is cut where the equations hold (t010: 15 rows
    on the first page) and every requests cell is right, none missing."""
    truth, res = _gen("t010.pdfminer")
    req = {k: v for k, v in truth.items() if k.startswith("requests/")}
    got = {k: res["cells"].get(k, {}).get("value", "missing") for k in req}
    assert got == req
    st = stream.decode_requests((GEN / "t010.pdfminer.txt").read_text(encoding="utf-8"), templates()["2021"],
                                FuzzyMapper().similarity)
    assert any("one block" in w for w in st.warnings)


def test_pdfminer_columns_the_equations_cannot_order_are_doubtful():
    """t020: pdfminer printed 商业企业's boxes before 自然人's; the row totals balance with
    the two swapped, so those cells are read as printed but never confident."""
    truth, res = _gen("t020.pdfminer")
    req = {k: v for k, v in truth.items() if k.startswith("requests/")}
    wrong = [k for k, v in req.items() if k in res["cells"] and res["cells"][k]["value"] != v]
    assert wrong and all(res["cells"][k]["confidence"] < REVIEW for k in wrong)
    assert res["status"] != "ok"


def _balanced_2019(**given):
    """A 2019-shaped requests table (the 2021 template without its (六) sub-rows): 2 + 1
    received and in total, the rows in `given` as printed, every other row 0."""
    tpl = templates()["2021"]
    cols = [c.key for c in tpl.request_columns]
    rows = [r.key for r in tpl.request_rows if r.parent != "其他处理"]
    vals = {r: [0] * 7 for r in rows}
    vals["new_received"], vals["total"] = [2, 1, 0, 0, 0, 0, 3], [2, 1, 0, 0, 0, 0, 3]
    vals.update(given)
    return tpl, cols, rows, vals


def test_whole_block_unit():
    """A 2019 table (23 rows × 7) printed column-major: read back exactly; one value fewer
    fits no template (None)."""
    tpl, cols, rows, vals = _balanced_2019(granted=[1, 1, 0, 0, 0, 0, 2],
                                           unavailable_not_held=[1, 0, 0, 0, 0, 0, 1])
    items = [stream.Item("V", str(vals[r][c]), line=n, pos=n)
             for n, (c, r) in enumerate((c, r) for c in range(7) for r in rows)]
    st = stream.whole_block(items, tpl)
    assert st.template == "2019"
    assert {k: int(c.text) for k, c in st.cells.items()} == {
        f"requests/{r}/{cols[c]}": vals[r][c] for r in rows for c in range(7)}
    assert stream.whole_block(items[:-1], tpl) is None


def test_pdfminer_requests_values_spilled_after_the_appeals_title():
    """t015: pdfminer printed the requests table's second page of value boxes after the
    appeals title, before the appeals row's 15 values: the requests region's 112 values
    plus those 49 make the 2019 table's 161, the last 15 are the appeals row; both
    tables right (before: the appeals row missing, 49 requests cells wrong)."""
    truth, res = _gen("t015.pdfminer")
    want = {k: v for k, v in truth.items() if k.startswith(("requests/", "appeals/"))}
    got = {k: res["cells"].get(k, {}).get("value", "missing") for k in want}
    assert got == want


def test_whole_block_with_extra_values_needs_every_equation():
    """Values besides the block (another table's in the region): windows of the block's size
    are tried, the balancing one read, and the reading says how many values it left out
    (decode_requests offers such a reading without a label reading beside it only when
    no equation is broken: Markdown test_00020's region of 183 values read a wrong window)."""
    tpl, cols, rows, vals = _balanced_2019(granted=[2, 1, 0, 0, 0, 0, 3])
    seq = [str(vals[r][c]) for r in rows for c in range(7)]
    items = [stream.Item("V", t, line=n, pos=n) for n, t in enumerate(["5", "7"] + seq)]
    st = stream.whole_block(items, tpl)
    assert st.extra == 2 and st.broken == 0
    assert st.cells[f"requests/new_received/{cols[6]}"].text == "3"


# tests/fixtures/flattened_gen/g0NN.*: texts pdfminer.six / pdftotext (default mode) wrote for
# digital PDFs of the synthetic test split made with the table-geometry styles
# (eval_flattened --build 40 --work datasets/generated/s22a), with their truth values.

def _measured_right(name: str) -> tuple[dict, dict]:
    """(req+app cells not right: key -> (truth, got or 'missing'), the result)."""
    truth, res = _gen(name)
    bad = {k: (v, res["cells"].get(k, {}).get("value", "missing")) for k, v in truth.items()
           if k.startswith(("requests/", "appeals/")) and res["cells"].get(k, {}).get("value", "missing") != v}
    return bad, res


def test_pdfminer_chunks_end_where_pages_end():
    """g019 (split_table): pdfminer printed the requests values a page at a time, column by
    column (6, 10 and 7 rows), a table of zeros and `-` that balances under many cuts:
    readings whose chunks end at the page ends win, column-major shown first, the cells
    they disagree on doubtful. Before: 8 readings alike, the table missing (161 cells)."""
    bad, res = _measured_right("g019.pdfminer")
    assert not bad, list(bad.items())[:5]
    assert res["status"] != "ok"     # which of 0 / - is where is a guess in places


def test_pdfminer_value_boxed_with_its_label_is_its_rows_first_column():
    """g035: pdfminer boxed four first-column values with their row labels (`1.本机关不掌握
    相关政府 / 信息 / 168`), ahead of the column: anchored to their rows, the block reads
    right (before: 5 cells wrong, 7 equations broken)."""
    bad, _ = _measured_right("g035.pdfminer")
    assert not bad, list(bad.items())[:5]
    text = (GEN / "g035.pdfminer.txt").read_text(encoding="utf-8")
    items = stream.tokens(stream.region(text, "requests"))
    anchors = stream.lone_anchors(items, templates()["2021"], FuzzyMapper().similarity)
    assert sorted(anchors.values()) == ["carried_over", "granted", "new_received", "unavailable_not_held"]


@pytest.mark.parametrize("name", ["g007.pdftotext", "g007.pdfminer"])
def test_running_header_year_is_not_a_value(name):
    """g007 (split_table, landscape): the running header `长沙市岳麓区农业农村局 2024` /
    `年政府信息公开工作年度报告` put a value 2024 inside both tables' text. It is prose (a
    year before 年): every requests and appeals cell right, none confident and wrong.
    Before: pdftotext 48 cells missing and an appeals cell wrong at 0.999."""
    bad, res = _measured_right(name)
    assert not bad, list(bad.items())[:5]


def test_running_header_year_dropped_and_one_page_appeals_units():
    """The running header's year (on its title's line or broken after it) is dropped by the
    one rule, configs/classify.yaml `running_headers`; a year inside a sentence stays."""
    kept = stream.tokens("某局 2024\n年政府信息公开工作年度报告\n一、本年 2020 0 3\n2019 年，受理 2\n"
                         "某局 2024 年政府信息公开工作年度报告\n")
    assert [it.text for it in kept if it.kind == "V"] == ["2020", "0", "3", "2019", "2"]
    assert [it.pos for it in kept] == list(range(len(kept)))
    vals = [stream.Item("V", "0", 1, page=0) for _ in range(15)] + [stream.Item("V", "2024", 9, page=2)]
    assert stream.one_page(vals, 15) == vals[:15]
    assert stream.one_page(vals[:14] + [stream.Item("V", "1", 9, page=2)] * 2, 15) is None


def test_pdfminer_column_runs_boxed_with_their_headers():
    """g010 (narrow_labels, split_table, landscape): pdfminer printed each page's values as
    runs boxed with a column header (自然人 / the 法人或其他组织 group up to 其他 / 总计),
    自然人's run first on some pages and last on others: read page by page by those
    headers, every cell right and sure (before: the table missing, 161 cells)."""
    bad, res = _measured_right("g010.pdfminer")
    assert not bad, list(bad.items())[:5]
    assert all(res["cells"][k]["confidence"] >= REVIEW for k in res["cells"] if k.startswith("requests/"))


def test_all_zero_table_with_blanks_printed_as_nothing_reads_zero_doubtful():
    """g026: every value the requests table prints is 0 and its empty cells print nothing
    (pdftotext's default mode, values in blocks): every cell is 0 or blank whatever the
    alignment. Each comes back 0 below the review threshold, none missing (before: 168
    missing); a cell wrong is only a blank read 0."""
    truth, res = _gen("g026.pdftotext")
    req = {k: v for k, v in truth.items() if k.startswith("requests/")}
    assert all(k in res["cells"] for k in req)
    wrong = [k for k, v in req.items() if res["cells"][k]["value"] != v]
    assert wrong and all(req[k] is None and res["cells"][k]["value"] == 0 for k in wrong)
    assert all(res["cells"][k]["confidence"] < REVIEW for k in req)
    assert res["status"] != "ok"


def test_whole_block_without_page_ends_has_no_page_evidence():
    """Text without page ends (a web page's innerText) says nothing about where chunks end:
    a block of zeros and blanks that balances under many readings is not `paged`, so
    decode_requests does not offer it (before: chromium test_00003 / 00019 lost `ok`)."""
    tpl, cols, rows, vals = _balanced_2019(new_received=[0] * 7, total=[0] * 7)
    seq = ["-" if (r + c) % 3 == 0 else "0" for c in range(7) for r in range(len(rows))]
    items = [stream.Item("V", t, line=n, pos=n) for n, t in enumerate(seq)]
    st = stream.whole_block(items, tpl)
    assert st.readings > 1 and not st.paged
    paged = [stream.Item("V", t, line=n, pos=n, page=0 if n < 6 * 7 else 2) for n, t in enumerate(seq)]
    assert stream.whole_block(paged, tpl).paged   # a page end after 6 rows' values: a chunk ends there
