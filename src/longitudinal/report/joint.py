"""The protection of a year's publication, computed once for all its areas.

:class:`YearProtection` protects the count tables of :mod:`~longitudinal.report.counts`
for Wales and every authority of a year together, and hands each area's report
what it may publish. No report builds another: the batch computes the
protection once (:meth:`YearProtection.for_study`), saves it next to the
per-area slices, and each area's report reads it.

The method (see ``docs/disclosure.md``): every count of these tables, in every
area, is rounded to a multiple of 5 by **zero-restricted controlled rounding**
(:func:`~longitudinal.report.protect.controlled_round`) so that every relation a
reader can form among the published counts holds exactly among the rounded ones:

- the margins of each table (a total row, a total column; a part of a count is
  at most the count);
- the same population counted in several tables (people supported in the
  headline, the "All" lead-need row, the age x sex total and this year's trend
  row) is one count, published once;
- Wales and the authorities: a count of episodes or readings in Wales is the
  sum of the authorities' counts; a count of people in Wales is at most that
  sum and at least each authority's (a person supported in two authorities
  counts once in Wales).

Nothing in these tables is hidden, and no count of 1 to 4 appears or can be
derived: the published values are themselves a solution of every such
relation, so a reader's equations fit a table of multiples of 5 as well as the
truth. Shares and rates in these tables are computed from the published counts.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import domain
from ..domain import WALES
from ..i18n import N_
from ..io import atomic_path
from ..study import Study
from . import counts as ct, protect as dc
from .area import AreaYear, split_by_authority

__all__ = ["YearProtection", "protection_file", "year_areas", "RULE_ROUNDING"]

RULE_ROUNDING = N_(
    "**Rounding.** Every count of people, episodes and readings in the tables of headline figures, lead needs, "
    "the trend, age and sex, data completeness, distance travelled, transitions, follow-ups after a planned end, "
    "lasting impact, re-referral and time to independence, and the number of people reaching each outcome of the "
    "social return, is rounded to a multiple of 5: a count "
    "that is already a multiple of 5 (0 included) is shown as it is, any other is shown as one of the two "
    "multiples of 5 next to it. The roundings are chosen together, for Wales and every local authority at once, "
    "so that the published tables still add up exactly (each total is the sum of its parts, Wales is the sum of "
    "the local authorities) while staying as close as possible to the true counts; each published count is "
    "within 4 of the true count. Percentages and amounts per person in these tables are computed from the "
    "rounded counts (the social value and its ratio to the spend from the rounded numbers of people), except the "
    "estimates of lasting impact, re-referral and time to independence, which come "
    "from the exact data and are hidden where they would imply, or leave out, 1 to 4 people. Because the rounded "
    "tables are consistent, no count of 1 to 4 can be worked out from them."
)


def protection_file(cache: str | Path, year: int) -> Path:
    """Where the batch keeps a year's protection (next to the per-area slices)."""
    return Path(cache) / f"protection-{int(year)}.pkl"


@dataclass(frozen=True)
class Change:
    """A published count that differs from its exact value (the exact value is never recorded)."""

    area: str
    table: str
    row: object
    column: str
    published: int
    rule: str = "rounded to base 5 (controlled)"


class _Cells:
    """The count cells of every area's tables, one variable per population counted."""

    def __init__(self) -> None:
        self.index: dict[tuple, int] = {}
        self.x: list[float] = []

    def add(self, key: tuple, value: float, same_as: tuple | None = None) -> int:
        if same_as is not None and same_as in self.index:
            i = self.index[same_as]
            if self.x[i] != value:
                raise ValueError(f"{key} repeats {same_as} but counts {value:g}, not {self.x[i]:g}")
            self.index[key] = i
            return i
        self.index[key] = len(self.x)
        self.x.append(float(value))
        return self.index[key]

    def get(self, key: tuple) -> int | None:
        return self.index.get(key)


def _cell_keys(t: ct.CountTable, area: str):
    """``(key, value)`` of every count cell of a table (blank cells are not counts)."""
    df = t.data
    for col in t.count_columns:
        for row, v in zip(df[t.label_column], df[col]):
            if pd.notna(v):
                yield (area, t.name, row, col), float(v)


