"""The :class:`Study`: the four tables of the data contract, held as pandas DataFrames.

A study comes from :func:`longitudinal.simulate` or from :func:`load` (a store
written by :func:`longitudinal.ingest`, or a folder of the four tables).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from . import domain
from .contract import OPTIONAL_TABLE_NAMES, TABLE_NAMES, TABLES, apply_dtypes, category_dtypes
from .errors import InputError, LongitudinalWarning

__all__ = ["Study", "load", "STORE_MARKER", "StoreError", "check_store", "positions", "store_order"]

#: File that marks a folder as a validated store written by ``ingest``; it records the SHA-256 of
#: each table file (``store_files``), so a damaged or half-replaced store is refused.
STORE_MARKER = "ingest_report.json"
#: Key of :data:`STORE_MARKER` holding ``{file name: sha256}`` of the store's table files.
STORE_FILES = "store_files"
#: File that marks a folder as written by ``simulate`` (synthetic, no real persons).
TRUTH_FILE = "truth.json"

_DAYS_PER_YEAR = 365.25
# Selections of Study.long() kept besides the whole table (each outcome area is one).
_LONG_SELECTIONS_KEPT = 24
#: What a Study keeps beside its tables (long()'s tables, memo()'s values): rebuilt on demand, never pickled.
_CACHES = ("_long_cache", "_memo")


class _Deferred:
    """An optional table :func:`load` has read and checked as bytes, parsed on first use.

    ``service_use`` is the largest table (ten million rows nationally) and only the effectiveness
    analyses read it: the load checks its hash and its Parquet footer, and keeps exactly those
    bytes, so what is parsed later is what was checked even if the store is replaced meanwhile.
    """

    def __init__(self, parse: Callable[[], pd.DataFrame], rows: int):
        self._parse: Callable[[], pd.DataFrame] | None = parse
        self._value: pd.DataFrame | None = None
        self.rows = rows

    def get(self) -> pd.DataFrame:
        if self._parse is not None:
            self._value, self._parse = self._parse(), None
        assert self._value is not None
        return self._value


class _OptionalTable:
    """A Study field that may hold a :class:`_Deferred` table: reading the attribute parses it once.

    The raw slot keeps the same object after parsing, so the caches of :meth:`Study._cache` (keyed
    on the tables' identities) survive the first use of the table.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: Study | None, objtype: type | None = None) -> pd.DataFrame | None:
        if obj is None:
            return None  # the dataclass default
        value = obj.__dict__.get(self.slot)
        return value.get() if isinstance(value, _Deferred) else value

    def __set__(self, obj: Study, value: pd.DataFrame | _Deferred | None) -> None:
        obj.__dict__[self.slot] = value


class StoreError(InputError):
    """A folder that is not a whole, unchanged study store (exit status 2): the message says which file."""


@dataclass
class Study:
    """The tables of a study.

    Attributes
    ----------
    people, episodes, readings, spend : pandas.DataFrame
        The tables of the data contract with proper dtypes.
    service_use : pandas.DataFrame or None
        Linked public-service use (``person_id, event_date, service, count``),
        ``None`` when the study supplied none. People in ``people`` with no
        episode are the never-supported comparison pool.
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
    service_use: _OptionalTable = _OptionalTable()

    def __getstate__(self) -> dict[str, Any]:
        # the Study.long() tables (see long()) are rebuilt on demand, never pickled; a deferred table
        # is pickled parsed (the other process may not have the file)
        state = {k: v for k, v in self.__dict__.items() if k not in _CACHES}
        return {k: v.get() if isinstance(v, _Deferred) else v for k, v in state.items()}

    # ------------------------------------------------------------------ info
    def __repr__(self) -> str:
        return (
            f"<Study people={len(self.people):,} episodes={len(self.episodes):,} "
            f"readings={len(self.readings):,} spend_rows={len(self.spend):,}"
            + (f" service_use={self._rows('service_use'):,}" if self._rows("service_use") is not None else "")
            + (f" source={str(self.source)!r}" if self.source else "")
            + ">"
        )

    def _rows(self, name: str) -> int | None:
        """Rows of an optional table (None when absent), without parsing a deferred one."""
        value = self.__dict__.get("_" + name)
        return value.rows if isinstance(value, _Deferred) else None if value is None else len(value)

    @property
    def financial_years(self) -> list[int]:
        """Financial years with any reading, in order."""
        if self.readings.empty:
            return []
        return sorted(pd.unique(domain.financial_year(self.readings["reading_date"])).tolist())

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables, and the optional ones the study has."""
        out = {name: getattr(self, name) for name in TABLE_NAMES}
        out.update({name: getattr(self, name) for name in OPTIONAL_TABLE_NAMES if getattr(self, name) is not None})
        return out

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

        Notes
        -----
        The table of all readings is built once per study and each selection of it once; every
        call returns a new DataFrame over the same, shared columns, which are read-only: adding,
        replacing or dropping columns is safe, but changing values in place (``long.loc[...] = ...``,
        ``fillna(inplace=True)``) raises ``ValueError: assignment destination is read-only`` (pandas 2
        reports it on a date column as an ``AssertionError``, that ``ValueError`` chained below it):
        take ``.copy()`` first. So no caller can change what later analyses of the study read.
        Replacing one of the study's tables (``study.readings = ...``) starts afresh; changing a
        table in place does not, so don't.
        """
        codes: tuple[str, ...] | None = None
        if outcome is not None:
            asked = [outcome] if isinstance(outcome, str) else list(outcome)
            codes = tuple(sorted({domain.outcome_code(c) for c in asked}))
        cache = self._cache("_long_cache")
        key = (codes, scored_only, include_follow_up)
        if key not in cache:
            if "all" not in cache:
                cut = cache.pop("cut", None)  # set by _lend_long
                cache["all"] = _Shared.of(cut() if cut is not None else self._long_all())
            out = cache["all"].table
            keep = np.ones(len(out), dtype=bool)
            if codes is not None:
                keep &= out["outcome"].isin(codes).to_numpy()
            if scored_only:
                keep &= out["score"].notna().to_numpy()
            if not include_follow_up:
                keep &= (out["reading_type"] != "follow_up").to_numpy()
            if keep.all():
                cache[key] = cache["all"]
            else:
                part = out.take(np.flatnonzero(keep))
                part.index = pd.RangeIndex(len(part))  # not reset_index(), which copies the table again
                cache[key] = _Shared.of(part)
            selections = [k for k in cache if isinstance(k, tuple) and k != key]
            for old in selections[:-_LONG_SELECTIONS_KEPT]:  # keep memory bounded at national scale
                del cache[old]
        return cache[key].handed_out()

    def memo(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per study and kept with it, for derived data several calls share.

        E.g. :func:`~longitudinal.reading_completeness` keeps its per-episode counts here, so that
        tables by other groupings cost only the grouping. The value is shared: never change it in
        place. Replacing one of the study's tables (``study.readings = ...``) starts afresh; it is
        never pickled.
        """
        memo = self._cache("_memo")
        if key not in memo:
            memo[key] = build()
        return memo[key]

    def _cache(self, name: str) -> dict:
        # Not a dataclass field: code that rebuilds a Study from its fields must not carry it over. The
        # tables themselves are kept (not their ids, which a new table may reuse) to see one replaced.
        cache = self.__dict__.setdefault(name, {})
        # the optional tables' raw slots: a deferred table is not parsed just to be watched
        tables = tuple(getattr(self, t) for t in TABLE_NAMES) + tuple(self.__dict__.get("_" + t)
                                                                     for t in OPTIONAL_TABLE_NAMES)
        old = cache.get("tables", ())
        if len(old) != len(tables) or any(a is not b for a, b in zip(old, tables)):
            cache.clear()
            cache["tables"] = tables
        return cache

    def _long_all(self) -> pd.DataFrame:
        """Every reading joined to its episode and person (what :meth:`long` selects from).

        What ``readings.merge(episodes).merge(people)`` sorted by episode, outcome and date gives (the
        tests keep that form as their reference), built by finding each reading's episode and person row
        and taking every column once in the final order: pandas' merges, sort and reset copied the
        national table (11.5 million readings) about five times over.
        """
        r, ep, pe = self.readings, self.episodes.drop(columns=["person_id"]), self.people
        clash = (set(r.columns) & (set(ep.columns) - {"episode_id"})) | (set(r.columns) & set(pe.columns)
                                                                         - {"person_id"}) | (set(ep.columns)
                                                                                             & set(pe.columns))
        if clash:  # a table of the user's own with a column of the same name: pandas' merge suffixes them
            return _merged_long(r, ep, pe)
        # the key columns as the merges leave them (object when the two tables' categories differ), then sorted
        rc = {c: r[c] for c in r.columns} | {"episode_id": _merge_key(r["episode_id"], ep["episode_id"]),
                                             "person_id": _merge_key(r["person_id"], pe["person_id"])}
        order = _sort_order([rc["episode_id"], rc["outcome"], rc["reading_date"]])
        at_ep = _rows_of(ep["episode_id"], r["episode_id"], "episodes")[order]
        at_pe = _rows_of(pe["person_id"], r["person_id"], "people")[order]
        cols = {c: _take(v, order) for c, v in rc.items()}
        cols |= {c: _take(ep[c], at_ep) for c in ep.columns if c != "episode_id"}
        cols |= {c: _take(pe[c], at_pe) for c in pe.columns if c != "person_id"}
        days = _days_between(cols["start_date"].to_numpy(), cols["reading_date"].to_numpy())
        cols["time"] = pd.Series(days / _DAYS_PER_YEAR)
        start_year = _take(self.episodes["start_date"].dt.year, at_ep)  # per episode, then per reading
        cols["age"] = (start_year - cols["birth_year"]).astype("float64")
        cols["age_band"] = pd.Series(domain.age_band(cols["age"]).to_numpy())
        cols["financial_year"] = domain.financial_year(cols["reading_date"]).astype("int32")
        return pd.DataFrame(cols, copy=False)  # built once, from its columns (no column added to it after)

    # ----------------------------------------------------------------- slice
    def subset(self, *, local_authority: str | None = None, lead_need: str | None = None,
               service_type: str | None = None) -> Study:
        """The study restricted to episodes of one authority / lead need / service type.

        Each accepts a code, a display name or (authorities) the Welsh name, ignoring case,
        accents and punctuation: ``lead_need="Mental health"``, ``service_type="short term"``,
        ``local_authority="Caerdydd"``. An unknown label raises ``KeyError`` with a did-you-mean
        rather than giving an empty study. People and readings follow their episodes; spend
        follows the authority and lead need.
        """
        ep = self.episodes
        sp = self.spend
        if local_authority is not None and _fold_wales(local_authority):
            la = domain.local_authority(local_authority)
            ep = ep[ep["local_authority"] == la]
            sp = sp[sp["local_authority"] == la]
        if lead_need is not None:
            col = ep["lead_need"]
            codes = (col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else pd.unique(col.dropna()))
            need = domain.lead_need_code(lead_need, [str(c) for c in codes])
            ep = ep[ep["lead_need"] == need]
            sp = sp[sp["lead_need"] == need]
        if service_type is not None:
            ep = ep[ep["service_type"] == domain.service_type_code(service_type)]
        ids = set(ep["episode_id"])
        people = self.people[self.people["person_id"].isin(ep["person_id"].unique())]
        readings = self.readings[self.readings["episode_id"].isin(ids)]
        use = self.service_use
        if use is not None:
            use = use[use["person_id"].isin(people["person_id"])].reset_index(drop=True)
        sub = Study(people.reset_index(drop=True), ep.reset_index(drop=True),
                    readings.reset_index(drop=True), sp.reset_index(drop=True),
                    truth=self.truth, source=self.source, metadata=dict(self.metadata), service_use=use)
        return self._lend_long(sub, lambda long: long["episode_id"].isin(ids).to_numpy())

    def in_financial_year(self, year: int) -> Study:
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
        sub = Study(people.reset_index(drop=True), ep.reset_index(drop=True), rd.reset_index(drop=True),
                    self.spend, truth=self.truth, source=self.source, metadata=dict(self.metadata))
        return self._lend_long(sub, lambda long: (long["reading_date"] <= end).to_numpy()
                               & long["episode_id"].isin(ep["episode_id"]).to_numpy())

    def _lend_long(self, sub: Study, keep: Callable[[pd.DataFrame], np.ndarray]) -> Study:
        """``sub``, a slice of this study whose readings are those of :meth:`long` where ``keep`` is true,
        set to cut its long table from this study's when this one has built it (same rows, order and
        dtypes as ``sub`` would build itself, at a fraction of the cost: no joins, no sort); else untouched.
        Authorities' maps in a roll-up, and an SROI by area, each read their slice of one national table.
        """
        if "_long_cache" in self.__dict__ and "all" in self._cache("_long_cache"):
            whole = self._cache("_long_cache")["all"].table
            sub._cache("_long_cache")["cut"] = lambda: whole[keep(whole)].reset_index(drop=True)
        return sub

    def by_area(self, areas: Iterable[str] | None = None) -> Iterator[tuple[str, Study]]:
        """``(area, study)`` for Wales and each authority: the slices :meth:`subset` gives, split in one pass.

        Parameters
        ----------
        areas : iterable of str, optional
            ``"Wales"`` and/or authorities (English or Welsh names, ONS codes; checked like
            :meth:`subset`). Default: Wales, then every authority with an episode, in the
            order of :data:`longitudinal.domain.LA_NAMES`.

        Yields
        ------
        (str, Study)
            The area's canonical name (``"Wales"`` or the English name) and its slice. Wales is
            this study itself; an authority's slice holds its episodes, their people and
            readings (identifier categories trimmed to those present), its spend and its people's
            linked service use.
        """
        ep, rd, people = self.episodes, self.readings, self.people
        if areas is None:
            present = set(ep["local_authority"].astype(str).unique())
            names = ["Wales"] + [la for la in domain.LA_NAMES if la in present]
        else:
            names = ["Wales" if not _fold_wales(a) else domain.local_authority(a) for a in areas]
        if all(n == "Wales" for n in names):
            yield from ((n, self) for n in names)
            return
        # Each reading's authority through the episode categories (about 400k) rather than 11M values, as an
        # integer (its authority's position among the episodes' ones; -1: a reading of no episode).
        la_code, la_names = pd.factorize(ep["local_authority"].astype(str))
        rd_ep = rd["episode_id"].astype("category")
        cat_pos = pd.Index(ep["episode_id"].astype(str)).get_indexer(rd_ep.cat.categories.astype(str))
        pos = cat_pos[rd_ep.cat.codes.to_numpy()]
        rd_la = np.where(pos >= 0, la_code[np.maximum(pos, 0)], -1)
        order = np.argsort(rd_la, kind="stable")
        sorted_la = rd_la[order]
        code_of = {n: i for i, n in enumerate(la_names)}

        def slim(df: pd.DataFrame) -> pd.DataFrame:
            df = df.reset_index(drop=True)
            for col in ("person_id", "episode_id", "provider_id"):
                if col in df.columns and isinstance(df[col].dtype, pd.CategoricalDtype):
                    df[col] = df[col].cat.remove_unused_categories()
            return df

        for name in names:
            if name == "Wales":
                yield name, self
                continue
            code = code_of.get(name, -2)
            e = ep[la_code == code]
            lo, hi = np.searchsorted(sorted_la, code, "left"), np.searchsorted(sorted_la, code, "right")
            r = rd.iloc[np.sort(order[lo:hi])]
            p = people[people["person_id"].isin(e["person_id"].unique())]
            sp = self.spend[self.spend["local_authority"] == name]
            use = self.service_use
            if use is not None:
                use = slim(use[use["person_id"].isin(p["person_id"])])
            yield name, Study(slim(p), slim(e), slim(r), sp.reset_index(drop=True), truth=self.truth,
                              source=self.source, metadata=dict(self.metadata), service_use=use)

    # ----------------------------------------------------------------- write
    def write(self, path: str | Path, format: str = "csv") -> dict[str, Path]:
        """Write the four tables as ``<table>.csv`` or ``<table>.parquet`` (byte-stable).

        Returns the paths written. The truth of a synthetic study is written
        to ``truth.json`` beside them, and :func:`load` reads the folder back. Tables of real
        people are not a store until ingest has validated them: :func:`load` refuses the folder
        and says how to make one (``longitudinal ingest <folder> --out <store> --already-pseudonymised``).
        """
        from .io import write_table

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        written = {name: write_table(df, path / f"{name}.{format}") for name, df in store_order(self.tables()).items()}
        if self.truth is not None:
            text = json.dumps(self.truth, indent=2, sort_keys=True, default=_json_default)
            (path / TRUTH_FILE).write_text(text + "\n", encoding="utf-8")
            written["truth"] = path / TRUTH_FILE
        return written


def _merged_long(r: pd.DataFrame, ep: pd.DataFrame, pe: pd.DataFrame) -> pd.DataFrame:
    """:meth:`Study._long_all` by pandas' merges (tables whose columns share names: merge suffixes them)."""
    out = r.merge(ep, on="episode_id", how="left", validate="many_to_one")
    out = out.merge(pe, on="person_id", how="left", validate="many_to_one")
    out["time"] = (out["reading_date"] - out["start_date"]).dt.days.to_numpy() / _DAYS_PER_YEAR
    out["age"] = (out["start_date"].dt.year - out["birth_year"]).astype("float64")
    out["age_band"] = domain.age_band(out["age"]).to_numpy()
    out["financial_year"] = domain.financial_year(out["reading_date"]).astype("int32")
    out = out.sort_values(["episode_id", "outcome", "reading_date"], kind="stable")
    return out.reset_index(drop=True)


def _sort_keys(s: pd.Series) -> np.ndarray:
    """Integers from 0 that order ``s`` as ``sort_values`` does (a categorical by its categories' order), missing
    last."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        keys = s.cat.codes.to_numpy().astype(np.int64)
        keys[keys < 0] = len(s.cat.categories)
        return keys
    if s.dtype.kind == "M":
        values = s.to_numpy()
        missing = np.isnat(values)
        some_missing = bool(missing.any())
        ns = values.view("i8")
        day = 86_400 * 10**9
        keys = ns // day
        if (ns - keys * day)[~missing if some_missing else slice(None)].any():  # not all at midnight: in ns
            keys = ns.copy()
        seen = keys[~missing] if some_missing else keys
        keys -= seen.min(initial=0)
        if some_missing:
            keys[missing] = keys[~missing].max(initial=-1) + 1
        return keys
    keys, _ = pd.factorize(s, sort=True)
    keys = keys.astype(np.int64)
    keys[keys < 0] = keys.max(initial=-1) + 1
    return keys


def _sort_order(columns: list[pd.Series]) -> np.ndarray:
    """The row order ``sort_values`` by these columns (``kind="stable"``) gives, as positions."""
    keys = [_sort_keys(c) for c in columns]
    # one key where their ranges fit in 63 bits (the national readings': 19 + 4 + 12 bits): one stable sort
    # of one array, which finds the runs a store already has, instead of a three-key lexsort
    sizes = [int(k.max(initial=0)) + 1 for k in keys]
    if float(np.prod(np.array(sizes, dtype=float))) >= 2.0**62:
        return np.lexsort(keys[::-1])
    key = keys[0]
    for k, size in zip(keys[1:], sizes[1:]):
        key = key * size + k
    if len(key) < 2 or bool((key[1:] >= key[:-1]).all()):
        return np.arange(len(key))  # in order already (a store is written so)
    return np.argsort(key, kind="stable")


def _same_categories(a: pd.Series, b: pd.Series) -> bool:
    """Both categorical with the same categories in the same order (then their codes agree)."""
    return (isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype)
            and (a.cat.categories is b.cat.categories or a.cat.categories.equals(b.cat.categories)))


def _merge_key(left: pd.Series, right: pd.Series) -> pd.Series:
    """The key column ``left.merge(right)`` leaves: ``left`` as it is where pandas joins the two as they are
    (categoricals with the same categories in any order, or one dtype), else ``left`` as its values."""
    if isinstance(left.dtype, pd.CategoricalDtype):
        lc = left.cat.categories
        if isinstance(right.dtype, pd.CategoricalDtype) and left.cat.ordered == right.cat.ordered:
            rc = right.cat.categories
            if _same_categories(left, right) or (len(lc) == len(rc) and bool((lc.get_indexer(rc) >= 0).all())):
                return left
        return left.astype(lc.dtype)
    if isinstance(right.dtype, pd.CategoricalDtype):
        return left.astype(object)
    return left


def _rows_of(key: pd.Series, values: pd.Series, table: str) -> np.ndarray:
    """For each of ``values``, the row of ``key`` holding it (-1: none); ``key`` must not repeat a value."""
    if not (isinstance(key.dtype, pd.CategoricalDtype) and isinstance(values.dtype, pd.CategoricalDtype)):
        index = pd.Index(key)
        if not index.is_unique:
            raise pd.errors.MergeError(f"{table}: {key.name} repeats a value")
        return index.get_indexer(values)
    # categoricals: through the codes, looking up only the categories (none when they are one list, as
    # load gives them), not the values of each reading
    codes = key.cat.codes.to_numpy()
    n = len(key.cat.categories)
    if (np.bincount(codes[codes >= 0], minlength=n) > 1).any():
        raise pd.errors.MergeError(f"{table}: {key.name} repeats a value")
    row = np.full(n + 1, -1, dtype=np.intp)  # the last stands for a value that is missing or not a key
    row[codes[codes >= 0]] = np.flatnonzero(codes >= 0)
    if _same_categories(key, values):
        return row[values.cat.codes.to_numpy()]
    category = key.cat.categories.get_indexer(values.cat.categories)
    category[category < 0] = n
    return row[np.append(category, n)[values.cat.codes.to_numpy()]]


def _take(s: pd.Series, rows: np.ndarray) -> pd.Series:
    """``s``'s values at ``rows`` in a new column of their own; -1 is a missing row (as a left join gives:
    a column of integers becomes floats)."""
    fill = len(rows) > 0 and int(rows.min()) < 0
    values = s.array if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) else s.to_numpy()
    return pd.Series(pd.api.extensions.take(values, rows, allow_fill=fill), name=s.name, copy=False)


def _days_between(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whole days from ``start`` to ``end`` (datetime64[ns]) as ``(end - start).dt.days`` gives them: an integer
    array, or floats with NaN where either is missing."""
    missing = np.isnat(start) | np.isnat(end)
    days = np.floor_divide(end.view("i8") - start.view("i8"), 86_400 * 10**9)
    if missing.any():
        return np.where(missing, np.nan, days)
    return days


