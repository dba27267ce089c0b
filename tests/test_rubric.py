"""The rubric: progress and confidence at and around every threshold."""

from pathlib import Path

import numpy as np
import pytest

from longitudinal.indicators import IndicatorValue
from longitudinal.outcome_maps.rating import combine_ratings
from longitudinal.rubric import Rubric, RubricError, Thresholds

ROOT = Path(__file__).resolve().parents[1]
below = lambda x: float(np.nextafter(x, -np.inf))  # noqa: E731
above = lambda x: float(np.nextafter(x, np.inf))  # noqa: E731

# Binary-exact numbers so "at the threshold" means exactly at it.
RUBRIC = Rubric.from_dict({
    "progress": {"proportion": {"low": 0.125, "some": 0.25, "good": 0.5},
                 "mean": {"direction": "lower", "low": 0.5, "some": 0.25, "good": 0.0}},
    "confidence": {"minimum_n": 32,
                   "high": {"min_n": 512, "max_ci_width": {"proportion": 0.125, "mean": 0.25, "count": 0.25},
                            "max_missing_share": 0.125},
                   "medium": {"min_n": 128, "max_ci_width": {"proportion": 0.25, "mean": 0.5, "count": 0.5},
                              "max_missing_share": 0.25},
                   "ci_crosses_threshold": "medium"},
})


def iv(value, n=1000, lo=None, hi=None, missing=0.0, kind="proportion", name="share_improving"):
    # a narrow CI inside the band unless given
    lo = value if lo is None else lo
    hi = value if hi is None else hi
    return IndicatorValue(name, value, kind, n, None, lo, hi, missing, {}, "")


@pytest.mark.parametrize("value, expected", [
    (0.0, "no"), (below(0.125), "no"), (0.125, "low"), (above(0.125), "low"),
    (below(0.25), "low"), (0.25, "some"), (above(0.25), "some"),
    (below(0.5), "some"), (0.5, "good"), (above(0.5), "good"), (1.0, "good"),
])
def test_progress_at_and_around_each_threshold(value, expected):
    assert RUBRIC.progress(iv(value)) == expected


@pytest.mark.parametrize("value, expected", [
    (above(0.5), "no"), (0.5, "low"), (below(0.5), "low"), (above(0.25), "low"), (0.25, "some"),
    (above(0.0), "some"), (0.0, "good"), (-1.0, "good"),
])
def test_progress_when_lower_is_better(value, expected):
    assert RUBRIC.progress(iv(value, kind="mean", name="mean_change")) == expected


@pytest.mark.parametrize("n, expected", [(512, "high"), (511, "medium"), (128, "medium"), (127, "low"),
                                         (32, "low"), (31, "n/a")])
def test_confidence_at_and_around_each_base(n, expected):
    assert RUBRIC.confidence(iv(0.75, n=n)) == expected
    if expected == "n/a":
        assert RUBRIC.progress(iv(0.75, n=n)) == "n/a"


@pytest.mark.parametrize("hi, expected", [(0.75, "high"), (above(0.75), "medium"), (0.875, "medium"),
                                          (above(0.875), "low")])
def test_confidence_at_and_around_each_ci_width(hi, expected):
    # CI [0.625, hi] (width 0.125 / 0.25 at the thresholds) stays inside the "good" band
    assert RUBRIC.confidence(iv(0.75, lo=0.625, hi=hi)) == expected


@pytest.mark.parametrize("missing, expected", [(0.125, "high"), (above(0.125), "medium"), (0.25, "medium"),
                                               (above(0.25), "low")])
def test_confidence_at_and_around_each_missing_share(missing, expected):
    assert RUBRIC.confidence(iv(0.75, missing=missing)) == expected


def test_ci_crossing_a_threshold_caps_confidence():
    inside = iv(0.75, lo=0.5, hi=0.625)  # touches 0.5 from the good side: one band
    crossing = iv(0.75, lo=below(0.5), hi=0.625)
    assert RUBRIC.rate(inside) == ("good", "high")
    assert RUBRIC.rate(crossing) == ("good", "medium")
    low_anyway = iv(0.75, n=200, lo=below(0.5), hi=0.625)
    assert RUBRIC.confidence(low_anyway) == "medium"  # the cap never raises a rating
    assert RUBRIC.confidence(iv(0.75, n=40, lo=below(0.5), hi=0.625)) == "low"


def test_undefined_value_is_not_rated():
    assert RUBRIC.rate(iv(float("nan"), lo=float("nan"), hi=float("nan"))) == ("n/a", "n/a")


def test_counts_need_thresholds_and_use_relative_width():
    v = iv(40.0, kind="count", name="moved_between_stages", lo=36.0, hi=44.0)  # relative width 0.2
    with pytest.raises(RubricError, match="thresholds"):
        RUBRIC.rate(v)
    t = Thresholds(5, 10, 20)
    assert RUBRIC.rate(v, t) == ("good", "high")
    assert RUBRIC.confidence(iv(40.0, kind="count", name="m", lo=30.0, hi=50.0), t) == "medium"  # 0.5
    assert RUBRIC.confidence(iv(40.0, kind="count", name="m", lo=30.0, hi=above(50.0)), t) == "low"


def test_named_indicator_thresholds_take_precedence():
    r = Rubric.default()
    v = iv(0.55, name="share_reaching_stage")
    assert r.progress(v) == "some"  # 0.55 < 0.60 for reaching a stage
    assert r.progress(iv(0.55, name="share_improving")) == "good"  # 0.55 >= 0.50 for proportions
    assert r.progress(v, Thresholds(0.1, 0.2, 0.3)) == "good"  # the map's own thresholds win


def test_shipped_rubric_file_is_the_default():
    assert Rubric.from_yaml(ROOT / "data" / "maps" / "rubric.yaml") == Rubric.default()
    assert Rubric.from_dict(Rubric.default().to_dict()) == Rubric.default()


@pytest.mark.parametrize("bad, match", [
    ({"low": 0.5, "some": 0.3, "good": 0.6}, "low <= some <= good"),
    ({"low": 0.1, "some": 0.3}, "missing"),
    ({"low": 0.1, "some": 0.3, "good": 0.5, "direction": "up"}, "direction"),
    ({"low": 0.1, "some": "x", "good": 0.5}, "finite numbers"),
])
def test_bad_thresholds_are_refused(bad, match):
    with pytest.raises(RubricError, match=match):
        Thresholds.from_dict(bad)


def test_high_must_be_at_least_as_demanding_as_medium():
    d = Rubric.default().to_dict()
    d["confidence"]["high"]["min_n"] = 50
    with pytest.raises(RubricError, match="at least as demanding"):
        Rubric.from_dict(d)


def test_several_indicators_take_the_weakest_rated_one():
    assert combine_ratings([("good", "high"), ("some", "medium")]) == ("some", "medium")
    assert combine_ratings([("good", "low"), ("low", "high")]) == ("low", "low")
    assert combine_ratings([("good", "high"), ("n/a", "n/a")]) == ("good", "high")
    assert combine_ratings([("n/a", "n/a")]) == ("n/a", "n/a")
