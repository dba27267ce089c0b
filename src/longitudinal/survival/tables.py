"""Readings as survival data: the checked table of scored readings, groups, labels and exclusion counts.

Shared by :mod:`.independence` and :mod:`.sustained` (times in months, ``MONTH_DAYS`` days each).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .. import domain
from ..study import Study

#: Days in an average month; times are reported in months.
MONTH_DAYS = 365.25 / 12
#: Columns of the long table that may be used as groups or covariates.
GROUPABLE = ("outcome", "lead_need", "service_type", "local_authority", "provider_id", "age_band", "sex",
             "end_reason", "financial_year", "start_score")


def outcome_codes(outcome) -> list[str] | None:
    """Outcome codes of ``outcome`` (codes or display names); None for every area (None or "all")."""
    if outcome is None or (isinstance(outcome, str) and outcome.lower() == "all"):
        return None
    codes = [outcome] if isinstance(outcome, str) else list(outcome)
    return [domain.outcome_code(c) for c in codes]


def check_columns(cols: Sequence[str], available: Iterable[str], what: str) -> list[str]:
    """``cols`` as a list, each one of ``available``; else a KeyError naming ``what`` and the choices."""
    cols = [cols] if isinstance(cols, str) else list(cols)
    avail = list(available)
    bad = [c for c in cols if c not in avail]
    if bad:
        raise KeyError(f"{what}: unknown column(s) {bad}; expected any of {avail}")
    return cols


def group_keys(df: pd.DataFrame, by: list[str]):
    """Iterate (key dict, sub-frame) over groups in a stable order."""
    if not by:
        yield {}, df
        return
    for key, sub in df.groupby(by, observed=True, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key)), sub


def exclusion_table(counts: dict[str, tuple[int, str]]) -> pd.DataFrame:
    """``reason, n, description`` from ``{reason: (n, description)}``."""
    rows = [{"reason": k, "n": int(n), "description": d} for k, (n, d) in counts.items()]
    return pd.DataFrame(rows, columns=["reason", "n", "description"])


def at_risk_count(lo: np.ndarray, t: float) -> int:
    """Subjects known to be event-free through ``t`` and still followed (interval lower bounds ``lo``)."""
    return int((lo >= t).sum())


_TABLE_COLUMNS = ("episode_id", "person_id", "outcome", "reading_date", "score", "start_date", "end_date")


def scored_readings(data: Study | pd.DataFrame, codes: list[str] | None, *, include_follow_up: bool,
              need: Sequence[str], who: str) -> pd.DataFrame:
    """Scored readings: ``Study.long`` of a study, or a caller's table of the same shape, checked."""
    if isinstance(data, Study):
        return data.long(codes, scored_only=True, include_follow_up=include_follow_up)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{who}: expected a Study or a DataFrame of readings, got {type(data).__name__}")
    need_cols = [c for c in (*_TABLE_COLUMNS, *need) if c not in ("start_score",)]
    missing = [c for c in dict.fromkeys(need_cols) if c not in data.columns]
    if missing:
        raise KeyError(f"{who}: the table lacks column(s) {', '.join(map(repr, missing))}; it needs those of "
                       f"Study.long(): {', '.join(_TABLE_COLUMNS)}; "
                       f"columns present: {', '.join(map(str, data.columns))}")
    long = data
    if codes is not None:
        long = long[long["outcome"].astype(str).isin(codes)]
    if not include_follow_up and "reading_type" in long.columns:
        long = long[long["reading_type"].astype(str) != "follow_up"]
    long = long[pd.to_numeric(long["score"], errors="coerce").notna()]
    dates = {c: pd.to_datetime(long[c]) for c in ("reading_date", "start_date", "end_date")}
    return long.assign(score=pd.to_numeric(long["score"]).astype(float), **dates).reset_index(drop=True)


def collapse_same_day(df: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, int]:
    """Same-day readings of one area in one episode: keep the lower score (conservative), count them."""
    dup = df.duplicated(keys + ["reading_date"], keep=False)
    n = int(df.loc[dup].groupby(keys + ["reading_date"], observed=True).ngroups) if dup.any() else 0
    if n:
        df = (df.sort_values(keys + ["reading_date", "score"], kind="stable")
                .drop_duplicates(keys + ["reading_date"], keep="first"))
    return df, n


def group_label(key: dict) -> str:
    """A group's label: its values joined by " / " ("all" for no groups)."""
    return " / ".join(str(v) for v in key.values()) if key else "all"
