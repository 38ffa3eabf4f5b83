"""classify writes what it learnt on the tables it read (pipeline/model.py): Cell.key on each
printed cell a canonical key was read from, Table.kind and Table.template on each table; the
grid sidecar carries them and the HTML report colours keyed cells (issue #19 item 2)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.batch import run_batch
from pipeline.run import extract

SAMPLES = Path(__file__).resolve().parent.parent / "datasets" / "samples"


@pytest.mark.parametrize("name", ["s2021_a.digital.pdf", "s2019_a.text.txt"])
def test_value_cells_carry_their_keys_and_tables_their_kind(name):
    doc = extract(SAMPLES / name)
    keyed = {c.key: c for t in doc.tables for c in t.cells if c.key}
    printed = {k for k, f in doc.fields.items() if f.text.strip()}
    assert printed and printed <= set(keyed)              # every value read from a cell names it
    for k, c in keyed.items():
        assert doc.fields[k].text == c.text
    assert {k.split("/")[0] for k in keyed} == {"active", "requests", "appeals"}
    for t in doc.tables:
        assert t.kind in ("active", "requests", "appeals")
        assert t.template == doc.table_templates[t.kind]
        assert all(c.key.split("/")[0] == t.kind for c in t.cells if c.key)
    assert {t.kind for t in doc.tables} == {"active", "requests", "appeals"}


def test_text_report_colours_keyed_cells(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(SAMPLES / "s2019_a.text.txt", src / "report.txt")
    out = tmp_path / "out"
    run_batch([src], out, workers=1, progress=False)
    result = json.loads((out / "report.json").read_text(encoding="utf-8"))
    side = json.loads((out / result["batch"]["sidecar"]).read_text(encoding="utf-8"))
    assert [t["kind"] for t in side["tables"]] == ["active", "requests", "appeals"]
    assert {c["key"] for t in side["tables"] for c in t["cells"] if c["key"]} == set(result["cells"])
    page = (out / "report_files" / "report.html").read_text(encoding="utf-8")
    printed = page.split("recovered tables as printed", 1)[1]     # the grids as the text printed them
    assert printed.count('<td class="key ') == len(result["cells"])
