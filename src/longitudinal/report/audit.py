"""The disclosure audit of a year's publication: what a reader can work out from the published tables alone.

``longitudinal audit reports/<year>`` reads what was published for every area of
a batch — each ``<area>/tables/<name>.csv`` and the disclosure declaration written
beside it (``<name>.meta.json``: which columns are counts, how they add up, what
each share, mean or curve point is about, which cells count the same people as
cells of other tables) — and nothing else. It turns the declarations into linear
relations among the published and the hidden values:

* margins within a table (:class:`~longitudinal.disclosure.Total`) and counts that
  are parts of another (:class:`~longitudinal.disclosure.Sum`: the rest is a count too);
* the same population counted in several tables of an area
  (:class:`~longitudinal.disclosure.Same`), and across the areas: Wales is the sum
  of the 22 authorities (for people, less those counted in two authorities — an
  unpublished count, audited too);
* counts implied by a share ``p`` of ``n`` (``n·p`` and ``n·(1 − p)``), by a mean of
  a bounded score (``n·(mean − lo)`` and ``n·(hi − mean)``), by the parts of a base
  (improved / same / worse) and by the points of a curve (the difference of two
  points), allowing for the rounding of the published figure;

and finds, by linear programming (HiGHS, through :func:`scipy.optimize.linprog`),
the smallest and largest value each hidden or rounded value can take given all of
them at once. Counts are whole numbers, so their ranges are narrowed to whole numbers.

A value fails the audit when

* ``recovered``: it is pinned down to a single value from 1 to ``threshold - 1``;
* ``bounded``: it is shown to lie within 1 to ``threshold - 1`` (a ``<5`` marker says
  so itself, so this is not counted against primary-suppressed cells);
* ``narrowed`` / ``narrow``: when the method promises a width (``min_width`` of the
  declared protection), a ``<5`` cell narrowed below it (or below its marker's range), or
  a hidden (``[c]``) or rounded count pinned to a range narrower than it;
* ``shown``: a published count is 1 to ``threshold - 1``;
* ``undeclared``: a table was published without its declaration;
* ``inconsistent``: the published values break a declared relation (the declaration is
  wrong, so nothing can be vouched for).

Exit statuses of the command: 0 passed, 1 failed (each failure named by area, table,
row and column), 2 the folder is not a batch's output for one year.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .. import domain
from ..domain import WALES
from ..errors import EXIT_INPUT, InputError
from . import protect as dc

__all__ = ["AuditError", "Finding", "AuditResult", "audit_year", "run_audit_cli"]

#: How a count may add up over the areas other than exactly (:class:`~longitudinal.report.protect.Same`), and
#: the unpublished count that makes the difference.
ACROSS_GAP = {"people": "people counted in more than one authority",
              "at_most": "counted in an authority's count and not in Wales's",
              "at_least": "counted in Wales's count and not in an authority's"}
#: Kinds of failure, worst first.
KINDS = ("undeclared", "inconsistent", "shown", "recovered", "bounded", "narrowed", "narrow")
_TOL = 1e-6


class AuditError(InputError):
    """The folder is not the output of a batch for one year (nothing to audit)."""


@dataclass(frozen=True)
class Finding:
    """One value a reader can work out too well."""

    area: str
    table: str
    row: str
    column: str
    kind: str
    lo: float
    hi: float
    what: str

    @property
    def message(self) -> str:
        if self.kind == "undeclared" or math.isnan(self.lo):
            return f"{self.area} / {self.table}: {self.what}"
        rng = f"exactly {_num(self.lo)}" if self.lo == self.hi else f"between {_num(self.lo)} and {_num(self.hi)}"
        text = {"recovered": "is recovered", "bounded": "is shown to be small", "narrowed": "is narrowed",
                "narrow": "is pinned too closely", "shown": "is shown",
                "inconsistent": "breaks its declared relation"}[self.kind]
        return (f"{self.area} / {self.table} / row {self.row!r}, column {self.column!r}: {self.what} {text}: "
                f"{rng}")


def _num(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}"


@dataclass
class AuditResult:
    """The audit of one year's published output.

    Attributes
    ----------
    folder : Path
    areas : list of str
        The areas read.
    tables : int
        Tables read.
    unknowns, relations, targets : int
        Size of the problem: hidden or rounded values, linear relations, values whose range was computed.
    findings : list of Finding
        The failures (empty when the output passes).
    seconds : float
    """

    folder: Path
    areas: list[str]
    tables: int
    unknowns: int
    relations: int
    targets: int
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    #: The protections the tables declare (each distinct one once).
    protection: list = field(default_factory=list)
    #: Linear programmes solved.
    solves: int = 0
    #: How the audited values were settled: ``bounds`` (their unknowns' own bounds keep them clear), ``points``
    #: (feasible points shared by a group showed them clear), ``ranged`` (their own linear programmes),
    #: ``whole`` (whole-number programmes too); ``mip_solves``: whole-number programmes solved.
    work: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in KINDS}
        for f in self.findings:
            out[f.kind] += 1
        return out

    def summary(self, limit: int = 40) -> str:
        head = (f"Disclosure audit of {self.folder}: {len(self.areas)} area(s), {self.tables} tables, "
                f"{self.unknowns} unknowns, {self.relations} relations, {self.targets} values audited "
                f"({self.solves} linear programmes) in {self.seconds:.1f} s.")
        if self.passed:
            return head + "\nPASSED: no hidden count can be worked out more closely than the protection promises."
        c = self.counts()
        lines = [head, "FAILED: " + ", ".join(f"{n} {k}" for k, n in c.items() if n)]
        order = {k: i for i, k in enumerate(KINDS)}
        for f in sorted(self.findings, key=lambda f: (order[f.kind], f.area, f.table))[:limit]:
            lines.append("  " + f.message)
        if len(self.findings) > limit:
            lines.append(f"  ... and {len(self.findings) - limit} more (all in audit.json)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"folder": str(self.folder), "passed": self.passed, "areas": self.areas, "tables": self.tables,
                "unknowns": self.unknowns, "relations": self.relations, "targets": self.targets, "solves": self.solves,
                "work": self.work,
                "seconds": round(self.seconds, 2), "counts": self.counts(), "protection": self.protection,
                "findings": [{**asdict(f), "message": f.message} for f in self.findings]}


# ------------------------------------------------------------------ reading
@dataclass
class _Table:
    area: str
    name: str
    data: pd.DataFrame  # every cell a string ("" = blank)
    decl: dict

    @cached_property
    def protection(self) -> _Protection:
        return _Protection.read(self.decl["protection"])

    def labels(self) -> list[str]:
        col = self.decl["label_column"]
        return list(self.data[col]) if col is not None else [str(i) for i in range(len(self.data))]


def _read_batch(folder: Path) -> tuple[list[str], list[_Table], list[str]]:
    """Every area's published tables with their declarations; also the tables published without one."""
    if not folder.is_dir():
        raise AuditError(f"{folder}: no such folder (expected a year's output, e.g. reports/2025)")
    areas, tables, undeclared = [], [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        mf = sub / "manifest.json"
        if not mf.is_file() or not (sub / "tables").is_dir():
            continue
        try:
            m = json.loads(mf.read_text())
            area = str(m["area"])
        except (ValueError, KeyError) as exc:
            raise AuditError(f"{mf}: not a report manifest ({exc})") from exc
        if str(m.get("financial_year")) != folder.name:
            raise AuditError(f"{mf} is for financial year {m.get('financial_year')}, not {folder.name}: "
                             "the folder does not hold one year's output")
        areas.append(area)
        for csv in sorted((sub / "tables").glob("*.csv")):
            meta = csv.with_suffix(".meta.json")
            if not meta.is_file():
                undeclared.append(f"{area} / {csv.stem}")
                continue
            decl = dc.declaration_from_json(json.loads(meta.read_text()))
            data = pd.read_csv(csv, dtype=str, keep_default_na=False)
            tables.append(_Table(area, csv.stem, data, decl))
    if not areas:
        raise AuditError(f"{folder}: not a batch's output for one year (no <area>/manifest.json with tables/); "
                         "run `longitudinal report annual` first and audit <out>/<year>")
    return areas, tables, undeclared


# ---------------------------------------------------------------- the model
@dataclass
class _Var:
    lo: float
    hi: float
    integer: bool


@dataclass
class _Target:
    expr: tuple  # ({var: coef}, const)
    area: str
    table: str
    row: str
    column: str
    what: str
    kind: str  # primary, hidden, rounded, derived (a count worked out from published figures)
    integer: bool
    signed: bool = False  # a difference: small in either direction
    #: What the table's protection promises: the narrowest range allowed (None: no promise), and the range
    #: the marker of a primary-suppressed cell tells.
    width: float | None = None
    marker: tuple = (1.0, 4.0)


@dataclass(frozen=True)
class _Protection:
    """A table's declared protection, read: what each marker tells, how far a published count may be off."""

    markers: dict
    error: float  # |published - true| at most, for a count shown as a number
    width: float | None

    @classmethod
    def read(cls, p: dict) -> _Protection:
        markers = {m: (float(r[0] if r[0] is not None else 0), math.inf if r[1] is None else float(r[1]))
                   for m, r in (p.get("markers") or {}).items()}
        base = int(p.get("rounding_base", 1) or 1)
        error = p.get("rounding_error")
        error = float(error) if error is not None else float((base - 1) // 2)
        width = p.get("min_width")
        return cls(markers, error, None if width is None else float(width))


class _Model:
    """Unknowns, linear relations ``lo <= sum(coef * x) <= hi`` and the values whose ranges are wanted."""

    def __init__(self, threshold: int) -> None:
        self.vars: list[_Var] = []
        self.rows: list[tuple[dict, float, float, str]] = []
        self.targets: list[_Target] = []
        self.cells: dict[tuple, tuple] = {}
        self.threshold = threshold
        self.inconsistent: list[Finding] = []
        self.shown: list[Finding] = []
        self.audited: set[int] = set()

    def var(self, lo=0.0, hi=math.inf, integer=True) -> int:
        self.vars.append(_Var(lo, hi, integer))
        return len(self.vars) - 1

    def relate(self, expr, lo: float, hi: float, why: tuple) -> None:
        """``lo <= expr <= hi``; a relation among published values only is checked at once."""
        coefs, const = expr
        coefs = {k: v for k, v in coefs.items() if v != 0}
        lo, hi = lo - const, hi - const
        if not coefs:
            if lo > _TOL * max(1.0, abs(const)) or hi < -_TOL * max(1.0, abs(const)):
                area, table, row, column, what = why
                self.inconsistent.append(Finding(area, table, row, column, "inconsistent", -const, -const, what))
            return
        self.rows.append((coefs, lo, hi, why))

    def target(self, expr, why: tuple, kind: str, integer: bool, signed: bool = False,
               protection: _Protection | None = None) -> None:
        coefs, const = expr
        if kind == "derived" and const == 0 and list(coefs.values()) == [1.0] and next(iter(coefs)) in self.audited:
            return  # the very value of a cell or figure audited in its own right
        if len(coefs) == 1 and const == 0 and list(coefs.values()) == [1.0]:
            self.audited.add(next(iter(coefs)))
        extra = {} if protection is None else {"width": protection.width, "marker": protection.markers.get(
            dc.PRIMARY, (1.0, self.threshold - 1.0))}
        self.targets.append(_Target(expr, *why, kind=kind, integer=integer, signed=signed, **extra))


def _add(*exprs, coefs=None):
    """Sum of expressions, each optionally scaled (``coefs``)."""
    out: dict[int, float] = defaultdict(float)
    const = 0.0
    for e, k in zip(exprs, coefs or [1.0] * len(exprs)):
        for v, c in e[0].items():
            out[v] += k * c
        const += k * e[1]
    return dict(out), const


def _const(x: float):
    return {}, float(x)


def _number(s: str) -> float | None:
    try:
        v = float(s.replace(",", ""))
    except (ValueError, AttributeError):
        return None
    return v if math.isfinite(v) else None


class _Builder:
    """Turns each table's declaration into relations of the model."""

    def __init__(self, model: _Model) -> None:
        self.m = model
        self.keys: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))  # area -> key -> cells
        self.across: dict[str, str] = {}

    # -- cells
    def cell(self, t: _Table, i: int, col: str, label: str):
        """A count cell as an expression (a constant when published exactly); ``None`` when blank."""
        key = (t.area, t.name, i, col)
        if key in self.m.cells:
            return self.m.cells[key]
        s = str(t.data[col].iat[i]).strip()
        why = (t.area, t.name, label, col, "hidden count")
        expr = None
        p = t.protection
        if s in p.markers:
            lo, hi = p.markers[s]
            v = self.m.var(lo, hi)
            expr = ({v: 1.0}, 0.0)
            kind = "primary" if s == dc.PRIMARY else "hidden"
            self.m.target(expr, why[:4] + (f"count shown as {s}",), kind, True, protection=p)
        elif s != "":
            x = _number(s)
            if x is None:
                raise AuditError(f"{t.area} / {t.name}: row {label!r}, column {col!r} holds {s!r}, "
                                 "not a count or a disclosure marker")
            if p.error:  # rounded: the true count is anywhere within the error of what is shown
                v = self.m.var(max(0.0, x - p.error), x + p.error)
                expr = ({v: 1.0}, 0.0)
                self.m.target(expr, why[:4] + (f"count rounded to {_num(x)}",), "rounded", True, protection=p)
            else:
                expr = _const(x)
                if 1 <= x < self.m.threshold:
                    self.m.shown.append(Finding(t.area, t.name, label, col, "shown", x, x, "published count"))
        self.m.cells[key] = expr
        return expr

    def blankable(self, t: _Table, i: int, col: str, label: str):
        """A count cell, or an unknown (not audited) where the cell is blank."""
        e = self.cell(t, i, col, label)
        return e if e is not None else ({self.m.var(): 1.0}, 0.0)

    def _rows_of(self, t: _Table, cell, labels):
        """``[(row index, column)]`` of a declared cell: a column (every row) or (row label, column)."""
        if isinstance(cell, tuple):
            row, col = cell
            hits = [i for i, lab in enumerate(labels) if lab == str(row)]
            return [(i, col) for i in hits[:1]]
        return [(i, cell) for i in range(len(labels))]

    # -- declarations
    def table(self, t: _Table) -> None:
        labels = t.labels()
        cols = set(t.data.columns)
        for spec in t.decl["specs"]:
            used = _columns(spec)
            missing = sorted(c for c in used if c not in cols)
            if missing:
                raise AuditError(f"{t.area} / {t.name}: the declaration {type(spec).__name__} names column(s) "
                                 f"{missing} the table does not have ({sorted(cols)})")
            getattr(self, "_" + type(spec).__name__.lower())(t, spec, labels)

    def _together(self, t, spec, labels) -> None:
        return  # published together or not at all: no arithmetic relation

    def _total(self, t: _Table, spec: dc.Total, labels) -> None:
        counts = list(t.decl["count_columns"])
        if spec.row is not None and str(spec.row) in labels:
            r = labels.index(str(spec.row))
            for col in counts:
                tot = self.cell(t, r, col, labels[r])
                if tot is None:
                    continue
                parts = [self.blankable(t, i, col, labels[i]) for i in range(len(labels)) if i != r]
                if col in spec.overlapping:  # a unit in several rows: total <= sum of the rows, >= each row
                    self.m.relate(_add(tot, *parts, coefs=[-1.0] + [1.0] * len(parts)), 0, math.inf,
                                  (t.area, t.name, labels[r], col, "the rows (overlapping) less the total row"))
                    for p in parts:
                        self.m.relate(_add(tot, p, coefs=[1.0, -1.0]), 0, math.inf,
                                      (t.area, t.name, labels[r], col, "the total row less one row"))
                    continue
                self.m.relate(_add(tot, *parts, coefs=[-1.0] + [1.0] * len(parts)), 0, 0,
                              (t.area, t.name, labels[r], col, "the total row less the other rows"))
        if spec.column is not None:
            parts_cols = list(spec.parts) or [c for c in counts if c != spec.column]
            for i, lab in enumerate(labels):
                tot = self.cell(t, i, spec.column, lab)
                if tot is None:
                    continue
                parts = [self.blankable(t, i, c, lab) for c in parts_cols]
                self.m.relate(_add(tot, *parts, coefs=[-1.0] + [1.0] * len(parts)), 0, 0,
                              (t.area, t.name, lab, spec.column, "the total column less the other columns"))

    def _sum(self, t: _Table, spec: dc.Sum, labels) -> None:
        wholes = self._rows_of(t, spec.whole, labels)
        per_row = not isinstance(spec.whole, tuple)
        for i, wcol in wholes:
            w = self.cell(t, i, wcol, labels[i])
            if w is None:
                continue
            parts = []
            for p in spec.parts:
                cells = [(i, p)] if per_row else self._rows_of(t, p, labels)
                parts += [self.blankable(t, j, c, labels[j]) for j, c in cells]
            rest = _add(w, *parts, coefs=[1.0] + [-1.0] * len(parts))
            why = (t.area, t.name, labels[i], wcol, "the whole less its declared parts")
            self.m.relate(rest, 0, math.inf, why)
            if not spec.rest_published:
                self.m.target(rest, why, "derived", True)

    def _share(self, t: _Table, spec: dc.Share, labels) -> None:
        rows = range(len(labels))
        if spec.where is not None:
            wc, wv = spec.where
            rows = [i for i in rows if str(t.data[wc].iat[i]) == str(wv)]
        half = 0.5 * 10.0 ** -spec.decimals if spec.decimals is not None else 0.0
        implied: dict[str, list] = defaultdict(list)
        for i in rows:
            n = self.cell(t, i, spec.base, labels[i])
            if n is None:
                continue
            s = str(t.data[spec.column].iat[i]).strip()
            why = (t.area, t.name, labels[i], spec.column, "")
            series = "\x1f".join(str(t.data[c].iat[i]) for c in spec.series) if spec.series else None
            if spec.count:
                k = self.cell(t, i, spec.column, labels[i])
                if k is None:
                    continue
                left = _add(n, k, coefs=[1.0, -1.0])
                self.m.relate(left, 0, math.inf, why[:4] + ("the base less the count",))
                self.m.target(left, why[:4] + (f"{spec.base} less {spec.column}",), "derived", True)
                if series is not None and s not in t.protection.markers:
                    implied[series].append((i, k))
                continue
            v = _number(s)
            if v is None:
                continue
            p_lo, p_hi = (v - half) / spec.scale, (v + half) / spec.scale
            k = ({self.m.var(integer=False): 1.0}, 0.0)
            if spec.rest_base:
                # m = k / (n + k): k (1 - m) = m n, for every m the rounded figure allows.
                self.m.relate(_add(k, n, coefs=[1.0 - p_lo, -p_lo]), 0, math.inf, why[:4] + ("missing share",))
                self.m.relate(_add(k, n, coefs=[1.0 - p_hi, -p_hi]), -math.inf, 0, why[:4] + ("missing share",))
                self.m.target(k, why[:4] + (f"count missing implied by {spec.column} = {s} of {spec.base}",),
                              "derived", False)
                continue
            self.m.relate(_add(k, n, coefs=[1.0, -(p_lo - spec.lo)]), 0, math.inf, why[:4] + ("implied count",))
            self.m.relate(_add(k, n, coefs=[1.0, -(p_hi - spec.lo)]), -math.inf, 0, why[:4] + ("implied count",))
            self.m.target(k, why[:4] + (f"count implied by {spec.column} = {s} of {spec.base}",), "derived", False)
            self.m.target(_add(n, k, coefs=[spec.hi - spec.lo, -1.0]),
                          why[:4] + (f"count left out by {spec.column} = {s} of {spec.base}",), "derived", False)
            if series is not None:
                implied[series].append((i, k))
        for pts in implied.values():  # two points of one curve: their difference is a count too
            for a in range(len(pts)):
                for b in range(a + 1, len(pts)):
                    (i, ki), (j, kj) = pts[a], pts[b]
                    self.m.target(_add(kj, ki, coefs=[1.0, -1.0]),
                                  (t.area, t.name, labels[j], spec.column, f"difference from row {labels[i]!r}"),
                                  "derived", False, signed=True)

    def _parts(self, t: _Table, spec: dc.Parts, labels) -> None:
        half = 0.5 * 10.0 ** -spec.decimals if spec.decimals is not None else 0.0
        for i, lab in enumerate(labels):
            n = self.cell(t, i, spec.base, lab)
            if n is None:
                continue
            ks = []
            for col in spec.columns:
                s = str(t.data[col].iat[i]).strip()
                # The parts of a count are counts: whole numbers (unlike a curve's point, n times a survival).
                k = ({self.m.var(): 1.0}, 0.0)
                ks.append(k)
                why = (t.area, t.name, lab, col)
                v = _number(s)
                if s in t.protection.markers:
                    self.m.target(k, why + (f"count hidden as {col} of {spec.base}",), "hidden", True)
                if v is None:
                    continue
                p_lo, p_hi = (v - half) / spec.scale, (v + half) / spec.scale
                self.m.relate(_add(k, n, coefs=[1.0, -p_lo]), 0, math.inf, why + ("implied count",))
                self.m.relate(_add(k, n, coefs=[1.0, -p_hi]), -math.inf, 0, why + ("implied count",))
                self.m.target(k, why + (f"count implied by {col} = {s} of {spec.base}",), "derived", True)
                self.m.target(_add(n, k, coefs=[1.0, -1.0]), why + (f"count left out by {col} = {s}",),
                              "derived", True)
            # The parts split the base: together they are all of it.
            self.m.relate(_add(n, *ks, coefs=[1.0] + [-1.0] * len(ks)), 0, 0,
                          (t.area, t.name, lab, spec.base, f"{spec.base} split into {', '.join(spec.columns)}"))

    def _same(self, t: _Table, spec: dc.Same, labels) -> None:
        for i, col in self._rows_of(t, spec.cell, labels):
            e = self.cell(t, i, col, labels[i])
            if e is None:
                continue
            key = spec.key.replace("{row}", labels[i])
            if "{" in key:  # "{<column>}": the row's value there (the months of a curve's rows)
                for c in t.data.columns:
                    key = key.replace("{" + str(c) + "}", str(t.data[c].iat[i]))
            self.keys[t.area][key].append((e, spec.part, (t.area, t.name, labels[i], col)))
            if spec.across and t.area == WALES:
                self.across[key] = spec.across

    # -- links between tables and areas
    def links(self, areas: list[str]) -> None:
        whole: dict[str, dict[str, tuple]] = defaultdict(dict)
        for area, keys in self.keys.items():
            for key, cells in keys.items():
                full = [c for c in cells if not c[1]]
                if not full:
                    continue
                first = full[0]
                whole[area][key] = first[0]
                for e, part, where in (c for c in cells if c is not first):
                    if part:
                        rest = _add(first[0], e, coefs=[1.0, -1.0])
                        why = where + (f"{key}: not in this table's cells",)
                        self.m.relate(rest, 0, math.inf, why)
                        self.m.target(rest, why, "derived", True)
                    else:
                        self.m.relate(_add(first[0], e, coefs=[1.0, -1.0]), 0, 0,
                                      where + (f"{key}: the same count as {first[2][1]} / {first[2][2]!r}",))
        if WALES not in whole:
            return
        authorities = [a for a in areas if a != WALES]
        if not authorities:
            return
        # Authorities whose report is not in the folder: their counts are unknown (and not published).
        absent = [a for a in domain.LA_NAMES if a not in authorities]
        for key, how in self.across.items():
            if key not in whole[WALES]:
                continue
            terms, coefs = [whole[WALES][key]], [-1.0]
            if absent:
                terms.append(({self.m.var(): 1.0}, 0.0))
                coefs.append(1.0)
            for la in authorities:
                if key in whole[la]:
                    terms.append(whole[la][key])
                else:  # not published by the authority (no such row): unknown, and audited
                    u = ({self.m.var(): 1.0}, 0.0)
                    self.m.target(u, (la, "(not published)", key, "", "the authority's count, not published"),
                                  "derived", True)
                    terms.append(u)
                coefs.append(1.0)
            why = (WALES, "(across areas)", key, "", "")
            if how in ACROSS_GAP:  # Wales = the authorities' sum less (more) an unpublished count, itself audited
                o = ({self.m.var(): 1.0}, 0.0)
                terms.append(o)
                coefs.append(-1.0 if how != "at_least" else 1.0)
                self.m.target(o, why[:4] + (ACROSS_GAP[how],), "derived", True)
            self.m.relate(_add(*terms, coefs=coefs), 0, 0, why[:4] + ("Wales is the sum of the authorities",))


