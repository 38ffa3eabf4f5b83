"""Sanity guards: confident readings the page contradicts are doubted (configs/scoring.yaml:
sanity)."""
from __future__ import annotations

import re

from ..model import Cell
from ..templates import config
from ..values import parse_value, same_number
from .decoded import Decoded

# Cell.doubts reasons of `fit_digit_count`
DIGIT_COUNT_DOUBT = "the two recognisers read different digit counts; the ink's width chose"
TEXT_FIRST_DOUBT = "the two recognisers disagree where no equation binds; PP-OCR's clean number goes first"
# Cell.doubts reason of `_wide_ink_doubt` (formatted with the counts)
WIDE_INK_DOUBT = "ink {ratio:.1f} times as wide per character as the table's printed 0s for {n} read: a digit lost?"
# Cell.doubts reason of `broken_zeros`
BROKEN_ZERO_DOUBT = ("read {v} from ink as wide as the table's printed 0s and lower than them: the sides of a 0 "
                     "whose top and bottom faded (0 put first)")


def guards_on() -> bool:
    """False while ``pipeline.classify.SANITY_OFF`` is set (training/eval_scans.py --no-sanity: the
    guards — sanity, the (六) contradiction, doubtful blanks of a grid row without values — off,
    for a before figure)."""
    from .. import classify
    return not classify.SANITY_OFF


def _top(cell: Cell | None):
    """(has a reading, its value): the top reading, else the parsed text."""
    if cell is None:
        return True, None
    if cell.readings:
        return True, cell.readings[0][0]
    ok, v = parse_value(cell.text)
    return ok, v


def doubt(cell: Cell | None, why: str) -> bool:
    if cell is None or why in cell.doubts:
        return False
    cell.doubts.append(why)
    return True


def _digits(v) -> int:
    if v is None:
        return 0
    if isinstance(v, float) and not v.is_integer():
        return sum(ch.isdigit() for ch in f"{abs(v):.6f}".rstrip("0"))
    return len(str(abs(int(v))))


def _ink_doubt(cell: Cell, ink_cfg: dict) -> str | None:
    """Why a one-line scanned cell's ink cannot hold what was read from it, or None."""
    if not cell.ink or not cell.readings:
        return None
    v = cell.readings[0][0]
    w, h = cell.ink
    if v is None or h <= 0:
        return None
    n_dig = _digits(v)
    n_chars = max(n_dig, len(re.sub(r"\s", "", cell.text or "")))
    if n_dig >= 2 and w / (n_dig * h) < float(ink_cfg["min_digit_width"]):
        return f"{n_dig} digits read from ink {w:.0f} wide and {h:.0f} high: more digits than printed"
    if n_chars and w / (n_chars * h) > float(ink_cfg["max_char_width"]):
        return f"{n_chars} characters read from ink {w:.0f} wide and {h:.0f} high: characters or gaps lost"
    return None


def sanity_config() -> dict:
    """configs/scoring.yaml `sanity`: every guard's settings."""
    return config("scoring.yaml").get("sanity", {}) or {}


def printed_zeros() -> frozenset:
    """The texts that are a printed 0 (`sanity.blank_or_zero.zero_texts`)."""
    return frozenset((sanity_config().get("blank_or_zero") or {}).get("zero_texts", ["0"]))


