"""The trajectory (linear mixed) model of the headline outcome area."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import domain
from .. import protect as dc
from ..area import AreaYear
from ..joint import Change, YearProtection
from ..publish import PALETTE, Publisher, Section, numeric_columns


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
    n_use = int(a.usable_by_outcome[code])
    heading = f"Trajectory model: {name}"
    if n_use < min_episodes:
        return Section("trajectories", heading,
                                 f"Too few episodes with two or more scored readings in *{name}* in {a.area} "
                                 f"to fit the model (the report needs at least {min_episodes}).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrajectoryWarning)
        fit = fit_trajectories(ys, outcome=code)
    fe = fit.fixed_effects.reset_index()
    labels = {"Intercept": "Stage at the start of support", "time": "Change in stage per year of support"}
    fe["term"] = [labels.get(t, t) for t in fe["term"]]
    fe = fe[["term", "estimate", "std_error", "ci_lower", "ci_upper", "p_value"]].round(
        {"estimate": 3, "std_error": 3, "ci_lower": 3, "ci_upper": 3, "p_value": 4})
    vc = fit.variance_components().reset_index().round({"estimate": 3})
    counts, changed = _fit_counts(a, prot, code, fit)
    info = pd.DataFrame({"measure": ["Readings", "Episodes", "Episodes with a single reading", "Method",
                                     "Converged"],
                         "value": [*counts, fit.method, str(fit.converged)]})
    single = dc.Sum((("Episodes with a single reading", "value"),), ("Episodes", "value"))
    tables = [pub.table("trajectory_fixed_effects", f"Trajectory model for {name}, {a.label}: "
                                  "fixed effects (95% Wald CIs)", fe, free=numeric_columns(fe)),
              # Model parameters of at least min_episodes episodes: no column describes a small group.
              pub.table("trajectory_variance", f"Trajectory model for {name}: random-effect SDs and "
                                  "correlation, residual SD", vc,
                                  free=numeric_columns(vc)),
              pub.table("trajectory_fit", f"Trajectory model for {name}: data and fit (counts rounded to "
                        "multiples of 5)", info, specs=(single,), label_column="measure",
                        rounded=changed)]
    # The population mean trajectory only: individual episodes' lines are never drawn in a report.
    tmax = float(min(np.quantile(fit._frame[fit.design.time], 0.95), 5.0))
    pred = fit.predict(pd.DataFrame({fit.design.time: np.linspace(0, tmax, 30)}))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.fill_between(pred[fit.design.time], pred["ci_lower"], pred["ci_upper"], color=PALETTE[0], alpha=0.25,
                    label="95% CI")
    ax.plot(pred[fit.design.time], pred["mean"], color=PALETTE[0], label="Mean trajectory")
    ax.set_ylim(1, 5)
    ax.set_yticks([1, 2, 3, 4, 5], [domain.SCALE_SHORT[k] for k in range(1, 6)], fontsize=8)
    ax.set_xlabel("Years since the start of support")
    ax.set_title(f"{a.label}: {name}", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    figs = [pub.figure("trajectory", f"Estimated mean Journey of Change stage in {name} by time in "
                                 "support (linear mixed model)", fig)]
    text = (f"A linear mixed model of the score in *{name}* (the area with the most episodes with repeated "
            "scores) on years since the start of support, with a random start level and rate of change for each "
            "episode, fitted by REML to every scored reading of the episodes active in the year, up to its end. "
            "The stage is treated as a number; the model describes the average journey, not any one person's.")
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
