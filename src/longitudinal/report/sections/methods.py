"""Methods, definitions, limitations and the disclosure rule."""

from __future__ import annotations

from ... import domain
from .. import protect as dc
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section


def methods(a: AreaYear, prot: YearProtection, pub: Publisher, extra: str = "") -> Section:
    """Methods, definitions, limitations and the disclosure rule."""
    scale = "\n".join(f"| {k} | {v} |" for k, v in domain.SCALE.items())
    text = f"""
### Definitions
- **Financial year** runs 1 April to 31 March; {domain.fy_label(a.year)} is the year reported.
- **Episode of support**: one period of Supporting People support for one person, from its start date to its
  end date (open while support continues). An episode is *active* in a year if it overlaps the year.
- **People supported**: distinct people with an active episode in the year; a person with two episodes counts once.
- **Spend**: the programme's recorded spend for the area in the year (all lead needs).
- **Journey of Change**: each outcome area is scored on a 5-point scale at the start, at reviews, at the end of
  support and at follow-ups; a blank score means the person has no need in that area.

| Stage | Journey of Change |
|---|---|
{scale}

In long-term services stage 5 means: {domain.SCALE_LONG_TERM_5.lower()}.

### Methods
All figures are computed by the `longitudinal` Python package from the study's four tables (people,
episodes, readings, spend); the report is a parameterised notebook run unattended by
`longitudinal report annual`. Random steps use the seed recorded in the manifest ({a.seed}).
{extra}

### Limitations
- The study is observational: changes in scores describe people's journeys while supported; they are not by
  themselves the effect of support, since there is no untreated comparison group.
- Scores are practitioners' ratings on an ordinal scale; readings are missed, and missed reviews may not be
  missing at random (people who disengage are less often scored).
- Small areas and small groups give imprecise estimates; counts below 5 are suppressed (see below).

### Disclosure control
{dc.RULE}
"""
    return Section("methods", "Methods, definitions and limitations", text.strip())
