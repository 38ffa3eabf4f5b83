"""Word, WPS and Excel files read natively: their grid with its merges and every digit is
exact, so reading it beats OCR and text flattening.

* .docx: the OOXML itself (lxml): w:gridSpan, w:vMerge, w:gridBefore, nested tables, text
  boxes (w:txbxContent, once even when mc:AlternateContent carries it twice), content
  controls, tracked changes (deleted text dropped), hidden runs dropped, automatic list
  numbers ("一、", "（一）" from word/numbering.xml) written out; a cell's paragraphs joined. Paragraphs outside tables (and the own text of layout tables that hold
  other tables) become `doc.text`, where the title, year and agency are found.
* .xlsx (openpyxl) and .xls/.et (xlrd): merged ranges resolved; a number cell's text is
  what the sheet displays and, where that is not the stored number (12.3456 shown as
  12.35), the stored number is its reading (probability 1), so the value is as stored.
* .doc, .wps, .rtf, .odt (and .et/.ods xlrd cannot read) go through LibreOffice headless
  into .docx/.xlsx first: a private profile per worker process, one conversion at a time,
  a time limit that kills the whole process group. Without LibreOffice the result says
  `unsupported_format` with the install command.

Grid-native tables have no printed pages: each table is a Page of its own (`page` = the
table's 1-based number in document order) and a cell's bbox is its grid position
[col0, row0, col1, row1] (0-based, end exclusive) — docs/office.md.
"""
from __future__ import annotations

import atexit
import io
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import zipfile
from pathlib import Path

from .model import Cell, Document, Page, Table

WORD_SUFFIXES = {".docx", ".docm", ".doc", ".wps", ".rtf", ".odt"}
SHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".et", ".ods"}
OFFICE_SUFFIXES = WORD_SUFFIXES | SHEET_SUFFIXES

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _cfg() -> dict:
    from .templates import config
    return config("office.yaml")


class OfficeError(Exception):
    """A file gouji cannot read, with the reason a user sees; `status` for the result."""

    def __init__(self, reason: str, status: str = "failed"):
        super().__init__(reason)
        self.status = status


# ----------------------------------------------------------------------------- what is it

def _utf16(s: str) -> bytes:
    return s.encode("utf-16-le")


def office_kind(data: bytes, suffix: str) -> str:
    """docx|xlsx|odt|ods|doc|xls|wps|et|rtf|encrypted|zip|ole from the bytes (the suffix only
    decides between look-alikes: a .wps and a .doc are both OLE files with a WordDocument)."""
    if data.startswith(b"{\\rtf"):
        return "rtf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
                mime = z.read("mimetype")[:100] if "mimetype" in names else b""
        except Exception:   # BadZipFile, NotImplementedError (zip version), EOFError …
            return "zip"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if b"opendocument.text" in mime:
            return "odt"
        if b"opendocument.spreadsheet" in mime:
            return "ods"
        return "zip"
    if data.startswith(_OLE_MAGIC):
        if _utf16("EncryptedPackage") in data or _utf16("EncryptionInfo") in data:
            return "encrypted"          # a password-protected .docx/.xlsx (an OLE wrapper)
        if _utf16("WordDocument") in data:
            return "wps" if suffix == ".wps" else "doc"
        if _utf16("Workbook") in data or _utf16("Book") in data:
            return "et" if suffix == ".et" else "xls"
        if _utf16("Contents") in data and suffix == ".wps":
            return "wps"                # Microsoft Works word processor
        return "ole"
    return suffix.lstrip(".") or "unknown"


# ----------------------------------------------------------------------------- entry point

