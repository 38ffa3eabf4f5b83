"""PDF and image reading: rendering, text-layer trust, bad input never raises."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.pdf import read_image, read_pdf
from pipeline.run import Settings
from tablefix import make_pdf, scan


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pdf")
    f = {"digital": d / "digital.pdf", "scan_pdf": d / "scan.pdf", "png": d / "scan.png",
         "jpg": d / "scan.jpg", "tif": d / "two.tif", "two": d / "two.pdf"}
    make_pdf(f["digital"], seed=1)
    make_pdf(f["two"], seed=2, pages=2, n_rows=50)
    scan(f["digital"], f["scan_pdf"], angle=0.4, noise=4)
    scan(f["digital"], f["png"], noise=3)
    scan(f["digital"], f["jpg"], noise=3)
    scan(f["two"], f["tif"], noise=3)
    return f


def test_digital_pdf_text_layer_is_trusted(files):
    doc = read_pdf(files["digital"], Settings(dpi=100))
    assert doc.status == "ok" and doc.source.kind == "digital_pdf"
    p = doc.pages[0]
    assert p.unit == "pt" and p.text_layer == "trusted"
    assert abs(p.width - 595.3) < 1 and abs(p.height - 841.9) < 1
    assert p.image.dtype == np.uint8
    assert abs(p.image.shape[0] - p.height * 100 / 72) <= 1 and abs(p.image.shape[1] - p.width * 100 / 72) <= 1
    texts = "".join(w.text for w in p.words)
    assert "申请人情况" in texts and len(p.words) > 200
    # characters carry boxes in top-left page points, inside the page
    assert all(0 <= w.bbox[0] < w.bbox[2] <= p.width and 0 <= w.bbox[1] < w.bbox[3] <= p.height for w in p.words)
    assert "收到和处理政府信息公开申请情况" in doc.text


def test_scanned_pdf_has_no_text_layer(files):
    doc = read_pdf(files["scan_pdf"])
    assert doc.status == "ok" and doc.source.kind == "scanned_pdf"
    assert doc.pages[0].text_layer == "none" and doc.pages[0].words == []
    assert doc.pages[0].image.mean() > 200      # white page, dark ink


def test_garbled_text_layer_is_not_trusted(tmp_path):
    from reportlab.pdfgen import canvas
    from tablefix import _register
    _register()
    pdf = tmp_path / "garbled.pdf"
    c = canvas.Canvas(str(pdf))
    c.setFont("Helvetica", 12)      # the mojibake of a CJK font without a unicode map
    for i in range(10):
        c.drawString(50, 700 - 20 * i, "¹«¿ª¹¤×÷±¨¸æ Õþ¸®ÐÅÏ¢¹«¿ª")
    c.save()
    doc = read_pdf(pdf)
    assert doc.status == "ok"
    assert doc.pages[0].text_layer == "untrusted" and doc.source.kind == "scanned_pdf"
    assert any("text layer not used" in w for w in doc.warnings)


def test_partial_text_layer_over_a_scan_is_not_trusted(tmp_path, files):
    """An image-only page with a small OCR'd title: characters cover little of the ink."""
    from reportlab.pdfgen import canvas
    from tablefix import _register
    _register()
    pdf = tmp_path / "mixed.pdf"
    c = canvas.Canvas(str(pdf))
    c.drawImage(str(files["png"]), 0, 0, 595.27, 841.89)
    c.setFont("wqy", 14)
    c.drawString(60, 770, "三、收到和处理政府信息公开申请情况")
    c.save()
    doc = read_pdf(pdf)
    assert doc.pages[0].text_layer == "untrusted"


def test_images_png_jpeg_multipage_tiff(files):
    for key in ("png", "jpg"):
        doc = read_image(files[key])
        assert doc.status == "ok" and doc.source.kind == "image" and len(doc.pages) == 1
        assert doc.pages[0].unit == "px" and doc.pages[0].image.ndim == 2
    doc = read_image(files["tif"])
    assert doc.status == "ok" and [p.number for p in doc.pages] == [1, 2]


def test_red_seal_fades_out(tmp_path, files):
    png = tmp_path / "seal.png"
    scan(files["digital"], png, seal=True)
    doc = read_image(png)
    from PIL import Image
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    red = (rgb[:, :, 0] > 150) & (rgb[:, :, 1] < 100)
    assert red.sum() > 1000
    # red ink turns near-white (far above the binariser's ink level); black print stays black
    assert doc.pages[0].image[red].min() >= 230
    assert doc.pages[0].image.min() < 60


def test_bad_inputs_fail_with_a_reason(tmp_path, files):
    import pypdfium2 as pdfium
    from reportlab.pdfgen import canvas
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n garbage \n%%EOF")
    enc = tmp_path / "enc.pdf"
    c = canvas.Canvas(str(enc), encrypt="secret")
    c.drawString(100, 100, "hello")
    c.save()
    empty = tmp_path / "empty.pdf"
    pdfium.PdfDocument.new().save(str(empty))
    cases = [(read_pdf(corrupt), "not a readable PDF"), (read_pdf(enc), "encrypted"),
             (read_pdf(empty), "no pages"),
             (read_pdf(files["two"], Settings(max_pages=1)), "more than the limit"),
             (read_image(files["png"], Settings(max_pixels=1000)), "too large"),
             (read_image(corrupt), "not a readable image"),
             (read_pdf(tmp_path / "missing.pdf"), "cannot open")]
    for doc, why in cases:
        assert doc.status == "failed", why
        assert any(why in e for e in doc.errors), (why, doc.errors)
