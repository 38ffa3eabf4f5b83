"""Key accuracy of the fuzzy baseline vs the trained classifier, end to end.

`python -m training.eval_keys [--seeds DIR] [--noisy N]`:
(a) the fixed held-out label set (datasets/labelled/eval/keys_eval.jsonl, OCR-noised);
(b) the seed reports (tests/fixtures/seeds/*.txt with *.expected.json) through the whole
    pipeline (pipeline.run.extract, settings.mapper fuzzy vs classifier), as printed and
    with N seeded OCR-noise draws over their label cells (values left intact).
Per-cell key accuracy on (b): an expected key counts when the output has that key with
the expected value.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from pathlib import Path

from . import keydata as kd

SEEDS = kd.ROOT / "tests" / "fixtures" / "seeds"
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPLIT = re.compile(r"(\t| \| |\|)")


def garble_report(text: str, rng: random.Random, max_len: int = 40) -> str:
    """OCR-like noise on every short CJK piece (a label cell); numbers stay as printed."""
    noise = kd.Noise(rng)
    out = []
    for line in text.splitlines(keepends=True):
        parts = _SPLIT.split(line)
        for i, p in enumerate(parts):
            body = p.strip()
            if body and _CJK.search(body) and len(body) <= max_len and not _SPLIT.fullmatch(p):
                lead = p[: len(p) - len(p.lstrip())]
                trail = p[len(p.rstrip()):]
                parts[i] = lead + noise.chars(body) + trail
        out.append("".join(parts))
    return "".join(out)


def seed_accuracy(mapper: str, files: list[Path]) -> dict:
    from pipeline.export import to_result
    from pipeline.run import Settings, extract
    ok = n = extra = 0
    per = {}
    for txt, exp in files:
        r = to_result(extract(txt, Settings(mapper=mapper)))
        cells, e = r.get("cells", {}), exp["cells"]
        good = sum(1 for k, v in e.items() if k in cells and cells[k].get("value") == v)
        ok, n, extra = ok + good, n + len(e), extra + len(set(cells) - set(e))
        per[Path(txt).name] = f"{good}/{len(e)}"
    return {"accuracy": round(ok / max(n, 1), 4), "correct": ok, "n": n, "spurious_keys": extra, "per_file": per}


def _pairs(seeds: Path) -> list[tuple[Path, dict]]:
    out = []
    for t in sorted(Path(seeds).glob("*.txt")):
        e = t.with_name(t.name[:-4] + ".expected.json")
        if e.exists():
            out.append((t, json.loads(e.read_text(encoding="utf-8"))))
    return out


def seed_report(seeds: Path = SEEDS, noisy: int = 3, seed: int = 99) -> dict | None:
    """(b): both mappers on the seed reports as printed and with `noisy` OCR-noise draws."""
    pairs = _pairs(seeds)
    if not pairs:
        return None
    report = {"seeds_clean": {m: seed_accuracy(m, pairs) for m in ("fuzzy", "classifier")}}
    if noisy:
        rng = random.Random(seed)
        with tempfile.TemporaryDirectory() as d:
            files = []
            for k in range(noisy):
                for t, exp in pairs:
                    q = Path(d) / f"{t.stem}.n{k}.txt"
                    q.write_text(garble_report(t.read_text(encoding="utf-8"), rng), encoding="utf-8")
                    files.append((q, exp))
            report["seeds_ocr_noise"] = {m: seed_accuracy(m, files) for m in ("fuzzy", "classifier")}
    return report


def template_detection(roots=(kd.ROOT / "datasets" / "samples", kd.ROOT / "datasets" / "generated" / "val"),
                       limit: int = 60) -> dict | None:
    """KeyClassifier.detect_template per table on synthetic truth grids (printed cell texts)
    against the template each table was printed in. The appeals table is the same in both
    templates and is left out."""
    from pipeline.keymodel import load_default
    m = load_default()
    files = [f for r in roots if Path(r).exists() for f in sorted(Path(r).rglob("*.truth.json"))][:limit]
    if m is None or not files:
        return None
    ok = n = 0
    for f in files:
        d = json.loads(f.read_text(encoding="utf-8"))
        for table, recs in (d.get("grid") or {}).items():
            want = (d.get("tables") or {}).get(table)
            if table == "appeals" or want not in ("2019", "2021"):
                continue
            p = m.detect_template([r.get("text", "") for r in recs if r.get("role") != "value"])
            ok += max(p, key=p.get) == want
            n += 1
    return {"accuracy": round(ok / max(n, 1), 4), "tables": n, "files": len(files)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=Path, default=SEEDS)
    p.add_argument("--noisy", type=int, default=3, help="OCR-noise draws per seed report")
    p.add_argument("--seed", type=int, default=99)
    a = p.parse_args(argv)
    from pipeline.classify import FuzzyMapper
    from pipeline.keymodel import load_default
    from .train_keys import evaluate
    model = load_default()
    if model is None:
        print("no trained model in models/keys; run `make train`", file=sys.stderr)
        return 1
    report = {}
    ev = kd.load_eval()
    report["heldout_labels"] = {"fuzzy": evaluate(FuzzyMapper(), ev), "classifier": evaluate(model, ev)}
    report.update(seed_report(a.seeds, a.noisy, a.seed) or {})
    det = template_detection()
    for part, res in report.items():
        for m, r in res.items():
            print(f"{part:20s} {m:10s} key accuracy {r['accuracy']:.4f}"
                  + (f"  ({r['correct']}/{r['n']}, spurious keys {r['spurious_keys']})" if "correct" in r else
                     f"  (n={r['n']}, rows {r['rows']}, columns {r['columns']}, none {r['none']}, noisy {r['noisy']}, "
                       f"held-out wordings {r['heldout_wordings']})"))
    if det:
        print(f"template detection (per table, synthetic truth grids): {det}")
    print(json.dumps({**report, "template_detection": det}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
