"""Bench metrics: pure functions (tests/test_bench.py checks them on handmade inputs),
and the per-split scoring of the worker records."""
from __future__ import annotations

import numpy as np


def values_equal(a, b, tol: float = 1e-6) -> bool:
    """Same printed value: both blank (None), or numbers within tol (0 == 0.0)."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))
    except (TypeError, ValueError):
        return a == b


def cell_scores(pred: dict, truth: dict, may_be_missing=(), tol: float = 1e-6) -> dict:
    """Cell value accuracy of one report.

    pred: {key: value}; truth: {key: value}. A truth cell counts right when the predicted
    value equals it; a missing prediction is wrong, except for keys in may_be_missing (the
    seeds' cells that a correct reader may decline to place), which are then not counted.
    `missing`: the counted truth cells with no prediction (in `total`, not in `right`).
    """
    mbm = set(may_be_missing or ())
    right = total = missing = 0
    for k, v in truth.items():
        if k not in pred:
            if k in mbm:
                continue
            total += 1
            missing += 1
            continue
        total += 1
        right += values_equal(pred[k], v, tol)
    return {"right": right, "total": total, "missing": missing, "all_right": total > 0 and right == total}


def bbox_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def grid_f1(pred: list, truth: list, iou: float = 0.5) -> dict:
    """Grid structure F1: recovered cell boxes vs printed cell boxes, one-to-one by IoU.

    pred, truth: [[page, x0, y0, x1, y1], ...] in the same unit. Greedy matching on IoU
    (highest first), a pair counts when IoU ≥ iou.
    """
    pairs = []
    by_page: dict[int, list[int]] = {}
    for j, t in enumerate(truth):
        by_page.setdefault(int(t[0]), []).append(j)
    for i, p in enumerate(pred):
        for j in by_page.get(int(p[0]), []):
            v = bbox_iou(p[1:], truth[j][1:])
            if v >= iou:
                pairs.append((v, i, j))
    pairs.sort(reverse=True)
    used_p, used_t, tp = set(), set(), 0
    for _, i, j in pairs:
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        tp += 1
    prec = tp / len(pred) if pred else 0.0
    rec = tp / len(truth) if truth else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"tp": tp, "pred": len(pred), "truth": len(truth), "precision": prec, "recall": rec, "f1": f1}


def key_right(key: str, cell: dict, truth_cells: dict, tol: float = 1e-6) -> bool:
    """Did the cell get the right key? Located cells: the cell's centre lies in the printed
    cell of that key (same page, 2 pt slack). Cells without a location (text inputs,
    inferred cells) fall back to the value: the only evidence there is."""
    t = truth_cells.get(key)
    if t is None:
        return False
    bb, tb = cell.get("bbox"), t.get("bbox")
    if bb is not None and tb is not None and cell.get("page") is not None and t.get("page") is not None:
        if int(cell["page"]) != int(t["page"]):
            return False
        cx, cy = (bb[0] + bb[2]) / 2, (bb[1] + bb[3]) / 2
        return tb[0] - 2 <= cx <= tb[2] + 2 and tb[1] - 2 <= cy <= tb[3] + 2
    return values_equal(cell.get("value"), t.get("value"), tol)


def ece(conf, correct, bins: int = 10) -> float | None:
    """Expected calibration error: Σ_b n_b/N · |accuracy_b − mean confidence_b|, equal-width bins."""
    conf = np.asarray(conf, float)
    correct = np.asarray(correct, float)
    if conf.size == 0:
        return None
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    out = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            out += m.sum() / conf.size * abs(correct[m].mean() - conf[m].mean())
    return float(out)


def auto_accept(conf, correct, n_total: int | None = None, target: float = 0.995) -> dict:
    """Largest share of cells that can be accepted without review at ≥ target precision.

    Cells are accepted from the most confident down; the threshold is the lowest
    confidence at which the accepted set is still ≥ target precise (ties accepted
    together). coverage = accepted / n_total (default: all cells given).
    """
    conf = np.asarray(conf, float)
    correct = np.asarray(correct, bool)
    n_total = conf.size if n_total is None else n_total
    if conf.size == 0 or n_total == 0:
        return {"coverage": 0.0, "threshold": None, "precision": None, "accepted": 0}
    order = np.argsort(-conf, kind="stable")
    c, ok = conf[order], correct[order]
    cum_ok = np.cumsum(ok)
    best = None
    i = 0
    while i < c.size:
        j = i
        while j + 1 < c.size and c[j + 1] == c[i]:
            j += 1
        n = j + 1
        if cum_ok[j] / n >= target:
            best = (n, float(c[i]), float(cum_ok[j] / n))
        i = j + 1
    if best is None:
        return {"coverage": 0.0, "threshold": None, "precision": None, "accepted": 0}
    return {"coverage": best[0] / n_total, "threshold": best[1], "precision": best[2], "accepted": best[0]}


def score_split(recs: list[dict], truths: dict, metrics: dict, peak: dict) -> dict:
    """Metrics per system for one split. recs: worker records; truths: doc → load_truth."""
    tol = float(metrics["value_tol"])
    out = {}
    for sysname in sorted({r["system"] for r in recs}):
        rs = [r for r in recs if r["system"] == sysname]
        right = total = all_right = missing = 0
        k_right = k_total = 0
        confs, oks = [], []
        g_tp = g_pred = g_truth = 0
        grid_known = False
        spp, per_doc, failed = [], [], 0
        for r in sorted(rs, key=lambda r: r["doc"]):
            t = truths[r["doc"]]
            pred = {k: c["value"] for k, c in r["cells"].items()}
            tv = {k: c["value"] for k, c in t["cells"].items()}
            cs = cell_scores(pred, tv, t["may_be_missing"], tol)
            right += cs["right"]
            total += cs["total"]
            all_right += cs["all_right"]
            missing += cs["missing"]
            failed += r["status"] == "failed"
            for k, c in r["cells"].items():
                ok_key = key_right(k, c, t["cells"], tol)
                k_right += ok_key
                k_total += 1
                if c.get("confidence") is not None:
                    confs.append(float(c["confidence"]))
                    oks.append(k in tv and values_equal(c["value"], tv[k], tol))
            if t["grid"] is not None and r.get("grid") is not None:
                grid_known = True
                g = grid_f1(r["grid"], t["grid"], float(metrics["grid_iou"]))
                g_tp, g_pred, g_truth = g_tp + g["tp"], g_pred + g["pred"], g_truth + g["truth"]
            if r["seconds"] is not None and r["pages"]:
                spp.append(r["seconds"] / r["pages"])
            per_doc.append({"doc": r["doc"], "right": cs["right"], "total": cs["total"], "missing": cs["missing"],
                            "status": r["status"],
                            "seconds": None if r["seconds"] is None else round(r["seconds"], 3),
                            "error": r.get("error")})
        gp = g_tp / g_pred if g_pred else 0.0
        gr = g_tp / g_truth if g_truth else 0.0
        aa = auto_accept(confs, oks, total, float(metrics["target_precision"])) if confs else None
        out[sysname] = {
            "docs": len(rs), "failed": failed, "cells": total,
            "cells_right": right, "cells_wrong": total - right - missing, "cells_missing": missing,
            "cell_accuracy": right / total if total else None,
            "reports_all_right": all_right / len(rs) if rs else None,
            "key_accuracy": k_right / k_total if k_total else None,
            "grid_f1": (2 * gp * gr / (gp + gr) if gp + gr else 0.0) if grid_known else None,
            "grid_precision": gp if grid_known else None, "grid_recall": gr if grid_known else None,
            "grid_cells": {"matched": g_tp, "recovered": g_pred, "printed": g_truth} if grid_known else None,
            "ece": ece(confs, oks, int(metrics["ece_bins"])) if confs else None,
            "auto_accept_coverage": aa["coverage"] if aa else None,
            "auto_accept_threshold": aa["threshold"] if aa else None,
            "seconds_per_page_median": float(np.median(spp)) if spp else None,
            "peak_rss_mb": peak.get(sysname),
            "per_doc": per_doc,
        }
    return out
