"""The output folder: gouji writes only files it owns, atomically, and deletes nothing else.

* Ownership is the manifest (OUT/.gouji/manifest.jsonl). After every file gouji writes,
  a line ``{"wrote": <path in OUT>, "size", "mtime_ns"}`` is appended. A path may be
  (over)written only when nothing is there, or when the manifest's last line for it still
  matches the file (a file the user put there, replaced or edited is theirs). Otherwise
  `OutDir.claim` picks ``<stem>-2<suffix>``, ``-3`` … and records a warning; the same
  path maps to the same alternative in later runs (the alternative is then gouji's own).
* Writes go to a temp file in OUT/.gouji/tmp, then rename: a reader sees the old file or
  the new one, never half of one. That temp folder is gouji's alone, so cleaning up after
  a killed run never touches a user's ``*.tmp``.
* The manifest also holds one line per written result (the resume log; see pipeline/batch/).
  Paths in it that are not valid UTF-8 keep their exact bytes (fsname.hex_field).
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable

from .fsname import from_record, hex_field, json_safe, printable


class UsageError(Exception):
    """A problem with how gouji was asked to run (output folder, engine, lock): the CLI
    prints the message as one line and exits 2, instead of a traceback."""


@functools.lru_cache(maxsize=1)
def umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def make_folder(path: Path) -> None:
    """Create the output folder, or say in one line why it cannot be."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {printable(str(path))} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"cannot create the output folder {printable(str(path))}: a part of its path is a file")
    except OSError as e:
        raise UsageError(f"cannot create the output folder {printable(str(path))}: {e.strerror or e}")


def lock(path: Path):
    """One run per output folder at a time (the lock goes with the process, even on kill -9)."""
    try:
        f = open(path, "a+")
    except OSError as e:
        raise UsageError(f"cannot write to the output folder {printable(str(path.parent.parent))}: "
                         f"{e.strerror or e}")
    try:
        import fcntl
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass
    except OSError:
        f.close()
        raise UsageError(f"another gouji run is writing to {printable(str(path.parent.parent))}; "
                         f"wait for it or use another --out")
    return f


class Manifest:
    """Append-only JSON lines: one per written result and one per other written file.
    A torn last line (a killed run) is ignored."""

    def __init__(self, path: Path):
        self.path = path
        self.by_path: dict[str, dict] = {}             # exact abs path → its latest result line
        self.by_key: dict[str, dict] = {}
        self.names: dict[str, str] = {}                # name → abs path that owns it
        self.written: dict[str, tuple[int, int]] = {}  # path in OUT → (size, mtime_ns) gouji left
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    rec = json.loads(line)
                    if "abs" in rec:
                        rec["abs"], rec["path"] = from_record(rec, "abs"), from_record(rec, "path")
                    self._index(rec)
                except (ValueError, KeyError, TypeError):
                    continue
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = None

    def _index(self, rec: dict) -> None:
        if "wrote" in rec:
            self.written[rec["wrote"]] = (int(rec["size"]), int(rec["mtime_ns"]))
            return
        self.by_path[rec["abs"]] = rec
        if rec.get("key") and not rec.get("duplicate_of") and not rec.get("retry"):
            self.by_key[rec["key"]] = rec
        self.names.setdefault(rec["name"], rec["abs"])

    def add(self, rec: dict) -> None:
        if self._f is None:
            self._f = open(self.path, "a", encoding="utf-8")
            if self.path.stat().st_size:   # a torn line from a killed run: start on a fresh line
                with open(self.path, "rb") as r:
                    r.seek(-1, 2)
                    if r.read(1) != b"\n":
                        self._f.write("\n")
        line = rec
        if "abs" in rec:
            line = {**rec, **hex_field("abs", rec["abs"]), **hex_field("path", rec["path"])}
        self._f.write(json.dumps(json_safe(line), ensure_ascii=False) + "\n")
        self._f.flush()
        self._index(rec)

    def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None


class OutDir:
    """Every file gouji writes in OUT goes through here (see the module docstring)."""

    def __init__(self, root: Path, state_dir: Path, manifest: Manifest):
        self.root = Path(root)
        self.manifest = manifest
        self.tmp = state_dir / "tmp"
        shutil.rmtree(self.tmp, ignore_errors=True)    # temp files of a killed run: ours only
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.claims: dict[Path, Path] = {}
        self.warnings: list[str] = []

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def owns(self, path: Path) -> bool:
        """True when gouji wrote `path` and nobody changed it since."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        return stat.S_ISREG(st.st_mode) and self.manifest.written.get(self.rel(path)) == (st.st_size,
                                                                                          st.st_mtime_ns)

    def _free(self, path: Path) -> bool:
        return not os.path.lexists(path) or self.owns(path)

    def claim(self, path: Path) -> Path:
        """Where the file meant to be `path` goes: `path`, or a new name if someone else's file is there."""
        path = Path(path)
        if path in self.claims:
            return self.claims[path]
        taken = set(self.claims.values())
        cand = path
        for i in range(2, 10_000):
            if cand not in taken and self._free(cand):
                break
            cand = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if cand != path:
            self.warnings.append(f"{self.rel(path)} exists and was not written by gouji (or was changed since): "
                                 f"left as it is, wrote {self.rel(cand)} instead")
        self.claims[path] = cand
        return cand

    def write(self, path: Path, produce: Callable[[Path], None], claim: bool = True) -> Path:
        """Atomically write the file meant to be `path` (produce() fills a temp file); returns where.

        claim=False: `path` is already where it goes (from claim(), or a result name batch chose)."""
        target = self.claim(path) if claim else Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.tmp, suffix=".tmp")
        os.close(fd)
        try:
            produce(Path(tmp))
            os.chmod(tmp, 0o666 & ~umask())    # mkstemp makes owner-only files; results are for sharing
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        st = os.stat(target)
        self.manifest.add({"wrote": self.rel(target), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        return target

    def write_bytes(self, path: Path, data: bytes, claim: bool = True) -> Path:
        return self.write(path, lambda t: t.write_bytes(data), claim)

    def write_text(self, path: Path, text: str, claim: bool = True) -> Path:
        return self.write_bytes(path, printable(text).encode("utf-8"), claim)

    def write_json(self, path: Path, obj, claim: bool = True) -> Path:
        try:
            data = json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8")
        except UnicodeEncodeError:   # a file name that is not UTF-8 somewhere inside
            data = json.dumps(json_safe(obj), ensure_ascii=False, indent=1).encode("utf-8")
        return self.write_bytes(path, data, claim)
