"""Social return on investment (SROI): impact maps, evidence-based adjustments,
Green Book discounting and probabilistic sensitivity analysis.

The calculation follows the Cabinet Office / Social Value UK *Guide to Social
Return on Investment*:

* impact of an outcome in its first year
  ``V_1 = quantity × proxy × (1 − deadweight)(1 − displacement)(1 − attribution)``
  (the deductions are multiplied, not summed);
* drop-off from the second year: ``V_t = V_1 (1 − d)^(t − 1)`` for ``t = 1 … duration``;
* present value with the HM Treasury Green Book schedule (3.5% to year 30,
  3.0% to 75, 2.5% to 125, then 2.0%, 1.5%, 1.0%) by default, with the timing
  convention explicit: ``"end"`` (every year discounted, the first included — the
  guide's), ``"start"`` (first year not discounted) or ``"mid"`` (mid-year);
* ``NPV = PV − inputs``, ``SROI ratio = PV / inputs``, ``net ratio = NPV / inputs``,
  payback in months ``= inputs / (first year's impact / 12)``.

Proxies and spend are restated to the map's price year with a GDP deflator
table that names its source (:mod:`longitudinal.prices`; by default HM
Treasury's March 2026 release in ``data/deflators.csv``). A quantity is a number or
an indicator of the study (:mod:`longitudinal.indicators`); inputs are numbers
or the ``spend`` table. With a study, the map is evaluated for each financial
year of the study (the cohort of outcomes reached that year against that
year's spend) and cumulatively, every cohort discounted to the first year.

Examples
--------
>>> from longitudinal import sroi
>>> m = sroi.ImpactMap.from_dict({
...     "name": "Worked example", "price_year": 2025,
...     "discount": {"rate": 0.035, "timing": "end"},
...     "inputs": [{"name": "Grant", "value": 100000}],
...     "outcomes": [{"name": "Settled housing", "stakeholder": "Service users",
...                   "quantity": 10, "proxy_value": 10000, "price_year": 2025,
...                   "duration_years": 2, "deadweight": 0.2, "displacement": 0.0,
...                   "attribution": 0.25, "drop_off": 0.5}]})
>>> r = sroi.evaluate(m)
>>> round(r.present_value, 2)     # 60000/1.035 + 30000/1.035**2
85976.34
>>> round(r.sroi_ratio, 4), round(r.payback_months, 1)
(0.8598, 20.0)
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import optimize, stats

from . import domain
from .deprecation import level_to_alpha
from .errors import NoDataError
from .io import RESOURCES
from .prices import DeflatorError, Deflators, LocatedError, load_deflators
from .results import Results, Summary

__all__ = [
    "ImpactMapError", "DeflatorError", "Adjustment", "Discount", "Proxy", "Deflators", "OutcomeRow", "InputRow",
    "ImpactMap",
    "SROIResult", "MonteCarloResult", "evaluate", "evaluate_by", "estimate_drop_off", "load_proxies", "load_deflators",
    "GREEN_BOOK", "PUBLISHED_MEDIANS", "ADJUSTMENTS", "MIN_EVIDENCE",
]

DEFAULT_PROXIES = RESOURCES / "proxies.yaml"
#: Unit costs of public services (per event), keyed by the service codes of ``service_use``.
DEFAULT_UNIT_COSTS = RESOURCES / "unit_costs.yaml"

#: HM Treasury Green Book declining schedule: (last year the rate applies to, rate).
GREEN_BOOK: tuple[tuple[int | None, float], ...] = (
    (30, 0.035), (75, 0.030), (125, 0.025), (200, 0.020), (300, 0.015), (None, 0.010))
#: Medians of the adjustments across 383 published SROI reports (as given in issue 5): the default
#: value of an adjustment a map leaves blank, and the upper end of the default uncertainty of a 0.
PUBLISHED_MEDIANS: dict[str, float] = {
    "deadweight": 0.20, "attribution": 0.255, "drop_off": 0.215, "displacement": 0.175}
ADJUSTMENTS: tuple[str, ...] = ("deadweight", "displacement", "attribution", "drop_off")
_MEDIANS_BASIS = "median across 383 published SROI reports"
#: The fewest people an adjustment is estimated from (people at risk on a sustained-outcome curve;
#: the programme's and the comparison group's bases of a rate); below it the map's stated value is used.
MIN_EVIDENCE = 30
#: Default spread of the Monte Carlo distributions when a map gives none.
_DEFAULT_ADJ_SD = 0.10
_DEFAULT_PROXY_GSD_LOG = 0.30  # lognormal sigma of a proxy: 90% of draws within ×/÷ 1.64


class ImpactMapError(LocatedError):
    """A problem in an impact map, naming the row and field."""


class NoInputsError(ImpactMapError, NoDataError):
    """The inputs total 0 (e.g. a group with no spend): the SROI ratio is undefined."""


# ============================================================ small pieces
@dataclass(frozen=True)
class Adjustment:
    """One adjustment (deadweight, displacement, attribution or drop-off) and where it came from.

    ``status`` is ``"assumed"`` (stated in the map), ``"default"`` (left blank: the
    published median) or ``"estimated"`` (from the study; ``basis`` says how).
    """

    value: float
    status: str = "assumed"
    basis: str = "stated in the impact map"
    ci_lower: float | None = None
    ci_upper: float | None = None
    distribution: dict | None = None


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
            return cls.constant(_rate(spec, "discount"))
        if not isinstance(spec, Mapping):
            raise ImpactMapError(f"expected a rate, 'green_book' or a mapping, not {spec!r}", field="discount")
        _check_keys(spec, _DISCOUNT_KEYS, what="discount")
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
                sched.append((None if last is None else int(last), _rate(r, "discount.schedule")))
            if sched[-1][0] is not None:
                sched.append((None, sched[-1][1]))
            return cls(tuple(sched), timing)
        if "rate" in spec and spec["rate"] is not None:
            return cls.constant(_rate(spec["rate"], "discount.rate"), timing)
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


def _restate(deflators: Deflators, value: float, from_year: int, to_year: int, *, row: Any = None,
             field: str = "price_year") -> float:
    """:meth:`Deflators.restate`, its errors said as errors of the impact map's row."""
    try:
        return deflators.restate(value, from_year, to_year, row=row, field=field)
    except DeflatorError as e:
        raise ImpactMapError(e.message, row=e.row, field=e.field) from None


# ============================================================ parsing helpers
def _rate(value: Any, fld: str, row: Any = None) -> float:
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


