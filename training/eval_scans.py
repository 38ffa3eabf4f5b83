"""Whole-pipeline accuracy on scans, cells right / wrong / missing counted apart, and the
confident wrong cells (a wrong value at or above the review threshold: what a user would
trust), per rendering, held-out apart (degradation styles and table geometry: the truth's
`held_out`, configs/synth.yaml) and per table geometry style, a reliability table per group
(confidence bins against the share of cells right), and how many tables each grid strategy gave (tables_lines / tables_faint / tables_text:
pipeline/grid_text.py).

The grid stage (rendering, OCR) is the costly one: its output is cached per file under
--cache, so classify/solve/score changes are measured again in seconds (--regrid reads
the pages again, for a change to the grid stage).

    nice python -m training.eval_scans datasets/generated/issue14/val --cache /tmp/g14 \
        [--pattern '*.scan_*.pdf'] [--limit N] [--json out.json] [--no-sanity]
"""
from __future__ import annotations

import argparse
import copy
import json
import pickle
import sys
from collections import Counter, defaultdict
from pathlib import Path

from pipeline.export import to_result
from pipeline.run import Settings
from pipeline.templates import config
from pipeline.values import same_number as same


def gridded(path: Path, settings: Settings, cache: Path | None, regrid: bool):
    """The document after read + grid (page images dropped), from the cache when there.

    The cache holds each page's own tables (grid.recover(join=False)); tables continued
    over a page break are joined here, on a copy, so a change to the join is measured
    again without reading the pages again."""
    from pipeline.grid_tables import join_continued
    doc = _pages(path, settings, cache, regrid)
    doc = copy.deepcopy(doc)
    join_continued(doc)
    return doc


def _pages(path: Path, settings: Settings, cache: Path | None, regrid: bool):
    """read + grid, tables not yet joined over page breaks (the cached form)."""
    from pipeline import cost, read
    cf = cache / (path.name + ".pages.pkl") if cache else None
    if cf is not None and cf.exists() and not regrid:
        with open(cf, "rb") as fh:
            return pickle.load(fh)
    doc = read.read(path, settings)
    if doc.status != "failed" and any(p.render is not None or p.image is not None for p in doc.pages):
        from pipeline import grid
        grid.recover(doc, settings, join=False)
        cost.page_totals(doc)
    for p in doc.pages:
        p.image = None
        p.layout = []
    if cf is not None:
        cf.parent.mkdir(parents=True, exist_ok=True)
        with open(cf, "wb") as fh:
            pickle.dump(doc, fh)
    return doc


def finish(doc, settings: Settings):
    """classify → solve → score on a copy of a gridded document (as pipeline.run does)."""
    from pipeline import classify, score, solve
    doc = copy.deepcopy(doc)
    if doc.status == "failed":
        return doc
    classify.classify(doc, settings)
    if doc.status in ("failed", "unsupported_template", "no_tables"):
        return doc
    if settings.solver:
        solve.solve(doc)
    score.score(doc)
    return doc


def styles_of(truth: dict, rendering: str) -> list[str]:
    """The degradation styles a rendering was made with (truth renderings[r].styles)."""
    return list(truth.get("renderings", {}).get(rendering, {}).get("styles", []) or [])


def held_out_of(truth: dict, rendering: str) -> list[str]:
    """What of a rendering is held out from tuning: the truth's own list (degradation
    styles and table geometry, `renderings[r].held_out`) when the generator wrote one,
    else its styles among configs/synth.yaml held_out_styles (older corpora)."""
    r = truth.get("renderings", {}).get(rendering, {})
    if "held_out" in r:
        return list(r.get("held_out") or [])
    held = set(config("synth.yaml").get("held_out_styles", []) or [])
    return [s for s in styles_of(truth, rendering) if s in held]


def geometry_of(truth: dict) -> list[str]:
    """The table geometry styles a document was drawn with (truth `geometry`; [] = default)."""
    return list(truth.get("geometry") or [])


BINS = (0.0, 0.5, 0.9, 0.99, 0.995, 0.999, 0.9999, 1.0001)


def reliability(points: list[tuple[float, bool]]) -> list[dict]:
    """Cells by confidence bin (BINS) against the share of them right: a calibrated
    confidence puts each bin's share right inside it."""
    out = []
    for lo, hi in zip(BINS, BINS[1:]):
        got = [ok for p, ok in points if lo <= p < hi]
        if got:
            out.append({"bin": f"[{lo:g}, {min(hi, 1):g}{']' if hi > 1 else ')'}", "cells": len(got),
                        "right": sum(got), "share_right": round(sum(got) / len(got), 4)})
    return out


