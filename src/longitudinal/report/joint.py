"""The protection of a year's publication, computed once for all its areas.

:class:`YearProtection` protects the count tables of :mod:`~longitudinal.report.counts`
for Wales and every authority of a year together, and hands each area's
report what it may publish. No report builds another: the batch computes the
protection once (:meth:`YearProtection.for_study`), saves it next to the
per-area slices, and each area's report reads it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd

from .. import domain
from ..domain import WALES
from ..io import atomic_path
from ..study import Study
from . import counts as ct
from . import protect as dc
from .area import AreaYear, split_by_authority
from .publish import is_number

__all__ = ["YearProtection", "protection_file"]


def protection_file(cache: str | Path, year: int) -> Path:
    """Where the batch keeps a year's protection (next to the per-area slices)."""
    return Path(cache) / f"protection-{int(year)}.pkl"


def _publish_counts(tables: list[ct.CountTable], across: dict[str, set] | None = None) -> dict[str, pd.DataFrame]:
    """An area's count tables as published: each after the tables whose cells it repeats.

    A repeated cell is fixed when it is shown where it was first published and hidden when it is hidden
    there; ``across`` adds, per table, cells hidden from the start (see :meth:`YearProtection.for_areas`).
    """
    out: dict[str, pd.DataFrame] = {}
    labels = {t.name: t.label_column for t in tables}
    for t in tables:
        fixed, hidden = list(t.fixed), []
        for cell, (src, (row, col)) in t.repeats.items():
            s = out[src]
            shown = is_number(s.loc[s[labels[src]] == row, col].iat[0])
            (fixed if shown else hidden).append(cell)
        extra = (across or {}).get(t.name, set())
        fixed = [c for c in fixed if c not in extra]
        hidden = list(dict.fromkeys([*hidden, *sorted(extra - set(hidden), key=str)]))
        out[t.name] = dc.suppress(t.data, list(t.count_columns), total_row=t.total_row,
                                  total_column=t.total_column, label_column=t.label_column, sums=t.sums,
                                  derived=t.derived or None, fixed=fixed, hidden=hidden)
    return out


def _hidden_cells(tables: list[ct.CountTable], published: dict[str, pd.DataFrame]) -> dict[str, set]:
    out: dict[str, set] = {}
    for t in tables:
        df = published[t.name]
        cells = out.setdefault(t.name, set())
        for col in t.count_columns:
            hid = df[col].isin([dc.PRIMARY, dc.SECONDARY]).to_numpy()
            cells.update((r, col) for r in df.loc[hid, t.label_column])
    return out


class YearProtection:
    """What each area of a year may publish in its count tables.

    Attributes
    ----------
    year : int
    published : dict
        ``{area: {table name: DataFrame as published}}``.
    across : bool
        Whether Wales's tables are protected against the authorities' (see :data:`protect.RULE_ACROSS_AREAS`).
    """

    def __init__(self, year: int, published: dict[str, dict[str, pd.DataFrame]], across: bool) -> None:
        self.year = int(year)
        self.published = published
        self.across = across

    def __repr__(self) -> str:
        return f"<YearProtection {domain.fy_label(self.year)}: {len(self.published)} area(s)>"

    @property
    def areas(self) -> list[str]:
        return list(self.published)

    def table(self, area: str, name: str) -> pd.DataFrame:
        """The count table ``name`` of ``area`` as published (a copy).

        Raises
        ------
        KeyError
            If the area was not protected with this year's publication.
        """
        area = domain.area_name(area)
        if area not in self.published:
            raise KeyError(f"{area} is not part of this protection of {domain.fy_label(self.year)} "
                           f"(areas: {', '.join(self.published)})")
        return self.published[area][name].copy()

    def shown(self, area: str, name: str, label_column: str, column: str) -> dict[object, bool]:
        """``{row label: whether the cell of column is shown}`` of a published count table."""
        t = self.published[domain.area_name(area)][name]
        return {r: is_number(v) for r, v in zip(t[label_column], t[column])}

    # ------------------------------------------------------------ building
    @classmethod
    def for_areas(cls, areas: dict[str, AreaYear], year: int) -> "YearProtection":
        """Protect the count tables of the given areas of one year together.

        The authorities' tables are protected first. Wales's tables add up the authorities':
        wherever at least one authority hides a cell of a table, Wales hides the same cell from
        the start, so that Wales less the other authorities' published cells cannot give it away.
        """
        published: dict[str, dict[str, pd.DataFrame]] = {}
        union: dict[str, set] = {}
        for name, a in areas.items():
            if name == WALES:
                continue
            tables = ct.count_tables(a)
            published[name] = _publish_counts(tables)
            for t, cells in _hidden_cells(tables, published[name]).items():
                union.setdefault(t, set()).update(cells)
        if WALES in areas:
            published[WALES] = _publish_counts(ct.count_tables(areas[WALES]), union)
        order = [a for a in domain.all_areas() if a in published]
        return cls(year, {a: published[a] for a in order}, across=WALES in areas)

    @classmethod
    def for_study(cls, study: Study, year: int, *, seed: int = 0) -> "YearProtection":
        """Protect the year's publication of a whole study: Wales and every authority with data in the year."""
        areas = {WALES: AreaYear(study, year, WALES, seed=seed)}
        for la, part in split_by_authority(study).items():
            try:
                areas[la] = AreaYear(part, year, la, seed=seed)
            except ValueError:  # the year is outside its data: it has no report, so it publishes nothing
                continue
        return cls.for_areas(areas, year)

    # ------------------------------------------------------------- storage
    def save(self, path: str | Path) -> Path:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "YearProtection":
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a YearProtection")
        return obj
