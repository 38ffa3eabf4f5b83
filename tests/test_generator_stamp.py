"""Cached synthetic documents are reused only when today's generator made them (issue #13:
an evaluation corpus of PDFs from before the geometry styles was measured as if current)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from training import generator_stamp as gs
from training.eval_flattened import build_range, geometry_groups

ROOT = Path(__file__).resolve().parents[1]


def test_fingerprint_follows_config_and_sources(tmp_path):
    cfg, src = tmp_path / "synth.yaml", tmp_path / "synth"
    shutil.copy(gs.SYNTH_CONFIG, cfg)
    shutil.copytree(gs.SYNTH_SOURCES, src, ignore=shutil.ignore_patterns("__pycache__"))
    fp = gs.fingerprint(cfg, src)
    assert fp == gs.fingerprint() and len(fp) == 16
    (src / "layout.py").write_text((src / "layout.py").read_text(encoding="utf-8") + "\n# changed\n",
                                   encoding="utf-8")
    fp2 = gs.fingerprint(cfg, src)
    assert fp2 != fp
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert gs.fingerprint(cfg, src) not in (fp, fp2)


def test_build_range_rebuilds_what_an_older_generator_made(tmp_path):
    pdf, = build_range(0, 1, tmp_path)
    truth = tmp_path / "test_00000.truth.json"
    assert gs.current(truth) and "geometry" in json.loads(truth.read_text(encoding="utf-8"))
    made = pdf.stat().st_mtime_ns
    build_range(0, 1, tmp_path)                     # today's: reused
    assert pdf.stat().st_mtime_ns == made
    for old in ("0123456789abcdef", None):          # another generator's stamp; none (before stamps)
        t = json.loads(truth.read_text(encoding="utf-8"))
        t.pop("generator")
        if old:
            t["generator"] = old
        t.pop("geometry")                           # what the stale corpus lacked
        truth.write_text(json.dumps(t), encoding="utf-8")
        assert not gs.current(truth)
        build_range(0, 1, tmp_path)
        t = json.loads(truth.read_text(encoding="utf-8"))
        assert t["generator"] == gs.fingerprint() and "geometry" in t
        assert pdf.stat().st_mtime_ns != made
        made = pdf.stat().st_mtime_ns


def test_bench_corpus_skips_an_unstamped_corpus(tmp_path):
    from training.bench.corpus import corpus_items
    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    for d, fp in ((corpus, None), (cache, gs.fingerprint())):
        d.mkdir()
        (d / "test_00000.digital.pdf").write_bytes(b"%PDF")
        (d / "test_00000.truth.json").write_text(json.dumps({"generator": fp} if fp else {}), encoding="utf-8")
    cfg = {"synth_config": "configs/synth.yaml", "corpus": str(corpus), "cache": str(cache), "splits": ["digital"]}
    assert corpus_items(cfg, 1) == [{"doc": "test_00000", "dir": str(cache)}]
    gs.stamp(corpus / "test_00000.truth.json")
    assert corpus_items(cfg, 1) == [{"doc": "test_00000", "dir": str(corpus)}]


def test_geometry_groups():
    assert geometry_groups({}) == ["unknown"]
    assert geometry_groups({"geometry": [], "held_out_geometry": []}) == ["default", "not held out"]
    assert geometry_groups({"geometry": ["split_table", "landscape"], "held_out_geometry": ["landscape"]}) == [
        "split_table", "landscape (held out)", "held out"]
