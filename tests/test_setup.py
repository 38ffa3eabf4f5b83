"""scripts/setup.sh run for real against fake dpkg, apt-get, sudo, id, python and pip first on PATH.

The fakes record their arguments and DEBIAN_FRONTEND, so the tests see what the script would run
on a fresh machine (no fonts, no .venv) without touching this one.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "setup.sh"
FONTS = ["fonts-noto-cjk", "fonts-wqy-zenhei", "fonts-wqy-microhei", "fonts-arphic-ukai", "fonts-arphic-uming"]
OFFICE = ["libreoffice-writer-nogui", "libreoffice-calc-nogui"]   # test mode: pipeline/office.py conversions

# Each fake appends "<name> DEBIAN_FRONTEND=<value> <args>" to $FAKE_LOG.
RECORD = 'echo "$(basename "$0") DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-} $*" >> "$FAKE_LOG"\n'
FAKES = {
    # dpkg -s: "installed" only for the packages listed in $FAKE_INSTALLED
    "dpkg": RECORD + 'for p in $FAKE_INSTALLED; do [ "$p" = "$2" ] && '
                     '{ echo "Package: $2"; echo "Status: install ok installed"; exit 0; }; done\n'
                     'echo "dpkg-query: package $2 is not installed" >&2; exit 1\n',
    "apt-get": RECORD,
    # sudo as a real one behaves here: run the command with a reset environment
    "sudo": RECORD + 'exec env -i PATH="$PATH" FAKE_LOG="$FAKE_LOG" "$@"\n',
    "id": '[ "$1" = -u ] && { echo "${FAKE_UID:-0}"; exit 0; }; exec /usr/bin/id "$@"\n',
}


def _fakebin(tmp: Path, names=FAKES) -> Path:
    b = tmp / "fakebin"
    b.mkdir(exist_ok=True)
    for name in names:
        f = b / name
        f.write_text("#!/bin/bash\n" + FAKES[name])
        f.chmod(0o755)
    return b


def _run(tmp: Path, *args: str, uid: int = 0, installed: str = "", script: Path = SCRIPT,
         path_extra: str = "", env_extra: dict | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = tmp / "calls.log"
    log.write_text("")
    b = _fakebin(tmp)
    env = {"PATH": f"{b}{path_extra}:/usr/bin:/bin", "FAKE_LOG": str(log), "FAKE_UID": str(uid),
           "FAKE_INSTALLED": installed, "HOME": str(tmp), **(env_extra or {})}
    r = subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=60)
    return r, log.read_text().splitlines()


def _installs(calls: list[str], tool: str = "apt-get") -> list[str]:
    return [c for c in calls if c.startswith(tool + " ")]


def test_root_without_fonts_installs_them_noninteractively(tmp_path):
    r, calls = _run(tmp_path, "--system-only", uid=0)
    assert r.returncode == 0, r.stderr
    apt = _installs(calls)
    assert apt == [
        "apt-get DEBIAN_FRONTEND=noninteractive update -q",
        "apt-get DEBIAN_FRONTEND=noninteractive install -y -q --no-install-recommends " + " ".join(FONTS),
    ]
    assert not _installs(calls, "sudo"), "root must not go through sudo"


def test_sudo_user_installs_through_sudo_with_the_frontend_kept(tmp_path):
    r, calls = _run(tmp_path, "--system-only", uid=1000)
    assert r.returncode == 0, r.stderr
    sudo = _installs(calls, "sudo")
    assert len(sudo) == 2 and all("env DEBIAN_FRONTEND=noninteractive apt-get" in c for c in sudo)
    # the variable survives sudo's environment reset because it is passed through `env`
    apt = _installs(calls)
    assert [c.split()[1] for c in apt] == ["DEBIAN_FRONTEND=noninteractive"] * 2
    assert apt[1].endswith("install -y -q --no-install-recommends " + " ".join(FONTS))


def test_test_mode_adds_chromium_shellcheck_and_poppler_only_where_missing(tmp_path):
    r, calls = _run(tmp_path, "test", "--system-only", installed=" ".join(FONTS + OFFICE + ["chromium"]))
    assert r.returncode == 0, r.stderr
    assert _installs(calls)[-1].endswith("--no-install-recommends shellcheck poppler-utils")
    r, calls = _run(tmp_path, "test", "--system-only",
                    installed=" ".join(FONTS + OFFICE + ["chromium", "shellcheck"]))
    assert _installs(calls)[-1].endswith("--no-install-recommends poppler-utils")
    r, calls = _run(tmp_path, "test", "--system-only", installed=" ".join(FONTS + ["chromium", "shellcheck", "poppler-utils"]))
    assert _installs(calls)[-1].endswith("--no-install-recommends " + " ".join(OFFICE))


def test_nothing_missing_means_no_apt_get_at_all(tmp_path):
    r, calls = _run(tmp_path, "test", "--system-only", uid=1000,
                    installed=" ".join(FONTS + OFFICE + ["chromium", "shellcheck", "poppler-utils"]))
    assert r.returncode == 0, r.stderr
    assert not _installs(calls) and not _installs(calls, "sudo")
    assert "present: " in r.stdout


def test_removed_package_with_config_files_counts_as_missing(tmp_path):
    b = _fakebin(tmp_path)
    (b / "dpkg").write_text("#!/bin/bash\n" + RECORD + 'echo "Package: $2"; echo "Status: deinstall ok config-files"\n')
    r, calls = _run(tmp_path, "--system-only")
    assert r.returncode == 0, r.stderr
    assert _installs(calls)[-1].endswith(" ".join(FONTS))


def test_non_root_without_sudo_fails_with_the_command_to_run(tmp_path):
    b = _fakebin(tmp_path)
    (b / "sudo").unlink()
    # a PATH without any sudo: only the fakes and a copy of the few tools the script needs
    tools = tmp_path / "tools"
    tools.mkdir()
    for t in ("bash", "grep", "cat", "env", "basename", "dirname", "cut", "sha256sum"):
        (tools / t).symlink_to(shutil.which(t))
    log = tmp_path / "calls.log"
    env = {"PATH": f"{b}:{tools}", "FAKE_LOG": str(log), "FAKE_UID": "1000", "FAKE_INSTALLED": ""}
    r = subprocess.run([str(tools / "bash"), str(SCRIPT), "--system-only"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "apt-get install -y " + " ".join(FONTS) in r.stderr
    assert not _installs(log.read_text().splitlines())


def test_a_python_without_venv_support_gets_python3_venv(tmp_path):
    no_venv = _fakebin(tmp_path) / "python3-noensurepip"
    no_venv.write_text('#!/bin/bash\n[ "$1" = -c ] && exit 1; exit 0\n')
    no_venv.chmod(0o755)
    r, calls = _run(tmp_path, "--system-only", installed=" ".join(FONTS), env_extra={"PYTHON": str(no_venv)})
    assert r.returncode == 0, r.stderr
    assert _installs(calls)[-1].endswith("--no-install-recommends python3-venv")


def test_unknown_argument_is_a_usage_error(tmp_path):
    r, _ = _run(tmp_path, "--bogus")
    assert r.returncode == 2 and "usage:" in r.stderr


def _fake_project(tmp: Path) -> Path:
    """A copy of the script beside the files it hashes, and a fake python whose `-m venv` copies
    a venv of fakes (python answers, pip records)."""
    proj = tmp / "proj"
    (proj / "scripts").mkdir(parents=True)
    for f in ("scripts/setup.sh", "scripts/apt_install.sh", "scripts/install_paddle.sh", "pyproject.toml"):
        shutil.copy(ROOT / f, proj / f)
    template = tmp / "venv-template" / "bin"
    template.mkdir(parents=True)
    (template / "python").write_text("#!/bin/bash\nexit 0\n")
    (template / "pip").write_text("#!/bin/bash\n" + RECORD)
    fake_python = _fakebin(tmp) / "python3-fake"
    fake_python.write_text("#!/bin/bash\n" + RECORD.replace('$(basename "$0")', "python") +
                           f'[ "$1 $2" = "-m venv" ] && cp -r {template.parent} .venv\nexit 0\n')
    for f in (template / "python", template / "pip", fake_python):
        f.chmod(0o755)
    return proj


def test_second_run_installs_nothing_and_a_change_reinstalls(tmp_path):
    proj = _fake_project(tmp_path)
    script = proj / "scripts" / "setup.sh"
    fake_py = {"PYTHON": str(tmp_path / "fakebin" / "python3-fake")}
    r, calls = _run(tmp_path, script=script, installed=" ".join(FONTS), env_extra=fake_py)
    assert r.returncode == 0, r.stderr
    assert "python DEBIAN_FRONTEND= -m venv --clear .venv" in calls
    assert "pip DEBIAN_FRONTEND= install -q -e .[test,synth]" in calls

    r, calls = _run(tmp_path, script=script, installed=" ".join(FONTS), env_extra=fake_py)
    assert r.returncode == 0, r.stderr
    assert all(c.startswith(("dpkg ", "python DEBIAN_FRONTEND= -c import ensurepip")) for c in calls), \
        "second run: only the checks"
    assert ".venv up to date" in r.stdout

    with open(proj / "pyproject.toml", "a") as f:
        f.write("\n# changed\n")
    r, calls = _run(tmp_path, script=script, installed=" ".join(FONTS), env_extra=fake_py)
    assert not any("-m venv" in c for c in calls), "an existing working .venv is kept"
    assert "pip DEBIAN_FRONTEND= install -q -e .[test,synth]" in calls


def test_shellcheck_passes_on_every_script():
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.fail("shellcheck is not installed: `scripts/setup.sh test --system-only` installs it")
    scripts = sorted(str(p) for p in (ROOT / "scripts").glob("*.sh")) + [str(ROOT / ".ci" / "run")]
    r = subprocess.run([exe, "--shell=bash", *scripts], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
