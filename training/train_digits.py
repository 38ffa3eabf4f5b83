"""Train the small digit recogniser (second opinion for numeric cells) and export ONNX.

Why: PP-OCR is a general Chinese recogniser; a model that only knows "0-9 . - +" and was
trained on the very crops grid.cell_lines hands it (synthetic scans, light and heavy) may
disagree usefully. Trained in torch (CPU), run in onnxruntime (pipeline/digits.py), so
`gouji extract` needs no torch.

Crops: every value cell of a scan rendering, cut by its truth box (`cells`, page points scaled to the render) with the
pipeline's own cell_lines (rules painted out, trimmed, side-padded); single-line cells
whose printed text is a plain number (NFKC) only. Pages turned by 90/180/270 are skipped
(`build --grid` keeps them when the grid turns them upright: grid_doc_crops).

    python -m training.train_digits build --split train --docs 60 --out datasets/generated/digits_train.npz
    python -m training.train_digits build --split val --docs 8 --out datasets/generated/digits_val.npz
    python -m training.train_digits train --epochs 8 --out models/digits/digits.onnx
    python -m training.train_digits eval --split test --docs 10
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

ALPHABET = "0123456789-.+"          # index 0 is the CTC blank
HEIGHT = 32
MAX_W = 512
ROOT = Path(__file__).resolve().parent.parent


def label_of(text: str) -> str | None:
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", t):
        return t
    return None


def doc_crops(truth_path: Path, renderings=("scan_light", "scan_heavy")):
    """(crop uint8 grey, label, value) for the single-line numeric value cells of one report."""
    import cv2
    from pipeline import grid
    from pipeline.ocr import get_engine
    from pipeline.pdf import read_pdf
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    out = []
    for name in renderings:
        r = truth["renderings"].get(name)
        if not r or "cells_px" not in r:
            continue
        doc = read_pdf(truth_path.parent / r["file"])
        if doc.status == "failed":
            continue
        # truth boxes in page points (`cells`), not `cells_px`: those are pixels of the scan at
        # its own dpi (150-300), while read_pdf renders every page at the pipeline's dpi
        by_page: dict[int, list] = {}
        for key, (pg, x0, y0, x1, y1) in r["cells"].items():
            lab = label_of(truth["cells"][key]["text"])
            if lab is not None:
                by_page.setdefault(pg, []).append((lab, truth["cells"][key]["text"], (x0, y0, x1, y1)))
        for pg, cells in by_page.items():
            if r["pages"][pg - 1].get("rotated_cw", 0):
                continue
            page = doc.pages[pg - 1]
            grey = page.image
            if grey is None:
                continue
            if grey.ndim == 3:
                grey = cv2.cvtColor(grey, cv2.COLOR_RGB2GRAY)
            px_per_pt = grid.page_scale(page)
            binv = grid.binarise(grey)
            hor, ver = grid.line_masks(binv, px_per_pt)
            rules = cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8))
            cells = [(lab, text, tuple(v * px_per_pt for v in bb)) for lab, text, bb in cells]
            for lab, text, (x0, y0, x1, y1) in cells:
                H, W = grey.shape
                x0, y0 = max(0, int(round(x0))), max(0, int(round(y0)))
                x1, y1 = min(W, int(round(x1))), min(H, int(round(y1)))
                if x1 - x0 < 8 or y1 - y0 < 8:
                    continue
                ok, lines = grid.cell_lines(grey, rules, grid.RawCell(x0, y0, x1, y1), px_per_pt)
                if ok and len(lines) == 1:
                    out.append((lines[0], lab, text, name))
    return out


# -- crops as the pipeline cuts them: the recovered grid, labelled from the truth -------------

OTHER = "#"          # any glyph that is not a digit, sign or point (CJK, units, /, brackets)
GRID_ALPHABET = ALPHABET + OTHER


def target_of(text: str) -> str | None:
    """The CTC target of a printed cell line over GRID_ALPHABET: digits, '.', '+', '-' as
    printed (NFKC), every other glyph one OTHER (so the gate can see a label or a unit);
    None for a cell with no printed text."""
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))
    if not t:
        return None
    return "".join(c if c in ALPHABET else OTHER for c in t)


class CropRecorder:
    """An OCREngine that reads nothing and keeps every crop it is handed: each crop's text
    is its token `<k>`, so a recovered cell's text names its own line crops. The grid
    stage runs unchanged (deskew, rules, refine, cell_lines); only the recogniser is left out."""
    name = "recorder"

    def __init__(self):
        self.crops: list[np.ndarray] = []

    def recognise(self, crops):
        from pipeline.ocr import RecResult
        out = []
        for c in crops:
            out.append(RecResult(f"<{len(self.crops)}>", 0.0, [], []))
            self.crops.append(c)
        return out

    def read_lines(self, image):
        return []


@contextlib.contextmanager
def _orientation_read_by(engine):
    """The grid's orientation check reads its label crops with a real recogniser while the
    cells go to the recorder: a turned page is turned upright as in production."""
    from pipeline import grid
    orig = grid.orientation

    def orientation(grey, tables, rules, _engine, *rest, **kw):
        return orig(grey, tables, rules, engine, *rest, **kw)
    grid.orientation = orientation
    try:
        yield
    finally:
        grid.orientation = orig


def match_cells(cells, truth_cells, tol: float = 0.5):
    """Recovered cell → truth grid cell: each centre inside the other's box (page points)."""
    out = {}
    for c in cells:
        cx, cy = (c.bbox[0] + c.bbox[2]) / 2, (c.bbox[1] + c.bbox[3]) / 2
        for t in truth_cells:
            x0, y0, x1, y1 = t["bbox"]
            tx, ty = (x0 + x1) / 2, (y0 + y1) / 2
            if x0 <= cx <= x1 and y0 <= cy <= y1 and c.bbox[0] <= tx <= c.bbox[2] and c.bbox[1] <= ty <= c.bbox[3]:
                out[id(c)] = t
                break
    return out


