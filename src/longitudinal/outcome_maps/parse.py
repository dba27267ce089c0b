"""Reading an outcome map: YAML with the line of every node, and every rule checked at once.

Errors name the file, line, pathway, column and step, and one run reports them all
(:class:`~.model.OutcomeMapError`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .. import domain, indicators
from ..rubric import CONFIDENCE, PROGRESS, RubricError, Thresholds
from .model import (
    COLUMNS,
    MAX_STEP_LENGTH,
    PERSONAL_COLUMNS,
    Evidence,
    IndicatorLink,
    OutcomeMapError,
    Pathway,
    PathwayStep,
    Step,
)

__all__ = ["read_source", "parse_map"]

_PROGRESS_ALIASES = {**{p: p for p in PROGRESS}, **{f"{p} progress": p for p in PROGRESS[:4]},
                     "na": "n/a", "not applicable": "n/a"}
_CONFIDENCE_ALIASES = {**{c: c for c in CONFIDENCE}, **{f"{c} confidence": c for c in CONFIDENCE[:3]},
                       "na": "n/a", "not applicable": "n/a"}
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class _Problems:
    """Collects problems with their place in the file, so one run reports them all."""

    def __init__(self, file: str | None, lines: dict[tuple, int]):
        self.file, self.lines = file, lines
        self.items: list[dict] = []

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



def read_source(source: str | Path) -> tuple[Any, dict, str | None]:
    """``(data, line of each node, file name)`` of a map's YAML file or text.

    Raises
    ------
    OutcomeMapError
        With ``unreadable = True`` when the file cannot be read or is not YAML.
    """
    try:
        return _read_yaml(source)
    except _Unreadable as e:
        err = OutcomeMapError([{"message": str(e)}])
        err.unreadable = True  # type: ignore[attr-defined]
        raise err from None


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
                for row in indicators.available().to_dict("records")}
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
        required = [k for k, prm in indicators.signature(name).parameters.items()
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


def parse_map(data, lines: dict, file: str | None) -> dict[str, Any]:
    """The fields of an :class:`~.document.OutcomeMap` from a map's data, checked against every rule.

    Raises
    ------
    OutcomeMapError
        Listing every problem, each with its file, line, pathway, column and step.
    """
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
                ps = _pathway_step(item, probs, cp + (i,), name, col, by_text[col])
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
    return {"title": title, "columns": columns, "steps": steps, "pathways": pathways,
            "description": _text(data.get("description"), "description", probs, (), required=False),
            "source": _text(data.get("source"), "source", probs, (), required=False)}


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