def read_office(path: Path, data: bytes, doc: Document) -> Document:
    """Read a Word/WPS/Excel file into doc (never raises for a bad file)."""
    suffix = path.suffix.lower()
    kind = office_kind(data, suffix)
    known = ("docx", "xlsx", "doc", "xls", "wps", "et", "rtf", "odt", "ods")
    doc.source.kind = kind if kind in known else suffix.lstrip(".") if suffix.lstrip(".") in known else "unknown"
    try:
        if kind == "encrypted":
            raise OfficeError("password-protected Office file: gouji cannot open it; save an unprotected copy")
        if kind == "zip":
            raise OfficeError(f"corrupt or unknown Office file ({suffix or 'no extension'}): a zip archive that is "
                              "neither a Word (.docx) nor an Excel (.xlsx) nor an OpenDocument file")
        if kind == "ole":
            raise OfficeError(f"unknown OLE compound file ({suffix or 'no extension'}): not a Word, WPS or Excel file")
        if kind == "docx":
            return read_docx(data, doc)
        if kind == "xlsx":
            return read_xlsx(data, doc)
        if kind in ("xls", "et"):
            try:
                return read_xls(data, doc)
            except OfficeError as e:
                if kind != "et" or "password" in str(e):
                    raise
        if kind in ("doc", "wps", "rtf", "odt"):
            if kind == "doc" and _doc_encrypted(data):
                raise OfficeError("password-protected Word file: gouji cannot open it; save an unprotected copy")
            docx = convert(data, kind, "docx")
            doc.warnings.append(f"converted from .{kind} to .docx with LibreOffice")
            return read_docx(docx, doc)
        if kind in ("et", "ods"):
            xlsx = convert(data, kind, "xlsx")
            doc.warnings.append(f"converted from .{kind} to .xlsx with LibreOffice")
            return read_xlsx(xlsx, doc)
        raise OfficeError(f"not an Office file ({kind})")
    except OfficeError as e:
        return doc.fail(str(e), status=e.status)


# ----------------------------------------------------------------------------- zip safety

def _open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    cfg = _cfg()
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except Exception as e:   # BadZipFile, NotImplementedError, EOFError …
        raise OfficeError(f"corrupt {what} file: not a valid zip archive ({e})")
    infos = z.infolist()
    if len(infos) > int(cfg.get("max_zip_members", 20000)):
        raise OfficeError(f"corrupt {what} file: {len(infos)} parts in the archive")
    total = sum(i.file_size for i in infos)
    if total > float(cfg.get("max_unzipped_mb", 300)) * 2**20:
        raise OfficeError(f"{what} file unpacks to {total / 2**20:.0f} MB (max_unzipped_mb in configs/office.yaml)")
    return z


def _xml(z: zipfile.ZipFile, name: str, what: str):
    from lxml import etree
    try:
        raw = z.read(name)
    except KeyError:
        raise OfficeError(f"corrupt {what} file: {name} missing")
    except Exception as e:   # BadZipFile (CRC), zlib.error, NotImplementedError (method) …
        raise OfficeError(f"corrupt {what} file: {name} cannot be unpacked ({type(e).__name__}: {e})")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    try:
        return etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as e:
        raise OfficeError(f"corrupt {what} file: {name} is not well-formed XML ({e})")


# ----------------------------------------------------------------------------- .docx

def _local(el) -> str:
    t = el.tag
    return t.rsplit("}", 1)[-1] if isinstance(t, str) else ""


def _val(el, path: str, default=None):
    """w:val of the first `path` (w: prefixed local names separated by /) under el."""
    node = el
    for part in path.split("/"):
        if node is None:
            return default
        node = node.find(_W + part)
    if node is None:
        return default
    return node.get(_W + "val", "" if default is None else default)


def _int(v, default=1, lo=1, hi=1000) -> int:
    try:
        return max(lo, min(hi, int(str(v).strip())))
    except (TypeError, ValueError):
        return default


def _choice(alt):
    """The one branch of mc:AlternateContent to read (the first Choice, else the Fallback)."""
    for ch in alt:
        if _local(ch) == "Choice":
            return ch
    for ch in alt:
        if _local(ch) == "Fallback":
            return ch
    return None


def _hidden(run) -> bool:
    rpr = run.find(_W + "rPr")
    if rpr is None:
        return False
    v = rpr.find(_W + "vanish")
    return v is not None and v.get(_W + "val", "true") not in ("0", "false", "off")


