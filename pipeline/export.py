"""A Document as the result JSON (shared/spec/output-format.md): the contract.

Files are written by outdir.OutDir (atomically: temp file, then rename), so a killed run
never leaves a half-written result.
"""
from __future__ import annotations

import functools
import json

from .model import Document
from .templates import CONFIGS

FORMAT = "gouji.result/1"


def _num(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return v  # keep floats for amounts as printed
    return v


def to_result(doc: Document) -> dict:
    cells = {}
    for key, f in doc.fields.items():
        if f.illegible and f.status != "inferred":
            continue  # not printed legibly and not derivable: listed under `missing`
        c = {"value": _num(f.value), "confidence": round(float(f.confidence), 6), "status": f.status}
        if f.page is not None:
            c["page"] = int(f.page)
        if f.bbox is not None:
            c["bbox"] = [round(float(x), 2) for x in f.bbox]
        c["text"] = f.text
        if f.alternatives:
            c["alternatives"] = [[_num(v), round(float(p), 6)] for v, p in f.alternatives]
        cells[key] = c
    return {
        "format": FORMAT,
        "source": {"path": doc.source.path, "sha256": doc.source.sha256, "kind": doc.source.kind},
        "agency": doc.agency,
        "year": doc.year,
        "template": doc.template,
        "status": doc.status,
        "confidence": None if doc.confidence is None else round(float(doc.confidence), 6),
        "cells": cells,
        "checks": [{"equation": c.equation, "holds": c.holds,
                    **({"lhs": c.lhs, "rhs": c.rhs} if c.lhs is not None else {}),
                    **(getattr(c, "details", None) or {})} for c in doc.checks],  # narrative: kind, sentence …
        "errors": list(doc.errors),
        "tables": dict(doc.table_templates),
        "missing": [m for m in doc.missing if m["key"] not in cells],
        "unmapped": list(doc.unmapped),
        "labels": list(doc.labels),
        "warnings": list(doc.warnings),
        "timings": {k: round(v, 4) for k, v in doc.timings.items()},
        "models": dict(doc.models),
    }


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads((CONFIGS / "result.schema.json").read_text(encoding="utf-8"))


def validate(result: dict) -> None:
    """Raise jsonschema.ValidationError when a result breaks the contract."""
    import jsonschema
    jsonschema.validate(result, schema())
