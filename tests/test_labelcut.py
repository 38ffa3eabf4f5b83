"""Labels read shorter: a label cell by position read up to its first glyphs
(configs/ocr.yaml `squeeze.label.max_glyphs`, pipeline/squeeze.shortened)."""
from __future__ import annotations

import types

import numpy as np

from pipeline import grid
from pipeline.ctc import RecResult
from pipeline.pdf import config
from pipeline.squeeze import INK, cut_glyphs, fill_dropped, glyphs_of, shortened
from tablefix import crop_page, line_crop, spy_runs


def test_glyphs_of_counts_a_cjk_line_about_one_per_glyph():
    assert 6 <= glyphs_of(line_crop("本年新收政府信息", 32)) <= 10
    assert glyphs_of(np.full((32, 90), 255, np.uint8)) == 0.0


def test_a_long_line_is_cut_in_a_white_gap_never_through_ink():
    a = line_crop("本年新收政府信息公开申请数量", 32)
    b = cut_glyphs(a, 5)
    assert b is not a and b.shape[0] == a.shape[0] and b.shape[1] < 0.6 * a.shape[1]
    ink = (a < INK).any(0)
    cut = b.shape[1] - (a.shape[1] - 1 - np.flatnonzero(ink)[-1])   # where the kept part ends
    assert not ink[cut - 1] or not ink[cut]                        # at a white column
    assert (b[:, :cut] == a[:, :cut]).all()                        # the first glyphs as they were
    assert (b[:, cut:] >= INK).all()                               # the right margin white
    assert 3 <= glyphs_of(b) <= 6
    short = line_crop("予以公开", 32)
    assert cut_glyphs(short, 5) is short                           # not wider: the same array
    bar = np.full((32, 400), 255, np.uint8)
    bar[8:24, 30:370] = 0                                          # ink all along: no gap to cut in
    assert cut_glyphs(bar, 3) is bar


def _jobs(*ns):
    return [(types.SimpleNamespace(row=i, col=0, colspan=1), n) for i, n in enumerate(ns)]


def test_a_label_cell_keeps_its_first_glyphs_and_drops_its_later_lines(monkeypatch):
    line = line_crop("属于三类内部事务", 32)
    monkeypatch.setitem(config()["squeeze"]["label"], "max_glyphs", int(glyphs_of(line)) + 1)   # < 2 left after line 1
    crops = [line, line.copy(), line.copy(), line_crop("本年新收政府信息公开申请数量", 32), line_crop("12", 32)]
    jobs = _jobs(3, 1) + [(types.SimpleNamespace(row=1, col=1, colspan=1), 1)]
    where = ["label"] * 4 + [None]
    routed = [None] * 4 + [RecResult("12", 1.0, [], [])]           # the digit model read row 1, column 1
    assert shortened(crops, jobs, [None] * 5, where) == ({}, {})   # no number read: no body known
    jobs[0] = (types.SimpleNamespace(row=1, col=0, colspan=1), 3)
    cut, dropped = shortened(crops, jobs, routed, where)
    assert 0 not in cut and dropped == {1: 0, 2: 0}               # line 1 holds all but < 2 glyphs: 2 and 3 not read
    assert 3 in cut and cut[3].shape[1] < crops[3].shape[1]        # a long one-line label: cut
    assert 4 not in cut and 4 not in dropped                       # not a label by position
    results = list(routed)
    results[1] = RecResult("一", 0.9, [], [])                      # a line of the cell already read (routed)
    cut, dropped = shortened(crops, jobs, results, where)
    assert not dropped
    jobs[0] = (types.SimpleNamespace(row=0, col=0, colspan=1), 3)  # above the first number's row: a header
    assert 0 not in shortened(crops, jobs, routed, where)[0] and not shortened(crops, jobs, routed, where)[1]
    jobs[0] = (types.SimpleNamespace(row=1, col=0, colspan=2), 3)  # spanning a value column: a title
    assert not shortened(crops, jobs, routed, where)[1]
    monkeypatch.setitem(config()["squeeze"]["label"], "max_glyphs", 0)
    assert shortened(crops, jobs, routed, where) == ({}, {})
    assert shortened(crops, jobs, routed, None) == ({}, {})


def test_dropped_lines_take_their_cells_first_score():
    results = [RecResult("属于三类", 0.7, [], []), None, None]
    fill_dropped(results, {1: 0, 2: 0})
    assert [r.text for r in results] == ["属于三类", "", ""] and results[2].score == 0.7


def test_recognise_reads_only_the_kept_glyphs_numbers_as_before(monkeypatch):
    """On: PP-OCR gets fewer pixels, the dropped line reads as nothing, a number reads as off."""
    from pipeline import digits
    from pipeline.ocr import get_engine
    eng = get_engine("rapidocr")
    monkeypatch.setitem(config()["digits"]["route"], "enabled", True)
    sure = RecResult("305", 1.0, [], [])
    monkeypatch.setattr(digits, "sure_numbers", lambda crops, page=None: [None, None, sure, None])   # crop 4 of the 4 one-line ones
    monkeypatch.setattr(grid, "label_side", lambda jobs, results: ["label"] * 4 + [None, None])
    crops = [line_crop("申请人逾期未按收费通知要求", 32), line_crop("缴纳费用行政机关", 32),
             line_crop("本年新收政府信息公开申请数量", 32), line_crop("上年结转政府信息公开申请数量", 32),
             line_crop("305", 32), line_crop("12", 32)]
    cell = lambda r, c: types.SimpleNamespace(row=r, col=c, colspan=1)
    jobs = [(cell(1, 0), 2), (cell(2, 0), 1), (cell(0, 0), 1), (cell(1, 1), 1), (cell(2, 1), 1)]
    widths = []
    spy_runs(monkeypatch, eng, lambda x: widths.append(x.shape[0] * x.shape[3]))
    monkeypatch.setitem(config()["squeeze"]["label"], "max_glyphs", 0)
    off = grid._recognise(eng, crops, jobs, crop_page())
    px_off, widths[:] = sum(widths), []
    monkeypatch.setitem(config()["squeeze"]["label"], "max_glyphs", 6)
    page = crop_page()
    on = grid._recognise(eng, crops, jobs, page)
    assert sum(widths) < 0.9 * px_off and page.cost.shortened == 3 and page.cost.crops == 4
    assert on[1].text == "" and on[1].score == on[0].score
    assert off[0].text.startswith(on[0].text[:4]) and len(on[0].text) < len(off[0].text)
    assert on[2].text.startswith("本年新收") and len(on[2].text) < len(off[2].text)
    assert on[3].text == off[3].text                               # row 0, above the first number: read whole
    assert on[5].text == off[5].text == "12" and on[5].slots == off[5].slots
