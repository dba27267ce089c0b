"""Transitions between stages in the headline outcome area: observed moves and a multi-state model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import domain
from ...i18n import N_, Area, Msg, Number
from ...palette import figure_style, series_style
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
    oname, area, fy = Msg(name), Area(a.area), domain.fy_label(a.year)
    ys = a.year_study
    to_cols = list(ct.TO_STAGES)
    pct_cols = [f"% {c}" for c in to_cols]
    if code == a.headline_outcome:  # the year's protection rounded it with the other areas'
        tab, rounded = prot.table(a.area, "transitions"), prot.changes_of(a.area, "transitions")
    else:  # another outcome, asked for here only: rounded on its own, its margins kept
        tab, rounded = prot.round_alone(a.area, ct.transitions_counts(a, code))
    tab = tab[["from", *to_cols, "all moves", *pct_cols]]
    tables = [pub.table(
        "transitions_observed", Msg("Moves between consecutive readings in {outcome}, episodes active in {year}, "
                                    "{area}: counts (rounded to multiples of 5) and row percentages", outcome=oname,
                                    year=fy, area=area),
        tab, [*to_cols, "all moves"], label_column="from", rounded=rounded,
        specs=(dc.Sum(tuple(to_cols), "all moves"), dc.Parts(tuple(pct_cols), "all moves", scale=100, decimals=1)))]
    figs, notes = [], []
    scored = ys.readings[(ys.readings["outcome"] == code) & ys.readings["score"].notna()]
    n_use = int((scored.groupby("episode_id", observed=True).size() >= 2).sum())
    text = [Msg("Each pair of consecutive scored readings of an episode in *{outcome}* is one move (staying at the "
                "same stage counts as a move to it).", outcome=oname)]
    if n_use >= min_episodes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_transitions(ys, outcome=code)
        # The study's horizon: from the earliest start of an episode in the data to the year's end. A model's
        # expected time beyond it is an extrapolation: not published.
        end = domain.fy_bounds(a.year)[1]
        horizon = float((end - ys.episodes["start_date"].min()).days / 365.25)
        soj = fit.sojourn().reset_index()
        fp = fit.first_passage(5).reset_index()
        fp_years = fp["mean_years"].astype(float).round(2).to_numpy()
        beyond = ~(fp_years <= horizon)
        model = pd.DataFrame({
            "stage": [domain.SCALE_SHORT[int(k)] for k in soj["state"]],
            "mean years in stage": soj["mean_years"].astype(float).round(2),
            "ci_lower": soj["ci_lower"].astype(float).round(2), "ci_upper": soj["ci_upper"].astype(float).round(2),
            "expected years to first reach stage 5": np.where(beyond, np.nan, fp_years),
        })
        tables.append(pub.table(
            "transitions_model", Msg("Multi-state model of {outcome}, {area}, {year}: mean time in each stage (95% "
                                     "confidence interval) and expected time to first reach stage 5; model "
                                     "converged: {converged}", outcome=oname, area=area, year=fy,
                                     converged=Msg(N_("yes") if fit.converged else N_("no"))),
            model, free=numeric_columns(model), label_column="stage"))
        if beyond.any():
            notes.append(Msg("Expected times to first reach stage 5 longer than the {years} years the data cover are "
                             "extrapolations of the model, not observations: they are not shown ([x]).",
                             years=Number(horizon, 1)))
        # Probability of being at stage 5 over the years the data cover, from each lower starting stage.
        times = np.linspace(0, max(min(horizon, 5.0), 0.5), 26)
        tp = fit.transition_probabilities(times)
        import matplotlib.pyplot as plt

        with figure_style():
            fig, ax = plt.subplots(figsize=(8.0, 3.8))
            starts = [k for k in range(1, 5) if k in set(tp["from"])]
            for i, k in enumerate(starts):
                line = tp[(tp["from"] == k) & (tp["to"] == 5)]
                ax.plot(line["time"], 100 * line["probability"], markevery=5, **series_style(i),
                        label=domain.SCALE_SHORT[k])
            ax.set_ylim(0, 100)
            ax.set_xlabel(N_("Years since the first reading"))
            ax.set_ylabel(N_("% at stage 5"))
            ax.legend(title=N_("Starting stage"), frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            ax.spines[["top", "right"]].set_visible(False)
            fig.tight_layout()
        last = tp[(tp["to"] == 5) & (tp["time"] == tp["time"].max())]
        p = {int(r["from"]): float(r["probability"]) for _, r in last.iterrows()}
        alt = Msg("Line chart. After {years} years, the model puts the chance of being at stage 5 at {p1}% for "
                  "people starting at stage 1 and {p4}% for people starting at stage 4.",
                  years=Number(times[-1], 1), p1=Number(100 * p.get(1, float("nan")) if 1 in p else 0, 0),
                  p4=Number(100 * p.get(4, 0.0), 0))
        figs.append(pub.figure(
            "transitions_model", Msg("Probability of being at stage 5 over the years the data cover, from each "
                                     "lower starting stage, in {outcome} (multi-state Markov model), {area}, {year}",
                                     outcome=oname, area=area, year=fy), fig, alt=alt))
        text.append(N_("The multi-state model treats the five stages as states of a continuous-time Markov chain "
                       "observed only at reading dates (the Kalbfleisch-Lawless likelihood, as R's msm), with moves "
                       "allowed to the adjacent stages in both directions."))
    else:
        text.append(Msg("Too few episodes with two or more readings ({n}; the model needs {need}) to fit the "
                        "multi-state model.", n="<5" if 0 < n_use < 5 else Number(n_use), need=min_episodes))
    return Section("transitions", Msg("Transitions between stages: {outcome}", outcome=oname),
                   Msg("{first} {second}", first=text[0], second=Msg(text[1]) if isinstance(text[1], str) else text[1]),
                   tables, figs, notes)
