"""Which generator made a cached synthetic document (issue #13: an evaluation corpus built by
an older generator was reused as if it were today's, so its figures measured old PDFs).

The fingerprint is a hash of what decides a document's bytes: the synth configuration and the
generator's sources (training/synth/*.py). Caches stamp each truth they write with it
(`generator` in <doc>.truth.json) and rebuild a document whose stamp is missing or differs.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYNTH_CONFIG = ROOT / "configs" / "synth.yaml"
SYNTH_SOURCES = ROOT / "training" / "synth"
KEY = "generator"


def fingerprint(config: Path = SYNTH_CONFIG, sources: Path = SYNTH_SOURCES) -> str:
    """sha256 (first 16 hex digits) over the synth config and every training/synth/*.py,
    each named by its path relative to its folder so a rename counts as a change."""
    return _fingerprint(str(config), str(sources), *_mtimes(config, sources))


def _mtimes(config: Path, sources: Path) -> tuple:
    files = [config, *sorted(sources.glob("*.py"))]
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)


@lru_cache(maxsize=8)
def _fingerprint(config: str, sources: str, *stat: tuple) -> str:
    h = hashlib.sha256()
    for f in [Path(config), *sorted(Path(sources).glob("*.py"))]:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def stamp(truth_path: Path, fp: str | None = None) -> None:
    """Write the generator fingerprint into a truth file that a cache has just generated."""
    t = json.loads(truth_path.read_text(encoding="utf-8"))
    t[KEY] = fp or fingerprint()
    truth_path.write_text(json.dumps(t, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def current(truth_path: Path, fp: str | None = None) -> bool:
    """True when a cached truth exists and was stamped by today's generator."""
    if not truth_path.exists():
        return False
    try:
        t = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return t.get(KEY) == (fp or fingerprint())
