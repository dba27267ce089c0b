"""Who was followed up after a planned end, and whether the lasting-impact figure survives the losses.

Part of the lasting-impact section: the follow-up flow (due, obtained, reasons), the share keeping their
end stage at 12 months three ways (those followed up, weighted, imputed) and the tipping point in words,
all through the report's disclosure control.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...study import Study
from .. import protect as dc
from ..publish import Publisher, is_number, publishable_reason

#: Imputations in the report (the study's own analyses use 20; ten keep the annual batch in time).
REPORT_IMPUTATIONS = 10
_COUNTS = ("ended_planned", "due", "obtained", "re_referred", "no_contact")


def attrition_part(study: Study, label: str, end, seed: int, pub: Publisher) -> tuple[list, str, list[str]]:
    """Tables, text and notes on attrition for the lasting-impact section of one area's report."""
    import warnings

    from ...attrition import attrition

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = attrition(study, by=(), m=REPORT_IMPUTATIONS, seed=seed, censor_date=end,
                            deltas=(0, -0.25, -0.5, -0.75, -1.0, -1.5))
    except ValueError as exc:
        return [], "", [f"Losses to follow-up could not be analysed for {label}: {publishable_reason(exc)}"]
    flow = res.flow_summary()
    t = flow[["month", *_COUNTS]].copy()
    t["died"] = t["moved_away"] = "[x]"  # not linked: unknown, never 0
    t = dc.suppress(t, list(_COUNTS), sums=[dc.Sum(("obtained", "re_referred", "no_contact"), "due"),
                                            dc.Sum(("due",), "ended_planned")])
    specs = tuple(dc.Share(c, "ended_planned", count=True, series=("ended_planned",))
                  for c in ("due", "obtained", "re_referred", "no_contact"))
    t = dc.suppress_shares(t, specs)
    tables = [pub.table("follow_up_flow", f"Follow-ups after a planned end of support: due, obtained and the "
                                          f"reasons known for the rest, {label} ([x]: deaths and moves are not "
                                          "linked to these data)", t, list(_COUNTS), specs=specs,
                        free=("month",))]

    e = res.estimates
    pooled = e[(e["quantity"] == "sustained") & (e["month"] == res.tipping_month)].set_index("method")
    row = {"n_due": int(pooled.loc["mi", "n_due"]), "n_obtained": int(pooled.loc["mi", "n_obtained"])}
    names = {"complete_case": "followed_up", "ipw": "weighted", "mi": "imputed"}
    for meth, name in names.items():
        for src, suffix in (("estimate", ""), ("ci_lower", "_ci_lower"), ("ci_upper", "_ci_upper")):
            row[name + suffix] = round(100 * float(pooled.loc[meth, src]), 1)
    s = pd.DataFrame([row])
    s = dc.suppress(s, ["n_due", "n_obtained"], sums=[dc.Sum(("n_obtained",), "n_due")])
    sspecs = [dc.Share("followed_up", "n_obtained", scale=100, decimals=1)]
    sspecs += [dc.Share(n, "n_due", scale=100, decimals=1) for n in ("weighted", "imputed")]
    sspecs += [dc.Together((n, f"{n}_ci_lower", f"{n}_ci_upper")) for n in names.values()]
    s = dc.suppress_shares(s, sspecs)
    tables.append(pub.table(
        "sustained_12m_attrition", f"Share keeping their end-of-support stage in every follow-up up to "
        f"{res.tipping_month} months, {label}: among those followed up, weighted for who was followed up, and "
        f"with the missing follow-ups imputed ({res.m} imputations, seed {res.seed}); 95% intervals",
        s, ["n_due", "n_obtained"], specs=tuple(sspecs)))
    shown = all(is_number(s.at[0, c]) for c in ("followed_up", "weighted", "imputed"))
    text = ("Not everyone is followed up after support ends, and those who are not may be doing worse. The "
            "flow table counts the follow-ups due and obtained; the share keeping their end stage is then "
            "estimated three ways: among those followed up, weighting them to stand for everyone due "
            "(inverse probability of follow-up, from what was known at the end of support), and imputing the "
            "missing follow-ups (multiple imputation).")
    if shown:
        text += " " + _tipping_words(res)
    notes = [] if shown else [f"The shares for {label} are not shown: they would reveal fewer than "
                              f"{dc.THRESHOLD} people."]
    return tables, text, notes


def _tipping_words(res) -> str:
    """The tipping point in words, with the shares rounded as the table publishes them."""
    t, lvl = res.tipping_point, f"{res.threshold:.0%}"
    if t is None or np.isnan(t):
        lo = float(res.sensitivity["delta"].min())
        return (f"Even if those not followed up had scored {abs(lo):g} stage(s) lower than similar people who were, "
                f"the share keeping their end stage would stay at or above {lvl}.")
    if t == 0:
        return f"The share keeping their end stage is below {lvl} before any allowance for those not followed up."
    return (f"The finding that at least {lvl} keep their end stage would no longer hold if those not followed up "
            f"had scored on average {abs(t):.2g} stage(s) lower than similar people who were (the tipping point).")
