"""Financial proxies: the library of values, and their restatement to a map's price year."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..io import RESOURCES
from ..prices import DeflatorError, Deflators
from .fields import ImpactMapError

__all__ = ["DEFAULT_PROXIES", "DEFAULT_UNIT_COSTS", "Proxy", "load_proxies", "restate"]


DEFAULT_PROXIES = RESOURCES / "proxies.yaml"
#: Unit costs of public services (per event), keyed by the service codes of ``service_use``.
DEFAULT_UNIT_COSTS = RESOURCES / "unit_costs.yaml"


@dataclass(frozen=True)
class Proxy:
    """A financial proxy from the library."""

    key: str
    name: str
    value: float
    unit: str
    price_year: int
    source: str
    note: str = ""
    status: str = "illustrative"


def load_proxies(path: str | Path | None = None, section: str = "proxies") -> dict[str, Proxy]:
    """The proxy library (``data/proxies.yaml`` by default), keyed by proxy key.

    ``section="unit_costs"`` reads the unit costs of public services (``data/unit_costs.yaml``
    when ``path`` is not given), which have the same fields.

    >>> p = load_proxies()["full_time_employment"]
    >>> p.value, p.price_year
    (10767.0, 2014)
    >>> load_proxies(section="unit_costs")["emergency_admission"].status
    'illustrative'
    """
    default = DEFAULT_UNIT_COSTS if section == "unit_costs" else DEFAULT_PROXIES
    path = Path(path) if path is not None else default
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = {}
    for key, p in (raw.get(section) or {}).items():
        for f in ("value", "price_year", "source"):
            if p.get(f) in (None, ""):
                raise ImpactMapError(f"proxy library {path}: missing {f}", row=key, field=f)
        value = float(p["value"])
        if value < 0:
            raise ImpactMapError(f"proxy library {path}: negative value {value}", row=key, field="value")
        out[key] = Proxy(key, str(p.get("name", key)), value, str(p.get("unit", "GBP")), int(p["price_year"]),
                         str(p["source"]), str(p.get("note", "")), str(p.get("status", raw.get("status", ""))))
    return out


def restate(deflators: Deflators, value: float, from_year: int, to_year: int, *, row: Any = None,
             field: str = "price_year") -> float:
    """:meth:`Deflators.restate`, its errors said as errors of the impact map's row."""
    try:
        return deflators.restate(value, from_year, to_year, row=row, field=field)
    except DeflatorError as e:
        raise ImpactMapError(e.message, row=e.row, field=e.field) from None
