"""Social return on investment: the headline, the value by outcome, and the summary and sensitivity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ... import domain
from ...errors import LongitudinalError
from ...i18n import N_, Area, Msg, Number, Verbatim
from ...palette import PALETTE, figure_style
from .. import counts as ct, protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section, publishable_reason

#: The headline ratio's label (the table's row and the figure's axis).
SROI_RATIO = N_("SROI ratio (£ of social value per £1 spent)")
#: Measures shown in both the headline and the summary table.
INPUTS, VALUE, NPV = (N_("Inputs: spend (£, present value)"), N_("Social value (£, present value)"),
                      N_("Net present value (£)"))
PAYBACK = N_("Payback (months)")
#: The assumptions an impact map states or the data estimate, and those the sensitivity analyses move.
ASSUMPTIONS = {"deadweight": N_("Deadweight"), "displacement": N_("Displacement"), "attribution": N_("Attribution"),
               "drop_off": N_("Drop-off"), "proxy_value": N_("Financial proxy (£ per person)"),
               "quantity": N_("People reaching the outcome")}
#: Assumptions in pounds or people (shown without decimals); the others are shares (3 decimals).
WHOLE = ("proxy_value", "quantity")
#: Columns of the sensitivity tables in the assumption's own unit (the rest are ratios: decimals of their own).
IN_UNIT = ("point", "low", "high", "switching_value", "change")
#: How an adjustment's value was set (its status in the model).
STATUS = {"assumed": N_("Stated in the impact map"), "default": N_("Published median (383 SROI reports)"),
          "estimated": N_("Estimated from this area's data")}
#: The model's notes on a switching value it cannot give (catalogue messages, shown in the page's language).
SWITCHING_NOTES = (N_("outcome has no value"), N_("ratio stays above 1 even at 0"),
                   N_("ratio stays above 1 even at 100%"), N_("ratio is below 1 even at 0%"))

# Social value by outcome: the assumptions of the impact map, and the present value of its people.
#: The people reaching an outcome add up over the areas (Wales's quantity is the authorities' sum: an
#: indicator counts episodes, each in one authority): rounded with the year's counts
#: (:func:`~longitudinal.report.counts.sroi_quantity_counts`) and declared so, for the audit to check Wales
#: minus the authorities.
SROI_OUTCOME_LINKS = ct.across_links({"people": "people reaching the outcome | {row}"})
SROI_OUTCOME_FREE = ("proxy_value_gbp", "deadweight", "attribution", "drop_off", "duration_years",
                      "present_value_gbp")


@dataclass
class SROIRun:
    """The impact map evaluated on an area's data for the year (shared by the two social-return sections).

    ``result`` is None when it could not be evaluated (``reason`` says why, fit to publish).
    ``rounded``: the quantities are those the year's protection publishes (rounded to multiples of 5, ``result``
    evaluated on them), with the cells that differ from the exact counts; ``None``: the exact quantities, a count
    of 1-4 suppressed. ``small``: an outcome is reached by 1-4 people (never, when rounded), so every figure
    built on the total value is hidden.
    """

    map_path: Path
    draws: int
    result: object | None = None
    monte_carlo: object | None = None
    reason: str = ""
    small: bool = False
    rounded: list | None = None


def evaluate(a: AreaYear, impact_map: str | Path | None = None, draws: int = 2000,
             prot: YearProtection | None = None) -> SROIRun:
    """Evaluate the impact map (default: the data-driven ``example_study.yaml``) on the area's year; with the
    year's protection, on the quantities it publishes (the default map's are rounded with the year's counts,
    another map's are rounded alone)."""
    import warnings

    from ... import sroi

    path = Path(impact_map or ct.sroi_map())
    rounded = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = sroi.ImpactMap.load(path)
            given = None
            if prot is not None:
                counts, rounded = _published_quantities(a, prot, path)
                people = dict(zip(counts["outcome"], counts["people"]))
                # Every figure follows from the published quantities: a present value or the ratio computed from
                # an exact quantity would give it back (the proxy and the adjustments are published). Counted
                # already, they are not counted again; an area whose quantities could not be counted has none,
                # and evaluating the map says why.
                if all(o.name in people for o in m.outcomes):
                    given = [float(people[o.name]) for o in m.outcomes]
            res = sroi.evaluate(m, a.study, year=a.year, quantities=given)
            if prot is not None and given is None:
                raise LongitudinalError("the year's protection has no rounded quantity for some outcomes of "
                                        f"{path.name} here: it was computed from other data")
            mc = res.monte_carlo(draws=draws, seed=a.seed, alpha=0.10)
    except (sroi.ImpactMapError, ValueError) as exc:
        # Typically a small area: too little follow-up to estimate an adjustment from the data.
        return SROIRun(path, draws, reason=publishable_reason(exc))
    quantity = res.outcomes["quantity"].astype(float).round().fillna(0)
    small = bool(((quantity >= 1) & (quantity < dc.THRESHOLD)).any())
    return SROIRun(path, draws, res, mc, small=small, rounded=rounded)


