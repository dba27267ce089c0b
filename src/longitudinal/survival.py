"""Time to independence and lasting impact: survival analysis of Journey of Change readings.

Two entry points, both built on lifelines:

:func:`time_to_independence`
    Time from the start of support to the first reading at or above a stage
    (stage 5, "manages independently", by default) in each outcome area.
    The stage is only *seen* at readings, so the event is **interval
    censored**: it happened after the previous reading and no later than the
    reading that first shows it. Curves are the Turnbull non-parametric
    maximum-likelihood estimate (NPMLE, the interval-censored Kaplan–Meier),
    with seeded bootstrap confidence intervals; the conventional Kaplan–Meier
    on the date the stage was first seen (lifelines ``KaplanMeierFitter``) is
    kept beside it for the at-risk tables. A Cox model (lifelines
    ``CoxPHFitter``) gives hazard ratios with the proportional-hazards
    assumption tested (``proportional_hazard_test``).

:func:`sustained_outcomes`
    After a *planned* end of support: (a) time to losing a stage in an area
    (interval censored between the end reading and follow-up readings),
    (b) time to re-referral (a new episode of the same person) with death and
    moving away as competing risks (lifelines ``AalenJohansenFitter``, seeded
    because it jitters tied times), (c) the share whose outcome is sustained at
    6, 12 and 24 months with CIs, by area and lead need. ``.by_year()`` is the
    tidy table the social-return work reads for drop-off.

Conventions
-----------
* Times are in **months** (days / 30.4375). After the end of support they are
  rounded to whole months, because follow-ups are scheduled at 6, 12 and 24
  months and are taken a few days either side of the date.
* An interval ``(lower, upper]`` is open on the left: the person was seen not
  to have the event at ``lower``. ``upper = inf`` is right censoring.
* Where the NPMLE is not determined (inside a Turnbull innermost interval) the
  curve is interpolated linearly; beyond the last finite observation it is
  undefined and reported as NaN rather than extrapolated.
* Everything left out is counted, with the reason, in ``.exclusions``.

Examples
--------
>>> import longitudinal as lg
>>> study = lg.simulate(people=600, seed=2)
>>> tti = lg.time_to_independence(study, "managing_money", n_boot=20)
>>> float(tti.survival_at.loc[0, "survival"]) <= 1
True
>>> so = lg.sustained_outcomes(study, "managing_money", by=("outcome",), n_boot=20, seed=1)
>>> so.by_year().columns.tolist()
['outcome', 'year', 'survival', 'ci_lower', 'ci_upper', 'at_risk']
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import domain
from .deprecation import renamed_arguments, with_old_columns
from .errors import InputError, LongitudinalWarning, NoDataError
from .results import Results, Summary, axes_for
from .study import Study

__all__ = [
    "fit_cox",
    "linked_exits",
    "CoxResults",
    "turnbull",
    "TurnbullCurve",
    "time_to_independence",
    "IndependenceResults",
    "sustained_outcomes",
    "SustainedResults",
    "MONTH_DAYS",
]

#: Days in an average month; times are reported in months.
MONTH_DAYS = 365.25 / 12
#: Columns of the long table that may be used as groups or covariates.
_GROUPABLE = ("outcome", "lead_need", "service_type", "local_authority", "provider_id", "age_band", "sex",
              "end_reason", "financial_year", "start_score")
_COMPETING = {1: "re_referral", 2: "died", 3: "moved_away"}


# ===================================================================== Turnbull NPMLE
@dataclass
class TurnbullCurve:
    """The Turnbull NPMLE of a survival function from interval-censored data.

    Attributes
    ----------
    left, right : ndarray
        The innermost intervals ``(left, right]`` that carry probability mass.
    mass : ndarray
        The mass on each innermost interval (sums to 1; the mass on an interval
        with ``right = inf`` is survival beyond the last finite time).
    last_time : float
        The largest finite interval end point; the curve is undefined beyond it.
    n : float
        Total weight (number of subjects).
    iterations : int
        EM iterations used.
    """

    left: np.ndarray
    right: np.ndarray
    mass: np.ndarray
    last_time: float
    n: float
    iterations: int

    def survival(self, t: Iterable[float] | float) -> np.ndarray:
        """S(t) = P(T > t), linear inside innermost intervals, NaN beyond ``last_time``."""
        return _survival_rows(self.left, self.right, self.mass[None, :], np.array([self.last_time]), t)[0]

    def steps(self) -> pd.DataFrame:
        """The curve at its break points (``time, survival``), for plotting."""
        pts = np.unique(np.concatenate([[0.0], self.left, self.right]))
        pts = pts[np.isfinite(pts) & (pts <= self.last_time)]
        return pd.DataFrame({"time": pts, "survival": self.survival(pts)})


def _survival_rows(left, right, mass: np.ndarray, last_time: np.ndarray, t) -> np.ndarray:
    """``TurnbullCurve.survival`` for curves on the same innermost intervals: one row per row of ``mass``.

    Every step is elementwise or along a row, so each row is exactly what that curve's own
    ``survival`` gives (bootstrap replicates share the innermost intervals of their fit).
    """
    t = np.atleast_1d(np.asarray(t, dtype=float))
    before = np.concatenate([np.zeros((mass.shape[0], 1)), np.cumsum(mass, axis=1)], axis=1)  # mass of 0..j-1
    j = np.searchsorted(right, t, side="left")  # first interval whose right end >= t
    out = 1.0 - before[:, j]
    jj = np.minimum(j, left.size - 1)
    inside = (j < left.size) & (left[jj] < t)  # t inside (left_j, right_j]: interpolate
    width = right[jj] - left[jj]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(np.isfinite(width), (t - left[jj]) / width, 1.0)
    out = out - np.where(inside, mass[:, jj] * frac, 0.0)
    out[t[None, :] > last_time[:, None] + 1e-12] = np.nan
    return out


def turnbull(lower, upper, weights=None, *, tol: float = 1e-8, max_iter: int = 2_000) -> TurnbullCurve:
    """Turnbull NPMLE of the survival function from intervals ``(lower, upper]``.

    Turnbull's innermost intervals, with each subject's support a contiguous
    run of them, so one iteration costs O(n) with cumulative sums; the
    likelihood is maximised by the hybrid EM–ICM algorithm (see
    ``_TurnbullProblem.fit``) — fast enough for national data.

    Parameters
    ----------
    lower, upper : array-like
        The event happened in ``(lower, upper]``, as R's ``Surv(lower, upper, type = "interval2")``:
        ``upper`` inf or NaN is right censoring at ``lower``; ``lower`` -inf or NaN is left
        censoring at ``upper`` (the closed ``[0, upper]``); ``lower == upper`` is an event seen exactly then (the point
        ``[t, t]``, held as ``(t - ε, t]``, so an interval ending at ``t`` contains it and one
        starting at ``t`` does not: with exact times and right censoring only, the curve is
        Kaplan–Meier's).
    weights : array-like, optional
        Case weights (for example counts of identical intervals).

    Returns
    -------
    TurnbullCurve

    Raises
    ------
    InputError
        An interval with ``upper < lower``, a negative ``lower``, or both bounds missing (the row is named).

    Examples
    --------
    >>> c = turnbull([0, 0, 1, 1, 2], [1, 2, 2, float("inf"), float("inf")])
    >>> [round(float(s), 3) for s in c.survival([1, 2])]
    [0.724, 0.276]
    >>> [round(float(s), 4) for s in turnbull([1, 2, 3], [1, float("nan"), 3]).survival([1, 3])]  # exact, right, exact
    [0.6667, 0.0]
    """
    lo = np.array(lower, dtype=float)
    hi = np.array(upper, dtype=float)
    w = np.ones(lo.size) if weights is None else np.asarray(weights, dtype=float)
    if lo.shape != hi.shape or lo.shape != w.shape or lo.ndim != 1:
        raise ValueError(f"lower, upper and weights must be 1-d and of equal length; got {lo.shape}, "
                         f"{hi.shape}, {w.shape}")
    if lo.size == 0:
        raise ValueError("turnbull: no intervals to estimate from")
    neither = np.isnan(lo) & np.isnan(hi)
    if neither.any():
        raise InputError(f"turnbull: both bounds missing ({int(neither.sum())} interval(s)): no information",
                         row=int(np.flatnonzero(neither)[0]), expected="a lower or an upper bound")
    hi[np.isnan(hi)] = np.inf
    left = np.isnan(lo) | (lo == -np.inf)
    lo[left] = 0.0
    bad = hi < lo
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"turnbull: upper must not be less than lower ({int(bad.sum())} such interval(s))",
                         row=i, value=f"({lo[i]}, {hi[i]}]")
    if (lo < 0).any():
        i = int(np.flatnonzero(lo < 0)[0])
        raise InputError("turnbull: lower bounds must be non-negative", row=i, value=lo[i])
    exact = (lo == hi) & np.isfinite(hi)
    lo[exact] = np.nextafter(hi[exact], -np.inf)  # [t, t] as (t - ε, t]
    lo[left] = np.nextafter(0.0, -np.inf)  # left censoring: [0, upper], which holds an event at 0
    prob = _TurnbullProblem(lo, hi)
    p, it = prob.fit(w, tol=tol, max_iter=max_iter)
    return prob.curve(p, w, it)


def _private_pava():
    """scipy's PAVA kernel (``isotonic_regression`` minus its per-call checks and result object), if this
    scipy has it with the signature and result we rely on; else None and the public function is used."""
    try:
        from scipy.optimize import isotonic_regression
        from scipy.optimize._pava_pybind import pava
    except ImportError:  # pragma: no cover - a scipy that moved it
        return None
    y, w = np.array([3.0, 1.0, 2.0, 5.0, 4.0]), np.array([1.0, 2.0, 1.0, 3.0, 1.0])
    try:  # a private function may change without notice: check it against the public one once
        got = pava(y.copy(), w.copy(), np.full(y.size + 1, -1, dtype=np.intp))[0]
        ok = np.array_equal(got, isotonic_regression(y, weights=w, increasing=True).x)
    except Exception:  # pragma: no cover - any change of signature or result
        ok = False
    return pava if ok else None


_pava = _private_pava()


def _isotonic_increasing(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``scipy.optimize.isotonic_regression(y, weights=w, increasing=True).x`` for weights ``w > 0``.

    The same PAVA call on the same copies of the data, so the same numbers; the public function's
    argument checks and result object cost several times the PAVA itself on the few innermost
    intervals of a sustained-outcome curve, and the bootstrap calls it about 150,000 times per report.
    """
    if _pava is None:  # pragma: no cover
        from scipy.optimize import isotonic_regression

        return isotonic_regression(y, weights=w, increasing=True).x
    x = np.array(y, order="C", dtype=np.float64, copy=True)
    return _pava(x, np.array(w, order="C", dtype=np.float64, copy=True), np.full(x.size + 1, -1, dtype=np.intp))[0]


#: Row × pattern cells per batch of ``_TurnbullProblem.fit_many`` (set by timing; see docs/benchmarks.md).
_BATCH_CELLS = 65_536


class _TurnbullProblem:
    """Innermost intervals and each subject's run of them, shared by a fit and its bootstrap replicates."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray):
        # innermost intervals: a left end point followed (in sorted order) by a right end point;
        # at equal values a right end sorts first because (a, b] and (b, c] do not overlap.
        vals = np.concatenate([hi, lo])
        tags = np.concatenate([np.zeros(hi.size, int), np.ones(lo.size, int)])  # 0 right, 1 left
        o = np.lexsort((tags, vals))
        vals, tags = vals[o], tags[o]
        start = np.flatnonzero((tags[:-1] == 1) & (tags[1:] == 0))
        self.left, self.right = vals[start], vals[start + 1]
        self.j0 = np.searchsorted(self.left, lo, side="left")
        self.j1 = np.searchsorted(self.right, hi, side="right")
        self.lo, self.hi = lo, hi

    def fit(self, w: np.ndarray, p0: np.ndarray | None = None, *, tol: float = 1e-8,
            max_iter: int = 2_000, ftol: float = 1e-12) -> tuple[np.ndarray, int]:
        """Maximise the likelihood by the hybrid EM–ICM algorithm (Wellner & Zhan 1997).

        Each iteration takes an iterative-convex-minorant step on the
        distribution function (a Newton step with the diagonal Hessian,
        projected onto monotone functions by weighted isotonic regression, with
        step halving) and then a self-consistency (EM) step. Plain EM needs
        tens of thousands of iterations on review data; this needs about a
        hundred. ``w`` may hold zeros (bootstrap), ``p0`` warm-starts. Stops on
        the Kuhn–Tucker condition of the NPMLE (``max_j d_j <= 1 + tol`` with
        ``d_j = sum_i w_i 1[j in i] / P_i / W``) or when the likelihood stops moving.

        This is the reference form of the algorithm, one weight vector at a time;
        :meth:`fit_many` runs the same iterations for many weight vectors at once.
        """
        m = self.left.size
        p = np.full(m, 1.0 / m) if p0 is None else np.maximum(p0, 1e-10 / m)
        p = p / p.sum()
        pos = w > 0
        j0, j1, ww = self.j0[pos], self.j1[pos], w[pos]
        W = ww.sum()
        if m == 1:
            return np.ones(1), 0

        def loglik(F):  # F[k] = P(T <= right_k); F[m-1] = 1. Also returns each subject's P_i = D
            Fe = np.concatenate([[0.0], F])
            D = Fe[j1] - Fe[j0]
            return (-np.inf if (D <= 0).any() else float(ww @ np.log(D))), D

        F = np.cumsum(p)
        F[-1] = 1.0
        cur, D = loglik(F)  # D: of the current F, kept with it
        it = 0
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
            r, r2 = ww / D, ww / D**2
            g = (np.bincount(j1, r, minlength=m + 1) - np.bincount(j0, r, minlength=m + 1))[1:m]
            h = np.maximum((np.bincount(j1, r2, minlength=m + 1) + np.bincount(j0, r2, minlength=m + 1))[1:m],
                           1e-12)
            target = np.clip(_isotonic_increasing(F[:-1] + g / h, h), 0.0, 1.0)
            step, new_ll = 1.0, cur
            while step > 1e-6:  # ICM step with halving
                cand = F.copy()
                cand[:-1] += step * (target - F[:-1])
                v, Dc = loglik(cand)
                if v >= cur:
                    F, new_ll, D = cand, v, Dc
                    break
                step /= 2
            # EM step, kept when it does not lose likelihood
            p = np.maximum(np.diff(np.concatenate([[0.0], F])), 0.0)
            cp = np.concatenate([[0.0], np.cumsum(p)])
            q = ww / np.maximum(cp[j1] - cp[j0], 1e-300)
            d = np.cumsum(np.bincount(j0, q, minlength=m + 1) - np.bincount(j1, q, minlength=m + 1))[:m] / W
            if d.max() - 1.0 < tol:
                break
            pe = p * d
            Fq = np.cumsum(pe / pe.sum())
            Fq[-1] = 1.0
            vq, Dq = loglik(Fq)
            if vq >= new_ll:
                F, new_ll, D = Fq, vq, Dq
            done = abs(new_ll - cur) <= ftol * max(1.0, abs(cur))
            cur = new_ll
            if done:
                break
        return np.maximum(np.diff(np.concatenate([[0.0], F])), 0.0), it

    def fit_many(self, w: np.ndarray, p0: np.ndarray | None = None, *, tol: float = 1e-8,
                 max_iter: int = 2_000, ftol: float = 1e-12, cells: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`fit` for each row of ``w`` (replicates × patterns), rows iterated side by side.

        Returns the masses (one row per row of ``w``) and the iterations each used, equal bit for bit
        to :meth:`fit` row by row. Rows go through in batches of about ``cells`` (default
        ``_BATCH_CELLS``) row × pattern cells: all at once where a problem is small and numpy's
        per-call overhead is the cost (a sustained-outcome curve has about 10 patterns, where this is
        ~10 times faster than :meth:`fit` in a loop); with fewer than 8 rows to a batch (above ~8,000
        patterns) the arithmetic is the cost, a big batch no longer stays in cache, and the rows go
        through :meth:`fit` one at a time.
        """
        w = np.asarray(w, dtype=float)
        rows = (_BATCH_CELLS if cells is None else cells) // max(1, w.shape[1])
        if rows < 8:  # a large problem: one row at a time is as fast
            fits = [self.fit(wi, p0, tol=tol, max_iter=max_iter, ftol=ftol) for wi in w]
            P = np.stack([f[0] for f in fits]) if fits else np.empty((0, self.left.size))
            return P, np.array([f[1] for f in fits], dtype=int)
        if w.shape[0] <= rows:
            return self._fit_rows(w, p0, tol=tol, max_iter=max_iter, ftol=ftol)
        parts = [self._fit_rows(w[i:i + rows], p0, tol=tol, max_iter=max_iter, ftol=ftol)
                 for i in range(0, w.shape[0], rows)]
        return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])

    def _fit_rows(self, w: np.ndarray, p0: np.ndarray | None = None, *, tol: float = 1e-8,
                  max_iter: int = 2_000, ftol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
        """One batch of :meth:`fit_many`: every row of ``w`` iterated side by side.

        The algorithm is
        :meth:`fit`'s, step for step: each row keeps its own step halving, its own acceptance of the
        EM step and its own stopping test, and leaves the batch when it stops. Only the bookkeeping is
        shared. Each row's patterns with positive weight are packed to the left in their order (the
        padding spans every innermost interval, so its probability is 1, and has weight 0, so it adds
        exact zeros); the bin sums, cumulative
        sums and row sums then add the same numbers in the same order as :meth:`fit`, and the dot product
        of the log-likelihood and the isotonic regression are the same calls on the same values, row by
        row. So every row equals :meth:`fit` bit for bit (``tests/test_survival.py`` checks this); what
        is saved is the per-call overhead of numpy on the few innermost intervals of a sustained-outcome
        curve, where :meth:`fit` spent nearly all its time in it.
        """
        w = np.asarray(w, dtype=float)
        B, m = w.shape[0], self.left.size
        P, its = np.empty((B, m)), np.zeros(B, dtype=int)
        if B == 0:
            return P, its
        if m == 1:
            P[:] = 1.0
            return P, its
        p = np.full(m, 1.0 / m) if p0 is None else np.maximum(p0, 1e-10 / m)
        p = p / p.sum()
        F0 = np.cumsum(p)
        F0[-1] = 1.0
        pos = w > 0
        k = pos.sum(axis=1)
        K = int(k.max())
        rows, cols = np.nonzero(pos)  # row-major: each row's positive patterns in order
        slot = np.arange(rows.size) - np.repeat(np.cumsum(k) - k, k)
        J0, J1, WW = np.zeros((B, K), np.intp), np.full((B, K), m, np.intp), np.zeros((B, K))
        J0[rows, slot], J1[rows, slot], WW[rows, slot] = self.j0[cols], self.j1[cols], w[rows, cols]
        Wsum = np.array([WW[b, :k[b]].sum() for b in range(B)])  # as fit's ww.sum()
        act = np.arange(B)  # original row of each row still iterating
        F = np.repeat(F0[None, :], B, axis=0)
        I0 = I1 = None  # flat indices of the packed patterns' ends into (rows, m + 1) arrays

        def flat():
            off = (np.arange(act.size) * (m + 1))[:, None]
            return (J0 + off).ravel(), (J1 + off).ravel()

        def gather(Fs, sel):  # D_i = F(right end) - F(left end) of each packed pattern; sel None: every row
            Fe = np.concatenate([np.zeros((Fs.shape[0], 1)), Fs], axis=1).ravel()
            if sel is None:
                return (Fe[I1] - Fe[I0]).reshape(Fs.shape[0], K)
            off = (np.arange(sel.size) * (m + 1))[:, None]
            return Fe[J1[sel] + off] - Fe[J0[sel] + off]

        def loglik(Fs, sel=None):
            D = gather(Fs, sel)
            n = D.shape[0]
            out = np.full(n, -np.inf)
            good = ~(D <= 0).any(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                L = np.log(D)
            # fit's ``ww @ np.log(D)``: numpy takes a 1-d @ 1-d and each item of a stack of (1, n) @ (n, 1)
            # to the same dot kernel, so the rows with the same number of patterns go in one call
            ks, Ws = (k, WW) if sel is None else (k[sel], WW[sel])
            for kk in np.unique(ks):
                rg = np.flatnonzero((ks == kk) & good)
                if rg.size == n:
                    out[:] = (Ws[:, None, :kk] @ L[:, :kk, None])[:, 0, 0]
                elif rg.size:
                    out[rg] = (Ws[rg, None, :kk] @ L[rg, :kk, None])[:, 0, 0]
            return out, D

        def finish(done, it):
            rs = act[done]
            P[rs] = np.maximum(np.diff(np.concatenate([np.zeros((rs.size, 1)), F[done]], axis=1), axis=1), 0.0)
            its[rs] = it

        if max_iter < 1:
            finish(np.ones(B, dtype=bool), 0)
            return P, its
        I0, I1 = flat()
        cur, D = loglik(F)  # D: of each row's current F, kept up to date as F moves
        for it in range(1, max_iter + 1):
            a = act.size
            nb = a * (m + 1)
            r, r2 = (WW / D).ravel(), (WW / D**2).ravel()
            g = (np.bincount(I1, r, minlength=nb) - np.bincount(I0, r, minlength=nb)).reshape(a, m + 1)[:, 1:m]
            h = np.maximum((np.bincount(I1, r2, minlength=nb) + np.bincount(I0, r2, minlength=nb))
                           .reshape(a, m + 1)[:, 1:m], 1e-12)
            y = F[:, :-1] + g / h
            # PAVA pools only where a value is not below the next one: a strictly increasing row is its own
            # isotonic regression, value for value (most rows of a small problem near its optimum)
            target = y.copy()
            for i in np.flatnonzero(~(np.diff(y, axis=1) > 0).all(axis=1)):
                target[i] = _isotonic_increasing(y[i], h[i])
            target = np.clip(target, 0.0, 1.0)
            new_ll = cur.copy()
            cand = F.copy()  # ICM step with halving, each row until it gains
            cand[:, :-1] += 1.0 * (target - F[:, :-1])
            v, Dc = loglik(cand)
            ok = v >= cur
            F[ok], new_ll[ok], D[ok] = cand[ok], v[ok], Dc[ok]
            pend, step = np.flatnonzero(~ok), 0.5
            while step > 1e-6 and pend.size:
                Fp = F[pend]
                cand = Fp.copy()
                cand[:, :-1] += step * (target[pend] - Fp[:, :-1])
                v, Dc = loglik(cand, pend)
                ok = v >= cur[pend]
                F[pend[ok]], new_ll[pend[ok]], D[pend[ok]] = cand[ok], v[ok], Dc[ok]
                pend = pend[~ok]
                step /= 2
            # EM step, kept where it does not lose likelihood (formed for every row, used where d says go on)
            p = np.maximum(np.diff(np.concatenate([np.zeros((a, 1)), F], axis=1), axis=1), 0.0)
            cp = np.concatenate([np.zeros((a, 1)), np.cumsum(p, axis=1)], axis=1).ravel()
            q = (WW / np.maximum((cp[I1] - cp[I0]).reshape(a, K), 1e-300)).ravel()
            d = np.cumsum((np.bincount(I0, q, minlength=nb) - np.bincount(I1, q, minlength=nb)).reshape(a, m + 1),
                          axis=1)[:, :m] / Wsum[act][:, None]
            kt = d.max(axis=1) - 1.0 < tol
            pe = p * d
            with np.errstate(divide="ignore", invalid="ignore"):
                Fq = np.cumsum(pe / pe.sum(axis=1)[:, None], axis=1)
            Fq[:, -1] = 1.0
            vq, Dq = loglik(Fq)
            take = ~kt & (vq >= new_ll)
            F[take], new_ll[take], D[take] = Fq[take], vq[take], Dq[take]
            with np.errstate(invalid="ignore"):
                done = kt | (np.abs(new_ll - cur) <= ftol * np.maximum(1.0, np.abs(cur)))
            cur = new_ll
            if it == max_iter:
                done[:] = True
            if done.any():
                finish(done, it)
                keep = ~done
                act, F, cur, D = act[keep], F[keep], cur[keep], D[keep]
                J0, J1, WW, k = J0[keep], J1[keep], WW[keep], k[keep]
                if not act.size:
                    break
                I0, I1 = flat()
        return P, its

    def curve(self, p: np.ndarray, w: np.ndarray, it: int) -> TurnbullCurve:
        pos = w > 0
        finite = np.concatenate([self.lo[pos], self.hi[pos & np.isfinite(self.hi)]])
        return TurnbullCurve(self.left, self.right, p, float(finite.max()), float(w.sum()), it)

    def curves(self, P: np.ndarray, w: np.ndarray, its: np.ndarray) -> list[TurnbullCurve]:
        """:meth:`curve` for each row of ``P`` and ``w`` (the last finite end point as a masked row maximum)."""
        pos = w > 0
        last = np.maximum(np.where(pos, self.lo, -np.inf).max(axis=1),
                          np.where(pos & np.isfinite(self.hi), self.hi, -np.inf).max(axis=1))
        return [TurnbullCurve(self.left, self.right, P[b], float(last[b]), float(w[b].sum()), int(its[b]))
                for b in range(P.shape[0])]


def _collapse(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (lower, upper) pairs, sorted, with counts, so EM and bootstrap run on distinct patterns."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    keep = ~(np.isnan(lo) | np.isnan(hi))
    lo, hi = lo[keep], hi[keep]
    o = np.lexsort((hi, lo))
    lo, hi = lo[o], hi[o]
    new = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])] if lo.size else np.zeros(0, bool)
    first = np.flatnonzero(new)
    return lo[first], hi[first], np.diff(np.r_[first, lo.size]).astype(float)


