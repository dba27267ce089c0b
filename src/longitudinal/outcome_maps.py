"""Outcome maps and contribution analysis: pathways, progress and confidence ratings, evidence.

An outcome map (in the style of Matter of Focus's OutNav) sets out how a
programme's activities contribute to outcomes, as *steps* ("stepping stones")
in six columns:

    What we do · Who with · How they feel · What they learn and gain ·
    What they do differently · What difference does this make?

(a personal map starts with "What I do"). A *pathway* is a named route through
the map: a subset of its steps with at least one in every column. Every step of
a pathway carries a **progress** rating (``no``, ``low``, ``some``, ``good`` or
``n/a``), a **confidence** rating (``low``, ``medium``, ``high`` or ``n/a``), a
free-text analysis, evidence items, assumptions and risks; each column of a
pathway has a summary.

A step may link to indicators computed from the study
(:mod:`longitudinal.indicators`); :meth:`OutcomeMap.rate` computes them and a
:class:`~longitudinal.rubric.Rubric` turns value and precision into ratings. A
manual rating on such a step overrides the evidence only with a recorded
``reason``. :func:`rollup` rates one map per local authority and one for Wales.

Maps are YAML files (``data/maps/*.yaml``); ``to_yaml`` writes the canonical
form, so ``to_yaml(from_yaml(text)) == text`` for a canonical file. Errors name
the file, line, pathway, column and step.

Examples
--------
>>> import longitudinal as lg
>>> m = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("pa_programme_board"))
>>> m.columns[0], len(m.pathways)
('What we do', 3)
>>> [len(m.steps[c]) for c in m.columns]
[7, 7, 8, 8, 6, 4]
>>> lg.OutcomeMap.from_yaml(m.to_yaml()) == m
True
"""

from __future__ import annotations

import copy
import html
import inspect
import math
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from . import domain, indicators as _indicators
from .errors import InputError, LongitudinalError
from .indicators import IndicatorValue
from .io import RESOURCES, write_csv
from .rubric import CONFIDENCE, PROGRESS, Rubric, RubricError, Thresholds
from .study import Study

__all__ = [
    "COLUMNS",
    "PERSONAL_COLUMNS",
    "PROGRESS",
    "CONFIDENCE",
    "MAX_STEP_LENGTH",
    "OutcomeMapError",
    "Evidence",
    "IndicatorLink",
    "Step",
    "PathwayStep",
    "Pathway",
    "ComputedRating",
    "OutcomeMap",
    "MapRollup",
    "rollup",
    "shipped_map_path",
    "MAPS_DIR",
]

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
#: Where the shipped maps and the default rubric live (a source checkout).
MAPS_DIR = RESOURCES / "maps"

_PROGRESS_ALIASES = {**{p: p for p in PROGRESS}, **{f"{p} progress": p for p in PROGRESS[:4]},
                     "na": "n/a", "not applicable": "n/a"}
_CONFIDENCE_ALIASES = {**{c: c for c in CONFIDENCE}, **{f"{c} confidence": c for c in CONFIDENCE[:3]},
                       "na": "n/a", "not applicable": "n/a"}
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


# =========================================================================== errors
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


class _Problems:
    """Collects problems with their place in the file, so one run reports them all."""

    def __init__(self, file: str | None, lines: dict[tuple, int]):
        self.file, self.lines, self.items = file, lines, []

    def add(self, message: str, path: tuple = (), **where):
        line = None
        for i in range(len(path), -1, -1):  # nearest node that has a line
            if path[:i] in self.lines:
                line = self.lines[path[:i]]
                break
        self.items.append({"message": message, "file": self.file, "line": line, **where})

    def raise_if_any(self):
        if self.items:
            raise OutcomeMapError(self.items)


# ====================================================================== YAML read
class _Unreadable(Exception):
    pass


_CTOR = yaml.constructor.SafeConstructor()


