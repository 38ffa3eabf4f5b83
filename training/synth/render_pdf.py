"""Digital PDF of a laid-out report, drawn with reportlab so that every ruling line and
cell box is known exactly (the truth bboxes, PDF points, origin top-left).

Output bytes are deterministic: reportlab's `invariant` mode fixes dates and IDs.
"""
from __future__ import annotations

import functools
import io

from reportlab.lib.pagesizes import A4, landscape as _landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas

from .layout import DocLayout, LTable


@functools.lru_cache(maxsize=None)
def register_font(name: str, path: str, index: int = 0) -> str:
    """Register a TrueType(-collection) CJK font once per process."""
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    return name


def text_width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


_NO_LINE_START = set("，。、；：？！）》」』”’,.;:?!)%")


def wrap(text: str, font: str, size: float, width: float, indent: float = 0.0) -> list[str]:
    """Character-wise line breaking (CJK has no spaces); at least one char per line."""
    if not text:
        return []
    lines, cur, cw = [], "", indent
    for ch in text:
        w = pdfmetrics.stringWidth(ch, font, size)
        if cur and cw + w > width and ch not in _NO_LINE_START:
            lines.append(cur)
            cur, cw = ch, w
        else:
            cur += ch
            cw += w
    if cur:
        lines.append(cur)
    return lines


