"""Distance travelled, stage distributions, transitions and completeness: checked by hand-made data."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal.distance import SingleReadingWarning


def _readings(rows):
    """A long table: (episode, outcome, day, score, service_type[, reading_type])."""
    out = []
    for r in rows:
        ep, oc, day, score, st = r[:5]
        rt = r[5] if len(r) > 5 else "review"
        out.append({"episode_id": ep, "outcome": oc,
                    "reading_date": pd.Timestamp("2022-04-01") + pd.Timedelta(days=day),
                    "score": score, "service_type": st, "reading_type": rt, "lead_need": "families",
                    "end_date": pd.NaT})
    return pd.DataFrame(out)


@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=600, seed=11)


def test_hand_computed_change_and_shares():
    df = _readings([
        ("E1", "managing_money", 0, 2, "short_term"), ("E1", "managing_money", 90, 3, "short_term"),
        ("E1", "managing_money", 180, 4, "short_term"),             # +2, reaches 4
        ("E2", "managing_money", 0, 3, "short_term"), ("E2", "managing_money", 100, 3, "short_term"),  # 0
        ("E3", "managing_money", 0, 5, "long_term"), ("E3", "managing_money", 100, 4, "long_term"),    # -1
        ("E4", "managing_money", 0, 4, "long_term"), ("E4", "managing_money", 100, 5, "long_term"),    # +1
        ("E5", "managing_money", 0, 1, "short_term"),                 # single reading
        ("E6", "managing_money", 0, None, "short_term"), ("E6", "managing_money", 90, 2, "short_term"),
        ("E6", "managing_money", 180, None, "short_term"),           # blanks: one real reading
    ])
    with pytest.warns(SingleReadingWarning, match="2 episode-area"):
        d = lg.distance_travelled(df)
    r = d.iloc[0]
    assert r["outcome"] == "managing_money" and r["outcome_name"] == "Managing money"
    assert (r["n_episodes"], r["n_single_reading"], r["n"]) == (6, 2, 4)
    ch = np.array([2, 0, -1, 1])
    assert r["mean_change"] == pytest.approx(ch.mean())
    assert r["sd_change"] == pytest.approx(ch.std(ddof=1))
    from scipy import stats
    half = stats.t.ppf(0.975, 3) * ch.std(ddof=1) / 2
    assert (r["ci_lower"], r["ci_upper"]) == pytest.approx((ch.mean() - half, ch.mean() + half))
    assert (r["pct_improved"], r["pct_same"], r["pct_worse"]) == pytest.approx((50, 25, 25))
    assert r["pct_stage4plus_first"] == pytest.approx(50) and r["pct_stage4plus_latest"] == pytest.approx(75)
    assert r["pct_stage5_first"] == pytest.approx(25) and r["pct_stage5_latest"] == pytest.approx(25)
    assert r["n_long_term"] == 2 and r["pct_maintained"] == pytest.approx(50)
    assert r["mean_first"] == pytest.approx(3.5) and r["mean_latest"] == pytest.approx(4.0)


def test_blank_is_no_need_not_a_score():
    # a blank between two readings must not be a reading nor a zero
    base = [("E1", "feeling_safe", 0, 2, "short_term"), ("E1", "feeling_safe", 200, 3, "short_term")]
    with_blank = base + [("E1", "feeling_safe", 300, None, "short_term"),
                         ("E2", "feeling_safe", 0, None, "short_term"), ("E2", "feeling_safe", 90, None, "short_term")]
    a = lg.distance_travelled(_readings(base))
    b = lg.distance_travelled(_readings(with_blank))
    pd.testing.assert_frame_equal(a, b)
    t = lg.transition_matrix(_readings(with_blank))
    assert t["count"].sum() == 1 and t.loc[(t.from_stage == 2) & (t.to_stage == 3), "count"].item() == 1


def test_blank_excluded_in_study(study):
    # removing blank rows from the study changes nothing
    from dataclasses import replace
    s2 = replace(study, readings=study.readings[study.readings["score"].notna()].reset_index(drop=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleReadingWarning)
        pd.testing.assert_frame_equal(lg.distance_travelled(study, by="lead_need"),
                                      lg.distance_travelled(s2, by="lead_need"))
    assert study.readings["score"].isna().sum() > 0


def test_matches_plain_pandas_reference(study):
    long = study.long(include_follow_up=False)
    g = long.groupby(["episode_id", "outcome", "lead_need"], observed=True)["score"].agg(["first", "last", "size"])
    g = g[g["size"] >= 2].reset_index()
    g["d"] = (g["last"] - g["first"]).astype(float)
    ref = g.groupby(["outcome", "lead_need"], observed=True)["d"].agg(["mean", "size"]).reset_index()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleReadingWarning)
        d = lg.distance_travelled(study, by="lead_need")
    m = d.merge(ref.astype({"outcome": str, "lead_need": str}).rename(columns={"size": "n_ref"}),
                on=["outcome", "lead_need"], validate="one_to_one",
                how="inner")
    assert len(m) == len(d) == len(ref)
    np.testing.assert_allclose(m["mean_change"], m["mean"])
    np.testing.assert_array_equal(m["n"], m["n_ref"])


def test_grouping_and_financial_year_of_latest(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleReadingWarning)
        tot = lg.distance_travelled(study, outcome="managing_money")
        fy = lg.distance_travelled(study, outcome="managing_money", by="financial_year")
        two = lg.distance_travelled(study, by=["local_authority", "service_type"])
    assert fy["n"].sum() == tot["n"].item()
    assert fy["financial_year"].isin(study.financial_years).all()
    assert set(two.columns) >= {"local_authority", "service_type"}
    assert not two.duplicated(["outcome", "local_authority", "service_type"]).any()


def test_compare_end_only_closed_with_end_reading(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleReadingWarning)
        e = lg.distance_travelled(study, outcome="feeling_safe", compare="end")
        latest = lg.distance_travelled(study, outcome="feeling_safe")
    long = study.long("feeling_safe", include_follow_up=False)
    long = long[long["end_date"].notna()]
    last = long.groupby("episode_id", observed=True).agg(rt=("reading_type", "last"), n=("score", "size"))
    expect = int(((last["rt"] == "end") & (last["n"] >= 2)).sum())
    assert e["n"].item() == expect < latest["n"].item()
    assert e["n_no_end_reading"].item() > 0


def test_stage_distribution_same_cohort(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleReadingWarning)
        d = lg.distance_travelled(study, outcome="managing_money")
    s = lg.stage_distribution(study, outcome="managing_money")
    assert len(s) == 10
    first = s[s["when"] == "first"]
    assert first["count"].sum() == d["n"].item()
    assert (first["stage"] * first["count"]).sum() / first["count"].sum() == pytest.approx(d["mean_first"].item())
    assert s[(s.when == "latest") & (s.stage >= 4)]["pct"].sum() == pytest.approx(d["pct_stage4plus_latest"].item())


def test_transition_matrix_consecutive_pairs(study):
    long = study.long("mentally_healthy", include_follow_up=False)
    nxt = long.groupby("episode_id", observed=True)["score"].shift(-1)
    ref = pd.crosstab(long["score"].astype(int)[nxt.notna()], nxt.dropna().astype(int))
    t = lg.transition_matrix(study, outcome="mentally_healthy")
    piv = t.pivot(index="from_stage", columns="to_stage", values="count")
    ref = ref.reindex(index=range(1, 6), columns=range(1, 6), fill_value=0)
    np.testing.assert_array_equal(piv.to_numpy(), ref.to_numpy())
    rows = t.groupby("from_stage")["proportion"].sum()
    np.testing.assert_allclose(rows[piv.sum(axis=1) > 0], 1.0)
    by = lg.transition_matrix(study, outcome="mentally_healthy", by="service_type")
    assert by["count"].sum() == t["count"].sum()


def test_reading_completeness(study):
    c = lg.reading_completeness(study)
    assert c["n_episodes"].item() == len(study.episodes)
    r = study.readings[study.readings["reading_type"] != "follow_up"]
    assert c["areas_recorded"].item() == r["score"].notna().sum()
    occ = r.drop_duplicates(["episode_id", "reading_date"])
    assert c["occasions_present"].item() == len(occ)
    # simulator: ~3% of areas missing at a review, ~10% of reviews missed
    assert 94 < c["pct_areas_recorded"].item() < 99.5
    by = lg.reading_completeness(study, by=["lead_need", "financial_year"])
    assert by["n_episodes"].sum() == len(study.episodes)
    with pytest.raises(ValueError, match="cannot group by 'postcode'"):
        lg.reading_completeness(study, by="postcode")
    with pytest.raises(TypeError, match="needs a Study"):
        lg.reading_completeness(study.long())


def test_reading_completeness_counts_are_kept_until_a_table_is_replaced(study):
    import pickle

    s = lg.Study(study.people, study.episodes, study.readings, study.spend)
    first = lg.reading_completeness(s)
    assert "_memo" in s.__dict__ and "_memo" not in pickle.loads(pickle.dumps(s)).__dict__
    by = lg.reading_completeness(s, by="service_type")  # from the kept per-episode counts
    assert by["areas_recorded"].sum() == first["areas_recorded"].item()
    s.readings = study.readings[study.readings["reading_type"] != "review"].reset_index(drop=True)
    again = lg.reading_completeness(s)  # a replaced table is counted afresh
    scored = s.readings.loc[s.readings["reading_type"] != "follow_up", "score"].notna().sum()
    assert again["areas_recorded"].item() == scored < first["areas_recorded"].item()


# ------------------------------------------------------------------ bad input
def test_bad_input_errors(study):
    df = _readings([("E1", "feeling_safe", 0, 2, "short_term"), ("E1", "feeling_safe", 90, 3, "short_term")])
    with pytest.raises(KeyError, match="'score'"):
        lg.distance_travelled(df.rename(columns={"score": "stage"}))
    with pytest.raises(ValueError, match="non-numeric.*'three'"):
        lg.distance_travelled(df.assign(score=["2", "three"]))
    with pytest.raises(ValueError, match="outside the Journey of Change scale.*row 1: 7"):
        lg.distance_travelled(df.assign(score=[2, 7]))
    with pytest.raises(ValueError, match="outside.*2.5"):
        lg.distance_travelled(df.assign(score=[2, 2.5]))
    with pytest.raises(ValueError, match="cannot group by 'region'"):
        lg.distance_travelled(study, by="region")
    with pytest.raises(KeyError, match="'region'"):
        lg.distance_travelled(df, by="region")
    with pytest.raises(KeyError, match="not an outcome area"):
        lg.distance_travelled(study, outcome="happiness")
    with pytest.raises(ValueError, match="no scored readings for outcome 'managing_money'"):
        lg.distance_travelled(df, outcome="managing_money")
    with pytest.raises(ValueError, match="compare must be"):
        lg.distance_travelled(df, compare="best")
    with pytest.raises(TypeError, match="Study or a pandas DataFrame"):
        lg.distance_travelled([1, 2, 3])


def test_deterministic(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleReadingWarning)
        a = lg.distance_travelled(study, by="lead_need").to_csv()
        b = lg.distance_travelled(study, by="lead_need").to_csv()
    assert a == b


def test_figures(study):
    import matplotlib.pyplot as plt

    fig = lg.plot_profile(study)
    assert len(fig.axes[0].get_yticklabels()) == 11
    fig2 = lg.plot_profile(study, kind="radar", compare="end")
    assert fig2.axes[0].name == "polar"
    fig3 = lg.plot_transitions(study, outcome=["feeling_safe", "managing_money"])
    assert sum(ax.get_visible() for ax in fig3.axes) == 3  # two panels + colour bar
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleReadingWarning)
        grouped = lg.distance_travelled(study, by="service_type")
    with pytest.raises(ValueError, match="several rows per outcome"):
        lg.plot_profile(grouped)
    plt.close("all")


def test_cli_distance(tmp_path, study):
    from typer.testing import CliRunner

    from longitudinal.cli import app

    study.write(tmp_path / "s")
    runner = CliRunner()
    r = runner.invoke(app, ["distance", str(tmp_path / "s"), "--by", "service_type", "--out", str(tmp_path / "d.csv")])
    assert r.exit_code == 0, r.output
    d = pd.read_csv(tmp_path / "d.csv")
    assert set(d["service_type"]) == {"short_term", "long_term"} and len(d) == 22
    r = runner.invoke(app, ["distance", str(tmp_path / "s"), "--by", "postcode"])
    assert r.exit_code == 2 and "cannot group by 'postcode'" in r.output
    r = runner.invoke(app, ["distance", str(tmp_path / "s"), "--table", "completeness"])
    assert r.exit_code == 0 and "pct_areas_recorded" in r.output


def test_area_without_readings_is_reported(study):
    from dataclasses import replace

    r = study.readings
    s2 = replace(study, readings=r[r["outcome"] != "education_learning"].reset_index(drop=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleReadingWarning)
        with pytest.warns(UserWarning, match="no scored readings.*education_learning"):
            d = lg.distance_travelled(s2)
    assert "education_learning" not in set(d["outcome"]) and len(d) == 10
