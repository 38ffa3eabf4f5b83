"""A batch never stops, never hangs, never touches a file it did not write (issue #20).

One test per way it used to go wrong: odd file names, foreign files in OUT, FIFOs and
devices, --out equal to the input, unreadable folders, partial reruns, CSV formulas,
usage errors, and workers outliving a killed parent.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from pipeline.batch import csv_cell, run_batch
from pipeline.cli import main
from pipeline.outdir import lock

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "tests" / "fixtures" / "seeds").glob("*.txt"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _cli(*args, timeout=180, prefix=()):
    """gouji in a subprocess (a hang fails the test instead of stalling the suite)."""
    return subprocess.run([*prefix, sys.executable, "-m", "pipeline.cli", *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _results(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*.json")
            if p.name != "run_summary.json"}


def _csv(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0] in (b"Z", b"X")
    except OSError:
        return True


# 1 ----------------------------------------------------------------------------------------

def test_name_that_is_not_utf8_is_kept_exact(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(SEEDS[0], d / "ok.txt")
    gbk = os.fsencode(d) + b"/" + "年度报告".encode("gbk") + b".txt"
    with open(gbk, "wb") as f:
        f.write(SEEDS[1].read_bytes())
    out = tmp_path / "o"
    r = _cli("extract", d, "--out", out, "--workers", "1", "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    res = _results(out)
    assert set(res) == {"ok.json", "年度报告.json"}            # output name: the GB18030 reading
    g = res["年度报告.json"]
    assert g["status"] in ("ok", "needs_review") and g["cells"]
    assert bytes.fromhex(g["batch"]["abs_path_hex"]) == gbk      # exact bytes in the result
    assert "\\xc4" in g["source"]["path"] and any("not UTF-8" in w for w in g["warnings"])
    recs = [json.loads(x) for x in (out / ".gouji" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [bytes.fromhex(x["abs_hex"]) for x in recs if x.get("abs_hex")] == [gbk]   # and in the manifest
    assert len(_csv(out / "results_wide.csv")) == 2
    assert (out / "report_files" / "年度报告.html").exists()
    assert quote("report_files/年度报告.html") in (out / "report.html").read_text(encoding="utf-8")
    # the exact name finds its earlier result: nothing is read again
    r2 = _cli("extract", d, "--out", out, "--workers", "1", "--no-progress")
    assert r2.returncode == 0 and "0 processed, 2 already done" in r2.stdout, r2.stdout + r2.stderr[-2000:]


# 2 ----------------------------------------------------------------------------------------

def test_files_gouji_did_not_write_are_left_alone(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEEDS[0], d / "r000.txt")
    out = tmp_path / "out"
    (out / "report_files").mkdir(parents=True)
    mine = {"report.html": "my report", "results_long.csv": "my table", "run_summary.json": "{}",
            "report_files/r000.html": "my page", "notes.tmp": "my temp", ".draft.tmp": "hidden temp",
            "report_files/.x.tmp": "temp in report_files"}
    for rel, text in mine.items():
        (out / rel).write_text(text, encoding="utf-8")
    s = run_batch([d], out, workers=1, progress=False)
    assert {rel: (out / rel).read_text(encoding="utf-8") for rel in mine} == mine
    assert s.outputs["report"].endswith("report-2.html") and s.outputs["summary"].endswith("run_summary-2.json")
    summ = json.loads((out / "run_summary-2.json").read_text(encoding="utf-8"))
    assert summ["outputs"]["long_csv"] == "results_long-2.csv"
    assert len(summ["warnings"]) == 4 and all("not written by gouji" in w for w in summ["warnings"])
    index = (out / "report-2.html").read_text(encoding="utf-8")
    assert 'href="report_files/r000-2.html"' in index and (out / "report_files" / "r000-2.html").exists()

    # a second run writes to the same alternatives (gouji's own now), not to -3
    (out / "results_wide.csv").write_text("edited by hand", encoding="utf-8")   # gouji's file, changed since
    s2 = run_batch([d], out, workers=1, progress=False)
    assert s2.outputs["report"].endswith("report-2.html")
    assert (out / "results_wide.csv").read_text(encoding="utf-8") == "edited by hand"
    assert (out / "results_wide-2.csv").exists() and not (out / "report-3.html").exists()
    assert {rel: (out / rel).read_text(encoding="utf-8") for rel in mine} == mine


# 3 ----------------------------------------------------------------------------------------

def test_fifos_and_devices_never_hang(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEEDS[0], d / "good.txt")
    os.mkfifo(d / "pipe.txt")
    (d / "link.pdf").symlink_to(d / "pipe.txt")
    os.mkfifo(tmp_path / "explicit_pipe.txt")
    out = tmp_path / "out"
    t = time.monotonic()
    r = _cli("extract", d, tmp_path / "explicit_pipe.txt", "/dev/zero", "--out", out, "--workers", "1",
             "--no-progress", timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert time.monotonic() - t < 100
    res = _results(out)
    assert res["good.json"]["status"] in ("ok", "needs_review")
    assert "character device" in res["zero.json"]["errors"][0]
    assert "FIFO" in res["explicit_pipe.json"]["errors"][0]
    summ = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    reasons = {Path(x["path"]).name: x["reason"] for x in summ["skipped"]}
    assert "FIFO" in reasons["pipe.txt"] and "FIFO" in reasons["link.pdf"]


def test_a_read_that_does_not_answer_fails_that_file_only(tmp_path, monkeypatch):
    import pipeline.batch as batch
    import pipeline.inputs as inputs
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEEDS[0], d / "slow.txt")
    real = inputs._probe

    def hung(path, *a, **k):       # a hung network mount: the open never returns
        if Path(path).name == "slow.txt":
            time.sleep(30)
        return real(path, *a, **k)
    monkeypatch.setattr(inputs, "_probe", hung)
    monkeypatch.setitem(batch.config(), "read_deadline_s", 0.5)
    t = time.monotonic()
    with pytest.raises(TimeoutError):
        inputs.probe(d / "slow.txt", 1 << 30, deadline_s=0.5)
    s = run_batch([d], tmp_path / "out", workers=1, progress=False)
    assert time.monotonic() - t < 20
    r = _results(tmp_path / "out")["slow.json"]
    assert r["status"] == "failed" and "no answer within 0.5 s" in r["errors"][0] and r["batch"]["retry"]
    assert s.counts == {"failed": 1}


# 4 ----------------------------------------------------------------------------------------

def test_out_equal_to_input_is_a_usage_error(tmp_path, capsys):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    shutil.copy(SEEDS[0], d / "sub" / "a.txt")
    assert main(["extract", str(d), "--out", str(d), "--no-progress"]) == 2
    assert main(["extract", str(d / "sub"), "--out", str(d), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "use another --out" in err and "Traceback" not in err
    assert not (d / ".gouji").exists()       # refused before anything was written


# 5 ----------------------------------------------------------------------------------------

def test_unreadable_folders_and_folder_links_are_listed(tmp_path):
    d = tmp_path / "in"
    (d / "locked").mkdir(parents=True)
    shutil.copy(SEEDS[0], d / "ok.txt")
    shutil.copy(SEEDS[1], d / "locked" / "hidden_from_us.txt")
    (d / "locked").chmod(0)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (d / "linked").symlink_to(other, target_is_directory=True)
    out = tmp_path / "out"
    prefix = ()
    if os.geteuid() == 0:   # root reads anything: drop the capabilities that bypass permissions
        if not shutil.which("setpriv"):
            pytest.skip("running as root without util-linux setpriv: cannot make a folder unreadable")
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
    try:
        r = _cli("extract", d, "--out", out, "--workers", "1", "--no-progress", prefix=prefix)
    finally:
        (d / "locked").chmod(0o755)
    if r.returncode != 0 and "setpriv" in r.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {r.stderr[-300:]}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 skipped" in r.stdout
    summ = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    reasons = {Path(x["path"]).name: x["reason"] for x in summ["skipped"]}
    assert reasons["locked"] == "cannot read folder: Permission denied"
    assert reasons["linked"] == "link to a folder: not followed"
    assert "locked" in (out / "report.html").read_text(encoding="utf-8")


# 6 ----------------------------------------------------------------------------------------

def test_a_partial_rerun_keeps_the_combined_outputs_whole(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(SEEDS[0], a / "first.txt")
    shutil.copy(SEEDS[1], a / "second.txt")
    shutil.copy(SEEDS[2], b / "third.txt")
    out = tmp_path / "out"
    run_batch([a], out, workers=1, progress=False)
    s = run_batch([b], out, workers=1, progress=False)
    assert s.processed == 1 and s.documents == 3
    files = sorted(w["file"] for w in _csv(out / "results_wide.csv"))
    assert files == ["first.json", "second.json", "third.json"]
    assert {row["file"] for row in _csv(out / "results_long.csv")} == set(files)
    summ = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    assert summ["documents"] == 3 and summ["processed_now"] == 1
    index = (out / "report.html").read_text(encoding="utf-8")
    assert all(f"report_files/{n}.html" in index for n in ("first", "second", "third"))


# 7 ----------------------------------------------------------------------------------------

def test_csv_cells_cannot_run_formulas(tmp_path):
    assert [csv_cell(v) for v in ("=1+2", "+1", "-x", "@SUM(A1)", "\tx", "\rx", "ok", "", None, -5, 1.5)] == \
        ["'=1+2", "'+1", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "ok", "", "", -5, 1.5]
    d = tmp_path / "in"
    d.mkdir()
    text = SEEDS[0].read_text(encoding="utf-8")
    (d / "=HYPERLINK(1).txt").write_text("=cmd|' /C calc'!A0\n" + text, encoding="utf-8")
    out = tmp_path / "out"
    run_batch([d], out, workers=1, progress=False)
    for name in ("results_wide.csv", "results_long.csv"):
        rows = _csv(out / name)
        assert rows and all(r["file"] == "'=HYPERLINK(1).json" for r in rows)
        for r in rows:
            assert not any(str(v)[:1] in "=+@" for v in r.values() if v), r
    wide = _csv(out / "results_wide.csv")[0]
    assert wide["year"].isdigit()        # numbers stay numbers


# 8 ----------------------------------------------------------------------------------------

def test_usage_errors_are_one_line(tmp_path, capsys, monkeypatch):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEEDS[0], d / "a.txt")

    def fails(*args):
        rc = main(["extract", str(d), *map(str, args), "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err and err.count("\n") == 1, err
        return err

    out = tmp_path / "out"
    (out / ".gouji").mkdir(parents=True)
    held = lock(out / ".gouji" / "lock")              # another run holds OUT
    try:
        assert "another gouji run" in fails("--out", out)
    finally:
        held.close()
    (tmp_path / "afile").write_text("x")
    assert "is a file" in fails("--out", tmp_path / "afile")
    assert "cannot create" in fails("--out", tmp_path / "afile" / "sub")
    monkeypatch.setitem(sys.modules, "ray", None)    # Ray not installed
    assert "needs Ray" in fails("--out", tmp_path / "o2", "--engine", "ray")
    assert not (tmp_path / "o2").exists()
    for flag in ("--time-limit", "--memory-limit", "--workers"):
        with pytest.raises(SystemExit) as e:
            main(["extract", str(d), "--out", str(out), flag, "-1"])
        assert e.value.code == 2 and "must be" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("gouji ")


# 9 ----------------------------------------------------------------------------------------

def pid_then_wait(job):
    """Per-document function for the kill test: note the worker's pid, then take long."""
    Path(os.environ["GOUJI_TEST_PIDS"], f"{os.getpid()}").write_text(job.path)
    time.sleep(30)
    Path(os.environ["GOUJI_TEST_PIDS"], f"{os.getpid()}.finished").write_text(job.path)
    return {"failure": "test", "reason": "test"}


