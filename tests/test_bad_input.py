"""Bad input: every file gets a result with a clear status and reason; the batch completes."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from pipeline.batch import run_batch
from pipeline.export import validate

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "tests" / "fixtures" / "seeds").glob("*.txt"))


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def huge_png(path: Path, w: int = 20000, h: int = 20000) -> None:
    """A valid w×h PNG, cheap to make: 1-bit grey, highly compressible (~0.3 s, 260 kB)."""
    raw = (b"\x00" + b"\xff" * ((w + 7) // 8)) * h
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                     + _png_chunk(b"IDAT", zlib.compress(raw, 1)) + _png_chunk(b"IEND", b""))


def blank_pdf(path: Path, pages: int) -> None:
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(595, 842)
    pdf.save(str(path))


def encrypted_pdf(path: Path, text: str = "2021 annual report") -> None:
    pytest.importorskip("reportlab")
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(str(path), encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    c.drawString(100, 700, text)
    c.showPage()
    c.save()


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    d = tmp / "in"
    d.mkdir()
    shutil.copy(SEEDS[0], d / "good.txt")
    shutil.copy(SEEDS[0], d / "good copy.txt")                          # duplicate under another name
    (d / "corrupt.pdf").write_bytes(b"%PDF-1.5\n" + os.urandom(3000))
    encrypted_pdf(d / "encrypted.pdf")
    blank_pdf(d / "zero_pages.pdf", 0)
    blank_pdf(d / "not_a_report_300p.pdf", 300)
    huge_png(d / "huge_20000x20000.png")
    shutil.copy(SEEDS[1], d / "text_named.pdf")                         # wrong extension: text as .pdf
    encrypted_pdf(d / "pdf_named.txt", "another one")                  # wrong extension: PDF as .txt
    (d / "gone.pdf").symlink_to(tmp / "nowhere.pdf")                   # unreadable: dangling link
    (d / "empty.txt").write_bytes(b"")
    for name, data in {"notes.csv": b"a,b\n1,2\n", "archive.zip": b"PK\x03\x04" + b"\0" * 60,
                       ".DS_Store": b"\0\0\0\1Bud1", "data.json": b"{}"}.items():
        (d / name).write_bytes(data)                                   # a folder with non-documents
    extra = tmp / "explicit.zip"                                      # a non-document named explicitly
    extra.write_bytes(b"PK\x03\x04" + b"\0" * 60)
    out = tmp / "out"
    s = run_batch([d, extra], out, workers=2, time_limit=60, progress=False)
    res = {}
    for p in out.glob("*.json"):
        if p.name != "run_summary.json":
            r = json.loads(p.read_text(encoding="utf-8"))
            res[Path(r["source"]["path"]).name] = r
    return s, res, out


def _failed(res, name, *words):
    r = res[name]
    validate(r)
    assert r["status"] == "failed", (name, r["status"], r["errors"])
    reason = " ".join(r["errors"]).lower()
    assert reason and any(w in reason for w in words), (name, reason)
    return reason


def test_batch_completes_with_a_result_per_document(bad_run):
    s, res, out = bad_run
    expected = {"good.txt", "good copy.txt", "corrupt.pdf", "encrypted.pdf", "zero_pages.pdf",
                "not_a_report_300p.pdf", "huge_20000x20000.png", "text_named.pdf", "pdf_named.txt", "gone.pdf",
                "empty.txt", "explicit.zip"}
    assert set(res) == expected
    assert s.documents == len(expected) and sum(s.counts.values()) == len(expected)
    assert res["good.txt"]["status"] in ("ok", "needs_review") and res["good.txt"]["cells"]
    summ = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    assert {Path(f["source"]).name for f in summ["failures"]} >= {"corrupt.pdf", "gone.pdf", "explicit.zip"}


def test_corrupt_encrypted_zero_page_pdfs(bad_run):
    _, res, _ = bad_run
    _failed(res, "corrupt.pdf", "pdf")
    _failed(res, "encrypted.pdf", "password", "encrypt")
    _failed(res, "zero_pages.pdf", "no pages")


def test_long_pdf_that_is_not_a_report(bad_run):
    _, res, _ = bad_run
    r = res["not_a_report_300p.pdf"]
    assert r["status"] in ("failed", "no_tables"), r["status"]
    if r["status"] == "failed":
        assert "300 pages" in r["errors"][0]


def test_huge_image(bad_run):
    _, res, _ = bad_run
    _failed(res, "huge_20000x20000.png", "too large")


def test_wrong_extension_is_read_by_content(bad_run):
    _, res, _ = bad_run
    r = res["text_named.pdf"]
    assert r["status"] in ("ok", "needs_review") and r["cells"] and r["source"]["kind"] != "digital_pdf"
    assert any("extension" in w for w in r["warnings"])
    _failed(res, "pdf_named.txt", "password", "encrypt")
    assert "content is pdf" in res["pdf_named.txt"]["warnings"][0]


def test_duplicates_under_two_names(bad_run):
    s, res, _ = bad_run
    a, b = res["good copy.txt"], res["good.txt"]   # "good copy.txt" sorts first: it is the one read
    assert b["batch"]["duplicate_of"].endswith("good copy.txt") and not a["batch"].get("duplicate_of")
    assert a["cells"] == b["cells"] and a["source"]["sha256"] == b["source"]["sha256"]
    assert s.duplicates == 1


def test_unreadable_and_empty_and_explicit_non_document(bad_run):
    _, res, _ = bad_run
    _failed(res, "gone.pdf", "cannot read", "not found")
    assert res["gone.pdf"]["batch"]["retry"] is True          # retried next run (the file may come back)
    r = res["empty.txt"]
    assert r["status"] in ("failed", "no_tables") and r["errors"]
    _failed(res, "explicit.zip", "not a supported document")


def test_folder_non_documents_are_listed_with_reasons(bad_run):
    s, _, out = bad_run
    reasons = {Path(x["path"]).name: x["reason"] for x in s.skipped}
    assert set(reasons) == {"notes.csv", "archive.zip", ".DS_Store", "data.json"}
    assert "zip" in reasons["archive.zip"] and reasons[".DS_Store"] == "hidden file"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "notes.csv" in html


def test_permission_denied(tmp_path):
    """chmod 000: as a normal user directly; as root (which reads anything) in a process whose
    capabilities to bypass file permissions are dropped (util-linux setpriv)."""
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEEDS[2], d / "ok.txt")
    locked = d / "locked.txt"
    locked.write_text(SEEDS[2].read_text(encoding="utf-8") + "\n(locked)\n", encoding="utf-8")
    locked.chmod(0)
    out = tmp_path / "out"
    if os.geteuid() != 0:
        run_batch([d], out, workers=1, progress=False)
    else:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("running as root and util-linux setpriv is missing: cannot make a file unreadable")
        code = ("import sys; from pipeline.batch import run_batch; "
                "run_batch([sys.argv[1]], sys.argv[2], workers=1, progress=False)")
        r = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", code,
                            str(d), str(out)], cwd=ROOT, timeout=120, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        if r.returncode != 0 and "setpriv" in r.stderr:
            pytest.skip(f"setpriv cannot drop capabilities here: {r.stderr[-300:]}")
        assert r.returncode == 0, r.stderr[-2000:]
    a = json.loads((out / "locked.json").read_text(encoding="utf-8"))
    assert a["status"] == "failed" and a["errors"] == ["cannot read file: permission denied"]
    assert a["batch"]["retry"] is True
    assert json.loads((out / "ok.json").read_text(encoding="utf-8"))["status"] in ("ok", "needs_review")
