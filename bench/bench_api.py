"""Benchmark: the interactive API at national scale (issue 16) - load, Study.long, one-line tables.

Usage (from the repository root; heavy, so run it under the shared lock)::

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_api.py /tmp/wales400k

The study folder is made once with
``longitudinal simulate --people 400000 --seed 1 --out /tmp/wales400k --format parquet`` (or is a
store written by ``longitudinal ingest``). Prints wall-clock and CPU seconds: ``lg.load`` (best of
``--repeat``), the first use of the deferred ``service_use`` table, the first ``Study.long()`` (built
once per study), then each table's first call and its best later call (the targets: load < 2 s, each
table < 1 s after the first call). Also prints the CPU share the process got and the load average,
since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import longitudinal as lg


def timed(f):
    """Wall-clock seconds of ``f()`` and its result; the CPU seconds of the last call go to CPU[0]."""
    t, c = time.perf_counter(), time.process_time()
    out = f()
    CPU[0] = time.process_time() - c
    return time.perf_counter() - t, out


CPU = [0.0]  # CPU seconds (all threads) of the last timed call: the fair figure on a shared machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", default="/tmp/wales400k")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    warnings.simplefilter("ignore", lg.SingleReadingWarning)
    wall0, cpu0 = time.perf_counter(), sum(os.times()[:2])
    print("load average (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    loads = []
    for _ in range(a.repeat):
        loads.append((*timed(lambda: lg.load(a.path)), CPU[0]))
    study = loads[-1][1]
    print(f"lg.load: best {min(t for t, _, _ in loads):.2f} s of {a.repeat} "
          f"(wall s: {', '.join(f'{t:.2f}' for t, _, _ in loads)}; "
          f"CPU s: {', '.join(f'{c:.2f}' for _, _, c in loads)}) "
          f"({len(study.people):,} people, {len(study.readings):,} readings)", flush=True)
    t, use = timed(lambda: study.service_use)
    if use is not None:
        print(f"study.service_use first use (parsed then): {t:.2f} s ({CPU[0]:.2f} CPU s), {len(use):,} rows",
              flush=True)
    t, long = timed(study.long)
    print(f"Study.long() first call (built once): {t:.2f} s ({CPU[0]:.2f} CPU s), {len(long):,} rows", flush=True)
    t, _ = timed(study.long)
    print(f"Study.long() again: {t:.3f} s", flush=True)
    tables = {
        "distance_travelled": lambda: lg.distance_travelled(study),
        "stage_distribution": lambda: lg.stage_distribution(study),
        "transition_matrix": lambda: lg.transition_matrix(study),
        "reading_completeness": lambda: lg.reading_completeness(study),
        "distance_travelled(by=local_authority)": lambda: lg.distance_travelled(study, by="local_authority"),
    }
    for name, f in tables.items():
        first, _ = timed(f)
        first_cpu = CPU[0]
        later = min(timed(f)[0] for _ in range(a.repeat))
        print(f"{name}: first {first:.2f} s ({first_cpu:.2f} CPU s), then {later:.2f} s ({CPU[0]:.2f} CPU s)",
              flush=True)
    wall, cpu = time.perf_counter() - wall0, sum(os.times()[:2]) - cpu0
    print(f"CPU share over the run: {cpu / wall:.0%} of one core (wall {wall:.0f} s); load average "
          "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
