"""The fast mixed-model core: gradient, exact recovery, and agreement with statsmodels MixedLM."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.optimize import approx_fprime

from longitudinal.mixed import SufficientStats, deviance_at, fit_lmm, profiled_deviance, variance_inference


def lmm_data(groups=400, seed=0, beta=(2.0, 0.5, 0.3), G=((0.5, -0.05), (-0.05, 0.1)), sigma=0.4,
             max_n=9, quadratic=False):
    """Gaussian LMM data with known truth: irregular times, 1..max_n readings per group, a covariate."""
    rng = np.random.default_rng(seed)
    n_i = rng.integers(1, max_n, groups)
    g = np.repeat(np.arange(groups), n_i)
    t = rng.uniform(0, 3, g.size)
    x = rng.normal(size=g.size)
    G = np.asarray(G)
    b = rng.multivariate_normal(np.zeros(len(G)), G, groups)
    Z = np.column_stack([np.ones_like(t), t] + ([t**2] if quadratic else []))[:, : len(G)]
    X = np.column_stack([np.ones_like(t), t, x])
    y = X @ np.asarray(beta) + (Z * b[g]).sum(axis=1) + rng.normal(0, sigma, g.size)
    return y, X, Z, g


def stats_of(y, X, Z, g):
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    return SufficientStats.from_arrays(y, X, Z, starts)


def sm_fit(y, X, Z, g, reml):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.MixedLM(y, X, groups=g, exog_re=Z).fit(reml=reml, method=["lbfgs"], maxiter=2000)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("q", [1, 2, 3])
def test_analytic_gradient_matches_finite_differences(reml, q):
    G = {1: [[0.5]], 2: [[0.5, -0.05], [-0.05, 0.1]], 3: [[0.5, -0.05, 0], [-0.05, 0.1, 0], [0, 0, 0.01]]}[q]
    y, X, Z, g = lmm_data(groups=150, seed=q, G=G, quadratic=q == 3)
    st = stats_of(y, X, Z, g)
    rng = np.random.default_rng(5)
    for _ in range(3):
        theta = np.abs(rng.normal(0.7, 0.3, q * (q + 1) // 2))
        f, grad = profiled_deviance(theta, st, reml)
        num = approx_fprime(theta, lambda th: profiled_deviance(th, st, reml)[0], 1e-7)
        np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-3 * max(1.0, np.abs(num).max()))


def test_sufficient_statistics_equal_direct_sums():
    y, X, Z, g = lmm_data(groups=30, seed=1)
    st = stats_of(y, X, Z, g)
    for i in (0, 7, 29):
        m = g == i
        np.testing.assert_allclose(st.ztz[:, :, i], Z[m].T @ Z[m])
        np.testing.assert_allclose(st.ztx[:, :, i], Z[m].T @ X[m])
        np.testing.assert_allclose(st.zty[:, i], Z[m].T @ y[m])
    np.testing.assert_allclose(st.xtx, X.T @ X)
    assert st.yty == pytest.approx(y @ y)
    assert st.counts.sum() == y.size


@pytest.mark.parametrize("reml", [True, False])
def test_agrees_with_statsmodels_mixedlm(reml):
    y, X, Z, g = lmm_data(groups=500, seed=3)
    fit = fit_lmm(y, X, Z, g, reml=reml)
    ref = sm_fit(y, X, Z, g, reml)
    assert fit.converged and ref.converged
    np.testing.assert_allclose(fit.beta, ref.fe_params, rtol=1e-4)
    np.testing.assert_allclose(fit.cov_re, ref.cov_re, atol=1e-3)
    assert fit.sigma2 == pytest.approx(ref.scale, rel=1e-3)
    # same likelihood definition, and the fast optimum is at least as good
    assert fit.loglik == pytest.approx(ref.llf, rel=1e-7, abs=1e-4)
    assert fit.loglik >= ref.llf - 1e-6
    # BLUPs and the (model-based) standard errors of the fixed effects
    blups = np.array([ref.random_effects[k] for k in range(500)])
    np.testing.assert_allclose(fit.blups, blups, atol=2e-3)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_beta)), ref.bse_fe, rtol=5e-3)


@pytest.mark.parametrize("q", [1, 3])
def test_random_intercept_only_and_quadratic_agree_with_statsmodels(q):
    G = [[0.5]] if q == 1 else [[0.5, -0.05, 0.0], [-0.05, 0.1, 0.0], [0.0, 0.0, 0.02]]
    y, X, Z, g = lmm_data(groups=600, seed=10 + q, G=G, quadratic=q == 3, max_n=12)
    fit = fit_lmm(y, X, Z, g)
    ref = sm_fit(y, X, Z, g, True)
    np.testing.assert_allclose(fit.beta, ref.fe_params, rtol=1e-4)
    np.testing.assert_allclose(fit.cov_re, ref.cov_re, atol=1e-3)
    assert fit.loglik >= ref.llf - 1e-6 and fit.loglik == pytest.approx(ref.llf, abs=1e-3)


def test_recovers_known_truth_from_gaussian_lmm_data():
    beta = np.array([2.4, 0.45, -0.2])
    G = np.array([[0.6, -0.07], [-0.07, 0.09]])
    y, X, Z, g = lmm_data(groups=6000, seed=7, beta=beta, G=G, sigma=0.45, max_n=10)
    fit = fit_lmm(y, X, Z, g)
    se = np.sqrt(np.diag(fit.cov_beta))
    assert np.all(np.abs(fit.beta - beta) < 4 * se)
    np.testing.assert_allclose(fit.cov_re, G, atol=0.03)
    assert np.sqrt(fit.sigma2) == pytest.approx(0.45, rel=0.02)


def test_blups_track_the_true_random_effects():
    rng = np.random.default_rng(2)
    groups, n = 800, 8
    g = np.repeat(np.arange(groups), n)
    t = np.tile(np.linspace(0, 2, n), groups)
    b = rng.multivariate_normal([0, 0], [[0.5, 0], [0, 0.2]], groups)
    y = 1 + t + b[g, 0] + b[g, 1] * t + rng.normal(0, 0.3, g.size)
    X = np.column_stack([np.ones_like(t), t])
    fit = fit_lmm(y, X, X, g)
    assert np.corrcoef(fit.blups[:, 0], b[:, 0])[0, 1] > 0.9
    assert np.corrcoef(fit.blups[:, 1], b[:, 1])[0, 1] > 0.8


def test_unsorted_rows_give_the_same_fit_and_fits_are_deterministic():
    y, X, Z, g = lmm_data(groups=200, seed=4)
    a = fit_lmm(y, X, Z, g)
    perm = np.random.default_rng(0).permutation(y.size)
    b = fit_lmm(y[perm], X[perm], Z[perm], g[perm])
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-8)
    np.testing.assert_allclose(a.cov_re, b.cov_re, rtol=1e-6, atol=1e-10)
    c = fit_lmm(y, X, Z, g)
    assert a.beta.tobytes() == c.beta.tobytes() and a.cov_re.tobytes() == c.cov_re.tobytes()


def test_boundary_fit_is_reported():
    # no group effects at all: the random-effects covariance sits on the boundary (singular)
    rng = np.random.default_rng(8)
    groups = 300
    g = np.repeat(np.arange(groups), 6)
    t = np.tile(np.linspace(0, 2, 6), groups)
    y = 2 + 0.3 * t + rng.normal(0, 0.4, g.size)
    X = np.column_stack([np.ones_like(t), t])
    fit = fit_lmm(y, X, X, g)
    assert fit.converged
    assert np.linalg.eigvalsh(fit.cov_re).min() < 1e-6
    assert fit.boundary and ("zero" in fit.boundary[0] or "linear function" in fit.boundary[0])
    ref = sm_fit(y, X, X, g, True)
    assert fit.loglik >= ref.llf - 1e-6


def test_single_reading_groups_enter_the_likelihood():
    y, X, Z, g = lmm_data(groups=300, seed=12, max_n=3)  # many groups with one reading
    counts = np.bincount(g)
    assert (counts == 1).sum() > 50
    fit = fit_lmm(y, X, Z, g)
    ref = sm_fit(y, X, Z, g, True)
    np.testing.assert_allclose(fit.beta, ref.fe_params, rtol=1e-4)
    assert fit.loglik == pytest.approx(ref.llf, abs=1e-3)


def test_frame_based_helper_matches_arrays():
    y, X, Z, g = lmm_data(groups=100, seed=1)
    fit = fit_lmm(None, None, None, stats=stats_of(y, X, Z, g))
    fit2 = fit_lmm(y, X, Z, pd.Series(g).astype(str).to_numpy())
    np.testing.assert_allclose(fit.beta, fit2.beta, rtol=1e-8)


def test_wide_designs_use_the_sparse_path_with_the_same_statistics_and_fit():
    y, X, Z, g = lmm_data(groups=300, seed=6)
    rng = np.random.default_rng(6)
    level = rng.integers(0, 8, 300)[g]  # an episode-level factor with 8 levels
    Xw = np.column_stack([X] + [(level == k).astype(float) for k in range(1, 8)])
    st = stats_of(y, Xw, Z, g)
    for i in (0, 150, 299):
        m = g == i
        np.testing.assert_allclose(st.ztz[:, :, i], Z[m].T @ Z[m], atol=1e-12)
        np.testing.assert_allclose(st.ztx[:, :, i], Z[m].T @ Xw[m], atol=1e-12)
        np.testing.assert_allclose(st.zty[:, i], Z[m].T @ y[m], atol=1e-12)
    fit = fit_lmm(y, Xw, Z, g)
    ref = sm_fit(y, Xw, Z, g, True)
    np.testing.assert_allclose(fit.beta, ref.fe_params, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fit.cov_re, ref.cov_re, atol=1e-3)
    assert fit.loglik >= ref.llf - 1e-6


# ------------------------------------------------- variance-parameter inference
def psi_cov(vi):
    """Delta-method covariance of the lower triangle of Psi = cov_re / sigma^2 (statsmodels' parameters)."""
    q = vi.kind.count("sd")
    s, r, sigma = vi.estimate[:q], vi.estimate[q:-1], vi.estimate[-1]
    R = np.eye(q)
    R[np.triu_indices(q, 1)] = r
    R = np.triu(R) + np.triu(R, 1).T
    psi = R * np.outer(s, s) / sigma**2
    rows = []
    for j, k in zip(*np.tril_indices(q)):
        d = np.zeros(vi.estimate.size)
        d[j] += psi[j, k]
        d[k] += psi[j, k]  # d Psi_jk / d log sd_l
        if j != k:
            c = q + vi.index[q:-1].index((k, j))
            d[c] = s[j] * s[k] * (1 - R[j, k] ** 2) / sigma**2  # d / d atanh corr
        d[-1] = -2 * psi[j, k]  # d / d log sigma
        rows.append(d)
    J = np.array(rows)
    return J @ vi.cov_phi @ J.T


@pytest.mark.parametrize("reml", [True, False])
def test_variance_information_is_the_second_derivative_of_the_deviance(reml):
    # independent of the analytic gradient: plain second differences of the deviance in phi
    y, X, Z, g = lmm_data(groups=200, seed=2)
    fit = fit_lmm(y, X, Z, g, reml=reml)
    vi = variance_inference(fit)
    assert vi.reml is reml and vi.free.all() and not vi.messages

    def dev(ph):
        s, r, v = np.exp(ph[:2]), np.tanh(ph[2]), np.exp(2 * ph[3])
        D = np.array([[s[0] ** 2, r * s[0] * s[1]], [r * s[0] * s[1], s[1] ** 2]])
        return deviance_at(D, v, fit.stats, reml)

    h, m = 1e-3, 4
    H = np.empty((m, m))
    E = np.eye(m) * h
    for i in range(m):
        for j in range(m):
            H[i, j] = (dev(vi.phi + E[i] + E[j]) - dev(vi.phi + E[i] - E[j]) - dev(vi.phi - E[i] + E[j])
                       + dev(vi.phi - E[i] - E[j])) / (4 * h * h)
    np.testing.assert_allclose(vi.information, H / 2, rtol=1e-4, atol=1e-4 * np.abs(H).max())
    # the deviance at the fitted sigma^2 is the profiled one: the estimates are a stationary point
    grad = [(dev(vi.phi + E[i]) - dev(vi.phi - E[i])) / (2 * h) for i in range(m)]
    assert np.max(np.abs(grad)) < 1e-3


def test_variance_standard_errors_match_the_spread_over_replicates():
    # 500 replicates of 300 groups (1..8 readings, irregular times) with known variance components
    G = np.array([[0.5, 0.05], [0.05, 0.1]])
    truth = np.array([np.sqrt(0.5), np.sqrt(0.1), 0.05 / np.sqrt(0.05), 0.4])
    est, se, cover = [], [], []
    for r in range(500):
        y, X, Z, g = lmm_data(groups=300, seed=1000 + r, G=G, sigma=0.4)
        vi = variance_inference(fit_lmm(y, X, Z, g))
        lo, hi = vi.conf_int(0.05)
        est.append(vi.estimate)
        se.append(vi.std_error)
        cover.append((lo < truth) & (truth < hi))
    est, se, cover = np.array(est), np.array(se), np.array(cover)
    assert np.isfinite(se).all()
    ratio = np.sqrt((se**2).mean(0)) / est.std(0, ddof=1)  # model-based SE / empirical SD
    assert np.all(np.abs(ratio - 1) < 0.15), ratio
    # Wald 95% coverage; the binomial SD with 500 replicates is 1 point
    assert np.all((cover.mean(0) > 0.90) & (cover.mean(0) < 0.985)), cover.mean(0)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("q", [1, 2])
def test_variance_information_agrees_with_statsmodels(reml, q):
    # statsmodels' analytic Hessian is in Psi = cov_re / scale with the scale profiled out: its
    # inverse is the Psi block of our joint covariance, mapped from (log sd, atanh corr, log sigma)
    G = [[0.5]] if q == 1 else [[0.5, -0.05], [-0.05, 0.1]]
    y, X, Z, g = lmm_data(groups=500, seed=3, G=G)
    vi = variance_inference(fit_lmm(y, X, Z, g, reml=reml))
    ref = sm_fit(y, X, Z, g, reml)
    hess, _ = ref.model.hessian(ref.params_object)
    p = X.shape[1]
    sm_cov_psi = np.linalg.inv(-hess)[p:, p:]
    np.testing.assert_allclose(np.sqrt(np.diag(psi_cov(vi))), np.sqrt(np.diag(sm_cov_psi)), rtol=1e-3)
    np.testing.assert_allclose(psi_cov(vi), sm_cov_psi, rtol=5e-3, atol=1e-4 * np.abs(sm_cov_psi).max())


def _nlme_available() -> bool:
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "library(nlme)"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _nlme_available(), reason="R with nlme is not installed (nlme's intervals() is the reference: "
                    "lme4's confint(method='Wald') gives no intervals for variance parameters)")
