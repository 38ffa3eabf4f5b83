"""The review state of one OUT folder (Store): the queue, a document's cells, labels and
equations, page pictures and crops, and decisions written atomically under a lock.
See pipeline/review.py."""
from __future__ import annotations

import functools
import json
import re
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

from .batch.options import review_threshold
from .fsname import json_safe, printable
from .outdir import Manifest, OutDir, UsageError
from .review_files import (KEY_RE, BadRequest, apply_review, batch_config, crop_file, load_reviewed, now,
                           parse_value, reviewed_path, settings)
from .templates import all_label_classes


class Store:
    """The review state of one OUT folder: results, page pictures, decisions."""

    def __init__(self, out: Path, reviewer: str, session: str):
        self.out = Path(out).resolve()
        cfg = batch_config()
        names = cfg.get("outputs", {})
        self.threshold = review_threshold()
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
                value = parse_value(body.get("value"))
                c = r["cells"][key]
                prev = (review["cells"].get(key) or {}).get("value", c.get("value"))
                action = "blank" if value is None else ("confirmed" if value == c.get("value") and
                                                        type(value) is type(c.get("value")) else "corrected")
                review["cells"][key] = {"value": value, "recognised": c.get("value"), "action": action,
                                        "when": now(), **who}
                review["audit"].append({"when": now(), **who, "cell": key, "old": prev, "new": value,
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
                                              "context": lab.get("context"), "action": action, "when": now(), **who}
                review["audit"].append({"when": now(), **who, "label": idx, "text": lab.get("text"),
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

