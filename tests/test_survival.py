"""Time to independence and lasting impact: recovery of known truth, agreement with lifelines, bad input."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter

import longitudinal as lg
from longitudinal._numeric import isotonic_increasing
from longitudinal.contract import apply_dtypes
from longitudinal.study import Study
from longitudinal.survival import MONTH_DAYS, sustained_outcomes, time_to_independence, turnbull
from longitudinal.survival.interval import (
    TurnbullProblem,
    bootstrap_band,
    collapse_intervals,
    fit_with_bootstrap,
    median_time,
    median_times,
)

DAY0 = pd.Timestamp("2020-04-01")


# ----------------------------------------------------------------- helpers
def _inspect(T: np.ndarray, schedule: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Interval (last inspection before T, first at or after T]; right-censored after the last."""
    lo, hi = np.empty(T.size), np.empty(T.size)
    for i, (t, s) in enumerate(zip(T, schedule)):
        after = s[s >= t]
        before = s[s < t]
        lo[i] = before.max() if before.size else 0.0
        hi[i] = after.min() if after.size else np.inf
    return lo, hi


def _study(episodes: list[dict], readings: list[tuple]) -> Study:
    """A hand-built study: episodes as dicts, readings as (episode_id, day, type, outcome, score)."""
    ep = pd.DataFrame(episodes)
    ep = ep.assign(
        local_authority=ep.get("local_authority", "Cardiff"), provider_id="W06000015-P01",
        lead_need=ep.get("lead_need", "generic_floating"), service_type=ep.get("service_type", "short_term"))
    ep["start_date"] = DAY0 + pd.to_timedelta(ep["start_day"], unit="D")
    ep["end_date"] = DAY0 + pd.to_timedelta(ep["end_day"], unit="D")
    ep = ep.drop(columns=["start_day", "end_day"])
    people = pd.DataFrame({"person_id": ep["person_id"].unique(), "sex": "female", "birth_year": 1980})
    r = pd.DataFrame(readings, columns=["episode_id", "day", "reading_type", "outcome", "score"])
    start = ep.set_index("episode_id")["start_date"]
    r["reading_date"] = r["episode_id"].map(start) + pd.to_timedelta(r["day"], unit="D")
    r["person_id"] = r["episode_id"].map(ep.set_index("episode_id")["person_id"])
    spend = pd.DataFrame({"financial_year": [2020], "local_authority": ["Cardiff"],
                          "lead_need": ["generic_floating"], "spend_gbp": [1.0]})
    return Study(apply_dtypes("people", people), apply_dtypes("episodes", ep[[
        "episode_id", "person_id", "local_authority", "provider_id", "lead_need", "service_type",
        "start_date", "end_date", "end_reason"]]), apply_dtypes("readings", r), apply_dtypes("spend", spend))


def _independence_study(n: int, rate_per_month: dict[str, float], seed: int) -> tuple[Study, np.ndarray]:
    """Episodes whose latent time to stage 5 is exponential (rate by lead need); reviews every 2-4 months."""
    rng = np.random.default_rng(seed)
    needs = list(rate_per_month)
    eps, rds, times = [], [], []
    for i in range(n):
        need = needs[i % len(needs)]
        T = rng.exponential(1 / rate_per_month[need]) * MONTH_DAYS  # days
        gaps = rng.integers(60, 122, size=20)
        days = np.cumsum(gaps)
        days = days[days < 900]
        eid = f"E{i:05d}"
        eps.append({"episode_id": eid, "person_id": f"P{i:05d}", "lead_need": need, "start_day": i % 300,
                    "end_day": i % 300 + 1000, "end_reason": "planned"})
        rds.append((eid, 0, "start", "managing_money", 3))
        for d in days:
            rds.append((eid, int(d), "review", "managing_money", 5 if d >= T else 3))
        times.append(T / MONTH_DAYS)
    return _study(eps, rds), np.asarray(times)


def _sustained_study(n: int, rate_per_month: float, seed: int, *, attend: float = 0.85) -> Study:
    """Planned ends at stage 4; the stage is lost after an exponential time; follow-ups at 6, 12, 24 months."""
    rng = np.random.default_rng(seed)
    eps, rds = [], []
    for i in range(n):
        L = rng.exponential(1 / rate_per_month) * MONTH_DAYS
        eid = f"E{i:05d}"
        eps.append({"episode_id": eid, "person_id": f"P{i:05d}", "start_day": 0, "end_day": 300,
                    "end_reason": "planned"})
        rds += [(eid, 0, "start", "feeling_safe", 2), (eid, 300, "end", "feeling_safe", 4)]
        for fu in (182, 365, 730):
            if rng.random() < attend:
                rds.append((eid, 300 + fu, "follow_up", "feeling_safe", 3 if fu >= L else 4))
    return _study(eps, rds)


# ----------------------------------------------------------------- Turnbull NPMLE
def test_turnbull_matches_lifelines_interval_censored_km():
    rng = np.random.default_rng(0)
    T = rng.weibull(1.5, 150) * 2.0
    sched = [np.sort(rng.uniform(0, 4, 5)) for _ in T]
    lo, hi = _inspect(T, sched)
    ours = turnbull(lo, hi, tol=1e-12)
    # lifelines treats intervals as closed [l, u]; inspection data are open on the left: shift l by a hair
    km = KaplanMeierFitter().fit_interval_censoring(lo + 1e-9, hi, tol=1e-8)
    sf = km.survival_function_
    # at the end points of lifelines' estimate, where both are determined, the two NPMLEs agree
    pts = np.unique(np.r_[ours.left, ours.right])
    pts = pts[np.isfinite(pts) & (pts < ours.last_time)]
    mine = ours.survival(pts)
    theirs = []
    for p in pts:
        row = sf[sf.index <= p + 1e-12].iloc[-1]
        theirs.append(row.min())
    # lifelines stops its EM at tol; both are the same NPMLE to within that
    assert np.max(np.abs(mine - np.asarray(theirs))) < 1e-3


