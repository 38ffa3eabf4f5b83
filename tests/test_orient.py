"""Which way up a scanned table page is (pipeline/orient.py): an upright page is decided from
its tables' cues without reading a crop, a page turned 180° is read and turned back.

The pages are real: a generated report's PDF (training/synth, the narrow-labels geometry,
not a held-out one) rendered by pdfium at 200 dpi, and the real recogniser."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import grid
from pipeline.cost import PageCost
from pipeline.ocr import RecResult, get_engine
from pipeline.orient import cues, label_side, orientation

PX = 200 / 72


class CountingEngine:
    """Counts the crops it is asked to read (reads nothing)."""

    def __init__(self):
        self.crops = 0

    def recognise(self, crops):
        self.crops += len(crops)
        return [RecResult("", 0.0) for _ in crops]


@pytest.fixture(scope="module")
def narrow_labels_pages():
    """Pages 1 and 2 of a generated narrow-labels report, rendered at 200 dpi (grey)."""
    import pypdfium2 as pdfium

    from training.synth.build import draw_document, load_config
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "synth.yaml")
    d = draw_document([int(cfg["seed"]), 2, 2], cfg, {"geometry": ["narrow_labels"]}, train=False)
    assert d["lay"].geometry == ["narrow_labels"]
    pdf = pdfium.PdfDocument(d["pdf"])
    pages = [np.asarray(pdf[k].render(scale=PX).to_pil().convert("L")) for k in (0, 1)]
    pdf.close()
    return pages


def _decide(grey: np.ndarray, engine):
    import cv2
    binv = grid.binarise(grey)
    hor, ver = grid.line_masks(binv, PX)
    tables = [cs for _, cs in grid.find_tables(hor, ver)]
    rules = cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8))
    cost = PageCost()
    rot = orientation(grey, tables, rules, engine, PX, cost, binv)
    return rot, cost.orientation, tables, cues(np.where(rules > 0, 0, binv), tables, PX)


def test_an_upright_narrow_label_page_is_decided_without_reading(narrow_labels_pages):
    """The requests table with narrow labels: its widest column is not a label column, so
    the rules alone do not tell (before: every crop check ran); the flush-left labels, the
    header's spans at the top and the labels' spans at the left do: nothing is read."""
    eng = CountingEngine()
    rot, how, tables, say = _decide(narrow_labels_pages[1], eng)
    assert [label_side(cs) for cs in tables] == [0]
    assert say == {"side": 0, "align": 1, "header": 1, "labels": 1}
    assert (rot, how, eng.crops) == (0, "rules", 0)


def test_a_page_turned_180_whose_rules_look_upright_is_read_and_turned_back(narrow_labels_pages):
    """Page 1 upside down: its widest column now lies in the left third at twice the last,
    which the rules alone took for upright (10 of 66 test pages turned 180° were left so).
    Its header spans now lie at the bottom: the cues disagree, the crops are read (real
    recogniser) and the page is turned back."""
    turned = np.ascontiguousarray(np.rot90(narrow_labels_pages[0], 2))
    rot, how, tables, say = _decide(turned, get_engine("rapidocr"))
    assert [label_side(cs) for cs in tables] == [1]
    assert say["header"] == -1
    assert (rot, how) == (180, "read")


def test_cues_flip_when_a_page_is_turned_180(narrow_labels_pages):
    """Every cue reads the other way on the same page upside down (the same tables found)."""
    up = _decide(narrow_labels_pages[1], CountingEngine())[3]
    down = _decide(np.ascontiguousarray(np.rot90(narrow_labels_pages[1], 2)), CountingEngine())[3]
    assert up == {k: -v for k, v in down.items()}


class ScriptedEngine:
    """Reads each crop as `read` says, counts the crops of each call; padding_of is a no-op."""

    def __init__(self, read):
        self.read, self.calls = read, []

    def recognise(self, crops):
        self.calls.append(len(crops))
        return [self.read(c) for c in crops]

    def padding_of(self, crops):
        import contextlib
        return contextlib.nullcontext()


def test_settled_only_when_the_samples_left_cannot_change_the_decision():
    from pipeline.orient import PER_CROP, settled
    # 0 leads 30 to 2 with one sample left (6 at most to each turn): 2 + 6 < 1.3 × 30
    assert settled({0: 30.0, 180: 2.0}, 1) == 0
    # 180 leads 30 to 4: one sample left cannot bring 0 to 30, and 30 ≥ 1.3 × (4 + 6)
    assert settled({0: 4.0, 180: 30.0}, 1) == 180
    # close: either may still win
    assert settled({0: 12.0, 180: 10.0}, 1) is None
    assert settled({0: 10.0, 180: 14.0}, 1) is None
    # nothing left: the decision itself (180 by less than 1.3 × 0's score stays 0)
    assert settled({0: 10.0, 180: 12.0}, 0) == 0
    assert PER_CROP == 6


@pytest.mark.parametrize("turned", [0, 180])
def test_reading_a_few_at_a_time_gives_the_decision_of_reading_all(turned):
    """Six wide samples read in turns 0 and 180: as printed they read surely only the right way
    up. With settle_early the reading stops after 4 of 6 samples (4 × 6 = 24 against at most
    0 + 2 × 6 for the other turn) and decides as reading all six does."""
    from pipeline.orient import _turn_scores
    samples = [np.zeros((30, 300), np.uint8) + k for k in range(6)]

    # crops come sample by sample, each in turns 0 then 180: only the scripted turn reads surely
    order = []

    def reader(crop):
        order.append(crop)
        k = len(order) - 1
        turn = (0, 180)[k % 2]
        good = turn == turned
        return RecResult("政府信息公开", 0.99) if good else RecResult("", 0.0)

    full = ScriptedEngine(reader)
    want = _turn_scores(full, samples, (0, 180), early=False)
    order.clear()
    early = ScriptedEngine(reader)
    got = _turn_scores(early, samples, (0, 180), early=True)
    assert want == got == turned
    assert full.calls == [12] and early.calls == [8]


def test_heads_cut_a_sample_to_its_first_characters_along_its_long_side():
    from pipeline.orient import heads
    wide, tall, short = np.zeros((20, 300), np.uint8), np.zeros((250, 25), np.uint8), np.zeros((20, 90), np.uint8)
    wide[:, :10] = 1
    tall[:10] = 1
    out = heads([wide, tall, short], 8)
    assert [x.shape for x in out] == [(20, 160), (200, 25), (20, 90)]
    assert out[0][0, 0] == 1 and out[1][0, 0] == 1          # the start kept: a wide crop's left, a tall one's top
    assert heads([wide], 0)[0] is wide                      # 0: whole
