"""Named indicators computed from a study: one registry for outcome maps and social return.

An indicator is a function of a :class:`~longitudinal.study.Study` and a few
parameters that returns an :class:`IndicatorValue`: the value with its base
(sample size), a confidence interval and the share of missing readings, so
that a rubric can judge its precision and an impact map can use it as a
quantity.

Examples
--------
>>> import longitudinal as lg
>>> from longitudinal import indicators
>>> study = lg.simulate(people=800, seed=3)
>>> v = indicators.compute("share_improving", study, outcome="managing_money")
>>> 0 <= v.value <= 1 and v.ci_lower <= v.value <= v.ci_upper
True
>>> "moved_between_stages" in indicators.available()["name"].tolist()
True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import domain
from .distance import episode_pairs, wilson_interval
from .errors import NoDataError
from .study import Study

__all__ = ["IndicatorValue", "indicator", "compute", "available", "names", "signature", "wilson_interval",
           "poisson_interval"]


@dataclass(frozen=True)
class IndicatorValue:
    """The value of an indicator with what is needed to judge it.

    Attributes
    ----------
    name : str
    value : float
        A proportion (0–1), a count or a mean, per ``kind``.
    kind : str
        ``"proportion"``, ``"count"`` or ``"mean"``.
    n : int
        The base: episodes the value is computed from.
    count : int or None
        Numerator of a proportion, or the count itself.
    ci_lower, ci_upper : float
        95% confidence interval (Wilson for proportions, Poisson for counts, t for means).
    missing_share : float
        Share of eligible episodes left out for want of readings (0–1).
    params : dict
        The parameters it was computed with.
    description : str
    """

    name: str
    value: float
    kind: str
    n: int
    count: int | None
    ci_lower: float
    ci_upper: float
    missing_share: float
    params: dict
    description: str

    @property
    def ci_width(self) -> float:
        return self.ci_upper - self.ci_lower

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Indicator:
    name: str
    func: Callable[..., tuple]  # (value, n, count, (lo, hi), missing)
    kind: str
    description: str


_REGISTRY: dict[str, _Indicator] = {}


def indicator(name: str, kind: str, description: str):
    """Register a function ``f(study, **params) -> (value, n, count, ci, missing_share)`` as an indicator."""

    def wrap(func):
        _REGISTRY[name] = _Indicator(name, func, kind, description)
        return func

    return wrap


def available() -> pd.DataFrame:
    """The registered indicators: name, kind, parameters and description."""
    rows = []
    for ind in _REGISTRY.values():
        params = [p for p in inspect.signature(ind.func).parameters if p != "study"]
        rows.append({"name": ind.name, "kind": ind.kind, "parameters": ", ".join(params),
                     "description": ind.description})
    return pd.DataFrame(rows)


def names() -> list[str]:
    """The registered indicators' names, sorted."""
    return sorted(_REGISTRY)


def signature(name: str) -> inspect.Signature:
    """The parameters of the registered indicator ``name`` (its first, ``study``, included).

    Raises
    ------
    KeyError
        Naming the registered indicators when ``name`` is unknown.
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown indicator {name!r}; available: {', '.join(names())}")
    return inspect.signature(_REGISTRY[name].func)


def compute(name: str, study: Study, **params) -> IndicatorValue:
    """Compute a registered indicator.

    Raises
    ------
    KeyError
        Naming the registered indicators when ``name`` is unknown.
    TypeError
        When a parameter is not one the indicator takes.
    """
    sig = signature(name)
    ind = _REGISTRY[name]
    unknown = [p for p in params if p not in sig.parameters]
    if unknown:
        allowed = [p for p in sig.parameters if p != "study"]
        raise TypeError(f"indicator {name!r} takes no parameter {', '.join(map(repr, unknown))}; "
                        f"it takes: {', '.join(allowed)}")
    value, n, count, (lo, hi), missing = ind.func(study, **params)
    return IndicatorValue(name, float(value), ind.kind, int(n), None if count is None else int(count),
                          float(lo), float(hi), float(missing), dict(params), ind.description)


# ---------------------------------------------------------------- helpers
def poisson_interval(k: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Garwood) interval of a Poisson count ``k``: a count indicator's interval."""
    a = 1 - level
    lo = 0.0 if k == 0 else stats.chi2.ppf(a / 2, 2 * k) / 2
    hi = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
    return (float(lo), float(hi))


def _filtered(study: Study, outcome: str, local_authority=None, lead_need=None, service_type=None) -> pd.DataFrame:
    if local_authority not in (None, "Wales") or lead_need is not None or service_type is not None:
        study = study.subset(local_authority=local_authority, lead_need=lead_need, service_type=service_type)
    return study.long(domain.outcome_code(outcome), include_follow_up=False)


# ------------------------------------------------------------- indicators
@indicator("share_improving", "proportion",
           "Share of episodes whose latest score in the area is above their first (episodes with 2+ readings)")
def _share_improving(study: Study, outcome: str, local_authority: str | None = None,
                     lead_need: str | None = None, service_type: str | None = None):
    fl = episode_pairs(_filtered(study, outcome, local_authority, lead_need, service_type))
    eligible = len(fl)
    fl = fl[fl["n_readings"] >= 2]
    n = len(fl)
    k = int((fl["latest"] > fl["first"]).sum())
    return (k / n if n else float("nan")), n, k, wilson_interval(k, n), (1 - n / eligible if eligible else 0.0)


