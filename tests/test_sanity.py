"""Sanity guards (classify.sanity, score caps): a reading the page contradicts is never
confident — ink too narrow or too wide for the digits read, a row of copies of one
reading, a blank among zeros or a 0 among blanks on a scan, a template decision the rows
present contradict. Each test fails without its guard."""
import numpy as np
import pytest

from pipeline import classify, score
from pipeline.model import Cell, Document, Field, Page, Source, Table
from pipeline.templates import config, templates
from tablefix import classify_table

HEADS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
THRESHOLD = float(config("scoring.yaml")["review_threshold"])


def _table(tpl_name="2019", value=lambda i, k: 10 * i + k, ink=None) -> Table:
    """The requests table with readable labels; `ink(i, k, v)` gives a value cell's ink box."""
    tpl = templates()[tpl_name]
    cells = [Cell(row=0, col=0, text="", colspan=2, is_header=True)]
    cells += [Cell(row=0, col=2 + k, text=h, is_header=True) for k, h in enumerate(HEADS)]
    for i, r in enumerate([r for r in tpl.request_rows if r.expected]):
        cells.append(Cell(row=i + 1, col=0, text=r.label, colspan=2))
        for k in range(len(HEADS)):
            v = value(i, k)
            cells.append(Cell(row=i + 1, col=2 + k, text="" if v is None else str(v), readings=[(v, 0.999)],
                              bbox=(100.0 + 40 * k, 50.0 + 20 * i, 140.0 + 40 * k, 70.0 + 20 * i),
                              ink=ink(i, k, v) if ink else None))
    return Table(cells=cells, page=1, pages=[1], aligned=True, title="三、收到和处理政府信息公开申请情况")


def _classify(table: Table) -> Document:
    return classify_table(table, "scan.pdf")


def _digit_ink(v, h=7.0):
    """Ink of a printed number: 0.65 of the height per digit."""
    return None if v is None else (0.65 * h * len(str(abs(v))), h)


def test_ink_too_wide_for_the_digits_read_is_doubted():
    # row 0, column 0 printed '7 3 112' in one cell, read 73112 (the gaps lost)
    wide = (120.0, 7.0)                           # three numbers over three columns
    t = _table(value=lambda i, k: 73112 if (i, k) == (0, 0) else 10 * i + k,
               ink=lambda i, k, v: wide if (i, k) == (0, 0) else _digit_ink(v))
    doc = _classify(t)
    first = templates()["2019"].request_rows[0].key
    f = doc.fields[f"requests/{first}/natural_person"]
    assert f.value == 73112 and f.doubts and "lost" in f.doubts[0]
    other = doc.fields[f"requests/{first}/commercial_enterprise"]
    assert not other.doubts                       # digits that fit their ink are not doubted


def test_more_digits_than_the_ink_holds_is_doubted():
    t = _table(value=lambda i, k: 1111 if (i, k) == (1, 2) else 10 * i + k,
               ink=lambda i, k, v: (3.0, 7.0) if (i, k) == (1, 2) else _digit_ink(v))
    doc = _classify(t)
    row = templates()["2019"].request_rows[1].key
    col = templates()["2019"].request_columns[2].key
    assert doc.fields[f"requests/{row}/{col}"].doubts


def test_a_row_of_copies_of_one_reading_is_doubted():
    t = _table(value=lambda i, k: 73112 if i == 0 else 10 * i + k)
    doc = _classify(t)
    first = templates()["2019"].request_rows[0].key
    assert all(doc.fields[f"requests/{first}/{c.key}"].doubts for c in templates()["2019"].request_columns)
    second = templates()["2019"].request_rows[1].key
    assert not any(doc.fields[f"requests/{second}/{c.key}"].doubts for c in templates()["2019"].request_columns)


def test_a_blank_in_a_row_of_zeros_on_a_scan_is_doubted_not_on_a_text_layer():
    def value(i, k):
        return None if (i, k) == (2, 3) else 0 if i == 2 else 10 * i + k
    row = templates()["2019"].request_rows[2].key
    col = templates()["2019"].request_columns[3].key
    doc = _classify(_table(value=value, ink=lambda i, k, v: _digit_ink(v)))
    assert doc.fields[f"requests/{row}/{col}"].value is None
    assert doc.fields[f"requests/{row}/{col}"].doubts
    # a text layer (no ink measured) prints what it prints
    doc = _classify(_table(value=value))
    assert not doc.fields[f"requests/{row}/{col}"].doubts


