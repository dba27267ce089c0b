"""The lasting-impact section's follow-up losses (issue 14 item 6): the flow, the weighted and imputed shares
beside the complete-case one, the tipping point in plain words; what follow_up_attrition computes, under the
report's disclosure control, in Welsh and English."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal import domain
from longitudinal.i18n import Translator, show
from longitudinal.report import protect as dc
from longitudinal.report.area import AreaYear
from longitudinal.report.audit import audit_year
from longitudinal.report.page import render_section
from longitudinal.report.publish import Publisher, Section
from longitudinal.report.sections import survival as sec

YEAR = 2025
SEED = 7
MARKERS = (dc.PRIMARY, dc.SECONDARY)


def known_by_year_end(study: lg.Study) -> lg.Study:
    """The study as known at the end of the report's year, built here from its definition (episodes started
    and readings taken by 31 March)."""
    end = domain.fy_bounds(YEAR)[1]
    return lg.Study(study.people, study.episodes[study.episodes["start_date"] <= end],
                    study.readings[study.readings["reading_date"] <= end], study.spend)


def losses(study: lg.Study, area: str, out=None) -> sec.FollowUpLosses:
    a = AreaYear(study, YEAR, area, seed=SEED)
    return sec.follow_up_losses(a, Publisher(a.identifiers, out), known_by_year_end(study))


@pytest.fixture(scope="module")
def wales():
    study = lg.simulate(people=3000, seed=5)
    return study, losses(study, "Wales")


def _table(part: sec.FollowUpLosses, name: str) -> pd.DataFrame:
    return next(t for t in part.tables if t.name == name).data.set_index("follow_up")


def test_the_section_publishes_what_follow_up_attrition_computes(wales):
    study, part = wales
    end = domain.fy_bounds(YEAR)[1]
    res = lg.follow_up_attrition(known_by_year_end(study), by=(), m=sec.REPORT_IMPUTATIONS, seed=SEED,
                                 censor_date=end, threshold=sec.TIPPING_LEVEL, tipping_month=sec.TIPPING_MONTH)
    est = _table(part, "follow_up_estimates")
    assert list(est.index) == ["6 months", "12 months", "24 months"]
    e = res.estimates[res.estimates["quantity"] == "sustained"].set_index(["month", "method"])
    compared = 0
    for month in (6, 12, 24):
        row = est.loc[f"{month} months"]
        assert row["due"] == e.at[(month, "ipw"), "n_due"] and row["followed_up"] == e.at[(month, "ipw"), "n_obtained"]
        for method, (col, _) in sec.ESTIMATE_COLUMNS.items():
            for suffix, key in (("", "estimate"), ("_ci_lower", "ci_lower"), ("_ci_upper", "ci_upper")):
                if row[col + suffix] in MARKERS:
                    continue
                assert row[col + suffix] == pytest.approx(100 * e.at[(month, method), key], abs=0.05)
                compared += 1
    assert compared >= 20  # at this size (3,000 people) nearly every share is shown
    # the weighted and imputed shares sit below the complete-case one, as the simulator's response model makes them
    assert est.at["12 months", "percent_kept_weighted"] < est.at["12 months", "percent_kept_followed_up"]
    # the flow: planned ends and each month's due, obtained and reasons, as the flow summary counts them
    flow = _table(part, "follow_up_flow")
    fs = res.flow_summary().set_index("month")
    assert flow.at["Ended as planned", "episodes"] == fs["ended_planned"].iat[0]
    for month in (6, 12, 24):
        for col, src in (("episodes", "due"), ("obtained", "obtained"), ("re_referred", "re_referred"),
                         ("no_contact", "no_contact")):
            v = flow.at[f"{month} months", col]
            assert v in MARKERS or v == fs.at[month, src], (month, col)
    assert flow["died"].isna().all() and flow["moved_away"].isna().all()  # not linked: [x], never 0
    # the tipping point in plain words is the API's
    words = [str(p) for p in part.points if "stages lower" in str(p)]
    assert len(words) == 1
    assert f"{-res.tipping_point:.2f} stages lower" in words[0] or np.isnan(res.tipping_point)
    assert part.adjusted.m == sec.REPORT_IMPUTATIONS


def test_the_methods_text_states_the_imputations_and_their_monte_carlo_error(wales):
    _, part = wales
    res = part.adjusted
    mi = res.estimates[(res.estimates["quantity"] == "sustained") & (res.estimates["month"] == 12)
                       & (res.estimates["method"] == "mi")].iloc[0]
    text = " ".join(str(t) for t in part.text)
    assert f"uses {sec.REPORT_IMPUTATIONS} imputations (seed {SEED})" in text
    assert f"is {100 * mi['mc_se']:.2f} percentage points" in text
    # fewer imputations than the interactive default only because their Monte Carlo error is small beside the interval
    assert 100 * mi["mc_se"] < (mi["ci_upper"] - mi["ci_lower"]) * 100 / 4


def test_in_welsh_and_english(wales):
    _, part = wales
    s = Section("lasting_impact", "Lasting impact", lg.i18n.Items(tuple(part.text), sep="\n\n"), part.tables,
                notes=part.notes, key_points=part.points)
    cy, en = render_section(s, "cy", {"figure": 0, "table": 0}), render_section(s, "en", {"figure": 0, "table": 0})
    assert "trobwynt" in cy and "tipping point" in en and "tipping point" not in cy
    assert "Daeth i ben fel y cynlluniwyd" in cy and "Ended as planned" in en
    for p in part.points:
        assert show(p, Translator("cy")) != show(p, Translator("en"))


def small_area(study: lg.Study) -> str:
    """An authority whose follow-up counts include some of 1 to 4 (so there is something to protect)."""
    for la in study.episodes["local_authority"].value_counts(ascending=True).index:
        part = study.subset(local_authority=la)
        try:
            res = lg.follow_up_attrition(known_by_year_end(part), by=(), methods=("complete_case",),
                                         censor_date=domain.fy_bounds(YEAR)[1])
        except ValueError:
            continue
        f = res.flow_summary()[["due", "obtained", "re_referred", "no_contact"]].to_numpy()
        if ((f >= 1) & (f <= 4)).any():
            return str(la)
    raise AssertionError("no authority with a small follow-up count in this study")


def test_a_small_area_has_its_small_counts_hidden_no_model_estimates_and_passes_the_audit(tmp_path):
    study = lg.simulate(people=400, seed=2)
    la = small_area(study)
    root = tmp_path / str(YEAR)
    parts = {}
    for area, part in (("Wales", study), (la, study.subset(local_authority=la))):
        folder = root / domain.area_slug(area)
        parts[area] = losses(part, area, out=folder)
        (folder / "manifest.json").write_text(json.dumps({"area": area, "financial_year": YEAR, "status": "ok"}))
    small = parts[la]
    flow = _table(small, "follow_up_flow")
    counts = flow[["episodes", "obtained", "re_referred", "no_contact"]].to_numpy().ravel()
    shown = [v for v in counts if not (isinstance(v, str) or pd.isna(v))]
    assert all(v == 0 or v >= dc.THRESHOLD for v in shown)
    assert any(v in MARKERS for v in counts)
    # too few due for a response model: no weighted or imputed estimate, and a note that says so
    assert small.adjusted is None and not any(t.name == "follow_up_estimates" for t in small.tables)
    assert any(re.search(r"fewer than 100 outcome areas", str(n)) for n in small.notes)
    # every table written with its declaration, and the audit finds nothing a reader could work out
    assert (root / domain.area_slug(la) / "tables" / "follow_up_flow.meta.json").exists()
    res = audit_year(root)
    assert res.passed, res.summary()
    assert res.tables == 2 and res.targets > 0  # the flow of each area


def test_the_declarations_make_the_audit_catch_an_unprotected_flow(tmp_path):
    # The same small area's flow written with its exact counts beside the same declaration: the audit finds them.
    study = lg.simulate(people=400, seed=2)
    la = small_area(study)
    folder = tmp_path / str(YEAR) / domain.area_slug(la)
    part = losses(study.subset(local_authority=la), la, out=folder)
    (folder / "manifest.json").write_text(json.dumps({"area": la, "financial_year": YEAR, "status": "ok"}))
    fs = part.complete_case.flow_summary().set_index("month")
    csv = folder / "tables" / "follow_up_flow.csv"
    t = pd.read_csv(csv, dtype=str, keep_default_na=False)
    for i, label in enumerate(t["follow_up"]):
        if label != "Ended as planned":
            month = int(label.split()[0])
            for col, src in (("episodes", "due"), ("obtained", "obtained"), ("re_referred", "re_referred"),
                             ("no_contact", "no_contact")):
                t.loc[i, col] = str(int(fs.at[month, src]))
    t.to_csv(csv, index=False)
    res = audit_year(tmp_path / str(YEAR))
    assert not res.passed and "shown" in {f.kind for f in res.findings if f.table == "follow_up_flow"}


def test_a_weighted_share_resting_on_a_few_people_is_not_shown():
    # 300 people: the response model (some 40 terms) gives a few of the 12-month responders most of the weight
    part = losses(lg.simulate(people=300, seed=3), "Wales")
    est = _table(part, "follow_up_estimates")
    e = part.adjusted.estimates
    ess = e[(e["quantity"] == "sustained") & (e["method"] == "ipw")].set_index("month")["ess"]
    assert (ess < sec.MIN_ESS).any() and (ess >= sec.MIN_ESS).any()
    for month, n_eff in ess.items():
        shown = est.loc[f"{month} months", ["percent_kept_weighted", "percent_kept_weighted_ci_lower",
                                            "percent_kept_weighted_ci_upper"]]
        assert shown.isna().all() if n_eff < sec.MIN_ESS else shown.notna().all(), (month, n_eff)
    assert any("too uneven" in str(n) for n in part.notes)
    # the imputed share is still there, and the 12-month finding names it without the weighted one
    assert isinstance(est.at["12 months", "percent_kept_imputed"], float)
    assert any("% (imputed)." in str(p) and "weighted" not in str(p) for p in part.points)
