"""The joined-rows section of `make bench` (issue #21): the bench's test documents as a
crawler keeps them, each table row's cells run together (training/eval_joined.py, called
as it is): the digital PDFs' `pdftotext` text joined per row, the whole report on one
line, `-raw`'s text joined (held out), and the documents' saved web pages (<table> or
div grids) with each row's values, or the whole row, in one cell. Per rendition: cells
right, the share of cells auto-accepted and their precision, ambiguous splits accepted,
documents `ok` with a wrong cell; the cells wrong only as 0 ↔ blank (text that keeps no
trace of where a blank printed as nothing sat) apart, with the figure they cap.
"""
from __future__ import annotations

import re
from pathlib import Path

from .corpus import ROOT, split_file


def saved_pages(items: list[dict], out: Path) -> list[Path]:
    """The items' saved web pages (.html, with truth) made by the corpus generator under
    out (the same seeds as `make data`); MHTML renditions are left out (join_html reads
    HTML)."""
    from training.synth.build import SPLITS, load_config, make_document
    cfg = load_config(str(ROOT / "configs" / "synth.yaml"))
    out.mkdir(parents=True, exist_ok=True)
    pages = []
    for it in items:
        m = re.fullmatch(r"(train|val|test)_(\d+)", it["doc"])
        if not m:
            continue
        page = out / f"{it['doc']}.html"
        if not page.exists() and not (out / f"{it['doc']}.truth.json").exists():
            make_document(it["doc"], [int(cfg["seed"]), SPLITS.index(m.group(1)), int(m.group(2))], cfg, out,
                          ["html"])
        if page.exists():
            pages.append(page)
    return pages


def joined_section(items: list[dict], work: Path | None = None) -> dict:
    """eval_joined's figures per rendition on the items (text renditions from their
    digital PDFs, web-page renditions from their saved pages)."""
    from pipeline.run import Settings
    from training import eval_joined
    work = work or ROOT / "out" / "bench-joined"
    pdfs = [p for p in (Path(it["dir"]) / split_file(it["doc"], "digital") for it in items) if p.exists()]
    out = eval_joined.evaluate(pdfs, list(eval_joined.RENDITIONS), work, Settings())
    pages = saved_pages(items, work / "pages")
    if pages:
        out.update(eval_joined.evaluate(pages, list(eval_joined.HTML_RENDITIONS), work, Settings()))
    return out


def joined_markdown(sec: dict) -> list[str]:
    from training.eval_joined import table
    if not sec:
        return []
    return ["## Rows joined without separators", "",
            "The same test documents as a crawler keeps them (training/eval_joined.py): the digital PDFs' "
            "`pdftotext -layout` text with each row's separators removed (`joined-rows`), the whole report on "
            "one line (`one-line`), `pdftotext -raw`'s text joined (`joined-raw`, held out: never tuned on), and "
            "their saved web pages with each table row's values (`html-values`) or the whole row (`html-row`) "
            "in one cell, <table> and div grids alike. **auto-accepted** — cells at or above the review "
            "threshold (0.995), their share of all cells and their precision; **0↔blank counted right** — "
            "requests + appeals with the cells wrong only as a 0 read for a blank printed as nothing (or the "
            "reverse) counted right: the ceiling of text that keeps no trace of where such a blank sat; "
            "**0-or-blank undecided** — cells whose only doubt is that, kept below the threshold (accepted in "
            "brackets). Reports that print some blank as nothing apart (docs/joined-cells.md).", "",
            table(sec), ""]