def _fit_with_bootstrap(lo, hi, *, n_boot: int, rng: np.random.Generator):
    """NPMLE and ``n_boot`` bootstrap replicates (subjects resampled: multinomial counts on the distinct
    intervals, warm-started from the full fit).

    The replicates' counts are drawn as ``n_boot`` multinomial draws in one call (the same numbers, in the
    same order, as one call per replicate) and fitted side by side by ``_TurnbullProblem.fit_many``, which
    gives each replicate exactly what ``_TurnbullProblem.fit`` would (``_fit_with_bootstrap_reference``
    is the one-at-a-time form, kept for the tests).
    """
    ul, uh, cnt = _collapse(lo, hi)
    prob = _TurnbullProblem(ul, uh)
    p, it = prob.fit(cnt)
    curve = prob.curve(p, cnt, it)
    if n_boot <= 0:
        return curve, []
    n = int(cnt.sum())
    wb = rng.multinomial(n, cnt / n, size=n_boot).astype(float)
    pb, itb = prob.fit_many(wb, p)
    return curve, prob.curves(pb, wb, itb)


def _fit_with_bootstrap_reference(lo, hi, *, n_boot: int, rng: np.random.Generator):
    """The bootstrap one replicate at a time with :meth:`_TurnbullProblem.fit` (the form before ``fit_many``)."""
    ul, uh, cnt = _collapse(lo, hi)
    prob = _TurnbullProblem(ul, uh)
    p, it = prob.fit(cnt)
    curve = prob.curve(p, cnt, it)
    n = int(cnt.sum())
    boots = []
    for _ in range(n_boot):
        wb = rng.multinomial(n, cnt / n).astype(float)
        pb, itb = prob.fit(wb, p)
        boots.append(prob.curve(pb, wb, itb))
    return curve, boots


