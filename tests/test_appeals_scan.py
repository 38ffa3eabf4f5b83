"""The appeals table on heavy scans (issue #14): a value row with a cell OCR read as a
word ('Q' for 0, '项', '1)') keeps all 15 of its columns."""
from __future__ import annotations

from pipeline import classify
from pipeline.model import Cell, Document, Page, Source, Table
from pipeline.templates import templates

LEAF = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]


def _appeals(values: dict[int, tuple[str, object]]) -> Table:
    """The appeals grid as the heavy test scans give it: a group row, a leaf row, and one
    row of 15 values; `values` overrides a column's (text, reading) (reading None: no
    reading, the text did not parse)."""
    cells = [Cell(row=0, col=0, text="行政复议", colspan=5, is_header=True),
             Cell(row=0, col=5, text="未经复议直接起诉", colspan=5, is_header=True),
             Cell(row=0, col=10, text="复议后起诉", colspan=5, is_header=True)]
    cells += [Cell(row=1, col=k, text=LEAF[k % 5], is_header=True) for k in range(15)]
    truth = [1, 2, 0, 0, 3] * 3
    for k in range(15):
        text, v = values.get(k, (str(truth[k]), truth[k]))
        cells.append(Cell(row=2, col=k, text=text, readings=[] if v is None else [(v, 0.97)]))
    return Table(cells=cells, page=1, pages=[1], aligned=True)


def _decode(t: Table) -> classify.Decoded:
    doc = Document(Source("scan.pdf", kind="scanned_pdf"))
    doc.pages = [Page(number=1, unit="pt", tables=[t])]
    out = classify.Decoded(kind="appeals")
    classify.decode_appeals(classify.table_rows(doc), classify.get_mapper("auto"), templates()["2021"], out)
    return out


def test_a_word_read_in_a_value_column_does_not_hide_the_values_before_it():
    """test_00015 heavy: 'Q' for a 0 in the sixth column; rows.py took it for the row's
    label and only the 9 values right of it were kept ('9 values in 9 fields for 15')."""
    out = _decode(_appeals({5: ("Q", None)}))
    assert not out.missing
    assert len(out.cells) == 15
    order = sorted(out.cells, key=lambda k: out.cells[k].col)
    assert order[0] == "appeals/review/upheld" and order[5] == "appeals/litigation_direct/upheld"
    assert out.cells["appeals/review/upheld"].readings[0][0] == 1
    assert out.cells["appeals/litigation_direct/upheld"].text == "Q"


def test_a_word_in_the_first_column_is_no_row_label_either():
    """test_00014 heavy: 'U' for a 0 in the first column, where a requests row's label
    would stand: the appeals table prints none."""
    out = _decode(_appeals({0: ("U", None)}))
    assert len(out.cells) == 15 and not out.missing
    assert out.cells["appeals/review/upheld"] is not None      # not a blank at 1.0
    assert out.cells["appeals/review/upheld"].text == "U"


def test_a_number_read_from_a_word_is_doubted():
    """test_00000 heavy: '1)' read as 1 where 0 was printed, 'Q' for a 0 further right; the
    equations then made the total 1 at 0.9998. A reading of text that is no clean number
    stays below review."""
    out = _decode(_appeals({2: ("1)", 1), 10: ("Q", None)}))
    cell = out.cells["appeals/review/other"]
    assert cell.readings[0][0] == 1 and cell.doubts
    assert not out.cells["appeals/review/upheld"].doubts


def test_a_row_of_another_shape_is_left_to_the_rows():
    """A row of fewer cells than the template's columns is not taken whole: its first
    cell may be a real label (a requests row run into the region)."""
    t = _appeals({})
    t.cells = [c for c in t.cells if not (c.row == 2 and c.col == 14)]
    t.cells[-1].text, t.cells[-1].readings = "项", []
    out = _decode(t)
    assert "appeals/review/upheld" not in out.cells


def _unreadable_header(t: Table) -> Table:
    for c in t.cells:
        if c.row == 1:
            c.text = "鎮果"            # the leaf labels OCR could not read
    return t


