"""The data contract: the tables a study supplies, their columns and types.

A study supplies ``people``, ``episodes``, ``readings`` and ``spend`` (CSV,
Excel or Parquet), and optionally ``service_use`` (linked public-service use). This module says
what each column is; :mod:`longitudinal.ingest` checks supplied files against it and
:func:`apply_dtypes` gives loaded tables their proper pandas types (categoricals for codes, dates as datetimes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import domain

__all__ = ["Column", "TABLES", "TABLE_NAMES", "OPTIONAL_TABLE_NAMES", "ALL_TABLE_NAMES", "apply_dtypes",
           "category_dtypes", "schemas", "REASONS", "EARLIEST_DATE"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "id", "category", "date", "int", "score", "money"
    required: bool = True  # False: a blank value is allowed
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


TABLES: dict[str, Table] = {
    "people": Table(
        "people",
        (
            Column("person_id", "id", description="Person identifier (pseudonymised on ingest)"),
            Column("sex", "category", description="female, male or other"),
            Column("birth_year", "int", description="Year of birth"),
        ),
        key=("person_id",),
    ),
    "episodes": Table(
        "episodes",
        (
            Column("episode_id", "id", description="Episode of support (pseudonymised on ingest)"),
            Column("person_id", "id", description="Person supported"),
            Column("local_authority", "category", description="One of the 22 authorities (Welsh names accepted)"),
            Column("provider_id", "id", description="Support provider"),
            Column("lead_need", "category", description="SP lead-need category"),
            Column("service_type", "category", description="short_term or long_term"),
            Column("start_date", "date", description="First day of support"),
            Column("end_date", "date", required=False, description="Last day of support; blank while open"),
            Column("end_reason", "category", required=False,
                   description="planned, unplanned, moved_away, died, other; blank while open"),
        ),
        key=("episode_id",),
    ),
    "readings": Table(
        "readings",
        (
            Column("episode_id", "id", description="Episode the reading belongs to"),
            Column("person_id", "id", description="Person (must match the episode's)"),
            Column("reading_date", "date", description="Date of the reading"),
            Column("reading_type", "category", description="start, review, end or follow_up"),
            Column("outcome", "category", description="One of the 11 outcome codes (display names accepted)"),
            Column("score", "score", required=False, description="Journey of Change 1-5; blank = no need in this area"),
        ),
    ),
    "spend": Table(
        "spend",
        (
            Column("financial_year", "int", description="Financial year (2025 = 2025-26)"),
            Column("local_authority", "category", description="One of the 22 authorities"),
            Column("lead_need", "category", description="SP lead-need category"),
            Column("spend_gbp", "money", description="Spend in pounds, cash terms"),
        ),
        key=("financial_year", "local_authority", "lead_need"),
    ),
    "service_use": Table(
        "service_use",
        (
            Column("person_id", "id", description="Person (pseudonymised with the same key, so it links to people)"),
            Column("event_date", "date", description="Day of the event, inside the study's linkage window"),
            Column("service", "category", description="Service used, from the study's list (default: "
                   "emergency_admission, ae_attendance, outpatient, gp_event, homelessness_presentation)"),
            Column("count", "int", required=False, description="Events that day (blank = 1)"),
        ),
        key=("person_id", "event_date", "service"),
    ),
}
#: The four tables every study supplies.
TABLE_NAMES: tuple[str, ...] = ("people", "episodes", "readings", "spend")
#: Tables a study may supply (linked administrative data).
OPTIONAL_TABLE_NAMES: tuple[str, ...] = ("service_use",)
ALL_TABLE_NAMES: tuple[str, ...] = TABLE_NAMES + OPTIONAL_TABLE_NAMES
#: Linkage window assumed when a study declares none: from two years before Supporting People began.
DEFAULT_LINKAGE_START = pd.Timestamp("2001-04-01")


def category_dtypes(lead_needs: tuple[str, ...] | None = None,
                    services: tuple[str, ...] | None = None) -> dict[str, pd.CategoricalDtype]:
    """The categorical dtype of every code column, with categories in canonical order."""
    needs = lead_needs or domain.LEAD_NEED_CODES
    return {
        "service": pd.CategoricalDtype(list(services or domain.SERVICE_CODES)),
        "sex": pd.CategoricalDtype(list(domain.SEXES)),
        "local_authority": pd.CategoricalDtype(list(domain.LA_NAMES)),
        "lead_need": pd.CategoricalDtype(list(needs)),
        "service_type": pd.CategoricalDtype(list(domain.SERVICE_TYPES)),
        "end_reason": pd.CategoricalDtype(list(domain.END_REASONS)),
        "reading_type": pd.CategoricalDtype(list(domain.READING_TYPES)),
        "outcome": pd.CategoricalDtype(list(domain.OUTCOME_CODES)),
    }


def _as_categories(s: pd.Series, dtype: pd.CategoricalDtype, table: str, column: str) -> pd.Series:
    """``s`` with exactly ``dtype``'s categories, in order; a value outside them is an error, never NaN."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        if list(s.cat.categories) == list(dtype.categories):
            return s
        present = s.cat.categories[np.unique(s.cat.codes[s.cat.codes >= 0])]
        unknown = sorted(set(map(str, present)) - set(dtype.categories))
        result = s.cat.set_categories(list(dtype.categories))
    else:
        result = s.astype("string").astype(dtype)
        unknown = sorted(set(s[result.isna() & s.notna()].astype(str)))
    if unknown:
        raise ValueError(
            f"{table}.{column} holds {', '.join(map(repr, unknown[:5]))}, not among the expected values "
            f"({', '.join(map(str, dtype.categories))}); run `longitudinal ingest` to validate the data"
        )
    return result


