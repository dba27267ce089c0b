"""Effectiveness: the effect of support on a public service, from linked service use (issue 13)."""

from __future__ import annotations

import pandas as pd

from ... import domain
from ...i18n import N_, Area, Items, Msg, Number, Verbatim
from ...palette import figure_style, series_style
from ..area import AreaYear
from ..publish import Publisher, Section, is_number, publishable_reason

#: Fewest supported people in an estimate for the report to show it: below this the interval is too
#: wide to say anything (and far above the disclosure threshold).
MIN_PEOPLE = 200
#: Events per 1,000 people per month: readable magnitudes.
PER = 1000.0
HEADING = N_("Effectiveness: {service}")
#: The headline table's rows.
EFFECT, NAIVE, TWFE = (N_("Effect of support, months 1 to 12 after the start"),
                       N_("Naive before and after change (biased)"), N_("Two-way fixed effects (biased)"))
#: The finding in plain words, by where the 95% interval lies.
FEWER = N_("{service}, 12 months after the start of support: fewer among supported people than without support "
           "({estimate} per 1,000 people per month; 95% confidence interval {lo} to {hi}).")
MORE = N_("{service}, 12 months after the start of support: more among supported people than without support "
          "({estimate} per 1,000 people per month; 95% confidence interval {lo} to {hi}).")
NO_CLEAR = N_("{service}, 12 months after the start of support: no clear difference between supported people and "
              "what would have happened without support ({estimate} per 1,000 people per month; 95% confidence "
              "interval {lo} to {hi}).")


def effectiveness(a: AreaYear, pub: Publisher, service: str = "emergency_admission",
                  min_people: int = MIN_PEOPLE) -> Section:
    """The effect of support on ``service``: the event-study picture and the staggered DiD headline.

    Linked data up to the end of the report's year. People supported in the area are compared
    with the area's people not yet supported (Callaway & Sant'Anna; see
    :func:`longitudinal.effectiveness.staggered_did`). Shown where at least ``min_people`` supported
    people enter the estimate; the counts are protected like every other count of the report.
    """
    import matplotlib

    matplotlib.use("Agg")
    from ...effectiveness import MissingServiceUseError, event_study, service_panel, staggered_did
    from .. import protect as dc

    name = Msg(domain.SERVICES.get(service, service))
    area, fy = Area(a.area), domain.fy_label(a.year)
    title = Msg(HEADING, service=name)
    try:
        panel = service_panel(a.study, service, until=domain.fy_bounds(a.year)[1])
    except MissingServiceUseError as e:
        return Section("effectiveness", title, Msg(
            "Not estimated for {area}. The reason, as the program gives it (in English): {reason}", area=area,
            reason=Verbatim(publishable_reason(e))))
    supported = int(((~panel.never) & (panel.start >= 1) & (panel.start < panel.n_months)).sum())
    if supported < min_people:
        why = (Msg("Not estimated for {area}: too few people supported within the linked data (fewer than {n}; the "
                   "estimate needs {n}).", area=area, n=min_people) if supported else
               Msg("Not estimated for {area}: no one supported within the linked data (the estimate needs {n}).",
                   area=area, n=min_people))
        return Section("effectiveness", title, why)
    fit = staggered_did(a.study, service, panel=panel, seed=a.seed, n_boot=999)
    es = event_study(a.study, service, panel=panel)
    row = fit.overall.loc["att"]
    head = pd.DataFrame({
        "measure": [EFFECT, NAIVE, TWFE],
        "per 1,000 people per month": [row["estimate"] * PER, *(fit.benchmarks["estimate"] * PER)],
        "ci_lower": [row["ci_lower"] * PER, *(fit.benchmarks["ci_lower"] * PER)],
        "ci_upper": [row["ci_upper"] * PER, *(fit.benchmarks["ci_upper"] * PER)],
    }).round(2)
    counts = pd.DataFrame({"group": [N_("People supported in the estimate"),
                                     N_("People compared with (not yet supported)")],
                           "people": [fit.n_treated, fit.n_control]})
    counts = dc.suppress(counts, ["people"])
    rates = es.rates[["event_month", "rate", "ci_lower", "ci_upper", "n"]].copy()
    rates[["rate", "ci_lower", "ci_upper"]] = (rates[["rate", "ci_lower", "ci_upper"]] * PER).round(2)
    rates = rates.rename(columns={"event_month": "months since the start", "rate": "per 1,000 people",
                                  "n": "people"})
    rates = dc.suppress(rates, ["people"], derived={c: ["people"] for c in ("per 1,000 people", "ci_lower",
                                                                           "ci_upper")})
    tables = [
        pub.table("effectiveness_headline", Msg("Effect of support on {service}, {area}, {year}: events per 1,000 "
                                                "people per month, supported minus their counterfactual (staggered "
                                                "difference-in-differences)", service=name, area=area, year=fy),
                  head, free=("per 1,000 people per month", "ci_lower", "ci_upper"), label_column="measure"),
        pub.table("effectiveness_people", Msg("People in the effectiveness estimate, {area}, {year}", area=area,
                                              year=fy), counts, ["people"], label_column="group"),
        pub.table("effectiveness_event_study", Msg("{service} per 1,000 supported people, by month before and after "
                                                   "the start of support, {area}, {year}", service=name, area=area,
                                                   year=fy), rates, ["people"],
                  free=("months since the start", "per 1,000 people", "ci_lower", "ci_upper")),
    ]
    lo, hi, est = row["ci_lower"] * PER, row["ci_upper"] * PER, row["estimate"] * PER
    finding = Msg(FEWER if hi < 0 else MORE if lo > 0 else NO_CLEAR, service=name, estimate=Number(est, 2),
                  lo=Number(lo, 2), hi=Number(hi, 2))
    shown = rates[rates["per 1,000 people"].map(is_number)]
    figs = [
        pub.figure("effectiveness_event_study", Msg("{service} per 1,000 supported people by month around the start "
                                                    "of support, with 95% confidence intervals, {area}, {year}; drawn "
                                                    "through the months the disclosure rule allows", service=name,
                                                    area=area, year=fy),
                   _rates_figure(shown), shown, alt=_rates_alt(shown, name)),
        pub.figure("effectiveness_effect", Msg("Effect of support on {service} by month since the start, with the "
                                               "uniform 95% band (shaded: the crisis months before support), {area}, "
                                               "{year}", service=name, area=area, year=fy),
                   _effect_figure(fit), alt=finding),
    ]
    breakdown = fit.breakdown_m()
    text = [
        Msg("{service}: use rises in the months before support starts, as people come to support in a crisis. "
            "Comparing the year after the start with the year before therefore misleads (the naive before and after "
            "change in the table). Instead each group of people who started support in the same month is compared, "
            "month by month, with people of the same sex and age band who were not yet supported and more than "
            "{months} months from their own start, relative to the month before support began (Callaway and "
            "Sant'Anna's staggered difference-in-differences).", service=name, months=int(fit.anticipation)),
        finding,
        Msg("Assumptions, in plain words: without support, a supported person's use would have stayed at the level it "
            "reached just before support, moving as the not-yet-supported people's use moved; before the crisis the "
            "two groups moved alike (test: p = {p}).", p=Number(fit.pre_trend["p_value"], 2, p=True)),
        Msg("The result holds unless trends after the start differ by more than {m} times the largest difference "
            "seen before.", m=Number(breakdown, 1)) if breakdown > 0 else
        Msg("The interval includes no difference even if the trends were exactly parallel."),
        Msg("Linked data up to the end of the report's year."),
    ]
    return Section("effectiveness", title, Items(tuple(text), sep=" "), tables, figs, key_points=[finding])


