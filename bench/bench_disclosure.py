"""Information lost to disclosure control: the share of cells hidden or rounded, per area and table.

Builds the count sections of every area's report (headline, lead need, trend, age x sex, completeness,
distance travelled; with ``--all``, every section) from one protection of the year and counts, per
table, the count cells published, those hidden (``<5`` / ``[c]``) and those rounded (changed from the
exact count), and the figures (shares, means) hidden. Run it on the code before and after a change of
method to compare them (the script only uses the report's public API).

    PYTHONPATH=src python bench/bench_disclosure.py --people 3000 --seed 1 --out before_or_after.csv
    PYTHONPATH=src python bench/bench_disclosure.py --data /tmp/wales400k --out national.csv
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

import longitudinal as lg
from longitudinal.report import AnnualReport, YearProtection, protect as dc
from longitudinal.report.area import last_complete_year, split_by_authority

MARKERS = {dc.PRIMARY, dc.SECONDARY}
SECTIONS = ("headline", "demographics", "completeness", "distance")
ALL = SECTIONS + ("transitions", "time_to_independence", "lasting_impact", "outcome_map", "social_return")


def measure(study, year: int, sections=SECTIONS) -> pd.DataFrame:
    t0 = time.perf_counter()
    prot = YearProtection.for_study(study, year)
    print(f"protection of the year: {time.perf_counter() - t0:.1f} s")
    slices = {"Wales": study, **split_by_authority(study)}
    changes = getattr(prot, "changes_of", None)
    rows = []
    for area, part in slices.items():
        try:
            rep = AnnualReport(part, year, area, protection=prot)
        except ValueError:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in sections:
                sec = getattr(rep, name)()
                for t in sec.tables:
                    d = t.data
                    counts = [c for c in t.count_columns if c in d.columns]
                    figures = [c for c in d.columns if c not in counts and c != t.label_column
                               and c not in t.free and d[c].map(lambda v: isinstance(v, (int, float)) or v in
                                                                MARKERS).any()]
                    n_counts = int(sum(d[c].notna().sum() for c in counts))
                    hidden = int(sum(d[c].isin(MARKERS).sum() for c in counts))
                    fig_cells = int(sum(d[c].notna().sum() for c in figures))
                    fig_hidden = int(sum(d[c].isin(MARKERS).sum() for c in figures))
                    rounded = sum(1 for c in changes(area) if c.column in counts and
                                  c.table in (t.name, {"distance_travelled": "distance",
                                                       "transitions_observed": "transitions"}.get(t.name)))\
                        if changes else 0
                    rows.append({"area": area, "table": t.name, "count_cells": n_counts, "counts_hidden": hidden,
                                 "counts_rounded": rounded, "figure_cells": fig_cells, "figures_hidden": fig_hidden})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a study folder (default: simulate one)")
    ap.add_argument("--people", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--year", default="auto")
    ap.add_argument("--all", action="store_true", help="every section, not only the count sections")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    study = lg.load(args.data) if args.data else lg.simulate(people=args.people, seed=args.seed)
    year = last_complete_year(study) if args.year == "auto" else int(args.year)
    t0 = time.perf_counter()
    res = measure(study, year, ALL if args.all else SECTIONS)
    print(f"measured in {time.perf_counter() - t0:.1f} s")
    if args.out:
        res.to_csv(args.out, index=False)
    by_table = res.groupby("table")[["count_cells", "counts_hidden", "counts_rounded", "figure_cells",
                                     "figures_hidden"]].sum()
    by_table["% counts hidden"] = (100 * by_table["counts_hidden"] / by_table["count_cells"]).round(1)
    by_table["% counts rounded"] = (100 * by_table["counts_rounded"] / by_table["count_cells"]).round(1)
    by_table["% figures hidden"] = (100 * by_table["figures_hidden"] / by_table["figure_cells"]).round(1)
    print(by_table.to_string())
    wales = res[res["area"] == "Wales"].set_index("table")
    print("\nWales:")
    print(wales[["count_cells", "counts_hidden", "counts_rounded", "figure_cells", "figures_hidden"]].to_string())
    tot = res[["count_cells", "counts_hidden", "counts_rounded", "figure_cells", "figures_hidden"]].sum()
    print(f"\nall areas: {tot['counts_hidden']}/{tot['count_cells']} counts hidden "
          f"({100 * tot['counts_hidden'] / tot['count_cells']:.1f}%), {tot['counts_rounded']} rounded "
          f"({100 * tot['counts_rounded'] / tot['count_cells']:.1f}%), {tot['figures_hidden']}/{tot['figure_cells']}"
          f" figures hidden ({100 * tot['figures_hidden'] / max(tot['figure_cells'], 1):.1f}%)")


if __name__ == "__main__":
    main()
