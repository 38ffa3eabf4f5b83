"""Peer (d): img2table 2.0.0 (OpenCV ruled-table recovery) with Tesseract chi_sim OCR.

Runs as a script under the separate peers environment (.venv/peers: img2table needs
opencv-contrib-python, which must not replace the project's opencv-python-headless), so
it imports nothing from gouji. It writes one JSON line per PDF: every recovered table as
cells (row, col, rowspan, colspan, text, bbox in PDF points, page) plus the seconds it
took; a last line carries the process's peak memory (itself and Tesseract).
Key mapping is done afterwards by gouji's own classify stage (training/bench/), so only
table recovery and OCR differ from gouji.

    .venv/peers/bin/python training/peers/img2table_tesseract.py jobs.json out.jsonl
jobs.json: {"psm": 11, "threads": 2, "jobs": [{"id": ..., "path": ..., "scanned": true}, ...]}
"""
from __future__ import annotations

import json
import resource
import sys
import time

DPI = 200  # img2table renders PDF pages at 200 dpi


def cells_of(table, page: int) -> list[dict]:
    """img2table repeats a merged cell in every row/column it spans: fold them back."""
    seen: dict[tuple, dict] = {}
    for r, row in table.content.items():
        for c, cell in enumerate(row):
            b = cell.bbox
            k = (b.x1, b.y1, b.x2, b.y2)
            if k in seen:
                e = seen[k]
                e["rowspan"] = max(e["rowspan"], r - e["row"] + 1)
                e["colspan"] = max(e["colspan"], c - e["col"] + 1)
                continue
            s = 72.0 / DPI
            seen[k] = {"row": int(r), "col": int(c), "rowspan": 1, "colspan": 1,
                       "text": (cell.value or "").strip(), "page": page,
                       "bbox": [round(b.x1 * s, 2), round(b.y1 * s, 2), round(b.x2 * s, 2), round(b.y2 * s, 2)]}
    return list(seen.values())


def peak_mb() -> float:
    """Peak resident memory of this process (VmHWM) or of a Tesseract child, whichever is larger."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    try:
        with open("/proc/self/status") as fh:
            own = next(int(l.split()[1]) / 1024.0 for l in fh if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)


def main(argv: list[str]) -> int:
    from img2table.document import PDF
    from img2table.ocr import TesseractOCR
    spec = json.loads(open(argv[0], encoding="utf-8").read())
    ocr = TesseractOCR(n_threads=int(spec.get("threads", 1)), lang="chi_sim", psm=int(spec.get("psm", 11)))
    with open(argv[1], "w", encoding="utf-8") as out:
        for job in spec["jobs"]:
            t0 = time.perf_counter()
            rec = {"id": job["id"], "tables": [], "error": None}
            try:
                doc = PDF(src=job["path"], detect_rotation=bool(job.get("scanned")),
                          pdf_text_extraction=not job.get("scanned"))
                found = doc.extract_tables(ocr=ocr, implicit_rows=False, implicit_columns=False,
                                           borderless_tables=False, min_confidence=50)
                for pidx, tables in sorted(found.items()):
                    for t in tables:
                        rec["tables"].append({"page": int(pidx) + 1, "cells": cells_of(t, int(pidx) + 1)})
            except Exception as e:  # a peer failing on one document is a result, not a crash
                rec["error"] = f"{type(e).__name__}: {e}"
            rec["seconds"] = time.perf_counter() - t0
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()
        out.write(json.dumps({"peak_rss_mb": peak_mb()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