def _stacked(curves: list[TurnbullCurve]):
    """(left, right, masses, last times) of curves on the same innermost intervals, else None."""
    c0 = curves[0]
    if any(c.left is not c0.left or c.right is not c0.right for c in curves):
        return None
    return c0.left, c0.right, np.stack([c.mass for c in curves]), np.array([c.last_time for c in curves])


def _survival_matrix(curves: list[TurnbullCurve], times) -> np.ndarray:
    """``np.stack([c.survival(times) for c in curves])``, in one pass when they share innermost intervals."""
    st = _stacked(curves)
    if st is None:
        return np.stack([c.survival(times) for c in curves])
    return _survival_rows(*st, times)


def _band(curve: TurnbullCurve, boots: list[TurnbullCurve], times, alpha: float):
    """Estimate and percentile bootstrap interval at ``times`` (NaN where the curve is undefined)."""
    est = curve.survival(times)
    if not boots:
        nan = np.full(len(est), np.nan)
        return est, nan, nan.copy()
    bs = _survival_matrix(boots, times)
    # np.nanquantile's result where a column has no NaN is np.quantile's (the same partition and
    # interpolation), which does all such columns at once instead of one at a time
    full = ~np.isnan(bs).any(axis=0)
    qs = [alpha / 2, 1 - alpha / 2]
    cl, cu = np.empty(bs.shape[1]), np.empty(bs.shape[1])
    if full.any():
        cl[full], cu[full] = np.quantile(bs[:, full], qs, axis=0)
    if not full.all():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cl[~full], cu[~full] = np.nanquantile(bs[:, ~full], qs, axis=0)
    cl[np.isnan(est)] = np.nan
    cu[np.isnan(est)] = np.nan
    return est, cl, cu


