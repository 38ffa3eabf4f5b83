"""Grid recovery: tables, merged cells, header rows, vertical headers, skew, rotation,
seals, tables continued over a page break, digital pages read from the text layer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import grid
from pipeline.pdf import read_image, read_pdf
from tablefix import make_pdf, scan


def _structure(table) -> dict:
    return {(c.row, c.col): (c.rowspan, c.colspan) for c in table.cells}


def _truth_structure(cells) -> dict:
    return {(c["row"], c["col"]): (c["rowspan"], c["colspan"]) for c in cells}


def _numeric_accuracy(table, truth) -> float:
    got = {(c.row, c.col): c for c in table.cells}
    num = [t for t in truth if t.get("numeric")]
    ok = 0
    for t in num:
        c = got.get((t["row"], t["col"]))
        if c is not None and c.readings and c.readings[0][0] == t["value"]:
            ok += 1
    return ok / len(num)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("grid")
    truth = make_pdf(d / "t.pdf", seed=3)
    scan(d / "t.pdf", d / "light.png", angle=1.2, noise=6, seal=True, seed=1)
    scan(d / "t.pdf", d / "rot.png", angle=0.4, noise=4, rot90=90, seed=2)
    two = make_pdf(d / "two.pdf", seed=4, pages=2, n_rows=50)
    return d, truth, two


def test_digital_page_uses_text_layer(made):
    d, truth, _ = made
    doc = read_pdf(d / "t.pdf")
    grid.recover(doc, None)
    assert doc.source.kind == "digital_pdf" and doc.timings["ocr"] == 0.0
    [t] = doc.tables
    assert _structure(t) == _truth_structure(truth)
    assert _numeric_accuracy(t, truth) == 1.0
    cells = {(c.row, c.col): c for c in t.cells}
    # three header rows; label and value rows are not headers
    assert all(c.is_header == (c.row < 3) for c in t.cells)
    assert cells[(0, 2)].text == "申请人情况" and cells[(1, 3)].text == "法人或其他组织"
    # the vertical one-character-per-line group label comes out top to bottom
    assert cells[(5, 0)].text == "办理结果" and cells[(5, 0)].rowspan == 5
    # printed blanks: an empty cell and a '/' are None with certainty; text cells have none
    for tc in truth:
        if tc.get("numeric") and tc["value"] is None:
            assert cells[(tc["row"], tc["col"])].readings == [(None, 1.0)]
    assert cells[(3, 0)].readings == []
    # boxes in page points, matching the drawn cells
    tc = next(x for x in truth if x["row"] == 4 and x["col"] == 5)
    assert all(abs(a - b) < 1.5 for a, b in zip(cells[(4, 5)].bbox, tc["bbox"]))


@pytest.mark.slow
def test_light_scan_with_skew_and_seal(made):
    d, truth, _ = made
    doc = read_image(d / "light.png")
    grid.recover(doc, None)
    [t] = doc.tables
    page = doc.pages[0]
    assert abs(page.skew + 1.2) < 0.3            # deskewed by the detected angle
    assert _structure(t) == _truth_structure(truth)
    assert _numeric_accuracy(t, truth) >= 0.97
    cells = {(c.row, c.col): c for c in t.cells}
    assert cells[(5, 0)].text == "办理结果"
    # every numeric reading is a ranked, normalised candidate list
    for c in t.cells:
        if c.readings:
            ps = [p for _, p in c.readings]
            assert ps == sorted(ps, reverse=True) and abs(sum(ps) - 1) < 1e-3 and len(ps) <= 5


@pytest.mark.slow
def test_rotated_page_is_turned_upright(made):
    d, truth, _ = made
    doc = read_image(d / "rot.png")
    grid.recover(doc, None)
    page = doc.pages[0]
    assert page.rotation in (90, 270) and page.image.shape[0] > page.image.shape[1]
    [t] = doc.tables
    assert _structure(t) == _truth_structure(truth)
    assert _numeric_accuracy(t, truth) >= 0.95


def test_table_continued_on_next_page_is_joined(made):
    d, _, two = made
    doc = read_pdf(d / "two.pdf")
    grid.recover(doc, None)
    assert len(doc.tables) == 1
    t = doc.tables[0]
    assert t.pages == [1, 2] and doc.pages[1].tables == []
    assert t.n_rows == 53 and t.n_cols == 9 and doc.source.kind == "digital_pdf"
    assert {c.page for c in t.cells} == {1, 2}
    assert _numeric_accuracy(t, two) == 1.0


def test_find_tables_on_synthetic_lines():
    """Merged cells come out with spans from the enclosed regions between rules."""
    import numpy as np
    img = np.full((400, 600), 255, np.uint8)
    import cv2
    for y in (50, 100, 150, 200, 250):
        cv2.line(img, (50, y), (550, y), 0, 2)
    for x in (50, 550):
        cv2.line(img, (x, 50), (x, 250), 0, 2)
    for x in (200, 350):                  # the first row spans three columns
        cv2.line(img, (x, 100), (x, 250), 0, 2)
    cv2.line(img, (450, 150), (450, 250), 0, 2)   # the last two rows split column 3
    binv = grid.binarise(img)
    hor, ver = grid.line_masks(binv, 200 / 72)
    [(bbox, cells)] = grid.find_tables(hor, ver)
    spans = sorted((c.row, c.col, c.rowspan, c.colspan) for c in cells)
    assert (0, 0, 1, 4) in spans and (1, 2, 1, 2) in spans and (2, 3, 1, 1) in spans
    assert len(spans) == 1 + 3 + 4 + 4


def _ruled(rows_y, cols_x, W=900, H=700):
    import cv2
    import numpy as np
    img = np.full((H, W), 255, np.uint8)
    for y in rows_y:
        cv2.line(img, (cols_x[0], y), (cols_x[-1], y), 0, 2)
    for x in cols_x:
        cv2.line(img, (x, rows_y[0]), (x, rows_y[-1]), 0, 2)
    return img


def test_seal_stroke_over_two_rows_is_not_a_column():
    """A seal's ring crossing two rows mid-table splits their cells at an x no other row
    uses: the halves are merged back (val_00001 light: a 0.x column appeared and broke the
    join with the next page)."""
    import cv2
    rows = [50 + 40 * i for i in range(11)]
    cols = [50, 250, 400, 550, 700, 850]
    img = _ruled(rows, cols)
    cv2.line(img, (470, rows[4]), (476, rows[6]), 0, 3)     # ring arc through rows 4 and 5
    binv = grid.binarise(img)
    hor, ver = grid.line_masks(binv, 200 / 72)
    [(_, cells)] = grid.find_tables(hor, ver)
    assert max(c.col + c.colspan for c in cells) == 5
    assert len(cells) == 50 and all(c.colspan == 1 and c.rowspan == 1 for c in cells)


@pytest.mark.parametrize("lone_edges", [True, False])
def test_real_column_in_one_row_at_the_table_end_stays(lone_edges, monkeypatch):
    """A narrow column only the last row uses (the 三、本年度办理结果 header column that
    starts at the foot of a page) is a column, not a stray split — with grid.lone_edges too:
    that row has a cell on both sides of its rule."""
    import cv2
    from pipeline import grid_cells
    cfg = dict(grid_cells.grid_config(), lone_edges=lone_edges)
    monkeypatch.setattr(grid_cells, "grid_config", lambda: cfg)
    rows = [50 + 40 * i for i in range(11)]
    cols = [50, 250, 400, 550, 700, 850]
    img = _ruled(rows, cols)
    cv2.line(img, (100, rows[9]), (100, rows[10]), 0, 2)
    binv = grid.binarise(img)
    hor, ver = grid.line_masks(binv, 200 / 72)
    [(_, cells)] = grid.find_tables(hor, ver)
    assert max(c.col + c.colspan for c in cells) == 6


def test_join_keeps_a_narrow_vertical_header_column():
    """Continued table whose narrow first column (17 pt, under 3 % of the page) starts in
    the last row of page 1: the column must not fold into its neighbour, or the join fails
    (val_00000 light: 47 of 200 values lost)."""
    from pipeline.model import Cell, Document, Page, Source, Table
    xa = [85, 102, 262, 298, 333, 369, 405, 440, 476, 512]           # page 1 edges
    xb = [85, 103, 159, 260, 296, 332, 368, 404, 440, 476, 511]      # page 2 edges

    def table(page, xs, y0, n_rows, first_cols):
        cells = []
        for r in range(n_rows):
            y = y0 + 30 * r
            lead = first_cols(r)
            for k in range(len(lead) - 1):
                cells.append(Cell(row=r, col=xs.index(lead[k]), colspan=xs.index(lead[k + 1]) - xs.index(lead[k]),
                                  bbox=(lead[k], y, lead[k + 1], y + 30), page=page))
            for c in range(xs.index(lead[-1]), len(xs) - 1):
                cells.append(Cell(row=r, col=c, bbox=(xs[c], y, xs[c + 1], y + 30), page=page, text="1",
                                  readings=[(1, 1.0)]))
        return Table(cells=cells, page=page, pages=[page], bbox=(xs[0], y0, xs[-1], y0 + 30 * n_rows))

    a = table(1, xa, 600, 5, lambda r: [85, 102, 262] if r == 4 else [85, 262])
    b = table(2, xb, 70, 10, lambda r: [85, 103, 159, 260])
    pa = Page(number=1, width=595, height=842, tables=[a])
    pb = Page(number=2, width=595, height=842, tables=[b])
    doc = Document(source=Source(path="x"), pages=[pa, pb])
    grid.join_continued(doc)
    assert len(doc.tables) == 1 and doc.tables[0].pages == [1, 2]
    assert doc.tables[0].n_rows == 15 and doc.tables[0].n_cols == 10


def test_join_drops_a_repeated_header_garbled_by_a_heavy_scan():
    """The header block printed again on page 2 is dropped even when page 1's copy reads
    noisily (ratio 0.8 on val_00004 heavy), as long as its cell layout is the same;
    otherwise every row below shifts by three."""
    from pipeline.model import Cell, Document, Page, Source, Table
    xs = [85, 260, 296, 332, 368, 404]
    heads = [["申请人情况"], ["自然人", "法人或其他组织", "总计"], ["商业企业", "科研机构", "社会公益组织"]]
    noisy = [["申请人情况"], ["自然人", "法人或其他组织", "总计"], ["商业企业興", "社會公益電", "识法律服务肌片"]]

    def table(page, y0, texts, n_body):
        cells = [Cell(row=0, col=0, rowspan=3, bbox=(85, y0, 260, y0 + 90), page=page, is_header=True)]
        spec = [[(1, 4)], [(1, 1), (2, 2), (4, 1)], [(2, 1), (3, 1), (4, 1)]]
        for r, row in enumerate(spec):
            for (col, span), text in zip(row, texts[r]):
                rs = 2 if (r == 1 and col in (1, 4)) else 1
                cells.append(Cell(row=r, col=col, colspan=span, rowspan=rs, text=text, is_header=True,
                                  bbox=(xs[col], y0 + 30 * r, xs[col + span], y0 + 30 * (r + rs)), page=page))
        cells = [c for c in cells if not (c.row == 2 and c.col == 4)]
        for r in range(3, 3 + n_body):
            y = y0 + 30 * r
            cells.append(Cell(row=r, col=0, text="第%d行" % r, bbox=(85, y, 260, y + 30), page=page))
            for c in range(1, 5):
                cells.append(Cell(row=r, col=c, text="0", readings=[(0, 1.0)], bbox=(xs[c], y, xs[c + 1], y + 30),
                                  page=page))
        return Table(cells=cells, page=page, pages=[page], bbox=(85, y0, 404, y0 + 30 * (3 + n_body)))

    a = table(1, 500, noisy, 8)
    b = table(2, 70, heads, 10)
    doc = Document(source=Source(path="x"), pages=[Page(number=1, width=595, height=842, tables=[a]),
                                                   Page(number=2, width=595, height=842, tables=[b])])
    grid.join_continued(doc)
    assert len(doc.tables) == 1 and doc.tables[0].n_rows == 3 + 8 + 10


def test_a_flat_bar_is_a_printed_blank_and_digits_are_not():
    """grid.is_dash: the printed blanks —, -, 一 (one flat bar) against 0, 1, 8 and -4."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont
    from pipeline.grid import is_dash
    font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 28)

    def crop(text):
        im = Image.new("L", (120, 40), 255)
        ImageDraw.Draw(im).text((30, 4), text, fill=0, font=font)
        a = np.array(im)
        ys, xs = np.where(a < 128)
        a = a[ys.min():ys.max() + 1]                      # trimmed to ink rows, like cell_lines
        return np.pad(a, ((0, 0), (a.shape[0], a.shape[0])), constant_values=255)
    assert all(is_dash(crop(t)) for t in ("—", "-", "一"))
    assert not any(is_dash(crop(t)) for t in ("0", "1", "8", "-4", "10"))


