"""Fit the cell/document confidence calibrator (pipeline/score.py) and measure the solver.

Two halves:
* data → calibrator: `fit_calibrator(rows, labels)` takes per-cell feature rows (from
  pipeline.score.cell_features) and whether each final value was right; nothing else.
  So it refits unchanged from real OCR output: `--scans ROOT` runs the pipeline on scans
  that have *.truth.json; `--real VAL… --cache DIR` refits only the map on them through
  eval_scans' grid cache, held-out renderings measured apart (see docs/solver.md).
* a scan simulator: truth tables (the corpus' *.truth.json when present, else tables
  generated here, balanced by the template's equations, with printed inconsistencies
  injected) → candidate readings with realistic OCR confusions (3↔8, 1↔7, 0↔8/6/9, a
  dropped digit, illegible cells, a row shifted by one column, blank↔0 specks) at two
  degradation levels. Measures are honest only about this simulation.

    python -m training.calibrate --n 400 --seed 0           # simulate, fit, measure, save
    python -m training.calibrate --truth datasets/generated  # tables from the corpus
"""
from __future__ import annotations

import argparse
import json
import math
import pickle
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.model import Document, Field, Source
from pipeline.templates import templates

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "models" / "calibration"

# ----------------------------------------------------------------------------- truth tables
_BIG_ROWS = {"granted": 6, "partially_granted": 1.5, "unavailable_not_held": 2.5, "other": 1,
             "other_other": 1, "other_no_correction": 0.5, "rejected_repeated": 0.7,
             "rejected_petition": 0.7, "denied_third_party": 0.3, "denied_process_info": 0.3}


