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
