"""Benchmark: multi-state Markov model (``lg.fit_transitions``) at national scale.

Usage (from the repository root; heavy, so run it under the shared lock)::

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_transitions.py /tmp/wales400k

Cases, each timed end to end (validation, grouping, BFGS, Newton polish and the
observed-information Hessian):

1. 100,000 episodes with about 8 readings each, simulated from a known 5-stage
   ``Q`` (adjacent moves): the issue's target is under 30 s.
2. The same plus a binary covariate on every intensity and an exactly timed
   absorbing "left support" state (6 states, 13 intensities, 26 parameters).
3. If the national synthetic study exists at ``path`` (400,000 people, made by
   ``longitudinal simulate --people 400000 --seed 1 --out /tmp/wales400k --format parquet``):
   one outcome area of the whole of Wales, with service type as covariate.

Prints wall-clock seconds and the largest error of the fitted intensities
against the truth (cases 1-2).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

import longitudinal as lg

Q = np.array([[-0.6, 0.6, 0, 0, 0], [0.2, -0.8, 0.6, 0, 0], [0, 0.2, -0.7, 0.5, 0],
              [0, 0, 0.2, -0.6, 0.4], [0, 0, 0, 0.3, -0.3]])


def timed(label, f):
    t = time.perf_counter()
    out = f()
    dt = time.perf_counter() - t
    print(f"{label}: {dt:.2f} s", flush=True)
    return out, dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", default="/tmp/wales400k")
    ap.add_argument("--episodes", type=int, default=100_000)
    ap.add_argument("--outcome", default="managing_money")
    a = ap.parse_args()

    panel, _ = timed(f"simulate_panel {a.episodes:,} episodes",
                     lambda: lg.transitions.simulate_panel(Q, n=a.episodes, horizon=2.0,
                                                           interval_days=(60, 150), seed=1))
    print(f"  readings: {len(panel):,} ({len(panel) / a.episodes:.2f} per episode)")
    fit, _ = timed("case 1: fit 5 stages, no covariates",
                   lambda: lg.fit_transitions(panel, id="id", time="time", score="state"))
    err = np.nanmax(np.abs(fit.Q.to_numpy() - Q)[Q > 0] / Q[Q > 0])
    print(f"  converged={fit.converged} loglik={fit.loglik:.1f} max relative error vs truth {err:.3f}")

    Q6 = np.zeros((6, 6))
    Q6[:5, :5] = Q
    Q6[:5, 5] = [0.10, 0.15, 0.20, 0.25, 0.30]
    np.fill_diagonal(Q6, 0)
    np.fill_diagonal(Q6, -Q6.sum(axis=1))
    rng = np.random.default_rng(2)
    cov = pd.DataFrame({"long_term": rng.integers(0, 2, a.episodes).astype(float)})
    B = np.zeros((6, 6))
    B[:5, 5] = -0.7  # long-term support: less leaving
    B[2, 3] = 0.3
    panel2, _ = timed("simulate_panel with covariate and absorbing state",
                      lambda: lg.transitions.simulate_panel(
                          Q6, n=a.episodes, horizon=2.0, interval_days=(60, 150), covariates=cov,
                          effects={"long_term": B}, states=[1, 2, 3, 4, 5, "left"], seed=3))
    print(f"  readings: {len(panel2):,}")
    fit2, _ = timed("case 2: fit 6 states (exact absorbing) + covariate on 13 intensities",
                    lambda: lg.fit_transitions(panel2, id="id", time="time", score="state",
                                               absorbing="left", covariates=["long_term"]))
    err2 = np.nanmax(np.abs(fit2.Q.to_numpy() - Q6)[Q6 > 0] / Q6[Q6 > 0])
    print(f"  converged={fit2.converged} max relative error vs truth {err2:.3f}; "
          f"HR 3->4 {fit2.hazard_ratios.query('`from` == 3 and to == 4')['hr'].iloc[0]:.3f} "
          f"(truth {np.exp(0.3):.3f})")

    if os.path.isdir(a.path):
        study, _ = timed("load national study", lambda: lg.load(a.path))
        print(f"  {study!r}")
        fit3, _ = timed(f"case 3: fit Wales, {a.outcome}, covariate service_type",
                        lambda: lg.fit_transitions(study, a.outcome, covariates=["service_type"]))
        r = fit3.data_report_
        print(f"  episodes {r['episodes']:,}, intervals {r['intervals']:,}, converged={fit3.converged}")
    else:
        print(f"(no national study at {a.path}: case 3 skipped)")


if __name__ == "__main__":
    main()
