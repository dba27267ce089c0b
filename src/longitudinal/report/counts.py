"""The year's count tables of an area, exact, with the structure the protection needs.

These are the tables that count the same populations in every area and add up
over the authorities to Wales (headline, by lead need, trend, age x sex,
completeness, distance travelled). Each is a :class:`CountTable`: the exact
counts, how they add up, which of its cells repeat a cell of a table built
before it, and how its figures follow from its published counts. :mod:`longitudinal.report.joint` protects
them for all areas of a year at once; the sections publish what it returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import domain
from ..i18n import N_
from . import protect as dc
from .area import AreaYear, in_year
from .publish import pct

__all__ = ["CountTable", "count_tables", "distance_counts", "PEOPLE", "ACTIVE", "STARTED", "ENDED", "SCORED",
           "RECORDED",
           "HEADLINE_SUMS", "NEED_SUMS", "COMPLETENESS_SUMS", "COMPLETENESS_BY_OUTCOME_SPECS", "TWO_PLUS"]

# The headline's counts and how they nest.
PEOPLE, ACTIVE, STARTED, ENDED = (N_("People supported"), N_("Episodes of support active"), N_("Episodes started"),
                                  N_("Episodes ended"))
SCORED, RECORDED = N_("Journey of Change readings (scored)"), N_("Readings recorded (incl. blank)")
# Blank readings (recorded - scored), episodes beyond one per person (active - people), episodes carried in
# from earlier years (active - started) and still open (active - ended) are counts too.
HEADLINE_SUMS = (dc.Sum(((SCORED, "value"),), (RECORDED, "value")),
                 dc.Sum(((PEOPLE, "value"),), (ACTIVE, "value")),
                 dc.Sum(((STARTED, "value"),), (ACTIVE, "value")),
                 dc.Sum(((ENDED, "value"),), (ACTIVE, "value")))
# Within each need, people and episodes started are counts within the active episodes.
NEED_SUMS = (dc.Sum(("people",), "episodes"), dc.Sum(("started",), "episodes"))

# For the audit (report/audit.py): the populations these tables count, the same in every table that counts
# them and adding up over the areas (people: less those counted in two authorities), and the tables' margins.
K_PEOPLE, K_ACTIVE, K_STARTED, K_ENDED = "people", "episodes active", "episodes started", "episodes ended"
K_SCORED, K_READINGS = "readings scored", "readings"
#: Episodes with two or more scored readings in an outcome area: completeness's, and distance travelled's
#: episodes compared count part of them.
K_COMPARED = "episodes compared | outcome {row}"
HEADLINE_LINKS = (dc.Same((PEOPLE, "value"), K_PEOPLE, "people"), dc.Same((ACTIVE, "value"), K_ACTIVE, "sum"),
                  dc.Same((STARTED, "value"), K_STARTED, "sum"), dc.Same((ENDED, "value"), K_ENDED, "sum"),
                  dc.Same((SCORED, "value"), K_SCORED, "sum"), dc.Same((RECORDED, "value"), K_READINGS, "sum"))
NEED_LINKS = (dc.Total(row="All", overlapping=("people",)), dc.Same("people", "people | lead need {row}", "people"),
              dc.Same("episodes", "episodes active | lead need {row}", "sum"),
              dc.Same("started", "episodes started | lead need {row}", "sum"), dc.Same(("All", "people"), K_PEOPLE),
              dc.Same(("All", "episodes"), K_ACTIVE), dc.Same(("All", "started"), K_STARTED))


def trend_links(year: int) -> tuple:
    this = domain.fy_label(year)
    return (dc.Same("people", "people | year {row}", "people"),
            dc.Same("started", "episodes started | year {row}", "sum"),
            dc.Same((this, "people"), K_PEOPLE), dc.Same((this, "started"), K_STARTED))


def age_sex_links(columns) -> tuple:
    # People of unknown age or sex, or outside the bands, are in no cell: the table counts part of the people.
    return (dc.Total(row="All", column="all"),
            *(dc.Same(c, f"people | sex {c} | age {{row}}", "people") for c in columns),
            dc.Same(("All", "all"), K_PEOPLE, part=True))

M_STARTED, M_ENDED, M_PLANNED, M_NONE, M_ACTIVE = (
    N_("Episodes started in the year"), N_("Episodes ended in the year"), N_("Planned ends in the year"),
    N_("Ended episodes without an end reason"), N_("Active episodes in the year"))
COMPLETENESS_SUMS = (dc.Sum(("with_reading",), "episodes"),
                     dc.Sum(((M_PLANNED, "episodes"), (M_NONE, "episodes")), (M_ENDED, "episodes")),
                     dc.Sum(((M_PLANNED, "with_reading"),), (M_ENDED, "with_reading")))
# The episodes with two or more readings are the distance table's episodes compared: when those with a need
# but one reading are few, it is the episodes with a need that are suppressed.
TWO_PLUS = dc.Sum(("episodes_two_plus",), "episodes_with_need")
COMPLETENESS_BY_OUTCOME_SPECS = (TWO_PLUS, dc.Sum(("scored", "blank_no_need"), "readings"),
                                 dc.Share("percent_scored", "readings", scale=100, decimals=1),
                                 dc.Share("percent_two_plus", "episodes_with_need", scale=100, decimals=1),
                                 dc.Total(row="All outcome areas", column="readings",
                                          parts=("scored", "blank_no_need")),
                                 *(dc.Same(c, f"{c} | outcome {{row}}", "sum") for c in
                                   ("readings", "scored", "blank_no_need", "episodes_with_need", "episodes_two_plus")),
                                 dc.Same("episodes_two_plus", "episodes compared | outcome {row}", "sum"),
                                 dc.Same(("All outcome areas", "readings"), "readings"),
                                 dc.Same(("All outcome areas", "scored"), "readings scored"))
COMPLETENESS_LINKS = (dc.Same("episodes", "completeness episodes | {row}", "sum"),
                      dc.Same("with_reading", "completeness with the reading | {row}", "sum"),
                      dc.Same((M_STARTED, "episodes"), "episodes started"),
                      dc.Same((M_ENDED, "episodes"), "episodes ended"),
                      dc.Same((M_ACTIVE, "episodes"), "episodes active"))


@dataclass
class CountTable:
    """An area's exact count table and how its counts relate.

    ``repeats`` maps a cell ``(row label, column)`` to the cell ``(table, (row label, column))`` of a
    table built earlier that counts the same population: the two are one count, published once.
    ``total_row`` / ``total_column`` / ``sums`` say how the counts add up (as in
    :func:`~longitudinal.report.protect.suppress`); the total row of an ``overlapping`` column is at
    least each row and at most their sum (people with episodes in two lead needs). ``people``
    columns count distinct people: Wales's count is at most the authorities' sum and at least each
    of theirs; other columns (episodes, readings) add up over the authorities exactly.
    ``derive`` computes the table's figures (shares, amounts per person) from its published counts.
    """

    name: str
    data: pd.DataFrame
    count_columns: tuple[str, ...]
    label_column: str
    total_row: object | None = None
    total_column: object | None = None
    sums: tuple = ()
    repeats: dict = field(default_factory=dict)
    overlapping: tuple[str, ...] = ()
    people: tuple = ()  # columns, or (row label, column) cells
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    #: What the table is about where areas may differ (the outcome of the transitions): Wales and an
    #: authority are related only where it is the same.
    about: str = ""
    #: How a column's counts add up over the areas, where not as the default (``"people"`` for a ``people``
    #: column, ``"sum"`` otherwise): ``"at_most"``, Wales's count is at most the authorities' sum (a planned
    #: end whose next episode is in another authority: no contact there, re-referred in Wales);
    #: ``"at_least"``, at least it (the re-referrals themselves).
    across: dict = field(default_factory=dict)


def headline(a: AreaYear) -> CountTable:
    st, y = a.study, a.year
    ep, act = st.episodes, a.active_episodes
    rd = st.readings[in_year(st.readings["reading_date"], y)]
    counts = pd.DataFrame({
        "measure": [PEOPLE, ACTIVE, STARTED, ENDED, SCORED, RECORDED],
        "value": [int(act["person_id"].nunique()), len(act), int(in_year(ep["start_date"], y).sum()),
                  int(in_year(ep["end_date"], y).sum()), int(rd["score"].notna().sum()), len(rd)],
    })
    return CountTable("headline", counts, ("value",), "measure", sums=HEADLINE_SUMS, people=((PEOPLE, "value"),))


def by_lead_need(a: AreaYear) -> CountTable:
    """People, episodes and spend by lead need, with an "All" row so that the protection covers the totals."""
    st, y = a.study, a.year
    ep = st.episodes
    act, new = a.active_episodes, ep[in_year(ep["start_date"], y)]
    names = {n.code: n.name for n in domain.LEAD_NEEDS}
    codes = list(domain.LEAD_NEED_CODES) + sorted(
        set(map(str, ep["lead_need"].dropna().unique())) - set(domain.LEAD_NEED_CODES))
    g_people = act.groupby("lead_need", observed=True)["person_id"].nunique()
    g_eps = act.groupby("lead_need", observed=True).size()
    g_new = new.groupby("lead_need", observed=True).size()
    sp = st.spend[st.spend["financial_year"] == y].groupby("lead_need", observed=True)["spend_gbp"].sum()
    rows = [{"lead_need": names.get(c, c), "people": int(g_people.get(c, 0)), "episodes": int(g_eps.get(c, 0)),
             "started": int(g_new.get(c, 0)), "spend_gbp": round(float(sp.get(c, 0.0)))} for c in codes]
    by_need = pd.DataFrame(rows)
    by_need = by_need[(by_need[["people", "episodes", "spend_gbp"]] > 0).any(axis=1)]
    by_need = pd.concat([by_need, pd.DataFrame([{
        "lead_need": "All", "people": int(act["person_id"].nunique()), "episodes": len(act), "started": len(new),
        "spend_gbp": round(a.year_spend)}])], ignore_index=True)
    # The "All" row repeats the headline.
    repeats = {("All", "people"): ("headline", (PEOPLE, "value")),
               ("All", "episodes"): ("headline", (ACTIVE, "value")),
               ("All", "started"): ("headline", (STARTED, "value"))}
    return CountTable("by_lead_need", by_need.reset_index(drop=True), ("people", "episodes", "started"),
                      "lead_need", total_row="All", sums=NEED_SUMS, repeats=repeats, overlapping=("people",),
                      people=("people",), derive=_spend_per_person)


def _spend_per_person(t: pd.DataFrame) -> pd.DataFrame:
    """Spend per person of the published people: with the exact count, the two would give it away."""
    people = t["people"].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        t["spend_per_person_gbp"] = np.where(people > 0, np.round(t["spend_gbp"] / people), np.nan)
    return t


def trend(a: AreaYear) -> CountTable:
    """People supported, episodes started and spend in each financial year up to the report's."""
    from .area import active

    st, y = a.study, a.year
    ep = st.episodes
    years = [fy for fy in st.financial_years if fy <= y] or [y]
    rows = []
    for fy in years:
        act = ep[active(ep, fy)]
        rows.append({"financial_year": domain.fy_label(fy), "people": int(act["person_id"].nunique()),
                     "started": int(in_year(ep["start_date"], fy).sum()),
                     "spend_gbp": round(float(st.spend.loc[st.spend["financial_year"] == fy, "spend_gbp"].sum()))})
    # This year's row counts the headline's people and episodes started.
    here = domain.fy_label(y)
    return CountTable("trend", pd.DataFrame(rows), ("people", "started"), "financial_year", people=("people",),
                      repeats={(here, "people"): ("headline", (PEOPLE, "value")),
                               (here, "started"): ("headline", (STARTED, "value"))})