def _walk(node, path: tuple, lines: dict) -> Any:
    """Plain Python value of a composed YAML node, recording each node's line."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(_walk(k, path, {}))
            if key in out:
                raise _Unreadable(f"line {k.start_mark.line + 1}: duplicate key {key!r}")
            out[key] = _walk(v, path + (key,), lines)
            lines[path + (key,)] = k.start_mark.line + 1  # the key's line is where a reader looks
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(v, path + (i,), lines) for i, v in enumerate(node.value)]
    tag = node.tag.rsplit(":", 1)[-1]
    # Keep words like `no` / `yes` (YAML 1.1 booleans) and dates as the text written:
    # "no" is a progress rating and evidence dates are kept as written.
    if tag == "timestamp" or (tag == "bool" and node.value.lower() not in ("true", "false")):
        return node.value
    return _CTOR.construct_object(node, deep=True)


def _read_yaml(source: str | Path) -> tuple[Any, dict, str | None]:
    """(data, line map, file name) of a path or YAML text."""
    file = None
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and (source.strip().endswith((".yaml", ".yml")) or Path(source).exists())):
        file = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise _Unreadable(f"{file}: cannot read: {e}") from None
    else:
        text = source
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise _Unreadable(f"{file or '<text>'}: not valid YAML: {e}") from None
    if node is None:
        raise _Unreadable(f"{file or '<text>'}: empty file")
    lines: dict[tuple, int] = {}
    try:
        data = _walk(node, (), lines)
    except _Unreadable as e:
        raise _Unreadable(f"{file or '<text>'}: {e}") from None
    return data, lines, file


# ================================================================== data model
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


# ================================================================== parse helpers
_MAP_KEYS = {"title", "description", "source", "columns", "steps", "pathways"}
_PATHWAY_KEYS = {"name", "description", "notes", "summaries", "steps"}
_PSTEP_KEYS = {"step", "progress", "confidence", "reason", "analysis", "evidence", "assumptions", "risks",
               "indicators"}


def _norm(text: str) -> str:
    """Key for duplicate detection: case and runs of spaces do not make a step different."""
    return re.sub(r"\s+", " ", text.strip()).casefold()


def _text(value, what: str, probs: _Problems, path: tuple, required: bool = True, **where) -> str:
    if value is None or value == "":
        if required:
            probs.add(f"{what} is missing or blank", path, **where)
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        probs.add(f"{what} must be text, got {type(value).__name__} {value!r}", path, **where)
        return ""
    return str(value)


def _text_list(value, what: str, probs: _Problems, path: tuple, **where) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        probs.add(f"{what} must be a list of text", path, **where)
        return []
    return [_text(v, f"{what} item {i + 1}", probs, path + (i,), **where) for i, v in enumerate(value)]


def _indicator_links(value, probs: _Problems, path: tuple, **where) -> list[IndicatorLink]:
    if value is None:
        return []
    if not isinstance(value, list):
        probs.add("indicators must be a list of {name, params, thresholds}", path, **where)
        return []
    registry = {row["name"]: [p.strip() for p in row["parameters"].split(",") if p.strip()]
                for row in _indicators.available().to_dict("records")}
    out = []
    for i, item in enumerate(value):
        p = path + (i,)
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or "name" not in item:
            probs.add("an indicator link needs a name (and optional params, thresholds)", p, **where)
            continue
        unknown = set(item) - {"name", "params", "thresholds"}
        if unknown:
            probs.add(f"indicator link has unknown key(s) {sorted(unknown)}; expected name, params, thresholds",
                      p, **where)
        name = item["name"]
        if name not in registry:
            probs.add(f"unknown indicator {name!r}; available: {', '.join(sorted(registry))}", p + ("name",),
                      **where)
            continue
        params = item.get("params") or {}
        if not isinstance(params, dict):
            probs.add(f"params of indicator {name!r} must be a mapping", p + ("params",), **where)
            continue
        bad = [k for k in params if k not in registry[name]]
        if bad:
            probs.add(f"indicator {name!r} takes no parameter {', '.join(map(repr, bad))}; it takes: "
                      f"{', '.join(registry[name])}", p + ("params",), **where)
        sig = inspect.signature(_indicators._REGISTRY[name].func)
        required = [k for k, prm in sig.parameters.items()
                    if k != "study" and prm.default is inspect.Parameter.empty and k not in params]
        if required:
            probs.add(f"indicator {name!r} needs parameter(s) {', '.join(required)}", p, **where)
        if "outcome" in params:
            try:
                params = {**params, "outcome": domain.outcome_code(str(params["outcome"]))}
            except KeyError as e:
                probs.add(str(e.args[0]), p + ("params", "outcome"), **where)
        if params.get("local_authority") not in (None, "Wales"):
            try:
                params = {**params, "local_authority": domain.local_authority(str(params["local_authority"]))}
            except KeyError as e:
                probs.add(str(e.args[0]), p + ("params", "local_authority"), **where)
        thresholds = None
        if item.get("thresholds") is not None:
            try:
                thresholds = Thresholds.from_dict(item["thresholds"], f"thresholds of indicator {name!r}")
            except RubricError as e:
                probs.add(str(e), p + ("thresholds",), **where)
        out.append(IndicatorLink(name, dict(params), thresholds))
    return out


def _rating(value, scale: Mapping[str, str], what: str, probs: _Problems, path: tuple, **where):
    if value is None:
        return None
    key = str(value).strip().lower()
    if key not in scale:
        allowed = ", ".join(dict.fromkeys(scale.values()))
        probs.add(f"{what} {value!r} is not on the scale; expected one of: {allowed}", path, **where)
        return None
    return scale[key]


# ==================================================================== OutcomeMap
@dataclass
class OutcomeMap:
    """An outcome map: steps in columns, pathways through them, ratings and evidence.

    Build one with :meth:`from_yaml` (or :meth:`from_dict`); see the module
    docstring for the layout. After :meth:`rate`, ``area`` names the area rated
    and ``ratings_`` / ``indicator_values_`` hold the ratings as tables.

    Attributes
    ----------
    title, description, source : str
    columns : tuple of str
        The column headings (default :data:`COLUMNS`).
    steps : dict
        Column heading → list of :class:`Step`, in map order.
    pathways : list of :class:`Pathway`
    """

    title: str
    columns: tuple[str, ...] = COLUMNS
    steps: dict[str, list[Step]] = field(default_factory=dict)
    pathways: list[Pathway] = field(default_factory=list)
    description: str = ""
    source: str = ""
    area: str | None = field(default=None, compare=False)
    #: The financial year the ratings are for (``rate(year=...)``); ``None``: all the data.
    financial_year: int | None = field(default=None, compare=False)
    ratings_: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    indicator_values_: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        n = sum(len(v) for v in self.steps.values())
        return (f"<OutcomeMap {self.title!r} steps={n} pathways={len(self.pathways)}"
                + (f" area={self.area!r}" if self.area else "") + ">")

    # ----------------------------------------------------------------- read
    @classmethod
    def from_yaml(cls, source: str | Path) -> OutcomeMap:
        """Read a map from a YAML file path or YAML text.

        Raises
        ------
        OutcomeMapError
            Listing every rule the map breaks, each with its file, line, pathway,
            column and step. A file that cannot be read or is not YAML also
            raises :class:`OutcomeMapError` (with ``unreadable = True``).
        """
        try:
            data, lines, file = _read_yaml(source)
        except _Unreadable as e:
            err = OutcomeMapError([{"message": str(e)}])
            err.unreadable = True
            raise err from None
        return cls._from_data(data, lines, file)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutcomeMap:
        """Build a map from the structure :meth:`to_dict` returns (validated as from YAML)."""
        return cls._from_data(copy.deepcopy(dict(data)), {}, None)

    @classmethod
    def _from_data(cls, data, lines, file) -> OutcomeMap:
        probs = _Problems(file, lines)
        if not isinstance(data, dict):
            probs.add("an outcome map is a mapping with title, columns, steps and pathways"
                      + ("" if file else " (if you meant a file path: no such file)"))
            probs.raise_if_any()
        for k in sorted(set(data) - _MAP_KEYS):
            probs.add(f"unknown key {k!r}; expected {', '.join(sorted(_MAP_KEYS))}", (k,))
        title = _text(data.get("title"), "title", probs, ("title",))
        cols = data.get("columns", "default")
        if cols in ("default", None):
            columns = COLUMNS
        elif cols == "personal":
            columns = PERSONAL_COLUMNS
        elif isinstance(cols, list) and cols and all(isinstance(c, str) and c.strip() for c in cols):
            columns = tuple(cols)
            if len(set(columns)) != len(columns):
                probs.add("column headings must be unique", ("columns",))
        else:
            probs.add("columns must be 'default', 'personal' or a list of headings", ("columns",))
            columns = COLUMNS

        # ---- steps
        steps: dict[str, list[Step]] = {c: [] for c in columns}
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, dict) or not raw_steps:
            probs.add("steps must map each column heading to a list of steps", ("steps",))
            raw_steps = {}
        for col, items in raw_steps.items():
            if col not in columns:
                probs.add(f"unknown column {col!r}; the map's columns are: {', '.join(columns)}",
                          ("steps", col), column=col)
                continue
            if not isinstance(items, list):
                probs.add("a column's steps must be a list", ("steps", col), column=col)
                continue
            seen: dict[str, str] = {}
            for i, item in enumerate(items):
                p = ("steps", col, i)
                if isinstance(item, dict):
                    unknown = set(item) - {"text", "indicators"}
                    if unknown:
                        probs.add(f"unknown key(s) {sorted(unknown)} on a step; expected text, indicators", p,
                                  column=col)
                    text = _text(item.get("text"), "step text", probs, p + ("text",), column=col)
                    links = _indicator_links(item.get("indicators"), probs, p + ("indicators",), column=col,
                                             step=text)
                else:
                    text = _text(item, "step text", probs, p, column=col)
                    links = []
                if not text:
                    continue
                if text != text.strip():
                    probs.add("step text has leading or trailing spaces", p, column=col, step=text)
                if len(text) > MAX_STEP_LENGTH:
                    probs.add(f"step is {len(text)} characters long; at most {MAX_STEP_LENGTH} allowed", p,
                              column=col, step=text)
                if _norm(text) in seen:
                    probs.add(f"duplicate step in column (same as {seen[_norm(text)]!r})", p, column=col, step=text)
                    continue
                seen[_norm(text)] = text
                steps[col].append(Step(text, links))
        for col in columns:
            if not steps[col] and col in raw_steps:
                probs.add("column has no steps", ("steps", col), column=col)

        # ---- pathways
        pathways = []
        raw_pw = data.get("pathways") or []
        if not isinstance(raw_pw, list):
            probs.add("pathways must be a list", ("pathways",))
            raw_pw = []
        names: set[str] = set()
        by_text = {c: {s.text: s for s in steps[c]} for c in columns}
        for j, pw in enumerate(raw_pw):
            pp = ("pathways", j)
            if not isinstance(pw, dict):
                probs.add("a pathway is a mapping with name and steps", pp)
                continue
            name = _text(pw.get("name"), "pathway name", probs, pp + ("name",))
            for k in sorted(set(pw) - _PATHWAY_KEYS):
                probs.add(f"unknown key {k!r} in pathway; expected {', '.join(sorted(_PATHWAY_KEYS))}", pp + (k,),
                          pathway=name)
            if name in names:
                probs.add("duplicate pathway name", pp + ("name",), pathway=name)
            names.add(name)
            summaries = {}
            for col, s in (pw.get("summaries") or {}).items():
                if col not in columns:
                    probs.add(f"summary for unknown column {col!r}; the map's columns are: {', '.join(columns)}",
                              pp + ("summaries", col), pathway=name, column=col)
                else:
                    summaries[col] = _text(s, "summary", probs, pp + ("summaries", col), required=False,
                                           pathway=name, column=col)
            raw = pw.get("steps")
            if not isinstance(raw, dict):
                probs.add("pathway steps must map each column heading to a list of steps", pp + ("steps",),
                          pathway=name)
                raw = {}
            psteps: dict[str, list[PathwayStep]] = {c: [] for c in columns}
            for col, items in raw.items():
                cp = pp + ("steps", col)
                if col not in columns:
                    probs.add(f"unknown column {col!r}; the map's columns are: {', '.join(columns)}", cp,
                              pathway=name, column=col)
                    continue
                for i, item in enumerate(items or []):
                    ps = cls._pathway_step(item, probs, cp + (i,), name, col, by_text[col])
                    if ps is None:
                        continue
                    if any(q.step == ps.step for q in psteps[col]):
                        probs.add("step listed twice in this column of the pathway", cp + (i,), pathway=name,
                                  column=col, step=ps.step)
                        continue
                    psteps[col].append(ps)
            for col in columns:
                if not psteps[col]:
                    probs.add("pathway has no step in this column (a pathway needs at least one step in every "
                              "column)", pp + ("steps", col) if col in raw else pp + ("steps",), pathway=name,
                              column=col)
            pathways.append(Pathway(name, psteps, summaries, _text(pw.get("description"), "description", probs,
                                                                   pp, required=False),
                                    _text(pw.get("notes"), "notes", probs, pp, required=False)))
        probs.raise_if_any()
        return cls(title, columns, steps, pathways,
                   _text(data.get("description"), "description", probs, (), required=False),
                   _text(data.get("source"), "source", probs, (), required=False))

    @staticmethod
    def _pathway_step(item, probs, p, name, col, known) -> PathwayStep | None:
        where = {"pathway": name, "column": col}
        if isinstance(item, str):
            item = {"step": item}
        if not isinstance(item, dict):
            probs.add("a pathway step is a step's text or a mapping with step, progress, confidence, ...", p,
                      **where)
            return None
        text = _text(item.get("step"), "step", probs, p + ("step",), **where)
        if not text:
            return None
        where["step"] = text
        for k in sorted(set(item) - _PSTEP_KEYS):
            probs.add(f"unknown key {k!r}; expected {', '.join(sorted(_PSTEP_KEYS))}", p + (k,), **where)
        if text not in known:
            close = [t for t in known if _norm(t) == _norm(text)]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            probs.add(f"no such step in column {col!r} of the map{hint}", p + ("step",), **where)
            return None
        links = _indicator_links(item.get("indicators"), probs, p + ("indicators",), **where)
        evidenced = bool(links or known[text].indicators)
        prog = _rating(item.get("progress"), _PROGRESS_ALIASES, "progress", probs, p + ("progress",), **where)
        conf = _rating(item.get("confidence"), _CONFIDENCE_ALIASES, "confidence", probs, p + ("confidence",),
                       **where)
        reason = _text(item.get("reason"), "reason", probs, p + ("reason",), required=False, **where)
        if evidenced:
            manual = [k for k in ("progress", "confidence") if item.get(k) is not None]
            if manual and not reason.strip():
                probs.add(f"manual {' and '.join(manual)} on a step rated from indicators needs a recorded "
                          "`reason` for overriding the evidence (or remove it to use the rubric)", p + (manual[0],),
                          **where)
        else:  # nothing to compute from: an unset rating is "not rated"
            prog = "n/a" if prog is None else prog
            conf = "n/a" if conf is None else conf
        evidence = []
        raw_ev = item.get("evidence") or []
        if not isinstance(raw_ev, list):
            probs.add("evidence must be a list of {source, description, link or file, date}", p + ("evidence",),
                      **where)
            raw_ev = []
        for k, ev in enumerate(raw_ev):
            ep = p + ("evidence", k)
            if not isinstance(ev, dict):
                probs.add("an evidence item is a mapping with source, description, link or file, date", ep,
                          **where)
                continue
            unknown = set(ev) - {"source", "description", "link", "file", "date"}
            if unknown:
                probs.add(f"evidence item has unknown key(s) {sorted(unknown)}; expected source, description, "
                          "link, file, date", ep, **where)
            date = ev.get("date")
            date = None if date is None else str(date)
            if date is not None and not _DATE.match(date):
                probs.add(f"evidence date {date!r} is not a date (expected YYYY-MM-DD, YYYY-MM or YYYY)",
                          ep + ("date",), **where)
            evidence.append(Evidence(
                _text(ev.get("source"), "evidence source", probs, ep + ("source",), **where),
                _text(ev.get("description"), "evidence description", probs, ep + ("description",), **where),
                _text(ev.get("link"), "link", probs, ep, required=False, **where) or None,
                _text(ev.get("file"), "file", probs, ep, required=False, **where) or None,
                date))
        return PathwayStep(
            text, prog, conf, reason,
            _text(item.get("analysis"), "analysis", probs, p + ("analysis",), required=False, **where),
            evidence,
            _text_list(item.get("assumptions"), "assumptions", probs, p + ("assumptions",), **where),
            _text_list(item.get("risks"), "risks", probs, p + ("risks",), **where),
            links)

    # ---------------------------------------------------------------- write
    def to_dict(self) -> dict:
        """The map as plain data, in the canonical key order of the YAML file."""
        d: dict[str, Any] = {"title": self.title}
        if self.description:
            d["description"] = self.description
        if self.source:
            d["source"] = self.source
        d["columns"] = list(self.columns)
        d["steps"] = {c: [s.to_yaml_value() for s in self.steps.get(c, [])] for c in self.columns}
        d["pathways"] = [p.to_dict(self.columns) for p in self.pathways]
        return d

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The canonical YAML text of the map (written to ``path`` when given)."""
        text = yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000,
                         default_flow_style=False, indent=2)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    # -------------------------------------------------------------- queries
    def pathway(self, name: str) -> Pathway:
        for p in self.pathways:
            if p.name == name:
                return p
        raise KeyError(f"no pathway {name!r}; the map has: {', '.join(p.name for p in self.pathways)}")

    def step_indicators(self, column: str, text: str) -> list[IndicatorLink]:
        for s in self.steps.get(column, []):
            if s.text == text:
                return s.indicators
        raise KeyError(f"no step {text!r} in column {column!r}")

    def steps_table(self) -> pd.DataFrame:
        """One row per step: column, position, step, indicators and the pathways it is on."""
        rows = []
        for c in self.columns:
            for i, s in enumerate(self.steps.get(c, []), 1):
                on = [p.name for p in self.pathways if any(q.step == s.text for q in p.steps.get(c, []))]
                rows.append({"column": c, "position": i, "step": s.text,
                             "indicators": "; ".join(x.label() for x in s.indicators), "pathways": "; ".join(on)})
        return pd.DataFrame(rows, columns=["column", "position", "step", "indicators", "pathways"])

    def ratings(self) -> pd.DataFrame:
        """One row per step of each pathway with its progress, confidence, basis and reason."""
        rows = []
        for p in self.pathways:
            for c in self.columns:
                for ps in p.steps.get(c, []):
                    prog, conf, basis = ps.rating
                    comp = ps.computed
                    rows.append({"area": self.area, "pathway": p.name, "column": c, "step": ps.step,
                                 "progress": prog, "confidence": conf, "basis": basis, "reason": ps.reason,
                                 "evidence_progress": comp.progress if comp else None,
                                 "evidence_confidence": comp.confidence if comp else None,
                                 "indicators": "; ".join(_value_label(v) for v in comp.values) if comp else ""})
        return pd.DataFrame(rows, columns=["area", "pathway", "column", "step", "progress", "confidence", "basis",
                                           "reason", "evidence_progress", "evidence_confidence", "indicators"])

    def summary(self) -> str:
        """Plain-text overview: steps per column and, per pathway, how many steps have each rating.

        Examples
        --------
        >>> import longitudinal as lg
        >>> m = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("pa_programme_board"))
        >>> print(m.summary().splitlines()[0])
        Outcome map: Personal Assistants Programme Board
        """
        lines = [f"Outcome map: {self.title}" + (f" ({self.area})" if self.area else "")]
        if self.source:
            lines.append(f"Source: {self.source}")
        lines.append("Steps per column: " + "; ".join(f"{c}: {len(self.steps.get(c, []))}" for c in self.columns))
        r = self.ratings()
        for p in self.pathways:
            rp = r[r["pathway"] == p.name]
            prog = ", ".join(f"{k} {int((rp['progress'] == k).sum())}" for k in PROGRESS)
            conf = ", ".join(f"{k} {int((rp['confidence'] == k).sum())}" for k in CONFIDENCE)
            basis = ", ".join(f"{k} {v}" for k, v in rp["basis"].value_counts(sort=False).items())
            lines += [f"Pathway: {p.name} ({len(rp)} steps)", f"  progress: {prog}", f"  confidence: {conf}",
                      f"  basis: {basis}"]
        return "\n".join(lines)

    # --------------------------------------------------------------- rating
    def rate(self, study, rubric: Rubric | str | Path | None = None, area: str | None = None,
             year: int | None = None) -> OutcomeMap:
        """Rate every indicator-linked pathway step from the study.

        Parameters
        ----------
        study : Study
        rubric : Rubric or path, optional
            Default :meth:`Rubric.default`.
        area : str, optional
            A local authority (any alias) to rate the map for; ``None`` or
            ``"Wales"`` rates it for the whole study.
        year : int, optional
            A financial year (2025 = 2025-26): the map is rated from the episodes active in that year
            and their readings up to its end (:meth:`Study.in_financial_year`), as the annual report
            for that year rates it, so a published map is reproducible. ``None`` rates it from all the data.

        Returns
        -------
        OutcomeMap
            A copy with each step's :class:`ComputedRating`, ``area`` and the
            tables ``ratings_`` (see :meth:`ratings`) and ``indicator_values_``
            (one row per step and indicator: value, CI, n, missing share and the
            rubric's ratings). Manual ratings stay as recorded.

        Examples
        --------
        >>> import longitudinal as lg
        >>> m = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("supporting_people"))
        >>> rated = m.rate(lg.simulate(people=400, seed=5))
        >>> sorted(set(rated.ratings_["basis"]))
        ['evidence', 'manual', 'override']
        """
        rubric = _as_rubric(rubric)
        area_name = None if area in (None, "Wales") else domain.local_authority(area)
        if year is not None and not isinstance(study, _MemoStudy):
            study = study.in_financial_year(_check_year(year, study))
        study = _MemoStudy.of(study)
        if area_name is not None:
            study = study.area(area_name)
        cache: dict = {}
        out = copy.deepcopy(self)
        out.area = area_name or "Wales"
        out.financial_year = None if year is None else int(year)
        rows = []
        for p in out.pathways:
            for c in out.columns:
                for ps in p.steps.get(c, []):
                    links = ps.indicators or self.step_indicators(c, ps.step)
                    if not links:
                        continue
                    values, rates = [], []
                    for link in links:
                        key = (link.name, tuple(sorted((k, repr(v)) for k, v in link.params.items())))
                        if key not in cache:
                            try:
                                cache[key] = _indicators.compute(link.name, study, **link.params)
                            except (KeyError, TypeError, ValueError) as e:
                                msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
                                raise OutcomeMapError([{"message": f"indicator {link.label()} failed: {msg}",
                                                        "pathway": p.name, "column": c, "step": ps.step}]) from e
                        v = cache[key]
                        try:
                            r = rubric.rate(v, link.thresholds)
                        except RubricError as e:
                            raise OutcomeMapError([{"message": str(e), "pathway": p.name, "column": c,
                                                    "step": ps.step}]) from None
                        values.append(v)
                        rates.append(r)
                        rows.append({"area": out.area, "pathway": p.name, "column": c, "step": ps.step,
                                     "indicator": link.name, "params": _params_label(link.params),
                                     "value": v.value, "ci_lower": v.ci_lower, "ci_upper": v.ci_upper, "n": v.n,
                                     "missing_share": v.missing_share, "progress": r[0], "confidence": r[1]})
                    ps.computed = ComputedRating(*_combine(rates), tuple(values), tuple(rates))
        out.indicator_values_ = pd.DataFrame(rows, columns=[
            "area", "pathway", "column", "step", "indicator", "params", "value", "ci_lower", "ci_upper", "n",
            "missing_share", "progress", "confidence"])
        out.ratings_ = out.ratings()
        return out

    # ------------------------------------------------------------ rendering
    def plot(self, pathway: str | int | None = None, ax=None, wrap: int = 30, fontsize: float = 7.5,
             ratings: bool = True):
        """Draw the map (``pathway=None``) or one pathway as six columns of step cards.

        Each card is filled by its progress (traffic light: good green, some
        amber, low orange, no red, n/a grey) and its border shows confidence
        (high: thick solid, medium: dashed, low: dotted, n/a: thin grey); the
        card's last line spells both out. On the whole map, each card also
        lists the pathways it is on; a step rated differently on two pathways
        is left white and its last line gives each pathway's ratings.
        ``ratings=False`` draws the whole map without ratings.

        Returns
        -------
        matplotlib.figure.Figure
        """
        return _plot(self, pathway, ax=ax, wrap=wrap, fontsize=fontsize, ratings=ratings)

    def to_html(self, full_document: bool = True) -> str:
        """The map and every pathway (ratings, analysis, evidence) as HTML tables."""
        return _to_html(self, full_document=full_document)

    def to_markdown(self) -> str:
        """The map and every pathway as Markdown (tables, then each step's case)."""
        return _to_markdown(self)

    def render(self, out: str | Path, formats: Iterable[str] = ("png",)) -> dict[str, Path]:
        """Write the figures (map and each pathway), ``map.html``, ``map.md`` and, when rated, ``ratings.csv``.

        Files are byte-identical for the same map (no dates or versions embedded).
        Returns name → path.
        """
        return _render(self, out, formats)


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, data):
    # multi-line analysis reads best as a literal block
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


