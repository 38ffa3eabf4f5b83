""".doc/.wps/.rtf/.odt (and .et/.ods xlrd cannot read) converted to .docx/.xlsx by LibreOffice
headless: a private profile per worker process, one conversion at a time, the process group
killed at the time limit."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from .office_base import OfficeError, config


_LOCK = threading.Lock()       # one conversion at a time per worker process
_PROFILE: dict[int, str] = {}  # pid -> private profile folder (a forked worker gets its own)


def soffice() -> str | None:
    for name in config().get("libreoffice", {}).get("binaries", ["soffice", "libreoffice"]):
        p = shutil.which(name)
        if p:
            return p
    return None


def install_hint(kind: str) -> str:
    pk = config().get("libreoffice", {}).get("packages", {})
    pkg = pk.get("calc" if kind in ("et", "ods", "xls") else "writer", "libreoffice")
    return f"apt-get install -y {pkg}"


def _profile() -> str:
    pid = os.getpid()
    if pid not in _PROFILE:
        d = tempfile.mkdtemp(prefix="gouji-lo-profile-")
        _PROFILE[pid] = d
        atexit.register(shutil.rmtree, d, True)
    return _PROFILE[pid]


def convert(data: bytes, kind: str, target: str, timeout_s: float | None = None) -> bytes:
    """`data` (a .doc/.wps/.rtf/.odt/.et/.ods) as .docx or .xlsx bytes, converted by LibreOffice
    headless in this process's private profile, one at a time, within the time limit."""
    exe = soffice()
    if exe is None:
        raise OfficeError(f".{kind} files are converted with LibreOffice, which is not installed: "
                          f"{install_hint(kind)} (or scripts/apt_install.sh with that package)",
                          status="unsupported_format")
    lo = config().get("libreoffice", {})
    timeout_s = float(timeout_s or lo.get("timeout_s", 120))
    with _LOCK, tempfile.TemporaryDirectory(prefix="gouji-lo-") as td:
        src = Path(td) / f"input.{kind}"
        src.write_bytes(data)
        out = Path(td) / "out"
        cmd = [exe, f"-env:UserInstallation={Path(_profile()).as_uri()}", "--headless", "--invisible", "--nologo",
               "--norestore", "--nodefault", "--nolockcheck", "--convert-to", target, "--outdir", str(out), str(src)]
        env = {**os.environ, "HOME": td, "SAL_USE_VCLPLUGIN": "svp"}
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, env=env)
        try:
            so, se = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.communicate()
            raise OfficeError(f"LibreOffice did not convert the .{kind} file within {timeout_s:g} s "
                              "(timeout_s in configs/office.yaml)")
        finally:
            try:   # soffice.bin children left behind by a crash
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        res = out / f"input.{target}"
        if not res.is_file() or res.stat().st_size == 0:
            why = (se or so or b"").decode("utf-8", "replace").strip().splitlines()
            raise OfficeError(f"LibreOffice could not convert the .{kind} file (corrupt or password-protected?)"
                              + (f": {why[-1][:200]}" if why else ""))
        return res.read_bytes()
