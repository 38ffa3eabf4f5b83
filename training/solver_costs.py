"""Why the solver chose what it chose: each cell's cost (nats, as the integer program counts
it) of the printed truth against the value chosen, for the cells where they differ.

The solver minimises Σ −log p of the chosen readings, plus `other_cost` for a value no
recogniser proposed and `conflict_cost` for a printed inconsistency (pipeline/solve_milp.py).
When it picks a wrong assignment, either the truth costs more (the readings favour the wrong
one) or the truth is out of reach (a value not among a cell's options: cost inf unless the cell
has the "other" option or is declared a conflict). Session 29b found test_00003 light's swapped
column this way (docs/scans.md).

    python -m training.solver_costs datasets/generated/s26scans/test/test_00003.scan_light.pdf \
        --cache DIR [--prefix requests/]
"""
from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path

from pipeline import solve
from pipeline.solve_cells import CellVar, cell_var


def cell_cost(c: CellVar, value) -> float:
    """The program's cost of `value` in this cell: −log p of the option (a blank and a 0 add
    alike in the equations, so the cheaper of the two), else the "other" option's cost, else
    inf (only a conflict reaches it)."""
    want = [value] if value not in (None, 0) else [None, 0]
    costs = [-math.log(max(p, 1e-12)) for v, p in c.options
             if any(v == w and (v is None) == (w is None) for w in want)]
    if costs:
        return min(costs)
    if c.other and value is not None:
        return c.other_cost
    return math.inf


def compare(classified, chosen: dict, truth: dict, prefix: str = "") -> list[dict]:
    """Per cell in an equation (key starting with `prefix`) whose chosen value or cost differs
    from the truth's: its text, options and both costs. `classified`: the document before the
    solver; `chosen`: key → the value the solver returned; `truth`: key → printed value."""
    cfg = solve.settings()
    keys = dict.fromkeys(k for eq in solve.equations_for(classified) for k in eq.lhs + eq.rhs)
    rows = []
    for k in keys:
        if not k.startswith(prefix) or k not in truth:
            continue
        c = cell_var(classified.fields[k], cfg)
        t, g = truth[k], chosen.get(k)
        ct, cg = cell_cost(c, t), cell_cost(c, g)
        if t != g or ct != cg:
            rows.append({"key": k, "text": classified.fields[k].text, "truth": t, "truth_cost": ct,
                         "chosen": g, "chosen_cost": cg, "other": c.other, "locked": c.locked,
                         "options": [(v, round(p, 4)) for v, p in c.options]})
    return rows


def main(argv=None) -> int:
    from pipeline import classify
    from pipeline.run import Settings
    from training.eval_scans import gridded
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scan", type=Path)
    ap.add_argument("--cache", type=Path, required=True, help="eval_scans' grid cache (read only when the file is there)")
    ap.add_argument("--prefix", default="")
    a = ap.parse_args(argv)
    s = Settings(solver=True)
    truth = json.loads((a.scan.parent / (a.scan.name.split(".")[0] + ".truth.json")).read_text(encoding="utf-8"))
    doc = copy.deepcopy(gridded(a.scan, s, a.cache, False))
    classify.classify(doc, s)
    before = copy.deepcopy(doc)
    solve.solve(doc)
    rows = compare(before, {k: f.value for k, f in doc.fields.items()},
                   {k: v["value"] for k, v in truth["cells"].items()}, a.prefix)
    for r in rows:
        print(f"{r['key']:55s} {r['text']!r:7} truth {r['truth']!s:>5} {r['truth_cost']:6.2f}  "
              f"chosen {r['chosen']!s:>5} {r['chosen_cost']:6.2f}  other={r['other']} options={r['options']}")
    print(f"total: truth {sum(r['truth_cost'] for r in rows):.2f}, chosen {sum(r['chosen_cost'] for r in rows):.2f} nats")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
