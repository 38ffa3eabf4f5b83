"""Template text first: a small CRNN that knows only the template's label characters
(models/labels/labels.onnx), ~3 ms a label crop where PP-OCR takes ~60 ms (its model card).

Why: on a scanned table page PP-OCR spends ~90 % of its glyphs on row labels and column
headers (docs/speed.md, session 32), and those are the national template's fixed wording.
The model reads a label or header line crop; its reading is kept only when it is *template
text* — a piece of a printed label the project knows (`lexicon`: the templates' labels,
variants, numbering and parents, keys_train's real-world wordings, `labels.extra`), with at
least `min_cjk` Chinese characters — and every character is read surely (`min_char_prob`).
Anything else (a wording the templates do not know, a number, a blank mark, noise) goes to
PP-OCR as before. A misreading must therefore land on another stretch of template text to
pass, and classify receives the very words it was trained on. Trained by
training/train_labels.py on rendered template text and the grid's own train-split crops
(model card beside the weights); runs on onnxruntime, never torch.
"""
from __future__ import annotations

import functools
import re

import numpy as np

from .ctc import RecResult, normalise_text
from .pdf import config

CJK = re.compile(r"[\u4e00-\u9fff]")
NUMERALS = "一二三四五六七八九十"


def settings() -> dict:
    """configs/ocr.yaml `labels:`."""
    return config().get("labels", {})


def numbered(text: str, number: str | None) -> list[str]:
    """The ways a numbered label is printed: （一）x, (一) x, 1.x, 1. x, 一、x."""
    if not number:
        return [text]
    inner = number.strip("（）() ")
    if number[0] in "（(":
        return [f"（{inner}）{text}", f"({inner}) {text}", text]
    if inner.isdigit():
        return [f"{inner}.{text}", f"{inner}. {text}", f"{inner}、{text}", text]
    return [f"{inner}、{text}", text]


@functools.lru_cache(maxsize=1)
def printed_texts() -> tuple[str, ...]:
    """Every label, header and title text as reports print it (raw, not normalised): the
    training texts of training/train_labels.py and, normalised, the gate's lexicon."""
    from .templates import config as yaml_config, templates
    out: list[str] = []
    for t in templates().values():
        labels = [lab for s in t.sections for lab in s.rows + s.columns]
        labels += list(t.request_rows + t.request_columns + t.appeal_groups + t.appeal_columns)
        out += [s.label for s in t.sections]
        for lab in labels:
            for text in (lab.label,) + tuple(lab.variants):
                out += numbered(text, lab.number)
            if lab.parent:
                out.append(lab.parent)
    for cls, words in (yaml_config("keys_train.yaml").get("wordings") or {}).items():
        if cls not in ("none", "legacy"):
            out += list(words)
    for title in settings().get("titles", []):
        out += [title] + [f"{n}、{title}" for n in NUMERALS[:6]]
    out += list(settings().get("extra", []))
    return tuple(dict.fromkeys(x for x in out if x))


def normalised(text: str) -> str:
    """What the model reads for a printed text (its training target): NFKC, no whitespace,
    no quote marks (危及“三安全一稳定” and 危及"三安全一稳定" read alike)."""
    return re.sub(r"[“”\"']", "", normalise_text(text))


@functools.lru_cache(maxsize=1)
def lexicon() -> str:
    """The normalised printed texts joined by a separator no reading contains: a reading is
    template text when it is a substring of this."""
    return "\n".join(dict.fromkeys(normalised(t) for t in printed_texts()))


def template_text(text: str, cfg: dict | None = None) -> bool:
    """A normalised reading that is a stretch of some printed label with enough Chinese in it."""
    cfg = settings() if cfg is None else cfg
    return (len(CJK.findall(text)) >= cfg.get("min_cjk", 2) and "\n" not in text and text in lexicon())


@functools.lru_cache(maxsize=1)
def reader():
    from .digits import DigitReader
    return DigitReader(settings()["model"])


def sure(r: RecResult, cfg: dict) -> bool:
    """A line read with every character at least `min_char_prob` (and something read)."""
    probs = [cp[0][1] for cp in r.char_probs if cp]
    return bool(r.text) and len(probs) == len(r.text) and min(probs) >= cfg.get("min_char_prob", 0.5)


def read_template_cells(crops: list[np.ndarray], jobs: list, results: list, cost=None, cfg: dict | None = None) -> None:
    """Each cell not read yet (`jobs`: (cell, lines) in grid._recognise order, `results`: None
    where unread) whose lines the label model reads surely and whose joined reading is template
    text gets those readings; every other cell is left to PP-OCR untouched (a cell is taken
    whole or not at all, so the joined header reads and label cuts after this see whole cells).
    A one-line cell narrower than `min_ratio` × its height (a number, a mark, one glyph) is not
    tried. `cost` (a PageCost) counts the line crops taken."""
    cfg = settings() if cfg is None else cfg
    if not crops or not cfg.get("enabled"):
        return
    spans, k = [], 0
    for _, n in jobs:
        if n and all(r is None for r in results[k:k + n]) and (
                n > 1 or crops[k].shape[1] >= cfg.get("min_ratio", 1.5) * crops[k].shape[0]):
            spans.append((k, n))
        k += n
    todo = [j for a, n in spans for j in range(a, a + n)]
    read = dict(zip(todo, reader().recognise([crops[j] for j in todo]))) if todo else {}
    for a, n in spans:
        rs = [read[j] for j in range(a, a + n)]
        if all(sure(r, cfg) for r in rs) and template_text("".join(r.text for r in rs), cfg):
            results[a:a + n] = rs
            if cost is not None:
                cost.templated += n


def sure_labels(crops: list[np.ndarray], cfg: dict | None = None, model=None) -> list[RecResult | None]:
    """The label model's (or `model`'s, a DigitReader) reading of each line crop that is template
    text read surely, else None. Only crops wider than `min_ratio` × their height are tried (a
    short crop is a number, a blank mark or one glyph: PP-OCR's, and cheap)."""
    cfg = settings() if cfg is None else cfg
    out: list[RecResult | None] = [None] * len(crops)
    if not crops or not cfg.get("enabled"):
        return out
    todo = [k for k, c in enumerate(crops) if c.shape[1] >= cfg.get("min_ratio", 1.5) * c.shape[0]]
    for k, r in zip(todo, (model or reader()).recognise([crops[k] for k in todo]) if todo else []):
        if sure(r, cfg) and template_text(r.text, cfg):
            out[k] = r
    return out
