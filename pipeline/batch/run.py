"""A batch run: take the lock, find and identify the inputs, plan (done, duplicate, refused,
job), run the jobs on an engine, then write the combined outputs (summary.finish)."""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from .. import __version__
from ..fsname import printable
from ..inputs import DEADLINE_S, find_inputs, read_bytes
from ..outdir import Manifest, OutDir, UsageError, lock, make_folder
from ..resources import PACKAGE
from ..run import Settings
from .artifacts import ResultWriter
from .discover import Entry, assign_names, failed_result, identify, load_json, result_abs
from .fingerprint import fingerprint
from .options import BatchOptions, config
from .summary import RunFacts, Summary, finish
from .worker import Job, process_document


def run_batch(paths, out: Path, options: BatchOptions | None = None, **overrides) -> Summary:
    """Extract every document under `paths` into `out`; resumable, parallel, guarded.

    `options` (or its fields as keywords: ``run_batch(paths, out, workers=2)``) say how.
    Returns a Summary (counts by document status; `line()` for the CLI). Never raises for
    a bad document; raises UsageError (one line for the user) for a bad output folder,
    a busy one, an input inside OUT, negative limits or an engine that is not installed.
    """
    opts = dataclasses.replace(options or BatchOptions(), **overrides)
    if opts.settings is None:
        opts.settings = Settings()
    out = Path(out)
    check_request(paths, out, opts)
    make_folder(out)
    t_start = time.time()
    state_dir = out / config().get("outputs", {}).get("state_dir", ".gouji")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to the output folder {printable(str(out))}: {e.strerror or e}")
    held = lock(state_dir / "lock")
    try:
        return _run_locked(paths, out, opts, state_dir, t_start)
    finally:
        held.close()


def check_request(paths, out: Path, opts: BatchOptions) -> None:
    """Refuse, before anything is written, a run that cannot do what was asked."""
    if (opts.time_limit is not None and opts.time_limit < 0) or \
            (opts.memory_limit_mb is not None and opts.memory_limit_mb < 0):
        raise UsageError("time and memory limits cannot be negative (0 turns a guard off)")
    if opts.engine not in ("local", "ray"):
        raise UsageError(f"unknown engine {opts.engine!r} (local | ray)")
    if opts.engine == "ray":
        import importlib.util
        if importlib.util.find_spec("ray") is None:
            raise UsageError("--engine ray needs Ray, which is not installed: pip install -e \".[ray]\" "
                             "(or leave out --engine for the local process pool)")
    rout = out.resolve()
    for p in map(Path, paths):
        rp = p.resolve()
        if p.is_dir() and (rp == rout or rout in rp.parents):
            raise UsageError(f"the output folder {printable(str(out))} is the input folder {printable(str(p))} or "
                             f"holds it, so every input would be left out: use another --out")


@dataclasses.dataclass
class _Plan:
    """What the run does with each entry: jobs to read, duplicates waiting for their primary."""
    jobs: list[Job] = dataclasses.field(default_factory=list)
    job_entry: dict[str, Entry] = dataclasses.field(default_factory=dict)
    dups: dict[str, list[Entry]] = dataclasses.field(default_factory=dict)
    already: int = 0


def ordered(jobs: list[Job], entry_of: dict[str, Entry], order: str) -> list[Job]:
    """The jobs in the order workers take them. `largest_first`: biggest files first (a stable
    sort on bytes): a long document started last keeps one worker busy while the others idle, so
    a batch's tail is shortest when the small ones come last. `input`: as found."""
    if order == "largest_first":
        return sorted(jobs, key=lambda j: -max(0, entry_of[j.name].size))
    if order != "input":
        raise ValueError(f"configs/batch.yaml order: {order!r} (largest_first | input)")
    return list(jobs)


