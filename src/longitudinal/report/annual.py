"""The annual report of one area: a thin facade over the sections, as the notebooks call it.

Each method computes one section (:mod:`longitudinal.report.sections`) from the
area's data, the year and the year's protection, and keeps it in
``sections_``. The protection is the batch's (read from the cache folder) or,
outside the batch, computed here for the whole study, so that a report shows
what the publication shows.

Examples
--------
>>> import longitudinal as lg, tempfile
>>> from longitudinal.report import AnnualReport
>>> study = lg.simulate(people=300, seed=1)
>>> rep = AnnualReport(study, financial_year="auto", area="Wales", out=tempfile.mkdtemp())
>>> rep.year
2025
>>> sec = rep.headline()
>>> sec.tables[0].name
'headline'
"""

from __future__ import annotations

from pathlib import Path

from .. import domain
from ..domain import WALES
from ..study import Study, load
from . import protect as dc, sections as sx
from .area import AreaYear, last_complete_year, load_area
from .disclosure_log import LOG_NAME, DisclosureLog
from .joint import YearProtection, protection_file
from .publish import Publisher, Section

__all__ = ["AnnualReport"]


class AnnualReport:
    """One area's annual report for one financial year.

    Parameters
    ----------
    data : path or Study
        The study (a folder that :func:`longitudinal.load` reads, or a study).
    financial_year : int or "auto"
        The report's financial year (2025 = 2025-26); ``"auto"`` = the last
        complete financial year in the data.
    area : str
        ``"Wales"`` or one of the 22 authorities (Welsh names accepted).
    seed : int
        Seed for every random step of the report's models.
    out : path, optional
        Folder for ``tables/*.csv`` and ``figures/*.png``; nothing is written
        when omitted.
    cache : path, optional
        Per-area slices and the year's protection prepared by the batch (see :func:`load_area`).
    protection : YearProtection, optional
        The year's protection; by default the batch's (in ``cache``) or computed for the whole study, when a
        section that publishes rounded counts first needs it.

    Attributes
    ----------
    study : Study
        The area's slice (Wales: the whole study).
    year : int
    area : str
    protection : YearProtection
    sections_ : list of Section
        The sections produced so far, in order.
    """

    def __init__(self, data: str | Path | Study, financial_year: int | str = "auto", area: str = WALES, *,
                 seed: int = 0, out: str | Path | None = None, cache: str | Path | None = None,
                 protection: YearProtection | None = None) -> None:
        name = domain.area_name(area)
        full = data if isinstance(data, Study) else None
        study = load_area(data, name, cache=cache)
        if financial_year in ("auto", None):
            # The last complete year of the whole study, not of a small area's slice.
            year = last_complete_year(full if full is not None else study)
        else:
            year = domain.parse_financial_year(financial_year, "financial_year (or 'auto')")
        self.data_ = AreaYear(study, year, name, seed=seed)
        if protection is not None and protection.year != year:
            raise ValueError(f"the protection given is for {domain.fy_label(protection.year)}, "
                             f"the report for {domain.fy_label(year)}")
        self._protection = protection
        # Where the protection comes from when the first section that publishes rounded counts needs it.
        self._whole = full if full is not None else (study if name == WALES else data)
        self._cache = cache
        self.out = Path(out) if out is not None else None
        log = DisclosureLog(self.out / LOG_NAME if self.out is not None else None, area=self.area, year=year,
                            method={"counts": YearProtection.method, "base": dc.BASE, "within": dc.BASE - 1,
                                    "threshold": dc.THRESHOLD, "rule": dc.RULE})
        self.publisher = Publisher(self.data_.identifiers, self.out, log)
        self.sections_: list[Section] = []
        self._sroi: sx.social_return.SROIRun | None = None

    @property
    def protection(self) -> YearProtection:
        """The year's protection: the one given, the batch's (in ``cache``), or computed for the whole study (once
        per study, year and seed: reports of several areas made from one study share it)."""
        if self._protection is None:
            saved = protection_file(self._cache, self.year) if self._cache is not None else None
            if saved is not None and saved.exists():
                self._protection = YearProtection.load(saved)
            else:
                whole = self._whole if isinstance(self._whole, Study) else load(self._whole)
                self._protection = YearProtection.for_study(whole, self.year, seed=self.seed)
        return self._protection

    # The area's data, as the notebooks and tests have always read them.
    @property
    def study(self) -> Study:
        return self.data_.study

    @property
    def year(self) -> int:
        return self.data_.year

    @property
    def area(self) -> str:
        return self.data_.area

    @property
    def seed(self) -> int:
        return self.data_.seed

    @property
    def label(self) -> str:
        return self.data_.label

    def __repr__(self) -> str:
        return f"<AnnualReport {self.label}: {len(self.sections_)} section(s)>"

    def _add(self, section: Section) -> Section:
        self.sections_ = [s for s in self.sections_ if s.key != section.key] + [section]
        return section

    def _run(self, fn, *args, **kwargs) -> Section:
        return self._add(fn(self.data_, self.protection, self.publisher, *args, **kwargs))

    def _run_unprotected(self, fn, *args, **kwargs) -> Section:
        """A section that publishes none of the year's rounded counts: the protection is not computed for it."""
        return self._add(fn(self.data_, self.publisher, *args, **kwargs))

    # ------------------------------------------------------------ sections
    def title(self) -> Section:
        """The report's title block: area, year, data and how to reproduce it."""
        return self._run_unprotected(sx.title.title)

    def headline(self) -> Section:
        """People, episodes, readings and spend in the year, by lead need, and the trend over the years."""
        return self._run(sx.headline.headline)

    def demographics(self) -> Section:
        """People supported in the year by age band and sex (a two-way table with both totals)."""
        return self._run(sx.demographics.demographics)

    def completeness(self) -> Section:
        """How complete the year's Journey of Change records are, overall and by outcome area."""
        return self._run(sx.completeness.completeness)

    def distance(self) -> Section:
        """Distance travelled in each of the 11 outcome areas: first vs latest reading by the year's end."""
        return self._run(sx.distance.distance)

    def trajectories(self, outcome: str | None = None, min_episodes: int = 30) -> Section:
        """The trajectory (linear mixed) model of one headline outcome area."""
        return self._run(sx.trajectories.trajectories, outcome, min_episodes)

    def transitions(self, outcome: str | None = None, min_episodes: int = 30) -> Section:
        """Moves between stages in the headline outcome area: observed transitions and a multi-state model."""
        return self._run(sx.transitions.transitions, outcome, min_episodes)

    def lasting_impact(self, n_boot: int = 50) -> Section:
        """Whether gains last after a planned end (follow-up readings) and re-referral after it."""
        return self._run(sx.survival.lasting_impact, n_boot)

    def time_to_independence(self, outcome: str | None = None, stage: int = 5, n_boot: int = 100) -> Section:
        """Time from the start of support to first reaching ``stage`` in the headline outcome area."""
        return self._run(sx.survival.time_to_independence, outcome, stage, n_boot)

    def effectiveness(self, service: str = "emergency_admission") -> Section:
        """The effect of support on a public service, from linked service use (where the numbers allow)."""
        return self._run_unprotected(sx.effectiveness.effectiveness, service)

    def outcome_map(self, map_path: str | Path | None = None) -> Section:
        """The programme's outcome map, each step rated for progress and confidence from this area's data."""
        return self._run(sx.outcome_map.outcome_map, map_path)

    def social_return(self, impact_map: str | Path | None = None, draws: int = 2000) -> Section:
        """Social return on investment in the year, with its uncertainty (Monte Carlo, seeded)."""
        self._sroi = sx.social_return.evaluate(self.data_, impact_map, draws, self.protection)
        return self._run(sx.social_return.social_return, self._sroi)

    def social_return_detail(self) -> Section:
        """The social return's summary, assumptions and sensitivity analyses, as they may be published."""
        if self._sroi is None:
            self.social_return()
        return self._run(sx.social_return.social_return_detail, self._sroi)

    def methods(self, extra: str = "") -> Section:
        """Methods, definitions, limitations and the disclosure rule."""
        return self._run_unprotected(sx.methods.methods, extra)

    def publish(self, release_date=None, *, status: str | None = None) -> dict:
        """Write the report as published, in Welsh and in English, to ``out``: the pages (``report.html``,
        ``report.cy.html``), the spreadsheets (``tables.xlsx``, ``tables.cy.xlsx``) and the CSV notes.

        Uses the sections computed so far, in order; the methods section becomes the page's quality and
        methodology section.

        Parameters
        ----------
        release_date : date or str, optional
            The release date the pages state (default: today).
        status : str, optional
            The statistics status (:data:`longitudinal.report.page.STATUS`): by default ``"synthetic"`` for
            simulated data, else ``"in_development"``.
        """
        import datetime

        import pandas as pd

        from .page import Release, write_report

        if self.out is None:
            raise ValueError("publish() needs the report's out folder (AnnualReport(..., out=...))")
        when = pd.Timestamp(release_date).date() if release_date is not None else datetime.date.today()
        status = status or ("synthetic" if self.study.truth is not None else "in_development")
        sections = [s for s in self.sections_ if s.key != "methods"]
        quality = next((s for s in self.sections_ if s.key == "methods"), None)
        return write_report(sections, Release(self.area, self.year, when, status=status), self.out, quality=quality)

    # The social return's raw result, for analysts (never published as is).
    @property
    def sroi_result_(self):
        if self._sroi is None:
            raise AttributeError("sroi_result_: run social_return() first")
        return self._sroi.result

    @property
    def sroi_map_(self) -> Path:
        if self._sroi is None:
            raise AttributeError("sroi_map_: run social_return() first")
        return self._sroi.map_path

    @property
    def sroi_small_(self) -> bool:
        if self._sroi is None:
            raise AttributeError("sroi_small_: run social_return() first")
        return self._sroi.small
