"""Joined-cell renditions (issue #21): a report's text as portal crawlers, search caches
and some copy-paste paths keep a web page's tables: each row's cells run together with
no separator (`一、本年新收政府信息公开申请数量801000081`), or the whole report on one line.

Made from a real extractor's text (poppler's `pdftotext -layout` of the synthetic digital
PDFs), not written by the generator: a line's wide gaps between cells are removed, single
spaces inside a cell's text (and between values a narrow column left one space apart)
stay. The truth is the PDF's truth unchanged: only separators go.
"""
from __future__ import annotations

import re

_GAP = re.compile(r"[ \t\u3000]{2,}|\u3000")


_FOOTER = re.compile(r"^\s*[—–-]\s+\d{1,3}\s+[—–-]\s*$")


def join_rows(text: str) -> str:
    """Every line with its cells run together: the wide gaps between them removed (a
    page number line, which a web page would not have, stays as the extractor wrote it)."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        out.append(line.strip() if _FOOTER.match(line) else _GAP.sub("", line.strip(" \t\u3000")))
    return "\n".join(out)


def one_line(text: str) -> str:
    """The whole report on one line: rows joined as by join_rows, then the lines (and
    form feeds) run together with nothing between them, as a page's textContent."""
    return "".join(s for s in join_rows(text.replace("\f", "\n")).split("\n") if s)


_VALUE = re.compile(r"[0-9０-９.]+(?:[(（]?[件项个条次人宗份][)）]?)?|[—/／\-－–]")


def join_raw(text: str) -> str:
    """From `pdftotext -raw` text (a row's values single-space separated after its label):
    the spaces before and between a line's trailing values removed (规章 0 0 25 →
    规章0025). Held out: tuned on -layout, never on this."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        toks = line.split()
        k = len(toks)
        while k and _VALUE.fullmatch(toks[k - 1]):
            k -= 1
        if k < len(toks) and not _FOOTER.match(line) and (k or len(toks) > 1):
            line = " ".join(toks[:k]) + "".join(toks[k:])
        out.append(line)
    return "\n".join(out)


RENDITIONS = {"joined-rows": join_rows, "one-line": one_line, "joined-raw": join_raw}
SOURCES = {"joined-rows": "pdftotext-layout", "one-line": "pdftotext-layout", "joined-raw": "pdftotext-raw"}


_CELL_VALUE = re.compile(r"[0-9０-９.,]*(?:[(（]?[件项个条次人宗份][)）]?)?|[—/／\-－–]")


def _rows_and_cells(root):
    """(row, its cells, is a div grid) of a page's <table> rows and div-grid rows
    (render_html's `div` markup: <div class="tr"><div class="td" style="grid-column: span N">)."""
    for tr in root.iter("tr"):
        yield tr, [td for td in tr if isinstance(td.tag, str) and td.tag.lower() in ("td", "th")], False
    for row in root.iter("div"):
        if "tr" in (row.get("class") or "").split():
            yield row, [c for c in row if isinstance(c.tag, str) and "td" in (c.get("class") or "").split()], True


def _colspan(cell, div: bool) -> int:
    if div:
        m = re.search(r"grid-column:\s*span\s*(\d+)", cell.get("style") or "")
        return int(m.group(1)) if m else 1
    return int(cell.get("colspan") or 1)


def join_html(html: str, shape: str = "values") -> str | None:
    """A saved web page (.html) whose table rows lost their inner cell boundaries, as a
    CMS or crawler that kept a row's text in one cell saves it: `values` keeps the
    label's cells and runs every value of the row together in one cell; `row` puts the
    whole row (label and values) in one cell. <table> rows and div-grid rows alike; only
    rows ending in at least two values change; None when the page has none."""
    import lxml.html
    root = lxml.html.document_fromstring(html)
    changed = 0
    for tr, tds, div in list(_rows_and_cells(root)):
        texts = [re.sub(r"\s+", "", td.text_content()) for td in tds]
        k = len(tds)
        while k and _CELL_VALUE.fullmatch(texts[k - 1]):
            k -= 1
        vals = texts[k:]
        if sum(1 for v in vals if v) < 2 or not any(re.search(r"\d", v) for v in vals):
            continue
        rowspan = "data-rowspan" if div else "rowspan"
        span = sum(_colspan(td, div) for td in tds[k:])
        keep = tds[:k]
        if shape == "row":
            own = [td for td in keep if not td.get(rowspan)]
            label = "".join(texts[i] for i, td in enumerate(keep) if not td.get(rowspan))
            span += sum(_colspan(td, div) for td in own)
            for td in own:
                tr.remove(td)
            run = label + "".join(vals)
        else:
            run = "".join(vals)
        for td in tds[k:]:
            tr.remove(td)
        inner = f'<p class="MsoNormal"><span>{run}</span></p>'
        cell = (f'<div class="td" style="grid-column: span {span}">{inner}</div>' if div
                else f'<td colspan="{span}">{inner}</td>')
        tr.append(lxml.html.fromstring(cell))
        changed += 1
    if not changed:
        return None
    out = lxml.html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")
    out = re.sub(r"<meta[^>]*charset[^>]*>", "", out, flags=re.I)
    return out.replace("<head>", '<head><meta charset="utf-8">', 1)
