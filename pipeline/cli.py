"""gouji command line: extract, inspect, review, train."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """examples:
  gouji extract datasets/samples --out out/          every document in a folder
  gouji extract report.pdf scan.png page.html --out out/
  gouji extract reports/ --out out/ --workers 2       parallel, resumable batch
  gouji extract reports/ --out out/ --engine ray --address auto   on a Ray cluster
  gouji inspect scan.pdf --page 3 --out page3.png     picture of what gouji saw
  gouji review out/                                   confirm or correct doubtful cells in the browser
  gouji train --add out/reviewed                      retrain from the reviewed cells and labels
  gouji doctor                                        what is installed, missing or broken

Each input gets OUT/<name>.json (format: gouji.result/1). A bad document gets a result
with status "failed" and a reason; the run goes on. The exit code is non-zero only for
usage errors.
"""


def _non_negative(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    if v < 0 or v != v:
        raise argparse.ArgumentTypeError(f"must be 0 or more (0 turns the guard off), not {text}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return v


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gouji", description="Cross-checked figures from 政府信息公开工作年度报告 "
                                "(text, HTML, Markdown, digital or scanned PDF, images).",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__
    p.add_argument("--version", action="version", version=f"gouji {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    e = sub.add_parser("extract", help="extract tables from documents into result JSON",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    e.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    e.add_argument("--workers", type=_positive_int, default=None, help="parallel workers (default: all cores)")
    e.add_argument("--engine", choices=["local", "ray"], default="local", help="local process pool or Ray")
    e.add_argument("--address", default=None, help="Ray cluster address (with --engine ray)")
    e.add_argument("--mapper", choices=["auto", "fuzzy", "classifier"], default=None,
                   help="key mapper: trained classifier if shipped (auto), or the fuzzy baseline")
    e.add_argument("--no-solver", action="store_true", help="skip the consistency solver (ablation)")
    e.add_argument("--ocr", choices=["rapidocr", "paddle"], default=None, help="OCR engine (default rapidocr)")
    e.add_argument("--time-limit", type=_non_negative, default=None, metavar="S",
                   help="seconds per document (default: configs/batch.yaml, 600)")
    e.add_argument("--memory-limit", type=_non_negative, default=None, metavar="MB",
                   help="resident memory per worker before it is stopped (default: configs/batch.yaml memory_limit_mb)")
    e.add_argument("--force", action="store_true", help="redo documents already done")
    e.add_argument("--no-progress", action="store_true", help="no progress bar")
    i = sub.add_parser("inspect", help="draw the detected tables, grid and values on a page")
    i.add_argument("path", type=Path)
    i.add_argument("--page", type=int, default=None, help="1-based page (default: every page with a table)")
    i.add_argument("--out", type=Path, default=None, help="PNG path or folder (default: next to the input)")
    r = sub.add_parser("review", help="confirm or correct the doubtful cells of OUT in the browser (local server)")
    r.add_argument("out", type=Path, metavar="OUT", help="output folder of `gouji extract`")
    r.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    r.add_argument("--port", type=int, default=0, help="port (default 0: a free one, printed with the URL)")
    r.add_argument("--reviewer", default=None, help="name in the audit trail (default $USER)")
    r.add_argument("--export", action="store_true",
                   help="only rewrite the combined tables with the reviewed values, no server")
    sub.add_parser("doctor", help="what is installed, missing or broken, with the command that fixes it")
    t = sub.add_parser("train", help="train the cell-key classifier (see README: retraining)", add_help=False)
    t.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    if extra and args.cmd != "train":
        _parser().error(f"unrecognized arguments: {' '.join(extra)}")
    if args.cmd is None:
        _parser().print_help()
        return 2
    if args.cmd == "extract":
        from .batch import BatchOptions, UsageError, run_batch
        from .fsname import printable
        from .run import Settings
        missing = [p for p in args.paths if not p.exists()]
        if missing:
            print(f"gouji: no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr)
            return 2
        given = {"mapper": args.mapper, "ocr_engine": args.ocr, "solver": False if args.no_solver else None}
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
        try:
            summary = run_batch(args.paths, args.out, BatchOptions(
                settings=settings, workers=args.workers, engine=args.engine, address=args.address,
                time_limit=args.time_limit, force=args.force, progress=not args.no_progress,
                memory_limit_mb=args.memory_limit))
        except UsageError as e:   # output folder, lock, engine: one line, no traceback
            print(f"gouji: {e}", file=sys.stderr)
            return 2
        print(printable(summary.line()))
        return 0
    if args.cmd == "inspect":
        from .inspect import inspect_file
        for png in inspect_file(args.path, page=args.page, out=args.out):
            print(png)
        return 0
    if args.cmd == "review":
        from .outdir import UsageError
        try:
            if args.export:
                from .batch import refresh_tables
                print("wrote " + ", ".join(refresh_tables(args.out)))
                return 0
            from .review import serve
            return serve(args.out, host=args.host, port=args.port, reviewer=args.reviewer)
        except UsageError as e:
            print(f"gouji: {e}", file=sys.stderr)
            return 2
        except OSError as e:   # port taken, address not available
            print(f"gouji review: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
            return 2
    if args.cmd == "doctor":
        from .doctor import main as doctor_main
        return doctor_main()
    if args.cmd == "train":
        from .resources import CHECKOUT, ROOT
        if not CHECKOUT:
            print("gouji: training ships with the source checkout, not the wheel: "
                  "git clone the project, then `make train` or `gouji train` there", file=sys.stderr)
            return 2
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from training.train_keys import main as train_main
        return train_main(extra + args.rest)
    return 2


if __name__ == "__main__":
    sys.exit(main())
