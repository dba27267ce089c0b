"""Benchmark: time to independence and lasting impact on the national-scale synthetic study.

Run (heavy; one at a time):
    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_survival.py /tmp/wales400k

The study is made with
    flock /tmp/longitudinal-heavy.lock .venv/bin/longitudinal simulate --people 400000 --seed 1 \
        --out /tmp/wales400k --format parquet
"""

from __future__ import annotations

import sys
import time

import longitudinal as lg


def main(path: str = "/tmp/wales400k") -> None:
    t0 = time.perf_counter()
    study = lg.load(path)
    print(f"load: {time.perf_counter() - t0:.1f} s  {study!r}")

    t0 = time.perf_counter()
    r = lg.time_to_independence(study, "managing_money", n_boot=100, seed=1)
    print(f"time_to_independence(managing_money, n_boot=100, Cox on 4 covariates): "
          f"{time.perf_counter() - t0:.1f} s  episode-areas={len(r.data):,} events={int(r.data['event'].sum()):,}")
    print(r.survival_at.to_string(index=False))

    t0 = time.perf_counter()
    r = lg.time_to_independence(study, "all", n_boot=50, seed=1, covariates=["service_type", "start_score"])
    print(f"time_to_independence(all 11 areas, n_boot=50, stratified Cox): {time.perf_counter() - t0:.1f} s  "
          f"episode-areas={len(r.data):,}")

    t0 = time.perf_counter()
    s = lg.sustained_outcomes(study, n_boot=100, seed=1)
    print(f"sustained_outcomes(all areas, by outcome x lead_need, n_boot=100): {time.perf_counter() - t0:.1f} s  "
          f"areas followed={len(s.data):,} planned ends={len(s.rereferral_data):,}")
    print(s.by_year().groupby("year")[["survival"]].describe().to_string())


if __name__ == "__main__":
    main(*sys.argv[1:])
