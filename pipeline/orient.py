"""Which way up a scanned table page is: 0, 90, 180 or 270 degrees to turn it upright.

Why this way: almost every page is upright, and reading label crops in every orientation
cost ~0.15-0.5 CPU s per table page (issue #15). The ruling lines often show it for free:
the report tables' label columns come first and the widest of them is much wider than a
number column, so a table whose widest column lies in its left third, at least
`orientation.label_ratio` × as wide as its last, is upright; turned 180° it shows its
widest column in the right third. When every table on the page that shows a side agrees
on upright, and the long text runs in the cells lie along the rows (not turned a
quarter), nothing is read. Otherwise a few label crops are
read, first as printed, then in the other orientations only when they do not read surely.
Off (`grid.orientation.from_rules: false`): on the test corpus it took 10 of 66 pages
turned 180° for upright (docs/speed.md); the rule needs a second cue before it ships.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .grid_cells import RawCell
from .grid_crops import cell_lines
from .pdf import config


def orient_config() -> dict:
    return config()["grid"]["orientation"]


def label_side(cells: list[RawCell]) -> int:
    """+1: the table's widest column lies in its left third and is `label_ratio` × as wide
    as its last (the labels come first: upright); -1: the same seen turned 180° (widest in
    the right third, `label_ratio` × the first); 0: the rules do not tell."""
    width = defaultdict(list)
    for c in cells:
        if getattr(c, "colspan", 1) == 1:
            width[c.col].append(c.x1 - c.x0)
    n = len(width)
    if n < 2:
        return 0
    w = [float(np.median(width[k])) for k in sorted(width)]
    i = int(np.argmax(w))
    ratio = orient_config()["label_ratio"]
    if 3 * i < n and w[i] >= ratio * w[-1]:
        return 1
    if 3 * (n - 1 - i) < n and w[i] >= ratio * w[0]:
        return -1
    return 0


def _samples(grey: np.ndarray, cells: list[RawCell], rules: np.ndarray, scale_px: float, k: int) -> list:
    """Up to k one-line crops of the largest cells that hold a long run of text."""
    samples = []
    for c in sorted(cells, key=lambda c: -(c.x1 - c.x0) * (c.y1 - c.y0)):
        ok, lines = cell_lines(grey, rules, c, scale_px, pad=False, whole=True)
        if ok:
            h, w = lines[0].shape
            if max(h, w) >= 3 * min(h, w):
                samples.append(lines[0])
        if len(samples) >= k:
            break
    return samples


def orientation(grey: np.ndarray, tables: list[list[RawCell]], rules: np.ndarray, engine, scale_px: float,
                cost=None) -> int:
    """0/90/180/270 (counter-clockwise quarter turns that make the page upright).

    `tables`: the cells of each table found on the page. `cost` (a PageCost) records how
    it was decided: "rules" (nothing read), "read" (label crops recognised) or "none".
    """
    cfg = orient_config()
    samples = _samples(grey, [c for cs in tables for c in cs], rules, scale_px, cfg["samples"])
    if not samples:
        _note(cost, "none")
        return 0
    wide = [x for x in samples if x.shape[1] > x.shape[0]]
    sides = [label_side(cs) for cs in tables] if cfg["from_rules"] else []
    if (cfg["from_rules"] and len(wide) >= cfg["wide_share"] * len(samples) and any(s > 0 for s in sides)
            and not any(s < 0 for s in sides)):
        _note(cost, "rules")
        return 0
    _note(cost, "read")
    # upright pages are the rule: accept 0 when the samples read confidently as they are
    if wide:
        # two confident multi-character readings as printed settle it (tall samples may be
        # one-character-per-line headers, which read as a line when turned); the first two
        # are read alone, the other two (~0.1 CPU s each) only when they do not settle it
        need = min(2, len(wide))
        sure = 0
        for part in (wide[:2], wide[2:4]):
            if part:
                sure += sum(x.score >= 0.9 and len(x.text) >= 3 for x in engine.recognise(part))
            if sure >= need:
                return 0
    # long text runs lie along the lines of text: wide runs → upright or upside down,
    # tall runs → turned a quarter (one-character-per-line headers are the minority)
    if len(wide) >= 0.5 * len(samples):
        turns, samples = (0, 180), wide
    else:
        turns, samples = (0, 90, 270), [x for x in samples if x.shape[0] > x.shape[1]]
    crops, tags = [], []
    for s in samples:
        for r in turns:
            crops.append(np.ascontiguousarray(np.rot90(s, k=r // 90)))  # counter-clockwise
            tags.append(r)
    res = engine.recognise(crops)
    score = {r: 0.0 for r in turns}
    for r, x in zip(tags, res):
        score[r] += x.score * min(len(x.text), 6)
    best = max(score, key=score.get)
    if best != 0 and score[best] < 1.3 * score[0]:
        return 0
    return best


def _note(cost, how: str) -> None:
    if cost is not None:
        cost.orientation = how
