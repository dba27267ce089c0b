"""Discounting: the HM Treasury Green Book schedule or a constant rate, with an explicit timing convention."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fields import ImpactMapError, check_keys, parse_share

__all__ = ["GREEN_BOOK", "Discount"]


#: HM Treasury Green Book declining schedule: (last year the rate applies to, rate).
GREEN_BOOK: tuple[tuple[int | None, float], ...] = (
    (30, 0.035), (75, 0.030), (125, 0.025), (200, 0.020), (300, 0.015), (None, 0.010))


_DISCOUNT_KEYS = {"rate", "schedule", "timing", "first_year_discounted"}


@dataclass(frozen=True)
class Discount:
    """Discounting: a schedule of rates and a timing convention.

    Parameters
    ----------
    schedule : tuple of (last_year or None, rate)
        Rate for years up to ``last_year`` (``None``: all later years).
    timing : {"end", "start", "mid"}
        ``"end"``: a year's value is discounted by the whole year, the first year
        included (the SROI guide's convention); ``"start"``: the first year is not
        discounted; ``"mid"``: values arrive mid-year.

    Examples
    --------
    >>> d = Discount.green_book()
    >>> [round(float(x), 6) for x in d.cumulative([1, 2])]
    [0.966184, 0.933511]
    """

    schedule: tuple[tuple[int | None, float], ...] = GREEN_BOOK
    timing: str = "end"

    @classmethod
    def green_book(cls, timing: str = "end") -> Discount:
        return cls(GREEN_BOOK, timing)

    @classmethod
    def constant(cls, rate: float, timing: str = "end") -> Discount:
        return cls(((None, float(rate)),), timing)

    @classmethod
    def from_spec(cls, spec: Any) -> Discount:
        """From a map's ``discount`` entry: a rate, ``"green_book"`` or a mapping with
        ``rate`` or ``schedule`` and ``timing`` (or ``first_year_discounted``)."""
        if spec is None or spec == "green_book":
            return cls.green_book()
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            return cls.constant(parse_share(spec, "discount"))
        if not isinstance(spec, Mapping):
            raise ImpactMapError(f"expected a rate, 'green_book' or a mapping, not {spec!r}", field="discount")
        check_keys(spec, _DISCOUNT_KEYS, what="discount")
        timing = spec.get("timing")
        if "first_year_discounted" in spec:
            fyd = "end" if spec["first_year_discounted"] else "start"
            if timing is not None and timing != fyd:
                raise ImpactMapError(f"timing {timing!r} contradicts first_year_discounted="
                                     f"{spec['first_year_discounted']}", field="discount")
            timing = fyd
        timing = timing or "end"
        if timing not in ("end", "start", "mid"):
            raise ImpactMapError(f"timing must be 'end', 'start' or 'mid', not {timing!r}", field="discount.timing")
        if "schedule" in spec and spec["schedule"] not in (None, "green_book"):
            sched = []
            for item in spec["schedule"]:
                if isinstance(item, Mapping):
                    last, r = item.get("to_year"), item.get("rate")
                else:
                    last, r = item
                sched.append((None if last is None else int(last), parse_share(r, "discount.schedule")))
            if sched[-1][0] is not None:
                sched.append((None, sched[-1][1]))
            return cls(tuple(sched), timing)
        if "rate" in spec and spec["rate"] is not None:
            return cls.constant(parse_share(spec["rate"], "discount.rate"), timing)
        return cls(GREEN_BOOK, timing)

    def rates(self, n: int) -> np.ndarray:
        """The rate applying in each of years 1..n."""
        out = np.empty(n)
        lo = 0
        for last, r in self.schedule:
            hi = n if last is None else min(last, n)
            out[lo:hi] = r
            lo = max(lo, hi)
        return out

    def cumulative(self, t) -> np.ndarray:
        """Discount factor at (possibly fractional) time ``t`` years from now."""
        t = np.asarray(t, dtype=float)
        n = int(np.ceil(t.max())) if t.size else 0
        rates = self.rates(max(n, 1))
        logd = np.concatenate([[0.0], -np.cumsum(np.log1p(rates))])
        whole = np.floor(t).astype(int)
        frac = t - whole
        nxt = np.minimum(whole, len(rates) - 1)
        return np.exp(logd[whole] - frac * np.log1p(rates[nxt]))

    def factors(self, years: Iterable[int], offset: float = 0.0) -> np.ndarray:
        """Factors for value years ``years`` (1 = first) of a cohort starting ``offset`` years in."""
        t = np.asarray(list(years), dtype=float) + offset
        shift = {"end": 0.0, "start": 1.0, "mid": 0.5}[self.timing]
        return self.cumulative(t - shift)

    def describe(self) -> str:
        if len(self.schedule) == 1:
            rates = f"{self.schedule[0][1]:.2%} a year"
        elif self.schedule == GREEN_BOOK:
            rates = "HM Treasury Green Book schedule (3.5% to year 30, 3.0% to 75, 2.5% to 125, then 2.0/1.5/1.0%)"
        else:
            rates = "schedule " + ", ".join(f"{r:.2%} to {'end' if y is None else y}" for y, r in self.schedule)
        timing = {"end": "first year discounted (guide)", "start": "first year not discounted",
                  "mid": "mid-year"}[self.timing]
        return f"{rates}; {timing}"
