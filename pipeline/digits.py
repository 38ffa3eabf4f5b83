"""Numeric cells first: a small digit CRNN (models/digits/digits.onnx), ~0.4 ms a crop.

Why: PP-OCR reads any Chinese text at ~25 ms a crop; this model knows only "0-9 . - +"
and one OTHER symbol ("#": any other glyph — labels, units, blank marks), trained on the
line crops the grid stage cuts from synthetic scans (training/train_digits.py, model card
next to the weights). Two uses: `sure_numbers`, the routing gate — a crop it reads surely
as a number skips PP-OCR (`digits.route`, calibrated against the truth:
training/eval_digits.py --gate); and `second_opinion` — its readings mixed with PP-OCR's
(`combine`, weighted log-linear). Its per-step CTC output is decoded with ocr.py's own
CTCDecoder / candidates (OTHER folds into their "not a number" symbol). Runs on
onnxruntime, never torch.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from .ocr import CTCDecoder, RecResult, candidates, parse_value, session_options
from .pdf import config
from .resources import ROOT

HEIGHT = 32


def _cfg() -> dict:
    return config().get("digits", {})


def prep(crop: np.ndarray, width_scale: float = 1.0, max_w: int = 512) -> np.ndarray:
    """uint8 grey line crop → float32 (32, W): ink 1, paper 0 (the training input too)."""
    import cv2
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    h, w = crop.shape[:2]
    nw = int(min(max_w, max(8, round(HEIGHT * w / max(1, h) * width_scale))))
    r = cv2.resize(crop, (nw, HEIGHT), interpolation=cv2.INTER_AREA).astype(np.float32)
    # contrast stretched per crop: paper (the median) → 0, darkest ink → 1, so paper tone
    # and faded print do not matter
    paper, ink = float(np.median(r)), float(r.min())
    return np.clip((paper - r) / max(paper - ink, 16.0), 0.0, 1.0)


def batchify(imgs: list[np.ndarray]) -> np.ndarray:
    W = (max(i.shape[1] for i in imgs) + 3) // 4 * 4
    x = np.zeros((len(imgs), 1, HEIGHT, W), np.float32)
    for k, i in enumerate(imgs):
        x[k, 0, :, :i.shape[1]] = i
    return x


class DigitReader:
    """The ONNX digit model: crops → per-step probabilities → RecResult / readings."""

    def __init__(self, path: str | Path | None = None, threads: int = 1):
        import onnxruntime as ort
        path = Path(path or ROOT / _cfg().get("model", "models/digits/digits.onnx"))
        if not path.is_absolute():
            path = ROOT / path
        self.session = ort.InferenceSession(str(path), session_options(threads),
                                            providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.alphabet = meta["alphabet"]
        self.max_w = int(meta.get("max_width", 512))
        self.decoder = CTCDecoder(["<blank>"] + list(self.alphabet))

    def raw(self, crops: list[np.ndarray], batch: int = 32) -> list[np.ndarray]:
        """Per-crop (T, C) probabilities, padding steps trimmed."""
        imgs = [prep(c, max_w=self.max_w) for c in crops]
        out: list = [None] * len(imgs)
        order = np.argsort([i.shape[1] for i in imgs])
        for b in range(0, len(order), batch):
            ids = order[b:b + batch]
            y = self.session.run(None, {"x": batchify([imgs[i] for i in ids])})[0]
            for k, i in enumerate(ids):
                out[i] = y[k, :min(y.shape[1], math.ceil(imgs[i].shape[1] / 4) + 1)]
        return out

    def recognise(self, crops: list[np.ndarray]) -> list[RecResult]:
        return [self.decoder.decode(p) for p in self.raw(crops)] if crops else []

    def readings(self, lines: list[np.ndarray]) -> list[tuple[object, float]]:
        """Ranked values of one cell from its text-line crops (lines joined top to bottom)."""
        if not lines:
            return []
        return candidates([s for r in self.recognise(lines) for s in r.slots])


@functools.lru_cache(maxsize=2)
def get_reader(path: str | None = None) -> DigitReader:
    return DigitReader(path)


def _key(v):
    return (type(v).__name__, v)


def combine(primary: list[tuple[object, float]], second: list[tuple[object, float]],
            weight: float | None = None, floor: float | None = None,
            max_n: int | None = None) -> list[tuple[object, float]]:
    """Weighted log-linear mix over the union of both value lists, renormalised.

    p(v) ∝ max(p1(v), floor)^(1-w) · max(p2(v), floor)^w; a value one side does not list
    gets `floor` there. An empty side (no reading) leaves the other side unchanged.
    """
    cfg = _cfg()
    w = cfg.get("weight", 0.5) if weight is None else weight
    floor = cfg.get("floor", 0.02) if floor is None else floor
    max_n = max_n or config()["decode"]["max_candidates"]
    if not second:
        return list(primary)
    if not primary:
        return list(second)
    a = {_key(v): p for v, p in primary}
    b = {_key(v): p for v, p in second}
    score = {k: math.exp((1 - w) * math.log(max(a.get(k, 0.0), floor)) +
                         w * math.log(max(b.get(k, 0.0), floor))) for k in {**a, **b}}
    z = sum(score.values())
    out = sorted(((k[1], s / z) for k, s in score.items()), key=lambda kv: -kv[1])[:max_n]
    z = sum(p for _, p in out)
    return [(v, round(p / z, 6)) for v, p in out]


def sure_numbers(crops: list[np.ndarray], gate: dict | None = None, page=None) -> list[RecResult | None]:
    """The digit model's reading of each line crop that it is sure is a number, else None
    (`sure`; thresholds `digits.route` in configs/ocr.yaml unless `gate` is given). Crops of
    a page whose orientation is not settled (`settled`) are never routed: all None."""
    cfg = _cfg().get("route", {}) if gate is None else gate
    if not crops or (page is not None and not settled(page, cfg)):
        return [None] * len(crops)
    return [r if sure(crop, r, cfg) else None for crop, r in zip(crops, route_reader().recognise(crops))]


def settled(page, gate: dict | None = None) -> bool:
    """May this page's crops be routed? Read from what the grid sets on the page
    (pipeline/model.py): `page.rotation` (the turn the grid applied to make it upright) and
    `page.cost.orientation` (how orient.py decided: rules | read | none). With `pages:
    upright` (configs/ocr.yaml digits.route) only a page the grid left as scanned, after
    its orientation was checked (rules or read), is routed: a turned page's crops (cut
    after the turn, with the scan's skew and streaks turned with them) and a page whose
    orientation nothing decided go to PP-OCR. `pages: all` routes every page."""
    cfg = _cfg().get("route", {}) if gate is None else gate
    if cfg.get("pages", "upright") == "all":
        return True
    how = getattr(getattr(page, "cost", None), "orientation", "")
    return page.rotation % 360 == 0 and how in ("rules", "read")


def route_reader() -> DigitReader:
    """The routing gate's model (`digits.route.model`; the second opinion's when unset)."""
    return get_reader(_cfg().get("route", {}).get("model"))


def sure(crop: np.ndarray, r: RecResult, gate: dict) -> bool:
    """The routing gate, one crop (`gate_features` then `passes`)."""
    return passes(gate_features(crop, r, gate.get("ink", "fixed")), gate)


def gate_features(crop: np.ndarray, r: RecResult, ink: str = "fixed") -> dict:
    """What the gate looks at: the value of the greedy text (None: not a number — a label,
    a unit or a blank mark, whose glyphs the model reads as OTHER, never parses), the mean
    confidence of its characters, whether the top whole-value candidate is that value and
    how likely, the ink's width per character read in units of its height, and the crop's
    statistics (`crop_stats`: is it like the crops the gate was calibrated on). `ink`: how
    the width check finds ink (`_ink_width`)."""
    ok, v = parse_value(r.text) if r.text else (False, None)
    f = {"value": v if ok else None, "score": r.score, "top": 0.0, "width": math.inf, "chars": len(r.text)}
    if f["value"] is None:
        return f
    top = candidates(r.slots)[:1]
    if top and top[0][0] == v and type(top[0][0]) is type(v):
        f["top"] = top[0][1]
    dk = _dark((crop if crop.ndim == 2 else crop.min(axis=2)).astype(np.float32))   # once, not twice
    f["width"], f["chars"] = _ink_width(crop, ink == "relative", dk), len(r.text)
    f.update(crop_stats(crop, dk))
    return f


STATS = ("height", "contrast", "ink_share", "noise", "row_fill")


def crop_stats(crop: np.ndarray, dk: tuple | None = None) -> dict:
    """A line crop's look, for the out-of-distribution check (`in_range`): its height in px,
    contrast (paper — the median grey, white in cell_lines' crops — minus the 2nd-percentile
    grey), share of ink pixels
    (darker than halfway), the paper's noise (grey spread of the pixels lighter than
    halfway: speckle, JPEG ringing) and the fullest row's ink share (a streak or a rule
    left across the crop fills a row; digits fill half of one at most). `dk`: `_dark` of the
    crop's grey, when known."""
    g = crop if crop.ndim == 2 else crop.min(axis=2)
    g = g.astype(np.float32)
    paper, ink, dark = dk or _dark(g)
    light = g[~dark]
    return {"height": int(g.shape[0]), "contrast": paper - ink,
            "ink_share": float(dark.mean()), "noise": float(light.std()) if light.size else 0.0,
            "row_fill": float(dark.mean(axis=1).max())}


