"""A rubric: turns an indicator's value and its precision into OutNav-style ratings.

Contribution analysis rates every step of a pathway twice: *progress* (is the
change happening? ``no``, ``low``, ``some``, ``good`` or ``n/a``) and
*confidence* (how sure are we of the evidence? ``low``, ``medium``, ``high`` or
``n/a``). When a step is linked to an indicator computed from the study (see
:mod:`longitudinal.indicators`), the rubric makes both ratings reproducible:

* **progress** compares the indicator's point estimate with three thresholds
  (``low`` ≤ ``some`` ≤ ``good`` when higher is better; reversed when lower is
  better). A value *at* a threshold reaches that band. Values below ``low``
  are "no progress".
* **confidence** is the highest level whose precision criteria all hold: a
  minimum base (``min_n``), a maximum 95% CI width (per indicator kind; for
  counts the width relative to the count) and a maximum share of missing
  readings. Criteria are inclusive (``n == min_n`` qualifies).
* when the 95% CI crosses a progress threshold the band itself is uncertain,
  so confidence is capped (``ci_crosses_threshold``, default ``medium``).
* below ``minimum_n`` (or when the value is undefined) there is nothing to
  rate: both ratings are ``n/a``.

Thresholds are judgements to be agreed with commissioners, not facts: the
default rubric (``data/maps/rubric.yaml``, identical to :meth:`Rubric.default`)
is a starting point, and a map may set thresholds per indicator link.

Examples
--------
>>> from longitudinal.rubric import Rubric
>>> from longitudinal.indicators import IndicatorValue
>>> r = Rubric.default()
>>> v = IndicatorValue("share_improving", 0.58, "proportion", 900, 522, 0.547, 0.612, 0.05, {}, "")
>>> r.rate(v)
('good', 'high')
>>> small = IndicatorValue("share_improving", 0.52, "proportion", 150, 78, 0.441, 0.598, 0.05, {}, "")
>>> r.rate(small)  # fewer episodes, and the CI straddles the "good" threshold
('good', 'medium')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError
from .indicators import IndicatorValue

__all__ = ["PROGRESS", "CONFIDENCE", "Thresholds", "ConfidenceLevel", "Rubric", "RubricError"]

#: Progress ratings, worst to best, then "not rated".
PROGRESS: tuple[str, ...] = ("no", "low", "some", "good", "n/a")
#: Confidence ratings, weakest to strongest, then "not rated".
CONFIDENCE: tuple[str, ...] = ("low", "medium", "high", "n/a")
KINDS: tuple[str, ...] = ("proportion", "mean", "count")


class RubricError(InputError):
    """A rubric (or a threshold set in a map) that cannot be used."""


@dataclass(frozen=True)
class Thresholds:
    """Progress thresholds: the smallest value reaching ``low``, ``some`` and ``good``.

    With ``direction="lower"`` (lower is better) a value at or *below* a
    threshold reaches the band.
    """

    low: float
    some: float
    good: float
    direction: str = "higher"

    def __post_init__(self):
        if self.direction not in ("higher", "lower"):
            raise RubricError(f"direction must be 'higher' or 'lower', not {self.direction!r}")
        vals = (self.low, self.some, self.good)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals):
            raise RubricError(f"thresholds low/some/good must be finite numbers, got {vals}")
        ordered = self.low <= self.some <= self.good if self.direction == "higher" else \
            self.low >= self.some >= self.good
        if not ordered:
            rel = "low <= some <= good" if self.direction == "higher" else "low >= some >= good"
            raise RubricError(f"thresholds must satisfy {rel} (direction {self.direction}), got "
                              f"low={self.low}, some={self.some}, good={self.good}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "thresholds") -> Thresholds:
        if not isinstance(d, Mapping):
            raise RubricError(f"{where}: expected a mapping with low, some, good (and optional direction)")
        unknown = set(d) - {"low", "some", "good", "direction"}
        missing = {"low", "some", "good"} - set(d)
        if unknown or missing:
            raise RubricError(f"{where}: " + "; ".join(
                ([f"unknown key(s) {sorted(unknown)}"] if unknown else [])
                + ([f"missing {sorted(missing)}"] if missing else []))
                + " (expected low, some, good, optional direction: higher|lower)")
        try:
            return cls(d["low"], d["some"], d["good"], d.get("direction", "higher"))
        except RubricError as e:
            raise RubricError(f"{where}: {e}") from None

    def to_dict(self) -> dict:
        return {"direction": self.direction, "low": self.low, "some": self.some, "good": self.good}

    def band(self, value: float) -> str:
        """Progress band of ``value`` (``"n/a"`` when it is undefined)."""
        if value is None or not math.isfinite(value):
            return "n/a"
        reach = (lambda t: value >= t) if self.direction == "higher" else (lambda t: value <= t)
        if reach(self.good):
            return "good"
        if reach(self.some):
            return "some"
        if reach(self.low):
            return "low"
        return "no"

    def crosses(self, lo: float, hi: float) -> bool:
        """Whether the interval [lo, hi] lies in more than one band."""
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return True
        return self.band(lo) != self.band(hi)


@dataclass(frozen=True)
class ConfidenceLevel:
    """Precision a value needs for one confidence level (all criteria inclusive)."""

    min_n: int
    max_ci_width: dict[str, float]
    max_missing_share: float

    def holds(self, v: IndicatorValue) -> bool:
        width = _precision(v)
        limit = self.max_ci_width.get(v.kind)
        if limit is None:
            raise RubricError(f"the rubric sets no max_ci_width for indicators of kind {v.kind!r}")
        return v.n >= self.min_n and width <= limit and v.missing_share <= self.max_missing_share


def _precision(v: IndicatorValue) -> float:
    """CI width on the scale the rubric compares: relative for counts, absolute otherwise."""
    width = v.ci_upper - v.ci_lower
    if v.kind == "count":
        return width / v.value if v.value > 0 else math.inf
    return width if math.isfinite(width) else math.inf


_DEFAULT = {
    "progress": {
        "proportion": {"direction": "higher", "low": 0.15, "some": 0.30, "good": 0.50},
        "mean": {"direction": "higher", "low": 0.10, "some": 0.25, "good": 0.50},
        "indicators": {
            "share_reaching_stage": {"direction": "higher", "low": 0.20, "some": 0.40, "good": 0.60},
            "sustained_at_months": {"direction": "higher", "low": 0.50, "some": 0.65, "good": 0.80},
        },
    },
    "confidence": {
        "minimum_n": 30,
        "high": {"min_n": 400, "max_ci_width": {"proportion": 0.10, "mean": 0.20, "count": 0.25},
                 "max_missing_share": 0.15},
        "medium": {"min_n": 100, "max_ci_width": {"proportion": 0.20, "mean": 0.40, "count": 0.50},
                   "max_missing_share": 0.30},
        "ci_crosses_threshold": "medium",
    },
}


@dataclass(frozen=True)
class Rubric:
    """Thresholds turning an :class:`~longitudinal.indicators.IndicatorValue` into ratings.

    Attributes
    ----------
    progress_by_kind : dict
        Default :class:`Thresholds` per indicator kind (``proportion``, ``mean``;
        counts have no natural default and need thresholds in the map).
    progress_by_indicator : dict
        Thresholds for named indicators, taking precedence over the kind.
    minimum_n : int
        Below this base the step is not rated (``n/a``, ``n/a``).
    high, medium : ConfidenceLevel
        Precision needed for ``high`` and ``medium`` confidence; anything else
        rated is ``low``.
    ci_crosses_threshold : str
        Highest confidence allowed when the CI spans more than one progress band.
    """

    progress_by_kind: dict[str, Thresholds]
    progress_by_indicator: dict[str, Thresholds]
    minimum_n: int
    high: ConfidenceLevel
    medium: ConfidenceLevel
    ci_crosses_threshold: str = "medium"
    source: str = field(default="default", compare=False)

    # ------------------------------------------------------------ creation
    @classmethod
    def default(cls) -> Rubric:
        """The default rubric (the same as the shipped ``data/maps/rubric.yaml``)."""
        return cls.from_dict(_DEFAULT, source="default")

    @classmethod
    def from_yaml(cls, path: str | Path) -> Rubric:
        """Read a rubric from a YAML file (layout as ``data/maps/rubric.yaml``)."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise RubricError(f"{path}: cannot read rubric: {e}") from None
        try:
            return cls.from_dict(data, source=str(path))
        except RubricError as e:
            raise RubricError(f"{path}: {e}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "dict") -> Rubric:
        if not isinstance(data, Mapping) or set(data) - {"progress", "confidence"} or \
                not {"progress", "confidence"} <= set(data):
            raise RubricError("a rubric is a mapping with exactly two keys: progress and confidence")
        prog = data["progress"] or {}
        by_kind, by_ind = {}, {}
        for key, val in prog.items():
            if key == "indicators":
                for name, t in (val or {}).items():
                    by_ind[name] = Thresholds.from_dict(t, f"progress.indicators.{name}")
            elif key in KINDS:
                if val is not None:
                    by_kind[key] = Thresholds.from_dict(val, f"progress.{key}")
            else:
                raise RubricError(f"progress.{key}: unknown key; expected one of {list(KINDS)} or indicators")
        conf = data["confidence"] or {}
        unknown = set(conf) - {"minimum_n", "high", "medium", "ci_crosses_threshold"}
        if unknown:
            raise RubricError(f"confidence: unknown key(s) {sorted(unknown)}; expected minimum_n, high, "
                              "medium, ci_crosses_threshold")
        levels = {}
        for lvl in ("high", "medium"):
            d = conf.get(lvl)
            if not isinstance(d, Mapping) or set(d) != {"min_n", "max_ci_width", "max_missing_share"}:
                raise RubricError(f"confidence.{lvl}: expected min_n, max_ci_width (per kind) and "
                                  "max_missing_share")
            widths = d["max_ci_width"]
            if not isinstance(widths, Mapping) or set(widths) - set(KINDS):
                raise RubricError(f"confidence.{lvl}.max_ci_width: expected a mapping of {list(KINDS)} "
                                  "to widths")
            levels[lvl] = ConfidenceLevel(int(d["min_n"]), {k: float(w) for k, w in widths.items()},
                                          float(d["max_missing_share"]))
        hi, me = levels["high"], levels["medium"]
        if hi.min_n < me.min_n or hi.max_missing_share > me.max_missing_share or \
                any(hi.max_ci_width.get(k, 0) > me.max_ci_width.get(k, math.inf) for k in hi.max_ci_width):
            raise RubricError("confidence.high must be at least as demanding as confidence.medium")
        cap = conf.get("ci_crosses_threshold", "medium")
        if cap not in ("low", "medium", "high"):
            raise RubricError(f"confidence.ci_crosses_threshold must be low, medium or high, not {cap!r}")
        return cls(by_kind, by_ind, int(conf.get("minimum_n", 0)), hi, me, cap, source)

    def to_dict(self) -> dict:
        return {
            "progress": {**{k: t.to_dict() for k, t in self.progress_by_kind.items()},
                         "indicators": {k: t.to_dict() for k, t in self.progress_by_indicator.items()}},
            "confidence": {
                "minimum_n": self.minimum_n,
                **{lvl: {"min_n": c.min_n, "max_ci_width": dict(c.max_ci_width),
                         "max_missing_share": c.max_missing_share}
                   for lvl, c in (("high", self.high), ("medium", self.medium))},
                "ci_crosses_threshold": self.ci_crosses_threshold,
            },
        }

    # -------------------------------------------------------------- rating
    def thresholds_for(self, name: str, kind: str, override: Thresholds | None = None) -> Thresholds:
        """The thresholds that apply: the map's own, else the indicator's, else the kind's."""
        if override is not None:
            return override
        if name in self.progress_by_indicator:
            return self.progress_by_indicator[name]
        if kind in self.progress_by_kind:
            return self.progress_by_kind[kind]
        raise RubricError(f"no progress thresholds for indicator {name!r} (kind {kind}): set "
                          f"`thresholds` on the indicator link in the map, or progress.indicators.{name} "
                          "in the rubric")

    def progress(self, v: IndicatorValue, thresholds: Thresholds | None = None) -> str:
        """Progress rating of an indicator value."""
        if v.n < self.minimum_n or not math.isfinite(v.value):
            return "n/a"
        return self.thresholds_for(v.name, v.kind, thresholds).band(v.value)

    def confidence(self, v: IndicatorValue, thresholds: Thresholds | None = None) -> str:
        """Confidence rating of an indicator value from its precision."""
        if v.n < self.minimum_n or not math.isfinite(v.value):
            return "n/a"
        level = "high" if self.high.holds(v) else "medium" if self.medium.holds(v) else "low"
        if self.thresholds_for(v.name, v.kind, thresholds).crosses(v.ci_lower, v.ci_upper):
            level = min(level, self.ci_crosses_threshold, key=CONFIDENCE.index)
        return level

    def rate(self, v: IndicatorValue, thresholds: Thresholds | None = None) -> tuple[str, str]:
        """``(progress, confidence)`` of an indicator value."""
        return self.progress(v, thresholds), self.confidence(v, thresholds)
