"""Run many documents: find inputs, extract each in parallel, write results, resume.

Design (docs/batch.md has the long version):
* A job's key is sha256(content) + a fingerprint of everything that changes a result
  (gouji version, Settings, configs, model files, recogniser package versions). A result
  whose recorded key matches is done; a re-run skips it, a changed model redoes it.
* The parent is the only writer: workers return outcomes, the parent writes page pictures,
  then the result JSON (atomic rename = the commit point), then a manifest line. A kill -9
  at any moment loses at most the documents in flight and never leaves half a file.
* Output names are OUT/<stem>.json; a stem already owned by another input (this run or an
  earlier one, per the manifest or the file's recorded path) gets <stem>-<hash of path>.
* Identical content under two names is read once; the second file gets its own result,
  a copy marked ``batch.duplicate_of`` (and a warning). Combined tables count it once.
* Files the batch itself cannot take (unreadable, too large, not a document, not a regular
  file) get a failed result (explicit inputs) or a line under "skipped" in the run summary
  (things met while walking a folder); inputs.py never lets a file hang the run.
* Every other file in OUT is written through outdir.OutDir: only where the manifest says
  gouji wrote it, else under a new name with a warning. The combined tables, the summary
  and the report cover every result the manifest lists, not only this run's inputs.
* A file name that is not UTF-8 is kept exact (fsname.py): printable in what is written,
  its bytes as hex beside it in the result and the manifest.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .export import FORMAT, to_result
from .fsname import from_record, hex_field, is_text, json_safe, printable, readable
from .inputs import (DEADLINE_S, KIND_OF_SUFFIX, NotRegularFile, effective_suffix, find_inputs,  # noqa: F401
                     file_sha256, probe, read_bytes, sniff)
from .model import Document, Source
from .outdir import Manifest, OutDir, UsageError, lock, make_folder  # noqa: F401  (UsageError: for callers)
from .run import Settings, extract
from .templates import CONFIGS
from .resources import MODELS

_PACKAGES = ("rapidocr", "onnxruntime", "scikit-learn", "opencv-python-headless", "pypdfium2", "scipy")


@functools.lru_cache(maxsize=1)
def config() -> dict:
    import yaml
    return yaml.safe_load((CONFIGS / "batch.yaml").read_text(encoding="utf-8")) or {}


# ----------------------------------------------------------------------------- fingerprint

def _settings_dict(settings) -> dict:
    if dataclasses.is_dataclass(settings):
        return dataclasses.asdict(settings)
    return dict(vars(settings))


def fingerprint(settings: Settings) -> tuple[str, dict]:
    """Hash of everything besides the input bytes that changes a result, and its parts."""
    from importlib import metadata
    models = {}
    if MODELS.is_dir():
        for p in sorted(MODELS.rglob("*")):
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in (".md", ".txt"):
                models[str(p.relative_to(MODELS))] = file_sha256(p)[:16]
    cfg = hashlib.sha256()
    for p in sorted(CONFIGS.rglob("*")):
        if p.is_file() and p.name != "batch.yaml":
            cfg.update(str(p.relative_to(CONFIGS)).encode() + b"\0" + p.read_bytes() + b"\0")
    pkgs = {}
    for name in _PACKAGES:
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    parts = {"gouji": __version__, "format": FORMAT, "settings": _settings_dict(settings),
             "configs": cfg.hexdigest()[:16], "models": models, "packages": pkgs}
    fp = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return fp, parts


# ----------------------------------------------------------------------------- per document

@dataclass
class Job:
    """One document for a worker: everything the per-document function needs, picklable."""
    path: str                 # as given by the user (recorded in the result)
    read_path: str            # what the reader opens (a link with the right suffix, or Ray's copy)
    suffix: str               # the suffix the reader should see
    name: str
    sha256: str
    key: str
    settings: Any
    thumb_pages: int = 8
    thumb_width: int = 1000
    redirected: str | None = None   # "extension .txt but content is pdf"


def _page_artifacts(doc: Document, max_pages: int, width: int) -> tuple[dict, dict]:
    """Grid sidecar (tables, cells, page sizes) and PNG thumbnails of pages that matter."""
    keyed_pages = {f.page for f in doc.fields.values() if f.page is not None}
    table_pages = {t.page for t in doc.tables if t.page is not None}
    for t in doc.tables:
        table_pages.update(t.pages or [])
    want = sorted(keyed_pages | table_pages)[:max_pages]
    thumbs, pages = {}, []
    for pg in doc.pages:
        meta = {"number": pg.number, "width": pg.width, "height": pg.height, "unit": pg.unit}
        img = pg.image
        if img is not None and pg.number in want:
            try:
                import cv2
                import numpy as np
                a = np.asarray(img)
                if a.dtype != np.uint8:
                    a = np.clip(a, 0, 255).astype(np.uint8)
                h, w = a.shape[:2]
                if not meta["width"] or not meta["height"]:
                    meta.update(width=float(w), height=float(h), unit=pg.unit or "px")
                s = min(1.0, width / max(w, 1))
                if s < 1.0:
                    a = cv2.resize(a, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
                ok, buf = cv2.imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, 6])
                if ok:
                    thumbs[pg.number] = buf.tobytes()
                    meta["png_w"], meta["png_h"] = int(a.shape[1]), int(a.shape[0])
            except Exception as e:  # a picture is a nicety; never fail a document over it
                doc.warnings.append(f"no page picture for page {pg.number}: {type(e).__name__}: {e}")
        pages.append(meta)
    tables = []
    for t in doc.tables:
        tables.append({
            "page": t.page, "pages": list(t.pages), "title": t.title, "kind": t.kind, "template": t.template,
            "aligned": t.aligned, "bbox": list(t.bbox) if t.bbox else None,
            "n_rows": t.n_rows, "n_cols": t.n_cols,
            "cells": [{"r": c.row, "c": c.col, "rs": c.rowspan, "cs": c.colspan, "text": c.text, "key": c.key,
                       "page": c.page if c.page is not None else t.page,
                       "bbox": [round(float(x), 2) for x in c.bbox] if c.bbox else None,
                       "header": c.is_header} for c in t.cells]})
    return {"pages": pages, "tables": tables}, thumbs


def outcome_from_document(doc: Document, job: Job, t0: float | None = None) -> dict:
    """What a worker sends back for a document: result dict, grid sidecar, page PNGs."""
    import resource
    doc.source.path = job.path
    if job.sha256:
        doc.source.sha256 = job.sha256
    if job.redirected:
        doc.warnings.insert(0, job.redirected)
    if job.read_path != job.path:
        doc.errors = [e.replace(job.read_path, job.path) for e in doc.errors]
    sidecar, thumbs = _page_artifacts(doc, job.thumb_pages, job.thumb_width)
    result = to_result(doc)
    return {"result": result, "sidecar": sidecar, "thumbs": thumbs, "pages": len(doc.pages),
            "wall_s": round(time.perf_counter() - t0, 4) if t0 else None, "pid": os.getpid(),
            "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def process_document(job: Job) -> dict:
    """The per-document function every engine runs (in a worker process or a Ray task)."""
    t0 = time.perf_counter()
    tmp = None
    path = job.read_path
    # wrong extension, or a name that is not UTF-8 (some readers encode the path): show the
    # reader a link with the right suffix and a plain name
    if Path(path).suffix.lower() != job.suffix or not is_text(path):
        tmp = tempfile.mkdtemp(prefix="gouji-")
        stem = Path(job.path).stem if is_text(job.path) else "input"
        link = Path(tmp) / f"{stem or 'input'}{job.suffix}"
        try:
            link.symlink_to(Path(path).resolve())
        except OSError:
            shutil.copyfile(path, link)
        path = str(link)
    try:
        doc = extract(path, job.settings)
        job = dataclasses.replace(job, read_path=path)
        return outcome_from_document(doc, job, t0)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- bookkeeping

@dataclass
class Entry:
    path: Path
    abs: str
    size: int = -1
    mtime_ns: int = 0
    sha256: str = ""
    unreadable: str | None = None   # reason
    suffix: str | None = None
    redirected: str | None = None
    name: str = ""
    key: str = ""
    state: str = ""                 # done | job | duplicate | failed_here
    primary: "Entry | None" = None
    dup_of: str | None = None       # a result from an earlier run that is a duplicate
    result_file: Path | None = None


@dataclass
class Summary:
    """What a run did; `line()` is what the CLI prints."""
    counts: dict[str, int] = field(default_factory=dict)
    documents: int = 0
    processed: int = 0
    already_done: int = 0
    duplicates: int = 0
    skipped: list[dict] = field(default_factory=list)
    pages: int = 0
    wall_s: float = 0.0
    out: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    data: dict = field(default_factory=dict)

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "no documents"
        extra = [f"{self.processed} processed", f"{self.already_done} already done"]
        if self.duplicates:
            extra.append(f"{self.duplicates} duplicates")
        if self.skipped:
            extra.append(f"{len(self.skipped)} skipped (reasons in the run summary)")
        rate = f"{self.pages / self.wall_s * 60:.0f} pages/min" if self.wall_s > 0 and self.pages else ""
        tail = (f" · {self.pages} pages in {self.wall_s:.1f} s" + (f" ({rate})" if rate else "")) \
            if self.processed else ""
        where = f" · {self.outputs.get('summary', '')}, {self.outputs.get('report', '')}" if self.outputs else ""
        return f"done: {counts} ({', '.join(extra)}){tail}{where}"


def _load(path: Path) -> dict | None:
    """A JSON file in OUT, or None (missing, broken, or not a regular file: a FIFO would block)."""
    try:
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _identify(e: Entry, manifest: Manifest, max_bytes: int, deadline_s: float) -> None:
    """Size, hash (reused from the manifest when size and mtime match), real type.

    Only regular files are opened, each open and hash under a deadline (inputs.probe)."""
    prev = manifest.by_path.get(e.abs) or {}
    known = (prev.get("size"), prev.get("mtime_ns"), prev.get("sha256")) if prev else None
    try:
        info = probe(e.path, max_bytes, deadline_s, known)
    except NotRegularFile as ex:
        e.unreadable = str(ex)
        return
    except PermissionError:
        e.unreadable = "cannot read file: permission denied"
        return
    except FileNotFoundError:
        e.unreadable = "cannot read file: not found (dangling link or removed during the run)"
        return
    except OSError as ex:   # TimeoutError included: retried next run
        e.unreadable = f"cannot read file: {ex.strerror or ex}"
        return
    e.size, e.mtime_ns, e.sha256 = info.size, info.mtime_ns, info.sha256
    if info.too_large:
        e.unreadable = f"file too large: {e.size / 2**20:.0f} MB > {max_bytes / 2**20:.0f} MB (max_file_mb)"
        return
    kind = sniff(info.head)
    e.suffix = effective_suffix(e.path, kind)
    if e.suffix is None:
        e.unreadable = None
        e.state = "not_document"
        e.redirected = f"not a supported document: {e.path.suffix or 'no extension'} ({kind})"
    elif e.suffix != e.path.suffix.lower() and KIND_OF_SUFFIX.get(e.suffix) != KIND_OF_SUFFIX.get(
            e.path.suffix.lower()):
        e.redirected = f"extension {e.path.suffix or '(none)'} but content is {kind}: read as {kind}"


def _result_abs(r: dict | None) -> str | None:
    """The exact input path a result on disk was written for (None: not a gouji result)."""
    return from_record((r or {}).get("batch") or {}, "abs_path")


def _assign_names(entries: list[Entry], manifest: Manifest, out: Path, reserved: set[str]) -> None:
    """Deterministic, never-overwriting output names (see module docstring)."""
    taken: dict[str, str] = dict(manifest.names)
    for e in entries:                          # names this path already owns
        prev = manifest.by_path.get(e.abs)
        if prev and taken.get(prev["name"]) == e.abs:
            e.name = prev["name"]
    mine = {e.name for e in entries if e.name}
    for e in entries:
        if e.name:
            continue
        stem = readable(e.path.stem or e.path.name) or "document"
        cands = [stem, f"{stem}-{hashlib.sha1(os.fsencode(e.abs)).hexdigest()[:8]}"]
        cands += [f"{cands[1]}-{i}" for i in range(2, 1000)]
        for c in cands:
            if c in mine or f"{c}.json" in reserved:
                continue
            owner = taken.get(c)
            if owner is not None and owner != e.abs:
                continue
            if owner is None and (out / f"{c}.json").exists():
                if _result_abs(_load(out / f"{c}.json")) != e.abs:
                    continue  # a file we did not write for this input: never overwrite it
            e.name = c
            mine.add(c)
            break


def _failed_result(e: Entry, reason: str, kind: str) -> dict:
    doc = Document(Source(str(e.path), sha256=e.sha256)).fail(reason)
    r = to_result(doc)
    r["batch"] = {"failure": kind}
    return r


# ----------------------------------------------------------------------------- the run

def run_batch(paths, out: Path, settings: Settings | None = None, workers=None, engine="local",
              address=None, time_limit=600.0, force=False, progress=True, *,
              memory_limit_mb: float | None = None, func: Callable | None = None) -> Summary:
    """Extract every document under `paths` into `out`; resumable, parallel, guarded.

    Returns a Summary (counts by document status; `line()` for the CLI). Never raises for
    a bad document; raises UsageError (one line for the user) for a bad output folder,
    a busy one, an input inside OUT, negative limits or an engine that is not installed.
    """
    cfg = config()
    names_cfg = cfg.get("outputs", {})
    out = Path(out)
    _check_request(paths, out, engine, time_limit, memory_limit_mb)
    make_folder(out)
    settings = settings or Settings()
    t_start = time.time()
    state_dir = out / names_cfg.get("state_dir", ".gouji")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to the output folder {printable(str(out))}: {e.strerror or e}")
    held = lock(state_dir / "lock")
    try:
        return _run_locked(paths, out, settings, workers, engine, address, time_limit, force, progress,
                           memory_limit_mb, func, cfg, names_cfg, state_dir, t_start)
    finally:
        held.close()


def _check_request(paths, out: Path, engine: str, time_limit, memory_limit_mb) -> None:
    """Refuse, before anything is written, a run that cannot do what was asked."""
    if (time_limit is not None and time_limit < 0) or (memory_limit_mb is not None and memory_limit_mb < 0):
        raise UsageError("time and memory limits cannot be negative (0 turns a guard off)")
    if engine not in ("local", "ray"):
        raise UsageError(f"unknown engine {engine!r} (local | ray)")
    if engine == "ray":
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


def _run_locked(paths, out, settings, workers, engine, address, time_limit, force, progress, memory_limit_mb,
                func, cfg, names_cfg, state_dir, t_start) -> Summary:
    from tqdm import tqdm
    report_dir = out / names_cfg.get("report_dir", "report_files")
    manifest = Manifest(state_dir / "manifest.jsonl")
    outdir = OutDir(out, state_dir, manifest)
    skipped: list[dict] = []
    deadline_s = float(cfg.get("read_deadline_s", DEADLINE_S))
    inputs = find_inputs(list(paths), exclude=[out], skipped=skipped, deadline_s=deadline_s)
    fp, fp_parts = fingerprint(settings)
    retry_kinds = set(cfg.get("retry_reasons", []))
    max_bytes = int(float(cfg.get("max_file_mb", 512)) * 2**20)
    time_limit = float(time_limit if time_limit is not None else cfg.get("time_limit_s", 600))
    mem = float(cfg.get("memory_limit_mb", 4096) if memory_limit_mb is None else memory_limit_mb)

    entries = []
    scan = tqdm(inputs, desc="scan", unit="file", disable=not progress or len(inputs) < 200, leave=False)
    for p in scan:
        ap = str(p.resolve()) if p.exists() else str(p.absolute())
        e = Entry(p, ap)
        _identify(e, manifest, max_bytes, deadline_s)
        e.key = f"{e.sha256}-{fp}" if e.sha256 else ""
        entries.append(e)
    reserved = {v for k, v in names_cfg.items() if isinstance(v, str)}
    _assign_names(entries, manifest, out, reserved)

    batch_meta = {"fingerprint": fp, "gouji": __version__, "settings": fp_parts["settings"],
                  "models": fp_parts["models"], "packages": fp_parts["packages"], "configs": fp_parts["configs"]}

    def commit(e: Entry, result: dict, extra: dict, outcome: dict | None = None) -> None:
        """Write pictures, then the result (atomic: the commit point), then the manifest line."""
        rel = {}
        if outcome:
            for pg, png in sorted((outcome.get("thumbs") or {}).items()):
                f = outdir.write_bytes(report_dir / f"{e.name}.p{pg}.png", png)
                rel[str(pg)] = outdir.rel(f)
            side = outdir.write_json(report_dir / f"{e.name}.grid.json", outcome.get("sidecar") or {})
            extra = {**extra, "sidecar": outdir.rel(side), "thumbs": rel}
        b = {**(result.get("batch") or {}), "key": e.key, "name": e.name, "abs_path": e.abs,
             **hex_field("abs_path", e.abs), **hex_field("source_path", str(e.path)),
             "size": e.size, **batch_meta, **extra}
        kind = b.get("failure")
        b["retry"] = bool(kind in retry_kinds)
        result["batch"] = b
        if not is_text(e.abs) and not any("not UTF-8" in w for w in result.get("warnings", [])):
            gb = readable(e.path.name)
            result.setdefault("warnings", []).append(
                f"the file name is not UTF-8: shown as {printable(e.path.name)}"
                + (f" (as GB18030: {gb})" if gb != printable(e.path.name) else "")
                + "; batch.abs_path_hex holds its exact bytes")
        f = outdir.write_json(out / f"{e.name}.json", result, claim=False)
        e.result_file = f
        manifest.add({"abs": e.abs, "path": str(e.path), "name": e.name, "key": e.key, "sha256": e.sha256,
                      "size": e.size, "mtime_ns": e.mtime_ns, "status": result.get("status"),
                      "duplicate_of": b.get("duplicate_of"), "retry": b["retry"], "t": round(time.time(), 3)})

    def write_duplicate(e: Entry, primary_file: Path, primary_path: str) -> None:
        r = _load(primary_file)
        if r is None:
            e.state = "job"
            return
        r["source"]["path"] = str(e.path)
        r["warnings"] = [f"same content as {primary_path}: result copied, not read again"] + \
            [w for w in r.get("warnings", []) if not w.startswith("same content as ")]
        pb = r.get("batch") or {}
        commit(e, r, {"duplicate_of": primary_path, "duplicate_of_name": pb.get("name"),
                      "sidecar": pb.get("sidecar"), "thumbs": pb.get("thumbs", {}),
                      "pages": pb.get("pages"), "wall_s": 0.0})

    # plan
    first_by_key: dict[str, Entry] = {}
    jobs: list[Job] = []
    job_entry: dict[str, Entry] = {}
    dups: dict[str, list[Entry]] = {}
    already = 0
    for e in entries:
        if e.unreadable or e.state == "not_document":
            reason = e.unreadable or e.redirected
            kind = "unreadable" if e.unreadable and not e.unreadable.startswith(("file too large", "not a")) \
                else "refused"
            prev = _load(out / f"{e.name}.json") if not force else None
            if prev and _result_abs(prev) == e.abs and prev.get("errors") == [reason] \
                    and kind != "unreadable":
                already += 1
                e.state, e.result_file = "done", out / f"{e.name}.json"
                continue
            commit(e, _failed_result(e, reason, kind), {"failure": kind})
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
                r = _load(f)
                b = (r or {}).get("batch") or {}
                if not (b.get("key") == e.key and _result_abs(r) == e.abs and not b.get("retry")):
                    r = None
            if r is not None:
                e.state, e.result_file = "done", f
                already += 1
                e.dup_of = r["batch"].get("duplicate_of")
                if not e.dup_of:
                    first_by_key.setdefault(e.key, e)
                continue
        if e.key in first_by_key:
            e.state, e.primary = "duplicate", first_by_key[e.key]
            dups.setdefault(e.key, []).append(e)
            continue
        prev = manifest.by_key.get(e.key) if not force else None
        if prev and prev["abs"] != e.abs and (out / f"{prev['name']}.json").exists():
            r = _load(out / f"{prev['name']}.json") or {}
            if (r.get("batch") or {}).get("key") == e.key:
                e.state = "duplicate"
                write_duplicate(e, out / f"{prev['name']}.json", prev["path"])
                if e.state == "duplicate":
                    continue
        first_by_key[e.key] = e
        e.state = "job"
        tcfg = cfg.get("thumbnails", {})
        jobs.append(Job(path=str(e.path), read_path=str(e.path), suffix=e.suffix, name=e.name, sha256=e.sha256,
                        key=e.key, settings=settings, thumb_pages=int(tcfg.get("max_pages", 8)),
                        thumb_width=int(tcfg.get("width", 1000)), redirected=e.redirected))
        job_entry[e.name] = e
    # duplicates of documents already done before this run
    for k, lst in list(dups.items()):
        prim = first_by_key[k]
        if prim.state == "done":
            for d in lst:
                write_duplicate(d, prim.result_file, str(prim.path))
            dups.pop(k)

    n_workers = int(workers or os.cpu_count() or 1)
    if progress:
        print(f"gouji: {len(entries)} documents: {len(jobs)} to read, {already} already done, "
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
        e = job_entry[job.name]
        if "failure" in outcome:
            result = _failed_result(e, outcome["reason"], outcome["failure"])
            commit(e, result, {"failure": outcome["failure"], "pages": None, "wall_s": None})
        else:
            result = outcome["result"]
            extra = {"pages": outcome.get("pages"), "wall_s": outcome.get("wall_s"),
                     "worker": {"pid": outcome.get("pid"), "maxrss_mb": outcome.get("maxrss_mb")}}
            if job.redirected:
                extra["redirected"] = job.redirected
            commit(e, result, extra, outcome)
            counts["pages"] += int(outcome.get("pages") or 0)
            if outcome.get("wall_s"):
                doc_times.append(outcome["wall_s"])
        if result.get("status") == "failed":
            counts["failed"] += 1
        for d in dups.pop(e.key, []):
            write_duplicate(d, e.result_file, str(e.path))
        el = time.perf_counter() - t_run
        bar.set_postfix(pages=counts["pages"], pages_min=f"{counts['pages'] / el * 60:.0f}" if el > 0 else "-",
                        failed=counts["failed"], refresh=False)
        bar.update(1)

    from .engines import LocalPool, Limits, RayEngine
    limits = Limits(time_s=time_limit, memory_mb=mem, poll_s=float(cfg.get("poll_s", 0.2)),
                    address_space_mb=float(cfg.get("address_space_limit_mb", 0) or 0))
    func = func or process_document
    estats = None
    try:
        if jobs:
            if engine == "ray":
                rcfg = cfg.get("ray", {})
                eng = RayEngine(workers, limits, address=address, start_slack_s=float(rcfg.get("start_slack_s", 30)),
                                inflight_per_cpu=float(rcfg.get("inflight_per_cpu", 1)))

                def read_input(job: Job):   # the driver sends the bytes: read them under the deadline
                    return read_bytes(Path(job.path), max_bytes, deadline_s), job.suffix
                estats = eng.run(jobs, func, on_done, read_input)
            elif engine == "local":
                pool = LocalPool(n_workers, limits, start_method=cfg.get("start_method", "forkserver"),
                                 max_docs_per_worker=int(cfg.get("max_docs_per_worker", 0) or 0),
                                 preload=tuple(f"{__package__}.{m}" for m in ("batch", "read", "classify")))
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
    try:
        return _finish(entries, skipped, out, outdir, cfg, settings, fp, engine,
                       n_workers if engine == "local" else workers, estats, wall, counts["pages"], doc_times,
                       already, t_start, report_dir)
    finally:
        manifest.close()


# ----------------------------------------------------------------------------- combined outputs

def refresh_tables(out: Path) -> list[str]:
    """Rewrite the combined tables, summary and report from the results already in OUT
    (reviewed values included), extracting nothing: what `gouji review` runs when it stops.
    Settings and fingerprint are the last run's. Returns the files written (relative)."""
    cfg = config()
    names_cfg = cfg.get("outputs", {})
    out = Path(out)
    state_dir = out / names_cfg.get("state_dir", ".gouji")
    if not (state_dir / "manifest.jsonl").exists():
        raise UsageError(f"{printable(str(out))} is not a gouji output folder")
    held = lock(state_dir / "lock")
    try:
        prev = _load(out / names_cfg.get("summary", "run_summary.json")) or {}
        known = {f.name for f in dataclasses.fields(Settings)}
        settings = Settings(**{k: v for k, v in (prev.get("settings") or {}).items() if k in known})
        outdir = OutDir(out, state_dir, Manifest(state_dir / "manifest.jsonl"))
        try:
            s = _finish([], prev.get("skipped") or [], out, outdir, cfg, settings,
                        prev.get("fingerprint") or fingerprint(settings)[0], prev.get("engine", "local"),
                        prev.get("workers"), None, 0.0, 0, [], 0, time.time(),
                        out / names_cfg.get("report_dir", "report_files"))
        finally:
            outdir.manifest.close()
        return sorted(set((s.data.get("outputs") or {}).values()))
    finally:
        held.close()