def _columns(spec) -> set[str]:
    def col(c):
        return c[1] if isinstance(c, tuple) else c

    if isinstance(spec, dc.Sum):
        return {col(c) for c in (*spec.parts, spec.whole)}
    if isinstance(spec, dc.Same):
        return {col(spec.cell)}
    if isinstance(spec, dc.Share):
        return {spec.column, spec.base, *spec.series, *([spec.where[0]] if spec.where else [])}
    if isinstance(spec, dc.Parts):
        return {*spec.columns, spec.base}
    if isinstance(spec, dc.Together):
        return {*spec.columns, *spec.when}
    if isinstance(spec, dc.Total):
        return {c for c in (spec.column, *spec.parts) if c is not None}
    return set()


# ------------------------------------------------------------------ solving
def _components(n_vars: int, rows) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    r, c = [], []
    for coefs, *_rest in rows:
        vs = list(coefs)
        for v in vs[1:]:
            r.append(vs[0])
            c.append(v)
    g = coo_matrix((np.ones(len(r)), (r, c)), shape=(n_vars, n_vars))
    return connected_components(g, directed=False)[1]


def _quiet_highs():
    """A HiGHS instance; its first construction in a process prints a banner on file descriptor 1, kept off
    the command's output (and a notebook's) by pointing the descriptor elsewhere meanwhile."""
    import os
    import sys

    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


