"""The output-checking log of an area's report: ``disclosure.json``.

For the statistician who signs the release off (the idea of ACRO/SACRO output
checking in trusted research environments): every table the report publishes,
how it was protected, every cell that was rounded or hidden and by which rule,
and the result of the audit of the whole publication once it has run. The log
records published values only, never an exact count, so it may be published
with the report.

The audit (``longitudinal audit``) records its result for an area with
:func:`record_audit`; until then the log's ``audit`` is ``{"status": "not run"}``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import atomic_path

__all__ = ["LOG_NAME", "TableLog", "DisclosureLog", "read_log", "record_audit"]

#: File name of the log in an area's report folder.
LOG_NAME = "disclosure.json"
#: Rules named in the log.
RULES = {
    "rounded": "count rounded to a multiple of 5 by controlled rounding, joint over the year's areas",
    "primary": "count of 1 to 4, not shown",
    "secondary": "hidden so that a count of 1 to 4 cannot be worked out from the figures shown",
}


class TableLog(dict):
    """One table's entry: protection, number of cells, cells rounded and hidden, each changed cell."""


class DisclosureLog:
    """The log of one area's report, written (atomically) each time a table is added."""

    def __init__(self, path: str | Path | None, *, area: str, year: int, method: dict) -> None:
        self.path = Path(path) if path is not None else None
        self.data = {"area": area, "financial_year": int(year), "method": method, "rules": RULES, "tables": {},
                     "audit": {"status": "not run"}}

    def add(self, name: str, entry: dict) -> None:
        self.data["tables"][name] = entry
        self.write()

    def write(self) -> None:
        if self.path is None:
            return
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")


def read_log(folder: str | Path) -> dict:
    """The log of the report in ``folder``.

    Raises
    ------
    FileNotFoundError
        If the folder holds no ``disclosure.json`` (not an area's report).
    """
    path = Path(folder) / LOG_NAME
    if not path.exists():
        raise FileNotFoundError(f"{folder}: no {LOG_NAME} (not the folder of an area's report)")
    return json.loads(path.read_text(encoding="utf-8"))


def record_audit(folder: str | Path, result: dict) -> Path:
    """Write the audit's result for the area in ``folder`` into its log.

    ``result`` must hold ``status`` (``"passed"`` or ``"failed"``); anything else (the findings, the
    audit's version, when it ran) is kept as given.
    """
    if result.get("status") not in ("passed", "failed"):
        raise ValueError(f"an audit result needs status 'passed' or 'failed', not {result.get('status')!r}")
    data = read_log(folder)
    data["audit"] = dict(result)
    path = Path(folder) / LOG_NAME
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path
