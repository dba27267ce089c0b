"""Lasting impact after a planned end, and time to independence: survival curves as they may be published."""

from __future__ import annotations

import pandas as pd

from ... import domain
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
    if "at_risk" in tab.columns:
        # A hidden at-risk count (1-4) of a base of 5 leaves the rest of the base at 1-4 as well: the base goes
        # too, in every row of its group (it is the same number in each).
        n = pd.to_numeric(tab["n"], errors="coerce")
        left = tab["at_risk"].eq(dc.PRIMARY) & (n - (dc.THRESHOLD - 1) >= 1) & (n - 1 <= dc.THRESHOLD - 1)
        if left.any():
            bad = tab[list(key)].astype(str).agg("\x1f".join, axis=1)
            tab["n"] = dc.hide(tab["n"], bad.isin(set(bad[left])).to_numpy())
    return dc.suppress_shares(tab, specs), tuple(specs)


def lasting_impact(a: AreaYear, prot: YearProtection, pub: Publisher, n_boot: int = 50) -> Section:
    """Whether gains last after a planned end (follow-up readings) and re-referral after it."""
    import warnings

    from ...survival import sustained_outcomes

    end = domain.fy_bounds(a.year)[1]
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
        return Section("lasting_impact", "Lasting impact", "", notes=[
            f"Lasting impact could not be estimated for {a.area}: {publishable_reason(exc)}"])
    at = res.at_months() if callable(res.at_months) else res.at_months
    sus, sus_specs = survival_table(at, {"survival": "percent_sustained"})
    rr, rr_specs = survival_table(res.rereferral, {"cumulative_incidence": "percent_re_referred",
                                                         "died": "died", "moved_away": "moved_away"})
    tables = [pub.table("sustained_outcomes", f"Share of end-of-support levels sustained (no loss of a "
                                  f"stage) 6, 12 and 24 months after a planned end, by outcome area, {a.area}, "
                                  f"data to {end:%d %B %Y}", sus, ["n", "at_risk"], specs=sus_specs,
                                  free=("months",)),
              pub.table("re_referral", f"Re-referral after a planned end, {a.area} (died, moved "
                                  "away: percentages, the competing events)", rr,
                                  [c for c in ("n", "at_risk") if c in rr.columns], specs=rr_specs,
                                  free=("months",))]
    text = ("After a planned end of support, follow-up readings show whether the level reached was kept. The "
            "share sustained is estimated allowing for the interval between follow-ups (Turnbull estimator), "
            f"with 95% bootstrap intervals ({n_boot} replicates, seed {a.seed}); re-referral is a cumulative "
            "incidence. Both use all episodes that ended by the year's end.")
    curves = res.curves.assign(outcome=[domain.OUTCOMES[c].name if c in domain.OUTCOMES else c
                                        for c in res.curves["outcome"]])
    kept, notes = curve_points(curves, sus, "percent_sustained", "outcome")
    figs = []
    if len(kept):
        import dataclasses

        import matplotlib

        matplotlib.use("Agg")
        top = (sus.assign(n=pd.to_numeric(sus["n"], errors="coerce")).drop_duplicates("outcome")
               .nlargest(8, "n")["outcome"])
        kept = kept[kept["outcome"].isin(set(top))]
        fig = dataclasses.replace(res, curves=kept).plot(max_groups=8).figure
        fig.axes[0].set_title(f"{a.label}: outcome levels sustained after a planned end", fontsize=10)
        figs.append(pub.figure(
            "sustained_outcomes", "Share of end-of-support levels sustained by months after a planned end, by "
            "outcome area (the 8 areas with the most episodes followed), with 95% bootstrap bands; drawn "
            "through the points the disclosure rule allows", fig,
            kept[["outcome", "time", "survival", "ci_lower", "ci_upper", "n"]]))
    return Section("lasting_impact", "Lasting impact", text, tables, figs, notes)


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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Only the curves are published: covariates=None skips the Cox model, which the report does
            # not show and which is most of the cost at national scale.
            res = time_to_independence(a.year_study, outcome=code, stage=stage, covariates=None,
                                       n_boot=n_boot, seed=a.seed)
    except ValueError as exc:
        return Section("time_to_independence", f"Time to independence: {name}", "", notes=[
            f"Time to independence could not be estimated for {a.area}: {publishable_reason(exc)}"])
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
    tables = [pub.table("time_to_independence", f"Share reaching stage {stage} in {name} within 6, 12 "
                                  f"and 24 months of the start of support (95% interval of the share reaching "
                                  f"it), {a.label}", t, [c for c in ("n", "at_risk") if c in t.columns],
                                  specs=specs, free=("months",))]
    text = (f"For episodes active in the year that started below stage {stage} in *{name}*, the time to the first "
            f"reading at stage {stage} ({domain.SCALE[stage].lower()}), allowing for the interval between "
            "readings (Turnbull estimator)"
            + (f", with 95% percentile bootstrap intervals ({n_boot} replicates, seed {a.seed})." if n_boot
               else "; no intervals (n_boot=0)."))
    kept, notes = curve_points(res.curves, t, "percent_not_yet", None)
    if within:
        notes = [f"The episodes followed here differ in number from the distance table's episodes compared in "
                 f"{name} by fewer than 5 (episodes already at stage {stage} at their first reading, or scored "
                 "twice only after support ended): the two numbers together would reveal them, so this table "
                 "and its figure are suppressed."]
    figs = []
    if len(kept):
        import dataclasses

        import matplotlib

        matplotlib.use("Agg")
        ax = dataclasses.replace(res, curves=kept).plot(at_risk=False)
        fig = ax.figure
        ax.set_title(f"{a.label}: time to stage {stage} in {name}", fontsize=10)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        figs.append(pub.figure(
            "time_to_independence", f"Share not yet at stage {stage} in {name} by months since support started, "
            + ("with its 95% bootstrap band; " if n_boot else "") + "drawn through the points the disclosure rule "
            "allows (no numbers at risk are drawn)", fig, kept[["time", "survival", "ci_lower", "ci_upper", "n"]]))
    return Section("time_to_independence", f"Time to independence: {name}", text, tables, figs, notes)


