"""benchmarks.md and benchmarks.png from a bench report (also `--render JSON`)."""
from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path

from .corpus import PDF_SPLITS, ROOT


def fmt(v, kind="pct"):
    if v is None:
        return "—"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "f3":
        return f"{v:.3f}"
    if kind == "s":
        return f"{v:.2f}" if v < 100 else f"{v:.0f}"
    if kind == "mb":
        return f"{v:.0f}"
    return str(v)


def versions(cfg: dict) -> dict:
    import importlib.metadata as md
    out = {"python": platform.python_version()}
    for p in ("numpy", "onnxruntime", "rapidocr", "opencv-python-headless", "scikit-learn", "scipy", "pypdfium2",
              "matplotlib"):
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    try:
        out["gouji_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                             text=True, check=False).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "pipeline", "configs",
                                "models"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.split("\n")
        dirty = [ln[3:] for ln in dirty if ln.strip()]
        if dirty and out["gouji_commit"]:
            out["gouji_commit"] += f" + uncommitted changes in {', '.join(dirty)}"
    except OSError:
        out["gouji_commit"] = None
    py = ROOT / cfg["peers"]["img2table"]["python"]
    if py.exists():
        r = subprocess.run([str(py), "-c", "import importlib.metadata as m, json; print(json.dumps("
                            "{p: m.version(p) for p in ('img2table', 'opencv-contrib-python')}))"],
                           capture_output=True, text=True, check=False)
        try:
            out.update(json.loads(r.stdout))
        except ValueError:
            pass
    if shutil.which("tesseract"):
        r = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False)
        out["tesseract"] = (r.stdout or r.stderr).splitlines()[0].split()[-1] if (r.stdout or r.stderr) else None
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "tesseract-ocr-chi-sim"], capture_output=True,
                           text=True, check=False)
        out["tesseract-ocr-chi-sim"] = r.stdout.strip() or None
    return out


SPLIT_TITLES = {"digital": "Digital PDF (text layer)", "scan_light": "Scanned, light degradation",
                "scan_heavy": "Scanned, heavy degradation (skew ≤ 3°, blur, JPEG, seals, 90/180° turns, fax look)",
                "text": "Flattened text", "seeds": "Five real flattened reports (tests/fixtures/seeds)"}


