"""The small stages' speed-ups give the results they replaced, value for value (issue #15,
session 31c, docs/speed.md): the cell's paper and ink greys from one histogram, the solver's
constraint matrix built without lil_matrix and its conflict floor computed once, the routing
gate's ink measured once."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import digits
from pipeline.ctc import RecResult
from pipeline.grid_crops import _paper_and_ink, crop_settings, paper_grain
from pipeline.solve_cells import CellVar
from pipeline.solve_milp import Program
from pipeline.templates import Equation


def _paper_and_ink_reference(crop, scale_px):
    k = max(1, int(round(crop_settings()["ink_rank_pt2"] * scale_px * scale_px)))
    flat = crop.ravel()
    k = min(k, flat.size)
    return float(np.median(crop)), float(np.partition(flat, k - 1)[k - 1])


def test_paper_and_ink_from_a_histogram_are_the_median_and_the_kth_darkest():
    rng = np.random.default_rng(7)
    seen_half = False
    for t in range(400):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 120))
        crop = rng.integers(0, 256, (h, w)).astype(np.uint8)
        if t % 3 == 0:          # a cell: paper with a few dark strokes
            crop = np.where(rng.random((h, w)) < 0.08, rng.integers(0, 120), 247).astype(np.uint8)
        scale = float(rng.choice([1.0, 2.78, 4.17]))
        got = _paper_and_ink(crop, scale)
        assert got == _paper_and_ink_reference(crop, scale)
        seen_half |= got[0] != int(got[0])
    assert seen_half             # an even count whose middle values differ (a .5 median) was checked
    with pytest.raises(AssertionError):   # the test can fail: a median off by one level is caught
        assert _paper_and_ink(np.array([[10, 12]], np.uint8), 1.0) == (12.0, 10.0)


def test_paper_grain_from_a_histogram_is_the_median_and_its_mad():
    rng = np.random.default_rng(11)
    for t in range(300):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 120))
        crop = rng.integers(0, 256, (h, w)).astype(np.uint8)
        if t % 2:               # paper grain around a tone, a few strokes
            crop = np.clip(rng.normal(235, 6, (h, w)), 0, 255).astype(np.uint8)
            crop[rng.random((h, w)) < 0.05] = 30
        paper = float(np.median(crop))
        assert paper_grain(crop) == (paper, 1.4826 * float(np.median(np.abs(crop.astype(np.float32) - paper))))
    assert paper_grain(np.array([[200, 200, 210, 240]], np.uint8)) == (205.0, 1.4826 * 5.0)


def _program_pieces():
    cells = [CellVar("t/a", [(5, 0.9), (8, 0.1)], 5, 0.9, conflict_cost=9.0),
             CellVar("t/b", [(3, 0.99)], 3, 0.99, other=True, other_cost=4.0, conflict_cost=9.0),
             CellVar("t/c", [(9, 0.7), (6, 0.3)], 9, 0.7, conflict_cost=9.0),
             CellVar("t/d", [], None, 0.0, illegible=True, other=True, other_cost=2.0, conflict_cost=9.0)]
    eqs = [Equation(name="t: a + b = c", lhs=("t/a", "t/b"), rhs=("t/c",)),
           Equation(name="t: c = d + a", lhs=("t/c",), rhs=("t/d", "t/a"))]
    cfg = {"nonnegative": True, "tol": 0.5, "time_limit_s": 5, "node_limit": 1000, "gap_cap": 20.0,
           "quiet_highs": True}
    return cells, eqs, cfg


@pytest.mark.parametrize("kw", [{}, {"elastic": 3.0}, {"conflict_keys": {"t/a", "t/c"}}, {"free_keys": {"t/c"}}])
def test_the_constraint_matrix_is_the_one_lil_matrix_built(kw):
    from scipy.sparse import lil_matrix
    cells, eqs, cfg = _program_pieces()
    p = Program(cells, eqs, cfg, **kw)
    ref = lil_matrix(p.A.shape)
    dense = p.A.toarray()
    for r, j in zip(*np.nonzero(dense)):
        ref[r, j] = dense[r, j]
    ref = ref.tocsr()
    assert (p.A.indptr == ref.indptr).all() and (p.A.indices == ref.indices).all() and (p.A.data == ref.data).all()
    assert p.A.nnz and not (p.A.data == 0).any()
    best, x = p.solve()
    assert x is not None and best >= 0


def test_conflict_floor_is_computed_once_and_is_the_bound():
    cells, eqs, cfg = _program_pieces()
    p = Program(cells, eqs, cfg)
    expect = (-math.log(0.9) - math.log(0.99) - math.log(0.7) + 0.0) + 9.0
    assert p.conflict_floor == pytest.approx(expect)
    cells[0].options = [(5, 0.5)]           # a program's cells do not change while it lives: cached
    assert p.conflict_floor == pytest.approx(expect)
    assert Program(cells, eqs, cfg).conflict_floor == pytest.approx(expect + math.log(0.9) - math.log(0.5))


@pytest.mark.parametrize("ink", ["fixed", "relative"])
def test_gate_features_measure_the_ink_once_with_the_same_answers(ink):
    crop = np.full((24, 60), 250, np.uint8)
    crop[5:19, 20:26] = 40
    crop[5:19, 32:38] = 90
    r = RecResult("17", 0.99, [], [[("1", 1.0)], [("7", 1.0)]])
    f = digits.gate_features(crop, r, ink)
    assert f["width"] == digits._ink_width(crop, ink == "relative")
    assert {k: f[k] for k in digits.STATS} == digits.crop_stats(crop)
    assert f["value"] == 17 and f["width"] == pytest.approx(18 / 14)     # both strokes are ink
