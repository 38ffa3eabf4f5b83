"""Does the digit model's second opinion beat PP-OCR alone on numeric cells?

Crops: single-line value cells whose printed text is a plain number, cut from scan
renderings by their truth boxes with grid.cell_lines (training/train_digits.doc_crops).
For each crop: PP-OCR's readings (ocr.candidates of its numeric slots), the digit model's
readings, and `digits.combine` of both at several weights. The weight is chosen on the
validation crops, the figures reported on the test crops. Top-1 = the first reading
equals the printed value (parse_value of the truth text).

    python -m training.eval_digits --val datasets/generated/digits_val.npz --test-docs 10 \
        --out models/digits/eval.json

`--gate`: the routing gate (pipeline.digits.sure) calibrated against the truth on val crops
cut from the recovered grid (train_digits build --grid: value and label cells), the loosest
thresholds whose passed crops are >= --min-precision right, reported on test with the
held-out degradation styles apart:

    python -m training.eval_digits --gate --val V.npz [V2.npz] --test T.npz --out models/digits/gate.json

With --gate, the crop statistics' ranges over the val crops (digits.route.in_range) are
written too and applied to every gate (--no-ood: without them); build --grid crops carry
their page's style, and test is also reported per style (turned, binarised, JPEG ≤ 35, fax).
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


# -- the routing gate: which crops may skip PP-OCR ---------------------------------------------

GATE_GRID = {"min_char_score": (0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995),
             "min_top": (0.9, 0.95, 0.98, 0.99, 0.995, 0.999),
             "max_char_width": (0.9, 1.2)}


def features(crops, model: Path | None = None) -> list[dict]:
    """digits.gate_features of every crop, read by `model` (default: the routing model)."""
    from pipeline.digits import DigitReader, gate_features, route_reader
    reader = DigitReader(model) if model else route_reader()
    return [gate_features(c, r) for c, r in zip(crops, reader.recognise(crops))]


def stat_ranges(feats: list[dict], q: float = 0.002) -> dict:
    """The range of each crop statistic (digits.STATS) over the crops read as numbers,
    from the q to the 1 - q quantile: digits.route.in_range, the out-of-distribution check."""
    from pipeline.digits import STATS
    out = {}
    for k in STATS:
        v = np.array([f[k] for f in feats if f.get(k) is not None], float)
        if len(v):
            lo, hi = np.quantile(v, [q, 1 - q])
            out[k] = [round(float(lo), 4), round(float(hi), 4)]
    return out


def gate_table(crops, texts, kinds, model: Path | None = None, ranges: dict | None = None,
               feats: list[dict] | None = None) -> list[dict]:
    """Every threshold triple of GATE_GRID on these crops (build --grid): how many crops it
    passes and how many passed crops are wrong (read as a number that is not the printed
    one; anything passed whose print is not a number: a label, a blank mark). `ranges`:
    the out-of-distribution check (digits.in_range) applied with every triple."""
    import itertools
    from pipeline.digits import passes
    from pipeline.ocr import parse_value
    from pipeline.values import same_number
    feats = features(crops, model) if feats is None else feats
    # what is printed decides, not the cell's role: a label cell printed "6" read as 6 is right
    printed = [parse_value(t) for t in texts]
    truth = [v if ok and v is not None else "not a number" for ok, v in printed]
    right = [t != "not a number" and f["value"] is not None and same_number(f["value"], t)
             for f, t in zip(feats, truth)]
    n_values = sum(k == "value" for k in kinds)
    rows = []
    for a, b, c in itertools.product(*GATE_GRID.values()):
        gate = {"min_char_score": a, "min_top": b, "max_char_width": c, "in_range": ranges}
        passed = wrong = wrong_labels = 0
        for f, t, ok in zip(feats, truth, right):
            if not passes(f, gate):
                continue
            passed += 1
            wrong += not ok
            wrong_labels += t == "not a number"
        rows.append({"min_char_score": a, "min_top": b, "max_char_width": c, "passed": passed, "wrong": wrong, "wrong_labels": wrong_labels,
                     "values": n_values, "labels": len(kinds) - n_values,
                     "pass_share": round(passed / max(1, n_values), 4),
                     "precision": round(1 - wrong / passed, 5) if passed else 1.0})
    return rows


def choose_gate(rows: list[dict], min_precision: float = 0.999) -> dict:
    """The loosest gate (most crops passed) whose passed crops would still be at least this
    right with one more wrong crop ((wrong + 1) / passed: a margin, val is a few thousand
    crops and a gate at the edge lost 3 of 162 heavy test crops)."""
    ok = [r for r in rows if r["passed"] and (r["wrong"] + 1) / r["passed"] <= 1 - min_precision]
    return max(ok, key=lambda r: (r["passed"], r["min_char_score"], r["min_top"])) if ok else {}


STYLE_SETS = {"turned": lambda m, i: bool(m["turned"][i]), "binarized": lambda m, i: bool(m["binarized"][i]),
              "jpeg<=35": lambda m, i: 0 < int(m["jpeg"][i]) <= 35, "fax": lambda m, i: bool(m["fax"][i])}


def gate_main(a) -> int:
    """Calibrate on --val (styles seen in training only), report on --test: per rendering,
    held-out styles apart, and per page style (turned, binarised, JPEG ≤ 35, fax header)."""
    from training.train_digits import load_grid
    out = {"model": str(a.model or "configs/ocr.yaml digits.route.model"), "min_precision": a.min_precision}
    sets = {}
    for name, paths in (("val", a.val), ("test", a.test)):
        crops, _t, meta = load_grid(paths)
        held = [bool(h) for h in meta["held_out"]]
        for part, keep in (("seen", [not h for h in held]), ("held_out", held)):
            idx = [i for i, k in enumerate(keep) if k]
            groups = [(rend, [i for i in idx if rend == "all" or meta["renderings"][i] == rend])
                      for rend in ("scan_light", "scan_heavy", "all")]
            if "turned" in meta:
                groups += [(st, [i for i in idx if pick(meta, i)]) for st, pick in STYLE_SETS.items()]
            for rend, ids in groups:
                if ids:
                    sets[(name, part, rend)] = ([crops[i] for i in ids], [meta["texts"][i] for i in ids],
                                                [meta["kinds"][i] for i in ids], len(set(meta["docs"][i] for i in ids)))
    feats = {k: features(c, a.model) for k, (c, *_r) in sets.items()}
    ranges = stat_ranges([f for f, kd in zip(feats[("val", "seen", "all")], sets[("val", "seen", "all")][2])
                          if kd == "value" and f["value"] is not None]) if a.ood else None
    out["in_range"] = ranges
    tables = {k: gate_table(c, t, kd, a.model, ranges, feats[k]) for k, (c, t, kd, _) in sets.items()}
    chosen = choose_gate(tables[("val", "seen", "all")], a.min_precision)
    out["chosen"] = {k: chosen[k] for k in GATE_GRID} if chosen else None
    from pipeline.pdf import config
    shipped = {g: config()["digits"]["route"][g] for g in GATE_GRID}
    out["configured"] = shipped
    for name, gate in (("sets", chosen), ("sets_configured", shipped)):
        out[name] = {}
        for k, rows in tables.items():
            row = next((r for r in rows if gate and all(r[g] == gate[g] for g in GATE_GRID)), None)
            out[name]["/".join(k)] = {"docs": sets[k][3], **(row or {})}
    out["val_seen_all_grid"] = tables[("val", "seen", "all")]
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(json.dumps({k: out[k] for k in ("in_range", "chosen", "sets", "configured", "sets_configured")}, indent=1))
    return 0


def main(argv=None) -> int:
    from training.train_digits import build, load
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gate", action="store_true",
                    help="calibrate the routing gate on --val and report it on --test (build --grid crops)")
    ap.add_argument("--model", type=Path, default=None, help="digit model (default: configs/ocr.yaml)")
    ap.add_argument("--min-precision", type=float, default=0.999)
    ap.add_argument("--val", type=Path, nargs="+", default=[Path("datasets/generated/digits_val.npz")])
    ap.add_argument("--test", type=Path, nargs="+", default=[Path("datasets/generated/digits_test.npz")])
    ap.add_argument("--no-ood", dest="ood", action="store_false",
                    help="--gate without the out-of-distribution check (digits.route.in_range)")
    ap.add_argument("--test-docs", type=int, default=10)
    ap.add_argument("--max-crops", type=int, default=1500, help="random subsample per set (PP-OCR is slow)")
    ap.add_argument("--out", type=Path, default=Path("models/digits/eval.json"))
    a = ap.parse_args(argv)
    if a.gate:
        return gate_main(a)
    a.val, a.test = a.val[0], a.test[0]
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
