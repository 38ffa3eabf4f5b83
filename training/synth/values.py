"""Values of one synthetic report: realistic counts that satisfy the balance equations,
then (optionally) a printed inconsistency and printed blanks, all recorded as truth.

The table structure (which rows feed which totals) is read from the template's
equations, so a template change needs no code change here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.templates import Template


@dataclass
class ReportValues:
    template: str
    year: int
    agency: str
    keys: list[str]                     # canonical keys the report prints, in order
    values: dict[str, object]           # printed value: int | float | None (blank)
    texts: dict[str, str]               # printed text of each value cell
    true_values: dict[str, object]      # before any injected misprint (blanks as 0)
    single_other: bool = False          # 2021 report printing (六)其他处理 as one row
    injected: list[dict] = field(default_factory=list)
    blank_keys: list[str] = field(default_factory=list)


# -- structure from the equations ------------------------------------------------------------
@dataclass
class RequestStructure:
    rows: list[str]            # printed request rows, in order
    columns: list[str]         # all columns incl. the total column
    applicants: list[str]      # the columns summed into the total column
    total_col: str
    inflow: list[str]          # new_received, carried_over
    total_row: str
    carried_forward: str
    results: list[str]         # rows summed into the total row


def request_rows(tpl: Template, single_other: bool) -> list[str]:
    """Printed request rows: the expected ones, or for a hybrid report the unexpected
    single row (e.g. `other`) standing in for the rows whose parent is its label."""
    rows = []
    replaced = {}
    if single_other:
        for r in tpl.request_rows:
            if not r.expected:
                replaced[r.label] = r.key
    done = set()
    for r in tpl.request_rows:
        if r.parent in replaced:
            k = replaced[r.parent]
            if k not in done:
                rows.append(k)
                done.add(k)
            continue
        if r.expected and r.key not in done:
            rows.append(r.key)
            done.add(r.key)
    # keep template order for the stand-in row position (before the total row)
    return rows


def present_keys(tpl: Template, single_other: bool) -> list[str]:
    rows = request_rows(tpl, single_other)
    keys = tpl.keys("active")
    keys += [f"requests/{r}/{c.key}" for r in rows for c in tpl.request_columns]
    keys += tpl.keys("appeals")
    return keys


def request_structure(tpl: Template, keys: list[str]) -> RequestStructure:
    eqs = tpl.expand_equations(set(keys))
    rows = list(dict.fromkeys(k.split("/")[1] for k in keys if k.startswith("requests/")))
    cols = [c.key for c in tpl.request_columns]
    c0 = cols[0]
    inflow = total_row = cf = None
    results: list[str] = []
    applicants: list[str] = []
    total_col = None
    for e in eqs:
        parts = [k.split("/") for k in e.lhs + e.rhs]
        if not all(p[0] == "requests" for p in parts):
            continue
        if all(p[2] == c0 for p in parts) and len(e.lhs) == 2:
            inflow = [k.split("/")[1] for k in e.lhs]
            rhs_rows = [k.split("/")[1] for k in e.rhs]
        elif all(p[2] == c0 for p in parts) and len(e.lhs) == 1:
            total_row = e.lhs[0].split("/")[1]
            results = [k.split("/")[1] for k in e.rhs]
        elif len({p[1] for p in parts}) == 1 and not applicants:
            total_col = e.lhs[0].split("/")[2]
            applicants = [k.split("/")[2] for k in e.rhs]
    cf = next(r for r in rhs_rows if r != total_row)
    return RequestStructure(rows, cols, applicants, total_col, inflow, total_row, cf, results)


# -- drawing ------------------------------------------------------------------------------------
def _pick(rng, weights: dict):
    names = list(weights)
    p = np.array([float(weights[n]) for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _active_value(rng, dist: dict, decimals: int):
    if rng.random() < dist.get("p_zero", 0.5):
        return 0.0 if dist.get("amount") else 0
    if dist.get("amount"):
        lo, hi = dist.get("low", 0.1), dist.get("high", 100.0)
        v = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        return round(v, decimals)
    if dist.get("heavy_p") and rng.random() < dist["heavy_p"]:
        v = int(np.exp(rng.uniform(np.log(100), np.log(dist.get("heavy_high", 5000)))))
    else:
        v = 1 + int(rng.poisson(max(dist.get("mean", 3) - 1, 0.1)))
    if dist.get("signed") and rng.random() < 0.45:
        v = -v
    return v


def _draw_requests(rng, st: RequestStructure, cfg: dict) -> dict[str, int]:
    vc = cfg["values"]
    regime = _pick(rng, {k: v["share"] for k, v in vc["regimes"].items()})
    r = vc["regimes"][regime]
    if regime == "zero":
        base = 0
    elif regime == "large":
        base = int(rng.integers(r["low"], r["high"]))
    else:
        base = int(rng.poisson(r["mean"])) + (1 if regime == "medium" else 0)
    vals: dict[str, int] = {}
    weights = vc["result_weights"]
    alpha = np.array([float(weights.get(k, weights["default"])) for k in st.results])
    for i, c in enumerate(st.applicants):
        if i == 0:
            new = base
        elif base and rng.random() < vc["other_applicant_p"]:
            new = int(rng.poisson(max(base * vc["other_applicant_frac"], 0.5)))
        else:
            new = 0
        co = int(rng.poisson(max(new * vc["carry_frac"], 0.3))) if (new and rng.random() < vc["carried_over_p"]) else 0
        avail = new + co
        cf = int(rng.binomial(avail, min(0.9, vc["carry_frac"] * 2))) if (avail and rng.random() < vc["carried_forward_p"]) else 0
        tot = avail - cf
        share = rng.dirichlet(alpha * vc["result_concentration"] + 1e-3)
        parts = rng.multinomial(tot, share / share.sum()) if tot else np.zeros(len(st.results), int)
        vals[f"requests/{st.inflow[0]}/{c}"] = new
        vals[f"requests/{st.inflow[1]}/{c}"] = co
        vals[f"requests/{st.carried_forward}/{c}"] = cf
        vals[f"requests/{st.total_row}/{c}"] = tot
        for rk, v in zip(st.results, parts):
            vals[f"requests/{rk}/{c}"] = int(v)
    for rk in st.rows:
        vals[f"requests/{rk}/{st.total_col}"] = sum(vals[f"requests/{rk}/{c}"] for c in st.applicants)
    return vals


def _draw_appeals(rng, tpl: Template, keys: list[str], cfg: dict) -> dict[str, int]:
    vals = {}
    vc = cfg["values"]
    for e in tpl.expand_equations(set(keys)):
        if not e.lhs[0].startswith("appeals/"):
            continue
        any_ = rng.random() < vc["appeals_p"]
        parts = [int(rng.poisson(vc["appeals_mean"] * rng.random())) if any_ else 0 for _ in e.rhs]
        for k, v in zip(e.rhs, parts):
            vals[k] = v
        vals[e.lhs[0]] = sum(parts)
    return vals


def format_value(rng, key: str, v, tpl: Template, cfg: dict) -> str:
    if v is None:
        return ""
    lab = tpl.column_label(key)
    vc = cfg["values"]
    if lab is not None and lab.kind == "amount":
        if v == 0:
            return "0"
        dec = int(rng.choice(vc["amount_decimals"]))
        s = f"{v:.{dec}f}"
        if rng.random() < vc["amount_unit_suffix_p"]:
            s += "万元"
        return s
    if key.endswith("/change") and isinstance(v, int) and v > 0 and rng.random() < vc["signed_plus_p"]:
        return f"+{v}"
    s = str(v)
    if rng.random() < vc["count_unit_suffix_p"]:
        s += str(rng.choice(["件", "(件)", "项"]))
    if rng.random() < vc["fullwidth_digits_p"]:
        s = s.translate(_FULLWIDTH)
    return s


_FULLWIDTH = str.maketrans("0123456789+-.", "０１２３４５６７８９＋－．")


def parse_printed(text: str) -> float | None:
    """The number a printed cell text stands for (what the truth value is), None for a blank."""
    t = text.translate(str.maketrans("０１２３４５６７８９＋－．", "0123456789+-.")).strip()
    for u in ("万元", "(件)", "件", "项"):
        t = t.replace(u, "")
    t = t.lstrip("+")
    return float(t) if t and t not in ("/", "—", "-", "／") else None


def equation_failures(tpl: Template, values: dict) -> list[str]:
    out = []
    for e in tpl.expand_equations(set(values)):
        lhs = sum((values[k] or 0) for k in e.lhs)
        rhs = sum((values[k] or 0) for k in e.rhs)
        if abs(lhs - rhs) > 1e-9:
            out.append(e.name)
    return out


def _inject(rng, tpl: Template, vals: dict, st: RequestStructure, cfg: dict) -> list[dict]:
    ic = cfg["inconsistency"]
    n = int(rng.integers(1, ic["max_per_document"] + 1))
    injected = []
    eq_keys = sorted({k for e in tpl.expand_equations(set(vals)) for k in e.lhs + e.rhs})
    for _ in range(n):
        kind = _pick(rng, ic["kinds"])
        if kind == "total_cell":
            cands = [k for k in eq_keys if k.split("/")[1] == st.total_row or k.endswith(f"/{st.total_col}")]
        elif kind == "carried_forward":
            cands = [k for k in eq_keys if k.split("/")[1] == st.carried_forward]
        elif kind == "appeals_total_zero":
            cands = [k for k in eq_keys if k.startswith("appeals/") and k.endswith("/total") and vals[k]]
            if not cands:
                cands = [k for k in eq_keys if k.startswith("appeals/")]
                kind = "leaf_cell"
        else:
            cands = [k for k in eq_keys if k.startswith("requests/")]
        cands = [k for k in cands if k not in {x for i in injected for x in i["keys"]}] or eq_keys
        key = cands[int(rng.integers(len(cands)))]
        old = vals[key]
        if kind == "appeals_total_zero" and old:
            new = 0
        else:
            d = int(rng.choice([1, 1, 1, 2, 3, 10])) * (1 if (old == 0 or rng.random() < 0.5) else -1)
            new = max(0, old + d)
            if new == old:
                new = old + 1
        vals[key] = new
        after = set(equation_failures(tpl, vals))
        eqs = [e.name for e in tpl.expand_equations(set(vals)) if key in e.lhs + e.rhs and e.name in after]
        injected.append({"keys": [key], "kind": kind, "true": old, "printed": new, "equations": eqs})
    return injected


def _blanks(rng, vals: dict, protected: set, cfg: dict) -> list[str]:
    bc = cfg["blanks"]
    if rng.random() >= bc["p_document"]:
        return []
    style = _pick(rng, bc["styles"])
    zero = [k for k, v in vals.items() if v == 0 and k not in protected]
    if style == "all_zero_cells":
        table = rng.choice(["requests", "appeals", "active", "all"])
        out = [k for k in zero if table == "all" or k.startswith(table + "/")]
    elif style == "whole_rows":
        rows = {}
        for k, v in vals.items():
            rows.setdefault(k.rsplit("/", 1)[0], []).append(k)
        out = []
        for r, ks in rows.items():
            if all(vals[k] == 0 and k not in protected for k in ks) and rng.random() < 0.6:
                out += ks
    else:
        out = [k for k in zero if rng.random() < bc["some_p"]]
    return out


def draw_report(rng, tpl: Template, year: int, agency: str, cfg: dict) -> ReportValues:
    single_other = tpl.name != "2019" and any(not r.expected for r in tpl.request_rows) \
        and rng.random() < cfg["hybrid_single_other"]
    keys = present_keys(tpl, single_other)
    st = request_structure(tpl, keys)
    vals: dict[str, object] = {}
    for k in tpl.keys("active"):
        col = k.split("/")[2]
        row = k.split("/")[1].split(".")[1]
        ac = cfg["values"]["active"]
        dist = ac.get(col) or ac.get(row) or ac["default"]
        lab = tpl.column_label(k)
        if lab is not None and lab.kind == "amount":
            dist = {**dist, "amount": True}
        vals[k] = _active_value(rng, dist, 4)
    vals.update(_draw_requests(rng, st, cfg))
    vals.update(_draw_appeals(rng, tpl, keys, cfg))
    vals = {k: vals[k] for k in keys}
    assert not equation_failures(tpl, vals), equation_failures(tpl, vals)
    true_values = dict(vals)
    injected = []
    if rng.random() < cfg["inconsistency"]["p_document"]:
        injected = _inject(rng, tpl, vals, st, cfg)
        if not equation_failures(tpl, vals):  # two misprints that cancel out: keep it clean
            vals, injected = dict(true_values), []
    protected = {k for inj in injected for k in inj["keys"]}
    blank = _blanks(rng, vals, protected, cfg)
    mark = str(rng.choice(cfg["blanks"]["marks"]))
    for k in blank:
        vals[k] = None
    texts = {}
    for k, v in vals.items():
        t = mark if v is None else format_value(rng, k, v, tpl, cfg)
        texts[k] = t
        if isinstance(v, float):  # the truth is what is printed (rounded amounts)
            vals[k] = parse_printed(t)
            true_values[k] = vals[k] if not any(k in i["keys"] for i in injected) else true_values[k]
    return ReportValues(tpl.name, year, agency, keys, vals, texts, true_values, single_other,
                        injected, blank)
