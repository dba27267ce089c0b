"""One error and warning hierarchy: everything the package raises or warns on purpose derives from it."""

import importlib
import inspect
import pkgutil

import longitudinal as lg
from longitudinal.errors import ConvergenceWarning, InputError, LongitudinalError, LongitudinalWarning


def _package_classes():
    for info in pkgutil.walk_packages(lg.__path__, "longitudinal."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and not cls.__name__.startswith("_"):
                yield cls


def test_every_public_error_and_warning_is_in_the_hierarchy():
    stray = [f"{c.__module__}.{c.__name__}" for c in _package_classes()
             if issubclass(c, BaseException)
             and not issubclass(c, (LongitudinalError, LongitudinalWarning))]
    assert stray == []


def test_one_convergence_warning():
    from longitudinal import mixed, trajectories, transitions
    assert mixed.ConvergenceWarning is trajectories.ConvergenceWarning is transitions.ConvergenceWarning
    assert issubclass(ConvergenceWarning, LongitudinalWarning)


def test_input_error_carries_where():
    e = InputError("not a date", file="episodes.csv", row=7, column="end_date", value="9999-12-31",
                   expected="a date between 1900 and today, or blank while open")
    assert (e.file, e.row, e.column, e.value) == ("episodes.csv", 7, "end_date", "9999-12-31")
    assert "episodes.csv" in str(e) and "row 7" in str(e) and "'end_date'" in str(e) and "9999-12-31" in str(e)
    assert isinstance(e, ValueError)  # code written against the older ValueErrors keeps working
