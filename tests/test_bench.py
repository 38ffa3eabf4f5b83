"""Benchmark metrics on tiny handmade inputs, and the number-stream peer on a real seed."""
import json
import math
from pathlib import Path

import pytest

from training.bench.metrics import auto_accept, cell_scores, ece, grid_f1, key_right, values_equal
from training.bench.records import page_transforms
from training.peers import number_stream

from conftest import SEEDS, load_expected


def test_values_equal_blank_is_not_zero():
    assert values_equal(None, None)
    assert not values_equal(None, 0)
    assert not values_equal(0, None)
    assert values_equal(0, 0.0)
    assert values_equal(101.8506, 101.8506)
    assert not values_equal(12, 17)


def test_cell_scores_counts_missing_as_wrong_unless_allowed():
    truth = {"a": 1, "b": None, "c": 3, "d": 4}
    s = cell_scores({"a": 1, "b": None, "c": 8}, truth)
    assert (s["right"], s["total"], s["all_right"]) == (2, 4, False)
    s = cell_scores({"a": 1, "b": None, "c": 3}, truth, may_be_missing=["d"])
    assert (s["right"], s["total"], s["all_right"]) == (3, 3, True)
    s = cell_scores({"a": 1, "b": 0, "c": 3, "d": 4}, truth)   # a blank read as 0 is wrong
    assert (s["right"], s["all_right"]) == (3, False)


