"""The :class:`Study`: the four tables of the data contract, held as pandas DataFrames.

A study comes from :func:`longitudinal.simulate` or from :func:`load` (a store
written by :func:`longitudinal.ingest`, or a folder of the four tables).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import domain
from .contract import TABLE_NAMES, apply_dtypes

__all__ = ["Study", "load", "STORE_MARKER"]

#: File that marks a folder as a validated store written by ``ingest``.
STORE_MARKER = "ingest_report.json"
#: File that marks a folder as written by ``simulate`` (synthetic, no real persons).
TRUTH_FILE = "truth.json"

_DAYS_PER_YEAR = 365.25


@dataclass
class Study:
    """The four tables of a study.

    Attributes
    ----------
    people, episodes, readings, spend : pandas.DataFrame
        The tables of the data contract with proper dtypes.
    truth : dict or None
        For a synthetic study, the generative model's parameters (see
        :func:`longitudinal.simulate`); ``None`` for real data.
    source : pathlib.Path or None
        Where the study was loaded from.
    """

    people: pd.DataFrame
    episodes: pd.DataFrame
    readings: pd.DataFrame
    spend: pd.DataFrame
    truth: dict[str, Any] | None = None
    source: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ info
    def __repr__(self) -> str:
        return (
            f"<Study people={len(self.people):,} episodes={len(self.episodes):,} "
            f"readings={len(self.readings):,} spend_rows={len(self.spend):,}"
            + (f" source={str(self.source)!r}" if self.source else "")
            + ">"
        )

    @property
    def financial_years(self) -> list[int]:
        """Financial years with any reading, in order."""
        if self.readings.empty:
            return []
        return sorted(pd.unique(domain.financial_year(self.readings["reading_date"])).tolist())

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLE_NAMES}

    # -------------------------------------------------------- analysis table
    def long(self, outcome: str | list[str] | None = None, *, scored_only: bool = True,
             include_follow_up: bool = True) -> pd.DataFrame:
        """Readings joined to their episode and person: the table every model starts from.

        Parameters
        ----------
        outcome : str or list of str, optional
            Outcome code(s) (display names accepted); all areas when omitted.
        scored_only : bool, default True
            Drop blank scores ("no need in this area" is not a score).
        include_follow_up : bool, default True
            Keep follow-up readings taken after support ended.

        Returns
        -------
        pandas.DataFrame
            One row per reading with ``episode_id, person_id, outcome, reading_date,
            reading_type, score, time`` (years since the episode started) and the
            episode's ``local_authority, provider_id, lead_need, service_type,
            start_date, end_date, end_reason``, the person's ``sex``, ``age``
            (at the episode's start) and ``age_band``, and the reading's
            ``financial_year``. Sorted by episode, outcome and date.
        """
        r = self.readings
        if outcome is not None:
            codes = [outcome] if isinstance(outcome, str) else list(outcome)
            codes = [domain.outcome_code(c) for c in codes]
            r = r[r["outcome"].isin(codes)]
        if scored_only:
            r = r[r["score"].notna()]
        if not include_follow_up:
            r = r[r["reading_type"] != "follow_up"]
        ep = self.episodes.drop(columns=["person_id"])
        out = r.merge(ep, on="episode_id", how="left", validate="many_to_one")
        out = out.merge(self.people, on="person_id", how="left", validate="many_to_one")
        out["time"] = (out["reading_date"] - out["start_date"]).dt.days.to_numpy() / _DAYS_PER_YEAR
        age = out["start_date"].dt.year - out["birth_year"]
        out["age"] = age.astype("float64")
        out["age_band"] = domain.age_band(out["age"]).to_numpy()
        out["financial_year"] = domain.financial_year(out["reading_date"]).astype("int32")
        out = out.sort_values(["episode_id", "outcome", "reading_date"], kind="stable")
        return out.reset_index(drop=True)

    # ----------------------------------------------------------------- slice
    def subset(self, *, local_authority: str | None = None, lead_need: str | None = None,
               service_type: str | None = None) -> "Study":
        """The study restricted to episodes of one authority / lead need / service type.

        People and readings follow their episodes; spend follows the authority
        and lead need.
        """
        ep = self.episodes
        sp = self.spend
        if local_authority is not None and local_authority != "Wales":
            la = domain.local_authority(local_authority)
            ep = ep[ep["local_authority"] == la]
            sp = sp[sp["local_authority"] == la]
        if lead_need is not None:
            ep = ep[ep["lead_need"] == lead_need]
            sp = sp[sp["lead_need"] == lead_need]
        if service_type is not None:
            ep = ep[ep["service_type"] == service_type]
        ids = set(ep["episode_id"])
        people = self.people[self.people["person_id"].isin(ep["person_id"].unique())]
        readings = self.readings[self.readings["episode_id"].isin(ids)]
        return Study(people.reset_index(drop=True), ep.reset_index(drop=True),
                     readings.reset_index(drop=True), sp.reset_index(drop=True),
                     truth=self.truth, source=self.source, metadata=dict(self.metadata))

    def in_financial_year(self, year: int) -> "Study":
        """The study as of the end of financial year ``year`` (2025 = 2025-26), as an annual report sees it.

        Episodes active in the year (started by 31 March, not ended before 1 April), their people,
        and their readings up to the year's end; spend is kept whole.
        """
        start, end = domain.fy_bounds(int(year))
        ep = self.episodes
        ep = ep[(ep["start_date"] <= end) & (ep["end_date"].isna() | (ep["end_date"] >= start))]
        rd = self.readings
        rd = rd[(rd["reading_date"] <= end) & rd["episode_id"].isin(ep["episode_id"])]
        people = self.people[self.people["person_id"].isin(ep["person_id"].unique())]
        return Study(people.reset_index(drop=True), ep.reset_index(drop=True), rd.reset_index(drop=True),
                     self.spend, truth=self.truth, source=self.source, metadata=dict(self.metadata))

    # ----------------------------------------------------------------- write
    def write(self, path: str | Path, format: str = "csv") -> dict[str, Path]:
        """Write the four tables as ``<table>.csv`` or ``<table>.parquet`` (byte-stable).

        Returns the paths written. The truth of a synthetic study is written
        to ``truth.json`` beside them.
        """
        from .io import write_table

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        written = {name: write_table(df, path / f"{name}.{format}") for name, df in self.tables().items()}
        if self.truth is not None:
            text = json.dumps(self.truth, indent=2, sort_keys=True, default=_json_default)
            (path / TRUTH_FILE).write_text(text + "\n", encoding="utf-8")
            written["truth"] = path / TRUTH_FILE
        return written


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj))


def load(path: str | Path) -> Study:
    """Load a study: a store written by :func:`longitudinal.ingest`, or a folder of the four tables.

    Parameters
    ----------
    path : str or Path
        A folder holding ``people``, ``episodes``, ``readings`` and ``spend`` as
        ``.parquet`` or ``.csv`` (the store that ``ingest`` writes, or what
        ``simulate`` writes).

    Returns
    -------
    Study

    Notes
    -----
    Loading a folder that was neither ingested nor simulated warns: such data
    has not been validated or pseudonymised; run ``longitudinal ingest`` first.

    Examples
    --------
    >>> import longitudinal as lg, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = lg.simulate(people=200, seed=1).write(d)
    >>> lg.load(d)  # doctest: +ELLIPSIS
    <Study people=200 episodes=... source=...>
    """
    from .io import read_table

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such study folder (expected the four tables "
                                f"{', '.join(TABLE_NAMES)} as .parquet or .csv)")
    tables = {}
    lead_needs = None
    if (path / STORE_MARKER).exists():
        # a store keeps the study's own lead-need list (ingest --lead-needs): keep its categories
        needs = json.loads((path / STORE_MARKER).read_text(encoding="utf-8")).get("lead_needs")
        lead_needs = tuple(needs) if needs else None
    for name in TABLE_NAMES:
        for ext in ("parquet", "csv"):
            f = path / f"{name}.{ext}"
            if f.exists():
                tables[name] = apply_dtypes(name, read_table(f), lead_needs=lead_needs)
                break
        else:
            raise FileNotFoundError(f"{path}: no {name}.parquet or {name}.csv")
    truth = None
    if (path / TRUTH_FILE).exists():
        truth = json.loads((path / TRUTH_FILE).read_text(encoding="utf-8"))
    elif not (path / STORE_MARKER).exists():
        warnings.warn(
            f"{path} is neither an ingested store nor a simulated study: its rows have not been "
            "validated and its identifiers not pseudonymised. Run `longitudinal ingest` first.",
            stacklevel=2,
        )
    return Study(**tables, truth=truth, source=path)
