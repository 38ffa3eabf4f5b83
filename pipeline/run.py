"""One document through every stage: read → grid → classify → solve → score.

`extract(path)` is the per-document function that the CLI, the batch engines (process
pool, Ray) and the benchmarks all call. It never raises for a bad document: the
Document comes back with status failed and a reason.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import cost
from .model import Document, Source


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
    settings = settings or Settings()
    path = Path(path)
    t0 = time.perf_counter()
    from . import read
    try:
        doc = read.read(path, settings)
    except Exception as e:  # a reader bug must not stop a batch
        doc = Document(Source(str(path))).fail(f"could not read: {type(e).__name__}: {e}")
    doc.timings["read"] = time.perf_counter() - t0
    if doc.status in ("failed", "unsupported_format"):
        return doc
    try:
        run_stages(doc, settings)
    except Exception as e:
        doc.fail(f"internal error in pipeline: {type(e).__name__}: {e}")
        doc.warnings.append(traceback.format_exc(limit=3))
    doc.timings["total"] = time.perf_counter() - t0
    return doc


def _timed(doc: Document, name: str, fn, *args, cpu: bool = True):
    """Wall seconds into doc.timings[name], CPU seconds into cpu_<name> (`cpu`=False for
    the grid stage, whose CPU is counted per page and stage: pipeline/cost.py)."""
    t = time.perf_counter()
    c = time.process_time()
    out = fn(*args)
    if cpu:
        cost.add(doc, name, time.process_time() - c)
    doc.timings[name] = doc.timings.get(name, 0.0) + time.perf_counter() - t
    return out


def run_stages(doc: Document, settings: Settings) -> None:
    """The stages after reading, in order, on one Document (public so benchmarks run the same chain)."""
    from . import classify
    if any(p.render is not None or p.image is not None for p in doc.pages):
        from . import grid
        _timed(doc, "grid", grid.recover, doc, settings, cpu=False)
        cost.page_totals(doc)
        if doc.status == "failed":
            return
        from . import layout        # regions as lp.Layout for people and tools; not in the result JSON
        _timed(doc, "regions", layout.fill, doc)
    _timed(doc, "classify", classify.classify, doc, settings)
    if doc.status in ("failed", "unsupported_template", "no_tables"):
        return
    if settings.solver:
        from . import solve
        _timed(doc, "solve", solve.solve, doc)
    from . import score
    _timed(doc, "score", score.score, doc)
