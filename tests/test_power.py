"""Power by simulation (issue 15): closed forms against longpower's published figures, the
simulation against the closed form, reproducibility across workers, failures counted, pilots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal.power import (
    StudyDesign,
    SustainedScenario,
    TrajectoryScenario,
    TransitionScenario,
    WeibullDropout,
    clopper_pearson,
    hazard_ratio_power,
    minimum_detectable_effect,
    power,
    power_curve,
    slope_power,
)


# ------------------------------------------------------------ closed form vs longpower
def test_diggle_page_29_table_as_longpower():
    """Diggle et al. (2002) p. 29, reproduced by longpower's tests: n per group, one-sided, power 0.8."""
    t = [0, 2, 5]
    got = []
    for rho in (0.2, 0.5, 0.8):
        R = np.full((3, 3), rho) + np.diag([1 - rho] * 3)
        got.append([math.ceil(slope_power(delta=0.5, times=t, V=s2 * R, power=0.8, alternative="one-sided")["n"])
                    for s2 in (100, 200, 300)])
    assert got == [[313, 625, 938], [196, 391, 586], [79, 157, 235]]


def test_lmmpower_adas_cog_example():
    """longpower's lmmpower examples: n = 207.310093300903 for delta 1.5; delta = 1.49751028943272 for n = 208."""
    cov = [[55, 0.8 * math.sqrt(55 * 24)], [0.8 * math.sqrt(55 * 24), 24]]
    t = np.arange(0, 1.51, 0.25)
    assert slope_power(delta=1.5, times=t, cov_re=cov, residual_var=10, power=0.8)["n"] == pytest.approx(
        207.310093300903, rel=1e-9)
    assert slope_power(n=208, times=t, cov_re=cov, residual_var=10, power=0.8)["delta"] == pytest.approx(
        1.49751028943272, rel=1e-9)
    # and back: the power at that n and delta is 0.8 (the far tail adds < 1e-6)
    p = slope_power(n=207.310093300903, delta=1.5, times=t, cov_re=cov, residual_var=10)["power"]
    assert p == pytest.approx(0.8, abs=1e-6)


def test_clopper_pearson_against_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 10), (3, 10), (10, 10), (812, 1000), (1, 2)]:
        lo, hi = proportion_confint(k, n, alpha=0.05, method="beta")
        assert clopper_pearson(k, n) == pytest.approx((lo, hi), abs=1e-12)


# ------------------------------------------------------------ simulation
def test_simulation_agrees_with_closed_form_within_monte_carlo_error():
    """Complete balanced random-slope data: the simulated power, the SEs and the spread of the
    estimates all agree with Diggle / Liu-Liang."""
    sc = TrajectoryScenario(effect=0.1)
    design = StudyDesign(people=200, waves=4)
    res = power(sc, design, n_sims=400, seed=11)
    assert res.n_failed == 0 and res.analytic_power is not None
    assert abs(res.power - res.analytic_power) < 3 * math.sqrt(res.analytic_power * (1 - res.analytic_power) / 400)
    se = math.sqrt(slope_power(delta=0.1, times=design.reading_times, cov_re=sc.cov_re,
                               residual_var=sc.residual_sd**2, n=100)["xi"] * 2 / 100)
    sims = res.simulations
    assert sims["std_error"].mean() == pytest.approx(se, rel=0.03)
    # the SD of 400 estimates is within ~3.5% of the truth (its own sampling error)
    assert sims["estimate"].std() == pytest.approx(se, rel=0.12)
    assert sims["estimate"].mean() == pytest.approx(0.1, abs=3 * se / 20)


def test_same_answer_on_one_and_two_workers():
    sc = TrajectoryScenario(effect=0.1)
    design = StudyDesign(people=120, waves=3, dropout=0.2)
    one = power(sc, design, n_sims=10, seed=5, workers=1)
    two = power(sc, design, n_sims=10, seed=5, workers=2)
    pd.testing.assert_frame_equal(one.simulations, two.simulations)
    assert (one.power, one.ci_lower) == (two.power, two.ci_lower)
    other = power(sc, design, n_sims=10, seed=6, workers=1)
    assert not np.allclose(other.simulations["estimate"], one.simulations["estimate"])