def test_a_table_whose_header_ends_a_page_is_joined_to_its_body(tmp_path):
    """The appeals header rows at the foot of one page, its value row on the next (#14): the
    two parts are one table, its header rows are headers, and all 15 values are read."""
    import collections
    from pipeline.run import extract
    from training.synth.build import load_config, make_document
    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / "synth.yaml")
    make_document("foot", [7, 55, 0], cfg, tmp_path, ["digital"], force={"header_at_foot": "appeals"})
    truth = json.loads((tmp_path / "foot.truth.json").read_text(encoding="utf-8"))
    pages = collections.defaultdict(set)
    for c in truth["grid"]["appeals"]:
        pages[c["role"]].add(c["page"])
    (head,), (body,) = pages["header"], pages["value"]
    assert body == head + 1, "the generator put the header rows and the values on consecutive pages"
    doc = extract(tmp_path / "foot.digital.pdf")
    appeals = [k for k in truth["cells"] if k.startswith("appeals/")]
    assert len(appeals) == 15
    assert {k: doc.fields[k].value for k in appeals if k in doc.fields} == {k: truth["cells"][k]["value"] for k in appeals}
    joined = next(t for t in doc.tables if head in t.pages and body in t.pages)
    assert sum(1 for r in joined.rows() if r and all(c.is_header for c in r)) >= 2


