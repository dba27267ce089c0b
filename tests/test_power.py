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
    res.plot().savefig(tmp_path / "p.png")
    curve = power_curve(TrajectoryScenario(effect=0.2), design, over="waves", values=[2, 3], n_sims=8, seed=1)
    assert curve.table["value"].tolist() == [2, 3] and curve.table["analytic_power"].notna().all()
    assert curve.table["analytic_power"].is_monotonic_increasing
    curve.plot().savefig(tmp_path / "c.png")
    m = minimum_detectable_effect(SustainedScenario(), StudyDesign(people=300, times=(0, 1)),
                                  effects=[0.02, 0.08, 0.14, 0.2], n_sims=30, seed=1)
    assert 0.02 < m.effect < 0.2 and "isotonic" in m.method
    m.plot().savefig(tmp_path / "m.png")


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
                                    "curve_waves": [2, 3],
                                    "workers": 1, "out": str(tmp_path)},
                        progress_bar=False, log_output=False, start_timeout=120)
    done = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    text = json.dumps([c.get("outputs", []) for c in done.cells])
    assert "Power by simulation" in text and "Minimum detectable" in text
    assert (tmp_path / "power_curve.png").exists() and (tmp_path / "power_by_waves.png").exists()
