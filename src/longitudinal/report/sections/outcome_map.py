"""The programme's outcome map, each step rated from the area's data, and the indicators behind it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ... import domain
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
        r = rollup(omap, a.year_study, areas=[a.area])
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
    tables = [pub.table("outcome_map_ratings", f"Outcome map ratings, {a.label}", rt),
              pub.table("outcome_map_indicators", f"Indicators behind the ratings, {a.label} "
                        "(value: a proportion, a mean or a count, per kind; counts rounded to multiples of 5)",
                        iv_pub, ["n"], specs=INDICATOR_SPECS, rounded=rounded)]
    figs = []
    if not hide_rt.any():
        m = r.maps[a.area]
        for i, pw in enumerate(m.pathways):
            fig = m.plot(pathway=i)
            figs.append(pub.figure(f"outcome_map_{i + 1}", f"Outcome map: {getattr(pw, 'name', pw)}",
                                             fig))
    text = ("The outcome map sets out how support is expected to lead to change, step by step (contribution "
            "analysis). Steps measured by an indicator are rated from this area's data for the episodes active "
            "in the year; the others carry the programme team's ratings (*manual*).")
    notes = ["Some ratings rest on figures that would reveal fewer than 5 episodes and are hidden; the map "
             "figure is therefore not shown."] if hide_rt.any() else []
    return Section("outcome_map", "Outcome map", text, tables, figs, notes)



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
