"""Does the digit model's second opinion beat PP-OCR alone on numeric cells?

Crops: single-line value cells whose printed text is a plain number, cut from scan
renderings by their truth boxes with grid.cell_lines (training/train_digits.doc_crops).
For each crop: PP-OCR's readings (ocr.candidates of its numeric slots), the digit model's
readings, and `digits.combine` of both at several weights. The weight is chosen on the
validation crops, the figures reported on the test crops. Top-1 = the first reading
equals the printed value (parse_value of the truth text).

    python -m training.eval_digits --val datasets/generated/digits_val.npz --test-docs 10 \
        --out models/digits/eval.json
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def _eq(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-6


def readings(crops):
    from pipeline.digits import get_reader
    from pipeline.ocr import candidates, get_engine
    eng = get_engine("rapidocr")
    t0 = time.perf_counter()
    pp = [candidates(r.slots) for r in eng.recognise(crops)]
    t_pp = (time.perf_counter() - t0) / max(1, len(crops))
    rd = get_reader()
    t0 = time.perf_counter()
    dg = [candidates(r.slots) for r in rd.recognise(crops)]
    t_dg = (time.perf_counter() - t0) / max(1, len(crops))
    return pp, dg, t_pp, t_dg


def score(truths, lists, groups) -> dict:
    out = defaultdict(lambda: [0, 0])
    for t, r, g in zip(truths, lists, groups):
        ok = bool(r) and _eq(r[0][0], t)
        for k in ("all", g[0], "nonzero" if t != 0 else "zero"):
            out[k][0] += ok
            out[k][1] += 1
    return {k: {"top1": round(a / n, 4), "n": n} for k, (a, n) in sorted(out.items())}


def evaluate(crops, texts, rends, weights=WEIGHTS):
    from pipeline.digits import combine
    from pipeline.ocr import parse_value
    truths = [parse_value(t)[1] for t in texts]
    groups = [(r,) for r in rends]
    pp, dg, t_pp, t_dg = readings(crops)
    res = {"ppocr": score(truths, pp, groups), "digits": score(truths, dg, groups),
           "ms_per_cell": {"ppocr": round(1000 * t_pp, 2), "digits": round(1000 * t_dg, 2)}}
    for w in weights:
        res[f"combined_w{w}"] = score(truths, [combine(a, b, weight=w) for a, b in zip(pp, dg)], groups)
    return res


def main(argv=None) -> int:
    from training.train_digits import build, load
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--val", type=Path, default=Path("datasets/generated/digits_val.npz"))
    ap.add_argument("--test", type=Path, default=Path("datasets/generated/digits_test.npz"))
    ap.add_argument("--test-docs", type=int, default=10)
    ap.add_argument("--max-crops", type=int, default=1500, help="random subsample per set (PP-OCR is slow)")
    ap.add_argument("--out", type=Path, default=Path("models/digits/eval.json"))
    a = ap.parse_args(argv)
    if not a.test.exists():
        build("test", a.test_docs, a.test)
    out = {}
    for name, path in (("val", a.val), ("test", a.test)):
        crops, _labels, meta = load(path)
        keep = np.arange(len(crops))
        if len(keep) > a.max_crops:
            keep = np.sort(np.random.default_rng(0).choice(len(keep), a.max_crops, replace=False))
        out[name] = evaluate([crops[i] for i in keep], [meta["texts"][i] for i in keep],
                             [meta["renderings"][i] for i in keep])
        out[name]["docs"] = len(set(meta["docs"]))
    best = max(WEIGHTS, key=lambda w: out["val"][f"combined_w{w}"]["all"]["top1"])
    out["chosen_weight"] = best
    t = out["test"]
    out["summary_test"] = {"ppocr": t["ppocr"]["all"], "digits": t["digits"]["all"],
                           "combined": t[f"combined_w{best}"]["all"],
                           "combined_beats_ppocr": t[f"combined_w{best}"]["all"]["top1"] > t["ppocr"]["all"]["top1"]}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(json.dumps(out["summary_test"], indent=1), "chosen weight", best)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
