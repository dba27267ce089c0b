"""Lasting impact after a planned end of support: sustained outcomes and re-referral with competing risks."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .._numeric import text_ranks
from ..deprecation import renamed_arguments
from ..errors import InputError, NoDataError
from ..results import Results, Summary, axes_for
from ..study import Study
from .interval import bootstrap_band, fit_with_bootstrap
from .lifelines_compat import fast_aalen_johansen_class
from .tables import (
    GROUPABLE,
    MONTH_DAYS,
    at_risk_count,
    check_columns,
    exclusion_table,
    group_keys,
    group_label,
    outcome_codes,
    scored_readings,
)

__all__ = ["SustainedResults", "linked_exits", "rereferral_times", "sustained_intervals", "sustained_outcomes"]

_COMPETING = {1: "re_referral", 2: "died", 3: "moved_away"}
#: The columns of a long table that describe its episode (re-referral is per episode).
_EPISODE_COLUMNS = ("episode_id", "person_id", "start_date", "end_date", "end_reason", "local_authority",
                    "provider_id", "lead_need", "service_type")


@dataclass(repr=False)
class SustainedResults(Results):
    """Results of :func:`sustained_outcomes` (times in whole months after a planned end).

    Attributes
    ----------
    by : list of str
        Group columns of the sustained-outcome curves.
    loss : int
        Stages lost that count as not sustained.
    data : DataFrame
        One row per episode × area: ``end_score``, ``lower, upper`` (months; the
        stage was lost in ``(lower, upper]``, ``upper = inf`` when not lost by the
        last follow-up), ``event`` and the episode's attributes.
    curves : DataFrame
        Group columns, ``time`` (months), ``survival`` (share sustained),
        ``ci_lower``, ``ci_upper``, ``at_risk`` on a monthly grid.
    rereferral_data : DataFrame
        One row per planned end: ``time`` (months to the next episode or to
        censoring), ``event`` (0 censored, 1 re-referral, 2 died, 3 moved away).
    rereferral : DataFrame
        Group columns, ``months``, ``cumulative_incidence`` of re-referral with CI,
        the competing events' cumulative incidences, ``at_risk``, ``n``.
    aalen_johansen : dict
        Group label → lifelines ``AalenJohansenFitter`` for re-referral.
    exclusions : DataFrame
        ``reason, n, description``.

    The re-referral analysis (``rereferral_data``, ``rereferral``, ``aalen_johansen`` and the exclusions it
    counts) is fitted on first use of any of them, from the data :func:`sustained_outcomes` was given: a
    drop-off or a share sustained read from the curves alone does not wait for it.
    """

    by: list[str]
    loss: int
    data: pd.DataFrame
    curves: pd.DataFrame
    alpha: float = 0.05
    missing: str = "complete_case"
    adjusted: pd.DataFrame | None = None
    _boot: dict = field(default_factory=dict, repr=False)
    _fits: dict = field(default_factory=dict, repr=False)
    #: ``counts -> (rereferral_data, rereferral, aalen_johansen)``, adding its exclusions to ``counts``
    _rereferral_of: Callable[[dict], tuple] | None = field(default=None, repr=False)
    _counts: dict = field(default_factory=dict, repr=False)
    _rereferred: tuple | None = field(default=None, repr=False)

    def _fitted(self) -> tuple:
        if self._rereferred is None:
            assert self._rereferral_of is not None
            rr_data, table, ajs = self._rereferral_of(self._counts)
            self._rereferred = (rr_data, table, ajs, exclusion_table(self._counts))
            self._rereferral_of = None  # the study it read is not held any longer
        return self._rereferred

    @property
    def rereferral_data(self) -> pd.DataFrame:
        return self._fitted()[0]

    @property
    def rereferral(self) -> pd.DataFrame:
        return self._fitted()[1]

    @property
    def aalen_johansen(self) -> dict[str, Any]:
        return self._fitted()[2]

    @property
    def exclusions(self) -> pd.DataFrame:
        return self._fitted()[3]

    def _eval(self, months: Sequence[float]) -> pd.DataFrame:
        rows = []
        for key, sub in group_keys(self.data, self.by):
            lab = group_label(key)
            est, cl, cu = bootstrap_band(self._fits[lab], self._boot.get(lab) or [], months, self.alpha)
            lo = sub["lower"].to_numpy()
            for m, s, a_, b_ in zip(months, est, cl, cu):
                rows.append({**key, "months": m, "survival": s, "ci_lower": a_, "ci_upper": b_,
                             "at_risk": at_risk_count(lo, m), "n": len(sub)})
        return pd.DataFrame(rows)

    def at_months(self, months: Sequence[float] = (6, 12, 24)) -> pd.DataFrame:
        """Share sustained (no loss of ``loss`` stages) at the given months after the end, with CIs.

        Columns: group columns, ``months``, ``survival``, ``ci_lower``, ``ci_upper``,
        ``at_risk`` (known sustained and still followed then), ``n``. NaN where
        the follow-up does not reach that far. With ``missing="ipw"`` or ``"mi"``,
        beside them at the scheduled follow-up months: ``complete_case`` and the
        ``ipw`` / ``mi`` share (each with ``_ci_lower``, ``_ci_upper``) from
        :func:`longitudinal.attrition.sustained_side_by_side`.
        """
        t = self._eval(list(months))
        if self.adjusted is None:
            return t
        adj = self.adjusted.rename(columns={"month": "months"})
        t = t.astype({b: str for b in self.by})
        return t.merge(adj.astype({b: str for b in self.by}), on=self.by + ["months"], how="left")

    def by_year(self, years: Sequence[int] | None = None) -> pd.DataFrame:
        """Sustained-outcome curves by whole year after the end of support: the drop-off table.

        Columns, exactly: the group columns, ``year`` (1, 2, …), ``survival``,
        ``ci_lower``, ``ci_upper``, ``at_risk``. ``years`` defaults to every
        whole year the follow-up reaches (at least 1).
        """
        if years is None:
            reach = float(np.nanmax(np.r_[self.data["lower"], self.data["upper"][np.isfinite(self.data["upper"])]]))
            years = list(range(1, max(1, int(np.floor(reach / 12 + 1e-9))) + 1))
        t = self._eval([12 * y for y in years])
        if self.adjusted is not None:  # the drop-off the social return reads: the weighted / imputed share
            t = self.at_months([12 * y for y in years])
            m = self.missing
            t["survival"], t["ci_lower"], t["ci_upper"] = t[m], t[f"{m}_ci_lower"], t[f"{m}_ci_upper"]
        t.insert(len(self.by), "year", (t["months"] // 12).astype(int))
        return t[self.by + ["year", "survival", "ci_lower", "ci_upper", "at_risk"]].reset_index(drop=True)

    def summary(self) -> Summary:
        """Exclusions, shares sustained at 6/12/24 months, re-referral incidence (text; tables in Jupyter)."""
        n_ev = int(self.data["event"].sum())
        lines = [f"Lasting impact after a planned end: loss of >= {self.loss} stage(s) from the end level",
                 f"episode-areas followed: {len(self.data):,}; lost: {n_ev:,}", "",
                 "Excluded:", self.exclusions.to_string(index=False), "",
                 "Share sustained (Turnbull NPMLE, bootstrap CI):", self.at_months().to_string(index=False), "",
                 "Re-referral (Aalen-Johansen cumulative incidence; competing: died, moved away):",
                 self.rereferral.to_string(index=False)]
        return Summary("\n".join(lines), {"Excluded": self.exclusions, "Share sustained": self.at_months(),
                                          "Re-referral": self.rereferral}, head="\n".join(lines[:2]))

    def _repr_fields(self) -> dict[str, Any]:
        return {"by": self.by, "n": len(self.data), "lost": int(self.data["event"].sum())}

    def tidy(self) -> pd.DataFrame:
        """The share sustained at 6, 12 and 24 months: group columns, ``months``, ``estimate``, ``ci_lower``,
        ``ci_upper``, ``at_risk``, ``n``."""
        return self.at_months().rename(columns={"survival": "estimate"})

    def plot(self, ax=None, *, max_groups: int = 8):
        """Sustained-outcome curves (share keeping their end level) with CI bands. Returns the matplotlib Axes."""
        ax = axes_for(ax, figsize=(8, 5), constrained_layout=False)
        groups = self.curves.groupby(self.by, observed=True, sort=True) if self.by else [("all", self.curves)]
        for i, (key, sub) in enumerate(groups):
            if i >= max_groups:
                break
            lab = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
            line, = ax.plot(sub["time"], sub["survival"], marker="o", ms=3, label=lab)
            ax.fill_between(sub["time"], sub["ci_lower"], sub["ci_upper"], alpha=0.15, color=line.get_color())
        ax.set_xlabel("Months after a planned end of support")
        ax.set_ylabel(f"Share sustained (lost < {self.loss} stage)" if self.loss == 1
                      else f"Share sustained (lost < {self.loss} stages)")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize="small")
        ax.figure.tight_layout()
        return ax

    def plot_cumulative_incidence(self, ax=None, *, at_risk: bool = True, max_groups: int = 8):
        """Aalen–Johansen cumulative incidence of re-referral with at-risk counts. Returns the matplotlib Axes."""
        from lifelines.plotting import add_at_risk_counts

        ax = axes_for(ax, figsize=(8, 5.5), constrained_layout=False)
        fitters = list(self.aalen_johansen.values())[:max_groups]
        for f in fitters:
            f.plot_cumulative_density(ax=ax)
        ax.set_xlabel("Months after a planned end of support")
        ax.set_ylabel("Cumulative incidence of re-referral")
        if at_risk and fitters:
            add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"])
        ax.figure.tight_layout()
        return ax


def linked_exits(exits: pd.DataFrame) -> pd.DataFrame:
    """Linked deaths and moves away, checked: ``person_id`` (text), ``date`` and ``reason``.

    Raises
    ------
    InputError
        If a column is missing or a reason is not ``died`` or ``moved_away`` (naming the row).
    """
    need = ["person_id", "date", "reason"]
    missing = [c for c in need if c not in exits.columns]
    if missing:
        raise InputError(f"exits: expected columns {need}, got {list(exits.columns)}", column=missing[0])
    ex = exits[need].copy()
    bad = ~ex["reason"].isin(["died", "moved_away"])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError("exits: reason must be 'died' or 'moved_away'", row=row, column="reason",
                         value=ex["reason"].iloc[row])
    ex["person_id"] = ex["person_id"].astype(str)
    ex["date"] = pd.to_datetime(ex["date"])
    return ex


@renamed_arguments(study="data")
def sustained_outcomes(
    data: Study | pd.DataFrame,
    outcome: str | Sequence[str] | None = None,
    *,
    by: str | Sequence[str] = ("outcome", "lead_need"),
    loss: int = 1,
    gained_only: bool = False,
    exits: pd.DataFrame | None = None,
    censor_date=None,
    months: Sequence[float] = (6, 12, 24),
    n_boot: int = 100,
    alpha: float = 0.05,
    seed: int = 0,
    missing: str = "complete_case",
) -> SustainedResults:
    """How long gains last after a planned end of support.

    Parameters
    ----------
    data : Study or DataFrame
        A study, or a long table of readings shaped like :meth:`Study.long` (at least
        ``episode_id, person_id, outcome, reading_date, score, start_date, end_date, end_reason``; with
        ``reading_type``, readings of type ``follow_up`` are follow-ups wherever they are dated; ``by``
        columns as named). Re-referral then sees only the episodes in the table: pass
        ``study.long(scored_only=False)`` rather than scored readings alone, so that an episode with only
        blank scores still counts as the person's next episode.
    outcome : str, list of str, "all" or None
        Outcome area(s); all when omitted.
    by : str or list of str, default ("outcome", "lead_need")
        Group columns of the sustained-outcome curves. The re-referral analysis
        is per episode, not per area: it is grouped by those of them that are
        episode attributes (``lead_need``, ``service_type``, ``local_authority``,
        ``provider_id``).
    loss : int, default 1
        Stages below the end level that count as the outcome not sustained.
    gained_only : bool, default False
        Only areas where the end level is above the start level (gains, in the strict sense).
    exits : DataFrame, optional
        Linked records of deaths and moves away: ``person_id, date, reason``
        (``died`` or ``moved_away``); they are the competing risks of
        re-referral. The study tables record them only as the end of an episode,
        so without this table nobody is known to die or move after a planned end.
    censor_date : date-like, optional
        End of observation for re-referral; default the latest date in the study.
    months : list of float
        Times of the tables (6, 12, 24 months).
    n_boot : int
        Bootstrap replicates for the sustained curves' CIs.
    seed : int
        Seed of the bootstrap and of lifelines' Aalen–Johansen jitter of tied times (and of the imputations).
    missing : {"complete_case", "ipw", "mi"}
        How missing follow-ups are handled. ``complete_case`` (the default): the curves use whoever was
        followed up. ``ipw`` / ``mi``: the share sustained at the scheduled months (6, 12, 24) is also
        estimated with response weights or 20 multiple imputations (:func:`longitudinal.follow_up_attrition`),
        shown beside the complete-case share in :meth:`~SustainedResults.at_months` and used by
        :meth:`~SustainedResults.by_year`; ``by`` must then be among ``outcome, local_authority,
        lead_need, service_type``. These need a Study (its follow-up schedule says who was due).

    Returns
    -------
    SustainedResults

    Notes
    -----
    The end level of an area is its last reading at or before the end date.
    Follow-ups are readings of type ``follow_up`` or dated after the end.
    Follow-ups dated *before* the end of support cannot be placed and are
    dropped and counted (``follow_up_before_end``); areas with no follow-up,
    no reading at the end, or an end level at stage ``loss`` or lower (nothing
    to lose) are excluded and counted. Times after the end are whole months.

    A loss is judged between two readings, each with its own measurement
    error, so some one-stage drops are noise: in the synthetic study
    (residual SD 0.45 stage) about a quarter of the areas that truly keep
    their level show a one-stage drop at any one follow-up, nearly half by
    the third. Read the curves as an upper
    bound on drop-off, or use ``loss=2`` for a stricter definition.
    """
    source = data  # the name ``data`` is the analysed intervals below, as in the results
    codes = outcome_codes(outcome)
    by = check_columns(by, GROUPABLE, "sustained_outcomes(by=...)")
    if missing not in ("complete_case", "ipw", "mi"):
        raise InputError(f"missing must be 'complete_case', 'ipw' or 'mi', not {missing!r}")
    if missing != "complete_case" and not isinstance(source, Study):
        raise InputError(f"sustained_outcomes(missing={missing!r}) needs a Study: who was due a follow-up comes "
                         "from its episodes and follow-up schedule; a plain table takes missing='complete_case'")
    data, counts = sustained_intervals(source, codes, by=by, loss=loss, gained_only=gained_only)

    rng = np.random.default_rng(seed)
    grid_top = float(np.nanmax(np.r_[data["lower"], data["upper"][np.isfinite(data["upper"])]]))
    grid = np.arange(0, grid_top + 1, 1.0)
    curves, fits, boots = [], {}, {}
    for key, sub in group_keys(data, by):
        lo, hi = sub["lower"].to_numpy(), sub["upper"].to_numpy()
        curve, bl = fit_with_bootstrap(lo, hi, n_boot=n_boot, rng=rng)
        lab = group_label(key)
        fits[lab], boots[lab] = curve, bl
        est, cl, cu = bootstrap_band(curve, bl, grid, alpha)
        curves.append(pd.DataFrame({**key, "time": grid, "survival": est, "ci_lower": cl, "ci_upper": cu,
                                    "at_risk": [at_risk_count(lo, x) for x in grid]}))
    curves_df = pd.concat(curves, ignore_index=True).dropna(subset=["survival"]).reset_index(drop=True)

    # the re-referral's inputs checked now, though it is fitted on first use
    exits = linked_exits(exits) if exits is not None else None
    censor_date = pd.Timestamp(censor_date) if censor_date is not None else None
    rereferral_of = partial(_rereferral, source, codes, [b for b in by if b != "outcome"], exits=exits,
                            censor_date=censor_date, months=months, alpha=alpha, seed=seed)
    adjusted = None
    if missing != "complete_case":
        from ..attrition import sustained_side_by_side

        adjusted = sustained_side_by_side(source, codes, by=by, method=missing, loss=loss, exits=exits,
                                          censor_date=censor_date, seed=seed, alpha=alpha)
    return SustainedResults(by=by, loss=loss, data=data, curves=curves_df, alpha=alpha, missing=missing,
                            adjusted=adjusted, _boot=boots, _fits=fits, _rereferral_of=rereferral_of,
                            _counts=counts)


def sustained_intervals(data: Study | pd.DataFrame, codes: list[str] | None = None, *,
                        by: Sequence[str] = ("outcome",), loss: int = 1,
                        gained_only: bool = False) -> tuple[pd.DataFrame, dict[str, tuple[int, str]]]:
    """The episode-areas :func:`sustained_outcomes` follows after a planned end, with the interval in which
    each lost its end level (its ``data``), and what was excluded (``{reason: (n, description)}``).

    No curve is fitted: the counts of the lasting-impact tables (areas followed, still at risk at a month:
    :func:`~longitudinal.survival.tables.at_risk_count` of ``lower``) come from here, for every area of a
    year's publication, at the cost of the data preparation only. ``codes``: outcome codes (None: all).
    """
    if not isinstance(loss, (int, np.integer)) or not 1 <= loss <= 4:
        raise ValueError(f"loss must be an integer number of stages 1..4, got {loss!r}")
    by = list(by)
    if isinstance(data, Study):
        # Only the scored readings of episodes ended as planned are followed: joining those alone to their
        # episodes and people gives the same rows as the whole long table less the others, at a fraction of
        # the cost (at national size, most of this function's time was the join of every reading).
        ep = data.episodes
        planned = ep[(ep["end_reason"] == "planned") & ep["end_date"].notna()]
        rd = data.readings
        rd = rd[rd["score"].notna().to_numpy() & rd["episode_id"].isin(planned["episode_id"]).to_numpy()]
        data = Study(data.people, planned, rd, data.spend)
    long = scored_readings(data, codes, include_follow_up=True, need=["end_reason", *by], who="sustained_outcomes")
    counts: dict[str, tuple[int, str]] = {}
    long = long[((long["end_reason"] == "planned") & long["end_date"].notna()).to_numpy()]
    if long.empty:
        raise NoDataError(f"sustained_outcomes: no readings of episodes with a planned end in outcome area(s) "
                          f"{codes or 'all'}")
    # Each episode-area is one integer, ordered as its (episode id, area) text: the rows are sorted, grouped and
    # matched on arrays (text keys cost most of the time at national size), in the order text keys give.
    ep_rank, n_ep = text_ranks(long["episode_id"])
    out_rank, n_out = text_ranks(long["outcome"])
    area = ep_rank * n_out + out_rank
    date = long["reading_date"].to_numpy("datetime64[ns]").view("int64")
    nat = date == np.iinfo(np.int64).min
    score = long["score"].to_numpy(dtype="float64")
    # by area, then date (missing last, as pandas sorts), then the lower score first: same-day readings of an
    # area collapse to the first of each run (the lower score, conservative)
    order = np.lexsort((score, np.where(nat, np.iinfo(np.int64).max, date), nat, area))
    area, date, nat, score = area[order], date[order], nat[order], score[order]
    day = np.r_[True, (area[1:] != area[:-1]) | (date[1:] != date[:-1])]
    first_of_day = np.flatnonzero(day)
    counts["same_day_duplicates"] = (int((np.diff(np.r_[first_of_day, area.size]) > 1).sum()),
                                     "episode-areas-days with several readings: lower score kept")
    order, area, date, nat, score = (x[first_of_day] for x in (order, area, date, nat, score))
    end_date = long["end_date"].to_numpy("datetime64[ns]").view("int64")[order]
    if "reading_type" in long.columns:
        is_fu_type = (long["reading_type"] == "follow_up").to_numpy()[order]
    else:  # a table without reading types: the readings after the end are the follow-ups
        is_fu_type = np.zeros(order.size, dtype=bool)
    early_fu = is_fu_type & ~nat & (date < end_date)
    counts["follow_up_before_end"] = (int(early_fu.sum()),
                                      "follow-up readings dated before the end of support (dropped)")
    is_fu = (is_fu_type | (~nat & (date > end_date)))[~early_fu]
    order, area, date, nat, score, end_date = (x[~early_fu] for x in (order, area, date, nat, score, end_date))
    # the readings during support: the first and last of each area give its start and end levels
    during = np.flatnonzero(~is_fu)
    d_area = area[during]
    firsts = np.r_[True, d_area[1:] != d_area[:-1]] if d_area.size else np.zeros(0, dtype=bool)
    lasts = np.r_[d_area[1:] != d_area[:-1], True] if d_area.size else np.zeros(0, dtype=bool)
    areas = d_area[lasts]  # sorted, one per area
    end_row, end_score = during[lasts], score[during[lasts]].astype(int)
    start_score = score[during[firsts]].astype(int)
    fu = np.flatnonzero(is_fu)
    fu_areas = np.unique(area[fu])
    counts["no_reading_at_end"] = (int((~np.isin(fu_areas, areas, assume_unique=True)).sum()),
                                   "areas with follow-ups but no reading during support")
    has_fu = np.isin(areas, fu_areas, assume_unique=True)
    counts["no_follow_up"] = (int((~has_fu).sum()), "areas with no follow-up reading after the end")
    keep = has_fu.copy()
    low = end_score <= loss
    counts["nothing_to_lose"] = (int((low & keep).sum()),
                                 f"end level at stage {loss} or lower: cannot lose {loss} stage(s)")
    keep &= ~low
    if gained_only:
        ng = keep & (end_score <= start_score)
        counts["no_gain"] = (int(ng.sum()), "end level not above the start level (gained_only=True)")
        keep &= ~ng
    if not keep.any():
        raise NoDataError(f"sustained_outcomes: no area can be followed after a planned end (excluded: {counts})")
    areas, end_row, end_score, start_score = areas[keep], end_row[keep], end_score[keep], start_score[keep]
    # the follow-ups of the areas kept, by area and date
    fu = fu[np.isin(area[fu], areas, assume_unique=False)]
    g = np.searchsorted(areas, area[fu])
    with np.errstate(invalid="ignore"):
        days = np.where(nat[fu], np.nan, (date[fu] - end_date[fu]) // 86_400_000_000_000)
    t_fu = np.round(days / MONTH_DAYS)
    lost = score[fu].astype(int) <= end_score[g] - loss
    # first loss per area and the follow-up before it (vectorised: national data has ~10^5 areas)
    firsts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    lasts = np.r_[firsts[1:] - 1, g.size - 1]
    hit = np.full(areas.size, -1)
    li = np.flatnonzero(lost)
    ug, pos = np.unique(g[li], return_index=True)
    hit[ug] = li[pos]
    ev = hit >= 0
    lo_ = np.where(ev & (hit > firsts), t_fu[np.maximum(hit - 1, 0)], 0.0)
    lo_ = np.where(ev, lo_, t_fu[lasts])
    hi_ = np.where(ev, t_fu[np.maximum(hit, 0)], np.inf)
    # a loss in the same (rounded) month as the previous reading or the end: place it in (lo, lo + 0.5]
    hi_ = np.where(ev & (hi_ <= lo_), lo_ + 0.5, hi_)
    rows = long.take(order[end_row]).reset_index(drop=True)
    attrs = [c for c in GROUPABLE if c in long.columns and c not in ("episode_id", "outcome", "start_score")]
    data = pd.DataFrame({"episode_id": rows["episode_id"].astype(str), "outcome": rows["outcome"].astype(str),
                         **{c: rows[c] for c in ["person_id", "end_date", *attrs]},
                         "end_score": end_score, "start_score": start_score,
                         "lower": lo_, "upper": hi_, "event": ev.astype(int)})
    zero = (data["event"] == 0) & (data["lower"] <= 0)
    counts["follow_up_at_end"] = (int(zero.sum()), "only follow-ups in the month of the end: no time at risk")
    data = data[~zero].reset_index(drop=True)
    return data, counts


def _episodes(data: Study | pd.DataFrame, codes: list[str] | None):
    """The episodes, the ids of those with a reading in the areas ``codes`` (None: every area) and the
    latest reading date: from a study's tables, or from the rows of a long table."""
    if isinstance(data, Study):
        r = data.readings
        ids = None if codes is None else r.loc[r["outcome"].isin(codes), "episode_id"]
        return data.episodes.copy(), ids, r["reading_date"].max()
    ep = data[[c for c in _EPISODE_COLUMNS if c in data.columns]].drop_duplicates("episode_id")
    ep = ep.assign(start_date=pd.to_datetime(ep["start_date"]), end_date=pd.to_datetime(ep["end_date"]))
    ids = None if codes is None else data.loc[data["outcome"].astype(str).isin(codes), "episode_id"]
    return ep.reset_index(drop=True), ids, pd.to_datetime(data["reading_date"]).max()


