"""Reading a recogniser's output: printed cell text → values, and CTC decoding with honest
per-character alternatives.

Why here and not in ocr.py: every recogniser (PP-OCR on onnxruntime, the digit model,
row strips) decodes the same way; the solver needs ranked readings of every number
("8" 0.62 / "3" 0.35), not one string. `CTCDecoder` decodes a crop's per-step
probabilities once without constraint (the cell's text) and once restricted to the
characters a numeric cell can hold (top alternatives per character, possible dropped and
missed characters); `candidates` turns those into whole readings.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from . import values
from .pdf import config

BLANK_MARKS = values.parse_rules("recognised").blanks   # configs/values.yaml: shared blanks + 一 (a read dash)
NUMERIC_CHARS = "0123456789.-+/—–万元件项个次()无"
# characters the recogniser confuses with digits in a numeric cell: their mass goes to the digit
CONFUSABLE = {"O": "0", "o": "0", "〇": "0", "D": "0", "●": "0", "○": "0", "。": "0", "°": "0", "l": "1", "I": "1", "|": "1", "丨": "1",
              "－": "-", "一": "—", "（": "(", "）": ")", "／": "/", "，": "", ",": "", "、": "."}


def normalise_text(text: str) -> str:
    t = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", t)


def parse_value(text: str):
    """A recogniser's cell text → (ok, value): the one parser (values.parse_value) with the
    recogniser's rules (configs/values.yaml parse_rules.recognised) and the text deciding
    count or amount: '211.509万' → 211.509, '152790元' → 15.279 (元 → 万元), '16368(件)' →
    16368, '---' → None (a dash read as several), '05' refused (a speck or a split)."""
    return values.parse_value(text, "auto", rules="recognised")


def is_numeric_text(text: str) -> bool:
    t = normalise_text(text)
    t2 = "".join(CONFUSABLE.get(c, c) for c in t)
    ok, _ = parse_value(t2)
    return ok and bool(t)


# -- CTC decoding -------------------------------------------------------------------------

@dataclass
class RecResult:
    """One crop's recognition: text, mean confidence, and numeric-constrained slots.

    `slots` are per-position alternatives [(char, p), ...] from the numeric-constrained
    decode; "" means "no character here" (a possible speck or a missed character).
    """
    text: str
    score: float
    char_probs: list[list[tuple[str, float]]] = field(default_factory=list)
    slots: list[list[tuple[str, float]]] = field(default_factory=list)


def top_desc(row: np.ndarray, k: int) -> np.ndarray:
    """Indices of `row`'s k largest values, largest first: what `np.argsort(row)[::-1][:k]`
    gives, without sorting the whole row (18,710 characters per step for PP-OCR: the full
    sort of every emitted character's step was ~85 % of decoding, docs/speed.md). A value
    tied at the cut or inside the top k takes the full sort, so the order is the same."""
    if k >= row.size:
        return np.argsort(row)[::-1][:k]
    part = np.argpartition(row, row.size - k)[row.size - k:]
    vals = row[part]
    if np.unique(vals).size < k or np.count_nonzero(row == vals.min()) > 1:
        return np.argsort(row)[::-1][:k]
    return part[np.argsort(vals)[::-1]]


class CTCDecoder:
    """Greedy CTC decoding with per-character top-k alternatives."""

    def __init__(self, charset: list[str]):
        self.charset = charset            # index 0 = blank
        self.index = {c: i for i, c in enumerate(charset)}
        cfg = config()["decode"]
        self.top_k = cfg["top_k"]
        self.min_alt = cfg["min_alt_prob"]
        self.insert_prob = cfg["insert_prob"]
        num = [0]
        self.num_chars = ["<blank>"]
        for c in NUMERIC_CHARS:
            if c in self.index:
                num.append(self.index[c])
                self.num_chars.append(c)
        self.num_idx = np.array(num)
        self.other = len(self.num_chars)      # column of the "not a number" symbol
        self.num_chars_ext = self.num_chars + ["?"]
        # confusables fold into their digit's column
        self.fold = []
        for c, d in CONFUSABLE.items():
            if c in self.index and d in self.num_chars:
                self.fold.append((self.index[c], self.num_chars.index(d)))

    def decode(self, probs: np.ndarray) -> RecResult:
        """probs: (T, C) softmax outputs of one crop (padding steps included)."""
        idx = probs.argmax(1)
        best = probs[np.arange(len(idx)), idx]      # the max, without a second pass
        text, confs, char_probs = [], [], []
        prev = 0
        for t, i in enumerate(idx):
            if i != 0 and i != prev:
                text.append(self.charset[i] if i < len(self.charset) else "")
                confs.append(float(best[t]))
                top = top_desc(probs[t], self.top_k)
                char_probs.append([(self.charset[j] if j else "", float(probs[t, j])) for j in top
                                   if probs[t, j] >= self.min_alt])
            prev = i
        return RecResult("".join(text), float(np.mean(confs)) if confs else 0.0, char_probs,
                         self.numeric_slots(probs))

    def numeric_slots(self, probs: np.ndarray) -> list[list[tuple[str, float]]]:
        q = probs[:, self.num_idx].copy()
        for src, dst in self.fold:
            q[:, dst] += probs[:, src]
        # every other character keeps its mass as one "not a number" symbol ('?'), so a
        # Chinese character never turns into a confident digit by renormalisation
        other = np.clip(1.0 - q.sum(1, keepdims=True), 0.0, 1.0)
        q = np.hstack([q, other])
        q /= np.maximum(q.sum(1, keepdims=True), 1e-9)
        idx = q.argmax(1)
        slots: list[list[tuple[str, float]]] = []
        T = len(idx)
        t = 0
        prev = 0
        while t < T:
            i = idx[t]
            if i == 0:
                # a blank run: a character may hide under it
                s = t
                while t < T and idx[t] == 0:
                    t += 1
                # steps next to an emitted run only carry that character's tail: skip them,
                # and never insert the neighbours' own character (that is the same glyph)
                seg = q[s + 1:t - 1, 1:].copy()
                nxt = idx[t] if t < T else 0
                for j in (prev, nxt):
                    if j:
                        seg[:, j - 1] = 0
                if seg.size:
                    k = np.unravel_index(seg.argmax(), seg.shape)
                    p = float(seg[k])
                    if p >= self.insert_prob:
                        slots.append([("", 1.0 - p), (self.num_chars_ext[k[1] + 1], p)])
                prev = 0
                continue
            s = t
            while t < T and idx[t] == i:
                t += 1
            if i == prev:
                continue
            peak = s + int(q[s:t, i].argmax())
            row = q[peak]
            order = np.argsort(row)[::-1][: self.top_k + 1]
            alts = [("" if j == 0 else self.num_chars_ext[j], float(row[j])) for j in order
                    if row[j] >= self.min_alt]
            z = sum(p for _, p in alts) or 1.0
            slots.append([(c, p / z) for c, p in alts])
            prev = i
        return slots


def candidates(slots: list[list[tuple[str, float]]], beam: int | None = None,
               max_n: int | None = None) -> list[tuple[object, float]]:
    """Whole-value readings from per-position alternatives: product of probabilities,
    strings that parse to the same value merged, renormalised over the parseable ones."""
    cfg = config()["decode"]
    beam = beam or cfg["beam"]
    max_n = max_n or cfg["max_candidates"]
    hyps: list[tuple[str, float]] = [("", 1.0)]
    for alts in slots:
        nxt: dict[str, float] = {}
        for s, p in hyps:
            for c, q in alts:
                nxt[s + c] = nxt.get(s + c, 0.0) + p * q
        hyps = sorted(nxt.items(), key=lambda kv: -kv[1])[:beam]
    values: dict = {}
    for s, p in hyps:
        if not s:
            continue              # ink was seen: "nothing" is not a reading
        ok, v = parse_value(s)
        if ok:
            key = (type(v).__name__, v)
            values[key] = values.get(key, 0.0) + p
    total = sum(values.values())
    if total <= 0:
        return []
    out = sorted(((k[1], p / total) for k, p in values.items()), key=lambda kv: -kv[1])
    out = [(v, p) for v, p in out if p >= cfg["min_alt_prob"]][:max_n]
    z = sum(p for _, p in out)
    return [(v, round(p / z, 6)) for v, p in out]
