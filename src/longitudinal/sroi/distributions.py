"""The Monte Carlo distributions of a map's parameters: defaults, draws and quantiles."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats

__all__ = ["DEFAULT_ADJ_SD", "DEFAULT_PROXY_GSD_LOG", "as_factor", "draw", "ppf"]


#: Default spread of the Monte Carlo distributions when a map gives none.
DEFAULT_ADJ_SD = 0.10
DEFAULT_PROXY_GSD_LOG = 0.30  # lognormal sigma of a proxy: 90% of draws within ×/÷ 1.64


def as_factor(spec: dict, scale: float) -> dict | None:
    """A distribution stated in the map's units; draws are multiplied by ``scale``."""
    if not math.isfinite(scale):
        return None
    return {**spec, "_scale": float(scale)}


def _beta_ab(spec: Mapping) -> tuple[float, float]:
    if "a" in spec:
        return float(spec["a"]), float(spec["b"])
    m, sd = float(spec["mean"]), float(spec["sd"])
    var = sd * sd
    if not 0 < m < 1 or var <= 0 or var >= m * (1 - m):
        raise ValueError(f"beta with mean {m} and sd {sd} is impossible (need 0<mean<1, sd^2 < mean(1-mean))")
    kappa = m * (1 - m) / var - 1
    return m * kappa, (1 - m) * kappa


def draw(spec: Mapping, rng: np.random.Generator, n: int) -> np.ndarray:
    d = spec["dist"]
    s = float(spec.get("_scale", 1.0))
    if d == "beta":
        a, b = _beta_ab(spec)
        x = rng.beta(a, b, n)
    elif d == "triangular":
        lo, mo, hi = float(spec["low"]), float(spec["mode"]), float(spec["high"])
        x = np.full(n, lo) if hi == lo else rng.triangular(lo, mo, hi, n)
    elif d == "lognormal":
        x = float(spec["median"]) * np.exp(float(spec["sigma"]) * rng.standard_normal(n))
    elif d == "normal":
        x = float(spec["mean"]) + float(spec["sd"]) * rng.standard_normal(n)
    elif d == "uniform":
        x = rng.uniform(float(spec["low"]), float(spec["high"]), n)
    else:  # fixed
        x = np.full(n, float(spec.get("value", 1.0)))
    return np.maximum(x, 0.0) * s


def ppf(spec: Mapping, q: float) -> float:
    d = spec["dist"]
    s = float(spec.get("_scale", 1.0))
    if d == "beta":
        a, b = _beta_ab(spec)
        x = float(stats.beta.ppf(q, a, b))
    elif d == "triangular":
        lo, mo, hi = float(spec["low"]), float(spec["mode"]), float(spec["high"])
        x = lo if hi == lo else float(stats.triang.ppf(q, (mo - lo) / (hi - lo), loc=lo, scale=hi - lo))
    elif d == "lognormal":
        x = float(spec["median"]) * math.exp(float(spec["sigma"]) * stats.norm.ppf(q))
    elif d == "normal":
        x = max(0.0, float(spec["mean"]) + float(spec["sd"]) * stats.norm.ppf(q))
    elif d == "uniform":
        x = float(spec["low"]) + q * (float(spec["high"]) - float(spec["low"]))
    else:
        x = float(spec.get("value", 1.0))
    return x * s
