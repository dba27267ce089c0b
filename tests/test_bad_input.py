"""Bad input and damaged stores: each gets a clear message (file, row, column, value) and its exit status.

Small data throughout (a 40-person study written as text), so these run in CI.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import longitudinal as lg
from longitudinal.cli import app
from longitudinal.ingest import IngestInputError, RowsRejectedError, parse_dates
from longitudinal.io import csv_bytes, neutralise_formulas, read_table, write_table
from longitudinal.study import STORE_MARKER, StoreError, check_store

KEY = "a-test-key-that-is-not-secret"
TODAY = "2026-06-01"


def write(folder: Path, base, **changed) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in base.items():
        changed.get(name, df).to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    return folder


def ingest(raw, store, **kw):
    kw.setdefault("key", KEY)
    kw.setdefault("today", TODAY)
    return lg.ingest(raw, store, **kw)


def text(result) -> str:
    return " ".join(result.output.split())  # rich wraps long lines


# ------------------------------------------------------------------ unreadable files: exit 2, naming the file
def test_utf16_is_named(tmp_path, base):
    raw = write(tmp_path / "raw", base)
    (raw / "people.csv").write_bytes((raw / "people.csv").read_text().encode("utf-16"))
    with pytest.raises(IngestInputError, match="people.csv: the file is UTF-16 text"):
        ingest(raw, tmp_path / "store")


@pytest.mark.parametrize("table", ["people", "episodes", "readings", "spend"])
def test_header_only_table_is_refused_alike(tmp_path, base, table):
    raw = write(tmp_path / "raw", base, **{table: base[table].iloc[:0]})
    with pytest.raises(IngestInputError, match=f"{table}.csv: the {table} table has a header but no data rows"):
        ingest(raw, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_header_only_optional_table_says_it_may_be_left_out(tmp_path, base):
    raw = write(tmp_path / "raw", base)
    (raw / "service_use.csv").write_text("person_id,event_date,service,count\n")
    with pytest.raises(IngestInputError, match="service_use.csv: the optional service_use table has a header but "
                                               "no data rows; supply its rows, or leave the file out"):
        ingest(raw, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_corrupted_parquet_delivery_names_the_file(tmp_path, base):
    raw = write(tmp_path / "raw", base)
    df = pd.read_csv(raw / "readings.csv", dtype=str)
    (raw / "readings.csv").unlink()
    df.to_parquet(raw / "readings.parquet")
    data = bytearray((raw / "readings.parquet").read_bytes())
    data[len(data) // 3: len(data) // 3 + 64] = b"\0" * 64
    (raw / "readings.parquet").write_bytes(bytes(data))
    with pytest.raises(IngestInputError, match="readings.parquet: cannot be read as Parquet"):
        ingest(raw, tmp_path / "store")


# ------------------------------------------------------------------ dates
def test_placeholder_dates_are_rejected_with_the_hint(tmp_path, base):
    ep = base["episodes"].copy()
    ended = ep.index[ep["end_date"] != ""][:3]
    for i, v in zip(ended, ("9999-12-31", "0001-01-01", "999999")):
        ep.loc[i, "end_date"] = v
    raw = write(tmp_path / "raw", base, episodes=ep)
    report = ingest(raw, tmp_path / "store")
    rej = pd.read_csv(tmp_path / "store" / "rejects" / "episodes.csv", dtype=str)
    assert len(rej) >= 3 and report.tables["episodes"].rejected == len(rej)
    for i, v in zip(ended, ("9999-12-31", "0001-01-01", "999999")):
        row = rej[rej["row_number"] == str(i + 2)].iloc[0]
        assert row["column"] == "end_date" and row["value"] == v  # only the date: end_reason is not blamed
        assert "placeholder, not a date (leave end_date blank while support is open)" in row["reason"]


def test_us_order_file_is_read_month_first_and_says_so(tmp_path, base):
    ep, rd = base["episodes"].copy(), base["readings"].copy()
    us = lambda s: pd.to_datetime(s.replace("", None)).dt.strftime("%m/%d/%Y").fillna("")  # noqa: E731
    for c in ("start_date", "end_date"):
        ep[c] = us(ep[c])
    rd["reading_date"] = us(rd["reading_date"])
    ingest(write(tmp_path / "iso", base), tmp_path / "a")
    report = ingest(write(tmp_path / "us", base, episodes=ep, readings=rd), tmp_path / "b")
    assert report.ok
    a, b = lg.load(tmp_path / "a"), lg.load(tmp_path / "b")
    pd.testing.assert_frame_equal(a.episodes, b.episodes)
    pd.testing.assert_frame_equal(a.readings, b.readings)
    orders = {s.path: s.date_order for s in report.sources}
    assert orders["episodes.csv"].startswith("month-first (mm/dd/yyyy)")
    meta = json.loads((tmp_path / "b" / STORE_MARKER).read_text())
    assert any(s["date_order"].startswith("month-first") for s in meta["sources"] if s["date_order"])


def test_file_with_both_orders_is_refused(tmp_path, base):
    ep = base["episodes"].copy()
    ep["start_date"] = pd.to_datetime(ep["start_date"]).dt.strftime("%m/%d/%Y")
    us_only = ep.index[pd.to_datetime(base["episodes"]["start_date"]).dt.day > 12][0]
    uk_only = ep.index[pd.to_datetime(base["episodes"]["start_date"]).dt.day > 12][1]
    ep.loc[uk_only, "start_date"] = pd.Timestamp(base["episodes"].loc[uk_only, "start_date"]).strftime("%d/%m/%Y")
    with pytest.raises(IngestInputError, match=rf"episodes.csv: dates are written in both orders: 1 can only be "
                                               rf"day/month/year, e.g. .* \(row {uk_only + 2}, start_date\)"):
        ingest(write(tmp_path / "raw", base, episodes=ep), tmp_path / "store")
    assert ep.loc[us_only, "start_date"]  # the other kind exists in the same file


def test_ambiguous_file_is_read_day_first_and_says_so(tmp_path, base):
    sp = base["spend"]  # no dates; readings made ambiguous: every day 12 or less
    rd = base["readings"].copy()
    d = pd.to_datetime(rd["reading_date"])
    keep = d.dt.day <= 12
    ep = base["episodes"].copy()
    rd = rd[keep].copy()
    rd["reading_date"] = pd.to_datetime(rd["reading_date"]).dt.strftime("%d/%m/%Y")
    report = ingest(write(tmp_path / "raw", base, readings=rd, spend=sp, episodes=ep), tmp_path / "store")
    order = next(s.date_order for s in report.sources if s.path == "readings.csv")
    assert order.startswith("day-first (dd/mm/yyyy), assumed")
    got = lg.load(tmp_path / "store").readings["reading_date"].sort_values().to_numpy()
    assert (got == pd.to_datetime(base["readings"]["reading_date"])[keep].sort_values().to_numpy()).all()


def test_parse_dates_month_first():
    d, why = parse_dates(["05/13/2024", "13/05/2024"], month_first=True)
    assert d[0] == pd.Timestamp("2024-05-13") and "month 13" in why[1] and "mm/dd/yyyy" in why[1]


# ------------------------------------------------------------------ output problems: exit 2, no traceback
def test_file_as_out_and_unwritable_out(tmp_path, base, monkeypatch):
    raw = write(tmp_path / "raw", base)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(IngestInputError, match="--out .*afile is a file"):
        ingest(raw, tmp_path / "afile")
    # a parent that is a file: cannot be created, whoever runs it (root included)
    with pytest.raises(IngestInputError, match="cannot create"):
        ingest(raw, tmp_path / "afile" / "store")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("x")
    with pytest.raises(IngestInputError, match="holds files that are not a store \\(thesis.docx\\)"):
        ingest(raw, tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.docx").exists()
    monkeypatch.setenv("LONGITUDINAL_PSEUDONYM_KEY", KEY)
    r = CliRunner().invoke(app, ["ingest", str(raw), "--out", str(tmp_path / "afile")])
    assert r.exit_code == 2 and "is a file" in text(r) and "Traceback" not in r.output
    if os.geteuid() != 0:  # permissions do not bite as root
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            r = CliRunner().invoke(app, ["ingest", str(raw), "--out", str(ro / "store")])
            assert r.exit_code == 2 and "cannot write" in text(r), r.output
        finally:
            ro.chmod(0o755)


def test_every_table_rejected_is_not_published_even_when_rejects_allowed(tmp_path, base):
    sp = base["spend"].copy()
    sp["spend_gbp"] = "lots"
    raw = write(tmp_path / "raw", base, spend=sp)
    with pytest.raises(RowsRejectedError, match=r"every row of spend"):
        ingest(raw, tmp_path / "store", allow_rejects=True)
    assert not (tmp_path / "store").exists()
    assert (tmp_path / "store.refused" / "rejects" / "spend.csv").exists()


# ------------------------------------------------------------------ spreadsheet formula injection
def test_formulas_are_neutralised_in_rejects_numbers_untouched(tmp_path, base):
    pp = base["people"].copy()
    pp.loc[0, "sex"] = '=HYPERLINK("http://x","y")'
    pp.loc[1, "sex"] = "@SUM(A1)"
    pp.loc[2, "birth_year"] = "-1967"
    raw = write(tmp_path / "raw", base, people=pp)
    ingest(raw, tmp_path / "store")
    rej = pd.read_csv(tmp_path / "store" / "rejects" / "people.csv", dtype=str, keep_default_na=False)
    vals = dict(zip(rej["row_number"], rej["value"]))
    assert vals["2"] == """'=HYPERLINK("http://x","y")""" and vals["3"] == "'@SUM(A1)"
    assert vals["4"] == "-1967"  # a number stays a number
    for f in (tmp_path / "store" / "rejects").glob("*.csv"):
        for cell in pd.read_csv(f, dtype=str, keep_default_na=False).to_numpy().ravel():
            assert not (cell[:1] in ("=", "+", "@", "\t", "\r") or (cell[:1] == "-" and not cell[1:2].isdigit()))


