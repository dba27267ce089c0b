"""Latent trajectory groups: recovery of known groups, agreement with OLS for one group, naming, mix, figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import longitudinal as lg

# intercept, slope per year; shares
TRUE = {"improving": (2.0, 0.6), "high stable": (4.2, 0.0), "declining": (3.5, -0.8)}
SHARES = (0.4, 0.35, 0.25)


def simulate_groups(n_ep=500, seed=0, sd=0.5, rounded=True):
    rng = np.random.default_rng(seed)
    g = rng.choice(3, n_ep, p=SHARES)
    n = rng.integers(5, 9, n_ep)
    ep = np.repeat(np.arange(n_ep), n)
    t = rng.uniform(0, 2, ep.size)
    ab = np.array(list(TRUE.values()))
    y = ab[g[ep], 0] + ab[g[ep], 1] * t + rng.normal(0, sd, ep.size)
    if rounded:  # real scores are whole stages 1..5
        y = np.rint(y)
    y = np.clip(y, 1, 5)
    need = np.where(g == 1, "older_people", rng.choice(["domestic_abuse", "mental_health"], n_ep))
    df = pd.DataFrame({"episode_id": [f"E{i:04d}" for i in ep], "time": t, "score": y, "lead_need": need[ep]})
    return df, g


@pytest.fixture(scope="module")
def fitted():
    df, g = simulate_groups()
    return df, g, lg.fit_trajectory_groups(df, k=range(1, 5), seed=1, n_starts=6)


def test_recovers_known_groups(fitted):
    df, g, fit = fitted
    assert fit.k_ == 3
    assert sorted(fit.groups_["name"]) == sorted(TRUE)
    p = fit.params_.set_index(["name", "term"])["estimate"]
    for name, (a, b) in TRUE.items():
        assert p[(name, "Intercept")] == pytest.approx(a, abs=0.12), name
        assert p[(name, "time")] == pytest.approx(b, abs=0.1), name
    share = fit.groups_.set_index("name")["share"]
    for name, s in zip(TRUE, SHARES):
        assert share[name] == pytest.approx(s, abs=0.06)
    # membership accuracy against the truth
    true_name = np.array(list(TRUE))[g]
    post = fit.posterior_.sort_values("episode_id")
    assert (post["name"].to_numpy() == true_name).mean() > 0.97
    assert fit.entropy_ > 0.85
    assert fit.selection_.loc[3, "bic"] < fit.selection_.loc[2, "bic"]
    assert fit.selection_.loc[3, "bic"] < fit.selection_.loc[4, "bic"]
    # the CI of each slope covers the truth
    ci = fit.params_.set_index(["name", "term"])
    for name, (_, b) in TRUE.items():
        assert ci.loc[(name, "time"), "ci_lower"] - 0.05 < b < ci.loc[(name, "time"), "ci_upper"] + 0.05


def test_one_group_is_ordinary_least_squares():
    df, _ = simulate_groups(n_ep=150, seed=2, rounded=False)
    fit = lg.fit_trajectory_groups(df, k=1)
    ols = sm.OLS(df["score"], sm.add_constant(df["time"])).fit()
    est = fit.params_.set_index("term")["estimate"]
    np.testing.assert_allclose(est[["Intercept", "time"]], ols.params.to_numpy(), atol=1e-8)
    n, p = len(df), 2
    assert fit.sigma_ == pytest.approx(np.sqrt(ols.ssr / n), rel=1e-8)  # ML variance
    # model-based SEs: OLS's with the ML variance
    se = fit.params_.set_index("term")["std_error"]
    np.testing.assert_allclose(se[["Intercept", "time"]], ols.bse.to_numpy() * np.sqrt((n - p) / n), rtol=1e-4)
    assert fit.loglik_ == pytest.approx(ols.llf, abs=1e-6)


def test_quadratic_group_and_naming():
    rng = np.random.default_rng(5)
    n_ep = 300
    g = rng.integers(0, 2, n_ep)
    ep = np.repeat(np.arange(n_ep), 7)
    t = rng.uniform(0, 3, ep.size)
    hump = 2.0 + 2.0 * t - 0.7 * t**2  # rises then falls back
    flat = np.full_like(t, 2.2)
    y = np.where(g[ep] == 1, hump, flat) + rng.normal(0, 0.35, ep.size)
    df = pd.DataFrame({"episode_id": ep, "time": t, "score": np.clip(y, 1, 5)})
    fit = lg.fit_trajectory_groups(df, k=[2], degree=2, seed=0)
    assert set(fit.groups_["name"]) == {"low stable", "improving then declining"}
    q = fit.params_.set_index(["name", "term"])["estimate"]
    assert q[("improving then declining", "time^2")] == pytest.approx(-0.7, abs=0.08)


def test_deterministic_given_seed(fitted):
    df, _, fit = fitted
    again = lg.fit_trajectory_groups(df, k=range(1, 5), seed=1, n_starts=6)
    pd.testing.assert_frame_equal(fit.params_, again.params_)
    pd.testing.assert_frame_equal(fit.posterior_, again.posterior_)


def test_mix_summary_predict_plot(fitted):
    df, _, fit = fitted
    mix = fit.mix("lead_need")
    older = mix[mix["lead_need"] == "older_people"].set_index("name")["pct"]
    assert older["high stable"] > 95
    np.testing.assert_allclose(mix.groupby("lead_need")["pct"].sum(), 100)
    modal = fit.mix("lead_need", modal=True)
    assert modal["n"].sum() == fit.n_episodes
    with pytest.raises(KeyError, match="'local_authority'"):
        fit.mix("local_authority")
    text = fit.summary()
    assert "lowest BIC" in text and "relative entropy" in text and "normal on the 1-5 score scale" in text
    pr = fit.predict([0.0, 1.0])
    assert set(pr.columns) >= {"group", "name", "time", "fitted", "ci_lower", "ci_upper"}
    assert (pr["ci_lower"] < pr["fitted"]).all()
    ax = fit.plot()
    assert len(ax.figure.axes) == 1 and len(ax.get_legend().get_texts()) == 3
    import matplotlib.pyplot as plt
    plt.close("all")


def test_study_input():
    study = lg.simulate(people=500, seed=8)
    fit = lg.fit_trajectory_groups(study, "managing_money", k=[1, 2, 3], seed=2, n_starts=4)
    assert fit.outcome == "managing_money"
    assert {"lead_need", "local_authority", "service_type"} <= set(fit.posterior_.columns)
    m = fit.mix(["service_type"])
    assert set(m["service_type"]) <= {"short_term", "long_term"}
    assert fit.n_episodes == study.long("managing_money", include_follow_up=False)["episode_id"].nunique()


def test_bad_input():
    df, _ = simulate_groups(n_ep=60, seed=3)
    study = lg.simulate(people=100, seed=1)
    with pytest.raises(ValueError, match="pass outcome="):
        lg.fit_trajectory_groups(study)
    with pytest.raises(KeyError, match="'time'"):
        lg.fit_trajectory_groups(df.drop(columns="time"))
    with pytest.raises(ValueError, match="outside the Journey of Change scale"):
        lg.fit_trajectory_groups(df.assign(score=df["score"] * 2))
    with pytest.raises(ValueError, match="degree must be"):
        lg.fit_trajectory_groups(df, degree=4)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        lg.fit_trajectory_groups(df, k=0)
    with pytest.raises(ValueError, match="before their episode started"):
        lg.fit_trajectory_groups(df.assign(time=df["time"] - 1))
    with pytest.warns(UserWarning, match="k=9 skipped"):
        lg.fit_trajectory_groups(df.head(40), k=[1, 9])