def random_truth(template: str, rng: random.Random, scale: float | None = None) -> dict:
    """A printed table set that satisfies the template's equations (values: int | float | None).

    Zeros print as "0" or as blanks (None) depending on the document's style.
    """
    t = templates()[template]
    scale = scale if scale is not None else math.exp(rng.uniform(math.log(2), math.log(3000)))
    blank_style = rng.random()   # < 0.25: zeros printed blank; < 0.35: some blank
    vals: dict = {}
    cols = [c.key for c in t.request_columns if c.key != "total"]
    rows = [r.key for r in t.request_rows if r.expected]
    results = [r for r in rows if r not in ("new_received", "carried_over", "total", "carried_forward")]
    share = {"natural_person": 1.0, "commercial_enterprise": 0.15, "research_institution": 0.02,
             "social_welfare_org": 0.03, "legal_service_org": 0.06, "other_org": 0.05}
    for c in cols:
        lam = scale * share[c] * rng.uniform(0.3, 1.5)
        new = int(np.random.default_rng(rng.randrange(1 << 30)).poisson(lam)) if rng.random() < 0.85 else 0
        carried = int(rng.random() < 0.4) * rng.randint(0, max(1, new // 10))
        fwd = int(rng.random() < 0.4) * rng.randint(0, max(0, (new + carried) // 8))
        tot = new + carried - fwd
        w = np.array([_BIG_ROWS.get(r, 0.08) * rng.random() for r in results])
        w = w / w.sum()
        parts = np.random.default_rng(rng.randrange(1 << 30)).multinomial(tot, w)
        vals[f"requests/new_received/{c}"] = new
        vals[f"requests/carried_over/{c}"] = carried
        vals[f"requests/carried_forward/{c}"] = fwd
        vals[f"requests/total/{c}"] = tot
        for r, p in zip(results, parts):
            vals[f"requests/{r}/{c}"] = int(p)
    for r in rows:
        vals[f"requests/{r}/total"] = sum(vals[f"requests/{r}/{c}"] for c in cols)
    for g in t.appeal_groups:
        parts = {c: (rng.randint(0, 6) if rng.random() < 0.35 else 0) for c in ("upheld", "corrected", "other", "pending")}
        for c, v in parts.items():
            vals[f"appeals/{g.key}/{c}"] = v
        vals[f"appeals/{g.key}/total"] = sum(parts.values())
    for k in t.keys("active"):
        lab = t.column_label(k)
        if lab is not None and lab.kind == "amount":
            vals[k] = round(rng.uniform(0, 500), rng.choice([0, 1, 2, 4])) if rng.random() < 0.5 else 0
        elif k.endswith("/change"):
            vals[k] = rng.randint(-20, 20)
        else:
            vals[k] = rng.randint(0, 60) if rng.random() < 0.6 else 0
    for k, v in vals.items():
        if v == 0 and (blank_style < 0.25 or (blank_style < 0.35 and rng.random() < 0.5)):
            vals[k] = None
    return vals


def inject_inconsistency(vals: dict, rng: random.Random) -> str:
    """Make one printed cell disagree with the equations (as real reports do); its key."""
    keys = [k for k in vals if k.startswith(("requests/", "appeals/"))]
    while True:
        k = rng.choice(keys)
        v = vals[k] or 0
        kind = rng.random()
        if kind < 0.2 and k.endswith("/total") and v > 0:
            new = 0                                  # a total printed as 0 beside its parts
        elif kind < 0.6:
            new = v + rng.choice([-1, 1]) * rng.randint(1, max(1, v // 3 + 1))
        else:
            new = v + rng.choice([1, 10, 100]) * rng.choice([-1, 1])
        if new >= 0 and new != v:
            vals[k] = new
            return k



# ----------------------------------------------------------------------------- scan simulator
CONFUSE = {"0": "869", "1": "7", "2": "7", "3": "8", "4": "9", "5": "6", "6": "058", "7": "12",
           "8": "306", "9": "04"}
LEVELS = {  # per-cell rates of each failure, and how sure the recogniser is when right;
    # "missed": a single digit with no detection box at all, read as a sure blank (seen on
    # real rapidocr output of the corpus' scans, whole rows at a time: "missed_row")
    "light": {"misread": 0.012, "drop": 0.002, "illegible": 0.003, "speck": 0.003, "row_shift": 0.004,
              "missed": 0.01, "missed_row": 0.01, "sure_beta": 200.0},
    "heavy": {"misread": 0.05, "drop": 0.008, "illegible": 0.015, "speck": 0.01, "row_shift": 0.012,
              "missed": 0.04, "missed_row": 0.03, "sure_beta": 40.0},
}


def _text(v) -> str:
    if v is None:
        return ""
    return str(v)


def _parse(s: str, like):
    if s == "":
        return None
    try:
        return float(s) if isinstance(like, float) else int(s)
    except ValueError:
        return None


def _confusion(v, rng: random.Random):
    """v with one digit confused (3↔8, 1↔7, 0↔8/6/9 …), or None if v has no digit."""
    s = _text(v) if v is not None else "0"
    pos = [i for i, ch in enumerate(s) if ch in CONFUSE]
    if not pos:
        return None
    i = rng.choice(pos)
    w = _parse(s[:i] + rng.choice(CONFUSE[s[i]]) + s[i + 1:], v if v is not None else 0)
    return w if w is not None and w != v else None


def simulate_readings(vals: dict, level: str, rng: random.Random) -> dict:
    """Candidate readings per key as a recogniser would give them: key → (alternatives,
    illegible). alternatives are ranked [(value, prob)]."""
    P = LEVELS[level]
    out: dict = {}
    shifted: dict = {}
    # a whole row read one column off (grid error): confident, wrong
    req_rows = sorted({k.split("/")[1] for k in vals if k.startswith("requests/")})
    for r in req_rows:
        if rng.random() < P["row_shift"]:
            cols = [k for k in vals if k.startswith(f"requests/{r}/")]
            start = rng.randrange(len(cols) - 1)
            for a, b in zip(cols[start:], cols[start + 1:]):
                shifted[a] = vals[b]
            shifted[cols[-1]] = None
    missed_rows = {r for r in req_rows if rng.random() < P["missed_row"]}
    for k, v in vals.items():
        u = rng.random()
        single = v is not None and len(_text(v)) == 1
        if single and (k.split("/")[1] in missed_rows and k.startswith("requests/") or rng.random() < P["missed"]):
            out[k] = ([(None, 1 - rng.betavariate(1, P["sure_beta"] * 3))], False)
            continue
        if k in shifted:
            out[k] = ([(shifted[k], rng.uniform(0.85, 0.995))], False)
            continue
        if u < P["illegible"]:
            out[k] = ([], True)
            continue
        u -= P["illegible"]
        if v is None:
            if u < P["speck"]:
                p = rng.uniform(0.5, 0.9)
                out[k] = ([(0, p), (None, (1 - p) * rng.uniform(0.6, 0.98))], False)
            else:
                out[k] = ([(None, 1 - rng.betavariate(1, P["sure_beta"] * 3))], False)
            continue
        if u < P["misread"]:
            w = _confusion(v, rng)
            if w is not None:
                if rng.random() < 0.7:
                    p = rng.uniform(0.35, 0.9)
                    alts = [(w, p), (v, (1 - p) * rng.uniform(0.5, 0.97))]
                else:   # a confident misread: the true value is a weak runner-up or absent
                    p = rng.uniform(0.9, 0.995)
                    alts = [(w, p)] + ([(v, (1 - p) * rng.uniform(0.3, 0.9))] if rng.random() < 0.8 else [])
                out[k] = (alts, False)
                continue
        u -= P["misread"]
        if u < P["drop"] and len(_text(v)) >= 2:
            s = _text(v)
            i = rng.randrange(len(s))
            w = _parse(s[:i] + s[i + 1:], v)
            if w is not None and w != v:
                p = rng.uniform(0.6, 0.98)
                out[k] = ([(w, p)], False)
                continue
        p = 1 - rng.betavariate(1, P["sure_beta"])
        alts = [(v, p)]
        w = _confusion(v, rng)
        if w is not None and rng.random() < 0.7:
            alts.append((w, (1 - p) * rng.uniform(0.5, 0.95)))
        out[k] = (alts, False)
    return out


def make_document(template: str, readings: dict, name: str = "sim") -> Document:
    """A Document as the classify stage hands it over (fields with readings)."""
    doc = Document(Source(name, kind="scanned_pdf"), template=template)
    for k, (alts, illegible) in readings.items():
        alts = sorted(alts, key=lambda t: -t[1])
        top = alts[0][0] if alts else None
        doc.fields[k] = Field(k, top, alternatives=list(alts), illegible=illegible,
                              text=_text(top))
    return doc


# ----------------------------------------------------------------------------- corpus truth
def load_truth_tables(root: Path, split: str) -> list[tuple[str, dict, list[str]]]:
    """(template, {key: printed value}, injected keys) from the corpus' *.truth.json."""
    out = []
    for p in sorted((Path(root) / split).rglob("*.truth.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        tpl = d.get("template")
        cells = d.get("cells") or {}
        if tpl not in templates() or not cells:
            continue
        vals = {k: (c.get("value") if isinstance(c, dict) else c) for k, c in cells.items()}
        out.append((tpl, vals, _injected_keys(d)))
    return out


def _injected_keys(d: dict) -> list[str]:
    """Keys of the printed inconsistencies a truth file records: [{"keys": [...]}, …]."""
    out = []
    for i in d.get("injected") or []:
        if isinstance(i, dict):
            ks = i.get("keys") or ([i["key"]] if "key" in i else [])
        else:
            ks = [i]
        out += [k for k in ks if isinstance(k, str)]
    return out


def synthetic_tables(n: int, seed: int, p_inject: float = 0.25) -> list[tuple[str, dict, list[str]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        tpl = "2019" if i % 2 == 0 else "2021"
        vals = random_truth(tpl, rng)
        inj = [inject_inconsistency(vals, rng)] if rng.random() < p_inject else []
        out.append((tpl, vals, inj))
    return out


# ----------------------------------------------------------------------------- run + measure
def run_one(template: str, vals: dict, injected: list[str], level: str, rng: random.Random,
            model=None, name: str = "sim") -> dict:
    """Simulate one scan, run solve + score, return per-cell rows and document facts."""
    from pipeline import score as score_mod
    from pipeline import solve as solve_mod
    readings = simulate_readings(vals, level, rng)
    doc = make_document(template, readings, name)
    before = {k: f.value for k, f in doc.fields.items()}
    t = time.perf_counter()
    solve_mod.solve(doc)
    dt = time.perf_counter() - t
    keys, X = score_mod.cell_features(doc)
    score_mod.score(doc, model=model) if model is not None else None
    right = [_right(doc.fields[k].value, vals[k], doc.fields[k]) for k in keys]
    return {"keys": keys, "X": X, "y": np.array(right, int), "doc": doc, "before": before,
            "truth": vals, "injected": injected, "seconds": dt, "level": level}


def _top(f):
    """The recognised value (before the solver): the most probable reading."""
    if f.illegible or not f.alternatives:
        return None if f.illegible else f.value
    return max(f.alternatives, key=lambda t: t[1])[0]


def runs_from_scans(root: Path, split: str, settings=None, held_out: bool = False) -> list[dict]:
    """Real recogniser output: run the whole pipeline on each scan under root/split that
    has a `<stem>.truth.json` beside it, and keep the same records as the simulator.
    A scan made with a held-out degradation style (configs/synth.yaml held_out_styles) is
    skipped unless `held_out` (fitting never sees them; measuring on them is allowed)."""
    from pipeline import score as score_mod
    from pipeline.run import extract
    out = []
    for tp in sorted((Path(root) / split).rglob("*.truth.json")):
        stem = tp.name[: -len(".truth.json")]
        inputs = [p for p in tp.parent.glob(stem + ".*") if not p.name.endswith(".json")]
        if not inputs:
            continue
        d = json.loads(tp.read_text(encoding="utf-8"))
        rendering = inputs[0].name[len(stem) + 1:].split(".")[0]
        if not held_out and (d.get("renderings", {}).get(rendering, {}) or {}).get("held_out"):
            continue
        truth = {k: (c.get("value") if isinstance(c, dict) else c) for k, c in (d.get("cells") or {}).items()}
        doc = extract(inputs[0], settings)
        if not doc.fields:
            continue
        keys, X = score_mod.cell_features(doc)
        keep = [i for i, k in enumerate(keys) if k in truth]
        keys = [keys[i] for i in keep]
        inj = _injected_keys(d)
        out.append({"keys": keys, "X": X[keep], "doc": doc,
                    "y": np.array([_right(doc.fields[k].value, truth[k], doc.fields[k]) for k in keys], int),
                    "before": {k: _top(doc.fields[k]) for k in keys}, "truth": truth,
                    "injected": inj, "seconds": doc.timings.get("solve", 0.0),
                    "level": str(d.get("degradation") or d.get("level") or "scan")})
    return out


def runs_from_cache(folders, pattern: str = "*.scan_*.pdf", cache: Path | None = None,
                    held_out: bool = True) -> list[dict]:
    """Real recogniser output through training.eval_scans' grid cache: each scan under
    `folders` matching `pattern`, with its `<stem>.truth.json`, is gridded once (cached
    under `cache`) and then classified, solved and scored as eval_scans does, so a refit
    sees exactly the cells eval_scans counts. Same records as the simulator, plus `file`,
    `held_out` (the truth's list for the rendering: never fitted on), `doubted` (a sanity
    guard's doubt: capped after calibration) and `placement`. Renderings with a held-out
    style are skipped unless `held_out`."""
    from pipeline.export import to_result
    from pipeline.run import Settings
    from pipeline.values import same_number
    from pipeline import score as score_mod
    from training.eval_scans import finish, gridded, held_out_of
    settings = Settings()
    out = []
    for folder in folders:
        for f in sorted(Path(folder).glob(pattern)):
            stem, rendering = f.name.split(".")[0], f.name.split(".")[1]
            tp = f.parent / f"{stem}.truth.json"
            if not tp.exists():
                continue
            d = json.loads(tp.read_text(encoding="utf-8"))
            held = held_out_of(d, rendering)
            if held and not held_out:
                continue
            doc = finish(gridded(f, settings, cache, False), settings)
            if not doc.fields:
                continue
            res = to_result(doc)["cells"]
            truth = {k: (c.get("value") if isinstance(c, dict) else c) for k, c in (d.get("cells") or {}).items()}
            keys, X = score_mod.cell_features(doc)
            keep = [i for i, k in enumerate(keys) if k in truth and k in res]
            keys = [keys[i] for i in keep]
            out.append({"keys": keys, "X": X[keep], "doc": doc, "file": f.name, "held_out": held,
                        "y": np.array([same_number(res[k]["value"], truth[k]) for k in keys], int),
                        "doubted": np.array([bool(doc.fields[k].doubts) for k in keys]),
                        "placement": np.array([min(1.0, float(doc.fields[k].placement)) for k in keys]),
                        "confidence": np.array([float(doc.fields[k].confidence) for k in keys]),
                        "before": {k: _top(doc.fields[k]) for k in keys}, "truth": truth,
                        "injected": _injected_keys(d), "seconds": doc.timings.get("solve", 0.0),
                        "level": rendering.replace("scan_", "")})
            print(f"{f.name}: {len(keys)} cells, {int(len(keys) - out[-1]['y'].sum())} wrong"
                  f"{' (held out: ' + ', '.join(held) + ')' if held else ''}", file=sys.stderr)
    return out


def _right(value, truth, f) -> bool:
    if f.illegible and f.status != "inferred":
        return False
    from pipeline.score import same_value
    return same_value(value, truth)


def simulate(tables, levels=("light", "heavy"), seed: int = 0, model=None) -> list[dict]:
    rng = random.Random(seed)
    runs = []
    for i, (tpl, vals, inj) in enumerate(tables):
        for lv in levels:
            runs.append(run_one(tpl, vals, inj, lv, rng, model=model, name=f"sim{i}-{lv}"))
    return runs


def fit_calibrator(X, y, X_cal, y_cal, method: str = "platt"):
    """Data in, calibrator out: the cell model (trees on X, Platt/isotonic on X_cal)."""
    from pipeline.score import CellCalibrator
    return CellCalibrator(method=method).fit(X, y, X_cal, y_cal)


def fit_document(cells, runs) -> "object":
    from pipeline.score import DocCalibrator
    s, y = _doc_rows(cells, runs)
    return DocCalibrator().fit(s, y)


def _doc_rows(cells, runs):
    s, y = [], []
    for r in runs:
        p = cells.predict_proba(r["X"])[:, 1]
        s.append(float(np.sum(np.log(p))))
        y.append(int(r["y"].all()))
    return np.array(s), np.array(y)


def ece(p, y, bins: int = 15) -> float:
    """Expected calibration error, equal-width bins."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    e = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            e += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(e)


def auto_accept(p, y, precision: float = 0.995) -> tuple[float, float, float]:
    """Largest share of cells with confidence ≥ t whose precision is ≥ `precision`:
    (share, threshold, achieved precision)."""
    p, y = np.asarray(p, float), np.asarray(y, int)
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    prec = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    best = (0.0, 1.0, 1.0)
    for i in range(len(ps)):
        if (i + 1 == len(ps) or ps[i + 1] < ps[i]) and prec[i] >= precision:
            best = ((i + 1) / len(ps), float(ps[i]), float(prec[i]))
    return best


def measure(runs, model) -> dict:
    """The figures of the solver issue, over simulated scan runs."""
    from pipeline.score import score as score_fn
    res: dict = {}
    for lv in sorted({r["level"] for r in runs}) + ["all"]:
        rs = [r for r in runs if lv == "all" or r["level"] == lv]
        n = before_ok = after_ok = wrong_changes = right_changes = wrong_numeric = 0
        inj_n = inj_doc = inj_cell = inj_rewritten = 0
        false_conf_docs = conf_docs = 0
        inj_cells = inj_cells_flagged = conf_cells = conf_cells_injected = conf_cells_misread = 0
        times, P, Y, D, DY = [], [], [], [], []
        for r in rs:
            doc, truth = r["doc"], r["truth"]
            score_fn(doc, model=model)
            for k in r["keys"]:
                f = doc.fields[k]
                n += 1
                b = r["before"][k]
                ok_b = (not f.illegible) and _same_v(b, truth[k])
                ok_a = _right(f.value, truth[k], f)
                before_ok += ok_b
                after_ok += ok_a
                changed = f.status in ("corrected", "inferred")
                wrong_changes += changed and not ok_a
                wrong_numeric += changed and not ok_a and not (_nothing(f.value) and _nothing(truth[k]))
                right_changes += changed and ok_a
                P.append(f.confidence)
                Y.append(ok_a)
            conflicts = [k for k, f in doc.fields.items() if f.status == "conflict"]
            conf_docs += bool(conflicts)
            inj_cells += len(r["injected"])
            inj_cells_flagged += sum(k in conflicts for k in r["injected"])
            conf_cells += len(conflicts)
            conf_cells_injected += sum(k in r["injected"] for k in conflicts)
            conf_cells_misread += sum(k in truth and not _same_v(doc.fields[k].value, truth[k]) for k in conflicts)
            if r["injected"]:
                inj_n += 1
                inj_doc += doc.status == "needs_review" and bool(conflicts)
                inj_cell += any(k in conflicts for k in r["injected"])
                inj_rewritten += any(k in doc.fields and not _same_v(doc.fields[k].value, truth[k])
                                     and doc.fields[k].status == "corrected" for k in r["injected"])
            elif conflicts:
                false_conf_docs += 1
            times.append(r["seconds"])
            D.append(doc.confidence)
            DY.append(all(_right(doc.fields[k].value, truth[k], doc.fields[k]) for k in r["keys"]))
        share, thr, prec = auto_accept(P, Y)
        cfg_thr = _review_threshold()
        Pa, Ya = np.array(P), np.array(Y)
        m = Pa >= cfg_thr
        res[lv] = {
            "documents": len(rs), "cells": n,
            "cell_accuracy_before": before_ok / n, "cell_accuracy_after": after_ok / n,
            "cells_changed_right": int(right_changes), "cells_changed_wrongly": int(wrong_changes),
            "cells_changed_wrongly_numeric": int(wrong_numeric),   # the rest: 0 written where a blank is printed, or back
            "injected_documents": inj_n, "injected_flagged_doc": inj_doc, "injected_cell_in_conflict": inj_cell,
            "injected_rewritten": inj_rewritten,
            "injected_cells": inj_cells, "injected_cells_in_conflict": inj_cells_flagged,
            "conflict_cells": conf_cells, "conflict_cells_injected": conf_cells_injected,
            "conflict_cells_misread_by_ocr": conf_cells_misread,
            "conflict_cells_other": conf_cells - conf_cells_injected - conf_cells_misread,
            "docs_with_conflict_without_injection": false_conf_docs,
            "solve_s_median": statistics.median(times), "solve_s_max": max(times),
            "cell_ece": ece(P, Y), "doc_ece": ece(D, DY), "doc_all_right": float(np.mean(DY)),
            "auto_accept_share_at_99.5": share, "auto_accept_threshold": thr, "auto_accept_precision": prec,
            "share_at_review_threshold": float(m.mean()),
            "precision_at_review_threshold": float(Ya[m].mean()) if m.any() else None,
        }
    return res


def fit_rows(runs, fit_on: str = "undoubted"):
    """The (X, y) a recalibration is fitted on: cells of renderings with no held-out style,
    and with `fit_on: undoubted` (configs/scoring.yaml calibration) only cells no sanity
    guard doubts and placed for sure: for the others the guards' caps, not the map, set
    what a user sees."""
    rs = [r for r in runs if not r.get("held_out")]
    if not rs:
        raise ValueError("no rendering without a held-out style to fit on")
    X = np.concatenate([r["X"] for r in rs])
    y = np.concatenate([r["y"] for r in rs])
    if fit_on == "undoubted":
        m = np.concatenate([~r["doubted"] & (r["placement"] >= 1) for r in rs])
        X, y = X[m], y[m]
    elif fit_on != "all":
        raise ValueError(f"calibration fit_on: {fit_on!r} (undoubted | all)")
    return X, y


def measure_real(runs, model) -> dict:
    """Calibration on real recogniser output, per level and held-out apart: cells, wrong,
    cell ECE (15 bins), the share at or above the review threshold (what users
    auto-accept), its precision, the confident wrong cells and eval_scans' reliability
    bins. Each document is scored again with `model` (score.score: the sanity caps after
    the map, as shipped)."""
    from pipeline.score import score as score_fn
    from training.eval_scans import reliability
    thr = _review_threshold()
    P: dict = {}
    for r in runs:
        score_fn(r["doc"], model=model)
        c = np.array([r["doc"].fields[k].confidence for k in r["keys"]], float)
        for g in (r["level"], f"{r['level']}:{'held_out' if r.get('held_out') else 'not_held_out'}"):
            P.setdefault(g, []).append((c, r["y"]))
    out = {}
    for g, parts in sorted(P.items()):
        c = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts]).astype(bool)
        acc = c >= thr
        out[g] = {"documents": len(parts), "cells": int(len(y)), "wrong": int((~y).sum()),
                  "cell_ece": round(ece(c, y), 4),
                  "share_at_review_threshold": round(float(acc.mean()), 4),
                  "precision_at_review_threshold": round(float(y[acc].mean()), 4) if acc.any() else None,
                  "confident_wrong": int((acc & ~y).sum()),
                  "reliability": reliability(list(zip(c.tolist(), y.tolist())))}
    return out


def recalibrate(base: dict, runs, method: str = "platt", fit_on: str = "undoubted",
                source: str = "") -> dict:
    """The shipped model with its cell map refitted on real output (fit_rows); the trees
    and the document calibrator are kept."""
    X, y = fit_rows(runs, fit_on)
    cells = base["cells"].recalibrated(X, y, method=method)
    meta = {k: v for k, v in base.get("meta", {}).items() if k != "test"}
    meta.update({"version": time.strftime("%Y-%m-%d"),
                 "trees": meta.get("trees", meta.get("data", "")), "data": source,
                 "recalibration": {"method": method, "fit_on": fit_on, "cells": int(len(y)),
                                   "wrong": int(len(y) - y.sum()),
                                   "renderings": sorted(r["file"] for r in runs if not r.get("held_out")),
                                   "held_out_renderings": sorted(r["file"] for r in runs if r.get("held_out"))}})
    if "test" in base.get("meta", {}):     # measured with the base map: kept under its own name
        meta["simulated_test_of_base"] = base["meta"]["test"]
    return {"cells": cells, "document": base["document"], "meta": meta}


def _nothing(v) -> bool:
    return v is None or v == 0


def _same_v(a, b) -> bool:
    from pipeline.score import same_value
    return same_value(a, b)


def _review_threshold() -> float:
    from pipeline.score import settings
    return float(settings()["review_threshold"])


def save(model: dict, path: Path = MODEL_DIR / "cells.pkl") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(model, fh, protocol=4)
    tmp.replace(path)
    return path


def main_real(a) -> int:
    """--real: keep the trees, refit the cell map on real val output (configs/scoring.yaml
    `calibration:`), measure before → after (val in-sample and held-out apart; --measure
    scans apart), save the model and metrics.json."""
    from pipeline.score import load_model, settings
    cfg = settings().get("calibration") or {}
    method, fit_on = cfg.get("method", "platt"), cfg.get("fit_on", "undoubted")
    base = load_model(str(a.base))
    if base is None:
        raise SystemExit(f"{a.base}: no model to recalibrate (fit the trees first: --truth)")
    runs = runs_from_cache(a.real, a.pattern, a.cache, held_out=True)
    source = ("real recogniser output (rapidocr through the whole pipeline) on the val scans under "
              + ", ".join(str(f) for f in a.real) + "; trees fitted on simulated scans")
    try:
        model = recalibrate(base, runs, method, fit_on, source)
    except ValueError as e:
        raise SystemExit(f"cannot recalibrate on {', '.join(map(str, a.real))}: {e}")
    report = {"meta": {k: v for k, v in model["meta"].items() if k != "test"},
              "val": {"before": measure_real(runs, base), "after": measure_real(runs, model)}}
    if a.measure:
        tr = runs_from_cache([a.measure], a.pattern, a.measure_cache, held_out=True)
        report["test_scans"] = {"before": measure_real(tr, base), "after": measure_real(tr, model)}
    report["simulated_test_of_base"] = model["meta"].get("simulated_test_of_base")
    save(model, a.out)
    a.report.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    for part in ("val", "test_scans"):
        for when in ("before", "after"):
            for g, v in (report.get(part) or {}).get(when, {}).items():
                print(part, when, g, {k: v[k] for k in v if k != "reliability"}, file=sys.stderr)
    print(f"saved {a.out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="synthetic tables per split (train; val and test get n/2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="simulated scans per table and level")
    ap.add_argument("--method", choices=["platt", "isotonic"], default="platt", help="calibration map")
    ap.add_argument("--truth", type=Path, default=None,
                    help="corpus root with {train,val,test}/*.truth.json (tables to simulate scans of)")
    ap.add_argument("--scans", type=Path, default=None,
                    help="refit from real recogniser output: corpus root whose {train,val,test} hold scans "
                         "with <stem>.truth.json (runs the whole pipeline on each)")
    ap.add_argument("--out", type=Path, default=MODEL_DIR / "cells.pkl")
    ap.add_argument("--report", type=Path, default=MODEL_DIR / "metrics.json")
    ap.add_argument("--measure-only", action="store_true",
                    help="load the shipped model and measure it on the test split (no refit)")
    ap.add_argument("--real", type=Path, nargs="+", default=None,
                    help="recalibrate on real recogniser output: folders of val scans with <stem>.truth.json "
                         "(gridded once into --cache; held-out renderings measured, never fitted)")
    ap.add_argument("--cache", type=Path, default=None, help="grid cache for --real (training.eval_scans)")
    ap.add_argument("--pattern", default="*.scan_*.pdf", help="scans under each --real folder")
    ap.add_argument("--base", type=Path, default=MODEL_DIR / "cells.pkl", help="with --real: the model whose map is refitted")
    ap.add_argument("--measure", type=Path, default=None,
                    help="with --real: also measure before → after on these scans (test; never fitted)")
    ap.add_argument("--measure-cache", type=Path, default=None, help="grid cache for --measure")
    a = ap.parse_args(argv)
    t0 = time.time()
    if a.real:
        return main_real(a)
    splits = {}
    if a.truth:
        splits = {s: load_truth_tables(a.truth, s) for s in ("train", "val", "test")}
        source = f"corpus truth tables under {a.truth}"
    else:
        splits = {"train": synthetic_tables(a.n, a.seed + 1), "val": synthetic_tables(a.n // 2, a.seed + 2),
                  "test": synthetic_tables(a.n // 2, a.seed + 3)}
        source = "tables generated by training/calibrate.py (random_truth + inject_inconsistency)"
    if a.scans:
        # held-out styles: measured on the test split, never fitted on (configs/synth.yaml)
        runs = {s: runs_from_scans(a.scans, s, held_out=s == "test") for s in ("train", "val", "test")}
        source = f"pipeline output on the scans under {a.scans} (real recogniser readings)"
    else:
        for s, tabs in splits.items():
            print(f"{s}: {len(tabs)} tables", file=sys.stderr)
        runs = {s: simulate(tabs * a.repeat, seed=a.seed + 10 + i) for i, (s, tabs) in enumerate(splits.items())
                if not a.measure_only or s == "test"}
    if a.measure_only:
        from pipeline.score import load_model
        model = load_model(str(a.out))
        metrics = measure(runs["test"], model)
        print(json.dumps(metrics, indent=1))
        return 0
    cat = lambda rs, f: np.concatenate([r[f] for r in rs])  # noqa: E731
    cells = fit_calibrator(cat(runs["train"], "X"), cat(runs["train"], "y"),
                           cat(runs["val"], "X"), cat(runs["val"], "y"), method=a.method)
    document = fit_document(cells, runs["val"])
    version = time.strftime("%Y-%m-%d")
    model = {"cells": cells, "document": document,
             "meta": {"version": version, "data": source, "levels": list(LEVELS), "seed": a.seed,
                      "repeat": a.repeat, "method": a.method, "tables": {s: len(t) for s, t in splits.items()},
                      "train_cells": int(sum(len(r["y"]) for r in runs["train"])),
                      "val_cells": int(sum(len(r["y"]) for r in runs["val"]))}}
    metrics = measure(runs["test"], model)
    model["meta"]["test"] = metrics
    save(model, a.out)
    a.report.write_text(json.dumps({"meta": {k: v for k, v in model["meta"].items() if k != "test"},
                                    "test": metrics}, indent=1, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(metrics, indent=1))
    print(f"saved {a.out} ({a.out.stat().st_size} bytes) in {time.time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