class _Solver:
    """Ranges of linear expressions over the feasible set, one connected group of relations at a time."""

    #: Feasible points sought per group (objectives pushing the group's targets up or down at random).
    WITNESSES = 8
    #: Seconds allowed to one whole-number programme; past them its best proven bound is used.
    MIP_SECONDS = 0.25

    def __init__(self, m: _Model) -> None:
        self.m = m
        self.comp = _components(len(m.vars), m.rows) if m.vars else np.zeros(0, int)
        self.by_comp: dict[int, list[int]] = defaultdict(list)
        for k, (coefs, *_r) in enumerate(m.rows):
            self.by_comp[int(self.comp[next(iter(coefs))])].append(k)
        self.cache: dict[tuple, tuple] = {}
        self.infeasible: set[int] = set()
        self.incumbent: np.ndarray | None = None
        self.solves = 0
        self.work = {"bounds": 0, "points": 0, "ranged": 0, "whole": 0, "mip_solves": 0}
        self.size = np.bincount(self.comp) if len(self.comp) else np.zeros(0, int)

    def _alone(self, v: int) -> tuple[float, float] | None:
        """The range of an unknown that no relation ties to another: its bounds and those of its own rows."""
        lo, hi = self.m.vars[v].lo, self.m.vars[v].hi
        for k in self.by_comp.get(int(self.comp[v]), []):
            coefs, a, b, _ = self.m.rows[k]
            c = coefs[v]
            a, b = (a / c, b / c) if c > 0 else (b / c, a / c)
            lo, hi = max(lo, a), min(hi, b)
        if lo > hi + _TOL * max(1.0, abs(lo)):
            self.infeasible.add(int(self.comp[v]))
            return None
        return lo, max(hi, lo)  # a hair apart from rounding: one value

    def fractional(self, comps: tuple) -> bool:
        """Whether a relation of the groups has a coefficient other than 0 or ±1."""
        return any(c not in (1.0, -1.0) for k in (r for g in comps for r in self.by_comp.get(g, []))
                   for c in self.m.rows[k][0].values())

    def comps(self, expr) -> tuple:
        return tuple(sorted({int(self.comp[v]) for v in expr[0]}))

    def _problem(self, comps: tuple, whole: bool = False):
        """The group's programme, loaded once into HiGHS (re-solved warm for each objective); ``whole``: with
        the counts restricted to whole numbers (a mixed-integer programme)."""
        if (comps, whole) in self.cache:
            return self.cache[comps, whole]
        import highspy
        from scipy.sparse import csc_matrix

        vs = np.flatnonzero(np.isin(self.comp, comps))
        pos = {int(v): i for i, v in enumerate(vs)}
        rows = [k for c in comps for k in self.by_comp.get(c, [])]
        data, ri, ci = [], [], []
        for r, k in enumerate(rows):
            for v, c in self.m.rows[k][0].items():
                data.append(c)
                ri.append(r)
                ci.append(pos[v])
        A = csc_matrix((data, (ri, ci)), shape=(len(rows), len(vs)))
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(vs), len(rows)
        lp.col_cost_ = np.zeros(len(vs))
        lp.col_lower_ = np.array([self.m.vars[v].lo for v in vs], dtype="float64")
        lp.col_upper_ = np.array([min(self.m.vars[v].hi, inf) for v in vs], dtype="float64")
        lp.row_lower_ = np.array([max(self.m.rows[k][1], -inf) for k in rows], dtype="float64")
        lp.row_upper_ = np.array([min(self.m.rows[k][2], inf) for k in rows], dtype="float64")
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype("float64")
        h = _quiet_highs()
        if whole:
            lp.integrality_ = [highspy.HighsVarType.kInteger if self.m.vars[v].integer else
                               highspy.HighsVarType.kContinuous for v in vs]
            h.setOptionValue("time_limit", self.MIP_SECONDS)
        h.passModel(lp)
        out = (pos, h, np.arange(len(vs), dtype=np.int32))
        self.cache[comps, whole] = out
        return out

    def _vector(self, pos, expr) -> np.ndarray:
        c = np.zeros(len(pos))
        for v, k in expr[0].items():
            c[pos[v]] += k
        return c

    def _solve(self, comps, c, whole: bool = False):
        """The optimum point of ``min c·x`` (``None`` if infeasible, ``"unbounded"``)."""
        import highspy

        _pos, h, idx = self._problem(comps, whole)
        self.solves += 1
        self.work["mip_solves"] += whole
        h.changeColsCost(len(idx), idx, np.asarray(c, dtype="float64"))
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kUnknown:  # a warm start gone astray: solve afresh
            h.clearSolver()
            h.run()
            status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return np.asarray(h.getSolution().col_value)
        if whole and status == highspy.HighsModelStatus.kTimeLimit:
            # Out of time on whole numbers: the bound proved so far still holds; the best whole-number point
            # found, if any, is still a point (``incumbent``).
            info = h.getInfo()
            feasible = int(info.primal_solution_status) == int(highspy.SolutionStatus.kSolutionStatusFeasible)
            self.incumbent = np.asarray(h.getSolution().col_value) if feasible else None
            return float(info.mip_dual_bound)
        if status == highspy.HighsModelStatus.kUnbounded:
            return "unbounded"
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            # Told apart by solving for feasibility alone.
            h.changeColsCost(len(idx), idx, np.zeros(len(idx)))
            h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                return "unbounded"
        if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            self.infeasible.update(comps)
            return None
        raise RuntimeError(f"HiGHS stopped with status {h.modelStatusToString(status)} on the audit's programme")

    def range(self, expr, whole: bool = False) -> tuple[float, float] | None:
        coefs, const = expr
        if not coefs:
            return const, const
        comps = self.comps(expr)
        if len(comps) == 1 and self.size[comps[0]] == 1:
            (v, c), = coefs.items()
            r = self._alone(v)
            if r is None:
                return None
            lo, hi = r
            if whole and self.m.vars[v].integer:
                lo, hi = _whole(lo, hi)
            a, b = c * lo + const, c * hi + const
            return min(a, b), max(a, b)
        c = self._vector(self._problem(comps)[0], expr)
        out = []
        for sign in (1.0, -1.0):
            x = self._solve(comps, sign * c, whole)
            if x is None:
                return None
            if isinstance(x, str):
                best = -math.inf
            elif isinstance(x, float):
                best = x
            else:
                best = float(sign * c @ x)
            out.append(sign * best + const)
        return out[0], out[1]


