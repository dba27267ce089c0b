"""The parts of an outcome map: columns, steps, pathways, ratings and evidence, and the map's error.

Plain data (dataclasses) shared by the document (:mod:`.document`), its reading (:mod:`.parse`),
its ratings (:mod:`.rating`) and its drawing (:mod:`.render`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import LongitudinalError
from ..indicators import IndicatorValue
from ..rubric import Thresholds

__all__ = ["COLUMNS", "PERSONAL_COLUMNS", "MAX_STEP_LENGTH", "OutcomeMapError", "Evidence", "IndicatorLink", "Step",
           "ComputedRating", "PathwayStep", "Pathway", "describe_params", "describe_value"]

#: The six column headings of an outcome map.
COLUMNS: tuple[str, ...] = (
    "What we do",
    "Who with",
    "How they feel",
    "What they learn and gain",
    "What they do differently",
    "What difference does this make?",
)
#: Headings of a personal outcome map (a person's own contribution).
PERSONAL_COLUMNS: tuple[str, ...] = ("What I do",) + COLUMNS[1:]
MAX_STEP_LENGTH = 150


class OutcomeMapError(LongitudinalError, ValueError):
    """An outcome map that breaks a rule; ``problems`` lists every one found.

    Each problem is a dict with ``message`` and, where known, ``file``, ``line``,
    ``pathway``, ``column`` and ``step``; ``str(error)`` shows them all.
    """

    def __init__(self, problems: list[dict]):
        self.problems = problems
        lines = [_format_problem(p) for p in problems]
        head = f"{len(problems)} problem(s) in the outcome map:\n  " if len(problems) > 1 else ""
        super().__init__(head + "\n  ".join(lines))


def _format_problem(p: dict) -> str:
    where = []
    if p.get("file"):
        where.append(str(p["file"]) + (f", line {p['line']}" if p.get("line") else ""))
    elif p.get("line"):
        where.append(f"line {p['line']}")
    for key in ("pathway", "column", "step"):
        if p.get(key) is not None:
            where.append(f"{key} {p[key]!r}")
    return (": ".join([", ".join(where), p["message"]]) if where else p["message"])



@dataclass
class Evidence:
    """One piece of evidence for a step: where it comes from and what it shows."""

    source: str
    description: str
    link: str | None = None
    file: str | None = None
    date: str | None = None

    def to_dict(self) -> dict:
        d = {"source": self.source, "description": self.description}
        for k in ("link", "file", "date"):
            if getattr(self, k):
                d[k] = getattr(self, k)
        return d


@dataclass
class IndicatorLink:
    """A step's link to a registered indicator, with its parameters and optional thresholds."""

    name: str
    params: dict = field(default_factory=dict)
    thresholds: Thresholds | None = None

    def label(self) -> str:
        ps = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({ps})"

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.params:
            d["params"] = dict(self.params)
        if self.thresholds is not None:
            d["thresholds"] = self.thresholds.to_dict()
        return d


@dataclass
class Step:
    """A step ("stepping stone") of the map: its text, and indicators that evidence it."""

    text: str
    indicators: list[IndicatorLink] = field(default_factory=list)

    def to_yaml_value(self):
        if not self.indicators:
            return self.text
        return {"text": self.text, "indicators": [i.to_dict() for i in self.indicators]}


@dataclass(frozen=True)
class ComputedRating:
    """Ratings a rubric gave a step from its indicators (set by :meth:`OutcomeMap.rate`)."""

    progress: str
    confidence: str
    values: tuple[IndicatorValue, ...]
    ratings: tuple[tuple[str, str], ...]  # (progress, confidence) per indicator


@dataclass
class PathwayStep:
    """A step as it sits in a pathway, with its ratings and the case for them.

    ``progress``/``confidence`` of ``None`` mean "from the evidence" (the
    step's indicators); a value set on a step with indicators is a manual
    override and needs ``reason``.
    """

    step: str
    progress: str | None = "n/a"
    confidence: str | None = "n/a"
    reason: str = ""
    analysis: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    indicators: list[IndicatorLink] = field(default_factory=list)
    computed: ComputedRating | None = field(default=None, compare=False, repr=False)

    @property
    def rating(self) -> tuple[str, str, str]:
        """``(progress, confidence, basis)``: basis is ``manual``, ``override``, ``evidence`` or ``not rated``."""
        c = self.computed
        prog = self.progress if self.progress is not None else (c.progress if c else "n/a")
        conf = self.confidence if self.confidence is not None else (c.confidence if c else "n/a")
        if self.reason and (self.progress is not None or self.confidence is not None):
            basis = "override"
        elif self.progress is None or self.confidence is None:
            basis = "evidence" if c is not None else "not rated"
        else:
            basis = "manual"
        return prog, conf, basis

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"step": self.step}
        if self.progress is not None:
            d["progress"] = self.progress
        if self.confidence is not None:
            d["confidence"] = self.confidence
        for k in ("reason", "analysis"):
            if getattr(self, k):
                d[k] = getattr(self, k)
        if self.evidence:
            d["evidence"] = [e.to_dict() for e in self.evidence]
        for k in ("assumptions", "risks"):
            if getattr(self, k):
                d[k] = list(getattr(self, k))
        if self.indicators:
            d["indicators"] = [i.to_dict() for i in self.indicators]
        return d


@dataclass
class Pathway:
    """A named route through the map: steps per column, with a summary per column."""

    name: str
    steps: dict[str, list[PathwayStep]]
    summaries: dict[str, str] = field(default_factory=dict)
    description: str = ""
    notes: str = ""

    def step(self, column: str, text: str) -> PathwayStep:
        for ps in self.steps.get(column, []):
            if ps.step == text:
                return ps
        raise KeyError(f"pathway {self.name!r} has no step {text!r} in column {column!r}")

    def to_dict(self, columns: Iterable[str]) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        if self.notes:
            d["notes"] = self.notes
        if any(self.summaries.get(c) for c in columns):
            d["summaries"] = {c: self.summaries[c] for c in columns if self.summaries.get(c)}
        d["steps"] = {c: [ps.to_dict() for ps in self.steps.get(c, [])] for c in columns}
        return d


def describe_params(params: dict) -> str:
    """An indicator's parameters as the tables show them: ``outcome=managing_money, stage=4``."""
    return ", ".join(f"{k}={v}" for k, v in params.items())


def describe_value(v: IndicatorValue) -> str:
    """An indicator's value in one line: value, 95% CI, n and the share missing."""
    fmt = (lambda x: f"{x:.1%}") if v.kind == "proportion" else (lambda x: f"{x:.3g}")
    if not math.isfinite(v.value):
        return f"{v.name}({describe_params(v.params)}): no data (n={v.n})"
    return (f"{v.name}({describe_params(v.params)}) = {fmt(v.value)} [95% CI {fmt(v.ci_lower)} to "
            f"{fmt(v.ci_upper)}], n={v.n:,}, missing {v.missing_share:.0%}")
