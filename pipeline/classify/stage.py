"""The classify stage: a Document's tables decoded into canonical Fields (doc.fields),
template, agency/year, missing and unmapped; flattened text also read as a stream
(pipeline/stream.py) and the better reading kept."""
from __future__ import annotations

from ..model import Cell, Document, Field
from ..templates import Template, config, label_classes, templates
from ..values import parse_value
from .active_table import decode_active
from .appeals_table import decode_appeals
from .decoded import Decoded, appeal_parts, doubt_block_order
from .guards import broken_zeros, fit_digit_count, guards_on, sanity
from .mappers import FUZZY, get_mapper
from .meta import active_template_by_rows, detect_active_template, pre2019, read_title
from .regions import find_regions
from .requests_table import decode_requests
from .rows import table_rows


def classify(doc: Document, settings=None) -> None:
    """Fill doc.fields (canonical key → Field), template, agency/year, missing, unmapped."""
    mapper = get_mapper(getattr(settings, "mapper", "auto"))
    doc.models["mapper"] = getattr(mapper, "version", getattr(mapper, "name", "fuzzy"))
    text = doc.text or " ".join(w.text for p in doc.pages for w in p.words)
    doc.agency, doc.year = read_title(text)
    rows = table_rows(doc)
    union = templates()["2021"]  # holds every requests row (incl. the hybrid one-row 其他处理)
    regions = find_regions(rows, label_classes(union))
    streamed = stream_tables(doc, union)
    if not regions and not streamed:
        if pre2019(text):
            doc.status = "unsupported_template"
            doc.errors.append("pre-2019 report: its statistics table (政府信息公开情况统计表) is not a "
                              "supported template")
        elif doc.year is None:
            doc.fail("not a government information disclosure annual report: no report title and no "
                     "report tables found")
        else:
            doc.status = "no_tables"
            doc.errors.append("no report table found in the document")
        return
    decoded: dict[str, Decoded] = {}
    act_tpl = None
    if "active" in regions:
        s, e = regions["active"]
        act_tpl = detect_active_template(rows[s:e]) or active_template_by_rows(rows[s:e])
    for name, (s, e) in regions.items():
        d = Decoded(kind=name)
        if name == "active":
            tpl = templates()[act_tpl or ("2021" if (doc.year or 0) >= 2021 else "2019")]
            d.template = tpl.name
            decode_active(rows[s:e], mapper, tpl, d)
        elif name == "requests":
            decode_requests(rows[s:e], mapper, union, d,
                            template_columns="requests" not in streamed and _joined_columns(doc, union))
        else:
            decode_appeals(rows[s:e], mapper, union, d)
        decoded[name] = d
    if streamed or "active" in decoded:
        tpl_a = templates()[act_tpl or ("2021" if (doc.year or 0) >= 2021 else "2019")]
        streamed.update(stream_tables(doc, union, tpl_a, only=("active",)))
    for name, d in streamed.items():
        if name not in decoded:
            decoded[name] = d
            continue
        prefer = _prefer_stream(d, decoded[name])
        filled = not prefer and _fills_label_only(d, decoded[name])
        if prefer or filled:
            if filled or _guessed_appeals(d, decoded[name]):
                _doubt_disagreements(d, decoded[name])     # taken over a guess, not proven by it
            decoded[name] = d
        else:
            _doubt_disagreements(decoded[name], d)
    if "appeals" in decoded and doc.text and not any(t.aligned for t in doc.tables):
        from ..stream import region
        doubt_block_order(decoded["appeals"], appeal_parts(union), region(doc.text, "appeals") or "")
    req_tpl = decoded.get("requests").template if "requests" in decoded else None
    doc.template = act_tpl or req_tpl or ("2021" if (doc.year or 0) >= 2021 else "2019")
    for name, d in decoded.items():
        doc.table_templates[name] = d.template or doc.template
    if "requests" in decoded and decoded["requests"].template is None:
        doc.table_templates["requests"] = doc.template
    tpl = templates()[doc.template]
    if "requests" in decoded:
        d = decoded["requests"]
        rows_t = templates()[doc.table_templates["requests"]].request_rows
        for c in d.absent_cols:
            d.missing.update({f"requests/{r.key}/{c}": f"column {c} not printed" for r in rows_t
                              if r.expected or any(k.startswith(f"requests/{r.key}/") for k in d.cells)})
    for name in ("active", "requests", "appeals"):
        if name not in decoded:
            doc.missing.append({"key": f"{name}/*", "reason": f"{tpl.table_titles.get(name, name)}: table not found"})
    if guards_on():
        fit_digit_count(decoded)
        broken_zeros(decoded)
        doc.warnings += sanity(decoded)
    for d in decoded.values():
        for k, cell in d.cells.items():
            doc.fields[k] = make_field(k, cell, tpl)
            if k in d.placement:
                doc.fields[k].placement = d.placement[k]
        for k in sorted(d.unreadable):      # a set: its order changes with PYTHONHASHSEED
            doc.fields[k] = Field(k, None, 0.0, text="", illegible=True)
        for k, why in sorted(d.missing.items()):
            if k in doc.fields and k not in d.unreadable:
                continue
            if d.kind == "requests" and k.split("/")[1] not in {r.key for r in
                                                                templates()[doc.table_templates["requests"]].request_rows}:
                continue
            doc.missing.append({"key": k, "reason": why})
        doc.unmapped += [{"table": d.kind, "label": u} for u in d.unmapped]
        doc.warnings += d.warnings
    doc.labels = [lab for d in decoded.values() for lab in d.labels]
    mark_tables(doc, rows, regions, decoded)
    if not doc.fields:
        doc.status = "no_tables"
        doc.errors.append("report tables found but no cell could be read")
    elif doc.missing:
        doc.status = "needs_review"
        doc.warnings.append(f"{len(doc.missing)} expected cells or tables missing (see `missing`)")


