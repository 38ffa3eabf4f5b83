"""Rows of a scanned grid whose labels the scan garbled (session 27b, issue #14): the first value
column is not a label column where one garbled label reads as a number (classify/rows.
first_value_column; val_00010 heavy lost its requests table so), and requests rows whose labels
were read as noise are placed by the rows around them (requests_table.fill_row_gaps; val_00004)."""
from pipeline.classify import rows as rows_mod
from pipeline.classify.rows import first_value_column, table_rows, value_columns
from pipeline.model import Cell, Document, Page, Source, Table
from pipeline.templates import templates
from tablefix import classify_table

HEADS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]


def _table(stray_number: bool) -> Table:
    """The 2019 requests table as a scan's grid draws it: an empty column at the page's margin
    (col 0: a fax header's rule widened the table), a vertical label column (col 1, one cell a
    row), the row labels (col 2), seven value columns. With `stray_number` two of the vertical
    column's cells read as numbers, as a heavy scan's garbled characters do."""
    tpl = templates()["2019"]
    n = len(HEADS)
    cells = [Cell(row=0, col=0, text="", colspan=3, is_header=True)]
    cells += [Cell(row=0, col=3 + k, text=h, is_header=True) for k, h in enumerate(HEADS)]
    for i, r in enumerate(tpl.request_rows):
        row = i + 1
        cells.append(Cell(row=row, col=0, text=""))
        vert = Cell(row=row, col=1, text="", readings=[(None, 1.0)])
        if stray_number and i in (5, 9):
            vert.text, vert.readings = "1果", [(1, 0.36)]
        cells.append(vert)
        cells.append(Cell(row=row, col=2, text=r.label))
        cells += [Cell(row=row, col=3 + k, text=str(10 * i + k), readings=[(10 * i + k, 0.99)]) for k in range(n)]
    return Table(cells=cells, page=1, pages=[1], aligned=True, title="三、收到和处理政府信息公开申请情况")


def _classify(table: Table) -> Document:
    return classify_table(table, "vertical.pdf")


def test_a_label_column_with_a_stray_number_is_not_the_first_value_column():
    t = _table(stray_number=True)
    assert 1 in value_columns(t)           # the vertical column's cells all got readings
    assert first_value_column(t, value_columns(t)) == 3


def test_the_first_value_column_of_a_clean_grid():
    t = _table(stray_number=False)
    assert first_value_column(t, value_columns(t)) == 3


def test_rows_keep_their_labels_and_the_table_is_read():
    tpl = templates()["2019"]
    doc = Document(Source("x.pdf", kind="scanned_pdf"), pages=[Page(number=1, unit="pt", tables=[_table(True)])])
    body = [r for r in table_rows(doc) if r.has_numbers]
    assert [r.last_label for r in body] == [r.label for r in tpl.request_rows]
    doc = _classify(_table(stray_number=True))
    first = tpl.request_rows[0].key
    assert [doc.fields[f"requests/{first}/{c.key}"].value for c in tpl.request_columns] == list(range(len(HEADS)))


def test_share_zero_is_the_old_rule(monkeypatch):
    real = rows_mod.config

    def cfg(name):
        d = dict(real(name))
        if name == "classify.yaml":
            d["first_value_share"] = 0.0
        return d
    monkeypatch.setattr(rows_mod, "config", cfg)
    t = _table(stray_number=True)
    assert first_value_column(t, value_columns(t)) == 1


# -- requests rows between two placed rows (requests_table.fill_row_gaps) -------------------------

def _rows(n_values: list[bool]):
    from pipeline.classify.rows import Row
    return [Row([Cell(row=i, col=0, text="x")], [Cell(row=i, col=1, text="0")] if v else [], 0, i, True)
            for i, v in enumerate(n_values)]


def test_a_garbled_row_between_two_placed_rows_is_the_row_between():
    from pipeline.classify.requests_table import fill_row_gaps
    keys = ["a", "b", "c", "d", "e"]
    got, placed = fill_row_gaps([0, None, 2, None, None, 4], _rows([True] * 6), keys, [keys])
    assert got == [0, 1, 2, None, None, 4] and placed == [1]     # c..e: two rows for one: left


