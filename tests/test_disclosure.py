"""Disclosure control: primary and secondary suppression, derived values, identifiers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from longitudinal.report import protect as dc


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
    # What is hidden in a row or a column never adds up to 1-4 against its published total.
    hidden = np.isin(shown.astype(str), [dc.PRIMARY, dc.SECONDARY])
    for i in range(len(t)):
        if not hidden[i, 3]:
            assert not 1 <= x[i, :3][hidden[i, :3]].sum() <= 4, (rows, out)
    for j in range(4):
        if not hidden[len(body), j]:
            assert not 1 <= x[:len(body), j][hidden[:len(body), j]].sum() <= 4, (rows, out)


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


# ------------------------------------------------- hidden cells that add up to a small count
def test_hidden_cells_adding_up_to_a_small_count_get_a_partner():
    # 26 + 2 + 2 = 30 moves: the two 2s are suppressed, but 30 - 26 = 4 would show that 4 moves are hidden.
    t = pd.DataFrame({"a": [26, 10], "b": [2, 10], "c": [2, 10], "all": [30, 30]})
    out = dc.suppress(t, ["a", "b", "c"], total_column="all")
    assert out.loc[0].tolist() == ["[c]", "<5", "<5", 30]
    assert out.loc[1].tolist() == [10, 10, 10, 30]


def test_a_count_within_another_protects_the_difference():
    # 12 episodes with a need, 10 with two readings: 12 - 10 = 2 with one reading, a small count.
    t = pd.DataFrame({"with_need": [12, 30, 3], "two_plus": [10, 24, 3]})
    out = dc.suppress(t, ["with_need", "two_plus"], sums=[dc.Sum(("two_plus",), "with_need")])
    assert out.values.tolist() == [[12, "[c]"], [30, 24], ["<5", "<5"]]
    # When the 10 is published elsewhere (fixed), the 12 must go instead.
    out = dc.suppress(t, ["with_need", "two_plus"], sums=[dc.Sum(("two_plus",), "with_need")], fixed=["two_plus"])
    assert out.values.tolist() == [["[c]", 10], [30, 24], ["<5", "<5"]]
    # Between rows: planned ends (5) and ends without a reason (0) are parts of the 8 ends; 8 - 5 - 0 = 3.
    t = pd.DataFrame({"m": ["ended", "planned", "no reason"], "episodes": [8, 5, 0]})
    out = dc.suppress(t, ["episodes"], label_column="m",
                      sums=[dc.Sum((("planned", "episodes"), ("no reason", "episodes")), ("ended", "episodes"))])
    assert out["episodes"].tolist() == [8, "[c]", 0]


def test_is_small_rounds_to_the_nearest_whole_count():
    # 0.5 to 4.49 people round to 1..4; 0.49 is nobody, 4.5 rounds to 5 (not small); negatives and NaN are not counts.
    assert dc.is_small([0.5, 1, 4, 4.49]).all()
    assert not dc.is_small([0, 0.49, 4.5, 5, 100, -1, np.nan]).any()


# ------------------------------------------------------------------ shares and means
def test_reviewer_example_distance_row_is_hidden_entirely():
    # Managing relationships, n = 8: 12.5% improved = 8 * 0.125 = 1 person, 62.5% same = 5, 25% worse = 2.
    # 1 and 2 are small. Hidden, they add up to 3 = 8 - 5, which the 62.5% would give away: it goes too.
    t = pd.DataFrame({"n": [8], "improved": [12.5], "same": [62.5], "worse": [25.0]})
    spec = [dc.Parts(("improved", "same", "worse"), "n", scale=100)]
    with pytest.raises(ValueError, match=r"'improved', row 0: the count implied comes to 1.00"):
        dc.check_derived(t, spec)
    out = dc.suppress_shares(t, spec)
    assert out.iloc[0].tolist() == [8, "[c]", "[c]", "[c]"]
    dc.check_derived(out, spec)


def test_parts_hide_the_fewest_cells_that_protect_the_small_one():
    # n = 10: 40% improved = 4 people (small). 60% same = 6 and 0% worse = 0 people. With the 4 hidden and the
    # 0 shown, 100 - 60 - 0 = 40% gives the 4 back: the 60 goes too; the 0 stays (zero names nobody).
    t = pd.DataFrame({"n": [10, 12], "improved": [40.0, 50.0], "same": [60.0, 0.0], "worse": [0.0, 50.0]})
    out = dc.suppress_shares(t, [dc.Parts(("improved", "same", "worse"), "n", scale=100)])
    assert out.iloc[0].tolist() == [10, "[c]", "[c]", 0.0]
    # n = 12: 6 improved, 0 same, 6 worse: nothing small.
    assert out.iloc[1].tolist() == [12, 50.0, 0.0, 50.0]


def test_a_share_hides_when_it_or_its_complement_is_small():
    # Of 92 people: 1.1% is 92 * 0.011 = 1.01 -> 1 person; 98.9% leaves 92 * 0.011 = 1 person out;
    # 50% is 46 of them and leaves 46: shown. A share of a suppressed base is hidden.
    t = pd.DataFrame({"n": [92, 92, 92, "<5"], "p": [0.011, 0.989, 0.5, 0.5]})
    out = dc.suppress_shares(t, [dc.Share("p", "n")])
    assert out["p"].tolist() == ["[c]", "[c]", 0.5, "[c]"]


def test_a_mean_of_a_bounded_score_is_a_share_of_the_steps():
    # 8 scores on 1..5 with mean 1.125: 8 * (1.125 - 1) = 1 step above stage 1, so exactly one person is at
    # stage 2 and seven at stage 1. Mean 4.5: 8 * (5 - 4.5) = 4 steps below stage 5: at most 4 people are not at 5.
    # Mean 3.0: 16 steps above the bottom and 16 below the top: shown.
    t = pd.DataFrame({"n": [8, 8, 8], "mean": [1.125, 4.5, 3.0]})
    out = dc.suppress_shares(t, [dc.Share("mean", "n", lo=1, hi=5, decimals=2)])
    assert out["mean"].tolist() == ["[c]", "[c]", 3.0]
    # The rounded value counts too: 1.025 is published as 1.02 (numpy rounds to even), 200 * 0.02 = 4 steps.
    t = pd.DataFrame({"n": [200], "mean": [1.025]})
    assert dc.suppress_shares(t, [dc.Share("mean", "n", lo=1, hi=5, decimals=2)])["mean"].tolist() == ["[c]"]


def test_a_missing_share_reveals_the_count_left_out():
    # n = 8 analysed and 27.3% missing: 8 / (1 - 0.273) = 11 eligible, 11 - 8 = 3 left out (8 * 0.273 / 0.727).
    # n = 30 and 25% missing: 40 eligible, 10 left out: shown. None missing: shown.
    t = pd.DataFrame({"n": [8, 30, 10], "missing_share": [0.273, 0.25, 0.0]})
    out = dc.suppress_shares(t, [dc.Share("missing_share", "n", rest_base=True)])
    assert out["missing_share"].tolist() == ["[c]", 0.25, 0.0]


def test_a_count_within_its_base_and_a_series_of_counts():
    # 16 episodes followed; 15 still at risk at 6 months (16 - 15 = 1 left), 9 at 12 months (7 left, but 15 - 9 = 6
    # and it is shown), 5 at 24 months (9 - 5 = 4 between 12 and 24 months: hidden).
    t = pd.DataFrame({"months": [6, 12, 24], "n": [16, 16, 16], "at_risk": [15, 9, 5]})
    out = dc.suppress_shares(t, [dc.Share("at_risk", "n", count=True, series=("n",))])
    assert out["at_risk"].tolist() == ["[c]", 9, "[c]"]


def test_a_base_of_5_beside_a_small_hidden_count_is_hidden_in_its_whole_series():
    # An outcome followed for 5 episodes with 2 still at risk at 24 months: the count shows as <5 (1-4), so
    # 5 - at_risk is 1-4 too and the base would give away a small count; the base goes in every row of the
    # outcome (it is the same number in each). A base of 6 beside <5 leaves 2-5: not pinned inside 1-4, kept.
    t = pd.DataFrame({"outcome": ["a", "a", "a", "b", "b", "b"], "months": [6, 12, 24] * 2,
                      "n": [5, 5, 5, 6, 6, 6], "at_risk": [5, 5, "<5", 6, 6, "<5"]})
    out = dc.suppress_shares(t, [dc.Share("at_risk", "n", count=True, series=("outcome",))])
    assert out["n"].tolist() == [dc.SECONDARY] * 3 + [6, 6, 6]
    # The counts of the hidden base's rows follow it (nothing about 5 is left to compute from).
    assert out.loc[:2, "at_risk"].isin([dc.PRIMARY, dc.SECONDARY]).all()
    assert (dc.base_given_away(t, dc.Share("at_risk", "n", count=True, series=("outcome",)))
            == [True, True, True, False, False, False]).all()


def test_a_series_of_shares_keeps_no_two_values_a_small_count_apart():
    # 16 people: 0% reached the stage by 6 months (0 people), 25% by 12 (4 people: small), 50% by 24 (8 people,
    # 8 away from 0 and 8 from 16: shown). Without the series rule 25% would already be hidden; with 6 -> 31.25%
    # (5 people) and 24 -> 50% (8 people) the difference 8 - 5 = 3 must not be shown either.
    t = pd.DataFrame({"months": [6, 12, 24], "n": [16] * 3, "reached": [0.0, 25.0, 50.0]})
    spec = [dc.Share("reached", "n", scale=100, series=("n",))]
    assert dc.suppress_shares(t, spec)["reached"].tolist() == [0.0, "[c]", 50.0]
    t["reached"] = [0.0, 31.25, 50.0]
    out = dc.suppress_shares(t, spec)
    assert out["reached"].tolist() == [0.0, 31.25, "[c]"]
    with pytest.raises(ValueError, match="difference from row 1"):
        dc.check_derived(t, spec)
    dc.check_derived(out, spec)
    # Series are per group: another outcome's values are not compared.
    t2 = pd.DataFrame({"g": ["a", "b"], "n": [16, 16], "reached": [31.25, 50.0]})
    assert dc.suppress_shares(t2, [dc.Share("reached", "n", scale=100, series=("g",))])["reached"].tolist() == \
        [31.25, 50.0]


def test_series_mask_keeps_a_tables_points_first_and_never_shows_a_forbidden_one():
    # A curve on months 0..4 of 40 people implying 0, 2, 6, 10, 11 reached; the table shows month 3 (10 people).
    # Month 1 (2 people) is small; month 2 (6) is 4 from the 10 of month 3; month 4 is 1 from it.
    hidden = dc.series_mask([0, 2, 6, 10, 11], 40, first=[3])
    assert hidden.tolist() == [False, True, True, False, True]
    # Forbidden (hidden in the table): month 3 cannot be drawn; then month 2 (6 people) is fine.
    assert dc.series_mask([0, 2, 6, 10, 11], 40, forbid=[3]).tolist() == [False, True, False, True, False]


def test_together_hides_a_mean_with_its_interval():
    t = pd.DataFrame({"n": [8, 20], "mean_first": [1.125, 3.0], "mean_change": [0.5, 0.25],
                      "ci_lower": [0.1, -0.1], "ci_upper": [0.9, 0.6]})
    out = dc.suppress_shares(t, [dc.Share("mean_first", "n", lo=1, hi=5),
                                 dc.Together(("mean_first", "mean_change", "ci_lower", "ci_upper"))])
    assert out.iloc[0].tolist() == [8, "[c]", "[c]", "[c]", "[c]"]
    assert out.iloc[1].tolist() == [20, 3.0, 0.25, -0.1, 0.6]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), min_size=3, max_size=3), min_size=1, max_size=6))
def test_published_parts_never_imply_a_small_count(rows):
    counts = np.array(rows)
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(n[:, None] > 0, np.round(100 * counts / np.maximum(n, 1)[:, None], 1), np.nan)
    t = pd.DataFrame({"n": n, "a": pct[:, 0], "b": pct[:, 1], "c": pct[:, 2]})
    t = dc.suppress(t, ["n"])
    out = dc.suppress_shares(t, [dc.Parts(("a", "b", "c"), "n", scale=100)])
    for i in range(len(out)):
        base = out.at[i, "n"]
        if base in (dc.PRIMARY, dc.SECONDARY):
            assert (out.loc[i, ["a", "b", "c"]] == dc.SECONDARY).all() or n[i] == 0
            continue
        shown = [j for j, c in enumerate("abc") if out.at[i, c] != dc.SECONDARY]
        for j in shown:  # the shown share is exact here, so it gives the count itself and its complement
            assert not 1 <= counts[i, j] <= 4 and not 1 <= n[i] - counts[i, j] <= 4, (rows, out)
        hidden_total = n[i] - counts[i, shown].sum()
        assert not 1 <= hidden_total <= 4, (rows, out)


def test_cells_hidden_in_another_table_start_hidden_and_blanks_protect_nothing():
    # The "All" row repeats a headline count that the headline had to suppress (30): hidden here too, and then
    # it needs a partner in its column, or 12 + 18 would give it back.
    t = pd.DataFrame({"g": ["a", "b", "All"], "episodes": [12, 18, 30]})
    out = dc.suppress(t, ["episodes"], label_column="g", total_row="All", hidden=[("All", "episodes")])
    assert out["episodes"].tolist() == ["[c]", 18, "[c]"]  # the smaller row goes with it
    # A blank total is not published: the small cell needs no partner.
    t = pd.DataFrame({"g": ["a", "b", "All"], "episodes": [3, 18, np.nan]})
    out = dc.suppress(t, ["episodes"], label_column="g", total_row="All")
    assert out["episodes"].tolist() == ["<5", 18, ""]


def test_together_when_hides_an_interval_with_a_share_but_not_the_reverse():
    t = pd.DataFrame({"n": [10, 10], "pct": [40.0, 50.0], "lo": [0.1, 0.2], "hi": [0.9, 0.8]})
    specs = [dc.Share("pct", "n", scale=100), dc.Together(("lo", "hi"), when=("pct",))]
    out = dc.suppress_shares(t, specs)
    assert out.values.tolist() == [[10, "[c]", "[c]", "[c]"], [10, 50.0, 0.2, 0.8]]  # 40% of 10 = 4
    dc.check_derived(out, specs)
    with pytest.raises(ValueError, match="without its partner"):
        dc.check_derived(out.assign(lo=[0.1, 0.2]), specs)


def test_check_derived_takes_each_rounded_base_at_either_end_row_by_row():
    """A rounded base (within 4 of the true one): each row's figure passes if it gives no small count at one end of
    its base. 95% of 6 to 14 leaves 0.3 to 0.7 (passes at 6 only); 40% of 6 to 14 implies 2.4 to 5.6 (passes at 14
    only); 25% implies 1.5 to 3.5 at both ends: an error, named as the row's own check names it."""
    spec = [dc.Share("pct", "n", scale=100)]
    dc.check_derived(pd.DataFrame({"n": [10, 10], "pct": [95.0, 40.0]}), spec, count_error=4)
    dc.check_derived(pd.DataFrame({"n": [10, 10, 12], "pct": [40.0, 60.0, 50.0]}), spec, count_error=4)
    with pytest.raises(ValueError, match=r"row 0: the count implied comes to 1\.50"):
        dc.check_derived(pd.DataFrame({"n": [10, 10], "pct": [95.0, 25.0]}), spec, count_error=4)


def test_check_derived_allows_for_rounding():
    # 99.8% of 2,000 readings, rounded to 0.1%: the scored count is 1,995 to 1,997, the blank ones 3 to 5.
    # That is not surely small (it may be 5): no error. 99.9% of 2,000 leaves 1 to 3: an error.
    t = pd.DataFrame({"readings": [2000], "pct": [99.8]})
    dc.check_derived(t, [dc.Share("pct", "readings", scale=100, decimals=1)])
    with pytest.raises(ValueError, match="count left out"):
        dc.check_derived(t.assign(pct=[99.9]), [dc.Share("pct", "readings", scale=100, decimals=1)])
    # Without decimals the figure is taken as exact: 99.8% of 2,000 leaves 4.
    with pytest.raises(ValueError, match="count left out comes to 4.00"):
        dc.check_derived(t, [dc.Share("pct", "readings", scale=100)])