def in_range(f: dict, ranges: dict | None) -> bool:
    """Every statistic of `crop_stats` inside the range the calibration crops spanned
    (`digits.route.in_range`, written by training/eval_digits.py --gate): a crop unlike
    every crop the gate was calibrated on (a new scanner, a style never seen) is not
    trusted to it, whatever the model's confidence. No ranges: no check."""
    for k, (lo, hi) in (ranges or {}).items():
        v = f.get(k)
        if v is None or not lo <= v <= hi:
            return False
    return True


def passes(f: dict, gate: dict) -> bool:
    """Sure of a number: it parses, its characters' mean confidence is at least
    `min_char_score`, its top candidate is that number at `min_top` or more, its ink is
    no wider than `max_char_width` × its height per character (+0.15 in all: a digit is
    about half as wide as tall, a Chinese character as wide), and the crop looks like the
    calibration crops (`in_range`). Thresholds calibrated against the truth on val crops:
    training/eval_digits.py --gate, docs/speed.md."""
    return not failures(f, gate)


def failures(f: dict, gate: dict) -> list[str]:
    """Which of `passes`'s conditions a crop fails (empty: it is routed): `value` (not a
    number), `top`, `score`, `width` (`width_none` when the ink check found no ink at
    all: faded print under `ink: fixed`), `range`. Why crops are not routed is counted
    from this (training/route_crops.py, docs/speed.md session 30d)."""
    if f["value"] is None:
        return ["value"]
    out = []
    if f["top"] < gate.get("min_top", 1.0):
        out.append("top")
    if f["score"] < gate.get("min_char_score", 1.0):
        out.append("score")
    if f["width"] > gate.get("max_char_width", 0.0) * f["chars"] + 0.15:
        out.append("width_none" if f["width"] == math.inf else "width")
    if not in_range(f, gate.get("in_range")):
        out.append("range")
    return out