def age_sex(a: AreaYear) -> CountTable:
    """People supported by age band and sex, with both totals."""
    st, y = a.study, a.year
    act = a.active_episodes
    first = act.sort_values(["person_id", "start_date"], kind="stable").drop_duplicates("person_id")
    ppl = first[["person_id", "start_date"]].merge(st.people, on="person_id", how="left")
    age = y - ppl["birth_year"].astype("float64")  # age during the year
    ppl = ppl.assign(age_band=domain.age_band(age))
    sexes = list(domain.SEXES) + sorted(set(ppl["sex"].dropna().astype(str).unique()) - set(domain.SEXES))
    cnt = ppl.groupby([ppl["age_band"].astype(str), ppl["sex"].astype(str)]).size()
    tab = pd.DataFrame(0, index=list(domain.AGE_BANDS), columns=sexes, dtype="int64")
    for (band, sex), n in cnt.items():
        if band in tab.index and sex in tab.columns:
            tab.loc[band, sex] = int(n)
    tab["all"] = tab.sum(axis=1)
    tab.loc["All"] = tab.sum(axis=0)
    tab = tab.rename_axis(index=None, columns=None).reset_index(names="age_band")
    # The grand total is the headline's people supported.
    return CountTable("age_sex", tab, (*sexes, "all"), "age_band", total_row="All", total_column="all",
                      repeats={("All", "all"): ("headline", (PEOPLE, "value"))}, people=(*sexes, "all"))


