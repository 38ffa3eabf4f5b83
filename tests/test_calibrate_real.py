"""Recalibration on real recogniser output (training.calibrate --real): the trees are kept,
the map is refitted, it stays increasing in the evidence, held-out renderings and doubted
cells are never fitted on, and the refit says what it was fitted on."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline import score as score_mod
from training.calibrate import fit_rows, recalibrate

LOGIT = score_mod.FEATURES.index("logit_top")


def rows(n, seed, power=1.0):
    """Feature rows whose recogniser probability is p; right with probability p**power."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, len(score_mod.FEATURES)))
    p = rng.uniform(0.3, 0.999, n)
    X[:, LOGIT] = np.log(p / (1 - p))
    y = (rng.uniform(size=n) < p ** power).astype(int)
    return X, y


@pytest.fixture(scope="module")
def simulated():
    X, y = rows(3000, 0)
    return score_mod.CellCalibrator(max_iter=40).fit(X[:2000], y[:2000], X[2000:], y[2000:])


def test_recalibrated_keeps_the_trees_and_follows_the_new_data(simulated):
    X, y = rows(3000, 1, power=4.0)          # the real recogniser is wrong more often
    before = simulated.predict_proba(X)[:, 1]
    after_cal = simulated.recalibrated(X, y)
    after = after_cal.predict_proba(X)[:, 1]
    assert np.array_equal(simulated.predict_proba(X)[:, 1], before)      # the original is untouched
    assert np.array_equal(after_cal._raw(X), simulated._raw(X))          # same trees
    assert abs(after.mean() - y.mean()) < abs(before.mean() - y.mean())
    assert abs(after.mean() - y.mean()) < 0.03
    order = np.argsort(X[:, LOGIT])
    assert np.all(np.diff(after[order]) >= -1e-12)                       # monotone in the evidence


def test_a_map_never_turns_more_evidence_into_less_confidence(simulated):
    X, y = rows(2000, 2)
    inverted = simulated.recalibrated(X, 1 - y)                          # data pointing the wrong way
    p = inverted.predict_proba(X)[:, 1]
    order = np.argsort(X[:, LOGIT])
    assert np.all(np.diff(p[order]) >= -1e-12)


def run(file, n, wrong, held_out=(), doubted=0, placed=0):
    X = np.zeros((n, len(score_mod.FEATURES)))
    y = np.ones(n, int)
    y[:wrong] = 0
    d = np.zeros(n, bool)
    d[:doubted] = True
    pl = np.ones(n)
    pl[n - placed:] = 0.9
    return {"file": file, "X": X, "y": y, "held_out": list(held_out), "doubted": d, "placement": pl}


def test_fit_rows_leave_out_held_out_renderings_and_capped_cells():
    runs = [run("val_1.scan_heavy.pdf", 10, 3, doubted=2, placed=1),
            run("val_2.scan_light.pdf", 7, 1, held_out=["thin"])]
    X, y = fit_rows(runs, "undoubted")
    assert len(y) == 7 and int((1 - y).sum()) == 1     # 2 doubted (both wrong) and 1 placed unsure left out
    X, y = fit_rows(runs, "all")
    assert len(y) == 10                                # never the held-out rendering
    with pytest.raises(ValueError):
        fit_rows([runs[1]], "all")
    with pytest.raises(ValueError):
        fit_rows(runs, "some")


def test_recalibrate_records_what_it_was_fitted_on(simulated):
    X, y = rows(400, 3, power=2.0)
    r = run("val_1.scan_heavy.pdf", 400, 0)
    r["X"], r["y"] = X, y
    base = {"cells": simulated, "document": None, "meta": {"data": "simulated scans", "test": {"x": 1}}}
    m = recalibrate(base, [r, run("val_2.scan_light.pdf", 5, 0, held_out=["thin"])], source="real output")
    rc = m["meta"]["recalibration"]
    assert rc["renderings"] == ["val_1.scan_heavy.pdf"] and rc["held_out_renderings"] == ["val_2.scan_light.pdf"]
    assert m["meta"]["data"] == "real output" and m["meta"]["trees"] == "simulated scans"
    assert m["cells"] is not simulated
    assert "test" not in m["meta"] and m["meta"]["simulated_test_of_base"] == {"x": 1}   # not the refit's figures
