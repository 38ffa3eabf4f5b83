"""Find the documents among files and folders, and look at each without ever hanging.

* Only regular files are read. A FIFO (or a link to one) blocks whoever opens it until a
  writer comes; a device such as /dev/zero never ends. Both are refused by their type,
  checked on the open file descriptor itself (``fstat`` after a non-blocking open), so a
  file swapped for a FIFO between the walk and the read is caught too.
* Every open and hash runs with a deadline (`probe`, `read_head`): a hung network mount
  costs that file ("no answer within N s"), never the batch.
* Everything met while walking a folder that is not taken is listed with the reason
  (`skipped`): non-documents, FIFOs and devices, folders that cannot be read, links to
  folders (not followed).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

# Word, WPS, Excel and OpenDocument files and web archives (pipeline/office.py, webpage.py):
# their reader tells them apart by content, so their own suffix is kept
OFFICE_KIND = {".docx": "office", ".docm": "office", ".doc": "office", ".wps": "office", ".rtf": "office",
               ".odt": "office", ".xlsx": "office", ".xlsm": "office", ".xls": "office", ".et": "office",
               ".ods": "office", ".mhtml": "mhtml", ".mht": "mhtml"}
DOC_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".png", ".jpg", ".jpeg",
                ".tif", ".tiff", ".bmp", *OFFICE_KIND}
KIND_OF_SUFFIX = {".txt": "text", ".text": "text", ".md": "text", ".markdown": "text", ".html": "html",
                  ".htm": "html", ".pdf": "pdf", ".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".tif": "tif",
                  ".tiff": "tif", ".bmp": "bmp", **OFFICE_KIND}
SUFFIX_OF_KIND = {"pdf": ".pdf", "png": ".png", "jpg": ".jpg", "tif": ".tif", "bmp": ".bmp", "html": ".html",
                  "text": ".txt"}
DEADLINE_S = 60.0   # default for one open + hash (configs/batch.yaml: read_deadline_s)


def stream_sha256(f, first: bytes = b"") -> str:
    """sha256 (hex) of `first` then the rest of binary file `f`, read in 1 MiB chunks:
    the one content hash of the project (job keys, Source.sha256, model fingerprints)."""
    h = hashlib.sha256(first)
    while b := f.read(1 << 20):
        h.update(b)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 (hex) of a whole file's content."""
    with open(path, "rb") as f:
        return stream_sha256(f)


HTML_SUFFIXES = {".html", ".htm", ".xhtml"}


def sniff(head: bytes, suffix: str = "") -> str:
    """What a file is from its first bytes (extensions lie): the one answer for the batch
    (which sees the first 4 kB) and the read stage (which passes the whole file).

    pdf|png|jpg|tif|bmp|zip|ole|rtf|mhtml|html|text|binary|empty. `suffix` (lower case, with
    its dot) decides only one thing: a .html/.htm/.xhtml file that reads as text but shows
    no tag in its head is html. Answers where read.py and this module used to differ
    (tests/test_inputs.py pins every input):
      * `%PDF-` after junk (saved HTTP headers) within the first 1024 bytes → pdf, as PDF
        readers accept it;
      * PNG and OLE need their whole 8-byte signature (a truncated one → binary), BMP a
        valid DIB header size whatever the suffix (text starting "BM" stays text);
      * a page is html by its tags before anything else (a stray NUL does not make it
        binary), also in UTF-16 with a BOM;
      * NUL bytes without a UTF-16 BOM → binary, as are bytes no text encoding decodes
        (the read stage then fails them with decode_text's reason, as before);
      * markdown is a suffix, not content: text here (read.py keeps `.md` apart);
      * no bytes → empty (whitespace only is text: read.py fails it as an empty file).
    """
    if not head:
        return "empty"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tif"
    if head[:2] == b"BM" and len(head) > 18 and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 108, 124):
        return "bmp"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"        # Word 97-2003 / WPS / Excel 97-2003, or a password-protected .docx/.xlsx
    if head.startswith(b"{\\rtf"):
        return "rtf"
    low = head[:4096].lower()
    if b"mime-version:" in low and b"multipart/related" in low:
        return "mhtml"
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if utf16:
        low = head[:4096].decode("utf-16", "ignore").lower().encode("utf-8")
    if b"<html" in low or b"<!doctype html" in low or b"<table" in low:
        return "html"
    if b"\x00" in head[:4096] and not utf16:
        return "binary"
    for enc in ("utf-8", "gb18030", "utf-16"):
        try:
            head[:4000].decode(enc)
        except UnicodeDecodeError:
            continue
        return "html" if suffix in HTML_SUFFIXES else "text"
    return "binary"


