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


@pytest.fixture(scope="module")
def near_level(tmp_path_factory):
    """The test table scanned 0.12° off: the search's angle lies in `check_band_deg`."""
    import cv2
    tmp = tmp_path_factory.mktemp("lines_level")
    make_pdf(tmp / "t.pdf", seed=3, pages=1)
    scan(tmp / "t.pdf", tmp / "s.png", angle=0.12, noise=3, seed=1)
    return binarise(cv2.imread(str(tmp / "s.png"), cv2.IMREAD_GRAYSCALE))


def test_checked_takes_the_search_off_the_cliff_without_hough(pages, monkeypatch):
    """`method: checked` on a page skewed well past the turn threshold: the search's angle,
    and Hough is never run (it is the cost this saves)."""
    def no_hough(binv):
        raise AssertionError("Hough ran on a page far from the turn threshold")
    monkeypatch.setattr(deskew, "hough_skew", no_hough)
    for angle in (0.6, -1.3, -2.4):
        search = _skew(monkeypatch, pages[angle], method="search")
        assert _skew(monkeypatch, pages[angle], method="checked") == search


def test_checked_asks_hough_near_the_turn_threshold(near_level, monkeypatch):
    """Near the turn threshold Hough decides, as before: its angle comes back unchanged;
    with the band shut the search's own angle does."""
    search = _skew(monkeypatch, near_level, method="search")
    assert search == pytest.approx(-0.12, abs=0.03)
    monkeypatch.setattr(deskew, "hough_skew", lambda binv, memo=None: 0.0)
    assert _skew(monkeypatch, near_level, method="checked", check_band_deg=[0.03, 0.25]) == 0.0
    assert _skew(monkeypatch, near_level, method="checked", check_band_deg=[0.3, 0.3]) == search


@pytest.fixture(scope="module")
def turned_page(tmp_path_factory):
    """The test table scanned 0.6° off, upright and turned a quarter (landscape): two grey pages."""
    import cv2
    tmp = tmp_path_factory.mktemp("lines_turn")
    make_pdf(tmp / "t.pdf", seed=3, pages=1)
    out = []
    for rot in (0, 90):
        scan(tmp / "t.pdf", tmp / f"s{rot}.png", angle=0.6, noise=3, seed=1, rot90=rot)
        out.append(cv2.imread(str(tmp / f"s{rot}.png"), cv2.IMREAD_GRAYSCALE))
    return out


def test_profile_lines_follows_the_pages_turn_and_reads_the_cached_grid(turned_page):
    """training.profile_lines (the paired CPU and grid check of the `lines` stage) builds the
    grid of a page turned a quarter as of the upright page once it is given the turn the
    orientation stage found (not before); and it reads a cached page's own grid in the form
    it compares (a table continued from another page is not this page's; a cell less differs)."""
    from pipeline.model import Cell, Page, Table
    from training.profile_lines import _cached_grid, _found, lines_steps
    upright, turned = turned_page
    pt_px = 200 / 72
    want = _found(lines_steps(upright, pt_px)[1]["found"])
    assert want and len(want[0][1]) > 20
    assert _found(lines_steps(turned, pt_px)[1]["found"]) != want
    found = lines_steps(turned, pt_px, 270)[1]["found"]        # PIL turned it 90° counter-clockwise
    assert _found(found) == want
    tables = [Table(cells=[Cell(row=c.row, col=c.col, rowspan=c.rowspan, colspan=c.colspan) for c in raw],
                    strategy=how, page=1) for _, raw, how, _ in found]
    cached = {1: Page(number=1, tables=tables + [Table(cells=[Cell(row=0, col=0)], page=2)])}
    assert _cached_grid(cached, 1) == want
    tables[0].cells.pop()
    assert _cached_grid(cached, 1) != want


@pytest.fixture(scope="module")
def crisp_and_faint(tmp_path_factory):
    """The test table scanned 1.3° off, grey: as printed, and faded to a quarter of its ink's
    darkness (a thinned scan's strokes stand ~35–85 grey levels under the paper)."""
    import cv2
    tmp = tmp_path_factory.mktemp("lines_faint")
    make_pdf(tmp / "t.pdf", seed=3, pages=1)
    scan(tmp / "t.pdf", tmp / "s.png", angle=1.3, noise=3, seed=1)
    grey = cv2.imread(str(tmp / "s.png"), cv2.IMREAD_GRAYSCALE)
    faint = (255 - (255 - grey.astype(np.float32)) * 0.25).astype(np.uint8)
    return grey, faint


def test_ink_contrast_tells_a_faint_page_from_a_printed_one(crisp_and_faint):
    grey, faint = crisp_and_faint
    assert deskew.ink_contrast(grey, binarise(grey)) > 150
    assert deskew.ink_contrast(faint, binarise(faint)) < 85
    blank = np.full((100, 100), 250, np.uint8)
    assert deskew.ink_contrast(blank, binarise(blank)) == 255.0     # no ink: never faint


def test_checked_asks_hough_on_a_faint_page_only(crisp_and_faint, monkeypatch):
    """`grid.skew.thin_contrast`: on a page whose ink stands less than that under the paper
    Hough decides (its grid as before: a thinned scan's cells tip at their ink thresholds when
    the page turns a few hundredths of a degree differently, docs/speed.md session 28f); on a
    printed page the search's angle, Hough never run; 0 turns the test off."""
    grey, faint = crisp_and_faint
    monkeypatch.setattr(deskew, "hough_skew", lambda binv: 99.0)
    for k, v in dict(method="checked", thin_contrast=85, check_band_deg=[0.03, 0.25]).items():
        monkeypatch.setitem(deskew.skew_config(), k, v)
    assert deskew.estimate_skew(binarise(faint), faint) == 99.0
    a = deskew.estimate_skew(binarise(grey), grey)
    assert a == pytest.approx(-1.3, abs=0.05)
    monkeypatch.setitem(deskew.skew_config(), "thin_contrast", 0)
    assert deskew.estimate_skew(binarise(faint), faint) == pytest.approx(-1.3, abs=0.1)


def test_moved_documents_lists_only_scans_whose_table_pages_turn_or_grid_differ():
    """profile_lines --changed: a scan is regridded when a table page's grid differs or its applied
    turn does (under turn_min both are 0: not turned either way); text pages and the cache's
    3-decimal rounding move nothing."""
    from training.profile_lines import moved_documents

    def row(f, base, fast, table=True, same=True):
        return dict(file=f, angle_base=base, angle_fast=fast, table=table, same_grid=same)
    rows = [row("a.pdf", 0.46, 0.4712),                 # turned 0.011° apart: crops resampled
            row("b.pdf", 0.0, 0.06), row("b.pdf", -0.912, -0.9121),   # both unturned; rounding
            row("c.pdf", 1.2, 1.7, table=False),        # a text page
            row("d.pdf", 2.44, 2.44, same=False),       # same turn, another grid
            row("e.pdf", 0.0, 0.11)]                    # turned only by the candidate
    assert moved_documents(rows, 0.1) == ["a.pdf", "d.pdf", "e.pdf"]
    assert moved_documents(rows, 0.2) == ["a.pdf", "d.pdf"]
