"""Where the lines of ink are in a band of a scanned page, so that text detection runs only
where a title can be.

Why: detecting and reading the whole top of page 1 (the title and the paragraphs under
it) and the whole band above each table cost 1-3 CPU s per document (issue #15), and only
the report's title (agency, year) and each table's title line are used. A row profile of
the band's ink (a few ms) finds its text lines; the detector then gets the first
`title_lines` lines of page 1's top, and the lowest `table_title_lines` above a table.
"""
from __future__ import annotations

import numpy as np

from .pdf import config


def band_config() -> dict:
    return config()["grid"]["title_band"]


def ink_lines(grey: np.ndarray, px_per_pt: float) -> list[tuple[int, int]]:
    """(top, bottom) rows of each line of ink in a grey band, top to bottom.

    A row is inked when at least `row_ink` of its middle (`middle` of the width: scan
    edges and binding shadows left out) is ink; rows closer than `gap_pt` join one line;
    lines lower than `min_line_pt` are specks or rule remnants."""
    from .grid_cells import binarise
    cfg = band_config()
    h, w = grey.shape[:2]
    if h < 3 or w < 3:
        return []
    m = (1.0 - cfg["middle"]) / 2
    x0, x1 = int(w * m), int(w * (1 - m))
    inked = (binarise(np.ascontiguousarray(grey[:, x0:x1])) > 0).sum(1) >= cfg["row_ink"] * (x1 - x0)
    ys = np.flatnonzero(inked)
    if not len(ys):
        return []
    gap = max(1, int(cfg["gap_pt"] * px_per_pt))
    cuts = np.flatnonzero(np.diff(ys) > gap)
    starts = np.concatenate([[ys[0]], ys[cuts + 1]])
    ends = np.concatenate([ys[cuts], [ys[-1]]]) + 1
    low = cfg["min_line_pt"] * px_per_pt
    return [(int(a), int(b)) for a, b in zip(starts, ends) if b - a >= low]


def first_lines(grey: np.ndarray, px_per_pt: float, n: int, pad_pt: float | None = None) -> tuple[int, int] | None:
    """Rows (top, bottom) spanning the first `n` lines of ink (None: no ink), padded."""
    lines = ink_lines(grey, px_per_pt)
    if not lines:
        return None
    pad = int((band_config()["pad_pt"] if pad_pt is None else pad_pt) * px_per_pt)
    return max(0, lines[0][0] - pad), min(grey.shape[0], lines[:n][-1][1] + pad)


def last_lines(grey: np.ndarray, px_per_pt: float, n: int, pad_pt: float | None = None) -> tuple[int, int] | None:
    """Rows (top, bottom) spanning the last `n` lines of ink (None: no ink), padded."""
    lines = ink_lines(grey, px_per_pt)
    if not lines:
        return None
    pad = int((band_config()["pad_pt"] if pad_pt is None else pad_pt) * px_per_pt)
    return max(0, lines[-n:][0][0] - pad), min(grey.shape[0], lines[-1][1] + pad)


def title_read(words) -> bool:
    """The report's title (agency and year, classify.meta.read_title) is in these lines (Words):
    page 1's band is read until then (`stop_at_title`)."""
    from .classify.meta import read_title
    agency, year = read_title("\n".join(w.text for w in words))
    return agency is not None and year is not None