class _MemoStudy(Study):
    """A study whose analysis table is built once per outcome: several indicators on a map
    often read the same area, and joining readings to episodes dominates their cost."""

    @classmethod
    def of(cls, study: Study) -> _MemoStudy:
        if isinstance(study, cls):
            return study
        return cls(**{f.name: getattr(study, f.name) for f in fields(Study)})

    def area(self, name: str) -> _MemoStudy:
        """The study of one authority, whose analysis tables are cut from this study's (same rows, same order)."""
        areas = self.__dict__.setdefault("_areas", {})
        if name not in areas:
            sub = _MemoStudy.of(self.subset(local_authority=name))
            sub.__dict__["_parent"] = (self, name)
            areas[name] = sub
        return areas[name]

    def long(self, outcome=None, *, scored_only: bool = True, include_follow_up: bool = True) -> pd.DataFrame:
        key = (outcome if outcome is None or isinstance(outcome, str) else tuple(outcome), scored_only,
               include_follow_up)
        cache = self.__dict__.setdefault("_long_cache", {})
        if key not in cache:
            parent = self.__dict__.get("_parent")
            if parent is not None:
                whole = parent[0].long(outcome, scored_only=scored_only, include_follow_up=include_follow_up)
                cache[key] = whole[whole["local_authority"] == parent[1]].reset_index(drop=True)
            else:
                cache[key] = super().long(outcome, scored_only=scored_only, include_follow_up=include_follow_up)
        return cache[key].copy(deep=False)


