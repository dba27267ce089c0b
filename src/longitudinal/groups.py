"""Latent trajectory groups: group-based trajectory modelling (Nagin) of the Journey of Change.

Each episode belongs to one of ``k`` latent groups; within group ``c`` its
scores follow a polynomial in time since the episode started,

    score_it = β_c0 + β_c1 t + (β_c2 t²) + ε_it,   ε_it ~ N(0, σ²),

with readings independent given the group (the GBTM assumption). The
likelihood is a finite mixture over episodes, maximised by EM with several
seeded starts (k-means++ seeding on per-episode least-squares curves). The
score is modelled as **normal on the 1–5 scale** (not censored normal): fine
for groups away from the ends of the scale; groups piled up at 1 or 5 have
their level pulled slightly towards the middle.

EM works on per-episode sufficient statistics (n, Σy², Σxy, Σxx'), so each
iteration is O(episodes) whatever the number of readings. ``k`` is chosen by
BIC (with the number of episodes as the sample size, as in Nagin's ``traj``);
the relative entropy and the average posterior probability of each group are
reported so a reader can judge how well the groups separate. Standard errors
come from the observed information (Hessian of the mixture log-likelihood).

Groups are ordered by their mean fitted level and named by shape over the
observed time range: "improving", "rapidly improving", "declining", "high
stable", "moderate stable", "low stable", and for quadratic curves "improving
then declining" / "declining then improving".

Examples
--------
>>> import longitudinal as lg
>>> study = lg.simulate(people=400, seed=7)
>>> fit = lg.fit_trajectory_groups(study, "managing_money", k=[1, 2], seed=1)
>>> fit.k_ in (1, 2), fit.selection_.index.tolist()
(True, [1, 2])
>>> bool(abs(fit.groups_["share"].sum() - 1) < 1e-9)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import softmax

from . import domain
from ._numeric import hessian_from_gradient
from .deprecation import level_to_alpha, renamed_arguments
from .distance import GROUP_COLUMNS, integer_codes, readings_table
from .results import Results, Summary, axes_for
from .study import Study

__all__ = ["TrajectoryGroupsResults", "fit_trajectory_groups"]

_TERMS = ("Intercept", "time", "time^2")


# --------------------------------------------------------------------- EM core
@dataclass
class _Stats:
    n: np.ndarray  # readings per episode (N,)
    yy: np.ndarray  # Σ y² (N,)
    Xy: np.ndarray  # Σ x y (N, p)
    XX: np.ndarray  # Σ x x' (N, p, p)


def _suff_stats(codes: np.ndarray, t: np.ndarray, y: np.ndarray, n_ep: int, degree: int) -> _Stats:
    X = np.vander(t, degree + 1, increasing=True)
    p = X.shape[1]
    n = np.bincount(codes, minlength=n_ep).astype(float)
    yy = np.bincount(codes, weights=y * y, minlength=n_ep)
    Xy = np.column_stack([np.bincount(codes, weights=X[:, a] * y, minlength=n_ep) for a in range(p)])
    XX = np.empty((n_ep, p, p))
    for a in range(p):
        for b in range(a, p):
            XX[:, a, b] = XX[:, b, a] = np.bincount(codes, weights=X[:, a] * X[:, b], minlength=n_ep)
    return _Stats(n, yy, Xy, XX)


def _rss(S: _Stats, B: np.ndarray) -> np.ndarray:
    """Residual sum of squares of every episode under every group's curve, (N, k)."""
    k, p = B.shape
    outer = (B[:, :, None] * B[:, None, :]).reshape(k, p * p)
    return S.yy[:, None] - 2 * S.Xy @ B.T + S.XX.reshape(-1, p * p) @ outer.T


def _loglik_parts(S: _Stats, B, sigma2, pi, rss=None):
    if rss is None:
        rss = np.clip(_rss(S, B), 0, None)
    ll = -0.5 * S.n[:, None] * np.log(2 * np.pi * sigma2) - rss / (2 * sigma2) + np.log(pi)[None, :]
    m = ll.max(axis=1)
    tot = m + np.log(np.exp(ll - m[:, None]).sum(axis=1))  # scipy's logsumexp costs more than EM itself
    return ll, tot, rss