def test_a_lone_zero_among_blanks_on_a_scan_is_doubted():
    def value(i, k):
        return 0 if (i, k) == (3, 0) else None if i == 3 else 10 * i + k
    doc = _classify(_table(value=value, ink=lambda i, k, v: _digit_ink(v)))
    row = templates()["2019"].request_rows[3].key
    assert doc.fields[f"requests/{row}/natural_person"].doubts


def test_guards_off_leave_no_doubt(monkeypatch):
    monkeypatch.setattr(classify, "SANITY_OFF", True)
    t = _table(value=lambda i, k: 73112 if i == 0 else 10 * i + k)
    doc = _classify(t)
    assert not any(f.doubts for f in doc.fields.values())


def test_a_doubted_cell_is_capped_below_the_review_threshold():
    doc = Document(Source("scan.pdf", kind="scanned_pdf"))
    doc.template = "2021"
    doc.fields = {"appeals/review/upheld": Field("appeals/review/upheld", 7, alternatives=[(7, 0.99999)]),
                  "appeals/review/corrected": Field("appeals/review/corrected", 3, alternatives=[(3, 0.99999)],
                                                    doubts=["ink too wide"])}
    score.score(doc)
    assert doc.fields["appeals/review/corrected"].confidence < THRESHOLD
    assert doc.fields["appeals/review/corrected"].confidence <= float(config("scoring.yaml")["sanity"]["cap"])
    assert doc.status == "needs_review"


def test_a_solver_value_with_another_digit_count_than_printed_is_doubted():
    """A printed 10 'corrected' to 0 by the equations (other cells of its row misread) was
    0.9993 sure on an emboldened val scan; a correction of the same digit count is not doubted."""
    doc = Document(Source("scan.pdf", kind="scanned_pdf"))
    doc.template = "2021"
    doc.fields = {"appeals/review/upheld": Field("appeals/review/upheld", 0, status="corrected", text="10",
                                                 alternatives=[(10, 0.9), (0, 0.1)]),
                  "appeals/review/corrected": Field("appeals/review/corrected", 18, status="corrected", text="10",
                                                    alternatives=[(10, 0.9), (18, 0.1)])}
    score.score(doc)
    assert doc.fields["appeals/review/upheld"].doubts
    assert doc.fields["appeals/review/upheld"].confidence <= float(config("scoring.yaml")["sanity"]["cap"])
    assert not doc.fields["appeals/review/corrected"].doubts
    doc.fields["appeals/review/upheld"] = Field("appeals/review/upheld", 0, status="corrected", text="4",
                                                alternatives=[(4, 0.9), (0, 0.1)])
    score.score(doc)
    assert doc.fields["appeals/review/upheld"].doubts      # a clean 4 made 0 by the equations


def test_a_clean_printed_0_made_non_zero_by_the_equations_is_doubted():
    """A thinned scan (held-out style `thin`, val_00001 light): faint 0s read as 1 make their
    row total 1, and the equations then 'correct' a cleanly read 0 to 1 at 0.999."""
    doc = Document(Source("scan.pdf", kind="scanned_pdf"))
    doc.template = "2021"
    doc.fields = {"appeals/review/upheld": Field("appeals/review/upheld", 1, status="corrected", text="0",
                                                 alternatives=[(0, 0.9), (1, 0.1)])}
    score.score(doc)
    assert doc.fields["appeals/review/upheld"].doubts
    assert doc.fields["appeals/review/upheld"].confidence <= float(config("scoring.yaml")["sanity"]["cap"])


# -- a template decision contradicted by the rows present ------------------------------------

class _MisreadMapper:
    """The shipped mapper, except that the labels in `overrides` go to the given class
    (p 0.97): the 2021 (六) second sub-row read with its parent 其他处理 as 2019's one row."""
    name = "misread"

    def __init__(self, overrides: dict[str, str]):
        self.real = classify.get_mapper("auto")
        self.overrides = overrides

    def predict_proba(self, texts, classes, context=None):
        try:
            P = np.array(self.real.predict_proba(texts, classes, context=context), float)
        except TypeError:
            P = np.array(self.real.predict_proba(texts, classes), float)
        for i, t in enumerate(texts):
            if t in self.overrides:
                P[i] = 0.03 / (len(classes))
                P[i, classes.index(self.overrides[t])] = 0.97
        return P