@contextlib.contextmanager
def recorder_settings():
    """Within it every one-line crop reaches the recorder as cut: digit-first routing (on
    since session 25b) took the crops the routing model was sure of before the recogniser
    saw them, so a build kept only the hard numbers (~30 % of a page's values, session 31d),
    and `squeeze` handed long labels narrowed, which the routing model never sees."""
    from pipeline.pdf import config
    route, squeeze = config()["digits"]["route"], config().setdefault("squeeze", {})
    was = route.get("enabled"), squeeze.get("enabled")
    route["enabled"] = squeeze["enabled"] = False
    try:
        yield
    finally:
        route["enabled"], squeeze["enabled"] = was


def grid_doc_crops(truth_path: Path, renderings=("scan_light", "scan_heavy")):
    """(crop, target, text, rendering, kind, held_out) for every one-line cell the pipeline's
    grid recovers on the scans of one report, matched to the truth grid by position: value
    cells (kind 'value', target its printed number) and label/header cells (kind 'label',
    target OTHER per glyph), and the page's style (STYLE_COLS). Pages the generator turned
    (90/180/270) are kept when the grid turned them back upright (their crops are cut after
    the turn, as production cuts them); a page left turned is skipped."""
    from pipeline import grid
    from pipeline.ocr import get_engine
    from pipeline.pdf import read_pdf
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    value_boxes = {}
    for key, c in truth["cells"].items():
        value_boxes[(c["page"], tuple(round(v, 1) for v in c["bbox"]))] = c["text"]
    tcells: dict[int, list] = {}
    for cells in truth["grid"].values():
        for c in cells:
            tcells.setdefault(c["page"], []).append(c)
    out = []
    for name in renderings:
        r = truth["renderings"].get(name)
        if not r:
            continue
        doc = read_pdf(truth_path.parent / r["file"])
        if doc.status == "failed":
            continue
        held = bool(r.get("held_out"))
        for page in doc.pages:
            info = r["pages"][page.number - 1] if page.number - 1 < len(r["pages"]) else {}
            if page.number not in tcells:
                page.image = None
                continue
            rec = CropRecorder()
            with _orientation_read_by(get_engine("rapidocr")), recorder_settings():
                grid.recover_page(page, rec)
            turned = int(info.get("rotated_cw", 0) or 0)
            if (page.rotation - turned) % 360:
                # the grid did not turn this page upright: its cells do not sit on the
                # truth's boxes (and in production it is lost whatever reads it)
                page.image = None
                continue
            style = {"page": page.number, "turned": turned, "held": held, "binarized": bool(info.get("binarized")),
                     "jpeg": int(info.get("jpeg_quality") or 0),
                     "fax": any(str(o).startswith("fax") for o in info.get("ops", []))}
            for table in page.tables:
                m = match_cells(table.cells, tcells[page.number])
                for c in table.cells:
                    toks = re.findall(r"<(\d+)>", c.text or "")
                    t = m.get(id(c))
                    if len(toks) != 1 or t is None:
                        continue
                    tgt = target_of(t["text"])
                    if tgt is None:
                        continue
                    is_value = (t["page"], tuple(round(v, 1) for v in t["bbox"])) in value_boxes
                    out.append((rec.crops[int(toks[0])], tgt, t["text"], name,
                                "value" if is_value else "label", held, style))
            page.image = None
    return out


# per crop: its page, the generator's turn of that page (0/90/180/270; the grid turned it
# back), and the page's degradations the gate must have seen (binarised, JPEG quality, fax header)
STYLE_COLS = ("page", "turned", "binarized", "jpeg", "fax")


