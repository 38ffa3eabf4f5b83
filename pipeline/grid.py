"""Grid stage: find ruled tables on page images, rebuild their cell grid, read each cell.

Why this way: the reports' tables are ruled, so the ruling lines (OpenCV morphology with
kernels longer than any glyph) give the grid exactly; the enclosed white regions between
the rules are the cells, so merged cells come out with their spans for free. Reading
each cell's own crop (rules painted out, trimmed to ink, split into text lines) recovers
the digits that full-page detection loses. On digital pages with a trusted text layer
the PDF's characters are placed into the cells instead of OCR.

Parts: grid_cells (rules → cells, the "lines" strategy), grid_text (the "text" strategy:
rows and columns the printed numbers show where rules broke, vanished or doubled),
grid_crops (one cell's ink cut into text lines), grid_tables (header rows, tables
continued over a page break).

Entry point: recover(doc, settings). Coordinates: page.image is replaced by the upright,
deskewed image that the grid refers to; cell and table boxes are in page units
(pt for PDFs, px for images) of that upright page.
"""
from __future__ import annotations

import contextlib
import functools
import time

import numpy as np

from .bands import first_lines, last_lines, title_read
from .cost import lap
from .deskew import estimate_skew, rotate_small, skew_config
from .grid_cells import (RawCell, binarise, components, find_tables, grid_config, line_masks,  # noqa: F401
                         component_boxes, rule_mask, rule_tables)
from .grid_crops import (cell_lines, cut_cell_lines, faint_glyphs, faint_table, grey_lines, ink_extent,  # noqa: F401
                         is_dash, is_faint, is_faint_glyphs, shape_flags)
from .grid_tables import empty_labels, garbled_values, join_continued, mark_headers, numeric_like, read_as_slash  # noqa: F401
from .grid_boxes import BOXES, text_tables
from .grid_text import LINES, faint_masks, refine
from .model import Cell, CellEvidence, Document, Page, Table, Word
from .ocr import candidates, get_engine, normalise_text, parse_value
from .orient import orientation
from .page_border import BORDER_DOUBT, border_mask, paint_out, settings as border_settings, touches
from .label_reader import read_template_cells
from .squeeze import fill_dropped, label_side, min_width as squeezed_min, narrowed, shortened   # long text lines squeezed
from .strips import read_wrapped_cells, recognise as recognise_rows
from .pdf import config, px_per_pt
from .values import blank_marks


RELABEL_DOUBT = ("the row's label was read again from the scan's grey pixels (its cleaned crop read as "
                 "noise): the row is placed by that reading")
FAINT_DOUBT = "faint ink (a thinned scan): strokes may be lost, a 0 read as 1 or 11"
BOXES_DOUBT = "table without ruling lines: the cell's row and column are inferred from the text"


def page_scale(page: Page) -> float:
    """Pixels of page.image per page unit."""
    s = getattr(page, "scale", None)
    if s:
        return float(s)
    if page.image is not None and page.width:
        return page.image.shape[1] / float(page.width)
    return 1.0


# -- reading cells -------------------------------------------------------------------------------

def _place_chars(words: list[Word], box_units) -> str:
    """Text-layer characters whose centres fall in a cell, as lines top to bottom."""
    x0, y0, x1, y1 = box_units
    inside = [w for w in words
              if x0 <= (w.bbox[0] + w.bbox[2]) / 2 <= x1 and y0 <= (w.bbox[1] + w.bbox[3]) / 2 <= y1]
    if not inside:
        return ""
    from .pdf import lines_text
    return "".join(lines_text(inside).split("\n"))


def _readings_from_text(text: str):
    ok, v = parse_value(text)
    return [(v, 1.0)] if ok else None


