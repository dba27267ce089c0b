"""Price restatement: GDP deflator tables and HM Treasury's published releases.

Money from different years is restated to one price year with the GDP deflator
at market prices, as the HM Treasury Green Book asks. A :class:`Deflators`
table holds the index by financial year (``2024`` is 2024-25) and names its
source; restating only uses ratios, so the index's base year does not matter.

Two formats are read by :func:`load_deflators`:

* the project's tidy table (``data/deflators.csv``): ``financial_year,label,
  deflator,status`` with ``# source:`` (required), ``# release:`` and
  ``# base:`` comment lines;
* HM Treasury's own release, "GDP deflators at market prices, and money GDP"
  (the ``.xlsx`` or ``.csv`` attachment as downloaded from GOV.UK): its
  financial-year block is found by its ``YYYY-YY = 100`` header, so the
  table can be refreshed each quarter by pointing at the new file, with no
  transcription. :meth:`Deflators.write` saves it in the tidy format.

Examples
--------
>>> from longitudinal.prices import Deflators
>>> import pandas as pd
>>> d = Deflators(pd.DataFrame({"financial_year": [2020, 2024], "deflator": [80.0, 100.0]}),
...               source="example")
>>> d.restate(1000, 2020, 2024)     # £1,000 in 2020-21 prices is £1,250 in 2024-25 prices
1250.0
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import domain
from .errors import InputError
from .io import RESOURCES, atomic_path, csv_bytes, read_text

__all__ = ["LocatedError", "DeflatorError", "Deflators", "load_deflators", "read_hmt_release", "DEFAULT_DEFLATORS"]

DEFAULT_DEFLATORS = RESOURCES / "deflators.csv"

_FY_LABEL = re.compile(r"^\s*(\d{4})\s*[-–/]\s*(\d{2})\b")
_BASE = re.compile(r"^\s*(\d{4})\s*[-–/]\s*(\d{2})\s*=\s*100\s*$")
#: Published per cent changes are rounded to two decimals and the index to three significant places.
_PCT_TOLERANCE = 0.1
_RELEASE_MONTH = re.compile(r"^(January|February|March|April|May|June|July|August|September|October|November|"
                            r"December) \d{4}\b")
_FORECAST_RANGE = re.compile(r"(\d{4})\s*[-–]\s*(\d{2})\s+to\s+(\d{4})\s*[-–]\s*(\d{2})")


#: Bad input said with the row and field it was found in; the package's :class:`InputError`.
LocatedError = InputError


class DeflatorError(LocatedError):
    """A deflator table that cannot be used, or a price year it does not cover."""


@dataclass(frozen=True)
class Deflators:
    """A GDP deflator index by financial year, with its source.

    Parameters
    ----------
    table : DataFrame
        ``financial_year`` (int, 2024 = 2024-25) and ``deflator`` (float); an
        optional ``status`` column says ``outturn`` or ``forecast``.
    source : str
        Where the figures come from (publisher, series, release).
    release : str, optional
        The release the figures were taken from, e.g. ``"March 2026 (Quarterly
        National Accounts)"``.
    base : str, optional
        The index's reference year as published, e.g. ``"2024-25 = 100"``.
    """

    table: pd.DataFrame
    source: str
    release: str = ""
    base: str = ""

    @property
    def title(self) -> str:
        """The source's first sentence: publisher and release, short enough for a summary line."""
        return re.split(r"(?<=\))\.\s|\.\s(?=[A-Z])|;\s", self.source, maxsplit=1)[0].rstrip(".")

    def _index(self) -> pd.Series:
        return self.table.set_index("financial_year")["deflator"]

    def factor(self, from_year: int, to_year: int, *, row: Any = None, field: str = "price_year") -> float:
        """The multiplier that restates money of ``from_year`` prices to ``to_year`` prices."""
        idx = self._index()
        for y in (from_year, to_year):
            if int(y) not in idx.index:
                raise DeflatorError(
                    f"price year {y} is not in the deflator table ({idx.index.min()}–{idx.index.max()}, "
                    f"source: {self.source})", row=row, field=field)
        return float(idx[int(to_year)] / idx[int(from_year)])

    def restate(self, value: float, from_year: int, to_year: int, **kw) -> float:
        """``value`` in ``from_year`` prices, restated to ``to_year`` prices."""
        return float(value) * self.factor(from_year, to_year, **kw)

    def write(self, path: str | Path) -> Path:
        """Save as the tidy table :func:`load_deflators` reads (atomically)."""
        path = Path(path)
        out = self.table.copy()
        out["label"] = out["financial_year"].map(domain.fy_label)
        if "status" not in out:
            out["status"] = ""
        lines = [f"# GDP deflator at market prices, financial years{', index ' + self.base if self.base else ''}.",
                 f"# source: {self.source}"]
        if self.release:
            lines.append(f"# release: {self.release}")
        if self.base:
            lines.append(f"# base: {self.base}")
        body = csv_bytes(out[["financial_year", "label", "deflator", "status"]]).decode("utf-8")
        with atomic_path(path) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
        return path