def _clean_cell(parts: list[str]) -> str:
    """A cell's paragraphs joined the way the HTML reader joins its <p>s: line breaks dropped
    (a label wrapped over two paragraphs is one label), runs of spaces made one."""
    txt = re.sub(r"\s*\n\s*", "", "\n".join(parts)).strip()
    return re.sub(r"\s+", " ", txt)


_CN = "零一二三四五六七八九十"


def _chinese(n: int) -> str:
    if n <= 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n % 10] if n % 10 else "")
    if n < 100:
        return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")
    return str(n)


def _roman(n: int) -> str:
    out = ""
    for v, r in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
                 (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= v:
            out, n = out + r, n - v
    return out


def _fmt_number(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified", "ideographTraditional",
               "taiwaneseCounting", "taiwaneseCountingThousand"):
        return _chinese(n)
    if fmt == "decimalEnclosedCircle" or fmt == "decimalEnclosedCircleChinese":
        return chr(0x2460 + n - 1) if 1 <= n <= 20 else str(n)
    if fmt in ("upperLetter", "lowerLetter"):
        c = chr(ord("A") + (n - 1) % 26)
        return c if fmt == "upperLetter" else c.lower()
    if fmt in ("upperRoman", "lowerRoman"):
        r = _roman(n)
        return r.upper() if fmt == "upperRoman" else r
    if fmt in ("none", "bullet"):
        return ""
    return str(n)


class _Numbering:
    """Automatic list numbers (word/numbering.xml) a paragraph's w:numPr asks for: "一、",
    "（一）", "1." are often not in the text at all, only in the numbering definition."""

    def __init__(self, root):
        self.levels: dict[str, dict[int, tuple[str, str, int]]] = {}
        self.counters: dict[str, list[int]] = {}
        if root is None:
            return
        abstract = {}
        for a in root.findall(_W + "abstractNum"):
            lv = {}
            for lvl in a.findall(_W + "lvl"):
                i = _int(lvl.get(_W + "ilvl"), 0, 0, 8)
                lv[i] = (_val(lvl, "numFmt", "decimal"), _val(lvl, "lvlText", ""), _int(_val(lvl, "start", "1"), 1, 0))
            abstract[a.get(_W + "abstractNumId")] = lv
        for n in root.findall(_W + "num"):
            lv = abstract.get(_val(n, "abstractNumId"))
            if lv is not None:
                self.levels[n.get(_W + "numId")] = lv

    def label(self, p) -> str:
        ppr = p.find(_W + "pPr")
        if ppr is None or ppr.find(_W + "numPr") is None:
            return ""
        num_id = _val(ppr, "numPr/numId")
        ilvl = _int(_val(ppr, "numPr/ilvl", "0"), 0, 0, 8)
        lv = self.levels.get(num_id)
        if not lv or ilvl not in lv:
            return ""
        c = self.counters.setdefault(num_id, [0] * 9)
        c[ilvl] += 1
        for k in range(ilvl + 1, 9):
            c[k] = 0
        out = lv[ilvl][1]
        for k in range(ilvl + 1):
            if k in lv:
                fmt, _, start = lv[k]
                out = out.replace(f"%{k + 1}", _fmt_number(start + max(c[k], 1) - 1, fmt))
        return "" if lv[ilvl][0] == "bullet" else out


class _Docx:
    """Walks w:body in document order: paragraphs into text lines, tables into grids."""

    def __init__(self, numbering: "_Numbering | None" = None):
        self.numbering = numbering or _Numbering(None)
        self.lines: list[str] = []
        self.tables: list[list[Cell] | None] = []    # slot per table, in the order tables start
        self.n_boxes = 0
        self.n_nested = 0

    # blocks: paragraphs, tables, content controls, text boxes
    def block(self, el, lines: list[str], depth: int = 0) -> None:
        for ch in el:
            t = _local(ch)
            if t == "p":
                text, boxes = self.para(ch)
                lines.append(text)
                for b in boxes:
                    self.n_boxes += 1
                    self.block(b, lines, depth)
            elif t == "tbl":
                self.table(ch, lines, depth)
            elif t in ("sdt", "sdtContent", "customXml", "smartTag", "ins", "moveTo", "txbxContent"):
                self.block(ch, lines, depth)
            elif t == "AlternateContent":
                c = _choice(ch)
                if c is not None:
                    self.block(c, lines, depth)

    def para(self, p) -> tuple[str, list]:
        parts: list[str] = []
        boxes: list = []

        def walk(e):
            for ch in e:
                t = _local(ch)
                if t == "t":
                    parts.append(ch.text or "")
                elif t in ("tab", "ptab"):
                    parts.append("\t")     # a table typed with tabs stays tabular for the text reader
                elif t in ("br", "cr"):
                    parts.append("\n")
                elif t == "txbxContent":
                    boxes.append(ch)
                elif t in ("del", "moveFrom", "instrText", "delText", "fldData", "rPr", "pPr"):
                    continue
                elif t == "r" and _hidden(ch):
                    continue
                elif t == "AlternateContent":
                    c = _choice(ch)
                    if c is not None:
                        walk(c)
                else:
                    walk(ch)
        walk(p)
        return self.numbering.label(p) + "".join(parts), boxes

    def _rows(self, tbl):
        for ch in tbl:
            t = _local(ch)
            if t == "tr":
                yield ch
            elif t in ("sdt", "sdtContent", "customXml", "ins"):
                yield from self._rows(ch)

    def _tcs(self, tr):
        for ch in tr:
            t = _local(ch)
            if t == "tc":
                yield ch
            elif t in ("sdt", "sdtContent", "customXml", "ins"):
                yield from self._tcs(ch)

    def table(self, tbl, lines: list[str], depth: int) -> None:
        slot = len(self.tables)
        self.tables.append(None)
        if depth:
            self.n_nested += 1
        cells: list[Cell] = []
        at: dict[tuple[int, int], Cell] = {}
        holds_tables = False
        own_text: list[str] = []
        for r, tr in enumerate(self._rows(tbl)):
            c = _int(_val(tr, "trPr/gridBefore", "0"), 0, 0)
            prev: Cell | None = None
            for tc in self._tcs(tr):
                tcpr = tc.find(_W + "tcPr")
                span = _int(_val(tcpr, "gridSpan", "1")) if tcpr is not None else 1
                vm = None
                hm = None
                if tcpr is not None:
                    v = tcpr.find(_W + "vMerge")
                    if v is not None:
                        vm = v.get(_W + "val") or "continue"
                    h = tcpr.find(_W + "hMerge")
                    if h is not None:
                        hm = h.get(_W + "val") or "continue"
                n_before = len(self.tables)
                parts: list[str] = []
                self.block(tc, parts, depth + 1)
                if len(self.tables) > n_before:
                    holds_tables = True
                text = _clean_cell(parts)
                own_text += [x for x in parts if x.strip()]
                up = at.get((r - 1, c))
                if vm == "continue" and up is not None and up.col == c and up.row + up.rowspan == r:
                    up.rowspan += 1
                    if text:
                        up.text = _clean_cell([up.text, text])
                    cell = up
                elif hm == "continue" and prev is not None and prev.row == r:
                    prev.colspan += span
                    if text:
                        prev.text = _clean_cell([prev.text, text])
                    cell = prev
                else:
                    cell = Cell(row=r, col=c, colspan=span, text=text)
                    cells.append(cell)
                for k in range(c, c + span):
                    at[(r, k)] = cell
                prev = cell
                c += span
        if (holds_tables and is_layout(cells)) or len(cells) == 1:   # a wrapper: its own text is page text
            lines += own_text
            self.tables[slot] = []
        else:
            self.tables[slot] = cells


def is_layout(cells: list[Cell]) -> bool:
    """A table holding other tables is a layout wrapper (not a report grid) when it is at most
    two rows or two columns deep; a larger one keeps its grid (nested tables read apart). A
    one-cell table is a wrapper (a text frame) whatever it holds."""
    rows = max((c.row + c.rowspan for c in cells), default=0)
    cols = max((c.col + c.colspan for c in cells), default=0)
    return rows <= 2 or cols <= 2


def grid_pages(tables: list[tuple[list[Cell], str]], doc: Document) -> Document:
    """One Page per grid table (page = table number, bbox = grid position); none → no_tables
    is for classify to decide (it sees doc.text)."""
    pages = []
    for cells, title in tables:
        if not cells:
            continue
        n = len(pages) + 1
        for c in cells:
            c.page = n
            c.bbox = (float(c.col), float(c.row), float(c.col + c.colspan), float(c.row + c.rowspan))
        pages.append(Page(number=n, tables=[Table(cells=cells, aligned=True, page=n, pages=[n], title=title)]))
    doc.pages = pages or [Page(number=1)]
    return doc


def read_docx(data: bytes, doc: Document) -> Document:
    z = _open_zip(data, "Word (.docx)")
    with z:
        root = _xml(z, "word/document.xml", "Word (.docx)")
        try:
            numbering = _Numbering(_xml(z, "word/numbering.xml", "Word (.docx)")
                                   if "word/numbering.xml" in z.namelist() else None)
        except OfficeError as e:   # broken list numbering costs the numbers, not the document
            numbering = _Numbering(None)
            doc.warnings.append(f"automatic numbering not read: {e}")
    body = root.find(_W + "body")
    if body is None:
        raise OfficeError("corrupt Word (.docx) file: word/document.xml has no body")
    w = _Docx(numbering)
    w.block(body, w.lines)
    if doc.source.kind == "unknown":
        doc.source.kind = "docx"
    doc.text = "\n".join(x.rstrip() for x in w.lines if x.strip())
    if w.n_boxes:
        doc.warnings.append(f"{w.n_boxes} text boxes read")
    return grid_pages([(cells, "") for cells in w.tables if cells], doc)


# ----------------------------------------------------------------------------- spreadsheets

_DEC = re.compile(r"\.([0#?]+)")


def display(value, fmt: str | None) -> str:
    """The text a spreadsheet shows for a number under its number format (the common
    formats: General, 0, 0.00, #,##0, 0%, and literal suffixes); the stored value is kept
    apart as the cell's reading."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    f = (fmt or "General").split(";")[0]
    if f in ("General", "@", ""):
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value) if isinstance(value, float) else str(value)
    core = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.', "", f)
    m = _DEC.search(core)
    dec = len(m.group(1)) if m else 0
    v = value * 100 if "%" in core else value
    s = f"{v:,.{dec}f}" if "," in core else f"{v:.{dec}f}"
    lits = "".join(re.findall(r'"([^"]*)"', f))
    return s + ("%" if "%" in core else "") + lits


def _number(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v


def _shows(text: str, value) -> bool:
    """The displayed text parses back to the stored number (then the text alone carries it;
    a reading on every number would make header cells of value columns look like values)."""
    from .values import parse_value
    ok, v = parse_value(text, "amount")
    return ok and v is not None and abs(float(v) - float(value)) < 1e-9


def _sheet_cells(get, n_rows: int, n_cols: int, merges: list[tuple[int, int, int, int]]) -> list[Cell]:
    """Cells of a sheet's used range: get(r, c) -> (text, value|None); merges as
    (row0, col0, row1, col1) 0-based inclusive. Rows with nothing at all are left out."""
    covered: set[tuple[int, int]] = set()
    span: dict[tuple[int, int], tuple[int, int]] = {}
    for r0, c0, r1, c1 in merges:
        span[(r0, c0)] = (r1 - r0 + 1, c1 - c0 + 1)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0):
                    covered.add((r, c))
    cells = []
    for r in range(n_rows):
        row = []
        for c in range(n_cols):
            if (r, c) in covered:
                continue
            text, value = get(r, c)
            rs, cs = span.get((r, c), (1, 1))
            cell = Cell(row=r, col=c, rowspan=rs, colspan=cs, text=text.strip())
            if value is not None and not _shows(text, value):
                cell.readings = [(value, 1.0)]   # the stored number; the text stays what is shown
            row.append(cell)
        if any(x.text or x.readings for x in row):
            cells += row
    return cells


from .values import is_value_text  # noqa: E402  (a number alone on a row is no title)


def _one_per_row(cells: list[Cell]) -> bool:
    """No row holds more than one non-empty cell: lines of text, not a grid."""
    seen: set[int] = set()
    for c in cells:
        if c.text or c.readings:
            if c.row in seen:
                return False
            seen.add(c.row)
    return True


def _lone_texts(cells: list[Cell]) -> list[str]:
    """Texts alone on their sheet row (a title, a note): the sheet's page text."""
    by_row: dict[int, list[Cell]] = {}
    for c in cells:
        if c.text:
            by_row.setdefault(c.row, []).append(c)
    return [v[0].text for _, v in sorted(by_row.items()) if len(v) == 1 and not v[0].readings
            and not is_value_text(v[0].text)]


def read_xlsx(data: bytes, doc: Document) -> Document:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException
    cfg = _cfg().get("spreadsheet", {})
    z = _open_zip(data, "Excel (.xlsx)")   # size checks before openpyxl unpacks it
    z.close()
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True, read_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError) as e:
        raise OfficeError(f"corrupt Excel (.xlsx) file: {type(e).__name__}: {e}")
    except Exception as e:   # openpyxl raises many kinds on broken parts
        raise OfficeError(f"corrupt Excel (.xlsx) file: {type(e).__name__}: {e}")
    if doc.source.kind == "unknown":
        doc.source.kind = "xlsx"
    tables, texts = [], []
    for ws in wb.worksheets:
        if cfg.get("skip_hidden_sheets") and ws.sheet_state != "visible":
            continue
        n_rows, n_cols = ws.max_row or 0, ws.max_column or 0
        if n_rows * n_cols > int(cfg.get("max_cells", 200000)):
            doc.warnings.append(f"sheet {ws.title!r}: {n_rows}×{n_cols} cells, not read (max_cells)")
            continue
        merges = [(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1) for m in ws.merged_cells.ranges]
        grid = [list(r) for r in ws.iter_rows(min_row=1, max_row=n_rows, max_col=n_cols)]

        def get(r, c, grid=grid):
            cell = grid[r][c] if r < len(grid) and c < len(grid[r]) else None
            v = getattr(cell, "value", None)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return display(v, cell.number_format), _number(v)
            return ("" if v is None else str(v)), None
        cells = _sheet_cells(get, n_rows, n_cols, merges)
        texts.append(ws.title)
        if _one_per_row(cells):   # a sheet of lines (a pasted text, a page of <div>s): page text
            texts += [c.text for c in sorted(cells, key=lambda c: (c.row, c.col)) if c.text]
            continue
        tables.append((cells, ws.title))
        texts += _lone_texts(cells)
    wb.close()
    doc.text = "\n".join(texts)
    return grid_pages(tables, doc)


