"""Imported by the local pool's forkserver before it forks the workers (batch/run.py preload):
what every worker would otherwise load on its first document is loaded once, in the
forkserver, and the workers inherit it (docs/speed.md). Today: the confidence calibrator.
Not jieba (crosscheck, ~0.85 CPU s): a scan's worker never loads it, and loaded here it adds
~100 MB to every worker's RSS; nor rapidocr (~1 CPU s to import): importing it loads
onnxruntime, which starts a thread of its own (session 30e, docs/speed.md)."""
from __future__ import annotations

try:
    from ..score import warm_calibrator
    warm_calibrator()
except Exception:      # a warm-up is an optimisation: a worker loads the model itself if this fails
    pass
