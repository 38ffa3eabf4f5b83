"""Solve stage, part 2: the exact integer program of one connected group of cells and
equations (scipy.optimize.milp / HiGHS), and the grouping itself. See pipeline/solve.py."""
from __future__ import annotations

import contextlib
import functools
import math
import os
import sys

import numpy as np

from .solve_cells import CellVar
from .templates import Equation

LP_MARGIN = 1e-3    # nats: an LP bound this far above the gap so far skips the trial (solver tolerances are ~1e-7)


@contextlib.contextmanager
def quiet_stdout(on: bool):
    """HiGHS sometimes prints debug lines straight to fd 1; keep them off our stdout."""
    if not on:
        yield
        return
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _Rows:
    """The constraint matrix built entry by entry, as scipy's lil_matrix was (`A[r, j] = a`
    overwrites, a 0 stores nothing) and handed over as the same CSR matrix (columns sorted
    per row, float64): lil's per-entry indexing was most of a program's build (docs/speed.md, 31c)."""

    def __init__(self):
        self.rows: dict[int, dict[int, float]] = {}

    def __setitem__(self, rj, a) -> None:
        r, j = rj
        row = self.rows.setdefault(r, {})
        if a == 0:
            row.pop(j, None)
        else:
            row[j] = float(a)

    def tocsr(self, n_rows: int, n_cols: int):
        from scipy.sparse import csr_matrix
        indptr, indices, data = [0], [], []
        for r in range(n_rows):
            row = self.rows.get(r, {})
            for j in sorted(row):
                indices.append(j)
                data.append(row[j])
            indptr.append(len(indices))
        return csr_matrix((np.array(data, np.float64), np.array(indices, np.int32), np.array(indptr, np.int32)),
                          shape=(n_rows, n_cols))