def csv_cell(v):
    """A value as a CSV cell, safe to open in a spreadsheet (OWASP, CSV injection): text that
    starts with = + - @ or a tab / carriage return gets a leading single quote, so Excel shows
    it as text instead of running it as a formula. Numbers stay numbers."""
    if v is None:
        return ""
    if isinstance(v, str):
        v = printable(v)
        if v[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + v
    return v


def _write_table(outdir: OutDir, rows: list[dict], columns: list[str], csv_path: Path | None,
                 parquet_path: Path | None, types: dict | None = None) -> dict[str, Path]:
    """CSV (UTF-8 with BOM, so Excel shows Chinese; cells through csv_cell) and Parquet.

    Returns where each was written (outdir may pick another name; see outdir.py)."""
    import csv
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    written = {}
    if csv_path:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([csv_cell(c) for c in columns])
        for r in rows:
            w.writerow([csv_cell(r.get(k)) for k in columns])
        written["csv"] = outdir.write_bytes(csv_path, ("\ufeff" + buf.getvalue()).encode("utf-8"))
    if parquet_path:
        types = types or {}
        arrays = {}
        for c in columns:
            vals = [r.get(c) for r in rows]
            t = types.get(c)
            if t is None:
                arrays[c] = pa.array([None if v is None else printable(str(v)) for v in vals], pa.string())
            else:
                arrays[c] = pa.array(vals, t)
        table = pa.table(arrays) if columns else pa.table({})
        written["parquet"] = outdir.write(parquet_path, lambda tmp: pq.write_table(table, str(tmp)))
    return written


def _key_order(keys: set[str]) -> list[str]:
    order: list[str] = []
    try:
        from .templates import templates
        for t in templates().values():
            for k in t.keys(expected_only=False):
                if k in keys and k not in order:
                    order.append(k)
    except Exception:
        pass
    return order + sorted(keys - set(order))


def _num(v):
    """A cell value for the tables: int stays int (CSV shows 12, not 12.0), else float or None."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() and abs(f) < 2**53 and not isinstance(v, float) else f


def _review_cross_checks(review: list[dict], cross_rows: list[dict], by_name: dict[str, dict]) -> None:
    """Each cell of a cross-check that does not hold goes to the review queue (once), with
    the check in its `check` column: both documents' cells for a year-over-year one."""
    at = {(x["file"], x["key"]): x for x in review}
    for c in cross_rows:
        if c["holds"]:
            continue
        what = (f"{c['kind']}: {c['check']}: {c['source_a']} ({c['year_a']}) {c['keys_a']} = {c['value_a']}"
                f" ≠ {c['source_b']} ({c['year_b']}) {c['keys_b']} = {c['value_b']}"
                + (f" 「{c['sentence']}」" if c.get("sentence") else ""))
        sides = [(c["file_a"], c["keys_a"])] + ([(c["file_b"], c["keys_b"])] if c["kind"] == "cross_year" else [])
        for file, keys in sides:
            r = by_name.get(file[:-len(".json")]) or {}
            for key in keys.split(" + "):
                cell = (r.get("cells") or {}).get(key)
                if cell is None:
                    continue
                row = at.get((file, key))
                if row is None:
                    row = at[(file, key)] = {
                        "source": r["source"]["path"], "agency": r.get("agency"), "year": r.get("year"),
                        "template": r.get("template"), "key": key, "value": _num(cell.get("value")),
                        "confidence": cell.get("confidence"), "status": cell.get("status"), "page": cell.get("page"),
                        "doc_status": r.get("status"), "file": file, "text": cell.get("text", ""),
                        "alternatives": json.dumps(cell.get("alternatives", []), ensure_ascii=False)}
                    review.append(row)
                row["check"] = "; ".join(x for x in (row.get("check"), what) if x)


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))], 3)


