"""Distance travelled in each of the 11 outcome areas: first vs latest reading by the year's end."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import domain
from .. import counts as ct, protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section, is_number

# Distance travelled: improved / same / worse split the episodes compared; the means are of a 1-5 score
# (the change of one from -4 to 4); the three means are tied by subtraction and the interval goes with the
# change, and it also gives the spread of the changes, which with the mean can show how many improved: it is
# hidden whenever one of the three shares is.
DISTANCE_SPECS = (
    dc.Parts(("pct_improved", "pct_same", "pct_worse"), "n_compared", scale=100, decimals=1),
    dc.Share("mean_first", "n_compared", lo=1, hi=5, decimals=2),
    dc.Share("mean_latest", "n_compared", lo=1, hi=5, decimals=2),
    dc.Share("mean_change", "n_compared", lo=-4, hi=4, decimals=2),
    dc.Together(("mean_first", "mean_latest", "mean_change")),
    dc.Together(("ci_lower", "ci_upper"), when=("mean_change", "pct_improved", "pct_same", "pct_worse")),
)


def distance(a: AreaYear, prot: YearProtection, pub: Publisher) -> Section:
    """Distance travelled in each of the 11 outcome areas: first vs latest reading by the year's end."""
    import matplotlib

    matplotlib.use("Agg")
    from ...distance import plot_profile

    d = a.distance_frame
    tab = distance_published(a, prot).drop(columns="code")
    stats_cols = ["mean_first", "mean_latest", "mean_change", "ci_lower", "ci_upper"]
    tables = [pub.table(
        "distance_travelled", f"Distance travelled by outcome area: first vs latest reading by "
        f"{domain.fy_bounds(a.year)[1]:%d %B %Y}, episodes active in {domain.fy_label(a.year)}, {a.area}",
        tab, ["n_compared"], specs=(*DISTANCE_SPECS, dc.Same("n_compared", ct.K_COMPARED, "sum", part=True)),
        label_column="outcome", rounded=prot.changes_of(a.area, "distance"))]
    # The figure shows the published values only: areas whose means are suppressed are left out, and an
    # interval suppressed in the table is not written.
    full = np.array([all(is_number(v) for v in row) for row in tab[["n_compared", *stats_cols[:3]]].to_numpy()])
    shown = pd.DataFrame({"outcome": d["outcome"].to_numpy()[full],
                          "n": tab.loc[full, "n_compared"].astype("int64").to_numpy(),
                          **{c: pd.to_numeric(tab.loc[full, c], errors="coerce").astype(float).to_numpy()
                             for c in stats_cols}})
    shown = shown[shown["n"] > 0]
    figs = []
    if len(shown):
        fig = plot_profile(shown, kind="dots", title=f"{a.label}: distance travelled (first vs latest stage)")
        for t in fig.axes[0].texts:
            if "nan" in t.get_text():
                t.set_text(t.get_text().replace(" (+nan, +nan)", " (CI suppressed)"))
        figs.append(pub.figure("distance_travelled", "Mean stage at the first and the latest reading "
                                         "in each outcome area, with the mean change and its 95% CI "
                                         "(areas whose means are suppressed in the table are not shown)", fig))
    text = ("For every episode active in the year and every outcome area with a need, the first score is compared "
            "with the latest score recorded by the end of the year. Episodes with a single reading cannot show "
            "change and are left out. The interval is a 95% t interval of the mean change; *improved* means a "
            "higher stage at the latest reading.")
    return (Section("distance", "Distance travelled in the 11 outcome areas", text, tables, figs))



#: Percentages and means of distance travelled are shown only for at least this many episodes compared (as
#: published): a published 5 may be 1 to 9 episodes, whose shares would describe one or two people.
MIN_BASE = 10


def distance_published(a: AreaYear, prot: YearProtection) -> pd.DataFrame:
    """The distance table as published (column ``code`` added): other sections follow it.

    Episodes compared, improved, same and worse are the year's rounded counts; the percentages are
    computed from them; the means and the interval follow the rules of
    :mod:`~longitudinal.report.protect` on the exact counts, and every figure is hidden where fewer
    than :data:`MIN_BASE` episodes are published as compared.
    """
    d = a.distance_frame
    counts = prot.table(a.area, "distance")
    stats_cols = ["mean_first", "mean_latest", "mean_change", "ci_lower", "ci_upper"]
    pct_cols = ["pct_improved", "pct_same", "pct_worse"]
    exact = d[["n", *stats_cols]].copy()
    exact.insert(0, "outcome", counts["outcome"].to_numpy())
    exact["n"] = exact["n"].fillna(0).astype("int64")
    exact[["ci_lower", "ci_upper"]] = exact[["ci_lower", "ci_upper"]].round(2)
    exact = exact.rename(columns={"n": "n_compared"})
    means = [s for s in DISTANCE_SPECS if isinstance(s, dc.Share)] + [DISTANCE_SPECS[4]]
    stats = dc.suppress_shares(dc.suppress(exact, ["n_compared"], derived={c: ["n_compared"] for c in stats_cols}),
                               means)
    out = counts[["outcome", "n_compared"]].copy()
    n_pub = out["n_compared"].to_numpy(dtype="float64")
    small_base = n_pub < MIN_BASE
    for c in stats_cols:
        out[c] = stats[c].to_numpy()
    for c in pct_cols:
        out[c] = counts[c].to_numpy()
    for c in [*stats_cols, *pct_cols]:
        # Blank where none is published (0), hidden where a few are: decided on the published count only.
        v = out[c].astype(object).to_numpy()
        v[small_base & (n_pub > 0)] = dc.SECONDARY
        v[n_pub == 0] = np.nan
        out[c] = pd.Series(v, index=out.index, dtype=object)
    out = dc.suppress_shares(out, [DISTANCE_SPECS[5]])  # the interval goes with the change and the shares
    return out.assign(code=d["outcome"].to_numpy())


def within_published(a: AreaYear, part: int, code: str) -> bool:
    """Whether a count of episodes of outcome ``code`` that lies within the distance table's episodes
    compared must be suppressed: the difference of the two would be a small count."""
    d = a.distance_frame.set_index("outcome")
    whole = int(d.at[code, "n"]) if pd.notna(d.at[code, "n"]) else 0
    if whole < dc.THRESHOLD:  # suppressed there: nothing to subtract from
        return False
    t = pd.DataFrame({"whole": [max(whole, part)], "part": [min(whole, part)]})
    out = dc.suppress(t, ["whole", "part"], sums=[dc.Sum(("part",), "whole")], fixed=["whole"])
    return out.at[0, "part"] in (dc.PRIMARY, dc.SECONDARY)

