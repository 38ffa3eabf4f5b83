"""Parse printed cell text into values: counts, signed changes, 万元 amounts, blanks.

A printed blank ("", "/", "—", "-", "无") is None — a different fact from 0.
"""
from __future__ import annotations

import functools
import re


from .normalize import nfkc


@functools.cache
def blank_config() -> dict:
    """configs/values.yaml: the one list of printed blanks and each reader's named additions."""
    from .templates import config
    return config("values.yaml")


def blank_marks(addition: str | None = None) -> frozenset:
    """The printed blanks, plus one named addition of configs/values.yaml (e.g. "ocr_blank_marks")."""
    cfg = blank_config()
    return frozenset(cfg["blank_marks"]) | frozenset(cfg[addition] if addition else ())


BLANKS = blank_marks("text_blank_marks")
_NUM = re.compile(r"^(?P<sign>[+-])?\s*(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?\s*"
                  r"[(（]?\s*(?P<unit>万元|万|元|件|条|个|项|次|人次|人|宗|份)?\s*[)）]?$")


def is_value_text(text: str) -> bool:
    """True when a cell holds a number or a printed blank, not a label."""
    return parse_value(text)[0]


def parse_value(text: str, kind: str = "count") -> tuple[bool, object]:
    """(is_value, value). `kind` "amount" keeps decimals in 万元 and converts 元."""
    s = nfkc(text or "").strip().replace(" ", "").replace("\u3000", "")
    if s in BLANKS:
        return True, None
    m = _NUM.match(s)
    if not m:
        return False, None
    num = float(m.group("num").replace(",", "") + (m.group("frac") or ""))
    if m.group("sign") == "-":
        num = -num
    unit = m.group("unit")
    if kind == "amount":
        if unit == "元":
            num = round(num / 10000.0, 6)
        return True, float(num)
    if m.group("frac") and not (m.group("frac").strip(".0") == ""):
        return True, num  # a decimal where a count was expected: keep as printed
    return True, int(num)


def same_number(a, b) -> bool:
    """Two parsed values are the same printed figure: both blank, or equal numbers (within
    1e-6, for 万元 amounts); anything not a number is never the same."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return abs(float(a) - float(b)) < 1e-6
    except (TypeError, ValueError):
        return False
