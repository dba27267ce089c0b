"""Designing the study: power and sample size by simulation, with closed-form cross-checks.

Three questions a protocol has to answer, each as a *scenario* (the truth) run over a
:class:`StudyDesign` (people, authorities, allocation, reading schedule, dropout):

:class:`TrajectoryScenario`
    A difference between two groups in the rate of change (or the level) of the Journey of
    Change score, tested in the random intercept and slope model that
    :func:`~longitudinal.fit_trajectories` fits; optional variation between authorities.
:class:`TransitionScenario`
    A hazard ratio of a group on one transition of the multi-state (Journey of Change) model
    that :func:`~longitudinal.fit_transitions` fits.
:class:`SustainedScenario`
    A difference between two groups in the share sustaining their end stage 12 months after a
    planned end, among those still followed up then.

:func:`power` simulates the design's data directly from the scenario (no Study tables), refits
each replicate (the trajectory model from its sufficient statistics with the fast engine of
:mod:`longitudinal.mixed`) and counts rejections: power with its Monte Carlo standard error and
exact (Clopper-Pearson) interval, the fits that failed or did not converge (counted and shown,
never dropped silently), the test and the seed. A fitted model can be the truth instead of
stated parameters, as R simr's ``powerSim(fit)``: pass a ``TrajectoryResults``,
``TransitionsResults`` or ``SustainedResults`` to ``from_fit``, or straight to :func:`power`.

:func:`power_curve` runs a design over a list of sample sizes or numbers of waves (simr's
``powerCurve``); :func:`minimum_detectable_effect` finds the smallest effect with 80% power.
:func:`slope_power` is the closed form of Diggle et al. (2002) / Liu & Liang (1997), as R
longpower's ``diggle.linear.power`` and ``lmmpower``, for the complete balanced design;
:func:`hazard_ratio_power` is Schoenfeld's (and Freedman's, as lifelines) for a hazard ratio, which
the multi-state scenario uses where its tested move is a time to an absorbing event.

Clustering by authority, in all three scenarios: a random intercept and slope per authority
(trajectories), a log-normal frailty on an authority's hazards (multi-state model), a
beta-distributed share with a stated ICC (sustained share). The test is then cluster-robust
(CR1, by authority, t on authorities - 1 df), so the power shown is the power of an analysis
that respects the clustering.

Reproducibility: simulation *i* draws from the *i*-th child of ``SeedSequence(seed)``, whatever
the number of workers, so the same call gives the same answer on 1 or 8 processes. The
effects of a curve or of a minimum-detectable-effect search reuse the same children (common
random numbers), so the power curve over the effect is smooth and monotone up to noise that
does not depend on the effect.

Examples
--------
>>> import longitudinal as lg
>>> design = lg.StudyDesign(people=400, waves=4, dropout=0.1)
>>> res = lg.power(lg.TrajectoryScenario(effect=0.15), design, n_sims=40, seed=1)
>>> res.n_sims, res.n_failed
(40, 0)
>>> 0 <= res.ci_lower <= res.power <= res.ci_upper <= 1
True
"""

from __future__ import annotations

import math
import time as _time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import InputError, LongitudinalError
from .results import Results, Summary, axes_for

__all__ = ["StudyDesign", "WeibullDropout", "TrajectoryScenario", "TransitionScenario", "SustainedScenario",
           "power", "power_curve", "minimum_detectable_effect", "slope_power", "hazard_ratio_power", "clopper_pearson",
           "PowerResults", "PowerCurve", "MDEResults"]


# ------------------------------------------------------------------ the design
@dataclass(frozen=True)
class WeibullDropout:
    """Time to dropout (years) ~ Weibull: ``P(still followed at t) = exp(-(t / scale) ** shape)``."""

    shape: float
    scale: float

    def __post_init__(self):
        if not (self.shape > 0 and self.scale > 0):
            raise InputError(f"WeibullDropout needs shape > 0 and scale > 0 (years), got {self.shape}, {self.scale}")

    def retention(self, t: np.ndarray) -> np.ndarray:
        return np.exp(-(np.asarray(t, float) / self.scale) ** self.shape)


@dataclass(frozen=True)
class StudyDesign:
    """Who is read when: the design a power calculation runs over.

    Parameters
    ----------
    people : int
        People in the study (both groups; for :class:`SustainedScenario`, people with a planned
        end who are due a follow-up).
    waves : int
        Readings per person, every ``interval`` years from 0 (ignored when ``times`` is given).
    interval : float
        Years between readings.
    times : sequence of float, optional
        The reading schedule in years, starting at 0 (overrides ``waves`` and ``interval``).
    dropout : float or WeibullDropout
        A float: the chance of being lost before each reading after the first (monotone
        dropout, so ``(1 - dropout) ** j`` are still read at reading ``j``). A
        :class:`WeibullDropout`: a time to dropout; readings after it are missing.
    allocation : float
        Share of people in the comparison group (the other is the reference).
    authorities : int
        Clusters (local authorities) of equal size; people are spread over them in turn.
    cluster_allocation : bool
        Whole authorities are in one group (a cluster design, e.g. a change of service
        commissioned by some authorities); otherwise each authority has both groups in the
        ``allocation`` ratio.
    """

    people: int = 2000
    waves: int = 5
    interval: float = 1.0
    times: tuple[float, ...] | None = None
    dropout: float | WeibullDropout = 0.0
    allocation: float = 0.5
    authorities: int = 1
    cluster_allocation: bool = False

    def __post_init__(self):
        if self.times is not None:
            object.__setattr__(self, "times", tuple(float(v) for v in self.times))
            t = np.asarray(self.times)
            if t.size < 1 or t[0] != 0 or np.any(np.diff(t) <= 0) or not np.all(np.isfinite(t)):
                raise InputError(f"times must start at 0 and increase, got {self.times}")
        elif int(self.waves) < 1 or not self.interval > 0:
            raise InputError(f"waves must be >= 1 and interval > 0, got waves={self.waves}, interval={self.interval}")
        if int(self.people) < 2:
            raise InputError(f"people must be at least 2, got {self.people}")
        if not 0 < self.allocation < 1:
            raise InputError(f"allocation is the share in the comparison group, strictly between 0 and 1; "
                             f"got {self.allocation}")
        if int(self.authorities) < 1 or int(self.authorities) > int(self.people):
            raise InputError(f"authorities must be between 1 and people, got {self.authorities}")
        if self.cluster_allocation and int(self.authorities) < 2:
            raise InputError("cluster_allocation needs at least 2 authorities (one per group)")
        if not isinstance(self.dropout, WeibullDropout) and not 0 <= float(self.dropout) < 1:
            raise InputError(f"dropout per reading must be in [0, 1), got {self.dropout}; for a time to "
                             "dropout pass WeibullDropout(shape, scale)")

    @property
    def reading_times(self) -> np.ndarray:
        if self.times is not None:
            return np.asarray(self.times)
        return np.arange(int(self.waves)) * float(self.interval)

    def retention(self) -> np.ndarray:
        """Expected share still read at each reading."""
        t = self.reading_times
        if isinstance(self.dropout, WeibullDropout):
            return self.dropout.retention(t)
        return (1.0 - float(self.dropout)) ** np.arange(t.size)

    def layout(self) -> tuple[np.ndarray, np.ndarray]:
        """Authority (0..A-1) and group (0 reference, 1 comparison) of each person: fixed, not drawn,
        so every replicate has exactly the allocation asked for (``round(people * allocation)`` in
        the comparison group, spread evenly over the authorities and within each)."""
        n, a = int(self.people), int(self.authorities)
        auth = np.arange(n) % a
        if self.cluster_allocation:
            k = int(round(a * self.allocation))
            if not 0 < k < a:
                raise InputError(f"cluster_allocation with {a} authorities and allocation {self.allocation} "
                                 "puts every authority in one group")
            return auth, _spread(a, k)[auth].astype(float)
        k = int(round(n * self.allocation))
        if not 0 < k < n:
            raise InputError(f"{n} people with allocation {self.allocation} leave a group empty")
        size = np.bincount(auth, minlength=a)
        ideal = size * k / n
        per = np.floor(ideal).astype(int)
        extra = np.argsort(-(ideal - per), kind="stable")[: k - per.sum()]  # largest remainders
        per[extra] += 1
        grp = np.zeros(n)
        for c in range(a):
            grp[auth == c] = _spread(int(size[c]), int(per[c]))
        return auth, grp

    def readings_kept(self, rng: np.random.Generator) -> np.ndarray:
        """Number of readings seen per person (at least the first): monotone dropout."""
        n, J = int(self.people), self.reading_times.size
        if isinstance(self.dropout, WeibullDropout):
            d = self.dropout.scale * rng.weibull(self.dropout.shape, n)
            return np.maximum(np.searchsorted(self.reading_times, d, side="left"), 1)
        if float(self.dropout) == 0:
            return np.full(n, J)
        return np.minimum(rng.geometric(float(self.dropout), n), J)

    def describe(self) -> str:
        t = self.reading_times
        drop = (f"Weibull time to dropout (shape {self.dropout.shape:g}, scale {self.dropout.scale:g} y)"
                if isinstance(self.dropout, WeibullDropout) else f"{float(self.dropout):.0%} lost before each reading")
        alloc = "whole authorities" if self.cluster_allocation else "within each authority"
        where = f"authorit{'y' if self.authorities == 1 else 'ies'}"
        return (f"{int(self.people):,} people in {int(self.authorities)} {where}, "
                f"{self.allocation:.0%} in the comparison group ({alloc}); readings at "
                f"{', '.join(f'{v:g}' for v in t)} years; {drop} "
                f"(share read at the last reading: {self.retention()[-1]:.0%})")


