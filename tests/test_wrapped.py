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
    monkeypatch.setitem(config()["labels"], "enabled", False)   # the PP-OCR path (template text: test_label_reader)
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


def test_header_only_joins_the_wrapped_header_cells_and_reads_the_rest_as_before(monkeypatch):
    """`wrapped.header`: only a wrapped cell above the first row the digit model read a number in
    (squeeze.label_side "header") is read joined; a wrapped label below it is read line by line,
    and every crop the digit model did not read reads exactly as with it off."""
    from pipeline import digits
    from pipeline.ctc import RecResult
    monkeypatch.setitem(config()["labels"], "enabled", False)   # the PP-OCR path (template text: test_label_reader)
    eng = get_engine("rapidocr")
    cells = [(0, 1, ("商业", "企业")), (0, 2, ("科研", "机构")),
             (1, 0, ("本年新制", "作数量")), (1, 1, ("12",)), (1, 2, ("305",)), (2, 0, ("其他处理情况",)), (2, 1, ("7",))]
    crops = [line_crop(t) for _, _, ls in cells for t in ls]
    jobs = [(types.SimpleNamespace(row=r, col=c), len(ls)) for r, c, ls in cells]
    numbers = {id(crops[k]): t for k, t in ((6, "12"), (7, "305"))}
    monkeypatch.setattr(digits, "sure_numbers", lambda cs, page=None: [
        RecResult(numbers[id(c)], 1.0) if id(c) in numbers else None for c in cs])
    monkeypatch.setitem(config()["digits"]["route"], "enabled", True)
    monkeypatch.setitem(config()["squeeze"]["header"], "enabled", True)
    monkeypatch.setitem(config()["wrapped"], "enabled", False)
    monkeypatch.setitem(config()["wrapped"], "header", {"enabled": False, "factor": 1.0})
    off = grid._recognise(eng, crops, jobs, crop_page())
    monkeypatch.setitem(config()["wrapped"], "header", {"enabled": True, "factor": 1.0})
    page = crop_page()
    on = grid._recognise(eng, crops, jobs, page)
    assert page.cost.joined == 4                              # the two headers' 4 lines, not the label's 2
    assert on[0].text + on[1].text == "商业企业" and on[1].text == ""
    assert on[2].text + on[3].text == "科研机构"
    for k in (4, 5, 6, 7, 8, 9):                              # the wrapped label, numbers, one-line cells
        assert on[k].text == off[k].text and on[k].char_probs == off[k].char_probs
    # `max_ink`: a header whose line has no pixel darker than it (a faint or thinned scan) is read line by line
    faint = [np.maximum(c, 140).astype(np.uint8) if k < 2 else c for k, c in enumerate(crops)]
    monkeypatch.setitem(config()["wrapped"], "header", {"enabled": True, "factor": 1.0, "max_ink": 128})
    numbers.update({id(faint[k]): t for k, t in ((6, "12"), (7, "305"))})
    page = crop_page()
    grid._recognise(eng, faint, jobs, page)
    assert page.cost.joined == 2                              # the dark header only
    # the joined lines narrowed (`factor`): the same inputs, fewer px
    px = {}
    for f in (1.0, 0.6):
        monkeypatch.setitem(config()["wrapped"], "header", {"enabled": True, "factor": f})
        widths = []
        with monkeypatch.context() as m:
            spy_runs(m, eng, lambda x: widths.append(x.shape[0] * x.shape[3]))
            grid._recognise(eng, crops, jobs, crop_page())
        px[f] = sum(widths)
    assert px[0.6] < px[1.0]
