"""One `sniff` (pipeline/inputs.py) for the batch and the read stage, pinned on the inputs
where the two old functions (read.sniff(data, suffix), inputs.sniff(head)) agreed and
where they differed: each row keeps both old answers beside the one kept."""
import io
import random
import zipfile
from pathlib import Path

import pytest

from pipeline import read
from pipeline.inputs import effective_suffix, sniff


def _zip(name: str) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(name, "<x/>")
    return b.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
BMP = (b"BM" + (70).to_bytes(4, "little") + b"\0\0\0\0" + (54).to_bytes(4, "little") + (40).to_bytes(4, "little")
       + b"\x02\0\0\0" * 2)
_RNG = random.Random(7)
RAND = bytes(_RNG.randrange(256) for _ in range(600))
REPORT = "二、主动公开政府信息情况\t新制发件数\t3\n"

# id, data, suffix, old read.sniff, old inputs.sniff, the answer kept ("image" was read's
# word for png/jpg/tif/bmp)
CASES = [
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", ".pdf", "pdf", "pdf", "pdf"),
    ("pdf_junk_before_header", b"HTTP/1.1 200 OK\r\n\r\n%PDF-1.4\n", ".pdf", "text", "pdf", "pdf"),
    ("pdf_encrypted_head", b"%PDF-1.6\n1 0 obj<</Filter/Standard/V 4/R 4>>\ntrailer<</Encrypt 1 0 R>>", ".pdf",
     "pdf", "pdf", "pdf"),
    ("pdf_named_png", b"%PDF-1.5\n", ".png", "pdf", "pdf", "pdf"),
    ("png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", ".png", "image", "png", "png"),
    ("png_truncated_signature", b"\x89PNG\x00\x00", ".png", "image", "binary", "binary"),
    ("jpeg", b"\xff\xd8\xff\xe0\0\x10JFIF\0", ".jpg", "image", "jpg", "jpg"),
    ("jpeg_named_pdf", b"\xff\xd8\xff\xe1\0\x10Exif\0", ".pdf", "image", "jpg", "jpg"),
    ("tiff_le", b"II*\x00\x08\0\0\0", ".tif", "image", "tif", "tif"),
    ("tiff_be", b"MM\x00*\0\0\0\x08", ".tiff", "image", "tif", "tif"),
    ("bmp", BMP, ".bmp", "image", "bmp", "bmp"),
    ("bmp_without_suffix", BMP, "", "text", "bmp", "bmp"),
    ("text_starting_BM", "BM公司2021年政府信息公开工作年度报告\n".encode(), ".txt", "text", "text", "text"),
    ("docx_zip", _zip("word/document.xml"), ".docx", "zip", "zip", "zip"),
    ("xlsx_zip", _zip("xl/workbook.xml"), ".xlsx", "zip", "zip", "zip"),
    ("ole_doc", OLE, ".doc", "ole", "ole", "ole"),
    ("ole_xls", OLE, ".xls", "ole", "ole", "ole"),
    ("ole_short_signature", b"\xd0\xcf\x11\xe0\x00\x00\x00\x00", ".doc", "ole", "binary", "binary"),
    ("rtf", b"{\\rtf1\\ansi\\ansicpg936 ", ".doc", "rtf", "rtf", "rtf"),
    ("html", b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table>", ".html", "html", "html", "html"),
    ("html_utf8_bom", b"\xef\xbb\xbf<html><body><table></table>", ".htm", "html", "html", "html"),
    ("html_utf16_bom", "\ufeff<html><body><table></table>".encode("utf-16-le"), ".html", "html", "text", "html"),
    ("html_utf16_bom_as_txt", "\ufeff<html><body><table></table>".encode("utf-16-le"), ".txt", "text", "text",
     "html"),
    ("html_fragment_no_tag", "<p>二、主动公开政府信息情况</p>".encode(), ".html", "html", "text", "html"),
    ("html_with_stray_nul", b"<html><body>\x00<table>", ".html", "html", "binary", "html"),
    ("html_table_in_txt", "<table><tr><td>新制发件数</td></tr></table>".encode(), ".txt", "html", "html", "html"),
    ("mhtml", b"From: <Saved by Blink>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related;\r\n", ".mhtml",
     "mhtml", "mhtml", "mhtml"),
    ("utf8_text", REPORT.encode(), ".txt", "text", "text", "text"),
    ("gbk_text", REPORT.encode("gbk"), ".txt", "text", "text", "text"),
    ("utf16_text_bom", REPORT.encode("utf-16"), ".txt", "text", "text", "text"),
    ("utf16_text_no_bom", REPORT.encode("utf-16-le"), ".txt", "text", "binary", "binary"),
    ("markdown", "| 项目 | 数量 |\n|---|---|\n".encode(), ".md", "markdown", "text", "text"),
    ("empty", b"", ".txt", "text", "empty", "empty"),
    ("whitespace", b"  \n\t\n", ".txt", "text", "text", "text"),
    ("random_bytes", RAND, ".pdf", "text", "binary", "binary"),
    ("random_bytes_no_suffix", RAND, "", "text", "binary", "binary"),
]


@pytest.mark.parametrize("cid,data,suffix,old_read,old_inputs,kept", CASES, ids=[c[0] for c in CASES])
def test_one_sniff(cid, data, suffix, old_read, old_inputs, kept):
    assert sniff(data, suffix) == kept
    # the batch sees only the first 4 kB and no suffix: the same answer, except that a
    # .html suffix makes a tagless page html
    assert sniff(data[:4096]) == ("text" if kept == "html" and cid == "html_fragment_no_tag" else kept)
    agreed = old_read == old_inputs or old_read == "image" and old_inputs in ("png", "jpg", "tif", "bmp")
    if agreed and cid != "html_utf16_bom_as_txt":   # a UTF-16 page is now found by its tags, as a UTF-8 one
        assert kept == old_inputs                   # where the two agreed, nothing changed


def test_every_difference_is_decided():
    differed = [c for c in CASES if c[3] != c[4] and not (c[3] == "image" and c[4] in ("png", "jpg", "tif", "bmp"))]
    assert len(differed) >= 12        # the rows the docstring of inputs.sniff documents
    assert {c[5] for c in differed} <= {"pdf", "bmp", "binary", "html", "text", "empty"}


def test_read_stage_uses_the_one_sniff(tmp_path):
    """The read stage acts on the kept answers: a BMP without suffix is an image, a UTF-16
    page is a web page, random bytes fail with decode_text's reason, .md stays markdown."""
    def run(name, data):
        p = tmp_path / name
        p.write_bytes(data)
        return read.read(p)
    page = "\ufeff<html><body><table><tr><td>新制发件数</td><td>3</td></tr></table></body></html>"
    doc = run("page.html", page.encode("utf-16-le"))
    assert doc.source.kind == "html" and doc.status != "failed"
    doc = run("noise.pdf", RAND)
    assert doc.status == "failed" and "binary data" in doc.errors[0]
    doc = run("t.md", "| 项目 | 数量 |\n|---|---|\n| 新制发件数 | 3 |\n".encode())
    assert doc.source.kind == "markdown"
    doc = run("w.txt", b" \n\n ")
    assert doc.status == "failed" and doc.errors == ["empty file"]
    from PIL import Image
    buf = io.BytesIO()
    Image.new("L", (40, 30), 255).save(buf, format="BMP")
    doc = run("scan", buf.getvalue())
    assert "binary data" not in " ".join(doc.errors) and doc.source.kind != "text"


def test_batch_suffix_for_kept_answers():
    assert effective_suffix(Path("x"), "bmp") == ".bmp"
    assert effective_suffix(Path("x.pdf"), "binary") == ".pdf"      # corrupt: left to the reader
    assert effective_suffix(Path("x.html"), "text") == ".html"