def test_a_label_only_row_does_not_count_and_another_layout_may_fit():
    from pipeline.classify.requests_table import fill_row_gaps
    keys = ["a", "b", "x", "c"]
    got, placed = fill_row_gaps([0, None, None, 3], _rows([True, False, True, True]), keys,
                                [["a", "b", "x", "c"], ["a", "b", "c"]])
    assert got == [0, None, 1, 3] and placed == [2]


def _without_granted(key: str, **label):
    """The requests table with row `key`'s label cell set to `label` and the 'granted' row cut
    out (a row count no layout has: no positional prior). Returns the table and the row's index."""
    tpl = templates()["2019"]
    t = _table(stray_number=False)
    k = next(i for i, r in enumerate(tpl.request_rows) if r.key == key)
    lab = next(c for c in t.cells if c.row == k + 1 and c.col == 2)
    for name, v in label.items():
        setattr(lab, name, v)
    g = 1 + next(i for i, r in enumerate(tpl.request_rows) if r.key == "granted")
    t.cells = [c for c in t.cells if c.row != g]
    return t, k


def test_garbled_requests_labels_are_placed_by_position_and_doubted():
    t, k = _without_granted("rejected_repeated", text="わ我サロ")
    doc = _classify(t)
    f = doc.fields["requests/rejected_repeated/total"]
    assert f.value == 10 * k + len(HEADS) - 1
    assert f.placement < 0.995


# -- a row whose printed label read as nothing (requests_table.with_unread_rows), and the active
# table's rows between a section's title and a placed row (active_table.fill_active_gaps) ---------

def test_a_requests_row_whose_label_read_as_nothing_is_placed_between_its_neighbours():
    # inked, read as nothing (a seal's ring)
    t, k = _without_granted("rejected_reconfirm", text="", readings=[], char_probs=[])
    doc = _classify(t)
    f = doc.fields["requests/rejected_reconfirm/total"]
    assert f.value == 10 * k + len(HEADS) - 1
    assert f.placement < 0.995


def test_a_requests_row_with_an_empty_uninked_label_is_not_placed():
    # nothing printed there: no label read as nothing
    t, _ = _without_granted("rejected_reconfirm", text="", readings=[(None, 1.0)], char_probs=None)
    doc = _classify(t)
    f = doc.fields.get("requests/rejected_reconfirm/total")
    assert f is None or f.value is None


def _active(garbled: str | None) -> Table:
    """The 2019 active table as a scan's grid draws it: each section's title row, its 信息内容
    header row, its rows; `garbled`: that row's label read as noise."""
    tpl = templates()["2019"]
    cells, row = [], 0
    for s in tpl.sections:
        cells.append(Cell(row=row, col=0, text=s.label, colspan=len(s.columns) + 1, is_header=True))
        row += 1
        cells.append(Cell(row=row, col=0, text="信息内容", is_header=True))
        cells += [Cell(row=row, col=1 + j, text=c.label, is_header=True) for j, c in enumerate(s.columns)]
        row += 1
        for r in s.rows:
            if r.key == "central_procurement":
                continue                     # not printed: no layout's count, no positional prior
            cells.append(Cell(row=row, col=0, text="现录" if r.key == garbled else r.label))
            cells += [Cell(row=row, col=1 + j, text=str(row * 10 + j), readings=[(row * 10 + j, 0.99)])
                      for j in range(len(s.columns))]
            row += 1
    return Table(cells=cells, page=1, pages=[1], aligned=True, title="二、主动公开政府信息情况")


def test_an_active_row_between_its_sections_title_and_a_placed_row_is_placed_and_doubted():
    clean = _classify(_active(None))
    doc = _classify(_active("regulations"))
    key = "active/art20_1.regulations/new_made"
    assert clean.fields[key].value == 20
    assert doc.fields[key].value == 20 and doc.fields[key].placement < 0.995
    assert doc.fields["active/art20_1.normative_docs/new_made"].value == 30


def test_fill_active_gaps_switched_off_leaves_the_row_unplaced(monkeypatch):
    from pipeline.classify import active_table
    real = active_table.config

    def cfg(name):
        d = dict(real(name))
        if name == "classify.yaml":
            d["fill_active_gaps"] = False
        return d
    monkeypatch.setattr(active_table, "config", cfg)
    doc = _classify(_active("regulations"))
    f = doc.fields.get("active/art20_1.regulations/new_made")
    assert f is None or f.value is None