def _rows_2021(tall_label: str):
    tpl = templates()["2021"]
    cells = [Cell(row=0, col=0, text="", colspan=2, is_header=True)]
    cells += [Cell(row=0, col=2 + k, text=h, is_header=True) for k, h in enumerate(HEADS)]
    rows = [r for r in tpl.request_rows if r.expected]
    for i, r in enumerate(rows):
        cells.append(Cell(row=i + 1, col=0, text=tall_label if r.key == "other_unpaid_fee" else r.label, colspan=2))
        cells += [Cell(row=i + 1, col=2 + k, text=str(10 * i + k), readings=[(10 * i + k, 0.999)]) for k in range(7)]
    t = Table(cells=cells, page=1, pages=[1], aligned=True)
    doc = Document(Source("scan.pdf", kind="scanned_pdf"))
    doc.pages = [Page(number=1, unit="pt", tables=[t])]
    return classify.table_rows(doc), rows


def test_2021_sub_rows_with_one_read_as_the_2019_one_row_are_decided_2021(monkeypatch):
    monkeypatch.setitem(config("classify.yaml"), "positional_prior", 0.0)   # labels alone decide
    tall = "其他处理 申请人逾期未按收费"
    rows, tpl_rows = _rows_2021(tall)
    mapper = _MisreadMapper({tall: "requests.row:other"})
    out = classify.Decoded(kind="requests")
    classify.decode_requests(rows, mapper, templates()["2021"], out)
    assert out.template == "2021"
    i = [r.key for r in tpl_rows].index("other_unpaid_fee")
    cell = out.cells["requests/other_unpaid_fee/natural_person"]
    assert cell.readings[0][0] == 10 * i
    assert cell.doubts                            # re-placed: a person looks
    assert not any(k.startswith("requests/other/") for k in out.cells)
    assert out.cells["requests/other_other/natural_person"].readings[0][0] == 10 * (i + 1)
    assert not out.cells["requests/other_other/natural_person"].doubts


def test_the_contradiction_rule_leaves_a_2019_one_row_table_alone():
    P = np.full((1, 5), 0.01)
    keys = ["requests.row:other_no_correction", "requests.row:other_unpaid_fee", "requests.row:other_other",
            "requests.row:other"]
    P[0, 3] = 0.96
    assert classify.one_row_other_contradicted(P, [3], keys, classify.Decoded(kind="requests")) is None


@pytest.mark.parametrize("aligned", [True, False])
def test_a_row_label_without_values_reads_blank_but_doubtfully(aligned):
    """A grid row with a label and no value cells (a tall wrapped label split off its
    values) reads as blanks, never confidently."""
    tpl = templates()["2019"]
    t = _table()
    t.aligned = aligned
    row = 4
    t.cells = [c for c in t.cells if not (c.row == row + 1 and c.col >= 2)]
    doc = _classify(t)
    key = tpl.request_rows[row].key
    f = doc.fields.get(f"requests/{key}/natural_person")
    if f is not None:
        assert f.value is None and f.placement < THRESHOLD


def _scored(fields: dict, kind="scanned_pdf", missing=0) -> Document:
    doc = Document(Source("scan.pdf", kind=kind))
    doc.template = "2021"
    doc.fields = fields
    doc.missing = [{"key": f"requests/granted/x{i}", "reason": "row not found in the table"} for i in range(missing)]
    score.score(doc)
    return doc


def test_a_0_or_blank_its_mark_contradicts_is_doubted_on_a_scan():
    """Heavy test scans at 7bc40ad: printed blanks came back as 0 at 0.998–0.99999 (a seal's
    text '生态' read 0 at 1.0, a solid blob taken for 0, a dash corrected to 0); the equations
    balance a blank and a 0 alike, so only the mark can tell them apart."""
    cap = float(config("scoring.yaml")["sanity"]["cap"])
    k = "appeals/review/upheld"
    seal = _scored({k: Field(k, 0, text="生态", alternatives=[(0, 1.0)])}).fields[k]
    assert seal.doubts and seal.confidence <= cap
    blob = _scored({k: Field(k, 0, text="", alternatives=[(0, 0.7), (8, 0.1)])}).fields[k]
    assert blob.doubts
    dash = _scored({k: Field(k, 0, status="corrected", text="一",
                             alternatives=[(1, 0.3), (0, 0.27), (None, 0.09)])}).fields[k]
    assert dash.doubts
    inferred = _scored({k: Field(k, 0, status="inferred", illegible=True)}).fields[k]
    assert inferred.doubts
    # clean marks are not doubted: a 0 read as 0, a blank with no ink, a dash read as blank
    assert not _scored({k: Field(k, 0, text="0", alternatives=[(0, 0.99), (8, 0.01)])}).fields[k].doubts
    assert not _scored({k: Field(k, None, text="", alternatives=[(None, 1.0)])}).fields[k].doubts
    assert not _scored({k: Field(k, None, text="—", alternatives=[(None, 0.98), (0, 0.02)])}).fields[k].doubts
    assert not _scored({k: Field(k, 7, text="7", alternatives=[(7, 0.6)])}).fields[k].doubts
    # an unsure 0 whose mark holds a 0 is for the recogniser's evidence, not this guard
    assert not _scored({k: Field(k, 0, text="0项", alternatives=[(0, 0.34), (90, 0.31)])}).fields[k].doubts
    assert _scored({k: Field(k, None, status="corrected", text="1",
                             alternatives=[(1, 0.6), (None, 0.3)])}).fields[k].doubts
    # a text layer prints what it prints
    assert not _scored({k: Field(k, 0, text="生态", alternatives=[(0, 1.0)])}, kind="digital_pdf").fields[k].doubts


