"""Saved web pages: .html/.htm in UTF-8, GBK or GB18030 (declared in a meta tag or not),
.mhtml/.mht ("网页，全部"), read with lxml.html.

* Encoding: a BOM, else strict UTF-8, else the charset the page or MIME part declares,
  else GB18030 (a superset of GBK/GB2312), else Big5. Real portal pages often declare
  gb2312 and hold GBK characters, or declare UTF-8 and are GBK: the bytes decide first.
* The portal's chrome (navigation, header, footer, breadcrumbs, share bars: tags, ARIA
  roles and class/id words in configs/office.yaml) is dropped unless it holds a table or
  the report's title.
* Tables: <table> with rowspan/colspan resolved (numbers in <p>/<span>/<div> inside cells
  joined), and grids built from nested <div>/<ul> (class, role or CSS display naming
  table/row/cell). A layout table that holds other tables contributes its own text to the
  page text, not a grid.
* Each grid table is a Page of its own; a cell's bbox is its grid position, as for Word
  (pipeline/office.py, docs/office.md). A page without any table is read as flattened
  text (pipeline/read.read_text).
"""
from __future__ import annotations

import email
import email.policy
import re

from .model import Cell, Document

_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "dd", "dt",
          "blockquote", "pre", "ul", "ol", "table", "center", "hr"}


def _cfg() -> dict:
    from .templates import config
    return config("office.yaml").get("webpage", {})


def _norm_charset(cs: str | None) -> str | None:
    if not cs:
        return None
    cs = cs.strip().strip("\"'").lower()
    if cs in ("gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"):
        return "gb18030"
    return cs


def decode_page(data: bytes, declared: str | None = None) -> tuple[str | None, str]:
    """(text, encoding) of a web page, or (None, reason)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace"), "utf-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    m = _META.search(data[:8192])
    meta = _norm_charset(m.group(1).decode("ascii", "ignore")) if m else None
    tried = []
    for enc in ("utf-8", _norm_charset(declared), meta, "gb18030", "big5"):
        if not enc or enc in tried:
            continue
        tried.append(enc)
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    return None, "web page not decodable as UTF-8, GBK/GB18030 or Big5"


def mhtml_html(data: bytes) -> tuple[bytes, str | None]:
    """The page's HTML and its declared charset from an MHTML archive (the `start` part,
    else the first text/html part)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    start = (msg.get_param("start") or "").strip("<>") if msg.is_multipart() else ""
    parts = [p for p in msg.walk() if p.get_content_type() == "text/html"]
    if start:
        parts = [p for p in parts if (p.get("Content-ID") or "").strip("<>") == start] + parts
    if not parts:
        raise ValueError("MHTML archive without an HTML part")
    part = parts[0]
    body = part.get_payload(decode=True) or b""
    return body, part.get_content_charset()


# ----------------------------------------------------------------------------- chrome

def _words(el) -> set[str]:
    s = " ".join(filter(None, (el.get("class"), el.get("id")))).lower()
    return {w for w in re.split(r"[\s_\-]+", s) if w}


def _drop_chrome(root, cfg: dict) -> int:
    tags = set(cfg.get("drop_tags", []))
    roles = set(cfg.get("drop_roles", []))
    words = {w.lower() for w in cfg.get("drop_words", [])}
    keep = re.compile(cfg.get("keep_if_text") or r"(?!)")
    tw = set(cfg.get("div_table_words", [])) | {"table"}
    grid = tw | set(cfg.get("div_row_words", [])) | set(cfg.get("div_cell_words", []))
    gone = 0
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        tag = el.tag.lower()
        chrome = tag in tags or (el.get("role") or "").lower() in roles or bool(_words(el) & words)
        if not chrome:
            continue
        if tag not in ("script", "style", "noscript", "template"):
            if _has(el, grid) or any(_has(a, tw) for a in el.iterancestors()):
                continue      # a div grid's header row or cell, not the portal's header

            if el.find(".//table") is not None or el.find(".//td") is not None:
                continue
            text = el.text_content()
            if keep.search(text) and len(text) < 20000 and tag not in ("nav",):
                # a header holding the report title stays; a link list mentioning it does not
                if len(el.findall(".//a")) < 5:
                    continue
        _remove(el)
        gone += 1
    return gone


def _remove(el) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    prev = el.getprevious()
    parent.remove(el)
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


# ----------------------------------------------------------------------------- text

