"""gouji on text flattened by real extractors, beside the number-stream peer (issue #13).

    python -m training.eval_flattened --build 12                  # 12 test-split reports, digital only
    python -m training.eval_flattened --build 12 --geometry split_table --work DIR   # forced through a style
    python -m training.eval_flattened --corpus datasets/samples   # the four bundled samples
    python -m training.eval_flattened --corpus datasets/generated/test --extractors pdftotext-raw

Each digital PDF is flattened by real tools (poppler's pdftotext in its default, -layout and
-raw modes, pdfminer.six extract_text, pypdfium2's text page, pdfplumber extract_text plain
and layout=True) and rendered as Markdown (pdfplumber's tables as pipe tables); the saved
web page is copied as headless Chromium's innerText (chromium-innertext). The tools live in
training/synth/text_tools.py (make data writes the same renditions). gouji's text path reads the
.txt and the number stream (training/peers/number_stream.py) parses the same text. The
hand-written garbles of training/synth/flatten.py measured the generator, not the
product: these are what users get. Per extractor: cells right (requests + appeals, the
tables the issue measures, and all tables), documents with every cell right, and
documents gouji called `ok` while a cell was wrong (confident wrong cells: must be 0).
Texts are cached under <work>/<extractor>/ (datasets/generated/flattened by default); --build
reuses a generated report only when its truth carries today's generator fingerprint
(training/generator_stamp.py). gouji_by_geometry: the same figures per table geometry style
(truth `geometry`), held-out styles apart.
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
from training.peers import number_stream
from pipeline.values import same_number as _same
from training.synth.text_tools import (EXTRACTORS, available, flatten, flatten_pdf,  # noqa: F401
                                         markdown, missing, source_kind, suffix)

MEASURED = ("requests/", "appeals/")


def build_corpus(n: int, out: Path, split: str = "test", html: bool = False,
                 geometry: list[str] | None = None) -> list[Path]:
    """Digital PDFs (and, with html, the saved web pages) + truth of the first n reports of a
    corpus split (same seeds as `make data`)."""
    return build_range(0, n, out, split, html, geometry)


def build_range(start: int, n: int, out: Path, split: str = "test", html: bool = False,
                geometry: list[str] | None = None) -> list[Path]:
    """Reports start … n-1 of a split. A cached report is reused only when its truth carries
    today's generator fingerprint (training/generator_stamp.py); otherwise it is made again, so
    figures never measure PDFs an older generator wrote. `geometry`: every report forced
    through exactly these table geometry styles ([] = the default geometry)."""
    from training.generator_stamp import current, fingerprint, stamp
    from training.synth.build import SPLITS, load_config, make_document
    cfg = load_config("configs/synth.yaml")
    si, fp = SPLITS.index(split), fingerprint()
    pdfs = []
    for i in range(start, n):
        doc_id = f"{split}_{i:05d}"
        pdf, truth = out / f"{doc_id}.digital.pdf", out / f"{doc_id}.truth.json"
        have = pdf.exists() and current(truth, fp)
        if html and have:
            have = _html(pdf) is not None
        if have and geometry is not None:
            have = json.loads(truth.read_text(encoding="utf-8")).get("geometry") == list(geometry)
        if not have:
            make_document(doc_id, [int(cfg["seed"]), si, i], cfg, out, ["digital", "html"] if html else ["digital"],
                          force=None if geometry is None else {"geometry": list(geometry)})
            stamp(truth, fp)
        pdfs.append(pdf)
    return pdfs


def _html(pdf: Path) -> Path | None:
    """The saved web page beside a report's digital PDF (.html or .mhtml), if the corpus made one."""
    doc_id = pdf.name.split(".")[0]
    for ext in (".html", ".mhtml"):
        if (pdf.parent / f"{doc_id}{ext}").exists():
            return pdf.parent / f"{doc_id}{ext}"
    return None


