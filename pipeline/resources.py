"""Where gouji's data lives, in a source checkout and in an installed wheel alike.

In the checkout configs/ and models/ sit beside the package folder (pipeline/); the wheel
installs the package as `gouji` with configs/ and models/ inside it (pyproject's
package-dir mapping). Paths in the configs ("models/digits/digits.onnx") are relative to
ROOT in both layouts. Pickled models name their classes by the module that wrote them
(`pipeline.keymodel`); `load_pickle` reads them under whichever name the package has.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

PACKAGE = __package__ or "pipeline"
_HERE = Path(__file__).resolve().parent
ROOT = _HERE if (_HERE / "configs").is_dir() else _HERE.parent
CONFIGS = ROOT / "configs"
MODELS = ROOT / "models"
CHECKOUT = (ROOT / "training").is_dir()      # a source checkout: training code and datasets/ are here
_WRITTEN_AS = ("pipeline", "gouji")           # package names a pickled model may carry


def cache_dir(*parts: str) -> Path:
    """A writable cache folder: datasets/cache/ in a checkout, else $XDG_CACHE_HOME/gouji."""
    if CHECKOUT:
        base = ROOT / "datasets" / "cache"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gouji"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        head, _, rest = module.partition(".")
        if head in _WRITTEN_AS and head != PACKAGE:
            module = PACKAGE + ("." + rest if rest else "")
        return super().find_class(module, name)


def load_pickle(path: str | Path):
    """A model file written by gouji, read under this package's import name."""
    with open(path, "rb") as fh:
        return _Unpickler(fh).load()
