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

Modules: office_base (errors, zip safety, grid pages), office_docx, office_sheets,
office_convert (LibreOffice); this one tells the kinds apart and dispatches.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

from .model import Document
from .office_base import OfficeError, grid_pages, is_layout  # noqa: F401  (grid_pages, is_layout: webpage.py)
from .office_convert import convert, install_hint, soffice  # noqa: F401  (install_hint, soffice: doctor.py)
from .office_docx import read_docx
from .office_sheets import display, read_xls, read_xlsx  # noqa: F401  (display: for callers)

WORD_SUFFIXES = {".docx", ".docm", ".doc", ".wps", ".rtf", ".odt"}
SHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".et", ".ods"}
OFFICE_SUFFIXES = WORD_SUFFIXES | SHEET_SUFFIXES

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


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