class _Shared(NamedTuple):
    """A table several callers are given (see :meth:`Study.long`): its read-only columns are shared, and
    those with no read-only form (``copied``, e.g. Arrow-backed ones) are copied for each caller."""

    table: pd.DataFrame
    copied: tuple[str, ...]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Shared:
        """``frame`` (the caller's own, not shared yet) with the arrays that hold its values made read-only,
        in place: no copy, and pandas' blocks stay as they are. In-place writes then raise.

        >>> long = _Shared.of(pd.DataFrame({"x": [1.0, 2.0], "c": pd.Categorical(["a", "b"])})).handed_out()
        >>> long.loc[0, "x"] = 5.0
        Traceback (most recent call last):
        ValueError: assignment destination is read-only
        """
        # pandas 2 has no public way to make a frame read-only: each block's arrays are flagged (a NumPy
        # block is its array; pandas' own arrays keep theirs as _ndarray, or _data and _mask). Rebuilding
        # the columns from read-only arrays instead would copy them (DataFrame.__setitem__ copies) or give
        # one block per column, which every later copy or assign() consolidates first: twice the work.
        if pd.get_option("mode.copy_on_write") is True:
            return cls(frame, ())  # pandas copies on write: a caller's change never reaches the shared arrays
        protected: set[int] = set()
        for block in getattr(getattr(frame, "_mgr", None), "blocks", ()):
            values = block.values
            arrays = [values] if isinstance(values, np.ndarray) else [
                getattr(values, name, None) for name in ("_ndarray", "_data", "_mask")]
            arrays = [a for a in arrays if isinstance(a, np.ndarray)]
            for a in arrays:
                a.flags.writeable = False
            if arrays:
                protected.update(int(i) for i in block.mgr_locs.as_array)
        copied = tuple(name for i, name in enumerate(frame.columns) if i not in protected)
        return cls(frame, copied)

    def handed_out(self) -> pd.DataFrame:
        """A new frame over the shared columns for one caller (adding or replacing columns is its own affair)."""
        out = self.table.copy(deep=False)
        for name in self.copied:
            out[name] = self.table[name].array.copy()
        return out