def _completeness_frames(a: AreaYear) -> tuple[pd.DataFrame, pd.DataFrame]:
    st, y = a.study, a.year
    ep, act = st.episodes, a.active_episodes
    # Readings of the active episodes up to the year's end (as every analysis section sees them: the year's
    # study, which the other tables cut already).
    rd_all = a.year_study.readings
    # Every reading taken in the year (follow-ups after an earlier end included), as in the headline.
    rd = st.readings[in_year(st.readings["reading_date"], y)]
    started = ep[in_year(ep["start_date"], y)]
    with_start = rd_all.loc[rd_all["reading_type"] == "start", "episode_id"]
    ended = ep[in_year(ep["end_date"], y)]
    with_end = rd_all.loc[rd_all["reading_type"] == "end", "episode_id"]
    planned = ended[ended["end_reason"] == "planned"]
    overall = pd.DataFrame({
        "measure": [M_STARTED, M_ENDED, M_PLANNED, M_NONE, M_ACTIVE],
        "episodes": [len(started), len(ended), len(planned), int(ended["end_reason"].isna().sum()), len(act)],
        "with_reading": [int(started["episode_id"].isin(with_start).sum()),
                         int(ended["episode_id"].isin(with_end).sum()),
                         int(planned["episode_id"].isin(with_end).sum()), np.nan,
                         int(act["episode_id"].isin(rd["episode_id"]).sum())],
    })

    rows = []
    n_scored_per = a.scored_per_episode
    codes_present = set(n_scored_per.index.get_level_values(0))
    for code in domain.OUTCOME_CODES:
        r = rd[rd["outcome"] == code]
        per = n_scored_per.xs(code, level="outcome") if code in codes_present else pd.Series(dtype="int64")
        rows.append({"outcome": domain.OUTCOMES[code].name, "readings": len(r),
                     "scored": int(r["score"].notna().sum()), "blank_no_need": int(r["score"].isna().sum()),
                     "episodes_with_need": int((per > 0).sum()), "episodes_two_plus": int((per >= 2).sum())})
    by_out = pd.DataFrame(rows)
    # A total row of readings, so that the headline's totals cannot recover an area by subtraction. Episodes
    # have needs in several areas, so their columns add up to no total: left blank.
    by_out.loc[len(by_out)] = {"outcome": N_("All outcome areas"), "readings": len(rd),
                               "scored": int(rd["score"].notna().sum()),
                               "blank_no_need": int(rd["score"].isna().sum()),
                               "episodes_with_need": np.nan, "episodes_two_plus": np.nan}
    return overall, by_out