def test_a_header_cell_down_the_whole_table_does_not_make_the_body_a_header():
    """A fax streak turned vertical (a page scanned sideways) reads as one cell from the
    header row down the table's edge: the rows that print numbers stay body rows."""
    from pipeline.grid import mark_headers
    from pipeline.model import Cell, Table
    cells = [Cell(row=0, col=0, text="项目", is_header=False),
             Cell(row=0, col=1, text="自然人"), Cell(row=0, col=2, text="总计"),
             Cell(row=0, col=3, text="111BI二q0一", rowspan=6)]
    for r in range(1, 6):
        cells += [Cell(row=r, col=0, text=f"第{r}行"), Cell(row=r, col=1, text=str(r)), Cell(row=r, col=2, text=str(r))]
    t = Table(cells=cells, aligned=True)
    mark_headers(t)
    assert {c.row for c in t.cells if c.is_header} == {0}


def _continued_pair(xa, xb, rows_a=5, rows_b=10):
    """Two parts of one table (page 1 ends with A, page 2 opens with B), every cell a 1."""
    from pipeline.model import Cell, Document, Page, Source, Table

    def table(page, xs, y0, n_rows):
        cells = [Cell(row=r, col=c, bbox=(xs[c], y0 + 30 * r, xs[c + 1], y0 + 30 * (r + 1)), page=page,
                      text="1", readings=[(1, 1.0)]) for r in range(n_rows) for c in range(len(xs) - 1)]
        return Table(cells=cells, page=page, pages=[page], bbox=(xs[0], y0, xs[-1], y0 + 30 * n_rows))
    a, b = table(1, xa, 620, rows_a), table(2, xb, 70, rows_b)
    return Document(source=Source(path="x"), pages=[Page(number=1, width=595, height=842, tables=[a]),
                                                    Page(number=2, width=595, height=842, tables=[b])])


