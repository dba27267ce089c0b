"""Effectiveness: the programme's effect on public-service use, against a counterfactual.

Linked service use (the optional ``service_use`` table) before and after the
start of support, as in the Welsh Government's SAIL data-linking work:

:func:`event_study`
    Monthly rates per person from 24 months before to 24 months after the start
    of support, by group, with confidence intervals: the descriptive picture.
:func:`staggered_did`
    Callaway & Sant'Anna group-time effects with not-yet-supported people as
    controls, stratified (doubly robust with saturated working models) on sex and
    age band, aggregated to event time and to months 1-12, with uniform bands by
    multiplier bootstrap; beside it the naive before/after change and a two-way
    fixed-effects estimate, as benchmarks only.
:func:`matched_comparison`
    The never-supported pool: propensity scores, nearest-neighbour matching (or
    odds weighting), a balance table with standardised mean differences before
    and after and a Love plot, then the same difference-in-differences on the
    balanced sample.
Sensitivity
    Each results object carries a pre-trend test (joint Wald test of the
    pre-period effects outside the anticipation window), and :meth:`DiDResults.honest_bounds`
    gives bounds when the post-period departures from parallel trends may be up
    to ``M`` times the largest pre-period one (HonestDiD's relative magnitudes);
    :func:`placebo` re-estimates with start dates moved 24 months earlier.

Conventions. Time is in calendar months of the study's linkage window; a
person's *start* is the month their first episode of support started (later
episodes do not restart the clock: support is treated as switched on for good).
Outcomes are events per person per month (the ``count`` column summed).
``anticipation`` months before the start are the crisis that brings people to
support (use rises then): controls must be more than that many months from their
own start, and the post-period is compared with the month just before the start.
The counterfactual is therefore "the level reached just before support, moving
as the controls moved" - an assumption (the worsening would have persisted
without support) that the sensitivity bounds make explicit.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats

from . import domain
from .deprecation import renamed_arguments, with_old_columns
from .errors import InputError
from .results import Results, Summary, axes_for
from .study import STORE_MARKER, Study

__all__ = ["ServicePanel", "DiDResults", "EventStudyResults", "MissingServiceUseError",
           "service_panel", "event_study", "staggered_did", "matched_comparison", "placebo", "effectiveness",
           "impact_quantity", "check_impact_spec", "ImpactQuantity", "linkage_window", "DESIGNS"]

DESIGNS = ("event-study", "did", "matched")
EVENT_MONTHS = tuple(range(-24, 25))
#: Months after the start averaged in the headline effect.
HEADLINE_MONTHS = tuple(range(1, 13))
_NEVER = np.iinfo(np.int64).max // 4  # start month of the never-supported


class MissingServiceUseError(InputError):
    """The study has no linked service use (or none for the service asked for)."""


# ====================================================================== panel
@dataclass
class ServicePanel:
    """One service's monthly use per person over the linkage window.

    Attributes
    ----------
    service : str
    y : ndarray (people x months, float32)
        Events per person per calendar month.
    start : ndarray of int64
        Month index (0 = first month of the window) of each person's first support;
        a large number for the never-supported.
    months : PeriodIndex
        The calendar months of the window.
    person_id : Index
    female, age : ndarray
        Sex and age at the window's start.
    stratum : ndarray of int
        Sex x age band: the cells within which controls are compared.
    attributes : DataFrame
        ``lead_need, service_type, local_authority`` of the first episode (blank for the never-supported).
    """

    service: str
    y: np.ndarray
    start: np.ndarray
    months: pd.PeriodIndex
    person_id: pd.Index
    female: np.ndarray
    age: np.ndarray
    stratum: np.ndarray
    attributes: pd.DataFrame
    window: tuple[pd.Timestamp, pd.Timestamp]

    @property
    def never(self) -> np.ndarray:
        return self.start >= _NEVER

    @property
    def n_months(self) -> int:
        return self.y.shape[1]


def _require_service_use(study: Study, service: str | None = None) -> pd.DataFrame:
    use = study.service_use
    if use is None:
        raise MissingServiceUseError(
            "this study has no linked service use: effectiveness needs a service_use table (person_id, "
            "event_date, service, count) linked to people with the same pseudonymisation key, and people who "
            "were never supported in `people` as the comparison pool. Supply service_use.csv beside the other "
            "tables and run `longitudinal ingest` again (see data/dictionary.md)")
    if service is not None:
        svc = use["service"]
        if isinstance(svc.dtype, pd.CategoricalDtype):  # the distinct codes, not a string per event
            codes = np.unique(svc.cat.codes.to_numpy())
            present = sorted(map(str, svc.cat.categories[codes[codes >= 0]]))
        else:
            present = sorted(map(str, pd.unique(svc.dropna())))
        if service not in present:
            raise MissingServiceUseError(
                f"no {service!r} events in this study's service use; services present: "
                f"{', '.join(present) or 'none'}")
    return use


@renamed_arguments(study="data")
def linkage_window(data: Study) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The days the linked service use covers: as declared at ingest or simulated, else its first and last event."""
    if data.truth and "service_use" in data.truth:
        a, b = data.truth["service_use"]["linkage_window"]
        return pd.Timestamp(a), pd.Timestamp(b)
    if data.source is not None and (data.source / STORE_MARKER).exists():
        info = json.loads((data.source / STORE_MARKER).read_text(encoding="utf-8")).get("service_use") or {}
        if info.get("linkage_window"):
            a, b = info["linkage_window"]
            return pd.Timestamp(a), pd.Timestamp(b)
    use = _require_service_use(data)
    return use["event_date"].min(), use["event_date"].max()


