"""Social return on investment (SROI): impact maps, evidence-based adjustments,
Green Book discounting and probabilistic sensitivity analysis.

The calculation follows the Cabinet Office / Social Value UK *Guide to Social
Return on Investment*:

* impact of an outcome in its first year
  ``V_1 = quantity × proxy × (1 − deadweight)(1 − displacement)(1 − attribution)``
  (the deductions are multiplied, not summed);
* drop-off from the second year: ``V_t = V_1 (1 − d)^(t − 1)`` for ``t = 1 … duration``;
* present value with the HM Treasury Green Book schedule (3.5% to year 30,
  3.0% to 75, 2.5% to 125, then 2.0%, 1.5%, 1.0%) by default, with the timing
  convention explicit: ``"end"`` (every year discounted, the first included — the
  guide's), ``"start"`` (first year not discounted) or ``"mid"`` (mid-year);
* ``NPV = PV − inputs``, ``SROI ratio = PV / inputs``, ``net ratio = NPV / inputs``,
  payback in months ``= inputs / (first year's impact / 12)``.

Proxies and spend are restated to the map's price year with a GDP deflator
table that names its source (:mod:`longitudinal.prices`; by default HM
Treasury's March 2026 release in ``data/deflators.csv``). A quantity is a number or
an indicator of the study (:mod:`longitudinal.indicators`); inputs are numbers
or the ``spend`` table. With a study, the map is evaluated for each financial
year of the study (the cohort of outcomes reached that year against that
year's spend) and cumulatively, every cohort discounted to the first year.

Modules: ``impact_map`` (reading and checking a map; ``fields`` holds its errors and field parsers),
``discount``, ``proxies``, ``adjustments`` (published medians and estimates from the study),
``model`` (the arrays of a resolved map), ``evaluation`` (:func:`evaluate`, :func:`evaluate_by`),
``result`` (:class:`SROIResult`, :class:`MonteCarloResult`) and ``distributions`` (Monte Carlo draws).

Examples
--------
>>> from longitudinal import sroi
>>> m = sroi.ImpactMap.from_dict({
...     "name": "Worked example", "price_year": 2025,
...     "discount": {"rate": 0.035, "timing": "end"},
...     "inputs": [{"name": "Grant", "value": 100000}],
...     "outcomes": [{"name": "Settled housing", "stakeholder": "Service users",
...                   "quantity": 10, "proxy_value": 10000, "price_year": 2025,
...                   "duration_years": 2, "deadweight": 0.2, "displacement": 0.0,
...                   "attribution": 0.25, "drop_off": 0.5}]})
>>> r = sroi.evaluate(m)
>>> round(r.present_value, 2)     # 60000/1.035 + 30000/1.035**2
85976.34
>>> round(r.sroi_ratio, 4), round(r.payback_months, 1)
(0.8598, 20.0)
"""

from ..prices import DeflatorError, Deflators, load_deflators
from .adjustments import ADJUSTMENTS, MIN_EVIDENCE, PUBLISHED_MEDIANS, Adjustment, estimate_drop_off
from .discount import GREEN_BOOK, Discount
from .evaluation import evaluate, evaluate_by, quantities
from .fields import ImpactMapError, NoInputsError
from .impact_map import DEFAULT_MAP, ImpactMap, InputRow, OutcomeRow
from .proxies import DEFAULT_PROXIES, DEFAULT_UNIT_COSTS, Proxy, load_proxies
from .result import MonteCarloResult, SROIResult

__all__ = [
    "ImpactMapError", "NoInputsError", "DeflatorError", "Adjustment", "Discount", "Proxy", "Deflators", "OutcomeRow",
    "InputRow", "ImpactMap",
    "SROIResult", "MonteCarloResult", "evaluate", "evaluate_by", "quantities", "estimate_drop_off", "load_proxies",
    "load_deflators",
    "GREEN_BOOK", "PUBLISHED_MEDIANS", "ADJUSTMENTS", "MIN_EVIDENCE", "DEFAULT_MAP", "DEFAULT_PROXIES",
    "DEFAULT_UNIT_COSTS",
]
