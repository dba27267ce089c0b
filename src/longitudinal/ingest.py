"""Validated ingest: a study's supplied files → the project's store.

:func:`ingest` reads the four tables of the data contract from a folder
(CSV, Excel ``.xlsx`` or Parquet; several files per table allowed), checks
every row, pseudonymises identifiers and writes the accepted rows to a store
that :func:`longitudinal.load` reads:

``DIR/<table>.parquet``
    The accepted rows (the four tables).
``DIR/study.duckdb``
    The same four tables in an embedded DuckDB database (no server needed).
``DIR/rejects/<table>.csv``
    One line per rejected row: ``source_file, row_number, column, value,
    reason``. ``row_number`` counts as a spreadsheet does (header = row 1,
    first data row = row 2). When a row has several problems they are joined
    with ``"; "`` in ``column``, ``value`` and ``reason``, in the same order.
    Raw person and episode identifiers are never written here.
``DIR/ingest_report.json``
    Counts read / accepted / rejected per table, source files with their
    SHA-256, times, the pseudonymisation flag and the key's fingerprint (never
    the key). Written last and atomically: a folder without it is not a store.

For every table ``accepted + rejected == read`` (wholly blank lines are not
rows; they are counted separately as ``blank_rows_skipped``).

How values are read
-------------------
* Text: UTF-8 with or without a byte-order mark, or Windows-1252 when the file
  is not valid UTF-8; a file that is neither is refused (no silent mojibake).
* Codes are matched ignoring case, accents, spaces and punctuation; local
  authorities by English or Welsh name or ONS code, outcomes by code or display
  name, lead needs by code or name (the default list or the study's own).
* Dates: ISO ``2024-05-31`` (a midnight time is allowed), ``31/05/2024``
  (day first, as in the UK; also ``-`` or ``.``), or an Excel serial number.
  Impossible dates (31/02/2024), two-digit years, future dates and dates before
  Supporting People began (April 2003) are rejected.
* Scores: whole numbers 1–5; blank means "no need in this area" and is valid.

Checks are those of the pandera schemas in :func:`longitudinal.contract.schemas`
plus, across tables: duplicates (an exact copy of an earlier row is rejected and
the first copy kept; rows sharing a key but differing elsewhere are all
rejected, since which is right cannot be decided), references (readings →
episodes → people; a reading's person must be its episode's; a row whose
parent was rejected is rejected saying so) and reading dates (on or after the
episode's start; on or before its end except follow-ups, which must come after
the end of an ended episode).

Validation works on the distinct values of each column (a national study has
11 million readings but only a few thousand distinct dates), so it scales.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import domain
from .contract import (
    ALL_TABLE_NAMES,
    DATAFRAME_CHECK_COLUMN,
    OPTIONAL_TABLE_NAMES,
    REASONS,
    TABLE_NAMES,
    TABLES,
    apply_dtypes,
    category_dtypes,
    linkage_window_bounds,
    schemas,
)
from .errors import InputError, LongitudinalError
from .io import (
    arrow_table,
    atomic_dir,
    clean_leftovers,
    detect_encoding,
    restore_text,
    sha256_file,
    write_csv,
    write_parquet,
)
from .pseudonymise import DIGEST_HEX_CHARS, is_pseudonym, key_fingerprint, pseudonymise_together, resolve_key
from .study import STORE_MARKER, TRUTH_FILE, store_order

__all__ = [
    "ingest",
    "IngestReport",
    "TableCounts",
    "SourceFile",
    "IngestInputError",
    "RowsRejectedError",
    "read_lead_needs",
    "parse_dates",
    "REJECT_COLUMNS",
    "DUCKDB_FILE",
]

REJECT_COLUMNS = ["source_file", "row_number", "column", "value", "reason"]
DUCKDB_FILE = "study.duckdb"
FORMATS = (".csv", ".xlsx", ".parquet")
#: Identifier columns that could name a person: pseudonymised, and never shown in rejects.
PERSONAL_IDS = ("person_id", "episode_id")
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's leap-year bug folded in)


class IngestInputError(InputError):
    """Input that cannot be read at all (missing table, unreadable file, missing columns)."""


class RowsRejectedError(LongitudinalError, ValueError):
    """Rows were rejected and ``allow_rejects=False``: nothing was published as a store."""

    def __init__(self, report: IngestReport, emptied: list[str] | None = None):
        self.report = report
        n = sum(c.rejected for c in report.tables.values())
        every = f" (every row of {', '.join(emptied)})" if emptied else ""
        super().__init__(
            f"{n:,} row(s) rejected{every}; see {report.rejects_dir}. The store was not replaced "
            "(the one in place, if any, is unchanged): fix the rows and ingest again, or accept the rejects "
            "with allow_rejects=True (--allow-rejects)"
        )


# ============================================================== report
@dataclass
class SourceFile:
    """One supplied file."""

    table: str
    path: str
    sha256: str
    format: str
    encoding: str | None
    rows: int
    blank_rows_skipped: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    #: How its nn/nn/yyyy dates were read, inferred from the whole file (None: it has none).
    date_order: str | None = None


@dataclass
class TableCounts:
    read: int
    accepted: int
    rejected: int


@dataclass
class IngestReport:
    """What an ingest read, accepted and rejected.

    Attributes
    ----------
    dest : Path
        The store folder.
    tables : dict of str to TableCounts
        Rows read / accepted / rejected per table (``accepted + rejected == read``).
    sources : list of SourceFile
        Every file read, with its SHA-256.
    reasons : dict of str to dict of str to int
        Per table, the number of rejected rows per kind of problem.
    pseudonymised : bool
        True when ingest pseudonymised the ids; False when they were declared
        already pseudonymised.
    key_fingerprint : str or None
        Fingerprint of the key used (not the key).
    published : bool
        Whether the store was written (False after rejects with ``allow_rejects=False``).
    """

    dest: Path
    tables: dict[str, TableCounts]
    sources: list[SourceFile]
    reasons: dict[str, dict[str, int]]
    pseudonymised: bool
    key_fingerprint: str | None
    lead_needs: list[str]
    started: str
    finished: str
    seconds: float
    published: bool = True
    version: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    #: For a study with ``service_use``: its service list and linkage window (first, last day).
    service_use: dict[str, Any] | None = None
    #: SHA-256 of each table file of the store; ``load`` refuses the store when a file differs.
    store_files: dict[str, str] = field(default_factory=dict)
    #: Where the rejected rows were written (``<store>/rejects``, or ``<store>.refused/rejects``).
    rejects_dir: Path | None = None

    @property
    def rejected(self) -> int:
        """Rows rejected over all tables."""
        return sum(c.rejected for c in self.tables.values())

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return self.rejected == 0

    def summary(self) -> pd.DataFrame:
        """Counts per table as a DataFrame (index: table)."""
        return pd.DataFrame({t: asdict(c) for t, c in self.tables.items()}).T.rename_axis("table")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dest"] = str(self.dest)
        d["rejects_dir"] = str(self.rejects_dir) if self.rejects_dir else None
        d["rejected_total"] = self.rejected
        return d

    def __repr__(self) -> str:
        parts = ", ".join(f"{t} {c.accepted:,}/{c.read:,}" for t, c in self.tables.items())
        return f"<IngestReport accepted/read: {parts}; rejected={self.rejected:,}>"


# ============================================================== reading
@dataclass
class _Raw:
    """A table as read: every column a Categorical of stripped strings (None = blank)."""

    frame: pd.DataFrame
    source: np.ndarray  # index into files, per row
    row_number: np.ndarray  # spreadsheet row number, per row
    files: list[SourceFile]
    month_first: np.ndarray | None = None  # per row: its file writes dates mm/dd/yyyy


def _norm_header(name: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).replace("\ufeff", "").strip().lower()).strip("_")


def _utf16(path: Path) -> bool:
    """UTF-16 text (with a byte-order mark, or ASCII with every other byte zero)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    odd, even = head[1::2], head[0::2]
    return len(head) >= 8 and (odd.count(0) > 0.9 * len(odd) or even.count(0) > 0.9 * len(even))


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    if _utf16(path):
        raise IngestInputError(f"{path.name}: the file is UTF-16 text (as Excel's 'Unicode Text' saves it); "
                               "save it as 'CSV UTF-8 (comma delimited)' and supply it again")
    try:
        return _read_csv_as(path, "utf-8")
    except _NotUtf8:
        # Not UTF-8: Windows-1252 if every byte decodes so, else refuse (no silent mojibake)
        try:
            return _read_csv_as(path, detect_encoding(path))
        except UnicodeError as exc:
            raise IngestInputError(str(exc)) from None


