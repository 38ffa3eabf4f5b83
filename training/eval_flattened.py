"""gouji on text flattened by real extractors, beside the number-stream peer (issue #13).

    python -m training.eval_flattened --build 12                  # 12 test-split reports, digital only
    python -m training.eval_flattened --corpus datasets/samples   # the four bundled samples
    python -m training.eval_flattened --corpus datasets/generated/test --extractors pdftotext-raw

Each digital PDF is flattened by real tools (poppler's pdftotext in its default, -layout and
-raw modes, pdfminer.six extract_text, pypdfium2's text page, pdfplumber extract_text plain
and layout=True) and rendered as Markdown (pdfplumber's tables as pipe tables); gouji's text path reads the
.txt and the number stream (training/peers/number_stream.py) parses the same text. The
hand-written garbles of training/synth/flatten.py measured the generator, not the
product: these are what users get. Per extractor: cells right (requests + appeals, the
tables the issue measures, and all tables), documents with every cell right, and
documents gouji called `ok` while a cell was wrong (confident wrong cells: must be 0).
Texts are cached under <work>/<extractor>/ (datasets/generated/flattened by default).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from pipeline.export import to_result
from pipeline.run import Settings, extract
from training.peers import number_stream

EXTRACTORS = ("pdftotext", "pdftotext-layout", "pdftotext-raw", "pdfminer", "pypdfium2",
              "pdfplumber", "pdfplumber-layout", "markdown")
MODULES = {"pdfminer": "pdfminer.high_level", "pypdfium2": "pypdfium2", "pdfplumber": "pdfplumber",
           "pdfplumber-layout": "pdfplumber", "markdown": "pdfplumber"}
MEASURED = ("requests/", "appeals/")


def flatten_pdf(pdf: Path, extractor: str) -> str:
    """The text one real tool writes for a PDF (pages separated by form feeds)."""
    if extractor.startswith("pdftotext"):
        mode = extractor.split("-", 1)[1:]  # [] | ["layout"] | ["raw"]
        cmd = ["pdftotext", "-enc", "UTF-8", *(f"-{m}" for m in mode), str(pdf), "-"]
        return subprocess.run(cmd, check=True, capture_output=True).stdout.decode("utf-8")
    if extractor == "pdfminer":
        from pdfminer.high_level import extract_text
        return extract_text(str(pdf))
    if extractor == "pypdfium2":
        import pypdfium2 as pdfium
        doc = pdfium.PdfDocument(str(pdf))
        try:
            return "\f".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        finally:
            doc.close()
    if extractor in ("pdfplumber", "pdfplumber-layout"):
        import pdfplumber
        with pdfplumber.open(str(pdf)) as doc:
            return "\f".join(p.extract_text(layout=extractor.endswith("layout")) or "" for p in doc.pages)
    if extractor == "markdown":
        return markdown(pdf)
    raise ValueError(f"unknown extractor {extractor}")


def markdown(pdf: Path) -> str:
    """A Markdown rendition of a PDF: each page's text outside its tables as paragraphs,
    each table pdfplumber finds by its ruling lines as a pipe table where it stands (a
    merged cell: its text in its first cell, the cells it covers empty, as PDF-to-Markdown
    converters write them). The seeds' Markdown documents, with real tables."""
    import pdfplumber

    def cell(t) -> str:
        return " ".join((t or "").split()).replace("|", "\\|")

    pages = []
    with pdfplumber.open(str(pdf)) as doc:
        for page in doc.pages:
            parts, top = [], page.bbox[1]
            for t in sorted(page.find_tables(), key=lambda t: t.bbox[1]):
                if t.bbox[1] > top:
                    parts.append(page.crop((page.bbox[0], top, page.bbox[2], t.bbox[1])).extract_text() or "")
                rows = [r for r in t.extract() if any((c or "").strip() for c in r)]
                if rows:
                    width = max(len(r) for r in rows)
                    lines = ["| " + " | ".join(cell(c) for c in r + [None] * (width - len(r))) + " |" for r in rows]
                    lines.insert(1, "|" + "---|" * width)
                    parts.append("\n".join(lines))
                top = max(top, t.bbox[3])
            if top < page.bbox[3]:
                parts.append(page.crop((page.bbox[0], top, page.bbox[2], page.bbox[3])).extract_text() or "")
            pages.append("\n\n".join(p for p in parts if p.strip()))
    return "\n\n".join(pages) + "\n"


def available(extractor: str) -> bool:
    if extractor.startswith("pdftotext"):
        return shutil.which("pdftotext") is not None
    try:
        __import__(MODULES[extractor])
        return True
    except ImportError:
        return False


def build_corpus(n: int, out: Path, split: str = "test") -> list[Path]:
    """Digital PDFs + truth of the first n reports of a corpus split (same seeds as `make data`)."""
    from training.synth.build import SPLITS, load_config, make_document
    cfg = load_config("configs/synth.yaml")
    si = SPLITS.index(split)
    pdfs = []
    for i in range(n):
        doc_id = f"{split}_{i:05d}"
        pdf = out / f"{doc_id}.digital.pdf"
        if not (pdf.exists() and (out / f"{doc_id}.truth.json").exists()):
            make_document(doc_id, [int(cfg["seed"]), si, i], cfg, out, ["digital"])
        pdfs.append(pdf)
    return pdfs


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-6


