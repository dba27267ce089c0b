"""Quality and methodology: coverage, definitions, the Journey of Change scale, comparability, limitations,
disclosure control and revisions (what the Code of Practice for Statistics asks a release to say)."""

from __future__ import annotations

from ... import domain
from ...i18n import N_, Items, Msg, Verbatim
from .. import protect as dc
from ..area import AreaYear
from ..publish import Publisher, Section


def methods(a: AreaYear, pub: Publisher, extra: str = "") -> Section:
    """The quality and methodology section of the report."""
    fy = domain.fy_label(a.year)
    scale = Items(tuple(Msg("| {k} | {label} |", k=str(k), label=Msg(v)) for k, v in domain.SCALE.items()), "\n")
    parts = [
        Msg("### Coverage\nThe report covers every episode of Supporting People support recorded in the study's data "
            "that was active at any time in the financial year {year} (1 April to 31 March), the people supported in "
            "them, their Journey of Change readings up to the end of the year and the programme's recorded spend.",
            year=fy),
        N_("### Definitions\n- **Financial year** runs 1 April to 31 March.\n- **Episode of support**: one period of "
           "Supporting People support for one person, from its start date to its end date (open while support "
           "continues). An episode is *active* in a year if it overlaps the year.\n- **People supported**: distinct "
           "people with an active episode in the year; a person with two episodes counts once.\n- **Spend**: the "
           "programme's recorded spend for the area in the year (all lead needs)."),
        Msg("### The Journey of Change scale\nEach outcome area is scored on a 5-point scale at the start, at "
            "reviews, at the end of support and at follow-ups; a blank score means the person has no need in that "
            "area, not a missing value.\n\n| {stage} | {joc} |\n|---|---|\n{scale}\n\n{long_term}",
            stage=Msg(N_("Stage")), joc=Msg(N_("Journey of Change")), scale=scale,
            long_term=Msg("In long-term services stage 5 means: {label}.",
                          label=Msg(domain.SCALE_LONG_TERM_5))),
        N_("### Comparability\nEvery area's report is made by the same code from the same definitions, so areas and "
           "years can be compared; but areas differ in the mix of lead needs and services, and small areas give "
           "imprecise estimates. The scale's final wording was not fixed when the study began: readings of earlier "
           "years may differ in how practitioners applied it. Models are refitted each year on the data as they "
           "then stand."),
        N_("### Methods\nAll figures are computed by the `longitudinal` Python package from the study's four tables "
           "(people, episodes, readings, spend); the report is run unattended by `longitudinal report annual`, and "
           "its `manifest.json` records the data's content hash, the parameters, the seed and the code version "
           "needed to reproduce it exactly."),
        N_("### Limitations\n- The study is observational: changes in scores describe people's journeys while "
           "supported; they are not by themselves the effect of support. The effectiveness section estimates an "
           "effect on the use of public services, against people not yet supported, where linked data allow.\n- "
           "Scores are practitioners' ratings on an ordinal scale; readings are missed, and missed reviews may not be "
           "missing at random (people who disengage are less often scored).\n- Small areas and small groups give "
           "imprecise estimates; counts are rounded to multiples of 5 or suppressed (see Disclosure control).\n- "
           "Model results beyond the years the data cover are not shown; settings marked illustrative (such as the "
           "social return's financial proxies) illustrate a method and are not estimates."),
        Msg("### Disclosure control\n{rule}", rule=Msg(dc.RULE)),
        N_("### Revisions\nFigures are revised only when the underlying data are corrected or the methods change; "
           "a revised report states what changed and why, and earlier editions stay available with their "
           "manifests. The data are administrative records that providers may correct after the year ends."),
    ]
    if extra:  # an analyst's own addition, shown as written
        parts.append(Verbatim(extra))
    text = Items(tuple(parts), "\n\n")
    return Section("methods", N_("Quality and methodology"), text)