def _fold_wales(area: str) -> bool:
    """False for Wales (the whole study: "Wales", "Cymru"), True for anything else."""
    return domain.slug(area) not in ("wales", "cymru")


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj))


def positions(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each of ``values`` in ``index`` (-1 where absent), compared as text.

    A categorical column is looked up once per category, not once per row: a national readings
    table has millions of rows naming a few hundred thousand episodes.

    >>> positions(pd.Index(["E1", "E2"]), pd.Series(["E2", "E9", "E2"], dtype="category")).tolist()
    [1, -1, 1]
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        per_category = index.get_indexer(values.cat.categories.astype(str))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, per_category[np.maximum(codes, 0)], -1)
    return index.get_indexer(values.astype(str))


def load(path: str | Path) -> Study:
    """Load a study: a store written by :func:`longitudinal.ingest`, or a study written by ``simulate``.

    Parameters
    ----------
    path : str or Path
        A folder holding ``people``, ``episodes``, ``readings`` and ``spend`` as
        ``.parquet`` or ``.csv``: the store that ``ingest`` writes, or what
        ``simulate`` (:meth:`Study.write` of a synthetic study) writes.

    Returns
    -------
    Study

    Raises
    ------
    StoreError
        The folder has no ``ingest_report.json`` (and is not a simulated study), or a
        table file's SHA-256 differs from the one ``ingest`` recorded (damaged, changed
        or half-replaced): nothing is loaded. The message names the files.

    Notes
    -----
    Each table file is read once into memory, its hash checked and exactly those
    bytes parsed, so a store swapped in by a concurrent ``ingest`` is never read half
    old and half new (the load starts again once when that happens).

    Examples
    --------
    >>> import longitudinal as lg, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = lg.simulate(people=200, seed=1).write(d)
    >>> lg.load(d)  # doctest: +ELLIPSIS
    <Study people=300 episodes=... source=...>
    """
    path = Path(path)
    for _attempt in range(3):
        try:
            return _load_once(path)
        except _StoreSwapped:
            continue  # a new store was swapped in while we read: read it whole
    raise StoreError(f"{path}: the store kept changing while it was read (is an ingest running in a loop?)")


