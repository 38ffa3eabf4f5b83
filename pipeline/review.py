"""`gouji review OUT`: confirm or correct a batch's doubtful cells in the browser.

Why: calibrated confidence pays off only when the doubtful rest is checked fast, and every
check should teach gouji. A local server (stdlib http.server, static files shipped in
pipeline/review_static, no build step) shows each document's page pictures with the
recovered grid, the doubtful cells and labels in a keyboard-driven queue, the enlarged
cell crop beside the alternatives, and the table's balance equations (served from the
solver's own templates, never copied into JS) holding or failing as values are typed.

Every decision is written at once, atomically (outdir.OutDir, recorded in the manifest):
* OUT/reviewed/<name>.json: the result with reviewed cells (status "reviewed",
  confidence 1), a top-level "labels" list of the labels a reviewer decided (the format
  `gouji train --add OUT/reviewed` reads) and "review": the decisions and an audit trail
  (when, who, which cell, old → new).
* OUT/reviewed/crops/<name>/<cell>.png: the cell as printed (the digit model's --add data).
Decisions are re-read from disk on every request under a file lock, so a second reviewer
(another browser, or another `gouji review` on the same OUT) sees and keeps them.

Security: only the routes below answer, files are looked up by result name in the
manifest (never joined from the request) and must resolve inside OUT; writes need the
session's token (X-Gouji-Token) and a Host header naming this server; the page builds
its DOM with textContent only and a Content-Security-Policy forbids inline script. A bad
request gets a 4xx JSON error and the server goes on.
"""
from __future__ import annotations

import datetime as dt
import functools
import hmac
import html
import json
import os
import re
import secrets
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from .fsname import json_safe, printable
from .outdir import Manifest, OutDir, UsageError
from .templates import all_label_classes, config

STATIC = Path(__file__).with_name("review_static")
STATIC_TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "app.css": "text/css; charset=utf-8"}
KEY_RE = re.compile(r"^[A-Za-z0-9_.:\-]+(/[A-Za-z0-9_.:\-]+){2}$")
NUMBER_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class BadRequest(Exception):
    """A request the server refuses: answered with `status` and the message, never a crash."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def settings() -> dict:
    return dict(config("review.yaml"))


def _batch_cfg() -> dict:
    from .batch import config as batch_config
    return batch_config()


def crop_file(key: str) -> str:
    """File name of a cell's crop: the canonical key with / as __ (keys are ASCII)."""
    return key.replace("/", "__") + ".png"


def apply_review(result: dict, reviewed: dict | None) -> dict:
    """The result with a reviewer's cell decisions on top: value as decided, status
    "reviewed", confidence 1 (what the combined tables and the next reviewer see)."""
    decided = ((reviewed or {}).get("review") or {}).get("cells") or {}
    if not decided:
        return result
    cells = dict(result.get("cells") or {})
    for key, d in decided.items():
        c = dict(cells.get(key) or {})
        if "status" in c and c.get("status") != "reviewed":
            c.setdefault("recognised", {"value": c.get("value"), "status": c.get("status"),
                                        "confidence": c.get("confidence")})
        c.update(value=d.get("value"), status="reviewed", confidence=1.0)
        cells[key] = c
    return {**result, "cells": cells}


def reviewed_path(out: Path, name: str) -> Path:
    return Path(out) / settings().get("folder", "reviewed") / f"{name}.json"


