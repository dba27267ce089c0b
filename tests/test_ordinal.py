"""Proportional-odds model: recovery of known coefficients, agreement with statsmodels, the PO check."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.discrete_model import Logit
from statsmodels.miscmodels.ordinal_model import OrderedModel

import longitudinal as lg

BETA = {"time": 0.8, "need[T.b]": 0.5}
CUTS = (-1.0, 0.5, 1.5, 3.0)


def simulate_cumlogit(n_ep=700, per=4, seed=0, nonpo=False):
    """Readings from a cumulative-logit model; ``nonpo``: latent scale grows with time (violates PO)."""
    rng = np.random.default_rng(seed)
    ep = np.repeat(np.arange(n_ep), per)
    need = rng.choice(["a", "b"], n_ep)[ep]
    t = rng.uniform(0, 2, ep.size)
    eta = BETA["time"] * t + BETA["need[T.b]"] * (need == "b")
    scale = np.exp(0.6 * (t - 1)) if nonpo else 1.0
    score = np.digitize(eta + scale * rng.logistic(size=ep.size), CUTS) + 1
    return pd.DataFrame({"episode_id": [f"E{i:04d}" for i in ep], "time": t, "need": need, "score": score})


@pytest.fixture(scope="module")
def data():
    return simulate_cumlogit()


@pytest.fixture(scope="module")
def fit(data):
    return lg.fit_ordinal(data, formula="score ~ time + need")


def test_recovers_known_coefficients(fit):
    p = fit.params
    for term, truth in BETA.items():
        est, se = p.loc[term, "estimate"], p.loc[term, "std_error"]
        assert abs(est - truth) < 3.5 * se, (term, est, truth, se)
        assert p.loc[term, "ci_lower"] < truth < p.loc[term, "ci_upper"]
    th = fit.thresholds["estimate"].to_numpy()
    np.testing.assert_allclose(th, CUTS, atol=0.25)
    assert fit.params.loc["time", "odds_ratio"] == pytest.approx(np.exp(p.loc["time", "estimate"]))
    assert fit.converged and fit.nobs == 2800 and fit.n_groups == 700
    assert fit.bse["time"] == p.loc["time", "std_error"] and fit.conf_int().shape == (2, 2)


def test_agrees_with_statsmodels(data, fit):
    ref = OrderedModel.from_formula("score ~ time + need", data, distr="logit").fit(method="bfgs", disp=False,
                                                                                    maxiter=2000)
    rp = ref.params
    for term in BETA:
        assert fit.params.loc[term, "estimate"] == pytest.approx(rp[term], abs=2e-4)
    assert fit.loglik == pytest.approx(ref.llf, abs=1e-6)
    # cut-points: statsmodels' own transform
    cuts = ref.model.transform_threshold_params(ref.params.to_numpy())[1:-1]
    np.testing.assert_allclose(fit.thresholds["estimate"], cuts, atol=2e-4)
    # model-based SEs equal statsmodels' (observed information)
    nr = lg.fit_ordinal(data, formula="score ~ time + need", cov_type="nonrobust", check_proportional_odds=False)
    for term in BETA:
        assert nr.params.loc[term, "std_error"] == pytest.approx(ref.bse[term], rel=2e-3)


def test_binary_cut_logits_and_cluster_ses_match_statsmodels(data, fit):
    X = np.column_stack([np.ones(len(data)), data["time"], (data["need"] == "b").astype(float)])
    groups = pd.factorize(data["episode_id"])[0]
    for j, cut in enumerate(["1|2", "2|3", "3|4", "4|5"], start=1):
        r = Logit((data["score"] > j).astype(float), X).fit(disp=False, cov_type="cluster",
                                                             cov_kwds={"groups": groups})
        rp, rb = np.asarray(r.params), np.asarray(r.bse)
        mine = fit.cutpoint_params[fit.cutpoint_params["cut"] == cut].set_index("term")
        assert mine.loc["time", "estimate"] == pytest.approx(rp[1], abs=1e-6)
        assert mine.loc["need[T.b]", "estimate"] == pytest.approx(rp[2], abs=1e-6)
        assert mine.loc["time", "std_error"] == pytest.approx(rb[1], rel=1e-4)


def test_cluster_robust_se_larger_with_within_episode_correlation():
    rng = np.random.default_rng(3)
    n_ep, per = 400, 6
    ep = np.repeat(np.arange(n_ep), per)
    x = rng.normal(size=n_ep)[ep]  # episode-level covariate, shared shock
    u = rng.normal(0, 1.5, n_ep)[ep]
    score = np.digitize(0.7 * x + u + rng.logistic(size=ep.size), CUTS) + 1
    df = pd.DataFrame({"episode_id": ep, "x": x, "score": score})
    cl = lg.fit_ordinal(df, formula="score ~ x", check_proportional_odds=False)
    nr = lg.fit_ordinal(df, formula="score ~ x", cov_type="nonrobust", check_proportional_odds=False)
    assert cl.params.loc["x", "std_error"] > 1.5 * nr.params.loc["x", "std_error"]


def test_proportional_odds_check(fit):
    po = fit.proportional_odds
    assert list(po.index) == ["need[T.b]", "time", "omnibus"]
    assert po.loc["omnibus", "df"] == 6
    assert po.loc["omnibus", "p_value"] > 0.01  # data are PO
    bad = lg.fit_ordinal(simulate_cumlogit(nonpo=True), formula="score ~ time + need")
    assert bad.proportional_odds.loc["time", "p_value"] < 1e-8
    assert "Assumption rejected at 5% for: time" in bad.summary()


def test_separation_left_out_of_the_po_check():
    df = simulate_cumlogit(seed=2)
    # a lead need never seen above stage 3: its coefficient at cuts 3|4 and 4|5 is not finite
    df.loc[df["need"] == "b", "score"] = df.loc[df["need"] == "b", "score"].clip(upper=3)
    fit = lg.fit_ordinal(df, formula="score ~ time + need")
    cp = fit.cutpoint_params.set_index(["term", "cut"])
    assert np.isnan(cp.loc[("need[T.b]", "4|5"), "estimate"])
    assert fit.proportional_odds.loc["need[T.b]", "df"] == 1
    assert np.isfinite(fit.proportional_odds.loc["time", "chi2"])


def test_study_input_summary_plot_predict():
    study = lg.simulate(people=400, seed=6)
    fit = lg.fit_ordinal(study, "managing_money", formula="score ~ time + service_type")
    assert fit.outcome == "managing_money"
    text = fit.summary()
    assert "Managing money" in text and "cluster-robust by episode_id" in text and "Brant" in text
    ax = fit.plot()
    assert len(ax.figure.axes) == 1
    new = pd.DataFrame({"time": [0.0, 1.0], "service_type": ["short_term", "short_term"]})
    pr = fit.predict(new)
    np.testing.assert_allclose(pr.sum(axis=1), 1.0)
    assert pr.iloc[1, -1] > pr.iloc[0, -1]  # time raises the chance of stage 5
    import matplotlib.pyplot as plt
    plt.close("all")


def test_bad_input(data):
    study = lg.simulate(people=200, seed=6)
    with pytest.raises(ValueError, match="pass outcome="):
        lg.fit_ordinal(study)
    with pytest.raises(ValueError, match="could not be evaluated.*columns available"):
        lg.fit_ordinal(data, formula="score ~ time + postcode")
    with pytest.raises(KeyError, match="'episode_id'"):
        lg.fit_ordinal(data.drop(columns="episode_id"))
    with pytest.raises(ValueError, match="outside the Journey of Change scale"):
        lg.fit_ordinal(data.assign(score=data["score"] + 3))
    with pytest.raises(ValueError, match="at least two different stages"):
        lg.fit_ordinal(data.assign(score=3))
    with pytest.raises(ValueError, match="left side 'stage'"):
        lg.fit_ordinal(data, formula="stage ~ time")


def test_any_ordered_scale_without_clusters():
    """A plain table on a 0-10 scale, no id column, model-based SEs: statsmodels' OrderedModel directly."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rng = np.random.default_rng(4)
    x = rng.normal(size=600)
    y = np.clip(np.round(5 + 1.5 * x + rng.logistic(size=600)), 0, 10)
    df = pd.DataFrame({"rating": y, "x": x})
    fit = lg.fit_ordinal(df, formula="rating ~ x", score="rating", cov_type="nonrobust", score_range=None,
                         check_proportional_odds=False)
    ref = OrderedModel.from_formula("rating ~ x", df, distr="logit").fit(method="bfgs", disp=False, maxiter=2000)
    assert fit.params.loc["x", "estimate"] == pytest.approx(ref.params["x"], rel=1e-4)
    assert fit.params.loc["x", "std_error"] == pytest.approx(ref.bse["x"], rel=1e-3)
    assert fit.thresholds.index[0] == f"{np.sort(df['rating'].unique())[0]:g}|{np.sort(df['rating'].unique())[1]:g}"
    with pytest.raises(ValueError, match="outside the Journey of Change scale"):
        lg.fit_ordinal(df, formula="rating ~ x", score="rating", cov_type="nonrobust")
    with pytest.raises(KeyError, match="episode_id"):
        lg.fit_ordinal(df, formula="rating ~ x", score="rating", score_range=None)  # clusters need the id
