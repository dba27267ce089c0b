"""Benchmark: rating the Supporting People outcome map at national scale.

Usage (from the repository root; heavy, so run it under the shared lock)::

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_outcome_maps.py /tmp/wales400k

The study folder is made once with
``longitudinal simulate --people 400000 --seed 1 --out /tmp/wales400k --format parquet``.
Prints wall-clock seconds for: loading the map, rating it for Wales (every indicator computed
from the whole study), the roll-up for Wales and all 22 local authorities, and rendering the
rated Wales map (PNG figures, HTML, Markdown).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import longitudinal as lg
from longitudinal.outcome_maps import shipped_map_path


def timed(label, f):
    t = time.perf_counter()
    out = f()
    print(f"{label:<48} {time.perf_counter() - t:8.2f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", help="study folder (see the module docstring)")
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = timed("load study", lambda: lg.load(args.study))
    print(study)
    m = timed("load supporting_people.yaml", lambda: lg.OutcomeMap.from_yaml(shipped_map_path("supporting_people")))
    links = {(li.name, tuple(sorted(li.params.items()))) for c in m.columns for s in m.steps[c] for li in s.indicators}
    print(f"distinct indicator links: {len(links)}")
    rated = timed("rate for Wales", lambda: m.rate(study))
    r = timed("roll-up: Wales + 22 authorities", lambda: lg.rollup(m, study))
    print(f"areas rated: {len(r.areas)}; ratings rows: {len(r.ratings):,}")
    with tempfile.TemporaryDirectory() as d:
        timed("render rated Wales map (png, html, md)", lambda: rated.render(d))
    print(r.summary().to_string())


if __name__ == "__main__":
    main()
