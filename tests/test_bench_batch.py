"""training/bench_batch.py's bookkeeping (not timings): which files make the scan splits,
and how the table pages' orientation decisions are counted."""
from __future__ import annotations

from training.bench_batch import orientation_line, scan_files


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
