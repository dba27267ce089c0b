"""Reading and writing tables, byte-stable: the same frame always gives the same file."""

from __future__ import annotations

import ctypes
import ctypes.util
import inspect
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ._numeric import rows_distinct
from .errors import InputError

__all__ = ["write_table", "read_table", "atomic_path", "atomic_dir", "swap_in", "neutralise_formulas",
           "neutralise_text", "restore_text", "csv_bytes", "write_csv", "write_xlsx", "stable_zip",
           "FORMULA_TRIGGERS", "arrow_table", "write_parquet", "parquet_rows",
           "UnreadableFileError"]


class UnreadableFileError(InputError):
    """A table file exists but cannot be read (corrupted, truncated): the message names the file."""


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    No reader ever sees a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


#: Prefix of the folders :func:`atomic_dir` builds beside their target (``.<name>.tmp-*``).
def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def swap_in(new: Path, path: Path) -> Path | None:
    """Put the folder ``new`` at ``path``; return where the previous content of ``path`` now is (or None).

    Where the system can exchange two paths atomically, readers see either the old or the new
    folder, never neither; elsewhere there is a moment with no folder at ``path``, never a mixed one.
    """
    new, path = Path(new), Path(path)
    if not path.exists():
        os.replace(new, path)
        return None
    if path.is_dir() and _exchange(new, path):
        return new  # the old folder now sits where the new one was built
    old = path.parent / f"{_tmp_prefix(path)}old-{os.getpid()}"
    os.replace(path, old)
    os.replace(new, path)
    return old