def _rows_of(index: pd.Index, ids: pd.Series) -> np.ndarray:
    """Position of each id in ``index`` (-1 when absent), through the categories: fast at national scale."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        per_cat = index.get_indexer(ids.cat.categories.astype(str))
        codes = ids.cat.codes.to_numpy()
        return np.where(codes >= 0, per_cat[np.maximum(codes, 0)], -1)
    return index.get_indexer(ids.astype(str))


def _month_index(dates: pd.Series, first: pd.Timestamp) -> np.ndarray:
    """Calendar months since the month of ``first``."""
    m = dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    return m - np.datetime64(first, "M").astype(np.int64)


@renamed_arguments(study="data")
def service_panel(data: Study, service: str, until=None) -> ServicePanel:
    """Monthly counts of ``service`` per person over the linkage window (every person in ``people``).

    ``until`` (a date) ends the window early, as a report for an earlier year must: use
    after it is not seen, and support starting after it counts as not yet started.

    Raises
    ------
    MissingServiceUseError
        The study has no service use, or none of that service.
    """
    use = _require_service_use(data, service)
    w0, w1 = linkage_window(data)
    if until is not None:
        w1 = min(w1, pd.Timestamp(until))
    months = pd.period_range(w0.to_period("M"), w1.to_period("M"), freq="M")
    people = data.people
    pid = pd.Index(people["person_id"].astype(str))
    n, n_m = len(pid), len(months)
    u = use[(use["service"] == service).to_numpy()]
    rows = _rows_of(pid, u["person_id"])
    mon = _month_index(u["event_date"], w0)
    ok = (rows >= 0) & (mon >= 0) & (mon < n_m)
    flat = np.bincount(rows[ok] * n_m + mon[ok], weights=u["count"].to_numpy()[ok].astype(float), minlength=n * n_m)
    y = flat.astype(np.float32).reshape(n, n_m)

    ep = data.episodes.sort_values(["start_date", "episode_id"], kind="stable")
    first = ep.drop_duplicates("person_id", keep="first")
    rows = _rows_of(pid, first["person_id"])
    start = np.full(n, _NEVER, dtype=np.int64)
    start[rows] = _month_index(first["start_date"], w0)
    attrs = pd.DataFrame(index=range(n), columns=["lead_need", "service_type", "local_authority"], dtype=object)
    for c in attrs.columns:
        attrs.loc[rows, c] = first[c].astype(str).to_numpy()
    female = (people["sex"].astype(str) == "female").to_numpy()
    age = (w0.year - people["birth_year"].to_numpy()).astype(float)
    band = domain.age_band(np.maximum(age, 16)).cat.codes.to_numpy()
    sex_code = people["sex"].cat.codes.to_numpy() if isinstance(people["sex"].dtype, pd.CategoricalDtype) \
        else pd.factorize(people["sex"])[0]
    stratum = np.asarray(sex_code, dtype=np.int64) * (len(domain.AGE_BANDS) + 1) + band
    return ServicePanel(service, y, start, months, pid, female, age, pd.factorize(stratum)[0].astype(np.int64),
                        attrs, (w0, w1))


# ================================================================ results
def _table(est, se, alpha, index=None, extra: dict | None = None) -> pd.DataFrame:
    est, se = np.asarray(est, float), np.asarray(se, float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(est / se))
    out = pd.DataFrame({"estimate": est, "std_error": se, "ci_lower": est - z * se, "ci_upper": est + z * se,
                        "p_value": p}, index=index)
    for k, v in (extra or {}).items():
        out[k] = v
    return out


@dataclass(repr=False)
class DiDResults(Results):
    """A difference-in-differences estimate of support's effect on one service.

    Attributes
    ----------
    service, design : str
        ``design`` is ``"did"`` (staggered, not-yet-supported controls) or ``"matched"``.
    overall : DataFrame
        One row, ``att``: the average effect over months 1-12 after the start, in
        events per person per month (supported minus counterfactual), with
        ``estimate, std_error, ci_lower, ci_upper, p_value``.
    event_time : DataFrame
        Indexed by ``event_month`` (-24..24) with the same columns plus
        ``band_lower, band_upper`` (uniform band over all event months), ``n_treated``.
        Post months (>= 0) compare with the month before the start; pre months are
        month-on-month changes (``base_period="varying"``: 0 outside the crisis when trends
        are parallel) or levels against the month before the start (``"universal"``).
    group_time : DataFrame
        The group-time effects: ``cohort`` (start month), ``event_month``, ``att``, ``n_treated``, ``n_control``.
    benchmarks : DataFrame
        Naive estimates of the same quantity on the same people, for comparison only.
    pre_trend : dict
        Joint Wald test that the pre-period effects before the crisis window are 0.
    n_treated, n_control : int
    """

    service: str
    design: str
    overall: pd.DataFrame
    event_time: pd.DataFrame
    group_time: pd.DataFrame
    benchmarks: pd.DataFrame
    pre_trend: dict[str, Any]
    n_treated: int
    n_control: int
    anticipation: int
    control: str
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)
    balance: pd.DataFrame | None = None
    base_period: str = "varying"
    _psi: np.ndarray | None = field(default=None, repr=False)
    #: Matched design: every supported and pool person considered, with covariates, logit propensity and weight.
    sample: pd.DataFrame | None = None

    @property
    def att(self) -> float:
        return float(self.overall["estimate"].iloc[0])

    def honest_bounds(self, m_bar=(0.0, 0.5, 1.0, 1.5, 2.0)) -> pd.DataFrame:
        """Bounds on the headline effect when parallel trends may fail after the start.

        The departure from parallel trends between consecutive post months is at most
        ``M`` times the largest one seen between consecutive pre-crisis months
        (Rambachan & Roth's relative magnitudes). Departures accumulate from the base
        month, so over months 1-12 the bias is at most ``M * D * mean(e + 1)``; the
        robust interval is the confidence interval widened by that bias each side
        (conservative: the union of shifted intervals, not HonestDiD's conditional test).

        Returns
        -------
        DataFrame
            ``m_bar, max_pre_departure, bias_bound, ci_lower, ci_upper`` and ``includes_zero``
            (``lower`` / ``upper`` still answer, with a ``DeprecationWarning``).
        """
        d = self.pre_trend["max_departure"]
        months = np.array(HEADLINE_MONTHS, dtype=float)
        lo, hi = self.overall[["ci_lower", "ci_upper"]].iloc[0]
        rows = []
        for m in m_bar:
            b = m * d * float(np.mean(months + 1))
            rows.append({"m_bar": m, "max_pre_departure": d, "bias_bound": b, "ci_lower": lo - b,
                         "ci_upper": hi + b, "includes_zero": bool(lo - b <= 0 <= hi + b)})
        return with_old_columns(pd.DataFrame(rows), {"lower": "ci_lower", "upper": "ci_upper"})

    def breakdown_m(self) -> float:
        """The smallest ``M`` at which the robust interval includes 0 (inf when pre-trends are exactly 0)."""
        d = self.pre_trend["max_departure"]
        lo, hi = self.overall[["ci_lower", "ci_upper"]].iloc[0]
        gap = lo if lo > 0 else (-hi if hi < 0 else 0.0)
        per_m = d * float(np.mean(np.array(HEADLINE_MONTHS) + 1))
        return float(gap / per_m) if per_m > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON: ``att, ci_lower, ci_upper, n_treated, n_control, design, event_time``."""
        row = self.overall.iloc[0]
        et = self.event_time.reindex(EVENT_MONTHS)
        return {
            "att": _num(row["estimate"]), "ci_lower": _num(row["ci_lower"]), "ci_upper": _num(row["ci_upper"]),
            "n_treated": int(self.n_treated), "n_control": int(self.n_control), "design": self.design,
            "event_time": [{"event_month": int(e), "estimate": _num(r["estimate"]), "ci_lower": _num(r["ci_lower"]),
                            "ci_upper": _num(r["ci_upper"])} for e, r in et.iterrows()],
        }

    def summary(self) -> Summary:
        """The headline effect, pre-trend test, robustness, benchmarks and balance (text; tables in Jupyter)."""
        row = self.overall.iloc[0]
        what = {"did": "staggered difference-in-differences (Callaway & Sant'Anna), controls: "
                       f"{self.control.replace('_', '-')}",
                "matched": "matched comparison with the never-supported pool, then difference-in-differences"}
        lines = [f"Effect of support on {self.service}: {what.get(self.design, self.design)}",
                 f"supported: {self.n_treated:,}; controls: {self.n_control:,}; crisis (anticipation) months: "
                 f"{self.anticipation}",
                 f"average effect, months 1-12: {row['estimate']:+.5f} events per person per month "
                 f"({100 * (1 - self.alpha):.0f}% CI {row['ci_lower']:+.5f} to {row['ci_upper']:+.5f}; "
                 f"p = {row['p_value']:.3g})",
                 f"pre-trend test (months before -{self.anticipation}): chi2 = {self.pre_trend['statistic']:.2f} "
                 f"on {self.pre_trend['df']} df, p = {self.pre_trend['p_value']:.3g}",
                 (f"robust to post-period departures from parallel trends up to M = {self.breakdown_m():.2f} x the "
                  "largest pre-period one" if self.breakdown_m() > 0 else
                  "the interval includes 0 even with parallel trends (M = 0)"),
                 "", "Benchmarks (biased by design; for comparison only):",
                 self.benchmarks.to_string(float_format=lambda v: f"{v:+.5f}")]
        if self.balance is not None:
            lines += ["", "Balance (standardised mean differences):",
                      self.balance.to_string(float_format="{:.3f}".format)]
        notes = [f"note: {n}" for n in self.notes]
        tables = {"Average effect, months 1-12": self.overall, "Event-time effects": self.event_time,
                  "Benchmarks (for comparison only)": self.benchmarks}
        if self.balance is not None:
            tables["Balance"] = self.balance
        return Summary("\n".join(lines + notes), tables, head="\n".join(lines[:5]), notes=notes)

    def _repr_fields(self) -> dict[str, Any]:
        row = self.overall.iloc[0]
        return {"design": self.design, "service": self.service, "att": self.att, "ci_lower": row["ci_lower"],
                "ci_upper": row["ci_upper"], "n_treated": self.n_treated, "n_control": self.n_control}

    def tidy(self) -> pd.DataFrame:
        """The headline effect (``term`` "att") and the event-time effects (``term`` "event_time", with their
        ``event_month``): ``estimate, std_error, ci_lower, ci_upper, p_value``."""
        cols = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
        att = self.overall[cols].assign(term="att", event_month=np.nan)
        et = self.event_time[cols].assign(term="event_time", event_month=self.event_time.index.to_numpy(float))
        return pd.concat([att, et], ignore_index=True)[["term", "event_month", *cols]]

    def plot(self, ax=None):
        """Event-time effects with pointwise CIs and the uniform band. Returns the matplotlib Axes."""
        ax = axes_for(ax, figsize=(8, 4))
        et = self.event_time
        x = et.index.to_numpy()
        ax.fill_between(x, et["band_lower"], et["band_upper"], color="0.85", label="uniform 95% band")
        ax.errorbar(x, et["estimate"], yerr=[et["estimate"] - et["ci_lower"], et["ci_upper"] - et["estimate"]],
                    fmt="o", ms=3, color="#1f4e79", ecolor="#1f4e79", elinewidth=0.8, label="estimate, 95% CI")
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(-0.5, color="black", ls="--", lw=0.8)
        ax.axvspan(-self.anticipation - 0.5, -0.5, color="#f4b183", alpha=0.3, label="crisis months")
        ax.set_xlabel("months since the start of support")
        ax.set_ylabel(f"effect on {self.service}\n(events per person per month)")
        ax.legend(frameon=False, fontsize=8)
        return ax

    def love_plot(self, ax=None):
        """Love plot of the balance table (matched design only)."""
        if self.balance is None:
            raise ValueError("a Love plot needs a matched design (matched_comparison)")
        return _love_plot(self.balance, ax)


def _num(v) -> float | None:
    v = float(v)
    return None if not np.isfinite(v) else v


# ============================================================ event study
@dataclass(repr=False)
class EventStudyResults(Results):
    """Monthly rates per person around the start of support, by group (the SAIL picture).

    ``rates`` has ``group, event_month, rate, std_error, ci_lower, ci_upper, n``:
    mean events per person in that month, over the supported people observed then.
    """

    service: str
    by: str | None
    rates: pd.DataFrame
    alpha: float = 0.05

    def summary(self) -> Summary:
        """Monthly rates per person at chosen months around the start, by group (text; a table in Jupyter)."""
        wide = self.rates.pivot(index="event_month", columns="group", values="rate")
        wide = wide.loc[[-24, -12, -6, -3, -1, 0, 1, 3, 6, 12, 24]]
        head = f"Monthly {self.service} per supported person, months around the start of support"
        return Summary(head + "\n" + wide.to_string(float_format="{:.4f}".format),
                       {"Rate per person per month": wide}, head=head)

    def _repr_fields(self) -> dict[str, Any]:
        return {"service": self.service, "by": self.by, "groups": int(self.rates["group"].nunique())}

    def tidy(self) -> pd.DataFrame:
        """``group, event_month, estimate`` (the rate), ``std_error, ci_lower, ci_upper, n``."""
        return self.rates.rename(columns={"rate": "estimate"})

    def plot(self, ax=None, max_groups: int = 8):
        """The monthly rates by group with their CIs. Returns the matplotlib Axes."""
        ax = axes_for(ax, figsize=(8, 4))
        markers = "os^vD<>p"
        for k, (g, sub) in enumerate(list(self.rates.groupby("group", sort=False))[:max_groups]):
            ax.plot(sub["event_month"], sub["rate"], marker=markers[k % len(markers)], ms=3, lw=1, label=str(g))
            ax.fill_between(sub["event_month"], sub["ci_lower"], sub["ci_upper"], alpha=0.15)
        ax.axvline(-0.5, color="black", ls="--", lw=0.8)
        ax.set_xlabel("months since the start of support")
        ax.set_ylabel(f"{self.service} per person per month")
        ax.legend(frameon=False, fontsize=8)
        return ax


@renamed_arguments(study="data")
def event_study(data: Study, service: str, *, by: str | None = None, alpha: float = 0.05,
                panel: ServicePanel | None = None) -> EventStudyResults:
    """Monthly rates per supported person from 24 months before to 24 months after the start of support.

    Parameters
    ----------
    data : Study
    service : str
        A service in ``data.service_use`` (e.g. ``emergency_admission``).
    by : str, optional
        ``lead_need``, ``service_type`` or ``local_authority`` of the first episode.
    alpha : float
        1 - confidence level of the intervals (normal, from the between-person variance).

    Returns
    -------
    EventStudyResults

    Examples
    --------
    >>> import longitudinal as lg
    >>> es = lg.effectiveness.event_study(lg.simulate(people=400, seed=3), "emergency_admission")
    >>> int(es.rates["event_month"].min()), int(es.rates["event_month"].max())
    (-24, 24)
    """
    p = panel or service_panel(data, service)
    sup = np.flatnonzero(~p.never & (p.start < p.n_months))  # supported within the (possibly cut) window
    groups = (pd.Series(["all supported"] * sup.size) if by is None
              else pd.Series(p.attributes.loc[sup, by].to_numpy()))
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for g in pd.unique(groups):
        who = sup[(groups == g).to_numpy()]
        for e in EVENT_MONTHS:
            t = p.start[who] + e
            ok = (t >= 0) & (t < p.n_months)
            vals = p.y[who[ok], t[ok]].astype(float)
            n = vals.size
            mean = vals.mean() if n else np.nan
            se = vals.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
            rows.append({"group": g, "event_month": e, "rate": mean, "std_error": se,
                         "ci_lower": mean - z * se, "ci_upper": mean + z * se, "n": n})
    return EventStudyResults(service, by, pd.DataFrame(rows), alpha)


# ======================================================= group-time core
def _att_gt(p: ServicePanel, start: np.ndarray, treated: np.ndarray, control_ok: np.ndarray,
            anticipation: int, base_period: str = "varying", event_months=EVENT_MONTHS):
    """Callaway & Sant'Anna ATT(g, t), stratified on ``p.stratum``, aggregated to event time.

    ``start`` is each person's start month (``_NEVER``: never), ``treated`` marks the people
    whose cohorts are estimated, ``control_ok`` those who may serve as controls while more
    than ``anticipation`` months before their own start (and before the cell's base month).
    Post months compare with the month before the start; pre months with the month before
    them (``base_period="varying"``) or with the month before the start (``"universal"``).
    Returns the group-time table, the event-time estimates, the treated per event month,
    each person's influence on the estimates (len(event_months) x n; the estimate's error
    is about the row sum) and who served as treated / as control in some cell.
    """
    n, n_m = p.y.shape
    strat = p.stratum
    n_s = int(strat.max()) + 1
    # classes: people sharing a start month and role; their month sums serve every cell
    role = 2 * treated.astype(np.int64) + control_ok.astype(np.int64)  # 0: neither (left out)
    key = np.where(role == 0, -1, np.minimum(start, n_m + 1))
    cls_key, cls = np.unique((key + 1) * 4 + role, return_inverse=True)
    cls = cls.ravel()
    n_c = cls_key.size
    c_start, c_role = np.where(cls_key // 4 - 1 > n_m, _NEVER, cls_key // 4 - 1), cls_key % 4
    ck = cls * n_s + strat  # class-stratum of each person
    # people ordered by class and stratum, months by row: a cohort's month is one contiguous slice
    order = np.argsort(ck, kind="stable")
    ck_o, strat_o = ck[order], strat[order]
    block = np.searchsorted(ck_o // n_s, np.arange(n_c + 1))  # class c is rows block[c]:block[c + 1]
    yT = p.y.T[:, order]
    onehot = sparse.csr_matrix((np.ones(n, np.float32), (ck_o, np.arange(n))), shape=(n_c * n_s, n))
    # float32 sums of counts are exact (far below 2**24 per class and stratum)
    sums = np.asarray(onehot @ yT.T, dtype=np.float64).reshape(n_c, n_s, n_m)
    cnt = np.bincount(ck, minlength=n_c * n_s).reshape(n_c, n_s).astype(float)
    is_ctrl_cls = (c_role & 1) == 1
    t_cls = np.flatnonzero(c_role >= 2)
    groups = c_start[t_cls]
    valid_g = (groups >= 1) & (groups < n_m)  # the month before the start is observed
    t_cls, groups = t_cls[valid_g], groups[valid_g]

    nz_m, nz_i = np.nonzero(yT)  # in the class order
    nz_y = yT[nz_m, nz_i].astype(np.float64)
    nz_ck = ck_o[nz_i]
    psi = np.zeros((len(event_months), n))  # one contiguous row per event month, people in the class order
    used_t = np.zeros((n_c, n_s), bool)
    used_c = np.zeros((n_c, n_s), bool)
    cells, est, n_tr = [], np.full(len(event_months), np.nan), np.zeros(len(event_months), int)
    for k, e in enumerate(event_months):
        t = groups + e
        b = groups - 1 if (e >= 0 or base_period == "universal") else t - 1
        ok = (t >= 0) & (t < n_m) & (b >= 0) & (t != b)
        if not ok.any():
            continue
        g_ok, cl_ok, t_ok, b_ok = groups[ok], t_cls[ok], t[ok], b[ok]
        # K[g, c]: class c controls cohort g at month t (and at its base month, which is earlier)
        K = is_ctrl_cls[None, :] & (c_start[None, :] > np.maximum(t_ok, b_ok)[:, None] + anticipation) \
            & (c_start[None, :] != g_ok[:, None])
        dsum = sums[:, :, t_ok] - sums[:, :, b_ok]  # (class, stratum, cell)
        c_num = np.einsum("gc,csg->gs", K, dsum)
        c_den = K.astype(float) @ cnt  # (cell, stratum)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu_c = np.where(c_den > 0, c_num / c_den, 0.0)
        overlap = c_den > 0
        n_gs = cnt[cl_ok] * overlap
        tr_sum = dsum[cl_ok, :, np.arange(len(g_ok))]  # (cell, stratum): the cohort's own change
        n_g = n_gs.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            att_g = ((tr_sum * overlap).sum(axis=1) - (n_gs * mu_c).sum(axis=1)) / n_g
        live = n_g > 0
        if not live.any():
            continue
        N_e = n_g[live].sum()
        used_t[cl_ok[live]] |= overlap[live]
        used_c |= (K[live][:, :, None] & overlap[live][:, None, :]).any(axis=0)
        est[k] = float((n_g[live] * att_g[live]).sum() / N_e)
        n_tr[k] = int(round(N_e))
        for gi in np.flatnonzero(live):
            cells.append((int(g_ok[gi]), e, float(att_g[gi]), float(n_g[gi]), float(c_den[gi].sum())))
        # influence of the treated (their own change less the stratum's control change, and the cohort weight)
        for gi in np.flatnonzero(live):
            lo, hi = block[cl_ok[gi]], block[cl_ok[gi] + 1]
            s_blk = strat_o[lo:hi]
            dy = yT[t_ok[gi], lo:hi].astype(np.float64) - yT[b_ok[gi], lo:hi]
            psi[k, lo:hi] = np.where(overlap[gi, s_blk], (dy - mu_c[gi, s_blk] - est[k]) / N_e, 0.0)
        # influence of the controls: -a[g, s] * (their change - mu_c[g, s]) summed over the cells they control
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.where(overlap, n_gs / (N_e * c_den), 0.0)
        a[~live] = 0.0
        Ka = K[:, :, None] * a[:, None, :]  # (cell, class, stratum)
        A = np.zeros((n_c, n_s, n_m))
        kat = np.transpose(Ka, (1, 2, 0))
        A[:, :, t_ok] += kat  # the cells' months are distinct, and so are their base months
        A[:, :, b_ok] -= kat
        Af = A.reshape(n_c * n_s, n_m)
        contrib = np.bincount(nz_i, weights=nz_y * Af[nz_ck, nz_m], minlength=n)
        q = np.einsum("gcs,gs->cs", Ka, mu_c).reshape(-1)
        psi[k] -= contrib - q[ck_o]
    gt = pd.DataFrame(cells, columns=["cohort", "event_month", "att", "n_treated", "n_control"])
    out = np.empty_like(psi)
    out[:, order] = psi  # back to the people's own order
    return gt, est, n_tr, out, used_t[cls, strat] & treated, used_c[cls, strat] & control_ok


def _uniform_band(est, psi, alpha, n_boot, seed):
    """Pointwise SEs from the influence functions and the multiplier-bootstrap critical value for a uniform band.

    With Gaussian multipliers the bootstrap draw ``sum_i V_i psi_i`` is exactly normal with
    covariance ``psi psi'`` given the data, so it is drawn from that (event months x event
    months) covariance: the same bootstrap, without a pass over every person per draw.
    """
    se = np.sqrt(np.einsum("kn,kn->k", psi, psi))
    live = np.isfinite(est) & (se > 0)
    if not live.any():
        return se, np.nan
    rng = np.random.default_rng(seed)
    ps = np.ascontiguousarray(psi[live])
    cov = ps @ ps.T
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0, None))
    draws = rng.standard_normal((n_boot, root.shape[0])) @ root.T
    crit = float(np.quantile(np.abs(draws / se[live]).max(axis=1), 1 - alpha))
    return se, crit


def _pre_departures(est, psi, anticipation, base_period):
    """Month-on-month departures from parallel trends before the crisis window, and their influence.

    With a varying base the pre-period estimates are those departures; with a universal
    base they are levels, so their consecutive differences are.
    """
    em = np.asarray(EVENT_MONTHS)
    sel = np.flatnonzero((em < -anticipation - 1) & np.isfinite(est))
    if base_period == "universal":
        sel = sel[np.isin(em[sel] - 1, em[sel])]
        prev = sel - 1
        return em[sel], est[sel] - est[prev], psi[sel] - psi[prev]
    return em[sel], est[sel], psi[sel]


def _pre_trend(est, psi, anticipation, base_period) -> dict[str, Any]:
    months, b, v = _pre_departures(est, psi, anticipation, base_period)
    if b.size == 0:
        return {"statistic": np.nan, "df": 0, "p_value": np.nan, "event_months": [], "max_departure": np.nan}
    cov = v @ v.T
    stat = float(b @ np.linalg.pinv(cov) @ b)
    df = int(np.linalg.matrix_rank(cov))
    return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df)) if df else np.nan,
            "event_months": months.tolist(), "max_departure": float(np.abs(b).max())}


