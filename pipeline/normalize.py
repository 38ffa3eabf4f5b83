"""Text normalisation shared by readers and mappers: full-width → ASCII, traditional →
simplified (table in configs/normalize.yaml), ordinals and layout noise removed.
"""
from __future__ import annotations

import functools
import re
import unicodedata

from .templates import config


@functools.lru_cache(maxsize=1)
def _tables():
    cfg = config("normalize.yaml")
    t = "".join(cfg.get("traditional", "").split())
    trad = {ord(t[i]): t[i + 1] for i in range(0, len(t) - 1, 2)}
    strip = {ord(c): None for c in cfg.get("strip", "")}
    return trad, strip


def nfkc(text: str) -> str:
    """Full-width digits, letters and punctuation to their ASCII forms."""
    return unicodedata.normalize("NFKC", text)


_ORDINAL = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[)）]|\d{1,2}\s*[.、．](?!\d)|[（(]\d{1,2}[)）])\s*")
_PUNCT = re.compile(r"[\s,，、:：;；()（）\[\]【】“”\"'‘’。.．/／\\\-—–_]+")


def simplified(text: str) -> str:
    """Full-width folded and traditional characters mapped to simplified, layout kept."""
    return nfkc(text).translate(_tables()[0])


def normalize(text: str, keep_ordinals: bool = False) -> str:
    """Canonical form of a label for matching: NFKC, simplified, no spaces or punctuation."""
    trad, strip = _tables()
    s = nfkc(text).translate(trad).translate(strip)
    if not keep_ordinals:
        for _ in range(3):  # "三、(一)1." nests up to three ordinals
            s2 = _ORDINAL.sub("", s)
            if s2 == s:
                break
            s = s2
    return _PUNCT.sub("", s)
