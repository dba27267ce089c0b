"""National-scale benchmark of the foundation: simulate, write CSV, ingest from CSV.

Run (heavy; one heavy job at a time on the shared machine)::

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_foundation.py --people 400000 --seed 1

Each stage runs in its own child process so that its peak RSS is its own
(``resource.getrusage(RUSAGE_CHILDREN)`` after the child exits).
Targets (issue 2): simulate < 60 s and < 4 GB peak; ingest from CSV < 60 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _peak_gb() -> float:
    """This process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)


def _simulate(people: int, seed: int, out: str, q) -> None:
    import longitudinal as lg

    t = time.perf_counter()
    study = lg.simulate(people=people, seed=seed)
    t_sim = time.perf_counter() - t
    t = time.perf_counter()
    study.write(out, format="csv")
    q.put({"simulate_s": t_sim, "write_csv_s": time.perf_counter() - t, "people": len(study.people),
           "episodes": len(study.episodes), "readings": len(study.readings), "peak_rss_gb": _peak_gb()})


def _ingest(src: str, dest: str, q) -> None:
    import longitudinal as lg

    t = time.perf_counter()
    report = lg.ingest(src, dest, key="longitudinal-demo-key-not-secret")
    q.put({"ingest_s": time.perf_counter() - t, "rejected": report.rejected,
           "accepted": {k: v.accepted for k, v in report.tables.items()}, "stages_s": report.stage_seconds,
           "peak_rss_gb": _peak_gb()})


def _run(target, *args) -> dict:
    """Run a stage in a fresh interpreter, so that the peak memory it reports is its own."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"{target.__name__} failed with exit code {p.exitcode}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=None, help="where to write the CSV study and the store (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the files written")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_foundation_"))
    raw, store = work / "raw", work / "store"
    try:
        sim = _run(_simulate, args.people, args.seed, str(raw))
        ing = _run(_ingest, str(raw), str(store))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"simulate": sim, "ingest": ing}, indent=2))


if __name__ == "__main__":
    main()
