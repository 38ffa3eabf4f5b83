"""Readers and bad input: every document gets a result with a clear status and reason."""
import pytest

from pipeline.export import to_result, validate
from pipeline.read import decode_text, split_fields
from pipeline.run import extract

from conftest import SEEDS


def result(path):
    res = to_result(extract(path))
    validate(res)
    return res


def test_html_rowspan_colspan(fixtures):
    res = result(fixtures / "inputs/report_2021.html")
    assert res["source"]["kind"] == "html"
    assert (res["agency"], res["year"], res["template"]) == ("示例市示例区民政局", 2022, "2021")
    c = res["cells"]
    assert c["requests/new_received/total"]["value"] == 15
    assert c["requests/unavailable_not_held/legal_service_org"]["value"] == 1   # under a rowspan group
    assert c["requests/other_other/commercial_enterprise"]["value"] == 1
    assert c["appeals/litigation_direct/pending"]["value"] == 1                 # three-level header
    assert c["active/art20_5.admin_license/decisions"]["value"] == 1205         # "1,205" over colspan
    assert c["active/art20_6.admin_coercion/decisions"]["value"] is None        # "/" is a printed blank
    assert c["active/art20_8.admin_fees/fee_amount"]["value"] == pytest.approx(211.509)
    assert res["status"] == "ok" and all(ch["holds"] for ch in res["checks"])
    assert len(c) == 200


def test_html_printed_inconsistency_is_flagged(fixtures, tmp_path):
    html = (fixtures / "inputs/report_2021.html").read_text(encoding="utf-8")
    bad = html.replace("<td colspan=\"2\">（七）总计</td><td>11</td>", "<td colspan=\"2\">（七）总计</td><td>17</td>")
    assert bad != html
    p = tmp_path / "bad.html"
    p.write_text(bad, encoding="utf-8")
    res = result(p)
    assert res["status"] == "needs_review"
    assert res["cells"]["requests/total/natural_person"]["value"] == 17   # kept as printed
    assert any(not ch["holds"] for ch in res["checks"])


def test_markdown_table(tmp_path):
    md = ["# 某县司法局2019年政府信息公开工作年度报告", "", "## 四、政府信息公开行政复议、行政诉讼情况", "",
          "| 行政复议 | | | | | 行政诉讼 | | | | | | | | | |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
          "| 结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计 | 未经复议直接起诉 | | | | | 复议后起诉 | | | | |",
          "| | | | | | 结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计 | 结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计 |",
          "| 1 | 2 | 0 | 0 | 3 | 0 | 0 | 0 | 1 | 1 | 0 | 0 | 0 | 0 | 0 |"]
    req = ["| 项目 | 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |",
           "|---|---|---|---|---|---|---|---|",
           "| 一、本年新收政府信息公开申请数量 | 4 | 0 | 0 | 0 | 0 | 0 | 4 |",
           "| 二、上年结转政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |"]
    p = tmp_path / "r.md"
    p.write_text("\n".join(md[:2] + req + [""] + md[2:]) + "\n", encoding="utf-8")
    res = result(p)
    assert res["source"]["kind"] == "markdown"
    assert res["cells"]["requests/new_received/natural_person"]["value"] == 4
    assert res["cells"]["appeals/review/corrected"]["value"] == 2
    assert res["cells"]["appeals/litigation_direct/pending"]["value"] == 1
    assert res["year"] == 2019


def test_gbk_text_is_read(tmp_path):
    text = SEEDS[4].read_text(encoding="utf-8")
    p = tmp_path / "gbk.txt"
    p.write_bytes(text.encode("gbk"))
    res = result(p)
    assert res["agency"] == "金水区司法局" and res["year"] == 2023
    assert res["cells"]["requests/new_received/natural_person"]["value"] == 1
    assert any("gb18030" in w for w in res["warnings"])


def test_decode_rejects_binary():
    assert decode_text(b"\x00\x01\x02garbage")[0] is None
    assert decode_text("规章".encode("utf-8"))[0] == "规章"


def test_split_fields():
    assert split_fields("a\t\tb") == ["a", "", "b"]
    assert split_fields("| 规章 | 0 | 1 |") == ["规章", "0", "1"]
    assert split_fields("规章    0    1") == ["规章", "0", "1"]


