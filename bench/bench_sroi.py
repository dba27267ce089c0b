"""Benchmark: SROI Monte Carlo (100,000 draws in under 1 s) and a national-scale data-driven map.

Run (heavy runs one at a time):

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_sroi.py [--national /tmp/wales400k]

Prints the figures recorded in docs/benchmarks.md under "Social return".
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from longitudinal import sroi


def timed(fn, repeat: int = 5) -> tuple[float, float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), out


def big_map(outcomes: int = 12, duration: int = 10) -> dict:
    rows = [{"name": f"Outcome {k}", "stakeholder": f"Stakeholder {k % 3}", "quantity": 50 + k,
             "proxy_value": 5000 + 500 * k, "price_year": 2020, "duration_years": duration, "deadweight": 0.2,
             "displacement": 0.1, "attribution": 0.25, "drop_off": 0.2} for k in range(outcomes)]
    return {"name": "bench", "price_year": 2025, "inputs": [{"name": "g", "value": 1e6}], "outcomes": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=100_000)
    ap.add_argument("--national", type=Path, default=None, help="a national-scale study folder (optional)")
    args = ap.parse_args()
    n = args.draws

    r = sroi.evaluate(sroi.DEFAULT_MAP)
    best, med, mc = timed(lambda: r.monte_carlo(draws=n, seed=1))
    print(f"example map (4 outcomes, up to 3 years): monte_carlo({n:,}) best {best:.3f} s, median {med:.3f} s; "
          f"{mc.summary()}")
    a = r.monte_carlo(draws=n, seed=1).ratios
    b = r.monte_carlo(draws=n, seed=1).ratios
    print(f"  reproducible with the same seed: {a.tobytes() == b.tobytes()}")

    rb = sroi.evaluate(big_map())
    best, med, mc = timed(lambda: rb.monte_carlo(draws=n, seed=1))
    print(f"12 outcomes x 10 years: monte_carlo({n:,}) best {best:.3f} s, median {med:.3f} s; "
          f"median ratio {mc.median:.3f}")
    best, med, _ = timed(lambda: sroi.evaluate(sroi.DEFAULT_MAP))
    print(f"evaluate(example.yaml) best {best * 1000:.1f} ms")
    best, med, _ = timed(lambda: (r.one_way(), r.switching_values()))
    print(f"one_way + switching_values (example) best {best * 1000:.1f} ms")

    if args.national is not None:
        import longitudinal as lg

        t = time.perf_counter()
        study = lg.load(args.national)
        t_load = time.perf_counter() - t
        path = sroi.DEFAULT_MAP.with_name("example_study.yaml")
        t = time.perf_counter()
        rn = sroi.evaluate(path, study)
        t_eval = time.perf_counter() - t
        print(f"national {study!r}: load {t_load:.1f} s; evaluate example_study.yaml over "
              f"{len(rn.cohorts)} cohorts {t_eval:.1f} s; ratio {rn.sroi_ratio:.3f}")
        best, med, mc = timed(lambda: rn.monte_carlo(draws=n, seed=1), repeat=3)
        print(f"  monte_carlo({n:,}) over {len(rn.cohorts)} cohorts x 3 outcomes: best {best:.3f} s; {mc.summary()}")


if __name__ == "__main__":
    main()
