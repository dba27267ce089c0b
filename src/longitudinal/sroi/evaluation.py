"""Evaluating an impact map, alone or against a study, overall and by area."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import domain
from ..prices import Deflators, load_deflators
from .adjustments import ADJUSTMENTS, MEDIANS_BASIS, PUBLISHED_MEDIANS, Adjustment, estimate_adjustment
from .discount import Discount
from .fields import ImpactMapError, NoInputsError
from .impact_map import ImpactMap, OutcomeRow
from .model import ValueModel
from .proxies import restate
from .result import SROIResult, count_interval

__all__ = ["evaluate", "evaluate_by", "quantities"]


def _proxy(o: OutcomeRow) -> tuple[float, int]:
    """An outcome's proxy value and the price year it is stated in (parsing sets both; a row made in code may not)."""
    if o.proxy_value is None or o.price_year is None:
        raise ImpactMapError("an outcome needs a proxy value and the price year it is stated in (proxy_value and "
                             "price_year, or a proxy from the library)", row=o.row, field="proxy_value")
    return o.proxy_value, o.price_year


def evaluate(impact_map: ImpactMap | str | Path | Mapping, study=None, *, year: int | None = None,
             comparison=None, sustained=None, deflators: Deflators | str | Path | None = None,
             discount: Any = None, quantities=None) -> SROIResult:
    """Evaluate an impact map: present value, NPV, SROI ratio, payback, year by year.

    Parameters
    ----------
    impact_map : ImpactMap, path (.yaml/.csv/.xlsx) or mapping
    study : Study, optional
        Needed when a quantity is an indicator, an input comes from ``spend`` or an
        adjustment is estimated. With a study and no ``year``, a data-driven map is
        evaluated for each financial year of the study (the cohort of outcomes
        reached that year against that year's spend) and cumulatively, each cohort
        discounted to the study's first year. Numbers written in a map (quantities,
        inputs) are per financial year, so each cohort gets them.
    year : int, optional
        Evaluate the one financial year ``year`` (2025 = 2025-26).
    comparison : Study, optional
        A comparison group for deadweight (``deadweight: {from: comparison, ...}``).
    sustained : DataFrame or result with ``by_year()``, optional
        Sustained-outcome curves for drop-off (``drop_off: {from: sustained_outcomes}``);
        otherwise ``lg.sustained_outcomes(study, **params)`` is called when it exists.
    deflators : Deflators or path, optional
        A tidy deflator CSV or HM Treasury's release file (see
        :func:`longitudinal.prices.load_deflators`); defaults to ``data/deflators.csv``.
    discount : optional
        Overrides the map's discounting (a rate, ``"green_book"`` or a mapping).
    quantities : sequence of float, optional
        Each outcome's quantity, already counted (one per outcome, every cohort): what a publication passes after
        rounding those of :func:`quantities` with its other counts. The result is that of
        ``evaluate(...).with_quantities(quantities)``, but a count indicator is not computed again: its interval
        is the Poisson interval of the count given and its missing share is not known (``None`` in
        ``outcomes``). Other quantities are computed, for their intervals, which keep their width relative
        to the quantity.

    Returns
    -------
    SROIResult
    """
    m = impact_map if isinstance(impact_map, ImpactMap) else (
        ImpactMap.from_dict(impact_map) if isinstance(impact_map, Mapping) else ImpactMap.load(impact_map))
    if discount is not None:
        m = replace(m, discount=Discount.from_spec(discount))
    defl = deflators if isinstance(deflators, Deflators) else load_deflators(deflators)
    if m.needs_study and study is None and any(o.indicator for o in m.outcomes):
        bad = next(o for o in m.outcomes if o.indicator)
        raise ImpactMapError(f"quantity is the indicator {bad.indicator!r}: it needs a study (study= / --data)",
                             row=bad.row, field="quantity")
    if study is None and any(o.effectiveness for o in m.outcomes):
        bad = next(o for o in m.outcomes if o.effectiveness)
        raise ImpactMapError("quantity comes from an effectiveness estimate: it needs a study with service_use "
                             "(study= / --data)", row=bad.row, field="quantity")
    for i in m.inputs:
        if i.from_spend is not None and study is None:
            raise ImpactMapError("input comes from the spend table: it needs a study (study= / --data)", row=i.row,
                                 field="from_spend")
    data_driven = study is not None and (any(o.indicator or o.effectiveness for o in m.outcomes)
                                         or any(i.from_spend is not None for i in m.inputs))
    if year is not None:
        if study is not None and study.financial_years and year not in study.financial_years:
            raise ValueError(f"financial year {year} ({domain.fy_label(year)}) is not in the study "
                             f"({', '.join(map(str, study.financial_years))})")
        cohorts: list[int | None] = [int(year)]
    elif data_driven:
        cohorts = list(study.financial_years) or sorted(study.spend["financial_year"].unique().tolist())
    else:
        cohorts = [None]

    # ---- resolve everything first: nothing is computed until the map is known to be good
    K, C = len(m.outcomes), len(cohorts)
    adjustments: list[dict[str, Adjustment]] = []
    for o in m.outcomes:
        res = {}
        for a in ADJUSTMENTS:
            v = o.adjustments.get(a)
            if v is None:
                res[a] = Adjustment(PUBLISHED_MEDIANS[a], "default", MEDIANS_BASIS)
            elif isinstance(v, Mapping):
                res[a] = estimate_adjustment(a, v, o.row, study, comparison, sustained)
            else:
                res[a] = Adjustment(float(v), "assumed", "stated in the impact map")
        adjustments.append(res)
    proxy = np.array([restate(defl, *_proxy(o), m.price_year, row=o.row) for o in m.outcomes])
    quantity, q_ci, q_info = _quantities(m, study, cohorts, quantities)
    inputs = np.zeros(C)
    input_rows = []
    for c, fy in enumerate(cohorts):
        for i in m.inputs:
            if i.from_spend is not None:
                sp = study.spend
                if fy is not None:
                    sp = sp[sp["financial_year"] == fy]
                for col, val in i.from_spend.items():
                    want = domain.local_authority(val) if col == "local_authority" else val
                    sp = sp[sp[col] == want]
                by_year = sp.groupby("financial_year")["spend_gbp"].sum()
                cash = float(by_year.sum())
                real = sum(restate(defl, v, int(y), m.price_year, row=i.row, field="from_spend")
                           for y, v in by_year.items())
                basis = f"spend table, {', '.join(f'{k}={v}' for k, v in i.from_spend.items()) or 'all'}"
            elif i.value is None:  # parsing refuses this; an InputRow made in code may still lack both
                raise ImpactMapError("an input needs a value or from_spend", row=i.row, field="value")
            else:
                cash = i.value  # numbers in a map are per financial year: each cohort gets them
                real = cash if i.price_year is None else restate(defl, cash, i.price_year, m.price_year, row=i.row)
                basis = "stated in the impact map"
            inputs[c] += real
            input_rows.append({"cohort": fy, "input": i.name, "stakeholder": i.stakeholder, "cash_gbp": cash,
                               "value": real, "basis": basis})
    if inputs.sum() <= 0:
        raise NoInputsError("the inputs total 0: the SROI ratio is undefined", field="inputs")
    T = int(max(o.duration_years for o in m.outcomes))
    first = cohorts[0] if cohorts[0] is not None else 0
    offsets = np.array([0 if fy is None else fy - first for fy in cohorts], dtype=float)
    df = np.vstack([m.discount.factors(range(1, T + 1), offset=off) for off in offsets])
    # inputs are spent at the start of their cohort's year: undiscounted in the first
    input_df = np.array([float(m.discount.cumulative([off])[0]) for off in offsets])
    adj = np.array([[adjustments[k][a].value for k in range(K)] for a in ADJUSTMENTS])
    model = ValueModel(quantity, proxy, adj, np.array([o.duration_years for o in m.outcomes]), df, inputs, input_df)
    result = SROIResult(m, model, cohorts, adjustments, q_ci, q_info, pd.DataFrame(input_rows), defl)
    # the counts given are in place already; the other quantities' intervals follow them
    return result if quantities is None else result.with_quantities(quantities)