def clean_leftovers(path: Path) -> list[Path]:
    """Remove the ``.<name>.tmp-*`` folders and files that killed runs left beside ``path``.

    Call only while holding the lock that stops two writers of ``path``.
    """
    path = Path(path)
    gone = []
    if path.parent.is_dir():
        if not path.exists():
            # killed between the two renames of a non-atomic swap: the previous folder is put back
            for old in sorted(path.parent.glob(_tmp_prefix(path) + "old-*")):
                os.replace(old, path)
                break
        for p in path.parent.glob(_tmp_prefix(path) + "*"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            gone.append(p)
    return gone


def _folder_mode(path: Path) -> int:
    """The permissions of the folder at ``path``, or those a new folder gets (the umask's)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o777 & ~mask


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty folder beside ``path``; swap it in for ``path`` only if the block succeeds.

    The previous folder at ``path`` stays whole until the swap and is removed after it; a killed run
    leaves only a ``.<name>.tmp-*`` folder, which :func:`clean_leftovers` removes. The caller holds a
    lock so that two writers of ``path`` never interleave.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path), dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, _folder_mode(path))  # mkdtemp makes it private; keep what the folder had
        old = swap_in(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ spreadsheet formula injection
#: First characters that make a spreadsheet read a text cell as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A number written as text ("-3.5", "-1,200", "+12%", "-£40") is read as a number, never as a formula.
_NUMBER_TEXT = re.compile(r"^[+-]?£?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")


def neutralise_text(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Numbers, and text that is a number (``"-3.5"``), are returned unchanged.

    >>> print(neutralise_text("=1+2"), neutralise_text("-3.5"), neutralise_text(-3))
    '=1+2 -3.5 -3
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _NUMBER_TEXT.match(value):
        return "'" + value
    return value


def restore_text(value):
    """Undo :func:`neutralise_text` (a leading ``'`` before a formula character), as spreadsheets do."""
    if isinstance(value, str) and value.startswith("'") and value[1:2] and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def _neutral_series(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        new = [neutralise_text(c) for c in cats]
        if any(a is not b for a, b in zip(new, cats)):
            if len(set(new)) == len(new):
                return s.cat.rename_categories(new)
            return s.astype(object).map(neutralise_text)
        return s
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        if len(s) and s.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_TRIGGERS)).any():
            return s.map(neutralise_text)
    return s


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells, column names and index labels cannot run as spreadsheet formulas.

    Every CSV and xlsx the project writes goes through this: text beginning with ``=``, ``+``, ``-``,
    ``@``, tab or carriage return gets a leading ``'`` (OWASP's rule); numbers and dates are untouched.
    """
    out = pd.DataFrame({i: _neutral_series(df.iloc[:, i]) for i in range(df.shape[1])}, index=df.index)
    out.columns = pd.Index([neutralise_text(c) for c in df.columns]) if not isinstance(df.columns, pd.MultiIndex) \
        else df.columns
    if not isinstance(df.index, (pd.RangeIndex, pd.MultiIndex)) and df.index.dtype == object:
        out.index = df.index.map(neutralise_text)
    return out


def csv_bytes(df: pd.DataFrame, *, index: bool = False) -> bytes:
    """The CSV (UTF-8, ``\\n`` line ends) of ``df`` with formula cells neutralised."""
    return neutralise_formulas(df).to_csv(index=index, lineterminator="\n").encode("utf-8")


def write_csv(df: pd.DataFrame, path: str | Path, *, index: bool = False) -> Path:
    """Write ``df`` as CSV atomically, formula cells neutralised (see :func:`neutralise_formulas`)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(csv_bytes(df, index=index))
    return path


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write one worksheet per frame as ``.xlsx``, atomically, formula cells neutralised.

    Text is stored as text (never as a formula) and also gets OWASP's leading ``'`` (see
    :func:`neutralise_formulas`), so it stays inert when the sheet is re-saved as CSV. The
    workbook's timestamps are fixed, so the same frames give the same bytes.
    """
    import datetime as _dt

    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    fixed = _dt.datetime(2000, 1, 1)
    wb.properties.created = wb.properties.modified = fixed
    for name, df in sheets.items():
        ws = wb.create_sheet(str(name)[:31])
        safe = neutralise_formulas(df)
        ws.append([str(c) for c in safe.columns])
        for row in safe.itertuples(index=False):
            ws.append([None if v is None or (not isinstance(v, str) and pd.isna(v)) else
                       (v.item() if hasattr(v, "item") else v) for v in row])
        for cells in ws.iter_rows():
            for cell in cells:
                if cell.data_type == "f":  # openpyxl reads "=..." as a formula: store it as text
                    cell.data_type = "s"
    with atomic_path(path) as tmp:
        wb.save(tmp)
        wb.close()
        stable_zip(tmp)
    return Path(path)


#: The time written into an Office file by :func:`stable_zip`: fixed, so that files are byte-stable.
STABLE_TIME = (2000, 1, 1, 0, 0, 0)


def stable_zip(path: str | Path, replace: Mapping[str, bytes] | None = None) -> Path:
    """Rewrite an Office (zip) file so that the same content gives the same bytes.

    Writers stamp each zip entry and the document's ``dcterms:created`` / ``dcterms:modified`` with the
    time of saving (openpyxl overwrites ``modified`` on save), so two runs a second apart differ. Entries
    keep their order, names and content; only these times are fixed to :data:`STABLE_TIME`. ``replace``
    gives new content for entries by name, written in the same pass (e.g. a workbook's translated strings).
    """
    import re
    import zipfile

    path = Path(path)
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i)) for i in z.infolist()]
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*STABLE_TIME).encode()
    tmp = path.with_name(path.name + ".stable")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            data = (replace or {}).get(name, data)
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + stamp + rb"\g<2>",
                              data)
            info = zipfile.ZipInfo(name, date_time=STABLE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            z.writestr(info, data)
    os.replace(tmp, path)
    return path


#: Reference files shipped inside the package (GDP deflators, proxy library, outcome and impact maps,
#: report notebooks). In a source checkout they are links to ``data/`` and ``notebooks/``, so the
#: repository keeps one copy; a wheel carries the files themselves.
RESOURCES = Path(__file__).resolve().parent / "resources"


def detect_encoding(path: str | Path) -> str:
    """UTF-8 (BOM or not) when the bytes decode as UTF-8, else Windows-1252 if they decode so.

    Spreadsheet exports are the two in practice; anything else is refused, never read as mojibake.

    Raises
    ------
    UnicodeError
        When the file is neither, with what to do about it.
    """
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
        return "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError as exc:
        utf8_err = exc
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        raise UnicodeError(
            f"{Path(path).name}: not readable as UTF-8 (byte {utf8_err.start}) nor as Windows-1252; "
            "save the file as 'CSV UTF-8' and supply it again"
        ) from None
    return "cp1252"


def read_text(path: str | Path) -> str:
    """The text of a file in the encoding :func:`detect_encoding` finds."""
    return Path(path).read_text(encoding=detect_encoding(path))


def arrow_table(df: pd.DataFrame, *, dictionaries: bool = True) -> pa.Table:
    """Arrow table of a frame as :func:`write_table` stores it: dates as dates, categoricals as text.

    With ``dictionaries`` a categorical stays dictionary-encoded with its categories, in their order,
    as the dictionary (unused ones too): :func:`read_table` then takes the codes as they are.
    """
    arrays, names = [], []
    for name, s in df.items():
        if isinstance(s.dtype, pd.CategoricalDtype) and dictionaries:
            codes = s.cat.codes.to_numpy()
            arr = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0, type=pa.int32()),
                                                 pa.array(np.asarray(s.cat.categories, dtype=object), type=pa.string()))
        elif isinstance(s.dtype, pd.CategoricalDtype):
            arr = pa.array(s.astype("string"), from_pandas=True)
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            arr = pa.array(s, from_pandas=True).cast(pa.date32())
        else:
            arr = pa.array(s, from_pandas=True)
        arrays.append(arr)
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


def write_parquet(table: pa.Table, path: str | Path) -> Path:
    """Write an Arrow table as Parquet (zstd) in one row group, each dictionary whole in its column.

    Parquet keeps one dictionary per row group, and by default falls back to plain values past a 1 MB
    dictionary: a national table would be read back as a dozen dictionaries to hash and merge.
    """
    pq.write_table(table, path, compression="zstd", row_group_size=max(table.num_rows, 1),
                   dictionary_pagesize_limit=1 << 30)
    return Path(path)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as CSV (UTF-8, ISO dates, blank for missing) or Parquet, atomically.

    Dates are written as dates (``YYYY-MM-DD``), categoricals as their values (in Parquet,
    dictionary-encoded: see :func:`arrow_table`); the index is not written.
    """
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ValueError(f"{path}: unknown table format {path.suffix!r}; use .csv or .parquet")
    csv = path.suffix == ".csv"
    table = arrow_table(neutralise_formulas(df) if csv else df, dictionaries=not csv)
    with atomic_path(path) as tmp:
        if csv:
            pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="needed"))
        else:
            write_parquet(table, tmp)
    return path