def _listed_results(entries: list[Entry], manifest: Manifest, out: Path) -> tuple[list[tuple[str, dict]], list]:
    """Every result in OUT the manifest lists (this run's and earlier runs'), sorted by name,
    and a failure line for each input of this run that has none."""
    found: dict[str, dict] = {}
    wanted = [(rec["name"], rec["abs"]) for rec in manifest.by_path.values()]
    wanted += [(e.name, e.abs) for e in entries if e.name]
    for name, ap in wanted:
        if name not in found:
            r = _load(out / f"{name}.json")
            if r is not None and _result_abs(r) == ap:
                found[name] = r
    missing = [{"source": str(e.path), "reason": "no result written (run interrupted?)"}
               for e in entries if not e.name or e.name not in found]
    return sorted(found.items()), missing


def _finish(entries, skipped, out: Path, outdir: OutDir, cfg, settings, fp, engine, workers, estats, wall,
            pages_now, doc_times, already, t_start, report_dir) -> Summary:
    import pyarrow as pa
    names = cfg.get("outputs", {})
    thr = float(cfg.get("review_threshold", 0.9))
    long_rows, wide_rows, review, docs, dup_list = [], [], [], [], []
    all_keys: set[str] = set()
    stage: dict[str, float] = {}
    status_counts: dict[str, int] = {}
    results, failures = _listed_results(entries, outdir.manifest, out)
    from .review import apply_review, load_reviewed      # a reviewer's decisions: status "reviewed"
    results = [(name, apply_review(r, load_reviewed(out, name))) for name, r in results]
    for name, r in results:
        b = r.get("batch") or {}
        st = r.get("status", "failed")
        status_counts[st] = status_counts.get(st, 0) + 1
        cells = r.get("cells") or {}
        n_review = n_conflict = 0
        for k, c in cells.items():
            low = c.get("status") == "conflict" or (c.get("confidence") is not None and c["confidence"] < thr)
            n_conflict += c.get("status") == "conflict"
            n_review += bool(low)
            if b.get("duplicate_of"):
                continue  # same content counted once in the cell tables
            row = {"source": r["source"]["path"], "agency": r.get("agency"), "year": r.get("year"),
                   "template": r.get("template"), "key": k, "value": _num(c.get("value")),
                   "confidence": c.get("confidence"), "status": c.get("status"), "page": c.get("page"),
                   "doc_status": st, "file": f"{name}.json"}
            long_rows.append(row)
            if low:
                review.append({**row, "text": c.get("text", ""),
                               "alternatives": json.dumps(c.get("alternatives", []), ensure_ascii=False)})
        all_keys.update(cells)
        if st == "failed" or r.get("errors"):
            failures.append({"source": r["source"]["path"], "status": st, "reason": "; ".join(r.get("errors", []))})
        if not b.get("duplicate_of"):
            for k, v in (r.get("timings") or {}).items():
                stage[k] = stage.get(k, 0.0) + float(v or 0)
        if b.get("duplicate_of"):
            dup_list.append({"source": r["source"]["path"], "same_as": b["duplicate_of"]})
        wide = {"file": f"{name}.json", "source": r["source"]["path"], "sha256": r["source"].get("sha256"),
                "kind": r["source"].get("kind"), "agency": r.get("agency"), "year": r.get("year"),
                "template": r.get("template"), "status": st, "confidence": r.get("confidence"),
                "pages": b.get("pages"), "cells": len(cells), "review_cells": n_review, "conflicts": n_conflict,
                "duplicate_of": b.get("duplicate_of"), "reason": "; ".join(r.get("errors", [])) or None,
                **{f"v:{k}": _num(c.get("value")) for k, c in cells.items()}}
        wide_rows.append(wide)
        docs.append({"name": name, "file": f"{name}.json", "result": r})
    keys = _key_order(all_keys)
    from . import crosscheck     # the prose and year-over-year checks across the batch's results
    year_checks = crosscheck.cross_year(results)
    cross_rows = crosscheck.rows(results, year_checks)
    _review_cross_checks(review, cross_rows, {name: r for name, r in results})
    review.sort(key=lambda x: (x["confidence"] if x["confidence"] is not None else -1, x["source"], x["key"]))
    long_cols = ["source", "agency", "year", "template", "key", "value", "confidence", "status", "page",
                 "doc_status", "file"]
    types = {"year": pa.int64(), "value": pa.float64(), "confidence": pa.float64(), "page": pa.int64()}
    o = {k: out / v for k, v in names.items() if isinstance(v, str) and k not in ("state_dir", "report_dir")}
    o["cross_csv"] = out / crosscheck.settings()["cross_year"].get("output", "cross_checks.csv")
    written = {k: outdir.claim(v) for k, v in o.items()}    # where each goes (another name if not ours)
    _write_table(outdir, long_rows, long_cols, o.get("long_csv"), o.get("long_parquet"), types)
    wide_cols = ["file", "source", "sha256", "kind", "agency", "year", "template", "status", "confidence", "pages",
                 "cells", "review_cells", "conflicts", "duplicate_of", "reason"] + [f"v:{k}" for k in keys]
    wtypes = {"year": pa.int64(), "confidence": pa.float64(), "pages": pa.int64(), "cells": pa.int64(),
              "review_cells": pa.int64(), "conflicts": pa.int64(), **{f"v:{k}": pa.float64() for k in keys}}
    # CSV header keeps the plain key names; Parquet columns too (the v: prefix only avoids clashes here)
    _write_table(outdir, [{(k[2:] if k.startswith("v:") else k): v for k, v in w.items()} for w in wide_rows],
                 [c[2:] if c.startswith("v:") else c for c in wide_cols], o.get("wide_csv"), o.get("wide_parquet"),
                 {(k[2:] if k.startswith("v:") else k): t for k, t in wtypes.items()})
    review_cols = long_cols + ["text", "alternatives", "check"]
    _write_table(outdir, review, review_cols, o.get("review_csv"), None)
    _write_table(outdir, cross_rows, crosscheck.COLUMNS, o.get("cross_csv"), None)

    n_docs = sum(status_counts.values())
    processed = sum(1 for e in entries if e.state == "job")
    summary = {
        "format": "gouji.run/1", "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "out": str(out), "engine": engine, "workers": workers, "fingerprint": fp,
        "settings": _settings_dict(settings), "documents": n_docs, "counts": dict(sorted(status_counts.items())),
        "processed_now": processed, "already_done": already, "duplicates": dup_list, "skipped": skipped,
        "failures": failures,
        "timings": {"wall_s": round(wall, 3), "run_wall_s": round(time.time() - t_start, 3), "pages": pages_now,
                    "pages_per_min": round(pages_now / wall * 60, 1) if wall > 0 and pages_now else None,
                    "docs_per_min": round(processed / wall * 60, 1) if wall > 0 and processed else None,
                    "per_doc_s": {"p50": _pct(doc_times, 0.5), "p95": _pct(doc_times, 0.95),
                                  "max": _pct(doc_times, 1.0)},
                    "stage_s": {k: round(v, 3) for k, v in sorted(stage.items())}},
        "memory": {"peak_worker_rss_mb": round(estats.peak_worker_rss_mb, 1) if estats else None,
                   "peak_total_workers_rss_mb": round(estats.peak_total_rss_mb, 1) if estats else None,
                   "worker_restarts": estats.restarts if estats else 0},
        "review_threshold": thr, "review_cells": len(review), "review_queue": review[:500],
        "cross_checks": {"evaluated": len(cross_rows), "mismatches": sum(not c["holds"] for c in cross_rows),
                         "by_kind": {k: {"evaluated": sum(c["kind"] == k for c in cross_rows),
                                         "mismatches": sum(c["kind"] == k and not c["holds"] for c in cross_rows)}
                                     for k in ("narrative", "cross_year")},
                         "list": [c for c in cross_rows if not c["holds"]][:500]},
        "outputs": {k: outdir.rel(v) for k, v in written.items()},
        "warnings": outdir.warnings,
    }
    summary = json_safe(summary)
    from .report_html import write_report
    write_report(outdir, docs, summary, report_dir, o["report"], thr)
    summary["warnings"] = json_safe(outdir.warnings)     # the report's pages may have added some
    outdir.write_json(o["summary"], summary)
    for w in outdir.warnings:
        print(f"gouji: warning: {printable(w)}", file=sys.stderr)
    return Summary(counts=dict(sorted(status_counts.items())), documents=n_docs, processed=processed,
                   already_done=already, duplicates=len(dup_list), skipped=summary["skipped"], pages=pages_now,
                   wall_s=wall, out=printable(str(out)),
                   outputs={k: printable(str(v)) for k, v in written.items() if k in ("summary", "report")},
                   data=summary)
