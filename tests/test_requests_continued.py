"""A requests table whose header is on one page and whose body goes on on the next
(issue #14): the body's columns are found under the header's by position, not by count."""
from __future__ import annotations

from pipeline import classify
from pipeline.classify.requests_table import continued_positions
from pipeline.model import Cell, Document, Page, Source, Table
from pipeline.templates import templates

# x extents of the table's columns on both pages: label, then the 7 value columns
LABEL = (66, 263)
VALUE_X = [(265, 301), (303, 339), (342, 378), (380, 417), (418, 455), (457, 493), (495, 532)]
HEAD = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]


def _header_table(stray: bool) -> Table:
    """The header page (val_00011 light): a stray rule in its last row splits the third and
    sixth value columns in two, so the grid has 10 columns and counting them goes wrong."""
    cols, x = [], 1
    for k, (a, b) in enumerate(VALUE_X):
        span = 2 if stray and k in (2, 5) else 1
        cols.append((x, span, a, b))
        x += span
    cells = [Cell(row=0, col=0, text="", rowspan=2, bbox=(LABEL[0], 648, LABEL[1], 737))]
    cells += [Cell(row=0, col=c, colspan=s, text=HEAD[k], is_header=True, bbox=(a, 690, b, 737))
              for k, (c, s, a, b) in enumerate(cols)]
    row = [39, 0, 0, 0, 0, 0, 39]
    cells.append(Cell(row=2, col=0, text="一、本年新收政府信息公开申请数量", bbox=(LABEL[0], 739, LABEL[1], 758)))
    for k, (c, s, a, b) in enumerate(cols):
        if s == 2:       # the stray rule cuts this row's cell in two: the value and an empty half
            cells.append(Cell(row=2, col=c, text=str(row[k]), readings=[(row[k], 0.99)],
                              bbox=(a, 739, (a + b) / 2, 758)))
            cells.append(Cell(row=2, col=c + 1, text="", bbox=((a + b) / 2, 739, b, 758)))
        else:
            cells.append(Cell(row=2, col=c, text=str(row[k]), readings=[(row[k], 0.99)], bbox=(a, 739, b, 758)))
    return Table(cells=cells, page=1, pages=[1], aligned=True, bbox=(LABEL[0], 648, VALUE_X[-1][1], 758),
                 title="三、收到和处理政府信息公开申请情况")


GRANTED = [23, 0, 0, 0, 0, 0, 23]


def _body_table() -> Table:
    """The next page: a narrow group column, the row label, then the 7 value columns, one each."""
    cells = [Cell(row=0, col=0, text="三、本年度办理结果", rowspan=2, bbox=(64, 59, 80, 120)),
             Cell(row=0, col=1, colspan=2, text="（一）予以公开", bbox=(81, 59, 261, 78)),
             Cell(row=1, col=1, colspan=2, text="（二）部分公开", bbox=(81, 80, 261, 99))]
    for r, vals in enumerate([GRANTED, [1, 0, 0, 0, 0, 0, 1]]):
        for k, (a, b) in enumerate(VALUE_X):
            cells.append(Cell(row=r, col=3 + k, text=str(vals[k]), readings=[(vals[k], 0.99)],
                              bbox=(a - 2, 59 + 21 * r, b - 2, 78 + 21 * r)))
    return Table(cells=cells, page=2, pages=[2], aligned=True, bbox=(64, 59, 530, 120))


def test_continued_body_columns_follow_the_header_by_position():
    header, body = _header_table(stray=True), _body_table()
    heads = sorted((c for c in header.cells if c.is_header), key=lambda c: c.col)
    pos = [c.col for c in heads]
    assert pos == [1, 2, 3, 5, 6, 7, 9]
    # counting columns from the right edge gives the header's own indices here (10 columns both)
    assert continued_positions(heads, pos, header, body) == [3, 4, 5, 6, 7, 8, 9]
    assert continued_positions(heads, pos, _header_table(stray=False), body) == [3, 4, 5, 6, 7, 8, 9]


def test_without_boxes_the_value_columns_sit_at_the_right_edge():
    header, body = _header_table(stray=False), _body_table()
    heads = sorted((c for c in header.cells if c.is_header), key=lambda c: c.col)
    for c in heads:
        c.bbox = None
    assert continued_positions(heads, [c.col for c in heads], header, body) == [3, 4, 5, 6, 7, 8, 9]


def test_a_continued_row_keeps_its_values_in_their_columns():
    """val_00011 light: the granted row's 23 natural persons came out as 23 research
    institutes at 0.99998 (every sum still held)."""
    doc = Document(Source("scan.pdf", kind="scanned_pdf"))
    doc.pages = [Page(number=1, unit="pt", tables=[_header_table(stray=True)]),
                 Page(number=2, unit="pt", tables=[_body_table()])]
    out = classify.Decoded(kind="requests")
    classify.decode_requests(classify.table_rows(doc), classify.get_mapper("auto"), templates()["2021"], out)
    got = {k.split("/")[2]: c.readings[0][0] for k, c in out.cells.items()
           if k.startswith("requests/granted/") and c is not None and c.readings}
    assert got.get("natural_person") == 23 and got.get("total") == 23
    assert got.get("research_institution", 0) == 0
