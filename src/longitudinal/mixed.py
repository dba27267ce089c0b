"""Fast linear mixed models with one grouping factor: profiled REML / ML from sufficient statistics.

The model for group *i* (an episode) with readings ``y_i`` is

.. math::  y_i = X_i \\beta + Z_i b_i + e_i,\\quad b_i \\sim N(0, \\sigma^2 \\Lambda\\Lambda^T),
           \\quad e_i \\sim N(0, \\sigma^2 I)

with ``q`` random effects per group (intercept, slope, ...) and ``Lambda`` the
lower-triangular *relative* Cholesky factor (the ``theta`` of lme4). Because
there is one grouping factor, everything the likelihood needs is in the
per-group cross-products ``Z_i'Z_i, Z_i'X_i, Z_i'y_i`` and the global
``X'X, X'y, y'y``, computed once in O(readings). Each evaluation of the
profiled deviance (with ``beta`` and ``sigma^2`` profiled out) is then
O(groups) of tiny dense algebra, vectorised over groups with numpy (a batched
q x q Cholesky written out over the q columns), and comes with an analytic
gradient in ``theta``; L-BFGS-B keeps the diagonal of ``Lambda`` non-negative
so boundary fits (a variance of zero) are reached cleanly, as in lme4.

With ``A_i = I + Lambda' Z_i'Z_i Lambda = L_i L_i'``:

* ``log|V_i| = 2 sum log diag L_i`` (``V_i = I + Z_i Lambda Lambda' Z_i'``, in units of sigma^2);
* ``X'V^-1X = X'X - sum C_i'C_i`` with ``C_i = L_i^-1 Lambda' Z_i'X_i`` (likewise for y);
* ML deviance ``sum log|V_i| + N (1 + log(2 pi r^2 / N))``; REML adds
  ``log|X'V^-1X|`` and uses ``N - p``; ``r^2`` is the generalised residual sum of squares.

The gradient with respect to ``D = Lambda Lambda'`` is
``G = sum Z_i'V_i^-1 Z_i - (N'/r^2) sum u_i u_i' [- sum Q_i H Q_i' for REML]``
with ``u_i = Z_i'V_i^-1 (y_i - X_i beta)``, ``Q_i = Z_i'V_i^-1 X_i``,
``H = (X'V^-1X)^-1``, and ``d dev / d Lambda = 2 G Lambda`` (lower triangle).

Standard errors and Wald intervals for the variance parameters (random-effect SDs and
correlations, residual SD) come from :func:`variance_inference`: the observed information of
the same deviance with ``sigma^2`` as a parameter rather than profiled out, in log SDs,
Fisher-z correlations and log sigma (by central differences of the analytic gradient).

Examples
--------
>>> import numpy as np
>>> from longitudinal.mixed import fit_lmm
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(300), 5)
>>> t = np.tile(np.arange(5.0), 300)
>>> b = rng.multivariate_normal([0, 0], [[0.5, 0.05], [0.05, 0.1]], 300)
>>> y = 2 + 0.5 * t + b[g, 0] + b[g, 1] * t + rng.normal(0, 0.4, g.size)
>>> X = np.column_stack([np.ones_like(t), t])
>>> fit = fit_lmm(y, X, X, g)
>>> bool(fit.converged), np.round(fit.beta, 1).tolist()
(True, [2.0, 0.5])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats as _stats

from ._numeric import hessian_from_gradient
from .errors import ConvergenceWarning

__all__ = ["SufficientStats", "LMMFit", "fit_lmm", "profiled_deviance", "deviance_at", "ConvergenceWarning",
           "VarianceInference", "variance_inference", "NOTE_ZERO", "NOTE_UNDEFINED", "NOTE_DEPENDENT"]

_LOG_2PI = float(np.log(2 * np.pi))

#: The notes a variance component can carry (``VarianceInference.notes``); the report translates each.
NOTE_ZERO = "estimated as zero (boundary): no Wald SE; test it by likelihood ratio"
NOTE_UNDEFINED = "undefined: a random effect with SD zero"
NOTE_DEPENDENT = "at +-1 (boundary: effects linearly dependent): no Wald SE"


@dataclass
class SufficientStats:
    """Per-group and global cross-products of ``y``, ``X`` and ``Z``.

    Per-group arrays are stored component-major (the group axis last and
    contiguous) so that every step of an evaluation is a vector operation
    over all groups at once.

    Attributes
    ----------
    ztz : ndarray (q, q, n_groups)
        ``Z_i'Z_i``.
    ztxy : ndarray (q, p + 1, n_groups)
        ``[Z_i'X_i, Z_i'y_i]``.
    xtx : ndarray (p, p)
    xty : ndarray (p,)
    yty : float
    nobs : int
    counts : ndarray (n_groups,)
        Readings per group, in group order.
    """

    ztz: np.ndarray
    ztxy: np.ndarray
    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    nobs: int
    counts: np.ndarray

    def __post_init__(self) -> None:
        self.ztz_sum = self.ztz.sum(axis=2)

    @property
    def q(self) -> int:
        return self.ztz.shape[0]

    @property
    def p(self) -> int:
        return self.xtx.shape[0]

    @property
    def ngroups(self) -> int:
        return self.ztz.shape[2]

    @property
    def ztx(self) -> np.ndarray:
        """``Z_i'X_i`` as (q, p, n_groups)."""
        return self.ztxy[:, : self.p, :]

    @property
    def zty(self) -> np.ndarray:
        """``Z_i'y_i`` as (q, n_groups)."""
        return self.ztxy[:, self.p, :]

    @classmethod
    def from_arrays(cls, y: np.ndarray, X: np.ndarray, Z: np.ndarray, starts: np.ndarray) -> SufficientStats:
        """Cross-products from rows sorted by group; ``starts`` are the first row of each group."""
        y = np.asarray(y, dtype=float)
        starts = np.asarray(starts, dtype=np.intp)
        if X.shape[1] + 1 > _SMALL_P:
            return cls._from_arrays_sparse(y, np.asarray(X, dtype=float), np.asarray(Z, dtype=float), starts,
                                           np.diff(np.append(starts, X.shape[0])))
        # columns are read one at a time: Fortran order keeps each one contiguous
        X = np.asfortranarray(X, dtype=float)
        Z = np.asfortranarray(Z, dtype=float)
        n, p = X.shape
        q = Z.shape[1]
        starts = np.asarray(starts, dtype=np.intp)
        g = starts.size
        counts = np.diff(np.append(starts, n))
        xy = [X[:, a] for a in range(p)] + [y]
        # One 1-d reduceat per distinct product (1-d reduceat is several times faster than
        # a 2-d one over a wide block); a column of ones needs no product at all.
        ones = [bool(np.all(Z[:, j] == 1.0)) for j in range(q)]
        ztz = np.empty((q, q, g))
        ztxy = np.empty((q, p + 1, g))
        for j in range(q):
            zj = Z[:, j]
            for k in range(j, q):
                v = Z[:, k] if ones[j] else (zj if ones[k] else zj * Z[:, k])
                ztz[j, k] = counts if (ones[j] and ones[k]) else np.add.reduceat(v, starts)
                ztz[k, j] = ztz[j, k]
            for a, col in enumerate(xy):
                ztxy[j, a] = np.add.reduceat(col if ones[j] else zj * col, starts)
        return cls(ztz=ztz, ztxy=ztxy, xtx=X.T @ X, xty=X.T @ y, yty=float(y @ y), nobs=int(n),
                   counts=counts)


    @classmethod
    def _from_arrays_sparse(cls, y, X, Z, starts, counts) -> SufficientStats:
        """Wide designs: all of ``[Z'Z, Z'X, Z'y]`` in one sparse x dense product.

        A CSR matrix with one row per (group, random effect) holding that group's ``Z`` column
        multiplies ``[Z X y]`` in a single pass over the readings, instead of one pass per
        column product (4x faster with ~15 fixed effects).
        """
        from scipy import sparse

        n, p = X.shape
        q = Z.shape[1]
        g = starts.size
        itype = np.int32 if q * n < 2**31 - 1 else np.int64  # scipy's own index type: no conversion copy
        rowptr = np.zeros(g * q + 1, dtype=itype)
        np.cumsum(np.repeat(counts, q), out=rowptr[1:])
        grp = np.repeat(np.arange(g, dtype=itype), counts)
        rows = np.arange(n, dtype=itype)
        off = rows - starts[grp].astype(itype)
        cols = np.empty(q * n, dtype=itype)
        data = np.empty(q * n)
        for j in range(q):
            pos = rowptr[grp * q + j] + off
            cols[pos] = rows
            data[pos] = Z[:, j]
        A = sparse.csr_matrix((data, cols, rowptr), shape=(g * q, n))
        dense = np.empty((n, q + p + 1))  # C order: the product streams over its rows
        dense[:, :q] = Z
        dense[:, q:q + p] = X
        dense[:, q + p] = y
        R = A @ dense  # (g*q, q+p+1)
        R = np.ascontiguousarray(R.reshape(g, q, q + p + 1).transpose(1, 2, 0))
        return cls(ztz=np.ascontiguousarray(R[:, :q]), ztxy=np.ascontiguousarray(R[:, q:]), xtx=X.T @ X,
                   xty=X.T @ y, yty=float(y @ y), nobs=int(n), counts=counts)