def read_xls(data: bytes, doc: Document) -> Document:
    import xlrd
    cfg = _cfg().get("spreadsheet", {})
    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=False)
    except xlrd.biffh.XLRDError as e:
        if "encrypt" in str(e).lower():
            raise OfficeError("password-protected Excel file: gouji cannot open it; save an unprotected copy")
        raise OfficeError(f"corrupt Excel (.xls) file: {e}")
    except Exception as e:   # xlrd raises assorted errors on broken BIFF records
        raise OfficeError(f"corrupt Excel (.xls) file: {type(e).__name__}: {e}")
    if doc.source.kind == "unknown":
        doc.source.kind = "xls"
    tables, texts = [], []
    for sh in book.sheets():
        if cfg.get("skip_hidden_sheets") and sh.visibility:
            continue
        if sh.nrows * sh.ncols > int(cfg.get("max_cells", 200000)):
            doc.warnings.append(f"sheet {sh.name!r}: {sh.nrows}×{sh.ncols} cells, not read (max_cells)")
            continue
        merges = [(r0, c0, r1 - 1, c1 - 1) for r0, r1, c0, c1 in sh.merged_cells]

        def get(r, c, sh=sh):
            cell = sh.cell(r, c)
            if cell.ctype in (xlrd.XL_CELL_NUMBER,):
                fmt = None
                try:
                    fmt = book.format_map[book.xf_list[cell.xf_index].format_key].format_str
                except (IndexError, KeyError, AttributeError):
                    pass
                return display(cell.value, fmt), _number(cell.value)
            if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                return "", None
            return str(cell.value), None
        cells = _sheet_cells(get, sh.nrows, sh.ncols, merges)
        texts.append(sh.name)
        if _one_per_row(cells):   # a sheet of lines (a pasted text, a page of <div>s): page text
            texts += [c.text for c in sorted(cells, key=lambda c: (c.row, c.col)) if c.text]
            continue
        tables.append((cells, sh.name))
        texts += _lone_texts(cells)
    doc.text = "\n".join(texts)
    return grid_pages(tables, doc)


