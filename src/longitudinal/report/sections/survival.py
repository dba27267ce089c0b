"""Lasting impact after a planned end, and time to independence: survival curves as they may be published."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ... import domain
from ...errors import LongitudinalError
from ...i18n import N_, Area, Items, Msg, Number, Verbatim
from ...palette import figure_style, series_style
from ...study import Study
from .. import counts as ct, protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section, is_number, publishable_reason

if TYPE_CHECKING:  # the analysis is imported when the section runs: the report package stays light to import
    from ...attrition import AttritionResults

#: Imputations behind the report's imputed share and tipping point: fewer than the interactive default, to keep
#: the annual run of 23 areas within its time; the section's text states the Monte Carlo error this leaves
#: (national study, Wales at 12 months: 0.12 percentage points beside an interval of +-0.8; docs/benchmarks.md).
REPORT_IMPUTATIONS = 5
#: The stated level of the tipping point: the share keeping their end stage 12 months after a planned end.
TIPPING_LEVEL = 0.5
TIPPING_MONTH = 12
#: Fewest episode-areas due a follow-up for the weighted and imputed estimates (a response model of some 70
#: terms and an imputation model are fitted on them): below it only the flow and the complete cases are shown.
MIN_DUE = 100
#: Fewest effective observations (Kish: (sum w)^2 / sum w^2) behind a weighted share for it to be shown: a
#: response model fitted on a small area can give a few people most of the weight (at 300 simulated people, an
#: effective size of 2 of 151 followed up), and then the share and its interval describe those few.
MIN_ESS = 100
ENDED_PLANNED = ct.ENDED_PLANNED
FOLLOW_UP_LABELS = ct.FOLLOW_UP_LABELS
#: The estimates table: each method's share kept, in percent, with its interval, and the count it is a share of.
ESTIMATE_COLUMNS = {"complete_case": ("percent_kept_followed_up", "followed_up"),
                    "ipw": ("percent_kept_weighted", "due"), "mi": ("percent_kept_imputed", "due")}
ESTIMATE_SPECS = tuple(
    spec for col, base in ESTIMATE_COLUMNS.values()
    for spec in (dc.Share(col, base, scale=100, decimals=1),
                 dc.Together((col, f"{col}_ci_lower", f"{col}_ci_upper"))))
#: The tipping point in plain words: where the grid crosses the level, beyond the grid, or below it already.
TIP_AT = N_("The finding that at least {level}% keep their end stage 12 months after a planned end would change "
            "only if the people not followed up had scored on average {delta} stages lower at follow-up than "
            "similar people who were followed up.")
TIP_BEYOND = N_("The finding that at least {level}% keep their end stage 12 months after a planned end holds even if "
                "the people not followed up had scored on average {delta} stages lower at follow-up than similar "
                "people who were followed up (the largest shift examined).")
TIP_BELOW = N_("Fewer than {level}% kept their end stage 12 months after a planned end ({pct}%, imputed), before any "
               "allowance for the people not followed up doing worse than those who were.")


def survival_table(t: pd.DataFrame, values: dict[str, str], counts: pd.DataFrame, *,
                   ci: bool = True) -> tuple[pd.DataFrame, tuple]:
    """A curve's table (rows: months, per group) as published, and its disclosure declarations.

    ``values`` maps the shares (0-1) to publish as percentages to their published names; the first is the
    estimate whose ``ci_lower`` / ``ci_upper`` are published with it (``ci``). ``counts``: the table's count
    table as the year's protection publishes it (``n`` and ``at_risk`` rounded to multiples of 5 with every
    area's, matched on the group and ``months``). The rows of one group (outcome) are a series: a share at 6
    months and one at 12 must not differ by 1-4 people; each share is hidden where, on the exact counts, it
    would imply, leave out or differ from another by 1-4 (:func:`~longitudinal.report.protect.suppress_shares`).
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
    for c in ("n", "at_risk"):
        t[c] = t[c].fillna(0).astype("int64")
    key = tuple(group) or ("n",)  # without groups the whole table is one series (n is the same in every row)
    names = list(values.values())
    shares = [dc.Share(v, "n", scale=100, series=key, decimals=1) for v in names]
    specs = (*shares, dc.Share("at_risk", "n", count=True, series=key), dc.Together((names[0], *cis)))
    tab = dc.suppress_shares(t, [*shares, specs[-1]])  # on the exact counts: the counts themselves are rounded
    on = [*group, "months"]
    pub = counts.astype({"months": "int64"}).set_index(on)[["n", "at_risk"]]
    got = pub.reindex(pd.MultiIndex.from_frame(tab[on].astype({"months": "int64"})) if len(on) > 1
                      else tab["months"].astype("int64"))
    if got.isna().any().any():
        raise LongitudinalError(f"the year's protection has no rounded count for rows {got[got.isna().any(axis=1)]}"
                                " of this table: it was computed from other data")
    tab["n"], tab["at_risk"] = got["n"].astype("int64").to_numpy(), got["at_risk"].astype("int64").to_numpy()
    return tab, specs


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
    # Everything known by the year's end: gains of earlier years can be followed up this year.
    upto = a.known_by_year_end
    lost = follow_up_losses(a, pub, upto, prot)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sustained_outcomes(upto, by="outcome", n_boot=n_boot, seed=a.seed, censor_date=end)
    except ValueError as exc:
        return Section("lasting_impact", N_("Lasting impact"), Items(tuple(lost.text), sep="\n\n"), lost.tables,
                       notes=[Msg("Lasting impact could not be estimated for {area}. The reason, as the model gives "
                                  "it (in English): {reason}", area=area, reason=Verbatim(publishable_reason(exc))),
                              *lost.notes], key_points=lost.points)
    at = res.at_months() if callable(res.at_months) else res.at_months
    sus_counts, rr_counts = (prot.table(a.area, name) for name in ("sustained_outcomes", "re_referral"))
    sus, sus_specs = survival_table(at, {"survival": "percent_sustained"}, sus_counts)
    rr, rr_specs = survival_table(res.rereferral, {"cumulative_incidence": "percent_re_referred",
                                                   "died": "died", "moved_away": "moved_away"}, rr_counts)
    rr, unlinked = _unlinked(rr, ("died", "moved_away"))
    sus_links = ct.across_links({"n": "sustained outcomes: areas followed | {row}",
                                 "at_risk": "sustained outcomes: at risk | {row} | {months}"})
    rr_links = ct.across_links({"n": "re-referral: planned ends followed",
                                "at_risk": "re-referral: at risk | {months}"}, ct.REREFERRAL_ACROSS)
    tables = [pub.table("sustained_outcomes", Msg("Share of end-of-support levels sustained (no loss of a stage) 6, "
                                                  "12 and 24 months after a planned end, by outcome area, {area}, "
                                                  "data to {end}", area=area, end=end), sus, ["n", "at_risk"],
                        specs=(*sus_specs, *sus_links), free=("months",), label_column="outcome",
                        rounded=prot.changes_of(a.area, "sustained_outcomes")),
              pub.table("re_referral", Msg("Re-referral after a planned end, {area}, data to {end} (died, moved away: "
                                           "percentages, the competing events)", area=area, end=end), rr,
                        ["n", "at_risk"], specs=(*rr_specs, *rr_links), free=("months",),
                        rounded=prot.changes_of(a.area, "re_referral")),
              *lost.tables]
    notes = []
    if unlinked:
        notes.append(N_("Deaths and moves away after support ended are not linked to these data: they are shown as "
                        "not available ([x]), not as 0."))
    text = Items((Msg("After a planned end of support, follow-up readings show whether the level reached was kept. The "
                      "share sustained is estimated allowing for the interval between follow-ups (Turnbull estimator), "
                      "with 95% bootstrap intervals ({n_boot} replicates, seed {seed}); re-referral is a cumulative "
                      "incidence. Both use all episodes that ended by the year's end, so their base differs from the "
                      "year's episodes used in the other sections.", n_boot=n_boot, seed=str(a.seed)),
                  *lost.text), sep="\n\n")
    notes += lost.notes
    curves = res.curves.assign(outcome=[domain.OUTCOMES[c].name if c in domain.OUTCOMES else c
                                        for c in res.curves["outcome"]])
    exact = at.assign(outcome=[domain.OUTCOMES[c].name if c in domain.OUTCOMES else c for c in at["outcome"]])
    kept, left_out = curve_points(curves, sus, "percent_sustained", "outcome",
                                  dict(zip(exact["outcome"], exact["n"])))
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
    return Section("lasting_impact", N_("Lasting impact"), text, tables, figs, notes, key_points=points + lost.points)


