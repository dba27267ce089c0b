"""Numeric core of the multi-state Markov model for panel data.

A continuous-time Markov chain with intensity matrix ``Q`` is observed only at
(irregular) reading dates. Between two readings ``dt`` apart the chance of
going from state *r* to state *s* is ``P(dt)[r, s]`` with ``P(t) = expm(t Q)``
(Kalbfleisch & Lawless 1985; Jackson 2011, R package msm). The log-likelihood
is the sum over intervals of ``log P(dt)[r, s]``; for an absorbing state whose
entry time is known exactly (msm's ``deathexact``) the contribution is
``sum_k P(dt)[r, k] q[k, d]`` (unknown state just before entry).

Intensities are log-linear in covariates: ``q_rs(x) = exp(theta_rs + x' beta_rs)``
for each allowed transition ``r -> s``.

Speed comes from two things:

* intervals are grouped by distinct (covariate pattern, interval length)
  with a ``K x K`` table of counts per group, so ``P`` is computed once per
  group rather than once per interval;
* ``P`` and its derivatives come from one batched eigendecomposition of ``Q``
  per covariate pattern (``Q = U diag(lambda) U^-1``). The gradient with respect
  to every parameter is then a few small matrix products per pattern
  (the adjoint form of the Kalbfleisch--Lawless derivative). Patterns whose
  eigenvectors are ill-conditioned (repeated eigenvalues, a defective ``Q``)
  fall back to scipy's Padé ``expm`` of a block matrix, which gives the same
  adjoint derivative exactly (Najfeld & Havel 1995).

This module has no pandas: it works on integer-coded arrays. The public face
is :mod:`longitudinal.transitions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = ["PanelData", "build_panel", "generator", "hessian", "loglik_grad", "loglik_patterns", "pmatrix",
           "simulate_ctmc"]

#: Condition number of the eigenvector matrix above which a pattern uses Padé.
_COND_LIMIT = 1e7
#: Smallest probability allowed inside a log (an observed impossible move is
#: caught in validation; this only guards round-off).
_TINY = 1e-300


@dataclass
class PanelData:
    """Intervals grouped for the likelihood.

    Attributes
    ----------
    K : int
        Number of states.
    X : ndarray (C, p)
        Distinct covariate patterns (design rows); ``p`` may be 0.
    comb_c : ndarray (M,)
        Pattern of each (pattern, interval length) group, sorted by pattern.
    comb_t : ndarray (M,)
        Interval length of each group.
    n_reg : ndarray (M, K, K)
        Counts of ordinary panel transitions ``r -> s`` in each group.
    n_exact : ndarray (M, K, K) or None
        Counts of exactly timed entries to absorbing state ``d`` (column) from
        last observed state ``r`` (row).
    starts : ndarray (C,)
        Index of each pattern's first group in ``comb_*`` (for ``reduceat``).
    """

    K: int
    X: np.ndarray
    comb_c: np.ndarray
    comb_t: np.ndarray
    n_reg: np.ndarray
    n_exact: np.ndarray | None
    starts: np.ndarray


def build_panel(K: int, pattern: np.ndarray, X: np.ndarray, dt: np.ndarray, r: np.ndarray,
                s: np.ndarray, exact: np.ndarray | None = None) -> PanelData:
    """Group intervals by (pattern, dt) into count tables.

    Parameters
    ----------
    K : int
        Number of states.
    pattern : int array (n,)
        Covariate pattern index of each interval (row of ``X``).
    X : array (C, p)
        Covariate patterns.
    dt : float array (n,)
        Interval lengths (already rounded as wanted).
    r, s : int arrays (n,)
        From and to state codes ``0..K-1``.
    exact : bool array (n,), optional
        True where ``s`` is an absorbing state entered at exactly ``dt``.
    """
    pattern = np.asarray(pattern, dtype=np.int64)
    dt = np.asarray(dt, dtype=float)
    r = np.asarray(r, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    exact = np.zeros(len(dt), bool) if exact is None else np.asarray(exact, bool)
    # Distinct (pattern, dt) groups, sorted by pattern then dt.
    tu, tcode = np.unique(dt, return_inverse=True)
    key = pattern * len(tu) + tcode
    ukey, g = np.unique(key, return_inverse=True)
    comb_c = ukey // len(tu)
    comb_t = tu[ukey % len(tu)]
    M = len(ukey)
    flat = (g * K + r) * K + s
    n_reg = np.bincount(flat[~exact], minlength=M * K * K).reshape(M, K, K).astype(float)
    n_exact = None
    if exact.any():
        n_exact = np.bincount(flat[exact], minlength=M * K * K).reshape(M, K, K).astype(float)
    starts = np.flatnonzero(np.r_[True, comb_c[1:] != comb_c[:-1]])
    if len(starts) != len(X):
        raise ValueError("every covariate pattern must have at least one interval")
    return PanelData(K, np.asarray(X, float).reshape(len(X), -1), comb_c, comb_t, n_reg, n_exact,
                     starts)


def generator(logq: np.ndarray, frm: np.ndarray, to: np.ndarray, K: int) -> np.ndarray:
    """Intensity matrices from log-intensities.

    Parameters
    ----------
    logq : array (..., nq)
        Log-intensity of each allowed transition.
    frm, to : int arrays (nq,)
        The allowed transitions.
    K : int
        Number of states.

    Returns
    -------
    ndarray (..., K, K)
        Rows sum to zero.

    Examples
    --------
    >>> import numpy as np
    >>> Q = generator(np.log([0.5, 0.2]), np.array([0, 1]), np.array([1, 0]), 2)
    >>> Q.tolist()
    [[-0.5, 0.5], [0.2, -0.2]]
    """
    logq = np.asarray(logq, float)
    Q = np.zeros(logq.shape[:-1] + (K, K))
    Q[..., frm, to] = np.exp(logq)
    idx = np.arange(K)
    Q[..., idx, idx] = -Q.sum(axis=-1)
    return Q


def pmatrix(Q: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``expm(t Q)`` for a batch of intensity matrices and times.

    Parameters
    ----------
    Q : array (n, K, K)
    times : array (T,)

    Returns
    -------
    ndarray (n, T, K, K)

    Uses the eigendecomposition where it is well conditioned and Padé elsewhere.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> Q = np.array([[[-1.0, 1.0], [2.0, -2.0]]])
    >>> bool(np.allclose(pmatrix(Q, np.array([0.7]))[0, 0], scipy.linalg.expm(0.7 * Q[0])))
    True
    """
    Q = np.asarray(Q, float)
    times = np.asarray(times, float)
    n, K, _ = Q.shape
    out = np.empty((n, len(times), K, K))
    lam, U = np.linalg.eig(Q)
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(U)
    good = np.isfinite(cond) & (cond < _COND_LIMIT)
    if good.any():
        Ui = np.linalg.inv(U[good])
        E = np.exp(lam[good][:, None, :] * times[None, :, None])  # (g, T, K)
        out[good] = ((U[good][:, None] * E[:, :, None, :]) @ Ui[:, None]).real
    for i in np.flatnonzero(~good):
        out[i] = scipy.linalg.expm(times[:, None, None] * Q[i][None])
    return out


