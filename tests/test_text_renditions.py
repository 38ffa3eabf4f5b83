"""The corpus's text renditions written by real tools (issue #13, training/synth/text_tools.py):
make data writes one file per extractor beside the digital PDF, records it in the truth,
leaves the truth's values untouched, skips a tool that is not installed with a note, and
gouji reads the requests table back from pdftotext's and pypdfium2's text. Chromium's
innerText of the saved web page holds the table's numbers."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from pipeline.export import to_result
from pipeline.run import Settings, extract
from training.cdp import chromium
from training.synth.build import load_config, make_document
from training.synth.text_tools import close_browser, innertext

ROOT = Path(__file__).resolve().parents[1]
CFG = load_config(ROOT / "configs" / "synth.yaml")
SEED = [int(CFG["seed"]), 2, 0]          # test_00000 of `make data`
PDF_TOOLS = ["pdftotext", "pdftotext-layout", "pdftotext-raw", "pypdfium2"]


@pytest.fixture(scope="module")
def doc(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("renditions")
    cfg = {**CFG, "text_extractors": PDF_TOOLS}
    make_document("test_00000", SEED, cfg, out, ["digital", "html", "text_tools"])
    return out


def test_one_file_per_extractor_recorded_in_the_truth(doc, tmp_path):
    t = json.loads((doc / "test_00000.truth.json").read_text(encoding="utf-8"))
    for ex in PDF_TOOLS:
        r = t["renderings"][f"text.{ex}"]
        assert r["file"] == f"test_00000.text.{ex}.txt" and r["extractor"] == ex
        assert r["source"] == "test_00000.digital.pdf"
        assert hashlib.sha256((doc / r["file"]).read_bytes()).hexdigest() == r["sha256"]
    # the layout mode keeps columns apart with runs of spaces; the raw mode does not
    assert "   " in (doc / "test_00000.text.pdftotext-layout.txt").read_text(encoding="utf-8")
    # truth stays exact: the same document drawn without the tool renditions has the same
    # values and the same PDF bytes
    make_document("test_00000", SEED, CFG, tmp_path, ["digital"])
    plain = json.loads((tmp_path / "test_00000.truth.json").read_text(encoding="utf-8"))
    assert plain["cells"] == t["cells"]
    assert plain["renderings"]["digital"]["sha256"] == t["renderings"]["digital"]["sha256"]


@pytest.mark.parametrize("extractor", ["pdftotext", "pdftotext-layout", "pypdfium2"])
def test_gouji_reads_the_requests_cells_of_real_tool_text(doc, extractor):
    t = json.loads((doc / "test_00000.truth.json").read_text(encoding="utf-8"))
    res = to_result(extract(doc / t["renderings"][f"text.{extractor}"]["file"], Settings()))
    want = {k: v["value"] for k, v in t["cells"].items() if k.startswith("requests/")}
    got = {k: res["cells"].get(k, {}).get("value") for k in want}
    assert len(want) > 100 and got == want


def test_missing_tools_are_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))    # no pdftotext, no chromium here
    cfg = {**CFG, "text_extractors": ["pdftotext-raw", "chromium-innertext", "nosuchtool", "pypdfium2"]}
    s = make_document("test_00000", SEED, cfg, tmp_path, ["digital", "html", "text_tools"])
    assert set(s["text_skipped"]) == {"pdftotext-raw", "chromium-innertext", "nosuchtool"}
    assert "not installed" in s["text_skipped"]["pdftotext-raw"]
    t = json.loads((tmp_path / "test_00000.truth.json").read_text(encoding="utf-8"))
    assert [k for k in t["renderings"] if k.startswith("text.")] == ["text.pypdfium2"]


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_chromium_innertext_holds_the_tables_numbers(doc):
    t = json.loads((doc / "test_00000.truth.json").read_text(encoding="utf-8"))
    page = doc / t["renderings"]["html"]["file"]
    try:
        text = innertext(page)
    finally:
        close_browser()
    assert "\t" in text                      # a browser copy of a table: cells by tabs
    line = next(ln for ln in text.splitlines() if "本年新收" in ln)
    want = sorted(float(v["value"]) for k, v in t["cells"].items() if k.startswith("requests/new_received/"))
    got = sorted(float(x) for x in re.findall(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])", line.split("本年新收", 1)[1]))
    assert got == want


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_eval_flattened_scores_the_innertext_extractor(doc, tmp_path):
    from training.eval_flattened import evaluate
    try:
        res = evaluate([doc / "test_00000.digital.pdf"], ["chromium-innertext", "pdftotext-raw"], tmp_path, Settings())
    finally:
        close_browser()
    g = res["chromium-innertext"]["gouji"]
    assert g["documents"] == 1 and g["requests_appeals_cells_right"] == 1.0 and g["ok_with_wrong_cell"] == 0
    assert (tmp_path / "chromium-innertext" / "test_00000.txt").read_text(encoding="utf-8").count("\t") > 50
    assert res["pdftotext-raw"]["gouji"]["documents"] == 1