def _relations(t: ct.CountTable, area: str, cells: _Cells) -> list[dc.Relation]:
    """The relations among one table's counts: margins and parts."""
    df, lab = t.data, t.label_column
    rows = list(df[lab])
    key = lambda r, c: cells.get((area, t.name, r, c))  # noqa: E731 - a lookup, named for reading
    out: list[dc.Relation] = []
    if t.total_row is not None:
        parts = [r for r in rows if r != t.total_row]
        for col in t.count_columns:
            tot = key(t.total_row, col)
            ps = [key(r, col) for r in parts if key(r, col) is not None]
            if tot is None:
                continue
            if col in t.overlapping:  # rows can share people: the total is at least each and at most all
                out += [dc.Relation(((tot, 1), (p, -1)), "ge", t.name) for p in ps]
                out.append(dc.Relation(tuple((p, 1) for p in ps) + ((tot, -1),), "ge", t.name))
            else:
                out.append(dc.Relation(tuple((p, 1) for p in ps) + ((tot, -1),), "eq", t.name))
    if t.total_column is not None:
        spec = t.total_column if isinstance(t.total_column, dict) else {
            t.total_column: [c for c in t.count_columns if c != t.total_column]}
        for tot_col, part_cols in spec.items():
            for r in rows:
                tot = key(r, tot_col)
                ps = [key(r, c) for c in part_cols]
                if tot is not None and all(p is not None for p in ps):
                    out.append(dc.Relation(tuple((p, 1) for p in ps) + ((tot, -1),), "eq", t.name))
    for s in t.sums:
        per_row = isinstance(s.whole, str)
        for r in (rows if per_row else [None]):
            whole = key(r, s.whole) if per_row else key(*s.whole)
            ps = [key(r, p) if per_row else key(*p) for p in s.parts]
            if whole is not None and all(p is not None for p in ps):
                out.append(dc.Relation(((whole, 1),) + tuple((p, -1) for p in ps), "ge", t.name))
    return out


def _across(tables: dict[str, list[ct.CountTable]], cells: _Cells) -> list[dc.Relation]:
    """Wales against the authorities: sums for episodes and readings, bounds for people and for the counts a
    table declares as at most (``"at_most"``) or at least (``"at_least"``) the authorities' sum."""
    if WALES not in tables:
        return []
    about = {(a, t.name): t.about for a, ts in tables.items() for t in ts}
    out: list[dc.Relation] = []
    for t in tables[WALES]:
        # Authorities whose table is about the same thing (all of them, but for the transitions' and time to
        # independence's outcome area): where some are about another, Wales's count also holds theirs, which
        # they do not publish, so only the bounds that do not need them hold.
        counted = [a for a in tables if a != WALES and (a, t.name) in about]
        las = [a for a in counted if about[(a, t.name)] == t.about]
        whole = len(las) == len(counted)
        for (area, name, row, col), _ in _cell_keys(t, WALES):
            w = cells.get((area, name, row, col))
            parts = [p for p in (cells.get((la, name, row, col)) for la in las) if p is not None]
            what = f"{name} across the areas"
            kind = t.across.get(col) or ("people" if col in t.people or (row, col) in t.people else "sum")
            at_most = tuple((p, 1) for p in parts) + ((w, -1),)  # sum of the authorities less Wales
            if kind == "people":
                out += [dc.Relation(((w, 1), (p, -1)), "ge", what) for p in parts]
            if kind == "sum" and whole:
                out.append(dc.Relation(at_most, "eq", what))
            elif kind == "at_least" or kind == "sum":
                out.append(dc.Relation(tuple((i, -c) for i, c in at_most), "ge", what))
            elif whole:  # people, at_most
                out.append(dc.Relation(at_most, "ge", what))
    return out


def _round(tables: dict[str, list[ct.CountTable]]) -> tuple[dict, list[Change], int]:
    """Round the tables of the given areas together; returns the published tables, the changes and the number
    of relations dropped because they do not hold among the exact counts."""
    cells = _Cells()
    for area, ts in tables.items():
        for t in ts:
            for k, v in _cell_keys(t, area):
                same = t.repeats.get((k[2], k[3]))
                cells.add(k, v, (area, same[0], *same[1]) if same else None)
    relations = [r for area, ts in tables.items() for t in ts for r in _relations(t, area, cells)]
    relations += _across(tables, cells)
    x = np.asarray(cells.x)
    kept = [r for r in relations if r.holds(x)]
    rounded = dc.controlled_round(x, kept)
    published: dict[str, dict[str, pd.DataFrame]] = {}
    changes: list[Change] = []
    for area in [a for a in domain.all_areas() if a in tables]:
        published[area] = {}
        for t in tables[area]:
            df = t.data.copy()
            lab = df[t.label_column].tolist()
            for col in t.count_columns:
                vals = df[col].tolist()
                out = []
                for row, v in zip(lab, vals):
                    i = cells.get((area, t.name, row, col))
                    if i is None:
                        out.append(v)
                        continue
                    out.append(int(rounded[i]))
                    if rounded[i] != x[i]:
                        changes.append(Change(area, t.name, row, col, int(rounded[i])))
                # Blank cells (no count) stay blank: the column is then of objects, whole numbers and NaN.
                df[col] = pd.Series(out, index=df.index, dtype=object if any(pd.isna(v) for v in out) else "int64")
            published[area][t.name] = t.derive(df) if t.derive else df
    dropped: dict[str, int] = {}
    for r in relations:
        if not r.holds(x):
            dropped[r.about] = dropped.get(r.about, 0) + 1
    return published, changes, dropped