class _NotUtf8(Exception):
    pass


def _decodes_as_utf8(path: Path, chunk: int = 1 << 24) -> bool:
    """Whether the whole file decodes as UTF-8 (read in chunks: a delivery can be larger than memory allows)."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                dec.decode(block)
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_csv_as(path: Path, encoding: str) -> tuple[pd.DataFrame, str]:
    with open(path, "rb") as f:
        first = f.readline()
    if first.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    try:
        line = first.decode(encoding)
    except UnicodeDecodeError:
        raise _NotUtf8() from None
    header = next(csv.reader([line.lstrip("\ufeff")]), [])
    if not header or all(not h.strip() for h in header):
        raise IngestInputError(f"{path.name}: the first line should be the header (column names) but is blank")
    columns = _header_names(header, path)  # before reading the body: a bad header explains all
    names = [f"c{i}" for i in range(len(header))]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding="utf8" if encoding.startswith("utf-8") else encoding,
                column_names=names, skip_rows=1, block_size=1 << 24),
            # blank lines kept (as all-null rows) so that row numbers match the spreadsheet
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            # plain strings, dictionary-encoded per column below: faster than per-block dictionaries
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        # Arrow gives invalid UTF-8 no exception type of its own: the bytes tell, not its message.
        if encoding.startswith("utf-8") and not _decodes_as_utf8(path):
            raise _NotUtf8() from None
        # pyarrow quotes the offending row, which may hold a person's id: keep only the diagnosis
        msg = str(exc).split(":")[:2]
        raise IngestInputError(f"{path.name}: cannot be read as CSV ({': '.join(msg).strip()}); check that "
                               "every row has the same number of fields as the header") from None
    cols = {}
    for name, h in zip(names, columns):
        cols[h] = _categorical(table.column(name))
        table = table.drop_columns([name])  # free each column's strings once encoded
    df = pd.DataFrame(cols, copy=False)
    return df, encoding


def _header_names(header: list, path: Path) -> list[str]:
    """Normalised column names; blank ones (trailing commas) get a placeholder, repeats are an error."""
    names = [_norm_header(h) if h is not None and str(h).strip() else f"(unnamed column {i + 1})"
             for i, h in enumerate(header)]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise IngestInputError(f"{path.name}: column(s) {', '.join(dup)} appear more than once in the header")
    return names


def _categorical(col: pa.ChunkedArray) -> pd.Categorical:
    """A pandas Categorical of an Arrow column's values as text (null → missing)."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    enc = col.combine_chunks().dictionary_encode()
    values = enc.dictionary if pa.types.is_string(enc.dictionary.type) else enc.dictionary.cast(pa.string())
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return pd.Categorical.from_codes(codes, pd.Index(values.to_pylist(), dtype=object), validate=False)