def test_one_fit_per_replicate_equals_a_refit_at_each_effect():
    """The trajectory model's shortcut (the effect only moves the estimate) against refitting."""
    sc = TrajectoryScenario(effect=0.0)
    design = StudyDesign(people=100, waves=3, dropout=0.1)
    curve = power_curve(sc, design, over="effect", values=[0.0, 0.2], n_sims=6, seed=3)
    refit = power(sc.with_effect(0.2), design, n_sims=6, seed=3)
    a, b = curve.results[1].simulations, refit.simulations
    np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-6)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-4)  # within the fit's tolerance


def test_cluster_robust_test_holds_its_size_where_the_model_based_one_does_not():
    """Whole authorities in a group, rates of change varying between authorities, no effect."""
    design = StudyDesign(people=440, waves=4, authorities=22, cluster_allocation=True)
    z = power(TrajectoryScenario(effect=0.0, authority_sd_slope=0.1, test="z"), design, n_sims=120, seed=3)
    cr = power(TrajectoryScenario(effect=0.0, authority_sd_slope=0.1), design, n_sims=120, seed=3)
    assert "cluster-robust" in cr.test and "21 df" in cr.test
    assert z.ci_lower > 0.05  # the person-level model's SE ignores the authorities
    assert cr.ci_lower <= 0.05 <= cr.ci_upper


def test_minimum_detectable_effect_is_where_the_simulated_power_reaches_80_percent():
    sc = TrajectoryScenario(effect=0.1)
    design = StudyDesign(people=200, waves=4)
    m = minimum_detectable_effect(sc, design, n_sims=150, seed=4)
    above = power(sc.with_effect(m.effect * (1 + 1e-6)), design, n_sims=150, seed=4)
    below = power(sc.with_effect(m.effect * (1 - 1e-6)), design, n_sims=150, seed=4)
    assert above.power >= 0.8 > below.power  # the simulated power reaches 80% just there
    analytic = slope_power(times=design.reading_times, cov_re=sc.cov_re, residual_var=sc.residual_sd**2, n=100,
                           power=0.8)["delta"]
    assert m.ci_lower < analytic < m.ci_upper
    assert m.curve["power"].is_monotonic_increasing


def test_failed_fits_are_counted_and_reported_not_dropped():
    # 20 people, 60% lost before each follow-up: some replicates have nobody seen in a group
    res = power(SustainedScenario(effect=0.2), StudyDesign(people=20, times=(0, 0.5, 1), dropout=0.6),
                n_sims=60, seed=2)
    assert 0 < res.n_failed < res.n_sims
    sims = res.simulations
    assert ((sims["error"] != "") == sims["failed"]).all()
    assert sims.loc[sims["failed"], "error"].str.contains("nobody followed up|same outcome").all()
    assert sims["error"].str.contains("nobody followed up").any()
    assert res.power == res.simulations["reject"].sum() / (res.n_sims - res.n_failed)
    assert res.power_if_failed_rejected_none < res.power or res.power == 0
    text = str(res.summary())
    assert f"failed fits: {res.n_failed}" in text and "left out of the power" in text
    assert res.to_dict()["n_failed"] == res.n_failed


def test_sustained_share_matches_its_normal_approximation():
    sc = SustainedScenario(effect=0.1, share_reference=0.7)
    design = StudyDesign(people=500, times=(0, 0.5, 1, 2), dropout=0.15)
    res = power(sc, design, n_sims=1000, seed=8)
    assert abs(res.power - res.analytic_power) < 3 * res.mc_se + 0.01


def test_weibull_dropout_retention():
    d = StudyDesign(people=20000, waves=4, dropout=WeibullDropout(shape=1.5, scale=4.0))
    kept = d.readings_kept(np.random.default_rng(0))
    seen = [(kept > j).mean() for j in range(4)]
    np.testing.assert_allclose(seen, d.retention(), atol=0.01)
    assert seen[0] == 1.0
    per_wave = StudyDesign(people=20000, waves=4, dropout=0.2)
    np.testing.assert_allclose([(per_wave.readings_kept(np.random.default_rng(1)) > j).mean() for j in range(4)],
                               0.8 ** np.arange(4), atol=0.01)


