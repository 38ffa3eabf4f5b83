"""Imported by the local pool's forkserver before it forks the workers (batch/run.py preload):
what every worker would otherwise load on its first document is loaded once, in the
forkserver, and the workers inherit it (docs/speed.md). Today: the confidence calibrator and
jieba's dictionary (the prose checks, crosscheck.statements: a scan's OCR'd title already asks;
~0.85 CPU s a worker). Modules and data only: nothing here may start a thread (a worker sizes
its thread pools after the fork: engines.share_cores). Not rapidocr (~1 CPU s to import): its
import loads onnxruntime, which starts a thread of its own (session 30e, docs/speed.md)."""
from __future__ import annotations

try:
    from ..score import warm_calibrator
    warm_calibrator()
except Exception:      # a warm-up is an optimisation: a worker loads the model itself if this fails
    pass
try:
    from ..crosscheck import warm_segmenter
    warm_segmenter()
except Exception:
    pass
