"""Small ruled-table PDFs and scans for the OCR / grid tests (made with reportlab).

The table mimics the requests table of the reports: a three-level header with merged
cells, a group label printed vertically one character per line, and numeric cells with
printed blanks. `make_pdf` returns the truth (cells with row/col spans and values).
"""
from __future__ import annotations

import random
from pathlib import Path

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"

COL_W = [28, 150, 46, 46, 46, 46, 46, 46, 46]    # pt
ROW_H = 22
HEADER = [
    # (row, col, rowspan, colspan, text)
    (0, 0, 3, 2, ""),
    (0, 2, 1, 7, "申请人情况"),
    (1, 2, 2, 1, "自然人"),
    (1, 3, 1, 5, "法人或其他组织"),
    (1, 8, 2, 1, "总计"),
    (2, 3, 1, 1, "商业企业"), (2, 4, 1, 1, "科研机构"), (2, 5, 1, 1, "社会公益组织"),
    (2, 6, 1, 1, "法律服务机构"), (2, 7, 1, 1, "其他"),
]
LABELS = ["一、本年新收政府信息公开申请数量", "二、上年结转政府信息公开申请数量",
          "（一）予以公开", "（二）部分公开", "（三）不予公开", "（四）无法提供", "（五）不予处理",
          "（六）其他处理", "（七）总计", "四、结转下年度继续办理"]
GROUP = (5, 9, "办理结果")   # rows 5..9 in column 0: vertical text


def _register():
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    try:
        pdfmetrics.getFont("wqy")
    except KeyError:
        pdfmetrics.registerFont(TTFont("wqy", FONT, subfontIndex=0))