def _one_blas_thread():
    """The matrix products here are skinny (event months x people): one BLAS thread is fastest, and
    OpenBLAS's threads spin badly on a shared, loaded machine (40x slower measured)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def _results(p, design, gt, est, n_tr, psi, *, n_treated, n_control, anticipation, control, alpha, n_boot, seed,
             benchmarks, notes, balance=None, base_period="varying") -> DiDResults:
    em = np.asarray(EVENT_MONTHS)
    with _one_blas_thread():
        se, crit = _uniform_band(est, psi, alpha, n_boot, seed)
        pre = _pre_trend(est, psi, anticipation, base_period)
    et = _table(est, se, alpha, index=pd.Index(em, name="event_month"))
    et["band_lower"] = est - crit * se
    et["band_upper"] = est + crit * se
    et["n_treated"] = n_tr
    head = np.isin(em, HEADLINE_MONTHS) & np.isfinite(est)
    if head.any():
        o_est = float(est[head].mean())
        o_psi = psi[head].mean(axis=0)
        o_se = float(np.sqrt((o_psi**2).sum()))
    else:
        o_est, o_se = np.nan, np.nan
        notes = notes + ["no cohort is observed 1-12 months after its start with controls: no headline effect"]
    overall = _table([o_est], [o_se], alpha, index=pd.Index(["att"], name="term"))
    return DiDResults(p.service, design, overall, et, gt, benchmarks, pre, int(n_treated), int(n_control),
                      anticipation, control, alpha, notes, balance, base_period, psi)


# ======================================================== benchmarks
def _before_after(p: ServicePanel, who: np.ndarray) -> tuple[float, float]:
    """Mean change from the 12 months before the start to months 1-12 after, over ``who``."""
    diffs = []
    for i0 in range(0, who.size, 100_000):
        ii = who[i0:i0 + 100_000]
        before = np.stack([p.y[ii, np.clip(p.start[ii] + e, 0, p.n_months - 1)] for e in range(-12, 0)], 1)
        after = np.stack([p.y[ii, np.clip(p.start[ii] + e, 0, p.n_months - 1)] for e in HEADLINE_MONTHS], 1)
        diffs.append(after.mean(1) - before.mean(1))
    d = np.concatenate(diffs) if diffs else np.array([])
    if d.size < 2:
        return np.nan, np.nan  # nobody observed a year either side of their start
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


def _twfe(p: ServicePanel, sample: np.ndarray, start: np.ndarray) -> tuple[float, float]:
    """Two-way fixed effects (person, month) regression of monthly use on a supported-since dummy.

    The balanced panel's within transformation in closed form: with ``x`` the two-way demeaned
    dummy, ``beta = sum(x y) / sum(x^2)``, each person's sums computed from their start month,
    suffix sums over months and their nonzero counts only (no person-month grid). Standard
    error clustered by person.
    """
    who = np.flatnonzero(sample)
    n, n_m = who.size, p.n_months
    pos = np.full(p.y.shape[0], -1)
    pos[who] = np.arange(n)
    h = np.clip(start[who], 0, n_m)  # month supported from (n_m: not in the window)
    rows, mon = np.nonzero(p.y[who])
    val = p.y[who][rows, mon].astype(np.float64)
    c = (n_m - h).astype(float)
    d_row = c / n_m
    d_col = np.bincount(h, minlength=n_m + 1)[:n_m].cumsum() / n  # share supported by month
    d_all = d_row.mean()
    y_row = np.bincount(rows, weights=val, minlength=n)
    y_col = np.bincount(mon, weights=val, minlength=n_m) / n

    def suffix(v):  # suffix[h] = sum over months >= h
        return np.r_[np.cumsum(v[::-1])[::-1], 0.0]

    d_suf, y_suf = suffix(d_col), suffix(y_col)
    sd, sy, sdd, sdy = d_col.sum(), y_col.sum(), (d_col**2).sum(), (d_col * y_col).sum()
    y_post = np.bincount(rows, weights=val * (mon >= h[rows]), minlength=n)
    y_dcol = np.bincount(rows, weights=val * d_col[mon], minlength=n)
    xy = y_post - d_row * y_row - y_dcol + d_all * y_row  # sum_t x_it y_it
    x_ycol = y_suf[h] - d_row * sy - sdy + d_all * sy  # sum_t x_it ybar_t
    x_d = c * (1 - d_row + d_all) - d_suf[h]  # sum_t x_it D_it
    x_dcol = d_suf[h] - d_row * sd - sdd + d_all * sd  # sum_t x_it Dbar_t
    xx = x_d - x_dcol
    beta = xy.sum() / xx.sum()
    score = (xy - x_ycol) - beta * xx
    se = float(np.sqrt((score**2).sum()) / xx.sum() * np.sqrt(n / (n - 1)))
    return float(beta), se


def _benchmarks(p, treated, sample, start, alpha) -> pd.DataFrame:
    ba, ba_se = _before_after(p, np.flatnonzero(treated & (start >= 12) & (start + HEADLINE_MONTHS[-1] < p.n_months)))
    tw, tw_se = _twfe(p, sample, start)
    return _table([ba, tw], [ba_se, tw_se], alpha,
                  index=pd.Index(["before_after", "twfe"], name="estimator"),
                  extra={"description": ["months 1-12 after minus the 12 months before, supported people only",
                                         "two-way fixed effects (person, month), supported-since dummy"]})


# ======================================================= staggered DiD
CONTROLS = ("not_yet_supported", "never_supported", "both")


@renamed_arguments(study="data")
def staggered_did(data: Study, service: str, *, anticipation: int = 6, control: str = "not_yet_supported",
                  base_period: str = "varying", subgroup: dict[str, str] | None = None, alpha: float = 0.05,
                  n_boot: int = 999, seed: int = 0, benchmarks: bool = True,
                  panel: ServicePanel | None = None) -> DiDResults:
    """Staggered difference-in-differences of support's effect on one service (Callaway & Sant'Anna).

    Each cohort (people whose support started in the same month) is compared, month by
    month, with people of the same sex and age band not yet supported then (and more than
    ``anticipation`` months from their own start), relative to the month before the cohort's
    start. With stratum-saturated working models the doubly robust, regression and
    weighting estimators coincide. Cohort-month effects are averaged over cohorts by
    size to event months -24..24; the headline is their mean over months 1-12.

    Parameters
    ----------
    data : Study
        With ``service_use``.
    service : str
    anticipation : int, default 6
        Months before the start in which use already rises (the crisis): excluded from
        control comparisons; the pre-trend test uses the months before.
    control : {"not_yet_supported", "never_supported", "both"}
        Who may be a control: people supported later (default), the never-supported
        pool, or both.
    base_period : {"varying", "universal"}
        Pre-period months compared with the month before them (month-on-month
        pre-trends, R ``did``'s default) or all with the month before the start (the
        event-study picture: the rise before support shows as a level).
    subgroup : dict, optional
        Estimate the effect for the supported people whose first episode matches, e.g.
        ``{"local_authority": "Cardiff"}`` or ``{"lead_need": "mental_health"}``; controls are
        still every eligible person (support elsewhere does not change the comparison).
    alpha : float
    n_boot : int, default 999
        Multiplier-bootstrap draws for the uniform band.
    seed : int
        Seed of the bootstrap.
    benchmarks : bool, default True
        Also compute the naive before/after and two-way fixed-effects estimates.

    Returns
    -------
    DiDResults

    Raises
    ------
    MissingServiceUseError
        The study has no linked service use.

    Examples
    --------
    >>> import longitudinal as lg
    >>> fit = lg.effectiveness.staggered_did(lg.simulate(people=800, seed=4), "emergency_admission", n_boot=99)
    >>> list(fit.overall.columns)
    ['estimate', 'std_error', 'ci_lower', 'ci_upper', 'p_value']
    """
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {', '.join(CONTROLS)}, not {control!r}")
    if base_period not in ("varying", "universal"):
        raise ValueError(f"base_period must be 'varying' or 'universal', not {base_period!r}")
    p = panel or service_panel(data, service)
    supported = ~p.never & (p.start >= 1)  # started before the window: no month before the start to compare
    treated = supported & (p.start < p.n_months)
    for col, value in (subgroup or {}).items():
        if col not in p.attributes.columns:
            raise ValueError(f"subgroup by {col!r}: expected one of {', '.join(p.attributes.columns)}")
        if col == "local_authority":
            value = domain.local_authority(value)
        treated &= (p.attributes[col] == value).to_numpy()
        if not treated.any():
            raise ValueError(f"no supported people with {col} = {value!r}")
    ctrl = {"not_yet_supported": supported, "never_supported": p.never, "both": supported | p.never}[control]
    with _one_blas_thread():
        gt, est, n_tr, psi, used_t, used_c = _att_gt(p, p.start, treated, ctrl, anticipation, base_period)
    notes = []
    dropped = int((~p.never & (p.start < 1)).sum())
    if dropped:
        notes.append(f"{dropped:,} people supported from the window's first month or before are left out "
                     "(no month before their start)")
    bench = (_benchmarks(p, treated, treated | ctrl, p.start, alpha) if benchmarks
             else pd.DataFrame(columns=["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]))
    return _results(p, "did", gt, est, n_tr, psi, n_treated=int(used_t.sum()), n_control=int(used_c.sum()),
                    anticipation=anticipation, control=control, alpha=alpha, n_boot=n_boot, seed=seed,
                    benchmarks=bench, notes=notes, base_period=base_period)


@renamed_arguments(study="data")
def placebo(data: Study, service: str, *, shift: int = 24, anticipation: int = 6, alpha: float = 0.05,
            n_boot: int = 199, seed: int = 0, panel: ServicePanel | None = None) -> DiDResults:
    """The staggered DiD with every start moved ``shift`` months earlier: its effects should be 0.

    Only months before the real crisis enter (``shift`` > 12 + ``anticipation``), so a
    non-zero placebo effect means the comparison, not support, moves use.
    """
    if shift <= HEADLINE_MONTHS[-1] + anticipation:
        raise ValueError(f"shift must exceed {HEADLINE_MONTHS[-1] + anticipation} months, so that the placebo "
                         "months 1-12 end before the real crisis")
    p = panel or service_panel(data, service)
    fake = np.where(p.never, p.start, p.start - shift)
    supported = ~p.never & (fake >= 1)
    treated = supported & (fake < p.n_months)
    with _one_blas_thread():
        gt, est, n_tr, psi, used_t, used_c = _att_gt(p, fake, treated, supported, anticipation)
    return _results(p, "placebo", gt, est, n_tr, psi, n_treated=int(used_t.sum()), n_control=int(used_c.sum()),
                    anticipation=anticipation, control="not_yet_supported", alpha=alpha, n_boot=n_boot, seed=seed,
                    benchmarks=pd.DataFrame(), notes=[f"placebo: starts moved {shift} months earlier"])


# ===================================================== matched comparison
def _pre_counts(p: ServicePanel, start: np.ndarray, who: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Events per person in months ``lo``..``hi`` (inclusive) relative to ``start``."""
    total = np.zeros(who.size)
    for e in range(lo, hi + 1):
        total += p.y[who, np.clip(start[who] + e, 0, p.n_months - 1)]
    return total


