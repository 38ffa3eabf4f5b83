"""`gouji inspect`: a picture of what gouji saw on a page.

Why: when a figure is wrong, the first question is whether the table, its grid or the
reading failed. The PNG shows the upright, deskewed page with the page's regions from
`page.layout` (pipeline/layout.py, layoutparser types, drawn with lp.draw_box): each table
(blue box), its title line (purple) and the other text lines read on the page (orange);
then each table's cells (green; header cells shaded) and the top reading of every cell
(red: value and probability; grey: the cell text of label cells).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

FONTS = ["/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
         "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
         "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
         "/usr/share/fonts/truetype/arphic/uming.ttc"]


def _font(size: int):
    from PIL import ImageFont
    for f in FONTS:
        if Path(f).exists():
            try:
                return ImageFont.truetype(f, size)
            except OSError:
                continue
    return ImageFont.load_default()


def _read(path: Path, settings):
    try:
        from . import read as reader
        return reader.read(path, settings)
    except ImportError:
        from .pdf import read_image, read_pdf
        return read_pdf(path, settings) if path.suffix.lower() == ".pdf" else read_image(path, settings)


# region colours by block type (lp.draw_box outlines; labels are drawn here because
# layoutparser 0.3.4's own labels call ImageFont.getsize, gone since Pillow 10)
REGION = {"Table": ((0, 60, 255), 4, 0.0), "Title": ((150, 0, 210), 3, 0.12), "Text": ((255, 140, 0), 2, 0.08)}


def draw_regions(img: "Image.Image", layout, scale: float) -> "Image.Image":
    """The layout's blocks (page units) drawn on the page image (pixels) with lp.draw_box."""
    import layoutparser as lp
    blocks = [b for b in layout if b.type in REGION]
    if not blocks:
        return img
    pad = [4 if b.type == "Table" else 1 for b in blocks]      # table boxes clear their cells
    px = lp.Layout([b.scale(scale).pad(left=p, right=p, top=p, bottom=p) for b, p in zip(blocks, pad)])
    return lp.draw_box(img, px,
                       box_color=["#%02x%02x%02x" % REGION[b.type][0] for b in blocks],
                       box_width=[REGION[b.type][1] for b in blocks],
                       box_alpha=[REGION[b.type][2] for b in blocks])


