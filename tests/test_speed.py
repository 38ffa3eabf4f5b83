"""Issue #15 behaviour (not timings): scanned pages are rasterised lazily and freed after
the grid stage, a page without a table gets no cell recognition, a blank page nothing,
and every page's CPU is charged to its stages."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline import grid
from pipeline.cost import PAGE_STAGES
from pipeline.model import Document, Page, Source
from pipeline.ocr import RecResult, get_engine
from pipeline.pdf import read_pdf
from tablefix import make_pdf, scan


class CountingEngine:
    """A recogniser that reads nothing and counts what it was asked."""
    name = "counting"

    def __init__(self):
        self.crops = 0
        self.read_lines_calls = 0

    def recognise(self, crops):
        self.crops += len(crops)
        return [RecResult("", 0.0) for _ in crops]

    def read_lines(self, image):
        self.read_lines_calls += 1
        return []


def _text_page(number: int) -> Page:
    """A page of plain text lines (no rules), grey, 200 dpi A4."""
    import cv2
    img = np.full((2339, 1654), 255, np.uint8)
    for k in range(25):
        cv2.putText(img, "text line without any table " * 2, (150, 200 + 70 * k),
                    cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    p = Page(number=number, width=595.0, height=842.0, unit="pt", image=img)
    p.scale = 200 / 72
    return p


def _blank_page(number: int) -> Page:
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(240, 4, (2339, 1654)), 0, 255).astype(np.uint8)
    p = Page(number=number, width=595.0, height=842.0, unit="pt", image=img)
    p.scale = 200 / 72
    return p


@pytest.fixture()
def counting(monkeypatch):
    eng = CountingEngine()
    monkeypatch.setattr(grid, "get_engine", lambda name: eng)
    return eng


def test_text_and_blank_pages_get_no_cell_recognition(counting):
    doc = Document(Source("x.pdf", kind="scanned_pdf"), pages=[_text_page(2), _blank_page(3)])
    grid.recover(doc)
    text, blank = doc.pages
    assert text.cost.kind == "text" and blank.cost.kind == "blank"
    assert counting.crops == 0 and counting.read_lines_calls == 0   # page text only on page 1
    assert not text.tables and not blank.tables
    assert text.image is None and blank.image is None               # freed after the grid stage
    assert set(text.cost.cpu) <= set(PAGE_STAGES) and "lines" in text.cost.cpu


def test_a_text_first_page_reads_only_its_top_for_the_title(counting):
    doc = Document(Source("x.pdf", kind="scanned_pdf"), pages=[_text_page(1)])
    grid.recover(doc)
    assert counting.read_lines_calls == 1 and counting.crops == 0


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    d = tmp_path_factory.mktemp("speed")
    make_pdf(d / "two.pdf", seed=4, pages=2, n_rows=50)
    scan(d / "two.pdf", d / "scan.pdf", angle=0.3, noise=3)
    return d / "scan.pdf"


def test_scanned_pages_are_rasterised_lazily(scanned):
    doc = read_pdf(scanned)
    assert len(doc.pages) == 2 and all(p.render is not None for p in doc.pages)
    assert all("_image" not in vars(p) or vars(p)["_image"] is None for p in doc.pages)
    img = doc.pages[0].image                     # rendered on first use, then held
    assert img is not None and img.dtype == np.uint8 and doc.pages[0].render is None
    assert doc.pages[1].render is not None       # the other page is still not rendered
    doc.pages[0].image = None                    # freeing is for good
    assert doc.pages[0].image is None


def test_table_pages_keep_their_picture_and_cost_is_charged(scanned):
    from pipeline.run import Settings, extract
    doc = extract(scanned, Settings())
    assert doc.status != "failed"
    assert [p.cost.kind for p in doc.pages] == ["table", "table"]
    assert all(p.image is not None for p in doc.pages)       # drawn in the report and by inspect
    assert all(p.cost.crops > 0 and p.cost.cpu["recognise"] > 0 for p in doc.pages)
    for stage in ("rasterise", "lines", "recognise", "classify", "solve", "score"):
        assert doc.timings[f"cpu_{stage}"] >= 0


def test_recogniser_batches_are_bounded_by_padded_width():
    eng = get_engine("rapidocr")
    ratios = [2.0] * 20 + [30.0] * 5                 # 20 short crops, 5 very wide ones
    batches = list(eng.batches(list(range(25)), ratios))
    assert sum(len(b) for b in batches) == 25
    for b in batches:
        w = max(max(eng.min_wh, ratios[i]) * 48 for i in b)
        assert len(b) <= eng.batch and (len(b) == 1 or w * len(b) <= eng.batch_width)


def test_digit_first_routing_takes_sure_numbers_and_leaves_labels(monkeypatch):
    """A one-line number the digit model is sure of skips PP-OCR; a label never does."""
    from pathlib import Path
    font = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
    if not Path(font).exists():
        pytest.skip("WenQuanYi Zen Hei not installed")
    from test_digits import render
    from pipeline.digits import sure_numbers
    crops = [render(t) for t in ("12", "4096", "其他", "合计", "—", "/")]
    sure = sure_numbers(crops)
    assert [r.text if r else None for r in sure[2:]] == [None, None, None, None]
    # (PIL-rendered crops are not the scans' crops the gate is calibrated on: not all pass)
    assert any(sure[:2]) and all(r.text == t for r, t in zip(sure[:2], ("12", "4096")) if r)

    # in the grid stage, when routing is on: the sure crops never reach the recogniser
    from pipeline.cost import PageCost
    from pipeline.pdf import config
    monkeypatch.setitem(config()["digits"]["route"], "enabled", True)
    monkeypatch.setitem(config()["labels"], "enabled", False)   # 其他 / 合计 are template text (test_label_reader)
    eng = CountingEngine()
    page = Page(number=1)
    page.cost.orientation = "read"          # an upright page whose orientation was checked (digits.settled)
    jobs = [(None, 1) for _ in crops]
    res = grid._recognise(eng, crops, jobs, page)
    routed = sum(r is not None for r in sure)
    assert eng.crops == len(crops) - routed and page.cost.routed == routed and len(res) == len(crops)
    assert isinstance(page.cost, PageCost)


class ConfidentEngine(CountingEngine):
    """Reads every crop as a confident line of text (an upright page)."""

    def recognise(self, crops):
        self.crops += len(crops)
        return [RecResult("信息公开", 0.97) for _ in crops]


def _label_cells(n: int, x0: int, x1: int) -> list:
    cells = []
    for k in range(n):
        y = 60 + 110 * k
        c = grid.RawCell(x0, y, x1, y + 100)
        c.row, c.col, c.rowspan, c.colspan = k, 0, 1, 1
        cells.append(c)
    return cells


def test_orientation_of_an_upright_page_reads_two_label_crops_not_four():
    """When the rules do not tell (one column), two confident readings as printed settle it."""
    import cv2
    from pipeline.orient import orientation
    img = np.full((800, 1200), 255, np.uint8)
    cells = _label_cells(6, 20, 1100)
    for k, c in enumerate(cells):
        cv2.putText(img, "label text %d" % k, (40, c.y0 + 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
    rules = np.zeros_like(img)
    eng = ConfidentEngine()
    assert orientation(img, [cells], rules, eng, 200 / 72) == 0
    assert eng.crops == 2            # two confident readings settle it; before, four were read


def test_label_side_reads_which_way_up_a_table_is_from_its_column_widths():
    from pipeline.orient import label_side

    def table(widths):
        cells, x = [], 0
        for i, w in enumerate(widths):
            for r in range(3):
                c = grid.RawCell(x, 30 * r, x + w, 30 * r + 30)
                c.row, c.col, c.rowspan, c.colspan = r, i, 1, 1
                cells.append(c)
            x += w
        return cells
    requests = [28, 150, 46, 46, 46, 46, 46, 46, 46]         # group, label, seven numbers
    assert label_side(table(requests)) == 1
    assert label_side(table(requests[::-1])) == -1           # the same turned 180°
    assert label_side(table([46] * 15)) == 0                 # the appeals table: no side
    assert label_side(table([46, 46, 46, 150, 46, 46])) == 0  # widest in the middle


def test_bench_batch_set_changes_a_setting_in_this_process_and_refuses_unknown_keys(monkeypatch):
    import copy

    from pipeline import pdf
    from training.bench_batch import apply_settings
    cfg = copy.deepcopy(pdf.config())
    monkeypatch.setattr(pdf, "config", lambda: cfg)
    assert apply_settings(["digits.route.enabled=true", "grid.skew.method=search"]) == \
        {"digits.route.enabled": True, "grid.skew.method": "search"}
    assert cfg["digits"]["route"]["enabled"] is True and cfg["grid"]["skew"]["method"] == "search"
    for bad in ("digits.route.enabld=true", "nosuch.key=1", "novalue"):
        with pytest.raises(SystemExit):
            apply_settings([bad])


@pytest.fixture()
def search_skew(monkeypatch):
    """grid.skew.method = search (off by default: docs/speed.md)."""
    from pipeline.pdf import config
    monkeypatch.setitem(config()["grid"]["skew"], "method", "search")


@pytest.mark.parametrize("angle", [-2.2, -0.4, 0.0, 1.3, 4.6])
def test_skew_search_finds_a_drawn_pages_angle(angle, search_skew):
    """The coarse-to-fine projection search (pipeline/deskew.py) measures a ruled page's
    skew to 0.1°, far from the coarse grid's steps (4.6° is near the ±5° edge)."""
    import cv2
    img = np.full((2339, 1654), 255, np.uint8)
    for k in range(30):                               # a ruled table and some text
        y = 300 + 55 * k
        cv2.line(img, (150, y), (1500, y), 0, 2)
        cv2.putText(img, "row %d  1234  567" % k, (170, y + 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    for x in (150, 600, 1050, 1500):
        cv2.line(img, (x, 300), (x, 300 + 55 * 29), 0, 2)
    turned = grid.rotate_small(img, angle)             # rotate_small(-estimate) undoes it
    est = grid.estimate_skew(grid.binarise(turned))
    assert est == pytest.approx(-angle, abs=0.1)


@pytest.mark.parametrize("angle", [-1.2, 0.6, 2.5])
def test_skew_of_a_page_without_rules_is_found_from_its_short_lines(angle, search_skew):
    """A table whose rules did not survive the scan (only short runs of text, none a sixth
    of the page long): the projection search still finds the skew; the Hough estimate
    before it needed long segments and read 0 on such a page."""
    import cv2
    img = np.full((2339, 1654), 255, np.uint8)
    for k in range(24):
        for j, x in enumerate((150, 700, 1100)):
            cv2.putText(img, ("label %d" % k) if j == 0 else str(1000 + 37 * k * j), (x, 300 + 60 * k),
                        cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    est = grid.estimate_skew(grid.binarise(grid.rotate_small(img, angle)))
    assert est == pytest.approx(-angle, abs=0.1)


@pytest.mark.parametrize("angle, rot90", [(0.83, 0), (-1.37, 0), (0.62, 90)])
def test_skew_search_finds_the_angle_of_a_rendered_scanned_page(tmp_path, angle, rot90, search_skew):
    """A real PDF table page rendered by pdfium, turned by PIL and noised like a scan (and
    once turned a quarter: its rules then run the other way): the skew within 0.1°. The
    page-grid artefact (every ink pixel on a bin centre at exactly 0°) would read 0 here."""
    import cv2
    make_pdf(tmp_path / "t.pdf", seed=3, pages=1)
    scan(tmp_path / "t.pdf", tmp_path / "s.png", angle=angle, noise=4, rot90=rot90)
    grey = cv2.imread(str(tmp_path / "s.png"), cv2.IMREAD_GRAYSCALE)
    est = grid.estimate_skew(grid.binarise(grey))
    assert est == pytest.approx(-angle, abs=0.1)      # PIL turns counter-clockwise for +angle


class CallCounter:
    """Wraps the real recogniser's ONNX session: counts the images it is given."""

    def __init__(self, session):
        self.session, self.images = session, 0

    def run(self, names, feeds):
        self.images += next(iter(feeds.values())).shape[0]
        return self.session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


def _read_table(scanned_pdf, monkeypatch, strips_on: bool):
    from pipeline.pdf import config
    monkeypatch.setitem(config()["strips"], "enabled", strips_on)
    # every crop to PP-OCR: digit-first routing (on by default) would take whole rows of
    # numbers away from the strips this measures
    monkeypatch.setitem(config()["digits"]["route"], "enabled", False)
    eng = get_engine("rapidocr")
    counter = CallCounter(eng.session)
    monkeypatch.setattr(eng, "session", counter)
    doc = read_pdf(scanned_pdf)
    page = doc.pages[0]
    page.cost.start()
    grid.recover_page(page, eng)
    return page, counter.images


def test_row_strips_read_a_rendered_table_row_in_one_recogniser_input(tmp_path, monkeypatch):
    """A real rendered, scanned table page: with row strips the recogniser gets about one
    input per table row instead of one per cell, and the numbers read are the same."""
    truth = make_pdf(tmp_path / "t.pdf", seed=7, pages=1)
    scan(tmp_path / "t.pdf", tmp_path / "s.pdf", angle=0.0, noise=2)
    per_cell, n_cell = _read_table(tmp_path / "s.pdf", monkeypatch, False)
    strip, n_strip = _read_table(tmp_path / "s.pdf", monkeypatch, True)
    cells = [c for t in per_cell.tables for c in t.cells]
    rows = {(t.page, c.row) for t in strip.tables for c in t.cells}
    assert 0.5 * len(rows) <= strip.cost.strips <= len(rows)          # at most one strip per row
    assert n_strip <= strip.cost.strips + strip.cost.alone + 8      # + the orientation check's crops
    # fewer inputs (cells the gate doubts are read again alone: 62 of 92 at 0.97 / 0.98)
    assert n_strip < 0.75 * n_cell, (n_strip, n_cell)
    # the same readings, cell by cell
    a = {(c.row, c.col): (c.readings or [(None, 0)])[0][0] for t in per_cell.tables for c in t.cells}
    b = {(c.row, c.col): (c.readings or [(None, 0)])[0][0] for t in strip.tables for c in t.cells}
    numbers = [k for k, v in a.items() if isinstance(v, (int, float))]
    assert len(numbers) >= 30 and sum(a[k] == b.get(k) for k in numbers) >= len(numbers) - 1
    assert cells and truth


def test_strip_split_assigns_characters_by_time_step_and_refuses_straddles():
    """CTC steps cut at the gaps' middles: each piece decoded alone; a character on a cut
    sends both neighbours back to be read alone."""
    from pipeline.strips import split
    eng = get_engine("rapidocr")
    dec = eng.decoder
    C = len(dec.charset)

    def probs(seq):
        p = np.full((len(seq), C), 1e-6, np.float32)
        for t, ch in enumerate(seq):
            p[t, dec.index[ch] if ch else 0] = 1.0
        return p / p.sum(1, keepdims=True)

    # "12" | "7" | "305": steps of 8 px, cuts at 40 and 72 px (between steps 4|5 and 8|9)
    seq = ["", "1", "", "2", "", "", "7", "", "", "", "", "3", "0", "", "5", ""]
    out = split(dec, probs(seq), 8.0, [40.0, 72.0], 0.9)
    assert [r.text for r in out] == ["12", "7", "305"]
    seq[4] = "8"                                  # a character on the first cut
    out = split(dec, probs(seq), 8.0, [40.0, 72.0], 0.9)
    assert out[0] is None and out[1] is None and out[2].text == "305"
    seq[4] = " "                                  # a space there is a gap, not a character
    assert [r.text for r in split(dec, probs(seq), 8.0, [40.0, 72.0], 0.9)] == ["12", "7", "305"]


def _scanned_table_grey(tmp_path, rot90: int) -> np.ndarray:
    import cv2
    make_pdf(tmp_path / "t.pdf", seed=5, pages=1)
    scan(tmp_path / "t.pdf", tmp_path / f"s{rot90}.png", angle=0.0, noise=2, rot90=rot90)
    return cv2.imread(str(tmp_path / f"s{rot90}.png"), cv2.IMREAD_GRAYSCALE)


def _orient(grey: np.ndarray, engine):
    import cv2
    from pipeline.cost import PageCost
    from pipeline.orient import orientation
    px = 200 / 72
    binv = grid.binarise(grey)
    hor, ver = grid.line_masks(binv, px)
    tables = grid.find_tables(hor, ver)
    rules = cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8))
    cost = PageCost()
    return orientation(grey, [cs for _, cs in tables], rules, engine, px, cost), cost


def test_an_upright_rendered_table_page_skips_the_orientation_reading(tmp_path, monkeypatch):
    """With `grid.orientation.from_rules` (on by default since session 23f: docs/speed.md) a
    real rendered, scanned table page (labels left) shows it is upright by its tables' cues:
    no crop is recognised (before: at least two long label crops per table page)."""
    from pipeline.pdf import config
    monkeypatch.setitem(config()["grid"]["orientation"], "from_rules", True)
    eng = CountingEngine()
    rot, cost = _orient(_scanned_table_grey(tmp_path, 0), eng)
    assert (rot, cost.orientation, eng.crops) == (0, "rules", 0)


def test_a_rendered_table_page_turned_180_is_still_turned(tmp_path, monkeypatch):
    """The same page upside down: its widest column is on the right, so the label crops are
    read (real recogniser) and the page is turned back."""
    from pipeline.pdf import config
    monkeypatch.setitem(config()["grid"]["orientation"], "from_rules", True)
    rot, cost = _orient(_scanned_table_grey(tmp_path, 180), get_engine("rapidocr"))
    assert (rot, cost.orientation) == (180, "read")


class LinesEngine(CountingEngine):
    """Records the height of every band given to text detection."""

    def __init__(self):
        super().__init__()
        self.bands = []

    def read_lines(self, image):
        self.bands.append(image.shape[0])
        return []


def test_page_one_title_band_is_its_first_lines_of_ink_not_the_top_third(monkeypatch):
    """Page 1 of a scan: the title lines are detected, not the paragraphs under them (the
    band was the top 0.3 of the page: 701 px here; the first three lines of ink ~200)."""
    import cv2
    eng = LinesEngine()
    monkeypatch.setattr(grid, "get_engine", lambda name: eng)
    img = np.full((2339, 1654), 255, np.uint8)
    cv2.putText(img, "REPORT TITLE 2023", (400, 200), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4)
    for k in range(12):
        cv2.putText(img, "a paragraph of the report body text " * 2, (150, 300 + 60 * k),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 2)
    p = Page(number=1, width=595.0, height=842.0, unit="pt", image=img)
    p.scale = 200 / 72
    doc = Document(Source("x.pdf", kind="scanned_pdf"), pages=[p])
    grid.recover(doc)
    assert len(eng.bands) == 1 and 120 <= eng.bands[0] <= 320, eng.bands


def test_the_band_above_a_table_is_cut_to_its_lowest_line_of_ink(monkeypatch):
    """Above a table, only the lowest line of ink (the table's title) goes to detection; the
    paragraph line above it in the same 60 pt band does not (the band was ~167 px here)."""
    import cv2
    eng = LinesEngine()
    monkeypatch.setattr(grid, "get_engine", lambda name: eng)
    img = np.full((2339, 1654), 255, np.uint8)
    cv2.putText(img, "end of a paragraph of body text", (150, 860), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    cv2.putText(img, "TABLE TITLE", (150, 940), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 3)
    xs, ys = (150, 700, 900, 1100, 1300, 1500), [1000 + 60 * k for k in range(12)]
    for y in ys:
        cv2.line(img, (xs[0], y), (xs[-1], y), 0, 3)
    for x in xs:
        cv2.line(img, (x, ys[0]), (x, ys[-1]), 0, 3)
    p = Page(number=2, width=595.0, height=842.0, unit="pt", image=img)
    p.scale = 200 / 72
    grid.recover(Document(Source("x.pdf", kind="scanned_pdf"), pages=[p]))
    assert p.tables and len(eng.bands) == 1 and 30 <= eng.bands[0] <= 90, eng.bands


def _grey_whole_page(rgb):
    """to_grey as first written: the float formula on every pixel (the reference)."""
    c = rgb[:, :, :3]
    hi = c.max(axis=2).astype(np.float32)
    w = np.clip((hi - c.min(axis=2) - 40.0) / 60.0, 0.0, 1.0) * 0.85
    return (hi + (255.0 - hi) * w).astype(np.uint8)


def test_grey_of_coloured_pixels_alone_is_the_whole_page_formula_in_any_channel_order():
    from pipeline.pdf import to_grey
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    rgb[:150] = rgb[:150, :, :1]                       # half the page grey: no chroma
    ref = _grey_whole_page(rgb)
    assert np.array_equal(to_grey(rgb), ref)
    assert np.array_equal(to_grey(np.ascontiguousarray(rgb[:, :, ::-1])), ref)    # BGR
    bgrx = np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 7, np.uint8)])
    assert np.array_equal(to_grey(bgrx), ref)                                      # BGRx


