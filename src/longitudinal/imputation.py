"""Multiple imputation of scores on an ordered scale: chained equations with predictive mean matching.

The engine of :func:`~longitudinal.attrition.follow_up_attrition`'s imputed estimates, kept apart from the
attrition analysis that uses it: :class:`ChainedPMM` imputes the missing entries of a matrix of follow-up
scores from what is known at the end of support; :func:`match_nearest` is its predictive mean matching
step; :func:`identified_columns`, which columns of a design its rows identify (shared with the attrition's
response model). Why each choice was made, with the measurements: docs/benchmarks.md (attrition, sessions
2, 4 and 5).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ChainedPMM", "match_nearest", "identified_columns"]


def identified_columns(G: np.ndarray, n: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Columns of a design (constant first) that its ``n`` rows identify, from its Gram matrix ``G = X'X``:
    the constant, then those among ``keep`` that vary over the rows and are not linear combinations of the
    ones before (a rank-revealing QR of the scaled Gram matrix, whose rank is X's)."""
    total, sq = G[0], np.diag(G)
    varying = np.r_[True, (sq - total**2 / n)[1:] > 1e-12 * np.maximum(sq[1:], 1e-300)]
    keep = varying if keep is None else varying & keep
    sd = np.sqrt(np.maximum(sq[keep] / n, 1e-300))
    rdiag = np.abs(np.diag(np.linalg.qr(G[np.ix_(keep, keep)] / np.outer(sd, sd), mode="r")))
    return np.flatnonzero(keep)[rdiag > 1e-10 * rdiag.max()]