def completeness(a: AreaYear) -> tuple[CountTable, CountTable]:
    """Episodes with the reading that should be there, and readings / episodes by outcome area."""
    overall, by_out = _completeness_frames(a)
    # Episodes started, ended and active are the headline's.
    repeats = {(M_STARTED, "episodes"): ("headline", (STARTED, "value")),
               (M_ENDED, "episodes"): ("headline", (ENDED, "value")),
               (M_ACTIVE, "episodes"): ("headline", (ACTIVE, "value"))}
    t1 = CountTable("completeness", overall, ("episodes", "with_reading"), "measure", sums=COMPLETENESS_SUMS,
                    repeats=repeats, derive=_completeness_shares)
    cc = ("readings", "scored", "blank_no_need", "episodes_with_need", "episodes_two_plus")
    # The total row of readings is the headline's readings.
    t2 = CountTable("completeness_by_outcome", by_out, cc, "outcome", total_row="All outcome areas",
                    total_column={"readings": ["scored", "blank_no_need"]}, sums=(TWO_PLUS,),
                    repeats={("All outcome areas", "readings"): ("headline", (RECORDED, "value")),
                             ("All outcome areas", "scored"): ("headline", (SCORED, "value"))},
                    derive=_by_outcome_shares)
    return t1, t2


