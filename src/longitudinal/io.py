"""Reading and writing tables, byte-stable: the same frame always gives the same file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["write_table", "read_table", "atomic_path"]


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


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    arrays, names = [], []
    for name, s in df.items():
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("string")
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            arr = pa.array(s, from_pandas=True).cast(pa.date32())
        else:
            arr = pa.array(s, from_pandas=True)
        arrays.append(arr)
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as CSV (UTF-8, ISO dates, blank for missing) or Parquet, atomically.

    Dates are written as dates (``YYYY-MM-DD``), categoricals as their
    values; the index is not written.
    """
    path = Path(path)
    table = _to_arrow(df)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="needed"))
        elif path.suffix == ".parquet":
            pq.write_table(table, tmp, compression="zstd")
        else:
            raise ValueError(f"{path}: unknown table format {path.suffix!r}; use .csv or .parquet")
    return path


_NULLABLE_INTS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype()}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet table written by :func:`write_table` (trusted, no validation)."""
    path = Path(path)
    if path.suffix == ".parquet":
        schema = pq.read_schema(path)
        strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        # dictionary-encoded strings arrive as categoricals: no Python string per row at national scale
        table = pq.read_table(path, read_dictionary=strings)
        # One dictionary per column (pandas otherwise builds and merges a categorical per row group) and
        # dates as ns timestamps (their final dtype): pandas then gets each column once, in its final form.
        if table.num_columns and table.column(0).num_chunks > 1:
            table = table.unify_dictionaries()
        dates = [i for i, f in enumerate(table.schema) if pa.types.is_date(f.type)]
        for i in dates:
            table = table.set_column(i, table.schema[i].name, table.column(i).cast(pa.timestamp("ns")))
        return table.to_pandas(types_mapper=_NULLABLE_INTS.get, split_blocks=True, self_destruct=True)
    if path.suffix == ".csv":
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True, auto_dict_encode=True),
        )
        return table.to_pandas()
    raise ValueError(f"{path}: unknown table format {path.suffix!r}; use .csv or .parquet")
