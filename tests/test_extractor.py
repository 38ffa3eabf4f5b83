"""The composed pipeline (pipeline/extractor.py): stages passed in are the ones called, and
the default Extractor is pipeline.run.extract."""
from pathlib import Path

from pipeline.export import to_result
from pipeline.extractor import Classifier, Extractor, Reader
from pipeline.run import Settings, extract

SAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "samples"
TEXT = SAMPLES / "s2019_a.text.txt"


def _cells(doc):
    return {k: (c["value"], c["confidence"], c["status"]) for k, c in to_result(doc)["cells"].items()}


def test_default_extractor_is_run_extract():
    a, b = Extractor()(TEXT), extract(TEXT)
    assert a.status == b.status and to_result(a)["cells"] and _cells(a) == _cells(b)
    assert {"read", "classify", "solve", "score", "total"} <= set(a.timings)
    assert set(a.timings) == set(b.timings)
    # Settings(solver=False) and solver=False are the same ablation
    c, d = Extractor(settings=Settings(solver=False)).extract(TEXT), Extractor(solver=False).extract(TEXT)
    assert _cells(c) == _cells(d) and "solve" not in c.timings and "solve" not in d.timings
    assert "solver" in a.models and "solver" not in c.models


def test_custom_stages_are_called():
    calls = []

    class CountingReader(Reader):
        def read(self, path):
            calls.append(("read", Path(path).name))
            return super().read(path)

    class NoSolve:
        def __call__(self, doc):
            calls.append(("solve", doc.status))

    class MarkScore:
        def __call__(self, doc):
            calls.append(("score", len(doc.tables)))
            doc.warnings.append("scored by MarkScore")

    doc = Extractor(reader=CountingReader(), solver=NoSolve(), scorer=MarkScore())(TEXT)
    assert [c[0] for c in calls] == ["read", "solve", "score"] and calls[0][1] == TEXT.name
    assert "scored by MarkScore" in doc.warnings
    assert "solve" in doc.timings and "score" in doc.timings   # a custom stage is timed too
    # no solver and no scorer: neither stage runs, the model records neither
    plain = Extractor(solver=False, scorer=False)(TEXT)
    assert plain.status != "failed" and not {"solve", "score"} & set(plain.timings)
    assert "confidence" not in plain.models and "confidence" in extract(TEXT).models


def test_fuzzy_classifier_stage_equals_fuzzy_settings():
    a = Extractor(classifier=Classifier(Settings(mapper="fuzzy")))(TEXT)
    b = extract(TEXT, Settings(mapper="fuzzy"))
    assert _cells(a) == _cells(b)


def test_a_reader_that_raises_gives_a_failed_document():
    class Broken:
        def read(self, path):
            raise RuntimeError("boom")
    doc = Extractor(reader=Broken()).extract(TEXT)
    assert doc.status == "failed" and "boom" in " ".join(doc.errors)


def test_stage_after_grid_sees_gridded_tables():
    """On a scan the gridder runs before classify; a wrapped gridder is the one called."""
    from pipeline.extractor import Gridder
    seen = []

    class Spy(Gridder):
        def __call__(self, doc):
            super().__call__(doc)
            seen.append(sum(len(t.cells) for p in doc.pages for t in p.tables))

    png = SAMPLES / "s2019_a.scan_heavy.p2.png"
    doc = Extractor(gridder=Spy())(png)
    assert seen and seen[0] > 0 and "grid" in doc.timings and "regions" in doc.timings
    assert _cells(doc) == _cells(extract(png))