def _joined_columns(doc: Document, tpl: Template) -> bool:
    """The requests rows were rewritten by the joined-rows reader (pipeline/joined.py) as the
    template's cells in its column order, every one of them (configs/joined.yaml
    `template_columns`). Used where the stream decoder has no reading of the table: where it
    has one, it is compared with the line reading as before (joined-rows val_00003: the line
    reading with the template's columns left three label-only rows the stream read)."""
    from ..joined import settings as joined_settings
    runs = [r for r in doc.joined if r.table == "requests"]
    return (bool(joined_settings().get("template_columns", False)) and bool(runs)
            and all(r.width == len(tpl.request_columns) for r in runs))


def mark_tables(doc: Document, rows: list, regions: dict[str, tuple[int, int]], decoded: dict[str, Decoded]) -> None:
    """What classify learnt, written on the tables it read (model.py): Cell.key on each
    printed cell a key was read from; Table.kind the region more than half of a table's
    rows fall in, Table.template that table's template. The grid sidecar carries them
    (batch) and the HTML report colours keyed cells by them."""
    for d in decoded.values():
        for k, c in d.cells.items():
            if c is not None:
                c.key = k
    counts: dict[int, dict[str, int]] = {}
    for name, (s, e) in regions.items():
        for r in rows[s:e]:
            if r.table is not None:
                n = counts.setdefault(id(r.table), {})
                n[name] = n.get(name, 0) + 1
    for t in doc.tables:
        n = counts.get(id(t), {})
        kind = max(n, key=n.get, default=None)
        if kind is not None and 2 * n[kind] > len(t.rows()):   # flattened text in one block holds
            t.kind = kind                                       # several tables: no one kind
            t.template = doc.table_templates.get(kind) or doc.template


def stream_tables(doc: Document, union: Template, active: Template | None = None,
                  only=("requests", "appeals")) -> dict[str, Decoded]:
    """Flattened text read as a stream (pipeline/stream.py): the tables it could decode,
    as Decoded. Only for text inputs (no recovered grid)."""
    if not doc.text or any(t.aligned for t in doc.tables):
        return {}
    from .. import stream
    readers = {"requests": lambda: stream.decode_requests(doc.text, union, FUZZY.similarity),
               "appeals": lambda: stream.decode_appeals(doc.text, union),
               "active": lambda: stream.decode_active(doc.text, active, FUZZY.similarity) if active else None}
    out = {}
    for name in only:
        try:
            st = readers[name]()
        except Exception as e:  # the line-based reading still stands: a decoder bug must not fail the document
            doc.warnings.append(f"{name}: stream decoder failed ({type(e).__name__}: {e}); line-based reading kept")
            continue
        if st is None or not st.cells:
            continue
        d = Decoded(kind=name, template=st.template, cells=dict(st.cells), missing=dict(st.missing),
                    warnings=list(st.warnings), labels=list(st.labels), placement=dict(st.placement))
        d.unreadable = {k for k, why in st.missing.items() if "cannot be told apart" in why}
        d.warnings.insert(0, f"{name}: read as a stream of labels and values (flattened text)")
        out[name] = d
    return out


def _prefer_stream(st: Decoded, line: Decoded) -> bool:
    """The stream's reading of a table wins when it places more cells than the line-based
    one, or as many without doubt where the line-based one missed or doubted some, or
    (requests) as many with fewer in doubt or with values for rows the line-based one read
    as label-only, or (appeals: one row, its columns read in order) as many with fewer
    equations broken."""
    n_st, n_line = len(st.cells), len(line.cells)
    if n_st != n_line:
        return n_st > n_line
    if st.kind == "active" and set(st.placement) >= set(st.cells):
        # both guesses (the stream doubtful everywhere): the stream's, unless the lines are
        # sure of at least this share of the cells (pdfminer: the column reading is right
        # where the lines, joined one value a line, are not)
        share = float(config("classify.yaml").get("stream", {}).get("active_stream_over_doubtful_lines", 0.0))
        if sum(1 for k in line.cells if line.placement.get(k, 1.0) >= 1.0) < share * n_line:
            return True
    if not st.placement and not st.missing and bool(line.missing or line.unreadable or line.placement):
        return True
    if st.kind == "requests":
        if len(st.placement) + len(st.missing) < len(line.placement) + len(line.missing) + len(line.unreadable):
            return True   # as many cells, fewer in doubt (a label-only row the stream gave values)
        label_only = {k for k, c in line.cells.items() if c is None and k in line.placement}
        if label_only and all(st.cells.get(k) is not None for k in label_only) and _broken(st) <= _broken(line):
            return True   # rows the lines read as label-only (blank, doubtful) hold values in the stream
    # the appeals row as many cells: the reading whose equations hold, or the stream's sure and
    # balanced reading of its own region over a line reading that found no header to order by
    return st.kind == "appeals" and (_broken(st) < _broken(line) or _guessed_appeals(st, line))