def grid_eval_markdown(ge: dict) -> list[str]:
    """The issue #4 table: gouji's read + grid stages against the truth grid, per PDF split."""
    if not ge:
        return []
    L = ["## Scans and PDFs (issue #4 figures)", "",
         "gouji's read + grid stages only (before classify and the solver), on the same documents as "
         "above, scored by `training/eval_grid.py`'s `evaluate_doc`. **tables** — truth table fragments "
         "(table × page) found (a detected table covers ≥ half of its value cells); **grid** — printed "
         "cells whose row/column span is found at the same place in the matched table; **numeric** — "
         "value cells whose top reading is right, before any solver; **in cands** — the right value is "
         "among the cell's candidate readings; **s/page** — median seconds per page of read + grid; "
         "**OCR share** — median share of those seconds spent in the recogniser; **MB** — peak "
         "resident memory of the gouji process.", "",
         "| split | tables | grid | numeric | in cands | value cells | s/page | OCR share | MB | failed |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for split in PDF_SPLITS:
        m = ge.get(split)
        if not m:
            continue
        L.append(f"| {split} | {fmt(m['table_recall'])} | {fmt(m['structure_accuracy'])} | "
                 f"{fmt(m['numeric_accuracy'])} | {fmt(m['numeric_topk_recall'])} | {m['counts']['values']} | "
                 f"{fmt(m['seconds_per_page_median'], 's')} | {fmt(m['ocr_share_median'])} | "
                 f"{fmt(m['peak_rss_mb'], 'mb')} | {m['failed']}/{m['docs']} |")
    return L + [""]


def write_markdown(report: dict, path: Path) -> None:
    cfg_sys = report["systems"]
    L = ["# Benchmarks: gouji side by side with peers", "",
         f"Run {report['date']} in mode `{report['mode']}` on {report['machine']}: "
         f"{report['n_docs']} synthetic test document(s) ({', '.join(report['docs']['test']) or 'none'}) × "
         f"{len([s for s in report['splits'] if s != 'seeds'])} renderings, plus the five real seeds. "
         "Reproduce with:", "",
         "```", report["command"], "```", "",
         "Same documents, same run, one system group per process, one process at a time. "
         "Accuracy figures are deterministic (fixed documents and seeds); seconds and memory are "
         "measured on this shared 2-core CPU and vary with its load.", "",
         "Columns: **cells** — share of printed cells whose value is right (a blank is `null`, not 0; "
         "a cell not given is wrong); **reports** — share of reports with every cell right; "
         "**keys** — share of the cells a system gave whose key is right (the cell lies in the printed "
         "cell of that key; without a location, its value must match); **grid F1** — recovered cell "
         "boxes against printed cell boxes (IoU ≥ 0.5); **ECE** — calibration error of the cell "
         "confidences (10 bins); **auto@99.5** — share of all cells that can be accepted without review "
         "while the accepted ones stay ≥ 99.5% right (best threshold on this set); **s/page** — median "
         "seconds per page (seeds: per report); **MB** — peak resident memory of the system's process.", ""]
    for split in report["splits"]:
        res = report["results"].get(split)
        if not res:
            continue
        L += [f"## {SPLIT_TITLES.get(split, split)}", "",
              "| system | cells | reports | keys | grid F1 | ECE | auto@99.5 | s/page | MB | failed |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for s in cfg_sys:
            m = res.get(s)
            if m is None:
                continue
            L.append(f"| {cfg_sys[s]} | {fmt(m['cell_accuracy'])} | {fmt(m['reports_all_right'])} | "
                     f"{fmt(m['key_accuracy'])} | {fmt(m['grid_f1'], 'f3')} | {fmt(m['ece'], 'f3')} | "
                     f"{fmt(m['auto_accept_coverage'])} | {fmt(m['seconds_per_page_median'], 's')} | "
                     f"{fmt(m['peak_rss_mb'], 'mb')} | {m['failed']}/{m['docs']} |")
        L.append("")
    if report.get("flattened"):
        L += flattened_markdown(report["flattened"])
    if report.get("joined"):
        from .joined import joined_markdown
        L += joined_markdown(report["joined"])
    if report.get("office"):
        from training.eval_office import table
        L += ["## Word documents and saved web pages", "",
              "The test reports as .docx and saved web pages (gouji's generator), and as LibreOffice and "
              "headless Chromium turn them into .doc, .docx and HTML (docs/office.md).", "",
              table(report["office"]), ""]
    L += grid_eval_markdown(report.get("grid_eval") or {})
    from .scans import scans_markdown
    L += scans_markdown(report.get("scans") or {})
    if report.get("group_times"):
        L += ["## Run time", "", "Each worker process (a system group on a split): wall seconds and CPU seconds "
              "(user + system, with its children: Tesseract, the peers environment). CPU seconds above wall "
              "seconds mean both cores were busy; wall far above CPU means the machine was shared.", "",
              "| split | group | docs | wall s | CPU s |", "|---|---|---|---|---|"]
        L += [f"| {g['split']} | {g['group']} | {g['docs']} | {g['wall_s']:.0f} | {g['cpu_s']:.0f} |"
              for g in report["group_times"]]
        L.append("")
    L += ["## Not measured", ""] + [f"- {n}" for n in report["not_measured"]] + [""]
    L += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + ["", "## Versions", ""]
    L += [f"- {k}: {v}" for k, v in report["versions"].items()]
    L += ["", f"Plot: `{Path(report['plot']).name}` (cell accuracy against median seconds per page); "
          f"every figure and per-document detail: `{Path(report['json']).name}`.", ""]
    path.write_text("\n".join(L), encoding="utf-8")


def write_plot(report: dict, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(10.5, 5.5), dpi=110)
    markers = {"digital": "o", "scan_light": "s", "scan_heavy": "^", "text": "D", "seeds": "*"}
    colors = dict(zip(report["systems"], plt.get_cmap("tab10").colors))
    for split, res in report["results"].items():
        for s, m in res.items():
            x, y = m["seconds_per_page_median"], m["cell_accuracy"]
            if x is None or y is None:
                continue
            ax.scatter(max(x, 1e-4), 100 * y, marker=markers.get(split, "o"), color=colors.get(s, "k"), s=60,
                       edgecolors="black", linewidths=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("median seconds per page (log; seeds: per report)")
    ax.set_ylabel("cell value accuracy (%)")
    ax.set_title(f"gouji vs peers — {report['date'][:10]}, mode {report['mode']}, {report['n_docs']} docs/split")
    from matplotlib.lines import Line2D
    h1 = [Line2D([], [], marker="o", ls="", color=colors[s], label=s) for s in report["systems"]]
    h2 = [Line2D([], [], marker=markers[k], ls="", color="grey", label=k) for k in report["results"]]
    leg = ax.legend(handles=h1, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, title="system",
                    title_fontsize=8)
    ax.add_artist(leg)
    ax.legend(handles=h2, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=7, title="split",
              title_fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return True


def not_measured(cfg: dict, splits: list[str], unavailable: list[str]) -> list[str]:
    """What the tables leave out, and why (written into the report)."""
    out = []
    for sp in splits:
        why = (cfg.get("skipped") or {}).get(sp) or {}
        miss = [s for s in cfg["systems"] if s not in cfg["runs"].get(sp, [])]
        by_reason: dict[str, list[str]] = {}
        for s in miss:
            by_reason.setdefault(why.get(s, "no page image to recover a table from (text input)"), []).append(s)
        for reason, syss in by_reason.items():
            out.append(f"{sp}: {', '.join(syss)} — {reason.rstrip('.')}.")
    out += [f"{s}: could not be installed on this machine." for s in unavailable]
    out += ["ECE and auto@99.5 for img2table, PP-OCR-naive and the number stream: they give no "
            "per-cell confidence.",
            "grid F1 on text inputs: flattened text has no cell boxes; the number stream recovers no grid."]
    return out


def flattened_markdown(res: dict) -> list[str]:
    """The flattened-text section: per extractor, per extractor and table geometry (held-out
    styles apart), gouji beside the number stream; and the reliability of gouji's cell
    confidences on that text (training/eval_flattened.py)."""
    from training.eval_flattened import geometry_table, reliability_table, table
    return ["## Flattened text as real extractors write it", "",
            "The digital PDFs above flattened by each tool; cells right over the requests and appeals "
            "tables and over all tables, reports with every cell right, reports `ok`, `ok` with a wrong "
            "cell, and wrong cells at or above the review threshold (0.995); the number stream on the "
            "same text (docs/flattened-text.md).", "", table(res), "",
            "### Per table geometry", "",
            "The same per table geometry style the report drew (`default`: none; held-out styles, never "
            "seen in development, apart); [in brackets] right but for cells read 0 where the report "
            "printed a blank as nothing, or the other way round.", "", geometry_table(res), "",
            "### Reliability of the confidences", "",
            "gouji's cells per confidence bin: share right (cells); auto-accepted = share of all truth "
            "cells at or above the review threshold, with their precision.", "", reliability_table(res), ""]

