"""The pipeline as composed stage objects (docTR style): `Extractor(reader, gridder,
classifier, solver, scorer)`.

Why: a benchmark ablation, a peer adapter or a user's own table recogniser is one stage
passed in, not a copy of the chain. Each stage is a small object with one method and
wraps today's stage function (read.read, grid.recover, classify.classify, solve.solve,
score.score); a stage left out gets its default built from `Settings`.

    >>> from gouji import Extractor, Settings
    >>> from gouji.extractor import Classifier
    >>> ex = Extractor(classifier=Classifier(Settings(mapper="fuzzy")), solver=False)
    >>> doc = ex("report.pdf")          # = ex.extract(path): a Document, never raises

Stage contract (pipeline/model.py declares what they hand each other):
  reader.read(path) -> Document   the file as pages, tables and cells (status failed or
                                  unsupported_format for a bad file: the chain stops there)
  gridder(doc)                    pages with pixels → grid tables (run only when a page has
                                  an image); then the layout regions (`regions(doc)`)
  classifier(doc)                 canonical keys, template; may set status no_tables /
                                  unsupported_template / failed (the chain stops there)
  solver(doc)                     balance equations 勾稽关系 (False: skipped)
  scorer(doc)                     calibrated confidences, document status
Every stage call is timed into doc.timings[name] (wall) and cost (CPU), as before.
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path

from . import cost
from .model import Document, Source
from .run import Settings

STOP_AFTER_CLASSIFY = ("failed", "unsupported_template", "no_tables")


def timed(doc: Document, name: str, fn, *args, cpu: bool = True):
    """fn(*args), its wall seconds added into doc.timings[name] and its CPU seconds into
    cost's cpu_<name> (`cpu`=False for the grid stage, whose CPU is counted per page and
    stage: pipeline/cost.py)."""
    t = time.perf_counter()
    c = time.process_time()
    out = fn(*args)
    if cpu:
        cost.add(doc, name, time.process_time() - c)
    doc.timings[name] = doc.timings.get(name, 0.0) + time.perf_counter() - t
    return out


# -- the default stages: thin wrappers of the stage functions -------------------------------

class Reader:
    """read.read: any supported file → Document (pipeline/read.py, pdf.py, office.py, webpage.py)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()

    def read(self, path) -> Document:
        from . import read
        return read.read(Path(path), self.settings)


class Gridder:
    """grid.recover: page images → OCR'd grid tables (pipeline/grid.py)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()

    def __call__(self, doc: Document) -> None:
        from . import grid
        grid.recover(doc, self.settings)


class Regions:
    """layout.fill: regions as lp.Layout for people and tools (not in the result JSON)."""

    def __call__(self, doc: Document) -> None:
        from . import layout
        layout.fill(doc)


class Classifier:
    """classify.classify: tables → canonical keys, template (settings.mapper picks the mapper)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()

    def __call__(self, doc: Document) -> None:
        from . import classify
        classify.classify(doc, self.settings)


class Solver:
    """solve.solve: the balance equations fill and check the cells."""

    def __call__(self, doc: Document) -> None:
        from . import solve
        solve.solve(doc)


class Scorer:
    """score.score: calibrated confidence per cell and the document's status."""

    def __call__(self, doc: Document) -> None:
        from . import score
        score.score(doc)


def _pick(stage, default):
    """A stage passed in, its default when None, or nothing when False."""
    if stage is False:
        return None
    return default() if stage is None else stage


class Extractor:
    """read → grid (+ regions) → classify → solve → score, on one document.

    Stages not passed in come from `settings` (default: configs/pipeline.yaml); pass
    `solver=False` (or Settings(solver=False)) to skip the solver, `scorer=False` to leave
    confidences unset, `gridder=False` to leave page images unread. `extract(path)` never
    raises for a bad document: the Document comes back with status failed and a reason.
    """

    def __init__(self, reader=None, gridder=None, classifier=None, solver=None, scorer=None, *,
                 settings: Settings | None = None, regions=None):
        self.settings = settings = settings or Settings()
        self.reader = _pick(reader, lambda: Reader(settings))
        self.gridder = _pick(gridder, lambda: Gridder(settings))
        self.regions = _pick(regions, Regions)
        self.classifier = _pick(classifier, lambda: Classifier(settings))
        self.solver = _pick(solver, lambda: Solver() if settings.solver else None)
        self.scorer = _pick(scorer, Scorer)

    def __repr__(self):
        parts = ", ".join(f"{n}={getattr(self, n)!r}" for n in
                          ("reader", "gridder", "classifier", "solver", "scorer"))
        return f"Extractor({parts})"

    def __call__(self, path) -> Document:
        return self.extract(path)

    def read(self, path) -> Document:
        """The reader's Document, or a failed one when the reader raised."""
        path = Path(path)
        try:
            return self.reader.read(path)
        except Exception as e:  # a reader bug must not stop a batch
            return Document(Source(str(path))).fail(f"could not read: {type(e).__name__}: {e}")

    def extract(self, path) -> Document:
        t0 = time.perf_counter()
        doc = self.read(path)
        doc.timings["read"] = time.perf_counter() - t0
        if doc.status in ("failed", "unsupported_format"):
            return doc
        try:
            self.run_stages(doc)
        except Exception as e:
            doc.fail(f"internal error in pipeline: {type(e).__name__}: {e}")
            doc.warnings.append(traceback.format_exc(limit=3))
        doc.timings["total"] = time.perf_counter() - t0
        return doc

    def run_stages(self, doc: Document) -> None:
        """The stages after reading, in order, on one Document (raises what a stage raises)."""
        self.grid(doc)
        if doc.status == "failed":
            return
        self.finish(doc)

    def grid(self, doc: Document) -> None:
        """gridder (+ regions) when a page has an image to read; cost's per-page totals."""
        if self.gridder is None or not any(p.render is not None or p.image is not None for p in doc.pages):
            return
        timed(doc, "grid", self.gridder, doc, cpu=False)
        cost.page_totals(doc)
        if doc.status == "failed":
            return
        if self.regions is not None:
            timed(doc, "regions", self.regions, doc)

    def finish(self, doc: Document) -> None:
        """classify → solve → score on a read (and gridded) Document."""
        if self.classifier is not None:
            timed(doc, "classify", self.classifier, doc)
        if doc.status in STOP_AFTER_CLASSIFY:
            return
        if self.solver is not None:
            timed(doc, "solve", self.solver, doc)
        if self.scorer is not None:
            timed(doc, "score", self.scorer, doc)
