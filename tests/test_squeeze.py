"""Long text lines read squeezed (configs/ocr.yaml `squeeze`, pipeline/squeeze.py)."""
from __future__ import annotations

import types

from pipeline import grid
from pipeline.cost import PageCost
from pipeline.ocr import get_engine
from pipeline.pdf import config
from pipeline.squeeze import narrowed, squeeze
from tablefix import crop_page, line_crop, spy_runs


def test_squeeze_narrows_keeps_height_and_ink():
    a = line_crop("其他处理情况", 32)
    b = squeeze(a, 0.6)
    assert b.shape[0] == 48 and b.dtype == a.dtype        # at the recogniser's height, in one resampling
    assert abs(b.shape[1] - 0.6 * a.shape[1] * 48 / a.shape[0]) <= 1
    # a 32 px line at 0.6 keeps ~0.9 of its horizontal pixels: thin strokes stay dark, not averaged to grey
    assert b.min() == a.min() and (b < 128).sum() > 0.7 * (a < 128).sum()


def test_only_long_lines_are_squeezed_the_others_are_the_same_arrays(monkeypatch):
    monkeypatch.setitem(config()["squeeze"], "enabled", True)
    crops = [line_crop("12", 32), line_crop("305", 32), line_crop("本年新制作数量", 32), line_crop("其他", 32)]
    cost = PageCost()
    out = narrowed(crops, cost)
    assert [o is c for o, c in zip(out, crops)] == [True, True, False, True]
    assert cost.squeezed == 1
    faint = 255 - (255 - crops[2]) // 3           # the same label, its ink no darker than ~170
    assert narrowed([faint])[0] is faint
    monkeypatch.setitem(config()["squeeze"], "enabled", False)
    assert narrowed(crops) is crops


def test_a_label_read_squeezed_gives_the_same_text_and_numbers_do_not_move(monkeypatch):
    """On: the long labels are read narrower with the same text; every other crop reads exactly
    as with `squeeze` off (its padding kept by padding_of), and PP-OCR gets fewer pixels."""
    eng = get_engine("rapidocr")
    monkeypatch.setitem(config()["digits"]["route"], "enabled", False)
    texts = ["12", "本年新制作数量", "305", "其他处理情况合计", "7", "政府信息公开行政复议"]
    crops = [line_crop(t, 32) for t in texts]
    jobs = [(types.SimpleNamespace(row=i), 1) for i in range(len(texts))]
    widths = []
    spy_runs(monkeypatch, eng, lambda x: widths.append(x.shape[0] * x.shape[3]))
    monkeypatch.setitem(config()["squeeze"], "enabled", False)
    off = grid._recognise(eng, crops, jobs, crop_page())
    px_off, widths[:] = sum(widths), []
    monkeypatch.setitem(config()["squeeze"], "enabled", True)
    page = crop_page()
    on = grid._recognise(eng, crops, jobs, page)
    assert page.cost.squeezed == 3
    assert sum(widths) < px_off
    for k in (0, 2, 4):
        assert on[k].text == off[k].text and on[k].slots == off[k].slots
    for k in (1, 3, 5):
        assert on[k].text == off[k].text == texts[k]


def test_label_side_flags_the_cells_left_of_the_first_column_the_digit_model_read(monkeypatch):
    from pipeline.ctc import RecResult
    from pipeline.squeeze import label_side
    cell = lambda r, c: types.SimpleNamespace(row=r, col=c)
    jobs = [(cell(0, 0), 1), (cell(0, 1), 2), (cell(0, 2), 1), (cell(1, 0), 1), (cell(1, 3), 1)]
    num, word = RecResult("12", 1.0, [], []), RecResult("合计", 1.0, [], [])
    results = [None, None, None, None, None, num]       # the digit model read a number in column 3 only
    monkeypatch.setitem(config()["squeeze"], "enabled", True)
    monkeypatch.setitem(config()["squeeze"], "min_routed", 0)
    monkeypatch.setitem(config()["squeeze"]["header"], "enabled", False)
    monkeypatch.setitem(config()["squeeze"]["label"], "enabled", False)
    assert label_side(jobs, results) is None
    monkeypatch.setitem(config()["squeeze"]["label"], "enabled", True)
    L = "label"
    assert label_side(jobs, results) == [L, L, L, L, L, None]
    results[3] = num                                    # … and one in column 2
    assert label_side(jobs, results) == [L, L, L, None, L, None]
    monkeypatch.setitem(config()["squeeze"]["header"], "enabled", True)      # row 0's wrapped cell: a header
    assert label_side(jobs, results) == [L, L, L, None, L, None]              # (left of column 2: still a label)
    results[3], results[5] = None, None
    results[0] = num                                    # a number read in column 0, row 0: no label, no header
    assert label_side(jobs, results) == [None] * 6
    assert label_side(jobs, [None, None, None, word, None, None]) is None     # no number: no position
    results = [None] * 5 + [num]
    monkeypatch.setitem(config()["squeeze"], "min_routed", 0.25)        # 1 of 4 one-line crops routed: enough
    assert label_side(jobs, results) == [L, L, L, L, L, None]
    monkeypatch.setitem(config()["squeeze"], "min_routed", 0.5)         # … too few
    assert label_side(jobs, results) is None


def test_a_short_label_is_squeezed_by_position_only(monkeypatch):
    monkeypatch.setitem(config()["squeeze"], "enabled", True)
    monkeypatch.setitem(config()["squeeze"]["header"], "enabled", False)
    monkeypatch.setitem(config()["squeeze"]["label"], "enabled", True)
    crops = [line_crop("其他情况", 32), line_crop("12345", 32), line_crop("其他", 32)]
    out = narrowed(crops, None, ["label", None, "header"])
    assert out[0] is not crops[0] and out[0].shape[0] == 48       # a short label: squeezed
    assert out[1] is crops[1] and out[2] is crops[2]              # not a label by position: as it is
    monkeypatch.setitem(config()["squeeze"]["label"], "enabled", False)
    assert all(o is c for o, c in zip(narrowed(crops, None, ["label"] * 3), crops))


def test_squeezed_crops_are_padded_to_the_squeeze_minimum_the_others_as_planned():
    eng = get_engine("rapidocr")
    crops = [line_crop("12", 32), line_crop("305", 32)]
    short = squeeze(line_crop("其他情", 32), 0.6)                  # ~133 px wide: under 160 px
    ratios = [c.shape[1] / c.shape[0] for c in crops + [short]]
    with eng.padding_of(crops, 96):
        plan = [eng._plan.get(id(c)) for c in crops] + [None]
        got = {tuple(ids): w for ids, w in eng.padded_batches(ratios, plan)}
    assert got[(2,)] == max(96 / 48, ratios[2]) < eng.min_wh       # below the recogniser's 160 px minimum
    assert got[(0, 1)] == eng.pads(crops)[0]                         # the planned crops: as without it
    with eng.padding_of(crops):
        got = {tuple(ids): w for ids, w in eng.padded_batches(ratios, plan)}
    assert got[(2,)] == max(eng.min_wh, ratios[2])
