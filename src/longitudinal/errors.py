"""The package's one error and warning hierarchy.

Every error the package raises on purpose derives from :class:`LongitudinalError`, so a caller
(or the command line) can tell "the input or the request was wrong" from "the program failed":

- :class:`InputError` — bad input a person can act on. It carries where the problem is (file, row,
  column, value, what was expected) as attributes as well as in the message, so a caller can report
  it in its own words without parsing text. It is also a :class:`ValueError`, so code written
  against the older errors (all ``ValueError``) keeps working.
- :class:`LongitudinalWarning` — something the user should know and can act on. Its one subclass
  used by every fitter that iterates is :class:`ConvergenceWarning`, so non-convergence can be
  silenced (or turned into an error) on its own, without silencing everything else.

Exit statuses of the command line (README): 0 ok; 1 finished with something to act on (rejected
rows, failed areas, a failed audit); 2 bad usage or unreadable input (an :class:`InputError`);
3 an unexpected internal error (a bug: the traceback goes to a log file).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LongitudinalError", "InputError", "NoDataError", "LongitudinalWarning", "ConvergenceWarning",
           "EXIT_OK", "EXIT_ACT", "EXIT_INPUT", "EXIT_INTERNAL"]

EXIT_OK = 0
EXIT_ACT = 1        # finished, but something needs acting on (rejects, failed areas, failed audit)
EXIT_INPUT = 2      # bad usage or unreadable input
EXIT_INTERNAL = 3   # an unexpected internal error


class LongitudinalError(Exception):
    """Base of every error the package raises on purpose."""


class InputError(LongitudinalError, ValueError):
    """Bad input, said with where it was found.

    >>> e = InputError("expected a date", file="episodes.csv", row=12, column="start_date", value="31/02/2020")
    >>> str(e)
    "episodes.csv, row 12, column 'start_date', value '31/02/2020': expected a date"
    >>> e.row, e.column
    (12, 'start_date')
    """

    def __init__(self, message: str, *, file: Any = None, row: Any = None, column: str | None = None,
                 value: Any = None, expected: str | None = None, field: str | None = None):
        column = column if column is not None else field
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"{'field' if field is not None else 'column'} {column!r}")
        if value is not None:
            where.append(f"value {str(value)!r}")
        text = message if expected is None else f"{message} (expected {expected})"
        super().__init__((", ".join(where) + ": " if where else "") + text)
        self.message, self.file, self.row, self.column = message, file, row, column
        self.value, self.expected = value, expected

    @property
    def field(self) -> str | None:
        """The column's older name (the SROI and deflator readers said "field")."""
        return self.column


class NoDataError(InputError):
    """Nothing to analyse in the selection (no readings, no one to follow, no spend): callers that loop
    over areas or outcomes catch this class and skip, never the message text."""


class LongitudinalWarning(UserWarning):
    """Something about the data or a fit that the user should know and can act on."""


class ConvergenceWarning(LongitudinalWarning):
    """An optimiser or iterative fit stopped before its convergence criteria were met."""
