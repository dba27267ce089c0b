"""The year's protection: controlled rounding of the count tables, checked by an independent LP audit.

The checker below reads only the published tables of every area and knows only what a reader knows:
each published count is a multiple of 5 within 4 of the truth, the margins of each table, the same
population in several tables, and Wales against the authorities (episodes and readings add up; people in
Wales are at most the authorities' sum and at least each). It bounds every count published as 0 or 5 by
linear programming (scipy's HiGHS) and fails if one is pinned inside 1-4.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

import longitudinal as lg
from longitudinal.report import AnnualReport, YearProtection, protect as dc
from longitudinal.report.disclosure_log import read_log, record_audit
from longitudinal.report.publish import Publisher, UndeclaredColumnError

MARKERS = {dc.PRIMARY, dc.SECONDARY}


# ------------------------------------------------------------- the engine
def test_controlled_rounding_keeps_every_margin_of_a_random_two_way_table():
    rng = np.random.default_rng(7)
    for _ in range(20):
        t = rng.integers(0, 13, size=(4, 3))
        rows, cols = t.sum(axis=1), t.sum(axis=0)
        x = np.r_[t.ravel(), rows, cols, t.sum()]
        nr, nc = t.shape
        rel = [dc.Relation(tuple((i * nc + j, 1) for j in range(nc)) + ((nr * nc + i, -1),)) for i in range(nr)]
        rel += [dc.Relation(tuple((i * nc + j, 1) for i in range(nr)) + ((nr * nc + nr + j, -1),)) for j in range(nc)]
        rel.append(dc.Relation(tuple((nr * nc + i, 1) for i in range(nr)) + ((x.size - 1, -1),)))
        r = dc.controlled_round(x, rel)
        assert (r % 5 == 0).all() and (np.abs(r - x) <= 4).all()
        assert (r[x % 5 == 0] == x[x % 5 == 0]).all()  # zero-restricted: 0 stays 0, 10 stays 10
        rt = r[: nr * nc].reshape(nr, nc)
        assert (rt.sum(axis=1) == r[nr * nc: nr * nc + nr]).all() and (rt.sum(axis=0) == r[nr * nc + nr:-1]).all()
        assert rt.sum() == r[-1]


def test_controlled_rounding_refuses_relations_the_counts_break():
    with pytest.raises(dc.RoundingInfeasible, match="does not hold"):
        dc.controlled_round([3, 4, 8], [dc.Relation(((0, 1), (1, 1), (2, -1)))])


# ------------------------------------------------------------- the checker
def _cells(prot: YearProtection):
    """Every published count of the rounded tables: {(area, table, row, column): value}."""
    spec = {"headline": ("measure", ["value"]), "by_lead_need": ("lead_need", ["people", "episodes", "started"]),
            "trend": ("financial_year", ["people", "started"]), "age_sex": ("age_band", None),
            "completeness": ("measure", ["episodes", "with_reading"]),
            "completeness_by_outcome": ("outcome", ["readings", "scored", "blank_no_need", "episodes_with_need",
                                                    "episodes_two_plus"]),
            "distance": ("outcome", ["n_compared", "improved", "same", "worse"])}
    out = {}
    for area, tables in prot.published.items():
        for name, (label, cols) in spec.items():
            t = tables[name]
            for col in cols or [c for c in t.columns if c != label]:
                for row, v in zip(t[label], t[col]):
                    if pd.notna(v):
                        out[(area, name, row, col)] = float(v)
    return out


def _reader_relations(cells: dict, areas: list[str]) -> list[tuple[dict, str]]:
    """What a reader can write down from the published tables alone: ({cell: coefficient}, "eq" | "ge")."""
    rel = []

    def add(terms, kind="eq"):
        if len(terms) > 1 and all(k in cells for k in terms):
            rel.append((terms, kind))

    for a in areas:
        ages = sorted({k[2] for k in cells if k[:2] == (a, "age_sex")} - {"All"})
        sexes = sorted({k[3] for k in cells if k[:2] == (a, "age_sex")} - {"all"})
        for band in [*ages, "All"]:
            add({**{(a, "age_sex", band, s): 1 for s in sexes}, (a, "age_sex", band, "all"): -1})
        for s in [*sexes, "all"]:
            add({**{(a, "age_sex", b, s): 1 for b in ages}, (a, "age_sex", "All", s): -1})
        needs = sorted({k[2] for k in cells if k[:2] == (a, "by_lead_need")} - {"All"})
        for col in ("episodes", "started"):
            add({**{(a, "by_lead_need", n, col): 1 for n in needs}, (a, "by_lead_need", "All", col): -1})
        # The same people in three tables.
        add({(a, "headline", "People supported", "value"): 1, (a, "age_sex", "All", "all"): -1})
        add({(a, "headline", "People supported", "value"): 1, (a, "by_lead_need", "All", "people"): -1})
        outcomes = sorted({k[2] for k in cells if k[:2] == (a, "distance")})
        for o in outcomes:
            add({(a, "distance", o, c): 1 for c in ("improved", "same", "worse")}
                | {(a, "distance", o, "n_compared"): -1})
    las = [a for a in areas if a != "Wales"]
    for key in [k for k in cells if k[0] == "Wales"]:
        _, name, row, col = key
        parts = [(la, name, row, col) for la in las if (la, name, row, col) in cells]
        people = (name == "age_sex") or col == "people" or (name == "headline" and row == "People supported")
        if name in ("distance",):
            continue  # the distance tables of Wales and the authorities add up too, but rows may be absent
        if people:
            rel.append(({**{p: 1 for p in parts}, key: -1}, "ge"))
        else:
            rel.append(({**{p: 1 for p in parts}, key: -1}, "eq"))
    return rel


def lp_leaks(prot: YearProtection, cells_to_bound: int | None = None) -> list[str]:
    """Counts published as 0 or 5 that the reader's linear programme pins inside 1-4.

    First whether the published counts satisfy every relation the reader can form (then no count can
    be pinned inside 1-4: the published multiple of 5 is a solution); then, for the first
    ``cells_to_bound`` counts published as 0 or 5 (all by default), the bounds themselves.
    """
    cells = _cells(prot)
    keys = list(cells)
    index = {k: i for i, k in enumerate(keys)}
    r = np.array([cells[k] for k in keys])
    bounds = list(zip(np.maximum(r - 4, 0), r + 4))
    rel = _reader_relations(cells, list(prot.published))
    eq = [t for t, kind in rel if kind == "eq"]
    ge = [t for t, kind in rel if kind == "ge"]
    leaks = [f"published counts break {terms} ({kind})" for terms, kind in rel
             if (v := sum(c * cells[k] for k, c in terms.items())) != 0 and (kind == "eq" or v < 0)]

    def matrix(rows):
        m = lil_matrix((len(rows), len(keys)))
        for i, terms in enumerate(rows):
            for k, c in terms.items():
                m[i, index[k]] = c
        return m.tocsr()

    a_eq, a_ub = matrix(eq), matrix(ge)
    small = [k for k in keys if cells[k] in (0.0, 5.0)][:cells_to_bound]
    for k in small:
        c = np.zeros(len(keys))
        c[index[k]] = 1.0
        ends = []
        for sign in (1.0, -1.0):
            res = linprog(sign * c, A_eq=a_eq if eq else None, b_eq=np.zeros(len(eq)) if eq else None,
                          A_ub=-a_ub if ge else None, b_ub=np.zeros(len(ge)) if ge else None, bounds=bounds,
                          method="highs")
            assert res.status == 0, res.message  # the truth is feasible, so the programme is
            ends.append(sign * res.fun)
        lo, hi = ends
        if lo >= 0.5 and hi < 4.5:
            leaks.append(f"{k}: published {cells[k]:g}, pinned to [{lo:.2f}, {hi:.2f}]")
    return leaks


def test_lp_checker_finds_independent_rounding_leaks():
    # Published counts that do not add up leak: 10 female and 5 in all (each within 4 of the truth) leave
    # room for 1 to 3 men only, though the men are shown as 5.
    prot = YearProtection(2025, {"A": {
        "headline": pd.DataFrame({"measure": ["People supported"], "value": [5]}),
        "by_lead_need": pd.DataFrame({"lead_need": ["All"], "people": [5], "episodes": [10], "started": [0]}),
        "trend": pd.DataFrame({"financial_year": [], "people": [], "started": []}),
        "age_sex": pd.DataFrame({"age_band": ["85+", "All"], "female": [10, 10], "male": [5, 5], "all": [5, 5]}),
        "completeness": pd.DataFrame({"measure": [], "episodes": [], "with_reading": []}),
        "completeness_by_outcome": pd.DataFrame({"outcome": [], "readings": [], "scored": [], "blank_no_need": [],
                                                 "episodes_with_need": [], "episodes_two_plus": []}),
        "distance": pd.DataFrame({"outcome": [], "n_compared": [], "improved": [], "same": [], "worse": []})}},
        changes=[])
    leaks = lp_leaks(prot)
    assert any("'85+', 'male'" in x and "[1.00, 3.00]" in x for x in leaks), leaks
    assert any(x.startswith("published counts break") for x in leaks)


# --------------------------------------------------------- the publication
@pytest.fixture(scope="module")
def year():
    study = lg.simulate(people=600, seed=1)
    return study, YearProtection.for_study(study, 2025)


def test_the_year_protection_survives_the_lp_audit(year):
    _, prot = year
    # Only Wales's transitions against authorities that report another outcome area are not imposed.
    assert set(prot.relations_dropped) <= {"transitions across the areas"}
    # Consistent published counts (the proof), and the bounds of 60 small published counts (the demonstration).
    assert lp_leaks(prot, cells_to_bound=60) == []


def test_rounded_tables_hide_nothing_and_stay_within_4_of_the_truth(year):
    study, prot = year
    for area, tables in prot.published.items():
        for name, t in tables.items():
            assert not t.isin(MARKERS).any().any(), (area, name)
    # Independently counted: people by age band and sex in Cardiff.
    start, end = lg.domain.fy_bounds(2025)
    ep = study.episodes[(study.episodes["local_authority"] == "Cardiff") & (study.episodes["start_date"] <= end)
                        & (study.episodes["end_date"].isna() | (study.episodes["end_date"] >= start))]
    people = study.people[study.people["person_id"].isin(ep["person_id"])]
    exact = len(people)
    pub = prot.table("Cardiff", "age_sex").set_index("age_band")
    assert pub.at["All", "all"] % 5 == 0 and abs(pub.at["All", "all"] - exact) <= 4
    female = int((people["sex"] == "female").sum())
    assert pub.at["All", "female"] % 5 == 0 and abs(pub.at["All", "female"] - female) <= 4


def test_a_table_with_an_undeclared_number_is_refused():
    pub = Publisher(lambda: set())
    t = pd.DataFrame({"group": ["a", "b"], "people": [10, 20], "share": [0.5, 0.25]})
    with pytest.raises(UndeclaredColumnError, match=r"'share'"):
        pub.table("x", "a table", t, ["people"])
    pub.table("x", "a table", t, ["people"], specs=(dc.Share("share", "people"),))


def test_each_report_writes_its_output_checking_log(year, tmp_path):
    study, prot = year
    rep = AnnualReport(study, 2025, "Cardiff", out=tmp_path, protection=prot)
    rep.headline()
    rep.demographics()
    rep.lasting_impact(n_boot=0)
    log = read_log(tmp_path)
    assert log["area"] == "Cardiff" and log["financial_year"] == 2025 and log["audit"] == {"status": "not run"}
    assert log["tables"]["age_sex"]["protection"] == "rounded"
    assert log["tables"]["age_sex"]["rounded"] == len(prot.changes_of("Cardiff", "age_sex"))
    # Every hidden cell of a published table is in the log, with its rule.
    sus = pd.read_csv(tmp_path / "tables" / "sustained_outcomes.csv", dtype=str, keep_default_na=False)
    hidden = int(sus.isin(MARKERS).to_numpy().sum())
    assert log["tables"]["sustained_outcomes"]["hidden"] == hidden
    # No exact value is recorded: every rounded cell's published value only.
    assert all(set(c) == {"row", "column", "published", "rule"} for c in log["tables"]["age_sex"]["changes"])
    record_audit(tmp_path, {"status": "passed", "cells_checked": 3})
    assert read_log(tmp_path)["audit"] == {"status": "passed", "cells_checked": 3}
    with pytest.raises(ValueError, match="status"):
        record_audit(tmp_path, {"status": "maybe"})
    assert json.loads((tmp_path / "disclosure.json").read_text())["tables"]


# ------------------------------------------------------------ the social return's quantities
SROI_YEAR = 2025
SETTLED = "Settled housing"  # the shipped map's first outcome: moved_between_stages in managing_accommodation


def settled_housing_episodes(study: lg.Study, year: int = SROI_YEAR) -> set:
    """The episodes the shipped map counts as reaching settled housing in ``year`` (from stage 2 or below to 4 or
    above in managing accommodation, counted in the year of the first reading at 4+ after one at 2 or below)."""
    long = study.long("managing_accommodation", include_follow_up=False)
    out = set()
    for ep, g in long.groupby("episode_id", sort=False, observed=True):
        low = False
        for score, fy in zip(g["score"], g["financial_year"]):
            if low and score >= 4:
                if fy == year:
                    out.add(ep)
                break
            low = low or score <= 2
    return out


def one_small_outcome(la: str = "Cardiff", keep: int = 3) -> lg.Study:
    """A 1,000-person study in which ``la`` has ``keep`` episodes reaching settled housing in the year, Newport all
    the others and every other authority none (the episodes moved keep their people and readings)."""
    study = lg.simulate(people=1000, seed=4)
    ep = study.episodes.copy()
    moved = ep["episode_id"].isin(settled_housing_episodes(study)).to_numpy()
    assert moved.sum() > keep + 5
    ep.loc[moved, "local_authority"] = "Newport"
    ep.loc[np.flatnonzero(moved)[:keep], "local_authority"] = la
    return lg.Study(study.people, ep, study.readings, study.spend)


def test_the_social_return_s_quantities_are_rounded_with_the_year_s_counts(tmp_path):
    # Issue 11's gap: the people reaching each outcome were suppressed area by area, so Wales less the other 21
    # authorities gave an authority's small quantity away (Cardiff's 3 episodes reaching settled housing).
    from longitudinal import domain
    from longitudinal.report import counts as ct
    from longitudinal.report.area import split_by_authority
    from longitudinal.report.audit import audit_year
    from longitudinal.report.joint import year_areas
    from longitudinal.report.sections import social_return as sec

    study = one_small_outcome()
    areas = year_areas([("Wales", study), *split_by_authority(study).items()], SROI_YEAR, seed=1)
    assert len(areas) == 23
    exact = {area: ct.sroi_quantity_counts(a).data.set_index("outcome")["people"] for area, a in areas.items()}
    assert exact["Cardiff"][SETTLED] == 3 and exact["Newport"][SETTLED] >= 5
    assert {area: q[SETTLED] for area, q in exact.items() if area not in ("Wales", "Cardiff", "Newport")} == {
        area: 0 for area in areas if area not in ("Wales", "Cardiff", "Newport")}

    def publish(name: str, write):
        root = tmp_path / name / str(SROI_YEAR)
        for area, a in areas.items():
            folder = root / domain.area_slug(area)
            write(area, a, folder)
            (folder / "manifest.json").write_text(json.dumps({"area": area, "financial_year": SROI_YEAR,
                                                              "status": "ok"}))
        return audit_year(root)

    def suppressed(area, a, folder):  # the section's table before: exact counts, 1-4 suppressed per area
        t = dc.suppress(exact[area].reset_index(), ["people"])
        Publisher(a.identifiers, folder).table("sroi_outcomes", "quantities", t, ["people"], label_column="outcome",
                                               specs=sec.SROI_OUTCOME_LINKS)

    cardiff = {"area": "Cardiff", "table": "sroi_outcomes", "row": SETTLED}
    before = publish("before", suppressed)
    hit = [f for f in before.findings if all(getattr(f, k) == v for k, v in cardiff.items())]
    assert [(f.kind, f.lo, f.hi) for f in hit] == [("recovered", 3, 3)], before.summary()

    # Now: rounded with the year's counts, Wales the authorities' sum, and every figure of the section computed
    # from the rounded quantities.
    prot = YearProtection.for_areas(areas, SROI_YEAR)
    runs = {}

    def section(area, a, folder):
        runs[area] = sec.evaluate(a, draws=50, prot=prot)
        sec.social_return(a, prot, Publisher(a.identifiers, folder), runs[area])

    after = publish("after", section)
    assert after.passed, after.summary()
    published = {area: prot.table(area, "sroi_outcomes").set_index("outcome")["people"] for area in areas}
    assert published["Cardiff"][SETTLED] in (0, 5)
    for outcome in published["Wales"].index:
        assert published["Wales"][outcome] == sum(q[outcome] for area, q in published.items() if area != "Wales")
    for area, q in published.items():
        assert ((q % 5 == 0) & ((q - exact[area]).abs() <= 4)).all(), area
    # The Cardiff page shows the rounded quantities, and its present values are those of the rounded quantities.
    shown = pd.read_csv(tmp_path / "after" / str(SROI_YEAR) / "cardiff" / "tables" / "sroi_outcomes.csv")
    assert shown.set_index("outcome")["people"].to_dict() == published["Cardiff"].to_dict()
    res = runs["Cardiff"].result
    assert res.outcomes.set_index("outcome")["quantity"].to_dict() == published["Cardiff"].astype(float).to_dict()
    assert not runs["Cardiff"].small
    per_person = res.outcomes["present_value"] / res.outcomes["quantity"].where(res.outcomes["quantity"] > 0)
    again = sec.evaluate(areas["Cardiff"], draws=50).result  # exact quantities: the same value per person
    exact_pp = again.outcomes["present_value"] / again.outcomes["quantity"].where(again.outcomes["quantity"] > 0)
    assert np.allclose(per_person.dropna(), exact_pp[per_person.notna()])
