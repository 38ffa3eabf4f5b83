"""The requests table printed one value per cell with its labels apart (pdfminer): its values
read as one block, chunks of rows each row- or column-major, the balance equations choosing.

pdfminer groups a page's text into boxes and prints them box by box: a table page comes
out as its labels, then its values column by column (sometimes row by row), a page at a
time. Two traces of the page survive in the text and narrow the readings the equations
must choose between when they cannot (a table of zeros and blanks balances every way):
  - page ends (footers, form feeds): no box crosses a page, so a page's end is a chunk's
    end; among the readings holding the most equations, those whose chunks end where
    the pages do are preferred (`paged`);
  - a value boxed with its row's label (`1.本机关不掌握相关政府信息 11`, one text box): a
    lone value between two label fragments, right after a fragment of row r's label, is
    row r's first-column value printed out of the column's order (`lone_anchors`).
    Readings with and without these anchors are both tried; the equations choose.
  - a value box wider or narrower than its column's (two digits, a full-width ０, a unit:
    `0项`) may stay out of its column's group and be printed before or after the page's
    columns: a column-major chunk's first few values may be the top cells of some
    columns, its last few their bottom cells, each in the columns' left-to-right order
    (`_displaced`). Tried only when no plain reading holds every equation; a plain reading
    holding as many wins."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product

from ..model import Cell
from ..normalize import normalize
from ..templates import Template
from .equations import judge, max_broken
from .tokens import Item, StreamTable, settings, value


@dataclass
class BlockTable(StreamTable):
    """A whole-block reading; `paged`: its winning readings' chunks end where the pages do."""
    paged: bool = False


def block_rows(tpl: Template) -> dict[str, list[str]]:
    """The requests rows each template prints, in order (2021: 其他处理's three rows; 2019: 其他)."""
    rows = list(tpl.request_rows)
    sub_other = {r.key for r in rows if r.parent == "其他处理"}
    return {"2021": [r.key for r in rows if r.key != "other"],
            "2019": [r.key for r in rows if r.key not in sub_other]}


def lone_anchors(items: list[Item], tpl: Template, sim) -> dict[int, str]:
    """Values printed alone between two label fragments right after a row's label (pdfminer
    boxed them with it): index among the stream's value items -> that row's key. The
    label is the one to three fragments before the value (a wrapped label's lines), the
    row the one it matches best at `present_similarity` or more; pdfminer may print such
    a box out of the rows' order, so the match is not aligned to the row sequence. A
    short label (其他, 总计: also column headers) anchors nothing; nor does a row two
    values claim."""
    cfg = settings()
    thr = float(cfg.get("present_similarity", 0.75))
    rows = [r for r in tpl.request_rows if len(normalize(r.label)) > 2]
    out: dict[int, str] = {}
    n_val = 0
    for n, it in enumerate(items):
        if it.kind != "V":
            continue
        n_val += 1
        if not (0 < n < len(items) - 1 and items[n - 1].kind == items[n + 1].kind == "F"):
            continue
        best = (0.0, None)
        for k in (1, 2, 3):
            if n - k < 0 or items[n - k].kind != "F":
                break
            text = " ".join(f.text for f in items[n - k:n])
            best = max(best, max(((sim(text, f"requests.row:{r.key}"), r.key) for r in rows),
                                 key=lambda x: x[0]), key=lambda x: x[0])
        if best[0] >= thr:
            out[n_val - 1] = best[1]
    taken = list(out.values())
    return {i: k for i, k in out.items() if taken.count(k) == 1}


def value_runs(items: list[Item]) -> list[list[int]]:
    """The runs of value items between label fragments, as indices among the value items."""
    out: list[list[int]] = []
    n_val = 0
    for n, it in enumerate(items):
        if it.kind != "V":
            continue
        if n and items[n - 1].kind == "V" and out:
            out[-1].append(n_val)
        else:
            out.append([n_val])
        n_val += 1
    return out


