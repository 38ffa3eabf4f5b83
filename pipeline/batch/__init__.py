"""Run many documents: find inputs, extract each in parallel, write results, resume.

Design (docs/batch.md has the long version):
* A job's key is sha256(content) + a fingerprint of everything that changes a result
  (gouji version, Settings, configs, model files, recogniser package versions). A result
  whose recorded key matches is done; a re-run skips it, a changed model redoes it.
* The parent is the only writer: workers return outcomes, the parent writes page pictures,
  then the result JSON (atomic rename = the commit point), then a manifest line. A kill -9
  at any moment loses at most the documents in flight and never leaves half a file.
* Output names are OUT/<stem>.json; a stem already owned by another input (this run or an
  earlier one, per the manifest or the file's recorded path) gets <stem>-<hash of path>.
* Identical content under two names is read once; the second file gets its own result,
  a copy marked ``batch.duplicate_of`` (and a warning). Combined tables count it once.
* Files the batch itself cannot take (unreadable, too large, not a document, not a regular
  file) get a failed result (explicit inputs) or a line under "skipped" in the run summary
  (things met while walking a folder); inputs.py never lets a file hang the run.
* Every other file in OUT is written through outdir.OutDir: only where the manifest says
  gouji wrote it, else under a new name with a warning. The combined tables, the summary
  and the report cover every result the manifest lists, not only this run's inputs.
* A file name that is not UTF-8 is kept exact (fsname.py): printable in what is written,
  its bytes as hex beside it in the result and the manifest.

Modules: options (BatchOptions, configs/batch.yaml), discover (inputs → entries, output
names), fingerprint, worker (the per-document function), artifacts (the parent's atomic
writes), tables (CSV/Parquet), summary (combined outputs, run summary), run (run_batch).
"""
from __future__ import annotations

from ..inputs import find_inputs, sniff
from ..outdir import UsageError
from .discover import Entry
from .fingerprint import fingerprint
from .options import BatchOptions, config, review_threshold
from .run import refresh_tables, run_batch
from .summary import RunFacts, Summary
from .tables import csv_cell
from .worker import Job, outcome_from_document, process_document

__all__ = ["BatchOptions", "Entry", "Job", "RunFacts", "Summary", "UsageError", "config", "csv_cell",
           "find_inputs", "fingerprint", "outcome_from_document", "process_document", "refresh_tables",
           "review_threshold", "run_batch", "sniff"]
