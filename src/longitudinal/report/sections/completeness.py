"""Data completeness: the readings that should be there, overall and by outcome area."""

from __future__ import annotations

import numpy as np

from ... import domain
from ...i18n import N_, Area, Msg, Number
from ...palette import PALETTE, figure_style
from .. import counts as ct, protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section, is_number


def completeness(a: AreaYear, prot: YearProtection, pub: Publisher) -> Section:
    """How complete the year's Journey of Change records are, overall and by outcome area."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    year_end = domain.fy_bounds(a.year)[1]
    area, fy = Area(a.area), domain.fy_label(a.year)
    tables = [pub.table(
        "completeness", Msg("Completeness of the records, {area}, {year}: episodes, and those with the reading that "
                            "should be there (started: a start reading; ended and planned ends: an end reading; "
                            "active: any reading in the year)", area=area, year=fy),
        prot.table(a.area, "completeness"), ["episodes", "with_reading"],
        specs=(*ct.COMPLETENESS_SUMS, dc.Share("percent_with_reading", "episodes", scale=100, decimals=1),
               *ct.COMPLETENESS_LINKS),
        label_column="measure", rounded=prot.changes_of(a.area, "completeness"))]
    cc = ["readings", "scored", "blank_no_need", "episodes_with_need", "episodes_two_plus"]
    by_out = prot.table(a.area, "completeness_by_outcome")[["outcome", *cc, "percent_scored", "percent_two_plus"]]
    tables.append(pub.table(
        "completeness_by_outcome",
        Msg("Readings in the year and episodes with enough scored readings (to {end}) to measure change, by outcome "
            "area, {area}, {year}", end=year_end, area=area, year=fy), by_out, cc,
        specs=ct.COMPLETENESS_BY_OUTCOME_SPECS, label_column="outcome",
        rounded=prot.changes_of(a.area, "completeness_by_outcome")))
    by_pub = tables[-1].data.iloc[:-1]  # the figure: the outcome areas

    with figure_style():
        fig, ax = plt.subplots(figsize=(8.4, 4.6))
        yy = np.arange(len(by_pub))[::-1]
        vals = [v if is_number(v) else np.nan for v in by_pub["percent_two_plus"]]
        ax.barh(yy, np.nan_to_num(vals), color=PALETTE[0])
        for yi, v in zip(yy, by_pub["percent_two_plus"]):
            # Numbers are written on the bars (direct labels), symbols where there is no number.
            mark = f"{v:.0f}%" if is_number(v) else ("[z]" if v != v or v is None else "[c]")
            ax.annotate(mark, (np.nan_to_num(v) if is_number(v) else 0, yi), xytext=(3, 0),
                        textcoords="offset points", va="center")
        ax.set_yticks(yy, list(by_pub["outcome"]))
        ax.set_xlim(0, 110)
        ax.set_xlabel(N_("% of episodes with a need that have two or more scored readings"))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    shown = [(o, v) for o, v in zip(by_pub["outcome"], by_pub["percent_two_plus"]) if is_number(v)]
    if shown:
        lo, hi = min(shown, key=lambda t: t[1]), max(shown, key=lambda t: t[1])
        alt = Msg("Bar chart. The share of episodes with a need that have two or more scored readings ranges from "
                  "{lo}% in {lo_area} to {hi}% in {hi_area}.", lo=Number(lo[1]), lo_area=Msg(lo[0]),
                  hi=Number(hi[1]), hi_area=Msg(hi[0]))
    else:
        alt = Msg("Bar chart of the share of episodes with two or more scored readings by outcome area: every "
                  "value is suppressed or not applicable.")
    figs = [pub.figure("completeness", Msg("Share of episodes with a need in each outcome area that have at least two "
                                           "scored readings (start and a later one), {area}, {year}",
                                           area=area, year=fy), fig, alt=alt)]
    text = N_("A blank score means *no need in this area*, not a missing value. Change can only be measured for "
              "episodes with at least two scored readings in an area.")
    return Section("completeness", N_("Data completeness"), text, tables, figs)
