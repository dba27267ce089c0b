"""An outcome map rated from a study: each indicator-linked step's progress and confidence for an area and a year.

:func:`rate_map` (``OutcomeMap.rate``) computes the indicators of every step from the study
(:mod:`longitudinal.indicators`) and a :class:`~longitudinal.rubric.Rubric` turns each value and its
precision into ratings; the result is a :class:`RatedMap`, the map with its fitted ratings.
:func:`rollup` rates one map per local authority and one for Wales.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd

from .. import domain, indicators
from ..deprecation import warn_deprecated
from ..errors import InputError
from ..results import Results, Summary
from ..rubric import CONFIDENCE, PROGRESS, Rubric, RubricError
from ..study import Study
from .document import OutcomeMap
from .model import ComputedRating, OutcomeMapError, describe_params

__all__ = ["RatedMap", "rate_map", "MapRollup", "rollup", "combine_ratings", "check_year", "as_rubric"]


@dataclass(repr=False)
class RatedMap(OutcomeMap):
    """An outcome map rated from a study for an area and a financial year (what :meth:`OutcomeMap.rate` returns).

    The map's steps carry their :class:`~.model.ComputedRating`; manual ratings stay as recorded.
    ``plot()`` draws the ratings, and names the area and year rated for.

    Attributes
    ----------
    area : str
        ``"Wales"`` or the local authority rated for.
    financial_year : int or None
        The financial year rated for (2025 = 2025-26); ``None``: all the data.
    ratings_ : pandas.DataFrame
        One row per step of each pathway (:meth:`ratings`).
    indicator_values_ : pandas.DataFrame
        One row per step and indicator: value, CI, n, missing share and the rubric's ratings.
    """

    area: str = field(default="Wales", compare=False)
    financial_year: int | None = field(default=None, compare=False)
    ratings_: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    indicator_values_: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def rated_for(self) -> tuple[str | None, int | None]:
        return self.area, self.financial_year


def rate_map(omap: OutcomeMap, study, rubric: Rubric | str | Path | None = None, area: str | None = None,
             year: int | None = None) -> RatedMap:
    """Rate every indicator-linked pathway step from the study.

    Parameters
    ----------
    study : Study
    rubric : Rubric or path, optional
        Default :meth:`Rubric.default`.
    area : str, optional
        A local authority (any alias) to rate the map for; ``None`` or
        ``"Wales"`` rates it for the whole study.
    year : int, optional
        A financial year (2025 = 2025-26): the map is rated from the episodes active in that year
        and their readings up to its end (:meth:`Study.in_financial_year`), as the annual report
        for that year rates it, so a published map is reproducible. ``None`` rates it from all the data.

    Returns
    -------
    RatedMap
        A copy with each step's :class:`ComputedRating`, ``area`` and the
        tables ``ratings_`` (see :meth:`ratings`) and ``indicator_values_``
        (one row per step and indicator: value, CI, n, missing share and the
        rubric's ratings). Manual ratings stay as recorded.

    Examples
    --------
    >>> import longitudinal as lg
    >>> m = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("supporting_people"))
    >>> rated = m.rate(lg.simulate(people=400, seed=5))
    >>> sorted(set(rated.ratings_["basis"]))
    ['evidence', 'manual', 'override']
    """
    return _rate(omap, *_of_year(study, year), rubric, area)


def _of_year(study: Study, year) -> tuple[Study, int | None]:
    """The study as the annual report of ``year`` sees it (all of it when ``year`` is None), and the year."""
    if year is None:
        return study, None
    fy = check_year(year, study)
    return study.in_financial_year(fy), fy


def _rate(omap: OutcomeMap, study: Study, year: int | None, rubric, area: str | None) -> RatedMap:
    """Rate ``omap`` from ``study``, already cut to ``year``, for ``area``.

    An authority's analysis tables are cut from the study's when it has built them (:meth:`Study.subset`),
    so a roll-up that rates Wales first joins the readings once.
    """
    rubric = as_rubric(rubric)
    area_name = None if area in (None, "Wales") else domain.local_authority(area)
    if area_name is not None:
        study = study.subset(local_authority=area_name)
    cache: dict = {}
    out = RatedMap(**{f.name: copy.deepcopy(getattr(omap, f.name)) for f in fields(OutcomeMap)},
                   area=area_name or "Wales", financial_year=year)
    rows = []
    for p in out.pathways:
        for c in out.columns:
            for ps in p.steps.get(c, []):
                links = omap.links(c, ps)
                if not links:
                    continue
                values, rates = [], []
                for link in links:
                    key = (link.name, tuple(sorted((k, repr(v)) for k, v in link.params.items())))
                    if key not in cache:
                        try:
                            cache[key] = indicators.compute(link.name, study, **link.params)
                        except (KeyError, TypeError, ValueError) as e:
                            msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
                            raise OutcomeMapError([{"message": f"indicator {link.label()} failed: {msg}",
                                                    "pathway": p.name, "column": c, "step": ps.step}]) from e
                    v = cache[key]
                    try:
                        r = rubric.rate(v, link.thresholds)
                    except RubricError as e:
                        raise OutcomeMapError([{"message": str(e), "pathway": p.name, "column": c,
                                                "step": ps.step}]) from None
                    values.append(v)
                    rates.append(r)
                    rows.append({"area": out.area, "pathway": p.name, "column": c, "step": ps.step,
                                 "indicator": link.name, "params": describe_params(link.params),
                                 "value": v.value, "ci_lower": v.ci_lower, "ci_upper": v.ci_upper, "n": v.n,
                                 "missing_share": v.missing_share, "progress": r[0], "confidence": r[1]})
                ps.computed = ComputedRating(*combine_ratings(rates), tuple(values), tuple(rates))
    out.indicator_values_ = pd.DataFrame(rows, columns=[
        "area", "pathway", "column", "step", "indicator", "params", "value", "ci_lower", "ci_upper", "n",
        "missing_share", "progress", "confidence"])
    out.ratings_ = out.ratings()
    return out


def check_year(year, study) -> int:
    """A financial year the study covers, or an error saying which it covers."""
    fy = domain.parse_financial_year(year, "year")
    years = study.financial_years
    if not years or fy not in years:
        span = f"{domain.fy_label(min(years))} to {domain.fy_label(max(years))}" if years else "no year"
        raise InputError(f"year {fy} ({domain.fy_label(fy)}): the study has no readings in it (it covers {span})")
    return fy


def as_rubric(rubric) -> Rubric:
    if rubric is None:
        return Rubric.default()
    if isinstance(rubric, Rubric):
        return rubric
    return Rubric.from_yaml(rubric)


def combine_ratings(rates: list[tuple[str, str]]) -> tuple[str, str]:
    """Several indicators on one step: the weakest rated one sets each rating (n/a ones are left out)."""
    rated = [r for r in rates if r[0] != "n/a"]
    if not rated:
        return "n/a", "n/a"
    return (min((r[0] for r in rated), key=PROGRESS.index), min((r[1] for r in rated), key=CONFIDENCE.index))



class _CountsSummary(Summary):
    """``MapRollup.summary()`` returned the counts table until 0.2: the table's attributes and columns
    still answer on the summary, with a DeprecationWarning naming :meth:`MapRollup.counts`."""

    counts: pd.DataFrame

    def _old(self):
        warn_deprecated("MapRollup.summary() returns a Summary (text; HTML in Jupyter), not the table: use "
                        "MapRollup.counts()", stacklevel=4)
        return self.counts

    def __getattr__(self, name: str):  # only names a str does not have (to_string, loc, columns, ...)
        if name.startswith("__") or name == "counts":
            raise AttributeError(name)
        return getattr(self._old(), name)

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return super().__getitem__(key)
        return self._old()[key]


@dataclass(repr=False)
class MapRollup(Results):
    """A map rated for Wales and for each local authority (what :func:`rollup` returns).

    On the shared results base: ``summary()`` (text; HTML in Jupyter), ``tidy()`` (every area's
    :meth:`OutcomeMap.tidy` stacked), ``plot()`` returning the Axes, a one-line repr.

    Attributes
    ----------
    maps : dict
        Area → :class:`RatedMap` (``"Wales"`` first).
    ratings : pandas.DataFrame
        All areas' :meth:`OutcomeMap.ratings` stacked.
    indicator_values : pandas.DataFrame
        All areas' indicator values stacked.
    """

    maps: dict[str, RatedMap]
    ratings: pd.DataFrame
    indicator_values: pd.DataFrame

    @property
    def areas(self) -> list[str]:
        return list(self.maps)

    def table(self, what: str = "progress", pathway: str | None = None) -> pd.DataFrame:
        """Wide table: one row per pathway step, one column per area, cells ``what`` (progress or confidence)."""
        if what not in ("progress", "confidence"):
            raise ValueError(f"what must be 'progress' or 'confidence', not {what!r}")
        r = self.ratings if pathway is None else self.ratings[self.ratings["pathway"] == pathway]
        wide = r.pivot_table(index=["pathway", "column", "step"], columns="area", values=what, aggfunc="first",
                             sort=False)
        return wide[[a for a in self.areas if a in wide.columns]]

    def counts(self) -> pd.DataFrame:
        """Per area: how many pathway steps have each progress rating, and how many have high confidence."""
        r = self.ratings
        counts = pd.crosstab(pd.Categorical(r["area"], self.areas),
                             pd.Categorical(r["progress"], list(PROGRESS)), dropna=False)
        counts.index.name, counts.columns.name = "area", "progress"
        counts["high confidence"] = r.groupby("area", sort=False)["confidence"].apply(
            lambda s: int((s == "high").sum())).reindex(self.areas).to_numpy()
        return counts

    def _first(self) -> RatedMap:
        return next(iter(self.maps.values()))

    def summary(self) -> Summary:
        """The map, the year and, per area, how many pathway steps have each progress rating (:meth:`counts`)
        and how many have high confidence (text; the table in Jupyter)."""
        first = self._first()
        year = "" if first.financial_year is None else f", {domain.fy_label(first.financial_year)}"
        head = f"Outcome map roll-up: {first.title}{year}\nareas: {len(self.maps)}; pathway steps per area: " \
               f"{len(first.ratings())}"
        counts = self.counts()
        out = _CountsSummary(f"{head}\n\nSteps by progress rating:\n{counts.to_string()}",
                             {"Steps by progress rating": counts}, head=head)
        out.counts = counts
        return out

    def tidy(self) -> pd.DataFrame:
        """Every area's :meth:`OutcomeMap.tidy` stacked (``area`` first): one row per area, pathway step and
        indicator, with the indicator's ``estimate, ci_lower, ci_upper``."""
        return pd.concat([m.tidy() for m in self.maps.values()], ignore_index=True)

    def _repr_fields(self) -> dict:
        first = self._first()
        return {"map": first.title, "areas": len(self.maps), "financial_year": first.financial_year}

    def plot(self, pathway: str | None = None, ax=None):
        """Heat map of progress by pathway step (rows) and area (columns), with confidence initials.

        See :func:`~.render.plot_rollup` (the bare ``Figure``, for files). Returns the matplotlib ``Axes``.
        """
        from .render import plot_rollup

        fig = plot_rollup(self, pathway=pathway, ax=ax, pyplot=ax is None)
        return fig.axes[0] if ax is None else ax