def _windows(vals: list[Item], free: list[int], need: int, runs: list[list[int]]) -> list[list[int]]:
    """The sequences of `need` free values the block may be: a window of them (other tables'
    values before or after it), or all of them but one run of values printed between two
    label fragments that holds exactly the surplus (another table's cells boxed among the
    rows: 采购项目数量 0, 采购总金额 0)."""
    out = [free[off:off + need] for off in range(len(free) - need + 1)]
    for run in runs:
        if len(run) == len(free) - need > 0 and set(run) <= set(free) and run[0] != free[0] and run[-1] != free[-1]:
            out.append([i for i in free if i not in set(run)])
    return out


def _readings(vals: list[Item], R: int, W: int, anchored: dict[int, int], max_chunks: int,
              runs: list[list[int]] = ()):
    """Every reading of the block: (order: value index per cell, row-major; chunks; paged).
    `anchored`: row -> value index of its first-column value; the other values fill the
    cells chunk by chunk, in the chunk's order, from a window of the free values
    (`_windows`; `runs`: the value runs between label fragments)."""
    free = [i for i in range(len(vals)) if i not in set(anchored.values())]
    need = R * W - len(anchored)
    for seq in _windows(vals, free, need, list(runs)):
        breaks = {k for k in range(1, need) if vals[seq[k]].page != vals[seq[k - 1]].page}
        for n_cut in range(max_chunks):
            for cuts in combinations(range(1, R), n_cut):
                bounds = [0, *cuts, R]
                for orders in product((False, True), repeat=len(bounds) - 1):
                    order = [0] * (R * W)
                    k = 0
                    chunks, ends = [], set()
                    for (a, b), by_col in zip(zip(bounds, bounds[1:]), orders):
                        if by_col and b - a == 1:
                            by_col = False
                        chunks.append((a, b, by_col))
                        cells = ([(r, c) for c in range(W) for r in range(a, b)] if by_col
                                 else [(r, c) for r in range(a, b) for c in range(W)])
                        for r, c in cells:
                            if c == 0 and r in anchored:
                                order[r * W] = anchored[r]
                            else:
                                order[r * W + c] = seq[k]
                                k += 1
                        ends.add(k)
                    yield order, chunks, bool(breaks) and breaks <= ends   # no page end: no evidence


def _displaced(order: list[int], chunks: list[tuple], W: int, anchored: set[int], max_head: int,
               max_tail: int, max_lead: int = 0):
    """Readings of one column-major chunk of `order` (value index per cell, row-major) whose
    first h values are the top cells of h columns and last t values the bottom cells of t
    columns (left to right), the rest column-major: (order, moved) for each chunk, each
    h <= max_head, t <= max_tail (h + t > 0), each choice of columns. `anchored`: cells
    (row-major index) whose values stand elsewhere in the stream (a row's first column
    boxed with its label): left as they are. With `max_lead` L > 0, also the readings whose
    first l <= L columns come whole before the displaced top cells (a column boxed with the
    row labels, printed before the page's other columns: its values stand between the
    labels; the top cells are then those of the other columns)."""
    for a, b, by_col in chunks:
        if not by_col or b - a < 2:
            continue
        free = [r * W + c for c in range(W) for r in range(a, b) if r * W + c not in anchored]
        seq = sorted(order[n] for n in free)
        for lead in range(min(max_lead, W - 1) + 1):
            first = [n for n in free if n % W < lead]      # the lead columns' cells, column-major
            m = len(first)
            tops = [c for c in range(lead, W) if a * W + c not in anchored]
            bottoms = [c for c in range(lead, W) if (b - 1) * W + c not in anchored]
            for h in range(max_head + 1):
                for t in range(max_tail + 1):
                    if not h + t or m + h + t >= len(seq) or (lead and not h):
                        continue
                    for head in combinations(tops, h):
                        for tail in combinations(bottoms, t):
                            taken = [a * W + c for c in head] + [(b - 1) * W + c for c in tail]
                            if len(set(taken)) < len(taken):
                                continue
                            new = list(order)
                            for n, k in zip(first, seq[:m]):
                                new[n] = k
                            for n, k in zip(taken[:h], seq[m:m + h]):
                                new[n] = k
                            for n, k in zip(taken[h:], seq[len(seq) - t:]):
                                new[n] = k
                            rest = [n for n in free if n not in set(taken) and n % W >= lead]
                            for n, k in zip(rest, seq[m + h:len(seq) - t]):
                                new[n] = k
                            yield new, h + t


