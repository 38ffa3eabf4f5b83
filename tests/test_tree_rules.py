"""Issue #19's done-when, checked mechanically over the source tree: no file under pipeline/
over 500 lines; no module reaches into another module's `_private` names (pipeline/ and
training/); one value parser; and the document model holds only what it declares — a real
scanned document read by the whole pipeline sets no attribute on a Page, Table or Cell that
pipeline/model.py does not declare."""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from pipeline import model

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500


def _sources(*tops: str) -> list[Path]:
    return sorted(p for t in tops for p in (ROOT / t).rglob("*.py"))


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str, root: Path = ROOT) -> bool:
    p = root.joinpath(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _resolve(path: Path, node: ast.ImportFrom, root: Path = ROOT) -> str:
    """The absolute module an ImportFrom names (relative imports resolved from `path`)."""
    if not node.level:
        return node.module or ""
    here = _module_name(path, root).split(".")
    base = here if path.name == "__init__.py" else here[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Where a module takes another module's private name: `from m import _x`, or `m._x` on a
    module of this tree it imported (`import m`, `from pkg import m`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path, root)
    modules: dict[str, str] = {}          # local name → module it is bound to
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = _resolve(path, node, root)
            for a in node.names:
                if _private(a.name) and src != me:
                    bad.append(f"{path.relative_to(root)}:{node.lineno} from {src} import {a.name}")
                if _is_module(f"{src}.{a.name}", root):
                    modules[a.asname or a.name] = f"{src}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:                # only this tree's modules (os._exit is public)
                name = a.name if a.asname else a.name.split(".")[0]
                if _is_module(name, root):
                    modules[a.asname or name] = name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                and node.value.id in modules and modules[node.value.id] != me):
            bad.append(f"{path.relative_to(root)}:{node.lineno} {node.value.id}.{node.attr}")
    return bad


def test_no_file_under_pipeline_over_500_lines():
    files = _sources("pipeline")
    assert len(files) > 60
    long = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long


def test_no_module_imports_another_modules_private_names():
    files = _sources("pipeline", "training")
    assert len(files) > 100
    bad = [b for p in files for b in private_imports(p)]
    assert not bad


def test_the_private_import_check_catches_both_forms(tmp_path):
    """The checker itself finds `from .x import _y` and `x._y` (and lets a module's own names be)."""
    pkg = tmp_path / "pipeline"
    pkg.mkdir()
    for name in ("__init__", "grid", "pdf", "values"):
        (pkg / f"{name}.py").write_text("", encoding="utf-8")
    probe = pkg / "probe.py"
    probe.write_text("import os\nfrom .grid import _place_chars\nfrom . import pdf\nfrom . import values as v\n"
                     "def _mine():\n    return pdf._x, v._y, _mine, os._exit\n", encoding="utf-8")
    found = private_imports(probe, tmp_path)
    assert [f.split(" ", 1)[1] for f in found] == ["from pipeline.grid import _place_chars", "pdf._x", "v._y"]


def test_one_value_parser():
    """Only pipeline/values.py parses cell text into values; the others call it."""
    defs = [f"{p.relative_to(ROOT)}" for p in _sources("pipeline")
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef) and node.name == "parse_value"
            and "values.parse_value(" not in ast.get_source_segment(p.read_text(encoding="utf-8"), node)]
    assert defs == ["pipeline/values.py"]


# -- the document model declares everything stages hang on it ----------------------------------

def _declared(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_cells_and_tables_refuse_undeclared_attributes():
    assert not hasattr(model.Cell(0, 0), "__dict__") and not hasattr(model.Table(), "__dict__")
    c = model.Cell(0, 0)
    with pytest.raises(AttributeError):
        c._slots = []                    # what the grid stage used to hang on cells on the fly
    with pytest.raises(AttributeError):
        model.Table().score_ = 1.0


@pytest.fixture(scope="module")
def scanned_doc(tmp_path_factory):
    """A real scan (a digital PDF rendered, skewed, noised) read by the whole pipeline."""
    from tablefix import make_pdf, scan

    from pipeline.extractor import Extractor
    d = tmp_path_factory.mktemp("tree")
    make_pdf(d / "t.pdf", seed=5, n_rows=8)
    scan(d / "t.pdf", d / "scan.png", angle=0.8, noise=5, seed=3)
    return Extractor()(d / "scan.png")


def test_a_real_scan_sets_only_declared_attributes(scanned_doc):
    doc = scanned_doc
    assert doc.status != "failed", doc.errors
    tables = doc.tables
    assert tables and sum(len(t.cells) for t in tables) > 20
    assert any(c.readings for t in tables for c in t.cells)
    page_fields = _declared(model.Page) | {"_image"}        # the lazy `image` property's storage
    for p in doc.pages:
        assert set(vars(p)) <= page_fields, set(vars(p)) - page_fields
        for t in p.tables:
            assert not hasattr(t, "__dict__")
            for c in t.cells:
                assert not hasattr(c, "__dict__") and c.evidence is None   # evidence stays in grid