def _whole(lo: float, hi: float) -> tuple[float, float]:
    """The range of a whole number known to lie in ``[lo, hi]``."""
    return (math.ceil(lo - _TOL) if math.isfinite(lo) else lo), (math.floor(hi + _TOL) if math.isfinite(hi) else hi)


def _judge(t: _Target, lo: float, hi: float, m: _Model) -> str | None:
    T = m.threshold
    if t.integer:
        lo, hi = _whole(lo, hi)
        if lo > hi:  # no whole number fits: the relation is broken
            return None
    if t.signed and hi < 0:
        lo, hi = -hi, -lo
    small_lo, small_hi = (1, T - 1) if t.integer else (0.5, T - 0.5 - 1e-9)
    inside = lo >= small_lo - _TOL and hi <= small_hi + _TOL
    pinned = inside and ((lo == hi) if t.integer else (round(lo) == round(hi) and hi - lo < 1))
    if inside and pinned:
        return "recovered"
    if inside and t.kind != "primary":
        return "bounded"
    if t.width is None or not t.integer:
        return None
    if t.kind == "primary":
        if hi - lo < min(t.width, t.marker[1] - t.marker[0]) - _TOL:
            return "narrowed"
    elif t.kind in ("hidden", "rounded") and hi - lo < t.width - _TOL:
        return "narrow"
    return None


