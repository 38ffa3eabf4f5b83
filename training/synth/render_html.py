"""Saved-web-page rendition of a laid-out report, the way government portals publish them,
with a seeded style per document (recorded in the truth):

* markup: `table` (<table> with rowspan/colspan), `p_cells` (every cell's text in <p>, long
  labels over two <p>s), `div` (a grid of nested <div class="tr"><div class="td">, spans in
  data-rowspan and `grid-column: span N`);
* `layout_table`: the whole article inside a one-cell layout <table>, as older portals do;
* chrome: portal navigation, breadcrumb and a footer with telephone, ICP and visitor
  numbers (which must not be read as report figures);
* encoding: utf-8 (declared), gbk (declared gb2312), gbk_nometa (no declaration at all);
* container: html, or mhtml ("网页，全部": MIME multipart/related, quoted-printable).

Truth per value cell: [table number, col0, row0, col1, row1] (docs/office.md).
"""
from __future__ import annotations

import html
import quopri

from .layout import DocLayout, LTable


def _pick(rng, weights: dict) -> str:
    names = list(weights)
    tot = float(sum(weights.values()))
    x = rng.random() * tot
    for n in names:
        x -= float(weights[n])
        if x <= 0:
            return n
    return names[-1]


def pick_style(rng, cfg: dict) -> dict:
    c = cfg.get("html", {})
    return {"markup": _pick(rng, c.get("markup", {"table": 0.5, "p_cells": 0.3, "div": 0.2})),
            "layout_table": bool(rng.random() < c.get("layout_table_p", 0.2)),
            "chrome": bool(rng.random() < c.get("chrome_p", 0.7)),
            "encoding": _pick(rng, c.get("encoding", {"utf-8": 0.5, "gbk": 0.3, "gbk_nometa": 0.2})),
            "container": "mhtml" if rng.random() < c.get("mhtml_p", 0.2) else "html"}


_NAV = ('<div class="top-nav"><ul><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li>'
        '<li><a href="/xxgk/">政府信息公开</a></li><li><a href="/hdjl/">互动交流</a></li>'
        '<li><a href="/bsfw/">办事服务</a></li></ul></div>\n'
        '<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/xxgk/">政府信息公开</a> &gt; '
        '<a href="/xxgk/ndbg/">政府信息公开年报</a></div>\n')
_FOOT = ('<div class="footer"><p>主办单位：{agency}　地址：人民路{n1}号　电话：0{n2}-{n3}</p>'
         '<p>网站标识码：{n4}　ICP备{n5}号-{n6}　公网安备 {n7}号</p><p>访问量：{n8}</p></div>\n')


def _cell_html(text: str, markup: str, label: bool) -> str:
    t = html.escape(text or "")
    if markup != "p_cells":
        return t
    if label and len(text) >= 8:
        k = len(text) // 2
        return f"<p>{html.escape(text[:k])}</p><p>{html.escape(text[k:])}</p>"
    return f'<p style="text-align:center"><span>{t}</span></p>'


