"""Benchmark: the annual reports batch for Wales and all 22 authorities at national scale.

Usage (heavy: run under the shared lock)::

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_reports.py \
        --data /tmp/wales400k --out bench/out/reports [--workers 2] [--cold]

The study is created first if ``--data`` does not exist (400,000 people,
seed 1). Prints the wall time of the whole batch (including the one reading of
the national data), the peak resident memory of the whole process tree (this
process, the worker processes and their kernels, sampled every 0.2 s) and the
per-area times. Targets: under 5 minutes and 6 GB.

Memory is given two ways: the sum of the processes' resident sets (RSS), and of their proportional
sets (PSS: a page shared by n processes counts 1/n in each). The kernels are forked from a kernel
server that has imported the report's modules, so they share those pages: the RSS sum counts them
once per process, the PSS sum once, which is what the machine holds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil


def tree_rss() -> tuple[int, int, dict[str, int]]:
    """Resident memory (RSS sum, PSS sum) of this process and all its descendants, and the RSS by role: the
    batch itself, the worker processes, the kernel servers, and each kernel named by the area folder it runs in."""
    me = psutil.Process()
    total, pss, parts = 0, 0, {}
    for p in [me, *me.children(recursive=True)]:
        try:
            full = p.memory_full_info()
            cmd = " ".join(p.cmdline())
            cwd = Path(p.cwd()).name  # a kernel runs in its area's .tmp-<slug>-xxxx
            if p.pid == me.pid:
                role = "batch"
            elif "_worker_loop" in cmd:  # (papermill moves a worker into its area's folder too)
                role = "worker"
            elif cwd.startswith(".tmp-"):
                role = "kernel:" + cwd[5:].rsplit("-", 1)[0]
            elif "ipykernel" in cmd:
                role = "kernel:" + cwd
            elif "kernels import _serve" in cmd:
                role = "kernel server"
            else:
                role = "other"
        except psutil.Error:
            continue
        total += full.rss
        pss += full.pss
        parts[role] = parts.get(role, 0) + full.rss
    return total, pss, parts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/wales400k")
    ap.add_argument("--out", default="bench/out/reports")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--people", type=int, default=400_000)
    ap.add_argument("--cold", action="store_true", help="remove the output (and its area cache) first")
    ap.add_argument("--timeline", help="write the memory timeline (seconds, GB by role, once a second) to this CSV")
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

    peak = [0, 0]
    peak_parts: dict[str, int] = {}
    rows: list[tuple[float, int, dict[str, int]]] = []
    stop = threading.Event()

    def sample() -> None:
        last = -1.0
        while not stop.is_set():
            total, pss, parts = tree_rss()
            peak[1] = max(peak[1], pss)
            if total > peak[0]:
                peak[0] = total
                peak_parts.clear()
                peak_parts.update(parts)
            now = time.perf_counter() - t0
            if now - last >= 1.0:
                rows.append((now, total, pss, parts))
                last = now
            time.sleep(0.2)

    t0 = time.perf_counter()
    th = threading.Thread(target=sample, daemon=True)
    th.start()
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
    print("  steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in res.seconds.items()))
    print("  at the peak: " + ", ".join(f"{k} {v / 2**30:.2f} GB" for k, v in
                                         sorted(peak_parts.items(), key=lambda kv: -kv[1])))
    if args.timeline:
        with open(args.timeline, "w") as fh:
            fh.write("seconds,total_gb,pss_gb,parts\n")
            for now, total, pss, parts in rows:
                detail = " ".join(f"{k}={v / 2**30:.2f}" for k, v in sorted(parts.items()))
                fh.write(f"{now:.1f},{total / 2**30:.3f},{pss / 2**30:.3f},{detail}\n")
    # CPU of the whole tree (every process is reaped by its parent when it ends, so the children's usage covers
    # the workers, the kernel servers and their kernels): the work done, which a shared machine inflates less
    # than the wall time.
    import resource

    cpu = sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                resource.getrusage(resource.RUSAGE_CHILDREN)))
    print(f"  CPU of the process tree: {cpu:.0f} s; load average at the end: {os.getloadavg()[0]:.1f}")
    n_ok = sum(r.status == "ok" for r in res.results)
    print(f"annual reports {res.year}: {n_ok}/{len(res.results)} areas ok in {wall:.1f} s "
          f"(target < 300 s); peak of the process tree {peak[0] / 2**30:.2f} GB RSS, {peak[1] / 2**30:.2f} GB PSS "
          "(target < 6 GB)")
    return res.exit_code


if __name__ == "__main__":
    sys.exit(main())