def test_join_survives_an_outer_column_lost_and_a_streak_gained():
    """A heavy thinned scan (#14): page 1 prints the merged vertical-header column at the
    left (42–77), page 2 lost its faded left rule (nothing else bounds that column) and a
    streak added an edge at the right (575). Most edges agree: one table, 15 rows, the
    columns of both parts on one axis."""
    body = [77, 96, 141, 255, 293, 330, 368, 406, 444, 481, 519]
    doc = _continued_pair([42] + body, body + [575])
    grid.join_continued(doc)
    assert len(doc.tables) == 1 and doc.tables[0].pages == [1, 2] and doc.tables[0].n_rows == 15
    t = doc.tables[0]
    assert t.n_cols == 12
    # the same printed column has the same index on both pages
    assert {c.col for c in t.cells if c.bbox[0] == 255} == {4}


def test_join_refuses_tables_that_share_only_a_few_edges():
    """The active table (4 columns) ending page 1 and the requests table opening page 2
    share an edge or two: two tables."""
    doc = _continued_pair([75, 220, 319, 418, 516], [74, 88, 157, 278, 314, 348, 383, 419, 455, 486, 522])
    grid.join_continued(doc)
    assert len(doc.tables) == 2


def test_a_faint_digit_of_a_thinned_scan_is_ink_and_a_gradient_is_not(monkeypatch):
    """grid_crops.cell_lines with faint ink on (configs/grid.yaml crops.faint_contrast 20;
    off by default): a '0' printed at 30 grey levels under the paper (a thinned scan) is
    ink, stretched to full contrast; a cell whose paper darkens by the same amount across
    it (lighting) and an empty noisy cell are not. Off, the faint 0 is no ink (as before)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont
    from pipeline import grid_crops
    from pipeline.grid_cells import RawCell
    from pipeline.grid_crops import cell_lines, is_faint
    font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 22)
    im = Image.new("L", (120, 50), 240)
    ImageDraw.Draw(im).text((52, 12), "0", fill=210, font=font)
    faint = np.array(im)
    rules = np.zeros_like(faint)
    cell = RawCell(0, 0, 120, 50)
    assert not cell_lines(faint, rules, cell, 200 / 72)[0] and not is_faint(faint, rules, cell, 200 / 72)   # default: off
    on = {**grid_crops.crop_settings(), "faint_contrast": 20}
    monkeypatch.setattr(grid_crops, "crop_settings", lambda: on)
    ok, lines = cell_lines(faint, rules, cell, 200 / 72)
    assert ok and len(lines) == 1 and lines[0].min() < 60          # stretched: a dark glyph
    # … and doubted (grid.build_table: Cell.doubts caps its confidence below review)
    assert is_faint(faint, rules, cell, 200 / 72)
    im = Image.new("L", (120, 50), 240)
    ImageDraw.Draw(im).text((52, 12), "0", fill=40, font=font)
    assert not is_faint(np.array(im), rules, cell, 200 / 72) and cell_lines(np.array(im), rules, cell, 200 / 72)[0]
    gradient = np.tile(np.linspace(240, 210, 120).astype(np.uint8), (50, 1))
    assert not cell_lines(gradient, rules, cell, 200 / 72)[0]
    rng = np.random.default_rng(0)
    noisy = np.clip(240 + rng.normal(0, 3, (50, 120)), 0, 255).astype(np.uint8)
    assert not cell_lines(noisy, rules, cell, 200 / 72)[0]


def _blob_in_header(lone: bool, monkeypatch):
    """An 11-row table whose first row holds a bold glyph's blob touching both of its rules
    (x 300-340, inside column 1): find_tables with grid_cells.lone_edges on or off."""
    import cv2
    from pipeline import grid_cells
    cfg = dict(grid_cells.grid_config(), lone_edges=lone)
    monkeypatch.setattr(grid_cells, "grid_config", lambda: cfg)
    rows = [50 + 40 * i for i in range(11)]
    cols = [50, 250, 400, 550, 700, 850]
    img = _ruled(rows, cols)
    cv2.rectangle(img, (300, rows[0]), (340, rows[1]), 0, -1)
    binv = grid.binarise(img)
    hor, ver = grid.line_masks(binv, 200 / 72)
    [(_, cells)] = grid.find_tables(hor, ver)
    return cells


def test_a_blob_touching_two_rules_is_no_column(monkeypatch):
    """A boundary only one cell's edge uses (beside a blob, not a cell) is forgotten with
    lone_edges on: the body keeps its five columns, none merged (test_00000 heavy: a bold
    header glyph made every value cell of one column span two, the rows 'merged cells')."""
    off = _blob_in_header(False, monkeypatch)
    assert max(c.col + c.colspan for c in off) == 6         # the blob (its two edges one "rule") was a column
    assert any(c.colspan == 2 for c in off if c.row > 0)
    on = _blob_in_header(True, monkeypatch)
    assert max(c.col + c.colspan for c in on) == 5
    assert all(c.colspan == 1 for c in on if c.row > 0)