def build_table(page: Page, grey: np.ndarray, rules: np.ndarray, bbox_px, raw: list[RawCell],
                engine, use_text_layer: bool) -> Table:
    s = page_scale(page)
    cells: list[Cell] = []
    jobs = []        # (cell, n_lines)
    crops = []
    glyph_jobs, glyph_crops = [], []   # cells inked by faint_glyphs alone (crops.faint_glyphs)
    inked = {}
    recs, raw_of = {}, {}   # id(cell) → its lines' RecResults, its RawCell
    faint = None if use_text_layer else faint_table(grey, rules, raw, px_per_pt(page, s))
    glyphs = None if use_text_layer else faint_glyphs(grey, rules, raw, px_per_pt(page, s))
    for rc in sorted(raw, key=lambda c: (c.row, c.col)):
        box = (rc.x0 / s, rc.y0 / s, rc.x1 / s, rc.y1 / s)
        cell = Cell(row=rc.row, col=rc.col, rowspan=rc.rowspan, colspan=rc.colspan,
                    bbox=tuple(round(v, 2) for v in box), page=page.number)
        cells.append(cell)
        raw_of[id(cell)] = rc
        if use_text_layer:
            cell.text = _place_chars(page.words, box)
            if cell.text:
                inked[id(cell)] = True
                continue
        ok, lines, cell.cut = cut_cell_lines(grey, rules, rc, px_per_pt(page, s), faint_from=faint,
                                             glyphs_from=glyphs)
        inked[id(cell)] = ok
        if ok:
            band = is_faint_glyphs(grey, rules, rc, px_per_pt(page, s), faint, glyphs)
            (glyph_jobs if band else jobs).append((cell, len(lines)))
            (glyph_crops if band else crops).extend(lines)
            if band or is_faint(grey, rules, rc, px_per_pt(page, s), faint):
                cell.doubts.append(FAINT_DOUBT)
    lap(page, "cells")
    results = _recognise(engine, crops, jobs, page)
    if glyph_jobs:      # read apart: PP-OCR's readings depend on the batch, the others' stay as without them
        results += _recognise(engine, glyph_crops, glyph_jobs, page)
        jobs += glyph_jobs
        crops += glyph_crops
    lap(page, "recognise")
    i = 0
    for cell, n in jobs:
        rs = results[i:i + n]
        i += n
        cell.text = "".join(r.text for r in rs)
        cell.char_probs = [cp for r in rs for cp in r.char_probs]
        recs[id(cell)] = rs
        dash, blob, slash = shape_flags(crops[i - 1]) if n == 1 else (False, False, False)   # one component count
        cell.evidence = CellEvidence(slots=[sl for r in rs for sl in r.slots], lines=crops[i - n:i],
                                     dash=dash, blob=blob, slash=slash)
        if n == 1:
            cell.ink = ink_extent(crops[i - 1], s)
    relabelled = _reread_labels(page, grey, rules, cells, recs, raw_of, engine) if not use_text_layer else []
    table = Table(cells=cells, page=page.number, pages=[page.number],
                  bbox=tuple(round(v / s, 2) for v in bbox_px), aligned=True)
    _assign_readings(table, inked)
    _doubt_relabelled_rows(table, relabelled)
    lap(page, "readings")
    return table


def relabel_settings() -> dict:
    """configs/grid.yaml `relabel:`."""
    from .templates import config as yaml_config
    return yaml_config("grid.yaml")["relabel"]


def _mean_score(results) -> float:
    n = sum(max(1, len(r.text)) for r in results)
    return sum(r.score * max(1, len(r.text)) for r in results) / max(n, 1)


