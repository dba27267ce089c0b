"""The title block: area, year, data and how to reproduce it (in the notebook; the published page carries
the publication furniture instead)."""

from __future__ import annotations

from ... import domain
from ...i18n import N_, Area, Msg
from ..area import AreaYear
from ..page import STATUS
from ..publish import Publisher, Section


def title(a: AreaYear, pub: Publisher) -> Section:
    """The report's title block: area, year, data and how to reproduce it."""
    start, end = domain.fy_bounds(a.year)
    area, fy = Area(a.area), domain.fy_label(a.year)
    text = Msg("Annual report of the Supporting People longitudinal study for **{area}**, financial year **{year}** "
               "({start} to {end}).\n\nEvery number in this report is computed by the `longitudinal` package from the "
               "study data; the report's `manifest.json` records the data's content hash, the parameters, the seed "
               "and the code version needed to reproduce it exactly.", area=area, year=fy, start=start, end=end)
    sec = Section("title", Msg("Supporting People annual report: {area}, {year}", area=area, year=fy), text)
    if a.study.truth is not None:
        sec.notes.append(N_(STATUS["synthetic"]))
    return sec
