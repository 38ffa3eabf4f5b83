"""Sections of the other evaluations the bench adds, on the same test documents:
flattened text by real extractors (#13), joined rows (#21), Word and web pages (#16)."""
from __future__ import annotations

from pathlib import Path

from .corpus import ROOT, split_file


def flattened_by_extractors(items: list[dict]) -> dict:
    """The text split as real tools write it (issue #13): each test document's digital PDF
    flattened by every extractor of training/synth/text_tools.py (pdftotext in three modes,
    pdfminer.six, pypdfium2, pdfplumber, Markdown, Chromium's innerText), gouji beside the
    number stream, per extractor and per table geometry (held-out styles apart), with the
    reliability of gouji's confidences (training/eval_flattened.py; extractors not
    installed are reported)."""
    from pipeline.run import Settings
    from training import eval_flattened
    pdfs = [Path(it["dir"]) / split_file(it["doc"], "digital") for it in items]
    work = ROOT / "out" / "bench-flattened"
    return eval_flattened.evaluate([p for p in pdfs if p.exists()], list(eval_flattened.EXTRACTORS), work,
                                   Settings())


def joined_rows(items: list[dict]) -> dict:
    """Rows whose cells a crawler joined without separators (issue #21): training/bench/joined.py."""
    from .joined import joined_section
    return joined_section(items)


def office_kinds(n: int) -> dict:
    """Word and web-page renditions of the first n test reports, and what LibreOffice and
    Chromium make of them (issue #16, training/eval_office.py)."""
    from pipeline.run import Settings
    from training import eval_office
    from training.synth.build import load_config
    kinds = {"docx", "html", "doc", "lo_docx", "chromium_html"}
    return eval_office.evaluate(n, ROOT / "out" / "bench-office", kinds, load_config(str(ROOT / "configs" / "synth.yaml")),
                                Settings(), progress=False)
