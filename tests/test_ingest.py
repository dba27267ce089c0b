"""Validated ingest: one test per class of bad input, asserting the reason a person is shown.

Each test starts from a small valid synthetic study written as CSV text, breaks
it in one known way, ingests it and reads ``rejects/<table>.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

import longitudinal as lg
from longitudinal.cli import app
from longitudinal.ingest import IngestInputError, RowsRejectedError, parse_dates, read_lead_needs
from longitudinal.pseudonymise import MissingKeyError, pseudonymise
from longitudinal.study import STORE_MARKER

KEY = "a-test-key-that-is-not-secret"
TODAY = "2026-06-01"


def tables(base) -> dict[str, pd.DataFrame]:
    return {k: v.copy() for k, v in base.items()}


def write(folder: Path, t: dict[str, pd.DataFrame], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in t.items():
        df.to_csv(folder / f"{name}.csv", index=False, encoding=encoding, lineterminator="\n")
    return folder


def run(tmp_path: Path, t, **kw):
    raw = write(tmp_path / "raw", t)
    kw.setdefault("key", KEY)
    kw.setdefault("today", TODAY)
    report = lg.ingest(raw, tmp_path / "store", **kw)
    return report, rejects(tmp_path / "store")


def rejects(store: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in ("people", "episodes", "readings", "spend"):
        f = store / "rejects" / f"{name}.csv"
        out[name] = pd.read_csv(f, dtype=str, keep_default_na=False) if f.exists() else pd.DataFrame(
            columns=["source_file", "row_number", "column", "value", "reason"])
    return out


def only_reason(rej: pd.DataFrame, row_number: int) -> str:
    hit = rej[rej["row_number"] == str(row_number)]
    assert len(hit) == 1, rej
    return hit.iloc[0]["reason"]


def assert_reconciles(report):
    for name, c in report.tables.items():
        assert c.accepted + c.rejected == c.read, name


# ------------------------------------------------------------------ clean data
def test_clean_study_is_accepted_whole(tmp_path, base):
    report, rej = run(tmp_path, tables(base))
    assert report.ok and report.published
    assert {t: c.read for t, c in report.tables.items()} == {t: len(df) for t, df in base.items()}
    assert not (tmp_path / "store" / "rejects").exists()
    meta = json.loads((tmp_path / "store" / STORE_MARKER).read_text())
    assert meta["pseudonymised"] and meta["key_fingerprint"] and KEY not in json.dumps(meta)
    assert all(len(s["sha256"]) == 64 for s in meta["sources"])
    study = lg.load(tmp_path / "store")
    # ids were replaced by pseudonyms, consistently across tables
    assert not set(study.people["person_id"]) & set(base["people"]["person_id"])
    assert set(study.episodes["person_id"]) <= set(study.people["person_id"])
    assert set(study.readings["episode_id"]) <= set(study.episodes["episode_id"])


def test_duckdb_holds_the_same_tables(tmp_path, base):
    import duckdb

    report, _ = run(tmp_path, tables(base))
    con = duckdb.connect(str(tmp_path / "store" / "study.duckdb"), read_only=True)
    try:
        for name, c in report.tables.items():
            assert con.execute(f"select count(*) from {name}").fetchone()[0] == c.accepted
    finally:
        con.close()


# ------------------------------------------------------------------ types and allowed values
def test_not_a_whole_number(tmp_path, base):
    t = tables(base)
    t["people"].loc[0, "birth_year"] = "nineteen"
    report, rej = run(tmp_path, t)
    assert only_reason(rej["people"], 2) == "birth year 'nineteen' is not a whole number"
    assert rej["people"].iloc[0]["column"] == "birth_year" and rej["people"].iloc[0]["value"] == "nineteen"
    assert_reconciles(report)


def test_value_not_allowed(tmp_path, base):
    t = tables(base)
    t["people"].loc[3, "sex"] = "unknown"
    t["episodes"].loc[1, "service_type"] = "medium_term"
    report, rej = run(tmp_path, t)
    assert only_reason(rej["people"], 5) == "sex 'unknown' is not recognised — expected female, male or other"
    assert only_reason(rej["episodes"], 3).startswith(
        "service type 'medium_term' is not recognised — expected short_term or long_term")


def test_local_authority_welsh_names_and_codes_accepted_unknown_rejected(tmp_path, base):
    t = tables(base)
    t["episodes"].loc[0, "local_authority"] = "Caerdydd"
    t["episodes"].loc[1, "local_authority"] = "W06000001"
    t["episodes"].loc[2, "local_authority"] = "ynys môn"
    t["episodes"].loc[3, "local_authority"] = "Cardif"
    report, rej = run(tmp_path, t)
    reason = only_reason(rej["episodes"], 5)
    assert reason.startswith("'Cardif' is not one of the 22 Welsh local authorities")
    assert list(rej["episodes"]["row_number"]) == ["5"] or set(rej["episodes"]["row_number"]) == {"5"}
    study = lg.load(tmp_path / "store")
    las = study.episodes["local_authority"].astype(str)
    assert {"Cardiff", "Isle of Anglesey"} <= set(las)


def test_outcome_display_names_accepted_unknown_rejected(tmp_path, base):
    t = tables(base)
    t["readings"].loc[0, "outcome"] = lg.domain.OUTCOMES[t["readings"].loc[0, "outcome"]].name.upper()
    t["readings"].loc[1, "outcome"] = "happiness"
    report, rej = run(tmp_path, t)
    assert only_reason(rej["readings"], 3).startswith("outcome 'happiness' is not one of the 11 outcome areas")
    assert report.tables["readings"].rejected == 1


def test_lead_need_default_and_study_list(tmp_path, base):
    t = tables(base)
    t["episodes"].loc[0, "lead_need"] = "Veterans"
    report, rej = run(tmp_path, t)
    assert only_reason(rej["episodes"], 2).startswith("lead need 'Veterans' is not in this study's list of lead needs")
    # the study's own list, from YAML, accepts it (and its display name)
    needs = tmp_path / "needs.yaml"
    codes = "\n".join(f"  - {c}" for c in lg.domain.LEAD_NEED_CODES)
    needs.write_text(f"lead_needs:\n{codes}\n  - code: veterans\n    name: Veterans\n")
    assert read_lead_needs(needs)["veterans"] == "Veterans"
    report, rej = run(tmp_path / "b", t, lead_needs=needs)
    assert report.ok
    study = lg.load(tmp_path / "b" / "store")
    assert "veterans" in set(study.episodes["lead_need"].astype(str))
    assert "veterans" in list(study.episodes["lead_need"].cat.categories)


# ------------------------------------------------------------------ dates
def test_date_formats_iso_uk_and_excel_serial():
    dates, why = parse_dates(["2024-05-31", "31/05/2024", "31.05.2024", "45443", "2024-05-31 00:00:00", None])
    assert dates.iloc[:5].dt.strftime("%Y-%m-%d").tolist() == ["2024-05-31"] * 5
    assert why.isna().all() and pd.isna(dates.iloc[5])


@pytest.mark.parametrize("text, reason", [
    ("31/02/2024", "date '31/02/2024' does not exist (February 2024 has no day 31)"),
    ("05/13/2024", "date '05/13/2024' has month 13, which does not exist — dates are read as dd/mm/yyyy or yyyy-mm-dd"),
    ("31/05/24", "date '31/05/24' has a two-digit year — expected dd/mm/yyyy with a four-digit year"),
    ("last tuesday", "'last tuesday' is not a date — expected yyyy-mm-dd (2024-05-31), dd/mm/yyyy (31/05/2024) "
                     "or an Excel date"),
])
def test_impossible_dates(text, reason):
    _, why = parse_dates([text])
    assert why[0] == reason


def test_bad_and_future_dates_rejected(tmp_path, base):
    t = tables(base)
    t["episodes"].loc[0, "start_date"] = "30/02/2021"
    ep = t["episodes"].loc[1]
    r_idx = t["readings"].index[t["readings"]["episode_id"] == ep["episode_id"]][0]
    t["readings"].loc[r_idx, "reading_date"] = "2030-01-01"
    report, rej = run(tmp_path, t)
    assert only_reason(rej["episodes"], 2).startswith("date '30/02/2021' does not exist (February 2021 has no day 30)")
    assert "date 2030-01-01 is in the future (after 2026-06-01)" in only_reason(rej["readings"], r_idx + 2)


# ------------------------------------------------------------------ scores
def test_scores(tmp_path, base):
    t = tables(base)
    scored = t["readings"].index[t["readings"]["score"] != ""]
    t["readings"].loc[scored[0], "score"] = "7"
    t["readings"].loc[scored[1], "score"] = "3.5"
    t["readings"].loc[scored[2], "score"] = "good"
    t["readings"].loc[scored[3], "score"] = "4.0"  # Excel's way of writing 4: fine
    t["readings"].loc[scored[4], "score"] = ""  # blank: no need in this area, valid
    report, rej = run(tmp_path, t)
    r = rej["readings"]
    assert only_reason(r, scored[0] + 2) == ("score 7 is outside the Journey of Change scale 1–5 "
                                              "(blank means no need in this area)")
    assert only_reason(r, scored[1] + 2).startswith("score 3.5 is not a whole stage of the Journey of Change scale")
    assert only_reason(r, scored[2] + 2).startswith("score 'good' is not a number — expected the Journey of Change")
    assert report.tables["readings"].rejected == 3


# ------------------------------------------------------------------ references
def test_references(tmp_path, base):
    t = tables(base)
    t["episodes"].loc[0, "person_id"] = "P9999999"  # no such person
    ep1 = t["episodes"].loc[1]
    other_person = t["people"].loc[t["people"]["person_id"] != ep1["person_id"], "person_id"].iloc[0]
    r1 = t["readings"].index[t["readings"]["episode_id"] == ep1["episode_id"]][0]
    t["readings"].loc[r1, "person_id"] = other_person  # reading's person is not its episode's
    r2 = t["readings"].index[t["readings"]["episode_id"] == ep1["episode_id"]][1]
    t["readings"].loc[r2, "episode_id"] = "E_UNKNOWN"
    report, rej = run(tmp_path, t)
    assert only_reason(rej["episodes"], 2) == "person_id is not in the people table — add the person or correct the id"
    assert only_reason(rej["readings"], r1 + 2) == "person_id is not the person of its episode (episodes.csv row 3)"
    assert only_reason(rej["readings"], r2 + 2).startswith("episode_id is not in the episodes table")
    # readings of the rejected episode are rejected, saying why
    ep0_rows = t["readings"].index[t["readings"]["episode_id"] == t["episodes"].loc[0, "episode_id"]] + 2
    cascade = rej["readings"][rej["readings"]["row_number"].astype(int).isin(ep0_rows)]
    assert len(cascade) == len(ep0_rows)
    assert (cascade["reason"] == "its episode was rejected (see rejects/episodes.csv, episodes.csv row 2)").all()
    assert_reconciles(report)


def test_rejected_person_cascades_to_episodes_and_readings(tmp_path, base):
    t = tables(base)
    t["people"].loc[0, "sex"] = "?"
    pid = t["people"].loc[0, "person_id"]
    report, rej = run(tmp_path, t)
    n_ep = (t["episodes"]["person_id"] == pid).sum()
    n_r = (t["readings"]["person_id"] == pid).sum()
    assert report.tables["episodes"].rejected == n_ep and report.tables["readings"].rejected == n_r
    assert (rej["episodes"]["reason"] == "its person was rejected (see rejects/people.csv, people.csv row 2)").all()


# ------------------------------------------------------------------ logic
def test_episode_logic(tmp_path, base):
    t = tables(base)
    closed = t["episodes"].index[t["episodes"]["end_date"] != ""]
    a, b, c = closed[:3]
    t["episodes"].loc[a, "end_date"] = "2019-01-01"
    start_a = t["episodes"].loc[a, "start_date"]
    t["episodes"].loc[b, "end_reason"] = ""
    opened = t["episodes"].index[t["episodes"]["end_date"] == ""]
    if len(opened):
        t["episodes"].loc[opened[0], "end_reason"] = "planned"
    report, rej = run(tmp_path, t)
    e = rej["episodes"]
    reason_a = only_reason(e, a + 2)
    assert "date 2019-01-01 is before 2003-04-01" not in reason_a
    assert f"end date 2019-01-01 is before the start date {start_a} — expected an end on or after the start" in reason_a
    assert only_reason(e, b + 2).startswith(f"end date {t['episodes'].loc[b, 'end_date']} is given but the end reason "
                                            "is blank — give both or neither")
    if len(opened):
        assert only_reason(e, opened[0] + 2) == ("end reason 'planned' is given but the end date is blank — "
                                                 "give both or neither")


def test_reading_dates_against_episode(tmp_path, base):
    t = tables(base)
    ep, r = t["episodes"], t["readings"]
    closed = ep[(ep["end_date"] != "")]
    e0 = closed.iloc[0]
    rows0 = r.index[(r["episode_id"] == e0["episode_id"]) & (r["reading_type"] != "follow_up")]
    before, after = rows0[0], rows0[1]
    r.loc[before, "reading_date"] = (pd.Timestamp(e0["start_date"]) - pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    r.loc[after, "reading_date"] = (pd.Timestamp(e0["end_date"]) + pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    fu = rows0[2]
    r.loc[fu, "reading_type"] = "follow_up"  # a follow-up dated inside the episode
    opened = ep[ep["end_date"] == ""]
    report, rej = run(tmp_path, t)
    rr = rej["readings"]
    assert only_reason(rr, before + 2).startswith("reading date ")
    assert "is before its episode started" in only_reason(rr, before + 2)
    assert "is after its episode ended" in only_reason(rr, after + 2)
    assert "only follow_up readings may come after the end" in only_reason(rr, after + 2)
    assert "is not after its episode ended" in only_reason(rr, fu + 2)
    if len(opened):
        r2 = tables(base)
        o = opened.iloc[0]
        idx = r2["readings"].index[r2["readings"]["episode_id"] == o["episode_id"]][0]
        r2["readings"].loc[idx, "reading_type"] = "follow_up"
        _, rej2 = run(tmp_path / "open", r2)
        assert only_reason(rej2["readings"], idx + 2).startswith("follow_up reading but its episode has not ended")


# ------------------------------------------------------------------ duplicates and blanks
def test_duplicates(tmp_path, base):
    t = tables(base)
    n = len(t["people"])
    copy = t["people"].iloc[[0]]
    clash = t["people"].iloc[[1]].copy()
    clash["birth_year"] = str(int(clash["birth_year"].iloc[0]) + 1)
    t["people"] = pd.concat([t["people"], copy, clash], ignore_index=True)
    report, rej = run(tmp_path, t)
    p = rej["people"]
    assert only_reason(p, n + 2) == "exact duplicate of people.csv row 2 — the first copy was kept"
    # the two rows sharing person 2 are both rejected, and the id is not shown
    for row in (3, n + 3):
        reason = only_reason(p, row)
        assert reason.startswith(f"person_id is shared by rows that differ (people.csv row 3, people.csv row {n + 3})")
    assert (p.loc[p["column"] == "person_id", "value"] == "<person_id withheld: see row>").all()
    assert report.tables["people"].accepted == n - 1


def test_required_blank_and_several_problems_on_one_row(tmp_path, base):
    t = tables(base)
    t["episodes"].loc[0, "provider_id"] = ""
    t["episodes"].loc[1, "service_type"] = "weekly"
    t["episodes"].loc[1, "local_authority"] = "Atlantis"
    report, rej = run(tmp_path, t)
    e = rej["episodes"]
    assert only_reason(e, 2) == "provider_id is blank — a value is required (Support provider)"
    row = e[e["row_number"] == "3"].iloc[0]
    assert row["column"] == "local_authority; service_type"
    assert row["value"] == "Atlantis; weekly"
    assert len(row["reason"].split("; ")) >= 2 and row["reason"].startswith("'Atlantis' is not one of the 22")
    assert_reconciles(report)


def test_rejects_never_show_raw_person_ids(tmp_path, base):
    t = tables(base)
    t["people"].loc[0, "sex"] = "?"
    t["episodes"].loc[2, "person_id"] = "P7654321"
    t["people"] = pd.concat([t["people"], t["people"].iloc[[4]]], ignore_index=True)
    run(tmp_path, t)
    text = "".join(f.read_text() for f in (tmp_path / "store" / "rejects").glob("*.csv"))
    ids = set(base["people"]["person_id"]) | set(base["episodes"]["episode_id"]) | {"P7654321"}
    assert not any(i in text for i in ids)


# ------------------------------------------------------------------ files
def test_several_files_per_table_and_blank_lines(tmp_path, base):
    t = tables(base)
    raw = write(tmp_path / "raw", t)
    (raw / "people.csv").unlink()
    half = len(t["people"]) // 2
    t["people"].iloc[:half].to_csv(raw / "people_a.csv", index=False)
    body = t["people"].iloc[half:].copy()
    body.iloc[1, body.columns.get_loc("sex")] = "robot"
    text = body.to_csv(index=False, lineterminator="\n").split("\n")
    text.insert(2, "")  # a blank line after the first data row: row numbers still match the spreadsheet
    (raw / "people_b.csv").write_text("\n".join(text))
    report = lg.ingest(raw, tmp_path / "store", key=KEY, today=TODAY)
    rej = rejects(tmp_path / "store")["people"]
    assert list(rej["source_file"]) == ["people_b.csv"] and list(rej["row_number"]) == ["4"]
    assert report.tables["people"].read == len(t["people"])
    assert sum(s.blank_rows_skipped for s in report.sources) == 1


def test_windows_1252_and_bom(tmp_path, base):
    t = tables(base)
    t["episodes"]["local_authority"] = "Ynys Môn"
    raw = write(tmp_path / "raw", t)
    t["episodes"].to_csv(raw / "episodes.csv", index=False, encoding="cp1252")
    t["people"].to_csv(raw / "people.csv", index=False, encoding="utf-8-sig")
    report = lg.ingest(raw, tmp_path / "store", key=KEY, today=TODAY)
    assert report.ok
    enc = {s.table: s.encoding for s in report.sources}
    assert enc["episodes"] == "cp1252" and enc["people"] == "utf-8-sig"
    study = lg.load(tmp_path / "store")
    assert set(study.episodes["local_authority"].astype(str)) == {"Isle of Anglesey"}


def test_undecodable_file_is_refused(tmp_path, base):
    raw = write(tmp_path / "raw", tables(base))
    data = (raw / "people.csv").read_bytes()
    (raw / "people.csv").write_bytes(data[:40] + b"\x81\x8d" + data[40:])  # undefined in Windows-1252
    with pytest.raises(IngestInputError, match="not readable as UTF-8 .* nor as Windows-1252"):
        lg.ingest(raw, tmp_path / "store", key=KEY)


def test_excel_with_date_cells_serials_and_welsh_names(tmp_path, base):
    t = tables(base)
    raw = write(tmp_path / "raw", t)
    (raw / "episodes.csv").unlink()
    ep = t["episodes"].copy()
    ep["local_authority"] = ep["local_authority"].map(lambda n: lg.domain.LOCAL_AUTHORITIES[
        lg.domain.LA_NAMES.index(n)].welsh)
    ep["start_date"] = pd.to_datetime(ep["start_date"])  # real Excel date cells
    ep["end_date"] = [(pd.Timestamp(d) - pd.Timestamp("1899-12-30")).days if d else None for d in ep["end_date"]]
    ep.to_excel(raw / "episodes.xlsx", index=False, engine="openpyxl")
    report = lg.ingest(raw, tmp_path / "store", key=KEY, today=TODAY)
    assert report.ok, rejects(tmp_path / "store")["episodes"]
    study = lg.load(tmp_path / "store")
    assert study.episodes["start_date"].dt.strftime("%Y-%m-%d").tolist() == t["episodes"]["start_date"].tolist()
    assert (study.episodes["end_date"].dt.strftime("%Y-%m-%d").fillna("") == t["episodes"]["end_date"]).all()


def test_missing_table_and_missing_column(tmp_path, base):
    raw = write(tmp_path / "raw", tables(base))
    (raw / "spend.csv").unlink()
    with pytest.raises(IngestInputError, match="no spend table; expected spend.csv, spend.xlsx or spend.parquet"):
        lg.ingest(raw, tmp_path / "store", key=KEY)
    t = tables(base)
    t["people"] = t["people"].drop(columns=["sex"])
    raw = write(tmp_path / "raw2", t)
    with pytest.raises(IngestInputError, match="people.csv: missing column\\(s\\) sex"):
        lg.ingest(raw, tmp_path / "store", key=KEY)


def test_no_key(tmp_path, base, monkeypatch):
    monkeypatch.delenv("LONGITUDINAL_PSEUDONYM_KEY", raising=False)
    raw = write(tmp_path / "raw", tables(base))
    with pytest.raises(MissingKeyError, match="no pseudonymisation key: set the environment variable"):
        lg.ingest(raw, tmp_path / "store")
    # declared already pseudonymised: raw ids are refused (how many, which rows), pseudonyms are kept
    with pytest.raises(IngestInputError, match=r"--already-pseudonymised, but [\d,]+ identifier\(s\) "
                                               r"on [\d,]+ row\(s\) are not pseudonyms "
                                               r".*people.csv person_id rows 2, 3, 4, 5, 6 …"):
        lg.ingest(raw, tmp_path / "store", already_pseudonymised=True, today=TODAY)
    assert not (tmp_path / "store").exists()
    t = tables(base)
    for name in ("people", "episodes", "readings", "service_use"):
        for c in ("person_id", "episode_id"):
            if c in t[name]:
                t[name][c] = pseudonymise(t[name][c], KEY.encode())
    raw = write(tmp_path / "hashed", t)
    report = lg.ingest(raw, tmp_path / "store", already_pseudonymised=True, today=TODAY)
    assert not report.pseudonymised and report.key_fingerprint is None
    assert set(lg.load(tmp_path / "store").people["person_id"]) == set(t["people"]["person_id"])


def test_strict_mode_publishes_nothing(tmp_path, base):
    t = tables(base)
    t["people"].loc[0, "sex"] = "?"
    raw = write(tmp_path / "raw", t)
    good = write(tmp_path / "good", tables(base))
    lg.ingest(good, tmp_path / "store", key=KEY, today=TODAY)
    assert (tmp_path / "store" / STORE_MARKER).exists()
    with pytest.raises(RowsRejectedError) as exc:
        lg.ingest(raw, tmp_path / "store", key=KEY, allow_rejects=False, today=TODAY)
    assert exc.value.report.published is False
    # the store in place is untouched and still whole; the refused delivery's rejects are beside it
    assert lg.load(tmp_path / "store").people.shape[0] == len(base["people"])
    assert not (tmp_path / "store" / "rejects").exists()
    assert (tmp_path / "store.refused" / "rejects" / "people.csv").exists()
    assert str(tmp_path / "store.refused" / "rejects") in str(exc.value)
    # a later good delivery replaces the store and clears the refusal
    lg.ingest(good, tmp_path / "store", key=KEY, today=TODAY)
    assert not (tmp_path / "store.refused").exists()


def test_cli_exit_statuses(tmp_path, base, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("LONGITUDINAL_PSEUDONYM_KEY", KEY)
    good = write(tmp_path / "good", tables(base))
    res = runner.invoke(app, ["ingest", str(good), "--out", str(tmp_path / "s1")])
    assert res.exit_code == 0, res.output
    t = tables(base)
    t["people"].loc[0, "birth_year"] = "x"
    bad = write(tmp_path / "bad", t)
    res = runner.invoke(app, ["ingest", str(bad), "--out", str(tmp_path / "s2")])
    assert res.exit_code == 1
    res = runner.invoke(app, ["ingest", str(bad), "--out", str(tmp_path / "s3"), "--allow-rejects"])
    assert res.exit_code == 0 and (tmp_path / "s3" / STORE_MARKER).exists()
    res = runner.invoke(app, ["ingest", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s4")])
    assert res.exit_code == 2
    monkeypatch.delenv("LONGITUDINAL_PSEUDONYM_KEY")
    res = runner.invoke(app, ["ingest", str(good), "--out", str(tmp_path / "s5")])
    assert res.exit_code == 2 and "no pseudonymisation key" in res.output


# ------------------------------------------------------------------ property test
BAD_PEOPLE = {
    "sex": ("?", "sex '?' is not recognised"),
    "birth_year": ("12x", "birth year '12x' is not a whole number"),
    "person_id": ("", "person_id is blank — a value is required"),
}
BAD_READINGS = {
    "score": ("9", "score 9 is outside the Journey of Change scale"),
    "outcome": ("joy", "outcome 'joy' is not one of the 11 outcome areas"),
    "reading_type": ("interim", "reading type 'interim' is not recognised"),
    "reading_date": ("2021-13-01", "date '2021-13-01' has month 13"),
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_every_injected_bad_row_is_reported(tmp_path_factory, base, data):
    t = tables(base)
    r = t["readings"]
    people_bad = data.draw(st.dictionaries(st.integers(0, len(t["people"]) - 1), st.sampled_from(sorted(BAD_PEOPLE)),
                                           max_size=4))
    readings_bad = data.draw(st.dictionaries(st.integers(0, len(r) - 1), st.sampled_from(sorted(BAD_READINGS)),
                                             max_size=12))
    for i, col in people_bad.items():
        t["people"].loc[i, col] = BAD_PEOPLE[col][0]
    for i, col in readings_bad.items():
        r.loc[i, col] = BAD_READINGS[col][0]
    tmp = tmp_path_factory.mktemp("prop")
    report, rej = run(tmp, t)
    assert_reconciles(report)
    for table, bad, catalogue in (("people", people_bad, BAD_PEOPLE), ("readings", readings_bad, BAD_READINGS)):
        got = rej[table].set_index(rej[table]["row_number"].astype(int))
        for i, col in bad.items():
            line = got.loc[i + 2]
            cols, reasons = line["column"].split("; "), line["reason"].split("; ")
            assert col in cols
            assert reasons[cols.index(col)].startswith(catalogue[col][1])
    # one line per rejected row
    for table in rej:
        assert rej[table]["row_number"].astype(str).str.cat(rej[table]["source_file"]).is_unique


def test_header_problems(tmp_path, base):
    t = tables(base)
    raw = write(tmp_path / "raw", t)
    text = (raw / "people.csv").read_text().splitlines()
    # Excel's trailing empty columns are ignored; names are matched ignoring case and spaces
    (raw / "people.csv").write_text("\n".join(["Person ID,SEX,Birth Year,,"] + [r + ",," for r in text[1:]]) + "\n")
    report = lg.ingest(raw, tmp_path / "store", key=KEY, today=TODAY)
    assert report.ok
    ignored = next(s.ignored_columns for s in report.sources if s.table == "people")
    assert ignored == ["(unnamed column 4)", "(unnamed column 5)"]
    (raw / "people.csv").write_text("\n".join(["person_id,sex,Sex,birth_year"] + text[1:]) + "\n")
    with pytest.raises(IngestInputError, match="people.csv: column\\(s\\) sex appear more than once"):
        lg.ingest(raw, tmp_path / "store", key=KEY, today=TODAY)
