"""A pool worker's thread pools follow its share of the cores (engines.share_cores): the
onnxruntime and OpenCV pools, so N workers on N cores do not run N × cores threads."""
from __future__ import annotations

import os
import subprocess
import sys

from pipeline.engines import Limits, LocalPool


def _threads(_job) -> dict:
    import cv2
    return {"cv2": cv2.getNumThreads(), "gouji": os.environ.get("GOUJI_THREADS"),
            "omp": os.environ.get("OMP_NUM_THREADS")}


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.delenv("GOUJI_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = os.cpu_count() or 1
    workers = 2 if cores >= 2 else 1
    share = max(1, cores // workers)
    seen = []
    LocalPool(workers, Limits(memory_mb=0), start_method="fork").run([1, 2], _threads,
                                                                        lambda job, out: seen.append(out))
    assert seen == [{"cv2": share, "gouji": str(share), "omp": str(share)}] * 2


def test_share_cores_sets_opencv_threads():
    code = ("import cv2; from pipeline.engines import share_cores; before = cv2.getNumThreads(); "
            "share_cores(1); print(before, cv2.getNumThreads())")
    env = {k: v for k, v in os.environ.items() if k not in ("GOUJI_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    _, after = map(int, out.stdout.split())
    assert after == 1


def _openmp(_job) -> dict:
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, as the calibrator does)
    from threadpoolctl import threadpool_info
    return {"openmp": sorted({i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openmp"})}


def test_limit_openmp_sizes_the_openmp_pool_when_asked(monkeypatch):
    monkeypatch.delenv("GOUJI_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    import sklearn.ensemble  # noqa: F401  (loaded before the fork: OMP_NUM_THREADS then comes too late)
    cores = os.cpu_count() or 1
    share = max(1, cores // 2)
    seen = []
    LocalPool(2, Limits(memory_mb=0, limit_openmp=True), start_method="fork").run(
        [1], _openmp, lambda job, out: seen.append(out))
    assert seen == [{"openmp": [share]}]
