"""gouji doctor: each check finds what it is about, and the exit status follows what extract needs."""
from __future__ import annotations

import subprocess
import sys

from pipeline import doctor
from pipeline.pdf import file_sha256


def test_doctor_on_this_machine_says_gouji_can_extract():
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "doctor"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("python", "gouji package", "CJK fonts", "model keys", "model digits", "model calibration",
                 "OCR rapidocr", "OCR paddle", "Chromium", "shellcheck", "LibreOffice"):
        assert name in r.stdout
    assert r.stdout.strip().endswith("gouji can extract")
    # the shipped models are listed with their hashes
    assert file_sha256(doctor.ROOT / "models" / "keys" / "model.pkl")[:16] in r.stdout


def test_missing_fonts_fail_with_the_fix(monkeypatch, capsys):
    import pipeline.inspect
    monkeypatch.setattr(pipeline.inspect, "FONTS", ["/nonexistent/font.ttc"])
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "MISSING  CJK fonts" in out
    assert "fix: bash scripts/setup.sh --system-only" in out
    assert "gouji cannot extract: CJK fonts" in out


def test_a_missing_optional_program_does_not_fail(monkeypatch):
    c = doctor.check_program("shellcheck", ("no-such-program-xyz",), "script tests")
    assert not c.ok and not c.needed and c.mark == "optional"
    assert c.fix == "bash scripts/setup.sh test --system-only"
    monkeypatch.setattr(doctor, "check_program", lambda *a: c)
    results = doctor.checks()
    assert not any(r.needed and not r.ok for r in results)


def test_broken_and_lfs_pointer_models_are_found(tmp_path, monkeypatch):
    monkeypatch.setattr(doctor, "ROOT", tmp_path)
    lfs = tmp_path / "model.pkl"
    lfs.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n")
    c = doctor._model("keys", lfs, lambda p: None)
    assert not c.ok and c.fix == "git lfs pull"
    junk = tmp_path / "digits.onnx"
    junk.write_bytes(b"\x00not a model")
    from pipeline.digits import DigitReader
    c = doctor._model("digits", junk, DigitReader)
    assert not c.ok and "does not load" in c.detail and c.needed
    c = doctor._model("calibration", tmp_path / "absent.pkl", lambda p: None)
    assert not c.ok and "missing" in c.detail


def test_missing_libreoffice_is_optional_with_both_packages_to_install(monkeypatch):
    from pipeline import office
    monkeypatch.setattr(office, "soffice", lambda: None)
    c = doctor.check_libreoffice()
    assert not c.ok and not c.needed
    assert c.fix == "apt-get install -y libreoffice-writer-nogui libreoffice-calc-nogui"
