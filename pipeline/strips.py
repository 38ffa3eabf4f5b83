"""Row strips: a table row's one-line cell crops read by the recogniser as one input.

Why: PP-OCR's recogniser costs about the same per pixel of width whatever the batch
(docs/speed.md), and a cell crop is mostly white: side padding (a lone '1' reads better
with room around it) and the batch's 160 px minimum. A row's crops trimmed to their ink,
scaled to the recogniser's height and set side by side with fixed white gaps make one
input of about half the width, and one call per row instead of one per cell. The
characters go back to their cells by their CTC time steps (step index × px per step):
each cell's steps are cut at the middle of the gaps and decoded alone, as its own crop
would be. A cell whose characters straddle a cut, that reads nothing, or whose mean
character confidence is low is read again on its own (`strips` in configs/ocr.yaml).
Engines without per-step probabilities (paddle) read every crop on its own.
"""
from __future__ import annotations

import numpy as np

from .ctc import RecResult, candidates, is_numeric_text
from .model import Cell, Page
from .pdf import config

HEIGHT = 48          # the recogniser's input height (ocr._resize_norm)


def strips_config() -> dict:
    return config().get("strips", {})


def fit(crop: np.ndarray, margin: float) -> np.ndarray:
    """A line crop trimmed to its ink ± `margin` × its height, grey, scaled to HEIGHT."""
    import cv2
    g = crop if crop.ndim == 2 else crop.min(axis=2)
    cols = np.where((g < 200).any(0))[0]
    if cols.size:
        m = int(round(margin * g.shape[0]))
        g = g[:, max(0, cols[0] - m): cols[-1] + 1 + m]
    w = max(1, int(round(HEIGHT * g.shape[1] / max(1, g.shape[0]))))
    return cv2.resize(g, (w, HEIGHT), interpolation=cv2.INTER_AREA if g.shape[0] > HEIGHT else cv2.INTER_LINEAR)


def build(pieces: list[np.ndarray], gap: int) -> tuple[np.ndarray, list[float]]:
    """Pieces (height HEIGHT) side by side with `gap` white px between and around them;
    returns the strip and the x of each cut (the middle of each inner gap)."""
    width = sum(p.shape[1] for p in pieces) + gap * (len(pieces) + 1)
    strip = np.full((HEIGHT, width), 255, np.uint8)
    x, cuts = gap, []
    for j, p in enumerate(pieces):
        strip[:, x:x + p.shape[1]] = p
        x += p.shape[1]
        if j < len(pieces) - 1:
            cuts.append(x + gap / 2)
        x += gap
    return strip, cuts


def split(decoder, probs: np.ndarray, px_per_step: float, cuts: list[float],
          min_score: float, min_top: float = 1.0) -> list[RecResult | None]:
    """Each piece's RecResult from the strip's (T, C) probabilities, or None where it must be
    read alone: a character at a cut (it may belong to either side), nothing read, or neither
    a mean character confidence of `min_score` nor a top numeric reading of `min_top` (a row
    of zeros reads as 'O O O' at ~0.6 each, its numeric slots fold O into a sure 0). Spaces
    (the gaps) count as blank."""
    p = probs.copy()
    space = len(decoder.charset) - 1
    if decoder.charset[space] == " ":
        p[:, 0] += p[:, space]
        p[:, space] = 0.0
    arg = p.argmax(1)
    T = len(p)
    bounds = [0] + [min(T, max(0, int(round(c / px_per_step)))) for c in cuts] + [T]
    bad = set()
    for j, b in enumerate(bounds[1:-1]):
        if any(0 <= t < T and arg[t] != 0 for t in (b - 1, b)):
            bad.update((j, j + 1))
    out: list[RecResult | None] = []
    for j in range(len(bounds) - 1):
        r = decoder.decode(p[bounds[j]:bounds[j + 1]]) if j not in bad else None
        ok = r is not None and r.text and (r.score >= min_score or _sure_number(r, min_top))
        out.append(r if ok else None)
    return out


def _sure_number(r: RecResult, min_top: float) -> bool:
    top = candidates(r.slots)[:1] if r.slots else []
    return bool(top) and top[0][0] is not None and top[0][1] >= min_top


def recognise(engine, crops: list[np.ndarray], rows: list, cost=None) -> list[RecResult]:
    """Every crop's RecResult; crops with the same `rows` key (not None) are read as strips.

    `rows[k]` is the table row of crop k when it is its cell's only line, else None; crops
    come in reading order (row, then column). `cost` (a PageCost) counts recogniser inputs."""
    cfg = strips_config()
    results: list = [None] * len(crops)
    groups: dict = {}
    if cfg.get("enabled") and hasattr(engine, "map_probs"):
        for k, (c, r) in enumerate(zip(crops, rows)):
            if r is not None and c.shape[1] <= cfg["max_ratio"] * c.shape[0]:
                groups.setdefault(r, []).append(k)
    groups = {r: ks for r, ks in groups.items() if len(ks) >= cfg.get("min_cells", 2)}
    if groups:
        gap = int(round(cfg["gap"] * HEIGHT))
        members, images, cuts = [], [], []
        for ks in groups.values():
            strip, cut = build([fit(crops[k], cfg["margin"]) for k in ks], gap)
            members.append(ks)
            images.append(strip)
            cuts.append(cut)

        def take(i, probs, px):
            for k, r in zip(members[i], split(engine.decoder, probs, px, cuts[i], cfg["min_score"],
                                                            cfg.get("min_top", 1.0))):
                results[k] = r
        engine.map_probs(images, take)
        if cost is not None:
            cost.strips += len(images)
    rest = [k for k, r in enumerate(results) if r is None]
    for k, r in zip(rest, engine.recognise([crops[k] for k in rest]) if rest else []):
        results[k] = r
    if cost is not None:
        cost.alone += len(rest)
    return results