def _text(el, skip_tables: bool = True, rendered: dict | None = None) -> str:
    """Text of an element with block elements as line breaks, nested tables left out
    (`rendered`: elements written as the given text instead)."""
    out: list[str] = []

    def walk(e):
        for ch in e:
            if not isinstance(ch.tag, str):
                if ch.tail:
                    out.append(ch.tail)
                continue
            tag = ch.tag.lower()
            if rendered and ch in rendered:
                out.append("\n" + rendered[ch] + "\n")
            elif skip_tables and tag == "table":
                out.append("\n")
            else:
                if tag in _BLOCK:
                    out.append("\n")
                if ch.text:
                    out.append(ch.text)
                walk(ch)
                if tag in _BLOCK:
                    out.append("\n")
            if ch.tail:
                out.append(ch.tail)
    if el.text:
        out.append(el.text)
    walk(el)
    return "".join(out)


def _cell_text(el) -> str:
    txt = re.sub(r"\s*\n\s*", "", _text(el).replace("\u00a0", " ")).strip()
    return re.sub(r"\s+", " ", txt)


def _span(v) -> int:
    try:
        return max(1, min(100, int(str(v).strip() or 1)))
    except (TypeError, ValueError):
        return 1


# ----------------------------------------------------------------------------- grids

def _own(table, tags: tuple[str, ...]):
    """Elements with these tags whose nearest enclosing table is `table`."""
    for el in table.iter(*tags):
        t = el.getparent()
        while t is not None and (not isinstance(t.tag, str) or t.tag.lower() != "table"):
            t = t.getparent()
        if t is table:
            yield el


def _html_grid(table) -> list[Cell]:
    from .read import grid_cells
    rows = []
    for tr in _own(table, ("tr",)):
        row = []
        for td in tr:
            if isinstance(td.tag, str) and td.tag.lower() in ("td", "th"):
                row.append((_cell_text(td), _span(td.get("rowspan", 1)), _span(td.get("colspan", 1))))
        rows.append(row)
    return grid_cells(rows)


def _has(el, words: set[str]) -> bool:
    style = (el.get("style") or "").lower().replace(" ", "")
    disp = re.findall(r"display:([a-z\-]+)", style)
    return bool((_words(el) | {(el.get("role") or "").lower()} | set(disp)) & words)


def _div_grids(root, cfg: dict) -> list:
    """Containers whose children are rows and whose rows' children are cells."""
    tw = set(cfg.get("div_table_words", [])) | {"table"}
    rw = set(cfg.get("div_row_words", [])) | {"row", "table-row"}
    cw = set(cfg.get("div_cell_words", [])) | {"cell", "table-cell", "gridcell", "columnheader", "rowheader"}
    out = []
    for el in root.iter("div", "ul", "section"):
        if not _has(el, tw) or any(_has(a, tw) and a in out for a in el.iterancestors()):
            continue
        rows = [ch for ch in el if isinstance(ch.tag, str) and _has(ch, rw)
                and any(isinstance(c.tag, str) and (_has(c, cw) or c.tag.lower() in ("li", "span", "div")) for c in ch)]
        if len(rows) >= 2:
            out.append(el)
    return out


def _div_rows(el, cfg: dict) -> list[list]:
    """A div grid's rows: the row elements' cell elements."""
    rw = set(cfg.get("div_row_words", [])) | {"row", "table-row"}
    cw = set(cfg.get("div_cell_words", [])) | {"cell", "table-cell", "gridcell", "columnheader", "rowheader"}
    return [[c for c in r if isinstance(c.tag, str) and (_has(c, cw) or c.tag.lower() in ("li", "span", "div"))]
            for r in el if isinstance(r.tag, str) and _has(r, rw)]


def _div_grid(el, cfg: dict) -> list[Cell]:
    from .read import grid_cells
    rows = []
    for cells in _div_rows(el, cfg):
        row = []
        for c in cells:
            cs = c.get("colspan") or c.get("data-colspan")
            rs = c.get("rowspan") or c.get("data-rowspan")
            m = re.search(r"grid-column:\s*span\s*(\d+)", c.get("style") or "")
            mr = re.search(r"grid-row:\s*span\s*(\d+)", c.get("style") or "")
            row.append((_cell_text(c), _span(rs or (mr.group(1) if mr else 1)), _span(cs or (m.group(1) if m else 1))))
        rows.append(row)
    return grid_cells(rows)


# ----------------------------------------------------------------------------- joined cells