_NULLABLE_INTS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype()}


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def read_table(path: str | Path, data: bytes | None = None,
               categories: Mapping[str, pd.CategoricalDtype] | None = None,
               keys: Collection[str] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet table written by :func:`write_table` (trusted, no validation).

    ``data``, when given, is the file's content already read (so that a caller can check its hash
    and parse exactly the bytes it checked).

    A Parquet file's text columns arrive as categoricals. ``categories`` gives some of them the
    categories of another table's column (the people's ``person_id`` for the episodes'), so that
    the frames share one dtype (pandas then joins them on the codes) and only one of them pays for
    building it; a value not among those categories is appended to them, never lost.

    ``keys`` names text columns whose values should all differ (the table's key, e.g. the people's
    ``person_id``): such a column is read as its values, which become its categories once checked
    distinct and not missing (a column that is not falls back to the general reading). Same result
    (except that a file's dictionary entries no row uses are not categories), without Arrow hashing a
    dictionary of every value (about 0.15 s per 600,000 identifiers).

    Raises
    ------
    UnreadableFileError
        The file is damaged (e.g. a Parquet file cut short or corrupted): the message names it.
    """
    path = Path(path)
    if path.suffix not in (".parquet", ".csv"):
        raise ValueError(f"{path}: unknown table format {path.suffix!r}; use .csv or .parquet")
    with _readable(path):
        if path.suffix == ".parquet":
            return _parquet_frame(path, data, categories or {}, keys)
        source = pa.BufferReader(data) if data is not None else path
        table = pacsv.read_csv(
            source,
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True, auto_dict_encode=True),
        )
        df = table.to_pandas()
    # the protective quote write_table puts before formula characters is not part of the value
    return pd.DataFrame({c: _restored(df[c]) for c in df.columns})


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Turn Arrow's errors on a damaged file into an :class:`UnreadableFileError` naming it."""
    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        raise UnreadableFileError(f"{path}: cannot be read ({type(exc).__name__}: {exc}); the file is damaged "
                                  "or incomplete: write it again (for a store: run `longitudinal ingest` again)"
                                  ) from None


def parquet_rows(path: str | Path, data: bytes | None = None) -> int:
    """Rows of a Parquet file, from its footer alone (which a file cut short lacks).

    Raises
    ------
    UnreadableFileError
        The footer is missing or damaged.
    """
    with _readable(Path(path)), pq.ParquetFile(pa.BufferReader(data) if data is not None else path) as file:
        return int(file.metadata.num_rows)


#: Whether this pyarrow reads Parquet text as views of the file's values (``binary_type=``, pyarrow 19+).
_VIEWS = "binary_type" in inspect.signature(pq.ParquetFile).parameters


def _parquet_frame(path: Path, data: bytes | None, categories: Mapping[str, pd.CategoricalDtype],
                   keys: Collection[str] = ()) -> pd.DataFrame:
    """A Parquet file as a DataFrame: text columns as categoricals, dates as ns timestamps."""
    def source():
        return pa.BufferReader(data) if data is not None else path

    with pq.ParquetFile(source()) as file:
        schema = file.schema_arrow
    strings = [f.name for f in schema if _is_text(f.type)]
    if schema.pandas_metadata is not None:  # written by pandas (a user's own file): let it restore its index
        with pq.ParquetFile(source(), read_dictionary=strings) as file:
            return file.read(use_threads=False).to_pandas(types_mapper=_NULLABLE_INTS.get)
    texts: dict[str, pd.Categorical] = {}
    distinct = [name for name in strings if name in keys and name not in categories] if _VIEWS else []
    if distinct:  # read as values (views of the file's dictionary): nothing hashed
        with pq.ParquetFile(source(), binary_type=pa.binary_view()) as file:
            viewed = file.read(columns=distinct, use_threads=False)
        for name in distinct:
            dtype = _distinct_categories(viewed.column(name))
            if dtype is not None:
                texts[name] = pd.Categorical.from_codes(np.arange(len(dtype.categories), dtype=np.int32),
                                                        dtype=dtype, validate=False)
        del viewed
    # Text read dictionary-encoded: no Python string per row at national scale. Columns are decoded in
    # Arrow's threads (same CPU time; on two free cores the national readings take about half the wall clock).
    with pq.ParquetFile(source(), read_dictionary=[n for n in strings if n not in texts]) as file:
        table = file.read(columns=[n for n in schema.names if n not in texts], use_threads=True)
    texts.update({name: _categorical(table.column(name), categories.get(name))
                  for name in strings if name not in texts})
    rest = table.drop_columns([n for n in strings if n in table.column_names])
    for i, f in enumerate(rest.schema):
        if pa.types.is_date(f.type):  # their final dtype: pandas gets each column once, in its final form
            rest = rest.set_column(i, f.name, rest.column(i).cast(pa.timestamp("ns")))
    other = rest.to_pandas(types_mapper=_NULLABLE_INTS.get, split_blocks=True, self_destruct=True)
    return pd.DataFrame({name: texts[name] if name in texts else other[name] for name in schema.names}, copy=False)


def _distinct_categories(column: pa.ChunkedArray) -> pd.CategoricalDtype | None:
    """The dtype whose categories are the column's values in order, or None if some repeat or are missing.

    Identifiers of one width (pseudonyms) are checked distinct on their bytes (:func:`rows_distinct`),
    and pandas is then not asked to check them again; others are left to pandas' own check.
    """
    values = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if values.null_count:
        return None
    text = values.cast(pa.large_string())
    index = pd.Index(text.to_numpy(zero_copy_only=False), dtype=object)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64, count=len(text) + 1, offset=text.offset * 8)
    width = int(offsets[1] - offsets[0]) if len(text) else 0
    if width > 0 and bool((np.diff(offsets) == width).all()):
        body = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        if not rows_distinct(body.reshape(-1, width)):
            return None
        _checked_distinct(index)
    try:
        dtype = pd.CategoricalDtype(index)
    except ValueError:  # repeated values
        return None
    _ARROW_CATEGORIES[id(dtype.categories)] = (weakref.ref(dtype.categories), text.cast(pa.string()))
    return dtype


