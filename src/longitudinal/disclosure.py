"""Statistical disclosure control for every table the study publishes.

The rule (stated in each report's methods, see :data:`RULE`):

1. **Primary suppression** — a count of people, episodes or readings from 1 to
   ``threshold - 1`` (1 to 4 by default) is not shown; it is written ``<5``.
   Zero is shown: it names nobody.
2. **Secondary suppression** — wherever published cells add up to a published
   total (along a row to a total column, or down a column to a total row), a
   lone suppressed cell could be recovered by subtraction. So whenever such a
   group holds exactly one suppressed cell, the smallest other non-zero cell of
   the group is suppressed too (written ``[c]``), repeated until no group has
   exactly one suppressed cell.
3. **Derived statistics** — a percentage, mean or rate whose base (numerator or
   denominator) is suppressed is hidden (``[c]``).
4. **No identifiers** — no column of person, episode or provider identifiers
   is ever published (:func:`check_no_identifiers`).

Examples
--------
>>> import pandas as pd
>>> from longitudinal.disclosure import suppress
>>> t = pd.DataFrame({"need": ["a", "b", "c", "All"], "people": [3, 40, 12, 55]})
>>> suppress(t, ["people"], label_column="need", total_row="All")["people"].tolist()
['<5', 40, '[c]', 55]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "THRESHOLD",
    "PRIMARY",
    "SECONDARY",
    "RULE",
    "suppression_mask",
    "suppress",
    "hide",
    "check_no_identifiers",
    "check_published",
]

#: Smallest count that may be published (counts 1..THRESHOLD-1 are suppressed).
THRESHOLD = 5
#: Marker of a primary-suppressed count.
PRIMARY = "<5"
#: Marker of a secondarily suppressed cell or a hidden derived statistic.
SECONDARY = "[c]"

RULE = (
    "**Disclosure control.** No person, episode or provider identifier appears in this report. "
    "Counts from 1 to 4 are suppressed and shown as `<5`. Where suppressed cells could be recovered "
    "from a published total by subtraction (along a row or down a column), the next smallest "
    "non-zero cell is suppressed as well, shown as `[c]`. Percentages, means and rates computed on "
    "a suppressed count are hidden (`[c]`). Figures are drawn from the published tables only, so "
    "they show no suppressed value."
)

#: Column names that hold identifiers and must never be published.
IDENTIFIER_COLUMNS = ("person_id", "episode_id", "provider_id")


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


def suppression_mask(
    df: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    total_column: str | Mapping[str, Sequence[str]] | None = None,
    total_row: object | None = None,
    label_column: str | None = None,
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
        Where to look for ``total_row``; the index when omitted.
    threshold : int, default 5
        Counts ``1 .. threshold-1`` are suppressed.

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
    x = _as_counts(df, cols)
    n_rows, n_cols = x.shape
    primary = np.isfinite(x) & (x >= 1) & (x < threshold)
    suppressed = primary.copy()

    # Groups of cells that add up: each is (component cells, total cell).
    groups: list[tuple[list[tuple[int, int]], tuple[int, int]]] = []
    tr = None
    if total_row is not None:
        labels = df[label_column] if label_column is not None else pd.Series(df.index, index=df.index)
        hits = np.flatnonzero(labels.astype(object).to_numpy() == total_row)
        if len(hits) != 1:
            raise ValueError(f"suppress: total_row {total_row!r} found {len(hits)} times in "
                             f"{label_column or 'the index'}; expected exactly once")
        tr = int(hits[0])
        for j in range(n_cols):
            groups.append(([(i, j) for i in range(n_rows) if i != tr], (tr, j)))
    for t, parts in row_sums.items():
        tc, pcs = cols.index(t), [cols.index(c) for c in parts]
        for i in range(n_rows):
            groups.append(([(i, j) for j in pcs], (i, tc)))

    # Iterate to a fixed point; each pass suppresses at least one more cell or stops.
    changed = True
    while changed:
        changed = False
        for comps, total in groups:
            cells = comps + [total]
            n_supp = sum(suppressed[c] for c in cells)
            if n_supp != 1:
                continue
            # Prefer the smallest non-zero published component; zeros protect nothing.
            cands = [c for c in comps if not suppressed[c] and np.isfinite(x[c]) and x[c] > 0]
            if not cands:
                cands = [c for c in comps if not suppressed[c] and np.isfinite(x[c])]
            if not cands and not suppressed[total] and np.isfinite(x[total]):
                cands = [total]
            if not cands:
                continue
            pick = min(cands, key=lambda c: (x[c], c))
            suppressed[pick] = True
            changed = True
    secondary = suppressed & ~primary
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
    threshold: int = THRESHOLD,
) -> pd.DataFrame:
    """The table as published: small counts suppressed, totals protected, derived values hidden.

    Parameters
    ----------
    df, count_columns, total_column, total_row, label_column, threshold
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
    """
    check_no_identifiers(df)
    primary, secondary = suppression_mask(df, count_columns, total_column=total_column, total_row=total_row,
                                          label_column=label_column, threshold=threshold)
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
        (index, column names or cells).

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
    ids = set(map(str, identifiers))
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