def test_design_layout_is_exact_and_errors_are_actionable():
    auth, grp = StudyDesign(people=100, authorities=4, allocation=0.25).layout()
    assert grp.sum() == 25 and all(grp[auth == a].sum() > 0 for a in range(4))
    auth, grp = StudyDesign(people=103, authorities=4, allocation=0.3).layout()
    assert grp.sum() == 31 and np.ptp([grp[auth == a].sum() for a in range(4)]) <= 1
    auth, grp = StudyDesign(people=100, authorities=4, cluster_allocation=True).layout()
    assert len(set(auth[grp == 1])) == 2 and not set(auth[grp == 1]) & set(auth[grp == 0])
    with pytest.raises(ValueError, match="allocation"):
        StudyDesign(allocation=1.0)
    with pytest.raises(ValueError, match="WeibullDropout"):
        StudyDesign(dropout=1.5)
    with pytest.raises(ValueError, match="does not reach 12 months"):
        power(SustainedScenario(), StudyDesign(people=50, times=(0, 0.5)), n_sims=2)
    with pytest.raises(ValueError, match="at least 2 authorities"):
        power(TrajectoryScenario(test="cluster"), StudyDesign(people=50), n_sims=2)


# ------------------------------------------------------------ multi-state model and pilots
def test_hazard_ratio_power_and_recovery():
    sc = TransitionScenario(hazard_ratio=2.0, transition=(3, 4))
    res = power(sc, StudyDesign(people=400, waves=5, interval=0.5), n_sims=6, seed=1)
    assert res.n_failed == 0 and res.n_nonconverged == 0
    est = res.simulations["estimate"]
    assert abs(est.mean() - math.log(2.0)) < 3 * res.simulations["std_error"].mean() / math.sqrt(6)
    assert "log hazard ratio" in res.test


def test_pilot_fits_as_the_truth():
    study = lg.simulate(people=400, seed=3)
    fit = lg.fit_trajectories(study, "managing_money", formula="time * service_type", warn=False)
    term = [t for t in fit.fixed_effects.index if t.startswith("time:")][0]
    sc = TrajectoryScenario.from_fit(fit, term=term)
    assert sc.term == "slope" and sc.effect == pytest.approx(fit.fixed_effects.loc[term, "estimate"])
    assert sc.residual_sd == pytest.approx(fit.sigma)
    res = power(fit, StudyDesign(people=100, waves=3), term=term, n_sims=4, seed=1)
    assert res.scenario == sc
    with pytest.raises(ValueError, match="not a coefficient"):
        TrajectoryScenario.from_fit(fit, term="nope")

    panel = lg.transitions.simulate_panel(np.asarray(TransitionScenario().Q), n=300, seed=2,
                                          covariates=pd.DataFrame({"g": np.arange(300) % 2}),
                                          effects={"g": np.where(np.arange(25).reshape(5, 5) == 13, 0.5, 0.0)})
    tf = lg.fit_transitions(panel, id="id", time="time", score="state", covariates={"g": [(3, 4)]})
    ts = TransitionScenario.from_fit(tf, covariate="g", transition=(3, 4))
    assert ts.hazard_ratio == pytest.approx(float(tf.hazard_ratios["hazard_ratio"].iloc[0]))
    np.testing.assert_allclose(np.asarray(ts.Q), tf.Q.to_numpy())


# ------------------------------------------------------------ results, curves, CLI, notebook
def test_results_object_curve_and_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    design = StudyDesign(people=100, waves=3)
    res = power(TrajectoryScenario(effect=0.2), design, n_sims=8, seed=1)
    assert "<pre>" in res._repr_html_() and "Monte Carlo SE" in str(res.summary())
    res.plot().figure.savefig(tmp_path / "p.png")
    curve = power_curve(TrajectoryScenario(effect=0.2), design, over="waves", values=[2, 3], n_sims=8, seed=1)
    assert curve.table["value"].tolist() == [2, 3] and curve.table["analytic_power"].notna().all()
    assert curve.table["analytic_power"].is_monotonic_increasing
    curve.plot().figure.savefig(tmp_path / "c.png")
    m = minimum_detectable_effect(SustainedScenario(), StudyDesign(people=300, times=(0, 1)),
                                  effects=[0.02, 0.08, 0.14, 0.2], n_sims=30, seed=1)
    assert 0.02 < m.effect < 0.2 and "isotonic" in m.method
    m.plot().figure.savefig(tmp_path / "m.png")


