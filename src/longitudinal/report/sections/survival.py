"""Lasting impact after a planned end, and time to independence: survival curves as they may be published."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import domain
from ...i18n import N_, Area, Items, Msg, Number, Verbatim
from ...palette import figure_style, series_style
from ...study import Study
from .. import protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section, is_number, publishable_reason
from .distance import within_published


def survival_table(t: pd.DataFrame, values: dict[str, str], *, ci: bool = True,
                    hidden_n: bool = False) -> tuple[pd.DataFrame, tuple]:
    """A curve's table (rows: months, per group) as published, and its disclosure declarations.

    ``values`` maps the shares (0-1) to publish as percentages to their published names; the first is the
    estimate whose ``ci_lower`` / ``ci_upper`` are published with it (``ci``). The rows of one group
    (outcome) are a series: a share at 6 months and one at 12 must not differ by 1-4 people, nor may the
    numbers still at risk. ``hidden_n``: the base is suppressed because another table would give it away.
    """
    t = t.copy()
    group = [c for c in ("outcome",) if c in t.columns]
    if "outcome" in t.columns:
        t["outcome"] = [domain.OUTCOMES[c].name if c in domain.OUTCOMES else c for c in t["outcome"]]
    cis = [c for c in ("ci_lower", "ci_upper") if ci and c in t.columns]
    for c in [*values, *cis]:
        t[c] = 100 * t[c].astype(float)
    t[cis] = t[cis].round(1)
    t = t.drop(columns=[c for c in ("ci_lower", "ci_upper") if c not in cis and c in t.columns])
    t = t.rename(columns=values)
    counts = [c for c in ("n", "at_risk") if c in t.columns]
    for c in counts:
        t[c] = t[c].fillna(0).astype("int64")
    key = tuple(group) or ("n",)  # without groups the whole table is one series (n is the same in every row)
    names = list(values.values())
    specs = [dc.Share(v, "n", scale=100, series=key, decimals=1) for v in names]
    if "at_risk" in t.columns:
        specs.append(dc.Share("at_risk", "n", count=True, series=key))
    specs.append(dc.Together((names[0], *cis)))
    tab = dc.suppress(t, counts, derived={c: ["n"] for c in [*names, *cis]},
                      hidden=["n"] if hidden_n else ())
    return dc.suppress_shares(tab, specs), tuple(specs)


def _curves_figure(kept: pd.DataFrame, by: str | None, xlabel: str, ylabel: str):
    """Step curves in percent with their 95% bands, one style (colour, marker, line) per group, the legend
    outside the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with figure_style():
        fig, ax = plt.subplots(figsize=(8.2, 4.2))
        groups = [(None, kept)] if by is None else list(kept.groupby(by, observed=True, sort=True))
        for i, (key, sub) in enumerate(groups):
            st = series_style(i)
            sub = sub.sort_values("time")
            ax.plot(sub["time"], 100 * sub["survival"], drawstyle="steps-post", markevery=max(1, len(sub) // 6),
                    label=None if key is None else str(key), **st)
            ax.fill_between(sub["time"], 100 * sub["ci_lower"], 100 * sub["ci_upper"], step="post", alpha=0.12,
                            color=st["color"], linewidth=0)
        ax.set_ylim(0, 102)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if by is not None:
            ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    return fig


def _unlinked(t: pd.DataFrame, columns: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """Competing events the data cannot show (none recorded at all: deaths and moves after support ended are not
    linked to these data) are not available ([x]), never 0."""
    gone = [c for c in columns if c in t.columns and not (pd.to_numeric(t[c], errors="coerce").fillna(0) > 0).any()]
    if gone:
        t = t.copy()
        for c in gone:
            t[c] = np.nan
    return t, gone


def lasting_impact(a: AreaYear, prot: YearProtection, pub: Publisher, n_boot: int = 50) -> Section:
    """Whether gains last after a planned end (follow-up readings) and re-referral after it."""
    import warnings

    from ...survival import sustained_outcomes

    end = domain.fy_bounds(a.year)[1]
    area = Area(a.area)
    st = a.study
    # Everything known by the year's end: gains of earlier years can be followed up this year.
    rd = st.readings[st.readings["reading_date"] <= end]
    ep = st.episodes[st.episodes["start_date"] <= end]
    upto = Study(st.people, ep, rd, st.spend)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sustained_outcomes(upto, by="outcome", n_boot=n_boot, seed=a.seed, censor_date=end)
    except ValueError as exc:
        return Section("lasting_impact", N_("Lasting impact"), "", notes=[
            Msg("Lasting impact could not be estimated for {area}. The reason, as the model gives it (in English): "
                "{reason}", area=area, reason=Verbatim(publishable_reason(exc)))])
    at = res.at_months() if callable(res.at_months) else res.at_months
    sus, sus_specs = survival_table(at, {"survival": "percent_sustained"})
    rr, rr_specs = survival_table(res.rereferral, {"cumulative_incidence": "percent_re_referred",
                                                   "died": "died", "moved_away": "moved_away"})
    rr, unlinked = _unlinked(rr, ("died", "moved_away"))
    tables = [pub.table("sustained_outcomes", Msg("Share of end-of-support levels sustained (no loss of a stage) 6, "
                                                  "12 and 24 months after a planned end, by outcome area, {area}, "
                                                  "data to {end}", area=area, end=end), sus, ["n", "at_risk"],
                        specs=sus_specs, free=("months",), label_column="outcome"),
              pub.table("re_referral", Msg("Re-referral after a planned end, {area}, data to {end} (died, moved away: "
                                           "percentages, the competing events)", area=area, end=end), rr,
                        [c for c in ("n", "at_risk") if c in rr.columns], specs=rr_specs, free=("months",))]
    notes = []
    if unlinked:
        notes.append(N_("Deaths and moves away after support ended are not linked to these data: they are shown as "
                        "not available ([x]), not as 0."))
    text = Msg("After a planned end of support, follow-up readings show whether the level reached was kept. The share "
               "sustained is estimated allowing for the interval between follow-ups (Turnbull estimator), with 95% "
               "bootstrap intervals ({n_boot} replicates, seed {seed}); re-referral is a cumulative incidence. Both "
               "use all episodes that ended by the year's end, so their base differs from the year's episodes used "
               "in the other sections.", n_boot=n_boot, seed=str(a.seed))
    curves = res.curves.assign(outcome=[domain.OUTCOMES[c].name if c in domain.OUTCOMES else c
                                        for c in res.curves["outcome"]])
    kept, left_out = curve_points(curves, sus, "percent_sustained", "outcome")
    notes += left_out
    figs, points = [], []
    twelve = sus[(sus["months"] == 12) & sus["percent_sustained"].map(is_number)]
    if len(twelve):
        lo, hi = twelve.loc[twelve["percent_sustained"].idxmin()], twelve.loc[twelve["percent_sustained"].idxmax()]
        points.append(Msg("Twelve months after a planned end of support, the share of people who kept the level they "
                          "had reached ranged from {lo}% ({lo_area}) to {hi}% ({hi_area}).",
                          lo=Number(lo["percent_sustained"], 1), lo_area=Msg(lo["outcome"]),
                          hi=Number(hi["percent_sustained"], 1), hi_area=Msg(hi["outcome"])))
    if len(kept):
        top = (sus.assign(n=pd.to_numeric(sus["n"], errors="coerce")).drop_duplicates("outcome")
               .nlargest(8, "n")["outcome"])
        kept = kept[kept["outcome"].isin(set(top))]
        fig = _curves_figure(kept, "outcome", N_("Months after a planned end of support"), N_("% sustained"))
        alt = points[0] if points else Msg("Line chart of the share of end-of-support levels sustained by months "
                                           "after a planned end, by outcome area.")
        figs.append(pub.figure(
            "sustained_outcomes", Msg("Share of end-of-support levels sustained by months after a planned end, by "
                                      "outcome area (the 8 areas with the most episodes followed), with 95% bootstrap "
                                      "bands, {area}; drawn through the points the disclosure rule allows",
                                      area=area), fig,
            kept[["outcome", "time", "survival", "ci_lower", "ci_upper", "n"]], alt=alt))
    return Section("lasting_impact", N_("Lasting impact"), text, tables, figs, notes, key_points=points)


def time_to_independence(a: AreaYear, prot: YearProtection, pub: Publisher, outcome: str | None = None,
                         stage: int = 5, n_boot: int = 100) -> Section:
    """Time from the start of support to first reaching ``stage`` in the headline outcome area.

    The shares reaching it at 6, 12 and 24 months carry 95% percentile bootstrap intervals from
    ``n_boot`` replicates (seeded with the report's seed).
    """
    import warnings

    from ...survival import time_to_independence

    code = domain.outcome_code(outcome) if outcome else a.headline_outcome
    name = domain.OUTCOMES[code].name
    oname, area, fy = Msg(name), Area(a.area), domain.fy_label(a.year)
    heading = Msg("Time to independence: {outcome}", outcome=oname)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Only the curves are published: covariates=None skips the Cox model, which the report does
            # not show and which is most of the cost at national scale.
            res = time_to_independence(a.year_study, outcome=code, stage=stage, covariates=None,
                                       n_boot=n_boot, seed=a.seed)
    except ValueError as exc:
        return Section("time_to_independence", heading, "", notes=[
            Msg("Time to independence could not be estimated for {area}. The reason, as the model gives it (in "
                "English): {reason}", area=area, reason=Verbatim(publishable_reason(exc)))])
    # The episodes followed lie within the distance table's episodes compared for this area.
    n_followed = int(res.survival_at["n"].iloc[0]) if len(res.survival_at) else 0
    within = within_published(a, n_followed, code)
    # The interval of the share reaching the stage is that of the share not yet there, turned over.
    sa = res.survival_at.assign(ci_lower=1 - res.survival_at["ci_upper"], ci_upper=1 - res.survival_at["ci_lower"])
    t, specs = survival_table(sa, {"reached": "percent_reached", "survival": "percent_not_yet"},
                              ci=n_boot > 0, hidden_n=within)
    specs = (*specs, dc.Together(("percent_reached", "percent_not_yet")))
    t = dc.suppress_shares(t, specs)
    t = t[[c for c in ("months", "percent_not_yet", "percent_reached", "ci_lower", "ci_upper", "at_risk", "n")
           if c in t.columns]]
    tables = [pub.table("time_to_independence", Msg("Share reaching stage {stage} in {outcome} within 6, 12 and 24 "
                                                    "months of the start of support (95% interval of the share "
                                                    "reaching it), {area}, {year}", stage=str(stage), outcome=oname,
                                                    area=area, year=fy),
                        t, [c for c in ("n", "at_risk") if c in t.columns], specs=specs, free=("months",))]
    text = Msg("For episodes active in the year that started below stage {stage} in *{outcome}*, the time to the "
               "first reading at stage {stage} ({label}), allowing for the interval between readings (Turnbull "
               "estimator), with 95% percentile bootstrap intervals ({n_boot} replicates, seed {seed}).",
               stage=str(stage), outcome=oname, label=Msg(domain.SCALE[stage]), n_boot=n_boot, seed=str(a.seed))
    kept, notes = curve_points(res.curves, t, "percent_not_yet", None)
    if within:
        notes = [Msg("The episodes followed here differ in number from the distance table's episodes compared in "
                     "{outcome} by fewer than 5 (episodes already at stage {stage} at their first reading, or scored "
                     "twice only after support ended): the two numbers together would reveal them, so this table "
                     "and its figure are suppressed.", outcome=oname, stage=str(stage))]
    figs, points = [], []
    at12 = t[(t["months"] == 12) & t["percent_reached"].map(is_number)]
    if len(at12):
        points.append(Msg("Within a year of starting support, {pct}% of the people who started below stage {stage} "
                          "in {outcome} had reached it.", pct=Number(at12["percent_reached"].iat[0], 1),
                          stage=str(stage), outcome=oname))
    if len(kept):
        fig = _curves_figure(kept, None, N_("Months since support started"), N_("% not yet at the stage"))
        alt = points[0] if points else Msg("Line chart of the share not yet at stage {stage} by months since support "
                                           "started.", stage=str(stage))
        figs.append(pub.figure(
            "time_to_independence", Msg("Share not yet at stage {stage} in {outcome} by months since support started, "
                                        "with its 95% bootstrap band, {area}, {year}; drawn through the points the "
                                        "disclosure rule allows (no numbers at risk are drawn)", stage=str(stage),
                                        outcome=oname, area=area, year=fy), fig,
            kept[["time", "survival", "ci_lower", "ci_upper", "n"]], alt=alt))
    return Section("time_to_independence", heading, text, tables, figs, notes, key_points=points)


def curve_points(curves: pd.DataFrame, table: pd.DataFrame, value: str,
                 by: str | None) -> tuple[pd.DataFrame, list]:
    """The points of survival curves a figure may draw, and notes on what it leaves out and why.

    A group is drawn only when its base ``n`` is published and at least 5. Within it, the points of the
    monthly grid are a series with the table's months (:func:`longitudinal.disclosure.series_mask`): the
    months the table shows are kept first, the months it hides are never drawn, and a grid point is drawn
    only if neither it, nor what it leaves out, nor its difference from any point drawn comes to 1-4 people.
    Lines join the points drawn.
    """
    keep, few, sparse = [], [], []
    groups = [(None, curves)] if by is None else list(curves.groupby(by, observed=True, sort=True))
    for key, sub in groups:
        rows = table if by is None else table[table[by] == key]
        n = rows["n"].iloc[0] if len(rows) else dc.SECONDARY
        if not is_number(n) or n < dc.THRESHOLD:
            few.append(key)
            continue
        sub = sub.sort_values("time")
        shown = {float(m): v for m, v in zip(rows["months"], rows[value])}
        t = sub["time"].to_numpy(dtype=float)
        first = [i for i, x in enumerate(t) if x in shown and is_number(shown[x])]
        forbid = [i for i, x in enumerate(t) if x in shown and not is_number(shown[x])]
        hidden = dc.series_mask(n * (1 - sub["survival"].to_numpy(dtype=float)), n, first=first, forbid=forbid)
        if (~hidden).sum() < 2:
            sparse.append(key)
            continue
        keep.append(sub[~hidden].assign(n=int(n)))
    notes = []
    for keys, why in ((few, N_("fewer than 5 episode-areas, or a base that is suppressed")),
                      (sparse, N_("too few points can be drawn without revealing 1-4 people"))):
        if not keys:
            continue
        if by is None:
            notes.append(Msg("The curve is not drawn: {why} (a curve of so few would show single people's events).",
                             why=Msg(why)))
        else:
            names = Items(tuple(Msg(str(k)) for k in keys))
            notes.append(Msg("Curves are not drawn for {groups}: {why} (a curve of so few would show single "
                             "people's events).", groups=names, why=Msg(why)))
    return (pd.concat(keep, ignore_index=True) if keep else curves.iloc[:0]), notes