def _plan(entries: list[Entry], out: Path, opts: BatchOptions, writer: ResultWriter, manifest: Manifest,
          cfg: dict) -> _Plan:
    """Refused and unreadable inputs get their failed result now; results whose key matches
    are done; identical content waits for (or copies) its primary; the rest are jobs."""
    plan = _Plan()
    force = opts.force
    first_by_key: dict[str, Entry] = {}
    tcfg = cfg.get("thumbnails", {})
    for e in entries:
        if e.unreadable or e.state == "not_document":
            reason = e.unreadable or e.redirected
            kind = "unreadable" if e.unreadable and not e.unreadable.startswith(("file too large", "not a")) \
                else "refused"
            prev = load_json(out / f"{e.name}.json") if not force else None
            if prev and result_abs(prev) == e.abs and prev.get("errors") == [reason] \
                    and kind != "unreadable":
                plan.already += 1
                e.state, e.result_file = "done", out / f"{e.name}.json"
                continue
            writer.commit(e, failed_result(e, reason, kind), {"failure": kind})
            e.state = "failed_here"
            continue
        f = out / f"{e.name}.json"
        if not force:
            rec = manifest.by_path.get(e.abs)
            r = None
            if rec and rec.get("key") == e.key and rec.get("name") == e.name and not rec.get("retry") \
                    and f.exists():
                r = {"batch": {"key": e.key, "duplicate_of": rec.get("duplicate_of")}}
            elif f.exists():
                r = load_json(f)
                b = (r or {}).get("batch") or {}
                if not (b.get("key") == e.key and result_abs(r) == e.abs and not b.get("retry")):
                    r = None
                else:           # committed, but a kill took its manifest line: written now
                    writer.record(e, r)
            if r is not None:
                e.state, e.result_file = "done", f
                plan.already += 1
                e.dup_of = r["batch"].get("duplicate_of")
                if not e.dup_of:
                    first_by_key.setdefault(e.key, e)
                continue
        if e.key in first_by_key:
            e.state, e.primary = "duplicate", first_by_key[e.key]
            plan.dups.setdefault(e.key, []).append(e)
            continue
        prev = manifest.by_key.get(e.key) if not force else None
        if prev and prev["abs"] != e.abs and (out / f"{prev['name']}.json").exists():
            r = load_json(out / f"{prev['name']}.json") or {}
            if (r.get("batch") or {}).get("key") == e.key:
                e.state = "duplicate"
                writer.duplicate(e, out / f"{prev['name']}.json", prev["path"])
                if e.state == "duplicate":
                    continue
        first_by_key[e.key] = e
        e.state = "job"
        plan.jobs.append(Job(path=str(e.path), read_path=str(e.path), suffix=e.suffix, name=e.name,
                             sha256=e.sha256, key=e.key, settings=opts.settings,
                             thumb_pages=int(tcfg.get("max_pages", 8)), thumb_width=int(tcfg.get("width", 1000)),
                             redirected=e.redirected))
        plan.job_entry[e.name] = e
    # duplicates of documents already done before this run
    for k, lst in list(plan.dups.items()):
        prim = first_by_key[k]
        if prim.state == "done":
            for d in lst:
                writer.duplicate(d, prim.result_file, str(prim.path))
            plan.dups.pop(k)
    return plan