#: The Arrow values of categories read as a key column's values (``_distinct_categories``), by the id of their
#: pandas Index: a later table's dictionary is compared with them in Arrow (``_as_categories``) without making
#: Arrow strings of the national 600,000 identifiers again (0.1 s each time).
_ARROW_CATEGORIES: dict[int, tuple[weakref.ref, pa.Array]] = {}


def _arrow_categories(categories: pd.Index) -> pa.Array:
    """``categories`` as an Arrow string array (the one kept when they were read, if they were)."""
    for key in [k for k, (ref, _) in _ARROW_CATEGORIES.items() if ref() is None]:
        del _ARROW_CATEGORIES[key]  # their Index is gone: the id may be reused
    kept = _ARROW_CATEGORIES.get(id(categories))
    if kept is not None and kept[0]() is categories:
        return kept[1]
    return pa.array(np.asarray(categories, dtype=object), type=pa.string())


def _checked_distinct(index: pd.Index) -> None:
    """Record on ``index`` that its values were found distinct and not missing, as pandas' own check would.

    pandas checks a categorical's categories (hashing each Python string) the first time an Index
    serves as categories, and keeps the answer on the Index; this puts the answer there. A pandas
    that keeps no such record checks again itself: slower, never wrong.
    """
    cache = getattr(index, "_cache", None)
    if isinstance(cache, dict):
        cache.update(is_unique=True, hasnans=False)