def score_cells(truth: dict, cells: dict, threshold: float = 0.995) -> Counter:
    """right / wrong / missing over truth cells, all and measured tables (prefix m_), wrong
    cells at or above the review threshold (confident_wrong), and measured cells wrong only
    as a 0 read blank or a blank read 0 (m_zero_blank: text that prints blanks as nothing
    and drops the empty cells holds no trace of which they were; with them, the ceiling)."""
    c = Counter()
    for key, t in truth["cells"].items():
        got = cells.get(key)
        verdict = "missing" if got is None else "right" if _same(got["value"], t["value"]) else "wrong"
        c[verdict] += 1
        if got is not None:     # reliability: the cell's confidence bin, and whether it is right
            conf = float(got.get("confidence", 1.0))
            b = confidence_bin(conf)
            c[f"rel_bin_{b}"] += 1
            c[f"rel_bin_{b}_right"] += verdict == "right"
            c["rel_accepted"] += conf >= threshold
            c["rel_accepted_right"] += conf >= threshold and verdict == "right"
        if verdict == "wrong" and float(got.get("confidence", 1.0)) >= threshold:
            c["confident_wrong"] += 1
        if key.startswith(MEASURED):
            c["m_" + verdict] += 1
            if verdict == "wrong" and {got["value"], t["value"]} <= {0, None}:
                c["m_zero_blank"] += 1
    return c


# confidence bins of the reliability table (lower edges); the review threshold is one of them
BINS = (0.0, 0.5, 0.9, 0.99, 0.995, 0.999, 0.9999)


def confidence_bin(conf: float) -> str:
    """The reliability bin of a cell confidence: `[lo, hi)` (the last one closed)."""
    k = max(i for i, lo in enumerate(BINS) if conf >= lo or i == 0)
    hi = BINS[k + 1] if k + 1 < len(BINS) else 1.0
    return f"[{BINS[k]:g}, {hi:g}{']' if k + 1 == len(BINS) else ')'}"


