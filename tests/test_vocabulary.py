"""One vocabulary (docs/api.md): the old spellings of arguments and result columns still work for one
release, each with a DeprecationWarning naming the new one."""

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal import sroi


@pytest.fixture(scope="module")
def long(small_study):
    return small_study.long("managing_money")


def test_group_is_now_id_in_every_model(long):
    with pytest.warns(DeprecationWarning, match=r"fit_trajectories\(group=\.\.\.\) is deprecated: use "
                                                r"fit_trajectories\(id=\.\.\.\)"):
        old = lg.fit_trajectories(long, group="episode_id", warn=False)
    new = lg.fit_trajectories(long, id="episode_id", warn=False)
    assert old.fixed_effects["estimate"].tolist() == new.fixed_effects["estimate"].tolist()
    with pytest.warns(DeprecationWarning, match=r"fit_ordinal\(group="):
        lg.fit_ordinal(long, group="episode_id")
    with pytest.raises(TypeError, match="both group= .* and id="):
        lg.fit_ordinal(long, group="episode_id", id="episode_id")


def test_state_is_now_score_in_fit_transitions():
    panel = lg.transitions.simulate_panel([[-0.5, 0.5, 0], [0.3, -0.6, 0.3], [0, 0.4, -0.4]], n=300, seed=2)
    with pytest.warns(DeprecationWarning, match=r"use fit_transitions\(score=\.\.\.\)"):
        old = lg.fit_transitions(panel, id="id", time="time", state="state")
    new = lg.fit_transitions(panel, id="id", time="time", score="state")
    assert old.loglik == new.loglik