def _run_locked(paths, out: Path, opts: BatchOptions, state_dir: Path, t_start: float) -> Summary:
    from tqdm import tqdm
    cfg = config()
    names_cfg = cfg.get("outputs", {})
    report_dir = out / names_cfg.get("report_dir", "report_files")
    manifest = Manifest(state_dir / "manifest.jsonl")
    outdir = OutDir(out, state_dir, manifest)
    skipped: list[dict] = []
    deadline_s = float(cfg.get("read_deadline_s", DEADLINE_S))
    inputs = find_inputs(list(paths), exclude=[out], skipped=skipped, deadline_s=deadline_s)
    fp, fp_parts = fingerprint(opts.settings)
    max_bytes = int(float(cfg.get("max_file_mb", 512)) * 2**20)
    time_limit = float(opts.time_limit if opts.time_limit is not None else cfg.get("time_limit_s", 600))
    mem = float(cfg.get("memory_limit_mb", 4096) if opts.memory_limit_mb is None else opts.memory_limit_mb)
    engine, workers, progress = opts.engine, opts.workers, opts.progress

    entries = []
    scan = tqdm(inputs, desc="scan", unit="file", disable=not progress or len(inputs) < 200, leave=False)
    for p in scan:
        ap = str(p.resolve()) if p.exists() else str(p.absolute())
        e = Entry(p, ap)
        identify(e, manifest, max_bytes, deadline_s)
        e.key = f"{e.sha256}-{fp}" if e.sha256 else ""
        entries.append(e)
    reserved = {v for k, v in names_cfg.items() if isinstance(v, str)}
    assign_names(entries, manifest, out, reserved)

    meta = {"fingerprint": fp, "gouji": __version__, "settings": fp_parts["settings"],
            "models": fp_parts["models"], "packages": fp_parts["packages"], "configs": fp_parts["configs"]}
    writer = ResultWriter(out, outdir, report_dir, meta, set(cfg.get("retry_reasons", [])))
    plan = _plan(entries, out, opts, writer, manifest, cfg)
    jobs = ordered(plan.jobs, plan.job_entry, cfg.get("order", "input"))

    n_workers = int(workers or os.cpu_count() or 1)
    if progress:
        print(f"gouji: {len(entries)} documents: {len(jobs)} to read, {plan.already} already done, "
              f"{sum(1 for e in entries if e.state == 'duplicate')} duplicates, "
              f"{sum(1 for e in entries if e.state == 'failed_here')} unreadable or refused"
              + (f"; {len(skipped)} skipped (not documents, not regular files, unreadable folders)" if skipped else "")
              + f" — engine {engine}, {n_workers if engine == 'local' else (workers or 'all')} workers",
              file=sys.stderr)

    bar = tqdm(total=len(jobs), desc="extract", unit="doc", disable=not progress, dynamic_ncols=True,
               smoothing=0.1)
    counts = {"pages": 0, "failed": 0}
    t_run = time.perf_counter()
    doc_times: list[float] = []

    def on_done(job: Job, outcome: dict) -> None:
        e = plan.job_entry[job.name]
        if "failure" in outcome:
            result = failed_result(e, outcome["reason"], outcome["failure"])
            writer.commit(e, result, {"failure": outcome["failure"], "pages": None, "wall_s": None})
        else:
            result = outcome["result"]
            extra = {"pages": outcome.get("pages"), "wall_s": outcome.get("wall_s"),
                     "worker": {"pid": outcome.get("pid"), "maxrss_mb": outcome.get("maxrss_mb")}}
            if job.redirected:
                extra["redirected"] = job.redirected
            writer.commit(e, result, extra, outcome)
            counts["pages"] += int(outcome.get("pages") or 0)
            if outcome.get("wall_s"):
                doc_times.append(outcome["wall_s"])
        if result.get("status") == "failed":
            counts["failed"] += 1
        for d in plan.dups.pop(e.key, []):
            writer.duplicate(d, e.result_file, str(e.path))
        el = time.perf_counter() - t_run
        bar.set_postfix(pages=counts["pages"], pages_min=f"{counts['pages'] / el * 60:.0f}" if el > 0 else "-",
                        failed=counts["failed"], refresh=False)
        bar.update(1)

    from ..engines import Limits, LocalPool, RayEngine
    limits = Limits(time_s=time_limit, memory_mb=mem, poll_s=float(cfg.get("poll_s", 0.2)),
                    address_space_mb=float(cfg.get("address_space_limit_mb", 0) or 0),
                    limit_openmp=bool(cfg.get("limit_openmp", False)))
    func = opts.func or process_document
    estats = None
    try:
        if jobs:
            if engine == "ray":
                rcfg = cfg.get("ray", {})
                eng = RayEngine(workers, limits, address=opts.address,
                                start_slack_s=float(rcfg.get("start_slack_s", 30)),
                                inflight_per_cpu=float(rcfg.get("inflight_per_cpu", 1)))

                def read_input(job: Job):   # the driver sends the bytes: read them under the deadline
                    return read_bytes(Path(job.path), max_bytes, deadline_s), job.suffix
                estats = eng.run(jobs, func, on_done, read_input)
            elif engine == "local":
                pool = LocalPool(n_workers, limits, start_method=cfg.get("start_method", "forkserver"),
                                 max_docs_per_worker=int(cfg.get("max_docs_per_worker", 0) or 0),
                                 preload=tuple(f"{PACKAGE}.{m}" for m in ("batch", "batch.warm", "read", "classify")))
                estats = pool.run(jobs, func, on_done)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ngouji: interrupted after {bar.n} of {len(jobs)} documents; every finished result is "
              f"saved — run the same command again to go on", file=sys.stderr)
        raise SystemExit(130)
    finally:
        bar.close()
        manifest.close()
    wall = time.perf_counter() - t_run
    facts = RunFacts(settings=opts.settings, fingerprint=fp, engine=engine,
                     workers=n_workers if engine == "local" else workers, entries=entries, skipped=skipped,
                     estats=estats, wall=wall, pages=counts["pages"], doc_times=doc_times, already=plan.already,
                     t_start=t_start)
    try:
        return finish(out, outdir, report_dir, facts)
    finally:
        manifest.close()


def refresh_tables(out: Path) -> list[str]:
    """Rewrite the combined tables, summary and report from the results already in OUT
    (reviewed values included), extracting nothing: what `gouji review` runs when it stops.
    Settings and fingerprint are the last run's. Returns the files written (relative)."""
    names_cfg = config().get("outputs", {})
    out = Path(out)
    state_dir = out / names_cfg.get("state_dir", ".gouji")
    if not (state_dir / "manifest.jsonl").exists():
        raise UsageError(f"{printable(str(out))} is not a gouji output folder")
    held = lock(state_dir / "lock")
    try:
        prev = load_json(out / names_cfg.get("summary", "run_summary.json")) or {}
        known = {f.name for f in dataclasses.fields(Settings)}
        settings = Settings(**{k: v for k, v in (prev.get("settings") or {}).items() if k in known})
        outdir = OutDir(out, state_dir, Manifest(state_dir / "manifest.jsonl"))
        try:
            facts = RunFacts(settings=settings, fingerprint=prev.get("fingerprint") or fingerprint(settings)[0],
                             engine=prev.get("engine", "local"), workers=prev.get("workers"),
                             skipped=prev.get("skipped") or [], t_start=time.time())
            s = finish(out, outdir, out / names_cfg.get("report_dir", "report_files"), facts)
        finally:
            outdir.manifest.close()
        return sorted(set((s.data.get("outputs") or {}).values()))
    finally:
        held.close()