def load_deflators(path: str | Path | None = None) -> Deflators:
    """Read a deflator table: the tidy CSV (default ``data/deflators.csv``) or an HM Treasury release.

    Parameters
    ----------
    path : str or Path, optional
        A tidy CSV with a ``# source:`` line, or HM Treasury's "GDP deflators at
        market prices, and money GDP" attachment (``.xlsx`` or ``.csv``).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    DeflatorError
        When the file names no source, lacks the columns, or repeats a year.
    """
    path = Path(path) if path is not None else DEFAULT_DEFLATORS
    if not path.exists():
        raise FileNotFoundError(f"deflator table {path} does not exist")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_hmt_release(path)
    text = _read_text(path)
    meta = dict(re.findall(r"^#\s*(source|release|base):\s*(.+?)\s*$", text, flags=re.M | re.I))
    meta = {k.lower(): v for k, v in meta.items()}
    if "source" not in meta:
        if _looks_like_hmt(text):
            return read_hmt_release(path)
        raise DeflatorError(f"deflator table {path} names no source (expected a '# source: ...' line, "
                            "or HM Treasury's release file)")
    table = pd.read_csv(io.StringIO(text), comment="#", dtype=str, keep_default_na=False)
    missing = {"financial_year", "deflator"} - set(table.columns)
    if missing:
        raise DeflatorError(f"deflator table {path} lacks columns {sorted(missing)}")
    years, values = [], []
    for i, (y, v) in enumerate(zip(table["financial_year"], table["deflator"]), start=1):
        year, value = _number(y), _number(v)
        if year is None or year != int(year) or value is None:
            raise DeflatorError(f"deflator table {path}: expected a financial year and a positive number, got "
                                f"{y!r}, {v!r}", row=i, field="deflator" if year is not None else "financial_year")
        if not value > 0:
            raise DeflatorError(f"deflator table {path}: the deflator of {int(year)} must be positive, not {v}",
                                row=i, field="deflator")
        years.append(int(year))
        values.append(value)
    out = pd.DataFrame({"financial_year": years, "deflator": values})
    dup = out["financial_year"][out["financial_year"].duplicated()]
    if len(dup):
        raise DeflatorError(f"deflator table {path} repeats financial year {int(dup.iloc[0])}",
                            field="financial_year")
    if "status" in table:
        out["status"] = table["status"].astype(str)
    return Deflators(out.sort_values("financial_year", ignore_index=True), meta["source"],
                     meta.get("release", ""), meta.get("base", ""))


def _read_text(path: Path) -> str:
    try:
        return read_text(path)
    except UnicodeError as e:  # neither UTF-8 nor Windows-1252: said as a deflator-table problem
        raise DeflatorError(str(e)) from None


# ------------------------------------------------------------ HM Treasury release
def _looks_like_hmt(text: str) -> bool:
    return bool(re.search(r"\d{4}\s*[-–]\s*\d{2}\s*=\s*100", text))


