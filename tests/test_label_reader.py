"""Template text first (pipeline/label_reader.py, configs/ocr.yaml `labels:`): the gate's lexicon,
and the shipped label model on rendered line crops — a template label is taken, anything else
is left to PP-OCR."""
from pathlib import Path

import numpy as np
import pytest

from pipeline import label_reader as lr
from pipeline.cost import PageCost

ROOT = Path(__file__).resolve().parent.parent
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def test_lexicon_holds_template_labels_numbered_and_normalised():
    lx = lr.lexicon()
    for text in ("予以公开", "(一)予以公开", "1.属于国家秘密", "1.属于国家秘密", "危及三安全一稳定",
                 "本年新收政府信息公开申请数量", "法人或其他组织", "申请人情况"):
        assert lr.template_text(lr.normalised(text)), text
    assert lr.normalised("（一） 予以公开") == "(一)予以公开"
    assert lr.normalised("危及“三安全一稳定”") == "危及三安全一稳定"


@pytest.mark.parametrize("text", ["0", "12", "1.", "予", "公开予以", "今天天气", "予以公开\n属于", "公开一二"])
def test_gate_refuses_what_is_no_template_text(text):
    assert not lr.template_text(text)


def test_gate_takes_stretches_of_a_label():
    assert lr.template_text("区分处理的")            # a wrapped line of （二）部分公开（区分处理的，…）
    assert lr.template_text("(二)部分公开(区分")      # a label cut to its first glyphs


def _crop(text: str, size: int = 30) -> np.ndarray:
    from training.train_digits import render_crop
    return render_crop(text, FONT, size)


class _Cell:
    pass


@pytest.mark.skipif(not (ROOT / "models/labels/labels.onnx").exists(), reason="no label model")
def test_model_takes_template_cells_whole_and_leaves_the_rest():
    cfg = {**lr.settings(), "enabled": True}
    crops = [_crop("（一）予以公开"),                      # a one-line label
             _crop("3.危及“三安全"), _crop("一稳定”"),          # a label wrapped over two lines
             _crop("1024"),                                # a number: too narrow to try
             _crop("今天天气很好"),                          # no template text
             _crop("商业企业"), _crop("今天")]                # one line template text, one not: not taken
    jobs = [(_Cell(), 1), (_Cell(), 2), (_Cell(), 1), (_Cell(), 1), (_Cell(), 2)]
    results = [None] * len(crops)
    cost = PageCost()
    lr.read_template_cells(crops, jobs, results, cost, cfg)
    assert results[0] is not None and results[0].text == "(一)予以公开"
    assert results[1] is not None and results[1].text + results[2].text == "3.危及三安全一稳定"
    assert results[3:] == [None] * 4
    assert cost.templated == 3
    results = [None] * len(crops)
    lr.read_template_cells(crops, jobs, results, cost, {**cfg, "enabled": False})
    assert results == [None] * len(crops)


@pytest.mark.skipif(not (ROOT / "models/labels/labels.onnx").exists(), reason="no label model")
def test_title_lines_template_text_taken_the_others_read_as_without(monkeypatch):
    from pipeline.ocr import get_engine
    engine = get_engine()
    crops = [_crop("三、收到和处理政府信息公开申请情况", 34), _crop("北京市西城区人民政府", 34)]
    monkeypatch.setitem(lr.settings(), "title_bands", False)
    plain = engine.read_known(crops)
    monkeypatch.setitem(lr.settings(), "title_bands", True)
    known = engine.read_known(crops)
    assert known[0].text == "三、收到和处理政府信息公开申请情况"
    assert known[0] is not plain[0]                 # the label model's reading
    assert (known[1].text, known[1].score) == (plain[1].text, plain[1].score)   # PP-OCR's, padded as before
