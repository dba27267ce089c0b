"""Linked service use in the data contract: ingest with rejects, pseudonymised links, store and load."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import longitudinal as lg
from longitudinal.pseudonymise import pseudonymise_together

KEY = "a-test-key-that-is-not-secret"
TODAY = "2026-06-01"
WINDOW = ("2017-04-01", "2026-03-31")


@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=60, seed=8)


def _ingest(tmp_path: Path, t: dict[str, pd.DataFrame], **kw):
    raw = tmp_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, df in t.items():
        df.to_csv(raw / f"{name}.csv", index=False, lineterminator="\n")
    kw.setdefault("key", KEY)
    kw.setdefault("today", TODAY)
    report = lg.ingest(raw, tmp_path / "store", **kw)
    f = tmp_path / "store" / "rejects" / "service_use.csv"
    rej = pd.read_csv(f, dtype=str, keep_default_na=False) if f.exists() else pd.DataFrame(
        columns=["row_number", "column", "reason"])
    return report, rej


def test_simulated_study_has_a_never_supported_pool_and_service_use(study):
    supported = set(study.episodes["person_id"].astype(str))
    everyone = set(study.people["person_id"].astype(str))
    pool = everyone - supported
    assert len(pool) == study.truth["service_use"]["comparison_pool"] == 30
    used = set(study.service_use["person_id"].astype(str))
    assert used <= everyone and used & pool and used & supported
    assert list(study.service_use.columns) == ["person_id", "event_date", "service", "count"]
    assert (study.service_use["count"] >= 1).all()
    w0, w1 = (pd.Timestamp(d) for d in study.truth["service_use"]["linkage_window"])
    assert study.service_use["event_date"].between(w0, w1).all()
    assert w0 == pd.Timestamp("2017-04-01")  # two years before the study's first year


def test_switching_service_use_off_leaves_the_four_tables_unchanged(study):
    plain = lg.simulate(people=60, seed=8, service_use=False)
    assert plain.service_use is None and "service_use" not in plain.truth
    for name in ("episodes", "readings", "spend"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(study, name))
    pd.testing.assert_frame_equal(plain.people, study.people.iloc[:60].reset_index(drop=True),
                                  check_categorical=False)


def test_clean_service_use_round_trips_linked_by_the_same_key(tmp_path, study, as_text):
    report, rej = _ingest(tmp_path, as_text(study), linkage_window=WINDOW)
    assert report.ok and report.tables["service_use"].accepted == len(study.service_use)
    assert report.service_use == {"services": list(lg.domain.SERVICE_CODES), "linkage_window": list(WINDOW)}
    loaded = lg.load(tmp_path / "store")
    # pseudonymised with the same key as people: each event still belongs to the same person
    raw_ids = study.service_use["person_id"].astype(str)
    (want,) = pseudonymise_together([raw_ids.astype("category")], KEY.encode())
    assert sorted(loaded.service_use["person_id"].astype(str)) == sorted(want.astype(str))
    assert set(loaded.service_use["person_id"].astype(str)) <= set(loaded.people["person_id"].astype(str))
    assert loaded.service_use["count"].sum() == study.service_use["count"].sum()
    assert isinstance(loaded.service_use["service"].dtype, pd.CategoricalDtype)


def test_rejects_unknown_person_date_outside_window_unknown_service_and_bad_count(tmp_path, study, as_text):
    t = as_text(study)
    use = t["service_use"]
    use.loc[0, "person_id"] = "NOBODY"
    use.loc[1, "event_date"] = "2016-12-31"  # before the declared window
    use.loc[2, "service"] = "dentist"
    use.loc[3, "count"] = "0"
    use.loc[4, "count"] = "two"
    use.loc[5, "count"] = ""  # blank = one event
    use.loc[6, "service"] = "A&E attendances"  # display name accepted
    report, rej = _ingest(tmp_path, t, linkage_window=WINDOW)
    c = report.tables["service_use"]
    assert c.accepted + c.rejected == c.read == len(use)
    assert c.rejected == 5
    reason = dict(zip(rej["row_number"].astype(int), rej["reason"]))
    assert "not in the people table" in reason[2]
    assert "outside the study's linkage window (2017-04-01 to 2026-03-31)" in reason[3]
    assert "'dentist' is not in this study's list of services" in reason[4]
    assert "count 0 is not a number of events" in reason[5]
    assert "'two' is not a whole number" in reason[6]
    assert "NOBODY" not in rej.to_csv()  # raw ids never reach the rejects
    assert 7 not in reason and 8 not in reason  # blank count and a display name are fine
    loaded = lg.load(tmp_path / "store")
    assert loaded.service_use["count"].min() >= 1
    assert loaded.service_use["count"].sum() == study.service_use["count"].iloc[6:].sum() + 1


def test_a_study_declares_its_own_services(tmp_path, study, as_text):
    t = as_text(study)
    keep = t["service_use"]["service"].isin(["emergency_admission", "gp_event"])
    t["service_use"] = t["service_use"][keep].reset_index(drop=True)
    t["service_use"].loc[0, "service"] = "social_care_assessment"
    report, rej = _ingest(tmp_path, t, services=["emergency_admission", "social_care_assessment"])
    assert report.tables["service_use"].rejected == (t["service_use"]["service"] == "gp_event").sum()
    loaded = lg.load(tmp_path / "store")
    assert list(loaded.service_use["service"].cat.categories) == ["emergency_admission", "social_care_assessment"]


def test_study_without_service_use_is_unchanged_and_effectiveness_says_what_is_missing(tmp_path):
    plain = lg.simulate(people=40, seed=3, service_use=False)
    plain.write(tmp_path / "raw")
    report = lg.ingest(tmp_path / "raw", tmp_path / "store", key=KEY)
    assert "service_use" not in report.tables and report.service_use is None
    loaded = lg.load(tmp_path / "store")
    assert loaded.service_use is None and set(loaded.tables()) == {"people", "episodes", "readings", "spend"}
    with pytest.raises(lg.effectiveness.MissingServiceUseError, match="no linked service use.*service_use"):
        lg.effectiveness.staggered_did(loaded, "emergency_admission")
    # and a second delivery without service use drops the first one's table from the store
    with_use = lg.simulate(people=40, seed=3)
    with_use.write(tmp_path / "raw2")
    lg.ingest(tmp_path / "raw2", tmp_path / "store", key=KEY)
    assert lg.load(tmp_path / "store").service_use is not None
    lg.ingest(tmp_path / "raw", tmp_path / "store", key=KEY)
    assert lg.load(tmp_path / "store").service_use is None


def test_subset_keeps_the_service_use_of_the_people_kept(study):
    la = study.episodes["local_authority"].astype(str).value_counts().index[0]
    sub = study.subset(local_authority=la)
    assert set(sub.service_use["person_id"].astype(str)) <= set(sub.people["person_id"].astype(str))
    assert len(sub.service_use) > 0 and len(sub.service_use) < len(study.service_use)


def test_event_volume_scales_to_about_ten_million_for_the_nation():
    # the scale: about 10 million events over 9 years for 400,000 people supported
    big = lg.simulate(people=3000, seed=1)
    national = big.service_use["count"].sum() / 3000 * 400_000
    assert 8e6 < national < 16e6, national
