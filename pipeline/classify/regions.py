"""Regions: which rows belong to the active, requests and appeals tables."""
from __future__ import annotations

from ..normalize import normalize
from ..templates import config
from .mappers import short_match
from .rows import Row

APPEALS_CHARS = set("结果维持纠正其他尚未审总计")


def vertical_header(rows: list[Row]) -> bool:
    """Lines of single characters: a vertical header read column-wise (seed 000)."""
    cells = [c for r in rows for c in r.labels + r.values if c.text.strip()]
    if len(cells) < 8:
        return False
    single = [c for c in cells if len(c.text.strip()) == 1]
    return len(single) >= 0.8 * len(cells)


def find_regions(rows: list[Row], tpl_classes: dict[str, tuple[str, ...]]) -> dict[str, tuple[int, int]]:
    """Row index ranges of the active, requests and appeals tables."""
    act = [c for c in tpl_classes if c.startswith("active.")]
    req_cols = [c for c in tpl_classes if c.startswith("requests.col:") and not c.endswith(":other_org")
                and not c.endswith(":total")]
    req_rows = [c for c in tpl_classes if c.startswith("requests.row:")]
    app = [c for c in tpl_classes if c.startswith("appeals.")]
    starts: dict[str, int] = {}
    markers = {k: [normalize(m) for m in v] for k, v in config("classify.yaml").get("title_markers", {}).items()}
    for i, r in enumerate(rows):
        if not (i == 0 or rows[i - 1].table is not r.table):
            continue
        title = normalize(r.table.title) if r.table is not None and r.table.title else ""
        # a grid whose first row is the title (printed inside the table's frame)
        inner = normalize(" ".join(c.text for c in r.labels)) if r.aligned and not r.has_numbers else ""
        for name, ms in markers.items():
            if name not in starts and any(m and (m in title or m in inner) for m in ms):
                starts[name] = i
    for i, r in enumerate(rows):
        texts = [c.text for c in r.labels]
        if "requests" not in starts and any(short_match(t, req_cols) or "申请人情况" in t or "勾稽关系" in t
                                            for t in texts):
            starts["requests"] = i
        if "requests" not in starts and any(short_match(t, req_rows, 0.9) for t in texts) and r.has_values:
            starts["requests"] = i
        if "active" not in starts and any(short_match(t, act, 0.85) for t in texts):
            starts["active"] = i
        if "appeals" not in starts and "requests" in starts and i > starts["requests"]:
            if any(short_match(t, app, 0.85) for t in texts if not short_match(t, req_cols + req_rows, 0.9)):
                starts["appeals"] = i
            elif r.labels and vertical_header([r]) and set("".join(texts)) <= APPEALS_CHARS:
                starts["appeals"] = i
    if "appeals" not in starts and "requests" in starts:
        # headers too garbled to read: the appeals table is the grid after the requests
        # table whose value row prints one value per group and column (15), and nothing else
        n_app = sum(c.startswith("appeals.group:") for c in tpl_classes) * \
            sum(c.startswith("appeals.col:") for c in tpl_classes)
        for i, r in enumerate(rows):
            if i <= starts["requests"] or not r.aligned or rows[i - 1].table is r.table:
                continue
            body = [x for x in rows[i:] if x.table is r.table and x.has_numbers]
            if len(body) == 1 and len(body[0].values) == n_app and len(body[0].labels) == 0:
                starts["appeals"] = i
                break
    order = sorted(starts.items(), key=lambda kv: kv[1])
    out = {}
    for k, (name, s) in enumerate(order):
        e = order[k + 1][1] if k + 1 < len(order) else len(rows)
        out[name] = (s, e)
    return out