class _Seen:
    """What the feasible points found so far show of a group's targets: the smallest and largest value each took.
    Every range holds them, so a target whose values there already pass (:meth:`_Rules.passes`) passes: no programme
    of its own is needed. Each point a programme returns is used for every target of the group."""

    def __init__(self, solver: _Solver, comps: tuple, ts: list[_Target]) -> None:
        from scipy.sparse import csr_matrix

        pos = solver._problem(comps)[0]
        r, c, v = [], [], []
        for j, t in enumerate(ts):
            for var, k in t.expr[0].items():
                r.append(j)
                c.append(pos[var])
                v.append(k)
        self.T = csr_matrix((v, (r, c)), shape=(len(ts), len(pos)))
        self.const = np.array([t.expr[1] for t in ts])
        self.lo = np.full(len(ts), math.inf)
        self.hi = np.full(len(ts), -math.inf)
        # The same, at the points whose counts are whole numbers (a programme's corner often is).
        self.whole_lo, self.whole_hi = self.lo.copy(), self.hi.copy()
        self.integer = np.zeros(len(pos), bool)
        for var, i in pos.items():
            self.integer[i] = solver.m.vars[var].integer
        self.rules = _Rules(ts, solver.m.threshold, solver.fractional(comps))
        self.open = np.ones(len(ts), bool)  # not yet shown to pass

    def add(self, x: np.ndarray) -> int:
        """Take a feasible point into account; returns how many targets it showed to pass."""
        y = self.T @ x + self.const
        self.lo = np.minimum(self.lo, y)
        self.hi = np.maximum(self.hi, y)
        done = self.rules.passes(self.lo, self.hi)
        xi = x[self.integer]
        if np.all(np.abs(xi - np.round(xi)) <= 1e-6):
            # A whole-number point: the whole-number ranges hold it too, so no whole-number programme can
            # find them small where these values already pass.
            self.whole_lo = np.minimum(self.whole_lo, y)
            self.whole_hi = np.maximum(self.whole_hi, y)
            done |= self.rules.passes(self.whole_lo, self.whole_hi, whole=True)
        done &= self.open
        self.open &= ~done
        return int(done.sum())

    def unbounded(self, j: int, up: bool) -> None:
        """Target ``j`` takes arbitrarily large (``up``) or small values: it passes."""
        if up:
            self.hi[j] = math.inf
        else:
            self.lo[j] = -math.inf
        self.open[j] = False


