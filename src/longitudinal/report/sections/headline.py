"""Headline figures: people, episodes, readings and spend in the year, by lead need, and the trend."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import domain
from ...i18n import N_, Area, Msg, Number
from ...palette import HATCHES, PALETTE, figure_style
from .. import counts as ct, protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section, is_number

SPEND, PER_PERSON = N_("Spend (£)"), N_("Spend per person supported (£)")


def headline(a: AreaYear, prot: YearProtection, pub: Publisher) -> Section:
    """People, episodes, readings and spend in the year, by lead need, and the trend over the years."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    spend, n_people = a.year_spend, int(a.active_episodes["person_id"].nunique())
    counts = prot.table(a.area, "headline")
    per_person = spend / n_people if n_people >= dc.THRESHOLD else dc.SECONDARY
    money = pd.DataFrame({"measure": [SPEND, PER_PERSON],
                          "value": [round(spend), per_person if isinstance(per_person, str)
                                    else round(per_person)]})
    head = pd.concat([counts, money], ignore_index=True)
    area, fy = Area(a.area), domain.fy_label(a.year)
    tables = [pub.table("headline", Msg("Headline figures, {area}, {year}", area=area, year=fy), head, ["value"],
                        specs=ct.HEADLINE_SUMS, label_column="measure")]

    by_need, need_sums = prot.table(a.area, "by_lead_need"), ct.NEED_SUMS
    tables.append(pub.table("by_lead_need", Msg("People, episodes and spend by lead need, {area}, {year}",
                                                area=area, year=fy),
                            by_need, ["people", "episodes", "started"], specs=need_sums,
                            free=("spend_gbp", "spend_per_person_gbp"), label_column="lead_need"))

    # Trend over the financial years up to this one.
    trend = prot.table(a.area, "trend")
    tables.append(pub.table("trend", Msg("People supported, episodes started and spend by financial year, {area}",
                                         area=area),
                            trend, ["people", "started"], free=("spend_gbp",), label_column="financial_year"))

    with figure_style():
        fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6))
        x = np.arange(len(trend))
        for k, (ax, col, title, scale) in enumerate(((axes[0], "people", N_("People supported"), 1.0),
                                                     (axes[1], "spend_gbp", N_("Spend (£ million)"), 1e6))):
            vals = [v / scale if is_number(v) else np.nan for v in trend[col]]
            ax.bar(x, np.nan_to_num(vals), color=PALETTE[k], hatch=HATCHES[k], edgecolor="white")
            for xi, v in zip(x, trend[col]):
                if not is_number(v):
                    ax.annotate("[c]", (xi, 0), ha="center", va="bottom")
            top = np.nanmax(vals) if np.isfinite(vals).any() else 0.0
            ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)
            if col == "people":
                ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            if top <= 0:
                ax.set_yticks([])
            ax.set_xticks(x, trend["financial_year"], rotation=45, ha="right")
            ax.set_title(title)
            ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    shown = [(y, v) for y, v in zip(trend["financial_year"], trend["people"]) if is_number(v)]
    if len(shown) >= 2:
        (y0, v0), (y1, v1) = shown[0], shown[-1]
        alt = Msg("Bar charts. People supported went from {first} in {y0} to {last} in {y1}; spend in {y1} was "
                  "{spend}.", first=Number(v0), y0=y0, last=Number(v1), y1=y1, spend=Number(spend, money=True))
    else:
        alt = Msg("Bar charts of people supported and spend by financial year; spend in {year} was {spend}.",
                  year=fy, spend=Number(spend, money=True))
    figs = [pub.figure("trend", Msg("People supported and spend by financial year, {area} (counts that are "
                                    "suppressed are not drawn and are marked [c])", area=area), fig, alt=alt)]
    people, episodes = head["value"].iat[0], head["value"].iat[1]
    if is_number(people) and is_number(episodes):
        text = Msg("In {year}, {people} people were supported in {episodes} episodes of support in {area}; the "
                   "programme spent {spend}.", year=fy, people=Number(people), episodes=Number(episodes), area=area,
                   spend=Number(spend, money=True))
    else:
        text = Msg("In {year}, the programme spent {spend} in {area}; the numbers of people and episodes are "
                   "suppressed ([c]) to protect privacy.", year=fy, spend=Number(spend, money=True), area=area)
    return Section("headline", N_("Headline figures"), text, tables, figs, key_points=[text])
