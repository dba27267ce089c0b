"""Effectiveness: the effect of support on a public service, from linked service use (issue 13)."""

from __future__ import annotations

import pandas as pd

from ... import domain
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section

#: Fewest supported people in an estimate for the report to show it: below this the interval is too
#: wide to say anything (and far above the disclosure threshold).
MIN_PEOPLE = 200


def effectiveness(a: AreaYear, prot: YearProtection, pub: Publisher, service: str = "emergency_admission",
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

    name = domain.SERVICES.get(service, service)
    title = f"Effectiveness: {name.lower()}"
    try:
        panel = service_panel(a.study, service, until=domain.fy_bounds(a.year)[1])
    except MissingServiceUseError as e:
        return Section("effectiveness", title, f"Not estimated for {a.area}: {e}", [], [])
    supported = int(((~panel.never) & (panel.start >= 1) & (panel.start < panel.n_months)).sum())
    if supported < min_people:
        return Section("effectiveness", title, (
            f"Not estimated for {a.area}: too few people supported within the linked data "
            f"({'fewer than ' + str(min_people) if supported else 'none'}; the estimate needs {min_people})."), [], [])
    fit = staggered_did(a.study, service, panel=panel, seed=a.seed, n_boot=999)
    es = event_study(a.study, service, panel=panel)
    row = fit.overall.loc["att"]
    per = 1000.0  # events per 1,000 people per month: readable magnitudes
    head = pd.DataFrame({
        "measure": ["effect of support, months 1-12 after the start", "naive before/after change (biased)",
                    "two-way fixed effects (biased)"],
        "per 1,000 people per month": [row["estimate"] * per, *(fit.benchmarks["estimate"] * per)],
        "95% CI lower": [row["ci_lower"] * per, *(fit.benchmarks["ci_lower"] * per)],
        "95% CI upper": [row["ci_upper"] * per, *(fit.benchmarks["ci_upper"] * per)],
    }).round(2)
    counts = pd.DataFrame({"group": ["people supported in the estimate", "people compared with (not yet supported)"],
                           "people": [fit.n_treated, fit.n_control]})
    from .. import protect as dc

    counts = dc.suppress(counts, ["people"])
    rates = es.rates[["event_month", "rate", "ci_lower", "ci_upper", "n"]].copy()
    rates[["rate", "ci_lower", "ci_upper"]] = (rates[["rate", "ci_lower", "ci_upper"]] * per).round(2)
    rates = rates.rename(columns={"event_month": "months since the start", "rate": "per 1,000 people",
                                  "ci_lower": "95% CI lower", "ci_upper": "95% CI upper", "n": "people"})
    rates = dc.suppress(rates, ["people"], derived={c: ["people"] for c in ("per 1,000 people", "95% CI lower",
                                                                           "95% CI upper")})
    tables = [
        pub.table("effectiveness_headline", f"Effect of support on {name.lower()}, {a.label}: events per 1,000 people "
                  "per month, supported minus their counterfactual (staggered difference-in-differences)", head,
                  free=("per 1,000 people per month", "95% CI lower", "95% CI upper"), label_column="measure"),
        pub.table("effectiveness_people", f"People in the effectiveness estimate, {a.label}", counts, ["people"],
                  label_column="group"),
        pub.table("effectiveness_event_study", f"{name} per 1,000 supported people, by month before and after the "
                  f"start of support, {a.label}", rates, ["people"],
                  free=("months since the start", "per 1,000 people", "95% CI lower", "95% CI upper")),
    ]
    figs = [
        pub.figure("effectiveness_event_study", f"{name} per supported person by month around the start of support, "
                   f"{a.label} (95% confidence intervals)", es.plot().figure),
        pub.figure("effectiveness_effect", f"Effect of support on {name.lower()} by month since the start, with the "
                   "uniform 95% band (shaded: the crisis months before support)", fit.plot().figure),
    ]
    lo, hi = row["ci_lower"] * per, row["ci_upper"] * per
    verdict = ("fewer" if hi < 0 else "more" if lo > 0 else "no clear difference in")
    text = (
        f"Use of {name.lower()} rises in the months before support starts: people come to support in a crisis. "
        "Comparing the year after the start with the year before therefore misleads (the naive before/after "
        "change in the table). Instead each group of people who started support in the same month is compared, "
        "month by month, with people of the same sex and age band who were not yet supported and more than "
        f"{fit.anticipation} months from their own start, relative to the month before support began "
        "(Callaway and Sant'Anna's staggered difference-in-differences). "
        f"In the 12 months after the start, supported people had {verdict} {name.lower()}: "
        f"{row['estimate'] * per:+.2f} per 1,000 people per month (95% CI {lo:+.2f} to {hi:+.2f}). "
        f"Assumptions, in plain words: without support, a supported person's use would have stayed at the level "
        "it reached just before support, moving as the not-yet-supported people's use moved; before the crisis "
        f"the two groups moved alike (test: p = {fit.pre_trend['p_value']:.2f}). "
        + (f"The result holds unless trends after the start differ by more than {fit.breakdown_m():.1f} times "
           "the largest difference seen before." if fit.breakdown_m() > 0 else
           "The interval includes no difference even if the trends were exactly parallel.")
        + " Linked data up to the end of the report's year.")
    return Section("effectiveness", title, text, tables, figs)
