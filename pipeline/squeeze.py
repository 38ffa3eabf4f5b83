"""Long text lines read narrower: a label or header line squeezed horizontally before PP-OCR.

Why: the recogniser's cost is linear in its padded input width (~0.1 ms per px per crop at
height 48, docs/speed.md) and row labels and column headers are ~75 % of its pixels on a
table page, numbers ~15-28 % (session 29d). A CJK glyph at height 48 is ~48 px wide and the
model's CTC steps are 8 px, so at `factor` 0.6 a glyph still spans ~3-4 steps. Label and
header texts only have to be good enough for `classify` (trained on OCR noise) to map them
to keys; they are not exported character by character.

Which crops: decided before reading, from the crop's shape alone — a line wider than
`min_ratio` × its height is text (a table's numbers, cut to their ink with their height of
white either side, are ~2.5 × as wide as high; the widest numbers seen, amounts with 万元, ~6.6).
Every other crop is handed back as the same array, so `ocr.RapidOCREngine.padding_of` keeps
its padding (and its reading) as when nothing is squeezed (grid._recognise).

`label:` a shorter line is squeezed too when its cell lies left of the table's first column
that the digit model read a number in (`label_side`: the row labels, known by position once
the digit-first routing has read the sure numbers, before PP-OCR reads anything); squeezed
crops are batched apart and padded to at least `min_width` px (the recogniser's usual 160 px
minimum would pad a squeezed short label back to its width).
"""
from __future__ import annotations

import numpy as np

from .pdf import config

HEIGHT = 48          # the recogniser's input height (ocr._resize_norm)


def squeeze_config() -> dict:
    """configs/ocr.yaml `squeeze:`."""
    return config().get("squeeze", {})


