"""The ordinal view: a proportional-odds (cumulative logit) model of the Journey of Change stage.

The stage is ordinal (1–5), so besides the linear mixed model of
:func:`longitudinal.fit_trajectories` a researcher will want

    P(score > j | x) = F(x'β − θ_j),  j = 1..4,

with ``F`` the logistic distribution (or the normal: ``distr="probit"``). A
positive β raises the odds of being at a higher stage; ``exp(β)`` is that odds
ratio, the same at every cut-point under the proportional-odds assumption.

Repeated readings of one episode are not independent: the model is fitted by
maximum likelihood (statsmodels ``OrderedModel``: the working-independence
estimating equations of ordinal GEE) and its standard errors are
cluster-robust by episode (sandwich estimator, with the small-sample factor
statsmodels uses). Coefficients are therefore population-averaged
(marginal), not episode-specific.

The proportional-odds assumption is checked Brant-style: a separate binary
logit is fitted for every cut-point (``score > j``); the joint cluster-robust
covariance of all their coefficients comes from stacking their estimating
equations, and a Wald test asks whether each covariate's coefficients are equal
across the cut-points (per term and omnibus). With national-scale data such
tests reject tiny departures, so the spread of the per-cut coefficients is
reported beside the p-values.

Examples
--------
>>> import longitudinal as lg
>>> study = lg.simulate(people=300, seed=5)
>>> fit = lg.fit_ordinal(study, "managing_money", formula="score ~ time + service_type")
>>> fit.params.loc["time", "odds_ratio"] > 1
np.True_
>>> list(fit.proportional_odds.columns)
['chi2', 'df', 'p_value', 'max_abs_diff']
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from . import domain
from ._numeric import hessian_from_gradient
from .deprecation import level_to_alpha, renamed_arguments
from .distance import readings_table
from .results import Results, Summary, axes_for
from .study import Study

__all__ = ["OrdinalResults", "fit_ordinal"]


@dataclass
class OrdinalResults(Results):
    """A fitted proportional-odds model of the Journey of Change stage.

    Attributes
    ----------
    params : pandas.DataFrame
        Covariate coefficients (log odds of a higher stage), indexed by term, with
        ``estimate, std_error, z, p_value, ci_lower, ci_upper, odds_ratio,
        or_ci_lower, or_ci_upper``.
    thresholds : pandas.DataFrame
        Cut-points θ_j (``"1|2"`` … ``"4|5"``) on the latent scale with
        delta-method standard errors and CIs.
    cov_params : pandas.DataFrame
        Covariance of the covariate coefficients and cut-points.
    proportional_odds : pandas.DataFrame
        Brant-type Wald tests, one row per term and an ``omnibus`` row:
        ``chi2, df, p_value, max_abs_diff`` (largest difference between the
        per-cut binary-logit coefficients of the term).
    cutpoint_params : pandas.DataFrame
        The per-cut binary-logit coefficients: ``term, cut, estimate, std_error``.
    loglik, aic, bic : float
    nobs, n_groups : int
        Readings and clusters (episodes).
    converged : bool
    cov_type : str
    formula, distr, outcome : str
    result_ : statsmodels results
        The underlying ``OrderedModel`` fit (its ``bse`` are model-based).
    """

    params: pd.DataFrame
    thresholds: pd.DataFrame
    cov_params: pd.DataFrame
    proportional_odds: pd.DataFrame
    cutpoint_params: pd.DataFrame
    loglik: float
    aic: float
    bic: float
    nobs: int
    n_groups: int
    converged: bool
    cov_type: str
    formula: str
    distr: str
    outcome: str | None
    level: float
    result_: Any = field(repr=False, default=None)

    @property
    def alpha(self) -> float:
        """1 - coverage of the intervals."""
        return 1 - self.level

    def _repr_fields(self) -> dict[str, Any]:
        return {"formula": self.formula, "outcome": self.outcome, "nobs": self.nobs, "groups": self.n_groups,
                "loglik": self.loglik}

    __repr__ = Results.__repr__  # the dataclass would write its own
    __str__ = Results.__str__

    def tidy(self) -> pd.DataFrame:
        """Coefficients and cut-points in one table, with a ``component`` column (``coefficient``/``cutpoint``)."""
        coef = self.params.reset_index().assign(component="coefficient")
        cuts = self.thresholds.reset_index().assign(component="cutpoint")
        out = pd.concat([coef, cuts], ignore_index=True)
        out.insert(0, "outcome", self.outcome)
        return out

    @property
    def bse(self) -> pd.Series:
        """Standard errors of the covariate coefficients (statsmodels' name)."""
        return self.params["std_error"]

    def conf_int(self) -> pd.DataFrame:
        """Confidence intervals of the covariate coefficients (log-odds scale)."""
        return self.params[["ci_lower", "ci_upper"]]

    @property
    def odds_ratios(self) -> pd.DataFrame:
        """Odds ratios of a higher stage with their confidence intervals."""
        return self.params[["odds_ratio", "or_ci_lower", "or_ci_upper"]]

    def predict(self, newdata: pd.DataFrame) -> pd.DataFrame:
        """Probability of each stage for the rows of ``newdata`` (columns as in the formula)."""
        p = np.asarray(self.result_.predict(newdata))
        levels = self.thresholds.attrs["levels"]
        return pd.DataFrame(p, index=newdata.index, columns=[f"p_{v:g}" for v in levels])

    def summary(self) -> Summary:
        """Coefficients, odds ratios, cut-points and the proportional-odds check (text; tables in Jupyter)."""
        pct = int(round(self.level * 100))
        lines = [
            f"Proportional-odds ({self.distr}) model of the Journey of Change stage",
            f"Outcome area: {domain.OUTCOMES[self.outcome].name if self.outcome in domain.OUTCOMES else self.outcome}",
            f"Formula: {self.formula}",
            f"Readings: {self.nobs:,}   episodes (clusters): {self.n_groups:,}   log-likelihood: {self.loglik:.3f}"
            f"   AIC: {self.aic:.1f}   BIC: {self.bic:.1f}",
            f"Standard errors: {self.cov_type}" + ("" if self.converged else "   WARNING: not converged"),
            "",
            f"Coefficients (log odds of a higher stage) and odds ratios, {pct}% CI:",
            self.params.to_string(float_format=lambda v: f"{v:.4f}"),
            "",
            "Cut-points (latent scale):",
            self.thresholds.to_string(float_format=lambda v: f"{v:.4f}"),
            "",
            "Proportional-odds check (Brant-type Wald test across binary logits per cut-point):",
            self.proportional_odds.to_string(float_format=lambda v: f"{v:.4g}"),
        ]
        bad = self.proportional_odds.drop(index="omnibus", errors="ignore")
        bad = bad[bad["p_value"] < 0.05]
        if len(bad):
            lines.append(f"  Assumption rejected at 5% for: {', '.join(bad.index)}. Look at max_abs_diff and "
                         "cutpoint_params before relying on a single odds ratio for these terms.")
        else:
            lines.append("  No evidence against proportional odds at the 5% level.")
        return Summary("\n".join(lines), {"Coefficients": self.params, "Cut-points": self.thresholds,
                                          "Proportional-odds check": self.proportional_odds},
                       head="\n".join(lines[:5]), notes=lines[-1:])

    def plot(self, ax=None):
        """Forest plot: the odds ratio of each term with its CI and the per-cut binary-logit odds ratios.

        Returns
        -------
        matplotlib.axes.Axes
        """
        p = self.params
        ax = axes_for(ax, figsize=(7, 0.5 * len(p) + 1.5))
        y = np.arange(len(p))[::-1]
        ax.errorbar(p["odds_ratio"], y, xerr=[p["odds_ratio"] - p["or_ci_lower"], p["or_ci_upper"] - p["odds_ratio"]],
                    fmt="o", color="#1f4e79", capsize=3, label="Proportional odds")
        cp = self.cutpoint_params
        cuts = list(dict.fromkeys(cp["cut"]))
        marks = "v^<>sd"
        for k, c in enumerate(cuts):
            sub = cp[cp["cut"] == c].set_index("term").reindex(p.index)
            ax.scatter(np.exp(sub["estimate"]), y + 0.15 * (k - (len(cuts) - 1) / 2) / max(len(cuts), 1),
                       marker=marks[k % len(marks)], s=18, color="0.5", alpha=0.8,
                       label=f"Binary logit, score > {c.split('|')[0]}")
        ax.axvline(1, color="0.3", lw=0.8)
        ax.set_xscale("log")
        ax.set_yticks(y, p.index)
        ax.set_xlabel("Odds ratio of a higher stage (log scale)")
        ax.legend(fontsize=7, frameon=False, loc="best")
        name = domain.OUTCOMES[self.outcome].name if self.outcome in domain.OUTCOMES else "score"
        ax.set_title(f"Ordinal model: {name}", loc="left", fontsize=10)
        return ax


def _cluster_meat(scores: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Σ_g (Σ_{i∈g} s_i)(Σ_{i∈g} s_i)' and the number of clusters."""
    codes, n_g = pd.factorize(groups)[0], None
    n_g = int(codes.max()) + 1 if codes.size else 0
    sums = np.zeros((n_g, scores.shape[1]))
    np.add.at(sums, codes, scores)
    return sums.T @ sums, n_g


def _sandwich(bread: np.ndarray, scores: np.ndarray, groups: np.ndarray | None, k: int) -> tuple[np.ndarray, int]:
    n = scores.shape[0]
    if groups is None:
        meat, n_g = scores.T @ scores, n
        factor = n / (n - k) if n > k else 1.0  # HC1
    else:
        meat, n_g = _cluster_meat(scores, groups)
        # statsmodels' default small-sample factor for cluster-robust covariances
        factor = (n_g / (n_g - 1)) * ((n - 1) / (n - k)) if n_g > 1 and n > k else 1.0
    return factor * bread @ meat @ bread, n_g


def _score_obs(model, params: np.ndarray) -> np.ndarray:
    """Analytic per-reading score of the cumulative model in statsmodels' parameterisation.

    statsmodels differentiates ``OrderedModel`` numerically; at hundreds of
    thousands of readings that dominates the run time, so the score is written out:
    with ``low, upp`` the latent bounds of the observed stage,
    ``d log p / d beta = -(f(upp) - f(low)) / p * x`` and the cut-point parts follow
    through ``cut_j = c_1 + sum_{m<=j} exp(delta_m)``.
    """
    X = np.asarray(model.exog, float)
    y = np.asarray(model.endog).astype(np.int64)
    kv = X.shape[1]
    beta, th = params[:kv], params[kv:]
    cuts = np.concatenate([[th[0]], th[0] + np.cumsum(np.exp(th[1:]))])
    ext = np.concatenate([[-np.inf], cuts, [np.inf]])
    xb = X @ beta
    upp, low = ext[y + 1] - xb, ext[y] - xb
    dist = model.distr  # scipy's logistic or normal
    fu, fl = dist.pdf(upp), dist.pdf(low)
    p = np.clip(dist.cdf(upp) - dist.cdf(low), 1e-300, None)
    n, nt = X.shape[0], th.size
    g_beta = -((fu - fl) / p)[:, None] * X
    g_cut = np.zeros((n, nt))
    rows = np.arange(n)
    top = y < nt
    g_cut[rows[top], y[top]] += (fu / p)[top]
    bot = y > 0
    g_cut[rows[bot], y[bot] - 1] -= (fl / p)[bot]
    D = np.zeros((nt, nt))
    D[:, 0] = 1.0
    for j in range(1, nt):
        D[j:, j] = np.exp(th[j])
    return np.hstack([g_beta, g_cut @ D])


def _hessian(model, params: np.ndarray) -> np.ndarray:
    """Central differences of the analytic total score (2k score evaluations)."""
    return hessian_from_gradient(lambda t: _score_obs(model, t).sum(0), params)


def _model_class():
    """``OrderedModel`` with the analytic score and Hessian (same likelihood, same parameterisation)."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    class _AnalyticOrderedModel(OrderedModel):
        def score_obs(self, params):
            return _score_obs(self, np.asarray(params, float))

        def score(self, params):
            return _score_obs(self, np.asarray(params, float)).sum(0)

        def hessian(self, params):
            return _hessian(self, np.asarray(params, float))

    return _AnalyticOrderedModel


def _brant(y: np.ndarray, X: np.ndarray, names: list[str], levels: np.ndarray, groups, min_side: int = 10):
    """Per-cut binary logits and the Wald test of equal coefficients across cut-points.

    A 0/1 covariate whose readings all fall on one side of a cut-point (e.g. no
    one with that lead need ever at stage 5) has no finite coefficient there: it
    is left out of that cut's logit and of the test at that cut (reported as NaN).
    """
    from statsmodels.discrete.discrete_model import Logit

    n, p = X.shape
    binary = [bool(np.isin(np.unique(X[:, i]), (0.0, 1.0)).all()) for i in range(p)]
    betas, breads, scores, cuts, active = [], [], [], [], []
    for j in range(len(levels) - 1):
        yj = (y > levels[j]).astype(float)
        if min(yj.sum(), n - yj.sum()) < min_side:
            warnings.warn(f"proportional-odds check: cut-point {levels[j]:g}|{levels[j + 1]:g} has fewer than "
                          f"{min_side} readings on one side and is left out", stacklevel=3)
            continue
        act = []
        for i in range(p):
            if binary[i]:
                on = X[:, i] == 1
                if on.sum() == 0 or yj[on].min() == yj[on].max():
                    continue  # separated: no finite estimate at this cut
            act.append(i)
        Xc = np.column_stack([np.ones(n), X[:, act]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = Logit(yj, Xc).fit(disp=False, method="newton", maxiter=100)
        b = np.asarray(r.params)
        pi = 1 / (1 + np.exp(-Xc @ b))
        w = pi * (1 - pi)
        breads.append(np.linalg.pinv((Xc * w[:, None]).T @ Xc))
        scores.append(Xc * (yj - pi)[:, None])
        betas.append(b)
        active.append(act)
        cuts.append(f"{levels[j]:g}|{levels[j + 1]:g}")
    J = len(betas)
    offsets = np.concatenate([[0], np.cumsum([b.size for b in betas])]).astype(int)

    def idx(j, i):  # position of covariate i's coefficient at cut j in the stacked vector, or None
        return offsets[j] + 1 + active[j].index(i) if i in active[j] else None

    cols = ["term", "cut", "estimate", "std_error"]
    empty = pd.DataFrame(columns=["chi2", "df", "p_value", "max_abs_diff"], dtype=float)
    if J == 0:
        return empty, pd.DataFrame(columns=cols)
    B = np.zeros((offsets[-1], offsets[-1]))
    for j in range(J):
        B[offsets[j]:offsets[j + 1], offsets[j]:offsets[j + 1]] = breads[j]
    V, _ = _sandwich(B, np.hstack(scores), groups, max(b.size for b in betas))
    beta = np.concatenate(betas)
    rows = []
    for j in range(J):
        for i, t in enumerate(names):
            q = idx(j, i)
            rows.append({"term": t, "cut": cuts[j], "estimate": np.nan if q is None else beta[q],
                         "std_error": np.nan if q is None else float(np.sqrt(V[q, q]))})
    cut_params = pd.DataFrame(rows, columns=cols)
    if J < 2 or p == 0:
        return empty, cut_params

    def contrasts(i):
        pos = [q for q in (idx(j, i) for j in range(J)) if q is not None]
        return [(pos[0], q) for q in pos[1:]]

    def wald(terms):
        pairs = [c for i in terms for c in contrasts(i)]
        if not pairs:
            return np.nan, 0, np.nan
        D = np.zeros((len(pairs), beta.size))
        for r, (a, b) in enumerate(pairs):
            D[r, a], D[r, b] = 1.0, -1.0
        d = D @ beta
        M = D @ V @ D.T
        df = int(np.linalg.matrix_rank(M))
        chi2 = float(d @ np.linalg.pinv(M) @ d)
        return chi2, df, float(stats.chi2.sf(chi2, df)) if df else np.nan

    out = {}
    for i, t in enumerate(names):
        slopes = cut_params.loc[cut_params["term"] == t, "estimate"].dropna().to_numpy()
        out[t] = (*wald([i]), float(np.ptp(slopes)) if slopes.size else np.nan)
    out["omnibus"] = (*wald(list(range(p))), float(np.nanmax([v[3] for v in out.values()])))
    po = pd.DataFrame.from_dict(out, orient="index", columns=["chi2", "df", "p_value", "max_abs_diff"])
    po["df"] = po["df"].astype("int64")
    po.index.name = "term"
    return po, cut_params


@renamed_arguments(group="id")
def fit_ordinal(data: Study | pd.DataFrame, outcome: str | None = None, *, formula: str = "score ~ time",
                id: str = "episode_id", score: str = "score", distr: Literal["logit", "probit"] = "logit",
                cov_type: Literal["cluster", "robust", "nonrobust"] = "cluster", alpha: float = 0.05,
                check_proportional_odds: bool = True, include_follow_up: bool = False,
                maxiter: int = 2000, score_range: tuple[float, float] | None = (1, 5),
                level: float | None = None) -> OrdinalResults:
    """Fit a proportional-odds (cumulative logit) model of the stage on time and covariates.

    Parameters
    ----------
    data : Study or pandas.DataFrame
        A study (readings from :meth:`Study.long`), or any long table with the
        ``id``, ``score`` and formula columns.
    outcome : str, optional
        The outcome area (required for a study; filters a table with an ``outcome`` column).
    formula : str, default ``"score ~ time"``
        Patsy-style formula; the left side is the stage column. No intercept is
        estimated (the cut-points take its place). ``time`` is years since the
        episode started.
    id : str, default ``"episode_id"``
        Cluster of repeated readings for the robust standard errors (``group=`` is its
        deprecated name).
    score : str, default ``"score"``
        The stage column (whole stages 1–5; blank = no need, dropped).
    score_range : (low, high) or None, default (1, 5)
        The Journey of Change scale is checked; ``None`` takes a table's own ordered scale (any
        numeric values, e.g. 0-10 ratings; the levels are the distinct values seen).
    distr : {"logit", "probit"}
    cov_type : {"cluster", "robust", "nonrobust"}
        Cluster-robust by ``id`` (default), heteroscedasticity-robust, or model-based. Only
        ``"cluster"`` needs the ``id`` column in a table.
    alpha : float, default 0.05
        1 - coverage of the confidence intervals (``level=`` is deprecated).
    check_proportional_odds : bool, default True
        Fit the per-cut binary logits and test equality of their coefficients.
    include_follow_up : bool, default False
        Keep follow-up readings taken after support ended.

    Returns
    -------
    OrdinalResults

    Raises
    ------
    ValueError
        No outcome for a study, fewer than two stages observed, a formula that
        cannot be evaluated (e.g. an unknown covariate), bad scores.
    KeyError
        Missing columns.

    Examples
    --------
    >>> import longitudinal as lg
    >>> fit = lg.fit_ordinal(lg.simulate(people=300, seed=5), "feeling_safe")
    >>> fit.params.index.tolist(), fit.thresholds.index.tolist()
    (['time'], ['1|2', '2|3', '3|4', '4|5'])
    """
    level = 1 - level_to_alpha("fit_ordinal", level, alpha)
    group = id
    OrderedModel = _model_class()
    if distr not in ("logit", "probit"):
        raise ValueError(f"distr must be 'logit' or 'probit', not {distr!r}")
    if cov_type not in ("cluster", "robust", "nonrobust"):
        raise ValueError(f"cov_type must be 'cluster', 'robust' or 'nonrobust', not {cov_type!r}")
    if "~" not in formula:
        raise ValueError(f"formula {formula!r} needs a left side: e.g. 'score ~ time + service_type'")
    lhs = formula.split("~", 1)[0].strip()
    if isinstance(data, Study) and outcome is None:
        raise ValueError("fit_ordinal models one outcome area: pass outcome= one of " + ", ".join(domain.OUTCOME_CODES))
    if isinstance(data, pd.DataFrame) and group not in data.columns and cov_type != "cluster":
        data = data.assign(**{group: np.arange(len(data))})  # no clusters wanted: each reading its own
    long = readings_table(data, outcome, score=score, group=group, include_follow_up=include_follow_up,
                          score_range=score_range)
    if lhs != "score":
        if lhs != score:
            raise ValueError(f"the formula's left side {lhs!r} must be the score column {score!r}")
        formula = "score ~" + formula.split("~", 1)[1]
    levels = np.sort(long["score"].dropna().unique())
    if levels.size < 2:
        raise ValueError(f"the ordinal model needs at least two different stages; the data has only "
                         f"{levels.tolist()} ({len(long):,} readings)")
    long = long.reset_index(drop=True)
    try:
        model = OrderedModel.from_formula(formula, long, distr=distr)
    except Exception as exc:  # patsy/formulaic errors name the culprit; add what is available
        msg = " ".join(str(exc).split())
        raise ValueError(f"formula {formula!r} could not be evaluated on the data ({type(exc).__name__}: {msg}); "
                         f"columns available: {', '.join(map(str, long.columns))}") from None
    names = list(model.exog_names[: model.k_vars])
    if model.exog.shape[0] != len(long):
        raise ValueError(f"the formula's covariates have blanks in {len(long) - model.exog.shape[0]:,} readings; "
                         "fill or drop them first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(method="bfgs", maxiter=maxiter, disp=False, gtol=1e-7)
    converged = bool(res.mle_retvals.get("converged", True))
    if not converged:
        warnings.warn(f"fit_ordinal: the optimiser did not converge in {maxiter} iterations "
                      "(check for separation: a covariate level where every reading is at one stage)", stacklevel=2)
    theta = np.asarray(res.params)
    k = theta.size
    H = _hessian(model, theta)
    bread = np.linalg.pinv(-H)
    groups = long[group].to_numpy() if cov_type == "cluster" else None
    if cov_type == "nonrobust":
        cov, n_groups = bread, long[group].nunique() if group in long else len(long)
    else:
        s = _score_obs(model, theta)
        cov, n_groups = _sandwich(bread, s, groups, k)
    # cut-points θ_1, θ_1 + exp(δ_2), ...: delta method from the increments statsmodels estimates
    nt = k - len(names)
    J = np.zeros((nt, nt))
    inc = theta[len(names):]
    for j in range(nt):
        J[j, 0] = 1.0
        for m in range(1, j + 1):
            J[j, m] = np.exp(inc[m])
    cuts = J[:, 0] * inc[0] + np.array([np.exp(inc[1:j + 1]).sum() for j in range(nt)])
    T = np.eye(k)
    T[len(names):, len(names):] = J
    cov_nat = T @ cov @ T.T
    z = stats.norm.ppf(0.5 + level / 2)
    est = np.concatenate([theta[: len(names)], cuts])
    se = np.sqrt(np.clip(np.diag(cov_nat), 0, None))
    cut_names = [f"{levels[j]:g}|{levels[j + 1]:g}" for j in range(nt)]
    p = pd.DataFrame({"estimate": est[: len(names)], "std_error": se[: len(names)]}, index=pd.Index(names, name="term"))
    p["z"] = p["estimate"] / p["std_error"]
    p["p_value"] = 2 * stats.norm.sf(np.abs(p["z"]))
    p["ci_lower"] = p["estimate"] - z * p["std_error"]
    p["ci_upper"] = p["estimate"] + z * p["std_error"]
    p["odds_ratio"] = np.exp(p["estimate"])
    p["or_ci_lower"] = np.exp(p["ci_lower"])
    p["or_ci_upper"] = np.exp(p["ci_upper"])
    th = pd.DataFrame({"estimate": est[len(names):], "std_error": se[len(names):]},
                      index=pd.Index(cut_names, name="cut"))
    th["ci_lower"] = th["estimate"] - z * th["std_error"]
    th["ci_upper"] = th["estimate"] + z * th["std_error"]
    th.attrs["levels"] = levels.tolist()
    allnames = names + cut_names
    if check_proportional_odds:
        po, cutp = _brant(long["score"].to_numpy(), np.asarray(model.exog, float), names, levels,
                          groups if cov_type == "cluster" else None)
    else:
        po = pd.DataFrame(columns=["chi2", "df", "p_value", "max_abs_diff"], dtype=float)
        cutp = pd.DataFrame(columns=["term", "cut", "estimate", "std_error"])
    out_code = domain.outcome_code(outcome) if outcome is not None else None
    n = len(long)
    return OrdinalResults(
        params=p, thresholds=th, cov_params=pd.DataFrame(cov_nat, index=allnames, columns=allnames),
        proportional_odds=po, cutpoint_params=cutp, loglik=float(res.llf),
        aic=float(-2 * res.llf + 2 * k), bic=float(-2 * res.llf + k * np.log(n)), nobs=n,
        n_groups=int(n_groups), converged=converged,
        cov_type={"cluster": f"cluster-robust by {group}", "robust": "robust (HC1)",
                  "nonrobust": "model-based (observed information)"}[cov_type],
        formula=formula, distr=distr, outcome=out_code, level=level, result_=res,
    )
