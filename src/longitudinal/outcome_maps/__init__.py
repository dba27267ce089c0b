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
(:mod:`longitudinal.indicators`); :meth:`OutcomeMap.rate` computes them for an area
and a financial year and a :class:`~longitudinal.rubric.Rubric` turns value and
precision into ratings, giving a :class:`RatedMap`. A manual rating on such a step
overrides the evidence only with a recorded ``reason``. :func:`rollup` rates one
map per local authority and one for Wales.

The subpackage follows those ideas: :mod:`.model` (the parts of a map),
:mod:`.parse` (reading and checking YAML), :mod:`.document` (:class:`OutcomeMap`, the
map as written), :mod:`.rating` (:class:`RatedMap`, :func:`rollup`) and :mod:`.render`
(figures, HTML, Markdown).

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

from ..rubric import CONFIDENCE, PROGRESS
from .document import MAPS_DIR, OutcomeMap, shipped_map_path
from .model import (
    COLUMNS,
    MAX_STEP_LENGTH,
    PERSONAL_COLUMNS,
    ComputedRating,
    Evidence,
    IndicatorLink,
    OutcomeMapError,
    Pathway,
    PathwayStep,
    Step,
)
from .rating import MapRollup, RatedMap, rollup
from .render import CONFIDENCE_BORDERS, PROGRESS_COLOURS

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
    "RatedMap",
    "MapRollup",
    "rollup",
    "shipped_map_path",
    "MAPS_DIR",
    "PROGRESS_COLOURS",
    "CONFIDENCE_BORDERS",
]
