"""The stream of one flattened table: its region of the text (title to the next table's
title), its label fragments and value tokens in reading order (page footers dropped, a
Markdown pipe row's empty fields kept as blanks), and the types the decoders share."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..model import Cell
from ..templates import config
from ..values import is_value_text, parse_value


def settings() -> dict:
    return dict(config("classify.yaml").get("stream", {}))


@dataclass
class Item:
    """One piece of the stream: a label fragment ("F") or a value token ("V")."""
    kind: str
    text: str
    line: int
    pos: int = 0
    x: float = 0.0      # character column of its centre (fragments: of their start)
    page: int = 0


@dataclass
class StreamTable:
    """What the stream decoder made of one report table."""
    kind: str
    template: str | None = None
    cells: dict[str, Cell | None] = field(default_factory=dict)   # None: the row printed nothing
    placement: dict[str, float] = field(default_factory=dict)     # key -> P(placed right) when < 1
    missing: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    readings: int = 1   # distinct readings that balance alike (whole_block)
    broken: int = 0     # balance equations its reading leaves broken (whole_block)
    extra: int = 0      # values of the region outside its block (whole_block)
    by_labels: bool = False     # every value row under its own label, one alignment (requests)

    @property
    def placed(self) -> int:
        return len(self.cells)

    @property
    def sure(self) -> bool:
        return not self.placement and not self.missing


# -- the stream --------------------------------------------------------------------------------

def _title(phrase: str) -> str:
    """A title phrase as a regex: at the start of a line after an optional ordinal (not
    the same words inside a paragraph), spaces allowed between its characters."""
    body = r"[ \t\u3000]*".join(re.escape(ch) for ch in phrase if not ch.isspace())
    return r"(?m)^[ \t\u3000\f]*(?:[(（]?[一二三四五六七八九十]+[)）]?[ \t]*[、.．]?[ \t\u3000]*)?" + body


def region(text: str, kind: str) -> str | None:
    """The text of one report table: from its title to the next table's title."""
    cfg = settings()
    titles = cfg.get("titles", {})
    order = ["active", "requests", "appeals", "end"]

    def find(name: str, start: int):
        hits = [m for p in titles.get(name, []) for m in [re.search(_title(p), search[start:])] if m]
        return min(hits, key=lambda m: m.start(), default=None)

    text = bare_page_numbers(join_split_footers(text))
    # titles are looked for with page footers blanked: pypdfium2 glues `— 2 —` to the next
    # page's first words (`— 2 —行政复议`); blanked to spaces, so offsets stay the text's
    footers = [re.compile(p, re.M) for p in cfg.get("footers", [])]
    search = text
    for rx in footers:
        search = rx.sub(lambda m: " " * len(m.group(0)), search)
    # the tables come in the template's order: a title matched before an earlier table's title
    # is the report's opening paragraph naming the sections (`行政复议和行政诉讼情况、…` at a
    # line's start), not the table (`titles_in_order`)
    lo = 0
    if cfg.get("titles_in_order", True):
        for prev in order[:order.index(kind)]:
            p = find(prev, lo)
            if p is not None:
                lo += p.start()
    m = find(kind, lo)
    if m is None and lo:
        lo, m = 0, find(kind, 0)    # none after them (a title inside a pipe row): as before
    if m is not None:
        s = lo + m.end()
    else:   # no title printed: the table starts at the line of its first header words
        hits = [h.start() for p in cfg.get("untitled_starts", {}).get(kind, []) for h in [re.search(p, text)] if h]
        if not hits:
            return None
        s = text.rfind("\n", 0, min(hits)) + 1
    ends = [s + e.start() for n in order[order.index(kind) + 1:] for e in [find(n, s)] if e is not None]
    ends += [s + h.start() for n in order[order.index(kind) + 1:] for p in cfg.get("untitled_starts", {}).get(n, [])
             for h in [re.search(p, text[s:])] if h]
    e = min(ends, default=len(text))
    return text[s:e]