def _doc_encrypted(data: bytes) -> bool:
    """fEncrypted in a .doc's FIB (the WordDocument stream's header)."""
    try:
        import olefile
    except ImportError:
        return False
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if not ole.exists("WordDocument"):
                return False
            fib = ole.openstream("WordDocument").read(12)
    except Exception:   # a broken container: LibreOffice will say what it can
        return False
    return len(fib) >= 12 and bool(int.from_bytes(fib[10:12], "little") & 0x0100)


# ----------------------------------------------------------------------------- LibreOffice

_LOCK = threading.Lock()       # one conversion at a time per worker process
_PROFILE: dict[int, str] = {}  # pid -> private profile folder (a forked worker gets its own)


def soffice() -> str | None:
    for name in _cfg().get("libreoffice", {}).get("binaries", ["soffice", "libreoffice"]):
        p = shutil.which(name)
        if p:
            return p
    return None


def install_hint(kind: str) -> str:
    pk = _cfg().get("libreoffice", {}).get("packages", {})
    pkg = pk.get("calc" if kind in ("et", "ods", "xls") else "writer", "libreoffice")
    return f"apt-get install -y {pkg}"


def _profile() -> str:
    pid = os.getpid()
    if pid not in _PROFILE:
        d = tempfile.mkdtemp(prefix="gouji-lo-profile-")
        _PROFILE[pid] = d
        atexit.register(shutil.rmtree, d, True)
    return _PROFILE[pid]


