"""Study.long(): built once per study and shared by every analysis, so no caller may change it in place."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg

DAY = pd.Timestamp("2020-01-01")

#: In-place changes a notebook might make to the table it was given: each must raise or stay its own.
MUTATIONS = {
    "loc float": lambda d: d.loc.__setitem__((0, "time"), 5.0),
    "iat float": lambda d: d.iat.__setitem__((0, d.columns.get_loc("time")), 7.0),
    "series float": lambda d: d["time"].__setitem__(0, 9.0),
    "values float": lambda d: d["time"].values.__setitem__(0, 9.0),
    "clip inplace": lambda d: d["time"].clip(0, 1, inplace=True),
    "loc date": lambda d: d.loc.__setitem__((0, "reading_date"), DAY),
    "series date": lambda d: d["reading_date"].__setitem__(0, DAY),
    "masked date": lambda d: d.loc.__setitem__((d["time"] > 1, "reading_date"), DAY),
    "to_numpy date": lambda d: d["reading_date"].to_numpy().__setitem__(0, np.datetime64("2020-01-01")),
    "fillna inplace": lambda d: d["end_date"].fillna(DAY, inplace=True),
    "loc category": lambda d: d.loc.__setitem__((0, "outcome"), d["outcome"].cat.categories[-1]),
    "loc Int8": lambda d: d.loc.__setitem__((0, "score"), 1),
    "loc int32": lambda d: d.loc.__setitem__((0, "financial_year"), 1999),
    "loc text": lambda d: d.loc.__setitem__((0, "age_band"), "zz"),
    "whole column": lambda d: d.loc.__setitem__((slice(None), "time"), 1.0),
    "new column": lambda d: d.__setitem__("x", 1),
    "replaced column": lambda d: d.__setitem__("time", 1.0),
    "sort inplace": lambda d: d.sort_values("time", inplace=True),
    "drop inplace": lambda d: d.drop(columns=["time"], inplace=True),
}
#: Those that write values in place: they must raise (the others replace or reorder the caller's own copy).
IN_PLACE = {"loc float", "iat float", "series float", "values float", "clip inplace", "loc date", "series date",
            "masked date", "to_numpy date", "fillna inplace", "loc category", "loc Int8", "loc int32", "loc text"}


@pytest.mark.filterwarnings("ignore::FutureWarning")  # pandas 2 on chained in-place calls: what a notebook does
@pytest.mark.parametrize("outcome", [None, "managing_money"])
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_caller_cannot_change_the_shared_long_table(small_study, name, outcome):
    study = lg.Study(small_study.people, small_study.episodes, small_study.readings, small_study.spend)
    before = study.long(outcome).copy(deep=True)
    table = study.long(outcome)
    if name in IN_PLACE:
        with pytest.raises((ValueError, AssertionError)):  # pandas 2 says AssertionError for dates (see long())
            MUTATIONS[name](table)
    else:
        MUTATIONS[name](table)
    pd.testing.assert_frame_equal(study.long(outcome), before)
    # the whole table, which every selection is taken from, is unchanged too
    fresh = lg.Study(small_study.people, small_study.episodes, small_study.readings, small_study.spend)
    assert study.long(scored_only=False).equals(fresh.long(scored_only=False))


def test_the_long_table_is_shared_not_copied(small_study):
    study = lg.Study(small_study.people, small_study.episodes, small_study.readings, small_study.spend)
    a, b = study.long(), study.long()
    assert a is not b
    for col in ("time", "reading_date", "financial_year", "age_band"):
        assert np.shares_memory(a[col].to_numpy(), b[col].to_numpy()), col
    assert np.shares_memory(a["outcome"].cat.codes.to_numpy(), b["outcome"].cat.codes.to_numpy())
    # a copy is the caller's own and writable
    mine = a.copy()
    mine.loc[0, "reading_date"] = DAY
    assert mine.loc[0, "reading_date"] == DAY != study.long().loc[0, "reading_date"]


@pytest.mark.parametrize("slice_of", ["authority", "lead need", "service type", "financial year"])
def test_a_slice_cuts_its_long_table_from_the_study_s_when_built(small_study, slice_of):
    """subset() / in_financial_year() of a study that has built its long table take their own from it (no
    joins): the same rows, order and dtypes as the slice builds by itself, for every selection."""
    def cut(study):
        return {"authority": lambda: study.subset(local_authority="Cardiff"),
                "lead need": lambda: study.subset(lead_need=study.episodes["lead_need"].iloc[0]),
                "service type": lambda: study.subset(service_type="short term"),
                "financial year": lambda: study.in_financial_year(study.financial_years[1])}[slice_of]()

    whole = lg.Study(small_study.people, small_study.episodes, small_study.readings, small_study.spend)
    whole.long()
    lent = cut(whole)
    alone = cut(lg.Study(small_study.people, small_study.episodes, small_study.readings, small_study.spend))
    assert "cut" in lent.__dict__["_long_cache"] and "_long_cache" not in alone.__dict__
    assert 0 < len(lent.long()) < len(whole.long())
    for args in [{}, {"scored_only": False}, {"outcome": "managing_money", "include_follow_up": False}]:
        pd.testing.assert_frame_equal(lent.long(**args), alone.long(**args))
    assert not lent.long()["time"].to_numpy().flags.writeable


def _merged(study: lg.Study) -> pd.DataFrame:
    """The analysis table as pandas' merges give it: the reference the built table must equal exactly."""
    out = study.readings.merge(study.episodes.drop(columns=["person_id"]), on="episode_id", how="left",
                               validate="many_to_one")
    out = out.merge(study.people, on="person_id", how="left", validate="many_to_one")
    out["time"] = (out["reading_date"] - out["start_date"]).dt.days.to_numpy() / 365.25
    out["age"] = (out["start_date"].dt.year - out["birth_year"]).astype("float64")
    out["age_band"] = pd.cut(out["age"], [0, 25, 35, 55, 65, 75, 85, 200], right=False,
                             labels=list(lg.domain.AGE_BANDS)).to_numpy()
    fy = out["reading_date"].dt.year - (out["reading_date"].dt.month < 4).astype("int64")
    out["financial_year"] = fy.astype("int32")
    return out.sort_values(["episode_id", "outcome", "reading_date"], kind="stable").reset_index(drop=True)