def _column_moves(order: list[int], chunks: list[tuple], W: int):
    """Readings of `order` (value index per cell, row-major) with one column of one
    column-major chunk taken out and put back at another place among the chunk's columns."""
    for a, b, by_col in chunks:
        if not by_col or b - a < 2:
            continue
        for i in range(W):
            for j in range(W):
                if j in (i, i + 1):
                    continue
                cols = list(range(W))
                cols.insert(j, cols[i])
                del cols[i + (j < i)]
                new = list(order)
                for r in range(a, b):
                    for c, src in enumerate(cols):
                        new[r * W + c] = order[r * W + src]
                yield new


def whole_block(vals: list[Item], tpl: Template, anchors: dict[int, str] | None = None,
                runs: list[list[int]] = ()) -> BlockTable | None:
    """The requests table printed one value per cell, labels elsewhere: the table's values
    are chunks of consecutive rows (pages), each chunk row- or column-major. When the
    values number exactly rows × columns of one template (2019: 23 rows, 2021: 25; up
    to `block_max_extra` more: windows tried), every cut into at most
    `block_max_chunks` chunks and order is tried, with and without the `anchors`
    (value index -> row key: its first-column value, see lone_anchors) and, when `runs`
    (value index runs between label fragments) hold one of the surplus' size, without
    it; the readings
    holding the most balance equations win, and among them those whose chunks end where
    the pages end. Cells on which winning readings disagree are doubtful (1 / the values
    they put there); a winning reading that leaves equations broken is doubtful where
    broken (more than a misprint breaks: every cell). None when the count fits no template."""
    cfg = settings()
    cols = [c.key for c in tpl.request_columns]
    W = len(cols)
    seqs = block_rows(tpl)
    extra = int(cfg.get("block_max_extra", 8))
    name = next((n for n, ks in seqs.items() if 0 <= len(vals) - len(ks) * W <= extra), None)
    if name is None or not W:
        return None
    keyed = seqs[name]
    R = len(keyed)
    keys = [f"requests/{k}/{c}" for k in keyed for c in cols]     # row-major cell order
    at = {k: i for i, k in enumerate(keys)}
    eqs = [([at[k] for k in e.lhs], [at[k] for k in e.rhs]) for e in tpl.expand_equations(set(keys))
           if all(k in at for k in e.lhs + e.rhs)]
    nums_all = [value(it) for it in vals]
    max_chunks = int(cfg.get("block_max_chunks", 3))
    anchored = {keyed.index(k): i for i, k in (anchors or {}).items() if k in keyed}
    pages = len({it.page for it in vals})
    cands: dict[tuple, tuple] = {}     # outcome (values row-major) -> (order, chunks, paged, moved)
    plain: list[tuple] = []            # readings a displaced box may change: (order, chunks, paged, anchored cells)
    for anch in ([{}, anchored] if anchored else [{}]):
        for order, chunks, paged in _readings(vals, R, W, anch, max_chunks, runs):
            v = tuple(nums_all[i] for i in order)
            if v not in cands or (paged and not cands[v][2]):
                cands[v] = (order, chunks, paged, 0)
            if (paged and len(chunks) == pages) or (len(chunks) == 1 and pages == 1):
                plain.append((order, chunks, paged, {r * W for r in anch}))   # a chunk a page

    def held(v) -> int:
        return sum(abs(sum(v[i] or 0 for i in lhs) - sum(v[i] or 0 for i in rhs)) < 1e-6 for lhs, rhs in eqs)
    if max(held(v) for v in cands) < len(eqs):
        heads, tails = int(cfg.get("block_displaced_head", 2)), int(cfg.get("block_displaced_tail", 3))
        leads = int(cfg.get("block_displaced_lead", 0))
        budget = int(cfg.get("block_displaced_max", 20000))
        for order, chunks, paged, anch_cells in plain:
            for new, moved in _displaced(order, chunks, W, anch_cells, heads, tails, leads):
                budget -= 1
                v = tuple(nums_all[i] for i in new)
                if v not in cands:
                    cands[v] = (new, chunks, paged, moved)
                if budget <= 0:
                    break
            if budget <= 0:
                break
    if max(held(v) for v in cands) < len(eqs) and int(cfg.get("block_column_moves", 0)):
        # a column printed out of its place (pdfminer grouped a column with odd boxes after
        # the others): the best readings so far with one column of one column-major chunk moved
        ranked = sorted(cands, key=lambda v: (-held(v), -cands[v][3]))[:int(cfg.get("block_column_moves", 0))]
        for v0 in ranked:
            order0, chunks0, paged0, moved0 = cands[v0]
            for new in _column_moves(order0, chunks0, W):
                v = tuple(nums_all[i] for i in new)
                if v not in cands:
                    cands[v] = (new, chunks0, paged0, moved0 + 1)
    # most equations held; then chunks ending at page ends; then the fewest displaced boxes
    scored = [((held(v), cands[v][2], -cands[v][3]), v) for v in cands]
    top = max(h for h, _ in scored)
    # the first reading shown: most chunks read column by column (pdfminer's usual order);
    # where the winners disagree the cells stay doubtful
    best = sorted((v for h, v in scored if h == top), key=lambda v: -sum(c[2] for c in cands[v][1]))
    order, chunks, _, _ = cands[best[0]]

    def swap(v, c1, c2, a=0, b=R):
        v = list(v)
        for r in range(a, b):
            v[r * W + c1], v[r * W + c2] = v[r * W + c2], v[r * W + c1]
        return tuple(v)
    # a chunk read column by column trusts the boxes' left-to-right order, which the row
    # totals cannot check: two part columns swapped balance alike (pdfminer may print
    # 商业企业 before 自然人); such cells are doubtful
    # columns the equations cannot tell apart (a whole-table swap balances alike)
    alike = [(c1, c2) for c1, c2 in combinations(range(W), 2) if held(swap(best[0], c1, c2)) == top[0]]
    swapped: set[int] = set()
    for a, b, by_col in chunks:
        for c1, c2 in alike if by_col else ():
            swapped |= {r * W + c for r in range(a, b) for c in (c1, c2)
                        if best[0][r * W + c1] != best[0][r * W + c2]}
    out = BlockTable("requests", template=name, readings=len(best), extra=len(vals) - R * W, paged=top[1])
    for n, k in enumerate(keys):
        it = vals[order[n]]
        out.cells[k] = Cell(row=it.line, col=n % W, text=it.text)
        seen = {"∅" if v[n] is None else v[n] for v in best}
        if len(seen) > 1 or n in swapped:
            out.placement[k] = 1.0 / max(2, len(seen))
    if len(best) > 1:
        out.warnings.append(f"requests: {len(best)} readings of the value block balance alike; "
                            f"{len(out.placement)} cells doubtful")
    got = dict(zip(keys, best[0]))
    out.broken = broken = judge(out, got, tpl, "requests")
    if broken > max_broken("requests"):
        out.warnings.append(f"requests: value block leaves {broken} equations broken; cells doubtful")
    out.warnings.insert(0, "requests: values read as one block, one per cell, labels apart (chunks of rows, "
                           "row- or column-major, chosen by the balance equations)")
    return out
