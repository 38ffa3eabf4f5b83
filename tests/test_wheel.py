"""The package users install: `import gouji` from a built wheel, away from the checkout.

The wheel maps pipeline/ to `gouji` and carries configs/ and models/ inside it; nothing
named `pipeline` or `training` lands in site-packages. The installed package must read a
report exactly as the checkout does (same configs, same models, pickles read under the
new name).
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline import extract, to_result

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "datasets" / "samples" / "s2021_a.text.txt"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp / "dist")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    wheel = next((tmp / "dist").glob("gouji-*.whl"))
    target = tmp / "site"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return wheel, target


def _py(target: Path, cwd: Path, code: str) -> subprocess.CompletedProcess:
    """Python with the installed wheel first on the path, run outside the checkout."""
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def test_wheel_holds_gouji_with_its_data_and_nothing_generic(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"gouji", "gouji-0.1.0.dist-info"}
    for need in ("gouji/cli.py", "gouji/configs/pipeline.yaml", "gouji/configs/templates/2021.yaml",
                 "gouji/models/keys/model.pkl", "gouji/models/digits/digits.onnx",
                 "gouji/models/calibration/cells.pkl", "gouji/review_static/index.html", "gouji/review_static/app.js"):
        assert need in names
    entry = [n for n in names if n.endswith("entry_points.txt")][0]
    assert "gouji = gouji.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installed_gouji_reads_a_report_as_the_checkout_does(installed, tmp_path):
    _, target = installed
    code = ("import json, sys, gouji\n"
            "assert 'pipeline' not in sys.modules and gouji.__file__.startswith(%r)\n"
            "print(json.dumps(gouji.to_result(gouji.extract(%r))))") % (str(target), str(SAMPLE))
    run = _py(target, tmp_path, code)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout)
    want = to_result(extract(SAMPLE))
    assert got["status"] == want["status"] and got["models"] == want["models"]
    assert got["tables"] == want["tables"]


def test_installed_cli_runs_and_training_says_where_it_lives(installed, tmp_path):
    _, target = installed
    run = _py(target, tmp_path, "import sys; from gouji.cli import main; sys.argv = ['gouji', '--version']; main()")
    assert run.returncode == 0 and "gouji 0.1.0" in run.stdout + run.stderr
    run = subprocess.run([sys.executable, "-m", "gouji", "train"], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert run.returncode == 2 and "source checkout" in run.stderr
