"""fit_trajectories: truth recovery on the simulated study, agreement with statsmodels, bad input, figures."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import longitudinal as lg  # noqa: E402
from longitudinal.mixed import ConvergenceWarning  # noqa: E402
from longitudinal.simulate import expected_score  # noqa: E402
from longitudinal.trajectories import TrajectoryResults, TrajectoryWarning  # noqa: E402


@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=2500, seed=21)


@pytest.fixture(scope="module")
def money(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lg.fit_trajectories(study, "managing_money")


def gaussian_frame(groups=300, seed=0):
    rng = np.random.default_rng(seed)
    n = rng.integers(2, 8, groups)
    g = np.repeat(np.arange(groups), n)
    t = rng.uniform(0, 2, g.size)
    b = rng.multivariate_normal([0, 0], [[0.4, -0.03], [-0.03, 0.08]], groups)
    arm = np.where(np.arange(groups) % 2 == 0, "a", "b")[g]
    y = 2 + 0.4 * t + 0.3 * (arm == "b") + b[g, 0] + b[g, 1] * t + rng.normal(0, 0.4, g.size)
    return pd.DataFrame({"id": [f"G{i}" for i in g], "t": t, "y": y, "arm": arm})


# ----------------------------------------------------------------- results
def test_results_have_the_documented_shape(money):
    assert isinstance(money, TrajectoryResults)
    fe = money.fixed_effects
    assert fe.index[0] == "Intercept" and list(fe.index) == ["Intercept", "time"]
    assert list(fe.columns) == ["estimate", "std_error", "z", "p_value", "ci_lower", "ci_upper"]
    assert (fe["ci_lower"] < fe["estimate"]).all() and (fe["estimate"] < fe["ci_upper"]).all()
    assert money.cov_re.shape == (2, 2) and list(money.cov_re.index) == ["Intercept", "time"]
    assert money.sigma > 0 and money.converged and np.isfinite(money.loglik)
    assert money.ngroups == len(money.random_effects) == money.random_effects.index.nunique()
    assert money.nobs == len(money.fitted())
    assert money.aic < money.bic  # log(nobs) > 2
    text = str(money.summary())
    assert "Fixed effects" in text and "managing_money" in text and "sd(time)" in text
    assert "<h4>" in money.summary()._repr_html_()


def test_tidy_table_for_several_outcomes(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = lg.fit_trajectories(study, ["managing_money", "Feeling safe"])
    assert set(table["outcome"]) == {"managing_money", "feeling_safe"}
    assert set(table["component"]) == {"fixed", "random"}
    assert {"Intercept", "time", "sd(Intercept)", "sd(time)", "corr(Intercept,time)", "sigma"} <= set(table["term"])
    assert table["converged"].all()


def test_recovers_the_simulators_mean_trajectories():
    # Short-term support, where scores rarely reach the ceiling in the first year: the fitted
    # mean by lead need must match the simulator's exact expected score (rounding and clipping included).
    study = lg.simulate(people=12000, seed=5)
    code = "managing_accommodation"
    d = study.long(code, include_follow_up=False)
    d = d[(d["service_type"] == "short_term") & (d["time"] <= 1.5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lg.fit_trajectories(d, formula="~ time * lead_need")
    truth = pd.DataFrame(study.truth["groups"])
    counts = d.drop_duplicates("episode_id")["lead_need"].value_counts()
    checked = 0
    for need in counts.index[counts >= 150]:
        tr = truth[(truth["lead_need"] == need) & (truth["service_type"] == "short_term")
                   & (truth["outcome"] == code)].iloc[0]
        times = np.array([0.0, 0.5, 1.0])
        pred = fit.predict(pd.DataFrame({"time": times, "lead_need": need}))
        expect = expected_score(times, tr["intercept"], tr["slope"])
        err = np.abs(pred["mean"].to_numpy() - expect)
        assert np.all(err < np.maximum(3.5 * pred["std_error"].to_numpy(), 0.05)), (need, pred, expect)
        checked += 1
    assert checked >= 3


def test_recovers_gaussian_truth_from_a_dataframe():
    df = gaussian_frame(groups=3000, seed=4)
    fit = lg.fit_trajectories(df, id="id", time="t", score="y", formula="~ t + arm", score_range=None)
    fe = fit.fixed_effects
    for term, true in (("Intercept", 2.0), ("t", 0.4), ("arm[T.b]", 0.3)):
        assert abs(fe.loc[term, "estimate"] - true) < 4 * fe.loc[term, "std_error"]
    np.testing.assert_allclose(fit.cov_re.to_numpy(), [[0.4, -0.03], [-0.03, 0.08]], atol=0.04)
    assert fit.sigma == pytest.approx(0.4, rel=0.05)


# -------------------------------------------------- statsmodels agreement
@pytest.mark.parametrize("reml", [True, False])
def test_fast_engine_agrees_with_statsmodels_with_covariates(study, reml):
    d = study.long("managing_money", include_follow_up=False)
    d = d[d["lead_need"].isin(["older_people", "generic_floating", "mental_health", "young_people"])]
    kw = dict(formula="~ time * service_type + lead_need", reml=reml, warn=False)
    fast = lg.fit_trajectories(d, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lg.fit_trajectories(d, engine="statsmodels", **kw)
    assert list(fast.fixed_effects.index) == list(ref.fixed_effects.index)
    np.testing.assert_allclose(fast.fixed_effects["estimate"], ref.fixed_effects["estimate"], rtol=1e-4)
    np.testing.assert_allclose(fast.cov_re.to_numpy(), ref.cov_re.to_numpy(), atol=1e-3)
    assert fast.sigma == pytest.approx(ref.sigma, rel=1e-3)
    assert fast.loglik == pytest.approx(ref.loglik, abs=1e-3)
    assert fast.loglik >= ref.loglik - 1e-6


def test_quadratic_option_adds_fixed_and_random_terms(study):
    d = study.long("physically_healthy")
    fit = lg.fit_trajectories(d, quadratic=True, warn=False)
    assert list(fit.fixed_effects.index) == ["Intercept", "time", "I(time ** 2)"]
    assert fit.cov_re.shape == (3, 3)
    ref = lg.fit_trajectories(d, formula="score ~ time + I(time ** 2)", random="~ time + I(time ** 2)", warn=False)
    np.testing.assert_allclose(fit.fixed_effects["estimate"], ref.fixed_effects["estimate"], rtol=1e-8)


def test_random_intercept_only(study):
    fit = lg.fit_trajectories(study, "managing_money", random="~ 1", warn=False)
    assert list(fit.cov_re.index) == ["Intercept"]
    assert fit.random_effects.shape[1] == 1


# -------------------------------------------------------------- predictions
def test_predictions_and_episode_trajectories(money):
    new = pd.DataFrame({"time": [0.0, 1.0, 2.0]})
    ci = money.predict(new)
    pi = money.predict(new, interval="prediction")
    b = money.fixed_effects["estimate"]
    np.testing.assert_allclose(ci["mean"], b["Intercept"] + b["time"] * new["time"])
    assert (pi["std_error"] > ci["std_error"]).all() and (ci["ci_lower"] < ci["mean"]).all()
    fitted = money.fitted()
    ep = fitted["episode_id"].iloc[0]
    re = money.random_effects.loc[ep]
    row = fitted[fitted["episode_id"] == ep].iloc[0]
    assert row["fitted"] == pytest.approx(b["Intercept"] + re["Intercept"] + (b["time"] + re["time"]) * row["time"])
    traj = money.episode_trajectories(groups=[ep], times=[0, 1])
    assert traj["fitted"].tolist() == pytest.approx([b["Intercept"] + re["Intercept"],
                                                     b["Intercept"] + re["Intercept"] + b["time"] + re["time"]])
    with pytest.raises(ValueError, match="interval"):
        money.predict(new, interval="credible")


def test_figures_return_axes(money, study):
    ax = money.plot()
    assert ax.get_xlabel().startswith("years") and len(ax.lines) > 5
    ax2 = money.plot(kind="caterpillar", by="local_authority")
    assert len(ax2.get_yticklabels()) > 5
    fit = lg.fit_trajectories(study, "managing_money", formula="~ time * service_type + local_authority",
                              warn=False)
    ax3 = fit.plot_caterpillar(by="local_authority", term="Intercept")
    assert "fixed effect" in ax3.get_xlabel()
    plt.close("all")


def test_deterministic(study):
    a = lg.fit_trajectories(study, "feeling_safe", warn=False)
    b = lg.fit_trajectories(study, "feeling_safe", warn=False)
    assert a.fixed_effects.to_numpy().tobytes() == b.fixed_effects.to_numpy().tobytes()
    assert a.random_effects.to_numpy().tobytes() == b.random_effects.to_numpy().tobytes()


# ------------------------------------------------------------------ warnings
def test_single_reading_episodes_are_counted_and_warned(study):
    with pytest.warns(TrajectoryWarning, match=r"have a single reading"):
        fit = lg.fit_trajectories(study, "managing_money")
    d = study.long("managing_money", include_follow_up=False)
    assert fit.n_single_reading == int((d.groupby("episode_id", observed=True).size() == 1).sum()) > 0


def test_boundary_fit_warns():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(200), 5)
    df = pd.DataFrame({"episode_id": g, "time": np.tile(np.linspace(0, 1, 5), 200)})
    df["score"] = 3 + 0.2 * df["time"] + rng.normal(0, 0.5, len(df))
    with pytest.warns(TrajectoryWarning, match="boundary"):
        fit = lg.fit_trajectories(df, score_range=None)
    assert fit.boundary


def test_non_convergence_warns(study):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        lg.fit_trajectories(study, "managing_money", maxiter=1, warn=False)


# ---------------------------------------------------------------- bad input
def test_bad_input_gets_clear_errors(study):
    d = study.long("managing_money")
    with pytest.raises(KeyError, match="'minutes'"):
        lg.fit_trajectories(d, time="minutes")
    with pytest.raises(KeyError, match="id column 'person'"):
        lg.fit_trajectories(d, id="person")
    bad = d.assign(score=d["score"].astype(str))
    bad.loc[bad.index[3], "score"] = "three"
    with pytest.raises(TypeError, match="'three'"):
        lg.fit_trajectories(bad)
    out = d.assign(score=d["score"].astype(float))
    out.loc[out.index[5], "score"] = 7
    with pytest.raises(ValueError, match=r"outside 1..5.*7"):
        lg.fit_trajectories(out)
    with pytest.raises(ValueError, match="'postcode'"):
        lg.fit_trajectories(d, formula="score ~ time + postcode")
    with pytest.raises(ValueError, match="name an outcome"):
        lg.fit_trajectories(study)
    with pytest.raises(ValueError, match="engine"):
        lg.fit_trajectories(d, engine="lme4")
    with pytest.raises(ValueError, match="not identified"):
        lg.fit_trajectories(d.assign(t2=2 * d["time"]), formula="~ time + t2", warn=False)
    with pytest.raises(TypeError, match="Study or a pandas DataFrame"):
        lg.fit_trajectories([1, 2, 3])


def test_outcome_with_no_readings(study):
    empty = lg.Study(study.people, study.episodes, study.readings[study.readings["outcome"] != "managing_money"],
                     study.spend)
    with pytest.raises(ValueError, match="managing_money.*no scored readings"):
        lg.fit_trajectories(empty, "managing_money")
    with pytest.warns(TrajectoryWarning, match="skipped"):
        table = lg.fit_trajectories(empty, ["managing_money", "feeling_safe"], warn=False)
    assert set(table["outcome"]) == {"feeling_safe"}


def test_missing_covariates_are_dropped_and_reported(study):
    d = study.long("managing_money").copy()
    d["x"] = 1.0
    d.loc[d.index[:10], "x"] = np.nan
    d["x"] = d["x"] + np.random.default_rng(0).normal(size=len(d))
    fit = lg.fit_trajectories(d, formula="~ time + x", warn=False)
    assert fit.nobs == len(d) - 10
    assert any("missing covariate (x)" in k and v == 10 for k, v in fit.n_dropped.items())
    assert "dropped 10 rows" in str(fit.summary())


def test_command_line_writes_the_tidy_table(tmp_path):
    from typer.testing import CliRunner

    from longitudinal.cli import app

    lg.simulate(people=600, seed=2).write(tmp_path / "s")
    out = tmp_path / "traj.csv"
    res = CliRunner().invoke(app, ["trajectories", str(tmp_path / "s"), "--outcome", "managing_money",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert set(table["outcome"]) == {"managing_money"} and "time" in set(table["term"])
    res = CliRunner().invoke(app, ["trajectories", str(tmp_path / "s"), "--outcome", "nonsense"])
    assert res.exit_code == 2
    # the start-score covariate from the command line: baseline dropped unless --keep-baseline
    study = lg.load(tmp_path / "s")
    for extra, keep in (([], False), (["--keep-baseline"], True)):
        res = CliRunner().invoke(app, ["trajectories", str(tmp_path / "s"), "--outcome", "managing_money",
                                       "--formula", "~ time * start_score", "--out", str(out)] + extra)
        assert res.exit_code == 0, res.output
        row = pd.read_csv(out).set_index("term").loc["time:start_score"]
        fit = lg.fit_trajectories(study, "managing_money", formula="~ time * start_score", keep_baseline=keep,
                                  warn=False)
        assert row["estimate"] == pytest.approx(fit.fixed_effects.loc["time:start_score", "estimate"], rel=1e-9)


def test_dataframe_with_its_own_outcome_labels():
    a, b = gaussian_frame(groups=150, seed=1), gaussian_frame(groups=150, seed=2)
    df = pd.concat([a.assign(outcome="wellbeing"), b.assign(outcome="housing")], ignore_index=True)
    kw = dict(id="id", time="t", score="y", score_range=None, warn=False)
    table = lg.fit_trajectories(df, "all", **kw)
    assert set(table["outcome"]) == {"wellbeing", "housing"}
    one = lg.fit_trajectories(df, "housing", **kw)
    direct = lg.fit_trajectories(b, **kw)
    np.testing.assert_allclose(one.fixed_effects["estimate"], direct.fixed_effects["estimate"], rtol=1e-10)
    with pytest.raises(ValueError, match="no readings"):
        lg.fit_trajectories(df, "money", **kw)


def test_formula_response_names_the_score_column():
    df = gaussian_frame(groups=200, seed=3).rename(columns={"y": "wellbeing"})
    fit = lg.fit_trajectories(df, id="id", time="t", formula="wellbeing ~ t", score_range=None, warn=False)
    assert fit.design.score == "wellbeing" and fit.nobs == len(df)
    with pytest.raises(ValueError, match=r"outside 1..5"):
        lg.fit_trajectories(df, id="id", time="t", formula="wellbeing ~ t", warn=False)
    with pytest.raises(ValueError, match="'mood'"):
        lg.fit_trajectories(df, id="id", time="t", formula="mood ~ t", score_range=None)


def test_likelihood_ratio_tests():
    df = gaussian_frame(groups=400, seed=5)
    kw = dict(id="id", time="t", score="y", score_range=None, warn=False)
    slope = lg.fit_trajectories(df, **kw)
    intercept = lg.fit_trajectories(df, random="~ 1", **kw)
    lr = slope.lr_test(intercept)
    assert lr.loc["larger", "df"] == 2 and lr.loc["larger", "p_value"] < 1e-6  # the random slope is real
    assert lr.loc["larger", "chi2"] == pytest.approx(2 * (slope.loglik - intercept.loglik))
    ml_arm = lg.fit_trajectories(df, formula="~ t + arm", reml=False, **kw)
    ml = lg.fit_trajectories(df, reml=False, **kw)
    assert ml.lr_test(ml_arm).loc["larger", "p_value"] < 0.05
    with pytest.raises(ValueError, match="reml=False"):
        slope.lr_test(lg.fit_trajectories(df, formula="~ t + arm", **kw))
    with pytest.raises(ValueError, match="REML and the other by ML"):
        slope.lr_test(ml)


# ------------------------------------------------------ variance components
def test_variance_components_have_standard_errors_and_intervals(money):
    vc = money.variance_components()
    assert list(vc.index) == ["sd(Intercept)", "sd(time)", "corr(Intercept,time)", "sigma"]
    assert list(vc.columns) == ["estimate", "std_error", "ci_lower", "ci_upper", "note"]
    assert (vc["std_error"] > 0).all() and not vc["note"].astype(bool).any()
    assert ((vc["ci_lower"] < vc["estimate"]) & (vc["estimate"] < vc["ci_upper"])).all()
    np.testing.assert_allclose(vc["estimate"].iloc[:2] ** 2, np.diag(money.cov_re), rtol=1e-12)
    assert vc.loc["sigma", "estimate"] == pytest.approx(money.sigma)
    # intervals are formed on the log-SD / Fisher-z scale: asymmetric, narrower with larger alpha
    sd = vc.loc["sd(Intercept)"]
    assert sd["ci_upper"] - sd["estimate"] > sd["estimate"] - sd["ci_lower"]
    assert np.log(sd["ci_upper"] / sd["estimate"]) == pytest.approx(np.log(sd["estimate"] / sd["ci_lower"]))
    vc90 = money.variance_components(alpha=0.10)
    assert (vc90["ci_lower"] > vc["ci_lower"]).all() and (vc90["ci_upper"] < vc["ci_upper"]).all()
    ci = money.conf_int()
    assert list(ci.index) == ["Intercept", "time"] + list(vc.index)
    np.testing.assert_allclose(ci.loc["Intercept"], money.fixed_effects.loc["Intercept", ["ci_lower", "ci_upper"]])
    tidy = money.tidy()
    assert tidy.loc[tidy["component"] == "random", ["std_error", "ci_lower", "ci_upper"]].notna().all().all()
    text = str(money.summary())
    assert "Fisher-z" in text and "REML deviance" in text


def test_variance_components_are_computed_lazily_and_once(monkeypatch):
    import longitudinal.trajectories as tr
    from longitudinal.mixed import variance_inference

    calls = []
    monkeypatch.setattr(tr, "variance_inference", lambda *a, **k: calls.append(1) or variance_inference(*a, **k))
    df = gaussian_frame(groups=200, seed=5)
    fit = lg.fit_trajectories(df, id="id", time="t", score="y", score_range=None, warn=False)
    assert not calls  # the fit itself does not pay for the information
    a = fit.variance_inference
    assert fit.variance_inference is a and len(calls) == 1
    assert fit.variance_components()["std_error"].notna().all() and len(calls) == 1


def test_variance_components_with_the_statsmodels_engine():
    # the information is the same likelihood's, evaluated at statsmodels' (slightly different) estimates
    df = gaussian_frame(groups=300, seed=6)
    kw = dict(id="id", time="t", score="y", formula="~ t + arm", score_range=None, warn=False)
    fast = lg.fit_trajectories(df, **kw).variance_components()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lg.fit_trajectories(df, engine="statsmodels", **kw).variance_components()
    np.testing.assert_allclose(ref["std_error"], fast["std_error"], rtol=1e-3)
    np.testing.assert_allclose(ref[["ci_lower", "ci_upper"]], fast[["ci_lower", "ci_upper"]], rtol=1e-3, atol=1e-3)


def test_boundary_fit_variance_components_say_so():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(200), 5)
    df = pd.DataFrame({"episode_id": g, "time": np.tile(np.linspace(0, 1, 5), 200)})
    df["score"] = 3 + 0.2 * df["time"] + rng.normal(0, 0.5, len(df))
    fit = lg.fit_trajectories(df, score_range=None, warn=False)
    vc = fit.variance_components()
    bad = vc["std_error"].isna()
    assert bad.any() and vc.loc[bad, "note"].str.contains("boundary|zero|undefined").all()
    assert vc.loc[bad, ["ci_lower", "ci_upper"]].isna().all().all()
    assert vc.loc["sigma", "std_error"] > 0
    text = str(fit.summary())
    assert "note" in text and "boundary" in text


# ------------------------------------------------------------ start score
def start_frame(groups=1500, seed=0, gamma=(0.5, -0.15)):
    """Episodes whose rate of change after the start depends on the observed start score.

    The baseline reading (t = 0) *is* the start score s; later readings follow
    3.2 + 0.3 t + gamma0 (s - 3) + gamma1 t (s - 3) + b0 + b1 t + e: the ANCOVA model is the truth.
    """
    rng = np.random.default_rng(seed)
    s = rng.integers(1, 6, groups).astype(float)
    n = rng.integers(2, 7, groups)
    g = np.repeat(np.arange(groups), n)
    t = rng.uniform(0.1, 2.0, g.size)
    b = rng.multivariate_normal([0, 0], [[0.16, -0.01], [-0.01, 0.04]], groups)
    c = s[g] - 3
    y = 3.2 + 0.3 * t + gamma[0] * c + gamma[1] * t * c + b[g, 0] + b[g, 1] * t + rng.normal(0, 0.35, g.size)
    base = pd.DataFrame({"id": np.arange(groups), "t": 0.0, "y": s})
    df = pd.concat([base, pd.DataFrame({"id": g, "t": t, "y": y})]).sort_values(["id", "t"], kind="stable")
    df["id"] = "E" + df["id"].astype(str)
    return df.reset_index(drop=True)


START_KW = dict(id="id", time="t", score="y", score_range=None, start_centre=3, warn=False)


def test_start_score_recovers_a_known_effect_on_the_slope():
    df = start_frame(groups=1500, seed=0)
    fit = lg.fit_trajectories(df, formula="~ t * start_score", **START_KW)
    fe = fit.fixed_effects
    assert list(fe.index) == ["Intercept", "t", "start_score", "t:start_score"]
    for term, true in (("Intercept", 3.2), ("t", 0.3), ("start_score", 0.5), ("t:start_score", -0.15)):
        assert fe.loc[term, "ci_lower"] - fe.loc[term, "std_error"] < true < \
            fe.loc[term, "ci_upper"] + fe.loc[term, "std_error"], (term, fe.loc[term])  # within 3 SE
    assert abs(fe.loc["t:start_score", "estimate"] + 0.15) < 0.025 and fe.loc["t:start_score", "std_error"] < 0.01
    assert fit.baseline_dropped is True and fit.start_score_centre == 3.0
    assert fit.nobs == len(df) - 1500 and fit.ngroups == 1500
    # keeping the baseline in the response distorts the slope's dependence on it (regression to the mean)
    kept = lg.fit_trajectories(df, formula="~ t * start_score", keep_baseline=True, **START_KW)
    assert kept.baseline_dropped is False and kept.nobs == len(df)
    assert kept.fixed_effects.loc["t:start_score", "estimate"] < -0.3


def test_start_score_agrees_with_statsmodels():
    df = start_frame(groups=250, seed=1)
    df["arm"] = np.where(df["id"].str[-1].isin(list("02468")), "a", "b")
    kw = dict(START_KW, formula="~ t * start_score + arm", start_centre="mean")
    fast = lg.fit_trajectories(df, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lg.fit_trajectories(df, engine="statsmodels", **kw)
    assert "start_score" in fast.fixed_effects.index and fast.nobs == ref.nobs == len(df) - 250
    np.testing.assert_allclose(fast.fixed_effects["estimate"], ref.fixed_effects["estimate"], rtol=1e-4)
    np.testing.assert_allclose(fast.cov_re.to_numpy(), ref.cov_re.to_numpy(), atol=1e-3)
    assert fast.loglik == pytest.approx(ref.loglik, abs=1e-3)


def test_start_score_centring_and_predictions():
    df = start_frame(groups=300, seed=2)
    mid = lg.fit_trajectories(df, formula="~ t * start_score", **START_KW)
    mean = lg.fit_trajectories(df, formula="~ t * start_score", **dict(START_KW, start_centre="mean"))
    raw = lg.fit_trajectories(df, formula="~ t * start_score", **dict(START_KW, start_centre=0))
    starts = df.groupby("id")["y"].first()
    assert mean.start_score_centre == pytest.approx(starts.mean()) and raw.start_score_centre == 0
    for other in (mean, raw):  # centring moves the intercept and time terms, not the fit
        assert other.loglik == pytest.approx(mid.loglik, abs=1e-6)
        np.testing.assert_allclose(other.fixed_effects.loc[["start_score", "t:start_score"], "estimate"],
                                   mid.fixed_effects.loc[["start_score", "t:start_score"], "estimate"], rtol=1e-6)
    b = mid.fixed_effects["estimate"]
    # predictions take start_score on the score scale; at the centre they are the intercept and time terms
    new = pd.DataFrame({"t": [0.0, 1.0, 1.0], "start_score": [3.0, 3.0, 1.0]})
    for fit in (mid, mean, raw):
        np.testing.assert_allclose(fit.predict(new)["mean"],
                                   [b["Intercept"], b["Intercept"] + b["t"],
                                    b["Intercept"] + b["t"] - 2 * (b["start_score"] + b["t:start_score"])],
                                   rtol=1e-6)
    traj = mid.episode_trajectories(groups=["E0"], times=[0.0])
    re = mid.random_effects.loc["E0"]
    s0 = starts["E0"]
    assert traj["fitted"].iloc[0] == pytest.approx(b["Intercept"] + b["start_score"] * (s0 - 3) + re["Intercept"])
    assert mid.fitted()["start_score"].eq(mid.fitted()["id"].map(starts)).all()  # kept on the score scale
    # as a factor by stage it is not centred
    fac = lg.fit_trajectories(df, formula="~ t + C(start_score)", **START_KW)
    assert fac.start_score_centre is None and "C(start_score)[T.2.0]" in fac.fixed_effects.index


def test_start_score_in_a_study_is_per_episode_and_outcome(study):
    codes = ["managing_money", "feeling_safe"]
    formula = "~ time * service_type + lead_need + start_score"
    table = lg.fit_trajectories(study, codes, formula=formula, warn=False)
    for code in codes:
        one = lg.fit_trajectories(study, code, formula=formula, warn=False)
        rows = table[(table["outcome"] == code) & (table["component"] == "fixed")].set_index("term")
        np.testing.assert_allclose(rows.loc[one.fixed_effects.index, "estimate"], one.fixed_effects["estimate"],
                                   rtol=1e-10)
        d = study.long(code, include_follow_up=False)
        first = d.groupby("episode_id", observed=True)["score"].first().astype(float)
        fitted = one.fitted()
        assert fitted["start_score"].to_numpy() == pytest.approx(fitted["episode_id"].map(first).to_numpy(float))
        assert one.nobs == len(d) - d["episode_id"].nunique()  # every episode's baseline left the response
    # a pooled table of several outcomes takes the baseline per episode *and* outcome
    pooled = study.long(codes, include_follow_up=False)
    fit = lg.fit_trajectories(pooled, formula="~ time + start_score", warn=False)
    key = pooled[["episode_id", "outcome"]].drop_duplicates()
    assert fit.nobs == len(pooled) - len(key)
    # the example
    fit = lg.fit_trajectories(study, "managing_money", warn=False,
                              formula="~ time * service_type + lead_need + age_band + start_score")
    assert fit.converged and fit.fixed_effects.loc["start_score", "estimate"] > 0


def test_baseline_handling_is_reported(study):
    df = start_frame(groups=200, seed=3)
    fit = lg.fit_trajectories(df, formula="~ t + start_score", **START_KW)
    text = str(fit.summary())
    assert "dropped 200 rows: baseline reading (start_score is a covariate)" in text
    assert "dropped from the response" in text and "ANCOVA" in text and "keep_baseline=True" in text
    assert "centred at 3" in text
    assert fit.notes and all(n in text for n in fit.notes)
    kept = lg.fit_trajectories(df, formula="~ t + start_score", keep_baseline=True, **START_KW)
    ktext = str(kept.summary())
    assert "regression to the mean" in ktext and "baseline reading (start_score" not in ktext
    plain = lg.fit_trajectories(df, formula="~ t", **START_KW)
    assert plain.baseline_dropped is None and plain.start_score_centre is None and not plain.notes
    # episodes whose only reading is the baseline leave the model, and the note counts them
    one = df[df["id"] != "E0"]
    one = pd.concat([one, df[df["id"] == "E0"].head(1)])
    fit = lg.fit_trajectories(one, formula="~ t + start_score", **START_KW)
    assert fit.ngroups == 199 and "1 episode with no later reading leaves the model" in str(fit.summary())
    with pytest.raises(ValueError, match="only reading was its baseline"):
        lg.fit_trajectories(df.groupby("id").head(1), formula="~ t + start_score", **START_KW)
    # a study whose start readings went unscored: the first review is the baseline, and the note says so
    r = study.readings
    miss = (r["outcome"] == "managing_money") & (r["reading_type"] == "start")
    miss &= r["episode_id"].isin(r.loc[miss, "episode_id"].drop_duplicates().iloc[:40])
    r = r.assign(score=r["score"].mask(miss))
    s2 = lg.Study(study.people, study.episodes, r, study.spend)
    fit = lg.fit_trajectories(s2, "managing_money", formula="~ time + start_score", warn=False)
    assert "no score at the start reading" in str(fit.summary())


def test_unknown_covariate_error_lists_every_usable_name(study):
    with pytest.raises(ValueError, match="'postcode'") as err:
        lg.fit_trajectories(study, "managing_money", formula="~ time + postcode")
    msg = str(err.value)
    for name in ("lead_need", "service_type", "local_authority", "time", "age", "age_band", "financial_year",
                 "start_score"):
        assert f" {name}" in msg, name
    assert "derived: time" in msg
    with pytest.raises(ValueError, match="did you mean 'start_score'"):
        lg.fit_trajectories(study, "managing_money", formula="~ time + start_scor")
    with pytest.raises(ValueError, match="did you mean 'age_band'"):
        lg.fit_trajectories(study.long("managing_money"), formula="~ time + ageband")
    # names are checked before patsy evaluates anything: inside a call too, and numpy's names are known
    with pytest.raises(ValueError, match="names 'agee'.*did you mean 'age'"):
        lg.fit_trajectories(study, "managing_money", formula="~ time + np.log(agee)")
    assert "np.log(age)" in lg.fit_trajectories(study, "managing_money", formula="~ time + np.log(age)").params.index
    with pytest.raises(ValueError, match="random effect per episode_id"):
        lg.fit_trajectories(study, "managing_money", formula="~ time + start_score", random="~ time + start_score")
    with pytest.raises(ValueError, match="start_centre"):
        lg.fit_trajectories(study, "managing_money", formula="~ time + start_score", start_centre="median")


def test_own_start_score_column_must_agree():
    df = start_frame(groups=100, seed=4)
    same = df.assign(start_score=df.groupby("id")["y"].transform("first"))
    a = lg.fit_trajectories(same, formula="~ t + start_score", **START_KW)
    b = lg.fit_trajectories(df, formula="~ t + start_score", **START_KW)
    np.testing.assert_allclose(a.fixed_effects["estimate"], b.fixed_effects["estimate"], rtol=1e-12)
    with pytest.raises(ValueError, match="own 'start_score' column.*rename"):
        lg.fit_trajectories(same.assign(start_score=same["start_score"] + 1), formula="~ t + start_score",
                            **START_KW)


def _lme4_available() -> bool:
    import shutil
    import subprocess

    return shutil.which("Rscript") is not None and subprocess.run(
        ["Rscript", "-e", "library(lme4)"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _lme4_available(), reason="needs Rscript with lme4 (make system-deps installs r-cran-lme4)")
def test_profile_intervals_agree_with_lme4_on_sleepstudy(tmp_path):
    """lme4's default confint() (profile likelihood) on its own sleepstudy data, REML fit."""
    import subprocess

    script = f"""suppressMessages(library(lme4)); data(sleepstudy)
write.csv(sleepstudy, "{tmp_path}/sleep.csv", row.names = FALSE)
m <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
write.csv(as.data.frame(confint(m, method = "profile", oldNames = FALSE)), "{tmp_path}/ci.csv")"""
    r = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / "sleep.csv")
    ci = pd.read_csv(tmp_path / "ci.csv", index_col=0)
    fit = lg.fit_trajectories(df, id="Subject", time="Days", score="Reaction", score_range=None, warn=False)
    prof = fit.profile_conf_int()
    ours = prof.loc[["sd(Intercept)", "corr(Intercept,Days)", "sd(Days)", "sigma"], ["ci_lower", "ci_upper"]]
    np.testing.assert_allclose(ours.to_numpy(), ci.iloc[:4].to_numpy(), rtol=2e-4)
    wald = fit.variance_components()
    assert not np.allclose(wald[["ci_lower", "ci_upper"]].to_numpy(), prof[["ci_lower", "ci_upper"]].to_numpy(),
                           rtol=1e-2)  # the two kinds of interval differ, as the README says
