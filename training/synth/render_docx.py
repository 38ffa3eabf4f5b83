"""Word (.docx) rendition of a laid-out report, written with python-docx: real merges
(w:gridSpan, w:vMerge from `cell.merge`), and per document a seeded style:

* `nested`: the report tables inside a one-cell layout table (as many portal templates do);
* `split_labels`: long labels wrapped over two paragraphs of their cell;
* `textbox_title`: the title in a text box (VML w:txbxContent), not in a body paragraph.

Truth per value cell: [table number, col0, row0, col1, row1] (the grid position the reader
reports as page + bbox; docs/office.md).
"""
from __future__ import annotations

import copy
import io

from .layout import DocLayout, LTable

_TEXTBOX = (
    '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:v="urn:schemas-microsoft-com:vml"><w:pict><v:shape style="width:420pt;height:40pt" '
    'type="#_x0000_t202"><v:textbox><w:txbxContent><w:p><w:pPr><w:jc w:val="center"/></w:pPr>'
    '<w:r><w:rPr><w:b/></w:rPr><w:t></w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></w:r>')


def pick_style(rng, cfg: dict) -> dict:
    c = cfg.get("docx", {})
    return {"nested": bool(rng.random() < c.get("nested_p", 0.25)),
            "split_labels": bool(rng.random() < c.get("split_labels_p", 0.3)),
            "textbox_title": bool(rng.random() < c.get("textbox_title_p", 0.2))}


def _font(d, name: str) -> None:
    from docx.oxml.ns import qn
    st = d.styles["Normal"]
    st.font.name = name
    rpr = st.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _fill_table(t, lt: LTable, split: bool) -> dict:
    """Merge and fill a python-docx table from the layout; returns key -> (col0, row0, col1, row1)."""
    boxes = {}
    for c in lt.cells:
        cell = t.cell(c.row, c.col)
        if c.rowspan > 1 or c.colspan > 1:
            cell = cell.merge(t.cell(c.row + c.rowspan - 1, c.col + c.colspan - 1))
        text = c.text or ""
        paras = [text]
        if split and c.role == "label" and len(text) >= 8:
            k = len(text) // 2
            paras = [text[:k], text[k:]]
        cell.text = paras[0]
        for p in paras[1:]:
            cell.add_paragraph(p)
        if c.key:
            boxes[c.key] = (c.col, c.row, c.col + c.colspan, c.row + c.rowspan)
    return boxes


def render_docx(lay: DocLayout, year: int, style: dict) -> tuple[bytes, dict]:
    """The .docx bytes and {key: [table, col0, row0, col1, row1]}."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from lxml import etree
    d = docx.Document()
    _font(d, lay.font)
    cells: dict[str, list[int]] = {}
    n_tables = 0
    host = d
    for b in lay.blocks:
        if b.kind == "title":
            if style.get("textbox_title"):
                p = d.add_paragraph()
                box = etree.fromstring(_TEXTBOX)
                box.find(".//{*}t").text = b.text
                p._p.append(box)
            else:
                p = d.add_paragraph()
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                p.add_run(b.text).bold = True
        elif b.kind == "heading":
            d.add_paragraph().add_run(b.text).bold = True
        elif b.kind == "para":
            d.add_paragraph(b.text)
        elif b.kind == "sign":
            for s in (b.text, f"{year + 1}年1月{15 + year % 13}日"):
                d.add_paragraph(s).alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif b.kind == "table":
            lt = b.table
            if style.get("nested"):
                outer = d.add_table(rows=1, cols=1)
                host = outer.cell(0, 0)
                t = host.add_table(rows=lt.n_rows, cols=lt.n_cols)
            else:
                t = d.add_table(rows=lt.n_rows, cols=lt.n_cols)
            t.style = "Table Grid"
            n_tables += 1
            for k, bb in _fill_table(t, lt, style.get("split_labels", False)).items():
                cells[k] = [n_tables, *bb]
    buf = io.BytesIO()
    d.core_properties.author = "gouji synth"
    d.save(buf)
    return _deterministic(buf.getvalue()), cells


def _deterministic(data: bytes) -> bytes:
    """Fixed zip timestamps and core-property dates, so the same seed gives the same bytes."""
    import re
    import zipfile
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            raw = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                raw = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2025-01-01T00:00:00Z", raw)
            zi = copy.copy(info)
            zi.date_time = (2025, 1, 1, 0, 0, 0)
            z.writestr(zi, raw)
    return out.getvalue()
