"""What the Office readers share: OfficeError, configs/office.yaml, zip-bomb-safe unpacking
and XML parsing, and the grid tables as pages (docs/office.md)."""
from __future__ import annotations

import io
import zipfile

from .model import Cell, Document, Page, Table


def config() -> dict:
    """configs/office.yaml."""
    from .templates import config
    return config("office.yaml")


class OfficeError(Exception):
    """A file gouji cannot read, with the reason a user sees; `status` for the result."""

    def __init__(self, reason: str, status: str = "failed"):
        super().__init__(reason)
        self.status = status


# ----------------------------------------------------------------------------- zip safety

def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """The archive, refused when it has too many parts or unpacks too large (a zip bomb)."""
    cfg = config()
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


def xml(z: zipfile.ZipFile, name: str, what: str):
    """One part of the archive as XML, parsed without entities, network or huge trees."""
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
    if not any(cells for cells, _ in tables) and (doc.text or "").strip():
        # no grid: the paragraphs are flattened text, read as text files are (rows whose
        # cells ran together split too: pipeline/joined.py)
        from .read import read_text
        return read_text(doc.text, doc)
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

