"""Where the per-document function runs: a local process pool (default) or Ray tasks.

Both engines take jobs, call the same picklable per-document function on each and hand
every outcome back to the caller as it completes, in the parent process (the single
writer of results). The guards live here because only a supervisor can enforce them:

* LocalPool: long-lived worker processes (models load once per worker). The parent polls
  each busy worker's wall time and resident memory; a worker over the time or memory limit
  is killed and replaced, and its document gets a failure outcome. A worker that dies
  (segfault, kernel OOM kill) likewise costs only its current document. A worker dies with
  its parent (kill -9 included): an unsupervised worker would finish its document beside
  the rerun, with no guard and nobody to write its result.
* RayEngine: the same function as Ray tasks (max_retries=0, so a document that kills its
  worker is not run four times). Input bytes travel with the task, so nodes need no shared
  filesystem. Time limit: the driver cancels (force-kills) a task past its deadline; memory:
  a watchdog thread in the task ends the worker process when its RSS passes the limit.
"""
from __future__ import annotations

import dataclasses
import os
import resource
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Any, Callable, Iterable

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process in MB (Linux /proc; psutil elsewhere; 0 if unknown)."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError:
        try:
            import psutil
            return psutil.Process(pid or os.getpid()).memory_info().rss / 2**20
        except Exception:
            return 0.0


def failure(kind: str, reason: str) -> dict:
    """Outcome for a document the engine had to give up on (the batch writes the result)."""
    return {"failure": kind, "reason": reason}


@dataclass
class Limits:
    time_s: float = 600.0
    memory_mb: float = 4096.0         # resident memory per worker; 0 = off
    address_space_mb: float = 0.0     # RLIMIT_AS in local workers; 0 = off
    poll_s: float = 0.2
    workers: int = 0                  # local pool size (sets GOUJI_THREADS = cores // workers)
    limit_openmp: bool = False        # also size the OpenMP pool (configs/batch.yaml limit_openmp)


@dataclass
class EngineStats:
    workers: int = 0
    peak_worker_rss_mb: float = 0.0   # largest single worker
    peak_total_rss_mb: float = 0.0    # largest sum over workers at one moment
    restarts: int = 0
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- local pool

def _alive(pid: int) -> bool:
    """True while process `pid` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _watch_parent(pid: int, every_s: float = 0.5) -> None:
    while True:
        time.sleep(every_s)
        if not _alive(pid):
            os._exit(1)


def die_with_parent(parent_pid: int) -> None:
    """End this process as soon as `parent_pid` is gone, however it went (kill -9 included).

    Two guards: the kernel's PR_SET_PDEATHSIG (Linux; it fires when the process that forked
    us exits, which with the forkserver start method is the fork server, itself gone when
    the parent is) and a thread that checks the batch's own process twice a second (every
    platform, and the case where the parent died before the prctl call)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if not _alive(parent_pid):
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="gouji-parent-watch").start()


