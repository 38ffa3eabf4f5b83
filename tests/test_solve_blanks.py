"""solve_blanks: a scan's 0 read from a mark that holds no 0 is written as its row (else table)
prints "nothing"; the equations cannot tell a blank from a 0."""
from __future__ import annotations

from pipeline import solve as solve_mod
from pipeline.model import Document, Field, Source
from pipeline.solve_blanks import DOUBT, nothing_as_printed

ON = {"enabled": True, "table": True}
COLS = ["natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
        "legal_service_org", "other_org", "total"]


def doc_with(rows: dict[str, list[tuple]], kind: str = "scanned_pdf") -> Document:
    """rows: row key → [(value, text)] per column of COLS."""
    doc = Document(Source("t", kind=kind), template="2021")
    for row, cells in rows.items():
        for col, (v, t) in zip(COLS, cells):
            k = f"requests/{row}/{col}"
            doc.fields[k] = Field(k, v, alternatives=[(v, 0.6)], text=t)
    return doc


BLANKS = [(None, "")] * 7


def test_seal_text_zero_in_a_blank_row_becomes_blank():
    d = doc_with({"rejected_petition": [(0, "店区"), (None, ""), (None, "—"), (None, ""), (None, ""), (None, ""),
                                        (None, "")]})
    assert nothing_as_printed(d, ON) == ["requests/rejected_petition/natural_person"]
    f = d.fields["requests/rejected_petition/natural_person"]
    assert f.value is None and DOUBT in f.doubts


def test_clean_zero_and_zero_habit_are_kept():
    d = doc_with({"granted": [(0, "0"), (0, "参"), (0, "0"), (0, "0"), (None, ""), (0, "0"), (0, "0")]})
    assert nothing_as_printed(d, ON) == []          # the row prints 0s
    assert d.fields["requests/granted/commercial_enterprise"].value == 0
    assert d.fields["requests/granted/natural_person"].value == 0     # a 0 read from a 0 is never touched


def test_tie_in_the_row_falls_back_to_the_table():
    d = doc_with({"granted": [(0, "T"), (5, "5"), (5, "5"), (5, "5"), (5, "5"), (5, "5"), (25, "25")],
                  "other": BLANKS, "total": [(0, "0"), (1, "1")] + [(None, "")] * 5})
    assert nothing_as_printed(d, ON) == ["requests/granted/natural_person"]
    assert nothing_as_printed(d, {"enabled": True, "table": False}) == []


def test_off_and_text_inputs_untouched():
    rows = {"rejected_petition": [(0, "店区")] + BLANKS[1:]}
    assert nothing_as_printed(doc_with(rows), {"enabled": False}) == []
    assert nothing_as_printed(doc_with(rows, kind="digital_pdf"), ON) == []


def test_in_the_solver_stage(monkeypatch):
    """solve.solve applies it after choosing readings (configs/solver.yaml nothing_as_printed)."""
    real = solve_mod.settings
    monkeypatch.setattr(solve_mod, "settings", lambda: {**real(), "nothing_as_printed": ON})
    d = doc_with({"rejected_petition": [(0, "即")] + BLANKS[1:]})
    solve_mod.solve(d)
    assert d.fields["requests/rejected_petition/natural_person"].value is None
    assert d.solver_evidence["requests/rejected_petition/natural_person"]["nothing_as_printed"]


def test_cells_no_equation_binds_are_left_as_read():
    d = doc_with({"rejected_petition": [(0, "店区")] + BLANKS[1:]})
    for col, v in (("issued", 0), ("repealed", None), ("in_force", None)):
        k = f"active/art20_1.regulations/{col}"
        d.fields[k] = Field(k, v, alternatives=[(v, 0.6)], text="天" if v == 0 else "")
    assert nothing_as_printed(d, ON) == ["requests/rejected_petition/natural_person"]
    assert d.fields["active/art20_1.regulations/issued"].value == 0


def test_broken_zero_shapes_and_failed_readings_are_left_as_read():
    # 'n' is a thinned 0's upper arc (scoring.yaml broken_zero_texts): a 0's mark, kept
    d = doc_with({"rejected_petition": [(0, "n")] + BLANKS[1:]})
    assert nothing_as_printed(d, ON) == []
    # a document with expected cells missing (score.failed_reading): its lost 0s look like blanks
    d = doc_with({"rejected_petition": [(0, "门")] + BLANKS[1:]})
    d.missing = [{"key": f"requests/x{i}/total", "reason": "row not found"} for i in range(10)]
    assert nothing_as_printed(d, ON) == []
    d.missing = d.missing[:9]
    assert nothing_as_printed(d, ON) == ["requests/rejected_petition/natural_person"]