#: (table, column) whose categories the later tables' column of that name takes (read_table's categories=):
#: one dtype per identifier, built once, and joins on it go through the codes.
_SHARED_IDS = (("people", "person_id"), ("episodes", "episode_id"))


def store_order(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables with each text column categorical, its categories in the order :func:`load` gives them.

    That is the order of first appearance, except that a column of :data:`_SHARED_IDS` in a later
    table takes the owner's categories followed by any value they lack. Written so (as Parquet
    dictionaries, :func:`longitudinal.io.arrow_table`), a table's codes are read as they are: no
    identifier is hashed again at load. Only the categories' order changes; values and rows do not.
    """
    out: dict[str, pd.DataFrame] = {}
    for name, df in tables.items():
        cols = {}
        for col in df.columns:
            s = df[col]
            if not (isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype)):
                continue
            base = next((out[t][c].cat.categories for t, c in _SHARED_IDS if c == col and t in out and t != name),
                        None)
            cols[col] = _first_appearance(s, base)
        out[name] = df.assign(**cols) if cols else df
    return out


def _first_appearance(s: pd.Series, base: pd.Index | None) -> pd.Series:
    """``s`` as a categorical with categories in order of first appearance, after ``base`` when given."""
    codes, uniques = pd.factorize(s)
    values = pd.Index(np.asarray(uniques, dtype=object), dtype=object)
    if base is None:
        return pd.Series(pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(values), validate=False),
                         index=s.index, name=s.name)
    pos = base.get_indexer(values)
    lacking = pos < 0
    pos[lacking] = len(base) + np.arange(lacking.sum())
    codes = np.where(codes >= 0, pos[np.maximum(codes, 0)], -1)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(base.append(values[lacking])),
                                               validate=False), index=s.index, name=s.name)


def _key_columns(table: str) -> tuple[str, ...]:
    """The column that identifies a table's rows on its own (people's ``person_id``), if it has one."""
    spec = TABLES.get(table)
    return spec.key if spec is not None and len(spec.key) == 1 else ()


class _StoreSwapped(Exception):
    pass


def _marker(path: Path) -> dict | None:
    """The store's ingest report, or None when the folder has none."""
    marker = path / STORE_MARKER
    try:
        text = marker.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise StoreError(f"{marker}: damaged (not JSON); run `longitudinal ingest` again") from None