def test_workers_die_with_their_parent(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEEDS[0], d / "a.txt")
    shutil.copy(SEEDS[1], d / "b.txt")
    pids = tmp_path / "pids"
    pids.mkdir()
    code = ("import sys; sys.path.insert(0, sys.argv[3]); from test_batch_safety import pid_then_wait; "
            "from pipeline.batch import run_batch; "
            "run_batch([sys.argv[1]], sys.argv[2], workers=2, progress=False, func=pid_then_wait)")
    p = subprocess.Popen([sys.executable, "-c", code, str(d), str(tmp_path / "out"), str(Path(__file__).parent)],
                         cwd=ROOT, env={**ENV, "GOUJI_TEST_PIDS": str(pids)}, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(list(pids.iterdir())) < 2:
            time.sleep(0.1)
        workers = [int(f.name) for f in pids.iterdir()]
        assert len(workers) == 2, "both workers should have started a document"
        os.kill(p.pid, signal.SIGKILL)        # the main process only, not its group
        p.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_dead(w) for w in workers):
            time.sleep(0.1)
        assert all(_dead(w) for w in workers), "workers outlived their parent"
        assert not list(pids.glob("*.finished"))
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# all of it at once ------------------------------------------------------------------------

def test_a_folder_mixing_everything(tmp_path):
    """Good documents come back right; every bad thing has a clear reason somewhere."""
    d = tmp_path / "in"
    (d / "locked").mkdir(parents=True)
    shutil.copy(SEEDS[0], d / "good.txt")
    shutil.copy(SEEDS[1], d / "=formula.txt")
    with open(os.fsencode(d) + b"/" + "报告".encode("gbk") + b".txt", "wb") as f:
        f.write(SEEDS[2].read_bytes())
    shutil.copy(SEEDS[3], d / "locked" / "inside.txt")
    os.mkfifo(d / "pipe.txt")
    (d / "to_pipe.pdf").symlink_to(d / "pipe.txt")
    (d / "corrupt.pdf").write_bytes(b"%PDF-1.5\n" + os.urandom(2000))
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("somebody's report", encoding="utf-8")
    (d / "locked").chmod(0)
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search") \
        if os.geteuid() == 0 and shutil.which("setpriv") else ()
    try:
        r = _cli("extract", d, "/dev/zero", "--out", out, "--workers", "2", "--no-progress", prefix=prefix)
    finally:
        (d / "locked").chmod(0o755)
    assert r.returncode == 0, r.stderr[-2000:]
    res = {Path(x["source"]["path"]).name: x for x in _results(out).values()}
    good = {"good.txt", "=formula.txt", "\\xb1\\xa8\\xb8\\xe6.txt"}
    for name in good:
        assert res[name]["status"] in ("ok", "needs_review") and res[name]["cells"], name
    assert res["corrupt.pdf"]["status"] == "failed" and "pdf" in res["corrupt.pdf"]["errors"][0].lower()
    assert "character device" in res["zero"]["errors"][0]
    summ = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    reasons = {Path(x["path"]).name: x["reason"] for x in summ["skipped"]}
    assert "FIFO" in reasons["pipe.txt"] and "FIFO" in reasons["to_pipe.pdf"]
    if prefix or os.geteuid() != 0:
        assert "cannot read folder" in reasons["locked"]
    assert (out / "report.html").read_text(encoding="utf-8") == "somebody's report"
    assert any("report.html" in w for w in summ["warnings"])