def test_a_pdf_page_with_a_red_seal_renders_to_the_same_grey_without_pil(tmp_path):
    import pypdfium2 as pdfium
    from reportlab.pdfgen import canvas
    from pipeline.pdf import _render
    path = tmp_path / "seal.pdf"
    c = canvas.Canvas(str(path), pagesize=(300, 200))
    c.setFillColorRGB(0, 0, 0)
    c.rect(20, 20, 200, 4, fill=1)
    c.setFillColorRGB(0.9, 0.1, 0.1)
    c.circle(150, 100, 60, stroke=1, fill=0)
    c.setFont("Helvetica", 30)
    c.drawString(90, 90, "SEAL 2023")
    c.save()
    pdf = pdfium.PdfDocument(str(path))
    page = pdf[0]
    bm = page.render(scale=2)
    rgb = np.asarray(bm.to_pil().convert("RGB"))
    ref = _grey_whole_page(rgb)
    bm.close()
    grey = _render(page, 2)
    page.close()
    pdf.close()
    assert np.array_equal(grey, ref)
    assert (ref > rgb.max(axis=2)).any() and (ref < 60).any()   # the seal faded, the black print stayed


def test_the_forkservers_warm_up_leaves_the_calibrator_loaded_for_the_workers():
    """batch/run.py preloads batch.warm in the forkserver: workers forked from it find the
    calibrator loaded (its cache filled), instead of each unpickling sklearn on its first document."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import pipeline.batch.warm; from pipeline.score import load_model; "
            "assert load_model.cache_info().currsize == 1 and load_model() is not None")
    r = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    src = (Path(__file__).resolve().parent.parent / "pipeline" / "batch" / "run.py").read_text(encoding="utf-8")
    assert '"batch.warm"' in src


def test_page_pictures_use_the_configured_png_level(monkeypatch):
    import cv2
    from pipeline.batch import options, worker
    levels = []
    real = cv2.imencode
    monkeypatch.setattr(cv2, "imencode", lambda ext, a, params=(): levels.append(params[1]) or real(ext, a, params))
    doc = Document(source=Source(path="x.pdf", kind="scanned_pdf"))
    p = _blank_page(1)
    doc.pages.append(p)
    from pipeline.model import Table
    p.tables.append(Table(page=1))
    worker.page_artifacts(doc, 8, 1000)
    assert levels == [options.config()["thumbnails"]["png_compression"]] and levels[0] < 6


def test_page_one_title_lines_are_read_one_by_one_until_the_title_is_read(monkeypatch):
    """stop_at_title: the detector's lines are read top to bottom, one per call, each padded as
    when all are read together (the engine's plan covers every line while it reads), and the
    reading stops at the line that completes the title (agency and year): a title wrapped
    over two lines is read whole, the paragraph under it is not read."""
    from pipeline.model import Word
    eng = get_engine("rapidocr")
    crops = [np.full((40, w), 255, np.uint8) for w in (900, 200, 1000)]
    texts = {id(crops[0]): "某市某区应急管理局2019年度政府信息公开工作",
             id(crops[1]): "年度报告",
             id(crops[2]): "根据《中华人民共和国政府信息公开条例》第三十一条规定"}
    calls, planned = [], []

    def recognise(cs):
        calls.append(len(cs))
        planned.append(set(eng._plan or {}))
        return [RecResult(texts[id(c)], 0.99) for c in cs]

    monkeypatch.setattr(eng, "detect_lines", lambda image: (crops, [(0, 0, 1, 1)] * 3))
    monkeypatch.setattr(eng, "recognise", recognise)
    words = eng.read_lines(np.zeros((10, 10), np.uint8), enough=grid.title_read)
    assert [w.text for w in words] == [texts[id(crops[0])], "年度报告"]
    assert calls == [1, 1] and all(p == {id(c) for c in crops} for p in planned)
    calls.clear()
    assert len(eng.read_lines(np.zeros((10, 10), np.uint8))) == 3 and calls == [3]   # as before: one call
    assert not grid.title_read([Word(texts[id(crops[0])], (0, 0, 1, 1))])