def rollup(omap: OutcomeMap, study, areas: Iterable[str] | None = None,
           rubric: Rubric | str | Path | None = None, year: int | None = None, *,
           year_study: Study | None = None) -> MapRollup:
    """Rate a map for Wales and for each local authority.

    Wales is rated from all episodes pooled (not by averaging authorities), so
    its confidence reflects the whole sample.

    Parameters
    ----------
    omap : OutcomeMap
    study : Study
    areas : iterable of str, optional
        Areas to rate ("Wales" and/or authority names or aliases). Default
        Wales and every authority with an episode in the study, in the
        standard order.
    rubric : Rubric or path, optional
    year : int, optional
        Rate every area for one financial year (see :meth:`OutcomeMap.rate`).
    year_study : Study, optional
        ``study.in_financial_year(year)``, where the caller holds it already (an annual report does, with
        its analysis tables built): rated from, instead of cutting the year again.

    Examples
    --------
    >>> import longitudinal as lg
    >>> m = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("supporting_people"))
    >>> r = lg.rollup(m, lg.simulate(people=300, seed=2), areas=["Wales", "Cardiff"])
    >>> r.areas
    ['Wales', 'Cardiff']
    """
    rubric = as_rubric(rubric)
    if areas is None:
        present = set(study.episodes["local_authority"].astype(str))
        areas = ["Wales"] + [la for la in domain.LA_NAMES if la in present]
    else:
        areas = ["Wales" if a == "Wales" else domain.local_authority(a) for a in areas]
    # one analysis table per outcome for Wales, cut per authority: the joins are done once
    if year_study is None:
        memo, fy = _of_year(study, year)
    elif year is None:
        raise InputError("rollup: year_study= is the study cut to a financial year: give that year= too")
    else:
        memo, fy = year_study, check_year(year, study)
    maps = {a: _rate(omap, memo, fy, rubric, a) for a in areas}
    ratings = pd.concat([m.ratings_ for m in maps.values()], ignore_index=True)
    values = pd.concat([m.indicator_values_ for m in maps.values()], ignore_index=True)
    return MapRollup(maps, ratings, values)

