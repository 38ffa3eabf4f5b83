"""Numbers of the stream that are words, not cells: the year of a running header
(`某某局 2024 年政府信息公开工作年度报告`, on one line or broken after the year)."""
from __future__ import annotations

import re

from .tokens import Item

_YEAR = re.compile(r"^(19|20)\d\d$")
_TITLE = re.compile(r"^\s*年.*报告")


def drop_prose(items: list[Item]) -> list[Item]:
    """The stream without value tokens that read as the year of the report's title
    (`某某局 2024 年政府信息公开工作年度报告`, a running header, on one line or broken after
    the year): a year followed by a fragment 年…报告. A year inside a sentence (`2020 年，
    受理…`) stays (its regions' readings are pinned by the seeds). Positions renumbered."""
    out = [it for n, it in enumerate(items)
           if not (it.kind == "V" and _YEAR.match(it.text) and n + 1 < len(items)
                   and items[n + 1].kind == "F" and _TITLE.match(items[n + 1].text))]
    for i, it in enumerate(out):
        it.pos = i
    return out
