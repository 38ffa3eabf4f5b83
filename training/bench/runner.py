"""The bench driver: one worker process per system group and split, one at a time, with
a deadline (--stop-at); the records scored and written as they come."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from .corpus import (CONFIG, PDF_SPLITS, ROOT, SCANS, corpus_items, load_config, load_truth, pdf_pages, seed_items,
                     split_file)
from .metrics import score_split
from .report import not_measured, versions, write_markdown, write_plot
from .scans import scans_section
from .sections import flattened_by_extractors, joined_rows, office_kinds
from .system_gouji import run_gouji, summarise_grid
from .system_img2table import run_img2table
from .system_number_stream import run_number_stream
from .system_ppocr import run_ppocr

GOUJI = ("gouji", "gouji_no_solver", "gouji_fuzzy")
RUN_ORDER = ("text", "seeds", "digital", "scan_light", "scan_heavy")   # cheapest first


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's peak
    over fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


GROUPS = {"gouji": run_gouji, "img2table": run_img2table, "ppocr": run_ppocr, "number_stream": run_number_stream}


def worker_main(job_path: str, out_path: str) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    with open(out_path, "w", encoding="utf-8") as fh:
        def emit(rec):
            rec["split"] = job["split"]
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
        extra = GROUPS[job["group"]](job, emit) or 0.0
        fh.write(json.dumps({"peak_rss_mb": max(peak_mb(), float(extra))}) + "\n")
    return 0


def groups_for(split: str, systems: list[str]) -> dict[str, list[str]]:
    """Which worker groups produce which systems on a split."""
    g: dict[str, list[str]] = {}
    for s in systems:
        if s in GOUJI:
            g.setdefault("gouji", []).append(s)
        elif s == "img2table":
            g.setdefault("img2table", []).append(s)
        elif s == "ppocr_naive" or (s == "number_stream" and split in SCANS):
            g.setdefault("ppocr", []).append(s)
        elif s == "number_stream":
            g.setdefault("number_stream", []).append(s)
    return g


GROUP_TIMES: list[dict] = []   # wall and CPU seconds of each worker process (for the report)


class Stopped(Exception):
    """The run reached --stop-at (or was interrupted) while a worker was running."""


def run_group(group: str, split: str, systems: list[str], items: list[dict], cfg: dict,
              tmp: Path, deadline: float | None = None) -> tuple[list, float | None, list]:
    """One worker process for a system group on a split → (records, peak MB, grid_eval records).
    deadline (time.time()): the worker is stopped there and Stopped is raised."""
    job = {"group": group, "split": split, "systems": systems, "items": items, "config": cfg, "tmp": str(tmp)}
    jp, op = tmp / f"job_{group}_{split}.json", tmp / f"rec_{group}_{split}.jsonl"
    jp.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    limit = float(cfg.get("seconds_per_document_limit", 900)) * max(1, len(items))
    proc = subprocess.Popen([sys.executable, "-m", "training.bench", "--worker", str(jp), str(op)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait = limit if deadline is None else max(1.0, min(limit, deadline - time.time()))
    try:
        _, err = proc.communicate(timeout=wait)
        why = f"worker exited {proc.returncode}: {(err or '').strip()[-300:]}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)              # the worker and what it started (Tesseract, peers venv)
        proc.communicate()
        if wait < limit:
            raise Stopped(f"{split}/{group} stopped at --stop-at")
        why = f"worker stopped after {limit:.0f} s (seconds_per_document_limit)"
    except BaseException:                   # Ctrl-C / SIGTERM: the worker's session goes too
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise
    recs, evals, peak = [], [], None
    if op.exists():
        for line in op.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if "peak_rss_mb" in r:
                peak = r["peak_rss_mb"]
            elif r.get("kind") == "grid_eval":
                evals.append(r)
            else:
                recs.append(r)
    done = {(r["system"], r["doc"]) for r in recs}
    for s in systems:
        for it in items:
            if (s, it["doc"]) not in done:
                recs.append({"system": s, "split": split, "doc": it["doc"], "pages": it["pages"], "seconds": None,
                             "cells": {}, "grid": [], "status": "failed",
                             "error": why})
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - t0
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    GROUP_TIMES.append({"split": split, "group": group, "docs": len(items), "wall_s": round(wall, 1),
                        "cpu_s": round(cpu, 1)})
    print(f"bench: {split:<10} {group:<13} {len(items)} docs in {wall:6.1f}s wall, {cpu:6.1f}s CPU"
          f" (peak {peak or 0:.0f} MB)", file=sys.stderr, flush=True)
    return recs, peak, evals


def ensure_peers(cfg: dict, needed: set[str], install: bool = True) -> list[str]:
    """Install what is missing (scripts/install_peers.sh); returns peers still unavailable."""
    def missing():
        m = []
        if "img2table" in needed and (not shutil.which("tesseract") or not (ROOT / cfg["peers"]["img2table"]["python"]).exists()):
            m.append("img2table")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            m.append("matplotlib")
        return m
    if install and missing():
        print("bench: installing peers (scripts/install_peers.sh) ...", file=sys.stderr, flush=True)
        subprocess.run(["bash", str(ROOT / "scripts" / "install_peers.sh")], cwd=ROOT, check=False)
    return missing()


def stop_time(hhmm: str, now: float | None = None) -> float:
    """The next UTC HH:MM (today, or tomorrow if already past) as time.time() seconds."""
    now = time.time() if now is None else now
    h, m = (int(x) for x in hhmm.split(":"))
    d = datetime.fromtimestamp(now, timezone.utc).replace(hour=h, minute=m, second=0, microsecond=0)
    t = d.timestamp()
    return t if t > now else t + 86400


def _raise_stopped(signum, frame):
    raise Stopped("terminated (SIGTERM)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.bench",
                                 description="Benchmarks side by side with peers, on the same documents in the same run.")
    ap.add_argument("--mode", choices=["quick", "full"], default="quick")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default from configs/bench.yaml)")
    ap.add_argument("--docs", type=int, default=None, help="test documents per split (default from the mode)")
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--splits", default=None, help="comma-separated subset of splits (and/or 'seeds')")
    ap.add_argument("--render", type=Path, metavar="JSON", help="only rewrite the .md and .png next to a benchmarks.json")
    ap.add_argument("--stop-at", metavar="HH:MM", help="UTC time to stop at; the splits done by then are written "
                    "(marked PARTIAL), the one running is dropped")
    ap.add_argument("--no-install", action="store_true", help="do not install missing peers (they are reported)")
    ap.add_argument("--scan-docs", type=int, default=None, help="test documents for the scans section (cells "
                    "right/wrong/missing, held-out styles apart; default from the mode, at most --docs; 0: none)")
    ap.add_argument("--worker", nargs=2, metavar=("JOB", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker_main(*a.worker)
    if a.render:
        report = json.loads(a.render.read_text(encoding="utf-8"))
        write_plot(report, a.render.with_suffix(".png"))
        write_markdown(report, a.render.with_suffix(".md"))
        return 0
    cfg = load_config(a.config)
    mode = cfg["modes"][a.mode]
    n_docs = int(a.docs if a.docs is not None else mode["docs"])
    scan_docs = min(n_docs, int(a.scan_docs if a.scan_docs is not None else mode.get("scan_docs", n_docs)))
    out = ROOT / (a.out or mode["out"]) if not (a.out and a.out.is_absolute()) else a.out
    out.mkdir(parents=True, exist_ok=True)
    splits = list(cfg["splits"]) + (["seeds"] if mode.get("seeds") else [])
    if a.splits:
        splits = [s for s in a.splits.split(",") if s]
    needed = {s for sp in splits for s in cfg["runs"].get(sp, [])}
    notes = []
    t_phase = time.perf_counter()
    unavailable = ensure_peers(cfg, needed, install=not a.no_install)
    if "img2table" in unavailable:
        notes.append("img2table + Tesseract could not be installed here: not measured.")
    print(f"bench: peers ready in {time.perf_counter() - t_phase:.0f}s", file=sys.stderr, flush=True)
    t_phase = time.perf_counter()
    items = corpus_items(cfg, n_docs) if any(s != "seeds" for s in splits) else []
    print(f"bench: {len(items)} test documents ready in {time.perf_counter() - t_phase:.0f}s", file=sys.stderr, flush=True)
    tmp = ROOT / "out" / "bench-tmp" / str(os.getpid())   # one folder per run: runs never share job files
    tmp.mkdir(parents=True, exist_ok=True)
    results, all_recs, grid_evals = {}, {}, {}
    t_start = time.perf_counter()
    cmd = "python -m training.bench --mode " + a.mode + (f" --docs {a.docs}" if a.docs is not None else "") + \
        (f" --splits {a.splits}" if a.splits else "") + (f" --out {a.out}" if a.out else "") + \
        (f" --scan-docs {a.scan_docs}" if a.scan_docs is not None else "")

    def report_now(done: list[str]) -> dict:
        partial = [s for s in splits if s not in done]
        run_notes = notes + [
            "img2table and PP-OCR-naive cells are keyed by gouji's own classify stage (trained mapper when "
            "shipped), without the solver: only table recovery and OCR differ from 'gouji without the solver'.",
            f"img2table runs with its defaults (psm 11, min_confidence 50, ruled tables only) and "
            f"{int(cfg['peers']['img2table'].get('threads', 1))} Tesseract process(es) at a time, detect_rotation "
            "on scans and the PDF text layer on digital PDFs; its boxes are in its own rotation-fixed frame.",
            "gouji's boxes are mapped back through the skew and quarter turns it applied, so grid F1 and key "
            "checks compare with the printed cells in the source page's frame.",
            "The number stream reads the flattened text, the PDF text layer (digital) or the PP-OCR-naive "
            "lines (scans; its seconds include that OCR).",
            "auto@99.5 picks the best threshold on this very set (an upper bound for a threshold fixed in advance).",
            *[f"{sp}: {s} {why.strip().rstrip('.')} (configs/bench.yaml `skipped`)."
              for sp, d in (cfg.get("skipped") or {}).items() if sp in splits
              for s, why in d.items() if "no page image" not in why],
            f"Bench wall time {time.perf_counter() - t_start:.0f} s; CPU shared with other jobs, load average at "
            f"the end {os.getloadavg()[0]:.1f}.",
        ] + ([f"PARTIAL: the run is still going or was stopped; not done yet: {', '.join(partial)}."]
             if partial else [])
        return {
            "format": "gouji.bench/1", "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": a.mode, "command": cmd, "n_docs": n_docs, "splits": splits, "splits_done": list(done),
            "machine": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
                       f"{platform.system()} {platform.release()}",
            "systems": {s: n for s, n in cfg["systems"].items() if s not in unavailable},
            "docs": {"test": [it["doc"] for it in items], "seeds": [it["doc"] for it in seed_items(cfg)]},
            "versions": vers, "notes": run_notes, "unavailable": unavailable,
            "not_measured": not_measured(cfg, splits, unavailable),
            "results": {s: results[s] for s in splits if s in results},
            "grid_eval": {s: grid_evals[s] for s in splits if s in grid_evals}, "group_times": GROUP_TIMES,
            "json": str(out / "benchmarks.json"), "plot": str(out / "benchmarks.png"),
        }

    vers = versions(cfg)
    done: list[str] = []
    deadline = stop_time(a.stop_at) if a.stop_at else None
    prev_term = signal.signal(signal.SIGTERM, _raise_stopped)
    # cheap splits first: if a long run has to be stopped, what is done is already written
    for split in sorted(splits, key=lambda s: RUN_ORDER.index(s) if s in RUN_ORDER else len(RUN_ORDER)):
        if deadline is not None and time.time() >= deadline:
            print(f"bench: --stop-at reached before {split}", file=sys.stderr, flush=True)
            break
        systems = [s for s in cfg["runs"].get(split, []) if s not in unavailable]
        if split == "seeds":
            its = [dict(it, pages=1) for it in seed_items(cfg)]
        else:
            its = []
            for it in items:
                p = Path(it["dir"]) / split_file(it["doc"], split)
                t = json.loads((Path(it["dir"]) / f"{it['doc']}.truth.json").read_text(encoding="utf-8"))
                pages = pdf_pages(p) if split in PDF_SPLITS else len(t["rendering"]["pages"])
                its.append(dict(it, path=str(p), pages=pages))
        truths = {it["doc"]: load_truth(cfg, split, it) for it in its}
        recs, peak, evs = [], {}, {}
        try:
            for group, syss in groups_for(split, systems).items():
                r, pk, ev = run_group(group, split, syss, its, cfg, tmp, deadline)
                recs += r
                for s in syss:
                    peak[s] = pk
                if ev:
                    evs = summarise_grid(ev, pk)
        except (Stopped, KeyboardInterrupt) as e:
            print(f"bench: {e or 'interrupted'}; writing the splits done so far", file=sys.stderr, flush=True)
            break
        if evs:
            grid_evals[split] = evs
        results[split] = score_split(recs, truths, cfg["metrics"], peak)
        all_recs[split] = recs
        done.append(split)
        print(f"bench: {split} done, {time.perf_counter() - t_start:.0f}s since the first split", file=sys.stderr,
              flush=True)
        if len(done) < len(splits):
            report = report_now(done)
            (out / "benchmarks.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
            write_markdown(report, out / "benchmarks.md")
    signal.signal(signal.SIGTERM, prev_term)
    report = report_now(done)
    if "text" in done:   # the same documents flattened by real tools, and joined as crawlers keep them
        report["flattened"] = flattened_by_extractors(items)
        report["joined"] = joined_rows(items)
        report["office"] = office_kinds(len(items))     # and as Word documents and web pages
    scans_done = [s for s in SCANS if s in done]
    if scans_done and scan_docs > 0:   # whole pipeline on the scans, held-out styles apart
        if deadline is not None and time.time() >= deadline:
            report["notes"].append("scans section not run: --stop-at reached.")
        else:
            report["scans"] = scans_section(items[:scan_docs], scans_done, results)
    if not write_plot(report, out / "benchmarks.png"):
        report["notes"].append("matplotlib missing: no plot.")
    (out / "benchmarks.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    write_markdown(report, out / "benchmarks.md")
    print(f"bench: wrote {out / 'benchmarks.md'}, {out / 'benchmarks.json'}, {out / 'benchmarks.png'}", file=sys.stderr)
    print((out / "benchmarks.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
