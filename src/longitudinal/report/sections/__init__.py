"""One module per report section: each a function ``(area, protection, publisher, ...) -> Section``.

``area`` is the area's data for the year (:class:`~longitudinal.report.area.AreaYear`),
``protection`` the year's (:class:`~longitudinal.report.joint.YearProtection`) and
``publisher`` the checks and files of the area's outputs (:class:`~longitudinal.report.publish.Publisher`).
A section that publishes none of the year's jointly rounded counts (title, methods, effectiveness) takes no
protection, ``(area, publisher, ...)``: a report of those alone never computes it.
"""

from . import (  # noqa: F401
               completeness,
               demographics,
               distance,
               effectiveness,
               headline,
               methods,
               outcome_map,
               social_return,
               survival,
               title,
               trajectories,
               transitions,
)