def _rows_of(path: Path) -> list[list[Any]]:
    """Every row of the release as a list of cell values (first sheet that has the financial-year block)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            sheets = [[list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets]
        finally:
            wb.close()
        for rows in sheets:
            if _find_header(rows) is not None:
                return rows
        return sheets[0] if sheets else []
    return [list(r) for r in csv.reader(io.StringIO(_read_text(path)))]


def _find_header(rows: Sequence[Sequence[Any]]) -> tuple[int, int, str] | None:
    """(row, column, base label) of the first ``YYYY-YY = 100`` cell: the financial-year index column."""
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            if isinstance(cell, str) and _BASE.match(cell):
                return i, j, re.sub(r"\s+", " ", cell.strip())
    return None


def _number(cell: Any) -> float | None:
    if isinstance(cell, bool) or cell is None:
        return None
    if isinstance(cell, (int, float)):
        return float(cell)
    s = str(cell).strip().replace(",", "")
    try:
        return float(s)
    except ValueError:
        return None


def _text_lines(rows: Iterable[Sequence[Any]], stop: int) -> list[str]:
    return [" ".join(str(c).strip() for c in r if c not in (None, "")) for r in list(rows)[:stop]]


def read_hmt_release(path: str | Path) -> Deflators:
    """Read HM Treasury's "GDP deflators at market prices, and money GDP" release file.

    The financial-year index is taken as published (no rebasing). Years whose index
    is not printed but whose per cent change on the previous year is are compounded
    from the previous year, and marked so in ``status``. Years are marked
    ``forecast`` when the release's notes give the forecast period
    ("... covering periods 2025-26 to 2030-31 ...") and ``outturn`` before it.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` or ``.csv`` attachment as downloaded from GOV.UK.
    """
    path = Path(path)
    rows = _rows_of(path)
    found = _find_header(rows)
    if found is None:
        raise DeflatorError(f"{path}: no financial-year GDP deflator block found (expected a header cell like "
                            "'2024-25 = 100' above the index column, as in HM Treasury's release)")
    hi, col, base = found
    notes = _text_lines(rows, hi)
    # The year labels are in the nearest column to the left whose cells below look like 2024-25.
    label_col = None
    for c in range(col - 1, -1, -1):
        hits = sum(1 for r in rows[hi + 1:hi + 40] if len(r) > c and r[c] is not None and _FY_LABEL.match(str(r[c])))
        if hits:
            label_col = c
            break
    if label_col is None:
        raise DeflatorError(f"{path}: no financial-year labels (like 2024-25) left of the '{base}' column")
    years: list[int] = []
    values: list[float] = []
    compounded: set[int] = set()
    for k, r in enumerate(rows[hi + 1:], start=hi + 2):
        label = r[label_col] if len(r) > label_col else None
        m = _FY_LABEL.match(str(label)) if label is not None else None
        if m is None:
            continue  # spacer, heading or footnote rows: the block is the rows with a financial-year label
        year = int(m.group(1))
        if (int(m.group(1)) + 1) % 100 != int(m.group(2)):
            raise DeflatorError(f"{path}: {label!r} is not a financial year", row=k, field="financial year")
        level = _number(r[col]) if len(r) > col else None
        pct = _number(r[col + 1]) if len(r) > col + 1 else None
        if level is None and pct is not None and years and years[-1] == year - 1:
            level = values[-1] * (1 + pct / 100)
            compounded.add(year)
        elif level is not None and pct is not None and years and years[-1] == year - 1:
            # The release prints the per cent change beside the index: a mismatch means a misread column.
            implied = 100 * (level / values[-1] - 1)
            if abs(implied - pct) > _PCT_TOLERANCE:
                raise DeflatorError(f"{path}: the index gives {implied:.2f}% growth in {label} but the release "
                                    f"prints {pct}% beside it; is '{base}' the index column?", row=k, field=base)
        if level is None:
            continue
        if not level > 0:
            raise DeflatorError(f"{path}: the deflator of {label} must be positive, not {level}", row=k,
                                field=base)
        if years and year != years[-1] + 1:
            raise DeflatorError(f"{path}: financial years out of order ({domain.fy_label(years[-1])} then "
                                f"{label})", row=k, field="financial year")
        years.append(year)
        values.append(level)
    if not years:
        raise DeflatorError(f"{path}: the '{base}' block has no figures")
    forecast_from = forecast_to = None
    for line in notes:
        if "forecast" in line.lower():
            fm = _FORECAST_RANGE.search(line)
            if fm:
                forecast_from, forecast_to = int(fm.group(1)), int(fm.group(3))
                break
    if forecast_to is not None and years[-1] < forecast_to:
        raise DeflatorError(f"{path}: the release's notes give forecasts to {domain.fy_label(forecast_to)} but the "
                            f"'{base}' block ends at {domain.fy_label(years[-1])}; the file looks incomplete or "
                            "laid out differently")
    status = [("forecast" if forecast_from is not None and y >= forecast_from else
               "outturn" if forecast_from is not None else "") + (" (compounded from per cent change)"
                                                                  if y in compounded else "") for y in years]
    title = next((ln for ln in notes if "deflator" in ln.lower()), "GDP deflators at market prices, and money GDP")
    # The release's own words on what it is (its month) and where outturn and forecasts come from.
    detail = [ln for ln in notes if ln != title and (_RELEASE_MONTH.search(ln) or
                                                     re.search(r"outturn|forecast", ln, flags=re.I))]
    source = f"HM Treasury, {title.strip()} (file {path.name})" + ("".join(f"; {ln}" for ln in detail))
    table = pd.DataFrame({"financial_year": years, "deflator": values, "status": status})
    return Deflators(table, source, release=path.stem, base=base)
