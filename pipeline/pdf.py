"""Read PDFs and images into pages: a rendered grey image plus, for PDFs, the text layer.

Why: most reports are scans or PDFs whose text layer is useless, so every page is
rasterised (pypdfium2) for the layout stage, and the text layer's characters are kept
with their boxes only when they can be trusted. Reading order never matters: characters
are placed on the recovered grid by position. Coloured ink (red seals, ticks) is painted
white here so that it neither hides digits from the binariser nor looks like text.

Bad input never raises: the Document comes back failed with a reason.
"""
from __future__ import annotations

import functools
import re
import time
import unicodedata
from pathlib import Path

import numpy as np
from .model import Document, Page, Source, Word
from .inputs import file_sha256  # noqa: F401  (pipeline.pdf.file_sha256 kept for callers)
from .resources import CONFIGS
from .templates import config as load_config

CONFIG = CONFIGS / "ocr.yaml"


@functools.lru_cache(maxsize=1)
def config() -> dict:
    """configs/ocr.yaml, read once (by the one YAML loader, templates.config)."""
    return load_config(CONFIG.name)


def px_per_pt(page: Page, scale: float) -> float:
    """Pixels per point of page.image: `scale` for PDF pages (units are pt); for images (units
    are px) the assumed scan resolution `render.image_dpi`, so thresholds written in pt hold."""
    return scale if page.unit == "pt" else float(config()["render"]["image_dpi"]) / 72.0


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """Grey page in which coloured ink (red seals, blue ticks, highlighter) fades out.

    The brightest channel of a pixel is its grey: black print stays black, red or blue
    ink turns nearly white with soft edges (painting saturated pixels white leaves hard
    rings that cut digits and rules), and black printed under a multiplied seal stays dark.
    Channel order does not matter (BGR from pdfium is read as is). Only pixels with a
    chroma over 40 change, and on a scan they are few: the per-pixel arithmetic runs on
    those alone (the same bytes as on the whole page, ~10× less CPU: docs/speed.md).
    """
    if rgb.ndim == 2:
        return rgb
    c0, c1, c2 = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    hi = np.maximum(np.maximum(c0, c1), c2)
    chroma = hi - np.minimum(np.minimum(c0, c1), c2)
    ys, xs = np.nonzero(chroma > 40)
    if len(ys):
        h = hi[ys, xs].astype(np.float32)
        # strongly coloured pixels fade further towards white (the seal's own grey)
        w = np.clip((chroma[ys, xs].astype(np.float32) - 40.0) / 60.0, 0.0, 1.0) * 0.85
        hi[ys, xs] = (h + (255.0 - h) * w).astype(np.uint8)
    return hi


# -- text layer trust ------------------------------------------------------------------

def _good_char(ch: str) -> bool:
    o = ord(ch)
    if 0xE000 <= o <= 0xF8FF or o == 0xFFFD or o >= 0xF0000:
        return False            # private use / replacement: glyphs without a unicode map
    cat = unicodedata.category(ch)
    if cat.startswith("C"):
        return False
    # Chinese reports print CJK, ASCII and a few symbols; Latin-1 or Cyrillic letters in
    # bulk are the mojibake of fonts without a unicode map
    return (0x20 <= o < 0x7F or 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F
            or 0xFF00 <= o <= 0xFFEF or 0x2000 <= o <= 0x206F or 0x3400 <= o <= 0x4DBF
            or 0xF900 <= o <= 0xFAFF or 0x2460 <= o <= 0x24FF or 0x2160 <= o <= 0x217F
            or ch in "°±×÷·§№℃")


