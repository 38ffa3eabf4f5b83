"""The document tree every stage reads and extends (docTR style).

Document → Page → Table → Cell. Readers fill pages, words and table grids; the classify
stage gives cells canonical keys and turns them into Fields; the solver and the scorer
update Fields; export writes the result JSON. Everything is plain data you can inspect
in a REPL; page images are kept out of the JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BBox = tuple[float, float, float, float]  # x0, y0, x1, y1; origin top-left

# classify → score: the doubt (Field.doubts) of a cell whose row its position in the template
# placed, its label unread (classify/labels.positional_prior). The scorer counts such cells with
# the missing ones when it asks whether the reader failed on a document (score.failed_reading).
POSITION_DOUBT = "row placed by its position in the template: its label was not read"


@dataclass
class Word:
    """A piece of text found on a page (a PDF text-layer char run or an OCR line)."""
    text: str
    bbox: BBox
    confidence: float = 1.0


@dataclass(slots=True)
class CellEvidence:
    """What the recogniser saw in one scanned cell: the grid stage sets it while it reads a
    table's cells and clears it once it has ranked their readings (pipeline/grid.py), so no
    Cell leaving the grid stage carries one. Declared here so nothing is hung on a Cell on
    the fly (Cell has __slots__: an undeclared attribute is an AttributeError)."""
    slots: list[list[tuple[str, float]]] = field(default_factory=list)  # numeric-constrained
                                     # alternatives per position (ctc.RecResult.slots), lines joined
    lines: list[Any] = field(default_factory=list)   # the cell's text-line crops (grey arrays):
                                     # what the digit model reads for its second opinion
    dash: bool = False               # one line whose only ink is one flat bar: a printed dash
    blob: bool = False               # one line whose ink is one solid digit-shaped blob (heavy scans)
    slash: bool = False              # one line whose only ink is one slanted straight stroke: a printed ／


@dataclass(slots=True)
class Cell:
    """One cell of a recovered table grid, before or after it gets a canonical key.

    `readings` are ranked candidate values with probabilities from the recognisers
    (for text inputs: one reading of probability 1 when the text parses). `key` is set by
    the classify stage on each cell a canonical key was read from. `evidence` exists only
    inside the grid stage (see CellEvidence).
    """
    row: int
    col: int
    text: str = ""
    rowspan: int = 1
    colspan: int = 1
    bbox: BBox | None = None
    page: int | None = None
    readings: list[tuple[Any, float]] = field(default_factory=list)
    char_probs: list[list[tuple[str, float]]] | None = None  # per character alternatives
    is_header: bool = False
    key: str | None = None          # canonical key (classify), e.g. requests/granted/total
    ink: tuple[float, float] | None = None  # (width, height) of a one-line cell's ink, in page
                                     # units (scans): what the sanity guards check digits against
    doubts: list[str] = field(default_factory=list)  # sanity guards' reasons (classify.sanity)
    cut: float | None = field(default=None, compare=False, repr=False)  # scans, configs/grid.yaml crops.drop_crossing: ink crossing the
                                     # cell (a seal's ring, a streak) was painted out, and the ink kept
                                     # lies this far from it (pt; inf: none kept). None: nothing painted
                                     # out. The sanity guard `cut` doubts readings cut close
    evidence: CellEvidence | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class Table:
    """A table as recovered from a page (or from flattened text): a grid of cells.

    `aligned` says whether a cell's col index is geometric (scans, PDFs, HTML) or only its
    position in a flattened line (text), where merged cells shift values.
    """
    cells: list[Cell] = field(default_factory=list)
    kind: str | None = None          # active | requests | appeals: set by classify (the region
                                     # most of the table's rows fall in)
    template: str | None = None      # per table: "2019" | "2021", set by classify with `kind`
    page: int | None = None
    pages: list[int] = field(default_factory=list)
    bbox: BBox | None = None
    aligned: bool = True
    title: str = ""
    separators: dict[int, str] = field(default_factory=dict)  # flattened text: row → tab|pipe|space|line
    score: float | None = None       # how sure the reader is of the table as a region (none sets it
                                     # yet; layout.py passes it on to the lp.TextBlock)
    strategy: str = "lines"          # scans: the grid from the rules ("lines") or corrected by the text ("text")

    @property
    def n_rows(self) -> int:
        return max((c.row + c.rowspan for c in self.cells), default=0)

    @property
    def n_cols(self) -> int:
        return max((c.col + c.colspan for c in self.cells), default=0)

    def rows(self) -> list[list[Cell]]:
        out: list[list[Cell]] = [[] for _ in range(self.n_rows)]
        for c in self.cells:
            out[c.row].append(c)
        for r in out:
            r.sort(key=lambda c: c.col)
        return out


@dataclass
class Page:
    number: int                      # 1-based
    width: float = 0.0
    height: float = 0.0
    unit: str | None = None          # "pt" (PDF) | "px" (image) | None (text)
    words: list[Word] = field(default_factory=list)
    rulings: list[BBox] = field(default_factory=list)  # ruling line segments
    tables: list[Table] = field(default_factory=list)
    rotation: int = 0                # degrees applied to make the page upright
    skew: float = 0.0
    text_layer: str = "none"         # none | trusted | untrusted
    image: Any = None                # numpy array, not serialised; see `render`
    layout: Any = field(default_factory=list)  # lp.Layout of regions once the grid stage ran
                                     # (pipeline/layout.py); a plain [] until then: importing
                                     # layoutparser costs ~2 s (pandas), text inputs skip it
    # () -> image for a page read lazily (scanned PDF pages): `image` is rendered on first
    # use, so a long scan is never rasterised all at once (issue #15). Setting `image`
    # (None included) replaces it for good: `page.image = None` frees a page or skips it.
    render: Any = field(default=None, repr=False, compare=False)
    cost: Any = field(default=None, repr=False, compare=False)  # cost.PageCost: CPU per stage
    scale: float | None = None       # pixels of `image` per page unit, set by the PDF/image reader
                                     # (grid.page_scale falls back to image width / page width)

    def __post_init__(self):
        if self.cost is None:
            from .cost import PageCost
            self.cost = PageCost()


def _get_image(page: "Page"):
    img = page.__dict__.get("_image")
    if img is None and page.render is not None:
        img = page.__dict__["_image"] = page.render()
        page.render = None
    return img


def _set_image(page: "Page", value) -> None:
    page.__dict__["_image"] = value
    page.__dict__["render"] = None


Page.image = property(_get_image, _set_image, doc="The page's grey image; rendered on first use when lazy.")


@dataclass
class Field:
    """A canonical cell of the result: one key, its value, how sure we are and why."""
    key: str
    value: Any
    confidence: float = 1.0
    status: str = "read"             # read | corrected | inferred | conflict
    page: int | None = None
    bbox: BBox | None = None
    text: str = ""
    alternatives: list[tuple[Any, float]] = field(default_factory=list)
    illegible: bool = False          # no reading at all: the solver may infer it
    placement: float = 1.0           # P(the cell was put under the right key): below 1 when a
                                     # flattened table's rows could be aligned more than one way
    doubts: list[str] = field(default_factory=list)  # why a sanity guard doubts the cell: its
                                     # confidence is capped below the review threshold (score.py)


@dataclass
class JoinedRun:
    """A table row whose cells a flattening ran together (`801000081`), found by the read
    stage (pipeline/joined.py): where it sits, its value text cut at the boundaries that
    survived (units, blank marks, spaces) and the provisional split written for the
    readers. The solve stage finds its keys and chooses its split with the equations."""
    table: str                       # active | requests | appeals
    section: str | None              # active: the section key (art20_1 …)
    label: str
    pieces: list[tuple[str, str]]    # ("d", "801000081") digits to split | ("b", "—") one blank
    width: int                       # cells the row has
    provisional: list[Any]           # the split the text was rewritten with (None: a blank)
    line: int = 0                    # 0-based line of the rewritten text


@dataclass
class Check:
    equation: str
    holds: bool
    lhs: float | None = None
    rhs: float | None = None


@dataclass
class Source:
    path: str
    sha256: str = ""
    kind: str = "unknown"  # text | html | markdown | digital_pdf | scanned_pdf | image


@dataclass
class Document:
    source: Source
    pages: list[Page] = field(default_factory=list)
    text: str = ""                   # full text for text inputs (or the text layer)
    agency: str | None = None
    year: int | None = None
    template: str | None = None
    table_templates: dict[str, str] = field(default_factory=dict)
    status: str = "ok"
    confidence: float | None = None
    fields: dict[str, Field] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)    # {key, reason}
    unmapped: list[dict] = field(default_factory=list)   # printed rows with no canonical key
    labels: list[dict] = field(default_factory=list)     # {text, class, p}: mapped row labels (retraining)
    solver_evidence: dict = field(default_factory=dict)  # per cell, from the solver for the scorer
    joined: list[JoinedRun] = field(default_factory=list)  # read → solve: rows whose cells ran together
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)

    @property
    def tables(self) -> list[Table]:
        return [t for p in self.pages for t in p.tables]

    def fail(self, reason: str, status: str = "failed") -> "Document":
        self.status = status
        self.errors.append(reason)
        return self
