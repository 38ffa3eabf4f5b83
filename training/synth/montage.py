"""Pictures of the corpus for docs/: `python -m training.synth.montage` reads the committed
samples (datasets/samples) and writes docs/corpus-renderings.png (one page of each
rendering side by side) and docs/corpus-pages.png (every page of every scan, small).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def _page(path: Path, n: int, width: int) -> Image.Image:
    doc = pdfium.PdfDocument(str(path))
    page = doc[n - 1]
    w, _ = page.get_size()
    im = page.render(scale=width / w).to_pil().convert("RGB")
    doc.close()
    return im


def _text_panel(text: str, width: int, height: int, start: str) -> Image.Image:
    im = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype(FONT, 13, index=0)
    lines = text.splitlines()
    i = next((k for k, s in enumerate(lines) if start in s), 0)
    y = 8
    for s in lines[max(0, i - 2):]:
        d.text((8, y), s.replace("\t", " ⇥ ")[:90], fill=(20, 20, 20), font=font)
        y += 17
        if y > height - 20:
            break
    return im


def _label(im: Image.Image, s: str) -> Image.Image:
    font = ImageFont.truetype(FONT, 18, index=0)
    out = Image.new("RGB", (im.width, im.height + 30), (235, 235, 235))
    out.paste(im, (0, 30))
    ImageDraw.Draw(out).text((8, 4), s, fill=(0, 0, 0), font=font)
    return out


def renderings(samples: Path, ids: list[str], width: int = 520) -> Image.Image:
    rows = []
    for sid in ids:
        t = json.loads((samples / f"{sid}.truth.json").read_text(encoding="utf-8"))
        req = [c["page"] for k, c in t["cells"].items() if k.startswith("requests/")]
        pg = max(set(req), key=req.count)  # the page holding most of the requests table
        panels = []
        for name in ("digital", "scan_light", "scan_heavy"):
            r = t["renderings"][name]
            im = _page(samples / r["file"], pg, width)
            desc = name if name == "digital" else f"{name} {r['dpi']}dpi " + ",".join(
                o for o in r["pages"][pg - 1]["ops"] if not o.startswith(("paper", "noise", "gray")))
            panels.append(_label(im, f"{sid} {desc}"[:60]))
        txt = (samples / t["renderings"]["text"]["file"]).read_text(encoding="utf-8")
        h = panels[0].height - 30
        panels.append(_label(_text_panel(txt, width, h, "本年新收"),
                             f"{sid} text ({t['renderings']['text']['style']['kind']})"))
        row = Image.new("RGB", (sum(p.width for p in panels) + 10 * (len(panels) - 1), max(p.height for p in panels)),
                        (255, 255, 255))
        x = 0
        for p in panels:
            row.paste(p, (x, 0))
            x += p.width + 10
        rows.append(row)
    out = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 10 * (len(rows) - 1)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + 10
    return out


def pages(samples: Path, width: int = 230) -> Image.Image:
    thumbs = []
    for tp in sorted(samples.glob("*.truth.json")):
        t = json.loads(tp.read_text(encoding="utf-8"))
        for name in ("scan_light", "scan_heavy"):
            r = t["renderings"][name]
            for n in range(1, len(r["pages"]) + 1):
                im = _page(samples / r["file"], n, width)
                thumbs.append(_label(im, f"{t['id']} {name[5:]} p{n}"))
    cols = 7
    h = max(t.height for t in thumbs)
    rows = -(-len(thumbs) // cols)
    out = Image.new("RGB", (cols * (width + 8), rows * (h + 8)), "white")
    for i, t in enumerate(thumbs):
        out.paste(t, ((i % cols) * (width + 8), (i // cols) * (h + 8)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", default="datasets/samples")
    ap.add_argument("--out", default="docs")
    a = ap.parse_args(argv)
    s, o = Path(a.samples), Path(a.out)
    o.mkdir(parents=True, exist_ok=True)
    renderings(s, ["s2019_a", "s2021_a"]).save(o / "corpus-renderings.png", optimize=True)
    pages(s).save(o / "corpus-pages.png", optimize=True)
    print(f"wrote {o / 'corpus-renderings.png'} and {o / 'corpus-pages.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
