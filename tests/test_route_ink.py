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
