"""Peer (f): the "number stream" method of existing open-source parsers of these reports.

Cut each table's section out of the text by its title, drop page numbers and item
ordinals, then pour every number, in reading order, into the template's rows × columns.
No label anchoring: a blank cell printed as "/" or lost in flattening shifts every later
value, and a digit in a header ("保留4位小数") becomes a value. This is the method gouji
must beat on flattened text; on scans it runs on the PP-OCR text (ppocr_naive).
"""
from __future__ import annotations

import re

from pipeline.templates import templates

SECTIONS = {   # title patterns, in report order
    "active": re.compile(r"二\s*[、.．]\s*主动公开政府信息情况"),
    "requests": re.compile(r"三\s*[、.．]\s*收到和处理政府信息公开申请情况"),
    "appeals": re.compile(r"四\s*[、.．][^\n]{0,12}行政复议"),
    "end": re.compile(r"五\s*[、.．]"),
}
FALLBACK = {   # when a section title is not printed, its table's first words
    "active": re.compile(r"第二十条第"),
    "requests": re.compile(r"勾稽关系|申请人情况"),
    "appeals": re.compile(r"^[\s#*|]*行政复议", re.M),
}
PAGE_NUMBER = [
    re.compile(r"^\s*[-—–]\s*\d{1,3}\s*[-—–]\s*$", re.M),        # - 3 -
    re.compile(r"第\s*\d{1,3}\s*页(\s*[/，,]?\s*共\s*\d{1,3}\s*页)?"),  # 第3页 共5页
    re.compile(r"^\s*\d{1,3}\s*/\s*\d{1,3}\s*$", re.M),           # 3/5
]
ORDINAL = re.compile(r"(?<![\d.．])\d{1,2}\s*[.．、](?!\d)")        # 1.属于国家秘密, 2、重复申请
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
YEAR = re.compile(r"((?:19|20)\d{2})\s*年")


class _At:
    """A fallback anchor: the section starts at (and includes) the table's first words."""
    def __init__(self, pos: int):
        self._p = pos

    def start(self) -> int:
        return self._p

    def end(self) -> int:
        return self._p


def sections(text: str) -> dict[str, str]:
    """Each table's text: from its title to the next title (empty when not found)."""
    out: dict[str, str] = {}
    names = ["active", "requests", "appeals"]
    pos = {}
    start = 0
    for name in names + ["end"]:
        m = SECTIONS[name].search(text, start)
        if not m and name in FALLBACK:
            m = FALLBACK[name].search(text, start)
            if m:
                m = _At(m.start())
        if m:
            pos[name] = m
            start = m.end()
    for i, name in enumerate(names):
        m = pos.get(name)
        if not m:
            out[name] = ""
            continue
        nxt = next((pos[n].start() for n in names[i + 1:] + ["end"] if n in pos), len(text))
        out[name] = text[m.end():nxt]
    return out


def numbers(section: str) -> list[str]:
    """Every number in reading order, page numbers and item ordinals dropped."""
    for rx in PAGE_NUMBER:
        section = rx.sub(" ", section)
    section = ORDINAL.sub(" ", section)
    return NUMBER.findall(section)


def slots(tpl_name: str) -> dict[str, list[str]]:
    """The template's cells in printed order, per table."""
    t = templates()[tpl_name]
    rows = [r.key for r in t.request_rows if r.expected]
    cols = [c.key for c in t.request_columns]
    return {"active": t.keys("active"),
            "requests": [f"requests/{r}/{c}" for r in rows for c in cols],
            "appeals": t.keys("appeals")}


def _value(tok: str, key: str):
    amount = key.endswith("_amount")
    if "." in tok or amount:
        return float(tok)
    return int(tok)


def parse(text: str) -> dict:
    """Result-like dict: template, year, cells {key: {"value": v}} (no confidences)."""
    m = YEAR.search(text[:2000])
    year = int(m.group(1)) if m else None
    tpl = "2021" if (year or 2021) >= 2021 else "2019"
    cells = {}
    secs = sections(text)
    for table, keys in slots(tpl).items():
        nums = numbers(secs.get(table, ""))
        for key, tok in zip(keys, nums):
            cells[key] = {"value": _value(tok, key)}
    return {"template": tpl, "year": year, "cells": cells}
