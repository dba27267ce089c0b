"""The data contract: the four tables a study supplies, their columns and types.

A study supplies ``people``, ``episodes``, ``readings`` and ``spend`` (CSV,
Excel or Parquet). This module says what each column is; :mod:`longitudinal.ingest`
checks supplied files against it and :func:`apply_dtypes` gives loaded tables
their proper pandas types (categoricals for codes, dates as datetimes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from . import domain

__all__ = ["Column", "TABLES", "TABLE_NAMES", "apply_dtypes", "category_dtypes"]


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
            Column("end_reason", "category", required=False, description="planned, unplanned, moved_away, died, other; blank while open"),
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
}
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def category_dtypes(lead_needs: tuple[str, ...] | None = None) -> dict[str, pd.CategoricalDtype]:
    """The categorical dtype of every code column, with categories in canonical order."""
    needs = lead_needs or domain.LEAD_NEED_CODES
    return {
        "sex": pd.CategoricalDtype(list(domain.SEXES)),
        "local_authority": pd.CategoricalDtype(list(domain.LA_NAMES)),
        "lead_need": pd.CategoricalDtype(list(needs)),
        "service_type": pd.CategoricalDtype(list(domain.SERVICE_TYPES)),
        "end_reason": pd.CategoricalDtype(list(domain.END_REASONS)),
        "reading_type": pd.CategoricalDtype(list(domain.READING_TYPES)),
        "outcome": pd.CategoricalDtype(list(domain.OUTCOME_CODES)),
    }


def apply_dtypes(table: str, df: pd.DataFrame, lead_needs: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Give a table of canonical values its proper dtypes (no validation: see ingest).

    ids → ``category`` (memory at national scale), codes → ordered-category
    dtypes of :func:`category_dtypes`, dates → ``datetime64[ns]``, score →
    nullable ``Int8``, years → ``int32``, money → ``float64``.
    """
    spec = TABLES[table]
    cats = category_dtypes(lead_needs)
    out = {}
    for col in spec.columns:
        s = df[col.name]
        if col.kind == "id":
            out[col.name] = s.astype("string").astype("category") if s.dtype != "category" else s
        elif col.kind == "category":
            dtype = cats[col.name]
            if col.name == "lead_need" and s.dtype == "category" and lead_needs is None:
                # keep a study's own lead-need list
                extra = [c for c in s.cat.categories if c not in dtype.categories]
                dtype = pd.CategoricalDtype(list(dtype.categories) + extra)
            out[col.name] = s.astype("string").astype(dtype) if s.dtype != dtype else s
        elif col.kind == "date":
            out[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.kind == "score":
            out[col.name] = pd.to_numeric(s).astype("Int8")
        elif col.kind == "int":
            out[col.name] = pd.to_numeric(s).astype("int32")
        elif col.kind == "money":
            out[col.name] = pd.to_numeric(s).astype("float64")
    extra_cols = [c for c in df.columns if c not in out]
    result = pd.DataFrame(out, index=df.index)
    for c in extra_cols:
        result[c] = df[c]
    return result.reset_index(drop=True)
