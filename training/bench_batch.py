"""Batch throughput benchmark: pages per minute and peak memory with 1, 2 … workers.

    python -m training.bench_batch                       # datasets/samples, 1 and 2 workers
    python -m training.bench_batch --data DIR --workers 1 2 4 --engine local

Each setting runs the whole folder from scratch (fresh output folder, --force), through
the same run_batch the CLI uses, so model loading in every worker is part of the time.
Peak memory is per worker (largest resident set seen by the pool's poller or reported by
the worker's own ru_maxrss) and the largest sum over all workers at one moment. Writes
OUT/bench_batch.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.bench_batch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "datasets" / "samples")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--engine", choices=["local", "ray"], default="local")
    ap.add_argument("--out", type=Path, default=ROOT / "datasets" / "generated" / "bench_batch")
    ap.add_argument("--time-limit", type=float, default=600.0)
    a = ap.parse_args(argv)
    from pipeline.batch import run_batch

    rows = []
    for w in a.workers:
        out = a.out / f"{a.engine}-w{w}"
        shutil.rmtree(out, ignore_errors=True)
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        s = run_batch([a.data], out, workers=w, engine=a.engine, time_limit=a.time_limit, force=True,
                      progress=False)
        wall = time.perf_counter() - t
        d = s.data
        mem = d.get("memory", {})
        rows.append({"engine": a.engine, "workers": w, "documents": s.documents, "read": s.processed,
                     "pages": s.pages, "wall_s": round(wall, 2), "engine_wall_s": round(s.wall_s, 2),
                     "pages_per_min": round(s.pages / s.wall_s * 60, 1) if s.wall_s else None,
                     "docs_per_min": round(s.processed / s.wall_s * 60, 1) if s.wall_s else None,
                     "peak_worker_rss_mb": mem.get("peak_worker_rss_mb"),
                     "peak_total_rss_mb": mem.get("peak_total_workers_rss_mb"),
                     "parent_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                     "counts": s.counts, "per_doc_s": d["timings"]["per_doc_s"],
                     "load_avg_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)]})
        print(f"workers {w}: {s.line()}", file=sys.stderr)
    info = {"data": str(a.data), "cpus": os.cpu_count(), "python": platform.python_version(),
            "machine": platform.machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "runs": rows}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "bench_batch.json").write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"| engine | workers | documents | pages | wall s | pages/min | docs/min | peak RSS/worker MB | "
          f"peak RSS all workers MB |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {r['workers']} | {r['documents']} | {r['pages']} | {r['engine_wall_s']} | "
              f"{r['pages_per_min']} | {r['docs_per_min']} | {r['peak_worker_rss_mb']} | {r['peak_total_rss_mb']} |")
    print("\nload average (1 min) before/after each run: "
          + ", ".join(f"{r['workers']} workers {r['load_avg_before_after']}" for r in rows))
    print(f"\n{info['cpus']} CPUs, data {a.data}; details in {a.out / 'bench_batch.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
