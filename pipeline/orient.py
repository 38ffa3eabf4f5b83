"""Which way up a scanned table page is: 0, 90, 180 or 270 degrees to turn it upright.

Why this way: almost every page is upright, and reading label crops in every orientation
cost ~0.15-0.5 CPU s per table page (issue #15). The page's tables show which way up they
are without reading, by four cues that each look at a different thing (`cues`):

* side: the label columns come first and the widest of them is much wider than a number
  column (the widest column in the table's left third, `label_ratio` × the last);
* align: labels are set flush left, so in the wide cells that hold a run of text the white
  left of the ink is narrower than the white right of it (`align_pt`);
* header: the header's merged cells (spanning columns) lie in the table's top half;
* labels: the label column's merged cells (spanning rows) lie in its left half.

Turned 180° every cue flips sign. The rules alone (side) took 10 of 66 test pages turned
180° for upright (narrow-label and landscape tables, docs/speed.md); a page is now taken
for upright without reading only when at least `min_votes` cues say so, none says the
opposite, and its long text runs lie along the rows (not turned a quarter). Otherwise a
few label crops are read, first as printed, then in the other orientations only when
they do not read surely; read in every turn, they are read a few at a time until the
ones left cannot change the decision (`settled`, `settle_early`).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .grid_cells import RawCell
from .grid_crops import cell_lines
from .pdf import config

CUES = ("side", "align", "header", "labels")


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


def align_side(text: np.ndarray, cells: list[RawCell], scale_px: float) -> int:
    """+1: text runs sit flush left in their cells (upright), -1: flush right (turned 180°),
    0: centred or too few. `text` is the page's ink with the rules painted out; only cells
    at least twice as wide as tall whose ink covers over half their width count."""
    cfg = orient_config()
    left, right = [], []
    for c in cells:
        w, h = c.x1 - c.x0, c.y1 - c.y0
        if w <= 2 * h:
            continue
        cols = np.flatnonzero(text[c.y0:c.y1, c.x0:c.x1].any(axis=0))
        if len(cols) and cols[-1] - cols[0] > 0.5 * w:
            left.append(cols[0])
            right.append(w - 1 - cols[-1])
    if len(left) < cfg["align_min_cells"]:
        return 0
    d = float(np.median(right) - np.median(left))
    need = cfg["align_pt"] * scale_px
    return 1 if d > need else (-1 if d < -need else 0)


def span_sides(cells: list[RawCell]) -> tuple[int, int]:
    """(header, labels): +1 when more cells spanning columns lie in the table's top half
    than in its bottom half (-1 the other way, 0 as many), and the same for cells spanning
    rows in its left half against its right half."""
    x0, x1 = min(c.x0 for c in cells), max(c.x1 for c in cells)
    y0, y1 = min(c.y0 for c in cells), max(c.y1 for c in cells)
    top = bottom = left = right = 0
    for c in cells:
        if getattr(c, "colspan", 1) > 1:
            if c.y0 + c.y1 < y0 + y1:
                top += 1
            else:
                bottom += 1
        if getattr(c, "rowspan", 1) > 1:
            if c.x0 + c.x1 < x0 + x1:
                left += 1
            else:
                right += 1
    return int(np.sign(top - bottom)), int(np.sign(left - right))


def cues(text: np.ndarray, tables: list[list[RawCell]], scale_px: float) -> dict[str, int]:
    """Each cue's say for the page (+1 upright, -1 turned 180°, 0 none): a cue speaks when
    some table shows it one way and none the other."""
    say = defaultdict(list)
    for cells in tables:
        if not cells:
            continue
        header, labels = span_sides(cells)
        for name, v in zip(CUES, (label_side(cells), align_side(text, cells, scale_px), header, labels)):
            say[name].append(v)
    out = {}
    for name in CUES:
        vals = say[name]
        up, down = any(v > 0 for v in vals), any(v < 0 for v in vals)
        out[name] = 1 if up and not down else (-1 if down and not up else 0)
    return out


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
                cost=None, binv: np.ndarray | None = None) -> int:
    """0/90/180/270 (counter-clockwise quarter turns that make the page upright).

    `tables`: the cells of each table found on the page; `binv` the page's binarised ink
    (computed here when not given). `cost` (a PageCost) records how it was decided:
    "rules" (the cues, nothing read), "read" (label crops recognised) or "none".
    """
    cfg = orient_config()
    samples = _samples(grey, [c for cs in tables for c in cs], rules, scale_px, cfg["samples"])
    if not samples:
        _note(cost, "none")
        return 0
    wide = [x for x in samples if x.shape[1] > x.shape[0]]
    if cfg["from_rules"] and len(wide) >= cfg["wide_share"] * len(samples):
        if binv is None:
            from .grid_cells import binarise
            binv = binarise(grey)
        text = np.where(rules > 0, 0, binv)
        say = cues(text, tables, scale_px).values()
        if sum(v > 0 for v in say) >= cfg["min_votes"] and not any(v < 0 for v in say):
            _note(cost, "rules")
            return 0
    _note(cost, "read")
    samples, wide = heads(samples, cfg.get("head_chars", 0)), heads(wide, cfg.get("head_chars", 0))
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
    return _turn_scores(engine, samples, turns, cfg.get("settle_early", False))


def heads(samples: list[np.ndarray], chars: float) -> list[np.ndarray]:
    """Each sample cut to `chars` × its short side along its long side (a wide crop's left, a tall
    one's top; `grid.orientation.head_chars`, 0: whole). Why: a crop adds at most PER_CROP
    characters to its turn's score and settles a page with 3, yet a label run is read whole, at
    ~0.1 ms per px of its width at height 48 (docs/speed.md, 32d)."""
    if not chars:
        return samples
    out = []
    for x in samples:
        h, w = x.shape[:2]
        n = int(round(chars * min(h, w)))
        out.append(x[:, :n] if w >= h and w > n else x[:n] if h > w and h > n else x)
    return out


PER_CROP = 6        # a crop adds at most its confidence (≤ 1) × min(characters, 6) to its turn's score
RATIO = 1.3         # a turn other than 0 wins only with this × the score of 0


def _decide(score: dict[int, float]) -> int:
    best = max(score, key=score.get)
    if best != 0 and score[best] < RATIO * score[0]:
        return 0
    return best


def settled(score: dict[int, float], left: int) -> int | None:
    """The decision `_decide` gives after all samples, when the `left` samples not yet read
    cannot change it whatever they read (each adds 0 .. PER_CROP to each turn), else None.
    0 stays when no other turn can reach RATIO × 0's score; a turn r stays when no other
    can pass it and it keeps RATIO × 0's score if 0 gains the most."""
    gain = PER_CROP * left
    if not left:
        return _decide(score)
    if all(score[r] + gain < RATIO * score[0] for r in score if r != 0):
        return 0
    d = _decide(score)
    if d != 0 and all(score[d] > score[o] + gain for o in score if o != d) \
            and score[d] >= RATIO * (score[0] + gain):
        return d
    return None


def _turn_scores(engine, samples: list[np.ndarray], turns: tuple[int, ...], early: bool) -> int:
    """Every sample read in each turn; the turn whose readings are surest and longest wins
    (0 unless another beats it by RATIO). With `early` (grid.orientation.settle_early) the
    samples are read a few at a time and the reading stops once the ones left cannot change
    the decision (`settled`): the same decision as reading them all, because every crop is
    padded as in the one call that reads them all (ocr.padding_of), so each reads the same."""
    crops, tags = [], []
    for s in samples:
        for r in turns:
            crops.append(np.ascontiguousarray(np.rot90(s, k=r // 90)))  # counter-clockwise
            tags.append(r)
    score = {r: 0.0 for r in turns}
    if not early or not hasattr(engine, "padding_of"):
        for r, x in zip(tags, engine.recognise(crops)):
            score[r] += x.score * min(len(x.text), 6)
        return _decide(score)
    n, k = len(samples), len(turns)
    # no decision can settle before more than half the samples are read: read those at once
    cuts = [n // 2 + 1] + list(range(n // 2 + 2, n + 1))
    done = 0
    with engine.padding_of(crops):
        for cut in cuts:
            cut = min(cut, n)
            if cut <= done:
                continue
            for r, x in zip(tags[done * k:cut * k], engine.recognise(crops[done * k:cut * k])):
                score[r] += x.score * min(len(x.text), 6)
            done = cut
            d = settled(score, n - done)
            if d is not None:
                return d
    return _decide(score)


def _note(cost, how: str) -> None:
    if cost is not None:
        cost.orientation = how
