"""Key mappers: a cell's text scored against label classes (``requests.row:granted`` …).

One contract (``Mapper``): ``predict_proba(texts, classes, context=None)`` returns one row per
text over ``classes + ["none"]``. FuzzyMapper (normalised fuzzy matching) is the baseline
and reads no context; the trained classifier (pipeline/keymodel.py) uses it.
"""
from __future__ import annotations

import difflib
import functools
from typing import Protocol, runtime_checkable

import numpy as np

from ..normalize import normalize
from ..templates import all_label_classes


@runtime_checkable
class Mapper(Protocol):
    """What the decoders ask of a mapper (FuzzyMapper, keymodel.KeyClassifier): one row of
    probabilities per text over ``classes + ["none"]``. ``context`` (one dict a text: table,
    row, header, col, prev) is evidence a mapper may use or ignore."""
    name: str

    def fit(self, texts, labels, context=None, sample_weight=None) -> "Mapper":
        ...

    def predict_proba(self, texts: list[str], classes: list[str], context: list[dict] | None = None) -> np.ndarray:
        ...

    def predict(self, texts: list[str], classes: list[str], context: list[dict] | None = None) -> list[str]:
        ...


ANCHOR_SIM = 0.8      # a short cell this close to a header label starts a table region


class FuzzyMapper:
    """Baseline mapper: best normalised similarity to any printed label or variant.

    scikit-learn style: fit is a no-op (the labels come from the templates),
    predict_proba returns one row per text over ``classes + ["none"]``. It takes the
    Mapper arguments and reads no context: a label's words are all it scores.
    """
    name = "fuzzy"
    none_score = 0.55    # similarity below which "not a label" wins
    temperature = 0.05

    def __init__(self, label_texts: dict[str, tuple[str, ...]] | None = None):
        self.label_texts = label_texts or all_label_classes()
        self._norm = {k: tuple(normalize(t) for t in v) for k, v in self.label_texts.items()}

    def fit(self, texts=None, labels=None, context=None, sample_weight=None):
        return self

    @functools.lru_cache(maxsize=65536)
    def similarity(self, text: str, cls: str) -> float:
        t = normalize(text)
        if not t:
            return 0.0
        best = 0.0
        for lab in self._norm.get(cls, ()):
            if not lab:
                continue
            if t == lab:
                return 1.0
            r = difflib.SequenceMatcher(None, t, lab, autojunk=False).ratio()
            if len(lab) >= 2 and lab in t:      # label inside a longer (glued) text
                r = max(r, 0.9 * len(lab) / max(len(t), len(lab)) + 0.08)
            if len(t) >= 4 and t in lab:        # truncated label
                r = max(r, 0.6 + 0.35 * len(t) / len(lab))
            best = max(best, r)
        return best

    def predict_proba(self, texts: list[str], classes: list[str], context: list[dict] | None = None) -> np.ndarray:
        sims = np.array([[self.similarity(t, c) for c in classes] + [self.none_score] for t in texts],
                        dtype=float).reshape(len(texts), len(classes) + 1)
        z = (sims - sims.max(axis=1, keepdims=True)) / self.temperature
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, texts: list[str], classes: list[str], context: list[dict] | None = None) -> list[str]:
        p = self.predict_proba(texts, classes, context)
        names = list(classes) + ["none"]
        return [names[i] for i in p.argmax(axis=1)]

    def score(self, texts: list[str], labels: list[str], classes: list[str],
              context: list[dict] | None = None) -> float:
        pred = self.predict(texts, classes, context)
        return float(np.mean([a == b for a, b in zip(pred, labels)])) if labels else 0.0


FUZZY = FuzzyMapper()


def short_match(text: str, classes: list[str], thr: float = ANCHOR_SIM) -> str | None:
    """Best class for a short header-like cell, or None."""
    n = normalize(text)
    if not n or len(n) > 40:
        return None
    best, bc = 0.0, None
    for c in classes:
        s = FUZZY.similarity(text, c)
        if s > best:
            best, bc = s, c
    return bc if best >= thr else None


def get_mapper(name: str = "auto"):
    """The key mapper: the shipped trained classifier, or the fuzzy baseline."""
    if name in ("auto", "classifier"):
        try:
            from ..keymodel import load_default
            m = load_default()
        except ImportError:
            m = None
        if m is not None:
            return m
        if name == "classifier":
            raise RuntimeError("no trained key classifier is shipped under models/keys/")
    return FUZZY