def _published_quantities(a: AreaYear, prot: YearProtection, path: Path) -> tuple[pd.DataFrame, list]:
    """The map's quantities as published and the cells rounded: the year's joint rounding for the default map,
    the area's own rounding for another (its quantities are not in the year's)."""
    if path == ct.sroi_map() and prot.has(a.area, "sroi_outcomes"):
        return prot.table(a.area, "sroi_outcomes"), prot.changes_of(a.area, "sroi_outcomes")
    return prot.round_alone(a.area, ct.sroi_quantity_counts(a, path))


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
    payback, horizon_months = _payback(res)
    # Numbers as numbers (machine-readable CSV); the unit is in the measure's name.
    head = pd.DataFrame({
        "measure": [INPUTS, VALUE, NPV, SROI_RATIO,
                    N_("SROI ratio: median of the Monte Carlo draws"),
                    N_("SROI ratio: 90% uncertainty interval, lower end"),
                    N_("SROI ratio: 90% uncertainty interval, upper end"),
                    N_("Probability that the ratio is below 1 (%)"), PAYBACK],
        "value": [round(res.inputs_value), round(res.present_value), round(res.npv), round(res.sroi_ratio, 2),
                  round(mc.median, 2), round(lo, 2), round(hi, 2), round(100 * mc.prob_below_one, 1),
                  payback]}, dtype=object)
    reached = not np.isnan(payback)
    by_outcome = pd.DataFrame({"outcome": out["outcome"], "stakeholder": out["stakeholder"],
                               "people": quantity, "proxy_value_gbp": out["proxy_value"].astype(float).round(0),
                               "deadweight": out["deadweight"], "attribution": out["attribution"],
                               "drop_off": out["drop_off"].astype(float).round(3),
                               "duration_years": out["duration_years"],
                               "present_value_gbp": out["present_value"].astype(float).round(0)})
    if run.rounded is None:
        by_outcome = dc.suppress(by_outcome, ["people"], derived={"present_value_gbp": ["people"]})
    if small.any():
        # The total value less the published outcomes would give a suppressed count away (few integer
        # solutions), so every figure built on the total is hidden for this area.
        head.loc[1:, "value"] = dc.SECONDARY
    illustrative = _illustrative_proxies(out)
    note = N_("(illustrative proxies)") if illustrative else N_("(proxies as stated in the impact map)")
    tables = [pub.table("sroi_headline", Msg("Social return, {area}, {year} {note}", area=area, year=fy,
                                             note=Msg(note)), head, free=("value",), label_column="measure",
                        row_decimals=(0, 0, 0, 2, 2, 2, 2, 1, 1)),
              pub.table("sroi_outcomes", Msg("Social value by outcome, {area}, {year} {note}; the impact map's "
                                             "wording is in English", area=area, year=fy,
                                             note=Msg(note)), by_outcome, ["people"], free=SROI_OUTCOME_FREE,
                        label_column="outcome", specs=SROI_OUTCOME_LINKS, rounded=run.rounded)]
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


def _payback(res) -> tuple[float, float]:
    """``(payback in months, the longest benefit period in months)``; a payback beyond the longest benefit
    period is never reached: NaN (shown ``[x]``), not a number."""
    horizon_months = 12 * float(res.outcomes["duration_years"].astype(float).max())
    pay = res.payback_months
    reached = pay is not None and np.isfinite(pay) and pay <= horizon_months
    return (round(float(pay), 1) if reached else np.nan), horizon_months