def _medians_rows(left, right, mass: np.ndarray, last_time: np.ndarray) -> np.ndarray:
    """First time at which S(t) <= 0.5 (interpolated), NaN when not reached, for each row of ``mass``."""
    pts = np.unique(np.concatenate([[0.0], left, right]))
    pts = pts[np.isfinite(pts)]
    s = _survival_rows(left, right, mass, last_time, pts)
    below = (pts[None, :] <= last_time[:, None]) & (s <= 0.5)  # the curve's break points up to last_time
    k = np.argmax(below, axis=1)
    k0 = np.maximum(k - 1, 0)
    rows = np.arange(mass.shape[0])
    t0, t1, s0, s1 = pts[k0], pts[k], s[rows, k0], s[rows, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        between = t0 + (s0 - 0.5) / (s0 - s1) * (t1 - t0)
    med = np.where(k == 0, pts[k], np.where(s0 != s1, between, t1))
    return np.where(below.any(axis=1), med, np.nan)


def _median_from(curve: TurnbullCurve) -> float:
    """First time at which S(t) <= 0.5 (interpolated), NaN when not reached."""
    return float(_medians_rows(curve.left, curve.right, curve.mass[None, :], np.array([curve.last_time]))[0])


def _medians(curves: list[TurnbullCurve]) -> np.ndarray:
    """``_median_from`` of each curve, in one pass when they share innermost intervals."""
    st = _stacked(curves)
    if st is None:
        return np.array([_median_from(c) for c in curves])
    return _medians_rows(*st)


# ===================================================================== helpers
def _outcomes(outcome) -> list[str] | None:
    if outcome is None or (isinstance(outcome, str) and outcome.lower() == "all"):
        return None
    codes = [outcome] if isinstance(outcome, str) else list(outcome)
    return [domain.outcome_code(c) for c in codes]


def _check_columns(cols: Sequence[str], available: Iterable[str], what: str) -> list[str]:
    cols = [cols] if isinstance(cols, str) else list(cols)
    avail = list(available)
    bad = [c for c in cols if c not in avail]
    if bad:
        raise KeyError(f"{what}: unknown column(s) {bad}; expected any of {avail}")
    return cols


def _group_keys(df: pd.DataFrame, by: list[str]):
    """Iterate (key dict, sub-frame) over groups in a stable order."""
    if not by:
        yield {}, df
        return
    for key, sub in df.groupby(by, observed=True, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key)), sub


def _exclusion_table(counts: dict[str, tuple[int, str]]) -> pd.DataFrame:
    rows = [{"reason": k, "n": int(n), "description": d} for k, (n, d) in counts.items()]
    return pd.DataFrame(rows, columns=["reason", "n", "description"])


def _at_risk(lo: np.ndarray, t: float) -> int:
    # known to be event-free through t and still followed
    return int((lo >= t).sum())


_TABLE_COLUMNS = ("episode_id", "person_id", "outcome", "reading_date", "score", "start_date", "end_date")


def _readings(data: Study | pd.DataFrame, codes: list[str] | None, *, include_follow_up: bool,
              need: Sequence[str], who: str) -> pd.DataFrame:
    """Scored readings: ``Study.long`` of a study, or a caller's table of the same shape, checked."""
    if isinstance(data, Study):
        return data.long(codes, scored_only=True, include_follow_up=include_follow_up)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{who}: expected a Study or a DataFrame of readings, got {type(data).__name__}")
    need_cols = [c for c in (*_TABLE_COLUMNS, *need) if c not in ("start_score",)]
    missing = [c for c in dict.fromkeys(need_cols) if c not in data.columns]
    if missing:
        raise KeyError(f"{who}: the table lacks column(s) {', '.join(map(repr, missing))}; it needs those of "
                       f"Study.long(): {', '.join(_TABLE_COLUMNS)}; "
                       f"columns present: {', '.join(map(str, data.columns))}")
    long = data
    if codes is not None:
        long = long[long["outcome"].astype(str).isin(codes)]
    if not include_follow_up and "reading_type" in long.columns:
        long = long[long["reading_type"].astype(str) != "follow_up"]
    long = long[pd.to_numeric(long["score"], errors="coerce").notna()]
    dates = {c: pd.to_datetime(long[c]) for c in ("reading_date", "start_date", "end_date")}
    return long.assign(score=pd.to_numeric(long["score"]).astype(float), **dates).reset_index(drop=True)


def _collapse_same_day(df: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, int]:
    """Same-day readings of one area in one episode: keep the lower score (conservative), count them."""
    dup = df.duplicated(keys + ["reading_date"], keep=False)
    n = int(df.loc[dup].groupby(keys + ["reading_date"], observed=True).ngroups) if dup.any() else 0
    if n:
        df = (df.sort_values(keys + ["reading_date", "score"], kind="stable")
                .drop_duplicates(keys + ["reading_date"], keep="first"))
    return df, n


# ===================================================================== time to independence
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
            yield _label(dict(zip(self.by, key))), sub


