"""Indicators computed from a study, checked against direct computation."""

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal import indicators


@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=1500, seed=21)


def _first_latest(study, outcome):
    r = study.readings
    r = r[(r["outcome"] == outcome) & r["score"].notna() & (r["reading_type"] != "follow_up")]
    r = r.sort_values(["episode_id", "reading_date"])
    g = r.groupby("episode_id", observed=True)["score"]
    return pd.DataFrame({"first": g.first(), "last": g.last(), "n": g.size()})


def test_share_improving_matches_a_direct_count(study):
    fl = _first_latest(study, "managing_money")
    two = fl[fl["n"] >= 2]
    v = indicators.compute("share_improving", study, outcome="managing_money")
    assert v.n == len(two) and v.count == int((two["last"] > two["first"]).sum())
    assert v.value == pytest.approx(v.count / v.n)
    assert v.ci_lower < v.value < v.ci_upper
    assert v.missing_share == pytest.approx(1 - len(two) / len(fl))


def test_moved_between_stages_counts_each_episode_once(study):
    v = indicators.compute("moved_between_stages", study, outcome="managing_accommodation")
    r = study.long("managing_accommodation", include_follow_up=False)
    expected = 0
    for _, s in r.groupby("episode_id", observed=True)["score"]:
        s = s.to_numpy()
        low_before = np.maximum.accumulate(s <= 2)
        expected += bool(np.any((s[1:] >= 4) & low_before[:-1]))
    assert v.value == expected
    by_year = sum(indicators.compute("moved_between_stages", study, outcome="managing_accommodation",
                                     financial_year=y).value for y in range(2019, 2026))
    assert by_year == expected


def test_filters_and_display_names(study):
    a = indicators.compute("share_reaching_stage", study, outcome="Managing money", local_authority="Caerdydd")
    b = indicators.compute("share_reaching_stage", study, outcome="managing_money", local_authority="Cardiff")
    assert a.value == b.value and a.n == b.n


def test_wilson_interval_known_value():
    lo, hi = indicators.wilson_interval(10, 100)
    assert lo == pytest.approx(0.0552, abs=1e-4) and hi == pytest.approx(0.1744, abs=1e-4)


def test_bad_input(study):
    with pytest.raises(KeyError, match="unknown indicator 'nope'"):
        indicators.compute("nope", study)
    with pytest.raises(TypeError, match="takes no parameter 'stage'"):
        indicators.compute("share_improving", study, outcome="managing_money", stage=3)
    with pytest.raises(KeyError, match="not an outcome area"):
        indicators.compute("share_improving", study, outcome="happiness")


def test_names_and_signature_describe_the_registry():
    names = indicators.names()
    assert names == sorted(indicators.available()["name"]) and "share_reaching_stage" in names
    assert list(indicators.signature("share_reaching_stage").parameters)[:3] == ["study", "outcome", "stage"]
    with pytest.raises(KeyError, match="unknown indicator 'share_reachin'; available: .*share_reaching_stage"):
        indicators.signature("share_reachin")