def table_cells(seed: int = 0, n_rows: int | None = None):
    """Truth cells: dicts with row, col, rowspan, colspan, text, value (numbers only)."""
    rnd = random.Random(seed)
    cells = [dict(row=r, col=c, rowspan=rs, colspan=cs, text=t, value=None, header=True)
             for r, c, rs, cs, t in HEADER]
    labels = LABELS if n_rows is None else (LABELS * (n_rows // len(LABELS) + 1))[:n_rows]
    g0, g1, gtext = GROUP
    for i, lab in enumerate(labels):
        r = 3 + i
        if g0 <= r <= g1 and n_rows is None:
            if r == g0:
                cells.append(dict(row=r, col=0, rowspan=g1 - g0 + 1, colspan=1, text=gtext,
                                  value=None, header=False, vertical=True))
            cells.append(dict(row=r, col=1, rowspan=1, colspan=1, text=lab, value=None, header=False))
        elif n_rows is None:
            cells.append(dict(row=r, col=0, rowspan=1, colspan=2, text=lab, value=None, header=False))
        else:   # long tables: a unit column keeps the first two columns apart
            cells.append(dict(row=r, col=0, rowspan=1, colspan=1, text=lab, value=None, header=False))
            cells.append(dict(row=r, col=1, rowspan=1, colspan=1, text="件", value=None, header=False))
        for c in range(2, 9):
            k = rnd.random()
            if k < 0.08:
                text, value = "", None
            elif k < 0.12:
                text, value = "/", None
            elif k < 0.5:
                value = rnd.randint(0, 9)
                text = str(value)
            else:
                value = rnd.randint(10, 99999)
                text = str(value)
            cells.append(dict(row=r, col=c, rowspan=1, colspan=1, text=text, value=value,
                              header=False, numeric=True))
    return cells


def make_pdf(path: Path, seed: int = 0, pages: int = 1, rotate: int = 0, n_rows: int | None = None,
             title: str = "三、收到和处理政府信息公开申请情况") -> list[dict]:
    """Write a digital PDF with the ruled table (continued over `pages` pages).

    Returns the truth cells with `page` and `bbox` (top-left points).
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    _register()
    W, H = A4
    cv = canvas.Canvas(str(path), pagesize=A4)
    cells = table_cells(seed, n_rows)
    x0 = (W - sum(COL_W)) / 2
    xs = [x0]
    for w in COL_W:
        xs.append(xs[-1] + w)
    n_rows_total = max(c["row"] + c["rowspan"] for c in cells)
    per_page = (n_rows_total + pages - 1) // pages if pages > 1 else n_rows_total
    # split data rows over pages (header on the first page only)
    out = []
    for p in range(pages):
        if rotate:
            cv.setPageRotation(rotate)
        y_top = 90.0
        if p == 0:
            cv.setFont("wqy", 14)
            cv.drawString(x0, H - 70, title)
        lo, hi = p * per_page, min(n_rows_total, (p + 1) * per_page)
        for c in cells:
            if not (lo <= c["row"] < hi):
                continue
            r0 = c["row"] - lo
            rs = min(c["rowspan"], hi - c["row"])
            bx0, bx1 = xs[c["col"]], xs[c["col"] + c["colspan"]]
            by0 = y_top + r0 * ROW_H
            by1 = by0 + rs * ROW_H
            cv.setLineWidth(0.8)
            cv.rect(bx0, H - by1, bx1 - bx0, by1 - by0)
            t = c["text"]
            if c.get("vertical"):
                cv.setFont("wqy", 10)
                n = len(t)
                cy = (by0 + by1) / 2 - n * 12 / 2
                for k, ch in enumerate(t):
                    cv.drawCentredString((bx0 + bx1) / 2, H - (cy + 12 * k + 10), ch)
            elif t:
                size = 10 if not c.get("numeric") else 10.5
                size = min(size, (bx1 - bx0 - 4) / max(1, len(t)) * (1 if not t.isascii() else 1.8))
                cv.setFont("wqy", size)
                cv.drawCentredString((bx0 + bx1) / 2, H - ((by0 + by1) / 2 + size * 0.35), t)
            out.append({**c, "page": p + 1, "bbox": (bx0, by0, bx1, by1), "row": c["row"]})
        cv.showPage()
    cv.save()
    return out


def scan(pdf: Path, out: Path, dpi: int = 200, angle: float = 0.0, noise: float = 0.0,
         blur: int = 0, seal: bool = False, rot90: int = 0, seed: int = 0) -> None:
    """Render a PDF and degrade it like a scan; save PNG/JPEG/TIFF or an image-only PDF."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw, ImageFilter
    rnd = np.random.default_rng(seed)
    doc = pdfium.PdfDocument(str(pdf))
    frames = []
    for page in doc:
        im = page.render(scale=dpi / 72).to_pil().convert("RGB")
        if seal:   # red ink printed over the table: multiplies, so black stays black
            from PIL import ImageChops
            layer = Image.new("RGB", im.size, (255, 255, 255))
            d = ImageDraw.Draw(layer)
            w, h = im.size
            d.ellipse((w * 0.55, h * 0.2, w * 0.55 + 300, h * 0.2 + 300), outline=(220, 30, 30), width=8)
            d.line((w * 0.3, h * 0.3, w * 0.33, h * 0.33, w * 0.4, h * 0.25), fill=(230, 20, 20), width=6)
            im = ImageChops.multiply(im, layer)
        if angle:
            im = im.rotate(angle, resample=Image.BILINEAR, expand=False, fillcolor=(255, 255, 255))
        if blur:
            im = im.filter(ImageFilter.GaussianBlur(blur))
        if noise:
            a = np.asarray(im).astype(np.float32)
            a += rnd.normal(0, noise, a.shape[:2])[:, :, None]
            im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        if rot90:
            im = im.rotate(rot90, expand=True)
        frames.append(im)
    doc.close()
    suf = out.suffix.lower()
    if suf == ".pdf":
        frames[0].save(out, save_all=True, append_images=frames[1:], resolution=dpi)
    elif suf in (".tif", ".tiff"):
        frames[0].save(out, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    else:
        frames[0].save(out)


def scanned_page(folder: Path, seed: int = 3, noise: float = 3):
    """The test table rendered, scanned at 200 dpi and read back grey: (grey image, truth cells)."""
    import cv2
    truth = make_pdf(folder / "t.pdf", seed=seed)
    scan(folder / "t.pdf", folder / "s.png", noise=noise, seed=1)
    return cv2.imread(str(folder / "s.png"), cv2.IMREAD_GRAYSCALE), truth


def page_tables(grey, px_per_pt: float):
    """grid.page_tables on a grey page, rules found the way the grid stage finds them."""
    from pipeline import grid
    binv = grid.binarise(grey)
    hor, ver = grid.line_masks(binv, px_per_pt)
    return grid.page_tables(grey, binv, hor, ver, grid.find_tables(hor, ver), px_per_pt)


def classify_table(table, name: str = "scan.pdf"):
    """A one-page scanned Document holding `table`, classified with the default settings."""
    from pipeline import classify
    from pipeline.model import Document, Page, Source
    from pipeline.run import Settings
    doc = Document(Source(name, kind="scanned_pdf"))
    doc.pages = [Page(number=1, unit="pt", tables=[table])]
    classify.classify(doc, Settings())
    return doc


def faint_row(ink: int, paper: int = 236, dpi: int = 150):
    """A row of 10 cells 40 × 16 pt: 9 labels 行政 printed `ink` grey levels under the paper,
    the last cell empty for the caller to mark (the faint-ink tests). Returns the image,
    an ImageDraw on it, the font, px per pt and the cells' (x0, y0, x1, y1) boxes in px."""
    from PIL import Image, ImageDraw, ImageFont
    px = dpi / 72
    w, h = int(40 * px), int(16 * px)
    img = Image.new("L", (10 * w, h), paper)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, int(8 * px))
    for k in range(9):
        d.text((k * w + int(12 * px), int(3 * px)), "行政", fill=paper - ink, font=font)
    return img, d, font, px, [(k * w, 0, (k + 1) * w, h) for k in range(10)]


def line_crop(text: str, h: int = 40):
    """A line crop as the grid cuts it: the text with its height of white on either side."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.truetype(FONT, 28)
    w = int(font.getlength(text)) + 2 * h
    im = Image.new("L", (w, h), 255)
    ImageDraw.Draw(im).text((h, 4), text, font=font, fill=0)
    return np.asarray(im)


def crop_page():
    """A page stand-in for the recogniser's routing code: its number, rotation and cost."""
    import types
    from pipeline.cost import PageCost
    page = types.SimpleNamespace(number=1, rotation=0, cost=PageCost())
    page.cost.orientation = "rules"
    return page


def spy_runs(monkeypatch, eng, record) -> None:
    """Wrap `eng.session` so that `record(batch)` sees every input batch PP-OCR's recogniser runs."""
    session = eng.session
    run = session.run

    class Spy:
        def __getattr__(self, k):
            return getattr(session, k)

        def run(self, names, feeds):
            record(feeds[eng.input])
            return run(names, feeds)

    monkeypatch.setattr(eng, "session", Spy())
