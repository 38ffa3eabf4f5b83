"""Where a document's CPU goes: seconds per stage, per page, and each page's kind.

Why: speed work on scans needs to know which stage and which kind of page pays
(issue #15). CPU time (time.process_time, onnxruntime's threads included) is the
figure, because the machines are shared and wall time is noisy; the wall seconds of
the same laps are kept beside them (`wall`), for a page's median wall time. A page's clock is a
lap timer: `lap(page, stage)` charges everything since the page's previous lap to
`stage`, so every CPU second of a page lands in exactly one stage. Document stages
(classify, solve, score) are charged to the document. The totals also go into
`doc.timings` as `cpu_<stage>`, so batch summaries add them up.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

# page stages in pipeline order, then document stages
PAGE_STAGES = ("rasterise", "lines", "orientation", "cells", "recognise", "readings", "text")
DOC_STAGES = ("regions", "classify", "solve", "score", "pictures")


@dataclass
class PageCost:
    """CPU seconds per stage of one page, and what kind of page it is."""
    cpu: dict[str, float] = field(default_factory=dict)
    kind: str = ""                 # table | text | blank (set by the grid stage)
    crops: int = 0                 # line crops sent to PP-OCR
    routed: int = 0                # line crops read by the digit model alone
    strips: int = 0                # row strips sent to PP-OCR (pipeline/strips.py)
    alone: int = 0                 # line crops PP-OCR read on their own (not in a strip)
    joined: int = 0                # line crops of wrapped cells read joined, one input per cell (ocr.yaml wrapped)
    squeezed: int = 0              # long text line crops read narrower (ocr.yaml squeeze, pipeline/squeeze.py)
    templated: int = 0             # line crops the label model read as template text, not sent to PP-OCR (ocr.yaml labels)
    shortened: int = 0             # label line crops read cut to their first glyphs or not read (squeeze.label.max_glyphs)
    orientation: str = ""          # how its orientation was decided: rules | read | none (orient.py)
    mark: float | None = None      # process_time of the last lap
    wall: dict[str, float] = field(default_factory=dict)   # wall seconds per stage (perf_counter)
    wall_mark: float | None = None  # perf_counter of the last lap

    def start(self) -> None:
        self.mark = time.process_time()
        self.wall_mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        now, wnow = time.process_time(), time.perf_counter()
        if self.mark is not None:
            self.cpu[stage] = self.cpu.get(stage, 0.0) + now - self.mark
        if self.wall_mark is not None:
            self.wall[stage] = self.wall.get(stage, 0.0) + wnow - self.wall_mark
        self.mark, self.wall_mark = now, wnow


def lap(page, stage: str) -> None:
    """Charge the page's CPU since its last lap (or start) to `stage`."""
    page.cost.lap(stage)


def add(doc, stage: str, seconds: float) -> None:
    """CPU seconds of a document stage into doc.timings['cpu_<stage>']."""
    doc.timings[f"cpu_{stage}"] = doc.timings.get(f"cpu_{stage}", 0.0) + seconds


def page_totals(doc) -> None:
    """Add every page's stage seconds to doc.timings (once, after the page stages)."""
    for p in doc.pages:
        for stage, s in p.cost.cpu.items():
            add(doc, stage, s)
