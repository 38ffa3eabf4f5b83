"""The documents a bench run reads and their ground truth: the synthetic test split (from
the corpus, or generated with the same seeds into the bench cache) and the five real seeds."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "bench.yaml"
SCANS = ("scan_light", "scan_heavy")
PDF_SPLITS = ("digital",) + SCANS


def load_config(path: Path | str = CONFIG) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def corpus_items(cfg: dict, n_docs: int) -> list[dict]:
    """The first n_docs of the test split: from the corpus (`make data`) when it holds them,
    else generated with the same seeds into the bench cache (datasets/cache/bench/test), so a
    corpus being rebuilt meanwhile cannot pull files from under a run."""
    scfg = yaml.safe_load((ROOT / cfg["synth_config"]).read_text(encoding="utf-8"))
    ids = [f"test_{i:05d}" for i in range(n_docs)]

    from training.generator_stamp import current, fingerprint, stamp
    fp = fingerprint(ROOT / cfg["synth_config"])

    def complete(d: Path, doc: str) -> bool:
        """All renderings there, made by today's generator (its stamp in the truth)."""
        return current(d / f"{doc}.truth.json", fp) and all((d / split_file(doc, s)).exists() for s in cfg["splits"])
    corpus, cache = ROOT / cfg["corpus"], ROOT / cfg["cache"]
    out = []
    todo = []
    for i, d in enumerate(ids):
        where = corpus if complete(corpus, d) else cache
        if where is cache and not complete(cache, d):
            todo.append(i)
        out.append({"doc": d, "dir": str(where)})
    if todo:
        from training.synth.build import SPLITS, make_document
        si = SPLITS.index("test")
        print(f"bench: generating {len(todo)} test documents into {cache} (same seeds as make data)",
              file=sys.stderr, flush=True)
        for i in todo:
            make_document(ids[i], [int(scfg["seed"]), si, i], scfg, cache, scfg["renderings"],
                          scfg.get("page_images", "none"))
            stamp(cache / f"{ids[i]}.truth.json", fp)
    return out


def split_file(doc: str, split: str) -> str:
    return f"{doc}.text.txt" if split == "text" else f"{doc}.{split}.pdf"


def load_truth(cfg: dict, split: str, item: dict) -> dict:
    """{cells: {key: {value, page, bbox}}, may_be_missing, grid: [[page, x0, y0, x1, y1]] | None, pages}."""
    if split == "seeds":
        exp = json.loads(Path(item["expected"]).read_text(encoding="utf-8"))
        return {"cells": {k: {"value": v} for k, v in exp["cells"].items()},
                "may_be_missing": list(exp.get("may_be_missing") or []), "grid": None, "pages": 1}
    from training.synth.truth import truth_for
    t = json.loads((Path(item["dir"]) / f"{item['doc']}.truth.json").read_text(encoding="utf-8"))
    r = truth_for(t, split, unit="pt")
    cells = {k: {"value": c["value"], "page": c.get("page"), "bbox": c.get("bbox")} for k, c in r["cells"].items()}
    grid = None
    if split == "digital":
        grid = [[b["page"]] + list(b["bbox"]) for recs in t["grid"].values() for rec in recs for b in _boxes(rec)]
    elif split in SCANS:
        ren = t["renderings"][split]
        s = 72.0 / float(ren["dpi"])
        grid = [[b["page"]] + [v * s for v in b["bbox"]] for recs in ren["grid_px"].values()
                for rec in recs for b in _boxes(rec)]
    return {"cells": cells, "may_be_missing": [], "grid": grid, "pages": len(t["rendering"]["pages"])}


def _boxes(rec: dict) -> list[dict]:
    """A printed cell's visible boxes: the cell, its parts on other pages, repeated headers."""
    return [{"page": rec["page"], "bbox": rec["bbox"]}] + list(rec.get("fragments", [])) + list(rec.get("repeats", []))


def seed_items(cfg: dict) -> list[dict]:
    d = ROOT / cfg["seeds_dir"]
    return [{"doc": p.name[:3], "path": str(p), "expected": str(p.with_suffix(".expected.json"))}
            for p in sorted(d.glob("*.txt"))]


def pdf_pages(path) -> int:
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()