def _reread_labels(page: Page, grey: np.ndarray, rules: np.ndarray, cells: list[Cell], recs: dict,
                   raw_of: dict, engine) -> list[Cell]:
    """Text cells (labels, headers) whose cleaned crops the recogniser read with a low mean
    confidence are read again from the grey pixels (grey_lines); the new reading is kept
    when it is surer by `gain` and is text too (a number never turns into a label, nor a
    label into a number). Returns the cells whose text changed. Why: on blurred, emboldened
    scans the cleaned crop breaks a narrow column's wrapped label into noise ('二开1sm：'
    for '（二）部分公开…'), its row is then not found although every value was read."""
    cfg = relabel_settings()
    if not cfg.get("enabled"):
        return []
    s = page_scale(page)
    pt_px = px_per_pt(page, s)
    todo, crops, spans = [], [], []
    labels = empty_labels(cells, recs) if cfg.get("empty_labels") else set()
    for c in cells:
        rs = recs.get(id(c))
        if not rs or numeric_like(c):
            continue
        if not c.text and id(c) not in labels:
            continue
        if c.text and _mean_score(rs) >= cfg["min_score"]:
            continue
        lines = grey_lines(grey, rules, raw_of[id(c)], pt_px, cfg)
        if not lines:
            continue
        todo.append((c, _mean_score(rs) if c.text else 0.0))
        spans.append((len(crops), len(crops) + len(lines)))
        crops += lines
    if not crops:
        return []
    # one crop per call: PP-OCR pads a batch to its widest crop, and a short line padded
    # to a long one's width reads worse (docs/speed.md)
    results = [r for crop in crops for r in engine.recognise([crop])]
    page.cost.crops += len(crops)
    changed = []
    for (c, old), (a, b) in zip(todo, spans):
        rs = results[a:b]
        text = "".join(r.text for r in rs)
        if not text or _mean_score(rs) < old + cfg["gain"]:
            continue
        if not c.text and _mean_score(rs) < cfg["empty_min_score"]:
            continue
        probe = Cell(row=c.row, col=c.col, text=text)
        if numeric_like(probe):
            continue
        c.text = text
        c.char_probs = [cp for r in rs for cp in r.char_probs]
        changed.append(c)
    return changed


def _doubt_relabelled_rows(table: Table, relabelled: list[Cell]) -> None:
    """The value cells of rows whose label was read again are placed by that reading:
    doubted (capped below the review threshold by score) when `relabel.doubt_rows`."""
    if not relabel_settings().get("doubt_rows"):
        return
    for lab in relabelled:
        if lab.is_header:
            continue
        rows = range(lab.row, lab.row + lab.rowspan)
        for c in table.cells:
            if c.row in rows and c.readings and RELABEL_DOUBT not in c.doubts:
                c.doubts.append(RELABEL_DOUBT)


def _recognise(engine, crops: list[np.ndarray], jobs: list[tuple[Cell, int]], page: Page) -> list:
    """Every crop's RecResult. A one-line cell the small digit model reads as a number with confidence
    (digits.sure_numbers) is not sent to PP-OCR: ~40× the cost per crop (docs/speed.md)."""
    results: list = [None] * len(crops)
    if crops and config().get("digits", {}).get("route", {}).get("enabled"):
        from .digits import sure_numbers
        single, k = [], 0
        for _, n in jobs:
            if n == 1:
                single.append(k)
            k += n
        for k, r in zip(single, sure_numbers([crops[k] for k in single], page=page)):
            results[k] = r
    page.cost.routed += sum(r is not None for r in results)
    lab = label_side(jobs, results)     # labels and headers by position (the joined reads below add no number)
    read_template_cells(crops, jobs, results, page.cost)   # template text read by the label model
    read_wrapped_cells(engine, crops, jobs, results, page, lab)
    cut, dropped = shortened(crops, jobs, results, lab, page.cost)   # labels read shorter
    rest = [k for k, r in enumerate(results) if r is None and k not in dropped]
    rows = [getattr(cell, "row", None) if n == 1 else None for cell, n in jobs for _ in range(n)]   # row strips
    reads = narrowed([cut.get(k, crops[k]) for k in rest], page.cost, [lab[k] for k in rest] if lab else None)
    # the others (not cut or squeezed) are padded as if all were read (ocr.RapidOCREngine.padding_of)
    moved = len(rest) < len(crops) or any(a is not crops[k] for a, k in zip(reads, rest))
    keep = engine.padding_of(crops, squeezed_min()) if moved and hasattr(engine, "padding_of") else contextlib.nullcontext()
    with keep:
        for k, r in zip(rest, recognise_rows(engine, reads, [rows[k] for k in rest], page.cost) if rest else []):
            results[k] = r
    fill_dropped(results, dropped)
    page.cost.crops += len(rest)
    return results