def _em(S: _Stats, B, sigma2, pi, max_iter: int, tol: float):
    n_read = S.n.sum()
    p = B.shape[1]
    XXf = S.XX.reshape(-1, p * p)
    prev = -np.inf
    converged = False
    rss = None
    for it in range(max_iter):
        ll, tot, rss = _loglik_parts(S, B, sigma2, pi, rss)
        w = np.exp(ll - tot[:, None])
        L = tot.sum()
        if L - prev < tol * (1 + abs(L)) and it > 0:
            converged = True
            break
        prev = L
        pi = w.mean(axis=0)
        if (pi < 1e-10).any():
            return None  # a group emptied: this start is degenerate
        A = (w.T @ XXf).reshape(-1, p, p)
        try:
            B = np.linalg.solve(A, (w.T @ S.Xy)[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            return None
        rss = np.clip(_rss(S, B), 0, None)  # reused by the next E-step
        sigma2 = max(float((w * rss).sum() / n_read), 1e-12)
    ll, tot, _ = _loglik_parts(S, B, sigma2, pi, rss)
    w = np.exp(ll - tot[:, None])
    return B, sigma2, pi, w, float(tot.sum()), converged, it


def _starts(S: _Stats, k: int, n_starts: int, rng: np.random.Generator):
    """k-means++ seeds on per-episode (ridge) least-squares curves."""
    p = S.Xy.shape[1]
    ridge = 1e-3 * np.eye(p)
    ridge[0, 0] = 0.0
    ok = S.n >= p
    idx = np.flatnonzero(ok) if ok.sum() >= k else np.arange(S.n.size)
    coef = np.linalg.solve(S.XX[idx] + ridge + 1e-9 * np.eye(p), S.Xy[idx][:, :, None])[:, :, 0]
    scale = coef.std(axis=0) + 1e-9
    z = coef / scale
    total_var = float((S.yy.sum() - (S.Xy[:, 0].sum() ** 2) / S.n.sum()) / S.n.sum())
    for _ in range(n_starts):
        centres = [z[rng.integers(z.shape[0])]]
        for _ in range(1, k):
            d2 = np.min([((z - c) ** 2).sum(axis=1) for c in centres], axis=0)
            pr = d2 / d2.sum() if d2.sum() > 0 else None
            centres.append(z[rng.choice(z.shape[0], p=pr)])
        B = np.array(centres) * scale
        yield B, max(total_var / 2, 1e-3), np.full(k, 1.0 / k)


def _gradient(S: _Stats, theta: np.ndarray, k: int, p: int) -> np.ndarray:
    """Analytic gradient of the mixture log-likelihood in (β, log σ, logits of shares 2..k)."""
    B = theta[: k * p].reshape(k, p)
    log_s = theta[k * p]
    alpha = np.concatenate([[0.0], theta[k * p + 1:]])
    pi = softmax(alpha)
    sigma2 = np.exp(2 * log_s)
    ll, tot, rss = _loglik_parts(S, B, sigma2, pi)
    w = np.exp(ll - tot[:, None])
    # Σ_i w_ic (Xy_i - XX_i β_c) = (w' Xy)_c - (Σ_i w_ic XX_i) β_c
    A = (w.T @ S.XX.reshape(-1, p * p)).reshape(k, p, p)
    gB = (w.T @ S.Xy - np.einsum("cpq,cq->cp", A, B)) / sigma2
    gs = float((w * (-S.n[:, None] + rss / sigma2)).sum())
    ga = (w - pi[None, :]).sum(axis=0)[1:]
    return np.concatenate([gB.ravel(), [gs], ga])


def _observed_information_cov(S: _Stats, B, sigma2, pi):
    k, p = B.shape
    theta = np.concatenate([B.ravel(), [0.5 * np.log(sigma2)], np.log(pi[1:] / pi[0])])
    H = hessian_from_gradient(lambda t: _gradient(S, t, k, p), theta)
    try:
        cov = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(-H)
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) < 0):
        warnings.warn("trajectory groups: the observed information is not positive definite; standard errors "
                      "are unreliable (too many groups for the data?)", stacklevel=3)
    return theta, cov


