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
from longitudinal.report import counts as ct, protect as dc
from longitudinal.report.area import AreaYear, split_by_authority
from longitudinal.report.audit import audit_year
from longitudinal.report.joint import YearProtection, year_areas
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


def protection(areas: dict[str, AreaYear]) -> YearProtection:
    """The year's protection of the lasting-impact counts of ``areas`` (rounded together)."""
    return YearProtection.from_tables({n: ct.lasting_impact_counts(a) for n, a in areas.items()}, YEAR)


def losses(study: lg.Study, area: str, out=None, prot: YearProtection | None = None) -> sec.FollowUpLosses:
    a = AreaYear(study, YEAR, area, seed=SEED)
    prot = prot or protection({a.area: a})
    return sec.follow_up_losses(a, Publisher(a.identifiers, out), known_by_year_end(study), prot)


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
        # the counts are rounded to a multiple of 5, each within 4 of the exact count
        for col, key in (("due", "n_due"), ("followed_up", "n_obtained")):
            assert row[col] % 5 == 0 and abs(row[col] - e.at[(month, "ipw"), key]) <= 4, (month, col)
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
    assert abs(flow.at["Ended as planned", "episodes"] - fs["ended_planned"].iat[0]) <= 4
    for month in (6, 12, 24):
        for col, src in (("episodes", "due"), ("obtained", "obtained"), ("re_referred", "re_referred"),
                         ("no_contact", "no_contact")):
            v = flow.at[f"{month} months", col]
            assert v % 5 == 0 and abs(v - fs.at[month, src]) <= 4, (month, col)  # rounded, never hidden
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


def test_a_small_area_has_its_counts_rounded_no_model_estimates_and_passes_the_audit(tmp_path):
    study = lg.simulate(people=400, seed=2)
    la = small_area(study)
    root = tmp_path / str(YEAR)
    areas = {area: AreaYear(part, YEAR, area, seed=SEED)
             for area, part in (("Wales", study), (la, study.subset(local_authority=la)))}
    prot = protection(areas)
    parts = {}
    for area, part in (("Wales", study), (la, study.subset(local_authority=la))):
        folder = root / domain.area_slug(area)
        parts[area] = losses(part, area, out=folder, prot=prot)
        (folder / "manifest.json").write_text(json.dumps({"area": area, "financial_year": YEAR, "status": "ok"}))
    small = parts[la]
    flow = _table(small, "follow_up_flow")
    counts = flow[["episodes", "obtained", "re_referred", "no_contact"]].to_numpy().ravel()
    shown = [v for v in counts if not pd.isna(v)]
    assert shown and all(v % 5 == 0 for v in shown)  # rounded to multiples of 5: nothing hidden, nothing small
    exact = small.complete_case.flow_summary()[["due", "obtained", "re_referred", "no_contact"]].to_numpy().ravel()
    assert ((exact >= 1) & (exact <= 4)).any()  # there was something to protect
    # too few due for a response model: no weighted or imputed estimate, and a note that says so
    assert small.adjusted is None and not any(t.name == "follow_up_estimates" for t in small.tables)
    assert any(re.search(r"fewer than 100 outcome areas", str(n)) for n in small.notes)
    # every table written with its declaration, and the audit finds nothing a reader could work out
    assert (root / domain.area_slug(la) / "tables" / "follow_up_flow.meta.json").exists()
    res = audit_year(root)
    assert res.passed, res.summary()
    assert res.tables >= 2 and res.targets > 0  # the flow of each area


def test_the_declarations_make_the_audit_catch_an_unprotected_flow(tmp_path):
    # The same small area's flow written with its exact counts, declared as published exactly: the audit finds them.
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
    meta = csv.with_suffix(".meta.json")
    assert json.loads(meta.read_text())["protection"]["rounding_base"] == dc.BASE
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "protection": dc.PROTECTION}))
    res = audit_year(tmp_path / str(YEAR))
    assert not res.passed and "shown" in {f.kind for f in res.findings if f.table == "follow_up_flow"}


