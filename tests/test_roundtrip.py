"""Round trip: simulate → write (CSV, Parquet, Excel) → ingest → load, reconciling every count and value."""

from __future__ import annotations

import hashlib
import hmac
import json

import pandas as pd
import pytest

import longitudinal as lg
from longitudinal.ingest import IngestInputError
from longitudinal.pseudonymise import DIGEST_HEX_CHARS
from longitudinal.study import STORE_MARKER, TRUTH_FILE

KEY = "a-test-key-that-is-not-secret"


def _pseudo(values) -> list[str]:
    return [hmac.new(KEY.encode(), str(v).encode(), hashlib.sha256).hexdigest()[:DIGEST_HEX_CHARS] for v in values]


@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=300, seed=21)


def _comparable(s: lg.Study, pseudonymise: bool) -> dict[str, pd.DataFrame]:
    """Tables with ids pseudonymised (as ingest would) and codes as text, in a fixed order."""
    out = {}
    for name, df in s.tables().items():
        d = df.copy()
        for c in d.columns:
            if isinstance(d[c].dtype, pd.CategoricalDtype):
                d[c] = d[c].astype(object)
            if pseudonymise and c in ("person_id", "episode_id"):
                d[c] = _pseudo(d[c])
        d["score"] = d["score"].astype("float64") if "score" in d else None
        d = d.drop(columns=[c for c in d.columns if d[c] is None or c == "score" and name != "readings"])
        out[name] = d.sort_values(list(d.columns)).reset_index(drop=True)
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_reconciles_every_count_and_value(tmp_path, study, fmt):
    study.write(tmp_path / "raw", format=fmt)
    report = lg.ingest(tmp_path / "raw", tmp_path / "store", key=KEY)
    assert report.ok
    for name, df in study.tables().items():
        c = report.tables[name]
        assert c.read == c.accepted == len(df) and c.rejected == 0
    loaded = lg.load(tmp_path / "store")
    assert loaded.truth == json.loads((tmp_path / "raw" / TRUTH_FILE).read_text())
    want, got = _comparable(study, True), _comparable(loaded, False)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False, obj=name)
    # dtypes a researcher expects
    assert isinstance(loaded.readings["outcome"].dtype, pd.CategoricalDtype)
    assert str(loaded.readings["score"].dtype) == "Int8"
    assert pd.api.types.is_datetime64_any_dtype(loaded.episodes["start_date"])
    # the shared analysis table works on the store
    assert len(loaded.long()) == study.readings["score"].notna().sum()


def test_round_trip_through_excel(tmp_path):
    small = lg.simulate(people=25, seed=4)
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, df in small.tables().items():
        d = df.copy()
        for c in d.columns:
            if isinstance(d[c].dtype, pd.CategoricalDtype):
                d[c] = d[c].astype(object)
        d.to_excel(raw / f"{name}.xlsx", index=False, sheet_name=name, engine="openpyxl")
    report = lg.ingest(raw, tmp_path / "store", key=KEY)
    assert report.ok, report.reasons
    assert {s.format for s in report.sources} == {"xlsx"}
    loaded = lg.load(tmp_path / "store")
    want, got = _comparable(small, True), _comparable(loaded, False)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False, obj=name)


def test_same_input_gives_byte_identical_store(tmp_path, study):
    study.write(tmp_path / "raw", format="csv")
    digests = []
    for run in ("a", "b"):
        lg.ingest(tmp_path / "raw", tmp_path / run, key=KEY)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted((tmp_path / run).glob("*.parquet"))})
    assert digests[0] == digests[1] and len(digests[0]) == len(study.tables())


def test_store_marker_written_last_and_report_contents(tmp_path, study):
    study.write(tmp_path / "raw", format="csv")
    report = lg.ingest(tmp_path / "raw", tmp_path / "store", key=KEY)
    store = tmp_path / "store"
    marker = store / STORE_MARKER
    newest_table = max(p.stat().st_mtime_ns for p in store.glob("*.parquet"))
    assert marker.stat().st_mtime_ns >= newest_table
    meta = json.loads(marker.read_text())
    assert meta["tables"]["readings"] == {"read": len(study.readings), "accepted": len(study.readings), "rejected": 0}
    assert {s["path"] for s in meta["sources"]} == {"people.csv", "episodes.csv", "readings.csv", "spend.csv",
                                                    "service_use.csv"}
    assert meta["key_fingerprint"] == report.key_fingerprint and KEY not in marker.read_text()
    # unreadable input changes nothing: the previous store stays whole and valid
    before = {p.name: p.read_bytes() for p in store.iterdir() if p.is_file()}
    (tmp_path / "raw" / "people.csv").write_text("person_id,sex\n")
    with pytest.raises(IngestInputError, match="missing column"):
        lg.ingest(tmp_path / "raw", store, key=KEY)
    assert {p.name: p.read_bytes() for p in store.iterdir() if p.is_file()} == before