def test_neutralise_rule():
    df = pd.DataFrame({"t": ["=1+2", "+cmd|' /C calc'!A0", "-x", "@x", "\tx", "\rx", "-3.5", "-1,200", "ok", None],
                       "n": [-1.5, 2, -3, 4, 5, 6, 7, 8, 9, 10]})
    out = neutralise_formulas(df)
    assert out["t"].tolist()[:6] == ["'" + v for v in df["t"][:6]]
    assert out["t"].tolist()[6:] == ["-3.5", "-1,200", "ok", None]
    assert out["n"].equals(df["n"])
    assert csv_bytes(pd.DataFrame({"=a": ["=b"]})) == b"'=a\n'=b\n"


def test_xlsx_cells_are_text_never_formulas(tmp_path):
    import openpyxl

    from longitudinal.io import write_xlsx

    df = pd.DataFrame({"label": ['=HYPERLINK("http://x","y")', "-3.5", "ok"], "n": [-1.5, 2.0, 3.0]})
    write_xlsx({"t": df}, tmp_path / "a.xlsx")
    time.sleep(2.1)  # zip entries are stamped to 2 s: the second file is written in another tick
    write_xlsx({"t": df}, tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    ws = openpyxl.load_workbook(tmp_path / "a.xlsx").active
    cells = [[c.value for c in r] for r in ws.iter_rows()]
    assert cells[1] == ["""'=HYPERLINK("http://x","y")""", -1.5] and cells[2] == ["-3.5", 2.0]
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)


