"""The HTML run report opens from disk and shows the page with its grid and values.

Rendered in headless Chromium (Debian package `chromium`); skipped with a reason when no
Chromium is installed. The scanned page is a picture drawn here, turned into a document
with a known grid and values (one read, one low-confidence, one conflict) by a per-document
function that goes through the real batch path: page pictures, grid sidecar, result,
report.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.batch import outcome_from_document, run_batch
from pipeline.model import Cell, Document, Field, Page, Source, Table

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "tests" / "fixtures" / "seeds").glob("*.txt"))
W, H = 800, 500                               # page picture in pixels
COLS, ROWS = [50, 350, 550, 750], [60, 160, 260, 360]
VALUES = {  # key: (row, col, value, confidence, status)
    "requests/new_received/natural_person": (1, 1, 12, 0.999, "read"),
    "requests/granted/natural_person": (2, 1, 7, 0.41, "read"),
    "requests/total/natural_person": (1, 2, 30, 0.97, "conflict"),
}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if p := shutil.which(name):
            return p
    return None


def scan_process(job):
    """Per-document function for the picture made below: a known grid and known values."""
    import cv2
    img = np.full((H, W), 255, np.uint8)
    for x in COLS:
        cv2.line(img, (x, ROWS[0]), (x, ROWS[-1]), 0, 2)
    for y in ROWS:
        cv2.line(img, (COLS[0], y), (COLS[-1], y), 0, 2)
    doc = Document(Source(job.read_path, kind="image"))
    page = Page(number=1, width=W, height=H, unit="px", image=img)
    t = Table(page=1, pages=[1], bbox=(COLS[0], ROWS[0], COLS[-1], ROWS[-1]), kind="requests", template="2021")
    for r in range(3):
        for c in range(3):
            t.cells.append(Cell(row=r, col=c, text=f"r{r}c{c}", page=1,
                                bbox=(COLS[c], ROWS[r], COLS[c + 1], ROWS[r + 1])))
    for key, (r, c, v, p, st) in VALUES.items():
        cell = next(x for x in t.cells if x.row == r and x.col == c)
        cell.key = key
        cv2.putText(img, str(v), (COLS[c] + 120, ROWS[r] + 70), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
        doc.fields[key] = Field(key, v, confidence=p, status=st, page=1, bbox=cell.bbox, text=str(v),
                                alternatives=[(v, p), (v + 1, 1 - p)])
    page.tables.append(t)
    doc.pages.append(page)
    doc.status, doc.template, doc.year, doc.agency = "needs_review", "2021", 2021, "某某区司法局"
    return outcome_from_document(doc, job)


def route_process(job):
    if job.path.endswith(".png"):
        return scan_process(job)
    from pipeline.batch import process_document
    return process_document(job)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import cv2
    tmp = tmp_path_factory.mktemp("rep")
    d = tmp / "in"
    d.mkdir()
    cv2.imwrite(str(d / "scan.png"), np.full((H, W), 255, np.uint8))
    shutil.copy(SEEDS[0], d / "text report.txt")
    out = tmp / "out"
    run_batch([d], out, workers=1, progress=False, func=route_process)
    return out


def test_report_files_written(report):
    r = json.loads((report / "scan.json").read_text(encoding="utf-8"))
    assert r["batch"]["thumbs"] == {"1": "report_files/scan.p1.png"}
    assert (report / "report_files" / "scan.p1.png").read_bytes()[:4] == b"\x89PNG"
    side = json.loads((report / r["batch"]["sidecar"]).read_text(encoding="utf-8"))
    assert len(side["tables"][0]["cells"]) == 9 and side["pages"][0]["png_w"] == W
    page = (report / "report_files" / "scan.html").read_text(encoding="utf-8")
    assert page.count('<div class="g"') == 9 and page.count('data-key="requests/') >= 3 + 2  # overlay + review rows
    assert "st-conflict" in page and " low" in page
    text_page = (report / "report_files" / "text report.html").read_text(encoding="utf-8")
    assert '<table class="grid">' in text_page and "data-key=" in text_page   # text input: tables, no picture
    index = (report / "report.html").read_text(encoding="utf-8")
    assert 'href="report_files/scan.html"' in index and 'href="report_files/text%20report.html"' in index


PROBE = """<pre id="probe"></pre><script>
window.addEventListener('load', () => {
  const img = document.querySelector('figure.page img');
  const boxes = [...document.querySelectorAll('figure.page .f')].map(e => {
    const r = e.getBoundingClientRect(); const cs = getComputedStyle(e);
    const top = document.elementFromPoint(r.left + r.width * 0.2, r.top + r.height * 0.25);
    return {key: e.dataset.key, cls: e.className, x: r.left, y: r.top, w: r.width, h: r.height,
            bg: cs.backgroundColor, visible: top === e || e.contains(top)};
  });
  const grid = document.querySelectorAll('figure.page .g').length;
  const f = img.getBoundingClientRect();
  document.getElementById('probe').textContent = JSON.stringify({
    img: img.complete && img.naturalWidth, fig: [f.left, f.top, f.width, f.height], grid, boxes});
});
</script>"""


def _chrome(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    exe = _chromium()
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", "--hide-scrollbars",
                           f"--user-data-dir={tmp / 'chrome-profile'}", "--window-size=1200,1400",
                           "--virtual-time-budget=5000", *args], capture_output=True, text=True, timeout=90)


@pytest.mark.skipif(_chromium() is None, reason="no Chromium: apt-get install chromium (Debian) to run this test")
def test_report_renders_in_chromium(report, tmp_path):
    page = report / "report_files" / "scan.html"
    probe = page.with_name("scan.probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    r = _chrome(["--dump-dom", probe.as_uri()], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    import html as _html
    import re
    m = re.search(r'<pre id="probe">(.*?)</pre>', r.stdout, re.S)
    assert m and m.group(1).strip(), "the page's script did not run: " + r.stdout[-500:]
    info = json.loads(_html.unescape(m.group(1)))
    assert info["img"] == W, "page picture did not load from disk"
    assert info["grid"] == 9 and len(info["boxes"]) == 3
    fx, fy, fw, fh = info["fig"]
    scale = fw / W
    boxes = {b["key"]: b for b in info["boxes"]}
    for key, (row, col, v, p, st) in VALUES.items():
        b = boxes[key]
        assert b["visible"], key
        # the overlay sits on the cell of the picture it belongs to
        assert abs(b["x"] - (fx + COLS[col] * scale)) < 2 and abs(b["w"] - (COLS[col + 1] - COLS[col]) * scale) < 2
        assert abs(b["y"] - (fy + ROWS[row] * scale)) < 2
    assert "st-conflict" in boxes["requests/total/natural_person"]["cls"]
    assert "low" in boxes["requests/granted/natural_person"]["cls"]
    assert boxes["requests/new_received/natural_person"]["bg"] in ("rgba(0, 0, 0, 0)", "transparent")

    # the pixels: conflict cell red, low-confidence cell orange, a confident cell white
    shot = tmp_path / "shot.png"
    r = _chrome([f"--screenshot={shot}", page.as_uri()], tmp_path)
    assert shot.exists(), r.stderr[-2000:]
    from PIL import Image
    im = np.asarray(Image.open(shot).convert("RGB")).astype(int)

    def px(key):
        b = boxes[key]
        y0, x0 = int(b["y"] + b["h"] * 0.25), int(b["x"] + b["w"] * 0.2)
        return im[y0 - 2:y0 + 3, x0 - 2:x0 + 3].reshape(-1, 3).mean(axis=0)

    red, orange, white = (px("requests/total/natural_person"), px("requests/granted/natural_person"),
                          px("requests/new_received/natural_person"))
    assert red[0] > 200 and red[1] < 170 and red[2] < 170, red
    assert orange[0] > 200 and 120 < orange[1] < 220 and orange[2] < 150, orange
    assert white.min() > 240, white


@pytest.mark.skipif(_chromium() is None, reason="no Chromium: apt-get install chromium (Debian) to run this test")
def test_index_and_text_page_render(report, tmp_path):
    r = _chrome(["--dump-dom", (report / "report.html").as_uri()], tmp_path)
    assert r.returncode == 0 and "gouji run report" in r.stdout and "scan.png" in r.stdout
    r = _chrome(["--dump-dom", (report / "report_files" / "text report.html").as_uri()], tmp_path)
    assert r.returncode == 0 and 'class="grid"' in r.stdout and "requests/" in r.stdout


@pytest.mark.slow
def test_report_of_a_real_scan(tmp_path):
    """The real pipeline on a committed sample scan: its page picture carries grid and values."""
    scans = sorted((ROOT / "datasets" / "samples").glob("*.p2.png"))
    if not scans:
        pytest.skip("no sample scans in datasets/samples")
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(scans[0], d / scans[0].name)
    out = tmp_path / "out"
    s = run_batch([d], out, workers=1, progress=False)
    r = json.loads((out / f"{scans[0].stem}.json").read_text(encoding="utf-8"))
    assert s.counts.get("failed", 0) == 0 and r["cells"]
    assert r["batch"]["thumbs"] and r["batch"]["pages"] == 1
    page = (out / "report_files" / f"{scans[0].stem}.html").read_text(encoding="utf-8")
    n_boxes = page.count('<div class="f')
    assert page.count('<figure class="page"') == 1 and page.count('<div class="g"') > 20
    assert n_boxes == sum(1 for c in r["cells"].values() if c.get("bbox") and c.get("page") == 1) > 20
