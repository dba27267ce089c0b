"""Time to independence and lasting impact: survival analysis of Journey of Change readings.

Two entry points, both built on lifelines:

:func:`time_to_independence`
    Time from the start of support to the first reading at or above a stage
    (stage 5, "manages independently", by default) in each outcome area.
    The stage is only *seen* at readings, so the event is **interval
    censored**: it happened after the previous reading and no later than the
    reading that first shows it. Curves are the Turnbull non-parametric
    maximum-likelihood estimate (NPMLE, the interval-censored Kaplan–Meier),
    with seeded bootstrap confidence intervals; the conventional Kaplan–Meier
    on the date the stage was first seen (lifelines ``KaplanMeierFitter``) is
    kept beside it for the at-risk tables. A Cox model (lifelines
    ``CoxPHFitter``) gives hazard ratios with the proportional-hazards
    assumption tested (``proportional_hazard_test``).

:func:`sustained_outcomes`
    After a *planned* end of support: (a) time to losing a stage in an area
    (interval censored between the end reading and follow-up readings),
    (b) time to re-referral (a new episode of the same person) with death and
    moving away as competing risks (lifelines ``AalenJohansenFitter``, seeded
    because it jitters tied times), (c) the share whose outcome is sustained at
    6, 12 and 24 months with CIs, by area and lead need. ``.by_year()`` is the
    tidy table the social-return work reads for drop-off.

Both take a Study or a long table shaped like ``Study.long()``. Beside them, :func:`fit_cox` (a Cox
model of any table) and :func:`turnbull` (the interval-censored NPMLE, R's ``interval2`` bounds).

Modules
-------
``interval``
    The Turnbull NPMLE and its batched, seeded bootstrap (bands, medians).
``tables``
    Readings as survival data: the checked table, groups, labels, exclusion counts, ``MONTH_DAYS``.
``independence``, ``sustained``, ``cox``
    The analyses above and their results objects.
``lifelines_compat``
    Faster lifelines fitters (private methods replaced), used only on the lifelines releases they
    were checked against, with lifelines' own classes as the fallback.

Conventions
-----------
* Times are in **months** (days / 30.4375). After the end of support they are
  rounded to whole months, because follow-ups are scheduled at 6, 12 and 24
  months and are taken a few days either side of the date.
* An interval ``(lower, upper]`` is open on the left: the person was seen not
  to have the event at ``lower``. ``upper = inf`` is right censoring.
* Where the NPMLE is not determined (inside a Turnbull innermost interval) the
  curve is interpolated linearly; beyond the last finite observation it is
  undefined and reported as NaN rather than extrapolated.
* Everything left out is counted, with the reason, in ``.exclusions``.

Examples
--------
>>> import longitudinal as lg
>>> study = lg.simulate(people=600, seed=2)
>>> tti = lg.time_to_independence(study, "managing_money", n_boot=20)
>>> float(tti.survival_at.loc[0, "survival"]) <= 1
True
>>> so = lg.sustained_outcomes(study, "managing_money", by=("outcome",), n_boot=20, seed=1)
>>> so.by_year().columns.tolist()
['outcome', 'year', 'survival', 'ci_lower', 'ci_upper', 'at_risk']
"""

from .cox import CoxResults, fit_cox
from .independence import IndependenceResults, time_to_independence
from .interval import TurnbullCurve, turnbull
from .sustained import SustainedResults, linked_exits, sustained_outcomes
from .tables import MONTH_DAYS

__all__ = [
    "fit_cox",
    "linked_exits",
    "CoxResults",
    "turnbull",
    "TurnbullCurve",
    "time_to_independence",
    "IndependenceResults",
    "sustained_outcomes",
    "SustainedResults",
    "MONTH_DAYS",
]