def test_parquet_text_columns_read_as_pandas_reads_them(tmp_path):
    """Several row groups, each with its own dictionary, nulls, and ids shared with another table's
    categories (read_table's categories=): the same values as pyarrow's own conversion, none lost."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from longitudinal.io import read_table

    rng = np.random.default_rng(7)
    ids = np.array([f"id{i:04d}" for i in range(300)], dtype=object)
    values = rng.choice(ids, 5_000).astype(object)
    values[rng.random(5_000) < 0.05] = None
    values[-3:] = ["new1", "new2", "new1"]  # not among the shared categories
    small = rng.choice(["a", "b", "c"], 5_000)
    table = pa.table({"person_id": values, "code": small, "n": np.arange(5_000)})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=700)  # eight row groups, eight dictionaries
    want = pq.read_table(path).to_pandas()

    own = read_table(path)
    for col in ("person_id", "code"):
        assert isinstance(own[col].dtype, pd.CategoricalDtype)
        assert own[col].astype(object).equals(want[col].astype(object)), col
        # categories in order of first appearance, as pandas' own conversion gives them
        assert list(own[col].cat.categories) == list(pd.unique(want[col].dropna()))
    assert own["n"].equals(want["n"])

    shared = pd.CategoricalDtype(ids[::-1])  # another table's ids, in its own order
    got = read_table(path, categories={"person_id": shared})
    assert got["person_id"].astype(object).equals(want["person_id"].astype(object))
    assert list(got["person_id"].cat.categories) == list(ids[::-1]) + ["new1", "new2"]
    got = read_table(path.with_name("t.parquet"), categories={"person_id": pd.CategoricalDtype([*ids, "new1", "new2"])})
    assert got["person_id"].dtype == pd.CategoricalDtype([*ids, "new1", "new2"])


@pytest.mark.parametrize("case", ["distinct", "repeated", "missing", "widths"])
def test_key_columns_read_as_values_give_what_the_general_reading_gives(tmp_path, case):
    """read_table's keys=: a key column is read as its values and they become the categories once found
    distinct (on their bytes, for identifiers of one width); a column that is not (a repeated or missing
    value, mixed widths) is read the general way: either way, the frame is the one read without keys=."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from longitudinal.io import read_table

    rng = np.random.default_rng(3)
    ids = np.array([f"{v:016x}" for v in rng.integers(0, 2**62, 2_000)], dtype=object)
    if case == "repeated":
        ids[1_500] = ids[20]
    elif case == "missing":
        ids[7] = None
    elif case == "widths":
        ids[::3] = [f"p{i}" for i in range(len(ids[::3]))]
    path = tmp_path / "people.parquet"
    pq.write_table(pa.table({"person_id": pa.array(ids).dictionary_encode(), "n": np.arange(len(ids))}), path)
    plain, keyed = read_table(path), read_table(path, keys=("person_id",))
    pd.testing.assert_frame_equal(keyed, plain)
    assert list(keyed["person_id"].cat.categories) == list(plain["person_id"].cat.categories)
    assert keyed["person_id"].astype(object).where(keyed["person_id"].notna(), None).tolist() == list(ids)
    if case == "distinct":
        assert keyed["person_id"].cat.categories.is_unique
        assert keyed["person_id"].cat.codes.tolist() == list(range(len(ids)))