def share_cores(threads: int, openmp: bool = True) -> None:
    """A worker's fair share of the cores (cores // workers), for every library that sizes a
    thread pool: onnxruntime reads GOUJI_THREADS (ocr.ort_threads); OpenCV's pool and the
    OpenMP runtime scikit-learn's calibrator predicts with (score.py) were sized to every core
    when loaded — OpenMP in the forkserver (batch/warm.py), before OMP_NUM_THREADS is set —
    so they are resized here. Thread counts change no result: OpenCV's and the calibrator's
    outputs are computed per pixel / per row (measured identical, docs/speed.md session 30e)."""
    os.environ.setdefault("GOUJI_THREADS", str(threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from .ocr import ort_threads
    n = ort_threads({"threads": threads})       # the one reading of GOUJI_THREADS
    try:
        import cv2
        cv2.setNumThreads(n)
    except ImportError:
        pass
    if not openmp:
        return
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n, user_api="openmp")    # stays set (not used as a context)
    except Exception:       # threadpoolctl comes with scikit-learn; without either, nothing to size
        pass


def _worker_main(conn, func, address_space_mb: float, threads: int = 0, parent_pid: int = 0,
                 openmp: bool = False) -> None:
    """Worker loop: receive a job, run func, send the outcome; exit on None or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's business
    if parent_pid:
        die_with_parent(parent_pid)
    if threads:
        share_cores(threads, openmp)
    if address_space_mb:
        lim = int(address_space_mb * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            out = func(job)
        except MemoryError:
            out = failure("memory_limit", "out of memory in worker (MemoryError)")
        except BaseException as e:  # the function should not raise; never lose the worker over it
            out = failure("worker_crash", f"internal error: {type(e).__name__}: {e}")
        try:
            conn.send(out)
        except (EOFError, OSError, BrokenPipeError):
            return


class _Worker:
    def __init__(self, ctx, func, limits: Limits):
        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        threads = max(1, (os.cpu_count() or 1) // max(1, limits.workers)) if limits.workers else 0
        self.proc = ctx.Process(target=_worker_main, args=(child, func, limits.address_space_mb, threads, os.getpid(),
                                                          limits.limit_openmp),
                                daemon=True)
        self.proc.start()
        child.close()
        self.job = None
        self.started = 0.0
        self.peak = 0.0
        self.done = 0

    def kill(self) -> None:
        try:
            self.proc.kill()
        except Exception:
            pass
        self.proc.join(5)
        self.conn.close()


class LocalPool:
    """N long-lived worker processes with per-document time and memory guards."""

    def __init__(self, workers: int, limits: Limits, start_method: str = "forkserver",
                 max_docs_per_worker: int = 0, preload: tuple[str, ...] = (f"{__package__}.batch",)):
        import multiprocessing as mp
        self.n = max(1, int(workers))
        self.limits = dataclasses.replace(limits, workers=self.n)
        self.max_docs = max_docs_per_worker
        if start_method not in mp.get_all_start_methods():
            start_method = "spawn"
        self.ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            self.ctx.set_forkserver_preload(list(preload))
        self.stats = EngineStats(workers=self.n)

    def run(self, jobs: Iterable[Any], func: Callable, on_done: Callable[[Any, dict], None]) -> EngineStats:
        self._func = func
        queue = list(jobs)[::-1]
        workers = [_Worker(self.ctx, func, self.limits) for _ in range(min(self.n, max(1, len(queue))))]
        try:
            while queue or any(w.job is not None for w in workers):
                for i, w in enumerate(workers):
                    if w.job is None and queue:
                        if self.max_docs and w.done >= self.max_docs:
                            w.conn.send(None)
                            w.proc.join(5)
                            w.kill()
                            workers[i] = w = _Worker(self.ctx, func, self.limits)
                        w.job = queue.pop()
                        w.started = time.monotonic()
                        try:
                            w.conn.send(w.job)
                        except (BrokenPipeError, OSError):
                            pass  # found dead below
                busy = [w for w in workers if w.job is not None]
                ready = mp_wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=self.limits.poll_s)
                total = 0.0
                for i, w in enumerate(workers):
                    if w.job is None:
                        continue
                    out = None
                    if w.conn in ready or w.proc.sentinel in ready:
                        try:
                            if w.conn.poll():
                                out = w.conn.recv()
                        except (EOFError, OSError):
                            out = None
                        if out is None and not w.proc.is_alive():
                            code = w.proc.exitcode
                            why = (f"killed by signal {signal.Signals(-code).name}" if code and code < 0
                                   else f"exit code {code}")
                            hint = " (likely out of memory)" if code == -signal.SIGKILL else ""
                            out = failure("worker_crash", f"worker process died while reading this document: "
                                                          f"{why}{hint}")
                            workers[i] = self._replace(w)
                    if out is None:
                        rss = rss_mb(w.proc.pid)
                        w.peak = max(w.peak, rss)
                        total += rss
                        elapsed = time.monotonic() - w.started
                        if self.limits.time_s and elapsed > self.limits.time_s:
                            out = failure("time_limit", f"time limit exceeded: more than {self.limits.time_s:g} s "
                                                        f"(worker stopped)")
                            workers[i] = self._replace(w)
                        elif self.limits.memory_mb and rss > self.limits.memory_mb:
                            out = failure("memory_limit", f"memory limit exceeded: worker used {rss:.0f} MB "
                                                          f"> {self.limits.memory_mb:g} MB (worker stopped)")
                            workers[i] = self._replace(w)
                    if out is not None:
                        job, w.job = w.job, None
                        w.done += 1
                        self.stats.peak_worker_rss_mb = max(self.stats.peak_worker_rss_mb, w.peak,
                                                            float(out.get("maxrss_mb") or 0.0))
                        on_done(job, out)
                self.stats.peak_total_rss_mb = max(self.stats.peak_total_rss_mb, total)
        finally:
            for w in workers:
                try:
                    w.conn.send(None)
                except Exception:
                    pass
            for w in workers:
                w.proc.join(2)
                if w.proc.is_alive():
                    w.kill()
        return self.stats

    def _replace(self, w: _Worker) -> _Worker:
        self.stats.peak_worker_rss_mb = max(self.stats.peak_worker_rss_mb, w.peak)
        w.kill()
        self.stats.restarts += 1
        return _Worker(self.ctx, self._func, self.limits)


# ----------------------------------------------------------------------------- Ray

def _watchdog(limits: "Limits", stop: threading.Event) -> None:
    """In-task guard for Ray: end this worker process past the time or memory limit."""
    t0 = time.monotonic()
    while not stop.wait(limits.poll_s):
        rss = rss_mb()
        if limits.memory_mb and rss > limits.memory_mb:
            why = f"memory limit exceeded ({rss:.0f} MB > {limits.memory_mb:g} MB)"
        elif limits.time_s and time.monotonic() - t0 > limits.time_s:
            why = f"time limit exceeded ({limits.time_s:g} s)"
        else:
            continue
        os.write(2, f"gouji: {why}; stopping this worker\n".encode())
        os._exit(137)


def ray_task(func: Callable, job: Any, data: bytes | None, suffix: str, limits: "Limits") -> dict:
    """Body of a Ray task: materialise the input bytes locally, run func under the watchdog."""
    stop = threading.Event()
    threading.Thread(target=_watchdog, args=(limits, stop), daemon=True).start()
    t0 = time.monotonic()
    tmp = None
    try:
        if data is not None:
            tmp = tempfile.mkdtemp(prefix="gouji-ray-")
            p = Path(tmp) / f"input{suffix}"
            p.write_bytes(data)
            job.read_path = str(p)
        out = func(job)
        if isinstance(out, dict):
            out["task_s"] = round(time.monotonic() - t0, 3)
        return out
    finally:
        stop.set()
        if tmp:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


class RayEngine:
    """Run the per-document function as Ray tasks on a local instance or a cluster."""

    def __init__(self, workers: int | None, limits: Limits, address: str | None = None,
                 start_slack_s: float = 30.0, inflight_per_cpu: float = 1.0):
        self.workers = workers
        self.limits = limits
        self.address = address
        self.slack = start_slack_s
        self.per_cpu = inflight_per_cpu
        self.stats = EngineStats()

    def _init(self):
        import ray
        if ray.is_initialized():
            return ray, False
        root = str(Path(__file__).resolve().parent.parent)
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}}
        if self.address:
            ray.init(address=self.address, runtime_env=env, log_to_driver=True)
        else:
            ray.init(num_cpus=self.workers or os.cpu_count(), include_dashboard=False, runtime_env=env,
                     log_to_driver=True)
        return ray, True

    def run(self, jobs: Iterable[Any], func: Callable, on_done: Callable[[Any, dict], None],
            read_input: Callable[[Any], tuple[bytes | None, str]]) -> EngineStats:
        ray, started = self._init()
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            cap = max(1, int(cpus * self.per_cpu)) if self.address or not self.workers else self.workers
            self.stats.workers = cap
            self.stats.extra["cluster_cpus"] = cpus
            task = ray.remote(max_retries=0, num_cpus=1)(ray_task)
            queue = list(jobs)[::-1]
            pending: dict = {}
            while queue or pending:
                while queue and len(pending) < cap:
                    job = queue.pop()
                    try:
                        data, suffix = read_input(job)
                    except OSError as e:   # gone, unreadable or hung since the batch looked at it
                        on_done(job, failure("unreadable", f"cannot read file: {e.strerror or e}"))
                        continue
                    ref = task.remote(func, job, data, suffix, self.limits)
                    pending[ref] = (job, time.monotonic())
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.limits.poll_s)
                for ref in ready:
                    job, t = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except Exception as e:  # RayTaskError, WorkerCrashedError, OutOfMemoryError …
                        name = type(e).__name__
                        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
                        if self.limits.time_s and time.monotonic() - t >= self.limits.time_s:
                            out = failure("time_limit", f"time limit exceeded: more than {self.limits.time_s:g} s "
                                                        f"(Ray worker stopped)")
                        elif "OutOfMemory" in name:
                            out = failure("memory_limit", f"memory limit exceeded on Ray worker ({name}: {msg})")
                        elif "WorkerCrashed" in name or "ActorDied" in name or "died" in msg.lower():
                            out = failure("worker_crash", f"Ray worker died while reading this document: over the "
                                                          f"memory limit ({self.limits.memory_mb:g} MB) or a crash "
                                                          f"({name})")
                        else:
                            out = failure("worker_crash", f"Ray task failed: {name}: {msg}")
                    on_done(job, out)
                now = time.monotonic()
                for ref, (job, t) in list(pending.items()):
                    if self.limits.time_s and now - t > self.limits.time_s + self.slack:
                        ray.cancel(ref, force=True)
                        pending.pop(ref)
                        on_done(job, failure("time_limit", f"time limit exceeded: more than "
                                                           f"{self.limits.time_s:g} s (Ray task cancelled)"))
        finally:
            if started:
                ray.shutdown()
        return self.stats
