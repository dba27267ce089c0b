"""Deadweight, displacement, attribution and drop-off: published medians, and estimates from the study."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .fields import ImpactMapError, check_indicator, is_blank, parse_share

__all__ = ["ADJUSTMENTS", "PUBLISHED_MEDIANS", "MEDIANS_BASIS", "MIN_EVIDENCE", "Adjustment", "estimate_drop_off",
           "estimate_adjustment"]


#: Medians of the adjustments across 383 published SROI reports (as given in issue 5): the default
#: value of an adjustment a map leaves blank, and the upper end of the default uncertainty of a 0.
PUBLISHED_MEDIANS: dict[str, float] = {
    "deadweight": 0.20, "attribution": 0.255, "drop_off": 0.215, "displacement": 0.175}
ADJUSTMENTS: tuple[str, ...] = ("deadweight", "displacement", "attribution", "drop_off")
MEDIANS_BASIS = "median across 383 published SROI reports"
#: The fewest people an adjustment is estimated from (people at risk on a sustained-outcome curve;
#: the programme's and the comparison group's bases of a rate); below it the map's stated value is used.
MIN_EVIDENCE = 30


@dataclass(frozen=True)
class Adjustment:
    """One adjustment (deadweight, displacement, attribution or drop-off) and where it came from.

    ``status`` is ``"assumed"`` (stated in the map), ``"default"`` (left blank: the
    published median) or ``"estimated"`` (from the study; ``basis`` says how).
    """

    value: float
    status: str = "assumed"
    basis: str = "stated in the impact map"
    ci_lower: float | None = None
    ci_upper: float | None = None
    distribution: dict | None = None

def estimate_drop_off(table: pd.DataFrame, *, years: int | None = None, where: Mapping | None = None,
                      min_at_risk: int | None = None, level: float | None = None) -> Adjustment:
    """Annual drop-off from a sustained-outcome curve.

    The annual drop-off between years is ``d_t = 1 − S(t+1)/S(t)``; a constant
    (geometric) drop-off over years ``t0 … t1`` is ``1 − (S(t1)/S(t0))^(1/(t1 − t0))``,
    the geometric mean of the annual ones. Its interval uses the confidence
    limits of ``S(t1)`` (the first year held fixed).

    Parameters
    ----------
    table : DataFrame
        The ``by_year()`` table of :func:`longitudinal.sustained_outcomes`:
        ``year`` (1, 2, … years after support ended), ``survival``, ``ci_lower``,
        ``ci_upper`` (and ``at_risk``), possibly with group columns.
    years : int, optional
        Use years 1 … ``years`` (the outcome's duration); all years when omitted.
    where : mapping, optional
        Group columns to select one curve, e.g. ``{"outcome": "managing_money"}``.
    min_at_risk : int, optional
        Years whose ``at_risk`` is below this are not evidence (a curve followed by
        one person is flat by chance); default :data:`MIN_EVIDENCE`. At least two
        years must remain.

    The interval is the one the table carries (its ``ci_lower``/``ci_upper``: set its coverage with
    ``sustained_outcomes(alpha=...)``); ``level=`` never changed it and is deprecated.

    Examples
    --------
    >>> t = pd.DataFrame({"year": [1, 2, 3], "survival": [0.8, 0.64, 0.512],
    ...                   "ci_lower": [0.75, 0.58, 0.45], "ci_upper": [0.85, 0.70, 0.58]})
    >>> a = estimate_drop_off(t)
    >>> round(a.value, 6), a.status
    (0.2, 'estimated')
    """
    if level is not None:
        warnings.warn("estimate_drop_off(level=...) is deprecated and never had an effect: the interval is the "
                      "table's own (ci_lower, ci_upper; set sustained_outcomes(alpha=...)) (longitudinal's vocabulary, "
                      "docs/api.md)", DeprecationWarning, stacklevel=2)
    need = {"year", "survival"}
    missing = need - set(table.columns)
    if missing:
        raise ValueError(f"sustained-outcome table lacks columns {sorted(missing)} (has {list(table.columns)})")
    t = table
    for k, v in (where or {}).items():
        if k not in t.columns:
            raise ValueError(f"sustained-outcome table has no group column {k!r} (has {list(t.columns)})")
        t = t[t[k] == v]
    # beyond the last follow-up a curve is undefined (NaN): not evidence of anything
    t = t[(t["year"] >= 1) & t["survival"].notna()].sort_values("year")
    if years is not None:
        t = t[t["year"] <= max(int(years), 2)]
    floor = MIN_EVIDENCE if min_at_risk is None else int(min_at_risk)
    if "at_risk" in t.columns and len(t):
        thin = t[t["at_risk"] < floor]
        if len(thin):
            t = t[t["year"] < thin["year"].min()]  # the curve's tail stops being evidence for all later years
            if len(t) < 2:
                raise ValueError(f"the curve follows {int(thin['at_risk'].iloc[0])} of the people into year "
                                 f"{int(thin['year'].iloc[0])} after support ended (fewer than {floor})")
    groups = [c for c in t.columns if c not in ("year", "survival", "ci_lower", "ci_upper", "at_risk", "n_events",
                                                "events", "se")]
    if groups and any(t[c].nunique() > 1 for c in groups):
        raise ValueError(f"sustained-outcome table holds several curves; select one with where= on {groups}")
    if len(t) < 2:
        raise ValueError("need the survival in at least two years after support ended to estimate drop-off")
    if t["year"].duplicated().any():
        raise ValueError("sustained-outcome table has repeated years; select one curve with where=")
    t0, t1 = int(t["year"].iloc[0]), int(t["year"].iloc[-1])
    s0, s1 = float(t["survival"].iloc[0]), float(t["survival"].iloc[-1])
    if s0 <= 0:
        raise ValueError(f"survival in year {t0} is {s0}: nothing is sustained to drop off from")
    span = t1 - t0

    def d(s):
        return float(min(1.0, max(0.0, 1.0 - (max(s, 0.0) / s0) ** (1.0 / span))))

    lo = hi = None
    if "ci_lower" in t.columns and "ci_upper" in t.columns:
        lo, hi = d(float(t["ci_upper"].iloc[-1])), d(float(t["ci_lower"].iloc[-1]))
    annual = 1 - t["survival"].to_numpy()[1:] / t["survival"].to_numpy()[:-1]
    basis = (f"sustained-outcome curve, years {t0}–{t1}: S={s0:.3f}→{s1:.3f}; annual drop-offs "
             + ", ".join(f"{x:.3f}" for x in annual) + "; geometric mean")
    if where:
        basis += " (" + ", ".join(f"{k}={v}" for k, v in where.items()) + ")"
    return Adjustment(d(s1), "estimated", basis, lo, hi)


def estimate_adjustment(name: str, spec: Mapping, row: str, study, comparison, sustained) -> Adjustment:
    from .. import indicators

    src = spec["from"]
    fallback = spec.get("value")
    wanted = {"sustained_outcomes": "sustained-outcome curves", "comparison": "a comparison group"}.get(
        src, "a counterfactual rate")

    def fall_back(reason: str) -> Adjustment:
        """The map's stated value, saying why the estimate was not used; an error when there is none."""
        if fallback is not None:
            return Adjustment(parse_share(fallback, f"{name}.value", row), "assumed", f"stated fallback: {reason}")
        raise ImpactMapError(f"{name} is to be estimated from {wanted}, but {reason} (add value: as a fallback)",
                             row=row, field=name)

    if src == "sustained_outcomes":
        where = dict(spec.get("where") or {})

        table = None
        if isinstance(sustained, pd.DataFrame):
            table = sustained
        elif sustained is not None and hasattr(sustained, "by_year"):
            table = sustained.by_year()
        elif study is not None:
            import longitudinal as lg

            fn = getattr(lg, "sustained_outcomes", None)
            if fn is not None:
                params = dict(spec.get("params") or {})
                try:
                    table = fn(study, **params).by_year()
                except TypeError as e:  # a parameter it does not take: the map is wrong
                    raise ImpactMapError(f"lg.sustained_outcomes(study, **{params}): {e}", row=row,
                                         field=f"{name}.params") from None
                except (KeyError, ValueError) as e:  # not estimable from these data
                    return fall_back(f"lg.sustained_outcomes(study, **{params}) could not estimate curves: {e}")
        if table is None:
            return fall_back("no sustained-outcome curve was available (no study with lg.sustained_outcomes "
                             "and no sustained= table)")
        try:
            return estimate_drop_off(table, years=spec.get("years"), where=where)
        except ValueError as e:
            return fall_back(f"the curve gives no drop-off ({e})")
    if src == "effectiveness":
        # the quantity is already the supported minus their counterfactual: nothing of it happens anyway
        return Adjustment(0.0, "estimated", "the quantity is an effect against the counterfactual of the "
                          "effectiveness design (see its basis in the outcomes table): deadweight is taken out there",
                          0.0, 0.0)
    # deadweight from a comparison group or a counterfactual rate
    ind = spec.get("indicator")
    if is_blank(ind):
        raise ImpactMapError("needs the indicator whose rate is compared", row=row, field=f"{name}.indicator")
    check_indicator(str(ind), row)
    params = dict(spec.get("params") or {})
    if study is None:
        raise ImpactMapError("deadweight is to be estimated from the study, but no study was given", row=row,
                             field=name)
    obs = indicators.compute(str(ind), study, **params)
    if obs.kind != "proportion":
        raise ImpactMapError(f"indicator {ind!r} is a {obs.kind}; deadweight compares rates (proportions)",
                             row=row, field=f"{name}.indicator")
    if obs.n < MIN_EVIDENCE:
        return fall_back(f"the programme's rate ({ind}) rests on {obs.n} people (fewer than {MIN_EVIDENCE})")
    if not obs.value > 0:
        raise ImpactMapError(f"the programme's rate ({ind}) is {obs.value}: no outcome to set deadweight against",
                             row=row, field=name)
    if src == "comparison":
        if comparison is None:
            return fall_back("no comparison group was given (evaluate(..., comparison=study) / --comparison DIR)")
        cf = indicators.compute(str(ind), comparison, **params)
        if cf.n < MIN_EVIDENCE:
            return fall_back(f"the comparison group's rate ({ind}) rests on {cf.n} people (fewer than "
                             f"{MIN_EVIDENCE})")
        rate, lo_r, hi_r = cf.value, cf.ci_lower, cf.ci_upper
        basis = (f"comparison group: {ind} {cf.value:.3f} (n={cf.n}) against programme {obs.value:.3f} "
                 f"(n={obs.n}); deadweight = comparison rate / programme rate")
    else:
        rate = parse_share(spec.get("rate"), f"{name}.rate", row)
        lo_r = hi_r = rate
        basis = (f"counterfactual rate {rate:.3f} ({spec.get('source', 'source not stated')}) against programme "
                 f"{ind} {obs.value:.3f} (n={obs.n}); deadweight = counterfactual / programme rate")
    val = min(1.0, rate / obs.value)
    lo = min(1.0, lo_r / obs.ci_upper) if obs.ci_upper > 0 else None
    hi = min(1.0, hi_r / obs.ci_lower) if obs.ci_lower > 0 else 1.0
    return Adjustment(val, "estimated", basis, lo, hi)
