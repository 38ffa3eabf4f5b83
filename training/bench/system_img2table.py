"""img2table + Tesseract, run in the peers environment (training/peers/img2table_tesseract.py);
its cells are keyed by gouji's classify stage."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from .corpus import ROOT, SCANS
from .records import cells_of, grid_of, key_with_gouji


def run_img2table(job: dict, emit) -> float:
    """d: img2table + Tesseract in the peers environment, cells keyed by gouji's classify."""
    from pipeline.model import Cell, Document, Page, Source, Table
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
    for it in job["items"]:
        r = recs.get(it["doc"])
        if r is None:
            emit({"system": "img2table", "doc": it["doc"], "pages": it["pages"], "seconds": None, "cells": {},
                  "grid": [], "status": "failed", "error": "img2table process gave no result"})
            continue
        t0 = time.perf_counter()
        doc = Document(Source(it["path"], kind="scanned_pdf" if scanned else "digital_pdf"))
        pages = {n: Page(number=n, unit="pt") for n in range(1, it["pages"] + 1)}
        for t in r["tables"]:
            cells = [Cell(row=c["row"], col=c["col"], rowspan=c["rowspan"], colspan=c["colspan"],
                          text=c["text"], bbox=tuple(c["bbox"]), page=c["page"]) for c in t["cells"]]
            pages.setdefault(t["page"], Page(number=t["page"], unit="pt")).tables.append(
                Table(cells=cells, page=t["page"], pages=[t["page"]], aligned=True))
        doc.pages = [pages[n] for n in sorted(pages)]
        if r.get("error"):
            doc.fail(f"img2table: {r['error']}")
            res = {"cells": {}, "status": "failed", "errors": doc.errors}
        else:
            res = key_with_gouji(doc)
        emit({"system": "img2table", "doc": it["doc"], "pages": it["pages"],
              "seconds": r["seconds"] + time.perf_counter() - t0, "cells": cells_of(res, with_conf=False),
              "grid": grid_of(doc), "status": res["status"], "error": "; ".join(res["errors"])[:300] or None})
    return peer_peak
