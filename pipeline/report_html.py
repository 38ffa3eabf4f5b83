"""The HTML report of a batch run: an index plus one page per document.

Static files only (no server, no scripts needed, nothing fetched): open OUT/report.html
from disk. A document page shows each page picture with the recovered grid and the
values overlaid — low-confidence cells orange, conflicts red, solver corrections blue,
inferred cells violet — and lists the cells to review; text inputs, which have no
picture, show the recovered tables as HTML tables with the same colours.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from urllib.parse import quote

from .fsname import printable
from .outdir import OutDir

CSS = """
body{font:14px/1.4 system-ui,"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif;margin:1.2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.4em}
table.list{border-collapse:collapse}table.list td,table.list th{border:1px solid #ccc;padding:2px 6px;
text-align:left;vertical-align:top}table.list th{background:#f3f3f3}
.badge{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
.s-ok{background:#2e7d32}.s-needs_review{background:#ef6c00}.s-failed{background:#c62828}
.s-no_tables,.s-unsupported_template{background:#757575}
.legend span{display:inline-block;margin-right:1em;padding:0 6px;border:1px solid #888}
.legend span.g{border-color:rgba(0,120,255,.8)}.legend span.f{border:2px solid rgba(0,150,0,.8)}
figure.page{position:relative;display:inline-block;margin:0 0 1.5em 0;border:1px solid #999;line-height:0}
figure.page img{display:block;width:100%;height:auto}
.g{position:absolute;box-sizing:border-box;border:1px solid rgba(0,120,255,.55)}
.f{position:absolute;box-sizing:border-box;border:2px solid rgba(0,150,0,.8)}
.f .v{position:absolute;right:1px;bottom:1px;font:11px/1 monospace;background:rgba(255,255,255,.85);
color:#003;padding:1px 2px}
.low{background:rgba(255,150,0,.5);border-color:#e65100}
.st-conflict{background:rgba(230,0,0,.5);border-color:#b00000}
.st-corrected{background:rgba(0,90,255,.35);border-color:#0d47a1}
.st-inferred{background:rgba(150,0,200,.35);border-color:#6a1b9a}
table.grid{border-collapse:collapse;margin-bottom:1em}table.grid td{border:1px solid #999;padding:2px 4px;
font-size:12px;vertical-align:top}table.grid td.key{outline:2px solid rgba(0,150,0,.8)}
td .v{display:block;font:11px monospace;color:#003}
tr.flag td{background:#fff3e0}
"""

_ORDER = {"failed": 0, "needs_review": 1, "unsupported_template": 2, "no_tables": 3, "ok": 4}


def _e(x) -> str:
    return html.escape("" if x is None else printable(str(x)), quote=True)


def _badge(status: str) -> str:
    return f'<span class="badge s-{_e(status)}">{_e(status)}</span>'


def _fmt_conf(c) -> str:
    return "" if c is None else f"{float(c):.3f}"


def _cell_classes(c: dict, thr: float) -> str:
    cls = ["f", f"st-{c.get('status', 'read')}"]
    conf = c.get("confidence")
    if c.get("status") == "conflict" or (conf is not None and conf < thr):
        cls.append("low")
    if c.get("status") == "conflict":
        cls.append("conflict")
    return " ".join(cls)


def _tooltip(key: str, c: dict) -> str:
    alts = ", ".join(f"{a}:{p:.3f}" for a, p in (c.get("alternatives") or [])[:4])
    return (f"{key}\nvalue {c.get('value')} · {c.get('status')} · confidence {_fmt_conf(c.get('confidence'))}\n"
            f"printed: {c.get('text', '')}" + (f"\nalternatives: {alts}" if alts else ""))


def _box(bbox, w: float, h: float) -> str:
    x0, y0, x1, y1 = bbox
    return (f"left:{100 * x0 / w:.3f}%;top:{100 * y0 / h:.3f}%;"
            f"width:{100 * max(0.0, x1 - x0) / w:.3f}%;height:{100 * max(0.0, y1 - y0) / h:.3f}%")


def _page_figure(meta: dict, png_rel: str, grid_cells: list[dict], fields: dict[str, dict], thr: float) -> str:
    w, h = float(meta.get("width") or 0), float(meta.get("height") or 0)
    if not w or not h:
        return ""
    disp = min(int(meta.get("png_w") or 1000), 1000)
    parts = [f'<figure class="page" data-page="{meta["number"]}" style="width:{disp}px">',
             f'<img src="{_e(png_rel)}" alt="page {meta["number"]}">']
    for c in grid_cells:
        if c.get("bbox"):
            parts.append(f'<div class="g" style="{_box(c["bbox"], w, h)}" title="{_e(c.get("text"))}"></div>')
    for key, c in fields.items():
        if c.get("bbox") and c.get("page") == meta["number"]:
            parts.append(f'<div class="{_cell_classes(c, thr)}" data-key="{_e(key)}" '
                         f'style="{_box(c["bbox"], w, h)}" title="{_e(_tooltip(key, c))}">'
                         f'<span class="v">{_e(c.get("value"))}</span></div>')
    parts.append("</figure>")
    return "\n".join(parts)


def _html_table(t: dict, fields: dict[str, dict], thr: float) -> str:
    """A recovered table (text inputs): the printed grid, keyed cells coloured like the overlay."""
    rows: dict[int, list[dict]] = {}
    for c in t.get("cells", []):
        rows.setdefault(c["r"], []).append(c)
    out = [f'<p>{_e(t.get("title") or "")} <small>{_e(t.get("kind") or "")} '
           f'{_e(t.get("template") or "")}</small></p><table class="grid">']
    for r in sorted(rows):
        out.append("<tr>")
        for c in sorted(rows[r], key=lambda c: c["c"]):
            span = (f' rowspan="{c["rs"]}"' if c.get("rs", 1) > 1 else "") + \
                   (f' colspan="{c["cs"]}"' if c.get("cs", 1) > 1 else "")
            f = fields.get(c.get("key") or "")
            if f is not None:
                cls = _cell_classes(f, thr).replace("f ", "key ", 1)
                out.append(f'<td class="{cls}"{span} data-key="{_e(c["key"])}" title="{_e(_tooltip(c["key"], f))}">'
                           f'{_e(c.get("text"))}<span class="v">= {_e(f.get("value"))}</span></td>')
            else:
                out.append(f"<td{span}>{_e(c.get('text'))}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _pivot_tables(cells: dict[str, dict], thr: float) -> str:
    """The result as printed tables: canonical keys table/row/column back into grids."""
    groups: dict[str, tuple[list[str], list[str], dict]] = {}
    for key, c in cells.items():
        parts = key.split("/")
        if len(parts) != 3:
            continue
        rows, cols, grid = groups.setdefault(parts[0], ([], [], {}))
        if parts[1] not in rows:
            rows.append(parts[1])
        if parts[2] not in cols:
            cols.append(parts[2])
        grid[(parts[1], parts[2])] = (key, c)
    out = []
    for name, (rows, cols, grid) in groups.items():
        out.append(f'<h2>{_e(name)}</h2><table class="grid"><tr><td></td>' +
                   "".join(f"<td><b>{_e(c)}</b></td>" for c in cols) + "</tr>")
        for r in rows:
            out.append(f"<tr><td><b>{_e(r)}</b></td>")
            for col in cols:
                kc = grid.get((r, col))
                if kc is None:
                    out.append("<td></td>")
                    continue
                key, c = kc
                cls = _cell_classes(c, thr).replace("f ", "key ", 1)
                out.append(f'<td class="{cls}" data-key="{_e(key)}" title="{_e(_tooltip(key, c))}">'
                           f'{_e(c.get("value"))}</td>')
            out.append("</tr>")
        out.append("</table>")
    return "".join(out)


def _legend(thr: float) -> str:
    return ('<p class="legend"><span class="g" style="position:static">recovered grid</span>'
            '<span class="f" style="position:static">value read</span>'
            f'<span class="low" style="position:static">confidence &lt; {thr:g}</span>'
            '<span class="st-conflict" style="position:static">printed inconsistency (conflict)</span>'
            '<span class="st-corrected" style="position:static">corrected by the solver</span>'
            '<span class="st-inferred" style="position:static">inferred</span></p>')


def document_page(result: dict, sidecar: dict | None, thumbs: dict[str, str], thr: float, index_rel: str) -> str:
    """HTML of one document (thumbs: page number → image path relative to this page)."""
    src = result.get("source", {})
    cells = result.get("cells") or {}
    b = result.get("batch") or {}
    head = [f"<!doctype html><html lang=zh data-thr=\"{thr:g}\"><head><meta charset=utf-8><title>{_e(Path(src.get('path', '')).name)}"
            f" · gouji</title><style>{CSS}</style></head><body>",
            f'<p><a href="{_e(index_rel)}">← run report</a></p>',
            f"<h1>{_e(src.get('path'))}</h1>",
            f"<p>{_badge(result.get('status', ''))} confidence {_fmt_conf(result.get('confidence'))} · "
            f"{_e(result.get('agency') or 'agency unknown')} · {_e(result.get('year') or 'year unknown')} · "
            f"template {_e(result.get('template') or '—')} · {_e(src.get('kind'))} · {len(cells)} cells</p>"]
    if b.get("duplicate_of"):
        head.append(f"<p>Same content as <b>{_e(b['duplicate_of'])}</b>: result copied, not read again.</p>")
    for err in result.get("errors") or []:
        head.append(f'<p style="color:#b00000"><b>error:</b> {_e(err)}</p>')
    warns = [w for w in result.get("warnings") or [] if w]
    if warns:
        head.append("<details><summary>warnings</summary><ul>" + "".join(f"<li><pre>{_e(w)}</pre></li>"
                                                                          for w in warns) + "</ul></details>")
    body = []
    if cells or (sidecar and sidecar.get("tables")):
        body.append(_legend(thr))
    pages = {p["number"]: p for p in (sidecar or {}).get("pages", [])}
    grid_by_page: dict[int, list[dict]] = {}
    for t in (sidecar or {}).get("tables", []):
        for c in t.get("cells", []):
            if c.get("page") is not None:
                grid_by_page.setdefault(c["page"], []).append(c)
    shown = False
    for num in sorted(int(k) for k in thumbs):
        meta = pages.get(num)
        if meta:
            fig = _page_figure(meta, thumbs[str(num)], grid_by_page.get(num, []), cells, thr)
            if fig:
                body.append(f"<h2>page {num}</h2>{fig}")
                shown = True
    if not shown:
        body.append(_pivot_tables(cells, thr))
        raw = (sidecar or {}).get("tables", [])
        if raw:
            body.append(f"<details><summary>recovered tables as printed ({len(raw)})</summary>" +
                        "".join(_html_table(t, cells, thr) for t in raw) + "</details>")
    flagged = sorted(((k, c) for k, c in cells.items()
                      if c.get("status") == "conflict" or (c.get("confidence") or 0) < thr),
                     key=lambda kc: kc[1].get("confidence") or 0)
    if flagged:
        body.append(f"<h2>to review ({len(flagged)})</h2><table class=list><tr><th>key</th><th>value</th>"
                    "<th>confidence</th><th>status</th><th>page</th><th>printed</th><th>alternatives</th></tr>")
        for k, c in flagged:
            alts = ", ".join(f"{a} ({p:.3f})" for a, p in (c.get("alternatives") or [])[:4])
            body.append(f'<tr class=flag data-key="{_e(k)}"><td>{_e(k)}</td><td>{_e(c.get("value"))}</td>'
                        f'<td>{_fmt_conf(c.get("confidence"))}</td><td>{_e(c.get("status"))}</td>'
                        f'<td>{_e(c.get("page"))}</td><td>{_e(c.get("text"))}</td><td>{_e(alts)}</td></tr>')
        body.append("</table>")
    told = [c for c in result.get("checks") or [] if c.get("kind") == "narrative"]
    if told:
        body.append(f"<h2>counts the text states ({len(told)})</h2><table class=list><tr><th>holds</th><th>key</th>"
                    "<th>table</th><th>text</th><th>sentence</th></tr>" +
                    "".join(f'<tr{"" if c.get("holds") else " class=flag"}><td>{"yes" if c.get("holds") else "NO"}</td>'
                            f'<td>{_e(c.get("key"))}</td><td>{_e(c.get("value"))}</td><td>{_e(c.get("stated"))}</td>'
                            f'<td>{_e(c.get("sentence"))}</td></tr>' for c in told) + "</table>")
    checks = [c for c in result.get("checks") or [] if not c.get("holds") and c.get("kind") != "narrative"]
    if checks:
        body.append("<h2>equations that do not hold</h2><ul>" +
                    "".join(f"<li>{_e(c['equation'])}" + (f" ({_e(c.get('lhs'))} ≠ {_e(c.get('rhs'))})"
                                                           if "lhs" in c else "") + "</li>" for c in checks) + "</ul>")
    if cells:
        body.append(f"<details><summary>all cells ({len(cells)})</summary><table class=list><tr><th>key</th>"
                    "<th>value</th><th>confidence</th><th>status</th></tr>" +
                    "".join(f"<tr><td>{_e(k)}</td><td>{_e(c.get('value'))}</td><td>{_fmt_conf(c.get('confidence'))}"
                            f"</td><td>{_e(c.get('status'))}</td></tr>" for k, c in cells.items()) +
                    "</table></details>")
    return "\n".join(head + body + ["</body></html>"])


def _url(rel: str) -> str:
    """A relative link that survives any file name (spaces, #, ?, %, Chinese, bytes that are not UTF-8)."""
    return quote(os.fsencode(rel.replace(os.sep, "/")), safe="/")


def _fresh(page: Path, result: Path, thr: float) -> bool:
    """A document page newer than its result (same threshold) needs no rewrite: big runs stay quick."""
    try:
        return page.stat().st_mtime_ns > result.stat().st_mtime_ns and \
            f'data-thr="{thr:g}"' in page.read_text(encoding="utf-8")[:200]
    except OSError:
        return False


def write_report(outdir: OutDir, docs: list[dict], summary: dict, report_dir: Path, report: Path,
                 thr: float) -> Path:
    """Write report_dir/<name>.html for every document and the index `report`, through
    `outdir` (a file there that gouji did not write keeps its place; ours goes elsewhere)."""
    out, report_dir = outdir.root, Path(report_dir)
    report = outdir.claim(report)
    rows = []
    for d in docs:
        r, name = d["result"], d["name"]
        b = r.get("batch") or {}
        page_file = outdir.claim(report_dir / f"{name}.html")
        sidecar = None
        if b.get("sidecar") and not _fresh(page_file, out / d["file"], thr):
            try:
                sidecar = json.loads((out / b["sidecar"]).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                sidecar = None
        thumbs = {k: _url(os.path.relpath(out / v, report_dir)) for k, v in (b.get("thumbs") or {}).items()
                  if (out / v).exists()}
        if not _fresh(page_file, out / d["file"], thr):
            outdir.write_text(page_file, document_page(r, sidecar, thumbs, thr,
                                                      _url(os.path.relpath(report, report_dir))), claim=False)
        cells = r.get("cells") or {}
        n_flag = sum(1 for c in cells.values() if c.get("status") == "conflict" or (c.get("confidence") or 0) < thr)
        rows.append((_ORDER.get(r.get("status"), 9), r.get("confidence") if r.get("confidence") is not None else -1,
                     r["source"]["path"], r, _url(os.path.relpath(page_file, report.parent)), n_flag, b))
    rows.sort(key=lambda x: (x[0], x[1], x[2]))
    t = summary.get("timings", {})
    mem = summary.get("memory", {})
    counts = " · ".join(f"{_badge(k)} {v}" for k, v in summary.get("counts", {}).items())
    html_rows = []
    for _, _, src, r, rel, n_flag, b in rows:
        html_rows.append(f'<tr><td><a href="{_e(rel)}">{_e(src)}</a></td><td>{_badge(r.get("status", ""))}</td>'
                         f'<td>{_fmt_conf(r.get("confidence"))}</td><td>{_e(r.get("agency"))}</td>'
                         f'<td>{_e(r.get("year"))}</td><td>{_e(r.get("template"))}</td><td>{_e(b.get("pages"))}</td>'
                         f'<td>{len(r.get("cells") or {})}</td><td>{n_flag}</td>'
                         f'<td>{_e(b.get("duplicate_of") or "")}</td><td>{_e("; ".join(r.get("errors") or []))}</td></tr>')
    skipped = summary.get("skipped") or []
    doc = [f"<!doctype html><html lang=zh><head><meta charset=utf-8><title>gouji run report</title>"
           f"<style>{CSS}</style></head><body><h1>gouji run report</h1>",
           f"<p>{summary.get('documents', 0)} documents: {counts}</p>",
           f"<p>{summary.get('processed_now', 0)} read in this run, {summary.get('already_done', 0)} already done; "
           f"{_e(t.get('pages'))} pages in {_e(t.get('wall_s'))} s ({_e(t.get('pages_per_min'))} pages/min); "
           f"engine {_e(summary.get('engine'))}, workers {_e(summary.get('workers'))}; "
           f"peak worker memory {_e(mem.get('peak_worker_rss_mb'))} MB; "
           f"{summary.get('review_cells', 0)} cells to review (review_queue.csv).</p>",
           "<table class=list><tr><th>document</th><th>status</th><th>confidence</th><th>agency</th><th>year</th>"
           "<th>template</th><th>pages</th><th>cells</th><th>to review</th><th>duplicate of</th><th>reason</th></tr>",
           *html_rows, "</table>"]
    cross = summary.get("cross_checks") or {}
    if cross.get("evaluated"):
        bad = cross.get("list") or []
        doc.append(f"<h2>cross-checks: {cross.get('mismatches', 0)} of {cross['evaluated']} do not hold</h2>"
                   "<p>Counts the reports' text states against their tables, and each agency's year N−1 "
                   "against year N (cross_checks.csv). Printed values are never changed to make them hold.</p>")
        if bad:
            doc.append("<table class=list><tr><th>kind</th><th>check</th><th>agency</th><th>document (year)</th>"
                       "<th>cells</th><th>value</th><th>against</th><th>cells</th><th>value</th></tr>" +
                       "".join(f'<tr class=flag><td>{_e(c.get("kind"))}</td><td>{_e(c.get("check"))}</td>'
                               f'<td>{_e(c.get("agency"))}</td><td>{_e(c.get("source_a"))} ({_e(c.get("year_a"))})</td>'
                               f'<td>{_e(c.get("keys_a"))}</td><td>{_e(c.get("value_a"))}</td>'
                               f'<td>{_e(c.get("source_b"))} ({_e(c.get("year_b"))})'
                               + (f'<br>「{_e(c.get("sentence"))}」' if c.get("sentence") else "") + "</td>"
                               f'<td>{_e(c.get("keys_b"))}</td><td>{_e(c.get("value_b"))}</td></tr>' for c in bad)
                       + "</table>")
    if skipped:
        doc.append(f"<h2>not documents ({len(skipped)})</h2><ul>" +
                   "".join(f"<li>{_e(s['path'])}: {_e(s['reason'])}</li>" for s in skipped) + "</ul>")
    doc.append("</body></html>")
    return outdir.write_text(report, "\n".join(doc), claim=False)   # claimed above
