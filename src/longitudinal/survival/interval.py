"""The Turnbull NPMLE of a survival function from interval-censored data, and its seeded bootstrap.

:func:`turnbull` is the public estimator (R's ``interval2`` conventions). :func:`fit_with_bootstrap`,
:func:`bootstrap_band`, :func:`median_time` and :func:`median_times` are the pieces that time to
independence and lasting impact build their curves, bands and medians from; :class:`TurnbullProblem`
(the innermost intervals and the solver, for many weight vectors at once) and :func:`collapse_intervals`
are what those are built from.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._numeric import isotonic_increasing
from ..errors import InputError
from ..results import Results, Summary, axes_for

__all__ = ["TurnbullCurve", "turnbull", "TurnbullProblem", "collapse_intervals", "fit_with_bootstrap",
           "bootstrap_band", "median_time", "median_times"]


@dataclass(repr=False)
class TurnbullCurve(Results):
    """The Turnbull NPMLE of a survival function from interval-censored data (what :func:`turnbull` returns).

    On the shared results base: ``summary()`` (text; HTML in Jupyter), ``tidy()`` (the curve at its
    break points: ``time, estimate``), ``plot(ax=None)`` (returns the Axes) and a one-line repr.

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

    @property
    def median(self) -> float:
        """First time at which S(t) <= 0.5 (interpolated); NaN when the curve does not reach it."""
        return median_time(self)

    def intervals(self) -> pd.DataFrame:
        """The innermost intervals: ``left, right, mass`` and ``survival`` (S at the interval's right end).

        An exact time ``t`` is held as ``(t - ε, t]``, so its ``left`` is the float just below ``t``.
        """
        return pd.DataFrame({"left": self.left, "right": self.right, "mass": self.mass,
                             "survival": 1.0 - np.cumsum(self.mass)})

    def tidy(self) -> pd.DataFrame:
        """The curve at its break points: ``time`` and ``estimate`` (S(t)); the NPMLE has no standard errors
        (a bootstrap band is :func:`fit_with_bootstrap` with :func:`bootstrap_band`)."""
        return self.steps().rename(columns={"survival": "estimate"})

    def _repr_fields(self) -> dict:
        return {"n": self.n, "intervals": int(self.mass.size), "median": self.median, "last_time": self.last_time}

    def summary(self, max_rows: int = 20) -> Summary:
        """Subjects, innermost intervals, iterations, the median, and the innermost intervals with their mass
        (the first and last ``max_rows // 2`` when there are more than ``max_rows``)."""
        iv = self.intervals()
        shown = iv if len(iv) <= max_rows else pd.concat([iv.head(max_rows // 2), iv.tail(max_rows // 2)])
        median = self.median
        head = ["Turnbull NPMLE of the survival function (interval-censored data)",
                f"subjects: {self.n:,.6g}; innermost intervals: {len(iv):,}; EM iterations: {self.iterations:,}",
                f"median: {median:.4g}" if np.isfinite(median) else "median: not reached",
                f"the curve is estimated up to t = {self.last_time:.6g} (the last finite interval end)"]
        notes = [] if len(shown) == len(iv) else [f"{len(iv) - len(shown):,} intervals not shown: intervals()"]
        text = "\n".join([*head, "", "Innermost intervals:", shown.to_string(index=False), *notes])
        return Summary(text, {"Innermost intervals": shown}, head="\n".join(head), notes=notes)

    def plot(self, ax=None, **line):
        """The survival curve S(t) through its break points (linear inside an innermost interval, where the
        NPMLE does not say how the mass spreads). ``line``: passed to ``ax.plot``. Returns the matplotlib Axes."""
        ax = axes_for(ax)
        st = self.steps()
        ax.plot(st["time"], st["survival"], **line)
        ax.set_xlabel("Time")
        ax.set_ylabel("Survival S(t)")
        ax.set_ylim(0, 1.02)
        return ax


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
    ``TurnbullProblem.fit``) — fast enough for national data.

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
    prob = TurnbullProblem(lo, hi)
    p, it = prob.fit(w, tol=tol, max_iter=max_iter)
    return prob.curve(p, w, it)


#: Row × pattern cells per batch of ``TurnbullProblem.fit_many`` (set by timing; see docs/benchmarks.md).
_BATCH_CELLS = 65_536


class TurnbullProblem:
    """Innermost intervals and each subject's run of them, shared by a fit and its bootstrap replicates.

    ``TurnbullProblem(lo, hi)`` on the distinct intervals (:func:`collapse_intervals`); :meth:`fit` gives the
    NPMLE for one weight vector, :meth:`fit_many` for many at once (each row exactly what :meth:`fit` gives
    it), :meth:`curve` / :meth:`curves` the :class:`TurnbullCurve`. :func:`turnbull` and
    :func:`fit_with_bootstrap` are built from it.
    """

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
            target = np.clip(isotonic_increasing(F[:-1] + g / h, h), 0.0, 1.0)
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
                target[i] = isotonic_increasing(y[i], h[i])
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


def collapse_intervals(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (lower, upper) pairs, sorted, with counts, so EM and bootstrap run on distinct patterns."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    keep = ~(np.isnan(lo) | np.isnan(hi))
    lo, hi = lo[keep], hi[keep]
    o = np.lexsort((hi, lo))
    lo, hi = lo[o], hi[o]
    new = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])] if lo.size else np.zeros(0, bool)
    first = np.flatnonzero(new)
    return lo[first], hi[first], np.diff(np.r_[first, lo.size]).astype(float)


def fit_with_bootstrap(lo, hi, *, n_boot: int, rng: np.random.Generator):
    """NPMLE and ``n_boot`` bootstrap replicates (subjects resampled: multinomial counts on the distinct
    intervals, warm-started from the full fit).

    The replicates' counts are drawn as ``n_boot`` multinomial draws in one call (the same numbers, in the
    same order, as one call per replicate) and fitted side by side by ``TurnbullProblem.fit_many``, which
    gives each replicate exactly what ``TurnbullProblem.fit`` would (the tests keep the one-at-a-time form
    as their reference).
    """
    ul, uh, cnt = collapse_intervals(lo, hi)
    prob = TurnbullProblem(ul, uh)
    p, it = prob.fit(cnt)
    curve = prob.curve(p, cnt, it)
    if n_boot <= 0:
        return curve, []
    n = int(cnt.sum())
    wb = rng.multinomial(n, cnt / n, size=n_boot).astype(float)
    pb, itb = prob.fit_many(wb, p)
    return curve, prob.curves(pb, wb, itb)


def _stacked(curves: list[TurnbullCurve]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
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


def bootstrap_band(curve: TurnbullCurve, boots: list[TurnbullCurve], times, alpha: float):
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


def median_time(curve: TurnbullCurve) -> float:
    """First time at which S(t) <= 0.5 (interpolated), NaN when not reached."""
    return float(_medians_rows(curve.left, curve.right, curve.mass[None, :], np.array([curve.last_time]))[0])


def median_times(curves: list[TurnbullCurve]) -> np.ndarray:
    """``median_time`` of each curve, in one pass when they share innermost intervals."""
    st = _stacked(curves)
    if st is None:
        return np.array([median_time(c) for c in curves])
    return _medians_rows(*st)