def test_turnbull_recovers_weibull_survival_under_periodic_inspection():
    rng = np.random.default_rng(1)
    n = 3000
    T = rng.weibull(1.3, n) * 10.0  # months
    sched = [np.cumsum(rng.uniform(2, 4, 12)) for _ in range(n)]
    lo, hi = _inspect(T, sched)
    c = turnbull(lo, hi)
    t = np.array([3.0, 6.0, 12.0, 18.0])
    truth = np.exp(-(t / 10.0) ** 1.3)
    se = np.sqrt(truth * (1 - truth) / n)
    assert np.all(np.abs(c.survival(t) - truth) < 4 * se + 0.01)


def test_turnbull_reports_nan_beyond_follow_up_and_rejects_bad_intervals():
    c = turnbull([0, 1, 2], [1, np.inf, 3])
    assert np.isnan(c.survival([5.0])[0])
    with pytest.raises(lg.InputError, match=r"row 0, value '\(2.0, 1.0\]'.*upper must not be less than lower"):
        turnbull([2.0], [1.0])
    with pytest.raises(lg.InputError, match="row 1.*both bounds missing"):
        turnbull([1.0, np.nan], [2.0, np.nan])
    with pytest.raises(lg.InputError, match="row 0.*non-negative"):
        turnbull([-1.0], [2.0])


def test_turnbull_with_exact_times_and_right_censoring_is_kaplan_meier():
    rng = np.random.default_rng(3)
    t = np.round(rng.exponential(5, 400), 1)  # rounded: tied times
    event = rng.random(400) < 0.7
    c = turnbull(t, np.where(event, t, np.nan), tol=1e-13)  # exact where seen, NaN upper = right censored
    km = KaplanMeierFitter().fit(t, event)
    grid = np.unique(t)[:-1]
    # Kaplan-Meier is the closed form of this NPMLE; the EM-ICM iterations reach it to ~1e-7 in the sparse tail
    np.testing.assert_allclose(c.survival(grid), km.survival_function_at_times(grid).to_numpy(), atol=1e-6)


def test_turnbull_curve_shows_its_median_intervals_and_draws_its_break_points():
    """TurnbullCurve on the results base: tidy() is S(t) at the break points, plot() draws exactly those
    points, the summary gives the median (S = 0.5, interpolated) and the innermost intervals' mass."""
    import matplotlib.pyplot as plt

    c = turnbull([0, 0, 1, 1, 2], [1, 2, 2, float("inf"), float("inf")])
    t = c.tidy()
    assert t.columns.tolist() == ["time", "estimate"]
    np.testing.assert_allclose(t["estimate"], c.survival(t["time"]))
    assert c.median == pytest.approx(1.0 + (c.survival(1.0)[0] - 0.5) / (c.survival(1.0)[0] - c.survival(2.0)[0]))
    assert c.survival(c.median)[0] == pytest.approx(0.5)
    s = c.summary()
    assert f"median: {c.median:.4g}" in s and s.tables["Innermost intervals"]["mass"].sum() == pytest.approx(1)
    iv = c.intervals()
    np.testing.assert_allclose(iv["survival"].iloc[:-1], c.survival(iv["right"].iloc[:-1]))
    ax = c.plot()
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, t["time"])
    np.testing.assert_array_equal(y, t["estimate"])
    plt.close("all")
    never = turnbull([5, 5, 0], [np.inf, np.inf, 1])  # S stays at 2/3 up to the last time seen
    assert np.isnan(never.median) and "median: not reached" in never.summary()
    many = turnbull(np.arange(40.0), np.arange(40.0) + 0.5)
    assert len(many.summary(max_rows=10).tables["Innermost intervals"]) == 10 and "30 intervals not shown" in str(
        many.summary(max_rows=10))


def test_turnbull_takes_r_interval2_bounds_and_is_the_npmle():
    """Exact times, intervals, right (NaN upper) and left (NaN lower) censoring together, as R's
    Surv(L, R, type = "interval2"); checked against R's survfit and by the NPMLE's optimality condition."""
    rng = np.random.default_rng(5)
    n = 300
    T = rng.weibull(1.4, n) * 6
    L = np.floor(T)
    R = L + rng.integers(1, 4, n).astype(float)
    kind = rng.choice(["interval", "exact", "right", "left"], n, p=[0.5, 0.2, 0.2, 0.1])
    L = np.where(kind == "exact", np.round(T, 1), L)
    R = np.where(kind == "exact", np.round(T, 1), R)
    c = np.floor(rng.uniform(0, 8, n))
    L = np.where(kind == "right", c, L)
    R = np.where(kind == "right", np.nan, R)
    L = np.where(kind == "left", np.nan, L)
    R = np.where(kind == "left", np.ceil(T), R)
    fit = turnbull(L, R, tol=1e-12)
    # R 4 / survival 3.5.3: summary(survfit(Surv(L, R, type = "interval2") ~ 1), times = t, extend = TRUE)$surv
    t = [0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8]
    r = [0.9957879713, 0.9297774563, 0.8783984478, 0.8523279911, 0.8364567422, 0.7571048447, 0.6806110888,
         0.5786502258, 0.4371913591, 0.3877530191, 0.2901634796]
    # R's EM stops earlier (its log-likelihood is 4e-4 lower and its optimality condition is off by 0.2%)
    np.testing.assert_allclose(fit.survival(t), r, atol=3e-4)
    # the NPMLE's condition: sum_i (subject i's support holds interval j) / P_i <= n, = n where mass > 0
    lo, hi = L.copy(), np.where(np.isnan(R), np.inf, R)
    lo[np.isnan(L)] = -1e-300
    lo[lo == hi] = np.nextafter(hi[lo == hi], -np.inf)
    holds = (fit.left[None, :] >= lo[:, None]) & (fit.right[None, :] <= hi[:, None])
    d = (holds / (holds @ fit.mass)[:, None]).sum(axis=0) / n
    assert d.max() < 1 + 1e-5 and np.all(np.abs(d[fit.mass > 1e-6] - 1) < 1e-5)


# ----------------------------------------------------------------- time to independence
@pytest.fixture(scope="module")
def tti_known():
    study, T = _independence_study(1200, {"generic_floating": 1 / 10, "mental_health": 1 / 20}, seed=4)
    res = time_to_independence(study, "managing_money", by="lead_need",
                               covariates=["lead_need"], n_boot=60, seed=5)
    return study, T, res


