"""Old spellings of arguments and result columns keep working for one release, with a
``DeprecationWarning`` naming the new one (the vocabulary is in docs/api.md).

>>> import warnings
>>> @renamed_arguments(group="id")
... def f(data, *, id="episode_id"):
...     return id
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     f(None, group="person_id"), str(w[0].message)
('person_id', "f(group=...) is deprecated: use f(id=...) (longitudinal's vocabulary, docs/api.md)")
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pandas as pd

__all__ = ["warn_deprecated", "renamed_arguments", "level_to_alpha", "RenamedColumns", "RenamedKeys",
           "with_old_columns"]

F = TypeVar("F", bound=Callable[..., Any])


def warn_deprecated(message: str, stacklevel: int = 3) -> None:
    """Warn that an old spelling is deprecated (``message`` names the new one), pointing at docs/api.md."""
    # stacklevel: the user's line, not this module or the wrapper
    warnings.warn(message + " (longitudinal's vocabulary, docs/api.md)", DeprecationWarning, stacklevel=stacklevel)


def renamed_arguments(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword argument as its new name, warning once per call."""

    def deco(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old}= (deprecated) and {new}=; pass {new}= only")
                    warn_deprecated(f"{func.__name__}({old}=...) is deprecated: use {func.__name__}({new}=...)")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def level_to_alpha(func_name: str, level: float | None, alpha: float) -> float:
    """``alpha`` from a deprecated ``level=`` (coverage) argument, warning; ``alpha`` when it is None."""
    if level is None:
        return alpha
    warn_deprecated(f"{func_name}(level={level:g}) is deprecated: use {func_name}(alpha={1 - level:.4g})", stacklevel=4)
    return 1 - float(level)


class RenamedColumns(pd.DataFrame):
    """A results table whose renamed columns still answer to their old names (with a warning).

    Anything derived from it (a filter, a merge, a copy) is a plain DataFrame: only direct
    ``table["old"]`` look-ups are translated.
    """

    _metadata = ["_old_names"]

    @property
    def _constructor(self):
        return pd.DataFrame

    def _translate(self, key):
        old = getattr(self, "_old_names", None) or {}
        if isinstance(key, str) and key in old and key not in self.columns:
            warn_deprecated(f"result column {key!r} is deprecated: use {old[key]!r}", stacklevel=5)
            return old[key]
        if isinstance(key, list) and any(isinstance(k, str) and k in old and k not in self.columns for k in key):
            return [self._translate(k) for k in key]
        return key

    def __getitem__(self, key):
        return super().__getitem__(self._translate(key))


def with_old_columns(df: pd.DataFrame, old_to_new: Mapping[str, str]) -> pd.DataFrame:
    """``df`` answering to the old column names in ``old_to_new`` for one release."""
    out = RenamedColumns(df)
    out._old_names = dict(old_to_new)
    return out


class RenamedKeys(dict):
    """A dict of results whose renamed keys still answer to their old names (with a warning)."""

    def __init__(self, data, old_to_new: Mapping[str, str]):
        super().__init__(data)
        self._old_names = dict(old_to_new)

    def __missing__(self, key):
        if key in self._old_names:
            warn_deprecated(f"result key {key!r} is deprecated: use {self._old_names[key]!r}")
            return self[self._old_names[key]]
        raise KeyError(key)
