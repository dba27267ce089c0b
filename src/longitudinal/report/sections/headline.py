"""Headline figures: people, episodes, readings and spend in the year, by lead need, and the trend."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import domain
from .. import counts as ct, protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import PALETTE, Publisher, Section, fmt_count, is_number


def headline(a: AreaYear, prot: YearProtection, pub: Publisher) -> Section:
    """People, episodes, readings and spend in the year, by lead need, and the trend over the years."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    spend = a.year_spend
    counts = prot.table(a.area, "headline")
    # Per person of the published (rounded) people: with the exact count the two would give it away.
    n_people = int(counts.loc[counts["measure"] == ct.PEOPLE, "value"].iat[0])
    per_person = spend / n_people if n_people > 0 else dc.SECONDARY
    money = pd.DataFrame({"measure": ["Spend (GBP)", "Spend per person supported (GBP)"],
                          "value": [round(spend), per_person if isinstance(per_person, str)
                                    else round(per_person)]})
    head = pd.concat([counts, money], ignore_index=True)
    tables = [pub.table("headline", f"Headline figures, {a.label}", head, ["value"],
                        specs=(*ct.HEADLINE_SUMS, *ct.HEADLINE_LINKS), label_column="measure",
                        rounded=prot.changes_of(a.area, "headline"))]

    by_need, need_sums = prot.table(a.area, "by_lead_need"), ct.NEED_SUMS
    tables.append(pub.table("by_lead_need", f"People, episodes and spend by lead need, {a.label}",
                            by_need, ["people", "episodes", "started"], specs=(*need_sums, *ct.NEED_LINKS),
                            free=("spend_gbp", "spend_per_person_gbp"), label_column="lead_need",
                            rounded=prot.changes_of(a.area, "by_lead_need")))

    # Trend over the financial years up to this one.
    trend = prot.table(a.area, "trend")
    tables.append(pub.table("trend", f"People supported, episodes started and spend by year, {a.area}",
                            trend, ["people", "started"], free=("spend_gbp",),
                            specs=ct.trend_links(a.year), label_column="financial_year",
                            rounded=prot.changes_of(a.area, "trend")))

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    x = np.arange(len(trend))
    for ax, col, title, scale in ((axes[0], "people", "People supported", 1.0),
                                  (axes[1], "spend_gbp", "Spend (GBP million)", 1e6)):
        vals = [v / scale if is_number(v) else np.nan for v in trend[col]]
        ax.bar(x, np.nan_to_num(vals), color=PALETTE[0] if col == "people" else PALETTE[1])
        for xi, v in zip(x, trend[col]):
            if not is_number(v):
                ax.annotate(str(v), (xi, 0), ha="center", va="bottom", fontsize=8)
        top = np.nanmax(vals) if np.isfinite(vals).any() else 0.0
        ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)
        if col == "people":
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if top <= 0:
            ax.set_yticks([])
        ax.set_xticks(x, trend["financial_year"], rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"{a.area}: people supported and spend by financial year", fontsize=11)
    fig.tight_layout()
    figs = [pub.figure("trend", "People supported and spend by financial year "
                                 "(suppressed counts are not drawn and are marked)", fig)]
    text = (f"In {domain.fy_label(a.year)}, {_about(head['value'].iat[0], spend)} people were supported in "
            f"{_about(head['value'].iat[1], spend)} episodes of support in {a.area}; the programme spent "
            f"£{spend:,.0f}.")
    return (Section("headline", "Headline figures", text, tables, figs))



def _about(published, spend: float) -> str:
    """A rounded count in a sentence: a 0 rounded down from 1-4 reads "fewer than 5", not "0".

    The spend, published beside it, already tells that there was support in the year, so saying so
    tells nothing more; the count itself stays the published (rounded) one.
    """
    if is_number(published) and float(published) == 0 and spend > 0:
        return f"fewer than {dc.BASE}"
    return fmt_count(published)