def test_write_table_csv_round_trips_neutralised_text(tmp_path):
    df = pd.DataFrame({"provider_id": ["=P1", "P2"], "x": [-1, 2]})
    write_table(df, tmp_path / "t.csv")
    assert "'=P1" in (tmp_path / "t.csv").read_text()
    back = read_table(tmp_path / "t.csv")
    assert back["provider_id"].astype(str).tolist() == ["=P1", "P2"] and back["x"].tolist() == [-1, 2]


# ------------------------------------------------------------------ the store is checked before it is used
def test_load_refuses_damaged_changed_or_unmarked_folders(tmp_path, base):
    raw = write(tmp_path / "raw", base)
    ingest(raw, tmp_path / "store")
    assert check_store(tmp_path / "store")["store_files"].keys() >= {"people.parquet", "readings.parquet"}
    data = bytearray((tmp_path / "store" / "readings.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "store" / "readings.parquet").write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"readings.parquet differs from what ingest wrote"):
        lg.load(tmp_path / "store")
    (tmp_path / "store" / STORE_MARKER).unlink()
    with pytest.raises(StoreError, match=r"not a study store: it has no ingest_report.json"):
        lg.load(tmp_path / "store")
    r = CliRunner().invoke(app, ["report", "annual", "--data", str(tmp_path / "store"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no ingest_report.json" in text(r)
    assert not (tmp_path / "o" / "2025").exists()


def test_store_of_an_older_version_loads_with_a_warning(tmp_path, base):
    from longitudinal.errors import LongitudinalWarning

    ingest(write(tmp_path / "raw", base), tmp_path / "store")
    marker = tmp_path / "store" / STORE_MARKER
    meta = json.loads(marker.read_text())
    del meta["store_files"]
    marker.write_text(json.dumps(meta))
    with pytest.warns(LongitudinalWarning, match="records no table hashes"):
        assert len(lg.load(tmp_path / "store").people) == len(base["people"])


def test_tables_written_from_a_loaded_study_say_how_to_become_a_store(tmp_path, base):
    store = tmp_path / "store"
    ingest(write(tmp_path / "raw", base), store)
    part = lg.load(store)
    part.truth = None  # real people: no truth.json to mark the folder synthetic
    part.write(tmp_path / "part")
    with pytest.raises(StoreError, match="--already-pseudonymised"):
        lg.load(tmp_path / "part")
    lg.ingest(tmp_path / "part", tmp_path / "part-store", already_pseudonymised=True, today=TODAY)
    assert len(lg.load(tmp_path / "part-store").people) == len(part.people)
