"""Effectiveness: recovery of the simulator's truth, biased benchmarks, agreement with second implementations."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal import effectiveness as ef
from longitudinal.simulate import true_att


@pytest.fixture(scope="module")
def big():
    """Large enough to see an effect of a few thousandths of an event per person-month."""
    return lg.simulate(people=20000, seed=3)


@pytest.fixture(scope="module")
def big_fit(big):
    return ef.staggered_did(big, "emergency_admission", seed=1)


def test_staggered_did_recovers_the_simulated_effect(big, big_fit):
    truth = true_att(big.truth, "emergency_admission", big_fit.group_time)
    row = big_fit.overall.loc["att"]
    assert truth["att"] < -0.003  # support removes admissions
    assert abs(row["estimate"] - truth["att"]) < 2.5 * row["std_error"], (row, truth["att"])
    assert row["ci_upper"] < 0  # and the design can tell
    # event months: the uniform band covers the true path after the start
    et = big_fit.event_time.loc[0:24]
    inside = (et["band_lower"] <= truth.loc[0:24]) & (truth.loc[0:24] <= et["band_upper"])
    assert inside.all(), et.join(truth.rename("truth"))[~inside]
    assert (big_fit.event_time["band_upper"] >= big_fit.event_time["ci_upper"]).all()


def test_naive_before_after_and_twfe_are_biased_on_the_same_data(big, big_fit):
    truth = true_att(big.truth, "emergency_admission", big_fit.group_time)["att"]
    b = big_fit.benchmarks
    for name in ("before_after", "twfe"):
        est, se = b.loc[name, "estimate"], b.loc[name, "std_error"]
        # the crisis before support makes both say use went UP; it went down
        assert est > 0 > truth and abs(est - truth) > 5 * se, (name, est, se, truth)


def test_pre_trend_test_passes_outside_the_crisis_and_fails_inside_it(big, big_fit):
    assert big_fit.pre_trend["p_value"] > 0.01
    assert big_fit.pre_trend["event_months"] == list(range(-24, -7))
    # without the crisis window the rise before support is (rightly) a pre-trend violation
    naive = ef.staggered_did(big, "emergency_admission", anticipation=0, benchmarks=False)
    assert naive.pre_trend["p_value"] < 1e-4


def test_placebo_starts_find_nothing(big):
    pl = ef.placebo(big, "emergency_admission", shift=24)
    row = pl.overall.loc["att"]
    assert row["ci_lower"] <= 0 <= row["ci_upper"], row


def test_honest_bounds_widen_with_m_and_start_at_the_ci(big_fit):
    hb = big_fit.honest_bounds()
    row = big_fit.overall.loc["att"]
    assert hb.loc[0, "ci_lower"] == pytest.approx(row["ci_lower"])
    assert hb.loc[0, "ci_upper"] == pytest.approx(row["ci_upper"])
    assert (np.diff(hb["ci_lower"]) <= 0).all() and (np.diff(hb["ci_upper"]) >= 0).all()
    with pytest.warns(DeprecationWarning, match="ci_lower"):
        assert hb["lower"].tolist() == hb["ci_lower"].tolist()  # the old name, for one release
    m = big_fit.breakdown_m()
    assert 0 < m < np.inf
    at = big_fit.honest_bounds([m * 0.99, m * 1.01])
    assert list(at["includes_zero"]) == [False, True]


def test_event_study_design_shows_the_rise_before_support(big):
    es = ef.effectiveness(big, "emergency_admission", design="event-study", n_boot=199)
    assert es.design == "event-study" and es.base_period == "universal"
    # relative to the month before the start, months before the crisis were lower: the rise
    assert es.event_time.loc[-24:-8, "estimate"].mean() < -0.003
    did = ef.effectiveness(big, "emergency_admission", design="did", n_boot=199)
    assert es.att == pytest.approx(did.att)  # same headline: post months share the base
    rates = ef.event_study(big, "emergency_admission", by="service_type")
    wide = rates.rates.pivot(index="event_month", columns="group", values="rate")
    assert (wide.loc[-1] > wide.loc[-12]).all()  # the SAIL picture: a rise before the start


def test_agrees_with_the_differences_package_doubly_robust():
    differences = pytest.importorskip("differences")
    s = lg.simulate(people=300, years=1, seed=5)
    p = ef.service_panel(s, "gp_event")
    p1 = dataclasses.replace(p, stratum=p.female.astype(np.int64))  # a binary covariate: saturated models
    fit = ef.staggered_did(s, "gp_event", anticipation=0, control="both", panel=p1, n_boot=99, benchmarks=False)
    n_m = p.n_months
    ids = np.flatnonzero(p.never | (p.start >= 1))
    cohort = np.where(p.never | (p.start >= n_m), np.nan, p.start.astype(float))
    df = pd.DataFrame({"id": np.repeat(ids, n_m), "t": np.tile(np.arange(n_m), ids.size),
                       "female": np.repeat(p.female[ids].astype(float), n_m),
                       "y": p.y[ids].ravel().astype(float), "cohort": np.repeat(cohort[ids], n_m)})
    att = differences.ATTgt(data=df.set_index(["id", "t"]), cohort_column="cohort", base_period="varying")
    att.fit("y ~ female", est_method="dr", control_group="not_yet_treated", progress_bar=False)
    ev = att.aggregate("event")
    ev.columns = ["att", "se", "lo", "hi", "sig"]
    both = fit.event_time[["estimate", "std_error"]].join(ev[["att", "se"]], how="inner").dropna()
    assert len(both) >= 30
    np.testing.assert_allclose(both["estimate"], both["att"], atol=1e-12)
    np.testing.assert_allclose(both["std_error"], both["se"], rtol=1e-9)


def test_twfe_benchmark_matches_least_squares_with_dummies():
    import statsmodels.formula.api as smf

    s = lg.simulate(people=60, years=1, seed=2)
    fit = ef.staggered_did(s, "gp_event", n_boot=9)
    p = ef.service_panel(s, "gp_event")
    keep = np.flatnonzero(~p.never & (p.start >= 1))  # the sample: supported (the default controls)
    n_m = p.n_months
    df = pd.DataFrame({"i": np.repeat(keep, n_m), "t": np.tile(np.arange(n_m), keep.size),
                       "y": p.y[keep].ravel().astype(float)})
    df["d"] = (df["t"] >= np.repeat(p.start[keep], n_m)).astype(float)
    ols = smf.ols("y ~ d + C(i) + C(t)", df).fit(cov_type="cluster", cov_kwds={"groups": df["i"]})
    tw = fit.benchmarks.loc["twfe"]
    assert tw["estimate"] == pytest.approx(ols.params["d"], rel=1e-9)
    # statsmodels' small-sample factor also counts the dummies' degrees of freedom
    n, k = len(df), len(ols.params)
    assert tw["std_error"] == pytest.approx(ols.bse["d"] / np.sqrt((n - 1) / (n - k)), rel=1e-6)


def test_uniform_band_is_seeded():
    s = lg.simulate(people=800, seed=6)
    a = ef.staggered_did(s, "ae_attendance", seed=4, benchmarks=False)
    b = ef.staggered_did(s, "ae_attendance", seed=4, benchmarks=False)
    c = ef.staggered_did(s, "ae_attendance", seed=5, benchmarks=False)
    pd.testing.assert_frame_equal(a.event_time, b.event_time)
    assert not np.allclose(a.event_time["band_upper"], c.event_time["band_upper"])
    pd.testing.assert_series_equal(a.event_time["ci_upper"], c.event_time["ci_upper"])


@pytest.fixture(scope="module")
def matched(big):
    return ef.matched_comparison(big, "emergency_admission", caliper=None, seed=2)


def test_matching_balances_the_pool_and_recovers_the_effect(big, matched):
    bal = matched.balance
    assert (bal["smd_before"].abs() > 0.1).any()  # the pool differs from the supported
    assert (bal["smd_after"].abs() < 0.1).all(), bal
    row = matched.overall.loc["att"]
    truth = true_att(big.truth, "emergency_admission", matched.group_time)["att"]
    assert abs(row["estimate"] - truth) < 2.5 * row["std_error"], (row, truth)
    assert "love" not in bal.columns and matched.love_plot() is not None


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_matching_agrees_with_r_matchit(tmp_path, matched):
    if subprocess.run(["Rscript", "-e", "library(MatchIt)"], capture_output=True).returncode != 0:
        pytest.skip("R package MatchIt is not installed (Debian: r-cran-matchit)")
    d = matched.sample.drop(columns=["person_id"]).copy()
    d["year"] = d["start_month"] // 12
    d["supported"] = d["supported"].astype(int)
    d["id"] = np.arange(len(d))
    d.to_csv(tmp_path / "d.csv", index=False)
    pre = [c for c in d.columns if c.startswith("log_pre_")]
    script = f"""
    suppressMessages(library(MatchIt))
    d <- read.csv("{tmp_path / 'd.csv'}")
    m <- matchit(supported ~ female + age + age_squared + {' + '.join(pre)}, data = d, method = "nearest",
                 distance = "glm", link = "linear.logit", replace = TRUE, exact = ~year, estimand = "ATT")
    s <- summary(m)
    write.csv(data.frame(distance = m$distance), "{tmp_path / 'out.csv'}", row.names = FALSE)
    write.csv(data.frame(before = s$sum.all[, "Std. Mean Diff."], after = s$sum.matched[, "Std. Mean Diff."]),
              "{tmp_path / 'smd.csv'}")
    """
    res = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    r = pd.read_csv(tmp_path / "out.csv")
    # the same propensity model
    np.testing.assert_allclose(d["logit_propensity"], r["distance"], rtol=1e-6, atol=1e-6)
    # the same standardised mean differences before matching (MatchIt scales binary ones differently)
    smd = pd.read_csv(tmp_path / "smd.csv", index_col=0)
    cont = ["age", "age_squared"] + pre
    np.testing.assert_allclose(matched.balance.loc[cont, "smd_before"], smd.loc[cont, "before"], rtol=1e-6)
    # both matchings balance every covariate. (They differ match by match: in our check MatchIt 4.5.1's
    # nearest neighbour with replacement within exact strata often did not take the control nearest on
    # its own distance; ours always does.)
    assert (smd.loc[cont + ["female"], "after"].abs() < 0.1).all()
    assert (matched.balance["smd_after"].abs() < 0.1).all()


def test_cli_prints_exactly_the_json_the_issue_names(tmp_path):
    from typer.testing import CliRunner

    from longitudinal.cli import app

    lg.simulate(people=400, seed=9).write(tmp_path / "s", format="parquet")
    res = CliRunner().invoke(app, ["effectiveness", str(tmp_path / "s"), "--service", "emergency_admission",
                                   "--design", "did", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"att", "ci_lower", "ci_upper", "n_treated", "n_control", "design", "event_time"}
    assert out["design"] == "did" and out["ci_lower"] <= out["att"] <= out["ci_upper"]
    assert [r["event_month"] for r in out["event_time"]] == list(range(-24, 25))
    assert set(out["event_time"][0]) == {"event_month", "estimate", "ci_lower", "ci_upper"}
    for design in ("event-study", "matched"):
        res = CliRunner().invoke(app, ["effectiveness", str(tmp_path / "s"), "--service", "gp_event",
                                       "--design", design, "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["design"] == design
    res = CliRunner().invoke(app, ["effectiveness", str(tmp_path / "s"), "--service", "dentist"])
    assert res.exit_code == 2 and "services present" in res.output


def test_an_impact_map_takes_its_quantity_from_the_effect_with_its_uncertainty(big, big_fit):
    from longitudinal import sroi

    r = sroi.evaluate(sroi.DEFAULT_MAP.with_name("example_effectiveness.yaml"), big)
    out = r.outcomes
    firsts = big.episodes.groupby("person_id", observed=True)["start_date"].min()
    people = lg.domain.financial_year(firsts).value_counts()
    row = big_fit.overall.loc["att"]
    for _, o in out.iterrows():
        assert o["quantity"] == pytest.approx(-row["estimate"] * 12 * people[o["cohort"]])
        assert o["quantity_ci_lower"] == pytest.approx(-row["ci_upper"] * 12 * people[o["cohort"]])
        assert "emergency_admission avoided" in o["quantity_basis"] and "did" in o["quantity_basis"]
        assert "unit cost" in o["proxy_source"] and "illustrative" in o["proxy_source"]
    dw = r.adjustments.query("adjustment == 'deadweight'").iloc[0]
    assert dw["value"] == 0 and dw["status"] == "estimated" and "counterfactual" in dw["basis"]
    # the estimate's uncertainty reaches the Monte Carlo: the ratio's spread follows the effect's
    mc = r.monte_carlo(draws=4000, seed=3)
    rel = row["std_error"] / abs(row["estimate"])
    q = mc.parameters().query("parameter == 'quantity'").iloc[0]
    assert q["distribution"] == "normal" and f"sd={rel:.4g}" in q["spec"]
    assert np.std(mc.ratios) / np.mean(mc.ratios) >= 0.9 * rel
    lo, hi = mc.interval
    assert lo < r.sroi_ratio < hi
    with pytest.raises(sroi.ImpactMapError, match="needs a study with service_use"):
        sroi.evaluate(sroi.DEFAULT_MAP.with_name("example_effectiveness.yaml"))


def test_subgroup_effects_use_every_eligible_control(big, big_fit):
    older = ef.staggered_did(big, "emergency_admission", subgroup={"lead_need": "older_people"}, n_boot=99,
                             benchmarks=False)
    others = ef.staggered_did(big, "emergency_admission", subgroup={"lead_need": "domestic_abuse"}, n_boot=99,
                              benchmarks=False)
    assert older.n_treated < big_fit.n_treated and older.n_control == big_fit.n_control
    assert older.att < 0  # support reduces admissions for older people too (the simulator's need effect 0.6)
    with pytest.raises(ValueError, match="no supported people"):
        ef.staggered_did(big, "emergency_admission", subgroup={"lead_need": "nobody"})
    cardiff = ef.staggered_did(big, "emergency_admission", subgroup={"local_authority": "Caerdydd"}, n_boot=9,
                               benchmarks=False)
    assert 0 < cardiff.n_treated < older.n_treated + others.n_treated + big_fit.n_treated


def test_report_section_for_wales_and_authorities_under_disclosure_control(big, tmp_path):
    from longitudinal.report import AnnualReport

    rep = AnnualReport(big, 2024, "Wales", seed=1, out=tmp_path / "wales")
    sec = rep.effectiveness()
    tabs = {t.name: t for t in sec.tables}
    assert set(tabs) == {"effectiveness_headline", "effectiveness_people", "effectiveness_event_study"}
    assert {f.name for f in sec.figures} == {"effectiveness_event_study", "effectiveness_effect"}
    assert (tmp_path / "wales" / "tables" / "effectiveness_headline.csv").exists()
    # the report for 2024-25 sees the linked data only to 31 March 2025: fewer people than the whole study
    fit = ef.staggered_did(big, "emergency_admission", panel=ef.service_panel(big, "emergency_admission",
                                                                               until="2025-03-31"), n_boot=9)
    people = tabs["effectiveness_people"].data["people"].astype(int).tolist()
    assert people == [fit.n_treated, fit.n_control] and fit.n_treated < 20000
    head = tabs["effectiveness_headline"].data.set_index("measure")
    assert head.iloc[0]["per 1,000 people per month"] == pytest.approx(round(fit.att * 1000, 2))
    assert "Callaway and Sant'Anna" in str(sec.text) and "per 1,000 people per month" in str(sec.text)
    # an authority where the numbers do not allow: said, and nothing published
    few = lg.simulate(people=1500, seed=4)
    small = few.episodes["local_authority"].astype(str).value_counts().index[-1]
    sec_small = AnnualReport(few, 2024, small, seed=1).effectiveness()
    assert not sec_small.tables and "too few people supported" in str(sec_small.text)
    # a study without linked data: the section says what is missing
    plain = lg.simulate(people=300, seed=2, service_use=False)
    sec_none = AnnualReport(plain, 2024, "Wales").effectiveness()
    assert not sec_none.tables and "no linked service use" in str(sec_none.text)
