"""training/eval_scans.py: cells right, wrong and missing counted apart, the cache reused."""
import json
import shutil
from pathlib import Path

from pipeline.run import Settings
from training import eval_scans

SAMPLES = Path(__file__).resolve().parent.parent / "datasets" / "samples"


def test_counts_add_up_and_the_grid_cache_is_reused(tmp_path):
    src = sorted(SAMPLES.glob("*.digital.pdf"))[0]
    stem = src.name.split(".")[0]
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(src, folder / src.name)
    truth = json.loads((SAMPLES / f"{stem}.truth.json").read_text(encoding="utf-8"))
    # one cell of the truth changed: it must come back as one wrong cell
    key = next(k for k, c in truth["cells"].items() if isinstance(c.get("value"), int))
    truth["cells"][key]["value"] += 1000
    # a key the report cannot print: it must come back as one missing cell, listed with its reason
    truth["cells"]["requests/no_such_row/total"] = {"value": 1}
    (folder / f"{stem}.truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    errs: list = []
    out = eval_scans.evaluate(folder, "*.digital.pdf", Settings(), cache=tmp_path / "cache", errors_out=errs)
    g = out["digital"]
    assert g["documents"] == 1 and g["wrong"] >= 1
    assert g["right"] + g["wrong"] + g["missing"] == len(truth["cells"])
    assert any(e["key"] == key for e in errs)
    assert g["missing"] >= 1
    assert any(e["key"] == "requests/no_such_row/total" and e["status"] == "missing" and "reason" in e
               for e in errs)
    assert "digital:geometry:default" in out and out["digital:geometry:default"]["documents"] == 1
    rel = g["reliability"]
    assert sum(b["cells"] for b in rel) == g["right"] + g["wrong"]
    assert "digital:not_held_out" in out
    # a digital page's grid is its rules' (the text strategy is for scans)
    assert g["tables_lines"] >= 1 and not g.get("tables_text") and not g.get("tables_faint")
    cached = tmp_path / "cache" / (src.name + ".pages.pkl")
    assert cached.exists()
    # the cache holds each page's own tables; the join over page breaks runs after loading
    import pickle
    with open(cached, "rb") as fh:
        pages_doc = pickle.load(fh)
    assert all(len(t.pages) == 1 for t in pages_doc.tables)
    joined = eval_scans.gridded(folder / src.name, Settings(), tmp_path / "cache", False)
    assert len(joined.tables) <= len(pages_doc.tables)
    again = eval_scans.evaluate(folder, "*.digital.pdf", Settings(), cache=tmp_path / "cache")
    assert again["digital"] == g


def test_held_out_follows_the_truth_and_reliability_bins_count_right_cells():
    truth = {"geometry": ["landscape"],
             "renderings": {"scan_light": {"styles": [], "held_out": ["landscape"]},
                            "scan_heavy": {"styles": ["embolden"], "held_out": []}}}
    assert eval_scans.held_out_of(truth, "scan_light") == ["landscape"]     # geometry held out
    assert eval_scans.held_out_of(truth, "scan_heavy") == []
    old = {"renderings": {"scan_heavy": {"styles": ["thin", "embolden"]}}}    # no held_out: the config's styles
    assert eval_scans.held_out_of(old, "scan_heavy") == ["thin"]
    assert eval_scans.geometry_of(truth) == ["landscape"] and eval_scans.geometry_of({}) == []
    rel = eval_scans.reliability([(0.3, False), (0.3, True), (0.9999, True), (0.99995, False), (1.0, True)])
    by = {b["bin"]: b for b in rel}
    assert by["[0, 0.5)"]["cells"] == 2 and by["[0, 0.5)"]["share_right"] == 0.5
    assert by["[0.9999, 1]"]["cells"] == 3 and by["[0.9999, 1]"]["right"] == 2
