"""--engine ray: the same per-document function as Ray tasks on a local Ray instance.

Each test starts and shuts down its own local instance (no dashboard, offline).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'gouji[ray]' (ray==2.60.0)")

from pipeline.batch import process_document, run_batch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "tests" / "fixtures" / "seeds").glob("*.txt"))


def sleepy_process(job):
    """The real function, except that documents named 'sleepy' hang (shipped to Ray by value)."""
    if "sleepy" in Path(job.path).name:
        time.sleep(600)
    return process_document(job)


def _results(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*.json")
            if p.name != "run_summary.json"}


def _strip(r: dict) -> dict:
    return {k: v for k, v in r.items() if k not in ("batch", "timings")}


@pytest.fixture
def docs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for s in SEEDS[:3]:
        shutil.copy(s, d / s.name)
    (d / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(500))
    return d


def test_ray_engine_gives_the_local_results(docs, tmp_path):
    local = run_batch([docs], tmp_path / "local", workers=1, progress=False)
    assert not ray.is_initialized()
    s = run_batch([docs], tmp_path / "ray", engine="ray", workers=2, progress=False)
    assert not ray.is_initialized(), "a local instance the batch started is shut down again"
    assert s.counts == local.counts and s.processed == 4
    a, b = _results(tmp_path / "local"), _results(tmp_path / "ray")
    assert set(a) == set(b) and len(a) == 4
    for name in a:
        assert _strip(a[name]) == _strip(b[name]), name
    assert b["corrupt.json"]["status"] == "failed"
    assert json.loads((tmp_path / "ray" / "run_summary.json").read_text())["engine"] == "ray"
    # results are keyed the same way: a local re-run over the Ray output reads nothing again
    s2 = run_batch([docs], tmp_path / "ray", workers=1, progress=False)
    assert s2.processed == 0 and s2.already_done == 4


@pytest.mark.slow
def test_ray_time_limit_and_existing_instance(docs, tmp_path):
    import ray.cloudpickle as cp
    cp.register_pickle_by_value(sys.modules[__name__])
    shutil.copy(SEEDS[3], docs / "sleepy.txt")
    ray.init(num_cpus=2, include_dashboard=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})   # an instance the batch did not start
    try:
        t = time.monotonic()
        # 30 s: the real documents must fit on a loaded machine (4 s did not); the sleeper's 600 s not
        s = run_batch([docs], tmp_path / "out", engine="ray", address=None, time_limit=30, progress=False,
                      func=sleepy_process)
        assert time.monotonic() - t < 300
        assert ray.is_initialized(), "an instance the batch did not start is left running"
    finally:
        ray.shutdown()
        cp.unregister_pickle_by_value(sys.modules[__name__])
    res = _results(tmp_path / "out")
    assert res["sleepy.json"]["status"] == "failed" and "time limit" in res["sleepy.json"]["errors"][0]
    assert res["sleepy.json"]["batch"]["retry"] is True
    assert sum(s.counts.values()) == 5 and s.counts.get("failed") == 2   # sleepy + corrupt
