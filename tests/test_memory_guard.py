"""Issue #15: a worker's resident memory on scans stays within 1 GB (694 MB peak on a
60-page scan, docs/speed.md session 27f), and the batch engine's guard default follows
that bound: above the measured peak, not above the bound."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MEASURED_PEAK_MB = 694.4      # bench_batch --long 60 at 962afee (docs/speed.md)


def test_the_default_memory_guard_is_the_issues_bound_and_above_the_measured_peak():
    cfg = yaml.safe_load((ROOT / "configs" / "batch.yaml").read_text(encoding="utf-8"))
    assert MEASURED_PEAK_MB * 1.25 < cfg["memory_limit_mb"] <= 1024
