"""The synthetic study: structure, realism, ground truth and determinism."""

import hashlib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import longitudinal as lg
from longitudinal import domain
from longitudinal.cli import app
from longitudinal.simulate import expected_score


@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=6000, seed=11)


def test_tables_follow_the_contract(study):
    assert list(study.people.columns) == ["person_id", "sex", "birth_year"]
    assert list(study.readings.columns) == ["episode_id", "person_id", "reading_date", "reading_type", "outcome",
                                            "score"]
    assert set(study.episodes["local_authority"].unique()) <= set(domain.LA_NAMES)
    assert set(study.readings["outcome"].unique()) == set(domain.OUTCOME_CODES)
    assert study.readings["score"].dropna().between(1, 5).all()
    assert study.people["person_id"].is_unique and study.episodes["episode_id"].is_unique
    # referential integrity and logic
    assert study.readings["episode_id"].isin(study.episodes["episode_id"]).all()
    assert study.episodes["person_id"].isin(study.people["person_id"]).all()
    ep = study.episodes
    closed = ep["end_date"].notna()
    assert (ep.loc[closed, "end_date"] >= ep.loc[closed, "start_date"]).all()
    assert ep.loc[closed, "end_reason"].notna().all() and ep.loc[~closed, "end_reason"].isna().all()
    r = study.readings.merge(ep[["episode_id", "person_id", "start_date", "end_date"]], on="episode_id",
                             suffixes=("", "_ep"))
    assert (r["person_id"] == r["person_id_ep"]).all()
    assert (r["reading_date"] >= r["start_date"]).all()
    inside = r["reading_type"] != "follow_up"
    closed = inside & r["end_date"].notna()
    assert (r.loc[closed, "reading_date"] <= r.loc[closed, "end_date"]).all()
    fu = r[~inside]
    assert (fu["reading_date"] > fu["end_date"]).all()
    # all dates inside the study window, none in the future
    end = pd.Timestamp(study.truth["study_end"])
    assert study.readings["reading_date"].max() <= end < pd.Timestamp.today()


def test_looks_like_the_programme(study):
    people_need = study.episodes.drop_duplicates("person_id")["lead_need"]
    older = people_need.isin(["older_people", "alarm_services"]).mean()
    assert 0.55 < older < 0.65
    lt = study.episodes.groupby("lead_need", observed=True)["service_type"].apply(lambda s: (s == "long_term").mean())
    assert lt["older_people"] > 0.8 and lt["domestic_abuse"] < 0.2
    # authorities sized by population: Cardiff is the largest, Merthyr among the smallest
    n = study.episodes["local_authority"].value_counts()
    assert n.idxmax() == "Cardiff" and n["Cardiff"] > 4 * n["Merthyr Tydfil"]
    # providers nested in authorities
    assert study.episodes.groupby("provider_id", observed=True)["local_authority"].nunique().max() == 1
    # re-referrals, end reasons, open episodes, follow-ups, blanks
    assert (study.episodes["person_id"].value_counts() > 1).mean() > 0.03
    assert set(study.episodes["end_reason"].dropna().unique()) == set(domain.END_REASONS)
    assert study.episodes["end_date"].isna().any()
    assert set(study.readings["reading_type"].unique()) == set(domain.READING_TYPES)
    blank = study.readings["score"].isna().mean()
    assert 0.05 < blank < 0.5
    # blanks only at start readings (an area with no need is recorded once, blank)
    assert study.readings.loc[study.readings["score"].isna(), "reading_type"].eq("start").all()
    # reviews 3 to 6 months apart, or more where a review was missed
    long = study.long("managing_accommodation", include_follow_up=False)
    gaps = long.groupby("episode_id", observed=True)["reading_date"].diff().dt.days.dropna()
    assert gaps.min() >= 1 and gaps.median() >= 91 and gaps.quantile(0.5) <= 183


def test_spend_is_about_124m_a_year_at_national_scale(study):
    by_year = study.spend.groupby("financial_year")["spend_gbp"].sum()
    national = by_year * 400_000 / 6000
    assert len(by_year) == 7
    assert ((national > 115e6) & (national < 145e6)).all()
    assert (study.spend["spend_gbp"] >= 0).all()


