"""Study.subset and Study.by_area take codes, display names and Welsh names, and refuse unknown labels
with a did-you-mean instead of returning an empty study."""

import pandas as pd
import pytest

from longitudinal import domain


def test_subset_accepts_codes_names_and_welsh_names(small_study):
    s = small_study
    by_code = s.subset(lead_need="older_people")
    assert len(by_code.episodes) == (s.episodes["lead_need"] == "older_people").sum() > 0
    for label in ("Older people (55+)", "older people 55+", "OLDER_PEOPLE"):
        assert s.subset(lead_need=label).episodes.equals(by_code.episodes)
    short = s.subset(service_type="short_term")
    for label in ("short term", "Short-term", "SHORT_TERM"):
        assert s.subset(service_type=label).episodes.equals(short.episodes)
    la = s.episodes["local_authority"].astype(str).value_counts().index[0]
    welsh = next(x.welsh for x in domain.LOCAL_AUTHORITIES if x.name == la)
    assert s.subset(local_authority=welsh).episodes.equals(s.subset(local_authority=la).episodes)
    assert s.subset(local_authority="Cymru").episodes.equals(s.episodes)


@pytest.mark.parametrize("kw, hint", [
    ({"lead_need": "Mental helth"}, "did you mean 'mental_health'"),
    ({"service_type": "short trm"}, "did you mean 'short_term'"),
    ({"local_authority": "Swnsea"}, "did you mean 'Swansea'"),
])
def test_unknown_labels_are_refused_with_a_did_you_mean(small_study, kw, hint):
    with pytest.raises(KeyError, match=hint):
        small_study.subset(**kw)


def test_a_study_with_its_own_lead_needs_accepts_them(small_study):
    ep = small_study.episodes.assign(lead_need=pd.Categorical(["hoarding"] * len(small_study.episodes)))
    s = type(small_study)(small_study.people, ep, small_study.readings, small_study.spend)
    assert len(s.subset(lead_need="Hoarding").episodes) == len(ep)
    with pytest.raises(KeyError, match="hoarding"):
        s.subset(lead_need="older_people")


def test_by_area_gives_the_subsets_in_one_pass(small_study):
    parts = dict(small_study.by_area())
    assert next(iter(parts)) == "Wales" and parts["Wales"] is small_study
    present = set(small_study.episodes["local_authority"].astype(str))
    assert set(parts) - {"Wales"} == present
    for name, part in parts.items():
        if name == "Wales":
            continue
        direct = small_study.subset(local_authority=name)
        for table in ("people", "episodes", "readings", "spend"):
            a, b = getattr(part, table), getattr(direct, table)
            assert len(a) == len(b) and (a.astype(str).to_numpy() == b.astype(str).to_numpy()).all(), (name, table)
    (name, _), = small_study.by_area(["Caerdydd"])
    assert name == "Cardiff"
    with pytest.raises(KeyError, match="did you mean"):
        list(small_study.by_area(["Cardif"]))
