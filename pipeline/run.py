"""One document through every stage: read → grid → classify → solve → score.

`extract(path)` is the per-document function that the CLI, the batch engines (process
pool, Ray) and the benchmarks all call: the default `Extractor` (pipeline/extractor.py,
where the stages are composed) built from `Settings`. It never raises for a bad document:
the Document comes back with status failed and a reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .model import Document


def _default(name: str, fallback):
    from .templates import config
    return config("pipeline.yaml").get(name, fallback)


@dataclass
class Settings:
    """Pipeline switches; defaults come from configs/pipeline.yaml."""
    mapper: str = field(default_factory=lambda: _default("mapper", "auto"))
    solver: bool = field(default_factory=lambda: _default("solver", True))
    ocr_engine: str = field(default_factory=lambda: _default("ocr_engine", "rapidocr"))
    dpi: int = field(default_factory=lambda: _default("dpi", 200))
    max_pages: int = field(default_factory=lambda: _default("max_pages", 60))
    max_pixels: int = field(default_factory=lambda: _default("max_pixels", 60_000_000))


def extract(path: str | Path, settings: Settings | None = None) -> Document:
    """One document through the default Extractor (pipeline/extractor.py) built from `settings`."""
    from .extractor import Extractor
    return Extractor(settings=settings).extract(path)


def run_stages(doc: Document, settings: Settings) -> None:
    """The stages after reading, in order, on one Document (the default Extractor's)."""
    from .extractor import Extractor
    Extractor(settings=settings).run_stages(doc)
