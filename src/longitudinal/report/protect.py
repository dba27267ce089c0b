"""Statistical disclosure control for every table the study publishes.

The rule (stated in each report's methods, see :data:`RULE`): **no published
figure may show, or let a reader work out, a count of 1 to ``threshold - 1``
(1 to 4) people, episodes or readings.** It is applied in four steps:

1. **Primary suppression** — a count from 1 to 4 is not shown; it is written
   ``<5``. Zero is shown: it names nobody.
2. **Secondary suppression** — wherever published cells add up to a published
   total (along a row to a total column, down a column to a total row, or the
   parts of a count declared with :class:`Sum`), a suppressed cell could be
   recovered by subtraction, and the cells left hidden could add up to a small
   count. So while a group holds exactly one suppressed cell, or its hidden
   cells add up to 1–4 against a published total, the smallest other non-zero
   cell of the group is suppressed too (written ``[c]``).
3. **Derived figures** — a percentage, share or mean implies a count given its
   published base: a share ``p`` of ``n`` people is ``n·p`` of them and leaves
   out ``n·(1 − p)``; a mean of ``n`` scores on a scale from ``lo`` to ``hi``
   puts the group ``n·(mean − lo)`` steps above the bottom and ``n·(hi − mean)``
   below the top, so at most that many people are off either end. Each such
   implied count is treated as a cell of a group whose total is the base, and
   steps 1 and 2 are applied to it (:class:`Share`, :class:`Parts`, a series of
   figures of one group, such as a curve at 6, 12 and 24 months, where no two
   published values may differ by 1–4 implied people). A figure whose base is
   suppressed is hidden (``[c]``).
4. **No identifiers** — no column of person, episode or provider identifiers
   is ever published (:func:`check_no_identifiers`).
5. **Rounding of the count tables** — the tables that count the same
   populations in every area (headline, lead need, trend, age x sex,
   completeness, distance travelled) are not suppressed but rounded to
   multiples of 5, jointly for Wales and the 22 authorities, by
   :func:`controlled_round` (see :mod:`longitudinal.report.joint`): they add up
   exactly (within a table, across tables, and Wales over the authorities), so
   no count of 1 to 4 can be worked out from them and none needs hiding.
   Steps 1-4 apply to the other tables (survival curves, indicators, models,
   social return), whose bases are counts of their own.

An implied count is *small* when its nearest whole number is 1 to 4
(:func:`is_small`).

Examples
--------
>>> import pandas as pd
>>> from longitudinal.report.protect import suppress
>>> t = pd.DataFrame({"need": ["a", "b", "c", "All"], "people": [3, 40, 12, 55]})
>>> suppress(t, ["people"], label_column="need", total_row="All")["people"].tolist()
['<5', 40, '[c]', 55]

A share of 8 people: 12.5% improved (1 person), 62.5% stayed the same (5),
25% got worse (2). The 1 and the 2 are small; hidden, they add up to 3, which
``100 - 62.5`` would give away, so the 62.5 goes too. Of 20 people, 50% is 10,
25% is 5: all shown. In the third row 20% of 20 is 4 people:

>>> from longitudinal.report.protect import Parts, suppress_shares
>>> d = pd.DataFrame({"n": [8, 20, 20], "improved": [12.5, 50.0, 50.0], "same": [62.5, 25.0, 30.0],
...                   "worse": [25.0, 25.0, 20.0]})
>>> suppress_shares(d, [Parts(("improved", "same", "worse"), "n", scale=100)]).values.tolist()
[[8, '[c]', '[c]', '[c]'], [20, 50.0, 25.0, 25.0], [20, 50.0, '[c]', '[c]']]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import LongitudinalError
from ..i18n import N_

__all__ = [
    "THRESHOLD",
    "PRIMARY",
    "SECONDARY",
    "RULE",
    "BASE",
    "Relation",
    "RoundingInfeasible",
    "controlled_round",
    "Sum",
    "Share",
    "Parts",
    "Together",
    "Total",
    "Same",
    "PROTECTION",
    "ROUNDING",
    "declaration_to_json",
    "declaration_from_json",
    "is_small",
    "series_mask",
    "suppression_mask",
    "suppress",
    "share_mask",
    "suppress_shares",
    "hide",
    "check_no_identifiers",
    "check_published",
    "check_derived",
]

#: Smallest count that may be published (counts 1..THRESHOLD-1 are suppressed).
THRESHOLD = 5
#: Marker of a primary-suppressed count.
PRIMARY = "<5"
#: Marker of a secondarily suppressed cell or a hidden derived statistic.
SECONDARY = "[c]"

RULE = N_(
    "**Disclosure control.** No person, episode or provider identifier appears in this report. No figure may show, "
    "or let a reader work out, a count of 1 to 4. Every count of people, episodes and readings in the tables of "
    "headline figures, lead needs, the trend, age and sex, data completeness, distance travelled, transitions, "
    "follow-ups after a planned end, lasting impact, re-referral and time to independence, and the number of "
    "people reaching each outcome of the social return, is rounded to "
    "a multiple of 5: a count that is already a multiple of 5 (0 included) is shown as it is, any other as one of "
    "the two multiples of 5 next to it, each within 4 of the true count. The roundings are chosen together for "
    "Wales and every local authority, so that the published tables still add up exactly (each total is the sum "
    "of its parts, the same count is the same in every table, Wales is the sum of the local authorities for "
    "episodes and readings, and no less than any one authority for people; re-referrals, which can cross "
    "authorities, are bounded by the authorities' sum); nothing in these tables is hidden, and percentages and "
    "amounts per person in them are computed from the rounded counts (the social value and its ratio to the "
    "spend from the rounded numbers of people), except the estimates of lasting impact, "
    "re-referral and time to independence (curves, weighted and imputed shares), which come from the exact data "
    "and are hidden (`[c]`) where they would imply, or leave out, 1 to 4 people. Percentages and "
    "means of distance travelled are shown only for at least 10 episodes compared (as published). "
    "In the other tables (the outcome map's indicators), counts from 1 to 4 are shown as "
    "`<5`; where such a cell could be recovered from a total, "
    "the next smallest cell is hidden as well (`[c]`); a percentage, share or mean is hidden (`[c]`) when its "
    "base is hidden or when the number of people it implies comes to 1 to 4 (a share p of n people is n×p of "
    "them and leaves out n×(1−p); a mean of n scores on the 1–5 scale is n×(mean−1) steps above the bottom), "
    "and two points of a curve may not differ by 1 to 4 people. Figures are drawn from the published values "
    "only, and curves only for groups of at least 5."
)

#: Column names that hold identifiers and must never be published.
IDENTIFIER_COLUMNS = ("person_id", "episode_id", "provider_id")

#: A cell of a table: a column (the cell in every row) or ``(row label, column)``.
Cell = "str | tuple[object, str]"


def is_small(x, threshold: int = THRESHOLD):
    """Whether a (possibly implied, fractional) count is small: its nearest whole number is 1 to ``threshold - 1``.

    >>> is_small([0, 0.4, 0.5, 3, 4.49, 4.5, 5, -2]).tolist()
    [False, False, True, True, True, False, False, False]
    """
    a = np.asarray(x, dtype="float64")
    return (a >= 0.5) & (a < threshold - 0.5)


# ------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Sum:
    """Counts ``parts`` are disjoint parts of the count ``whole``; what remains (whole − parts) is a count too.

    Cells are column names (the relation holds in every row) or ``(row label, column)``
    pairs (one relation between cells of different rows). ``rest_published``: the
    remainder is published elsewhere (another table), so it is known to the reader.
    """

    parts: tuple
    whole: object
    rest_published: bool = False


@dataclass(frozen=True)
class Share:
    """Column ``column`` is a figure about the people counted in column ``base`` of the same row.

    * a share (``0..1``, or percentages with ``scale=100``): it implies ``n·p`` and ``n·(1 − p)``;
    * a mean of a score bounded by ``lo`` and ``hi`` (e.g. ``1, 5``): ``n·(mean − lo)`` and ``n·(hi − mean)``;
    * ``count=True``: a count within the base (``at_risk`` of ``n``): itself and ``n − count``;
    * ``rest_base=True``: a share of a larger, unpublished base of which ``base`` is the rest
      (a missing share ``m`` next to the ``n`` analysed: ``n·m/(1 − m)`` left out).

    ``series``: group columns; the rows of one group form a series (a curve at 6, 12 and 24
    months) and no two published values of it may differ by a small implied count.
    ``where``: ``(column, value)`` — only the rows where ``column == value``.
    ``decimals``: the figure is published rounded to this many decimals; the rule holds for both
    the exact and the rounded value, and the rounded value is published.
    """

    column: str
    base: str
    scale: float = 1.0
    lo: float = 0.0
    hi: float = 1.0
    count: bool = False
    rest_base: bool = False
    series: tuple = ()
    where: tuple | None = None
    decimals: int | None = None


@dataclass(frozen=True)
class Parts:
    """Columns that split the people in ``base`` (shares: improved / same / worse add up to 100%)."""

    columns: tuple
    base: str
    scale: float = 1.0
    decimals: int | None = None


@dataclass(frozen=True)
class Together:
    """Columns published together or not at all in a row (a mean change and its interval).

    ``when``: further columns whose suppression in a row hides these too (not the other way round).
    """

    columns: tuple
    when: tuple = ()


@dataclass(frozen=True)
class Total:
    """Margins of a count table: the arguments ``total_row`` / ``total_column`` of :func:`suppress`, declared.

    ``row``: the label of the row that is the sum of the other rows in every count column.
    ``column``: a column that is the sum of ``parts`` (default: the table's other count columns) in every row.
    Unlike :class:`Sum`, nothing is left over: the parts add up to the total exactly.
    ``overlapping``: count columns in which one unit may be counted in several rows (a person supported for
    two lead needs in the year): there the total row is at most the sum of the rows and at least each row.
    """

    row: object = None
    column: str | None = None
    parts: tuple = ()
    overlapping: tuple = ()


@dataclass(frozen=True)
class Same:
    """A cell counts a population that other cells count too: all cells declaring ``key`` hold the same count.

    ``cell``: a column (every row; ``"{row}"`` in ``key`` becomes the row's label) or ``(row label, column)``.
    ``across``: how the count adds up over the areas — ``"sum"``: Wales's count is the sum of the
    authorities' (episodes, readings); ``"people"``: the same, less the people counted in more than one
    authority (each is counted once in Wales); ``"at_most"`` / ``"at_least"``: Wales's count is the
    authorities' sum less / plus an unpublished count (a planned end whose next episode is in another
    authority is "no contact" in its own and re-referred in Wales's); ``None``: no such relation.
    In ``key``, ``{row}`` stands for the row's label and ``{<column>}`` for its value in that column.
    The audit (:mod:`longitudinal.report.audit`) uses these to link tables and areas.
    """

    cell: object
    key: str
    across: str | None = None
    #: The cell counts part of the population (e.g. those whose age is known): at most the others' count.
    part: bool = False


#: What the protection promises, written beside every published table (``tables/<name>.meta.json``) so that
#: the audit judges the output against the method that made it. ``markers``: the range a reader may infer
#: from each marker; ``rounding_base``: published counts are rounded to this base (1: exact);
#: ``min_width``: the narrowest range (largest minus smallest possible value) to which a reader may be
#: able to narrow a hidden (``[c]``) or rounded count, if the method promises one; suppression alone
#: promises only that no count of 1 to ``threshold - 1`` can be worked out (``None``).
PROTECTION = {"method": "suppression", "threshold": THRESHOLD, "rounding_base": 1,
              "markers": {PRIMARY: [1, THRESHOLD - 1], SECONDARY: [0, None]}, "min_width": None}

_DECLARATIONS = {c.__name__: c for c in (Sum, Share, Parts, Together, Total, Same)}


def _cell_to_json(cell):
    return list(cell) if isinstance(cell, tuple) else cell


def _cell_from_json(cell):
    return tuple(cell) if isinstance(cell, list) else cell


def declaration_to_json(*, count_columns: Sequence[str] = (), specs: Sequence = (), free: Sequence[str] = (),
                        label_column: str | None = None, protection: Mapping | None = None) -> dict:
    """A published table's disclosure declaration as JSON-ready data (the ``tables/<name>.meta.json`` sidecar).

    >>> d = declaration_to_json(count_columns=["n"], specs=[Sum(("a",), "n")])
    >>> declaration_from_json(d)["specs"]
    (Sum(parts=('a',), whole='n', rest_published=False),)
    """
    out = []
    for spec in specs:
        kind = type(spec).__name__
        if kind not in _DECLARATIONS:
            raise TypeError(f"cannot declare {spec!r}: expected one of {sorted(_DECLARATIONS)}")
        fields = {}
        for k, v in spec.__dict__.items():
            if k in ("parts", "whole", "cell") and isinstance(spec, (Sum, Same)):
                v = [_cell_to_json(c) for c in v] if k == "parts" else _cell_to_json(v)
            elif isinstance(v, tuple):
                v = list(v)
            fields[k] = v
        out.append({"type": kind, **fields})
    return {"count_columns": list(count_columns), "free": list(free), "label_column": label_column,
            "specs": out, "protection": dict(protection if protection is not None else PROTECTION)}


def declaration_from_json(data: Mapping) -> dict:
    """The declaration read back: ``count_columns``, ``free``, ``label_column``, ``specs`` (objects), ``protection``."""
    specs = []
    for item in data.get("specs", []):
        item = dict(item)
        kind = item.pop("type", None)
        if kind not in _DECLARATIONS:
            raise ValueError(f"unknown disclosure declaration {kind!r} (expected one of {sorted(_DECLARATIONS)})")
        for k, v in item.items():
            if k in ("parts", "whole", "cell") and kind in ("Sum", "Same"):
                item[k] = tuple(_cell_from_json(c) for c in v) if k == "parts" else _cell_from_json(v)
            elif isinstance(v, list):
                item[k] = tuple(v)
        specs.append(_DECLARATIONS[kind](**item))
    return {"count_columns": tuple(data.get("count_columns", ())), "free": tuple(data.get("free", ())),
            "label_column": data.get("label_column"), "specs": tuple(specs),
            "protection": dict(data.get("protection") or PROTECTION)}


# ---------------------------------------------------------------- the engine
def _protect(x: np.ndarray, groups: list[tuple[list[int], int]], primary: np.ndarray, *,
             implicit: np.ndarray | None = None, fixed: np.ndarray | None = None,
             threshold: int = THRESHOLD) -> np.ndarray:
    """Primary + secondary suppression over cells that add up in ``groups``.

    ``x`` holds the cells' values, one row per view (the exact values and, for
    rounded figures, the rounded ones); ``groups`` are ``(component cells, total
    cell)``. ``implicit`` cells are never published but can be worked out (the
    rest of a total); ``fixed`` cells are published elsewhere, so they are known
    and cannot be hidden here. Returns which published cells to hide.
    """
    x = np.atleast_2d(np.asarray(x, dtype="float64"))
    n = x.shape[1]
    implicit = np.zeros(n, bool) if implicit is None else np.asarray(implicit, bool)
    fixed = np.zeros(n, bool) if fixed is None else np.asarray(fixed, bool)
    hidden = np.asarray(primary, bool) | implicit
    finite = np.isfinite(x).all(axis=0)
    changed = True
    while changed:  # each pass hides at least one more cell or stops
        changed = False
        for comps, total in groups:
            hc = [c for c in comps if hidden[c]]
            bad = False
            if not hidden[total] and hc:
                # What is hidden adds up to the published total less the published parts.
                bad = bool(is_small(np.nansum(x[:, hc], axis=1), threshold).any())
            if not bad and len(hc) + int(hidden[total]) == 1:
                # One suppressed cell: recovered by subtraction (an implicit cell is meant to be worked out).
                bad = not implicit[hc[0] if hc else total]
            if not bad:
                continue
            free = [c for c in comps if not hidden[c] and not fixed[c] and finite[c]]
            cands = [c for c in free if x[0, c] >= 0.5] or free  # zeros protect nothing
            if not cands and not hidden[total] and not fixed[total] and finite[total]:
                cands = [total]
            if not cands:
                continue
            pick = min(cands, key=lambda c: (x[0, c], c))
            hidden[pick] = True
            changed = True
    return hidden & ~implicit


def series_mask(values, whole, *, first: Iterable[int] = (), forbid: Iterable[int] | None = None,
                threshold: int = THRESHOLD) -> np.ndarray:
    """Which figures of one series to hide so that none implies, or differs from another by, 1–4 people.

    Parameters
    ----------
    values : array (k,) or (views, k)
        The counts the series' figures imply (``n·p`` for shares), in order; NaN = no figure.
    whole : float or array (views,)
        The base: every value and its complement ``whole - value`` must not be small.
    first : indices
        Figures to keep first if they can be (e.g. those of a published table, when the
        series also holds a curve's monthly points); the others follow in order.
    forbid : indices or bool mask
        Figures that must be hidden (hidden in a table already).

    Returns
    -------
    ndarray of bool
        True where the figure is hidden (NaN figures included).

    Examples
    --------
    Of 40 people, 3 reached the stage by 6 months (hidden: 3 is small), 10 by 12 months (kept)
    and 12 by 24 months (hidden: next to the 10, it would show that 12 - 10 = 2 reached it in between):

    >>> series_mask([3, 10, 12], 40).tolist()
    [True, False, True]
    """
    v = np.atleast_2d(np.asarray(values, dtype="float64"))
    k = v.shape[1]
    w = np.broadcast_to(np.asarray(whole, dtype="float64").reshape(-1, 1) if np.ndim(whole) else
                        np.full((v.shape[0], 1), float(whole)), (v.shape[0], 1))
    hidden = np.ones(k, bool)
    banned = np.zeros(k, bool)
    if forbid is not None:
        f = np.asarray(list(forbid) if not isinstance(forbid, np.ndarray) else forbid)
        if f.dtype == bool:
            banned |= f
        elif f.size:
            banned[f.astype(int)] = True
    first = [int(i) for i in first]
    order = first + [i for i in range(k) if i not in set(first)]
    kept: list[int] = []
    for i in order:
        if banned[i] or not np.isfinite(v[:, i]).all():
            continue
        vi = v[:, [i]]
        anchors = np.concatenate([np.zeros_like(vi), w, v[:, kept]], axis=1)
        if is_small(np.abs(anchors - vi), threshold).any():
            continue
        kept.append(i)
        hidden[i] = False
    return hidden
def _as_counts(df: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"suppress: count column(s) {missing} not in the table (columns: {list(df.columns)})")
    values = df[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    bad = np.isfinite(values) & ((values < 0) | (values != np.round(values)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"suppress: column {columns[c]!r}, row {r} holds {values[r, c]!r}; "
                         "expected a non-negative whole count")
    return values


def _cell_index(df: pd.DataFrame, cols: list[str], label_column: str | None):
    """Map a :class:`Sum` cell (column, or (row label, column)) to flat cell indices (one per row or one)."""
    labels = (df[label_column] if label_column is not None else pd.Series(df.index, index=df.index)).astype(object)
    labels = labels.to_numpy()

    def index(cell) -> list[int] | int:
        if isinstance(cell, tuple):
            row, col = cell
            hits = np.flatnonzero(labels == row)
            if len(hits) != 1:
                raise ValueError(f"suppress: row {row!r} found {len(hits)} times in {label_column or 'the index'}; "
                                 "expected exactly once")
            return int(hits[0]) * len(cols) + cols.index(col)
        return [i * len(cols) + cols.index(cell) for i in range(len(df))]

    return index


def _sum_columns(sums: Sequence[Sum]) -> list[str]:
    out: list[str] = []
    for s in sums:
        for c in [*s.parts, s.whole]:
            col = c[1] if isinstance(c, tuple) else c
            if col not in out:
                out.append(col)
    return out


def suppression_mask(
    df: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    total_column: str | Mapping[str, Sequence[str]] | None = None,
    total_row: object | None = None,
    label_column: str | None = None,
    sums: Sequence[Sum] = (),
    fixed: Iterable = (),
    hidden: Iterable = (),
    threshold: int = THRESHOLD,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Primary and secondary suppression masks of a count table.

    Parameters
    ----------
    df : DataFrame
        The table; rows are categories.
    count_columns : list of str
        Columns holding counts of people, episodes or readings. If
        ``total_column`` is given it must be one of them or is added.
    total_column : str or mapping, optional
        A column that is the sum of the other count columns along each row, or
        ``{total column: [component columns]}`` for several row sums.
    total_row : optional
        The label (in ``label_column``, or the index) of the row that is the sum
        of the other rows in each count column.
    label_column : str, optional
        Where to look for ``total_row`` and the rows of ``sums``; the index when omitted.
    sums : list of Sum
        Further counts that are parts of another (``Sum(("with_reading",), "episodes")``:
        the episodes without a reading are a count too). Their columns are added to
        the count columns.
    fixed : cells
        Cells (columns or ``(row label, column)``) published elsewhere: known to the reader,
        never chosen for secondary suppression here.
    hidden : cells
        Cells suppressed in another table that shows them too: suppressed here from the start.
    threshold : int, default 5
        Counts ``1 .. threshold-1`` are suppressed.

    A blank cell is not published: it belongs to no sum a reader could use.

    Returns
    -------
    primary, secondary : DataFrame of bool
        Same index as ``df``, columns ``count_columns``.
    """
    cols = list(count_columns)
    # Row sums: {total column: [its component columns]}.
    if total_column is None:
        row_sums: dict[str, list[str]] = {}
    elif isinstance(total_column, str):
        row_sums = {total_column: [c for c in cols if c != total_column]}
    else:
        row_sums = {t: list(parts) for t, parts in dict(total_column).items()}
    for t, parts in row_sums.items():
        for c in [t, *parts]:
            if c not in cols:
                cols.append(c)
    for c in _sum_columns(sums):
        if c not in cols:
            cols.append(c)
    x = _as_counts(df, cols)
    n_rows, n_cols = x.shape
    flat = x.ravel()
    primary = np.isfinite(flat) & (flat >= 1) & (flat < threshold)

    # Groups of cells that add up: each is (component cells, total cell); cell = row * n_cols + col.
    groups: list[tuple[list[int], int]] = []
    if total_row is not None:
        labels = df[label_column] if label_column is not None else pd.Series(df.index, index=df.index)
        hits = np.flatnonzero(labels.astype(object).to_numpy() == total_row)
        if len(hits) != 1:
            raise ValueError(f"suppress: total_row {total_row!r} found {len(hits)} times in "
                             f"{label_column or 'the index'}; expected exactly once")
        tr = int(hits[0])
        for j in range(n_cols):
            groups.append(([i * n_cols + j for i in range(n_rows) if i != tr], tr * n_cols + j))
    for t, parts in row_sums.items():
        tc, pcs = cols.index(t), [cols.index(c) for c in parts]
        for i in range(n_rows):
            groups.append(([i * n_cols + j for j in pcs], i * n_cols + tc))
    # Declared parts: the remainder (whole - parts) is an implicit cell appended after the table's cells.
    values = list(flat)
    implicit = [False] * len(values)
    fixed_cells = np.zeros(len(values), bool)
    index = _cell_index(df, cols, label_column)
    for c in fixed:
        fixed_cells[index(c)] = True
    pre_hidden = np.zeros(flat.size, bool)
    for c in hidden:
        pre_hidden[index(c)] = True
    for s in sums:
        whole = index(s.whole)
        parts = [index(p) for p in s.parts]
        per_row = isinstance(whole, list)
        if any(isinstance(p, list) != per_row for p in parts):
            raise ValueError(f"suppress: {s} mixes columns and (row, column) cells")
        for r in range(n_rows if per_row else 1):
            w = whole[r] if per_row else whole
            ps = [p[r] if per_row else p for p in parts]
            values.append(flat[w] - np.nansum([flat[p] for p in ps]) if np.isfinite(flat[[w, *ps]]).all()
                          else np.nan)
            implicit.append(not s.rest_published)
            groups.append(([*ps, len(values) - 1], w))
    vals = np.asarray(values, dtype="float64")
    extra = vals[flat.size:]
    # A remainder published elsewhere is suppressed there when small: here it is then a hidden cell.
    prim = np.r_[primary | pre_hidden, is_small(extra, threshold)]
    # Blank cells are not published (implicit); remainders are never chosen for suppression here (implicit
    # ones are unpublished, others are published elsewhere).
    implicit = np.asarray(implicit, bool)
    implicit[:flat.size] |= ~np.isfinite(flat)
    hidden_cells = _protect(vals, groups, prim, implicit=implicit,
                            fixed=np.r_[fixed_cells, np.ones(extra.size, bool)], threshold=threshold)
    hidden_cells = hidden_cells[:flat.size].reshape(n_rows, n_cols)
    primary = primary.reshape(n_rows, n_cols)
    secondary = hidden_cells & ~primary
    return (pd.DataFrame(primary, index=df.index, columns=cols),
            pd.DataFrame(secondary, index=df.index, columns=cols))


def suppress(
    df: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    total_column: str | Mapping[str, Sequence[str]] | None = None,
    total_row: object | None = None,
    label_column: str | None = None,
    derived: Mapping[str, Iterable[str]] | None = None,
    sums: Sequence[Sum] = (),
    fixed: Iterable = (),
    hidden: Iterable = (),
    threshold: int = THRESHOLD,
) -> pd.DataFrame:
    """The table as published: small counts suppressed, totals protected, derived values hidden.

    Parameters
    ----------
    df, count_columns, total_column, total_row, label_column, sums, fixed, hidden, threshold
        As :func:`suppression_mask`.
    derived : mapping, optional
        ``{column: [count columns it is computed from]}`` — a percentage, mean
        or rate is hidden where any of its bases is suppressed.

    Returns
    -------
    DataFrame
        A copy; suppressed cells hold ``"<5"`` (primary) or ``"[c]"``
        (secondary, hidden derived values); counts are whole numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"area": ["x", "y", "All"], "n": [2, 9, 11], "pct": [18.2, 81.8, 100.0]})
    >>> out = suppress(t, ["n"], label_column="area", total_row="All", derived={"pct": ["n"]})
    >>> out.to_dict("list")
    {'area': ['x', 'y', 'All'], 'n': ['<5', '[c]', 11], 'pct': ['[c]', '[c]', 100.0]}

    Of 12 episodes with a need, 10 have two readings: the 2 without are a count too.

    >>> t = pd.DataFrame({"with_need": [12, 30], "two_plus": [10, 24]})
    >>> suppress(t, ["with_need", "two_plus"], sums=[Sum(("two_plus",), "with_need")]).values.tolist()
    [[12, '[c]'], [30, 24]]
    """
    check_no_identifiers(df)
    primary, secondary = suppression_mask(df, count_columns, total_column=total_column, total_row=total_row,
                                          label_column=label_column, sums=sums, fixed=fixed, hidden=hidden,
                                          threshold=threshold)
    out = df.copy()
    for col in primary.columns:
        vals = pd.to_numeric(out[col], errors="coerce")
        cells: list[object] = [int(v) if pd.notna(v) else "" for v in vals]
        for i in range(len(cells)):
            if primary[col].iat[i]:
                cells[i] = PRIMARY
            elif secondary[col].iat[i]:
                cells[i] = SECONDARY
        out[col] = pd.Series(cells, index=out.index, dtype=object)
    for col, bases in (derived or {}).items():
        if col not in out.columns:
            raise KeyError(f"suppress: derived column {col!r} not in the table (columns: {list(df.columns)})")
        bases = list(bases)
        unknown = [b for b in bases if b not in primary.columns]
        if unknown:
            raise KeyError(f"suppress: derived column {col!r} is based on {unknown}, which are not count columns "
                           f"({list(primary.columns)})")
        hidden = (primary[bases] | secondary[bases]).any(axis=1).to_numpy()
        out[col] = hide(out[col], hidden)
    return out


# ------------------------------------------------------------ derived figures
def _numbers(s: pd.Series) -> np.ndarray:
    """Numeric values of a published column: markers and blanks are NaN."""
    return pd.to_numeric(s.where(~s.isin([PRIMARY, SECONDARY])), errors="coerce").to_numpy(dtype="float64")


def series_keys(df: pd.DataFrame, series: tuple) -> np.ndarray:
    """Each row's series (the values of the ``series`` columns joined); without series, each row its own."""
    if not series:
        return np.arange(len(df)).astype(str)
    return df[list(series)].astype(str).agg("\x1f".join, axis=1).to_numpy()


def _rows(df: pd.DataFrame, where: tuple | None) -> np.ndarray:
    if where is None:
        return np.ones(len(df), bool)
    col, val = where
    return (df[col].astype(object) == val).to_numpy()


def _implied(spec: Share, n: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(implied count, whole) of a :class:`Share`'s values ``v`` given the bases ``n``."""
    if spec.count:
        return v, n
    p = v / spec.scale
    if spec.rest_base:
        with np.errstate(divide="ignore", invalid="ignore"):
            whole = np.where(p < 1, n / (1 - p), np.nan)
        return whole * p, whole
    return n * (p - spec.lo), n * (spec.hi - spec.lo)


def _views(df: pd.DataFrame, col: str, decimals: int | None) -> list[np.ndarray]:
    v = _numbers(df[col])
    return [v] if decimals is None else [v, np.round(v, decimals)]


def share_mask(df: pd.DataFrame, spec: Share | Parts, threshold: int = THRESHOLD) -> pd.DataFrame:
    """Which cells of a :class:`Share` or :class:`Parts` declaration to hide (bool, the spec's columns).

    A cell is hidden where its base is not a published number, where the count it
    implies or leaves out is small, and by secondary suppression among the implied
    counts (the parts of a row; the values of a series).
    """
    n = _numbers(df[spec.base])
    cols = [spec.column] if isinstance(spec, Share) else list(spec.columns)
    for c in cols:
        if c not in df.columns:
            raise KeyError(f"share_mask: column {c!r} not in the table (columns: {list(df.columns)})")
    rows = _rows(df, getattr(spec, "where", None))
    out = pd.DataFrame(False, index=df.index, columns=cols)
    no_base = ~np.isfinite(n)
    if isinstance(spec, Parts):
        views = [np.column_stack([_views(df, c, spec.decimals)[k] for c in cols])
                 for k in range(1 if spec.decimals is None else 2)]
        k = len(cols)
        for i in np.flatnonzero(rows & ~no_base):
            x = np.array([np.r_[n[i] * vw[i] / spec.scale, 0.0, n[i]] for vw in views])
            # The rest of the base (implicit): exact in every view; the parts' rounding hides nobody.
            x[:, k] = n[i] - np.nansum(x[0, :k])
            present = np.isfinite(x[0, :k])
            prim = np.r_[is_small(x[:, :k], threshold).any(axis=0), is_small(x[:, k], threshold).any(), False]
            implicit = np.r_[np.zeros(k, bool), True, False]
            fixed = np.r_[~present, False, True]
            hid = _protect(np.nan_to_num(x, nan=0.0), [(list(range(k + 1)), k + 1)], prim, implicit=implicit,
                           fixed=fixed, threshold=threshold)
            out.iloc[i, :] = hid[:k] & present
        out.loc[no_base & rows, :] = True
        return out
    views = _views(df, spec.column, spec.decimals)
    pairs = [_implied(spec, n, v) for v in views]
    imp = np.vstack([p[0] for p in pairs])
    whole = np.vstack([p[1] for p in pairs])
    finite = np.isfinite(imp).all(axis=0)
    hid = np.zeros(len(df), bool)
    keys = series_keys(df, spec.series)
    for key in pd.unique(keys[rows]):
        idx = np.flatnonzero((keys == key) & rows & finite & ~no_base)
        if not idx.size:
            continue
        w = np.nanmax(whole[:, idx], axis=1)
        hid[idx] = series_mask(imp[:, idx], w, threshold=threshold)
    hid |= no_base
    out[spec.column] = hid & rows & (finite | no_base) & df[spec.column].notna().to_numpy()
    return out


def base_given_away(df: pd.DataFrame, spec: Share, threshold: int = THRESHOLD) -> np.ndarray:
    """Where a :class:`Share` ``count=True`` base must be hidden: its count is hidden as small
    (:data:`PRIMARY`, 1 to ``threshold - 1``) and the rest of the base, ``n - count``, would then be
    small whatever the count is (a base of 5 beside ``<5`` leaves 1-4). The base is the same number in
    every row of a series, so it goes in all of them.
    """
    n = _numbers(df[spec.base])
    small = df[spec.column].astype(object).eq(PRIMARY).to_numpy() & np.isfinite(n)
    rows = _rows(df, spec.where)
    left = small & rows & (n - (threshold - 1) >= 1) & (n - 1 <= threshold - 1)
    if not left.any():
        return left
    keys = series_keys(df, spec.series)
    return np.isin(keys, keys[left]) & rows


def _rounded(s: pd.Series, decimals: int) -> pd.Series:
    """Numbers rounded to ``decimals``; markers and blanks kept."""
    v = _numbers(s)
    if np.isfinite(v).sum() == s.notna().sum():
        return pd.Series(np.round(v, decimals), index=s.index)
    return pd.Series([round(float(x), decimals) if np.isfinite(x) else o for x, o in zip(v, s.astype(object))],
                     index=s.index, dtype=object)


def suppress_shares(df: pd.DataFrame, specs: Sequence[Share | Parts | Together], *,
                    threshold: int = THRESHOLD) -> pd.DataFrame:
    """The table with every share, percentage or mean that would give away a small count hidden (``[c]``).

    Apply it after :func:`suppress` (the bases may then hold ``<5`` / ``[c]``, whose figures
    are all hidden). :class:`Together` declarations are applied last: a column set is hidden
    in a row as soon as one of its columns is. Figures with a ``decimals`` are rounded.

    Examples
    --------
    68.8% of 16 people is 11, leaving 5: shown. 93.8% of 16 is 15, leaving 1: hidden.

    >>> t = pd.DataFrame({"n": [16, 16, "<5"], "pct": [68.75, 93.75, 50.0]})
    >>> suppress_shares(t, [Share("pct", "n", scale=100, decimals=1)])["pct"].tolist()
    [68.8, '[c]', '[c]']
    """
    out = df.copy()
    for spec in specs:
        if isinstance(spec, Share) and spec.count:
            out[spec.base] = hide(out[spec.base], base_given_away(out, spec, threshold))
    df = out.copy()
    hidden = pd.DataFrame(False, index=df.index, columns=df.columns)
    for spec in specs:
        if isinstance(spec, Together):
            continue
        m = share_mask(df, spec, threshold)
        for c in m.columns:
            hidden[c] |= m[c].to_numpy()
        if spec.decimals is not None:
            for c in m.columns:
                out[c] = _rounded(df[c], spec.decimals)
    together = [s for s in specs if isinstance(s, Together)]
    changed = bool(together)
    while changed:  # declarations can chain: repeat until nothing more is hidden
        changed = False
        for spec in together:
            cols = list(spec.columns)
            trig = cols + list(spec.when)
            any_hidden = (hidden[trig].any(axis=1) | out[trig].isin([PRIMARY, SECONDARY]).any(axis=1)).to_numpy()
            for c in cols:
                new = any_hidden & ~hidden[c].to_numpy() & out[c].notna().to_numpy()
                if new.any():
                    hidden[c] |= new
                    changed = True
    for c in df.columns:
        if hidden[c].any():
            out[c] = hide(out[c], hidden[c].to_numpy())
    return out


def hide(values: pd.Series, mask: Iterable[bool]) -> pd.Series:
    """``values`` with the masked cells replaced by ``"[c]"`` (object dtype)."""
    mask = np.asarray(list(mask), dtype=bool)
    if len(mask) != len(values):
        raise ValueError(f"hide: mask has {len(mask)} entries for {len(values)} values")
    out = values.astype(object).copy()
    out[mask] = SECONDARY
    return out


def check_no_identifiers(df: pd.DataFrame, identifiers: Iterable[str] | None = None) -> None:
    """Raise if a table carries an identifier column or any of the given identifier values.

    Parameters
    ----------
    df : DataFrame
    identifiers : iterable of str, optional
        Person / episode identifiers that must not appear anywhere in the table
        (index, column names or cells). A set is used as it is (its members text, as
        :meth:`~longitudinal.report.publish.Publisher.identifiers` holds them): a report
        checks every table against the same set of up to a million identifiers.

    Raises
    ------
    ValueError
        Naming the column (and the value) found.
    """
    names = [str(c) for c in df.columns] + [str(n) for n in df.index.names if n is not None]
    bad = [c for c in names if c in IDENTIFIER_COLUMNS or c.endswith("_id")]
    if bad:
        raise ValueError(f"table has identifier column(s) {bad}; identifiers are never published")
    if identifiers is None:
        return
    ids = identifiers if isinstance(identifiers, (set, frozenset)) else set(map(str, identifiers))
    if not ids:
        return
    cells = [("column name", c) for c in names]
    cells += [("index", str(v)) for v in df.index]
    for col in df.columns:
        cells += [(f"column {col!r}", str(v)) for v in df[col].to_numpy()]
    for where, v in cells:
        if v in ids:
            raise ValueError(f"table shows identifier {v!r} in {where}; identifiers are never published")


def check_published(df: pd.DataFrame, count_columns: Sequence[str], threshold: int = THRESHOLD) -> None:
    """Raise if any count column shows a number from 1 to ``threshold - 1``."""
    for col in count_columns:
        vals = pd.to_numeric(df[col], errors="coerce")
        small = vals.notna() & (vals >= 1) & (vals < threshold)
        if small.any():
            i = int(np.flatnonzero(small.to_numpy())[0])
            raise ValueError(f"column {col!r}, row {i} shows the count {vals.iat[i]:g}; "
                             f"counts 1 to {threshold - 1} must be suppressed")


def _surely_small(lo, hi, threshold: int) -> np.ndarray:
    """An implied count known only to lie in ``[lo, hi]`` (rounding) is revealed as small if all of it is."""
    lo, hi = np.asarray(lo, dtype="float64"), np.asarray(hi, dtype="float64")
    return (lo >= 0.5) & (hi < threshold - 0.5)


def check_derived(df: pd.DataFrame, specs: Sequence[Share | Parts | Together | Sum], *,
                  label_column: str | None = None, threshold: int = THRESHOLD, count_error: float = 0.0) -> None:
    """Raise if a published table lets a reader work out a small count from its declared figures.

    ``count_error``: the published bases are rounded, so each true base lies within ``count_error`` of
    its published value; a figure gives a count away only if it does so for the bases at both ends.

    Checks what is shown (``<5`` / ``[c]`` are hidden): every :class:`Share` against its
    base (the count it implies and leaves out; within a series, the difference between
    any two shown values), every :class:`Parts` row (each part, its complement, and what
    is hidden), every :class:`Sum` (the whole less the shown parts), every :class:`Together`.
    A figure rounded to ``decimals`` only tells the reader that the count lies in an
    interval: it gives a small count away when the whole interval is small.

    Raises
    ------
    ValueError
        Naming the column, the row and the count it gives away.
    """
    if count_error:
        # Sums and pairs do not involve the bases' rounding; each figure is checked against its own row's
        # base at both ends of its interval (a series against its group's), and passes if either end does.
        check_derived(df, [s for s in specs if not isinstance(s, (Share, Parts))], label_column=label_column,
                      threshold=threshold)
        # A count within its base (``count=True``) is rounded as the base is: the two differ by a multiple of the
        # base of rounding, which is never a small count.
        def at_end(g: pd.DataFrame, spec, sign: float) -> ValueError | None:
            v = _numbers(g[spec.base])
            shifted = g.copy()
            shifted[spec.base] = pd.Series(np.maximum(v + sign * count_error, 0), index=g.index).where(
                np.isfinite(v), g[spec.base])
            try:
                check_derived(shifted, [spec], label_column=label_column, threshold=threshold)
            except ValueError as exc:
                return exc
            return None

        for spec in [s for s in specs if isinstance(s, (Share, Parts)) and not getattr(s, "count", False)]:
            groups = [df] if getattr(spec, "series", ()) else [df.iloc[[i]] for i in range(len(df))]
            # Outside a series each row is checked against its own base only: when every row passes at the same end,
            # one check of the whole table says so (the usual case), instead of one per row.
            if len(groups) > 1 and any(at_end(df, spec, sign) is None for sign in (-1.0, 1.0)):
                continue
            for g in groups:
                first = None
                for sign in (-1.0, 1.0):
                    exc = at_end(g, spec, sign)
                    if exc is None:
                        first = None
                        break
                    first = first or exc
                if first is not None:
                    raise first
        return

    def fail(col, i, what, val):
        raise ValueError(f"column {col!r}, row {i}: {what} comes to {val:.2f}, a count of 1 to {threshold - 1} "
                         "that must not be derivable")

    def check(col, i, what, lo, hi):
        if _surely_small(lo, hi, threshold):
            fail(col, i, what, (lo + hi) / 2)

    marker = df.isin([PRIMARY, SECONDARY])
    for spec in specs:
        if isinstance(spec, (Total, Same)):  # margins are protected by suppress(); links are for the audit
            continue
        if isinstance(spec, Together):
            cols = list(spec.columns)
            m = marker[cols]
            bad = (m.any(axis=1) | marker[list(spec.when)].any(axis=1)) & ~m.all(axis=1) & df[cols].notna().all(axis=1)
            if bad.any():
                fail(cols, int(np.flatnonzero(bad.to_numpy())[0]), "a figure published without its partner",
                     float("nan"))
            continue
        if isinstance(spec, Sum):
            index = _cell_index(df, list(df.columns), label_column)
            flat = np.concatenate([_numbers(df[c])[:, None] for c in df.columns], axis=1).ravel()
            whole, parts = index(spec.whole), [index(q) for q in spec.parts]
            per_row = isinstance(whole, list)
            for r in range(len(df) if per_row else 1):
                w = whole[r] if per_row else whole
                ps = [q[r] if per_row else q for q in parts]
                if not np.isfinite(flat[w]) or spec.rest_published:
                    continue
                rest = flat[w] - np.nansum(flat[ps])
                check(df.columns[w % len(df.columns)], w // len(df.columns), "the whole less the parts shown",
                      rest, rest)
            continue
        n = _numbers(df[spec.base])
        rows = _rows(df, getattr(spec, "where", None))
        cols = [spec.column] if isinstance(spec, Share) else list(spec.columns)
        half = 0.0 if spec.decimals is None else 0.5 * 10.0 ** -spec.decimals
        for c in cols:
            v = _numbers(df[c])
            shown_on_hidden = rows & np.isfinite(v) & ~np.isfinite(n) & df[spec.base].notna().to_numpy()
            if shown_on_hidden.any():
                fail(c, int(np.flatnonzero(shown_on_hidden)[0]), "a figure on a suppressed base", float("nan"))
        if isinstance(spec, Parts):
            x = np.column_stack([n * _numbers(df[c]) / spec.scale for c in cols])
            err = n * half / spec.scale
            for i in np.flatnonzero(rows & np.isfinite(n)):
                shown = np.isfinite(x[i])
                for j in np.flatnonzero(shown):
                    check(cols[j], i, "the count implied", x[i, j] - err[i], x[i, j] + err[i])
                    check(cols[j], i, "the count left out", n[i] - x[i, j] - err[i], n[i] - x[i, j] + err[i])
                if shown.all():
                    continue  # nothing hidden: the rest is rounding
                rest, e = n[i] - x[i, shown].sum(), err[i] * shown.sum()
                check(cols, i, "the base less the parts shown", rest - e, rest + e)
            continue
        v = _numbers(df[spec.column])
        lo_imp, lo_whole = _implied(spec, n, v - half)
        hi_imp, hi_whole = _implied(spec, n, v + half)
        imp, whole = _implied(spec, n, v)
        ok = rows & np.isfinite(imp)
        for i in np.flatnonzero(ok):
            a, b = sorted((lo_imp[i], hi_imp[i]))
            check(spec.column, i, "the count implied", a, b)
            left = sorted((lo_whole[i] - lo_imp[i], hi_whole[i] - hi_imp[i]))
            check(spec.column, i, "the count left out", left[0], left[1])
        if spec.series:
            keys = series_keys(df, spec.series)
            err = np.abs(hi_imp - lo_imp) / 2
            for key in pd.unique(keys[ok]):
                idx = np.flatnonzero(ok & (keys == key))
                for a_ in range(len(idx)):
                    for b_ in range(a_ + 1, len(idx)):
                        i, j = idx[a_], idx[b_]
                        d, e = abs(imp[i] - imp[j]), err[i] + err[j]
                        check(spec.column, int(j), f"the difference from row {int(i)}", d - e, d + e)


# ------------------------------------------------------ controlled rounding
#: Base to which every count of the publication's count tables is rounded.
BASE = 5


#: The promise of a count table rounded by :func:`controlled_round` (see :data:`PROTECTION`): each published
#: count is a multiple of ``BASE`` within ``BASE - 1`` of the true count, zero only for a true zero.
ROUNDING = {"method": "controlled rounding", "threshold": THRESHOLD, "rounding_base": BASE,
            "rounding_error": BASE - 1, "markers": PROTECTION["markers"], "min_width": None}


class RoundingInfeasible(LongitudinalError, ValueError):
    """No zero-restricted controlled rounding satisfies every relation declared among the counts."""


@dataclass(frozen=True)
class Relation:
    """A linear relation among counts: ``sum(coef * count) == 0`` (``kind="eq"``) or ``>= 0`` (``"ge"``).

    ``terms``: ``((cell index, coefficient), ...)``.
    """

    terms: tuple
    kind: str = "eq"
    #: What the relation is (a table's name), for messages and logs.
    about: str = ""

    def value(self, x: np.ndarray) -> float:
        return float(sum(c * x[i] for i, c in self.terms))

    def holds(self, x: np.ndarray) -> bool:
        v = self.value(x)
        return abs(v) < 1e-9 if self.kind == "eq" else v > -1e-9


def controlled_round(x, relations: Sequence[Relation] = (), *, base: int = BASE) -> np.ndarray:
    """Zero-restricted controlled rounding of counts to ``base``, keeping every relation exact.

    Each count is published as one of the two multiples of ``base`` next to it (a multiple of
    ``base``, zero included, is kept as it is), chosen so that every relation that holds among the
    exact counts also holds among the published ones, and the total distance to the exact counts is
    as small as possible (a mixed-integer program, solved by HiGHS through :func:`scipy.optimize.milp`).

    Because the published counts satisfy every relation a reader can form from the declared tables,
    they are themselves a solution of the reader's equations: whatever a reader works out, a table of
    multiples of ``base`` fits it as well as the truth, so no count can be shown to be 1 to ``base - 1``.

    Parameters
    ----------
    x : array of non-negative whole numbers
    relations : Relation
        Relations among the counts (indices into ``x``). They must hold for ``x``.
    base : int

    Returns
    -------
    ndarray of int64

    Raises
    ------
    RoundingInfeasible
        If no such rounding exists (or a relation does not hold for ``x``).

    Examples
    --------
    Parts 3, 4, 8 of a total 15: rounded independently, 5 + 5 + 10 = 20, not 15.

    Controlled, they still add up, each within 4 of its exact count:

    >>> controlled_round([3, 4, 8, 15], [Relation(((0, 1), (1, 1), (2, 1), (3, -1)))]).tolist()
    [0, 5, 10, 15]
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    x = np.asarray(x, dtype="float64")
    if x.size == 0:
        return x.astype("int64")
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValueError("controlled_round: counts must be non-negative whole numbers")
    for r in relations:
        if not r.holds(x):
            raise RoundingInfeasible(f"relation {r} does not hold among the exact counts "
                                     f"(left-hand side {r.value(x):g})")
    floor = base * np.floor(x / base)
    rem = x - floor
    free = rem > 0
    # Cost of rounding up rather than down: (base - rem) - rem.
    cost = np.where(free, base - 2 * rem, 0.0)
    # A tiny, deterministic tie-break: the same exact table always gives the same published one.
    cost = cost + np.where(free, 1e-6 * (np.arange(x.size) % 997) / 997, 0.0)
    cons = []
    for kind in ("eq", "ge"):
        rel = [r for r in relations if r.kind == kind]
        if not rel:
            continue
        rows, cols, vals, rhs = [], [], [], []
        for k, r in enumerate(rel):
            for i, c in r.terms:
                rows.append(k)
                cols.append(i)
                vals.append(c * base)
            rhs.append(-sum(c * floor[i] for i, c in r.terms))
        a = coo_matrix((vals, (rows, cols)), shape=(len(rel), x.size)).tocsr()
        rhs = np.asarray(rhs)
        cons.append(LinearConstraint(a, rhs, rhs if kind == "eq" else np.inf))
    res = milp(cost, constraints=cons, integrality=np.ones(x.size), bounds=Bounds(0, free.astype(float)),
               options={"disp": False, "presolve": True})
    if res.status != 0 or res.x is None:
        raise RoundingInfeasible(f"no controlled rounding to base {base} keeps the {len(relations)} relations "
                                 f"among {x.size} counts ({res.message})")
    return (floor + base * np.round(res.x)).astype("int64")
