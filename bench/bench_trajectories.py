"""Benchmark of the trajectory (linear mixed) model: fast engine vs statsmodels MixedLM.

Prints, in one run:
1. the fast engine's and statsmodels' times on the same 160,000 readings (20,000 episodes), their
   ratio and the largest differences between their answers;
2. the national-scale time: 1,000,000 readings from 125,000 episodes, ``score ~ time + (time | episode)``,
   and the extra time the variance components' standard errors and CIs take on first access
   (``variance_components()``: the observed information, computed lazily, not by the fit);
3. if a national simulated study is cached (``--study``, default /tmp/wales400k), the time for its
   largest outcome area.

Run with (heavy runs one at a time on the shared machine):
    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_trajectories.py
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import longitudinal as lg


def simulate_lmm(episodes: int, readings: int, seed: int) -> pd.DataFrame:
    """Gaussian LMM data shaped like the study: irregular review times, 1..15 readings per episode."""
    rng = np.random.default_rng(seed)
    w = rng.random(episodes) + 0.05
    n = 1 + rng.multinomial(readings - episodes, w / w.sum())
    g = np.repeat(np.arange(episodes), n)
    first = np.r_[0, np.cumsum(n)[:-1]]
    gaps = rng.uniform(0.25, 0.5, g.size)
    gaps[first] = 0.0
    t = np.cumsum(gaps)
    t -= np.repeat(t[first], n)
    b = rng.multivariate_normal([0, 0], [[0.6, -0.07], [-0.07, 0.09]], episodes)
    y = 2.4 + 0.45 * t + b[g, 0] + b[g, 1] * t + rng.normal(0, 0.45, g.size)
    ids = pd.Categorical.from_codes(g, [f"E{i:07d}" for i in range(episodes)])
    return pd.DataFrame({"episode_id": ids, "time": t, "score": y})


def timed(fn, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def vc_seconds(fit_fn, repeat: int) -> float:
    """Best time of the first ``variance_components()`` call on a fresh fit (the fit not counted)."""
    best = np.inf
    for _ in range(repeat):
        fit = fit_fn()
        t0 = time.perf_counter()
        fit.variance_components()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", default="/tmp/wales400k")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    kw = dict(score_range=None, warn=False)

    print("== 160,000 readings / 20,000 episodes: fast engine vs statsmodels MixedLM (REML) ==")
    small = simulate_lmm(20_000, 160_000, seed=1)
    tf, ff = timed(lambda: lg.fit_trajectories(small, **kw), args.repeat)
    ts, fs = timed(lambda: lg.fit_trajectories(small, engine="statsmodels", **kw))
    fe = ff.fixed_effects["estimate"]
    fe_rel = float(((fe - fs.fixed_effects["estimate"]).abs() / fe.abs()).max())
    vc = float((ff.cov_re - fs.cov_re).abs().to_numpy().max())
    print(f"fast        {tf:8.3f} s   loglik {ff.loglik:.4f}  converged {ff.converged}")
    print(f"statsmodels {ts:8.3f} s   loglik {fs.loglik:.4f}  converged {fs.converged}")
    print(f"speed-up    {ts / tf:8.1f} x")
    print(f"max rel. diff fixed effects {fe_rel:.2e}; max abs. diff cov_re {vc:.2e}; "
          f"sigma {ff.sigma:.6f} vs {fs.sigma:.6f}")

    print("\n== national scale: 1,000,000 readings / 125,000 episodes (REML, from a DataFrame) ==")
    big = simulate_lmm(125_000, 1_000_000, seed=2)
    tb, fb = timed(lambda: lg.fit_trajectories(big, **kw), args.repeat)
    print(f"fast        {tb:8.3f} s (best of {args.repeat}; model fit alone {fb.fit_seconds:.3f} s)  "
          f"converged {fb.converged}")
    print(fb.fixed_effects[["estimate", "std_error"]].to_string())
    print(fb.cov_re.to_string())
    tv = vc_seconds(lambda: lg.fit_trajectories(big, **kw), args.repeat)
    print(f"variance components (first access) {tv:.3f} s = {tv / tb:.0%} of the REML fit")
    print(fb.variance_components().to_string())
    tm, _ = timed(lambda: lg.fit_trajectories(big, reml=False, **kw), args.repeat)
    print(f"fast, ML    {tm:8.3f} s")
    tvm = vc_seconds(lambda: lg.fit_trajectories(big, reml=False, **kw), args.repeat)
    print(f"variance components (first access) {tvm:.3f} s = {tvm / tm:.0%} of the ML fit")

    path = Path(args.study)
    if path.is_dir():
        print(f"\n== simulated national study {path}: largest outcome area ==")
        study = lg.load(path)
        counts = study.readings.dropna(subset=["score"])["outcome"].value_counts()
        code = str(counts.index[0])
        long = study.long(code, include_follow_up=False)
        n_ep = long["episode_id"].nunique()
        tl, fl = timed(lambda: lg.fit_trajectories(long, warn=False), args.repeat)
        print(f"{code}: {len(long):,} readings / {n_ep:,} episodes: {tl:.3f} s  converged {fl.converged}")
        tv = vc_seconds(lambda: lg.fit_trajectories(long, warn=False), args.repeat)
        print(f"  variance components (first access) {tv:.3f} s = {tv / tl:.0%} of the fit")
        tc, fc = timed(lambda: lg.fit_trajectories(long, formula="~ time * service_type + lead_need",
                                                   warn=False), 1)
        print(f"  with covariates (time * service_type + lead_need): {tc:.3f} s")
        t0 = time.perf_counter()
        fc.variance_components()
        tcv = time.perf_counter() - t0
        print(f"  variance components (first access) {tcv:.3f} s = {tcv / tc:.0%} of the fit")


if __name__ == "__main__":
    main()