@pytest.mark.parametrize("reml", [True, False])
def test_variance_intervals_agree_with_nlme(reml, tmp_path):
    # nlme's intervals() uses the same scale (log SDs, a multiple of atanh for the correlation, log
    # sigma), with a finite-difference Hessian: agreement to well under 1% of the interval width
    import subprocess

    y, X, Z, g = lmm_data(groups=400, seed=3)
    path = tmp_path / "d.csv"
    pd.DataFrame({"y": y, "t": X[:, 1], "x": X[:, 2], "g": g}).to_csv(path, index=False)
    script = f"""suppressMessages(library(nlme)); d <- read.csv("{path}")
fit <- lme(y ~ t + x, random = ~ t | g, data = d, method = "{'REML' if reml else 'ML'}",
           control = lmeControl(tolerance = 1e-10, msTol = 1e-10))
iv <- intervals(fit, which = "var-cov")
write.csv(rbind(as.matrix(iv$reStruct$g), iv$sigma), stdout(), row.names = FALSE)"""
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    ref = pd.read_csv(__import__("io").StringIO(out.stdout)).to_numpy()  # lower, est., upper
    vi = variance_inference(fit_lmm(y, X, Z, g, reml=reml))
    lo, hi = vi.conf_int(0.05)
    np.testing.assert_allclose(vi.estimate, ref[:, 1], rtol=1e-3)
    width = ref[:, 2] - ref[:, 0]
    assert np.all(np.abs(lo - ref[:, 0]) < 0.01 * width) and np.all(np.abs(hi - ref[:, 2]) < 0.01 * width)


