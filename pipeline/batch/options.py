"""What a batch run is asked to do (BatchOptions) and its defaults (configs/batch.yaml)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..templates import config as load_config


def review_threshold() -> float:
    """A cell below this confidence (or in conflict) goes to the review queue: the scorer's
    needs_review threshold, configs/scoring.yaml."""
    return float(load_config("scoring.yaml")["review_threshold"])


def config() -> dict:
    """configs/batch.yaml, read once (templates.config caches it: one dict for every caller)."""
    return load_config("batch.yaml")


@dataclass
class BatchOptions:
    """One run's switches; None means the configs/batch.yaml default (time and memory limits).

    settings: the pipeline Settings (None: defaults); engine: "local" or "ray"; address: the Ray
    cluster; func: the per-document function (tests swap in slow or crashing ones)."""
    settings: Any = None
    workers: int | None = None
    engine: str = "local"
    address: str | None = None
    time_limit: float | None = None
    memory_limit_mb: float | None = None
    force: bool = False
    progress: bool = True
    func: Callable | None = None
