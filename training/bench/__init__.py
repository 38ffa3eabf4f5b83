"""Benchmarks side by side with peers, on the same documents in the same run.

    python -m training.bench --mode quick|full [--out DIR] [--docs N] [--splits a,b] [--stop-at HH:MM]
                             [--scan-docs N]

Why: "gouji beats what a user would pick instead" is only true if a side-by-side run on
the same documents shows it; every later change is judged by this run.

Systems (configs/bench.yaml): gouji; gouji without the solver; gouji with the fuzzy
baseline mapper (system_gouji.py: constructed Extractors); img2table + Tesseract (cells
keyed by gouji's own classify stage, so only table recovery and OCR differ;
system_img2table.py); PP-OCR lines with naive row/column clustering (same keying;
system_ppocr.py); the number stream of existing open-source parsers
(system_number_stream.py). Splits: the synthetic test split's renderings (digital PDF,
light and heavy scans, flattened text) and the five real seeds (corpus.py). Each system
group runs in its own process, one after another (runner.py: peak memory is that
process's, and the 2 cores are not fought over by our own jobs); metrics.py scores them,
report.py writes them, sections.py adds the sections of the other evaluations.

Writes OUT/benchmarks.json (every figure and per-document detail), OUT/benchmarks.md
(a table per split, the command, versions, date) and OUT/benchmarks.png (cell accuracy
against seconds per page).
"""
from .corpus import CONFIG, PDF_SPLITS, ROOT, SCANS, load_config  # noqa: F401
from .metrics import auto_accept, cell_scores, ece, grid_f1, key_right, score_split, values_equal  # noqa: F401
from .records import page_transforms  # noqa: F401
from .report import grid_eval_markdown  # noqa: F401
from .runner import main, stop_time  # noqa: F401
from .system_gouji import grid_eval_record, run_gouji, summarise_grid  # noqa: F401
