"""Faster lifelines fitters: subclasses that replace private lifelines methods, used only where checked.

The replaced methods are private, so each subclass is used only on a lifelines release it was compared
with (``LIFELINES_TESTED``) and only if the methods are still there; on any other release the public
lifelines class is used and a warning says so (same numbers, slower at national scale). The same idea
guards scipy's PAVA kernel in :mod:`.interval`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np

from ..errors import LongitudinalWarning

__all__ = ["LIFELINES_TESTED", "lifelines_overrides_apply", "fast_cox_class", "fast_aalen_johansen_class"]


# lifelines releases whose private methods the fast overrides below replace, checked against each
# (tests/test_survival.py compares them with lifelines' own). Any other release: lifelines' own classes.
LIFELINES_TESTED = ((0, 29), (0, 30))


def lifelines_overrides_apply(cls: type, methods: Sequence[str]) -> bool:
    """Whether the installed lifelines is a tested release and ``cls`` still has the ``methods`` replaced.

    Otherwise warns once that lifelines' own (slower, same-valued) code is used instead.
    """

    import lifelines

    release = tuple(int(x) for x in re.findall(r"\d+", lifelines.__version__)[:2])
    missing = [m for m in methods if not callable(getattr(cls, m, None))]
    if release in LIFELINES_TESTED and not missing:
        return True
    warnings.warn(f"lifelines {lifelines.__version__} is not a release longitudinal's fast {cls.__name__} was "
                  f"checked against ({', '.join('.'.join(map(str, r)) for r in LIFELINES_TESTED)})"
                  + (f", and lacks {', '.join(missing)}" if missing else "")
                  + f": using lifelines' own {cls.__name__} (same results, slower at national scale)",
                  LongitudinalWarning, stacklevel=3)
    return False


def fast_cox_class():
    """lifelines ``CoxPHFitter`` with its score residuals (used for the cluster-robust SEs) computed in O(n p).

    lifelines 0.30 computes the score residuals with a Python loop over rows in which row ``i`` sums
    over all earlier rows: O(n^2 p), 16 s of 28 s at 25,000 episode-areas and most of the 872 s at
    national scale (166,364). The same quantity is two cumulative sums:
    ``U_i = -phi_i (x_i C_i - D_i) + E_i (x_i - xbar_i)`` with ``C_i = sum_{j<=i} E_j w_j / R_j`` and
    ``D_i = sum_{j<=i} E_j w_j xbar_j / R_j`` (rows in lifelines' order, ``R``/``xbar`` its reverse
    cumulative risk sums), so the residuals, robust SEs and everything built on them are the same
    up to floating-point rounding (tested against lifelines' own loop).
    """
    from lifelines import CoxPHFitter
    from lifelines.fitters.coxph_fitter import SemiParametricPHFitter

    if not (lifelines_overrides_apply(CoxPHFitter, ["_fit_model_breslow"])
            and lifelines_overrides_apply(SemiParametricPHFitter, ["_compute_score_within_strata",
                                                                   "_compute_schoenfeld_within_strata"])):
        return CoxPHFitter

    class _SemiParametricPHFitter(SemiParametricPHFitter):
        def _compute_score_within_strata(self, X, _T, E, weights, entries):
            X = X.values
            E = E.values.astype(int)
            weights = weights.values
            beta = self.params_.values * self._norm_std  # X is normalised here, as in lifelines
            phi = np.exp(X @ np.asarray(beta, float))
            rw = weights * phi
            risk_x = (X * rw[:, None])[::-1].cumsum(0)[::-1]
            risk = rw[::-1].cumsum()[::-1][:, None]
            xbar = risk_x / risk
            a = (E * weights / risk[:, 0])[:, None]
            C = a.cumsum(0)
            D = (a * xbar).cumsum(0)
            score = -phi[:, None] * (X * C - D) + E[:, None] * (X - xbar)
            return score * weights[:, None]

        def _compute_schoenfeld_within_strata(self, X, T, E, weights, entries):
            # lifelines loops over rows growing the result with np.append (quadratic); this is the same
            # Efron-ties residual, E_i (x_i - mean_g), with each tied-time group's mean in vector form.
            X = X.values
            E = E.values.astype(float)
            T = T.values
            weights = weights.values
            n, d = X.shape
            if not np.any(E):
                return np.zeros((n, d))
            scores = weights * np.exp(X @ np.asarray(self.params_, float))
            risk = scores[::-1].cumsum()[::-1]
            risk_x = (X * scores[:, None])[::-1].cumsum(0)[::-1]
            start = np.r_[True, T[1:] != T[:-1]]
            gid = np.cumsum(start) - 1
            first = np.flatnonzero(start)
            ng = first.size
            se = scores * E
            tie = np.bincount(gid, se, minlength=ng)
            tie_x = np.stack([np.bincount(gid, se * X[:, k], minlength=ng) for k in range(d)], axis=1)
            cnt = np.bincount(gid, E, minlength=ng).astype(int)
            gl = np.repeat(np.arange(ng), cnt)  # one row per (tied group, Efron step l)
            el = np.arange(gl.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            frac = el / cnt[gl]
            contrib = ((risk_x[first][gl] - frac[:, None] * tie_x[gl])
                       / ((risk[first][gl] - frac * tie[gl]) * cnt[gl])[:, None])
            mean = np.stack([np.bincount(gl, contrib[:, k], minlength=ng) for k in range(d)], axis=1)
            return E[:, None] * (X - mean[gid])

    class _CoxPHFitter(CoxPHFitter):
        # as lifelines' own ``_fit_model_breslow`` (the Efron-ties semi-parametric model), with the fast score
        def _fit_model_breslow(self, *args, **kwargs):
            model = _SemiParametricPHFitter(penalizer=self.penalizer, l1_ratio=self.l1_ratio, strata=self.strata,
                                            alpha=self.alpha, label=self._label)
            model.fit(*args, **kwargs)
            return model

    return _CoxPHFitter


def fast_aalen_johansen_class():
    """lifelines ``AalenJohansenFitter`` with its variance (``_bounds``) as cumulative sums instead of a row loop.

    lifelines 0.30 computes the Greenwood-type variance of the cumulative incidence with ``iterrows``
    over the event table, adding each row's terms to running sums (``QuadraticAccumulator``,
    ``LinearAccumulator``): 4.5 s of the national ``sustained_outcomes``. Here the same terms are
    formed as arrays, with every operation in lifelines' order and each power taken by the same scalar
    ``**`` (numpy's array power rounds differently in the last bit), and the running sums are
    ``np.cumsum`` from 0, which adds in the same order. So the variance and the confidence interval
    are lifelines' to the bit (``test_fast_aalen_johansen_bounds_match_lifelines``).
    """
    from lifelines import AalenJohansenFitter
    from lifelines.utils import inv_normal_cdf

    if not lifelines_overrides_apply(AalenJohansenFitter, ["_bounds"]):
        return AalenJohansenFitter

    def running(terms):  # 0.0 + t0, + t1, ...: the accumulators' sums
        return np.cumsum(np.concatenate([[0.0], terms]))[1:]

    class _AalenJohansenFitter(AalenJohansenFitter):
        def _bounds(self, lagged_survival, alpha, ci_labels):
            ci = 1 - alpha
            df = self.event_table.copy()
            df["Ft"] = self.cumulative_density_
            df["lagS"] = lagged_survival.fillna(1)
            if ci_labels is None:
                ci_labels = [f"{self._label}_upper_{ci:g}", f"{self._label}_lower_{ci:g}"]
            assert len(ci_labels) == 2, "ci_labels should be a length 2 array."
            # lifelines' iterrows gives each row as float64 (the common type of the table)
            obs, n, cm, lag, Ft = (df[c].to_numpy(dtype=np.float64) for c in
                                   ("observed", "at_risk", self.label_cmprisk, "lagS", "Ft"))
            Ft2 = np.array([x ** 2 for x in Ft.tolist()])
            lag2 = np.array([x ** 2 for x in lag.tolist()])
            n2 = np.array([x ** 2 for x in n.tolist()])
            n3 = np.array([x ** 3 for x in n.tolist()])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                a1 = obs / n / (n - obs)  # first_term_function.add_quadratic_term(a1, F_t)
                first = running(a1 * Ft2) + running(-(2 * a1 * Ft)) * Ft + running(a1) * Ft2
                second = running(lag2 * cm * (n - cm) / n3)
                a3 = lag * cm / n2  # third_term_function.add_linear_term(a3, F_t)
                third = running(-(a3 * Ft)) + running(a3) * Ft
                df["variance"] = first + second - 2 * third
                # as lifelines from here on
                df["F_transformed"] = np.log(-np.log(df["Ft"]))
                df["se_transformed"] = np.sqrt(df["variance"]) / (df["Ft"] * np.absolute(np.log(df["Ft"])))
                zalpha = inv_normal_cdf(1 - alpha / 2)
                df[ci_labels[0]] = np.exp(-np.exp(df["F_transformed"] + zalpha * df["se_transformed"]))
                df[ci_labels[1]] = np.exp(-np.exp(df["F_transformed"] - zalpha * df["se_transformed"]))
            return df["variance"], df[ci_labels]

    return _AalenJohansenFitter
