"""Distance travelled on the Journey of Change: tidy tables and their figures.

For each outcome area, each episode's first reading is compared with its latest
reading (``compare="latest"``) or, for closed episodes, with its end reading
(``compare="end"``). A blank score means "no need in this area": it is not a
reading, so it never enters a mean, a share or a transition (see
:meth:`longitudinal.Study.long`). Follow-up readings taken after support ended
are left out: distance travelled is measured during support.

Functions
---------
distance_travelled
    n, mean change with a 95% t interval, % improved / same / worse (Wilson
    intervals for % improved), % at stage 4+ and 5 at first and latest, and for
    long-term services the % maintained (latest not below first).
stage_distribution
    Stage 1–5 counts and shares at the first and at the latest reading.
transition_matrix
    Counts and row proportions of moves between consecutive readings.
reading_completeness
    Review occasions expected vs present, and areas of need recorded.
plot_profile, plot_transitions
    Start-vs-latest profile across the 11 areas and transition heatmaps.

Every table can be grouped by ``local_authority``, ``lead_need``,
``service_type``, ``provider_id`` or ``financial_year`` (and ``age_band``,
``sex``, ``end_reason``). For change tables ``financial_year`` is the year of
the latest (compared) reading, i.e. the year the distance was reached; for
completeness it is the year the episode started.

Examples
--------
>>> import longitudinal as lg
>>> import warnings
>>> study = lg.simulate(people=400, seed=2)
>>> with warnings.catch_warnings():  # single-reading episodes are counted, not silently dropped
...     warnings.simplefilter("ignore", lg.SingleReadingWarning)
...     d = lg.distance_travelled(study, outcome="managing_money")
>>> d[["outcome", "n"]].shape
(1, 2)
>>> bool(d["ci_lower"].iloc[0] <= d["mean_change"].iloc[0] <= d["ci_upper"].iloc[0])
True
>>> t = lg.transition_matrix(study, outcome="feeling_safe")
>>> t.groupby("from_stage")["proportion"].sum().round(6).isin([0.0, 1.0]).all()
np.True_
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from . import domain
from ._numeric import sorted_unique
from .deprecation import level_to_alpha, renamed_arguments
from .errors import LongitudinalWarning, NoDataError
from .study import Study, positions

__all__ = [
    "GROUP_COLUMNS",
    "episode_pairs",
    "SingleReadingWarning",
    "distance_travelled",
    "stage_distribution",
    "transition_matrix",
    "reading_completeness",
    "plot_profile",
    "plot_transitions",
]

#: Columns a table may be grouped by when it is computed from a :class:`Study`.
GROUP_COLUMNS: tuple[str, ...] = (
    "local_authority", "lead_need", "service_type", "provider_id", "financial_year",
    "age_band", "sex", "end_reason",
)
STAGES = (1, 2, 3, 4, 5)
_N_OUT = len(domain.OUTCOME_CODES)


class SingleReadingWarning(LongitudinalWarning):
    """Episodes with a single reading in an area were left out of a change measure."""


# ------------------------------------------------------------------ input
def _as_list(by) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _outcome_codes(outcome) -> list[str] | None:
    if outcome is None:
        return None
    codes = [outcome] if isinstance(outcome, str) else list(outcome)
    return [domain.outcome_code(c) for c in codes]


def _check_scores(score: pd.Series, *, integer: bool = True, where: str = "score",
                  score_range: tuple[float, float] | None = (1, 5)) -> pd.Series:
    """Scores as float64 (NaN = blank) after checking they are numbers on the 1–5 scale
    (``score_range=None``: any numbers, for a caller's own ordered scale)."""
    if isinstance(score.dtype, pd.CategoricalDtype):
        score = score.astype(object)
    num = pd.to_numeric(score, errors="coerce")
    cand = (num.isna() & score.notna()).to_numpy(dtype=bool)  # only these need the (slow) look at their text
    bad = cand.copy()
    if cand.any():
        bad[cand] = (score[cand].astype(str).str.strip() != "").to_numpy(dtype=bool)
    if bad.any():
        ex = ", ".join(f"row {i}: {score[i]!r}" for i in score.index[bad][:5])
        raise ValueError(f"{where}: {int(bad.sum())} non-numeric score(s) ({ex}); expected a Journey of "
                         "Change stage 1-5 or blank (no need in this area)")
    num = num.astype("float64")
    vals = num.to_numpy()
    if score_range is None:
        return num
    ok = np.isnan(vals) | ((vals >= 1) & (vals <= 5) & ((vals == np.round(vals)) | (not integer)))
    if not ok.all():
        idx = np.flatnonzero(~ok)
        ex = ", ".join(f"row {num.index[i]}: {vals[i]:g}" for i in idx[:5])
        raise ValueError(f"{where}: {idx.size} score(s) outside the Journey of Change scale ({ex}); expected "
                         + ("a whole stage 1-5" if integer else "a value between 1 and 5") + " or blank")
    return num


def readings_table(data, outcome=None, *, by: Sequence[str] = (), need: Sequence[str] = (),
                scored_only: bool = True, include_follow_up: bool = False, integer: bool = True,
                score_range: tuple[float, float] | None = (1, 5),
                score: str = "score", group: str = "episode_id", order: str | None = None) -> pd.DataFrame:
    """The readings to analyse, checked: a :class:`Study` through ``Study.long`` or a caller's long table.

    Shared by the table functions here and the models (ordinal, trajectory groups).

    Returns a frame sorted by group, outcome (when present) and date/time with a float ``score``
    column (the caller's ``score`` column renamed) and NaN for blanks.
    """
    codes = _outcome_codes(outcome)
    by = list(by)
    if isinstance(data, Study):
        unknown = [c for c in by if c not in GROUP_COLUMNS]
        if unknown:
            raise ValueError(f"cannot group by {', '.join(map(repr, unknown))}; expected any of "
                             + ", ".join(GROUP_COLUMNS))
        long = data.long(codes, scored_only=scored_only, include_follow_up=include_follow_up)
        where = "study readings"
    elif isinstance(data, pd.DataFrame):
        where = "data"
        long = data
        if codes is not None:
            if "outcome" not in long.columns:
                raise KeyError(f"outcome={outcome!r} given but the data has no 'outcome' column; "
                               f"columns are: {', '.join(map(str, long.columns))}")
            long = long[long["outcome"].astype(str).isin(codes)]
        if not include_follow_up and "reading_type" in long.columns:
            long = long[long["reading_type"].astype(str) != "follow_up"]
    else:
        raise TypeError(f"expected a Study or a pandas DataFrame of readings, got {type(data).__name__}")
    required = [group, score, *need, *by]
    missing = [c for c in dict.fromkeys(required) if c not in long.columns]
    if missing:
        raise KeyError(f"{where} lack column(s) {', '.join(map(repr, missing))}; columns present: "
                       + ", ".join(map(str, long.columns)))
    if isinstance(data, pd.DataFrame):
        s = _check_scores(long[score], integer=integer, where=f"{where} column {score!r}", score_range=score_range)
        long = long.assign(**{score: s})
        if score != "score":
            long = long.rename(columns={score: "score"})
        if scored_only:
            long = long[long["score"].notna()]
        if order is None:
            order = "reading_date" if "reading_date" in long.columns else ("time" if "time" in long.columns else None)
        keys = [group] + (["outcome"] if "outcome" in long.columns else []) + ([order] if order else [])
        long = long.sort_values(keys, kind="stable").reset_index(drop=True)
    else:
        long = long.assign(score=long["score"].astype("float64"))
    if codes is not None and len(codes) == 1 and long["score"].notna().sum() == 0:
        raise NoDataError(f"no scored readings for outcome {codes[0]!r} ({domain.OUTCOMES[codes[0]].name})"
                         + (" in this selection" if isinstance(data, pd.DataFrame) else ""))
    return long


def integer_codes(s: pd.Series) -> np.ndarray:
    """0-based integer codes of a column (its categorical codes, or factorised in order of appearance)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int64)
    return pd.factorize(s, sort=False)[0].astype(np.int64)


def _runs(long: pd.DataFrame, group: str = "episode_id") -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) positions of each (episode, outcome) run of a sorted long table."""
    key = integer_codes(long[group])
    if "outcome" in long.columns:
        oc = integer_codes(long["outcome"])
        key = key * (int(oc.max(initial=0)) + 1) + oc
    if key.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero(key[1:] != key[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [key.size]])
    return starts, ends


def _take(long: pd.DataFrame, cols: Iterable[str], pos: np.ndarray) -> dict[str, pd.Series]:
    return {c: long[c].iloc[pos].reset_index(drop=True) for c in cols}


def _is_value(s: pd.Series, value: str) -> np.ndarray:
    """``s == value`` without turning a categorical of millions of rows into Python objects."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if value not in cats:
            return np.zeros(len(s), bool)
        return s.cat.codes.to_numpy() == cats.get_loc(value)
    return (s.astype(str) == value).to_numpy()


def _pairs(long: pd.DataFrame, by: list[str], compare: str) -> pd.DataFrame:
    """One row per (episode, outcome): first and compared score, number of readings, episode attributes.

    For ``compare="end"`` only closed episodes are kept, and ``has_end`` says whether the
    latest reading is the end reading (and there are two or more readings).
    """
    if compare not in ("latest", "end"):
        raise ValueError(f"compare must be 'latest' or 'end', not {compare!r}")
    if compare == "end":
        miss = [c for c in ("end_date", "reading_type") if c not in long.columns]
        if miss:
            raise KeyError(f"compare='end' needs column(s) {', '.join(map(repr, miss))} (closed episodes and "
                           "their end readings)")
    starts, ends = _runs(long)
    last = ends - 1
    score = long["score"].to_numpy()
    ep_cols = [c for c in by if c != "financial_year"]
    extra = [c for c in ("outcome", "service_type") if c in long.columns and c not in ep_cols]
    out = pd.DataFrame(_take(long, ep_cols + extra, starts))
    if "financial_year" in by:
        out["financial_year"] = long["financial_year"].to_numpy()[last]
    out["first"] = score[starts]
    out["latest"] = score[last]
    out["n_readings"] = ends - starts
    if compare == "end":
        closed = long["end_date"].notna().to_numpy()[starts]
        is_end = _is_value(long["reading_type"], "end")[last]
        out["has_end"] = is_end & (out["n_readings"].to_numpy() >= 2)
        out = out[closed].reset_index(drop=True)
    return out


def _memo_key(outcome) -> tuple[str, ...] | None:
    codes = _outcome_codes(outcome)
    return None if codes is None else tuple(sorted(set(codes)))


def _kept_pairs(data, long: pd.DataFrame, outcome, by: list[str], compare: str) -> pd.DataFrame:
    """``_pairs(long, by, compare)``; for a study, found once with every group column and kept with it
    (:meth:`Study.memo`), so that later tables, by any grouping, only group."""
    if not isinstance(data, Study):
        return _pairs(long, by, compare)
    full = data.memo(("episode_pairs", _memo_key(outcome), compare), lambda: _pairs(long, list(GROUP_COLUMNS), compare))
    return full[[c for c in full.columns if c not in GROUP_COLUMNS or c in by or c == "service_type"]]


def _moves(long: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per move between consecutive readings of a run: the ``keys`` and ``from_stage, to_stage``."""
    starts, ends = _runs(long)
    same_run = np.ones(len(long), bool)
    same_run[ends - 1] = False  # the last reading of a run has no next one
    i = np.flatnonzero(same_run)
    score = long["score"].to_numpy()
    t = pd.DataFrame({c: long[c].iloc[i + 1 if c == "financial_year" else i].reset_index(drop=True)
                      for c in keys})
    t["from_stage"] = score[i].astype("int64")
    t["to_stage"] = score[i + 1].astype("int64")
    return t


def wilson_interval(k, n, level: float = 0.95):
    """Wilson score interval of a proportion ``k / n``; scalars or arrays (NaN where ``n == 0``).

    >>> wilson_interval(10, 100)  # doctest: +ELLIPSIS
    (0.0552..., 0.1743...)
    """
    z = stats.norm.ppf(0.5 + level / 2)
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    if lo.ndim == 0:
        return (float(lo), float(hi))
    return lo, hi


def episode_pairs(long: pd.DataFrame, by: Sequence[str] = (), compare: str = "latest") -> pd.DataFrame:
    """First and compared score of each episode in each area, from a :meth:`Study.long` table.

    The building block of :func:`distance_travelled`, shared with the indicators
    (:mod:`longitudinal.indicators`). ``long`` must hold scored readings sorted by
    episode, outcome and date, as ``Study.long`` returns them.

    Returns
    -------
    pandas.DataFrame
        One row per (episode, outcome) with the ``by`` columns, ``first``,
        ``latest`` (the end reading's score for ``compare="end"``) and ``n_readings``.
    """
    return _pairs(long.assign(score=long["score"].astype("float64")), list(by), compare)


def _group_keys(by: list[str], has_outcome: bool) -> list[str]:
    return (["outcome"] if has_outcome else []) + by


# ------------------------------------------------------------- distance
def distance_travelled(data: Study | pd.DataFrame, by: str | Sequence[str] | None = None,
                       outcome: str | Sequence[str] | None = None,
                       compare: Literal["latest", "end"] = "latest", alpha: float = 0.05,
                       level: float | None = None) -> pd.DataFrame:
    """Distance travelled on the Journey of Change, per outcome area (and group).

    Parameters
    ----------
    data : Study or pandas.DataFrame
        A study, or a long table of readings like :meth:`Study.long` (at least
        ``episode_id, outcome, score`` and ``reading_date`` or ``time``).
    by : str or list of str, optional
        Grouping columns: any of :data:`GROUP_COLUMNS` (for a study) or columns of
        the table. ``financial_year`` is that of the compared (latest/end) reading.
    outcome : str or list of str, optional
        Outcome code(s) or names; all 11 areas by default.
    compare : {"latest", "end"}
        ``"latest"``: first vs latest reading of every episode (open or closed);
        ``"end"``: first vs end reading of closed episodes that have one.
    alpha : float, default 0.05
        1 - coverage of the intervals (``level=`` is deprecated).

    Returns
    -------
    pandas.DataFrame
        One row per outcome area (× group) with ``outcome, outcome_name``, the
        ``by`` columns, ``n_episodes`` (episodes with a score in the area),
        ``n_single_reading`` (left out: one reading only), ``n_no_end_reading``
        (``compare="end"``: closed episodes left out without an end reading),
        ``n`` (episodes compared), ``mean_first, mean_latest, mean_change,
        sd_change, ci_lower, ci_upper`` (t interval of the mean change),
        ``pct_improved`` with ``pct_improved_ci_lower/upper`` (Wilson),
        ``pct_same, pct_worse``, ``pct_stage4plus_first/latest``,
        ``pct_stage5_first/latest``, ``n_long_term`` and ``pct_maintained``
        (long-term episodes whose latest score is not below their first).
        Percentages are 0–100.

    Warns
    -----
    SingleReadingWarning
        When episodes with a single reading in an area were left out (counted
        in ``n_single_reading``).

    Examples
    --------
    >>> import longitudinal as lg, warnings
    >>> study = lg.simulate(people=300, seed=4)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", lg.SingleReadingWarning)
    ...     d = lg.distance_travelled(study, by="service_type")
    >>> sorted(d["service_type"].unique())
    ['long_term', 'short_term']
    >>> bool(((d["pct_improved"] + d["pct_same"] + d["pct_worse"] - 100).abs() < 1e-9).all())
    True
    """
    level = 1 - level_to_alpha("distance_travelled", level, alpha)
    by = _as_list(by)
    need = ["outcome"] + (["reading_type", "end_date"] if compare == "end" else [])
    long = readings_table(data, outcome, by=by, need=need, scored_only=True)
    pairs = _kept_pairs(data, long, outcome, by, compare)
    keys = _group_keys(by, True)
    n_read = pairs["n_readings"].to_numpy()
    first = pairs["first"].to_numpy()
    latest = pairs["latest"].to_numpy()
    ok = n_read >= 2
    if compare == "end":
        ok = pairs["has_end"].to_numpy()
    d = latest - first
    lt = _is_value(pairs["service_type"], "long_term") if "service_type" in pairs else np.zeros(len(pairs), bool)
    w = ok.astype(float)
    agg = pd.DataFrame({k: pairs[k] for k in keys})
    cols = {
        "n_episodes": np.ones(len(pairs)),
        "n_single_reading": (n_read == 1).astype(float),
        "n": w,
        "s_first": np.where(ok, first, 0.0), "s_latest": np.where(ok, latest, 0.0),
        "s_d": np.where(ok, d, 0.0), "s_d2": np.where(ok, d * d, 0.0),
        "improved": w * (d > 0), "same": w * (d == 0), "worse": w * (d < 0),
        "s4_first": w * (first >= 4), "s4_latest": w * (latest >= 4),
        "s5_first": w * (first >= 5), "s5_latest": w * (latest >= 5),
        "n_long_term": w * lt, "maintained": w * lt * (d >= 0),
    }
    if compare == "end":
        cols["n_no_end_reading"] = ((n_read >= 2) & ~ok).astype(float)
    for name, v in cols.items():
        agg[name] = v
    g = agg.groupby(keys, observed=True, sort=True).sum().reset_index()
    n = g["n"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = g["s_d"].to_numpy() / n
        var = (g["s_d2"].to_numpy() - n * mean**2) / (n - 1)
        sd = np.sqrt(np.clip(var, 0, None))
        tq = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
        half = np.where(n >= 2, tq * sd / np.sqrt(n), np.nan)
        pct = lambda col, base=n: 100 * g[col].to_numpy() / base  # noqa: E731
        lo, hi = wilson_interval(g["improved"].to_numpy(), n, level)
        res = g[keys].copy()
        res["outcome"] = res["outcome"].astype(str)
        res.insert(1, "outcome_name", res["outcome"].map(lambda c: domain.OUTCOMES[c].name))
        for c in ("n_episodes", "n_single_reading") + (("n_no_end_reading",) if compare == "end" else ()):
            res[c] = g[c].astype("int64")
        res["n"] = g["n"].astype("int64")
        res["mean_first"] = g["s_first"].to_numpy() / n
        res["mean_latest"] = g["s_latest"].to_numpy() / n
        res["mean_change"] = mean
        res["sd_change"] = np.where(n >= 2, sd, np.nan)
        res["ci_lower"] = mean - half
        res["ci_upper"] = mean + half
        res["pct_improved"] = pct("improved")
        res["pct_improved_ci_lower"] = 100 * lo
        res["pct_improved_ci_upper"] = 100 * hi
        res["pct_same"] = pct("same")
        res["pct_worse"] = pct("worse")
        for c, src in (("pct_stage4plus_first", "s4_first"), ("pct_stage4plus_latest", "s4_latest"),
                       ("pct_stage5_first", "s5_first"), ("pct_stage5_latest", "s5_latest")):
            res[c] = pct(src)
        res["n_long_term"] = g["n_long_term"].astype("int64")
        res["pct_maintained"] = pct("maintained", g["n_long_term"].to_numpy())
    asked = _outcome_codes(outcome) or list(domain.OUTCOME_CODES)
    absent = [c for c in asked if c not in set(res["outcome"])]
    if absent and isinstance(data, Study) or (absent and outcome is not None):
        warnings.warn(f"no scored readings (so no row) for outcome area(s): {', '.join(absent)}", UserWarning,
                      stacklevel=2)
    n_single = int(res["n_single_reading"].sum())
    if n_single:
        warnings.warn(f"{n_single:,} episode-area(s) with a single reading were left out of the change "
                      "measures (see column n_single_reading)", SingleReadingWarning, stacklevel=2)
    order = {c: i for i, c in enumerate(domain.OUTCOME_CODES)}
    res = res.sort_values(["outcome"] + by, key=lambda s: s.map(order) if s.name == "outcome" else s,
                          kind="stable")
    return res.reset_index(drop=True)


def stage_distribution(data: Study | pd.DataFrame, by: str | Sequence[str] | None = None,
                       outcome: str | Sequence[str] | None = None,
                       compare: Literal["latest", "end"] = "latest") -> pd.DataFrame:
    """Stage 1–5 distribution at the first and at the latest (or end) reading.

    The same episodes as :func:`distance_travelled` (two or more readings in the
    area; for ``compare="end"`` closed episodes with an end reading), so the two
    distributions describe one cohort.

    Returns
    -------
    pandas.DataFrame
        ``outcome``, the ``by`` columns, ``when`` (``"first"`` or ``compare``),
        ``stage`` (1–5), ``count`` and ``pct`` (of the episodes in that row's
        area and group; 0–100). Every stage appears, with zero counts.

    Examples
    --------
    >>> import longitudinal as lg
    >>> s = lg.stage_distribution(lg.simulate(people=300, seed=4), outcome="feeling_safe")
    >>> s.groupby("when")["pct"].sum().round(9).tolist()
    [100.0, 100.0]
    """
    by = _as_list(by)
    need = ["outcome"] + (["reading_type", "end_date"] if compare == "end" else [])
    long = readings_table(data, outcome, by=by, need=need)
    pairs = _kept_pairs(data, long, outcome, by, compare)
    ok = pairs["has_end"].to_numpy() if compare == "end" else pairs["n_readings"].to_numpy() >= 2
    pairs = pairs[ok]
    keys = _group_keys(by, True)
    parts = []
    for when, col in (("first", "first"), (compare, "latest")):
        # group on the (categorical) keys as they are: fast at millions of episodes
        c = pairs.groupby(keys + [pairs[col].astype("int64").rename("stage")], observed=True, sort=True).size()
        parts.append(c.rename(when))
    both = pd.concat(parts, axis=1).fillna(0)
    both.columns.name = "when"
    counts = both.stack(future_stack=True).rename("count").reset_index()
    counts = counts.set_index(keys + ["when", "stage"])["count"].unstack("stage", fill_value=0)
    counts = counts.reindex(columns=list(STAGES), fill_value=0)
    pct = 100 * counts.div(counts.sum(axis=1), axis=0)
    out = counts.stack(future_stack=True).rename("count").to_frame().join(
        pct.stack(future_stack=True).rename("pct")).reset_index()
    out["outcome"] = out["outcome"].astype(str)
    for c in by:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(out[c].cat.categories.dtype)
    out["when"] = pd.Categorical(out["when"], ["first", compare], ordered=True)
    order = {c: i for i, c in enumerate(domain.OUTCOME_CODES)}
    out = out.sort_values(["outcome", *by, "when", "stage"],
                          key=lambda s: s.map(order) if s.name == "outcome" else s, kind="stable")
    out["when"] = out["when"].astype(str)
    out["count"] = out["count"].astype("int64")
    return out.reset_index(drop=True)


def transition_matrix(data: Study | pd.DataFrame, outcome: str | Sequence[str] | None = None,
                      by: str | Sequence[str] | None = None, include_follow_up: bool = False) -> pd.DataFrame:
    """Moves between consecutive readings of the same episode and area.

    Parameters
    ----------
    data : Study or pandas.DataFrame
    outcome : str or list of str, optional
        All areas by default (each area has its own matrix).
    by : str or list of str, optional
        Grouping columns; ``financial_year`` is that of the later reading.
    include_follow_up : bool, default False
        Also count moves into follow-up readings taken after support ended.

    Returns
    -------
    pandas.DataFrame
        ``outcome``, the ``by`` columns, ``from_stage``, ``to_stage`` (1–5 each,
        the full 5 × 5 grid), ``count`` and ``proportion`` (of the moves out of
        ``from_stage``; NaN for a stage nobody was at).

    Examples
    --------
    >>> import longitudinal as lg
    >>> t = lg.transition_matrix(lg.simulate(people=300, seed=4), outcome="managing_money")
    >>> t.pivot(index="from_stage", columns="to_stage", values="count").shape
    (5, 5)
    """
    by = _as_list(by)
    long = readings_table(data, outcome, by=by, need=["outcome"], include_follow_up=include_follow_up)
    keys = _group_keys(by, True)
    if isinstance(data, Study):  # every grouping's moves, found once and kept with the study
        moves = data.memo(("moves", _memo_key(outcome), include_follow_up),
                          lambda: _moves(long, _group_keys(list(GROUP_COLUMNS), True)))
        t = moves[keys + ["from_stage", "to_stage"]]
    else:
        t = _moves(long, keys)
    counts = t.groupby(keys + ["from_stage", "to_stage"], sort=True, observed=True).size()
    counts = counts.reset_index()
    counts["outcome"] = counts["outcome"].astype(str)
    for c in by:  # plain values: categories absent from the selection must not appear
        if isinstance(counts[c].dtype, pd.CategoricalDtype):
            counts[c] = counts[c].astype(counts[c].cat.categories.dtype)
    counts = counts.set_index(keys + ["from_stage", "to_stage"])[0]
    wide = counts.unstack("to_stage", fill_value=0).reindex(columns=list(STAGES), fill_value=0)
    groups = wide.index.droplevel("from_stage").unique()
    full = pd.MultiIndex.from_tuples(
        [(*(gk if isinstance(gk, tuple) else (gk,)), f) for gk in groups for f in STAGES],
        names=keys + ["from_stage"])
    wide = wide.reindex(full, fill_value=0)
    wide.columns.name = "to_stage"
    with np.errstate(invalid="ignore", divide="ignore"):
        prop = wide.div(wide.sum(axis=1).replace(0, np.nan), axis=0)
    out = wide.stack(future_stack=True).rename("count").to_frame().join(
        prop.stack(future_stack=True).rename("proportion"))
    out = out.reset_index()
    order = {c: i for i, c in enumerate(domain.OUTCOME_CODES)}
    out = out.sort_values(["outcome", *by, "from_stage", "to_stage"],
                          key=lambda s: s.map(order) if s.name == "outcome" else s, kind="stable")
    out["count"] = out["count"].astype("int64")
    return out.reset_index(drop=True)


@renamed_arguments(study="data")
def reading_completeness(data: Study, by: str | Sequence[str] | None = None, *,
                         review_interval_days: int = 183, as_of=None) -> pd.DataFrame:
    """Readings expected vs present, and areas of need recorded, per group of episodes.

    An episode is expected to have a start reading and a review at least every
    ``review_interval_days`` while it is observed (until it ends or ``as_of``,
    by default the study's last reading date). Its areas of need are the areas
    with a score at any reading; at each reading occasion every area of need is
    expected to be scored. Follow-up readings are not counted.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns (``financial_year``: the year the episode started),
        ``n_episodes``, ``n_no_readings`` (episodes without any reading),
        ``n_single_occasion``, ``occasions_expected``, ``occasions_present``,
        ``pct_occasions`` (present, capped at expected per episode, over
        expected), ``mean_areas_of_need``, ``areas_expected`` (areas of need ×
        occasions), ``areas_recorded``, ``pct_areas_recorded``, ``n_closed`` and
        ``pct_closed_with_end_reading``.

    Examples
    --------
    >>> import longitudinal as lg
    >>> c = lg.reading_completeness(lg.simulate(people=300, seed=4), by="service_type")
    >>> bool(c["pct_areas_recorded"].between(0, 100).all())
    True
    """
    study = data
    if not isinstance(study, Study):
        raise TypeError(f"reading_completeness needs a Study (its episodes and blank readings), "
                        f"got {type(study).__name__}")
    by = _as_list(by)
    unknown = [c for c in by if c not in GROUP_COLUMNS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(map(repr, unknown))}; expected any of "
                         + ", ".join(GROUP_COLUMNS))
    if review_interval_days <= 0:
        raise ValueError(f"review_interval_days must be positive, got {review_interval_days}")
    ep = study.episodes
    # per-episode counts: computed once per study (a table by another grouping costs only the grouping)
    counts = study.memo("reading_completeness", lambda: _reading_counts(study))
    occasions, areas, recorded, has_end = (counts[k] for k in ("occasions", "areas", "recorded", "has_end"))
    as_of = pd.Timestamp(as_of) if as_of is not None else (
        counts["last_date"] if counts["last_date"] is not None else pd.Timestamp.today().normalize())
    n_ep = len(ep)
    start = ep["start_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    end = ep["end_date"].to_numpy().astype("datetime64[D]")
    as_of_d = np.datetime64(as_of.date(), "D").astype(np.int64)
    stop = np.where(np.isnat(end), as_of_d, np.minimum(end.astype(np.int64), as_of_d))
    observed = np.clip(stop - start, 0, None)
    expected = 1 + observed // review_interval_days
    closed = ~np.isnat(end)
    t = pd.DataFrame({c: ep[c].to_numpy() for c in by if c != "financial_year"}, index=pd.RangeIndex(n_ep))
    if "financial_year" in by:
        t["financial_year"] = domain.financial_year(ep["start_date"]).to_numpy()
    if "age_band" in by or "sex" in by:
        people = study.people.set_index("person_id")
        if "sex" in by:
            t["sex"] = people["sex"].reindex(ep["person_id"]).to_numpy()
        if "age_band" in by:
            age = ep["start_date"].dt.year.to_numpy() - people["birth_year"].reindex(ep["person_id"]).to_numpy()
            t["age_band"] = domain.age_band(age).to_numpy()
    t = t.assign(
        n_episodes=1, n_no_readings=(occasions == 0).astype(int), n_single_occasion=(occasions == 1).astype(int),
        occasions_expected=expected, occasions_present=occasions,
        capped=np.minimum(occasions, expected), areas_of_need=areas, areas_expected=areas * occasions,
        areas_recorded=recorded, n_closed=closed.astype(int), closed_end=(closed & has_end).astype(int),
    )
    g = t.groupby(by, observed=True, sort=True).sum().reset_index() if by else t.sum().to_frame().T
    with np.errstate(invalid="ignore", divide="ignore"):
        g["pct_occasions"] = 100 * g["capped"] / g["occasions_expected"]
        g["mean_areas_of_need"] = g["areas_of_need"] / g["n_episodes"]
        g["pct_areas_recorded"] = 100 * g["areas_recorded"] / g["areas_expected"]
        g["pct_closed_with_end_reading"] = 100 * g["closed_end"] / g["n_closed"]
    cols = by + ["n_episodes", "n_no_readings", "n_single_occasion", "occasions_expected", "occasions_present",
                 "pct_occasions", "mean_areas_of_need", "areas_expected", "areas_recorded", "pct_areas_recorded",
                 "n_closed", "pct_closed_with_end_reading"]
    g = g[cols]
    for c in ("n_episodes", "n_no_readings", "n_single_occasion", "occasions_expected", "occasions_present",
              "areas_expected", "areas_recorded", "n_closed"):
        g[c] = g[c].astype("int64")
    for c in ("pct_occasions", "mean_areas_of_need", "pct_areas_recorded", "pct_closed_with_end_reading"):
        g[c] = g[c].astype("float64")
    return g.reset_index(drop=True)


def _reading_counts(study: Study) -> dict[str, Any]:
    """Per episode (in the episodes table's order): reading occasions, areas of need, areas scored,
    whether it has an end reading; and the last reading date. Follow-up readings are not counted."""
    r, ep = study.readings, study.episodes
    # columns of the non-follow-up readings only (not a copy of the whole table: 11M rows at national scale)
    keep = (r["reading_type"] != "follow_up").to_numpy()
    # position in the episodes table of each reading's episode
    e_all = positions(pd.Index(ep["episode_id"].astype(str)), r["episode_id"])[keep]
    if (e_all < 0).any():
        raise ValueError(f"{int((e_all < 0).sum())} reading(s) belong to episodes missing from the episodes table")
    e = e_all.astype(np.int64)
    day = r["reading_date"].to_numpy()[keep].astype("datetime64[D]").astype(np.int64)
    scored = r["score"].notna().to_numpy()[keep]
    out_code = r["outcome"].cat.codes.to_numpy()[keep].astype(np.int64)
    n_ep = len(ep)
    # occasions: distinct (episode, date)
    occ_key = sorted_unique(e * 1_000_000 + (day - day.min() if day.size else day))
    need_key = sorted_unique(e[scored] * (_N_OUT + 1) + out_code[scored])
    has_end = np.zeros(n_ep, bool)
    has_end[e[(r["reading_type"] == "end").to_numpy()[keep]]] = True
    return {"occasions": np.bincount(occ_key // 1_000_000, minlength=n_ep),
            "areas": np.bincount(need_key // (_N_OUT + 1), minlength=n_ep),
            "recorded": np.bincount(e[scored], minlength=n_ep), "has_end": has_end,
            "last_date": pd.Timestamp(np.datetime64(int(day.max()), "D")) if day.size else None}


# ---------------------------------------------------------------- figures
def _single_profile(table: pd.DataFrame) -> pd.DataFrame:
    if table["outcome"].duplicated().any():
        raise ValueError("plot_profile draws one profile: the distance table has several rows per outcome "
                         "(grouped with by=...); select one group first, e.g. d[d['lead_need'] == 'families']")
    order = {c: i for i, c in enumerate(domain.OUTCOME_CODES)}
    return table.sort_values("outcome", key=lambda s: s.map(order)).reset_index(drop=True)


def plot_profile(data: Study | pd.DataFrame, *, kind: Literal["dots", "radar"] = "dots",
                 compare: Literal["latest", "end"] = "latest", title: str | None = None, ax=None):
    """Start-vs-latest profile across the outcome areas (as Outcomes Star charts show).

    Parameters
    ----------
    data : Study or pandas.DataFrame
        A study, or one profile from :func:`distance_travelled` (one row per area).
    kind : {"dots", "radar"}
        ``"dots"``: a dot plot per area, first → latest mean stage, with the mean
        change and its 95% CI written beside it; ``"radar"``: a star chart with
        the two profiles.
    compare : {"latest", "end"}
        Passed to :func:`distance_travelled` when ``data`` is a study.
    ax : matplotlib Axes, optional
        For ``"radar"`` it must be a polar Axes.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import longitudinal as lg, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", lg.SingleReadingWarning)
    ...     fig = lg.plot_profile(lg.simulate(people=300, seed=4))
    >>> len(fig.axes)
    1
    """
    import matplotlib.pyplot as plt

    if isinstance(data, Study):
        with warnings.catch_warnings():  # the table is not shown: its n is written on the figure
            warnings.simplefilter("ignore", SingleReadingWarning)
            data = distance_travelled(data, compare=compare)
    need = {"outcome", "mean_first", "mean_latest", "mean_change", "ci_lower", "ci_upper", "n"}
    miss = need - set(data.columns)
    if miss:
        raise KeyError(f"plot_profile needs a distance_travelled table; missing column(s) {sorted(miss)}")
    t = _single_profile(data)
    t = t[t["n"] > 0]
    names = [domain.OUTCOMES[c].name for c in t["outcome"]]
    later = "Latest" if compare == "latest" else "End"
    if kind == "dots":
        if ax is None:
            fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(t) + 1.6), constrained_layout=True)
        else:
            fig = ax.figure
        y = np.arange(len(t))[::-1]
        ax.hlines(y, t["mean_first"], t["mean_latest"], color="0.6", lw=2, zorder=1)
        ax.scatter(t["mean_first"], y, s=45, facecolor="white", edgecolor="#1f4e79", lw=1.5, zorder=2,
                   label="First reading")
        ax.scatter(t["mean_latest"], y, s=45, color="#1f4e79", zorder=3, label=f"{later} reading")
        for yi, (_, row) in zip(y, t.iterrows()):
            ax.annotate(f"{row['mean_change']:+.2f} ({row['ci_lower']:+.2f}, {row['ci_upper']:+.2f}), "
                        f"n={int(row['n']):,}", (5.08, yi), va="center", fontsize=8, annotation_clip=False)
        ax.set_yticks(y, [f"{n}" if len(n) < 40 else n[:38] + "…" for n in names])
        ax.set_xlim(1, 5)
        ax.set_xticks(list(STAGES), [domain.SCALE_SHORT[s] for s in STAGES], rotation=20, ha="right",
                      fontsize=8)
        ax.set_xlabel("Mean Journey of Change stage")
        ax.grid(axis="x", color="0.9")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False, fontsize=8)
        ax.set_title(title or f"Distance travelled: first vs {later.lower()} reading "
                     "(mean change, 95% CI)", loc="left", fontsize=10, pad=22)
        return fig
    if kind == "radar":
        if ax is None:
            fig, ax = plt.subplots(figsize=(7.5, 7.5), subplot_kw={"projection": "polar"},
                                   constrained_layout=True)
        else:
            fig = ax.figure
            if getattr(ax, "name", "") != "polar":
                raise ValueError("kind='radar' needs a polar Axes (subplot_kw={'projection': 'polar'})")
        ax.set_theta_zero_location("N")  # first area at the top, clockwise, as a star chart reads
        ax.set_theta_direction(-1)
        ang = np.linspace(0, 2 * np.pi, len(t), endpoint=False)
        closed = np.r_[ang, ang[:1]]
        for col, style, lab in (("mean_first", dict(color="0.45", ls="--"), "First reading"),
                                ("mean_latest", dict(color="#1f4e79"), f"{later} reading")):
            v = t[col].to_numpy()
            ax.plot(closed, np.r_[v, v[:1]], lw=2, label=lab, **style)
            ax.fill(closed, np.r_[v, v[:1]], alpha=0.12, color=style["color"])
        ax.set_xticks(ang, [n if len(n) < 28 else n[:26] + "…" for n in names], fontsize=8)
        ax.set_ylim(0, 5)
        ax.set_yticks(list(STAGES), [str(s) for s in STAGES], fontsize=7)
        ax.legend(loc="upper right", bbox_to_anchor=(1.1, 1.1), frameon=False, fontsize=8)
        ax.set_title(title or f"Journey of Change profile: first vs {later.lower()} reading", fontsize=10)
        return fig
    raise ValueError(f"kind must be 'dots' or 'radar', not {kind!r}")


def plot_transitions(data: Study | pd.DataFrame, outcome: str | Sequence[str] | None = None, *,
                     ncols: int = 4, title: str | None = None):
    """Heatmap(s) of moves between consecutive readings: row proportions, counts written in each cell.

    Parameters
    ----------
    data : Study or pandas.DataFrame
        A study, or a :func:`transition_matrix` table (ungrouped).
    outcome : str or list of str, optional
        Area(s) to draw; one panel each (all areas by default).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import longitudinal as lg
    >>> fig = lg.plot_transitions(lg.simulate(people=300, seed=4), outcome="managing_money")
    >>> len(fig.axes)  # the panel and its colour bar
    2
    """
    import matplotlib.pyplot as plt

    if isinstance(data, Study):
        data = transition_matrix(data, outcome=outcome)
    elif outcome is not None:
        data = data[data["outcome"].isin(_outcome_codes(outcome))]
    need = {"outcome", "from_stage", "to_stage", "count", "proportion"}
    miss = need - set(data.columns)
    if miss:
        raise KeyError(f"plot_transitions needs a transition_matrix table; missing column(s) {sorted(miss)}")
    extra = [c for c in data.columns if c not in need]
    if extra:
        raise ValueError(f"plot_transitions draws ungrouped matrices; the table has extra column(s) {extra}: "
                         "select one group and drop those columns first")
    areas = [c for c in domain.OUTCOME_CODES if c in set(data["outcome"])]
    if not areas:
        raise ValueError("no transitions to draw")
    ncols = min(ncols, len(areas))
    nrows = -(-len(areas) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols + 0.8, 3.2 * nrows), squeeze=False,
                             constrained_layout=True)
    im: Any = None
    for ax, code in zip(axes.flat, areas):
        t = data[data["outcome"] == code]
        p = t.pivot(index="from_stage", columns="to_stage", values="proportion").reindex(
            index=list(STAGES), columns=list(STAGES))
        c = t.pivot(index="from_stage", columns="to_stage", values="count").reindex(
            index=list(STAGES), columns=list(STAGES)).fillna(0)
        im = ax.imshow(p.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, origin="upper")
        for i in range(5):
            for j in range(5):
                v = p.iat[i, j]
                if np.isnan(v):
                    continue
                ax.text(j, i, f"{v:.0%}\n{int(c.iat[i, j]):,}", ha="center", va="center", fontsize=6.5,
                        color="white" if v > 0.55 else "black")
        ax.set_xticks(range(5), STAGES)
        ax.set_yticks(range(5), STAGES)
        ax.set_xlabel("To stage", fontsize=8)
        ax.set_ylabel("From stage", fontsize=8)
        name = domain.OUTCOMES[code].name
        ax.set_title(name if len(name) < 34 else name[:32] + "…", fontsize=9)
    for ax in list(axes.flat)[len(areas):]:
        ax.set_visible(False)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="Share of moves out of the stage")
    if title or len(areas) > 1:
        fig.suptitle(title or "Moves between consecutive readings", fontsize=11)
    return fig
