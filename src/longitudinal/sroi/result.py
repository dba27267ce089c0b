"""The evaluated map (:class:`SROIResult`: sensitivity, switching values, Monte Carlo) and the Monte Carlo result."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from .. import domain
from ..deprecation import level_to_alpha, with_old_columns
from ..indicators import poisson_interval
from ..results import Results, Summary
from .adjustments import ADJUSTMENTS, PUBLISHED_MEDIANS
from .distributions import DEFAULT_ADJ_SD, DEFAULT_PROXY_GSD_LOG, as_factor, draw, ppf
from .impact_map import ImpactMap
from .model import ValueModel

__all__ = ["SROIResult", "MonteCarloResult"]


def count_interval(quantity: float, multiply_by: float | None) -> tuple[int, tuple[float, float]]:
    """The count a count indicator's ``quantity`` stands for (the quantity over ``multiply_by``) and the Poisson
    interval of that count, in the quantity's unit: a count's interval tells the count, so it follows the
    quantity used (:meth:`SROIResult.with_quantities`, ``evaluate(quantities=...)``)."""
    mult = 1.0 if multiply_by is None else multiply_by
    count = int(round(quantity / mult)) if mult else 0
    lo, hi = poisson_interval(count)
    return count, (lo * mult, hi * mult)


class SROIResult(Results):
    """The evaluated map. Tables are DataFrames; headline figures are attributes.

    Attributes
    ----------
    present_value, inputs_value, npv, sroi_ratio, net_sroi_ratio, payback_months : float
    outcomes : DataFrame — per cohort and outcome: quantity, proxy, adjustments, first-year impact, PV.
    year_by_year : DataFrame — value and PV of each outcome in each year.
    adjustments : DataFrame — each adjustment's value, status (assumed / default / estimated) and basis.
    cohorts : DataFrame — per financial-year cohort: inputs, PV, NPV, ratio (one row without a study).
    """

    def __init__(self, impact_map: ImpactMap, model: ValueModel, cohorts, adjustments, q_ci, q_info, inputs, deflators):
        self.impact_map, self._model, self._cohorts = impact_map, model, cohorts
        self._adj, self._q_ci, self._q_info, self.inputs, self.deflators = adjustments, q_ci, q_info, inputs, deflators
        V = model.values()                                    # (C, K, T)
        PVt = V * model.df[:, None, :]
        self.present_value = float(PVt.sum())
        self.inputs_value = model.inputs_value()
        self.npv = self.present_value - self.inputs_value
        self.sroi_ratio = self.present_value / self.inputs_value
        self.net_sroi_ratio = self.npv / self.inputs_value
        year1 = float(V[:, :, 0].sum())
        # inputs ÷ monthly value of the first year (12 · inputs / V_1: no underflow of V_1 / 12)
        self.payback_months = (12.0 * float(model.inputs.sum()) / year1) if year1 > 0 else float("inf")
        m = impact_map
        rows, yrows = [], []
        for c, fy in enumerate(cohorts):
            for k, o in enumerate(m.outcomes):
                info = q_info[c][k]
                rows.append({"cohort": fy, "stakeholder": o.stakeholder, "outcome": o.name,
                             "indicator": o.indicator or o.indicator_text or "",
                             "indicator_missing_share": None if info is None else info.missing_share,
                             "quantity": model.quantity[c, k], "quantity_ci_lower": q_ci[c, k, 0],
                             "quantity_ci_upper": q_ci[c, k, 1],
                             "quantity_basis": getattr(info, "basis", "") if o.effectiveness else "",
                             "proxy_value": model.proxy[k],
                             "proxy_price_year": o.price_year, "proxy_source": o.proxy_source,
                             **{a: model.adj[j, k] for j, a in enumerate(ADJUSTMENTS)},
                             "duration_years": o.duration_years, "impact_year1": V[c, k, 0],
                             "value": V[c, k].sum(), "present_value": PVt[c, k].sum()})
                for t in range(o.duration_years):
                    yrows.append({"cohort": fy, "stakeholder": o.stakeholder, "outcome": o.name, "year": t + 1,
                                  "financial_year": None if fy is None else fy + t, "value": V[c, k, t],
                                  "discount_factor": model.df[c, t], "present_value": PVt[c, k, t]})
        self.outcomes = pd.DataFrame(rows)
        self.year_by_year = pd.DataFrame(yrows)
        self.adjustments = pd.DataFrame([
            {"stakeholder": o.stakeholder, "outcome": o.name, "adjustment": a, "value": adj[a].value,
             "status": adj[a].status, "basis": adj[a].basis, "ci_lower": adj[a].ci_lower,
             "ci_upper": adj[a].ci_upper} for o, adj in zip(m.outcomes, adjustments) for a in ADJUSTMENTS])
        crow = []
        for c, fy in enumerate(cohorts):
            pv_c = float(PVt[c].sum())
            inp = float(model.inputs[c])
            disc_inp = inp * model.input_df[c]
            crow.append({"cohort": fy, "label": "all" if fy is None else domain.fy_label(fy), "inputs_value": inp,
                         "present_value": pv_c, "inputs_discounted": disc_inp,
                         "npv": pv_c - disc_inp, "sroi_ratio": pv_c / disc_inp if disc_inp else float("nan")})
        self.cohorts = pd.DataFrame(crow)

    def with_quantities(self, quantity) -> SROIResult:
        """The same evaluation with other quantities: ``quantity`` has one value per outcome (every cohort) or one
        per cohort and outcome. A publication passes the quantities it publishes (rounded with its other counts)
        so that every figure it shows (present values, ratio, sensitivity, Monte Carlo) follows from them.

        A count indicator's interval becomes the Poisson interval of the new count (the old one would tell the
        old count); another quantity's interval keeps its width relative to the quantity.
        """
        md = self._model
        q = np.broadcast_to(np.asarray(quantity, dtype=float), md.quantity.shape).copy()
        q_ci = self._q_ci.copy()
        q_info = [list(row) for row in self._q_info]
        for c, k in np.ndindex(q.shape):
            info, o = q_info[c][k], self.impact_map.outcomes[k]
            if o.indicator is not None and info is not None and info.kind == "count":
                count, q_ci[c, k] = count_interval(float(q[c, k]), o.multiply_by)
                lo, hi = poisson_interval(count)
                q_info[c][k] = replace(info, value=float(count), count=count, ci_lower=lo, ci_upper=hi)
            elif q[c, k] != md.quantity[c, k]:  # its width relative to the quantity kept
                old = md.quantity[c, k]
                q_ci[c, k] = self._q_ci[c, k] * (q[c, k] / old) if old else np.nan
        return SROIResult(self.impact_map, replace(md, quantity=q), self._cohorts, self._adj, q_ci, q_info,
                          self.inputs, self.deflators)

    # ---------------------------------------------------------------- views
    @property
    def by_financial_year(self) -> pd.DataFrame:
        """Value and PV falling in each financial year, summed over cohorts (empty without a study)."""
        y = self.year_by_year.dropna(subset=["financial_year"])
        if y.empty:
            return pd.DataFrame(columns=["financial_year", "value", "present_value"])
        return (y.groupby("financial_year", as_index=False)[["value", "present_value"]].sum()
                .astype({"financial_year": int}))

    def by_stakeholder(self) -> pd.DataFrame:
        return self.outcomes.groupby(["stakeholder", "outcome"], as_index=False, sort=False)[
            ["value", "present_value"]].sum()

    def headline(self) -> dict[str, float]:
        return {"present_value": self.present_value, "inputs_value": self.inputs_value, "npv": self.npv,
                "sroi_ratio": self.sroi_ratio, "net_sroi_ratio": self.net_sroi_ratio,
                "payback_months": self.payback_months}

    def to_dict(self) -> dict:
        """Everything ``--json`` prints: headline figures, year by year, cohorts, adjustments."""
        def rec(df):
            return json.loads(df.to_json(orient="records"))
        return {"name": self.impact_map.name, "price_year": self.impact_map.price_year,
                "discount": self.impact_map.discount.describe(), "deflator_source": self.deflators.source,
                # JSON has no infinity: a payback that never comes is null
                **{k: (v if math.isfinite(v) else None) for k, v in self.headline().items()},
                "year_by_year": rec(self.year_by_year),
                "by_financial_year": rec(self.by_financial_year), "cohorts": rec(self.cohorts),
                "outcomes": rec(self.outcomes), "adjustments": rec(self.adjustments), "inputs": rec(self.inputs)}

    def __repr__(self) -> str:
        return (f"<SROIResult {self.impact_map.name!r} PV=£{self.present_value:,.0f} inputs=£{self.inputs_value:,.0f} "
                f"ratio={self.sroi_ratio:.2f}>")

    def tidy(self) -> pd.DataFrame:
        """The headline figures as one ``quantity, estimate`` table (the per-outcome detail is ``outcomes``)."""
        return pd.DataFrame({"quantity": list(self.headline()), "estimate": list(self.headline().values())})

    def summary(self) -> Summary:
        """Headline figures, value by outcome and the adjustments (text; tables in Jupyter)."""
        m = self.impact_map
        lines = [f"Social return on investment: {m.name}", "=" * 72,
                 f"Prices: {m.price_year} ({domain.fy_label(m.price_year)}), GDP deflators: {self.deflators.title}",
                 f"Discounting: {m.discount.describe()}",
                 f"Cohorts: {', '.join('all' if c is None else domain.fy_label(c) for c in self._cohorts)}", "-" * 72,
                 f"{'Present value of outcomes':<34}£{self.present_value:>16,.0f}",
                 f"{'Value of inputs':<34}£{self.inputs_value:>16,.0f}",
                 f"{'Net present value':<34}£{self.npv:>16,.0f}",
                 f"{'SROI ratio':<34}{self.sroi_ratio:>17.2f} : 1",
                 f"{'Net SROI ratio':<34}{self.net_sroi_ratio:>17.2f} : 1",
                 f"{'Payback period (months)':<34}{self.payback_months:>17.1f}", "-" * 72]
        tab = self.outcomes.groupby(["stakeholder", "outcome"], sort=False)[["quantity", "present_value"]].sum()
        lines.append(tab.to_string(float_format=lambda x: f"{x:,.1f}"))
        lines.append("-" * 72)
        a = self.adjustments[["outcome", "adjustment", "value", "status", "basis"]]
        lines.append(a.to_string(index=False, float_format=lambda x: f"{x:.3f}", max_colwidth=60))
        if len(self.cohorts) > 1:
            lines += ["-" * 72, self.cohorts.to_string(index=False, float_format=lambda x: f"{x:,.2f}")]
        tables = {"Value by outcome": tab, "Adjustments": a}
        if len(self.cohorts) > 1:
            tables["Cohorts"] = self.cohorts
        return Summary("\n".join(lines), tables, head="\n".join(lines[:12]))

    # --------------------------------------------------------------- sensitivity
    def _params(self) -> list[tuple[int, str]]:
        return [(k, p) for k in range(len(self.impact_map.outcomes))
                for p in ("quantity", "proxy_value") + ADJUSTMENTS]

    def _pv_with(self, k: int, param: str, value: float) -> float:
        """PV with one parameter of outcome k set to ``value`` (quantity: scale factor on all cohorts)."""
        md = self._model
        q, p, a = md.quantity.copy(), md.proxy.copy(), md.adj.copy()
        if param == "quantity":
            q[:, k] = value
        elif param == "proxy_value":
            p[k] = value
        else:
            a[ADJUSTMENTS.index(param), k] = value
        return float(md.pv(p[:, None], a[:, :, None], quantity=q)[0])

    def _point(self, k: int, param: str) -> np.ndarray | float:
        md = self._model
        if param == "quantity":
            return md.quantity[:, k]
        if param == "proxy_value":
            return md.proxy[k]
        return md.adj[ADJUSTMENTS.index(param), k]

    def one_way(self, ranges: Mapping | None = None, level: float | None = None, *,
                alpha: float = 0.10) -> pd.DataFrame:
        """One-way sensitivity: the ratio at the low and high value of each parameter in turn.

        By default a parameter's range is the central ``1 - alpha`` interval of its
        Monte Carlo distribution (see :meth:`monte_carlo`); parameters with no
        uncertainty are left out. ``ranges`` maps ``(outcome name, parameter)``
        to ``(low, high)`` to override (a quantity as a total over cohorts).
        ``level=`` (the coverage) is deprecated.
        """
        level = 1 - level_to_alpha("one_way", level, alpha)
        base = self.sroi_ratio
        rows = []
        dists = self._distributions()
        q = (1 - level) / 2
        for k, param in self._params():
            o = self.impact_map.outcomes[k]
            key = (o.name, param)
            point = self._point(k, param)
            if ranges and key in ranges:
                lo, hi = (float(x) for x in ranges[key])
                if param == "quantity":  # stated as totals over cohorts: turn into scale factors
                    total = float(np.sum(point))
                    if total <= 0:
                        continue
                    lo, hi = lo / total, hi / total
            else:
                d = dists[(k, param)]
                if d is None:
                    continue
                lo, hi = ppf(d, q), ppf(d, 1 - q)
            vals = []
            for v in (lo, hi):
                if param == "quantity":
                    vals.append(self._pv_with_q(k, v) / self.inputs_value)
                else:
                    vals.append(self._pv_with(k, param, v) / self.inputs_value)
            scale = float(np.sum(point)) if param == "quantity" else 1.0  # report quantity in its units
            rows.append({"stakeholder": o.stakeholder, "outcome": o.name, "parameter": param,
                         "point": float(np.sum(point)), "low": float(lo) * scale, "high": float(hi) * scale,
                         "ratio_low": vals[0], "ratio_high": vals[1],
                         "swing": abs(vals[1] - vals[0]), "ratio": base})
        out = pd.DataFrame(rows)
        if out.empty:
            return out
        return out.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)

    def _pv_with_q(self, k: int, factor: float) -> float:
        md = self._model
        q = md.quantity.copy()
        q[:, k] *= factor
        return float(md.pv(md.proxy[:, None], md.adj[:, :, None], quantity=q)[0])

    def switching_values(self) -> pd.DataFrame:
        """The value of each parameter, others held, at which the SROI ratio falls (or rises) to 1.

        Quantity is given as a total over cohorts and as a share of its point value.
        ``NaN`` with a note where no value in the parameter's range reaches 1.
        """
        md = self._model
        I = self.inputs_value
        rows = []
        for k, param in self._params():
            o = self.impact_map.outcomes[k]
            pv_k = float((md.values()[:, k, :] * md.df).sum())
            other = self.present_value - pv_k
            point = self._point(k, param)
            note = ""
            sv = float("nan")
            if param in ("quantity", "proxy_value"):
                if pv_k <= 0:
                    note = "outcome has no value"
                else:
                    factor = (I - other) / pv_k
                    if factor < 0:
                        note = "ratio stays above 1 even at 0"
                    else:
                        sv = float(np.sum(point)) * factor
            elif param in ("deadweight", "displacement", "attribution"):
                j = ADJUSTMENTS.index(param)
                keep_k = 1 - md.adj[j, k]
                if pv_k <= 0 or keep_k <= 0:
                    note = "outcome has no value"
                else:
                    a_star = 1 - keep_k * (I - other) / pv_k
                    if a_star > 1:
                        note = "ratio stays above 1 even at 100%"
                    elif a_star < 0:
                        note = "ratio is below 1 even at 0%"
                    else:
                        sv = a_star
            else:  # drop-off: PV is monotone decreasing in d
                f = lambda d: self._pv_with(k, "drop_off", d) - I  # noqa: E731, B023 - used in this iteration only
                f0, f1 = f(0.0), f(1.0)
                if f1 > 0:
                    note = "ratio stays above 1 even at 100%"
                elif f0 < 0:
                    note = "ratio is below 1 even at 0%"
                elif f0 == 0:
                    sv = 0.0
                else:
                    sv = float(optimize.brentq(f, 0.0, 1.0, xtol=1e-12))
            pt = float(np.sum(point))
            rows.append({"stakeholder": o.stakeholder, "outcome": o.name, "parameter": param, "point": pt,
                         "switching_value": sv, "change": sv - pt if math.isfinite(sv) else float("nan"),
                         "share_of_point": sv / pt if math.isfinite(sv) and pt else float("nan"), "note": note})
        return pd.DataFrame(rows)

    def _distributions(self) -> dict[tuple[int, str], dict | None]:
        """The Monte Carlo distribution of each parameter (``None``: fixed).

        Defaults: an adjustment stated in (0, 1) is Beta with that mean and sd 0.10
        (or its estimated interval); a stated 0 is triangular(0, 0, published
        median); 1 is fixed. A proxy is lognormal around its value (sigma 0.30).
        A counted quantity is fixed; an indicator quantity is lognormal with the
        spread of its confidence interval. Quantity draws are scale factors.
        """
        out: dict[tuple[int, str], dict | None] = {}
        md = self._model
        for k, o in enumerate(self.impact_map.outcomes):
            given = o.distributions
            for j, a in enumerate(ADJUSTMENTS):
                v = float(md.adj[j, k])
                adj = self._adj[k][a]
                if a in given:
                    out[(k, a)] = dict(given[a])
                elif adj.status == "estimated" and adj.ci_lower == adj.ci_upper == v:
                    out[(k, a)] = None  # exact by construction (deadweight of an effect against its counterfactual)
                elif v >= 1.0:
                    out[(k, a)] = None
                elif v <= 0.0:
                    out[(k, a)] = {"dist": "triangular", "low": 0.0, "mode": 0.0, "high": PUBLISHED_MEDIANS[a]}
                else:
                    sd = DEFAULT_ADJ_SD
                    if adj.ci_lower is not None and adj.ci_upper is not None and adj.ci_upper > adj.ci_lower:
                        sd = (adj.ci_upper - adj.ci_lower) / (2 * 1.959964)
                    out[(k, a)] = {"dist": "beta", "mean": v, "sd": min(sd, 0.9 * math.sqrt(v * (1 - v)))}
            if "proxy_value" in given:
                out[(k, "proxy_value")] = as_factor(dict(given["proxy_value"]), _restated_scale(self, k))
            else:
                out[(k, "proxy_value")] = {"dist": "lognormal", "median": float(md.proxy[k]),
                                           "sigma": DEFAULT_PROXY_GSD_LOG}
            if "quantity" in given:
                total = float(md.quantity[:, k].sum())
                out[(k, "quantity")] = as_factor(dict(given["quantity"]), 1.0 / total if total > 0 else math.inf)
            elif o.effectiveness is not None:
                # every cohort's quantity scales one effect estimate: one normal factor, its relative SE
                info = self._q_info[0][k]
                out[(k, "quantity")] = {"dist": "normal", "mean": 1.0, "sd": info.relative_se}
            else:
                ci = self._q_ci[:, k, :]
                q = md.quantity[:, k]
                if np.all(np.isfinite(ci)) and q.sum() > 0 and np.all(ci[:, 0] > 0):
                    # spread of the total over cohorts: cohorts' log-sds combined by their weights
                    sig = (np.log(ci[:, 1]) - np.log(ci[:, 0])) / (2 * 1.959964)
                    sig_tot = float(np.sqrt(np.sum((q / q.sum()) ** 2 * sig ** 2)))
                    out[(k, "quantity")] = {"dist": "lognormal", "median": 1.0, "sigma": sig_tot}
                else:
                    out[(k, "quantity")] = None
        return out

    def monte_carlo(self, draws: int = 10_000, seed: int = 0, alpha: float = 0.10,
                    level: float | None = None) -> MonteCarloResult:
        """Probabilistic sensitivity analysis: the SROI ratio's distribution.

        ``alpha``: 1 - coverage of the interval of the ratio (``level=`` is deprecated).

        Every parameter of every outcome is drawn from its distribution (see
        :meth:`_distributions`; a map's ``distributions:`` entry overrides),
        independently, and the ratio computed for each draw — vectorised over
        draws × outcomes × cohorts × years. The same seed gives the same draws.

        Examples
        --------
        >>> from longitudinal import sroi
        >>> r = sroi.evaluate(sroi.DEFAULT_MAP)
        >>> mc = r.monte_carlo(draws=2000, seed=1)
        >>> bool(mc.interval[0] < mc.median < mc.interval[1])
        True
        """
        level = 1 - level_to_alpha("monte_carlo", level, alpha)
        if draws < 1:
            raise ValueError(f"draws must be at least 1, not {draws}")
        rng = np.random.default_rng(seed)
        md = self._model
        K = md.quantity.shape[1]
        dists = self._distributions()
        # draws-last layout: each parameter's draws are one contiguous row
        qf = np.ones((K, draws))
        prox = np.repeat(md.proxy[:, None], draws, axis=1)
        adj = np.repeat(md.adj[:, :, None], draws, axis=2)
        # fixed order of draws (outcome, then parameter) so that a seed is reproducible
        for k in range(K):
            for param in ("quantity", "proxy_value") + ADJUSTMENTS:
                d = dists[(k, param)]
                if d is None:
                    continue
                x = draw(d, rng, draws)
                if param == "quantity":
                    qf[k] = x
                elif param == "proxy_value":
                    prox[k] = x
                else:
                    adj[ADJUSTMENTS.index(param), k] = np.clip(x, 0.0, 1.0)
        pv = md.pv(prox, adj, qf)
        ratio = pv / self.inputs_value
        return MonteCarloResult(ratio, pv, self.inputs_value, level, seed, self.sroi_ratio, dists,
                                [o.name for o in self.impact_map.outcomes])

    # ------------------------------------------------------------------ figures
    def plot(self, kind: str = "value", ax=None, **kw):
        """Figures: ``"value"`` (PV by outcome and stakeholder), ``"pv_by_year"``,
        ``"tornado"`` (one-way sensitivity) or ``"monte_carlo"`` (ratio distribution;
        ``draws``, ``seed``). Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=kw.pop("figsize", (8, 4.5)))
        if kind == "value":
            t = self.by_stakeholder()
            labels = [f"{s}: {o}" for s, o in zip(t["stakeholder"], t["outcome"])]
            stakeholders = list(dict.fromkeys(t["stakeholder"]))
            colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
            col = [colours[stakeholders.index(s) % len(colours)] for s in t["stakeholder"]]
            ax.barh(labels[::-1], t["present_value"].to_numpy()[::-1], color=col[::-1])
            ax.set_xlabel(f"Present value (£, {self.impact_map.price_year} prices)")
            ax.set_title(f"{self.impact_map.name}: value by outcome and stakeholder")
        elif kind == "pv_by_year":
            y = self.year_by_year
            key = "financial_year" if y["financial_year"].notna().any() else "year"
            t = y.pivot_table(index=key, columns="outcome", values="present_value", aggfunc="sum", sort=False)
            t.index = [domain.fy_label(int(i)) if key == "financial_year" else int(i) for i in t.index]
            t.plot.bar(stacked=True, ax=ax, width=0.8, rot=0)
            ax.set_ylabel("Present value (£)")
            ax.set_xlabel("Financial year" if key == "financial_year" else "Year after the outcome")
            ax.set_title(f"{self.impact_map.name}: present value by year")
        elif kind == "tornado":
            t = self.one_way().head(kw.pop("top", 12)).iloc[::-1]
            labels = [f"{o}: {p}" for o, p in zip(t["outcome"], t["parameter"])]
            lo = np.minimum(t["ratio_low"], t["ratio_high"]).to_numpy()
            hi = np.maximum(t["ratio_low"], t["ratio_high"]).to_numpy()
            ax.barh(labels, hi - lo, left=lo, color="#4c72b0")
            ax.axvline(self.sroi_ratio, color="k", lw=1, label=f"ratio {self.sroi_ratio:.2f}")
            ax.axvline(1.0, color="#c44e52", lw=1, ls="--", label="break-even")
            ax.set_xlabel("SROI ratio")
            ax.set_title("One-way sensitivity (90% range of each parameter)")
            ax.legend(loc="lower right", fontsize=8)
        elif kind == "monte_carlo":
            return self.monte_carlo(draws=kw.pop("draws", 10_000), seed=kw.pop("seed", 0)).plot(ax=ax)
        else:
            raise ValueError(f"kind must be 'value', 'pv_by_year', 'tornado' or 'monte_carlo', not {kind!r}")
        ax.figure.tight_layout()
        return ax


