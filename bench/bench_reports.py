"""Benchmark: the annual reports batch for Wales and all 22 authorities at national scale.

Usage (heavy: run under the shared lock)::

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_reports.py \
        --data /tmp/wales400k --out bench/out/reports [--workers 2] [--cold]

The study is created first if ``--data`` does not exist (400,000 people,
seed 1). Prints the wall time of the whole batch (including the one reading of
the national data), the peak resident memory of the whole process tree (this
process, the worker processes and their kernels, sampled every 0.2 s) and the
per-area times. Targets: under 5 minutes and 6 GB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil


def tree_rss() -> int:
    me = psutil.Process()
    total = 0
    for p in [me, *me.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/wales400k")
    ap.add_argument("--out", default="bench/out/reports")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--people", type=int, default=400_000)
    ap.add_argument("--cold", action="store_true", help="remove the output (and its area cache) first")
    args = ap.parse_args(argv)

    import longitudinal as lg
    from longitudinal.report.batch import run_annual

    data = Path(args.data)
    if not data.exists():
        t = time.perf_counter()
        lg.simulate(people=args.people, seed=1).write(data, format="parquet")
        print(f"simulated {args.people:,} people in {time.perf_counter() - t:.1f} s")
    out = Path(args.out)
    if args.cold and out.exists():
        shutil.rmtree(out)

    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss())
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    res = run_annual(data, out, year="auto", areas="all", workers=args.workers, timeout=900)
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    for r in res.results:
        print(f"  {r.area:<20} {r.status:<8} {r.seconds:6.1f} s  attempts={r.attempts} {r.message[-120:]}")
    # Where the critical path (Wales) spends its time: seconds per notebook cell, slowest first.
    man = res.out / "wales" / "manifest.json"
    if man.exists():
        import json

        cells = json.loads(man.read_text()).get("cell_seconds") or {}
        top = sorted(cells.items(), key=lambda kv: -kv[1])[:8]
        print("  Wales cells: " + ", ".join(f"{k} {v:.1f} s" for k, v in top))
    n_ok = sum(r.status == "ok" for r in res.results)
    print(f"annual reports {res.year}: {n_ok}/{len(res.results)} areas ok in {wall:.1f} s "
          f"(target < 300 s); peak RSS of the process tree {peak[0] / 2**30:.2f} GB (target < 6 GB)")
    return res.exit_code


if __name__ == "__main__":
    sys.exit(main())