def _spread(m: int, k: int) -> np.ndarray:
    """``k`` ones spread evenly over ``m`` places."""
    r = np.arange(m)
    return np.floor((r + 1) * k / m) > np.floor(r * k / m)


# ------------------------------------------------------------------ scenarios
@dataclass
class _Outcome:
    """One replicate's test: the estimate, its SE, the reference distribution's df (inf: normal)."""

    estimate: float = np.nan
    std_error: float = np.nan
    df: float = np.inf
    converged: bool = True
    boundary: bool = False
    error: str = ""


@dataclass(frozen=True)
class TrajectoryScenario:
    """The truth for a difference between two groups in the trajectory model.

    ``score = intercept + slope t + level_difference g + effect g t + u0 + u1 t + a0 + a1 t + e``
    for a person in group ``g`` (0/1) of authority ``a``, ``t`` years since the start;
    ``(u0, u1)`` per person with SDs ``sd_intercept, sd_slope`` and correlation ``corr``,
    ``(a0, a1)`` per authority (SDs ``authority_sd_intercept, authority_sd_slope``), ``e`` the
    residual. The defaults are illustrative values of the order the demonstration study's fits
    give (stages and years); replace them with a pilot's (:meth:`from_fit`).

    ``term="slope"`` tests ``effect`` as the group difference in the rate of change
    (stages per year), ``term="level"`` tests it as the difference at the start (then
    ``level_difference`` is ignored). The analysis is the random intercept and slope model
    with the group, time and their interaction, fitted by REML; the test is a Wald z test
    with the model-based SE, or, when the truth has variation between authorities, a Wald t
    test with a cluster-robust (CR1) SE by authority on (authorities - 1) df, because the
    person-level model ignores the authority level.
    """

    effect: float = 0.1
    term: str = "slope"
    intercept: float = 2.5
    slope: float = 0.5
    level_difference: float = 0.0
    sd_intercept: float = 0.6
    sd_slope: float = 0.25
    corr: float = -0.3
    residual_sd: float = 0.45
    authority_sd_intercept: float = 0.0
    authority_sd_slope: float = 0.0
    test: str = "auto"

    what = "difference in the rate of change (stages a year)"
    null = 0.0
    closed_form = "Diggle / Liu-Liang"

    def __post_init__(self):
        if self.term not in ("slope", "level"):
            raise InputError(f"term must be 'slope' (difference in rate of change) or 'level', not {self.term!r}")
        if min(self.sd_intercept, self.sd_slope, self.authority_sd_intercept, self.authority_sd_slope) < 0 \
                or not self.residual_sd > 0 or not -1 <= self.corr <= 1:
            raise InputError("SDs must be >= 0 (residual_sd > 0) and corr in [-1, 1]")
        if self.test not in ("auto", "z", "cluster"):
            raise InputError(f"test must be 'auto', 'z' or 'cluster', not {self.test!r}")

    @property
    def clustered(self) -> bool:
        return self.authority_sd_intercept > 0 or self.authority_sd_slope > 0

    def check(self, design: StudyDesign) -> None:
        """Fail once, before any replicate, on a design this scenario cannot run."""
        self.test_name(design)

    def test_name(self, design: StudyDesign) -> str:
        cluster = self.test == "cluster" or (self.test == "auto" and self.clustered)
        if cluster:
            if design.authorities < 2:
                raise InputError("a cluster-robust test needs at least 2 authorities in the design")
            return f"Wald t, cluster-robust (CR1) SE by authority, {design.authorities - 1} df"
        return "Wald z, model-based SE (REML)"

    @property
    def cov_re(self) -> np.ndarray:
        c = self.corr * self.sd_intercept * self.sd_slope
        return np.array([[self.sd_intercept**2, c], [c, self.sd_slope**2]])

    def with_effect(self, effect: float) -> TrajectoryScenario:
        return replace(self, effect=float(effect))

    @classmethod
    def from_fit(cls, fit, term: str | None = None, *, effect: float | None = None,
                 slope_term: str = "time") -> TrajectoryScenario:
        """The fitted trajectory model as the truth (simr's ``powerSim(fit)``).

        ``fit`` is a :class:`~longitudinal.TrajectoryResults` with a random intercept and slope.
        Its intercept, ``slope_term`` coefficient, random-effect covariance and residual SD
        become the truth. ``term`` names the coefficient whose estimate is the effect: an
        interaction with ``slope_term`` (e.g. ``"time:service_type[T.short_term]"``) is a
        difference in the rate of change, any other a difference in level. Without ``term``,
        give ``effect`` (a difference in the rate of change).
        """
        fe = fit.fixed_effects["estimate"]
        for need in ("Intercept", slope_term):
            if need not in fe.index:
                raise InputError(f"the pilot fit has no {need!r} coefficient (terms: {', '.join(fe.index)}); "
                                 "fit score ~ time (+ group) with a random slope, or state the parameters")
        cov = np.asarray(fit.cov_re, float)
        if cov.shape[0] < 2:
            raise InputError("the pilot fit has no random slope: fit it with random='1 + time'")
        if cov.shape[0] > 2:
            raise InputError(f"the pilot fit has {cov.shape[0]} random effects; power is simulated for a random "
                             "intercept and slope: refit with random='1 + time'")
        kind = "slope"
        if term is not None:
            if term not in fe.index:
                raise InputError(f"term {term!r} is not a coefficient of the pilot fit; terms: {', '.join(fe.index)}")
            kind = "slope" if slope_term in term.split(":") else "level"
            if effect is None:
                effect = float(fe[term])
        elif effect is None:
            raise InputError("name the pilot's coefficient to test (term=...) or give effect=")
        sd = np.sqrt(np.diag(cov))
        corr = float(cov[0, 1] / (sd[0] * sd[1])) if sd.all() else 0.0
        return cls(effect=float(effect), term=kind, intercept=float(fe["Intercept"]), slope=float(fe[slope_term]),
                   sd_intercept=float(sd[0]), sd_slope=float(sd[1]), corr=corr, residual_sd=float(fit.sigma))

    # --------------------------------------------------------- one replicate
    def simulate(self, design: StudyDesign, rng: np.random.Generator):
        """Readings of one replicate, rows sorted by person: (y, X, person starts, authority)."""
        t_all = design.reading_times
        auth, grp = design.layout()
        n = grp.size
        kept = design.readings_kept(rng)
        u = rng.multivariate_normal(np.zeros(2), self.cov_re, size=n, method="cholesky")
        a = rng.normal(size=(int(design.authorities), 2)) * [self.authority_sd_intercept, self.authority_sd_slope]
        # row j of person i exists when j < kept[i]
        person = np.repeat(np.arange(n), kept)
        starts = np.r_[0, np.cumsum(kept)[:-1]]
        t = t_all[np.arange(person.size) - starts[person]]
        g = grp[person]
        level = 0.0 if self.term == "level" else self.level_difference
        b0 = self.intercept + level * grp + u[:, 0] + a[auth, 0]
        b1 = self.slope + u[:, 1] + a[auth, 1]
        eff = self.effect * (g if self.term == "level" else g * t)
        y = b0[person] + b1[person] * t + eff + rng.normal(0.0, self.residual_sd, person.size)
        X = np.column_stack([np.ones_like(t), t, g, g * t])
        return y, X, starts, auth

    def _start(self) -> np.ndarray | None:
        """The truth's person-level covariance as the fit's starting ``theta`` (relative Cholesky factor)."""
        try:
            L = np.linalg.cholesky(self.cov_re / self.residual_sd**2)
        except np.linalg.LinAlgError:  # a zero SD or |corr| = 1: the fit's own start
            return None
        return L[np.tril_indices(2)]

    def analyse(self, design: StudyDesign, rng: np.random.Generator) -> _Outcome:
        from .mixed import SufficientStats, fit_lmm

        y, X, starts, auth = self.simulate(design, rng)
        st = SufficientStats.from_arrays(y, X, X[:, :2], starts)
        # a projected gradient of 1e-5 (not the default 1e-7) halves the evaluations, and starting at
        # the truth's covariance saves a third of the rest; the estimates move by ~1e-13 and the SEs
        # by ~1e-5 relative (measured, 100 replicates), nothing to a test's decision
        fit = fit_lmm(None, None, None, stats=st, gtol=1e-5, start=self._start())
        k = 3 if self.term == "slope" else 2
        est = float(fit.beta[k])
        if "cluster" in self.test_name(design):
            se, df = _cluster_robust_se(fit, y, X, starts, auth, k, int(design.authorities))
        else:
            se, df = float(np.sqrt(fit.cov_beta[k, k])), np.inf
        return _Outcome(est, se, df, bool(fit.converged), bool(fit.boundary))

    # Adding effect * g t (or g) to y moves the data inside the column space of X: the REML (and
    # ML) variance estimates and the SE are unchanged and the estimate moves by exactly the change
    # in the effect. So one fit per replicate gives the test at every effect (common random numbers).
    shift_invariant = True

    def analytic_power(self, design: StudyDesign, alpha: float) -> float | None:
        """Closed-form power (Diggle / Liu-Liang) where it applies: complete data, no authority level."""
        if self.clustered or "cluster" in self.test_name(design):
            return None
        if isinstance(design.dropout, WeibullDropout) or float(design.dropout) > 0:
            return None
        _, grp = design.layout()
        n1 = float(grp.sum())
        n0 = grp.size - n1
        return slope_power(delta=self.effect, times=design.reading_times, cov_re=self.cov_re,
                           residual_var=self.residual_sd**2, n=(n0, n1), alpha=alpha,
                           term=self.term)["power"]

    def describe(self) -> str:
        what = "difference in rate of change" if self.term == "slope" else "difference in level"
        s = (f"trajectory model: {what} {self.effect:g}; intercept {self.intercept:g}, slope {self.slope:g}/year, "
             f"SD intercept {self.sd_intercept:g}, SD slope {self.sd_slope:g}, corr {self.corr:g}, "
             f"residual SD {self.residual_sd:g}")
        if self.clustered:
            s += (f"; authority SDs: intercept {self.authority_sd_intercept:g}, "
                  f"slope {self.authority_sd_slope:g}")
        return s