def join_split_footers(text: str) -> str:
    """A page number broken over two lines (pypdfium2 `— 2` / `—`) made one line again, or
    (an entry with its own `repl`) put back together from the lines it was interleaved with
    (configs/classify.yaml stream.split_footers), so the footer rules see it whole."""
    for p in settings().get("split_footers", []):
        if isinstance(p, dict):
            text = re.sub(p["pattern"], p["repl"], text)
        else:
            text = re.sub(p, lambda m: " ".join(m.groups()), text)
    return text


def bare_page_numbers(text: str) -> str:
    """A page number printed as a bare number (`3`) blanked: the first or last line of a page
    (form feeds split the text into pages) that holds only that page's number. Anywhere else
    a lone number is a value."""
    pages = text.split("\f")
    if len(pages) < 2:
        return text
    footers = [re.compile(p) for p in settings().get("footers", [])]
    for i, page in enumerate(pages):
        lines = page.split("\n")
        if any(rx.search(ln) for rx in footers for ln in lines):
            continue    # the page prints its number as a footer (— 1 —): a bare number is a value
        full = [k for k, ln in enumerate(lines) if ln.strip()]
        for k in {full[0], full[-1]} if full else ():
            if lines[k].strip() == str(i + 1):
                lines[k] = ""
        pages[i] = "\n".join(lines)
    return "\f".join(pages)


def tokens(text: str) -> list[Item]:
    """Label fragments and value tokens in reading order, page footers and running
    headers (configs/classify.yaml `running_headers`) removed.

    A line splits at wide spaces into chunks; within a chunk, single-space separated
    tokens that read as values are value tokens and runs of the others are one fragment.
    A word that reads as a blank mark (无, 空) is a value only on a line of values: beside
    label words it is part of the label ((四)无 / 法提供)."""
    cfg = settings()
    footers = [re.compile(p) for p in cfg.get("footers", [])]
    running = [re.compile(p, re.M) for p in config("classify.yaml").get("running_headers", [])]
    text = join_split_footers(text)
    out: list[Item] = []
    ln = 0
    page = -1
    paged = "\f" in text
    for page_text in text.split("\f"):
        page += 1
        for rx in running:      # the report's running header between a split table's rows
            page_text = rx.sub("", page_text)
        for line in page_text.split("\n"):
            ln += 1
            blank = line
            for rx in footers:
                blank = rx.sub(lambda m: " " * max(2, len(m.group(0))), blank)
            if blank != line and not blank.strip() and not paged:
                page += 1   # a page number alone: the page ends (when form feeds are gone;
                            # with them, a footer's box may be printed mid-page: pdfminer)
            line = blank
            if _pipe_row(line, ln, page, out):
                continue
            toks = _unglue([(m.start(), m.group(0)) for m in re.finditer(r"[^\s\u3000]+", line)])
            kinds = [is_value_text(t) for _, t in toks]
            if not all(kinds):
                kinds = [k and not is_word_blank(t) for (_, t), k in zip(toks, kinds)]
            frag: list[tuple[int, str]] = []
            for k, ((x, t), is_v) in enumerate(zip(toks, kinds)):
                if k and (x - (toks[k - 1][0] + len(toks[k - 1][1])) >= 2 or "\u3000" in
                          line[toks[k - 1][0] + len(toks[k - 1][1]):x]) and frag:
                    out.append(Item("F", " ".join(f for _, f in frag), ln, x=frag[0][0], page=page))
                    frag = []
                if is_v:
                    if frag:
                        out.append(Item("F", " ".join(f for _, f in frag), ln, x=frag[0][0], page=page))
                        frag = []
                    out.append(Item("V", t, ln, x=x + _width(t) / 2, page=page))
                else:
                    frag.append((x, t))
            if frag:
                out.append(Item("F", " ".join(f for _, f in frag), ln, x=frag[0][0], page=page))
    for i, it in enumerate(out):
        it.pos = i
        # 无 alone on a line amid a label broken character by character (pypdfium2:
        # `(` / `四)` / `无` / `法` / `提` / `供`) is the label's, not a blank mark
        if (it.kind == "V" and is_word_blank(it.text) and 0 < i < len(out) - 1
                and all(n.kind == "F" and len(n.text) <= 2 and abs(n.line - it.line) == 1
                        for n in (out[i - 1], out[i + 1]))):
            it.kind = "F"
    return out