def _table_html(t: LTable, markup: str) -> str:
    by_row: dict[int, list] = {}
    for c in t.cells:
        by_row.setdefault(c.row, []).append(c)
    out = []
    if markup == "div":
        out.append('<div class="table" style="display:grid">')
        for r in range(t.n_rows):
            out.append('<div class="tr">')
            for c in sorted(by_row.get(r, []), key=lambda c: c.col):
                attrs = ""
                if c.rowspan > 1:
                    attrs += f' data-rowspan="{c.rowspan}"'
                style = f' style="grid-column: span {c.colspan}"' if c.colspan > 1 else ""
                out.append(f'<div class="td"{attrs}{style}>{_cell_html(c.text, markup, c.role == "label")}</div>')
            out.append("</div>")
        out.append("</div>")
        return "\n".join(out)
    out.append('<table border="1" cellspacing="0" cellpadding="2" style="border-collapse:collapse">')
    for r in range(t.n_rows):
        out.append("<tr>")
        for c in sorted(by_row.get(r, []), key=lambda c: c.col):
            attrs = (f' rowspan="{c.rowspan}"' if c.rowspan > 1 else "") + (f' colspan="{c.colspan}"' if c.colspan > 1 else "")
            out.append(f"<td{attrs}>{_cell_html(c.text, markup, c.role == 'label')}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_html(lay: DocLayout, year: int, agency: str, style: dict, rng) -> tuple[bytes, str, dict]:
    """(file bytes, suffix ".html"|".mhtml", {key: [table, col0, row0, col1, row1]})."""
    markup = style["markup"]
    body, cells, n = [], {}, 0
    title = ""
    for b in lay.blocks:
        if b.kind == "title":
            title = b.text
            body.append(f'<h1 class="article-title" style="text-align:center">{html.escape(b.text)}</h1>')
            body.append('<div class="info">发布时间：' f"{year + 1}-01-{15 + year % 13:02d}　来源：本站</div>")
        elif b.kind == "heading":
            body.append(f"<p><strong>{html.escape(b.text)}</strong></p>")
        elif b.kind == "para":
            body.append(f'<p style="text-indent:2em">{html.escape(b.text)}</p>')
        elif b.kind == "sign":
            body.append(f'<p style="text-align:right">{html.escape(b.text)}</p>')
            body.append(f'<p style="text-align:right">{year + 1}年1月{15 + year % 13}日</p>')
        elif b.kind == "table":
            n += 1
            body.append(_table_html(b.table, markup))
            for c in b.table.cells:
                if c.key:
                    cells[c.key] = [n, c.col, c.row, c.col + c.colspan, c.row + c.rowspan]
    article = "\n".join(body)
    if style.get("layout_table"):
        article = f'<table width="100%" class="layout"><tr><td class="content">\n{article}\n</td></tr></table>'
    chrome_top = _NAV if style.get("chrome") else ""
    nums = {f"n{i}": int(rng.integers(10, 99999)) for i in range(1, 9)}
    chrome_foot = _FOOT.format(agency=html.escape(agency), **nums) if style.get("chrome") else ""
    enc = style["encoding"]
    meta = {"utf-8": '<meta charset="utf-8">', "gbk": '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
            "gbk_nometa": ""}[enc]
    page = (f"<!DOCTYPE html>\n<html><head>{meta}<title>{html.escape(title)}</title></head>\n<body>\n{chrome_top}"
            f'<div class="article">\n{article}\n</div>\n{chrome_foot}</body></html>\n')
    data = page.encode("utf-8" if enc == "utf-8" else "gb18030")
    if style.get("container") == "mhtml":
        cs = "utf-8" if enc == "utf-8" else "gb2312"
        qp = quopri.encodestring(data)
        bnd = "----MultipartBoundary--gouji" + str(int(rng.integers(1e6, 1e7)))
        mh = (f"From: <Saved by Blink>\r\nSnapshot-Content-Location: http://www.example.gov.cn/xxgk/ndbg/{year}.html\r\n"
              f"Subject: =?utf-8?Q?report?=\r\nMIME-Version: 1.0\r\n"
              f'Content-Type: multipart/related;\r\n\ttype="text/html";\r\n\tboundary="{bnd}"\r\n\r\n\r\n'
              f"--{bnd}\r\nContent-Type: text/html; charset=\"{cs}\"\r\nContent-ID: <frame-1@mhtml.blink>\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n"
              f"Content-Location: http://www.example.gov.cn/xxgk/ndbg/{year}.html\r\n\r\n").encode("ascii")
        mh += qp.replace(b"\n", b"\r\n") + (f"\r\n--{bnd}\r\nContent-Type: text/css\r\n"
                                             "Content-Transfer-Encoding: quoted-printable\r\n"
                                             "Content-Location: http://www.example.gov.cn/css/main.css\r\n\r\n"
                                             f"body {{ font-size: 14px; }}\r\n--{bnd}--\r\n").encode("ascii")
        return mh, ".mhtml", cells
    return data, ".html", cells
