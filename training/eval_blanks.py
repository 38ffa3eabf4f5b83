"""Blanks printed as nothing (issues #13, #21): per blank style, which cells stay doubtful or
wrong on flattened text, and how many of them the text cannot decide at all.

    python -m training.eval_blanks --corpus datasets/generated/s22b/pdf --work datasets/generated/s22b \
        --joined datasets/generated/w26c/joined/pdf --extractors pdftotext-raw,pypdfium2,pdfplumber,pdftotext

Only the reports that print some blank cells as nothing (truth: `blank_keys`, printed as
"") are read, from texts already cached by training/eval_flattened.py (`<work>/pdf/<extractor>/`)
and training/eval_joined.py (`--joined`/<rendition>/): nothing is flattened here. The blank
style is told from the truth as the generator draws it (configs/synth.yaml `blanks.styles`):
`all_zero_cells` (every zero cell of a table, or of all, blank), `whole_rows` (only rows
of zeros, whole), `some_zero_cells` (zero cells at random). Each requests/appeals cell is
put in one class by what the document printed in its row (the appeals table is one row
of 15 cells):

- `value`: a non-zero value (its place is for the equations to decide);
- `full_row`: a 0 or a marked blank in a row that printed every cell;
- `blank_row`: a cell of a row that printed nothing at all;
- `vanished_no_zero`: a 0-or-blank cell in a row short of values that printed no 0: every
  such cell is blank, the equations place the values;
- `zero_mixed`: a 0-or-blank cell in a row short of values that also printed a 0: any
  arrangement of the row's 0s among its zero-or-blank cells balances alike, so on text
  without positions which of them is 0 is not in the text at all (unknowable).

Per style, extractor and class: cells, right, doubtful (below the review threshold),
wrong, wrong accepted. `unknowable` = the doubtful or wrong cells of class `zero_mixed`.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from pipeline.export import to_result
from pipeline.run import Settings, extract
from pipeline.score import settings as score_settings
from pipeline.values import same_number

MEASURED = ("requests/", "appeals/")


def blank_style(truth: dict) -> str | None:
    """The generator's blank style of a report printing blanks as nothing, else None."""
    bk = set(truth.get("blank_keys") or ())
    cells = truth["cells"]
    if not bk or any((cells[k].get("text") or "") != "" for k in bk if k in cells):
        return None
    zero = {k for k, c in cells.items() if c.get("value") in (0, None)}
    for tb in ("requests", "appeals", "active"):
        z = {k for k in zero if k.startswith(tb + "/")}
        if z and bk == z:
            return "all_zero_cells"
    if zero == bk:
        return "all_zero_cells"
    rows: dict[str, set] = defaultdict(set)
    for k in cells:
        rows[k.rsplit("/", 1)[0]].add(k)
    if all(rows[k.rsplit("/", 1)[0]] <= bk for k in bk):
        return "whole_rows"
    return "some_zero_cells"


def printed_row(key: str) -> str:
    return "appeals" if key.startswith("appeals/") else key.rsplit("/", 1)[0]


def cell_class(truth: dict) -> dict[str, str]:
    """key -> class (module docstring) of every requests/appeals cell."""
    cells = truth["cells"]
    rows: dict[str, list[str]] = defaultdict(list)
    for k in cells:
        if k.startswith(MEASURED):
            rows[printed_row(k)].append(k)
    out = {}
    for ks in rows.values():
        texts = [(cells[k].get("text") or "") for k in ks]
        vanished = sum(t == "" for t in texts)
        zeros = sum(cells[k].get("value") == 0 for k in ks)
        for k in ks:
            v = cells[k].get("value")
            if v not in (0, None):
                out[k] = "value"
            elif vanished == 0:
                out[k] = "full_row"
            elif vanished == len(ks):
                out[k] = "blank_row"
            elif zeros == 0:
                out[k] = "vanished_no_zero"
            else:
                out[k] = "zero_mixed"
    return out


def study(pdfs: list[Path], sources: dict[str, Path]) -> dict:
    thr = float(score_settings()["review_threshold"])
    out: dict = {}
    for pdf in pdfs:
        doc_id = pdf.name.split(".")[0]
        truth = json.loads((pdf.parent / f"{doc_id}.truth.json").read_text(encoding="utf-8"))
        style = blank_style(truth)
        if style is None:
            continue
        cls = cell_class(truth)
        for name, folder in sources.items():
            txt = folder / f"{doc_id}.txt"
            if not txt.exists():
                continue
            res = to_result(extract(txt, Settings()))
            agg = out.setdefault(style, {}).setdefault(name, {}).setdefault("_docs", Counter())
            agg["documents"] += 1
            agg["ok"] += res["status"] == "ok"
            for k, c in cls.items():
                t = truth["cells"][k].get("value")
                got = res["cells"].get(k)
                row = out[style][name].setdefault(c, Counter())
                row["cells"] += 1
                if got is None:
                    row["missing"] += 1
                    continue
                right = same_number(got.get("value"), t) or (got.get("value") is None and t is None)
                sure = float(got.get("confidence") or 0) >= thr
                row["right"] += right
                row["doubtful"] += not sure
                row["wrong"] += not right
                row["wrong_accepted"] += (not right) and sure
                row["right_doubtful"] += right and not sure
    return out


def table(res: dict) -> str:
    lines = ["| style | text | class | cells | right | doubtful (right) | wrong | wrong accepted |",
             "|---|---|---|---|---|---|---|---|"]
    for style, by in sorted(res.items()):
        for name, cls in by.items():
            d = cls["_docs"]
            for c in ("value", "full_row", "blank_row", "vanished_no_zero", "zero_mixed"):
                r = cls.get(c)
                if not r:
                    continue
                lines.append(f"| {style} ({d['documents']} docs, {d['ok']} ok) | {name} | {c} | {r['cells']} | "
                             f"{r['right']} | {r['doubtful']} ({r['right_doubtful']}) | {r['wrong']} | "
                             f"{r['wrong_accepted']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="folder of *.digital.pdf with *.truth.json")
    ap.add_argument("--work", type=Path, help="eval_flattened's --work (texts under <work>/pdf/<extractor>/)")
    ap.add_argument("--extractors", default="pdftotext-raw,pypdfium2,pdfplumber,pdftotext")
    ap.add_argument("--joined", type=Path, help="eval_joined's texts (<joined>/<rendition>/)")
    ap.add_argument("--renditions", default="joined-rows,one-line,joined-raw")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    sources: dict[str, Path] = {}
    if a.work:
        for ex in filter(None, a.extractors.split(",")):
            sources[ex] = a.work / "pdf" / ex
    if a.joined:
        for r in filter(None, a.renditions.split(",")):
            sources[r] = a.joined / r
    res = study(sorted(a.corpus.glob("*.digital.pdf")), sources)
    print(table(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=dict), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