def _restated_scale(res: SROIResult, k: int) -> float:
    """Restatement factor of outcome k's proxy (a proxy distribution is stated in the proxy's price year)."""
    o = res.impact_map.outcomes[k]
    return float(res._model.proxy[k] / o.proxy_value) if o.proxy_value else 1.0


@dataclass(repr=False)
class MonteCarloResult(Results):
    """The SROI ratio over Monte Carlo draws (``ratios``, ``present_values``: one value per draw)."""

    ratios: np.ndarray
    present_values: np.ndarray
    inputs_value: float
    level: float
    seed: int
    point_ratio: float
    distributions: dict
    outcome_names: list

    @property
    def median(self) -> float:
        return float(np.median(self.ratios))

    @property
    def interval(self) -> tuple[float, float]:
        q = (1 - self.level) / 2
        lo, hi = np.quantile(self.ratios, [q, 1 - q])
        return float(lo), float(hi)

    @property
    def prob_below_one(self) -> float:
        return float(np.mean(self.ratios < 1.0))

    def table(self) -> pd.DataFrame:
        lo, hi = self.interval
        table = pd.DataFrame([{"draws": self.ratios.size, "seed": self.seed, "point": self.point_ratio,
                               "mean": float(self.ratios.mean()), "median": self.median, "ci_lower": lo,
                               "ci_upper": hi, "alpha": 1 - self.level, "prob_below_1": self.prob_below_one}])
        return with_old_columns(table, {f"lower_{self.level:.0%}": "ci_lower", f"upper_{self.level:.0%}": "ci_upper"})

    def parameters(self) -> pd.DataFrame:
        """The distribution used for each parameter (quantity as a scale factor)."""
        rows = []
        for (k, p), d in self.distributions.items():
            rows.append({"outcome": self.outcome_names[k], "parameter": p,
                         "distribution": "fixed" if d is None else d["dist"],
                         "spec": "" if d is None else ", ".join(f"{a}={v:.4g}" if isinstance(v, float) else f"{a}={v}"
                                                                 for a, v in d.items() if a != "dist")})
        return pd.DataFrame(rows)

    def _repr_fields(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {"draws": self.ratios.size, "seed": self.seed, "median": self.median, "lower": lo, "upper": hi}

    def tidy(self) -> pd.DataFrame:
        """The ratio's summary over the draws as one row (see :meth:`table`)."""
        return self.table()

    def summary(self) -> Summary:
        lo, hi = self.interval
        return Summary(f"Monte Carlo ({self.ratios.size:,} draws, seed {self.seed}): "
                       f"SROI ratio median {self.median:.2f}, "
                f"{self.level:.0%} interval {lo:.2f}–{hi:.2f}; point estimate {self.point_ratio:.2f}; "
                f"P(ratio < 1) = {self.prob_below_one:.3f}")

    def to_dict(self) -> dict:
        lo, hi = self.interval
        return {"draws": int(self.ratios.size), "seed": self.seed, "median": self.median, "mean":
                float(self.ratios.mean()), "interval_level": self.level, "interval": [lo, hi],
                "prob_below_1": self.prob_below_one}

    def plot(self, ax=None, bins: int = 60):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        ax.hist(self.ratios, bins=bins, color="#4c72b0", alpha=0.8)
        lo, hi = self.interval
        ax.axvline(self.median, color="k", lw=1.2, label=f"median {self.median:.2f}")
        ax.axvspan(lo, hi, color="#4c72b0", alpha=0.12, label=f"{self.level:.0%} interval {lo:.2f}–{hi:.2f}")
        ax.axvline(1.0, color="#c44e52", ls="--", lw=1, label="break-even")
        ax.set_xlabel("SROI ratio")
        ax.set_ylabel("Draws")
        ax.set_title(f"Monte Carlo: {self.ratios.size:,} draws (seed {self.seed})")
        ax.legend(fontsize=8)
        ax.figure.tight_layout()
        return ax
