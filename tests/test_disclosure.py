"""Disclosure control: primary and secondary suppression, derived values, identifiers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from longitudinal import disclosure as dc


def _groups_ok(masked: pd.DataFrame, body_rows, cols, total_row_idx, total_col):
    """No group of cells that sums to a published total has exactly one hidden cell."""
    hidden = masked.isin([dc.PRIMARY, dc.SECONDARY])
    bad = []
    for i in range(len(masked)):  # rows: components + total column
        n = int(hidden.iloc[i][cols + [total_col]].sum())
        if n == 1:
            bad.append(("row", i))
    for c in cols + [total_col]:  # columns: body rows + total row
        n = int(hidden[c].iloc[body_rows].sum() + hidden[c].iloc[total_row_idx])
        if n == 1:
            bad.append(("col", c))
    return bad


def test_primary_suppression_shows_zero_and_five():
    t = pd.DataFrame({"g": list("abcdef"), "n": [0, 1, 2, 3, 4, 5]})
    out = dc.suppress(t, ["n"])
    assert out["n"].tolist() == [0, "<5", "<5", "<5", "<5", 5]


def test_single_suppressed_cell_against_a_total_gets_a_partner():
    t = pd.DataFrame({"need": ["a", "b", "c", "All"], "people": [3, 40, 12, 55]})
    out = dc.suppress(t, ["people"], label_column="need", total_row="All")
    # 3 could be recovered as 55 - 40 - 12: the smallest other non-zero cell (12) goes too.
    assert out["people"].tolist() == ["<5", 40, "[c]", 55]


def test_two_way_table_rows_and_columns_are_protected():
    t = pd.DataFrame({"band": ["x", "y", "z", "All"],
                      "f": [2, 10, 20, 32], "m": [7, 9, 30, 46]})
    t["all"] = t["f"] + t["m"]
    out = dc.suppress(t, ["f", "m"], total_column="all", total_row="All", label_column="band")
    assert out.loc[0, "f"] == "<5"
    assert _groups_ok(out, [0, 1, 2], ["f", "m"], 3, "all") == []
    # The 2 can no longer be recovered from row x (7 hidden) nor column f (another cell hidden).
    assert out.loc[0, "m"] == "[c]"
    assert (out[["f", "m"]].iloc[1:3] == "[c]").to_numpy().any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), min_size=3, max_size=3), min_size=2, max_size=6))
def test_no_group_is_left_with_one_hidden_cell(rows):
    body = pd.DataFrame(rows, columns=["a", "b", "c"])
    body["all"] = body.sum(axis=1)
    tot = body.sum(axis=0).to_frame().T
    t = pd.concat([body, tot], ignore_index=True)
    t.insert(0, "label", [f"r{i}" for i in range(len(body))] + ["All"])
    out = dc.suppress(t, ["a", "b", "c"], total_column="all", total_row="All", label_column="label")
    x = t[["a", "b", "c", "all"]].to_numpy()
    shown = out[["a", "b", "c", "all"]].to_numpy()
    # Every small count is hidden, nothing else is changed.
    small = (x >= 1) & (x <= 4)
    assert (shown[small] == dc.PRIMARY).all()
    vis = ~np.isin(shown.astype(str), [dc.PRIMARY, dc.SECONDARY])
    assert (shown[vis].astype(int) == x[vis]).all()
    assert _groups_ok(out, list(range(len(body))), ["a", "b", "c"], len(body), "all") == []


def test_several_row_sums():
    t = pd.DataFrame({"k": ["p", "q"], "readings": [9, 12], "scored": [7, 10], "blank": [2, 2],
                      "episodes": [30, 3]})
    out = dc.suppress(t, ["readings", "scored", "blank", "episodes"],
                      total_column={"readings": ["scored", "blank"]})
    assert out["blank"].tolist() == ["<5", "<5"]
    assert out["scored"].tolist() == ["[c]", "[c]"]  # else blank = readings - scored
    assert out["episodes"].tolist() == [30, "<5"]  # not part of the row sum: no partner needed


def test_derived_values_on_suppressed_bases_are_hidden():
    t = pd.DataFrame({"area": ["x", "y", "All"], "n": [2, 9, 11], "pct": [18.2, 81.8, 100.0]})
    out = dc.suppress(t, ["n"], label_column="area", total_row="All", derived={"pct": ["n"]})
    assert out["pct"].tolist() == ["[c]", "[c]", 100.0]


def test_bad_input_names_column_and_row():
    with pytest.raises(ValueError, match=r"column 'n', row 1 .*non-negative whole count"):
        dc.suppress(pd.DataFrame({"n": [5, -1]}), ["n"])
    with pytest.raises(ValueError, match=r"column 'n', row 0 .*2.5"):
        dc.suppress(pd.DataFrame({"n": [2.5]}), ["n"])
    with pytest.raises(KeyError, match="count column"):
        dc.suppress(pd.DataFrame({"n": [5]}), ["m"])
    with pytest.raises(ValueError, match="total_row 'All' found 0 times"):
        dc.suppress(pd.DataFrame({"g": ["a"], "n": [5]}), ["n"], total_row="All", label_column="g")
    with pytest.raises(KeyError, match="derived column 'p' is based on"):
        dc.suppress(pd.DataFrame({"n": [5], "p": [1.0]}), ["n"], derived={"p": ["q"]})


def test_identifiers_are_never_published():
    with pytest.raises(ValueError, match=r"identifier column\(s\) \['person_id'\]"):
        dc.suppress(pd.DataFrame({"person_id": ["P1"], "n": [5]}), ["n"])
    t = pd.DataFrame({"who": ["P0000007"], "n": [5]})
    with pytest.raises(ValueError, match="identifier 'P0000007' in column 'who'"):
        dc.check_no_identifiers(t, {"P0000007"})
    dc.check_no_identifiers(t, {"P0000008"})


def test_check_published_flags_a_small_count():
    with pytest.raises(ValueError, match=r"column 'n', row 1 shows the count 3"):
        dc.check_published(pd.DataFrame({"n": [10, 3]}), ["n"])
    dc.check_published(pd.DataFrame({"n": [10, "<5", 0]}), ["n"])