def year_areas(slices: Iterable[tuple[str, Study]], year: int, *, seed: int = 0) -> dict[str, AreaYear]:
    """The areas a year's publication protects, from ``(area, slice)`` pairs (Wales: the whole study; then the
    authorities of :func:`~longitudinal.report.area.split_by_authority`): an authority without an episode, or
    whose data do not reach the year, has no report and publishes nothing.

    Raises
    ------
    ValueError
        If the year lies outside Wales's data.
    """
    out = {}
    for area, part in slices:
        if area != WALES and part.episodes.empty:
            continue
        try:
            out[area] = AreaYear(part, year, area, seed=seed)
        except ValueError:
            if area == WALES:
                raise
    return out


class YearProtection:
    """What each area of a year may publish in its count tables.

    Attributes
    ----------
    year : int
    published : dict
        ``{area: {table name: DataFrame as published}}``.
    changes : list of Change
        Every published count that differs from its exact value (which is not recorded).
    relations_dropped : dict
        ``{what: number}`` of relations that do not hold among the exact counts and so were not
        imposed (and cannot be formed by a reader either): the transitions of Wales and of an
        authority that reports another outcome area.
    """

    method = "controlled rounding to base 5, joint over the areas of the year"

    def __init__(self, year: int, published: dict[str, dict[str, pd.DataFrame]], changes: list[Change],
                 relations_dropped: dict | None = None) -> None:
        self.year = int(year)
        self.published = published
        self.changes = changes
        self.relations_dropped = dict(relations_dropped or {})

    def __repr__(self) -> str:
        return (f"<YearProtection {domain.fy_label(self.year)}: {len(self.published)} area(s), "
                f"{len(self.changes)} count(s) rounded>")

    @property
    def areas(self) -> list[str]:
        return list(self.published)

    @property
    def across(self) -> bool:
        """Whether Wales was protected together with the authorities."""
        return WALES in self.published and len(self.published) > 1

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

    def has(self, area: str, name: str) -> bool:
        """Whether the protection rounded the table ``name`` of ``area`` (one saved by an earlier version may
        lack a table added since)."""
        return name in self.published.get(domain.area_name(area), {})

    def changes_of(self, area: str, name: str | None = None) -> list[Change]:
        area = domain.area_name(area)
        return [c for c in self.changes if c.area == area and (name is None or c.table == name)]

    def round_alone(self, area: str, t: ct.CountTable) -> tuple[pd.DataFrame, list[Change]]:
        """A count table outside the year's joint rounding (a section asked for another outcome), rounded on
        its own with its margins kept; returns it as published and its changed cells."""
        published, changes, _ = _round({domain.area_name(area): [t]})
        return published[domain.area_name(area)][t.name], changes

    # ------------------------------------------------------------ building
    @classmethod
    def for_areas(cls, areas: dict[str, AreaYear], year: int) -> YearProtection:
        """Round the count tables of the given areas of one year together (see the module's docstring)."""
        return cls.from_tables({name: ct.year_count_tables(a) for name, a in areas.items()}, year)

    @classmethod
    def from_tables(cls, tables: dict[str, list[ct.CountTable]], year: int) -> YearProtection:
        """Round count tables already built (:func:`~longitudinal.report.counts.year_count_tables`, keyed by area in
        the order of :func:`year_areas`) together: the batch builds them in parallel processes."""
        published, changes, dropped = _round(tables)
        return cls(year, published, changes, dropped)

    @classmethod
    def for_study(cls, study: Study, year: int, *, seed: int = 0) -> YearProtection:
        """Protect the year's publication of a whole study: Wales and every authority with data in the year.

        Computed once per study, year and seed and kept with the study (:meth:`~longitudinal.Study.memo`): each
        area's report made from the same study in a notebook shares it, as the batch's reports share its one."""
        return study.memo(("year protection", int(year), int(seed)), lambda: cls.for_areas(
            year_areas([(WALES, study), *split_by_authority(study).items()], year, seed=seed), year))

    # ------------------------------------------------------------- storage
    def save(self, path: str | Path) -> Path:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> YearProtection:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a YearProtection")
        return obj
