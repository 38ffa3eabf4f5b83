"""The `lines` stage's cheaper routes give what the page-wide ones gave (issue #15, session 32c).

Each reference below is the code the stage ran before (main c0b2816), kept here to check the
new route against it on a real scanned page (tests/tablefix.py) and on random numbers."""
from __future__ import annotations

import random

import numpy as np
import pytest

from pipeline import grid_cells, grid_text
from pipeline.grid_cells import (RawCell, binarise, component_boxes, components, find_tables, line_masks, nearest,
                                 nearest_all, rule_mask)
from tablefix import make_pdf, scan


def _line_masks_before(binv: np.ndarray, scale_px: float):
    """line_masks as it was: the longest pieces from a page-wide labelling of `opened`, the
    7×7-grown rules page-wide, the kept components painted through the page's label image."""
    import cv2
    cfg = grid_cells.grid_config()
    h, w = binv.shape
    kx = max(int(w * cfg["line_kernel_frac"]), int(3.2 * scale_px * 10))
    hor = cv2.morphologyEx(binv, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (kx, 1)))
    bridge = cfg["bridge_px"]
    hor = cv2.morphologyEx(hor, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (bridge, 1)))
    ys = np.where(hor.sum(1) > 255 * kx)[0]
    gaps = np.diff(ys)
    gaps = gaps[gaps > 4]
    row_h = float(np.percentile(gaps, 10)) if len(gaps) else 20 * scale_px
    ky = int(max(cfg["vline_min_px"], min(0.7 * row_h, 13 * scale_px)))
    opened = cv2.morphologyEx(binv, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, ky)))
    ver = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, bridge)))
    n, lab, st = components(ver)
    k, plab, pst = components(opened)
    piece = np.zeros(n, int)
    for j in range(1, k):
        x, y, ww, hh, _a = pst[j]
        yy, xx = np.nonzero(plab[y:y + hh, x:x + ww] == j)
        i = lab[y + yy[0], x + xx[0]]
        piece[i] = max(piece[i], hh)
    hd = cv2.dilate(hor, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
    stack = cfg.get("stroke_stack", 0.5)
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, ww, hh, _a = st[i]
        if piece[i] >= 2.5 * ky:
            keep[i] = True
        elif piece[i] >= stack * hh or hh >= 2.5 * ky:
            touch = hd[y:y + hh, x:x + ww] & (lab[y:y + hh, x:x + ww] == i)
            rows = np.where(touch.any(1))[0]
            if piece[i] >= stack * hh:
                keep[i] = bool(len(rows))
            else:
                keep[i] = bool(len(rows)) and rows[0] <= 0.25 * hh and rows[-1] >= 0.75 * hh
    return hor, np.where(keep[lab], 255, 0).astype(np.uint8), keep[1:]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The test table scanned turned by 0.8° (rules and glyph strokes both in `opened`), binarised."""
    import cv2
    tmp = tmp_path_factory.mktemp("lines_same")
    make_pdf(tmp / "t.pdf", seed=5, pages=1)
    scan(tmp / "t.pdf", tmp / "s.png", angle=0.8, noise=4, blur=1, seed=2)
    return binarise(cv2.imread(str(tmp / "s.png"), cv2.IMREAD_GRAYSCALE))


def test_line_masks_as_before(page):
    """The same rule masks, pixel for pixel; the page has rules kept and strokes dropped, and
    strokes sent to the touch test (so each route of the loop is exercised)."""
    scale = 200 / 72
    hor, ver = line_masks(page, scale)
    hor0, ver0, keep = _line_masks_before(page, scale)
    assert keep.any() and not keep.all()
    assert np.array_equal(hor, hor0)
    assert ver.dtype == ver0.dtype == np.uint8
    assert np.array_equal(ver, ver0)
    assert np.count_nonzero(ver) > 0


def _drawn() -> np.ndarray:
    """Rules and strokes placed at the edges of the loop's tests (200 dpi): a rule; a lone
    stroke; a stroke whose opened ink (an even kernel's opening moves it down a pixel) starts
    3 px under a rule (its 7×7-grown rules just reach it); one a pixel lower (they do not); a column of two pieces (100 px and 40 px, bridged: its longest piece
    decides); a broken column touching the rules at both ends."""
    m = np.zeros((400, 600), np.uint8)
    m[50:52, 20:580] = 255
    m[350:352, 20:580] = 255
    m[50:352, 100:102] = 255
    m[100:140, 200:202] = 255
    m[53:93, 300:302] = 255
    m[54:94, 330:332] = 255
    m[120:220, 400:402] = 255
    m[230:270, 400:402] = 255
    for y in range(52, 300, 50):
        m[y:y + 40, 500:502] = 255
    m[302:350, 500:502] = 255
    return m


def test_line_masks_drawn_edges():
    """Each drawn case kept or dropped as before (and as it should be)."""
    m = _drawn()
    hor, ver = line_masks(m, 200 / 72)
    hor0, ver0, _ = _line_masks_before(m, 200 / 72)
    assert np.array_equal(hor, hor0) and np.array_equal(ver, ver0)
    kept = {x: bool(ver[:, x].any()) for x in (100, 200, 300, 330, 400, 500)}
    assert kept == {100: True, 200: False, 300: True, 330: False, 400: True, 500: True}


def test_find_tables_with_the_rule_mask(page):
    """Handing find_tables the rule mask the caller made gives the tables it makes itself."""
    import cv2
    hor, ver = line_masks(page, 200 / 72)
    rules = rule_mask(hor, ver)
    assert np.array_equal(rules, cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8)))

    def key(tables):
        return [(bb, sorted((c.x0, c.y0, c.x1, c.y1, c.row, c.col, c.rowspan, c.colspan) for c in cs))
                for bb, cs in tables]
    a, b = find_tables(hor, ver), find_tables(hor, ver, rules)
    assert a and key(a) == key(b)


def test_nearest_is_argmin():
    """nearest and nearest_all give np.argmin's index: the first of equally close bounds,
    for float bounds and integer (numpy) values, midway ties included."""
    rnd = random.Random(7)
    for _ in range(300):
        bounds = sorted(rnd.uniform(0, 500) for _ in range(rnd.randint(1, 12)))
        if rnd.random() < 0.3:
            bounds = [float(round(b)) for b in bounds]
        values = [np.int32(rnd.randint(-10, 510)) for _ in range(20)]
        values += [np.int32(round((a + b) / 2)) for a, b in zip(bounds, bounds[1:]) if (a + b) % 2 == 0]
        want = [int(np.argmin([abs(b - v) for b in bounds])) for v in values]
        assert [nearest(bounds, v) for v in values] == want
        assert nearest_all(bounds, values) == want
    assert nearest([10.0, 20.0], 15) == 0 and nearest_all([10.0, 20.0], [15]) == [0]
    with pytest.raises(ValueError):
        nearest([], 3)


def test_edge_users_counts_as_cell_by_cell():
    rnd = random.Random(3)
    for _ in range(100):
        cells = []
        for _ in range(rnd.randint(0, 30)):
            x0 = rnd.randint(0, 400)
            cells.append(RawCell(np.int32(x0), 0, rnd.choice([np.int32, int])(x0 + rnd.randint(5, 80)), 10))
        edges = sorted({c.x0 for c in cells} | {c.x1 for c in cells} | {rnd.randint(0, 480)})
        tol = rnd.choice([4.0, 6.3, 9.9])
        want = [sum(abs(c.x0 - e) <= tol or abs(c.x1 - e) <= tol for c in cells) for e in edges]
        assert grid_text.edge_users(edges, cells, tol) == want
    assert grid_text.edge_users([], [], 4.0) == []


def test_ink_contrast_as_np_median():
    """deskew.ink_contrast from histograms gives the np.median difference it gave (odd and
    even counts, a page with no paper or no ink)."""
    from pipeline.deskew import ink_contrast
    rng = np.random.default_rng(4)
    for shape in ((61, 47), (60, 48), (90, 90)):
        grey = rng.integers(0, 256, shape).astype(np.uint8)
        binv = np.where(rng.random(shape) < 0.2, 255, 0).astype(np.uint8)
        g, b = grey[::3, ::3], binv[::3, ::3] > 0
        assert ink_contrast(grey, binv) == float(np.median(g[~b])) - float(np.median(g[b]))
    assert ink_contrast(grey, np.zeros_like(binv)) == 255.0


def test_component_boxes_as_components(page):
    """The boxes and their order as components() gives them: rule masks of a scanned page,
    drawn rules, and random sparse masks of odd and even sizes (ink meeting across the pairs
    of rows and columns taken out, and in the last odd row or column)."""
    def want(m):
        _n, _lab, st = components(m)
        return st[1:, :4].astype(np.int64)
    masks = list(line_masks(page, 200 / 72)) + list(line_masks(_drawn(), 200 / 72))
    rng = np.random.default_rng(9)
    for shape in ((41, 57), (40, 56), (97, 33), (1, 9), (9, 1)):
        for share in (0.002, 0.02, 0.2):
            masks.append(np.where(rng.random(shape) < share, 255, 0).astype(np.uint8))
    m = np.zeros((41, 57), np.uint8)
    m[5, 3:9] = m[6, 9:12] = m[8, 11] = m[40, 0] = m[20:23, 56] = 255
    masks += [m, np.zeros((10, 10), np.uint8)]
    for m in masks:
        assert np.array_equal(component_boxes(m), want(m))
    assert len(component_boxes(masks[0])) > 3


def test_skew_search_in_place_and_half_page_shared(page):
    """The search's profiles computed in place score every angle as the expressions did; the
    half-size page the search's fine pass shrank is the one Hough shrinks (made once)."""
    import math
    from pipeline import deskew
    rng = np.random.default_rng(1)
    xs, ys = rng.random(5000) * 800 - 400, rng.random(5000) * 1100 - 550
    angles = np.arange(-5, 5.01, 0.25)
    span = 1400
    want = []
    for a in angles:
        t = math.tan(math.radians(a))
        hu = np.bincount(np.rint(ys - xs * t).astype(np.int64) + span, minlength=2 * span + 1).astype(np.float64)
        hv = np.bincount(np.rint(xs + ys * t).astype(np.int64) + span, minlength=2 * span + 1).astype(np.float64)
        want.append(hu @ hu + hv @ hv)
    assert deskew._sharpness(xs, ys, angles, span).tolist() == want
    memo = {}
    assert deskew.search_skew(page, memo) == deskew.search_skew(page)
    h, w = page.shape
    assert list(memo) == [(w // 2, h // 2)]
    assert deskew.hough_skew(page, memo) == deskew.hough_skew(page)


def test_pair_lines_sees_a_difference():
    """training.pair_lines' comparison flags what differs (a mask pixel, a cell's row, a ruling's
    type) and nothing on identical outputs."""
    import copy
    from training.pair_lines import differences
    cell = RawCell(np.int32(3), np.int32(4), np.int32(30), np.int32(40))
    cell.row, cell.col, cell.rowspan, cell.colspan = 0, 0, 1, 1
    z = np.zeros((8, 8), np.uint8)
    a = dict(angle=0.3, grey=z, binv=z, hor=z, ver=z, orules=z, tables=[((0, 0, 8, 8), [cell])],
             found=[((0, 0, 8, 8), [cell], "lines", z)], segs=[(np.float64(1.0), np.float64(2.0))])
    assert differences(a, copy.deepcopy(a)) == []
    b = copy.deepcopy(a)
    b["hor"] = z.copy()
    b["hor"][2, 2] = 255
    b["found"][0][1][0].row = 1
    b["segs"] = [(1.0, 2.0)]
    assert differences(a, b) == ["hor", "tables", "grid", "rulings"]      # the cell is in both