# -- wrapped cells ------------------------------------------------------------------------------

def wrapped_config() -> dict:
    return config().get("wrapped", {})


def join(lines: list[np.ndarray], margin: float, gap: float, pad: float) -> np.ndarray:
    """A wrapped cell's line crops as one line: each trimmed to its ink ± `margin` × its
    height and scaled to HEIGHT, set side by side with `gap` × HEIGHT white between them and
    `pad` × HEIGHT around them (what the grid's `side_pad` leaves beside a one-line crop)."""
    pieces = [fit(c, margin) for c in lines]
    g, p = int(round(gap * HEIGHT)), int(round(pad * HEIGHT))
    width = sum(q.shape[1] for q in pieces) + g * (len(pieces) - 1) + 2 * p
    out = np.full((HEIGHT, width), 255, np.uint8)
    x = p
    for q in pieces:
        out[:, x:x + q.shape[1]] = q
        x += q.shape[1] + g
    return out


def read_wrapped(engine, cells: list[list[np.ndarray]], factor: float = 1.0, min_width: int = 0) -> list[RecResult]:
    """One RecResult per wrapped cell (its lines read as one input, `join`, its width × `factor`):
    padded to at least `min_width` px (0: the recogniser's min_width, 160), not to other crops' widths:
    the words of a wrapped label or header are one line of text cut by the column's width; read
    whole, the recogniser pays for the ink once instead of each line's padding (docs/speed.md, 29d).
    Spaces (the gaps) count as blank: a cell's lines join without one, as the text of lines
    read one by one does."""
    cfg = wrapped_config()
    images = [join(ls, cfg["margin"], cfg["gap"], cfg["pad"]) for ls in cells]
    if factor != 1.0:
        import cv2
        images = [cv2.resize(m, (max(1, int(round(m.shape[1] * factor))), HEIGHT), interpolation=cv2.INTER_AREA)
                  for m in images]
    dec = engine.decoder
    space = len(dec.charset) - 1 if dec.charset[-1] == " " else None

    def take(i, probs, px):
        p = probs
        if space is not None:
            p = probs.copy()
            p[:, 0] += p[:, space]
            p[:, space] = 0.0
        return dec.decode(p)
    if min_width and hasattr(engine, "padding_of"):
        with engine.padding_of([], min_width):
            return engine.map_probs(images, take)
    return engine.map_probs(images, take)


def read_wrapped_cells(engine, crops: list[np.ndarray], jobs: list[tuple[Cell, int]], results: list, page: Page,
                       where: list | None = None) -> None:
    """With `wrapped.enabled` (configs/ocr.yaml): each cell of 2 to `max_lines` lines is read
    as one input (strips.read_wrapped), its first line's result the whole cell's, its other
    lines' empty (with the cell's score: a cell's mean score stays its reading's). A cell
    whose joined reading is nothing or a number is read line by line as before. The crops
    left keep the padding of all crops read together (grid._recognise), so their readings
    do not move. With only `wrapped.header.enabled`: only the cells squeeze.label_side marks
    "header" (known by position once the digit model has read), each line with ink darker than
    `max_ink`, read at `factor` × their joined width and padded to at least `min_width` px
    (`where`: squeeze.label_side's marks, computed once by grid._recognise)."""
    cfg = wrapped_config()
    hdr = cfg.get("header", {})
    if not (cfg.get("enabled") or hdr.get("enabled")) or not hasattr(engine, "map_probs"):
        return
    if cfg.get("enabled"):
        where = None
    elif where is None:             # header cells only: known by position once the digit model has read
        return                      # (squeeze.label_side; None: nothing is known by position)
    ink = 256 if cfg.get("enabled") else hdr.get("max_ink", 256)
    spans, k = [], 0
    for _, n in jobs:
        if 2 <= n <= cfg.get("max_lines", 8) and all(r is None for r in results[k:k + n]) and (
                where is None or all(w == "header" for w in where[k:k + n])) and all(
                int(c.min()) < ink for c in crops[k:k + n]):
            spans.append((k, n))
        k += n
    if not spans:
        return
    factor, least = (1.0, 0) if cfg.get("enabled") else (hdr.get("factor", 1.0), hdr.get("min_width", 0))
    for (a, n), r in zip(spans, read_wrapped(engine, [crops[a:a + n] for a, n in spans], factor, least)):
        page.cost.crops += 1
        if not r.text or is_numeric_text(r.text):
            continue        # a number's lines are no words cut by a column: read line by line as before
        results[a] = r
        for j in range(a + 1, a + n):
            results[j] = RecResult("", r.score, [], [])
        page.cost.joined += n