class _Rules:
    """:func:`_judge` for many targets and ranges at once, as a proof that they pass: a range that holds no whole
    number is no proof (the points were a hair apart), and where fractional coefficients make whole numbers
    decide near the small counts (the mixed-integer step of :func:`_audit_group`), only a range wider than the
    threshold spares a count its own programmes."""

    def __init__(self, ts: list[_Target], threshold: int, fractional: bool) -> None:
        self.T = threshold
        self.integer = np.array([t.integer for t in ts])
        self.signed = np.array([t.signed for t in ts])
        self.primary = np.array([t.kind == "primary" for t in ts])
        self.masked = np.array([t.kind in ("hidden", "rounded") for t in ts])
        self.width = np.array([np.nan if t.width is None else t.width for t in ts], dtype=float)
        self.marker = np.array([t.marker[1] - t.marker[0] for t in ts], dtype=float)
        self.fractional = fractional

    def passes(self, lo: np.ndarray, hi: np.ndarray, whole: bool = False) -> np.ndarray:
        """``whole``: the values at whole-number points (a proof whatever the coefficients)."""
        T, i = self.T, self.integer
        with np.errstate(invalid="ignore"):
            lo = np.where(i, np.ceil(lo - _TOL), lo)
            hi = np.where(i, np.floor(hi + _TOL), hi)
            empty = ~(lo <= hi)
            flip = self.signed & (hi < 0)
            lo, hi = np.where(flip, -hi, lo), np.where(flip, -lo, hi)
            inside = (lo >= np.where(i, 1.0, 0.5) - _TOL) & (hi <= np.where(i, T - 1.0, T - 0.5 - 1e-9) + _TOL)
            pinned = np.where(i, lo == hi, (np.round(lo) == np.round(hi)) & (hi - lo < 1))
            fail = inside & (pinned | ~self.primary)
            promised = i & ~np.isnan(self.width)
            fail |= promised & self.primary & (hi - lo < np.fmin(self.width, self.marker) - _TOL)
            fail |= promised & self.masked & (hi - lo < self.width - _TOL)
            ok = ~empty & ~fail
            if self.fractional and not whole:
                ok &= ~i | (hi - lo > T)
        return ok


