"""Tests of the multi-state Markov model (lg.fit_transitions) and its results object."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

import longitudinal as lg
from longitudinal import msm
from longitudinal.transitions import default_allowed, simulate_panel

Q5 = np.array([[-0.6, 0.6, 0, 0, 0], [0.2, -0.8, 0.6, 0, 0], [0, 0.2, -0.7, 0.5, 0],
               [0, 0, 0.2, -0.6, 0.4], [0, 0, 0, 0.3, -0.3]])


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(Q5, n=4000, horizon=2.0, seed=11)


@pytest.fixture(scope="module")
def fit(panel):
    return lg.fit_transitions(panel, id="id", time="time", score="state")


@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=1200, seed=5)


# The toy tables below have too few moves to identify every intensity (the maximum sits on the
# boundary, q -> 0): those warnings are expected and are what a user would see.
def toy(f):
    f = pytest.mark.filterwarnings("ignore:the observed information is singular")(f)
    return pytest.mark.filterwarnings("ignore:the fit did not converge")(f)


def _fit(df, **kw):
    return lg.fit_transitions(df, id="id", time="time", score="state", **kw)


# ------------------------------------------------------------------ truth recovery
def test_recovers_known_intensities(fit):
    assert fit.converged
    est = fit.intensities
    truth = np.array([Q5[a - 1, b - 1] for a, b in zip(est["from"], est["to"])])
    # Every true intensity inside its 99.9% interval and within 12% of it.
    z = (np.log(est["estimate"]) - np.log(truth)) / (est["std_error"] / est["estimate"])
    assert np.all(np.abs(z) < 3.3), est.assign(truth=truth, z=z)
    assert np.all(np.abs(est["estimate"] / truth - 1) < 0.12)
    # Zero where not allowed; rows sum to zero.
    assert (fit.Q.to_numpy()[Q5 == 0] == 0).all()
    np.testing.assert_allclose(fit.Q.sum(axis=1), 0, atol=1e-12)
    lo, q, hi = (m.to_numpy()[Q5 > 0] for m in (fit.Q_lower, fit.Q, fit.Q_upper))
    assert (lo < q).all() and (q < hi).all()
    np.testing.assert_allclose(fit.Q_lower.to_numpy()[Q5 > 0], est.sort_values(["from", "to"])["ci_lower"])


def test_recovers_covariate_effects_and_absorbing_state():
    K = 4
    Q = np.array([[-0.9, 0.6, 0, 0.3], [0.3, -1.0, 0.5, 0.2], [0, 0.4, -0.5, 0.1], [0, 0, 0, 0]])
    rng = np.random.default_rng(3)
    n = 15000  # large enough to expose a bias of a few percent in the exit intensities
    cov = pd.DataFrame({"x": rng.integers(0, 2, n).astype(float)})
    B = np.zeros((K, K))
    B[0, 1], B[1, 2], B[2, 1] = 0.5, -0.4, 0.3
    d = simulate_panel(Q, n=n, covariates=cov, effects={"x": B}, states=[1, 2, 3, "gone"], seed=4)
    f = _fit(d, states=[1, 2, 3, "gone"], absorbing="gone", covariates=["x"])
    assert f.converged
    hr = f.hazard_ratios.set_index(["from", "to"])
    for (a, b), beta in {(1, 2): 0.5, (2, 3): -0.4, (3, 2): 0.3, (1, "gone"): 0.0}.items():
        row = hr.loc[(a, b)]
        assert abs(row["estimate"] - beta) < 3.3 * row["std_error"], (a, b, row)
        assert row["ci_lower"] < np.exp(beta) < row["ci_upper"] or abs(row["estimate"] - beta) < 3.3 * row["std_error"]
    est = f.intensities
    idx = {1: 0, 2: 1, 3: 2, "gone": 3}
    truth = np.array([Q[idx[a], idx[b]] for a, b in zip(est["from"], est["to"])])
    z = (est["estimate"] - truth) / est["std_error"]
    assert np.all(np.abs(z) < 3.5), est.assign(truth=truth)


def test_non_exact_absorbing_state_fits():
    Q = np.array([[-0.8, 0.5, 0.3], [0.4, -0.6, 0.2], [0, 0, 0]])
    d = simulate_panel(Q, n=3000, exact_absorbing=False, seed=8)
    f = _fit(d, states=[1, 2, 3], absorbing=3, exact_absorbing=False,
             allowed=[[0, 1, 1], [1, 0, 1], [0, 0, 0]])
    est = f.intensities
    truth = np.array([Q[a - 1, b - 1] for a, b in zip(est["from"], est["to"])])
    assert np.all(np.abs(est["estimate"] - truth) < 3.5 * est["std_error"])


# ------------------------------------------------------------------ numerics
def _small_panel(seed=1, n=600):
    K = 5
    frm = np.array([0, 1, 1, 2, 2, 3, 0, 1, 2, 3])
    to = np.array([1, 0, 2, 1, 3, 2, 4, 4, 4, 4])
    rng = np.random.default_rng(seed)
    theta = np.log(rng.uniform(0.2, 1.0, len(frm)))
    X = np.array([[0.0], [1.0]])
    beta = rng.normal(0, 0.3, (1, len(frm)))
    pat = rng.integers(0, 2, n)
    Qs = msm.generator(theta[None] + X[pat] @ beta, frm, to, K)
    obs = np.c_[np.zeros(n), np.cumsum(rng.integers(60, 180, (n, 8)), 1) / 365.25]
    i, t, s = msm.simulate_ctmc(Qs, rng.integers(0, 4, n), obs, rng)
    same = i[1:] == i[:-1]
    r, s2 = s[:-1][same], s[1:][same]
    dt = (t[1:] - t[:-1])[same]
    data = msm.build_panel(K, pat[i[:-1][same]], X, dt, r, s2, s2 == 4)
    return data, frm, to, np.r_[theta, beta.ravel()]


@pytest.mark.parametrize("method", ["eigen", "pade"])
def test_analytic_gradient_matches_numerical(method):
    data, frm, to, x = _small_panel(n=600 if method == "eigen" else 30)
    ll, g = msm.loglik_grad(x, data, frm, to, method=method)
    h = 1e-6
    num = np.array([(msm.loglik_grad(x + h * e, data, frm, to, grad=False, method=method)
                     - msm.loglik_grad(x - h * e, data, frm, to, grad=False, method=method)) / (2 * h)
                    for e in np.eye(len(x))])
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-4 * np.abs(g).max())


def test_eigen_and_pade_agree():
    data, frm, to, x = _small_panel(seed=2, n=100)
    a = msm.loglik_grad(x, data, frm, to, method="eigen")
    b = msm.loglik_grad(x, data, frm, to, method="pade")
    assert a[0] == pytest.approx(b[0], rel=1e-10)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-7, atol=1e-8)


def test_repeated_eigenvalues_fall_back_to_pade():
    # A forward-only chain with equal rates is defective: the eigendecomposition fails.
    K = 3
    frm, to = np.array([0, 1]), np.array([1, 2])
    data = msm.build_panel(K, np.zeros(4, int), np.zeros((1, 0)), np.array([0.5, 1.0, 1.0, 2.0]),
                           np.array([0, 0, 1, 0]), np.array([1, 2, 2, 0]))
    x = np.log([0.7, 0.7])
    ll, g = msm.loglik_grad(x, data, frm, to)
    Q = msm.generator(x, frm, to, K)
    P = [scipy.linalg.expm(t * Q) for t in (0.5, 1.0, 1.0, 2.0)]
    expect = np.log(P[0][0, 1]) + np.log(P[1][0, 2]) + np.log(P[2][1, 2]) + np.log(P[3][0, 0])
    assert ll == pytest.approx(expect, rel=1e-10)
    gp = msm.loglik_grad(x, data, frm, to, method="pade")[1]
    np.testing.assert_allclose(g, gp, rtol=1e-8)


def test_standard_errors_from_observed_information_match_numerical_hessian():
    d = simulate_panel(Q5[:3, :3] - np.diag(Q5[:3, :3].sum(axis=1)), n=500, seed=9)
    f = _fit(d, states=[1, 2, 3])
    x = f.params_.to_numpy()
    # Panel data rebuilt exactly as the fit does (one pattern, dt rounded to the day).
    r = d.groupby("id")
    rows = [(a, b, round((t2 - t1) * 365.25) / 365.25)
            for _, g in r for (a, t1), (b, t2) in zip(g[["state", "time"]].values[:-1],
                                                       g[["state", "time"]].values[1:])]
    a, b, dt = map(np.array, zip(*rows))
    data = msm.build_panel(3, np.zeros(len(a), int), np.zeros((1, 0)), dt, a - 1, b - 1)
    frm, to = np.nonzero(default_allowed([1, 2, 3]).to_numpy())
    assert msm.loglik_grad(x, data, frm, to, grad=False) == pytest.approx(f.loglik, rel=1e-12)
    # Second differences of the log-likelihood itself (no analytic gradient involved).
    n, h = len(x), 1e-3
    ll = lambda v: msm.loglik_grad(v, data, frm, to, grad=False)  # noqa: E731
    H = np.empty((n, n))
    E = np.eye(n) * h
    for i in range(n):
        for j in range(n):
            H[i, j] = (ll(x + E[i] + E[j]) - ll(x + E[i] - E[j]) - ll(x - E[i] + E[j])
                       + ll(x - E[i] - E[j])) / (4 * h * h)
    np.testing.assert_allclose(np.linalg.inv(-H), f.cov_params_.to_numpy(), rtol=2e-3)


# ------------------------------------------------------------------ derived quantities
def test_P_sojourn_and_first_passage(fit):
    Q = fit.Q.to_numpy()
    np.testing.assert_allclose(fit.P(1.5).to_numpy(), scipy.linalg.expm(1.5 * Q), atol=1e-12)
    np.testing.assert_allclose(fit.P(2.0).sum(axis=1), 1, atol=1e-12)
    soj = fit.sojourn()
    np.testing.assert_allclose(soj["mean_years"], -1 / np.diag(Q))
    assert (soj["ci_lower"] < soj["mean_years"]).all() and (soj["mean_years"] < soj["ci_upper"]).all()
    # Expected hitting times solve the first-step equations m_i = 1/q_i + sum_j q_ij/q_i m_j.
    fp = fit.first_passage(5)
    m = fp["mean_years"].to_numpy()
    for i in range(4):
        qi = -Q[i, i]
        assert m[i] == pytest.approx(1 / qi + sum(Q[i, j] / qi * m[j] for j in range(5) if j != i))
    assert m[4] == 0 and (np.diff(m[:4]) < 0).all()
    f4 = fit.first_passage("4+")
    assert (f4["mean_years"].to_numpy()[:3] < m[:3]).all() and (f4.loc[[4, 5], "mean_years"] == 0).all()
    np.testing.assert_allclose(fp["prob_reach"], 1, atol=1e-9)


def test_first_passage_matches_simulated_hitting_times():
    Q = np.array([[-0.6, 0.6, 0], [0.3, -0.8, 0.5], [0, 0.4, -0.4]])
    d = simulate_panel(Q, n=300, seed=2)
    f = _fit(d, states=[1, 2, 3])
    Qh = f.Q.to_numpy().copy()
    Qh[2] = 0  # make the target absorbing: its entry time is the hitting time
    rng = np.random.default_rng(0)
    n = 20000
    obs = np.tile([0.0, 200.0], (n, 1))
    i, t, s = msm.simulate_ctmc(np.repeat(Qh[None], n, 0), np.zeros(n, int), obs, rng)
    hit = t[s == 2]
    assert len(hit) == n
    se = hit.std() / np.sqrt(n)
    assert abs(hit.mean() - f.first_passage(3).loc[1, "mean_years"]) < 4 * se


def test_first_passage_with_absorbing_state():
    Q = np.array([[-0.9, 0.6, 0.3], [0.3, -0.5, 0.2], [0, 0, 0]])
    d = simulate_panel(Q, n=800, seed=6)
    f = _fit(d, states=[1, 2, 3], absorbing=3, allowed=[[0, 1, 1], [1, 0, 1], [0, 0, 0]])
    fp = f.first_passage(2)
    q = f.Q.to_numpy()
    assert fp.loc[1, "prob_reach"] == pytest.approx(q[0, 1] / (q[0, 1] + q[0, 2]))
    assert np.isinf(fp.loc[1, "mean_years"]) and 3 not in fp.index
    cont = f.first_passage(2, exclude_absorbing=True)
    assert cont.loc[1, "mean_years"] == pytest.approx(1 / q[0, 1])


def test_transition_probability_table_and_ci(fit):
    tp = fit.transition_probabilities([0.0, 1.0], ci=True, n_sim=100, seed=3)
    assert len(tp) == 2 * 25
    assert ((tp["ci_lower"] <= tp["probability"] + 1e-12) & (tp["probability"] <= tp["ci_upper"] + 1e-12)).all()
    again = fit.transition_probabilities([0.0, 1.0], ci=True, n_sim=100, seed=3)
    pd.testing.assert_frame_equal(tp, again)
    one = tp[(tp["time"] == 1.0) & (tp["from"] == 2) & (tp["to"] == 3)]["probability"].iloc[0]
    assert one == pytest.approx(fit.P(1.0).loc[2, 3])


def test_prevalence_observed_vs_expected(fit):
    pv = fit.prevalence([0.0, 0.5, 1.0, 1.5])
    at0 = pv[pv["time"] == 0]
    np.testing.assert_allclose(at0["observed"], at0["expected"])
    # Data from the model itself: expected tracks observed within a few points.
    assert (pv["observed_pct"] - pv["expected_pct"]).abs().max() < 4
    np.testing.assert_allclose(pv.groupby("time")["expected"].sum(),
                               pv.groupby("time")["n_at_risk"].first())


def test_summary_and_plots(fit):
    text = fit.summary()
    for s in ["Log-likelihood", "AIC", "Converged", "Mean sojourn", "stage 5", "stage 4 or 5"]:
        assert s in text
    axes = fit.plot(times=np.linspace(0, 2, 5), ci=True, n_sim=50)
    assert isinstance(axes, np.ndarray) and all(isinstance(a, matplotlib.axes.Axes) for a in axes.flat)
    lines = [ln for ax in axes.flat for ln in ax.get_lines()]
    assert len(lines) == 25 and all(len(ln.get_xdata()) == 5 for ln in lines)
    axes2 = fit.plot_prevalence([0, 1])
    assert isinstance(axes2.flat[0], matplotlib.axes.Axes)
    assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * 8)
    with pytest.warns(DeprecationWarning, match="use .aic"):
        assert fit.AIC == fit.aic
    assert "TransitionsResults" in repr(fit)


def test_deterministic(panel):
    a = _fit(panel.iloc[:3000])
    b = _fit(panel.iloc[:3000])
    assert a.params_.to_numpy().tobytes() == b.params_.to_numpy().tobytes()
    pd.testing.assert_frame_equal(simulate_panel(Q5, n=50, seed=1), simulate_panel(Q5, n=50, seed=1))


# ------------------------------------------------------------------ Study input
def test_fit_on_study_with_covariates_and_left_support(study):
    f = lg.fit_transitions(study, "managing_money", covariates=["service_type"])
    assert f.converged and f.outcome == "managing_money"
    assert list(f.Q.index) == [1, 2, 3, 4, 5]
    hr = f.hazard_ratios
    assert set(hr["covariate"]) == {"service_type[long_term]"} and len(hr) == 8
    n_eps = study.long("managing_money", include_follow_up=False).groupby("episode_id", observed=True).ngroups
    r = f.data_report_
    assert r["episodes"] + r["episodes_single_reading_dropped"] == n_eps
    g = lg.fit_transitions(study, "managing_money", absorbing="left_support")
    assert g.states_[-1] == "left_support" and g.data_report_["exact_absorbing_entries"] > 0
    assert (g.Q.loc["left_support"] == 0).all()
    assert "had support continued" in g.summary()


def test_study_needs_outcome(study):
    with pytest.raises(ValueError, match="outcome"):
        lg.fit_transitions(study)


# ------------------------------------------------------------------ bad input
def _toy():
    return pd.DataFrame({"id": ["a", "a", "a", "b", "b", "c"],
                         "time": [0.0, 0.5, 1.0, 0.0, 0.4, 0.0],
                         "state": [1, 2, 2, 3, 4, 2]})


@toy
def test_single_reading_episodes_are_dropped_and_reported():
    f = _fit(_toy(), states=[1, 2, 3, 4])
    assert f.data_report_["episodes_single_reading_dropped"] == 1
    assert f.data_report_["episodes"] == 2 and f.nobs == 3
    assert "1 single-reading episodes" in f.summary()


def test_state_outside_scale():
    d = _toy()
    d.loc[4, "state"] = 7
    with pytest.raises(ValueError, match=r"outside the states.*7.*episodes: b"):
        _fit(d)


def test_non_finite_time():
    d = _toy()
    d.loc[1, "time"] = np.inf
    with pytest.raises(ValueError, match=r"non-finite 'time'.*episodes: a"):
        _fit(d)


@toy
def test_duplicate_times():
    d = pd.concat([_toy(), pd.DataFrame({"id": ["b"], "time": [0.4], "state": [3]})], ignore_index=True)
    with pytest.raises(ValueError, match=r"same 'time'.*b"):
        _fit(d)
    f = _fit(d, duplicate_times="drop", states=[1, 2, 3, 4])
    assert f.data_report_["episodes_with_duplicate_times_dropped"] == 1 and f.nobs == 2


@toy
def test_unsorted_rows_are_sorted_and_reported():
    d = _toy()
    f1 = _fit(d, states=[1, 2, 3, 4])
    f2 = _fit(d.iloc[::-1], states=[1, 2, 3, 4])
    assert f2.data_report_["episodes_reordered_by_time"] == 2
    np.testing.assert_allclose(f1.params_, f2.params_)


def test_forbidden_transition_names_episodes():
    d = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3], "time": [0, 1, 0, 1, 0, 1.0],
                      "state": [3, 2, 1, 2, 4, 1]})
    forward = np.triu(np.ones((5, 5)), 1) * (np.abs(np.subtract.outer(range(5), range(5))) == 1)
    with pytest.raises(ValueError, match=r"3 -> 2 in 1 interval\(s\), episodes 1[\s\S]*4 -> 1 .*episodes 3"):
        _fit(d, allowed=forward)


def test_readings_after_absorbing_state():
    d = pd.DataFrame({"id": [1, 1, 1], "time": [0, 1, 2.0], "state": [1, "out", 2]})
    with pytest.raises(ValueError, match="after entering an absorbing state"):
        _fit(d, states=[1, 2, "out"], absorbing="out")


def test_bad_allowed_matrices():
    with pytest.raises(ValueError, match="5 x 5"):
        _fit(_toy(), allowed=np.ones((3, 3)))
    A = default_allowed([1, 2, 3, 4, 5, "out"], ["out"])
    A.loc["out", 1] = True
    with pytest.raises(ValueError, match="absorbing state 'out' has allowed transitions"):
        _fit(_toy(), states=[1, 2, 3, 4, 5, "out"], absorbing="out", allowed=A)


def test_missing_covariate_and_columns():
    d = _toy().assign(g=["x", "x", "x", None, "y", "y"])
    with pytest.raises(ValueError, match=r"covariate 'g' is missing in 1 reading"):
        _fit(d, covariates=["g"])
    with pytest.raises(KeyError, match="nope"):
        _fit(_toy(), covariates=["nope"])
    with pytest.raises(TypeError, match="Study or a pandas DataFrame"):
        lg.fit_transitions([1, 2, 3])


@toy
def test_blank_states_dropped_and_counted():
    d = _toy().astype({"state": "Int64"})
    d.loc[1, "state"] = pd.NA
    f = _fit(d, states=[1, 2, 3, 4])
    assert f.data_report_["rows_blank_state_dropped"] == 1 and f.nobs == 2


def test_simulator_matches_transition_probabilities_and_ends_follow_up():
    Q = np.array([[-0.9, 0.6, 0.3], [0.3, -0.5, 0.2], [0, 0, 0]])
    n = 40000
    rng = np.random.default_rng(12)
    short = np.arange(n) % 2 == 0
    obs = np.where(short[:, None], [[0.0, 0.5]], [[0.0, 1.0]])
    i, t, s = msm.simulate_ctmc(np.repeat(Q[None], n, 0), np.zeros(n, int), obs, rng)
    ends = np.r_[i[1:] != i[:-1], True]
    # Follow-up stops at each subject's own last reading, absorbed or not.
    assert t[ends & short[i]].max() <= 0.5 and t[ends & ~short[i]].max() <= 1.0
    for mask, tt in [(short, 0.5), (~short, 1.0)]:
        last = s[ends & mask[i]]
        emp = np.bincount(last, minlength=3) / mask.sum()
        P = scipy.linalg.expm(tt * Q)[0]
        np.testing.assert_array_less(np.abs(emp - P), 4 * np.sqrt(P * (1 - P) / mask.sum()) + 1e-12)


def test_cli_transitions(tmp_path, study):
    from typer.testing import CliRunner

    from longitudinal.cli import app

    study.write(tmp_path / "s")
    run = CliRunner().invoke(app, ["transitions", str(tmp_path / "s"), "--outcome", "managing_money",
                                   "--table", "intensities", "--out", str(tmp_path / "q.csv"),
                                   "--plot", str(tmp_path / "p.png")])
    assert run.exit_code == 0, run.output
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"  # plot() returns Axes: the CLI saves their figure
    q = pd.read_csv(tmp_path / "q.csv")
    assert list(q.columns) == ["from", "to", "estimate", "std_error", "ci_lower", "ci_upper"] and len(q) == 8
    bad = CliRunner().invoke(app, ["transitions", str(tmp_path / "s"), "--outcome", "managing_money",
                                   "--table", "nope"])
    assert bad.exit_code == 2


def test_zero_length_intervals():
    d = pd.DataFrame({"id": [1, 1, 2, 2], "time": [0, 0.001, 0, 1.0], "state": [1, 2, 1, 3]})
    with pytest.raises(ValueError, match=r"round to zero.*episodes: 1"):
        _fit(d, states=[1, 2, 3], time_resolution=1 / 365.25)  # rounding to days, as asked
    e = pd.DataFrame({"id": [1, 1, 1], "time": [0, 1.0, 1.0], "state": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"zero length.*episodes: 1"):
        _fit(e, states=[1, 2, 3], absorbing=3, exact_absorbing=False, time_resolution=None)


def test_likelihood_ratio_test_detects_a_real_effect():
    Q = np.array([[-0.8, 0.8, 0], [0.3, -0.7, 0.4], [0, 0.5, -0.5]])
    rng = np.random.default_rng(1)
    cov = pd.DataFrame({"x": rng.integers(0, 2, 1500).astype(float), "noise": rng.normal(size=1500)})
    B = np.zeros((3, 3))
    B[0, 1] = B[1, 2] = 0.5
    d = simulate_panel(Q, n=1500, covariates=cov, effects={"x": B}, seed=2)
    base = _fit(d, states=[1, 2, 3])
    real = _fit(d, states=[1, 2, 3], covariates=["x"]).lrtest(base)
    null = _fit(d, states=[1, 2, 3], covariates=["noise"]).lrtest(base)
    assert real["df"] == null["df"] == 4
    assert real["p_value"] < 1e-4 and null["p_value"] > 0.001
    with pytest.raises(ValueError, match="fewer parameters"):
        base.lrtest(base)


def test_transition_specific_covariates():
    Q = np.array([[-0.8, 0.8, 0], [0.3, -0.7, 0.4], [0, 0.5, -0.5]])
    rng = np.random.default_rng(4)
    cov = pd.DataFrame({"x": rng.integers(0, 2, 2000).astype(float)})
    B = np.zeros((3, 3))
    B[0, 1] = 0.6
    d = simulate_panel(Q, n=2000, covariates=cov, effects={"x": B}, seed=5)
    f = _fit(d, states=[1, 2, 3], covariates={"x": [(1, 2)]})
    assert f.n_params_ == 5 and len(f.params_) == 5 and f.cov_params_.shape == (5, 5)
    hr = f.hazard_ratios
    assert len(hr) == 1 and (hr["from"].iloc[0], hr["to"].iloc[0]) == (1, 2)
    assert abs(hr["estimate"].iloc[0] - 0.6) < 3.3 * hr["std_error"].iloc[0]
    full = _fit(d, states=[1, 2, 3], covariates=["x"])
    assert full.lrtest(f)["df"] == 3 and full.loglik >= f.loglik
    # The restricted model's other intensities do not depend on x.
    np.testing.assert_allclose(f.qmatrix({"x": 1.0})["estimate"].loc[2, 3], f.Q.loc[2, 3])
    with pytest.raises(ValueError, match=r"not allowed"):
        _fit(d, states=[1, 2, 3], covariates={"x": [(1, 3)]})


def test_a_state_without_exits_warns_unless_declared_absorbing():
    from longitudinal.errors import LongitudinalWarning

    Q = np.array([[-0.8, 0.5, 0.3], [0.4, -0.6, 0.2], [0, 0, 0]])
    d = simulate_panel(Q, n=400, seed=8)
    with pytest.warns(LongitudinalWarning, match=r"state\(s\) \[3\] have no allowed exits.*absorbing=3"):
        lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2, 3], allowed=Q > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LongitudinalWarning)
        lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2, 3], allowed=Q > 0, absorbing=3)


def test_a_tables_times_are_not_rounded_unless_asked():
    d = simulate_panel([[-0.5, 0.5], [0.3, -0.3]], n=300, seed=3)
    d["time"] = d["time"] + np.where(d["time"] > 0, 0.0004, 0.0)  # off the day grid by a fraction of a day
    exact = lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2])
    assert exact.time_resolution is None
    again = lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2], time_resolution=None)
    assert exact.loglik == again.loglik
    rounded = lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2], time_resolution=1 / 365.25)
    assert rounded.loglik != exact.loglik


def test_q_diagonal_has_intervals_consistent_with_the_sojourn_times(fit):
    q = fit.qmatrix()
    soj = fit.sojourn()
    for s in soj.index:
        est = q["estimate"].loc[s, s]
        assert est == pytest.approx(-1 / soj.loc[s, "mean_years"])
        assert q["std_error"].loc[s, s] == pytest.approx(soj.loc[s, "std_error"] / soj.loc[s, "mean_years"] ** 2)
        assert q["ci_lower"].loc[s, s] == pytest.approx(-1 / soj.loc[s, "ci_lower"])
        assert q["ci_upper"].loc[s, s] == pytest.approx(-1 / soj.loc[s, "ci_upper"])
        assert q["ci_lower"].loc[s, s] < est < q["ci_upper"].loc[s, s] < 0
