"""Cells right and documents ok for the natively read kinds, one split per kind:

    python -m training.eval_office --n 40 --out datasets/generated/office/test

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
from .generator_stamp import current, stamp
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


ALL_KINDS = ("docx", "html", "lo_docx", "doc", "chromium_html", "lo_xlsx", "lo_html")


def _convert(dst_dir: Path, name: str, make) -> Path | None:
    """A converted file, made once (kept under dst_dir for the next run)."""
    dst_dir.mkdir(exist_ok=True)
    got = dst_dir / name
    return got if got.exists() else make(got)


def evaluate(n: int, out: Path, kinds: set[str], cfg: dict, settings: Settings, progress: bool = True) -> dict:
    """Each kind's figures on the first n reports of the test split, written under out."""
    out.mkdir(parents=True, exist_ok=True)
    per: dict[str, list[dict]] = defaultdict(list)
    by_style: dict[str, list[dict]] = defaultdict(list)
    for i in range(n):
        doc_id = f"test_{i:05d}"
        tf = out / f"{doc_id}.truth.json"
        if not current(tf):     # made by an older generator (or never): made again
            make_document(doc_id, [int(cfg["seed"]), 2, i], cfg, out, ["docx", "html"])
            stamp(tf)
        truth = json.loads(tf.read_text(encoding="utf-8"))
        rd, rh = truth["renderings"]["docx"], truth["renderings"]["html"]
        st = rh["style"]
        html_page = rh["file"].endswith(".html")      # MHTML renditions are not converted
        hstem, dstem = Path(rh["file"]).stem, Path(rd["file"]).stem
        made = {
            "docx": lambda: out / rd["file"],
            "html": lambda: out / rh["file"],
            "chromium_html": lambda: html_page and _convert(out / "chromium", rh["file"],
                                                           lambda g: chromium_dom(out / rh["file"], g)),
            "lo_docx": lambda: html_page and _convert(out / "lo", hstem + ".docx", lambda g: lo_convert(
                out / rh["file"], g.parent, "docx:MS Word 2007 XML")),
            "lo_xlsx": lambda: html_page and _convert(out / "lo_xlsx", hstem + ".xlsx", lambda g: lo_convert(
                out / rh["file"], g.parent, "xlsx", "HTML (StarCalc)")),
            "lo_html": lambda: _convert(out / "lo_html", dstem + ".html", lambda g: lo_convert(
                out / rd["file"], g.parent, "html:HTML (StarWriter)")),
            "doc": lambda: _convert(out / "doc", dstem + ".doc", lambda g: lo_convert(out / rd["file"], g.parent, "doc")),
        }
        styles = {"docx": [k for k, v in rd["style"].items() if v],
                  "html": [f"markup={st['markup']}", f"encoding={st['encoding']}", f"container={st['container']}"]
                  + (["layout_table"] if st["layout_table"] else []) + (["chrome"] if st["chrome"] else []),
                  "chromium_html": [f"encoding={st['encoding']}", f"markup={st['markup']}"],
                  "lo_docx": [f"encoding={st['encoding']}"],
                  "lo_xlsx": [f"encoding={st['encoding']}", f"markup={st['markup']}"]}
        for kind in ALL_KINDS:
            if kind not in kinds:
                continue
            f = made[kind]()
            if not f:
                continue
            r = score(f, truth, settings)
            per[kind].append(r)
            for k in styles.get(kind, ()):
                by_style[f"{kind}:{k}"].append(r)
        if progress:
            print(f"  {i + 1}/{n}", file=sys.stderr, flush=True)
    return {"data": f"{n} reports of the synthetic test split (seed {cfg['seed']}), {out}",
            "kinds": {k: summarize(v) for k, v in per.items()},
            "styles": {k: summarize(v) for k, v in sorted(by_style.items())},
            "not_ok": {k: [r for r in v if not r["ok"]][:5] for k, v in per.items()}}


HELD_OUT = {"lo_docx", "doc", "chromium_html", "lo_xlsx", "lo_html"}   # files gouji's generator did not write


def table(res: dict) -> str:
    lines = ["| kind | made by | documents | cells right | wrong | missing | documents ok |",
             "|---|---|---|---|---|---|---|"]
    for kind, g in res["kinds"].items():
        by = "LibreOffice / Chromium (held out)" if kind in HELD_OUT else "gouji's generator"
        lines.append(f"| {kind} | {by} | {g['documents']} | {g['cells_right']:.2%} | {g['wrong']} | "
                     f"{g['missing']} | {g['documents_ok']} / {g['documents']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--out", type=Path, default=Path("datasets/generated/office/test"))
    ap.add_argument("--config", default="configs/synth.yaml")
    ap.add_argument("--doc", action="store_true", help="also .doc made by LibreOffice from the .docx")
    ap.add_argument("--no-lo", action="store_true", help="skip the LibreOffice-made held-out split")
    ap.add_argument("--chromium", action="store_true", help="also the DOM headless Chromium serialises")
    ap.add_argument("--lo-more", action="store_true", help="also LibreOffice's .xlsx of the .html and HTML of the .docx")
    ap.add_argument("--kinds", help="comma-separated subset of " + ",".join(ALL_KINDS))
    ap.add_argument("--json", type=Path, help="write the figures here")
    a = ap.parse_args(argv)
    kinds = set((a.kinds or ",".join(ALL_KINDS)).split(","))
    kinds -= {k for k, off in (("doc", not a.doc), ("lo_docx", a.no_lo), ("chromium_html", not a.chromium),
                               ("lo_xlsx", not a.lo_more), ("lo_html", not a.lo_more)) if off}
    out = evaluate(a.n, a.out, kinds, load_config(a.config), Settings())
    text = json.dumps(out, ensure_ascii=False, indent=1)
    if a.json:
        a.json.write_text(text, encoding="utf-8")
    print(table(out))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