def convert(data: bytes, kind: str, target: str, timeout_s: float | None = None) -> bytes:
    """`data` (a .doc/.wps/.rtf/.odt/.et/.ods) as .docx or .xlsx bytes, converted by LibreOffice
    headless in this process's private profile, one at a time, within the time limit."""
    exe = soffice()
    if exe is None:
        raise OfficeError(f".{kind} files are converted with LibreOffice, which is not installed: "
                          f"{install_hint(kind)} (or scripts/apt_install.sh with that package)",
                          status="unsupported_format")
    lo = _cfg().get("libreoffice", {})
    timeout_s = float(timeout_s or lo.get("timeout_s", 120))
    with _LOCK, tempfile.TemporaryDirectory(prefix="gouji-lo-") as td:
        src = Path(td) / f"input.{kind}"
        src.write_bytes(data)
        out = Path(td) / "out"
        cmd = [exe, f"-env:UserInstallation={Path(_profile()).as_uri()}", "--headless", "--invisible", "--nologo",
               "--norestore", "--nodefault", "--nolockcheck", "--convert-to", target, "--outdir", str(out), str(src)]
        env = {**os.environ, "HOME": td, "SAL_USE_VCLPLUGIN": "svp"}
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, env=env)
        try:
            so, se = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.communicate()
            raise OfficeError(f"LibreOffice did not convert the .{kind} file within {timeout_s:g} s "
                              "(timeout_s in configs/office.yaml)")
        finally:
            try:   # soffice.bin children left behind by a crash
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        res = out / f"input.{target}"
        if not res.is_file() or res.stat().st_size == 0:
            why = (se or so or b"").decode("utf-8", "replace").strip().splitlines()
            raise OfficeError(f"LibreOffice could not convert the .{kind} file (corrupt or password-protected?)"
                              + (f": {why[-1][:200]}" if why else ""))
        return res.read_bytes()
