"""The numerical core: a resolved impact map as arrays of cohorts x outcomes x years."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ValueModel"]


@dataclass
class ValueModel:
    """Arrays of a resolved map: C cohorts × K outcomes × T years."""

    quantity: np.ndarray   # (C, K)
    proxy: np.ndarray      # (K,)  restated to the price year
    adj: np.ndarray        # (4, K) deadweight, displacement, attribution, drop_off
    duration: np.ndarray   # (K,)
    df: np.ndarray         # (C, T) discount factors of value years
    inputs: np.ndarray     # (C,)  inputs restated to the price year
    input_df: np.ndarray   # (C,)

    @property
    def years(self) -> np.ndarray:
        return np.arange(1, self.df.shape[1] + 1)

    def mask(self) -> np.ndarray:
        return (self.years[None, :] <= self.duration[:, None]).astype(float)  # (K, T)

    def pv(self, proxy, adj, qf=None, quantity=None) -> np.ndarray:
        """PV of N draws, laid out draws-last for speed: proxy (K, N), adj (4, K, N),
        qf (K, N) a scale factor on each outcome's quantities (None: 1), quantity
        (C, K) the quantities (None: the map's). Returns (N,).

        ``sum_t (1 − d)^(t−1) · mask[k, t] · df[c, t]`` is a polynomial in ``1 − d``,
        evaluated by Horner's rule: no (outcomes × years × draws) array of powers.
        """
        quantity = self.quantity if quantity is None else quantity
        weight = proxy * (1 - adj[0]) * (1 - adj[1]) * (1 - adj[2])            # (K, N)
        if qf is not None:
            weight = weight * qf
        x = 1 - adj[3]                                                           # (K, N)
        # collapse cohorts first: sum_c Q[c, k] df[c, t] (the cohorts share the outcome's draws)
        coef = self.mask() * np.einsum("ck,ct->kt", quantity, self.df)          # (K, T)
        h = np.broadcast_to(coef[:, -1:], x.shape).copy()
        for t in range(coef.shape[1] - 2, -1, -1):
            h *= x
            h += coef[:, t:t + 1]
        return np.einsum("kn,kn->n", weight, h)

    def point_pv(self) -> float:
        return float(self.pv(self.proxy[:, None], self.adj[:, :, None])[0])

    def inputs_value(self) -> float:
        return float(self.inputs @ self.input_df)

    def values(self) -> np.ndarray:
        """Undiscounted value (C, K, T)."""
        keep = np.prod(1 - self.adj[:3], axis=0)
        decay = np.power((1 - self.adj[3])[:, None], (self.years - 1)[None, :]) * self.mask()
        return self.quantity[:, :, None] * (self.proxy * keep)[None, :, None] * decay[None]