def _completeness_shares(t: pd.DataFrame) -> pd.DataFrame:
    t["percent_with_reading"] = pct(t["with_reading"].astype("float64"), t["episodes"].astype("float64"))
    return t


def _by_outcome_shares(t: pd.DataFrame) -> pd.DataFrame:
    t["percent_scored"] = pct(t["scored"].astype("float64"), t["readings"].astype("float64"))
    t["percent_two_plus"] = pct(t["episodes_two_plus"].astype("float64"), t["episodes_with_need"].astype("float64"))
    return t


def distance_counts(a: AreaYear, by_outcome: CountTable) -> CountTable:
    """Episodes compared in each outcome area, and those that improved, stayed the same or got worse.

    The episodes compared are ``by_outcome``'s episodes with two or more scored readings: where the two
    counts agree they are one count.
    """
    d = a.distance_frame
    n = d["n"].fillna(0).to_numpy(dtype="float64")
    parts = {c: np.round(n * d[f"pct_{c}"].fillna(0).to_numpy(dtype="float64") / 100) for c in
             ("improved", "same", "worse")}
    names = [domain.OUTCOMES[c].name for c in d["outcome"]]
    t = pd.DataFrame({"outcome": names, "n_compared": n.astype("int64"),
                      **{c: v.astype("int64") for c, v in parts.items()}})
    two = dict(zip(by_outcome.data["outcome"], by_outcome.data["episodes_two_plus"]))
    repeats = {(o, "n_compared"): ("completeness_by_outcome", (o, "episodes_two_plus"))
               for o, v in zip(names, n) if two.get(o) == v}
    return CountTable("distance", t, ("n_compared", "improved", "same", "worse"), "outcome",
                      total_column={"n_compared": ["improved", "same", "worse"]}, repeats=repeats,
                      derive=_distance_shares)


def _distance_shares(t: pd.DataFrame) -> pd.DataFrame:
    n = t["n_compared"].astype("float64")
    for c in ("improved", "same", "worse"):
        t[f"pct_{c}"] = pct(t[c].astype("float64"), n)
    return t


def count_tables(a: AreaYear) -> list[CountTable]:
    """The area's count tables, in the order they are protected (a table's repeats come before it)."""
    overall, by_outcome = completeness(a)
    return [headline(a), by_lead_need(a), trend(a), age_sex(a), overall, by_outcome, distance_counts(a, by_outcome),
            transitions_counts(a), *lasting_impact_counts(a), independence_counts(a)]