@indicator("share_reaching_stage", "proportion",
           "Share of episodes whose latest score in the area is at or above `stage` (episodes with 2+ readings)")
def _share_reaching(study: Study, outcome: str, stage: int = 4, local_authority: str | None = None,
                    lead_need: str | None = None, service_type: str | None = None):
    fl = episode_pairs(_filtered(study, outcome, local_authority, lead_need, service_type))
    eligible = len(fl)
    fl = fl[fl["n_readings"] >= 2]
    n = len(fl)
    k = int((fl["latest"] >= stage).sum())
    return (k / n if n else float("nan")), n, k, wilson_interval(k, n), (1 - n / eligible if eligible else 0.0)


@indicator("mean_change", "mean",
           "Mean change from first to latest score in the area (episodes with 2+ readings)")
def _mean_change(study: Study, outcome: str, local_authority: str | None = None,
                 lead_need: str | None = None, service_type: str | None = None):
    fl = episode_pairs(_filtered(study, outcome, local_authority, lead_need, service_type))
    eligible = len(fl)
    fl = fl[fl["n_readings"] >= 2]
    d = (fl["latest"] - fl["first"]).astype(float).to_numpy()
    n = d.size
    if n < 2:
        return float("nan"), n, None, (float("nan"), float("nan")), (1 - n / eligible if eligible else 0.0)
    m, se = d.mean(), d.std(ddof=1) / np.sqrt(n)
    t = stats.t.ppf(0.975, n - 1)
    return m, n, None, (m - t * se, m + t * se), 1 - n / eligible


@indicator("moved_between_stages", "count",
           "Episodes that moved from stage `from_max` or below to `to_min` or above in the area, counted in the "
           "financial year of the first reading at `to_min`+ (all years when `financial_year` is omitted)")
def _moved(study: Study, outcome: str, from_max: int = 2, to_min: int = 4, financial_year: int | None = None,
           local_authority: str | None = None, lead_need: str | None = None, service_type: str | None = None):
    if from_max >= to_min:
        raise ValueError(f"from_max ({from_max}) must be below to_min ({to_min})")
    long = _filtered(study, outcome, local_authority, lead_need, service_type)
    # Each episode-area's readings together, in their order (a stable sort): counts along each run stand for
    # per-area groupbys, which took seconds at national size. Readings without an episode or area count nowhere.
    ep, _ = pd.factorize(long["episode_id"])
    out, _ = pd.factorize(long["outcome"])
    known = (ep >= 0) & (out >= 0)
    pair = ep[known].astype("int64") * (int(out.max(initial=0)) + 1) + out[known]
    if not pair.size:
        return 0, 0, 0, poisson_interval(0), 0.0
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    score = long["score"].to_numpy(dtype="float64", na_value=np.nan)[known][order]
    first = np.r_[True, pair[1:] != pair[:-1]]
    area = np.cumsum(first) - 1  # each reading's episode-area
    low = score <= from_max
    lows = np.cumsum(low) - low  # readings at from_max or below before each reading ...
    lows -= lows[first][area]  # ... of its episode-area
    # a move counts when a reading at to_min+ follows an earlier reading at from_max or below
    hit = np.flatnonzero((score >= to_min) & (lows > 0))
    hit = hit[np.r_[True, area[hit][1:] != area[hit][:-1]]] if hit.size else hit  # the first of each area
    if financial_year is not None:
        hit = hit[long["financial_year"].to_numpy()[known][order][hit] == financial_year]
    k = int(hit.size)
    sizes = np.bincount(area)
    base = int((np.bincount(area, weights=low) > 0).sum())
    one = int((sizes < 2).sum())
    return k, base, k, poisson_interval(k), one / sizes.size


@indicator("sustained_at_months", "proportion",
           "Share of outcome levels sustained (no loss of `loss` stages from the level at a planned end of support) "
           "`months` after the end: Turnbull estimate with bootstrap CI from lg.survival.sustained_outcomes "
           "(base: episode-areas followed up; missing: areas with no usable follow-up)")
def _sustained_at_months(study: Study, outcome: str, months: int = 12, loss: int = 1, n_boot: int = 100,
                         seed: int = 0, local_authority: str | None = None, lead_need: str | None = None,
                         service_type: str | None = None):
    from .survival import sustained_outcomes  # imported late: survival imports lifelines

    if local_authority not in (None, "Wales") or lead_need is not None or service_type is not None:
        study = study.subset(local_authority=local_authority, lead_need=lead_need, service_type=service_type)
    try:
        res = sustained_outcomes(study, domain.outcome_code(outcome), by="outcome", loss=loss, months=(months,),
                                 n_boot=n_boot, seed=seed)
    except NoDataError:
        # nobody to follow (a small area, or no follow-up readings): undefined, and not rated
        return float("nan"), 0, None, (float("nan"), float("nan")), 1.0
    ex = res.exclusions.set_index("reason")["n"]
    unfollowed = int(sum(ex.get(r, 0) for r in ("no_follow_up", "no_reading_at_end", "follow_up_at_end")))
    t = res.at_months([months])
    if t.empty:
        return float("nan"), 0, None, (float("nan"), float("nan")), (1.0 if unfollowed else 0.0)
    row = t.iloc[0]
    n = int(row["n"])
    return (float(row["survival"]), n, None, (float(row["ci_lower"]), float(row["ci_upper"])),
            unfollowed / (n + unfollowed) if n + unfollowed else 0.0)
