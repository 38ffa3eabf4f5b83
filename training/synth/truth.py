"""Truth records of synthetic reports, in the result format (shared spec output-format)
plus what only a generator knows: injected misprints, printed blanks, layout and
degradation choices, every grid cell's box per rendering.

One `<id>.truth.json` per report. Its top-level `cells[*].page/bbox` are those of the
digital PDF; `renderings[<name>]` holds the boxes of each other rendering, and
`truth_for(truth, name)` returns a plain result dict for one rendering.
"""
from __future__ import annotations

import copy

from pipeline.templates import Template

FORMAT = "gouji.result/1"


def checks(tpl: Template, values: dict) -> list[dict]:
    out = []
    for e in tpl.expand_equations(set(values)):
        lhs = sum((values[k] or 0) for k in e.lhs)
        rhs = sum((values[k] or 0) for k in e.rhs)
        out.append({"equation": e.name, "holds": abs(lhs - rhs) < 1e-9,
                    "lhs": round(lhs, 6), "rhs": round(rhs, 6)})
    return out


def base_truth(doc_id: str, tpl: Template, rv, tables: dict, pages: list[dict], layout: dict) -> dict:
    cell_box = {}
    for recs in tables.values():
        for rec in recs:
            if rec.get("key"):
                cell_box[rec["key"]] = (rec["page"], rec["bbox"])
    cells = {}
    for k in rv.keys:
        p, bb = cell_box[k]
        cells[k] = {"value": rv.values[k], "confidence": 1.0, "status": "read", "page": p,
                    "bbox": bb, "text": rv.texts[k]}
    chk = checks(tpl, rv.values)
    return {
        "format": FORMAT,
        "source": {"path": f"{doc_id}.digital.pdf", "sha256": "", "kind": "digital_pdf"},
        "agency": rv.agency,
        "year": rv.year,
        "template": tpl.name,
        "status": "needs_review" if rv.injected else "ok",
        "confidence": 1.0,
        "cells": cells,
        "checks": chk,
        "errors": [],
        "tables": {t: tpl.name for t in ("active", "requests", "appeals")},
        "missing": [],
        "unmapped": [{"table": t, "label": r["text"], "page": r["page"], "bbox": r["bbox"]}
                     for t, recs in tables.items() for r in recs if r.get("class") == "unmapped"],
        "warnings": [],
        "id": doc_id,
        "injected": rv.injected,
        "blank_keys": rv.blank_keys,
        "true_values": {k: rv.true_values[k] for k in {x for i in rv.injected for x in i["keys"]}},
        "single_other_row": rv.single_other,
        "rendering": {"layout": layout, "pages": pages},
        "grid": tables,
        "renderings": {},
    }


def truth_for(truth: dict, rendering: str, unit: str = "pt", page_image: int | None = None) -> dict:
    """A result-format dict for one rendering: its source and its cell pages/boxes.

    rendering: digital | scan_light | scan_heavy | text; unit: "pt" (PDF) or "px"
    (page images of a scan). Text renderings have no page/bbox. With `page_image=N`
    (a scan's `<id>.<rendering>.pN.png|jpg`): only the cells on that page, as page 1,
    in pixels, with the image as source.
    """
    out = copy.deepcopy(truth)
    r = truth["renderings"].get(rendering)
    if r is None:
        raise KeyError(f"{truth.get('id')}: no rendering {rendering!r}")
    out["source"] = {"path": r["file"], "sha256": r.get("sha256", ""), "kind": r["kind"]}
    if page_image is not None:
        img = next(i for i in r.get("page_images", []) if i["page"] == page_image)
        out["source"] = {"path": img["file"], "sha256": img["sha256"], "kind": "image"}
        unit = "px"
    boxes = r.get("cells_px" if unit == "px" else "cells")
    for k in list(out["cells"]):
        c = out["cells"][k]
        if r["kind"] == "text":
            c.pop("page", None)
            c.pop("bbox", None)
        elif boxes is not None:
            c["page"], c["bbox"] = boxes[k][0], boxes[k][1:]
            if page_image is not None:
                if c["page"] != page_image:
                    del out["cells"][k]
                else:
                    c["page"] = 1
    for name in ("grid", "renderings", "rendering"):
        out.pop(name, None)
    return out
