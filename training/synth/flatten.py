"""Badly flattened text of a report, the way copy-paste and HTML/PDF-to-text tools
produce it (see tests/fixtures seeds): tab rows where merged cells drop or add tabs,
one cell per line, `|` rows, vertical headers read column-wise, a rotated group label
scattered over several rows, empty cells collapsing and shifting values left.
"""
from __future__ import annotations

import numpy as np

from .layout import DocLayout, LTable


def _pick(rng, weights: dict):
    names = list(weights)
    p = np.array([float(weights[n]) for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _chunks(text: str, n: int) -> list[str]:
    """Split text into n nearly equal consecutive chunks (some may be empty)."""
    if n <= 1:
        return [text]
    size = max(1, -(-len(text) // n))
    out = [text[i:i + size] for i in range(0, len(text), size)]
    return out + [""] * (n - len(out))


class Style:
    def __init__(self, rng, cfg: dict, narrow: bool):
        tc = cfg["text"]
        self.kind = _pick(rng, tc["styles"])
        self.keep_colspan = rng.random() < 0.5
        self.keep_rowspan = rng.random() < 0.7
        self.trailing = rng.random() < 0.4
        self.collapse = rng.random() < tc["collapse_empty_p"]
        self.scatter = rng.random() < tc["scatter_group_label_p"]
        self.blank_between = rng.random() < tc["blank_line_between_cells_p"]
        self.indent = str(tc["indent"][int(rng.integers(len(tc["indent"])))])
        self.md = rng.random() < tc["markdown_headings_p"]
        self.vertical = narrow and rng.random() < 0.8
        self.vchunk = 1 if rng.random() < 0.7 else 2
        self.vstart = int(rng.integers(0, 2))  # column-wise reading may start mid-label (clipped)


def _row_entries(t: LTable, st: Style, rng) -> list[list[str]]:
    """Per grid row, the printed entries in reading order (merged cells handled per style)."""
    start = {(c.row, c.col): c for c in t.cells}
    covered: dict[tuple[int, int], object] = {}
    for c in t.cells:
        for r in range(c.row, c.row + c.rowspan):
            for k in range(c.col, c.col + c.colspan):
                if (r, k) != (c.row, c.col):
                    covered[(r, k)] = c
    scattered: dict[tuple[int, int], str] = {}
    if st.scatter:
        for c in t.cells:
            if c.rowspan > 2 and c.role == "label" and c.text:
                n = int(rng.integers(2, min(5, c.rowspan) + 1))
                for i, part in enumerate(_chunks(c.text, n)):
                    scattered[(c.row + i, c.col)] = part
    rows = []
    for r in range(t.n_rows):
        out: list[str] = []
        for k in range(t.n_cols):
            if (r, k) in start:
                c = start[(r, k)]
                txt = scattered.get((r, k), c.text)
                out.append(txt)
                if st.keep_colspan:
                    out += [""] * (c.colspan - 1)
            elif (r, k) in covered:
                c = covered[(r, k)]
                if (r, k) in scattered and k == c.col:
                    out.append(scattered[(r, k)])
                elif c.row != r and k == c.col and st.keep_rowspan:
                    out.append("")
        if st.collapse:
            out = [x for x in out if x != ""]
        rows.append(out)
    return rows


def _vertical_rows(t: LTable, st: Style, sep: str = "\t") -> dict[int, list[str]]:
    """Column-wise reading of a header row whose labels wrap one char per line."""
    out = {}
    last_hdr = t.header_rows - 1
    for r in range(t.header_rows):
        cells = sorted((c for c in t.cells if c.row + c.rowspan - 1 == last_hdr and c.role == "header"
                        and c.colspan == 1), key=lambda c: c.col)
        if r != last_hdr or not cells:
            continue
        lines = [[c.text.replace(" ", "")[i:i + st.vchunk] for i in range(0, len(c.text.replace(" ", "")), st.vchunk)]
                 for c in cells]
        n = max(len(x) for x in lines)
        text_rows = []
        for j in range(st.vstart, n):
            text_rows.append(sep.join(x[j] if j < len(x) else "" for x in lines))
        for j in range(0, st.vstart):
            text_rows.append(sep.join(x[j] if j < len(x) else "" for x in lines))
        out[r] = text_rows
    return out


def table_text(t: LTable, st: Style, rng) -> list[str]:
    rows = _row_entries(t, st, rng)
    vert = _vertical_rows(t, st, " | " if st.kind == "pipes" else "\t") if (t.kind == "appeals" and st.vertical) \
        else {}
    lines: list[str] = []
    if st.kind == "lines":
        for r, entries in enumerate(rows):
            for e in entries:
                if e == "" and st.collapse:
                    continue
                lines.append(st.indent + e)
                if st.blank_between:
                    lines.append("")
        return lines
    sep = "\t" if st.kind == "tabs" else " | "
    for r, entries in enumerate(rows):
        if r in vert:
            lines += vert[r]
            continue
        if vert and r < t.header_rows:
            # the wrapped column labels are read below; only the spanning group labels stay
            ent = []
            for c in sorted((c for c in t.cells if c.row == r and c.colspan > 1), key=lambda c: c.col):
                ent += [c.text] + ([""] * (c.colspan - 1) if st.keep_colspan else [])
            entries = ent
        s = sep.join(entries)
        if st.trailing and st.kind == "tabs":
            s += "\t"
        if st.kind == "pipes":
            s = "| " + s + " |"
        lines.append(s)
    return lines


def flatten(lay: DocLayout, rng, cfg: dict) -> tuple[str, dict]:
    """The report as flattened text, and the style choices (for the truth)."""
    st = Style(rng, cfg, lay.narrow_appeals)
    out: list[str] = ["", ""]
    for b in lay.blocks:
        if b.kind == "title":
            out += [("# " if st.md else "") + b.text, ""]
        elif b.kind == "heading":
            out += [("## " if st.md else "") + b.text, ""]
        elif b.kind == "para":
            out += [b.text, ""]
        elif b.kind == "sign":
            out += [b.text, ""]
        elif b.kind == "table":
            out += table_text(b.table, st, rng) + ["", ""]
    return "\n".join(out).rstrip("\n") + "\n", dict(st.__dict__)