# ---------------------------------------------------------------- algebra
def _tri_index(q: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(q)


def theta_to_lambda(theta: np.ndarray, q: int) -> np.ndarray:
    """Lower-triangular relative Cholesky factor from its row-major lower-triangle entries."""
    lam = np.zeros((q, q))
    lam[_tri_index(q)] = theta
    return lam


def _batched_cholesky(A: np.ndarray) -> np.ndarray:
    """Cholesky factors of a stack of small SPD matrices stored (q, q, n), vectorised over n."""
    q = A.shape[0]
    L = np.zeros_like(A)
    for j in range(q):
        s = A[j, j] - (L[j, :j] ** 2).sum(axis=0) if j else A[j, j]
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, q):
            v = A[i, j] - ((L[i, :j] * L[j, :j]).sum(axis=0) if j else 0.0)
            L[i, j] = v / L[j, j]
    return L


def _forward_solve_const(L: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Solve ``L_i M_i = W`` for a stack of lower-triangular ``L_i`` (q, q, n) and one q x m matrix W."""
    q, _, n = L.shape
    m = W.shape[1]
    M = np.empty((q, m, n))
    for i in range(q):
        acc = np.repeat(W[i][:, None], n, axis=1)
        for k in range(i):
            acc -= L[i, k] * M[k]
        M[i] = acc / L[i, i]
    return M


def _smm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Stacked product ``A_i @ B_i`` with A (a, b, n) and B (b, c, n): a loop over the tiny dims.

    Each step is a contiguous vector operation over the n groups, which is several
    times faster than ``np.matmul`` or ``einsum`` on stacks of 2 x 2 matrices.
    """
    a, b, n = A.shape
    out = np.empty((a,) + B.shape[1:])
    for i in range(a):
        acc = A[i, 0] * B[0]
        for k in range(1, b):
            acc += A[i, k] * B[k]
        out[i] = acc
    return out


# Below this width the stacked products run as plain (single-threaded) einsum loops: BLAS on
# long, skinny operands gains little and its threads stall badly on a busy 2-core machine.
_SMALL_P = 6


def _gram(C: np.ndarray) -> np.ndarray:
    """``sum_i C_i' C_i`` over the q rows and n groups of C (q, m, n) -> (m, m)."""
    if C.shape[1] <= _SMALL_P:
        return np.einsum("ian,ibn->ab", C, C)
    return sum(C[i] @ C[i].T for i in range(C.shape[0]))


def _combine(w: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """``w' Q_i`` for every row block: Q (q, m, n), w (m,) -> (q, n)."""
    if Q.shape[1] <= _SMALL_P:
        out = w[0] * Q[:, 0]
        for a in range(1, Q.shape[1]):
            out += w[a] * Q[:, a]
        return out
    return np.stack([w @ Q[i] for i in range(Q.shape[0])])


@dataclass
class _Eval:
    """Everything one deviance evaluation produces (kept for the final fit)."""

    deviance: float
    grad: np.ndarray
    beta: np.ndarray
    r2: float
    H: np.ndarray  # (X'V^-1X)^-1, in units of sigma^2
    M: np.ndarray  # L^-1 Lambda', (q, q, n)
    G: np.ndarray | None = None  # d deviance / d (Lambda Lambda'), symmetric (q, q)


def _evaluate(theta: np.ndarray, st: SufficientStats, reml: bool, *, gradient: bool = True,
              sigma2: float | None = None) -> _Eval:
    """One deviance evaluation at ``theta``.

    With ``sigma2=None`` the deviance is profiled over the residual variance (what the fit
    minimises). With a value, it is the deviance at that fixed ``sigma2``,
    ``log|V| [+ log|X'V^-1X|] + dof log(2 pi sigma2) + r^2 / sigma2``, whose gradient differs
    only in the weight of the ``u u'`` term (``1 / sigma2`` instead of ``dof / r^2``): the
    variance-parameter information needs the residual variance as a parameter of its own.
    """
    q, p, N, n = st.q, st.p, st.nobs, st.ngroups
    lam = theta_to_lambda(theta, q)
    # A_i = I + Lambda' S_i Lambda: one (q^2 x q^2) x (q^2 x n) product, as a single-threaded einsum
    A = np.einsum("ab,bn->an", np.kron(lam.T, lam.T), st.ztz.reshape(q * q, n)).reshape(q, q, n)
    for j in range(q):
        A[j, j] += 1.0
    L = _batched_cholesky(A)
    M = _forward_solve_const(L, lam.T)  # L^-1 Lambda'
    W = st.ztxy
    Cc = _smm(M, W)  # [C c] = M [Z'X Z'y], (q, p+1, n)
    corr = _gram(Cc)  # sum over groups of [C c]'[C c]
    xvx = st.xtx - corr[:p, :p]
    xvy = st.xty - corr[:p, p]
    yvy = st.yty - corr[p, p]
    logdet_v = 2.0 * sum(np.log(L[j, j]).sum() for j in range(q))
    try:
        cx = np.linalg.cholesky(xvx)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError("X'V^-1X is not positive definite: the fixed effects are not identified") from None
    H = np.linalg.inv(xvx)
    H = 0.5 * (H + H.T)
    beta = H @ xvy
    r2 = float(yvy - beta @ xvy)
    if r2 <= 0:
        r2 = np.finfo(float).tiny
    dof = N - p if reml else N
    if sigma2 is None:
        dev = logdet_v + dof * (1.0 + _LOG_2PI + np.log(r2 / dof))
    else:
        dev = logdet_v + dof * (_LOG_2PI + np.log(sigma2)) + r2 / sigma2
    if reml:
        dev += 2.0 * np.log(np.diag(cx)).sum()
    grad = np.zeros_like(theta)
    G = None
    if gradient:
        # T = S M' so that Z'V^-1Z = S - T T' and Z'V^-1[X y] = [Z'X Z'y] - T [C c]
        T = _smm(st.ztz, M.transpose(1, 0, 2))
        Qq = W - _smm(T, Cc)
        Q = Qq[:, :p]
        u = Qq[:, p] - _combine(beta, Q)  # Z'V^-1 (y - X beta), (q, n)
        G = st.ztz_sum - np.einsum("ikn,jkn->ij", T, T)
        G -= (dof / r2 if sigma2 is None else 1.0 / sigma2) * np.einsum("in,jn->ij", u, u)
        if reml:
            if p <= _SMALL_P:
                R = np.stack([_combine(H[a], Q) for a in range(p)], axis=1)  # H Q_i, (q, p, n)
            else:
                R = np.stack([H @ Q[i] for i in range(q)])
            G -= np.einsum("ian,jan->ij", R, Q)
        G = 0.5 * (G + G.T)
        grad = (2.0 * G @ lam)[_tri_index(q)]
    return _Eval(dev, grad, beta, r2, H, M, G)


def profiled_deviance(theta: np.ndarray, st: SufficientStats, reml: bool = True) -> tuple[float, np.ndarray]:
    """Profiled deviance (-2 log-likelihood, REML or ML) and its gradient in ``theta``."""
    e = _evaluate(np.asarray(theta, dtype=float), st, reml)
    return e.deviance, e.grad


def deviance_at(D: np.ndarray, sigma2: float, st: SufficientStats, reml: bool = True) -> float:
    """The deviance (-2 log-likelihood, REML or ML) at the random-effect covariance ``D`` and residual
    variance ``sigma2`` (not profiled over ``sigma2``); ``D`` may be singular (a boundary fit)."""
    return float(_evaluate(_psd_cholesky(D / sigma2)[_tri_index(st.q)], st, reml, gradient=False,
                           sigma2=sigma2).deviance)


# ------------------------------------------------------------------- fit
@dataclass
class LMMFit:
    """Result of :func:`fit_lmm` (arrays only; the user-facing object is ``TrajectoryResults``)."""

    beta: np.ndarray
    cov_beta: np.ndarray
    cov_re: np.ndarray
    sigma2: float
    theta: np.ndarray
    loglik: float
    reml: bool
    converged: bool
    n_iter: int
    n_eval: int
    message: str
    nobs: int
    ngroups: int
    blups: np.ndarray
    blup_cov: np.ndarray
    grad_norm: float
    boundary: list[str] = field(default_factory=list)
    stats: SufficientStats | None = field(default=None, repr=False, compare=False)
    """The cross-products the fit used (kept for :func:`variance_inference`, computed lazily)."""

    @property
    def k_params(self) -> int:
        """Fixed effects + distinct covariance parameters + residual variance."""
        q = self.cov_re.shape[0]
        return self.beta.size + q * (q + 1) // 2 + 1


def _start_theta(st: SufficientStats) -> np.ndarray:
    # lme4's choice: Lambda = I (random-effect SDs equal to the residual SD)
    q = st.q
    return np.eye(q)[_tri_index(q)]


def fit_lmm(y: np.ndarray | None, X: np.ndarray | None, Z: np.ndarray | None, groups: np.ndarray | None = None,
            *, reml: bool = True, stats: SufficientStats | None = None, start: np.ndarray | None = None,
            maxiter: int = 1000, gtol: float = 1e-7) -> LMMFit:
    """Fit a linear mixed model with one grouping factor by profiled REML or ML.

    Parameters
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
        Fixed-effects design (full column rank).
    Z : ndarray (n, q)
        Random-effects design (columns per group, e.g. intercept and time).
    groups : ndarray (n,)
        Group labels; rows need not be sorted.
    reml : bool, default True
    stats : SufficientStats, optional
        Precomputed cross-products (then ``y, X, Z, groups`` are ignored and may be None).
    start : ndarray, optional
        Starting ``theta`` (lower triangle of the relative Cholesky factor, row-major).
    maxiter, gtol : optimiser limits (projected gradient tolerance, relative to the deviance scale).

    Returns
    -------
    LMMFit
    """
    if stats is None:
        groups = np.asarray(groups)
        codes, _ = _group_codes(groups)
        order = None if np.all(codes[1:] >= codes[:-1]) else np.argsort(codes, kind="stable")
        if order is not None:
            y, X, Z, codes = y[order], X[order], Z[order], codes[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        stats = SufficientStats.from_arrays(y, X, Z, starts)
    st = stats
    q = st.q
    theta0 = _start_theta(st) if start is None else np.asarray(start, dtype=float)
    tri = _tri_index(q)
    bounds = [(0.0, None) if i == j else (None, None) for i, j in zip(*tri)]
    scale = max(1.0, float(st.nobs))  # deviance grows with N: compare gradients on a per-reading scale

    def fun(th):
        e = _evaluate(th, st, reml)
        return e.deviance / scale, e.grad / scale

    res = optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": maxiter, "ftol": 1e-15, "gtol": gtol, "maxcor": 20})
    theta = res.x
    e = _evaluate(theta, st, reml)
    # projected gradient: components pushing against a bound at zero do not count
    g = e.grad / scale
    at_bound = np.array([(lo is not None and th <= 1e-10 and gi > 0) for (lo, _), th, gi in zip(bounds, theta, g)])
    pg = np.where(at_bound, 0.0, g)
    grad_norm = float(np.max(np.abs(pg))) if pg.size else 0.0
    converged = bool(res.success or grad_norm < 1e-5)

    p, N = st.p, st.nobs
    dof = N - p if reml else N
    sigma2 = e.r2 / dof
    lam = theta_to_lambda(theta, q)
    cov_re = sigma2 * lam @ lam.T
    cov_beta = sigma2 * e.H
    # BLUPs b_i = Lambda A_i^-1 Lambda' Z_i'(y_i - X_i beta) = M_i' M_i Z_i'r_i; their conditional
    # covariance (given beta) is sigma^2 Lambda A_i^-1 Lambda' = sigma^2 M_i'M_i.
    P = _smm(e.M.transpose(1, 0, 2), e.M)  # Lambda A^-1 Lambda', (q, q, n)
    zr = st.zty - _combine(e.beta, st.ztx)
    blups = _smm(P, zr[:, None, :])[:, 0, :].T
    blup_cov = P.transpose(2, 0, 1)
    boundary = _boundary_messages(lam)
    return LMMFit(beta=e.beta, cov_beta=cov_beta, cov_re=cov_re, sigma2=float(sigma2), theta=theta,
                  loglik=-0.5 * e.deviance, reml=reml, converged=converged, n_iter=int(res.nit),
                  n_eval=int(res.nfev), message=str(res.message), nobs=N, ngroups=st.ngroups,
                  blups=blups, blup_cov=sigma2 * blup_cov, grad_norm=grad_norm, boundary=boundary, stats=st)


def _boundary_messages(lam: np.ndarray, tol: float = 1e-4) -> list[str]:
    """lme4's singularity check: a diagonal entry of the relative Cholesky factor at (near) zero."""
    q = lam.shape[0]
    out = []
    rel = lam @ lam.T
    sd = np.sqrt(np.clip(np.diag(rel), 0, None))
    for j in range(q):
        if lam[j, j] < tol:
            if sd[j] < tol:
                out.append(f"variance of random effect {j} is estimated as zero")
            else:
                k = int(np.argmax(np.abs(rel[j, :j]) / np.maximum(sd[:j], 1e-300)))
                r = rel[j, k] / (sd[j] * sd[k]) if sd[k] > 0 else np.nan
                out.append(f"random effect {j} is (almost) a linear function of the others "
                           f"(correlation with {k} estimated as {r:+.3f})")
    return out


def _group_codes(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of group labels in order of first appearance (stable, no sorting of labels)."""
    import pandas as pd

    codes, uniques = pd.factorize(groups, sort=False)
    if (codes < 0).any():
        raise ValueError("group labels contain missing values")
    return codes, np.asarray(uniques)


def warn_convergence(fit: LMMFit, what: str = "the mixed model") -> None:
    """Issue the warnings a user can act on after a fit."""
    if not fit.converged:
        warnings.warn(f"{what} did not converge ({fit.message}; largest gradient {fit.grad_norm:.2g} after "
                      f"{fit.n_iter} iterations): treat the estimates with caution, simplify the random "
                      "part or rescale time.", ConvergenceWarning, stacklevel=3)


# ------------------------------------------------- variance-parameter inference
def _psd_cholesky(D: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Lower-triangular ``L`` with ``L L' = D`` for a positive *semi*-definite ``D``.

    A (near-)zero pivot leaves its column zero instead of failing: that is the relative factor
    of a boundary fit (a variance of zero, or an effect that is a combination of the others),
    which the deviance evaluates without trouble.
    """
    q = D.shape[0]
    L = np.zeros((q, q))
    scale = max(float(np.max(np.abs(np.diag(D)))), np.finfo(float).tiny)
    for j in range(q):
        s = D[j, j] - L[j, :j] @ L[j, :j]
        if s <= tol * scale:
            continue
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, q):
            L[i, j] = (D[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
    return L


@dataclass
class VarianceInference:
    """Wald inference for the variance parameters of a fitted LMM (from :func:`variance_inference`).

    The parameters, in this order, are the random-effect SDs ``sd_j`` (``j = 0..q-1``), their
    correlations ``corr_jk`` (``j < k``, in ``np.triu_indices(q, 1)`` order) and the residual SD
    ``sigma``. Their unconstrained versions ``phi`` are ``log sd_j``, ``atanh corr_jk`` and
    ``log sigma``: the information is computed, and the intervals formed, on that scale.

    Attributes
    ----------
    kind : list of str
        ``"sd"``, ``"corr"`` or ``"sigma"`` for each parameter.
    index : list of tuple
        ``(j,)``, ``(j, k)`` or ``()``: which random effect(s) the parameter belongs to.
    estimate : ndarray
        SDs, correlations and the residual SD (NaN for a correlation with an effect of SD zero).
    phi : ndarray
        ``log sd``, ``atanh corr``, ``log sigma`` (infinite or NaN on the boundary).
    free : ndarray of bool
        Parameters with a Wald standard error; the others sit on the boundary of the parameter
        space and were held at their estimates (see ``notes``).
    information : ndarray (m, m)
        Observed information (half the Hessian of the deviance) in ``phi``; NaN rows and
        columns for parameters that are not free.
    cov_phi : ndarray (m, m)
        Its inverse: the asymptotic covariance of ``phi`` (NaN where not free).
    notes : list of str
        Per parameter, why it has no standard error or why its interval is unreliable ("" if none).
    messages : list of str
        Notes about the whole table (e.g. boundary parameters held fixed).
    reml : bool
        Whether the information is that of the REML or of the ML deviance.
    """

    kind: list[str]
    index: list[tuple[int, ...]]
    estimate: np.ndarray
    phi: np.ndarray
    free: np.ndarray
    information: np.ndarray
    cov_phi: np.ndarray
    notes: list[str]
    messages: list[str]
    reml: bool

    @property
    def std_error_phi(self) -> np.ndarray:
        """Standard errors on the unconstrained scale (log SD, atanh corr, log sigma)."""
        return np.sqrt(np.diag(self.cov_phi))

    def _jacobian(self) -> np.ndarray:
        # d natural / d phi: sd = exp(phi), corr = tanh(phi)
        return np.array([1.0 - e**2 if k == "corr" else e for k, e in zip(self.kind, self.estimate)])

    @property
    def std_error(self) -> np.ndarray:
        """Delta-method standard errors of the SDs, correlations and residual SD."""
        return self._jacobian() * self.std_error_phi

    @property
    def cov(self) -> np.ndarray:
        """Delta-method covariance of the SDs, correlations and residual SD."""
        J = self._jacobian()
        return self.cov_phi * np.outer(J, J)

    def conf_int(self, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Wald intervals formed on the ``phi`` scale and transformed back.

        They therefore respect the parameter space (SDs above 0, correlations in (-1, 1)) and
        are not symmetric about the estimate. NaN where there is no standard error.
        """
        zq = _stats.norm.ppf(1 - alpha / 2)
        half = zq * self.std_error_phi
        lo, hi = self.phi - half, self.phi + half
        back = np.array([k == "corr" for k in self.kind])
        return np.where(back, np.tanh(lo), np.exp(lo)), np.where(back, np.tanh(hi), np.exp(hi))


def variance_inference(fit: LMMFit, stats: SufficientStats | None = None, *, tol: float = 1e-4,
                       rel_step: float = 1e-5) -> VarianceInference:
    """Observed-information standard errors and Wald intervals for the variance parameters.

    The information is the Hessian of the deviance that was fitted (REML or ML), taken as a
    function of ``phi = (log sd_j, atanh corr_jk, log sigma)``: central differences (see
    :func:`longitudinal._numeric.hessian_from_gradient`) of its analytic gradient, ``2 m``
    deviance evaluations for ``m`` parameters, each O(groups).

    Two choices matter:

    * **The residual variance is a parameter, not profiled out.** The fit profiles the deviance
      over ``sigma^2``, and the relative factor ``theta`` is the scale-free part; but every
      random-effect SD is ``sigma`` times a function of ``theta``, so their SEs need the *joint*
      information of ``theta`` and ``sigma``. The deviance used here is the one at a given
      ``sigma^2`` (REML: ``log|V| + log|X'V^-1X| + (N-p) log(2 pi sigma^2) + r^2/sigma^2``), whose
      minimum over ``sigma^2`` is the profiled one, so the estimates are unchanged. The fixed
      effects stay profiled out (ML) or integrated out (REML): for ML the inverse Hessian of a
      profile likelihood equals the corresponding block of the full inverse Hessian, so nothing
      is lost; REML has no fixed effects in it at all.
    * **The unconstrained scale.** Log SDs and Fisher-z correlations make the likelihood closer
      to quadratic than the variances themselves do, and intervals formed there and mapped back
      stay inside the parameter space. SEs on the natural scale follow by the delta method.

    Boundary fits (lme4's "singular" fits) have no Wald inference at the boundary: an SD whose
    estimate is zero (relative SD ``sd / sigma < tol``, the fit's own boundary test) gets a NaN
    standard error and interval, as do its correlations (their estimates are undefined); if the
    remaining effects are linearly dependent (a correlation at +-1) all their correlations are
    held fixed. The other parameters' SEs are then computed with the boundary ones held at their
    estimates, and ``messages`` says so. Test a variance at zero by a likelihood-ratio test
    instead. An SD estimated just above zero gets a (wide) interval and a note.

    Parameters
    ----------
    fit : LMMFit
        A fit by :func:`fit_lmm` (or any fit of the same model: only ``cov_re``, ``sigma2`` and
        ``reml`` are read, so the information can be evaluated at another engine's estimates).
    stats : SufficientStats, optional
        The fit's cross-products; by default ``fit.stats``.
    tol : float
        Boundary threshold on the relative Cholesky factor's diagonal.
    rel_step : float
        Relative step of the central differences.

    Returns
    -------
    VarianceInference

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(300), 5)
    >>> t = np.tile(np.arange(5.0), 300)
    >>> b = rng.multivariate_normal([0, 0], [[0.5, 0.05], [0.05, 0.1]], 300)
    >>> y = 2 + 0.5 * t + b[g, 0] + b[g, 1] * t + rng.normal(0, 0.4, g.size)
    >>> X = np.column_stack([np.ones_like(t), t])
    >>> vi = variance_inference(fit_lmm(y, X, X, g))
    >>> vi.kind
    ['sd', 'sd', 'corr', 'sigma']
    >>> lo, hi = vi.conf_int()
    >>> bool(np.all((lo < vi.estimate) & (vi.estimate < hi))), bool(np.all(vi.std_error > 0))
    (True, True)
    """
    st = fit.stats if stats is None else stats
    if st is None:
        raise ValueError("variance_inference needs the fit's sufficient statistics: pass stats=")
    reml = bool(fit.reml)
    q = st.q
    dof = st.nobs - st.p if reml else st.nobs
    s2 = float(fit.sigma2)
    D = np.asarray(fit.cov_re, dtype=float)
    sd = np.sqrt(np.clip(np.diag(D), 0.0, None))
    sigma = np.sqrt(s2)
    iu = np.triu_indices(q, 1)
    pairs = list(zip(*(a.tolist() for a in iu)))
    kind = ["sd"] * q + ["corr"] * len(pairs) + ["sigma"]
    index = [(j,) for j in range(q)] + pairs + [()]
    m = len(kind)
    with np.errstate(divide="ignore", invalid="ignore"):
        R = D / np.outer(sd, sd)
        est = np.r_[sd, R[iu], sigma]
        phi = np.r_[np.log(sd), np.arctanh(np.clip(R[iu], -1.0, 1.0)), np.log(sigma)]

    # ---- which parameters sit on the boundary (the fit's own test: lme4's singularity check)
    lam = _psd_cholesky(D / s2)
    zero = sd / sigma < tol
    dependent = (np.diag(lam) < tol) & ~zero
    free = np.ones(m, dtype=bool)
    notes = [""] * m
    messages: list[str] = []
    for j in np.flatnonzero(zero):
        free[j] = False
        notes[j] = NOTE_ZERO
    for c, (j, k) in enumerate(pairs, start=q):
        if zero[j] or zero[k]:
            free[c] = False
            notes[c] = NOTE_UNDEFINED
        elif dependent.any():
            # a singular covariance of the non-zero effects: the correlations are held fixed
            free[c] = False
            notes[c] = NOTE_DEPENDENT
    if not free.all():
        messages.append("boundary (singular) fit: the standard errors of the other parameters hold the "
                        "boundary ones at their estimates")

    def grad_phi(phi_free: np.ndarray) -> np.ndarray:
        nat = est.copy()
        ph = phi.copy()
        ph[free] = phi_free
        nat[free] = np.where(np.array(kind)[free] == "corr", np.tanh(ph[free]), np.exp(ph[free]))
        s, sg = nat[:q], nat[-1]
        Rm = np.eye(q)
        Rm[iu] = Rm[iu[1], iu[0]] = np.nan_to_num(nat[q:-1])
        Dm = Rm * np.outer(s, s)
        v = sg * sg
        e = _evaluate(_psd_cholesky(Dm / v)[_tri_index(q)], st, reml, sigma2=v)
        Gd = e.G / v  # d dev / d D (absolute), since D_rel = D / sigma^2
        g = np.empty(m)
        g[:q] = 2.0 * (Gd * Dm).sum(axis=1)
        g[q:-1] = 2.0 * Gd[iu] * s[iu[0]] * s[iu[1]] * (1.0 - nat[q:-1] ** 2)
        # at fixed D (absolute): the explicit sigma^2 terms, and D_rel = D / sigma^2 moving with it
        d_v = dof / v - e.r2 / v**2 - float(np.sum(e.G * Dm)) / v**2
        g[-1] = 2.0 * v * d_v
        return g[free]

    info = np.full((m, m), np.nan)
    cov = np.full((m, m), np.nan)
    if free.any():
        H = hessian_from_gradient(grad_phi, phi[free], rel_step=rel_step)
        fi = np.ix_(free, free)
        info[fi] = 0.5 * H  # deviance = -2 log-likelihood
        try:
            np.linalg.cholesky(info[fi])
            cov[fi] = np.linalg.inv(info[fi])
        except np.linalg.LinAlgError:
            messages.append("the observed information is not positive definite (a flat likelihood or a "
                            "fit that did not converge): no standard errors")
    se_phi = np.sqrt(np.diag(cov))
    for c in range(m):
        if not free[c] or np.isnan(se_phi[c]):
            continue
        if kind[c] == "sd" and se_phi[c] > 1.0:
            # the interval spans a factor of e^(2 x 1.96) ~ 50 or more: the estimate is near zero
            notes[c] = "near zero: Wald interval unreliable; test it by likelihood ratio"
        elif kind[c] == "corr" and abs(est[c]) > 0.99:
            notes[c] = "near +-1: Wald interval unreliable"
    return VarianceInference(kind=kind, index=index, estimate=est, phi=phi, free=free, information=info,
                             cov_phi=cov, notes=notes, messages=messages, reml=reml)


def profile_intervals(fit: LMMFit, vi: VarianceInference, alpha: float = 0.05,
                      stats: SufficientStats | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Profile-likelihood intervals of the SDs, correlations and residual SD (lme4's default ``confint``).

    For each parameter ``c`` the deviance that was fitted (REML or ML, the residual SD a parameter of
    its own, as in :func:`variance_inference`) is minimised over the other variance parameters at
    fixed values of ``c``; the interval holds the values where it rises less than
    ``chi2_1(1 - alpha)`` above its minimum. The search runs on ``phi`` (log SD, atanh corr, log
    sigma), so an SD's lower limit can be 0 and a correlation's limits -1 or 1 (the deviance never
    rises far enough there: lme4 reports the same). Parameters on the boundary (``vi.free`` False)
    get NaN. Returns ``(lower, upper)`` in the order of ``vi.estimate``.
    """
    st = fit.stats if stats is None else stats
    if st is None:
        raise ValueError("profile_intervals needs the fit's sufficient statistics: pass stats=")
    reml = bool(fit.reml)
    q = st.q
    iu = np.triu_indices(q, 1)
    kind = np.array(vi.kind)
    is_corr = kind == "corr"
    free = vi.free & np.isfinite(vi.phi)

    def deviance(ph: np.ndarray) -> float:
        nat = np.where(is_corr, np.tanh(ph), np.exp(ph))
        s, v = nat[:q], nat[-1] ** 2
        Rm = np.eye(q)
        Rm[iu] = Rm[iu[1], iu[0]] = nat[q:-1]
        if q > 2 and np.linalg.eigvalsh(Rm).min() <= 0:
            return np.inf  # not a correlation matrix
        return deviance_at(Rm * np.outer(s, s), v, st, reml)

    phi0 = np.where(free, vi.phi, np.nan_to_num(vi.phi, neginf=-30.0))
    dev0 = deviance(phi0)
    crit = float(_stats.chi2.ppf(1 - alpha, 1))
    lower, upper = np.full(len(kind), np.nan), np.full(len(kind), np.nan)

    def profiled(c: int, x: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        others = np.flatnonzero(free & (np.arange(len(kind)) != c))
        ph = start.copy()
        ph[c] = x
        if others.size == 0:
            return deviance(ph), ph

        def f(z):
            p = ph.copy()
            p[others] = z
            return deviance(p)

        r = optimize.minimize(f, ph[others], method="BFGS", options={"gtol": 1e-6, "maxiter": 200})
        ph[others] = r.x
        return float(r.fun), ph

    for c in np.flatnonzero(free):
        for sign, out in ((-1.0, lower), (1.0, upper)):
            # step out on the phi scale until the profiled deviance rises past the criterion
            step = max(2.0 * vi.std_error_phi[c], 0.05) if np.isfinite(vi.std_error_phi[c]) else 0.5
            inside, start = phi0[c], phi0.copy()
            edge = None
            for _ in range(40):
                x = inside + sign * step
                d, ph = profiled(c, x, start)
                if d - dev0 >= crit:
                    edge = x
                    break
                inside, start, step = x, ph, step * 2.0
                if abs(x) > 12:  # sd -> 0 (or huge), corr -> +-1: the deviance never gets there
                    break
            if edge is None:
                out[c] = (sign if is_corr[c] else (0.0 if sign < 0 else np.inf))
                continue
            g = lambda x, c=c, start=start: profiled(c, x, start)[0] - dev0 - crit  # noqa: E731
            root = optimize.brentq(g, inside, edge, xtol=1e-6) if sign > 0 else optimize.brentq(g, edge, inside,
                                                                                                   xtol=1e-6)
            out[c] = np.tanh(root) if is_corr[c] else np.exp(root)
    return lower, upper
