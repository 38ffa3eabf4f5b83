"""Fuzz the readers (issue #20): random bytes and mutated samples never crash or hang the
text/HTML readers or the PDF opener, and every input gets a result that fits the contract.

A fixed, small number of examples (derandomized: the same ones on every CI run, no example
database) keeps this quick; raise FUZZ_EXAMPLES to search longer locally, e.g.
``FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz.py``.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.export import to_result, validate
from pipeline.run import Settings, extract

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "datasets" / "samples"
TEXT_SAMPLES = [(SAMPLES / "s2019_a.text.txt").read_bytes(), (SAMPLES / "s2021_b.text.txt").read_bytes(),
                (ROOT / "tests" / "fixtures" / "inputs" / "report_2021.html").read_bytes()]
PDF_SAMPLE = (SAMPLES / "s2019_a.digital.pdf").read_bytes()
N = int(os.environ.get("FUZZ_EXAMPLES", "1"))
STATUSES = {"ok", "needs_review", "unsupported_template", "no_tables", "failed"}
# Low resolution and few pages: the opener and the page loop are under test, not OCR.
FAST = Settings(dpi=24, max_pages=3)


def fuzz_settings(examples: int):
    # No per-example deadline: wall time flaps on a loaded machine; _check catches a hang.
    return settings(max_examples=examples * N, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw, samples: list[bytes]) -> bytes:
    """A sample with a few random edits: overwrite, insert, delete a run of bytes, or truncate."""
    data = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["overwrite", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=64))
            data[at:at + len(junk)] = junk
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 512))]
        else:
            del data[at:]
    return bytes(data)


def _check(data: bytes, suffix: str, run) -> dict:
    """Write `data` to a file, read it with `run`, and check that a valid result came back."""
    with tempfile.TemporaryDirectory(prefix="gouji-fuzz-") as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        t = time.monotonic()
        doc = run(path)
        assert time.monotonic() - t < 300, "reader hung"  # a hang guard, not a speed test
    r = to_result(doc)
    validate(r)
    assert r["status"] in STATUSES
    if r["status"] == "failed":
        assert r["errors"], "a failed result says why"
    return r


def _extract(path: Path):
    return extract(path, FAST)


@fuzz_settings(100)
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".txt", ".html", ".md", ".pdf", ".png"]))
def test_random_bytes(data, suffix):
    _check(data, suffix, _extract)


@fuzz_settings(60)
@given(data=mutated(TEXT_SAMPLES), suffix=st.sampled_from([".txt", ".html"]))
def test_mutated_text_and_html(data, suffix):
    _check(data, suffix, _extract)


@fuzz_settings(30)
@given(data=st.one_of(mutated([PDF_SAMPLE]), st.binary(max_size=2000).map(lambda b: b"%PDF-1.7\n" + b)))
def test_mutated_pdfs(data):
    from pipeline.pdf import read_pdf
    _check(data, ".pdf", lambda p: read_pdf(p, FAST))


@fuzz_settings(200)
@given(head=st.one_of(st.binary(max_size=5000), mutated(TEXT_SAMPLES + [PDF_SAMPLE[:5000]])),
       suffix=st.sampled_from(["", ".txt", ".pdf", ".png", ".docx", ".HTML"]))
def test_batch_typing_of_any_bytes(head, suffix):
    from pipeline.inputs import KIND_OF_SUFFIX, effective_suffix, sniff
    kind = sniff(head)
    assert kind in {"pdf", "png", "jpg", "tif", "bmp", "html", "mhtml", "text", "zip", "ole", "rtf", "binary", "empty"}
    eff = effective_suffix(Path(f"x{suffix}"), kind)
    assert eff is None or eff in KIND_OF_SUFFIX
