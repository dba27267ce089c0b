"""Fault injection: kills, concurrent runs, damaged stores and unwritable outputs.

Each test checks that nothing half-written is ever published and that the next run recovers. Kill
points are random but seeded (numpy ``default_rng(seed)``), so a failure can be replayed. The batch
runs a tiny notebook (a sleep and one table) with real kernels, so process ownership is tested with
the processes the real batch starts; the data are a 150-person simulated study.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from filelock import FileLock, Timeout

import longitudinal as lg
from longitudinal.ingest import StoreBusyError
from longitudinal.report.batch import KERNEL_SERVER_ENV, ReportLocked, run_annual

YEAR = 2025
AREAS = ["Cardiff", "Swansea"]
SLUGS = ["cardiff", "swansea"]
KEY = "a-test-key-that-is-not-secret"

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "p", "metadata": {"tags": ["parameters"]},
         "outputs": [],
         "source": "financial_year = 2025\narea = 'Wales'\ndata = ''\nseed = 0\nout = '.'\ncache = None"},
        {"cell_type": "code", "execution_count": None, "id": "b", "metadata": {}, "outputs": [],
         "source": "import os, pathlib, time\n"
                   "time.sleep(float(os.environ.get('LG_FAULT_SLEEP', '0')))\n"
                   "pathlib.Path('tables').mkdir()\n"
                   "pathlib.Path('tables/x.csv').write_text(os.environ.get('LG_TEST_TAG', 'v1'))\n"
                   "# Declared (a table of no numbers), as every published table must be for the year's audit.\n"
                   "import json\n"
                   "from longitudinal.report import protect as dc\n"
                   "pathlib.Path('tables/x.meta.json').write_text(json.dumps({'table': 'x', **dc.declaration_to_json("
                   "count_columns=(), specs=(), free=())}))"},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A simulated study, the tiny notebook and a previous good year of reports (tag v1)."""
    root = tmp_path_factory.mktemp("faults")
    lg.simulate(people=150, seed=1).write(root / "data", format="parquet")
    (root / "nb.ipynb").write_text(json.dumps(NOTEBOOK))
    res = run_annual(root / "data", root / "good", year=YEAR, areas=AREAS, workers=2, notebook=root / "nb.ipynb",
                     timeout=300, seed=7)
    assert res.exit_code == 0, res.results
    return root


