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
