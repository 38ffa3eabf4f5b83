"""Grid tables whose labels OCR could not read (heavy scans): the table's title names it,
value columns are known from the readings, and rows follow the template's order only
when the table prints exactly one template layout's number of value rows."""
from pipeline import classify
from pipeline.model import Cell, Document, Page, Source, Table
from pipeline.run import Settings
from pipeline.templates import templates
from tablefix import classify_table

GARBLED = ["罐電", "打此識色", "わ我サロ", "打戲移明", "ü", "1F112", "氯け公开", "∴段有機"]


def _requests_table(n_rows: int, title: str) -> Table:
    cols = [c.key for c in templates()["2019"].request_columns]
    cells = [Cell(row=0, col=0, text="（本列數期的2/牌式事物售", colspan=2, is_header=True),
             Cell(row=0, col=2, text="中澳人情心", colspan=len(cols), is_header=True)]
    for i in range(n_rows):
        r = i + 1
        cells.append(Cell(row=r, col=0, text=GARBLED[i % len(GARBLED)], colspan=2))
        for k in range(len(cols)):
            v = 100 * i + k          # distinct values: which row went where shows in the result
            cells.append(Cell(row=r, col=2 + k, text=str(v), readings=[(v, 0.9)]))
    return Table(cells=cells, page=1, pages=[1], aligned=True, title=title)


def _classify(table: Table) -> Document:
    return classify_table(table, "garbled.pdf")


def test_unreadable_labels_follow_the_template_order_when_the_row_count_fits():
    rows = [r.key for r in templates()["2019"].request_rows]
    doc = _classify(_requests_table(len(rows), "三、收到和处理政府信息公开申请情况"))
    col0 = templates()["2019"].request_columns[0].key
    for i, key in enumerate(rows):
        assert doc.fields[f"requests/{key}/{col0}"].value == 100 * i, key


def test_a_row_count_that_fits_no_layout_is_not_guessed():
    rows = [r.key for r in templates()["2019"].request_rows]
    doc = _classify(_requests_table(len(rows) - 1, "三、收到和处理政府信息公开申请情况"))
    assert not any(k.startswith("requests/") for k in doc.fields)


def test_the_title_alone_finds_the_table():
    rows = [r.key for r in templates()["2019"].request_rows]
    doc = _classify(_requests_table(len(rows), "统计表"))        # no title marker: no region
    assert not doc.fields


def _headed_table(blank_col: int | None) -> Table:
    """The 2019 requests table with readable labels and column headers, one header blank."""
    tpl = templates()["2019"]
    heads = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    n = len(heads)
    cells = [Cell(row=0, col=0, text="", colspan=2, is_header=True)]
    cells += [Cell(row=0, col=2 + k, text="" if k == blank_col else h, is_header=True) for k, h in enumerate(heads)]
    for i, r in enumerate(tpl.request_rows):
        cells.append(Cell(row=i + 1, col=0, text=r.label, colspan=2))
        cells += [Cell(row=i + 1, col=2 + k, text=str(10 * i + k), readings=[(10 * i + k, 0.99)]) for k in range(n)]
    return Table(cells=cells, page=1, pages=[1], aligned=True, title="三、收到和处理政府信息公开申请情况")


def test_a_header_cell_hidden_by_a_seal_is_placed_by_elimination():
    cols = [c.key for c in templates()["2019"].request_columns]
    first = templates()["2019"].request_rows[0].key
    doc = _classify(_headed_table(blank_col=2))
    assert [doc.fields[f"requests/{first}/{c}"].value for c in cols] == list(range(len(cols)))


def _span_first_row(text: str, span: int = 3) -> Table:
    """`_headed_table` whose first value row prints `text` in one cell over its first `span`
    value columns (a ruling line missing between them)."""
    t = _headed_table(blank_col=None)
    t.cells = [c for c in t.cells if not (c.row == 1 and 2 < c.col < 2 + span)]
    first = next(c for c in t.cells if c.row == 1 and c.col == 2)
    first.text, first.colspan, first.bbox, first.readings = text, span, (100.0, 50.0, 160.0, 60.0), []
    return t


def test_a_cell_over_three_columns_with_three_numbers_is_split_not_copied():
    cols = [c.key for c in templates()["2019"].request_columns]
    first = templates()["2019"].request_rows[0].key
    doc = _classify(_span_first_row("7 3 112"))
    got = [doc.fields[f"requests/{first}/{c}"] for c in cols[:4]]
    assert [f.value for f in got] == [7, 3, 112, 3]
    assert all(f.confidence <= 0.9 for f in got[:3])        # a split is a guess, not 0.999
    assert got[0].bbox[2] <= got[1].bbox[0] + 1e-6          # each number gets its own third


def test_a_cell_over_three_columns_with_one_number_is_left_out_not_copied():
    cols = [c.key for c in templates()["2019"].request_columns]
    first = templates()["2019"].request_rows[0].key
    doc = _classify(_span_first_row("73112"))
    assert not any(f"requests/{first}/{c}" in doc.fields and doc.fields[f"requests/{first}/{c}"].value == 73112
                   for c in cols)
    assert doc.fields[f"requests/{first}/{cols[3]}"].value == 3     # the rest of the row stays
    assert any("spans 3 value columns" in w for w in doc.warnings)
    assert {m["key"]: m["reason"] for m in doc.missing}[f"requests/{first}/{cols[0]}"].startswith("one printed item")


def test_two_unread_headers_are_placed_by_the_template_order():
    """商业企 / 业 and 科研机 / 构 wrapped in narrow columns and not mapped: their columns
    still take their classes from the template's order, not dropped."""
    cols = [c.key for c in templates()["2019"].request_columns]
    first = templates()["2019"].request_rows[0].key
    t = _headed_table(blank_col=None)
    for c in t.cells:
        if c.row == 0 and c.col in (3, 4):
            c.text = ""
    doc = _classify(t)
    assert [doc.fields[f"requests/{first}/{c}"].value for c in cols] == list(range(len(cols)))