TO_STAGES = tuple(f"to stage {k}" for k in range(1, 6))


def transitions_counts(a: AreaYear, outcome: str | None = None) -> CountTable:
    """Moves between consecutive scored readings in the headline outcome area (rows: from stage)."""
    import warnings

    from ..distance import transition_matrix

    code = domain.outcome_code(outcome) if outcome else a.headline_outcome
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            tm = transition_matrix(a.year_study, outcome=code)
        except ValueError:  # no scored reading in the area: no moves
            tm = pd.DataFrame({"from_stage": pd.Series(dtype="int64"), "to_stage": pd.Series(dtype="int64"),
                               "count": pd.Series(dtype="int64")})
    wide = tm.pivot(index="from_stage", columns="to_stage", values="count").reindex(
        index=range(1, 6), columns=range(1, 6), fill_value=0).fillna(0).astype("int64")
    wide.columns = list(TO_STAGES)
    wide["all moves"] = wide[list(TO_STAGES)].sum(axis=1)
    wide.insert(0, "from", [domain.SCALE_SHORT[k] for k in range(1, 6)])
    return CountTable("transitions", wide.reset_index(drop=True), (*TO_STAGES, "all moves"), "from",
                      total_column="all moves", derive=_transition_shares, about=code)


def _transition_shares(t: pd.DataFrame) -> pd.DataFrame:
    for c in TO_STAGES:
        t[f"% {c}"] = pct(t[c].astype("float64"), t["all moves"].astype("float64"))
    return t


# ------------------------------------------------------------------ lasting impact and time to independence
#: The follow-ups after a planned end, in months; the flow's and estimates' rows.
FOLLOW_UP_MONTHS = (6, 12, 24)
ENDED_PLANNED = N_("Ended as planned")
FOLLOW_UP_LABELS = {6: N_("6 months"), 12: N_("12 months"), 24: N_("24 months")}
FLOW_COUNTS = ("episodes", "obtained", "died", "moved_away", "re_referred", "no_contact")
#: The flow's counts over the areas: a planned end whose next episode is in another authority is re-referred in
#: Wales's flow and "no contact" in its own authority's.
FLOW_ACROSS = {"re_referred": "at_least", "no_contact": "at_most"}
#: The re-referral analysis drops a planned end whose next episode (anywhere) began before it ended, and follows
#: each to the next episode anywhere: Wales's counts are at most the authorities' sum.
REREFERRAL_ACROSS = {"n": "at_most", "at_risk": "at_most"}


def month_label(month: int) -> str:
    return FOLLOW_UP_LABELS.get(int(month), f"{int(month)} months")


def nested(labels: list, columns) -> tuple:
    """Each count of a later row is part of the earlier row's (a follow-up is due, or an area still at risk,
    only if it was at the month before)."""
    return tuple(dc.Sum(((later, c),), (earlier, c)) for c in columns
                 for earlier, later in zip(labels[:-1], labels[1:]))