def curve_points(curves: pd.DataFrame, table: pd.DataFrame, value: str,
                  by: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The points of survival curves a figure may draw, and notes on what it leaves out and why.

    A group is drawn only when its base ``n`` is published and at least 5. Within it, the points of the
    monthly grid are a series with the table's months (:func:`longitudinal.disclosure.series_mask`): the
    months the table shows are kept first, the months it hides are never drawn, and a grid point is drawn
    only if neither it, nor what it leaves out, nor its difference from any point drawn comes to 1-4 people.
    Lines join the points drawn.
    """
    keep, left_out = [], []
    groups = [(None, curves)] if by is None else list(curves.groupby(by, observed=True, sort=True))
    for key, sub in groups:
        rows = table if by is None else table[table[by] == key]
        label = "" if by is None else f"{key}: "
        n = rows["n"].iloc[0] if len(rows) else dc.SECONDARY
        if not is_number(n) or n < dc.THRESHOLD:
            left_out.append(f"{label}fewer than {dc.THRESHOLD} episode-areas, or a base that is suppressed")
            continue
        sub = sub.sort_values("time")
        shown = {float(m): v for m, v in zip(rows["months"], rows[value])}
        t = sub["time"].to_numpy(dtype=float)
        first = [i for i, x in enumerate(t) if x in shown and is_number(shown[x])]
        forbid = [i for i, x in enumerate(t) if x in shown and not is_number(shown[x])]
        hidden = dc.series_mask(n * (1 - sub["survival"].to_numpy(dtype=float)), n, first=first, forbid=forbid)
        if (~hidden).sum() < 2:
            left_out.append(f"{label}too few points can be drawn without revealing 1-4 people")
            continue
        keep.append(sub[~hidden].assign(n=int(n)))
    notes = []
    if left_out:
        what = "The curve is" if by is None else "Curves are"
        notes.append(f"{what} not drawn for " + "; ".join(left_out) + " (a curve of so few would show single "
                     "people's events).")
    return (pd.concat(keep, ignore_index=True) if keep else curves.iloc[:0]), notes