def _assign_readings(table: Table, inked: dict) -> None:
    """Numeric cells get ranked readings; header rows are marked."""
    numeric_cols = mark_headers(table)
    num = {id(c): numeric_like(c) for c in table.cells}
    num.update({k: True for k in garbled_values(table, numeric_cols)})
    for c in table.cells:
        ev = c.evidence                          # None: a text-layer cell (or no ink)
        slots = ev.slots if ev is not None else None
        in_numeric_col = c.col in numeric_cols and c.colspan == 1
        if c.is_header:
            c.readings = []
        elif not inked.get(id(c)):
            c.readings = [(None, 1.0)] if in_numeric_col or not c.text else []
        elif slots is None:                     # text layer
            r = _readings_from_text(c.text)
            c.readings = r if r is not None and (num[id(c)] or in_numeric_col) else []
        elif num[id(c)] or in_numeric_col:
            if normalise_text(c.text) in blank_marks("grid_blank_marks"):
                c.readings = [(None, 1.0)]
            elif ev.dash:
                c.readings = [tuple(x) for x in grid_config()["dash_prior"]]
            else:
                c.readings = candidates(slots)
                if config().get("digits", {}).get("enabled"):
                    from .digits import second_opinion
                    c.readings = second_opinion(c.readings, ev.lines)
                if ev.slash and read_as_slash(c):
                    # a printed ／ read as 1 (or nothing): a blank, the equations may say 1
                    c.readings = [tuple(x) for x in grid_config()["slash"]["prior"]]
        else:
            c.readings = []
        if not c.readings and ev is not None and ev.blob and not c.is_header and in_numeric_col:
            # a digit filled solid by a heavy scan: no recogniser reads it, but a lone
            # solid blob of digit shape in a count column is most often a 0
            c.readings = [tuple(x) for x in grid_config()["blob_prior"]]
        c.evidence = None                        # the crops go: evidence never leaves the grid stage


# -- pages and documents ----------------------------------------------------------------------