def _check_year(year, study) -> int:
    """A financial year the study covers, or an error saying which it covers."""
    fy = domain.parse_financial_year(year, "year")
    years = study.financial_years
    if not years or fy not in years:
        span = f"{domain.fy_label(min(years))} to {domain.fy_label(max(years))}" if years else "no year"
        raise InputError(f"year {fy} ({domain.fy_label(fy)}): the study has no readings in it (it covers {span})")
    return fy


def _as_rubric(rubric) -> Rubric:
    if rubric is None:
        return Rubric.default()
    if isinstance(rubric, Rubric):
        return rubric
    return Rubric.from_yaml(rubric)


def _combine(rates: list[tuple[str, str]]) -> tuple[str, str]:
    """Several indicators on one step: the weakest rated one sets each rating (n/a ones are left out)."""
    rated = [r for r in rates if r[0] != "n/a"]
    if not rated:
        return "n/a", "n/a"
    return (min((r[0] for r in rated), key=PROGRESS.index), min((r[1] for r in rated), key=CONFIDENCE.index))


def _params_label(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _value_label(v: IndicatorValue) -> str:
    fmt = (lambda x: f"{x:.1%}") if v.kind == "proportion" else (lambda x: f"{x:.3g}")
    if not math.isfinite(v.value):
        return f"{v.name}({_params_label(v.params)}): no data (n={v.n})"
    return (f"{v.name}({_params_label(v.params)}) = {fmt(v.value)} [95% CI {fmt(v.ci_lower)} to "
            f"{fmt(v.ci_upper)}], n={v.n:,}, missing {v.missing_share:.0%}")


# ======================================================================= roll-up
@dataclass
class MapRollup:
    """A map rated for Wales and for each local authority.

    Attributes
    ----------
    maps : dict
        Area → rated :class:`OutcomeMap` (``"Wales"`` first).
    ratings : pandas.DataFrame
        All areas' :meth:`OutcomeMap.ratings` stacked.
    indicator_values : pandas.DataFrame
        All areas' indicator values stacked.
    """

    maps: dict[str, OutcomeMap]
    ratings: pd.DataFrame
    indicator_values: pd.DataFrame

    @property
    def areas(self) -> list[str]:
        return list(self.maps)

    def table(self, what: str = "progress", pathway: str | None = None) -> pd.DataFrame:
        """Wide table: one row per pathway step, one column per area, cells ``what`` (progress or confidence)."""
        if what not in ("progress", "confidence"):
            raise ValueError(f"what must be 'progress' or 'confidence', not {what!r}")
        r = self.ratings if pathway is None else self.ratings[self.ratings["pathway"] == pathway]
        wide = r.pivot_table(index=["pathway", "column", "step"], columns="area", values=what, aggfunc="first",
                             sort=False)
        return wide[[a for a in self.areas if a in wide.columns]]

    def summary(self) -> pd.DataFrame:
        """Per area: how many pathway steps have each progress rating, and how many have high confidence."""
        r = self.ratings
        counts = pd.crosstab(pd.Categorical(r["area"], self.areas),
                             pd.Categorical(r["progress"], list(PROGRESS)), dropna=False)
        counts.index.name, counts.columns.name = "area", "progress"
        counts["high confidence"] = r.groupby("area", sort=False)["confidence"].apply(
            lambda s: int((s == "high").sum())).reindex(self.areas).to_numpy()
        return counts

    def plot(self, pathway: str | None = None, ax=None):
        """Heat map of progress by pathway step (rows) and area (columns), with confidence initials."""
        return _plot_rollup(self, pathway=pathway, ax=ax)


def rollup(omap: OutcomeMap, study, areas: Iterable[str] | None = None,
           rubric: Rubric | str | Path | None = None, year: int | None = None) -> MapRollup:
    """Rate a map for Wales and for each local authority.

    Wales is rated from all episodes pooled (not by averaging authorities), so
    its confidence reflects the whole sample.

    Parameters
    ----------
    omap : OutcomeMap
    study : Study
    areas : iterable of str, optional
        Areas to rate ("Wales" and/or authority names or aliases). Default
        Wales and every authority with an episode in the study, in the
        standard order.
    rubric : Rubric or path, optional
    year : int, optional
        Rate every area for one financial year (see :meth:`OutcomeMap.rate`).

    Examples
    --------
    >>> import longitudinal as lg
    >>> m = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("supporting_people"))
    >>> r = lg.rollup(m, lg.simulate(people=300, seed=2), areas=["Wales", "Cardiff"])
    >>> r.areas
    ['Wales', 'Cardiff']
    """
    rubric = _as_rubric(rubric)
    if areas is None:
        present = set(study.episodes["local_authority"].astype(str))
        areas = ["Wales"] + [la for la in domain.LA_NAMES if la in present]
    else:
        areas = ["Wales" if a == "Wales" else domain.local_authority(a) for a in areas]
    # one analysis table per outcome for Wales, cut per authority: the joins are done once
    if year is not None:
        study = study.in_financial_year(_check_year(year, study))
    memo = _MemoStudy.of(study)
    maps = {a: omap.rate(memo, rubric, area=a) for a in areas}
    for m in maps.values():
        m.financial_year = None if year is None else int(year)
    ratings = pd.concat([m.ratings_ for m in maps.values()], ignore_index=True)
    values = pd.concat([m.indicator_values_ for m in maps.values()], ignore_index=True)
    return MapRollup(maps, ratings, values)


# ================================================================== shipped maps
def shipped_map_path(name: str) -> Path:
    """Path of a shipped map (``"pa_programme_board"``, ``"supporting_people"``) or ``"rubric"``."""
    path = MAPS_DIR / f"{name}.yaml"
    if not path.exists():
        have = sorted(p.stem for p in MAPS_DIR.glob("*.yaml")) if MAPS_DIR.is_dir() else []
        raise FileNotFoundError(f"no shipped map {name!r} in {MAPS_DIR}; available: {', '.join(have) or 'none'} "
                                "(shipped maps come with a source checkout)")
    return path


# ===================================================================== rendering
#: Fill per progress rating (traffic light) and text colour that reads on it.
PROGRESS_COLOURS: dict[str, tuple[str, str]] = {
    "good": ("#4caf50", "black"),
    "some": ("#ffc107", "black"),
    "low": ("#ff8a3d", "black"),
    "no": ("#d32f2f", "white"),
    "n/a": ("#e6e6e6", "black"),
}
#: Border per confidence rating: (line style, width, colour).
CONFIDENCE_BORDERS: dict[str, tuple[str, float, str]] = {
    "high": ("solid", 2.6, "#1a1a1a"),
    "medium": ("dashed", 1.8, "#1a1a1a"),
    "low": ("dotted", 1.6, "#1a1a1a"),
    "n/a": ("solid", 0.7, "#9e9e9e"),
}
_SAVE_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def _resolve_pathway(omap: OutcomeMap, pathway) -> tuple[int, Pathway] | None:
    if pathway is None:
        return None
    if isinstance(pathway, (int, np.integer)) and not isinstance(pathway, bool):
        if not 0 <= pathway < len(omap.pathways):
            raise IndexError(f"pathway index {pathway} out of range (the map has {len(omap.pathways)})")
        return int(pathway), omap.pathways[int(pathway)]
    p = omap.pathway(pathway)
    return omap.pathways.index(p), p


def _badge(ps: PathwayStep) -> str:
    prog, conf, basis = ps.rating
    extra = {"override": " | manual override", "evidence": " | from data"}.get(basis, "")
    return f"Progress: {prog} | Confidence: {conf}{extra}"


def _where(omap: OutcomeMap) -> str:
    """`` (Cardiff, 2025-26)``: the area and financial year a map was rated for."""
    parts = [omap.area] if omap.area else []
    if getattr(omap, "financial_year", None) is not None:
        parts.append(domain.fy_label(omap.financial_year))
    return f" ({', '.join(parts)})" if parts else ""


def _map_card(omap: OutcomeMap, column: str, text: str, ratings: bool) -> dict:
    """A step's card on the whole map: the pathways it is on and, with ``ratings``, their ratings."""
    on = [(i, q) for i, p in enumerate(omap.pathways) for q in p.steps.get(column, []) if q.step == text]
    plain = {"text": text, "face": "#ffffff", "fg": "black", "border": ("solid", 0.8, "#616161")}
    if not on:
        return {**plain, "badge": "No pathway"}
    nums = ", ".join(str(i + 1) for i, _ in on)
    if not ratings:
        return {**plain, "badge": f"Pathways: {nums}"}
    rated = {q.rating[:2] for _, q in on}
    if len(rated) == 1:
        prog, conf = next(iter(rated))
        face, fg = PROGRESS_COLOURS[prog]
        return {"text": text, "face": face, "fg": fg, "border": CONFIDENCE_BORDERS[conf],
                "badge": f"Pathways: {nums} | {_badge(on[0][1])}"}
    each = "; ".join(f"pathway {i + 1}: progress {q.rating[0]}, confidence {q.rating[1]}" for i, q in on)
    return {**plain, "badge": each}


def _plot(omap: OutcomeMap, pathway=None, ax=None, wrap: int = 30, fontsize: float = 7.5, ratings: bool = True):
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    chosen = _resolve_pathway(omap, pathway)
    ncol = len(omap.columns)
    cards: dict[str, list[dict]] = {}
    for c in omap.columns:
        cards[c] = []
        if chosen is None:
            for s in omap.steps.get(c, []):
                cards[c].append(_map_card(omap, c, s.text, ratings))
        else:
            p = chosen[1]
            if p.summaries.get(c):
                cards[c].append({"text": p.summaries[c], "badge": "Summary", "face": "#f3f3f3", "fg": "#333333",
                                 "border": ("solid", 0.5, "#bdbdbd"), "italic": True})
            for ps in p.steps.get(c, []):
                prog, conf, _ = ps.rating
                face, fg = PROGRESS_COLOURS[prog]
                cards[c].append({"text": ps.step, "badge": _badge(ps), "face": face, "fg": fg,
                                 "border": CONFIDENCE_BORDERS[conf]})
    # layout in "line" units: one unit = one line of text
    pad, gap = 0.8, 0.5
    heights = {}
    for c in omap.columns:
        y = len(textwrap.wrap(c, wrap)) + pad + gap
        for card in cards[c]:
            card["lines"] = textwrap.wrap(card["text"], wrap) or [""]
            card["badge_lines"] = textwrap.wrap(card["badge"], int(wrap * 1.15)) or [""]
            card["h"] = len(card["lines"]) + 0.9 * len(card["badge_lines"]) + pad
            y += card["h"] + gap
        heights[c] = y
    if chosen is None:
        title2 = "Outcome map" + _where(omap)
        notes = [f"Pathway {i + 1}: {p.name}" for i, p in enumerate(omap.pathways)]
    else:
        i, p = chosen
        title2 = f"Pathway {i + 1}: {p.name}" + _where(omap)
        notes = []
    head_lines = textwrap.wrap(title2, int(wrap * ncol * 0.8))
    note_lines = [ln for n in notes for ln in textwrap.wrap(n, int(wrap * ncol * 1.1))]
    top = 2.2 + 1.4 * len(head_lines) + len(note_lines) + 0.6
    legend = chosen is not None or (ratings and bool(omap.pathways))
    legend_h = 4.0 if legend else 0.0
    body = max(heights.values()) if heights else 1.0
    unit_in = 1.3 * fontsize / 72
    col_in = wrap * fontsize * 0.58 / 72 + 0.35
    if ax is None:
        fig = Figure(figsize=(ncol * col_in + 0.3, (top + body + legend_h) * unit_in + 0.2))
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        fig = ax.figure
    ax.set_xlim(-0.04, ncol + 0.04)
    ax.set_ylim(top + body + legend_h, -0.2)
    ax.set_axis_off()
    ax.text(0.01, 0.3, omap.title, fontsize=fontsize + 4, fontweight="bold", va="top", ha="left")
    y = 2.2
    for ln in head_lines:
        ax.text(0.01, y, ln, fontsize=fontsize + 2.5, va="top", ha="left")
        y += 1.4
    for ln in note_lines:
        ax.text(0.01, y, ln, fontsize=fontsize, va="top", ha="left", color="#333333")
        y += 1
    w = 0.94
    for j, c in enumerate(omap.columns):
        x0 = j + 0.03
        y = top
        hl = textwrap.wrap(c, wrap)
        ax.add_patch(Rectangle((x0, y), w, len(hl) + pad, facecolor="#263238", edgecolor="none"))
        ax.text(x0 + 0.03, y + pad / 2, "\n".join(hl), color="white", fontsize=fontsize + 0.5, fontweight="bold",
                va="top", ha="left", linespacing=1.15)
        y += len(hl) + pad + gap
        for card in cards[c]:
            ls, lw, ec = card["border"]
            ax.add_patch(Rectangle((x0, y), w, card["h"], facecolor=card["face"], edgecolor=ec, linestyle=ls,
                                   linewidth=lw))
            ax.text(x0 + 0.03, y + pad / 2, "\n".join(card["lines"]), color=card["fg"], fontsize=fontsize,
                    va="top", ha="left", linespacing=1.15, fontstyle="italic" if card.get("italic") else "normal")
            ax.text(x0 + 0.03, y + pad / 2 + len(card["lines"]) + 0.1, "\n".join(card["badge_lines"]),
                    color=card["fg"], fontsize=fontsize - 1, fontweight="bold", va="top", ha="left",
                    linespacing=1.1)
            y += card["h"] + gap
    if legend:
        handles = [Patch(facecolor=PROGRESS_COLOURS[k][0], edgecolor="#616161", label=f"Progress: {k}")
                   for k in PROGRESS]
        handles += [Line2D([], [], linestyle=CONFIDENCE_BORDERS[k][0], linewidth=CONFIDENCE_BORDERS[k][1],
                           color=CONFIDENCE_BORDERS[k][2], label=f"Confidence: {k}") for k in CONFIDENCE]
        ax.legend(handles=handles, loc="lower center", ncol=5, fontsize=fontsize, frameon=False,
                  handlelength=3, bbox_to_anchor=(0.5, 0.0))
    return fig


def _plot_rollup(r: MapRollup, pathway=None, ax=None):
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    prog = r.table("progress", pathway)
    conf = r.table("confidence", pathway)
    codes = prog.apply(lambda s: s.map(PROGRESS.index)).to_numpy(dtype=float)
    nrow, ncol = codes.shape
    labels = [textwrap.shorten(f"{p[:22]} | {c[:14]} | {s}", 70, placeholder="...") for p, c, s in prog.index]
    if ax is None:
        fig = Figure(figsize=(4.5 + 0.38 * ncol, 1.8 + 0.22 * nrow))
        ax = fig.add_axes((0.42, 0.16, 0.56, 0.76)) if ncol > 1 else fig.add_subplot()
    else:
        fig = ax.figure
    cmap = ListedColormap([PROGRESS_COLOURS[k][0] for k in PROGRESS])
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=len(PROGRESS) - 0.5, aspect="auto", interpolation="nearest")
    initials = {"high": "H", "medium": "M", "low": "L", "n/a": ""}
    for i in range(nrow):
        for j in range(ncol):
            ax.text(j, i, initials.get(conf.iat[i, j], ""), ha="center", va="center", fontsize=6,
                    color=PROGRESS_COLOURS[prog.iat[i, j]][1] if isinstance(prog.iat[i, j], str) else "black")
    ax.set_xticks(range(ncol), list(prog.columns), rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(nrow), labels, fontsize=6)
    title = "Progress by area" + (f": {pathway}" if pathway else "") + " (letters: confidence H/M/L)"
    ax.set_title(title, fontsize=9)
    ax.legend(handles=[Patch(facecolor=PROGRESS_COLOURS[k][0], label=k) for k in PROGRESS], ncol=5, fontsize=6,
              loc="upper center", bbox_to_anchor=(0.5, -0.02 - 1.2 / max(nrow, 1)), frameon=False)
    return fig