def quantities(impact_map: ImpactMap | str | Path | Mapping, study, *, year: int) -> pd.DataFrame:
    """Each outcome's quantity in the financial year ``year`` as :func:`evaluate` computes it, without evaluating
    the map (no adjustment is estimated, no input is needed): a publication protects them (rounds them with its
    other counts) before the map is evaluated on what it publishes (:meth:`SROIResult.with_quantities`).

    Returns
    -------
    DataFrame
        ``stakeholder, outcome, quantity, kind``: the indicator's kind (``"count"``, ``"proportion"``, ...),
        ``"effect"`` for an effectiveness estimate, ``"stated"`` for a number of the map.

    Raises
    ------
    ImpactMapError
        If an indicator cannot be computed on the study.
    """
    m = impact_map if isinstance(impact_map, ImpactMap) else (
        ImpactMap.from_dict(impact_map) if isinstance(impact_map, Mapping) else ImpactMap.load(impact_map))
    q, _ci, info = _quantities(m, study, [int(year)])
    kinds = ["effect" if o.effectiveness is not None else "stated" if o.indicator is None else info[0][k].kind
             for k, o in enumerate(m.outcomes)]
    return pd.DataFrame({"stakeholder": [o.stakeholder for o in m.outcomes], "outcome": [o.name for o in m.outcomes],
                         "quantity": q[0], "kind": kinds})


