"""The title block: area, year, data and how to reproduce it."""

from __future__ import annotations

from ... import domain
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section


def title(a: AreaYear, prot: YearProtection, pub: Publisher) -> Section:
    """The report's title block: area, year, data and how to reproduce it."""
    s = a.study
    start, end = domain.fy_bounds(a.year)
    text = (f"Annual report of the Supporting People longitudinal study for **{a.area}**, "
            f"financial year **{domain.fy_label(a.year)}** ({start:%d %B %Y} to {end:%d %B %Y}).\n\n"
            f"Every number in this report is computed by the `longitudinal` package from the study data; "
            f"the report's `manifest.json` records the data's content hash, the parameters, the seed and "
            f"the code version needed to reproduce it exactly.")
    sec = Section("title", f"Supporting People: {a.label}", text)
    if s.truth is not None:
        sec.notes.append("These data are SYNTHETIC (simulated with a known generative model); "
                         "they describe no real person and no real service.")
    return sec