def rereferral_times(data: Study | pd.DataFrame, codes: list[str] | None = None, by: Sequence[str] = (), *,
                     exits: pd.DataFrame | None = None, censor_date=None,
                     counts: dict | None = None) -> pd.DataFrame:
    """One row per planned end followed for re-referral (what :func:`sustained_outcomes`' re-referral
    analysis fits): ``episode_id, person_id, end_date``, the ``by`` columns that are episode attributes,
    ``time`` (months to the next episode, a competing event or censoring) and ``event`` (0 censored,
    1 re-referral, 2 died, 3 moved away). ``counts`` (a dict) receives the exclusions."""
    counts = {} if counts is None else counts
    ep, ids, last_reading = _episodes(data, codes)
    ep["person_id"] = ep["person_id"].astype(str)
    ep = ep.sort_values(["person_id", "start_date", "episode_id"], kind="stable").reset_index(drop=True)
    nxt_start = ep.groupby("person_id", sort=False)["start_date"].shift(-1)
    if censor_date is None:
        dates = [last_reading, ep["start_date"].max(), ep["end_date"].max()]
        censor_date = max(d for d in dates if pd.notna(d))
    censor_date = pd.Timestamp(censor_date)
    pl = ep[(ep["end_reason"] == "planned") & ep["end_date"].notna()].copy()
    pl["next_start"] = nxt_start.loc[pl.index]
    if ids is not None:  # episodes with a reading in the chosen areas only
        pl = pl[pl["episode_id"].astype(str).isin(ids.astype(str).unique())]
    overlap = pl["next_start"].notna() & (pl["next_start"] <= pl["end_date"])
    counts["overlapping_next_episode"] = (int(overlap.sum()),
                                          "planned ends whose next episode started before the end (no gap)")
    pl = pl[~overlap]
    after = pl["end_date"] >= censor_date
    counts["ended_at_censoring"] = (int(after.sum()), "planned ends on or after the censoring date")
    pl = pl[~after]
    ev_date = pl["next_start"].where(pl["next_start"] <= censor_date)
    event = np.where(ev_date.notna(), 1, 0)
    when = ev_date.fillna(censor_date)
    if exits is not None:
        ex = linked_exits(exits).sort_values("date").drop_duplicates("person_id")
        m = pl[["person_id", "end_date"]].merge(ex, on="person_id", how="left")
        m.index = pl.index
        comp = m["date"].notna() & (m["date"] > pl["end_date"]) & (m["date"] < when)
        event = np.where(comp, np.where(m["reason"] == "died", 2, 3), event)
        when = when.where(~comp, m["date"])
    t = ((when - pl["end_date"]).dt.days / MONTH_DAYS).to_numpy()
    by = [b for b in by if b in pl.columns]  # re-referral is per episode: only episode attributes group it
    rr = pl[["episode_id", "person_id", "end_date"] + by].reset_index(drop=True)
    rr["time"], rr["event"] = np.round(t, 6), event.astype(int)
    return rr


