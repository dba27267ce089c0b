"""A realistic synthetic Supporting People study with known ground truth.

The generative model (all of it is returned in ``Study.truth`` and written to
``truth.json``, so that tests can check that models recover it):

People
    ``people`` persons; lead need drawn from the SP mix of
    :data:`longitudinal.domain.LEAD_NEEDS` (about 60% older people / alarm
    services), local authority in proportion to population, age at first
    referral uniform in the lead need's age range, sex by lead need.
Episodes
    First referral uniform over the study's financial years. Service type is
    long-term with the lead need's ``long_term_share``. Durations: short-term
    lognormal (median 9 months, 1 to 24 months), long-term 2 months plus an
    exponential with mean 4 years. Episodes still running at the study's end
    are open (blank end date). End reasons by service type; after an end that
    is not a death or a move away, a re-referral follows with a probability
    that is higher for people who lose their gains, up to four episodes.
    Providers are nested in authorities (about one per 15,000 residents, with
    skewed case loads).
Needs
    Each episode has a need in each outcome area with a probability that
    depends on the area and the lead need; at least one area always.
Scores
    For episode *e* and area *k* with a need, a latent level
    ``y(t) = a_ek + b_ek * min(t, T_e) + g_ek * max(t - T_e, 0) + eps``
    with *t* years since the episode's start, *T_e* its length, and
    ``eps ~ N(0, residual_sd^2)``. The observed score is ``y`` rounded to the
    nearest stage and clipped to 1..5. ``a_ek = intercept[need, service] +
    outcome_intercept[k] + u0`` with ``u0 = person-episode part + area part``;
    ``b_ek = slope[need, service] + outcome_slope[k] + coupling * u0 + v`` with
    ``v`` the sum of episode, area and provider parts (so start level and rate
    of change are negatively correlated). After a planned end, the share
    ``loses_gains_prob[service]`` of episodes decline at ``post_end_slope``
    stages a year (``g``); the others keep their level (``g = 0``).
Readings
    A start reading in every area (blank where the person has no need: "no
    need in this area"), reviews every 3 to 6 months in the areas of need
    (each missed with probability ``missed_review_prob``), an end reading for
    most planned ends, follow-up readings 6, 12 and 24 months after a planned
    end for a sample of episodes; each area is left unrecorded at a reading
    with probability ``item_missing_prob``.
Spend
    Support-days by financial year, authority and lead need, weighted by a
    relative daily cost per lead need and service type, scaled so that the
    programme costs about £124m a year for 400,000 people (in proportion for a
    smaller study), rising 2% a year in cash terms.

The same arguments give the same tables, byte for byte.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import domain
from .contract import apply_dtypes, category_dtypes
from .study import Study

__all__ = ["simulate", "expected_score", "true_effects", "true_att"]

GENERATOR_VERSION = 1
NATIONAL_PEOPLE = 400_000
NATIONAL_BUDGET_GBP = 124_000_000

# ---------------------------------------------------------------- parameters
_INTERCEPT_SHORT = 2.2
_INTERCEPT_LONG = 3.3
_INTERCEPT_NEED = {
    "domestic_abuse": -0.2, "substance_misuse": -0.3, "criminal_offending": -0.25,
    "mental_health": -0.1, "young_people": -0.1, "care_leavers": -0.15, "refugees": -0.2,
    "learning_disabilities": -0.3,
}
_SLOPE_SHORT = 0.8
_SLOPE_LONG = 0.05
_SLOPE_NEED_SHORT = {
    "domestic_abuse": 0.1, "mental_health": -0.2, "substance_misuse": -0.3,
    "criminal_offending": -0.2, "older_people": -0.2, "alarm_services": -0.3,
    "young_people": -0.1, "care_leavers": -0.15, "learning_disabilities": -0.3,
}
_SLOPE_NEED_LONG = {"learning_disabilities": 0.1, "mental_health": 0.05, "physical_disabilities": 0.03}
_OUTCOME_INTERCEPT = {
    "feeling_safe": 0.2, "contributing_safety": 0.1, "managing_accommodation": 0.0,
    "managing_relationships": 0.0, "feeling_part_of_community": -0.1, "managing_money": -0.1,
    "education_learning": -0.3, "employment_voluntary": -0.4, "physically_healthy": -0.1,
    "mentally_healthy": -0.2, "healthy_active_lifestyle": -0.1,
}
_OUTCOME_SLOPE = {
    "feeling_safe": 0.05, "contributing_safety": 0.0, "managing_accommodation": 0.1,
    "managing_relationships": 0.0, "feeling_part_of_community": -0.05, "managing_money": 0.05,
    "education_learning": -0.15, "employment_voluntary": -0.2, "physically_healthy": -0.1,
    "mentally_healthy": -0.05, "healthy_active_lifestyle": -0.1,
}
_SD = {
    "intercept_episode": 0.3,  # shared by an episode's areas
    "intercept_area": 0.5,
    "slope_episode": 0.12,
    "slope_area": 0.18,
    "slope_provider": 0.08,
    "residual": 0.45,
}
_COUPLING = -0.12  # slope falls 0.12 a year per stage of higher start level
_POST_END_SLOPE = -0.7
_LOSES_GAINS = {"short_term": 0.30, "long_term": 0.15}

_NEED_BASE = {
    "feeling_safe": 0.35, "contributing_safety": 0.15, "managing_accommodation": 0.55,
    "managing_relationships": 0.30, "feeling_part_of_community": 0.30, "managing_money": 0.45,
    "education_learning": 0.15, "employment_voluntary": 0.20, "physically_healthy": 0.40,
    "mentally_healthy": 0.40, "healthy_active_lifestyle": 0.30,
}
_NEED_OVERRIDE = {
    "older_people": {"education_learning": 0.03, "employment_voluntary": 0.02, "physically_healthy": 0.7,
                     "feeling_safe": 0.5, "managing_accommodation": 0.4},
    "alarm_services": {"education_learning": 0.01, "employment_voluntary": 0.01, "physically_healthy": 0.6,
                       "feeling_safe": 0.7, "managing_money": 0.2, "managing_accommodation": 0.3},
    "domestic_abuse": {"feeling_safe": 0.95, "managing_relationships": 0.7, "mentally_healthy": 0.6},
    "mental_health": {"mentally_healthy": 0.95, "healthy_active_lifestyle": 0.5},
    "substance_misuse": {"contributing_safety": 0.5, "physically_healthy": 0.6, "mentally_healthy": 0.6},
    "criminal_offending": {"contributing_safety": 0.7, "employment_voluntary": 0.5},
    "young_people": {"education_learning": 0.6, "employment_voluntary": 0.6, "managing_money": 0.7},
    "care_leavers": {"education_learning": 0.6, "employment_voluntary": 0.6, "managing_money": 0.8},
    "families": {"managing_money": 0.7, "managing_relationships": 0.5},
    "generic_floating": {"managing_accommodation": 0.8, "managing_money": 0.6},
    "learning_disabilities": {"managing_money": 0.7, "feeling_part_of_community": 0.6},
    "refugees": {"feeling_part_of_community": 0.7, "employment_voluntary": 0.6, "education_learning": 0.5},
}
_FEMALE_SHARE = {"domestic_abuse": 0.9, "older_people": 0.62, "alarm_services": 0.68, "families": 0.8,
                 "criminal_offending": 0.15, "substance_misuse": 0.3}
_END_REASON_P = {  # planned, unplanned, moved_away, died, other
    "short_term": [0.68, 0.15, 0.07, 0.01, 0.09],
    "long_term": [0.35, 0.05, 0.12, 0.38, 0.10],
}
_END_READING_P = {"planned": 0.95, "unplanned": 0.4, "moved_away": 0.3, "died": 0.0, "other": 0.5}
_DAILY_COST = {  # relative cost of a day of support
    "older_people": 0.6, "alarm_services": 0.08, "domestic_abuse": 4.0, "mental_health": 3.0,
    "learning_disabilities": 6.0, "substance_misuse": 3.0, "criminal_offending": 3.0,
    "young_people": 4.0, "care_leavers": 4.0, "families": 3.0, "generic_floating": 2.0,
    "physical_disabilities": 1.5, "refugees": 2.5,
}
_FOLLOW_UP_DAYS = (182, 365, 730)
# Follow-up response (log-odds), missing at random given what is known at the end of support: people in
# long-term services or older answer more; people who ended more independent (they have moved on), the
# young, people with substance misuse or offending as lead need, and above all people already back in
# support (re-referred) answer less. Most of these also predict keeping the end stage, so the people
# followed up are not like those who are not.
_RESPONSE: dict[str, Any] = {
    "intercept_by_month": {6: 0.9, 12: 0.5, 24: 0.1},
    "per_stage_mean_end_level_above_3": -1.0,
    "long_term": 1.0,
    "age_under_25": -0.6,
    "age_65_plus": 0.3,
    "lead_need": {"substance_misuse": -0.5, "criminal_offending": -0.5},
    "re_referred_before_due": -2.0,
}
_MAX_EPISODES = 4


def _mean_params(needs: tuple[str, ...]):
    """Mean intercept and slope by (lead need, service type), shape (n_needs, 2)."""
    mu0 = np.empty((len(needs), 2))
    mu1 = np.empty((len(needs), 2))
    for i, n in enumerate(needs):
        mu0[i] = [_INTERCEPT_SHORT + _INTERCEPT_NEED.get(n, 0.0), _INTERCEPT_LONG + _INTERCEPT_NEED.get(n, 0.0)]
        mu1[i] = [_SLOPE_SHORT + _SLOPE_NEED_SHORT.get(n, 0.0), _SLOPE_LONG + _SLOPE_NEED_LONG.get(n, 0.0)]
    return mu0, mu1


def _random_effect_cov() -> np.ndarray:
    """Covariance of (intercept, slope) deviations for one episode in one area."""
    v0 = _SD["intercept_episode"] ** 2 + _SD["intercept_area"] ** 2
    v1 = _COUPLING**2 * v0 + _SD["slope_episode"] ** 2 + _SD["slope_area"] ** 2 + _SD["slope_provider"] ** 2
    c01 = _COUPLING * v0
    return np.array([[v0, c01], [c01, v1]])


def expected_score(t, intercept: float, slope: float, cov_re=None, residual_sd: float | None = None):
    """Expected observed score at time ``t`` (years) under the simulator's model, during support.

    The latent level ``intercept + slope t + u0 + u1 t + eps`` is normal, and the
    observed score is it rounded and clipped to 1..5, so
    ``E[score] = 1 + sum_{c in 1.5, 2.5, 3.5, 4.5} P(latent > c)`` exactly.

    Parameters
    ----------
    t : float or array
        Years since the episode's start.
    intercept, slope : float
        Mean latent intercept and slope of the group (see ``truth["groups"]``).
    cov_re : 2x2 array, optional
        Covariance of the (intercept, slope) deviations; the simulator's by default.
    residual_sd : float, optional
        The simulator's by default.
    """
    cov = _random_effect_cov() if cov_re is None else np.asarray(cov_re)
    sd_e = _SD["residual"] if residual_sd is None else residual_sd
    t = np.asarray(t, dtype=float)
    mean = intercept + slope * t
    sd = np.sqrt(cov[0, 0] + 2 * cov[0, 1] * t + cov[1, 1] * t**2 + sd_e**2)
    return 1 + sum(stats.norm.sf((c - mean) / sd) for c in (1.5, 2.5, 3.5, 4.5))


def _truth(seed, people, years, start_year, needs, mu0, mu1, need_p) -> dict:
    cov = _random_effect_cov()
    groups = []
    for i, n in enumerate(needs):
        for j, s in enumerate(domain.SERVICE_TYPES):
            for k in domain.OUTCOME_CODES:
                groups.append({
                    "lead_need": n, "service_type": s, "outcome": k,
                    "intercept": round(mu0[i, j] + _OUTCOME_INTERCEPT[k], 10),
                    "slope": round(mu1[i, j] + _OUTCOME_SLOPE[k], 10),
                })
    return {
        "generator": "longitudinal.simulate",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "people": people,
        "years": years,
        "start_year": start_year,
        "study_start": str(domain.fy_bounds(start_year)[0].date()),
        "study_end": str(domain.fy_bounds(start_year + years - 1)[1].date()),
        "score_model": {
            "description": (
                "latent y = intercept + slope*min(t,T) + post_end_slope*max(t-T,0)*loses_gains "
                "+ u0 + u1*min(t,T) + eps; score = clip(round(y), 1, 5); t in years since start"
            ),
            "residual_sd": _SD["residual"],
            "random_effect_sd": dict(_SD),
            "intercept_slope_coupling": _COUPLING,
            "cov_re": cov.tolist(),
            "cov_re_names": ["intercept", "slope"],
            "post_end_slope": _POST_END_SLOPE,
            "loses_gains_prob": dict(_LOSES_GAINS),
            "outcome_intercept": dict(_OUTCOME_INTERCEPT),
            "outcome_slope": dict(_OUTCOME_SLOPE),
        },
        "groups": groups,
        "need_probability": {n: dict(zip(domain.OUTCOME_CODES, map(float, need_p[i])))
                             for i, n in enumerate(needs)},
        "readings": {
            "review_gap_days": [91, 183],
            "missed_review_prob": 0.10,
            "item_missing_prob": 0.03,
            "end_reading_prob": dict(_END_READING_P),
            "follow_up_days": list(_FOLLOW_UP_DAYS),
            "follow_up_response": "see truth['follow_up']",
        },
        "episodes": {
            "end_reason_prob": {s: dict(zip(domain.END_REASONS, p)) for s, p in _END_REASON_P.items()},
            "short_term_duration_median_days": 270,
            "long_term_duration_mean_days": 60 + 4 * 365,
            "max_episodes_per_person": _MAX_EPISODES,
        },
        "spend": {
            "national_budget_gbp": NATIONAL_BUDGET_GBP,
            "national_people": NATIONAL_PEOPLE,
            "annual_growth": 0.02,
            "relative_daily_cost": dict(_DAILY_COST),
        },
    }


def simulate(people: int = 2000, years: int = 7, seed: int = 0, *, start_year: int = 2019,
             service_use: bool = True, comparison_pool: float = 0.5, follow_up_mnar: float = 0.0) -> Study:
    """Simulate a Supporting People study with known ground truth.

    Parameters
    ----------
    people : int, default 2000
        Number of distinct people supported over the study (about 400,000 for Wales).
    years : int, default 7
        Number of financial years.
    seed : int, default 0
        Seed of the random generator: the same arguments give the same study.
    start_year : int, default 2019
        First financial year (2019 = 2019-20); the default study ends on 31 March 2026.
    service_use : bool, default True
        Also simulate linked public-service use (``study.service_use``) from two
        years before the study to its end, with a never-supported comparison pool
        added to ``people`` and the true effects of support in ``truth["service_use"]``
        (see :func:`true_effects`). False: the four tables only.
    comparison_pool : float, default 0.5
        Size of the never-supported pool as a share of ``people``.
    follow_up_mnar : float, default 0.0
        Follow-up non-response that depends on the unobserved follow-up score:
        the log-odds of answering change by this much per stage of the
        follow-up score above the end level (averaged over the areas), so a
        positive value loses more of those who declined. 0 (the default) is
        missing at random given what is known at the end of support.

    Returns
    -------
    Study
        With ``truth`` holding the generative model's parameters (see module docs).

    Examples
    --------
    >>> import longitudinal as lg
    >>> study = lg.simulate(people=500, seed=1)
    >>> sorted(study.readings["reading_type"].unique())
    ['end', 'follow_up', 'review', 'start']
    >>> bool(study.readings["score"].dropna().between(1, 5).all())
    True
    """
    if people < 1:
        raise ValueError(f"people must be at least 1, got {people}")
    if years < 1:
        raise ValueError(f"years must be at least 1, got {years}")
    rng = np.random.default_rng(seed)
    needs = domain.LEAD_NEED_CODES
    n_need = len(needs)
    n_out = len(domain.OUTCOME_CODES)
    study_start = np.datetime64(domain.fy_bounds(start_year)[0].date(), "D")
    study_end = np.datetime64(domain.fy_bounds(start_year + years - 1)[1].date(), "D")
    n_days = int((study_end - study_start) // np.timedelta64(1, "D")) + 1

    # ------------------------------------------------------------- people
    share = np.array([n.share for n in domain.LEAD_NEEDS])
    p_need = rng.choice(n_need, size=people, p=share / share.sum())
    pop = np.array([la.population_k for la in domain.LOCAL_AUTHORITIES], dtype=float)
    p_la = rng.choice(len(pop), size=people, p=pop / pop.sum())
    first_day = rng.integers(0, n_days, size=people)
    lo = np.array([n.age_range[0] for n in domain.LEAD_NEEDS])[p_need]
    hi = np.array([n.age_range[1] for n in domain.LEAD_NEEDS])[p_need]
    age0 = lo + np.floor(rng.random(people) * (hi - lo + 1)).astype(int)
    first_year = (study_start + first_day).astype("datetime64[Y]").astype(int) + 1970
    birth_year = first_year - age0
    female = np.array([_FEMALE_SHARE.get(n, 0.5) for n in needs])[p_need]
    u = rng.random(people)
    sex = np.where(u < 0.005, 2, np.where(u < 0.005 + 0.995 * female, 0, 1))

    # ----------------------------------------------------------- episodes
    n_prov = np.maximum(3, np.round(pop / 15)).astype(int)
    lt_share = np.array([n.long_term_share for n in domain.LEAD_NEEDS])
    ep_cols: dict[str, list] = {k: [] for k in ("person", "need", "la", "start", "dur", "service", "reason",
                                                "loses", "open")}
    active = np.arange(people)
    start = first_day.copy()
    need = p_need.copy()
    la = p_la.copy()
    for _ in range(_MAX_EPISODES):
        n = active.size
        if n == 0:
            break
        service = (rng.random(n) < lt_share[need]).astype(int)
        dur = np.where(
            service == 0,
            np.clip(np.round(rng.lognormal(np.log(270), 0.55, n)), 30, 730),
            60 + np.round(rng.exponential(4 * 365, n)),
        ).astype(int)
        end = start + dur
        is_open = end >= n_days
        reason = np.empty(n, dtype=int)
        for s in (0, 1):
            m = service == s
            reason[m] = rng.choice(5, size=int(m.sum()), p=_END_REASON_P[domain.SERVICE_TYPES[s]])
        reason[is_open] = -1
        loses = (rng.random(n) < np.where(service == 0, _LOSES_GAINS["short_term"], _LOSES_GAINS["long_term"])) \
            & (reason == 0)
        for k, v in zip(ep_cols, (active, need, la, start, dur, service, reason, loses, is_open)):
            ep_cols[k].append(v)
        # re-referral: not after death or a move away, more likely after lost gains or an unplanned end
        p_re = 0.12 + 0.35 * loses + 0.10 * (reason == 1)
        again = (~is_open) & (reason != 2) & (reason != 3) & (rng.random(n) < p_re)
        gap = 30 + np.round(rng.exponential(300, n)).astype(int)
        nxt = end + gap
        keep = again & (nxt < n_days - 30)
        active, start = active[keep], nxt[keep]
        need_keep = need[keep]
        switch = rng.random(keep.sum()) < 0.2
        need = np.where(switch, rng.choice(n_need, size=keep.sum(), p=share / share.sum()), need_keep)
        la_keep = la[keep]
        move = rng.random(keep.sum()) < 0.1
        la = np.where(move, rng.choice(len(pop), size=keep.sum(), p=pop / pop.sum()), la_keep)
    ep = {k: np.concatenate(v) for k, v in ep_cols.items()}
    order = np.lexsort((ep["start"], ep["person"]))
    ep = {k: v[order] for k, v in ep.items()}
    n_ep = order.size
    # provider within authority, skewed case loads
    prov = np.floor(n_prov[ep["la"]] * rng.random(n_ep) ** 1.6).astype(int)
    prov_offset = np.concatenate([[0], np.cumsum(n_prov)[:-1]])
    prov_global = prov_offset[ep["la"]] + prov
    end_day = ep["start"] + ep["dur"]

    # -------------------------------------------------------------- needs
    need_p = np.array([[_NEED_OVERRIDE.get(n, {}).get(k, _NEED_BASE[k]) for k in domain.OUTCOME_CODES]
                       for n in needs])
    has_need = rng.random((n_ep, n_out)) < need_p[ep["need"]]
    none = ~has_need.any(axis=1)
    has_need[none, np.argmax(need_p[ep["need"][none]], axis=1)] = True

    # ------------------------------------------------- latent trajectories
    mu0, mu1 = _mean_params(needs)
    off0 = np.array([_OUTCOME_INTERCEPT[k] for k in domain.OUTCOME_CODES])
    off1 = np.array([_OUTCOME_SLOPE[k] for k in domain.OUTCOME_CODES])
    prov_slope = rng.normal(0, _SD["slope_provider"], n_prov.sum())
    u0 = rng.normal(0, _SD["intercept_episode"], (n_ep, 1)) + rng.normal(0, _SD["intercept_area"], (n_ep, n_out))
    v = (rng.normal(0, _SD["slope_episode"], (n_ep, 1)) + rng.normal(0, _SD["slope_area"], (n_ep, n_out))
         + prov_slope[prov_global][:, None])
    a = mu0[ep["need"], ep["service"]][:, None] + off0[None, :] + u0
    b = mu1[ep["need"], ep["service"]][:, None] + off1[None, :] + _COUPLING * u0 + v
    g = np.where(ep["loses"], _POST_END_SLOPE, 0.0)

    # ----------------------------------------------------------- occasions
    obs_end = np.minimum(end_day, n_days - 1)  # last day observable
    span = obs_end - ep["start"]
    max_rev = span // 91 + 1
    rev_ep = np.repeat(np.arange(n_ep), max_rev)
    gaps = rng.integers(91, 184, size=rev_ep.size)
    csum = np.cumsum(gaps)
    first_idx = np.concatenate([[0], np.cumsum(max_rev)[:-1]])
    before = np.concatenate([[0], csum[:-1]])[first_idx]
    rev_day = csum - np.repeat(before, max_rev)
    keep = (rev_day < span[rev_ep] - 14) & (rng.random(rev_ep.size) >= 0.10)
    rev_ep, rev_day = rev_ep[keep], rev_day[keep]
    closed = ~ep["open"]
    p_end = np.array([_END_READING_P[r] for r in domain.END_REASONS])
    has_end = closed & (rng.random(n_ep) < p_end[np.where(closed, ep["reason"], 0)])
    end_ep = np.flatnonzero(has_end)
    # every planned end is due follow-ups inside the study; who answers is decided after the scores exist
    planned = np.flatnonzero(closed & (ep["reason"] == 0))
    fu_ep = np.repeat(planned, len(_FOLLOW_UP_DAYS))
    fu_day = ep["dur"][fu_ep] + np.tile(_FOLLOW_UP_DAYS, planned.size)
    due = ep["start"][fu_ep] + fu_day < n_days
    fu_ep, fu_day = fu_ep[due], fu_day[due]
    occ_ep = np.concatenate([np.arange(n_ep), rev_ep, end_ep, fu_ep])
    occ_day = np.concatenate([np.zeros(n_ep, int), rev_day, ep["dur"][end_ep], fu_day])
    occ_type = np.concatenate([np.zeros(n_ep, int), np.ones(rev_ep.size, int),
                               np.full(end_ep.size, 2), np.full(fu_ep.size, 3)])
    o = np.lexsort((occ_day, occ_ep))
    occ_ep, occ_day, occ_type = occ_ep[o], occ_day[o], occ_type[o]

    # --------------------------------------------------------------- rows
    item_ok = rng.random((occ_ep.size, n_out)) >= 0.03
    # a due follow-up gets a score in every area of need (the truth); non-response removes rows below
    mask = has_need[occ_ep] & (item_ok | (occ_type == 3)[:, None])
    mask[occ_type == 0] = True  # the start reading records every area (blank: no need)
    r_occ, r_out = np.nonzero(mask)
    r_ep = occ_ep[r_occ]
    t = occ_day[r_occ] / 365.25
    T = ep["dur"][r_ep] / 365.25
    t_in = np.minimum(t, T)
    y = (a[r_ep, r_out] + b[r_ep, r_out] * t_in + g[r_ep] * np.maximum(t - T, 0.0)
         + rng.normal(0, _SD["residual"], r_ep.size))
    score = np.clip(np.rint(y), 1, 5).astype("float64")
    score[~has_need[r_ep, r_out]] = np.nan
    obtained, truth_fu = _follow_up_nonresponse(
        rng, ep, birth_year, occ_type[r_occ], occ_day[r_occ], r_ep, r_out, score,
        item_ok[r_occ, r_out], study_start, mnar=follow_up_mnar)
    r_occ, r_out, r_ep, score = r_occ[obtained], r_out[obtained], r_ep[obtained], score[obtained]

    # ------------------------------------------------------------- tables
    cats = category_dtypes()
    person_ids = pd.Index([f"P{i + 1:07d}" for i in range(people)])
    episode_ids = pd.Index([f"E{i + 1:08d}" for i in range(n_ep)])
    prov_names = np.array([f"{la_.ons_code}-P{j + 1:02d}"
                           for la_, n in zip(domain.LOCAL_AUTHORITIES, n_prov) for j in range(n)])
    day0 = study_start.astype("datetime64[ns]")
    one_day = np.timedelta64(1, "D")

    people_df = pd.DataFrame({
        "person_id": pd.Categorical.from_codes(np.arange(people), person_ids),
        "sex": pd.Categorical.from_codes(sex, cats["sex"].categories),
        "birth_year": birth_year.astype("int32"),
    })
    end_dates = np.where(ep["open"], np.datetime64("NaT"), day0 + end_day * one_day)
    reason = np.where(ep["open"], -1, ep["reason"])
    episodes_df = pd.DataFrame({
        "episode_id": pd.Categorical.from_codes(np.arange(n_ep), episode_ids),
        "person_id": pd.Categorical.from_codes(ep["person"], person_ids),
        "local_authority": pd.Categorical.from_codes(ep["la"], cats["local_authority"].categories),
        "provider_id": pd.Categorical(prov_names[prov_global]),
        "lead_need": pd.Categorical.from_codes(ep["need"], cats["lead_need"].categories),
        "service_type": pd.Categorical.from_codes(ep["service"], cats["service_type"].categories),
        "start_date": day0 + ep["start"] * one_day,
        "end_date": end_dates.astype("datetime64[ns]"),
        "end_reason": pd.Categorical.from_codes(reason, cats["end_reason"].categories),
    })
    readings_df = pd.DataFrame({
        "episode_id": pd.Categorical.from_codes(r_ep, episode_ids),
        "person_id": pd.Categorical.from_codes(ep["person"][r_ep], person_ids),
        "reading_date": day0 + (ep["start"][r_ep] + occ_day[r_occ]) * one_day,
        "reading_type": pd.Categorical.from_codes(occ_type[r_occ], cats["reading_type"].categories),
        "outcome": pd.Categorical.from_codes(r_out, cats["outcome"].categories),
        "score": pd.array(score, dtype="Float64").astype("Int8"),
    })
    spend_df = _spend(ep, end_day, n_days, study_start, start_year, years, people, needs)
    truth = _truth(seed, people, years, start_year, needs, mu0, mu1, need_p)
    truth["counts"] = {"people": people, "episodes": int(n_ep), "readings": int(len(readings_df))}
    truth["follow_up"] = truth_fu
    use_df = None
    if service_use:
        # its own stream, so the four tables are the same with or without service use
        pool = int(round(comparison_pool * people))
        pool_sex, pool_birth, use, services, truth["service_use"] = _service_use(
            np.random.default_rng([seed, 13]), people=people, pool=pool, start_year=start_year, years=years,
            first_day=first_day, first_need=p_need, birth_year=birth_year, sex=sex, needs=needs,
            study_start=study_start)
        person_ids = person_ids.append(pd.Index([f"P{i + 1:07d}" for i in range(people, people + pool)]))
        people_df = pd.DataFrame({
            "person_id": pd.Categorical.from_codes(np.arange(people + pool), person_ids),
            "sex": pd.Categorical.from_codes(np.concatenate([sex, pool_sex]), cats["sex"].categories),
            "birth_year": np.concatenate([birth_year, pool_birth]).astype("int32"),
        })
        use_df = apply_dtypes("service_use", pd.DataFrame({
            "person_id": pd.Categorical.from_codes(use["person"], person_ids),
            "event_date": use["date"].astype("datetime64[ns]"),
            "service": pd.Categorical.from_codes(use["service"], services),
            "count": use["count"],
        }))
        truth["counts"]["service_use"] = int(len(use_df))
        truth["counts"]["comparison_pool"] = pool
    return Study(
        apply_dtypes("people", people_df),
        apply_dtypes("episodes", episodes_df),
        apply_dtypes("readings", readings_df),
        apply_dtypes("spend", spend_df),
        truth=truth,
        metadata={"synthetic": True},
        service_use=use_df,
    )


def _follow_up_nonresponse(rng, ep, birth_year, occ_type, occ_day, r_ep, r_out, score, item_ok, study_start, *,
                           mnar: float) -> tuple[np.ndarray, dict]:
    """Which rows are obtained (readings during support always; a due follow-up when the person answers and
    the area was recorded), and the truth: response rates and the complete-data shares sustained.

    One answer per follow-up contact (episode x month), missing at random given the end levels, service
    type, age, lead need and re-referral (:data:`_RESPONSE`), plus ``mnar`` per stage of the follow-up
    score above the end level (mean over the areas). The truth's sustained shares are over every due
    follow-up, answered or not, so they are what an analysis with no attrition would find.
    """
    n_out = len(domain.OUTCOME_CODES)
    months = np.array([round(d * 12 / 365.25) for d in _FOLLOW_UP_DAYS])
    is_fu = occ_type == 3
    scored = ~np.isnan(score)
    # end level: the last scored reading of the area during support (rows are in date order per area)
    key = r_ep * n_out + r_out
    ins = np.flatnonzero(~is_fu & scored)
    rev = ins[::-1]
    uk, first = np.unique(key[rev], return_index=True)
    end_level = np.full(key.max() + 1 if key.size else 0, np.nan)
    end_level[uk] = score[rev[first]]
    n_ep = ep["person"].size
    by_ep = end_level.reshape(n_ep, n_out) if n_ep else np.empty((0, n_out))
    with np.errstate(invalid="ignore"):
        mean_end = np.nanmean(np.where(np.isnan(by_ep), np.nan, by_ep), axis=1) if n_ep else np.empty(0)
    # follow-up contacts: one per episode and month
    fi = np.flatnonzero(is_fu)
    f_m = np.searchsorted(_FOLLOW_UP_DAYS, occ_day[fi] - ep["dur"][r_ep[fi]])
    ckey = r_ep[fi] * len(months) + f_m
    contacts, c_of_row = np.unique(ckey, return_inverse=True)
    c_ep, c_m = contacts // len(months), contacts % len(months)
    due_day = ep["start"][c_ep] + ep["dur"][c_ep] + np.asarray(_FOLLOW_UP_DAYS)[c_m]
    same_person = np.r_[ep["person"][1:] == ep["person"][:-1], False]
    next_start = np.where(same_person, np.r_[ep["start"][1:], 0], np.iinfo(np.int64).max)
    re_referred = next_start[c_ep] <= due_day
    start_year = (np.datetime64(study_start, "D") + ep["start"][c_ep]).astype("datetime64[Y]").astype(int) + 1970
    age = start_year - birth_year[ep["person"][c_ep]]
    need_codes = np.asarray(domain.LEAD_NEED_CODES)[ep["need"][c_ep]]
    r = _RESPONSE
    logit = (np.array([r["intercept_by_month"][int(m)] for m in months])[c_m]
             + r["per_stage_mean_end_level_above_3"] * (np.nan_to_num(mean_end[c_ep], nan=3.0) - 3)
             + r["long_term"] * ep["service"][c_ep] + r["age_under_25"] * (age < 25) + r["age_65_plus"] * (age >= 65)
             + sum(v * (need_codes == k) for k, v in r["lead_need"].items())
             + r["re_referred_before_due"] * re_referred)
    # change since the end, per area, for the MNAR term and the truth
    fs = fi[scored[fi]]
    elev = end_level[key[fs]]
    ok = ~np.isnan(elev)
    change = np.bincount(c_of_row[scored[fi]][ok], weights=score[fs][ok] - elev[ok], minlength=contacts.size)
    n_ch = np.bincount(c_of_row[scored[fi]][ok], minlength=contacts.size)
    mean_change = np.divide(change, n_ch, out=np.zeros(contacts.size), where=n_ch > 0)
    logit = logit + mnar * mean_change
    p = 1 / (1 + np.exp(-logit))
    answers = rng.random(contacts.size) < p
    obtained = ~is_fu
    obtained[fi] = answers[c_of_row] & item_ok[fi]

    # truth: share sustained (every scheduled follow-up up to m at or above the end level), by area
    el = end_level[key[fs]]
    sel = el >= 2  # loss of one stage: areas ending at stage 1 have nothing to lose
    area_key, f_m_s = key[fs][sel], f_m[scored[fi]][sel]
    kept = score[fs][sel] >= el[sel]
    ua, ai = np.unique(area_key, return_inverse=True)
    lost_by = np.full(ua.size, np.inf)  # first month index with a loss
    np.minimum.at(lost_by, ai, np.where(kept, np.inf, f_m_s))
    reach = np.full(ua.size, -1)
    np.maximum.at(reach, ai, f_m_s)  # last due month index
    area_out = ua % n_out
    sustained = {}
    for j, m in enumerate(months):
        due_m = reach >= j
        kept_m = lost_by[due_m] > j
        per_area = {code: float(kept_m[area_out[due_m] == k].mean())
                    for k, code in enumerate(domain.OUTCOME_CODES) if (area_out[due_m] == k).any()}
        sustained[str(int(m))] = {"all": float(kept_m.mean()) if kept_m.size else None,
                                  "by_outcome": per_area, "n_due": int(due_m.sum())}
    return obtained, {
        "description": (
            "follow-ups are due 6, 12 and 24 months after every planned end that falls inside the study; "
            "one answer per contact (episode x month) with logit P = intercept_by_month + terms in "
            "response_model + mnar * mean over areas of (follow-up score - end level); an answered "
            "contact still misses each area with item_missing_prob"),
        "response_model": {**{k: v for k, v in r.items() if k != "intercept_by_month"},
                           "intercept_by_month": {str(k): v for k, v in r["intercept_by_month"].items()}},
        "mnar": float(mnar),
        "contacts_due": {str(int(m)): int((c_m == j).sum()) for j, m in enumerate(months)},
        "contacts_answered": {str(int(m)): int(answers[c_m == j].sum()) for j, m in enumerate(months)},
        "sustained": {
            "definition": (
                "episode-areas with a planned end, an end level (last scored reading during support) of "
                "stage 2 or more and the follow-up at m months due before the study ends; sustained: every "
                "scheduled follow-up up to m at or above the end level, answered or not"),
            "loss": 1,
            "months": sustained,
        },
    }


def _spend(ep, end_day, n_days, study_start, start_year, years, people, needs) -> pd.DataFrame:
    """Spend by financial year × authority × lead need from support-days and relative daily costs."""
    n_la, n_need = len(domain.LOCAL_AUTHORITIES), len(needs)
    cost = np.array([_DAILY_COST.get(n, 1.0) for n in needs])[ep["need"]] * np.where(ep["service"] == 1, 0.8, 1.0)
    last = np.minimum(end_day, n_days - 1)
    rows = []
    budget = NATIONAL_BUDGET_GBP * people / NATIONAL_PEOPLE
    for i, fy in enumerate(range(start_year, start_year + years)):
        lo, hi = (np.datetime64(d.date(), "D") - study_start for d in domain.fy_bounds(fy))
        lo, hi = int(lo.astype(int)), int(hi.astype(int))
        days = np.clip(np.minimum(last, hi) - np.maximum(ep["start"], lo) + 1, 0, None)
        w = np.bincount(ep["la"] * n_need + ep["need"], weights=days * cost, minlength=n_la * n_need)
        total = budget * (1.02**i)
        gbp = np.round(w / w.sum() * total) if w.sum() > 0 else np.zeros_like(w)
        rows.append(pd.DataFrame({
            "financial_year": fy,
            "local_authority": np.repeat(domain.LA_NAMES, n_need),
            "lead_need": np.tile(needs, n_la),
            "spend_gbp": gbp,
        }))
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------ service use
# Linked public-service use (issue 13). Rates are events per person per month.
_USE_BASE = {"emergency_admission": 0.006, "ae_attendance": 0.012, "outpatient": 0.025,
             "gp_event": 0.040, "homelessness_presentation": 0.0015}
_USE_AGE = {"emergency_admission": 0.18, "ae_attendance": -0.05, "outpatient": 0.15, "gp_event": 0.12,
            "homelessness_presentation": -0.30}  # log-rate per 10 years of age over 50
_USE_MALE = {"emergency_admission": 0.10, "ae_attendance": 0.15, "outpatient": -0.10, "gp_event": -0.20,
             "homelessness_presentation": 0.40}
_USE_FRAILTY_SD = 0.6  # a person's own rate: log-normal, shared across services
_USE_NEED = {  # supported people's rates relative to the population of the same age and sex
    "domestic_abuse": 1.8, "mental_health": 2.0, "substance_misuse": 3.0, "criminal_offending": 2.2,
    "young_people": 1.6, "care_leavers": 1.8, "families": 1.4, "generic_floating": 1.6, "refugees": 1.2,
    "learning_disabilities": 1.3, "older_people": 1.3, "alarm_services": 1.2, "physical_disabilities": 1.5,
}
_USE_HOMELESS_NEED = {"generic_floating": 4.0, "young_people": 3.0, "care_leavers": 3.0, "substance_misuse": 3.0,
                      "criminal_offending": 3.0, "domestic_abuse": 2.5}
_CRISIS_MONTHS = 6  # use rises over the months before support starts: the crisis that brings people to support
_CRISIS_RISE = {"emergency_admission": 0.8, "ae_attendance": 0.8, "outpatient": 0.3, "gp_event": 0.5,
                "homelessness_presentation": 1.5}
_EFFECT_MAX = {  # share of the (crisis-level) rate that support removes once fully in effect; < 0: more use
    "emergency_admission": 0.30, "ae_attendance": 0.25, "outpatient": -0.10, "gp_event": -0.05,
    "homelessness_presentation": 0.50,
}
_EFFECT_NEED = {"older_people": 0.6, "alarm_services": 0.4, "domestic_abuse": 1.2, "mental_health": 1.1,
                "substance_misuse": 0.8, "generic_floating": 1.2, "young_people": 1.1, "care_leavers": 1.0,
                "learning_disabilities": 0.7, "physical_disabilities": 0.7}
_EFFECT_BUILD_MONTHS = 3.0  # effect(e) = max * need * (1 - exp(-(e + 1) / 3)) for months e >= 0 since the start
_TREND_PER_YEAR = 0.02
_SEASON = 0.08  # winter peak (January)
_LINKAGE_YEARS_BEFORE = 2


def _calendar(months: np.ndarray, first_month_of_year: int = 4) -> np.ndarray:
    """Calendar multiplier of month index ``months`` (0 = the linkage window's first April)."""
    month_of_year = (months + first_month_of_year - 1) % 12 + 1
    return (1 + _TREND_PER_YEAR * months / 12) * (1 + _SEASON * np.cos(2 * np.pi * (month_of_year - 1) / 12))


def _effect_share(e: np.ndarray, max_share: float, need_mult: np.ndarray) -> np.ndarray:
    """Share of the rate removed by support ``e`` months after its start (0 before)."""
    build = 1 - np.exp(-(np.maximum(e, -1) + 1) / _EFFECT_BUILD_MONTHS)
    return np.where(e >= 0, max_share * need_mult * build, 0.0)


def _crisis(e: np.ndarray, rise: float) -> np.ndarray:
    """Rise before support (a ramp over the crisis months) that persists afterwards absent support."""
    ramp = np.clip((e + _CRISIS_MONTHS + 1) / _CRISIS_MONTHS, 0.0, 1.0)
    return 1 + rise * ramp


def _service_use(rng: np.random.Generator, *, people: int, pool: int, start_year: int, years: int,
                 first_day: np.ndarray, first_need: np.ndarray, birth_year: np.ndarray, sex: np.ndarray,
                 needs: tuple[str, ...], study_start: np.datetime64):
    """Linked service use of the supported and of a never-supported pool, with the true effects.

    Returns the pool's (sex, birth_year), the event table's columns and the truth.
    Events are drawn by thinning a Poisson process whose rate dominates each person's
    monthly rate (fast at national scale: no person-month grid is materialised).
    """
    window_start = np.datetime64(domain.fy_bounds(start_year - _LINKAGE_YEARS_BEFORE)[0].date(), "D")
    window_end = np.datetime64(domain.fy_bounds(start_year + years - 1)[1].date(), "D")
    n_days = int((window_end - window_start) / np.timedelta64(1, "D")) + 1
    days = window_start + np.arange(n_days)
    ym = days.astype("datetime64[M]").astype(int)
    day_month = (ym - ym[0]).astype(np.int32)  # month index of each day in the window
    n_months = int(day_month[-1]) + 1
    cal = _calendar(np.arange(n_months))
    offset = int((study_start - window_start).astype(int))

    # the pool: selected on observables (ages spread over adult life, sex evenly)
    pool_age = rng.integers(18, 96, size=pool)
    pool_birth = (start_year - pool_age).astype(np.int32)
    pool_sex = np.where(rng.random(pool) < 0.005, 2, (rng.random(pool) < 0.48).astype(int))
    n = people + pool
    all_birth = np.concatenate([birth_year, pool_birth])
    all_sex = np.concatenate([sex, pool_sex])
    age = (start_year - all_birth).astype(float)
    male = (all_sex == 1).astype(float)
    frailty = rng.normal(-_USE_FRAILTY_SD**2 / 2, _USE_FRAILTY_SD, n)
    treated = np.arange(n) < people
    start_month = np.full(n, -1, dtype=np.int64)
    start_month[:people] = day_month[offset + first_day]
    need = np.full(n, -1)
    need[:people] = first_need
    eff_need = np.array([_EFFECT_NEED.get(c, 1.0) for c in needs])
    h = np.where(treated, eff_need[np.maximum(need, 0)], 0.0)

    services = list(_USE_BASE)
    person_parts, day_parts, service_parts = [], [], []
    truth_services = {}
    for s_idx, s in enumerate(services):
        need_mult = np.array([(_USE_HOMELESS_NEED if s == "homelessness_presentation" else _USE_NEED).get(c, 1.0)
                              for c in needs])
        lam = _USE_BASE[s] * np.exp(_USE_AGE[s] * (age - 50) / 10 + _USE_MALE[s] * male + frailty)
        lam = np.where(treated, lam * need_mult[np.maximum(need, 0)], lam)
        rise, tau = _CRISIS_RISE[s], _EFFECT_MAX[s]
        bound = lam * cal.max() * np.where(treated, (1 + rise) * max(1.0, 1 - tau * eff_need.max()), 1.0)
        k = rng.poisson(bound * n_days * 12 / 365.25)  # candidates over the window (rate per month → per day)
        who = np.repeat(np.arange(n, dtype=np.int64), k)
        day = rng.integers(0, n_days, size=who.size)
        m = day_month[day]
        rate = lam[who] * cal[m]
        tr = np.flatnonzero(who < people)  # the supported come first
        e = m[tr] - start_month[who[tr]]
        rate[tr] *= _crisis(e, rise) * (1 - _effect_share(e, tau, h[who[tr]]))
        keep = rng.random(who.size) * bound[who] < rate
        person_parts.append(who[keep])
        day_parts.append(day[keep])
        service_parts.append(np.full(int(keep.sum()), s_idx, dtype=np.int64))
        # truth: the expected effect for cohort g at event month e is
        # cal[g + e] * (1 + rise) * tau * build(e) * mean over the cohort of lam * need effect
        g_t = start_month[:people]
        groups, inv = np.unique(g_t, return_inverse=True)
        weight = np.bincount(inv, weights=lam[:people] * h[:people])
        size = np.bincount(inv)
        truth_services[s] = {
            "base_rate": _USE_BASE[s], "age_per_10y": _USE_AGE[s], "male": _USE_MALE[s],
            "need_rate_multiplier": dict(zip(needs, need_mult.tolist())),
            "crisis_rise": rise, "effect_max_share": tau,
            "cohort_month": groups.tolist(), "cohort_size": size.tolist(),
            "cohort_mean_rate_x_need_effect": (weight / size).tolist(),
        }
    person = np.concatenate(person_parts)
    day = np.concatenate(day_parts)
    service = np.concatenate(service_parts)
    key = (person * n_days + day) * len(services) + service
    key, count = np.unique(key, return_counts=True)  # one row per person, day and service: sorted
    service = key % len(services)
    day = (key // len(services)) % n_days
    person = key // (len(services) * n_days)
    truth = {
        "description": (
            "rate(person, service, month) = base * exp(age_per_10y*(age-50)/10 + male + frailty) "
            "* need_rate_multiplier (supported) * calendar(month) * crisis(e) * (1 - effect(e)); "
            "crisis(e) = 1 + crisis_rise * clip((e + crisis_months + 1)/crisis_months, 0, 1) (the worsening "
            "that brings people to support, persisting without support); effect(e) = effect_max_share * "
            "effect_by_lead_need * (1 - exp(-(e+1)/effect_build_months)) for e >= 0; e = months since the "
            "first support started; never-supported pool: no crisis, no effect"),
        "linkage_window": [str(window_start), str(window_end)],
        "first_month": str(days[0].astype("datetime64[M]")),
        "crisis_months": _CRISIS_MONTHS,
        "effect_build_months": _EFFECT_BUILD_MONTHS,
        "effect_by_lead_need": {c: float(v) for c, v in zip(needs, eff_need)},
        "frailty_sd": _USE_FRAILTY_SD,
        "trend_per_year": _TREND_PER_YEAR, "season": _SEASON,
        "comparison_pool": int(pool),
        "services": truth_services,
        "events": int(count.sum()),
    }
    table = {"person": person, "date": window_start + day.astype("timedelta64[D]"), "service": service,
             "count": count.astype(np.int32)}
    return pool_sex, pool_birth, table, services, truth


def true_effects(truth: dict, service: str, event_months=range(-24, 25)) -> pd.DataFrame:
    """The simulator's true effect of support on ``service``, by cohort and event month.

    Parameters
    ----------
    truth : dict
        ``study.truth`` of a simulated study with service use.
    service : str
    event_months : iterable of int
        Months since the start of support (negative: before; the effect there is 0).

    Returns
    -------
    pandas.DataFrame
        ``cohort_month`` (index of the start month in the linkage window), ``event_month``,
        ``month`` (calendar month index), ``n`` (people in the cohort) and ``effect``: the
        expected change in events per person per month caused by support (negative: fewer).
        Only cells inside the linkage window.

    Examples
    --------
    >>> import longitudinal as lg
    >>> s = lg.simulate(people=300, seed=2)
    >>> t = true_effects(s.truth, "emergency_admission", [0, 12])
    >>> bool((t["effect"] < 0).all())
    True
    """
    su = (truth or {}).get("service_use")
    if not su or service not in su["services"]:
        raise ValueError(f"no simulated truth for service {service!r}")
    p = su["services"][service]
    g = np.asarray(p["cohort_month"])
    e = np.asarray(list(event_months))
    gg, ee = np.repeat(g, e.size), np.tile(e, g.size)
    month = gg + ee
    n_months = _months_in(su)
    inside = (month >= 0) & (month < n_months)
    gg, ee, month = gg[inside], ee[inside], month[inside]
    idx = np.searchsorted(g, gg)
    mean = np.asarray(p["cohort_mean_rate_x_need_effect"])[idx]
    # need effect is inside ``mean``, so the share here uses a multiplier of 1
    share = _effect_share(ee, p["effect_max_share"], np.ones(ee.size))
    effect = -_calendar(month) * (1 + p["crisis_rise"]) * share * mean
    return pd.DataFrame({"cohort_month": gg, "event_month": ee, "month": month,
                         "n": np.asarray(p["cohort_size"])[idx], "effect": effect})


def _months_in(su: dict) -> int:
    a, b = np.array(su["linkage_window"], dtype="datetime64[M]")
    return int((b - a).astype(int)) + 1


def true_att(truth: dict, service: str, group_time: pd.DataFrame) -> pd.Series:
    """The true effect an estimator's aggregation targets: its cohort x event-month cells, weighted as it weights them.

    Parameters
    ----------
    truth : dict
        ``study.truth`` of a simulated study with service use.
    service : str
    group_time : DataFrame
        ``cohort, event_month, n_treated`` (e.g. ``DiDResults.group_time``).

    Returns
    -------
    Series
        Indexed by event month, and ``att`` (the mean over months 1-12, as the headline).
    """
    cells = group_time[["cohort", "event_month", "n_treated"]].copy()
    eff = true_effects(truth, service, sorted(cells["event_month"].unique()))
    cells = cells.merge(eff.rename(columns={"cohort_month": "cohort"})[["cohort", "event_month", "effect"]],
                        on=["cohort", "event_month"], how="left")
    cells["effect"] = cells["effect"].fillna(0.0)
    cells["we"] = cells["effect"] * cells["n_treated"]
    sums = cells.groupby("event_month")[["we", "n_treated"]].sum()
    by_e = sums["we"] / sums["n_treated"]
    head = by_e[(by_e.index >= 1) & (by_e.index <= 12)]
    return pd.concat([by_e, pd.Series({"att": head.mean()})])
