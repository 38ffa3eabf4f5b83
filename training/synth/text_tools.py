"""Text renditions written by real tools (issue #13): what users get when they flatten a
report themselves. One definition, used by `make data` (build.py writes one file per
extractor beside each digital PDF) and by training/eval_flattened.py.

Extractors: poppler's pdftotext (default, -layout, -raw), pdfminer.six extract_text,
pypdfium2's text page, pdfplumber extract_text (plain and layout=True), a Markdown rendition
(pdfplumber's tables as pipe tables, like the seeds'), and headless Chromium's
`document.body.innerText` of the saved web page (what a browser copy gives). A tool that is
not installed is reported by `available` / `missing`, never a crash.
"""
from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from pathlib import Path

PDF_EXTRACTORS = ("pdftotext", "pdftotext-layout", "pdftotext-raw", "pdfminer", "pypdfium2",
                  "pdfplumber", "pdfplumber-layout", "markdown")
HTML_EXTRACTORS = ("chromium-innertext",)
EXTRACTORS = PDF_EXTRACTORS + HTML_EXTRACTORS
MODULES = {"pdfminer": "pdfminer.high_level", "pypdfium2": "pypdfium2", "pdfplumber": "pdfplumber",
           "pdfplumber-layout": "pdfplumber", "markdown": "pdfplumber"}


def suffix(extractor: str) -> str:
    return ".md" if extractor == "markdown" else ".txt"


def source_kind(extractor: str) -> str:
    """Which rendition an extractor reads: 'digital' (the PDF) or 'html' (the saved web page)."""
    return "html" if extractor in HTML_EXTRACTORS else "digital"


def missing(extractor: str) -> str | None:
    """Why an extractor cannot run here (None when it can)."""
    if extractor not in EXTRACTORS:
        return f"unknown extractor {extractor}"
    if extractor.startswith("pdftotext"):
        return None if shutil.which("pdftotext") else "pdftotext (poppler-utils) not installed"
    if extractor == "chromium-innertext":
        from training.cdp import chromium
        return None if chromium() else "chromium not installed"
    try:
        __import__(MODULES[extractor])
        return None
    except ImportError:
        return f"python module {MODULES[extractor]} not installed"


def available(extractor: str) -> bool:
    return missing(extractor) is None


def flatten(path: Path, extractor: str) -> str:
    """The text one real tool writes for a rendition (a PDF; the .html/.mhtml for Chromium)."""
    if extractor in HTML_EXTRACTORS:
        return innertext(path)
    return flatten_pdf(path, extractor)


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


# one headless browser per process, started on first use and closed at exit (also in
# ProcessPoolExecutor workers, whose exit skips atexit but runs multiprocessing finalizers)
_BROWSER = None


def _browser():
    global _BROWSER
    if _BROWSER is None:
        import multiprocessing.util as mpu

        from training.cdp import Browser
        profile = Path(tempfile.mkdtemp(prefix="gouji-innertext-"))
        try:
            _BROWSER = Browser(profile)
        except BaseException:
            shutil.rmtree(profile, ignore_errors=True)
            raise
        _BROWSER.profile = profile
        atexit.register(close_browser)
        mpu.Finalize(None, close_browser, exitpriority=10)
    return _BROWSER


def close_browser() -> None:
    global _BROWSER
    b, _BROWSER = _BROWSER, None
    if b is not None:
        b.close()
        shutil.rmtree(b.profile, ignore_errors=True)


def innertext(page: Path, timeout: float = 60.0) -> str:
    """`document.body.innerText` of a saved web page (.html or .mhtml) as headless Chromium
    lays it out: the text a user gets by select-all and copy in a browser."""
    b = _browser()
    try:
        b.goto(Path(page).resolve().as_uri())
        b.wait("document.readyState === 'complete' && location.href !== 'about:blank'", timeout)
        text = b.eval("document.body ? document.body.innerText : ''")
        b.goto("about:blank")
    except BaseException:
        close_browser()     # a browser in an unknown state: the next page starts a fresh one
        raise
    return text or ""
