"""Former home of the annual report's sections, kept so that existing notebooks keep working.

Everything now lives in :mod:`longitudinal.report` (``report.annual.AnnualReport``,
``report.publish``, ``report.sections``); this module only re-exports the public names.
"""

from .domain import WALES, all_areas, area_name, area_slug
from .report.annual import AnnualReport
from .report.area import last_complete_year, load_area
from .report.publish import PALETTE, PublishedFigure, PublishedTable, Section, save_figure

__all__ = ["WALES", "AnnualReport", "Section", "PublishedTable", "PublishedFigure", "PALETTE", "area_name",
           "area_slug", "all_areas", "last_complete_year", "load_area", "save_figure"]