def _exp_diff(lam: np.ndarray, E: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``V[k, l] = (e^{lam_k t} - e^{lam_l t}) / (lam_k - lam_l)`` (``t e^{lam t}`` on ties)."""
    dl = lam[:, :, None] - lam[:, None, :]
    x = dl * t[:, None, None]
    El = E[:, None, :]
    small = np.abs(x) < 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        V = np.where(small, t[:, None, None] * El * (1 + x / 2 + x * x / 6),
                     (E[:, :, None] - El) / np.where(small, 1.0, dl))
    return V


def _block_adjoint(A: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Fréchet derivative ``L(A^T, W)`` of expm, batched, via a block-matrix Padé expm."""
    m, K, _ = A.shape
    big = np.zeros((m, 2 * K, 2 * K))
    At = np.swapaxes(A, 1, 2)
    big[:, :K, :K] = At
    big[:, K:, K:] = At
    big[:, :K, K:] = W
    return scipy.linalg.expm(big)[:, :K, K:]


def loglik_grad(params: np.ndarray, data: PanelData, frm: np.ndarray, to: np.ndarray,
                *, grad: bool = True, method: str = "auto"):
    """Log-likelihood (and its gradient) of the panel Markov model.

    Parameters
    ----------
    params : array (nq + nq * p,)
        ``theta`` (log baseline intensities, one per allowed transition) then
        ``beta`` as a ``(p, nq)`` array flattened row-wise.
    data : PanelData
    frm, to : int arrays (nq,)
        The allowed transitions.
    grad : bool
        Also return the gradient.
    method : {"auto", "eigen", "pade"}
        ``"auto"`` uses the eigendecomposition where it is well conditioned,
        Padé elsewhere; the other two force one method (for testing).

    Returns
    -------
    float or (float, ndarray)
    """
    nq = len(frm)
    C, p = data.X.shape
    theta = params[:nq]
    beta = params[nq:].reshape(p, nq)
    logq = theta[None, :] + data.X @ beta  # (C, nq)
    out = loglik_patterns(logq, data, frm, to, grad=grad, method=method)
    if not grad:
        return out
    ll, gq = out
    return ll, np.concatenate([gq.sum(axis=0), (data.X.T @ gq).ravel()])


def hessian(params: np.ndarray, data: PanelData, frm: np.ndarray, to: np.ndarray,
            *, h: float = 1e-4) -> np.ndarray:
    """Hessian of the log-likelihood in ``params``.

    The log-likelihood is a sum over covariate patterns of functions of that
    pattern's log-intensities, so the Hessian is ``sum_c J_c' H_c J_c`` with
    ``H_c`` the ``nq x nq`` Hessian in pattern *c*'s log-intensities. All the
    ``H_c`` come from central differences of the analytic per-pattern gradient
    with every pattern shifted at once: ``2 nq`` gradient evaluations whatever
    the number of covariates.
    """
    nq = len(frm)
    C, p = data.X.shape
    logq = params[:nq][None, :] + data.X @ params[nq:].reshape(p, nq)
    Hc = np.empty((C, nq, nq))
    for j in range(nq):
        e = np.zeros(nq)
        e[j] = h
        gp = loglik_patterns(logq + e, data, frm, to)[1]
        gm = loglik_patterns(logq - e, data, frm, to)[1]
        Hc[:, :, j] = (gp - gm) / (2 * h)
    Hc = (Hc + np.swapaxes(Hc, 1, 2)) / 2
    # J_c = [I, x_c kron I]: blocks (1, x_c) outer (1, x_c) times H_c.
    Z = np.c_[np.ones(C), data.X]  # (C, 1 + p)
    H = np.einsum("ca,cb,cij->aibj", Z, Z, Hc, optimize=True).reshape((1 + p) * nq, (1 + p) * nq)
    return H


def loglik_patterns(logq: np.ndarray, data: PanelData, frm: np.ndarray, to: np.ndarray,
                    *, grad: bool = True, method: str = "auto"):
    """Log-likelihood and its gradient in each pattern's log-intensities ``(C, nq)``."""
    K = data.K
    C = len(logq)
    Q = generator(logq, frm, to, K)  # (C, K, K)
    Qoff = Q.copy()
    Qoff[:, np.arange(K), np.arange(K)] = 0.0
    c, t = data.comb_c, data.comb_t

    if method == "pade":
        good = np.zeros(C, bool)
    else:
        lam, U = np.linalg.eig(Q)
        with np.errstate(all="ignore"):
            cond = np.linalg.cond(U)
        good = np.isfinite(cond) & (cond < _COND_LIMIT)
        if method == "eigen":
            good[:] = True
    gm = good[c]  # groups computed by eigendecomposition

    P = np.empty((len(c), K, K))
    if gm.any():
        Ug = U[good]
        Uinv_g = np.linalg.inv(Ug)
        Ufull = np.zeros((C, K, K), complex)
        Uinv = np.zeros((C, K, K), complex)
        lamf = np.zeros((C, K), complex)
        Ufull[good], Uinv[good], lamf[good] = Ug, Uinv_g, lam[good]
        cg = c[gm]
        E = np.exp(lamf[cg] * t[gm, None])
        Um, Uim = Ufull[cg], Uinv[cg]
        P[gm] = ((Um * E[:, None, :]) @ Uim).real
    if (~gm).any():
        P[~gm] = scipy.linalg.expm(Q[c[~gm]] * t[~gm, None, None])
    P = np.clip(P, _TINY, None)

    nreg = data.n_reg
    ll = float(np.sum(nreg * np.log(P)))
    L = None
    if data.n_exact is not None:
        L = np.clip(P @ Qoff[c], _TINY, None)  # (M, K, K): column d = entry to d
        ll += float(np.sum(data.n_exact * np.log(L)))
    if not grad:
        return ll

    # Adjoint weights: d ll = sum_rs W_rs dP_rs (+ the direct q term for exact entries).
    W = nreg / P
    direct = None
    if L is not None:
        R = data.n_exact / L
        W = W + R @ np.swapaxes(Qoff[c], 1, 2)
        direct = np.swapaxes(P, 1, 2) @ R  # (M, K, K): [a, b] multiplies q_ab for b absorbing

    Hc = np.zeros((C, K, K))
    if gm.any():
        cg = c[gm]
        tg = t[gm]
        A = np.swapaxes(Um, 1, 2) @ W[gm] @ np.swapaxes(Uim, 1, 2)
        V = _exp_diff(lamf[cg], E, tg)
        AV = A * V
        # Sum per pattern (groups are sorted by pattern).
        gidx = np.flatnonzero(good)
        starts = np.flatnonzero(np.r_[True, cg[1:] != cg[:-1]])
        B = np.add.reduceat(AV, starts, axis=0)  # (n_good, K, K)
        Hc[gidx] = (np.swapaxes(Uinv[gidx], 1, 2) @ B @ np.swapaxes(Ufull[gidx], 1, 2)).real
    if (~gm).any():
        cb = c[~gm]
        tb = t[~gm]
        Z = _block_adjoint(Q[cb] * tb[:, None, None], W[~gm]) * tb[:, None, None]
        np.add.at(Hc, cb, Z)
    qc = np.exp(logq)  # (C, nq)
    gq = qc * (Hc[:, frm, to] - Hc[:, frm, frm])
    if direct is not None:
        Dc = np.zeros((C, K, K))
        np.add.at(Dc, c, direct)
        gq = gq + qc * Dc[:, frm, to]
    return ll, gq


# ---------------------------------------------------------------- simulation
def simulate_ctmc(Qs: np.ndarray, init_state: np.ndarray, obs_times: np.ndarray,
                  rng: np.random.Generator, *, exact_absorbing: bool = True):
    """Simulate continuous-time chains and observe them at given times.

    Parameters
    ----------
    Qs : array (n, K, K)
        One intensity matrix per subject.
    init_state : int array (n,)
        State at time 0.
    obs_times : array (n, J)
        Observation times per subject, increasing, ``nan`` padded; the first
        must be 0.
    rng : numpy.random.Generator
    exact_absorbing : bool
        If True an absorbing state is recorded at the exact time it is entered
        (and observation stops); otherwise at the next scheduled observation.

    Returns
    -------
    (subject, time, state) : tuple of arrays
    """
    n, K, _ = Qs.shape
    horizon = float(np.nanmax(obs_times))
    rate_all = -Qs[:, np.arange(K), np.arange(K)]  # (n, K)
    ev_i = [np.arange(n)]
    ev_t = [np.zeros(n)]
    ev_s = [np.asarray(init_state, np.int64)]
    cur = np.asarray(init_state, np.int64).copy()
    now = np.zeros(n)
    alive = np.ones(n, bool)
    idx = np.arange(n)
    while alive.any():
        i = idx[alive]
        rate = rate_all[i, cur[i]]
        stop = rate <= 0
        dwell = rng.exponential(1.0, size=len(i)) / np.where(stop, 1.0, rate)
        tn = now[i] + dwell
        stop |= tn > horizon
        alive[i[stop]] = False
        i = i[~stop]
        tn = tn[~stop]
        if len(i) == 0:
            break
        row = Qs[i, cur[i], :].copy()
        row[np.arange(len(i)), cur[i]] = 0.0
        cum = np.cumsum(row, axis=1)
        u = rng.random(len(i)) * cum[:, -1]
        nxt = np.minimum((cum < u[:, None]).sum(axis=1), K - 1)
        cur[i] = nxt
        now[i] = tn
        ev_i.append(i)
        ev_t.append(tn)
        ev_s.append(nxt)
    ei = np.concatenate(ev_i)
    et = np.concatenate(ev_t)
    es = np.concatenate(ev_s)
    order = np.lexsort((et, ei))
    ei, et, es = ei[order], et[order], es[order]
    absorbing = rate_all <= 0  # (n, K)
    # State at each observation time: the last event at or before it.
    span = horizon + 1.0
    ekey = ei * span + et
    J = obs_times.shape[1]
    oi = np.repeat(np.arange(n), J)
    ot = obs_times.ravel()
    keep = np.isfinite(ot)
    oi, ot = oi[keep], ot[keep]
    pos = np.searchsorted(ekey, oi * span + ot, side="right") - 1
    os_ = es[pos]
    # Entry time of the absorbing state (if any) per subject.
    ab_ev = absorbing[ei, es]
    first_ab = np.full(n, np.inf)
    np.minimum.at(first_ab, ei[ab_ev], et[ab_ev])
    ab_state = np.full(n, -1)
    ab_state[ei[ab_ev]] = es[ab_ev]
    # Follow-up ends at each subject's last scheduled reading: an entry after it is unseen
    # (recording it would lengthen follow-up for those absorbed only, biasing exits upwards).
    first_ab[first_ab > np.nanmax(obs_times, axis=1)] = np.inf
    if exact_absorbing:
        visible = ot < first_ab[oi]
        oi, ot, os_ = oi[visible], ot[visible], os_[visible]
        hit = np.isfinite(first_ab)
        oi = np.r_[oi, np.flatnonzero(hit)]
        ot = np.r_[ot, first_ab[hit]]
        os_ = np.r_[os_, ab_state[hit]]
    else:
        # Keep the first observation in the absorbing state, drop the rest.
        absorbed = absorbing[oi, os_]
        prev_abs = np.r_[False, absorbed[:-1]] & np.r_[False, oi[1:] == oi[:-1]]
        visible = ~prev_abs
        oi, ot, os_ = oi[visible], ot[visible], os_[visible]
    order = np.lexsort((ot, oi))
    return oi[order], ot[order], os_[order]
