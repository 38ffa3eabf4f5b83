"""gouji on text whose table rows lost their cell separators (issue #21).

    python -m training.eval_joined --build 40            # first 40 test-split reports
    python -m training.eval_joined --corpus datasets/samples
    python -m training.eval_joined --build 40 --renditions one-line -v
    python -m training.eval_joined --build 80 --start 40 --pdfs datasets/generated/issue21/pdf   # reports 40–79
    python -m training.eval_joined --html datasets/generated/issue21/office     # saved web pages, cells run together

Each digital PDF is flattened by a real tool (poppler's `pdftotext -layout`, or `-raw`
for the held-out rendition), then rendered as a crawler keeps it
(training/synth/joined.py): `joined-rows` (every row's cells run together), `one-line`
(the whole report on one line), and, held out (never tuned on), `joined-raw` (`-raw`'s
single-spaced values run together). The truth is the PDF's. With --html, the corpus's
saved web pages (training/synth/render_html.py: <table>s or div grids) with each table
row's values run together in one cell (`html-values`) or the whole row in one cell
(`html-row`). Per rendition: cells right (requests + appeals, all), the same counting
the cells wrong only as 0 ↔ blank right (the ceiling of text that keeps no trace of
where a blank printed as nothing sat), the share of cells auto-accepted (confidence at
or above the review threshold) and their precision, wrong cells auto-accepted, cells
whose split was ambiguous (more than one alternative) yet auto-accepted, cells whose
only doubt is 0-or-blank (and how many of them were accepted), documents `ok`, `ok`
with a wrong cell. Documents that print some blank cells as nothing (an empty cell
leaves no trace once the separators are gone, so where it was is often a guess) are
reported apart as well as in the totals; blanks printed as a mark (—, /) are no problem.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from pipeline.export import to_result
from pipeline.run import Settings, extract
from pipeline.score import settings as score_settings
from training.eval_flattened import build_range, flatten_pdf, score_cells  # build_range: stamped cache
from training.synth.joined import RENDITIONS, SOURCES, join_html

# web pages whose table rows lost their inner cell boundaries (training/synth/joined.join_html)
HTML_RENDITIONS = {"html-values": "values", "html-row": "row"}


def accepted(truth: dict, cells: dict, threshold: float) -> Counter:
    """Auto-accepted cells (confidence ≥ threshold): how many, how many right, and how
    many of them carried more than one alternative (an ambiguous split). Also the cells
    whose only doubt is 0 against blank (alternatives exactly a 0 and a blank: where a
    blank printed as nothing sat is not in the text) and how many of those were accepted
    (never, by design: docs/joined-cells.md)."""
    c = Counter()
    for key, t in truth["cells"].items():
        got = cells.get(key)
        if got is None:
            continue
        alts = {a[0] for a in got.get("alternatives") or []}
        sure = float(got.get("confidence") or 0.0) >= threshold
        if alts == {0, None}:
            c["zero_blank_undecided"] += 1
            c["zero_blank_undecided_accepted"] += sure
        if not sure:
            continue
        c["accepted"] += 1
        ok = score_cells({"cells": {key: t}}, {key: got})["right"] == 1
        c["accepted_right"] += ok
        c["accepted_ambiguous"] += len(got.get("alternatives") or []) > 1
        if key.startswith(("requests/", "appeals/")):
            c["m_accepted"] += 1
            c["m_accepted_right"] += ok
    return c


def render(pdf: Path, rendition: str, work: Path) -> Path | None:
    """The rendition's text of one PDF (cached under work/<rendition>/); for the web-page
    renditions `pdf` is the corpus's saved page (.html), None when it has no row (of a
    <table> or a div grid) to join."""
    doc_id = pdf.name.split(".")[0]
    if rendition in HTML_RENDITIONS:
        from pipeline.webpage import decode_page
        text, _ = decode_page(pdf.read_bytes())
        page = join_html(text or "", HTML_RENDITIONS[rendition])
        if page is None:
            return None
        out = work / rendition / f"{doc_id}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
        return out
    src = work / SOURCES[rendition] / f"{doc_id}.txt"
    if not src.exists() or src.stat().st_mtime < pdf.stat().st_mtime:
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(flatten_pdf(pdf, SOURCES[rendition]), encoding="utf-8")
    out = work / rendition / f"{doc_id}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(RENDITIONS[rendition](src.read_text(encoding="utf-8")), encoding="utf-8")
    return out


def evaluate(pdfs: list[Path], renditions: list[str], work: Path, settings: Settings,
             verbose: bool = False) -> dict:
    threshold = float(score_settings()["review_threshold"])
    out = {}
    for rend in renditions:
        agg = {"all": Counter(), "empty_blanks": Counter(), "no_empty_blanks": Counter()}
        t0 = time.perf_counter()
        for pdf in pdfs:
            doc_id = pdf.name.split(".")[0]
            truth = json.loads((pdf.parent / f"{doc_id}.truth.json").read_text(encoding="utf-8"))
            src = render(pdf, rend, work)
            if src is None:
                agg["all"]["skipped"] += 1
                continue
            res = to_result(extract(src, settings))
            c = score_cells(truth, res["cells"], threshold)
            c.update(accepted(truth, res["cells"], threshold))
            c["documents"] += 1
            c["all_right"] += c["wrong"] == c["missing"] == 0
            c["m_all_right"] += c["m_wrong"] == c["m_missing"] == 0
            c["ok"] += res["status"] == "ok"
            c["ok_with_wrong"] += res["status"] == "ok" and c["wrong"] > 0
            blanks = any(t["value"] is None and not (t.get("text") or "").strip() for t in truth["cells"].values())
            for name in ("all", "empty_blanks" if blanks else "no_empty_blanks"):
                agg[name].update(c)
            if verbose and (c["wrong"] or c["missing"]):
                print(f"  {rend} {doc_id}: {res['status']} right {c['right']} wrong {c['wrong']} "
                      f"missing {c['missing']} accepted wrong {c['accepted'] - c['accepted_right']}"
                      f"{' (prints empty blanks)' if blanks else ''}", file=sys.stderr)
        out[rend] = {name: summary(a) for name, a in agg.items()}
        out[rend]["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def summary(a: Counter) -> dict:
    def acc(p, extra=0):
        n = a[p + "right"] + a[p + "wrong"] + a[p + "missing"]
        return round((a[p + "right"] + extra) / max(1, n), 4)
    n_cells = a["right"] + a["wrong"] + a["missing"]
    return {"documents": a["documents"], "skipped": a["skipped"], "requests_appeals_cells_right": acc("m_"),
            # the ceiling of text that keeps no trace of where a blank printed as nothing sat:
            # cells wrong only as 0 ↔ blank counted right (eval_flattened.score_cells' m_zero_blank)
            "requests_appeals_cells_right_zero_blank_as_right": acc("m_", a["m_zero_blank"]),
            "all_cells_right": acc(""),
            "requests_appeals_wrong_only_zero_vs_blank": a["m_zero_blank"], "wrong": a["wrong"], "missing": a["missing"],
            "zero_blank_undecided": a["zero_blank_undecided"],
            "zero_blank_undecided_accepted": a["zero_blank_undecided_accepted"],
            "auto_accepted_share": round(a["accepted"] / max(1, n_cells), 4),
            "auto_accepted_precision": round(a["accepted_right"] / max(1, a["accepted"]), 5),
            "requests_appeals_auto_accepted_precision": round(a["m_accepted_right"] / max(1, a["m_accepted"]), 5),
            "auto_accepted_wrong": a["accepted"] - a["accepted_right"],
            "auto_accepted_ambiguous": a["accepted_ambiguous"],
            "documents_all_right": a["all_right"], "documents_requests_appeals_right": a["m_all_right"],
            "ok": a["ok"], "ok_with_wrong_cell": a["ok_with_wrong"]}


def table(res: dict) -> str:
    """Markdown, a line per rendition and per group (reports that print some blank as
    nothing apart). `0↔blank counted right`: the requests + appeals figure with the cells
    wrong only as 0 read for a blank (or the reverse) counted right — the ceiling of text
    that keeps no trace of where such a blank sat; `0-or-blank undecided`: cells whose
    only doubt is that (kept below the review threshold), and how many were accepted."""
    lines = ["| rendition | documents | req+app cells right | req+app, 0↔blank counted right | "
             "req+app wrong only as 0↔blank | all cells right | auto-accepted (share) | "
             "precision of accepted | wrong accepted | ambiguous accepted | 0-or-blank undecided (accepted) | "
             "docs all right | ok | ok with a wrong cell |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rend, r in res.items():
        for name, what in (("all", ""), ("no_empty_blanks", ", no blank printed as nothing"),
                           ("empty_blanks", ", blanks printed as nothing")):
            g = r.get(name) or {}
            if not g.get("documents"):
                continue
            label = rend + what
            lines.append(f"| {label} | {g['documents']} | {g['requests_appeals_cells_right']:.2%} | "
                         f"{g['requests_appeals_cells_right_zero_blank_as_right']:.2%} | "
                         f"{g['requests_appeals_wrong_only_zero_vs_blank']} | "
                         f"{g['all_cells_right']:.2%} | {g['auto_accepted_share']:.1%} | "
                         f"{g['auto_accepted_precision']:.3%} | {g['auto_accepted_wrong']} | "
                         f"{g['auto_accepted_ambiguous']} | {g['zero_blank_undecided']} "
                         f"({g['zero_blank_undecided_accepted']}) | {g['documents_all_right']} | {g['ok']} | "
                         f"{g['ok_with_wrong_cell']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--corpus", type=Path, help="folder of *.digital.pdf with *.truth.json")
    src.add_argument("--build", type=int, metavar="N", help="generate the first N reports of --split")
    src.add_argument("--html", type=Path, metavar="DIR",
                     help="the corpus's saved web pages (*.html with *.truth.json, e.g. what training.eval_office "
                          "writes): renditions html-values and html-row")
    ap.add_argument("--start", type=int, default=0, metavar="K",
                    help="with --build: only reports K … N-1 (reports never looked at while tuning)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--pdfs", type=Path, default=Path("datasets/generated/flattened/pdf"),
                    help="where --build keeps the PDFs (shared with training/eval_flattened.py)")
    ap.add_argument("--work", type=Path, default=Path("datasets/generated/issue21/joined"))
    ap.add_argument("--renditions", default=",".join(RENDITIONS),
                    help="joined-rows and one-line (from pdftotext -layout); joined-raw (from -raw, held out)")
    ap.add_argument("--mapper", default="auto", choices=["auto", "fuzzy", "classifier"])
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("-v", "--verbose", action="store_true", help="per-document lines for imperfect results")
    a = ap.parse_args(argv)
    if a.html:
        pdfs = sorted(a.html.glob("*.html"))
        if a.renditions == ",".join(RENDITIONS):
            a.renditions = ",".join(HTML_RENDITIONS)
    elif a.build:
        pdfs = build_range(a.start, a.build, a.pdfs, a.split)
    else:
        pdfs = sorted((a.corpus or Path("datasets/samples")).glob("*.digital.pdf"))
    work = a.work / (a.corpus.name if a.corpus else a.split if a.build else a.html.name if a.html else "samples")
    res = evaluate(pdfs, [r for r in a.renditions.split(",") if r], work, Settings(mapper=a.mapper), a.verbose)
    print(json.dumps(res, ensure_ascii=False, indent=1))
    print(table(res))
    if a.json:
        a.json.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