def _rates_alt(shown: pd.DataFrame, name: Msg) -> Msg:
    """What the rates figure shows: the rate a year before, just before and a year after the start."""
    at = dict(zip(shown["months since the start"].astype(int), shown["per 1,000 people"].astype(float)))
    if not {-12, -1, 12} <= set(at):
        return Msg("Line chart of {service} per 1,000 supported people for each month the disclosure rule allows, "
                   "from 24 months before to 24 months after the start of support.", service=name)
    return Msg("Line chart. {service} per 1,000 supported people: {before} a year before support started, {last} in "
               "the month before it started and {after} a year after.", service=name, before=Number(at[-12], 2),
               last=Number(at[-1], 2), after=Number(at[12], 2))


def _rates_figure(shown: pd.DataFrame):
    """Monthly rates with their 95% intervals as drawn from the published table; the start of support marked."""
    import matplotlib.pyplot as plt

    with figure_style():
        fig, ax = plt.subplots(figsize=(8.2, 4.0))
        st = series_style(0)
        x = shown["months since the start"].astype(float)
        ax.fill_between(x, shown["ci_lower"].astype(float), shown["ci_upper"].astype(float), color=st["color"],
                        alpha=0.15, linewidth=0, label=N_("95% confidence interval"))
        ax.plot(x, shown["per 1,000 people"].astype(float), markevery=6, label=N_("Rate per 1,000 people"), **st)
        ax.axvline(-0.5, color="black", ls="--", lw=0.8, label=N_("Start of support"))
        ax.set_xlabel(N_("Months since the start of support"))
        ax.set_ylabel(N_("Events per 1,000 people per month"))
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    return fig


def _effect_figure(fit):
    """Event-time effects (per 1,000 people per month) with pointwise intervals and the uniform band."""
    import matplotlib.pyplot as plt

    et = fit.event_time
    x = et.index.to_numpy()
    with figure_style():
        fig, ax = plt.subplots(figsize=(8.2, 4.0))
        st = series_style(0)
        ax.axvspan(-fit.anticipation - 0.5, -0.5, facecolor="#f3f2f1", hatch="//", edgecolor="#505a5f", linewidth=0.5,
                   label=N_("Crisis months before support"))
        ax.fill_between(x, et["band_lower"] * PER, et["band_upper"] * PER, color=st["color"], alpha=0.15,
                        linewidth=0, label=N_("Uniform 95% band"))
        ax.errorbar(x, et["estimate"] * PER, yerr=[(et["estimate"] - et["ci_lower"]) * PER,
                                                  (et["ci_upper"] - et["estimate"]) * PER],
                    fmt="o", ms=4, color=st["color"], ecolor=st["color"], elinewidth=0.8,
                    label=N_("Estimate with its 95% confidence interval"))
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel(N_("Months since the start of support"))
        ax.set_ylabel(N_("Effect per 1,000 people per month"))
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    return fig
