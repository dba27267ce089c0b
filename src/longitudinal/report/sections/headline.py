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
#: Units of a spend axis, largest first: the largest amount picks the first it reaches, so the ticks read
#: as whole amounts (an area's £100,000 is not drawn as 0.10 £ million).
SPEND_UNITS = ((1e6, N_("Spend (£ million)")), (1e3, N_("Spend (£ thousand)")), (1.0, SPEND))


def headline(a: AreaYear, prot: YearProtection, pub: Publisher) -> Section:
    """People, episodes, readings and spend in the year, by lead need, and the trend over the years."""
    spend = a.year_spend
    counts = prot.table(a.area, "headline")
    # Per person of the published (rounded) people: with the exact count the two would give it away.
    n_people = int(counts.loc[counts["measure"] == ct.PEOPLE, "value"].iat[0])
    per_person = spend / n_people if n_people > 0 else dc.SECONDARY
    money = pd.DataFrame({"measure": [SPEND, PER_PERSON],
                          "value": [round(spend), per_person if isinstance(per_person, str)
                                    else round(per_person)]})
    head = pd.concat([counts, money], ignore_index=True)
    area, fy = Area(a.area), domain.fy_label(a.year)
    tables = [pub.table("headline", Msg("Headline figures, {area}, {year}", area=area, year=fy), head, ["value"],
                        specs=(*ct.HEADLINE_SUMS, *ct.HEADLINE_LINKS), label_column="measure",
                        rounded=prot.changes_of(a.area, "headline"))]

    by_need, need_sums = prot.table(a.area, "by_lead_need"), ct.NEED_SUMS
    tables.append(pub.table("by_lead_need", Msg("People, episodes and spend by lead need, {area}, {year}",
                                                area=area, year=fy),
                            by_need, ["people", "episodes", "started"], specs=(*need_sums, *ct.NEED_LINKS),
                            free=("spend_gbp", "spend_per_person_gbp"), label_column="lead_need",
                            rounded=prot.changes_of(a.area, "by_lead_need")))

    # Trend over the financial years up to this one.
    trend = prot.table(a.area, "trend")
    tables.append(pub.table("trend", Msg("People supported, episodes started and spend by financial year, {area}",
                                         area=area),
                            trend, ["people", "started"], free=("spend_gbp",), specs=ct.trend_links(a.year),
                            label_column="financial_year", rounded=prot.changes_of(a.area, "trend")))

    fig = trend_figure(trend)
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
    people, episodes = (_about(v, spend) for v in head["value"].iloc[:2])
    spent, year = Number(spend, money=True), fy
    if people is not None and episodes is not None:
        text = Msg("In {year}, {people} people were supported in {episodes} episodes of support in {area}; the "
                   "programme spent {spend}.", year=year, people=people, episodes=episodes, area=area, spend=spent)
    elif episodes is not None:  # only the people are hidden: say so, not that both are
        text = Msg("In {year}, {episodes} episodes of support were provided in {area} (the number of people "
                   "supported is suppressed, [c]); the programme spent {spend}.", year=year, episodes=episodes,
                   area=area, spend=spent)
    elif people is not None:
        text = Msg("In {year}, {people} people were supported in {area} (the number of episodes of support is "
                   "suppressed, [c]); the programme spent {spend}.", year=year, people=people, area=area,
                   spend=spent)
    else:
        text = Msg("In {year}, the programme spent {spend} in {area}; the numbers of people and episodes are "
                   "suppressed ([c]) to protect privacy.", year=year, spend=spent, area=area)
    return Section("headline", N_("Headline figures"), text, tables, figs, key_points=[text])


def _about(published, spend: float):
    """A published count as a sentence shows it: a 0 rounded down from 1-4 reads "fewer than 5", not "0"; a
    hidden count is ``None``.

    The spend, published beside it, already tells that there was support in the year, so saying so
    tells nothing more; the count itself stays the published (rounded) one.
    """
    if not is_number(published):
        return None
    if float(published) == 0 and spend > 0:
        return Msg("fewer than {n}", n=dc.BASE)
    return Number(published)


def spend_unit(amounts) -> tuple[float, str]:
    """``(scale, axis title)`` of a spend axis: £ million from £1 million, £ thousand from £1,000, else £.

    >>> spend_unit([250_000.0, 1_200_000.0])
    (1000000.0, 'Spend (£ million)')
    >>> spend_unit([95_000.0, "[c]"])
    (1000.0, 'Spend (£ thousand)')
    >>> spend_unit([640.0])
    (1.0, 'Spend (£)')
    """
    top = max((abs(float(v)) for v in amounts if is_number(v)), default=0.0)
    return next(((scale, title) for scale, title in SPEND_UNITS if top >= scale), SPEND_UNITS[-1])


def trend_figure(trend: pd.DataFrame):
    """Bars of people supported and spend by financial year from the published trend table.

    A value the table does not show as a number (``[c]``, ``<5``: hidden by the disclosure rule) is not
    drawn: its bar is left out and ``[c]`` is written at its foot, as the table shows it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    spend_scale, spend_title = spend_unit(trend["spend_gbp"])
    with figure_style():
        fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6))
        x = np.arange(len(trend))
        for k, (ax, col, title, scale) in enumerate(((axes[0], "people", N_("People supported"), 1.0),
                                                     (axes[1], "spend_gbp", spend_title, spend_scale))):
            vals = np.array([float(v) / scale if is_number(v) else np.nan for v in trend[col]])
            shown = np.isfinite(vals)
            ax.bar(x[shown], vals[shown], color=PALETTE[k], hatch=HATCHES[k], edgecolor="white")
            for xi in x[~shown]:
                ax.annotate("[c]", (xi, 0), ha="center", va="bottom")
            top = float(vals[shown].max()) if shown.any() else 0.0
            ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)
            # Ticks at whole numbers, or at steps of 0.1-0.5 below 10 (never 0.25, which one decimal would not
            # show), with thousands separators as in the tables (the same in Welsh and English).
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=col == "people", steps=[1, 2, 5, 10]))
            ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter(
                "{x:,.0f}" if col == "people" or top >= 10 else "{x:,.1f}"))
            if top <= 0:
                ax.set_yticks([])
            ax.set_xticks(x, trend["financial_year"], rotation=45, ha="right")
            ax.set_title(title)
            ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    return fig