def test_grid_f1_one_to_one_matching():
    truth = [[1, 0, 0, 10, 10], [1, 10, 0, 20, 10], [2, 0, 0, 10, 10]]
    pred = [[1, 0, 0, 10, 10], [1, 0.5, 0, 10, 10], [1, 10, 0, 19, 10], [2, 30, 30, 40, 40]]
    g = grid_f1(pred, truth, 0.5)
    # box 2 duplicates box 1 (only one may match), the page-2 box is elsewhere
    assert g["tp"] == 2
    assert g["precision"] == pytest.approx(2 / 4)
    assert g["recall"] == pytest.approx(2 / 3)
    assert g["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert grid_f1([], truth)["f1"] == 0.0
    assert grid_f1([[1, 0, 0, 10, 10]], [[2, 0, 0, 10, 10]])["tp"] == 0   # other page


def test_ece_perfect_and_overconfident():
    assert ece([1.0, 1.0, 0.0], [1, 1, 0]) == pytest.approx(0.0)
    # four cells all at 0.95 confidence, half right: |0.5 - 0.95| = 0.45
    assert ece([0.95] * 4, [1, 0, 1, 0]) == pytest.approx(0.45)
    # two bins: 0.15 (0 right of 2) and 0.85 (2 right of 2): (2*0.15 + 2*0.15) / 4
    assert ece([0.15, 0.15, 0.85, 0.85], [0, 0, 1, 1]) == pytest.approx(0.15)
    assert ece([], []) is None


def test_auto_accept_coverage_at_target_precision():
    conf = [0.99] * 199 + [0.98] + [0.5] * 100
    ok = [True] * 199 + [False] + [True] * 100
    # accepting the 199 at 0.99 is 100% precise; adding the wrong 0.98 keeps 199/200 = 99.5%;
    # adding the 0.5s: 299/300 = 99.67% — everything can be accepted
    a = auto_accept(conf, ok, target=0.995)
    assert a["coverage"] == pytest.approx(1.0) and a["threshold"] == 0.5
    # a wrong answer at the top: nothing reaches 99.5% until enough right ones follow
    a = auto_accept([0.99, 0.9, 0.8], [False, True, True], target=0.995)
    assert a["coverage"] == 0.0 and a["threshold"] is None
    # ties are accepted together; coverage is over all cells (n_total), not only the scored ones
    a = auto_accept([0.9, 0.9, 0.7], [True, True, False], n_total=4, target=0.995)
    assert a["accepted"] == 2 and a["coverage"] == pytest.approx(0.5) and a["threshold"] == 0.9


def test_key_right_by_location_then_value():
    truth = {"k": {"value": 5, "page": 2, "bbox": [100, 100, 140, 118]}, "t": {"value": 3}}
    assert key_right("k", {"value": 7, "page": 2, "bbox": [105, 102, 135, 116]}, truth)  # key right, value wrong
    assert not key_right("k", {"value": 5, "page": 2, "bbox": [145, 102, 175, 116]}, truth)  # next column
    assert not key_right("k", {"value": 5, "page": 1, "bbox": [105, 102, 135, 116]}, truth)  # other page
    assert key_right("t", {"value": 3}, truth) and not key_right("t", {"value": 4}, truth)
    assert not key_right("x", {"value": 3}, truth)


def test_page_transform_undoes_quarter_turn_and_skew():
    from pipeline.model import Document, Page, Source
    doc = Document(Source("x"))
    # a 100×200 source page turned a quarter counter-clockwise is 200×100; the source point
    # (10, 20) lands at (20, 90) there
    doc.pages = [Page(number=1, width=200, height=100), Page(number=2, width=100, height=200)]
    doc.pages[0].rotation = 90
    doc.pages[1].skew = 2.0
    tr = page_transforms(doc)
    assert tr[1]([20, 90, 20, 90]) == pytest.approx([10, 20, 10, 20])
    # skew: rotating the centre does nothing; a point off-centre moves back by the angle
    assert tr[2]([50, 100, 50, 100]) == pytest.approx([50, 100, 50, 100])
    x, y = tr[2]([90, 100, 90, 100])[:2]
    assert math.hypot(x - 50, y - 100) == pytest.approx(40)
    assert abs(y - 100) == pytest.approx(40 * math.sin(math.radians(2)), rel=1e-6)


def test_number_stream_on_a_clean_seed():
    """Seed 004 prints every cell in order: the stream gets them all."""
    seed = next(p for p in SEEDS if p.name.startswith("004"))
    exp = load_expected(seed)
    res = number_stream.parse(seed.read_text(encoding="utf-8"))
    assert res["template"] == exp["template"]
    pred = {k: c["value"] for k, c in res["cells"].items()}
    assert cell_scores(pred, exp["cells"])["all_right"]


def test_number_stream_shifts_without_label_anchoring():
    """Seed 002 prints its 予以公开 row as one value in six fields: the stream pours the
    later numbers into the wrong cells (what gouji must not do)."""
    seed = next(p for p in SEEDS if p.name.startswith("002"))
    exp = load_expected(seed)
    pred = {k: c["value"] for k, c in number_stream.parse(seed.read_text(encoding="utf-8"))["cells"].items()}
    s = cell_scores(pred, exp["cells"])
    assert not s["all_right"] and s["right"] < s["total"]


def test_number_stream_drops_page_numbers_and_ordinals():
    text = ("某局2021年政府信息公开工作年度报告\n三、收到和处理政府信息公开申请情况\n"
            "1.属于国家秘密\t7\t8\n- 2 -\n第 3 页\n2、重复申请\t9\n四、政府信息公开行政复议、行政诉讼情况\n五、其他\n")
    assert number_stream.numbers(number_stream.sections(text)["requests"]) == ["7", "8", "9"]
    res = number_stream.parse(text)
    assert res["template"] == "2021"
    assert res["cells"]["requests/new_received/natural_person"]["value"] == 7
    assert res["cells"]["requests/new_received/research_institution"]["value"] == 9


def test_bench_runs_gouji_exactly_as_extract():
    """The bench shares read (+grid) between the three gouji variants; each variant's cells
    must equal what pipeline.run.extract gives with the same settings."""
    from pipeline.export import to_result
    from pipeline.run import Settings, extract
    from training.bench.system_gouji import run_gouji
    seed = next(p for p in SEEDS if p.name.startswith("002"))
    recs = []
    run_gouji({"split": "seeds", "systems": ["gouji", "gouji_no_solver"],
               "items": [{"doc": "002", "path": str(seed), "pages": 1}]}, recs.append)
    for rec, st in zip(recs, [Settings(), Settings(solver=False)]):
        want = to_result(extract(seed, st))
        assert {k: c["value"] for k, c in rec["cells"].items()} == {k: c["value"] for k, c in want["cells"].items()}
        assert rec["status"] == want["status"] and rec["seconds"] > 0
    # the solver infers cells the printed row could not place: the ablation has fewer
    assert len(recs[0]["cells"]) > len(recs[1]["cells"])


def test_img2table_merged_cells_fold_back():
    """img2table repeats a merged cell in every row/column it spans; the runner folds it
    back into one cell with its span, in PDF points (img2table renders at 200 dpi)."""
    from types import SimpleNamespace as NS
    from training.peers.img2table_tesseract import cells_of

    def cell(x1, y1, x2, y2, v):
        return NS(bbox=NS(x1=x1, y1=y1, x2=x2, y2=y2), value=v)
    head = cell(0, 0, 200, 50, "申请人情况")
    table = NS(content={0: [head, head], 1: [cell(0, 50, 100, 100, "自然人"), cell(100, 50, 200, 100, None)]})
    cells = cells_of(table, page=2)
    assert len(cells) == 3
    h = cells[0]
    assert (h["row"], h["col"], h["rowspan"], h["colspan"], h["text"]) == (0, 0, 1, 2, "申请人情况")
    assert h["bbox"] == [0.0, 0.0, 72.0, 18.0] and h["page"] == 2
    assert cells[2]["text"] == ""


def test_number_stream_system_is_an_extractor():
    """The number stream peer is Extractor pieces (a text reader, a stage in the classifier's
    place): its record carries exactly number_stream.parse's values."""
    from pipeline.extractor import Extractor
    from training.bench.system_number_stream import NumberStream, number_stream_extractor, run_number_stream
    ex = number_stream_extractor()
    assert isinstance(ex, Extractor) and isinstance(ex.classifier, NumberStream)
    assert ex.gridder is None and ex.solver is None and ex.scorer is None
    for seed in SEEDS[:3]:
        recs = []
        run_number_stream({"items": [{"doc": seed.stem, "path": str(seed), "pages": 1}]}, recs.append)
        want = number_stream.parse(seed.read_text(encoding="utf-8"))
        assert {k: c["value"] for k, c in recs[0]["cells"].items()} == {k: c["value"] for k, c in want["cells"].items()}
        assert recs[0]["status"] == "ok" and recs[0]["cells"]


def test_img2table_reader_keyed_by_gouji_in_an_extractor(tmp_path):
    """A peer's cells (here: the truth table's cells, as img2table's process records them) read
    by the Img2TableReader adapter and keyed by gouji's classify in an Extractor: the keys are
    those classify gives the same Document directly; a peer error is a failed document."""
    from tablefix import make_pdf

    from pipeline.export import to_result
    from pipeline.extractor import Classifier
    from pipeline.run import Settings
    from training.bench.records import keyed_by_gouji
    from training.bench.system_img2table import Img2TableReader
    pdf = tmp_path / "t.pdf"
    truth = make_pdf(pdf, seed=2)
    cells = [{k: c[k] for k in ("row", "col", "rowspan", "colspan", "text", "page")} | {"bbox": list(c["bbox"])}
             for c in truth]
    rec = {"pages": 1, "tables": [{"page": 1, "cells": cells}]}
    reader = Img2TableReader({str(pdf): rec}, scanned=False)
    got = to_result(keyed_by_gouji(reader).extract(pdf))
    direct = reader.read(pdf)
    Classifier(Settings(mapper="auto"))(direct)
    want = to_result(direct)
    assert got["cells"] and {k: c["value"] for k, c in got["cells"].items()} == {k: c["value"] for k, c in want["cells"].items()}
    bad = Img2TableReader({str(pdf): {**rec, "error": "tesseract died"}}, scanned=True)
    res = to_result(keyed_by_gouji(bad).extract(pdf))
    assert res["status"] == "failed" and res["errors"] == ["img2table: tesseract died"] and not res["cells"]


# --- issue #4 block: gouji's read + grid scored against the truth grid in the same run ---

SAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "samples"


def _eval_rec(doc, pages, seconds, ocr, counts, status="ok"):
    return {"kind": "grid_eval", "doc": doc, "pages": pages, "seconds": seconds, "ocr_seconds": ocr,
            "status": status, "counts": counts, "errors": []}


def test_summarise_grid_sums_counts_and_takes_medians():
    from training.bench.system_gouji import summarise_grid
    a = _eval_rec("a", 2, 4.0, 3.0, {"fragments": 3, "fragments_found": 3, "cells": 100, "cells_ok": 90,
                                     "values": 50, "values_ok": 40, "values_topk": 45})
    b = _eval_rec("b", 1, 3.0, 1.5, {"fragments": 2, "fragments_found": 1, "cells": 100, "cells_ok": 100,
                                     "values": 50, "values_ok": 50, "values_topk": 50})
    c = _eval_rec("c", 3, 0.0, 0.0, {"values": 20}, status="failed")   # its truth cells still count
    m = summarise_grid([a, b, c], 700.0)
    assert m["table_recall"] == pytest.approx(4 / 5, abs=1e-4)
    assert m["structure_accuracy"] == pytest.approx(190 / 200, abs=1e-4)
    assert m["numeric_accuracy"] == pytest.approx(90 / 120, abs=1e-4)
    assert m["numeric_topk_recall"] == pytest.approx(95 / 120, abs=1e-4)
    # failed documents are left out of the timings: pages 2 s and 3 s, OCR 75% and 50%
    assert m["seconds_per_page_median"] == pytest.approx(2.5)
    assert m["ocr_share_median"] == pytest.approx(0.625)
    assert (m["docs"], m["failed"], m["pages"], m["peak_rss_mb"]) == (3, 1, 6, 700.0)


def test_grid_eval_block_on_a_digital_sample(tmp_path):
    """run_gouji emits the #4 record before its variants; the counts come from the truth
    (a corrupted truth drops numeric accuracy), and the table reads them."""
    from training.bench.report import grid_eval_markdown
    from training.bench.system_gouji import run_gouji, summarise_grid
    pdf = SAMPLES / "s2019_a.digital.pdf"
    item = {"doc": "s2019_a", "dir": str(SAMPLES), "path": str(pdf), "pages": 4}
    recs = []
    run_gouji({"split": "digital", "systems": ["gouji_no_solver"], "items": [item]}, recs.append)
    assert [r.get("kind") for r in recs] == ["grid_eval", None]
    ev = recs[0]
    assert ev["status"] == "ok" and ev["seconds"] > 0 and ev["ocr_seconds"] >= 0
    m = summarise_grid([ev], 300.0)
    assert m["counts"]["values"] > 50
    assert m["table_recall"] == 1.0
    assert m["structure_accuracy"] > 0.9 and m["numeric_accuracy"] > 0.9
    # the same read against a truth whose every number is one more: the top readings are now wrong
    truth = json.loads((SAMPLES / "s2019_a.truth.json").read_text(encoding="utf-8"))
    for c in truth["cells"].values():
        if isinstance(c.get("value"), (int, float)):
            c["value"] += 1
    (tmp_path / "s2019_a.truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    recs2 = []
    run_gouji({"split": "digital", "systems": [], "items": [dict(item, dir=str(tmp_path))]}, recs2.append)
    m2 = summarise_grid(recs2, None)
    assert m2["table_recall"] == m["table_recall"] and m2["structure_accuracy"] == m["structure_accuracy"]
    assert m2["numeric_accuracy"] < m["numeric_accuracy"] - 0.5
    md = "\n".join(grid_eval_markdown({"digital": m}))
    assert "issue #4" in md and f"| digital | {100 * m['table_recall']:.1f}% |" in md


def test_bench_driver_on_the_seeds(tmp_path):
    """The driver end to end on the cheapest split: worker processes, scoring, the JSON and
    the markdown (with the run-time table)."""
    from training.bench.runner import main
    assert main(["--mode", "quick", "--splits", "seeds", "--out", str(tmp_path), "--no-install"]) == 0
    rep = json.loads((tmp_path / "benchmarks.json").read_text(encoding="utf-8"))
    assert rep["splits_done"] == ["seeds"] and not any(n.startswith("PARTIAL") for n in rep["notes"])
    res = rep["results"]["seeds"]
    assert set(res) == {"gouji", "gouji_no_solver", "gouji_fuzzy", "number_stream"}
    assert res["gouji"]["cell_accuracy"] == 1.0 and res["gouji"]["docs"] == 5
    assert res["number_stream"]["cell_accuracy"] < 1.0          # seed 002 shifts the stream
    assert [g["group"] for g in rep["group_times"]] == ["gouji", "number_stream"]
    assert rep["grid_eval"] == {}                                # no PDF split in this run
    md = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    assert "| gouji (full pipeline) | 100.0% |" in md and "## Run time" in md and "issue #4" not in md


def test_stop_at_is_the_next_utc_time():
    from datetime import datetime, timezone
    from training.bench.runner import stop_time
    now = datetime(2026, 11, 29, 4, 50, tzinfo=timezone.utc).timestamp()
    assert stop_time("05:58", now) - now == 68 * 60
    assert stop_time("04:00", now) - now == (23 * 60 + 10) * 60     # already past: tomorrow


def test_grid_eval_of_a_failed_document_counts_its_truth_as_missed():
    from pipeline.model import Document, Source
    from training.bench.system_gouji import grid_eval_record, summarise_grid
    item = {"doc": "s2019_a", "dir": str(SAMPLES), "path": str(SAMPLES / "s2019_a.scan_light.pdf"), "pages": 4}
    doc = Document(Source(item["path"])).fail("could not read: test")
    rec = grid_eval_record(doc, item, "scan_light", 0.1, 0.2, None)
    assert rec["status"] == "failed" and rec["error"]
    assert rec["counts"]["fragments"] > 0 and rec["counts"]["values"] > 50 and rec["counts"]["values_ok"] == 0
    m = summarise_grid([rec], None)
    assert m["table_recall"] == 0.0 and m["numeric_accuracy"] == 0.0 and m["seconds_per_page_median"] is None


# --- issue #14 block: the scans section (eval_scans.evaluate beside the PP-OCR anchor) ---

def test_scans_anchor_counts_apart_and_groups_held_out():
    from training.bench.scans import anchor
    per_doc = [{"doc": "a", "right": 50, "total": 80, "missing": 10}, {"doc": "b", "right": 9, "total": 9, "missing": 0},
               {"doc": "c", "right": 1, "total": 5, "missing": 4}]
    res = {"scan_heavy": {"ppocr_naive": {"per_doc": per_doc}}}
    a = anchor(res, "scan_heavy", ["a", "b"], {"a": True, "b": False})        # c: not one of the documents
    assert (a["all"]["right"], a["all"]["wrong"], a["all"]["missing"]) == (59, 20, 10)
    assert a["held_out"]["documents"] == 1 and a["held_out"]["wrong"] == 20
    assert a["not_held_out"]["documents_all_right"] == 1 and a["not_held_out"]["cells_right"] == 1.0
    assert anchor(res, "scan_light", ["a"], {}) == {}                       # PP-OCR not run there


def test_scans_section_on_a_sample_scan(tmp_path):
    from training.bench.metrics import cell_scores
    from training.bench.scans import scans_markdown, scans_section
    item = {"doc": "s2019_a", "dir": str(SAMPLES)}
    per_doc = [{"doc": "s2019_a", "right": 50, "total": 80, "missing": 10}]
    sec = scans_section([item], ["scan_light"], {"scan_light": {"ppocr_naive": {"per_doc": per_doc}}}, tmp_path / "w")
    g = sec["splits"]["scan_light"]["gouji"]
    assert set(g) == {"all", "not_held_out"}                 # the sample has no held-out style
    truth = json.loads((SAMPLES / "s2019_a.truth.json").read_text(encoding="utf-8"))
    m = g["all"]
    assert m["documents"] == 1 and m["right"] + m["wrong"] + m["missing"] == len(truth["cells"])
    assert m["right"] > 0.9 * len(truth["cells"]) and m["cells_right"] > 0.9
    assert sec["splits"]["scan_light"]["ppocr_naive"]["all"]["wrong"] == 20
    md = "\n".join(scans_markdown(sec))
    assert "| scan_light | all | gouji | 1 | " in md and "| scan_light | all | PP-OCR full page (naive) | 1 | 50 | 20 | 10 | — |" in md
    assert cell_scores({"a": 1}, {"a": 1, "b": 2, "c": 3})["missing"] == 2


def test_flattened_section_per_extractor_and_geometry(tmp_path):
    """make bench's flattened-text section (issue #13 item 4): per extractor, then per
    extractor and table geometry with held-out styles apart, gouji beside the number
    stream (cells right, documents all right), and the reliability of gouji's confidences."""
    from training.bench.report import flattened_markdown
    from training.eval_flattened import build_range, evaluate
    from pipeline.run import Settings
    pdfs = build_range(0, 1, tmp_path / "pdf", geometry=["landscape"])     # a held-out style
    res = evaluate(pdfs, ["pdftotext-raw"], tmp_path / "work", Settings())
    r = res["pdftotext-raw"]
    assert set(r["gouji_by_geometry"]) == set(r["number_stream_by_geometry"]) == {"landscape (held out)", "held out"}
    g = r["gouji"]
    n = len(json.loads((tmp_path / "pdf" / "test_00000.truth.json").read_text(encoding="utf-8"))["cells"])
    assert sum(b["cells"] for b in g["reliability"].values()) == n - g["missing"]    # every cell returned, binned
    assert 0 < g["auto_accepted"] <= 1 and g["confident_wrong_cells"] == 0
    md = "\n".join(flattened_markdown(res))
    peer = r["number_stream_by_geometry"]["held out"]
    assert (f"| pdftotext-raw | held out | 1 | {r['gouji_by_geometry']['held out']['requests_appeals_cells_right']:.1%}"
            in md)
    assert f"| {peer['requests_appeals_cells_right']:.1%} | {peer['documents_requests_appeals_right']}/1 |" in md
    assert "### Reliability of the confidences" in md and "| pdftotext-raw | " in md.split("### Reliability")[1]
