"""Solve stage of rows whose cells ran together (issue #21): every candidate split of
every run chosen jointly by the template's equations.

`resolve` (called by solve.solve before its own program) finds each run's keys by its
provisional values; every split of every run (pipeline/joined_cells.py) is a candidate,
and one integer program (scipy/HiGHS) chooses a candidate per run so that the fewest
equations (row totals, column sums, cross-row) break. A run for which another choice is
as good (within `tie_nats`) leaves the cells those choices read differently doubtful
(placement below the review threshold), with the values as alternatives. The 主动公开
table has no equations: its runs are doubtful whenever they split more than one way.
A row label printed alone in a table some of whose runs no row took is a row whose
values were lost, not a row of blanks: its cells are missing (`unread_rows`).
Settings: configs/joined.yaml. Figures: docs/joined-cells.md.
"""
from __future__ import annotations

import math
import re

from .joined_cells import Split, TooMany, fmt, kind_of, settings, splits
from .model import Document, JoinedRun
from .templates import templates
from .values import same_number as _same


# -- solve: every run's split chosen jointly ------------------------------------------------------

def _row_keys(doc: Document, run: JoinedRun) -> list[list[str]]:
    """Candidate key lists (column order) of the rows a run may have been placed in."""
    out = []
    for tpl in templates().values():
        if run.table == "requests":
            for r in tpl.request_rows:
                out.append([f"requests/{r.key}/{c.key}" for c in tpl.request_columns])
        elif run.table == "appeals":
            out.append(tpl.keys("appeals"))
        else:
            for s in tpl.sections:
                if s.key == run.section:
                    out += [[f"active/{s.key}.{r.key}/{c.key}" for c in s.columns] for r in s.rows]
    seen, uniq = set(), []
    for ks in out:
        if len(ks) == run.width and tuple(ks) not in seen and all(k in doc.fields for k in ks):
            seen.add(tuple(ks))
            uniq.append(ks)
    return uniq


def place_runs(doc: Document) -> list[tuple[JoinedRun, list[str]]]:
    """Each run with the keys its provisional cells were placed under (in text order,
    each row once); a run whose cells the readers did not place is left out."""
    taken: set[str] = set()
    out = []
    for run in doc.joined:
        for ks in _row_keys(doc, run):
            if ks[0] in taken:
                continue
            if all(_same(doc.fields[k].value, v) and not doc.fields[k].illegible for k, v in zip(ks, run.provisional)):
                taken.update(ks)
                out.append((run, ks))
                break
    return out


def resolve(doc: Document) -> set[str]:
    """Choose every joined run's split with the equations (see the module docstring); set
    the cells' values, alternatives and placement. Returns the keys it decided, which the
    consistency solver then keeps as they are."""
    if not doc.joined:
        return set()
    cfg = settings()
    placed = place_runs(doc)
    if not placed:
        return set()
    unread_rows(doc, placed, cfg)
    decided = resolve_placed(doc, placed, cfg)
    settle_blank_rows(doc, placed)
    return decided