def recover_page(page: Page, engine) -> None:
    """Tables of one page (page.image replaced by its upright, deskewed version)."""
    import cv2
    grey = page.image
    if grey is None:
        return
    if grey.ndim == 3:
        grey = cv2.cvtColor(grey, cv2.COLOR_RGB2GRAY)
    s = page_scale(page)
    pt_px = px_per_pt(page, s)
    use_text = page.text_layer == "trusted"
    # a black page border or corner is painted as paper before anything is looked for
    # (pipeline/page_border.py); `border` follows the page's turns to doubt the cells it covered
    border = None if use_text else border_mask(grey, pt_px)
    if border is not None:
        grey = paint_out(grey, border)
        border = border.astype(np.uint8) * 255
    binv = binarise(grey)
    if not use_text and np.count_nonzero(binv) < grid_config()["blank_ink_share"] * binv.size:
        page.cost.kind = "blank"      # nothing printed: no rules, no title to read
        lap(page, "lines")
        return
    if not use_text:
        angle = estimate_skew(binv, grey)
        if abs(angle) >= skew_config()["turn_min_deg"]:
            grey = rotate_small(grey, angle)
            binv = binarise(grey)
            if border is not None:
                border = 255 - rotate_small(255 - border, angle)
            page.skew = round(angle, 3)
    hor, ver, rules, tables = rule_tables(binv, pt_px)      # the rule mask made once (session 32c)
    lap(page, "lines")
    if tables and not use_text:
        rot = orientation(grey, [cs for _, cs in tables], rules, engine, pt_px, page.cost, binv)
        lap(page, "orientation")
        if rot:
            grey = np.ascontiguousarray(np.rot90(grey, k=rot // 90))
            if border is not None:
                border = np.ascontiguousarray(np.rot90(border, k=rot // 90))
            page.rotation = (page.rotation + rot) % 360
            if rot in (90, 270):
                page.width, page.height = page.height, page.width
            binv = binarise(grey)
            hor, ver, rules, tables = rule_tables(binv, pt_px)
    page.image = grey
    page.rulings = _segments(hor, ver, s)
    page.cost.kind = "table" if tables else "text"
    found = page_tables(grey, binv, hor, ver, tables, pt_px, refine_text=not use_text, rules=rules)
    if found and not tables:
        page.cost.kind = "table"
    lap(page, "lines")
    page.tables = [build_table(page, grey, rules, bbox, raw, engine, use_text) for bbox, raw, _, rules in found]
    for t, (_, _, how, _) in zip(page.tables, found):
        t.strategy = how
        if how == BOXES:            # no rule printed where the cells are: positions are guessed
            for c in t.cells:
                c.doubts.append(BOXES_DOUBT)
    if border is not None:
        near, border = border_settings()["doubt_pt"] * pt_px, border > 127
        for t in page.tables:
            for c in t.cells:
                if c.bbox and touches(border, tuple(v * s for v in c.bbox), near):
                    c.doubts.append(BORDER_DOUBT)
    _titles_and_text(page, grey, engine, use_text)
    lap(page, "text")


def page_tables(grey: np.ndarray, binv: np.ndarray, hor: np.ndarray, ver: np.ndarray, tables: list,
                px_per_pt: float, refine_text: bool = True, rules: np.ndarray | None = None) -> list:
    """(bbox, cells, strategy, rule mask to paint out) of each table find_tables found on
    an upright page. On scans (`refine_text`) the text checks the rules' grid per table
    (grid_text.refine: "lines", "faint" or "text"); a table cut by faint rules paints
    those out of its cells too. A scanned page where the rules show no table gets the
    tables its text shows ("boxes": grid_boxes.text_tables)."""
    import cv2
    kernel = np.ones((3, 3), np.uint8)
    rules = rule_mask(hor, ver) if rules is None else rules       # grid_cells.rule_mask(hor, ver)
    if not refine_text:
        return [(bbox, raw, LINES, rules) for bbox, raw in tables]
    if not tables:
        return [(bbox, raw, BOXES, rules) for bbox, raw in text_tables(binv, rules, px_per_pt)]
    faint = functools.lru_cache(1)(lambda: faint_masks(grey, px_per_pt))
    out = []
    for bbox, raw in tables:
        raw, bbox, how = refine(raw, binv, rules, hor, ver, bbox, px_per_pt, faint)
        mask = rules
        if how != LINES and faint.cache_info().currsize:
            fh, fv = faint()
            mask = cv2.dilate(cv2.bitwise_or(np.maximum(hor, fh), np.maximum(ver, fv)), kernel)
        out.append((bbox, raw, how, mask))
    return out


def _titles_and_text(page: Page, grey: np.ndarray, engine, use_text: bool) -> None:
    """Each table's title (the text line just above it) and, on scans, page words.

    Scanned pages: in the band above each table, only its lowest lines of ink are read
    (detection + recognition; the title is the lowest line), and on the first page the
    first lines of ink in its top (`title_top_frac`), where the report's title names the
    agency and the year (pipeline/bands.py). Trusted pages: the text layer already has it all.
    """
    s = page_scale(page)
    pt_px = px_per_pt(page, s)
    band_h = int(grid_config()["title_band_pt"] * pt_px)
    lines_cfg = grid_config()["title_band"]
    regions = []
    for t in page.tables:
        if t.page != page.number or not t.bbox:
            continue
        y1 = int(t.bbox[1] * s)
        regions.append((t, max(0, y1 - band_h), max(0, y1 - 2)))
    if page.number == 1 and not use_text:
        # the report's title (agency, year) is at the top: detection and recognition cost
        # grows with the band, and the paragraphs below it are never used
        first = min((int(t.bbox[1] * s) for t in page.tables), default=grey.shape[0] // 3)
        regions.append((None, 0, min(first - 2, int(grid_config()["title_top_frac"] * grey.shape[0]))))
    for t, ya, yb in regions:
        if yb - ya < 10:
            continue
        if use_text:
            lo, hi = ya / s, yb / s
            words = [w for w in page.words if lo <= (w.bbox[1] + w.bbox[3]) / 2 <= hi]
            lines = line_words(words)
        else:
            if t is None:
                rows = first_lines(grey[ya:yb], pt_px, lines_cfg["title_lines"])
            else:
                rows = last_lines(grey[ya:yb], pt_px, lines_cfg["table_title_lines"])
            if rows is not None:         # no line of ink found: the whole band, as it was
                ya, yb = ya + rows[0], ya + rows[1]
            until = title_read if t is None and lines_cfg.get("stop_at_title") and \
                getattr(engine, "READS_UNTIL", False) else None
            try:
                found = engine.read_lines(grey[ya:yb], enough=until) if until else engine.read_lines(grey[ya:yb])
            except Exception:            # page text is a help for classify, never fatal
                found = []
            lines = [Word(w.text, (w.bbox[0] / s, (w.bbox[1] + ya) / s, w.bbox[2] / s, (w.bbox[3] + ya) / s),
                          w.confidence) for w in found]
            page.words.extend(lines)
        if t is not None and lines:
            t.title = max(lines, key=lambda w: w.bbox[3]).text


def line_words(words: list[Word]) -> list[Word]:
    """Text-layer characters joined into line Words (pdf.group_lines)."""
    from .pdf import group_lines
    return [Word("".join(w.text for w in ln), (min(w.bbox[0] for w in ln), min(w.bbox[1] for w in ln),
                                                max(w.bbox[2] for w in ln), max(w.bbox[3] for w in ln)))
            for ln in group_lines(words)]


def _segments(hor, ver, s) -> list:
    out = []
    for m in (hor, ver):
        for x, y, w, h in component_boxes(m):           # as components(m)'s stats, in its order
            out.append((round(x / s, 2), round(y / s, 2), round((x + w) / s, 2), round((y + h) / s, 2)))
    return out


def recover(doc: Document, settings=None, keep_images: bool = False, join: bool = True) -> None:
    """Find and read the tables of every page that has an image, one page at a time, then
    join tables continued over a page break (`join`: False leaves that to the caller,
    grid_tables.join_continued, as eval_scans does to cache the pages' own tables).

    A lazily read page is rendered here, and the pixels of a page without a table are
    freed as soon as its grid is done (only table pages are drawn later: report pictures,
    `gouji inspect`), so a long scan never sits in memory whole. `keep_images` keeps them.
    """
    name = getattr(settings, "ocr_engine", None) or "rapidocr"
    engine = None
    t_ocr = 0.0
    for page in doc.pages:
        page.cost.start()
        try:
            img = page.image
        except Exception as e:        # a page pdfium cannot render: as when reading it
            doc.fail(f"could not render the PDF: page {page.number}: {type(e).__name__}: {e}")
            return
        lap(page, "rasterise")
        if img is None:
            continue
        if engine is None:
            engine = get_engine(name)
            doc.models["ocr"] = getattr(engine, "version", name)
        rec = engine.recognise

        def timed(crops, _rec=rec):
            nonlocal t_ocr
            t = time.perf_counter()
            try:
                return _rec(crops)
            finally:
                t_ocr += time.perf_counter() - t

        engine.recognise = timed
        try:
            recover_page(page, engine)
        finally:
            engine.recognise = rec
        if not page.tables and not keep_images:
            page.image = None
    if join:
        join_continued(doc)
    doc.timings["ocr"] = doc.timings.get("ocr", 0.0) + t_ocr
    if not doc.text:      # scans: the OCR'd title and table titles, for template/agency/year
        doc.text = "\n".join(w.text for p in doc.pages for w in p.words if p.text_layer != "trusted")
    # digital only if every page that carries a table has a trusted text layer
    tpages = [p for p in doc.pages if p.tables]
    if doc.source.kind in ("digital_pdf", "scanned_pdf") and tpages:
        doc.source.kind = "digital_pdf" if all(p.text_layer == "trusted" for p in tpages) else "scanned_pdf"
