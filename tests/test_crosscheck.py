"""Cross-checks beyond one table (issue #18): counts the report's text states, and an
agency's reports year over year. A printed value is never changed to make a check hold."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from pipeline import crosscheck
from pipeline.export import to_result, validate
from pipeline.model import Document, Field, Source
from pipeline.run import extract

ROOT = Path(__file__).resolve().parent.parent
SEED_004 = ROOT / "tests/fixtures/seeds/004_529dae6be8c784ed.txt"   # 金水区司法局 2023: "共收到…申请 1 件"


def facts(text: str) -> list[tuple[str, int]]:
    return [(s.fact, s.value) for s in crosscheck.statements(text)]


# ----------------------------------------------------------------------------- statements
def test_statements_found_in_prose():
    assert facts("2023 年全局共收到政府信息依申请公开申请 1 件。") == [("requests received", 1)]
    assert facts("全年共收到政府信息公开申请１５件，本年度共办结12件，结转下年度3件。") == [
        ("requests received", 15), ("requests closed", 12), ("requests carried forward", 3)]
    assert facts("全年共发生政府信息公开行政复议2件、行政诉讼1件。") == [
        ("administrative review", 2), ("administrative litigation", 1)]
    # a negation with no number states 0
    assert facts("未发生针对我局因办理政府信息公开申请而申请行政复议、提起行政诉讼的情况。") == [
        ("administrative review", 0), ("administrative litigation", 0)]
    assert facts("我局未收到政府信息公开申请。") == [("requests received", 0)]


def test_statements_not_found_where_they_are_not():
    # 办结 of something other than requests (a real seed's sentence), a year, a table row
    assert facts("收到政府信息公开申请 0 件，按时按质办结人大代表建议 9 件、协办政协提案 3 件。") == [
        ("requests received", 0)]
    assert facts("2020年收到的行政复议申请较多。") == []
    assert facts("| 一、本年新收政府信息公开申请数量 | 4 | 0 | 2 | 0 | 2 | 0 | 8件 |") == []
    assert facts("一、本年新收政府信息公开申请数\t2\t0\t0件\t0\t0\t1\t3") == []
    assert facts("申请人未收到答复。") == []
    # a digital PDF's text layer glues a table row's cells: "2", "0", "0件" → "200件"
    assert facts("本报告所列数据，统计期限如下。\n一、本年新收政府信息公开申请数200件0013二、上年结转政府信息"
                 "公开申请数量0000000\n") == []
    assert facts("其中，新收政府信息公开申请数2件0013件。") == []
    assert facts("主动公开政府信息 28 条。") == []          # no table cell holds this count


# ----------------------------------------------------------------------------- narrative checks
def test_narrative_check_holds_on_a_real_seed():
    r = to_result(extract(SEED_004))
    validate(r)
    told = [c for c in r["checks"] if c.get("kind") == "narrative"]
    assert [(c["key"], c["stated"], c["value"], c["holds"]) for c in told] == [
        ("requests/new_received/total", 1, 1, True)]
    assert "全局共收到政府信息依申请公开申请" in told[0]["sentence"]
    assert r["status"] == "ok"


def test_narrative_mismatch_is_for_review_and_changes_no_value(tmp_path):
    ok = to_result(extract(SEED_004))
    p = tmp_path / "edited.txt"
    p.write_text(SEED_004.read_text(encoding="utf-8").replace("申请 1 件", "申请 4 件"), encoding="utf-8")
    r = to_result(extract(p))
    validate(r)
    told = [c for c in r["checks"] if c.get("kind") == "narrative"]
    assert [(c["stated"], c["value"], c["holds"]) for c in told] == [(4, 1, False)]
    assert r["status"] == "needs_review" and any("states 4" in w for w in r["warnings"])
    assert {k: c["value"] for k, c in r["cells"].items()} == {k: c["value"] for k, c in ok["cells"].items()}
    # the equations of the tables are checks as before
    assert any("kind" not in c and "new_received + carried_over" in c["equation"] for c in r["checks"])


def _appeals_doc(total_readings, text: str) -> Document:
    """An appeals group whose total and one part are unsure: 1+2=3 and 6+2=8 both hold."""
    doc = Document(Source("x.pdf", kind="scanned_pdf"), text=text, template="2021")
    sure = {"corrected": 1, "other": 1, "pending": 0}
    for col, v in sure.items():
        doc.fields[f"appeals/review/{col}"] = Field(f"appeals/review/{col}", v, alternatives=[(v, 0.999)])
    doc.fields["appeals/review/upheld"] = Field("appeals/review/upheld", 1, alternatives=[(1, 0.5), (6, 0.45)])
    top = total_readings[0][0]
    doc.fields["appeals/review/total"] = Field("appeals/review/total", top, alternatives=total_readings)
    return doc


def _run(doc: Document) -> Document:
    from pipeline import score, solve
    solve.solve(doc)
    score.score(doc)
    return doc


def test_narrative_is_evidence_for_an_unsure_reading():
    plain = _run(_appeals_doc([(3, 0.55), (8, 0.4)], ""))
    assert plain.fields["appeals/review/total"].value == 3
    told = _run(_appeals_doc([(3, 0.55), (8, 0.4)], "本年度因政府信息公开被申请行政复议8件。"))
    assert told.fields["appeals/review/total"].value == 8 and told.fields["appeals/review/upheld"].value == 6
    assert told.fields["appeals/review/total"].status == "corrected"      # the recognised 3 stays in alternatives
    assert (3, 0.55) in told.fields["appeals/review/total"].alternatives
    c = [c for c in told.checks if isinstance(c, crosscheck.NarrativeCheck)]
    assert [(c.stated, c.value, c.holds) for c in c] == [(8, 8, True)]


def test_narrative_never_moves_a_confident_reading():
    doc = _run(_appeals_doc([(3, 0.995), (8, 0.004)], "本年度因政府信息公开被申请行政复议8件。"))
    assert doc.fields["appeals/review/total"].value == 3                 # as printed
    c = [c for c in doc.checks if isinstance(c, crosscheck.NarrativeCheck)]
    assert [(c.stated, c.value, c.holds) for c in c] == [(8, 3, False)]
    assert doc.status == "needs_review"


def test_apply_prior_keeps_mass_and_adds_nothing():
    out = crosscheck.apply_prior({3: 0.5, 8: 0.4}, {8: 20.0, 5: 20.0})
    assert set(out) == {3, 8} and abs(sum(out.values()) - 0.9) < 1e-12 and out[8] > 0.8
    assert crosscheck.apply_prior({3: 0.5}, {8: 20.0}) == {3: 0.5}


# ----------------------------------------------------------------------------- cross-year
def test_agency_key():
    k = crosscheck.agency_key
    assert k("广州市海珠区司法局") == k(" 广州市 海珠区\u3000司法局 ") == k("广州市海珠区司法局\n")
    assert k("ＡＢ市海珠区司法局") == k("AB市海珠区司法局")                 # full-width → half-width
    assert k("广州市海珠区人民政府") == k("广州市海珠区政府")
    assert k("广州市海珠区司法局") != k("广州市海珠区司法行政局")           # a renamed bureau stays apart
    assert k("司法局") is None and k(None) is None                        # too generic to group


def _result(name_year, agency, year, cells, status="ok", **batch):
    return (name_year, {"source": {"path": f"{name_year}.txt"}, "agency": agency, "year": year, "status": status,
                        "cells": {k: {"value": v} for k, v in cells.items()}, "checks": [], "batch": batch})


def test_cross_year_carry_over():
    prev = {"requests/carried_forward/natural_person": 2, "requests/carried_forward/total": 3,
            "requests/carried_forward/other_org": None,
            "active/art20_5.admin_license/prev_items": 10, "active/art20_5.admin_license/change": -2}
    nxt = {"requests/carried_over/natural_person": 2, "requests/carried_over/total": 4,
           "requests/carried_over/other_org": 0, "active/art20_5.admin_license/prev_items": 8}
    res = [_result("a2020", "某市某区司法局", 2020, prev), _result("b2021", "某市 某区司法局", 2021, nxt),
           _result("c2023", "某市某区司法局", 2023, nxt),                    # no 2022 report: not compared
           _result("d2021", "某市某区司法局", 2021, nxt, duplicate_of="b2021.txt"),
           _result("e2021", "某市某区司法行政局", 2021, nxt)]                 # another bureau
    got = {(c.equation.split(":")[0], c.holds) for c in crosscheck.cross_year(res)}
    assert got == {("requests/natural_person", True), ("requests/total", False), ("requests/other_org", True),
                   ("active/art20_5.admin_license", True)}
    bad = [c for c in crosscheck.cross_year(res) if not c.holds][0]
    assert (bad.a["file"], bad.a["keys"], bad.a["value"]) == ("a2020.json", "requests/carried_forward/total", 3)
    assert (bad.b["file"], bad.b["keys"], bad.b["value"]) == ("b2021.json", "requests/carried_over/total", 4)


# ----------------------------------------------------------------------------- a batch
def test_batch_reports_cross_checks(tmp_path):
    """The injected batch of training/crosscheck_inject.py on two sources: every injected
    mismatch found, none elsewhere, and the outputs name both documents."""
    from pipeline.batch import run_batch
    from training.crosscheck_inject import make_batch, measure
    plan = make_batch(tmp_path / "in", only=["s2019_a", "004_529dae6be8c784ed"])
    out = tmp_path / "out"
    s = run_batch([tmp_path / "in"], out, workers=1, progress=False)
    fig = measure(out, plan)
    assert fig["narrative"]["found"] == fig["narrative"]["injected"] == 2
    assert fig["cross_year"]["found"] == fig["cross_year"]["injected"] == 2
    assert fig["narrative"]["false_alarms"] == fig["cross_year"]["false_alarms"] == 0
    assert fig["cross_year"]["renamed_compared"] == 0 and fig["narrative"]["checks_on_clean"] > 0
    rows = list(csv.DictReader((out / "cross_checks.csv").open(encoding="utf-8-sig")))
    assert list(rows[0]) == crosscheck.COLUMNS
    bad = [r for r in rows if r["kind"] == "cross_year" and r["holds"] == "False"]
    assert {(r["file_a"], r["file_b"]) for r in bad} >= {("s2019_a.json", "s2019_a.next_bad.json")}
    summ = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    assert summ["cross_checks"]["mismatches"] == len([r for r in rows if r["holds"] == "False"]) > 0
    assert summ["cross_checks"]["by_kind"]["narrative"]["mismatches"] == 2
    assert s.data["outputs"]["cross_csv"] == "cross_checks.csv"
    queue = list(csv.DictReader((out / "review_queue.csv").open(encoding="utf-8-sig")))
    flagged = {(q["file"], q["key"]) for q in queue if q["check"]}
    assert ("s2019_a.next_bad.json", "requests/carried_over/total") in flagged
    assert ("s2019_a.json", "requests/carried_forward/total") in flagged
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "cross-checks:" in html and "s2019_a.next_bad" in html
    page = (out / "report_files" / "004_529dae6be8c784ed.narr_bad.html").read_text(encoding="utf-8")
    assert "counts the text states" in page
    # printed values are the same as in the clean copy: nothing was changed to make a check hold
    a = json.loads((out / "s2019_a.json").read_text(encoding="utf-8"))
    b = json.loads((out / "s2019_a.narr_bad.json").read_text(encoding="utf-8"))
    assert {k: c["value"] for k, c in a["cells"].items()} == {k: c["value"] for k, c in b["cells"].items()}
    assert b["status"] == "needs_review"