def lasting_impact_counts(a: AreaYear) -> list[CountTable]:
    """The lasting-impact section's counts: the follow-up flow, the bases of its estimates, the episode-areas
    followed for the share sustained and the planned ends followed for re-referral (each with those still at
    risk at 6, 12 and 24 months).

    They come from the data preparation of the analyses the section runs (no model is fitted), so that they
    are rounded with the year's other counts for every area at once; where the analysis has nothing to count
    (no planned end, no area followed) its table has no rows.
    """
    from ..attrition import follow_up_data
    from ..errors import LongitudinalError
    from ..survival.sustained import rereferral_times, sustained_intervals
    from ..survival.tables import at_risk_count

    upto = a.known_by_year_end
    end = domain.fy_bounds(a.year)[1]
    try:
        fd = follow_up_data(upto, censor_date=end)
    except (LongitudinalError, ValueError):
        fd = None
    flow_rows, est_rows = [], []
    if fd is not None:
        # every month, none due yet included: the same rows in every area
        f = fd.flow_summary().set_index("month")
        flow_rows.append({"follow_up": ENDED_PLANNED, "episodes": len(fd.ended_planned),
                          **{c: np.nan for c in FLOW_COUNTS[1:]}})
        for m in fd.months:
            r = f.loc[m] if m in f.index else pd.Series(0, index=f.columns)
            linked = {c: (int(r[c]) if pd.notna(r[c]) else np.nan) if fd.linked_exits else np.nan
                      for c in ("died", "moved_away")}
            flow_rows.append({"follow_up": month_label(m), "episodes": int(r["due"]), **linked,
                              **{c: int(r[c]) for c in ("obtained", "re_referred", "no_contact")}})
        due, through = fd.due, fd.due & fd.complete
        for j, m in enumerate(fd.months):
            est_rows.append({"follow_up": month_label(m), "due": int(due[:, j].sum()),
                             "followed_up": int(through[:, j].sum())})
    flow = pd.DataFrame(flow_rows, columns=["follow_up", *FLOW_COUNTS])
    parts = [c for c in FLOW_COUNTS[1:] if flow[c].notna().any()] or ["obtained", "re_referred", "no_contact"]
    flow_t = CountTable("follow_up_flow", flow, FLOW_COUNTS, "follow_up", total_column={"episodes": parts},
                        sums=nested(list(flow["follow_up"]), ["episodes"]), across=FLOW_ACROSS)
    est = pd.DataFrame(est_rows, columns=["follow_up", "due", "followed_up"])
    est_t = CountTable("follow_up_estimates", est, ("due", "followed_up"), "follow_up",
                       sums=(dc.Sum(("followed_up",), "due"), *nested(list(est["follow_up"]), ["due", "followed_up"])))

    try:
        data, _ = sustained_intervals(upto, by=["outcome"])
    except (LongitudinalError, ValueError):
        data = pd.DataFrame({"outcome": pd.Series(dtype=str), "lower": pd.Series(dtype=float)})
    rows = []
    for code, sub in data.groupby("outcome", sort=True):
        lo = sub["lower"].to_numpy()
        name = domain.OUTCOMES[code].name if code in domain.OUTCOMES else code
        rows += [{"row": f"{name} | {m}", "outcome": name, "months": m, "n": len(sub), "at_risk": at_risk_count(lo, m)}
                 for m in FOLLOW_UP_MONTHS]
    sus = pd.DataFrame(rows, columns=["row", "outcome", "months", "n", "at_risk"])
    first = {o: f"{o} | {FOLLOW_UP_MONTHS[0]}" for o in sus["outcome"]}
    sus_t = CountTable("sustained_outcomes", sus, ("n", "at_risk"), "row", sums=(
        dc.Sum(("at_risk",), "n"), *(s for o in first for s in nested([f"{o} | {m}" for m in FOLLOW_UP_MONTHS],
                                                                    ["at_risk"]))),
        repeats={(r, "n"): ("sustained_outcomes", (first[o], "n"))
                 for r, o in zip(sus["row"], sus["outcome"]) if r != first[o]})

    try:
        rr = rereferral_times(upto, censor_date=end)
    except (LongitudinalError, ValueError):
        rr = pd.DataFrame({"time": pd.Series(dtype=float)})
    t = rr["time"].to_numpy()
    rer = pd.DataFrame({"months": list(FOLLOW_UP_MONTHS) if len(rr) else [], "n": len(rr) if len(rr) else [],
                        "at_risk": [int((t >= m).sum()) for m in FOLLOW_UP_MONTHS] if len(rr) else []})
    rer_t = CountTable("re_referral", rer, ("n", "at_risk"), "months",
                       sums=(dc.Sum(("at_risk",), "n"), *nested(list(rer["months"]), ["at_risk"])),
                       repeats={(m, "n"): ("re_referral", (FOLLOW_UP_MONTHS[0], "n")) for m in FOLLOW_UP_MONTHS[1:]},
                       across=REREFERRAL_ACROSS)
    return [flow_t, est_t, sus_t, rer_t]