class ChainedPMM:
    """Imputation of the missing *due* entries of ``S`` (n x k follow-up scores) by chained equations.

    What is known at the end (``Z``, some 70 columns) enters each month's model through one linear score
    ``eta_j = Z b_j``, with ``b_j`` drawn once per imputation from the posterior of the month's regression
    on ``Z`` (observed rows; normal, residual variance from a scaled inverse chi-square), so the
    uncertainty of all 70 coefficients is carried at the cost of one product per month and imputation.
    The chained steps then fit each month on ``eta_j``, the end level and the other months (their scores
    and whether each keeps the end stage) - a small model, by least squares on a bootstrap sample of the
    month's observed rows - and each missing value takes the observed score of one of the ``donors`` rows
    of that sample with the same end level, months due and ``groups`` code whose prediction is nearest its own
    (predictive mean matching on the bootstrap sample's fit, Schenker & Taylor 1996; R mice's
    ``midastouch`` also bootstraps the donors; ties broken at random). The bootstrap carries the donors'
    own sampling error, which matching donors and recipients on the same drawn coefficients (type 2,
    statsmodels' ``MICEData``) does
    not where the predictors say little (then a hot deck from a fixed pool); type 1 (donors on the fit,
    recipients on drawn coefficients) made B grow with n (docs/benchmarks.md, attrition, sessions 4 and 5).
    Imputed values are observed values, so the 1-5 scale is kept. A small ridge (mice's 1e-5) keeps the
    normal equations positive definite.

    A follow-up not ``due`` (after the data's end) and not obtained is no part of the data: it is not
    imputed, and as a predictor of the other months it is a zero with an indicator column. Imputing it
    (session 5) put every area that ended in the last year beyond the donors' range: its year, never seen
    among the month's observed rows, had a coefficient identified by the ridge alone (posterior sd of
    millions of stages), so those areas all took the same few extreme donors, and their values, fed to
    the other months' models, moved every imputation together: B x n grew with n (docs/benchmarks.md).
    For the same reason each regression uses only the columns its observed rows identify
    (:func:`identified_columns`); the others' coefficients are 0.

    ``groups`` (small integers >= 0, one per row): donors are matched within them too. Matching on a
    prediction of the mean takes a recipient's value from donors of the same mean, whatever the spread of
    their scores: a characteristic that changes the whole distribution of the follow-up score, and on which
    response depends, belongs here (the attrition analysis gives the re-referral band: session 6 found the
    share keeping the end stage imputed 0.03-0.08 too high at 24 months among those re-referred, whose scores
    are more spread, and so the national share 0.0046 too high; docs/benchmarks.md).
    """

    #: A group with fewer donors than this (in a draw's bootstrap sample) takes its donors from the group without
    #: the ``groups`` code: a hot deck among a handful ignores every other predictor (at 3,000 people, groups
    #: used down to any size biased the share at 24 months by -0.013; docs/benchmarks.md, session 6).
    min_group_donors = 50

    def __init__(self, Z: np.ndarray, S: np.ndarray, threshold: np.ndarray, *, iterations: int, donors: int,
                 due: np.ndarray | None = None, groups: np.ndarray | None = None):
        self.threshold = threshold  # a score above it keeps the end stage
        self.S, self.iterations, self.donors = S, iterations, donors
        self.miss = np.isnan(S)
        self.absent = self.miss & ~due if due is not None else np.zeros_like(self.miss)
        k = S.shape[1]
        self.obs = [np.flatnonzero(~self.miss[:, j]) for j in range(k)]
        self.mis = [np.flatnonzero(self.miss[:, j] & ~self.absent[:, j]) for j in range(k)]
        self.Z = Z
        self.zfit = [_posterior(Z[o], S[o, j]) for j, o in enumerate(self.obs)]
        levels, level = np.unique(threshold, return_inverse=True)
        self.E = (threshold[:, None] == levels[None, 1:]).astype(float)  # end-level dummies
        # donors are matched within the end level, the set of months not due and the group (see draw); small
        # integers: numpy's stable sort of them is a radix sort
        pattern = level * 2**k + (self.absent << np.arange(k)).sum(axis=1)
        if groups is not None:
            groups = np.asarray(groups, dtype=np.int64)
            if groups.shape != (S.shape[0],) or (groups.size and groups.min() < 0):
                raise ValueError("groups: one integer >= 0 per row of S")
            self.n_groups = int(groups.max()) + 1 if groups.size else 1
            pattern = pattern * self.n_groups + groups
        else:
            self.n_groups = 1
        self.level = pattern.astype(np.int16 if pattern.size == 0 or pattern.max() < 2**15 else np.int64)
        # per month, the other months with follow-ups not due somewhere: their indicator columns
        self.flagged = [[c for c in range(k) if c != j and self.absent[:, c].any()] for j in range(k)]

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        absent = self.absent
        S = self.S.copy()
        S[absent] = 0.0  # as a predictor: zero, with its indicator (and not above any threshold)
        n, k = S.shape
        # each month's design: constant, its linear score, end-level dummies and not-due indicators (fixed
        # within a draw), then the other months' scores and whether they keep the end stage (refilled at
        # every step)
        D, fixed = [], []
        for j, f in enumerate(self.zfit):
            n_fixed = 2 + self.E.shape[1] + len(self.flagged[j])
            # column-major: refilling columns and gathering rows are each one contiguous pass
            d = np.empty((n, n_fixed + 2 * (k - 1)), order="F")
            d[:, 0] = 1.0
            d[:, 1] = self.Z @ _draw(f, rng)
            d[:, 2:2 + self.E.shape[1]] = self.E
            d[:, 2 + self.E.shape[1]:n_fixed] = absent[:, self.flagged[j]]
            D.append(d)
            fixed.append(n_fixed)
        for j in range(k):  # start from random observed values
            if self.mis[j].size:
                S[self.mis[j], j] = rng.choice(S[self.obs[j], j], size=self.mis[j].size)
        for _ in range(self.iterations):
            for j in range(k):
                mis = self.mis[j]
                if mis.size == 0:
                    continue
                # donors: a bootstrap sample of the observed rows (approximate Bayesian bootstrap, Rubin &
                # Schenker 1986), so that the donors' own sampling error is carried
                o = self.obs[j][rng.integers(0, self.obs[j].size, size=self.obs[j].size)]
                V = S[:, [c for c in range(k) if c != j]]
                Dj, n_fixed = D[j], fixed[j]
                Dj[:, n_fixed:n_fixed + k - 1] = V
                Dj[:, n_fixed + k - 1:] = V > self.threshold[:, None]
                Do = Dj.take(o, axis=0)  # the rows as Dj[o] gives them (C order), in half the time from F order
                # donors and recipients predicted with the bootstrap sample's least-squares fit. Not type 1
                # (donors on the fit, recipients on drawn coefficients): where the predictors say little the
                # draw's shift pushed recipients past the ends of the donors' narrow range, where they all
                # took the same few donors, and the between-imputation variance did not shrink with n. Not
                # type 2 on all observed rows (both on drawn coefficients, as statsmodels' MICEData): the
                # common shift cancels, and where the predictors say little that is a hot deck from a fixed
                # pool, improper (FMI of a known-answer case 0.15 against 0.33).
                y_o, level_o = S[o, j], self.level[o]  # the donors' scores (recipients are other rows) and groups
                beta = _draw(_posterior(Do, y_o))
                fit_o = Do @ beta
                pred_m = (Dj @ beta)[mis]  # cheaper than gathering the rows first
                # donors share the recipient's end level (what is kept is judged against it) and months not
                # due: an area with a month not due has none of its information, so its prediction is a
                # narrow band that sits, depending on the draw, on one cluster of areas with that month's
                # score or another, whose spread is smaller; matched across, the imputations moved together
                # (FMI of a known-answer case 0.5-0.65 at 32,000 rows against 0.33). Sorting by fitted
                # value, then (stably) by that group puts each group's donors in a sorted run. Donors
                # are shuffled first so that ties in the fitted value are broken at random (as R mice's
                # matchindex does): fitted values of discrete predictors tie in large groups, and in row
                # order every recipient next to a group took the same few donors, so that the imputations
                # shared their values and the between-imputation variance did not shrink with n.
                shuffle = rng.permutation(o.size)
                order = _donor_order(fit_o, level_o, shuffle)
                f_sorted, y_sorted, t_sorted = fit_o[order], y_o[order], level_o[order]
                t_m = self.level[mis]
                coarse: tuple | None = None  # the donors sorted by their group without the `groups` code
                for lev in np.unique(t_m):
                    rm = t_m == lev
                    fs, ys, ts, key = f_sorted, y_sorted, t_sorted, lev
                    a, b = np.searchsorted(ts, key, side="left"), np.searchsorted(ts, key, side="right")
                    if self.n_groups > 1 and b - a < self.min_group_donors:
                        if coarse is None:
                            c_o = level_o // self.n_groups
                            c_order = _donor_order(fit_o, c_o, shuffle)
                            coarse = (fit_o[c_order], y_o[c_order], c_o[c_order])
                        fs, ys, ts = coarse
                        key = lev // self.n_groups
                        a, b = np.searchsorted(ts, key, side="left"), np.searchsorted(ts, key, side="right")
                    if a == b:  # no donor in this group: any donor
                        by_fit = shuffle[np.argsort(fit_o[shuffle], kind="stable")]
                        S[mis[rm], j] = match_nearest(fit_o[by_fit], y_o[by_fit], pred_m[rm], rng, self.donors)
                    else:
                        S[mis[rm], j] = match_nearest(fs[a:b], ys[a:b], pred_m[rm], rng, self.donors)
        S[absent] = np.nan
        return S