class Flow:
    """Pages with a top-left y cursor; collects what was placed where."""

    def __init__(self, lay: DocLayout):
        self.lay = lay
        self.buf = io.BytesIO()
        self.c = rl_canvas.Canvas(self.buf, invariant=1, pageCompression=1)
        self.c.setAuthor("gouji synth")
        self.c.setTitle("synthetic report")
        self.pages: list[dict] = []
        self.at_foot: list[str] = []     # tables whose header rows were drawn at the foot of a page
        self.landscape = lay.landscape
        self._new_page(first=True)

    # page handling
    def _size(self):
        return _landscape(A4) if self.landscape else A4

    def _new_page(self, first=False):
        if not first:
            self._footer()
            self.c.showPage()
        w, h = self._size()
        self.c.setPageSize((w, h))
        self.W, self.H = float(w), float(h)
        self.pages.append({"width": round(self.W, 3), "height": round(self.H, 3),
                           "orientation": "landscape" if self.landscape else "portrait"})
        m = self.lay.margin
        self.x0, self.x1 = m, self.W - m
        self.top, self.bottom = m * 0.9, self.H - m * 0.9
        self.y = self.top
        self.c.setLineWidth(self.lay.line_width)
        if self.lay.running_header and len(self.pages) > 1:
            self._running_header()

    def _running_header(self):
        """The report's running header in the top margin (split_table geometry), with a rule."""
        s, size = self.lay.running_header, 8.5
        w = text_width(s, self.lay.font, size)
        y = self.top * 0.45
        self.text_line(s, (self.W - w) / 2, y, size)
        if self.lay.running_rule:
            ry = self.H - (y + size * 1.5)
            self.c.line(self.x0, ry, self.x1, ry)

    def _footer(self):
        n = len(self.pages)
        s = self.lay.page_number.format(n=n)
        self.c.setFont(self.lay.font, 9)
        self.c.drawCentredString(self.W / 2, self.H - (self.H - self.bottom) / 2 - 3, s)

    @property
    def page(self) -> int:
        return len(self.pages)

    def ensure(self, h: float):
        if self.y + h > self.bottom and self.y > self.top + 1:
            self._new_page()

    def text_line(self, s: str, x: float, y_top: float, size: float, font: str | None = None, bold=False):
        font = font or self.lay.font
        self.c.setFont(font, size)
        base = self.H - (y_top + size * 0.88)
        if bold:
            t = self.c.beginText(x, base)
            t.setFont(font, size)
            t.setTextRenderMode(2)
            t.textOut(s)
            t.setTextRenderMode(0)  # Tr persists in the graphics state
            self.c.setLineWidth(size * 0.03)
            self.c.drawText(t)
            self.c.setLineWidth(self.lay.line_width)
        else:
            self.c.drawString(x, base, s)

    # blocks
    def title(self, s: str):
        size = self.lay.title_size
        for line in wrap(s, self.lay.font, size, self.x1 - self.x0):
            w = text_width(line, self.lay.font, size)
            self.ensure(size * 1.5)
            self.text_line(line, (self.W - w) / 2, self.y, size, bold=True)
            self.y += size * 1.5
        self.y += size * 0.8

    def heading(self, s: str):
        size = self.lay.body_size
        self.ensure(size * 4)
        self.y += size * 0.4
        self.text_line(s, self.x0 + 2 * size, self.y, size, bold=True)
        self.y += size * 1.8

    def para(self, s: str):
        size = self.lay.body_size
        lead = size * 1.65
        lines = wrap(s, self.lay.font, size, self.x1 - self.x0, indent=2 * size)
        for i, line in enumerate(lines):
            self.ensure(lead)
            x = self.x0 + (2 * size if i == 0 else 0)
            self.text_line(line, x, self.y, size)
            self.y += lead
        self.y += size * 0.3

    def sign(self, agency: str, year: int):
        size = self.lay.body_size
        self.ensure(size * 5)
        self.y += size * 1.5
        for s in (agency, f"{year + 1}年1月{15 + year % 13}日"):
            w = text_width(s, self.lay.font, size)
            self.text_line(s, self.x1 - w - size * 2, self.y, size)
            self.y += size * 1.8

    def table(self, t: LTable, repeat_header: bool, value_align: str) -> list[dict]:
        """Lay a table out row by row, breaking pages between rows; returns cell records."""
        font, fs = self.lay.font, t.font_size
        pad = fs * 0.35
        lead = fs * 1.3
        width = (self.x1 - self.x0) * t.width_frac
        if t.col_em:
            width = min(width, t.n_cols * (fs * t.col_em + 2 * pad))
        cw = self._widths(t, width, pad)
        width = sum(cw)
        tx0 = self.x0 + ((self.x1 - self.x0) - width) / 2
        cx = [tx0]
        for w in cw:
            cx.append(cx[-1] + w)
        lines = {}
        for i, cell in enumerate(t.cells):
            inner = cx[cell.col + cell.colspan] - cx[cell.col] - 2 * pad
            lines[i] = wrap(cell.text, font, fs, max(inner, fs * 0.6))
        hts = [fs * 1.25 + 2 * pad] * t.n_rows
        for i, cell in enumerate(t.cells):
            if cell.rowspan == 1:
                hts[cell.row] = max(hts[cell.row], len(lines[i]) * lead + 2 * pad)
        for i, cell in enumerate(t.cells):
            if cell.rowspan > 1:
                need = len(lines[i]) * lead + 2 * pad
                have = sum(hts[cell.row:cell.row + cell.rowspan])
                if need > have:
                    for r in range(cell.row, cell.row + cell.rowspan):
                        hts[r] += (need - have) / cell.rowspan
        hr = t.header_rows
        head_h = sum(hts[:hr])
        pos: dict[int, tuple[int, float]] = {}
        repeats: list[dict] = []
        at_foot = self.lay.header_at_foot == t.kind and hr and self.y + head_h + 2 <= self.bottom
        if at_foot:     # the header rows end this page (space left above them), the body starts the next
            self.y = self.bottom - head_h - 1
            self.at_foot.append(t.kind)
        else:
            self.ensure(head_h + (hts[hr] if hr < t.n_rows else 0) + 2)
        page, y = self.page, self.y
        for r in range(t.n_rows):  # simulate the flow first; pages are drawn in order below
            if r >= hr and (y + hts[r] > self.bottom or (at_foot and r == hr)
                            or (r == t.break_before and r > hr and y > self.top + 1)):
                page, y = page + 1, self.top
                if repeat_header and hr:
                    repeats.append({"page": page, "y": y})
                    y += head_h
            pos[r] = (page, y)
            y += hts[r]
        items = []
        records = []
        for i, cell in enumerate(t.cells):
            frags: dict[int, list[float]] = {}
            for r in range(cell.row, cell.row + cell.rowspan):
                p, yy = pos[r]
                f = frags.setdefault(p, [cx[cell.col], yy, cx[cell.col + cell.colspan], yy + hts[r]])
                f[3] = yy + hts[r]
            fl = [{"page": p, "bbox": [round(v, 2) for v in b]} for p, b in frags.items()]
            main = max(fl, key=lambda f: f["bbox"][3] - f["bbox"][1])
            rec = {"row": cell.row, "col": cell.col, "rowspan": cell.rowspan, "colspan": cell.colspan,
                   "text": cell.text, "role": cell.role, "page": main["page"], "bbox": main["bbox"]}
            if cell.key:
                rec["key"] = cell.key
            if cell.cls:
                rec["class"] = cell.cls
            if len(fl) > 1:
                rec["fragments"] = fl
            records.append(rec)
            align = value_align if cell.role in ("value", "extra") else cell.align
            for f in fl:
                items.append((f["page"], f["bbox"], lines[i] if f is main else [], align, fs, pad, lead))
        for rp in repeats:
            for i, cell in enumerate(t.cells):
                if cell.row < hr:
                    y0 = rp["y"] + sum(hts[:cell.row])
                    y1 = y0 + sum(hts[cell.row:cell.row + cell.rowspan])
                    bb = [round(cx[cell.col], 2), round(y0, 2), round(cx[cell.col + cell.colspan], 2), round(y1, 2)]
                    items.append((rp["page"], bb, lines[i], cell.align, fs, pad, lead))
                    records[i].setdefault("repeats", []).append({"page": rp["page"], "bbox": bb})
        while True:
            for it in items:
                if it[0] == self.page:
                    self._draw_cell(*it[1:])
            if self.page >= page:
                break
            self._new_page()
        self.y = y + fs
        return records

    def _widths(self, t: LTable, width: float, pad: float) -> list[float]:
        """Column widths: fixed ones (t.fixed_em, never narrower than their widest one-column
        value), the others sharing what is left by weight (at least three characters each)."""
        fs = t.font_size
        if not t.fixed_em:
            tot = sum(t.col_weights)
            return [width * x / tot for x in t.col_weights]
        widest = {}
        for cell in t.cells:
            if cell.role in ("value", "extra") and cell.colspan == 1:
                widest[cell.col] = max(widest.get(cell.col, 0.0), text_width(cell.text, self.lay.font, fs))
        cw = [None if j not in t.fixed_em else max(fs * t.fixed_em[j], widest.get(j, 0.0)) + 2 * pad
              for j in range(t.n_cols)]
        free = [j for j in range(t.n_cols) if cw[j] is None]
        left = width - sum(w for w in cw if w is not None)
        tot = sum(t.col_weights[j] for j in free) or 1.0
        for j in free:
            cw[j] = max(left * t.col_weights[j] / tot, fs * 3 + 2 * pad)
        return cw

    def _draw_cell(self, bb, lines, align, fs, pad, lead):
        c = self.c
        x0, y0, x1, y1 = bb
        c.rect(x0, self.H - y1, x1 - x0, y1 - y0, stroke=1, fill=0)
        if not lines:
            return
        n = len(lines)
        ty = y0 + ((y1 - y0) - n * lead) / 2 + (lead - fs) / 2
        for line in lines:
            w = text_width(line, self.lay.font, fs)
            if align == "center":
                x = (x0 + x1 - w) / 2
            elif align == "right":
                x = x1 - pad - w
            else:
                x = x0 + pad
            self.text_line(line, x, ty, fs)
            ty += lead

    def finish(self) -> bytes:
        self._footer()
        self.c.showPage()
        self.c.save()
        return self.buf.getvalue()


def render(lay: DocLayout, year: int) -> tuple[bytes, dict]:
    """Draw the report; returns the PDF bytes and {pages, tables: {kind: [cell records]}}."""
    register_font(lay.font, lay.font_path, lay.font_index)
    fl = Flow(lay)
    tables = {}
    for b in lay.blocks:
        if b.kind == "title":
            fl.title(b.text)
        elif b.kind == "heading":
            fl.heading(b.text)
        elif b.kind == "para":
            fl.para(b.text)
        elif b.kind == "sign":
            fl.sign(b.text, year)
        elif b.kind == "break":
            fl.landscape = bool(b.landscape)
            if fl.y > fl.top + 1 or fl.landscape != (fl.pages[-1]["orientation"] == "landscape"):
                fl._new_page()
        elif b.kind == "table":
            tables[b.table.kind] = fl.table(b.table, lay.repeat_header, lay.value_align)
    return fl.finish(), {"pages": fl.pages, "tables": tables, "header_at_foot": fl.at_foot}
