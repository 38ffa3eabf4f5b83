"""Read stage: turn a file into a Document.

Flattened renditions (plain text, Markdown, HTML) are read here; PDFs and images go to
pipeline/pdf.py. Text becomes one Table per block of lines, each line a row and each
tab/pipe/wide-space separated field a cell (or a label and the single-space separated
values after it, as `pdftotext -raw` writes rows) (`aligned=False`: a field's index is only its
position in the flattened line). HTML <table>s keep their real geometry (rowspan and
colspan resolved, `aligned=True`). Finding which lines form which report table is the
classify stage's job.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .model import Cell, Document, Page, Source, Table
from .inputs import HTML_SUFFIXES, sniff  # noqa: F401  (what a file is: one sniff, pipeline/inputs.py)
from .office import OFFICE_SUFFIXES   # Word/WPS/Excel: pipeline/office.py; web pages: pipeline/webpage.py

TEXT_SUFFIXES = {".txt", ".text", ".csv", ".tsv"}
MD_SUFFIXES = {".md", ".markdown"}
PDF_SUFFIXES = {".pdf"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
MAX_TEXT_BYTES = 20_000_000

def decode_text(data: bytes) -> tuple[str | None, str]:
    """Decode report text: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a
    superset of GBK/GB2312, what most Chinese files not in UTF-8 use), else Big5.
    Returns (text, encoding) or (None, reason) for binary data."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:65536]:
        return None, "binary data (NUL bytes), not a text document"
    for enc in ("utf-8-sig", "gb18030", "big5"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        bad = sum(1 for ch in text[:20000] if (ord(ch) < 32 and ch not in "\r\n\t\f") or 0xE000 <= ord(ch) <= 0xF8FF)
        if bad > max(3, len(text[:20000]) // 200):
            continue
        return text, enc.replace("-sig", "")
    return None, "not decodable as UTF-8, GBK/GB18030 or Big5 text"


def read(path: Path, settings=None) -> Document:
    """Read any supported input; never raises for a bad document."""
    path = Path(path)
    doc = Document(Source(str(path)))
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES and path.suffix.lower() not in PDF_SUFFIXES | IMAGE_SUFFIXES | OFFICE_SUFFIXES:
            return doc.fail(f"file too large for a text report ({size} bytes)")
        with open(path, "rb") as f:
            data = f.read()
    except PermissionError:
        return doc.fail("file not readable: permission denied")
    except OSError as e:
        return doc.fail(f"file not readable: {e.strerror or e}")
    doc.source.sha256 = hashlib.sha256(data).hexdigest()
    if not data.strip():
        return doc.fail("empty file")
    kind = sniff(data, path.suffix.lower())
    if kind in ("png", "jpg", "tif", "bmp"):
        kind = "image"
    if kind in ("pdf", "image"):
        from . import pdf
        reader = pdf.read_pdf if kind == "pdf" else pdf.read_image
        out = reader(path, settings, sha256=doc.source.sha256)  # hashed above: not read again
        if kind != {"pdf": "pdf"}.get(path.suffix.lower().lstrip("."), kind) and path.suffix:
            if (kind == "pdf") != (path.suffix.lower() in PDF_SUFFIXES):
                out.warnings.append(f"file extension {path.suffix} but content is {kind}")
        return out
    if kind in ("zip", "ole", "rtf"):      # Word, WPS, Excel, OpenDocument: pipeline/office.py
        from .office import read_office
        return read_office(path, data, doc)
    if kind in ("html", "mhtml"):          # saved web pages: pipeline/webpage.py
        from .webpage import read_webpage
        return read_webpage(data, doc)
    text, enc = decode_text(data)          # text, or binary: decode_text says why it is not text
    if text is None:
        return doc.fail(enc)
    if enc != "utf-8":
        doc.warnings.append(f"text decoded as {enc}")
    doc.source.kind = "markdown" if path.suffix.lower() in MD_SUFFIXES else "text"
    return read_text(text, doc)


# -- plain text and Markdown ---------------------------------------------------------------

_MD_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_WIDE_SPACE = re.compile(r"(?:\s{2,}|\u3000+)")


def separator(line: str) -> str:
    """How a flattened row separates its cells: tab, pipe, wide space, or one cell a line.

    It matters for blanks: tab rows lose only their trailing empty cells, while pipe and
    space separated rows may collapse an empty cell anywhere."""
    if "\t" in line:
        return "tab"
    s = line.strip()
    if s.count("|") >= 2:
        return "pipe"
    if _WIDE_SPACE.search(s) and len(s) < 200:
        return "space"
    if _single_spaced(s):
        return "space"
    return "line"


def _single_spaced(s: str) -> tuple[str, list[str]] | None:
    """A row whose values are separated by single spaces (`pdftotext -raw`: 规章 0 0 0,
    0 0 0 0 0 0 0): its label (maybe empty) and its value tokens, else None. A label with
    sentence punctuation is prose that happens to end in numbers."""
    from .values import is_value_text
    toks = s.split()
    k = len(toks)
    while k and is_value_text(toks[k - 1]) and not any("\u4e00" <= ch <= "\u9fff" for ch in toks[k - 1]
                                                       if ch not in "件项个条次人宗份万元"):
        k -= 1
    values, label = toks[k:], " ".join(toks[:k])
    if not values or (not label and len(values) < 2) or len(label) > 40 or re.search(r"[，。；;：:]", label):
        return None
    if label and not re.search(r"[\u4e00-\u9fff]", label):
        return None
    return label, values


def split_fields(line: str) -> list[str]:
    """A flattened row's cells: tab, then pipe, then wide-space, then single-space
    separated values after a label."""
    sep = separator(line)
    if sep == "tab":
        return [f.strip() for f in line.split("\t")]
    s = line.strip()
    if sep == "pipe":
        if s.startswith("|"):
            s = s[1:]
        if s.endswith("|"):
            s = s[:-1]
        return [f.strip() for f in s.split("|")]
    if sep == "space":
        if not _WIDE_SPACE.search(s):
            label, values = _single_spaced(s)
            return ([label] if label else []) + values
        return [f.strip() for f in _WIDE_SPACE.split(s)]
    return [s]


def read_text(text: str, doc: Document) -> Document:
    """Lines → one unaligned Table per block (blocks end at blank-line runs of two or more
    between tabular lines, which is where flatteners put page breaks)."""
    paged = text.replace("\r\n", "\n").replace("\r", "\n")
    text = paged.replace("\f", "\n\n")
    from .joined import unjoin      # rows whose cells ran together (`数量801000081`): issue #21
    try:
        text = unjoin(text, doc)
    except Exception as e:          # a detection bug must not lose the document: read it as printed
        doc.joined.clear()
        doc.warnings.append(f"joined-cell detection failed ({type(e).__name__}: {e}); text read as printed")
    # the stream decoder reads page breaks (a bare page number, a table's rows per page) from
    # the form feeds, kept unless the joined-cell rewrite changed the text
    doc.text = paged if text == paged.replace("\f", "\n\n") else text
    page = Page(number=1)
    table = Table(aligned=False, page=1)
    row = 0
    blank_run = 0
    for raw in text.split("\n"):
        if _MD_RULE.match(raw):
            continue
        line = raw.rstrip("\r\n")
        if not line.strip():
            blank_run += 1
            continue
        multi = "\t" in line or line.strip().count("|") >= 2
        if blank_run and multi and table.cells and any(c.col > 0 for c in table.cells[-3:]):
            page.tables.append(table)         # a blank line between tabular rows: new block
            table = Table(aligned=False, page=1)
            row = 0
        blank_run = 0
        for j, f in enumerate(split_fields(line)):
            table.cells.append(Cell(row=row, col=j, text=f, page=None))
        table.separators[row] = separator(line)
        row += 1
    if table.cells:
        page.tables.append(table)
    doc.pages = [page]
    return doc


# -- grids (web pages, Word and Excel tables) -------------------------------------------------

def grid_cells(rows: list[list[tuple[str, int, int]]]) -> list[Cell]:
    """Place HTML cells on the grid, skipping positions taken by earlier rowspans."""
    taken: set[tuple[int, int]] = set()
    cells = []
    for r, row in enumerate(rows):
        c = 0
        for text, rs, cs in row:
            while (r, c) in taken:
                c += 1
            cells.append(Cell(row=r, col=c, rowspan=rs, colspan=cs, text=text))
            for dr in range(rs):
                for dc in range(cs):
                    taken.add((r + dr, c + dc))
            c += cs
    return cells

