"""Lasting impact that survives attrition: who was followed up, and what the missing follow-ups could change.

After a *planned* end of support, follow-ups are due 6, 12 and 24 months
later. Many are never obtained, and not at random. :func:`follow_up_attrition` answers
what a reviewer of a longitudinal outcome study asks (CONSORT 2025 items on
losses to follow-up):

Flow
    Per local authority and financial year of the end: episodes ended as
    planned, follow-ups due at each month, obtained, and the reasons known for
    the rest (died, moved away, re-referred, no contact). Deaths and moves
    after a planned end are only known from linked records (``exits``); without
    them those cells are ``NA`` (published as ``[x]``, never 0) and "no contact"
    means "no contact or reason not known".
Who was lost
    Completers against non-completers on what is known at the end of support,
    with standardised mean differences (SMD).
Estimates, three ways, for the share **sustained** at m months (every
scheduled follow-up up to m at or above the end level less ``loss - 1``
stages: the share :func:`~longitudinal.sustained_outcomes` estimates on the
follow-up schedule) and the mean **change** from the end level at m months:

* ``complete_case``: the areas whose follow-ups up to m were all obtained;
* ``ipw``: the same, weighted by the inverse of the probability of that:
  the product over the months up to m of the probability of a follow-up
  being obtained given the ones before were, each from a logistic response
  model (statsmodels ``Logit``, outcome area as a term) on what is known at
  the end of support; weights stabilised by the overall share complete, not
  truncated unless asked (``trim=``): truncation caps the weights of the
  people least likely to answer, who are the ones the complete cases lack,
  so it biases the estimate towards the complete-case one (measured on the
  simulator, docs/benchmarks.md: at 80,000 people 1%/99% truncation moved
  the share at 12 months by +0.006 and at 24 months by +0.019, more than a
  standard error there and several at national size, while the untruncated
  weights were within 0.003 of the truth);
* ``mi``: multiple imputation of every missing due follow-up score by
  chained equations with predictive mean matching (imputed scores are
  observed scores, so they stay on the 1-5 scale; donors share the
  recipient's end level, months not yet due and re-referral band (on which
  both the answer and the spread of the scores depend; the band only where
  it leaves at least 50 donors); donors a bootstrap sample
  of the observed, matched with recipients on that sample's fit; follow-ups
  not yet due are not imputed), the outcome area as a term and the episode's
  other areas entering through its mean end level and number of areas
  (clustering within episodes), pooled by Rubin's rules.

Standard errors are robust to clustering within people (all of a person's
episodes and areas); IPW's treat the weights as known (slightly
conservative). The unit of the estimates is the episode-area: episodes with
a planned end, areas with an end level (last scored reading during support)
above stage ``loss``, follow-up at m months due before the censoring date;
people known (from ``exits``) to have died before it are not in it.

Missing not at random
    Delta adjustment (as in R ``rbmi``): the imputed follow-up scores are
    shifted by ``delta`` stages (random rounding, so that the mean shift is
    ``delta``; common random numbers across the grid) and the share
    re-estimated over a grid; the **tipping point** is the shift at which the
    share sustained at 12 months falls below ``threshold``.

Examples
--------
>>> import longitudinal as lg
>>> study = lg.simulate(people=800, seed=3)
>>> res = lg.follow_up_attrition(study, m=3, seed=1)
>>> sorted(res.estimates["method"].unique())
['complete_case', 'ipw', 'mi']
>>> list(res.to_dict()["flow"]) == ["6", "12", "24"]
True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import domain
from ._numeric import text_ranks
from .deprecation import renamed_arguments
from .errors import ConvergenceWarning, InputError
from .imputation import ChainedPMM, identified_columns
from .results import Results, Summary, axes_for
from .study import Study, positions
from .survival import linked_exits

__all__ = ["follow_up_attrition", "AttritionResults", "FollowUpData", "follow_up_data", "rubin",
           "sustained_side_by_side", "summed_flow", "design_matrix", "FOLLOW_UP_MONTHS", "METHODS"]

#: Follow-ups are scheduled this many months after a planned end.
FOLLOW_UP_MONTHS = (6, 12, 24)
#: Ways of handling missing follow-ups.
METHODS = ("complete_case", "ipw", "mi")
_MONTH_DAYS = 365.25 / 12
_REASONS = ("died", "moved_away", "re_referred", "no_contact")
_NUMERIC = ("end_score", "episode_mean_end", "n_areas", "log_support_months")
_CATEGORICAL = ("outcome", "end_level", "lead_need", "service_type", "age_band", "sex", "local_authority", "end_year",
                "re_referral")
_LABELS = {"outcome": "outcome area", "end_score": "end score", "end_level": "end level",
           "episode_mean_end": "episode's mean end level", "n_areas": "areas of need",
           "log_support_months": "log months of support",
           "lead_need": "lead need", "service_type": "service type", "age_band": "age band",
           "sex": "sex", "local_authority": "authority", "end_year": "financial year of end",
           "re_referral": "re-referred"}


# ===================================================================== the analysis table
@dataclass
class FollowUpData:
    """Episode-areas followed after a planned end, with the scheduled follow-up scores.

    Attributes
    ----------
    months : tuple of int
        The schedule.
    units : DataFrame
        One row per episode-area (end level above ``loss``): ``episode_id,
        person_id, outcome, end_score`` and the episode's characteristics.
    scores : ndarray, shape (n_units, n_months)
        The follow-up score in each window (NaN when not obtained).
    due : ndarray of bool, shape (n_units, n_months)
        Follow-up due before the censoring date (and the person not known to have died).
    contacts : DataFrame
        One row per planned end and month due: ``local_authority, end_year, month,
        obtained, reason`` (reason for a follow-up not obtained).
    linked_exits : bool
        Whether deaths and moves were given (``exits``).
    """

    months: tuple[int, ...]
    loss: int
    units: pd.DataFrame
    scores: np.ndarray
    due: np.ndarray
    contacts: pd.DataFrame
    ended_planned: pd.DataFrame
    linked_exits: bool
    censor_date: pd.Timestamp

    @property
    def complete(self) -> np.ndarray:
        """Whether every follow-up up to each month was obtained (bool, ``n_units x n_months``)."""
        return np.cumsum(np.isnan(self.scores), axis=1) == 0

    def flow(self) -> pd.DataFrame:
        """Ended as planned, due, obtained and reasons per authority, financial year of the end and month
        (:attr:`AttritionResults.flow`)."""
        c = self.contacts
        keys = ["local_authority", "end_year", "month"]
        # every count in one grouping (one each cost most of an authority's flow)
        counted = pd.DataFrame({"due": np.ones(len(c), dtype="int64"), "obtained": c["obtained"].to_numpy(),
                                **{rsn: (c["reason"] == rsn).to_numpy() for rsn in _REASONS}}, index=c.index)
        t = counted.groupby([c[k] for k in keys], sort=True).sum().reset_index()
        t = t.merge(self.planned_ends().reset_index(), on=["local_authority", "end_year"], how="left")
        if not self.linked_exits:
            t["died"] = pd.array([pd.NA] * len(t), dtype="Int64")
            t["moved_away"] = pd.array([pd.NA] * len(t), dtype="Int64")
        cols = keys + ["ended_planned", "due", "obtained", "died", "moved_away", "re_referred", "no_contact"]
        return t[cols]

    def planned_ends(self) -> pd.Series:
        """Episodes ended as planned per authority and financial year of the end."""
        return self.ended_planned.groupby(["local_authority", "end_year"], sort=True).size().rename("ended_planned")

    def flow_summary(self) -> pd.DataFrame:
        """:meth:`AttritionResults.flow_summary` without the estimates: the flow summed over authorities and
        years, one row per month."""
        return summed_flow(self.flow(), self.planned_ends().reset_index(), self.linked_exits)


def summed_flow(flow: pd.DataFrame, ended_planned: pd.DataFrame, linked_exits: bool) -> pd.DataFrame:
    """The flow (:attr:`AttritionResults.flow`) summed over authorities and years, one row per month: ``month,
    ended_planned, due, obtained, obtained_share, died, moved_away, re_referred, no_contact`` (``died`` and
    ``moved_away`` NA when deaths and moves are not linked)."""
    by_month = flow.groupby("month", sort=True)
    f = by_month[["due", "obtained", "re_referred", "no_contact"]].sum()
    for c in ("died", "moved_away"):
        f[c] = by_month[c].sum(min_count=1) if linked_exits else pd.NA
    f.insert(0, "ended_planned", int(ended_planned["ended_planned"].sum()))
    f["obtained_share"] = f["obtained"] / f["due"]
    return f.reset_index()[["month", "ended_planned", "due", "obtained", "obtained_share", "died",
                            "moved_away", "re_referred", "no_contact"]]


def _by_key_and_date(key: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """``np.lexsort((dates, key))`` (integer keys >= 0, days): the same order from one sort of one combined key
    where the dates are known (a national table's readings; three keys cost three sorts)."""
    days = dates.astype("datetime64[D]")
    if days.size == 0 or np.isnat(days).any():
        return np.lexsort((dates, key))
    d = days.astype(np.int64)
    d -= d.min()
    span = int(d.max()) + 1
    if key.size and int(key.max()) >= np.iinfo(np.int64).max // span:
        return np.lexsort((dates, key))
    return np.argsort(key.astype(np.int64) * span + d, kind="stable")


def _windows(months: Sequence[int]) -> np.ndarray:
    """Edges (in whole months after the end) of each follow-up's window: half way between the scheduled
    months, from half the first to one and a half times the last."""
    m = np.asarray(months, dtype=float)
    return np.r_[m[0] / 2, (m[1:] + m[:-1]) / 2, m[-1] * 1.5]


@renamed_arguments(study="data")
def follow_up_data(data: Study, outcome: str | Sequence[str] | None = None, *, loss: int = 1,
                   months: Sequence[int] = FOLLOW_UP_MONTHS, exits: pd.DataFrame | None = None,
                   censor_date=None) -> FollowUpData:
    """The scheduled follow-ups of every planned end: due, obtained, scores, reasons. See the module notes.

    A follow-up reading (type ``follow_up`` or dated after the end) belongs to the scheduled month whose
    window holds its whole months after the end (windows split half way between the scheduled months);
    the first scored one in a window is the area's score then.
    """
    if not isinstance(loss, (int, np.integer)) or not 1 <= loss <= 4:
        raise InputError(f"loss must be an integer number of stages 1..4, got {loss!r}")
    months = tuple(int(m) for m in months)
    if not months or list(months) != sorted(set(months)) or months[0] <= 0:
        raise InputError(f"months must be increasing positive whole months, got {months!r}")
    codes = None
    if outcome is not None and outcome != "all":
        codes = [domain.outcome_code(c) for c in ([outcome] if isinstance(outcome, str) else outcome)]
    study = data
    ep_all = study.episodes
    if censor_date is None:
        dates = [study.readings["reading_date"].max(), ep_all["start_date"].max(), ep_all["end_date"].max()]
        censor_date = max(d for d in dates if pd.notna(d))
    censor_date = pd.Timestamp(censor_date)

    # next episode of the same person (re-referral), on the whole study
    person = text_ranks(ep_all["person_id"])[0]
    order = np.lexsort((text_ranks(ep_all["episode_id"])[0], ep_all["start_date"].to_numpy(), person))
    eo = ep_all.iloc[order]
    same = person[order]
    nxt = np.r_[eo["start_date"].to_numpy()[1:], np.datetime64("NaT")]
    nxt[np.r_[same[1:] != same[:-1], True]] = np.datetime64("NaT")
    next_start = pd.Series(nxt, index=eo.index).reindex(ep_all.index)

    planned = (ep_all["end_reason"] == "planned") & ep_all["end_date"].notna()
    ep = ep_all[planned].copy()
    ep["next_start"] = next_start[planned]
    ep = ep.reset_index(drop=True)
    n_ep, n_m = len(ep), len(months)
    if n_ep == 0:
        raise InputError("attrition: no episode ended as planned")
    end = ep["end_date"].to_numpy("datetime64[D]")
    due_date = end[:, None] + np.floor(np.asarray(months) * _MONTH_DAYS).astype("timedelta64[D]")[None, :]
    due = due_date <= np.datetime64(censor_date.date(), "D")
    people = study.people.set_index(study.people["person_id"].astype(str))
    pid = ep["person_id"].astype(str)
    age = (ep["start_date"].dt.year - people["birth_year"].reindex(pid).to_numpy()).astype(float)
    ep["age_band"] = domain.age_band(age.to_numpy()).astype(str)
    ep["sex"] = people["sex"].reindex(pid).astype(str).to_numpy()
    ep["end_year"] = domain.financial_year(ep["end_date"]).astype(int).to_numpy()

    # exits: linked deaths and moves after the end
    exit_reason = np.full(n_ep, "", dtype=object)
    exit_date = np.full(n_ep, np.datetime64("NaT"), dtype="datetime64[D]")
    if exits is not None:
        ex = linked_exits(exits)
        ex = ex.sort_values("date", kind="stable").drop_duplicates("person_id")
        m_ = pd.DataFrame({"person_id": pid}).merge(ex, on="person_id", how="left")
        after = m_["date"].notna() & (m_["date"] > ep["end_date"])
        exit_reason[after.to_numpy()] = m_.loc[after, "reason"].to_numpy()
        exit_date[after.to_numpy()] = m_.loc[after, "date"].to_numpy("datetime64[D]")
    died_before = (exit_reason == "died")[:, None] & (exit_date[:, None] <= due_date)
    moved_before = (exit_reason == "moved_away")[:, None] & (exit_date[:, None] <= due_date)
    nx = ep["next_start"].to_numpy("datetime64[D]")
    censor_d = np.datetime64(censor_date.date(), "D")
    rr = (~np.isnat(nx))[:, None] & (nx[:, None] > end[:, None]) & (nx[:, None] <= due_date) & (nx[:, None] <= censor_d)

    # readings of these episodes
    r = study.readings
    eidx = pd.Index(ep["episode_id"].astype(str))
    ri = positions(eidx, r["episode_id"])
    keep = ri >= 0
    if codes is not None:
        keep &= r["outcome"].isin(codes).to_numpy()
    # the columns needed, each filtered once (not the whole table)
    ri = ri[keep]
    out_codes = pd.Index(domain.OUTCOME_CODES)
    oi = positions(out_codes, r["outcome"])[keep]
    rdate = r["reading_date"].to_numpy("datetime64[D]")[keep]
    score = r["score"].to_numpy("float64", na_value=np.nan)[keep]
    typed_fu = (r["reading_type"] == "follow_up").to_numpy()[keep]
    is_fu = typed_fu | (rdate > end[ri])
    is_fu &= rdate >= end[ri]  # a follow-up dated before the end cannot be placed
    during = ~is_fu & ~typed_fu & (rdate <= end[ri])

    # end level per episode-area: the last scored reading during support
    n_out = len(out_codes)
    sel = np.flatnonzero(during & ~np.isnan(score))
    sel = sel[_by_key_and_date(ri[sel] * n_out + oi[sel], rdate[sel])]
    akey = ri[sel] * n_out + oi[sel]
    last = np.r_[akey[1:] != akey[:-1], True] if sel.size else np.zeros(0, bool)
    end_level = np.full(n_ep * n_out, np.nan)
    end_level[akey[last]] = score[sel[last]]
    by_ep = end_level.reshape(n_ep, n_out)
    has_end = ~np.isnan(by_ep)
    n_areas = has_end.sum(axis=1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_end = np.nanmean(by_ep, axis=1)

    # follow-ups: window of each reading, contact obtained, first scored reading per area and window
    fsel = np.flatnonzero(is_fu)
    t = np.round((rdate[fsel] - end[ri[fsel]]).astype(float) / _MONTH_DAYS)
    edges = _windows(months)
    win = np.searchsorted(edges, t, side="right") - 1
    inwin = (win >= 0) & (win < n_m) & (t <= edges[-1])
    fsel, win, t = fsel[inwin], win[inwin], t[inwin]
    obtained = np.zeros((n_ep, n_m), bool)
    obtained[ri[fsel], win] = True
    scored = ~np.isnan(score[fsel])
    fs, fw = fsel[scored], win[scored]
    o = _by_key_and_date((ri[fs] * n_out + oi[fs]) * n_m + fw, rdate[fs])
    fs, fw = fs[o], fw[o]
    k = (ri[fs] * n_out + oi[fs]) * n_m + fw
    first = np.r_[True, k[1:] != k[:-1]] if k.size else np.zeros(0, bool)
    fu_score = np.full(n_ep * n_out * n_m, np.nan)
    fu_score[k[first]] = score[fs[first]]
    fu_score = fu_score.reshape(n_ep * n_out, n_m)

    # contacts: one per planned end and due month
    e_i, m_i = np.nonzero(due)
    got = obtained[e_i, m_i]
    reason = np.where(got, "", np.where(died_before[e_i, m_i], "died",
                      np.where(moved_before[e_i, m_i], "moved_away",
                               np.where(rr[e_i, m_i], "re_referred", "no_contact"))))
    contacts = pd.DataFrame({
        "local_authority": ep["local_authority"].astype(str).to_numpy()[e_i],
        "end_year": ep["end_year"].to_numpy()[e_i], "month": np.asarray(months)[m_i],
        "obtained": got, "reason": reason})
    ended = pd.DataFrame({"local_authority": ep["local_authority"].astype(str), "end_year": ep["end_year"]})

    # units: episode-areas with an end level above `loss`
    u_flat = np.flatnonzero(end_level > loss)
    u_ep, u_out = u_flat // n_out, u_flat % n_out
    rr_band = np.where(rr[:, 0], f"by {months[0]} months", "no")
    for j in range(1, n_m):
        rr_band = np.where((rr_band == "no") & rr[:, j], f"{months[j - 1]}-{months[j]} months", rr_band)
    support = (ep["end_date"] - ep["start_date"]).dt.days.to_numpy() / _MONTH_DAYS
    units = pd.DataFrame({
        "episode_id": ep["episode_id"].astype(str).to_numpy()[u_ep],
        "person_id": pid.to_numpy()[u_ep],
        "outcome": out_codes.to_numpy()[u_out],
        "end_score": end_level[u_flat],
        "end_level": end_level[u_flat].astype(int).astype(str),
        "episode_mean_end": mean_end[u_ep],
        "n_areas": n_areas[u_ep].astype(float),
        "log_support_months": np.log1p(np.maximum(support[u_ep], 0)),
        "lead_need": ep["lead_need"].astype(str).to_numpy()[u_ep],
        "service_type": ep["service_type"].astype(str).to_numpy()[u_ep],
        "age_band": ep["age_band"].to_numpy()[u_ep],
        "sex": ep["sex"].to_numpy()[u_ep],
        "local_authority": ep["local_authority"].astype(str).to_numpy()[u_ep],
        "end_year": ep["end_year"].astype(str).to_numpy()[u_ep],
        "re_referral": rr_band[u_ep],
    })
    unit_due = due[u_ep] & ~died_before[u_ep]
    first_due = unit_due[:, 0]  # areas with no follow-up due yet are no part of any estimate
    units, u_flat, unit_due = units[first_due].reset_index(drop=True), u_flat[first_due], unit_due[first_due]
    return FollowUpData(months=months, loss=int(loss), units=units, scores=fu_score[u_flat], due=unit_due,
                        contacts=contacts, ended_planned=ended, linked_exits=exits is not None,
                        censor_date=censor_date)


# ===================================================================== outcomes and estimators
def _outcomes(scores: np.ndarray, end: np.ndarray, loss: int) -> tuple[np.ndarray, np.ndarray]:
    """(sustained through each month, change from the end level at each month); NaN where unknown."""
    kept = (scores > end[:, None] - loss).astype(float)
    unknown = np.cumsum(np.isnan(scores), axis=1) > 0
    through = np.where(unknown, np.nan, np.cumprod(kept, axis=1))
    return through, scores - end[:, None]


class _GroupMeans:
    """Weighted means of rows ``mask`` per group, with standard errors robust to clustering.

    var = G/(G-1) sum_c (sum_{i in c} w_i (y_i - mean))^2 / (sum w)^2, G clusters in the group. The
    group x cluster cells are found once (the imputation loop asks for hundreds of means of the same rows).
    """

    def __init__(self, group: np.ndarray, cluster: np.ndarray, n_groups: int, mask: np.ndarray):
        self.rows = np.flatnonzero(mask)
        self.group, self.n_groups = group[self.rows], n_groups
        c = cluster[self.rows]
        base = int(c.max()) + 1 if c.size else 1
        gc, self.inv = np.unique(self.group.astype(np.int64) * base + c, return_inverse=True)
        self.g_of = (gc // base).astype(int)
        self.n_cl = np.bincount(self.g_of, minlength=n_groups)
        self.count = np.bincount(self.group, minlength=n_groups)

    def mean(self, y: np.ndarray, w: np.ndarray | None = None):
        """(estimate, std_error) per group of ``y`` (full length; only the mask's rows are read)."""
        y = y[self.rows]
        if w is None:  # the imputation loop's case: no weights to multiply by
            sw, wy = self.count.astype(float), y
        else:
            w = w[self.rows]
            sw, wy = np.bincount(self.group, weights=w, minlength=self.n_groups), w * y
        with np.errstate(invalid="ignore", divide="ignore"):
            est = np.bincount(self.group, weights=wy, minlength=self.n_groups) / sw
            dev = y - est[self.group]
            tot = np.bincount(self.inv, weights=dev if w is None else w * dev)
            ss = np.bincount(self.g_of, weights=tot**2, minlength=self.n_groups)
            var = np.where(self.n_cl > 1, self.n_cl / (self.n_cl - 1), np.nan) * ss / sw**2
        return est, np.sqrt(var)


def _mean_by_group(y: np.ndarray, w: np.ndarray, group: np.ndarray, n_groups: int, cluster: np.ndarray):
    """(estimate, std_error, rows, clusters) per group over the rows where ``y`` is known and ``w > 0``."""
    gm = _GroupMeans(group, cluster, n_groups, ~np.isnan(y) & (w > 0))
    est, se = gm.mean(y, w)
    return est, se, gm.count, gm.n_cl


def rubin(estimates: np.ndarray, variances: np.ndarray, df_complete: np.ndarray | float | None = None,
          alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Rubin's rules for ``m`` completed-data estimates (axis 0) and their variances.

    Returns ``estimate, std_error, ci_lower, ci_upper, df, fmi`` (fraction of missing information
    ``(1 + 1/m) B / T``) and ``mc_se``, the Monte Carlo error of the pooled estimate (``sqrt(B / m)``: how
    far another set of ``m`` imputations would typically move it); degrees of freedom by Barnard & Rubin
    (1999) when ``df_complete`` is given, else Rubin's (1987) large-sample form.
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = q.shape[0]
    if m < 2:
        raise InputError(f"Rubin's rules need at least 2 imputations, got {m}")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = (1 + 1 / m) * b / t
        df_old = (m - 1) / lam**2
        if df_complete is not None:
            dfc = np.asarray(df_complete, dtype=float)
            df_obs = (dfc + 1) / (dfc + 3) * dfc * (1 - lam)
            df = 1 / (1 / df_old + 1 / df_obs)
        else:
            df = df_old
    df = np.where(b > 0, df, np.inf if df_complete is None else np.asarray(df_complete, dtype=float))
    tq = stats.t.ppf(1 - alpha / 2, df)
    se = np.sqrt(t)
    return {"estimate": qbar, "std_error": se, "ci_lower": qbar - tq * se, "ci_upper": qbar + tq * se,
            "df": df, "fmi": np.where(t > 0, lam, 0.0), "mc_se": np.sqrt(b / m)}


# ===================================================================== design and response model
def design_matrix(units: pd.DataFrame, min_level: int = 20) -> tuple[np.ndarray, list[str]]:
    """What is known at the end of support, as the response model and the imputation read it: a constant,
    the numeric characteristics and 0/1 dummies of the categorical ones (most common level left out; levels
    seen fewer than ``min_level`` times pooled into it). ``units``: :attr:`FollowUpData.units`. Returns the
    matrix and its column names."""
    cols, names = [np.ones(len(units))], ["const"]
    for c in _NUMERIC:
        cols.append(units[c].to_numpy(float))
        names.append(c)
    for c in _CATEGORICAL:
        codes, levels = pd.factorize(units[c].astype(str), sort=True)
        counts = np.bincount(codes, minlength=len(levels))
        base = int(np.argmax(counts))
        for i in range(len(levels)):
            if i != base and counts[i] >= min_level:
                cols.append((codes == i).astype(float))
                names.append(f"{c}[{levels[i]}]")
    return np.column_stack(cols), names



def _logistic(y: np.ndarray, X: np.ndarray, names: list[str]):
    """Logistic response model by statsmodels GLM, dropping constant and collinear columns first."""
    # the model's own module: statsmodels.api imports everything (seconds in each report's fresh kernel)
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as SmConvergence, PerfectSeparationWarning

    # every check from X'X and X'y (X's first column is the constant): no copy of the design
    G = X.T @ X
    # dummies (the design's "column[level]" names) whose level is always (or never) followed up
    # separate perfectly: drop them too
    dummy = np.array(["[" in nm for nm in names])
    answered = X.T @ y
    idx = identified_columns(G, X.shape[0], ~(dummy & ((answered == 0) | (answered == G[0]))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", SmConvergence)
        warnings.simplefilter("ignore", RuntimeWarning)  # exp overflow on the way to a separated level
        Xu = X if idx.size == X.shape[1] else X[:, idx]
        fit = Logit(y, Xu, check_rank=False).fit(method="newton", disp=0, maxiter=50)  # rank: above
    if not fit.mle_retvals.get("converged", True):
        warnings.warn("attrition: the response model did not converge (a level almost always or never "
                      "followed up?); the weights may be unstable", ConvergenceWarning, stacklevel=5)
    return fit, idx, [names[i] for i in idx]


# ===================================================================== multiple imputation


class _Imputation:
    """One imputation of the missing follow-ups and its completed-data estimates at every shift of the delta
    grid, per group. Imputation ``i`` draws from its own seed only, so any number of worker processes gives
    the same imputations; the job is picklable (arrays only) for the workers."""

    def __init__(self, imputer: ChainedPMM, end: np.ndarray, loss: int, deltas: list[float], due_means: list):
        self.imputer, self.end, self.loss, self.deltas, self.due_means = imputer, end, loss, deltas, due_means
        self.zero = deltas.index(0.0)

    def keys(self, k: int) -> list[tuple]:
        """``(quantity, month index, delta index)`` of every estimate: the delta grid is read for the share
        sustained only; the change is wanted at delta 0."""
        return [(qn, j, di) for qn in ("sustained", "change") for j in range(k) for di in range(len(self.deltas))
                if qn == "sustained" or di == self.zero]

    def __call__(self, child: np.random.SeedSequence) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(child)
        imp = self.imputer
        Si = imp.draw(rng)
        shift_u = rng.random(Si.shape)  # common random numbers across the grid
        out = {}
        for di, dlt in enumerate(self.deltas):
            a = abs(dlt)
            shift = np.floor(a) + (shift_u < a - np.floor(a))  # random rounding: the mean shift is delta
            Sd = np.where(imp.miss, np.clip(Si + np.sign(dlt) * shift, 1, 5), Si)
            sus, chg = _outcomes(Sd, self.end, self.loss)
            for j, (by_group, pooled) in enumerate(self.due_means):
                for qn, y in (("sustained", sus[:, j]), ("change", chg[:, j])):
                    if qn == "change" and di != self.zero:
                        continue
                    e1, s1 = by_group.mean(y)
                    e2, s2 = (e1, s1) if pooled is by_group else pooled.mean(y)
                    e1[-1], s1[-1] = e2[-1], s2[-1]
                    out[(qn, j, di)] = (e1, s1**2)
        return out


_JOB: _Imputation | None = None  # a worker process's job (set once per worker, not sent with each task)


def _set_job(job: _Imputation) -> None:
    global _JOB
    _JOB = job


def _call_job(child: np.random.SeedSequence):
    from threadpoolctl import threadpool_limits

    assert _JOB is not None
    with threadpool_limits(limits=1, user_api="blas"):
        return _JOB(child)


def _run_imputations(job: _Imputation, seed: int, m: int, workers: int) -> list:
    """The ``m`` imputations in order, imputation ``i`` seeded by child ``i`` of ``SeedSequence(seed)``: the
    same result for any ``workers``. Workers are forked where the platform allows (the job's arrays are
    then shared, not copied), else spawned."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    children = np.random.SeedSequence(int(seed)).spawn(int(m))
    if workers == 1:
        return [job(c) for c in children]
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, m), mp_context=ctx, initializer=_set_job,
                             initargs=(job,)) as pool:
        return list(pool.map(_call_job, children))


# ===================================================================== results
@dataclass(repr=False)  # the results base's short repr
class AttritionResults(Results):
    """Results of :func:`follow_up_attrition`.

    Attributes
    ----------
    flow : DataFrame
        ``local_authority, end_year, month, ended_planned, due, obtained, died, moved_away, re_referred,
        no_contact`` (``died``/``moved_away`` are NA when no linked exits were given).
    lost : DataFrame
        Completers against non-completers at each month: ``month, variable, level, completers,
        non_completers, smd``.
    estimates : DataFrame
        ``quantity`` (``sustained`` or ``change``), group columns (``all`` pooled), ``month, method,
        estimate, std_error, ci_lower, ci_upper, n_due, n_obtained``, for ``mi`` ``fmi`` (fraction of
        missing information) and for ``ipw`` ``ess`` (Kish's effective sample size of the group's
        weights: far below ``n_obtained``, a few people carry the estimate).
    weights : DataFrame
        Weight distribution per month: ``n_due, n_obtained, min, p01, p25, median, p75, p99, max,
        ess`` (Kish's effective sample size), ``trimmed`` (weights truncated; 0 unless ``trim=``).
    balance : DataFrame
        ``month, variable, level, smd_before, smd_after``: completers (unweighted, then weighted)
        against everyone due.
    response_model : DataFrame
        Coefficients of each response model: ``outcome, month, term, estimate, std_error, ci_lower,
        ci_upper, p_value``.
    sensitivity : DataFrame
        Delta adjustment: group columns, ``month, delta, estimate, std_error, ci_lower, ci_upper``.
    tipping_point : float or None
        The shift (stages, negative: non-responders worse) at which the pooled share sustained at
        ``tipping_month`` falls below ``threshold``; NaN when no shift on the grid gets there, 0 when
        the estimate is below it already.
    """

    flow: pd.DataFrame
    lost: pd.DataFrame
    estimates: pd.DataFrame
    weights: pd.DataFrame
    balance: pd.DataFrame
    response_model: pd.DataFrame
    sensitivity: pd.DataFrame
    tipping_point: float
    by: list[str]
    months: tuple[int, ...]
    loss: int
    m: int
    seed: int
    threshold: float
    tipping_month: int
    trim: tuple[float, float] | None
    linked_exits: bool
    ended_planned: pd.DataFrame = field(default=None, repr=False)
    alpha: float = 0.05
    unit_weights: pd.DataFrame = field(default=None, repr=False)

    def flow_summary(self) -> pd.DataFrame:
        """The flow summed over authorities and years, one row per month (``[x]`` cells stay NA)."""
        return summed_flow(self.flow, self.ended_planned, self.linked_exits)

    def flow_table(self) -> pd.DataFrame:
        """:meth:`flow_summary` for publication: not-linked reasons as ``[x]``."""
        t = self.flow_summary().astype(object)
        for c in ("died", "moved_away"):
            t[c] = t[c].where(pd.notna(t[c]), "[x]")
        t["obtained_share"] = [f"{v:.0%}" for v in self.flow_summary()["obtained_share"]]
        return t

    def side_by_side(self, quantity: str = "sustained") -> pd.DataFrame:
        """Complete-case, weighted and imputed estimates in one row per group and month."""
        e = self.estimates[self.estimates["quantity"] == quantity]
        wide = e.pivot_table(index=self.by + ["month"], columns="method",
                             values=["estimate", "ci_lower", "ci_upper"], observed=True, sort=False)
        wide.columns = [f"{meth}_{v}" if v != "estimate" else meth for v, meth in wide.columns]
        order = [c for meth in METHODS for c in (meth, f"{meth}_ci_lower", f"{meth}_ci_upper") if c in wide]
        return wide[order].reset_index()

    def tipping_point_text(self) -> str:
        """The tipping point in plain words."""
        pooled = self.estimates[(self.estimates["quantity"] == "sustained") & (self.estimates["month"]
                                                                               == self.tipping_month)]
        pooled = pooled[(pooled[self.by] == "all").all(axis=1)].set_index("method")["estimate"]
        base = (f"Of those due a {self.tipping_month}-month follow-up, an estimated {pooled.get('mi', np.nan):.0%} "
                f"kept their end stage (imputed; {pooled.get('ipw', np.nan):.0%} weighted, "
                f"{pooled.get('complete_case', np.nan):.0%} among those followed up). ")
        t = self.tipping_point
        lvl = f"{self.threshold:.0%}"
        if t is None or np.isnan(t):
            lo = float(self.sensitivity["delta"].min())
            return base + (f"Even if those not followed up had scored {abs(lo):g} stage(s) lower than similar "
                           f"people who were, the share would stay at or above {lvl}.")
        if t == 0:
            return base + f"The share is below {lvl} already, before any allowance for those not followed up."
        return base + (f"The conclusion that at least {lvl} keep their end stage would change if those not "
                       f"followed up had scored on average {abs(t):.2g} stage(s) lower than similar people "
                       f"who were.")

    def summary(self) -> Summary:
        """The flow, who was lost, the weights, the three estimates and the tipping point: text in a
        terminal, tables in Jupyter."""
        pooled = self.estimates[(self.estimates[self.by] == "all").all(axis=1)].drop(columns=self.by)
        lost = (self.lost.assign(a=self.lost["smd"].abs()).sort_values("a", ascending=False)
                .groupby("month").head(5).drop(columns="a"))
        head = (f"Attrition after a planned end (loss of >= {self.loss} stage(s); m = {self.m} imputations, "
                f"seed {self.seed}; " + ("weights not truncated)" if self.trim is None else
                                         f"weights truncated at quantiles {self.trim})"))
        if not self.linked_exits:
            head += "\ndied / moved away: [x] not linked (give exits= for linked records)"
        tables = {"Flow (all areas)": self.flow_table(), "Who was lost (largest |SMD| at each month)": lost,
                  "Weights": self.weights, "Estimates, all areas pooled": pooled}
        text = "\n\n".join([head] + [f"{k}:\n{v.to_string(index=False)}" for k, v in tables.items()]
                           + [self.tipping_point_text()])
        return Summary(text, tables, head=head, notes=[self.tipping_point_text()])

    def tidy(self) -> pd.DataFrame:
        """The estimates: one row per quantity, group, month and method."""
        return self.estimates.copy()

    def _repr_fields(self) -> dict[str, Any]:
        return {"months": list(self.months), "m": self.m, "seed": self.seed, "tipping_point": self.tipping_point}

    def to_dict(self) -> dict[str, Any]:
        """The command line's JSON: the flow per month and the pooled share sustained at 12 months."""
        fs = self.flow_summary()
        flow = {str(int(r.month)): {"due": int(r.due), "obtained": int(r.obtained)} for r in fs.itertuples()}
        e = self.estimates
        sel = e[(e["quantity"] == "sustained") & (e["month"] == 12) & (e[self.by] == "all").all(axis=1)]
        sus = {row.method: {"estimate": _num(row.estimate), "ci_lower": _num(row.ci_lower),
                            "ci_upper": _num(row.ci_upper)} for row in sel.itertuples()}
        return {"flow": flow, "sustained_12m": {k: sus[k] for k in METHODS if k in sus}}

    def plot(self, ax=None, *, quantity: str = "sustained"):
        """Complete-case, weighted and imputed estimates by month (all areas pooled) with CIs and, in a
        second panel when no ``ax`` is given, the delta-adjusted share at the tipping month. Returns the
        Axes (the two panels' array when drawn here)."""
        drawn = axes_for(ax, figsize=(10, 4.5), ncols=2)
        ax, ax2 = (drawn, None) if ax is not None else drawn
        e = self.estimates[(self.estimates["quantity"] == quantity) & (self.estimates[self.by] == "all").all(axis=1)]
        markers = {"complete_case": "o", "ipw": "s", "mi": "^"}
        for i, meth in enumerate(METHODS):
            s = e[e["method"] == meth]
            x = s["month"].to_numpy(float) + (i - 1) * 0.5
            ax.errorbar(x, s["estimate"], yerr=[s["estimate"] - s["ci_lower"], s["ci_upper"] - s["estimate"]],
                        marker=markers[meth], capsize=3, linestyle="-", label=meth.replace("_", " "))
        ax.set_xlabel("Months after a planned end of support")
        ax.set_ylabel("Share keeping their end stage" if quantity == "sustained" else "Mean change from end")
        ax.set_xticks(list(self.months))
        ax.legend(fontsize="small")
        if ax2 is not None:
            s = self.sensitivity[(self.sensitivity["month"] == self.tipping_month)
                                 & (self.sensitivity[self.by] == "all").all(axis=1)]
            ax2.plot(s["delta"], s["estimate"], marker="o")
            ax2.fill_between(s["delta"], s["ci_lower"], s["ci_upper"], alpha=0.2)
            ax2.axhline(self.threshold, linestyle="--", color="0.3")
            if self.tipping_point is not None and np.isfinite(self.tipping_point):
                ax2.axvline(self.tipping_point, linestyle=":", color="0.3")
            ax2.set_xlabel("Shift of the imputed follow-up scores (stages)")
            ax2.set_ylabel(f"Share sustained at {self.tipping_month} months")
        return drawn

    def plot_flow(self, ax=None):
        """The attrition flow: follow-ups due at each month, split into obtained and each known reason.
        Returns the Axes."""
        ax = axes_for(ax, figsize=(7, 4.5))
        f = self.flow_summary()
        parts = [("obtained", "obtained", None), ("re_referred", "re-referred", "//"),
                 ("died", "died", "xx"), ("moved_away", "moved away", ".."),
                 ("no_contact", "no contact" if self.linked_exits else "no contact / not known", "\\\\")]
        x = np.arange(len(f))
        bottom = np.zeros(len(f))
        for col, lab, hatch in parts:
            v = pd.to_numeric(f[col], errors="coerce").fillna(0).to_numpy(float)
            if col in ("died", "moved_away") and not self.linked_exits:
                continue
            ax.bar(x, v, bottom=bottom, label=lab, hatch=hatch, edgecolor="0.2")
            bottom += v
        ax.set_xticks(x, [f"{m} months" for m in f["month"]])
        ax.set_ylabel("Follow-ups due")
        ttl = f"{int(f['ended_planned'].iloc[0]):,} episodes ended as planned"
        if not self.linked_exits:
            ttl += " (died / moved away not linked: [x])"
        ax.set_title(ttl, fontsize="small")
        ax.legend(fontsize="small")
        return ax


def _num(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


# ===================================================================== the analysis
def _group_sums(X: np.ndarray, X2: np.ndarray, rows: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The size of a group of rows (``rows``, bool), and the sums and sums of squares of each column of ``X``
    over it (``X2 = X * X``, made once): products with the group's indicator, where taking its rows would copy
    the design. A month's groups each enter several tables: their sums are found once."""
    u = rows.astype(float)
    return u.sum(), X.T @ u, X2.T @ u


def _weighted_means(X: np.ndarray, rows: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted means of each column of ``X`` but the first (the constant) over ``rows`` (bool), weights ``w``."""
    wv = np.zeros(rows.size)
    wv[rows] = w
    with np.errstate(invalid="ignore", divide="ignore"):  # no completers (a small area): NaN means
        return (X.T @ wv)[1:] / wv.sum()


def _smd_table(a: tuple, b: tuple, ma: np.ndarray | None = None):
    """Means of each column but the first (the constant) in groups ``a`` and ``b`` (their
    :func:`_group_sums`; ``ma``: ``a``'s weighted means, from :func:`_weighted_means`) and the standardised
    difference, on the pooled unweighted standard deviation of the two groups."""
    na, sa, qa = a
    nb, sb, qb = b
    if ma is None:
        with np.errstate(invalid="ignore", divide="ignore"):  # no completers (a small area): NaN means
            ma = sa[1:] / na
    mb = sb[1:] / nb if nb else np.full(sa.size - 1, np.nan)
    if min(na, nb) > 1:
        var_a = np.maximum(qa - sa**2 / na, 0) / (na - 1)
        var_b = np.maximum(qb - sb**2 / nb, 0) / (nb - 1)
        sd = np.sqrt((var_a + var_b) / 2)[1:]
    else:
        sd = np.full(sa.size - 1, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        # a constant column's variance from sums is a rounding error, not a difference to standardise
        tiny = sd <= 1e-7 * np.maximum(np.abs(ma), np.abs(mb))
        smd = np.where((sd > 0) & ~tiny, (ma - mb) / sd, 0.0)
    return ma, mb, smd


def _label_rows(names: list[str]) -> tuple[list[str], list[str]]:
    var, lev = [], []
    for n in names:
        if "[" in n:
            v, level = n[:-1].split("[", 1)
            var.append(_LABELS.get(v, v))
            lev.append(level)
        else:
            var.append(_LABELS.get(n, n))
            lev.append("")
    return var, lev


@renamed_arguments(study="data")
def follow_up_attrition(data: Study, outcome: str | Sequence[str] | None = None, *,
                        by: str | Sequence[str] = ("outcome",), loss: int = 1,
                        months: Sequence[int] = FOLLOW_UP_MONTHS, methods: Sequence[str] = METHODS, m: int = 20,
                        seed: int = 0, trim: tuple[float, float] | None = None,
                        deltas: Sequence[float] = (0, -0.25, -0.5, -0.75, -1.0, -1.5, -2.0), threshold: float = 0.5,
                        tipping_month: int = 12, exits: pd.DataFrame | None = None, censor_date=None,
                        iterations: int = 5, donors: int = 5, alpha: float = 0.05,
                        workers: int = 1) -> AttritionResults:
    """Follow-up flow, who was lost, weighted and imputed estimates, and a tipping point.

    Parameters
    ----------
    data : Study
        The study (its episodes' end reasons and the people's birth years and sex are needed, so a plain
        long table will not do). ``study=`` is the old spelling (deprecated).
    outcome : str, list of str or None
        Outcome area(s); all when omitted.
    by : str or list of str, default ("outcome",)
        Groups of the estimates (any of ``outcome, local_authority, lead_need, service_type``); a row
        ``all`` pools them.
    loss : int, default 1
        Stages below the end level that count as the end stage not kept.
    months : list of int, default (6, 12, 24)
        The follow-up schedule.
    methods : list of str
        Any of ``complete_case``, ``ipw``, ``mi`` (``mi`` also gives the delta sensitivity).
    m : int, default 20
        Imputations.
    seed : int
        Seed of the imputations and of the delta adjustment's rounding: imputation ``i`` draws from child
        ``i`` of ``numpy.random.SeedSequence(seed)``.
    trim : (float, float), optional
        Quantiles of the stabilised weights at which to truncate them, e.g. ``(0.01, 0.99)``; default
        none. Truncation trades bias for variance: it pulls the estimate towards the complete-case one
        (see the module notes), so use it as a sensitivity check, not as the headline.
    deltas : list of float
        Shifts (stages) of the imputed follow-up scores for the MNAR sensitivity.
    threshold : float, default 0.5
        The stated level of the share sustained at ``tipping_month`` for the tipping point.
    exits : DataFrame, optional
        Linked deaths and moves: ``person_id, date, reason`` (``died``/``moved_away``).
    censor_date : date-like, optional
        Data cut-off: a follow-up is due if its date is on or before it; default the latest date in the study.
    iterations, donors : int
        Chained-equation cycles per imputation; donors for predictive mean matching.
    workers : int, default 1
        Processes for the imputations; the result is the same for any number (each imputation has its own
        seed). Worth it at national size (each imputation then takes seconds), not for small studies.

    Returns
    -------
    AttritionResults
    """
    from threadpoolctl import threadpool_limits

    if not isinstance(data, Study):
        raise InputError(f"follow_up_attrition needs a Study (episodes with end reasons, people's birth years and "
                         f"sex), got {type(data).__name__}: load one with longitudinal.load(folder)")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers must be a whole number of processes >= 1, got {workers!r}")

    # the products here are of ~70-column matrices: threaded BLAS gains nothing on them and, measured on
    # a shared 2-core machine, made each 10-80 times slower
    with threadpool_limits(limits=1, user_api="blas"):
        return _attrition(data, outcome, by=by, loss=loss, months=months, methods=methods, m=m, seed=seed,
                          trim=trim, deltas=deltas, threshold=threshold, tipping_month=tipping_month,
                          exits=exits, censor_date=censor_date, iterations=iterations, donors=donors,
                          alpha=alpha, workers=int(workers))


@renamed_arguments(study="data")
def sustained_side_by_side(data: Study, outcome=None, *, by: Sequence[str], method: str, loss: int = 1,
                           exits: pd.DataFrame | None = None, censor_date=None, m: int = 20, seed: int = 0,
                           alpha: float = 0.05) -> pd.DataFrame:
    """The share sustained at the scheduled months per group, complete-case and by ``method`` (``ipw`` or
    ``mi``) side by side: what :func:`~longitudinal.sustained_outcomes` adds with ``missing=``.

    Columns: the group columns, ``month``, ``complete_case``, ``complete_case_ci_lower``,
    ``complete_case_ci_upper``, ``<method>``, ``<method>_ci_lower``, ``<method>_ci_upper``; the pooled
    row only when there are no groups.
    """
    if method not in ("ipw", "mi"):
        raise InputError(f"missing must be 'complete_case', 'ipw' or 'mi', not {method!r}")
    res = follow_up_attrition(data, outcome, by=by, loss=loss, methods=("complete_case", method), m=m, seed=seed,
                              exits=exits, censor_date=censor_date, alpha=alpha, deltas=(0,))
    t = res.side_by_side()
    if res.by:
        t = t[~(t[res.by] == "all").all(axis=1)]
    return t.reset_index(drop=True)


def _attrition(study, outcome, *, by, loss, months, methods, m, seed, trim, deltas, threshold, tipping_month,
               exits, censor_date, iterations, donors, alpha, workers) -> AttritionResults:
    methods = list(methods)
    bad = [x for x in methods if x not in METHODS]
    if bad:
        raise InputError(f"methods: unknown {bad}; expected some of {list(METHODS)}")
    by = [by] if isinstance(by, str) else list(by)
    allowed = ("outcome", "local_authority", "lead_need", "service_type")
    if any(b not in allowed for b in by):
        raise InputError(f"by: expected columns among {allowed}, got {by}")
    if "mi" in methods and m < 2:
        raise InputError(f"m must be at least 2 imputations for Rubin's rules, got {m}")
    if trim is not None:
        try:
            lo_q, hi_q = (float(v) for v in trim)
        except (TypeError, ValueError):
            lo_q = hi_q = np.nan
        if not 0 <= lo_q < hi_q <= 1:
            raise InputError(f"trim must be None or two quantiles 0 <= low < high <= 1, e.g. (0.01, 0.99); "
                             f"got {trim!r}")
        trim = (lo_q, hi_q)
    months = tuple(int(x) for x in months)
    if tipping_month not in months:
        raise InputError(f"tipping_month {tipping_month} is not one of the scheduled months {months}")
    fd = follow_up_data(study, outcome, loss=loss, months=months, exits=exits, censor_date=censor_date)
    units, S, due = fd.units, fd.scores, fd.due
    n, k = S.shape
    if n == 0 or not due.any():
        raise InputError("attrition: no area has a follow-up due after a planned end (is the study long "
                         "enough for the first follow-up?)")
    flow = fd.flow()
    end = units["end_score"].to_numpy(float)
    sustained, change = _outcomes(S, end, loss)
    complete = fd.complete  # all follow-ups up to the month obtained

    # groups: each `by` combination, then "all"
    if by:
        gcodes, glabels = pd.factorize(pd.MultiIndex.from_frame(units[by].astype(str)), sort=True)
    else:
        gcodes, glabels = np.zeros(n, dtype=np.int64), []
    n_g = len(glabels) + 1

    def group_of(g):  # the group columns of row g of the estimates; the last is every area pooled
        return dict(zip(by, glabels[g])) if g < n_g - 1 else {b: "all" for b in by}
    group_all = np.full(n, n_g - 1)
    cluster = pd.factorize(units["person_id"])[0]
    X, names = design_matrix(units)
    X2 = X * X

    rows: list[dict] = []

    def emit(method, month_j, quantity, est, se, cnt, n_obt, extra=None):
        for g in range(n_g):
            grp = group_of(g)
            z = stats.norm.ppf(1 - alpha / 2)
            row = {"quantity": quantity, **grp, "month": months[month_j], "method": method,
                   "estimate": est[g], "std_error": se[g],
                   "ci_lower": (extra or {}).get("ci_lower", est - z * se)[g],
                   "ci_upper": (extra or {}).get("ci_upper", est + z * se)[g],
                   "n_due": int(cnt[g]), "n_obtained": int(n_obt[g])}
            for key in ("fmi", "mc_se", "ess"):
                if extra and key in extra:
                    row[key] = extra[key][g]
            rows.append(row)

    def by_groups(y, w):
        e1, s1, c1, _ = _mean_by_group(y, w, gcodes, n_g, cluster)
        e2, s2, c2, _ = _mean_by_group(y, w, group_all, n_g, cluster)
        e1[-1], s1[-1], c1[-1] = e2[-1], s2[-1], c2[-1]
        return e1, s1, c1

    n_due_g = [by_groups(np.where(due[:, j], 1.0, np.nan), np.ones(n))[2] for j in range(k)]
    n_obt_g = [by_groups(np.where(due[:, j] & complete[:, j], 1.0, np.nan), np.ones(n))[2] for j in range(k)]

    # ---- complete case
    if "complete_case" in methods:
        for j in range(k):
            ok = due[:, j] & complete[:, j]
            for qname, y in (("sustained", sustained[:, j]), ("change", change[:, j])):
                est, se, _ = by_groups(np.where(ok, y, np.nan), np.ones(n))
                emit("complete_case", j, qname, est, se, n_due_g[j], n_obt_g[j],
                     _clipped_ci(est, se, qname, alpha))

    # ---- who was lost, response model, weights
    lost_rows, bal_rows, wt_rows, coef_rows = [], [], [], []
    W = np.zeros((n, k))
    p_prev, p_step = np.ones(n), np.full(n, np.nan)
    for j in range(k):
        d = due[:, j]
        r = complete[:, j] & d
        if not d.any():
            continue
        sums_r = _group_sums(X, X2, r)
        ma, mb, smd = _smd_table(sums_r, _group_sums(X, X2, d & ~r))
        var, lev = _label_rows(names[1:])
        for v, lv, a_, b_, s_ in zip(var, lev, ma, mb, smd):
            lost_rows.append({"month": months[j], "variable": v, "level": lv, "completers": a_,
                              "non_completers": b_, "smd": s_})
        if "ipw" not in methods or r.sum() < 2:
            W[r, j] = 1.0
            continue
        # P(every follow-up up to m obtained) = product over months of P(obtained | those before obtained):
        # one logistic model per month on the areas still complete, as for monotone dropout
        at_risk = d & (complete[:, j - 1] if j else True)
        rows_d = np.flatnonzero(at_risk)
        if r[rows_d].all():
            p_step[rows_d] = 1.0
        else:
            fit, idx, used = _logistic(r[rows_d].astype(float), X[rows_d], names)
            p_step[rows_d] = fit.predict()  # on the rows and columns it was fitted on
            ci = fit.conf_int(alpha)
            for t_, est_, se_, l_, u_, pv in zip(used, fit.params, fit.bse, ci[:, 0], ci[:, 1], fit.pvalues):
                coef_rows.append({"month": months[j], "term": t_, "estimate": est_, "std_error": se_,
                                  "ci_lower": l_, "ci_upper": u_, "p_value": pv})
        p_hat = np.where(d, p_prev * np.where(at_risk, p_step, 0.0), np.nan)
        p_prev = np.where(at_risk, p_prev * p_step, p_prev)
        p_bar = r[d].mean()
        sw = np.where(r, p_bar / np.clip(p_hat, 1e-6, None), 0.0)
        trimmed = 0
        if trim is not None:
            lo_w, hi_w = np.quantile(sw[r], trim)
            trimmed = int(((sw[r] < lo_w) | (sw[r] > hi_w)).sum())
            sw[r] = np.clip(sw[r], lo_w, hi_w)
        W[:, j] = sw
        wr = sw[r]
        wt_rows.append({"month": months[j], "n_due": int(d.sum()), "n_obtained": int(r.sum()),
                        "min": wr.min(), "p01": np.quantile(wr, 0.01), "p25": np.quantile(wr, 0.25),
                        "median": np.median(wr), "p75": np.quantile(wr, 0.75), "p99": np.quantile(wr, 0.99),
                        "max": wr.max(), "ess": wr.sum() ** 2 / (wr**2).sum(), "trimmed": trimmed})
        sums_d = _group_sums(X, X2, d)
        before = _smd_table(sums_r, sums_d)[2]
        after = _smd_table(sums_r, sums_d, _weighted_means(X, r, sw[r]))[2]
        for v, lv, b_, a_ in zip(var, lev, before, after):
            bal_rows.append({"month": months[j], "variable": v, "level": lv, "smd_before": b_, "smd_after": a_})
        # Kish's effective sample size per group: a few large weights in a small group show here
        s1 = np.bincount(gcodes[r], weights=sw[r], minlength=n_g)
        s2 = np.bincount(gcodes[r], weights=sw[r] ** 2, minlength=n_g)
        s1[-1], s2[-1] = sw[r].sum(), (sw[r] ** 2).sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            ess = np.where(s2 > 0, s1**2 / s2, 0.0)
        for qname, y in (("sustained", sustained[:, j]), ("change", change[:, j])):
            est, se, _ = by_groups(np.where(r, y, np.nan), sw)
            emit("ipw", j, qname, est, se, n_due_g[j], n_obt_g[j],
                 {**_clipped_ci(est, se, qname, alpha), "ess": ess})

    # ---- multiple imputation and delta adjustment
    def _due_means(j):  # without groups the one group is everyone: its means are the pooled ones, found once
        by_group = _GroupMeans(gcodes, cluster, n_g, due[:, j])
        return by_group, (by_group if n_g == 1 else _GroupMeans(group_all, cluster, n_g, due[:, j]))

    sens_rows: list[dict] = []
    tip = np.nan
    if "mi" in methods:
        deltas = sorted({float(x) for x in deltas} | {0.0}, reverse=True)
        never = np.isnan(S).all(axis=0)
        if never.any():
            raise InputError(f"attrition: no follow-up at {np.asarray(months)[never].tolist()} months was "
                             "obtained: nothing to impute from (drop that month from months=)")
        # the response model's design carries the clustering (the episode's mean end level)
        # only due follow-ups are imputed (see ChainedPMM)
        # donors within the re-referral band too: re-referral changes the whole distribution of the follow-up
        # scores (not just their mean) and response depends on it (see ChainedPMM)
        band = pd.factorize(units["re_referral"], sort=True)[0]
        imputer = ChainedPMM(X, S, end - loss, iterations=iterations, donors=donors, due=due, groups=band)
        job = _Imputation(imputer, end, loss, deltas, [_due_means(j) for j in range(k)])
        q: dict[tuple, list] = {key: [] for key in job.keys(k)}
        u: dict[tuple, list] = {key: [] for key in q}
        for one in _run_imputations(job, seed, m, workers):
            for key, (est, var) in one.items():
                q[key].append(est)
                u[key].append(var)
        due_means = job.due_means
        for (qn, j, di), ests in q.items():
            ncl = due_means[j][0].n_cl.copy()
            ncl[-1] = due_means[j][1].n_cl[-1]
            pooled = rubin(np.array(ests), np.array(u[(qn, j, di)]), df_complete=np.maximum(ncl - 1, 1),
                           alpha=alpha)
            if qn == "sustained":
                pooled["ci_lower"] = np.clip(pooled["ci_lower"], 0, 1)
                pooled["ci_upper"] = np.clip(pooled["ci_upper"], 0, 1)
            if deltas[di] == 0:
                emit("mi", j, qn, pooled["estimate"], pooled["std_error"], n_due_g[j], n_obt_g[j], pooled)
            if qn == "sustained":
                for g in range(n_g):
                    grp = group_of(g)
                    sens_rows.append({**grp, "month": months[j], "delta": deltas[di],
                                      "estimate": pooled["estimate"][g], "std_error": pooled["std_error"][g],
                                      "ci_lower": pooled["ci_lower"][g], "ci_upper": pooled["ci_upper"][g]})
        sens = pd.DataFrame(sens_rows)
        tip = _tipping(sens, by, months.index(tipping_month), months, threshold)
    else:
        sens = pd.DataFrame(columns=by + ["month", "delta", "estimate", "std_error", "ci_lower", "ci_upper"])

    est_df = pd.DataFrame(rows)
    est_df["_m"] = est_df["method"].map({x: i for i, x in enumerate(METHODS)})
    est_df["_all"] = (est_df[by] == "all").all(axis=1) if by else True
    est_df = est_df.sort_values(["quantity", "_all"] + by + ["month", "_m"], kind="stable",
                                ascending=[False, False] + [True] * len(by) + [True, True])
    est_df = est_df.drop(columns=["_m", "_all"]).reset_index(drop=True)
    unit_w = units[["episode_id", "outcome"]].copy()
    for j, mo in enumerate(months):
        unit_w[f"weight_{mo}"] = W[:, j]
    return AttritionResults(
        flow=flow, lost=pd.DataFrame(lost_rows), estimates=est_df, weights=pd.DataFrame(wt_rows),
        balance=pd.DataFrame(bal_rows), response_model=pd.DataFrame(coef_rows), sensitivity=sens,
        tipping_point=tip, by=by, months=months, loss=int(loss), m=int(m) if "mi" in methods else 0,
        seed=int(seed), threshold=float(threshold), tipping_month=int(tipping_month), trim=trim,
        linked_exits=fd.linked_exits, alpha=alpha, unit_weights=unit_w, ended_planned=fd.planned_ends().reset_index())


def _clipped_ci(est, se, quantity, alpha):
    z = stats.norm.ppf(1 - alpha / 2)
    lo, hi = est - z * se, est + z * se
    if quantity == "sustained":
        lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
    return {"ci_lower": lo, "ci_upper": hi}


def _tipping(sens: pd.DataFrame, by: list[str], j: int, months, threshold: float) -> float:
    """The shift at which the pooled share at the month crosses below ``threshold`` (linear between grid
    points); 0 when it is below already, NaN when the grid does not reach it."""
    s = sens[(sens["month"] == months[j]) & ((sens[by] == "all").all(axis=1) if by else True)]
    s = s[s["delta"] <= 0].sort_values("delta", ascending=False)
    d, e = s["delta"].to_numpy(float), s["estimate"].to_numpy(float)
    if d.size == 0 or np.isnan(e[0]):
        return float("nan")
    if e[0] < threshold:
        return 0.0
    below = np.flatnonzero(e < threshold)
    if below.size == 0:
        return float("nan")
    i = below[0]
    return float(d[i - 1] + (threshold - e[i - 1]) * (d[i] - d[i - 1]) / (e[i] - e[i - 1]))

