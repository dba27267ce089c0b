"""Benchmark: time to independence and lasting impact on the national-scale synthetic study.

Run (heavy; one at a time):
    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_survival.py /tmp/wales400k

Before/after in one run (absolute times drift on a shared machine; ratios measured together do not):
give an earlier ``survival.py`` as the baseline, for example the one before the batched bootstrap,
    git show 9c84606:src/longitudinal/survival.py > /tmp/survival_before.py
    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_survival.py /tmp/wales400k \
        --baseline /tmp/survival_before.py
Each call is then timed with the baseline and with the package alternately (``--repeat`` rounds, best
kept), and the two results are compared for being identical.
Since commit 418c925 survival is the package ``longitudinal/survival/``: ``--baseline`` takes a one-file
survival.py from before it; to compare two later versions, run this script from a worktree of each.

The study is made with
    flock /tmp/longitudinal-heavy.lock .venv/bin/longitudinal simulate --people 400000 --seed 1 \
        --out /tmp/wales400k --format parquet
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time

import pandas as pd

import longitudinal as lg
import longitudinal.survival as current


def _load_baseline(path: str):
    """An earlier survival.py as a module of the package (its relative imports resolve against it)."""
    spec = importlib.util.spec_from_file_location("longitudinal._survival_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _frames(r) -> dict[str, pd.DataFrame]:
    if hasattr(r, "rereferral"):
        return {"curves": r.curves, "by_year": r.by_year(), "rereferral": r.rereferral}
    return {"curves": r.curves, "median": r.median, "survival_at": r.survival_at, "hazard_ratios": r.hazard_ratios}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="/tmp/wales400k")
    ap.add_argument("--baseline", help="an earlier survival.py to time beside the current one")
    ap.add_argument("--repeat", type=int, default=1, help="rounds per call (best time kept)")
    ap.add_argument("--only", nargs="*", default=["tti", "tti_all", "sustained"],
                    choices=["tti", "tti_all", "sustained", "report_sustained", "report_tti"],
                    help="report_*: the calls of the annual report's sections (lasting_impact: by outcome, "
                         "n_boot=50; time_to_independence: one outcome, no Cox, n_boot=100)")
    ap.add_argument("--authority", help="only this local authority's episodes (Study.subset), as a report of one area")
    ap.add_argument("--n-boot", type=int, help="bootstrap replicates instead of 100 / 50 (0: the cost without the "
                                                "bootstrap, to price it)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    study = lg.load(args.path)
    if args.authority:
        study = study.subset(local_authority=args.authority)
    print(f"load: {time.perf_counter() - t0:.1f} s  {study!r}", flush=True)

    nb = {"tti": 100, "tti_all": 50, "sustained": 100, "report_sustained": 50, "report_tti": 100}
    if args.n_boot is not None:
        nb = dict.fromkeys(nb, args.n_boot)
    calls = {
        "tti": (f"time_to_independence(managing_money, n_boot={nb['tti']}, Cox on 4 covariates)",
                lambda m: m.time_to_independence(study, "managing_money", n_boot=nb["tti"], seed=1)),
        "tti_all": (f"time_to_independence(all 11 areas, n_boot={nb['tti_all']}, stratified Cox)",
                    lambda m: m.time_to_independence(study, "all", n_boot=nb["tti_all"], seed=1,
                                                     covariates=["service_type", "start_score"])),
        "sustained": (f"sustained_outcomes(all areas, by outcome x lead_need, n_boot={nb['sustained']})",
                      lambda m: m.sustained_outcomes(study, n_boot=nb["sustained"], seed=1)),
        "report_sustained": (f"sustained_outcomes(by outcome, n_boot={nb['report_sustained']}) as in the report",
                             lambda m: m.sustained_outcomes(study, by="outcome", n_boot=nb["report_sustained"],
                                                            seed=1)),
        "report_tti": (f"time_to_independence(managing_money, no Cox, n_boot={nb['report_tti']}) as in the report",
                       lambda m: m.time_to_independence(study, "managing_money", covariates=None,
                                                        n_boot=nb["report_tti"], seed=1)),
    }
    mods = [("current", current)] + ([("baseline", _load_baseline(args.baseline))] if args.baseline else [])
    for key in args.only:
        label, call = calls[key]
        best, results = {}, {}
        for _ in range(args.repeat):
            for name, mod in reversed(mods):  # baseline first in each round
                t0 = time.perf_counter()
                results[name] = call(mod)
                dt = time.perf_counter() - t0
                best[name] = min(best.get(name, dt), dt)
                print(f"  {key} [{name}]: {dt:.1f} s", flush=True)
        r = results["current"]
        line = f"{label}: {best['current']:.1f} s"
        if "baseline" in best:
            same = all(a.equals(b) for a, b in zip(_frames(r).values(), _frames(results["baseline"]).values()))
            line += (f"  (baseline {best['baseline']:.1f} s, {best['baseline'] / best['current']:.2f}x; "
                     f"results identical: {same})")
        print(line, flush=True)
        if key.startswith("report"):
            continue
        if key == "tti":
            print(f"  episode-areas={len(r.data):,} events={int(r.data['event'].sum()):,}")
            print(r.survival_at.to_string(index=False))
        elif key == "tti_all":
            print(f"  episode-areas={len(r.data):,}")
        else:
            print(f"  areas followed={len(r.data):,} planned ends={len(r.rereferral_data):,}")
            print(r.by_year().groupby("year")[["survival"]].describe().to_string())


if __name__ == "__main__":
    main()
