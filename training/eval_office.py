"""Cells right and documents ok for the natively read kinds, one split per kind:

    python -m training.eval_office --n 40 --out datasets/generated/issue16/test

* `docx`: the corpus's Word rendition (training/synth/render_docx.py, python-docx);
* `html`: its saved-web-page rendition (render_html.py: <table>, <p> cells, div grids,
  portal chrome, UTF-8/GBK/GBK without meta, MHTML);
* `lo_docx` (held out: a file gouji's own generator did not write): LibreOffice's
  `soffice --convert-to docx` of each .html rendition;
* `doc` (with --doc): LibreOffice's .doc of the .docx rendition, read back through gouji's
  own LibreOffice conversion;
* `lo_xlsx` and `lo_html` (with --lo-more, held out): LibreOffice Calc's .xlsx of each .html
  rendition (`--infilter="HTML (StarCalc)"`: merged ranges from rowspan/colspan) and
  LibreOffice Writer's HTML export of each .docx rendition;
* `chromium_html` (with --chromium, held out): the DOM headless Chromium serialises from each
  .html rendition (`chromium --headless --dump-dom`: tbody added, attributes normalised,
  written as UTF-8 whatever the page declares).

The reports are the corpus's test split (same seeds as `make data`), written under --out.
A document is `ok` when its status is what the truth says (`ok`, or `needs_review` for a
report printed with an inconsistency) and every truth cell is right.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from pipeline.export import to_result
from pipeline.run import Settings, extract

from .eval_extract import same
from .synth.build import load_config, make_document


def lo_convert(src: Path, out_dir: Path, target: str, infilter: str | None = None) -> Path | None:
    """LibreOffice's own conversion (the independent check), in a throw-away profile."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        return None
    with tempfile.TemporaryDirectory(prefix="gouji-eval-lo-") as prof:
        subprocess.run([exe, f"-env:UserInstallation={Path(prof).as_uri()}", "--headless", "--norestore",
                        *([f"--infilter={infilter}"] if infilter else []),
                        "--convert-to", target, "--outdir", str(out_dir), str(src)],
                       capture_output=True, timeout=300)
    got = out_dir / (src.stem + "." + target.split(":")[0])
    return got if got.exists() else None


def chromium_dom(src: Path, dst: Path) -> Path | None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not exe:
        return None
    with tempfile.TemporaryDirectory(prefix="gouji-eval-chromium-") as prof:
        r = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={prof}",
                            "--dump-dom", src.resolve().as_uri()], capture_output=True, timeout=300)
    if r.returncode or not r.stdout:
        return None
    dst.write_bytes(r.stdout)
    return dst


def score(f: Path, truth: dict, settings: Settings) -> dict:
    t0 = time.process_time()
    res = to_result(extract(f, settings))
    c = Counter()
    for key, cell in truth["cells"].items():
        got = res["cells"].get(key)
        c["missing" if got is None else "right" if same(got["value"], cell["value"]) else "wrong"] += 1
    want = truth["status"]
    all_right = c["wrong"] == c["missing"] == 0
    return {"file": f.name, "right": c["right"], "wrong": c["wrong"], "missing": c["missing"],
            "status": res["status"], "expected_status": want, "ok": all_right and res["status"] == want,
            "title_ok": res["agency"] == truth["agency"] and res["year"] == truth["year"],
            "cpu_s": round(time.process_time() - t0, 3), "errors": res["errors"][:2]}


