"""Speed and memory on scans: CPU per stage and page kind, pages/min at 1 and 2 workers.

    python -m training.bench_batch                       # scan splits of datasets/samples
    python -m training.bench_batch --data datasets/generated/test --limit 20 --long 60
    python -m training.bench_batch --workers 1 2 4 --engine local --doc docs/speed.md

Three parts, one run, so a later change is compared in one command (`make bench-batch`):

1. Profile (one process, documents one after the other): CPU seconds (process_time,
   onnxruntime's threads included) per stage of every page (pipeline/cost.py), split by
   page kind (table, text, blank), the document stages, and cell accuracy against each
   document's *.truth.json (training/eval_extract.same) per split.
2. Throughput: the scan files through the same run_batch the CLI uses, from scratch, at
   each worker count: pages/min, wall s/page, peak RSS per worker (largest resident set
   seen by the pool's poller or the worker's own ru_maxrss). Model loading in every
   worker is part of the time.
3. Memory on a long scan (`--long N`): N sample scan pages (and two blank pages)
   concatenated into one PDF under OUT, through run_batch with one worker.

CPU seconds are the primary figure: the machines are shared, so wall time depends on
what else runs (the load average before and after is recorded). Writes OUT/bench_batch.json
and, with --doc, a Markdown page (docs/speed.md).
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPLITS = {"scan_light": ("*.scan_light.pdf",), "scan_heavy": ("*.scan_heavy.pdf",),
          "scan_image": ("*.scan_heavy.p*.png", "*.scan_heavy.p*.jpg")}   # the corpus writes both


def scan_files(data: Path, limit: int = 0, splits: list[str] | None = None,
               match: str = "") -> dict[str, list[Path]]:
    """Files of each scan split (`splits`: these only) that have a truth file beside them.

    A page image (`NAME.scan_heavy.pN.png`) is one page of its document: its accuracy is
    counted against the whole document's truth (the samples' one image page reads ~5 %).
    The generated corpora put every page of the heavy scan beside it as an image, so there
    `--splits scan_light scan_heavy` measures the documents as the PDFs hold them."""
    out = {}
    for split, patterns in SPLITS.items():
        if splits and split not in splits:
            continue
        files = [f for f in sorted(g for pattern in patterns for g in data.glob(pattern))
                 if (f.parent / f"{f.name.split('.')[0]}.truth.json").exists()
                 and (not match or fnmatch.fnmatch(f.name, match))]
        if files:
            out[split] = files[:limit] if limit else files
    return out


def corpus_hint(data: Path) -> str:
    """How to build a generated corpus folder that is absent (`make bench-batch` reads the
    scan splits of datasets/generated/s26scans/test: the first 16 test reports of
    configs/synth.yaml's seed, light and heavy scans)."""
    split = data.name if data.name in ("train", "val", "test") else ""
    if not split or data.exists():
        return ""
    return (f"; build it with: python -m training.synth.build --split {split} --n 16 "
            f"--renderings scan_light,scan_heavy --out {data.parent}  (a few minutes on 2 cores)")


def _commit() -> str:
    try:
        c = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no",
                                "pipeline", "configs", "models"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return c + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def apply_settings(pairs: list[str]) -> dict:
    """`--set grid.skew.method=search digits.route.enabled=true`: configs/ocr.yaml values
    changed in this process (part 1 only: pool workers read the file), so each routing or
    size choice is measured on the same documents with one command (docs/speed.md)."""
    import yaml
    from pipeline.pdf import config
    done = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set wants KEY=VALUE, got {pair!r}")
        node = config()
        *parents, last = key.split(".")
        for k in parents:
            if not isinstance(node.get(k), dict):
                raise SystemExit(f"--set {key}: no section {k!r} in configs/ocr.yaml")
            node = node[k]
        if last not in node:
            raise SystemExit(f"--set {key}: no setting {last!r} in configs/ocr.yaml")
        node[last] = done[key] = yaml.safe_load(raw)
    return done


def profile(splits: dict[str, list[Path]]) -> dict:
    """Part 1: every scan document in this process; CPU per stage, page kind, accuracy."""
    from pipeline import cost
    from pipeline.batch import Job, outcome_from_document
    from pipeline.engines import rss_mb
    from pipeline.ocr import get_engine
    from pipeline.run import Settings, extract
    from training.eval_extract import same
    settings = Settings()
    c0 = time.process_time()
    get_engine(settings.ocr_engine)                   # models load once per worker: apart
    from pipeline.score import warm_calibrator
    warm_calibrator()                                 # as batch/warm.py does in the forkserver
    load_s = time.process_time() - c0
    pages, docs, acc = [], [], {}
    for split, files in splits.items():
        right = total = titles = 0
        for f in files:
            c, t = time.process_time(), time.perf_counter()
            doc = extract(f, settings)
            job = Job(path=str(f), read_path=str(f), suffix=f.suffix.lower(), name=f.stem, sha256="",
                      key="", settings=settings)
            cp = time.process_time()
            out = outcome_from_document(doc, job)
            cost.add(doc, "pictures", time.process_time() - cp)
            cpu, wall = time.process_time() - c, time.perf_counter() - t
            truth = json.loads((f.parent / f"{f.name.split('.')[0]}.truth.json").read_text(encoding="utf-8"))
            cells = out["result"]["cells"]
            ok = sum(1 for k, v in truth["cells"].items() if k in cells and same(cells[k]["value"], v["value"]))
            right, total = right + ok, total + len(truth["cells"])
            titles += (out["result"]["agency"], out["result"]["year"]) == (truth["agency"], truth["year"])
            docs.append({"file": f.name, "split": split, "pages": len(doc.pages), "cpu_s": round(cpu, 3),
                         "wall_s": round(wall, 3), "right": ok, "cells": len(truth["cells"]),
                         "doc_cpu": {s: round(doc.timings.get(f"cpu_{s}", 0.0), 4) for s in cost.DOC_STAGES},
                         "rss_mb": round(rss_mb(), 1)})
            for p in doc.pages:
                pages.append({"file": f.name, "split": split, "page": p.number, "kind": p.cost.kind or "none",
                              "crops": p.cost.crops, "routed": p.cost.routed, "templated": p.cost.templated,
                              "inputs": p.cost.strips + p.cost.alone,
                              "orientation": p.cost.orientation, "skew": getattr(p, "skew", 0.0),
                              "cpu": {k: round(v, 4) for k, v in p.cost.cpu.items()},
                              "wall": {k: round(v, 4) for k, v in p.cost.wall.items()},
                              "doc_wall_per_page": round(wall / max(1, len(doc.pages)), 4)})
            print(f"  {f.name}: {ok}/{len(truth['cells'])} cells right, {cpu:.1f} CPU s, "
                  f"{len(doc.pages)} pages", file=sys.stderr)
        acc[split] = {"right": right, "cells": total, "accuracy": round(right / max(1, total), 4),
                      "titles_right": titles, "documents": len(files)}
    return {"model_load_cpu_s": round(load_s, 2), "pages": pages, "documents": docs, "accuracy": acc,
            "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def long_scan(files: list[Path], n: int, dst: Path) -> Path:
    """A report of `n` pages cut from the sample scans, with two blank pages inside."""
    import pypdfium2 as pdfium
    out = pdfium.PdfDocument.new()
    srcs = [pdfium.PdfDocument(str(f)) for f in files if f.suffix.lower() == ".pdf"]
    k = 0
    while len(out) < n:
        if len(out) in (n // 3, 2 * n // 3):
            out.new_page(595, 842)                         # blank A4
            continue
        src = srcs[k % len(srcs)]
        out.import_pages(src, [(k // len(srcs)) % len(src)])
        k += 1
    dst.parent.mkdir(parents=True, exist_ok=True)
    out.save(str(dst))
    for s in srcs:
        s.close()
    return dst


def page_walls(out: Path) -> list[float]:
    """Each page's share of its document's wall time in a run_batch output folder (the
    worker's wall s of the document / its pages, once per page): the median of these is the
    median wall time per page of the run (issue #15's done-when)."""
    per = []
    for f in sorted(out.glob("*.json")):
        try:
            b = json.loads(f.read_text(encoding="utf-8")).get("batch") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(b, dict) and b.get("pages") and b.get("wall_s"):
            per += [b["wall_s"] / b["pages"]] * int(b["pages"])
    return per


def median_or_none(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


def throughput(files: list[Path], workers: int, out: Path, engine: str, time_limit: float) -> dict:
    """Part 2/3: the files through run_batch from scratch."""
    from pipeline.batch import run_batch
    shutil.rmtree(out, ignore_errors=True)
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    s = run_batch(files, out, workers=workers, engine=engine, time_limit=time_limit, force=True, progress=False)
    wall = time.perf_counter() - t
    d = s.data
    mem = d.get("memory", {})
    print(f"  workers {workers}: {s.line()}", file=sys.stderr)
    return {"engine": engine, "workers": workers, "documents": s.documents, "pages": s.pages,
            "wall_s": round(wall, 2), "engine_wall_s": round(s.wall_s, 2),
            "pages_per_min": round(s.pages / s.wall_s * 60, 1) if s.wall_s else None,
            "s_per_page": round(s.wall_s / s.pages, 3) if s.pages else None,
            "median_page_wall_s": median_or_none(page_walls(out)),
            "peak_worker_rss_mb": mem.get("peak_worker_rss_mb"),
            "peak_total_rss_mb": mem.get("peak_total_workers_rss_mb"), "counts": s.counts,
            "per_doc_s": d["timings"]["per_doc_s"],
            "load_avg_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)]}


def stage_table(pages: list[dict], docs: list[dict]) -> tuple[list[str], list[str]]:
    """Markdown rows: mean CPU s per page by stage and page kind; document stages per page."""
    from pipeline.cost import DOC_STAGES, PAGE_STAGES
    by = defaultdict(list)
    for p in pages:
        by[p["kind"]].append(p)
        by["all pages"].append(p)
    head = ["| page kind | pages | PP-OCR crops/page | PP-OCR inputs/page (row strips + crops alone) | "
            "digit-only crops/page | label-model crops/page | " + " | ".join(PAGE_STAGES)
            + " | page total |", "|---|---|---|---|---|---|" + "---|" * (len(PAGE_STAGES) + 1)]
    rows = []
    for kind in ("table", "text", "blank", "all pages"):
        ps = by.get(kind)
        if not ps:
            continue
        mean = {s: sum(p["cpu"].get(s, 0.0) for p in ps) / len(ps) for s in PAGE_STAGES}
        rows.append(f"| {kind} | {len(ps)} | {sum(p['crops'] for p in ps) / len(ps):.0f} | "
                    f"{sum(p.get('inputs', p['crops']) for p in ps) / len(ps):.0f} | "
                    f"{sum(p.get('routed', 0) for p in ps) / len(ps):.0f} | "
                    f"{sum(p.get('templated', 0) for p in ps) / len(ps):.0f} | "
                    + " | ".join(f"{mean[s]:.3f}" for s in PAGE_STAGES) + f" | **{sum(mean.values()):.3f}** |")
    n = max(1, len(pages))
    doc = {s: sum(d["doc_cpu"].get(s, 0.0) for d in docs) / n for s in DOC_STAGES}
    drows = ["| " + " | ".join(DOC_STAGES) + " | total |", "|" + "---|" * (len(DOC_STAGES) + 1),
             "| " + " | ".join(f"{doc[s]:.3f}" for s in DOC_STAGES) + f" | **{sum(doc.values()):.3f}** |"]
    return head + rows, drows


def wall_line(pages: list[dict]) -> str:
    """Median wall seconds per page in the profile (one process): the page stages alone, and
    the page's share of its document's wall time (document stages included), by page kind."""
    parts = []
    for kind in ("table", "text", "blank"):
        ps = [p for p in pages if p["kind"] == kind]
        if ps:
            parts.append(f"{kind} {median_or_none([sum(p.get('wall', {}).values()) for p in ps])} s "
                         f"({len(ps)} pages)")
    shares = [p["doc_wall_per_page"] for p in pages if "doc_wall_per_page" in p]
    return ("Median wall s per page, page stages (one process): " + "; ".join(parts)
            + f"; median over pages of document wall / pages: {median_or_none(shares)} s.")


def orientation_line(pages: list[dict]) -> str:
    """How the table pages' orientation was decided (pipeline/orient.py)."""
    how = defaultdict(int)
    for p in pages:
        if p["kind"] == "table":
            how[p.get("orientation") or "?"] += 1
    n = sum(how.values())
    return (f"Orientation of the {n} table pages: decided from the ruling lines (nothing read) on "
            f"{how.get('rules', 0)}, label crops read on {how.get('read', 0)}"
            + "".join(f", {k} {v}" for k, v in sorted(how.items()) if k not in ("rules", "read")) + ".")


def routing_line(pages: list[dict]) -> str:
    """Per split, on table pages: the share of line crops the digit model read alone
    (digit-first routing, pipeline/digits.py) and the recogniser's CPU s per table page."""
    by = defaultdict(list)
    for p in pages:
        if p["kind"] == "table":
            by[p["split"]].append(p)
    parts = []
    for split, ps in sorted(by.items()):
        routed, ppocr = sum(p.get("routed", 0) for p in ps), sum(p["crops"] for p in ps)
        rec = sum(p["cpu"].get("recognise", 0.0) for p in ps) / len(ps)
        parts.append(f"{split} {routed}/{routed + ppocr} = {100 * routed / max(1, routed + ppocr):.1f} % routed, "
                     f"recognise {rec:.2f} CPU s per table page ({len(ps)} pages)")
    return "Crops read by the digit model alone (table pages): " + ("; ".join(parts) or "none") + "."


def load_note(info: dict) -> str:
    """How far the wall times can be trusted: the load average against the CPUs."""
    loads = [info["load_start"][0], info["load_end"][0]] + [x for r in info.get("runs", [])
                                                            for x in r["load_avg_before_after"]]
    hi, cpus = max(loads), info["cpus"] or 1
    if hi > 0.5 * cpus:
        return (f"*Wall times on a loaded machine: load average up to {hi:.1f} on {cpus} CPUs while this ran "
                f"(other work shared the cores), so pages/min and s/page here are not the speed of a quiet "
                f"machine; compare CPU seconds.*")
    return f"Load average at most {hi:.1f} on {cpus} CPUs while this ran."


def markdown(info: dict) -> str:
    prof = info.get("profile")
    lines = [f"## Run of {info['when']} (commit {info['commit']})", "",
             f"Data: `{info['data']}` ({', '.join(f'{k} {len(v)}' for k, v in info['files'].items())} files); "
             f"{info['cpus']} CPUs; load average (1 min) at start {info['load_start']}, at end {info['load_end']}"
             + (f"; settings changed for the profile: `{info['settings']}`" if info.get("settings") else "") + ".", ""]
    if prof:
        pages, docs = prof["pages"], prof["documents"]
        cpu = sum(d["cpu_s"] for d in docs)
        head, drows = stage_table(pages, docs)
        lines += ["**CPU seconds per page, by stage and page kind** (one process, documents one after the "
                  f"other; model loading {prof['model_load_cpu_s']} CPU s apart; all stages together "
                  f"{cpu / max(1, len(pages)):.2f} CPU s/page, median document "
                  f"{statistics.median(d['cpu_s'] / max(1, d['pages']) for d in docs):.2f} CPU s/page; "
                  f"peak RSS of the process {prof['maxrss_mb']:.0f} MB):", "", *head, "",
                  wall_line(pages), "",
                  orientation_line(pages), "", routing_line(pages), "",
                  "Document stages, CPU s per page (`pictures`: page pictures and the result JSON):", "", *drows, "",
                  "**Cell accuracy** (result value = truth value, per split; agency and year right): "
                  + ", ".join(f"{k} {v['right']}/{v['cells']} = {v['accuracy']:.4f} "
                              f"({v['titles_right']}/{v['documents']})" for k, v in prof["accuracy"].items()), ""]
    if info.get("runs"):
        lines += ["**Throughput** (`run_batch`, fresh output, model loading included; median s/page: each "
                  "page's share of its document's wall time in the worker, median over pages):", "",
                  "| input | workers | docs | pages | wall s | pages/min | s/page | median s/page | peak RSS/worker MB | "
                  "peak RSS all workers MB | load before → after |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in info["runs"]:
            lines.append(f"| {r['input']} | {r['workers']} | {r['documents']} | {r['pages']} | {r['engine_wall_s']} | "
                         f"{r['pages_per_min']} | {r['s_per_page']} | {r.get('median_page_wall_s')} | "
                         f"{r['peak_worker_rss_mb']} | "
                         f"{r['peak_total_rss_mb']} | {r['load_avg_before_after'][0]} → "
                         f"{r['load_avg_before_after'][1]} |")
        lines += ["", load_note(info), ""]
    return "\n".join(lines)


def write_doc(doc: Path, section: str) -> None:
    """Put the run's section under the generated marker of the page (older runs stay below)."""
    marker = "<!-- bench-batch runs: newest first (written by python -m training.bench_batch) -->"
    text = doc.read_text(encoding="utf-8") if doc.exists() else f"# Speed and memory on scans\n\n{marker}\n"
    if marker not in text:
        text = text.rstrip() + f"\n\n{marker}\n"
    head, tail = text.split(marker, 1)
    doc.write_text(f"{head}{marker}\n\n{section}\n{tail.lstrip()}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.bench_batch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "datasets" / "samples")
    ap.add_argument("--limit", type=int, default=0, help="at most this many files per scan split")
    ap.add_argument("--match", default="", help="only files whose name matches this glob (e.g. 'test_0000[07].*')")
    ap.add_argument("--splits", nargs="*", default=None, choices=list(SPLITS),
                    help="only these scan splits (generated corpora: scan_light scan_heavy, see scan_files)")
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--engine", choices=["local", "ray"], default="local")
    ap.add_argument("--no-profile", action="store_true", help="skip part 1")
    ap.add_argument("--threads", type=int, default=1,
                    help="onnxruntime threads in part 1 (1: what each of 2 workers on 2 cores gets)")
    ap.add_argument("--long", type=int, default=60, help="pages of the long scan (0: skip part 3)")
    ap.add_argument("--out", type=Path, default=ROOT / "datasets" / "generated" / "bench_batch")
    ap.add_argument("--doc", type=Path, default=None, help="also write the tables into this Markdown page")
    ap.add_argument("--time-limit", type=float, default=1200.0)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="change configs/ocr.yaml settings for part 1 (e.g. digits.route.enabled=false)")
    a = ap.parse_args(argv)
    changed = apply_settings(a.set)
    splits = scan_files(a.data, a.limit, a.splits, a.match)
    if not splits:
        print(f"no scan files with truth under {a.data}{corpus_hint(a.data)}", file=sys.stderr)
        return 2
    files = [f for fs in splits.values() for f in fs]
    info = {"data": str(a.data), "files": {k: [f.name for f in v] for k, v in splits.items()},
            "commit": _commit(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "machine": platform.machine(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_start": [round(x, 2) for x in os.getloadavg()], "runs": [], "settings": changed}
    if not a.no_profile:
        print(f"profile ({a.threads} onnxruntime threads):", file=sys.stderr)
        from pipeline.engines import share_cores
        env = {k: os.environ.get(k) for k in ("GOUJI_THREADS", "OMP_NUM_THREADS")}
        os.environ["GOUJI_THREADS"] = str(a.threads)   # as a worker of a pool of cores/threads
        from pipeline.templates import config as load_config
        share_cores(a.threads, bool(load_config("batch.yaml").get("limit_openmp", False)))   # as a worker
        info["profile"] = profile(splits)
        info["profile"]["threads"] = a.threads
        for k, v in env.items():                       # the pools' workers set their own share
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    for w in a.workers:
        print(f"throughput, {w} workers:", file=sys.stderr)
        r = throughput(files, w, a.out / f"{a.engine}-w{w}", a.engine, a.time_limit)
        info["runs"].append({"input": "scan splits", **r})
    if a.long:
        print(f"long scan, {a.long} pages, 1 worker:", file=sys.stderr)
        pdf = long_scan(files, a.long, a.out / f"long_scan_{a.long}p.pdf")
        r = throughput([pdf], 1, a.out / "long-w1", a.engine, a.time_limit)
        info["runs"].append({"input": f"long scan ({a.long} pages)", **r})
    info["load_end"] = [round(x, 2) for x in os.getloadavg()]
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "bench_batch.json").write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")
    section = markdown(info)
    print(section)
    if a.doc:
        write_doc(a.doc, section)
    print(f"details in {a.out / 'bench_batch.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