def _cell_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _read_xlsx(path: Path, table: str) -> pd.DataFrame:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad workbook
        raise IngestInputError(
            f"{path.name}: cannot be opened as an Excel .xlsx workbook ({type(exc).__name__})") from None
    try:
        ws = wb[table] if table in wb.sheetnames else wb.worksheets[0]
        rows = [[_cell_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    if not rows:
        raise IngestInputError(f"{path.name}: the worksheet is empty; expected a header row and data")
    header = rows[0]
    while header and header[-1] is None:
        header = header[:-1]
    width = len(header)
    body = [(r + [None] * width)[:width] for r in rows[1:]]
    while body and all(v is None for v in body[-1]):  # Excel's trailing formatted-but-empty rows
        body.pop()
    df = pd.DataFrame(body, columns=_header_names(list(header), path), dtype=object)
    return df.astype("category") if len(df) else df.astype(object)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise IngestInputError(f"{path.name}: cannot be read as Parquet "
                               f"({type(exc).__name__}{': ' + detail if detail else ''}); "
                               "the file is damaged or incomplete: export it again") from None
    names = _header_names(table.column_names, path)
    return pd.DataFrame({n: _categorical(table.column(c)) for n, c in zip(names, table.column_names)})


def _clean_categories(s: pd.Series) -> pd.Categorical:
    """Strip whitespace in the distinct values; blank → missing."""
    cat = s.astype("category") if not isinstance(s.dtype, pd.CategoricalDtype) else s
    cats = pd.Index(cat.cat.categories.astype(str))
    # a spreadsheet's protective quote before a formula character ('=…) is not part of the value
    stripped = pd.Index([restore_text(c) for c in cats.str.strip()], dtype=object)
    if (stripped == cats).all() and not (stripped == "").any():
        return pd.Categorical.from_codes(cat.cat.codes.to_numpy(), cats)
    uniq = pd.Index(pd.unique(stripped[stripped != ""]))
    new_codes = uniq.get_indexer(stripped)  # "" → -1
    codes = cat.cat.codes.to_numpy()
    out = np.where(codes >= 0, new_codes[np.maximum(codes, 0)], -1).astype(np.int32)
    return pd.Categorical.from_codes(out, uniq)


def _find_sources(src: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))
    for table in ALL_TABLE_NAMES:
        mine = [p for p in files if p.suffix.lower() in FORMATS
                and (p.stem.lower() == table or p.stem.lower().startswith(table + "_"))]
        if not mine and table in OPTIONAL_TABLE_NAMES:
            continue
        if not mine:
            old = [p.name for p in files if p.stem.lower() == table]
            hint = f" (found {', '.join(old)}: save it as .xlsx or .csv)" if old else ""
            raise IngestInputError(
                f"{src}: no {table} table{hint}; expected {table}.csv, {table}.xlsx or {table}.parquet "
                f"(or several files named {table}_*.csv etc.)")
        found[table] = mine
    return found


def _read_table(table: str, paths: list[Path], src: Path) -> _Raw:
    spec = TABLES[table]
    frames, sources, rownums, files, flags = [], [], [], [], []
    for i, path in enumerate(paths):
        suffix = path.suffix.lower()
        encoding = None
        if suffix == ".csv":
            df, encoding = _read_csv(path)
        elif suffix == ".xlsx":
            df = _read_xlsx(path, table)
        else:
            df = _read_parquet(path)
        if df.columns.duplicated().any():
            dup = sorted(set(df.columns[df.columns.duplicated()]))
            raise IngestInputError(f"{path.name}: column(s) {', '.join(dup)} appear more than once in the header")
        missing = [c for c in spec.column_names if c not in df.columns]
        if missing:
            raise IngestInputError(
                f"{path.name}: missing column(s) {', '.join(missing)}; a {table} table needs "
                f"{', '.join(spec.column_names)} (found {', '.join(map(str, df.columns))})")
        ignored = [c for c in df.columns if c not in spec.column_names]
        df = df[spec.column_names]
        df = pd.DataFrame({c: _clean_categories(df[c]) for c in df.columns})
        n_all = len(df)
        # Spreadsheet row numbers: header is row 1. Parquet has no header row but is numbered alike.
        numbers = np.arange(2, n_all + 2, dtype=np.int64)
        blank = np.ones(n_all, dtype=bool)
        for c in df.columns:
            blank &= df[c].cat.codes.to_numpy() < 0
        if blank.any():
            df = df.loc[~blank].reset_index(drop=True)
            numbers = numbers[~blank]
        rel = path.relative_to(src).as_posix()
        order, month_first = _date_order(df, spec, numbers, path)
        files.append(SourceFile(table, rel, sha256_file(path), suffix.lstrip("."), encoding, len(df),
                                int(blank.sum()), ignored, order))
        flags.append(np.full(len(df), month_first))
        frames.append(df)
        sources.append(np.full(len(df), i, dtype=np.int32))
        rownums.append(numbers)
    if len(frames) == 1:
        frame = frames[0]
    else:
        from pandas.api.types import union_categoricals
        frame = pd.DataFrame({c: union_categoricals([f[c].array for f in frames]) for c in spec.column_names})
    if len(frame) == 0:
        # consistent for every table: a study without people, episodes, readings or spend cannot be reported
        names = ", ".join(f.path for f in files)
        if table in OPTIONAL_TABLE_NAMES:
            # An optional table delivered empty is more likely a failed extract than "no use linked".
            raise IngestInputError(f"{names}: the optional {table} table has a header but no data rows; supply "
                                   "its rows, or leave the file out if nothing was linked")
        raise IngestInputError(f"{names}: the {table} table has a header but no data rows; supply its rows "
                               f"(a study needs at least one row in each of {', '.join(TABLE_NAMES)})")
    return _Raw(frame, np.concatenate(sources), np.concatenate(rownums), files, np.concatenate(flags))


def _date_order(df: pd.DataFrame, spec, numbers: np.ndarray, path: Path) -> tuple[str | None, bool]:
    """How a file writes nn/nn/yyyy dates, from all its dates together: ``(description, month_first)``.

    Day-first unless some date can only be month-first (05/13/2024) and none can only be day-first;
    a file with dates that can only be one and dates that can only be the other is refused.
    """
    only = {"day": [], "month": []}
    ambiguous = False
    for col in (c.name for c in spec.columns if c.kind == "date"):
        cat = df[col].array
        for k, text in enumerate(cat.categories):
            m = _DMY.match(str(text))
            if not m:
                continue
            a, b = int(m.group(1)), int(m.group(2))
            if a > 12 and 1 <= b <= 12:
                only["day"].append((col, k, text))
            elif b > 12 and 1 <= a <= 12:
                only["month"].append((col, k, text))
            elif a <= 12 and b <= 12:
                ambiguous = True

    def example(found):
        col, k, text = found[0]
        row = numbers[np.flatnonzero(df[col].array.codes == k)[0]]
        return f"{text} (row {row}, {col})"

    if only["day"] and only["month"]:
        raise IngestInputError(
            f"{path.name}: dates are written in both orders: {len(only['day'])} can only be day/month/year, "
            f"e.g. {example(only['day'])}, and {len(only['month'])} can only be month/day/year, e.g. "
            f"{example(only['month'])}; so no date such as 03/04/2024 can be read safely. Write every date in "
            "one order (best: yyyy-mm-dd) and supply the file again")
    if only["month"]:
        return (f"month-first (mm/dd/yyyy): {len(only['month'])} distinct date(s) can only be read so, e.g. "
                f"{example(only['month'])}, and none only day-first"), True
    if only["day"]:
        return "day-first (dd/mm/yyyy)", False
    if ambiguous:
        return ("day-first (dd/mm/yyyy), assumed: every date has day and month 12 or less, so the file itself "
                "cannot tell; check a few dates"), False
    return None, False


# ============================================================== parsing values
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$")
_SERIAL = re.compile(r"^\d{1,6}(?:\.\d+)?$")
_MONTHS = "January February March April May June July August September October November December".split()


#: Years a real support record can carry; outside them a date is a placeholder (9999-12-31, 0001-01-01).
_PLAUSIBLE_YEARS = (1900, 2200)
_PLACEHOLDER = "a placeholder, not a date (leave end_date blank while support is open)"


def _parse_date(text: str, month_first: bool = False) -> tuple[date | None, str | None]:
    m = _ISO.match(text)
    if m:
        y, mo, d = map(int, m.groups())
    else:
        m = _DMY.match(text)
        if m:
            d, mo, y = m.groups()
            if month_first:
                d, mo = mo, d
            if len(y) == 2:
                return None, f"date {text!r} has a two-digit year — expected dd/mm/yyyy with a four-digit year"
            d, mo, y = int(d), int(mo), int(y)
        elif _SERIAL.match(text):
            serial = float(text)
            if serial < 1:
                return None, f"date {text!r} is not a valid Excel serial date number"
            if serial > (date(_PLAUSIBLE_YEARS[1], 1, 1) - _EXCEL_EPOCH).days:
                return None, (f"date {text!r} is an Excel serial number beyond the year {_PLAUSIBLE_YEARS[1]}: "
                              f"{_PLACEHOLDER}")
            return _EXCEL_EPOCH + pd.Timedelta(days=int(serial)).to_pytimedelta(), None
        else:
            return None, (f"{text!r} is not a date — expected yyyy-mm-dd (2024-05-31), dd/mm/yyyy (31/05/2024) "
                          "or an Excel date")
    if not _PLAUSIBLE_YEARS[0] <= y <= _PLAUSIBLE_YEARS[1]:
        return None, f"date {text!r} (year {y}) is {_PLACEHOLDER}"
    if not 1 <= mo <= 12:
        order = "mm/dd/yyyy (as its file is read)" if month_first else "dd/mm/yyyy or yyyy-mm-dd"
        return None, f"date {text!r} has month {mo}, which does not exist — dates are read as {order}"
    try:
        return date(y, mo, d), None
    except ValueError:
        return None, f"date {text!r} does not exist ({_MONTHS[mo - 1]} {y} has no day {d})"


def parse_dates(values, month_first: bool = False) -> tuple[pd.Series, pd.Series]:
    """Parse date texts as ingest does: ISO, dd/mm/yyyy or Excel serial numbers.

    Parameters
    ----------
    values : sequence of str or None
    month_first : bool, default False
        Read nn/nn/yyyy as mm/dd/yyyy (ingest decides this per file, from all its dates).

    Returns
    -------
    dates : Series of datetime64 (NaT where blank or not a date)
    reasons : Series of str (None where the value parsed or was blank)

    Examples
    --------
    >>> from longitudinal.ingest import parse_dates
    >>> d, why = parse_dates(["2024-05-31", "31/05/2024", "45443", "31/02/2024", None])
    >>> d.dt.strftime("%Y-%m-%d").tolist()[:3]
    ['2024-05-31', '2024-05-31', '2024-05-31']
    >>> why[3]
    "date '31/02/2024' does not exist (February 2024 has no day 31)"
    """
    out, why = [], []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
            why.append(None)
            continue
        d, reason = _parse_date(str(v).strip(), month_first)
        out.append(d)
        why.append(reason)
    return pd.Series(pd.to_datetime(pd.Series(out, dtype=object)), dtype="datetime64[ns]"), pd.Series(why, dtype=object)


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _parse_int(text: str, what: str) -> tuple[float | None, str | None]:
    t = text.replace(",", "")
    if not _NUMBER.match(t):
        return None, f"{what} {text!r} is not a whole number"
    v = float(t)
    if not v.is_integer():
        return None, f"{what} {text!r} is not a whole number"
    return v, None


def _parse_score(text: str) -> tuple[float | None, str | None]:
    if not _NUMBER.match(text):
        return None, f"score {text!r} is not a number — expected {REASONS['score'].split('outside ')[1]}"
    v = float(text)
    if not v.is_integer():
        return None, (f"score {text} is not a whole stage of the Journey of Change scale 1–5 "
                      "(blank means no need in this area)")
    return v, None


def _parse_money(text: str) -> tuple[float | None, str | None]:
    t = text.replace("£", "").replace(",", "").replace(" ", "")
    if not _NUMBER.match(t):
        return None, f"spend {text!r} is not an amount in pounds — expected a number such as 12500.50"
    return float(t), None


def _parse_fy(text: str) -> tuple[float | None, str | None]:
    m = re.match(r"^(\d{4})(?:\s*[-/]\s*(\d{2}|\d{4}))?$", text)
    if not m:
        return None, f"financial year {text!r} is not a year — expected 2025 or 2025-26 (April 2025 to March 2026)"
    y = int(m.group(1))
    if m.group(2) and int(m.group(2)) % 100 != (y + 1) % 100:
        return None, f"financial year {text!r} does not span two consecutive years — expected e.g. 2025-26"
    return float(y), None


def _folded_aliases(codes: tuple[str, ...], names: dict[str, str] | None = None,
                    extra: dict[str, str] | None = None) -> dict[str, str]:
    fold = domain.fold_label
    out = {fold(c): c for c in codes}
    out.update({fold(n): c for c, n in (names or {}).items()})
    out.update({fold(a): c for a, c in (extra or {}).items()})
    return out


def _alias_maps(lead_needs: dict[str, str], services: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    services = services or dict(domain.SERVICES)
    return {
        "service": _folded_aliases(tuple(services), services, extra={"a_e": "ae_attendance",
                                                                      "a_and_e": "ae_attendance"}),
        "sex": _folded_aliases(domain.SEXES, extra={"f": "female", "m": "male"}),
        "local_authority": domain.local_authority_aliases(),
        "lead_need": _folded_aliases(tuple(lead_needs), lead_needs),
        "service_type": _folded_aliases(domain.SERVICE_TYPES, extra={"short": "short_term", "long": "long_term"}),
        "end_reason": _folded_aliases(domain.END_REASONS),
        "reading_type": _folded_aliases(domain.READING_TYPES, extra={"followup": "follow_up"}),
        "outcome": domain.outcome_aliases(),
    }


def _parse_column(table: str, col, cat: pd.Categorical, aliases) -> tuple[pd.Series, np.ndarray]:
    """Canonical values of one raw column and the per-category parse failure (None when fine).

    Works on the distinct values only, then spreads them over the rows by the codes.
    """
    cats = list(cat.categories)
    codes = cat.codes
    kind = col.kind
    reasons = np.array([None] * len(cats), dtype=object)
    if kind == "id":
        return pd.Series(pd.Categorical.from_codes(codes, cats)), reasons
    if kind == "category":
        amap = aliases[col.name]
        fold = domain.fold_label
        canon = [amap.get(fold(c), c) for c in cats]  # unmatched kept as given: the schema reports them
        uniq = pd.Index(pd.unique(pd.Series(canon, dtype=object))) if canon else pd.Index([], dtype=object)
        new = uniq.get_indexer(canon) if canon else np.array([], dtype=np.int64)
        out_codes = np.where(codes >= 0, new[np.maximum(codes, 0)] if len(new) else -1, -1)
        return pd.Series(pd.Categorical.from_codes(out_codes.astype(np.int32), uniq)), reasons
    if kind == "date":
        values, why = parse_dates(cats)
        reasons[:] = why.to_numpy()
        arr = values.to_numpy()
        taken = np.where(codes >= 0, arr[np.maximum(codes, 0)] if len(arr) else np.datetime64("NaT"),
                         np.datetime64("NaT"))
        return pd.Series(taken.astype("datetime64[ns]")), reasons
    parser: Callable[[str], tuple[float | None, str | None]]
    if kind == "score":
        parser = _parse_score
    elif kind == "money":
        parser = _parse_money
    elif col.name == "financial_year":
        parser = _parse_fy
    else:
        parser = lambda t: _parse_int(t, col.name.replace("_", " "))  # noqa: E731
    nums = np.full(len(cats), np.nan)
    for i, c in enumerate(cats):
        v, r = parser(c)
        if r is None:
            nums[i] = v
        reasons[i] = r
    taken = np.where(codes >= 0, nums[np.maximum(codes, 0)] if len(nums) else np.nan, np.nan)
    return pd.Series(taken), reasons


# ============================================================== problems
class _Problems:
    """Problems found in one table: (row, column, value, reason), in the order found."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, rows, column: str, value, reason) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return
        # "; " separates the problems of one row in rejects: a reason must not contain it
        assert not any("; " in r for r in ([reason] if isinstance(reason, str) else reason)), reason
        n = len(rows)
        self.parts.append(pd.DataFrame({
            "row": rows,
            "order": len(self.parts),
            "column": column,
            "value": value if not np.isscalar(value) and value is not None else [value] * n,
            "reason": reason if not isinstance(reason, str) else [reason] * n,
        }))

    def rows(self) -> np.ndarray:
        if not self.parts:
            return np.array([], dtype=np.int64)
        return np.unique(np.concatenate([p["row"].to_numpy() for p in self.parts]))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["row", "order", "column", "value", "reason"])
        return pd.concat(self.parts, ignore_index=True)


def _raw_text(raw: _Raw, column: str, rows: np.ndarray, mask_ids: bool) -> np.ndarray:
    vals = np.asarray(raw.frame[column].array)[rows]
    text = np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in vals],
                    dtype=object)
    if mask_ids and column in PERSONAL_IDS:
        # rejects are stored: never copy an identifier that could name a person into them
        text[text != ""] = f"<{column} withheld: see row>"
    return text


def _where(raw: _Raw, row: int, table: str) -> str:
    return f"{raw.files[raw.source[row]].path} row {raw.row_number[row]}"


# ============================================================== one table
def _check_table(table: str, raw: _Raw, aliases, lead_needs: tuple[str, ...], today: pd.Timestamp,
                 mask_ids: bool, linkage: dict[str, Any] | None = None) -> tuple[pd.DataFrame, _Problems]:
    """Parse and validate one table on its own; returns the canonical frame and its problems."""
    import pandera.pandas as pa_

    spec = TABLES[table]
    probs = _Problems()
    canon: dict[str, pd.Series] = {}
    parse_failed: dict[str, np.ndarray] = {}
    for col in spec.columns:
        cat = raw.frame[col.name].array
        series, reasons = _parse_column(table, col, cat, aliases)
        if col.kind == "date" and raw.month_first is not None and raw.month_first.any():
            series, row_reasons = _month_first_rows(cat, series, reasons, raw.month_first)
            rows = np.flatnonzero(pd.notna(row_reasons))
            row_reasons = row_reasons[rows]
        else:
            bad_cats = np.flatnonzero(pd.notna(reasons))
            rows = np.flatnonzero(np.isin(cat.codes, bad_cats)) if len(bad_cats) else bad_cats
            row_reasons = reasons[cat.codes[rows]]
        canon[col.name] = series
        if len(rows):
            if col.name != "end_date":  # the hint is about open episodes
                row_reasons = np.array([r.replace(" (leave end_date blank while support is open)", "")
                                        for r in row_reasons], dtype=object)
            probs.add(rows, col.name, _raw_text(raw, col.name, rows, mask_ids), row_reasons)
            parse_failed[col.name] = rows
    df = pd.DataFrame(canon)
    if table == "service_use":
        df["count"] = df["count"].fillna(1.0)  # the contract: a blank count is one event (unparseable stays blank)
        if "count" in parse_failed:
            df.loc[parse_failed["count"], "count"] = np.nan
    for c in ("birth_year", "financial_year", "count"):
        if c in df:
            df[c] = df[c].astype("Int64")
    if "score" in df:
        df["score"] = df["score"].astype("Float64")
    linkage = linkage or {}
    schema = schemas(lead_needs, today, services=linkage.get("services"), linkage_window=linkage.get("window"))[table]
    try:
        with warnings.catch_warnings():
            # pandera's own concat of failure cases warns under pandas 2.x; not ours to act on
            warnings.simplefilter("ignore", FutureWarning)
            schema.validate(df, lazy=True)
    except pa_.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        allowed_needs = ", ".join(lead_needs)
        for (column, check), grp in fc.groupby(["column", "check"], sort=False, dropna=False):
            if check in DATAFRAME_CHECK_COLUMN:
                if column != DATAFRAME_CHECK_COLUMN[check]:
                    continue
            rows = np.unique(grp["index"].astype(np.int64).to_numpy())
            if check == "not_nullable" and column in parse_failed:
                rows = np.setdiff1d(rows, parse_failed[column])  # already reported as unparseable
            if check == "end_reason_without_end" and "end_date" in parse_failed:
                rows = np.setdiff1d(rows, parse_failed["end_date"])  # the end date is there, but unreadable
            if len(rows) == 0:
                continue
            shown = _raw_text(raw, column, rows, mask_ids)
            template = REASONS.get(check, "{column}: failed check " + str(check))
            if check == "end_before_start":
                reasons = [f"end date {e:%Y-%m-%d} is before the start date {s:%Y-%m-%d} — expected an end on or "
                           "after the start" for s, e in zip(df["start_date"].iloc[rows], df["end_date"].iloc[rows])]
            elif check in ("date_future", "date_early", "end_without_reason"):
                reasons = [template.format(value=f"{v:%Y-%m-%d}", today=f"{today:%Y-%m-%d}")
                           for v in df[column].iloc[rows]]
            elif check == "date_window":
                w = linkage_window_bounds(linkage.get("window"), today)
                reasons = [template.format(value=f"{v:%Y-%m-%d}", window=f"{w[0]:%Y-%m-%d} to {w[1]:%Y-%m-%d}")
                           for v in df[column].iloc[rows]]
            elif check == "service":
                allowed_services = ", ".join(linkage.get("services") or domain.SERVICE_CODES)
                reasons = [template.format(value=str(v), allowed=allowed_services)
                           for v in df[column].iloc[rows].astype(object)]
            elif check in ("score", "birth_year", "financial_year", "count"):
                reasons = [template.format(value=f"{float(v):g}") for v in df[column].iloc[rows]]
            elif check == "spend_negative":
                reasons = [template.format(value=f"{float(v):,.2f}") for v in df[column].iloc[rows]]
            elif check == "not_nullable":
                what = next(c.description for c in spec.columns if c.name == column)
                reasons = f"{column} is blank — a value is required ({what})"
            else:
                vals = df[column].iloc[rows].astype(object).to_numpy()
                if mask_ids and column in PERSONAL_IDS:
                    vals = shown
                reasons = [template.format(value=str(v), column=column, allowed=allowed_needs) for v in vals]
            probs.add(rows, column, shown, reasons)
    return df, probs


def _month_first_rows(cat: pd.Categorical, series: pd.Series, reasons: np.ndarray,
                      month_first: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Dates of the rows whose file writes mm/dd/yyyy, re-read so; returns the values and per-row reasons."""
    codes = cat.codes
    row_reasons = np.where(codes >= 0, reasons[np.maximum(codes, 0)] if len(reasons) else None, None)
    used = np.unique(codes[month_first & (codes >= 0)])
    values, why = parse_dates([cat.categories[k] for k in used], month_first=True)
    per_cat = np.full(len(cat.categories), np.datetime64("NaT"), dtype="datetime64[ns]")
    per_cat[used] = values.to_numpy()
    why_cat = np.full(len(cat.categories), None, dtype=object)
    why_cat[used] = why.to_numpy()
    rows = np.flatnonzero(month_first & (codes >= 0))
    out = series.to_numpy().copy()
    out[rows] = per_cat[codes[rows]]
    row_reasons[rows] = why_cat[codes[rows]]
    return pd.Series(out), row_reasons


def _duplicates(table: str, df: pd.DataFrame, raw: _Raw, probs: _Problems, mask_ids: bool) -> None:
    """Exact copies of an earlier row, and different rows sharing a key."""
    spec = TABLES[table]
    if len(df) == 0:
        return
    # Compare canonical values by their codes packed into one int64 per row: cheap at national scale.
    codes = {c: _codes(df[c]) for c in df.columns}
    keyed = pd.DataFrame({c: v for c, (v, _) in codes.items()}, copy=False)
    rowkey = _pack(codes, list(df.columns))
    dup = (pd.Series(rowkey).duplicated(keep="first") if rowkey is not None
           else keyed.duplicated(keep="first")).to_numpy()
    anydup = bool(dup.any())
    if anydup:
        rows = np.flatnonzero(dup)
        first = keyed.reset_index().groupby(list(keyed.columns), dropna=False, sort=False)["index"].transform("min")
        firsts = first.to_numpy()[rows]
        probs.add(rows, "(whole row)", "", [f"exact duplicate of {_where(raw, f, table)} — the first copy was kept"
                                             for f in firsts])
    key = list(spec.key) or (["episode_id", "outcome", "reading_date", "reading_type"] if table == "readings" else [])
    if not key:
        return
    sub = keyed.loc[~dup, key] if anydup else keyed[key]
    packed = _pack(codes, key)
    if packed is not None:
        packed = packed[~dup] if anydup else packed
        clash = pd.Series(packed, index=sub.index).duplicated(keep=False)
    else:
        clash = sub.duplicated(keep=False)
    if clash.any():
        clash = clash & (sub > 0).all(axis=1)  # a blank key is reported as blank, not as a clash
    if clash.any():
        rows = sub.index[clash.to_numpy()].to_numpy()
        grp = sub.loc[rows].reset_index().groupby(key, dropna=False, sort=False)["index"]
        members = grp.transform(lambda s: ", ".join(_where(raw, int(i), table) for i in s.to_numpy()[:5])
                                + (" …" if len(s) > 5 else ""))
        what = " + ".join(key)
        probs.add(rows, ",".join(key) if len(key) > 1 else key[0],
                  [", ".join(_raw_text(raw, k, np.array([r]), mask_ids)[0] for k in key) for r in rows],
                  [f"{what} is shared by rows that differ ({m}) — which is right cannot be decided: keep one and "
                   "supply again" for m in members.to_numpy()])


def _codes(s: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column (0 = missing) and their number."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int64) + 1, len(s.cat.categories) + 1
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes.astype(np.int64) + 1, len(uniques) + 1


def _pack(codes: dict[str, tuple[np.ndarray, int]], cols: list[str]) -> np.ndarray | None:
    """One int64 per row identifying its values in ``cols``; None when they do not fit in 63 bits."""
    size = 1
    for c in cols:
        size *= codes[c][1]
    if size >= 2**63:
        return None
    out = np.zeros(len(codes[cols[0]][0]), dtype=np.int64)
    for c in cols:
        v, n = codes[c]
        out = out * n + v
    return out


def _lookup(child: pd.Series, parent: pd.Series) -> np.ndarray:
    """For each child row, the first parent row with the same id (-1 when none)."""
    pcat = parent.array
    first = pd.Series(np.arange(len(parent))).groupby(pcat.codes).first()
    first = first[first.index >= 0]
    # parent category → first row
    cat_row = np.full(len(pcat.categories), -1, dtype=np.int64)
    cat_row[first.index.to_numpy()] = first.to_numpy()
    ccat = child.array
    pos = pd.Index(pcat.categories).get_indexer(ccat.categories)
    per_cat = np.where(pos >= 0, cat_row[np.maximum(pos, 0)] if len(cat_row) else -1, -1)
    codes = ccat.codes
    return np.where(codes >= 0, per_cat[np.maximum(codes, 0)] if len(per_cat) else -1, -1)


def _person_references(child: pd.DataFrame, people: pd.DataFrame, p_rej: np.ndarray, raws: dict[str, _Raw],
                       probs: _Problems) -> None:
    """Reject a row whose person is not in ``people`` (unknown person) or whose person was rejected."""
    prow = _lookup(child["person_id"], people["person_id"])
    has = child["person_id"].array.codes >= 0
    missing = np.flatnonzero(has & (prow < 0))
    probs.add(missing, "person_id", "<person_id withheld: see row>",
              "person_id is not in the people table — add the person or correct the id")
    gone = np.flatnonzero(has & (prow >= 0) & p_rej[np.maximum(prow, 0)])
    probs.add(gone, "person_id", "<person_id withheld: see row>",
              [f"its person was rejected (see rejects/people.csv, {_where(raws['people'], prow[i], 'people')})"
               for i in gone])


def _references(tables: dict[str, pd.DataFrame], raws: dict[str, _Raw], probs: dict[str, _Problems]) -> None:
    people, episodes, readings = tables["people"], tables["episodes"], tables["readings"]
    p_rej = np.zeros(len(people), dtype=bool)
    p_rej[probs["people"].rows()] = True

    # episodes → people
    _person_references(episodes, people, p_rej, raws, probs["episodes"])
    if "service_use" in tables:
        _person_references(tables["service_use"], people, p_rej, raws, probs["service_use"])
    e_rej = np.zeros(len(episodes), dtype=bool)
    e_rej[probs["episodes"].rows()] = True

    # readings → episodes
    erow = _lookup(readings["episode_id"], episodes["episode_id"])
    has = readings["episode_id"].array.codes >= 0
    missing = np.flatnonzero(has & (erow < 0))
    probs["readings"].add(missing, "episode_id", "<episode_id withheld: see row>",
                          "episode_id is not in the episodes table — add the episode or correct the id")
    found = has & (erow >= 0)
    gone = np.flatnonzero(found & e_rej[np.maximum(erow, 0)])
    probs["readings"].add(gone, "episode_id", "<episode_id withheld: see row>",
                          [f"its episode was rejected (see rejects/episodes.csv, "
                           f"{_where(raws['episodes'], erow[i], 'episodes')})" for i in gone])
    live = found & ~e_rej[np.maximum(erow, 0)]
    idx = np.flatnonzero(live)
    er = erow[idx]
    # person must be the episode's: compare codes in the episodes' category space
    rp, ep_ = readings["person_id"].array, episodes["person_id"].array
    pos = pd.Index(ep_.categories).get_indexer(rp.categories)
    rc = rp.codes[idx]
    r_in_ep = np.where(rc >= 0, pos[np.maximum(rc, 0)] if len(pos) else -1, -1)
    bad = (rc >= 0) & (r_in_ep != ep_.codes[er])
    rows = idx[bad]
    probs["readings"].add(rows, "person_id", "<person_id withheld: see row>",
                          [f"person_id is not the person of its episode ({_where(raws['episodes'], e, 'episodes')})"
                           for e in er[bad]])
    # dates within the episode
    rd = readings["reading_date"].to_numpy()[idx]
    start = episodes["start_date"].to_numpy()[er]
    end = episodes["end_date"].to_numpy()[er]
    rtype = (readings["reading_type"] == "follow_up").to_numpy()[idx]
    ok_date = ~np.isnat(rd)
    before = ok_date & ~np.isnat(start) & (rd < start)
    fu = rtype
    after = ok_date & ~fu & ~np.isnat(end) & (rd > end)
    fu_open = ok_date & fu & np.isnat(end)
    fu_early = ok_date & fu & ~np.isnat(end) & (rd <= end)

    def fmt(a):
        return pd.Series(a).dt.strftime("%Y-%m-%d").to_numpy()

    for mask, make in (
        (before, lambda r, s, e: f"reading date {r} is before its episode started ({s})"),
        (after, lambda r, s, e: f"reading date {r} is after its episode ended ({e}) — only follow_up readings "
                                "may come after the end"),
        (fu_open, lambda r, s, e: "follow_up reading but its episode has not ended (blank end date) — follow-ups "
                                  "come after the end of support"),
        (fu_early, lambda r, s, e: f"follow_up reading on {r} is not after its episode ended ({e}) — use "
                                   "reading_type review or end, or correct the date"),
    ):
        if mask.any():
            sel = np.flatnonzero(mask)
            rr, ss, ee = fmt(rd[sel]), fmt(start[sel]), fmt(end[sel])
            rows = idx[sel]
            probs["readings"].add(rows, "reading_date", _raw_text(raws["readings"], "reading_date", rows, False),
                                  [make(a, b, c) for a, b, c in zip(rr, ss, ee)])


def _reject_frame(raw: _Raw, probs: _Problems) -> pd.DataFrame:
    f = probs.frame()
    if f.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    f = f.sort_values(["row", "order"], kind="stable")
    f["value"] = f["value"].astype(str)
    f["reason"] = f["reason"].astype(str)
    g = f.groupby("row", sort=True).agg({"column": "; ".join, "value": "; ".join, "reason": "; ".join})
    rows = g.index.to_numpy()
    out = pd.DataFrame({
        "source_file": [raw.files[i].path for i in raw.source[rows]],
        "row_number": raw.row_number[rows],
        "column": g["column"].to_numpy(),
        "value": g["value"].to_numpy(),
        "reason": g["reason"].to_numpy(),
    })
    order = np.lexsort((out["row_number"].to_numpy(), raw.source[rows]))
    return out.iloc[order].reset_index(drop=True)


def _reason_counts(probs: _Problems) -> dict[str, int]:
    f = probs.frame()
    if f.empty:
        return {}
    # the kind of problem: the reason with its specific values taken out
    kind = f["column"].astype(str) + ": " + f["reason"].astype(str).str.replace(r"'[^']*'|\d[\d\-/.:]*", "…",
                                                                                regex=True)
    counts = kind.groupby(f["row"]).agg(lambda s: s.iloc[0]).value_counts()
    return {k: int(v) for k, v in counts.items()}


# ============================================================== lead needs
def read_lead_needs(path: str | os.PathLike, key: str = "lead_needs") -> dict[str, str]:
    """A study's own lead-need list from YAML: ``code → display name``.

    Accepts a list of codes, a list of ``{code, name}`` mappings, a mapping
    ``code: name``, or any of these under a top-level ``lead_needs`` key (``key``:
    the same reader serves a study's service list under ``services``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "needs.yaml"
    >>> _ = p.write_text("lead_needs:\\n  - code: homeless\\n    name: Homelessness\\n  - veterans\\n")
    >>> read_lead_needs(p)
    {'homeless': 'Homelessness', 'veterans': 'veterans'}
    """
    import yaml

    path = Path(path)
    what = key.rstrip("s").replace("_", " ")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise IngestInputError(f"{path}: cannot read the {what} list ({exc})") from None
    if isinstance(data, dict) and key in data:
        data = data[key]
    out: dict[str, str] = {}
    if isinstance(data, dict):
        out = {str(k): str(v) for k, v in data.items()}
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and "code" in item:
                out[str(item["code"])] = str(item.get("name", item["code"]))
            elif isinstance(item, (str, int)):
                out[str(item)] = str(item)
            else:
                raise IngestInputError(f"{path}: {what} {item!r} should be a code or a mapping with 'code' and 'name'")
    if not out:
        raise IngestInputError(f"{path}: no {what} codes found; expected a list of codes under '{key}'")
    bad = [c for c in out if not re.fullmatch(r"[a-z0-9_]+", c)]
    if bad:
        raise IngestInputError(f"{path}: {what} codes must be lower_case_with_underscores; not {', '.join(bad)}")
    return out


# ============================================================== ingest
def ingest(src: str | os.PathLike, dest: str | os.PathLike, *, key: str | bytes | None = None,
           key_file: str | os.PathLike | None = None, already_pseudonymised: bool = False,
           allow_rejects: bool = True, lead_needs: str | os.PathLike | dict | list | None = None,
           today: str | date | None = None, services: str | os.PathLike | dict | list | None = None,
           linkage_window: tuple | None = None) -> IngestReport:
    """Validate a study's files, pseudonymise identifiers and write the store.

    Parameters
    ----------
    src : path
        Folder with the four tables as ``<table>.csv|.xlsx|.parquet`` (or
        several ``<table>_*.csv`` etc. per table).
    dest : path
        Store folder to write (created if needed; a previous store there is replaced).
    key : str or bytes, optional
        Pseudonymisation key; default ``key_file``, then ``$LONGITUDINAL_PSEUDONYM_KEY``.
    key_file : path, optional
        File holding the key, outside any git work tree.
    already_pseudonymised : bool, default False
        The ids are already keyed hashes: store them as given (no key needed).
    allow_rejects : bool, default True
        When False and any row is rejected, write only ``dest/rejects`` and raise
        :class:`RowsRejectedError`: no store is published with rows missing.
    lead_needs : path to YAML, dict or list, optional
        The study's own lead-need list (default: :data:`domain.LEAD_NEEDS`).
    today : date, optional
        Dates after it are rejected as future dates (default: today).
    services : path to YAML, dict or list, optional
        The study's service list for the optional ``service_use`` table
        (default :data:`domain.SERVICES`; YAML as for lead needs, under ``services``).
    linkage_window : (start, end), optional
        The days the linked ``service_use`` covers; an event outside is rejected.
        Default: from 2001-04-01 (two years before Supporting People began) to today.

    Returns
    -------
    IngestReport

    Raises
    ------
    IngestInputError
        A table is missing or a file cannot be read (CLI exit status 2).
    longitudinal.pseudonymise.MissingKeyError
        No key and the data not declared already pseudonymised (exit status 2).
    RowsRejectedError
        Rows were rejected and ``allow_rejects=False`` (exit status 1).

    Examples
    --------
    >>> import longitudinal as lg, tempfile
    >>> raw, store = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> _ = lg.simulate(people=100, seed=3).write(raw)
    >>> report = lg.ingest(raw, store, key="an-example-key-not-secret")
    >>> report.ok, report.tables["people"].accepted
    (True, 150)
    >>> lg.load(store)  # doctest: +ELLIPSIS
    <Study people=150 ... service_use=...>
    """
    t0 = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    src, dest = Path(src), Path(dest)
    if not src.is_dir():
        raise IngestInputError(f"{src}: no such folder; expected a folder holding people, episodes, readings "
                               "and spend files")
    _check_out(dest, src)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IngestInputError(f"--out {dest}: cannot create {dest.parent} ({exc.strerror or exc})") from None
    with _store_lock(dest):
        return _ingest(src, dest, services=services, linkage_window=linkage_window, key=key, key_file=key_file,
                       already_pseudonymised=already_pseudonymised,
                       allow_rejects=allow_rejects, lead_needs=lead_needs, today=today, t0=t0, started=started)


def _ingest(src: Path, dest: Path, *, key, key_file, already_pseudonymised, allow_rejects, lead_needs, today,
            t0: float, started: str, services=None, linkage_window=None) -> IngestReport:
    refused = dest.parent / f"{dest.name}.refused"
    clean_leftovers(refused)
    key_bytes = None if already_pseudonymised else resolve_key(key, key_file=key_file)
    needs = _lead_need_map(lead_needs)
    need_codes = tuple(needs)
    today_ts = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today).normalize()
    mask_ids = not already_pseudonymised

    stages: dict[str, float] = {}
    lap = _stopwatch(stages)
    sources = _find_sources(src)
    present = [t for t in ALL_TABLE_NAMES if t in sources]
    raws = {t: _read_table(t, sources[t], src) for t in present}
    if already_pseudonymised:
        _refuse_raw_ids(raws)
    lap("read")
    service_map = _code_map(services, "services", dict(domain.SERVICES))
    window = linkage_window_bounds(linkage_window, today_ts)
    linkage = {"services": tuple(service_map), "window": window}
    aliases = _alias_maps(needs, service_map)
    canon: dict[str, pd.DataFrame] = {}
    probs: dict[str, _Problems] = {}
    for t in present:
        canon[t], probs[t] = _check_table(t, raws[t], aliases, need_codes, today_ts, mask_ids, linkage)
    lap("validate")
    for t in present:
        _duplicates(t, canon[t], raws[t], probs[t], mask_ids)
    lap("duplicates")
    _references(canon, raws, probs)
    lap("references")

    counts, rejects, accepted = {}, {}, {}
    for t in present:
        n = len(canon[t])
        bad = np.zeros(n, dtype=bool)
        bad[probs[t].rows()] = True
        rejects[t] = _reject_frame(raws[t], probs[t])
        acc = canon[t].loc[~bad].reset_index(drop=True) if bad.any() else canon[t]
        counts[t] = TableCounts(read=n, accepted=len(acc), rejected=len(rejects[t]))
        # The promise of the contract: nothing silently dropped.
        assert counts[t].accepted + counts[t].rejected == counts[t].read, (t, counts[t])
        assert sum(f.rows for f in raws[t].files) == n
        accepted[t] = acc
    report = IngestReport(
        dest=dest, tables=counts, sources=[f for t in present for f in raws[t].files],
        reasons={t: _reason_counts(probs[t]) for t in present},
        pseudonymised=not already_pseudonymised,
        key_fingerprint=key_fingerprint(key_bytes) if key_bytes else None,
        lead_needs=list(need_codes), started=started, finished="", seconds=0.0, version=_version(),
        stage_seconds=stages, rejects_dir=dest / "rejects" if _rejects_any(rejects) else None,
        service_use=({"services": list(service_map), "linkage_window": [f"{d:%Y-%m-%d}" for d in window]}
                     if "service_use" in present else None),
    )
    lap("rejects")

    emptied = [t for t in TABLE_NAMES if counts[t].accepted == 0]
    if (not report.ok and not allow_rejects) or emptied:
        # The store in place stays whole and valid; the refused delivery's rejects go beside it.
        # A table whose every row was rejected is refused even with allow_rejects: no report could use it.
        report.published = False
        report.rejects_dir = refused / "rejects"
        _finish(report, t0)
        with _writing(refused) as new:
            _write_rejects(new, rejects)
            (new / "rejects").mkdir(exist_ok=True)
            (new / "rejects" / "ingest_summary.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n",
                                                                encoding="utf-8")
        raise RowsRejectedError(report, emptied)

    if key_bytes is not None:
        for c in PERSONAL_IDS:
            holders = [t for t in present if c in accepted[t]]
            for t, col in zip(holders, pseudonymise_together([accepted[t][c] for t in holders], key_bytes)):
                accepted[t][c] = col
    lap("pseudonymise")
    cats = category_dtypes(need_codes, linkage["services"])
    final = {}
    for t in present:
        df = accepted[t]
        for c in df.columns:
            if c in cats:  # recode to the canonical categories (fast: codes only)
                df[c] = df[c].cat.set_categories(list(cats[c].categories))
        final[t] = apply_dtypes(t, df, lead_needs=need_codes, services=linkage["services"])
    # categories in the order load gives them, so that it reads the codes as they are
    arrow = {t: arrow_table(df) for t, df in store_order(final).items()}
    # The new store is built beside the old one and swapped in whole: a reader, or a run killed at any
    # point, sees the old store or the new one, never a mix (the marker records every table's hash).
    with _writing(dest) as new:
        _write_rejects(new, rejects)
        for t in present:
            write_parquet(arrow[t], new / f"{t}.parquet")
            report.store_files[f"{t}.parquet"] = sha256_file(new / f"{t}.parquet")
        lap("parquet")
        _write_duckdb(new, arrow)
        lap("duckdb")
        if (src / TRUTH_FILE).exists():
            shutil.copyfile(src / TRUTH_FILE, new / TRUTH_FILE)
        _finish(report, t0)
        (new / STORE_MARKER).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(refused, ignore_errors=True)  # an earlier refusal is no longer the news
    return report


def _refuse_raw_ids(raws: dict[str, _Raw]) -> None:
    """``--already-pseudonymised`` is a claim: every id must have the pseudonym form, or nothing is stored."""
    found, n_rows, n_ids = [], 0, set()
    for raw in raws.values():
        table_rows = np.zeros(len(raw.frame), dtype=bool)
        for c in (c for c in PERSONAL_IDS if c in raw.frame):
            cat = raw.frame[c].array
            bad_cats = np.flatnonzero(~is_pseudonym(cat.categories))
            if not len(bad_cats):
                continue
            rows = np.flatnonzero(np.isin(cat.codes, bad_cats))
            table_rows[rows] = True
            n_ids.update((c, cat.categories[k]) for k in bad_cats)
            by_file: dict[str, list[int]] = {}
            for r in rows:
                by_file.setdefault(raw.files[raw.source[r]].path, []).append(int(raw.row_number[r]))
            for f, nums in by_file.items():
                more = f" … ({len(nums):,} rows)" if len(nums) > 5 else ""
                found.append(f"{f} {c} rows {', '.join(map(str, nums[:5]))}{more}")
        n_rows += int(table_rows.sum())
    if found:
        raise IngestInputError(
            f"--already-pseudonymised, but {len(n_ids):,} identifier(s) on {n_rows:,} row(s) are not pseudonyms "
            f"({DIGEST_HEX_CHARS} lowercase hexadecimal characters, as ingest writes them): {'; '.join(found)}. "
            "Nothing was stored. Ingest raw identifiers with the key instead (without --already-pseudonymised)")


def _rejects_any(rejects: dict[str, pd.DataFrame]) -> bool:
    return any(len(df) for df in rejects.values())


def _check_out(dest: Path, src: Path) -> None:
    """Refuse an output that would destroy something: a file, the source, or a folder that is not a store."""
    if dest.exists() and not dest.is_dir():
        raise IngestInputError(f"--out {dest} is a file; give the folder the store should be written to")
    if dest.resolve() == src.resolve() or src.resolve() in dest.resolve().parents:
        raise IngestInputError(f"--out {dest}: the store must be outside the source folder {src} (it would be "
                               "read as deliveries next time)")
    if dest.is_dir() and not (dest / STORE_MARKER).exists():
        ours = {f"{t}.{e}" for t in ALL_TABLE_NAMES for e in ("parquet", "csv")} | {
            DUCKDB_FILE, "rejects", TRUTH_FILE, STORE_MARKER}
        foreign = sorted(p.name for p in dest.iterdir() if p.name not in ours)
        if foreign:
            raise IngestInputError(
                f"--out {dest} holds files that are not a store ({', '.join(foreign[:5])}"
                f"{' …' if len(foreign) > 5 else ''}); ingest replaces its --out folder whole, so give a new or "
                "empty folder, or an existing store")


class StoreBusyError(IngestInputError):
    """Another ingest is writing the same store."""


@contextmanager
def _store_lock(dest: Path):
    """Held for a whole ingest: two ingests into one store never interleave (the second is refused)."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(dest.parent / f".{dest.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreBusyError(f"{dest} is being written by another ingest (lock {lock.lock_file}); wait for it "
                             "to finish") from None
    try:
        clean_leftovers(dest)  # what a killed ingest left beside it: ours to remove while we hold the lock
        yield
    finally:
        lock.release()


@contextmanager
def _writing(path: Path):
    """``atomic_dir`` with output errors (no permission, disk full) as an :class:`IngestInputError`."""
    try:
        with atomic_dir(path) as new:
            yield new
    except OSError as exc:
        raise IngestInputError(f"cannot write {path}: {exc.strerror or exc} ({type(exc).__name__}); check that "
                               f"the folder {path.parent} exists, is writable and has space") from None


def _stopwatch(stages: dict[str, float]):
    """``lap(name)`` adds the seconds since the previous lap to ``stages[name]``."""
    last = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        stages[name] = round(stages.get(name, 0.0) + now - last[0], 3)
        last[0] = now

    return lap


def _finish(report: IngestReport, t0: float) -> None:
    report.finished = datetime.now(UTC).isoformat(timespec="seconds")
    report.seconds = round(time.perf_counter() - t0, 3)


def _version() -> str:
    from . import __version__

    return __version__


def _lead_need_map(lead_needs) -> dict[str, str]:
    return _code_map(lead_needs, "lead_needs", {n.code: n.name for n in domain.LEAD_NEEDS})


def _code_map(given, key: str, default: dict[str, str]) -> dict[str, str]:
    """A study's own code list (YAML path, dict or list) as ``code → name``; ``default`` when not given."""
    if given is None:
        return dict(default)
    if isinstance(given, (str, os.PathLike)):
        return read_lead_needs(given, key=key)
    if isinstance(given, dict):
        return {str(k): str(v) for k, v in given.items()}
    return {str(c): str(c) for c in given}


def _write_rejects(dest: Path, rejects: dict[str, pd.DataFrame]) -> None:
    """``dest/rejects/<table>.csv``: text a spreadsheet could run as a formula is neutralised."""
    for t, df in rejects.items():
        if len(df):
            (dest / "rejects").mkdir(parents=True, exist_ok=True)
            write_csv(df, dest / "rejects" / f"{t}.csv")


def _write_duckdb(dest: Path, arrow: dict[str, pa.Table]) -> None:
    import duckdb

    db = dest / DUCKDB_FILE
    con = duckdb.connect(str(db))
    try:
        con.execute("SET enable_progress_bar = false")  # batch runs log stderr: keep it clean
        for t in arrow:
            # plain VARCHAR columns: the database is for ad hoc SQL, not bound to our category lists
            tab = arrow[t]
            tab = tab.cast(pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type)
                                               else f.type) for f in tab.schema]))
            con.register("_incoming", tab)
            con.execute(f"CREATE TABLE {t} AS SELECT * FROM _incoming")
            con.unregister("_incoming")
    finally:
        con.close()
    Path(str(db) + ".wal").unlink(missing_ok=True)


def print_summary(report: IngestReport, console=None) -> None:
    """Print the per-table summary (rows read / accepted / rejected, top reasons) with rich."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(stderr=True)
    tab = Table(title=f"ingest → {report.dest}")
    for c in ("table", "read", "accepted", "rejected", "most common problem"):
        tab.add_column(c, justify="right" if c in ("read", "accepted", "rejected") else "left")
    for t, c in report.tables.items():
        top = next(iter(report.reasons.get(t, {})), "")
        tab.add_row(t, f"{c.read:,}", f"{c.accepted:,}", f"[red]{c.rejected:,}[/]" if c.rejected else "0", top[:90])
    console.print(tab)
    for f in report.sources:
        if f.date_order and f.date_order != "day-first (dd/mm/yyyy)":
            console.print(f"[yellow]dates in {f.path}[/] read {f.date_order}")
    if report.rejected:
        console.print(f"[yellow]{report.rejected:,} row(s) rejected[/]: see {report.rejects_dir}")