def copy_tree(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return dst


def marked(token: str) -> list[int]:
    """Pids of live processes whose environment carries the test's marker (the batch, workers, kernels)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env = (d / "environ").read_bytes()
            state = next((ln for ln in (d / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if f"LG_FAULT_MARK={token}".encode() in env.split(b"\0") and "zombie" not in state:
            pids.append(int(d.name))
    return pids


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def wait_until(cond, timeout: float, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def snapshot(year_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(year_dir)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(year_dir.rglob("*")) if ".lock" not in p.name}


def assert_areas_whole(year_dir: Path) -> dict[str, str]:
    """Every area folder in place is a complete report (old or new): never a half-written one."""
    tags = {}
    for slug in SLUGS:
        d = year_dir / slug
        assert d.is_dir(), f"{slug}: the previous report must stay in place"
        m = json.loads((d / "manifest.json").read_text())
        assert m["status"] == "ok" and (d / "report.html").exists() and (d / "report.ipynb").exists()
        tags[slug] = (d / "tables" / "x.csv").read_text()
        assert tags[slug] in ("v1", "v2")
    return tags


def start_batch(setup, out: Path, token: str, sleep: float = 3.0) -> subprocess.Popen:
    # With a kernel server, as the national batch runs (a worker of two areas would not start one by itself).
    env = dict(os.environ, LG_FAULT_MARK=token, LG_FAULT_SLEEP=str(sleep), LG_TEST_TAG="v2",
               **{KERNEL_SERVER_ENV: "always"})
    return subprocess.Popen(
        [sys.executable, "-m", "longitudinal.cli", "report", "annual", "--data", str(setup / "data"),
         "--out", str(out), "--year", str(YEAR), "--area", ",".join(AREAS), "--workers", "1",
         "--notebook", str(setup / "nb.ipynb"), "--seed", "7", "--timeout", "300"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def recover(setup, out: Path, monkeypatch) -> None:
    """The next run: leftovers removed, every area rebuilt from the new inputs, exit 0."""
    monkeypatch.setenv("LG_TEST_TAG", "v2")
    monkeypatch.setenv("LG_FAULT_SLEEP", "0")
    res = run_annual(setup / "data", out, year=YEAR, areas=AREAS, workers=2, notebook=setup / "nb.ipynb",
                     timeout=300, seed=7)
    year_dir = out / str(YEAR)
    assert res.exit_code == 0, res.results
    assert assert_areas_whole(year_dir) == {"cardiff": "v2", "swansea": "v2"}
    assert not list(year_dir.glob(".tmp-*")) and not list(year_dir.glob(".old-*"))
    assert not (year_dir / ".failed" / "cardiff").exists() and not (year_dir / ".failed" / "swansea").exists()


# ------------------------------------------------------------------ the batch killed at random points
@pytest.mark.parametrize("how,seed", [("SIGKILL parent", 1), ("SIGKILL group", 2), ("SIGTERM", 3), ("SIGINT", 4)])
def test_killed_batch_leaves_no_process_and_nothing_half_written(setup, tmp_path, monkeypatch, how, seed):
    out = copy_tree(setup / "good", tmp_path / "out")
    year_dir = out / str(YEAR)
    token = uuid.uuid4().hex
    proc = start_batch(setup, out, token)
    # a random point after the first area started building (its kernel may be starting or running)
    assert wait_until(lambda: list(year_dir.glob(".tmp-*")) or proc.poll() is not None, 120)
    assert proc.poll() is not None or any(b"kernels import _serve" in cmdline(p) for p in marked(token))
    time.sleep(np.random.default_rng(seed).uniform(0.0, 5.0))
    sig = signal.SIGKILL if how.startswith("SIGKILL") else getattr(signal, how)
    if how == "SIGKILL group":
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    # no worker or kernel outlives the batch, whatever ended it
    assert wait_until(lambda: not marked(token), 10), f"left running: {marked(token)}"
    before = snapshot(year_dir)
    time.sleep(3.5)  # longer than an area still had to run: nothing may be renamed into place now
    assert snapshot(year_dir) == before
    assert_areas_whole(year_dir)
    if how in ("SIGTERM", "SIGINT"):
        assert proc.returncode in (128 + sig, 0), (proc.returncode, stderr)  # 0: it had finished already
        if proc.returncode:
            text = " ".join(stderr.split())
            assert f"stopped by {how}" in text or "stopped" in text, stderr
            assert not list(year_dir.glob(".tmp-*")), "a clean stop removes its temporary folders"
            for slug in SLUGS:
                f = year_dir / ".failed" / slug / "failure.json"
                if f.exists():
                    assert json.loads(f.read_text())["status"] in ("stopped", "failed"), f.read_text()
            assert "Traceback" not in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    recover(setup, out, monkeypatch)


# ------------------------------------------------------------------ ingest killed while writing over a good store
def _deliveries(root: Path) -> tuple[Path, Path]:
    study = lg.simulate(people=120, seed=2)
    study.write(root / "d1", format="csv")
    # the second delivery has one person (and their episodes and readings) fewer
    gone = study.people["person_id"].iloc[0]
    lg.Study(study.people[study.people.person_id != gone], study.episodes[study.episodes.person_id != gone],
             study.readings[study.readings.person_id != gone], study.spend,
             truth=study.truth).write(root / "d2", format="csv")
    return root / "d1", root / "d2"


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_ingest_killed_mid_write_keeps_the_old_store_whole(tmp_path, seed):
    d1, d2 = _deliveries(tmp_path)
    store = tmp_path / "store"
    lg.ingest(d1, store, key=KEY)
    n_old = len(lg.load(store).people)
    env = dict(os.environ, LONGITUDINAL_PSEUDONYM_KEY=KEY)
    proc = subprocess.Popen([sys.executable, "-m", "longitudinal.cli", "ingest", str(d2), "--out", str(store)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rng = np.random.default_rng(seed)
    # a random point while the new store is being written beside the old one
    wait_until(lambda: list(tmp_path.glob(".store.tmp-*")) or proc.poll() is not None, 120, step=0.005)
    time.sleep(rng.uniform(0.0, 0.4))
    proc.kill()
    proc.wait()
    study = lg.load(store)  # whole and consistent: the old store, or the new one if it had finished
    assert len(study.people) in (n_old, n_old - 1)
    if len(study.people) == n_old:
        assert proc.returncode == -signal.SIGKILL
    assert set(study.episodes["person_id"]) <= set(study.people["person_id"])
    # the next ingest removes the leftovers and publishes the new store
    lg.ingest(d2, store, key=KEY)
    assert len(lg.load(store).people) == n_old - 1
    assert not list(tmp_path.glob(".store.tmp-*"))


# ------------------------------------------------------------------ two runs at once
def test_two_concurrent_batches_one_is_refused(setup, tmp_path, monkeypatch):
    out = copy_tree(setup / "good", tmp_path / "out")
    token = uuid.uuid4().hex
    proc = start_batch(setup, out, token, sleep=2.0)
    assert wait_until(lambda: list((out / str(YEAR)).glob(".tmp-*")), 120)
    with pytest.raises(ReportLocked, match="being written by another run"):
        run_annual(setup / "data", out, year=YEAR, areas=AREAS, notebook=setup / "nb.ipynb")
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert assert_areas_whole(out / str(YEAR)) == {"cardiff": "v2", "swansea": "v2"}
    assert not marked(token)


def test_two_concurrent_ingests_one_is_refused(tmp_path):
    d1, d2 = _deliveries(tmp_path)
    store = tmp_path / "store"
    env = dict(os.environ, LONGITUDINAL_PSEUDONYM_KEY=KEY)
    proc = subprocess.Popen([sys.executable, "-m", "longitudinal.cli", "ingest", str(d2), "--out", str(store)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lock = FileLock(str(tmp_path / ".store.lock"))

    def held() -> bool:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        return False

    assert wait_until(held, 120, step=0.01)
    with pytest.raises(StoreBusyError, match="being written by another ingest"):
        lg.ingest(d1, store, key=KEY)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert len(lg.load(store).people) == len(pd.read_csv(d2 / "people.csv"))  # the second delivery won


# ------------------------------------------------------------------ damaged stores
def test_batch_refuses_a_damaged_or_mixed_store_and_runs_once_it_is_ingested_again(setup, tmp_path, monkeypatch):
    d1, d2 = _deliveries(tmp_path)
    lg.ingest(d1, tmp_path / "store", key=KEY)
    lg.ingest(d2, tmp_path / "other", key=KEY)
    env = dict(os.environ, LG_FAULT_SLEEP="0")
    cmd = [sys.executable, "-m", "longitudinal.cli", "report", "annual", "--data", str(tmp_path / "store"),
           "--out", str(tmp_path / "out"), "--year", str(YEAR), "--area", "Cardiff",
           "--notebook", str(setup / "nb.ipynb"), "--workers", "1"]
    # the case: a new people table beside the old episodes
    good_people = (tmp_path / "store" / "people.parquet").read_bytes()
    (tmp_path / "store" / "people.parquet").write_bytes((tmp_path / "other" / "people.parquet").read_bytes())
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "people.parquet differs from what ingest wrote" in " ".join(r.stderr.split())
    assert not (tmp_path / "out" / str(YEAR)).exists() and "Traceback" not in r.stderr
    # a Parquet file damaged in the middle
    (tmp_path / "store" / "people.parquet").write_bytes(good_people)
    data = bytearray((tmp_path / "store" / "readings.parquet").read_bytes())
    data[len(data) // 2: len(data) // 2 + 16] = b"\xff" * 16
    (tmp_path / "store" / "readings.parquet").write_bytes(bytes(data))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "readings.parquet differs" in " ".join(r.stderr.split())
    # ingest again: the store is whole and the batch runs
    lg.ingest(d1, tmp_path / "store", key=KEY)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / str(YEAR) / "cardiff" / "manifest.json").exists()


# ------------------------------------------------------------------ outputs that cannot be written
def test_the_kernel_server_setting_is_checked_before_anything_runs(setup, tmp_path, monkeypatch):
    monkeypatch.setenv(KERNEL_SERVER_ENV, "sometimes")
    with pytest.raises(ValueError, match="LONGITUDINAL_KERNEL_SERVER='sometimes': expected auto, always or never"):
        run_annual(setup / "data", tmp_path / "out", year=YEAR, areas=AREAS, notebook=setup / "nb.ipynb")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_is_a_clear_error(setup, tmp_path):
    (tmp_path / "afile").write_text("x")
    base = [sys.executable, "-m", "longitudinal.cli", "report", "annual", "--data", str(setup / "data"),
            "--year", str(YEAR), "--area", "Cardiff", "--notebook", str(setup / "nb.ipynb")]
    r = subprocess.run(base + ["--out", str(tmp_path / "afile")], capture_output=True, text=True)
    assert r.returncode == 2 and "is a file" in " ".join(r.stderr.split()) and "Traceback" not in r.stderr
    # a file where a folder should be: cannot be written, whoever runs it (root included)
    r = subprocess.run(base + ["--out", str(tmp_path / "afile" / "reports")], capture_output=True, text=True)
    assert r.returncode == 2 and "cannot write there" in " ".join(r.stderr.split()), r.stderr
    if os.geteuid() != 0:  # permissions do not bite as root
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            r = subprocess.run(base + ["--out", str(ro)], capture_output=True, text=True)
            assert r.returncode == 2 and "cannot write there" in " ".join(r.stderr.split()), r.stderr
        finally:
            ro.chmod(0o755)


# ------------------------------------------------------------------ exit statuses of the command line
def test_exit_statuses_internal_error_usage_and_input(tmp_path, monkeypatch):
    import longitudinal.simulate  # noqa: F401 - the module, which the package's simulate() hides
    from longitudinal import cli

    monkeypatch.setenv(cli.LOG_DIR_ENV, str(tmp_path / "logs"))
    assert cli.run(["no-such-command"]) == 2
    assert cli.run(["ingest", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s")]) == 2

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(sys.modules["longitudinal.simulate"], "simulate", boom)
    assert cli.run(["simulate", "--out", str(tmp_path / "sim")]) == 3
    logs = list((tmp_path / "logs").glob("longitudinal-crash-*.log"))
    assert len(logs) == 1 and "RuntimeError: a bug" in logs[0].read_text() and "Traceback" in logs[0].read_text()


# ------------------------------------------------------------------ the swap itself
def test_swap_is_atomic_and_a_swap_cut_short_is_undone(tmp_path):
    from longitudinal import io

    target = tmp_path / "store"
    target.mkdir()
    (target / "a").write_text("old")
    new = tmp_path / ".store.tmp-new"
    new.mkdir()
    (new / "a").write_text("new")
    old = io.swap_in(new, target)
    assert (target / "a").read_text() == "new" and (old / "a").read_text() == "old"
    # a non-atomic swap killed between its two renames: the old folder aside, nothing in place
    os.replace(target, tmp_path / ".store.tmp-old-999")
    (tmp_path / ".store.tmp-half").mkdir()
    io.clean_leftovers(target)
    assert (target / "a").read_text() == "new" and not list(tmp_path.glob(".store.tmp-*"))
