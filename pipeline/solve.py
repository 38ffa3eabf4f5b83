"""Solve stage: pick each cell's reading so the template's balance equations hold.

OCR misreads ("8" seen as "3") are invisible cell by cell but not to arithmetic. Each
cell chooses among its few recogniser readings (cost −log p); an illegible or unsure
cell may also take an "other" value set by the equations; any cell may instead be
declared a printed inconsistency (a large fixed cost, keeping its printed value). The
exact optimum of that integer program (scipy.optimize.milp / HiGHS) is the most likely
explanation: misreads are corrected, illegible cells inferred, and printed errors are
flagged with the smallest set of cells that explains them, never "fixed". Confident
readings (top probability ≥ lock_prob) are never rewritten. See docs/solver.md.

After the optimum, each uncertain cell is re-solved with its value forbidden: the cost
difference (the "gap", in nats) is the equations' evidence for the chosen value, used by
the scorer; an inferred value whose gap is ~0 is not determined and stays unknown.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import crosscheck
from .model import Check, Document
from .templates import Equation, config, templates

TABLES_WITH_EQUATIONS = ("requests", "appeals", "active")
_BAD = object()   # a reading that is not a number


def settings() -> dict:
    return dict(config("solver.yaml"))


# ----------------------------------------------------------------------------- equations
def equations_for(doc: Document) -> list[Equation]:
    """The balance equations of a document's keys, table by table.

    Each table uses its own template (doc.table_templates, else doc.template); when that
    template does not know some printed key of the table (a hybrid layout), a template
    that knows all of them is used instead. Absent terms are dropped (expand_equations).
    """
    tpls = templates()
    present = set(doc.fields)
    out: list[Equation] = []
    seen: set[str] = set()
    for table in TABLES_WITH_EQUATIONS:
        keys_t = {k for k in present if k.startswith(table + "/")}
        if not keys_t:
            continue
        first = doc.table_templates.get(table) or doc.template
        order = ([first] if first in tpls else []) + [n for n in sorted(tpls) if n != first]
        chosen = None
        for name in order:
            if keys_t <= set(tpls[name].keys(table, expected_only=False)):
                chosen = tpls[name]
                break
        if chosen is None:   # no template knows every key: take the one that knows most
            chosen = max((tpls[n] for n in order),
                         key=lambda t: len(keys_t & set(t.keys(table, expected_only=False))))
        for eq in chosen.expand_equations(present=keys_t):
            if eq.name not in seen and all(k.startswith(table + "/") for k in eq.lhs + eq.rhs):
                seen.add(eq.name)
                out.append(eq)
    return out


def _number(v) -> Any:
    """A reading as a number for the equations: None stays None, junk becomes _BAD."""
    if v is None:
        return None
    if isinstance(v, bool):
        return _BAD
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return _BAD
        return int(v) if float(v).is_integer() else float(v)
    try:
        f = float(str(v).replace(",", "").strip())
        return int(f) if f.is_integer() else f
    except (TypeError, ValueError):
        return _BAD


# ----------------------------------------------------------------------------- cells
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


def _cell_var(f, cfg, prior: dict | None = None, fixed: bool = False) -> CellVar:
    """A cell's options; `prior` (value → likelihood ratio, from the report's text) reweights
    the readings of a cell that is not locked, never adds a value. A `fixed` cell (a joined
    row's split, chosen jointly by pipeline/joined.py) keeps its value: only flagged."""
    if fixed and not f.illegible and _number(f.value) is not _BAD:
        return CellVar(f.key, [(_number(f.value), 1.0)], _number(f.value), 1.0, locked=True,
                       conflict_cost=cfg["conflict_cost"])
    raw = list(f.alternatives or [])
    if not raw and not f.illegible:
        raw = [(f.value, 1.0)]
    merged: dict = {}
    for v, p in raw:
        n = _number(v)
        try:
            p = float(p)
        except (TypeError, ValueError):
            continue
        if n is _BAD or not math.isfinite(p) or p <= 0:
            continue
        merged[n] = merged.get(n, 0.0) + min(p, 1.0)
    if prior and merged and max(merged.values()) < cfg["lock_prob"]:
        merged = crosscheck.apply_prior(merged, prior)
    ranked = sorted(merged.items(), key=lambda t: -t[1])
    top_val = _number(f.value)
    if not f.illegible and ranked and top_val is not _BAD and top_val not in merged:
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
    tie = cfg["conflict_tiebreak"] * min(p_top, 1.0) - (cfg["total_tiebreak"] if f.key.endswith("/total")
                                                         or "/total/" in f.key else 0.0)
    return CellVar(f.key, opts, top, p_top, illegible=False, other=other,
                   other_cost=-math.log(residual) + cfg["other_cost"], locked=locked,
                   conflict_cost=cfg["conflict_cost"] + tie)


# ----------------------------------------------------------------------------- the MILP
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
class _Program:
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
        from scipy.sparse import lil_matrix
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
        A = lil_matrix((5 * len(cells) + len(eqs) + 1, n))
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
        A.resize((r, n))
        self.slack = slack
        self.A = A.tocsr()
        self.rlo, self.rhi = np.array(rlo, float), np.array(rhi, float)
        self.cost = np.array(cost, float)
        self.lb, self.ub = np.array(lb, float), np.array(ub, float)
        self.integ = np.array(integ)
        self.n_solves = 0

    def solve(self, lb=None, ub=None):
        """Optimum (objective, x) or (None, None) when infeasible / no solution in time."""
        from scipy.optimize import Bounds, LinearConstraint, milp
        self.n_solves += 1
        with quiet_stdout(bool(self.cfg.get("quiet_highs", True))):
            res = milp(self.cost, integrality=self.integ,
                       bounds=Bounds(self.lb if lb is None else lb, self.ub if ub is None else ub),
                       constraints=LinearConstraint(self.A, self.rlo, self.rhi),
                       options={"time_limit": float(self.cfg["time_limit_s"]), "mip_rel_gap": 1e-9,
                                "presolve": True})
        if res.x is None:
            return None, None
        return float(res.fun), res.x

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

    @property
    def conflict_floor(self) -> float:
        """A lower bound of the cost of any assignment with one more conflict."""
        base = sum(min([-math.log(max(p, 1e-12)) for _, p in c.options]
                       + ([c.other_cost] if c.other and c.options else [])
                       + ([0.0] if not c.options else [])) for c in self.cells)
        return base + min([c.conflict_cost for c in self.cells if c.options] or [0.0])


def _components(cells: dict[str, CellVar], eqs: list[Equation]):
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


def _holds_at_top(cells: list[CellVar], eqs: list[Equation], tol: float) -> bool:
    by = {c.key: c for c in cells}
    for eq in eqs:
        vals = [(by[k].top, s) for k, s in eq.terms()]
        if any(by[k].illegible for k, _ in eq.terms()):
            return False
        if abs(sum(s * (v or 0) for v, s in vals)) > tol:
            return False
    return True


# ----------------------------------------------------------------------------- the stage
def solve(doc: Document) -> None:
    """Choose readings, infer illegible cells, flag printed inconsistencies. Never raises."""
    try:
        _solve(doc)
    except Exception as e:  # a solver bug must not lose the document: keep the readings
        doc.warnings.append(f"solver failed ({type(e).__name__}: {e}); readings kept unchecked by it")
        try:
            _checks(doc, equations_for(doc), mark_conflicts=True)
        except Exception as e2:
            doc.warnings.append(f"equation checks failed ({type(e2).__name__}: {e2})")


def _solve(doc: Document) -> None:
    cfg = settings()
    t0 = time.perf_counter()
    evidence: dict[str, dict] = {}
    setattr(doc, "solver_evidence", evidence)
    doc.models["solver"] = "scipy.optimize.milp (HiGHS)"
    _sanitise(doc)
    from .joined import resolve, settings as joined_settings   # joined rows: split by the equations first
    try:
        fixed = resolve(doc)
    except Exception as e:          # a bug must not lose the document: the provisional splits
        fixed = set()               # stay, and no cell of the report is accepted unseen
        doc.warnings.append(f"joined rows not split by the equations ({type(e).__name__}: {e}); "
                            "their provisional splits kept, every cell doubtful")
        for f in doc.fields.values():
            f.placement = min(f.placement, float(joined_settings()["unsplit_placement"]))
    eqs = equations_for(doc)
    usable = []
    for eq in eqs:
        if eq.null_as_zero:
            usable.append(eq)
        elif all(doc.fields[k].value is not None and not doc.fields[k].illegible
                 for k in eq.lhs + eq.rhs):
            usable.append(eq)   # null not 0 here: only used when no term is blank
    in_eq = {k for eq in usable for k in eq.lhs + eq.rhs}
    priors = crosscheck.narrative_priors(doc)     # counts the report's text states
    cells = {k: _cell_var(doc.fields[k], cfg, priors.get(k), fixed=k in fixed) for k in in_eq}
    for key, f in doc.fields.items():
        if key not in cells:
            evidence[key] = {"gap": None, "in_equations": False}
    n_milp = 0
    for comp_cells, comp_eqs in _components(cells, usable):
        trivial = all(c.locked or (len(c.options) == 1 and not c.other) for c in comp_cells) \
            and _holds_at_top(comp_cells, comp_eqs, cfg["tol"])
        if trivial:
            for c in comp_cells:
                evidence[c.key] = {"gap": None, "in_equations": True, "locked": c.locked}
            continue
        n_milp += _solve_component(doc, comp_cells, comp_eqs, cfg, evidence)
    _checks(doc, eqs, mark_conflicts=False)
    if any(f.status == "conflict" for f in doc.fields.values()) and doc.status == "ok":
        doc.status = "needs_review"
    evidence["__doc__"] = {"milp_solves": n_milp, "seconds": time.perf_counter() - t0}


def _solve_component(doc, cells: list[CellVar], eqs: list[Equation], cfg, evidence) -> int:
    n_solves = 0
    blank_zero = _blank_zero_tables(doc)
    by = {c.key: c for c in cells}
    for _round in range(3):
        # 1. without printed errors: a fast, tight program
        prog = _Program(cells, eqs, cfg)
        best, x = prog.solve()
        n_solves += 1
        conflicts: set[str] = set()
        if x is None or best > prog.conflict_floor:
            # 2. locate the violated equations with an elastic (L1) program, then allow
            #    conflicts only on their cells: exact over those, fast enough everywhere
            el = _Program(cells, eqs, cfg, elastic=float(cfg["elastic_cost"]))
            _, xe = el.solve()
            n_solves += 1
            cand = set()
            if xe is not None:
                for e in el.violated(xe):
                    cand |= set(eqs[e].lhs + eqs[e].rhs)
            if x is not None:
                sol0 = prog.decode(x)
                cand |= {k for k, s in sol0.items() if s["choice"] != 0 and by[k].options}
            cand = {k for k in cand if by[k].options}
            if cand:
                p2 = _Program(cells, eqs, cfg, conflict_keys=cand)
                best2, x2 = p2.solve()
                n_solves += 1
                if x2 is not None and (x is None or best2 < best - 1e-9):
                    sol2 = p2.decode(x2)
                    conflicts = {k for k, s in sol2.items() if s["conflict"]}
                    # 3. the same optimum with the conflicts taken out of the equations:
                    #    the program the evidence gaps are measured in
                    prog = _Program(cells, eqs, cfg, free_keys=conflicts)
                    best, x = prog.solve()
                    n_solves += 1
        if x is None:
            doc.warnings.append(f"solver found no solution for {len(eqs)} equations "
                                f"({eqs[0].name} …); readings kept")
            _mark_violations(doc, cells, eqs, cfg)
            return n_solves
        sol = prog.decode(x)
        for k in conflicts:
            sol[k]["conflict"] = True
        # evidence gaps for the cells that had a choice; undetermined "other" values
        undetermined = []
        budget = int(cfg["max_marginal_cells"])
        gaps = {}
        before = prog.n_solves
        for c in cells:
            if c.key in conflicts:
                continue
            has_choice = len(c.options) + c.other > 1 or sol[c.key]["choice"] == "other"
            if has_choice and budget > 0:
                budget -= 1
                gaps[c.key] = prog.gap(c, sol[c.key], best)
                if sol[c.key]["choice"] == "other" and (gaps[c.key] or 0.0) < cfg["min_gap"]:
                    undetermined.append(c)
            elif has_choice:
                gaps[c.key] = None
        n_solves += prog.n_solves - before
        retry = [c for c in undetermined if not c.illegible]
        if retry:   # an unsure cell whose "other" value is not determined: take a reading
            for c in retry:
                c.other = False
            continue
        break
    und = {c.key for c in undetermined}
    for c in cells:
        f, s = doc.fields[c.key], sol[c.key]
        ev = {"gap": gaps.get(c.key), "in_equations": True, "locked": c.locked,
              "n_options": len(c.options) + c.other, "recognised": c.top, "p_top": c.p_top,
              "choice": s["choice"]}
        evidence[c.key] = ev
        if c.illegible:
            if c.key in und or s["choice"] != "other":
                ev["undetermined"] = True
                f.value, f.status = None, "read"
                doc.warnings.append(f"{c.key}: illegible and not determined by the equations")
                continue
            f.value, f.status = s["value"], "inferred"
            if s["value"] == 0 and _prints_nothing_blank(doc, c.key, blank_zero):
                f.value = None   # the equations say "nothing": write it as the row/table prints it
            continue
        if s["conflict"]:
            f.value, f.status = c.top, "conflict"   # the printed value stays
            continue
        if c.key in und:   # still not determined after the retries: keep the reading, flag it
            f.value, f.status = c.top, "conflict"
            continue
        if s["choice"] != 0:
            f.value, f.status = s["value"], "corrected"
            if not any(v == c.top and type(v) is type(c.top) for v, _ in f.alternatives):
                f.alternatives = [(c.top, c.p_top), *f.alternatives]
        else:
            f.value = c.top if f.value is None or _number(f.value) == c.top else f.value
            f.status = "read"
    return n_solves


def _sanitise(doc: Document) -> None:
    """Drop readings that are not numbers (or have no finite probability); a cell left
    with none is illegible. Export and the equations then only ever see numbers."""
    for k, f in doc.fields.items():
        alts = []
        for item in f.alternatives or []:
            try:
                v, p = item
                p = float(p)
            except (TypeError, ValueError):
                continue
            n = _number(v)
            if n is not _BAD and math.isfinite(p):
                alts.append((n, min(max(p, 0.0), 1.0)))
        had = bool(f.alternatives)
        f.alternatives = alts
        if _number(f.value) is _BAD:
            f.value = alts[0][0] if alts else None
            if not alts:
                f.illegible = True
        elif had and not alts and not f.illegible:
            f.alternatives = [(_number(f.value), 0.5)] if f.value is not None else []  # sureness unknown
            f.illegible = f.value is None


def _prints_nothing_blank(doc: Document, key: str, blank_tables: set[str]) -> bool:
    """Whether "nothing" in this cell's row is printed blank: the row's other cells
    decide (blanks vs zeros), a tie falls back to the table's habit."""
    row = key.rsplit("/", 1)[0] + "/"
    b = z = 0
    for k, f in doc.fields.items():
        if k.startswith(row) and k != key and not f.illegible:
            if f.value is None:
                b += 1
            elif _number(f.value) == 0:
                z += 1
    if b != z:
        return b > z
    return key.split("/")[0] in blank_tables


def _blank_zero_tables(doc: Document) -> set[str]:
    """Tables that print "nothing" as a blank more often than as 0 (an inferred 0 there
    is written as a blank, null: in the equations both count 0)."""
    n: dict[str, list[int]] = {}
    for k, f in doc.fields.items():
        if f.illegible:
            continue
        t = n.setdefault(k.split("/")[0], [0, 0])
        if f.value is None:
            t[0] += 1
        elif _number(f.value) == 0:
            t[1] += 1
    return {t for t, (b, z) in n.items() if b > z}


def _mark_violations(doc, cells, eqs, cfg) -> None:
    """No optimum: keep the readings and flag every cell of a violated equation."""
    for c in cells:
        f = doc.fields[c.key]
        if not c.illegible:
            f.value, f.status = c.top, "read"
    by = {c.key: c for c in cells}
    for eq in eqs:
        if any(by[k].illegible for k in eq.lhs + eq.rhs):
            continue
        if abs(sum(s * (by[k].top or 0) for k, s in eq.terms())) > cfg["tol"]:
            for k in eq.lhs + eq.rhs:
                doc.fields[k].status = "conflict"


def _checks(doc: Document, eqs: list[Equation], mark_conflicts: bool) -> None:
    """Every equation on the final values. One with an unknown term (illegible, not
    inferred) or with a blank where blanks do not count as 0 is not evaluable: skipped."""
    tol = float(settings().get("tol", 1e-6))
    doc.checks = [c for c in doc.checks if not any(c.equation == e.name for e in eqs)]
    for eq in eqs:
        fs = [(doc.fields[k], s) for k, s in eq.terms()]
        vals = []
        ok = True
        for f, s in fs:
            n = _number(f.value)
            if (f.illegible and f.status != "inferred") or n is _BAD or (n is None and not eq.null_as_zero):
                ok = False
                break
            vals.append((n or 0, s))
        if not ok:
            continue
        lhs = sum(v for v, s in vals if s > 0)
        rhs = sum(v for v, s in vals if s < 0)
        holds = abs(lhs - rhs) <= tol
        doc.checks.append(Check(eq.name, holds, lhs, rhs))
        if mark_conflicts and not holds:
            for f, _ in fs:
                f.status = "conflict"
            if doc.status == "ok":
                doc.status = "needs_review"
