"""Journey of Change trajectories: linear mixed models of score on time in support.

:func:`fit_trajectories` fits ``score ~ time`` (or any fixed-effects formula)
with a random intercept and slope per episode (optionally a quadratic term),
by REML (default) or ML. The ``"fast"`` engine (:mod:`longitudinal.mixed`)
works from per-episode sufficient statistics and fits a million readings in
about a second; ``engine="statsmodels"`` runs statsmodels ``MixedLM`` on the
same design as a reference.

Examples
--------
>>> import longitudinal as lg
>>> study = lg.simulate(people=1500, seed=3)
>>> fit = lg.fit_trajectories(study, "managing_money", warn=False)
>>> fit.fixed_effects.index.tolist()
['Intercept', 'time']
>>> bool(fit.converged), bool(fit.fixed_effects.loc["time", "estimate"] > 0)
(True, True)
"""

from __future__ import annotations

import re
import time as _time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import domain
from ._numeric import sorted_unique
from .deprecation import renamed_arguments, with_old_columns
from .errors import ConvergenceWarning, LongitudinalWarning, NoDataError
from .mixed import LMMFit, SufficientStats, VarianceInference, fit_lmm, profile_intervals, variance_inference
from .results import Results, Summary
from .study import Study

__all__ = ["fit_trajectories", "TrajectoryResults", "TrajectoryWarning"]

ENGINES = ("fast", "statsmodels")


class TrajectoryWarning(LongitudinalWarning):
    """Something about the data or the fit that the user should know and can act on."""


# ------------------------------------------------------------------ input
def _long_frame(data, outcome, include_follow_up: bool) -> tuple[pd.DataFrame, str | None]:
    if isinstance(data, Study):
        if outcome is None:
            raise ValueError("fit_trajectories(study, outcome=...): name an outcome area, one of "
                             f"{', '.join(domain.OUTCOME_CODES)} (or 'all')")
        code = domain.outcome_code(outcome)
        df = data.long(code, include_follow_up=include_follow_up)
        if df.empty:
            raise NoDataError(f"outcome {code!r} has no scored readings in this study: nothing to model")
        return df, code
    if isinstance(data, pd.DataFrame):
        if outcome is not None:
            if "outcome" not in data.columns:
                raise ValueError(f"outcome={outcome!r} was given but the data has no 'outcome' column")
            try:
                code = domain.outcome_code(outcome)
            except (KeyError, ValueError):  # a data set with its own outcome labels
                code = outcome
            df = data[data["outcome"] == code]
            if df.empty:
                raise NoDataError(f"outcome {code!r} has no readings in the data (outcomes present: "
                                 f"{', '.join(map(str, pd.unique(data['outcome'])[:20]))})")
            return df, code
        return data, None
    raise TypeError(f"data must be a Study or a pandas DataFrame of readings, not {type(data).__name__}")


def _check_columns(df: pd.DataFrame, needed: dict[str, str]) -> None:
    for role, col in needed.items():
        if col not in df.columns:
            raise KeyError(f"the data has no {role} column {col!r} (pass {role}=<column name>); "
                           f"columns are: {', '.join(map(str, df.columns))}")


def _numeric(df: pd.DataFrame, col: str, role: str) -> np.ndarray:
    s = df[col]
    if isinstance(s.dtype, pd.CategoricalDtype) or not (pd.api.types.is_numeric_dtype(s) or s.dtype == object):
        raise TypeError(f"{role} column {col!r} must be numeric, it has dtype {s.dtype}")
    v = pd.to_numeric(s, errors="coerce")
    bad = v.isna() & s.notna()
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise TypeError(f"{role} column {col!r} is not numeric: row {df.index[i]!r} holds {s.iloc[i]!r} "
                        f"({int(bad.sum())} such rows)")
    return v.to_numpy(dtype="float64", na_value=np.nan)



#: The derived covariate: each episode's first scored reading in the outcome (see fit_trajectories).
START = "start_score"
#: Columns that :meth:`Study.long` derives (they are not stored in the four tables).
_STUDY_DERIVED = {"time": "years since the episode's start", "age": "age at the episode's start",
                  "age_band": "band of that age", "financial_year": "of the reading"}


def _usable_columns(df: pd.DataFrame, score: str, study: bool) -> tuple[list[str], str]:
    """Every name a formula can use on ``df``, and a sentence listing them (data, then derived)."""
    derived = {c: why for c, why in _STUDY_DERIVED.items() if study and c in df.columns}
    plain = [str(c) for c in df.columns if c != score and c not in derived and c != START]
    derived[START] = "the episode's first scored reading in the outcome, centred"
    text = (f"columns of the data: {', '.join(plain)}; derived: "
            + ", ".join(f"{c} ({why})" for c, why in derived.items())
            + f"; the response is {score!r}")
    return plain + list(derived), text


def _unknown_names(formula: str, df: pd.DataFrame, env) -> list[str]:
    """The names a formula uses that are neither columns of ``df`` nor known where patsy evaluates it
    (``env``, patsy's own functions such as ``C``/``I``/``Q``, Python's builtins), in order of use."""
    import ast
    import builtins

    import patsy
    import patsy.builtins

    desc = patsy.ModelDesc.from_formula(formula)
    used: list[str] = []
    for term in [*desc.lhs_termlist, *desc.rhs_termlist]:
        for factor in term.factors:
            code = getattr(factor, "code", None)
            if code is None:
                continue
            for node in ast.walk(ast.parse(code, mode="eval")):
                if isinstance(node, ast.Name) and node.id not in used:
                    used.append(node.id)

    def known(name: str) -> bool:
        if name in df.columns or hasattr(patsy.builtins, name) or hasattr(builtins, name):
            return True
        try:
            env.namespace[name]
        except KeyError:
            return False
        return True

    return [n for n in used if not known(n)]


def _design(formula: str, df: pd.DataFrame, what: str, usable: tuple[list[str], str] | None = None):
    import difflib

    import patsy

    # The names are checked before patsy evaluates the formula (its error for an unknown one is only a message).
    env = patsy.EvalEnvironment.capture(0)  # this module's names (np), where patsy has always looked
    try:
        unknown = _unknown_names(formula, df, env)
    except (patsy.PatsyError, SyntaxError) as err:
        raise ValueError(f"{what} {formula!r} could not be read: {err}") from None
    if unknown:
        names, listing = usable if usable is not None else (
            [str(c) for c in df.columns], f"columns are: {', '.join(map(str, df.columns))}")
        close = difflib.get_close_matches(unknown[0], names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{what} {formula!r} names {unknown[0]!r}, which is not a column of the data{hint}; "
                         f"a formula can use the {listing}")
    try:
        return patsy.dmatrix(formula, df, NA_action="raise", return_type="dataframe", eval_env=env)
    except patsy.PatsyError as err:
        raise ValueError(f"{what} {formula!r} could not be built: {err}") from None


def _rhs(formula: str) -> tuple[str | None, str]:
    if "~" in formula:
        lhs, rhs = formula.split("~", 1)
        return (lhs.strip() or None), rhs.strip()
    return None, formula.strip()


def _formula_columns(rhs: str, df: pd.DataFrame) -> list[str]:
    """Columns of ``df`` that a formula's right-hand side mentions (for missing-value handling)."""
    names = _identifiers(rhs)
    return [c for c in df.columns if isinstance(c, str) and c in names]