def test_time_to_independence_recovers_exponential_truth(tti_known):
    _, T, res = tti_known
    sa = res.survival_at
    # the NPMLE from readings every 2-4 months matches the latent times' own empirical survival
    for k, need in enumerate(("generic_floating", "mental_health")):
        sub = sa[sa["lead_need"] == need].set_index("months")
        for m in (6, 12, 24):
            assert sub.loc[m, "survival"] == pytest.approx((T[k::2] > m).mean(), abs=0.03)
    for need, mean in (("generic_floating", 10.0), ("mental_health", 20.0)):
        sub = sa[sa["lead_need"] == need].set_index("months")
        for m in (6, 12, 24):
            truth = np.exp(-m / mean)
            lo, hi = sub.loc[m, ["ci_lower", "ci_upper"]]
            # 95% bootstrap CI, widened by a hair for Monte Carlo error in the CI itself
            assert lo - 0.02 <= truth <= hi + 0.02, (need, m, truth, lo, hi)
    med = res.median.set_index("lead_need")["median"]
    assert med["generic_floating"] == pytest.approx(10 * np.log(2), rel=0.15)


def test_interval_censoring_removes_the_bias_of_dating_at_the_reading(tti_known):
    _, _, res = tti_known
    sub = res.data[res.data["lead_need"] == "generic_floating"]
    km = res.km["generic_floating"]
    # lifelines KM on the reading that showed the stage: what we wrap is exactly lifelines
    ref = KaplanMeierFitter().fit(sub["seen_time"], sub["event"])
    assert np.allclose(km.survival_function_.to_numpy(), ref.survival_function_.to_numpy())
    # ... and it is biased late (shows more people not yet at the stage) against the truth exp(-6/10)
    assert float(km.predict(6.0)) > np.exp(-0.6) + 0.03
    npmle = res.survival_at.set_index(["lead_need", "months"]).loc[("generic_floating", 6), "survival"]
    assert abs(npmle - np.exp(-0.6)) < 0.05


def test_cox_recovers_hazard_ratio_and_reports_ph_test(tti_known):
    _, _, res = tti_known
    hr = res.hazard_ratios.set_index("covariate")
    row = hr.loc["lead_need[mental_health]"]
    assert row["ci_lower"] < 0.5 < row["ci_upper"]  # true rate ratio 10/20
    assert {"test_statistic", "p_value"} <= set(res.ph_test.columns)
    assert "lead_need[mental_health]" in res.ph_test["covariate"].tolist()
    text = res.summary()
    assert "Proportional-hazards test" in text and "Median months" in text


def test_ph_test_flags_crossing_hazards():
    # Weibull shapes 0.6 and 2.5 with similar medians: hazards cross, PH must be rejected
    rng = np.random.default_rng(7)
    study, _ = _independence_study(10, {"generic_floating": 1.0}, seed=0)  # only to reuse the builder shape
    eps, rds = [], []
    for i in range(900):
        need = ("generic_floating", "mental_health")[i % 2]
        T = (rng.weibull(0.6) if i % 2 == 0 else rng.weibull(2.5)) * 8 * MONTH_DAYS
        eid = f"E{i:05d}"
        eps.append({"episode_id": eid, "person_id": f"P{i:05d}", "lead_need": need, "start_day": 0,
                    "end_day": 1000, "end_reason": "planned"})
        rds.append((eid, 0, "start", "managing_money", 3))
        for d in range(30, 900, 30):
            rds.append((eid, d, "review", "managing_money", 5 if d >= T else 3))
    res = time_to_independence(_study(eps, rds), "managing_money", covariates=["lead_need"], n_boot=0)
    assert float(res.ph_test["p_value"].iloc[0]) < 0.01
    assert "violated" in res.summary()


def test_time_to_independence_on_simulated_study_runs_every_area_and_plots():
    study = lg.simulate(people=700, seed=11)
    res = time_to_independence(study, "all", stage=4, n_boot=10, covariates=["service_type", "start_score"])
    assert set(res.median["outcome"]) <= set(lg.domain.OUTCOME_CODES)
    assert res.by[0] == "outcome"
    ex = res.exclusions.set_index("reason")["n"]
    assert ex["at_stage_at_start"] > 0 and ex["single_reading"] > 0
    # every followed episode-area is counted once: analysed + excluded = episode-areas with a reading in support
    long = study.long(include_follow_up=False)
    long = long[long["end_date"].isna() | (long["reading_date"] <= long["end_date"])]
    n_areas = long.groupby(["episode_id", "outcome"], observed=True).ngroups
    assert len(res.data) + ex["at_stage_at_start"] + ex["single_reading"] == n_areas
    # the start score is a strong predictor of reaching stage 4 sooner, as the simulator implies
    hr = res.hazard_ratios.set_index("covariate").loc["start_score", "hazard_ratio"]
    assert hr > 1.5
    ax = res.plot()
    assert isinstance(ax, matplotlib.axes.Axes)


def test_time_to_independence_is_deterministic():
    study = lg.simulate(people=300, seed=4)
    a = time_to_independence(study, "feeling_safe", stage=4, n_boot=15, seed=9)
    b = time_to_independence(study, "feeling_safe", stage=4, n_boot=15, seed=9)
    pd.testing.assert_frame_equal(a.curves, b.curves)
    pd.testing.assert_frame_equal(a.median, b.median)


# ----------------------------------------------------------------- sustained outcomes
@pytest.fixture(scope="module")
def sustained_known():
    study = _sustained_study(1500, rate_per_month=1 / 30, seed=4)
    return sustained_outcomes(study, "feeling_safe", by=("outcome",), n_boot=80, seed=2)


def test_sustained_outcomes_recover_exponential_loss(sustained_known):
    tab = sustained_known.at_months([6, 12, 24]).set_index("months")
    for m in (6, 12, 24):
        truth = np.exp(-m / 30)
        lo, hi = tab.loc[m, ["ci_lower", "ci_upper"]]
        assert lo - 0.02 <= truth <= hi + 0.02, (m, truth, lo, hi)


