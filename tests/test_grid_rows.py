"""Rows of a scanned table whose narrow label column wraps its labels over 2-4 lines
(pipeline/grid_cells.line_masks, pipeline/grid_crops.grey_lines).

On an emboldened, blurred scan the vertical strokes of a wrapped label's characters stand
one above the other; the vertical-rule mask's bridge (it closes a rule's dropouts) joined
them into one tall column of ink that passed as a rule, and painting that "rule" out of
the cell garbled the label ('二开1sm：' for '（二）部分公开…'): its row was then not found
although every value was read (test_00010 heavy: 28 cells). Grid structure and crops only
(no OCR)."""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline import grid
from tablefix import FONT

PX = 200 / 72                 # a 200 dpi scan: pixels per point
LABEL = ["（二）部分公开", "（区分处理的，", "只计这一情形）"]


def _page(break_rule: bool = False):
    """A ruled table (label column 110 pt wide, 6 value columns, the header's rules doubled:
    the vertical-rule kernel, set by the closest rules, is then at its shortest) whose first
    body row's label wraps over 3 lines, printed, emboldened and blurred as a heavy scan:
    (grey, label cell box px, x of the vertical rule right of the label px)."""
    W, H = int(595 * PX), int(400 * PX)
    img = Image.new("L", (W, H), 235)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, int(10 * PX))
    x0, lab_w, col_w = int(60 * PX), int(110 * PX), int(55 * PX)
    xs = [x0, x0 + lab_w] + [x0 + lab_w + (k + 1) * col_w for k in range(6)]
    heights = [int(h * PX) for h in (18, 18, 48, 18, 18, 18)]
    ys = [int(60 * PX)]
    for h in heights:
        ys.append(ys[-1] + h)
    for y in ys:
        d.line([(xs[0], y), (xs[-1], y)], fill=20, width=3)
    for y in (ys[0], ys[2]):      # the header's rules printed doubled (a second stroke 4 pt below)
        d.line([(xs[0], y + int(4 * PX)), (xs[-1], y + int(4 * PX))], fill=20, width=3)
    for x in xs:
        d.line([(x, ys[0]), (x, ys[-1])], fill=20, width=3)
    if break_rule:            # a dropout in the rule right of the label column (a scan's)
        d.rectangle([xs[1] - 3, ys[3] + 10, xs[1] + 3, ys[3] + 40], fill=235)
    pitch = int(13 * PX)
    for k, line in enumerate(LABEL):
        d.text((xs[0] + 6, ys[2] + int(4 * PX) + 6 + k * pitch), line, font=font, fill=20)
    for r in range(2, 6):
        for c in range(1, 7):
            d.text((xs[c] + col_w // 2 - 6, ys[r] + 8), str((r * 7 + c) % 10), font=font, fill=20)
    grey = np.array(img)
    grey = cv2.erode(grey, np.ones((3, 3), np.uint8), iterations=1)     # emboldened
    grey = cv2.GaussianBlur(grey, (5, 5), 1.2)
    return grey, (xs[0], ys[2] + int(4 * PX), xs[1], ys[3]), xs[1]


def _label_ink(grey, box):
    x0, y0, x1, y1 = box
    cell = grey[y0 + 6:y1 - 6, x0 + 6:x1 - 6]
    return cell < np.median(cell) - 40, (x0 + 6, y0 + 6)


def test_stacked_label_strokes_are_not_rules():
    grey, box, _ = _page()
    binv = grid.binarise(grey)
    hor, ver = grid.line_masks(binv, PX)
    ink, (ox, oy) = _label_ink(grey, box)
    rules = cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8))
    covered = rules[oy:oy + ink.shape[0], ox:ox + ink.shape[1]] > 0
    # the label's strokes stay ink: none of it is painted out as a rule
    assert (covered & ink).sum() < 0.01 * ink.sum()


def test_rows_and_label_cell_kept_with_a_broken_rule():
    grey, box, x_rule = _page(break_rule=True)
    binv = grid.binarise(grey)
    hor, ver = grid.line_masks(binv, PX)
    # the real rule, broken by a dropout, is still a rule along its whole length
    assert (ver[box[1] + 5:box[3] - 5, x_rule - 4:x_rule + 5] > 0).any(1).all()
    tables = grid.find_tables(hor, ver)
    assert len(tables) == 1
    cells = tables[0][1]
    assert max(c.row + c.rowspan for c in cells) == 6           # every printed row
    assert max(c.col + c.colspan for c in cells) == 7
    label = [c for c in cells if c.col == 0 and abs(c.y0 - box[1]) < 8]
    assert len(label) == 1 and label[0].rowspan == 1


def test_grey_lines_cut_a_wrapped_label_into_its_lines():
    grey, box, _ = _page()
    binv = grid.binarise(grey)
    hor, ver = grid.line_masks(binv, PX)
    rules = cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8))
    rc = grid.RawCell(*box)
    lines = grid.grey_lines(grey, rules, rc, PX, grid.relabel_settings())
    assert len(lines) == len(LABEL)
    for crop in lines:            # grey as printed, a line's height, no rule left in it
        assert 8 * PX <= crop.shape[0] <= 16 * PX
        assert crop.min() < 120 and crop[:, :3].min() > 150 and crop[:, -3:].min() > 150