def _cluster_robust_se(fit, y, X, starts, auth, k, n_auth) -> tuple[float, float]:
    """CR1 sandwich SE of coefficient ``k`` by authority, for the LMM's GLS estimate.

    Each person's GLS score is ``X_i' V_i^-1 (y_i - X_i beta)``, which (in units of sigma^2) is
    ``X_i'(y_i - X_i beta - Z_i b_i)`` with ``b_i`` the BLUP; summed by authority and sandwiched
    between ``(X'V^-1X)^-1``, the sigma^2 factors cancel.
    """
    person = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, y.size]))
    resid = y - X @ fit.beta - fit.blups[person, 0] - fit.blups[person, 1] * X[:, 1]
    scores = X * resid[:, None]
    by_auth = np.zeros((n_auth, X.shape[1]))
    np.add.at(by_auth, auth[person], scores)
    return _cr1(fit.cov_beta / fit.sigma2, by_auth, X.shape[0], k)


def _cr1(bread: np.ndarray, cluster_scores: np.ndarray, n: int, k: int) -> tuple[float, float]:
    """CR1 sandwich SE of parameter ``k`` from the scores summed by cluster (one row per cluster),
    on (clusters - 1) df: ``c B (sum_g s_g s_g') B`` with ``c = G/(G-1) (n-1)/(n-p)`` for ``n``
    observations and ``p`` parameters (Stata's and statsmodels' small-sample factor)."""
    G, p = cluster_scores.shape
    c = G / (G - 1) * (n - 1) / (n - p)
    V = c * bread @ (cluster_scores.T @ cluster_scores) @ bread
    return float(np.sqrt(V[k, k])), float(G - 1)


#: Illustrative intensities (per year) of the five Journey of Change stages, adjacent moves.
JOURNEY_Q = ((-0.6, 0.6, 0, 0, 0), (0.2, -0.8, 0.6, 0, 0), (0, 0.2, -0.7, 0.5, 0), (0, 0, 0.2, -0.6, 0.4),
             (0, 0, 0, 0.3, -0.3))


