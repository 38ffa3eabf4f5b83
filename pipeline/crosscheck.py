"""Cross-checks beyond one table: the report's prose, and an agency's reports year over year.

Why: a misread digit or a number printed wrong in the source can satisfy every equation
inside one table. Two other witnesses exist. The report's own text states some counts
("全年共收到政府信息公开申请 N 件", "行政复议 N 件"), and an agency's report for year N−1
carries requests forward (结转下年度继续办理) into year N's 上年结转. Both are checked here,
never used to rewrite a printed value:

* `narrative(doc)` (called by the score stage, after the solver) adds one check per
  stated count (`kind: narrative`); a disagreeing one makes the document needs_review.
* `narrative_priors(doc)` (called by the solver) makes a recogniser reading that agrees
  with the text likelier — only for readings the solver may change anyway (below lock_prob).
* `cross_year(results)` (called after a batch) groups result dicts by normalised agency
  name and year and evaluates the carry-over equations between consecutive years.

Wordings, units, keys and weights are data: configs/crosscheck.yaml (docs/crosscheck.md).
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field

from .model import Check, Document
from .normalize import nfkc
from .templates import config
from .values import parse_value


def settings() -> dict:
    return dict(config("crosscheck.yaml"))


# ----------------------------------------------------------------------------- narrative
@dataclass(frozen=True)
class Statement:
    """A count the report's text states: which fact, the number, the sentence it is in."""
    fact: str
    value: int
    sentence: str
    sums: tuple[tuple[str, ...], ...]    # the check holds if `value` equals one of these sums


@dataclass
class NarrativeCheck(Check):
    """A stated count against the table. `lhs` is the stated number, `rhs` the table's."""
    kind: str = "narrative"
    fact: str = ""
    sentence: str = ""
    key: str = ""
    stated: int | None = None
    value: float | None = None

    @property
    def details(self) -> dict:
        return {"kind": self.kind, "fact": self.fact, "sentence": self.sentence, "key": self.key,
                "stated": self.stated, "value": self.value}


_TABLE_LINE = re.compile(r"[|\t]")
_DIGIT = re.compile(r"\d")


def _prose(text: str, cfg: dict) -> list[str]:
    """Sentences of prose: a paragraph starts at a line with punctuation and goes on over long
    wrapped lines; table rows (pipes, tabs, or no punctuation: a flattened PDF row such as
    "申请数200件0013") are left out; sentences end at 。；！？."""
    paras: list[str] = []
    cur = ""
    for raw in text.splitlines():
        line = raw.strip()
        punct = any(p in line for p in "，,。；;")   # the text is NFKC'd: "，" is ","
        numbers = sum(1 for t in line.split() if _number(t) is not None)
        # a paragraph starts at a line with punctuation; a long line without any only continues one
        prose = bool(line) and not _TABLE_LINE.search(raw) and (punct or (cur and len(line) >= 20 and numbers < 3))
        if not prose:
            if cur:
                paras.append(cur)
            cur = ""
            continue
        cur += line
        if line[-1] in cfg["sentence_breaks"]:
            paras.append(cur)
            cur = ""
    if cur:
        paras.append(cur)
    out = []
    breaks = re.escape(cfg["sentence_breaks"])
    for p in paras:
        out += [s.strip() for s in re.split(f"(?<=[{breaks}])", p) if s.strip()]
    return out


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba
    jieba.setLogLevel(logging.WARNING)
    for w in settings()["narrative"].get("words", []):
        jieba.add_word(w)
    return jieba


def _number(tok: str):
    """An integer token (through the one value parser), else None."""
    if not _DIGIT.search(tok):
        return None
    ok, v = parse_value(tok)
    return v if ok and isinstance(v, int) else None


def _clauses(tokens: list[str], breaks: str) -> list[list[str]]:
    out, cur = [], []
    for t in tokens:
        if t and all(ch in breaks for ch in t):
            out.append(cur)
            cur = []
        elif t.strip():
            cur.append(t)
    out.append(cur)
    return [c for c in out if c]


def _has(words: list[str], toks: list[str]) -> bool:
    s = "".join(toks)
    return any(w in s for w in words)


