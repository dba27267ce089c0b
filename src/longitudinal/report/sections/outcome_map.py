"""The programme's outcome map, each step rated from the area's data, and the indicators behind it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ... import domain
from ...i18n import N_, Area, Items, Msg, Verbatim
from ...outcome_maps.render import plot_map
from .. import protect as dc
from ..area import AreaYear
from ..joint import Change, YearProtection
from ..publish import Publisher, Section, is_number
from .distance import distance_published, within_published

# Outcome-map indicators: a proportion or a count of the episodes in n, the mean change (-4 to 4 stages), the
# share of eligible episodes missing (of a base of n plus those missing); the interval goes with the value.
INDICATOR_SPECS = (
    dc.Share("value", "n", where=("kind", "proportion"), decimals=3),
    dc.Share("value", "n", count=True, where=("kind", "count")),
    dc.Share("value", "n", lo=-4, hi=4, where=("indicator", "mean_change"), decimals=3),
    dc.Share("missing_share", "n", rest_base=True, where=("kind", "proportion"), decimals=3),
    dc.Share("missing_share", "n", rest_base=True, where=("kind", "mean"), decimals=3),
    dc.Together(("value", "ci_lower", "ci_upper")),
)


def outcome_map(a: AreaYear, prot: YearProtection, pub: Publisher,
                map_path: str | Path | None = None) -> Section:
    """The programme's outcome map, each step rated for progress and confidence from this area's data."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from ...indicators import available as available_indicators
    from ...outcome_maps import OutcomeMap, rollup, shipped_map_path

    path = map_path or shipped_map_path("supporting_people")
    omap = OutcomeMap.from_yaml(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Rated for the report's financial year (OutcomeMap.rate(year=...)): reproducible from the manifest.
        r = rollup(omap, a.study, areas=[a.area], year=a.year, year_study=a.year_study)
    keys = ["pathway", "column", "step"]
    iv = r.indicator_values.copy().reset_index(drop=True)
    kinds = dict(zip(*available_indicators()[["name", "kind"]].to_numpy().T))
    iv["kind"] = [kinds.get(n, "mean") for n in iv["indicator"]]
    for c in ("value", "ci_lower", "ci_upper", "missing_share"):
        iv[c] = iv[c].astype(float)
    iv[["ci_lower", "ci_upper"]] = iv[["ci_lower", "ci_upper"]].round(3)
    iv["n"] = iv["n"].fillna(0).astype("int64")
    iv["row"] = np.arange(len(iv))
    # An indicator of a subgroup (a service type, a lead need) counts episodes within the distance table's
    # episodes compared: suppressed when the two differ by a small count.
    params = [dict(kv.split("=", 1) for kv in str(p).split(", ") if "=" in kv) for p in iv["params"]]
    nested = [i for i, p in enumerate(params)
              if iv.at[i, "kind"] != "count" and iv.at[i, "indicator"] != "sustained_at_months"
              and set(p) & {"local_authority", "lead_need", "service_type"} and p.get("outcome") in domain.OUTCOMES
              and within_published(a, int(iv.at[i, "n"]), p["outcome"])]
    cols = [*keys, "indicator", "params", "kind", "n", "value", "ci_lower", "ci_upper", "missing_share",
            "progress", "confidence"]
    iv_pub = dc.suppress(iv[["row", *cols]], ["n"], label_column="row", hidden=[(i, "n") for i in nested],
                         derived={c: ["n"] for c in ("value", "ci_lower", "ci_upper", "missing_share")})
    # The missing share of a count indicator is of a base the table does not show (all episodes with a
    # reading): with another row of the same area it can give a small count away, so only 0 is shown.
    count_miss = ((iv["kind"] == "count") & (iv["missing_share"] > 0)).to_numpy()
    iv_pub["missing_share"] = dc.hide(iv_pub["missing_share"], count_miss)
    # The share improving and the mean change of a whole area are the distance table's figures: suppressed
    # here when they are there, or the two tables together would undo each other's protection.
    # (The mean change's interval is the distance table's too: hidden there, it hides the value here.)
    dist = distance_published(a, prot).set_index("code")
    same = {"share_improving": ("pct_improved",), "mean_change": ("mean_change", "ci_lower", "ci_upper")}
    as_dist = np.array([iv.at[i, "indicator"] in same and set(p) == {"outcome"} and p["outcome"] in dist.index
                        and not all(is_number(dist.at[p["outcome"], c]) for c in same[iv.at[i, "indicator"]])
                        for i, p in enumerate(params)], dtype=bool)
    iv_pub["value"] = dc.hide(iv_pub["value"], as_dist & iv_pub["value"].notna().to_numpy())
    iv_pub = dc.suppress_shares(iv_pub, INDICATOR_SPECS).drop(columns="row")
    iv_pub, rounded = _round_counts(a, iv, iv_pub, params, dist)
    # A rating rests on its indicators' values and intervals: hidden with any of them.
    small = (iv_pub["n"].isin([dc.PRIMARY, dc.SECONDARY]) | iv_pub["value"].isin([dc.SECONDARY])).to_numpy()
    iv_pub.loc[small, ["progress", "confidence"]] = dc.SECONDARY
    hidden_steps = set(map(tuple, iv.loc[small, keys].to_numpy()))
    rt = r.ratings[[*keys, "progress", "confidence", "basis"]].copy()
    hide_rt = np.array([tuple(k) in hidden_steps for k in rt[keys].to_numpy()], dtype=bool)
    rt["progress"] = dc.hide(rt["progress"], hide_rt)
    rt["confidence"] = dc.hide(rt["confidence"], hide_rt)
    iv_pub["params"] = [settings_in_words(p) for p in params]
    area, fy = Area(a.area), domain.fy_label(a.year)
    tables = [pub.table("outcome_map_ratings", Msg("Outcome map ratings, {area}, {year} (the map's wording is in "
                                                     "English)", area=area, year=fy), rt,
                        label_column="step"),
              pub.table("outcome_map_indicators", Msg("Indicators behind the ratings, {area}, {year} (value: a "
                                                      "proportion, a mean or a count, by kind; counts rounded to "
                                                      "multiples of 5; the map's wording is in English)", area=area,
                                                      year=fy),
                        iv_pub, ["n"], specs=INDICATOR_SPECS, rounded=rounded,
                        # a proportion or a mean to 3 decimals, a count (and its interval) whole
                        row_decimals=tuple(0 if k == "count" else 3 for k in iv_pub["kind"]))]
    figs = []
    if not hide_rt.any():
        m = r.maps[a.area]
        for i, pw in enumerate(m.pathways):
            # Large enough type to read at the page's width (at least 12 px); the map's own words are English.
            fig = plot_map(m, i, wrap=16, fontsize=11)  # a bare Figure: the batch keeps nothing in pyplot
            figs.append(pub.figure(f"outcome_map_{i + 1}", Msg("Outcome map, pathway {n}: {name} (the map is written "
                                                               "in English)", n=str(i + 1),
                                                               name=Verbatim(getattr(pw, "name", str(pw)))),
                                   fig, alt=_map_alt(m, i), translate=False))
    text = Msg("The outcome map sets out how support is expected to lead to change, step by step (contribution "
               "analysis). Steps measured by an indicator are rated from this area's data for the episodes active in "
               "{year} (their readings up to the year's end); the others carry the programme team's ratings "
               "(*manual*). The map's wording is in English only. The indicators count the episodes active in the "
               "year, so their bases differ from the lasting-impact section's, which counts every episode ended by "
               "the year's end.", year=fy)
    notes = [N_("Some ratings rest on figures that would reveal fewer than 5 episodes and are hidden; the map "
                "figure is therefore not shown.")] if hide_rt.any() else []
    return Section("outcome_map", N_("Outcome map"), text, tables, figs, notes)


def settings_in_words(params: dict) -> Items:
    """An indicator's settings as a reader reads them (``Managing money; stage 4``), not its parameters
    (``outcome=managing_money, stage=4``); a setting without words is shown as written.

    >>> from longitudinal.i18n import Translator
    >>> settings_in_words({"outcome": "managing_money", "stage": "4"}).render(Translator("cy"))
    'Rheoli arian; cam 4'
    """
    lead_needs = {n.code: n.name for n in domain.LEAD_NEEDS}
    words = []
    for k, v in params.items():
        if k == "outcome" and v in domain.OUTCOMES:
            words.append(Msg(domain.OUTCOMES[v].name))
        elif k == "stage":
            words.append(Msg("stage {k}", k=str(v)))
        elif k == "months":
            words.append(Msg("{n} months after the end", n=int(v)))
        elif k == "service_type" and v in domain.SERVICES:
            words.append(Msg(domain.SERVICES[v]))
        elif k == "lead_need" and v in lead_needs:
            words.append(Msg(lead_needs[v]))
        elif k == "local_authority":
            words.append(Area(str(v)))
        else:
            words.append(Verbatim(f"{k}={v}"))
    return Items(tuple(words))


def _map_alt(m, i: int) -> Msg:
    """The pathway's finding in words: how many of its steps have each progress rating."""
    r = m.ratings_[m.ratings_["pathway"] == m.pathways[i].name]
    counts = r["progress"].value_counts()
    return Msg("Outcome map of one pathway with {n} steps: {good} rated good progress, {some} some, {low} low or "
               "none, {na} not rated.", n=len(r), good=int(counts.get("good", 0)), some=int(counts.get("some", 0)),
               low=int(counts.get("low", 0) + counts.get("no", 0)), na=int(counts.get("n/a", 0)))


def _round_counts(a: AreaYear, iv: pd.DataFrame, pub: pd.DataFrame, params: list[dict], dist: pd.DataFrame):
    """The indicators' counts as published, and the cells changed.

    An indicator of a whole outcome area counts the distance table's episodes compared: it shows that
    table's rounded count, and its share improving that table's percentage. Other counts shown are
    rounded to the nearest multiple of 5, which keeps the order of nested counts (a subgroup is never
    published larger than its group).
    """
    pub = pub.copy()
    exact_n = dict(zip(a.distance_frame["outcome"], a.distance_frame["n"].fillna(0)))
    changes = []
    for i, p in enumerate(params):
        for col in ("n", "value"):
            v = pub.at[i, col]
            if not is_number(v) or (col == "value" and iv.at[i, "kind"] != "count"):
                continue
            whole = set(p) == {"outcome"} and p.get("outcome") in dist.index
            if col == "n" and whole and int(iv.at[i, "n"]) == int(exact_n.get(p["outcome"], -1)):
                new = int(dist.at[p["outcome"], "n_compared"])
            else:
                new = int(dc.BASE * np.floor(float(v) / dc.BASE + 0.5))
            if new != v:
                changes.append(Change(a.area, "outcome_map_indicators", i, col, new))
            pub.at[i, col] = new
        if iv.at[i, "indicator"] == "share_improving" and set(p) == {"outcome"} and p.get("outcome") in dist.index \
                and is_number(pub.at[i, "value"]) and is_number(dist.at[p["outcome"], "pct_improved"]):
            pub.at[i, "value"] = round(float(dist.at[p["outcome"], "pct_improved"]) / 100, 3)
    return pub, changes