def _identifiers(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def _start_scores(df: pd.DataFrame, group: str, t: np.ndarray, y: np.ndarray, keep: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each episode's start score on every kept row, a mask of the baseline rows, and the
    episode (-and-outcome) key of every row.

    The baseline is the episode's first scored reading (earliest ``t`` among the ``keep`` rows;
    ties by row order). With an ``outcome`` column holding several outcomes it is found per
    episode *and* outcome. Rows outside ``keep`` get NaN. O(n log n), vectorised.
    """
    n = len(df)
    start = np.full(n, np.nan)
    base = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(keep)
    key = pd.factorize(df[group])[0].astype(np.int64)
    if "outcome" in df.columns and df["outcome"].nunique(dropna=False) > 1:
        ok = pd.factorize(df["outcome"], use_na_sentinel=False)[0].astype(np.int64)
        key = key * (int(ok.max()) + 1) + ok
    if idx.size == 0:
        return start, base, key
    ki = key[idx]
    order = np.lexsort((t[idx], ki))  # by key, then time; stable, so ties keep row order
    sk = ki[order]
    first = np.r_[True, sk[1:] != sk[:-1]]
    rows = idx[order[first]]
    base[rows] = True
    start[idx] = y[rows][np.searchsorted(sk[first], ki)]
    return start, base, key


def _start_centre(spec, score_range, starts: pd.Series, rhs: str) -> float | None:
    """The value ``start_score`` is centred at (None: not centred, when used as a factor)."""
    if re.search(rf"C\(\s*{START}\b", rhs):
        return None  # C(start_score): a factor by stage, its levels stay the stages themselves
    if isinstance(spec, str):
        if spec == "auto":
            spec = "midpoint" if score_range is not None else "mean"
        if spec == "midpoint":
            if score_range is None:
                raise ValueError("start_centre='midpoint' needs score_range (the scale's ends); "
                                 "give a number or 'mean'")
            return float(score_range[0] + score_range[1]) / 2
        if spec == "mean":
            return float(starts.mean())
        raise ValueError(f"start_centre must be 'auto', 'midpoint', 'mean' or a number, not {spec!r}")
    v = float(spec)
    if not np.isfinite(v):
        raise ValueError(f"start_centre must be finite, not {spec!r}")
    return v


# ---------------------------------------------------------------- results
@dataclass
class _Design:
    formula: str
    random: str
    fixed_names: list[str]
    random_names: list[str]
    fixed_info: Any  # patsy DesignInfo, or None on the default fast path
    random_info: Any
    time: str
    group: str
    score: str
    start_centre: float | None = None  # start_score enters the design as (first score - start_centre)
    uses_start: bool = False


# The summary type every results object shares (kept under its old name for existing imports).
TrajectorySummary = Summary


class TrajectoryResults(Results):
    """A fitted trajectory (linear mixed) model.

    Attributes
    ----------
    fixed_effects : DataFrame
        Indexed by term (``Intercept`` first) with ``estimate, std_error, z, p_value,
        ci_lower, ci_upper`` (Wald, normal reference, as statsmodels ``MixedLM``).
    cov_re : DataFrame
        Covariance of the random effects (intercept, slope, ...), in score units. Their SDs and
        correlations, with standard errors and CIs, are in :meth:`variance_components`.
    random_effects : DataFrame
        Best linear unbiased predictions (BLUPs) of each group's random effects, indexed by group.
    random_effects_se : DataFrame
        Their conditional standard errors (given the fixed effects).
    sigma : float
        Residual standard deviation.
    loglik : float
        Maximised REML or ML log-likelihood (comparable with statsmodels' ``llf``).
    converged : bool
    nobs, ngroups : int
    n_single_reading : int
        Groups (episodes) with a single reading: they inform the level, not the rate of change.
    aic, bic : float
        ``-2 loglik + 2k`` and ``-2 loglik + k log(nobs)``, k = fixed effects + covariance
        parameters + 1. Under REML only models with the same fixed effects are comparable.
    data : DataFrame
        The readings the model was fitted to, one row each.
    fit_seconds : float
        Wall time of the fit itself (after the data were prepared).
    baseline_dropped : bool or None
        With ``start_score`` in the formula: whether each episode's baseline reading (the one
        ``start_score`` is taken from) was left out of the response (the default, see
        :func:`fit_trajectories`); None when the formula has no ``start_score``.
    start_score_centre : float or None
        The value ``start_score`` is centred at (its coefficients and the intercept refer to an
        episode starting there); None without ``start_score`` or with ``C(start_score)``.
    notes : list of str
        What a reader of the model must know (the baseline handling above); shown by :meth:`summary`.
    """

    def __init__(self, fit: LMMFit, design: _Design, *, groups: pd.Index, frame: pd.DataFrame,
                 X: np.ndarray, Z: np.ndarray, codes: np.ndarray, engine: str, outcome: str | None,
                 alpha: float, n_single: int, n_dropped: dict[str, int], fit_seconds: float,
                 baseline_dropped: bool | None = None, notes: Sequence[str] = ()):
        self._fit = fit
        self.design = design
        self.engine = engine
        self.outcome = outcome
        self.alpha = alpha
        self.reml = fit.reml
        self.method = "REML" if fit.reml else "ML"
        self.nobs = fit.nobs
        self.ngroups = fit.ngroups
        self.n_single_reading = n_single
        self.n_dropped = dict(n_dropped)
        self.converged = bool(fit.converged)
        self.loglik = float(fit.loglik)
        self.scale = float(fit.sigma2)
        self.sigma = float(np.sqrt(fit.sigma2))
        self.boundary = list(fit.boundary)
        self.fit_seconds = fit_seconds
        self.baseline_dropped = baseline_dropped
        self.start_score_centre = design.start_centre
        self.notes = list(notes)
        k = fit.k_params
        self.aic = -2 * self.loglik + 2 * k
        self.bic = -2 * self.loglik + k * np.log(self.nobs)
        self._frame, self._X, self._Z, self._codes = frame, X, Z, codes
        self._vc: VarianceInference | None = None  # variance-parameter inference, on first use
        se = np.sqrt(np.diag(fit.cov_beta))
        zq = stats.norm.ppf(1 - alpha / 2)
        z = fit.beta / se
        self.fixed_effects = pd.DataFrame({
            "estimate": fit.beta, "std_error": se, "z": z, "p_value": 2 * stats.norm.sf(np.abs(z)),
            "ci_lower": fit.beta - zq * se, "ci_upper": fit.beta + zq * se,
        }, index=pd.Index(design.fixed_names, name="term"))
        self.fixed_effects = with_old_columns(self.fixed_effects, {"p": "p_value"})
        self.cov_fixed = pd.DataFrame(fit.cov_beta, index=design.fixed_names, columns=design.fixed_names)
        self.cov_re = pd.DataFrame(fit.cov_re, index=design.random_names, columns=design.random_names)
        gi = pd.Index(groups, name=design.group)
        self.random_effects = pd.DataFrame(fit.blups, index=gi, columns=design.random_names)
        self.random_effects_se = pd.DataFrame(
            np.sqrt(np.clip(np.diagonal(fit.blup_cov, axis1=1, axis2=2), 0, None)),
            index=gi, columns=design.random_names)

    # ------------------------------------------------------------- tables
    @property
    def params(self) -> pd.Series:
        """Fixed-effect estimates (statsmodels' name)."""
        return self.fixed_effects["estimate"]

    @property
    def data(self) -> pd.DataFrame:
        """The readings the model was fitted to, one row each (after the exclusions), in the fit's order.

        The fit's own table (what :meth:`fitted` and the plots read): take ``.copy()`` before changing it.
        """
        return self._frame

    @property
    def variance_inference(self) -> VarianceInference:
        """Observed-information inference for the variance parameters (computed on first use).

        The Hessian of the fitted (REML or ML) deviance in log SDs, Fisher-z correlations and
        log residual SD, with the residual variance a parameter of its own rather than profiled
        out; see :func:`longitudinal.mixed.variance_inference`. With ``engine="statsmodels"``
        it is the same likelihood's information evaluated by the fast engine at statsmodels'
        estimates: statsmodels' own information is in the covariance *relative* to the scale,
        with the scale profiled out, so it gives no joint error for the SDs and the residual SD.
        """
        if self._vc is None:
            self._vc = variance_inference(self._fit)
        return self._vc

    def _vc_terms(self) -> list[str]:
        names = self.design.random_names
        return ([f"sd({n})" for n in names]
                + [f"corr({names[i]},{names[j]})" for i, j in zip(*np.triu_indices(len(names), 1))]
                + ["sigma"])

    def variance_components(self, alpha: float | None = None) -> pd.DataFrame:
        """Random-effect SDs and correlations and the residual SD, with standard errors and CIs.

        Parameters
        ----------
        alpha : float, optional
            1 - coverage of the intervals; the fit's alpha by default.

        Returns
        -------
        DataFrame
            Indexed by term (``sd(Intercept)``, ``sd(time)``, ``corr(Intercept,time)``, ``sigma``)
            with ``estimate, std_error, ci_lower, ci_upper, note``. Standard errors are from the
            observed information of the fitted deviance (delta method from the log-SD /
            Fisher-z scale); the Wald intervals are formed on that scale and transformed back,
            so they are asymmetric and stay inside the parameter space (SD > 0, -1 < corr < 1).
            A parameter on the boundary (an SD estimated as zero, a correlation at +-1) has
            NaN standard error and interval, and ``note`` says why; test it with
            :meth:`lr_test` against the simpler random part instead.

        Examples
        --------
        >>> import longitudinal as lg
        >>> fit = lg.fit_trajectories(lg.simulate(people=1500, seed=3), "managing_money", warn=False)
        >>> vc = fit.variance_components()
        >>> vc.columns.tolist()
        ['estimate', 'std_error', 'ci_lower', 'ci_upper', 'note']
        >>> bool(((vc["ci_lower"] < vc["estimate"]) & (vc["estimate"] < vc["ci_upper"])).all())
        True
        >>> fit.conf_int().index.tolist()
        ['Intercept', 'time', 'sd(Intercept)', 'sd(time)', 'corr(Intercept,time)', 'sigma']
        """
        vi = self.variance_inference
        lo, hi = vi.conf_int(self.alpha if alpha is None else alpha)
        return pd.DataFrame({"estimate": vi.estimate, "std_error": vi.std_error, "ci_lower": lo,
                             "ci_upper": hi, "note": vi.notes},
                            index=pd.Index(self._vc_terms(), name="term"))

    def profile_conf_int(self, alpha: float | None = None, *, deviance: str = "ml") -> pd.DataFrame:
        """Profile-likelihood intervals of the variance components: lme4's default ``confint()``.

        Beside the Wald intervals of :meth:`variance_components` (observed information, formed on the
        log-SD / Fisher-z scale). Each parameter's deviance is minimised over the others at fixed
        values of it; the interval is where it stays within ``chi2_1(1 - alpha)`` of its minimum, so an
        SD's lower limit may be 0 and a correlation's limits -1 or 1. ``deviance="ml"`` (default)
        profiles the ML deviance even for a REML fit, as lme4's ``confint(method="profile")`` does
        (sleepstudy: lme4's limits to 5 significant figures, tests/test_trajectories.py);
        ``deviance="fit"`` profiles the fitted (REML) deviance itself. Several hundred deviance
        evaluations per parameter: seconds on a study of thousands of episodes, minutes at national scale.

        Returns
        -------
        DataFrame
            Indexed like :meth:`variance_components` with ``estimate`` (this fit's), ``ci_lower``,
            ``ci_upper`` and ``note``.
        """
        if deviance not in ("ml", "fit"):
            raise ValueError(f"deviance must be 'ml' or 'fit', not {deviance!r}")
        a = self.alpha if alpha is None else alpha
        fit = self._fit
        if deviance == "ml" and fit.reml:
            fit = fit_lmm(None, None, None, reml=False, stats=fit.stats, start=fit.theta)
        vi = variance_inference(fit)
        lo, hi = profile_intervals(fit, vi, a)
        notes = ["on the boundary: no profile" if not f else "" for f in vi.free]
        return pd.DataFrame({"estimate": self.variance_inference.estimate, "ci_lower": lo, "ci_upper": hi,
                             "note": notes}, index=pd.Index(self._vc_terms(), name="term"))

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Wald confidence intervals for every parameter, lme4 ``confint(method="Wald")`` style.

        Fixed effects (normal reference, symmetric) followed by the variance components
        (formed on the log-SD / Fisher-z scale, see :meth:`variance_components`).

        Returns
        -------
        DataFrame
            Indexed by term, columns ``ci_lower, ci_upper``.
        """
        a = self.alpha if alpha is None else alpha
        if not 0 < a < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {a}")
        zq = stats.norm.ppf(1 - a / 2)
        fe = self.fixed_effects
        fixed = pd.DataFrame({"ci_lower": fe["estimate"] - zq * fe["std_error"],
                              "ci_upper": fe["estimate"] + zq * fe["std_error"]})
        vc = self.variance_components(a)[["ci_lower", "ci_upper"]]
        return pd.concat([fixed, vc])

    def tidy(self) -> pd.DataFrame:
        """One tidy table: fixed effects and variance components, with fit information."""
        fe = self.fixed_effects.reset_index().assign(component="fixed")
        vc = self.variance_components().reset_index().assign(component="random")
        out = pd.concat([fe, vc], ignore_index=True)
        out.insert(0, "outcome", self.outcome)
        for k, v in (("method", self.method), ("engine", self.engine), ("nobs", self.nobs),
                     ("ngroups", self.ngroups), ("converged", self.converged), ("loglik", self.loglik)):
            out[k] = v
        cols = ["outcome", "component", "term", "estimate", "std_error", "z", "p_value", "ci_lower", "ci_upper",
                "method", "engine", "nobs", "ngroups", "converged", "loglik"]
        return out[cols]

    def lr_test(self, other: TrajectoryResults) -> pd.DataFrame:
        """Likelihood-ratio test of this model against a nested ``other`` (on the same readings).

        Fixed effects may differ only between ML fits (``reml=False``); under REML the two
        models must share their fixed effects (then only the random part is compared). For a
        variance tested at zero the chi-square p-value is conservative (the null is on the
        boundary; the exact reference is a mixture of chi-squares).

        Returns
        -------
        DataFrame
            One row per model with ``loglik, k, aic, bic`` and, on the larger model's row,
            ``chi2, df, p_value``.
        """
        if self.nobs != other.nobs:
            raise ValueError(f"models fitted to different readings ({self.nobs:,} vs {other.nobs:,}) "
                             "cannot be compared by likelihood")
        if self.reml != other.reml:
            raise ValueError("one model was fitted by REML and the other by ML: refit both the same way")
        if self.reml and list(self.fixed_effects.index) != list(other.fixed_effects.index):
            raise ValueError("REML likelihoods of models with different fixed effects are not comparable: "
                             "refit both with reml=False")
        small, big = sorted((self, other), key=lambda r: r._fit.k_params)
        df = big._fit.k_params - small._fit.k_params
        if df <= 0:
            raise ValueError("the models have the same number of parameters: they are not nested")
        chi2 = max(0.0, 2 * (big.loglik - small.loglik))
        rows = []
        for name, r in (("smaller", small), ("larger", big)):
            rows.append({"model": name, "formula": r.design.formula, "random": r.design.random,
                         "loglik": r.loglik, "k": r._fit.k_params, "aic": r.aic, "bic": r.bic})
        out = pd.DataFrame(rows).set_index("model")
        out["chi2"] = [np.nan, chi2]
        out["df"] = [np.nan, df]
        out["p_value"] = [np.nan, float(stats.chi2.sf(chi2, df))]
        return with_old_columns(out, {"p": "p_value"})

    def summary(self) -> Summary:
        """A statsmodels-style text summary (renders as tables in a notebook)."""
        d = self.design
        lines = [
            f"Trajectory model (linear mixed model, {self.method}, engine={self.engine})",
            f"  outcome: {self.outcome or '-'}    formula: {d.formula}    random: {d.random} | {d.group}",
            f"  readings: {self.nobs:,}    groups: {self.ngroups:,}    single-reading groups: "
            f"{self.n_single_reading:,}    converged: {self.converged}",
            f"  log-likelihood: {self.loglik:.4f}    AIC: {self.aic:.2f}    BIC: {self.bic:.2f}    "
            f"residual SD: {self.sigma:.4f}",
        ]
        for what, n in self.n_dropped.items():
            if n:
                lines.append(f"  dropped {n:,} rows: {what}")
        for b in self.boundary:
            lines.append(f"  boundary fit: {b}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        fe = self.fixed_effects.to_string(float_format=lambda v: f"{v:.4f}")
        vct = self.variance_components()
        show = vct if vct["note"].astype(bool).any() else vct.drop(columns="note")
        vc = show.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-")
        foot = [f"  Random-effect CIs: Wald on the log-SD / Fisher-z scale, transformed back (observed "
                f"information of the {self.method} deviance)."]
        foot += [f"  {m}" for m in self.variance_inference.messages]
        text = ("\n".join(lines) + "\n\nFixed effects\n" + fe + "\n\nRandom effects\n" + vc + "\n"
                + "\n".join(foot))
        return Summary(text, {"Fixed effects": self.fixed_effects, "Random effects": vct}, notes=foot)

    def _repr_fields(self) -> dict[str, Any]:
        return {"method": self.method, "outcome": self.outcome, "nobs": self.nobs, "ngroups": self.ngroups,
                "converged": self.converged}

    # -------------------------------------------------------- predictions
    def _design_rows(self, new: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        d = self.design
        if d.fixed_info is None:  # default formula: time [+ time^2]
            t = _numeric(new, d.time, "time") if d.time in new.columns else None
            if t is None:
                raise KeyError(f"new data needs the time column {d.time!r}")
            X = _poly(t, len(d.fixed_names))
        else:
            import patsy

            if d.start_centre is not None and START in new.columns:  # given on the score scale
                new = new.assign(**{START: _numeric(new, START, START) - d.start_centre})
            try:
                X = np.asarray(patsy.build_design_matrices([d.fixed_info], new, NA_action="raise")[0])
            except patsy.PatsyError as err:
                raise ValueError(f"new data cannot be used with formula {d.formula!r}: {err}") from None
        if d.random_info is None:
            Z = _poly(_numeric(new, d.time, "time"), len(d.random_names))
        else:
            import patsy

            Z = np.asarray(patsy.build_design_matrices([d.random_info], new, NA_action="raise")[0])
        return X, Z

    def predict(self, new_data: pd.DataFrame | None = None, *, interval: str = "confidence",
                alpha: float | None = None) -> pd.DataFrame:
        """Population (marginal) predictions with confidence or prediction intervals.

        Parameters
        ----------
        new_data : DataFrame, optional
            Rows with the time column and every covariate of the formula (``start_score`` on
            the score scale: it is centred as in the fit). By default a
            grid of 25 times over the observed range (default formula only).
        interval : {"confidence", "prediction"}
            ``confidence``: uncertainty of the mean, ``x' Cov(beta) x``. ``prediction``: a new
            episode's reading, adding the random effects' and residual variance.
        alpha : float, optional
            1 - coverage; the fit's alpha by default.

        Returns
        -------
        DataFrame
            ``new_data``'s rows with ``mean, std_error, ci_lower, ci_upper`` added.
        """
        if interval not in ("confidence", "prediction"):
            raise ValueError(f"interval must be 'confidence' or 'prediction', not {interval!r}")
        a = self.alpha if alpha is None else alpha
        if new_data is None:
            if self.design.fixed_info is not None:
                raise ValueError("predict(): pass new_data with the formula's covariates "
                                 f"({self.design.formula!r}) and the time column")
            t = self._frame[self.design.time]
            new_data = pd.DataFrame({self.design.time: np.linspace(t.min(), t.max(), 25)})
        X, Z = self._design_rows(new_data)
        beta = self.fixed_effects["estimate"].to_numpy()
        mean = X @ beta
        var = np.einsum("ij,jk,ik->i", X, self.cov_fixed.to_numpy(), X)
        if interval == "prediction":
            var = var + np.einsum("ij,jk,ik->i", Z, self.cov_re.to_numpy(), Z) + self.scale
        se = np.sqrt(var)
        zq = stats.norm.ppf(1 - a / 2)
        out = new_data.copy()
        out["mean"], out["std_error"] = mean, se
        out["ci_lower"], out["ci_upper"] = mean - zq * se, mean + zq * se
        return with_old_columns(out, {"lower": "ci_lower", "upper": "ci_upper"})

    def fitted(self) -> pd.DataFrame:
        """Per-reading fitted values: population (``X beta``) and episode-specific (``+ Z b_i``)."""
        beta = self.fixed_effects["estimate"].to_numpy()
        pop = self._X @ beta
        b = self.random_effects.to_numpy()[self._codes]
        cond = pop + np.einsum("ij,ij->i", self._Z, b)
        out = self._frame.copy()
        out["fitted_population"] = pop
        out["fitted"] = cond
        out["residual"] = out[self.design.score] - cond
        return out

    def episode_trajectories(self, groups: Sequence | None = None, times: Iterable[float] | None = None
                             ) -> pd.DataFrame:
        """Predicted trajectory of each episode (BLUP-based), at given times or its own reading times.

        Covariates are taken from the episode's first reading (they are episode-level in a study);
        only time varies.
        """
        d = self.design
        fr = self._frame
        gcol = d.group
        if groups is not None:
            want = pd.Index(groups)
            missing = want.difference(self.random_effects.index)
            if len(missing):
                raise KeyError(f"unknown {gcol} value(s): {list(missing[:5])}")
            fr = fr[fr[gcol].isin(want)]
        if times is None:
            sel = fr
        else:
            times = np.asarray(list(times), dtype=float)
            first = fr.drop_duplicates(gcol)
            sel = first.loc[first.index.repeat(times.size)].copy()
            sel[d.time] = np.tile(times, len(first))
        X, Z = self._design_rows(sel)
        beta = self.fixed_effects["estimate"].to_numpy()
        b = self.random_effects.loc[sel[gcol]].to_numpy()
        out = sel[[gcol, d.time]].reset_index(drop=True)
        out["fitted_population"] = X @ beta
        out["fitted"] = out["fitted_population"].to_numpy() + np.einsum("ij,ij->i", Z, b)
        return out

    # ------------------------------------------------------------ figures
    def _marginal_mean(self, grid: np.ndarray, n_ref: int = 2000, seed: int = 0) -> pd.DataFrame:
        """Mean prediction over (a sample of) the data's episodes at each time, with a CI."""
        d = self.design
        first = self._frame.drop_duplicates(d.group)
        if len(first) > n_ref:
            first = first.sample(n_ref, random_state=seed)
        rows = []
        cov = self.cov_fixed.to_numpy()
        beta = self.fixed_effects["estimate"].to_numpy()
        zq = stats.norm.ppf(1 - self.alpha / 2)
        for t in grid:
            f = first.copy()
            f[d.time] = t
            xbar = self._design_rows(f)[0].mean(axis=0)
            m, se = float(xbar @ beta), float(np.sqrt(xbar @ cov @ xbar))
            rows.append((t, m, se, m - zq * se, m + zq * se))
        return pd.DataFrame(rows, columns=[d.time, "mean", "std_error", "ci_lower", "ci_upper"])

    def plot(self, kind: str = "spaghetti", ax=None, **kwargs):
        """Draw a standard figure: ``"spaghetti"`` (see :meth:`plot_spaghetti`) or
        ``"caterpillar"`` (see :meth:`plot_caterpillar`). Returns the matplotlib Axes."""
        if kind == "spaghetti":
            return self.plot_spaghetti(ax=ax, **kwargs)
        if kind == "caterpillar":
            return self.plot_caterpillar(ax=ax, **kwargs)
        raise ValueError(f"kind must be 'spaghetti' or 'caterpillar', not {kind!r}")

    def plot_spaghetti(self, ax=None, n_episodes: int = 40, seed: int = 0, fitted: bool = False):
        """Observed scores of a random sample of episodes, with the fitted mean and its CI band.

        Parameters
        ----------
        n_episodes : int
            Episodes (with at least two readings) drawn at random, reproducibly from ``seed``.
        fitted : bool
            Draw each sampled episode's predicted (BLUP) trajectory instead of its observed scores.
        """
        import matplotlib.pyplot as plt

        d = self.design
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
        counts = np.bincount(self._codes, minlength=self.ngroups)
        eligible = self.random_effects.index[counts >= 2]
        rng = np.random.default_rng(seed)
        take = rng.choice(len(eligible), size=min(n_episodes, len(eligible)), replace=False)
        chosen = eligible[np.sort(take)]
        src = self.fitted() if fitted else self._frame
        sub = src[src[d.group].isin(chosen)]
        ycol = "fitted" if fitted else d.score
        for _, g in sub.groupby(d.group, observed=True, sort=False):
            ax.plot(g[d.time], g[ycol], color="0.55", lw=0.8, alpha=0.6)
        t = self._frame[d.time]
        grid = np.linspace(max(t.min(), 0.0), np.quantile(t, 0.98), 30)
        mm = self._marginal_mean(grid, seed=seed)
        ax.fill_between(mm[d.time], mm["ci_lower"], mm["ci_upper"], color="C0", alpha=0.25,
                        label=f"{100 * (1 - self.alpha):.0f}% CI")
        ax.plot(mm[d.time], mm["mean"], color="C0", lw=2.5, label="fitted mean")
        ax.set_xlabel("years since the start of support" if d.time == "time" else d.time)
        ax.set_ylabel("score")
        if self.outcome in domain.OUTCOMES:
            ax.set_title(f"{domain.OUTCOMES[self.outcome].name}: {len(chosen)} episodes and the fitted mean")
            ax.set_yticks([1, 2, 3, 4, 5])
        ax.legend(loc="lower right", frameon=False)
        return ax

    def plot_caterpillar(self, ax=None, by: str | None = None, term: str | None = None, top: int | None = 60):
        """Caterpillar plot of group, area or provider effects with their intervals, sorted.

        Parameters
        ----------
        by : str, optional
            A column (``local_authority``, ``provider_id``, ...). If the formula has it as a fixed
            factor, its coefficients (for the intercept, or for the slope with ``term`` naming the
            time variable) are drawn with their Wald CIs. Otherwise each level's effect is the mean
            of its episodes' random effects (BLUPs) with a CI from their spread (mean +- z sd/sqrt(n)).
            Without ``by`` the grouping factor's own BLUPs are drawn with conditional intervals
            (use this when ``group`` is an area or provider).
        term : str, optional
            Which random effect: a name in ``cov_re`` (default: the time slope if present).
        top : int, optional
            Draw at most this many levels without ``by``: the largest in absolute value.
        """
        import matplotlib.pyplot as plt

        d = self.design
        names = d.random_names
        if term is None:
            term = d.time if d.time in names else names[0]
        if term not in names:
            raise ValueError(f"term must be one of {names}, not {term!r}")
        zq = stats.norm.ppf(1 - self.alpha / 2)
        if by is None:
            est = self.random_effects[term]
            se = self.random_effects_se[term]
            tab = pd.DataFrame({"estimate": est, "lower": est - zq * se, "upper": est + zq * se})
            if top is not None and len(tab) > top:
                tab = tab.loc[est.abs().sort_values(ascending=False).index[:top]]
            label = f"{d.group} random effect: {term}"
        else:
            if by not in self._frame.columns:
                raise KeyError(f"by={by!r} is not a column of the fitted data; columns: "
                               f"{', '.join(map(str, self._frame.columns))}")
            fx = self.fixed_effects
            is_slope = term != names[0]
            pat = re.compile(rf"^(C\()?{re.escape(by)}\b.*\[T\.(.+)\]$")
            hits = []
            for name in fx.index:
                parts = name.split(":")
                lev = [pat.match(p) for p in parts]
                if any(lev) and (len(parts) == 2) == is_slope and (not is_slope or d.time in parts):
                    level = next(m for m in lev if m).group(2)
                    hits.append((level, name))
            if hits:
                tab = fx.loc[[n for _, n in hits], ["estimate", "ci_lower", "ci_upper"]]
                tab.index = [lv for lv, _ in hits]
                tab.columns = ["estimate", "lower", "upper"]
                col = self._frame[by]
                ref = (col.cat.categories[0] if isinstance(col.dtype, pd.CategoricalDtype)
                       else sorted(pd.unique(col.dropna()))[0])
                label = f"{by} fixed effect on the {'slope' if is_slope else 'level'} (vs {ref})"
            else:
                lev = self._frame.drop_duplicates(d.group).set_index(d.group)[by]
                re_ = self.random_effects[term].rename("b").to_frame().join(lev.rename("level"))
                g = re_.groupby("level", observed=True)["b"].agg(["mean", "std", "count"])
                g = g[g["count"] >= 2]
                half = zq * g["std"] / np.sqrt(g["count"])
                tab = pd.DataFrame({"estimate": g["mean"], "lower": g["mean"] - half, "upper": g["mean"] + half})
                label = f"{by}: mean episode random effect ({term})"
        tab = tab.sort_values("estimate")
        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, max(3.0, 0.22 * len(tab) + 1)), layout="constrained")
        y = np.arange(len(tab))
        ax.errorbar(tab["estimate"], y, xerr=[tab["estimate"] - tab["lower"], tab["upper"] - tab["estimate"]],
                    fmt="o", ms=3, color="C0", ecolor="0.5", elinewidth=1)
        ax.axvline(0, color="0.3", lw=0.8, ls="--")
        ax.set_yticks(y)
        ax.set_yticklabels([str(i) for i in tab.index], fontsize=8)
        ax.set_xlabel(label)
        return ax


