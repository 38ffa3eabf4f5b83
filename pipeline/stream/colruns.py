"""The requests table as pdfminer prints narrow or landscape table pages: each page's values
column by column, a column's values boxed with its header cell, the boxes in an order of
their own (自然人's column first on one page, last on the next).

On such a page every run of values (between two label fragments) follows a header fragment
— 自然人, 其他 (the last of the 法人或其他组织 group), 总计 — and holds k columns of the
page's rows, the columns ending at that header's. The page's rows are its values / columns.
The equations cannot tell part columns apart (row totals hold under any order of them), so
the header, not the order, says which column a run is; the equations then check the
reading (`column_runs`)."""
from __future__ import annotations

from ..model import Cell
from ..templates import Template
from .block import block_rows
from .equations import judge, max_broken
from .tokens import Item, StreamTable, settings, value


def _header_col(text: str, cols: list[str], sim, thr: float) -> int | None:
    s, c = max((sim(text, f"requests.col:{k}"), c) for c, k in enumerate(cols))
    return c if s >= thr else None


def column_runs(items: list[Item], tpl: Template, sim) -> StreamTable | None:
    """The requests table read page by page from header-anchored column runs; None unless
    every run from the first anchored one on is anchored, each page's runs tile its
    columns exactly, and the pages' rows add up to one template's row count. Runs before
    the first anchored one are other tables' values (the region starts at a title the
    active table's last boxes follow)."""
    cfg = settings()
    thr = float(cfg.get("present_similarity", 0.75))
    cols = [c.key for c in tpl.request_columns]
    W = len(cols)
    runs: list[tuple[int, list[Item]]] = []     # (header column, values)
    started = False
    for n, it in enumerate(items):
        if it.kind != "V":
            continue
        if n and items[n - 1].kind == "V":
            if started:
                runs[-1][1].append(it)
            continue
        head = _header_col(items[n - 1].text, cols, sim, thr) if n else None
        if head is None:
            if started:
                return None
            continue
        started = True
        runs.append((head, [it]))
    if not runs:
        return None
    pages: dict[int, list[tuple[int, list[Item]]]] = {}
    for head, vals in runs:
        if len({it.page for it in vals}) != 1:
            return None
        pages.setdefault(vals[0].page, []).append((head, vals))
    grid: list[list[Item | None]] = []
    for page in sorted(pages):
        prs = pages[page]
        n = sum(len(v) for _, v in prs)
        if n % W:
            return None
        R = n // W
        rows: list[list[Item | None]] = [[None] * W for _ in range(R)]
        seen: set[int] = set()
        for head, vals in prs:
            if len(vals) % R:
                return None
            k = len(vals) // R
            span = list(range(head - k + 1, head + 1))
            if span[0] < 0 or seen & set(span):
                return None
            seen |= set(span)
            for j, c in enumerate(span):
                for r in range(R):
                    rows[r][c] = vals[j * R + r]
        if len(seen) != W:
            return None
        grid += rows
    name = next((nm for nm, ks in block_rows(tpl).items() if len(ks) == len(grid)), None)
    if name is None:
        return None
    keyed = block_rows(tpl)[name]
    out = StreamTable("requests", template=name)
    got = {}
    for key, row in zip(keyed, grid):
        for c, it in enumerate(row):
            k = f"requests/{key}/{cols[c]}"
            out.cells[k] = Cell(row=it.line, col=c, text=it.text)
            got[k] = value(it)
    out.broken = broken = judge(out, got, tpl, "requests")
    out.warnings.append("requests: values read page by page as column runs, each boxed with its column's header "
                        f"(pdfminer){'; equations broken, cells doubtful' if broken > max_broken('requests') else ''}")
    return out