def evaluate(pdfs: list[Path], extractors: list[str], work: Path, settings: Settings,
             verbose: bool = False) -> dict:
    out = {}
    for ex in extractors:
        if not available(ex):
            out[ex] = {"skipped": missing(ex)}
            continue
        (work / ex).mkdir(parents=True, exist_ok=True)
        agg = {"gouji": Counter(), "number_stream": Counter()}
        geo: dict[str, dict[str, Counter]] = {"gouji": {}, "number_stream": {}}
        t0 = time.perf_counter()
        for pdf in pdfs:
            doc_id = pdf.name.split(".")[0]
            truth = json.loads((pdf.parent / f"{doc_id}.truth.json").read_text(encoding="utf-8"))
            src = pdf if source_kind(ex) == "digital" else _html(pdf)
            if src is None:
                print(f"  {ex} {doc_id}: no saved web page beside the PDF, skipped", file=sys.stderr)
                continue
            txt = work / ex / f"{doc_id}{suffix(ex)}"
            if not txt.exists() or txt.stat().st_mtime < src.stat().st_mtime:
                txt.write_text(flatten(src, ex), encoding="utf-8")
            res = to_result(extract(txt, settings))
            peer = number_stream.parse(txt.read_text(encoding="utf-8"))
            for name, cells, status in (("gouji", res["cells"], res["status"]),
                                        ("number_stream", peer["cells"], None)):
                c = score_cells(truth, cells)
                _add(agg[name], c, status)
                for g in geometry_groups(truth):
                    _add(geo[name].setdefault(g, Counter()), c, status)
                if verbose and name == "gouji" and (c["wrong"] or c["missing"]):
                    print(f"  {ex} {doc_id} {'+'.join(truth.get('geometry') or ()) or 'default'}: {status} "
                          f"right {c['right']} wrong {c['wrong']} missing {c['missing']}", file=sys.stderr)
        if not agg["gouji"]["documents"]:
            out[ex] = {"skipped": f"no {source_kind(ex)} rendition beside the PDFs"}
            continue
        out[ex] = {name: _summary(a) for name, a in agg.items()}
        for name, by in geo.items():
            out[ex][f"{name}_by_geometry"] = {g: _summary(by[g]) for g in sorted(by, key=_geometry_order)}
        out[ex]["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def geometry_groups(truth: dict) -> list[str]:
    """The groups a document counts in for the per-geometry breakdown: each table geometry
    style it drew (`default` when none), and `held out` / `not held out` (a document with any
    held-out style, configs/synth.yaml held_out_geometry, is held out). A truth from before the
    geometry styles has no `geometry`: `unknown`."""
    if "geometry" not in truth:
        return ["unknown"]
    held = set(truth.get("held_out_geometry") or ())
    styles = [g + (" (held out)" if g in held else "") for g in truth["geometry"]] or ["default"]
    return styles + ["held out" if held else "not held out"]


def _geometry_order(g: str) -> tuple:
    return ("held out" in g and g != "not held out", g in ("held out", "not held out"), g != "default", g)


def _add(a: Counter, c: Counter, status: str | None) -> None:
    a.update(c)
    a["documents"] += 1
    a["all_right"] += c["wrong"] == c["missing"] == 0
    a["m_all_right"] += c["m_wrong"] == c["m_missing"] == 0
    if status is not None:
        a["ok"] += status == "ok"
        a["ok_with_wrong"] += status == "ok" and c["wrong"] > 0


def _summary(a: Counter) -> dict:
    def acc(p):
        n = a[p + "right"] + a[p + "wrong"] + a[p + "missing"]
        return round(a[p + "right"] / max(1, n), 4)
    s = {"documents": a["documents"], "requests_appeals_cells_right": acc("m_"),
         "all_cells_right": acc(""), "documents_all_right": a["all_right"],
         "documents_requests_appeals_right": a["m_all_right"],
         "wrong": a["wrong"], "missing": a["missing"],
         "requests_appeals_zero_blank_wrong": a["m_zero_blank"],
         # the ceiling of text that prints blanks as nothing: right but for 0 <-> blank
         "requests_appeals_right_but_zero_blank": round((a["m_right"] + a["m_zero_blank"]) / max(
             1, a["m_right"] + a["m_wrong"] + a["m_missing"]), 4)}
    if "ok" in a:   # gouji (the number stream has no confidences)
        # reliability: per confidence bin, cells and the share right; auto-accepted (at or
        # above the review threshold): share of all truth cells, and precision
        s["reliability"] = {b: {"cells": a[f"rel_bin_{b}"], "right": round(a[f"rel_bin_{b}_right"] / a[f"rel_bin_{b}"], 4)}
                            for b in map(confidence_bin, BINS) if a[f"rel_bin_{b}"]}
        s["auto_accepted"] = round(a["rel_accepted"] / max(1, a["right"] + a["wrong"] + a["missing"]), 4)
        s["auto_accepted_precision"] = (round(a["rel_accepted_right"] / a["rel_accepted"], 5)
                                        if a["rel_accepted"] else None)
        s["ok"] = a["ok"]
        s["ok_with_wrong_cell"] = a["ok_with_wrong"]
        s["confident_wrong_cells"] = a["confident_wrong"]
    return s


def table(res: dict) -> str:
    """Markdown: one line per extractor, gouji beside the number stream."""
    lines = ["| extractor | gouji req+app cells | gouji all cells | docs all right | ok | ok with a wrong cell "
             "| confident wrong cells | req+app wrong as 0↔blank | number stream req+app | number stream all "
             "| number stream docs all right |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for ex, r in res.items():
        if "skipped" in r:
            lines.append(f"| {ex} | {r['skipped']} | | | | | | | | | |")
            continue
        g, p = r["gouji"], r["number_stream"]
        lines.append(f"| {ex} | {g['requests_appeals_cells_right']:.1%} | {g['all_cells_right']:.1%} | "
                     f"{g['documents_all_right']}/{g['documents']} | {g['ok']} | {g['ok_with_wrong_cell']} | "
                     f"{g['confident_wrong_cells']} | {g['requests_appeals_zero_blank_wrong']} | {p['requests_appeals_cells_right']:.1%} | {p['all_cells_right']:.1%} | "
                     f"{p['documents_all_right']}/{p['documents']} |")
    return "\n".join(lines)


def geometry_table(res: dict) -> str:
    """Markdown: one line per extractor and table geometry style (held-out styles apart,
    after the others; a document with two styles counts under both): gouji's req+app cells
    right [right but for 0 ↔ blank], its documents with every req+app cell right and `ok`
    with a wrong cell, beside the number stream's cells and documents on the same text."""
    lines = ["| extractor | geometry | docs | gouji req+app cells [but 0↔blank] | gouji docs req+app right "
             "| ok with a wrong cell | number stream req+app cells | number stream docs req+app right |",
             "|---|---|---|---|---|---|---|---|"]
    for ex, r in res.items():
        by, peer = r.get("gouji_by_geometry") or {}, r.get("number_stream_by_geometry") or {}
        for g, s in by.items():
            p = peer.get(g)
            lines.append(f"| {ex} | {g} | {s['documents']} | {s['requests_appeals_cells_right']:.1%} "
                         f"[{s['requests_appeals_right_but_zero_blank']:.1%}] | "
                         f"{s['documents_requests_appeals_right']}/{s['documents']} | "
                         f"{s.get('ok_with_wrong_cell', '')} | "
                         + ("| |" if p is None else f"{p['requests_appeals_cells_right']:.1%} | "
                            f"{p['documents_requests_appeals_right']}/{p['documents']} |"))
    return "\n".join(lines)


def reliability_table(res: dict) -> str:
    """Markdown: gouji's cells per confidence bin and extractor, as `share right (cells)`,
    then the share of all truth cells auto-accepted (at or above the review threshold) and
    their precision; a wrong cell at or above the threshold is a confident wrong cell."""
    bins = [confidence_bin(b) for b in BINS]
    lines = ["| extractor | " + " | ".join(bins) + " | auto-accepted | accepted right | confident wrong |",
             "|---|" + "---|" * (len(bins) + 3)]
    for ex, r in res.items():
        g = r.get("gouji")
        if not g or "reliability" not in g:
            continue
        rel = g["reliability"]
        row = [f"{rel[b]['right']:.1%} ({rel[b]['cells']})" if b in rel else "" for b in bins]
        prec = g["auto_accepted_precision"]
        lines.append(f"| {ex} | " + " | ".join(row) + f" | {g['auto_accepted']:.1%} | "
                     f"{'' if prec is None else f'{prec:.2%}'} | {g['confident_wrong_cells']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--corpus", type=Path, help="folder of *.digital.pdf with *.truth.json")
    src.add_argument("--build", type=int, metavar="N", help="generate the first N reports of --split")
    ap.add_argument("--split", default="test")
    ap.add_argument("--geometry", metavar="STYLES", help="with --build: force every report through these table "
                    "geometry styles (comma-separated, configs/synth.yaml layout.geometry; 'default' = none)")
    ap.add_argument("--work", type=Path, default=Path("datasets/generated/flattened"))
    ap.add_argument("--extractors", default=",".join(EXTRACTORS))
    ap.add_argument("--mapper", default="auto", choices=["auto", "fuzzy", "classifier"])
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("-v", "--verbose", action="store_true", help="per-document lines for imperfect results")
    a = ap.parse_args(argv)
    if a.build:
        extractors = [e for e in a.extractors.split(",") if e]
        geo = None if a.geometry is None else [g for g in a.geometry.split(",") if g and g != "default"]
        pdfs = build_corpus(a.build, a.work / "pdf", a.split,
                            html=any(source_kind(e) == "html" for e in extractors), geometry=geo)
    else:
        pdfs = sorted((a.corpus or Path("datasets/samples")).glob("*.digital.pdf"))
    work = a.work / (a.corpus.name if a.corpus else "pdf" if a.build else "samples")
    res = evaluate(pdfs, [e for e in a.extractors.split(",") if e], work, Settings(mapper=a.mapper), a.verbose)
    print(json.dumps(res, ensure_ascii=False, indent=1))
    print(table(res))
    print()
    print(geometry_table(res))
    print()
    print(reliability_table(res))
    if a.json:
        a.json.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
