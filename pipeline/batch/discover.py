"""The inputs of a run as entries: size, hash and real type of each file, and its output name.

Output names are OUT/<stem>.json; a stem already owned by another input (this run or an
earlier one, per the manifest or the file's recorded path) gets <stem>-<hash of path>."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..export import to_result
from ..fsname import from_record, readable
from ..inputs import KIND_OF_SUFFIX, NotRegularFile, effective_suffix, probe, sniff
from ..model import Document, Source
from ..outdir import Manifest


@dataclass
class Entry:
    """One input of the run and what the parent learned about it (state: what the run does with it)."""
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



def load_json(path: Path) -> dict | None:
    """A JSON file in OUT, or None (missing, broken, or not a regular file: a FIFO would block)."""
    try:
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def identify(e: Entry, manifest: Manifest, max_bytes: int, deadline_s: float) -> None:
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


def result_abs(r: dict | None) -> str | None:
    """The exact input path a result on disk was written for (None: not a gouji result)."""
    return from_record((r or {}).get("batch") or {}, "abs_path")


def assign_names(entries: list[Entry], manifest: Manifest, out: Path, reserved: set[str]) -> None:
    """Deterministic, never-overwriting output names (module docstring)."""
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
                if result_abs(load_json(out / f"{c}.json")) != e.abs:
                    continue  # a file we did not write for this input: never overwrite it
            e.name = c
            mine.add(c)
            break


def failed_result(e: Entry, reason: str, kind: str) -> dict:
    """A failed result for an input the batch could not take (kind: batch.failure)."""
    doc = Document(Source(str(e.path), sha256=e.sha256)).fail(reason)
    r = to_result(doc)
    r["batch"] = {"failure": kind}
    return r

