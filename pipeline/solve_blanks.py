"""Solve stage, part 3: a 0 the equations cannot tell from a blank, written as the table prints "nothing".

A printed blank and a 0 add alike in the balance equations, so where a scan's cell holds
no 0 at all (a seal's text '店区', a dash read 'T', a ring's stub read '1', nothing read)
and its readings say 0, the arithmetic has no say: the digit model, knowing only numbers,
proposes 0 for any mark. What the page does say is how its table prints "nothing": the
cells whose marks are clean (a 0 read as one, a blank read as nothing or a printed blank
mark). Such a 0 is written as a blank where the other cells of its row print nothing as a
blank more often than as 0 (with `table`: the row undecided, where its table does;
configs/solver.yaml `nothing_as_printed`). The cell stays doubted: its mark said neither.

Scans only: a text layer's blank is what the text prints. Not on a document the reader
failed on (score.failed_reading): there printed 0s that lost their ink vote "blank".
"""
from __future__ import annotations

from .model import Document
from .templates import config
from .values import blank_marks

SCAN_KINDS = ("scanned_pdf", "image")
DOUBT = "a 0 from a mark that holds no 0, written blank as its row or table prints nothing"


def _zero_texts() -> tuple[frozenset, frozenset]:
    """Characters a printed 0 is read as, and those a broken 0 is read as (configs/scoring.yaml
    sanity.blank_or_zero zero_texts, broken_zero_texts)."""
    bz = ((config("scoring.yaml").get("sanity") or {}).get("blank_or_zero") or {})
    return frozenset(bz.get("zero_texts", ["0"])), frozenset(bz.get("broken_zero_texts", []))


def _is_zero(v) -> bool:
    return v is not None and not isinstance(v, bool) and isinstance(v, (int, float)) and v == 0


def kinds(doc: Document, zeros: frozenset, marks: frozenset, broken: frozenset = frozenset()) -> dict[str, str]:
    """Each cell's mark: "zero" (0 read from a 0), "blank" (blank read from nothing or a
    printed blank mark), "unmarked_zero" (0 from a mark without a 0 or a broken 0's shape:
    `broken`, 'n', '(' …) or "" (anything else)."""
    out = {}
    for k, f in doc.fields.items():
        t = "".join((f.text or "").split())
        if f.illegible or f.status in ("inferred", "conflict"):
            out[k] = ""
        elif _is_zero(f.value):
            out[k] = ("zero" if t and all(ch in zeros for ch in t) else
                      "unmarked_zero" if not any(ch in zeros or ch in broken for ch in t) else "")
        elif f.value is None:
            out[k] = "blank" if t == "" or t in marks else ""
        else:
            out[k] = ""
    return out


def habit(kind: dict[str, str], key: str, prefix: str) -> str | None:
    """How the cells under `prefix` other than `key` print nothing: "blank", "zero" or None (a tie)."""
    b = sum(1 for k, c in kind.items() if k != key and k.startswith(prefix) and c == "blank")
    z = sum(1 for k, c in kind.items() if k != key and k.startswith(prefix) and c == "zero")
    return None if b == z else "blank" if b > z else "zero"


def nothing_as_printed(doc: Document, cfg: dict | None = None) -> list[str]:
    """Write unmarked 0s blank where their row (else table) prints nothing blank; returns the
    keys changed. Only cells `read` or `corrected` (an inferred value has its own rule,
    solve._prints_nothing_blank) that equations where a blank counts as 0 bind: in a cell no
    equation binds (主动公开) the reading is all the evidence there is, and the short rows
    there vote on two or three cells (test_00014 heavy: a printed 0 read '天' written blank
    after one lost 0 beside it)."""
    cfg = cfg if cfg is not None else (config("solver.yaml").get("nothing_as_printed") or {})
    if not cfg.get("enabled") or getattr(doc.source, "kind", None) not in SCAN_KINDS:
        return []
    from .score import failed_reading
    if failed_reading(doc, (config("scoring.yaml").get("sanity") or {}).get("failed_reading") or {}):
        return []        # where printed 0s lost their ink (val_00001 light, thin: 75 cells missing) they
                         # vote "blank" too: 14 broken 0s read '门', 'n', '17' were written blank
    from .solve import equations_for
    eqs = equations_for(doc)
    strict = {k for eq in eqs if not eq.null_as_zero for k in eq.lhs + eq.rhs}
    bound = {k for eq in eqs if eq.null_as_zero for k in eq.lhs + eq.rhs} - strict
    zeros, broken = _zero_texts()
    kind = kinds(doc, zeros, blank_marks("grid_blank_marks") - {""}, broken)
    changed = []
    for key, c in kind.items():
        if c != "unmarked_zero" or key not in bound:
            continue
        row, table = key.rsplit("/", 1)[0] + "/", key.split("/")[0] + "/"
        h = habit(kind, key, row) or (habit(kind, key, table) if cfg.get("table") else None)
        if h == "blank":
            changed.append(key)
    for key in changed:
        f = doc.fields[key]
        f.value = None
        if DOUBT not in f.doubts:
            f.doubts.append(DOUBT)
    return changed
