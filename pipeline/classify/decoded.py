"""What a table decoder hands the classify stage (Decoded), and the placement doubts
the decoders record in it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model import Cell
from ..templates import config
from ..values import parse_value


@dataclass
class Decoded:
    """What the decoder found in one report table (before solving)."""
    kind: str
    template: str | None = None
    cells: dict[str, Cell] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)   # {text, class, p}: for retraining
    unreadable: set[str] = field(default_factory=set)  # printed but not placeable: the solver may infer
    absent_cols: list[str] = field(default_factory=list)
    placement: dict[str, float] = field(default_factory=dict)  # key -> P(placed right), when doubtful
    order_guessed: bool = False   # appeals: no header found to order the values by (template order taken)


def label_only_placement() -> float:
    """Placement probability of the blanks of a flattened row printed without values: a
    blank row, or a wrapped label whose values sit on a line of their own."""
    return float(config("classify.yaml").get("label_only_row_placement", 0.9))


def doubt_joined(out: Decoded, joined: set[str]) -> None:
    """Rows joined from one value a line are dealt by count alone; when the same table
    printed values that no row could take, the text is not row by row (pdfminer, the
    default mode of pdftotext), so a count that happened to fit proves nothing."""
    p = float(config("classify.yaml").get("joined_row_placement", 0.9))
    for k in joined:
        out.placement[k] = min(out.placement.get(k, 1.0), p)


_BLOCKS = re.compile(r"(?m)^[ \t]*[0-9０-９][^\n]*\n[ \t]*\n[ \t]*[0-9０-９]")


def doubt_block_order(out: Decoded, groups: list[list[str]], text: str) -> set[str]:
    """Flattened text whose values stand as paragraphs of their own (an empty line between
    two value lines, in `text`: the table's region) holds the text blocks of a layout
    analysis (pdftotext's default mode, pdfminer), printed in the tool's block order, which
    need not be the page's column order: pdftotext moves a value under a tall vertical
    header out of its row. A group's equation (total = sum of its parts) holds whatever
    order its parts came in, so it cannot confirm the order: parts of one group printed one
    a line (a cell's row is its line) with different values are doubtful. Values one a
    line without empty lines between (a browser's innerText of a div grid) keep the
    document's order. Only a header the tool broke apart gives reason to doubt the order
    (header_broken); that, or a reading that shows the order disturbed (_disturbed), also
    doubts the group totals that only their place reads 0 rather than blank or the other
    way (guessed_totals). `groups`: each group's part keys. Returns the keys doubted."""
    if not _BLOCKS.search(text):
        return set()
    p = float(config("classify.yaml").get("block_order_placement", 0.9))
    broken = header_broken(text, len(groups))
    doubted = guessed_totals(out, groups, p) if broken or _disturbed(out, groups) else set()
    if not broken:
        if doubted:
            out.warnings.append(f"{out.kind}: values printed as separate text blocks; {len(doubted)} group totals "
                                "read 0 or blank by their place alone doubtful")
        return doubted
    for keys in groups:
        cells = {k: out.cells[k] for k in keys if out.cells.get(k) is not None}
        one_a_line = len({c.row for c in cells.values()}) == len(cells)
        if one_a_line and len({c.text.strip() for c in cells.values()}) > 1:
            for k in cells:
                out.placement[k] = min(out.placement.get(k, 1.0), p)
            doubted |= set(cells)
    if doubted:
        out.warnings.append(f"{out.kind}: values printed as separate text blocks, in the extractor's order; "
                            f"{len(doubted)} cells whose order no equation confirms doubtful")
    return doubted


def _zero_or_blank(c: Cell | None) -> str:
    """"0", "blank" (printed as nothing or as a mark) or "other"."""
    v = _number(c)
    if v is False:
        return "other"
    return "blank" if v is None else "0" if v == 0 else "other"


def guessed_totals(out: Decoded, groups: list[list[str]], p: float) -> set[str]:
    """Group totals of values printed as separate text blocks that only their place says are
    0 rather than blank, or blank rather than 0: the total reads one of them while a part
    of its group reads the other, and the parts sum to 0, so the group's equation holds
    either way and a block printed out of the page's order (a `／` of one group printed
    after the next group's values, val_00023 of s23b) swaps them unseen. Asked only where
    the order is in doubt (doubt_block_order). Placed with probability `p`; returns their
    keys."""
    doubted: set[str] = set()
    for keys in groups:
        prefix = {k.rsplit("/", 1)[0] for k in keys}
        totals = [k for k in out.cells if k.rsplit("/", 1)[0] in prefix and k not in keys]
        kinds = [_zero_or_blank(out.cells.get(k)) for k in keys]
        if "other" in kinds:
            continue
        for k in totals:
            t = _zero_or_blank(out.cells.get(k))
            if t != "other" and any(x != t for x in kinds):
                out.placement[k] = min(out.placement.get(k, 1.0), p)
                doubted.add(k)
    return doubted


def _disturbed(out: Decoded, groups: list[list[str]]) -> bool:
    """Whether the reading of a row shows its printed order was disturbed: some cell of its
    groups already doubted for its place (a value moved, columns chosen by the equations, a
    broken equation), or a group whose parts do not sum to its total."""
    for keys in groups:
        prefix = {k.rsplit("/", 1)[0] for k in keys}
        cells = [k for k in out.cells if k.rsplit("/", 1)[0] in prefix]
        if any(out.placement.get(k, 1.0) < 1.0 for k in cells):
            return True
        nums = {k: _number(out.cells.get(k)) for k in cells}
        if any(v is False for v in nums.values()):
            continue
        parts = sum(nums[k] or 0 for k in cells if k in keys)
        if any(abs((nums[k] or 0) - parts) > 1e-6 for k in cells if k not in keys):
            return True
    return False


def _number(c: Cell | None):
    """A cell's value (None: blank), or False when its text is no clean number."""
    if c is None:
        return None
    ok, v = parse_value(c.text)
    return v if ok else False


def header_broken(text: str, groups: int) -> bool:
    """Whether some column header of the appeals table (classify.yaml block_order_headers)
    is printed whole, whitespace taken out, fewer times than there are groups: the layout
    analysis split a header's characters into blocks and printed them out of column order,
    so its value blocks may be out of order too. A header printed whole for every group
    shows the tool kept the columns' order. With `block_order_across` set, only a header
    whose characters the tool read across that many columns into one line (`果 纠 他 未`:
    its lines cut across the columns, not down them) counts: a vertical header printed
    column by column (`结/果/维/持`), or its words row by row (`结果 结果 其他`), kept
    each column's characters together."""
    flat = re.sub(r"\s+", "", text)
    cfg = config("classify.yaml")
    heads = cfg.get("block_order_headers") or []
    if not any(flat.count(h) < groups for h in heads):
        return False
    across = int(cfg.get("block_order_across", 0))
    return not across or any(len(_ONE_CHAR.findall(ln)) >= across for ln in text.splitlines())


_ONE_CHAR = re.compile(r"(?<!\S)[\u4e00-\u9fff](?!\S)")


def appeal_parts(tpl) -> list[list[str]]:
    """The appeals table's groups as lists of their part keys (every column but the total)."""
    return [[f"appeals/{g.key}/{c.key}" for c in tpl.appeal_columns if c.key != "total"] for g in tpl.appeal_groups]

