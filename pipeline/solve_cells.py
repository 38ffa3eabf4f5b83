"""Solve stage, part 1: a cell's recogniser readings as the integer program's options (CellVar).

A reading is a number, None (blank) or BAD (junk); readings of one value are merged, the
report's text may reweight them (crosscheck.apply_prior), a confident one is locked."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import crosscheck

BAD = object()   # a reading that is not a number


def number(v) -> Any:
    """A reading as a number for the equations: None stays None, junk becomes BAD."""
    if v is None:
        return None
    if isinstance(v, bool):
        return BAD
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return BAD
        return int(v) if float(v).is_integer() else float(v)
    try:
        f = float(str(v).replace(",", "").strip())
        return int(f) if f.is_integer() else f
    except (TypeError, ValueError):
        return BAD


def stroke_zero(text: str | None, readings: dict, cfg: dict) -> bool:
    """Whether a cell's reading is what a broken 0 leaves, with no way to be 0: its text only
    vertical strokes (`chars`: a thinned or faded 0 that lost its arcs reads '1', '11', 'I',
    ')'), and neither 0 nor a blank among its readings (the recognisers' per-character
    alternatives are truncated and renormalised, so a 0 neither listed is not ruled out by
    them, only by this list). configs/solver.yaml `stroke_zero`; docs/solver.md."""
    if not cfg.get("enabled"):
        return False
    t = "".join((text or "").split())
    if not t or any(ch not in cfg.get("chars", "") for ch in t):
        return False
    return not any(v is None or (isinstance(v, (int, float)) and v == 0) for v in readings)


@dataclass
class CellVar:
    """One cell's options in the integer program."""
    key: str
    options: list[tuple[Any, float]]       # (value, prob), pruned, distinct values
    top: Any = None                        # the recognised value (what "read" keeps)
    p_top: float = 0.0
    illegible: bool = False
    other: bool = False                    # may take a value no recogniser proposed
    other_cost: float = 0.0
    locked: bool = False
    conflict_cost: float = 0.0


def cell_var(f, cfg, prior: dict | None = None, fixed: bool = False) -> CellVar:
    """A cell's options; `prior` (value → likelihood ratio, from the report's text) reweights
    the readings of a cell that is not locked, never adds a value. A `fixed` cell (a joined
    row's split, chosen jointly by pipeline/joined.py) keeps its value: only flagged."""
    if fixed and not f.illegible and number(f.value) is not BAD:
        return CellVar(f.key, [(number(f.value), 1.0)], number(f.value), 1.0, locked=True,
                       conflict_cost=cfg["conflict_cost"])
    raw = list(f.alternatives or [])
    if not raw and not f.illegible:
        raw = [(f.value, 1.0)]
    merged: dict = {}
    for v, p in raw:
        n = number(v)
        try:
            p = float(p)
        except (TypeError, ValueError):
            continue
        if n is BAD or not math.isfinite(p) or p <= 0:
            continue
        merged[n] = merged.get(n, 0.0) + min(p, 1.0)
    if prior and merged and max(merged.values()) < cfg["lock_prob"]:
        merged = crosscheck.apply_prior(merged, prior)
    ranked = sorted(merged.items(), key=lambda t: -t[1])
    top_val = number(f.value)
    if not f.illegible and ranked and top_val is not BAD and top_val not in merged:
        ranked.insert(0, (top_val, ranked[0][1]))       # trust the stage's top value
    elif not f.illegible and ranked and top_val in merged:
        ranked.sort(key=lambda t: (t[0] != top_val, -t[1]))
    if f.illegible or not ranked:
        return CellVar(f.key, [], None, 0.0, illegible=True, other=True, other_cost=0.0)
    top, p_top = ranked[0]
    locked = p_top >= cfg["lock_prob"]
    if locked:
        opts = [ranked[0]]
    else:
        opts = [ranked[0]] + [(v, p) for v, p in ranked[1:cfg["max_candidates"]]
                               if p >= cfg["min_candidate_prob"]]
    other = (not locked) and p_top < cfg["other_below"]
    residual = max(1.0 - sum(p for _, p in opts), cfg["min_residual"])
    if not locked and stroke_zero(f.text, merged, cfg.get("stroke_zero") or {}):
        opts.append((0, float(cfg["stroke_zero"]["prob"])))   # a broken 0's sides: 0 stays possible
    tie = cfg["conflict_tiebreak"] * min(p_top, 1.0) - (cfg["total_tiebreak"] if f.key.endswith("/total")
                                                         or "/total/" in f.key else 0.0)
    return CellVar(f.key, opts, top, p_top, illegible=False, other=other,
                   other_cost=-math.log(residual) + cfg["other_cost"], locked=locked,
                   conflict_cost=cfg["conflict_cost"] + tie)