def test_variance_at_zero_gets_no_wald_se_and_a_note():
    # no group effect at all: the random-intercept SD is estimated as exactly zero
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(300), 6)
    t = np.tile(np.linspace(0, 2, 6), 300)
    y = 2 + 0.3 * t + rng.normal(0, 0.4, g.size)
    X = np.column_stack([np.ones_like(t), t])
    fit = fit_lmm(y, X, X[:, :1], g)
    assert fit.cov_re[0, 0] == 0 and fit.boundary
    vi = variance_inference(fit)
    assert np.isnan(vi.std_error[0]) and all(np.isnan(b[0]) for b in vi.conf_int())
    assert "zero" in vi.notes[0] and vi.messages
    # the residual SD still has its (conditional on the boundary) SE: that of a linear model's sigma
    assert vi.std_error[-1] == pytest.approx(0.4 / np.sqrt(2 * (g.size - 2)), rel=0.05)


def test_slope_variance_at_zero_is_reported_not_a_crash():
    # true slope variance 0: the fit parks on the boundary (a rank-1 covariance, corr at +-1)
    y, X, Z, g = lmm_data(groups=300, seed=0, G=[[0.5, 0.0], [0.0, 0.0]], sigma=0.4)
    fit = fit_lmm(y, X, Z, g)
    assert fit.boundary
    vi = variance_inference(fit)
    lo, hi = vi.conf_int()
    assert vi.kind == ["sd", "sd", "corr", "sigma"]
    assert np.isnan(vi.std_error[2]) and np.isnan(lo[2]) and "boundary" in vi.notes[2]
    assert vi.messages and "boundary" in vi.messages[0]
    # the intercept SD and residual SD keep sensible intervals around their truth
    assert lo[0] < np.sqrt(0.5) < hi[0] and lo[3] < 0.4 < hi[3]
    assert 0 < vi.std_error[0] < 0.1 and 0 < vi.std_error[3] < 0.02
    # the slope SD is tiny: its interval is flagged as unreliable (or it has none)
    assert vi.estimate[1] < 0.05 and vi.notes[1]
