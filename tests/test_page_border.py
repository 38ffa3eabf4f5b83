"""Black page borders and corners (pipeline/page_border.py): a black region at the page's
edge that touches a ruled table no longer joins the table's grid (its outline passed for
rules, the table ran to the page's edge); a page without one is unchanged; what is printed
(a bold title, a punched hole, the table) is never taken for a border."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline import grid, page_border
from pipeline.page_border import BORDER_DOUBT, paint_out
from pipeline.pdf import read_image
from tablefix import page_tables, scanned_page

PX = 200 / 72          # tablefix.scan renders at 200 dpi; boxes are in points


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    return scanned_page(tmp_path_factory.mktemp("border"))


ON = {**page_border.settings(), "enabled": True}     # shipped off (configs/grid.yaml): tested on


def border_mask(grey, px):
    return page_border.border_mask(grey, px, ON)


def test_off_by_default_nothing_is_masked(page):
    grey, _ = page
    g = grey.copy()
    g[:, 1400:] = 12
    assert page_border.settings()["enabled"] or page_border.border_mask(g, PX) is None


def _structure(cells) -> dict:
    return {(c.row, c.col): (c.rowspan, c.colspan) for c in cells}


def _truth_structure(truth) -> dict:
    return {(c["row"], c["col"]): (c["rowspan"], c["colspan"]) for c in truth}


def _table_right(truth) -> int:
    return round(max(c["bbox"][2] for c in truth) * PX)


def _masked_tables(grey):
    m = border_mask(grey, PX)
    return m, page_tables(paint_out(grey, m) if m is not None else grey, PX)


def test_a_page_without_a_border_is_unchanged(page):
    grey, truth = page
    assert border_mask(grey, PX) is None
    [(bbox, cells, _, _)] = page_tables(grey, PX)
    assert _structure(cells) == _truth_structure(truth)


def test_a_black_band_touching_the_table_leaves_its_grid_whole(page):
    grey, truth = page
    [(clean_bbox, _, _, _)] = page_tables(grey, PX)
    for start in (_table_right(truth) - 20, _table_right(truth)):   # over its last rule, and at it
        g = grey.copy()
        g[:, start:] = 12                                            # a dark lid at the right side
        m, [(bbox, cells, _, _)] = _masked_tables(g)
        assert m is not None and m[:, -1].all() and not m[:, :start - 10].any()
        assert _structure(cells) == _truth_structure(truth)
        assert abs(bbox[1] - clean_bbox[1]) <= 4 and abs(bbox[3] - clean_bbox[3]) <= 4   # not the page's height


def test_a_black_corner_running_into_the_table_does_not_cut_it(page):
    grey, truth = page
    H, W = grey.shape
    [(clean_bbox, clean, _, _)] = page_tables(grey, PX)
    yy, xx = np.mgrid[0:H, 0:W]
    corner = ((W - 1 - xx) / (0.3 * W)) ** 2 + (yy / (0.18 * H)) ** 2 <= 1   # over the header's last column
    g = grey.copy()
    g[corner] = 12
    m, [(bbox, cells, _, _)] = _masked_tables(g)
    assert m is not None and m[corner].mean() > 0.95
    # the table keeps its own box (the corner's outline ran it up to the page's top) ...
    assert all(abs(a - b) <= 6 for a, b in zip(bbox, clean_bbox))
    # ... and every cell the corner does not cover, with its row, column and spans
    free = {(c.row, c.col, c.rowspan, c.colspan) for c in clean if not corner[c.y0:c.y1, c.x0:c.x1].any()}
    got = {(c.row, c.col, c.rowspan, c.colspan) for c in cells}
    assert len(free) > 80 and free <= got


def test_speckle_fading_out_of_a_corner_is_masked_with_its_solid_part(page):
    grey, _ = page
    H, W = grey.shape
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    d = np.hypot(xx, H - 1 - yy) / np.hypot(W, H)          # bottom-left corner
    p = np.clip((0.35 - d) / 0.2, 0, 1)                    # solid near it, speckle out to 0.35
    g = grey.copy()
    g[rng.random((H, W)) < p] = 0
    m = border_mask(g, PX)
    assert m is not None and m[H - 1, 0] and m[d < 0.12].mean() > 0.95
    assert not m[d > 0.4].any()


def test_printed_things_at_the_edge_are_not_borders(page):
    grey, _ = page
    g = grey.copy()
    for y in (300, 1200, 2000):                             # punched holes at the margin
        cv2.circle(g, (25, y), 18, 0, -1)
    cv2.putText(g, "ANNUAL REPORT 2023", (160, 120), cv2.FONT_HERSHEY_SIMPLEX, 3.0, 0, 14)   # a bold title
    g[2310:2339, 300:1300] = 0                              # a thin dark edge strip (a fax streak's width)
    assert border_mask(g, PX) is None


def test_the_grid_stage_paints_the_border_out_and_doubts_the_cells_it_covered(tmp_path, page, monkeypatch):
    monkeypatch.setattr(page_border, "settings", lambda: ON)
    monkeypatch.setattr(grid, "border_settings", lambda: ON)
    grey, truth = page
    right = _table_right(truth)
    g = grey.copy()
    g[:, right - 20:] = 12                                  # over the last column's right rule
    cv2.imwrite(str(tmp_path / "b.png"), g)
    doc = read_image(tmp_path / "b.png")
    grid.recover(doc, None)
    [t] = doc.tables
    assert _structure(t.cells) == _truth_structure(truth)
    doubted = {(c.row, c.col) for c in t.cells if BORDER_DOUBT in c.doubts}
    last = max(c["col"] + c["colspan"] for c in truth) - 1
    assert doubted and all(c.col + c.colspan - 1 == last for c in t.cells if (c.row, c.col) in doubted)