def _label(key: dict) -> str:
    return " / ".join(str(v) for v in key.values()) if key else "all"


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
    lifelines' quadratic loops (same values; see ``_fast_cox_class``): 166,364
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
    codes = _outcomes(outcome)
    by = [] if by is None else _check_columns(by, _GROUPABLE, "time_to_independence(by=...)")
    if codes is None or len(codes) > 1:
        by = ["outcome"] + [b for b in by if b != "outcome"]
    covariates = ([] if not covariates
                  else _check_columns(covariates, _GROUPABLE, "time_to_independence(covariates=...)"))

    long = _readings(study, codes, include_follow_up=False, need=[*by, *covariates], who="time_to_independence")
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
    long, n_dup = _collapse_same_day(long, keys)
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
    base = long.loc[first, keys + ["person_id"] + [c for c in _GROUPABLE if c in long.columns and c != "outcome"]]
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
    for key, sub in _group_keys(data, by):
        lo, hi = sub["lower"].to_numpy(), sub["upper"].to_numpy()
        times = np.r_[grid, np.asarray(months, float)]
        curve, boots = _fit_with_bootstrap(lo, hi, n_boot=n_boot, rng=rng)
        est, cl, cu = _band(curve, boots, times, alpha)
        g = len(grid)
        curves.append(pd.DataFrame({**key, "time": grid, "survival": est[:g], "ci_lower": cl[:g],
                                    "ci_upper": cu[:g], "at_risk": [_at_risk(lo, x) for x in grid]}))
        for m, s, a_, b_ in zip(months, est[g:], cl[g:], cu[g:]):
            at_rows.append({**key, "months": m, "survival": s, "ci_lower": a_, "ci_upper": b_,
                            "reached": 1 - s, "at_risk": _at_risk(lo, m), "n": len(sub)})
        med = _median_from(curve)
        med_ci = (np.nan, np.nan)
        if boots:
            # a replicate that never reaches 0.5 has its median beyond follow-up: +inf
            bm = _medians(boots)
            bm = np.where(np.isnan(bm), np.inf, bm)
            q = np.quantile(bm, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")  # no inf - inf
            med_ci = tuple(float(x) if np.isfinite(x) else np.nan for x in q)
        medians.append({**key, "n": len(sub), "events": int(sub["event"].sum()), "median": med,
                        "ci_lower": med_ci[0], "ci_upper": med_ci[1]})
        km = KaplanMeierFitter(alpha=alpha).fit(sub["seen_time"], sub["event"], label=_label(key))
        kms[_label(key)] = km

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
        hazard_ratios=hr, ph_test=ph, exclusions=_exclusion_table(counts), alpha=alpha, notes=notes)