def draw_page(page, tables=None) -> "Image.Image":
    """The page image with its regions, cells and readings drawn on it.

    `tables`: every table of the document (a table continued from the previous page keeps
    its cells there); default: the page's own tables. Regions come from `page.layout`,
    built here when the page has none yet."""
    from PIL import Image, ImageDraw
    from .grid import page_scale
    from .layout import page_layout
    tables = tables if tables is not None else page.tables
    layout = page.layout if len(page.layout) else page_layout(page, tables)
    s = page_scale(page)
    img = draw_regions(Image.fromarray(page.image).convert("RGB"), layout, s)
    over = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(over)
    font = _font(max(12, img.width // 70))
    small = _font(max(10, img.width // 120))
    for t in tables:
        if page.number not in t.pages and t.page != page.number:
            continue
        for c in t.cells:
            if c.page not in (None, page.number) or not c.bbox:
                continue
            x0, y0, x1, y1 = (v * s for v in c.bbox)
            if c.is_header:
                d.rectangle((x0, y0, x1, y1), fill=(255, 230, 120, 70))
            d.rectangle((x0 + 1, y0 + 1, x1 - 1, y1 - 1), outline=(0, 170, 0, 255), width=2)
            if c.readings:
                v, p = c.readings[0]
                label = f"{'空' if v is None else v} {p:.2f}"
                if len(c.readings) > 1 and c.readings[1][1] >= 0.05:
                    v2, p2 = c.readings[1]
                    label += f" | {'空' if v2 is None else v2} {p2:.2f}"
                d.text((x0 + 3, y0 + 2), label, fill=(220, 0, 0, 255), font=small)
            elif c.text and not c.is_header:
                d.text((x0 + 3, y0 + 2), c.text[:12], fill=(90, 90, 90, 255), font=small)
            d.text((x1 - 3, y1 - 2), f"{c.row},{c.col}", fill=(0, 120, 0, 200), font=small, anchor="rb")
    for b in layout:
        x0, y0, x1, y1 = (v * s for v in b.coordinates)
        t = tables[b.id] if b.type == "Table" and isinstance(b.id, int) and 0 <= b.id < len(tables) else None
        if t is not None and page.number in (t.pages or [t.page]):
            tag = f"table {b.id}: {t.n_rows}×{t.n_cols}" + (f" pages {t.pages}" if len(t.pages) > 1 else "")
            if t.page != page.number:
                tag += f" (continued from page {t.page})"
            if t.kind:
                tag += f" {t.kind}"
            if b.score is not None:
                tag += f" {b.score:.2f}"
            # below the table; above it on a continuation page (the next table's title is below)
            at = (x0, y0 - 8, "lb") if t.page != page.number else (x0, y1 + 6, "la")
            d.text(at[:2], tag, fill=(0, 60, 255, 255), font=font, anchor=at[2])
        elif b.type == "Title":
            d.text((x1 + 6, y0), f"title of table {b.parent}", fill=(150, 0, 210, 255), font=small)
    info = (f"page {page.number}  rotation {page.rotation}°  skew {page.skew:.2f}°  text layer {page.text_layer}"
            f"  regions: {_count(layout)}")
    d.text((10, 10), info, fill=(0, 60, 255, 255), font=font)
    return Image.alpha_composite(img.convert("RGBA"), over).convert("RGB")


def _count(layout) -> str:
    n: dict[str, int] = {}
    for b in layout:
        n[b.type] = n.get(b.type, 0) + 1
    return ", ".join(f"{v} {k.lower()}" for k, v in sorted(n.items())) or "none"


def inspect_file(path, page: int | None = None, out=None, settings=None, every_page: bool = False) -> list[Path]:
    """Write one PNG per page (the given page, or every page with a table, else page 1;
    `every_page`: every page that has an image)."""
    from . import grid
    from .run import Settings
    path = Path(path)
    settings = settings or Settings()
    doc = _read(path, settings)
    if doc.status == "failed":
        raise SystemExit(f"gouji inspect: {path}: {'; '.join(doc.errors)}")
    pages = [p for p in doc.pages if p.image is not None]
    if not pages:
        raise SystemExit(f"gouji inspect: {path}: no page images (text or HTML input)")
    if page is not None:
        if not 1 <= page <= len(doc.pages):
            raise SystemExit(f"gouji inspect: {path} has {len(doc.pages)} pages, no page {page}")
        # only the wanted page (and its neighbours, for tables continued across pages)
        keep = {page - 1, page, page + 1}
        for p in doc.pages:
            if p.number not in keep:
                p.image = None
    grid.recover(doc, settings, keep_images=True)     # every page may be drawn
    from .layout import fill
    fill(doc)
    chosen = ([p for p in doc.pages if p.number == page] if page is not None
              else pages if every_page
              else [p for p in doc.pages if p.tables] or pages[:1])
    outs = []
    for p in chosen:
        if out is None:
            dst = path.with_name(f"{path.stem}.inspect-p{p.number}.png")
        else:
            o = Path(out)
            if o.suffix.lower() == ".png" and len(chosen) == 1:
                dst = o
            else:
                o.mkdir(parents=True, exist_ok=True)
                dst = o / f"{path.stem}-p{p.number}.png"
        dst.parent.mkdir(parents=True, exist_ok=True)
        draw_page(p, doc.tables).save(dst)
        outs.append(dst)
    return outs


def main(argv=None) -> int:
    """`python -m pipeline.inspect --out DIR FILE...`: every page of many files (make inspect-samples)."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m pipeline.inspect", description=main.__doc__)
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="folder for FILE-pN.png")
    a = ap.parse_args(argv)
    for path in a.paths:
        for png in inspect_file(path, out=a.out, every_page=True):
            print(png, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