def test_cells_no_equation_confirms_are_doubted_where_the_reading_lost_many_cells():
    """A thinned scan lost 72 cells; a 4 read as 1 in a column no equation binds was 0.9999 sure."""
    k = "active/art20_6.admin_penalty/change"
    n = int(config("scoring.yaml")["sanity"]["failed_reading"]["missing_min"])
    f = _scored({k: Field(k, 1, text="1", alternatives=[(1, 0.99999)])}, missing=n).fields[k]
    assert f.doubts and f.confidence < THRESHOLD
    g = _scored({k: Field(k, 1, text="1", alternatives=[(1, 0.99999)])}, missing=n - 1).fields[k]
    assert not g.doubts


def test_the_reading_whose_digit_count_fits_the_ink_goes_first_where_no_equation_binds():
    # PP-OCR read '65' (the text); mixed with the digit model, which dropped a digit, the top is 5
    from pipeline.classify.decoded import Decoded
    from pipeline.classify.guards import DIGIT_COUNT_DOUBT, fit_digit_count
    from pipeline.templates import templates as tpls

    def cell(ink_digits):
        return Cell(row=1, col=1, text="65", readings=[(5, 0.83), (65, 0.17)], ink=_digit_ink(10 ** (ink_digits - 1)))

    eq = tpls()["2019"].equations[0]                 # a requests balance: its four cells are bound
    free = "active/art20_5.admin_license/decisions"  # no equation binds it
    assert not any(free in e.lhs + e.rhs for t in tpls().values() for e in t.equations)
    d = Decoded(kind="active", cells={free: cell(2)})
    req = Decoded(kind="requests", cells={k: cell(2) for k in eq.lhs + eq.rhs})
    tied = eq.lhs[0]
    d2 = Decoded(kind="active", cells={free: cell(1)})
    assert fit_digit_count({"active": d, "requests": req}) == 1 and fit_digit_count({"active": d2}) == 0
    # the ink is two digits wide: 65 goes first (with the top's probability), doubted
    assert d.cells[free].readings == [(65, 0.83), (5, 0.17)] and DIGIT_COUNT_DOUBT in d.cells[free].doubts
    # an equation binds this one: the solver chooses between the readings, left as they are
    assert req.cells[tied].readings == [(5, 0.83), (65, 0.17)] and not req.cells[tied].doubts
    # one digit of ink: the mixed top 5 fits, nothing changes
    assert d2.cells[free].readings[0] == (5, 0.83) and not d2.cells[free].doubts


def test_text_first_puts_ppocrs_clean_number_first_where_no_equation_binds(monkeypatch):
    # a faint '6' that the digit model read 0 (same digit count: the ink's width cannot choose)
    from pipeline.classify import guards
    from pipeline.classify.decoded import Decoded
    real = guards.config

    def cfg(name, on):
        c = real(name)
        if name != "scoring.yaml":
            return c
        c = dict(c)
        c["sanity"] = {**c["sanity"], "digit_count": {**c["sanity"]["digit_count"], "text_first": on}}
        return c

    free = "active/art20_9.central_procurement/procurement_items"
    for on, top in ((False, 0), (True, 6)):
        monkeypatch.setattr(guards, "config", lambda name, on=on: cfg(name, on))
        d = Decoded(kind="active", cells={free: Cell(row=1, col=1, text="6", readings=[(0, 0.83), (6, 0.17)],
                                                     ink=_digit_ink(1))})
        assert guards.fit_digit_count({"active": d}) == int(on)
        assert d.cells[free].readings[0] == (top, 0.83)
        assert (guards.TEXT_FIRST_DOUBT in d.cells[free].doubts) == on
    # the ink fits the top's count (two digits) and not the text's (one): left alone
    d = Decoded(kind="active", cells={free: Cell(row=1, col=1, text="6", readings=[(60, 0.83), (6, 0.17)],
                                                 ink=_digit_ink(10))})
    assert guards.fit_digit_count({"active": d}) == 0


