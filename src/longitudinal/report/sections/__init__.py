"""One module per report section: each a function ``(area, protection, publisher, ...) -> Section``.

``area`` is the area's data for the year (:class:`~longitudinal.report.area.AreaYear`),
``protection`` the year's (:class:`~longitudinal.report.joint.YearProtection`) and
``publisher`` the checks and files of the area's outputs (:class:`~longitudinal.report.publish.Publisher`).
"""

from . import (completeness, demographics, distance, headline, methods, outcome_map,  # noqa: F401
               social_return, survival, title, trajectories, transitions)
from . import effectiveness  # noqa: F401