class _NotModelled(Exception):
    """Too few follow-ups due for the response and imputation models."""


@dataclass
class FollowUpLosses:
    """The lasting-impact section's part on follow-ups not obtained: its tables, text, notes and key points,
    and the attrition results they were published from (``None`` where they could not be computed)."""

    tables: list = field(default_factory=list)
    text: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    points: list = field(default_factory=list)
    complete_case: AttritionResults | None = None
    adjusted: AttritionResults | None = None


def follow_up_losses(a: AreaYear, pub: Publisher, upto: Study, prot: YearProtection) -> FollowUpLosses:
    """Who was not followed up after a planned end, and what that may change (issue 14).

    ``upto``: the area's data as known at the end of the report's year (all episodes started by then,
    readings to then); follow-ups are due if their date falls by the year's end. Publishes the flow
    (planned ends, follow-ups due, obtained, and why the others were not; counts rounded with the year's
    other counts, for every area at once: ``prot``) and, where at least :data:`MIN_DUE`
    episode-areas are due a 12-month follow-up, the share keeping their end stage among those followed
    up, weighted for non-response and imputed, side by side, with the tipping point of the imputed share
    at 12 months in plain words (the weighted and imputed shares of a month with fewer than :data:`MIN_DUE`
    due are not available, ``[x]``; the areas due are counted as published, rounded). All of it comes from
    one call of :func:`longitudinal.follow_up_attrition` with the package's defaults but
    :data:`REPORT_IMPUTATIONS`.
    """
    import inspect
    import warnings

    from ...attrition import follow_up_attrition

    end = domain.fy_bounds(a.year)[1]
    area = Area(a.area)
    out = FollowUpLosses()

    def attrition(**kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return follow_up_attrition(upto, by=(), censor_date=end, seed=a.seed, **kw)

    flow_counts = prot.table(a.area, "follow_up_flow")
    if len(flow_counts):
        flow, flow_specs = _flow_published(flow_counts)
        out.tables.append(pub.table(
            "follow_up_flow", Msg("Follow-ups after a planned end of support, {area}, episodes ended by {end}: due 6, "
                                  "12 and 24 months after the end, obtained, and why the others were not", area=area,
                                  end=end),
            flow, list(ct.FLOW_COUNTS), specs=flow_specs, label_column="follow_up",
            rounded=prot.changes_of(a.area, "follow_up_flow")))
        out.text.append(N_("Follow-ups are due 6, 12 and 24 months after a planned end of support. The flow table "
                           "counts the episodes that ended as planned by the year's end and, for each follow-up whose "
                           "date has passed, whether it was obtained and, if not, why: the person was referred again, "
                           "died, moved away, or could not be contacted. Deaths and moves away are known only from "
                           "linked records; where they are not linked they are shown as not available ([x]) and "
                           "counted under no contact or reason not known."))
        twelve = flow[flow["follow_up"] == FOLLOW_UP_LABELS[TIPPING_MONTH]]
        if len(twelve) and twelve["episodes"].iat[0] > 0:
            due, got = int(twelve["episodes"].iat[0]), int(twelve["obtained"].iat[0])
            out.points.append(Msg("Of {due} follow-ups due 12 months after a planned end of support, {got} ({pct}%) "
                                  "were obtained.", due=Number(due), got=Number(got), pct=Number(100 * got / due, 0)))

    # One analysis gives the complete cases and the adjusted estimates; the models are fitted only where at least
    # MIN_DUE areas are published as due a 12-month follow-up, and where they cannot be fitted (no follow-up
    # obtained at some month), the complete cases alone.
    est_counts = prot.table(a.area, "follow_up_estimates")
    due12 = est_counts.loc[est_counts["follow_up"] == FOLLOW_UP_LABELS[TIPPING_MONTH], "due"]
    due12 = int(due12.iat[0]) if len(due12) else 0
    res, why = None, None
    try:
        if due12 < MIN_DUE:
            raise _NotModelled
        res = attrition(m=REPORT_IMPUTATIONS, threshold=TIPPING_LEVEL, tipping_month=TIPPING_MONTH)
        cc = res
    except (_NotModelled, LongitudinalError, ValueError, np.linalg.LinAlgError) as exc:
        why = exc
        try:
            cc = attrition(methods=("complete_case",))
        except (LongitudinalError, ValueError) as exc2:
            reason = Verbatim(publishable_reason(exc2))
            out.notes.append(Msg("Lasting impact could not be estimated for {area}. The reason, as the model gives "
                                 "it (in English): {reason}", area=area, reason=reason) if len(flow_counts) else
                             Msg("Follow-ups after a planned end could not be counted for {area}. The reason, as "
                                 "the program gives it (in English): {reason}", area=area, reason=reason))
            return out
    out.complete_case = cc

    if due12 < MIN_DUE:
        out.notes.append(Msg("The share keeping their end stage is not estimated with weights or imputation for "
                             "{area}: fewer than {n} outcome areas of episodes were due a 12-month follow-up.",
                             area=area, n=MIN_DUE))
        return out
    if res is None:
        out.notes.append(Msg("The share keeping their end stage could not be estimated with weights or imputation "
                             "for {area}. The reason, as the program gives it (in English): {reason}", area=area,
                             reason=Verbatim(publishable_reason(why))))
        return out
    out.adjusted = res
    est, est_specs, est_cols = _estimates_published(res, est_counts)
    out.tables.append(pub.table(
        "follow_up_estimates", Msg("Share of outcome areas keeping their end-of-support stage 6, 12 and 24 months "
                                   "after a planned end, {area}, data to {end}: among those followed up, weighted for "
                                   "those not followed up, and with their follow-ups imputed (95% confidence "
                                   "intervals)", area=area, end=end),
        est, est_cols, specs=est_specs, label_column="follow_up",
        rounded=prot.changes_of(a.area, "follow_up_estimates")))
    pooled = res.estimates[(res.estimates["quantity"] == "sustained") & (res.estimates["month"] == TIPPING_MONTH)]
    mi = pooled[pooled["method"] == "mi"].iloc[0]
    out.text.append(Msg(
        "People who are not followed up may be doing better or worse than those who are, so the share of outcome "
        "areas (with a need at the end of support) keeping their end stage is estimated three ways: among those "
        "followed up only; weighted by the inverse of each one's estimated chance of being followed up, from a "
        "logistic model of what was known at the end of support (outcome area, end stage, lead need, service "
        "type, age band, sex, local authority, length of support and whether the person was referred again; "
        "weights stabilised, not truncated); and by imputing the missing follow-up scores by chained equations "
        "with predictive mean matching, pooled by Rubin's rules. The report uses {m} imputations (seed {seed}) "
        "rather than the {default} of the interactive analysis, to keep the annual run of every area within its time: "
        "the Monte Carlo error this leaves in the imputed share at 12 months is {mc} percentage points, against a "
        "95% confidence interval of {lo}% to {hi}%. Weighting and imputation allow for differences in what was "
        "known at the end of support; they cannot allow for people doing worse for reasons not recorded. So the "
        "imputed scores of those not followed up are also shifted down, by up to {most} stages, to find the shift "
        "at which the conclusion would change (the tipping point).", m=REPORT_IMPUTATIONS, seed=str(a.seed),
        default=inspect.signature(follow_up_attrition).parameters["m"].default,
        mc=Number(100 * float(mi["mc_se"]), 2), lo=Number(100 * float(mi["ci_lower"]), 1),
        hi=Number(100 * float(mi["ci_upper"]), 1), most=Number(-float(res.sensitivity["delta"].min()), 1)))
    ess = res.estimates.loc[(res.estimates["quantity"] == "sustained") & (res.estimates["method"] == "ipw"), "ess"]
    if (ess < MIN_ESS).any():
        out.notes.append(Msg("A weighted share is not shown ([x]) where the weights are too uneven to rely on: fewer "
                             "than {n} effective observations (a few people would carry most of the weight).",
                             n=MIN_ESS))
    row = est[est["follow_up"] == FOLLOW_UP_LABELS[TIPPING_MONTH]]
    c, w, i = (row[col].iat[0] if len(row) else np.nan for col, _ in ESTIMATE_COLUMNS.values())
    if is_number(c) and is_number(i):
        finding = (Msg("Twelve months after a planned end, {cc}% of the outcome areas followed up had kept their end "
                       "stage; allowing for those not followed up, {ipw}% (weighted) and {mi}% (imputed).",
                       cc=Number(c, 1), ipw=Number(w, 1), mi=Number(i, 1)) if is_number(w) else
                   Msg("Twelve months after a planned end, {cc}% of the outcome areas followed up had kept their end "
                       "stage; allowing for those not followed up, {mi}% (imputed).", cc=Number(c, 1),
                       mi=Number(i, 1)))
        out.text += [finding, _tipping_words(res, i)]
        out.points += [finding, _tipping_words(res, i)]
    else:
        out.notes.append(Msg("The 12-month estimates for {area} are hidden by the disclosure rule, and with them the "
                             "tipping point.", area=area))
    return out


def _tipping_words(res: AttritionResults, imputed_pct: float) -> Msg:
    """The tipping point of the imputed share at 12 months in plain words (the shift in stages is a model
    quantity, not a count)."""
    level, t = Number(100 * TIPPING_LEVEL, 0), res.tipping_point
    if t is None or np.isnan(t):
        return Msg(TIP_BEYOND, level=level, delta=Number(-float(res.sensitivity["delta"].min()), 1))
    if t == 0:
        return Msg(TIP_BELOW, level=level, pct=Number(imputed_pct, 1))
    return Msg(TIP_AT, level=level, delta=Number(-float(t), 2))


def _flow_published(counts: pd.DataFrame):
    """The flow as published: planned ends, then per follow-up month the due, obtained and reasons, rounded with
    every area's (each due is obtained plus the reasons; a later month's due is part of an earlier one's);
    deaths and moves, where not linked, not available ([x]), never a count."""
    out = counts[["follow_up", *ct.FLOW_COUNTS]].copy()
    linked = bool(out[["died", "moved_away"]].notna().to_numpy().any())
    if not linked:
        out["died"] = out["moved_away"] = np.nan
    parts = tuple(c for c in ct.FLOW_COUNTS[1:] if linked or c not in ("died", "moved_away"))
    links = ct.across_links({c: f"follow-up flow: {c} | {{row}}" for c in ct.FLOW_COUNTS
                             if linked or c not in ("died", "moved_away")}, ct.FLOW_ACROSS)
    return out, (dc.Total(column="episodes", parts=parts), *ct.nested(list(out["follow_up"]), ["episodes"]), *links)


def _estimates_published(res: AttritionResults, counts: pd.DataFrame):
    """Per follow-up month: the outcome areas due and followed up through it (rounded with every area's), and each
    method's share kept with its interval, in percent, hidden where on the exact counts the count it implies, or
    leaves out, of its base is small."""
    e = res.estimates[res.estimates["quantity"] == "sustained"]
    rows = []
    for month, g in e.groupby("month", sort=True):
        g = g.set_index("method")
        row = {"follow_up": ct.month_label(month), "due": int(g["n_due"].iat[0]),
               "followed_up": int(g["n_obtained"].iat[0])}
        for meth, (col, _) in ESTIMATE_COLUMNS.items():
            for suffix, key in (("", "estimate"), ("_ci_lower", "ci_lower"), ("_ci_upper", "ci_upper")):
                row[col + suffix] = round(100 * float(g.at[meth, key]), 1)
        if not g.at["ipw", "ess"] >= MIN_ESS:  # weights too uneven to rely on: not available ([x])
            col = ESTIMATE_COLUMNS["ipw"][0]
            row.update({col: np.nan, f"{col}_ci_lower": np.nan, f"{col}_ci_upper": np.nan})
        rows.append(row)
    exact = pd.DataFrame(rows)
    cols = ["due", "followed_up"]
    pub = counts.set_index("follow_up").reindex(exact["follow_up"])
    if pub[cols].isna().any().any():
        raise LongitudinalError("the year's protection has no rounded count for some follow-up months here: it was "
                                "computed from other data")
    # too few due at a month (as published) for the response and imputation models: not available there ([x])
    few = pub["due"].to_numpy() < MIN_DUE
    for col, base in ESTIMATE_COLUMNS.values():
        if base == "due":
            exact.loc[few, [col, f"{col}_ci_lower", f"{col}_ci_upper"]] = np.nan
    tab = dc.suppress_shares(exact, ESTIMATE_SPECS)  # on the exact counts: the counts themselves are rounded
    for c in cols:
        tab[c] = pub[c].astype("int64").to_numpy()
    sums = (dc.Sum(("followed_up",), "due"), *ct.nested(list(tab["follow_up"]), cols))
    links = ct.across_links({c: f"follow-up areas: {c} | {{row}}" for c in cols})
    return tab, (*ESTIMATE_SPECS, *sums, *links), cols


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
    # The counts as the year's protection rounded them with every area's (another outcome: rounded alone).
    if code == a.headline_outcome:
        counts, rounded = prot.table(a.area, "time_to_independence"), prot.changes_of(a.area, "time_to_independence")
    else:
        counts, rounded = prot.round_alone(a.area, ct.independence_counts(a, code, stage))
    # The interval of the share reaching the stage is that of the share not yet there, turned over.
    sa = res.survival_at.assign(ci_lower=1 - res.survival_at["ci_upper"], ci_upper=1 - res.survival_at["ci_lower"])
    t, specs = survival_table(sa, {"reached": "percent_reached", "survival": "percent_not_yet"}, counts,
                              ci=n_boot > 0)
    together = dc.Together(("percent_reached", "percent_not_yet"))
    t = dc.suppress_shares(t, [together, *(s for s in specs if isinstance(s, dc.Together))])
    specs = (*specs, together, *ct.across_links({
        "n": f"time to stage {stage} in {code}: episodes followed",
        "at_risk": f"time to stage {stage} in {code}: not yet there | {{months}}"}))
    t = t[[c for c in ("months", "percent_not_yet", "percent_reached", "ci_lower", "ci_upper", "at_risk", "n")
           if c in t.columns]]
    tables = [pub.table("time_to_independence", Msg("Share reaching stage {stage} in {outcome} within 6, 12 and 24 "
                                                    "months of the start of support (95% interval of the share "
                                                    "reaching it), {area}, {year}", stage=str(stage), outcome=oname,
                                                    area=area, year=fy),
                        t, ["n", "at_risk"], specs=specs, free=("months",), rounded=rounded)]
    text = Msg("For episodes active in the year that started below stage {stage} in *{outcome}*, the time to the "
               "first reading at stage {stage} ({label}), allowing for the interval between readings (Turnbull "
               "estimator), with 95% percentile bootstrap intervals ({n_boot} replicates, seed {seed}).",
               stage=str(stage), outcome=oname, label=Msg(domain.SCALE[stage]), n_boot=n_boot, seed=str(a.seed))
    exact_n = {None: int(res.survival_at["n"].iloc[0]) if len(res.survival_at) else 0}
    kept, notes = curve_points(res.curves, t, "percent_not_yet", None, exact_n)
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


def curve_points(curves: pd.DataFrame, table: pd.DataFrame, value: str, by: str | None,
                 exact_n: dict | None = None) -> tuple[pd.DataFrame, list]:
    """The points of survival curves a figure may draw, and notes on what it leaves out and why.

    A group is drawn only when its base ``n`` is published and at least 5. Within it, the points of the
    monthly grid are a series with the table's months (:func:`longitudinal.disclosure.series_mask`): the
    months the table shows are kept first, the months it hides are never drawn, and a grid point is drawn
    only if neither it, nor what it leaves out, nor its difference from any point drawn comes to 1-4 people.
    Lines join the points drawn. ``exact_n``: where the table's ``n`` is rounded, the exact base of each group
    (``{group: n}``; ``None`` for the one group of ``by=None``), on which the points are judged as the table's
    shares are; the points drawn carry the published ``n``.
    """
    keep, few, sparse = [], [], []
    groups = [(None, curves)] if by is None else list(curves.groupby(by, observed=True, sort=True))
    for key, sub in groups:
        rows = table if by is None else table[table[by] == key]
        shown_n = rows["n"].iloc[0] if len(rows) else dc.SECONDARY
        n = shown_n if exact_n is None else exact_n.get(key, dc.SECONDARY)
        if not is_number(shown_n) or not is_number(n) or n < dc.THRESHOLD:
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
        keep.append(sub[~hidden].assign(n=int(shown_n)))
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