# ---------------------------------------------------------------- naming
def _name_groups(B: np.ndarray, horizon: float, threshold: float) -> list[str]:
    grid = np.linspace(0, horizon, 61)
    V = np.vander(grid, B.shape[1], increasing=True)
    names = []
    for b in B:
        f = V @ b
        start, end = f[0], f[-1]
        change = end - start
        level = f.mean()
        imax, imin = int(np.argmax(f)), int(np.argmin(f))
        if 0 < imax < len(f) - 1 and f[imax] - start >= threshold and f[imax] - end >= threshold:
            name = "improving then declining"
        elif 0 < imin < len(f) - 1 and start - f[imin] >= threshold and end - f[imin] >= threshold:
            name = "declining then improving"
        elif change >= 3 * threshold:
            name = "rapidly improving"
        elif change >= threshold:
            name = "improving"
        elif change <= -threshold:
            name = "declining"
        elif level >= 3.75:
            name = "high stable"
        elif level <= 2.25:
            name = "low stable"
        else:
            name = "moderate stable"
        names.append(name)
    # same shape twice: say where each starts
    for nm in set(names):
        idx = [i for i, n in enumerate(names) if n == nm]
        if len(idx) > 1:
            for i in idx:
                s = float(V[0] @ B[i])
                names[i] = f"{'high' if s >= 3.5 else 'low' if s <= 2.5 else 'moderate'}-start {nm}"
    for nm in set(names):
        idx = [i for i, n in enumerate(names) if n == nm]
        if len(idx) > 1:
            for r, i in enumerate(idx, start=1):
                names[i] = f"{nm} ({r})"
    return names


