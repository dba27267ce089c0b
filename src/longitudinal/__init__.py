"""longitudinal — a research workbench for the longitudinal study of the Welsh
Supporting People programme: Journey of Change trajectories, transitions,
lasting impact, social return and outcome maps.

>>> import longitudinal as lg
>>> study = lg.simulate(people=300, seed=1)
>>> study.readings.columns.tolist()
['episode_id', 'person_id', 'reading_date', 'reading_type', 'outcome', 'score']
"""

from importlib.metadata import PackageNotFoundError, version as _version

from . import (
    attrition,
    domain,
    effectiveness,
    errors,
    outcome_maps,
    prices,
    report,
    rubric,
    sroi,
    survival,
    transitions,
)
from .attrition import AttritionResults, follow_up_attrition
from .distance import (
    SingleReadingWarning,
    distance_travelled,
    plot_profile,
    plot_transitions,
    reading_completeness,
    stage_distribution,
    transition_matrix,
)
from .errors import ConvergenceWarning, InputError, LongitudinalError, LongitudinalWarning
from .groups import TrajectoryGroupsResults, fit_trajectory_groups
from .ingest import IngestReport, ingest
from .ordinal import OrdinalResults, fit_ordinal
from .outcome_maps import MapRollup, OutcomeMap, OutcomeMapError, rollup
from .power import (
    MDEResults,
    PowerCurve,
    PowerResults,
    StudyDesign,
    SustainedScenario,
    TrajectoryScenario,
    TransitionScenario,
    WeibullDropout,
    minimum_detectable_effect,
    power,
    power_curve,
)
from .report import AnnualReport, batch as reports, protect as disclosure  # the former module names
from .rubric import Rubric
from .simulate import simulate
from .study import Study, load
from .survival import (
    CoxResults,
    IndependenceResults,
    SustainedResults,
    fit_cox,
    sustained_outcomes,
    time_to_independence,
)
from .trajectories import TrajectoryResults, TrajectoryWarning, fit_trajectories
from .transitions import TransitionsResults, fit_transitions

try:
    __version__ = _version("longitudinal")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["Study", "domain", "load", "simulate", "__version__"]
__all__ += ["errors", "LongitudinalError", "InputError", "LongitudinalWarning", "ConvergenceWarning"]
__all__ += ["fit_trajectories", "TrajectoryResults", "TrajectoryWarning"]
__all__ += ["ingest", "IngestReport"]
__all__ += ["SingleReadingWarning", "distance_travelled", "plot_profile", "plot_transitions",
            "reading_completeness", "stage_distribution", "transition_matrix"]
__all__ += ["OrdinalResults", "fit_ordinal", "TrajectoryGroupsResults", "fit_trajectory_groups"]
__all__ += ["transitions", "fit_transitions", "TransitionsResults"]
__all__ += ["survival", "time_to_independence", "sustained_outcomes", "IndependenceResults", "SustainedResults",
            "fit_cox", "CoxResults"]
__all__ += ["prices", "sroi"]
__all__ += ["outcome_maps", "rubric", "OutcomeMap", "OutcomeMapError", "MapRollup", "rollup", "Rubric"]
__all__ += ["report", "disclosure", "reports", "AnnualReport"]
__all__ += ["effectiveness"]
__all__ += ["attrition", "follow_up_attrition", "AttritionResults"]
__all__ += ["power", "power_curve", "minimum_detectable_effect", "StudyDesign", "WeibullDropout", "TrajectoryScenario",
            "TransitionScenario", "SustainedScenario", "PowerResults", "PowerCurve", "MDEResults"]
