"""Benchmark of power by simulation (issue 15) against its targets and simr's published times.

Prints, in one run:
1. 1,000 simulations of a 2,000-person, 5-wave random-slope design (difference in rate of change
   between two groups), each refitted by the fast engine, on ``--workers`` processes: wall and
   CPU seconds (target: under 60 s on 2 cores), the power with its Monte Carlo SE and the closed
   form beside it;
2. a 6-point power curve over the number of people (500 to 4,000) with 1,000 simulations a point
   (target: under 5 minutes);
3. the per-fit time on one core, and (``--lme4 N``, where R and lme4 are installed) the time of
   N ``lmer`` refits of the same design on this machine: what simr's ``powerSim`` spends per
   simulation at least (simr simulates from the fit, then refits with ``lmer``).

The machine is shared: the CPU seconds of the workers are printed beside the wall time, since
the wall time also counts what other processes take.

4. (``--hr-icc N``) a hazard ratio: the simulated power of the time-to-event case against
   Schoenfeld's and Freedman's closed forms, and the power of the five-stage chain's 3->4 ratio
   without clustering and with whole authorities in a group as the authority frailty grows.

Run with:
    .venv/bin/python bench/bench_power.py --workers 2
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import time

import longitudinal as lg
from longitudinal.power import hazard_ratio_power, slope_power


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


LME4 = r"""
suppressMessages(library(lme4))
set.seed(1); n <- 2000; J <- 5; N <- as.integer(commandArgs(TRUE)[1])
d <- data.frame(id = factor(rep(1:n, each = J)), t = rep(0:(J - 1), n), g = rep(rep(0:1, length.out = n), each = J))
G <- matrix(c(0.36, -0.045, -0.045, 0.0625), 2)
tm <- system.time(for (i in 1:N) {
  b <- MASS::mvrnorm(n, c(0, 0), G)
  d$y <- 2.5 + 0.5 * d$t + 0.03 * d$g * d$t + b[d$id, 1] + b[d$id, 2] * d$t + rnorm(n * J, 0, 0.45)
  f <- lmer(y ~ t * g + (t | id), data = d)
})
cat(sprintf("lme4 %d refits: %.1f s elapsed, %.1f s CPU\n", N, tm[["elapsed"]], tm[["user.self"]] + tm[["sys.self"]]))
"""


def hazard_ratio_checks(args) -> None:
    """Hazard ratio 1.3, 2,000 people read every 6 months for 2 years, 10% lost before each reading."""
    design = lg.StudyDesign(people=2000, waves=5, interval=0.5, dropout=0.1)
    to_event = lg.TransitionScenario(hazard_ratio=1.3, transition=(1, 2), Q=((-0.3, 0.3), (0, 0)))
    t0, c0 = time.perf_counter(), cpu_seconds()
    r = lg.power(to_event, design, n_sims=args.hr_icc, seed=args.seed, workers=args.workers)
    d0, d1 = to_event.expected_events(design)
    print(f"time to event (1->2 absorbing, q 0.3/year), hazard ratio 1.3: simulated power {r.power:.3f} "
          f"(MC SE {r.mc_se:.3f}, exact 95% {r.ci_lower:.3f}-{r.ci_upper:.3f}), Schoenfeld {r.analytic_power:.3f}, "
          f"Freedman {hazard_ratio_power(1.3, events=d0 + d1, method='freedman')['power']:.3f} at "
          f"{d0 + d1:.0f} expected events; failed {r.n_failed}; {time.perf_counter() - t0:.1f} s wall, "
          f"{cpu_seconds() - c0:.1f} s CPU")
    moves = lg.TransitionScenario(hazard_ratio=1.3, transition=(3, 4))
    t0, c0 = time.perf_counter(), cpu_seconds()
    base = lg.power(moves, design, n_sims=args.hr_icc, seed=args.seed, workers=args.workers)
    print(f"stage 3->4 of the five-stage chain, no clustering, {base.test}: power {base.power:.3f} "
          f"(MC SE {base.mc_se:.3f}); {time.perf_counter() - t0:.1f} s wall, {cpu_seconds() - c0:.1f} s CPU")
    clustered = lg.StudyDesign(people=2000, waves=5, interval=0.5, dropout=0.1, authorities=22,
                               cluster_allocation=True)
    t0, c0 = time.perf_counter(), cpu_seconds()
    curve = lg.power_curve(lg.TransitionScenario(hazard_ratio=1.3, transition=(3, 4), test="cluster"), clustered,
                           over="authority_sd", values=[0.0, 0.1, 0.25, 0.5], n_sims=args.hr_icc, seed=args.seed,
                           workers=args.workers)
    print(f"the same, whole authorities in a group (22), authority frailty, {curve.results[0].test}: "
          f"{time.perf_counter() - t0:.1f} s wall, {cpu_seconds() - c0:.1f} s CPU")
    print(curve.table.assign(icc=[x.scenario.icc for x in curve.results])[
        ["value", "icc", "power", "mc_se", "ci_lower", "ci_upper", "n_failed", "n_nonconverged"]].to_string(
        index=False, float_format=lambda v: f"{v:.3f}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n-sims", type=int, default=1000)
    ap.add_argument("--effect", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--skip-curve", action="store_true")
    ap.add_argument("--hr-sims", type=int, default=0,
                    help="also time this many replicates of a hazard ratio (multi-state model, 2,000 people)")
    ap.add_argument("--hr-icc", type=int, default=0,
                    help="this many replicates a point: a hazard ratio's simulated power against Schoenfeld's "
                         "(time-to-event case) and its loss with an authority frailty (cluster-robust test)")
    ap.add_argument("--lme4", type=int, default=0, help="time this many lmer refits of the same design (needs R)")
    args = ap.parse_args()

    if args.lme4:
        if shutil.which("Rscript") is None:
            print("lme4: Rscript not found, skipped")
        else:
            r = subprocess.run(["Rscript", "-e", LME4, str(args.lme4)], capture_output=True, text=True)
            print(r.stdout.strip() or r.stderr.strip())

    sc = lg.TrajectoryScenario(effect=args.effect)
    design = lg.StudyDesign(people=2000, waves=5)

    t0, c0 = time.perf_counter(), cpu_seconds()
    lg.power(sc, design, n_sims=20, seed=args.seed, workers=1)
    per_fit = (time.perf_counter() - t0) / 20
    print(f"one core: {per_fit * 1000:.0f} ms per simulate + refit (2,000 people x 5 waves), "
          f"CPU {(cpu_seconds() - c0) / 20 * 1000:.0f} ms")

    t0, c0 = time.perf_counter(), cpu_seconds()
    res = lg.power(sc, design, n_sims=args.n_sims, seed=args.seed, workers=args.workers)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    print(f"{args.n_sims} simulations, {args.workers} workers: {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"(target < 60 s on 2 cores)")
    print(f"  power {res.power:.3f} (MC SE {res.mc_se:.3f}, exact 95% {res.ci_lower:.3f}-{res.ci_upper:.3f}); "
          f"closed form {res.analytic_power:.3f}; failed {res.n_failed}, not converged {res.n_nonconverged}, "
          f"boundary {res.n_boundary}")
    if args.hr_sims:
        hr = lg.TransitionScenario(hazard_ratio=1.3, transition=(3, 4))
        t0, c0 = time.perf_counter(), cpu_seconds()
        r = lg.power(hr, lg.StudyDesign(people=2000, waves=5, interval=0.5, dropout=0.1), n_sims=args.hr_sims,
                     seed=args.seed, workers=args.workers)
        print(f"hazard ratio 1.3 on 3->4, 2,000 people x 5 half-yearly readings, {args.hr_sims} simulations: "
              f"{time.perf_counter() - t0:.1f} s wall, {cpu_seconds() - c0:.1f} s CPU; power {r.power:.3f} "
              f"(MC SE {r.mc_se:.3f}), failed {r.n_failed}, not converged {r.n_nonconverged}")
    if args.hr_icc:
        hazard_ratio_checks(args)
    if args.skip_curve:
        return
    people = [500, 1000, 1500, 2000, 3000, 4000]
    t0, c0 = time.perf_counter(), cpu_seconds()
    curve = lg.power_curve(sc, design, over="people", values=people, n_sims=args.n_sims, seed=args.seed,
                           workers=args.workers)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    print(f"6-point power curve over people ({args.n_sims} simulations a point): {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU (target < 300 s)")
    print(curve.table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    n_per_group = slope_power(delta=args.effect, times=design.reading_times, cov_re=sc.cov_re,
                              residual_var=sc.residual_sd**2, power=0.8)["n"]
    print(f"closed form: {2 * n_per_group:.0f} people for 80% power")


if __name__ == "__main__":
    main()