@pytest.mark.parametrize("name,data,status,reason", [
    ("empty.txt", b"", "failed", "empty"),
    ("blank.txt", b"  \n\n ", "failed", "empty"),
    ("garbage.bin", bytes(range(256)) * 40, "failed", "binary"),
    ("novel.txt", "从前有座山，山里有座庙，庙里有个老和尚在讲故事。\n".encode() * 20, "failed", "not a government"),
    ("word.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "failed", "Word"),
])
def test_bad_input(tmp_path, name, data, status, reason):
    p = tmp_path / name
    p.write_bytes(data)
    res = result(p)
    assert res["status"] == status
    assert any(reason in e for e in res["errors"]), res["errors"]
    assert res["cells"] == {}


def test_pre2019_report_is_unsupported(fixtures):
    res = result(fixtures / "inputs/pre2019_report.txt")
    assert res["status"] == "unsupported_template"
    assert res["template"] is None and res["cells"] == {}
    assert res["year"] == 2016 and "2008" not in res["errors"][0]


def test_report_without_tables(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("某区司法局2021年政府信息公开工作年度报告\n\n一、总体情况\n本年度工作顺利。\n", encoding="utf-8")
    res = result(p)
    assert res["status"] == "no_tables" and res["year"] == 2021


def test_table_cut_off_midway(tmp_path):
    """A requests table that stops after four rows: those cells are read, the rest missing."""
    lines = SEEDS[4].read_text(encoding="utf-8").splitlines()
    cut = next(i for i, l in enumerate(lines) if "(二) 部分公开" in l)
    p = tmp_path / "cut.txt"
    p.write_text("\n".join(lines[:cut + 1]) + "\n", encoding="utf-8")
    res = result(p)
    assert res["cells"]["requests/granted/total"]["value"] == 1
    assert "requests/total/total" not in res["cells"]
    missing = {m["key"] for m in res["missing"]}
    assert "requests/total/total" in missing and "appeals/*" in missing
    assert res["status"] == "needs_review"


def test_unreadable_file(tmp_path):
    import os
    p = tmp_path / "secret.txt"
    p.write_text("x", encoding="utf-8")
    os.chmod(p, 0)
    try:
        if os.access(p, os.R_OK):  # root reads anything: simulate with a directory entry gone
            p.unlink()
        res = to_result(extract(p))
        assert res["status"] == "failed" and res["errors"]
    finally:
        if p.exists():
            os.chmod(p, 0o644)


def test_hybrid_template_is_decided_per_table(tmp_path):
    """2021 active table beside a one-row (六)其他处理: the requests table is keyed `other`."""
    text = SEEDS[4].read_text(encoding="utf-8")
    lines = text.splitlines()
    i = next(k for k, l in enumerate(lines) if "(六) 其他处理" in l)
    hybrid = lines[:i] + ["\t(六) 其他处理\t0\t0\t0\t0\t0\t0\t0"] + lines[i + 3:]
    p = tmp_path / "hybrid.txt"
    p.write_text("\n".join(hybrid), encoding="utf-8")
    res = result(p)
    assert res["template"] == "2021"
    assert res["tables"]["requests"] == "2019" and res["tables"]["active"] == "2021"
    assert res["cells"]["requests/other/total"]["value"] == 0
    assert not any(k.startswith("requests/other_other/") for k in res["cells"])
    assert not any(m["key"].startswith("requests/other_") for m in res["missing"])


def test_local_extra_row_is_unmapped_not_shifting(tmp_path):
    src = SEEDS[2].read_text(encoding="utf-8")
    p = tmp_path / "extra.txt"
    p.write_text(src.replace("行政规范性文件\t2\t0\t4\n", "行政规范性文件\t2\t0\t4\n其他主动公开文件\t5\t1\t9\n"),
                 encoding="utf-8")
    res = result(p)
    assert {"table": "active", "label": "其他主动公开文件"} in res["unmapped"]
    assert res["cells"]["active/art20_1.normative_docs/in_force"]["value"] == 4
    assert res["cells"]["active/art20_5.admin_license/decisions"]["value"] == 3


def test_quirks_fused_row_ordinal_only_label_traditional(tmp_path):
    src = SEEDS[4].read_text(encoding="utf-8")
    s = (src.replace("规章\t0\t0\t0", "规章000")
            .replace("(二) 部分公开（区分处理的，只计这一情形，不计其他情形）", "(二)")
            .replace("行政规范性文件", "行政規範性檔案")
            .replace("金水区司法局 2023 年政府信息公开工作年度报告", "金水区司法局 2023 年政府資訊公開工作年度報告"))
    p = tmp_path / "q.txt"
    p.write_text(s, encoding="utf-8")
    res = result(p)
    assert res["year"] == 2023
    assert res["cells"]["active/art20_1.regulations/in_force"]["value"] == 0
    assert res["cells"]["active/art20_1.normative_docs/issued"]["value"] == 0
    assert res["cells"]["requests/partially_granted/total"]["value"] == 0
    assert len(res["cells"]) == 200 and not res["missing"]


def test_requests_table_continued_in_a_second_table(fixtures, tmp_path):
    """A page break splits the requests table; the continuation has fewer label columns
    (no 三、本年度办理结果 column): its values still land in the right columns."""
    html = (fixtures / "inputs/report_2021.html").read_text(encoding="utf-8")
    cut = html.index('<tr><td rowspan="8">（三）不予公开</td>')
    cont = html[cut:].replace('<td colspan="3">四、结转下年度继续办理</td>', '<td colspan="2">四、结转下年度继续办理</td>', 1)
    p = tmp_path / "split.html"
    p.write_text(html[:cut] + "</table>\n<p>— 2 —</p>\n<table border=\"1\">\n" + cont, encoding="utf-8")
    res = result(p)
    c = res["cells"]
    assert c["requests/unavailable_not_held/legal_service_org"]["value"] == 1
    assert c["requests/unavailable_not_held/natural_person"]["value"] == 2
    assert c["requests/total/total"]["value"] == 14
    assert c["requests/carried_forward/natural_person"]["value"] == 2
    assert res["status"] == "ok"
