"""The impact map: outcomes, inputs and discounting read from YAML, a table or a dict, every field checked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..io import RESOURCES
from .adjustments import ADJUSTMENTS
from .discount import Discount
from .fields import ImpactMapError, check_indicator, check_keys, indicator_names, is_blank, parse_nonneg, parse_share
from .proxies import load_proxies

__all__ = ["OutcomeRow", "InputRow", "ImpactMap", "DEFAULT_MAP"]


_CALL = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(?:\((.*)\))?\s*$", re.S)


def _parse_indicator(text: str, row: Any) -> tuple[str, dict] | None:
    """``"name(k=v, k=v)"`` → (name, params) when ``name`` is a registered indicator, else None."""
    from .. import indicators

    m = _CALL.match(str(text))
    if not m or m.group(1) not in indicators.names():
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
                if len(vals) >= 2 and not is_blank(vals[0]) and not is_blank(vals[1]):
                    conf[re.sub(r"\s+", "_", str(vals[0]).strip().lower())] = vals[1]
        disc = discount
        if disc is None and ("discount_rate" in conf or "timing" in conf or "discount" in conf):
            rate = conf.get("discount_rate", conf.get("discount"))
            disc = {"timing": conf.get("timing", "end")}
            if rate is not None and str(rate).strip().lower() != "green_book":
                disc["rate"] = parse_share(rate, "settings.discount_rate")
        meta = {"name": name or conf.get("name") or path.stem,
                "price_year": price_year if price_year is not None else conf.get("price_year"), "discount": disc}
        rows = []
        for i, rec in enumerate(df.to_dict("records")):
            out: dict[str, Any] = {}
            for col, v in rec.items():
                key = re.sub(r"\s+", "_", str(col).strip().lower())
                if key.startswith("#") or is_blank(v):
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
                rec = {re.sub(r"\s+", "_", str(k).strip().lower()): v for k, v in rec.items() if not is_blank(v)}
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
        check_keys(raw, _MAP_KEYS, what="the impact map")
        name = str(raw.get("name") or "Impact map")
        if is_blank(raw.get("price_year")):
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


def _outcome_row(o: Mapping, i: int) -> OutcomeRow:
    if not isinstance(o, Mapping):
        raise ImpactMapError(f"expected a mapping, not {o!r}", row=i)
    row = str(o.get("_row", i))
    name = o.get("name") or o.get("outcome")
    if is_blank(name):
        raise ImpactMapError("missing outcome name", row=row, field="name")
    row = f"{row} ({name})"
    check_keys(o, _OUTCOME_KEYS, row=row, what="an outcome")
    stakeholder = str(o.get("stakeholder") or "Service users")
    # duration
    if is_blank(o.get("duration_years", o.get("duration"))):
        raise ImpactMapError("missing duration (years the outcome lasts)", row=row, field="duration_years")
    dur_raw = o.get("duration_years", o.get("duration"))
    dur = parse_nonneg(dur_raw, "duration_years", row)
    if dur < 1 or dur != int(dur):
        raise ImpactMapError(f"duration must be a whole number of years, at least 1, not {dur_raw!r}", row=row,
                             field="duration_years")
    rec = OutcomeRow(row=row, name=str(name), stakeholder=stakeholder, duration_years=int(dur))
    # quantity: a number, or an indicator
    q = o.get("quantity")
    ind = o.get("indicator")
    if isinstance(q, Mapping) and q.get("from") == "effectiveness":
        from ..effectiveness import check_impact_spec

        rec.effectiveness = check_impact_spec(q, row)  # avoided events from an effect estimate
        q = None
    elif isinstance(q, Mapping):
        ind, q = q, None
    if isinstance(ind, Mapping):
        iname = ind.get("indicator", ind.get("name"))
        if is_blank(iname):
            raise ImpactMapError("an indicator quantity needs the indicator's name", row=row, field="indicator")
        check_indicator(str(iname), row)
        rec.indicator, rec.indicator_params = str(iname), dict(ind.get("params") or {})
        rec.indicator_text = str(iname)
        if not is_blank(ind.get("multiply_by")):
            rec.multiply_by = parse_nonneg(ind["multiply_by"], "indicator.multiply_by", row)
    elif not is_blank(ind):
        rec.indicator_text = str(ind)
        parsed = _parse_indicator(str(ind), row)
        if parsed and is_blank(q):
            rec.indicator, rec.indicator_params = parsed
    if not is_blank(o.get("multiply_by")):
        rec.multiply_by = parse_nonneg(o["multiply_by"], "multiply_by", row)
    if rec.indicator is None and rec.effectiveness is None:
        if is_blank(q):
            if not is_blank(ind):
                raise ImpactMapError(f"unknown indicator {str(ind)!r} and no quantity; registered indicators: "
                                     + ", ".join(indicator_names()), row=row, field="indicator")
            raise ImpactMapError("missing quantity (a number or an indicator of the study)", row=row,
                                 field="quantity")
        rec.quantity = parse_nonneg(q, "quantity", row)
    # proxy
    proxy = o.get("proxy")
    if not is_blank(proxy):
        rec.proxy = str(proxy)
    if not is_blank(o.get("unit_cost")):  # a public service's cost per event (data/unit_costs.yaml)
        costs = load_proxies(section="unit_costs")
        if str(o["unit_cost"]) not in costs:
            raise ImpactMapError(f"no unit cost {o['unit_cost']!r}; unit costs: {', '.join(costs)}", row=row,
                                 field="unit_cost")
        c = costs[str(o["unit_cost"])]
        o = {**o, "proxy_value": c.value, "price_year": c.price_year,
             "proxy_source": f"unit cost: {c.source} ({c.status})"}
        rec.proxy = rec.proxy or c.name
    if not is_blank(o.get("proxy_value")):
        rec.proxy_value = parse_nonneg(o["proxy_value"], "proxy_value", row)
        if is_blank(o.get("price_year")):
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
    if not is_blank(o.get("price_year")):
        rec.price_year = int(float(o["price_year"]))
    # adjustments
    for a in ADJUSTMENTS:
        v = o.get(a, o.get(a.replace("_", "-")))
        if is_blank(v):
            rec.adjustments[a] = None
        elif isinstance(v, Mapping):
            check_keys(v, _ESTIMATE_KEYS, row=row, what=f"the estimate of {a}")
            if v.get("from") not in _ESTIMATORS[a]:
                raise ImpactMapError(f"estimate from {v.get('from')!r}; {a} can be estimated from: "
                                     + ", ".join(_ESTIMATORS[a]), row=row, field=f"{a}.from")
            if not is_blank(v.get("value")):
                parse_share(v["value"], f"{a}.value", row)
            rec.adjustments[a] = dict(v)
        else:
            rec.adjustments[a] = parse_share(v, a, row)
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
    check_keys(x, _INPUT_KEYS, row=row, what="an input")
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
    if is_blank(x.get("value")):
        raise ImpactMapError("missing value (or from_spend)", row=row, field="value")
    py = None if is_blank(x.get("price_year")) else int(float(x["price_year"]))
    return InputRow(row, name, parse_nonneg(x["value"], "value", row), None, py, str(x.get("stakeholder") or "Funder"))


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
    check_keys(keys, allowed, row=row, what=f"{fld} ({spec['dist']})")
    if not any(need <= keys for need in _DISTS[spec["dist"]]):
        raise ImpactMapError(f"{spec['dist']} needs " + " or ".join(str(sorted(n)) for n in _DISTS[spec["dist"]]),
                             row=row, field=fld)
    if spec["dist"] == "triangular" and not spec["low"] <= spec["mode"] <= spec["high"]:
        raise ImpactMapError("triangular needs low <= mode <= high", row=row, field=fld)
    if share and spec["dist"] in ("triangular", "uniform"):
        for k in ("low", "mode", "high"):
            if k in spec:
                parse_share(spec[k], f"{fld}.{k}", row)


#: The example impact map shipped in ``data/impact_maps/example.yaml``.
DEFAULT_MAP = RESOURCES / "impact_maps" / "example.yaml"