def _cls(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "x"


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;font-size:14px;color:#1a1a1a;margin:1.5em}
table.omap{border-collapse:collapse;width:100%;table-layout:fixed;margin-bottom:1.5em}
table.omap th{background:#263238;color:#fff;text-align:left;padding:6px;vertical-align:top}
table.omap td{border:1px solid #ccc;padding:6px;vertical-align:top}
td.summary{background:#f3f3f3;font-style:italic}
div.step{margin:0 0 8px 0;padding:6px;border-radius:3px}
div.step p{margin:0 0 4px 0}
.progress-good{background:#4caf50}.progress-some{background:#ffc107}.progress-low{background:#ff8a3d}
.progress-no{background:#d32f2f;color:#fff}.progress-n-a{background:#e6e6e6}
.confidence-high{border:3px solid #1a1a1a}.confidence-medium{border:2px dashed #1a1a1a}
.confidence-low{border:2px dotted #1a1a1a}.confidence-n-a{border:1px solid #9e9e9e}
p.rating{font-weight:bold;font-size:12px}
details{font-size:12px}
.empty{color:#777}
"""


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _step_details_html(ps: PathwayStep) -> str:
    parts = []
    _, _, basis = ps.rating
    if ps.reason:
        parts.append(f"<p><b>Reason for manual rating:</b> {_esc(ps.reason)}</p>")
    if ps.computed is not None:
        items = "".join(f"<li>{_esc(_value_label(v))}: progress {_esc(r[0])}, confidence {_esc(r[1])}</li>"
                        for v, r in zip(ps.computed.values, ps.computed.ratings))
        parts.append(f"<p><b>Indicators</b></p><ul>{items}</ul>")
    if ps.analysis:
        parts.append(f"<p><b>Analysis:</b> {_esc(ps.analysis)}</p>")
    if ps.evidence:
        items = []
        for e in ps.evidence:
            where = ""
            if e.link:
                where = f' (<a href="{_esc(e.link)}">{_esc(e.link)}</a>)'
            elif e.file:
                where = f" (file: {_esc(e.file)})"
            items.append(f"<li>{_esc(e.source)}: {_esc(e.description)}{where}"
                         + (f", {_esc(e.date)}" if e.date else "") + "</li>")
        parts.append(f"<p><b>Evidence</b></p><ul>{''.join(items)}</ul>")
    for k in ("assumptions", "risks"):
        vals = getattr(ps, k)
        if vals:
            parts.append(f"<p><b>{k.capitalize()}</b></p><ul>{''.join(f'<li>{_esc(v)}</li>' for v in vals)}</ul>")
    if not parts:
        return ""
    return f"<details><summary>Case ({_esc(basis)})</summary>{''.join(parts)}</details>"


def _to_html(omap: OutcomeMap, full_document: bool = True) -> str:
    out = []
    title = omap.title + (f" ({omap.area})" if omap.area else "")
    out.append(f"<h1>{_esc(title)}</h1>")
    if omap.description:
        out.append(f"<p>{_esc(omap.description)}</p>")
    if omap.source:
        out.append(f'<p class="source">Source: {_esc(omap.source)}</p>')
    head = "<thead><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in omap.columns) + "</tr></thead>"
    out.append("<h2>Outcome map</h2>")
    nrows = max((len(omap.steps.get(c, [])) for c in omap.columns), default=0)
    rows = []
    for i in range(nrows):
        cells = []
        for c in omap.columns:
            col = omap.steps.get(c, [])
            cells.append(f"<td>{_esc(col[i].text)}</td>" if i < len(col) else "<td></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    out.append(f'<table class="omap map">{head}<tbody>{"".join(rows)}</tbody></table>')
    for i, p in enumerate(omap.pathways, 1):
        out.append(f'<h2 id="pathway-{i}">Pathway {i}: {_esc(p.name)}</h2>')
        if p.description:
            out.append(f"<p>{_esc(p.description)}</p>")
        if p.notes:
            out.append(f'<p class="notes"><i>Note:</i> {_esc(p.notes)}</p>')
        summ = "".join(f'<td class="summary">{_esc(p.summaries[c])}</td>' if p.summaries.get(c)
                       else '<td class="summary"><span class="empty">No summary yet</span></td>'
                       for c in omap.columns)
        cells = []
        for c in omap.columns:
            divs = []
            for ps in p.steps.get(c, []):
                prog, conf, _ = ps.rating
                divs.append(f'<div class="step progress-{_cls(prog)} confidence-{_cls(conf)}">'
                            f'<p class="text">{_esc(ps.step)}</p>'
                            f'<p class="rating">{_esc(_badge(ps))}</p>{_step_details_html(ps)}</div>')
            cells.append(f"<td>{''.join(divs)}</td>")
        out.append(f'<table class="omap pathway">{head}<tbody><tr>{summ}</tr><tr>{"".join(cells)}</tr>'
                   "</tbody></table>")
    legend = " ".join(f'<span class="step progress-{_cls(k)}" style="padding:2px 6px">{_esc(k)}</span>'
                      for k in PROGRESS)
    legend2 = " ".join(f'<span class="confidence-{_cls(k)}" style="padding:2px 6px">{_esc(k)}</span>'
                       for k in CONFIDENCE)
    out.append(f"<p>Progress: {legend}</p><p>Confidence (border): {legend2}</p>")
    body = "\n".join(out)
    if not full_document:
        return f'<div class="outcome-map"><style>{_CSS}</style>\n{body}\n</div>\n'
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _md(x) -> str:
    return str(x).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def _to_markdown(omap: OutcomeMap) -> str:
    title = omap.title + (f" ({omap.area})" if omap.area else "")
    out = [f"# {_md(title)}", ""]
    if omap.description:
        out += [omap.description, ""]
    if omap.source:
        out += [f"Source: {omap.source}", ""]
    head = "| " + " | ".join(_md(c) for c in omap.columns) + " |"
    sep = "|" + "---|" * len(omap.columns)
    out += ["## Outcome map", "", head, sep]
    nrows = max((len(omap.steps.get(c, [])) for c in omap.columns), default=0)
    for i in range(nrows):
        out.append("| " + " | ".join(_md(omap.steps[c][i].text) if i < len(omap.steps.get(c, [])) else ""
                                     for c in omap.columns) + " |")
    out.append("")
    for i, p in enumerate(omap.pathways, 1):
        out += [f"## Pathway {i}: {_md(p.name)}", ""]
        if p.description:
            out += [p.description, ""]
        if p.notes:
            out += [f"*Note:* {p.notes}", ""]
        out += [head, sep]
        out.append("| " + " | ".join(f"*Summary:* {_md(p.summaries[c])}" if p.summaries.get(c) else "*No summary yet*"
                                     for c in omap.columns) + " |")
        n = max(len(p.steps.get(c, [])) for c in omap.columns)
        for k in range(n):
            cells = []
            for c in omap.columns:
                col = p.steps.get(c, [])
                if k < len(col):
                    prog, conf, basis = col[k].rating
                    cells.append(f"{_md(col[k].step)}<br>Progress: **{prog}** · Confidence: **{conf}**")
                else:
                    cells.append("")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        details = []
        for c in omap.columns:
            for ps in p.steps.get(c, []):
                prog, conf, basis = ps.rating
                lines = []
                if ps.reason:
                    lines.append(f"  - Reason for manual rating: {ps.reason}")
                if ps.computed is not None:
                    for v, r in zip(ps.computed.values, ps.computed.ratings):
                        lines.append(f"  - Indicator: {_value_label(v)} → progress {r[0]}, confidence {r[1]}")
                if ps.analysis:
                    lines.append(f"  - Analysis: {ps.analysis.strip()}".replace("\n", " "))
                for e in ps.evidence:
                    where = f" ({e.link})" if e.link else f" (file: {e.file})" if e.file else ""
                    when = f", {e.date}" if e.date else ""
                    lines.append(f"  - Evidence: {e.source}: {e.description}{where}{when}")
                lines += [f"  - Assumption: {a}" for a in ps.assumptions]
                lines += [f"  - Risk: {r}" for r in ps.risks]
                if lines:
                    details.append(f"- **{c}: {ps.step}**: progress {prog}, confidence {conf} ({basis})")
                    details += lines
        if details:
            out += [f"### The case for each step of pathway {i}", ""] + details + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _save(fig, path: Path) -> Path:
    import matplotlib as mpl

    fmt = path.suffix.lstrip(".").lower()
    if fmt not in _SAVE_METADATA:
        raise ValueError(f"unsupported figure format {fmt!r}; expected one of: {', '.join(_SAVE_METADATA)}")
    # fixed salt and no dates or versions, so the same map gives the same bytes
    with mpl.rc_context({"svg.hashsalt": "longitudinal-outcome-map", "pdf.compression": 6}):
        fig.savefig(path, format=fmt, dpi=150, metadata=_SAVE_METADATA[fmt])
    return path


def _render(omap: OutcomeMap, out: str | Path, formats: Iterable[str] = ("png",)) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    formats = [f.lower().lstrip(".") for f in formats]
    bad = [f for f in formats if f not in _SAVE_METADATA]
    if bad:
        raise ValueError(f"unsupported figure format(s) {bad}; expected some of: {', '.join(_SAVE_METADATA)}")
    written: dict[str, Path] = {}
    for fmt in formats:
        written[f"map.{fmt}"] = _save(_plot(omap), out / f"map.{fmt}")
        for i, p in enumerate(omap.pathways):
            name = f"pathway-{i + 1:02d}-{domain.slug(p.name)[:60]}.{fmt}"
            written[name] = _save(_plot(omap, i), out / name)
    (out / "map.html").write_text(_to_html(omap), encoding="utf-8")
    written["map.html"] = out / "map.html"
    (out / "map.md").write_text(_to_markdown(omap), encoding="utf-8")
    written["map.md"] = out / "map.md"
    if omap.ratings_ is not None:
        write_csv(omap.ratings_, out / "ratings.csv")
        write_csv(omap.indicator_values_, out / "indicator_values.csv")
        written["ratings.csv"], written["indicator_values.csv"] = out / "ratings.csv", out / "indicator_values.csv"
    return written