def squeeze(crop: np.ndarray, factor: float) -> np.ndarray:
    """The crop at the recogniser's height (HEIGHT) and `factor` × the width that keeps its
    shape, resampled in one step: a 29 px line at 0.6 keeps its horizontal pixels one for one
    (0.6 × 48 / 29 ≈ 1), where squeezing it first and scaling it up after (ocr._resize_norm)
    averaged a thinned scan's 1 px strokes into grey (test_00003 heavy lost rows so)."""
    import cv2
    h, w = crop.shape[:2]
    nw = max(1, int(round(w * factor * HEIGHT / max(1, h))))
    shrink = nw < w and HEIGHT < h
    return cv2.resize(crop, (nw, HEIGHT), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def squeezable(crop: np.ndarray, cfg: dict) -> bool:
    """A line crop wider than `min_ratio` × its height (text, not a number), at least
    `min_height` px high (a low wide crop is a speck row or a rule's remnant, not a line of
    text) and with ink darker than `max_ink` (a faint or thinned scan's crop — its strokes, or
    the noise a faint value cell holds — is read as it is)."""
    return (crop.shape[0] >= cfg.get("min_height", 0) and crop.shape[1] > cfg["min_ratio"] * max(1, crop.shape[0])
            and int(crop.min()) < cfg.get("max_ink", 256))


def label_side(jobs: list, results: list) -> list[str | None] | None:
    """Per crop of `jobs` ((cell, lines) in grid._recognise), what its cell is by position
    once the digit model has read the sure numbers (`results`: the routed crops' readings,
    None elsewhere): "label" left of the first column it read a number in, "header" a line
    of a wrapped cell (2+ lines) above the first row it read a number in, else None.
    None when neither `label` nor `header` is enabled, or when the digit model read fewer than
    `min_routed` × the one-line crops (its first column may then be any value column)."""
    from .ctc import is_numeric_text
    cfg = squeeze_config()
    on = {k for k in ("label", "header") if cfg.get(k, {}).get("enabled")}
    if not cfg.get("enabled") or not on:
        return None
    at = [(getattr(cell, "row", None), getattr(cell, "col", None), n) for cell, n in jobs for _ in range(n)]
    num = [a for a, r in zip(at, results) if r is not None and a[1] is not None and is_numeric_text(r.text)]
    single = sum(n == 1 for _, _, n in at)
    if not num or len(num) < cfg.get("min_routed", 0) * single:
        return None         # few numbers routed (a thinned scan): a value column left of them looks like labels
    col, row = min(a[1] for a in num), min(a[0] for a in num)
    return ["label" if "label" in on and c is not None and c < col else
            "header" if "header" in on and n >= 2 and r is not None and r < row else None for r, c, n in at]


def min_width() -> int:
    """Least padded width (px at height 48) of a squeezed crop; 0: the recogniser's min_width."""
    cfg = squeeze_config()
    return int(cfg.get("min_width", 0)) if cfg.get("enabled") else 0


def narrowed(crops: list[np.ndarray], cost=None, where: list | None = None) -> list[np.ndarray]:
    """`crops` with each long text line squeezed (`squeeze.enabled`), and with `where` (per
    crop "label", "header" or None by position, `label_side`) each label or header line that
    passes its block (`label:` / `header:`), at its block's `factor`; the others — and all of
    them when off — the very same arrays. `cost` (a PageCost) counts the crops squeezed."""
    cfg = squeeze_config()
    if not cfg.get("enabled"):
        return crops
    where = where if where is not None else [None] * len(crops)
    out = []
    for c, w in zip(crops, where):
        blk = cfg.get(w, {}) if w else {}
        if squeezable(c, cfg):
            c = squeeze(c, cfg["factor"])
        elif blk.get("enabled") and squeezable(c, blk):
            c = squeeze(c, blk.get("factor", cfg["factor"]))
        out.append(c)
    if cost is not None:
        cost.squeezed += sum(a is not b for a, b in zip(out, crops))
    return out


# -- labels read shorter ------------------------------------------------------------------------
# A row label is never exported: classify needs only its key, and the template's labels are told
# apart by their first glyphs (`（二）部分公开…`, `申请人无正当理由…` / `申请人逾期未按…`). A label cell
# by position (label_side) is read up to its first `label.max_glyphs` glyphs: its lines in order,
# the line that reaches the bar cut in a white gap between glyphs, the lines after it not read.

INK = 200            # a pixel darker than this is ink (the cleaned crops' paper is 255; strips.fit)


def ink_box(crop: np.ndarray) -> tuple[int, int, int, int] | None:
    """(first ink column, last ink column, glyph height, ink column runs) of a line crop, None when
    blank. The glyph height is its ink's rows, at least `label.glyph_height` × the crop's height (a
    flat glyph, 一, is as wide as a tall one); runs: stretches of inked columns between white ones."""
    g = crop if crop.ndim == 2 else crop.min(axis=2)
    ink = g < INK
    on = ink.any(0)
    cols = np.flatnonzero(on)
    if not cols.size:
        return None
    rows = np.flatnonzero(ink.any(1))
    runs = int(on[0]) + int(np.count_nonzero(on[1:] & ~on[:-1]))
    least = squeeze_config().get("label", {}).get("glyph_height", 0.6)
    return int(cols[0]), int(cols[-1]), max(int(rows[-1] - rows[0] + 1), int(least * g.shape[0])), runs


def glyphs_of(crop: np.ndarray) -> float:
    """How many glyphs wide a line's ink is: its ink width / its glyph height (a CJK glyph's pitch
    is about its height), at most its ink runs (a speck beside one glyph is no second glyph's
    width; touching glyphs count fewer: more of the label is read, never less)."""
    box = ink_box(crop)
    return 0.0 if box is None else min((box[1] - box[0] + 1) / max(1, box[2]), box[3])


def cut_glyphs(crop: np.ndarray, n: float) -> np.ndarray:
    """The line cut after about its first `n` glyphs: at the middle of the widest run of white
    columns within ± `label.cut_window` glyphs of there (the nearest of equal runs), its right margin kept
    as it was; the very same array when it is not wider, or no white column lies there (ink
    is never cut through)."""
    box = ink_box(crop)
    if box is None:
        return crop
    x0, x1, h, _ = box
    window = squeeze_config().get("label", {}).get("cut_window", 0.6)
    target = x0 + n * h
    if target >= x1 - 0.5 * h:
        return crop
    g = crop if crop.ndim == 2 else crop.min(axis=2)
    a, b = max(x0 + 1, int(target - window * h)), min(x1, int(target + window * h) + 1)
    white = ~(g[:, a:b] < INK).any(0)
    best = None
    j = 0
    while j < len(white):
        if white[j]:
            k = j
            while k < len(white) and white[k]:
                k += 1
            mid = a + (j + k) / 2
            key = (k - j, -abs(mid - target))
            if best is None or key > best[0]:
                best = (key, int(mid))
            j = k
        else:
            j += 1
    if best is None:
        return crop
    return np.concatenate([crop[:, :best[1]], crop[:, x1 + 1:]], axis=1)


def shortened(crops: list[np.ndarray], jobs: list, results: list, where: list | None, cost=None):
    """Per crop index, the crop to read instead (cut to the label's first glyphs) and the indices
    not to read at all (a label cell's lines past its first `max_glyphs` glyphs, or once fewer than
    `min_glyphs_left` glyphs are left to read: a fragment of one glyph tells nothing), for each label
    cell by position (`where`) none of whose lines was read yet, at or below the first row the digit
    model read a number in and wholly left of its first such column (a header, a table's title row
    or a section's title spanning the table is read whole: classify/regions finds tables by their
    words, 申请人情况, 勾稽关系, 收到和处理政府信息公开申请). Returns ({k: crop}, {k: first}):
    a dropped line k takes its cell's first line's score once read (`fill_dropped`)."""
    blk = squeeze_config().get("label", {})
    n_max, least = (blk.get("max_glyphs", 0) if where else 0), blk.get("min_glyphs_left", 2)
    cut, dropped = {}, {}
    if not n_max:
        return cut, dropped
    from .ctc import is_numeric_text
    at = [(cell, n) for cell, n in jobs for _ in range(n)]
    num = [a[0] for a, r in zip(at, results) if r is not None and is_numeric_text(r.text)]
    row0 = min((getattr(c, "row", None) for c in num if getattr(c, "row", None) is not None), default=None)
    col0 = min((getattr(c, "col", None) for c in num if getattr(c, "col", None) is not None), default=None)
    k = 0
    for cell, n in jobs:
        body = row0 is not None and col0 is not None and getattr(cell, "row", -1) >= row0 \
            and getattr(cell, "col", col0) + getattr(cell, "colspan", 1) <= col0
        if body and all(where[j] == "label" and results[j] is None for j in range(k, k + n)):
            left = float(n_max)
            for j in range(k, k + n):
                if left < least:
                    dropped[j] = k
                    continue
                c = cut_glyphs(crops[j], left)
                if c is not crops[j]:
                    cut[j] = c
                left -= glyphs_of(crops[j])
        k += n
    if cost is not None:
        cost.shortened += len(cut) + len(dropped)
    return cut, dropped


def fill_dropped(results: list, dropped: dict) -> None:
    """Each line not read (`shortened`) an empty reading with its cell's first line's score: the
    cell's mean score (grid._reread_labels) stays its read lines'."""
    from .ctc import RecResult
    for j, first in dropped.items():
        results[j] = RecResult("", results[first].score if results[first] is not None else 0.0, [], [])