def test_a_lost_rule_under_unreadable_labels_keeps_the_header_columns():
    """A rule between two value columns lost on the scan: one cell over both prints two
    numbers. The leaf labels are unreadable, so the header's 15 single-column cells give
    the columns in template order and the cell is split, not shifted."""
    t = _unreadable_header(_appeals({}))
    t.cells = [c for c in t.cells if not (c.row == 2 and c.col == 4)]
    span = next(c for c in t.cells if c.row == 2 and c.col == 3)
    span.colspan, span.text, span.readings = 2, "0 3", []
    out = _decode(t)
    assert out.cells["appeals/review/pending"].readings[0][0] == 0
    assert out.cells["appeals/review/total"].readings[0][0] == 3
    assert out.cells["appeals/litigation_after_review/total"].readings[0][0] == 3
    assert not out.missing


def test_a_column_no_cell_covers_is_missing_not_a_printed_blank():
    """One number in a cell over two columns: which column it belongs to is a guess, and
    neither column is reported as a printed blank."""
    t = _unreadable_header(_appeals({}))
    t.cells = [c for c in t.cells if not (c.row == 2 and c.col == 4)]
    span = next(c for c in t.cells if c.row == 2 and c.col == 3)
    span.colspan, span.text, span.readings = 2, "3", [(3, 0.97)]
    out = _decode(t)
    for k in ("appeals/review/pending", "appeals/review/total"):
        assert out.cells.get(k) is None and k in out.missing
    assert out.cells["appeals/review/other"].readings[0][0] == 0        # the rest placed by column
    assert out.cells["appeals/litigation_direct/upheld"].readings[0][0] == 1


def test_fields_short_of_the_columns_are_placed_by_the_group_totals():
    """Rules lost in header and body: 14 fields for 15 columns and no header column. The
    groups whose totals fix the fields' places are placed (below review); in the group
    that lost a field only what every balancing placement agrees on is kept."""
    printed = [1, 2, 0, 0, 3, 4, 0, 1, 0, 5, 2, 2, 1, 0, 5]
    t = _appeals({})
    t.cells = [c for c in t.cells if c.row != 1 and not (c.row == 2 and c.col == 11)]
    for c in t.cells:
        if c.row == 2:
            c.row = 1
            c.col = c.col if c.col < 11 else c.col - 1
            c.text, c.readings = str(printed[c.col if c.col < 11 else c.col + 1]), \
                [(printed[c.col if c.col < 11 else c.col + 1], 0.97)]
    out = _decode(t)
    keys = [k for k in out.cells if out.cells[k] is not None]
    assert len(keys) >= 10
    for j, k in enumerate(sorted(keys, key=lambda k: out.cells[k].col)[:10]):
        assert out.cells[k].readings[0][0] == printed[j]
        assert out.placement[k] < 0.995
    assert "appeals/litigation_after_review/corrected" in out.missing
    assert out.cells.get("appeals/litigation_after_review/corrected") is None


def test_a_number_read_from_a_word_is_doubted_in_a_row_with_no_label_cell():
    """test_00000 heavy with digit-first routing: the 'Q' that rows.py took for a label was
    read 0 by the digit model, so the row has no label cell; '1)' (read 1) and 'I' (read 0)
    must still stay below review."""
    out = _decode(_appeals({2: ("1)", 1), 4: ("I", 0)}))
    assert out.cells["appeals/review/other"].doubts
    assert out.cells["appeals/review/total"].doubts
    assert not out.cells["appeals/review/upheld"].doubts
    assert len(out.cells) == 15 and not out.missing


def test_a_text_that_says_what_its_reading_says_is_not_doubted():
    """Session 26d (issue 14): the clean-number doubt capped 'O' and '0件' read 0 and whole
    groups printed '/' read blank, all right on the test scans; '1)' and 'I' stay doubted."""
    t = _appeals({2: ("O", 0), 3: ("0件", 0), 7: ("1)", 1), 8: ("I", 0)})
    for c in t.cells:
        if c.row == 2 and 10 <= c.col < 15:      # the third group printed '/' throughout
            c.text, c.readings = "/", [(None, 1.0)]
    out = _decode(t)
    assert not out.cells["appeals/review/other"].doubts and not out.cells["appeals/review/pending"].doubts
    assert out.cells["appeals/litigation_direct/other"].doubts       # '1)' read 1
    assert out.cells["appeals/litigation_direct/pending"].doubts     # 'I' read 0
    assert not any(out.cells[f"appeals/litigation_after_review/{c}"].doubts
                   for c in ("upheld", "corrected", "other", "pending", "total"))