def effective_suffix(p: Path, kind: str) -> str | None:
    """The suffix the reader should see: the file's own, unless its content says otherwise."""
    own = KIND_OF_SUFFIX.get(p.suffix.lower())
    if kind in ("zip", "ole", "rtf", "mhtml"):
        if own in ("office", "mhtml"):
            return p.suffix.lower()
        return {"rtf": ".rtf", "mhtml": ".mhtml"}.get(kind, p.suffix.lower() if own else None)
    if kind in ("pdf", "png", "jpg", "tif", "bmp"):
        return p.suffix.lower() if own == kind else SUFFIX_OF_KIND[kind]
    if kind in ("html", "text"):
        if own in ("text", "html") or (own == "mhtml" and kind == "html"):
            return p.suffix.lower()
        return SUFFIX_OF_KIND[kind] if own else None   # a .pdf that is text: read as text
    return p.suffix.lower() if own else None            # leave corrupt documents to the reader


# ----------------------------------------------------------------------------- guarded reads

class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a folder: gouji does not open it for reading."""


def file_type(mode: int) -> str | None:
    """None for a regular file, else what it is, in words."""
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "not a regular file"


@dataclass
class FileInfo:
    size: int
    mtime_ns: int
    head: bytes = b""
    sha256: str = ""          # "" when not computed (too large)
    too_large: bool = False


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """A file descriptor for a regular file (NotRegularFile otherwise) and its stat.

    O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; the type is
    then checked on the descriptor itself, so nothing can be swapped in between."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        kind = file_type(st.st_mode)
        if kind:
            raise NotRegularFile(f"not a regular file: {kind}")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _probe(path: Path, max_bytes: int, known: tuple[int, int, str] | None, head_only: bool) -> FileInfo:
    fd, st = _open_regular(path)
    try:
        info = FileInfo(st.st_size, st.st_mtime_ns)
        if st.st_size > max_bytes:
            info.too_large = True
            return info
        with os.fdopen(os.dup(fd), "rb") as f:
            info.head = f.read(4096)
            if head_only:
                return info
            if known and known[:2] == (st.st_size, st.st_mtime_ns) and known[2]:
                info.sha256 = known[2]
                return info
            info.sha256 = stream_sha256(f, info.head)
        return info
    finally:
        os.close(fd)


def _with_deadline(fn, deadline_s: float, what: str):
    """Run fn() in a daemon thread; give up (TimeoutError) when it does not answer in time.

    A thread stuck in a system call cannot be stopped, but it no longer holds up the batch
    (daemon threads do not keep the process alive)."""
    box: dict = {}

    def run():
        try:
            box["ok"] = fn()
        except BaseException as e:   # handed to the caller
            box["err"] = e
    t = threading.Thread(target=run, daemon=True, name=f"gouji-read {what[:40]}")
    t.start()
    t.join(deadline_s)
    if t.is_alive():
        raise TimeoutError(f"no answer within {deadline_s:g} s (a hung file system or device?)")
    if "err" in box:
        raise box["err"]
    return box["ok"]