def _dark(g: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(paper grey: the median, ink grey: the 2nd percentile, pixels darker than halfway)."""
    paper, ink = float(np.median(g)), float(np.percentile(g, 2))
    return paper, ink, g < (paper + ink) / 2


def _ink_width(crop: np.ndarray, relative: bool = False, dk: tuple | None = None) -> float:
    """Width of the crop's ink in units of its height (inf when it has none). Ink: darker
    than 128, or with `relative` darker than halfway between paper and ink (`_dark`, as
    `crop_stats` counts it): a faded scan's digits (darkest grey ~150) have no ink below 128,
    so their width was inf and the gate sent every one to PP-OCR (docs/speed.md, 27f)."""
    if relative:
        ink = (dk or _dark((crop if crop.ndim == 2 else crop.min(axis=2)).astype(np.float32)))[2]
    else:
        ink = crop < 128
    rows, cols = np.where(ink.any(1))[0], np.where(ink.any(0))[0]
    if not len(rows):
        return math.inf
    return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)


def second_opinion(readings: list[tuple[object, float]], lines: list[np.ndarray]) -> list[tuple[object, float]]:
    """The grid hook: PP-OCR's readings of a numeric cell combined with the digit model's."""
    if not lines:
        return readings
    return combine(readings, get_reader().readings(lines))