def independence_counts(a: AreaYear, outcome: str | None = None, stage: int = 5) -> CountTable:
    """Time to independence's counts in the headline outcome area (or ``outcome``): the episodes followed and
    those not yet at ``stage`` and still followed at 6, 12 and 24 months. About the outcome area: Wales and an
    authority are related where it is the same."""
    import warnings

    from ..survival import time_to_independence

    code = domain.outcome_code(outcome) if outcome else a.headline_outcome
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sa = time_to_independence(a.year_study, outcome=code, stage=stage, covariates=None, n_boot=0,
                                      seed=a.seed).survival_at
    except ValueError:
        sa = pd.DataFrame({"months": pd.Series(dtype="int64"), "n": pd.Series(dtype="int64"),
                           "at_risk": pd.Series(dtype="int64")})
    t = pd.DataFrame({"months": sa["months"].astype("int64").to_numpy(), "n": sa["n"].astype("int64").to_numpy(),
                      "at_risk": sa["at_risk"].astype("int64").to_numpy()})
    months = list(t["months"])
    return CountTable("time_to_independence", t, ("n", "at_risk"), "months",
                      sums=(dc.Sum(("at_risk",), "n"), *nested(months, ["at_risk"])),
                      repeats={(m, "n"): ("time_to_independence", (months[0], "n")) for m in months[1:]} if months
                      else {}, about=code)


def across_links(keys: dict[str, str], across: dict | None = None) -> tuple:
    """The audit's declarations (:class:`~longitudinal.report.protect.Same`) of how a published table's counts
    add up over the areas, as the joint rounding kept them: ``keys`` maps each count column to the key of its
    population (``{row}`` and ``{<column>}`` stand for the row's label and values); ``across``: the columns
    that do not add up exactly (:attr:`CountTable.across`)."""
    return tuple(dc.Same(c, key, (across or {}).get(c, "sum")) for c, key in keys.items())


# ------------------------------------------------------------------ the social return's quantities
def sroi_map():
    """The impact map the social-return section evaluates by default: its quantities are indicators of the area's
    data (the shipped ``example_study.yaml``)."""
    from pathlib import Path

    from .. import sroi

    return Path(sroi.DEFAULT_MAP).with_name("example_study.yaml")


@functools.cache
def _default_map():
    """:func:`sroi_map` read once per process (its YAML and proxies cost more than an area's quantities); only
    read, never changed."""
    from .. import sroi

    return sroi.ImpactMap.load(sroi_map())


def sroi_quantity_counts(a: AreaYear, impact_map=None) -> CountTable:
    """The people reaching each outcome of the impact map (default :func:`sroi_map`) in the area's year, as the
    social return counts them (``sroi.quantities``: the map is not evaluated). They add up over the areas (an
    indicator counts episodes, each in one authority), so they are rounded with the year's other counts; the
    section evaluates the map on the rounded ones, whose present values then give nothing more away. An area
    whose quantities cannot be computed has no rows."""
    from .. import sroi

    try:
        q = sroi.quantities(impact_map or _default_map(), a.study, year=a.year)
        people = q["quantity"].astype(float).round().fillna(0).astype("int64")
        t = pd.DataFrame({"outcome": q["outcome"].astype(str), "people": people})
    except (sroi.ImpactMapError, ValueError):
        t = pd.DataFrame({"outcome": pd.Series(dtype=str), "people": pd.Series(dtype="int64")})
    return CountTable("sroi_outcomes", t, ("people",), "outcome")


def year_count_tables(a: AreaYear) -> list[CountTable]:
    """Every count table the year's joint protection rounds for the area: :func:`count_tables` and the social
    return's quantities."""
    return [*count_tables(a), sroi_quantity_counts(a)]