def settle_blank_rows(doc: Document, placed: list[tuple[JoinedRun, list[str]]]) -> list[str]:
    """Rows of the requests table printed as a label alone, read blank by the readers below
    the review threshold: sure blanks where the document rules out lost values
    (stream.blanks.blank_rows_sure, the one rule; its evidence here: every joined run of
    the table placed, every equation of the table holding with the chosen splits, no
    cell of the table doubted for its place beyond a 0 against a blank within its own
    row). Returns the row prefixes made sure."""
    from .solve import equations_for
    from .stream.blanks import blank_rows_sure
    from .stream.tokens import label_only
    table = "requests"
    taken = {k for _, ks in placed for k in ks}
    stray = sum(1 for run in doc.joined if run.table == table) - sum(1 for run, _ in placed if run.table == table)
    rows: dict[str, list[str]] = {}
    for k in doc.fields:
        if k.startswith(table + "/"):
            rows.setdefault(k.rsplit("/", 1)[0], []).append(k)
    lone = {}
    low = label_only()
    for row, ks in rows.items():
        fs = [doc.fields[k] for k in ks]
        if not any(k in taken for k in ks) and all(f.value is None and not f.illegible for f in fs):
            lone[row] = [k for k, f in zip(ks, fs) if abs(f.placement - low) < 1e-9 and not f.doubts]
    if not lone or not any(lone.values()):
        return []
    with_values = sum(1 for ks in rows.values() if any(doc.fields[k].value is not None for k in ks))
    lost = sum(1 for m in doc.missing if str(m.get("key", "")).startswith(table + "/"))
    broken = lost
    for e in equations_for(doc):
        if not all(k.startswith(table + "/") for k in e.lhs + e.rhs):
            continue
        try:
            d = sum(float(doc.fields[k].value or 0) for k in e.lhs) - sum(float(doc.fields[k].value or 0) for k in e.rhs)
        except (TypeError, ValueError):
            broken += 1
            continue
        broken += abs(d) > 1e-6
    in_lone = {k for ks in rows.values() for k in ks if k.rsplit("/", 1)[0] in lone}
    # any doubt elsewhere in the table counts, a 0 against a blank too: where rows lose cells
    # one by one, runs of zeros fit many rows alike, and a row left bare may be a shifted one
    doubted = sum(1 for ks in rows.values() for k in ks if k not in in_lone
                  and (doc.fields[k].doubts or doc.fields[k].placement < 1.0))
    # a bare row whose printed label holds digits (beyond its ordinal) had values the
    # reading did not take (`1.属于国家秘密000000-3-`: a page number glued after them)
    for rec in doc.labels:
        cls = str(rec.get("class", ""))
        if cls.startswith("requests.row:") and f"{table}/{cls.split(':', 1)[1]}" in lone:
            words = " ".join(str(x) for x in (rec.get("text"), (rec.get("context") or {}).get("prev")) if x)
            if _DIGITS.search(_ORDINAL.sub("", words)):
                stray += 1
    marks = sum(1 for run in doc.joined if run.table == table for kind, _ in run.pieces if kind == "b")
    # values the other tables' regions print beyond their cells (a lost row printed elsewhere)
    name = doc.table_templates.get(table) or doc.template
    if doc.text and name in templates():
        from .stream.requests import values_elsewhere
        stray += values_elsewhere(doc.text, templates()[name])
    if not blank_rows_sure(len(lone), with_values, stray, broken, doubted, marks):
        return []
    out = []
    for row, ks in lone.items():
        if len(ks) == len(rows[row]):
            for k in ks:
                doc.fields[k].placement = 1.0
            out.append(row)
    if out:
        doc.warnings.append(f"{len(out)} rows printed as a label alone read blank for sure: every digit of the "
                            "table placed, every equation holds, no other placement doubted")
    return out


def unread_rows(doc: Document, placed: list[tuple[JoinedRun, list[str]]], cfg: dict) -> list[str]:
    """Rows the readers filled with blanks though no run of the text is theirs (a label
    printed alone), in a table some of whose runs no row took: the digits are in the
    text but not placed (as report 052's `000/000` line, once taken for a page number),
    so a label alone there is a row whose values were lost, not a row of blanks; its
    cells become missing (`doc.missing`), never blanks. Without such a trace a label
    alone may be an empty row (reports print whole rows of blanks as nothing); the
    readers leave its blanks below the review threshold (classify.yaml
    label_only_row_placement). Returns the row prefixes made missing."""
    taken_runs = {id(run) for run, _ in placed}
    lost = {run.table for run in doc.joined if id(run) not in taken_runs} & set(cfg["unread_row_tables"])
    if not lost:
        return []
    taken = {k for _, ks in placed for k in ks}
    rows: dict[str, list[str]] = {}
    for k in doc.fields:
        if k.split("/", 1)[0] in lost:
            rows.setdefault(k.rsplit("/", 1)[0], []).append(k)
    out = []
    for row, ks in rows.items():
        if any(k in taken for k in ks):
            continue
        if all(doc.fields[k].value is None and not doc.fields[k].illegible for k in ks):
            for k in ks:
                del doc.fields[k]
                doc.missing.append({"key": k, "reason": "row label printed alone in a table whose digits were "
                                                        "not all placed: its values were not found"})
            out.append(row)
    if out:
        if doc.status == "ok":
            doc.status = "needs_review"
        doc.warnings.append(f"{len(out)} rows printed as a label alone where joined digits went unplaced "
                            f"({', '.join(out)}): their values were not found; cells missing")
    return out


