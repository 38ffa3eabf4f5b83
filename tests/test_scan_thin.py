"""A thinned, faxed heavy scan (session 28b, issue #14; test_00003 heavy): the active table's
rows whose labels read as noise are placed by position although two sections print two columns
in the four-column grid (classify/labels.positional_prior, Row.header_only), and cells whose 0s
read 'U' / 'A' right of the first numeric column get numeric readings (grid_tables.garbled_values)."""
from pipeline.classify.rows import Row
from pipeline.grid_tables import garbled_values, mark_headers
from pipeline.model import Cell, Table
from pipeline.templates import templates
from tablefix import classify_table


def _active(garbled: dict[str, str]) -> Table:
    """The 2019 active table as a scan's grid draws it: one grid of four columns; each section a
    title row (colspan 4), a header row (信息内容 + its columns; a section of two columns leaves
    the header's last cell blank) and its rows. `garbled`: row key → the label read instead."""
    tpl = templates()["2019"]
    cells, row, v = [], 0, 1
    for s in tpl.sections:
        cells.append(Cell(row=row, col=0, colspan=4, text=s.label, is_header=True))
        row += 1
        heads = ["信息内容"] + [c.label for c in s.columns]
        heads += [""] * (4 - len(heads))
        cells += [Cell(row=row, col=k, text=h, is_header=True) for k, h in enumerate(heads)]
        row += 1
        for r in s.rows:
            cells.append(Cell(row=row, col=0, text=garbled.get(r.key, r.label)))
            for k in range(1, 4):
                if k <= len(s.columns):
                    cells.append(Cell(row=row, col=k, text=str(v), readings=[(v, 0.99)]))
                    v += 1
                else:
                    cells.append(Cell(row=row, col=k, text="", readings=[(None, 1.0)]))
            row += 1
    return Table(cells=cells, page=1, pages=[1], aligned=True, title="二、主动公开政府信息情况")


def test_a_header_row_with_a_blank_cell_is_header_only():
    t = _active({})
    head = [c for c in t.cells if c.row == 13]           # 第二十条第（八）项's header row
    assert head[0].text == "信息内容" and head[-1].text == ""
    assert Row(head[:3], head[3:], 0, 13, True, t).header_only
    body = [c for c in t.cells if c.row == 14]
    assert not Row(body[:1], body[1:], 0, 14, True, t).header_only


def test_garbled_active_labels_are_placed_by_position():
    """规章 read '规表', 行政许可 'HANY', 行政处罚 '行A地氏' (test_00003 heavy): no label class;
    the table prints the layout's 8 value rows, so each row is the layout's row at its place."""
    doc = classify_table(_active({"regulations": "规表", "normative_docs": "電慧托工H",
                                  "admin_license": "HANY", "admin_penalty": "行A地氏"}))
    assert doc.fields["active/art20_1.regulations/new_made"].value == 1
    assert doc.fields["active/art20_1.normative_docs/total_published"].value == 6
    assert doc.fields["active/art20_5.admin_license/prev_items"].value == 7
    assert doc.fields["active/art20_6.admin_penalty/decisions"].value == 15
    assert not any(m["key"].startswith("active/art20_5.admin_license") for m in doc.missing)
    # placed by position, not by a label: the row's label probability stays under auto-accept
    p = {r["text"]: r["p"] for r in doc.labels}
    assert p["HANY"] < 0.995 and p["行A地氏"] < 0.995


def test_without_the_header_rule_the_rows_are_lost(monkeypatch):
    """The same table counted with its two header rows' blank cells: 10 rows, no layout's 8."""
    monkeypatch.setattr(Row, "header_only", property(lambda self: False))
    doc = classify_table(_active({"admin_license": "HANY"}))
    assert "active/art20_5.admin_license/prev_items" not in doc.fields or \
        doc.fields["active/art20_5.admin_license/prev_items"].value is None


def _requests_like(texts: list[str]) -> Table:
    """A label column, then value columns; column 2's figures read `texts` (a thinned scan's 0s)."""
    cells = [Cell(row=0, col=0, text="项目", is_header=True), Cell(row=0, col=1, text="自然人", is_header=True),
             Cell(row=0, col=2, text="商业企业", is_header=True), Cell(row=0, col=3, text="总计", is_header=True)]
    for r, t in enumerate(texts, start=1):
        cells += [Cell(row=r, col=0, text=f"第{r}行"), Cell(row=r, col=1, text=str(r)),
                  Cell(row=r, col=2, text=t), Cell(row=r, col=3, text=str(r))]
    return Table(cells=cells, aligned=True)


def test_a_column_of_garbled_zeros_gets_readings_and_blank_marks_do_not():
    t = _requests_like(["U", "A", "非", "_", "", "U非U", "()"])
    cols = mark_headers(t)
    assert 2 not in cols                                 # no cell of the column reads as a number
    got = [c.text for c in t.cells if id(c) in garbled_values(t, cols)]
    assert sorted(got) == sorted(["U", "A", "非", ""])  # '_', '()': blanks; 3 glyphs: no figure
    # a column of blanks read as nothing or '_' (printed dashes) holds no garbled figure
    t = _requests_like(["_", "", "_", ""])
    assert garbled_values(t, mark_headers(t)) == set()


def test_labels_and_headers_never_get_readings(monkeypatch):
    t = _requests_like(["U"] * 3)
    for c in t.cells:
        if c.col == 0:
            c.text = "甲"                                # a one-glyph label left of the figures
    cols = mark_headers(t)
    ids = garbled_values(t, cols)
    assert all(c.col == 2 and not c.is_header for c in t.cells if id(c) in ids) and len(ids) == 3
    from pipeline import grid_tables
    monkeypatch.setattr(grid_tables, "grid_config", lambda: {"garbled_values": {"enabled": False}})
    assert garbled_values(t, cols) == set()


def test_cells_placed_by_position_count_as_not_found_for_failed_reading():
    """A document whose rows were found by position alone is a reading that failed as much as
    one whose rows were not found: its unconfirmed cells stay doubted (a thinned 4 read 1 at
    0.9999 in test_00003 light once its active rows were placed by position)."""
    from pipeline.model import POSITION_DOUBT, Document, Field, Source
    from pipeline.score import failed_reading
    doc = Document(Source("x.pdf", kind="scanned_pdf"))
    doc.fields = {f"active/k{i}": Field(f"active/k{i}", 1) for i in range(20)}
    doc.missing = [{"key": f"m{i}", "reason": "row not found in the table"} for i in range(4)]
    cfg = {"missing_min": 10}
    assert failed_reading(doc, cfg) is None
    for i in range(6):
        doc.fields[f"active/k{i}"].doubts.append(POSITION_DOUBT)
    assert failed_reading(doc, cfg) is not None
