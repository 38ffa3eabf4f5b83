"""Scanned renderings: rasterise the digital PDF and degrade each page the way office
scanners, fax machines and phone photos do, moving every truth box with the pixels.

Degradations (each seeded, listed per page in the truth): paper tone, red official seal
and handwritten tick over a table, punched-hole shadows, uneven lighting, skew, blur,
sensor noise, binarised fax look, 90/180/270-degree page rotation, JPEG artefacts.

Styles drawn per document (configs/synth.yaml degrade.<level>.styles; the ones in
held_out_styles are never drawn for the train split, so no training or tuning step sees
them, and evaluations report them apart): emboldened or thinned strokes, a global
binarisation threshold (light or dark, instead of the fax machine's adaptive one), a fax
header line with streaks across the page, a shadow at the binding.
"""
from __future__ import annotations

import io
import math

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

SEAL_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


def rasterize(pdf_bytes: bytes, dpi: int) -> list[np.ndarray]:
    """RGB uint8 pages at `dpi` (pdfium, no antialiasing surprises across runs)."""
    doc = pdfium.PdfDocument(pdf_bytes)
    out = []
    try:
        for i in range(len(doc)):
            page = doc[i]
            bm = page.render(scale=dpi / 72.0, rev_byteorder=True)
            a = bm.to_numpy()
            out.append(np.ascontiguousarray(a[..., :3]))
            bm.close()
            page.close()
    finally:
        doc.close()
    return out


