"""Benchmark: the disclosure audit of a year's published output (all 23 areas) at national scale.

Usage (after a national batch, e.g. ``bench/bench_reports.py --out /tmp/i11b-nat``)::

    .venv/bin/python bench/bench_audit.py /tmp/i11b-nat/2025 [--exhaustive] [--json out.json]

``--exhaustive``: every value's range by its own programmes (the reference the budgeted audit's verdicts
must equal); ``--json``: write the findings, to compare two runs.

Prints the audit's wall time, the peak resident memory, the size of the problem
(unknowns, relations, values audited, linear programmes) and what it found.
The batch runs the same audit after its areas, so this time is part of the
batch's 5-minute budget.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="a year's output, <out>/<year>")
    ap.add_argument("--exhaustive", action="store_true", help="every value's range by its own programmes")
    ap.add_argument("--json", help="write the audit's result (findings included) here")
    args = ap.parse_args(argv)

    from longitudinal.report.audit import audit_year

    t0 = time.perf_counter()
    c0 = time.process_time()
    res = audit_year(args.folder, exhaustive=args.exhaustive)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(res.summary(limit=10))
    print(f"audit of {len(res.areas)} areas: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {peak:.2f} GB, "
          f"{res.tables} tables, {res.unknowns} unknowns, {res.relations} relations, {res.targets} values audited, "
          f"{res.solves} linear programmes; settled by {res.work}; load average {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(res.to_dict(), indent=1, default=str) + "\n")
    return res.exit_code


if __name__ == "__main__":
    sys.exit(main())
