"""The outcome map as a document: its columns, steps and pathways, read from and written to YAML.

What the map says, and the manual ratings it records; rating it from a study is
:mod:`.rating` (:meth:`OutcomeMap.rate` returns a :class:`~.rating.RatedMap`), drawing and
writing it is :mod:`.render`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from .. import domain
from ..io import RESOURCES
from ..results import Results, Summary
from ..rubric import CONFIDENCE, PROGRESS, Rubric
from .model import COLUMNS, IndicatorLink, Pathway, PathwayStep, Step, describe_params, describe_value
from .parse import parse_map, read_source

if TYPE_CHECKING:
    from .rating import RatedMap

__all__ = ["OutcomeMap", "MAPS_DIR", "shipped_map_path", "TIDY_COLUMNS"]

#: The columns of :meth:`OutcomeMap.tidy` (and of a roll-up's).
TIDY_COLUMNS = ["area", "pathway", "column", "step", "progress", "confidence", "basis", "indicator", "params",
                "estimate", "ci_lower", "ci_upper", "n", "missing_share", "indicator_progress",
                "indicator_confidence"]

#: Where the shipped maps and the default rubric live (a source checkout).
MAPS_DIR = RESOURCES / "maps"


@dataclass
class OutcomeMap(Results):
    """An outcome map: steps in columns, pathways through them, the ratings recorded on them, and evidence.

    Build one with :meth:`from_yaml` (or :meth:`from_dict`); see :mod:`longitudinal.outcome_maps` for
    the layout. :meth:`rate` rates its indicator-linked steps from a study for an area and a year and
    returns a :class:`~longitudinal.outcome_maps.RatedMap` (a map with ``ratings_`` and
    ``indicator_values_``).

    On the shared results base (:mod:`longitudinal.results`): ``summary()`` (text; HTML tables in
    Jupyter), ``tidy()`` (one row per pathway step and indicator), ``plot()`` returning the Axes.

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

    def __repr__(self) -> str:
        n = sum(len(v) for v in self.steps.values())
        return f"<{type(self).__name__} {self.title!r} steps={n} pathways={len(self.pathways)}{self.where()}>"

    @property
    def rated_for(self) -> tuple[str | None, int | None]:
        """``(area, financial year)`` the ratings are for; ``(None, None)``: the map as written (manual ratings)."""
        return None, None

    def where(self) -> str:
        """`` (Cardiff, 2025-26)``: the area and financial year the ratings are for (empty for the map as written)."""
        area, year = self.rated_for
        parts = [p for p in (area, None if year is None else domain.fy_label(year)) if p]
        return f" ({', '.join(parts)})" if parts else ""

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
        return cls(**parse_map(*read_source(source)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutcomeMap:
        """Build a map from the structure :meth:`to_dict` returns (validated as from YAML)."""
        return cls(**parse_map(copy.deepcopy(dict(data)), {}, None))

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
                    rows.append({"area": self.rated_for[0], "pathway": p.name, "column": c, "step": ps.step,
                                 "progress": prog, "confidence": conf, "basis": basis, "reason": ps.reason,
                                 "evidence_progress": comp.progress if comp else None,
                                 "evidence_confidence": comp.confidence if comp else None,
                                 "indicators": "; ".join(describe_value(v) for v in comp.values) if comp else ""})
        return pd.DataFrame(rows, columns=["area", "pathway", "column", "step", "progress", "confidence", "basis",
                                           "reason", "evidence_progress", "evidence_confidence", "indicators"])

    def links(self, column: str, ps: PathwayStep) -> list[IndicatorLink]:
        """The indicators a pathway step is rated from: its own, else those of the map's step it sits on."""
        return ps.indicators or self.step_indicators(column, ps.step)

    def summary(self) -> Summary:
        """Steps per column and, per pathway, how many steps have each rating (text; tables in Jupyter).

        Examples
        --------
        >>> import longitudinal as lg
        >>> m = lg.OutcomeMap.from_yaml(lg.outcome_maps.shipped_map_path("pa_programme_board"))
        >>> print(m.summary().splitlines()[0])
        Outcome map: Personal Assistants Programme Board
        """
        head = [f"Outcome map: {self.title}{self.where()}"]
        if self.source:
            head.append(f"Source: {self.source}")
        per_column = pd.DataFrame({"steps": [len(self.steps.get(c, [])) for c in self.columns]},
                                  index=pd.Index(self.columns, name="column"))
        lines = [*head, "Steps per column: " + "; ".join(f"{c}: {n}" for c, n in per_column["steps"].items())]
        r = self.ratings()
        counted = []
        for p in self.pathways:
            rp = r[r["pathway"] == p.name]
            row = {"steps": len(rp)} | {f"progress {k}": int((rp["progress"] == k).sum()) for k in PROGRESS} \
                | {f"confidence {k}": int((rp["confidence"] == k).sum()) for k in CONFIDENCE}
            basis = rp["basis"].value_counts(sort=False)
            counted.append(row | {f"basis {k}": int(v) for k, v in basis.items()})
            lines += [f"Pathway: {p.name} ({len(rp)} steps)",
                      "  progress: " + ", ".join(f"{k} {row[f'progress {k}']}" for k in PROGRESS),
                      "  confidence: " + ", ".join(f"{k} {row[f'confidence {k}']}" for k in CONFIDENCE),
                      "  basis: " + ", ".join(f"{k} {v}" for k, v in basis.items())]
        by_pathway = pd.DataFrame(counted, index=pd.Index([p.name for p in self.pathways], name="pathway"))
        return Summary("\n".join(lines), {"Steps per column": per_column,
                                          "Ratings by pathway": by_pathway.fillna(0).astype(int)},
                       head="\n".join(head))

    def tidy(self) -> pd.DataFrame:
        """One row per pathway step and indicator (a step without one: one row, ``indicator`` empty).

        Columns: ``area, pathway, column, step, progress, confidence, basis`` (the step's ratings),
        ``indicator, params``, the indicator's ``estimate, ci_lower, ci_upper, n, missing_share`` and
        the rubric's ``indicator_progress, indicator_confidence`` for it. The map as written has no
        values yet (NaN); a rated map (:meth:`rate`) has them.
        """
        rows = []
        for p in self.pathways:
            for c in self.columns:
                for ps in p.steps.get(c, []):
                    prog, conf, basis = ps.rating
                    step: dict[str, Any] = {"area": self.rated_for[0], "pathway": p.name, "column": c,
                                            "step": ps.step, "progress": prog, "confidence": conf, "basis": basis}
                    links = self.links(c, ps)
                    comp = ps.computed
                    if not links:
                        rows.append(step)
                    for i, link in enumerate(links):
                        row = step | {"indicator": link.name, "params": describe_params(link.params)}
                        if comp is not None:
                            v, (ip, ic) = comp.values[i], comp.ratings[i]
                            row |= {"estimate": v.value, "ci_lower": v.ci_lower, "ci_upper": v.ci_upper, "n": v.n,
                                    "missing_share": v.missing_share, "indicator_progress": ip,
                                    "indicator_confidence": ic}
                        rows.append(row)
        out = pd.DataFrame(rows, columns=TIDY_COLUMNS)
        return out.astype({k: float for k in ("estimate", "ci_lower", "ci_upper", "missing_share")})

    # --------------------------------------------------------------- rating
    def rate(self, study, rubric: Rubric | str | Path | None = None, area: str | None = None,
             year: int | None = None) -> RatedMap:
        """Rate every indicator-linked pathway step from the study (see :func:`~.rating.rate_map`).

        Returns
        -------
        RatedMap
            A copy of the map with each step's :class:`ComputedRating`, the ``area`` and
            ``financial_year`` rated for, and the tables ``ratings_`` and ``indicator_values_``.
        """
        from .rating import rate_map

        return rate_map(self, study, rubric, area=area, year=year)

    # ------------------------------------------------------------ rendering
    def plot(self, pathway: str | int | None = None, ax=None, wrap: int = 30, fontsize: float = 7.5,
             ratings: bool = True):
        """Draw the map (``pathway=None``) or one pathway as six columns of step cards, with their ratings.

        See :func:`~.render.plot_map`, which returns the bare ``Figure`` (for files and reports).
        Returns the matplotlib ``Axes`` drawn on (a new pyplot figure sized to the map when ``ax`` is None).
        """
        from .render import plot_map

        fig = plot_map(self, pathway, ax=ax, wrap=wrap, fontsize=fontsize, ratings=ratings, pyplot=ax is None)
        return fig.axes[0] if ax is None else ax

    def to_html(self, full_document: bool = True) -> str:
        """The map and every pathway (ratings, analysis, evidence) as HTML tables."""
        from .render import map_html

        return map_html(self, full_document=full_document)

    def to_markdown(self) -> str:
        """The map and every pathway as Markdown (tables, then each step's case)."""
        from .render import map_markdown

        return map_markdown(self)

    def render(self, out: str | Path, formats: Iterable[str] = ("png",)) -> dict[str, Path]:
        """Write the figures (map and each pathway), ``map.html``, ``map.md`` and, when rated, ``ratings.csv``.

        Files are byte-identical for the same map (no dates or versions embedded).
        Returns name → path.
        """
        from .render import render_files

        return render_files(self, out, formats)


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, data):
    # multi-line analysis reads best as a literal block
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)



def shipped_map_path(name: str) -> Path:
    """Path of a shipped map (``"pa_programme_board"``, ``"supporting_people"``) or ``"rubric"``."""
    path = MAPS_DIR / f"{name}.yaml"
    if not path.exists():
        have = sorted(p.stem for p in MAPS_DIR.glob("*.yaml")) if MAPS_DIR.is_dir() else []
        raise FileNotFoundError(f"no shipped map {name!r} in {MAPS_DIR}; available: {', '.join(have) or 'none'} "
                                "(shipped maps come with a source checkout)")
    return path
