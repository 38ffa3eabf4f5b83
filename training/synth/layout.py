"""Logical layout of a synthetic report: the three tables as grids of (merged) cells in the
official layouts, with the wording, numbering and width choices of one seeded draw, and
the flow of title, body text and section titles around them.

Table geometry styles (GEOMETRY, configs/synth.yaml layout.geometry) are drawn per document:
narrow label columns, narrow value columns, tables split over pages, a header at the foot of
a page, landscape table pages; held_out_geometry are never drawn for the train split.

Every label cell carries its classifier class (pipeline.templates.label_classes names) and
every value cell its canonical key, so renderers can write exact truth.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.templates import Template, label_classes

from .values import ReportValues, request_rows


@dataclass
class GCell:
    row: int
    col: int
    text: str
    role: str = "label"          # header | label | value | note | empty
    rowspan: int = 1
    colspan: int = 1
    key: str | None = None       # canonical key of a value cell
    cls: str | None = None       # classifier class of a label cell
    align: str = "left"          # left | center | right


@dataclass
class LTable:
    kind: str                    # active | requests | appeals
    cells: list[GCell]
    n_rows: int
    n_cols: int
    header_rows: int
    col_weights: list[float]
    width_frac: float = 1.0      # share of the text width the table takes
    font_size: float = 9.0
    col_em: float | None = None  # fixed inner column width in font sizes (narrow tables)
    # geometry styles: inner widths (font sizes) of some columns, never narrower than their
    # widest value; the rest share what is left by col_weights
    fixed_em: dict[int, float] = field(default_factory=dict)
    break_before: int | None = None   # a body row that starts a new page (split_table)


@dataclass
class Block:
    kind: str                    # title | heading | para | table | break | sign
    text: str = ""
    table: LTable | None = None
    landscape: bool | None = None


@dataclass
class DocLayout:
    font: str
    font_path: str
    font_index: int
    body_size: float
    table_size: float
    title_size: float
    margin: float
    landscape: bool
    line_width: float
    repeat_header: bool
    value_align: str
    narrow_appeals: bool
    landscape_tables: bool
    header_at_foot: str | None = None   # table kind whose header rows end a page, body on the next
    geometry: list[str] = field(default_factory=list)   # table geometry styles (GEOMETRY) of this document
    page_number: str = "— {n} —"        # footer format ({n}: page number)
    running_header: str | None = None   # text at the top of every page after the first
    running_rule: bool = False          # a rule under the running header
    blocks: list[Block] = field(default_factory=list)

    def summary(self) -> dict:
        return {"font": self.font, "body_size": self.body_size, "table_size": self.table_size,
                "title_size": self.title_size, "margin": self.margin, "landscape": self.landscape,
                "landscape_tables": self.landscape_tables, "line_width": self.line_width,
                "repeat_header": self.repeat_header, "value_align": self.value_align,
                "narrow_appeals": self.narrow_appeals, "header_at_foot": self.header_at_foot,
                "geometry": list(self.geometry), "page_number": self.page_number,
                "running_header": self.running_header}


# table geometry styles (configs/synth.yaml layout.geometry): what each does is in the config
GEOMETRY = ("narrow_labels", "narrow_columns", "split_table", "header_at_foot", "landscape")


def _choice(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _pick(rng, weights: dict):
    names = list(weights)
    p = np.array([float(weights[n]) for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


class Wording:
    """Printed label texts of one report: template label or a variant, numbering style."""

    def __init__(self, rng, tpl: Template, cfg: dict):
        self.rng, self.tpl, self.lc = rng, tpl, cfg["layout"]
        self.classes = label_classes(tpl)
        self.half = rng.random() < self.lc["halfwidth_parens_p"]
        self.space = rng.random() < self.lc["number_space_p"]

    def label(self, cls: str) -> str:
        texts = list(self.classes.get(cls, ()))
        extra = [t for t in self.lc["extra_variants"].get(cls, []) if t not in texts]
        out = texts[0]
        if len(texts) + len(extra) > 1 and self.rng.random() < self.lc["variant_p"]:
            out = _choice(self.rng, texts[1:] + extra)
        return self.noisy(out)

    def noisy(self, s: str) -> str:
        """Printed typos real reports have: a stray space inside a label, a dropped char."""
        if len(s) >= 4 and self.rng.random() < self.lc["label_space_p"]:
            i = int(self.rng.integers(1, len(s) - 1))
            s = s[:i] + " " + s[i:]
        if len(s) >= 7 and self.rng.random() < self.lc["label_drop_char_p"]:
            i = int(self.rng.integers(2, len(s) - 1))
            s = s[:i] + s[i + 1:]
        return s

    def number(self, num: str | None) -> str:
        if not num:
            return ""
        if num.startswith("（") or num.startswith("("):
            inner = num.strip("（）() ")
            return f"({inner}) " if self.half else f"（{inner}）"
        if num.isdigit():
            return f"{num}." + (" " if self.space else "")
        return f"{num}、"

    def paren(self, numeral: str) -> str:
        return self.number(f"（{numeral}）")


# -- tables -------------------------------------------------------------------------------------
def active_table(rng, tpl: Template, rv: ReportValues, w: Wording, cfg: dict) -> LTable:
    ncol = max(len(s.columns) for s in tpl.sections)
    cells: list[GCell] = []
    r = 0
    item = cfg["layout"]["item_header"]
    for s in tpl.sections:
        cells.append(GCell(r, 0, s.label, "header", colspan=ncol + 1, cls=f"active.section:{s.key}", align="left"))
        r += 1
        cells.append(GCell(r, 0, item, "header", align="center"))
        n = len(s.columns)
        single = n == 1
        for j, c in enumerate(s.columns):
            span = ncol if single else 1
            cells.append(GCell(r, 1 + j, w.label(f"active.col:{c.key}"), "header", colspan=span,
                               cls=f"active.col:{c.key}", align="center"))
        if not single:
            for j in range(n, ncol):
                cells.append(GCell(r, 1 + j, "", "empty"))
        r += 1
        for row in s.rows:
            cells.append(GCell(r, 0, w.label(f"active.row:{s.key}.{row.key}"), "label",
                               cls=f"active.row:{s.key}.{row.key}", align="center"))
            for j, c in enumerate(s.columns):
                k = f"active/{s.key}.{row.key}/{c.key}"
                cells.append(GCell(r, 1 + j, rv.texts[k], "value", colspan=ncol if single else 1, key=k))
            if not single:
                for j in range(n, ncol):
                    cells.append(GCell(r, 1 + j, "", "empty"))
            r += 1
        extra = cfg["layout"]["extra_rows"].get(s.key)
        if extra and rng.random() < cfg["layout"]["extra_row_p"]:
            # a local addition (e.g. 其他主动公开文件): printed, but no canonical key
            cells.append(GCell(r, 0, _choice(rng, extra), "label", cls="unmapped", align="center"))
            for j in range(ncol if not single else 1):
                v = int(rng.poisson(6)) if rng.random() < 0.6 else 0
                cells.append(GCell(r, 1 + j, str(v), "extra", colspan=ncol if single else 1))
            r += 1
    lab_w = float(rng.uniform(1.1, 1.8))
    return LTable("active", cells, r, ncol + 1, 0, [lab_w] + [1.0] * ncol,
                  width_frac=float(rng.uniform(0.85, 1.0)))


def requests_table(rng, tpl: Template, rv: ReportValues, w: Wording, cfg: dict) -> LTable:
    lc = cfg["layout"]
    group = lc["group_label"]
    numerals = lc["numerals"]
    cols = tpl.request_columns
    cells: list[GCell] = []
    L = 3  # label columns: group | sub-group | item
    nv = len(cols)
    corner = lc["corner_note"] if rng.random() < 0.8 else ""
    cells.append(GCell(0, 0, corner, "note", rowspan=3, colspan=L, align="center"))
    cells.append(GCell(0, L, lc["applicant_header"], "header", colspan=nv, align="center"))
    j = 0
    while j < nv:
        c = cols[j]
        if c.parent is None:
            cells.append(GCell(1, L + j, w.label(f"requests.col:{c.key}"), "header", rowspan=2,
                               cls=f"requests.col:{c.key}", align="center"))
            j += 1
            continue
        k = j
        while k < nv and cols[k].parent == c.parent:
            cells.append(GCell(2, L + k, w.label(f"requests.col:{cols[k].key}"), "header",
                               cls=f"requests.col:{cols[k].key}", align="center"))
            k += 1
        cells.append(GCell(1, L + j, c.parent, "header", colspan=k - j, align="center"))
        j = k
    rows = request_rows(tpl, rv.single_other)
    labels = {r.key: r for r in tpl.request_rows}
    r0 = 3
    # group spans: rows under the result group (direct children and sub-group items)
    in_group = [labels[k].parent is not None for k in rows]
    g_first = in_group.index(True)
    g_last = len(in_group) - 1 - in_group[::-1].index(True)
    last_top = None
    last_paren = 0
    i = 0
    while i < len(rows):
        key = rows[i]
        lab = labels[key]
        rr = r0 + i
        if lab.parent is None:
            cells.append(GCell(rr, 0, w.number(lab.number) + w.label(f"requests.row:{key}"), "label",
                               colspan=L, cls=f"requests.row:{key}"))
            last_top = lab.number
            i += 1
        elif lab.parent == group:
            if i == g_first:
                idx = numerals.index(last_top) + 1 if last_top in numerals else 2
                cells.append(GCell(rr, 0, f"{numerals[idx]}、{group}", "label", rowspan=g_last - g_first + 1,
                                   align="center"))
            num = lab.number.strip("（）()")
            if num in numerals:
                last_paren = numerals.index(num)
            cells.append(GCell(rr, 1, w.number(lab.number) + w.label(f"requests.row:{key}"), "label",
                               colspan=2, cls=f"requests.row:{key}"))
            i += 1
        else:
            if i == g_first:
                idx = numerals.index(last_top) + 1 if last_top in numerals else 2
                cells.append(GCell(rr, 0, f"{numerals[idx]}、{group}", "label", rowspan=g_last - g_first + 1,
                                   align="center"))
            k = i
            while k < len(rows) and labels[rows[k]].parent == lab.parent:
                k += 1
            last_paren += 1
            cells.append(GCell(rr, 1, w.paren(numerals[last_paren]) + lab.parent, "label", rowspan=k - i,
                               align="center"))
            for m in range(i, k):
                key2 = rows[m]
                cells.append(GCell(r0 + m, 2, w.number(labels[key2].number) + w.label(f"requests.row:{key2}"),
                                   "label", cls=f"requests.row:{key2}"))
            i = k
    for i, key in enumerate(rows):
        for j, c in enumerate(cols):
            k = f"requests/{key}/{c.key}"
            cells.append(GCell(r0 + i, L + j, rv.texts[k], "value", key=k))
    g = float(rng.uniform(1.0, 1.6))
    weights = [g, float(rng.uniform(3.0, 5.0)), float(rng.uniform(6.0, 9.0))] + [float(rng.uniform(2.0, 2.8))] * nv
    return LTable("requests", cells, r0 + len(rows), L + nv, 3, weights, width_frac=1.0)


def appeals_table(rng, tpl: Template, rv: ReportValues, w: Wording, cfg: dict, narrow: bool) -> LTable:
    groups = tpl.appeal_groups
    cols = tpl.appeal_columns
    nc = len(cols)
    cells: list[GCell] = []
    i = 0
    while i < len(groups):
        g = groups[i]
        c0 = i * nc
        if g.parent is None:
            cells.append(GCell(0, c0, w.label(f"appeals.group:{g.key}"), "header", colspan=nc, align="center",
                               cls=f"appeals.group:{g.key}"))
            for j, c in enumerate(cols):
                cells.append(GCell(1, c0 + j, w.label(f"appeals.col:{c.key}"), "header", rowspan=2, align="center",
                                   cls=f"appeals.col:{c.key}"))
            i += 1
            continue
        k = i
        while k < len(groups) and groups[k].parent == g.parent:
            gk = groups[k]
            cells.append(GCell(1, k * nc, w.label(f"appeals.group:{gk.key}"), "header", colspan=nc, align="center",
                               cls=f"appeals.group:{gk.key}"))
            for j, c in enumerate(cols):
                cells.append(GCell(2, k * nc + j, w.label(f"appeals.col:{c.key}"), "header", align="center",
                                   cls=f"appeals.col:{c.key}"))
            k += 1
        cells.append(GCell(0, c0, g.parent, "header", colspan=(k - i) * nc, align="center"))
        i = k
    for gi, g in enumerate(groups):
        for j, c in enumerate(cols):
            k = f"appeals/{g.key}/{c.key}"
            cells.append(GCell(3, gi * nc + j, rv.texts[k], "value", key=k))
    n = len(groups) * nc
    # narrow: columns about one character wide, so 结果维持 wraps one char per line
    col_em = float(rng.uniform(1.05, 1.6)) if narrow else None
    return LTable("appeals", cells, 4, n, 3, [1.0] * n, col_em=col_em)


def _fill(rng, s: str, rv: ReportValues) -> str:
    return s.format(agency=rv.agency, year=rv.year, n=int(rng.integers(20, 600)))


def _geometry_params(geo_rng, lc: dict) -> dict:
    """Every draw of the geometry styles, made whatever is kept (so a document's other
    draws never depend on its split or on a forced style)."""
    gc = lc.get("geometry") or {}
    hits = {n: bool(geo_rng.random() < float(gc.get(n, 0.0))) for n in ("narrow_labels", "narrow_columns",
                                                                      "split_table")}
    em = lc.get("narrow_label_em") or {}
    return {"hits": hits,
            "label_em": {k: float(geo_rng.uniform(*em[k])) for k in ("group", "sub", "item", "active")},
            "column_em": float(geo_rng.uniform(*lc["narrow_column_em"])),
            "split_req": float(geo_rng.uniform(0.2, 0.8)),
            "split_active": bool(geo_rng.random() < float(lc.get("split_active_p", 0.0))),
            "split_act_at": float(geo_rng.uniform(0.25, 0.75)),
            "page_number": _choice(geo_rng, lc["page_numbers"]),
            "running_header": _choice(geo_rng, lc["running_header"]),
            "running_rule": bool(geo_rng.random() < float(lc.get("running_header_rule_p", 0.0))),
            "foot_kind": _choice(geo_rng, ["requests", "appeals"])}


def _keep(name: str, hit: bool, train: bool, held: set, forced) -> bool:
    """A drawn geometry style is used unless held out from a train document; `forced` (a
    set of names) overrides the draw."""
    if forced is not None:
        return name in forced
    return hit and not (train and name in held)


def _apply_geometry(lay: DocLayout, gp: dict, tables: dict) -> None:
    req, act, app = tables["requests"], tables["active"], tables["appeals"]
    if "narrow_labels" in lay.geometry:
        le = gp["label_em"]
        req.fixed_em.update({0: le["group"], 1: le["sub"], 2: le["item"]})
        act.fixed_em[0] = le["active"]
    if "narrow_columns" in lay.geometry:
        for j in range(3, req.n_cols):
            req.fixed_em[j] = gp["column_em"]
        for j in range(1, act.n_cols):
            act.fixed_em[j] = gp["column_em"]
        if app.col_em is None:
            app.col_em = gp["column_em"]
    if "split_table" in lay.geometry:
        body = req.n_rows - req.header_rows
        req.break_before = req.header_rows + min(body - 2, max(2, round(gp["split_req"] * body)))
        if gp["split_active"]:
            act.break_before = min(act.n_rows - 2, max(2, round(gp["split_act_at"] * act.n_rows)))
        lay.page_number = gp["page_number"]
        lay.running_rule = gp["running_rule"]


def plan(rng, tpl: Template, rv: ReportValues, cfg: dict, title: str, geo_rng=None, train: bool = False,
         force_geometry=None) -> DocLayout:
    """The layout of one report. `geo_rng`: the stream of the geometry styles (its own, so
    documents drawing none keep their old layout); `train`: held_out_geometry never drawn;
    `force_geometry`: exactly these geometry styles (names of GEOMETRY), whatever the draw."""
    lc = cfg["layout"]
    gc = lc.get("geometry") or {}
    held = set(cfg.get("held_out_geometry") or ())
    forced = None if force_geometry is None else set(force_geometry)
    if forced is not None and forced - set(GEOMETRY):
        raise ValueError(f"unknown geometry style(s) {sorted(forced - set(GEOMETRY))}; known: {', '.join(GEOMETRY)}")
    if forced is not None and train and forced & held:
        raise ValueError(f"held-out geometry {sorted(forced & held)} is never drawn for the train split")
    gp = _geometry_params(geo_rng if geo_rng is not None else np.random.default_rng(0), lc)
    if geo_rng is None:                 # no stream of its own: none of the new styles unless forced
        gp["hits"] = dict.fromkeys(gp["hits"], False)
    fonts = [f for f in lc["fonts"] if Path(f["path"]).exists()]
    if not fonts:
        raise FileNotFoundError("no CJK TrueType font of configs/synth.yaml layout.fonts is installed "
                                "(Debian: fonts-wqy-zenhei fonts-wqy-microhei fonts-arphic-uming fonts-arphic-ukai; "
                                "scripts/setup.sh installs them)")
    f = fonts[int(rng.choice(len(fonts), p=np.array([x["weight"] for x in fonts], float) /
                              sum(x["weight"] for x in fonts)))]
    land_tables = rng.random() < float(gc.get("landscape", 0.0))
    lay = DocLayout(font=f["name"], font_path=f["path"], font_index=int(f["index"]),
                    body_size=float(_choice(rng, lc["body_size"])), table_size=float(_choice(rng, lc["table_size"])),
                    title_size=float(_choice(rng, lc["title_size"])),
                    margin=float(rng.uniform(*lc["margins"])), landscape=rng.random() < lc["landscape_doc_p"],
                    line_width=float(_choice(rng, lc["line_width"])),
                    repeat_header=rng.random() < lc["repeat_header_p"],
                    value_align=_pick(rng, lc["value_align"]), narrow_appeals=rng.random() < lc["narrow_appeals_p"],
                    landscape_tables=land_tables)
    drawn = land_tables or lay.landscape
    if not _keep("landscape", drawn, train, held, forced):
        lay.landscape = lay.landscape_tables = land_tables = False
    elif not drawn:                     # forced: the tables on landscape pages
        lay.landscape_tables = land_tables = True
    lay.geometry = [n for n in ("narrow_labels", "narrow_columns", "split_table")
                    if _keep(n, gp["hits"][n], train, held, forced)]
    w = Wording(rng, tpl, cfg)
    body = cfg["body"]
    titles = body["section_titles"]
    num = cfg["layout"]["numerals"]
    miss = lc["section_title_missing_p"]
    B = lay.blocks
    B.append(Block("title", title))
    if rng.random() < 0.6:
        B.append(Block("para", _fill(rng, _choice(rng, body["intro"]), rv)))
    B.append(Block("heading", f"{num[0]}、{titles['overview']}"))
    n_par = int(rng.integers(lc["body_paragraphs"][0], lc["body_paragraphs"][1] + 1))
    ov = body["overview"]
    B.append(Block("para", _fill(rng, ov[0], rv)))
    for idx in sorted(rng.choice(np.arange(1, len(ov)), size=min(n_par - 1, len(ov) - 1), replace=False)) if n_par > 1 else []:
        B.append(Block("para", _fill(rng, ov[int(idx)], rv)))
    tables = [("active", active_table(rng, tpl, rv, w, cfg)),
              ("requests", requests_table(rng, tpl, rv, w, cfg)),
              ("appeals", appeals_table(rng, tpl, rv, w, cfg, lay.narrow_appeals))]
    _apply_geometry(lay, gp, dict(tables))
    if "split_table" in lay.geometry:
        lay.running_header = gp["running_header"].format(title=title, agency=rv.agency, year=rv.year)
    for i, (kind, t) in enumerate(tables):
        t.font_size = lay.table_size
        if kind == "requests" and land_tables:
            B.append(Block("break", landscape=True))
        if rng.random() >= miss:
            B.append(Block("heading", f"{num[i + 1]}、{tpl.table_titles[kind]}"))
        B.append(Block("table", table=t))
    if land_tables:
        B.append(Block("break", landscape=lay.landscape))
    B.append(Block("heading", f"{num[4]}、{titles['problems']}"))
    B.append(Block("para", _fill(rng, _choice(rng, body["problems"]), rv)))
    B.append(Block("heading", f"{num[5]}、{titles['other']}"))
    B.append(Block("para", _fill(rng, _choice(rng, body["other"]), rv)))
    B.append(Block("sign", rv.agency))
    # drawn last, so every earlier draw (and the corpus made before it existed) stays the same
    foot = None
    if rng.random() < float(gc.get("header_at_foot", 0.0)):
        foot = _choice(rng, ["requests", "appeals"])
    if _keep("header_at_foot", foot is not None, train, held, forced):
        lay.header_at_foot = foot or gp["foot_kind"]
    if land_tables or lay.landscape:
        lay.geometry.append("landscape")
    if lay.header_at_foot:
        lay.geometry.append("header_at_foot")
    lay.geometry = [n for n in GEOMETRY if n in lay.geometry]
    return lay
