"""The grid's `lines` stage of an earlier commit and of this tree, page by page in one process:
every output compared, CPU paired (issue #15, docs/speed.md session 32c).

Why: a change meant to give the same grids for less CPU must show both on every page, and on a
loaded machine CPU seconds are only comparable within one process, alternated. The base
commit's `pipeline/` and `configs/` are extracted (git archive) into a temporary folder as the
package `basepipe`; each page is rendered once and run through both: border, binarise, skew
and turn (unless `--shared-head`: then once, this tree's, and only what follows is paired),
rule masks, tables, the orientation's rule mask, the orientation's quarter turn taken from
`--cache` (an eval_scans grid cache of the base, as profile_lines), page_tables and the page's
rulings. Compared: the angle, the turned and binarised page, both masks, the rule mask, the
tables' boxes and cells, page_tables' boxes, cells, strategy and paint-out mask, the rulings
(values and types), the ink contrast. The base's grid and skew are also checked against the cache.

    nice python -m training.pair_lines --base c0b2816 --cache datasets/generated/m31/cache_h \\
        datasets/generated/s26scans/test:'test_000*.scan_heavy.pdf' [--shared-head] [--json out.json]
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _base_package(commit: str, where: Path) -> dict:
    subprocess.run(f"git -C {ROOT} archive {commit} pipeline configs | tar -x -C {where}", shell=True, check=True)
    (where / "pipeline").rename(where / "basepipe")
    sys.path.insert(0, str(where))
    return {m: importlib.import_module(f"basepipe.{m}") for m in ("grid", "grid_cells", "deskew", "page_border")}


def _head(M: dict, grey: np.ndarray, pt_px: float):
    """Border painted out, binarised, blank test, skew, turn (as grid.recover_page)."""
    C, D = M["grid_cells"], M["deskew"]
    border = M["page_border"].border_mask(grey, pt_px)
    if border is not None:
        grey = M["page_border"].paint_out(grey, border)
    binv = C.binarise(grey)
    if np.count_nonzero(binv) < C.grid_config()["blank_ink_share"] * binv.size:
        return None
    angle = D.estimate_skew(binv, grey)
    if abs(angle) >= D.skew_config()["turn_min_deg"]:
        grey = D.rotate_small(grey, angle)
        binv = C.binarise(grey)
    return grey, binv, angle


def _tail(M: dict, h, pt_px: float, rot: int, new: bool):
    """The rest of `lines`; `new`: this tree's calls (one rule mask), else the base's."""
    import cv2
    if h is None:
        return None
    grey, binv, angle = h
    C, G = M["grid_cells"], M["grid"]
    for turn in (False, True):
        if turn:
            grey = np.ascontiguousarray(np.rot90(grey, k=rot // 90))
            binv = C.binarise(grey)
        if new:
            hor, ver, rules, tables = C.rule_tables(binv, pt_px)
        else:
            hor, ver = C.line_masks(binv, pt_px)
            tables = C.find_tables(hor, ver)
            rules = cv2.dilate(cv2.bitwise_or(hor, ver), np.ones((3, 3), np.uint8)) if tables else None
        if not turn:
            orules = rules if tables else None
        if not (tables and rot):
            break
    found = G.page_tables(grey, binv, hor, ver, tables, pt_px, rules=rules) if new else \
        G.page_tables(grey, binv, hor, ver, tables, pt_px)
    return dict(angle=angle, grey=grey, binv=binv, hor=hor, ver=ver, orules=orules, tables=tables, found=found,
                segs=G._segments(hor, ver, pt_px))


def _cells(raw) -> list:
    return sorted((int(c.x0), int(c.y0), int(c.x1), int(c.y1), c.row, c.col, c.rowspan, c.colspan) for c in raw)


def differences(a, b) -> list[str]:
    if a is None or b is None:
        return [] if a is None and b is None else ["blank"]
    out = [k for k in ("grey", "binv", "hor", "ver") if a[k].dtype != b[k].dtype or not np.array_equal(a[k], b[k])]
    out += ["angle"] * (a["angle"] != b["angle"])
    if (a["orules"] is None) != (b["orules"] is None) or (a["orules"] is not None and not np.array_equal(a["orules"], b["orules"])):
        out.append("rule mask")
    if [(tuple(map(int, t)), _cells(r)) for t, r in a["tables"]] != [(tuple(map(int, t)), _cells(r)) for t, r in b["tables"]]:
        out.append("tables")
    fa = [(tuple(map(int, t)), _cells(r), how) for t, r, how, _ in a["found"]]
    fb = [(tuple(map(int, t)), _cells(r), how) for t, r, how, _ in b["found"]]
    if fa != fb or not all(np.array_equal(x[3], y[3]) for x, y in zip(a["found"], b["found"])):
        out.append("grid")
    if a["segs"] != b["segs"] or [tuple(map(type, s)) for s in a["segs"]] != [tuple(map(type, s)) for s in b["segs"]]:
        out.append("rulings")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("specs", nargs="+", help="FOLDER:GLOB of scans")
    ap.add_argument("--base", required=True, help="the commit to compare with")
    ap.add_argument("--cache", type=Path, action="append", default=[], help="eval_scans grid cache(s) of the base")
    ap.add_argument("--shared-head", action="store_true", help="border, binarise, skew, turn once (this tree's)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    from pipeline import deskew, grid, grid_cells, page_border
    from training.profile_lines import grey_pages
    N = dict(grid=grid, grid_cells=grid_cells, deskew=deskew, page_border=page_border)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        B = _base_package(a.base, Path(tmp))
        for spec in a.specs:
            folder, pattern = spec.split(":", 1)
            for f, page, img, pt_px, cached, cp, rot in grey_pages(Path(folder), pattern, a.cache):
                shared = _head(N, img, pt_px) if a.shared_head else None
                res, cpu = {}, {"base": 0.0, "new": 0.0}
                order = ("base", "new", "new", "base") if len(rows) % 2 == 0 else ("new", "base", "base", "new")
                for name in order if a.shared_head else order[:2]:
                    M = B if name == "base" else N
                    t = time.process_time()
                    h = shared if a.shared_head else _head(M, img, pt_px)
                    res[name] = _tail(M, h, pt_px, rot, name == "new")
                    cpu[name] += (time.process_time() - t) / (2 if a.shared_head else 1)
                diff = differences(res["base"], res["new"])
                g = res["base"]
                border = page_border.border_mask(img, pt_px)        # the page as the skew sees it
                painted = page_border.paint_out(img, border) if border is not None else img
                binv = grid_cells.binarise(painted)
                if B["deskew"].ink_contrast(painted, binv) != deskew.ink_contrast(painted, binv):
                    diff.append("contrast")
                same_cache = None
                if cp is not None and g:
                    mine = [(how, sorted((c.row, c.col, c.rowspan, c.colspan) for c in raw)) for _, raw, how, _ in g["found"]]
                    theirs = [(t.strategy, sorted((c.row, c.col, c.rowspan, c.colspan) for c in t.cells))
                              for t in cp.tables if t.page in (None, page.number)]
                    turn = round(g["angle"], 3) if abs(g["angle"]) >= deskew.skew_config()["turn_min_deg"] else None
                    same_cache = mine == theirs and (a.shared_head or (cp.skew or None) == turn)
                kind = "table" if g and g["found"] else "text"
                rows.append(dict(file=f.name, page=page.number, kind=kind, rot=rot, diff=diff, cache=same_cache,
                                 base=round(cpu["base"], 4), new=round(cpu["new"], 4)))
                print(f"{f.name} p{page.number} {kind} turn {rot}: {'same' if not diff else 'DIFFERS ' + ','.join(diff)}"
                      f"  base=cache {same_cache}  CPU {cpu['base']:.3f} -> {cpu['new']:.3f}", flush=True)
    for kind in ("table", "text"):
        rs = [r for r in rows if r["kind"] == kind]
        if rs:
            b, n = sum(r["base"] for r in rs), sum(r["new"] for r in rs)
            print(f"{kind}: {len(rs)} pages, identical {sum(not r['diff'] for r in rs)}, base = cache "
                  f"{sum(bool(r['cache']) for r in rs)}/{sum(r['cache'] is not None for r in rs)}; "
                  f"CPU {b / len(rs):.4f} -> {n / len(rs):.4f} s/page (x{n / max(b, 1e-9):.3f})")
    print("load average", os.getloadavg())
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0 if all(not r["diff"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
