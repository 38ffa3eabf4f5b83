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
    (folder / f"{stem}.truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    errs: list = []
    out = eval_scans.evaluate(folder, "*.digital.pdf", Settings(), cache=tmp_path / "cache", errors_out=errs)
    g = out["digital"]
    assert g["documents"] == 1 and g["wrong"] >= 1
    assert g["right"] + g["wrong"] + g["missing"] == len(truth["cells"])
    assert any(e["key"] == key for e in errs)
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
