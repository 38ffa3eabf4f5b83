"""training/bench_batch.py's bookkeeping (not timings): which files make the scan splits,
and how the table pages' orientation decisions are counted."""
from __future__ import annotations

import json
import time

from pipeline.cost import PageCost
from training.bench_batch import load_note, orientation_line, page_walls, routing_line, scan_files, wall_line


def test_scan_splits_take_page_images_of_either_format_and_need_truth(tmp_path):
    for name in ("d1.scan_light.pdf", "d1.scan_heavy.pdf", "d1.scan_heavy.p1.png", "d1.scan_heavy.p2.jpg",
                 "d1.truth.json", "d2.scan_heavy.p1.jpg"):          # d2 has no truth: left out
        (tmp_path / name).write_bytes(b"")
    got = {k: [f.name for f in v] for k, v in scan_files(tmp_path).items()}
    assert got == {"scan_light": ["d1.scan_light.pdf"], "scan_heavy": ["d1.scan_heavy.pdf"],
                   "scan_image": ["d1.scan_heavy.p1.png", "d1.scan_heavy.p2.jpg"]}
    assert [f.name for f in scan_files(tmp_path, limit=1)["scan_image"]] == ["d1.scan_heavy.p1.png"]


def test_orientation_line_counts_table_pages_only():
    pages = [{"kind": "table", "orientation": "rules"}, {"kind": "table", "orientation": "rules"},
             {"kind": "table", "orientation": "read"}, {"kind": "text", "orientation": ""}]
    line = orientation_line(pages)
    assert "3 table pages" in line and "lines (nothing read) on 2" in line and "read on 1" in line


def test_routing_line_counts_routed_crops_and_recogniser_cpu_per_split():
    pages = [{"kind": "table", "split": "scan_light", "crops": 60, "routed": 40, "cpu": {"recognise": 2.0}},
             {"kind": "table", "split": "scan_light", "crops": 100, "routed": 0, "cpu": {"recognise": 4.0}},
             {"kind": "text", "split": "scan_light", "crops": 0, "routed": 0, "cpu": {}},
             {"kind": "table", "split": "scan_heavy", "crops": 90, "routed": 10, "cpu": {"recognise": 3.5}}]
    line = routing_line(pages)
    assert "scan_light 40/200 = 20.0 % routed, recognise 3.00 CPU s per table page (2 pages)" in line
    assert "scan_heavy 10/100 = 10.0 % routed" in line


def test_wall_times_are_labelled_when_the_machine_was_loaded():
    info = {"cpus": 2, "load_start": [0.5, 0, 0], "load_end": [0.8, 0, 0],
            "runs": [{"load_avg_before_after": [0.6, 0.9]}]}
    assert "loaded machine" not in load_note(info)
    info["runs"][0]["load_avg_before_after"] = [0.6, 12.5]
    note = load_note(info)
    assert "loaded machine" in note and "12.5 on 2 CPUs" in note


def test_splits_and_match_pick_the_pdfs_of_the_named_documents(tmp_path):
    """A generated corpus holds every page of the heavy scan as an image beside its PDF:
    `--splits scan_light scan_heavy` leaves those out, `--match` picks documents by name."""
    for name in ("d1.scan_light.pdf", "d1.scan_heavy.pdf", "d1.scan_heavy.p1.png", "d1.truth.json",
                 "d7.scan_light.pdf", "d7.scan_heavy.pdf", "d7.truth.json", "d8.scan_light.pdf", "d8.truth.json"):
        (tmp_path / name).write_bytes(b"")
    got = {k: [f.name for f in v] for k, v in scan_files(tmp_path, splits=["scan_light", "scan_heavy"],
                                                          match="d[17].*").items()}
    assert got == {"scan_light": ["d1.scan_light.pdf", "d7.scan_light.pdf"],
                   "scan_heavy": ["d1.scan_heavy.pdf", "d7.scan_heavy.pdf"]}


def test_median_page_wall_counts_each_page_once_at_its_documents_rate(tmp_path):
    """run_batch's result files hold each document's wall s and pages: a 1-page document
    done in 5 s and a 4-page one in 2 s give pages at 5, 0.5, 0.5, 0.5, 0.5 s: median 0.5
    (the mean of documents, 2.75 s, is not what the done-when asks)."""
    (tmp_path / "a.json").write_text(json.dumps({"batch": {"pages": 1, "wall_s": 5.0}}))
    (tmp_path / "b.json").write_text(json.dumps({"batch": {"pages": 4, "wall_s": 2.0}}))
    (tmp_path / "run_summary.json").write_text(json.dumps({"timings": {}}))
    walls = page_walls(tmp_path)
    assert sorted(walls) == [0.5, 0.5, 0.5, 0.5, 5.0]
    pages = [{"kind": "table", "wall": {"lines": 1.0, "recognise": 2.0}, "doc_wall_per_page": 3.5},
             {"kind": "table", "wall": {"lines": 0.5}, "doc_wall_per_page": 3.5},
             {"kind": "text", "wall": {"lines": 0.25}, "doc_wall_per_page": 0.5}]
    line = wall_line(pages)
    assert "table 1.75 s (2 pages)" in line and "text 0.25 s (1 pages)" in line
    assert "document wall / pages: 3.5 s" in line


def test_page_cost_laps_wall_time_beside_cpu():
    """Sleeping costs wall time and (almost) no CPU: the lap charges each to the stage."""
    c = PageCost()
    c.start()
    time.sleep(0.05)
    c.lap("lines")
    assert c.wall["lines"] >= 0.045
    assert c.cpu["lines"] < c.wall["lines"]


def test_an_absent_corpus_says_how_to_build_it(tmp_path):
    from training.bench_batch import corpus_hint
    hint = corpus_hint(tmp_path / "s26scans" / "test")
    assert "training.synth.build --split test --n 16" in hint and str(tmp_path / "s26scans") in hint
    assert corpus_hint(tmp_path) == ""                       # an existing folder: no hint
    assert corpus_hint(tmp_path / "nowhere") == ""           # not a split folder: nothing to say
