"""Why cells sit below the review threshold: every cell of scanned renderings (cached grids
of training/eval_scans.py), right or wrong against the truth, with what put it below —
the sanity guards' doubts (by rule), a placement doubt, the calibrator's own output (and
the solver status and equation evidence it saw), a conflict — counted by cause, and the
documents' `ok` blocked by each.

    nice python -m training.review_causes datasets/generated/s26scans/test \
        --pattern 'test_000*.scan_heavy.pdf' --cache DIR [--cells out.jsonl] [--json out.json]

Reads the cache only (never writes it: a missing cached grid is skipped).
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
from collections import Counter, defaultdict
from pathlib import Path

from pipeline.run import Settings
from pipeline.templates import config
from pipeline.values import same_number as same

# the doubt reasons' rules, by a piece of their text (first match wins)
RULES = (
    ("faint ink", "grid: faint ink"),
    ("label was read again", "grid: relabelled row"),
    ("without ruling lines", "grid: boxes table"),
    ("black page border", "grid: page border"),
    ("more digits than printed", "sanity: ink too narrow"),
    ("characters or gaps lost", "sanity: ink too wide"),
    ("one reading", "sanity: row of copies"),
    ("blank in a row of zeros", "sanity: blank among zeros"),
    ("0 in a row of printed blanks", "sanity: 0 among blanks"),
    ("digit counts", "sanity: digit count"),
    ("not a clean number", "appeals: not a clean number"),
    ("2019 one-row", "requests: 2019 (六) row"),
    ("the equations' value", "score: corrected digits"),
    ("a blank and a 0 balance alike", "score: inferred blank/0"),
    ("a blank where", "score: blank where a digit read"),
    ("a mark, not a printed 0", "score: 0 without a 0 read"),
    ("expected cells missing", "score: failed reading"),
    ("balance only on doubted", "score: set by doubted"),
)


def rule_of(why: str) -> str:
    return next((name for piece, name in RULES if piece in why), "other: " + why[:40])


def cells_of(folder: Path, pattern: str, cache: Path, limit: int | None = None):
    """(file, held_out, [cell record]) per cached rendering."""
    from pipeline import score as scoring
    from pipeline.score import FEATURES, cell_features, load_model
    from training.eval_scans import finish, gridded, held_out_of
    thr = float(config("scoring.yaml")["review_threshold"])
    settings = Settings(solver=True)
    model = load_model()
    for f in sorted(Path(folder).glob(pattern))[:limit]:
        if not (cache / (f.name + ".pages.pkl")).exists():
            print(f"skipped {f.name}: no cached grid", file=sys.stderr)
            continue
        stem, rendering = f.name.split(".")[0], f.name.split(".")[1]
        truth = json.loads((f.parent / f"{stem}.truth.json").read_text(encoding="utf-8"))
        doc = finish(gridded(f, settings, cache, False), settings)
        keys, X = cell_features(doc)
        raw = model["cells"].predict_proba(X)[:, 1] if len(keys) else []
        if len(keys):   # the calibrator's output as score uses it (before the placement and doubt caps)
            sc = config("scoring.yaml")
            if hasattr(scoring, "floor_blank_rows"):      # (absent before session 26d: the tool measures a base too)
                raw = scoring.floor_blank_rows(raw, X, keys, doc, sc.get("blank_rows") or {})
                raw = scoring.map_unbound_top(raw, X, keys, doc, sc.get("unbound_top") or {}, thr)
        from pipeline.crosscheck import NarrativeCheck
        doc_info = {"missing": len(doc.missing),
                    "narrative_broken": any(isinstance(c, NarrativeCheck) and not c.holds for c in doc.checks)}
        recs = []
        for i, k in enumerate(keys):
            fl = doc.fields[k]
            t = truth["cells"].get(k)
            feats = dict(zip(FEATURES, (round(float(v), 4) for v in X[i])))
            causes = sorted({rule_of(w) for w in fl.doubts})
            if fl.placement < 1:
                causes.append("placement")
            if fl.status == "conflict":
                causes.append("conflict")
            if raw[i] < thr:
                causes.append("calibrator")
            recs.append({"file": f.name, "key": k, "truth": None if t is None else t["value"],
                         "in_truth": t is not None, "value": fl.value,
                         "right": t is not None and same(fl.value, t["value"]),
                         "confidence": round(float(fl.confidence), 6), "raw": round(float(raw[i]), 6),
                         "status": fl.status, "text": fl.text, "placement": fl.placement,
                         "doubts": list(fl.doubts), "causes": causes, "features": feats,
                         "below": fl.confidence < thr, **doc_info})
        yield f.name, bool(held_out_of(truth, rendering)), doc.status, recs


def summarise(rows) -> dict:
    """Right cells below review by cause (each cause alone, and any), wrong cells each cause
    keeps below, documents whose `ok` each cause alone blocks."""
    sole, anyc, wrong_any, docs_sole = Counter(), Counter(), Counter(), Counter()
    calib = Counter()
    n = Counter()
    for name, held, status, recs in rows:
        n["documents"] += 1
        n["documents_ok"] += status == "ok"
        blocking = set()
        below = [r for r in recs if r["below"] or r["status"] == "conflict"]
        for r in recs:
            n["cells"] += 1
            n["right" if r["right"] else "wrong"] += 1
            if not r["below"]:
                n["accepted"] += 1
                n["accepted_right"] += r["right"]
        for r in below:
            cs = r["causes"] or ["none"]
            if r["right"]:
                n["right_below"] += 1
                for c in cs:
                    anyc[c] += 1
                if len(cs) == 1:
                    sole[cs[0]] += 1
                if cs == ["calibrator"]:
                    ft = r["features"]
                    calib[f"status={r['status']} blank={int(ft['blank'])} in_eq={int(ft['in_equations'])} "
                          f"n_sat={int(ft['n_sat'])}"] += 1
            else:
                for c in cs:
                    wrong_any[c] += 1
            blocking.update(cs)
        if below and all(r["right"] for r in below) and len(blocking) == 1:
            docs_sole[next(iter(blocking))] += 1
        n["documents_all_right_cells"] += all(r["right"] for r in recs)
    return {"counts": dict(n), "right_below_sole_cause": dict(sole.most_common()),
            "right_below_any_cause": dict(anyc.most_common()),
            "wrong_below_any_cause": dict(wrong_any.most_common()),
            "calibrator_alone_by_features": dict(calib.most_common(25)),
            "documents_blocked_only_by": dict(docs_sole.most_common())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--pattern", default="*.scan_*.pdf")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--cells", type=Path, default=None, help="every cell's record here (JSON lines)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    rows = list(cells_of(a.folder, a.pattern, a.cache, a.limit))
    out = {"all": summarise(rows), "held_out": summarise([r for r in rows if r[1]]),
           "not_held_out": summarise([r for r in rows if not r[1]])}
    text = json.dumps(out, ensure_ascii=False, indent=1)
    print(text)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    if a.cells:
        with open(a.cells, "w", encoding="utf-8") as fh:
            for name, held, status, recs in rows:
                for r in recs:
                    fh.write(json.dumps({**r, "held_out": held, "doc_status": status}, ensure_ascii=False,
                                        default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