class Program:
    """The integer program of one connected group of cells and equations.

    Per cell: one binary per reading (x), an optional "other" value (binary o, integer
    y), and, for cells in `conflict_keys`, a printed-inconsistency indicator (binary w)
    with a shift d that takes the cell out of the equations at cost conflict_cost.
    Cells in `free_keys` are out of the equations at no cost (known conflicts, when
    measuring the evidence of the others). `elastic` adds an L1 slack per equation
    (used only to locate violated equations cheaply).
    """

    def __init__(self, cells: list[CellVar], eqs: list[Equation], cfg: dict,
                 conflict_keys: set | None = None, free_keys: set | None = None,
                 elastic: float | None = None):
        conflict_keys, free_keys = conflict_keys or set(), free_keys or set()
        self.cells, self.eqs, self.cfg = cells, eqs, cfg
        self.conflicts = bool(conflict_keys)
        vmax = max([abs(v) for c in cells for v, _ in c.options if isinstance(v, (int, float))] or [0])
        # tight bounds keep the LP relaxation useful: a true value (and so a conflict's
        # shift, or an "other" value) is at most a few times the largest reading
        self.U = float(4 * vmax + 100)
        self.M = float(8 * vmax + 200)
        cost, lb, ub, integ = [], [], [], []
        self.ix: dict[str, dict] = {}     # key → variable indices: x (list), o, y, w, d

        def var(c_, lo, hi, i_):
            cost.append(c_); lb.append(lo); ub.append(hi); integ.append(i_)
            return len(cost) - 1
        for c in cells:
            self.ix[c.key] = {"x": [var(-math.log(max(p, 1e-12)), 0, 1, 1) for _, p in c.options]}
            if c.key in free_keys and self.ix[c.key]["x"]:
                for j in self.ix[c.key]["x"][1:]:
                    ub[j] = 0          # a known conflict keeps its printed value
            if c.other and c.key not in free_keys:
                self.ix[c.key]["o"] = var(c.other_cost, 0, 1, 1)
                self.ix[c.key]["y"] = var(0.0, -self.U if not cfg["nonnegative"] else 0.0, self.U, 1)
            if c.key in free_keys:
                self.ix[c.key]["d"] = var(0.0, -self.M, self.M, 0)
            elif c.options and c.key in conflict_keys:
                self.ix[c.key]["w"] = var(c.conflict_cost, 0, 1, 1)
                self.ix[c.key]["d"] = var(0.0, -self.M, self.M, 0)
        slack = []
        if elastic:
            slack = [(var(elastic, 0, np.inf, 0), var(elastic, 0, np.inf, 0)) for _ in eqs]
        n = len(cost)
        A = _Rows()
        rlo, rhi = [], []
        r = 0

        def value_terms(c, sign):
            out = [(j, sign * float(v or 0)) for j, (v, _) in zip(self.ix[c.key]["x"], c.options) if v]
            for name in ("y", "d"):
                if name in self.ix[c.key]:
                    out.append((self.ix[c.key][name], sign))
            return out
        for c in cells:
            if self.ix[c.key]["x"] or "o" in self.ix[c.key]:     # exactly one option
                for j in self.ix[c.key]["x"]:
                    A[r, j] = 1
                if "o" in self.ix[c.key]:
                    A[r, self.ix[c.key]["o"]] = 1
                rlo.append(1); rhi.append(1); r += 1
            if "y" in self.ix[c.key]:   # y only when the "other" option is taken: |y| ≤ U·o
                A[r, self.ix[c.key]["y"]] = 1; A[r, self.ix[c.key]["o"]] = -self.U
                rlo.append(-np.inf); rhi.append(0); r += 1
                if not cfg["nonnegative"]:
                    A[r, self.ix[c.key]["y"]] = 1; A[r, self.ix[c.key]["o"]] = self.U
                    rlo.append(0); rhi.append(np.inf); r += 1
            if "w" in self.ix[c.key]:   # a conflict shift only when the cell is declared a conflict
                A[r, self.ix[c.key]["d"]] = 1; A[r, self.ix[c.key]["w"]] = -self.M
                rlo.append(-np.inf); rhi.append(0); r += 1
                A[r, self.ix[c.key]["d"]] = 1; A[r, self.ix[c.key]["w"]] = self.M
                rlo.append(0); rhi.append(np.inf); r += 1
            if "d" in self.ix[c.key] and cfg["nonnegative"]:   # the implied true value is a count too
                for j, a in value_terms(c, 1.0):
                    A[r, j] = a
                rlo.append(0); rhi.append(np.inf); r += 1
        by_key = {c.key: c for c in cells}
        for e, eq in enumerate(eqs):
            coef: dict[int, float] = {}
            for k, s in eq.terms():
                for j, a in value_terms(by_key[k], float(s)):
                    coef[j] = coef.get(j, 0.0) + a
            if slack:
                coef[slack[e][0]], coef[slack[e][1]] = 1.0, -1.0
            for j, a in coef.items():
                A[r, j] = a
            rlo.append(0); rhi.append(0); r += 1
        self.slack = slack
        self.A = A.tocsr(r, n)
        self.rlo, self.rhi = np.array(rlo, float), np.array(rhi, float)
        self.cost = np.array(cost, float)
        self.lb, self.ub = np.array(lb, float), np.array(ub, float)
        self.integ = np.array(integ)
        self.n_solves = 0
        self.n_bounds = 0       # LP bounds computed (bound_first)

    def solve(self, lb=None, ub=None):
        """Optimum (objective, x) or (None, None) when infeasible / no solution in time."""
        from scipy.optimize import Bounds, LinearConstraint, milp
        self.n_solves += 1
        with quiet_stdout(bool(self.cfg.get("quiet_highs", True))):
            res = milp(self.cost, integrality=self.integ,
                       bounds=Bounds(self.lb if lb is None else lb, self.ub if ub is None else ub),
                       constraints=LinearConstraint(self.A, self.rlo, self.rhi),
                       options={"time_limit": float(self.cfg["time_limit_s"]), "node_limit": int(self.cfg["node_limit"]),
                                "mip_rel_gap": 1e-9,
                                "presolve": True})
        if res.x is None:
            return None, None
        return float(res.fun), res.x

    @functools.cached_property
    def bound_first(self) -> bool:
        """Bound each evidence-gap trial by its LP relaxation before solving it (`gap_lp_bound_vars`:
        programs with at least this many variables; 0: never). A trial whose LP optimum already
        costs `g` more than the optimum cannot lower the gap, so its MILP is skipped: the same
        gaps by construction. Measured no net gain (docs/speed.md, 32d): on small programs the MILP
        costs no more than its LP, and the slow ones are slow at their root."""
        n = int(self.cfg.get("gap_lp_bound_vars", 0) or 0)
        return 0 < n <= len(self.cost)

    def lp_bound(self, lb, ub) -> float:
        """The LP relaxation's optimum under these bounds (inf: infeasible, -inf: not solved)."""
        from scipy.optimize import Bounds, LinearConstraint, milp
        self.n_bounds += 1
        with quiet_stdout(bool(self.cfg.get("quiet_highs", True))):
            res = milp(self.cost, integrality=np.zeros_like(self.integ), bounds=Bounds(lb, ub),
                       constraints=LinearConstraint(self.A, self.rlo, self.rhi),
                       options={"time_limit": float(self.cfg["time_limit_s"]), "node_limit": int(self.cfg["node_limit"]),
                                "presolve": True})
        if res.status == 2:
            return math.inf
        return float(res.fun) if res.status == 0 and res.fun is not None else -math.inf   # 0: optimal

    def violated(self, x) -> list[int]:
        return [e for e, (a, b) in enumerate(self.slack) if x[a] + x[b] > self.cfg["tol"]]

    def decode(self, x) -> dict[str, dict]:
        out = {}
        for c in self.cells:
            if "o" in self.ix[c.key] and x[self.ix[c.key]["o"]] > 0.5:
                val, choice = int(round(x[self.ix[c.key]["y"]])), "other"
            else:
                k = int(np.argmax([x[j] for j in self.ix[c.key]["x"]])) if self.ix[c.key]["x"] else 0
                val, choice = (c.options[k][0] if c.options else None), k
            conflict = "w" in self.ix[c.key] and x[self.ix[c.key]["w"]] > 0.5 and abs(x[self.ix[c.key]["d"]]) > self.cfg["tol"]
            out[c.key] = {"value": val, "choice": choice, "conflict": conflict}
        return out

    def gap(self, c: CellVar, sol: dict, best: float) -> float | None:
        """Cost of the best explanation in which this cell's value differs (nats)."""
        cap = float(self.cfg["gap_cap"])
        trials = []
        if sol["choice"] == "other":
            v = sol["value"]
            if self.ix[c.key]["x"]:
                ub = self.ub.copy(); ub[self.ix[c.key]["o"]] = 0
                trials.append((self.lb, ub))
            lb = self.lb.copy(); ub = self.ub.copy(); lb[self.ix[c.key]["o"]] = 1; ub[self.ix[c.key]["y"]] = v - 1
            if ub[self.ix[c.key]["y"]] >= lb[self.ix[c.key]["y"]]:
                trials.append((lb, ub))
            lb = self.lb.copy(); ub = self.ub.copy(); lb[self.ix[c.key]["o"]] = 1; lb[self.ix[c.key]["y"]] = v + 1
            if lb[self.ix[c.key]["y"]] <= ub[self.ix[c.key]["y"]]:
                trials.append((lb, ub))
        else:
            if len(self.ix[c.key]["x"]) + ("o" in self.ix[c.key]) <= 1:
                return None      # nothing else to choose: no gap to measure
            ub = self.ub.copy(); ub[self.ix[c.key]["x"][sol["choice"]]] = 0
            trials.append((self.lb, ub))
        # without conflict variables, any explanation that needs a (further) printed error
        # costs at least `conflict_floor`: a bound, not re-solved, to keep the stage fast
        g = min(cap, self.conflict_floor - best + c.conflict_cost * (self.cover(c.key) - 1))
        for lb, ub in trials:
            if self.bound_first and self.lp_bound(lb, ub) - best >= g + LP_MARGIN:
                continue         # the trial's optimum is at least its LP bound: g cannot fall
            obj, _ = self.solve(lb, ub)
            if obj is not None:
                g = min(g, obj - best)
        return max(0.0, min(g, cap))

    def cover(self, key: str) -> int:
        """How many other cells (at least) must be in conflict to re-balance every
        equation of `key` if its value changed (1–3; a row-and-column cell needs 2)."""
        if not hasattr(self, "_members"):
            self._members = {}
            for e, eq in enumerate(self.eqs):
                for k in eq.lhs + eq.rhs:
                    self._members.setdefault(k, set()).add(e)
        mine = self._members.get(key, set())
        if len(mine) <= 1:
            return 1
        sets = [self._members[c.key] & mine for c in self.cells if c.key != key and c.options]
        sets = [s for s in sets if s]
        if any(s == mine for s in sets):
            return 1
        if len(mine) == 2 or any((a | b) == mine for i, a in enumerate(sets) for b in sets[i + 1:]):
            return 2
        return 3

    @functools.cached_property
    def conflict_floor(self) -> float:
        """A lower bound of the cost of any assignment with one more conflict. Computed once per
        program (gap() asks for it per cell: it was a quarter of the stage; the cells' options do
        not change while a program lives)."""
        base = sum(min([-math.log(max(p, 1e-12)) for _, p in c.options]
                       + ([c.other_cost] if c.other and c.options else [])
                       + ([0.0] if not c.options else [])) for c in self.cells)
        return base + min([c.conflict_cost for c in self.cells if c.options] or [0.0])


def components(cells: dict[str, CellVar], eqs: list[Equation]):
    """Cells and equations in connected groups (union-find over shared keys): one program each."""
    parent = {k: k for k in cells}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    for eq in eqs:
        ks = [k for k in eq.lhs + eq.rhs]
        for k in ks[1:]:
            ra, rb = find(ks[0]), find(k)
            if ra != rb:
                parent[rb] = ra
    groups: dict[str, tuple[list, list]] = {}
    for eq in eqs:
        groups.setdefault(find(eq.lhs[0]), ([], []))[1].append(eq)
    for k in cells:
        r = find(k)
        if r in groups:
            groups[r][0].append(cells[k])
    return list(groups.values())


def holds_at_top(cells: list[CellVar], eqs: list[Equation], tol: float) -> bool:
    """Every equation holds with each cell's recognised value (nothing to solve)."""
    by = {c.key: c for c in cells}
    for eq in eqs:
        vals = [(by[k].top, s) for k, s in eq.terms()]
        if any(by[k].illegible for k, _ in eq.terms()):
            return False
        if abs(sum(s * (v or 0) for v, s in vals)) > tol:
            return False
    return True

