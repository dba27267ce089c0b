"""Time from the start of support to the first reading at a stage: interval-censored curves and a Cox model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..deprecation import renamed_arguments
from ..errors import NoDataError
from ..results import Results, Summary, axes_for
from ..study import Study
from .cox import cox_model, design_matrix
from .interval import bootstrap_band, fit_with_bootstrap, median_time, median_times
from .tables import (
    GROUPABLE,
    MONTH_DAYS,
    at_risk_count,
    check_columns,
    collapse_same_day,
    exclusion_table,
    group_keys,
    group_label,
    outcome_codes,
    scored_readings,
)

__all__ = ["IndependenceResults", "time_to_independence"]


@dataclass(repr=False)
class IndependenceResults(Results):
    """Results of :func:`time_to_independence` (times in months since support started).

    Attributes
    ----------
    stage : int
        The stage whose first reading is the event.
    by : list of str
        Grouping columns of the curves.
    data : DataFrame
        One row per episode × area analysed: ``lower, upper`` (months; the stage
        was reached in ``(lower, upper]``, ``upper = inf`` when not seen), ``event``,
        ``seen_time`` (months to the reading that first showed it, or to the last
        reading), ``start_score`` and the episode's attributes.
    curves : DataFrame
        Group columns, ``time`` (months), ``survival`` (share not yet at the stage),
        ``ci_lower``, ``ci_upper``, ``at_risk`` on a monthly grid (Turnbull NPMLE).
    median : DataFrame
        Group columns, ``n``, ``events``, ``median`` (months), ``ci_lower``, ``ci_upper``.
    survival_at : DataFrame
        Group columns, ``months``, ``survival``, ``ci_lower``, ``ci_upper``,
        ``reached`` (1 - survival), ``at_risk``, ``n``.
    km : dict
        Group label → lifelines ``KaplanMeierFitter`` on ``seen_time`` (right-censored;
        biased late because it dates the event at the reading that shows it).
    cox : lifelines.CoxPHFitter or None
        The proportional-hazards model (event time at the interval midpoint).
    hazard_ratios : DataFrame
        ``covariate, estimate`` (log hazard ratio), ``std_error, hazard_ratio, ci_lower, ci_upper, p_value``.
    ph_test : DataFrame
        Schoenfeld-residual test per covariate (``test_statistic, p_value``), rank time transform.
    exclusions : DataFrame
        ``reason, n, description``: what was left out and why.
    """

    stage: int
    by: list[str]
    data: pd.DataFrame
    curves: pd.DataFrame
    median: pd.DataFrame
    survival_at: pd.DataFrame
    km: dict[str, Any]
    cox: Any
    hazard_ratios: pd.DataFrame
    ph_test: pd.DataFrame
    exclusions: pd.DataFrame
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    def summary(self) -> Summary:
        """Counts, exclusions, medians, survival at 6/12/24 months, Cox and PH test (text; tables in Jupyter)."""
        lines = [f"Time to independence: first reading at stage >= {self.stage}",
                 f"episode-areas analysed: {len(self.data):,}; reached the stage: {int(self.data['event'].sum()):,}",
                 "", "Excluded:", self.exclusions.to_string(index=False), "",
                 "Median months to the stage (Turnbull NPMLE, bootstrap CI):", self.median.to_string(index=False), "",
                 "Share not yet at the stage:", self.survival_at.to_string(index=False)]
        if self.cox is not None:
            lines += ["", "Cox proportional hazards (hazard ratio > 1: reaches the stage sooner):",
                      self.hazard_ratios.to_string(index=False), "",
                      "Proportional-hazards test (Schoenfeld residuals, rank time):",
                      self.ph_test.to_string(index=False)]
            viol = self.ph_test.loc[self.ph_test["p_value"] < self.alpha, "covariate"].tolist()
            lines.append("PH assumption: " + (f"no evidence against it at alpha={self.alpha:g}" if not viol else
                                              "violated for " + ", ".join(map(str, viol))
                                              + " (read those hazard ratios as time-averaged)"))
        lines += self.notes
        tables = {"Excluded": self.exclusions, "Median months to the stage": self.median,
                  "Share not yet at the stage": self.survival_at}
        if self.cox is not None:
            tables |= {"Cox proportional hazards": self.hazard_ratios, "Proportional-hazards test": self.ph_test}
        return Summary("\n".join(lines), tables, head="\n".join(lines[:2]),
                       notes=[ln for ln in lines if ln.startswith("PH assumption")] + self.notes)

    def _repr_fields(self) -> dict[str, Any]:
        return {"stage": self.stage, "by": self.by, "n": len(self.data), "events": int(self.data["event"].sum())}

    def tidy(self) -> pd.DataFrame:
        """The share not yet at the stage at the chosen months: group columns, ``months``, ``estimate``,
        ``ci_lower``, ``ci_upper``, ``at_risk``, ``n``."""
        return self.survival_at.rename(columns={"survival": "estimate"}).drop(columns="reached")

    def plot(self, ax=None, *, at_risk: bool = True, max_groups: int = 8):
        """Curves of the share not yet at the stage, with at-risk counts under the axis.

        Solid lines are the interval-censored NPMLE with its bootstrap band; the
        at-risk table comes from lifelines ``add_at_risk_counts`` on the
        Kaplan–Meier fitted to the date the stage was seen. Returns the matplotlib Axes.
        """
        ax = axes_for(ax, figsize=(8, 5.5), constrained_layout=False)
        # label each curve from its own group key so that it meets its own Kaplan-Meier at-risk row
        groups = list(self._curve_groups())[:max_groups]
        labels = [lab for lab, _ in groups]
        for lab, sub in groups:
            line, = ax.plot(sub["time"], sub["survival"], label=lab)
            ax.fill_between(sub["time"], sub["ci_lower"], sub["ci_upper"], alpha=0.15, color=line.get_color())
        ax.set_xlabel("Months since support started")
        ax.set_ylabel(f"Share not yet at stage {self.stage}")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize="small")
        if at_risk and labels:
            from lifelines.plotting import add_at_risk_counts

            add_at_risk_counts(*[self.km[k] for k in labels], ax=ax, rows_to_show=["At risk"])
        ax.figure.tight_layout()
        return ax

    def _curve_groups(self):
        if not self.by:
            yield "all", self.curves
            return
        for key, sub in self.curves.groupby(self.by, observed=True, sort=True):
            key = key if isinstance(key, tuple) else (key,)
            yield group_label(dict(zip(self.by, key))), sub


@renamed_arguments(study="data")
def time_to_independence(
    data: Study | pd.DataFrame,
    outcome: str | Sequence[str] | None = None,
    *,
    stage: int = 5,
    by: str | Sequence[str] | None = None,
    covariates: Sequence[str] | None = ("lead_need", "service_type", "age_band", "start_score"),
    months: Sequence[float] = (6, 12, 24),
    n_boot: int = 100,
    alpha: float = 0.05,
    seed: int = 0,
    min_level_events: int = 5,
    penalizer: float = 0.0,
) -> IndependenceResults:
    """Time from the start of support to the first reading at or above ``stage``, per outcome area.

    Parameters
    ----------
    data : Study or DataFrame
        A study, or a long table of readings shaped like :meth:`Study.long` (at least
        ``episode_id, person_id, outcome, reading_date, score, start_date, end_date``; follow-up
        readings are left out when it has ``reading_type``; ``by``/``covariates`` columns as named).
    outcome : str, list of str, "all" or None
        Outcome area(s). ``None`` or ``"all"``: every area, with ``outcome``
        added to the groups (curves are per area; the Cox model is stratified by area).
    stage : int, default 5
        The stage (1..5) whose first reading is the event.
    by : str or list of str, optional
        Group columns for the curves, any of ``lead_need, service_type,
        local_authority, provider_id, age_band, sex, financial_year, start_score``.
    covariates : list of str or None
        Cox model covariates (categorical ones get indicator columns against their
        most common level; levels with fewer than ``min_level_events`` events are
        pooled as ``other``). ``None`` or empty: no Cox model.
    months : list of float
        Times for ``survival_at``.
    n_boot : int, default 200
        Bootstrap replicates for the NPMLE's confidence intervals (0: none).
    alpha : float
        1 - confidence level.
    seed : int
        Seed of the bootstrap.
    penalizer : float
        Ridge penalty passed to lifelines ``CoxPHFitter``.

    Returns
    -------
    IndependenceResults

    Notes
    -----
    Readings during support only (follow-ups are not support). Per episode and
    area the first reading is the baseline; episode-areas whose first reading
    is already at the stage are excluded and counted (``at_stage_at_start``),
    as are those with a single reading (nothing to follow), readings dated
    before the episode started, and same-day duplicates (the lower score is
    kept). The Cox model dates each event at the midpoint of its interval (a
    standard approximation; lifelines has no interval-censored Cox model) and
    uses robust standard errors clustered on the person, since a person's
    areas and episodes are not independent. Those SEs and the PH test use
    lifelines' formulas with the residuals computed in O(n p) rather than by
    lifelines' quadratic loops (same values; see ``fast_cox_class``): 166,364
    episode-areas take about 10 s instead of about 15 minutes.

    Examples
    --------
    >>> import longitudinal as lg
    >>> r = lg.time_to_independence(lg.simulate(people=500, seed=4), "feeling_safe", stage=4, n_boot=10)
    >>> r.survival_at.columns.tolist()[:3]
    ['months', 'survival', 'ci_lower']
    """
    study = data
    if stage not in (2, 3, 4, 5):
        raise ValueError(f"stage must be one of 2, 3, 4, 5 (the Journey of Change scale), got {stage!r}")
    codes = outcome_codes(outcome)
    by = [] if by is None else check_columns(by, GROUPABLE, "time_to_independence(by=...)")
    if codes is None or len(codes) > 1:
        by = ["outcome"] + [b for b in by if b != "outcome"]
    covariates = ([] if not covariates
                  else check_columns(covariates, GROUPABLE, "time_to_independence(covariates=...)"))

    long = scored_readings(study, codes, include_follow_up=False, need=[*by, *covariates], who="time_to_independence")
    counts: dict[str, tuple[int, str]] = {}
    if long.empty:
        raise NoDataError(f"time_to_independence: no scored readings during support for outcome {outcome!r}")
    in_support = long["end_date"].isna() | (long["reading_date"] <= long["end_date"])
    counts["after_end_of_support"] = (int((~in_support).sum()),
                                      "readings (not follow-ups) dated after the episode ended")
    long = long[in_support]
    neg = long["reading_date"] < long["start_date"]
    counts["before_start"] = (int(neg.sum()), "readings dated before the episode started (dropped)")
    long = long[~neg]
    keys = ["episode_id", "outcome"]
    long, n_dup = collapse_same_day(long, keys)
    counts["same_day_duplicates"] = (n_dup, "episode-areas-days with several readings: lower score kept")
    long = long.sort_values(keys + ["reading_date"], kind="stable")

    t = ((long["reading_date"] - long["start_date"]).dt.days / MONTH_DAYS).to_numpy()
    score = long["score"].to_numpy(dtype=float)
    gid = long.groupby(keys, observed=True, sort=False).ngroup().to_numpy()
    first = np.r_[True, gid[1:] != gid[:-1]]
    n_in = np.bincount(gid)
    start_score = score[first]
    n_groups = gid.max() + 1
    reach = score >= stage
    reach_after = reach & ~first
    # first reading at the stage (after the baseline) per group
    idx = np.arange(t.size)
    first_hit = np.full(n_groups, -1)
    hits = idx[reach_after]
    hit_g = gid[reach_after]
    uniq, pos = np.unique(hit_g, return_index=True)
    first_hit[uniq] = hits[pos]
    last_idx = np.r_[np.flatnonzero(first)[1:] - 1, t.size - 1]
    ev = first_hit >= 0
    lower = np.where(ev, t[np.maximum(first_hit - 1, 0)], t[last_idx])
    upper = np.where(ev, t[np.maximum(first_hit, 0)], np.inf)
    seen = np.where(ev, upper, lower)
    base = long.loc[first, keys + ["person_id"] + [c for c in GROUPABLE if c in long.columns and c != "outcome"]]
    data = base.reset_index(drop=True)
    data["start_score"] = start_score.astype(int)
    data["n_readings"] = n_in
    data["lower"], data["upper"], data["event"], data["seen_time"] = lower, upper, ev.astype(int), seen
    at_start = start_score >= stage
    single = (n_in == 1) & ~at_start
    counts["at_stage_at_start"] = (int(at_start.sum()), f"first reading already at stage >= {stage}")
    counts["single_reading"] = (int(single.sum()), "only one reading in the area: nothing to follow")
    data = data[~at_start & ~single].reset_index(drop=True)
    if data.empty:
        raise ValueError(f"time_to_independence: no episode-area can be followed to stage {stage} "
                         f"(all excluded: {counts})")

    rng = np.random.default_rng(seed)
    from lifelines import KaplanMeierFitter

    grid_max = float(np.nanmax(np.where(np.isfinite(data["upper"]), data["upper"], data["lower"])))
    grid = np.arange(0, np.floor(grid_max) + 1, 1.0)
    curves, medians, at_rows, kms = [], [], [], {}
    for key, sub in group_keys(data, by):
        lo, hi = sub["lower"].to_numpy(), sub["upper"].to_numpy()
        times = np.r_[grid, np.asarray(months, float)]
        curve, boots = fit_with_bootstrap(lo, hi, n_boot=n_boot, rng=rng)
        est, cl, cu = bootstrap_band(curve, boots, times, alpha)
        g = len(grid)
        curves.append(pd.DataFrame({**key, "time": grid, "survival": est[:g], "ci_lower": cl[:g],
                                    "ci_upper": cu[:g], "at_risk": [at_risk_count(lo, x) for x in grid]}))
        for m, s, a_, b_ in zip(months, est[g:], cl[g:], cu[g:]):
            at_rows.append({**key, "months": m, "survival": s, "ci_lower": a_, "ci_upper": b_,
                            "reached": 1 - s, "at_risk": at_risk_count(lo, m), "n": len(sub)})
        med = median_time(curve)
        med_ci = (np.nan, np.nan)
        if boots:
            # a replicate that never reaches 0.5 has its median beyond follow-up: +inf
            bm = median_times(boots)
            bm = np.where(np.isnan(bm), np.inf, bm)
            q = np.quantile(bm, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")  # no inf - inf
            med_ci = (float(q[0]) if np.isfinite(q[0]) else np.nan, float(q[1]) if np.isfinite(q[1]) else np.nan)
        medians.append({**key, "n": len(sub), "events": int(sub["event"].sum()), "median": med,
                        "ci_lower": med_ci[0], "ci_upper": med_ci[1]})
        km = KaplanMeierFitter(alpha=alpha).fit(sub["seen_time"], sub["event"], label=group_label(key))
        kms[group_label(key)] = km

    cox, hr, ph = None, pd.DataFrame(), pd.DataFrame()
    notes: list[str] = []
    if covariates and int(data["event"].sum()) < 2:
        notes.append("Cox model not fitted: fewer than 2 episode-areas reached the stage")
    elif covariates:
        cox, hr, ph, cox_notes = _fit_cox(data, covariates, strata=["outcome"] if "outcome" in by else [],
                                          alpha=alpha, min_level_events=min_level_events, penalizer=penalizer)
        notes += cox_notes
    return IndependenceResults(
        stage=stage, by=by, data=data, curves=pd.concat(curves, ignore_index=True),
        median=pd.DataFrame(medians), survival_at=pd.DataFrame(at_rows), km=kms, cox=cox,
        hazard_ratios=hr, ph_test=ph, exclusions=exclusion_table(counts), alpha=alpha, notes=notes)


def _fit_cox(data, covariates, *, strata, alpha, min_level_events, penalizer):
    X, notes = design_matrix(data, covariates, min_level_events)
    mid = np.where(data["event"] == 1, (data["lower"] + data["upper"]) / 2, data["lower"])
    T = np.maximum(mid, 1e-6)  # a right-censored time of 0 carries no information; keep lifelines happy
    cph, hr, ph = cox_model(X, T, data["event"].to_numpy(), cluster=data["person_id"],
                       strata={s: data[s] for s in strata}, alpha=alpha, penalizer=penalizer)
    notes.append("Cox: event dated at the midpoint of (previous reading, reading that showed the stage]; "
                 "robust SEs clustered on person" + (f"; stratified by {strata}" if strata else ""))
    return cph, hr, ph, notes
