"""Document facts outside the tables: title (agency, year) and template (2019 / 2021,
pre-2019)."""
from __future__ import annotations

import re

from ..templates import config, templates
from .mappers import short_match
from .rows import Row

_TITLE = re.compile(r"(?P<agency>[^\s#*，。,:：]{2,40}?)\s*(?P<year>(?:19|20)\d{2})\s*年度?\s*(?:政府)?\s*(?:信\s*息|资\s*讯)\s*公\s*开"
                    r"\s*(?:工\s*作)?\s*(?:年\s*度)?\s*报\s*告")


def read_title(text: str) -> tuple[str | None, int | None]:
    """Agency and year from the report's title (the first line naming the report)."""
    from ..normalize import simplified
    head = simplified("\n".join(text.splitlines()[:60]))
    m = _TITLE.search(re.sub(r"[#*]+", " ", head))
    if not m:
        return None, None
    agency = re.sub(r"^(?:关于)?", "", m.group("agency")).strip(" 　")
    return agency or None, int(m.group("year"))


def pre2019(text: str) -> bool:
    markers = config("detect.yaml").get("pre2019_markers", [])
    return sum(1 for mk in markers if mk in text) >= 2


def detect_active_template(rows: list[Row]) -> str | None:
    """2019 vs 2021 from the active table's printed column labels."""
    score = {}
    for name, t in templates().items():
        classes = [f"active.col:{c.key}" for s in t.sections for c in s.columns]
        own = set(classes) - {f"active.col:{c.key}" for n2, t2 in templates().items() if n2 != name
                              for s in t2.sections for c in s.columns}
        cells = [c for r in rows for c in r.labels]
        score[name] = sum(1 for c in cells if short_match(c.text, sorted(own), 0.8))
    best = max(score, key=score.get)
    return best if score[best] > 0 else None


def active_template_by_rows(rows: list[Row]) -> str | None:
    """2019 vs 2021 when the active table's labels cannot be read: the one template whose
    row count equals the value rows of a recovered grid (2019 prints 8, 2021 prints 6)."""
    n = sum(1 for r in rows if r.has_values and r.aligned)
    hits = [name for name, t in templates().items() if sum(len(s.rows) for s in t.sections) == n]
    return hits[0] if len(hits) == 1 else None
