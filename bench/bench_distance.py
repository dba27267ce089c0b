"""Benchmark: distance travelled for all 11 areas on the national-scale synthetic study.

Usage (from the repository root; heavy, so run it under the shared lock)::

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_distance.py /tmp/wales400k

The study folder is made once with
``longitudinal simulate --people 400000 --seed 1 --out /tmp/wales400k --format parquet``
(or pass ``--simulate`` to build it in memory). Prints wall-clock seconds of the best of
``--repeat`` runs of each step.
"""

from __future__ import annotations

import argparse
import time
import warnings

import longitudinal as lg


def best(f, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", default="/tmp/wales400k")
    ap.add_argument("--simulate", action="store_true", help="simulate 400,000 people (seed 1) instead of loading")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", action="store_true",
                    help="also time fit_trajectory_groups and fit_ordinal on one area (managing_money), once")
    a = ap.parse_args()
    warnings.simplefilter("ignore", lg.SingleReadingWarning)
    t = time.perf_counter()
    study = lg.simulate(people=400_000, seed=1) if a.simulate else lg.load(a.path)
    print(f"load: {time.perf_counter() - t:.2f} s  {study!r}")
    t_long, long = best(lambda: study.long(include_follow_up=False), a.repeat)
    print(f"Study.long(include_follow_up=False): {t_long:.2f} s ({len(long):,} scored readings)")
    steps = {
        "distance_travelled(study) [all 11 areas, incl. Study.long]": lambda: lg.distance_travelled(study),
        "distance_travelled(long) [all 11 areas, from the long table]": lambda: lg.distance_travelled(long),
        "distance_travelled(study, by=['local_authority', 'lead_need'])":
            lambda: lg.distance_travelled(study, by=["local_authority", "lead_need"]),
        "distance_travelled(study, compare='end')": lambda: lg.distance_travelled(study, compare="end"),
        "stage_distribution(study)": lambda: lg.stage_distribution(study),
        "transition_matrix(study)": lambda: lg.transition_matrix(study),
        "reading_completeness(study, by='local_authority')":
            lambda: lg.reading_completeness(study, by="local_authority"),
    }
    for name, f in steps.items():
        s, out = best(f, a.repeat)
        print(f"{name}: {s:.2f} s ({len(out):,} rows)")
    if a.models:
        area = "managing_money"
        one = study.long(area, include_follow_up=False)
        print(f"{area}: {len(one):,} readings, {one['episode_id'].nunique():,} episodes")
        s, fit = best(lambda: lg.fit_trajectory_groups(one, k=range(1, 6), degree=1, seed=1, n_starts=10), 1)
        print(f"fit_trajectory_groups(k=1..5, linear, 10 starts each): {s:.2f} s -> k={fit.k_}, "
              f"entropy {fit.entropy_:.3f}")
        s, fit = best(lambda: lg.fit_trajectory_groups(one, k=range(1, 6), degree=2, seed=1, n_starts=10), 1)
        print(f"fit_trajectory_groups(k=1..5, quadratic, 10 starts each): {s:.2f} s -> k={fit.k_}")
        s, fit = best(lambda: lg.fit_ordinal(one, formula="score ~ time * service_type"), 1)
        print(f"fit_ordinal('score ~ time * service_type', cluster-robust + PO check): {s:.2f} s")


if __name__ == "__main__":
    main()