def _zeros_table(wide_at=None, wide_ink=(9.4, 7.2), text="0"):
    """A requests table printing 0s (ink 5.8 × 7.2 pt) but for row 0's natural-person cell,
    printed 42: its ink `wide_ink`, read `text` as a clean 0 by both recognisers."""
    t = _table(value=lambda i, k: 0, ink=lambda i, k, v: wide_ink if (i, k) == wide_at else (5.8, 7.2))
    if wide_at is not None:
        i, k = wide_at
        c = next(c for c in t.cells if c.row == i + 1 and c.col == 2 + k)
        c.text = text
    return t


def test_a_0_read_from_ink_two_digits_wide_is_doubted():
    # val_00006 heavy: a blurred 42 read '0' at 0.995, every equation holding on zeros
    doc = _classify(_zeros_table(wide_at=(0, 0)))
    first = templates()["2019"].request_rows[0].key
    f = doc.fields[f"requests/{first}/natural_person"]
    assert f.value == 0 and any("as wide per character" in d for d in f.doubts)
    assert not doc.fields[f"requests/{first}/commercial_enterprise"].doubts   # a 0's own width


def test_ink_as_wide_but_higher_than_a_digit_or_read_as_two_characters_is_not_doubted_as_wide():
    first = templates()["2019"].request_rows[0].key
    key = f"requests/{first}/natural_person"
    # a seal's text or a streak widens the ink and makes it higher than the 0s: other guards' matter
    doc = _classify(_zeros_table(wide_at=(0, 0), wide_ink=(9.4, 12.0)))
    assert not any("as wide per character" in d for d in doc.fields[key].doubts)
    # '0项': two characters read, the ink fits them
    doc = _classify(_zeros_table(wide_at=(0, 0), text="0项"))
    assert not any("as wide per character" in d for d in doc.fields[key].doubts)


def test_without_enough_printed_0s_the_wide_ink_guard_has_no_measure():
    from pipeline.classify.guards import zero_extent
    cells = [Cell(row=0, col=k, text="0", ink=(5.0 + k, 7.0)) for k in range(4)]
    assert zero_extent(cells, {"0"}, 5) is None
    cells.append(Cell(row=0, col=4, text="O", ink=(9.0, 8.0)))
    assert zero_extent(cells, {"0", "O"}, 5) == (7.0, 7.0)


def _broken_zero_table(ink, readings=((1, 0.5), (0, 0.3), (3, 0.1)), text="I"):
    """A requests table printing 0s (ink 5.8 × 7.2 pt) but for row 0's natural-person cell,
    read `text` with `readings` from ink `ink`."""
    t = _zeros_table(wide_at=(0, 0), wide_ink=ink, text=text)
    c = next(c for c in t.cells if c.row == 1 and c.col == 2)
    c.readings = list(readings)
    return t


def test_ones_read_from_a_0s_width_of_ink_lower_than_the_0s_are_a_broken_0():
    # test_00003 light (thin): a 0 whose top and bottom faded, its two sides read 'I' (1 first)
    key = f"requests/{templates()['2019'].request_rows[0].key}/natural_person"
    doc = _classify(_broken_zero_table((4.4, 5.4)))
    f = doc.fields[key]
    assert f.value == 0 and any("sides of a 0" in d for d in f.doubts)
    # '11' read from the same ink: the same
    doc = _classify(_broken_zero_table((4.4, 5.4), readings=((11, 0.5), (0, 0.3)), text="11"))
    assert doc.fields[key].value == 0


def test_a_printed_1_as_high_as_the_0s_or_narrow_or_without_a_0_reading_stays_1():
    key = f"requests/{templates()['2019'].request_rows[0].key}/natural_person"
    for ink, readings in [((5.0, 7.2), ((1, 0.5), (0, 0.3))),     # a serif 1: a 0's width, full height
                          ((1.8, 5.4), ((1, 0.5), (0, 0.3))),     # a lone stroke, narrower than a 0
                          ((4.4, 5.4), ((1, 0.9), (7, 0.1)))]:    # no 0 among the readings
        f = _classify(_broken_zero_table(ink, readings=readings)).fields[key]
        assert f.value == 1 and not any("sides of a 0" in d for d in f.doubts)


def test_a_1_read_surely_is_no_broken_0():
    key = f"requests/{templates()['2019'].request_rows[0].key}/natural_person"
    f = _classify(_broken_zero_table((4.4, 5.4), readings=((1, 0.95), (0, 0.05)))).fields[key]
    assert f.value == 1