def _quantities(m: ImpactMap, study, cohorts: list, given=None) -> tuple[np.ndarray, np.ndarray, list[list[Any]]]:
    """Each cohort's quantity of each outcome ``(C, K)``, its interval ``(C, K, 2)`` and what the indicator or
    effect estimate said (``None`` for a number of the map). ``given``: the quantities already counted
    (``evaluate(quantities=...)``); a count indicator then takes its count, with its Poisson interval, uncomputed
    (``None`` for what it said)."""
    from .. import indicators

    K, C = len(m.outcomes), len(cohorts)
    quantity = np.zeros((C, K))
    q_ci = np.full((C, K, 2), np.nan)
    q_info: list[list[Any]] = [[None] * K for _ in range(C)]
    if given is not None:
        given = np.asarray(given, dtype=float)
        if given.shape != (K,):
            raise ValueError(f"quantities: expected one per outcome ({K}), got {given.shape}")
        kinds = dict(zip(*indicators.available()[["name", "kind"]].to_numpy().T))
    for k, o in enumerate(m.outcomes):
        for c, fy in enumerate(cohorts):
            if given is not None and o.indicator is not None and kinds.get(o.indicator) == "count":
                quantity[c, k] = given[k]
                q_ci[c, k] = count_interval(float(given[k]), o.multiply_by)[1]
                continue
            if o.effectiveness is not None:
                from ..effectiveness import impact_quantity

                try:
                    eff = impact_quantity(study, o.effectiveness, financial_year=fy)
                except ValueError as e:
                    raise ImpactMapError(f"effectiveness: {e}", row=o.row, field="quantity") from None
                quantity[c, k], q_ci[c, k], q_info[c][k] = eff.value, (eff.ci_lower, eff.ci_upper), eff
                continue
            if o.indicator is None:
                quantity[c, k] = o.quantity
                continue
            params = dict(o.indicator_params)
            takes = indicators.signature(o.indicator).parameters
            if fy is not None and "financial_year" in takes and "financial_year" not in params:
                params["financial_year"] = fy
            try:
                v = indicators.compute(o.indicator, study, **params)
            except (KeyError, TypeError, ValueError) as e:
                raise ImpactMapError(f"indicator {o.indicator!r}: {e}", row=o.row, field="indicator") from None
            if v.kind != "count" and o.multiply_by is None:
                raise ImpactMapError(f"indicator {o.indicator!r} is a {v.kind}, not a count: give multiply_by "
                                     "(e.g. the number of people) to turn it into a quantity", row=o.row,
                                     field="quantity")
            mult = 1.0 if o.multiply_by is None else o.multiply_by
            val = 0.0 if not math.isfinite(v.value) else v.value * mult
            quantity[c, k] = val
            q_ci[c, k] = (v.ci_lower * mult, v.ci_upper * mult)
            q_info[c][k] = v
    return quantity, q_ci, q_info


def evaluate_by(impact_map: ImpactMap | str | Path | Mapping, study, by: str = "local_authority", *,
                year: int | None = None, **kw) -> pd.DataFrame:
    """Evaluate a data-driven map separately for each local authority, lead need or service type.

    The study (readings, episodes and, for authority and lead need, spend) is
    restricted to each group in turn with :meth:`Study.subset`. Returns one row
    per group with the headline figures; groups whose inputs total 0 get a
    ``note`` instead of figures.

    Examples
    --------
    >>> import longitudinal as lg
    >>> from longitudinal import sroi
    >>> study = lg.simulate(people=400, seed=2)
    >>> t = sroi.evaluate_by(sroi.DEFAULT_MAP.with_name("example_study.yaml"), study, year=2022)
    >>> t.columns[:3].tolist()
    ['local_authority', 'present_value', 'inputs_value']
    """
    if by not in ("local_authority", "lead_need", "service_type"):
        raise ValueError(f"by must be local_authority, lead_need or service_type, not {by!r}")
    m = impact_map if isinstance(impact_map, ImpactMap) else (
        ImpactMap.from_dict(impact_map) if isinstance(impact_map, Mapping) else ImpactMap.load(impact_map))
    rows = []
    for g in sorted(study.episodes[by].dropna().unique().tolist()):
        sub = study.subset(**{by: g})
        try:
            r = evaluate(m, sub, year=year, **kw)
        except NoInputsError:
            rows.append({by: g, "note": "no spend"})
            continue
        rows.append({by: g, **r.headline(), "note": ""})
    return pd.DataFrame(rows)
