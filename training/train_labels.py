"""Train the small label recogniser (template text first, pipeline/label_reader.py) and export ONNX.

Why: PP-OCR reads row labels and column headers at ~16-50 ms a crop, and they are the national
template's fixed wording over ~230 characters. A CRNN that knows only those characters reads a
line in ~2 ms; the runtime keeps its reading only when it is template text read surely.

Data (a function of the inputs alone): every printed text of `label_reader.printed_texts()`
rendered as the grid's line crops (`train_digits.render_crop`), whole, as a prefix (a label cut
to its first glyphs) or as a stretch (a wrapped cell's line), in the generator's fonts and two
others, `train_digits.degrade`d half the time; plus random strings over the alphabet (so a
character is learnt, not a word); plus the train split's own single-line label crops cut by the
grid (`train_digits build --grid`, e.g. datasets/generated/w31d/train12_crops.npz), whose last
documents are the validation set. One font is held out of training and reported apart.

    python -m training.train_labels --crops datasets/generated/w31d/train12_crops.npz \\
        --out models/labels/labels.onnx --render 24000 --epochs 6
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from training import train_digits as td

MAX_W = 1024
FONTS = [(p, 0) for p in td.FONTS] + [("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
                                      ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2)]
HELD_OUT_FONT = ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2)


def alphabet() -> str:
    from pipeline.label_reader import lexicon
    return "".join(sorted(set(lexicon()) - {"\n"}))


def fragment(text: str, rng) -> str:
    """The whole text, a prefix or a stretch of it (at least 2 characters when it has them)."""
    n = len(text)
    u = rng.random()
    if n <= 2 or u < 0.4:
        return text
    a = 0 if u < 0.7 else int(rng.integers(0, n - 1))
    b = int(rng.integers(min(n, a + 2), n + 1))
    return text[a:b]


def rendered(n: int, fonts, seed: int, alpha: str):
    """n rendered crops (crop, target) of template text and random alphabet strings."""
    from pipeline.label_reader import normalised, printed_texts
    rng = np.random.default_rng(seed)
    texts = list(printed_texts())
    crops, targets = [], []
    while len(crops) < n:
        if rng.random() < 0.2:
            raw = "".join(rng.choice(list(alpha), int(rng.integers(2, 12))))
        else:
            raw = fragment(texts[int(rng.integers(len(texts)))], rng)
        raw = raw[:28]
        tgt = normalised(raw)
        if not tgt:
            continue
        path, index = fonts[int(rng.integers(len(fonts)))]
        c = td.render_crop(raw, path, int(rng.integers(18, 42)), rng, index=index)
        if c is not None:
            crops.append(c)
            targets.append(tgt)
    return crops, targets


def grid_crops(path: Path, alpha: str, val_docs: int):
    """The train split's label crops cut by the grid: (train, val) lists of (crop, target); the
    last `val_docs` documents are validation."""
    from pipeline.label_reader import normalised
    z = np.load(path, allow_pickle=True)
    docs = sorted(set(str(d) for d in z["docs"]))
    held = set(docs[-val_docs:]) if val_docs else set()
    train, val = [], []
    for c, t, k, d in zip(z["crops"], z["texts"], z["kinds"], z["docs"]):
        tgt = normalised(str(t))
        if k != "label" or not tgt or set(tgt) - set(alpha):
            continue
        (val if str(d) in held else train).append((c, tgt))
    return train, val


def make_model(n_classes: int):
    """The digit CRNN (train_digits.make_model), wider: conv 16-32-64-96, two 1-D convs of 128."""
    return td.make_model(n_classes, widths=(16, 32, 64, 96), seq=128)


def gate_report(model_path: Path, crops, targets) -> dict:
    """Through the runtime gate (label_reader.sure_labels): crops kept, and kept with a reading
    other than the printed text."""
    from pipeline import label_reader as lr
    from pipeline.digits import DigitReader
    got = lr.sure_labels(list(crops), {**lr.settings(), "enabled": True}, DigitReader(model_path))
    kept = [(r.text, t) for r, t in zip(got, targets) if r is not None]
    return {"crops": len(targets), "kept": len(kept), "kept_wrong": sum(a != b for a, b in kept),
            "wrong": [f"{b} -> {a}" for a, b in kept if a != b][:10]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crops", type=Path, required=True, help="build --grid npz of train documents")
    ap.add_argument("--out", type=Path, default=Path("models/labels/labels.onnx"))
    ap.add_argument("--render", type=int, default=24000)
    ap.add_argument("--real-copies", type=int, default=3)
    ap.add_argument("--val-docs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--degrade", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", type=Path, help="continue from a state dict this script saved (OUT.pt)")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    alpha = alphabet()
    t0 = time.time()
    rc, rt = rendered(a.render, FONTS, 1, alpha)
    real, val = grid_crops(a.crops, alpha, a.val_docs)
    crops = rc + [c for c, _ in real] * a.real_copies
    targets = rt + [t for _, t in real] * a.real_copies
    hc, ht = rendered(600, [HELD_OUT_FONT], 2, alpha)
    sc, st = rendered(600, FONTS, 3, alpha)
    print(f"{len(rc)} rendered + {len(real)} grid crops x{a.real_copies}; val {len(val)} grid crops; "
          f"alphabet {len(alpha)}; {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    model = make_model(len(alpha) + 1)
    if a.init:
        model.load_state_dict(torch.load(a.init))
    vc, vt = [c for c, _ in val], [t for _, t in val]

    def report(ep, loss, t):
        acc = td.val_accuracy(model, vc, vt, alpha, MAX_W)
        print(f"epoch {ep + 1}: loss {loss:.4f} val grid crops {acc:.4f} {t:.0f}s", file=sys.stderr, flush=True)
    t1 = time.time()
    ep = td.fit(model, crops, targets, a.epochs, a.lr, a.minutes, rng, report, alphabet=alpha,
                degrade_p=a.degrade, max_w=MAX_W)
    model.eval()
    td.export(model, a.out, alpha, MAX_W)
    torch.save(model.state_dict(), a.out.with_suffix(".pt"))
    stats = {"date": time.strftime("%Y-%m-%d"), "train_crops": len(crops), "rendered": len(rc), "grid_crops": len(real),
             "real_copies": a.real_copies, "epochs": ep + 1, "train_s": round(time.time() - t1),
             "params": sum(p.numel() for p in model.parameters()), "alphabet": len(alpha),
             "val_grid_string_acc": round(td.val_accuracy(model, vc, vt, alpha, MAX_W), 4),
             "held_out_font_string_acc": round(td.val_accuracy(model, hc, ht, alpha, MAX_W), 4),
             "rendered_string_acc": round(td.val_accuracy(model, sc, st, alpha, MAX_W), 4),
             "gate_val_grid": gate_report(a.out, vc, vt), "gate_held_out_font": gate_report(a.out, hc, ht)}
    a.out.with_suffix(".json").write_text(json.dumps(stats, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(stats, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