@dataclass(frozen=True)
class TransitionScenario:
    """The truth for a hazard ratio of a group on one transition of the multi-state model.

    The comparison group's intensity of ``transition`` is ``hazard_ratio`` times the reference
    group's; the other intensities are those of ``Q`` (per year) for both. Each person's chain
    starts in a state drawn from ``initial`` (default: uniform over the non-absorbing states)
    and is read at the design's reading times until dropout. The analysis is
    :func:`~longitudinal.fit_transitions` with the group as a covariate on that transition
    only (msm's transition-specific covariate), and the test is the Wald z test of its log
    hazard ratio.

    Clustering by authority: with ``authority_sd`` > 0 every intensity of the people of an
    authority is multiplied by a log-normal frailty ``exp(authority_sd * z)``, ``z ~ N(0, 1)``
    per authority (median 1), so authorities move people through the stages at different
    speeds. The person-level model ignores it; the test is then (``test="auto"``) a Wald t
    test with a cluster-robust (CR1) SE by authority on (authorities - 1) df, from each
    authority's score of the multi-state likelihood at the fit. ``icc`` is the frailty's
    intraclass correlation on the latent log-time scale, ``sd^2 / (sd^2 + pi^2 / 6)``.

    Closed form: where the tested transition is the only way out of a state everyone starts in
    and ends in an absorbing state whose entry time is known (a time-to-event outcome, e.g.
    ``Q=((-0.3, 0.3), (0, 0))``), the hazard ratio's Wald test is that of an exponential
    (proportional hazards) model, and :meth:`analytic_power` is Schoenfeld's formula at the
    design's expected number of events (:func:`hazard_ratio_power`).
    """

    hazard_ratio: float = 1.5
    transition: tuple[Any, Any] = (3, 4)
    Q: tuple[tuple[float, ...], ...] = JOURNEY_Q
    states: tuple[Any, ...] | None = None
    initial: tuple[float, ...] | None = None
    authority_sd: float = 0.0
    test: str = "auto"

    what = "hazard ratio"
    null = 1.0
    shift_invariant = False
    closed_form = "Schoenfeld, at the expected events"

    def __post_init__(self):
        Q = np.asarray(self.Q, float)
        object.__setattr__(self, "Q", tuple(map(tuple, Q.tolist())))
        K = Q.shape[0]
        if Q.shape != (K, K):
            raise InputError(f"Q must be square, got shape {Q.shape}")
        states = tuple(range(1, K + 1)) if self.states is None else tuple(self.states)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "transition", tuple(self.transition))
        r, s = self.transition
        if r not in states or s not in states:
            raise InputError(f"transition {self.transition} is not between the states {list(states)}")
        if Q[states.index(r), states.index(s)] <= 0:
            raise InputError(f"transition {r}->{s} has intensity 0 in Q: a hazard ratio on it has nothing to act on")
        if not self.hazard_ratio > 0:
            raise InputError(f"hazard_ratio must be > 0, got {self.hazard_ratio}")
        if not self.authority_sd >= 0:
            raise InputError(f"authority_sd (SD of the log frailty) must be >= 0, got {self.authority_sd}")
        if self.test not in ("auto", "z", "cluster"):
            raise InputError(f"test must be 'auto', 'z' or 'cluster', not {self.test!r}")

    @property
    def effect(self) -> float:
        return float(self.hazard_ratio)

    @property
    def icc(self) -> float:
        """Intraclass correlation of the authority frailty on the latent log-time scale."""
        return self.authority_sd**2 / (self.authority_sd**2 + math.pi**2 / 6)

    def with_effect(self, effect: float) -> TransitionScenario:
        return replace(self, hazard_ratio=float(effect))

    def check(self, design: StudyDesign) -> None:
        if design.reading_times.size < 2:
            raise InputError("a transition model needs at least 2 readings per person")
        self.test_name(design)

    def test_name(self, design: StudyDesign) -> str:
        if self.test == "cluster" or (self.test == "auto" and self.authority_sd > 0):
            if design.authorities < 2:
                raise InputError("a cluster-robust test needs at least 2 authorities in the design")
            return (f"Wald t on the log hazard ratio, cluster-robust (CR1) SE by authority, "
                    f"{design.authorities - 1} df")
        return "Wald z on the log hazard ratio (observed information)"

    @classmethod
    def from_fit(cls, fit, covariate: str | None = None, transition: tuple[Any, Any] | None = None, *,
                 hazard_ratio: float | None = None) -> TransitionScenario:
        """A fitted :class:`~longitudinal.TransitionsResults` as the truth: its baseline ``Q`` and,
        if ``covariate`` names one of its effects on ``transition``, that hazard ratio."""
        Q = fit.Q
        if transition is None:
            raise InputError("name the transition, e.g. transition=(3, 4)")
        if hazard_ratio is None:
            if covariate is None:
                raise InputError("give hazard_ratio= or name the pilot's covariate whose hazard ratio is the truth")
            hr = fit.hazard_ratios
            row = hr[(hr["covariate"] == covariate) & (hr["from"] == transition[0]) & (hr["to"] == transition[1])]
            if row.empty:
                have = ", ".join(f"{c} on {a}->{b}"
                                 for c, a, b in hr[["covariate", "from", "to"]].itertuples(index=False))
                raise InputError(f"the pilot fit has no effect of {covariate!r} on {transition[0]}->{transition[1]}; "
                                 f"it has: {have or 'no covariate effects'}")
            hazard_ratio = float(row["hazard_ratio"].iloc[0])
        return cls(hazard_ratio=float(hazard_ratio), transition=tuple(transition),
                   Q=tuple(map(tuple, Q.to_numpy(float).tolist())), states=tuple(Q.index))

    # --------------------------------------------------------- one replicate
    def _structure(self):
        """Off-diagonal intensities, absorbing states, initial distribution, tested (from, to) codes."""
        Q = np.asarray(self.Q, float)
        K = Q.shape[0]
        off = np.where(np.eye(K, dtype=bool), 0.0, Q)
        absorbing = ~(off > 0).any(axis=1)
        init = np.where(absorbing, 0.0, 1.0) if self.initial is None else np.asarray(self.initial, float)
        r, s = (self.states.index(v) for v in self.transition)
        return off, absorbing, init / init.sum(), r, s

    def simulate(self, design: StudyDesign, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """Readings of one replicate (``id, time, state, group``, sorted by id and time; an
        absorbing state at its exact entry time) and each person's authority."""
        from . import msm

        off, absorbing, init, r, s = self._structure()
        K = off.shape[0]
        auth, grp = design.layout()
        n = grp.size
        Qs = np.repeat(off[None], n, axis=0)
        Qs[:, r, s] *= np.where(grp == 1, self.hazard_ratio, 1.0)
        s0 = rng.choice(K, size=n, p=init)
        t = design.reading_times
        kept = design.readings_kept(rng)
        if self.authority_sd > 0:  # drawn only when asked, so unclustered replicates keep their numbers
            frailty = np.exp(self.authority_sd * rng.normal(size=int(design.authorities)))
            Qs *= frailty[auth][:, None, None]
        Qs[:, np.arange(K), np.arange(K)] = -Qs.sum(axis=2)
        obs = np.where(np.arange(t.size)[None, :] < kept[:, None], t[None, :], np.nan)
        i, tt, ss = msm.simulate_ctmc(Qs, s0, obs, rng, exact_absorbing=True)
        state = np.asarray(self.states, dtype=object)[ss]
        if all(isinstance(v, (int, np.integer)) for v in self.states):
            state = state.astype(int)
        return pd.DataFrame({"id": i, "time": tt, "state": state, "code": ss, "group": grp[i]}), auth

    def analyse(self, design: StudyDesign, rng: np.random.Generator) -> _Outcome:
        from .transitions import fit_transitions

        off, absorbing, _, r, s = self._structure()
        panel, auth = self.simulate(design, rng)
        with warnings.catch_warnings():
            # a replicate's warnings are summed up in the results (converged, boundary), not printed
            warnings.simplefilter("ignore")
            fit = fit_transitions(panel.drop(columns="code"), id="id", time="time", score="state",
                                  states=list(self.states), allowed=(off > 0), covariates={"group": [self.transition]},
                                  absorbing=[self.states[j] for j in np.flatnonzero(absorbing)] or None,
                                  time_resolution=None)
        hr = fit.hazard_ratios.iloc[0]
        est, se, df = float(hr["estimate"]), float(hr["std_error"]), np.inf
        if "cluster" in self.test_name(design):
            se, df = _transition_cluster_se(fit, panel, auth, off, absorbing, (r, s), int(design.authorities))
        # a singular information (an intensity the replicate cannot identify) is the boundary case here
        return _Outcome(est, se, df, bool(fit.converged), not bool(fit.identified_))

    # --------------------------------------------------------- closed form
    def expected_events(self, design: StudyDesign) -> tuple[float, float] | None:
        """Expected numbers of the tested transition in the reference and comparison groups, where
        it is a time-to-event outcome (everyone starts in its origin, every way out of which ends
        in an absorbing state entered at a known time); None otherwise.

        Follow-up ends at each person's last reading: ``P(last reading is j) = R_j - R_{j+1}`` from
        the design's retention ``R``, and a person with hazards ``q_s`` out of the origin
        (``q = sum q_s``) followed for ``t`` has the tested event with probability
        ``q_tested / q (1 - exp(-q t))`` (cause-specific hazards)."""
        off, absorbing, init, r, s = self._structure()
        exits = np.flatnonzero(off[r] > 0)
        if init[r] < 1 or not absorbing[exits].all():
            return None
        ret = np.r_[design.retention(), 0.0]
        last = ret[:-1] - ret[1:]
        _, grp = design.layout()
        n1 = float(grp.sum())
        out = []
        for g, count in ((0, grp.size - n1), (1, n1)):
            q_s = off[r, s] * (self.hazard_ratio if g else 1.0)
            q = off[r].sum() - off[r, s] + q_s
            p = float(np.sum(last * q_s / q * -np.expm1(-q * design.reading_times)))
            out.append(count * p)
        return out[0], out[1]

    def analytic_power(self, design: StudyDesign, alpha: float) -> float | None:
        """Schoenfeld's power at the expected events (time-to-event special case, no clustering)."""
        ev = self.expected_events(design)
        if ev is None or self.authority_sd > 0 or "cluster" in self.test_name(design):
            return None
        _, grp = design.layout()
        return hazard_ratio_power(self.hazard_ratio, events=sum(ev), allocation=float(grp.mean()),
                                  alpha=alpha)["power"]

    def describe(self) -> str:
        r, s = self.transition
        text = (f"multi-state model: hazard ratio {self.hazard_ratio:g} on {r}->{s}; baseline intensities Q "
                f"(per year, {len(self.states)} states)")
        if self.authority_sd > 0:
            text += f"; authority frailty SD {self.authority_sd:g} (log scale; ICC {self.icc:.3f})"
        return text


def _transition_cluster_se(fit, panel: pd.DataFrame, auth: np.ndarray, off: np.ndarray, absorbing: np.ndarray,
                           tested: tuple[int, int], n_auth: int) -> tuple[float, float]:
    """CR1 SE by authority of the log hazard ratio of a fit of :meth:`TransitionScenario.analyse`.

    The log-likelihood is a sum over people, so each authority's score is the gradient of its
    own people's likelihood (:func:`longitudinal.msm.loglik_grad` on their intervals) at the
    fitted parameters; the bread is the fit's inverse observed information."""
    from . import msm

    code, pid = panel["code"].to_numpy(), panel["id"].to_numpy()
    same = pid[1:] == pid[:-1]
    frm_s, to_s = code[:-1][same], code[1:][same]
    dt = np.diff(panel["time"].to_numpy())[same]
    who = pid[:-1][same]
    grp = panel["group"].to_numpy()[:-1][same].astype(int)
    frm, to = np.nonzero(off > 0)
    nq = frm.size
    k = int(np.flatnonzero((frm == tested[0]) & (to == tested[1]))[0])
    free = np.r_[np.ones(nq, bool), np.arange(nq) == k]
    params = np.zeros(2 * nq)
    params[free] = fit.params_.to_numpy()
    scores = np.zeros((n_auth, int(free.sum())))
    where = auth[who]
    for a in range(n_auth):
        m = where == a
        if not m.any():
            continue
        pats, pattern = np.unique(grp[m], return_inverse=True)
        data = msm.build_panel(off.shape[0], pattern, pats[:, None].astype(float), dt[m], frm_s[m], to_s[m],
                               absorbing[to_s[m]])
        scores[a] = msm.loglik_grad(params, data, frm, to)[1][free]
    return _cr1(fit.cov_params_.to_numpy(), scores, np.unique(who).size, nq)


@dataclass(frozen=True)
class SustainedScenario:
    """The truth for a difference in the share sustaining their end stage at ``months`` after a planned end.

    ``share_reference`` of the reference group and ``share_reference + effect`` of the
    comparison group still hold their end stage at ``months``; it is seen only for those still
    followed up at the first reading at or after ``months`` (the design's ``times`` are the
    follow-up schedule in years from the end, e.g. ``(0, 0.5, 1, 2)``, and its ``dropout`` the
    losses to follow-up, assumed unrelated to the outcome). The test is the pooled two-sample
    z test of proportions among those seen.

    Clustering by authority: with ``authority_icc`` = rho > 0 an authority's share in a group is
    drawn from a beta distribution with the group's share as its mean and
    ``rho = 1 / (a + b + 1)``, so two people of one authority and group have outcomes correlated
    by exactly rho (the ICC of cluster-trial design effects, ``1 + (m - 1) rho``). An authority
    sits at the same quantile of both groups' distributions (a shared authority effect). The
    test is then (``test="auto"``) a Wald t test of the difference with a cluster-robust (CR1)
    SE by authority (a linear probability model), on (authorities - 1) df; the closed form,
    where whole authorities are in one group, inflates the normal approximation by the design
    effect and uses the t critical value.
    """

    effect: float = 0.1
    share_reference: float = 0.7
    months: float = 12.0
    authority_icc: float = 0.0
    test: str = "auto"

    what = "difference in the share sustained"
    null = 0.0
    shift_invariant = False
    closed_form = "normal approximation"

    def __post_init__(self):
        p1 = self.share_reference + self.effect
        if not (0 < self.share_reference < 1 and 0 < p1 < 1):
            raise InputError(f"shares must be in (0, 1): reference {self.share_reference}, comparison {p1}")
        if not self.months > 0:
            raise InputError(f"months must be > 0, got {self.months}")
        if not 0 <= self.authority_icc < 1:
            raise InputError(f"authority_icc must be in [0, 1), got {self.authority_icc}")
        if self.test not in ("auto", "z", "cluster"):
            raise InputError(f"test must be 'auto', 'z' or 'cluster', not {self.test!r}")

    def with_effect(self, effect: float) -> SustainedScenario:
        return replace(self, effect=float(effect))

    def check(self, design: StudyDesign) -> None:
        self._seen(design)
        self.test_name(design)

    def test_name(self, design: StudyDesign) -> str:
        if self.test == "cluster" or (self.test == "auto" and self.authority_icc > 0):
            if design.authorities < 2:
                raise InputError("a cluster-robust test needs at least 2 authorities in the design")
            return f"Wald t, cluster-robust (CR1) SE by authority, {design.authorities - 1} df"
        return "two-sample z test of proportions (pooled variance)"

    @classmethod
    def from_fit(cls, fit, *, months: float = 12.0) -> SustainedScenario:
        """A :class:`~longitudinal.SustainedResults` with exactly two groups as the truth: the first
        group's share sustained at ``months`` is the reference, the second's minus it the effect."""
        tab = fit.at_months([months]).dropna(subset=["survival"])
        if len(tab) != 2:
            raise InputError(f"the pilot has {len(tab)} groups with a share sustained at {months:g} months; "
                             "fit sustained_outcomes with by= a two-level column (e.g. service_type)")
        p = tab["survival"].to_numpy(float)
        return cls(effect=float(p[1] - p[0]), share_reference=float(p[0]), months=float(months))

    def _seen(self, design: StudyDesign) -> np.ndarray:
        t = design.reading_times
        at = np.searchsorted(t, self.months / 12.0 - 1e-9)
        if at >= t.size:
            raise InputError(f"the follow-up schedule {tuple(t)} (years) does not reach {self.months:g} months")
        return at

    def simulate(self, design: StudyDesign, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """One replicate: each person's authority, group, whether seen at ``months``, whether sustained."""
        auth, grp = design.layout()
        seen = design.readings_kept(rng) > self._seen(design)
        p = np.where(grp == 1, self.share_reference + self.effect, self.share_reference)
        if self.authority_icc > 0:  # drawn only when asked, so unclustered replicates keep their numbers
            u = rng.random(int(design.authorities))
            m = 1 / self.authority_icc - 1  # a + b of the beta distribution
            share = np.array([self.share_reference, self.share_reference + self.effect])
            by_auth = stats.beta.ppf(u[:, None], share * m, (1 - share) * m)  # (authority, group)
            p = by_auth[auth, grp.astype(int)]
        return auth, grp, seen, rng.random(grp.size) < p

    def analyse(self, design: StudyDesign, rng: np.random.Generator) -> _Outcome:
        auth, grp, seen, sustained = self.simulate(design, rng)
        n1, n0 = int((seen & (grp == 1)).sum()), int((seen & (grp == 0)).sum())
        if n0 == 0 or n1 == 0:
            raise LongitudinalError("nobody followed up in one group")
        x1, x0 = int((sustained & seen & (grp == 1)).sum()), int((sustained & seen & (grp == 0)).sum())
        pool = (x0 + x1) / (n0 + n1)
        se = math.sqrt(pool * (1 - pool) * (1 / n0 + 1 / n1))
        if se == 0:
            raise LongitudinalError("every person seen had the same outcome: the test is undefined")
        diff, df = x1 / n1 - x0 / n0, np.inf
        if "cluster" in self.test_name(design):
            # the difference is the slope of a linear probability model y ~ 1 + group among those seen
            g, y = grp[seen], sustained[seen].astype(float)
            X = np.column_stack([np.ones_like(g), g])
            resid = y - np.where(g == 1, x1 / n1, x0 / n0)
            by_auth = np.zeros((int(design.authorities), 2))
            np.add.at(by_auth, auth[seen], X * resid[:, None])
            se, df = _cr1(np.linalg.inv(X.T @ X), by_auth, int(y.size), 1)
        return _Outcome(diff, se, df, True, False)

    def analytic_power(self, design: StudyDesign, alpha: float) -> float | None:
        """Normal-approximation power of the pooled z test at the expected numbers seen; with an
        authority ICC and whole authorities in a group, variances times the design effect
        ``1 + (m - 1) rho`` (``m`` people seen per authority) and the t critical value. That is a
        many-authorities approximation: with 66 authorities (ICC 0.06) it met 1,000 simulations
        (0.780 against 0.785); with 22 (ICC 0.02, 2,200 people) it gave 0.748 where 2,000
        simulations of the cluster-robust test gave 0.780 (MC SE 0.009) at its nominal size."""
        _, grp = design.layout()
        keep = float(design.retention()[self._seen(design)])
        n1, n0 = grp.sum() * keep, (grp.size - grp.sum()) * keep
        p0, p1 = self.share_reference, self.share_reference + self.effect
        pbar = (n0 * p0 + n1 * p1) / (n0 + n1)
        deff, z = 1.0, stats.norm.ppf(1 - alpha / 2)
        if "cluster" in self.test_name(design):
            if not design.cluster_allocation:
                return None  # a shared authority effect partly cancels in the difference: no simple form
            deff = 1 + ((n0 + n1) / design.authorities - 1) * self.authority_icc
            z = stats.t.ppf(1 - alpha / 2, design.authorities - 1)
        s0 = math.sqrt(deff * pbar * (1 - pbar) * (1 / n0 + 1 / n1))
        s1 = math.sqrt(deff * (p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1))
        d = p1 - p0
        return float(stats.norm.cdf((d - z * s0) / s1) + stats.norm.cdf((-d - z * s0) / s1))

    def describe(self) -> str:
        text = (f"share sustaining the end stage at {self.months:g} months: reference {self.share_reference:.3g}, "
                f"comparison {self.share_reference + self.effect:.3g} (difference {self.effect:+.3g})")
        return text + (f"; ICC within authorities {self.authority_icc:g}" if self.authority_icc > 0 else "")


_SCENARIOS = (TrajectoryScenario, TransitionScenario, SustainedScenario)


# ------------------------------------------------------------------ the engine
def _one(scenario, design: StudyDesign, child: np.random.SeedSequence, effects: Sequence[float]) -> list[_Outcome]:
    """Replicate ``child`` at each effect (the same random numbers for each: common random numbers)."""
    out = []
    if scenario.shift_invariant:
        base = scenario.with_effect(effects[0])
        try:
            o = base.analyse(design, np.random.default_rng(child))
        except InputError:
            raise
        except (LongitudinalError, ValueError, ArithmeticError, np.linalg.LinAlgError) as e:
            return [_Outcome(error=f"{type(e).__name__}: {e}") for _ in effects]
        return [replace(o, estimate=o.estimate + (e - effects[0])) for e in effects]
    for e in effects:
        try:
            out.append(scenario.with_effect(e).analyse(design, np.random.default_rng(child)))
        except InputError:
            raise
        except (LongitudinalError, ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
            out.append(_Outcome(error=f"{type(err).__name__}: {err}"))
    return out


def _block(scenario, design, children, effects):
    from threadpoolctl import threadpool_limits

    # one BLAS thread per process: the fits are many tiny problems, and OpenBLAS threads on a
    # busy machine make each fit several times slower (measured 0.05 s -> 0.3 s per fit)
    with threadpool_limits(1):
        return [_one(scenario, design, c, effects) for c in children]


def _pool(workers: int):
    """A process pool for ``workers`` > 1 (spawned: no state shared with the caller), else None."""
    if int(workers) < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    if int(workers) == 1:
        return None
    import multiprocessing as mp

    return ProcessPoolExecutor(max_workers=int(workers), mp_context=mp.get_context("spawn"))


def _run(scenario, design: StudyDesign, *, n_sims: int, seed: int, workers: int,
         effects: Sequence[float], pool=None) -> list[list[_Outcome]]:
    """All replicates at all effects: ``out[i][j]`` is simulation i at effect j, whatever ``workers``."""
    if int(n_sims) < 1:
        raise InputError(f"n_sims must be >= 1, got {n_sims}")
    children = np.random.SeedSequence(int(seed)).spawn(int(n_sims))
    if pool is None and int(workers) > 1:
        with _pool(workers) as own:
            return _run(scenario, design, n_sims=n_sims, seed=seed, workers=workers, effects=effects, pool=own)
    if pool is None:
        return _block(scenario, design, children, list(effects))
    # contiguous blocks, a few per worker so that a slow block does not hold the others up
    blocks = [b.tolist() for b in np.array_split(np.arange(int(n_sims)), int(workers) * 4) if b.size]
    futs = [pool.submit(_block, scenario, design, [children[i] for i in b], list(effects)) for b in blocks]
    out: list[list[_Outcome]] = []
    for f in futs:
        out.extend(f.result())
    return out


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion ``k / n``."""
    if n <= 0:
        return (np.nan, np.nan)
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def _critical(df: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(np.isfinite(df), stats.t.ppf(1 - alpha / 2, np.where(np.isfinite(df), df, 1)),
                    stats.norm.ppf(1 - alpha / 2))


def _null_statistic(scenario, est: np.ndarray) -> np.ndarray:
    # the hazard ratio is estimated on the log scale: its null is log 1 = 0
    return est - (0.0 if isinstance(scenario, TransitionScenario) else scenario.null)


def _tabulate(scenario, outcomes: list[_Outcome], alpha: float) -> pd.DataFrame:
    est = np.array([o.estimate for o in outcomes], float)
    se = np.array([o.std_error for o in outcomes], float)
    df = np.array([o.df for o in outcomes], float)
    failed = np.array([bool(o.error) or not (np.isfinite(o.estimate) and np.isfinite(o.std_error) and o.std_error > 0)
                       for o in outcomes])
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = _null_statistic(scenario, est) / se
        p = np.where(np.isfinite(df), 2 * stats.t.sf(np.abs(stat), np.where(np.isfinite(df), df, 1)),
                     2 * stats.norm.sf(np.abs(stat)))
    reject = (~failed) & (p < alpha)
    errors = [o.error if o.error else ("" if not f else "non-finite estimate or SE") for o, f in zip(outcomes, failed)]
    return pd.DataFrame({"estimate": est, "std_error": se, "statistic": stat, "df": df, "p_value": p,
                         "reject": reject, "converged": [o.converged for o in outcomes],
                         "boundary": [o.boundary for o in outcomes], "failed": failed, "error": errors},
                        index=pd.RangeIndex(len(outcomes), name="simulation"))


# ------------------------------------------------------------------ results
class PowerResults(Results):
    """Power of one design at one effect, by simulation (see :func:`power`).

    Attributes
    ----------
    power : float
        Share of the completed replicates whose test rejected at ``alpha``.
    mc_se : float
        Its Monte Carlo standard error ``sqrt(power (1 - power) / n_completed)``.
    ci_lower, ci_upper : float
        Exact (Clopper-Pearson) ``1 - alpha`` interval for the power.
    n_sims, n_failed, n_nonconverged, n_boundary : int
        Replicates run; fits that failed (no estimate: left out of the power, listed in
        ``simulations``); fits that did not converge (kept; their tests count); boundary
        (singular) fits (kept).
    power_if_failed_rejected_none : float
        The power counting every failed fit as a non-rejection (a lower bound).
    analytic_power : float or None
        The closed form where one applies (see :func:`slope_power`), for comparison.
    simulations : DataFrame
        One row per replicate: estimate, std_error, statistic, df, p_value, reject, converged,
        boundary, failed, error.
    test, seed, alpha, workers, elapsed_seconds, scenario, design
    """

    def __init__(self, scenario, design: StudyDesign, simulations: pd.DataFrame, *, alpha: float, seed: int,
                 workers: int, elapsed: float):
        self.scenario, self.design = scenario, design
        self.simulations = simulations
        self.alpha, self.seed, self.workers = float(alpha), int(seed), int(workers)
        self.elapsed_seconds = float(elapsed)
        self.test = scenario.test_name(design)
        self.effect = float(scenario.effect)
        self.n_sims = int(len(simulations))
        self.n_failed = int(simulations["failed"].sum())
        ok = ~simulations["failed"]
        self.n_nonconverged = int((~simulations["converged"] & ok).sum())
        self.n_boundary = int((simulations["boundary"] & ok).sum())
        n_ok = self.n_sims - self.n_failed
        k = int(simulations["reject"].sum())
        self.n_rejected = k
        self.power = k / n_ok if n_ok else float("nan")
        self.mc_se = math.sqrt(self.power * (1 - self.power) / n_ok) if n_ok else float("nan")
        self.ci_lower, self.ci_upper = clopper_pearson(k, n_ok, alpha)
        self.power_if_failed_rejected_none = k / self.n_sims
        self.analytic_power = scenario.analytic_power(design, alpha)

    def to_dict(self) -> dict[str, Any]:
        """The figures a protocol or a script needs (the CLI's ``--json``)."""
        return {"target": self.scenario.what, "effect": self.effect, "power": self.power, "mc_se": self.mc_se,
                "ci_lower": self.ci_lower, "ci_upper": self.ci_upper, "n_sims": self.n_sims,
                "n_failed": self.n_failed, "n_nonconverged": self.n_nonconverged, "n_boundary": self.n_boundary,
                "analytic_power": self.analytic_power, "test": self.test, "alpha": self.alpha, "seed": self.seed,
                "workers": self.workers, "elapsed_seconds": round(self.elapsed_seconds, 3),
                "design": asdict(self.design), "scenario": asdict(self.scenario)}

    @property
    def table(self) -> pd.DataFrame:
        d = self.to_dict()
        keys = ["effect", "power", "mc_se", "ci_lower", "ci_upper", "n_sims", "n_failed", "n_nonconverged",
                "n_boundary", "analytic_power", "test", "seed"]
        return pd.DataFrame([{k: d[k] for k in keys}])

    def summary(self) -> Summary:
        """The truth, design, test, power with its intervals, and the fits that failed (text; a table in Jupyter)."""
        lines = [f"Power by simulation: {self.scenario.what}",
                 f"  truth: {self.scenario.describe()}",
                 f"  design: {self.design.describe()}",
                 f"  test: {self.test}, two-sided, alpha {self.alpha:g}",
                 f"  power: {self.power:.3f} (Monte Carlo SE {self.mc_se:.3f}; exact {1 - self.alpha:.0%} "
                 f"interval {self.ci_lower:.3f} to {self.ci_upper:.3f})",
                 f"  simulations: {self.n_sims:,}; failed fits: {self.n_failed:,}; not converged: "
                 f"{self.n_nonconverged:,}; boundary (singular) fits: {self.n_boundary:,}"]
        if self.n_failed:
            first = self.simulations.loc[self.simulations["failed"], "error"].iloc[0]
            lines.append(f"  failed fits are left out of the power (first: {first}); counting them as "
                         f"non-rejections gives {self.power_if_failed_rejected_none:.3f}")
        if self.analytic_power is not None:
            lines.append(f"  closed form ({self.scenario.closed_form}): {self.analytic_power:.3f}")
        lines.append(f"  seed {self.seed}; {self.workers} worker(s); {self.elapsed_seconds:.1f} s")
        return Summary("\n".join(lines), {"Power": self.table}, head="\n".join(lines[:5]), notes=lines[5:])

    def _repr_fields(self) -> dict[str, Any]:
        return {"power": self.power, "ci_lower": self.ci_lower, "ci_upper": self.ci_upper, "n_sims": self.n_sims,
                "n_failed": self.n_failed}

    def tidy(self) -> pd.DataFrame:
        """One row: ``effect``, ``estimate`` (the power), ``std_error`` (its Monte Carlo SE), ``ci_lower``,
        ``ci_upper`` (exact), ``n_sims``, ``n_failed``, ``analytic_power``."""
        return _power_rows(self.table)[["effect", "estimate", "std_error", "ci_lower", "ci_upper", "n_sims",
                                        "n_failed", "analytic_power"]]

    def plot(self, ax=None):
        """The test statistics of the replicates against the critical values (the rejected share is the power).
        Returns the matplotlib Axes."""
        ax = axes_for(ax, figsize=(6, 3.5))
        s = self.simulations.loc[~self.simulations["failed"], "statistic"].to_numpy()
        crit = float(np.median(_critical(self.simulations["df"].to_numpy(), self.alpha)))
        ax.hist(s, bins=40, color="#4c72b0", edgecolor="white")
        for c in (-crit, crit):
            ax.axvline(c, color="#c44e52", linestyle="--", linewidth=1.5)
        ax.set_xlabel("test statistic of each simulation")
        ax.set_ylabel("simulations")
        ax.set_title(f"power {self.power:.1%} ({self.ci_lower:.1%} to {self.ci_upper:.1%}); "
                     f"dashed: critical values", fontsize="medium")
        return ax


def _power_rows(table: pd.DataFrame) -> pd.DataFrame:
    """A table of powers in the vocabulary: the power is the ``estimate``, its Monte Carlo SE the ``std_error``."""
    return table.rename(columns={"power": "estimate", "mc_se": "std_error"})


class PowerCurve(Results):
    """Power over a design parameter or the effect (see :func:`power_curve`).

    ``table`` has one row per value: ``value, power, mc_se, ci_lower, ci_upper, n_sims, n_failed,
    n_nonconverged, analytic_power``.
    """

    def __init__(self, over: str, table: pd.DataFrame, results: list[PowerResults], seed: int, elapsed: float):
        self.over, self.table, self.results, self.seed = over, table, results, seed
        self.elapsed_seconds = float(elapsed)

    def summary(self) -> Summary:
        """The scenario, the test and the power at each value (text; a table in Jupyter)."""
        r = self.results[0]
        text = (f"Power curve over {self.over}: {r.scenario.what}\n  truth: {r.scenario.describe()}\n"
                f"  test: {r.test}; seed {self.seed}; {self.elapsed_seconds:.1f} s\n\n"
                + self.table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return Summary(text, {"Power": self.table})

    def _repr_fields(self) -> dict[str, Any]:
        return {"over": self.over, "points": len(self.table), "seed": self.seed}

    def tidy(self) -> pd.DataFrame:
        """One row per value: ``value, estimate`` (the power), ``std_error`` (Monte Carlo), ``ci_lower, ci_upper``
        (exact), ``n_sims, n_failed, n_nonconverged, analytic_power``."""
        return _power_rows(self.table)

    def plot(self, ax=None, target: float = 0.8):
        """Simulated power (with its exact interval) and the closed form against the value. Returns the Axes."""
        ax = axes_for(ax, figsize=(6, 3.5))
        t = self.table
        ax.fill_between(t["value"], t["ci_lower"], t["ci_upper"], color="#4c72b0", alpha=0.2,
                        label="exact 95% interval")
        ax.plot(t["value"], t["power"], "o-", color="#4c72b0", label="simulated power")
        if t["analytic_power"].notna().any():
            ax.plot(t["value"], t["analytic_power"], "s--", color="#dd8452", label="closed form")
        ax.axhline(target, color="0.3", linestyle=":", linewidth=1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(self.over)
        ax.set_ylabel("power")
        ax.legend(fontsize="small")
        return ax


class MDEResults(Results):
    """The smallest effect detectable with the target power (see :func:`minimum_detectable_effect`).

    Attributes
    ----------
    effect : float
        The minimum detectable effect (on the scenario's scale: a difference, or a hazard ratio).
    ci_lower, ci_upper : float or None
        For the trajectory scenario, an exact distribution-free interval from the order statistics
        of the per-simulation thresholds; None otherwise.
    curve : DataFrame
        ``effect, power`` on the grid searched (common random numbers).
    method : str
    """

    def __init__(self, effect, ci_lower, ci_upper, curve, method, target, scenario, design, n_sims, n_failed, seed):
        self.effect, self.ci_lower, self.ci_upper = effect, ci_lower, ci_upper
        self.curve, self.method, self.target = curve, method, target
        self.scenario, self.design, self.n_sims, self.n_failed, self.seed = scenario, design, n_sims, n_failed, seed

    def summary(self) -> Summary:
        """The minimum detectable effect, the design and the method (text; the searched grid in Jupyter)."""
        ci = "" if self.ci_lower is None else f" (95% interval {self.ci_lower:.4g} to {self.ci_upper:.4g})"
        text = (f"Minimum detectable {self.scenario.what} at {self.target:.0%} power: {self.effect:.4g}{ci}\n"
                f"  design: {self.design.describe()}\n  method: {self.method}\n"
                f"  simulations: {self.n_sims:,} (failed: {self.n_failed:,}); seed {self.seed}")
        return Summary(text, {"Power over the effects searched": self.curve})

    def _repr_fields(self) -> dict[str, Any]:
        return {"effect": self.effect, "target": self.target, "n_sims": self.n_sims}

    def tidy(self) -> pd.DataFrame:
        """One row: ``estimate`` (the minimum detectable effect), ``ci_lower, ci_upper`` (NaN without an
        interval), ``target, method, n_sims, n_failed``."""
        nan = float("nan")
        return pd.DataFrame([{"estimate": self.effect, "ci_lower": nan if self.ci_lower is None else self.ci_lower,
                              "ci_upper": nan if self.ci_upper is None else self.ci_upper,
                              "target": self.target, "method": self.method, "n_sims": self.n_sims,
                              "n_failed": self.n_failed}])

    def plot(self, ax=None):
        """Simulated power over the effects searched, the target and the minimum detectable effect. Returns the Axes."""
        ax = axes_for(ax, figsize=(6, 3.5))
        ax.plot(self.curve["effect"], self.curve["power"], "-", color="#4c72b0", label="simulated power")
        ax.axhline(self.target, color="0.3", linestyle=":", linewidth=1)
        ax.axvline(self.effect, color="#c44e52", linestyle="--", label=f"minimum detectable {self.effect:.3g}")
        ax.set_xlabel(self.scenario.what)
        ax.set_ylabel("power")
        ax.set_ylim(0, 1)
        ax.legend(fontsize="small")
        return ax


# ------------------------------------------------------------------ entry points
def _scenario(scenario, kwargs) -> Any:
    if isinstance(scenario, _SCENARIOS):
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)} with a scenario (they are for a pilot fit)")
        return scenario
    from .survival import SustainedResults
    from .trajectories import TrajectoryResults
    from .transitions import TransitionsResults

    for kind, cls in ((TrajectoryResults, TrajectoryScenario), (TransitionsResults, TransitionScenario),
                      (SustainedResults, SustainedScenario)):
        if isinstance(scenario, kind):
            return cls.from_fit(scenario, **kwargs)
    raise TypeError("power() takes a TrajectoryScenario, TransitionScenario or SustainedScenario, or a pilot fit "
                    f"(TrajectoryResults, TransitionsResults, SustainedResults); got {type(scenario).__name__}")


def power(scenario, design: StudyDesign | None = None, *, n_sims: int = 1000, alpha: float = 0.05, seed: int = 0,
          workers: int = 1, **pilot) -> PowerResults:
    """Power of a design to detect a scenario's effect, by simulation.

    Parameters
    ----------
    scenario : TrajectoryScenario, TransitionScenario, SustainedScenario, or a pilot fit
        The truth. A ``TrajectoryResults``, ``TransitionsResults`` or ``SustainedResults`` is
        turned into one by the scenario's ``from_fit`` (extra keyword arguments go to it,
        e.g. ``term=`` or ``transition=``).
    design : StudyDesign
        Default: ``StudyDesign()`` (2,000 people, 5 yearly readings, complete).
    n_sims : int
        Replicates. The Monte Carlo SE of a power near 0.8 is about 0.4 / sqrt(n_sims)
        (0.013 with 1,000).
    alpha : float
        Two-sided significance level of the test, and 1 - the level of the power's interval.
    seed : int
        Seed of the whole calculation: replicate *i* uses child *i* of ``SeedSequence(seed)``.
    workers : int
        Processes; the answer does not depend on it.

    Returns
    -------
    PowerResults
    """
    sc = _scenario(scenario, pilot)
    return _power(sc, StudyDesign() if design is None else design, n_sims=n_sims, alpha=alpha, seed=seed,
                  workers=workers, pool=None)


def _power(sc, design: StudyDesign, *, n_sims, alpha, seed, workers, pool) -> PowerResults:
    sc.check(design)  # a design the scenario cannot run fails here, not in every replicate
    t0 = _time.perf_counter()
    out = _run(sc, design, n_sims=n_sims, seed=seed, workers=workers, effects=[sc.effect], pool=pool)
    sims = _tabulate(sc, [o[0] for o in out], alpha)
    return PowerResults(sc, design, sims, alpha=alpha, seed=seed, workers=workers,
                        elapsed=_time.perf_counter() - t0)


def power_curve(scenario, design: StudyDesign | None = None, *, over: str = "people",
                values: Sequence[float] = (), n_sims: int = 1000, alpha: float = 0.05, seed: int = 0,
                workers: int = 1, **pilot) -> PowerCurve:
    """Power over sample size (``over="people"``), the number of readings (``"waves"``), any other
    :class:`StudyDesign` field, the effect (``over="effect"``), or another field of the scenario
    (e.g. ``"authority_sd"``: the power lost as authorities differ more), as simr's ``powerCurve``.

    Every point uses the same seed (so the same replicate seeds). Over the effect, each
    replicate is simulated with the same random numbers at every effect (common random numbers)
    and, for the trajectory model, fitted once.
    """
    sc = _scenario(scenario, pilot)
    design = StudyDesign() if design is None else design
    values = list(values)
    if not values:
        raise InputError("give the values of the curve, e.g. values=[500, 1000, 2000]")
    t0 = _time.perf_counter()
    results = []
    if over == "effect":
        out = _run(sc, design, n_sims=n_sims, seed=seed, workers=workers, effects=values)
        for j, v in enumerate(values):
            e = sc.with_effect(v)
            sims = _tabulate(e, [o[j] for o in out], alpha)
            results.append(PowerResults(e, design, sims, alpha=alpha, seed=seed, workers=workers, elapsed=0.0))
    else:
        names = set(StudyDesign.__dataclass_fields__)
        truth = set(type(sc).__dataclass_fields__) - {"effect", "hazard_ratio"}
        if over in names:
            points = [(sc, replace(design, **{over: _like(getattr(design, over), v)})) for v in values]
        elif over in truth:
            points = [(replace(sc, **{over: _like(getattr(sc, over), v)}), design) for v in values]
        else:
            raise InputError(f"over must be 'effect', a StudyDesign field ({', '.join(sorted(names))}) or a field "
                             f"of the scenario ({', '.join(sorted(truth))}), not {over!r}")
        for s, d in points:
            s.check(d)
        pool = _pool(workers)  # one pool for the whole curve: starting workers costs seconds
        try:
            for s, d in points:
                results.append(_power(s, d, n_sims=n_sims, alpha=alpha, seed=seed, workers=workers, pool=pool))
        finally:
            if pool is not None:
                pool.shutdown()
    table = pd.DataFrame({"value": values, "power": [r.power for r in results],
                          "mc_se": [r.mc_se for r in results], "ci_lower": [r.ci_lower for r in results],
                          "ci_upper": [r.ci_upper for r in results], "n_sims": [r.n_sims for r in results],
                          "n_failed": [r.n_failed for r in results],
                          "n_nonconverged": [r.n_nonconverged for r in results],
                          "analytic_power": [np.nan if r.analytic_power is None else r.analytic_power
                                             for r in results]})
    return PowerCurve(over, table, results, seed, _time.perf_counter() - t0)


def _like(current, value):
    """``value`` in the type of the field it replaces (``people=1e3`` stays an int)."""
    numbers = (int, float, np.number)
    return type(current)(value) if isinstance(current, numbers) and isinstance(value, numbers) else value


def minimum_detectable_effect(scenario, design: StudyDesign | None = None, *, target: float = 0.8,
                              effects: Sequence[float] | None = None, n_sims: int = 1000, alpha: float = 0.05,
                              seed: int = 0, workers: int = 1, **pilot) -> MDEResults:
    """The smallest effect (beyond the null, in the scenario's direction) with ``target`` power.

    Trajectory model: every replicate is fitted once; its test rejects for every effect beyond
    a threshold (its critical value times its SE, less its estimate at no effect), so the
    simulated power at effect ``d`` is the share of thresholds below ``d`` and the minimum
    detectable effect is exactly their ``target`` quantile (the power reaches ``target`` for
    any effect beyond it), with a distribution-free interval
    from the binomial order statistics. Other scenarios: power on a grid of ``effects`` (the
    same replicate seeds at each: common random numbers), made monotone (isotonic) and
    interpolated linearly to where it crosses ``target``.
    """
    sc = _scenario(scenario, pilot)
    design = StudyDesign() if design is None else design
    if not 0 < target < 1:
        raise InputError(f"target power must be in (0, 1), got {target}")
    sign = 1.0 if sc.effect >= sc.null else -1.0
    sc.check(design)
    if sc.shift_invariant:
        out = _run(sc, design, n_sims=n_sims, seed=seed, workers=workers, effects=[sc.null])
        sims = _tabulate(sc.with_effect(sc.null), [o[0] for o in out], alpha)
        ok = ~sims["failed"].to_numpy()
        crit = _critical(sims["df"].to_numpy(), alpha)
        thr = np.sort((crit * sims["std_error"].to_numpy() - sign * sims["estimate"].to_numpy())[ok])
        m = thr.size
        k = int(math.ceil(target * m))
        mde = sign * thr[k - 1]
        lo_i = int(stats.binom.ppf(alpha / 2, m, target))
        hi_i = int(stats.binom.ppf(1 - alpha / 2, m, target)) + 1
        ci = sorted([sign * thr[max(lo_i, 1) - 1], sign * thr[min(hi_i, m) - 1]])
        grid = np.linspace(0, 1.5 * abs(thr[k - 1]), 61)
        curve = pd.DataFrame({"effect": sc.null + sign * grid,
                              "power": np.searchsorted(thr, grid, side="right") / m})
        return MDEResults(float(mde), float(ci[0]), float(ci[1]), curve,
                          "target quantile of the per-simulation rejection thresholds (one fit per replicate)",
                          target, sc, design, int(n_sims), int((~ok).sum()), seed)
    if effects is None:
        raise InputError("give a grid of effects to search, e.g. effects=np.linspace(1.1, 2.0, 10) for a hazard ratio")
    effects = sorted(float(e) for e in effects)
    curve = power_curve(sc, design, over="effect", values=effects, n_sims=n_sims, alpha=alpha, seed=seed,
                        workers=workers)
    pw = curve.table["power"].to_numpy()
    dist = np.abs(np.asarray(effects) - sc.null)
    order = np.argsort(dist)
    from scipy.optimize import isotonic_regression

    mono = np.empty_like(pw)
    mono[order] = isotonic_regression(pw[order], increasing=True).x
    above = np.flatnonzero(mono[order] >= target)
    if above.size == 0:
        raise InputError(f"power stays below {target:.0%} on the grid (largest {pw.max():.2f}): widen effects")
    j = above[0]
    if j == 0:
        raise InputError(f"power is already {mono[order][0]:.2f} at the effect closest to the null "
                         f"({effects[order[0]]:g}): start the grid nearer the null")
    a, b = order[j - 1], order[j]
    w = (target - mono[a]) / (mono[b] - mono[a]) if mono[b] > mono[a] else 1.0
    mde = effects[a] + w * (effects[b] - effects[a])
    tab = pd.DataFrame({"effect": effects, "power": pw, "power_monotone": mono})
    return MDEResults(float(mde), None, None, tab,
                      "isotonic power over an effect grid (common random numbers), linear interpolation",
                      target, sc, design, int(n_sims), int(curve.table["n_failed"].max()), seed)


# ------------------------------------------------------------------ closed form
def slope_power(*, delta: float | None = None, times: Sequence[float], cov_re=None, residual_var: float = 1.0,
                V=None, n: float | tuple[float, float] | None = None, power: float | None = None,
                alpha: float = 0.05, alternative: str = "two-sided", term: str = "slope") -> dict[str, float]:
    """Closed-form power, sample size or detectable difference for a difference in slopes
    (Diggle, Heagerty, Liang & Zeger 2002, p. 29; Liu & Liang 1997), as R longpower's
    ``diggle.linear.power`` / ``lmmpower``.

    Every person is read at ``times``; the covariance of one person's readings is ``V``, or
    ``Z cov_re Z' + residual_var I`` with ``Z = [1, t]`` (random intercept and slope). With
    ``xi = [(X'V^-1X)^-1]_tt`` for ``X = [1, t]``, the GLS difference in slopes between groups
    of ``n0`` and ``n1`` people has variance ``xi (1/n0 + 1/n1)``, so
    ``n per group = 2 (z_{1-alpha/2} + z_{power})^2 xi / delta^2`` for equal groups.

    Give exactly one of ``delta``, ``n`` (people per group, or a pair ``(n0, n1)``) and
    ``power`` as None. Power is computed with both tails of the normal test; the sample size
    and detectable difference with the one tail that matters, as longpower does.
    ``term="level"`` gives the same for a difference at time 0.

    Returns
    -------
    dict with ``n`` (per group; for unequal groups their harmonic mean ``2 / (1/n0 + 1/n1)``),
    ``delta``, ``power``, ``xi``, ``alpha``.

    Examples
    --------
    The ADAS-cog example of longpower's ``lmmpower`` (its documented n = 207.31 per group):

    >>> cov = [[55, 0.8 * (55 * 24) ** 0.5], [0.8 * (55 * 24) ** 0.5, 24]]
    >>> r = slope_power(delta=1.5, times=[0, .25, .5, .75, 1, 1.25, 1.5], cov_re=cov, residual_var=10, power=0.8)
    >>> round(r["n"], 2)
    207.31
    """
    t = np.asarray(times, float)
    X = np.column_stack([np.ones_like(t), t])
    if V is None:
        if cov_re is None:
            raise InputError("give cov_re (random intercept and slope covariance) and residual_var, or V")
        V = X @ np.asarray(cov_re, float) @ X.T + residual_var * np.eye(t.size)
    V = np.asarray(V, float)
    k = 1 if term == "slope" else 0
    xi = float(np.linalg.inv(X.T @ np.linalg.solve(V, X))[k, k])
    if sum(v is None for v in (delta, n, power)) != 1:
        raise InputError("exactly one of delta, n and power must be None")
    if alternative not in ("two-sided", "one-sided"):
        raise InputError(f"alternative must be 'two-sided' or 'one-sided', not {alternative!r}")
    za = stats.norm.ppf(1 - (alpha / 2 if alternative == "two-sided" else alpha))
    if n is not None:
        n0, n1 = (n, n) if np.isscalar(n) else n
        n = 2.0 / (1.0 / n0 + 1.0 / n1)
    if power is None:
        se = math.sqrt(2 * xi / n)
        d = abs(delta) / se
        power = float(stats.norm.cdf(d - za) + (stats.norm.cdf(-d - za) if alternative == "two-sided" else 0.0))
    elif n is None:
        n = 2 * (za + stats.norm.ppf(power)) ** 2 * xi / delta**2
    else:
        delta = math.sqrt(2 * (za + stats.norm.ppf(power)) ** 2 * xi / n)
    return {"n": float(n), "delta": float(delta), "power": float(power), "xi": xi, "alpha": float(alpha)}


def hazard_ratio_power(hazard_ratio: float, *, events: float | None = None, power: float | None = None,
                       allocation: float = 0.5, alpha: float = 0.05, method: str = "schoenfeld") -> dict[str, float]:
    """Closed-form power, or events needed, for a two-sided test of a hazard ratio between two groups
    (log-rank, Cox or exponential Wald test; proportional hazards).

    ``method="schoenfeld"`` (Schoenfeld 1983): the log hazard ratio's estimate has variance
    ``1 / (d p (1 - p))`` for ``d`` events and a share ``p`` of people in the comparison group, so
    ``power = Phi(sqrt(d p (1-p)) |log HR| - z_{1-alpha/2})``.
    ``method="freedman"`` (Freedman 1982; lifelines' ``power_under_cph`` and R powerSurvEpi's
    ``ssizeCT``): ``power = Phi(sqrt(k d) |HR - 1| / (k HR + 1) - z_{1-alpha/2})`` with
    ``k = p / (1 - p)``. Both leave out the far tail, as their references do. Give exactly one
    of ``events`` and ``power``; the other is returned.

    Examples
    --------
    >>> round(hazard_ratio_power(1.5, power=0.8)["events"], 2)   # Schoenfeld: 4 (1.96 + 0.84)^2 / log(1.5)^2
    190.97
    """
    if not hazard_ratio > 0 or hazard_ratio == 1:
        raise InputError(f"hazard_ratio must be > 0 and not 1, got {hazard_ratio}")
    if not 0 < allocation < 1:
        raise InputError(f"allocation is the share in the comparison group, strictly between 0 and 1; got {allocation}")
    if (events is None) == (power is None):
        raise InputError("give exactly one of events and power")
    if method == "schoenfeld":
        scale = math.sqrt(allocation * (1 - allocation)) * abs(math.log(hazard_ratio))
    elif method == "freedman":
        k = allocation / (1 - allocation)
        scale = math.sqrt(k) * abs(hazard_ratio - 1) / (k * hazard_ratio + 1)
    else:
        raise InputError(f"method must be 'schoenfeld' or 'freedman', not {method!r}")
    za = stats.norm.ppf(1 - alpha / 2)
    if power is None:
        power = float(stats.norm.cdf(math.sqrt(events) * scale - za))
    else:
        events = ((za + stats.norm.ppf(power)) / scale) ** 2
    return {"events": float(events), "power": float(power), "hazard_ratio": float(hazard_ratio),
            "allocation": float(allocation), "alpha": float(alpha)}