def score_cells(truth: dict, cells: dict, threshold: float = 0.995) -> Counter:
    """right / wrong / missing over truth cells, all and measured tables (prefix m_), and
    wrong cells at or above the review threshold (confident_wrong)."""
    c = Counter()
    for key, t in truth["cells"].items():
        got = cells.get(key)
        verdict = "missing" if got is None else "right" if _same(got["value"], t["value"]) else "wrong"
        c[verdict] += 1
        if verdict == "wrong" and float(got.get("confidence", 1.0)) >= threshold:
            c["confident_wrong"] += 1
        if key.startswith(MEASURED):
            c["m_" + verdict] += 1
    return c


def evaluate(pdfs: list[Path], extractors: list[str], work: Path, settings: Settings,
             verbose: bool = False) -> dict:
    out = {}
    for ex in extractors:
        if not available(ex):
            out[ex] = {"skipped": "extractor not installed"}
            continue
        (work / ex).mkdir(parents=True, exist_ok=True)
        agg = {"gouji": Counter(), "number_stream": Counter()}
        t0 = time.perf_counter()
        for pdf in pdfs:
            doc_id = pdf.name.split(".")[0]
            truth = json.loads((pdf.parent / f"{doc_id}.truth.json").read_text(encoding="utf-8"))
            txt = work / ex / f"{doc_id}{'.md' if ex == 'markdown' else '.txt'}"
            if not txt.exists() or txt.stat().st_mtime < pdf.stat().st_mtime:
                txt.write_text(flatten_pdf(pdf, ex), encoding="utf-8")
            res = to_result(extract(txt, settings))
            peer = number_stream.parse(txt.read_text(encoding="utf-8"))
            for name, cells, status in (("gouji", res["cells"], res["status"]),
                                        ("number_stream", peer["cells"], None)):
                c = score_cells(truth, cells)
                a = agg[name]
                a.update(c)
                a["documents"] += 1
                a["all_right"] += c["wrong"] == c["missing"] == 0
                a["m_all_right"] += c["m_wrong"] == c["m_missing"] == 0
                if status is not None:
                    a["ok"] += status == "ok"
                    a["ok_with_wrong"] += status == "ok" and c["wrong"] > 0
                if verbose and name == "gouji" and (c["wrong"] or c["missing"]):
                    print(f"  {ex} {doc_id}: {status} right {c['right']} wrong {c['wrong']} "
                          f"missing {c['missing']}", file=sys.stderr)
        out[ex] = {name: _summary(a) for name, a in agg.items()}
        out[ex]["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _summary(a: Counter) -> dict:
    def acc(p):
        n = a[p + "right"] + a[p + "wrong"] + a[p + "missing"]
        return round(a[p + "right"] / max(1, n), 4)
    s = {"documents": a["documents"], "requests_appeals_cells_right": acc("m_"),
         "all_cells_right": acc(""), "documents_all_right": a["all_right"],
         "documents_requests_appeals_right": a["m_all_right"],
         "wrong": a["wrong"], "missing": a["missing"]}
    if "ok" in a:
        s["ok"] = a["ok"]
        s["ok_with_wrong_cell"] = a["ok_with_wrong"]
        s["confident_wrong_cells"] = a["confident_wrong"]
    return s


def table(res: dict) -> str:
    """Markdown: one line per extractor, gouji beside the number stream."""
    lines = ["| extractor | gouji req+app cells | gouji all cells | docs all right | ok | ok with a wrong cell "
             "| confident wrong cells | number stream req+app | number stream all | number stream docs all right |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for ex, r in res.items():
        if "skipped" in r:
            lines.append(f"| {ex} | {r['skipped']} | | | | | | | | |")
            continue
        g, p = r["gouji"], r["number_stream"]
        lines.append(f"| {ex} | {g['requests_appeals_cells_right']:.1%} | {g['all_cells_right']:.1%} | "
                     f"{g['documents_all_right']}/{g['documents']} | {g['ok']} | {g['ok_with_wrong_cell']} | "
                     f"{g['confident_wrong_cells']} | {p['requests_appeals_cells_right']:.1%} | {p['all_cells_right']:.1%} | "
                     f"{p['documents_all_right']}/{p['documents']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--corpus", type=Path, help="folder of *.digital.pdf with *.truth.json")
    src.add_argument("--build", type=int, metavar="N", help="generate the first N reports of --split")
    ap.add_argument("--split", default="test")
    ap.add_argument("--work", type=Path, default=Path("datasets/generated/flattened"))
    ap.add_argument("--extractors", default=",".join(EXTRACTORS))
    ap.add_argument("--mapper", default="auto", choices=["auto", "fuzzy", "classifier"])
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("-v", "--verbose", action="store_true", help="per-document lines for imperfect results")
    a = ap.parse_args(argv)
    if a.build:
        pdfs = build_corpus(a.build, a.work / "pdf", a.split)
    else:
        pdfs = sorted((a.corpus or Path("datasets/samples")).glob("*.digital.pdf"))
    work = a.work / (a.corpus.name if a.corpus else "pdf" if a.build else "samples")
    res = evaluate(pdfs, [e for e in a.extractors.split(",") if e], work, Settings(mapper=a.mapper), a.verbose)
    print(json.dumps(res, ensure_ascii=False, indent=1))
    print(table(res))
    if a.json:
        a.json.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