def evaluate(folder: Path, pattern: str, settings: Settings, cache: Path | None = None,
             regrid: bool = False, limit: int | None = None, errors_out: list | None = None) -> dict:
    thr = float(config("scoring.yaml")["review_threshold"])
    groups: dict[str, Counter] = defaultdict(Counter)
    points: dict[str, list] = defaultdict(list)     # (confidence, right) per group: reliability
    files = sorted(Path(folder).glob(pattern))[:limit]
    for f in files:
        stem, rendering = f.name.split(".")[0], f.name.split(".")[1]
        truth = json.loads((f.parent / f"{stem}.truth.json").read_text(encoding="utf-8"))
        grid_doc = gridded(f, settings, cache, regrid)
        doc = finish(grid_doc, settings)
        res = to_result(doc)
        c = Counter()
        why_missing = {m["key"]: m.get("reason", "") for m in res.get("missing", [])}
        held = held_out_of(truth, rendering)
        gkeys = [rendering, f"{rendering}:{'held_out' if held else 'not_held_out'}"]
        gkeys += [f"{rendering}:geometry:{g}" for g in geometry_of(truth) or ["default"]]
        for key, cell in truth["cells"].items():
            got = res["cells"].get(key)
            if got is None:
                c["missing"] += 1
                if errors_out is not None:
                    table = key.split("/")[0]
                    errors_out.append({"file": f.name, "key": key, "truth": cell["value"], "got": None,
                                       "confidence": None, "status": "missing",
                                       "reason": why_missing.get(key) or why_missing.get(f"{table}/*", "")})
                continue
            ok = same(got["value"], cell["value"])
            for g in gkeys[:2]:
                points[g].append((float(got["confidence"]), bool(ok)))
            c["right" if ok else "wrong"] += 1
            if not ok and got["confidence"] >= thr:
                c["confident_wrong"] += 1
            if ok and got["confidence"] < thr:
                c["right_for_review"] += 1
            if not ok and errors_out is not None:
                errors_out.append({"file": f.name, "key": key, "truth": cell["value"], "got": got["value"],
                                   "confidence": got["confidence"], "text": got.get("text"),
                                   "status": got["status"]})
        c["extra"] = sum(1 for k in res["cells"] if k not in truth["cells"])
        c["documents"] = 1
        for t in grid_doc.tables:      # the grid strategy of each table (grid_text.refine)
            c["tables_" + getattr(t, "strategy", "lines")] += 1
        c["documents_all_right"] = int(c["wrong"] == c["missing"] == c["extra"] == 0)
        c["documents_ok_with_wrong"] = int(res["status"] == "ok" and c["wrong"] + c["missing"] > 0)
        c["documents_ok"] = int(res["status"] == "ok")
        for g in gkeys:
            groups[g].update(c)
    out = {}
    for g, c in sorted(groups.items()):
        cells = c["right"] + c["wrong"] + c["missing"]
        out[g] = {**{k: c[k] for k in ("documents", "right", "wrong", "missing", "confident_wrong",
                                        "right_for_review", "extra", "documents_all_right", "documents_ok",
                                        "documents_ok_with_wrong")},
                  **{k: c[k] for k in sorted(c) if k.startswith("tables_")},
                  "cells_right": round(c["right"] / max(1, cells), 4)}
        if g in points:
            out[g]["reliability"] = reliability(points[g])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--pattern", default="*.scan_*.pdf")
    ap.add_argument("--cache", type=Path, default=None, help="folder for the gridded documents")
    ap.add_argument("--regrid", action="store_true", help="run the grid stage again (cache rewritten)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-solver", action="store_true")
    ap.add_argument("--no-sanity", action="store_true", help="sanity guards off (the before figure)")
    ap.add_argument("--errors", type=Path, default=None,
                    help="write every wrong and every missing cell (with the reason given) here (JSON lines)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.no_sanity:
        from pipeline import classify
        classify.SANITY_OFF = True
    errs: list = []
    out = evaluate(a.folder, a.pattern, Settings(solver=not a.no_solver), a.cache, a.regrid, a.limit, errs)
    text = json.dumps(out, ensure_ascii=False, indent=1)
    print(text)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    if a.errors:
        a.errors.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errs), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