def _match(fact: dict, clause: list[str], sentence: str, cfg: dict) -> int | None:
    """The number this clause states for `fact`, or None."""
    units = set(cfg["units"])
    for i, tok in enumerate(clause):
        if tok not in fact["triggers"]:
            continue
        rest = clause[i + 1:]
        num_at = next((j for j, t in enumerate(rest) if _DIGIT.search(t)), None)
        if num_at is None:
            neg = next((j for j in range(i) if clause[j] in cfg["negations"]), None)
            if fact.get("negation") and neg is not None and not any(_DIGIT.search(t) for t in clause):
                obj = clause[neg + 1:i] + rest
                none = fact.get("negation_none", fact.get("object_none", []))
                if (not fact.get("object_any") or _has(fact["object_any"], obj)) and not _has(none, obj):
                    return 0
            continue
        if num_at > int(cfg["max_gap"]):
            continue
        obj = rest[:num_at]
        tok_n = rest[num_at]
        value, at_unit = _number(tok_n), num_at + 1
        if value is None and tok_n[-1:] in units:     # "12件" as one token
            value, at_unit = _number(tok_n[:-1]), num_at
        unit_next = (rest[at_unit] if at_unit < len(rest) else "") if at_unit > num_at else tok_n[-1]
        after = rest[at_unit + 1] if at_unit + 1 < len(rest) else ""
        if value is None or unit_next not in units or _DIGIT.match(after):
            continue   # no unit, or cells glued together ("0件0013"): a table, not prose
        if _has(fact.get("object_none", []), obj):
            continue
        if fact.get("object_any"):
            if obj and not _has(fact["object_any"], obj):
                continue
            if not obj and not _has(fact.get("context_any", fact["object_any"]), [sentence]):
                continue
        elif fact.get("context_any") and not _has(fact["context_any"], [sentence]):
            continue
        return value
    return None


@functools.lru_cache(maxsize=8)
def statements(text: str) -> tuple[Statement, ...]:
    """Every count the text states for a fact of configs/crosscheck.yaml (cached: the
    solver and the score stage both ask)."""
    cfg = settings()["narrative"]
    text = nfkc(text or "")
    sents = [s for s in _prose(text, cfg) if _DIGIT.search(s) or any(n in s for n in cfg["negations"])]
    if not sents:
        return ()
    jb = _jieba()
    out: list[Statement] = []
    for s in sents:
        toks = jb.lcut(s)
        for clause in _clauses(toks, cfg["clause_breaks"]):
            for fact in cfg["facts"]:
                v = _match(fact, clause, s, cfg)
                if v is not None:
                    out.append(Statement(fact["name"], v, s, tuple(tuple(x) for x in fact["sums"])))
    return tuple(out)


def _value(v):
    """A cell value as a number for a sum: null (a printed blank) counts 0."""
    if v is None:
        return 0
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _sum(keys, values: dict) -> float | None:
    """Σ of the keys' values, None when a key is missing or not a number."""
    total = 0.0
    for k in keys:
        if k not in values:
            return None
        v = _value(values[k])
        if v is None:
            return None
        total += v
    return total


def evaluate(st: Statement, values: dict) -> NarrativeCheck | None:
    """The check of one statement against cell values (key → value); None if no sum of
    its keys can be evaluated (the table does not print them)."""
    first = None
    for keys in st.sums:
        s = _sum(keys, values)
        if s is None:
            continue
        if first is None:
            first = (keys, s)
        if abs(s - st.value) < 1e-9:
            return _check(st, keys, s, True)
    return None if first is None else _check(st, *first, False)


def _check(st: Statement, keys, s: float, holds: bool) -> NarrativeCheck:
    key = " + ".join(keys)
    val = int(s) if float(s).is_integer() else s
    return NarrativeCheck(equation=f"narrative: {key} = {st.value} ({st.fact})", holds=holds,
                          lhs=st.value, rhs=val, fact=st.fact, sentence=st.sentence, key=key,
                          stated=st.value, value=val)


def _values(doc: Document) -> dict:
    return {k: f.value for k, f in doc.fields.items() if not (f.illegible and f.status != "inferred")}


def narrative(doc: Document) -> list[NarrativeCheck]:
    """Add a check per stated count; a disagreeing one makes the document needs_review
    (and a warning names the sentence). Values are read, never changed."""
    doc.checks = [c for c in doc.checks if not isinstance(c, NarrativeCheck)]
    if not doc.text or not doc.fields:
        return []
    values = _values(doc)
    out = [c for c in (evaluate(st, values) for st in statements(doc.text)) if c is not None]
    doc.checks.extend(out)
    for c in out:
        w = f"narrative: 「{c.sentence}」 states {c.stated}, the table has {c.key} = {c.value}"
        if not c.holds and w not in doc.warnings:
            doc.warnings.append(w)
    if any(not c.holds for c in out) and doc.status == "ok":
        doc.status = "needs_review"
    return out


def narrative_priors(doc: Document) -> dict[str, dict]:
    """{key: {value: likelihood ratio}} from the stated counts, for the solver: a reading
    equal to a number the text states for that one cell is `prior_ratio` times likelier."""
    if not doc.text:
        return {}
    ratio = float(settings()["narrative"].get("prior_ratio", 1.0))
    out: dict[str, dict] = {}
    for st in statements(doc.text):
        for keys in st.sums:
            if len(keys) == 1 and keys[0] in doc.fields:
                out.setdefault(keys[0], {})[st.value] = ratio
    return out


def apply_prior(merged: dict, prior: dict | None) -> dict:
    """Readings (value → probability) reweighted by a prior, keeping their total mass:
    evidence shifts probability between readings, it never adds a value nobody read."""
    if not prior or not any(v in prior for v in merged):
        return merged
    total = sum(merged.values())
    scaled = {v: p * float(prior.get(v, 1.0)) for v, p in merged.items()}
    norm = total / sum(scaled.values())
    return {v: p * norm for v, p in scaled.items()}


