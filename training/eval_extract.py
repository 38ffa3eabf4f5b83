"""Cell accuracy of the whole pipeline against corpus truth, one rendering at a time.

    python -m training.eval_extract datasets/generated/test --pattern '*.text.txt'
    python -m training.eval_extract datasets/generated/test --pattern '*.digital.pdf' --mapper fuzzy

A truth cell is right when the result has its key with the same value (null = printed
blank); missing cells are counted apart (the pipeline lists them with a reason).
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from pipeline.export import to_result
from pipeline.run import Settings, extract
from pipeline.values import same_number as same


def evaluate(folder: Path, pattern: str, settings: Settings) -> dict:
    tot, reasons, docs_right, n = Counter(), Counter(), 0, 0
    for f in sorted(Path(folder).glob(pattern)):
        truth = json.loads((f.parent / f"{f.name.split('.')[0]}.truth.json").read_text(encoding="utf-8"))
        res = to_result(extract(f, settings))
        c = Counter()
        for key, cell in truth["cells"].items():
            got = res["cells"].get(key)
            c["missing" if got is None else "right" if same(got["value"], cell["value"]) else "wrong"] += 1
        c["extra"] = sum(1 for k in res["cells"] if k not in truth["cells"])
        reasons.update(m["reason"][:60] for m in res["missing"] if m["key"] in truth["cells"])
        tot.update(c)
        n += 1
        docs_right += c["wrong"] == c["missing"] == c["extra"] == 0
    cells = tot["right"] + tot["wrong"] + tot["missing"]
    return {"documents": n, **tot, "cell_accuracy": round(tot["right"] / max(1, cells), 4),
            "documents_all_right": docs_right, "missing_reasons": reasons.most_common(8)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--pattern", default="*.text.txt")
    ap.add_argument("--mapper", default="auto", choices=["auto", "fuzzy", "classifier"])
    ap.add_argument("--no-solver", action="store_true")
    a = ap.parse_args(argv)
    print(json.dumps(evaluate(a.folder, a.pattern, Settings(mapper=a.mapper, solver=not a.no_solver)),
                     ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