def check_store(path: str | Path) -> dict | None:
    """Refuse a folder that is not a whole study store, before any work starts.

    Returns the ingest report of a store, None for a simulated study (``truth.json``, no persons).

    Raises
    ------
    StoreError
        No such folder, no ``ingest_report.json``, or table files whose SHA-256 differs from it.
    """
    from .io import sha256_file

    path = Path(path)
    report = _expect_store(path)
    if report is None:
        return None
    bad = [name for name, digest in report[STORE_FILES].items()
           if not (path / name).is_file() or sha256_file(path / name) != digest]
    if bad:
        raise StoreError(_changed(path, bad))
    return report


def _expect_store(path: Path) -> dict | None:
    if not path.is_dir():
        raise StoreError(f"{path}: no such study folder (expected a store written by `longitudinal ingest`: "
                         f"{', '.join(TABLE_NAMES)} and {STORE_MARKER})")
    report = _marker(path)
    if report is None:
        if (path / TRUTH_FILE).exists():
            return None  # a synthetic study: no persons, nothing to protect
        raise StoreError(
            f"{path}: not a study store: it has no {STORE_MARKER}, so its tables were not validated and "
            "pseudonymised by ingest, or an ingest was stopped before it finished. Run `longitudinal ingest` "
            f"to make the store (tables written by Study.write from a loaded study: `longitudinal ingest {path} "
            "--out <store> --already-pseudonymised`)")
    if not report.get(STORE_FILES):
        # Older versions wrote the marker last, after the tables, so such a store is whole; it cannot be
        # checked for later damage, though.
        warnings.warn(f"{path}: {STORE_MARKER} records no table hashes (written by an older version), so the "
                      "tables cannot be checked against it; run `longitudinal ingest` again to record them",
                      LongitudinalWarning, stacklevel=3)
        report = dict(report, **{STORE_FILES: {}})
    return report


