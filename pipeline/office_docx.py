""".docx read from the OOXML itself (lxml): w:gridSpan, w:vMerge, w:gridBefore, nested tables,
text boxes read once, content controls, deleted tracked changes and hidden runs dropped,
automatic list numbers written out (pipeline/office.py has the whole story)."""
from __future__ import annotations

import re

from .model import Cell, Document
from .office_base import OfficeError, grid_pages, is_layout, open_zip, xml

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


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
        self.starts: dict[int, int] = {}               # a body-level table's slot -> its place in lines
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

    def _children(self, el, tag: str):
        """`tag` children of el, looking through content controls and tracked insertions."""
        for ch in el:
            t = _local(ch)
            if t == tag:
                yield ch
            elif t in ("sdt", "sdtContent", "customXml", "ins"):
                yield from self._children(ch, tag)

    def _rows(self, tbl):
        return self._children(tbl, "tr")

    def _tcs(self, tr):
        return self._children(tr, "tc")

    def table(self, tbl, lines: list[str], depth: int) -> None:
        slot = len(self.tables)
        self.tables.append(None)
        if lines is self.lines:
            self.starts[slot] = len(lines)
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


def read_docx(data: bytes, doc: Document) -> Document:
    z = open_zip(data, "Word (.docx)")
    with z:
        root = xml(z, "word/document.xml", "Word (.docx)")
        try:
            numbering = _Numbering(xml(z, "word/numbering.xml", "Word (.docx)")
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
    joined = _joined_text(w, doc)
    if joined is not None:      # table cells holding whole rows run together: read as text
        from .read import read_text
        doc.warnings.append("Word tables hold rows whose cells ran together: read as text and split")
        return read_text(joined, doc)
    return grid_pages([(cells, "") for cells in w.tables if cells], doc)


def _joined_text(w: _Docx, doc: Document) -> str | None:
    """The document as flattened text (its body-level tables a line per row, in place),
    its joined rows split, when a table cell holds rows whose cells ran together (a
    label and a digit run, or several values glued): as a web page's (webpage.py,
    pipeline/joined.py). None, doc untouched, when none does."""
    from .joined import glued_cells, grid_lines, unjoin
    from .model import Source
    grids = {slot: w.tables[slot] for slot in w.starts if w.tables[slot]}
    texts = [c.text for cells in grids.values() for c in cells]
    if not any(re.search(r"\d\d", t) for t in texts):
        return None       # no cell holds two digits: nothing can have run together
    at: dict[int, list[str]] = {}
    for slot, cells in grids.items():
        rows: dict[int, list[Cell]] = {}
        for c in cells:
            rows.setdefault(c.row, []).append(c)
        at.setdefault(w.starts[slot], []).append(
            grid_lines([[c.text for c in sorted(r, key=lambda c: c.col)] for _, r in sorted(rows.items())]))
    lines = []
    for n in range(len(w.lines) + 1):
        lines += at.get(n, [])
        if n < len(w.lines):
            lines.append(w.lines[n])
    probe = Document(Source("probe"))
    text = unjoin("\n".join(x.rstrip() for x in lines if x.strip()), probe, proven=glued_cells(texts))
    if not probe.joined:
        return None
    doc.joined.extend(probe.joined)
    doc.warnings.extend(probe.warnings)
    return text

