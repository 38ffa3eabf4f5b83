"""Rows whose cells ran together (pipeline/joined.py, issue #21): detection in the text,
candidate splits, the equations choosing between them, doubt where they cannot."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import joined, joined_solve
from pipeline.export import to_result, validate
from pipeline.model import Document, Source
from pipeline.read import read_text
from pipeline.run import extract
from pipeline.templates import templates
from training.synth.joined import join_html, join_rows, one_line

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
REQ_KEYS, REQ_KINDS = joined.row_shape(templates()["2021"], "requests", None)
APP_KEYS, APP_KINDS = joined.row_shape(templates()["2021"], "appeals", None)


def _splits(run, keys, kinds, tpl="2021", **kw):
    eqs = joined.row_equations(templates()[tpl], keys)
    return [s.values for s in joined.splits(joined.pieces(run), kinds, eqs, **kw)]


def test_issue_requests_row_has_one_split():
    label, run = joined.split_tail("一、本年新收政府信息公开申请数量801000081")
    assert label == "一、本年新收政府信息公开申请数量" and run == "801000081"
    assert _splits(run, REQ_KEYS, REQ_KINDS) == [(80, 1, 0, 0, 0, 0, 81)]


def test_issue_appeals_run_splits_in_three_balanced_groups():
    assert _splits("110024001510102", APP_KEYS, APP_KINDS) == [
        (1, 1, 0, 0, 2, 4, 0, 0, 1, 5, 1, 0, 1, 0, 2)]


def test_appeals_run_longer_than_its_cells_is_chosen_by_group_totals():
    # 12 | 3 | 0 | 0 | 15 , 1 0 0 0 1 , 0 0 0 0 0 : only one split keeps every group total
    assert _splits("1230015100010" + "0000", APP_KEYS, APP_KINDS) == [
        (12, 3, 0, 0, 15, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0)]


def test_no_leading_zeros_unless_the_cell_is_zero():
    kinds = ["count"] * 3
    got = joined.splits(joined.pieces("0102"), kinds)
    assert [s.values for s in got] == [(0, 10, 2)]
    assert all(not str(v).startswith("0") or v == 0 for s in got for v in s.values)
    assert joined.splits(joined.pieces("007"), ["count"] * 2) == []     # 0|07 and 00|7 are not printed


def test_decimals_only_in_amount_columns():
    got = {s.values for s in joined.splits(joined.pieces("312.5"), ["count", "amount"])}
    assert got == {(3, 12.5), (31, 2.5)}
    assert joined.splits(joined.pieces("3.5"), ["count", "count"]) == []


def test_units_and_blank_marks_end_a_cell():
    assert joined.pieces("0项000000") == [("d", "0"), ("d", "000000")]
    assert _splits("3—0—003", REQ_KEYS, REQ_KINDS) == [(3, None, 0, None, 0, 0, 3)]


def test_a_sign_in_the_change_column():
    keys, kinds = joined.row_shape(templates()["2019"], "active", "art20_5")
    assert kinds[1] == "signed"
    got = {s.values for s in joined.splits(joined.pieces("28-458"), kinds)}
    assert (28, -4, 58) in got and (28, None, 458) in got    # a dash is a blank or a sign: doubtful


def test_vanished_blanks_only_when_asked():
    assert joined.splits(joined.pieces("314"), REQ_KINDS) == []
    got = _splits("314", REQ_KEYS, REQ_KINDS, empties=True)
    assert (3, None, None, 1, None, None, 4) in got and len(got) > 1


def _doc(text: str) -> Document:
    return read_text(text, Document(Source("joined.txt", kind="text")))


def _report(year: int = 2022, active_row: str = "规章77132470") -> str:
    rows = [("一、本年新收政府信息公开申请数量", "801000081"), ("二、上年结转政府信息公开申请数量", "1000001"),
            ("（一）予以公开", "791000080"), ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "1000001"),
            ("（三）不予公开1.属于国家秘密", "0000000")]
    rest = ["2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”", "4.保护第三方合法权益", "5.属于三类内部事务信息",
            "6.属于四类过程性信息", "7.属于行政执法案卷", "8.属于行政查询事项", "（四）无法提供1.本机关不掌握相关政府信息",
            "2.没有现成信息需要另行制作", "3.补正后申请内容仍不明确", "（五）不予处理1.信访举报投诉类申请", "2.重复申请",
            "3.要求提供公开出版物", "4.无正当理由大量反复申请", "5.要求行政机关确认或重新出具已获取信息",
            "（六）其他处理1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
            "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "3.其他"]
    rows += [(r, "0000000") for r in rest]
    rows += [("（七）总计", "801000081"), ("四、结转下年度继续办理", "1000001")]
    lines = [f"某市某局{year}年度政府信息公开工作年度报告", "二、主动公开政府信息情况", "第二十条第（一）项",
             "信息内容本年制发件数本年废止件数现行有效件数", active_row, "行政规范性文件000",
             "第二十条第（五）项", "信息内容本年处理决定数量", "行政许可5",
             "第二十条第（六）项", "信息内容本年处理决定数量", "行政处罚12", "行政强制0",
             "第二十条第（八）项", "信息内容本年收费金额（单位：万元）", "行政事业性收费0.5",
             "三、收到和处理政府信息公开申请情况",
             "申请人情况自然人法人或其他组织总计商业企业科研机构社会公益组织法律服务机构其他"]
    lines += [a + b for a, b in rows]
    lines += ["四、政府信息公开行政复议、行政诉讼情况", "行政复议行政诉讼未经复议直接起诉复议后起诉",
              "结果维持结果纠正其他结果尚未审结总计结果维持结果纠正其他结果尚未审结总计结果维持结果纠正其他结果尚未审结总计",
              "110024001510102", "五、存在的主要问题及改进情况", "无。"]
    return "\n".join(lines)


def test_detection_records_runs_and_rewrites_rows():
    doc = _doc(_report())
    runs = {r.label: r for r in doc.joined}
    assert runs["一、本年新收政府信息公开申请数量"].provisional == [80, 1, 0, 0, 0, 0, 81]
    assert runs["规章"].table == "active" and runs["规章"].width == 3
    assert any(r.table == "appeals" for r in doc.joined)
    assert "一、本年新收政府信息公开申请数量  80  1  0  0  0  0  81" in doc.text.split("\n")


def test_texts_with_separators_are_left_alone():
    for p in sorted((FIXTURES / "flattened").glob("*.txt")) + sorted((FIXTURES / "seeds").glob("*.txt")):
        text = p.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
        doc = Document(Source(str(p)))
        assert joined.unjoin(text, doc) == text, p.name
        assert doc.joined == []


@pytest.fixture(scope="module")
def report_result(tmp_path_factory):
    p = tmp_path_factory.mktemp("joined") / "report.txt"
    p.write_text(_report(), encoding="utf-8")
    return to_result(extract(p))


def test_requests_and_appeals_split_by_the_equations(report_result):
    cells = report_result["cells"]
    assert [cells[f"requests/new_received/{c}"]["value"] for c in
            ("natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
             "legal_service_org", "other_org", "total")] == [80, 1, 0, 0, 0, 0, 81]
    assert cells["requests/granted/natural_person"]["value"] == 79
    assert cells["appeals/litigation_direct/total"]["value"] == 5
    assert cells["appeals/litigation_after_review/total"]["value"] == 2
    assert cells["requests/new_received/total"]["confidence"] >= 0.995
    assert all(c["holds"] for c in report_result["checks"] if c["equation"].startswith(("requests", "appeals")))


def test_active_run_without_equations_is_doubtful(report_result):
    validate(report_result)      # alternatives (a blank among them too) as the schema has them
    cells = report_result["cells"]
    for col in ("issued", "repealed", "in_force"):
        c = cells[f"active/art20_1.regulations/{col}"]
        assert c["confidence"] < 0.995 and len(c["alternatives"]) > 1
    assert [cells[f"active/art20_1.regulations/{c}"]["value"] for c in ("issued", "repealed", "in_force")] \
        == [77, 132, 470]           # shown first: the split whose largest cell is smallest
    alts = {a[0] for a in cells["active/art20_1.regulations/in_force"]["alternatives"]}
    assert {470, 2470} <= alts
    assert cells["active/art20_8.admin_fees/fee_amount"]["value"] == 0.5
    assert cells["active/art20_6.admin_penalty/decisions"]["value"] == 12
    assert report_result["status"] == "needs_review"


def test_unambiguous_report_is_ok(tmp_path):
    p = tmp_path / "report.txt"
    p.write_text(_report(active_row="规章0025"), encoding="utf-8")
    res = to_result(extract(p))
    assert res["cells"]["active/art20_1.regulations/in_force"]["value"] == 25
    assert res["status"] == "ok", (res["warnings"], res["missing"])


def test_whole_report_on_one_line(tmp_path):
    p = tmp_path / "report.txt"
    p.write_text(_report(active_row="规章0025").replace("\n", ""), encoding="utf-8")
    res = to_result(extract(p))
    cells = res["cells"]
    assert cells["requests/new_received/natural_person"]["value"] == 80
    assert cells["requests/total/total"]["value"] == 81
    assert cells["appeals/review/total"]["value"] == 2
    assert cells["active/art20_1.regulations/in_force"]["value"] == 25
    assert res["status"] == "ok", (res["warnings"], res["missing"])


@pytest.mark.parametrize("rendition", ["rows", "one-line"])
def test_sample_renditions_from_a_real_extractor(rendition, tmp_path):
    """The bundled sample's `pdftotext -layout` text with its separators removed: every
    requests and appeals cell right, and no wrong cell accepted without review."""
    src = (FIXTURES / "flattened" / "s2021_b.pdftotext-layout.txt").read_text(encoding="utf-8")
    text = join_rows(src) if rendition == "rows" else one_line(src)
    truth = json.loads((ROOT / "datasets" / "samples" / "s2021_b.truth.json").read_text(encoding="utf-8"))
    assert _doc(text).joined
    p = tmp_path / "sample.txt"
    p.write_text(text, encoding="utf-8")
    res = to_result(extract(p))
    validate(res)
    wrong = [k for k, t in truth["cells"].items() if k.startswith(("requests/", "appeals/"))
             and (k not in res["cells"] or res["cells"][k]["value"] != t["value"])]
    assert not wrong
    for k, t in truth["cells"].items():
        c = res["cells"].get(k)
        if c is not None and c["value"] != t["value"]:
            assert c["confidence"] < 0.995 and res["status"] != "ok"


def test_a_splitting_bug_keeps_the_document_for_review(tmp_path, monkeypatch):
    p = tmp_path / "report.txt"
    p.write_text(_report(active_row="规章0025"), encoding="utf-8")

    def broken(*a, **k):
        raise RuntimeError("boom")
    monkeypatch.setattr(joined_solve, "resolve_placed", broken)
    res = to_result(extract(p))
    assert res["status"] == "needs_review"
    assert any("not split by the equations" in w for w in res["warnings"])
    assert all(c["confidence"] < 0.995 for c in res["cells"].values())
    monkeypatch.setattr(joined, "split_tail", broken)
    res = to_result(extract(p))
    assert res["status"] != "failed" and any("detection failed" in w for w in res["warnings"])


def test_row_with_fewer_numbers_than_columns_is_split_too():
    """Some separators survived (`80 1000081`: two numbers for seven columns): the pieces
    keep their boundaries and are split further."""
    text = _report().replace("一、本年新收政府信息公开申请数量801000081", "一、本年新收政府信息公开申请数量 80 1000081")
    doc = _doc(text)
    run = next(r for r in doc.joined if r.label.startswith("一、本年新收"))
    assert run.pieces == [("d", "80"), ("d", "1000081")]
    assert run.provisional == [80, 1, 0, 0, 0, 0, 81]


def test_prose_that_names_the_tables_opens_none():
    text = ("某局2022年度政府信息公开工作年度报告\n报告全文包括主动公开政府信息情况、收到和处理政府信息公开申请情况、\n"
            "政府信息公开行政复议、行政诉讼情况等。统计期限自2022\n年1月1日起。\n")
    doc = Document(Source("prose.txt"))
    assert joined.unjoin(text, doc) == text and doc.joined == []


def test_a_sign_mark_joins_the_change_digits_after_it():
    """`0+6/` (上一年 0, 本年增减 +6, 处理决定 blank): a sign is not a cell of its own."""
    keys, kinds = joined.row_shape(templates()["2019"], "active", "art20_5")
    assert [s.values for s in joined.splits(joined.pieces("0+6/"), kinds)] == [(0, 6, None)]
    keys, kinds = joined.row_shape(templates()["2019"], "active", "art20_8")
    assert [s.values for s in joined.splits(joined.pieces("33+3"), kinds)] == [(33, 3)]


def test_a_run_shaped_like_a_page_number_is_a_row():
    """`000/000` on a line of its own (the label wrapped above and below it) matches the
    `3/12` page-number pattern, but a page number is never 0 nor led by a 0."""
    text = _report().replace("（五）不予处理1.信访举报投诉类申请0000000", "（五）不予处理1.信访举报投诉类\n000/000\n申请")
    doc = _doc(text)
    run = next(r for r in doc.joined if r.pieces == [("d", "000"), ("b", "/"), ("d", "000")])
    assert run.provisional == [0, 0, 0, None, 0, 0, 0]
    assert "0  0  0  —  0  0  0" in doc.text.split("\n")
    page = Document(Source("p.txt"))
    assert "3/12" in joined.unjoin(_report() + "\n3/12\n", page).split("\n")


def test_thousands_separator_is_not_a_joined_run():
    assert joined.split_tail("行政许可  1,205")[1] == ""


# -- web pages whose <td>s hold whole joined rows -------------------------------------------------

_HTML = FIXTURES / "inputs" / "report_2021.html"


def _joined_page(shape: str) -> str:
    """report_2021.html as a CMS that lost the inner cell boundaries saves it (the Word
    paste shape <p class=MsoNormal><span>… inside a TRS_Editor container, portal chrome
    around): `row` a whole row in one <td>, `values` the label kept in its <td> and every
    value run together in one <td> (training/synth/joined.join_html)."""
    page = join_html(_HTML.read_text(encoding="utf-8"), shape)
    return page.replace("<body>", '<body><div class="header"><a href="/">首页</a> &gt; 政府信息公开</div>'
                        '<div class="TRS_Editor">').replace("</body>", "</div></body>")


@pytest.fixture(scope="module")
def html_truth():
    return to_result(extract(_HTML))["cells"]


@pytest.mark.parametrize("shape", ["row", "values"])
def test_web_page_cells_holding_joined_rows(shape, tmp_path, html_truth):
    page = _joined_page(shape)
    assert ">122001015<" in page or "数量122001015<" in page     # 12|2|0|0|1|0|15 in one cell
    assert join_html("<html><body><p>无表格</p></body></html>") is None
    p = tmp_path / "joined.html"
    p.write_text(page, encoding="utf-8")
    res = to_result(extract(p))
    validate(res)
    assert res["source"]["kind"] == "html"
    assert any("ran together" in w for w in res["warnings"])
    wrong = [k for k, c in html_truth.items() if k.startswith(("requests/", "appeals/"))
             and (k not in res["cells"] or res["cells"][k]["value"] != c["value"])]
    assert not wrong
    for k, c in res["cells"].items():      # a cell read wrongly or split ambiguously is never accepted
        if k in html_truth and c["value"] != html_truth[k]["value"] or len(c.get("alternatives") or []) > 1:
            assert c["confidence"] < 0.995, k


def test_web_page_with_separate_cells_stays_a_grid():
    res = to_result(extract(_HTML))
    assert res["status"] == "ok" and not any("ran together" in w for w in res["warnings"])


@pytest.mark.parametrize("above,below", [("0", "件"), ("0(", "件)")])
def test_a_value_whose_unit_wrapped_joins_the_run_below_it(above, below, tmp_path):
    """`pdftotext -layout` of a narrow cell printed `0(件)`: the value a line above the
    row, its unit a line below. The run takes the value; the unit's line goes (a lone
    `件` after the values hid the appeals table from the readers)."""
    text = _report(active_row="规章0025").replace("\n110024001510102\n", f"\n{above}\n11002400151012\n{below}\n")
    doc = _doc(text)
    run = next(r for r in doc.joined if r.table == "appeals")
    assert run.pieces[0] == ("f", "0") and run.width == 15
    assert below not in doc.text.split("\n") and above not in doc.text.split("\n")
    p = tmp_path / "report.txt"
    p.write_text(text, encoding="utf-8")
    res = to_result(extract(p))
    got = [res["cells"][k]["value"] for k in APP_KEYS]
    assert got == [1, 1, 0, 0, 2, 4, 0, 0, 1, 5, 1, 0, 1, 0, 2]
    # the report on one line: `0(11002400151012件)` still shows the wrap; `011002400151012件`
    # does not (fifteen digits for fifteen cells, the equations broken): doubtful, not accepted
    p.write_text(text.replace("\n", ""), encoding="utf-8")
    res = to_result(extract(p))
    truth = [1, 1, 0, 0, 2, 4, 0, 0, 1, 5, 1, 0, 1, 0, 2]
    if above.endswith("("):
        assert [res["cells"][k]["value"] for k in APP_KEYS] == truth
    for k, t in zip(APP_KEYS, truth):
        assert res["cells"][k]["value"] == t or res["cells"][k]["confidence"] < 0.995


def test_web_page_cell_of_glued_blanks_and_values_proves_the_joining(tmp_path):
    """A page whose joined rows are blanks and small values (`——22`: blank, blank, 22)
    has no fused label nor impossible cell; the <td> holding several glued values is
    the proof. A page with `2020-2021` in a cell is not joined by it."""
    html = _HTML.read_text(encoding="utf-8")
    for a, b in (("<td>规章</td><td>0</td><td>0</td><td>0</td>", '<td>规章</td><td colspan="3">——22</td>'),
                 ("<td>行政规范性文件</td><td>3</td><td>1</td><td>12</td>",
                  '<td>行政规范性文件</td><td colspan="3">31—</td>')):
        assert a in html
        html = html.replace(a, b)
    p = tmp_path / "glued.html"
    p.write_text(html, encoding="utf-8")
    res = to_result(extract(p))
    cells = res["cells"]
    assert [cells[f"active/art20_1.regulations/{c}"]["value"] for c in ("issued", "repealed", "in_force")] \
        == [None, None, 22]
    assert [cells[f"active/art20_1.normative_docs/{c}"]["value"] for c in ("issued", "repealed", "in_force")] \
        == [3, 1, None]
    assert any("ran together" in w for w in res["warnings"])
    q = tmp_path / "years.html"
    q.write_text(_HTML.read_text(encoding="utf-8").replace(
        '<tr><td colspan="4">第二十条第（一）项</td></tr>',
        '<tr><td colspan="4">第二十条第（一）项</td></tr><tr><td>统计期</td><td colspan="3">2020-2021</td></tr>', 1),
        encoding="utf-8")
    assert not any("ran together" in w for w in to_result(extract(q))["warnings"])


# -- a row whose values the reading lost comes back missing, never a confident blank -------------

def _sample_joined() -> tuple[str, dict]:
    src = (FIXTURES / "flattened" / "s2021_b.pdftotext-layout.txt").read_text(encoding="utf-8")
    truth = json.loads((ROOT / "datasets" / "samples" / "s2021_b.truth.json").read_text(encoding="utf-8"))
    return join_rows(src), truth


GRANTED = [f"requests/granted/{c}" for c in ("natural_person", "commercial_enterprise", "research_institution",
                                             "social_welfare_org", "legal_service_org", "other_org", "total")]


@pytest.mark.parametrize("lost", ["digits", "page-number"])
def test_a_row_whose_digits_were_lost_is_never_a_confident_blank(lost, tmp_path):
    """A real extractor's text (pdftotext -layout of the sample) with its rows joined, then
    the digits of （一）予以公开 lost (gone, or a line the reading takes for a page
    number, as report 052's `000/000` was): the label stands alone, as an empty row's
    does (this report prints four rows of blanks as nothing), so nothing in the text
    tells the two apart. Its cells are blanks below the review threshold, or missing;
    never blanks at confidence 1.0, and the document is not `ok`."""
    text, truth = _sample_joined()
    row = "（一）予以公开0200002"
    assert row in text.split("\n")
    text = text.replace(row, "（一）予以公开" if lost == "digits" else "（一）予以\n3/12\n公开")
    p = tmp_path / "lost.txt"
    p.write_text(text, encoding="utf-8")
    res = to_result(extract(p))
    validate(res)
    missing = {m["key"] for m in res["missing"]}
    for k in GRANTED:
        assert k in missing or res["cells"][k]["confidence"] < 0.995, k
    assert res["status"] == "needs_review"
    for k, t in truth["cells"].items():     # nothing else confidently wrong
        c = res["cells"].get(k)
        if c is not None and c["value"] != t["value"]:
            assert c["confidence"] < 0.995, k


def test_a_label_alone_where_digits_went_unplaced_is_missing(tmp_path):
    """The digits of 信访举报投诉类申请 printed off their row (after 总计): the run is in
    the text but no row takes it, so the label alone is a row whose values were not
    found: its cells are missing, not blanks."""
    row = "（五）不予处理1.信访举报投诉类申请"
    text = _report(active_row="规章0025").replace(row + "0000000", row).replace(
        "（七）总计801000081", "（七）总计801000081\n0000000")
    p = tmp_path / "off.txt"
    p.write_text(text, encoding="utf-8")
    res = to_result(extract(p))
    keys = [f"requests/rejected_petition/{c}" for c in ("natural_person", "total")]
    assert set(keys) <= {m["key"] for m in res["missing"]} and not set(keys) & set(res["cells"])
    assert res["status"] == "needs_review" and any("went unplaced" in w for w in res["warnings"])


def test_stream_reader_never_calls_a_label_alone_a_sure_blank():
    """The stream decoder (pipeline/stream/requests.py) reading a joined report whose
    信访举报投诉类申请 row lost its zeros: every equation still holds, and the label alone
    reads as blanks, never sure (it was placement 1.0 unless the values came in blocks)."""
    from pipeline import stream
    from pipeline.classify import FuzzyMapper
    row = "（五）不予处理1.信访举报投诉类申请"
    text = _doc(_report(active_row="规章0025").replace(row + "0000000", row)).text
    st = stream.decode_requests(text, templates()["2021"], FuzzyMapper().similarity)
    keys = [f"requests/rejected_petition/{c}" for c in ("natural_person", "total")]
    assert st is not None and all(k in st.cells and st.cells[k] is None for k in keys)
    assert all(st.placement.get(k, 1.0) < 0.995 for k in keys)


def _div_page(html: str) -> str:
    """report_2021.html with every <table> written as a div grid, as some CMSs print
    tables (<div class="table"><div class="tr"><div class="td" style="grid-column: span N">,
    data-rowspan; training/synth/render_html's `div` markup)."""
    import lxml.html
    root = lxml.html.document_fromstring(html)
    for table in list(root.iter("table")):
        grid = lxml.html.Element("div", {"class": "table", "style": "display:grid"})
        for tr in table.iter("tr"):
            row = lxml.html.Element("div", {"class": "tr"})
            for td in tr:
                if not isinstance(td.tag, str) or td.tag.lower() not in ("td", "th"):
                    continue
                attrs = {"class": "td"}
                if int(td.get("colspan") or 1) > 1:
                    attrs["style"] = f"grid-column: span {td.get('colspan')}"
                if int(td.get("rowspan") or 1) > 1:
                    attrs["data-rowspan"] = td.get("rowspan")
                cell = lxml.html.Element("div", attrs)
                cell.text = td.text_content()
                row.append(cell)
            grid.append(row)
        table.getparent().replace(table, grid)
    return lxml.html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")


@pytest.mark.parametrize("shape", ["row", "values"])
def test_div_grid_rows_whose_cells_ran_together(shape, tmp_path, html_truth):
    """A page whose tables are div grids (no <td>), each row's values (or the whole row)
    run together in one cell div: found and split as the <table> pages are; the same
    page with its cells intact stays a grid."""
    page = _div_page(_HTML.read_text(encoding="utf-8"))
    assert "<table" not in page and 'class="tr"' in page
    intact = tmp_path / "div.html"
    intact.write_text(page, encoding="utf-8")
    res = to_result(extract(intact))
    assert not any("ran together" in w for w in res["warnings"])
    assert all(res["cells"][k]["value"] == c["value"] for k, c in html_truth.items() if k in res["cells"])
    joined_page = join_html(page, shape)
    assert joined_page is not None and (">122001015<" in joined_page or "数量122001015<" in joined_page)
    p = tmp_path / "joined_div.html"
    p.write_text(joined_page, encoding="utf-8")
    res = to_result(extract(p))
    validate(res)
    assert any("ran together" in w for w in res["warnings"])
    wrong = [k for k, c in html_truth.items() if k.startswith(("requests/", "appeals/"))
             and (k not in res["cells"] or res["cells"][k]["value"] != c["value"])]
    assert not wrong
    for k, c in res["cells"].items():
        if k in html_truth and c["value"] != html_truth[k]["value"] or len(c.get("alternatives") or []) > 1:
            assert c["confidence"] < 0.995, k


@pytest.mark.parametrize("paragraphs", ["a row each", "one"])
def test_word_document_of_joined_paragraphs(paragraphs, tmp_path):
    """A Word document holding the report as paragraphs (a crawled page pasted into Word),
    its rows' cells run together, or the whole report in one paragraph: with no grid its
    text is read as a text file is, so the joined rows are found and split (before: the
    requests table was lost)."""
    docx = pytest.importorskip("docx")
    d = docx.Document()
    text = _report(active_row="规章0025")
    for line in (text.split("\n") if paragraphs == "a row each" else [text.replace("\n", "")]):
        d.add_paragraph(line)
    p = tmp_path / "joined.docx"
    d.save(p)
    res = to_result(extract(p))
    assert res["source"]["kind"] == "docx"
    assert any("cells run together" in w for w in res["warnings"])
    _assert_the_report_read(res)


def test_eval_and_bench_count_zero_or_blank_cells_apart():
    """eval_joined's figures (and the bench section that prints them): a cell wrong only as
    0 for a blank counts wrong, but the ceiling column counts it right; cells whose only
    doubt is 0-or-blank are counted, and those accepted apart."""
    from collections import Counter

    from training import eval_joined
    from training.bench.joined import joined_markdown
    from training.eval_flattened import score_cells
    zb = [[0, 0.5], [None, 0.5]]
    truth = {"cells": {"requests/a/x": {"value": None}, "requests/a/y": {"value": 0}, "requests/a/z": {"value": 5}}}
    cells = {"requests/a/x": {"value": 0, "confidence": 0.5, "alternatives": zb},
             "requests/a/y": {"value": 0, "confidence": 0.5, "alternatives": zb},
             "requests/a/z": {"value": 5, "confidence": 1.0, "alternatives": [[5, 1.0]]}}
    c = Counter(documents=1)
    c.update(score_cells(truth, cells, 0.995))
    c.update(eval_joined.accepted(truth, cells, 0.995))
    s = eval_joined.summary(c)
    assert s["requests_appeals_cells_right"] == round(2 / 3, 4)
    assert s["requests_appeals_cells_right_zero_blank_as_right"] == 1.0
    assert s["requests_appeals_wrong_only_zero_vs_blank"] == 1
    assert (s["zero_blank_undecided"], s["zero_blank_undecided_accepted"]) == (2, 0)
    assert s["auto_accepted_share"] == round(1 / 3, 4) and s["auto_accepted_precision"] == 1.0
    md = "\n".join(joined_markdown({"joined-rows": {"all": s}}))
    assert "| joined-rows | 1 | 66.67% | 100.00% | 1 |" in md and "| 2 (0) |" in md


@pytest.mark.parametrize("holder", ["<p>{}</p>", "<table><tr><td>首页</td><td>{}</td></tr></table>"])
def test_web_page_holding_the_whole_report_on_one_line(holder, tmp_path):
    """A crawler's page with the whole report on one line, in a paragraph or in one cell of
    a layout table: read as page text, cut into lines and split."""
    one = _report(active_row="规章0025").replace("\n", "")
    p = tmp_path / "one.html"
    p.write_text("<html><body><div class='TRS_Editor'>" + holder.format(one) + "</div></body></html>",
                 encoding="utf-8")
    res = to_result(extract(p))
    assert res["source"]["kind"] == "html"
    assert res["cells"]["requests/total/total"]["value"] == 81
    assert [res["cells"][k]["value"] for k in APP_KEYS] == [1, 1, 0, 0, 2, 4, 0, 0, 1, 5, 1, 0, 1, 0, 2]
    assert res["status"] == "ok", (res["warnings"], res["missing"])


@pytest.mark.parametrize("shape", ["row", "values"])
def test_word_table_cells_holding_joined_rows(shape, tmp_path):
    """A Word document whose tables kept each row in one cell (`row`) or the label in one
    cell and every value run together in the next (`values`), as a crawled page pasted
    into Word leaves it: the tables are written out in place as text lines and split by
    the equations (Word documents with their cells apart: tests/test_office.py)."""
    docx = pytest.importorskip("docx")
    d = docx.Document()
    table = None
    for line in _report(active_row="规章0025").split("\n"):
        label, run = joined.split_tail(line)
        in_table = bool(run) and not line.startswith("第二十条")
        if not in_table:
            d.add_paragraph(line)
            table = None
            continue
        if table is None:
            table = d.add_table(rows=0, cols=1 if shape == "row" else 2)
        cells = table.add_row().cells
        if shape == "row":
            cells[0].text = line
        else:
            cells[0].text, cells[1].text = label, run
    p = tmp_path / "joined_table.docx"
    d.save(p)
    res = to_result(extract(p))
    assert any("Word tables hold rows whose cells ran together" in w for w in res["warnings"])
    _assert_the_report_read(res)


def _assert_the_report_read(res):
    """The joined test report (_report) read whole: its new-requests row and appeals, ok."""
    assert [res["cells"][f"requests/new_received/{c}"]["value"] for c in
            ("natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
             "legal_service_org", "other_org", "total")] == [80, 1, 0, 0, 0, 0, 81]
    assert [res["cells"][k]["value"] for k in APP_KEYS] == [1, 1, 0, 0, 2, 4, 0, 0, 1, 5, 1, 0, 1, 0, 2]
    assert res["status"] == "ok", (res["warnings"], res["missing"])


@pytest.mark.parametrize("shape", ["row", "values"])
def test_excel_sheet_cells_holding_joined_rows(shape, tmp_path):
    """An Excel sheet saved from a crawled page (a portal's "export to Excel"): each row in
    one cell (`row`), or the label in one cell and every value run together as text in the
    next (`values`). The sheet is written out as text lines and split by the equations, as
    Word tables are."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    for line in _report(active_row="规章0025").split("\n"):
        label, run = joined.split_tail(line)
        in_table = bool(run) and not line.startswith("第二十条")
        ws.append([line] if shape == "row" or not in_table else [label, run])
    p = tmp_path / "joined.xlsx"
    wb.save(p)
    res = to_result(extract(p))
    assert res["source"]["kind"] == "xlsx"
    _assert_the_report_read(res)


def test_one_line_appeals_value_lifted_over_its_unit():
    """One-line test_00024: `…结果果500000200300000项` — the direct-litigation total `5` printed
    above its wrapped unit `项`, the other 14 cells between them, all run together: the first
    digit is cut off as the lifted value (configs/joined.yaml one_line_lifted_value), the
    14 digits left as the row's run, and the unit alone (joined.split_one_line)."""
    from pipeline.joined import split_one_line
    head = "四、政府信息公开行政复议、行政诉讼情况行政复议行政诉讼未经复议直接起诉复议后起诉结果维持"
    lines = split_one_line(head + "500000200300000项五、存在的主要问题及改进情况").split("\n")
    i = lines.index("5")
    assert lines[i + 1:i + 3] == ["00000200300000", "项"]
    # not a run of another length, nor a decimal's digits
    assert "5" not in split_one_line(head + "50000020030000项五、存在的主要问题及改进情况").split("\n")


def test_one_line_ascii_page_number_glued_to_a_run():
    """One-line test_00010: `（一）予以公开260004030-3-西安市…` — the page number `-3-` (ASCII
    hyphens) glued after the row's run is a page break, not the run's digits (configs/joined.yaml
    footer, tried where no dash form is printed)."""
    from pipeline.joined import split_one_line
    text = ("三、收到和处理政府信息公开申请情况申请人情况…数量（一）予以公开260004030-3-西安市某局2020年度报告"
            "（二）部分公开000-4-某局")
    lines = split_one_line("行政许可000-2-某局" + text).split("\n")
    assert any(line.endswith("予以公开260004030") for line in lines)
    assert not any("-3-" in line for line in lines)


def test_raw_appeals_row_in_two_runs_around_a_wrapped_value(tmp_path):
    """joined-raw test_00024: `pdftotext -raw` prints the appeals row as the cells left of the
    one whose unit wrapped, its number, its unit, the cells right of it (`110024001` / `5` /
    `项` / `10102`): one run again, in that order (joined._rejoined); before, the two halves
    were read as two short rows and the 15 cells were missing."""
    p = tmp_path / "raw.txt"
    p.write_text(_report().replace("110024001510102", "110024001\n5\n项\n10102"), encoding="utf-8")
    res = to_result(extract(p))
    assert [res["cells"][k]["value"] for k in APP_KEYS] == [1, 1, 0, 0, 2, 4, 0, 0, 1, 5, 1, 0, 1, 0, 2]
    assert all(res["cells"][k]["confidence"] >= 0.995 for k in APP_KEYS)
    # the two halves and the value must fill the row exactly, with nothing else between them
    for other in ("110024001\n5\n项\n1010", "110024001\n5\n结果\n项\n10102", "110024001\n5\n10102"):
        doc = _doc(_report().replace("110024001510102", other))
        assert not [r for r in doc.joined if r.table == "appeals" and len(r.pieces) == 3], other


def test_one_line_page_footer_and_running_head(tmp_path):
    """One-line test_00031: `…000000000000000项第4页某局2022年政府信息公开工作年度报告五、…` —
    the page number 第N页 (in page order) is a page break and the next page's running head
    after it a line of its own (configs/joined.yaml footer, running_header): its year is no
    value run. Before, `第4` and `…局2022` were read as two more appeals rows and the table
    was lost."""
    text = _report(active_row="规章0025")
    text = text.replace("三、收到", "第1页某市某局2022年度政府信息公开工作年度报告三、收到")
    text = text.replace("110024001510102", "110024001510102第2页某市某局2022年度政府信息公开工作年度报告")
    lines = joined.split_one_line(text.replace("\n", "")).split("\n")
    assert lines.count("某市某局2022年度政府信息公开工作年度报告") == 3
    assert not any("页" in line and joined.split_tail(line)[1] for line in lines)
    assert any(line.endswith("110024001510102") for line in lines)
    p = tmp_path / "one_line.txt"
    p.write_text(text.replace("\n", ""), encoding="utf-8")
    res = to_result(extract(p))
    assert [res["cells"][k]["value"] for k in APP_KEYS] == [1, 1, 0, 0, 2, 4, 0, 0, 1, 5, 1, 0, 1, 0, 2]
    # a 第N页 out of page order is no page break: no running head is cut after it
    lines = joined.split_one_line(text.replace("\n", "").replace("第2页", "第7页")).split("\n")
    assert lines.count("某市某局2022年度政府信息公开工作年度报告") == 2


def test_requests_header_wrapped_and_fused_takes_the_template_columns(tmp_path):
    """joined-rows val_00009: the requests header printed over five lines (`自然` / `人`,
    `商业` / `企业` …), its gaps removed as the rows' were: `自然社会法律`, `商业科研总计`,
    `人公益服务其他`. Three fused lines matched three columns and the other four were read
    absent (every requests cell missing where the line reading was kept). The rows unjoin
    rewrote are the template's cells in its order, so the table takes the template's
    columns (configs/joined.yaml template_columns)."""
    from pipeline.classify.decoded import Decoded
    from pipeline.classify.mappers import get_mapper
    from pipeline.classify.regions import find_regions
    from pipeline.classify.requests_table import decode_requests
    from pipeline.classify.rows import table_rows
    from pipeline.classify.stage import _joined_columns
    from pipeline.templates import label_classes
    header = "申请人情况自然人法人或其他组织总计商业企业科研机构社会公益组织法律服务机构其他"
    wrapped = "\n".join(["申请人情况", "法人或其他组织", "(本列数据的勾稽关系为：第一项加第",
                         "二项之和，等于第三项加第四项之和)自然社会法律", "商业科研总计",
                         "人公益服务其他", "企业机构", "组织机构"])
    doc = _doc(_report(active_row="规章0025").replace(header, wrapped))
    union = templates()["2021"]
    assert _joined_columns(doc, union)
    rows = table_rows(doc)
    s, e = find_regions(rows, label_classes(union))["requests"]
    d = Decoded(kind="requests")      # (without the flag, the shipped key model reads 4 columns absent)
    decode_requests(rows[s:e], get_mapper("auto"), union, d, template_columns=True)
    assert d.absent_cols == [] and not d.missing
    assert [d.cells[f"requests/new_received/{c.key}"].text for c in union.request_columns] == \
        ["80", "1", "0", "0", "0", "0", "81"]
    p = tmp_path / "wrapped_header.txt"       # and the whole reading
    p.write_text(doc.text, encoding="utf-8")
    res = to_result(extract(p))
    assert not [m for m in res["missing"] if m["key"].startswith("requests/")]