def test_by_year_is_the_tidy_drop_off_table(sustained_known):
    by = sustained_known.by_year()
    assert by.columns.tolist() == ["outcome", "year", "survival", "ci_lower", "ci_upper", "at_risk"]
    assert by["year"].tolist() == [1, 2]
    assert by["survival"].is_monotonic_decreasing
    assert (by["ci_lower"] <= by["survival"]).all() and (by["survival"] <= by["ci_upper"]).all()
    assert by.loc[0, "survival"] == pytest.approx(np.exp(-12 / 30), abs=0.04)
    ax = sustained_known.plot()
    assert isinstance(ax, matplotlib.axes.Axes)


def test_simulated_short_term_services_lose_gains_more_often():
    # truth: loses_gains_prob short_term 0.30 > long_term 0.15, with a decline of 0.7 stages a year
    study = lg.simulate(people=2500, seed=21)
    assert study.truth["score_model"]["loses_gains_prob"]["short_term"] > \
        study.truth["score_model"]["loses_gains_prob"]["long_term"]
    res = sustained_outcomes(study, by=("service_type",), n_boot=0, seed=1)
    tab = res.at_months([12, 24]).set_index(["service_type", "months"])["survival"]
    assert tab[("short_term", 24)] < tab[("long_term", 24)]
    assert tab[("short_term", 24)] <= tab[("short_term", 12)]