def _poly(t: np.ndarray, k: int) -> np.ndarray:
    """Columns 1, t, t^2, ... (k of them): the default designs without patsy."""
    return np.column_stack([t**j for j in range(k)]) if k > 1 else np.ones((t.size, 1))


# -------------------------------------------------------------------- fit
@renamed_arguments(group="id")
def fit_trajectories(data: Study | pd.DataFrame, outcome: str | Sequence[str] | None = None, *,
                     id: str = "episode_id", time: str = "time", score: str = "score",
                     formula: str | None = None, random: str | None = None, reml: bool = True,
                     engine: str = "fast", quadratic: bool = False,
                     score_range: tuple[float, float] | None = (1, 5), include_follow_up: bool = False,
                     alpha: float = 0.05, warn: bool = True, maxiter: int = 1000,
                     keep_baseline: bool = False, start_centre: float | str = "auto"):
    """Fit a linear mixed model of score on time in support, random intercept and slope per episode.

    Parameters
    ----------
    data : Study or DataFrame
        A study (with ``outcome``; its :meth:`Study.long` table is used) or any long table with
        the group, time, score and covariate columns.
    outcome : str, list of str or "all", optional
        Outcome area code. With a study, ``"all"`` or a list fits each area and returns one
        tidy DataFrame (see :meth:`TrajectoryResults.tidy`) instead of a results object.
    id, time, score : str
        Column names: the unit with a random effect (the episode by default; an area or provider
        works too), years since the start, the score. ``group=`` is the deprecated name of ``id=``.
    formula : str, optional
        Fixed effects, patsy syntax, e.g. ``"score ~ time * service_type + lead_need"``; the left
        side may be left out. Default ``score ~ time`` (``+ I(time ** 2)`` with ``quadratic``).
        Besides the data's columns (with a study: :meth:`Study.long`'s, including the derived
        ``time``, ``age``, ``age_band`` and ``financial_year``) it may use ``start_score``, the
        episode's start score; see Notes.
    random : str, optional
        Random-effects formula per group. Default ``~ time`` (intercept and slope), with
        ``quadratic`` ``~ time + I(time ** 2)``; ``"~ 1"`` for a random intercept only.
    reml : bool, default True
        REML (default) or maximum likelihood (to compare fixed effects by likelihood ratio).
    engine : {"fast", "statsmodels"}
        The sufficient-statistics engine of :mod:`longitudinal.mixed`, or statsmodels ``MixedLM``.
    quadratic : bool
        Add a quadratic time term to the default fixed and random parts.
    score_range : (low, high) or None, default (1, 5)
        Scores outside raise an error (the Journey of Change scale); None to model other data.
    include_follow_up : bool, default False
        With a study, keep follow-up readings taken after support ended (they follow a different
        course, so the default models time *in support*).
    alpha : float, default 0.05
        1 - coverage of the confidence intervals.
    warn : bool, default True
        Issue :class:`TrajectoryWarning` s about single-reading episodes and boundary fits
        (convergence failures always warn).
    keep_baseline : bool, default False
        With ``start_score`` in the formula, keep the baseline reading (the one ``start_score``
        is taken from) in the response. By default it is dropped; see Notes.
    start_centre : "auto", "midpoint", "mean" or float
        What ``start_score`` is centred at. ``"auto"`` (default): the midpoint of ``score_range``
        (3 on the Journey of Change), or the mean start score of the modelled episodes when
        ``score_range`` is None. ``0`` leaves it uncentred. Not applied to ``C(start_score)``.

    Returns
    -------
    TrajectoryResults, or DataFrame for several outcomes

    Raises
    ------
    KeyError
        A named column is missing.
    TypeError
        Score or time is not numeric.
    ValueError
        Scores out of range, an outcome with no readings, a formula naming an unknown column
        (the message lists every name a formula can use), fixed effects that are not identified.

    Notes
    -----
    **Start score.** ``start_score`` is each episode's first scored reading in the outcome
    being modelled (its baseline: the earliest ``time`` among the readings with a score, so a
    missed start reading makes the first review the baseline; in a table of several outcomes,
    per episode and outcome; several outcomes in one call each get their own). It is an
    episode-level covariate: ``start_score`` shifts the level, ``time:start_score`` lets the rate
    of change depend on where the episode started.

    *The baseline reading leaves the response by default.* If the response kept the reading
    ``start_score`` is taken from, the covariate would be one of the observations it predicts:
    at the start the fit is pulled towards ``score = start_score`` exactly, its measurement error
    sits on both sides, and the ``start_score`` coefficients (above all ``time:start_score``)
    are distorted mechanically -- regression to the mean built into the model, not a property
    of the people. The standard remedy, and the default here, is the ANCOVA form of a
    longitudinal model: the response is the readings *after* the baseline, conditional on it
    (Fitzmaurice, Laird & Ware, *Applied Longitudinal Analysis*, ch. 5). Episodes with no later
    reading then leave the model; both counts are reported (``n_dropped``, ``notes``,
    :meth:`TrajectoryResults.summary`) and ``baseline_dropped`` records the choice.
    ``keep_baseline=True`` keeps the baseline in the response (the note then says what that
    implies). ``time`` is still measured from the episode's start, so the intercept is the
    post-baseline trajectory projected back to the start for an episode starting at the centre.

    Even in the ANCOVA form the ``start_score`` coefficients describe the observed, rounded
    single reading: a baseline measured with error regresses towards the mean, so those
    coefficients are adjusted associations (attenuated for the latent starting level), not the
    effect of starting lower. What the adjustment buys is the other coefficients: service type,
    lead need and the like compared between episodes that started at the same stage.

    *Centring.* By default ``start_score`` enters as ``first score - 3`` (the scale midpoint;
    ``start_centre``), so ``Intercept`` and ``time`` describe an episode starting at stage 3, a
    fixed reference that means the same in every outcome, subset and year (a mean would move
    with the data). ``start_score_centre`` records it; :meth:`TrajectoryResults.predict` takes
    ``start_score`` on the score scale and centres it itself.

    Examples
    --------
    >>> import longitudinal as lg
    >>> study = lg.simulate(people=1500, seed=3)
    >>> fit = lg.fit_trajectories(study, "managing_money", formula="~ time * service_type", warn=False)
    >>> fit.fixed_effects.columns.tolist()
    ['estimate', 'std_error', 'z', 'p_value', 'ci_lower', 'ci_upper']
    >>> fit.cov_re.shape
    (2, 2)
    >>> table = lg.fit_trajectories(study, ["feeling_safe", "managing_money"], warn=False)
    >>> sorted(table["outcome"].unique())
    ['feeling_safe', 'managing_money']
    >>> fit = lg.fit_trajectories(study, "managing_money", formula="~ time * start_score", warn=False)
    >>> fit.fixed_effects.index.tolist()
    ['Intercept', 'time', 'start_score', 'time:start_score']
    >>> fit.baseline_dropped, fit.start_score_centre
    (True, 3.0)
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    multi = isinstance(outcome, (list, tuple)) or (isinstance(outcome, str) and outcome == "all")
    if multi:
        if outcome == "all":
            codes = (list(domain.OUTCOME_CODES) if isinstance(data, Study)
                     else [o for o in pd.unique(data["outcome"]) if pd.notna(o)] if isinstance(data, pd.DataFrame)
                     and "outcome" in data.columns else None)
            if codes is None:
                raise ValueError("outcome='all' needs a Study or a DataFrame with an 'outcome' column")
        else:
            codes = [domain.outcome_code(o) if isinstance(data, Study) else o for o in outcome]
        tables = []
        for code in codes:
            try:
                res = fit_trajectories(data, code, id=id, time=time, score=score, formula=formula,
                                       random=random, reml=reml, engine=engine, quadratic=quadratic,
                                       score_range=score_range, include_follow_up=include_follow_up,
                                       alpha=alpha, warn=warn, maxiter=maxiter, keep_baseline=keep_baseline,
                                       start_centre=start_centre)
            except NoDataError as err:
                warnings.warn(f"{code}: skipped, {err}", TrajectoryWarning, stacklevel=2)
                continue
            tables.append(res.tidy())
        if not tables:
            raise ValueError(f"none of the outcomes {codes} has readings to model")
        return pd.concat(tables, ignore_index=True)

    group = id  # the fitting code's name for the unit
    df, code = _long_frame(data, outcome, include_follow_up)
    lhs, rhs = _rhs(formula) if formula is not None else (None, None)
    if lhs is not None and lhs != score:
        if lhs not in df.columns:
            raise ValueError(f"formula {formula!r}: response {lhs!r} is not a column of the data; "
                             f"columns are: {', '.join(map(str, df.columns))}")
        score = lhs  # the formula's response wins over the score= default
    _check_columns(df, {"id": group, "time": time, "score": score})

    # ---- the fitting frame: numeric score/time, blanks out, order by group
    y_all = _numeric(df, score, "score")
    t_all = _numeric(df, time, "time")
    dropped: dict[str, int] = {}
    keep = ~np.isnan(y_all)
    dropped["blank score (no need in this area)"] = int((~keep).sum())
    bad_t = keep & ~np.isfinite(t_all)
    if bad_t.any():
        dropped[f"missing {time}"] = int(bad_t.sum())
        keep &= ~bad_t
    if score_range is not None:
        lo, hi = score_range
        out = keep & ((y_all < lo) | (y_all > hi))
        if out.any():
            i = np.flatnonzero(out)[0]
            raise ValueError(f"score column {score!r} has {int(out.sum())} value(s) outside {lo}..{hi}, e.g. "
                             f"{y_all[i]:g} at row {df.index[i]!r}; pass score_range=None to model another scale")
    if df[group].isna().any():
        n = int(df[group].isna().sum())
        raise ValueError(f"group column {group!r} has {n} missing value(s)")

    # ---- start_score: each episode's first scored reading (its baseline), see Notes
    usable = _usable_columns(df, score, isinstance(data, Study))
    uses_start = formula is not None and START in _identifiers(rhs)
    if random is not None and START in _identifiers(random):
        raise ValueError(f"random formula {random!r}: {START} is constant within an episode, so it cannot have "
                         f"a random effect per {group}; put it in the fixed formula")
    notes: list[str] = []
    baseline_dropped: bool | None = None
    if uses_start:
        start, base, key = _start_scores(df, group, t_all, y_all, keep)
        if START in df.columns:
            own = pd.to_numeric(df[START], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            differ = keep & ~np.isclose(own, start, rtol=0, atol=1e-9)
            if differ.any():
                i = np.flatnonzero(differ)[0]
                raise ValueError(f"the data has its own {START!r} column, which differs from the first scored "
                                 f"reading of {group} {df[group].iloc[i]!r} ({own[i]:g} vs {start[i]:g}) on "
                                 f"{int(differ.sum()):,} rows: {START} is derived here; rename that column "
                                 "(e.g. 'baseline') to use it as an ordinary covariate")
        df = df.assign(**{START: start})
        n_base = int(base.sum())
        late = t_all[base] > 28 / 365.25
        if isinstance(data, Study) and late.any():
            notes.append(f"{int(late.sum()):,} of {n_base:,} episodes have no score at the start reading: their "
                         f"first scored reading (median {np.median(t_all[base][late]):.2f} years in) is the baseline")
        baseline_dropped = not keep_baseline
        if baseline_dropped:
            later = sorted_unique(key[keep & ~base]).size
            dropped[f"baseline reading ({START} is a covariate)"] = n_base
            keep &= ~base
            notes.append(f"the baseline reading each {START} is taken from was dropped from the response "
                         f"({n_base:,} readings; {n_base - later:,} "
                         f"episode{'' if n_base - later == 1 else 's'} with no "
                         f"later reading {'leaves' if n_base - later == 1 else 'leave'} the model): "
                         "this models the scores after the start given the start score (ANCOVA "
                         f"form); keep_baseline=True keeps it")
        else:
            notes.append(f"keep_baseline=True: each episode's baseline reading is both its {START} and a "
                         f"response, which ties the {START} coefficients to the response mechanically "
                         "(regression to the mean); the default drops it from the response")

    default_fixed = formula is None
    if formula is None:
        rhs = f"{time} + I({time} ** 2)" if quadratic else time
    formula = f"{score} ~ {rhs}"
    default_random = random is None
    if random is None:
        random = f"~ {time} + I({time} ** 2)" if quadratic else f"~ {time}"
    else:
        random = random if "~" in random else f"~ {random}"
        # the default fast path recognises the standard random parts too
        compact = random.replace(" ", "")
        if compact in (f"~{time}", f"~1+{time}"):
            random, default_random = f"~ {time}", True
        elif compact in ("~1",):
            random, default_random = "~ 1", True
    if not default_fixed:
        # rows with a missing covariate cannot enter the model: drop them, say how many
        cols = _formula_columns(rhs + " " + random.split("~", 1)[1], df)
        miss = keep & df[cols].isna().any(axis=1).to_numpy() if cols else np.zeros_like(keep)
        if miss.any():
            dropped[f"missing covariate ({', '.join(c for c in cols if df.loc[keep, c].isna().any())})"] = \
                int(miss.sum())
            keep &= ~miss

    frame_cols = [c for c in df.columns if c != score]
    frame = (df.loc[keep, frame_cols] if not keep.all() else df[frame_cols]).copy()
    frame[score] = y_all[keep]
    frame[time] = t_all[keep]
    if len(frame) == 0:
        why = (f" (every episode's only reading was its baseline, dropped because {START} is a covariate: "
               "see keep_baseline)" if baseline_dropped else "")
        raise ValueError(f"no scored readings to model{f' for outcome {code!r}' if code else ''}{why}")
    gser = frame[group]
    if isinstance(gser.dtype, pd.CategoricalDtype):
        gcodes = gser.cat.codes.to_numpy().astype(np.int64)
    else:
        gcodes, _ = pd.factorize(gser, sort=True)
    if np.any(gcodes[1:] < gcodes[:-1]):
        order = np.argsort(gcodes, kind="stable")
        frame = frame.iloc[order]
        gcodes = gcodes[order]
    frame = frame.reset_index(drop=True)
    starts = np.flatnonzero(np.r_[True, gcodes[1:] != gcodes[:-1]])
    labels = frame[group].iloc[starts].to_numpy()
    codes = np.repeat(np.arange(starts.size), np.diff(np.append(starts, len(frame))))

    # ---- designs
    t = frame[time].to_numpy()
    if not default_fixed:
        # levels absent from the data (a subset of the study) would give all-zero columns
        for c in _formula_columns(rhs + " " + random.split("~", 1)[1], frame):
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                frame[c] = frame[c].cat.remove_unused_categories()
    centre = None
    design_frame = frame  # what patsy sees: start_score centred; frame keeps it on the score scale
    if uses_start:
        starts_ep = frame[START].iloc[starts]
        centre = _start_centre(start_centre, score_range, starts_ep, rhs)
        if centre is None:
            notes.insert(0, f"{START} = each episode's first scored reading, used as a factor by stage (not centred)")
        else:
            design_frame = frame.assign(**{START: frame[START] - centre})
            how = ("the mean start score of the episodes modelled" if start_centre == "mean"
                   or (start_centre == "auto" and score_range is None)
                   else "the scale midpoint" if start_centre in ("auto", "midpoint") else "as given")
            notes.insert(0, f"{START} = each episode's first scored reading, centred at {centre:g} ({how}): "
                            f"Intercept and {time} refer to an episode starting at {centre:g}")
    if default_fixed:
        X = _poly(t, 3 if quadratic else 2)
        fixed_names = ["Intercept", time] + ([f"I({time} ** 2)"] if quadratic else [])
        fixed_info = None
    else:
        Xd = _design(rhs, design_frame, "formula", usable)
        X = Xd.to_numpy(dtype=float)
        fixed_names = list(Xd.columns)
        fixed_info = Xd.design_info
    if default_random:
        k = {"~ 1": 1, f"~ {time}": 2}.get(random, 3)
        Z = _poly(t, k)
        random_names = ["Intercept", time, f"I({time} ** 2)"][:k]
        random_info = None
    else:
        Zd = _design(random, design_frame, "random formula", usable)
        Z = Zd.to_numpy(dtype=float)
        random_names = list(Zd.columns)
        random_info = Zd.design_info
    y = frame[score].to_numpy()
    _check_identified(X, fixed_names, formula)
    p, q = X.shape[1], Z.shape[1]
    if len(frame) <= p + 1:
        raise ValueError(f"{len(frame)} readings cannot identify {p} fixed effects and a residual variance")
    if starts.size < 2:
        raise ValueError(f"only one {group} in the data: a random effect per {group} needs several")

    counts = np.diff(np.append(starts, len(frame)))
    n_single = int((counts == 1).sum())
    design = _Design(formula, random, fixed_names, random_names, fixed_info, random_info, time, group, score,
                     start_centre=centre, uses_start=uses_start)
    what = f"trajectory model for {code}" if code else "trajectory model"
    if warn and n_single and q > 1:
        warnings.warn(f"{what}: {n_single:,} of {starts.size:,} {group}s ({n_single / starts.size:.0%}) have a "
                      "single reading: they inform the level (intercept) but not the rate of change.",
                      TrajectoryWarning, stacklevel=2)

    t0 = _time.perf_counter()
    if engine == "fast":
        st = SufficientStats.from_arrays(y, X, Z, starts)
        fit = fit_lmm(None, None, None, stats=st, reml=reml, maxiter=maxiter)
    else:
        fit = _fit_statsmodels(y, X, Z, codes, reml=reml, maxiter=maxiter)
    secs = _time.perf_counter() - t0
    if fit.stats is None:  # for the variance-parameter information at statsmodels' estimates
        fit.stats = SufficientStats.from_arrays(y, X, Z, starts)
    if not fit.converged:
        warnings.warn(f"{what} did not converge ({fit.message}; largest gradient {fit.grad_norm:.2g} after "
                      f"{fit.n_iter} iterations): treat the estimates with caution; simplify the random part "
                      "or rescale time.", ConvergenceWarning, stacklevel=2)
    if warn and fit.boundary:
        warnings.warn(f"{what}: boundary (singular) fit: {'; '.join(fit.boundary)}. The random part is more "
                      "complex than the data support: consider a simpler random formula (e.g. random='~ 1').",
                      TrajectoryWarning, stacklevel=2)
    return TrajectoryResults(fit, design, groups=pd.Index(labels), frame=frame, X=X, Z=Z, codes=codes,
                             engine=engine, outcome=code, alpha=alpha, n_single=n_single,
                             n_dropped=dropped, fit_seconds=secs, baseline_dropped=baseline_dropped,
                             notes=notes)


def _check_identified(X: np.ndarray, names: list[str], formula: str) -> None:
    """Raise if the fixed-effects design is rank deficient, naming the aliased terms."""
    if X.shape[0] == 0:
        return
    xtx = X.T @ X
    d = np.sqrt(np.diag(xtx))
    if np.any(d == 0):
        zero = [n for n, v in zip(names, d) if v == 0]
        raise ValueError(f"formula {formula!r}: term(s) {zero} are zero in every row (a level with no readings?)")
    # Greedy Schur complements of the scaled cross-product matrix (p x p, cheap at any N): a term
    # whose part not explained by the earlier terms is ~0 is aliased.
    C = xtx / np.outer(d, d)
    kept: list[int] = []
    bad = []
    for j in range(len(names)):
        if kept:
            ck = C[np.ix_(kept, kept)]
            cj = C[kept, j]
            resid = C[j, j] - cj @ np.linalg.solve(ck, cj)
        else:
            resid = C[j, j]
        if resid < 1e-10:
            bad.append(names[j])
        else:
            kept.append(j)
    if bad:
        raise ValueError(f"formula {formula!r}: the fixed effects are not identified; term(s) {bad} are "
                         "linear combinations of earlier terms (a covariate constant in the data, or nested)")


def _fit_statsmodels(y, X, Z, codes, *, reml: bool, maxiter: int) -> LMMFit:
    """statsmodels MixedLM on the same design, mapped onto :class:`LMMFit`."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning

    model = sm.MixedLM(y, X, groups=codes, exog_re=Z)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(reml=reml, maxiter=maxiter)
    sm_warn = [str(w.message) for w in caught if issubclass(w.category, SMConvergenceWarning)]
    p, q = X.shape[1], Z.shape[1]
    ng = int(codes.max()) + 1
    blups = np.zeros((ng, q))
    blup_cov = np.zeros((ng, q, q))
    for g, v in res.random_effects.items():
        blups[int(g)] = np.asarray(v)
    for g, v in res.random_effects_cov.items():
        blup_cov[int(g)] = np.asarray(v)
    cov_re = np.asarray(res.cov_re)
    sd = np.sqrt(np.clip(np.diag(cov_re), 0, None))
    boundary = [f"variance of random effect {j} is estimated as zero" for j in range(q)
                if sd[j] < 1e-4 * np.sqrt(res.scale)]
    return LMMFit(beta=np.asarray(res.fe_params), cov_beta=np.asarray(res.cov_params())[:p, :p],
                  cov_re=cov_re, sigma2=float(res.scale), theta=np.asarray(res.params)[p:],
                  loglik=float(res.llf), reml=reml, converged=bool(res.converged) and not sm_warn,
                  n_iter=-1, n_eval=-1, message="; ".join(sm_warn) or "statsmodels MixedLM",
                  nobs=int(len(y)), ngroups=ng, blups=blups, blup_cov=blup_cov, grad_norm=np.nan,
                  boundary=boundary)
