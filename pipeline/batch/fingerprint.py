"""A job's key: sha256(content) + a fingerprint of everything else that changes a result."""
from __future__ import annotations

import dataclasses
import hashlib
import json

from .. import __version__
from ..export import FORMAT
from ..inputs import file_sha256
from ..resources import CONFIGS, MODELS

PACKAGES = ("rapidocr", "onnxruntime", "scikit-learn", "opencv-python-headless", "pypdfium2", "scipy")


def settings_dict(settings) -> dict:
    """Settings as a plain dict (recorded in each result and the run summary)."""
    if dataclasses.is_dataclass(settings):
        return dataclasses.asdict(settings)
    return dict(vars(settings))


def fingerprint(settings) -> tuple[str, dict]:
    """Hash of everything besides the input bytes that changes a result, and its parts:
    gouji version, result format, Settings, configs (batch.yaml aside), model files and the
    recogniser packages' versions."""
    from importlib import metadata
    models = {}
    if MODELS.is_dir():
        for p in sorted(MODELS.rglob("*")):
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in (".md", ".txt"):
                models[str(p.relative_to(MODELS))] = file_sha256(p)[:16]
    cfg = hashlib.sha256()
    for p in sorted(CONFIGS.rglob("*")):
        if p.is_file() and p.name != "batch.yaml":
            cfg.update(str(p.relative_to(CONFIGS)).encode() + b"\0" + p.read_bytes() + b"\0")
    pkgs = {}
    for name in PACKAGES:
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    parts = {"gouji": __version__, "format": FORMAT, "settings": settings_dict(settings),
             "configs": cfg.hexdigest()[:16], "models": models, "packages": pkgs}
    fp = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return fp, parts