def ink_cover(grey: np.ndarray, boxes_px: list[tuple[float, float, float, float]]) -> float:
    """Share of the page's text-sized ink blobs whose centre lies inside a character box.

    A PDF whose text layer holds only part of the page (a scan with an OCR layer for the
    title, or an invisible layer shifted from the image) covers little of the ink.
    """
    import cv2
    h, w = grey.shape
    small = cv2.resize(grey, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    _, binv = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, _, stats, cent = cv2.connectedComponentsWithStats(binv, connectivity=8)
    if n <= 1:
        return 1.0
    bw, bh, area = stats[1:, 2], stats[1:, 3], stats[1:, 4]
    keep = (bw < w // 20) & (bh < h // 30) & (area >= 4)   # text-sized blobs, not rules
    cx, cy = cent[1:, 0][keep] * 2, cent[1:, 1][keep] * 2
    if len(cx) == 0:
        return 1.0
    inside = np.zeros(len(cx), bool)
    pad = 3
    for x0, y0, x1, y1 in boxes_px:
        inside |= (cx >= x0 - pad) & (cx <= x1 + pad) & (cy >= y0 - pad) & (cy <= y1 + pad)
    return float(inside.mean())


def judge_text_layer(chars: list[Word], grey: np.ndarray | None, scale: float) -> tuple[str, str]:
    """("trusted" | "untrusted" | "none", why) for one page's characters."""
    cfg = config()["text_layer"]
    visible = [c for c in chars if c.text.strip()]
    if not visible:
        return "none", "no characters"
    good = sum(_good_char(c.text) for c in visible) / len(visible)
    if len(visible) < cfg["min_chars"]:
        return "untrusted", f"only {len(visible)} characters"
    if good < cfg["min_good_share"]:
        return "untrusted", f"garbled: {good:.0%} ordinary characters"
    if grey is not None:
        boxes = [(c.bbox[0] * scale, c.bbox[1] * scale, c.bbox[2] * scale, c.bbox[3] * scale) for c in visible]
        cov = ink_cover(grey, boxes)
        if cov < cfg["min_ink_cover"]:
            return "untrusted", f"characters cover {cov:.0%} of the ink"
    return "trusted", "ok"


def _text_chars(page, width: float, height: float) -> list[Word]:
    """Characters with boxes in top-left page points, in the page's displayed orientation."""
    tp = page.get_textpage()
    try:
        n = tp.count_chars()
        text = tp.get_text_range(0, n) if n else ""
        rot = page.get_rotation() % 360
        mw, mh = (height, width) if rot in (90, 270) else (width, height)  # unrotated size
        out = []
        for i, ch in enumerate(text[:n]):
            if not ch.strip():
                continue
            l, b, r, t = tp.get_charbox(i, loose=False)
            # unrotated top-left coordinates, then the page's /Rotate (clockwise)
            x0, y0, x1, y1 = l, mh - t, r, mh - b
            if rot == 90:
                x0, y0, x1, y1 = mh - y1, x0, mh - y0, x1
            elif rot == 180:
                x0, y0, x1, y1 = mw - x1, mh - y1, mw - x0, mh - y0
            elif rot == 270:
                x0, y0, x1, y1 = y0, mw - x1, y1, mw - x0
            out.append(Word(unicodedata.normalize("NFKC", ch) if 0xFF01 <= ord(ch) <= 0xFF5E else ch,
                            (float(x0), float(y0), float(x1), float(y1))))
        return out
    finally:
        tp.close()


def _start(path: Path, kind: str, settings, sha256: str | None) -> tuple[Document, int, int]:
    """A new Document with its content hash (reused when the caller already has it) and
    the page and pixel limits; a file that cannot be opened comes back failed."""
    doc = Document(Source(str(path), kind=kind))
    try:
        doc.source.sha256 = sha256 or file_sha256(path)
    except OSError as e:
        doc.fail(f"cannot open file: {e}")
    return doc, getattr(settings, "max_pages", 60), getattr(settings, "max_pixels", 60_000_000)


def read_pdf(path: str | Path, settings=None, sha256: str | None = None) -> Document:
    """Pages of a PDF (grey at settings.dpi) with each page's text layer judged.

    A page with characters is rendered now (its text layer is judged against the ink); a
    page without (a scan) is rendered only when first used (`Page.render`), so the grid
    stage holds one scanned page's pixels at a time."""
    import pypdfium2 as pdfium
    path = Path(path)
    doc, max_pages, max_pixels = _start(path, "scanned_pdf", settings, sha256)
    if doc.status == "failed":
        return doc
    dpi = getattr(settings, "dpi", None) or load_config("pipeline.yaml")["dpi"]
    try:
        pdf = pdfium.PdfDocument(str(path))
    except Exception as e:
        msg = str(e)
        head = path.read_bytes()[:4_000_000]
        # pdfium's last-error code can be stale: look at the file itself first
        if b"/Encrypt" in head:
            return doc.fail("encrypted PDF: a password is needed to open it")
        if re.search(rb"/Count\s*0\b", head) and not re.search(rb"/Type\s*/Page\b", head):
            return doc.fail("the PDF has no pages")
        if "password" in msg.lower():
            return doc.fail("encrypted PDF: a password is needed to open it")
        return doc.fail(f"not a readable PDF ({msg.strip() or type(e).__name__})")
    try:
        n = len(pdf)
        if n == 0:
            return doc.fail("the PDF has no pages")
        if n > max_pages:
            return doc.fail(f"the PDF has {n} pages, more than the limit of {max_pages}")
        scale = dpi / 72.0
        texts = []
        for i in range(n):
            page = pdf[i]
            try:
                w, h = page.get_size()
                if w * h * scale * scale > max_pixels:
                    return doc.fail(f"page {i + 1} is too large to render ({w:.0f}×{h:.0f} pt)")
                chars = _text_chars(page, w, h)
                p = Page(number=i + 1, width=float(w), height=float(h), unit="pt")
                p.scale = scale           # pixels per page unit of `image`
                grey = None
                if chars:                 # judging a text layer needs the picture: render now
                    c0 = time.process_time()
                    p.image = grey = _render(page, scale)
                    p.cost.cpu["rasterise"] = time.process_time() - c0
                else:                     # a scan: rendered when the grid stage reaches it
                    p.render = functools.partial(render_page, str(path), i, scale)
                verdict, why = judge_text_layer(chars, grey, scale)
                p.text_layer = verdict
                p.words = chars if verdict != "none" else []
                doc.pages.append(p)
                if verdict == "trusted":
                    texts.append(lines_text(chars))
                elif verdict == "untrusted":
                    doc.warnings.append(f"page {i + 1}: text layer not used ({why}); OCR instead")
            finally:
                page.close()
    except Exception as e:
        return doc.fail(f"could not render the PDF: {type(e).__name__}: {e}")
    finally:
        pdf.close()
    doc.text = "\n".join(texts)
    with_text = [p for p in doc.pages if p.text_layer != "none"]
    if with_text and all(p.text_layer == "trusted" for p in doc.pages):
        doc.source.kind = "digital_pdf"
    return doc


def _render(page, scale: float) -> np.ndarray:
    bitmap = page.render(scale=scale)
    try:
        return to_grey(bitmap.to_numpy())          # BGR(x) in pdfium's buffer, read before close
    finally:
        bitmap.close()


def render_page(path: str, index: int, scale: float) -> np.ndarray:
    """One PDF page as a grey image: what a lazily read page renders when first used."""
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(path)
    try:
        page = pdf[index]
        try:
            return _render(page, scale)
        finally:
            page.close()
    finally:
        pdf.close()


def group_lines(chars: list[Word]) -> list[list[Word]]:
    """Characters grouped into lines (the one line grouper: a character whose vertical centre
    falls within the current line's extent joins it), top to bottom, each left to right."""
    lines: list[list[Word]] = []
    for c in sorted(chars, key=lambda c: (c.bbox[1] + c.bbox[3]) / 2):
        cy = (c.bbox[1] + c.bbox[3]) / 2
        if lines:
            last = lines[-1]
            y0 = min(w.bbox[1] for w in last)
            y1 = max(w.bbox[3] for w in last)
            if y0 <= cy <= y1:
                last.append(c)
                continue
        lines.append([c])
    return [sorted(ln, key=lambda w: w.bbox[0]) for ln in lines]


def lines_text(chars: list[Word]) -> str:
    """Characters as text, one line of `group_lines` a line."""
    return "\n".join("".join(w.text for w in ln) for ln in group_lines(chars))


def read_image(path: str | Path, settings=None, sha256: str | None = None) -> Document:
    """PNG / JPEG / TIFF (every frame of a multi-page TIFF) as grey pages in pixels."""
    from PIL import Image, ImageOps, ImageSequence
    path = Path(path)
    doc, max_pages, max_pixels = _start(path, "image", settings, sha256)
    if doc.status == "failed":
        return doc
    old_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None            # we check the size ourselves, before decoding
    try:
        with Image.open(path) as im:
            n = getattr(im, "n_frames", 1)
            if n > max_pages:
                return doc.fail(f"the image has {n} pages, more than the limit of {max_pages}")
            for i, frame in enumerate(ImageSequence.Iterator(im)):
                c0 = time.process_time()
                w, h = frame.size
                if w * h > max_pixels:
                    return doc.fail(f"image page {i + 1} is too large ({w}×{h} pixels, "
                                    f"limit {max_pixels})")
                if w < 50 or h < 50:
                    return doc.fail(f"image page {i + 1} is too small ({w}×{h} pixels)")
                fr = ImageOps.exif_transpose(frame) if i == 0 else frame
                rgb = np.asarray(fr.convert("RGB"))
                grey = to_grey(rgb)
                p = Page(number=i + 1, width=float(grey.shape[1]), height=float(grey.shape[0]),
                         unit="px", image=grey, text_layer="none")
                p.scale = 1.0
                p.cost.cpu["rasterise"] = time.process_time() - c0
                doc.pages.append(p)
    except Exception as e:
        return doc.fail(f"not a readable image ({type(e).__name__}: {e})")
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    if not doc.pages:
        return doc.fail("the image has no pages")
    return doc
