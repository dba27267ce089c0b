"""Benchmark: the disclosure audit of a year's published output (all 23 areas) at national scale.

Usage (after a national batch, e.g. ``bench/bench_reports.py --out /tmp/i11b-nat``)::

    .venv/bin/python bench/bench_audit.py /tmp/i11b-nat/2025

Prints the audit's wall time, the peak resident memory, the size of the problem
(unknowns, relations, values audited, linear programmes) and what it found.
The batch runs the same audit after its areas, so this time is part of the
batch's 5-minute budget.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="a year's output, <out>/<year>")
    args = ap.parse_args(argv)

    from longitudinal.report.audit import audit_year

    t0 = time.perf_counter()
    res = audit_year(args.folder)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(res.summary(limit=10))
    print(f"audit of {len(res.areas)} areas: {wall:.1f} s wall, peak RSS {peak:.2f} GB, {res.tables} tables, "
          f"{res.unknowns} unknowns, {res.relations} relations, {res.targets} values audited, "
          f"{res.solves} linear programmes")
    return res.exit_code


if __name__ == "__main__":
    sys.exit(main())