def _changed(path: Path, names: list[str]) -> str:
    return (f"{path}: {', '.join(names)} differ{'s' if len(names) == 1 else ''} from what ingest wrote "
            f"(SHA-256 in {STORE_MARKER}): the store is damaged, was changed after ingest, or was only partly "
            "replaced. Nothing was loaded; run `longitudinal ingest` again")


def _hashes(raw: Mapping[str, tuple[Path, bytes]], expected: Mapping[str, str]) -> tuple[list[str], str]:
    """The files whose SHA-256 is not the one ingest recorded, and the study's ``data_hash`` (the SHA-256 of
    the files' names and bytes in name order, as the batch computes it)."""
    import hashlib

    bad = [f.name for f, data in raw.values()
           if expected and hashlib.sha256(data).hexdigest() != expected.get(f.name)]
    digest = hashlib.sha256()
    for f, data in sorted(raw.values(), key=lambda fd: fd[0].name):
        digest.update(f.name.encode() + b"\0")
        digest.update(data)
    return bad, digest.hexdigest()


def _load_once(path: Path) -> Study:
    from concurrent.futures import ThreadPoolExecutor

    from .io import parquet_rows, read_table

    report = _expect_store(path)
    expected = report[STORE_FILES] if report else {}
    lead_needs = tuple(report.get("lead_needs") or ()) or None if report else None
    # a store keeps the study's own service list (ingest --services): keep its categories
    services = tuple(((report or {}).get("service_use") or {}).get("services") or ()) or None
    raw = {}
    for name in TABLE_NAMES + OPTIONAL_TABLE_NAMES:
        for ext in ("parquet", "csv"):
            f = path / f"{name}.{ext}"
            try:
                raw[name] = (f, f.read_bytes())
            except FileNotFoundError:
                continue
            break
        else:
            if name in TABLE_NAMES:
                raise StoreError(f"{path}: no {name}.parquet or {name}.csv")

    def refuse_changed(bad: list[str]) -> None:
        if bad:
            if _marker(path) != report:
                raise _StoreSwapped()
            raise StoreError(_changed(path, bad))

    # The bytes are hashed in a thread while they are parsed (hashlib lets go of the GIL: on a second core
    # the 0.3-0.4 s of SHA-256 at national scale leave the critical path); nothing parsed is returned, and no
    # parse error is raised, before the hashes are known good.
    with ThreadPoolExecutor(1) as pool:
        hashed = pool.submit(_hashes, raw, expected)
        try:
            # Code columns are read straight into their canonical categories (apply_dtypes then keeps them)
            codes = category_dtypes(lead_needs, services)
            tables: dict[str, Any] = {}
            for name, (f, data) in raw.items():  # people, then episodes: their ids' categories serve the later
                shared = {c: tables[t][c].dtype for t, c in _SHARED_IDS if t in tables and c in tables[t]}

                def parse(name: str = name, f: Path = f, data: bytes = data, shared: dict = shared
                          ) -> pd.DataFrame:
                    frame = read_table(f, data, categories={**codes, **shared}, keys=_key_columns(name))
                    return apply_dtypes(name, frame, lead_needs=lead_needs, services=services)

                if name in OPTIONAL_TABLE_NAMES and f.suffix == ".parquet":
                    tables[name] = _Deferred(parse, rows=parquet_rows(f, data))  # checked now, parsed on first use
                else:
                    tables[name] = parse()
        except Exception:
            refuse_changed(hashed.result()[0])  # a damaged store is said to be one, not a parse error
            raise
        bad, data_hash = hashed.result()
    refuse_changed(bad)
    truth = None
    if (path / TRUTH_FILE).exists():
        truth = json.loads((path / TRUTH_FILE).read_text(encoding="utf-8"))
    return Study(**tables, truth=truth, source=path, metadata={"data_hash": data_hash})