def _categorical(column: pa.ChunkedArray, dtype: pd.CategoricalDtype | None) -> pd.Categorical:
    """A dictionary-encoded column as a pandas Categorical, with ``dtype``'s categories when given.

    Each row group has its own dictionary, repeated in each of its batches: each distinct dictionary
    is looked up once, in Arrow, rather than pandas building and merging one categorical per batch.
    Categories are in order of first appearance (as pandas gives them), or ``dtype``'s followed by
    any value it lacks.
    """
    dictionaries: list[pa.Array] = []
    owner = []
    for chunk in column.chunks:
        if not dictionaries or not chunk.dictionary.equals(dictionaries[-1]):
            dictionaries.append(chunk.dictionary)
        owner.append(len(dictionaries) - 1)
    if len(dictionaries) == 1:  # the file's dictionary may already be the categories (see arrow_table)
        own = _as_categories(dictionaries[0], dtype)
        if own is not None:
            return pd.Categorical.from_codes(_indices(column), dtype=own, validate=False)
    values = pa.concat_arrays(dictionaries).cast(pa.string()) if dictionaries else pa.array([], pa.string())
    known = None
    if dtype is not None and pd.api.types.is_string_dtype(dtype.categories.dtype):
        known = _arrow_categories(dtype.categories)
        position = pc.index_in(values, value_set=known)
        lacking = pc.and_(position.is_null(), values.is_valid())
        if pc.any(lacking).as_py():
            known = pa.concat_arrays([known, pc.unique(values.filter(lacking))])
            position, dtype = pc.index_in(values, value_set=known), None
    if known is None:
        encoded = pc.dictionary_encode(values)  # one hashing pass: positions and categories
        known, position, dtype = encoded.dictionary, encoded.indices, None
    if dtype is None:
        dtype = pd.CategoricalDtype(pd.Index(known.to_numpy(zero_copy_only=False), dtype=object))
    codes_of = position.fill_null(-1).to_numpy().astype(np.int32)
    if len(dictionaries) == 1 and np.array_equal(codes_of, np.arange(len(codes_of))):
        codes = _indices(column)  # one dictionary, the first of the categories in their order (a short code list)
    else:
        starts = np.cumsum([0] + [len(d) for d in dictionaries])
        maps = [np.append(codes_of[starts[k]:starts[k + 1]], np.int32(-1)) for k in range(len(dictionaries))]
        parts = [maps[k][(chunk.indices if not chunk.indices.null_count  # no copy for a column with no gap
                          else chunk.indices.fill_null(len(maps[k]) - 1)).to_numpy()]
                 for chunk, k in zip(column.chunks, owner)]
        codes = np.concatenate(parts) if parts else np.empty(0, np.int32)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _indices(column: pa.ChunkedArray) -> np.ndarray:
    """A dictionary column's indices as int32 codes (-1 for missing)."""
    indices = pa.chunked_array([chunk.indices for chunk in column.chunks], type=column.type.index_type)
    if indices.null_count:
        indices = indices.fill_null(-1)
    return indices.to_numpy().astype(np.int32, copy=False)


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _as_categories(dictionary: pa.Array, dtype: pd.CategoricalDtype | None) -> pd.CategoricalDtype | None:
    """The dtype whose codes a column's one dictionary already is, or None (then the values are looked up).

    That is ``dtype`` when the dictionary is exactly its categories; without a ``dtype``, the dictionary
    itself when its values are distinct and not null (pandas checks), as the categories in order of
    first appearance that the lookup would give for a file written by :func:`write_table`.
    """
    if not _is_text(dictionary.type):
        return None
    if dtype is not None:
        if len(dictionary) != len(dtype.categories) or not pd.api.types.is_string_dtype(dtype.categories.dtype):
            return None
        # compared in Arrow: no Python string made for the dictionary's (national: 600,000) values
        same = dictionary.cast(pa.string()).equals(_arrow_categories(dtype.categories))
        return dtype if same else None
    try:
        return pd.CategoricalDtype(pd.Index(dictionary.cast(pa.string()).to_numpy(zero_copy_only=False),
                                            dtype=object))
    except ValueError:  # repeated or null values: look them up
        return None


def _restored(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if cats.dtype == object and any(isinstance(c, str) and c.startswith("'") for c in cats):
            return s.cat.rename_categories([restore_text(c) for c in cats])
    elif s.dtype == object and s.map(lambda v: isinstance(v, str) and v.startswith("'")).any():
        return s.map(restore_text)
    return s
