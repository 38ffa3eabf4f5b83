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
* Files the batch itself cannot take (unreadable, too large, not a document) get a failed
  result (explicit inputs) or a line under "skipped" in the run summary (files met while
  walking a folder that are not documents).
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
from .export import FORMAT, to_result, write_json
from .model import Document, Source
from .run import Settings, extract
from .templates import CONFIGS

ROOT = CONFIGS.parent
MODELS = ROOT / "models"
DOC_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".png", ".jpg", ".jpeg",
                ".tif", ".tiff", ".bmp"}
_KIND_OF_SUFFIX = {".txt": "text", ".text": "text", ".md": "text", ".markdown": "text", ".html": "html",
                   ".htm": "html", ".pdf": "pdf", ".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".tif": "tif",
                   ".tiff": "tif", ".bmp": "bmp"}
_SUFFIX_OF_KIND = {"pdf": ".pdf", "png": ".png", "jpg": ".jpg", "tif": ".tif", "bmp": ".bmp", "html": ".html",
                   "text": ".txt"}
_PACKAGES = ("rapidocr", "onnxruntime", "scikit-learn", "opencv-python-headless", "pypdfium2", "scipy")


@functools.lru_cache(maxsize=1)
def config() -> dict:
    import yaml
    return yaml.safe_load((CONFIGS / "batch.yaml").read_text(encoding="utf-8")) or {}


# ----------------------------------------------------------------------------- inputs

def sniff(head: bytes) -> str:
    """What the first bytes say a file is: pdf|png|jpg|tif|bmp|html|text|zip|binary|empty."""
    if not head:
        return "empty"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tif"
    if head[:2] == b"BM" and len(head) > 18 and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 108, 124):
        return "bmp"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if b"\x00" in head[:4096] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "binary"
    low = head[:4096].lower()
    if b"<html" in low or b"<!doctype html" in low or b"<table" in low:
        return "html"
    for enc in ("utf-8", "gb18030", "utf-16"):
        try:
            head[:4000].decode(enc)
            return "text"
        except UnicodeDecodeError:
            continue
    return "binary"


def _read_head(p: Path, n: int = 4096) -> bytes:
    with open(p, "rb") as f:
        return f.read(n)


def _effective_suffix(p: Path, kind: str) -> str | None:
    """The suffix the reader should see: the file's own, unless its content says otherwise."""
    own = _KIND_OF_SUFFIX.get(p.suffix.lower())
    if kind in ("pdf", "png", "jpg", "tif", "bmp"):
        return p.suffix.lower() if own == kind else _SUFFIX_OF_KIND[kind]
    if kind in ("html", "text"):
        if own in ("text", "html"):
            return p.suffix.lower()
        return _SUFFIX_OF_KIND[kind] if own else None   # a .pdf that is text: read as text
    return p.suffix.lower() if own else None            # leave corrupt documents to the reader


def _skip_reason(p: Path) -> str | None:
    """Why a file met while walking a folder is not a document (None: take it)."""
    if p.name.endswith(".truth.json"):
        return "ground-truth sidecar, not a document"
    if p.name.startswith("."):
        return "hidden file"
    if p.suffix.lower() in DOC_SUFFIXES:
        return None
    try:
        kind = sniff(_read_head(p))
    except OSError:
        return None  # unreadable: let the batch report it as a failed document
    if kind in ("pdf", "png", "jpg", "tif", "bmp"):
        return None  # a document under a wrong extension
    return f"not a document: {p.suffix or 'no extension'} ({kind})"


def find_inputs(paths: list[Path], exclude: list[Path] | None = None,
                skipped: list[dict] | None = None) -> list[Path]:
    """Documents among files and folders (recursively), sorted, each once.

    Files met in a folder that are not documents go to `skipped` with a reason; files named
    explicitly are always taken (a bad one gets a failed result). `exclude`: folders to
    leave out (the output folder when it sits inside an input folder).
    """
    ex = [Path(e).resolve() for e in (exclude or [])]
    out, seen = [], set()
    for p in map(Path, paths):
        if p.is_dir():
            for q in sorted(p.rglob("*")):
                if not (q.is_file() or q.is_symlink()) or q.is_dir():
                    continue
                rq = q.resolve() if q.exists() else q.absolute()
                if any(rq == e or e in rq.parents for e in ex):
                    continue
                why = _skip_reason(q)
                if why:
                    if skipped is not None:
                        skipped.append({"path": str(q), "reason": why})
                    continue
                if rq not in seen:
                    seen.add(rq)
                    out.append(q)
        else:
            rp = p.resolve() if p.exists() else p.absolute()
            if rp not in seen:
                seen.add(rp)
                out.append(p)
    return out