def test_cli_power_json(tmp_path):
    from typer.testing import CliRunner

    from longitudinal.cli import app

    r = CliRunner().invoke(app, ["power", "--people", "100", "--waves", "3", "--effect", "0.2", "--n-sims", "6",
                                 "--seed", "2", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert {"power", "mc_se", "ci_lower", "ci_upper", "n_sims", "n_failed"} <= set(out)
    assert out["n_sims"] == 6 and out["seed"] == 2
    r = CliRunner().invoke(app, ["power", "--target", "sustained", "--times", "0,0.5,1", "--people", "200",
                                 "--curve", "people=100,200", "--n-sims", "20", "--json"])
    assert r.exit_code == 0, r.output
    assert [p["value"] for p in json.loads(r.stdout)["points"]] == [100, 200]
    r = CliRunner().invoke(app, ["power", "--target", "sustained", "--times", "0,1", "--people", "200",
                                 "--authorities", "10", "--cluster-allocation", "--authority-icc", "0.05",
                                 "--n-sims", "5", "--json"])
    assert r.exit_code == 0, r.output
    assert "9 df" in json.loads(r.stdout)["test"]
    r = CliRunner().invoke(app, ["power", "--target", "hazard-ratio", "--transition", "1,2", "--effect", "1.5",
                                 "--people", "120", "--waves", "3", "--authorities", "6", "--cluster-allocation",
                                 "--authority-frailty-sd", "0.3", "--n-sims", "2", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert "cluster-robust" in out["test"] and out["scenario"]["authority_sd"] == 0.3
    r = CliRunner().invoke(app, ["power", "--target", "nope"])
    assert r.exit_code == 2


NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "study_design.ipynb"


def test_study_design_notebook_is_thin_parameterised_and_runs(tmp_path):
    import nbformat
    import papermill as pm

    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    nbformat.validate(nb)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    code = [c for c in nb.cells if c.cell_type == "code" and c is not params[0]]
    assert all(len(c.source.splitlines()) <= 8 and not c.get("outputs") for c in code)
    pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), cwd=str(tmp_path), kernel_name="python3",
                        parameters={"people": 120, "waves": 3, "n_sims": 8, "curve_people": [60, 120],
                                    "curve_waves": [2, 3], "hr_sims": 3, "authority_sds": [0.0, 0.5],
                                    "authorities": 6, "workers": 1, "out": str(tmp_path)},
                        progress_bar=False, log_output=False, start_timeout=120)
    done = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    text = json.dumps([c.get("outputs", []) for c in done.cells])
    assert "Power by simulation" in text and "Minimum detectable" in text
    assert "hazard ratio" in text and "Schoenfeld" in text and "cluster-robust" in text
    for name in ("power_curve", "power_by_waves", "power_by_authority_sd"):
        assert (tmp_path / f"{name}.png").exists()


# ------------------------------------------------------------ hazard ratio: closed forms, clustering
TIME_TO_EVENT = dict(transition=(1, 2), Q=((-0.3, 0.3), (0.0, 0.0)))


def test_hazard_ratio_closed_forms_against_lifelines():
    """Freedman's form is lifelines' power_under_cph / sample_size_necessary_under_cph; Schoenfeld's
    is its own textbook number and meets Freedman's as the hazard ratio nears 1."""
    from lifelines.statistics import power_under_cph, sample_size_necessary_under_cph

    for n1, n0, p1, p0, hr in [(500, 500, 0.3, 0.2, 1.5), (300, 600, 0.15, 0.25, 0.6), (80, 120, 0.5, 0.4, 1.3)]:
        d = n1 * p1 + n0 * p0
        ours = hazard_ratio_power(hr, events=d, allocation=n1 / (n1 + n0), method="freedman")["power"]
        assert ours == pytest.approx(power_under_cph(n1, n0, p1, p0, hr), abs=1e-12)
        k = n1 / n0
        need = hazard_ratio_power(hr, power=0.8, allocation=k / (1 + k), method="freedman")["events"]
        assert (math.ceil(need * k / (k * p1 + p0)), math.ceil(need / (k * p1 + p0))) == \
            sample_size_necessary_under_cph(0.8, k, p1, p0, hr)
    z = 1.959963984540054 + 0.8416212335729143
    assert hazard_ratio_power(1.5, power=0.8)["events"] == pytest.approx(4 * z**2 / math.log(1.5) ** 2, rel=1e-12)
    near = [hazard_ratio_power(1.02, power=0.8, method=m)["events"] for m in ("schoenfeld", "freedman")]
    assert near[0] == pytest.approx(near[1], rel=1e-3)
    with pytest.raises(ValueError, match="exactly one"):
        hazard_ratio_power(1.5)


def test_time_to_event_hazard_ratio_simulation_agrees_with_schoenfeld_and_lifelines():
    """A two-state chain (one transition into an absorbing state, entry time known) is a
    proportional hazards time-to-event design: the simulated power of the multi-state fit agrees
    with Schoenfeld's and Freedman's (lifelines) at the expected events, and its SEs with
    sqrt(1/d0 + 1/d1)."""
    from lifelines.statistics import power_under_cph

    sc = TransitionScenario(hazard_ratio=1.6, **TIME_TO_EVENT)
    design = StudyDesign(people=300, waves=5, interval=0.5, dropout=0.1)
    d0, d1 = sc.expected_events(design)
    res = power(sc, design, n_sims=300, seed=21)
    assert res.n_failed == 0 and res.analytic_power is not None and "Schoenfeld" in str(res.summary())
    assert res.analytic_power == hazard_ratio_power(1.6, events=d0 + d1)["power"]
    assert 0.5 < res.analytic_power < 0.9
    assert abs(res.power - res.analytic_power) < 3 * math.sqrt(res.analytic_power * (1 - res.analytic_power) / 300)
    freedman = power_under_cph(150, 150, d1 / 150, d0 / 150, 1.6)
    assert abs(res.power - freedman) < 3 * math.sqrt(freedman * (1 - freedman) / 300)
    assert res.simulations["std_error"].mean() == pytest.approx(math.sqrt(1 / d0 + 1 / d1), rel=0.03)
    assert res.simulations["estimate"].mean() == pytest.approx(math.log(1.6), abs=3 * 0.19 / math.sqrt(300))
    # no closed form where the tested move is not a time to an absorbing state
    assert TransitionScenario().expected_events(design) is None
    assert power(TransitionScenario(), StudyDesign(people=60, waves=3), n_sims=2, seed=1).analytic_power is None


def test_multi_state_fit_and_its_cluster_robust_se_match_a_poisson_glm():
    """In the two-state case the multi-state likelihood is the exponential model's, i.e. a Poisson
    GLM of events with log exposure as offset: the log hazard ratio, its model SE and its CR1 SE by
    authority agree with statsmodels' (cov_type="cluster", same small-sample factor)."""
    import statsmodels.api as sm

    sc = TransitionScenario(hazard_ratio=1.4, authority_sd=0.4, **TIME_TO_EVENT)
    design = StudyDesign(people=400, waves=4, interval=0.5, dropout=0.1, authorities=12, cluster_allocation=True)
    panel, auth = sc.simulate(design, np.random.default_rng(7))
    out = sc.analyse(design, np.random.default_rng(7))
    last = panel.groupby("id").agg(time=("time", "last"), state=("state", "last"), group=("group", "first"))
    last = last[last["time"] > 0]
    X = sm.add_constant(last["group"].to_numpy(float))
    y = (last["state"] == 2).to_numpy(float)
    glm = sm.GLM(y, X, family=sm.families.Poisson(), offset=np.log(last["time"].to_numpy()))
    model = glm.fit()
    robust = glm.fit(cov_type="cluster", cov_kwds={"groups": auth[last.index.to_numpy()]})
    assert out.estimate == pytest.approx(model.params[1], abs=1e-6)
    assert out.std_error == pytest.approx(robust.bse[1], rel=1e-5)
    assert out.df == 11
    plain = TransitionScenario(hazard_ratio=1.4, authority_sd=0.4, test="z", **TIME_TO_EVENT)
    assert plain.analyse(design, np.random.default_rng(7)).std_error == pytest.approx(model.bse[1], rel=1e-5)


def test_cluster_robust_hazard_ratio_test_holds_its_size_where_the_model_based_one_does_not():
    """Whole authorities in a group, an authority frailty on the hazards, no effect."""
    design = StudyDesign(people=600, waves=4, interval=0.5, authorities=30, cluster_allocation=True)
    kw = dict(hazard_ratio=1.0, authority_sd=0.5, **TIME_TO_EVENT)
    z = power(TransitionScenario(test="z", **kw), design, n_sims=100, seed=3)
    cr = power(TransitionScenario(**kw), design, n_sims=100, seed=3)
    assert "cluster-robust" in cr.test and "29 df" in cr.test and "ICC 0.132" in str(cr.summary())
    assert z.ci_lower > 0.05  # the person-level model ignores the authorities
    assert cr.ci_lower <= 0.05 <= cr.ci_upper
    assert cr.analytic_power is None  # Schoenfeld knows nothing of the frailty


def test_power_curve_over_a_field_of_the_truth():
    sc = TrajectoryScenario(effect=0.2)
    curve = power_curve(sc, StudyDesign(people=100, waves=3), over="sd_slope", values=[0.1, 0.4], n_sims=6, seed=1)
    assert [r.scenario.sd_slope for r in curve.results] == [0.1, 0.4]
    assert curve.table["analytic_power"].is_monotonic_decreasing  # noisier slopes, less power
    with pytest.raises(ValueError, match="scenario"):
        power_curve(sc, StudyDesign(people=100, waves=3), over="nope", values=[1], n_sims=2)


def test_sustained_share_with_clustering_by_authority():
    """Beta-distributed authority shares with ICC rho: the CR1 SE is statsmodels' cluster-robust OLS
    SE; the z test ignoring the authorities is too liberal and the cluster-robust one holds its size;
    with many authorities the simulated power meets the design-effect closed form (1 + (m-1) rho)."""
    import statsmodels.api as sm

    design = StudyDesign(people=2200, times=(0, 0.5, 1), dropout=0.1, authorities=22, cluster_allocation=True)
    sc = SustainedScenario(effect=0.1, share_reference=0.6, authority_icc=0.05)
    auth, grp, seen, y = sc.simulate(design, np.random.default_rng(4))
    out = sc.analyse(design, np.random.default_rng(4))
    ols = sm.OLS(y[seen].astype(float), sm.add_constant(grp[seen])).fit(cov_type="cluster",
                                                                        cov_kwds={"groups": auth[seen]})
    assert out.estimate == pytest.approx(ols.params[1], abs=1e-12)
    assert out.std_error == pytest.approx(ols.bse[1], rel=1e-10) and out.df == 21

    null = dict(effect=0.0, share_reference=0.6, authority_icc=0.05)
    z = power(SustainedScenario(test="z", **null), design, n_sims=400, seed=3)
    cr = power(SustainedScenario(**null), design, n_sims=400, seed=3)
    assert z.ci_lower > 0.05 and cr.ci_lower <= 0.05 <= cr.ci_upper

    many = StudyDesign(people=2200, times=(0, 0.5, 1), dropout=0.1, authorities=66, cluster_allocation=True)
    res = power(SustainedScenario(effect=0.1, share_reference=0.6, authority_icc=0.06), many, n_sims=1000, seed=8)
    assert 0.5 < res.analytic_power < 0.9 and "ICC" in str(res.summary())
    assert abs(res.power - res.analytic_power) < 3 * math.sqrt(res.analytic_power * (1 - res.analytic_power) / 1000)
    within = StudyDesign(people=2200, times=(0, 0.5, 1), authorities=22)
    assert power(SustainedScenario(authority_icc=0.05), within, n_sims=2, seed=1).analytic_power is None


def test_sustained_pilot_fit_as_the_truth():
    study = lg.simulate(people=600, seed=3)
    fit = lg.sustained_outcomes(study, "managing_money", by="service_type", n_boot=0)
    shares = fit.at_months([12])["survival"].to_numpy()
    sc = SustainedScenario.from_fit(fit)
    assert (sc.share_reference, sc.share_reference + sc.effect) == pytest.approx(tuple(shares))
    res = power(fit, StudyDesign(people=200, times=(0, 1)), n_sims=5, seed=1)
    assert res.scenario == sc and res.n_sims == 5
    two_by = lg.sustained_outcomes(study, "managing_money", by=["service_type", "lead_need"], n_boot=0)
    with pytest.raises(ValueError, match="two-level column"):
        SustainedScenario.from_fit(two_by)
