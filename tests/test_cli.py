"""The command line: files and folders, results on disk, exit codes."""
import json
import subprocess
import sys

from pipeline.cli import main

from conftest import SEEDS


def test_help_has_examples(capsys):
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    assert "gouji extract" in out and "examples" in out


def test_extract_folder_and_file(tmp_path, fixtures):
    out = tmp_path / "out"
    bad = tmp_path / "in" / "empty.txt"
    bad.parent.mkdir()
    bad.write_text("")
    rc = main(["extract", str(fixtures / "seeds"), str(bad), "--out", str(out), "--workers", "1", "--no-progress"])
    assert rc == 0
    names = {p.name for p in out.glob("*.json")}
    for s in SEEDS:
        assert f"{s.stem}.json" in names
    assert "empty.json" in names
    assert json.loads((out / "empty.json").read_text(encoding="utf-8"))["status"] == "failed"
    seed = json.loads((out / f"{SEEDS[1].stem}.json").read_text(encoding="utf-8"))
    assert seed["format"] == "gouji.result/1" and seed["template"] == "2019"


def test_usage_errors_exit_nonzero(tmp_path):
    assert main(["extract", str(tmp_path / "nope.txt"), "--out", str(tmp_path)]) == 2
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "extract"], capture_output=True)
    assert r.returncode == 2
