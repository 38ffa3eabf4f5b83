"""File names that are not valid UTF-8 (GBK names from Windows zip archives are common).

Python hands such a name over as a str with lone surrogates (PEP 383, surrogateescape):
it opens the file fine, but cannot be written into UTF-8 JSON, CSV or HTML. The rule, in
one place:

* in memory a path stays the str Python gave (exact: ``os.fsencode`` gives the bytes back);
* whatever gouji writes shows it as ``printable(p)``: the bad bytes as ``\\xNN``, so the text
  is valid UTF-8 and visibly not the real name; where the exact name matters (results and
  the manifest) ``hex_field`` adds the bytes as hex next to it, and ``from_record`` reads
  them back;
* output names (``OUT/<name>.json``) are made from ``readable(stem)``: the GB18030 reading
  when the bytes are GB18030, so a user sees 年度报告.json rather than escapes.
"""
from __future__ import annotations

import os


def _bytes(s: str) -> bytes:
    try:
        return os.fsencode(s)
    except UnicodeEncodeError:   # surrogates that did not come from a file name
        return s.encode("utf-8", "backslashreplace")


def is_text(s: str) -> bool:
    """True when `s` is valid Unicode text (a normal name): writable as UTF-8 as it is."""
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def printable(s: str) -> str:
    """`s` itself, or with the bytes that are not UTF-8 shown as \\xNN."""
    return s if is_text(s) else _bytes(s).decode("utf-8", "backslashreplace")


def readable(s: str) -> str:
    """A name for humans: `s`, else its GB18030 reading, else `printable(s)`."""
    if is_text(s):
        return s
    try:
        return _bytes(s).decode("gb18030")
    except UnicodeDecodeError:
        return printable(s)


def hex_field(key: str, s: str) -> dict:
    """``{key + "_hex": bytes}`` when `s` is not valid UTF-8 (its exact bytes), else {}."""
    return {} if is_text(s) else {f"{key}_hex": _bytes(s).hex()}


def from_record(d: dict, key: str) -> str | None:
    """The exact path stored under `key` (with its ``_hex`` twin when there is one)."""
    h = d.get(f"{key}_hex")
    if h:
        try:
            return os.fsdecode(bytes.fromhex(h))
        except ValueError:
            pass
    return d.get(key)


def json_safe(obj):
    """`obj` with every str (keys too) made printable: JSON that encodes as UTF-8."""
    if isinstance(obj, str):
        return printable(obj)
    if isinstance(obj, dict):
        return {json_safe(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
