"""Classify stage: give recovered cells canonical keys.

Two parts:
* a *mapper* scores a cell's text against label classes (``requests.row:granted`` …,
  see templates.label_classes). FuzzyMapper (normalised fuzzy matching) is the
  baseline; the trained classifier (pipeline/keymodel.py) has the same interface.
* the table decoder (below) uses the table's structure: rows follow the template's
  order, so rows and columns are assigned jointly by monotone alignment.
"""
from __future__ import annotations

import difflib
import functools

import numpy as np

from .normalize import normalize
from .templates import all_label_classes


class FuzzyMapper:
    """Baseline mapper: best normalised similarity to any printed label or variant.

    scikit-learn style: fit is a no-op (the labels come from the templates),
    predict_proba returns one row per text over ``classes + ["none"]``.
    """
    name = "fuzzy"
    none_score = 0.55    # similarity below which "not a label" wins
    temperature = 0.05

    def __init__(self, label_texts: dict[str, tuple[str, ...]] | None = None):
        self.label_texts = label_texts or all_label_classes()
        self._norm = {k: tuple(normalize(t) for t in v) for k, v in self.label_texts.items()}

    def fit(self, texts=None, labels=None):
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

    def predict_proba(self, texts: list[str], classes: list[str]) -> np.ndarray:
        sims = np.array([[self.similarity(t, c) for c in classes] + [self.none_score] for t in texts],
                        dtype=float).reshape(len(texts), len(classes) + 1)
        z = (sims - sims.max(axis=1, keepdims=True)) / self.temperature
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, texts: list[str], classes: list[str]) -> list[str]:
        p = self.predict_proba(texts, classes)
        names = list(classes) + ["none"]
        return [names[i] for i in p.argmax(axis=1)]

    def score(self, texts: list[str], labels: list[str], classes: list[str]) -> float:
        pred = self.predict(texts, classes)
        return float(np.mean([a == b for a, b in zip(pred, labels)])) if labels else 0.0