def social_return_detail(a: AreaYear, prot: YearProtection, pub: Publisher, run: SROIRun) -> Section:
    """The social return's summary, assumptions and sensitivity analyses, as they may be published.

    What ``SROIResult.summary()``, ``one_way()`` and ``switching_values()`` show, for this area, under
    the same rule as :meth:`social_return` (run first if it has not been): the number of people reaching
    an outcome is a count, and when one is 1-4 every figure built on the total value (the ratio, the net
    present value, the payback, the one-way ratios, the switching values) is hidden too, since the total
    less the published outcomes would give it away. Adjustments estimated from this area's data are
    shown without the curve values they were estimated from. Every text is a catalogue message (the impact
    map's own words, its outcomes and stakeholders, are shown as written, in English).
    """
    res = run.result
    area, fy = Area(a.area), domain.fy_label(a.year)
    heading = Msg("Social return on investment: summary and sensitivity, {area}, {year}", area=area, year=fy)
    if res is None:
        return Section("social_return_detail", heading, "", notes=[
            Msg("The social return could not be estimated for {area} in {year}.", area=area, year=fy)])
    small = run.small
    m = res.impact_map
    hide = (lambda v: dc.SECONDARY) if small else (lambda v: v)
    map_name = Verbatim(run.map_path.name, None)
    summary = pd.DataFrame({
        "measure": [INPUTS, VALUE, NPV, SROI_RATIO, N_("Net SROI ratio"), PAYBACK],
        "value": [round(res.inputs_value), hide(round(res.present_value)), hide(round(res.npv)),
                  hide(round(res.sroi_ratio, 2)), hide(round(res.net_sroi_ratio, 2)), hide(_payback(res)[0])]},
        dtype=object)
    adj = res.adjustments[["stakeholder", "outcome", "adjustment", "value", "status", "basis"]].copy()
    adj["value"] = adj["value"].astype(float).round(3)
    # The basis of an estimate quotes the area's sustained-outcome curve, whose values with the lasting
    # impact table's counts could give a small number away, and a fallback's reason quotes how few people
    # the data follow: the status says where each value comes from instead.
    fallback = adj["basis"].astype(str).str.startswith("stated fallback").to_numpy()
    adj["basis"] = [N_("Stated in the impact map (this area's data are too few to estimate it)") if fb
                    else STATUS.get(st, st) for st, fb in zip(adj["status"], fallback)]
    adj["adjustment"] = [ASSUMPTIONS.get(x, x) for x in adj["adjustment"]]
    adj = adj.drop(columns="status")
    tables = [pub.table("sroi_summary", Msg("Social return: summary, {area}, {year} (impact map {map} evaluated on "
                                            "this area's data)", area=area, year=fy, map=map_name),
                        summary, free=("value",), label_column="measure", row_decimals=(0, 0, 0, 2, 2, 1)),
              pub.table("sroi_adjustments", Msg("Social return: deadweight, displacement, attribution and drop-off "
                                                "of each outcome, {area}, {year}; the impact map's wording is in "
                                                "English", area=area, year=fy),
                        adj, free=("value",), label_column="adjustment")]
    notes = []
    if small:
        notes.append(N_("An outcome in this area is reached by fewer than 5 people: the social value, the ratio "
                        "and every sensitivity analysis built on them are suppressed, since they would reveal it."))
    else:
        tables += _sensitivity(res, pub, area, fy)
    text = Msg("The impact map {map} evaluated on the data of **{area}** for {year}, in prices of {prices} "
               "(deflators: {deflators}) and discounted by {discounting}. The one-way analysis moves one assumption "
               "at a time across its 90% range; a switching value is how far an assumption must move, the others "
               "held, for the social value to equal the spend. Quantities are numbers of people (counts): they obey "
               "the report's disclosure rule.", map=map_name, area=area, year=fy,
               prices=domain.fy_label(m.price_year), deflators=Verbatim(res.deflators.title),
               discounting=Verbatim(m.discount.describe()))
    return Section("social_return_detail", heading, text, tables, [], notes)


def _sensitivity(res, pub: Publisher, area: Area, fy: str) -> list:
    """The one-way sensitivity and the switching values of an area whose outcomes may all be shown."""
    ow = res.one_way()
    sv = res.switching_values()
    unknown = set(sv["note"]) - {"", *SWITCHING_NOTES}
    if unknown:  # a new note of the model: it needs its Welsh before it is published
        raise ValueError(f"switching-value note(s) {sorted(unknown)} are not in SWITCHING_NOTES (nor the catalogue)")
    parts = []
    if len(ow):
        parts.append(("sroi_one_way", Msg("Social return: one-way sensitivity (the ratio at the low and high end of "
                                          "each assumption's 90% range, the others held), {area}, {year}", area=area,
                                          year=fy),
                      ow[["stakeholder", "outcome", "parameter", "point", "low", "high", "ratio_low", "ratio_high",
                          "swing"]]))
    parts.append(("sroi_switching_values", Msg("Social return: switching values (the value of each assumption, the "
                                               "others held, at which the ratio reaches 1), {area}, {year}",
                                               area=area, year=fy),
                  sv[["stakeholder", "outcome", "parameter", "point", "switching_value", "change", "share_of_point",
                      "note"]]))
    tables = []
    for name, caption, t in parts:
        numbers = [c for c in t.columns if c not in ("stakeholder", "outcome", "parameter", "note")]
        whole = t["parameter"].isin(WHOLE).to_numpy()
        shown = t.copy()
        for c in numbers:
            v = t[c].astype(float)
            # An assumption's own values in its unit (pounds and people whole, shares to 3 decimals); ratios to 3.
            shown[c] = np.where(whole, v.round(0), v.round(3)) if c in IN_UNIT else v.round(3)
        shown["parameter"] = [ASSUMPTIONS.get(x, x) for x in t["parameter"]]
        tables.append(pub.table(name, caption, shown, free=tuple(numbers), label_column="parameter",
                                row_decimals=tuple(0 if w else 3 for w in whole)))
    return tables