def test_level_is_now_alpha(long, small_study):
    with pytest.warns(DeprecationWarning,
                      match=r"fit_ordinal\(level=0.9\) is deprecated: use fit_ordinal\(alpha=0.1\)"):
        old = lg.fit_ordinal(long, level=0.9)
    new = lg.fit_ordinal(long, alpha=0.1)
    np.testing.assert_allclose(old.params["ci_lower"], new.params["ci_lower"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lg.SingleReadingWarning)
        with pytest.warns(DeprecationWarning, match="distance_travelled"):
            a = lg.distance_travelled(small_study, outcome="managing_money", level=0.9)
        b = lg.distance_travelled(small_study, outcome="managing_money", alpha=0.1)
    assert a.equals(b)
    r = sroi.evaluate(sroi.DEFAULT_MAP)
    with pytest.warns(DeprecationWarning, match="monte_carlo"):
        assert r.monte_carlo(draws=200, seed=1, level=0.8).interval == r.monte_carlo(draws=200, seed=1,
                                                                                      alpha=0.2).interval


def test_study_is_now_data(small_study):
    with pytest.warns(DeprecationWarning, match=r"reading_completeness\(study=\.\.\.\)"):
        a = lg.reading_completeness(study=small_study)
    assert a.equals(lg.reading_completeness(small_study))
    # the rename sat on linked_exits instead of sustained_outcomes until the survival split
    with pytest.warns(DeprecationWarning, match=r"sustained_outcomes\(study=\.\.\.\)"):
        s = lg.sustained_outcomes(study=small_study, outcome="managing_money", by="outcome", n_boot=0)
    new = lg.sustained_outcomes(small_study, outcome="managing_money", by="outcome", n_boot=0)
    pd.testing.assert_frame_equal(s.at_months(), new.at_months())


def test_effectiveness_takes_data_first_and_study_with_a_warning(small_study):
    from longitudinal import effectiveness as eff

    with pytest.warns(DeprecationWarning, match=r"event_study\(study=\.\.\.\) is deprecated: use event_study\(data="):
        old = eff.event_study(study=small_study, service="emergency_admission")
    pd.testing.assert_frame_equal(old.rates, eff.event_study(small_study, "emergency_admission").rates)
    with pytest.warns(DeprecationWarning, match=r"linkage_window\(study="):
        assert eff.linkage_window(study=small_study) == eff.linkage_window(data=small_study)
    for name in ("service_panel", "event_study", "staggered_did", "placebo", "matched_comparison", "effectiveness",
                 "impact_quantity", "linkage_window"):
        assert next(iter(inspect.signature(getattr(eff, name)).parameters)) == "data", name
    # design-stage functions take the scenario first: they analyse no data (docs/api.md says so)
    assert next(iter(inspect.signature(lg.power).parameters)) == "scenario"


def test_old_result_columns_answer_with_a_warning(long):
    fit = lg.fit_trajectories(long, warn=False)
    with pytest.warns(DeprecationWarning, match="result column 'p' is deprecated: use 'p_value'"):
        p = fit.fixed_effects["p"]
    assert p.equals(fit.fixed_effects["p_value"])
    panel = lg.transitions.simulate_panel([[-0.5, 0.5, 0], [0.3, -0.6, 0.3], [0, 0.4, -0.4]], n=300, seed=2)
    tr = lg.fit_transitions(panel, id="id", time="time", score="state")
    with pytest.warns(DeprecationWarning, match="'std_err' is deprecated: use 'std_error'"):
        assert tr.intensities["std_err"].equals(tr.intensities["std_error"])
    with pytest.warns(DeprecationWarning, match="'lower' is deprecated: use 'ci_lower'"):
        tr.qmatrix()["lower"]
    # derived tables are plain DataFrames with the new names only
    assert type(tr.intensities.head()).__name__ == "DataFrame"


def test_result_columns_follow_the_vocabulary(long):
    """Every coefficient table: estimate, std_error, ci_lower, ci_upper, p_value (where it has them)."""
    fit = lg.fit_trajectories(long, warn=False)
    ordinal = lg.fit_ordinal(long)
    Q = [[-0.5, 0.5, 0], [0.3, -0.6, 0.3], [0, 0.4, -0.4]]
    x = np.random.default_rng(1).integers(0, 2, 400).astype(float)
    panel = lg.transitions.simulate_panel(Q, n=400, seed=2).assign(x=lambda d: x[d["id"].to_numpy()])
    tr = lg.fit_transitions(panel, id="id", time="time", score="state", covariates=["x"])
    for table in (fit.fixed_effects, ordinal.params, tr.hazard_ratios, tr.intensities, tr.sojourn(),
                  fit.variance_components()):
        cols = set(table.columns)
        assert {"estimate", "std_error"} <= cols or "mean_years" in cols, table.columns
        assert {"ci_lower", "ci_upper"} <= cols, table.columns
        assert not cols & {"std_err", "se", "p", "lower", "upper", "hr", "coef"}, table.columns


def test_sroi_intervals_are_alpha_and_columns_ci():
    """SROIResult.one_way takes alpha (level= warns and means the same); the Monte Carlo table has
    ci_lower/ci_upper (its old lower_90%/upper_90% answer with a warning); estimate_drop_off's level=,
    which never had an effect, warns."""
    r = sroi.evaluate(sroi.DEFAULT_MAP)
    with pytest.warns(DeprecationWarning, match=r"one_way\(level=0\.8\) is deprecated: use one_way\(alpha=0\.2\)"):
        old = r.one_way(level=0.8)
    pd.testing.assert_frame_equal(old, r.one_way(alpha=0.2))
    assert not r.one_way(alpha=0.2).equals(r.one_way())
    mc = r.monte_carlo(draws=500, seed=1)
    t = mc.table()
    assert {"ci_lower", "ci_upper", "alpha"} <= set(t.columns) and t["alpha"].iloc[0] == pytest.approx(0.10)
    with pytest.warns(DeprecationWarning, match="'lower_90%' is deprecated: use 'ci_lower'"):
        assert t["lower_90%"].iloc[0] == t["ci_lower"].iloc[0] == mc.interval[0]
    curve = pd.DataFrame({"year": [1, 2, 3], "survival": [0.8, 0.64, 0.512],
                          "ci_lower": [0.75, 0.58, 0.45], "ci_upper": [0.85, 0.70, 0.58]})
    with pytest.warns(DeprecationWarning, match=r"estimate_drop_off\(level=\.\.\.\) is deprecated"):
        a = sroi.estimate_drop_off(curve, level=0.5)
    assert a == sroi.estimate_drop_off(curve)


def test_outcome_maps_and_the_turnbull_curve_tidy_in_the_vocabulary(small_study):
    """A rated map's indicator values are ``estimate, ci_lower, ci_upper`` in tidy() (the tables the report
    reads keep ``value``); a roll-up stacks its areas'; a Turnbull curve's S(t) is ``estimate``."""
    m = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("supporting_people"))
    r = lg.rollup(m, small_study, areas=["Wales", "Cardiff"])
    for t in (m.tidy(), r.maps["Wales"].tidy(), r.tidy()):
        assert {"estimate", "ci_lower", "ci_upper", "n"} <= set(t.columns)
        assert not set(t.columns) & {"value", "lower", "upper", "std_err", "se", "p"}
    assert r.tidy()["area"].unique().tolist() == ["Wales", "Cardiff"]
    assert r.tidy()["estimate"].notna().sum() == r.indicator_values["value"].notna().sum()
    assert lg.survival.turnbull([0, 1], [1, np.nan]).tidy().columns.tolist() == ["time", "estimate"]
