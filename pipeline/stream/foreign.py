"""Values of another table inside a table's stream: pdfminer prints a page box by box, so the
active table's last boxes (its column headers, each followed by its values) may come after
the requests table's title when both share a page (`本年制发件数` / `0 0 0` after
`三、收到和处理政府信息公开申请情况`). A run of values right after a fragment that reads as
another table's header or label, better than as one of this table's, is that table's."""
from __future__ import annotations

from ..templates import all_label_classes
from .tokens import Item, settings


def _classes(prefix: str) -> list[str]:
    return [c for c in all_label_classes() if c.startswith(prefix)]


def drop_foreign(items: list[Item], sim, own: str = "requests", other: str = "active") -> list[Item]:
    """The stream without the value runs whose fragment just before them (or its last
    lines: one to three fragments joined) reads as a label of the `other` table at `present_similarity` or more and better than any of `own`'s
    (other tables' values printed inside this table's region). Positions renumbered; the
    fragments stay (the label alignment skips what matches no row)."""
    if sim is None:
        return items
    thr = float(settings().get("present_similarity", 0.75))
    others, owns = _classes(other + "."), _classes(own + ".")
    out: list[Item] = []
    foreign = False
    for n, it in enumerate(items):
        if it.kind == "F":
            foreign = False
            out.append(it)
            continue
        if n and items[n - 1].kind == "F":
            theirs = mine = 0.0
            for k in range(1, 4):      # a header wrapped in its cell: its lines joined
                if n - k < 0 or items[n - k].kind != "F":
                    break
                text = " ".join(f.text for f in items[n - k:n])
                theirs = max(theirs, max((sim(text, c) for c in others), default=0.0))
                mine = max(mine, max((sim(text, c) for c in owns), default=0.0))
            foreign = theirs >= thr and theirs > mine
        if not foreign:
            out.append(it)
    for i, it in enumerate(out):
        it.pos = i
    return out