def _logit(X: np.ndarray, d: np.ndarray, iters: int = 50) -> np.ndarray:
    """Logistic regression by Newton-Raphson (the propensity model); returns the linear predictor."""
    import statsmodels.api as sm

    with _one_blas_thread():
        fit = sm.GLM(d, X, family=sm.families.Binomial()).fit(maxiter=iters)
    return X @ fit.params


def _balance(cov: pd.DataFrame, t: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    """Standardised mean differences before and after matching/weighting (cobalt's ATT convention:
    the supported people's SD as denominator, the same before and after)."""
    tm, cm = t & (w > 0), ~t & (w > 0)
    rows = []
    for c in cov.columns:
        x = cov[c].to_numpy(dtype=float)
        sd = x[t].std(ddof=1)
        mt0, mc0 = x[t].mean(), x[~t].mean()
        mt1, mc1 = np.average(x[tm], weights=w[tm]), np.average(x[cm], weights=w[cm])
        vt = np.cov(x[tm], aweights=w[tm]) if tm.sum() > 1 else np.nan
        vc = np.cov(x[cm], aweights=w[cm]) if cm.sum() > 1 else np.nan
        rows.append({"covariate": c, "mean_supported": mt1, "mean_pool_before": mc0,
                     "smd_before": (mt0 - mc0) / sd if sd > 0 else 0.0, "mean_pool_after": mc1,
                     "smd_after": (mt1 - mc1) / sd if sd > 0 else 0.0,
                     "variance_ratio_after": float(vt / vc) if vc and vc > 0 else np.nan})
    return pd.DataFrame(rows).set_index("covariate")


def _love_plot(balance: pd.DataFrame, ax=None):
    ax = axes_for(ax, figsize=(6, 0.4 * len(balance) + 1.2))
    yy = np.arange(len(balance))
    ax.scatter(balance["smd_before"].abs(), yy, marker="o", facecolors="none", edgecolors="#7f7f7f",
               label="before")
    ax.scatter(balance["smd_after"].abs(), yy, marker="s", color="#1f4e79", label="after")
    ax.axvline(0.1, color="black", ls="--", lw=0.8)
    ax.set_yticks(yy, balance.index)
    ax.set_xlabel("absolute standardised mean difference")
    ax.legend(frameon=False, fontsize=8)
    return ax


@renamed_arguments(study="data")
def matched_comparison(data: Study, service: str, *, method: str = "nearest", caliper: float | None = 0.2,
                       anticipation: int = 6, alpha: float = 0.05, n_boot: int = 999, seed: int = 0,
                       panel: ServicePanel | None = None) -> DiDResults:
    """Supported people against matched (or weighted) never-supported people, then difference-in-differences.

    Each never-supported person gets a pseudo start month drawn from the supported
    people's start months (seeded). The propensity of support is a logistic regression
    on sex, age, age squared and the person's use of this and of all services in the
    months before the crisis (months -24 to -``anticipation``-1); within each start year
    each supported person is matched to the nearest never-supported person on the logit
    of the propensity, with replacement, within ``caliper`` standard deviations
    (``method="nearest"``), or the pool is weighted by the odds of the propensity
    (``method="weighting"``). The balance table gives standardised mean differences
    (denominator: the supported people's SD) before and after. The DiD then compares
    each supported person's change from the month before their start with the weighted
    matched controls' change from the month before their pseudo start; standard errors
    are conditional on the matched sample (they ignore the propensity's estimation).

    Returns
    -------
    DiDResults
        With ``balance`` and :meth:`DiDResults.love_plot`.
    """
    if method not in ("nearest", "weighting"):
        raise ValueError(f"method must be 'nearest' or 'weighting', not {method!r}")
    p = panel or service_panel(data, service)
    rng = np.random.default_rng(seed)
    pre_lo, pre_hi = -24, -anticipation - 1
    sup = np.flatnonzero(~p.never & (p.start + pre_lo >= 0) & (p.start < p.n_months))
    pool = np.flatnonzero(p.never)
    if sup.size == 0 or pool.size == 0:
        raise MissingServiceUseError("a matched comparison needs supported people with 24 months of linked data "
                                     "before their start and never-supported people in `people` (the pool); "
                                     f"found {sup.size:,} and {pool.size:,}")
    start = p.start.copy()
    start[pool] = rng.choice(p.start[sup], size=pool.size)
    who = np.concatenate([sup, pool])
    t = np.r_[np.ones(sup.size, bool), np.zeros(pool.size, bool)]
    all_use = _all_service_pre(data, p, start, who, pre_lo, pre_hi)
    age = p.age[who] + start[who] / 12
    cov = pd.DataFrame({
        "female": p.female[who].astype(float),
        "age": age,
        "age_squared": age**2 / 100,
        f"log_pre_{p.service}": np.log1p(_pre_counts(p, start, who, pre_lo, pre_hi)),
        "log_pre_all_services": np.log1p(all_use),
    })
    X = np.column_stack([np.ones(len(who)), cov.to_numpy()])
    lp = _logit(X, t.astype(float))
    w = np.zeros(len(who))
    w[t] = 1.0
    notes = []
    if method == "nearest":
        cal = np.inf if caliper is None else caliper * lp.std()
        year = start[who] // 12
        ctrl_pos = np.flatnonzero(~t)
        unmatched = 0
        for yr in np.unique(year[t]):
            tt = np.flatnonzero(t & (year == yr))
            cc = ctrl_pos[year[ctrl_pos] == yr]
            if cc.size == 0:
                w[tt] = 0
                unmatched += tt.size
                continue
            order = np.argsort(lp[cc], kind="stable")
            cs, cl = cc[order], lp[cc][order]
            j = np.clip(np.searchsorted(cl, lp[tt]), 1, cs.size - 1) if cs.size > 1 else np.zeros(tt.size, int)
            if cs.size > 1:
                left = np.abs(lp[tt] - cl[j - 1]) <= np.abs(lp[tt] - cl[j])
                j = np.where(left, j - 1, j)
            dist = np.abs(lp[tt] - cl[j])
            ok = dist <= cal
            np.add.at(w, cs[j[ok]], 1.0)
            w[tt[~ok]] = 0
            unmatched += int((~ok).sum())
        if unmatched:
            notes.append(f"{unmatched:,} supported people had no never-supported match within the caliper "
                         f"({caliper} SD of the logit propensity) and are left out")
    else:
        w[~t] = np.exp(lp[~t])  # odds of support: the ATT weights
    balance = _balance(cov, t, w)
    # the DiD on the balanced sample: controls are the matched pool, always "not yet supported"
    full_w = np.zeros(len(p.start))
    full_w[who] = w
    treated = np.zeros(len(p.start), bool)
    treated[who[t & (w > 0)]] = True
    ctrl = np.zeros(len(p.start), bool)
    ctrl[who[~t & (w > 0)]] = True
    gt, est, n_tr, psi = _matched_att(p, start, treated, ctrl, full_w)
    bench = _benchmarks(p, treated, treated | ctrl, np.where(ctrl, _NEVER, p.start), alpha)
    fit = _results(p, "matched", gt, est, n_tr, psi, n_treated=int(treated.sum()), n_control=int(ctrl.sum()),
                   anticipation=anticipation, control="never_supported (matched)", alpha=alpha, n_boot=n_boot,
                   seed=seed, benchmarks=bench, notes=notes, balance=balance)
    fit.sample = pd.DataFrame({"person_id": p.person_id[who], "supported": t, "start_month": start[who],
                               "logit_propensity": lp, "weight": w}).join(cov.reset_index(drop=True))
    return fit


def _matched_att(p: ServicePanel, start: np.ndarray, treated: np.ndarray, ctrl: np.ndarray, w: np.ndarray):
    """Event-time DiD of the supported against their weighted matches, each relative to their own (pseudo) start.

    Post months compare with the month before the start, pre months are month-on-month
    changes, as in :func:`_att_gt`.
    """
    em = np.asarray(EVENT_MONTHS)
    n = len(start)
    psi = np.zeros((em.size, n))
    est = np.full(em.size, np.nan)
    n_tr = np.zeros(em.size, int)
    tr, cc = np.flatnonzero(treated), np.flatnonzero(ctrl)
    cells = []
    for k, e in enumerate(em):
        def change(ii, e=e):
            tt = start[ii] + e
            bb = start[ii] - 1 if e >= 0 else tt - 1
            ok = (tt < p.n_months) & (bb >= 0) & (tt >= 0)
            d = np.full(ii.size, np.nan)
            d[ok] = p.y[ii[ok], tt[ok]].astype(float) - p.y[ii[ok], bb[ok]]
            return d
        dt, dc = change(tr), change(cc)
        ot, oc = np.isfinite(dt), np.isfinite(dc)
        if ot.sum() == 0 or oc.sum() == 0:
            continue
        wt, wc = w[tr][ot], w[cc][oc]
        mt = np.average(dt[ot], weights=wt)
        mc = np.average(dc[oc], weights=wc)
        est[k] = mt - mc
        n_tr[k] = int(ot.sum())
        cohorts, size = np.unique(start[tr[ot]], return_counts=True)
        cells.append(pd.DataFrame({"cohort": cohorts, "event_month": e, "att": np.nan, "n_treated": size,
                                   "n_control": int(oc.sum())}))
        psi[k, tr[ot]] = wt * (dt[ot] - mt) / wt.sum()
        psi[k, cc[oc]] = -wc * (dc[oc] - mc) / wc.sum()
    # the matched comparison has no cohort-level effects; the cohorts' sizes say whom each month averages over
    gt = pd.concat(cells, ignore_index=True) if cells else pd.DataFrame(
        columns=["cohort", "event_month", "att", "n_treated", "n_control"])
    return gt, est, n_tr, psi


def _all_service_pre(study: Study, p: ServicePanel, start: np.ndarray, who: np.ndarray, lo: int, hi: int):
    """Events of every service per person in months ``lo..hi`` relative to ``start``."""
    use = study.service_use
    rows = _rows_of(p.person_id, use["person_id"])
    mon = _month_index(use["event_date"], p.window[0])
    ok = rows >= 0
    rel = mon[ok] - start[rows[ok]]
    inwin = (rel >= lo) & (rel <= hi)
    total = np.bincount(rows[ok][inwin], weights=use["count"].to_numpy()[ok][inwin].astype(float),
                        minlength=len(p.start))
    return total[who]


# ============================================================ one entry
@renamed_arguments(study="data")
def effectiveness(data: Study, service: str, *, design: str = "did", anticipation: int = 6,
                  alpha: float = 0.05, n_boot: int = 999, seed: int = 0):
    """The effect of support on ``service`` by one design: ``event-study``, ``did`` or ``matched``.

    ``did`` is :func:`staggered_did` (pre months as month-on-month changes, for the
    pre-trend test); ``event-study`` the same estimator with every month against the
    month before the start (``base_period="universal"``: the rise before support shows
    as a level, as in the SAIL picture); ``matched`` is :func:`matched_comparison`.
    All three share the headline: the mean effect over months 1-12.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, not {design!r}")
    panel = service_panel(data, service)
    if design == "matched":
        return matched_comparison(data, service, anticipation=anticipation, alpha=alpha, n_boot=n_boot,
                                  seed=seed, panel=panel)
    fit = staggered_did(data, service, anticipation=anticipation, alpha=alpha, n_boot=n_boot, seed=seed,
                        panel=panel, base_period="universal" if design == "event-study" else "varying")
    fit.design = design
    return fit


# ============================================================ into social return
_IMPACT_KEYS = {"from", "service", "design", "people", "anticipation", "seed", "months"}


def check_impact_spec(spec, row: str = "") -> dict:
    """Check an impact map's ``quantity: {from: effectiveness, ...}`` (service, design, people) early."""
    from .sroi import ImpactMapError

    unknown = set(spec) - _IMPACT_KEYS
    if unknown:
        raise ImpactMapError(f"quantity from effectiveness takes {', '.join(sorted(_IMPACT_KEYS))}, not "
                             f"{', '.join(sorted(map(str, unknown)))}", row=row, field="quantity")
    if not spec.get("service"):
        raise ImpactMapError("quantity from effectiveness needs the service (e.g. emergency_admission)", row=row,
                             field="quantity.service")
    if spec.get("design", "did") not in DESIGNS:
        raise ImpactMapError(f"design must be one of {', '.join(DESIGNS)}", row=row, field="quantity.design")
    if spec.get("people") is not None and not float(spec["people"]) >= 0:
        raise ImpactMapError("people must be a number of people, 0 or more", row=row, field="quantity.people")
    return dict(spec)


@dataclass
class ImpactQuantity:
    """Events avoided in a year, from an effect estimate: ``-att x months x people``, with its CI."""

    value: float
    ci_lower: float
    ci_upper: float
    relative_se: float
    basis: str
    missing_share: float | None = None


#: Fits by the service-use table they came from (id, checked through a weak reference, since frames
#: are not hashable): an impact map's cohorts share one estimate.
_FITS: dict[int, tuple[weakref.ref, dict]] = {}


@renamed_arguments(study="data")
def impact_quantity(data: Study, spec: dict, financial_year: int | None = None) -> ImpactQuantity:
    """The quantity of an impact-map outcome from an effectiveness estimate.

    ``-att`` (events avoided per person per month, months 1-12) times ``months`` (default 12)
    times ``people``: as given, or else the people whose support started in ``financial_year``
    (or a year's average over the study when no year is given). The estimate's uncertainty is
    its relative standard error (the same for every cohort: one estimate scales them all).
    """
    service, design = spec["service"], spec.get("design", "did")
    use = _require_service_use(data, service)
    key = (service, design, int(spec.get("anticipation", 6)), int(spec.get("seed", 0)))
    ref, fits = _FITS.get(id(use), (None, None))
    if ref is None or ref() is not use:
        fits = {}
        _FITS[id(use)] = (weakref.ref(use, lambda _, k=id(use): _FITS.pop(k, None)), fits)
    if key not in fits:
        fits[key] = effectiveness(data, service, design=design, anticipation=key[2], seed=key[3])
    fit = fits[key]
    row = fit.overall.loc["att"]
    months = float(spec.get("months", 12))
    if spec.get("people") is not None:
        people, who = float(spec["people"]), "as stated in the impact map"
    else:
        firsts = data.episodes.groupby("person_id", observed=True)["start_date"].min()
        fy = domain.financial_year(firsts)
        if financial_year is not None:
            people = float((fy == financial_year).sum())
            who = f"people first supported in {domain.fy_label(financial_year)}"
        else:
            people = float(len(firsts) / max(1, fy.nunique()))
            who = "people first supported in an average year of the study"
    scale = -months * people
    lo, hi = sorted((row["ci_lower"] * scale, row["ci_upper"] * scale))
    basis = (f"{service} avoided = -(effect {row['estimate']:+.5f} per person per month, 95% CI "
             f"{row['ci_lower']:+.5f} to {row['ci_upper']:+.5f}; {fit.design}, n_treated={fit.n_treated:,}, "
             f"n_control={fit.n_control:,}) x {months:g} months x {people:,.0f} {who}")
    rel = abs(row["std_error"] / row["estimate"]) if row["estimate"] != 0 else np.inf
    return ImpactQuantity(float(row["estimate"] * scale), float(lo), float(hi), float(rel), basis)