def _audit_group(solver: _Solver, comps: tuple, ts: list[_Target], exhaustive: bool = False) -> list[Finding]:
    """The findings of the targets of one connected group of relations, at the least cost that proves them.

    Feasible points first (objectives pushing all the targets still open up, then down, at once), each taken
    into account for every target; a target the points do not clear gets its own two linear programmes
    (warm-started on the group's loaded programme, their points used for the others too), and only a count whose
    range comes near the small counts where coefficients are fractional gets the whole-number programmes.
    ``exhaustive``: every target's range by its own programmes (the reference the shortcuts must agree with)."""
    m = solver.m
    out: list[Finding] = []
    if not exhaustive:
        n = len(ts)
        ts = [t for t in ts if not _clear_by_bounds(m, t)]
        solver.work["bounds"] += n - len(ts)
    if not ts:
        return out
    alone = len(comps) == 1 and solver.size[comps[0]] == 1
    seen = None
    if comps and not alone and not exhaustive:
        seen = _Seen(solver, comps, ts)
        if not _sweep(solver, comps, seen):
            return out  # infeasible: named by the caller
    near = []  # counts whose linear range comes near the small counts where whole numbers decide
    for j, t in enumerate(ts):
        if seen is not None and not seen.open[j]:
            solver.work["points"] += 1
            continue
        solver.work["ranged"] += 1
        r = _range(solver, comps, t, seen, j)
        if r is None:
            continue
        kind = _judge(t, *r, m)
        lo, hi = _whole(*r) if t.integer else r
        if (not kind and t.integer and hi - lo <= m.threshold and lo <= m.threshold - 1 and hi >= 1
                and solver.fractional(comps)):
            # Near the small counts, whole numbers can pin down more than the programme's fractions do
            # where shares or means tie counts with fractional coefficients (sums of counts alone have
            # whole-number corners).
            near.append((j, r))
        elif kind:
            out.append(Finding(t.area, t.table, t.row, t.column, kind, float(lo), float(hi), t.what))
    if near and seen is not None:
        _sweep(solver, comps, seen, only=np.array([j for j, _r in near]), whole=True)
    for j, r in near:
        t = ts[j]
        if seen is not None and not seen.open[j]:  # a whole-number point found since cleared it
            continue
        solver.work["whole"] += 1
        r = _whole_range(solver, comps, t, seen, j) or r
        kind = _judge(t, *r, m)
        if kind:
            lo, hi = _whole(*r)
            out.append(Finding(t.area, t.table, t.row, t.column, kind, float(lo), float(hi), t.what))
    return out


def _clear_by_bounds(m: _Model, t: _Target) -> bool:
    """Whether the unknowns' own bounds already keep the target away from the small values, whatever the
    relations (a count rounded to 10 lies in 6-14): its range, inside those bounds, can be neither small nor
    near enough to them for whole numbers to matter. Not for a target with a promised width (a narrow range
    fails it however large)."""
    if t.width is not None:
        return False
    lo = hi = t.expr[1]
    for v, c in t.expr[0].items():
        if c == 0:
            continue
        a, b = c * m.vars[v].lo, c * m.vars[v].hi
        lo, hi = lo + min(a, b), hi + max(a, b)
    T = m.threshold
    return lo >= T or hi <= (-T if t.signed else 0)


#: Rounds of all-at-once objectives per group, and the share of the open targets a round must clear to be
#: worth another.
_SWEEPS, _SWEEP_GAIN = 12, 0.02


