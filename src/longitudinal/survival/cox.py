"""Cox proportional-hazards models: :func:`fit_cox` on any table, and the model time to independence uses."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..deprecation import with_old_columns
from ..errors import InputError
from ..results import Results, Summary, axes_for
from .lifelines_compat import fast_cox_class

__all__ = ["CoxResults", "fit_cox", "cox_model", "design_matrix"]


def design_matrix(data: pd.DataFrame, covariates: list[str], min_level_events: int,
            event: str = "event") -> tuple[pd.DataFrame, list[str]]:
    """Indicator columns for categorical covariates (reference: the most common level; levels with fewer
    than ``min_level_events`` events, counted from the ``event`` column, pooled as ``other``)."""
    X = pd.DataFrame(index=data.index)
    notes = []
    for c in covariates:
        col = data[c]
        if c in ("start_score", "financial_year") or pd.api.types.is_numeric_dtype(col) and not isinstance(
                col.dtype, pd.CategoricalDtype):
            X[c] = col.astype(float)
            continue
        col = col.astype(str)
        ev = data[event].groupby(col, observed=True).sum()
        rare = ev.index[ev < min_level_events].tolist()
        if rare:
            col = col.where(~col.isin(rare), "other")
            notes.append(f"{c}: levels with fewer than {min_level_events} events pooled as 'other': {rare}")
        ref = col.value_counts().sort_index().sort_values(ascending=False, kind="stable").index[0]
        for lev in sorted(set(col) - {ref}):
            X[f"{c}[{lev}]"] = (col == lev).astype(float)
        notes.append(f"{c}: reference level {ref!r}")
    return X, notes


def cox_model(X: pd.DataFrame, T, E, *, cluster, strata: dict, alpha: float, penalizer: float):
    """lifelines' Cox model (Efron ties) of ``T, E`` on the design ``X``: the model, its hazard-ratio table
    and its proportional-hazards test (Schoenfeld residuals, rank time)."""
    from lifelines.statistics import proportional_hazard_test

    CoxPHFitter = fast_cox_class()
    df = X.loc[:, X.std() > 0].copy()
    df["T"], df["E"] = np.asarray(T, dtype=float), np.asarray(E, dtype=int)
    if cluster is not None:
        df["_cluster"] = np.asarray(cluster).astype(str)
    for name, col in strata.items():
        df[name] = np.asarray(col).astype(str)
    cph = CoxPHFitter(alpha=alpha, penalizer=penalizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter is summarised by the CIs
        cph.fit(df, "T", "E", strata=list(strata) or None, cluster_col="_cluster" if cluster is not None else None)
    s = cph.summary
    lo_col = [c for c in s.columns if c.startswith("exp(coef) lower")][0]
    hi_col = [c for c in s.columns if c.startswith("exp(coef) upper")][0]
    hr = pd.DataFrame({"covariate": s.index, "estimate": s["coef"].to_numpy(), "std_error": s["se(coef)"].to_numpy(),
                       "hazard_ratio": s["exp(coef)"].to_numpy(), "ci_lower": s[lo_col].to_numpy(),
                       "ci_upper": s[hi_col].to_numpy(), "p_value": s["p"].to_numpy()})
    hr = with_old_columns(hr, {"coef": "estimate", "se": "std_error", "p": "p_value"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = proportional_hazard_test(cph, df, time_transform="rank")
    ts = test.summary
    ph = pd.DataFrame({"covariate": [i[0] if isinstance(i, tuple) else i for i in ts.index],
                       "test_statistic": ts["test_statistic"].to_numpy(), "p_value": ts["p"].to_numpy()})
    ph = with_old_columns(ph, {"p": "p_value"})
    return cph, hr, ph


@dataclass(repr=False)
class CoxResults(Results):
    """Results of :func:`fit_cox`.

    Attributes
    ----------
    hazard_ratios : DataFrame
        ``covariate, estimate`` (log hazard ratio), ``std_error, hazard_ratio, ci_lower, ci_upper, p_value``.
    ph_test : DataFrame
        Schoenfeld-residual test per covariate (``test_statistic, p_value``), rank time transform.
    model : lifelines.CoxPHFitter
        The fitted model (baseline hazard, predictions, lifelines' own summary).
    n, events : int
        Rows used and events among them.
    """

    hazard_ratios: pd.DataFrame
    ph_test: pd.DataFrame
    model: Any
    n: int
    events: int
    time: str
    event: str
    id: str | None = None
    strata: list[str] = field(default_factory=list)
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    def summary(self) -> Summary:
        """Counts, hazard ratios and the proportional-hazards test (text; tables in Jupyter)."""
        se = f"robust SEs clustered on {self.id}" if self.id else "model-based SEs"
        head = [f"Cox proportional hazards: {self.time}, event {self.event} (Efron ties; {se}"
                + (f"; stratified by {', '.join(self.strata)})" if self.strata else ")"),
                f"rows: {self.n:,}; events: {self.events:,}; partial log-likelihood: "
                f"{self.model.log_likelihood_:.4f}"]
        viol = self.ph_test.loc[self.ph_test["p_value"] < self.alpha, "covariate"].tolist()
        verdict = "PH assumption: " + (f"no evidence against it at alpha={self.alpha:g}" if not viol else
                                       "violated for " + ", ".join(map(str, viol))
                                       + " (read those hazard ratios as time-averaged)")
        lines = [*head, "", "Hazard ratios:", self.hazard_ratios.to_string(index=False), "",
                 "Proportional-hazards test (Schoenfeld residuals, rank time):", self.ph_test.to_string(index=False),
                 verdict, *self.notes]
        return Summary("\n".join(lines), {"Hazard ratios": self.hazard_ratios,
                                          "Proportional-hazards test": self.ph_test},
                       head="\n".join(head), notes=[verdict, *self.notes])

    def _repr_fields(self) -> dict[str, Any]:
        return {"time": self.time, "event": self.event, "n": self.n, "events": self.events,
                "covariates": len(self.hazard_ratios)}

    def tidy(self) -> pd.DataFrame:
        """The hazard-ratio table."""
        return pd.DataFrame(self.hazard_ratios)

    def plot(self, ax=None):
        """Hazard ratios with their confidence intervals on a log scale (a forest plot). Returns the Axes."""
        hr = self.hazard_ratios.iloc[::-1]
        ax = axes_for(ax, figsize=(6.4, 0.4 * len(hr) + 1.2))
        y = np.arange(len(hr))
        err = [hr["hazard_ratio"] - hr["ci_lower"], hr["ci_upper"] - hr["hazard_ratio"]]
        ax.errorbar(hr["hazard_ratio"], y, xerr=err, fmt="o", color="black", ecolor="0.4", capsize=3)
        ax.axvline(1, color="0.6", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yticks(y, hr["covariate"].astype(str))
        ax.set_xlabel(f"hazard ratio ({100 * (1 - self.alpha):g}% CI)")
        return ax


def fit_cox(data: pd.DataFrame, time: str, event: str, covariates: Sequence[str], *, id: str | None = None,
            strata: str | Sequence[str] | None = None, alpha: float = 0.05, penalizer: float = 0.0,
            min_level_events: int = 5) -> CoxResults:
    """Cox proportional-hazards model of any table with one row per subject (or per episode).

    Parameters
    ----------
    data : DataFrame
        The table.
    time : str
        Column of follow-up times (event or censoring; >= 0).
    event : str
        Column: 1 (or True) for an event at ``time``, 0 for censoring.
    covariates : list of str
        Numeric columns enter as they are; other columns (text, categorical) get indicator
        columns against their most common level, with levels of fewer than
        ``min_level_events`` events pooled as ``other``.
    id : str, optional
        Cluster column (e.g. ``person_id`` when a person has several rows): robust (sandwich)
        standard errors clustered on it. Without it, model-based standard errors.
    strata : str or list of str, optional
        Columns whose levels get their own baseline hazard.
    alpha : float
        1 - confidence level.
    penalizer : float
        Ridge penalty passed to lifelines ``CoxPHFitter``.

    Returns
    -------
    CoxResults

    Raises
    ------
    InputError
        A named column is missing, a time is negative, or an event is not 0/1. Rows with a
        missing value in a used column are left out, and a note says how many.

    Notes
    -----
    lifelines' ``CoxPHFitter`` with Efron's ties: estimates and model-based standard errors
    equal R's ``coxph`` (tests/test_survival.py). The robust standard errors equal R's
    ``coxph(..., cluster=)`` when no event times are tied; with ties, lifelines' score
    residuals leave out Efron's weights, and on the Rossi data (114 events at 49 distinct
    weeks) they differ from R's by 0.5-5%.

    Examples
    --------
    >>> import pandas as pd, longitudinal as lg
    >>> df = pd.DataFrame({"t": [5, 8, 3, 9, 12, 4, 7, 10], "died": [1, 1, 0, 1, 0, 1, 1, 0],
    ...                    "dose": [2.0, 1.0, 3.0, 0.5, 0.2, 2.5, 1.5, 0.1]})
    >>> fit = lg.fit_cox(df, time="t", event="died", covariates=["dose"])
    >>> fit.hazard_ratios.columns.tolist()
    ['covariate', 'estimate', 'std_error', 'hazard_ratio', 'ci_lower', 'ci_upper', 'p_value']
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"fit_cox needs a DataFrame with one row per subject, got {type(data).__name__}")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    strata = [] if strata is None else [strata] if isinstance(strata, str) else list(strata)
    used = [time, event, *covariates, *strata, *([id] if id is not None else [])]
    missing = [c for c in dict.fromkeys(used) if c not in data.columns]
    if missing:
        raise InputError(f"fit_cox: no column {', '.join(map(repr, missing))} in the data "
                         f"(it has {', '.join(map(str, data.columns))})", column=missing[0])
    if not covariates:
        raise InputError("fit_cox: name at least one covariate (covariates=[...])")
    df = data[list(dict.fromkeys(used))]
    complete = df.notna().all(axis=1)
    notes = [] if complete.all() else [f"{int((~complete).sum()):,} row(s) with a missing value left out"]
    df = df[complete].reset_index(drop=True)
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
    if np.isnan(t).any() or (t < 0).any() or np.isinf(t).any():
        bad = int(np.flatnonzero(np.isnan(t) | (t < 0) | np.isinf(t))[0])
        raise InputError("fit_cox: not a follow-up time", row=bad, column=time, value=df[time].iloc[bad],
                         expected="a finite number >= 0")
    e = df[event]
    if not e.isin([0, 1]).all():
        bad = int(np.flatnonzero(~e.isin([0, 1]).to_numpy())[0])
        raise InputError("fit_cox: not an event indicator", row=bad, column=event, value=e.iloc[bad],
                         expected="1 for an event, 0 for censoring")
    X, design_notes = design_matrix(df, covariates, min_level_events, event=event)
    cph, hr, ph = cox_model(X, t, e.astype(int).to_numpy(), cluster=None if id is None else df[id],
                       strata={s: df[s] for s in strata}, alpha=alpha, penalizer=penalizer)
    return CoxResults(hr, ph, cph, n=len(df), events=int(e.sum()), time=time, event=event, id=id, strata=strata,
                      alpha=alpha, notes=notes + design_notes)
