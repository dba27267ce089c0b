"""The report layer: publishing, protection, the sections, the annual report and the batch.

- :mod:`~longitudinal.report.publish`: tables, figures, sections, the checks every output passes;
- :mod:`~longitudinal.report.protect`: the disclosure rules and their engine;
- :mod:`~longitudinal.report.counts` and :mod:`~longitudinal.report.joint`: the year's count tables of every
  area and their protection, computed once for the whole publication;
- :mod:`~longitudinal.report.area`: one area's data for the year;
- :mod:`~longitudinal.report.sections`: one module per section;
- :mod:`~longitudinal.report.annual`: :class:`AnnualReport`, the notebooks' facade;
- :mod:`~longitudinal.report.batch`: the unattended batch of the 23 reports.
"""

from .annual import AnnualReport
from .area import AreaYear, last_complete_year, load_area
from .joint import YearProtection
from .publish import PublishedFigure, PublishedTable, Publisher, Section, save_figure

__all__ = ["AnnualReport", "AreaYear", "YearProtection", "Section", "PublishedTable", "PublishedFigure",
           "Publisher", "last_complete_year", "load_area", "save_figure"]
