"""Synthetic corpus (training/synth): truth that keeps the balance equations except where a
misprint was injected, byte-identical output for a seed, boxes on the page and on the text."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from pipeline.export import validate
from pipeline.templates import templates
from training.synth import degrade as dg
from training.synth.build import load_config, make_document
from training.synth.truth import truth_for
from training.synth.values import draw_report, equation_failures, parse_printed

ROOT = Path(__file__).resolve().parent.parent
CFG = load_config(ROOT / "configs" / "synth.yaml")
# tests scan at 150 dpi only (speed); everything else as configured
CFG_FAST = {**CFG, "degrade": {k: {**v, "dpi": [150]} for k, v in CFG["degrade"].items()}}
SAMPLES = ROOT / "datasets" / "samples"
RENDERINGS = ["digital", "scan_light", "scan_heavy", "text"]


def failing(tpl, cells: dict) -> set[str]:
    values = {k: c["value"] for k, c in cells.items()}
    out = set()
    for e in tpl.expand_equations(set(values)):
        if abs(sum(values[k] or 0 for k in e.lhs) - sum(values[k] or 0 for k in e.rhs)) > 1e-9:
            out.add(e.name)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    docs = []
    for i, t in enumerate(["2019", "2021", "2021"]):
        make_document(f"t{i}", [11, 5, i], CFG_FAST, out, RENDERINGS, page_images="all", force={"template": t})
        docs.append(json.loads((out / f"t{i}.truth.json").read_text(encoding="utf-8")))
    return out, docs


@pytest.mark.parametrize("name", ["2019", "2021"])
def test_values_keep_equations_except_injected(name):
    tpl = templates()[name]
    n_inj = n_blank = n_single = 0
    for i in range(200):
        rv = draw_report(np.random.default_rng([3, i]), tpl, 2021, "某区司法局", CFG)
        fails = set(equation_failures(tpl, rv.values))
        injected = {e for inj in rv.injected for e in inj["equations"]}
        assert fails <= injected, (i, fails - injected)
        if rv.injected:
            n_inj += 1
            assert fails, i  # an injected misprint is visible in print
            for inj in rv.injected:
                for k in inj["keys"]:
                    assert rv.values[k] is not None  # misprinted cells are never blanked
        n_blank += bool(rv.blank_keys)
        n_single += rv.single_other
        for k in rv.blank_keys:
            assert rv.values[k] is None and rv.true_values[k] == 0
        # the printed text parses back to the value
        for k, v in rv.values.items():
            if v is not None:
                assert parse_printed(rv.texts[k]) == pytest.approx(v)
    assert 15 < n_inj < 80 and 15 < n_blank < 110
    assert (n_single > 5) == (name == "2021")


def test_truth_equations_and_schema(corpus):
    out, docs = corpus
    for t in docs:
        tpl = templates()[t["template"]]
        injected = {e for inj in t["injected"] for e in inj["equations"]}
        assert failing(tpl, t["cells"]) <= injected
        assert {c["equation"] for c in t["checks"] if not c["holds"]} == failing(tpl, t["cells"])
        assert t["status"] == ("needs_review" if t["injected"] else "ok")
        assert set(t["blank_keys"]) == {k for k, c in t["cells"].items() if c["value"] is None}
        for r in RENDERINGS:
            validate(truth_for(t, r))
        validate(truth_for(t, "scan_heavy", unit="px"))


def test_generation_is_deterministic(corpus, tmp_path):
    out, docs = corpus
    make_document("t1", [11, 5, 1], CFG_FAST, tmp_path, RENDERINGS, page_images="all", force={"template": "2021"})
    files = sorted(p.name for p in tmp_path.iterdir())
    assert any(f.endswith(".pdf") for f in files) and any(f.endswith(".txt") for f in files)
    for f in files:
        assert (tmp_path / f).read_bytes() == (out / f).read_bytes(), f


def test_boxes_inside_pages(corpus):
    out, docs = corpus
    for t in docs:
        pages = t["rendering"]["pages"]
        for k, c in t["cells"].items():
            p = pages[c["page"] - 1]
            x0, y0, x1, y1 = c["bbox"]
            assert 0 <= x0 < x1 <= p["width"] and 0 <= y0 < y1 <= p["height"], k
        for name in ("scan_light", "scan_heavy"):
            r = t["renderings"][name]
            for k, (pg, *bb) in r["cells_px"].items():
                pi = r["pages"][pg - 1]
                assert 0 <= bb[0] < bb[2] <= pi["width_px"] and 0 <= bb[1] < bb[3] <= pi["height_px"], (name, k)
            for k, (pg, *bb) in r["cells"].items():
                pi = r["pages"][pg - 1]
                assert bb[2] <= pi["width_pt"] + 0.01 and bb[3] <= pi["height_pt"] + 0.01
        # every value cell of the grid is a truth cell, and value boxes do not overlap
        vals = [g for recs in t["grid"].values() for g in recs if g["role"] == "value"]
        assert {g["key"] for g in vals} == set(t["cells"])
        by_page: dict = {}
        for g in vals:
            by_page.setdefault(g["page"], []).append(g["bbox"])
        for boxes in by_page.values():
            b = np.array(boxes)
            ix = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
            iy = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
            inter = (ix > 0.5) & (iy > 0.5)
            np.fill_diagonal(inter, False)
            assert not inter.any()


def test_digital_boxes_hold_their_text(corpus):
    """The PDF text layer inside a truth box is the printed value (boxes are exact)."""
    out, docs = corpus
    for t in docs:
        pdf = pdfium.PdfDocument(str(out / t["renderings"]["digital"]["file"]))
        checked = 0
        for k, c in t["cells"].items():
            if not c["text"]:
                continue
            page = pdf[c["page"] - 1]
            h = page.get_height()
            x0, y0, x1, y1 = c["bbox"]
            tp = page.get_textpage()
            got = tp.get_text_bounded(left=x0 + 0.5, bottom=h - y1 + 0.5, right=x1 - 0.5, top=h - y0 - 0.5)
            assert got.replace("\r", "").replace("\n", "").replace(" ", "") == c["text"].replace(" ", ""), k
            checked += 1
        assert checked > 20
        pdf.close()


def test_text_rendering_carries_values(corpus):
    out, docs = corpus
    for t in docs:
        txt = (out / t["renderings"]["text"]["file"]).read_text(encoding="utf-8")
        assert t["agency"] in txt
        nonzero = [c["text"] for c in t["cells"].values() if c["text"] not in ("", "0")]
        for s in nonzero:
            assert s in txt


def test_rotation_moves_boxes_consistently():
    box = np.array([[10.0, 20.0, 30.0, 60.0]])
    w, h = 100, 200
    b90 = dg._apply(dg._rot_matrix(90, w, h), box)
    assert b90.tolist() == [[140.0, 10.0, 180.0, 30.0]]  # (x, y) -> (h - y, x)
    b = box
    dims = (w, h)
    for _ in range(4):
        b = dg._apply(dg._rot_matrix(90, *dims), b)
        dims = dims[::-1]
    assert np.allclose(b, box)
    img = np.zeros((h, w), np.uint8)
    img[20:60, 10:30] = 255
    rot = np.rot90(img, k=-1)  # what degrade_page does for rotated_cw=90
    ys, xs = np.nonzero(rot)
    assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == [140, 10, 180, 30]


def test_committed_samples_are_complete():
    truths = sorted(SAMPLES.glob("*.truth.json"))
    seen = set()
    for tp in truths:
        t = json.loads(tp.read_text(encoding="utf-8"))
        seen.add(t["template"])
        for name in RENDERINGS:
            r = t["renderings"][name]
            data = (SAMPLES / r["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == r["sha256"], r["file"]
        imgs = t["renderings"]["scan_heavy"].get("page_images", [])
        assert imgs and all((SAMPLES / i["file"]).exists() for i in imgs)
    assert seen == {"2019", "2021"}
    assert sum(f.stat().st_size for f in SAMPLES.iterdir()) < 4.5e6


def test_build_writes_splits_manifest_and_stats(tmp_path):
    cfg = {**CFG, "quick_splits": {"train": 2, "val": 1, "test": 1}, "renderings": ["digital", "text"],
           "workers": 0}
    from training.synth.build import build
    st = build(cfg, tmp_path, quick=True, progress=False)
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man == {"train": ["train_00000", "train_00001"], "val": ["val_00000"], "test": ["test_00000"]}
    assert st["documents"] == 4 and st["docs_per_second"] > 0
    for split, ids in man.items():
        for i in ids:
            assert (tmp_path / split / f"{i}.digital.pdf").exists() and (tmp_path / split / f"{i}.text.txt").exists()
            t = json.loads((tmp_path / split / f"{i}.truth.json").read_text())
            assert set(t["renderings"]) == {"digital", "text"}
    # splits are disjoint draws: no two documents share their values
    sigs = {json.dumps(json.loads((tmp_path / s / f"{i}.truth.json").read_text())["cells"], sort_keys=True)
            for s, ids in man.items() for i in ids}
    assert len(sigs) == 4


def test_truth_for_a_page_image():
    t = json.loads((SAMPLES / "s2021_a.truth.json").read_text(encoding="utf-8"))
    img = t["renderings"]["scan_heavy"]["page_images"][0]
    r = truth_for(t, "scan_heavy", page_image=img["page"])
    validate(r)
    assert r["source"]["kind"] == "image" and r["source"]["path"] == img["file"]
    assert r["cells"] and all(c["page"] == 1 for c in r["cells"].values())
    assert any(k.startswith("requests/") for k in r["cells"])
    from PIL import Image
    w, h = Image.open(SAMPLES / img["file"]).size
    assert all(c["bbox"][2] <= w and c["bbox"][3] <= h for c in r["cells"].values())


def test_flattened_text_has_the_seed_quirks():
    """Over a few drawn reports the text renderings show the seeds' quirks: column-wise
    vertical headers (持 正 果 结), one cell per line, | rows, and the tab-row requests table."""
    from training.synth.flatten import flatten
    from training.synth.layout import plan
    tpl = templates()["2021"]
    seen = set()
    for i in range(40):
        rng = np.random.default_rng([21, i])
        rv = draw_report(rng, tpl, 2022, "某区司法局", CFG)
        lay = plan(rng, tpl, rv, CFG, "某区司法局2022年政府信息公开工作年度报告")
        txt, style = flatten(lay, rng, CFG)
        lines = txt.splitlines()
        seen.add(style["kind"])
        if any(line.replace(" | ", "\t").split("\t")[:4] == ["持", "正", "果", "结"] for line in lines):
            seen.add("column-wise header")
        if style["kind"] == "tabs":
            row = next(line for line in lines if "本年新收" in line)
            cells = [c for c in row.split("\t") if c]
            assert cells[-1] == rv.texts["requests/new_received/total"] or rv.blank_keys
    assert {"tabs", "lines", "pipes", "column-wise header"} <= seen


# -- table geometry styles (configs/synth.yaml layout.geometry, held_out_geometry) ----------------
def _geo_doc(i: int, geometry, split: int = 2, cfg=CFG):
    from training.synth.build import draw_document
    return draw_document([int(cfg["seed"]), split, i], cfg, {"geometry": geometry}, train=split == 0)


def _wrapped_labels(pdf: bytes, tables: dict, tmp_path) -> int:
    """Requests row labels that pdftotext -layout prints over two or more lines (no line holds
    the whole label; its head and tail are on nearby lines)."""
    import shutil
    import subprocess
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    f = tmp_path / "g.pdf"
    f.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(f), "-"], capture_output=True, text=True, check=True).stdout
    lines = [s.replace(" ", "") for s in text.splitlines()]
    n = 0
    for rec in tables["requests"]:
        lab = rec["text"].replace(" ", "")
        if rec["role"] != "label" or not str(rec.get("class", "")).startswith("requests.row:") or len(lab) < 8:
            continue
        if any(lab in s for s in lines):
            continue
        heads = [i for i, s in enumerate(lines) if lab[:5] in s]
        n += any(lab[-2:] in s for i in heads for s in lines[i + 1:i + 6])
    return n


def test_narrow_labels_wrap_in_pdftotext_layout(tmp_path):
    """A narrow-label document's requests row labels really wrap in what pdftotext -layout
    writes (the geometry issue #13 saw in real reports), many more than by default."""
    narrow = _geo_doc(3, ["narrow_labels"])
    assert narrow["lay"].geometry == ["narrow_labels"]
    n_narrow = _wrapped_labels(narrow["pdf"], narrow["info"]["tables"], tmp_path)
    default = _geo_doc(3, [])
    n_default = _wrapped_labels(default["pdf"], default["info"]["tables"], tmp_path)
    assert n_narrow >= 6 and n_narrow > n_default + 3, (n_narrow, n_default)


def test_narrow_columns_wrap_headers():
    """Narrow value columns wrap the applicant headers inside the column (商业企 / 业)."""
    d = _geo_doc(3, ["narrow_columns"])
    pdf = pdfium.PdfDocument(d["pdf"])
    heads = [r for r in d["info"]["tables"]["requests"] if str(r.get("class", "")).startswith("requests.col:")
             and len(r["text"]) >= 4]
    assert heads
    for r in heads:
        page = pdf[r["page"] - 1]
        h = page.get_height()
        x0, y0, x1, y1 = r["bbox"]
        got = page.get_textpage().get_text_bounded(left=x0 + 0.5, bottom=h - y1 + 0.5, right=x1 - 0.5,
                                                   top=h - y0 - 0.5)
        parts = [s for s in got.replace("\r", "").split("\n") if s.strip()]
        assert len(parts) >= 2 and "".join(parts).replace(" ", "") == r["text"].replace(" ", ""), (r["text"], got)
    pdf.close()


def test_landscape_table_page_is_wider_than_tall():
    d = _geo_doc(0, ["landscape"])
    pdf = pdfium.PdfDocument(d["pdf"])
    pages = {r["page"] for r in d["info"]["tables"]["requests"]}
    for p in pages:
        w, h = pdf[p - 1].get_size()
        assert w > h and d["info"]["pages"][p - 1]["orientation"] == "landscape"
    w, h = pdf[0].get_size()
    assert w < h                 # the title page stays portrait
    pdf.close()


def test_split_table_truth_equals_unsplit_truth():
    """Breaking the requests table over pages (page numbers, running header) changes where
    cells are, never what they say: the truth's values, texts, checks and grid are the same."""
    from training.synth.truth import base_truth
    a, b = _geo_doc(5, []), _geo_doc(5, ["split_table"])
    assert b["lay"].geometry == ["split_table"] and b["lay"].running_header
    ta, tb = (base_truth("x", d["tpl"], d["rv"], d["info"]["tables"], d["info"]["pages"], d["lay"].summary())
              for d in (a, b))
    assert {k: (c["value"], c["text"]) for k, c in ta["cells"].items()} == \
           {k: (c["value"], c["text"]) for k, c in tb["cells"].items()}
    for f in ("checks", "blank_keys", "injected", "status"):
        assert ta[f] == tb[f], f
    strip = lambda recs: [{k: v for k, v in r.items() if k not in ("page", "bbox", "fragments", "repeats")}
                          for r in recs]  # noqa: E731
    assert {t: strip(r) for t, r in ta["grid"].items()} == {t: strip(r) for t, r in tb["grid"].items()}
    req_pages = {c["page"] for k, c in tb["cells"].items() if k.startswith("requests/")}
    assert len(req_pages) >= 2
    # the boxes still hold their text on the split pages
    pdf = pdfium.PdfDocument(b["pdf"])
    for k, c in tb["cells"].items():
        if not c["text"] or not k.startswith("requests/"):
            continue
        page = pdf[c["page"] - 1]
        h = page.get_height()
        x0, y0, x1, y1 = c["bbox"]
        got = page.get_textpage().get_text_bounded(left=x0 + 0.5, bottom=h - y1 + 0.5, right=x1 - 0.5,
                                                   top=h - y0 - 0.5)
        assert got.replace("\r", "").replace("\n", "").replace(" ", "") == c["text"].replace(" ", ""), k
    # page numbers in the drawn format and the running header on a later page
    fmt = b["lay"].page_number
    text2 = pdf[1].get_textpage().get_text_range()
    assert fmt.format(n=2).replace(" ", "") in text2.replace(" ", "")
    assert b["lay"].running_header.replace(" ", "") in text2.replace(" ", "").replace("\r\n", "")
    pdf.close()


def test_held_out_geometry_never_drawn_for_train(tmp_path):
    """With every geometry style certain, train documents never get a held-out one (and cannot
    be forced to); other splits do, and their truth names them apart."""
    held = set(CFG["held_out_geometry"])
    assert held
    cfg = {**CFG, "layout": {**CFG["layout"], "geometry": {k: 1.0 for k in CFG["layout"]["geometry"]}}}
    for i in range(4):
        tr = _geo_doc(i, None, split=0, cfg=cfg)
        assert not set(tr["lay"].geometry) & held
        assert tr["lay"].header_at_foot is None and not tr["lay"].landscape_tables
        assert all(p["orientation"] == "portrait" for p in tr["info"]["pages"])
        te = _geo_doc(i, None, split=2, cfg=cfg)
        assert held <= set(te["lay"].geometry)
    with pytest.raises(ValueError, match="held-out geometry"):
        _geo_doc(0, ["landscape"], split=0)
    make_document("test_00000", [int(CFG["seed"]), 2, 0], CFG, tmp_path, ["digital"],
                  force={"geometry": ["landscape", "narrow_labels"]})
    t = json.loads((tmp_path / "test_00000.truth.json").read_text(encoding="utf-8"))
    assert t["geometry"] == ["narrow_labels", "landscape"] and t["held_out_geometry"] == ["landscape"]
    assert t["renderings"]["digital"]["held_out"] == ["landscape"]
    assert t["rendering"]["layout"]["geometry"] == t["geometry"]