def test_short_term_services_improve_long_term_services_maintain(study):
    long = study.long(include_follow_up=False)
    first = long.groupby(["episode_id", "outcome"], observed=True).agg(
        first=("score", "first"), last=("score", "last"), service=("service_type", "first"),
        span=("time", "max"))
    first = first[first["span"] > 0.5]
    change = (first["last"] - first["first"]).astype(float).groupby(first["service"], observed=True).mean()
    assert change["short_term"] > 0.3
    assert abs(change["long_term"]) < 0.25


def test_truth_predicts_the_observed_mean_score(study):
    """The exact expected score of the truth matches the data at the start of short-term support."""
    truth = study.truth
    groups = pd.DataFrame(truth["groups"])
    g = groups.query("lead_need == 'generic_floating' and service_type == 'short_term'").set_index("outcome")
    long = study.long(include_follow_up=False)
    sel = long[(long["lead_need"] == "generic_floating") & (long["service_type"] == "short_term")
               & (long["reading_type"] == "start")]
    for outcome, rows in sel.groupby("outcome", observed=True):
        if len(rows) < 150:
            continue
        expect = expected_score(0.0, g.loc[outcome, "intercept"], g.loc[outcome, "slope"])
        se = rows["score"].astype(float).std() / np.sqrt(len(rows))
        assert abs(rows["score"].astype(float).mean() - expect) < 4 * se + 0.02, outcome


def test_losing_gains_after_support_ends(study):
    long = study.long()
    fu = long[long["reading_type"].isin(["end", "follow_up"]) & (long["end_reason"] == "planned")]
    wide = fu.pivot_table(index=["episode_id", "outcome"], columns="reading_type", values="score",
                          aggfunc="last", observed=True).dropna()
    drop = (wide["follow_up"] < wide["end"]).mean()
    assert 0.1 < drop < 0.6


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_gives_byte_identical_files(tmp_path, fmt):
    runner = CliRunner()
    for name in ("a", "b"):
        res = runner.invoke(app, ["simulate", "--people", "400", "--seed", "5", "--out", str(tmp_path / name),
                                  "--format", fmt])
        assert res.exit_code == 0, res.output
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b
    assert set(a) == {f"{t}.{fmt}" for t in ("people", "episodes", "readings", "spend", "service_use")} | {"truth.json"}
    res = runner.invoke(app, ["simulate", "--people", "400", "--seed", "6", "--out", str(tmp_path / "c"),
                              "--format", fmt])
    assert _digest(tmp_path / "c")[f"readings.{fmt}"] != a[f"readings.{fmt}"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_then_load_round_trips(tmp_path, fmt):
    s = lg.simulate(people=300, seed=2)
    s.write(tmp_path, format=fmt)
    t = lg.load(tmp_path)
    for name, df in s.tables().items():
        pd.testing.assert_frame_equal(df, getattr(t, name), check_categorical=False)
    assert t.truth == s.truth
    # code columns keep the canonical category order (it fixes models' reference levels)
    for col in ("service_type", "local_authority", "lead_need", "end_reason"):
        assert list(t.episodes[col].cat.categories) == list(s.episodes[col].cat.categories), col
    assert list(t.readings["outcome"].cat.categories) == list(lg.domain.OUTCOME_CODES)


def test_bad_arguments():
    with pytest.raises(ValueError, match="people must be at least 1"):
        lg.simulate(people=0)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_load_refuses_unknown_codes_instead_of_blanking_them(tmp_path, fmt):
    s = lg.simulate(people=100, seed=4)
    ep = s.episodes.copy()
    ep["service_type"] = ep["service_type"].astype(str)
    ep.loc[0, "service_type"] = "weekly"
    s.episodes = ep
    s.write(tmp_path, format=fmt)
    with pytest.raises(ValueError, match=r"episodes.service_type holds 'weekly'.*longitudinal ingest"):
        lg.load(tmp_path)
