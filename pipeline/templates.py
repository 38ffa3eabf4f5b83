"""The report templates (configs/templates/*.yaml) loaded once, validated, and expanded.

Everything the code knows about keys, labels and balance equations comes from there:
no key list lives in Python. A malformed template raises TemplateError naming the file
and line.
"""
from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from .resources import CONFIGS

TEMPLATE_DIR = CONFIGS / "templates"
TABLES = ("active", "requests", "appeals")


class TemplateError(ValueError):
    """A template file that does not describe a valid template."""


@dataclass(frozen=True)
class Label:
    key: str
    label: str
    variants: tuple[str, ...] = ()
    parent: str | None = None
    number: str | None = None
    expected: bool = True
    unit: str | None = None
    kind: str = "count"  # count | amount

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.label, *self.variants)


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    rows: tuple[Label, ...]
    columns: tuple[Label, ...]


@dataclass(frozen=True)
class Equation:
    name: str
    lhs: tuple[str, ...]
    rhs: tuple[str, ...]
    null_as_zero: bool = True

    def terms(self) -> list[tuple[str, int]]:
        return [(k, 1) for k in self.lhs] + [(k, -1) for k in self.rhs]


@dataclass(frozen=True)
class Template:
    name: str  # "2019" | "2021"
    title: str
    years: tuple[int, ...]
    sections: tuple[Section, ...]            # active table
    request_rows: tuple[Label, ...]
    request_columns: tuple[Label, ...]
    appeal_groups: tuple[Label, ...]
    appeal_columns: tuple[Label, ...]
    equations: tuple[Equation, ...]
    table_titles: dict = field(default_factory=dict)
    path: str = ""

    # -- key enumeration -------------------------------------------------------------
    def keys(self, table: str | None = None, expected_only: bool = True) -> list[str]:
        """Every canonical key the template defines, in printed order."""
        out: list[str] = []
        if table in (None, "active"):
            for s in self.sections:
                out += [f"active/{s.key}.{r.key}/{c.key}" for r in s.rows for c in s.columns]
        if table in (None, "requests"):
            rows = [r for r in self.request_rows if r.expected or not expected_only]
            out += [f"requests/{r.key}/{c.key}" for r in rows for c in self.request_columns]
        if table in (None, "appeals"):
            out += [f"appeals/{g.key}/{c.key}" for g in self.appeal_groups for c in self.appeal_columns]
        return out

    def column_label(self, key: str) -> Label | None:
        """The Label of a canonical key's column (for units and value kind)."""
        table, row, col = key.split("/")
        if table == "active":
            sec = row.split(".")[0]
            cols = next((s.columns for s in self.sections if s.key == sec), ())
        elif table == "requests":
            cols = self.request_columns
        else:
            cols = self.appeal_columns
        return next((c for c in cols if c.key == col), None)

    def expand_equations(self, present: set[str] | None = None) -> list[Equation]:
        """Equations restricted to the keys a document has (all keys when present is None).

        A term that is absent is dropped; an equation with an empty side is skipped.
        """
        out = []
        for eq in self.equations:
            lhs = tuple(k for k in eq.lhs if present is None or k in present)
            rhs = tuple(k for k in eq.rhs if present is None or k in present)
            if lhs and rhs:
                out.append(Equation(eq.name, lhs, rhs, eq.null_as_zero))
        return out


def _line(node) -> int:
    return getattr(getattr(node, "start_mark", None), "line", -1) + 1


def _compose(path: Path):
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:  # syntax error: yaml's own mark has the line
        raise TemplateError(f"{path}: {e}") from e
    return node, data


def _find_line(node, *path) -> int:
    """Line of a nested mapping entry, for error messages."""
    cur = node
    for p in path:
        if isinstance(cur, yaml.MappingNode):
            nxt = next((v for k, v in cur.value if k.value == p), None)
        elif isinstance(cur, yaml.SequenceNode) and isinstance(p, int) and p < len(cur.value):
            nxt = cur.value[p]
        else:
            nxt = None
        if nxt is None:
            break
        cur = nxt
    return _line(cur)


_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def _labels(items, where: str, path: Path, node, npath) -> tuple[Label, ...]:
    if not isinstance(items, list) or not items:
        raise TemplateError(f"{path}:{_find_line(node, *npath)}: {where} must be a non-empty list")
    out, seen = [], set()
    for i, it in enumerate(items):
        line = _find_line(node, *npath, i)
        if not isinstance(it, dict) or "key" not in it or "label" not in it:
            raise TemplateError(f"{path}:{line}: {where}[{i}] needs `key` and `label`")
        unknown = set(it) - {"key", "label", "variants", "parent", "number", "expected", "unit", "kind"}
        if unknown:
            raise TemplateError(f"{path}:{line}: {where}[{i}] has unknown fields {sorted(unknown)}")
        if not _KEY.match(str(it["key"])):
            raise TemplateError(f"{path}:{line}: {where}[{i}] key {it['key']!r} is not a lower_snake key")
        if it["key"] in seen:
            raise TemplateError(f"{path}:{line}: {where} repeats key {it['key']!r}")
        seen.add(it["key"])
        out.append(Label(key=it["key"], label=str(it["label"]), variants=tuple(map(str, it.get("variants", []))),
                         parent=it.get("parent"), number=None if it.get("number") is None else str(it["number"]),
                         expected=bool(it.get("expected", True)), unit=it.get("unit"),
                         kind=it.get("kind", "count")))
    return tuple(out)