def _sweep(solver: _Solver, comps: tuple, seen: _Seen, only: np.ndarray | None = None, whole: bool = False) -> bool:
    """Feasible points pushing every open target (of ``only``) up, then down, together (then at random), until a
    round clears too few; ``whole``: whole-number points (the best found in the time allowed). ``False`` if the
    group has no feasible point."""
    rng = np.random.default_rng(seen.T.shape[1])  # deterministic: the same folder gives the same audit
    among = np.zeros(len(seen.open), bool)
    among[only if only is not None else slice(None)] = True
    for k in range(_SWEEPS):
        todo = seen.open & among
        if not todo.any():
            return True
        before = int(todo.sum())
        w = todo.astype(float) if k < 2 else todo * rng.uniform(0.5, 1.5, len(todo))
        for sign in (-1.0, 1.0):  # minimise -sum (push up), then +sum (push down)
            solver.incumbent = None
            x = solver._solve(comps, sign * (w @ seen.T), whole=whole)
            if x is None:
                return False
            point = x if isinstance(x, np.ndarray) else solver.incumbent if whole else None
            if point is not None:
                seen.add(point)
        if before - int((seen.open & among).sum()) < max(1, _SWEEP_GAIN * before):
            return True
    return True


def _whole_range(solver: _Solver, comps: tuple, t: _Target, seen: _Seen | None,
                 j: int) -> tuple[float, float] | None:
    """The count's range over whole numbers (each end the optimum, or the bound proved when the programme runs
    out of time), stopping early when a whole-number point found on the way shows it passes (``None``: shown to
    pass, or infeasible)."""
    if seen is None:
        return solver.range(t.expr, whole=True)
    c = seen.T[j].toarray().ravel()
    out = []
    for sign in (-1.0, 1.0):
        solver.incumbent = None
        x = solver._solve(comps, sign * c, whole=True)
        if x is None:
            return None
        if isinstance(x, str):
            seen.unbounded(j, up=sign < 0)
            return None
        point = x if isinstance(x, np.ndarray) else solver.incumbent
        if point is not None:
            seen.add(point)
            if not seen.open[j]:
                return None
        best = float(sign * c @ x) if isinstance(x, np.ndarray) else x
        out.append(sign * best + t.expr[1])
    return min(out), max(out)


def _range(solver: _Solver, comps: tuple, t: _Target, seen: _Seen | None, j: int) -> tuple[float, float] | None:
    """The target's range by linear programming, stopping early when the points found on the way show it passes
    (``None``: infeasible, or shown to pass)."""
    if seen is None:
        return solver.range(t.expr)
    c = seen.T[j].toarray().ravel()
    out = []
    for sign in (-1.0, 1.0):  # the largest first: most counts pass by reaching the threshold
        x = solver._solve(comps, sign * c)
        if x is None:
            return None
        if isinstance(x, str):  # unbounded that way: passes
            seen.unbounded(j, up=sign < 0)
            return None
        seen.add(x)
        if not seen.open[j]:
            return None
        out.append(float(c @ x) + t.expr[1])
    return min(out), max(out)


def audit_year(folder: str | Path, *, exhaustive: bool = False) -> AuditResult:
    """Audit one year's published output (``<out>/<year>``): see the module's description.

    ``exhaustive``: compute every audited value's range by its own linear programmes instead of clearing most
    of them with shared feasible points and bounds (the same verdicts, at many times the cost: for checking).

    Raises
    ------
    AuditError
        If the folder is not a batch's output for one year, or a declaration does not fit its table.
    """
    t0 = time.perf_counter()
    folder = Path(folder)
    areas, tables, undeclared = _read_batch(folder)
    # Tables may be protected differently (counts rounded, analyses suppressed): each declares its own.
    protections = {json.dumps(t.decl["protection"], sort_keys=True): t.decl["protection"] for t in tables}
    threshold = max([int(p.get("threshold", dc.THRESHOLD)) for p in protections.values()] or [dc.THRESHOLD])
    m = _Model(threshold)
    b = _Builder(m)
    for t in tables:
        b.table(t)
    b.links(areas)
    findings = list(m.inconsistent) + list(m.shown)
    findings += [Finding(*u.split(" / "), "", "", "undeclared", math.nan, math.nan,
                         "published without a disclosure declaration (no .meta.json beside the CSV), so nothing "
                         "can be said of what it gives away; rebuild the year with this version")
                 for u in undeclared]
    solver = _Solver(m)
    groups: dict[tuple, list[_Target]] = defaultdict(list)
    for t in m.targets:
        groups[solver.comps(t.expr)].append(t)
    for comps, ts in groups.items():
        findings += _audit_group(solver, comps, ts, exhaustive)
    for comp in sorted(solver.infeasible):
        rows = [m.rows[k][3] for k in solver.by_comp.get(comp, [])]
        where = sorted({f"{w[0]} / {w[1]}" for w in rows})
        findings.append(Finding(rows[0][0], rows[0][1], str(rows[0][2]), str(rows[0][3]), "inconsistent",
                                math.nan, math.nan, "the published values satisfy no assignment of the declared "
                                f"relations among {', '.join(where[:6])}{' ...' if len(where) > 6 else ''}"))
    return AuditResult(folder, areas, len(tables), len(m.vars), len(m.rows), len(m.targets), findings,
                       time.perf_counter() - t0, list(protections.values()), solver.solves, dict(solver.work))


# ------------------------------------------------------------ command line
def run_audit_cli(folder: Path, *, out: Path | None = None, console=None) -> int:
    """``longitudinal audit <out>/<year>``: 0 passed, 1 failed (named), 2 not a batch's output."""
    from rich.console import Console

    console = console or Console(stderr=True)
    try:
        res = audit_year(folder)
    except AuditError as exc:
        console.print(f"[red]error:[/] {exc}")
        return EXIT_INPUT
    report = Path(out) if out is not None else Path(folder) / "audit.json"
    report.write_text(json.dumps(res.to_dict(), indent=1, default=str) + "\n")
    console.print(res.summary(), markup=False, highlight=False)
    console.print(f"details: {report}", markup=False, highlight=False)
    return res.exit_code
