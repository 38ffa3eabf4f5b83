"""Word, WPS, Excel attachments and saved web pages read natively (pipeline/office.py,
pipeline/webpage.py; docs/office.md).

Fixtures: tests/fixtures/office/report_2024.doc is LibreOffice's .doc of a synthetic report
(its values in report_2024.expected.json); protected.docx / protected.xlsx were encrypted
with msoffcrypto-tool (password "secret"). LibreOffice tests run wherever soffice is
installed and in CI (which installs it: scripts/setup.sh test); elsewhere they skip.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from pipeline import office, office_convert
from pipeline.export import to_result, validate
from pipeline.model import Document, Source
from pipeline.run import extract

OFFICE = Path(__file__).parent / "fixtures" / "office"
HAVE_LO = office.soffice() is not None
needs_lo = pytest.mark.skipif(not HAVE_LO and not os.environ.get("CI"),
                              reason="LibreOffice not installed (scripts/setup.sh test installs it; CI always runs this)")


def result(path) -> dict:
    r = to_result(extract(path))
    validate(r)
    return r


def wrong_cells(res: dict, expected: dict) -> list:
    return [(k, v, res["cells"].get(k, {}).get("value", "MISSING")) for k, v in expected.items()
            if res["cells"].get(k, {}).get("value", "MISSING") != v]


def synth_report(i: int = 3):
    pytest.importorskip("reportlab")
    from training.synth.build import draw_document, load_config
    cfg = load_config("configs/synth.yaml")
    return draw_document([int(cfg["seed"]), 2, i], cfg)


# ----------------------------------------------------------------------------- .docx

_NS = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
       'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
       'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"')


def _p(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def _tc(body: str, span: int = 1, vmerge: str | None = None) -> str:
    pr = (f'<w:gridSpan w:val="{span}"/>' if span > 1 else "") + \
         ("" if vmerge is None else (f'<w:vMerge w:val="{vmerge}"/>' if vmerge else "<w:vMerge/>"))
    return f"<w:tc><w:tcPr>{pr}</w:tcPr>{body}</w:tc>"


def docx_bytes(body: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        z.writestr("word/document.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:document {_NS}><w:body>{body}'
                   "</w:body></w:document>")
    return buf.getvalue()


def test_docx_merges_nested_tables_text_boxes_from_the_ooxml():
    box = "<w:txbxContent>" + _p("某区司法局2021年政府信息公开工作年度报告") + "</w:txbxContent>"
    title = (f"<w:p><w:r><mc:AlternateContent><mc:Choice Requires=\"wps\"><w:drawing><wps:txbx>{box}</wps:txbx>"
             f"</w:drawing></mc:Choice><mc:Fallback><w:pict><v:textbox>{box}</v:textbox></w:pict></mc:Fallback>"
             "</mc:AlternateContent></w:r></w:p>")
    inner = ("<w:tbl><w:tr>" + _tc(_p("甲")) + _tc(_p("1")) + "</w:tr><w:tr>" + _tc(_p("乙")) + _tc(_p("2"))
             + "</w:tr></w:tbl>")
    table = ("<w:tbl>"
             "<w:tr>" + _tc(_p("申请人情况"), span=2) + _tc(_p("自然人")) + "</w:tr>"
             "<w:tr>" + _tc(_p("三、本年度办理结果"), vmerge="restart") + _tc(_p("（一）予以") + _p("公开")) +
             _tc("<w:p><w:r><w:t>1</w:t></w:r><w:del><w:r><w:delText>9</w:delText></w:r></w:del>"
                 "<w:r><w:t>2</w:t></w:r></w:p>") + "</w:tr>"
             "<w:tr>" + _tc("<w:p/>", vmerge="") + _tc(_p("（二）部分公开")) + _tc(_p("3")) + "</w:tr>"
             "<w:tr><w:trPr><w:gridBefore w:val=\"1\"/></w:trPr>" + _tc(_p("四、结转")) + _tc(inner) + "</w:tr>"
             "</w:tbl>")
    doc = office.read_docx(docx_bytes(title + _p("一、总体情况") + table), Document(Source("x.docx")))
    assert doc.text.count("年度报告") == 1            # the text box once, not once per AlternateContent branch
    assert "一、总体情况" in doc.text
    outer, nested = doc.tables
    cells = {(c.row, c.col): c for c in outer.cells}
    assert cells[(0, 0)].colspan == 2 and cells[(0, 2)].text == "自然人"
    assert cells[(1, 0)].rowspan == 2 and (2, 0) not in cells    # vMerge continue: the same cell
    assert cells[(1, 1)].text == "（一）予以公开"                # a cell's paragraphs joined
    assert cells[(1, 2)].text == "12"                            # deleted text dropped
    assert cells[(3, 1)].text == "四、结转"                        # gridBefore skips a column
    assert [(c.row, c.col, c.text) for c in nested.cells] == [(0, 0, "甲"), (0, 1, "1"), (1, 0, "乙"), (1, 1, "2")]
    # the (table, row, column) position: page = table number, bbox = grid box
    assert cells[(1, 0)].page == 1 and cells[(1, 0)].bbox == (0.0, 1.0, 1.0, 3.0)
    assert nested.cells[0].page == 2 and doc.source.kind == "docx"


def test_docx_report_every_cell_right(tmp_path):
    pytest.importorskip("docx")
    from training.synth.render_docx import render_docx
    d = synth_report(3)
    data, boxes = render_docx(d["lay"], d["year"], {"nested": True, "split_labels": True, "textbox_title": True})
    f = tmp_path / "report.docx"
    f.write_bytes(data)
    res = result(f)
    assert res["source"]["kind"] == "docx"
    assert wrong_cells(res, d["rv"].values) == []
    assert (res["agency"], res["year"]) == (d["agency"], d["year"])
    assert res["status"] == ("needs_review" if d["rv"].injected else "ok")
    k = next(iter(boxes))
    assert [res["cells"][k]["page"], *res["cells"][k]["bbox"]] == boxes[k]


# ----------------------------------------------------------------------------- LibreOffice

@needs_lo
@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".doc", ".wps"])
def test_doc_and_wps_converted_by_libreoffice_for_real(tmp_path, suffix):
    exp = json.loads((OFFICE / "report_2024.expected.json").read_text(encoding="utf-8"))
    f = tmp_path / f"report{suffix}"      # a WPS writer file is the same OLE format as a .doc
    shutil.copy(OFFICE / "report_2024.doc", f)
    res = result(f)
    assert res["source"]["kind"] == suffix.lstrip(".")
    assert any("LibreOffice" in w for w in res["warnings"])
    assert wrong_cells(res, exp["cells"]) == []
    assert (res["agency"], res["year"], res["status"]) == (exp["agency"], exp["year"], exp["status"])


def test_without_libreoffice_the_result_says_unsupported_format(monkeypatch):
    monkeypatch.setattr(office_convert, "soffice", lambda: None)
    res = result(OFFICE / "report_2024.doc")
    assert res["status"] == "unsupported_format" and res["cells"] == {}
    assert "apt-get install -y libreoffice-writer-nogui" in res["errors"][0]


@needs_lo
def test_conversion_time_limit_kills_libreoffice(tmp_path):
    with pytest.raises(office.OfficeError, match="within 0.01 s"):
        office.convert((OFFICE / "report_2024.doc").read_bytes(), "doc", "docx", timeout_s=0.01)


# ----------------------------------------------------------------------------- spreadsheets

def report_xlsx(d, path: Path) -> None:
    """The report's three tables stacked on one sheet with their merges; amounts stored
    with 4 decimals but shown with 2 (the stored number is the value)."""
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "报告"
    ws.cell(1, 1, d["title"])
    top = 3
    for b in d["lay"].blocks:
        if b.kind != "table":
            continue
        t = b.table
        for c in t.cells:
            r, k = top + c.row, 1 + c.col
            ok, v = (False, None)
            if c.role == "value":
                from pipeline.values import parse_value
                ok, v = parse_value(c.text, "amount" if isinstance(d["rv"].values.get(c.key), float) else "count")
            cell = ws.cell(r, k, v if ok and v is not None and not c.text.startswith("+") else c.text)
            if isinstance(cell.value, float):
                cell.number_format = "0.00"
            if c.rowspan > 1 or c.colspan > 1:
                ws.merge_cells(start_row=r, start_column=k, end_row=r + c.rowspan - 1, end_column=k + c.colspan - 1)
        top += t.n_rows + 2
    wb.create_sheet("说明").cell(1, 1, "无")
    wb.save(path)


def test_xlsx_merged_ranges_and_numbers_as_stored(tmp_path):
    d = synth_report(5)
    f = tmp_path / "report.xlsx"
    report_xlsx(d, f)
    res = result(f)
    assert res["source"]["kind"] == "xlsx"
    assert wrong_cells(res, d["rv"].values) == []
    assert res["year"] == d["year"]
    doc = office.read_xlsx(f.read_bytes(), Document(Source(str(f))))
    merged = [c for c in doc.tables[0].cells if c.rowspan > 1 or c.colspan > 1]
    assert merged and all((c.row + 1, c.col) not in {(x.row, x.col) for x in doc.tables[0].cells}
                          for c in merged if c.rowspan > 1)


def test_displayed_text_kept_beside_the_stored_number(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"], ws["C1"] = "收取费用金额", 12.3456, 1234
    ws["B1"].number_format = "0.00"
    ws["C1"].number_format = "#,##0"
    ws.merge_cells("A2:C3")
    ws["A2"] = "合并"
    f = tmp_path / "x.xlsx"
    wb.save(f)
    doc = office.read_xlsx(f.read_bytes(), Document(Source(str(f))))
    cells = {(c.row, c.col): c for c in doc.tables[0].cells}
    assert cells[(0, 1)].text == "12.35" and cells[(0, 1)].readings == [(12.3456, 1.0)]
    assert cells[(0, 2)].text == "1,234" and cells[(0, 2)].readings == []   # the shown text is the number
    assert (cells[(1, 0)].rowspan, cells[(1, 0)].colspan) == (2, 3) and (1, 1) not in cells


@needs_lo
@pytest.mark.slow
def test_xls_read_with_its_merges(tmp_path):
    d = synth_report(5)
    src = tmp_path / "report.xlsx"
    report_xlsx(d, src)
    prof = tmp_path / "prof"
    subprocess.run([office.soffice(), f"-env:UserInstallation={prof.as_uri()}", "--headless", "--convert-to", "xls",
                    "--outdir", str(tmp_path / "xls"), str(src)], capture_output=True, timeout=300)
    res = result(tmp_path / "xls" / "report.xls")
    assert res["source"]["kind"] == "xls"
    assert wrong_cells(res, d["rv"].values) == []


# ----------------------------------------------------------------------------- web pages

@pytest.mark.parametrize("style", [
    {"markup": "p_cells", "layout_table": False, "chrome": True, "encoding": "gbk_nometa", "container": "html"},
    {"markup": "div", "layout_table": True, "chrome": True, "encoding": "gbk", "container": "mhtml"},
    {"markup": "table", "layout_table": True, "chrome": True, "encoding": "utf-8", "container": "mhtml"},
])
def test_saved_web_pages_every_cell_right(tmp_path, style):
    import numpy as np
    from training.synth.render_html import render_html
    d = synth_report(7)
    data, suffix, boxes = render_html(d["lay"], d["year"], d["agency"], style, np.random.default_rng(1))
    if style["encoding"] == "gbk_nometa":
        assert b"charset" not in data and "自然人".encode("gbk") in data
    f = tmp_path / f"page{suffix}"
    f.write_bytes(data)
    res = result(f)
    assert res["source"]["kind"] == suffix.lstrip(".")
    assert wrong_cells(res, d["rv"].values) == []
    assert (res["agency"], res["year"]) == (d["agency"], d["year"])
    k = next(iter(boxes))
    assert [res["cells"][k]["page"], *res["cells"][k]["bbox"]] == boxes[k]


def test_gbk_page_without_meta_and_portal_chrome_dropped(tmp_path):
    page = ("<html><body><div class='nav'><a href='/'>首页</a> <a href='/a'>年度报告</a> <a>1</a> <a>2</a>"
            " <a>3</a> <a>4</a></div><h1>某县统计局2022年政府信息公开工作年度报告</h1>"
            "<table><tr><td><p>新收政府信息</p><p>公开申请数量</p></td><td><p>7</p></td></tr></table>"
            "<div id='footer'>电话：0551-1234567 访问量：99999</div></body></html>")
    f = tmp_path / "page.htm"
    f.write_bytes(page.encode("gbk"))
    from pipeline.read import read
    doc = read(f)
    assert doc.source.kind == "html" and any("gb18030" in w for w in doc.warnings)
    assert "年度报告" in doc.text and "访问量" not in doc.text and "首页" not in doc.text
    [t] = doc.tables
    assert [c.text for c in t.cells] == ["新收政府信息公开申请数量", "7"]
    assert (doc.year, doc.agency) == (None, None)   # set by classify, from doc.text
    from pipeline.classify import read_title
    assert read_title(doc.text) == ("某县统计局", 2022)


# ----------------------------------------------------------------------------- bad files

def test_corrupt_and_protected_office_files_fail_clearly_and_the_batch_goes_on(tmp_path):
    from pipeline.batch import run_batch
    pytest.importorskip("docx")
    from training.synth.render_docx import render_docx
    d = synth_report(3)
    good, _ = render_docx(d["lay"], d["year"], {})
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.docx").write_bytes(good)
    (folder / "truncated.docx").write_bytes(good[: len(good) // 2])
    (folder / "notword.docx").write_bytes(docx_bytes("<w:p>")[:-40] + b"garbage")
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04" + os.urandom(300))
    (folder / "empty_ole.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    for name in ("protected.docx", "protected.xlsx"):
        shutil.copy(OFFICE / name, folder / name)
    out = tmp_path / "out"
    s = run_batch([folder], out, workers=1, time_limit=120, progress=False)
    res = {}
    for p in out.glob("*.json"):
        if p.name != "run_summary.json":
            r = json.loads(p.read_text(encoding="utf-8"))
            validate(r)
            res[Path(r["source"]["path"]).name] = r
    assert s.documents == 7 and set(res) == {p.name for p in folder.iterdir()}
    assert res["good.docx"]["status"] in ("ok", "needs_review") and not wrong_cells(res["good.docx"], d["rv"].values)
    for name in ("protected.docx", "protected.xlsx"):
        assert res[name]["status"] == "failed" and "password-protected" in res[name]["errors"][0]
    for name, word in (("truncated.docx", "corrupt"), ("notword.docx", "corrupt"), ("broken.xlsx", "corrupt"),
                       ("empty_ole.doc", "not a Word")):
        assert res[name]["status"] == "failed" and word in " ".join(res[name]["errors"]), (name, res[name]["errors"])


def test_docx_and_html_renditions_are_deterministic(tmp_path):
    pytest.importorskip("docx")
    from training.synth.build import load_config, make_document
    cfg = load_config("configs/synth.yaml")
    for out in (tmp_path / "a", tmp_path / "b"):
        make_document("t0", [int(cfg["seed"]), 2, 11], cfg, out, ["docx", "html"])
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert any(f.endswith(".docx") for f in files) and any(f.endswith((".html", ".mhtml")) for f in files)
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_div_grid_keeps_its_header_row_and_drops_the_portal_header(tmp_path):
    page = ('<html><head><meta charset="utf-8"></head><body><div class="header">某市政府门户网站 首页</div>'
            "<h2>某县统计局2022年政府信息公开工作年度报告</h2>"
            '<div class="tb" role="table"><div class="row head"><div class="cell">项目</div><div class="cell">数量</div>'
            '</div><div class="row"><div class="cell">新收政府信息公开申请数量</div><div class="cell"><p>7</p></div>'
            "</div></div><footer>电话 12345</footer></body></html>")
    f = tmp_path / "div.html"
    f.write_text(page, encoding="utf-8")
    from pipeline.read import read
    doc = read(f)
    assert doc.text == "某县统计局2022年政府信息公开工作年度报告"
    [t] = doc.tables
    assert [(c.row, c.col, c.text) for c in t.cells] == [(0, 0, "项目"), (0, 1, "数量"),
                                                         (1, 0, "新收政府信息公开申请数量"), (1, 1, "7")]


@pytest.mark.parametrize("suffix", [".docx", ".xlsx", ".mhtml"])
def test_mutated_office_files_never_raise(tmp_path, suffix):
    import random
    import openpyxl
    if suffix == ".docx":
        data = docx_bytes(_p("某区2021年政府信息公开工作年度报告") + "<w:tbl><w:tr>" + _tc(_p("甲"), span=2)
                          + "</w:tr></w:tbl>")
    elif suffix == ".xlsx":
        wb = openpyxl.Workbook()
        wb.active["A1"], wb.active["B1"] = "新收政府信息公开申请数量", 3
        wb.active.merge_cells("A2:B2")
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    else:
        data = (b'MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary="b"\r\n\r\n--b\r\n'
                b"Content-Type: text/html; charset=gb2312\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                + "<table><tr><td>新收</td><td>3</td></tr></table>".encode("gbk") + b"\r\n--b--\r\n")
    rng = random.Random(16)
    for i in range(25):
        b = bytearray(data)
        if i % 3 == 0:
            b = b[: rng.randrange(1, len(b))]
        for _ in range(rng.randrange(1, 12)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        f = tmp_path / f"m{i}{suffix}"
        f.write_bytes(bytes(b))
        r = to_result(extract(f))
        validate(r)
        assert r["status"] != "failed" or r["errors"]
        assert not any(e.startswith("could not read:") for e in r["errors"]), r["errors"]   # no reader crash


def test_docx_automatic_numbering_is_written_out():
    numbering = ('<w:numbering xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                 '<w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
                 '<w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
                 '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/>'
                 '<w:lvlText w:val="（%2）"/></w:lvl></w:abstractNum>'
                 '<w:num w:numId="3"><w:abstractNumId w:val="0"/></w:num></w:numbering>')

    def num(text, lvl):
        return (f'<w:p><w:pPr><w:numPr><w:ilvl w:val="{lvl}"/><w:numId w:val="3"/></w:numPr></w:pPr>'
                f"<w:r><w:t>{text}</w:t></w:r></w:p>")
    body = num("总体情况", 0) + num("主动公开", 0) + "<w:tbl><w:tr>" + _tc(num("予以公开", 1)) + _tc(_p("3")) + \
        "</w:tr><w:tr>" + _tc(num("部分公开", 1)) + _tc(_p("1")) + "</w:tr></w:tbl>"
    buf = io.BytesIO(docx_bytes(body))
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("word/numbering.xml", numbering)
    doc = office.read_docx(buf.getvalue(), Document(Source("n.docx")))
    assert doc.text.splitlines() == ["一、总体情况", "二、主动公开"]
    assert [c.text for c in doc.tables[0].cells] == ["（一）予以公开", "3", "（二）部分公开", "1"]


def test_batch_inputs_take_office_files_and_web_archives(tmp_path):
    from pipeline.inputs import effective_suffix, find_inputs, sniff
    for name in ("a.docx", "b.WPS", "c.xls", "d.et", "e.mhtml", "f.rtf", "g.odt"):
        (tmp_path / name).write_bytes(b"x")
    skipped = []
    assert [p.name for p in find_inputs([tmp_path], skipped=skipped)] == \
        ["a.docx", "b.WPS", "c.xls", "d.et", "e.mhtml", "f.rtf", "g.odt"] and not skipped
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0") == "ole" and sniff(b"{\\rtf1\\ansi") == "rtf"
    assert effective_suffix(Path("x.doc"), "ole") == ".doc"
    assert effective_suffix(Path("x.doc"), "html") == ".html"     # a portal's "doc" that is a web page
    assert effective_suffix(Path("x.doc"), "rtf") == ".doc"       # the reader tells RTF by its content
    assert effective_suffix(Path("x.bin"), "rtf") == ".rtf"
    assert effective_suffix(Path("x.mht"), "mhtml") == ".mht"


def test_eval_office_scores_each_kind_for_make_bench(tmp_path):
    """The figures `make bench` prints for the Word and web-page kinds come from one call."""
    from pipeline.run import Settings
    from training import eval_office
    from training.synth.build import load_config
    res = eval_office.evaluate(1, tmp_path, {"docx", "html"}, load_config("configs/synth.yaml"), Settings(),
                               progress=False)
    assert set(res["kinds"]) == {"docx", "html"}
    for g in res["kinds"].values():
        assert g["documents"] == 1 and g["cells"] > 100 and g["cells_right"] == 1.0
    md = eval_office.table(res)
    assert "| docx | gouji's generator | 1 | 100.00% | 0 | 0 | 1 / 1 |" in md
