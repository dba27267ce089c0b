"""Transitions between stages in the headline outcome area: observed moves and a multi-state model."""

from __future__ import annotations

import pandas as pd

from ... import domain
from .. import counts as ct, protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section, numeric_columns


def transitions(a: AreaYear, prot: YearProtection, pub: Publisher, outcome: str | None = None,
                min_episodes: int = 30) -> Section:
    """Moves between stages in the headline outcome area: observed transitions and a multi-state model.

    The table counts moves between consecutive readings, rounded with the year's other count tables
    (rows add up; Wales is the sum of the authorities where they report the same outcome), with row
    shares of the rounded counts. With at
    least ``min_episodes`` episodes with two or more readings, a continuous-time Markov model
    (as R's msm) gives each stage's mean sojourn and the expected time to first reach stage 5.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from ...transitions import fit_transitions

    code = domain.outcome_code(outcome) if outcome else a.headline_outcome
    name = domain.OUTCOMES[code].name
    ys = a.year_study
    to_cols = list(ct.TO_STAGES)
    pct_cols = [f"% {c}" for c in to_cols]
    if code == a.headline_outcome:  # the year's protection rounded it with the other areas'
        tab, rounded = prot.table(a.area, "transitions"), prot.changes_of(a.area, "transitions")
    else:  # another outcome, asked for here only: rounded on its own, its margins kept
        tab, rounded = prot.round_alone(a.area, ct.transitions_counts(a, code))
    tab = tab[["from", *to_cols, "all moves", *pct_cols]]
    tables = [pub.table(
        "transitions_observed", f"Moves between consecutive readings in {name}, episodes active in "
        f"{domain.fy_label(a.year)}, {a.area}: counts (rounded to multiples of 5) and row shares", tab,
        [*to_cols, "all moves"], rounded=rounded,
        specs=(dc.Sum(tuple(to_cols), "all moves"), dc.Parts(tuple(pct_cols), "all moves", scale=100, decimals=1)))]
    figs = []
    scored = ys.readings[(ys.readings["outcome"] == code) & ys.readings["score"].notna()]
    n_use = int((scored.groupby("episode_id", observed=True).size() >= 2).sum())
    text = (f"Each pair of consecutive scored readings of an episode in *{name}* is one move (staying at the same "
            "stage counts as a move to it).")
    if n_use >= min_episodes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_transitions(ys, outcome=code)
        soj = fit.sojourn().reset_index()
        fp = fit.first_passage(5).reset_index()
        model = pd.DataFrame({
            "stage": [domain.SCALE_SHORT[int(k)] for k in soj["state"]],
            "mean years in stage": soj["mean_years"].round(2),
            "95% CI": [f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(soj["ci_lower"], soj["ci_upper"])],
            "expected years to first reach stage 5": fp["mean_years"].round(2).to_numpy(),
        })
        tables.append(pub.table(
            "transitions_model", f"Multi-state model of {name}, {a.label}: mean time in each stage and "
            "expected time to first reach stage 5 (converged: " + str(bool(fit.converged)) + ")", model,
            free=numeric_columns(model)))
        figs.append(pub.figure(
            "transitions_model", f"Probability of being at each stage over time from each starting stage in "
            f"{name} (multi-state Markov model)", fit.plot()))
        text += (" The multi-state model treats the five stages as states of a continuous-time Markov chain "
                 "observed only at reading dates (the Kalbfleisch–Lawless likelihood, as R's msm), with moves "
                 "allowed to the adjacent stages in both directions.")
    else:
        text += (f" Too few episodes with two or more readings ({'<5' if 0 < n_use < 5 else n_use}; the model "
                 f"needs {min_episodes}) to fit the multi-state model.")
    return Section("transitions", f"Transitions between stages: {name}", text, tables, figs)