def zero_extent(cells, zero_texts, min_zeros: int) -> tuple[float, float] | None:
    """(median width, median height) of the ink of a table's one-line cells read as one
    zero character (`zero_texts`): the printed width of one digit on that table, whatever
    the font, the scan's scale or its blur. None with fewer than `min_zeros` such cells."""
    zs = [(c.ink[0], c.ink[1]) for c in cells
          if c is not None and c.ink and re.sub(r"\s", "", c.text or "") in zero_texts]
    if len(zs) < max(1, min_zeros):
        return None
    ws, hs = sorted(w for w, _ in zs), sorted(h for _, h in zs)
    return ws[len(ws) // 2], hs[len(hs) // 2]


def _wide_ink_doubt(cell: Cell, zero: tuple[float, float] | None, wide_cfg: dict) -> str | None:
    """Why a one-line scanned cell's ink holds more digits than were read from it, or None:
    its ink as high as the table's printed 0s (within `height_tol`) and, per character read
    (the top reading's digits or the text's characters, whichever more), at least `ratio`
    times as wide as they are. A blurred printed 42 read as a clean 0 by both recognisers
    (val_00006 heavy: ink 9.4 pt wide where the table's 0s are 5.8) balanced every equation on
    zeros; its ink is two digits wide. Ink a seal or a streak widens is also higher than a
    digit, and left to the other guards."""
    if zero is None or not cell.ink or not cell.readings or cell.readings[0][0] is None:
        return None
    (w, h), (zw, zh) = cell.ink, zero
    if zw <= 0 or zh <= 0 or abs(h / zh - 1) > float(wide_cfg["height_tol"]):
        return None
    n = max(1, _digits(cell.readings[0][0]), len(re.sub(r"\s", "", cell.text or "")))
    ratio = w / (n * zw)
    return WIDE_INK_DOUBT.format(ratio=ratio, n=n) if ratio >= float(wide_cfg["ratio"]) else None


def _ones_only(v) -> bool:
    """A reading made of 1s only (1, 11): what the recognisers make of upright strokes."""
    return isinstance(v, int) and v > 0 and set(str(v)) == {"1"}


def broken_zeros(decoded: dict[str, Decoded]) -> int:
    """A thinned scan (hairline strokes, partly broken) loses a 0's top and bottom arcs: its two
    sides are left, read `1`, `11`, `I`, `Ⅱ`. A printed 1 is one upright stroke as high as the
    digits (its stem spans the digit height) and, in most fonts, narrower than a 0. So a cell
    whose top reading is made of 1s while its ink is at least `min_width` and at most
    `max_width` times as wide as the table's printed 0s (guards.zero_extent) and lower than
    them (at most `max_height` of their height, at least `min_height`), read unsurely (top under
    `max_top`: a printed 1 is read at 1.0), holds the sides of a 0:
    0 goes first when it is among the readings (the two swap places, probabilities stay where
    they were, as in fit_digit_count), and the cell is doubted. The 0s measured are the
    table's own (at least `min_zeros` cells read as one 0), else the document's tables'
    together (one print). configs/scoring.yaml `sanity.broken_zero`. Returns the cells changed."""
    cfg = sanity_config().get("broken_zero") or {}
    if not cfg.get("enabled"):
        return 0
    zero_texts = printed_zeros()
    min_zeros = int(cfg.get("min_zeros", 5))
    whole = zero_extent([c for d in decoded.values() for c in d.cells.values()], zero_texts, min_zeros)
    n = 0
    for d in decoded.values():
        zero = zero_extent(d.cells.values(), zero_texts, min_zeros) or whole
        if zero is None or zero[0] <= 0 or zero[1] <= 0:
            continue
        for c in d.cells.values():
            if c is None or not c.ink or not c.readings or not _ones_only(c.readings[0][0]):
                continue
            w, h = c.ink[0] / zero[0], c.ink[1] / zero[1]
            if not (float(cfg["min_width"]) <= w <= float(cfg["max_width"])
                    and float(cfg["min_height"]) <= h <= float(cfg["max_height"])):
                continue
            if c.readings[0][1] >= float(cfg.get("max_top", 1.0)):
                continue                 # read surely: a printed 1
            at = next((i for i, (v, _) in enumerate(c.readings) if v is not None and v == 0), None)
            if at is None:
                continue
            r = list(c.readings)
            (v1, p1), (v0, p0) = r[0], r[at]
            r[0], r[at] = (v0, p1), (v1, p0)
            c.readings = r
            doubt(c, BROKEN_ZERO_DOUBT.format(v=v1))
            n += 1
    return n


def _cut_doubt(cell: Cell, cut_cfg: dict) -> str | None:
    """Why a scanned cell's reading may be a fragment: ink crossing the cell (a seal's ring,
    a streak) was painted out (configs/grid.yaml crops.drop_crossing) within `near_pt` of
    the ink read (model.Cell.cut). What the cut leaves there is a stub of the stroke (a
    ring's grey edge read '1') or a glyph the stroke ran into, broken."""
    cut = getattr(cell, "cut", None)          # grids cached before Cell.cut have none
    near = cut_cfg.get("near_pt")
    if cut is None or near is None or not cell.readings or cut > float(near):
        return None
    return f"ink crossing the cell was painted out {cut:.1f} pt from what was read: a fragment?"


def fit_digit_count(decoded: dict[str, Decoded]) -> int:
    """PP-OCR's own text of a one-line scanned cell against the top of its readings (PP-OCR
    mixed with the digit model, grid._assign_readings): where they hold different counts of
    characters, the one whose count the cell's ink fits (width per character ÷ ink height in
    `sanity.digit_count.fit`) goes first when the other's does not. The digit model drops
    digits of faint, blurred print ('65' → 5, '32' → 0, '855(件)' → 80) that PP-OCR reads
    whole. Only in cells no balance equation binds: where one does, both readings are the
    solver's options and the arithmetic chooses (on val heavy scans swapping those moved the
    equations' evidence onto another misread cell, which became confidently wrong). The
    cell is doubted. Returns the number of cells changed.

    With `text_first`, PP-OCR's clean number goes first in such a cell whenever it differs
    from the top, unless the ink fits the top's count and not the text's: where no equation
    binds, the digit model's 0 for a faint '6' or '28' had nothing to correct it."""
    cfg = sanity_config().get("digit_count") or {}
    if not cfg.get("enabled"):
        return 0
    lo, hi = (float(x) for x in cfg["fit"])
    text_first = bool(cfg.get("text_first"))
    from ..ctc import parse_value as parse_read
    from ..templates import templates
    keys = {k for d in decoded.values() for k in d.cells}
    bound = {k for t in templates().values() for e in t.expand_equations(present=keys) for k in e.lhs + e.rhs}
    n = 0
    for d in decoded.values():
        for key, c in d.cells.items():
            if c is None or key in bound or not c.ink or not c.readings or c.ink[1] <= 0:
                continue
            top = c.readings[0][0]
            text = re.sub(r"\s", "", c.text or "")
            ok, v = parse_read(text) if text else (False, None)
            if not ok or v is None or top is None or same_number(v, top):
                continue
            at = next((i for i, (r, _) in enumerate(c.readings) if same_number(r, v)), None)
            n_read, n_top = len(text), max(1, _digits(top))
            if at is None or (n_read == n_top and not text_first):
                continue
            aspect = c.ink[0] / c.ink[1]
            fits_text, fits_top = lo <= aspect / n_read <= hi, lo <= aspect / n_top <= hi
            why = (DIGIT_COUNT_DOUBT if n_read != n_top and fits_text and not fits_top else
                   TEXT_FIRST_DOUBT if text_first and not (fits_top and not fits_text) else None)
            if why:
                r = list(c.readings)
                (vt, pt), (va, pa) = r[0], r[at]
                r[0], r[at] = (va, pt), (vt, pa)
                c.readings = r
                doubt(c, why)
                n += 1
    return n


def sanity(decoded: dict[str, Decoded]) -> list[str]:
    """Guards against confident readings the page contradicts (configs/scoring.yaml:
    sanity): a cell's ink too narrow or too wide for the characters read from it (also
    against the width of the table's own printed 0s: `_wide_ink_doubt`), a row
    whose non-zero values are all copies of one reading, a printed blank among a row of
    zeros or a lone 0 among blanks. Each doubted cell gets a reason in Cell.doubts (the
    score stage caps its confidence below the review threshold); returns warnings."""
    cfg = sanity_config()
    wide = (cfg.get("ink") or {}).get("wide") or {}
    zero_texts = printed_zeros()
    warnings: list[str] = []
    for d in decoded.values():
        rows: dict[str, list[tuple[str, Cell | None]]] = {}
        zero = zero_extent(d.cells.values(), zero_texts, int(wide.get("min_zeros", 5))) if wide.get("enabled") else None
        for k, c in d.cells.items():
            why = _wide_ink_doubt(c, zero, wide) if c is not None else None
            if why and doubt(c, why):
                warnings.append(f"{k}: {why}")
            rows.setdefault(k.rsplit("/", 1)[0], []).append((k, c))
            why = _ink_doubt(c, cfg.get("ink", {})) if c is not None and "ink" in cfg else None
            if why and doubt(c, why):
                warnings.append(f"{k}: {why}")
            why = _cut_doubt(c, cfg.get("cut") or {}) if c is not None else None
            if why and doubt(c, why):
                warnings.append(f"{k}: {why}")
        for row, cells in rows.items():
            vals = [(k, c, _top(c)) for k, c in cells]
            nz = [(k, c, v) for k, c, (ok, v) in vals if ok and v is not None and v != 0]
            if len(nz) >= int(cfg.get("copies_min", 3)) and len({v for _, _, v in nz}) == 1:
                why = f"every value of the row is one reading ({nz[0][2]}) copied into {len(nz)} cells"
                if sum(doubt(c, why) for _, c, _ in nz):
                    warnings.append(f"{row}: {why}")
            if not any(c is not None and c.ink for _, c in cells):
                continue     # text layers and flattened text: a blank is what the text prints
            n_min = int(cfg.get("blank_zero_min_row", 3))
            blanks = [(k, c) for k, c, (ok, v) in vals if ok and v is None]
            zeros = [(k, c) for k, c, (ok, v) in vals if ok and v is not None and v == 0]
            if len(blanks) == 1 and len(zeros) >= n_min and len(zeros) == len(vals) - 1:
                k, c = blanks[0]
                if doubt(c, "a printed blank in a row of zeros (a faint 0?)"):
                    warnings.append(f"{k}: a printed blank in a row of zeros")
            if len(zeros) == 1 and len(blanks) >= n_min and len(blanks) == len(vals) - 1:
                k, c = zeros[0]
                if doubt(c, "a 0 in a row of printed blanks (a mark read as 0?)"):
                    warnings.append(f"{k}: a 0 in a row of printed blanks")
    return warnings
