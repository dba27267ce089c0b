"""Property tests of the SROI calculation (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from longitudinal import sroi

share = st.floats(0.0, 1.0, allow_nan=False)
outcome = st.fixed_dictionaries({
    "quantity": st.floats(0.0, 1e4, allow_nan=False),
    "proxy_value": st.floats(1.0, 1e5, allow_nan=False),
    "duration_years": st.integers(1, 40),
    "deadweight": share, "displacement": share, "attribution": share, "drop_off": share,
})
timing = st.sampled_from(["end", "start", "mid"])
schedule = st.one_of(st.just("green_book"), st.floats(0.0, 0.2, allow_nan=False))


def build(outs, disc, tm, inputs=1e5):
    rows = [{**o, "name": f"o{i}", "stakeholder": "S", "price_year": 2025} for i, o in enumerate(outs)]
    d = {"schedule": "green_book", "timing": tm} if disc == "green_book" else {"rate": disc, "timing": tm}
    return {"name": "p", "price_year": 2025, "discount": d, "inputs": [{"name": "g", "value": inputs}],
            "outcomes": rows}


@settings(max_examples=120, deadline=None)
@given(outs=st.lists(outcome, min_size=1, max_size=4), disc=schedule, tm=timing, data=st.data())
def test_ratio_monotone_non_increasing_in_each_adjustment(outs, disc, tm, data):
    k = data.draw(st.integers(0, len(outs) - 1))
    adj = data.draw(st.sampled_from(sroi.ADJUSTMENTS))
    lo, hi = sorted([data.draw(share), data.draw(share)])
    a = [dict(o) for o in outs]
    b = [dict(o) for o in outs]
    a[k][adj], b[k][adj] = lo, hi
    ra = sroi.evaluate(build(a, disc, tm)).sroi_ratio
    rb = sroi.evaluate(build(b, disc, tm)).sroi_ratio
    assert rb <= ra * (1 + 1e-12) + 1e-15


@settings(max_examples=60, deadline=None)
@given(outs=st.lists(outcome, min_size=1, max_size=3), disc=schedule, tm=timing,
       c=st.floats(0.01, 100.0, allow_nan=False))
def test_ratio_is_unit_free_and_pv_linear_in_quantity(outs, disc, tm, c):
    r = sroi.evaluate(build(outs, disc, tm))
    scaled = [{**o, "proxy_value": o["proxy_value"] * c} for o in outs]
    r2 = sroi.evaluate(build(scaled, disc, tm, inputs=1e5 * c))
    assert r2.sroi_ratio == pytest.approx(r.sroi_ratio, rel=1e-9, abs=1e-12)
    more = [{**o, "quantity": o["quantity"] * c} for o in outs]
    assert sroi.evaluate(build(more, disc, tm)).present_value == pytest.approx(r.present_value * c, rel=1e-9,
                                                                               abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(outs=st.lists(outcome, min_size=1, max_size=3), r1=st.floats(0.0, 0.2), r2=st.floats(0.0, 0.2), tm=timing)
def test_higher_discount_rate_lower_present_value(outs, r1, r2, tm):
    lo, hi = sorted([r1, r2])
    pv_lo = sroi.evaluate(build(outs, lo, tm)).present_value
    pv_hi = sroi.evaluate(build(outs, hi, tm)).present_value
    assert pv_hi <= pv_lo * (1 + 1e-12) + 1e-9


@settings(max_examples=60, deadline=None)
@given(o=outcome, rate=st.floats(0.0, 0.2), tm=timing)
def test_single_outcome_matches_closed_form(o, rate, tm):
    r = sroi.evaluate(build([o], rate, tm))
    keep = (1 - o["deadweight"]) * (1 - o["displacement"]) * (1 - o["attribution"])
    shift = {"end": 0.0, "start": 1.0, "mid": 0.5}[tm]
    pv = sum(o["quantity"] * o["proxy_value"] * keep * (1 - o["drop_off"]) ** (t - 1) * (1 + rate) ** -(t - shift)
             for t in range(1, o["duration_years"] + 1))
    assert r.present_value == pytest.approx(pv, rel=1e-9, abs=1e-9)
    if o["quantity"] * o["proxy_value"] * keep > 0:
        assert r.payback_months == pytest.approx(12 * 1e5 / (o["quantity"] * o["proxy_value"] * keep), rel=1e-9)
    else:
        assert math.isinf(r.payback_months)