def _design(data: pd.DataFrame, covariates: list[str], min_level_events: int,
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


# lifelines releases whose private methods the fast overrides below replace, checked against each
# (tests/test_survival.py compares them with lifelines' own). Any other release: lifelines' own classes.
LIFELINES_TESTED = ((0, 29), (0, 30))


def lifelines_overrides_apply(cls: type, methods: Sequence[str]) -> bool:
    """Whether the installed lifelines is a tested release and ``cls`` still has the ``methods`` replaced.

    Otherwise warns once that lifelines' own (slower, same-valued) code is used instead.
    """
    import re

    import lifelines

    release = tuple(int(x) for x in re.findall(r"\d+", lifelines.__version__)[:2])
    missing = [m for m in methods if not callable(getattr(cls, m, None))]
    if release in LIFELINES_TESTED and not missing:
        return True
    warnings.warn(f"lifelines {lifelines.__version__} is not a release longitudinal's fast {cls.__name__} was "
                  f"checked against ({', '.join('.'.join(map(str, r)) for r in LIFELINES_TESTED)})"
                  + (f", and lacks {', '.join(missing)}" if missing else "")
                  + f": using lifelines' own {cls.__name__} (same results, slower at national scale)",
                  LongitudinalWarning, stacklevel=3)
    return False


def _fast_cox_class():
    """lifelines ``CoxPHFitter`` with its score residuals (used for the cluster-robust SEs) computed in O(n p).

    lifelines 0.30 computes the score residuals with a Python loop over rows in which row ``i`` sums
    over all earlier rows: O(n^2 p), 16 s of 28 s at 25,000 episode-areas and most of the 872 s at
    national scale (166,364). The same quantity is two cumulative sums:
    ``U_i = -phi_i (x_i C_i - D_i) + E_i (x_i - xbar_i)`` with ``C_i = sum_{j<=i} E_j w_j / R_j`` and
    ``D_i = sum_{j<=i} E_j w_j xbar_j / R_j`` (rows in lifelines' order, ``R``/``xbar`` its reverse
    cumulative risk sums), so the residuals, robust SEs and everything built on them are the same
    up to floating-point rounding (tested against lifelines' own loop).
    """
    from lifelines import CoxPHFitter
    from lifelines.fitters.coxph_fitter import SemiParametricPHFitter

    if not (lifelines_overrides_apply(CoxPHFitter, ["_fit_model_breslow"])
            and lifelines_overrides_apply(SemiParametricPHFitter, ["_compute_score_within_strata",
                                                                   "_compute_schoenfeld_within_strata"])):
        return CoxPHFitter

    class _SemiParametricPHFitter(SemiParametricPHFitter):
        def _compute_score_within_strata(self, X, _T, E, weights, entries):
            X = X.values
            E = E.values.astype(int)
            weights = weights.values
            beta = self.params_.values * self._norm_std  # X is normalised here, as in lifelines
            phi = np.exp(X @ np.asarray(beta, float))
            rw = weights * phi
            risk_x = (X * rw[:, None])[::-1].cumsum(0)[::-1]
            risk = rw[::-1].cumsum()[::-1][:, None]
            xbar = risk_x / risk
            a = (E * weights / risk[:, 0])[:, None]
            C = a.cumsum(0)
            D = (a * xbar).cumsum(0)
            score = -phi[:, None] * (X * C - D) + E[:, None] * (X - xbar)
            return score * weights[:, None]

        def _compute_schoenfeld_within_strata(self, X, T, E, weights, entries):
            # lifelines loops over rows growing the result with np.append (quadratic); this is the same
            # Efron-ties residual, E_i (x_i - mean_g), with each tied-time group's mean in vector form.
            X = X.values
            E = E.values.astype(float)
            T = T.values
            weights = weights.values
            n, d = X.shape
            if not np.any(E):
                return np.zeros((n, d))
            scores = weights * np.exp(X @ np.asarray(self.params_, float))
            risk = scores[::-1].cumsum()[::-1]
            risk_x = (X * scores[:, None])[::-1].cumsum(0)[::-1]
            start = np.r_[True, T[1:] != T[:-1]]
            gid = np.cumsum(start) - 1
            first = np.flatnonzero(start)
            ng = first.size
            se = scores * E
            tie = np.bincount(gid, se, minlength=ng)
            tie_x = np.stack([np.bincount(gid, se * X[:, k], minlength=ng) for k in range(d)], axis=1)
            cnt = np.bincount(gid, E, minlength=ng).astype(int)
            gl = np.repeat(np.arange(ng), cnt)  # one row per (tied group, Efron step l)
            el = np.arange(gl.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            frac = el / cnt[gl]
            contrib = ((risk_x[first][gl] - frac[:, None] * tie_x[gl])
                       / ((risk[first][gl] - frac * tie[gl]) * cnt[gl])[:, None])
            mean = np.stack([np.bincount(gl, contrib[:, k], minlength=ng) for k in range(d)], axis=1)
            return E[:, None] * (X - mean[gid])

    class _CoxPHFitter(CoxPHFitter):
        # as lifelines' own ``_fit_model_breslow`` (the Efron-ties semi-parametric model), with the fast score
        def _fit_model_breslow(self, *args, **kwargs):
            model = _SemiParametricPHFitter(penalizer=self.penalizer, l1_ratio=self.l1_ratio, strata=self.strata,
                                            alpha=self.alpha, label=self._label)
            model.fit(*args, **kwargs)
            return model

    return _CoxPHFitter


def _fast_aalen_johansen_class():
    """lifelines ``AalenJohansenFitter`` with its variance (``_bounds``) as cumulative sums instead of a row loop.

    lifelines 0.30 computes the Greenwood-type variance of the cumulative incidence with ``iterrows``
    over the event table, adding each row's terms to running sums (``QuadraticAccumulator``,
    ``LinearAccumulator``): 4.5 s of the national ``sustained_outcomes``. Here the same terms are
    formed as arrays, with every operation in lifelines' order and each power taken by the same scalar
    ``**`` (numpy's array power rounds differently in the last bit), and the running sums are
    ``np.cumsum`` from 0, which adds in the same order. So the variance and the confidence interval
    are lifelines' to the bit (``test_fast_aalen_johansen_bounds_match_lifelines``).
    """
    from lifelines import AalenJohansenFitter
    from lifelines.utils import inv_normal_cdf

    if not lifelines_overrides_apply(AalenJohansenFitter, ["_bounds"]):
        return AalenJohansenFitter

    def running(terms):  # 0.0 + t0, + t1, ...: the accumulators' sums
        return np.cumsum(np.concatenate([[0.0], terms]))[1:]

    class _AalenJohansenFitter(AalenJohansenFitter):
        def _bounds(self, lagged_survival, alpha, ci_labels):
            ci = 1 - alpha
            df = self.event_table.copy()
            df["Ft"] = self.cumulative_density_
            df["lagS"] = lagged_survival.fillna(1)
            if ci_labels is None:
                ci_labels = [f"{self._label}_upper_{ci:g}", f"{self._label}_lower_{ci:g}"]
            assert len(ci_labels) == 2, "ci_labels should be a length 2 array."
            # lifelines' iterrows gives each row as float64 (the common type of the table)
            obs, n, cm, lag, Ft = (df[c].to_numpy(dtype=np.float64) for c in
                                   ("observed", "at_risk", self.label_cmprisk, "lagS", "Ft"))
            Ft2 = np.array([x ** 2 for x in Ft.tolist()])
            lag2 = np.array([x ** 2 for x in lag.tolist()])
            n2 = np.array([x ** 2 for x in n.tolist()])
            n3 = np.array([x ** 3 for x in n.tolist()])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                a1 = obs / n / (n - obs)  # first_term_function.add_quadratic_term(a1, F_t)
                first = running(a1 * Ft2) + running(-(2 * a1 * Ft)) * Ft + running(a1) * Ft2
                second = running(lag2 * cm * (n - cm) / n3)
                a3 = lag * cm / n2  # third_term_function.add_linear_term(a3, F_t)
                third = running(-(a3 * Ft)) + running(a3) * Ft
                df["variance"] = first + second - 2 * third
                # as lifelines from here on
                df["F_transformed"] = np.log(-np.log(df["Ft"]))
                df["se_transformed"] = np.sqrt(df["variance"]) / (df["Ft"] * np.absolute(np.log(df["Ft"])))
                zalpha = inv_normal_cdf(1 - alpha / 2)
                df[ci_labels[0]] = np.exp(-np.exp(df["F_transformed"] + zalpha * df["se_transformed"]))
                df[ci_labels[1]] = np.exp(-np.exp(df["F_transformed"] - zalpha * df["se_transformed"]))
            return df["variance"], df[ci_labels]

    return _AalenJohansenFitter


def _fit_cox(data, covariates, *, strata, alpha, min_level_events, penalizer):
    X, notes = _design(data, covariates, min_level_events)
    mid = np.where(data["event"] == 1, (data["lower"] + data["upper"]) / 2, data["lower"])
    T = np.maximum(mid, 1e-6)  # a right-censored time of 0 carries no information; keep lifelines happy
    cph, hr, ph = _cox(X, T, data["event"].to_numpy(), cluster=data["person_id"],
                       strata={s: data[s] for s in strata}, alpha=alpha, penalizer=penalizer)
    notes.append("Cox: event dated at the midpoint of (previous reading, reading that showed the stage]; "
                 "robust SEs clustered on person" + (f"; stratified by {strata}" if strata else ""))
    return cph, hr, ph, notes


def _cox(X: pd.DataFrame, T, E, *, cluster, strata: dict, alpha: float, penalizer: float):
    """lifelines' Cox model (Efron ties) of ``T, E`` on the design ``X``: the model, its hazard-ratio table
    and its proportional-hazards test (Schoenfeld residuals, rank time)."""
    from lifelines.statistics import proportional_hazard_test

    CoxPHFitter = _fast_cox_class()
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
    X, design_notes = _design(df, covariates, min_level_events, event=event)
    cph, hr, ph = _cox(X, t, e.astype(int).to_numpy(), cluster=None if id is None else df[id],
                       strata={s: df[s] for s in strata}, alpha=alpha, penalizer=penalizer)
    return CoxResults(hr, ph, cph, n=len(df), events=int(e.sum()), time=time, event=event, id=id, strata=strata,
                      alpha=alpha, notes=notes + design_notes)


# ===================================================================== lasting impact
@dataclass(repr=False)
class SustainedResults(Results):
    """Results of :func:`sustained_outcomes` (times in whole months after a planned end).

    Attributes
    ----------
    by : list of str
        Group columns of the sustained-outcome curves.
    loss : int
        Stages lost that count as not sustained.
    data : DataFrame
        One row per episode × area: ``end_score``, ``lower, upper`` (months; the
        stage was lost in ``(lower, upper]``, ``upper = inf`` when not lost by the
        last follow-up), ``event`` and the episode's attributes.
    curves : DataFrame
        Group columns, ``time`` (months), ``survival`` (share sustained),
        ``ci_lower``, ``ci_upper``, ``at_risk`` on a monthly grid.
    rereferral_data : DataFrame
        One row per planned end: ``time`` (months to the next episode or to
        censoring), ``event`` (0 censored, 1 re-referral, 2 died, 3 moved away).
    rereferral : DataFrame
        Group columns, ``months``, ``cumulative_incidence`` of re-referral with CI,
        the competing events' cumulative incidences, ``at_risk``, ``n``.
    aalen_johansen : dict
        Group label → lifelines ``AalenJohansenFitter`` for re-referral.
    exclusions : DataFrame
        ``reason, n, description``.
    """

    by: list[str]
    loss: int
    data: pd.DataFrame
    curves: pd.DataFrame
    rereferral_data: pd.DataFrame
    rereferral: pd.DataFrame
    aalen_johansen: dict[str, Any]
    exclusions: pd.DataFrame
    alpha: float = 0.05
    missing: str = "complete_case"
    adjusted: pd.DataFrame | None = None
    _boot: dict = field(default_factory=dict, repr=False)
    _fits: dict = field(default_factory=dict, repr=False)

    def _eval(self, months: Sequence[float]) -> pd.DataFrame:
        rows = []
        for key, sub in _group_keys(self.data, self.by):
            lab = _label(key)
            est, cl, cu = _band(self._fits[lab], self._boot.get(lab) or [], months, self.alpha)
            lo = sub["lower"].to_numpy()
            for m, s, a_, b_ in zip(months, est, cl, cu):
                rows.append({**key, "months": m, "survival": s, "ci_lower": a_, "ci_upper": b_,
                             "at_risk": _at_risk(lo, m), "n": len(sub)})
        return pd.DataFrame(rows)

    def at_months(self, months: Sequence[float] = (6, 12, 24)) -> pd.DataFrame:
        """Share sustained (no loss of ``loss`` stages) at the given months after the end, with CIs.

        Columns: group columns, ``months``, ``survival``, ``ci_lower``, ``ci_upper``,
        ``at_risk`` (known sustained and still followed then), ``n``. NaN where
        the follow-up does not reach that far. With ``missing="ipw"`` or ``"mi"``,
        beside them at the scheduled follow-up months: ``complete_case`` and the
        ``ipw`` / ``mi`` share (each with ``_ci_lower``, ``_ci_upper``) from
        :func:`longitudinal.attrition.sustained_side_by_side`.
        """
        t = self._eval(list(months))
        if self.adjusted is None:
            return t
        adj = self.adjusted.rename(columns={"month": "months"})
        t = t.astype({b: str for b in self.by})
        return t.merge(adj.astype({b: str for b in self.by}), on=self.by + ["months"], how="left")

    def by_year(self, years: Sequence[int] | None = None) -> pd.DataFrame:
        """Sustained-outcome curves by whole year after the end of support: the drop-off table.

        Columns, exactly: the group columns, ``year`` (1, 2, …), ``survival``,
        ``ci_lower``, ``ci_upper``, ``at_risk``. ``years`` defaults to every
        whole year the follow-up reaches (at least 1).
        """
        if years is None:
            reach = float(np.nanmax(np.r_[self.data["lower"], self.data["upper"][np.isfinite(self.data["upper"])]]))
            years = list(range(1, max(1, int(np.floor(reach / 12 + 1e-9))) + 1))
        t = self._eval([12 * y for y in years])
        if self.adjusted is not None:  # the drop-off the social return reads: the weighted / imputed share
            t = self.at_months([12 * y for y in years])
            m = self.missing
            t["survival"], t["ci_lower"], t["ci_upper"] = t[m], t[f"{m}_ci_lower"], t[f"{m}_ci_upper"]
        t.insert(len(self.by), "year", (t["months"] // 12).astype(int))
        return t[self.by + ["year", "survival", "ci_lower", "ci_upper", "at_risk"]].reset_index(drop=True)

    def summary(self) -> Summary:
        """Exclusions, shares sustained at 6/12/24 months, re-referral incidence (text; tables in Jupyter)."""
        n_ev = int(self.data["event"].sum())
        lines = [f"Lasting impact after a planned end: loss of >= {self.loss} stage(s) from the end level",
                 f"episode-areas followed: {len(self.data):,}; lost: {n_ev:,}", "",
                 "Excluded:", self.exclusions.to_string(index=False), "",
                 "Share sustained (Turnbull NPMLE, bootstrap CI):", self.at_months().to_string(index=False), "",
                 "Re-referral (Aalen-Johansen cumulative incidence; competing: died, moved away):",
                 self.rereferral.to_string(index=False)]
        return Summary("\n".join(lines), {"Excluded": self.exclusions, "Share sustained": self.at_months(),
                                          "Re-referral": self.rereferral}, head="\n".join(lines[:2]))

    def _repr_fields(self) -> dict[str, Any]:
        return {"by": self.by, "n": len(self.data), "lost": int(self.data["event"].sum())}

    def tidy(self) -> pd.DataFrame:
        """The share sustained at 6, 12 and 24 months: group columns, ``months``, ``estimate``, ``ci_lower``,
        ``ci_upper``, ``at_risk``, ``n``."""
        return self.at_months().rename(columns={"survival": "estimate"})

    def plot(self, ax=None, *, max_groups: int = 8):
        """Sustained-outcome curves (share keeping their end level) with CI bands. Returns the matplotlib Axes."""
        ax = axes_for(ax, figsize=(8, 5), constrained_layout=False)
        groups = self.curves.groupby(self.by, observed=True, sort=True) if self.by else [("all", self.curves)]
        for i, (key, sub) in enumerate(groups):
            if i >= max_groups:
                break
            lab = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
            line, = ax.plot(sub["time"], sub["survival"], marker="o", ms=3, label=lab)
            ax.fill_between(sub["time"], sub["ci_lower"], sub["ci_upper"], alpha=0.15, color=line.get_color())
        ax.set_xlabel("Months after a planned end of support")
        ax.set_ylabel(f"Share sustained (lost < {self.loss} stage)" if self.loss == 1
                      else f"Share sustained (lost < {self.loss} stages)")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize="small")
        ax.figure.tight_layout()
        return ax

    def plot_cumulative_incidence(self, ax=None, *, at_risk: bool = True, max_groups: int = 8):
        """Aalen–Johansen cumulative incidence of re-referral with at-risk counts. Returns the matplotlib Axes."""
        from lifelines.plotting import add_at_risk_counts

        ax = axes_for(ax, figsize=(8, 5.5), constrained_layout=False)
        fitters = list(self.aalen_johansen.values())[:max_groups]
        for f in fitters:
            f.plot_cumulative_density(ax=ax)
        ax.set_xlabel("Months after a planned end of support")
        ax.set_ylabel("Cumulative incidence of re-referral")
        if at_risk and fitters:
            add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"])
        ax.figure.tight_layout()
        return ax


@renamed_arguments(study="data")
def linked_exits(exits: pd.DataFrame) -> pd.DataFrame:
    """Linked deaths and moves away, checked: ``person_id`` (text), ``date`` and ``reason``.

    Raises
    ------
    InputError
        If a column is missing or a reason is not ``died`` or ``moved_away`` (naming the row).
    """
    need = ["person_id", "date", "reason"]
    missing = [c for c in need if c not in exits.columns]
    if missing:
        raise InputError(f"exits: expected columns {need}, got {list(exits.columns)}", column=missing[0])
    ex = exits[need].copy()
    bad = ~ex["reason"].isin(["died", "moved_away"])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError("exits: reason must be 'died' or 'moved_away'", row=row, column="reason",
                         value=ex["reason"].iloc[row])
    ex["person_id"] = ex["person_id"].astype(str)
    ex["date"] = pd.to_datetime(ex["date"])
    return ex


def sustained_outcomes(
    data: Study,
    outcome: str | Sequence[str] | None = None,
    *,
    by: str | Sequence[str] = ("outcome", "lead_need"),
    loss: int = 1,
    gained_only: bool = False,
    exits: pd.DataFrame | None = None,
    censor_date=None,
    months: Sequence[float] = (6, 12, 24),
    n_boot: int = 100,
    alpha: float = 0.05,
    seed: int = 0,
    missing: str = "complete_case",
) -> SustainedResults:
    """How long gains last after a planned end of support.

    Parameters
    ----------
    data : Study
    outcome : str, list of str, "all" or None
        Outcome area(s); all when omitted.
    by : str or list of str, default ("outcome", "lead_need")
        Group columns of the sustained-outcome curves. The re-referral analysis
        is per episode, not per area: it is grouped by those of them that are
        episode attributes (``lead_need``, ``service_type``, ``local_authority``,
        ``provider_id``).
    loss : int, default 1
        Stages below the end level that count as the outcome not sustained.
    gained_only : bool, default False
        Only areas where the end level is above the start level (gains, in the strict sense).
    exits : DataFrame, optional
        Linked records of deaths and moves away: ``person_id, date, reason``
        (``died`` or ``moved_away``); they are the competing risks of
        re-referral. The study tables record them only as the end of an episode,
        so without this table nobody is known to die or move after a planned end.
    censor_date : date-like, optional
        End of observation for re-referral; default the latest date in the study.
    months : list of float
        Times of the tables (6, 12, 24 months).
    n_boot : int
        Bootstrap replicates for the sustained curves' CIs.
    seed : int
        Seed of the bootstrap and of lifelines' Aalen–Johansen jitter of tied times (and of the imputations).
    missing : {"complete_case", "ipw", "mi"}
        How missing follow-ups are handled. ``complete_case`` (the default): the curves use whoever was
        followed up. ``ipw`` / ``mi``: the share sustained at the scheduled months (6, 12, 24) is also
        estimated with response weights or 20 multiple imputations (:func:`longitudinal.follow_up_attrition`),
        shown beside the complete-case share in :meth:`~SustainedResults.at_months` and used by
        :meth:`~SustainedResults.by_year`; ``by`` must then be among ``outcome, local_authority,
        lead_need, service_type``.

    Returns
    -------
    SustainedResults

    Notes
    -----
    The end level of an area is its last reading at or before the end date.
    Follow-ups are readings of type ``follow_up`` or dated after the end.
    Follow-ups dated *before* the end of support cannot be placed and are
    dropped and counted (``follow_up_before_end``); areas with no follow-up,
    no reading at the end, or an end level at stage ``loss`` or lower (nothing
    to lose) are excluded and counted. Times after the end are whole months.

    A loss is judged between two readings, each with its own measurement
    error, so some one-stage drops are noise: in the synthetic study
    (residual SD 0.45 stage) about a quarter of the areas that truly keep
    their level show a one-stage drop at any one follow-up, nearly half by
    the third. Read the curves as an upper
    bound on drop-off, or use ``loss=2`` for a stricter definition.
    """
    study = data
    codes = _outcomes(outcome)
    by = _check_columns(by, _GROUPABLE, "sustained_outcomes(by=...)")
    if missing not in ("complete_case", "ipw", "mi"):
        raise InputError(f"missing must be 'complete_case', 'ipw' or 'mi', not {missing!r}")
    if not isinstance(loss, (int, np.integer)) or not 1 <= loss <= 4:
        raise ValueError(f"loss must be an integer number of stages 1..4, got {loss!r}")
    long = study.long(codes, scored_only=True, include_follow_up=True)
    counts: dict[str, tuple[int, str]] = {}
    planned = (long["end_reason"] == "planned") & long["end_date"].notna()
    long = long[planned].astype({"episode_id": str, "outcome": str})
    if long.empty:
        raise NoDataError(f"sustained_outcomes: no readings of episodes with a planned end for outcome {outcome!r}")
    keys = ["episode_id", "outcome"]
    long, n_dup = _collapse_same_day(long, keys)
    counts["same_day_duplicates"] = (n_dup, "episode-areas-days with several readings: lower score kept")
    is_fu_type = long["reading_type"] == "follow_up"
    early_fu = is_fu_type & (long["reading_date"] < long["end_date"])
    counts["follow_up_before_end"] = (int(early_fu.sum()),
                                      "follow-up readings dated before the end of support (dropped)")
    long = long[~early_fu]
    after = long["reading_date"] > long["end_date"]
    fu = long[is_fu_type[~early_fu] | after]
    during = long[~(is_fu_type[~early_fu] | after)]
    during = during.sort_values(keys + ["reading_date"], kind="stable")
    g = during.groupby(keys, observed=True, sort=True)
    endlvl = g.tail(1).set_index(keys)
    startlvl = g.head(1).set_index(keys)["score"]
    attrs = [c for c in _GROUPABLE if c in endlvl.columns and c not in ("outcome", "start_score")]
    base = endlvl[["person_id", "end_date"] + attrs].copy()
    base["end_score"] = endlvl["score"].astype(int)
    base["start_score"] = startlvl.reindex(base.index).astype(int)
    fu_keys = pd.MultiIndex.from_frame(fu[keys].astype(str))
    base_keys = pd.MultiIndex.from_frame(base.index.to_frame(index=False).astype(str))
    no_end = ~fu_keys.isin(base_keys)
    counts["no_reading_at_end"] = (int(fu.loc[no_end].groupby(keys, observed=True).ngroups),
                                   "areas with follow-ups but no reading during support")
    has_fu = base_keys.isin(fu_keys)
    counts["no_follow_up"] = (int((~has_fu).sum()), "areas with no follow-up reading after the end")
    base = base[has_fu]
    low = base["end_score"] <= loss
    counts["nothing_to_lose"] = (int(low.sum()), f"end level at stage {loss} or lower: cannot lose {loss} stage(s)")
    base = base[~low]
    if gained_only:
        ng = base["end_score"] <= base["start_score"]
        counts["no_gain"] = (int(ng.sum()), "end level not above the start level (gained_only=True)")
        base = base[~ng]
    if base.empty:
        raise NoDataError(f"sustained_outcomes: no area can be followed after a planned end (excluded: {counts})")
    base = base.reset_index()
    fu = fu.merge(base[keys + ["end_score"]], on=keys, how="inner")
    fu = fu.sort_values(["episode_id", "outcome", "reading_date"], kind="stable")
    fu["t"] = np.round((fu["reading_date"] - fu["end_date"]).dt.days / MONTH_DAYS)
    fu["lost"] = fu["score"].astype(int) <= fu["end_score"] - loss
    # first loss per area and the follow-up before it (vectorised: national data has ~10^5 areas)
    fu = fu.reset_index(drop=True)
    t_fu, lost = fu["t"].to_numpy(float), fu["lost"].to_numpy(bool)
    gid = fu.groupby(keys, sort=False).ngroup().to_numpy()
    firsts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    lasts = np.r_[firsts[1:] - 1, gid.size - 1]
    ng = firsts.size
    hit = np.full(ng, -1)
    li = np.flatnonzero(lost)
    ug, pos = np.unique(gid[li], return_index=True)
    hit[ug] = li[pos]
    ev = hit >= 0
    lo_ = np.where(ev & (hit > firsts), t_fu[np.maximum(hit - 1, 0)], 0.0)
    lo_ = np.where(ev, lo_, t_fu[lasts])
    hi_ = np.where(ev, t_fu[np.maximum(hit, 0)], np.inf)
    # a loss in the same (rounded) month as the previous reading or the end: place it in (lo, lo + 0.5]
    hi_ = np.where(ev & (hi_ <= lo_), lo_ + 0.5, hi_)
    iv = fu.loc[firsts, keys].reset_index(drop=True)
    iv["lower"], iv["upper"], iv["event"] = lo_, hi_, ev.astype(int)
    base["episode_id"] = base["episode_id"].astype(str)
    base["outcome"] = base["outcome"].astype(str)
    iv["episode_id"] = iv["episode_id"].astype(str)
    iv["outcome"] = iv["outcome"].astype(str)
    data = base.merge(iv, on=["episode_id", "outcome"], how="inner", validate="one_to_one")
    zero = (data["event"] == 0) & (data["lower"] <= 0)
    counts["follow_up_at_end"] = (int(zero.sum()), "only follow-ups in the month of the end: no time at risk")
    data = data[~zero].reset_index(drop=True)

    rng = np.random.default_rng(seed)
    grid_top = float(np.nanmax(np.r_[data["lower"], data["upper"][np.isfinite(data["upper"])]]))
    grid = np.arange(0, grid_top + 1, 1.0)
    curves, fits, boots = [], {}, {}
    for key, sub in _group_keys(data, by):
        lo, hi = sub["lower"].to_numpy(), sub["upper"].to_numpy()
        curve, bl = _fit_with_bootstrap(lo, hi, n_boot=n_boot, rng=rng)
        lab = _label(key)
        fits[lab], boots[lab] = curve, bl
        est, cl, cu = _band(curve, bl, grid, alpha)
        curves.append(pd.DataFrame({**key, "time": grid, "survival": est, "ci_lower": cl, "ci_upper": cu,
                                    "at_risk": [_at_risk(lo, x) for x in grid]}))
    curves_df = pd.concat(curves, ignore_index=True).dropna(subset=["survival"]).reset_index(drop=True)

    rr_data, rr_table, ajs = _rereferral(study, codes, [b for b in by if b != "outcome"], exits=exits,
                                         censor_date=censor_date, months=months, alpha=alpha, seed=seed,
                                         counts=counts)
    adjusted = None
    if missing != "complete_case":
        from .attrition import sustained_side_by_side

        adjusted = sustained_side_by_side(study, codes, by=by, method=missing, loss=loss, exits=exits,
                                          censor_date=censor_date, seed=seed, alpha=alpha)
    return SustainedResults(by=by, loss=loss, data=data, curves=curves_df, rereferral_data=rr_data,
                            rereferral=rr_table, aalen_johansen=ajs, exclusions=_exclusion_table(counts),
                            alpha=alpha, missing=missing, adjusted=adjusted, _boot=boots, _fits=fits)


def _rereferral(study, codes, by, *, exits, censor_date, months, alpha, seed, counts):
    """Time from a planned end to the person's next episode; death / moving away compete."""
    AalenJohansenFitter = _fast_aalen_johansen_class()

    ep = study.episodes.copy()
    ep["person_id"] = ep["person_id"].astype(str)
    ep = ep.sort_values(["person_id", "start_date", "episode_id"], kind="stable").reset_index(drop=True)
    nxt_start = ep.groupby("person_id", sort=False)["start_date"].shift(-1)
    if censor_date is None:
        dates = [study.readings["reading_date"].max(), ep["start_date"].max(), ep["end_date"].max()]
        censor_date = max(d for d in dates if pd.notna(d))
    censor_date = pd.Timestamp(censor_date)
    pl = ep[(ep["end_reason"] == "planned") & ep["end_date"].notna()].copy()
    pl["next_start"] = nxt_start.loc[pl.index]
    if codes is not None:  # episodes with a reading in the chosen areas only
        ids = study.readings.loc[study.readings["outcome"].isin(codes), "episode_id"].astype(str).unique()
        pl = pl[pl["episode_id"].astype(str).isin(ids)]
    overlap = pl["next_start"].notna() & (pl["next_start"] <= pl["end_date"])
    counts["overlapping_next_episode"] = (int(overlap.sum()),
                                          "planned ends whose next episode started before the end (no gap)")
    pl = pl[~overlap]
    after = pl["end_date"] >= censor_date
    counts["ended_at_censoring"] = (int(after.sum()), "planned ends on or after the censoring date")
    pl = pl[~after]
    ev_date = pl["next_start"].where(pl["next_start"] <= censor_date)
    event = np.where(ev_date.notna(), 1, 0)
    when = ev_date.fillna(censor_date)
    if exits is not None:
        ex = linked_exits(exits).sort_values("date").drop_duplicates("person_id")
        m = pl[["person_id", "end_date"]].merge(ex, on="person_id", how="left")
        m.index = pl.index
        comp = m["date"].notna() & (m["date"] > pl["end_date"]) & (m["date"] < when)
        event = np.where(comp, np.where(m["reason"] == "died", 2, 3), event)
        when = when.where(~comp, m["date"])
    t = ((when - pl["end_date"]).dt.days / MONTH_DAYS).to_numpy()
    by = [b for b in by if b in pl.columns]  # re-referral is per episode: only episode attributes group it
    rr = pl[["episode_id", "person_id", "end_date"] + by].reset_index(drop=True)
    rr["time"], rr["event"] = np.round(t, 6), event.astype(int)
    rows, ajs = [], {}
    for key, sub in _group_keys(rr, by):
        lab = _label(key)
        row0 = {**key, "n": len(sub)}
        for m in months:
            rows.append({**row0, "months": m, "at_risk": int((sub["time"] >= m).sum())})
        fitted = {}
        for code, name in _COMPETING.items():
            if not (sub["event"] == code).any():
                continue
            aj = AalenJohansenFitter(seed=seed, alpha=alpha)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tie-jitter warning: the seed makes it reproducible
                aj.fit(sub["time"], sub["event"], event_of_interest=code, label=lab if code == 1 else name)
            fitted[code] = aj
        if 1 in fitted:
            ajs[lab] = fitted[1]
        for r in rows[-len(months):]:
            m = r["months"]
            r["cumulative_incidence"], r["ci_lower"], r["ci_upper"] = 0.0, np.nan, np.nan
            r["died"] = r["moved_away"] = 0.0  # none seen in this group
            for code, aj in fitted.items():
                cd = aj.cumulative_density_.iloc[:, 0]
                v = float(cd[cd.index <= m].iloc[-1]) if (cd.index <= m).any() else 0.0
                r["cumulative_incidence" if code == 1 else _COMPETING[code]] = v
                if code == 1:
                    ci = aj.confidence_interval_
                    ci = ci[ci.index <= m].dropna()
                    if len(ci):
                        # lifelines labels its two CI columns the wrong way round: take min / max
                        vals = ci.iloc[-1].to_numpy(float)
                        r["ci_lower"], r["ci_upper"] = float(vals.min()), float(vals.max())
    table = pd.DataFrame(rows)
    for c in ["cumulative_incidence", "ci_lower", "ci_upper", "died", "moved_away"]:
        if c not in table.columns:
            table[c] = 0.0 if c in ("died", "moved_away") else np.nan
    order = by + ["months", "n", "at_risk", "cumulative_incidence", "ci_lower", "ci_upper", "died", "moved_away"]
    return rr, table[order], ajs
