"""Benchmark: the annual report's lasting-impact section (issue 14 item 6) at national scale.

Times, for Wales (the whole study) and, with ``--authority``, one authority's slice: the section's counts as the
year's protection builds them (:func:`longitudinal.report.counts.lasting_impact_counts`, no model fitted), then
:func:`longitudinal.report.sections.survival.follow_up_losses` (the complete cases, the response weights and the
report's imputations with the delta grid), then the whole section (:func:`~longitudinal.report.sections.survival.
lasting_impact`: the sustained-outcome curves with their bootstrap, re-referral and the follow-up losses); and,
with ``--workers``, the imputations on several processes (the interactive API's ``workers=``; the batch runs areas
in parallel instead). Peak memory is the process's (``ru_maxrss``), so the first step that raises it shows.

Run (heavy; one at a time):
    flock /tmp/longitudinal-heavy.lock env PYTHONPATH=src .venv/bin/python bench/bench_attrition_section.py \
        /tmp/i14-400k --authority Cardiff
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import longitudinal as lg
from longitudinal import domain
from longitudinal.report import counts as ct
from longitudinal.report.area import AreaYear, last_complete_year
from longitudinal.report.joint import YearProtection
from longitudinal.report.publish import Publisher
from longitudinal.report.sections import survival as sec


def _known_by(study: lg.Study, year: int) -> lg.Study:
    end = domain.fy_bounds(year)[1]
    return lg.Study(study.people, study.episodes[study.episodes["start_date"] <= end],
                    study.readings[study.readings["reading_date"] <= end], study.spend)


def _timed(label: str, fn):
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU ({cpu / wall:.0%} of a core); peak so far {rss:.2f} GB",
          flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="study folder (Parquet)")
    ap.add_argument("--authority", default=None, help="also time one authority's section")
    ap.add_argument("--workers", type=int, default=0, help="also time the imputations on this many processes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    study = _timed("load", lambda: lg.load(args.data))
    year = last_complete_year(study)
    areas = [("Wales", study)] + ([(args.authority, study.subset(local_authority=args.authority))]
                                  if args.authority else [])
    for name, part in areas:
        a = AreaYear(part, year, name, seed=args.seed)
        upto = _known_by(part, year)
        tables = _timed(f"lasting-impact counts, {name}", lambda a=a, upto=upto: ct.lasting_impact_counts(a, upto))
        prot = YearProtection.from_tables({a.area: tables}, year)
        out = _timed(f"follow_up_losses, {name} {domain.fy_label(year)} (m = {sec.REPORT_IMPUTATIONS})",
                     lambda a=a, upto=upto, prot=prot: sec.follow_up_losses(a, Publisher(lambda: set()), upto, prot))
        _timed(f"lasting_impact section (n_boot = 50), {name}",
               lambda a=a, prot=prot: sec.lasting_impact(a, prot, Publisher(lambda: set()), n_boot=50))
        for t in out.tables:
            print(t.name)
            print(t.data.to_string(index=False))
        for p in out.points:
            print("-", p)
        mi = out.adjusted.estimates if out.adjusted is not None else None
        if mi is not None:
            print(mi[(mi["quantity"] == "sustained") & (mi["method"] == "mi")][
                ["month", "estimate", "ci_lower", "ci_upper", "mc_se", "fmi"]].to_string(index=False))
    if args.workers > 1:
        upto = _known_by(study, year)
        end = domain.fy_bounds(year)[1]
        for w in (1, args.workers):
            _timed(f"follow_up_attrition(by=(), m=10), Wales, workers={w} (main process CPU only)",
                   lambda w=w: lg.follow_up_attrition(upto, by=(), m=10, seed=args.seed, censor_date=end, workers=w))


if __name__ == "__main__":
    main()