def _rereferral(data, codes, by, counts, *, exits, censor_date, months, alpha, seed):
    """Time from a planned end to the person's next episode; death / moving away compete."""
    AalenJohansenFitter = fast_aalen_johansen_class()

    rr = rereferral_times(data, codes, by, exits=exits, censor_date=censor_date, counts=counts)
    by = [b for b in by if b in rr.columns]
    rows, ajs = [], {}
    for key, sub in group_keys(rr, by):
        lab = group_label(key)
        row0 = {**key, "n": len(sub)}
        for m in months:
            rows.append({**row0, "months": m, "at_risk": int((sub["time"] >= m).sum())})
        fitted = {}
        for code, name in _COMPETING.items():
            if not (sub["event"] == code).any():
                continue
            aj = AalenJohansenFitter(seed=seed, alpha=alpha)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tie-jitter warning: the seed makes it reproducible
                aj.fit(sub["time"], sub["event"], event_of_interest=code, label=lab if code == 1 else name)
            fitted[code] = aj
        if 1 in fitted:
            ajs[lab] = fitted[1]
        for r in rows[-len(months):]:
            m = r["months"]
            r["cumulative_incidence"], r["ci_lower"], r["ci_upper"] = 0.0, np.nan, np.nan
            r["died"] = r["moved_away"] = 0.0  # none seen in this group
            for code, aj in fitted.items():
                cd = aj.cumulative_density_.iloc[:, 0]
                v = float(cd[cd.index <= m].iloc[-1]) if (cd.index <= m).any() else 0.0
                r["cumulative_incidence" if code == 1 else _COMPETING[code]] = v
                if code == 1:
                    ci = aj.confidence_interval_
                    ci = ci[ci.index <= m].dropna()
                    if len(ci):
                        # lifelines labels its two CI columns the wrong way round: take min / max
                        vals = ci.iloc[-1].to_numpy(float)
                        r["ci_lower"], r["ci_upper"] = float(vals.min()), float(vals.max())
    table = pd.DataFrame(rows)
    for c in ["cumulative_incidence", "ci_lower", "ci_upper", "died", "moved_away"]:
        if c not in table.columns:
            table[c] = 0.0 if c in ("died", "moved_away") else np.nan
    order = by + ["months", "n", "at_risk", "cumulative_incidence", "ci_lower", "ci_upper", "died", "moved_away"]
    return rr, table[order], ajs
