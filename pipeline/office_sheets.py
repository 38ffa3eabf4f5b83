"""Spreadsheets: .xlsx (openpyxl) and .xls/.et (xlrd), merged ranges resolved, each number
cell's displayed text kept and its stored number as the reading (pipeline/office.py)."""
from __future__ import annotations

import io
import re
import zipfile

from .model import Cell, Document
from .office_base import OfficeError, config, grid_pages, open_zip


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
    cfg = config().get("spreadsheet", {})
    z = open_zip(data, "Excel (.xlsx)")   # size checks before openpyxl unpacks it
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
        _take_sheet(cells, ws.title, tables, texts)
    wb.close()
    doc.text = "\n".join(texts)
    return _joined_sheets(tables, doc) or grid_pages(tables, doc)


def _take_sheet(cells, name: str, tables: list, texts: list[str]) -> None:
    """A sheet's cells become a table, or page text when it is a sheet of lines (a pasted
    text, a page of <div>s)."""
    texts.append(name)
    if _one_per_row(cells):
        texts += [c.text for c in sorted(cells, key=lambda c: (c.row, c.col)) if c.text]
        return
    tables.append((cells, name))
    texts += _lone_texts(cells)


def read_xls(data: bytes, doc: Document) -> Document:
    import xlrd
    cfg = config().get("spreadsheet", {})
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
        _take_sheet(cells, sh.name, tables, texts)
    doc.text = "\n".join(texts)
    return _joined_sheets(tables, doc) or grid_pages(tables, doc)


def _joined_sheets(tables: list, doc: Document) -> Document | None:
    """Sheets whose rows' values ran together in one cell (a crawled page exported to
    Excel: `本年新收…` | `801000081`): the sheets written out as text, a line per row, and
    read as text with their joined rows split by the equations (pipeline/joined.py), as
    Word tables are (office_docx). None, doc untouched, when no row ran together."""
    from .joined import glued_cells, grid_lines, unjoin
    from .model import Source
    texts = [c.text for cells, _ in tables for c in cells]
    if not any(re.search(r"\d\d", t) for t in texts):
        return None       # no cell holds two digits: nothing can have run together
    blocks = []
    for cells, _ in tables:
        rows: dict[int, dict[int, str]] = {}
        for c in cells:
            rows.setdefault(c.row, {}).setdefault(c.col, c.text)   # a merged range once
        blocks.append(grid_lines([[t for _, t in sorted(r.items())] for _, r in sorted(rows.items())]))
    probe = Document(Source("probe"))
    text = unjoin("\n".join(x.rstrip() for x in "\n".join(blocks).split("\n") if x.strip()), probe,
                  proven=glued_cells(texts))
    if not probe.joined:
        return None
    from .read import read_text
    doc.joined.extend(probe.joined)
    doc.warnings.extend(probe.warnings)
    doc.warnings.append("sheet rows hold values that ran together: read as text and split")
    return read_text(text, doc)
