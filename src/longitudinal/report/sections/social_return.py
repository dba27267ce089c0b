"""Social return on investment: the headline, the value by outcome, and the summary and sensitivity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ... import domain
from .. import protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import PALETTE, Publisher, Section, publishable_reason

# Social value by outcome: the assumptions of the impact map, and a present value hidden with its people.
SROI_OUTCOME_FREE = ("proxy_value_gbp", "deadweight", "attribution", "drop_off", "duration_years",
                      "present_value_gbp")


@dataclass
class SROIRun:
    """The impact map evaluated on an area's data for the year (shared by the two social-return sections).

    ``result`` is None when it could not be evaluated (``reason`` says why, fit to publish).
    ``small``: an outcome is reached by 1-4 people, so every figure built on the total value is hidden.
    """

    map_path: Path
    draws: int
    result: object | None = None
    monte_carlo: object | None = None
    reason: str = ""
    small: bool = False


def evaluate(a: AreaYear, impact_map: str | Path | None = None, draws: int = 2000) -> SROIRun:
    """Evaluate the impact map (default: the data-driven ``example_study.yaml``) on the area's year."""
    import warnings

    from ... import sroi

    path = Path(impact_map or Path(sroi.DEFAULT_MAP).with_name("example_study.yaml"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sroi.evaluate(path, a.study, year=a.year)
            mc = res.monte_carlo(draws=draws, seed=a.seed, alpha=0.10)
    except (sroi.ImpactMapError, ValueError) as exc:
        # Typically a small area: too little follow-up to estimate an adjustment from the data.
        return SROIRun(path, draws, reason=publishable_reason(exc))
    quantity = res.outcomes["quantity"].astype(float).round().fillna(0)
    small = bool(((quantity >= 1) & (quantity < dc.THRESHOLD)).any())
    return SROIRun(path, draws, res, mc, small=small)


def social_return(a: AreaYear, prot: YearProtection, pub: Publisher, run: SROIRun) -> Section:
    """Social return on investment in the year, with its uncertainty (Monte Carlo, seeded).

    The default impact map is the data-driven ``data/impact_maps/example_study.yaml``: its
    quantities are indicators of this area's data and its inputs are this area's spend.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if run.result is None:
        return Section("social_return", "Social return on investment", "", [], [], [
            f"The social return could not be estimated for {a.area} in {domain.fy_label(a.year)}: {run.reason}"])
    res, mc, path, draws = run.result, run.monte_carlo, run.map_path, run.draws
    out = res.outcomes.copy()
    quantity = out["quantity"].astype(float).round().fillna(0).astype("int64")
    small = ((quantity >= 1) & (quantity < dc.THRESHOLD)).to_numpy()
    lo, hi = mc.interval
    pay = res.payback_months
    head = pd.DataFrame({
        "measure": ["Inputs: spend (GBP, present value)", "Social value (GBP, present value)",
                    "Net present value (GBP)", "SROI ratio (GBP of social value per GBP 1)",
                    "SROI ratio: median of Monte Carlo draws", "SROI ratio: 90% uncertainty interval",
                    "Probability that the ratio is below 1", "Payback (months)"],
        "value": [f"{res.inputs_value:,.0f}", f"{res.present_value:,.0f}", f"{res.npv:,.0f}",
                  f"{res.sroi_ratio:.2f}", f"{mc.median:.2f}", f"{lo:.2f} to {hi:.2f}",
                  f"{mc.prob_below_one:.3f}",
                  "" if pay is None or not np.isfinite(pay) else f"{pay:.1f}"]})
    by_outcome = pd.DataFrame({"outcome": out["outcome"], "stakeholder": out["stakeholder"],
                        "people": quantity, "proxy_value_gbp": out["proxy_value"].astype(float).round(0),
                        "deadweight": out["deadweight"], "attribution": out["attribution"],
                        "drop_off": out["drop_off"].astype(float).round(3), "duration_years": out["duration_years"],
                        "present_value_gbp": out["present_value"].astype(float).round(0)})
    by_outcome = dc.suppress(by_outcome, ["people"], derived={"present_value_gbp": ["people"]})
    if small.any():
        # The total value less the published outcomes would give a suppressed count away (few integer
        # solutions), so every figure built on the total is hidden for this area.
        head.loc[1:, "value"] = dc.SECONDARY
    tables = [pub.table("sroi_headline", f"Social return, {a.label}", head, free=("value",)),
              pub.table("sroi_outcomes", f"Social value by outcome, {a.label}", by_outcome, ["people"],
                                  free=SROI_OUTCOME_FREE)]
    if small.any():
        return Section("social_return", "Social return on investment", "", tables, [], [
            "An outcome in this area is reached by fewer than 5 people: its count is suppressed, and so are the "
            "social value, the ratio and its uncertainty, which would reveal it."])
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(mc.ratios, bins=50, color=PALETTE[2])
    ax.axvline(res.sroi_ratio, color="black", lw=1, label=f"estimate {res.sroi_ratio:.2f}")
    ax.axvspan(lo, hi, color=PALETTE[1], alpha=0.2, label=f"90% interval {lo:.2f} to {hi:.2f}")
    ax.axvline(1.0, color=PALETTE[3], ls="--", lw=1, label="break-even (1.0)")
    ax.set_xlabel("SROI ratio (GBP of social value per GBP 1 spent)")
    ax.set_yticks([])
    ax.set_title(f"{a.label}: uncertainty of the social return ({draws:,} draws)", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right", "left"]].set_visible(False)
    fig.tight_layout()
    figs = [pub.figure("sroi_uncertainty", "Distribution of the SROI ratio over the Monte Carlo draws "
                                 "of proxies, deadweight, attribution, displacement and drop-off", fig)]
    text = (f"Social value is estimated from the impact map `{Path(path).name}`: the number of people reaching "
            "each outcome in the year (from the Journey of Change readings), a financial proxy for each outcome, "
            "less deadweight, displacement and attribution, with drop-off over the outcome's duration, "
            "discounted at the HM Treasury Green Book rate and set against the year's spend. The uncertainty "
            f"interval comes from {draws:,} Monte Carlo draws of every assumption (seed {a.seed}).")
    notes = ["Outcomes reached by fewer than 5 people are suppressed; the totals still include them."] \
        if small.any() else []
    return Section("social_return", "Social return on investment", text, tables, figs, notes)


def social_return_detail(a: AreaYear, prot: YearProtection, pub: Publisher, run: SROIRun) -> Section:
    """The social return's summary, assumptions and sensitivity analyses, as they may be published.

    What ``SROIResult.summary()``, ``one_way()`` and ``switching_values()`` show, for this area, under
    the same rule as :meth:`social_return` (run first if it has not been): the number of people reaching
    an outcome is a count, and when one is 1-4 every figure built on the total value (the ratio, the net
    present value, the payback, the one-way ratios, the switching values) is hidden too, since the total
    less the published outcomes would give it away. Adjustments estimated from this area's data are
    shown without the curve values they were estimated from.
    """
    res = run.result
    heading = f"Social return on investment: summary and sensitivity, {a.label}"
    if res is None:
        return Section("social_return_detail", heading, "", notes=[
            f"The social return could not be estimated for {a.area} in {domain.fy_label(a.year)}."])
    small = run.small
    m = res.impact_map
    hide = (lambda s: dc.SECONDARY) if small else (lambda s: s)
    pay = res.payback_months
    summary = pd.DataFrame({
        "measure": ["Area", "Financial year", "Impact map", "Prices", "GDP deflators", "Discounting",
                    "Inputs: spend (GBP, present value)", "Social value (GBP, present value)",
                    "Net present value (GBP)", "SROI ratio (GBP of social value per GBP 1)", "Net SROI ratio",
                    "Payback (months)"],
        "value": [a.area, domain.fy_label(a.year), run.map_path.name,
                  f"{m.price_year} ({domain.fy_label(m.price_year)})", res.deflators.title, m.discount.describe(),
                  f"{res.inputs_value:,.0f}", hide(f"{res.present_value:,.0f}"), hide(f"{res.npv:,.0f}"),
                  hide(f"{res.sroi_ratio:.2f}"), hide(f"{res.net_sroi_ratio:.2f}"),
                  hide("" if pay is None or not np.isfinite(pay) else f"{pay:.1f}")]})
    adj = res.adjustments[["stakeholder", "outcome", "adjustment", "value", "status", "basis"]].copy()
    adj["value"] = adj["value"].astype(float).round(3)
    # The basis of an estimate quotes the area's sustained-outcome curve, whose values with the lasting
    # impact table's counts could give a small number away: it names the source instead.
    est = (adj["status"] == "estimated").to_numpy()
    adj.loc[est, "basis"] = f"estimated from {a.area}'s data (sustained-outcome curves or a comparison rate)"
    # A fallback's reason quotes how few people the data follow: the map's value is named instead.
    fb = adj["basis"].astype(str).str.startswith("stated fallback").to_numpy()
    adj.loc[fb, "basis"] = f"stated in the impact map ({a.area}'s data are too few to estimate it)"
    adj["basis"] = [publishable_reason(b) for b in adj["basis"]]
    tables = [pub.table("sroi_summary", f"Social return: summary, {a.label} (impact map "
                                  f"{run.map_path.name} evaluated on this area's data)", summary,
                                  free=("value",)),
              pub.table("sroi_adjustments", f"Social return: deadweight, displacement, attribution "
                                  f"and drop-off of each outcome, {a.label}", adj, free=("value",))]
    notes = []
    if small:
        notes.append("An outcome in this area is reached by fewer than 5 people: the social value, the ratio "
                     "and every sensitivity analysis built on them are suppressed, since they would reveal it.")
    else:
        ow = res.one_way()
        sv = res.switching_values()
        if len(ow):
            ow = ow[["stakeholder", "outcome", "parameter", "point", "low", "high", "ratio_low", "ratio_high",
                     "swing"]].copy()
            ow[["point", "low", "high"]] = ow[["point", "low", "high"]].astype(float).round(3)
            ow[["ratio_low", "ratio_high", "swing"]] = ow[["ratio_low", "ratio_high", "swing"]].astype(
                float).round(3)
            tables.append(pub.table(
                "sroi_one_way", f"Social return: one-way sensitivity (the ratio at the low and high end of each "
                f"assumption's 90% range, the others held), {a.label}", ow,
                free=("point", "low", "high", "ratio_low", "ratio_high", "swing")))
        sv = sv[["stakeholder", "outcome", "parameter", "point", "switching_value", "change", "share_of_point",
                 "note"]].copy()
        for c in ("point", "switching_value", "change", "share_of_point"):
            sv[c] = sv[c].astype(float).round(3)
        tables.append(pub.table(
            "sroi_switching_values", f"Social return: switching values (the value of each assumption, the "
            f"others held, at which the ratio reaches 1), {a.label}", sv,
            free=("point", "switching_value", "change", "share_of_point")))
    text = (f"The impact map `{run.map_path.name}` evaluated on the data of **{a.area}** for "
            f"{domain.fy_label(a.year)}. The one-way analysis moves one assumption at a time across its "
            "90% range; a switching value is how far an assumption must move, the others held, for the "
            "social value to equal the spend. Quantities are numbers of people (counts): they obey the "
            "report's disclosure rule.")
    return Section("social_return_detail", heading, text, tables, [], notes)