def test_rereferral_aalen_johansen_is_reproducible_and_agrees_with_lifelines():
    study = lg.simulate(people=1500, seed=5)
    ep = study.episodes
    rng = np.random.default_rng(0)
    people = ep["person_id"].astype(str).unique()
    who = rng.choice(people, size=len(people) // 6, replace=False)
    last_end = ep.assign(person_id=ep["person_id"].astype(str)).groupby("person_id")["end_date"].max()
    exits = pd.DataFrame({"person_id": who, "reason": rng.choice(["died", "moved_away"], size=who.size)})
    exits["date"] = last_end.reindex(who).to_numpy() + pd.to_timedelta(rng.integers(20, 400, who.size), "D")
    exits = exits.dropna()
    a = sustained_outcomes(study, by=("outcome", "lead_need"), exits=exits, n_boot=0, seed=3)
    b = sustained_outcomes(study, by=("outcome", "lead_need"), exits=exits, n_boot=0, seed=3)
    pd.testing.assert_frame_equal(a.rereferral, b.rereferral)
    rr = a.rereferral_data
    assert {0, 1, 2, 3} <= set(rr["event"])
    # the wrapped estimator is lifelines' own, with the same seed
    sub = rr[rr["lead_need"] == "older_people"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns that it jitters tied times
        ref = AalenJohansenFitter(seed=3).fit(sub["time"], sub["event"], event_of_interest=1)
    ours = a.aalen_johansen["older_people"]
    assert np.allclose(ours.cumulative_density_.to_numpy(), ref.cumulative_density_.to_numpy())
    t = a.rereferral.set_index(["lead_need", "months"])
    tot = t["cumulative_incidence"] + t["died"] + t["moved_away"]
    assert (tot <= 1 + 1e-9).all()
    ok = t["ci_lower"].notna()
    assert ok.any()
    assert (t.loc[ok, "ci_lower"] <= t.loc[ok, "cumulative_incidence"] + 1e-9).all()
    assert (t.loc[ok, "cumulative_incidence"] <= t.loc[ok, "ci_upper"] + 1e-9).all()
    ax = a.plot_cumulative_incidence()
    assert isinstance(ax, matplotlib.axes.Axes)


# ----------------------------------------------------------------- bad input
def test_bad_input_is_reported_or_refused():
    study = _sustained_study(40, rate_per_month=1 / 30, seed=1)
    r = study.readings.copy()
    # a follow-up dated before the end of support, and an episode with a single reading
    i = r.index[r["reading_type"] == "follow_up"][0]
    r.loc[i, "reading_date"] = r.loc[i, "reading_date"] - pd.Timedelta(days=400)
    study = Study(study.people, study.episodes, r, study.spend)
    res = sustained_outcomes(study, "feeling_safe", by="outcome", n_boot=0)
    ex = res.exclusions.set_index("reason")["n"]
    assert ex["follow_up_before_end"] == 1
    gained = sustained_outcomes(study, "feeling_safe", by="outcome", n_boot=0, gained_only=True)
    assert gained.exclusions.set_index("reason").loc["no_gain", "n"] == 0  # every area went 2 -> 4
    assert len(gained.data) == len(res.data)
    tti = time_to_independence(study, "feeling_safe", stage=4, covariates=None, n_boot=0)
    assert tti.exclusions.set_index("reason").loc["single_reading", "n"] == 0  # start + end: two readings
    with pytest.raises(KeyError, match="not an outcome area"):
        time_to_independence(study, "happiness")
    with pytest.raises(KeyError, match="unknown column"):
        sustained_outcomes(study, by=("outcome", "postcode"))
    with pytest.raises(KeyError, match="unknown column"):
        time_to_independence(study, "feeling_safe", covariates=["shoe_size"])
    with pytest.raises(ValueError, match="stage must be"):
        time_to_independence(study, "feeling_safe", stage=7)
    with pytest.raises(ValueError, match="exits: reason"):
        sustained_outcomes(study, exits=pd.DataFrame({"person_id": ["P00001"], "date": ["2022-01-01"],
                                                      "reason": ["abducted"]}))


def test_single_reading_episodes_are_counted():
    eps = [{"episode_id": f"E{i}", "person_id": f"P{i}", "start_day": 0, "end_day": 400,
            "end_reason": "planned"} for i in range(30)]
    rds = [(f"E{i}", 0, "start", "managing_money", 2) for i in range(30)]
    rds += [(f"E{i}", d, "review", "managing_money", 5 if d > 150 * (i % 3 + 1) else 3)
            for i in range(20) for d in (90, 180, 270, 360)]
    res = time_to_independence(_study(eps, rds), "managing_money", covariates=None, n_boot=0)
    assert res.exclusions.set_index("reason").loc["single_reading", "n"] == 10
    assert len(res.data) == 20


def test_km_plot_pairs_each_curve_with_its_own_at_risk_row():
    # categorical group order (short_term, long_term) differs from alphabetical: labels must still match
    res = time_to_independence(lg.simulate(people=800, seed=6), "managing_money", stage=4, by="service_type",
                               covariates=None, n_boot=5)
    ax = res.plot()
    lines = {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}
    for lab in ("short_term", "long_term"):
        sub = res.curves[res.curves["service_type"] == lab]
        assert np.allclose(lines[lab].get_ydata(), sub["survival"].to_numpy(), equal_nan=True)
        n = int((res.data["service_type"] == lab).sum())
        assert int(res.km[lab].event_table["at_risk"].iloc[0]) == n


def test_fast_cox_residuals_match_lifelines_loops():
    """The O(n p) score and Schoenfeld residuals equal lifelines' own row loops (robust SEs, PH test)."""
    import warnings

    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    from longitudinal.survival.lifelines_compat import fast_cox_class

    rng = np.random.default_rng(0)
    n = 1500
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.integers(0, 2, n).astype(float),
                       "T": np.maximum(np.round(rng.exponential(5, n)), 0.5),  # many ties
                       "E": rng.integers(0, 2, n), "pid": rng.integers(0, 600, n),
                       "s": rng.integers(0, 3, n).astype(str)})
    for strata in (None, ["s"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = CoxPHFitter().fit(df, "T", "E", cluster_col="pid", strata=strata)
            b = fast_cox_class()().fit(df, "T", "E", cluster_col="pid", strata=strata)
            pa = proportional_hazard_test(a, df, time_transform="rank").summary
            pb = proportional_hazard_test(b, df, time_transform="rank").summary
            ra, rb = a.compute_residuals(df, "schoenfeld"), b.compute_residuals(df, "schoenfeld")
        np.testing.assert_allclose(b.params_, a.params_, rtol=1e-12)
        np.testing.assert_allclose(b.standard_errors_, a.standard_errors_, rtol=1e-9)
        assert not np.allclose(b.standard_errors_, np.sqrt(np.diag(b.variance_matrix_)))  # clustering counted
        np.testing.assert_allclose(pb["test_statistic"], pa["test_statistic"], rtol=1e-9)
        np.testing.assert_allclose(rb.to_numpy(), ra.to_numpy(), atol=1e-12)


# ----------------------------------------------------------------- the batched bootstrap is the one-at-a-time bootstrap
def _reference_band(curve, boots, times, alpha):
    """The band as computed before the batched bootstrap: each replicate's own curve, NaN-aware quantiles."""
    est = curve.survival(times)
    bs = np.stack([b.survival(times) for b in boots])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cl = np.nanquantile(bs, alpha / 2, axis=0)
        cu = np.nanquantile(bs, 1 - alpha / 2, axis=0)
    cl[np.isnan(est)] = np.nan
    cu[np.isnan(est)] = np.nan
    return est, cl, cu


def _reference_median(curve):
    """The median as computed before (from the pandas table of break points)."""
    st = curve.steps()
    below = np.flatnonzero(st["survival"].to_numpy() <= 0.5)
    if below.size == 0:
        return float("nan")
    k = below[0]
    if k == 0:
        return float(st["time"].iloc[0])
    t0, t1 = st["time"].iloc[k - 1], st["time"].iloc[k]
    s0, s1 = st["survival"].iloc[k - 1], st["survival"].iloc[k]
    return float(t0 + (s0 - 0.5) / (s0 - s1) * (t1 - t0)) if s0 != s1 else float(t1)


def _fit_with_bootstrap_reference(lo, hi, *, n_boot: int, rng: np.random.Generator):
    """The bootstrap one replicate at a time with ``TurnbullProblem.fit`` (the form before ``fit_many``)."""
    ul, uh, cnt = collapse_intervals(lo, hi)
    prob = TurnbullProblem(ul, uh)
    p, it = prob.fit(cnt)
    curve = prob.curve(p, cnt, it)
    n = int(cnt.sum())
    boots = []
    for _ in range(n_boot):
        wb = rng.multinomial(n, cnt / n).astype(float)
        pb, itb = prob.fit(wb, p)
        boots.append(prob.curve(pb, wb, itb))
    return curve, boots


def _interval_problems():
    rng = np.random.default_rng(3)
    # sustained-outcome shape: whole months, follow-ups at 6, 12, 24, some lost in (lo, lo + 0.5]
    n = 700
    T = rng.exponential(30, n)
    fu = np.array([6.0, 12.0, 24.0])
    seen = rng.random((n, 3)) < 0.8
    lo, hi = np.zeros(n), np.full(n, np.inf)
    for i in range(n):
        (lo[i],), (hi[i],) = _inspect(T[i:i + 1], [fu[seen[i]]])
    keep = (hi > lo) & ~((lo == 0) & np.isinf(hi))
    yield lo[keep], hi[keep]
    # time-to-independence shape: irregular reviews, many innermost intervals
    T = rng.weibull(1.3, 400) * 10
    lo, hi = _inspect(T, [np.cumsum(rng.uniform(1, 4, 10)) for _ in T])
    yield lo, hi
    # ties at the right end of one interval and the left of the next, and a single innermost interval
    yield np.array([0.0, 1.0, 1.0, 2.0, 0.0]), np.array([1.0, 2.0, np.inf, np.inf, 2.0])
    yield np.array([0.0, 0.0, 0.0]), np.array([np.inf, 5.0, 5.0])


def test_batched_bootstrap_equals_one_replicate_at_a_time():
    """fit_many gives every replicate exactly what fit gives it; bands and medians are the old ones to the bit."""
    for lo, hi in _interval_problems():
        a_curve, a = fit_with_bootstrap(lo, hi, n_boot=60, rng=np.random.default_rng(11))
        b_curve, b = _fit_with_bootstrap_reference(lo, hi, n_boot=60, rng=np.random.default_rng(11))
        np.testing.assert_array_equal(a_curve.mass, b_curve.mass)
        assert len(a) == len(b) == 60
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.mass, y.mass)  # bit for bit, not approximately
            assert (x.iterations, x.last_time, x.n) == (y.iterations, y.last_time, y.n)
        times = np.r_[np.arange(0, 30, 0.5), 6, 12, 24]
        for new, old in zip(bootstrap_band(a_curve, a, times, 0.05), _reference_band(b_curve, b, times, 0.05)):
            np.testing.assert_array_equal(new, old)
        np.testing.assert_array_equal(median_times(a), [_reference_median(c) for c in b])
        np.testing.assert_array_equal([median_time(a_curve)], [_reference_median(b_curve)])


def test_fit_many_stops_each_replicate_where_fit_does():
    """Replicates stop at different iterations (Kuhn-Tucker or likelihood test); each leaves the batch on its own."""
    rng = np.random.default_rng(5)
    T = rng.weibull(0.8, 300) * 8
    lo, hi = _inspect(T, [np.sort(rng.uniform(0, 20, 6)) for _ in T])
    ul, uh, cnt = collapse_intervals(lo, hi)
    prob = TurnbullProblem(ul, uh)
    W = rng.multinomial(int(cnt.sum()), cnt / cnt.sum(), size=40).astype(float)
    for p0, tol, max_iter in ((None, 1e-8, 2_000), (prob.fit(cnt)[0], 1e-8, 2_000), (None, 1e-12, 7)):
        ref = [prob.fit(w, p0, tol=tol, max_iter=max_iter) for w in W]
        # one batch, batches of 10 rows, and one row at a time (the large-problem path)
        for cells in (None, 10 * W.shape[1], 1):
            P, its = prob.fit_many(W, p0, tol=tol, max_iter=max_iter, cells=cells)
            np.testing.assert_array_equal(P, np.stack([r[0] for r in ref]))
            np.testing.assert_array_equal(its, [r[1] for r in ref])
        assert len(set(its.tolist())) > 1 or max_iter == 7
    # the full fit is the NPMLE: Kuhn-Tucker d_j <= 1 + tol where it stopped on that test
    p, _ = prob.fit(cnt, tol=1e-8, max_iter=50_000)
    cp = np.r_[0.0, np.cumsum(p)]
    q = cnt / (cp[prob.j1] - cp[prob.j0])
    d = np.cumsum(np.bincount(prob.j0, q, minlength=p.size + 1) - np.bincount(prob.j1, q, minlength=p.size + 1))
    assert d[:p.size].max() / cnt.sum() <= 1 + 1e-6


def test_collapse_and_isotonic_shortcuts_match_pandas_and_scipy():
    from scipy.optimize import isotonic_regression

    rng = np.random.default_rng(2)
    lo = rng.integers(0, 6, 500).astype(float)
    hi = lo + rng.choice([0.5, 1.0, 3.0, np.inf], 500)
    g = pd.DataFrame({"lo": lo, "hi": hi}).groupby(["lo", "hi"], sort=True).size()
    ul, uh, cnt = collapse_intervals(lo, hi)
    np.testing.assert_array_equal(ul, g.index.get_level_values(0).to_numpy(float))
    np.testing.assert_array_equal(uh, g.index.get_level_values(1).to_numpy(float))
    np.testing.assert_array_equal(cnt, g.to_numpy(float))
    for n in (1, 2, 5, 300):
        y, w = rng.normal(size=n).cumsum() * rng.choice([-1, 1]), rng.uniform(1e-6, 5, n)
        np.testing.assert_array_equal(isotonic_increasing(y, w), isotonic_regression(y, weights=w).x)


def test_fast_aalen_johansen_bounds_match_lifelines():
    """The cumulative-sum variance and CI of re-referral are lifelines' row loop to the bit."""
    from longitudinal.survival.lifelines_compat import fast_aalen_johansen_class

    fast = fast_aalen_johansen_class()
    rng = np.random.default_rng(8)
    for n, digits in ((40, 0), (900, 1), (2500, 3)):
        t = np.round(rng.exponential(12, n), digits)  # ties: lifelines jitters them with the seed
        e = rng.choice([0, 1, 2, 3], n, p=[0.4, 0.35, 0.15, 0.1])
        for code in (1, 2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a = AalenJohansenFitter(seed=3, alpha=0.05).fit(t, e, event_of_interest=code)
                b = fast(seed=3, alpha=0.05).fit(t, e, event_of_interest=code)
            pd.testing.assert_frame_equal(b.cumulative_density_, a.cumulative_density_, check_exact=True)
            pd.testing.assert_series_equal(b.variance_, a.variance_, check_exact=True)
            pd.testing.assert_frame_equal(b.confidence_interval_, a.confidence_interval_, check_exact=True)


def test_sustained_outcomes_is_deterministic_and_equals_the_reference_bootstrap(monkeypatch):
    import longitudinal.survival.sustained as sv

    study = lg.simulate(people=900, seed=7)
    a = sustained_outcomes(study, n_boot=25, seed=4)
    b = sustained_outcomes(study, n_boot=25, seed=4)
    pd.testing.assert_frame_equal(a.curves, b.curves, check_exact=True)
    pd.testing.assert_frame_equal(a.rereferral, b.rereferral, check_exact=True)
    monkeypatch.setattr(sv, "fit_with_bootstrap", _fit_with_bootstrap_reference)
    monkeypatch.setattr(sv, "bootstrap_band", _reference_band)
    c = sustained_outcomes(study, n_boot=25, seed=4)
    pd.testing.assert_frame_equal(a.curves, c.curves, check_exact=True)
    pd.testing.assert_frame_equal(a.by_year(), c.by_year(), check_exact=True)


def test_lifelines_overrides_fall_back_on_an_untested_release(monkeypatch):
    """The fast lifelines subclasses are used only on the releases they were checked against."""
    import lifelines
    from lifelines import AalenJohansenFitter, CoxPHFitter

    from longitudinal.errors import LongitudinalWarning
    from longitudinal.survival import lifelines_compat as survival

    assert survival.fast_cox_class() is not CoxPHFitter  # this release is a tested one
    monkeypatch.setattr(lifelines, "__version__", "9.1.0")
    with pytest.warns(LongitudinalWarning, match="lifelines 9.1.0 is not a release"):
        assert survival.fast_cox_class() is CoxPHFitter
    with pytest.warns(LongitudinalWarning, match="same results, slower"):
        assert survival.fast_aalen_johansen_class() is AalenJohansenFitter


def test_lifelines_overrides_fall_back_when_a_replaced_method_is_gone(monkeypatch, small_study):
    """A tested release without a replaced private method gets lifelines' own class; the analyses built
    on the fallback give the fast classes' numbers (Cox to rounding, re-referral to the bit)."""
    from lifelines import AalenJohansenFitter, CoxPHFitter

    from longitudinal.errors import LongitudinalWarning
    from longitudinal.survival import lifelines_compat

    fast_tti = time_to_independence(small_study, "managing_money", stage=4, n_boot=0,
                                    covariates=["service_type", "start_score"])
    fast_so = sustained_outcomes(small_study, by="outcome", n_boot=0, seed=2)
    monkeypatch.delattr(AalenJohansenFitter, "_bounds")
    with pytest.warns(LongitudinalWarning, match="lacks _bounds"):
        assert lifelines_compat.fast_aalen_johansen_class() is AalenJohansenFitter
    monkeypatch.undo()
    monkeypatch.setattr(lifelines_compat, "LIFELINES_TESTED", ())  # every release untested: the fallbacks
    with pytest.warns(LongitudinalWarning, match="using lifelines' own"):
        slow_tti = time_to_independence(small_study, "managing_money", stage=4, n_boot=0,
                                        covariates=["service_type", "start_score"])
        slow_so = sustained_outcomes(small_study, by="outcome", n_boot=0, seed=2)
    assert type(fast_tti.cox) is not CoxPHFitter and type(slow_tti.cox) is CoxPHFitter
    pd.testing.assert_frame_equal(slow_tti.hazard_ratios, fast_tti.hazard_ratios, rtol=1e-9)
    pd.testing.assert_frame_equal(slow_tti.ph_test, fast_tti.ph_test, rtol=1e-9)
    pd.testing.assert_frame_equal(slow_so.rereferral, fast_so.rereferral, check_exact=True)


def test_sustained_outcomes_takes_a_plain_long_table(medium_study):
    """A table shaped like Study.long() (dates as text) gives the study's analysis: curves, drop-off, re-referral."""
    kw = dict(by=("outcome", "lead_need"), n_boot=20, seed=3)
    from_study = sustained_outcomes(medium_study, ["managing_money", "feeling_safe"], **kw)
    table = medium_study.long(scored_only=False).astype({"reading_date": str, "start_date": str, "end_date": str})
    from_table = sustained_outcomes(table, ["managing_money", "feeling_safe"], **kw)
    for name in ("curves", "rereferral", "exclusions", "rereferral_data"):
        pd.testing.assert_frame_equal(getattr(from_table, name), getattr(from_study, name), check_dtype=False,
                                      check_categorical=False)
    pd.testing.assert_frame_equal(from_table.by_year(), from_study.by_year(), check_dtype=False,
                                  check_categorical=False)
    assert from_study.rereferral["cumulative_incidence"].gt(0).any()  # re-referrals were there to be found
    with pytest.raises(KeyError, match="lacks column.*'end_reason'"):
        sustained_outcomes(table.drop(columns="end_reason"), n_boot=0)
    with pytest.raises(lg.InputError, match="missing='ipw'.*needs a Study"):
        sustained_outcomes(table, missing="ipw")


def test_re_referral_is_fitted_on_first_use_only(small_study, monkeypatch):
    """The curves and the drop-off do not wait for the re-referral analysis; asked for, it is what it was."""
    import longitudinal.survival.sustained as mod

    ref = sustained_outcomes(small_study, by="outcome", n_boot=10, seed=4)
    ref_tables = {n: getattr(ref, n) for n in ("rereferral", "rereferral_data", "exclusions")}
    calls = []
    real = mod.rereferral_times
    monkeypatch.setattr(mod, "rereferral_times", lambda *a, **k: calls.append(1) or real(*a, **k))
    res = sustained_outcomes(small_study, by="outcome", n_boot=10, seed=4)
    pd.testing.assert_frame_equal(res.by_year(), ref.by_year())
    pd.testing.assert_frame_equal(res.at_months(), ref.at_months())
    assert calls == []
    for name, table in ref_tables.items():  # the exclusions include re-referral's own
        pd.testing.assert_frame_equal(getattr(res, name), table)
    assert calls == [1] and set(res.aalen_johansen) == set(ref.aalen_johansen)
    assert res.rereferral is res.rereferral and calls == [1]  # fitted once

def test_sustained_outcomes_on_a_monthly_table_is_kaplan_meier():
    """Follow-ups every month of a hand-made table: the Turnbull curve at whole months is lifelines'
    Kaplan-Meier of the month the stage was lost, and re-referral (no competing risk) is 1 - Kaplan-Meier."""
    rng = np.random.default_rng(5)
    n, rows = 300, []
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D")
    end = start + pd.Timedelta(days=200)
    lost = np.ceil(rng.exponential(14, n)).astype(int)  # the month of the first follow-up below the end level
    seen = rng.integers(3, 25, n)  # the last monthly follow-up
    back = rng.exponential(500, n).round()  # days from the end to the person's next episode
    censor = end.max() + pd.Timedelta(days=30 * 25)
    for i in range(n):
        ep = dict(episode_id=f"e{i}", person_id=f"p{i}", outcome="managing_money", start_date=start[i],
                  end_date=end[i], end_reason="planned")
        rows += [dict(ep, reading_date=start[i], score=3, reading_type="review"),
                 dict(ep, reading_date=end[i], score=4, reading_type="review")]
        rows += [dict(ep, reading_date=end[i] + pd.Timedelta(days=round(k * MONTH_DAYS)),
                      score=3 if k >= lost[i] else 4, reading_type="follow_up") for k in range(1, seen[i] + 1)]
        nxt = end[i] + pd.Timedelta(days=back[i])
        rows.append(dict(ep, episode_id=f"n{i}", start_date=nxt, end_date=pd.NaT, end_reason=None, reading_date=nxt,
                         score=2, reading_type="review"))
    res = sustained_outcomes(pd.DataFrame(rows), by="outcome", n_boot=0, censor_date=censor, months=(6, 12, 24))
    km = KaplanMeierFitter().fit(np.minimum(lost, seen), lost <= seen)
    got = res.curves.set_index("time")["survival"]
    # to the EM's stopping tolerance (1e-6 holds but for the last, thinly followed months)
    np.testing.assert_allclose(got, km.survival_function_at_times(got.index.to_numpy()), atol=1e-5)
    t_back = (back / MONTH_DAYS)
    followed = ((censor - end).days.to_numpy() / MONTH_DAYS)
    km_back = KaplanMeierFitter().fit(np.minimum(t_back, followed), t_back <= followed)
    want = 1 - km_back.survival_function_at_times([6, 12, 24]).to_numpy()
    np.testing.assert_allclose(res.rereferral["cumulative_incidence"], want, atol=1e-9)


def test_time_to_independence_takes_a_plain_long_table(medium_study):
    """A table shaped like Study.long() gives the same analysis as the study (no AttributeError)."""
    from_study = time_to_independence(medium_study, "managing_money", stage=4, n_boot=0, covariates=None)
    table = medium_study.long("managing_money").astype({"reading_date": str})  # dates as text are parsed
    from_table = time_to_independence(table, "managing_money", stage=4, n_boot=0, covariates=None)
    pd.testing.assert_frame_equal(from_study.median, from_table.median)
    pd.testing.assert_frame_equal(from_study.curves, from_table.curves)
    with pytest.raises(KeyError, match="lacks column.*'start_date'"):
        time_to_independence(table.drop(columns="start_date"), "managing_money", n_boot=0, covariates=None)


# ---------------------------------------------------------------- Cox on any table
# R 4 / survival 3.5.3 on lifelines' copy of the Rossi recidivism data (cl = row // 3):
#   coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, ties = "efron")
#   coxph(Surv(week, arrest) ~ fin + age + prio + strata(race), ties = "efron")
_ROSSI_R = {
    "estimate": [-0.37942217, -0.05743774, 0.31389979, -0.14979570, -0.43370388, -0.08487108, 0.09149708],
    "std_error": [0.19137948, 0.02199947, 0.30799278, 0.21222430, 0.38186806, 0.19575667, 0.02864855],
    # the same with cluster = cl, week + (row - 1) / 1000 (no tied times)
    "robust_untied": [0.19264599, 0.02656916, 0.27805181, 0.21854802, 0.37587363, 0.20916023, 0.02880308],
}
_ROSSI_X = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def rossi():
    from lifelines.datasets import load_rossi

    return load_rossi().assign(cl=lambda d: d.index // 3)


def test_fit_cox_on_a_plain_table_agrees_with_r_and_statsmodels(rossi):
    import statsmodels.api as sm

    fit = lg.fit_cox(rossi, time="week", event="arrest", covariates=_ROSSI_X)
    hr = fit.hazard_ratios.set_index("covariate").loc[_ROSSI_X]
    np.testing.assert_allclose(hr["estimate"], _ROSSI_R["estimate"], rtol=1e-5)
    np.testing.assert_allclose(hr["std_error"], _ROSSI_R["std_error"], rtol=1e-5)
    np.testing.assert_allclose(hr["hazard_ratio"], np.exp(_ROSSI_R["estimate"]), rtol=1e-5)
    z = 1.959963984540054
    want = np.exp(np.array(_ROSSI_R["estimate"]) - z * np.array(_ROSSI_R["std_error"]))
    np.testing.assert_allclose(hr["ci_lower"], want, rtol=1e-5)
    sm_fit = sm.PHReg(rossi["week"], rossi[_ROSSI_X].astype(float), status=rossi["arrest"], ties="efron").fit()
    np.testing.assert_allclose(hr["estimate"], sm_fit.params, rtol=1e-5)
    np.testing.assert_allclose(hr["p_value"], sm_fit.pvalues, rtol=1e-4)
    assert (fit.n, fit.events) == (432, 114)
    # robust standard errors clustered on a column equal R's cluster = cl when no event times are tied (with
    # ties lifelines' score residuals leave out Efron's weights: they differ from R's by 0.5-5% here, see fit_cox)
    untied = rossi.assign(week=rossi["week"] + np.arange(len(rossi)) * 1e-3)
    robust = lg.fit_cox(untied, time="week", event="arrest", covariates=_ROSSI_X, id="cl")
    np.testing.assert_allclose(robust.hazard_ratios.set_index("covariate").loc[_ROSSI_X, "std_error"],
                               _ROSSI_R["robust_untied"], rtol=1e-6)
    # strata get their own baseline hazard
    strat = lg.fit_cox(rossi, time="week", event="arrest", covariates=["fin", "age", "prio"], strata="race")
    np.testing.assert_allclose(strat.hazard_ratios["estimate"], [-0.36417192, -0.06745823, 0.10074818], rtol=1e-5)
    np.testing.assert_allclose(strat.hazard_ratios["std_error"], [0.19066643, 0.02093462, 0.02714370], rtol=1e-5)


def test_fit_cox_takes_text_covariates_and_says_what_it_left_out(rossi):
    d = rossi.assign(race=rossi["race"].map({0: "other", 1: "black"}))
    d.loc[[3, 7], "age"] = np.nan
    fit = lg.fit_cox(d, time="week", event="arrest", covariates=["fin", "age", "race"])
    assert fit.n == 430 and "2 row(s) with a missing value left out" in fit.summary()
    ref = rossi.drop(index=[3, 7]).assign(**{"race[other]": lambda x: 1.0 - x["race"]})
    want = lg.fit_cox(ref, time="week", event="arrest", covariates=["fin", "age", "race[other]"])
    np.testing.assert_allclose(fit.hazard_ratios["estimate"], want.hazard_ratios["estimate"], rtol=1e-8)
    assert "race: reference level 'black'" in fit.notes  # the most common level
    text = fit.summary()
    assert "Hazard ratios" in text and "<table" in fit._repr_html_()
    assert repr(fit).startswith("<CoxResults time='week'") and fit.tidy().equals(fit.hazard_ratios)
    ax = fit.plot()
    assert ax.get_xscale() == "log" and len(ax.get_yticklabels()) == 3


def test_fit_cox_errors_name_the_column(rossi):
    with pytest.raises(lg.InputError, match=r"no column 'weeks'"):
        lg.fit_cox(rossi, time="weeks", event="arrest", covariates=["fin"])
    with pytest.raises(lg.InputError, match=r"row 0, column 'arrest', value '2'.*expected 1 for an event"):
        lg.fit_cox(rossi.assign(arrest=2), time="week", event="arrest", covariates=["fin"])
    with pytest.raises(lg.InputError, match=r"column 'week', value '-1'"):
        lg.fit_cox(rossi.assign(week=-1), time="week", event="arrest", covariates=["fin"])