def build_grid(folder: Path, n_docs: int, out: Path, seed: int = 0, save_every: int = 2) -> None:
    """Crops of `n_docs` reports in `folder` (grid_doc_crops), saved as one npz."""
    truths = sorted(Path(folder).glob("*.truth.json"))
    if n_docs and n_docs < len(truths):
        rng = np.random.default_rng(seed)
        truths = [truths[i] for i in sorted(rng.choice(len(truths), n_docs, replace=False))]
    cols = {k: [] for k in ("crops", "labels", "texts", "renderings", "kinds", "held_out", "docs") + STYLE_COLS}
    t0 = time.time()
    for i, tp in enumerate(truths):
        try:
            rows = grid_doc_crops(tp)
        except Exception as e:          # one bad document never stops the build
            print(f"{tp.name}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        for c, tgt, text, name, kind, held, style in rows:
            for k, v in zip(("crops", "labels", "texts", "renderings", "kinds", "held_out"), (c, tgt, text, name, kind, held)):
                cols[k].append(v)
            for k in STYLE_COLS:
                cols[k].append(style[k])
            cols["docs"].append(tp.name.split(".")[0])
        print(f"{i + 1}/{len(truths)} {len(cols['crops'])} crops {time.process_time():.0f} CPU s", file=sys.stderr, flush=True)
        if (i + 1) % save_every == 0 or i + 1 == len(truths):      # usable if stopped early
            _save_grid(out, cols)
    print(f"{out}: {len(cols['crops'])} crops from {len(truths)} docs in {time.time() - t0:.0f}s")


def _save_grid(out: Path, cols: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    arr = np.empty(len(cols["crops"]), dtype=object)
    arr[:] = cols["crops"]
    tmp = out.with_suffix(".part.npz")
    np.savez_compressed(tmp, crops=arr, **{k: np.array(v) for k, v in cols.items() if k != "crops"})
    os.replace(tmp, out)


def build(split: str, n_docs: int, out: Path, seed: int = 0) -> None:
    d = ROOT / "datasets" / "generated" / split
    truths = sorted(d.glob("*.truth.json"))
    rng = np.random.default_rng(seed)
    truths = [truths[i] for i in sorted(rng.choice(len(truths), min(n_docs, len(truths)), replace=False))]
    crops, labels, texts, rends, docs = [], [], [], [], []
    t0 = time.time()
    for i, tp in enumerate(truths):
        for c, lab, text, name in doc_crops(tp):
            crops.append(c)
            labels.append(lab)
            texts.append(text)
            rends.append(name)
            docs.append(tp.name.split(".")[0])
        print(f"{i + 1}/{len(truths)} {len(crops)} crops {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    arr = np.empty(len(crops), dtype=object)
    arr[:] = crops
    np.savez_compressed(out, crops=arr, labels=np.array(labels), texts=np.array(texts),
                        renderings=np.array(rends), docs=np.array(docs))
    print(f"{out}: {len(crops)} crops from {len(truths)} docs in {time.time() - t0:.0f}s")


FONTS = ["/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
         "/usr/share/fonts/truetype/arphic/uming.ttc", "/usr/share/fonts/truetype/arphic/ukai.ttc"]


def random_number(rng) -> str:
    n = int(rng.integers(1, 7))
    t = str(int(rng.integers(10 ** (n - 1) if n > 1 else 0, 10 ** n)))
    u = rng.random()
    if u < 0.2:
        t += "." + "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 5))))
    elif u < 0.3:
        t = ("+" if rng.random() < 0.5 else "-") + t
    return t


def render_crop(text: str, font: str, size: int, rng=None, index: int = 0) -> np.ndarray:
    """A line crop as grid.cell_lines hands it: ink trimmed, 4 px margin, white sides of
    about the line height (the corpus is mostly '0': these add every digit in every place)."""
    import cv2
    from PIL import Image, ImageDraw, ImageFont
    f = ImageFont.truetype(font, size, index=index)
    im = Image.new("L", (size * (len(text) + 2), size * 2), 255)
    ImageDraw.Draw(im).text((size // 2, size // 3), text, font=f, fill=0)
    a = np.asarray(im)
    ys, xs = np.where(a < 200)
    if len(ys) == 0:
        return None
    if rng is not None and rng.random() < 0.5:
        a = cv2.GaussianBlur(a, (3, 3), float(rng.uniform(0.3, 1.0)))
    a = a[max(0, ys.min() - 4): ys.max() + 5, max(0, xs.min() - 4): xs.max() + 5]
    side = max(0, a.shape[0] - 4)
    a = cv2.copyMakeBorder(a, 0, 0, side, side, cv2.BORDER_CONSTANT, value=255)
    if rng is not None:
        a = a.astype(np.float32) * rng.uniform(0.75, 1.0) + rng.uniform(0, 40)
        a += rng.normal(0, rng.uniform(0, 12), a.shape)
        a = np.clip(a, 0, 255)
    return a.astype(np.uint8)


def synthetic(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for _ in range(n):
        t = random_number(rng)
        c = render_crop(t, FONTS[int(rng.integers(len(FONTS)))], int(rng.integers(18, 40)), rng)
        if c is not None:
            crops.append(c)
            labels.append(t)
    return crops, labels


def load(path: Path):
    z = np.load(path, allow_pickle=True)
    return list(z["crops"]), list(z["labels"]), {k: list(z[k]) for k in ("texts", "renderings", "docs")}


# -- model ------------------------------------------------------------------------------------

def make_model(n_classes: int | None = None, widths: tuple[int, ...] = (16, 32, 48, 64), seq: int = 96):
    """The CTC CRNN: four conv blocks of `widths` channels (height 32 → 2), two 1-D convs of
    `seq`, a head of `n_classes`. The digit models use the defaults; the label model
    (training/train_labels.py) is wider."""
    import torch
    from torch import nn

    class DigitCRNN(nn.Module):
        """Conv stack (height 32 → 2 after pooling) + 1-D conv over columns, CTC head."""

        def __init__(self, n_classes: int):
            super().__init__()

            def block(i, o, pool):
                return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(pool)]
            a, b, c, d = widths
            self.cnn = nn.Sequential(*block(1, a, 2), *block(a, b, 2), *block(b, c, (2, 1)),
                                     *block(c, d, (2, 1)))           # → (d, 2, W/4)
            self.seq = nn.Sequential(nn.Conv1d(2 * d, seq, 3, padding=1), nn.ReLU(),
                                     nn.Conv1d(seq, seq, 3, padding=1), nn.ReLU())
            self.head = nn.Conv1d(seq, n_classes, 1)

        def forward(self, x):                      # x: (N, 1, 32, W), ink = 1, paper = 0
            f = self.cnn(x)
            f = f.flatten(1, 2)                     # (N, 2d, T)
            return torch.softmax(self.head(self.seq(f)), dim=1).transpose(1, 2)   # (N, T, C)

    return DigitCRNN(n_classes or len(ALPHABET) + 1)


def prep(crop: np.ndarray, augment=None, max_w: int = MAX_W) -> np.ndarray:
    """The runtime's own preprocessing (pipeline.digits.prep), widths jittered in training."""
    from pipeline import digits as runtime
    return runtime.prep(crop, 1.0 if augment is None else float(augment.uniform(0.85, 1.15)), max_w)


def degrade(crop: np.ndarray, rng) -> np.ndarray:
    """A harder copy of a line crop, the ways scans break (training only; the label stays):
    strokes made bolder or thinner (toner, a thin font), the line scanned at a lower
    resolution and scaled back, blur, JPEG at a low quality, faded ink on toned paper, and
    speckle. A thinning that would wipe out most of the ink is not applied (a 0 must still
    be printed, not a blank)."""
    import cv2
    a = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    a = np.ascontiguousarray(a, dtype=np.uint8)
    h, w = a.shape[:2]
    k = np.ones((2, 2), np.uint8)
    u = rng.random()
    if u < 0.25:
        a = cv2.erode(a, k)                       # dark grows: bolder strokes
    elif u < 0.5:
        t = cv2.dilate(a, k)                      # paper grows: thinner strokes
        if (t < 128).sum() >= 0.4 * max(1, (a < 128).sum()):
            a = t
    if rng.random() < 0.3 and h >= 12:
        f = float(rng.uniform(0.45, 0.8))
        small = cv2.resize(a, (max(4, round(w * f)), max(4, round(h * f))), interpolation=cv2.INTER_AREA)
        a = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        a = cv2.GaussianBlur(a, (3, 3), float(rng.uniform(0.4, 1.1)))
    if rng.random() < 0.3:
        lo = float(rng.uniform(60, 160))          # the darkest ink fades to this grey
        paper = float(rng.uniform(200, 255))
        a = (lo + a.astype(np.float32) * (paper - lo) / 255.0)
        a = np.clip(a + rng.normal(0, rng.uniform(0, 10), a.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(10, 50))])
        if ok:
            a = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return a


def batchify(imgs: list[np.ndarray]):
    from pipeline import digits as runtime
    return runtime.batchify(imgs)


def train(train_npz: Path, val_npz: Path, epochs: int, out: Path, minutes: float, threads: int = 2,
          n_synth: int = 6000) -> dict:
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    crops, labels, _ = load(train_npz)
    # the corpus is mostly "0": keep as many zeros as other numbers, add rendered numbers
    zeros = [i for i, l in enumerate(labels) if l == "0"]
    other = [i for i, l in enumerate(labels) if l != "0"]
    keep = other + list(rng.choice(zeros, min(len(zeros), len(other)), replace=False))
    crops, labels = [crops[i] for i in keep], [labels[i] for i in keep]
    n_real = len(crops)
    sc, sl = synthetic(n_synth)
    crops, labels = crops + sc, labels + sl
    vcrops, vlabels, _ = load(val_npz)
    model = make_model()

    def report(ep, loss, t):
        acc = val_accuracy(model, vcrops, vlabels)
        print(f"epoch {ep + 1}: loss {loss:.4f} val string acc {acc:.4f} {t:.0f}s", file=sys.stderr, flush=True)
    t0 = time.time()
    ep = fit(model, crops, labels, epochs, 2e-3, minutes, rng, report)
    model.eval()
    export(model, out)
    n_params = sum(p.numel() for p in model.parameters())
    return {"train_crops": len(crops), "corpus_crops": n_real, "rendered_crops": len(sc), "val_crops": len(vcrops), "epochs": ep + 1,
            "val_string_acc": round(val_accuracy(model, vcrops, vlabels), 4),
            "params": n_params, "train_s": round(time.time() - t0)}


def load_grid(paths):
    """build_grid npz file(s), joined: crops, targets and the per-crop columns (kinds,
    renderings, held_out, docs, texts)."""
    crops, labels, meta = [], [], {}
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        z = np.load(path, allow_pickle=True)
        crops += list(z["crops"])
        labels += [str(x) for x in z["labels"]]
        for k in z.files:
            if k not in ("crops", "labels"):
                meta.setdefault(k, []).extend(z[k].tolist())
    return crops, labels, meta


def train_grid(train_npz: Path, val_npz: Path, epochs: int, out: Path, minutes: float, threads: int = 2,
               n_synth: int = 4000, init: Path | None = None, max_lr: float = 1e-3, zero_share: float = 1.5,
               freeze_cnn: bool = False, views: int = 2, degrade_p: float = 0.0) -> dict:
    """Train on the pipeline's own crops (build --grid): value cells and the label cells the
    routing gate must refuse (their glyphs one OTHER each), plus rendered numbers; zeros (most
    cells) capped at `zero_share` × the other value crops. `init`: start from a shipped model
    (its head gains the OTHER class)."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    crops, labels, meta = load_grid(train_npz)
    held = [bool(h) for h in meta.get("held_out", [False] * len(crops))]
    zeros = [i for i, l in enumerate(labels) if l == "0" and not held[i]]
    other = [i for i, l in enumerate(labels) if l != "0" and not held[i]]
    n_values = sum(1 for i in other if OTHER not in labels[i])
    keep = other + list(rng.choice(zeros, min(len(zeros), int(zero_share * max(1, n_values))), replace=False))
    crops, labels = [crops[i] for i in keep], [labels[i] for i in keep]
    n_real = len(crops)
    sc, sl = synthetic(n_synth)
    crops, labels = crops + sc, labels + sl
    vcrops, vlabels, _ = load_grid(val_npz)
    model = from_onnx(init, GRID_ALPHABET) if init else make_model(len(GRID_ALPHABET) + 1)

    def report(ep, loss, t):
        acc = val_accuracy(model, vcrops, vlabels, GRID_ALPHABET)
        print(f"epoch {ep + 1}: loss {loss:.4f} val string acc {acc:.4f} {t:.0f}s", file=sys.stderr, flush=True)
    t0 = time.time()
    if freeze_cnn:
        ep = fit_head(model, crops, labels, epochs, max_lr, rng, report, alphabet=GRID_ALPHABET, views=views,
                      degrade_p=degrade_p)
    else:
        # from a shipped model its BatchNorm is folded (from_onnx): it keeps those statistics
        ep = fit(model, crops, labels, epochs, max_lr, minutes, rng, report, alphabet=GRID_ALPHABET,
                 freeze_bn=init is not None, degrade_p=degrade_p)
    model.eval()
    export(model, out, GRID_ALPHABET)
    return {"train_crops": len(crops), "corpus_crops": n_real, "rendered_crops": len(sc), "val_crops": len(vcrops),
            "epochs": ep + 1, "val_string_acc": round(val_accuracy(model, vcrops, vlabels, GRID_ALPHABET), 4),
            "params": sum(p.numel() for p in model.parameters()), "train_s": round(time.time() - t0),
            "init": str(init) if init else None, "freeze_cnn": freeze_cnn}


def fit_head(model, crops, labels, epochs: int, max_lr: float, rng, on_epoch=None, alphabet: str = GRID_ALPHABET,
             views: int = 2, degrade_p: float = 0.0) -> int:
    """CTC training of the sequence layers and head only, on the convolution stack's
    features computed once per crop (`views` width-jittered versions each; after the
    first, each crop `degrade`d with probability `degrade_p`): the CNN a shipped model
    learned stays, the OTHER class is learned on top, at a fraction of the CPU of full
    training (the features are the costly part)."""
    import torch
    idx = {c: i + 1 for i, c in enumerate(alphabet)}
    model.eval()
    for prm in model.cnn.parameters():
        prm.requires_grad_(False)
    order = np.argsort([c.shape[1] / c.shape[0] for c in crops])
    bs = 64
    feats = []
    with torch.no_grad():
        for v in range(views):
            for i in range(0, len(order), bs):
                b = order[i:i + bs]
                x = torch.from_numpy(batchify([prep(degrade(crops[k], rng) if v and degrade_p and rng.random() < degrade_p
                                                    else crops[k], rng if v else None) for k in b]))
                feats.append((model.cnn(x).flatten(1, 2), b))
    params = list(model.seq.parameters()) + list(model.head.parameters())
    opt = torch.optim.AdamW(params, lr=max_lr, weight_decay=1e-4)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    total = epochs * len(feats)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total)
    t0, step, ep = time.time(), 0, 0
    for ep in range(epochs):
        model.seq.train()
        tot = 0.0
        for j in rng.permutation(len(feats)):
            f, b = feats[j]
            y = torch.softmax(model.head(model.seq(f)), dim=1).transpose(1, 2)
            tot += _ctc_step(y, [labels[k] for k in b], idx, ctc, opt, sched if step < total - 1 else None)
            step += 1
        if on_epoch and ep + 1 == epochs:
            on_epoch(ep, tot / max(1, len(feats)), time.time() - t0)
    model.eval()
    return ep


def _ctc_step(y, texts: list[str], idx: dict, ctc, opt, sched) -> float:
    """One optimiser step on the CTC loss of probabilities `y` (N, T, C) for `texts`; the
    one-cycle schedule steps unless it is None (its last step). Returns the loss."""
    import torch
    lp = torch.log(y.clamp_min(1e-8)).transpose(0, 1)   # (T, N, C)
    tg = torch.tensor([idx[ch] for t in texts for ch in t])
    tl = torch.tensor([len(t) for t in texts])
    il = torch.full((len(texts),), lp.shape[0], dtype=torch.long)
    loss = ctc(lp, tg, il, tl)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()
    return float(loss.detach())


def fit(model, crops, labels, epochs: int, max_lr: float, minutes: float, rng, on_epoch=None,
        freeze_bn: bool = False, alphabet: str = ALPHABET, degrade_p: float = 0.0, max_w: int = MAX_W) -> int:
    """CTC training, batches of similar widths, one-cycle LR; returns the last epoch index.
    freeze_bn: BatchNorm keeps its statistics (fine-tuning a shipped model on few crops).
    degrade_p: each crop of a batch is `degrade`d (a fresh draw every epoch) this often."""
    import torch
    idx = {c: i + 1 for i, c in enumerate(alphabet)}
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=1e-4)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    order = np.argsort([c.shape[1] / c.shape[0] for c in crops])    # similar widths per batch
    bs = 64
    batches = [order[i:i + bs] for i in range(0, len(order), bs)]
    total = epochs * len(batches)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total)
    t0 = time.time()
    step = 0
    ep = 0
    for ep in range(epochs):
        model.train()
        if freeze_bn:
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()
        rng.shuffle(batches)
        tot = 0.0
        for b in batches:
            x = torch.from_numpy(batchify([prep(degrade(crops[i], rng) if degrade_p and rng.random() < degrade_p
                                                else crops[i], rng, max_w) for i in b]))
            y = model(x)                                   # (N, T, C)
            tot += _ctc_step(y, [labels[i] for i in b], idx, ctc, opt, sched if step < total - 1 else None)
            step += 1
        if on_epoch:
            on_epoch(ep, tot / max(1, len(batches)), time.time() - t0)
        if time.time() - t0 > minutes * 60:
            print("time budget reached", file=sys.stderr)
            break
    model.eval()
    return ep


def greedy(probs: np.ndarray, alphabet: str = ALPHABET) -> str:
    s, prev = [], 0
    for i in probs.argmax(1):
        if i and i != prev:
            s.append(alphabet[i - 1])
        prev = i
    return "".join(s)


def val_accuracy(model, crops, labels, alphabet: str = ALPHABET, max_w: int = MAX_W) -> float:
    import torch
    model.eval()
    ok = 0
    with torch.no_grad():
        for i in range(0, len(crops), 128):
            x = torch.from_numpy(batchify([prep(c, max_w=max_w) for c in crops[i:i + 128]]))
            y = model(x).numpy()
            # per-crop valid steps (padding columns are white and read as blank anyway)
            for k, lab in enumerate(labels[i:i + 128]):
                ok += greedy(y[k], alphabet) == lab
    model.train()
    return ok / max(1, len(crops))


def export(model, out: Path, alphabet: str = ALPHABET, max_w: int = MAX_W) -> None:
    import onnx
    import torch
    out.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(1, 1, HEIGHT, 64)
    torch.onnx.export(model, x, str(out), input_names=["x"], output_names=["probs"],
                      dynamic_axes={"x": {0: "n", 3: "w"}, "probs": {0: "n", 1: "t"}},
                      opset_version=17, dynamo=False)
    m = onnx.load(str(out))
    for k, v in {"alphabet": alphabet, "height": str(HEIGHT), "max_width": str(max_w),
                 "input": "grey crop resized to height 32, contrast stretched (paper median 0, darkest ink 1), right-padded with 0"}.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, str(out))


# -- --add: fine-tune the shipped model on reviewed cell crops ---------------------------------

SAMPLES = ROOT / "datasets" / "samples"


def reviewed_crops(dirs) -> tuple[list, list, list]:
    """(line crops, labels, where) from `gouji review` output (OUT/reviewed): every cell a
    reviewer confirmed or corrected to a plain number whose crop was saved, cut into text
    lines by the pipeline's own grid.cell_lines; cells that are not one line are skipped."""
    import cv2
    from pipeline import grid
    crops, labels, where = [], [], []
    for d in dirs:
        for f in sorted(Path(d).rglob("*.json")):
            try:
                rev = json.loads(f.read_text(encoding="utf-8")).get("review") or {}
            except (OSError, ValueError, AttributeError):
                continue
            for key, dec in sorted((rev.get("cells") or {}).items()):
                lab = label_of(str(dec.get("value"))) if dec.get("value") is not None else None
                if lab is None or not dec.get("crop"):
                    continue
                img = cv2.imread(str(f.parent / dec["crop"]), cv2.IMREAD_GRAYSCALE)
                if img is None:
                    continue
                scale = float(dec.get("crop_px_per_unit") or 200 / 72)
                rules = cv2.dilate(cv2.bitwise_or(*grid.line_masks(grid.binarise(img), scale)), np.ones((3, 3), np.uint8))
                ok, lines = grid.cell_lines(img, rules, grid.RawCell(0, 0, img.shape[1], img.shape[0]), scale)
                if ok and len(lines) == 1:
                    crops.append(lines[0])
                    labels.append(lab)
                    where.append(f"{f.name}:{key}")
    return crops, labels, where


def sample_eval(cache: Path | None = None, exclude_sha256=()) -> tuple[list, list]:
    """The fixed held-out digit set: the numeric cells of the committed samples' scan
    renderings (datasets/samples, never trained on), cut as doc_crops cuts them. A rendering
    whose sha256 is in `exclude_sha256` (a reviewed document: its crops are training data
    now) is left out."""
    if cache and Path(cache).exists():
        crops, labels, meta = load(cache)
        docs, rends = meta["docs"], meta["renderings"]
    else:
        crops, labels, texts, rends, docs = [], [], [], [], []
        for tp in sorted(SAMPLES.glob("*.truth.json")):
            for c, lab, text, name in doc_crops(tp):
                crops.append(c), labels.append(lab), texts.append(text), rends.append(name), docs.append(tp.name)
        if cache:
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            arr = np.empty(len(crops), dtype=object)
            arr[:] = crops
            np.savez_compressed(cache, crops=arr, labels=np.array(labels), texts=np.array(texts),
                                renderings=np.array(rends), docs=np.array(docs))
    if exclude_sha256:
        sha = {}
        for tp in SAMPLES.glob("*.truth.json"):
            for name, r in (json.loads(tp.read_text(encoding="utf-8")).get("renderings") or {}).items():
                sha[(tp.name, name)] = r.get("sha256")
        keep = [i for i in range(len(crops)) if sha.get((str(docs[i]), str(rends[i]))) not in set(exclude_sha256)]
        crops, labels = [crops[i] for i in keep], [labels[i] for i in keep]
    return crops, labels


def reviewed_sources(dirs) -> set[str]:
    """sha256 of the documents reviewed in `dirs` (gouji review records it per document)."""
    out = set()
    for d in dirs:
        for f in Path(d).rglob("*.json"):
            try:
                sha = (json.loads(f.read_text(encoding="utf-8")).get("review") or {}).get("source_sha256")
            except (OSError, ValueError, AttributeError):
                continue
            if sha:
                out.add(sha)
    return out


def onnx_accuracy(path: Path, crops, labels) -> float:
    """String accuracy of an exported model's greedy reading (the runtime reader)."""
    from pipeline.digits import DigitReader
    if not crops:
        return 0.0
    res = DigitReader(path).recognise(crops)
    return sum(r.text == lab for r, lab in zip(res, labels)) / len(crops)


def onnx_alphabet(path: Path) -> str:
    import onnx
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}.get("alphabet", ALPHABET)


def from_onnx(path: Path, alphabet: str | None = None):
    """The shipped ONNX model back as a torch DigitCRNN. The export folded each BatchNorm
    into its conv: the folded conv weights go in, and BatchNorm becomes the identity plus
    the folded bias (so a later export folds it back the same way). With `alphabet` longer
    than the model's own (a class added at its end) the head gains those classes, their
    weights zero and their bias low: training starts from what the model already reads."""
    import onnx
    import torch
    from onnx import numpy_helper
    m = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    own = onnx_alphabet(path)
    alphabet = alphabet or own
    if not alphabet.startswith(own):
        raise ValueError(f"alphabet {alphabet!r} does not extend the model's {own!r}")
    model = make_model(len(alphabet) + 1)
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    bns = [mod for mod in model.cnn if isinstance(mod, torch.nn.BatchNorm2d)]
    cnn_convs = [mod for mod in model.cnn if isinstance(mod, torch.nn.Conv2d)]
    with torch.no_grad():
        for node, conv, bn in zip(convs[:len(cnn_convs)], cnn_convs, bns):
            w, b = init[node.input[1]], init[node.input[2]]
            conv.weight.copy_(torch.from_numpy(np.array(w)))
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(np.array(b)))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        sd = model.state_dict()
        for k in ("seq.0.weight", "seq.0.bias", "seq.2.weight", "seq.2.bias", "head.weight", "head.bias"):
            src = torch.from_numpy(np.array(init[k]))
            if k.startswith("head") and src.shape[0] < sd[k].shape[0]:
                sd[k].zero_()
                if k == "head.bias":
                    sd[k].fill_(-4.0)
                sd[k][:src.shape[0]] = src
            else:
                sd[k].copy_(src)
    model.eval()
    return model


def finetune(add_dirs, model_path: Path, out: Path | None = None, threads: int = 2, eval_cache: Path | None = None,
             log=print) -> dict:
    """Fine-tune the shipped digit model on reviewed crops (configs/review.yaml digits_finetune:
    each `repeat` times, plus rendered numbers so it forgets nothing), evaluate old and new on the fixed held-out set
    (sample_eval) and write the new one to `out` (default: over model_path) only when it is
    not worse there. Returns what happened; never raises for a missing torch."""
    from pipeline.templates import config
    cfg = config("review.yaml").get("digits_finetune") or {}
    epochs, repeat, n_synth = int(cfg.get("epochs", 2)), int(cfg.get("repeat", 24)), int(cfg.get("synth", 800))
    lr, minutes = float(cfg.get("lr", 2e-4)), float(cfg.get("minutes", 5))
    out = Path(out or model_path)
    crops, labels, where = reviewed_crops(add_dirs)
    if not crops:
        return {"model": "digits", "kept": False, "reason": "no reviewed numeric cell crops in " + ", ".join(map(str, add_dirs))}
    try:
        import torch
    except ImportError:
        return {"model": "digits", "kept": False, "reason": "torch is not installed (pip install -e '.[train]')",
                "reviewed_crops": len(crops)}
    import tempfile
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ev_c, ev_l = sample_eval(eval_cache, exclude_sha256=reviewed_sources(add_dirs))
    before = onnx_accuracy(model_path, ev_c, ev_l)
    before_rev = onnx_accuracy(model_path, crops, labels)
    log(f"digit model {model_path}: held-out {before:.4f} ({len(ev_c)} crops), reviewed crops {before_rev:.4f} ({len(crops)})")
    model = from_onnx(model_path)
    if cfg.get("freeze_cnn", True):     # the convolutions stay: only the sequence layers and head move
        for prm in model.cnn.parameters():
            prm.requires_grad_(False)
    sc, sl = synthetic(n_synth, seed=7)
    t0 = time.time()
    fit(model, crops * repeat + sc, labels * repeat + sl, epochs, lr, minutes, rng, freeze_bn=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=str(out.parent) if out.parent.exists() else None)
    os.close(fd)
    try:
        export(model, Path(tmp), onnx_alphabet(model_path))
        after = onnx_accuracy(Path(tmp), ev_c, ev_l)
        after_rev = onnx_accuracy(Path(tmp), crops, labels)
        res = {"model": "digits", "heldout_before": round(before, 4), "heldout_after": round(after, 4),
               "heldout_n": len(ev_c), "reviewed_before": round(before_rev, 4), "reviewed_after": round(after_rev, 4),
               "reviewed_crops": len(crops), "train_s": round(time.time() - t0, 1), "kept": after >= before}
        if res["kept"]:
            out.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, out)
            res["path"] = str(out)
        else:
            res["reason"] = f"worse on the held-out set ({after:.4f} < {before:.4f})"
    finally:
        Path(tmp).unlink(missing_ok=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--split", default="train")
    b.add_argument("--docs", type=int, default=60)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--grid", type=Path, default=None, metavar="DIR",
                   help="cut crops from the recovered grid of DIR's scans (grid_doc_crops), labels and values alike")
    b.add_argument("--skew-step", type=float, default=None, help="grid.skew_step_deg for this build (training crops)")
    t = sub.add_parser("train")
    t.add_argument("--train", type=Path, nargs="+", default=[ROOT / "datasets/generated/digits_train.npz"])
    t.add_argument("--val", type=Path, default=ROOT / "datasets/generated/digits_val.npz")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--minutes", type=float, default=8)
    t.add_argument("--synth", type=int, default=6000, help="rendered number crops added")
    t.add_argument("--out", type=Path, default=ROOT / "models/digits/digits.onnx")
    t.add_argument("--threads", type=int, default=2, help="torch threads (1 on a busy machine)")
    t.add_argument("--grid", action="store_true", help="--train/--val are build --grid crops (labels too)")
    t.add_argument("--init", type=Path, default=None, help="start from this ONNX model (with --grid)")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (with --grid)")
    t.add_argument("--freeze-cnn", action="store_true", help="train only the sequence layers and head (with --init)")
    t.add_argument("--zero-share", type=float, default=1.5,
                   help="printed 0 crops kept at most this × the other value crops (with --grid)")
    t.add_argument("--views", type=int, default=2, help="width-jittered feature views per crop (with --freeze-cnn)")
    t.add_argument("--degrade", type=float, default=0.0,
                   help="share of training crops made harder (degrade: bold/thin strokes, low resolution, blur, JPEG, fading; "
                        "with --grid: each epoch, or in the extra --views with --freeze-cnn)")
    f = sub.add_parser("finetune", help="fine-tune the shipped model on reviewed crops (gouji review)")
    f.add_argument("--add", action="append", required=True, type=Path, metavar="DIR")
    f.add_argument("--model", type=Path, default=ROOT / "models/digits/digits.onnx")
    f.add_argument("--out", type=Path, default=None, help="where a not-worse model goes (default: --model)")
    f.add_argument("--eval-cache", type=Path, default=None, help="npz cache of the held-out crops")
    a = ap.parse_args(argv)
    if a.cmd == "finetune":
        res = finetune(a.add, a.model, a.out, eval_cache=a.eval_cache)
        print(json.dumps(res))
        return 0
    if a.cmd == "build" and a.grid:
        if a.skew_step:            # training crops only: a coarser skew search (docs/speed.md: 0.3° ~1/5 the CPU)
            from pipeline.grid_cells import grid_config
            grid_config()["skew_step_deg"] = a.skew_step
        build_grid(a.grid, a.docs, a.out)
    elif a.cmd == "build":
        build(a.split, a.docs, a.out)
    elif a.grid:
        print(json.dumps(train_grid(a.train, a.val, a.epochs, a.out, a.minutes, threads=a.threads, n_synth=a.synth,
                                    init=a.init, max_lr=a.lr, freeze_cnn=a.freeze_cnn, views=a.views,
                                    degrade_p=a.degrade, zero_share=a.zero_share)))
    else:
        print(json.dumps(train(a.train[0], a.val, a.epochs, a.out, a.minutes, threads=a.threads, n_synth=a.synth)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
