"""The `lines` stage's cheap paths (issue #15) find what the costly ones find.

The page is real: a reportlab PDF rendered by pdfium, turned and noised by PIL, read back
as a scan (tests/tablefix.py)."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline import deskew
from pipeline.grid_cells import binarise
from tablefix import scan, make_pdf


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The test table scanned at three angles: {angle: binarised page}."""
    import cv2
    tmp = tmp_path_factory.mktemp("lines_speed")
    make_pdf(tmp / "t.pdf", seed=3, pages=1)
    out = {}
    for angle in (0.6, -1.3, -2.4):
        scan(tmp / "t.pdf", tmp / "s.png", angle=angle, noise=3, seed=1)
        out[angle] = binarise(cv2.imread(str(tmp / "s.png"), cv2.IMREAD_GRAYSCALE))
    return out


def _skew(monkeypatch, binv, **kw):
    for k, v in kw.items():
        monkeypatch.setitem(deskew.skew_config(), k, v)
    return deskew.estimate_skew(binv)


def test_long_blobs_keep_rules_and_drop_glyphs():
    """A rule (and a table's joined rules) stays whole; glyph-sized ink goes."""
    m = np.zeros((200, 400), np.uint8)
    m[50:52, 20:380] = 255                   # a long rule
    m[100:160, 200:202] = 255                # a vertical rule, 60 px
    for x in range(30, 180, 12):             # a line of 8-px glyphs
        m[120:128, x:x + 8] = 255
    out = deskew.long_blobs(m, 40)
    assert np.array_equal(out[50:52], m[50:52])
    assert out[100:160, 200:202].all()
    assert not out[120:128, 30:190].any()


@pytest.mark.parametrize("angle", [0.6, -1.3, -2.4])
def test_hough_on_long_blobs_reads_the_angle_of_the_whole_page(pages, monkeypatch, angle):
    """Hough on the rules only reads the page's skew as Hough on all its ink does (both
    within 0.1° of the truth), from far fewer voting pixels."""
    binv = pages[angle]
    full = _skew(monkeypatch, binv, method="hough", hough_min_blob_frac=0)
    fast = _skew(monkeypatch, binv, method="hough", hough_min_blob_frac=1 / 24)
    assert full == pytest.approx(-angle, abs=0.1)          # PIL turns counter-clockwise
    assert fast == pytest.approx(-angle, abs=0.1)
    assert fast == pytest.approx(full, abs=0.1)
    h, w = binv.shape
    import cv2
    small = (cv2.resize(binv, (w // 2, h // 2), interpolation=cv2.INTER_AREA) > 100).astype(np.uint8) * 255
    kept = deskew.long_blobs(small, min(w, h) / 24 / 2)
    assert np.count_nonzero(kept) < 0.7 * np.count_nonzero(small)


@pytest.mark.parametrize("angle", [0.6, -1.3, -2.4])
def test_search_reads_the_angle_closer_than_hough(pages, monkeypatch, angle):
    """The projection search (`grid.skew.method: search`, off: docs/speed.md, session 25a)
    is within 0.03° of the truth on the scanned table page."""
    assert _skew(monkeypatch, pages[angle], method="search") == pytest.approx(-angle, abs=0.03)