def resolve_placed(doc: Document, placed: list[tuple[JoinedRun, list[str]]], cfg: dict) -> set[str]:
    from .solve import equations_for
    eqs = equations_for(doc)
    kinds_of = {}
    for run, ks in placed:
        for k in ks:
            kinds_of[k] = kind_of(k, cfg)
    # candidates per run; vanished blanks only where some row cannot be read without them
    cands: list[list[Split] | None] = []
    need_empty = False
    for run, ks in placed:
        kinds = [kinds_of[k] for k in ks]
        try:
            if not splits(run.pieces, kinds, (), False, cfg):
                need_empty = True
        except TooMany:
            pass
        cands.append(None)
    for i, (run, ks) in enumerate(placed):
        kinds = [kinds_of[k] for k in ks]
        local = [(tuple(ks.index(k) for k in e.lhs), tuple(ks.index(k) for k in e.rhs))
                 for e in eqs if all(k in ks for k in e.lhs + e.rhs)]
        try:
            c = splits(run.pieces, kinds, local, need_empty, cfg)
            if not c:       # the row's own total is misprinted: every split stays possible
                c = splits(run.pieces, kinds, (), need_empty, cfg)
            cands[i] = c
        except TooMany:
            cands[i] = None
    decided: set[str] = set()
    sol = _choose(doc, placed, cands, eqs, cfg, need_empty)
    for i, (run, ks) in enumerate(placed):
        c = cands[i]
        if not c:
            for k in ks:
                doc.fields[k].placement = min(doc.fields[k].placement, float(cfg["unsplit_placement"]))
            why = "split too many ways to weigh" if c is None else "fit no split into its cells"
            doc.warnings.append(f"{ks[0].rsplit('/', 1)[0]}: joined digits {_text(run)!r} {why}; cells doubtful")
            continue
        chosen, alts = sol[i]
        options = [chosen] + alts
        for j, k in enumerate(ks):
            f = doc.fields[k]
            vals = [o.values[j] for o in options]
            f.value = chosen.values[j]
            f.text = "" if f.value is None else fmt(f.value) if isinstance(f.value, float) else str(f.value)
            f.illegible = False
            if any(not _same(v, vals[0]) for v in vals[1:]):
                share: dict = {}
                for v in vals:
                    share[v] = share.get(v, 0) + 1.0 / len(vals)
                f.alternatives = sorted(share.items(), key=lambda t: (not _same(t[0], f.value), -t[1]))
                f.placement = min(f.placement, float(cfg["ambiguous_placement"]))
            else:
                f.alternatives = [(f.value, 1.0)]
            decided.add(k)
        if alts:
            doc.warnings.append(f"{ks[0].rsplit('/', 1)[0] if run.table != 'appeals' else 'appeals'}: joined digits "
                                f"{_text(run)!r} split {len(options)} ways alike; the cells they read "
                                "differently are doubtful")
    return decided


_ORDINAL = re.compile(r"(^|\s)\d{1,2}\s*[.．、]")
_DIGITS = re.compile(r"\d")


def _text(run: JoinedRun) -> str:
    return "".join(s for _, s in run.pieces)