# ----------------------------------------------------------------------------- fingerprint

def _sha256_file(p: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


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
                models[str(p.relative_to(MODELS))] = _sha256_file(p)[:16]
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
    if Path(path).suffix.lower() != job.suffix:  # wrong extension: show the reader the right one
        tmp = tempfile.mkdtemp(prefix="gouji-")
        link = Path(tmp) / f"{Path(job.path).stem or 'input'}{job.suffix}"
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
            extra.append(f"{len(self.skipped)} non-documents skipped")
        rate = f"{self.pages / self.wall_s * 60:.0f} pages/min" if self.wall_s > 0 and self.pages else ""
        tail = (f" · {self.pages} pages in {self.wall_s:.1f} s" + (f" ({rate})" if rate else "")) \
            if self.processed else ""
        where = f" · {self.outputs.get('summary', '')}, {self.outputs.get('report', '')}" if self.outputs else ""
        return f"done: {counts} ({', '.join(extra)}){tail}{where}"


class Manifest:
    """Append-only JSON lines: one per written result. A torn last line is ignored."""

    def __init__(self, path: Path):
        self.path = path
        self.by_path: dict[str, dict] = {}
        self.by_key: dict[str, dict] = {}
        self.names: dict[str, str] = {}      # name → abs path that owns it
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    rec = json.loads(line)
                    self._index(rec)
                except (ValueError, KeyError, TypeError):
                    continue
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = None

    def _index(self, rec: dict) -> None:
        self.by_path[rec["abs"]] = rec
        if rec.get("key") and not rec.get("duplicate_of") and not rec.get("retry"):
            self.by_key[rec["key"]] = rec
        self.names.setdefault(rec["name"], rec["abs"])

    def add(self, rec: dict) -> None:
        if self._f is None:
            self._f = open(self.path, "a", encoding="utf-8")
            if self.path.stat().st_size:   # a torn line from a killed run: start on a fresh line
                with open(self.path, "rb") as r:
                    r.seek(-1, 2)
                    if r.read(1) != b"\n":
                        self._f.write("\n")
        self._f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._f.flush()
        self._index(rec)

    def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def _chmod_default(path: Path) -> None:
    """mkstemp makes 0600 files; results are for sharing, so give them the usual 0644 (umask)."""
    try:
        os.chmod(path, 0o666 & ~_umask())
    except OSError:
        pass


def _atomic_bytes(data: bytes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _identify(e: Entry, manifest: Manifest, max_bytes: int) -> None:
    """Size, hash (reused from the manifest when size and mtime match), real type."""
    try:
        st = os.stat(e.path)
        e.size, e.mtime_ns = st.st_size, st.st_mtime_ns
        if e.size > max_bytes:
            e.unreadable = f"file too large: {e.size / 2**20:.0f} MB > {max_bytes / 2**20:.0f} MB (max_file_mb)"
            return
        head = _read_head(e.path)
        prev = manifest.by_path.get(e.abs)
        if prev and prev.get("size") == e.size and prev.get("mtime_ns") == e.mtime_ns and prev.get("sha256"):
            e.sha256 = prev["sha256"]
        else:
            e.sha256 = _sha256_file(e.path)
    except PermissionError:
        e.unreadable = "cannot read file: permission denied"
        return
    except FileNotFoundError:
        e.unreadable = "cannot read file: not found (dangling link or removed during the run)"
        return
    except IsADirectoryError:
        e.unreadable = "not a file"
        return
    except OSError as ex:
        e.unreadable = f"cannot read file: {ex.strerror or ex}"
        return
    kind = sniff(head)
    e.suffix = _effective_suffix(e.path, kind)
    if e.suffix is None:
        e.unreadable = None
        e.state = "not_document"
        e.redirected = f"not a supported document: {e.path.suffix or 'no extension'} ({kind})"
    elif e.suffix != e.path.suffix.lower() and _KIND_OF_SUFFIX.get(e.suffix) != _KIND_OF_SUFFIX.get(
            e.path.suffix.lower()):
        e.redirected = f"extension {e.path.suffix or '(none)'} but content is {kind}: read as {kind}"


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
        stem = e.path.stem or e.path.name or "document"
        cands = [stem, f"{stem}-{hashlib.sha1(e.abs.encode()).hexdigest()[:8]}"]
        cands += [f"{cands[1]}-{i}" for i in range(2, 1000)]
        for c in cands:
            if c in mine or f"{c}.json" in reserved:
                continue
            owner = taken.get(c)
            if owner is not None and owner != e.abs:
                continue
            if owner is None and (out / f"{c}.json").exists():
                r = _load(out / f"{c}.json") or {}
                if (r.get("batch") or {}).get("abs_path") != e.abs:
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
    a bad document; raises only for a bad output folder or engine setup.
    """
    from tqdm import tqdm

    cfg = config()
    names_cfg = cfg.get("outputs", {})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or Settings()
    t_start = time.time()
    state_dir = out / names_cfg.get("state_dir", ".gouji")
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(state_dir / "lock")
    try:
        return _run_locked(paths, out, settings, workers, engine, address, time_limit, force, progress,
                           memory_limit_mb, func, cfg, names_cfg, state_dir, t_start)
    finally:
        lock.close()


def _run_locked(paths, out, settings, workers, engine, address, time_limit, force, progress, memory_limit_mb,
                func, cfg, names_cfg, state_dir, t_start) -> Summary:
    from tqdm import tqdm
    report_dir = out / names_cfg.get("report_dir", "report_files")
    for d in (out, report_dir):      # temp files of a killed run (never a finished output)
        for t in d.glob(".*.tmp") if d.is_dir() else []:
            t.unlink(missing_ok=True)
    manifest = Manifest(state_dir / "manifest.jsonl")
    skipped: list[dict] = []
    inputs = find_inputs(list(paths), exclude=[out], skipped=skipped)
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
        _identify(e, manifest, max_bytes)
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
                f = report_dir / f"{e.name}.p{pg}.png"
                _atomic_bytes(png, f)
                rel[str(pg)] = str(f.relative_to(out))
            side = report_dir / f"{e.name}.grid.json"
            write_json(outcome.get("sidecar") or {}, side)
            _chmod_default(side)
            extra = {**extra, "sidecar": str(side.relative_to(out)), "thumbs": rel}
        b = {**(result.get("batch") or {}), "key": e.key, "name": e.name, "abs_path": e.abs,
             "size": e.size, **batch_meta, **extra}
        kind = b.get("failure")
        b["retry"] = bool(kind in retry_kinds)
        result["batch"] = b
        f = out / f"{e.name}.json"
        write_json(result, f)
        _chmod_default(f)
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
            if prev and (prev.get("batch") or {}).get("abs_path") == e.abs and prev.get("errors") == [reason] \
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
                if not (b.get("key") == e.key and b.get("abs_path") == e.abs and not b.get("retry")):
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
              + (f"; {len(skipped)} non-documents skipped" if skipped else "")
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
        if jobs and engine not in ("local", "ray"):
            raise ValueError(f"unknown engine {engine!r} (local | ray)")
        if jobs:
            if engine == "ray":
                rcfg = cfg.get("ray", {})
                eng = RayEngine(workers, limits, address=address, start_slack_s=float(rcfg.get("start_slack_s", 30)),
                                inflight_per_cpu=float(rcfg.get("inflight_per_cpu", 1)))

                def read_input(job: Job):
                    return Path(job.path).read_bytes(), job.suffix
                estats = eng.run(jobs, func, on_done, read_input)
            elif engine == "local":
                pool = LocalPool(n_workers, limits, start_method=cfg.get("start_method", "forkserver"),
                                 max_docs_per_worker=int(cfg.get("max_docs_per_worker", 0) or 0),
                                 preload=("pipeline.batch", "pipeline.read", "pipeline.classify"))
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
    return _finish(entries, skipped, out, cfg, settings, fp, engine, n_workers if engine == "local" else workers,
                   estats, wall, counts["pages"], doc_times, already, t_start, report_dir)


def _lock(path: Path):
    """One run per output folder at a time (the lock goes with the process, even on kill -9)."""
    f = open(path, "a+")
    try:
        import fcntl
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass
    except OSError:
        f.close()
        raise RuntimeError(f"another gouji run is writing to {path.parent.parent}; wait for it or use another --out")
    return f


# ----------------------------------------------------------------------------- combined outputs

def _write_table(rows: list[dict], columns: list[str], csv_path: Path | None, parquet_path: Path | None,
                 types: dict | None = None) -> None:
    """CSV (UTF-8 with BOM, so Excel shows Chinese) and Parquet, both written atomically."""
    import csv
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    if csv_path:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
        _atomic_bytes(("\ufeff" + buf.getvalue()).encode("utf-8"), csv_path)
    if parquet_path:
        types = types or {}
        arrays = {}
        for c in columns:
            vals = [r.get(c) for r in rows]
            t = types.get(c)
            if t is None:
                arrays[c] = pa.array([None if v is None else str(v) for v in vals], pa.string())
            else:
                arrays[c] = pa.array(vals, t)
        table = pa.table(arrays) if columns else pa.table({})
        fd, tmp = tempfile.mkstemp(dir=parquet_path.parent, prefix=f".{parquet_path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, parquet_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))], 3)


def _finish(entries, skipped, out: Path, cfg, settings, fp, engine, workers, estats, wall, pages_now,
            doc_times, already, t_start, report_dir) -> Summary:
    import pyarrow as pa
    names = cfg.get("outputs", {})
    thr = float(cfg.get("review_threshold", 0.9))
    long_rows, wide_rows, review, docs = [], [], [], []
    all_keys: set[str] = set()
    stage: dict[str, float] = {}
    status_counts: dict[str, int] = {}
    failures = []
    for e in entries:
        f = e.result_file or (out / f"{e.name}.json")
        r = _load(f) if e.name else None
        if r is None:
            failures.append({"source": str(e.path), "reason": "no result written (run interrupted?)"})
            continue
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
                   "doc_status": st, "file": f"{e.name}.json"}
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
        wide = {"file": f"{e.name}.json", "source": r["source"]["path"], "sha256": r["source"].get("sha256"),
                "kind": r["source"].get("kind"), "agency": r.get("agency"), "year": r.get("year"),
                "template": r.get("template"), "status": st, "confidence": r.get("confidence"),
                "pages": b.get("pages"), "cells": len(cells), "review_cells": n_review, "conflicts": n_conflict,
                "duplicate_of": b.get("duplicate_of"), "reason": "; ".join(r.get("errors", [])) or None,
                **{f"v:{k}": _num(c.get("value")) for k, c in cells.items()}}
        wide_rows.append(wide)
        docs.append({"name": e.name, "file": f"{e.name}.json", "result": r})
    keys = _key_order(all_keys)
    review.sort(key=lambda x: (x["confidence"] if x["confidence"] is not None else -1, x["source"], x["key"]))
    long_cols = ["source", "agency", "year", "template", "key", "value", "confidence", "status", "page",
                 "doc_status", "file"]
    types = {"year": pa.int64(), "value": pa.float64(), "confidence": pa.float64(), "page": pa.int64()}
    o = {k: out / v for k, v in names.items() if isinstance(v, str)}
    _write_table(long_rows, long_cols, o.get("long_csv"), o.get("long_parquet"), types)
    wide_cols = ["file", "source", "sha256", "kind", "agency", "year", "template", "status", "confidence", "pages",
                 "cells", "review_cells", "conflicts", "duplicate_of", "reason"] + [f"v:{k}" for k in keys]
    wtypes = {"year": pa.int64(), "confidence": pa.float64(), "pages": pa.int64(), "cells": pa.int64(),
              "review_cells": pa.int64(), "conflicts": pa.int64(), **{f"v:{k}": pa.float64() for k in keys}}
    # CSV header keeps the plain key names; Parquet columns too (the v: prefix only avoids clashes here)
    _write_table([{(k[2:] if k.startswith("v:") else k): v for k, v in w.items()} for w in wide_rows],
                 [c[2:] if c.startswith("v:") else c for c in wide_cols], o.get("wide_csv"), o.get("wide_parquet"),
                 {(k[2:] if k.startswith("v:") else k): t for k, t in wtypes.items()})
    review_cols = long_cols + ["text", "alternatives"]
    _write_table(review, review_cols, o.get("review_csv"), None)

    n_docs = sum(status_counts.values())
    dup_list = [{"source": str(e.path), "same_as": str(e.primary.path) if e.primary else e.dup_of}
                for e in entries if e.state == "duplicate" or e.dup_of]
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
        "outputs": {k: str(v.relative_to(out)) for k, v in o.items() if k not in ("state_dir", "report_dir")},
    }
    write_json(summary, o["summary"])
    _chmod_default(o["summary"])
    from .report_html import write_report
    write_report(out, docs, summary, report_dir, o["report"], thr)
    return Summary(counts=dict(sorted(status_counts.items())), documents=n_docs, processed=processed,
                   already_done=already, duplicates=len(dup_list), skipped=skipped, pages=pages_now, wall_s=wall,
                   out=str(out), outputs={k: str(v) for k, v in o.items() if k in ("summary", "report")},
                   data=summary)
