"""Issue #13: a table's title is looked for after the earlier tables' titles (stream.tokens.region,
configs/classify.yaml stream.titles_in_order): the opening paragraph of val_00027 of
datasets/generated/s23b breaks a line right before `行政复议和行政诉讼情况、…`, which read as the
appeals title, so the appeals region held the whole report and the table was lost."""
from __future__ import annotations

from pathlib import Path

from pipeline.export import to_result
from pipeline.run import extract
from pipeline.stream.tokens import region
from pipeline.templates import config

FIX = Path(__file__).parent / "fixtures" / "flattened_wrapped"
TEXT = ("报告全文包括总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、政府信息公开\n"
        "行政复议和行政诉讼情况、存在的主要问题及改进情况。\n"
        "三、收到和处理政府信息公开申请情况\n自然人 总计\n一、本年新收政府信息公开申请数量 1 1\n"
        "行政复议\n维持 纠正\n行政诉讼\n0 0 0\n五、存在的主要问题及改进情况\n无。\n")


def test_appeals_title_after_the_requests_title():
    app = region(TEXT, "appeals")
    assert app is not None and "本年新收" not in app and "0 0 0" in app


def test_switched_off_takes_the_first_match(monkeypatch):
    monkeypatch.setitem(config("classify.yaml")["stream"], "titles_in_order", False)
    assert "本年新收" in region(TEXT, "appeals")


def test_report_whose_opening_names_the_sections_reads_its_appeals():
    res = to_result(extract(FIX / "v027.pdftotext-raw.txt"))
    app = {k: c["value"] for k, c in res["cells"].items() if k.startswith("appeals/")}
    assert len(app) == 15 and set(app.values()) == {0}


def test_page_number_broken_over_crlf_lines_ends_the_page():
    """pypdfium2 (val_00011) ends its lines with \\r\\n and breaks `— 2 —` as `— 2 \\r\\n—\\f行政复议`:
    the broken page number is joined (stream.split_footers allows the \\r) and the next page's
    appeals title found; the requests values read right (170 cells lost before)."""
    import json
    text = (FIX / "v011.pypdfium2.txt").read_bytes().decode("utf-8")
    assert "\r\n" in text
    assert "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0" not in region(text, "requests")
    truth = json.loads((FIX / "v011.truth.json").read_text(encoding="utf-8"))["cells"]
    res = to_result(extract(FIX / "v011.pypdfium2.txt"))
    wrong = [k for k, v in truth.items() if k not in res["cells"] or res["cells"][k]["value"] != v]
    assert not wrong, wrong[:5]


def test_page_number_interleaved_with_the_running_header_is_put_back():
    """pdftotext (-layout, val_00028) prints `— 4 —` and the running header over it as
    `— 4 2023` / `沈阳市…局  — 年政府信息公开工作年度报告`: the number's closing dash and the
    header's year trade lines (stream.split_footers, an entry with its own repl). Put back, the
    page number is a footer and the header a running header; before, `— 4 2023` was read as a
    row of values in the requests table and its 175 cells were lost."""
    from pipeline.stream.tokens import join_split_footers, tokens
    text = "  1.本机关不掌握相关政府信息   0  0  0\n\f      — 4 2023\n   某某局  — 年政府信息公开工作年度报告\n"
    fixed = join_split_footers(text)
    assert "— 4 —\n" in fixed and "某某局 2023年政府信息公开工作年度报告" in fixed
    assert [it.text for it in tokens(text) if it.kind == "V"] == ["0", "0", "0"]
    import json
    truth = json.loads((FIX / "v028.truth.json").read_text(encoding="utf-8"))["cells"]
    res = to_result(extract(FIX / "v028.pdftotext-layout.txt"))
    wrong = [k for k, v in truth.items() if k not in res["cells"] or res["cells"][k]["value"] != v]
    assert not wrong, wrong[:5]


def test_page_number_and_a_bare_year_line_untouched():
    # a line `— 4 2023` not followed by a running header's dash and words: left as it is
    from pipeline.stream.tokens import join_split_footers
    text = "— 4 2023\n0 0 0\n"
    assert join_split_footers(text) == text
