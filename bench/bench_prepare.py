"""Benchmark: the batch's two steps before any area starts -- the data step (read the study once, write each
area's slice) and the protection step (every area's count tables, rounded together) -- and the per-area cost of
the count tables.

Usage (heavy at national size: run under the shared lock)::

    flock -s /tmp/longitudinal-heavy.lock env PYTHONPATH=src .venv/bin/python bench/bench_prepare.py \
        steps --data /tmp/i14-400k --out /tmp/prep-cache
    flock -s /tmp/longitudinal-heavy.lock env PYTHONPATH=src .venv/bin/python bench/bench_prepare.py \
        tables --people 300

``steps`` runs them as :func:`~longitudinal.report.batch.run_annual` does, into a fresh cache folder, and prints
their wall times, the CPU time of the whole process tree and the peak of its summed resident memory (sampled
every 0.2 s). ``tables`` simulates a study and prints the CPU time of each count table over its 23 areas, after
one area for the imports.
"""

from __future__ import annotations

import argparse
import collections
import resource
import shutil
import threading
import time
from pathlib import Path

import psutil


def steps(data: str, out: Path) -> None:
    from longitudinal.domain import all_areas
    from longitudinal.report import batch

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    peak, done = [0], threading.Event()
    me = psutil.Process()

    def sample() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in [me, *me.children(recursive=True)]))
            except psutil.Error:
                pass
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    start = time.perf_counter()
    digest, code = batch.data_hash(data), batch.code_hash()
    cache, _ = batch.in_children([("prepare_cache", {"data": data, "cache_root": str(out), "areas": all_areas(),
                                                      "digest": digest, "protect": code})])[0]
    cached = time.perf_counter()
    batch.prepare_protection(data, cache, _meta_year(cache), code=code, workers=2)
    protected = time.perf_counter()
    done.set()
    ru = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(r.ru_utime + r.ru_stime for r in ru)
    print(f"data step {cached - start:.1f} s, protection step {protected - cached:.1f} s, together "
          f"{protected - start:.1f} s wall; CPU of the process tree {cpu:.1f} s; peak RSS of the tree "
          f"{peak[0] / 2**30:.2f} GiB")


def _meta_year(cache: Path) -> int:
    import json

    return int(json.loads((cache / "meta.json").read_text())["last_complete_year"])


def tables(people: int) -> None:
    import longitudinal as lg
    from longitudinal.domain import WALES
    from longitudinal.report import counts as ct
    from longitudinal.report.area import last_complete_year, split_by_authority
    from longitudinal.report.joint import year_areas

    study = lg.simulate(people=people, seed=1)
    areas = year_areas([(WALES, study), *split_by_authority(study).items()], last_complete_year(study))
    ct.year_count_tables(next(iter(areas.values())))  # imports and the study's long table: not per area
    spent: collections.Counter = collections.Counter()

    def timed(name, f, *args):
        t = time.process_time()
        res = f(*args)
        spent[name] += time.process_time() - t
        return res

    start = time.process_time()
    for a in areas.values():
        for name in ("headline", "by_lead_need", "trend", "age_sex"):
            timed(name, getattr(ct, name), a)
        _, by_outcome = timed("completeness", ct.completeness, a)
        timed("distance_counts", ct.distance_counts, a, by_outcome)
        for name in ("transitions_counts", "lasting_impact_counts", "independence_counts", "sroi_quantity_counts"):
            timed(name, getattr(ct, name), a)
    total = time.process_time() - start
    print(f"{people} people, {len(areas)} areas: {total:.2f} CPU s, {total / len(areas):.3f} s per area")
    for name, s in spent.most_common():
        print(f"  {name:24s} {s:6.2f} s  {s / len(areas):.3f} s per area")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("steps")
    s.add_argument("--data", default="/tmp/i14-400k")
    s.add_argument("--out", type=Path, default=Path("/tmp/prep-cache"))
    t = sub.add_parser("tables")
    t.add_argument("--people", type=int, default=300)
    args = ap.parse_args()
    if args.what == "steps":
        steps(args.data, args.out)
    else:
        tables(args.people)
