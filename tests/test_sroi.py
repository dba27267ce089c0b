"""Social return on investment: worked examples by hand, adjustments, bad input, data-driven maps."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal import indicators, sroi
from longitudinal.sroi import ImpactMapError


def one_outcome(**over):
    o = {"name": "Settled housing", "stakeholder": "Service users", "quantity": 10, "proxy_value": 10000,
         "price_year": 2025, "duration_years": 2, "deadweight": 0.2, "displacement": 0.0, "attribution": 0.25,
         "drop_off": 0.5}
    o.update(over)
    return o


def simple_map(outcomes=None, discount=None, inputs=None):
    return {"name": "Worked", "price_year": 2025,
            "discount": discount if discount is not None else {"rate": 0.035, "timing": "end"},
            "inputs": inputs or [{"name": "Grant", "value": 100000}],
            "outcomes": outcomes or [one_outcome()]}


@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=1200, seed=4)


# ------------------------------------------------------------------ worked examples
def test_worked_example_constant_rate_first_year_discounted():
    # V1 = 10 × 10,000 × (1 − 0.2)(1 − 0)(1 − 0.25) = 60,000
    # V2 = 60,000 × (1 − 0.5)                        = 30,000
    # PV = 60,000 / 1.035 + 30,000 / 1.035²  = 57,971.0145 + 28,005.3210 = 85,976.3355
    r = sroi.evaluate(simple_map())
    assert r.year_by_year["value"].tolist() == pytest.approx([60000.0, 30000.0])
    assert r.present_value == pytest.approx(85976.3355, abs=1e-3)
    assert r.inputs_value == 100000
    assert r.npv == pytest.approx(85976.3355 - 100000, abs=1e-3)
    assert r.sroi_ratio == pytest.approx(0.859763355, abs=1e-8)
    assert r.net_sroi_ratio == pytest.approx(-0.140236645, abs=1e-8)
    # payback = inputs / (first-year impact / 12) = 100,000 / 5,000 = 20 months
    assert r.payback_months == pytest.approx(20.0)


def test_worked_example_timing_conventions():
    # first year not discounted: PV = 60,000 + 30,000 / 1.035 = 88,985.5072
    r = sroi.evaluate(simple_map(discount={"rate": 0.035, "first_year_discounted": False}))
    assert r.present_value == pytest.approx(60000 + 30000 / 1.035, rel=1e-12)
    assert r.present_value == pytest.approx(88985.5072, abs=1e-3)
    # mid-year: PV = 60,000 / 1.035^0.5 + 30,000 / 1.035^1.5 = 58,976.7825 + 28,491.1993
    r = sroi.evaluate(simple_map(discount={"rate": 0.035, "timing": "mid"}))
    assert r.present_value == pytest.approx(60000 / 1.035 ** 0.5 + 30000 / 1.035 ** 1.5, rel=1e-12)


def test_deductions_multiply_not_sum():
    # (1 − 0.4)(1 − 0.1)(1 − 0.3) = 0.378, not 1 − 0.8 = 0.2
    r = sroi.evaluate(simple_map([one_outcome(deadweight=0.4, displacement=0.1, attribution=0.3, drop_off=0.0,
                                              duration_years=1)]))
    assert r.outcomes["impact_year1"].iloc[0] == pytest.approx(10 * 10000 * 0.378)


def test_green_book_schedule_and_year_31():
    # 32 years, no drop-off, V = 1,000 a year: years 1–30 at 3.5%, years 31–32 at 3.0% on top of D(30)
    o = one_outcome(quantity=1, proxy_value=1000, deadweight=0, attribution=0, drop_off=0, duration_years=32)
    r = sroi.evaluate(simple_map([o], discount="green_book"))
    d30 = 1.035 ** -30
    by_hand = sum(1000 * 1.035 ** -t for t in range(1, 31)) + 1000 * d30 * (1 / 1.03 + 1 / 1.03 ** 2)
    assert r.present_value == pytest.approx(by_hand, rel=1e-12)
    d = sroi.Discount.green_book()
    assert d.rates(126)[[0, 29, 30, 74, 75, 124, 125]].tolist() == [0.035, 0.035, 0.03, 0.03, 0.025, 0.025, 0.02]


def test_default_discount_is_green_book_first_year_discounted():
    m = sroi.ImpactMap.from_dict({**simple_map(), "discount": None})
    assert m.discount == sroi.Discount(sroi.GREEN_BOOK, "end")


def test_proxy_restated_with_deflator():
    # HACT temporary → settled housing £8,019 (2015-16 prices) in 2025-26 prices = 8,019 × D(2025) / D(2015)
    defl = sroi.load_deflators()
    assert "HM Treasury" in defl.source
    idx = defl.table.set_index("financial_year")["deflator"]
    o = one_outcome(proxy="temporary_to_settled_housing", proxy_value=None, price_year=None, quantity=1,
                    deadweight=0, attribution=0, duration_years=1)
    r = sroi.evaluate(simple_map([o]))
    assert r.outcomes["proxy_value"].iloc[0] == pytest.approx(8019 * idx[2025] / idx[2015])
    assert r.outcomes["proxy_source"].iloc[0].startswith("HACT")


def test_proxy_library_has_the_hact_values_labelled_illustrative():
    lib = sroi.load_proxies()
    want = {"full_time_employment": (10767, 2014), "relief_from_heavy_debt": (9428, 2014),
            "rough_sleeping_to_secure_housing": (24467, 2015), "temporary_to_settled_housing": (8019, 2015)}
    for key, (value, year) in want.items():
        assert (lib[key].value, lib[key].price_year) == (value, year)
        assert "illustrative" in lib[key].note.lower() and lib[key].source


def test_blank_adjustment_takes_published_median_and_says_so():
    o = one_outcome()
    del o["displacement"]
    r = sroi.evaluate(simple_map([o]))
    row = r.adjustments.set_index("adjustment").loc["displacement"]
    assert row["value"] == 0.175 and row["status"] == "default" and "383" in row["basis"]
    assert r.adjustments.set_index("adjustment").loc["deadweight", "status"] == "assumed"


def test_percent_strings_accepted():
    r1 = sroi.evaluate(simple_map([one_outcome(deadweight="20%", attribution="25 %")]))
    r2 = sroi.evaluate(simple_map())
    assert r1.present_value == pytest.approx(r2.present_value)


def test_yaml_xlsx_csv_examples_agree():
    a = sroi.evaluate(sroi.DEFAULT_MAP)
    b = sroi.evaluate(sroi.DEFAULT_MAP.with_suffix(".xlsx"))
    c = sroi.evaluate(sroi.DEFAULT_MAP.with_suffix(".csv"))
    for r in (b, c):
        assert r.headline() == pytest.approx(a.headline(), rel=1e-12)
        assert r.impact_map.price_year == 2025
    assert a.sroi_ratio > 1


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("field, value, message", [
    ("deadweight", 1.4, "outside 0–1"),
    ("attribution", -0.1, "outside 0–1"),
    ("drop_off", "140%", "outside 0–100%"),
    ("displacement", "lots", "expected a share"),
    ("quantity", -3, "non-negative"),
    ("proxy_value", -10, "non-negative"),
    ("duration_years", 0, "at least 1"),
    ("duration_years", 1.5, "whole number"),
])
def test_bad_values_name_row_and_field(field, value, message):
    with pytest.raises(ImpactMapError) as e:
        sroi.evaluate(simple_map([one_outcome(), one_outcome(name="Debt", **{field: value})]))
    text = str(e.value)
    assert "row 2 (Debt)" in text and repr(field) in text and message in text
    assert e.value.field == field


def test_missing_and_unknown_proxy():
    with pytest.raises(ImpactMapError, match=r"row 1 \(Settled housing\), field 'proxy_value': missing proxy"):
        sroi.evaluate(simple_map([one_outcome(proxy_value=None, price_year=None)]))
    with pytest.raises(ImpactMapError, match=r"field 'proxy': proxy 'unicorns' is not in the library"):
        sroi.evaluate(simple_map([one_outcome(proxy="unicorns", proxy_value=None, price_year=None)]))
    with pytest.raises(ImpactMapError, match=r"field 'price_year'"):
        sroi.evaluate(simple_map([one_outcome(price_year=None)]))


def test_unknown_indicator_and_missing_study(study):
    with pytest.raises(ImpactMapError, match=r"field 'indicator': unknown indicator 'nope'"):
        sroi.evaluate(simple_map([one_outcome(quantity={"indicator": "nope", "params": {}})]))
    o = one_outcome(quantity={"indicator": "moved_between_stages", "params": {"outcome": "managing_money"}})
    with pytest.raises(ImpactMapError, match="needs a study"):
        sroi.evaluate(simple_map([o]))
    bad = one_outcome(quantity={"indicator": "moved_between_stages", "params": {"outcome": "flying"}})
    with pytest.raises(ImpactMapError, match=r"row 1 .*field 'indicator'.*not an outcome area"):
        sroi.evaluate(simple_map([bad]), study)
    share = one_outcome(quantity={"indicator": "share_improving", "params": {"outcome": "managing_money"}})
    with pytest.raises(ImpactMapError, match="not a count: give multiply_by"):
        sroi.evaluate(simple_map([share]), study)


def test_price_year_outside_deflator_table():
    with pytest.raises(ImpactMapError, match=r"field 'price_year': price year 1900 is not in the deflator table"):
        sroi.evaluate(simple_map([one_outcome(price_year=1900)]))


def test_csv_errors_name_the_file_row(tmp_path):
    df = pd.read_csv(sroi.DEFAULT_MAP.with_suffix(".csv"))
    df.loc[2, "Attribution"] = "140%"
    p = tmp_path / "map.csv"
    df.to_csv(p, index=False)
    with pytest.raises(ImpactMapError, match=r"row map.csv:4 \(Full-time employment\), field 'attribution'"):
        sroi.ImpactMap.load(p, price_year=2025, inputs=[{"name": "g", "value": 1}])
    df = pd.read_csv(sroi.DEFAULT_MAP.with_suffix(".csv")).rename(columns={"Quantity": "Qty"})
    df.to_csv(p, index=False)
    with pytest.raises(ImpactMapError, match="unknown column 'Qty'"):
        sroi.ImpactMap.load(p, price_year=2025, inputs=[{"name": "g", "value": 1}])


def test_no_inputs_and_zero_inputs():
    with pytest.raises(ImpactMapError, match="at least one input"):
        sroi.ImpactMap.from_dict({**simple_map(), "inputs": []})
    with pytest.raises(ImpactMapError, match="total 0"):
        sroi.evaluate(simple_map(inputs=[{"name": "g", "value": 0}]))


# ------------------------------------------------------------------ drop-off from sustained-outcome curves
def sustained_table():
    # two curves: managing_money loses 20% a year exactly; feeling_safe 10% then 30%
    rows = []
    for y, s in zip([1, 2, 3, 4], [0.8, 0.64, 0.512, 0.4096]):
        rows.append({"outcome": "managing_money", "year": y, "survival": s, "ci_lower": s - 0.05,
                     "ci_upper": s + 0.05, "at_risk": 100})
    for y, s in zip([1, 2, 3], [0.9, 0.81, 0.567]):
        rows.append({"outcome": "feeling_safe", "year": y, "survival": s, "ci_lower": s - 0.1,
                     "ci_upper": min(1, s + 0.1), "at_risk": 50})
    return pd.DataFrame(rows)


def test_drop_off_from_sustained_curves():
    t = sustained_table()
    a = sroi.estimate_drop_off(t, where={"outcome": "managing_money"})
    assert a.value == pytest.approx(0.2) and a.status == "estimated"
    # interval from the CI of S(4): 1 − ((0.4096 ± 0.05) / 0.8)^(1/3)
    assert a.ci_lower == pytest.approx(1 - (0.4596 / 0.8) ** (1 / 3))
    assert a.ci_upper == pytest.approx(1 - (0.3596 / 0.8) ** (1 / 3))
    # geometric mean of 10% and 30% over years 1→3: 1 − sqrt(0.9 × 0.7)
    b = sroi.estimate_drop_off(t, where={"outcome": "feeling_safe"})
    assert b.value == pytest.approx(1 - math.sqrt(0.9 * 0.7))
    # over the outcome's duration only
    c = sroi.estimate_drop_off(t, where={"outcome": "feeling_safe"}, years=2)
    assert c.value == pytest.approx(0.1)
    with pytest.raises(ValueError, match="several curves"):
        sroi.estimate_drop_off(t)
    with pytest.raises(ValueError, match="lacks columns"):
        sroi.estimate_drop_off(t.drop(columns="survival"))


def test_estimated_drop_off_used_in_evaluation_and_recorded():
    spec = {"from": "sustained_outcomes", "where": {"outcome": "managing_money"}}
    r = sroi.evaluate(simple_map([one_outcome(drop_off=spec, duration_years=4)]), sustained=sustained_table())
    row = r.adjustments.set_index("adjustment").loc["drop_off"]
    assert row["status"] == "estimated" and "sustained-outcome curve" in row["basis"]
    assert r.year_by_year["value"].tolist() == pytest.approx([60000 * 0.8 ** i for i in range(4)])
    # without curves: the stated fallback, recorded as assumed; without a fallback, an error
    r = sroi.evaluate(simple_map([one_outcome(drop_off={**spec, "value": 0.3})]))
    assert r.adjustments.set_index("adjustment").loc["drop_off", "status"] == "assumed"
    with pytest.raises(ImpactMapError, match="field 'drop_off'.*sustained-outcome"):
        sroi.evaluate(simple_map([one_outcome(drop_off=spec)]))
    # a curve that cannot give a drop-off (one year only) falls back to the stated value, saying why
    r = sroi.evaluate(simple_map([one_outcome(drop_off={**spec, "value": 0.3})]),
                      sustained=sustained_table().query("year == 1"))
    row = r.adjustments.set_index("adjustment").loc["drop_off"]
    assert row["value"] == 0.3 and row["status"] == "assumed" and "at least two years" in row["basis"]


def test_deadweight_from_comparison_group_and_counterfactual_rate(study):
    params = {"outcome": "managing_money", "stage": 4}
    comp = lg.simulate(people=600, seed=99).subset(service_type="long_term")
    obs = indicators.compute("share_reaching_stage", study, **params)
    cf = indicators.compute("share_reaching_stage", comp, **params)
    spec = {"from": "comparison", "indicator": "share_reaching_stage", "params": params}
    r = sroi.evaluate(simple_map([one_outcome(deadweight=spec)]), study, comparison=comp)
    row = r.adjustments.set_index("adjustment").loc["deadweight"]
    assert row["value"] == pytest.approx(min(1.0, cf.value / obs.value))
    assert row["status"] == "estimated" and "comparison group" in row["basis"]
    spec = {"from": "counterfactual_rate", "rate": 0.1, "source": "national survey", "indicator":
            "share_reaching_stage", "params": params}
    r = sroi.evaluate(simple_map([one_outcome(deadweight=spec)]), study)
    row = r.adjustments.set_index("adjustment").loc["deadweight"]
    assert row["value"] == pytest.approx(0.1 / obs.value) and "national survey" in row["basis"]
    with pytest.raises(ImpactMapError, match="deadweight is to be estimated from a comparison group, but no "
                                             "comparison group was given"):
        sroi.evaluate(simple_map([one_outcome(deadweight={**spec, "from": "comparison"})]), study)


def test_adjustments_are_not_estimated_from_a_handful_of_people(study):
    # A curve followed by fewer than MIN_EVIDENCE people is flat by chance, not evidence of no drop-off.
    t = sustained_table().query("outcome == 'managing_money'").copy()
    t["at_risk"] = [200, 150, sroi.MIN_EVIDENCE - 1, 3]
    a = sroi.estimate_drop_off(t)  # years 1-2 only: 1 - 0.64/0.8 = 0.2
    assert a.value == pytest.approx(0.2) and "years 1–2" in a.basis
    t["at_risk"] = [200, 1, 1, 1]
    with pytest.raises(ValueError, match="follows 1 of the people into year 2 .*fewer than 30"):
        sroi.estimate_drop_off(t)
    spec = {"from": "sustained_outcomes", "where": {"outcome": "managing_money"}, "value": 0.3}
    r = sroi.evaluate(simple_map([one_outcome(drop_off=spec)]), sustained=t)
    row = r.adjustments.set_index("adjustment").loc["drop_off"]
    assert row["value"] == 0.3 and row["status"] == "assumed" and "fewer than 30" in row["basis"]
    # deadweight: a comparison group of under 30 people is not evidence either
    params = {"outcome": "managing_money", "stage": 4}
    tiny = lg.simulate(people=40, seed=5).subset(local_authority="Cardiff")
    n_tiny = indicators.compute("share_reaching_stage", tiny, **params).n
    assert n_tiny < sroi.MIN_EVIDENCE
    spec = {"from": "comparison", "indicator": "share_reaching_stage", "params": params, "value": 0.25}
    r = sroi.evaluate(simple_map([one_outcome(deadweight=spec)]), study, comparison=tiny)
    row = r.adjustments.set_index("adjustment").loc["deadweight"]
    assert row["value"] == 0.25 and row["status"] == "assumed"
    assert f"rests on {n_tiny} people (fewer than 30)" in row["basis"]
    with pytest.raises(ImpactMapError, match=f"row .*field 'deadweight'.*rests on {n_tiny} people"):
        sroi.evaluate(simple_map([one_outcome(deadweight={k: v for k, v in spec.items() if k != "value"})]),
                      study, comparison=tiny)


# ------------------------------------------------------------------ the study: cohorts, spend
def test_data_driven_map_per_year_and_cumulative(study):
    path = sroi.DEFAULT_MAP.with_name("example_study.yaml")
    r = sroi.evaluate(path, study)
    years = study.financial_years
    assert r.cohorts["cohort"].tolist() == years
    defl = sroi.load_deflators().table.set_index("financial_year")["deflator"]
    for fy in (years[0], years[3]):
        one = sroi.evaluate(path, study, year=fy)
        q = indicators.compute("moved_between_stages", study, outcome="managing_accommodation", from_max=2,
                               to_min=4, financial_year=fy).value
        assert one.outcomes["quantity"].iloc[0] == q
        spend = study.spend.loc[study.spend["financial_year"] == fy, "spend_gbp"].sum()
        assert one.inputs_value == pytest.approx(spend * defl[2025] / defl[fy])
        # the cohort's row of the cumulative run is the same evaluation discounted to the first year
        row = r.cohorts.set_index("cohort").loc[fy]
        off = fy - years[0]
        assert row["inputs_value"] == pytest.approx(one.inputs_value)
        assert row["present_value"] == pytest.approx(one.present_value * 1.035 ** -off, rel=1e-10)
    assert r.present_value == pytest.approx(r.cohorts["present_value"].sum())
    assert r.inputs_value == pytest.approx(r.cohorts["inputs_discounted"].sum())
    assert r.by_financial_year["present_value"].sum() == pytest.approx(r.present_value)
    with pytest.raises(ValueError, match="not in the study"):
        sroi.evaluate(path, study, year=1999)



def test_quantities_given_are_not_counted_again(study, monkeypatch):
    """evaluate(quantities=) is evaluate().with_quantities() without recounting the count indicators (a
    publication passes the counts it rounded): the same figures, the same Monte Carlo."""
    m = sroi.ImpactMap.load(sroi.DEFAULT_MAP.with_name("example_study.yaml"))
    share = one_outcome(name="Improving", quantity={"indicator": "share_improving", "multiply_by": 40,
                                                    "params": {"outcome": "managing_money"}})
    m = sroi.ImpactMap.from_dict({"name": "mixed", "price_year": 2025, "inputs": [{"name": "SP", "from_spend": True}],
                                  "outcomes": [*[{"name": o.name, "stakeholder": o.stakeholder,
                                                  "quantity": {"indicator": o.indicator,
                                                               "params": dict(o.indicator_params)},
                                                  "proxy_value": 1000, "price_year": 2025, "duration_years": 2,
                                                  "drop_off": 0.3} for o in m.outcomes[:2]],
                                               share, one_outcome(name="Stated", quantity=12)]})
    given = [35.0, 0.0, 11.0, 10.0]
    ref = sroi.evaluate(m, study, year=2022).with_quantities(given)
    counted = []
    real = indicators.compute
    monkeypatch.setattr(indicators, "compute", lambda name, *a, **k: counted.append(name) or real(name, *a, **k))
    got = sroi.evaluate(m, study, year=2022, quantities=given)
    assert counted == ["share_improving"]  # the proportion's interval is scaled from its own
    same = [c for c in ref.outcomes.columns if c != "indicator_missing_share"]
    pd.testing.assert_frame_equal(got.outcomes[same], ref.outcomes[same])
    assert got.outcomes["indicator_missing_share"].isna().tolist() == [True, True, False, True]
    assert got.headline() == ref.headline()
    # a count of 0 keeps its Poisson interval (0 to 3.69)
    assert got.outcomes.loc[1, ["quantity_ci_lower", "quantity_ci_upper"]].tolist() == pytest.approx([0, 3.689],
                                                                                                     abs=1e-3)
    a, b = got.monte_carlo(draws=300, seed=2), ref.monte_carlo(draws=300, seed=2)
    np.testing.assert_array_equal(a.ratios, b.ratios)
    with pytest.raises(ValueError, match="one per outcome"):
        sroi.evaluate(m, study, year=2022, quantities=[1.0])

def test_local_authority_quantity_and_spend(study):
    m = {"name": "Cardiff", "price_year": 2025, "inputs": [{"name": "SP", "from_spend": {"local_authority":
                                                                                           "Caerdydd"}}],
         "outcomes": [one_outcome(quantity={"indicator": "moved_between_stages", "params": {
             "outcome": "managing_money", "local_authority": "Cardiff"}})]}
    r = sroi.evaluate(m, study, year=2022)
    sp = study.spend
    cash = sp[(sp.financial_year == 2022) & (sp.local_authority == "Cardiff")]["spend_gbp"].sum()
    assert r.inputs["cash_gbp"].iloc[0] == pytest.approx(cash)


# ------------------------------------------------------------------ sensitivity
def test_switching_values_bring_ratio_to_one():
    # inputs such that neither outcome alone repays them: switching values exist inside 0–1
    outcomes = [one_outcome(quantity=20), one_outcome(name="Debt", quantity=8, drop_off=0.2, duration_years=3)]
    grant = [{"name": "Grant", "value": 200000}]
    r = sroi.evaluate(simple_map(outcomes, inputs=grant))
    sv = r.switching_values()
    assert r.sroi_ratio > 1
    for _, row in sv.iterrows():
        if not math.isfinite(row["switching_value"]):
            assert row["note"]
            continue
        # the map evaluated afresh with that one parameter at its switching value: a ratio of 1
        changed = [dict(o, **{row["parameter"]: row["switching_value"]}) if o["name"] == row["outcome"] else o
                   for o in outcomes]
        assert sroi.evaluate(simple_map(changed, inputs=grant)).sroi_ratio == pytest.approx(1.0, abs=1e-9), \
            row.to_dict()
    dw = sv.set_index(["outcome", "parameter"]).loc[("Settled housing", "deadweight")]
    # by hand: PV_other + PV_k (1 − a*)/(1 − 0.2) = I  →  a* = 1 − 0.8 (I − PV_other) / PV_k
    pv_k = r.outcomes.set_index("outcome").loc["Settled housing", "present_value"]
    other = r.present_value - pv_k
    assert 0 < dw["switching_value"] < 1
    assert dw["switching_value"] == pytest.approx(1 - 0.8 * (200000 - other) / pv_k)
    assert sv["switching_value"].notna().sum() >= 10


def test_one_way_and_tornado_order():
    r = sroi.evaluate(sroi.DEFAULT_MAP)
    ow = r.one_way()
    assert (ow["swing"].diff().dropna() <= 1e-12).all()
    assert set(ow["parameter"]) <= {"quantity", "proxy_value", *sroi.ADJUSTMENTS}
    adj = ow[ow["parameter"].isin(["deadweight", "attribution", "displacement", "drop_off"])]
    # more deduction, less return
    assert (adj["ratio_high"] <= adj["ratio_low"] + 1e-12).all()
    custom = r.one_way(ranges={("Settled housing", "deadweight"): (0.0, 1.0)})
    row = custom[(custom.outcome == "Settled housing") & (custom.parameter == "deadweight")].iloc[0]
    pv_k = r.outcomes.set_index("outcome").loc["Settled housing", "present_value"]
    assert row["ratio_high"] == pytest.approx((r.present_value - pv_k) / r.inputs_value)
    assert row["ratio_low"] == pytest.approx((r.present_value - pv_k + pv_k / 0.6) / r.inputs_value)


def test_monte_carlo_reproducible_and_centred():
    r = sroi.evaluate(sroi.DEFAULT_MAP)
    a = r.monte_carlo(draws=20_000, seed=7)
    b = r.monte_carlo(draws=20_000, seed=7)
    c = r.monte_carlo(draws=20_000, seed=8)
    assert a.ratios.tobytes() == b.ratios.tobytes()
    assert a.ratios.tobytes() != c.ratios.tobytes()
    lo, hi = a.interval
    assert lo < a.median < hi and lo < r.sroi_ratio < hi
    assert a.table()["draws"].iloc[0] == 20_000
    # default adjustment draws: Beta with the stated mean (0.4) and sd 0.1
    d = a.distributions[(0, "deadweight")]
    from longitudinal.sroi.distributions import draw

    x = draw(d, np.random.default_rng(0), 200_000)
    assert x.mean() == pytest.approx(0.4, abs=0.002) and x.std() == pytest.approx(0.1, abs=0.002)
    # a stated 0 is uncertain upwards to the published median
    assert a.distributions[(0, "displacement")] == {"dist": "triangular", "low": 0.0, "mode": 0.0, "high": 0.175}


def test_monte_carlo_with_fixed_parameters_equals_point():
    fixed = {k: {"dist": "fixed", "value": v} for k, v in
             {"deadweight": 0.2, "displacement": 0.0, "attribution": 0.25, "drop_off": 0.5}.items()}
    fixed["proxy_value"] = {"dist": "fixed", "value": 10000}
    r = sroi.evaluate(simple_map([one_outcome(distributions=fixed)]))
    mc = r.monte_carlo(draws=500, seed=1)
    assert np.allclose(mc.ratios, r.sroi_ratio, rtol=1e-12)


def test_monte_carlo_matches_independent_loop():
    # a plain Python re-computation of a few draws with the same random numbers
    o = one_outcome(distributions={"proxy_value": {"dist": "lognormal", "median": 10000, "sigma": 0.2},
                                   "deadweight": {"dist": "triangular", "low": 0.1, "mode": 0.2, "high": 0.5},
                                   "attribution": {"dist": "beta", "a": 3, "b": 9},
                                   "drop_off": {"dist": "uniform", "low": 0.3, "high": 0.7},
                                   "displacement": {"dist": "fixed", "value": 0.0}})
    r = sroi.evaluate(simple_map([o]))
    mc = r.monte_carlo(draws=50, seed=3)
    rng = np.random.default_rng(3)
    # order of draws: proxy, deadweight, displacement (fixed: no draw), attribution, drop_off
    p = 10000 * np.exp(0.2 * rng.standard_normal(50))
    dw = rng.triangular(0.1, 0.2, 0.5, 50)
    at = rng.beta(3, 9, 50)
    d = rng.uniform(0.3, 0.7, 50)
    v1 = 10 * p * (1 - dw) * (1 - at)
    expect = (v1 / 1.035 + v1 * (1 - d) / 1.035 ** 2) / 100000
    assert np.allclose(mc.ratios, expect, rtol=1e-12)


def test_bad_distribution_spec():
    with pytest.raises(ImpactMapError, match="field 'distributions.deadweight'"):
        sroi.evaluate(simple_map([one_outcome(distributions={"deadweight": {"dist": "gamma"}})]))
    with pytest.raises(ImpactMapError, match="triangular needs low <= mode <= high"):
        sroi.evaluate(simple_map([one_outcome(distributions={"deadweight": {"dist": "triangular", "low": 0.5,
                                                                             "mode": 0.2, "high": 0.6}})]))


# ------------------------------------------------------------------ results object, figures, CLI
def test_summary_json_and_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = sroi.evaluate(sroi.DEFAULT_MAP)
    text = r.summary()
    assert "SROI ratio" in text and "Green Book" in text and "HM Treasury" in text
    d = json.loads(json.dumps(r.to_dict()))
    for key in ("present_value", "inputs_value", "npv", "sroi_ratio", "net_sroi_ratio", "payback_months",
                "year_by_year"):
        assert key in d
    for kind in ("value", "pv_by_year", "tornado", "monte_carlo"):
        ax = r.plot(kind, draws=2000) if kind == "monte_carlo" else r.plot(kind)
        assert isinstance(ax, matplotlib.axes.Axes) and ax.get_title()
        plt.close(ax.figure)
    with pytest.raises(ValueError, match="kind must be"):
        r.plot("pie")


def test_cli(tmp_path):
    from typer.testing import CliRunner

    from longitudinal.cli import app

    run = CliRunner()
    res = run.invoke(app, ["sroi", str(sroi.DEFAULT_MAP), "--json", "--draws", "2000", "--seed", "3"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["sroi_ratio"] == pytest.approx(sroi.evaluate(sroi.DEFAULT_MAP).sroi_ratio)
    assert d["monte_carlo"]["draws"] == 2000 and len(d["year_by_year"]) == 8
    again = run.invoke(app, ["sroi", str(sroi.DEFAULT_MAP), "--json", "--draws", "2000", "--seed", "3"])
    assert again.stdout == res.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(sroi.DEFAULT_MAP.read_text().replace("deadweight: 0.40", "deadweight: 40"))
    res = run.invoke(app, ["sroi", str(bad)])
    assert res.exit_code == 1 and "row 1 (Settled housing)" in res.output and "deadweight" in res.output
    res = run.invoke(app, ["sroi", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2


def test_drop_off_calls_lg_sustained_outcomes_when_it_exists(study, monkeypatch):
    calls = {}

    class Fake:
        def by_year(self):
            return sustained_table()

    def fake(st, **params):
        calls["params"] = params
        calls["study"] = st
        return Fake()

    monkeypatch.setattr(lg, "sustained_outcomes", fake, raising=False)
    spec = {"from": "sustained_outcomes", "params": {"outcome": "managing_money"},
            "where": {"outcome": "managing_money"}}
    r = sroi.evaluate(simple_map([one_outcome(drop_off=spec)]), study)
    assert calls["params"] == {"outcome": "managing_money"} and calls["study"].readings is study.readings
    assert r.adjustments.set_index("adjustment").loc["drop_off", "value"] == pytest.approx(0.2)


def test_spend_input_needs_study_and_deflators_need_a_source(tmp_path):
    with pytest.raises(ImpactMapError, match=r"row input 1 \(SP\), field 'from_spend'.*needs a study"):
        sroi.evaluate(simple_map(inputs=[{"name": "SP", "from_spend": True}]))
    p = tmp_path / "d.csv"
    p.write_text("financial_year,deflator\n2025,100\n")
    with pytest.raises(sroi.DeflatorError, match="names no source"):
        sroi.load_deflators(p)


def test_evaluate_by_area_matches_subset_evaluation(study):
    path = sroi.DEFAULT_MAP.with_name("example_study.yaml")
    t = sroi.evaluate_by(path, study, by="local_authority", year=2022)
    assert len(t) == study.episodes["local_authority"].nunique()
    row = t.set_index("local_authority").loc["Cardiff"]
    one = sroi.evaluate(path, study.subset(local_authority="Cardiff"), year=2022)
    assert row["sroi_ratio"] == pytest.approx(one.sroi_ratio)
    assert t["inputs_value"].sum() == pytest.approx(sroi.evaluate(path, study, year=2022).inputs_value)


def test_drop_off_from_the_real_sustained_outcomes_when_available(study):
    if getattr(lg, "sustained_outcomes", None) is None:
        pytest.skip("lg.sustained_outcomes is not available in this tree yet")
    so = lg.sustained_outcomes(study, "managing_accommodation", by=["outcome"], n_boot=30, seed=1)
    table = so.by_year()
    a = sroi.estimate_drop_off(table)
    s = table.dropna(subset=["survival"])
    assert a.value == pytest.approx(
        1 - (s["survival"].iloc[-1] / s["survival"].iloc[0]) ** (1 / (s["year"].iloc[-1] - s["year"].iloc[0])))
    assert a.ci_lower <= a.value <= a.ci_upper


@pytest.mark.parametrize("where, bad, message", [
    ("outcome", {"dead_weight": 0.9}, r"row 1 \(Settled housing\), field 'dead_weight': unknown key 'dead_weight' "
                                      r"in an outcome \(did you mean 'deadweight'\?\)"),
    ("map", {"input": [{"name": "Grant", "value": 1}]}, r"field 'input': unknown key 'input' in the impact map "
                                                         r"\(did you mean 'inputs'\?\)"),
    ("input", {"valeu": 5}, r"row input 1 \(Grant\), field 'valeu'.*did you mean 'value'"),
    ("discount", {"rate": 0.035, "timeing": "mid"}, r"field 'timeing'.*in discount \(did you mean 'timing'\?\)"),
    ("estimate", {"from": "sustained_outcomes", "valeu": 0.3}, r"field 'valeu'.*the estimate of drop_off"),
])
def test_a_misspelt_key_is_an_error_not_a_silent_default(where, bad, message):
    # A YAML key the map does not know would otherwise be ignored and the adjustment take its default
    # (here deadweight 20% instead of the intended 90%).
    m = simple_map()
    if where == "outcome":
        m["outcomes"][0].update(bad)
    elif where == "map":
        m.update(bad)
    elif where == "input":
        m["inputs"][0].update(bad)
    elif where == "discount":
        m["discount"] = bad
    else:
        m["outcomes"][0]["drop_off"] = bad
    with pytest.raises(ImpactMapError, match=message):
        sroi.evaluate(m)


def test_a_misspelt_distribution_key_is_an_error():
    m = simple_map([one_outcome(distributions={"deadweight": {"dist": "normal", "mean": 0.2, "sd": 0.05,
                                                              "sdd": 0.9}})])
    with pytest.raises(ImpactMapError, match=r"field 'sdd': unknown key 'sdd' in distributions.deadweight "
                                             r"\(normal\) \(did you mean 'sd'\?\)"):
        sroi.evaluate(m)
