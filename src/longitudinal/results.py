"""The one results base every fitted or computed result shares (in the spirit of lifelines'
``BaseFitter`` and linearmodels' summary mixin).

A results class subclasses :class:`Results` and writes three methods:

- ``summary()`` returning a :class:`Summary` (``Summary(text, tables)``): a ``str`` that prints as
  text in a terminal and shows as HTML tables in Jupyter;
- ``tidy()`` returning one long DataFrame (the estimates with ``estimate, std_error, ci_lower,
  ci_upper, p_value`` where the result has them);
- ``_repr_fields()`` returning the few facts for the one-line ``repr`` (never arrays).

It then gets ``_repr_html_`` (the summary's HTML), ``__repr__`` (``<Name k=v ...>``),
``__str__`` (the summary's text), and both spellings of every fitted attribute: ``fit.states_``
and ``fit.states``, ``fit.fixed_effects`` and ``fit.fixed_effects_``.

``plot(ax=None)`` follows one rule (see :func:`axes_for`): it returns the matplotlib ``Axes`` it
drew on, or for a figure of several panels a NumPy array of ``Axes`` (pandas' ``subplots=True``
convention); never a ``Figure``, so a notebook draws each figure once (the inline backend shows
the pyplot figure; an Axes' repr is one line of text).

>>> import pandas as pd
>>> s = Summary("My model\\n  nobs: 3", {"Coefficients": pd.DataFrame({"estimate": [1.0]}, index=["x"])})
>>> print(s.splitlines()[0])
My model
>>> "<table" in s._repr_html_()
True
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Results", "Summary", "axes_for", "figure_of", "short_repr"]


class Summary(str):
    """A results summary: the text (it *is* a ``str``, so existing ``print``/``in``/``splitlines``
    keep working) plus the tables it was made from, shown as HTML in Jupyter.

    Parameters
    ----------
    text : str
        The full plain-text summary (what ``print`` shows).
    tables : mapping of caption to DataFrame, optional
        The tables in the order to show them in HTML.
    head : str, optional
        The lines shown above the tables in HTML; the text's first paragraph by default.
    notes : sequence of str, optional
        Lines shown under the tables in HTML.
    """

    tables: dict[str, pd.DataFrame]
    head: str
    notes: list[str]

    def __new__(cls, text: str, tables: Mapping[str, pd.DataFrame] | None = None, *,
                head: str | None = None, notes: Sequence[str] = ()) -> Summary:
        obj = super().__new__(cls, text)
        obj.tables = dict(tables or {})
        obj.head = text.split("\n\n")[0] if head is None else head
        obj.notes = list(notes)
        return obj

    def __repr__(self) -> str:  # a terminal shows the text, not a quoted string full of \n
        return str(self)

    def _repr_html_(self) -> str:
        if not self.tables:
            return f"<pre>{html.escape(str(self))}</pre>"
        parts = [f"<pre>{html.escape(self.head)}</pre>"]
        for caption, table in self.tables.items():
            parts.append(f"<h4>{html.escape(caption)}</h4>")
            parts.append(table.to_html(float_format=lambda v: f"{v:.4f}", na_rep="-"))
        parts += [f"<p>{html.escape(n)}</p>" for n in self.notes]
        return "<div class=\"longitudinal-summary\">" + "".join(parts) + "</div>"


def short_repr(obj: object, fields: Mapping[str, Any]) -> str:
    """``<Name k=v ...>`` with numbers formatted briefly and nothing long."""
    out = []
    for k, v in fields.items():
        if isinstance(v, bool) or v is None:
            s = str(v)
        elif isinstance(v, (int, np.integer)):
            s = f"{int(v):,}"
        elif isinstance(v, (float, np.floating)):
            s = f"{float(v):.4g}"
        else:
            s = repr(v)
            if len(s) > 60:
                s = s[:57] + "..."
        out.append(f"{k}={s}")
    return f"<{type(obj).__name__}" + "".join(" " + o for o in out) + ">"


_MISSING = object()


class Results:
    """Base of every results object: HTML display, short repr, text ``str``; see the module docs."""

    def summary(self) -> Summary:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def tidy(self) -> pd.DataFrame:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _repr_fields(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return short_repr(self, self._repr_fields())

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __getattr__(self, name: str):
        # Fitted attributes answer to both spellings: ``fixed_effects`` and ``fixed_effects_`` (docs/api.md).
        # Only called when the normal look-up fails; dunder names (pickle, copy) are never aliased.
        if name.startswith("__") or not name:
            raise AttributeError(name)
        other = name[:-1] if name.endswith("_") else name + "_"
        try:
            value = object.__getattribute__(self, other)
        except AttributeError:
            value = _MISSING
        # fitted attributes only: ``map.ratings_`` must not be the method ``map.ratings``
        if value is _MISSING or inspect.ismethod(value):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None
        return value


def axes_for(ax=None, *, figsize: tuple[float, float] = (6.4, 4.2), **subplots):
    """The Axes to draw on: ``ax`` itself, or a new one in a new pyplot figure.

    With ``nrows``/``ncols`` in ``subplots`` (and ``ax`` None) returns the array of new Axes.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    subplots.setdefault("constrained_layout", True)
    _, axes = plt.subplots(figsize=figsize, **subplots)
    return axes


def figure_of(drawn):
    """The Figure behind what a ``plot()`` returned (an Axes or an array of them), or a Figure itself."""
    if isinstance(drawn, np.ndarray):
        drawn = drawn.flat[0]
    return getattr(drawn, "figure", drawn)
