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

Modules: solve_cells (readings → options), solve_milp (the program), this one (equations,
the stage, the checks).
"""
from __future__ import annotations

import math
import time

from . import crosscheck
from .model import Check, Document
from .solve_cells import BAD, CellVar, cell_var, number
from .solve_milp import Program, components, holds_at_top, quiet_stdout  # noqa: F401  (quiet_stdout: joined.py)
from .templates import Equation, config, templates

TABLES_WITH_EQUATIONS = ("requests", "appeals", "active")


def settings() -> dict:
    """configs/solver.yaml."""
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
    # in the equations' order, not a set's: the order decides which cells get the gap budget,
    # and a set's order changes with PYTHONHASHSEED (the same scan scored differently per run)
    in_eq = list(dict.fromkeys(k for eq in usable for k in eq.lhs + eq.rhs))
    priors = crosscheck.narrative_priors(doc)     # counts the report's text states
    cells = {k: cell_var(doc.fields[k], cfg, priors.get(k), fixed=k in fixed) for k in in_eq}
    for key, f in doc.fields.items():
        if key not in cells:
            evidence[key] = {"gap": None, "in_equations": False}
    n_milp = 0
    for comp_cells, comp_eqs in components(cells, usable):
        trivial = all(c.locked or (len(c.options) == 1 and not c.other) for c in comp_cells) \
            and holds_at_top(comp_cells, comp_eqs, cfg["tol"])
        if trivial:
            for c in comp_cells:
                evidence[c.key] = {"gap": None, "in_equations": True, "locked": c.locked}
            continue
        n_milp += _solve_component(doc, comp_cells, comp_eqs, cfg, evidence)
    from .solve_blanks import nothing_as_printed   # a 0 no mark shows, written as the table prints nothing
    for key in nothing_as_printed(doc, cfg.get("nothing_as_printed") or {}):
        evidence.setdefault(key, {})["nothing_as_printed"] = True
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
        prog = Program(cells, eqs, cfg)
        best, x = prog.solve()
        n_solves += 1
        conflicts: set[str] = set()
        if x is None or best > prog.conflict_floor:
            # 2. locate the violated equations with an elastic (L1) program, then allow
            #    conflicts only on their cells: exact over those, fast enough everywhere
            el = Program(cells, eqs, cfg, elastic=float(cfg["elastic_cost"]))
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
                p2 = Program(cells, eqs, cfg, conflict_keys=cand)
                best2, x2 = p2.solve()
                n_solves += 1
                if x2 is not None and (x is None or best2 < best - 1e-9):
                    sol2 = p2.decode(x2)
                    conflicts = {k for k, s in sol2.items() if s["conflict"]}
                    # 3. the same optimum with the conflicts taken out of the equations:
                    #    the program the evidence gaps are measured in
                    prog = Program(cells, eqs, cfg, free_keys=conflicts)
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
        gaps, measured = {}, []
        before = prog.n_solves
        for c in sorted(cells, key=lambda c: c.p_top):   # the budget goes to the least sure first
            if c.key in conflicts:
                continue
            has_choice = len(c.options) + c.other > 1 or sol[c.key]["choice"] == "other"
            if has_choice and budget > 0:
                budget -= 1
                measured.append(c)
            elif has_choice:
                gaps[c.key] = None
        # the "other" values' gaps first: one not determined (and legible) sends the round back, and
        # the other cells' gaps, measured in a program about to change, would go unused (a last
        # round keeps them all). Each gap is its own solve: the order changes none of them.
        for c in (m for m in measured if sol[m.key]["choice"] == "other"):
            gaps[c.key] = prog.gap(c, sol[c.key], best)
            if (gaps[c.key] or 0.0) < cfg["min_gap"]:
                undetermined.append(c)
        retry = [c for c in undetermined if not c.illegible]
        for c in measured if not retry or _round == 2 else []:
            if c.key not in gaps:
                gaps[c.key] = prog.gap(c, sol[c.key], best)
        n_solves += prog.n_solves - before
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
            f.value = c.top if f.value is None or number(f.value) == c.top else f.value
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
            n = number(v)
            if n is not BAD and math.isfinite(p):
                alts.append((n, min(max(p, 0.0), 1.0)))
        had = bool(f.alternatives)
        f.alternatives = alts
        if number(f.value) is BAD:
            f.value = alts[0][0] if alts else None
            if not alts:
                f.illegible = True
        elif had and not alts and not f.illegible:
            f.alternatives = [(number(f.value), 0.5)] if f.value is not None else []  # sureness unknown
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
            elif number(f.value) == 0:
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
        elif number(f.value) == 0:
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
            n = number(f.value)
            if (f.illegible and f.status != "inferred") or n is BAD or (n is None and not eq.null_as_zero):
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