def one_small_authority(la: str = "Cardiff", keep: int = 3) -> lg.Study:
    """A 1,000-person study in which ``la`` ended only ``keep`` episodes as planned by the year's end, and every
    other authority many: its other episodes are moved to Newport."""
    study = lg.simulate(people=1000, seed=4)
    ep = study.episodes.copy()
    end = domain.fy_bounds(YEAR)[1]
    here = (ep["local_authority"] == la).to_numpy()
    planned = here & (ep["end_reason"] == "planned").to_numpy() & (ep["end_date"] <= end).to_numpy()
    stays = np.flatnonzero(planned)[np.argsort(ep["end_date"].to_numpy()[planned], kind="stable")[-keep:]]  # latest
    move = here.copy()
    move[stays] = False
    ep.loc[move, "local_authority"] = "Newport"
    return lg.Study(study.people, ep, study.readings, study.spend)


def suppressed_per_area(area: AreaYear, folder, links: bool) -> None:
    """The follow-up flow as the lasting-impact section published it before this year's joint rounding: each
    area's exact counts suppressed on their own (small counts and whatever gives them away within the table),
    declared with (``links``) or without how they add up over the areas."""
    flow = ct.lasting_impact_counts(area)[0]
    parts = ("obtained", "re_referred", "no_contact")
    cols = ["episodes", *parts]
    nested = ct.nested(list(flow.data["follow_up"]), ["episodes"])
    out = dc.suppress(flow.data[["follow_up", *cols]], cols, total_column={"episodes": list(parts)},
                      label_column="follow_up", sums=nested)
    for c in cols:
        out[c] = out[c].where(out[c] != "", np.nan)
    across = ct.across_links({c: f"follow-up flow: {c} | {{row}}" for c in cols}, ct.FLOW_ACROSS) if links else ()
    Publisher(area.identifiers, folder).table("follow_up_flow", "flow", out, cols, label_column="follow_up",
                                              specs=(dc.Total(column="episodes", parts=parts), *nested, *across))


def test_wales_less_the_other_authorities_no_longer_gives_an_authority_s_small_count_away(tmp_path):
    # Issue 11's gap: the flow was suppressed per area. Cardiff's 3 planned ends are hidden in its own report, but
    # Wales's planned ends less the other 21 authorities' (all published) are exactly 3.
    study = one_small_authority()
    areas = year_areas([("Wales", study), *split_by_authority(study).items()], YEAR, seed=SEED)
    assert len(areas) == 23

    def publish(name: str, write) -> lg.report.audit.AuditResult:
        root = tmp_path / name / str(YEAR)
        for area, a in areas.items():
            folder = root / domain.area_slug(area)
            write(a, folder)
            (folder / "manifest.json").write_text(json.dumps({"area": area, "financial_year": YEAR, "status": "ok"}))
        return audit_year(root)

    cardiff = {"area": "Cardiff", "table": "follow_up_flow", "row": "Ended as planned", "column": "episodes"}
    # Without the relation Wales = sum of the authorities declared, the audit could not see it.
    blind = publish("blind", lambda a, folder: suppressed_per_area(a, folder, links=False))
    assert not [f for f in blind.findings if all(getattr(f, k) == v for k, v in cardiff.items())]
    # Declared, it finds the count exactly.
    seen = publish("before", lambda a, folder: suppressed_per_area(a, folder, links=True))
    hit = [f for f in seen.findings if all(getattr(f, k) == v for k, v in cardiff.items())]
    assert [(f.kind, f.lo, f.hi) for f in hit] == [("recovered", 3, 3)], seen.summary()
    # The year's joint rounding: every count a multiple of 5, Wales the sum of the authorities; the audit passes.
    prot = protection(areas)
    after = publish("after", lambda a, folder: sec.follow_up_losses(a, Publisher(a.identifiers, folder),
                                                                    a.known_by_year_end, prot))
    assert after.passed, after.summary()
    flows = {area: prot.table(area, "follow_up_flow").set_index("follow_up")["episodes"] for area in areas}
    assert flows["Cardiff"]["Ended as planned"] in (0, 5)
    assert flows["Wales"]["Ended as planned"] == sum(f["Ended as planned"] for a, f in flows.items() if a != "Wales")


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