def _fills_label_only(st: Decoded, line: Decoded) -> bool:
    """The requests table's stream reading holds the line-based one and more: it reads a value
    for every cell of the rows the lines read as a label alone (blank, doubtful: Chromium's
    innerText prints each value on its own line, val_00003), and the very value the lines read
    for every other cell. The lines' blanks are then values they did not see, not evidence
    (their fewer broken equations come from the blanks: a misprinted row read blank balances),
    so the stream stands even with more equations broken (where _prefer_stream would keep the
    lines); classify then doubts the cells the two disagree on. Switch: configs/classify.yaml
    stream `fill_label_only_rows`."""
    if st.kind != "requests" or not config("classify.yaml").get("stream", {}).get("fill_label_only_rows", True):
        return False
    label_only = {k for k, c in line.cells.items() if c is None and k in line.placement}
    if not label_only or any(st.cells.get(k) is None for k in label_only):
        return False

    def num(c):
        return None if c is None else parse_value(c.text)[1]
    return all(k in st.cells and num(st.cells[k]) == num(c) for k, c in line.cells.items() if k not in label_only)


def _guessed_appeals(st: Decoded, line: Decoded) -> bool:
    """The line-based appeals reading took its values in template order for want of a header
    (its row may reach past the table: pdfminer prints the row one value a line after the
    header's characters), while the stream read exactly one value per cell of its region,
    sure, every equation holding: the stream's reading stands (classify then doubts the
    cells the two disagree on)."""
    return (st.kind == "appeals" and line.order_guessed and not st.placement and not st.missing
            and len(st.cells) == len(line.cells) and _broken(st) == 0)


def _broken(d: Decoded) -> int:
    from ..stream import balance
    tpl = templates().get(d.template or "2021", templates()["2021"])
    return balance({k: None if c is None else parse_value(c.text)[1] for k, c in d.cells.items()}, tpl)[1]


def _doubt_disagreements(keep: Decoded, other: Decoded) -> None:
    """The line-based reading of a flattened table kept over the stream's: a cell the two
    place with different values, or that the stream found printed but could not place
    (a row that lost empty cells), is doubtful; so is one the stream placed alike but
    doubted (its equations broken)."""
    doubtful = float(config("classify.yaml").get("stream", {}).get("doubtful", 0.5))

    def value(cell):
        return None if cell is None else parse_value(cell.text)[1]
    for k, cell in keep.cells.items():
        if (k in other.cells and value(other.cells[k]) != value(cell)) or k in other.unreadable:
            keep.placement[k] = min(keep.placement.get(k, 1.0), doubtful)
        elif k in other.placement:   # the same value, which the stream found doubtful to place
            keep.placement[k] = min(keep.placement.get(k, 1.0), other.placement[k])


def make_field(key: str, cell: Cell | None, tpl: Template) -> Field:
    """A result Field from a decoded cell: value parsed with the column's kind (count or
    万元 amount); OCR readings carried as alternatives."""
    lab = tpl.column_label(key) or next((t.column_label(key) for t in templates().values()
                                         if t.column_label(key)), None)
    kind = lab.kind if lab else "count"
    if cell is None:  # a trailing field the flattening dropped: printed blank
        return Field(key, None, 1.0, text="", alternatives=[(None, 1.0)])
    doubts = list(cell.doubts)
    if cell.readings:
        alts = [(_as_kind(v, kind), float(p)) for v, p in cell.readings]
        return Field(key, alts[0][0], alts[0][1], page=cell.page, bbox=cell.bbox, text=cell.text, alternatives=alts,
                     doubts=doubts)
    ok, v = parse_value(cell.text, kind)
    if not ok:  # text that is not a number: illegible, the solver may infer it
        return Field(key, None, 0.0, page=cell.page, bbox=cell.bbox, text=cell.text, illegible=True, doubts=doubts)
    return Field(key, v, 1.0, page=cell.page, bbox=cell.bbox, text=cell.text, alternatives=[(v, 1.0)], doubts=doubts)


def _as_kind(v, kind):
    if v is None:
        return None
    return float(v) if kind == "amount" else v
