"""Every results object shares one display contract (longitudinal.results): a summary that is text in a
terminal and HTML in Jupyter, a short repr, tidy(), and plot() returning Axes (never a Figure)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import longitudinal as lg  # noqa: E402
from longitudinal import sroi  # noqa: E402
from longitudinal.effectiveness import event_study, staggered_did  # noqa: E402
from longitudinal.power import (  # noqa: E402
    StudyDesign,
    SustainedScenario,
    TrajectoryScenario,
    minimum_detectable_effect,
    power_curve,
)
from longitudinal.results import Results, Summary, figure_of  # noqa: E402

MAP = {"name": "Worked", "price_year": 2025, "discount": {"rate": 0.035, "timing": "end"},
       "inputs": [{"name": "Grant", "value": 100000}],
       "outcomes": [{"name": "Settled housing", "stakeholder": "Service users", "quantity": 10,
                     "proxy_value": 10000, "price_year": 2025, "duration_years": 2, "deadweight": 0.2,
                     "displacement": 0.0, "attribution": 0.25, "drop_off": 0.5}]}


def _fits(study):
    panel = lg.transitions.simulate_panel([[-0.5, 0.5, 0], [0.3, -0.6, 0.3], [0, 0.4, -0.4]], n=300, seed=2)
    sr = sroi.evaluate(MAP)
    ind = lg.time_to_independence(study, "managing_money", stage=4, n_boot=3, covariates=None)
    omap = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("supporting_people"))
    return {
        "trajectories": lg.fit_trajectories(study, "managing_money", warn=False),
        "ordinal": lg.fit_ordinal(study, "managing_money", formula="score ~ time"),
        "groups": lg.fit_trajectory_groups(study, "managing_money", k=[1, 2], n_starts=2, seed=1),
        "transitions": lg.fit_transitions(panel, id="id", time="time", score="state"),
        "independence": ind,
        # a plain table of the user's own: one row per episode-area with its follow-up time and event
        "cox": lg.fit_cox(ind.data, time="seen_time", event="event", covariates=["start_score", "service_type"],
                          id="person_id"),
        "sustained": lg.sustained_outcomes(study, "managing_money", by=("outcome",), n_boot=0),
        "sroi": sr,
        "monte_carlo": sr.monte_carlo(draws=500, seed=1),
        "attrition": lg.follow_up_attrition(study, m=2, seed=1),
        "did": staggered_did(study, "emergency_admission", n_boot=99, seed=1),
        "event_study": event_study(study, "emergency_admission", by="service_type"),
        "power": lg.power(TrajectoryScenario(effect=0.2), StudyDesign(people=100, waves=3), n_sims=8, seed=1),
        "power_curve": power_curve(TrajectoryScenario(effect=0.2), StudyDesign(people=100, waves=3), over="waves",
                                   values=[2, 3], n_sims=8, seed=1),
        "mde": minimum_detectable_effect(SustainedScenario(), StudyDesign(people=300, times=(0, 1)),
                                         effects=[0.02, 0.08, 0.14, 0.2], n_sims=30, seed=1),
        "outcome_map": omap,
        "rated_map": omap.rate(study),
        "map_rollup": lg.rollup(omap, study, areas=["Wales", "Cardiff"]),
        # R's interval2 form: exact times, NaN upper bounds (right censoring), intervals
        "turnbull": lg.survival.turnbull([0, 1, 1, 2, 3, 2], [1, 2, np.nan, 2, np.nan, 4]),
    }


@pytest.fixture(scope="module")
def fits(medium_study):
    return _fits(medium_study)


NAMES = ["trajectories", "ordinal", "groups", "transitions", "independence", "cox", "sustained", "sroi", "monte_carlo",
         "attrition", "did", "event_study", "power", "power_curve", "mde", "outcome_map", "rated_map", "map_rollup",
         "turnbull"]


@pytest.mark.parametrize("name", NAMES)
def test_summary_is_text_and_html(fits, name):
    res = fits[name]
    assert isinstance(res, Results)
    s = res.summary()
    assert isinstance(s, Summary) and isinstance(s, str) and len(s) > 40
    assert repr(s) == str(s)  # a terminal prints the text, not a quoted string of \n
    html = res._repr_html_()
    assert html.startswith("<") and ("<table" in html or "<pre>" in html)
    assert str(res) == str(s)


@pytest.mark.parametrize("name", NAMES)
def test_repr_is_one_short_line(fits, name):
    r = repr(fits[name])
    assert r.startswith(f"<{type(fits[name]).__name__}") and "\n" not in r and len(r) < 250, r
    assert "array(" not in r


@pytest.mark.parametrize("name", NAMES)
def test_tidy_is_a_dataframe_with_estimates(fits, name):
    t = fits[name].tidy()
    assert isinstance(t, pd.DataFrame) and len(t)
    assert "estimate" in t.columns or "point" in t.columns


@pytest.mark.parametrize("name", NAMES)
def test_plot_returns_axes_and_draws_one_figure(fits, name):
    plt.close("all")
    out = fits[name].plot()
    axes = out.flat if isinstance(out, np.ndarray) else [out]
    assert all(isinstance(a, matplotlib.axes.Axes) for a in axes)
    assert not isinstance(out, matplotlib.figure.Figure)
    assert len(plt.get_fignums()) == 1  # one pyplot figure: the notebook shows it once
    fig, ax = plt.subplots()
    if not isinstance(out, np.ndarray):  # single-panel plots draw into the Axes given
        assert fits[name].plot(ax=ax) is ax
    assert figure_of(out) is out_figure(out)
    plt.close("all")


def out_figure(out):
    return (out.flat[0] if isinstance(out, np.ndarray) else out).figure


def test_summary_html_escapes_and_lists_tables():
    s = Summary("Model <x>\n  n: 3\n\nmore", {"Coefs": pd.DataFrame({"estimate": [1.5]}, index=["a&b"])},
                notes=["a note"])
    html = s._repr_html_()
    assert "Model &lt;x&gt;" in html and "<h4>Coefs</h4>" in html and "a&amp;b" in html and "a note" in html
    assert "more" not in html.split("<h4>")[0]  # the head is the first paragraph
    assert s.splitlines()[0] == "Model <x>"


def test_fitted_attributes_answer_to_both_spellings(fits):
    assert fits["transitions"].states == fits["transitions"].states_
    assert fits["trajectories"].fixed_effects_ is fits["trajectories"].fixed_effects
    assert fits["groups"].k == fits["groups"].k_
    with pytest.raises(AttributeError, match="no attribute 'nothing_'"):
        _ = fits["ordinal"].nothing_


def test_effectiveness_and_power_tidy_in_the_vocabulary(fits):
    """tidy() of the effectiveness and power results carries their own estimates in the vocabulary's columns."""
    did = fits["did"]
    t = did.tidy()
    cols = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
    assert t.columns.tolist() == ["term", "event_month", *cols]
    np.testing.assert_array_equal(t.loc[t["term"] == "att", cols].to_numpy(), did.overall[cols].to_numpy())
    et = t[t["term"] == "event_time"]
    np.testing.assert_array_equal(et["event_month"], did.event_time.index.to_numpy(float))
    np.testing.assert_array_equal(et[cols].to_numpy(), did.event_time[cols].to_numpy())
    es = fits["event_study"].tidy()
    assert es["estimate"].equals(fits["event_study"].rates["rate"]) and {"std_error", "ci_lower"} <= set(es)
    pw = fits["power"]
    row = pw.tidy().iloc[0]
    assert (row["estimate"], row["std_error"], row["ci_lower"], row["ci_upper"]) == (
        pw.power, pw.mc_se, pw.ci_lower, pw.ci_upper)
    assert fits["power_curve"].tidy()["estimate"].tolist() == fits["power_curve"].table["power"].tolist()
    mde = fits["mde"].tidy()
    assert mde["estimate"].iloc[0] == fits["mde"].effect and np.isnan(mde["ci_lower"].iloc[0])  # no interval here
    assert "Power" in fits["power"].summary().tables and "Event-time effects" in did.summary().tables