# -- geometry ------------------------------------------------------------------------------------
def _apply(M: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Move axis-aligned boxes (n, 4) by a 2x3 affine map; returns their new bounding boxes."""
    if not len(boxes):
        return boxes
    x0, y0, x1, y1 = boxes.T
    pts = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x1, y1], 1), np.stack([x0, y1], 1)], 1)
    ones = np.ones(pts.shape[:2] + (1,))
    q = np.concatenate([pts, ones], 2) @ M.T
    return np.stack([q[..., 0].min(1), q[..., 1].min(1), q[..., 0].max(1), q[..., 1].max(1)], 1)


def _rot_matrix(k_cw: int, w: int, h: int) -> np.ndarray:
    if k_cw == 90:
        return np.array([[0, -1, h], [1, 0, 0]], float)
    if k_cw == 180:
        return np.array([[-1, 0, w], [0, -1, h]], float)
    if k_cw == 270:
        return np.array([[0, 1, 0], [-1, 0, w]], float)
    return np.array([[1, 0, 0], [0, 1, 0]], float)


# -- marks -----------------------------------------------------------------------------------------
def _seal(rng, img: np.ndarray, cx: float, cy: float, r: float, text: str) -> None:
    """A red round official seal (ring, star, agency name on an arc), multiplied in."""
    size = int(2 * r + 8)
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    c = size / 2
    ring = max(2, int(r * 0.06))
    d.ellipse([c - r, c - r, c + r, c + r], outline=255, width=ring)
    star_r = r * 0.28
    pts = []
    for i in range(10):
        a = -math.pi / 2 + i * math.pi / 5
        rr = star_r if i % 2 == 0 else star_r * 0.4
        pts.append((c + rr * math.cos(a), c + rr * math.sin(a)))
    d.polygon(pts, fill=255)
    n = max(1, len(text))
    # characters along the arc, smaller when the agency name is long
    fs = max(8, int(min(r * 0.26, r * 0.72 * math.radians(250) / n * 0.92)))
    try:
        font = ImageFont.truetype(SEAL_FONT, fs, index=0)
    except OSError:
        font = ImageFont.load_default()
    span = min(math.radians(250), n * fs * 1.08 / (r * 0.72))
    for i, ch in enumerate(text):
        a = -math.pi / 2 - span / 2 + span * (i + 0.5) / n
        g = Image.new("L", (fs * 2, fs * 2), 0)
        ImageDraw.Draw(g).text((fs * 0.5, fs * 0.4), ch, fill=255, font=font)
        g = g.rotate(-math.degrees(a + math.pi / 2), resample=Image.BILINEAR)
        px = c + r * 0.72 * math.cos(a) - fs
        py = c + r * 0.72 * math.sin(a) - fs
        layer.paste(255, (int(px), int(py)), g)
    layer = layer.rotate(float(rng.uniform(-25, 25)), resample=Image.BILINEAR)
    a = np.asarray(layer, np.float32) / 255.0 * float(rng.uniform(0.55, 0.9))
    # uneven ink: blotches
    blot = cv2.GaussianBlur(rng.random(a.shape).astype(np.float32), (0, 0), max(1.0, r * 0.05))
    a *= np.clip(0.6 + blot * 0.8, 0, 1)
    ink = np.array([205, 35, 40], np.float32)
    x0, y0 = int(cx - size / 2), int(cy - size / 2)
    H, W = img.shape[:2]
    sx0, sy0 = max(0, -x0), max(0, -y0)
    ex, ey = min(size, W - x0), min(size, H - y0)
    if ex <= sx0 or ey <= sy0:
        return
    reg = img[y0 + sy0:y0 + ey, x0 + sx0:x0 + ex].astype(np.float32)
    al = a[sy0:ey, sx0:ex, None]
    reg = reg * (1 - al) + (reg * ink / 255.0) * al
    img[y0 + sy0:y0 + ey, x0 + sx0:x0 + ex] = np.clip(reg, 0, 255).astype(np.uint8)


def _tick(rng, img: np.ndarray, x: float, y: float, s: float) -> None:
    """A handwritten check mark (or a short scribble) in ballpoint blue or black."""
    col = (30, 40, 140) if rng.random() < 0.6 else (25, 25, 25)
    pts = [(x, y), (x + s * 0.35, y + s * 0.45 + rng.uniform(-3, 3)), (x + s * rng.uniform(0.9, 1.2), y - s * 0.6)]
    steps = []
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):
        for t in np.linspace(0, 1, 12):
            steps.append((ax + (bx - ax) * t + rng.normal(0, s * 0.01), ay + (by - ay) * t + rng.normal(0, s * 0.01)))
    arr = np.array(steps, np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [arr], False, col, thickness=max(2, int(s * 0.05)), lineType=cv2.LINE_AA)


def _holes(rng, img: np.ndarray, dpi: int) -> None:
    """Punched-hole shadows near one edge (dark discs with a soft rim)."""
    H, W = img.shape[:2]
    r = int(3.0 / 25.4 * dpi)
    x = int(rng.uniform(8, 14) / 25.4 * dpi)
    gap = 80 / 25.4 * dpi / 2
    shade = float(rng.uniform(40, 110))
    m = int(r * 2)
    for cy in (int(H / 2 - gap), int(H / 2 + gap)):
        y0, y1, x0, x1 = max(0, cy - m), min(H, cy + m), max(0, x - m), min(W, x + m)
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.circle(mask, (x - x0, cy - y0), r, 1.0, -1, lineType=cv2.LINE_AA)
        mask = cv2.GaussianBlur(mask, (0, 0), r * 0.25)
        if img.ndim == 3:
            mask = mask[..., None]
        roi = img[y0:y1, x0:x1].astype(np.float32)
        img[y0:y1, x0:x1] = np.clip(roi * (1 - mask) + shade * mask, 0, 255).astype(np.uint8)


def _lighting(rng, img: np.ndarray) -> np.ndarray:
    H, W = img.shape[:2]
    yy, xx = np.mgrid[0:H:16, 0:W:16].astype(np.float32)
    cx, cy = rng.uniform(0, W), rng.uniform(0, H)
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / math.hypot(W, H)
    g = 1.0 - float(rng.uniform(0.15, 0.35)) * d - float(rng.uniform(0, 0.1)) * (xx / W)
    g = cv2.resize(g.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    if img.ndim == 3:
        g = cv2.merge([g, g, g])
    return cv2.multiply(img, g, dtype=cv2.CV_8U)


def draw_styles(rng, lc: dict, train: bool, held_out) -> list[str]:
    """The styles of one scanned document: each of lc['styles'] with its probability;
    held-out ones never for the train split (drawn all the same, so the seeds of the
    other draws do not depend on the split)."""
    out = []
    for name, p in sorted((lc.get("styles") or {}).items()):
        hit = rng.random() < float(p)
        if hit and not (train and name in set(held_out or ())):
            out.append(name)
    return out


def _stroke(img: np.ndarray, bold: bool, dpi: int) -> np.ndarray:
    """Emboldened (ink grown: an over-inked copier) or thinned (ink eaten: a light scan)."""
    k = 2 if dpi < 250 else 3
    kernel = np.ones((k, k), np.uint8)
    return cv2.erode(img, kernel) if bold else cv2.dilate(img, kernel)


def _fax_header(rng, img: np.ndarray, dpi: int) -> None:
    """A fax machine's header line at the top and dark streaks across the page (a dirty
    scanner bar): streaks cross tables like extra or doubled ruling lines."""
    H, W = img.shape[:2]
    fs = max(10, int(dpi * 0.11))
    try:
        font = ImageFont.truetype(SEAL_FONT, fs, index=0)
    except OSError:
        font = ImageFont.load_default()
    text = (f"{int(rng.integers(2019, 2025))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d} "
            f"{int(rng.integers(8, 18)):02d}:{int(rng.integers(0, 60)):02d}  FROM:0{int(rng.integers(10, 99))}-"
            f"{int(rng.integers(1000000, 9999999))}  TO:政务公开办  P.{int(rng.integers(1, 9)):03d}")
    band = Image.new("L", (W, fs * 2), 255)
    ImageDraw.Draw(band).text((int(W * 0.05), fs // 3), text, fill=0, font=font)
    a = np.asarray(band)
    y0 = int(rng.uniform(0.005, 0.02) * H)
    reg = img[y0:y0 + a.shape[0]]
    dark = a[:reg.shape[0]] < 128
    reg[dark] = 20
    for _ in range(int(rng.integers(1, 4))):
        y = int(rng.uniform(0.1, 0.95) * H)
        t = int(rng.integers(1, 3))
        x0 = int(rng.uniform(0, 0.3) * W)
        x1 = int(rng.uniform(0.7, 1.0) * W)
        img[y:y + t, x0:x1] = np.minimum(img[y:y + t, x0:x1], int(rng.uniform(30, 110)))


def _binding_shadow(rng, img: np.ndarray) -> np.ndarray:
    """A book-scan shadow at the binding: darkening fading in from one side."""
    H, W = img.shape[:2]
    w = float(rng.uniform(0.05, 0.14)) * W
    depth = float(rng.uniform(0.35, 0.7))
    x = np.arange(W, dtype=np.float32)
    g = 1.0 - depth * np.exp(-(x if rng.random() < 0.5 else W - 1 - x) / max(1.0, w / 2.5))
    g = np.broadcast_to(g[None, :], (H, W)).astype(np.float32)
    if img.ndim == 3:
        g = cv2.merge([g, g, g])
    return cv2.multiply(img, g, dtype=cv2.CV_8U)


# -- one page -------------------------------------------------------------------------------------
def degrade_page(rng, img: np.ndarray, boxes: np.ndarray, lc: dict, dpi: int, color: bool,
                 marks: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Degrade one RGB page; returns the image (RGB, or L; 1-bit as 0/255), moved boxes, ops."""
    ops: list = []
    tone = (float(rng.uniform(238, 252)) / 255, float(rng.uniform(234, 248)) / 255,
            float(rng.uniform(222, 242)) / 255, 0.0)
    img = cv2.multiply(img, tone, dtype=cv2.CV_8U)
    ops.append("paper_tone")
    if marks.get("seal"):
        cx, cy, r, text = marks["seal"]
        _seal(rng, img, cx, cy, r, text)
        ops.append("seal")
    if marks.get("tick"):
        x, y, s = marks["tick"]
        _tick(rng, img, x, y, s)
        ops.append("tick")
    if not color:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        ops.append("gray")
    if rng.random() < lc["holes_p"]:
        _holes(rng, img, dpi)
        ops.append("punch_holes")
    if rng.random() < lc["lighting_p"]:
        img = _lighting(rng, img)
        ops.append("uneven_lighting")
    styles = lc.get("_styles") or ()
    if "binding_shadow" in styles:
        img = _binding_shadow(rng, img)
        ops.append("binding_shadow")
    if "fax_header" in styles:
        _fax_header(rng, img, dpi)
        ops.append("fax_header")
    for name, bold in (("embolden", True), ("thin", False)):
        if name in styles:
            img = _stroke(img, bold, dpi)
            ops.append(name)
    H, W = img.shape[:2]
    ang = float(rng.uniform(-lc["skew"], lc["skew"]))
    M = cv2.getRotationMatrix2D((W / 2, H / 2), ang, 1.0)
    border = (250, 250, 250) if img.ndim == 3 else 250
    img = cv2.warpAffine(img, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=border)
    boxes = _apply(M, boxes)
    ops.append(f"skew:{ang:.2f}")
    n = float(rng.uniform(*lc["noise"]))
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noise *= n
    noise += img
    img = np.clip(noise, 0, 255, out=noise).astype(np.uint8)
    ops.append(f"noise:{n:.1f}")
    if rng.random() < lc["blur_p"]:  # optics blur after sensor noise: grain, not salt
        s = float(rng.uniform(*lc["blur"]))
        img = cv2.GaussianBlur(img, (0, 0), s)
        ops.append(f"blur:{s:.2f}")
    binar = (not color) and (bool(lc.get("_binarize")) or "binarize_global" in styles)
    if binar and "binarize_global" in styles:
        # a copier's fixed threshold, set light or dark: thin strokes break, bold ones merge
        otsu, _ = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        thr = int(np.clip(otsu + rng.uniform(-45, 45), 60, 230))
        img = np.where(img > thr, 255, 0).astype(np.uint8)
        ops.append(f"binarize_global:{thr}")
    elif binar:
        # a fax/MFP binariser adapts to the local background (no black lighting blobs)
        c = int(rng.uniform(12, 28))
        block = int(dpi / 5) | 1
        img = cv2.adaptiveThreshold(img, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, c)
        thr = c
        sp = rng.random(img.shape, dtype=np.float32)
        img[sp < 0.002] = 0
        img[sp > 0.997] = 255
        ops.append(f"binarize:{thr}")
    rot = 0
    if rng.random() < lc["rotate_p"]:
        rot = int(rng.choice([90, 180, 270]))
        h, w = img.shape[:2]
        img = np.ascontiguousarray(np.rot90(img, k=-rot // 90))
        boxes = _apply(_rot_matrix(rot, w, h), boxes)
        ops.append(f"rotate_cw:{rot}")
    q = None
    if not binar:
        q = int(lc["_quality"])
        ok, enc = cv2.imencode(".jpg", img if img.ndim == 2 else img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        img = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
        if img.ndim == 3:
            img = img[..., ::-1].copy()
        ops.append(f"jpeg:{q}")
    H, W = img.shape[:2]
    boxes = np.clip(boxes, 0, [W, H, W, H]) if len(boxes) else boxes
    return img, boxes, {"ops": ops, "skew_deg": round(ang, 3), "rotated_cw": rot, "binarized": binar,
                        "jpeg_quality": q, "width_px": int(W), "height_px": int(H)}


def to_pil(img: np.ndarray, binar: bool) -> Image.Image:
    if binar:
        return Image.fromarray(img).convert("1", dither=Image.Dither.NONE)
    return Image.fromarray(img)


def image_pdf(pages: list[Image.Image], dpi: int, quality: int | None = None) -> bytes:
    """An image-only PDF whose page size is the pixel size at `dpi` (boxes: px * 72 / dpi).

    Pages are JPEG (DCT) at the scan's own quality, or CCITT G4 for 1-bit fax pages."""
    buf = io.BytesIO()
    kw = {"quality": quality} if quality and pages[0].mode != "1" else {}
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:], resolution=float(dpi),
                  creationDate=None, modDate=None, **kw)  # no timestamps: same bytes every run
    return buf.getvalue()