def _nonneg(value: Any, fld: str, row: Any) -> float:
    try:
        v = float(str(value).replace(",", "").replace("£", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ImpactMapError(f"expected a number, not {value!r}", row=row, field=fld) from None
    if not math.isfinite(v) or v < 0:
        raise ImpactMapError(f"must be a non-negative number, not {v!r}", row=row, field=fld)
    return v


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


_CALL = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(?:\((.*)\))?\s*$", re.S)


def _parse_indicator(text: str, row: Any) -> tuple[str, dict] | None:
    """``"name(k=v, k=v)"`` → (name, params) when ``name`` is a registered indicator, else None."""
    from . import indicators

    m = _CALL.match(str(text))
    if not m or m.group(1) not in indicators._REGISTRY:
        return None
    params: dict[str, Any] = {}
    if m.group(2):
        for part in m.group(2).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ImpactMapError(f"indicator parameters must be key=value, not {part.strip()!r}",
                                     row=row, field="indicator")
            k, v = (s.strip() for s in part.split("=", 1))
            params[k] = yaml.safe_load(v)
    return m.group(1), params


# ============================================================ the impact map
@dataclass
class OutcomeRow:
    """One row of the impact map (one outcome for one stakeholder)."""

    row: str
    name: str
    stakeholder: str
    duration_years: int
    quantity: float | None = None
    indicator: str | None = None
    indicator_params: dict = field(default_factory=dict)
    indicator_text: str = ""
    multiply_by: float | None = None
    proxy: str | None = None
    proxy_value: float | None = None
    proxy_source: str = ""
    price_year: int | None = None
    adjustments: dict[str, Any] = field(default_factory=dict)  # name -> float | dict spec | None
    distributions: dict[str, dict] = field(default_factory=dict)
    effectiveness: dict | None = None  # quantity from an effectiveness estimate (longitudinal.effectiveness)


@dataclass
class InputRow:
    row: str
    name: str
    value: float | None = None
    from_spend: dict | None = None
    price_year: int | None = None
    stakeholder: str = "Funder"


_COLUMN_ALIASES = {
    "stakeholder": "stakeholder", "stakeholders": "stakeholder",
    "outcome": "name", "outcomes": "name", "name": "name", "outcome_description": "name",
    "indicator": "indicator", "quantity": "quantity", "amount": "quantity", "quantity_change": "quantity",
    "duration": "duration_years", "duration_years": "duration_years", "duration_(years)": "duration_years",
    "financial_proxy": "proxy", "proxy": "proxy",
    "proxy_value": "proxy_value", "value_of_proxy": "proxy_value", "value": "proxy_value",
    "proxy_source": "proxy_source", "source": "proxy_source",
    "price_year": "price_year", "deadweight": "deadweight", "deadweight_%": "deadweight",
    "displacement": "displacement", "displacement_%": "displacement",
    "attribution": "attribution", "attribution_%": "attribution",
    "drop_off": "drop_off", "drop-off": "drop_off", "dropoff": "drop_off", "drop_off_%": "drop_off",
    "multiply_by": "multiply_by",
}


@dataclass
class ImpactMap:
    """An SROI impact map: inputs, outcomes with their quantities, proxies and adjustments.

    Build it with :meth:`from_yaml`, :meth:`from_table` (CSV / ``.xlsx``, one row
    per outcome, the practitioners' columns), :meth:`from_dict` or :meth:`load`.
    Everything is validated on construction; errors name the row and field.
    """

    name: str
    price_year: int
    discount: Discount
    inputs: list[InputRow]
    outcomes: list[OutcomeRow]
    source: str | None = None

    # ------------------------------------------------------------ builders
    @classmethod
    def load(cls, path: str | Path, **kw) -> ImpactMap:
        """From ``.yaml``/``.yml``, ``.csv`` or ``.xlsx`` by extension."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such impact map")
        if path.suffix.lower() in (".yaml", ".yml"):
            return cls.from_yaml(path)
        if path.suffix.lower() in (".csv", ".xlsx", ".xls"):
            return cls.from_table(path, **kw)
        raise ImpactMapError(f"{path}: expected a .yaml, .csv or .xlsx impact map")

    @classmethod
    def from_yaml(cls, path: str | Path) -> ImpactMap:
        path = Path(path)
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_table(cls, path: str | Path, *, name: str | None = None, price_year: int | None = None,
                   discount: Any = None, inputs: list[dict] | None = None, sheet: str | int | None = None
                   ) -> ImpactMap:
        """From a spreadsheet with one row per outcome.

        Columns (case and spacing do not matter): stakeholder, outcome, indicator,
        quantity, duration, financial proxy, proxy value, proxy source, price year,
        deadweight, displacement, attribution, drop-off. Shares may be 0–1 or
        ``40%``. ``indicator`` may name a registered indicator with parameters, e.g.
        ``moved_between_stages(outcome=managing_accommodation, from_max=2, to_min=4)``,
        in which case a blank quantity is computed from the study. Inputs come from
        a sheet ``inputs`` (name, value, price year) or a sibling ``<stem>_inputs.csv``,
        or the ``inputs`` argument; the map's name, price year and discounting from a
        sheet ``settings`` (or ``<stem>_settings.csv``) of key/value rows (``name``,
        ``price_year``, ``discount_rate`` — a share or ``green_book`` —, ``timing``).
        Without a price year the latest proxy price year is used.
        """
        path = Path(path)
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype=object, keep_default_na=False)
            sib = path.with_name(path.stem + "_inputs.csv")
            inp = pd.read_csv(sib, dtype=object, keep_default_na=False) if sib.exists() else None
        else:
            book = pd.read_excel(path, sheet_name=None, dtype=object)
            keys = list(book)
            first = sheet if sheet is not None else next((k for k in keys if k.lower() in ("impact map", "outcomes",
                                                                                              "impact_map")), keys[0])
            df = book[first if isinstance(first, str) else keys[first]]
            inp = next((v for k, v in book.items() if k.lower() == "inputs"), None)
            settings = next((v for k, v in book.items() if k.lower() == "settings"), None)
        if path.suffix.lower() == ".csv":
            sib = path.with_name(path.stem + "_settings.csv")
            settings = pd.read_csv(sib, dtype=object, keep_default_na=False) if sib.exists() else None
        conf: dict[str, Any] = {}
        if settings is not None:
            # two columns, key and value: name, price_year, discount_rate or discount (green_book), timing
            for rec in settings.to_dict("records"):
                vals = list(rec.values())
                if len(vals) >= 2 and not _blank(vals[0]) and not _blank(vals[1]):
                    conf[re.sub(r"\s+", "_", str(vals[0]).strip().lower())] = vals[1]
        disc = discount
        if disc is None and ("discount_rate" in conf or "timing" in conf or "discount" in conf):
            rate = conf.get("discount_rate", conf.get("discount"))
            disc = {"timing": conf.get("timing", "end")}
            if rate is not None and str(rate).strip().lower() != "green_book":
                disc["rate"] = _rate(rate, "settings.discount_rate")
        meta = {"name": name or conf.get("name") or path.stem,
                "price_year": price_year if price_year is not None else conf.get("price_year"), "discount": disc}
        rows = []
        for i, rec in enumerate(df.to_dict("records")):
            out: dict[str, Any] = {}
            for col, v in rec.items():
                key = re.sub(r"\s+", "_", str(col).strip().lower())
                if key.startswith("#") or _blank(v):
                    continue
                if key in ("map_name", "map_price_year"):
                    meta[key[4:]] = v
                    continue
                if key not in _COLUMN_ALIASES:
                    raise ImpactMapError(f"unknown column {col!r}; expected: "
                                         + ", ".join(sorted(set(_COLUMN_ALIASES))), row=f"{path.name}:{i + 2}",
                                         field=str(col))
                out[_COLUMN_ALIASES[key]] = v
            if out:
                out["_row"] = f"{path.name}:{i + 2}"
                rows.append(out)
        in_rows = inputs
        if in_rows is None and inp is not None:
            in_rows = []
            for j, rec in enumerate(inp.to_dict("records")):
                rec = {re.sub(r"\s+", "_", str(k).strip().lower()): v for k, v in rec.items() if not _blank(v)}
                if rec:
                    rec["_row"] = f"inputs:{j + 2}"
                    in_rows.append(rec)
        if meta["price_year"] is None:
            years = [int(float(r["price_year"])) for r in rows if "price_year" in r]
            meta["price_year"] = max(years) if years else None
        return cls.from_dict({**meta, "inputs": in_rows or [], "outcomes": rows}, source=str(path))

    @classmethod
    def from_dict(cls, raw: Mapping, source: str | None = None) -> ImpactMap:
        if not isinstance(raw, Mapping):
            raise ImpactMapError(f"an impact map is a mapping with name, price_year, inputs and outcomes, "
                                 f"not {type(raw).__name__}")
        _check_keys(raw, _MAP_KEYS, what="the impact map")
        name = str(raw.get("name") or "Impact map")
        if _blank(raw.get("price_year")):
            raise ImpactMapError("missing: the price year all values are restated to", field="price_year")
        price_year = int(float(raw["price_year"]))
        discount = Discount.from_spec(raw.get("discount"))
        outs_raw = raw.get("outcomes") or []
        if not outs_raw:
            raise ImpactMapError("an impact map needs at least one outcome", field="outcomes")
        outcomes = [_outcome_row(o, i) for i, o in enumerate(outs_raw, start=1)]
        seen = set()
        for o in outcomes:
            key = (o.stakeholder, o.name)
            if key in seen:
                raise ImpactMapError(f"outcome {o.name!r} for {o.stakeholder!r} appears twice", row=o.row,
                                     field="name")
            seen.add(key)
        inputs = [_input_row(x, i) for i, x in enumerate(raw.get("inputs") or [], start=1)]
        if not inputs:
            raise ImpactMapError("an impact map needs at least one input (what was invested)", field="inputs")
        return cls(name, price_year, discount, inputs, outcomes, source)

    # ------------------------------------------------------------ helpers
    @property
    def needs_study(self) -> bool:
        return (any(o.indicator for o in self.outcomes) or any(i.from_spend is not None for i in self.inputs)
                or any(isinstance(v, Mapping) for o in self.outcomes for v in o.adjustments.values()))

    def to_frame(self) -> pd.DataFrame:
        """The map as a practitioner's table (one row per outcome)."""
        rows = []
        for o in self.outcomes:
            r = {"row": o.row, "stakeholder": o.stakeholder, "outcome": o.name,
                 "indicator": o.indicator_text or (o.indicator or ""), "quantity": o.quantity,
                 "duration_years": o.duration_years, "proxy": o.proxy or "", "proxy_value": o.proxy_value,
                 "proxy_source": o.proxy_source, "price_year": o.price_year}
            for a in ADJUSTMENTS:
                v = o.adjustments.get(a)
                r[a] = v if not isinstance(v, Mapping) else f"estimated ({v.get('from')})"
            rows.append(r)
        return pd.DataFrame(rows)


# The keys each part of a map may have: a misspelt key (``dead_weight``) would otherwise be ignored and
# the adjustment silently take its default. ``notes``/``description`` are for the map's reader.
_NOTES = {"notes", "description"}
_MAP_KEYS = {"name", "price_year", "discount", "inputs", "outcomes", "source"} | _NOTES
_OUTCOME_KEYS = ({"_row", "name", "outcome", "stakeholder", "duration_years", "duration", "quantity", "indicator",
                  "multiply_by", "proxy", "proxy_value", "proxy_source", "price_year", "distributions", "drop-off",
                  "unit_cost"}
                 | set(ADJUSTMENTS) | _NOTES)
_INPUT_KEYS = {"_row", "name", "value", "price_year", "from_spend", "stakeholder", "source"} | _NOTES
_ESTIMATE_KEYS = {"from", "value", "params", "where", "years", "indicator", "rate", "source"} | _NOTES
_DISCOUNT_KEYS = {"rate", "schedule", "timing", "first_year_discounted"}


def _check_keys(m: Mapping, allowed: set[str], *, row: Any = None, what: str = "") -> None:
    """An unknown key is an error naming it, the nearest known key and the ones allowed."""
    import difflib

    for key in m:
        if str(key) not in allowed:
            near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ImpactMapError(f"unknown key {key!r}{' in ' + what if what else ''}{hint}; expected: "
                                 + ", ".join(sorted(k for k in allowed if not k.startswith("_"))),
                                 row=row, field=str(key))


def _outcome_row(o: Mapping, i: int) -> OutcomeRow:
    if not isinstance(o, Mapping):
        raise ImpactMapError(f"expected a mapping, not {o!r}", row=i)
    row = str(o.get("_row", i))
    name = o.get("name") or o.get("outcome")
    if _blank(name):
        raise ImpactMapError("missing outcome name", row=row, field="name")
    row = f"{row} ({name})"
    _check_keys(o, _OUTCOME_KEYS, row=row, what="an outcome")
    stakeholder = str(o.get("stakeholder") or "Service users")
    # duration
    if _blank(o.get("duration_years", o.get("duration"))):
        raise ImpactMapError("missing duration (years the outcome lasts)", row=row, field="duration_years")
    dur_raw = o.get("duration_years", o.get("duration"))
    dur = _nonneg(dur_raw, "duration_years", row)
    if dur < 1 or dur != int(dur):
        raise ImpactMapError(f"duration must be a whole number of years, at least 1, not {dur_raw!r}", row=row,
                             field="duration_years")
    rec = OutcomeRow(row=row, name=str(name), stakeholder=stakeholder, duration_years=int(dur))
    # quantity: a number, or an indicator
    q = o.get("quantity")
    ind = o.get("indicator")
    if isinstance(q, Mapping) and q.get("from") == "effectiveness":
        from .effectiveness import check_impact_spec

        rec.effectiveness = check_impact_spec(q, row)  # avoided events from an effect estimate
        q = None
    elif isinstance(q, Mapping):
        ind, q = q, None
    if isinstance(ind, Mapping):
        iname = ind.get("indicator", ind.get("name"))
        if _blank(iname):
            raise ImpactMapError("an indicator quantity needs the indicator's name", row=row, field="indicator")
        _check_indicator(str(iname), row)
        rec.indicator, rec.indicator_params = str(iname), dict(ind.get("params") or {})
        rec.indicator_text = str(iname)
        if not _blank(ind.get("multiply_by")):
            rec.multiply_by = _nonneg(ind["multiply_by"], "indicator.multiply_by", row)
    elif not _blank(ind):
        rec.indicator_text = str(ind)
        parsed = _parse_indicator(str(ind), row)
        if parsed and _blank(q):
            rec.indicator, rec.indicator_params = parsed
    if not _blank(o.get("multiply_by")):
        rec.multiply_by = _nonneg(o["multiply_by"], "multiply_by", row)
    if rec.indicator is None and rec.effectiveness is None:
        if _blank(q):
            if not _blank(ind):
                raise ImpactMapError(f"unknown indicator {str(ind)!r} and no quantity; registered indicators: "
                                     + ", ".join(_indicator_names()), row=row, field="indicator")
            raise ImpactMapError("missing quantity (a number or an indicator of the study)", row=row,
                                 field="quantity")
        rec.quantity = _nonneg(q, "quantity", row)
    # proxy
    proxy = o.get("proxy")
    if not _blank(proxy):
        rec.proxy = str(proxy)
    if not _blank(o.get("unit_cost")):  # a public service's cost per event (data/unit_costs.yaml)
        costs = load_proxies(section="unit_costs")
        if str(o["unit_cost"]) not in costs:
            raise ImpactMapError(f"no unit cost {o['unit_cost']!r}; unit costs: {', '.join(costs)}", row=row,
                                 field="unit_cost")
        c = costs[str(o["unit_cost"])]
        o = {**o, "proxy_value": c.value, "price_year": c.price_year,
             "proxy_source": f"unit cost: {c.source} ({c.status})"}
        rec.proxy = rec.proxy or c.name
    if not _blank(o.get("proxy_value")):
        rec.proxy_value = _nonneg(o["proxy_value"], "proxy_value", row)
        if _blank(o.get("price_year")):
            raise ImpactMapError("a proxy value needs the price year it is stated in", row=row, field="price_year")
    if rec.proxy_value is None:
        lib = load_proxies()
        key = rec.proxy
        if key is None:
            raise ImpactMapError("missing proxy: give proxy_value (with price_year) or a proxy from the library ("
                                 + ", ".join(lib) + ")", row=row, field="proxy_value")
        if key not in lib:
            match = [k for k, p in lib.items() if p.name.lower() == key.lower()]
            if not match:
                raise ImpactMapError(f"proxy {key!r} is not in the library ({', '.join(lib)}) and no proxy_value "
                                     "is given", row=row, field="proxy")
            key = match[0]
        p = lib[key]
        rec.proxy, rec.proxy_value, rec.price_year = key, p.value, p.price_year
        rec.proxy_source = str(o.get("proxy_source") or p.source)
    else:
        rec.price_year = int(float(o["price_year"]))
        rec.proxy_source = str(o.get("proxy_source") or "")
    if not _blank(o.get("price_year")):
        rec.price_year = int(float(o["price_year"]))
    # adjustments
    for a in ADJUSTMENTS:
        v = o.get(a, o.get(a.replace("_", "-")))
        if _blank(v):
            rec.adjustments[a] = None
        elif isinstance(v, Mapping):
            _check_keys(v, _ESTIMATE_KEYS, row=row, what=f"the estimate of {a}")
            if v.get("from") not in _ESTIMATORS[a]:
                raise ImpactMapError(f"estimate from {v.get('from')!r}; {a} can be estimated from: "
                                     + ", ".join(_ESTIMATORS[a]), row=row, field=f"{a}.from")
            if not _blank(v.get("value")):
                _rate(v["value"], f"{a}.value", row)
            rec.adjustments[a] = dict(v)
        else:
            rec.adjustments[a] = _rate(v, a, row)
    dists = o.get("distributions") or {}
    if not isinstance(dists, Mapping):
        raise ImpactMapError("distributions must map a parameter to a distribution", row=row, field="distributions")
    for k, spec in dists.items():
        if k not in ADJUSTMENTS + ("quantity", "proxy_value"):
            raise ImpactMapError(f"no parameter {k!r} to give a distribution to", row=row, field="distributions")
        _check_dist(spec, row, f"distributions.{k}", share=k in ADJUSTMENTS)
    rec.distributions = {k: dict(v) for k, v in dists.items()}
    return rec


def _input_row(x: Mapping, i: int) -> InputRow:
    if not isinstance(x, Mapping):
        raise ImpactMapError(f"expected a mapping with name and value, not {x!r}", row=f"input {i}")
    name = str(x.get("name") or f"input {i}")
    row = f"{x.get('_row', f'input {i}')} ({name})"
    _check_keys(x, _INPUT_KEYS, row=row, what="an input")
    spend = x.get("from_spend")
    if spend is not None:
        if spend is True:
            spend = {}
        if not isinstance(spend, Mapping):
            raise ImpactMapError("from_spend must be a mapping of filters (local_authority, lead_need) or true",
                                 row=row, field="from_spend")
        unknown = set(spend) - {"local_authority", "lead_need"}
        if unknown:
            raise ImpactMapError(f"from_spend filters by local_authority and lead_need, not {sorted(unknown)}",
                                 row=row, field="from_spend")
        return InputRow(row, name, None, dict(spend), None, str(x.get("stakeholder") or "Funder"))
    if _blank(x.get("value")):
        raise ImpactMapError("missing value (or from_spend)", row=row, field="value")
    py = None if _blank(x.get("price_year")) else int(float(x["price_year"]))
    return InputRow(row, name, _nonneg(x["value"], "value", row), None, py, str(x.get("stakeholder") or "Funder"))


def _indicator_names() -> list[str]:
    from . import indicators

    return sorted(indicators._REGISTRY)


def _check_indicator(name: str, row: str) -> None:
    if name not in _indicator_names():
        raise ImpactMapError(f"unknown indicator {name!r}; registered: {', '.join(_indicator_names())}", row=row,
                             field="indicator")


_ESTIMATORS = {"deadweight": ("comparison", "counterfactual_rate", "effectiveness"),
               "drop_off": ("sustained_outcomes",), "displacement": (), "attribution": ()}
_DISTS = {"beta": ({"mean", "sd"}, {"a", "b"}), "triangular": ({"low", "mode", "high"},),
          "lognormal": ({"median", "sigma"},), "normal": ({"mean", "sd"},), "uniform": ({"low", "high"},),
          "fixed": (set(),)}
_DIST_OPTIONAL = {"fixed": {"value"}}  # a fixed multiplier of the point value, 1 when left out


def _check_dist(spec: Any, row: str, fld: str, share: bool) -> None:
    if not isinstance(spec, Mapping) or spec.get("dist") not in _DISTS:
        raise ImpactMapError(f"expected {{dist: one of {', '.join(_DISTS)}, ...}}, not {spec!r}", row=row, field=fld)
    keys = set(spec) - {"dist"}
    allowed = set().union(*_DISTS[spec["dist"]]) | _DIST_OPTIONAL.get(spec["dist"], set()) | {"_scale"}
    _check_keys(keys, allowed, row=row, what=f"{fld} ({spec['dist']})")
    if not any(need <= keys for need in _DISTS[spec["dist"]]):
        raise ImpactMapError(f"{spec['dist']} needs " + " or ".join(str(sorted(n)) for n in _DISTS[spec["dist"]]),
                             row=row, field=fld)
    if spec["dist"] == "triangular" and not spec["low"] <= spec["mode"] <= spec["high"]:
        raise ImpactMapError("triangular needs low <= mode <= high", row=row, field=fld)
    if share and spec["dist"] in ("triangular", "uniform"):
        for k in ("low", "mode", "high"):
            if k in spec:
                _rate(spec[k], f"{fld}.{k}", row)


# ============================================================ evidence-based adjustments
def estimate_drop_off(table: pd.DataFrame, *, years: int | None = None, where: Mapping | None = None,
                      level: float = 0.95, min_at_risk: int | None = None) -> Adjustment:
    """Annual drop-off from a sustained-outcome curve.

    The annual drop-off between years is ``d_t = 1 − S(t+1)/S(t)``; a constant
    (geometric) drop-off over years ``t0 … t1`` is ``1 − (S(t1)/S(t0))^(1/(t1 − t0))``,
    the geometric mean of the annual ones. Its interval uses the confidence
    limits of ``S(t1)`` (the first year held fixed).

    Parameters
    ----------
    table : DataFrame
        The ``by_year()`` table of :func:`longitudinal.sustained_outcomes`:
        ``year`` (1, 2, … years after support ended), ``survival``, ``ci_lower``,
        ``ci_upper`` (and ``at_risk``), possibly with group columns.
    years : int, optional
        Use years 1 … ``years`` (the outcome's duration); all years when omitted.
    where : mapping, optional
        Group columns to select one curve, e.g. ``{"outcome": "managing_money"}``.
    min_at_risk : int, optional
        Years whose ``at_risk`` is below this are not evidence (a curve followed by
        one person is flat by chance); default :data:`MIN_EVIDENCE`. At least two
        years must remain.

    Examples
    --------
    >>> t = pd.DataFrame({"year": [1, 2, 3], "survival": [0.8, 0.64, 0.512],
    ...                   "ci_lower": [0.75, 0.58, 0.45], "ci_upper": [0.85, 0.70, 0.58]})
    >>> a = estimate_drop_off(t)
    >>> round(a.value, 6), a.status
    (0.2, 'estimated')
    """
    need = {"year", "survival"}
    missing = need - set(table.columns)
    if missing:
        raise ValueError(f"sustained-outcome table lacks columns {sorted(missing)} (has {list(table.columns)})")
    t = table
    for k, v in (where or {}).items():
        if k not in t.columns:
            raise ValueError(f"sustained-outcome table has no group column {k!r} (has {list(t.columns)})")
        t = t[t[k] == v]
    # beyond the last follow-up a curve is undefined (NaN): not evidence of anything
    t = t[(t["year"] >= 1) & t["survival"].notna()].sort_values("year")
    if years is not None:
        t = t[t["year"] <= max(int(years), 2)]
    floor = MIN_EVIDENCE if min_at_risk is None else int(min_at_risk)
    if "at_risk" in t.columns and len(t):
        thin = t[t["at_risk"] < floor]
        if len(thin):
            t = t[t["year"] < thin["year"].min()]  # the curve's tail stops being evidence for all later years
            if len(t) < 2:
                raise ValueError(f"the curve follows {int(thin['at_risk'].iloc[0])} of the people into year "
                                 f"{int(thin['year'].iloc[0])} after support ended (fewer than {floor})")
    groups = [c for c in t.columns if c not in ("year", "survival", "ci_lower", "ci_upper", "at_risk", "n_events",
                                                "events", "se")]
    if groups and any(t[c].nunique() > 1 for c in groups):
        raise ValueError(f"sustained-outcome table holds several curves; select one with where= on {groups}")
    if len(t) < 2:
        raise ValueError("need the survival in at least two years after support ended to estimate drop-off")
    if t["year"].duplicated().any():
        raise ValueError("sustained-outcome table has repeated years; select one curve with where=")
    t0, t1 = int(t["year"].iloc[0]), int(t["year"].iloc[-1])
    s0, s1 = float(t["survival"].iloc[0]), float(t["survival"].iloc[-1])
    if s0 <= 0:
        raise ValueError(f"survival in year {t0} is {s0}: nothing is sustained to drop off from")
    span = t1 - t0

    def d(s):
        return float(min(1.0, max(0.0, 1.0 - (max(s, 0.0) / s0) ** (1.0 / span))))

    lo = hi = None
    if "ci_lower" in t.columns and "ci_upper" in t.columns:
        lo, hi = d(float(t["ci_upper"].iloc[-1])), d(float(t["ci_lower"].iloc[-1]))
    annual = 1 - t["survival"].to_numpy()[1:] / t["survival"].to_numpy()[:-1]
    basis = (f"sustained-outcome curve, years {t0}–{t1}: S={s0:.3f}→{s1:.3f}; annual drop-offs "
             + ", ".join(f"{x:.3f}" for x in annual) + "; geometric mean")
    if where:
        basis += " (" + ", ".join(f"{k}={v}" for k, v in where.items()) + ")"
    return Adjustment(d(s1), "estimated", basis, lo, hi)


def _estimate(name: str, spec: Mapping, row: str, study, comparison, sustained) -> Adjustment:
    from . import indicators

    src = spec["from"]
    fallback = spec.get("value")
    wanted = {"sustained_outcomes": "sustained-outcome curves", "comparison": "a comparison group"}.get(
        src, "a counterfactual rate")

    def fall_back(reason: str) -> Adjustment:
        """The map's stated value, saying why the estimate was not used; an error when there is none."""
        if fallback is not None:
            return Adjustment(_rate(fallback, f"{name}.value", row), "assumed", f"stated fallback: {reason}")
        raise ImpactMapError(f"{name} is to be estimated from {wanted}, but {reason} (add value: as a fallback)",
                             row=row, field=name)

    if src == "sustained_outcomes":
        where = dict(spec.get("where") or {})

        table = None
        if isinstance(sustained, pd.DataFrame):
            table = sustained
        elif sustained is not None and hasattr(sustained, "by_year"):
            table = sustained.by_year()
        elif study is not None:
            import longitudinal as lg

            fn = getattr(lg, "sustained_outcomes", None)
            if fn is not None:
                params = dict(spec.get("params") or {})
                try:
                    table = fn(study, **params).by_year()
                except TypeError as e:  # a parameter it does not take: the map is wrong
                    raise ImpactMapError(f"lg.sustained_outcomes(study, **{params}): {e}", row=row,
                                         field=f"{name}.params") from None
                except (KeyError, ValueError) as e:  # not estimable from these data
                    return fall_back(f"lg.sustained_outcomes(study, **{params}) could not estimate curves: {e}")
        if table is None:
            return fall_back("no sustained-outcome curve was available (no study with lg.sustained_outcomes "
                             "and no sustained= table)")
        try:
            return estimate_drop_off(table, years=spec.get("years"), where=where)
        except ValueError as e:
            return fall_back(f"the curve gives no drop-off ({e})")
    if src == "effectiveness":
        # the quantity is already the supported minus their counterfactual: nothing of it happens anyway
        return Adjustment(0.0, "estimated", "the quantity is an effect against the counterfactual of the "
                          "effectiveness design (see its basis in the outcomes table): deadweight is taken out there",
                          0.0, 0.0)
    # deadweight from a comparison group or a counterfactual rate
    ind = spec.get("indicator")
    if _blank(ind):
        raise ImpactMapError("needs the indicator whose rate is compared", row=row, field=f"{name}.indicator")
    _check_indicator(str(ind), row)
    params = dict(spec.get("params") or {})
    if study is None:
        raise ImpactMapError("deadweight is to be estimated from the study, but no study was given", row=row,
                             field=name)
    obs = indicators.compute(str(ind), study, **params)
    if obs.kind != "proportion":
        raise ImpactMapError(f"indicator {ind!r} is a {obs.kind}; deadweight compares rates (proportions)",
                             row=row, field=f"{name}.indicator")
    if obs.n < MIN_EVIDENCE:
        return fall_back(f"the programme's rate ({ind}) rests on {obs.n} people (fewer than {MIN_EVIDENCE})")
    if not obs.value > 0:
        raise ImpactMapError(f"the programme's rate ({ind}) is {obs.value}: no outcome to set deadweight against",
                             row=row, field=name)
    if src == "comparison":
        if comparison is None:
            return fall_back("no comparison group was given (evaluate(..., comparison=study) / --comparison DIR)")
        cf = indicators.compute(str(ind), comparison, **params)
        if cf.n < MIN_EVIDENCE:
            return fall_back(f"the comparison group's rate ({ind}) rests on {cf.n} people (fewer than "
                             f"{MIN_EVIDENCE})")
        rate, lo_r, hi_r = cf.value, cf.ci_lower, cf.ci_upper
        basis = (f"comparison group: {ind} {cf.value:.3f} (n={cf.n}) against programme {obs.value:.3f} "
                 f"(n={obs.n}); deadweight = comparison rate / programme rate")
    else:
        rate = _rate(spec.get("rate"), f"{name}.rate", row)
        lo_r = hi_r = rate
        basis = (f"counterfactual rate {rate:.3f} ({spec.get('source', 'source not stated')}) against programme "
                 f"{ind} {obs.value:.3f} (n={obs.n}); deadweight = counterfactual / programme rate")
    val = min(1.0, rate / obs.value)
    lo = min(1.0, lo_r / obs.ci_upper) if obs.ci_upper > 0 else None
    hi = min(1.0, hi_r / obs.ci_lower) if obs.ci_lower > 0 else 1.0
    return Adjustment(val, "estimated", basis, lo, hi)


# ============================================================ the numerical core
@dataclass
class _Model:
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


# ============================================================ evaluation
def _memoised(study):
    """The study with ``long()`` and ``subset()`` remembered for one evaluation.

    An indicator rebuilds the analysis table on every call; a map evaluated over
    seven financial years calls it once per outcome per year, which at national
    scale (11M readings) costs minutes. Frames are handed out as shallow copies.
    """
    from dataclasses import fields

    from .study import Study

    if study is None or isinstance(study, _MemoStudy):
        return study

    return _MemoStudy(**{f.name: getattr(study, f.name) for f in fields(Study)})


def _key(v):
    return tuple(v) if isinstance(v, (list, tuple)) else v


from .study import Study as _Study  # noqa: E402


class _MemoStudy(_Study):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._memo: dict = {}

    def long(self, outcome=None, *, scored_only=True, include_follow_up=True):
        key = ("long", _key(outcome), scored_only, include_follow_up)
        if key not in self._memo:
            self._memo[key] = super().long(outcome, scored_only=scored_only, include_follow_up=include_follow_up)
        return self._memo[key].copy(deep=False)

    def subset(self, *, local_authority=None, lead_need=None, service_type=None):
        key = ("subset", local_authority, lead_need, service_type)
        if key not in self._memo:
            sub = super().subset(local_authority=local_authority, lead_need=lead_need, service_type=service_type)
            self._memo[key] = _memoised(sub)
        return self._memo[key]


def evaluate(impact_map: ImpactMap | str | Path | Mapping, study=None, *, year: int | None = None,
             comparison=None, sustained=None, deflators: Deflators | str | Path | None = None,
             discount: Any = None) -> SROIResult:
    """Evaluate an impact map: present value, NPV, SROI ratio, payback, year by year.

    Parameters
    ----------
    impact_map : ImpactMap, path (.yaml/.csv/.xlsx) or mapping
    study : Study, optional
        Needed when a quantity is an indicator, an input comes from ``spend`` or an
        adjustment is estimated. With a study and no ``year``, a data-driven map is
        evaluated for each financial year of the study (the cohort of outcomes
        reached that year against that year's spend) and cumulatively, each cohort
        discounted to the study's first year. Numbers written in a map (quantities,
        inputs) are per financial year, so each cohort gets them.
    year : int, optional
        Evaluate the one financial year ``year`` (2025 = 2025-26).
    comparison : Study, optional
        A comparison group for deadweight (``deadweight: {from: comparison, ...}``).
    sustained : DataFrame or result with ``by_year()``, optional
        Sustained-outcome curves for drop-off (``drop_off: {from: sustained_outcomes}``);
        otherwise ``lg.sustained_outcomes(study, **params)`` is called when it exists.
    deflators : Deflators or path, optional
        A tidy deflator CSV or HM Treasury's release file (see
        :func:`longitudinal.prices.load_deflators`); defaults to ``data/deflators.csv``.
    discount : optional
        Overrides the map's discounting (a rate, ``"green_book"`` or a mapping).

    Returns
    -------
    SROIResult
    """
    from . import indicators

    m = impact_map if isinstance(impact_map, ImpactMap) else (
        ImpactMap.from_dict(impact_map) if isinstance(impact_map, Mapping) else ImpactMap.load(impact_map))
    if discount is not None:
        m = replace(m, discount=Discount.from_spec(discount))
    defl = deflators if isinstance(deflators, Deflators) else load_deflators(deflators)
    study = _memoised(study)
    if m.needs_study and study is None and any(o.indicator for o in m.outcomes):
        bad = next(o for o in m.outcomes if o.indicator)
        raise ImpactMapError(f"quantity is the indicator {bad.indicator!r}: it needs a study (study= / --data)",
                             row=bad.row, field="quantity")
    if study is None and any(o.effectiveness for o in m.outcomes):
        bad = next(o for o in m.outcomes if o.effectiveness)
        raise ImpactMapError("quantity comes from an effectiveness estimate: it needs a study with service_use "
                             "(study= / --data)", row=bad.row, field="quantity")
    for i in m.inputs:
        if i.from_spend is not None and study is None:
            raise ImpactMapError("input comes from the spend table: it needs a study (study= / --data)", row=i.row,
                                 field="from_spend")
    data_driven = study is not None and (any(o.indicator or o.effectiveness for o in m.outcomes)
                                         or any(i.from_spend is not None for i in m.inputs))
    if year is not None:
        if study is not None and study.financial_years and year not in study.financial_years:
            raise ValueError(f"financial year {year} ({domain.fy_label(year)}) is not in the study "
                             f"({', '.join(map(str, study.financial_years))})")
        cohorts: list[int | None] = [int(year)]
    elif data_driven:
        cohorts = list(study.financial_years) or sorted(study.spend["financial_year"].unique().tolist())
    else:
        cohorts = [None]

    # ---- resolve everything first: nothing is computed until the map is known to be good
    K, C = len(m.outcomes), len(cohorts)
    adjustments: list[dict[str, Adjustment]] = []
    for o in m.outcomes:
        res = {}
        for a in ADJUSTMENTS:
            v = o.adjustments.get(a)
            if v is None:
                res[a] = Adjustment(PUBLISHED_MEDIANS[a], "default", _MEDIANS_BASIS)
            elif isinstance(v, Mapping):
                res[a] = _estimate(a, v, o.row, study, comparison, sustained)
            else:
                res[a] = Adjustment(float(v), "assumed", "stated in the impact map")
        adjustments.append(res)
    proxy = np.array([_restate(defl, o.proxy_value, o.price_year, m.price_year, row=o.row) for o in m.outcomes])
    quantity = np.zeros((C, K))
    q_ci = np.full((C, K, 2), np.nan)
    q_info: list[list[Any]] = [[None] * K for _ in range(C)]
    for k, o in enumerate(m.outcomes):
        for c, fy in enumerate(cohorts):
            if o.effectiveness is not None:
                from .effectiveness import impact_quantity

                try:
                    v = impact_quantity(study, o.effectiveness, financial_year=fy)
                except ValueError as e:
                    raise ImpactMapError(f"effectiveness: {e}", row=o.row, field="quantity") from None
                quantity[c, k], q_ci[c, k], q_info[c][k] = v.value, (v.ci_lower, v.ci_upper), v
                continue
            if o.indicator is None:
                quantity[c, k] = o.quantity
                continue
            params = dict(o.indicator_params)
            takes = inspect.signature(indicators._REGISTRY[o.indicator].func).parameters
            if fy is not None and "financial_year" in takes and "financial_year" not in params:
                params["financial_year"] = fy
            try:
                v = indicators.compute(o.indicator, study, **params)
            except (KeyError, TypeError, ValueError) as e:
                raise ImpactMapError(f"indicator {o.indicator!r}: {e}", row=o.row, field="indicator") from None
            if v.kind != "count" and o.multiply_by is None:
                raise ImpactMapError(f"indicator {o.indicator!r} is a {v.kind}, not a count: give multiply_by "
                                     "(e.g. the number of people) to turn it into a quantity", row=o.row,
                                     field="quantity")
            mult = 1.0 if o.multiply_by is None else o.multiply_by
            val = 0.0 if not math.isfinite(v.value) else v.value * mult
            quantity[c, k] = val
            q_ci[c, k] = (v.ci_lower * mult, v.ci_upper * mult)
            q_info[c][k] = v
    inputs = np.zeros(C)
    input_rows = []
    for c, fy in enumerate(cohorts):
        for i in m.inputs:
            if i.from_spend is not None:
                sp = study.spend
                if fy is not None:
                    sp = sp[sp["financial_year"] == fy]
                for col, val in i.from_spend.items():
                    want = domain.local_authority(val) if col == "local_authority" else val
                    sp = sp[sp[col] == want]
                by_year = sp.groupby("financial_year")["spend_gbp"].sum()
                cash = float(by_year.sum())
                real = sum(_restate(defl, v, int(y), m.price_year, row=i.row, field="from_spend")
                           for y, v in by_year.items())
                basis = f"spend table, {', '.join(f'{k}={v}' for k, v in i.from_spend.items()) or 'all'}"
            else:
                cash = i.value  # numbers in a map are per financial year: each cohort gets them
                real = cash if i.price_year is None else _restate(defl, cash, i.price_year, m.price_year, row=i.row)
                basis = "stated in the impact map"
            inputs[c] += real
            input_rows.append({"cohort": fy, "input": i.name, "stakeholder": i.stakeholder, "cash_gbp": cash,
                               "value": real, "basis": basis})
    if inputs.sum() <= 0:
        raise NoInputsError("the inputs total 0: the SROI ratio is undefined", field="inputs")
    T = int(max(o.duration_years for o in m.outcomes))
    first = cohorts[0] if cohorts[0] is not None else 0
    offsets = np.array([0 if fy is None else fy - first for fy in cohorts], dtype=float)
    df = np.vstack([m.discount.factors(range(1, T + 1), offset=off) for off in offsets])
    # inputs are spent at the start of their cohort's year: undiscounted in the first
    input_df = np.array([float(m.discount.cumulative([off])[0]) for off in offsets])
    adj = np.array([[adjustments[k][a].value for k in range(K)] for a in ADJUSTMENTS])
    model = _Model(quantity, proxy, adj, np.array([o.duration_years for o in m.outcomes]), df, inputs, input_df)
    return SROIResult(m, model, cohorts, adjustments, q_ci, q_info, pd.DataFrame(input_rows), defl)


def evaluate_by(impact_map: ImpactMap | str | Path | Mapping, study, by: str = "local_authority", *,
                year: int | None = None, **kw) -> pd.DataFrame:
    """Evaluate a data-driven map separately for each local authority, lead need or service type.

    The study (readings, episodes and, for authority and lead need, spend) is
    restricted to each group in turn with :meth:`Study.subset`. Returns one row
    per group with the headline figures; groups whose inputs total 0 get a
    ``note`` instead of figures.

    Examples
    --------
    >>> import longitudinal as lg
    >>> from longitudinal import sroi
    >>> study = lg.simulate(people=400, seed=2)
    >>> t = sroi.evaluate_by(sroi.DEFAULT_MAP.with_name("example_study.yaml"), study, year=2022)
    >>> t.columns[:3].tolist()
    ['local_authority', 'present_value', 'inputs_value']
    """
    if by not in ("local_authority", "lead_need", "service_type"):
        raise ValueError(f"by must be local_authority, lead_need or service_type, not {by!r}")
    m = impact_map if isinstance(impact_map, ImpactMap) else (
        ImpactMap.from_dict(impact_map) if isinstance(impact_map, Mapping) else ImpactMap.load(impact_map))
    rows = []
    for g in sorted(study.episodes[by].dropna().unique().tolist()):
        sub = study.subset(**{by: g})
        try:
            r = evaluate(m, sub, year=year, **kw)
        except NoInputsError:
            rows.append({by: g, "note": "no spend"})
            continue
        rows.append({by: g, **r.headline(), "note": ""})
    return pd.DataFrame(rows)


# ============================================================ results
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

    def __init__(self, impact_map: ImpactMap, model: _Model, cohorts, adjustments, q_ci, q_info, inputs, deflators):
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

    def one_way(self, ranges: Mapping | None = None, level: float = 0.90) -> pd.DataFrame:
        """One-way sensitivity: the ratio at the low and high value of each parameter in turn.

        By default a parameter's range is the central ``level`` interval of its
        Monte Carlo distribution (see :meth:`monte_carlo`); parameters with no
        uncertainty are left out. ``ranges`` maps ``(outcome name, parameter)``
        to ``(low, high)`` to override (a quantity as a total over cohorts).
        """
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
                lo, hi = _ppf(d, q), _ppf(d, 1 - q)
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
                    sd = _DEFAULT_ADJ_SD
                    if adj.ci_lower is not None and adj.ci_upper is not None and adj.ci_upper > adj.ci_lower:
                        sd = (adj.ci_upper - adj.ci_lower) / (2 * 1.959964)
                    out[(k, a)] = {"dist": "beta", "mean": v, "sd": min(sd, 0.9 * math.sqrt(v * (1 - v)))}
            if "proxy_value" in given:
                out[(k, "proxy_value")] = _as_factor(dict(given["proxy_value"]), _restated_scale(self, k))
            else:
                out[(k, "proxy_value")] = {"dist": "lognormal", "median": float(md.proxy[k]),
                                           "sigma": _DEFAULT_PROXY_GSD_LOG}
            if "quantity" in given:
                total = float(md.quantity[:, k].sum())
                out[(k, "quantity")] = _as_factor(dict(given["quantity"]), 1.0 / total if total > 0 else math.inf)
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
                x = _draw(d, rng, draws)
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


def _as_factor(spec: dict, scale: float) -> dict | None:
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


def _draw(spec: Mapping, rng: np.random.Generator, n: int) -> np.ndarray:
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


def _ppf(spec: Mapping, q: float) -> float:
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
        return pd.DataFrame([{"draws": self.ratios.size, "seed": self.seed, "point": self.point_ratio,
                              "mean": float(self.ratios.mean()), "median": self.median,
                              f"lower_{self.level:.0%}": lo, f"upper_{self.level:.0%}": hi,
                              "prob_below_1": self.prob_below_one}])

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


#: The example impact map shipped in ``data/impact_maps/example.yaml``.
DEFAULT_MAP = RESOURCES / "impact_maps" / "example.yaml"