def _variants(small_study, tmp_path):
    s = small_study
    shuffled = s.readings.sample(frac=1, random_state=1)
    yield "as simulated", s
    yield "readings shuffled", lg.Study(s.people, s.episodes, shuffled, s.spend)
    yield "text keys", lg.Study(s.people.astype({"person_id": object}),
                                s.episodes.astype({"episode_id": object, "person_id": object}),
                                shuffled.astype({"episode_id": object, "person_id": object}), s.spend)
    s.write(tmp_path / "study")
    loaded = lg.load(tmp_path / "study")
    yield "loaded", loaded
    yield "a reading's episode missing", lg.Study(loaded.people, loaded.episodes.iloc[1:], loaded.readings,
                                                  loaded.spend)
    first = loaded.episodes["episode_id"].iloc[0]
    other = loaded.episodes["person_id"].cat.categories[-1]
    yield "a person and a date missing", lg.Study(
        loaded.people[loaded.people["person_id"] != other],
        loaded.episodes.assign(start_date=loaded.episodes["start_date"].where(
            loaded.episodes["episode_id"] != first)), loaded.readings, loaded.spend)


def test_the_long_table_is_what_the_merges_give(small_study, tmp_path):
    """Study.long() is built by taking each reading's episode and person row (not by pandas' merges, which
    copied the national table several times over); it equals the merged, sorted table exactly: values,
    dtypes (a key whose categories differ between tables is text, as merge leaves it), order, missing rows."""
    for name, study in _variants(small_study, tmp_path):
        with pd.option_context("mode.chained_assignment", None):
            got = study.long(scored_only=False)
        pd.testing.assert_frame_equal(got, _merged(study), check_exact=True, obj=name)
    assert got["start_date"].isna().any() and got["time"].isna().any()  # the last variant has missing ones


def test_a_repeated_key_is_refused_as_merge_validates_it(small_study):
    s = small_study
    twice = pd.concat([s.episodes, s.episodes.iloc[:1]], ignore_index=True)
    with pytest.raises(pd.errors.MergeError):
        lg.Study(s.people, twice, s.readings, s.spend).long()
