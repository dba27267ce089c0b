"""Social return on investment: the headline, the value by outcome, and the summary and sensitivity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ... import domain
from ...i18n import N_, Area, Msg, Number, Verbatim
from ...palette import PALETTE, figure_style
from .. import protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section, publishable_reason

#: The headline ratio's label (the table's row and the figure's axis).
SROI_RATIO = N_("SROI ratio (£ of social value per £1 spent)")

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

    area, fy = Area(a.area), domain.fy_label(a.year)
    heading = N_("Social return on investment")
    if run.result is None:
        return Section("social_return", heading, "", [], [], [
            Msg("The social return could not be estimated for {area} in {year}. The reason, as the model gives it (in "
                "English): {reason}", area=area, year=fy, reason=Verbatim(run.reason))])
    res, mc, path, draws = run.result, run.monte_carlo, run.map_path, run.draws
    out = res.outcomes.copy()
    quantity = out["quantity"].astype(float).round().fillna(0).astype("int64")
    small = ((quantity >= 1) & (quantity < dc.THRESHOLD)).to_numpy()
    lo, hi = mc.interval
    pay = res.payback_months
    # Payback beyond the longest benefit period is never reached: said so, not shown as a number.
    horizon_months = 12 * float(out["duration_years"].astype(float).max())
    reached = pay is not None and np.isfinite(pay) and pay <= horizon_months
    # Numbers as numbers (machine-readable CSV); the unit is in the measure's name.
    head = pd.DataFrame({
        "measure": [N_("Inputs: spend (£, present value)"), N_("Social value (£, present value)"),
                    N_("Net present value (£)"), SROI_RATIO,
                    N_("SROI ratio: median of the Monte Carlo draws"),
                    N_("SROI ratio: 90% uncertainty interval, lower end"),
                    N_("SROI ratio: 90% uncertainty interval, upper end"),
                    N_("Probability that the ratio is below 1 (%)"), N_("Payback (months)")],
        "value": [round(res.inputs_value), round(res.present_value), round(res.npv), round(res.sroi_ratio, 2),
                  round(mc.median, 2), round(lo, 2), round(hi, 2), round(100 * mc.prob_below_one, 1),
                  round(pay, 1) if reached else np.nan]}, dtype=object)
    by_outcome = pd.DataFrame({"outcome": out["outcome"], "stakeholder": out["stakeholder"],
                               "people": quantity, "proxy_value_gbp": out["proxy_value"].astype(float).round(0),
                               "deadweight": out["deadweight"], "attribution": out["attribution"],
                               "drop_off": out["drop_off"].astype(float).round(3),
                               "duration_years": out["duration_years"],
                               "present_value_gbp": out["present_value"].astype(float).round(0)})
    by_outcome = dc.suppress(by_outcome, ["people"], derived={"present_value_gbp": ["people"]})
    if small.any():
        # The total value less the published outcomes would give a suppressed count away (few integer
        # solutions), so every figure built on the total is hidden for this area.
        head.loc[1:, "value"] = dc.SECONDARY
    illustrative = _illustrative_proxies(out)
    note = N_("(illustrative proxies)") if illustrative else N_("(proxies as stated in the impact map)")
    tables = [pub.table("sroi_headline", Msg("Social return, {area}, {year} {note}", area=area, year=fy,
                                             note=Msg(note)), head, free=("value",), label_column="measure"),
              pub.table("sroi_outcomes", Msg("Social value by outcome, {area}, {year} {note}; the impact map's "
                                             "wording is in English", area=area, year=fy,
                                             note=Msg(note)), by_outcome, ["people"], free=SROI_OUTCOME_FREE,
                        label_column="outcome")]
    notes = []
    if illustrative:
        notes.append(N_("The financial proxies are ILLUSTRATIVE values (HACT Social Value Bank figures marked "
                        "'illustrative' in the package's proxy library): the social value and the ratio show how the "
                        "method works, not a valuation of the programme. They must not be quoted as a return on "
                        "the spend."))
    if not reached and not small.any():
        notes.append(Msg("Payback is not reached within the benefit period ({months} months, the longest duration of "
                         "an outcome): shown as [x].", months=Number(horizon_months)))
    if small.any():
        notes.append(N_("An outcome in this area is reached by fewer than 5 people: its count is suppressed, and so "
                        "are the social value, the ratio and its uncertainty, which would reveal it."))
        return Section("social_return", heading, "", tables, [], notes)
    with figure_style():
        fig, ax = plt.subplots(figsize=(8.0, 3.6))
        ax.hist(mc.ratios, bins=50, color=PALETTE[0])
        ax.axvline(res.sroi_ratio, color="black", lw=1.5, ls="-", label=N_("Estimate"))
        ax.axvspan(lo, hi, color=PALETTE[1], alpha=0.2, hatch="//", label=N_("90% uncertainty interval"))
        ax.axvline(1.0, color=PALETTE[3], ls="--", lw=1.5, label=N_("Break-even (1.0)"))
        ax.set_xlabel(SROI_RATIO)
        ax.set_yticks([])
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.spines[["top", "right", "left"]].set_visible(False)
        fig.tight_layout()
    alt = Msg("Histogram of {draws} simulated SROI ratios {note}: the estimate is {ratio} and 90% of the draws lie "
              "between {lo} and {hi}.", draws=draws, note=Msg(note), ratio=Number(res.sroi_ratio, 2),
              lo=Number(lo, 2), hi=Number(hi, 2))
    figs = [pub.figure("sroi_uncertainty", Msg("Distribution of the SROI ratio over the Monte Carlo draws of "
                                               "proxies, deadweight, attribution, displacement and drop-off, {area}, "
                                               "{year} {note}", area=area, year=fy, note=Msg(note)), fig, alt=alt)]
    text = Msg("Social value is estimated from the impact map {map}: the number of people reaching each outcome in "
               "the year (from the Journey of Change readings), a financial proxy for each outcome, less deadweight, "
               "displacement and attribution, with drop-off over the outcome's duration, discounted at the HM "
               "Treasury Green Book rate and set against the year's spend. The uncertainty interval comes from "
               "{draws} Monte Carlo draws of every assumption (seed {seed}).", map=Verbatim(Path(path).name, None),
               draws=draws, seed=str(a.seed))
    points = [Msg("With {note}, the estimated social return is {ratio} of social value for each £1 spent (90% "
                  "uncertainty interval {lo} to {hi}); this illustrates the method and is not a valuation.",
                  note=Msg(note), ratio=Number(res.sroi_ratio, 2, money=True), lo=Number(lo, 2, money=True),
                  hi=Number(hi, 2, money=True))] if illustrative else []
    return Section("social_return", heading, text, tables, figs, notes, key_points=points)


def _illustrative_proxies(outcomes: pd.DataFrame) -> bool:
    """Whether the values come from the package's proxy library while it says its values are illustrative."""
    import yaml

    from ... import sroi

    library = yaml.safe_load(Path(sroi.DEFAULT_PROXIES).read_text(encoding="utf-8")) or {}
    sources = {str(p.get("source", "")) for p in (library.get("proxies") or {}).values()}
    used = outcomes.get("proxy_source", pd.Series(dtype=object)).astype(str).isin(sources - {""}).any()
    return bool(used) and str(library.get("status", "")).lower() == "illustrative"


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

