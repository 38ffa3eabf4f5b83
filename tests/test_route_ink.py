"""The routing gate's width check on faded ink (digits.route.ink, docs/speed.md 27f): with
`relative` ink a faded digit has a width, and a faded 其他 is still too wide to be a number."""
from __future__ import annotations

import numpy as np

from pipeline import digits
from test_ocr import _render


def _faded(text: str, darkest: int = 150) -> np.ndarray:
    c = _render(text).astype(np.float32)
    return (255 - (255 - c) * (255 - darkest) / 255).astype(np.uint8)


def test_a_faded_digit_has_no_ink_below_128_but_a_relative_width():
    crop = _faded("0")
    assert crop.min() > 128
    assert digits._ink_width(crop) == float("inf")
    assert 0.3 < digits._ink_width(crop, relative=True) <= 0.9 + 0.15


def test_relative_ink_keeps_a_faded_label_too_wide_for_its_reading():
    crop = _faded("其他")
    assert digits._ink_width(crop, relative=True) > 0.9 * 1 + 0.15      # read as one digit: refused
    dark = _render("12")
    assert digits._ink_width(dark) == digits._ink_width(dark, relative=True) or \
        abs(digits._ink_width(dark) - digits._ink_width(dark, relative=True)) < 0.1


def _features(**kw):
    f = {"value": 7, "score": 0.99, "top": 0.995, "width": 0.5, "chars": 1}
    f.update(kw)
    return f


def test_failures_names_each_gate_condition_a_crop_fails_and_passes_is_their_absence():
    gate = {"min_char_score": 0.97, "min_top": 0.99, "max_char_width": 0.9}
    assert digits.failures(_features(), gate) == [] and digits.passes(_features(), gate)
    assert digits.failures(_features(value=None), gate) == ["value"]
    assert digits.failures(_features(score=0.8, top=0.5), gate) == ["top", "score"]
    assert digits.failures(_features(width=float("inf")), gate) == ["width_none"]     # no ink below 128
    assert digits.failures(_features(width=1.2), gate) == ["width"]
    assert digits.failures(_features(height=40), dict(gate, in_range={"height": [10, 30]})) == ["range"]
    assert not digits.passes(_features(width=float("inf")), gate)


def test_route_crops_table_counts_routed_wrong_and_why_on_recorded_crops():
    from training.route_crops import tabulate
    faded = _features(width=float("inf"))
    rows = [
        {"settled": True, "truth": "7", "f": _features(), "f_rel": _features(), "ptext": "7", "readings": [(7, 0.9)]},
        {"settled": True, "truth": "7", "f": faded, "f_rel": _features(width=0.6), "ptext": "7", "readings": [(7, 0.9)]},
        {"settled": True, "truth": "1", "f": _features(), "f_rel": _features(), "ptext": "1", "readings": [(1, 0.9)]},
        {"settled": True, "truth": "其他", "f": _features(value=None), "f_rel": _features(value=None), "ptext": "其他",
         "readings": []},
        {"settled": False, "truth": "7", "f": _features(), "f_rel": _features(), "ptext": "7", "readings": []},
    ]
    fixed, rel = [r for r in tabulate(rows, gates=[(0.97, 0.99)])]
    assert (fixed["numeric"], fixed["routed"], fixed["wrong"]) == (3, 2, 1)
    assert fixed["not_routed_because"] == {"width_none": 1} and fixed["labels_routed"] == 0
    assert (rel["routed"], rel["wrong"], rel["differs_ppocr"]) == (3, 1, 1)


def test_route_crops_share_counts_the_numbers_left_to_ppocr_per_page_and_why():
    from training.route_crops import padded_px, share
    gate = {"min_char_score": 0.97, "min_top": 0.99, "max_char_width": 0.9, "ink": "relative"}
    short, label = np.full((30, 60), 255, np.uint8), np.full((30, 300), 255, np.uint8)
    label[10:20, 10:290] = 0
    assert padded_px(short) == 160 and padded_px(label) == 48 * 10 * 0.6     # long dark lines squeezed
    row = {"doc": "d", "rendering": "scan_heavy", "page": 1, "settled": True, "crop": short}
    rows = [
        dict(row, truth="7", f_rel=_features()),                               # routed
        dict(row, truth="0", f_rel=_features(value=None)),                     # a printed 0 read as OTHER
        dict(row, truth="3", f_rel=_features(score=0.8)),
        dict(row, page=2, truth="4", settled=False, f_rel=_features()),        # a page never routed
        dict(row, page=2, truth="其他", crop=label, f_rel=_features(value=None)),
    ]
    s = share(rows, gate)
    assert (s["pages"], s["routed"], s["ppocr_number"], s["ppocr_label"]) == (2, 1, 3, 1)
    assert s["numbers_to_ppocr_per_page"] == 1.5
    assert s["numbers_px_share"] == round(3 * 160 / (3 * 160 + 288), 3)
    assert s["not_routed_because"] == {"value (printed 0)": 1, "score": 1, "page": 1}
