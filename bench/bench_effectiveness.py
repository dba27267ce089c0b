"""Benchmark: effectiveness at national scale, and the coverage study of the staggered DiD.

Two parts:

``national`` (heavy; one at a time)
    The national study with linked service use (400,000 people supported, the never-supported
    pool, about 10 million events over 9 years), then for one service: the panel, the event study
    and the staggered DiD with its benchmarks. Target: under 60 s and 6 GB.
        flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_effectiveness.py national \
            --path /tmp/i13-400k
    (``--path`` a simulated study folder; it is written there first if it does not exist.)

``simulate`` (heavy)
    ``lg.simulate(people=400_000, seed=1)`` with and without service use, wall clock and CPU seconds.
        flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_effectiveness.py simulate

``coverage``
    ``--reps`` replications of a small simulated study (``--people`` each, new seed each): the share
    of 95% confidence intervals of the headline effect (months 1-12) that cover the simulator's
    truth, aggregated as the estimator aggregates, and the same for the naive before/after and
    two-way fixed-effects benchmarks. Target: at least 90% for the staggered DiD.
        .venv/bin/python bench/bench_effectiveness.py coverage --reps 200 --people 3000
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

import longitudinal as lg
from longitudinal import effectiveness as ef
from longitudinal.simulate import true_att


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def national(path: str, service: str, people: int) -> None:
    folder = Path(path)
    if not (folder / "truth.json").exists():
        t0, c0 = time.perf_counter(), time.process_time()
        study = lg.simulate(people=people, seed=1)
        print(f"simulate(people={people:,}, seed=1): {time.perf_counter() - t0:.1f} s "
              f"({time.process_time() - c0:.1f} s CPU); {study!r}; peak {_peak_gb():.2f} GB", flush=True)
        study.write(folder, format="parquet")
        del study
    t0, c0 = time.perf_counter(), time.process_time()
    study = lg.load(folder)
    print(f"load: {time.perf_counter() - t0:.1f} s ({time.process_time() - c0:.1f} s CPU); {study!r}; "
          f"events {int(study.service_use['count'].sum()):,}", flush=True)
    # wall clock and CPU time: on a shared machine the CPU seconds say what a quiet one would take
    w0, c0 = time.perf_counter(), time.process_time()
    panel = ef.service_panel(study, service)
    w1, c1 = time.perf_counter(), time.process_time()
    es = ef.event_study(study, service, panel=panel)
    w2, c2 = time.perf_counter(), time.process_time()
    fit = ef.staggered_did(study, service, panel=panel, seed=1)
    w3, c3 = time.perf_counter(), time.process_time()
    truth = true_att(study.truth, service, fit.group_time)["att"]
    print(f"{service}: panel {w1 - w0:.1f} s ({c1 - c0:.1f} s CPU), event study {w2 - w1:.1f} s ({c2 - c1:.1f} s CPU), "
          f"staggered DiD + benchmarks {w3 - w2:.1f} s ({c3 - c2:.1f} s CPU); total {w3 - w0:.1f} s wall, "
          f"{c3 - c0:.1f} s CPU (after load); peak RSS {_peak_gb():.2f} GB")
    print(repr(fit))
    print(f"truth (months 1-12, the estimator's cohort weights): {truth:+.6f}")
    print(fit.benchmarks[["estimate", "std_error"]].to_string())
    print(es.rates.query("event_month in (-24, -6, -1, 1, 12, 24)")[["event_month", "rate", "n"]].to_string())


def simulate_cost(people: int) -> None:
    """The simulator's cost with and without linked service use (the default must stay fast)."""
    for use in (False, True):
        t0, c0 = time.perf_counter(), time.process_time()
        study = lg.simulate(people=people, seed=1, service_use=use)
        print(f"simulate(people={people:,}, seed=1, service_use={use}): {time.perf_counter() - t0:.1f} s wall, "
              f"{time.process_time() - c0:.1f} s CPU; {study!r}; peak RSS so far {_peak_gb():.2f} GB", flush=True)
        del study


def coverage(reps: int, people: int, service: str, seed0: int) -> None:
    hits = {"did": 0, "before_after": 0, "twfe": 0}
    errors, widths = [], []
    t0 = time.perf_counter()
    for r in range(reps):
        study = lg.simulate(people=people, seed=seed0 + r)
        fit = ef.staggered_did(study, service, n_boot=99, seed=r)
        truth = true_att(study.truth, service, fit.group_time)["att"]
        row = fit.overall.loc["att"]
        hits["did"] += bool(row["ci_lower"] <= truth <= row["ci_upper"])
        for name in ("before_after", "twfe"):
            b = fit.benchmarks.loc[name]
            hits[name] += bool(b["ci_lower"] <= truth <= b["ci_upper"])
        errors.append(row["estimate"] - truth)
        widths.append(row["ci_upper"] - row["ci_lower"])
    secs = time.perf_counter() - t0
    e = np.array(errors)
    print(f"{reps} replications of {people:,} people, {service}, seeds {seed0}..{seed0 + reps - 1}: {secs:.0f} s")
    for k, v in hits.items():
        print(f"  95% CI covers the truth: {k:13s} {v}/{reps} = {v / reps:.1%}")
    print(f"  staggered DiD: mean error {e.mean():+.6f} (Monte Carlo SE {e.std(ddof=1) / np.sqrt(reps):.6f}), "
          f"SD of estimates {e.std(ddof=1):.6f}, mean CI width / (2 x 1.96) {np.mean(widths) / 3.92:.6f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["national", "coverage", "simulate"])
    ap.add_argument("--path", default="/tmp/i13-400k")
    ap.add_argument("--service", default="emergency_admission")
    ap.add_argument("--people", type=int, default=None)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1000)
    args = ap.parse_args(argv)
    if args.part == "national":
        national(args.path, args.service, args.people or 400_000)
    elif args.part == "simulate":
        simulate_cost(args.people or 400_000)
    else:
        coverage(args.reps, args.people or 3000, args.service, args.seed)


if __name__ == "__main__":
    main()
