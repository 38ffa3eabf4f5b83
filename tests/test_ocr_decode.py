"""Decoding PP-OCR's per-step output without sorting every step's 18,710 characters
(ctc.top_desc, docs/speed.md session 27f): the same RecResults as the full sort."""
from __future__ import annotations

import numpy as np

from pipeline import ctc
from pipeline.ocr import get_engine
from test_ocr import _render


def _full_sort(row, k):
    return np.argsort(row)[::-1][:k]


def test_top_desc_is_the_full_sorts_top_k_ties_included():
    rng = np.random.default_rng(7)
    rows = [rng.random(500).astype(np.float32) for _ in range(50)]
    rows += [np.round(rng.random(500), 1).astype(np.float32) for _ in range(50)]   # many ties
    rows.append(np.full(500, 0.002, np.float32))                                      # all tied
    rows.append(np.array([0.5, 0.2, 0.2, 0.1], np.float32))                           # a tie inside the top
    rows.append(np.array([0.3, 0.7], np.float32))                                     # k ≥ row size
    for row in rows:
        for k in (1, 4, 5):
            assert np.array_equal(ctc.top_desc(row, k), _full_sort(row, k))


def test_decoding_a_rendered_line_gives_what_the_full_sort_gave(monkeypatch):
    eng = get_engine("rapidocr")
    crops = []
    for t in ["40661", "211.509万", "申请人情况", "0", "其他"]:
        c = _render(t)
        pad = np.full((c.shape[0], c.shape[0]), 255, np.uint8)
        crops.append(np.hstack([pad, c, pad]))
    probs = eng.raw(crops)
    fast = [eng.decoder.decode(p) for p in probs]
    monkeypatch.setattr(ctc, "top_desc", _full_sort)
    slow = [eng.decoder.decode(p) for p in probs]
    assert fast == slow
    assert fast[0].text == "40661" and all(len(r.char_probs) == len(r.text) for r in fast)
    # the top alternative of every character is the character read, most likely first
    for r in fast:
        for c, alts in zip(r.text, r.char_probs):
            assert alts[0][0] == c and [p for _, p in alts] == sorted((p for _, p in alts), reverse=True)
