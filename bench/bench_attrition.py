"""Benchmark: attrition after planned ends on the national-scale synthetic study (issue 14).

The flow, the response weights and 20 imputations (with the delta grid) for all 11 outcome areas, in one
call of ``lg.follow_up_attrition``; target under 2 minutes and 6 GB on the 2-core machine.

Run (heavy; one at a time). The study must come from a simulator with follow-up non-response (issue 14);
``--follow-up-mnar 1.5`` makes it depend on the unseen follow-up score too (then the delta grid should
bracket the truth):
    flock /tmp/longitudinal-heavy.lock .venv/bin/longitudinal simulate --people 400000 --seed 1 \
        --out /tmp/i14-400k --format parquet
    flock /tmp/longitudinal-heavy.lock /usr/bin/time -v .venv/bin/python bench/bench_attrition.py /tmp/i14-400k
"""

from __future__ import annotations

import argparse
import resource
import time

import longitudinal as lg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="study folder (Parquet)")
    ap.add_argument("--m", type=int, default=20, help="imputations")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    t0 = time.perf_counter()
    study = lg.load(args.data)
    t_load = time.perf_counter() - t0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    res = lg.follow_up_attrition(study, m=args.m, seed=args.seed)
    t_all = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"load study: {t_load:.1f} s")
    print(f"attrition (flow, weights, {args.m} imputations x 11 areas, delta grid): {t_all:.1f} s wall, "
          f"{cpu:.1f} s CPU ({cpu / t_all:.0%} of a core)")
    print(f"peak memory (max RSS): {rss_gb:.2f} GB")
    print(res.flow_table().to_string(index=False))
    print(res.weights.to_string(index=False))
    print(res.side_by_side().query("outcome == 'all'").to_string(index=False))
    e = res.estimates
    mi = e[(e["method"] == "mi") & (e["quantity"] == "sustained") & (e["outcome"] == "all")]
    print("imputed share, all areas: fraction of missing information and Monte Carlo error")
    print(mi[["month", "estimate", "std_error", "fmi", "mc_se", "n_due", "n_obtained"]].to_string(index=False))
    if study.truth and "follow_up" in study.truth:
        print("truth (share sustained, all areas):",
              {k: round(v["all"], 4) for k, v in study.truth["follow_up"]["sustained"]["months"].items()})
    sens = res.sensitivity
    print("delta grid (share sustained at 12 months, all areas):")
    print(sens[(sens["month"] == 12) & (sens["outcome"] == "all")].drop(columns=["outcome", "month"])
          .to_string(index=False))
    print(res.tipping_point_text())


if __name__ == "__main__":
    main()