def apply_dtypes(table: str, df: pd.DataFrame, lead_needs: tuple[str, ...] | None = None,
                 services: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Give a table of canonical values its proper dtypes (no validation: see ingest).

    ids → ``category`` (memory at national scale), codes → ordered-category
    dtypes of :func:`category_dtypes`, dates → ``datetime64[ns]``, score →
    nullable ``Int8``, years → ``int32``, money → ``float64``. Columns already in their dtype are
    taken as they are, not copied: the result may share them with ``df`` (which callers discard).
    """
    spec = TABLES[table]
    cats = category_dtypes(lead_needs, services)
    out = {}
    for col in spec.columns:
        s = df[col.name]
        if col.kind == "id":
            out[col.name] = s.astype("string").astype("category") if s.dtype != "category" else s
        elif col.kind == "category":
            dtype = cats[col.name]
            if ((col.name == "lead_need" and lead_needs is None) or (col.name == "service" and services is None)) \
                    and s.dtype == "category":
                # keep a study's own lead-need or service list
                extra = [c for c in s.cat.categories if c not in dtype.categories]
                dtype = pd.CategoricalDtype(list(dtype.categories) + extra)
            # Unordered categorical dtypes compare equal whatever their order, so compare the
            # category lists: a reloaded file must give the canonical order (it sets model reference levels).
            out[col.name] = _as_categories(s, dtype, table, col.name)
        elif col.kind == "date":
            # already dates: no parse (to_datetime's format sniffing walks the values)
            out[col.name] = (s if s.dtype == "datetime64[ns]"
                             else s.astype("datetime64[ns]") if pd.api.types.is_datetime64_any_dtype(s.dtype)
                             else pd.to_datetime(s).astype("datetime64[ns]"))
        elif col.kind == "score":
            out[col.name] = s if s.dtype == "Int8" else pd.to_numeric(s).astype("Int8")
        elif col.kind == "int":
            out[col.name] = s if s.dtype == "int32" else pd.to_numeric(s).astype("int32")
        elif col.kind == "money":
            out[col.name] = pd.to_numeric(s).astype("float64")
    extra_cols = [c for c in df.columns if c not in out]
    result = pd.DataFrame(out, index=df.index, copy=False)  # columns are fresh or the caller's own
    for c in extra_cols:
        result[c] = df[c]
    if isinstance(result.index, pd.RangeIndex) and result.index.start == 0 and result.index.step == 1:
        return result
    return result.reset_index(drop=True)


# --------------------------------------------------------------------------
# Validation schemas (pandera). They describe a table whose values have been
# brought to canonical form (aliases mapped, dates and numbers parsed) by
# :mod:`longitudinal.ingest`; values that could not be parsed are reported
# there, everything else is checked here. Each check's ``error`` is a key into
# :data:`REASONS`, the text a person is shown in ``rejects/<table>.csv``.
# --------------------------------------------------------------------------
#: Earliest date accepted in a support record (Supporting People began in Wales in 2003).
EARLIEST_DATE = pd.Timestamp("2003-04-01")
EARLIEST_BIRTH_YEAR = 1900


def _scale_text() -> str:
    return "the Journey of Change scale 1–5 (blank means no need in this area)"


#: Reason templates, keyed by the ``error`` of each check; ``{value}`` is the value found.
REASONS: dict[str, str] = {
    "sex": "sex {value!r} is not recognised — expected female, male or other",
    "birth_year": "birth year {value} is not plausible — expected a year from 1900 to this year",
    "local_authority": ("{value!r} is not one of the 22 Welsh local authorities — expected an English or "
                        "Welsh name or ONS code, e.g. Cardiff, Caerdydd or W06000015 (see data/dictionary.md)"),
    "lead_need": "lead need {value!r} is not in this study's list of lead needs: {allowed}",
    "service_type": "service type {value!r} is not recognised — expected short_term or long_term",
    "end_reason": "end reason {value!r} is not recognised — expected planned, unplanned, moved_away, died or other",
    "reading_type": "reading type {value!r} is not recognised — expected start, review, end or follow_up",
    "outcome": "outcome {value!r} is not one of the 11 outcome areas — expected a code such as managing_money "
               "or a display name such as 'Managing money' (see data/dictionary.md)",
    "score": "score {value} is outside " + _scale_text(),
    "date_future": "date {value} is in the future (after {today})",
    "date_early": "date {value} is before 2003-04-01, when Supporting People began — check the year",
    "financial_year": "financial year {value} is outside the years Supporting People ran (2003 to this year)",
    "spend_negative": "spend {value} is negative — expected pounds spent, 0 or more",
    "end_before_start": "end date is before the start date ({value}) — expected an end on or after the start",
    "end_reason_without_end": "end reason {value!r} is given but the end date is blank — give both or neither",
    "end_without_reason": "end date {value} is given but the end reason is blank — give both or neither "
                          "(planned, unplanned, moved_away, died, other)",
    "not_nullable": "{column} is blank — a value is required",
    "service": "service {value!r} is not in this study's list of services: {allowed}",
    "date_window": ("event date {value} is outside the study's linkage window ({window}) — check the date, "
                    "or declare the window the linkage covers"),
    "count": "count {value} is not a number of events — expected a whole number 1 or more (blank = 1)",
}


def schemas(lead_needs: tuple[str, ...] | None = None, today: pd.Timestamp | None = None,
            services: tuple[str, ...] | None = None, linkage_window: tuple | None = None) -> dict:
    """Pandera schemas of the tables in canonical form.

    Parameters
    ----------
    lead_needs : tuple of str, optional
        The study's lead-need codes (default :data:`domain.LEAD_NEED_CODES`).
    today : Timestamp, optional
        Dates after it are rejected as future dates (default: today).
    services : tuple of str, optional
        The study's service codes for ``service_use`` (default :data:`domain.SERVICE_CODES`).
    linkage_window : (start, end), optional
        Dates the linked ``service_use`` covers (see :func:`linkage_window`).

    Returns
    -------
    dict of str to pandera.DataFrameSchema

    Examples
    --------
    >>> import pandas as pd
    >>> from longitudinal.contract import schemas
    >>> people = pd.DataFrame({"person_id": ["a", "b"], "sex": ["female", "x"], "birth_year": [1950, 1960]})
    >>> schemas()["people"].validate(people, lazy=True)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    pandera.errors.SchemaErrors: ...
    """
    import pandera.pandas as pa

    needs = tuple(lead_needs or domain.LEAD_NEED_CODES)
    today = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today).normalize()
    w_start, w_end = linkage_window_bounds(linkage_window, today)
    C = pa.Check

    def allowed(values, key):
        values = list(values)
        return C(lambda s: s.isin(values), error=key)

    def date_checks():
        return [C(lambda s: s <= today, error="date_future"), C(lambda s: s >= EARLIEST_DATE, error="date_early")]

    def col(checks=None, nullable=False):
        return pa.Column(checks=checks or [], nullable=nullable, coerce=False, required=True)

    def end_ok(df):
        e, s = df["end_date"], df["start_date"]
        return e.isna() | s.isna() | (e >= s)

    def reason_iff_end(df):
        return df["end_reason"].isna() | df["end_date"].notna()

    def end_iff_reason(df):
        return df["end_date"].isna() | df["end_reason"].notna()

    return {
        "people": pa.DataFrameSchema({
            "person_id": col(),
            "sex": col([allowed(domain.SEXES, "sex")]),
            "birth_year": col([C(lambda s: (s >= EARLIEST_BIRTH_YEAR) & (s <= today.year), error="birth_year")]),
        }, name="people"),
        "episodes": pa.DataFrameSchema({
            **{c: col() for c in ("episode_id", "person_id", "provider_id")},
            "local_authority": col([allowed(domain.LA_NAMES, "local_authority")]),
            "lead_need": col([allowed(needs, "lead_need")]),
            "service_type": col([allowed(domain.SERVICE_TYPES, "service_type")]),
            "start_date": col(date_checks()),
            "end_date": col(date_checks(), nullable=True),
            "end_reason": col([allowed(domain.END_REASONS, "end_reason")], nullable=True),
        }, checks=[C(end_ok, error="end_before_start"), C(reason_iff_end, error="end_reason_without_end"),
                   C(end_iff_reason, error="end_without_reason")], name="episodes"),
        "readings": pa.DataFrameSchema({
            **{c: col() for c in ("episode_id", "person_id")},
            "reading_date": col(date_checks()),
            "reading_type": col([allowed(domain.READING_TYPES, "reading_type")]),
            "outcome": col([allowed(domain.OUTCOME_CODES, "outcome")]),
            "score": col([C(lambda s: (s >= 1) & (s <= 5), error="score")], nullable=True),
        }, name="readings"),
        "spend": pa.DataFrameSchema({
            "financial_year": col([C(lambda s: (s >= 2003) & (s <= domain.financial_year(today)),
                                     error="financial_year")]),
            "local_authority": col([allowed(domain.LA_NAMES, "local_authority")]),
            "lead_need": col([allowed(needs, "lead_need")]),
            "spend_gbp": col([C(lambda s: s >= 0, error="spend_negative")]),
        }, name="spend"),
        "service_use": pa.DataFrameSchema({
            "person_id": col(),
            "event_date": col([C(lambda s: (s >= w_start) & (s <= w_end), error="date_window")]),
            "service": col([allowed(services or domain.SERVICE_CODES, "service")]),
            "count": col([C(lambda s: s >= 1, error="count")]),
        }, name="service_use"),
    }


def linkage_window_bounds(window: tuple | None, today: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The (first, last) day of a linkage window; an undeclared end is today, an undeclared start
    :data:`DEFAULT_LINKAGE_START` (two years before Supporting People began).

    >>> linkage_window_bounds(("2017-04-01", "2026-03-31"))
    (Timestamp('2017-04-01 00:00:00'), Timestamp('2026-03-31 00:00:00'))
    """
    today = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today).normalize()
    start, end = window if window is not None else (None, None)
    start = DEFAULT_LINKAGE_START if start is None else pd.Timestamp(start)
    end = today if end is None else min(pd.Timestamp(end), today)
    if end < start:
        raise ValueError(f"linkage window ends ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d})")
    return start, end


#: Which column a table-wide (multi-column) check's failure is reported against.
DATAFRAME_CHECK_COLUMN: dict[str, str] = {
    "end_before_start": "end_date",
    "end_reason_without_end": "end_reason",
    "end_without_reason": "end_date",
}