def _donor_order(fit: np.ndarray, group: np.ndarray, shuffle: np.ndarray) -> np.ndarray:
    """Donors sorted by group (small integers >= 0), then fitted value, ties in the order of ``shuffle`` (a
    permutation of them): ``by_fit = shuffle[argsort(fit[shuffle], stable)]``, then ``by_fit`` stably sorted by
    group. From the fitted values' ranks, one key per donor, unique, so that numpy's fast unstable sorts give
    that one order (a stable sort of floats is timsort, four times slower, and the imputations' largest cost)."""
    n = fit.size
    top = int(group.max()) + 1 if n else 1
    if n == 0 or top * n * n >= 2**62 or np.isnan(fit).any():
        by_fit = shuffle[np.argsort(fit[shuffle], kind="stable")]
        return by_fit[np.argsort(group[by_fit], kind="stable")]
    s = np.argsort(fit)
    fs = fit[s]
    rank = np.empty(n, dtype=np.int64)
    rank[s] = np.cumsum(np.r_[False, fs[1:] != fs[:-1]])  # equal values, equal ranks
    pos = np.empty(n, dtype=np.int64)
    pos[shuffle] = np.arange(n)
    return np.argsort((group.astype(np.int64) * n + rank) * n + pos)


def _posterior(X: np.ndarray, y: np.ndarray):
    """Least squares with the pieces for posterior draws: (beta, Cholesky factor of X'X, rss, dof, the
    columns used, all columns), on the columns the rows identify (:func:`identified_columns`)."""
    from scipy.linalg import cho_factor, cho_solve

    G = X.T @ X
    idx = identified_columns(G, X.shape[0])
    A = G[np.ix_(idx, idx)]
    A[np.diag_indices_from(A)] += 1e-5 * np.maximum(np.diag(A), 1e-8)
    c = cho_factor(A, lower=True)
    Xi = X if idx.size == X.shape[1] else X[:, idx]  # a copy only when a column is left out
    beta = cho_solve(c, Xi.T @ y)
    rss = float(((y - Xi @ beta) ** 2).sum())
    return beta, c[0], rss, max(X.shape[0] - idx.size, 1), idx, X.shape[1]