# ----------------------------------------------------------------------------- cross-year
def agency_key(name: str | None) -> str | None:
    """The name reports are grouped by: NFKC (full-width → half-width), no whitespace,
    equivalent forms (人民政府 / 政府) made one. A renamed bureau keeps its own name; a
    bare bureau type ("司法局") is too generic to group (None)."""
    if not name:
        return None
    cfg = settings()["cross_year"]
    s = re.sub(r"\s+", "", nfkc(name))
    for forms in cfg.get("same_names", []):
        for f in forms[:-1]:
            s = s.replace(f, forms[-1])
    return s if len(s) >= int(cfg.get("min_agency_chars", 4)) else None


@dataclass
class YearEquation:
    name: str
    prev: tuple[str, ...]
    next: str


def year_equations() -> list[YearEquation]:
    out = []
    for e in settings()["cross_year"]["equations"]:
        for c in e.get("for_each") or [None]:
            sub = (lambda s: s.replace("<c>", c)) if c else (lambda s: s)
            out.append(YearEquation(sub(e["name"]), tuple(sub(k) for k in e["prev"]), sub(e["next"])))
    return out


@dataclass
class YearCheck:
    """One carry-over equation between the reports of one agency in years N−1 (a) and N (b)."""
    equation: str
    holds: bool
    agency: str
    a: dict = field(default_factory=dict)    # file, source, year, keys, value
    b: dict = field(default_factory=dict)


def _usable(r: dict) -> bool:
    b = r.get("batch") or {}
    return r.get("status") not in ("failed", "no_tables", "unsupported_template") and not b.get("duplicate_of") \
        and isinstance(r.get("year"), int) and agency_key(r.get("agency")) is not None


def cross_year(results: list[tuple[str, dict]]) -> list[YearCheck]:
    """Carry-over checks over results (name, result dict) grouped by agency and year;
    each pair of reports in consecutive years is checked on the keys both print."""
    groups: dict[str, dict[int, list[tuple[str, dict]]]] = {}
    for name, r in results:
        if _usable(r):
            groups.setdefault(agency_key(r["agency"]), {}).setdefault(r["year"], []).append((name, r))
    eqs = year_equations()
    out: list[YearCheck] = []
    for agency, years in sorted(groups.items()):
        for y in sorted(years):
            for name_a, ra in years.get(y - 1, []):
                for name_b, rb in years[y]:
                    va = {k: c.get("value") for k, c in (ra.get("cells") or {}).items()}
                    vb = {k: c.get("value") for k, c in (rb.get("cells") or {}).items()}
                    for e in eqs:
                        sa, sb = _sum(e.prev, va), _sum((e.next,), vb)
                        if sa is None or sb is None:
                            continue
                        out.append(YearCheck(e.name, abs(sa - sb) < 1e-9, agency,
                                             _side(name_a, ra, e.prev, sa), _side(name_b, rb, (e.next,), sb)))
    return out


def _side(name: str, r: dict, keys, value: float) -> dict:
    return {"file": f"{name}.json", "source": r["source"]["path"], "year": r["year"], "keys": " + ".join(keys),
            "value": int(value) if float(value).is_integer() else value}


def rows(results: list[tuple[str, dict]], year_checks: list[YearCheck]) -> list[dict]:
    """One row per cross-check for cross_checks.csv: the year-over-year ones (a = year
    N−1, b = year N) and every narrative check of the results (a = the table, b = the
    text). Mismatches first."""
    out = []
    for c in year_checks:
        out.append({"kind": "cross_year", "holds": c.holds, "check": c.equation, "agency": c.agency,
                    **{f"{k}_a": v for k, v in c.a.items()}, **{f"{k}_b": v for k, v in c.b.items()},
                    "sentence": None})
    for name, r in results:
        if (r.get("batch") or {}).get("duplicate_of"):
            continue
        for c in r.get("checks") or []:
            if c.get("kind") != "narrative":
                continue
            out.append({"kind": "narrative", "holds": c["holds"], "check": c.get("fact"),
                        "agency": r.get("agency"), "file_a": f"{name}.json", "source_a": r["source"]["path"],
                        "year_a": r.get("year"), "keys_a": c.get("key"), "value_a": c.get("value"),
                        "file_b": f"{name}.json", "source_b": r["source"]["path"], "year_b": r.get("year"),
                        "keys_b": "text", "value_b": c.get("stated"), "sentence": c.get("sentence")})
    out.sort(key=lambda x: (x["holds"], x["kind"], str(x["agency"]), str(x["file_a"])))
    return out


COLUMNS = ["kind", "holds", "check", "agency", "file_a", "source_a", "year_a", "keys_a", "value_a",
           "file_b", "source_b", "year_b", "keys_b", "value_b", "sentence"]
