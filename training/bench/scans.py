"""The scans section (issue #14): the whole pipeline on the first --scan-docs test documents'
scans, per split and with the held-out degradation styles apart (configs/synth.yaml), cells
right, wrong and missing counted apart (training.eval_scans.evaluate, called as it is), beside
the naive full-page PP-OCR anchor the bench ran on the same documents."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .corpus import ROOT, split_file
from .report import fmt

GROUPS = ("all", "held_out", "not_held_out")


def _group(split: str, g: str) -> str:
    """eval_scans' group name: the split, or split:held_out / split:not_held_out."""
    return split if g == "all" else f"{split}:{g}"


def link_docs(items: list[dict], splits: list[str], work: Path) -> Path:
    """A folder holding only these documents' scans and truths (links), for eval_scans' glob."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for it in items:
        src = Path(it["dir"])
        for name in [f"{it['doc']}.truth.json"] + [split_file(it["doc"], s) for s in splits]:
            if (src / name).exists():
                (work / name).symlink_to((src / name).resolve())
    return work


def anchor(results: dict, split: str, docs: list[str], held_of: dict) -> dict:
    """The PP-OCR-naive counts of the bench's own run on these documents, per group."""
    m = (results.get(split) or {}).get("ppocr_naive")
    if not m:
        return {}
    out = {}
    for g in GROUPS:
        rows = [d for d in m["per_doc"] if d["doc"] in docs
                and (g == "all" or held_of.get(d["doc"]) == (g == "held_out"))]
        if not rows:
            continue
        right, total, missing = (sum(d.get(k, 0) for d in rows) for k in ("right", "total", "missing"))
        out[g] = {"documents": len(rows), "right": right, "wrong": total - right - missing, "missing": missing,
                  "cells_right": round(right / max(1, total), 4),
                  "documents_all_right": sum(d["right"] == d["total"] > 0 for d in rows)}
    return out


def scans_section(items: list[dict], splits: list[str], results: dict, work: Path | None = None) -> dict:
    """gouji (eval_scans.evaluate, default Settings) and the PP-OCR anchor on `items`' scans."""
    from pipeline.run import Settings
    from pipeline.templates import config
    from training import eval_scans
    work = link_docs(items, splits, work or ROOT / "out" / "bench-scans")
    held = set(config("synth.yaml").get("held_out_styles", []) or [])
    docs = [it["doc"] for it in items]
    out = {"docs": docs, "held_out_styles": sorted(held), "splits": {}}
    for split in splits:
        held_of = {}
        for it in items:
            truth = json.loads((work / f"{it['doc']}.truth.json").read_text(encoding="utf-8"))
            held_of[it["doc"]] = bool(held & set(eval_scans.styles_of(truth, split)))
        g = eval_scans.evaluate(work, f"*.{split}.pdf", Settings())
        out["splits"][split] = {"gouji": {k: g[_group(split, k)] for k in GROUPS if _group(split, k) in g},
                                "ppocr_naive": anchor(results, split, docs, held_of)}
    return out


def scans_markdown(sec: dict) -> list[str]:
    if not sec or not sec.get("splits"):
        return []
    L = ["## Scans: cells right, wrong and missing, held-out styles apart", "",
         f"The whole pipeline (`training.eval_scans.evaluate`) on the scans of the first {len(sec['docs'])} "
         f"test document(s) ({', '.join(sec['docs'])}); **held-out** — documents drawn with a degradation "
         f"style no training or tuning step sees ({', '.join(sec['held_out_styles']) or 'none'}), reported "
         "apart. **right / wrong / missing** — printed cells whose value is right, wrong, or not given; "
         "**confident wrong** — wrong cells at or above the review threshold (what a user would trust); "
         "**cells right** — right / all printed cells. The anchor is PP-OCR on the full page with naive "
         "clustering from the split tables above, on the same documents (the bench's metric; it gives "
         "no confidence).", "",
         "| split | styles | system | docs | right | wrong | missing | confident wrong | cells right | "
         "reports all right |", "|---|---|---|---|---|---|---|---|---|---|"]
    names = {"all": "all", "held_out": "held-out", "not_held_out": "not held-out"}
    for split, r in sec["splits"].items():
        for system, label in (("gouji", "gouji"), ("ppocr_naive", "PP-OCR full page (naive)")):
            for g in GROUPS:
                m = (r.get(system) or {}).get(g)
                if not m:
                    continue
                cw = m.get("confident_wrong")
                L.append(f"| {split} | {names[g]} | {label} | {m['documents']} | {m['right']} | {m['wrong']} | "
                         f"{m['missing']} | {'—' if cw is None else cw} | {fmt(m['cells_right'])} | "
                         f"{m['documents_all_right']}/{m['documents']} |")
    return L + [""]
