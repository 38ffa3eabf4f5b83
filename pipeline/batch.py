"""Run many documents: find inputs, extract each, write results (first, serial version)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .export import to_result, write_json
from .run import Settings, extract

DOC_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".png", ".jpg", ".jpeg",
                ".tif", ".tiff", ".bmp"}


def find_inputs(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in DOC_SUFFIXES
                          and not q.name.endswith(".truth.json"))
        else:
            out.append(p)
    return out


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return "done: " + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))


def run_batch(paths, out: Path, settings: Settings | None = None, workers=None, engine="local",
              address=None, time_limit=600.0, force=False, progress=True) -> Summary:
    s = Summary()
    used: set[str] = set()
    for p in find_inputs(list(paths)):
        doc = extract(p, settings)
        name = p.stem
        while name in used:
            name += "_"
        used.add(name)
        write_json(to_result(doc), Path(out) / f"{name}.json")
        s.counts[doc.status] = s.counts.get(doc.status, 0) + 1
    return s
