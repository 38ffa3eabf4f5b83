"""The parent's writes for one document: page pictures and grid sidecar, then the result JSON
(an atomic rename through OutDir: the commit point), then the manifest line. A kill -9 at
any moment loses at most the documents in flight and never leaves half a file."""
from __future__ import annotations

import time
from pathlib import Path

from ..fsname import hex_field, is_text, printable, readable
from ..outdir import OutDir
from .discover import Entry, load_json


class ResultWriter:
    """Commits results into OUT; `meta` goes into every result's `batch` (fingerprint and parts)."""

    def __init__(self, out: Path, outdir: OutDir, report_dir: Path, meta: dict, retry_kinds: set[str]):
        self.out, self.outdir, self.report_dir = out, outdir, report_dir
        self.meta, self.retry_kinds = meta, retry_kinds

    def commit(self, e: Entry, result: dict, extra: dict, outcome: dict | None = None) -> None:
        """Write pictures, then the result (atomic: the commit point), then the manifest line."""
        outdir = self.outdir
        rel = {}
        if outcome:
            for pg, png in sorted((outcome.get("thumbs") or {}).items()):
                f = outdir.write_bytes(self.report_dir / f"{e.name}.p{pg}.png", png)
                rel[str(pg)] = outdir.rel(f)
            side = outdir.write_json(self.report_dir / f"{e.name}.grid.json", outcome.get("sidecar") or {})
            extra = {**extra, "sidecar": outdir.rel(side), "thumbs": rel}
        b = {**(result.get("batch") or {}), "key": e.key, "name": e.name, "abs_path": e.abs,
             **hex_field("abs_path", e.abs), **hex_field("source_path", str(e.path)),
             "size": e.size, **self.meta, **extra}
        kind = b.get("failure")
        b["retry"] = bool(kind in self.retry_kinds)
        result["batch"] = b
        if not is_text(e.abs) and not any("not UTF-8" in w for w in result.get("warnings", [])):
            gb = readable(e.path.name)
            result.setdefault("warnings", []).append(
                f"the file name is not UTF-8: shown as {printable(e.path.name)}"
                + (f" (as GB18030: {gb})" if gb != printable(e.path.name) else "")
                + "; batch.abs_path_hex holds its exact bytes")
        f = outdir.write_json(self.out / f"{e.name}.json", result, claim=False)
        e.result_file = f
        self.record(e, result)

    def record(self, e: Entry, result: dict) -> None:
        """The manifest line of a committed result. Also written when a run finds a result on
        disk whose line is missing: a kill -9 between the rename and the line took it, and
        without it the summary, the report and later runs would not list that result."""
        b = result.get("batch") or {}
        self.outdir.manifest.add({"abs": e.abs, "path": str(e.path), "name": e.name, "key": e.key, "sha256": e.sha256,
                                  "size": e.size, "mtime_ns": e.mtime_ns, "status": result.get("status"),
                                  "duplicate_of": b.get("duplicate_of"), "retry": bool(b.get("retry")),
                                  "t": round(time.time(), 3)})

    def duplicate(self, e: Entry, primary_file: Path, primary_path: str) -> None:
        """Identical content under another name: a copy of the primary's result, marked
        ``batch.duplicate_of``. If the primary's result cannot be read, `e` becomes a job."""
        r = load_json(primary_file)
        if r is None:
            e.state = "job"
            return
        r["source"]["path"] = str(e.path)
        r["warnings"] = [f"same content as {primary_path}: result copied, not read again"] + \
            [w for w in r.get("warnings", []) if not w.startswith("same content as ")]
        pb = r.get("batch") or {}
        self.commit(e, r, {"duplicate_of": primary_path, "duplicate_of_name": pb.get("name"),
                           "sidecar": pb.get("sidecar"), "thumbs": pb.get("thumbs", {}),
                           "pages": pb.get("pages"), "wall_s": 0.0})