def test_unread_headers_are_placed_beside_an_empty_label_column():
    """A heavy scan: three headers unread, and the label column holds empty cells (a group
    label's blank parts, read as printed blanks): that column prints no number and takes
    no class, so the three value columns still get theirs."""
    cols = [c.key for c in templates()["2019"].request_columns]
    first = templates()["2019"].request_rows[0].key
    t = _headed_table(blank_col=None)
    for c in t.cells:
        if c.row == 0 and c.col in (4, 5, 7):
            c.text = ""
        if c.row > 0 and c.col == 0:            # label column split off an empty column 0
            c.colspan, c.col = 1, 1
    t.cells += [Cell(row=r, col=0, text="", readings=[(None, 1.0)]) for r in range(1, t.n_rows)]
    doc = _classify(t)
    assert [doc.fields[f"requests/{first}/{c}"].value for c in cols] == list(range(len(cols)))


def test_a_label_read_as_a_bare_number_still_counts_as_a_row():
    """'2.有正当理由…' read as '2' on a heavy scan: left of the value columns it is a label,
    so the table still prints the template's number of rows and the order places them."""
    rows = [r.key for r in templates()["2019"].request_rows]
    t = _requests_table(len(rows), "三、收到和处理政府信息公开申请情况")
    lab = next(c for c in t.cells if c.row == 5 and c.col == 0)
    lab.text = "2"
    doc = _classify(t)
    col0 = templates()["2019"].request_columns[0].key
    assert [doc.fields[f"requests/{k}/{col0}"].value for k in rows] == [100 * i for i in range(len(rows))]


def _appeals_grid(header_texts: list[str], title: str = "") -> Table:
    """The appeals table as a grid: a header row and one row of 15 values."""
    cells = [Cell(row=0, col=5 * g, text=h, colspan=5, is_header=True) for g, h in enumerate(header_texts)]
    cells += [Cell(row=1, col=k, text=str(k % 5), readings=[(k % 5, 0.99)]) for k in range(15)]
    return Table(cells=cells, page=2, pages=[2], aligned=True, title=title)


def _with_requests(appeals: Table) -> Document:
    doc = Document(Source("garbled.pdf", kind="scanned_pdf"))
    doc.pages = [Page(number=1, unit="pt", tables=[_headed_table(blank_col=None)]),
                 Page(number=2, unit="pt", tables=[appeals])]
    classify.classify(doc, Settings())
    return doc


def test_an_appeals_grid_with_unreadable_headers_is_found_by_its_shape():
    doc = _with_requests(_appeals_grid(["行政复組", "行政的館", "夏級后"], title="0"))
    assert not any(m["key"] == "appeals/*" for m in doc.missing)
    assert sum(k.startswith("appeals/") for k in doc.fields) == 15


def test_a_grid_whose_first_row_is_the_title_starts_its_table():
    t = _appeals_grid(["", "", ""], title="路H下年度")
    t.cells = [Cell(row=0, col=0, text="行数复议、行政诉讼情况", colspan=15, is_header=True)] + \
        [Cell(row=c.row + 1, col=c.col, text=c.text, colspan=c.colspan, is_header=c.is_header,
              readings=c.readings) for c in t.cells if c.text or c.readings]
    t.cells.append(Cell(row=3, col=0, text="附注", colspan=15))     # a second body row: not the shape rule
    doc = _with_requests(t)
    assert not any(m["key"] == "appeals/*" for m in doc.missing)


def test_a_misread_value_over_two_columns_is_no_row_label():
    """A fax streak split the total column in two: its cells span both, and one reads 'O'.
    Right of the value columns' start it is a value misread, not the row's label."""
    rows = [r.key for r in templates()["2019"].request_rows]
    t = _headed_table(blank_col=None)
    for c in t.cells:
        if c.col == 8:
            c.colspan = 2
    bad = next(c for c in t.cells if c.row == 5 and c.col == 8)
    bad.text, bad.readings = "O", []
    doc = _classify(t)
    col0 = templates()["2019"].request_columns[0].key
    assert doc.fields[f"requests/{rows[4]}/{col0}"].value == 40
    assert not any(m["key"].startswith(f"requests/{rows[4]}/") and "not found" in m["reason"] for m in doc.missing)


def test_the_appeals_value_row_is_the_one_printing_every_column_not_a_garbled_row_above():
    """A heavy test scan: the appeals region ran into the tail of a garbled table above, whose
    rows print 4 values; the first of those was taken for the appeals row ('4 values in 4
    fields for 15 columns') and all 15 cells were lost."""
    junk = Table(cells=[c for r in range(2) for c in
                        [Cell(row=r, col=0, text="垃圾行")] +
                        [Cell(row=r, col=1 + k, text="11", readings=[(11, 0.5)]) for k in range(4)]],
                 page=2, pages=[2], aligned=True)
    appeals = _appeals_grid(["行政复议", "未经复议直接起诉", "复议后起诉"])
    doc = Document(Source("garbled.pdf", kind="scanned_pdf"))
    doc.pages = [Page(number=2, unit="pt", tables=[junk, appeals])]
    rows = classify.table_rows(doc)
    out = classify.Decoded(kind="appeals")
    classify.decode_appeals(rows, classify.get_mapper("auto"), templates()["2021"], out)
    assert len(out.cells) == 15 and not out.missing
    assert [out.cells[k].readings[0][0] for k in sorted(out.cells, key=lambda k: out.cells[k].col)] == \
        [k % 5 for k in range(15)]
