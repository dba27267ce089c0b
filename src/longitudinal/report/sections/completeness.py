"""Data completeness: the readings that should be there, overall and by outcome area."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import domain
from .. import counts as ct, protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import PALETTE, Publisher, Section, is_number


def completeness(a: AreaYear, prot: YearProtection, pub: Publisher) -> Section:
    """How complete the year's Journey of Change records are, overall and by outcome area."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    year_end = domain.fy_bounds(a.year)[1]
    tables = [pub.table(
        "completeness", f"Completeness of the records, {a.label}: episodes, and those with the reading that "
        "should be there (started: a start reading; ended and planned ends: an end reading; active: any reading "
        "in the year)", prot.table(a.area, "completeness"), ["episodes", "with_reading"],
        specs=(*ct.COMPLETENESS_SUMS, dc.Share("percent_with_reading", "episodes", scale=100, decimals=1),
               *ct.COMPLETENESS_LINKS),
        label_column="measure", rounded=prot.changes_of(a.area, "completeness"))]
    cc = ["readings", "scored", "blank_no_need", "episodes_with_need", "episodes_two_plus"]
    by_out = prot.table(a.area, "completeness_by_outcome")[["outcome", *cc, "percent_scored", "percent_two_plus"]]
    tables.append(pub.table(
        "completeness_by_outcome",
        f"Readings in the year and episodes with enough scored readings (to {year_end:%d %B %Y}) to measure "
        f"change, by outcome area, {a.label} (blank = no need in this area)", by_out, cc,
        specs=ct.COMPLETENESS_BY_OUTCOME_SPECS, label_column="outcome",
        rounded=prot.changes_of(a.area, "completeness_by_outcome")))
    by_pub = tables[-1].data.iloc[:-1]  # the figure: the outcome areas

    fig, ax = plt.subplots(figsize=(8, 4.2))
    yy = np.arange(len(by_pub))[::-1]
    vals = [v if is_number(v) else np.nan for v in by_pub["percent_two_plus"]]
    ax.barh(yy, np.nan_to_num(vals), color=PALETTE[2])
    for yi, v in zip(yy, by_pub["percent_two_plus"]):
        mark = f"{v:.0f}%" if is_number(v) else ("no need" if pd.isna(v) else str(v))
        ax.annotate(mark, (np.nan_to_num(v) if is_number(v) else 0, yi),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(yy, by_pub["outcome"], fontsize=8)
    ax.set_xlim(0, 105)
    ax.set_xlabel("% of episodes with a need that have two or more scored readings")
    ax.set_title(f"{a.label}: records that can show change", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    figs = [pub.figure("completeness", "Share of episodes with a need in each area that have "
                                 "at least two scored readings (start and a later one)", fig)]
    text = ("A blank score means *no need in this area*, not a missing value. Change can only be measured "
            "for episodes with at least two scored readings in an area.")
    return (Section("completeness", "Data completeness", text, tables, figs))