_MD_RULE = re.compile(r"^\s*\|?(\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*$")


def _pipe_row(line: str, ln: int, page: int, out: list[Item]) -> bool:
    """A Markdown table row (`| 四、结转下年度继续办理 |  |  | 0 | 0 |  | 0 |`) keeps every
    field, empty ones too: its labels become fragments and, after its last label, every
    field a value token, an empty field a blank ("") — so a row with blanks keeps its
    columns (value_rows drops the empty label columns in front of them). The rule line
    under a header is skipped. False when the line is not a pipe row."""
    s = line.strip()
    if not s.startswith("|") or s.count("|") < 3:
        return False
    if _MD_RULE.match(s):
        return True
    fields, x = [], line.index("|") + 1
    for f in s.strip("|").split("|"):
        fields.append((x + len(f) - len(f.lstrip()), _spilled_punct(f.strip())))
        x += len(f) + 1
    kinds = [bool(t) and is_value_text(t) and not is_word_blank(t) for _, t in fields]
    last_label = max((k for k, (_, t) in enumerate(fields) if t and not kinds[k]), default=-1)
    if not any(kinds[last_label + 1:]):
        for x, t in fields:     # a header or label row: its words, as on a line
            if t:
                out.append(Item("F", t, ln, x=x, page=page))
        return True
    for k, (x, t) in enumerate(fields):
        if k <= last_label:
            if t:
                out.append(Item("F", t, ln, x=x, page=page))
        else:
            out.append(Item("V", t, ln, x=x + len(t) / 2, page=page))
    return True


_SPILLED = re.compile(r"^[、，,。．：:；;”’」』）)》]+\s*")


def _spilled_punct(field: str) -> str:
    """A wide label's last punctuation spilled into the next cell (`3.危及“三安全一稳定 | ” |`,
    `… | 、 0 |`: a PDF-to-Markdown table puts it in the first value column): the cell holds
    its value (or nothing), the punctuation is dropped."""
    m = _SPILLED.match(field)
    if not m:
        return field
    rest = field[m.end():]
    return rest if not rest or is_value_text(rest) else field


def _width(text: str) -> int:
    """Printed width in character columns: a wide character (件, ０) is two. Text that keeps
    the page's geometry starts each token where it stands on the page, so a value with a
    unit (`0(件)`) centred in its cell has its centre at start + width / 2, not len / 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


_GLUED = re.compile(r"^(.*[\u4e00-\u9fff”’」）)])(\d+)$")


def _unglue(toks: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """A row's first value glued to the end of its label (`3.危及“三安全一稳定”0`: a wide
    label runs into its first column in pdfplumber's layout text) split off, on a line
    whose other tokens after it are all values. Not after 第/年/月/日/条/项 (第20, a date)."""
    out = list(toks)
    for k in range(len(out) - 1, -1, -1):
        x, t = out[k]
        m = _GLUED.match(t)
        rest = [u for _, u in out[k + 1:]]
        if (m and m.group(1)[-1] not in "第年月日条项号" and len(rest) >= 2
                and all(is_value_text(u) for u in rest) and not is_value_text(t)):
            out[k:k + 1] = [(x, m.group(1)), (x + len(m.group(1)), m.group(2))]
            break
    return out


def is_word_blank(text: str) -> bool:
    """A blank mark that is also a word (无, 空)."""
    return parse_value(text) == (True, None) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def value(it: Item):
    return parse_value(it.text)[1]


def label_only() -> float:
    return float(config("classify.yaml").get("label_only_row_placement", 0.9))