def load_template(path: Path) -> Template:
    path = Path(path)
    node, d = _compose(path)
    if not isinstance(d, dict):
        raise TemplateError(f"{path}:1: a template is a mapping")
    for req in ("template", "tables", "equations"):
        if req not in d:
            raise TemplateError(f"{path}:1: missing top-level `{req}`")
    tables = d["tables"]
    missing = [t for t in TABLES if t not in (tables or {})]
    if missing:
        raise TemplateError(f"{path}:{_find_line(node, 'tables')}: tables lacks {missing}")
    secs = []
    for i, s in enumerate(tables["active"].get("sections") or []):
        np_ = ("tables", "active", "sections", i)
        if not isinstance(s, dict) or "key" not in s:
            raise TemplateError(f"{path}:{_find_line(node, *np_)}: section needs a key")
        secs.append(Section(s["key"], str(s.get("label", "")),
                            _labels(s.get("rows"), f"section {s['key']} rows", path, node, np_ + ("rows",)),
                            _labels(s.get("columns"), f"section {s['key']} columns", path, node, np_ + ("columns",))))
    if not secs:
        raise TemplateError(f"{path}:{_find_line(node, 'tables', 'active')}: active needs sections")
    rq, ap = tables["requests"], tables["appeals"]
    t = Template(
        name=str(d["template"]), title=str(d.get("name", "")), years=tuple(d.get("years", [])),
        sections=tuple(secs),
        request_rows=_labels(rq.get("rows"), "requests rows", path, node, ("tables", "requests", "rows")),
        request_columns=_labels(rq.get("columns"), "requests columns", path, node, ("tables", "requests", "columns")),
        appeal_groups=_labels(ap.get("groups"), "appeals groups", path, node, ("tables", "appeals", "groups")),
        appeal_columns=_labels(ap.get("columns"), "appeals columns", path, node, ("tables", "appeals", "columns")),
        equations=(), table_titles={k: tables[k].get("title", "") for k in TABLES}, path=str(path))
    eqs = []
    all_keys = set(t.keys(expected_only=False))
    lists = {"requests.columns": [c.key for c in t.request_columns],
             "requests.rows": [r.key for r in t.request_rows],
             "appeals.groups": [g.key for g in t.appeal_groups],
             "appeals.columns": [c.key for c in t.appeal_columns]}
    for i, e in enumerate(d["equations"] or []):
        line = _find_line(node, "equations", i)
        if not isinstance(e, dict) or not {"name", "lhs", "rhs"} <= set(e):
            raise TemplateError(f"{path}:{line}: equation needs name, lhs and rhs")
        fe = e.get("for_each") or {}
        names = list(fe)
        for v in fe.values():
            if v not in lists:
                raise TemplateError(f"{path}:{line}: for_each over unknown list {v!r}")
        for combo in itertools.product(*[lists[fe[n]] for n in names]) if names else [()]:
            sub = dict(zip(names, combo))
            def fmt(s: str) -> str:
                for n, v in sub.items():
                    s = s.replace(f"<{n}>", v)
                return s
            lhs, rhs = tuple(map(fmt, e["lhs"])), tuple(map(fmt, e["rhs"]))
            bad = [k for k in lhs + rhs if k not in all_keys]
            if bad:
                raise TemplateError(f"{path}:{line}: equation {e['name']!r} names unknown keys {bad[:3]}")
            eqs.append(Equation(fmt(e["name"]), lhs, rhs, bool(e.get("null_as_zero", True))))
    return Template(**{**t.__dict__, "equations": tuple(eqs)})


@functools.lru_cache(maxsize=None)
def templates() -> dict[str, Template]:
    """All supported templates by name, loaded once."""
    out = {}
    for p in sorted(TEMPLATE_DIR.glob("*.yaml")):
        t = load_template(p)
        out[t.name] = t
    if not out:
        raise TemplateError(f"{TEMPLATE_DIR}: no templates")
    return out


@functools.lru_cache(maxsize=None)
def config(name: str) -> dict:
    """A YAML file under configs/ (detection markers, pipeline settings)."""
    path = CONFIGS / name
    node, d = _compose(path)
    return d or {}


def label_classes(template: Template) -> dict[str, tuple[str, ...]]:
    """Classifier classes of a template and the printed texts of each.

    Class names: ``<table>.<role>:<key>`` with role row, col, section or group, e.g.
    ``requests.row:granted``, ``active.col:issued``, ``appeals.group:review``. The
    mapper's extra class ``none`` ("not a label") is implicit.
    """
    out: dict[str, tuple[str, ...]] = {}
    for s in template.sections:
        out[f"active.section:{s.key}"] = (s.label,)
        for r in s.rows:
            out[f"active.row:{s.key}.{r.key}"] = r.texts
        for c in s.columns:
            out[f"active.col:{c.key}"] = c.texts
    for r in template.request_rows:
        out[f"requests.row:{r.key}"] = r.texts
    for c in template.request_columns:
        out[f"requests.col:{c.key}"] = c.texts
    for g in template.appeal_groups:
        out[f"appeals.group:{g.key}"] = g.texts
    for c in template.appeal_columns:
        out[f"appeals.col:{c.key}"] = c.texts
    return out


def all_label_classes() -> dict[str, tuple[str, ...]]:
    """Union over the supported templates (texts merged, order kept)."""
    out: dict[str, tuple[str, ...]] = {}
    for t in templates().values():
        for k, v in label_classes(t).items():
            out[k] = tuple(dict.fromkeys(out.get(k, ()) + v))
    return out
