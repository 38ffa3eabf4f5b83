"""The per-document function every engine runs, and what it sends back to the parent.

Workers only compute: the result dict, the grid sidecar and page PNGs go back to the parent,
which is the only writer (artifacts.py)."""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..export import to_result
from ..fsname import is_text
from ..model import Document
from ..run import extract


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




def page_artifacts(doc: Document, max_pages: int, width: int) -> tuple[dict, dict]:
    """Grid sidecar (tables, cells, page sizes) and PNG thumbnails of pages that matter."""
    keyed_pages = {f.page for f in doc.fields.values() if f.page is not None}
    table_pages = {t.page for t in doc.tables if t.page is not None}
    for t in doc.tables:
        table_pages.update(t.pages or [])
    want = sorted(keyed_pages | table_pages)[:max_pages]
    from .options import config
    level = int(config().get("thumbnails", {}).get("png_compression", 6))
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
                ok, buf = cv2.imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, level])
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
    sidecar, thumbs = page_artifacts(doc, job.thumb_pages, job.thumb_width)
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