# ---------------------------------------------------------------- results
@dataclass
class TrajectoryGroupsResults(Results):
    """A fitted group-based trajectory model (the chosen ``k``).

    Attributes
    ----------
    k_ : int
        Number of groups chosen (lowest BIC among those fitted).
    selection_ : pandas.DataFrame
        One row per ``k`` tried: ``loglik, n_params, aic, bic, entropy,
        min_share, min_avepp, converged, n_starts_ok``.
    groups_ : pandas.DataFrame
        One row per group (1..k, ordered by mean level): ``name, share,
        share_ci_lower, share_ci_upper, avepp`` (average posterior probability of
        its modal members), ``n_modal`` (episodes assigned by highest posterior),
        ``start`` and ``end`` (fitted score at time 0 and at the horizon).
    params_ : pandas.DataFrame
        Growth-curve coefficients: ``group, name, term, estimate, std_error,
        ci_lower, ci_upper``.
    sigma_ : float
        Residual SD (score scale).
    posterior_ : pandas.DataFrame
        One row per episode: the group column, ``p_1..p_k``, ``group`` (modal),
        ``name``, ``max_posterior``, and the episode's attributes (lead need,
        area, ...) where available.
    entropy_ : float
        Relative entropy (1 = perfectly separated; NaN for one group).
    loglik_, bic_, aic_ : float
    horizon_ : float
        Time (years) up to which groups are described and named (90th percentile
        of the readings' times).
    degree, outcome, n_readings, n_episodes
    cov_ : numpy.ndarray
        Covariance of (β, log σ, share logits) from the observed information.
    """

    k_: int
    selection_: pd.DataFrame
    groups_: pd.DataFrame
    params_: pd.DataFrame
    sigma_: float
    posterior_: pd.DataFrame
    entropy_: float
    loglik_: float
    bic_: float
    aic_: float
    horizon_: float
    degree: int
    outcome: str | None
    n_readings: int
    n_episodes: int
    group_column: str
    level: float
    cov_: np.ndarray = field(repr=False)
    B_: np.ndarray = field(repr=False)
    time_means_: pd.DataFrame = field(repr=False, default=None)

    def _repr_fields(self) -> dict[str, Any]:
        shares = ", ".join(f"{n} {s:.0%}" for n, s in zip(self.groups_["name"], self.groups_["share"]))
        return {"k": self.k_, "groups": shares, "episodes": self.n_episodes, "bic": self.bic_}

    __repr__ = Results.__repr__  # the dataclass would write its own
    __str__ = Results.__str__

    def tidy(self) -> pd.DataFrame:
        """The growth-curve coefficients of every group (``params_``) with the outcome area."""
        out = self.params_.copy()
        out.insert(0, "outcome", self.outcome)
        return out

    @property
    def alpha(self) -> float:
        """1 - coverage of the intervals."""
        return 1 - self.level

    def predict(self, time: Iterable[float]) -> pd.DataFrame:
        """Fitted score of each group at ``time`` (years) with its pointwise CI: a tidy DataFrame."""
        t = np.asarray(list(time) if not isinstance(time, np.ndarray) else time, float)
        k, p = self.B_.shape
        V = np.vander(t, p, increasing=True)
        z = stats.norm.ppf(0.5 + self.level / 2)
        rows = []
        for c in range(k):
            cov = self.cov_[c * p:(c + 1) * p, c * p:(c + 1) * p]
            f = V @ self.B_[c]
            se = np.sqrt(np.clip(np.einsum("tp,pq,tq->t", V, cov, V), 0, None))
            rows.append(pd.DataFrame({"group": c + 1, "name": self.groups_["name"].iloc[c], "time": t,
                                      "fitted": f, "std_error": se, "ci_lower": f - z * se,
                                      "ci_upper": f + z * se}))
        return pd.concat(rows, ignore_index=True)

    def mix(self, by: str | Sequence[str] = "lead_need", modal: bool = False) -> pd.DataFrame:
        """The groups' mix by an episode attribute (lead need, local authority, ...).

        Parameters
        ----------
        by : str or list of str
            Episode attribute(s) held in ``posterior_``.
        modal : bool, default False
            Count episodes in their most likely group instead of summing posterior
            probabilities (the default, which does not overstate certainty).

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, ``group``, ``name``, ``n`` (episodes, posterior-weighted
            unless ``modal``) and ``pct`` (share of that ``by`` value's episodes, 0–100).
        """
        by = [by] if isinstance(by, str) else list(by)
        miss = [c for c in by if c not in self.posterior_.columns]
        if miss:
            have = [c for c in self.posterior_.columns if c in GROUP_COLUMNS or c == "local_authority"]
            raise KeyError(f"no episode attribute {', '.join(map(repr, miss))} in the fit; available: "
                           + (", ".join(have) if have else "none (fit from a table without episode attributes)"))
        post = self.posterior_
        k = self.k_
        if modal:
            W = np.eye(k)[post["group"].to_numpy() - 1]
        else:
            W = post[[f"p_{c}" for c in range(1, k + 1)]].to_numpy()
        keys = post[by].astype(object)
        wdf = pd.DataFrame(W, columns=range(1, k + 1))
        g = pd.concat([keys.reset_index(drop=True), wdf], axis=1).groupby(by, sort=True).sum()
        g.columns.name = "group"
        out = g.stack().rename("n").reset_index()
        tot = out.groupby(by)["n"].transform("sum")
        out["pct"] = 100 * out["n"] / tot
        out.insert(len(by) + 1, "name", out["group"].map(dict(zip(self.groups_.index, self.groups_["name"]))))
        return out

    def summary(self) -> Summary:
        """Model choice, groups, their curves and separation (text; tables in Jupyter)."""
        pct = int(round(self.level * 100))
        area = domain.OUTCOMES[self.outcome].name if self.outcome in domain.OUTCOMES else (self.outcome or "score")
        lines = [
            "Group-based trajectory model (finite mixture of "
            + ("linear" if self.degree == 1 else "quadratic" if self.degree == 2 else f"degree-{self.degree}")
            + " growth curves, normal on the 1-5 score scale, EM)",
            f"Outcome area: {area}",
            f"Episodes: {self.n_episodes:,}   readings: {self.n_readings:,}   time: years since the episode started",
            "",
            "Choice of the number of groups (lowest BIC; sample size = episodes):",
            self.selection_.to_string(float_format=lambda v: f"{v:.4g}"),
            "",
            f"Chosen k = {self.k_}: log-likelihood {self.loglik_:.2f}, BIC {self.bic_:.1f}, relative entropy "
            f"{self.entropy_:.3f}, residual SD {self.sigma_:.3f}",
            "",
            f"Groups (fitted score at 0 and {self.horizon_:.1f} years; share with {pct}% CI):",
            self.groups_.to_string(float_format=lambda v: f"{v:.3f}"),
            "",
            f"Growth curves ({pct}% CI):",
            self.params_.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        if self.k_ > 1 and self.groups_["avepp"].min() < 0.7:
            lines.append("  Note: a group's average posterior probability is below 0.7 (Nagin's guide): its "
                         "members are poorly separated.")
        notes = lines[-1:] if lines[-1].startswith("  Note") else []
        return Summary("\n".join(lines), {"Choice of k": self.selection_, "Groups": self.groups_,
                                          "Growth curves": self.params_}, head="\n".join(lines[:3]), notes=notes)

    def plot(self, ax=None, observed: bool = True, n_grid: int = 60, title: str | None = None):
        """Group trajectories with CI bands (and observed means of modal members by half-year).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        ax = axes_for(ax, figsize=(9, 4.8))
        pred = self.predict(np.linspace(0, self.horizon_, n_grid))
        colours = plt.get_cmap("tab10")
        for c, row in self.groups_.iterrows():
            col = colours((c - 1) % 10)
            p = pred[pred["group"] == c]
            ax.fill_between(p["time"], p["ci_lower"], p["ci_upper"], color=col, alpha=0.2, lw=0)
            ax.plot(p["time"], p["fitted"], color=col, lw=2.2, label=f"{row['name']} ({row['share']:.0%})")
            if observed and self.time_means_ is not None:
                m = self.time_means_[self.time_means_["group"] == c]
                ax.plot(m["time"], m["mean"], "o", color=col, ms=4, alpha=0.8)
        ax.set_ylim(1, 5)
        ax.set_yticks(range(1, 6), [domain.SCALE_SHORT[s] for s in range(1, 6)], fontsize=8)
        ax.set_xlabel("Years since the episode started")
        ax.set_ylabel("Journey of Change stage")
        ax.grid(color="0.92")
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1),
                  title="Group (share)" + (", dots: observed means" if observed else ""), title_fontsize=8)
        area = domain.OUTCOMES[self.outcome].name if self.outcome in domain.OUTCOMES else "score"
        ax.set_title(title or f"Latent trajectory groups: {area} (k = {self.k_}, {int(self.level * 100)}% CI)",
                     loc="left", fontsize=10)
        return ax


# ---------------------------------------------------------------- fitting
@renamed_arguments(group="id")
def fit_trajectory_groups(data: Study | pd.DataFrame, outcome: str | None = None, *,
                          k: int | Iterable[int] = range(1, 6), degree: int = 1, seed: int = 0,
                          n_starts: int = 10, id: str = "episode_id", time: str = "time",
                          score: str = "score", max_iter: int = 1000, tol: float = 1e-9,
                          include_follow_up: bool = False, alpha: float = 0.05,
                          change_threshold: float = 0.5, short_iter: int = 20,
                          level: float | None = None) -> TrajectoryGroupsResults:
    """Fit latent trajectory groups (a finite mixture of polynomial growth curves) by EM.

    Parameters
    ----------
    data : Study or pandas.DataFrame
        A study (one outcome area, readings during support from
        :meth:`Study.long`), or any long table with ``id``, ``time`` and
        ``score`` columns (scores on the 1–5 scale; blanks dropped).
    outcome : str, optional
        Outcome area (required for a study).
    k : int or iterable of int, default 1..5
        Numbers of groups to fit; the lowest BIC is chosen.
    degree : {1, 2}
        Linear or quadratic growth curves.
    seed : int
        Seed of the EM starts: the same inputs give the same fit.
    n_starts : int, default 10
        Seeded starts per ``k`` (k-means++ on per-episode curves). Each runs
        ``short_iter`` EM iterations; the best is then run to convergence
        (``tol``: relative change in log-likelihood, ``max_iter``).
    change_threshold : float, default 0.5
        Change in stages over the horizon that makes a group "improving" or
        "declining" rather than "stable".
    id, time, score : str
        Columns: the episode (``group=`` is its deprecated name), years since the start, the score.
    alpha : float, default 0.05
        1 - coverage of the confidence intervals (``level=`` is deprecated).

    Returns
    -------
    TrajectoryGroupsResults

    Raises
    ------
    ValueError
        A study without an outcome, a bad ``k`` or ``degree``, fewer episodes than
        parameters, bad scores; ``KeyError`` for missing columns.

    Examples
    --------
    >>> import longitudinal as lg
    >>> fit = lg.fit_trajectory_groups(lg.simulate(people=300, seed=7), "feeling_safe", k=2, seed=3)
    >>> fit.posterior_.columns[:4].tolist()
    ['episode_id', 'p_1', 'p_2', 'group']
    """
    level = 1 - level_to_alpha("fit_trajectory_groups", level, alpha)
    group = id
    if degree not in (1, 2, 3):
        raise ValueError(f"degree must be 1 (linear) or 2 (quadratic) (3 allowed), not {degree!r}")
    ks = [k] if isinstance(k, (int, np.integer)) else list(k)
    if not ks or any(not isinstance(v, (int, np.integer)) or v < 1 for v in ks):
        raise ValueError(f"k must be a positive integer or a list of them, got {k!r}")
    ks = sorted(set(int(v) for v in ks))
    if isinstance(data, Study) and outcome is None:
        raise ValueError("trajectory groups are fitted per outcome area: pass outcome= one of "
                         + ", ".join(domain.OUTCOME_CODES))
    long = readings_table(data, outcome, need=[time], score=score, group=group, integer=False,
                       include_follow_up=include_follow_up, order=time)
    if "outcome" in long.columns and long["outcome"].astype(str).nunique() > 1:
        raise ValueError("the data hold several outcome areas; fit one at a time (pass outcome=)")
    t = pd.to_numeric(long[time], errors="coerce").to_numpy(float)
    if np.isnan(t).any():
        raise ValueError(f"column {time!r}: {int(np.isnan(t).sum())} reading(s) without a numeric time")
    if (t < 0).any():
        raise ValueError(f"column {time!r}: {int((t < 0).sum())} reading(s) before their episode started "
                         f"(time < 0), e.g. row {int(np.flatnonzero(t < 0)[0])}")
    y = long["score"].to_numpy(float)
    codes = integer_codes(long[group])
    uniq, codes = np.unique(codes, return_inverse=True)
    n_ep = uniq.size
    p = degree + 1
    S = _suff_stats(codes, t, y, n_ep, degree)
    rng = np.random.default_rng(seed)
    fits, rows = {}, []
    for kk in ks:
        n_par = kk * p + 1 + (kk - 1)
        if n_ep < 2 * n_par:
            warnings.warn(f"trajectory groups: k={kk} skipped: {n_ep} episodes for {n_par} parameters",
                          stacklevel=2)
            continue
        # emEM: a short EM from every start, then the best one run to convergence (most of the
        # cost of EM is the slow crawl at the end, worth paying once)
        best, ok = None, 0
        for B0, s0, pi0 in _starts(S, kk, 1 if kk == 1 else n_starts, rng):
            r = _em(S, B0, s0, pi0, min(short_iter, max_iter), tol)
            if r is None:
                continue
            ok += 1
            if best is None or r[4] > best[4] + 1e-9:
                best = r
        if best is not None and not best[5]:
            best = _em(S, best[0], best[1], best[2], max_iter, tol) or best
        if best is None:
            warnings.warn(f"trajectory groups: every start for k={kk} lost a group; k={kk} skipped", stacklevel=2)
            continue
        B, sigma2, pi, w, L, conv, _ = best
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = 1 - float(-(w * np.log(np.clip(w, 1e-300, None))).sum() / (n_ep * np.log(kk))) if kk > 1 else np.nan
        modal = w.argmax(axis=1)
        avepp = [float(w[modal == c, c].mean()) if (modal == c).any() else np.nan for c in range(kk)]
        fits[kk] = best
        rows.append({"k": kk, "loglik": L, "n_params": n_par, "aic": -2 * L + 2 * n_par,
                     "bic": -2 * L + n_par * np.log(n_ep), "entropy": ent, "min_share": float(pi.min()),
                     "min_avepp": float(np.nanmin(avepp)), "converged": bool(conv), "n_starts_ok": ok})
        if not conv:
            warnings.warn(f"trajectory groups: EM for k={kk} stopped at max_iter={max_iter} before converging",
                          stacklevel=2)
    if not fits:
        raise ValueError(f"no model could be fitted for k in {ks} ({n_ep} episodes, {len(y)} readings)")
    sel = pd.DataFrame(rows).set_index("k")
    kbest = int(sel["bic"].idxmin())
    B, sigma2, pi, w, L, conv, _ = fits[kbest]
    horizon = float(np.quantile(t, 0.9)) if t.size else 1.0
    horizon = horizon if horizon > 0 else float(t.max() or 1.0)
    # order groups by mean fitted level over [0, horizon]
    grid = np.vander(np.linspace(0, horizon, 61), p, increasing=True)
    order = np.argsort((grid @ B.T).mean(axis=0), kind="stable")
    B, pi, w = B[order], pi[order], w[:, order]
    theta, cov = _observed_information_cov(S, B, sigma2, pi)
    names = _name_groups(B, horizon, change_threshold)
    z = stats.norm.ppf(0.5 + level / 2)
    # shares: delta method through the softmax of the logits
    m = kbest * p + 1
    if kbest > 1:
        Jsm = (np.diag(pi) - np.outer(pi, pi))[:, 1:]
        cov_pi = Jsm @ cov[m:, m:] @ Jsm.T
        se_pi = np.sqrt(np.clip(np.diag(cov_pi), 0, None))
    else:
        se_pi = np.zeros(1)
    modal = w.argmax(axis=1)
    groups = pd.DataFrame({
        "name": names, "share": pi, "share_ci_lower": np.clip(pi - z * se_pi, 0, 1),
        "share_ci_upper": np.clip(pi + z * se_pi, 0, 1),
        "avepp": [float(w[modal == c, c].mean()) if (modal == c).any() else np.nan for c in range(kbest)],
        "n_modal": np.bincount(modal, minlength=kbest),
        "start": grid[0] @ B.T, "end": grid[-1] @ B.T,
    }, index=pd.Index(np.arange(1, kbest + 1), name="group"))
    se = np.sqrt(np.clip(np.diag(cov)[: kbest * p], 0, None)).reshape(kbest, p)
    params = pd.DataFrame([
        {"group": c + 1, "name": names[c], "term": _TERMS[j] if j < 3 else f"time^{j}", "estimate": B[c, j],
         "std_error": se[c, j], "ci_lower": B[c, j] - z * se[c, j], "ci_upper": B[c, j] + z * se[c, j]}
        for c in range(kbest) for j in range(p)])
    # per-episode posterior with the episode's attributes
    first = np.concatenate([[0], np.flatnonzero(np.diff(codes) != 0) + 1]) if codes.size else np.zeros(0, int)
    # rows of the same episode are contiguous (sorted by group): first row of each code
    ep_first = np.full(n_ep, -1)
    ep_first[codes[first]] = first
    post = pd.DataFrame({group: long[group].to_numpy()[ep_first]})
    for g in range(kbest):
        post[f"p_{g + 1}"] = w[:, g]
    post["group"] = modal + 1
    post["name"] = np.asarray(names, dtype=object)[modal]
    post["max_posterior"] = w.max(axis=1)
    for c in GROUP_COLUMNS:
        if c in long.columns and c != "financial_year":
            post[c] = long[c].to_numpy()[ep_first]
    # observed means of modal members by half-year, for the figure
    bins = np.floor(t / 0.5) * 0.5 + 0.25
    tm = pd.DataFrame({"group": (modal + 1)[codes], "time": bins, "score": y})
    tm = tm[tm["time"] <= horizon + 0.25].groupby(["group", "time"])["score"].agg(["mean", "size"]).reset_index()
    tm = tm[tm["size"] >= 5]
    return TrajectoryGroupsResults(
        k_=kbest, selection_=sel, groups_=groups, params_=params, sigma_=float(np.sqrt(sigma2)), posterior_=post,
        entropy_=float(sel.loc[kbest, "entropy"]), loglik_=float(L), bic_=float(sel.loc[kbest, "bic"]),
        aic_=float(sel.loc[kbest, "aic"]), horizon_=horizon, degree=degree,
        outcome=domain.outcome_code(outcome) if outcome is not None else None, n_readings=int(len(y)),
        n_episodes=int(n_ep), group_column=group, level=level, cov_=cov, B_=B, time_means_=tm,
    )
