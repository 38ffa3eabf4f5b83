"""img2table + Tesseract, run in the peers environment (training/peers/img2table_tesseract.py)
for all of a split's documents at once; `Img2TableReader` turns its records into Documents,
an Extractor reader keyed by gouji's classify stage."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from .corpus import ROOT, SCANS
from .records import cells_of, grid_of, keyed_by_gouji


class Img2TableReader:
    """Reader: the peer process's record of a document (its tables' cells) as a Document;
    `records` maps a path to its record, `scanned` says which split kind they came from."""

    def __init__(self, records: dict, scanned: bool):
        self.records, self.scanned = records, scanned

    def read(self, path):
        from pipeline.model import Cell, Document, Page, Source, Table
        r = self.records[str(path)]
        doc = Document(Source(str(path), kind="scanned_pdf" if self.scanned else "digital_pdf"))
        pages = {n: Page(number=n, unit="pt") for n in range(1, r["pages"] + 1)}
        for t in r["tables"]:
            cells = [Cell(row=c["row"], col=c["col"], rowspan=c["rowspan"], colspan=c["colspan"],
                          text=c["text"], bbox=tuple(c["bbox"]), page=c["page"]) for c in t["cells"]]
            pages.setdefault(t["page"], Page(number=t["page"], unit="pt")).tables.append(
                Table(cells=cells, page=t["page"], pages=[t["page"]], aligned=True))
        doc.pages = [pages[n] for n in sorted(pages)]
        if r.get("error"):
            doc.fail(f"img2table: {r['error']}")
        return doc


def run_img2table(job: dict, emit) -> float:
    """d: img2table + Tesseract in the peers environment, cells keyed by gouji's classify."""
    from pipeline.export import to_result
    cfg = job["config"]["peers"]["img2table"]
    py = ROOT / cfg["python"]
    scanned = job["split"] in SCANS
    spec = {"psm": int(cfg["psm"]), "threads": int(cfg.get("threads", 1)), "jobs": [{"id": it["doc"], "path": it["path"], "scanned": scanned}
                                             for it in job["items"]]}
    tmp = Path(job["tmp"])
    (tmp / "i2t_jobs.json").write_text(json.dumps(spec), encoding="utf-8")
    out = tmp / "i2t_out.jsonl"
    # several Tesseract processes at once: one OpenMP thread each (Tesseract's own advice)
    env = dict(os.environ, OMP_THREAD_LIMIT=str(max(1, 2 // max(1, spec["threads"]))))
    subprocess.run([str(py), str(ROOT / "training" / "peers" / "img2table_tesseract.py"),
                    str(tmp / "i2t_jobs.json"), str(out)], check=False, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    recs, peer_peak = {}, 0.0
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if "peak_rss_mb" in r:
                peer_peak = r["peak_rss_mb"]
            else:
                recs[r["id"]] = r
    by_path = {str(Path(it["path"])): {**recs[it["doc"]], "pages": it["pages"]} for it in job["items"] if it["doc"] in recs}
    ex = keyed_by_gouji(Img2TableReader(by_path, scanned))
    for it in job["items"]:
        r = recs.get(it["doc"])
        if r is None:
            emit({"system": "img2table", "doc": it["doc"], "pages": it["pages"], "seconds": None, "cells": {},
                  "grid": [], "status": "failed", "error": "img2table process gave no result"})
            continue
        t0 = time.perf_counter()
        doc = ex.extract(it["path"])
        res = to_result(doc)
        emit({"system": "img2table", "doc": it["doc"], "pages": it["pages"],
              "seconds": r["seconds"] + time.perf_counter() - t0, "cells": cells_of(res, with_conf=False),
              "grid": grid_of(doc), "status": res["status"], "error": "; ".join(res["errors"])[:300] or None})
    return peer_peak
