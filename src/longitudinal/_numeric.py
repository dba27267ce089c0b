"""Small numerical helpers shared by the models."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd


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


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` for a large integer array, by sorting.

    NumPy 2.3+ finds the unique values of a plain ``np.unique`` call by hashing, which on
    millions of int64 keys (national scale) costs 20-30 s against well under 1 s for a sort.

    >>> sorted_unique(np.array([3, 1, 3, 2, 1]))
    array([1, 2, 3])
    """
    s = np.sort(np.asarray(values), axis=None)
    if s.size == 0:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of each value (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def rows_distinct(rows: np.ndarray) -> bool:
    """Whether the rows of a 2-D ``uint8`` array (fixed-width byte strings) are all different.

    Exact: each row is hashed to 64 bits and the hashes sorted; only rows whose hash repeats are
    compared byte for byte. At 600,000 identifiers of 16 characters this takes about 0.03 s, where
    pandas' uniqueness check of the same strings as Python objects takes 0.1-0.2 s.

    >>> rows_distinct(np.frombuffer(b"abcdabceabcd", np.uint8).reshape(3, 4))
    False
    >>> rows_distinct(np.frombuffer(b"abcdabceabcf", np.uint8).reshape(3, 4))
    True
    """
    rows = np.asarray(rows, dtype=np.uint8)
    n, width = rows.shape
    if n < 2:
        return True
    words = -(-width // 8)
    if width != words * 8 or not rows.flags.c_contiguous:
        padded = np.zeros((n, words * 8), dtype=np.uint8)
        padded[:, :width] = rows
        rows = padded
    w = rows.view("<u8")
    h = np.zeros(n, dtype=np.uint64)
    for k in range(words):
        h = _mix64(h ^ w[:, k])
    s = np.sort(h)
    repeated = s[1:] == s[:-1]
    if not repeated.any():
        return True
    suspects = np.flatnonzero(np.isin(h, s[1:][repeated]))
    return len({rows[i].tobytes() for i in suspects}) == len(suspects)


@functools.cache
def _pava_kernel():
    """scipy's PAVA kernel (``isotonic_regression`` minus its per-call checks and result object), if this
    scipy has it with the signature and result we rely on; else None and the public function is used.
    Looked up on first use, so importing the package does not import scipy.optimize."""
    try:
        from scipy.optimize import isotonic_regression
        from scipy.optimize._pava_pybind import pava
    except ImportError:  # pragma: no cover - a scipy that moved it
        return None
    y, w = np.array([3.0, 1.0, 2.0, 5.0, 4.0]), np.array([1.0, 2.0, 1.0, 3.0, 1.0])
    try:  # a private function may change without notice: check it against the public one once
        got = pava(y.copy(), w.copy(), np.full(y.size + 1, -1, dtype=np.intp))[0]
        ok = np.array_equal(got, isotonic_regression(y, weights=w, increasing=True).x)
    except Exception:  # pragma: no cover - any change of signature or result
        ok = False
    return pava if ok else None


def isotonic_increasing(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``scipy.optimize.isotonic_regression(y, weights=w, increasing=True).x`` for weights ``w > 0``.

    The same PAVA call on the same copies of the data, so the same numbers; the public function's
    argument checks and result object cost several times the PAVA itself on the few innermost
    intervals of a sustained-outcome curve, and the Turnbull bootstrap calls it about 150,000 times
    per report.
    """
    pava = _pava_kernel()
    if pava is None:  # pragma: no cover
        from scipy.optimize import isotonic_regression

        return isotonic_regression(y, weights=w, increasing=True).x
    x = np.array(y, order="C", dtype=np.float64, copy=True)
    return pava(x, np.array(w, order="C", dtype=np.float64, copy=True), np.full(x.size + 1, -1, dtype=np.intp))[0]


def text_ranks(col: pd.Series) -> tuple[np.ndarray, int]:
    """Each value's rank among the column's distinct values as text (``astype(str)``), and how many there are:
    integers that sort as the text does, found once per distinct value (sorting a national table's identifiers
    as Python strings takes most of a second).

    >>> ranks, n = text_ranks(pd.Series(["b", "a", "b", "c"]))
    >>> ranks.tolist(), n
    ([1, 0, 1, 2], 3)
    """
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    text = np.asarray(pd.Series(uniques).astype(str), dtype=object)
    distinct, rank = np.unique(text, return_inverse=True)
    return rank.reshape(-1)[codes].astype("int64"), len(distinct)