def probe(path: Path, max_bytes: int, deadline_s: float = DEADLINE_S,
          known: tuple[int, int, str] | None = None) -> FileInfo:
    """Size, mtime, first 4 kB and sha256 of a regular file, within a deadline.

    `known` = (size, mtime_ns, sha256) from an earlier run: reused when size and mtime
    match. Raises NotRegularFile, TimeoutError or the OSError of the open."""
    return _with_deadline(lambda: _probe(path, max_bytes, known, False), deadline_s, str(path))


def read_bytes(path: Path, max_bytes: int, deadline_s: float = DEADLINE_S) -> bytes:
    """The whole of a regular file of at most max_bytes, within a deadline (errors as `probe`)."""
    def whole():
        fd, st = _open_regular(path)
        with open(fd, "rb") as f:
            if st.st_size > max_bytes:
                raise OSError(f"file too large: {st.st_size} bytes")
            return f.read()
    return _with_deadline(whole, deadline_s, str(path))


def read_head(path: Path, deadline_s: float = DEADLINE_S) -> bytes:
    """The first 4 kB of a regular file, within a deadline (same errors as `probe`)."""
    return _with_deadline(lambda: _probe(path, 1 << 62, None, True), deadline_s, str(path)).head


# ----------------------------------------------------------------------------- finding inputs

def _skip_reason(p: Path, deadline_s: float) -> str | None:
    """Why a file met while walking a folder is not a document (None: take it)."""
    if p.name.endswith(".truth.json"):
        return "ground-truth sidecar, not a document"
    if p.name.startswith("."):
        return "hidden file"
    try:
        kind = file_type(os.stat(p).st_mode)
    except OSError:
        return None      # dangling link, vanished: let the batch report it as a failed document
    if kind:
        return f"not a regular file: {kind}"
    if p.suffix.lower() in DOC_SUFFIXES:
        return None
    try:
        kind = sniff(read_head(p, deadline_s))
    except NotRegularFile as e:
        return str(e)
    except OSError:
        return None      # unreadable: let the batch report it as a failed document
    if kind in ("pdf", "png", "jpg", "tif", "bmp"):
        return None      # a document under a wrong extension
    return f"not a document: {p.suffix or 'no extension'} ({kind})"


def _inside(p: Path, folders: list[Path]) -> bool:
    return any(p == e or e in p.parents for e in folders)


def find_inputs(paths: list[Path], exclude: list[Path] | None = None,
                skipped: list[dict] | None = None, deadline_s: float = DEADLINE_S) -> list[Path]:
    """Documents among files and folders (recursively), sorted, each once.

    Things met in a folder that are not taken go to `skipped` with a reason; files named
    explicitly are always taken (a bad one gets a failed result). `exclude`: folders to
    leave out (the output folder when it sits inside an input folder).
    """
    ex = [Path(e).resolve() for e in (exclude or [])]
    skipped = skipped if skipped is not None else []
    out, seen = [], set()

    def skip(path, reason):
        skipped.append({"path": str(path), "reason": reason})

    def walk_error(err: OSError):
        skip(err.filename, f"cannot read folder: {err.strerror or err}")

    for p in map(Path, paths):
        if not p.is_dir():
            rp = p.resolve() if p.exists() else p.absolute()
            if rp not in seen:
                seen.add(rp)
                out.append(p)
            continue
        found = []
        for root, dirs, files in os.walk(p, onerror=walk_error):
            keep = []
            for d in sorted(dirs):
                q = Path(root) / d
                if _inside(q.resolve(), ex):
                    continue
                if q.is_symlink():
                    skip(q, "link to a folder: not followed")
                    continue
                keep.append(d)
            dirs[:] = keep
            found += [Path(root) / f for f in files]
        for q in sorted(found):
            rq = q.resolve() if q.exists() else q.absolute()
            if _inside(rq, ex):
                continue
            why = _skip_reason(q, deadline_s)
            if why:
                skip(q, why)
                continue
            if rq not in seen:
                seen.add(rq)
                out.append(q)
    return out
