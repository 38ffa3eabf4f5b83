"""A wrapped cell's lines read as one recogniser input (configs/ocr.yaml `wrapped`)."""
from __future__ import annotations

import types

import numpy as np

from pipeline import grid
from pipeline.ocr import get_engine
from pipeline.pdf import config
from pipeline.strips import HEIGHT, join
from tablefix import crop_page, line_crop, spy_runs

def test_join_trims_each_line_to_its_ink_and_sets_them_side_by_side():
    a, b = line_crop("本年新制"), line_crop("作数量")
    out = join([a, b], margin=0.1, gap=0.25, pad=0.5)
    assert out.shape[0] == HEIGHT and out.dtype == np.uint8
    # the lines' own white (a height each side) is cut to the margin: narrower than the crops
    assert out.shape[1] < (a.shape[1] + b.shape[1]) * HEIGHT / a.shape[0] - 2 * HEIGHT
    cols = np.where((out < 200).any(0))[0]
    assert cols[0] >= int(0.5 * HEIGHT) and out.shape[1] - 1 - cols[-1] >= int(0.5 * HEIGHT)
    # a white gap between the two lines' ink
    ink = (out < 200).any(0)
    runs = np.diff(np.flatnonzero(np.diff(ink.astype(int))))
    assert runs.max() >= int(0.25 * HEIGHT)


def test_a_wrapped_label_is_read_once_and_the_other_cells_as_before(monkeypatch):
    """On: the wrapped cell's two lines are one PP-OCR input whose text is the whole label
    (its second line empty, with the cell's score); a wrapped number is read line by line as
    before; every one-line cell reads exactly as with `wrapped` off (padding_of)."""
    eng = get_engine("rapidocr")
    monkeypatch.setitem(config()["digits"]["route"], "enabled", False)
    cells = [("12",), ("本年新制", "作数量"), ("305",), ("其他处理情况",), ("1", "0"), ("7",)]
    crops = [line_crop(t) for ls in cells for t in ls]
    jobs = [(types.SimpleNamespace(row=i), len(ls)) for i, ls in enumerate(cells)]
    monkeypatch.setitem(config()["wrapped"], "enabled", False)
    off = grid._recognise(eng, crops, jobs, crop_page())
    monkeypatch.setitem(config()["wrapped"], "enabled", True)
    page = crop_page()
    inputs = []
    spy_runs(monkeypatch, eng, lambda x: inputs.append(len(x)))
    on = grid._recognise(eng, crops, jobs, page)
    # two joined inputs (the label; the number, whose joined reading is thrown away), then
    # the 4 one-line cells and the number's 2 lines as before: the label's 2 lines are 1 input
    assert sorted(inputs) == [2, 6]
    assert page.cost.joined == 2
    assert on[1].text == "本年新制作数量" and on[2].text == "" and on[2].score == on[1].score
    for k in (0, 3, 4, 5, 6, 7):                  # one-line cells and the wrapped number
        assert on[k].text == off[k].text and on[k].slots == off[k].slots
    assert on[5].text + on[6].text == off[5].text + off[6].text
