"""Small numerical helpers shared by the models."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def hessian_from_gradient(gradient: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                          rel_step: float = 1e-5) -> np.ndarray:
    """Central differences of an analytic gradient (2·len(x) evaluations), symmetrised.

    >>> hessian_from_gradient(lambda v: np.array([2 * v[0] + v[1], v[0] + 6 * v[1]]), np.ones(2)).round(6)
    array([[2., 1.],
           [1., 6.]])
    """
    x = np.asarray(x, dtype=float)
    m = x.size
    H = np.empty((m, m))
    for i in range(m):
        h = rel_step * max(1.0, abs(x[i]))
        e = np.zeros(m)
        e[i] = h
        H[:, i] = (gradient(x + e) - gradient(x - e)) / (2 * h)
    return (H + H.T) / 2
