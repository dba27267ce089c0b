"""One area's data for one financial year: what every report section is a function of.

:class:`AreaYear` holds the area's slice of the study and the year, and the
frames several sections read (the year's active episodes, the year's study,
the distance travelled). Each is a declared ``cached_property``, computed once
on first use and never modified.
"""

from __future__ import annotations

import pickle
from functools import cached_property
from pathlib import Path

import pandas as pd

from .. import domain
from ..domain import WALES
from ..study import Study, load

__all__ = ["AreaYear", "load_area", "last_complete_year", "split_by_authority", "active", "in_year"]


def active(ep: pd.DataFrame, year: int) -> pd.Series:
    """Episodes active in a financial year (overlapping it)."""
    start, end = domain.fy_bounds(year)
    return (ep["start_date"] <= end) & (ep["end_date"].isna() | (ep["end_date"] >= start))


def in_year(dates: pd.Series, year: int) -> pd.Series:
    start, end = domain.fy_bounds(year)
    return (dates >= start) & (dates <= end)


def last_complete_year(study: Study) -> int:
    """The last financial year the data covers to its end.

    The data are taken to run to the latest reading or episode date; a
    financial year is complete when that date falls in its last month
    (on or after 1 March): a small area may have no reading on 31 March itself.

    Raises
    ------
    ValueError
        If the data do not cover a whole financial year.
    """
    dates = [study.readings["reading_date"].max(), study.episodes["start_date"].max(),
             study.episodes["end_date"].max()]
    dates = [d for d in dates if pd.notna(d)]
    if not dates:
        raise ValueError("the study has no dated readings or episodes, so it covers no financial year")
    last = max(dates)
    fy = int(domain.financial_year(last))
    # Data extracted during March are taken to cover the year's last month.
    if last < domain.fy_bounds(fy)[1] - pd.Timedelta(days=30):
        fy -= 1
    first = min(study.readings["reading_date"].min(), study.episodes["start_date"].min())
    if domain.fy_bounds(fy)[1] < first:
        raise ValueError(f"the data run from {first:%Y-%m-%d} to {last:%Y-%m-%d}: no complete financial year")
    return fy


def _cache_file(cache: str | Path, area: str) -> Path:
    return Path(cache) / f"{domain.area_slug(area)}.pkl"


def load_area(data: str | Path | Study, area: str = WALES, *, cache: str | Path | None = None) -> Study:
    """One area's slice of a study, read cheaply.

    Parameters
    ----------
    data : path or Study
        A study folder (see :func:`longitudinal.load`) or a loaded study.
    area : str
        ``"Wales"`` or an authority.
    cache : path, optional
        A folder of per-area slices prepared by the batch
        (:func:`longitudinal.report.batch.prepare_cache`); used when it holds this
        area, so that 23 reports do not each read the national data.
    """
    area = domain.area_name(area)
    if cache is not None and _cache_file(cache, area).exists():
        with open(_cache_file(cache, area), "rb") as fh:
            return pickle.load(fh)
    study = data if isinstance(data, Study) else load(data)
    return study if area == WALES else study.subset(local_authority=area)


def split_by_authority(study: Study) -> dict[str, Study]:
    """Each authority's slice of ``study`` (what :meth:`Study.subset` gives it), split in one grouped pass.

    A slice holds the authority's episodes, their people and readings, and its spend.
    Authorities without an episode are left out.
    """
    return {la: part for la, part in study.by_area() if la != WALES}


class AreaYear:
    """An area's slice of the study and the financial year its report is about.

    Parameters
    ----------
    study : Study
        The area's slice (Wales: the whole study).
    year : int
        Financial year (2025 = 2025-26); must lie within the slice's data.
    area : str
        ``"Wales"`` or an authority (any accepted name).
    seed : int
        Seed of every random step of the area's models.

    Raises
    ------
    ValueError
        If the year lies outside the data.
    """

    def __init__(self, study: Study, year: int, area: str = WALES, *, seed: int = 0) -> None:
        self.study = study
        self.year = int(year)
        self.area = domain.area_name(area)
        self.seed = int(seed)
        years = study.financial_years
        if years and not (min(years) <= self.year <= max(years)):
            raise ValueError(f"financial year {self.year} ({domain.fy_label(self.year)}) is outside the data, "
                             f"which cover {domain.fy_label(min(years))} to {domain.fy_label(max(years))}")

    def __repr__(self) -> str:
        return f"<AreaYear {self.label}>"

    @property
    def label(self) -> str:
        return f"{self.area} {domain.fy_label(self.year)}"

    def identifiers(self) -> set[str]:
        """Every person, episode and provider identifier of the area (none may be published)."""
        ids: set[str] = set()
        for col, tab in (("person_id", self.study.people), ("episode_id", self.study.episodes),
                         ("provider_id", self.study.episodes)):
            ids.update(map(str, pd.unique(tab[col].astype(str))))
        return ids

    @cached_property
    def active_episodes(self) -> pd.DataFrame:
        """The episodes active in the year (read, never modified)."""
        return self.study.episodes[active(self.study.episodes, self.year)]

    @cached_property
    def year_spend(self) -> float:
        sp = self.study.spend
        return float(sp.loc[sp["financial_year"] == self.year, "spend_gbp"].sum())

    @cached_property
    def year_study(self) -> Study:
        """Episodes active in the year, with their readings up to the year's end (as of 31 March)."""
        return self.study.in_financial_year(self.year)

    @cached_property
    def known_by_year_end(self) -> Study:
        """The area's data as known at the end of the report's year: episodes started and readings taken by
        then (what the lasting-impact section and its counts analyse: gains of earlier years can be followed
        up this year)."""
        st = self.study
        end = domain.fy_bounds(self.year)[1]
        return Study(st.people, st.episodes[st.episodes["start_date"] <= end],
                     st.readings[st.readings["reading_date"] <= end], st.spend)

    @cached_property
    def scored_per_episode(self) -> pd.Series:
        """Scored readings of each episode in each outcome area, in the year's study."""
        ys = self.year_study
        scored = ys.readings[ys.readings["score"].notna()]
        return scored.groupby(["outcome", "episode_id"], observed=True).size()

    @property
    def usable_by_outcome(self) -> pd.Series:
        """Episodes with two or more scored readings in the year's study, by outcome code (all 11)."""
        usable = (self.scored_per_episode >= 2).groupby(level="outcome", observed=True).sum()
        return usable.reindex(list(domain.OUTCOME_CODES), fill_value=0)

    @property
    def scored_by_outcome(self) -> pd.Series:
        """Episodes with a scored reading in the year's study, by outcome code (all 11)."""
        per = self.scored_per_episode
        return per.groupby(level="outcome", observed=True).size().reindex(list(domain.OUTCOME_CODES), fill_value=0)

    @property
    def headline_outcome(self) -> str:
        """The outcome area with the most episodes with two or more scored readings in the year."""
        return str(self.usable_by_outcome.idxmax())

    @cached_property
    def distance_frame(self) -> pd.DataFrame:
        """``distance_travelled`` of the year's episodes (first vs latest), one row per outcome code."""
        import warnings

        from ..distance import SingleReadingWarning, distance_travelled

        with warnings.catch_warnings():
            # Areas without scores and single readings are shown in the table itself.
            warnings.simplefilter("ignore", SingleReadingWarning)
            warnings.simplefilter("ignore", UserWarning)
            d = distance_travelled(self.year_study, compare="latest")
        return d.set_index("outcome").reindex(list(domain.OUTCOME_CODES)).reset_index()
