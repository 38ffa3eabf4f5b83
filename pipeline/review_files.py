"""What `gouji review` keeps on disk and how a decision is read: OUT/reviewed/<name>.json,
reviewed values over a result (apply_review, what the combined tables use), typed values
checked, and the refusal of a bad request (BadRequest). See pipeline/review.py."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from . import values
from .templates import config

KEY_RE = re.compile(r"^[A-Za-z0-9_.:\-]+(/[A-Za-z0-9_.:\-]+){2}$")


class BadRequest(Exception):
    """A request the server refuses: answered with `status` and the message, never a crash."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def settings() -> dict:
    """configs/review.yaml."""
    return dict(config("review.yaml"))


def batch_config() -> dict:
    """configs/batch.yaml (output names)."""
    from .batch import config
    return config()


def crop_file(key: str) -> str:
    """File name of a cell's crop: the canonical key with / as __ (keys are ASCII)."""
    return key.replace("/", "__") + ".png"


def apply_review(result: dict, reviewed: dict | None) -> dict:
    """The result with a reviewer's cell decisions on top: value as decided, status
    "reviewed", confidence 1 (what the combined tables and the next reviewer see)."""
    decided = ((reviewed or {}).get("review") or {}).get("cells") or {}
    if not decided:
        return result
    cells = dict(result.get("cells") or {})
    for key, d in decided.items():
        c = dict(cells.get(key) or {})
        if "status" in c and c.get("status") != "reviewed":
            c.setdefault("recognised", {"value": c.get("value"), "status": c.get("status"),
                                        "confidence": c.get("confidence")})
        c.update(value=d.get("value"), status="reviewed", confidence=1.0)
        cells[key] = c
    return {**result, "cells": cells}


def reviewed_path(out: Path, name: str) -> Path:
    """OUT/reviewed/<name>.json (the folder: configs/review.yaml)."""
    return Path(out) / settings().get("folder", "reviewed") / f"{name}.json"


def load_reviewed(out: Path, name: str) -> dict | None:
    """OUT/reviewed/<name>.json, or None when there is none (or it is not readable JSON)."""
    try:
        d = json.loads(reviewed_path(out, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def now() -> str:
    """UTC time stamp of a decision (audit trail)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_value(v):
    """A typed value: None (printed blank), an int, or a float; anything else is refused."""
    if v is None or isinstance(v, bool):
        if v is None:
            return None
        raise BadRequest(400, "value must be a number or null")
    if isinstance(v, (int, float)):
        if v != v or v in (float("inf"), float("-inf")):
            raise BadRequest(400, "value must be finite")
        return v
    if isinstance(v, str):
        ok, value = values.parse_value(v, "auto", rules="typed")   # configs/values.yaml parse_rules.typed
        if not ok:
            raise BadRequest(400, f"not a number: {v[:40]!r}")
        return value
    raise BadRequest(400, "value must be a number, a numeric string or null")

