"""Numbers wrapped inside their narrow cell, joined back before a table is decoded: a row's
total printed in pieces around the row (`１６` / `72 0 0 36 54 0` / `２`, joined only when the
digits read together are the row's sum), and a value box pdfminer prints over several lines."""
from __future__ import annotations

from .tokens import Item, settings, value


def wrapped_totals(items: list[Item], width: int) -> list[Item]:
    """A row's total wrapped over lines in its narrow cell joined back onto its row's line:
    below the row's values (`72 0 0 36 54 0` / `１６` / `２`: 162, pdftotext -raw, pypdfium2) or
    around them, its pieces beside the row's wrapped label lines (`1.本机关不掌握相  １６` /
    `72 0 0 36 54 0` / `关政府信息  ２`: -layout, pdfplumber, the cell's text centred on the
    row). Taken only where the text says it: a line of exactly `width` - 1 values (nothing else
    on it), the lines right above and right below it holding one digit run each (beside label
    words at most), 2 to `wrapped_total_max_lines` of them, the first not a 0, whose digits
    read together top to bottom are the sum of that line's values (the row's total: the
    requests table's last column is the sum of the others); when several such runs of lines
    make the sum, the one with the most lines, and none when two of that size do. The joined
    value stands where its pieces stood (-layout: the total's column), or right after the row
    in text without positions. Values one a line (pdftotext's default mode, a blank line
    between cells): a label, `width` - 1 values, then 2 to `wrapped_total_max_lines` digit runs
    on lines that follow each other with no blank line between (one cell's text), then a
    label or the table's end; joined the same way. Settings: configs/classify.yaml stream
    `wrapped_total`, `wrapped_total_max_lines`."""
    import unicodedata
    cfg = settings()
    if not cfg.get("wrapped_total", True) or width < 3:
        return items
    most = int(cfg.get("wrapped_total_max_lines", 3))
    lines: dict[int, list[Item]] = {}
    for it in items:
        lines.setdefault(it.line, []).append(it)

    def piece(ln: int) -> Item | None:
        """The one value of line `ln` when it is a digit run beside label words at most."""
        vs = [x for x in lines.get(ln, ()) if x.kind == "V"]
        return vs[0] if len(vs) == 1 and unicodedata.normalize("NFKC", vs[0].text).isdigit() else None
    def alone(it: Item) -> bool:
        return it.kind == "V" and len(lines[it.line]) == 1

    # the rows that may have lost their total: (the row's values, pieces above, pieces below)
    rows: list[tuple[list[Item], list[Item], list[Item]]] = []
    for ln, row in lines.items():
        if len(row) != width - 1 or not all(x.kind == "V" for x in row):
            continue
        above: list[Item] = []
        while len(above) < most and (p := piece(ln - 1 - len(above))) is not None:
            above.insert(0, p)
        below: list[Item] = []
        while len(below) < most and (p := piece(ln + 1 + len(below))) is not None:
            below.append(p)
        rows.append((row, above, below))
    # values one a line (pdftotext's default mode: a blank line between cells): right after a
    # label, `width` - 1 values, then the total's pieces on lines of their own with no blank
    # line between them (one cell's text), then a label or the table's end
    for i, it in enumerate(items[:-width]):
        row = items[i + 1:i + width]
        if it.kind != "F" or not all(alone(x) for x in row):
            continue
        below = []
        j = i + width
        while (j < len(items) and len(below) < most and alone(items[j]) and piece(items[j].line) is not None
               and (not below or items[j].line == below[-1].line + 1)):
            below.append(items[j])
            j += 1
        if len(below) >= 2 and (j == len(items) or items[j].kind == "F"):
            rows.append((row, [], below))
    taken: set[int] = set()
    joined: dict[int, Item] = {}     # the row's last value's pos → the joined total
    for row, above, below in rows:
        vals = [value(x) for x in row]
        if None in vals or any(x.pos in taken for x in below):
            continue
        cut = [k for k, x in enumerate(above) if x.pos in taken]
        above = above[cut[-1] + 1:] if cut else above     # a taken piece ends the run upward
        fits = [above[len(above) - a:] + below[:b] for a in range(len(above) + 1) for b in range(len(below) + 1)
                if 2 <= a + b <= most]
        fits = [f for f in fits if not unicodedata.normalize("NFKC", f[0].text).startswith("0")
                and int("".join(unicodedata.normalize("NFKC", x.text) for x in f)) == sum(vals)]
        if not fits:
            continue
        n = max(len(f) for f in fits)
        if sum(len(f) == n for f in fits) > 1:
            continue    # two runs of lines make the sum: the text does not say which
        f = next(f for f in fits if len(f) == n)
        taken |= {x.pos for x in f}
        digits = "".join(unicodedata.normalize("NFKC", x.text) for x in f)
        same_line = len({x.line for x in row}) == 1
        joined[row[-1].pos] = Item("V", digits, row[-1].line if same_line else f[0].line,
                                   x=max(row[-1].x + 1, max(x.x for x in f)) if same_line else f[0].x,
                                   page=row[-1].page)
    if not joined:
        return items
    out: list[Item] = []
    for it in items:
        if it.pos in taken:
            continue
        out.append(it)
        if it.pos in joined:
            out.append(joined[it.pos])
    for n, it in enumerate(out):
        it.pos = n
    return out


def wrapped_boxes(items: list[Item]) -> list[Item]:
    """A number wrapped inside its cell's box in text that prints one value a box, a blank line
    after every box (pdfminer: `１６` / `２` with no blank line between, 162, val_00009), joined
    into one value. Taken only where the text says it: every value of the table stands alone
    on its line, the table's value lines are separated by blank lines except in exactly one
    run of 2 to `wrapped_total_max_lines` digit lines (the first not a 0). A second such run
    (a column block printed without its blank lines: pdftotext's default mode) leaves them all
    apart. Settings: configs/classify.yaml stream `wrapped_box`, `wrapped_total_max_lines`."""
    import unicodedata
    cfg = settings()
    if not cfg.get("wrapped_box", True):
        return items
    most = int(cfg.get("wrapped_total_max_lines", 3))
    lines: dict[int, list[Item]] = {}
    for it in items:
        lines.setdefault(it.line, []).append(it)
    vals = [it for it in items if it.kind == "V"]
    if len(vals) < 2 or any(len(lines[it.line]) > 1 for it in vals):
        return items
    runs: list[list[Item]] = [[vals[0]]]
    for a, b in zip(vals, vals[1:]):
        if b.line == a.line + 1 and b.pos == a.pos + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
    long = [r for r in runs if len(r) > 1]
    if len(long) != 1:
        return items
    run = long[0]
    texts = [unicodedata.normalize("NFKC", it.text) for it in run]
    if len(run) > most or not all(t.isdigit() for t in texts) or texts[0].startswith("0"):
        return items
    first = run[0]
    joined = Item("V", "".join(texts), first.line, x=first.x, page=first.page)
    drop = {it.pos for it in run}
    out = []
    for it in items:
        if it.pos == first.pos:
            out.append(joined)
        elif it.pos not in drop:
            out.append(it)
    for n, it in enumerate(out):
        it.pos = n
    return out
