"""Multi-state Markov model of the Journey of Change for panel data.

The five Journey of Change stages are the states of a continuous-time Markov
chain with intensity matrix ``Q``; the chain is seen only at reading dates, so
between two readings ``dt`` apart the chance of moving from stage *r* to stage
*s* is ``P(dt)[r, s]`` with ``P(t) = expm(t Q)``. This is the panel-data
likelihood of Kalbfleisch & Lawless (1985), the model of R's ``msm`` package
(Jackson 2011), which Python did not have.

* :func:`fit_transitions` fits it to a :class:`~longitudinal.Study` (one
  outcome area) or to any long table of (id, time, state), with allowed
  transitions, log-linear covariates on the intensities and an optional
  absorbing state such as "left support".
* :class:`TransitionsResults` holds the fit: ``Q`` with confidence limits,
  hazard ratios, ``P(t)``, mean sojourn times, expected time to first reach a
  stage, observed against expected prevalence, ``summary()`` and ``plot()``.
* :func:`simulate_panel` draws panel data from a known ``Q`` (tests use it to
  check that fits recover the truth).

The numeric core is :mod:`longitudinal.msm`.

Examples
--------
>>> import numpy as np, longitudinal as lg
>>> Q = [[-0.6, 0.6, 0, 0, 0], [0.2, -0.8, 0.6, 0, 0], [0, 0.2, -0.7, 0.5, 0],
...      [0, 0, 0.2, -0.6, 0.4], [0, 0, 0, 0.3, -0.3]]
>>> panel = lg.transitions.simulate_panel(Q, n=400, seed=1)
>>> fit = lg.fit_transitions(panel, id="id", time="time", score="state")
>>> bool(fit.converged)
True
>>> fit.Q.shape
(5, 5)
>>> round(float(fit.P(1.0).sum(axis=1).iloc[0]), 6)
1.0
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
from scipy import optimize, stats

from . import domain, msm
from .deprecation import RenamedKeys, renamed_arguments, with_old_columns
from .errors import ConvergenceWarning, LongitudinalWarning
from .results import Results, Summary
from .study import Study

__all__ = ["fit_transitions", "TransitionsResults", "simulate_panel", "default_allowed"]

_DAY = 1 / 365.25
_MAX_LISTED = 10
# Result columns renamed to the one vocabulary (docs/api.md); the old names work for one release.
_OLD_CI_NAMES = {"lower": "ci_lower", "upper": "ci_upper", "std_err": "std_error"}


# ------------------------------------------------------------------ helpers
def default_allowed(states: Sequence[Any], absorbing: Sequence[Any] = ()) -> pd.DataFrame:
    """The default allowed-transition matrix: adjacent stages, forward and back.

    Every transient state may also move to each absorbing state; absorbing
    states have no way out.

    Examples
    --------
    >>> default_allowed([1, 2, 3]).astype(int).values.tolist()
    [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    >>> default_allowed([1, 2, "left"], absorbing=["left"]).astype(int).values.tolist()
    [[0, 1, 1], [1, 0, 1], [0, 0, 0]]
    """
    states = list(states)
    absorbing = list(absorbing)
    trans = [s for s in states if s not in absorbing]
    A = pd.DataFrame(False, index=pd.Index(states, name="from"), columns=pd.Index(states, name="to"))
    for i, a in enumerate(trans):
        for b in trans[max(i - 1, 0):i + 2]:
            if a != b:
                A.loc[a, b] = True
        for d in absorbing:
            A.loc[a, d] = True
    return A


def _reachable(A: np.ndarray) -> np.ndarray:
    """Transitive closure (including staying put) of an allowed matrix."""
    K = len(A)
    R = (A | np.eye(K, dtype=bool)).astype(np.int64)
    for _ in range(int(np.ceil(np.log2(max(K, 2)))) + 1):
        R = ((R @ R) > 0).astype(np.int64)
    return R.astype(bool)


def _examples(ids: Iterable[Any]) -> str:
    ids = list(dict.fromkeys(ids))
    more = f" (and {len(ids) - _MAX_LISTED} more)" if len(ids) > _MAX_LISTED else ""
    return ", ".join(map(str, ids[:_MAX_LISTED])) + more


def _label(s: Any) -> str:
    return str(s)


@dataclass
class _Encoder:
    """Turns covariate columns into a numeric design (dummies for categories)."""

    columns: list[str]
    names: list[str] = field(default_factory=list)
    levels: dict[str, list[Any]] = field(default_factory=dict)  # categorical: all levels, ref first
    numeric: list[str] = field(default_factory=list)
    column_of: dict[str, str] = field(default_factory=dict)  # design name -> column

    @classmethod
    def fit(cls, df: pd.DataFrame, columns: Sequence[str], reference: Mapping[str, Any]) -> _Encoder:
        enc = cls(list(columns))
        for col in enc.columns:
            x = df[col]
            if pd.api.types.is_bool_dtype(x) or not pd.api.types.is_numeric_dtype(x) or \
                    isinstance(x.dtype, pd.CategoricalDtype):
                present = set(pd.unique(x.dropna()))
                if isinstance(x.dtype, pd.CategoricalDtype):
                    lev = [v for v in x.cat.categories if v in present]
                else:
                    lev = sorted(present, key=lambda v: (str(type(v)), v))
                if col in reference:
                    ref = reference[col]
                    if ref not in lev:
                        raise ValueError(f"reference level {ref!r} for covariate {col!r} does not occur "
                                         f"in the data; levels present: {lev}")
                    lev = [ref] + [v for v in lev if v != ref]
                if len(lev) < 2:
                    raise ValueError(f"covariate {col!r} has a single level ({lev}) in the data: "
                                     "it cannot have an effect; drop it")
                enc.levels[col] = lev
                enc.names += [f"{col}[{v}]" for v in lev[1:]]
                enc.column_of.update({f"{col}[{v}]": col for v in lev[1:]})
            else:
                enc.numeric.append(col)
                enc.names.append(col)
                enc.column_of[col] = col
        unknown = set(reference) - set(enc.levels)
        if unknown:
            raise ValueError(f"reference given for {sorted(unknown)}, which are not categorical covariates")
        return enc

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        out = []
        for col in self.columns:
            if col in self.levels:
                v = df[col].to_numpy(dtype=object)
                for lev in self.levels[col][1:]:
                    out.append((v == lev).astype(float))
            else:
                out.append(df[col].to_numpy(dtype=float))
        if not out:
            return np.zeros((len(df), 0))
        return np.column_stack(out)

    def row(self, values: Mapping[str, Any] | None) -> np.ndarray:
        """Design row for a covariate pattern; omitted covariates at reference / 0."""
        values = dict(values or {})
        unknown = set(values) - set(self.columns)
        if unknown:
            raise ValueError(f"unknown covariates {sorted(unknown)}; the model has {self.columns}")
        x = []
        for col in self.columns:
            if col in self.levels:
                lev = self.levels[col]
                v = values.get(col, lev[0])
                if v not in lev:
                    raise ValueError(f"{col}={v!r} is not a level of the fitted model; levels: {lev}")
                x += [float(v == level) for level in lev[1:]]
            else:
                x.append(float(values.get(col, 0.0)))
        return np.asarray(x, float)


# ------------------------------------------------------------------ data prep
def _prepare(df: pd.DataFrame, *, id: str, time: str, state: str, states: list[Any],
             absorbing: list[Any], exact_absorbing: bool, allowed: np.ndarray,
             covariates: list[str], reference: Mapping[str, Any], time_resolution: float | None,
             duplicate_times: str):
    """Validate the long table and turn it into intervals. Returns (intervals, encoder, report)."""
    missing = [c for c in [id, time, state, *covariates] if c not in df.columns]
    if missing:
        raise KeyError(f"column(s) {missing} not in the data; columns are {list(df.columns)}")
    report: dict[str, Any] = {"rows_read": int(len(df))}
    d = df[[id, time, state, *covariates]].copy()
    d["_order"] = np.arange(len(d))

    blank = d[state].isna().to_numpy()
    report["rows_blank_state_dropped"] = int(blank.sum())
    d = d[~blank]

    t = pd.to_numeric(d[time], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(t)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} reading(s) have a missing or non-finite {time!r} "
                         f"(expected a finite number of years); episodes: {_examples(d.loc[bad, id])}")
    d[time] = t

    code = pd.Index(states, dtype=object).get_indexer(d[state].astype(object))
    if (code < 0).any():
        vals = d.loc[code < 0, state].value_counts()
        raise ValueError(f"{int((code < 0).sum())} reading(s) have a {state!r} outside the states "
                         f"{states}: values {dict(vals.head(_MAX_LISTED))}; episodes: "
                         f"{_examples(d.loc[code < 0, id])}")
    d["_s"] = code
    K = len(states)
    is_abs = np.zeros(K, bool)
    is_abs[[states.index(a) for a in absorbing]] = True

    for c in covariates:
        na = d[c].isna().to_numpy()
        if na.any():
            raise ValueError(f"covariate {c!r} is missing in {int(na.sum())} reading(s) (expected a value "
                             f"on every reading); episodes: {_examples(d.loc[na, id])}")

    # Sort by episode and time; the absorbing entry goes last on a tie with the last reading.
    d["_abs"] = is_abs[d["_s"].to_numpy()]
    d["_id"] = pd.factorize(d[id], sort=False)[0]
    d = d.sort_values(["_id", time, "_abs", "_order"], kind="stable")
    same = np.r_[False, d["_id"].to_numpy()[1:] == d["_id"].to_numpy()[:-1]]
    order = d["_order"].to_numpy()
    unsorted = same & np.r_[False, order[1:] < order[:-1]]
    report["episodes_reordered_by_time"] = int(d.loc[unsorted, "_id"].nunique())

    tt = d[time].to_numpy()
    ab = d["_abs"].to_numpy()
    dup = same & np.r_[False, tt[1:] == tt[:-1]] & ~ab
    if dup.any():
        ids = d.loc[dup, id].unique()
        if duplicate_times == "raise":
            raise ValueError(f"{len(ids)} episode(s) have two readings at the same {time!r} "
                             f"(expected one reading per time): {_examples(ids)}. Remove the duplicates, "
                             "or pass duplicate_times='drop' to leave these episodes out")
        if duplicate_times != "drop":
            raise ValueError(f"duplicate_times must be 'raise' or 'drop', not {duplicate_times!r}")
        d = d[~d[id].isin(ids)]
        report["episodes_with_duplicate_times_dropped"] = int(len(ids))
    else:
        report["episodes_with_duplicate_times_dropped"] = 0

    eid = d["_id"].to_numpy()
    same = np.r_[False, eid[1:] == eid[:-1]]
    ab = d["_abs"].to_numpy()
    after_abs = same & np.r_[False, ab[:-1]]
    if after_abs.any():
        raise ValueError(f"{int(d.loc[after_abs, '_id'].nunique())} episode(s) have readings after "
                         f"entering an absorbing state {absorbing} (an absorbing state must be an "
                         f"episode's last observation): {_examples(d.loc[after_abs, id])}")

    sizes = d.groupby("_id", sort=False).size()
    single = sizes.index[sizes.to_numpy() == 1]
    report["episodes_single_reading_dropped"] = int(len(single))
    if len(single):
        d = d[~d["_id"].isin(single)]
    if d.empty:
        raise ValueError("no episode has two or more readings: there is nothing to fit")
    report["episodes"] = int(d["_id"].nunique())
    report["readings_used"] = int(len(d))

    eid = d["_id"].to_numpy()
    nxt = np.r_[eid[1:] == eid[:-1], False]
    frm_rows = np.flatnonzero(nxt)
    r = d["_s"].to_numpy()[frm_rows]
    s = d["_s"].to_numpy()[frm_rows + 1]
    dt = d[time].to_numpy()[frm_rows + 1] - d[time].to_numpy()[frm_rows]
    exact = is_abs[s] & exact_absorbing
    ids_int = d[id].to_numpy()[frm_rows]
    if time_resolution:
        dt = np.round(dt / time_resolution) * time_resolution
    # Only an exactly timed absorbing entry may share its time with the previous reading.
    zero = (dt <= 0) & ~exact
    if zero.any():
        why = (f"are shorter than the time resolution ({time_resolution:g} years) and round to "
               "zero; pass time_resolution=None to use exact times" if time_resolution
               else "have zero length")
        raise ValueError(f"{int(zero.sum())} interval(s) {why}; episodes: {_examples(ids_int[zero])}")

    # Observed moves the allowed matrix makes impossible.
    R = _reachable(allowed)
    # Exact entry to d: some state reachable from r must lead straight to d.
    via = (R.astype(int) @ allowed.astype(int)) > 0
    possible = np.where(exact, via[r, s], R[r, s])
    possible = np.where(exact & (dt <= 0), allowed[r, s], possible)
    if (~possible).any():
        lines = []
        for (a, b), idx in pd.Series(np.flatnonzero(~possible)).groupby(
                [r[~possible], s[~possible]]):
            lines.append(f"{_label(states[a])} -> {_label(states[b])} in {len(idx)} interval(s), "
                         f"episodes {_examples(ids_int[idx.to_numpy()])}")
        raise ValueError("the data show transitions that the allowed matrix makes impossible:\n  "
                         + "\n  ".join(lines)
                         + "\nAllow them (argument `allowed`), or correct the data")

    enc = _Encoder.fit(d, covariates, reference)
    Xrows = enc.transform(d.iloc[frm_rows])
    report["intervals"] = int(len(frm_rows))
    report["exact_absorbing_entries"] = int(exact.sum())
    first = np.r_[True, eid[1:] != eid[:-1]]
    episodes = pd.DataFrame({
        "id": d[id].to_numpy(), "t": d[time].to_numpy(), "s": d["_s"].to_numpy(),
        "first": first,
    })
    # Design row at each episode's first reading (for expected prevalence).
    X_first = enc.transform(d[first])
    return dict(r=r, s=s, dt=dt, exact=exact, X=Xrows, ids=ids_int, episodes=episodes,
                X_first=X_first), enc, report


# ------------------------------------------------------------------ fitting
def _crude_init(r, s, dt, exact, frm, to, K):
    """Crude intensities (msm's ``crudeinits``): moves out of r per unit time spent in r."""
    T = np.bincount(r, weights=np.where(dt > 0, dt, 0.0), minlength=K)
    n = np.zeros((K, K))
    np.add.at(n, (r, s), 1.0)
    q = (n[frm, to] + 0.5) / np.where(T[frm] > 0, T[frm], 1.0)
    return np.log(np.clip(q, 1e-3, 50.0))


@renamed_arguments(state="score")
def fit_transitions(data: Study | pd.DataFrame, outcome: str | None = None, *, id: str = "episode_id",
                    time: str = "time", score: str = "score", allowed: Any = None,
                    covariates: Sequence[str] | Mapping[str, Any] | None = None, absorbing: Any = None,
                    exact_absorbing: bool = True, states: Sequence[Any] | None = None,
                    reference: Mapping[str, Any] | None = None, include_follow_up: bool = False,
                    time_resolution: float | str | None = "auto", duplicate_times: str = "raise",
                    alpha: float = 0.05, maxiter: int = 1000) -> TransitionsResults:
    """Fit a continuous-time multi-state Markov model to panel data (as R's ``msm``).

    Parameters
    ----------
    data : Study or pandas.DataFrame
        A study (then ``outcome`` is required and ``data.long(outcome)`` is used,
        with ``time`` = years since the episode's start) or any long table with
        one row per reading.
    outcome : str, optional
        Outcome area code (or name) when ``data`` is a Study.
    id, time, score : str
        Columns naming the episode (or person), the time in years and the state (the Journey of
        Change stage, or any state label). ``state=`` is the deprecated name of ``score=``.
    allowed : array-like or DataFrame (K x K), optional
        Which instantaneous transitions are possible (truthy off the diagonal).
        Default: adjacent stages forward and back (see :func:`default_allowed`),
        plus every stage to each absorbing state. A DataFrame is aligned on
        ``states``; an array is taken in the order of ``states``.
    covariates : list of str, or dict, optional
        Columns with log-linear effects on the allowed intensities:
        ``q_rs(x) = q_rs * exp(x' beta_rs)``. A list puts each covariate on every
        intensity; a dict ``{column: [(from, to), ...]}`` on the listed ones only
        (``"all"`` for every one), the others' effects fixed at zero (as msm's
        transition-specific covariates). Categorical columns become dummies
        (reference = first level, or ``reference``); numeric columns enter as
        they are. The value at the start of each interval applies.
    absorbing : state or list of states, optional
        Absorbing state(s), e.g. ``"left_support"``. For a Study, a label that
        is not a stage adds, for every episode that ended, an observation of
        that state at the end date (and follow-up readings are left out).
    exact_absorbing : bool, default True
        The time of entry to an absorbing state is known exactly (msm's
        ``deathexact``): the state just before it is unknown.
    states : list, optional
        All states in order; default the Journey of Change stages 1..5 plus
        any absorbing states.
    reference : dict, optional
        Reference level per categorical covariate.
    include_follow_up : bool, default False
        For a Study: keep follow-up readings after support ended. They are left
        out by default because the chain's intensities after support are not
        those during it.
    time_resolution : float, None or "auto"
        Interval lengths are rounded to this many years so that intervals
        group into few distinct patterns (speed); ``None`` uses exact times.
        ``"auto"`` (default): one day for a Study (its times are whole days, so
        nothing moves), exact times for a table (its times are left as given).
    duplicate_times : {"raise", "drop"}
        Two readings of an episode at the same time: stop with an error naming
        the episodes (default), or leave those episodes out (reported).
    alpha : float
        1 - confidence level of all intervals.
    maxiter : int
        Iteration limit of the BFGS optimiser.

    Returns
    -------
    TransitionsResults

    Notes
    -----
    Handling of awkward data, all reported in ``data_report_`` and ``summary()``:
    blank states ("no need in this area") are dropped; rows are sorted by
    time within an episode; episodes with a single reading carry no transition
    and are dropped. States outside ``states``, non-finite times, duplicate
    times, readings after an absorbing state and moves the ``allowed`` matrix
    makes impossible stop the fit with an error naming the episodes.

    Standard errors come from the observed information at the maximum:
    central differences of the analytic gradient, taken in each covariate
    pattern's log-intensities and assembled by the chain rule (so its cost does
    not grow with the number of covariates).

    Examples
    --------
    >>> import longitudinal as lg
    >>> study = lg.simulate(people=300, seed=3)
    >>> fit = lg.fit_transitions(study, "managing_money")
    >>> list(fit.Q.index)
    [1, 2, 3, 4, 5]
    >>> fit.data_report_["episodes_single_reading_dropped"] >= 0
    True
    """
    cov_spec = dict(covariates) if isinstance(covariates, Mapping) else None
    covariates = list(cov_spec) if cov_spec is not None else list(covariates or [])
    absorbing_list = [] if absorbing is None else (
        list(absorbing) if isinstance(absorbing, (list, tuple)) else [absorbing])
    if isinstance(data, Study):
        if outcome is None:
            raise ValueError("fit_transitions(study, outcome): give the outcome area (one of "
                             f"{', '.join(domain.OUTCOME_CODES)})")
        add_abs = [a for a in absorbing_list if a not in domain.SCALE]
        df = data.long(outcome, include_follow_up=include_follow_up and not add_abs)
        if add_abs:
            if len(add_abs) > 1:
                raise ValueError("a Study gives one 'left support' absorbing state; got "
                                 f"{add_abs}")
            df = _add_end_of_support(df, add_abs[0], id=id, time=time, state=score,
                                     covariates=covariates)
    elif isinstance(data, pd.DataFrame):
        if outcome is not None:
            if "outcome" not in data.columns:
                raise KeyError("outcome given but the table has no 'outcome' column")
            data = data[data["outcome"] == domain.outcome_code(outcome)]
        df = data
    else:
        raise TypeError(f"data must be a Study or a pandas DataFrame, not {type(data).__name__}")

    if time_resolution == "auto":
        time_resolution = _DAY if isinstance(data, Study) else None
    if states is None:
        states = list(domain.SCALE) + [a for a in absorbing_list if a not in domain.SCALE]
    states = list(states)
    for a in absorbing_list:
        if a not in states:
            raise ValueError(f"absorbing state {a!r} is not one of the states {states}")
    K = len(states)
    if allowed is None:
        A = default_allowed(states, absorbing_list)
    elif isinstance(allowed, pd.DataFrame):
        if set(allowed.index) != set(states) or set(allowed.columns) != set(states):
            raise ValueError(f"allowed must be indexed by the states {states} on both axes; got "
                             f"index {list(allowed.index)}, columns {list(allowed.columns)}")
        A = allowed.loc[states, states]
    else:
        arr = np.asarray(allowed)
        if arr.shape != (K, K):
            raise ValueError(f"allowed must be a {K} x {K} matrix over the states {states}; "
                             f"got shape {arr.shape}")
        A = pd.DataFrame(arr, index=states, columns=states)
    Aarr = A.to_numpy().astype(bool)
    np.fill_diagonal(Aarr, False)
    for a in absorbing_list:
        i = states.index(a)
        if Aarr[i].any():
            raise ValueError(f"absorbing state {a!r} has allowed transitions out of it "
                             f"(to {[states[j] for j in np.flatnonzero(Aarr[i])]}); an absorbing "
                             "state has none")
    if not Aarr.any():
        raise ValueError("the allowed matrix allows no transition")
    no_exit = [s for i, s in enumerate(states) if not Aarr[i].any() and s not in absorbing_list]
    if no_exit:
        warnings.warn(f"state(s) {no_exit} have no allowed exits but are not declared absorbing: they are fitted "
                      "as states seen only at readings. If entering one ends the follow-up (e.g. death), pass "
                      f"absorbing={no_exit[0]!r} (its entry time is then taken as exact, msm's deathexact; "
                      "exact_absorbing=False if it is only seen at a reading)", LongitudinalWarning, stacklevel=3)

    prep, enc, report = _prepare(df, id=id, time=time, state=score, states=states,
                                 absorbing=absorbing_list, exact_absorbing=exact_absorbing,
                                 allowed=Aarr, covariates=covariates, reference=reference or {},
                                 time_resolution=time_resolution, duplicate_times=duplicate_times)
    frm, to = np.nonzero(Aarr)
    nq = len(frm)
    X = prep["X"]
    p = X.shape[1]
    Xu, pattern = np.unique(X, axis=0, return_inverse=True) if p else (np.zeros((1, 0)),
                                                                       np.zeros(len(X), int))
    pattern = np.asarray(pattern).ravel()
    panel = msm.build_panel(K, pattern, Xu, prep["dt"], prep["r"], prep["s"], prep["exact"])
    N = max(len(prep["dt"]), 1)
    free = _free_parameters(cov_spec, enc, states, frm, to)
    full = np.zeros(len(free))

    def expand(v):
        out = full.copy()
        out[free] = v
        return out

    def fg(v):
        ll, g = msm.loglik_grad(expand(v), panel, frm, to)
        return -ll / N, -g[free] / N

    def hess(v):  # Hessian of the objective fg (minus the mean log-likelihood)
        return -msm.hessian(expand(v), panel, frm, to)[np.ix_(free, free)] / N

    x0 = np.r_[_crude_init(prep["r"], prep["s"], prep["dt"], prep["exact"], frm, to, K),
               np.zeros(p * nq)][free]
    # Trust-region Newton with the (cheap, pattern-wise) observed information converges in
    # a few iterations where BFGS needs hundreds once there are covariates; BFGS is the
    # fallback when the information is singular and the trust region stalls.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = optimize.minimize(fg, x0, jac=True, hess=hess, method="trust-exact",
                                options={"gtol": 1e-9, "maxiter": min(maxiter, 200)})
    method = "trust-region Newton"
    if not res.success:
        alt = optimize.minimize(fg, res.x if np.isfinite(res.fun) else x0, jac=True, method="BFGS",
                                options={"gtol": 1e-8, "maxiter": maxiter})
        if alt.fun <= res.fun or not np.isfinite(res.fun):
            res, method = alt, "BFGS"
    x = res.x
    f = res.fun
    H = hess(x)
    info = H * N  # observed information of the log-likelihood
    gmax = float(np.max(np.abs(fg(x)[1]))) * N
    eig = np.linalg.eigvalsh(info)
    pos_def = bool(eig.min() > 1e-8 * max(eig.max(), 1e-300))
    cov = np.zeros((len(free), len(free)))
    if pos_def:
        cov[np.ix_(free, free)] = np.linalg.inv(info)
    else:
        cov[np.ix_(free, free)] = np.linalg.pinv(info)
        warnings.warn("the observed information is singular: some intensities or effects are not "
                      "identified by the data (too few moves of some kind); their standard errors "
                      "are unreliable. Simplify `allowed` or the covariates.", ConvergenceWarning,
                      stacklevel=2)
    # Converged: the optimiser stopped at a stationary point (gradient per interval tiny).
    converged = bool(np.isfinite(f) and (res.success or gmax / N < 1e-6))
    if not converged:
        warnings.warn(f"the fit did not converge ({res.message}; largest gradient {gmax:.3g}); "
                      "results are unreliable", ConvergenceWarning, stacklevel=2)
    return TransitionsResults(
        states=states, absorbing=absorbing_list, allowed=A.astype(bool), frm=frm, to=to,
        encoder=enc, params=expand(x), free=free, cov=cov, loglik=-f * N, converged=converged,
        identified=pos_def,
        n_iter=int(res.nit), optimizer=method,
        max_grad=gmax, alpha=alpha, data_report=report, prep=prep, exact_absorbing=exact_absorbing,
        time_resolution=time_resolution, outcome=None if outcome is None else domain.outcome_code(outcome),
    )


def _free_parameters(spec, enc, states, frm, to) -> np.ndarray:
    """Mask of estimated parameters: all baseline intensities, and covariate effects as specified."""
    nq = len(frm)
    free = np.ones(nq * (1 + len(enc.names)), bool)
    if spec is None:
        return free
    labels = [(states[a], states[b]) for a, b in zip(frm, to)]
    for j, name in enumerate(enc.names):
        col = enc.column_of[name]
        which = spec[col]
        if isinstance(which, str) and which == "all":
            continue
        pairs = [tuple(t) for t in which]
        bad = [t for t in pairs if t not in labels]
        if bad:
            raise ValueError(f"covariate {col!r} is put on transitions {bad} that are not allowed; "
                             f"allowed transitions are {labels}")
        if not pairs:
            raise ValueError(f"covariate {col!r} is put on no transition")
        free[nq + j * nq: nq + (j + 1) * nq] = [t in pairs for t in labels]
    return free


def _add_end_of_support(df: pd.DataFrame, label: Any, *, id: str, time: str, state: str,
                        covariates: list[str]) -> pd.DataFrame:
    """Append a 'left support' observation at each ended episode's end date."""
    if "end_date" not in df.columns or "start_date" not in df.columns:
        raise KeyError("a 'left support' state needs start_date and end_date columns")
    df = df.copy()
    df[state] = df[state].astype(object)
    ended = df[df["end_date"].notna()].drop_duplicates(id, keep="last")
    end_t = (ended["end_date"] - ended["start_date"]).dt.days.to_numpy() / 365.25
    last_t = ended[time].to_numpy()
    # Readings dated after the end (late entries) would sit after the absorbing state.
    ended = ended.assign(**{time: np.maximum(end_t, last_t), state: label})
    out = pd.concat([df, ended], ignore_index=True)
    return out


# ------------------------------------------------------------------ results
class TransitionsResults(Results):
    """A fitted multi-state Markov model (see :func:`fit_transitions`).

    Attributes
    ----------
    states_ : list
        The states, in order.
    allowed_ : DataFrame of bool
        Allowed instantaneous transitions.
    params_ : Series
        Log baseline intensities ``log q[r->s]`` and covariate effects
        ``beta[name, r->s]``.
    cov_params_ : DataFrame
        Their covariance (inverse observed information).
    loglik, aic, bic : float
    converged : bool
        The optimiser reached a stationary point.
    identified_ : bool
        The observed information is positive definite (every parameter is
        identified by the data); when False the standard errors are unreliable.
    data_report_ : dict
        What was read, dropped and why.
    """

    def __init__(self, *, states, absorbing, allowed, frm, to, encoder, params, free, cov, loglik,
                 converged, identified, n_iter, optimizer, max_grad, alpha, data_report, prep, exact_absorbing,
                 time_resolution, outcome):
        self.states_ = list(states)
        self.absorbing_ = list(absorbing)
        self.allowed_ = allowed
        self._frm, self._to = frm, to
        self._enc = encoder
        self._x = params
        self._cov = cov
        self.loglik = float(loglik)
        self.converged = converged
        self.identified_ = identified
        self.n_iter_ = n_iter
        self.optimizer_ = optimizer
        self.max_gradient_ = max_grad
        self.alpha = alpha
        self.data_report_ = data_report
        self._prep = prep
        self.exact_absorbing = exact_absorbing
        self.time_resolution = time_resolution
        self.outcome = outcome
        self._free = free
        self.n_params_ = int(free.sum())
        self.nobs = data_report["intervals"]
        self.aic = -2 * self.loglik + 2 * self.n_params_
        self.bic = -2 * self.loglik + np.log(max(self.nobs, 1)) * self.n_params_
        names = [self._tname(i) for i in range(len(frm))]
        pnames = [f"log q[{n}]" for n in names] + [
            f"beta[{c}, {n}]" for c in encoder.names for n in names]
        kept = [n for n, f in zip(pnames, free) if f]
        self.params_ = pd.Series(params[free], index=kept, name="estimate")
        self.cov_params_ = pd.DataFrame(cov[np.ix_(free, free)], index=kept, columns=kept)

    # ------------------------------------------------------------ basics
    @property
    def AIC(self) -> float:
        """Deprecated spelling of ``aic``."""
        warnings.warn("TransitionsResults.AIC is deprecated: use .aic (longitudinal's vocabulary, docs/api.md)",
                      DeprecationWarning, stacklevel=2)
        return self.aic

    @property
    def K(self) -> int:
        return len(self.states_)

    @property
    def _z(self) -> float:
        return float(stats.norm.ppf(1 - self.alpha / 2))

    def _tname(self, i: int) -> str:
        return f"{_label(self.states_[self._frm[i]])}->{_label(self.states_[self._to[i]])}"

    def _repr_fields(self) -> dict[str, Any]:
        return {"states": self.states_, "intervals": self.nobs, "params": self.n_params_, "loglik": self.loglik,
                "converged": self.converged}

    def _logq(self, covariates=None, x=None):
        """Log-intensities at a covariate pattern, and their Jacobian w.r.t. the parameters."""
        x = self._x if x is None else x
        nq = len(self._frm)
        row = self._enc.row(covariates)
        p = len(row)
        J = np.hstack([np.eye(nq), np.kron(row[:, None], np.eye(nq)).reshape(p * nq, nq).T]) if p \
            else np.eye(nq)
        return J @ x, J

    def _Qarr(self, logq) -> np.ndarray:
        return msm.generator(logq, self._frm, self._to, self.K)

    def _frame(self, arr) -> pd.DataFrame:
        return pd.DataFrame(arr, index=pd.Index(self.states_, name="from"),
                            columns=pd.Index(self.states_, name="to"))

    # ------------------------------------------------------------ intensities
    def qmatrix(self, covariates: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame]:
        """Intensity matrix at a covariate pattern with confidence limits.

        Parameters
        ----------
        covariates : dict, optional
            Covariate values; omitted ones at their reference level (or 0).

        Returns
        -------
        dict with DataFrames ``estimate``, ``ci_lower``, ``ci_upper``, ``std_error``
            Off-diagonal limits are ``exp(log q +- z se)``. The diagonal is minus the total
            rate out of the state, ``-sum_s q[r->s]``: its standard error is by the delta method
            and its limits are formed on the log scale of the total, ``-exp(log q_r. -+ z se)``,
            so they stay negative (msm's ``qmatrix.msm`` gives diagonal limits too). Rows of
            absorbing states are 0 with no interval.
        """
        lq, J = self._logq(covariates)
        covlq = J @ self._cov @ J.T
        se = np.sqrt(np.clip(np.diag(covlq), 0, None))
        est = self._Qarr(lq)
        q = np.exp(lq)
        out = {"estimate": self._frame(est)}
        with np.errstate(over="ignore"):
            lims = [("ci_lower", np.exp(lq - self._z * se)), ("ci_upper", np.exp(lq + self._z * se)),
                    ("std_error", q * se)]
        diag = {k: np.full(self.K, np.nan) for k in ("ci_lower", "ci_upper", "std_error")}
        for r in range(self.K):
            out_r = self._frm == r
            if not out_r.any():
                continue
            lam = q[out_r].sum()
            g = np.where(out_r, q, 0.0)  # d lam / d log q
            se_lam = float(np.sqrt(max(g @ covlq @ g, 0.0)))
            with np.errstate(over="ignore"):
                diag["ci_lower"][r] = -lam * np.exp(self._z * se_lam / lam)
                diag["ci_upper"][r] = -lam * np.exp(-self._z * se_lam / lam)
            diag["std_error"][r] = se_lam
        for name, val in lims:
            m = np.full((self.K, self.K), np.nan)
            m[self._frm, self._to] = val
            np.fill_diagonal(m, diag[name])
            out[name] = self._frame(m)
        return RenamedKeys(out, {"lower": "ci_lower", "upper": "ci_upper", "std_err": "std_error"})

    @property
    def Q(self) -> pd.DataFrame:
        """Baseline intensity matrix (rows from, columns to; per year)."""
        return self.qmatrix()["estimate"]

    @property
    def Q_lower(self) -> pd.DataFrame:
        """Lower confidence limits of the baseline intensities."""
        return self.qmatrix()["ci_lower"]

    @property
    def Q_upper(self) -> pd.DataFrame:
        """Upper confidence limits of the baseline intensities."""
        return self.qmatrix()["ci_upper"]

    @property
    def intensities(self) -> pd.DataFrame:
        """Tidy table of baseline intensities: from, to, estimate, std_error, ci_lower, ci_upper."""
        q = self.qmatrix()
        rows = []
        for a, b in zip(self._frm, self._to):
            rows.append({"from": self.states_[a], "to": self.states_[b],
                         **{k: float(v.iat[a, b]) for k, v in q.items()}})
        return with_old_columns(pd.DataFrame(rows)[["from", "to", "estimate", "std_error", "ci_lower", "ci_upper"]],
                                _OLD_CI_NAMES)

    @property
    def hazard_ratios(self) -> pd.DataFrame:
        """Hazard ratios of the covariates on each intensity, with CIs and Wald p-values.

        Columns ``covariate, from, to, hazard_ratio, ci_lower, ci_upper`` (the ratio's limits),
        ``estimate, std_error, z, p_value`` (the log hazard ratio)."""
        nq = len(self._frm)
        rows = []
        for j, name in enumerate(self._enc.names):
            for i in range(nq):
                k = nq + j * nq + i
                if not self._free[k]:
                    continue  # effect fixed at zero
                b = self._x[k]
                se = float(np.sqrt(max(self._cov[k, k], 0)))
                z = b / se if se > 0 else np.nan
                with np.errstate(over="ignore"):
                    lo, hi = np.exp(b - self._z * se), np.exp(b + self._z * se)
                rows.append({"covariate": name, "from": self.states_[self._frm[i]],
                             "to": self.states_[self._to[i]], "hazard_ratio": float(np.exp(b)),
                             "ci_lower": float(lo), "ci_upper": float(hi), "estimate": float(b),
                             "std_error": se, "z": z, "p_value": float(2 * stats.norm.sf(abs(z)))})
        cols = ["covariate", "from", "to", "hazard_ratio", "ci_lower", "ci_upper", "estimate", "std_error", "z",
                "p_value"]
        return with_old_columns(pd.DataFrame(rows, columns=cols),
                                {**_OLD_CI_NAMES, "hr": "hazard_ratio", "coef": "estimate"})

    # ------------------------------------------------------------ probabilities
    def P(self, t: float, covariates: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Transition probabilities ``P(t) = expm(t Q)`` over ``t`` years (rows from, columns to).

        Examples
        --------
        >>> import longitudinal as lg
        >>> panel = lg.transitions.simulate_panel(
        ...     [[-0.5, 0.5, 0], [0.3, -0.6, 0.3], [0, 0.4, -0.4]], n=300, seed=2)
        >>> fit = lg.fit_transitions(panel, id="id", time="time", score="state", states=[1, 2, 3])
        >>> fit.P(0.0).values.diagonal().tolist()
        [1.0, 1.0, 1.0]
        """
        t = float(t)
        if not np.isfinite(t) or t < 0:
            raise ValueError(f"t must be a finite number of years >= 0, got {t}")
        lq, _ = self._logq(covariates)
        return self._frame(scipy.linalg.expm(t * self._Qarr(lq)))

    def _draws(self, n_sim: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.multivariate_normal(self._x, self._cov, size=n_sim, method="eigh")

    def transition_probabilities(self, times: Sequence[float] | None = None,
                                 covariates: Mapping[str, Any] | None = None, *, ci: bool = False,
                                 n_sim: int = 500, seed: int = 0) -> pd.DataFrame:
        """Tidy ``P(t)`` over times: time, from, to, probability (and ci_lower, ci_upper).

        Confidence limits (``ci=True``) are percentiles of ``P(t)`` over ``n_sim``
        parameter draws from the asymptotic normal distribution (as msm's
        ``pmatrix.msm(ci="normal")``), reproducible through ``seed``.
        """
        times = np.asarray(self._default_times() if times is None else times, float)
        lq, J = self._logq(covariates)
        Pt = msm.pmatrix(self._Qarr(lq)[None], times)[0]
        K = self.K
        st = np.asarray(self.states_, dtype=object)
        out = pd.DataFrame({
            "time": np.repeat(times, K * K),
            "from": np.tile(np.repeat(st, K), len(times)),
            "to": np.tile(st, K * len(times)),
            "probability": Pt.ravel(),
        })
        if ci:
            draws = self._draws(n_sim, seed) @ J.T  # (n_sim, nq) log-intensities
            Qd = self._Qarr(draws)
            Pd = msm.pmatrix(Qd, times)
            lo, hi = np.quantile(Pd, [self.alpha / 2, 1 - self.alpha / 2], axis=0)
            out["ci_lower"] = lo.ravel()
            out["ci_upper"] = hi.ravel()
            return with_old_columns(out, _OLD_CI_NAMES)
        return out

    def _default_times(self) -> np.ndarray:
        ep = self._prep["episodes"]
        g = ep.groupby("id", sort=False)["t"]
        span = (g.max() - g.min()).to_numpy()
        tmax = float(np.quantile(span, 0.9)) if len(span) else 1.0
        return np.linspace(0, max(tmax, 0.25), 41)

    # ------------------------------------------------------------ summaries
    def sojourn(self, covariates: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Mean sojourn time (years) in each transient state, with delta-method CIs on the log scale."""
        lq, J = self._logq(covariates)
        q = np.exp(lq)
        covlq = J @ self._cov @ J.T
        rows = []
        for i, s in enumerate(self.states_):
            out = self._frm == i
            if not out.any():
                continue
            lam = q[out].sum()
            grad = np.zeros(len(q))
            grad[out] = -q[out] / lam  # d log(1/lam) / d log q
            se_log = float(np.sqrt(max(grad @ covlq @ grad, 0)))
            est = 1 / lam
            with np.errstate(over="ignore"):
                rows.append({"state": s, "mean_years": est, "std_error": est * se_log,
                             "ci_lower": est * np.exp(-self._z * se_log),
                             "ci_upper": est * np.exp(self._z * se_log)})
        return with_old_columns(pd.DataFrame(rows).set_index("state"), _OLD_CI_NAMES)

    def _passage(self, lq, target_idx, exclude_absorbing=False):
        """(expected first-passage time, probability of ever reaching) per state."""
        K = self.K
        A = self.allowed_.to_numpy().astype(bool)
        np.fill_diagonal(A, False)
        abs_idx = [self.states_.index(a) for a in self.absorbing_]
        if exclude_absorbing and abs_idx:
            A[:, abs_idx] = False
        Q = self._Qarr(lq)
        Q[~A] = 0.0
        Q[np.arange(K), np.arange(K)] = 0.0
        Q[np.arange(K), np.arange(K)] = -Q.sum(axis=1)
        tgt = np.zeros(K, bool)
        tgt[target_idx] = True
        trap = ~A.any(axis=1) & ~tgt  # absorbing states other than the target
        R = _reachable(A)
        # Non-target states that can leave towards the target or a trap.
        S = ~tgt & ~trap & (R[:, tgt | trap].any(axis=1))
        h = np.where(tgt, 1.0, 0.0)
        if S.any():
            h[S] = np.linalg.solve(-Q[np.ix_(S, S)], Q[np.ix_(S, tgt)].sum(axis=1))
        m = np.full(K, np.inf)
        m[tgt] = 0.0
        sure = S & (np.abs(1 - h) < 1e-9) & ~(R[:, trap].any(axis=1))
        if sure.any():
            m[sure] = np.linalg.solve(-Q[np.ix_(sure, sure)], np.ones(int(sure.sum())))
        return m, np.clip(h, 0.0, 1.0)

    def first_passage(self, to: Any = 5, covariates: Mapping[str, Any] | None = None, *,
                      exclude_absorbing: bool = False) -> pd.DataFrame:
        """Expected time (years) to first reach a state (or any of several) from each state.

        Parameters
        ----------
        to : state, list of states, or ``"4+"``
            Target state(s); ``"4+"`` means stage 4 or above.
        covariates : dict, optional
        exclude_absorbing : bool, default False
            Compute in the chain without its absorbing states (for "left
            support": the time to reach the stage had support continued).

        Returns
        -------
        DataFrame indexed by starting state (absorbing states left out)
            ``prob_reach`` (chance of ever reaching the target) and
            ``mean_years, std_err, lower, upper``: delta-method CIs on the log
            scale (numerical Jacobian in the log-intensities). The mean is
            infinite where the target may never be reached (an absorbing state
            such as "left support" can come first); the target's own rows are 0.

        Examples
        --------
        >>> import longitudinal as lg
        >>> panel = lg.transitions.simulate_panel([[-1.0, 1.0], [0.5, -0.5]], n=300, seed=4)
        >>> fit = lg.fit_transitions(panel, id="id", time="time", score="state", states=[1, 2])
        >>> fp = fit.first_passage(to=2)
        >>> bool(abs(fp.loc[1, "mean_years"] - 1 / fit.Q.loc[1, 2]) < 1e-9)
        True
        """
        if isinstance(to, str) and to.endswith("+"):
            lo = int(to[:-1])
            targets = [s for s in self.states_ if isinstance(s, (int, np.integer)) and s >= lo]
        else:
            targets = list(to) if isinstance(to, (list, tuple, set)) else [to]
        bad = [s for s in targets if s not in self.states_]
        if bad or not targets:
            raise ValueError(f"target state(s) {bad or to!r} are not among the states {self.states_}")
        tidx = [self.states_.index(s) for s in targets]
        lq, J = self._logq(covariates)
        m, h = self._passage(lq, tidx, exclude_absorbing)
        covlq = J @ self._cov @ J.T
        G = np.zeros((self.K, len(lq)))
        fin = np.isfinite(m) & (m > 0)
        for j in range(len(lq)):
            e = np.zeros(len(lq))
            e[j] = 1e-6
            mp = self._passage(lq + e, tidx, exclude_absorbing)[0]
            mm = self._passage(lq - e, tidx, exclude_absorbing)[0]
            G[fin, j] = (np.log(mp[fin]) - np.log(mm[fin])) / 2e-6
        se_log = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", G, covlq, G), 0, None))
        mf = np.where(fin, m, np.nan)
        df = pd.DataFrame({"prob_reach": h, "mean_years": m, "std_error": mf * se_log,
                           "ci_lower": mf * np.exp(-self._z * se_log),
                           "ci_upper": mf * np.exp(self._z * se_log)},
                          index=pd.Index(self.states_, name="from"))
        df.loc[[self.states_[i] for i in tidx], ["std_error", "ci_lower", "ci_upper"]] = 0.0
        keep = [s for s in self.states_ if s not in self.absorbing_ or s in targets]
        return with_old_columns(df.loc[keep], _OLD_CI_NAMES)

    def prevalence(self, times: Sequence[float] | None = None) -> pd.DataFrame:
        """Observed against expected numbers in each state over time (goodness of fit).

        Observed: each episode counts in the state of its latest reading at or
        before ``t`` (time since its first reading) while ``t`` is within its
        readings; an episode absorbed stays counted in the absorbing state.
        Expected: the episodes at risk at ``t``, by covariate pattern at their
        first reading, times ``initial state distribution @ P(t)`` (msm's
        ``prevalence.msm``).

        Returns
        -------
        DataFrame: time, state, n_at_risk, observed, expected, observed_pct, expected_pct
        """
        ep = self._prep["episodes"].copy()
        times = np.asarray(self._default_times()[::5] if times is None else times, float)
        code = pd.factorize(ep["id"])[0]
        first_idx = np.flatnonzero(ep["first"].to_numpy())
        t0 = ep["t"].to_numpy()[first_idx]
        rel = ep["t"].to_numpy() - t0[code]
        s = ep["s"].to_numpy()
        last_idx = np.r_[first_idx[1:] - 1, len(ep) - 1]
        tend = rel[last_idx]
        abs_codes = [self.states_.index(a) for a in self.absorbing_]
        absorbed = np.isin(s[last_idx], abs_codes)
        tend = np.where(absorbed, np.inf, tend)
        X1 = self._prep["X_first"]
        pats, pinv = np.unique(X1, axis=0, return_inverse=True) if X1.shape[1] else (
            np.zeros((1, 0)), np.zeros(len(first_idx), int))
        pinv = np.asarray(pinv).ravel()
        init = s[first_idx]
        K = self.K
        span = float(np.nanmax(np.where(np.isfinite(tend), tend, 0))) + 1.0
        key = code * span + rel
        rows = []
        nq = len(self._frm)
        logq_p = self._x[None, :nq] + pats @ self._x[nq:].reshape(pats.shape[1], nq)
        Qp = self._Qarr(logq_p)
        pi0 = np.zeros((len(pats), K))
        np.add.at(pi0, (pinv, init), 1.0)
        Pall = msm.pmatrix(Qp, times)  # (patterns, T, K, K)
        for ti, t in enumerate(times):
            risk = tend >= t
            pos = np.searchsorted(key, code[first_idx] * span + t, side="right") - 1
            obs = np.bincount(s[pos][risk], minlength=K)
            n_c = np.bincount(pinv[risk], minlength=len(pats))
            dist = pi0 / np.clip(pi0.sum(axis=1, keepdims=True), 1, None)
            Pt = Pall[:, ti]
            exp_ = (n_c[:, None] * np.einsum("ck,ckj->cj", dist, Pt)).sum(axis=0)
            n = int(risk.sum())
            for k in range(K):
                rows.append({"time": float(t), "state": self.states_[k], "n_at_risk": n,
                             "observed": int(obs[k]), "expected": float(exp_[k]),
                             "observed_pct": 100 * obs[k] / n if n else np.nan,
                             "expected_pct": 100 * exp_[k] / n if n else np.nan})
        return pd.DataFrame(rows)

    def lrtest(self, restricted: TransitionsResults) -> dict[str, float]:
        """Likelihood-ratio test of this model against a nested, simpler one on the same data.

        Returns
        -------
        dict with ``statistic``, ``df`` and ``p_value`` (chi-squared).

        Examples
        --------
        >>> import numpy as np, pandas as pd, longitudinal as lg
        >>> rng = np.random.default_rng(0)
        >>> cov = pd.DataFrame({"x": rng.integers(0, 2, 400).astype(float)})
        >>> d = lg.transitions.simulate_panel([[-1, 1], [0.5, -0.5]], n=400, covariates=cov, seed=1)
        >>> big = lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2], covariates=["x"])
        >>> small = lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2])
        >>> big.lrtest(small)["df"]
        2
        """
        if restricted.nobs != self.nobs or restricted.states_ != self.states_:
            raise ValueError("the two models were not fitted to the same intervals and states "
                             f"({self.nobs} vs {restricted.nobs} intervals)")
        df = self.n_params_ - restricted.n_params_
        if df <= 0:
            raise ValueError(f"the restricted model must have fewer parameters ({restricted.n_params_} "
                             f"vs {self.n_params_})")
        stat = max(2 * (self.loglik - restricted.loglik), 0.0)
        return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}

    # ------------------------------------------------------------ reporting
    def summary(self) -> Summary:
        """The fit, intensities, hazard ratios, sojourn and first-passage times (text; tables in Jupyter)."""
        r = self.data_report_
        lines = [
            "Multi-state Markov model (panel data, P(t) = expm(tQ))",
            "=" * 60,
            f"Outcome area:        {self.outcome or '-'}",
            f"States:              {self.states_}" + (f" (absorbing: {self.absorbing_}"
                                                     f"{', entry time exact' if self.exact_absorbing else ''})"
                                                     if self.absorbing_ else ""),
            f"Episodes / intervals: {r['episodes']:,} / {r['intervals']:,}",
            f"Dropped:             {r['episodes_single_reading_dropped']:,} single-reading episodes, "
            f"{r['rows_blank_state_dropped']:,} blank states, "
            f"{r['episodes_with_duplicate_times_dropped']:,} episodes with duplicate times",
            f"Log-likelihood:      {self.loglik:.3f}   AIC: {self.aic:.2f}   BIC: {self.bic:.2f}",
            f"Converged:           {self.converged} ({self.n_iter_} {self.optimizer_} iterations, "
            f"max |gradient| {self.max_gradient_:.2g})"
            + ("" if self.identified_ else "\nWARNING:             singular information: some parameters "
               "are not identified; standard errors unreliable"),
            "Time resolution:     "
            + ('exact' if not self.time_resolution else f'{self.time_resolution * 365.25:g} day(s)'),
            "",
            f"Baseline intensities per year ({100 * (1 - self.alpha):g}% CI)",
            self.intensities.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        if self._enc.names:
            refs = ", ".join(f"{c}={lev[0]}" for c, lev in self._enc.levels.items())
            lines += ["", f"Hazard ratios (reference: {refs or 'numeric covariates at 0'})",
                      self.hazard_ratios[["covariate", "from", "to", "hazard_ratio", "ci_lower", "ci_upper",
                                          "p_value"]]
                      .to_string(index=False, float_format=lambda v: f"{v:.3f}")]
        lines += ["", "Mean sojourn time (years)",
                  self.sojourn().to_string(float_format=lambda v: f"{v:.3f}")]
        trans = [s for s in self.states_ if s not in self.absorbing_]
        ex = bool(self.absorbing_)
        note = " (had support continued: absorbing states left out)" if ex else ""
        fmt = lambda v: f"{v:.3f}"  # noqa: E731
        if 5 in trans:
            lines += ["", f"Expected years to first reach stage 5{note}",
                      self.first_passage(5, exclude_absorbing=ex).to_string(float_format=fmt)]
        if 4 in trans and 5 in trans:
            lines += ["", f"Expected years to first reach stage 4 or 5{note}",
                      self.first_passage("4+", exclude_absorbing=ex).to_string(float_format=fmt)]
        tables = {"Baseline intensities per year": self.intensities}
        if self._enc.names:
            tables["Hazard ratios"] = self.hazard_ratios
        tables["Mean sojourn time (years)"] = self.sojourn()
        return Summary("\n".join(lines), tables, head="\n".join(lines[:10]))

    def tidy(self) -> pd.DataFrame:
        """Baseline intensities and covariate effects in one table, with a ``component`` column
        (``intensity``, ``hazard_ratio``)."""
        q = self.intensities.assign(component="intensity")
        hr = self.hazard_ratios.assign(component="hazard_ratio")
        return pd.concat([q, hr], ignore_index=True) if len(hr) else q

    def plot(self, times: Sequence[float] | None = None, covariates: Mapping[str, Any] | None = None,
             *, ci: bool = False, n_sim: int = 200, seed: int = 0, fig=None):
        """Transition-probability curves: one panel per starting state, ``P(t)[from, to]`` against t.

        Returns
        -------
        numpy.ndarray of matplotlib.axes.Axes
            The panels (a multi-panel figure: see :mod:`longitudinal.results`); the figure is
            ``axes.flat[0].figure``. ``fig=`` draws into an existing figure.
        """
        import matplotlib.pyplot as plt

        tp = self.transition_probabilities(times, covariates, ci=ci, n_sim=n_sim, seed=seed)
        starts = [s for s in self.states_ if s not in self.absorbing_]
        n = len(starts)
        ncol = min(n, 3)
        nrow = int(np.ceil(n / ncol))
        fig = fig or plt.figure(figsize=(4.2 * ncol, 3.2 * nrow))
        axes = fig.subplots(nrow, ncol, squeeze=False, sharey=True)
        for ax, a in zip(axes.ravel(), starts):
            sub = tp[tp["from"] == a]
            for b in self.states_:
                line = sub[sub["to"] == b]
                h, = ax.plot(line["time"], line["probability"], label=f"to {b}")
                if ci:
                    ax.fill_between(line["time"], line["ci_lower"], line["ci_upper"], alpha=0.15,
                                    color=h.get_color(), linewidth=0)
            ax.set_title(f"from {a}")
            ax.set_xlabel("years")
            ax.set_ylim(0, 1)
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        axes[0, 0].set_ylabel("probability")
        axes[0, 0].legend(fontsize="small")
        fig.suptitle("Transition probabilities P(t)" + (f" — {self.outcome}" if self.outcome else ""))
        fig.tight_layout()
        return axes

    def plot_prevalence(self, times: Sequence[float] | None = None, fig=None):
        """Observed (solid) against expected (dashed) percentage in each state over time.

        Returns the array of panels' Axes (a multi-panel figure: see :mod:`longitudinal.results`)."""
        import matplotlib.pyplot as plt

        pv = self.prevalence(times)
        K = self.K
        ncol = min(K, 3)
        nrow = int(np.ceil(K / ncol))
        fig = fig or plt.figure(figsize=(4.2 * ncol, 3.2 * nrow))
        axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True)
        for ax, s in zip(axes.ravel(), self.states_):
            sub = pv[pv["state"] == s]
            ax.plot(sub["time"], sub["observed_pct"], "o-", label="observed")
            ax.plot(sub["time"], sub["expected_pct"], "--", label="expected")
            ax.set_title(f"state {s}")
            ax.set_xlabel("years since first reading")
        for ax in axes.ravel()[K:]:
            ax.set_visible(False)
        axes[0, 0].set_ylabel("% of episodes")
        axes[0, 0].legend(fontsize="small")
        fig.suptitle("Observed and expected prevalence")
        fig.tight_layout()
        return axes


# ------------------------------------------------------------------ simulation
def simulate_panel(Q: Any, n: int = 1000, *, horizon: float = 2.0,
                   interval_days: tuple[int, int] = (90, 180), initial: Sequence[float] | None = None,
                   covariates: pd.DataFrame | None = None, effects: Mapping[str, Any] | None = None,
                   exact_absorbing: bool = True, states: Sequence[Any] | None = None,
                   seed: int = 0) -> pd.DataFrame:
    """Simulate panel data from a continuous-time Markov chain with known intensities.

    Each subject's chain starts at time 0 and runs exactly (Gillespie); it is
    read at time 0 and then every ``interval_days`` (uniform, whole days)
    until ``horizon`` years. Absorbing states (rows of zeros) end the series:
    recorded at the exact entry time when ``exact_absorbing``, otherwise at
    the next reading.

    Parameters
    ----------
    Q : array-like or DataFrame (K x K)
        Intensities per year (rows sum to zero; the diagonal is recomputed).
    n : int
        Number of subjects.
    horizon : float
        Years of follow-up.
    interval_days : (int, int)
        Range of days between readings.
    initial : sequence of float, optional
        Distribution of the state at time 0; default uniform over non-absorbing states.
    covariates : DataFrame (n rows), optional
        Numeric covariates per subject (returned as columns).
    effects : dict, optional
        ``{covariate: K x K matrix of log hazard ratios}``.
    exact_absorbing : bool
    states : list, optional
        State labels (default the index of a DataFrame ``Q`` or 1..K).
    seed : int

    Returns
    -------
    DataFrame with ``id, time, state`` (and the covariates), sorted.

    Examples
    --------
    >>> d = simulate_panel([[-1, 1], [0.5, -0.5]], n=3, seed=0)
    >>> list(d.columns), bool(d.groupby("id")["time"].min().eq(0).all())
    (['id', 'time', 'state'], True)
    """
    if isinstance(Q, pd.DataFrame):
        states = list(Q.index) if states is None else states
    Qa = np.array(Q, dtype=float)
    K = Qa.shape[0]
    if Qa.shape != (K, K):
        raise ValueError(f"Q must be square, got shape {Qa.shape}")
    off = Qa.copy()
    np.fill_diagonal(off, 0)
    if (off < 0).any():
        raise ValueError("Q has negative off-diagonal intensities")
    states = list(range(1, K + 1)) if states is None else list(states)
    rng = np.random.default_rng(seed)
    logoff = np.zeros((n, K, K))
    if effects:
        if covariates is None:
            raise ValueError("effects need covariates")
        for name, B in effects.items():
            logoff += covariates[name].to_numpy(float)[:, None, None] * np.asarray(B, float)[None]
    Qs = off[None] * np.exp(logoff)
    Qs[:, np.arange(K), np.arange(K)] = -Qs.sum(axis=2)
    absorbing = ~(off > 0).any(axis=1)
    if initial is None:
        initial = np.where(absorbing, 0.0, 1.0)
    initial = np.asarray(initial, float)
    initial = initial / initial.sum()
    s0 = rng.choice(K, size=n, p=initial)
    lo, hi = interval_days
    J = int(np.ceil(horizon * 365.25 / lo)) + 1
    gaps = rng.integers(lo, hi + 1, size=(n, J - 1))
    days = np.c_[np.zeros(n, int), np.cumsum(gaps, axis=1)]
    obs = days / 365.25
    obs[days > horizon * 365.25] = np.nan
    i, t, s = msm.simulate_ctmc(Qs, s0, obs, rng, exact_absorbing=exact_absorbing)
    out = pd.DataFrame({"id": i, "time": t, "state": np.asarray(states, dtype=object)[s]})
    if all(isinstance(v, (int, np.integer)) for v in states):
        out["state"] = out["state"].astype(np.int64)
    if covariates is not None:
        cov = covariates.reset_index(drop=True)
        out = pd.concat([out, cov.iloc[i].reset_index(drop=True)], axis=1)
    return out
