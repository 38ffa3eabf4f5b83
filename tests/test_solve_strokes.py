"""A count cell read only as vertical strokes keeps 0 as an option (solve_cells.stroke_zero).

The fixture is the requests table of test_00003 light (held-out `thin`, session 29b): a
2019 table printing 1 in the natural-person column of three rows (and their row totals),
0 everywhere else, read with the thinned scan's flat candidate lists. One thin 0 under a
seal's ring was read '1' with the readings 1 / 2 / 7 and no 0: without the stroke_zero
option that one cell forced the 1s into the commercial column (9 cells wrong)."""
from __future__ import annotations

import pytest

from pipeline import solve as solve_mod
from pipeline import solve_cells
from pipeline.model import Document, Field, Source
from pipeline.templates import templates

COLS = ["natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
        "legal_service_org", "other_org", "total"]
ONES = ("new_received", "rejected_reconfirm", "total")
THIN_ZERO = [(0, 0.75), (1, 0.1), (3, 0.08), (4, 0.07)]      # a thin 0 as the digit model mixes it
# (key, text read, readings) of the cells that decide the column, as the scan read them
READ = {
    "new_received/natural_person": ("1", [(1, 0.5514), (0, 0.2563), (4, 0.1193), (3, 0.0454), (None, 0.0275)]),
    "new_received/commercial_enterprise": ("10", [(0, 0.4613), (1, 0.2542), (3, 0.1108), (5, 0.0955), (10, 0.0782)]),
    "new_received/total": ("1", [(1, 0.5835), (0, 0.2555), (4, 0.0609), (3, 0.057), (None, 0.043)]),
    "rejected_reconfirm/natural_person": ("1", [(0, 0.4702), (1, 0.3029), (None, 0.0869), (2, 0.0766), (3, 0.0634)]),
    "rejected_reconfirm/total": ("一", [(1, 0.5826), (0, 0.2438), (None, 0.0712), (4, 0.0576), (3, 0.0449)]),
    "other/commercial_enterprise": ("1", [(1, 0.6726), (2, 0.1975), (7, 0.1299)]),
    "other/total": ("0", [(0, 0.7892), (1, 0.0862), (3, 0.064), (2, 0.0606)]),
    "total/natural_person": ("1", [(1, 0.5443), (0, 0.2801), (4, 0.0822), (3, 0.0532), (None, 0.0401)]),
    "total/commercial_enterprise": ("I", [(1, 0.5074), (0, 0.2383), (4, 0.0921), (3, 0.087), (11, 0.0752)]),
    "total/total": ("1", [(1, 0.6598), (0, 0.205), (4, 0.0511), (None, 0.0452), (3, 0.0389)]),
}


def printed() -> dict:
    rows = [r.key for r in templates()["2019"].request_rows if r.expected]
    v = {f"requests/{r}/{c}": 0 for r in rows for c in COLS}
    for r in ONES:
        v[f"requests/{r}/natural_person"] = v[f"requests/{r}/total"] = 1
    return v


def thin_scan() -> Document:
    doc = Document(Source("thin", kind="scanned_pdf"), template="2019")
    for k, x in printed().items():
        text, alts = READ.get(k.split("/", 1)[1], ("0", THIN_ZERO))
        doc.fields[k] = Field(k, alts[0][0], alternatives=list(alts), text=text)
    return doc


def wrong(doc: Document) -> dict:
    return {k: f.value for k, f in doc.fields.items() if f.value != printed()[k]}


def test_a_thin_zero_read_as_a_stroke_does_not_move_the_column():
    doc = thin_scan()
    solve_mod.solve(doc)
    assert wrong(doc) == {}
    f = doc.fields["requests/other/commercial_enterprise"]
    assert f.status == "corrected" and (1, 0.6726) in f.alternatives    # the reading is kept beside it


def test_without_the_option_the_ones_move_to_the_commercial_column(monkeypatch):
    cfg = dict(solve_mod.settings())
    cfg["stroke_zero"] = {**cfg["stroke_zero"], "enabled": False}
    monkeypatch.setattr(solve_mod, "settings", lambda: cfg)
    doc = thin_scan()
    solve_mod.solve(doc)
    bad = wrong(doc)
    assert bad["requests/other/commercial_enterprise"] == 1
    assert bad["requests/total/natural_person"] == 0 and bad["requests/total/commercial_enterprise"] == 1


CFG = {"enabled": True, "chars": "1Il|!()[]」「Ⅱ丨"}


@pytest.mark.parametrize("text, readings, expect", [
    ("1", {1: 0.67, 2: 0.2, 7: 0.13}, True),
    ("1 1", {11: 0.8, 1: 0.2}, True),           # spaces between the strokes do not matter
    ("I)", {1: 0.9, 11: 0.1}, True),
    ("1", {1: 0.9, 0: 0.02}, False),            # a 0 is listed already: its own probability stands
    ("1", {1: 0.9, None: 0.1}, False),          # a blank already counts 0 in the equations
    ("17", {17: 0.8, 11: 0.2}, False),          # a 7 is not a stroke of a 0
    ("n", {1: 0.6, 11: 0.4}, False),            # an arc: not this rule's shape
    ("", {1: 0.6}, False),
])
def test_stroke_zero_is_only_a_reading_of_strokes_without_a_zero(text, readings, expect):
    assert solve_cells.stroke_zero(text, readings, CFG) is expect
    assert solve_cells.stroke_zero(text, readings, {**CFG, "enabled": False}) is False


def test_a_locked_stroke_reading_gets_no_zero_option():
    cfg = dict(solve_mod.settings())
    sure = solve_cells.cell_var(Field("k", 1, alternatives=[(1, 0.99), (7, 0.01)], text="1"), cfg)
    unsure = solve_cells.cell_var(Field("k", 1, alternatives=[(1, 0.9), (7, 0.1)], text="1"), cfg)
    assert sure.locked and [v for v, _ in sure.options] == [1]
    assert [v for v, _ in unsure.options] == [1, 7, 0]
    assert unsure.options[-1][1] == pytest.approx(float(cfg["stroke_zero"]["prob"]))


def test_solver_costs_show_why_the_column_moved(monkeypatch):
    from training.solver_costs import compare
    cfg = dict(solve_mod.settings())
    cfg["stroke_zero"] = {**cfg["stroke_zero"], "enabled": False}
    monkeypatch.setattr(solve_mod, "settings", lambda: cfg)
    before = thin_scan()
    doc = thin_scan()
    solve_mod.solve(doc)
    rows = {r["key"]: r for r in compare(before, {k: f.value for k, f in doc.fields.items()}, printed(), "requests/")}
    stuck = rows["requests/other/commercial_enterprise"]
    assert stuck["truth_cost"] == float("inf") and not stuck["other"]     # 0 was out of reach
    assert sum(r["chosen_cost"] for r in rows.values()) > sum(r["truth_cost"] for k, r in rows.items() if k != stuck["key"])
    monkeypatch.undo()
    solve_mod.solve(doc := thin_scan())
    assert compare(thin_scan(), {k: f.value for k, f in doc.fields.items()}, printed(), "requests/") == []
