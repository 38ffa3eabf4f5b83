"""Every learned piece keeps the same contract, in the spirit of scikit-learn's
`parametrize_with_checks`: one list of estimators, one list of checks, every pair a test.

Mappers (cell text → label class): fit(texts, labels) returns self; predict_proba(texts,
classes) is (n, len(classes) + 1) — the asked classes then "none" — rows of probabilities;
predict is its argmax by name; score is accuracy; pickling keeps the predictions; fitting
twice on the same data predicts the same; no texts give an empty (0, k + 1) array.
Calibrators (features → P(right)): the same for a binary predict_proba (n, 2).
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from pipeline.classify import FuzzyMapper, Mapper
from pipeline.keymodel import KeyClassifier
from pipeline.score import FEATURES, MONOTONE, CellCalibrator, DocCalibrator
from pipeline.templates import all_label_classes
from training import keydata as kd

ROWS = [c for c in all_label_classes() if c.startswith("requests.row:")]
TEXTS = ["三、本年度办理结果(一)予以公开", "总计", "本年新收政府信息公开申请数量", "1234", "", "行政许可"]


def _mapper_data():
    ex = kd.generate(21, 2)
    return [e.text for e in ex], [e.cls for e in ex]


def _cell_data(n: int = 400):
    rng = np.random.default_rng(0)
    X = rng.random((n, len(FEATURES)))
    y = (X[:, 0] + 0.3 * rng.random(n) > 0.6).astype(int)
    return X, y


def _doc_data(n: int = 200):
    rng = np.random.default_rng(1)
    s = -rng.random(n) * 3
    y = (s + 0.5 * rng.random(n) > -1.2).astype(int)
    return s, y


MAPPERS = {"fuzzy": FuzzyMapper, "classifier": lambda: KeyClassifier(max_iter=60)}
CALIBRATORS = {"cells": (lambda: CellCalibrator(max_iter=30), _cell_data),
               "cells-isotonic": (lambda: CellCalibrator(max_iter=30, method="isotonic"), _cell_data),
               "document": (DocCalibrator, _doc_data)}


@pytest.fixture(scope="module")
def mapper_data():
    return _mapper_data()


@pytest.fixture(scope="module")
def fitted(mapper_data):
    """Each mapper fitted once on the same draw (the classifier takes a few seconds)."""
    texts, labels = mapper_data
    return {name: make().fit(texts, labels) for name, make in MAPPERS.items()}


# -- mapper checks ---------------------------------------------------------------------

def check_fit_returns_self(name, fitted, data):
    est = MAPPERS[name]()
    assert est.fit(*data) is est


def check_proba_shape_and_sums(name, fitted, data):
    P = fitted[name].predict_proba(TEXTS, ROWS)
    assert P.shape == (len(TEXTS), len(ROWS) + 1)
    assert np.all((P >= 0) & (P <= 1))
    assert np.allclose(P.sum(axis=1), 1.0)


def check_predict_is_argmax(name, fitted, data):
    est = fitted[name]
    P = est.predict_proba(TEXTS, ROWS)
    names = ROWS + ["none"]
    assert est.predict(TEXTS, ROWS) == [names[i] for i in P.argmax(axis=1)]


def check_score_is_accuracy(name, fitted, data):
    est = fitted[name]
    pred = est.predict(TEXTS, ROWS)
    assert est.score(TEXTS, pred, ROWS) == 1.0
    wrong = ["requests.row:granted" if p != "requests.row:granted" else "none" for p in pred]
    assert est.score(TEXTS, wrong, ROWS) == 0.0


def check_pickle_round_trip(name, fitted, data):
    est = fitted[name]
    clone = pickle.loads(pickle.dumps(est))
    assert np.array_equal(clone.predict_proba(TEXTS, ROWS), est.predict_proba(TEXTS, ROWS))


def check_deterministic_fit(name, fitted, data):
    again = MAPPERS[name]().fit(*data)
    assert np.allclose(again.predict_proba(TEXTS, ROWS), fitted[name].predict_proba(TEXTS, ROWS))


def check_empty_input(name, fitted, data):
    assert fitted[name].predict_proba([], ROWS).shape == (0, len(ROWS) + 1)


def check_one_contract(name, fitted, data):
    """Fuzzy and trained take the same arguments (classify.Mapper): context is accepted
    everywhere, and the rows keep their shape."""
    est = fitted[name]
    assert isinstance(est, Mapper)
    ctx = [{"table": "requests", "row": i, "header": False, "prev": ""} for i in range(len(TEXTS))]
    P = est.predict_proba(TEXTS, ROWS, context=ctx)
    assert P.shape == (len(TEXTS), len(ROWS) + 1) and np.allclose(P.sum(axis=1), 1.0)
    names = ROWS + ["none"]
    pred = est.predict(TEXTS, ROWS, context=ctx)
    assert pred == [names[i] for i in P.argmax(axis=1)]
    assert est.score(TEXTS, pred, ROWS, context=ctx) == 1.0


def check_learns_the_labels(name, fitted, data):
    """A printed template label maps to its row (the least any mapper must do)."""
    assert fitted[name].predict(["本年新收政府信息公开申请数量"], ROWS) == ["requests.row:new_received"]


MAPPER_CHECKS = [check_fit_returns_self, check_proba_shape_and_sums, check_predict_is_argmax,
                 check_score_is_accuracy, check_pickle_round_trip, check_deterministic_fit,
                 check_empty_input, check_one_contract, check_learns_the_labels]


@pytest.mark.parametrize("name", sorted(MAPPERS))
@pytest.mark.parametrize("check", MAPPER_CHECKS, ids=lambda c: c.__name__)
def test_mapper(name, check, fitted, mapper_data):
    check(name, fitted, mapper_data)


# -- calibrator checks -----------------------------------------------------------------

def check_binary_proba(est, X, y):
    P = est.predict_proba(X)
    assert P.shape == (len(X), 2)
    assert np.all((P > 0) & (P < 1))          # never certain
    assert np.allclose(P.sum(axis=1), 1.0)


def check_binary_predict(est, X, y):
    assert np.array_equal(est.predict(X), (est.predict_proba(X)[:, 1] >= 0.5).astype(int))


def check_binary_score(est, X, y):
    """Negative Brier score: better than a constant guess on data with signal."""
    s = est.score(X, y)
    assert -1.0 <= s <= 0.0
    assert s > -float(np.mean((np.mean(y) - y) ** 2))


def check_binary_pickle(est, X, y):
    assert np.array_equal(pickle.loads(pickle.dumps(est)).predict_proba(X), est.predict_proba(X))


def check_binary_monotone(est, X, y):
    """More evidence never lowers the probability: the document score, or each cell
    feature the trees are constrained on (score.MONOTONE), moved alone."""
    if X.ndim == 1:
        p = est.predict_proba(np.linspace(X.min(), X.max(), 50))[:, 1]
        assert np.all(np.diff(p) >= -1e-9)
        return
    for feature, sign in MONOTONE.items():
        grid = np.tile(X.mean(axis=0), (50, 1))
        grid[:, FEATURES.index(feature)] = np.linspace(0, 1, 50)
        p = est.predict_proba(grid)[:, 1]
        assert np.all(np.diff(p) * sign >= -1e-9), feature


CAL_CHECKS = [check_binary_proba, check_binary_predict, check_binary_score, check_binary_pickle,
              check_binary_monotone]


@pytest.fixture(scope="module")
def calibrators():
    out = {}
    for name, (make, data) in CALIBRATORS.items():
        X, y = data()
        out[name] = (make().fit(X, y), X, y)
    return out


@pytest.mark.parametrize("name", sorted(CALIBRATORS))
@pytest.mark.parametrize("check", CAL_CHECKS, ids=lambda c: c.__name__)
def test_calibrator(name, check, calibrators):
    est, X, y = calibrators[name]
    check(est, X, y)


@pytest.mark.parametrize("name", sorted(CALIBRATORS))
def test_calibrator_fit_is_deterministic(name, calibrators):
    make, data = CALIBRATORS[name]
    est, X, y = calibrators[name]
    again = make().fit(X, y)
    assert again is not est
    assert np.allclose(again.predict_proba(X), est.predict_proba(X))