def _choose(doc, placed, cands, eqs, cfg, empties_on: bool):
    """The jointly best candidate of every run, and per run the other candidates that
    are as good (within tie_nats): an integer program over one binary per candidate and
    one 'broken' indicator per equation that touches a run."""
    ecost = float(cfg["empty_cost"]) if empties_on else 0.0

    def prior(sp: Split) -> float:
        """Vanished blanks cost; among equals, the split whose largest cell is smallest."""
        big = max((abs(float(v)) for v in sp.values if v is not None), default=0.0)
        return ecost * sp.empties + float(cfg["size_cost"]) * math.log10(1.0 + big)
    tie = float(cfg["tie_nats"])
    touched = set()
    for eq in eqs:
        keys = set(eq.lhs + eq.rhs)
        touched |= {i for i, (run, ks) in enumerate(placed) if cands[i] and keys & set(ks)}
    out = {}
    for i, c in enumerate(cands):     # a run no equation reaches: its candidates alone
        if c and (i not in touched or len(c) == 1):
            ranked = sorted(c, key=prior)
            best = prior(ranked[0])
            out[i] = (ranked[0], [sp for sp in ranked[1:] if prior(sp) <= best + tie])
    if all(i in out for i, c in enumerate(cands) if c):
        return out
    # splits that differ only in a 0 against a blank weigh alike in every equation (a blank
    # counts 0): one class each, chosen as one; the class's members within tie_nats of its
    # best stay alternatives (a 0 or a blank: doubtful)
    classes: dict[int, list[list[Split]]] = {}
    for i, c in enumerate(cands):
        if c and i not in out:
            by: dict[tuple, list[Split]] = {}
            for sp in c:
                by.setdefault(tuple(float(v or 0) for v in sp.values), []).append(sp)
            classes[i] = [sorted(g, key=prior) for g in by.values()]
    reps = {i: [g[0] for g in gs] for i, gs in classes.items()}
    import time
    t_start = time.process_time()
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    from .solve import quiet_stdout, settings as solver_settings
    bounds = solver_settings()   # node_limit and time_limit_s: the one MILP bound (configs/solver.yaml)

    cost, lb, ub, integ = [], [], [], []

    def var(c, lo, hi):
        cost.append(c); lb.append(lo); ub.append(hi); integ.append(1)
        return len(cost) - 1
    u = {i: [var(prior(sp), 0, 1) for sp in c] for i, c in reps.items()}
    key_at = {k: (i, j) for i in u for j, k in enumerate(placed[i][1])}
    rows = []
    for eq in eqs:
        terms = eq.terms()
        if not any(k in key_at for k, _ in terms):
            continue
        coef: dict[int, float] = {}
        const = 0.0
        ok = True
        big = 0.0
        for k, s in terms:
            if k in key_at:
                i, j = key_at[k]
                vals = [float(c.values[j] or 0) for c in reps[i]]
                for n, v in enumerate(vals):
                    if v:
                        coef[u[i][n]] = coef.get(u[i][n], 0.0) + s * v
                big += max(vals, default=0.0)
            else:
                f = doc.fields.get(k)
                if f is None or (f.illegible and f.status != "inferred"):
                    ok = False
                    break
                try:
                    v = float(f.value or 0)
                except (TypeError, ValueError):
                    ok = False
                    break
                const += s * v
                big += abs(v)
        if ok:
            rows.append((coef, const, big + 1.0))
    vbr = [var(float(cfg["broken_cost"]), 0, 1) for _ in rows]
    n = len(cost)
    A = lil_matrix((len(u) + 2 * len(rows), n))
    lo, hi = [], []
    r = 0
    for i, idx in u.items():
        for j in idx:
            A[r, j] = 1
        lo.append(1); hi.append(1); r += 1
    tol = 1e-6
    for (coef, const, M), vb in zip(rows, vbr):
        for j, a in coef.items():
            A[r, j] = a
        A[r, vb] = -M
        lo.append(-np.inf); hi.append(-const + tol); r += 1
        for j, a in coef.items():
            A[r, j] = a
        A[r, vb] = M
        lo.append(-const - tol); hi.append(np.inf); r += 1
    A = A.tocsr()
    c_arr, lb_a, ub_a = np.array(cost, float), np.array(lb, float), np.array(ub, float)
    cons = LinearConstraint(A, np.array(lo, float), np.array(hi, float))

    def run_milp(ubx):
        with quiet_stdout(True):
            res = milp(c_arr, integrality=np.ones(n), bounds=Bounds(lb_a, ubx), constraints=cons,
                       options={"time_limit": float(bounds["time_limit_s"]), "node_limit": int(bounds["node_limit"]),
                                "mip_rel_gap": 1e-9})
        if res.x is None:
            return None, None
        return float(res.fun), res.x
    best, x = run_milp(ub_a)
    if x is None:   # no solution in time: every class of every run stays possible
        for i in u:
            out[i] = (reps[i][0], reps[i][1:])
        return out
    pick = {i: int(np.argmax([x[j] for j in idx])) for i, idx in u.items()}
    budget = float(cfg["search_budget_s"])
    for i, idx in u.items():
        g = classes[i][pick[i]]
        chosen = g[0]
        alts: list[Split] = [sp for sp in g[1:] if prior(sp) <= prior(chosen) + tie]
        if len(idx) > 1:
            if time.process_time() - t_start > budget:   # not searched: every class possible
                alts += [r for k, r in enumerate(reps[i]) if k != pick[i]]
            banned = [pick[i]]
            for _ in range(int(cfg["max_alternatives"]) if time.process_time() - t_start <= budget else 0):
                ubx = ub_a.copy()
                for b in banned:
                    ubx[idx[b]] = 0
                obj, x2 = run_milp(ubx)
                if x2 is None or obj > best + tie:
                    break
                k = int(np.argmax([x2[j] for j in idx]))
                banned.append(k)
                alts.append(reps[i][k])
            else:
                if len(banned) > 1:     # as many as we look for: maybe more, all doubtful
                    alts += [r for k, r in enumerate(reps[i]) if k not in banned]
        out[i] = (chosen, alts)
    return out