def test_rows_distinct_finds_every_repeat_and_only_repeats():
    """The check behind key columns, against Python's own set on rows of several widths, including rows
    that differ in one byte only and widths that are not a multiple of 8."""
    import numpy as np

    from longitudinal._numeric import rows_distinct

    rng = np.random.default_rng(5)
    for width in (1, 5, 8, 13, 16, 24):
        for n in (0, 1, 2, 50, 3_000):
            rows = rng.integers(0, 256, (n, width), dtype=np.uint8)
            assert rows_distinct(rows) == (len({r.tobytes() for r in rows}) == n), (width, n)
            if n > 1:
                rows[n // 2] = rows[0]
                assert not rows_distinct(rows)
                rows[n // 2, -1] ^= 1  # one byte apart: distinct again (unless the byte space is tiny)
                assert rows_distinct(rows) == (len({r.tobytes() for r in rows}) == n)


def test_loaded_store_shares_one_dtype_per_identifier(tmp_path, study):
    study.write(tmp_path / "raw", format="parquet")
    loaded = lg.load(tmp_path / "raw")
    person, episode = loaded.people["person_id"].dtype, loaded.episodes["episode_id"].dtype
    assert loaded.episodes["person_id"].dtype == person and loaded.readings["person_id"].dtype == person
    assert loaded.readings["episode_id"].dtype == episode
    for name, df in study.tables().items():
        for col in df.columns:
            assert df[col].astype(object).equals(getattr(loaded, name)[col].astype(object)), (name, col)


def test_service_use_is_parsed_on_first_use_from_the_bytes_checked_at_load(tmp_path, study):
    """The load defers the large optional table, but what it parses later is what it checked: a file
    replaced after the load changes nothing, and a pickled study carries the table itself."""
    import pickle

    import numpy as np

    from longitudinal.io import UnreadableFileError

    study.write(tmp_path / "raw", format="parquet")
    lg.ingest(tmp_path / "raw", tmp_path / "store", key=KEY)
    want = lg.load(tmp_path / "store").service_use
    assert want is not None and len(want) == len(study.service_use) > 0
    loaded = lg.load(tmp_path / "store")
    assert f"service_use={len(want):,}" in repr(loaded)  # known without parsing
    long = loaded.long()
    (tmp_path / "store" / "service_use.parquet").write_bytes(b"replaced after the load")
    pd.testing.assert_frame_equal(loaded.service_use, want)
    # parsing it on first use did not make the study drop its long() table and build it again
    assert np.shares_memory(loaded.long()["time"].to_numpy(), long["time"].to_numpy())
    again = pickle.loads(pickle.dumps(lg.load(tmp_path / "raw")))
    pd.testing.assert_frame_equal(again.service_use, lg.load(tmp_path / "raw").service_use)
    # a file cut short is still refused at load, not at first use
    raw = tmp_path / "raw" / "service_use.parquet"
    raw.write_bytes(raw.read_bytes()[:-100])
    with pytest.raises(UnreadableFileError, match="service_use.parquet"):
        lg.load(tmp_path / "raw")


def test_store_files_hold_the_categories_load_gives(tmp_path, study):
    """ingest writes each table's identifiers as one Parquet dictionary per column, already the categories
    load gives (later tables' ids on the owner's), so that load takes the codes as they are."""
    import pyarrow.parquet as pq

    study.write(tmp_path / "raw", format="parquet")
    lg.ingest(tmp_path / "raw", tmp_path / "store", key=KEY)
    loaded = lg.load(tmp_path / "store")
    person, episode = loaded.people["person_id"].dtype, loaded.episodes["episode_id"].dtype
    assert loaded.episodes["person_id"].dtype == person and loaded.readings["person_id"].dtype == person
    assert loaded.service_use["person_id"].dtype == person and loaded.readings["episode_id"].dtype == episode
    for name in ("people", "episodes", "readings", "service_use"):
        path = tmp_path / "store" / f"{name}.parquet"
        assert pq.ParquetFile(path).metadata.num_row_groups == 1, name
        frame = getattr(loaded, name)
        for col in ("person_id", "episode_id"):
            if col in frame.columns:
                chunks = pq.read_table(path, columns=[col]).column(col).chunks
                assert len(chunks) == 1, (name, col)
                assert chunks[0].dictionary.to_pylist() == [str(c) for c in frame[col].cat.categories], (name, col)


def test_load_hashes_while_it_parses_and_refuses_a_damaged_store_as_one(tmp_path, study, monkeypatch):
    """The SHA-256 checks run beside the parsing (a thread); the study's data_hash is still that of the
    files' names and bytes in name order, and a file changed after ingest is a StoreError naming it even
    where its bytes no longer parse (the hash, not the parser, speaks)."""
    study.write(tmp_path / "raw", format="parquet")
    lg.ingest(tmp_path / "raw", tmp_path / "store", key=KEY)
    files = sorted(p for p in (tmp_path / "store").iterdir() if p.name.split(".")[0] in lg.Study.__dataclass_fields__
                   and p.suffix == ".parquet")
    want = hashlib.sha256(b"".join(p.name.encode() + b"\0" + p.read_bytes() for p in files)).hexdigest()
    assert lg.load(tmp_path / "store").metadata["data_hash"] == want
    people = tmp_path / "store" / "people.parquet"
    people.write_bytes(b"PAR1 not a parquet file PAR1")
    with pytest.raises(lg.study.StoreError, match="people.parquet differs from what ingest wrote"):
        lg.load(tmp_path / "store")