def _draw(fit, rng: np.random.Generator | None = None) -> np.ndarray:
    """beta* ~ N(beta, sigma*^2 (X'X)^-1), sigma*^2 = rss / chi2(dof): with X'X = L L', L'^-1 z has
    covariance (X'X)^-1; without ``rng`` the least-squares beta. Columns not used have coefficient 0."""
    from scipy.linalg import solve_triangular

    beta, L, rss, dof, idx, p = fit
    out = np.zeros(p)
    out[idx] = beta
    if rng is not None:
        sigma = np.sqrt(rss / rng.chisquare(dof))
        out[idx] += sigma * solve_triangular(L, rng.standard_normal(beta.size), lower=True, trans="T")
    return out


def match_nearest(f: np.ndarray, yv: np.ndarray, pred: np.ndarray, rng: np.random.Generator,
           donors: int) -> np.ndarray:
    """Predictive mean matching: for each prediction, the score of one of the ``donors`` nearest fitted
    values, drawn uniformly. ``f`` (donors' fitted values) must be sorted; ``yv`` their scores.

    The d nearest values of a sorted array to a point are a run of it: L from the left of the point's
    insertion place and d - L from the right, where L counts the i (0..d-1) whose i-th nearest on the
    left is nearer than the (d-1-i)-th nearest on the right (true for small i, then false)."""
    n = f.size
    d = min(donors, n)
    # in sorted order the look-ups walk ``f`` forwards (a third faster at national size); each
    # prediction's run depends on its value only, so the order among equal predictions does not matter
    order = np.argsort(pred)
    ps = pred[order]
    pos = np.searchsorted(f, ps)
    i = np.arange(d)[None, :]
    left, right = pos[:, None] - 1 - i, pos[:, None] + (d - 1) - i
    with np.errstate(invalid="ignore"):
        dl = np.where(left >= 0, ps[:, None] - f[np.maximum(left, 0)], np.inf)
        dr = np.where(right < n, f[np.minimum(right, n - 1)] - ps[:, None], np.inf)
    start = np.empty(pred.size, dtype=np.intp)
    start[order] = pos - (dl <= dr).sum(axis=1)  # ties go to the left
    return yv[start + rng.integers(0, d, size=pred.size)]