def summarize(rows: list[dict]) -> dict:
    cells = sum(r["right"] + r["wrong"] + r["missing"] for r in rows)
    return {"documents": len(rows), "cells_right": round(sum(r["right"] for r in rows) / max(1, cells), 4),
            "cells": cells, "wrong": sum(r["wrong"] for r in rows), "missing": sum(r["missing"] for r in rows),
            "documents_ok": sum(r["ok"] for r in rows), "title_year_agency_right": sum(r["title_ok"] for r in rows),
            "cpu_s_per_doc": round(sum(r["cpu_s"] for r in rows) / max(1, len(rows)), 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--out", type=Path, default=Path("datasets/generated/issue16/test"))
    ap.add_argument("--config", default="configs/synth.yaml")
    ap.add_argument("--doc", action="store_true", help="also .doc made by LibreOffice from the .docx")
    ap.add_argument("--no-lo", action="store_true", help="skip the LibreOffice-made held-out split")
    ap.add_argument("--chromium", action="store_true", help="also the DOM headless Chromium serialises")
    ap.add_argument("--lo-more", action="store_true", help="also LibreOffice's .xlsx of the .html and HTML of the .docx")
    ap.add_argument("--kinds", help="comma-separated subset of docx,html,lo_docx,doc,chromium_html,lo_xlsx,lo_html")
    ap.add_argument("--json", type=Path, help="write the figures here")
    a = ap.parse_args(argv)
    cfg = load_config(a.config)
    a.out.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    per: dict[str, list[dict]] = defaultdict(list)
    by_style: dict[str, list[dict]] = defaultdict(list)
    for i in range(a.n):
        doc_id = f"test_{i:05d}"
        tf = a.out / f"{doc_id}.truth.json"
        if not tf.exists():
            make_document(doc_id, [int(cfg["seed"]), 2, i], cfg, a.out, ["docx", "html"])
        truth = json.loads(tf.read_text(encoding="utf-8"))
        rd, rh = truth["renderings"]["docx"], truth["renderings"]["html"]
        st = rh["style"]
        want = set((a.kinds or "docx,html,lo_docx,doc,chromium_html,lo_xlsx,lo_html").split(","))
        if "docx" in want:
            r = score(a.out / rd["file"], truth, settings)
            per["docx"].append(r)
            for k, v in rd["style"].items():
                if v:
                    by_style[f"docx:{k}"].append(r)
        if "html" in want:
            r = score(a.out / rh["file"], truth, settings)
            per["html"].append(r)
            for k in (f"markup={st['markup']}", f"encoding={st['encoding']}", f"container={st['container']}",
                      "layout_table" if st["layout_table"] else "", "chrome" if st["chrome"] else ""):
                if k:
                    by_style[f"html:{k}"].append(r)
        if a.chromium and "chromium_html" in want and rh["file"].endswith(".html"):
            cd = a.out / "chromium"
            cd.mkdir(exist_ok=True)
            got = cd / rh["file"]
            if got.exists() or chromium_dom(a.out / rh["file"], got):
                r = score(got, truth, settings)
                per["chromium_html"].append(r)
                by_style[f"chromium_html:encoding={st['encoding']}"].append(r)
                by_style[f"chromium_html:markup={st['markup']}"].append(r)
        if not a.no_lo and "lo_docx" in want and rh["file"].endswith(".html"):
            lo_dir = a.out / "lo"
            lo_dir.mkdir(exist_ok=True)
            got = lo_dir / (Path(rh["file"]).stem + ".docx")
            if not got.exists():
                got = lo_convert(a.out / rh["file"], lo_dir, 'docx:MS Word 2007 XML')
            if got is not None:
                r = score(got, truth, settings)
                per["lo_docx"].append(r)
                by_style[f"lo_docx:encoding={st['encoding']}"].append(r)
        if a.lo_more and "lo_xlsx" in want and rh["file"].endswith(".html"):
            xd = a.out / "lo_xlsx"
            xd.mkdir(exist_ok=True)
            got = xd / (Path(rh["file"]).stem + ".xlsx")
            if got.exists() or lo_convert(a.out / rh["file"], xd, "xlsx", "HTML (StarCalc)"):
                r = score(got, truth, settings)
                per["lo_xlsx"].append(r)
                by_style[f"lo_xlsx:encoding={st['encoding']}"].append(r)
                by_style[f"lo_xlsx:markup={st['markup']}"].append(r)
        if a.lo_more and "lo_html" in want:
            hd = a.out / "lo_html"
            hd.mkdir(exist_ok=True)
            got = hd / (Path(rd["file"]).stem + ".html")
            if got.exists() or lo_convert(a.out / rd["file"], hd, "html:HTML (StarWriter)"):
                per["lo_html"].append(score(got, truth, settings))
        if a.doc and "doc" in want:
            dd = a.out / "doc"
            dd.mkdir(exist_ok=True)
            got = dd / (Path(rd["file"]).stem + ".doc")
            if not got.exists():
                got = lo_convert(a.out / rd["file"], dd, "doc")
            if got is not None:
                per["doc"].append(score(got, truth, settings))
        print(f"  {i + 1}/{a.n}", file=sys.stderr, flush=True)
    out = {"data": f"{a.n} reports of the synthetic test split (seed {cfg['seed']}), {a.out}",
           "kinds": {k: summarize(v) for k, v in per.items()},
           "styles": {k: summarize(v) for k, v in sorted(by_style.items())},
           "not_ok": {k: [r for r in v if not r["ok"]][:5] for k, v in per.items()}}
    text = json.dumps(out, ensure_ascii=False, indent=1)
    if a.json:
        a.json.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
