"""The trajectory (linear mixed) model of the headline outcome area."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import domain
from ...i18n import N_, Area, Msg, Number
from ...mixed import NOTE_DEPENDENT, NOTE_UNDEFINED, NOTE_ZERO
from ...palette import PALETTE, figure_style
from .. import protect as dc
from ..area import AreaYear
from ..joint import Change, YearProtection
from ..publish import Publisher, Section, numeric_columns

#: The model's notes on a variance component at the boundary, as the report says them.
MODEL_NOTES = {
    NOTE_ZERO: N_("Estimated as zero (at the boundary): no standard error"),
    NOTE_UNDEFINED: N_("Not defined: a random effect's standard deviation is zero"),
    NOTE_DEPENDENT: N_("At +1 or -1 (at the boundary: the random effects are linearly dependent): no standard error"),
}


def trajectories(a: AreaYear, prot: YearProtection, pub: Publisher, outcome: str | None = None,
                 min_episodes: int = 30) -> Section:
    """The trajectory (linear mixed) model of one headline outcome area.

    The area is ``outcome`` or, by default, the one with the most episodes
    with two or more scored readings. Fitted only with at least
    ``min_episodes`` such episodes.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ...trajectories import TrajectoryWarning, fit_trajectories

    ys = a.year_study
    code = domain.outcome_code(outcome) if outcome else a.headline_outcome
    name = domain.OUTCOMES[code].name
    oname, area, fy = Msg(name), Area(a.area), domain.fy_label(a.year)
    n_use = int(a.usable_by_outcome[code])
    heading = Msg("Trajectory model: {outcome}", outcome=oname)
    if n_use < min_episodes:
        return Section("trajectories", heading, Msg(
            "Too few episodes with two or more scored readings in *{outcome}* in {area} to fit the model (the report "
            "needs at least {n}).", outcome=oname, area=area, n=min_episodes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrajectoryWarning)
        fit = fit_trajectories(ys, outcome=code)
    fe = fit.fixed_effects.reset_index()
    labels = {"Intercept": N_("Stage at the start of support"), "time": N_("Change in stage per year of support")}
    fe["term"] = [labels.get(t, t) for t in fe["term"]]
    fe = fe[["term", "estimate", "std_error", "ci_lower", "ci_upper", "p_value"]].round(
        {"estimate": 3, "std_error": 3, "ci_lower": 3, "ci_upper": 3, "p_value": 4})
    vc = fit.variance_components().reset_index().round({"estimate": 3, "std_error": 3, "ci_lower": 3,
                                                        "ci_upper": 3})
    vc_terms = {"sd(Intercept)": N_("Standard deviation of the start level"),
                "sd(time)": N_("Standard deviation of the rate of change"),
                "corr(Intercept,time)": N_("Correlation of the start level and the rate of change"),
                "sigma": N_("Residual standard deviation")}
    vc["term"] = [vc_terms.get(t, t) for t in vc["term"]]
    if "note" in vc.columns:
        # The model's notes on boundary parameters, in words for the reader (and in Welsh).
        vc["note"] = [MODEL_NOTES[n] if n else "" for n in vc["note"]]
    # The counts are the completeness table's rounded ones (or rounded like them): see _fit_counts.
    counts, changed = _fit_counts(a, prot, code, fit)
    info = pd.DataFrame({"measure": [N_("Readings"), N_("Episodes"), N_("Episodes with a single reading"),
                                     N_("Method"), N_("Converged")],
                         "value": [*counts, fit.method, N_("yes") if fit.converged else N_("no")]})
    single = dc.Sum((("Episodes with a single reading", "value"),), ("Episodes", "value"))
    tables = [pub.table("trajectory_fixed_effects", Msg("Trajectory model for {outcome}, {area}, {year}: fixed "
                                                        "effects (95% Wald confidence intervals)", outcome=oname,
                                                        area=area, year=fy), fe, free=numeric_columns(fe),
                        label_column="term"),
              # Model parameters of at least min_episodes episodes: no column describes a small group.
              pub.table("trajectory_variance", Msg("Trajectory model for {outcome}: random-effect standard deviations "
                                                   "and correlation, residual standard deviation", outcome=oname),
                        vc, free=numeric_columns(vc), label_column="term"),
              pub.table("trajectory_fit", Msg("Trajectory model for {outcome}: data and fit (counts rounded to "
                                              "multiples of 5)", outcome=oname), info,
                        specs=(single,), label_column="measure", rounded=changed)]
    # The population mean trajectory only: individual episodes' lines are never drawn in a report.
    tmax = float(min(np.quantile(fit.data[fit.design.time], 0.95), 5.0))
    pred = fit.predict(pd.DataFrame({fit.design.time: np.linspace(0, tmax, 30)}))
    with figure_style():
        fig, ax = plt.subplots(figsize=(8.0, 3.8))
        ax.fill_between(pred[fit.design.time], pred["ci_lower"], pred["ci_upper"], color=PALETTE[0], alpha=0.25,
                        hatch="//", label=N_("95% confidence interval"))
        ax.plot(pred[fit.design.time], pred["mean"], color=PALETTE[0], marker="o", markevery=5,
                label=N_("Mean trajectory"))
        ax.set_ylim(1, 5)
        ax.set_yticks([1, 2, 3, 4, 5], [domain.SCALE_SHORT[k] for k in range(1, 6)])
        ax.set_xlabel(N_("Years since the start of support"))
        # The legend sits outside the data area.
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    start, last = float(pred["mean"].iloc[0]), float(pred["mean"].iloc[-1])
    alt = Msg("Line chart. On average the modelled stage in {outcome} goes from {start} at the start of support to "
              "{end} after {years} years.", outcome=oname, start=Number(start, 1), end=Number(last, 1),
              years=Number(tmax, 1))
    figs = [pub.figure("trajectory", Msg("Estimated mean Journey of Change stage in {outcome} by time in support "
                                         "(linear mixed model), {area}, {year}", outcome=oname, area=area, year=fy),
                       fig, alt=alt)]
    text = Msg("A linear mixed model of the score in *{outcome}* (the area with the most episodes with repeated "
               "scores) on years since the start of support, with a random start level and rate of change for each "
               "episode, fitted by REML to every scored reading of the episodes active in the year, up to its end. "
               "The stage is treated as a number; the model describes the average journey, not any one person's.",
               outcome=oname)
    return Section("trajectories", heading, text, tables, figs)


def _fit_counts(a: AreaYear, prot: YearProtection, code: str, fit) -> tuple[list[int], list[Change]]:
    """Readings, episodes and single-reading episodes of the fit, as they may be published, and what changed.

    The episodes fitted are the completeness table's episodes with a need in the outcome area, and
    those with a single reading the ones with a need less those with two or more: published as those
    tables' rounded counts, so that the tables stay consistent. Counts that add up to nothing
    published are rounded to the nearest multiple of 5 (which keeps the order of counts).
    """
    def nearest(v: int) -> int:
        return int(dc.BASE * np.floor(v / dc.BASE + 0.5))

    exact = [int(fit.nobs), int(fit.ngroups), int(fit.n_single_reading)]
    name = domain.OUTCOMES[code].name
    cbo = prot.table(a.area, "completeness_by_outcome").set_index("outcome")
    same = (int(a.scored_by_outcome[code]) == fit.ngroups
            and int(a.usable_by_outcome[code]) == fit.ngroups - fit.n_single_reading)
    if same:
        episodes, two = int(cbo.at[name, "episodes_with_need"]), int(cbo.at[name, "episodes_two_plus"])
        out = [nearest(exact[0]), episodes, episodes - two]
    else:  # pragma: no cover - the fit uses the completeness table's episodes
        out = [nearest(v) for v in exact]
    rows = ["Readings", "Episodes", "Episodes with a single reading"]
    changes = [Change(a.area, "trajectory_fit", r, "value", p) for r, p, e in zip(rows, out, exact) if p != e]
    return out, changes
