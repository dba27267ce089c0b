"""Reading an impact map's fields: its errors, shares, amounts, blanks, keys and indicator names."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..errors import NoDataError
from ..prices import LocatedError

__all__ = ["ImpactMapError", "NoInputsError", "parse_share", "parse_nonneg", "is_blank", "check_keys",
           "indicator_names", "check_indicator"]


class ImpactMapError(LocatedError):
    """A problem in an impact map, naming the row and field."""


class NoInputsError(ImpactMapError, NoDataError):
    """The inputs total 0 (e.g. a group with no spend): the SROI ratio is undefined."""

def parse_share(value: Any, fld: str, row: Any = None) -> float:
    """A share in 0–1 from a number (0–1) or a string with % (0–100%)."""
    if isinstance(value, bool):
        raise ImpactMapError(f"expected a share between 0 and 1 (or 0–100%), not {value!r}", row=row, field=fld)
    if isinstance(value, str):
        s = value.strip()
        pct = s.endswith("%")
        try:
            num = float(s[:-1].strip() if pct else s)
        except ValueError:
            raise ImpactMapError(f"expected a share between 0 and 1 (or 0–100%), not {value!r}",
                                 row=row, field=fld) from None
        if pct:
            if not 0.0 <= num <= 100.0:
                raise ImpactMapError(f"{value!r} is outside 0–100%", row=row, field=fld)
            return num / 100.0
        value = num
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ImpactMapError(f"expected a share between 0 and 1 (or 0–100%), not {value!r}", row=row,
                             field=fld) from None
    if not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise ImpactMapError(f"{v!r} is outside 0–1 (write a share such as 0.4, or 40%)", row=row, field=fld)
    return v


def parse_nonneg(value: Any, fld: str, row: Any) -> float:
    try:
        v = float(str(value).replace(",", "").replace("£", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ImpactMapError(f"expected a number, not {value!r}", row=row, field=fld) from None
    if not math.isfinite(v) or v < 0:
        raise ImpactMapError(f"must be a non-negative number, not {v!r}", row=row, field=fld)
    return v


def is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def check_keys(m: Iterable[Any], allowed: set[str], *, row: Any = None, what: str = "") -> None:
    """An unknown key is an error naming it, the nearest known key and the ones allowed."""
    import difflib

    for key in m:
        if str(key) not in allowed:
            near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ImpactMapError(f"unknown key {key!r}{' in ' + what if what else ''}{hint}; expected: "
                                 + ", ".join(sorted(k for k in allowed if not k.startswith("_"))),
                                 row=row, field=str(key))


def indicator_names() -> list[str]:
    from .. import indicators

    return indicators.names()


def check_indicator(name: str, row: str) -> None:
    if name not in indicator_names():
        raise ImpactMapError(f"unknown indicator {name!r}; registered: {', '.join(indicator_names())}", row=row,
                             field="indicator")