def _grid_cell_texts(grid, cfg: dict) -> list[list[str]]:
    """A grid's rows as their cells' texts: a <table>'s own <tr>s, or a div grid's rows."""
    if grid.tag.lower() == "table":
        return [[_cell_text(td) for td in tr if isinstance(td.tag, str) and td.tag.lower() in ("td", "th")]
                for tr in _own(grid, ("tr",))]
    return [[_cell_text(c) for c in cells] for cells in _div_rows(grid, cfg)]


def joined_page_text(body, tables: list, doc: Document, cfg: dict | None = None) -> str | None:
    """The page as flattened text, its joined rows split (recorded on doc.joined, as
    joined.unjoin does), when one of its grids (<table>s or div grids) holds rows whose
    cells ran together (a cell holding a label and a digit run, or several values in one
    cell: `一、本年新收…801000081`, `80 | 1000081`, `——22`): the same detection and
    splitting as flattened text (pipeline/joined.py). None, doc untouched, when no grid does."""
    from .joined import glued_cells, grid_lines, unjoin
    from .model import Source
    cfg = _cfg() if cfg is None else cfg
    rows = {t: _grid_cell_texts(t, cfg) for t in tables}
    texts = [c for r in rows.values() for cells in r for c in cells]
    if not any(re.search(r"\d\d", c) for c in texts):
        return None       # no cell holds two digits: nothing can have run together
    glued = glued_cells(texts)
    text = _text(body, skip_tables=False, rendered={t: grid_lines(r) for t, r in rows.items()})
    text = re.sub(r"[\t\u00a0\u3000]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
    probe = Document(Source("probe"))
    text = unjoin(text, probe, proven=glued)
    if not probe.joined:
        return None
    doc.joined.extend(probe.joined)
    doc.warnings.extend(probe.warnings)
    return text


# ----------------------------------------------------------------------------- entry point

def read_webpage(data: bytes, doc: Document) -> Document:
    """A saved web page into doc: grid tables + the page's text (never raises)."""
    import lxml.html
    from lxml import etree

    from .office import grid_pages, is_layout
    from .read import read_text
    cfg = _cfg()
    declared = None
    head = data[:4096].lower()
    if b"mime-version:" in head and b"multipart/related" in head:
        doc.source.kind = "mhtml"
        try:
            data, declared = mhtml_html(data)
        except Exception as e:   # email's parser is lenient; a broken archive still lands here
            return doc.fail(f"corrupt MHTML web archive: {e}")
    else:
        doc.source.kind = "html"
    text, enc = decode_page(data, declared)
    if text is None:
        return doc.fail(enc)
    if enc not in ("utf-8",):
        doc.warnings.append(f"web page decoded as {enc}")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", text)   # lxml refuses control characters
    if not text.strip():
        return doc.fail("empty web page")
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        return doc.fail(f"could not parse HTML: {e}")
    for bad in root.iter(etree.Comment, etree.ProcessingInstruction):
        bad.text = ""
    _drop_chrome(root, cfg)
    body = root.find("body") if root.find("body") is not None else root
    grids: list[tuple[list[Cell], str]] = []
    slots: list = []          # (element, cells) in document order
    divs = [d for d in _div_grids(body, cfg) if d.find(".//table") is None]
    for d in divs:
        slots.append((d, _div_grid(d, cfg)))
    for t in body.iter("table"):
        cells = _html_grid(t)
        holds = any(x is not t for x in t.iter("table")) or any(t in d.iterancestors() for d in divs)
        if (holds and is_layout(cells)) or len(cells) == 1:
            continue          # a layout table around the article: its own text is page text
        slots.append((t, cells))
    order = {el: i for i, el in enumerate(body.iter())}
    slots.sort(key=lambda s: order.get(s[0], 0))
    tables = [el for el, cells in slots if cells]      # <table>s and div grids
    text_of_joined = joined_page_text(body, tables, doc, cfg) if tables else None
    if text_of_joined is not None:      # cells holding whole rows: read as flattened text
        doc.warnings.append("web page tables hold rows whose cells ran together: read as text and split")
        return read_text(text_of_joined, doc)
    grids = [(cells, "") for _, cells in slots if cells]
    for el, _ in slots:       # page text: everything outside the grids
        if el.getparent() is not None:
            el.drop_tree()
    plain = _text(body, skip_tables=False)
    plain = re.sub(r"[ \t\u00a0\u3000]+", " ", plain)
    plain = re.sub(r"\n\s*\n+", "\n\n", plain).strip()
    if not grids:   # an HTML page whose tables were flattened into text
        return read_text(plain, doc)
    doc.text = plain
    return grid_pages(grids, doc)