def load_reviewed(out: Path, name: str) -> dict | None:
    """OUT/reviewed/<name>.json, or None when there is none (or it is not readable JSON)."""
    try:
        d = json.loads(reviewed_path(out, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_value(v):
    """A typed value: None (printed blank), an int, or a float; anything else is refused."""
    if v is None or isinstance(v, bool):
        if v is None:
            return None
        raise BadRequest(400, "value must be a number or null")
    if isinstance(v, (int, float)):
        if v != v or v in (float("inf"), float("-inf")):
            raise BadRequest(400, "value must be finite")
        return v
    if isinstance(v, str):
        t = v.strip().replace(",", "")
        if t == "":
            return None
        if not NUMBER_RE.match(t):
            raise BadRequest(400, f"not a number: {v[:40]!r}")
        return float(t) if "." in t else int(t)
    raise BadRequest(400, "value must be a number, a numeric string or null")


class Store:
    """The review state of one OUT folder: results, page pictures, decisions."""

    def __init__(self, out: Path, reviewer: str, session: str):
        self.out = Path(out).resolve()
        cfg = _batch_cfg()
        names = cfg.get("outputs", {})
        self.threshold = float(cfg.get("review_threshold", 0.9))
        self.rcfg = settings()
        self.label_threshold = float(self.rcfg.get("label_threshold", 0.9))
        self.state = self.out / names.get("state_dir", ".gouji")
        manifest_path = self.state / "manifest.jsonl"
        if not self.out.is_dir():
            raise UsageError(f"{printable(str(out))} is not a folder")
        if not manifest_path.exists():
            raise UsageError(f"{printable(str(out))} is not a gouji output folder (no {names.get('state_dir', '.gouji')}/"
                             f"manifest.jsonl): run `gouji extract ... --out {printable(str(out))}` first")
        self.reviewer, self.session = reviewer, session
        self.manifest_path = manifest_path
        self.folder = self.out / self.rcfg.get("folder", "reviewed")
        self._lock = threading.Lock()
        self._names: tuple | None = None
        self._pages: dict = {}
        self._pages_lock = threading.Lock()
        self._outdir: OutDir | None = None

    # -- reading ----------------------------------------------------------------------------
    def names(self) -> dict[str, Path]:
        """Result name → its JSON, for every result the manifest lists (re-read when it grows)."""
        st = self.manifest_path.stat()
        sig = (st.st_size, st.st_mtime_ns)
        if self._names is None or self._names[0] != sig:
            m = Manifest(self.manifest_path)
            found = {}
            for rec in m.by_path.values():
                p = self.out / f"{rec['name']}.json"
                if p.is_file():
                    found[rec["name"]] = p
            self._names = (sig, found)
        return self._names[1]

    def result(self, name: str) -> dict:
        if not isinstance(name, str) or name not in self.names():
            raise BadRequest(404, "no such document")
        try:
            d = json.loads(self.names()[name].read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise BadRequest(404, f"result not readable: {type(e).__name__}")
        if not isinstance(d, dict):
            raise BadRequest(404, "result not readable")
        return d

    def _doubtful(self, c: dict) -> bool:
        conf = c.get("confidence")
        return c.get("status") == "conflict" or (conf is not None and conf < self.threshold)

    def queue(self) -> list[dict]:
        """Every document, the least sure first; how many doubtful items each has left."""
        rows = []
        for name in sorted(self.names()):
            try:
                r = self.result(name)
            except BadRequest:
                continue
            rev = load_reviewed(self.out, name) or {}
            dec = rev.get("review") or {}
            cells = r.get("cells") or {}
            doubt_cells = {k for k, c in cells.items() if self._doubtful(c)}
            doubt_labels = {str(i) for i, lab in enumerate(self.labels_of(r))
                            if (lab.get("p") or 0) < self.label_threshold}
            left = len(doubt_cells - set(dec.get("cells") or {})) + len(doubt_labels - set(dec.get("labels") or {}))
            rows.append({"name": name, "source": printable(str((r.get("source") or {}).get("path", ""))),
                         "status": r.get("status"), "confidence": r.get("confidence"),
                         "template": r.get("template"), "doubtful": len(doubt_cells) + len(doubt_labels),
                         "left": left, "decided": len(dec.get("cells") or {}) + len(dec.get("labels") or {})})
        rows.sort(key=lambda d: (d["left"] == 0, d["confidence"] if d["confidence"] is not None else 2.0, d["name"]))
        return rows

    def _sidecar(self, r: dict) -> dict:
        side = (r.get("batch") or {}).get("sidecar")
        p = self._inside(side) if side else None
        if p is None:
            return {"pages": [], "tables": []}
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"pages": [], "tables": []}

    def _inside(self, rel) -> Path | None:
        """OUT/rel when it resolves to a file inside OUT, else None (links out of OUT too)."""
        if not isinstance(rel, str) or not rel or "\0" in rel:
            return None
        p = (self.out / rel).resolve()
        try:
            p.relative_to(self.out)
        except ValueError:
            return None
        return p if p.is_file() else None

    @staticmethod
    def equations(result: dict) -> list[dict]:
        """The solver's balance equations over the document's keys (solve.equations_for)."""
        from .solve import equations_for
        doc = SimpleNamespace(fields=result.get("cells") or {}, table_templates=result.get("tables") or {},
                              template=result.get("template"))
        return [{"name": e.name, "lhs": list(e.lhs), "rhs": list(e.rhs), "null_as_zero": e.null_as_zero}
                for e in equations_for(doc)]

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def classes() -> dict[str, list[dict]]:
        """The template's label keys per table with their printed wording (to re-key a label
        by typing part of either)."""
        out: dict[str, list[dict]] = {}
        for c, texts in all_label_classes().items():
            out.setdefault(c.split(".")[0], []).append({"key": c, "text": texts[0] if texts else ""})
        return out

    def labels_of(self, r: dict, sidecar: dict | None = None) -> list[dict]:
        """The labels to review: the ones gouji mapped (result "labels", with the classifier's
        p), then the ones it could not map (result "unmapped", class none, p 0), each as the
        printed grid cell it came from when the page's grid has it (the text the classifier
        sees; the parent labels printed before it become context.prev)."""
        out = [lab for lab in (r.get("labels") or []) if isinstance(lab, dict)]
        cells = [c for t in (sidecar or {}).get("tables") or [] for c in t.get("cells") or [] if c.get("text")]
        for u in r.get("unmapped") or []:
            if not isinstance(u, dict) or not isinstance(u.get("label"), str):
                continue
            full = re.sub(r"\s+", "", u["label"])
            hits = [c for c in cells if full.endswith(re.sub(r"\s+", "", c["text"]))]
            c = max(hits, key=lambda c: len(re.sub(r"\s+", "", c["text"])), default=None)
            if c is None:
                out.append({"text": u["label"], "class": "none", "p": 0.0, "context": {"table": u.get("table")},
                            "unmapped": True})
            else:
                prev = u["label"].rsplit(c["text"].strip(), 1)[0].strip() if c["text"].strip() in u["label"] else ""
                out.append({"text": c["text"], "class": "none", "p": 0.0, "unmapped": True,
                            "context": {"table": u.get("table"), "row": c.get("r"), "col": c.get("c"),
                                        "header": bool(c.get("header")), "prev": prev}})
        return out

    def _label_places(self, labels: list, sidecar: dict) -> list:
        """(page, bbox) of each label on the page pictures: the grid cell with its text."""
        by_text: dict[str, list[dict]] = {}
        for t in sidecar.get("tables") or []:
            for c in t.get("cells") or []:
                if c.get("bbox") and c.get("text"):
                    by_text.setdefault(re.sub(r"\s+", "", c["text"]), []).append(c)
        out = []
        for lab in labels:
            ctx = lab.get("context") if isinstance(lab, dict) and isinstance(lab.get("context"), dict) else {}
            cands = by_text.get(re.sub(r"\s+", "", str(lab.get("text", ""))) if isinstance(lab, dict) else "", [])
            best = sorted(cands, key=lambda c: (c.get("r") != ctx.get("row"), c.get("c") != ctx.get("col")))
            out.append((best[0].get("page"), best[0]["bbox"]) if best else (None, None))
        return out

    def document(self, name: str) -> dict:
        r = self.result(name)
        rev = load_reviewed(self.out, name) or {}
        dec = rev.get("review") or {}
        merged = apply_review(r, rev)
        sidecar = self._sidecar(r)
        thumbs = (r.get("batch") or {}).get("thumbs") or {}
        pages = []
        for meta in sidecar.get("pages") or []:
            n = meta.get("number")
            if str(n) in thumbs and self._inside(thumbs[str(n)]) is not None:
                pages.append({"number": n, "width": meta.get("width"), "height": meta.get("height"),
                              "unit": meta.get("unit")})
        cells = {}
        for k, c in (merged.get("cells") or {}).items():
            orig = (r.get("cells") or {}).get(k) or {}
            cells[k] = {**{f: c.get(f) for f in ("value", "confidence", "status", "page", "bbox", "text", "alternatives")},
                        "doubtful": self._doubtful(orig), "decision": (dec.get("cells") or {}).get(k)}
        labels = []
        raw = self.labels_of(r, sidecar)
        for i, (lab, (pg, bb)) in enumerate(zip(raw, self._label_places(raw, sidecar))):
            d = (dec.get("labels") or {}).get(str(i))
            labels.append({"index": i, "text": lab.get("text"), "class": d["class"] if d else lab.get("class"),
                           "p": lab.get("p"), "context": lab.get("context"), "page": pg, "bbox": bb,
                           "doubtful": (lab.get("p") or 0) < self.label_threshold, "decision": d,
                           "unmapped": bool(lab.get("unmapped"))})
        grid = [{"page": c.get("page"), "bbox": c["bbox"], "text": c.get("text"), "key": c.get("key")}
                for t in sidecar.get("tables") or [] for c in t.get("cells") or [] if c.get("bbox")]
        from .solve import settings as solver_settings
        return json_safe({
            "name": name, "source": printable(str((r.get("source") or {}).get("path", ""))),
            "status": r.get("status"), "confidence": r.get("confidence"), "template": r.get("template"),
            "errors": r.get("errors") or [], "cells": cells, "labels": labels, "pages": pages, "grid": grid,
            "equations": self.equations(r), "tol": float(solver_settings().get("tol", 1e-6)),
            "classes": self.classes(), "threshold": self.threshold, "label_threshold": self.label_threshold,
            "audit": (dec.get("audit") or [])[-50:],
        })

    # -- pictures ---------------------------------------------------------------------------
    def page_png(self, name: str, number) -> bytes:
        r = self.result(name)
        rel = ((r.get("batch") or {}).get("thumbs") or {}).get(str(number))
        p = self._inside(rel)
        if p is None:
            raise BadRequest(404, "no picture of that page")
        return p.read_bytes()

    def _page_image(self, r: dict, page: int, meta: dict):
        """(grey image, pixels per page unit) of a page: rendered from the source when it is
        still there (PDF at crop_dpi, an image as it is), else the page picture in OUT."""
        import cv2
        import numpy as np
        key = (str((r.get("source") or {}).get("sha256")), page)
        with self._pages_lock:
            if key in self._pages:
                return self._pages[key]
        img = None
        src = Path(str((r.get("source") or {}).get("path") or ""))
        width = float(meta.get("width") or 0)
        try:
            if src.is_file():
                with open(src, "rb") as f:
                    head = f.read(5)
                if head == b"%PDF-":
                    from .pdf import render_page
                    img = render_page(str(src), page - 1, float(self.rcfg.get("crop_dpi", 200)) / 72.0)
                elif (r.get("source") or {}).get("kind") == "image":
                    img = cv2.imdecode(np.fromfile(str(src), np.uint8), cv2.IMREAD_GRAYSCALE)
        except Exception:   # a source that moved or broke: fall back to the picture in OUT
            img = None
        if img is None:
            p = self._inside(((r.get("batch") or {}).get("thumbs") or {}).get(str(page)))
            if p is not None:
                img = cv2.imdecode(np.fromfile(str(p), np.uint8), cv2.IMREAD_GRAYSCALE)
        if img is None or not width:
            return None
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        val = (img, img.shape[1] / width)
        with self._pages_lock:    # request threads share the last few rendered pages
            if len(self._pages) >= 4:
                self._pages.pop(next(iter(self._pages)))
            self._pages[key] = val
        return val

    def crop_png(self, name: str, key: str | None = None, label: str | None = None, lines: bool = False) -> bytes:
        """The cell (or label) as printed, as PNG; lines=True: its text lines as gouji read them."""
        import cv2
        r = self.result(name)
        if key is not None:
            c = (r.get("cells") or {}).get(key)
            if not isinstance(c, dict) or not c.get("bbox") or not c.get("page"):
                raise BadRequest(404, "no box for that cell")
            page, bbox = int(c["page"]), c["bbox"]
        else:
            try:
                i = int(label)
                lab = self.labels_of(r, self._sidecar(r))[i]
            except (TypeError, ValueError, IndexError):
                raise BadRequest(404, "no such label")
            page, bbox = self._label_places([lab], self._sidecar(r))[0]
            if page is None:
                raise BadRequest(404, "no box for that label")
        got = self._crop(r, int(page), bbox)
        if got is None:
            raise BadRequest(404, "no picture of that page")
        ok, buf = cv2.imencode(".png", self._ink(got[0], got[1]) if lines else got[0])
        if not ok:
            raise BadRequest(404, "crop not encodable")
        return buf.tobytes()

    def _ink(self, a, scale: float):
        """For the eye: the cell's text lines as the recogniser got them (grid.cell_lines:
        rules painted out, specks dropped, trimmed), stacked; the whole crop when it finds
        none. A number at the far end of a long cell is no longer a speck."""
        import cv2
        import numpy as np
        from . import grid
        try:
            rules = cv2.dilate(cv2.bitwise_or(*grid.line_masks(grid.binarise(a), scale)), np.ones((3, 3), np.uint8))
            m = int(round(float(self.rcfg.get("crop_margin", 2)) * scale))   # the cell itself, not the margin
            ok, lines = grid.cell_lines(a, rules, grid.RawCell(m, m, a.shape[1] - m, a.shape[0] - m), scale)
        except Exception:   # a picture the grid code cannot take: show it as it is
            return a
        if not ok or not lines:
            return a
        w = max(x.shape[1] for x in lines)
        return np.vstack([cv2.copyMakeBorder(x, 2, 2, 0, w - x.shape[1], cv2.BORDER_CONSTANT, value=255)
                          for x in lines])

    def _crop(self, r: dict, page: int, bbox):
        meta = next((m for m in self._sidecar(r).get("pages") or [] if m.get("number") == page), None)
        if meta is None:
            return None
        got = self._page_image(r, page, meta)
        if got is None:
            return None
        img, s = got
        m = float(self.rcfg.get("crop_margin", 2))
        H, W = img.shape[:2]
        x0, y0 = max(0, int((bbox[0] - m) * s)), max(0, int((bbox[1] - m) * s))
        x1, y1 = min(W, int((bbox[2] + m) * s + 1)), min(H, int((bbox[3] + m) * s + 1))
        cap = int(self.rcfg.get("crop_max_px", 1600))
        x1, y1 = min(x1, x0 + cap), min(y1, y0 + cap)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return img[y0:y1, x0:x1].copy(), s

    # -- writing ----------------------------------------------------------------------------
    def _writer(self) -> OutDir:
        if self._outdir is None:
            self._outdir = OutDir(self.out, self.state / f"review-{self.session}", Manifest(self.manifest_path))
        return self._outdir

    def close(self) -> None:
        if self._outdir is not None:
            self._outdir.manifest.close()
            shutil.rmtree(self.state / f"review-{self.session}", ignore_errors=True)
            self._outdir = None

    def decide(self, body: dict) -> dict:
        """Save one decision: {"doc", "kind": "cell", "key", "value"} (value null = a printed
        blank) or {"doc", "kind": "label", "index", "class"}. Returns the document."""
        if not isinstance(body, dict):
            raise BadRequest(400, "a JSON object is expected")
        name = body.get("doc")
        r = self.result(name)
        kind = body.get("kind")
        import fcntl
        with self._lock, open(self.state / "review.lock", "a") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            rev = load_reviewed(self.out, name) or {}
            review = rev.get("review") if isinstance(rev.get("review"), dict) else {}
            review.setdefault("cells", {})
            review.setdefault("labels", {})
            review.setdefault("audit", [])
            who = {"reviewer": self.reviewer, "session": self.session}
            crop = None
            if kind == "cell":
                key = body.get("key")
                if not isinstance(key, str) or not KEY_RE.match(key) or key not in (r.get("cells") or {}):
                    raise BadRequest(400, "no such cell")
                if "value" not in body:
                    raise BadRequest(400, "value missing (null marks a printed blank)")
                value = _parse_value(body.get("value"))
                c = r["cells"][key]
                prev = (review["cells"].get(key) or {}).get("value", c.get("value"))
                action = "blank" if value is None else ("confirmed" if value == c.get("value") and
                                                        type(value) is type(c.get("value")) else "corrected")
                review["cells"][key] = {"value": value, "recognised": c.get("value"), "action": action,
                                        "when": _now(), **who}
                review["audit"].append({"when": _now(), **who, "cell": key, "old": prev, "new": value,
                                        "action": action})
                if c.get("bbox") and c.get("page"):
                    crop = (f"{name}/{crop_file(key)}", int(c["page"]), c["bbox"])
                    review["cells"][key]["crop"] = f"crops/{crop[0]}"
            elif kind == "label":
                labels = self.labels_of(r, self._sidecar(r))
                idx = body.get("index")
                if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(labels):
                    raise BadRequest(400, "no such label")
                cls = body.get("class")
                known = set(all_label_classes()) | {"none", "legacy"}
                if not isinstance(cls, str) or cls not in known:
                    raise BadRequest(400, "unknown label class")
                lab = labels[idx]
                prev = (review["labels"].get(str(idx)) or {}).get("class", lab.get("class"))
                action = "confirmed" if cls == lab.get("class") else "rekeyed"
                review["labels"][str(idx)] = {"class": cls, "recognised": lab.get("class"), "text": lab.get("text"),
                                              "context": lab.get("context"), "action": action, "when": _now(), **who}
                review["audit"].append({"when": _now(), **who, "label": idx, "text": lab.get("text"),
                                        "old": prev, "new": cls, "action": action})
            else:
                raise BadRequest(400, "kind must be cell or label")
            review.update(of=f"{name}.json", source_sha256=(r.get("source") or {}).get("sha256"))
            corrected = apply_review(r, {"review": review})
            corrected["labels"] = [
                {"text": d.get("text"), "class": d["class"], "context": d.get("context"), "reviewed": d["action"]}
                for _, d in sorted(review["labels"].items(), key=lambda kv: int(kv[0]))]
            corrected["review"] = review
            w = self._writer()
            if crop is not None:
                got = self._crop(r, crop[1], crop[2])
                if got is not None:
                    import cv2
                    ok, buf = cv2.imencode(".png", got[0])
                    if ok:
                        w.write_bytes(self.folder / "crops" / crop[0], buf.tobytes(), claim=False)
                        review["cells"][key]["crop_px_per_unit"] = round(float(got[1]), 4)
                    else:
                        review["cells"][key].pop("crop", None)
                else:   # no picture of the page: the decision stands, without a crop
                    review["cells"][key].pop("crop", None)
            w.write_json(reviewed_path(self.out, name), json_safe(corrected), claim=False)
        return self.document(name)


# ----------------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    server_version = "gouji-review"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # quiet; errors are answered, not logged per request
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    # -- answers ----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "private, max-age=300" if cache else "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _host_ok(self) -> bool:
        """The Host header names this server: a loopback name, or the very address the client
        connected to (a wildcard --host); never another name (DNS rebinding)."""
        host = self.headers.get("Host", "")
        if host in self.server.hosts:
            return True
        local, port = self.connection.getsockname()[:2]
        return host in (f"{local}:{port}", f"[{local}]:{port}")

    def _route(self, method: str) -> None:
        try:
            if not self._host_ok():
                raise BadRequest(403, "unexpected Host header")
            u = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
            getattr(self, f"_{method}")(u.path, q)
        except BadRequest as e:
            self._error(e.status, str(e))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:   # a bug answers 500 and the server goes on
            try:
                self._error(500, f"{type(e).__name__}")
            except OSError:
                pass
            print(f"gouji review: {type(e).__name__}: {e}", file=sys.stderr)

    def do_GET(self):
        self._route("get")

    def do_HEAD(self):
        self._route("get")

    def do_POST(self):
        self._route("post")

    def do_PUT(self):
        self._error(405, "method not allowed")

    do_DELETE = do_PATCH = do_PUT

    # -- routes -----------------------------------------------------------------------------
    def _get(self, path: str, q: dict) -> None:
        store: Store = self.server.store
        if path in ("/", "/index.html"):
            page = (STATIC / "index.html").read_text(encoding="utf-8")
            page = page.replace("{{TOKEN}}", html.escape(self.server.token, quote=True))
            page = page.replace("{{REVIEWER}}", html.escape(store.reviewer, quote=True))
            self._send(200, page.encode("utf-8"), STATIC_TYPES["index.html"])
        elif path.startswith("/static/"):
            fname = path[len("/static/"):]
            if fname not in STATIC_TYPES or fname == "index.html":
                raise BadRequest(404, "not found")
            self._send(200, (STATIC / fname).read_bytes(), STATIC_TYPES[fname])
        elif path == "/api/queue":
            self._json({"documents": store.queue(), "reviewer": store.reviewer})
        elif path == "/api/doc":
            self._json(store.document(q.get("name", "")))
        elif path == "/api/page":
            self._send(200, store.page_png(q.get("name", ""), q.get("n", "")), "image/png", cache=True)
        elif path == "/api/crop":
            if "key" in q:
                if not KEY_RE.match(q["key"]):
                    raise BadRequest(400, "bad cell key")
                png = store.crop_png(q.get("name", ""), key=q["key"], lines=q.get("view") == "lines")
            else:
                png = store.crop_png(q.get("name", ""), label=q.get("label"), lines=q.get("view") == "lines")
            self._send(200, png, "image/png")
        else:
            raise BadRequest(404, "not found")

    def _post(self, path: str, q: dict) -> None:
        store: Store = self.server.store
        tok = self.headers.get("X-Gouji-Token", "")
        if not hmac.compare_digest(tok.encode("utf-8", "replace"), self.server.token.encode()):
            self._drain()
            raise BadRequest(403, "missing or wrong session token")
        body = self._body()
        if path == "/api/decide":
            self._json(store.decide(body))
        elif path == "/api/export":
            from .batch import refresh_tables
            self._json({"written": refresh_tables(store.out)})
        else:
            raise BadRequest(404, "not found")

    def _drain(self) -> None:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        if 0 < n <= int(self.server.store.rcfg.get("max_body", 65536)):
            self.rfile.read(n)
        else:
            self.close_connection = True

    def _body(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise BadRequest(400, "bad Content-Length")
        if n > int(self.server.store.rcfg.get("max_body", 65536)) or n < 0:
            self.close_connection = True
            raise BadRequest(413, "request body too large")
        raw = self.rfile.read(n) if n else b""
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            raise BadRequest(415, "JSON expected")
        try:
            return json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(400, "body is not JSON")


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, out: Path, host: str = "127.0.0.1", port: int = 0, reviewer: str | None = None,
                 verbose: bool = False):
        self.session = secrets.token_hex(4)
        self.token = secrets.token_urlsafe(24)
        self.store = Store(out, reviewer or os.environ.get("USER") or "reviewer", self.session)
        self.verbose = verbose
        super().__init__((host, port), Handler)
        port = self.server_address[1]
        names = {host, "127.0.0.1", "localhost"} | ({"[::1]"} if ":" in host else set())
        self.hosts = {f"{h}:{port}" for h in names}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self.store.close()


def serve(out: Path, host: str = "127.0.0.1", port: int = 0, reviewer: str | None = None) -> int:
    """Run the review server until Ctrl-C; then write the combined tables with the decisions."""
    import signal

    def stop(*_):   # kill / systemd stop: the same way out as Ctrl-C
        raise KeyboardInterrupt
    srv = ReviewServer(out, host, port, reviewer)
    signal.signal(signal.SIGTERM, stop)
    print(f"gouji review: {srv.url}  (reviewer {printable(srv.store.reviewer)}, session {srv.session}; "
          f"Ctrl-C to stop)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    from .batch import refresh_tables
    try:
        written = refresh_tables(Path(out))
        print(f"gouji review: wrote {', '.join(written)} with the reviewed values")
    except UsageError as e:
        print(f"gouji review: combined tables not rewritten: {e}", file=sys.stderr)
    return 0
