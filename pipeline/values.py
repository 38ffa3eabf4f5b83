"""Parse cell text into values: counts, signed changes, 万元 amounts, blanks — the one
value parser (issue #19).

A printed blank ("", "/", "—", "-", "无") is None — a different fact from 0. Every reader
parses through `parse_value`; how a recogniser's reading (pipeline/ctc.py) or a value typed
in the review page (pipeline/review_files.py) differs from printed text is data: the named
rule sets under `parse_rules` in configs/values.yaml.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .normalize import nfkc

KINDS = ("count", "amount", "auto")
_WHITESPACE = ("all", "spaces", "ends")
_COMMAS = ("grouping", "drop")
_AMOUNT_UNITS = ("万元", "万")


@functools.cache
def blank_config() -> dict:
    """configs/values.yaml: the one list of printed blanks and each reader's named additions."""
    from .templates import config
    return config("values.yaml")


def blank_marks(addition: str | None = None) -> frozenset:
    """The printed blanks, plus one named addition of configs/values.yaml (e.g. "ocr_blank_marks")."""
    cfg = blank_config()
    extra = cfg[addition] if addition else ()
    if isinstance(extra, dict):     # {add, drop}: a reader that must not take some shared marks
        return (frozenset(cfg["blank_marks"]) - frozenset(extra.get("drop", ()))) | frozenset(extra.get("add", ()))
    return frozenset(cfg["blank_marks"]) | frozenset(extra)


@dataclass(frozen=True)
class ParseRules:
    """One named rule set of configs/values.yaml `parse_rules` (what each field means is
    written there)."""
    name: str
    blanks: frozenset
    whitespace: str
    commas: str
    dash_run: frozenset
    leading_zero: bool
    units: tuple[str, ...]
    bare_brackets: bool
    pattern: re.Pattern


@functools.cache
def parse_rules(name: str = "printed") -> ParseRules:
    """The named rule set, its number pattern built once."""
    spec = blank_config()["parse_rules"][name]
    if spec["whitespace"] not in _WHITESPACE or spec["commas"] not in _COMMAS:
        raise ValueError(f"configs/values.yaml parse_rules.{name}: whitespace {spec['whitespace']!r}"
                         f" or commas {spec['commas']!r} unknown")
    units = "|".join(map(re.escape, spec["units"]))
    if not units:
        tail = ""
    elif spec["bare_brackets"]:
        tail = rf"\s*[(（]?\s*(?P<unit>{units})?\s*[)）]?"
    else:
        tail = rf"(?:\s*[(（]?\s*(?P<unit>{units})\s*[)）]?)?"
    gap = r"\s*" if spec["whitespace"] == "spaces" else ""     # between a sign and its digits
    pattern = re.compile(rf"^(?P<sign>[+-])?{gap}(?P<num>\d{{1,3}}(?:,\d{{3}})+|\d+)(?P<frac>\.\d+)?{tail}$")
    return ParseRules(name, blank_marks(spec["blanks"]), spec["whitespace"], spec["commas"],
                      frozenset(spec["dash_run"]), bool(spec["leading_zero"]), tuple(spec["units"]),
                      bool(spec["bare_brackets"]), pattern)


BLANKS = parse_rules("printed").blanks


def is_value_text(text: str) -> bool:
    """True when a cell holds a number or a printed blank, not a label."""
    return parse_value(text)[0]


def parse_value(text: str, kind: str = "count", rules: str = "printed") -> tuple[bool, object]:
    """Cell text → (is_value, value): None for a blank, an int count or a float amount.

    `kind` count: an int (a decimal where a count was expected stays as printed); amount:
    a float in 万元 ('152790元' → 15.279); auto: the text decides — a decimal point or
    元/万/万元 makes an amount, else a count. `rules` names the reader's rule set
    (configs/values.yaml parse_rules: printed | recognised | typed)."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    r = parse_rules(rules)
    s = nfkc(text or "")
    if r.whitespace == "all":
        s = re.sub(r"\s+", "", s)
    elif r.whitespace == "spaces":
        s = s.strip().replace(" ", "")
    else:
        s = s.strip()
    if r.commas == "drop":
        s = s.replace(",", "")
    if s in r.blanks or (r.dash_run and set(s) <= r.dash_run):
        return True, None
    m = r.pattern.match(s)
    if not m:
        return False, None
    sign, num, frac = m.group("sign") or "", m.group("num").replace(",", ""), m.group("frac") or ""
    unit = m.groupdict().get("unit")
    if not r.leading_zero and not sign and len(num) > 1 and num.startswith("0"):
        return False, None
    value = float(num + frac)
    if sign == "-":
        value = -value
    if kind == "amount" or (kind == "auto" and (frac or unit == "元" or unit in _AMOUNT_UNITS)):
        return True, round(value / 10000.0, 6) if unit == "元" else float(value)
    if frac and frac.strip(".0") != "":
        return True, value    # a decimal where a count was expected: keep as printed
    return True, int(sign + num) if not frac else int(value)


def same_number(a, b) -> bool:
    """Two parsed values are the same printed figure: both blank, or equal numbers (within
    1e-6, for 万元 amounts); anything not a number is never the same."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return abs(float(a) - float(b)) < 1e-6
    except (TypeError, ValueError):
        return False
