"""The sections of the annual report, computed here so that notebooks stay thin and tested.

An :class:`AnnualReport` holds one area's slice of a study for one financial
year. Each section method returns a :class:`Section` (heading, text, tables,
figures) that displays itself in Jupyter and writes its tables to
``<out>/tables/<name>.csv`` and its figures to ``<out>/figures/<name>.png``.
Every published table passes through :func:`longitudinal.disclosure.suppress`;
every figure is drawn from a published table only.

Examples
--------
>>> import longitudinal as lg, tempfile
>>> from longitudinal.report_sections import AnnualReport
>>> study = lg.simulate(people=300, seed=1)
>>> rep = AnnualReport(study, financial_year="auto", area="Wales", out=tempfile.mkdtemp())
>>> rep.year
2025
>>> sec = rep.headline()
>>> sec.tables[0].name
'headline'
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import disclosure as dc
from . import domain
from .io import atomic_path
from .study import Study, load

__all__ = [
    "WALES",
    "AnnualReport",
    "Section",
    "PublishedTable",
    "PublishedFigure",
    "area_name",
    "area_slug",
    "all_areas",
    "last_complete_year",
    "load_area",
    "save_figure",
]

WALES = "Wales"

#: Whether the Wales report hides every cell of its additive count tables that an authority hides
#: (:meth:`AnnualReport._across`): Wales minus the other 21 published authorities would give it away.
PROTECT_ACROSS_AREAS = True

#: Colours used by every report figure (colour-blind safe, Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

# Distance travelled: improved / same / worse split the episodes compared; the means are of a 1-5 score
# (the change of one from -4 to 4); the three means are tied by subtraction and the interval goes with the
# change, and it also gives the spread of the changes, which with the mean can show how many improved: it is
# hidden whenever one of the three shares is.
_DISTANCE_SPECS = (
    dc.Parts(("pct_improved", "pct_same", "pct_worse"), "n_compared", scale=100, decimals=1),
    dc.Share("mean_first", "n_compared", lo=1, hi=5, decimals=2),
    dc.Share("mean_latest", "n_compared", lo=1, hi=5, decimals=2),
    dc.Share("mean_change", "n_compared", lo=-4, hi=4, decimals=2),
    dc.Together(("mean_first", "mean_latest", "mean_change")),
    dc.Together(("ci_lower", "ci_upper"), when=("mean_change", "pct_improved", "pct_same", "pct_worse")),
)

# Outcome-map indicators: a proportion or a count of the episodes in n, the mean change (-4 to 4 stages), the
# share of eligible episodes missing (of a base of n plus those missing); the interval goes with the value.
_INDICATOR_SPECS = (
    dc.Share("value", "n", where=("kind", "proportion"), decimals=3),
    dc.Share("value", "n", count=True, where=("kind", "count")),
    dc.Share("value", "n", lo=-4, hi=4, where=("indicator", "mean_change"), decimals=3),
    dc.Share("missing_share", "n", rest_base=True, where=("kind", "proportion"), decimals=3),
    dc.Share("missing_share", "n", rest_base=True, where=("kind", "mean"), decimals=3),
    dc.Together(("value", "ci_lower", "ci_upper")),
)

# Social value by outcome: the assumptions of the impact map, and a present value hidden with its people.
_SROI_OUTCOME_FREE = ("proxy_value_gbp", "deadweight", "attribution", "drop_off", "duration_years",
                      "present_value_gbp")

# The headline's counts and how they nest (see AnnualReport._headline_counts).
_PEOPLE, _ACTIVE, _STARTED, _ENDED = ("People supported", "Episodes of support active", "Episodes started",
                                      "Episodes ended")
_SCORED, _RECORDED = "Journey of Change readings (scored)", "Readings recorded (incl. blank)"
_HEADLINE_SUMS = (dc.Sum(((_SCORED, "value"),), (_RECORDED, "value")),
                  dc.Sum(((_PEOPLE, "value"),), (_ACTIVE, "value")),
                  dc.Sum(((_STARTED, "value"),), (_ACTIVE, "value")),
                  dc.Sum(((_ENDED, "value"),), (_ACTIVE, "value")))

# The populations the headline counts, repeated by other tables and adding up over the areas (for the audit).
#: Episodes with two or more scored readings in an outcome area: completeness's and distance travelled's.
_K_COMPARED = "episodes compared | outcome {row}"
_K_PEOPLE, _K_ACTIVE, _K_STARTED, _K_ENDED, _K_SCORED, _K_READINGS = (
    "people", "episodes active", "episodes started", "episodes ended", "readings scored", "readings")
_HEADLINE_LINKS = (dc.Same((_PEOPLE, "value"), _K_PEOPLE, "people"), dc.Same((_ACTIVE, "value"), _K_ACTIVE, "sum"),
                   dc.Same((_STARTED, "value"), _K_STARTED, "sum"), dc.Same((_ENDED, "value"), _K_ENDED, "sum"),
                   dc.Same((_SCORED, "value"), _K_SCORED, "sum"), dc.Same((_RECORDED, "value"), _K_READINGS, "sum"))


# --------------------------------------------------------------------- areas
def area_name(area: str) -> str:
    """``"Wales"`` or the canonical name of an authority (Welsh names accepted)."""
    if domain.slug(area) == "wales" or domain.slug(area) == "cymru":
        return WALES
    try:
        return domain.local_authority(area)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown area {area!r}: expected 'Wales' or one of the 22 local authorities "
                         f"({', '.join(domain.LA_NAMES)})") from exc


def area_slug(area: str) -> str:
    """Folder name of an area's report: ``"wales"``, ``"vale-of-glamorgan"``, …"""
    return domain.slug(area_name(area))


def all_areas() -> list[str]:
    """Wales, then the 22 authorities in their usual (north-to-south-east) order."""
    return [WALES, *domain.LA_NAMES]


def last_complete_year(study: Study) -> int:
    """The last financial year the data covers to its end.

    The data are taken to run to the latest reading or episode date; a
    financial year is complete when that date falls in its last month
    (on or after 1 March): a small area may have no reading on 31 March itself.

    Raises
    ------
    ValueError
        If the data do not cover a whole financial year.
    """
    dates = [study.readings["reading_date"].max(), study.episodes["start_date"].max(),
             study.episodes["end_date"].max()]
    dates = [d for d in dates if pd.notna(d)]
    if not dates:
        raise ValueError("the study has no dated readings or episodes, so it covers no financial year")
    last = max(dates)
    fy = int(domain.financial_year(last))
    # Data extracted during March are taken to cover the year's last month.
    if last < domain.fy_bounds(fy)[1] - pd.Timedelta(days=30):
        fy -= 1
    first = min(study.readings["reading_date"].min(), study.episodes["start_date"].min())
    if domain.fy_bounds(fy)[1] < first:
        raise ValueError(f"the data run from {first:%Y-%m-%d} to {last:%Y-%m-%d}: no complete financial year")
    return fy


# ------------------------------------------------------------------- loading
def _cache_file(cache: str | Path, area: str) -> Path:
    return Path(cache) / f"{area_slug(area)}.pkl"


def load_area(data: str | Path | Study, area: str = WALES, *, cache: str | Path | None = None) -> Study:
    """One area's slice of a study, read cheaply.

    Parameters
    ----------
    data : path or Study
        A study folder (see :func:`longitudinal.load`) or a loaded study.
    area : str
        ``"Wales"`` or an authority.
    cache : path, optional
        A folder of per-area slices prepared by the batch
        (:func:`longitudinal.reports.prepare_cache`); used when it holds this
        area, so that 23 reports do not each read the national data.
    """
    area = area_name(area)
    if cache is not None and _cache_file(cache, area).exists():
        with open(_cache_file(cache, area), "rb") as fh:
            return pickle.load(fh)
    study = data if isinstance(data, Study) else load(data)
    return study if area == WALES else study.subset(local_authority=area)


def _authority_reports(study: Study, year: int, seed: int) -> list["AnnualReport"]:
    """A report of each authority in ``study`` for ``year`` (tables only), its slice split in one grouped pass.

    Each slice holds what :meth:`Study.subset` gives the authority's own report: its episodes, their
    people and readings, and its spend. An authority whose data do not cover the year has no report.
    """
    ep, rd, sp = study.episodes, study.readings, study.spend
    ep_groups = dict(tuple(ep.groupby("local_authority", observed=True, sort=False)))
    la_of = pd.Series(ep["local_authority"].to_numpy(), index=ep["episode_id"].to_numpy())
    rd_groups = dict(tuple(rd.groupby(rd["episode_id"].map(la_of), observed=True, sort=False)))
    sp_groups = dict(tuple(sp.groupby("local_authority", observed=True, sort=False)))
    out = []
    for la in domain.LA_NAMES:
        e = ep_groups.get(la)
        if e is None or e.empty:
            continue
        people = study.people[study.people["person_id"].isin(e["person_id"].unique())]
        r = rd_groups.get(la, rd.iloc[:0])
        s = sp_groups.get(la, sp.iloc[:0])
        part = Study(people.reset_index(drop=True), e.reset_index(drop=True), r.reset_index(drop=True),
                     s.reset_index(drop=True), truth=study.truth, source=study.source,
                     metadata=dict(study.metadata))
        try:
            sub = AnnualReport(part, year, la, seed=seed)
        except ValueError:  # the year is outside its data: it has no report, so it publishes nothing
            continue
        sub._tables_only = True
        out.append(sub)
    return out


# ------------------------------------------------------------- publishing
@dataclass
class PublishedTable:
    """A disclosure-controlled table: what the report shows and writes as CSV."""

    name: str
    caption: str
    data: pd.DataFrame
    count_columns: tuple[str, ...] = ()
    #: What each published figure is about (:class:`~longitudinal.disclosure.Share`, ``Parts``, ``Sum``,
    #: ``Together``): checked when published, and by the tests.
    specs: tuple = ()
    #: Numeric columns about no group of people: money, model estimates, fixed assumptions.
    free: tuple[str, ...] = ()
    #: The column whose values name the rows (for ``Sum`` declarations between rows).
    label_column: str | None = None

    def to_csv_bytes(self) -> bytes:
        return self.data.to_csv(index=False, lineterminator="\n").encode("utf-8")

    def declaration_bytes(self) -> bytes:
        """The table's disclosure declaration (``tables/<name>.meta.json``): what `longitudinal audit` reads."""
        d = dc.declaration_to_json(count_columns=self.count_columns, specs=self.specs, free=self.free,
                                   label_column=self.label_column)
        return (json.dumps({"table": self.name, **d}, indent=1, sort_keys=True) + "\n").encode("utf-8")

    def to_html(self) -> str:
        return self.data.to_html(index=False, na_rep="", escape=True, border=0, float_format=_fmt_float,
                                 classes="lg-table")


@dataclass
class PublishedFigure:
    name: str
    caption: str
    png: bytes
    labels: tuple[str, ...] = ()  # every text on the figure, for checking disclosure
    #: The values drawn, where they are not simply a published table's (the points of a curve), for checking.
    data: pd.DataFrame | None = None

    def to_html(self) -> str:
        b64 = base64.b64encode(self.png).decode("ascii")
        cap = html.escape(self.caption)
        return (f'<figure><img src="data:image/png;base64,{b64}" alt="{cap}">'
                f"<figcaption>{cap}</figcaption></figure>")


@dataclass
class Section:
    """A report section: heading, markdown text, tables and figures. Displays as HTML."""

    key: str
    heading: str
    text: str = ""
    tables: list[PublishedTable] = field(default_factory=list)
    figures: list[PublishedFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        import mistune

        parts = [f'<section class="lg-section" id="{html.escape(self.key)}">',
                 f"<h2>{html.escape(self.heading)}</h2>"]
        if self.text:
            parts.append(mistune.html(self.text))
        for note in self.notes:
            parts.append(f'<p class="lg-note">{html.escape(note)}</p>')
        for fig in self.figures:
            parts.append(fig.to_html())
        for tab in self.tables:
            parts.append(f'<p class="lg-caption"><b>Table.</b> {html.escape(tab.caption)} '
                         f"(<code>tables/{html.escape(tab.name)}.csv</code>)</p>")
            parts.append(tab.to_html())
        parts.append("</section>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return (f"<Section {self.key!r}: {len(self.tables)} table(s), {len(self.figures)} figure(s)>")


def figure_labels(fig) -> tuple[str, ...]:
    """Every non-empty text drawn on a figure (titles, axis and tick labels, annotations, legends)."""
    out = []
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and callable(a.get_text)):
        s = t.get_text()
        if isinstance(s, str) and s.strip():
            out.append(s)
    return tuple(out)


def save_figure(fig, path: str | Path | None = None) -> bytes:
    """PNG bytes of a figure that depend only on what is drawn (no dates, no software stamp).

    Writes them atomically to ``path`` when given. The same figure gives the
    same bytes on the same matplotlib.
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    png = buf.getvalue()
    if path is not None:
        with atomic_path(path) as tmp:
            tmp.write_bytes(png)
    return png


# ------------------------------------------------------------------ helpers
def _active(ep: pd.DataFrame, year: int) -> pd.Series:
    start, end = domain.fy_bounds(year)
    return (ep["start_date"] <= end) & (ep["end_date"].isna() | (ep["end_date"] >= start))


def _in_year(dates: pd.Series, year: int) -> pd.Series:
    start, end = domain.fy_bounds(year)
    return (dates >= start) & (dates <= end)


def _pct(num, den) -> np.ndarray:
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.round(100.0 * num / den, 1), np.nan)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not (isinstance(v, float) and np.isnan(v))


# ------------------------------------------------------------------- report
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
        Per-area slices prepared by the batch (see :func:`load_area`).

    Attributes
    ----------
    study : Study
        The area's slice (Wales: the whole study).
    year : int
    area : str
    sections_ : list of Section
        The sections produced so far, in order.
    """

    def __init__(self, data: str | Path | Study, financial_year: int | str = "auto", area: str = WALES, *,
                 seed: int = 0, out: str | Path | None = None, cache: str | Path | None = None) -> None:
        self.area = area_name(area)
        self.seed = int(seed)
        full = data if isinstance(data, Study) else None
        self.study = load_area(data, self.area, cache=cache)
        if financial_year in ("auto", None):
            # The last complete year of the whole study, not of a small area's slice.
            ref = full if full is not None else self.study
            self.year = last_complete_year(ref)
        else:
            try:
                self.year = int(financial_year)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"financial_year must be a year such as 2025 (= 2025-26) or 'auto', "
                                 f"not {financial_year!r}") from exc
        years = self.study.financial_years
        if years and not (min(years) <= self.year <= max(years)):
            raise ValueError(f"financial year {self.year} ({domain.fy_label(self.year)}) is outside the data, "
                             f"which cover {domain.fy_label(min(years))} to {domain.fy_label(max(years))}")
        self.out = Path(out) if out is not None else None
        self.sections_: list[Section] = []
        self._ids: set[str] | None = None

    # ----------------------------------------------------------- plumbing
    @property
    def label(self) -> str:
        return f"{self.area} {domain.fy_label(self.year)}"

    def _identifiers(self) -> set[str]:
        if self._ids is None:
            ids: set[str] = set()
            for col, tab in (("person_id", self.study.people), ("episode_id", self.study.episodes),
                             ("provider_id", self.study.episodes)):
                ids.update(map(str, pd.unique(tab[col].astype(str))))
            self._ids = ids
        return self._ids

    def _publish_table(self, name: str, caption: str, data: pd.DataFrame, count_columns=(), *, specs=(),
                       free=(), label_column: str | None = None) -> PublishedTable:
        data = data.reset_index(drop=True)
        if not getattr(self, "_tables_only", False):  # an authority's tables seen from Wales: checked in its report
            dc.check_no_identifiers(data, self._identifiers())
            dc.check_published(data, count_columns)
            dc.check_derived(data, specs, label_column=label_column)
        tab = PublishedTable(name, caption, data, tuple(count_columns), tuple(specs), tuple(free), label_column)
        if self.out is not None:
            with atomic_path(self.out / "tables" / f"{name}.csv") as tmp:
                tmp.write_bytes(tab.to_csv_bytes())
            with atomic_path(self.out / "tables" / f"{name}.meta.json") as tmp:
                tmp.write_bytes(tab.declaration_bytes())
        return tab

    def _publish_figure(self, name: str, caption: str, fig, data: pd.DataFrame | None = None) -> PublishedFigure:
        labels = figure_labels(fig)
        ids = self._identifiers()
        leaked = [s for s in labels if s in ids]
        if leaked:  # pragma: no cover - figures are drawn from published tables only
            raise ValueError(f"figure {name!r} shows identifier(s) {leaked[:3]}")
        path = self.out / "figures" / f"{name}.png" if self.out is not None else None
        return PublishedFigure(name, caption, save_figure(fig, path), labels, data)

    # ------------------------------------------------- across the areas
    def _across(self, name: str, fixed=(), hidden=()) -> tuple[list, list]:
        """``fixed`` and ``hidden`` cells of count table ``name``, with the cells the authorities hide.

        The Wales report adds up the authorities' counts: where an authority hides a cell of a table that
        adds up across the areas, Wales less the other authorities' published cells would give it away.
        So in the Wales report a cell is hidden from the start when **at least one** authority's report
        hides the same cell (same table, row and column); it is then no longer fixed, and Wales's own
        secondary suppression protects it within the table. Authorities' reports are left as they are.
        """
        across = self._area_hidden().get(name, set()) if self.area == WALES and PROTECT_ACROSS_AREAS else set()
        fixed = [c for c in fixed if c not in across]
        hidden = list(dict.fromkeys([*hidden, *sorted(across - set(hidden), key=str)]))
        return fixed, hidden

    def _area_hidden(self) -> dict[str, set]:
        """For each count table that adds up across the areas: the cells ``(row, column)`` some authority hides.

        Each authority's tables are made by the very functions its own report uses, on its slice of the
        study (split in one grouped pass), so the hidden cells are exactly the ones it publishes hidden.
        """
        if getattr(self, "_ahidden", None) is None:
            out: dict[str, set] = {}
            for sub in _authority_reports(self.study, self.year, self.seed):
                tables = {"headline": (sub._headline_counts(), "measure", ["value"])}
                by_need, _ = sub._by_need_table()
                tables["by_lead_need"] = (by_need, "lead_need", ["people", "episodes", "started"])
                tables["trend"] = (sub._trend_table(), "financial_year", ["people", "started"])
                age_sex, cols = sub._age_sex_table()
                tables["age_sex"] = (age_sex, "age_band", cols)
                overall, by_out = (t.data for t in sub._completeness_tables())
                tables["completeness"] = (overall, "measure", ["episodes", "with_reading"])
                tables["completeness_by_outcome"] = (by_out, "outcome", ["readings", "scored", "blank_no_need",
                                                                         "episodes_with_need", "episodes_two_plus"])
                for name, (df, label, cols) in tables.items():
                    cells = out.setdefault(name, set())
                    for col in cols:
                        hid = df[col].isin([dc.PRIMARY, dc.SECONDARY]).to_numpy()
                        cells.update((r, col) for r in df.loc[hid, label])
            self._ahidden = out
        return self._ahidden

    def _add(self, section: Section) -> Section:
        self.sections_ = [s for s in self.sections_ if s.key != section.key] + [section]
        return section

    # ------------------------------------------------------------ sections
    def title(self) -> Section:
        """The report's title block: area, year, data and how to reproduce it."""
        s = self.study
        start, end = domain.fy_bounds(self.year)
        text = (f"Annual report of the Supporting People longitudinal study for **{self.area}**, "
                f"financial year **{domain.fy_label(self.year)}** ({start:%d %B %Y} to {end:%d %B %Y}).\n\n"
                f"Every number in this report is computed by the `longitudinal` package from the study data; "
                f"the report's `manifest.json` records the data's content hash, the parameters, the seed and "
                f"the code version needed to reproduce it exactly.")
        sec = Section("title", f"Supporting People: {self.label}", text)
        if s.truth is not None:
            sec.notes.append("These data are SYNTHETIC (simulated with a known generative model); "
                             "they describe no real person and no real service.")
        return self._add(sec)

    def _headline_counts(self) -> pd.DataFrame:
        """The headline's counts as published. Other tables repeat them and follow their suppression."""
        if getattr(self, "_head", None) is None:
            st, y = self.study, self.year
            ep = st.episodes
            act = self._active_episodes()
            rd = st.readings[_in_year(st.readings["reading_date"], y)]
            counts = pd.DataFrame({
                "measure": [_PEOPLE, _ACTIVE, _STARTED, _ENDED, _SCORED, _RECORDED],
                "value": [int(act["person_id"].nunique()), len(act), int(_in_year(ep["start_date"], y).sum()),
                          int(_in_year(ep["end_date"], y).sum()), int(rd["score"].notna().sum()), len(rd)],
            })
            # Blank readings (recorded - scored), episodes beyond one per person (active - people), episodes
            # carried in from earlier years (active - started) and still open (active - ended) are counts too.
            # People, episodes started and ended are repeated in other tables, so when one of those differences
            # is small it is the active episodes that are suppressed.
            fixed, hidden = self._across("headline", [(m, "value") for m in (_PEOPLE, _STARTED, _ENDED)])
            self._head = dc.suppress(counts, ["value"], label_column="measure", sums=_HEADLINE_SUMS,
                                     fixed=fixed, hidden=hidden)
        return self._head

    def _headline_shown(self) -> dict[str, bool]:
        h = self._headline_counts()
        return {m: _is_number(v) for m, v in zip(h["measure"], h["value"])}

    def _active_episodes(self) -> pd.DataFrame:
        """The episodes active in the report's year (filtered once per report; read, never modified)."""
        if getattr(self, "_act", None) is None:
            self._act = self.study.episodes[_active(self.study.episodes, self.year)]
        return self._act

    def _year_spend(self) -> float:
        st = self.study
        return float(st.spend.loc[st.spend["financial_year"] == self.year, "spend_gbp"].sum())

    def _by_need_table(self) -> tuple[pd.DataFrame, tuple]:
        """People, episodes and spend by lead need, as published (and the declarations of its counts)."""
        st, y = self.study, self.year
        ep = st.episodes
        act, new = self._active_episodes(), ep[_in_year(ep["start_date"], y)]
        spend, n_people = self._year_spend(), int(act["person_id"].nunique())
        # By lead need, with an "All" row so that secondary suppression protects the totals.
        names = {n.code: n.name for n in domain.LEAD_NEEDS}
        codes = [c for c in domain.LEAD_NEED_CODES] + sorted(
            set(map(str, ep["lead_need"].dropna().unique())) - set(domain.LEAD_NEED_CODES))
        g_people = act.groupby("lead_need", observed=True)["person_id"].nunique()
        g_eps = act.groupby("lead_need", observed=True).size()
        g_new = new.groupby("lead_need", observed=True).size()
        sp = st.spend[st.spend["financial_year"] == y].groupby("lead_need", observed=True)["spend_gbp"].sum()
        rows = []
        for c in codes:
            rows.append({"lead_need": names.get(c, c), "people": int(g_people.get(c, 0)),
                         "episodes": int(g_eps.get(c, 0)), "started": int(g_new.get(c, 0)),
                         "spend_gbp": round(float(sp.get(c, 0.0)))})
        by_need = pd.DataFrame(rows)
        by_need = by_need[(by_need[["people", "episodes", "spend_gbp"]] > 0).any(axis=1)]
        by_need = pd.concat([by_need, pd.DataFrame([{
            "lead_need": "All", "people": n_people, "episodes": len(act), "started": len(new),
            "spend_gbp": round(spend)}])], ignore_index=True)
        by_need["spend_per_person_gbp"] = np.where(by_need["people"] > 0,
                                                   np.round(by_need["spend_gbp"] / by_need["people"].clip(lower=1)),
                                                   np.nan)
        # Within each need, people and episodes started are counts within the active episodes. The "All" row
        # repeats the headline: its counts are suppressed here exactly when they are there.
        shown = self._headline_shown()
        all_cells = {"people": "People supported", "episodes": "Episodes of support active",
                     "started": "Episodes started"}
        fixed = [("All", c) for c, m in all_cells.items() if shown[m]]
        hidden = [("All", c) for c, m in all_cells.items() if not shown[m]]
        fixed, hidden = self._across("by_lead_need", fixed, hidden)
        need_sums = (dc.Sum(("people",), "episodes"), dc.Sum(("started",), "episodes"))
        by_need = dc.suppress(by_need, ["people", "episodes", "started"], total_row="All",
                              label_column="lead_need", derived={"spend_per_person_gbp": ["people"]},
                              sums=need_sums, fixed=fixed, hidden=hidden)
        return by_need, need_sums

    def _trend_table(self) -> pd.DataFrame:
        """People supported, episodes started and spend in each financial year up to this one, as published."""
        st, y = self.study, self.year
        ep = st.episodes
        years = [fy for fy in self.study.financial_years if fy <= y] or [y]
        trow = []
        for fy in years:
            a = ep[_active(ep, fy)]
            trow.append({"financial_year": domain.fy_label(fy), "people": int(a["person_id"].nunique()),
                         "started": int(_in_year(ep["start_date"], fy).sum()),
                         "spend_gbp": round(float(st.spend.loc[st.spend["financial_year"] == fy, "spend_gbp"].sum()))})
        _, hidden = self._across("trend")
        return dc.suppress(pd.DataFrame(trow), ["people", "started"], label_column="financial_year", hidden=hidden)

    def headline(self) -> Section:
        """People, episodes, readings and spend in the year, by lead need, and the trend over the years."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker

        spend, n_people = self._year_spend(), int(self._active_episodes()["person_id"].nunique())
        counts = self._headline_counts()
        per_person = spend / n_people if n_people >= dc.THRESHOLD else dc.SECONDARY
        money = pd.DataFrame({"measure": ["Spend (GBP)", "Spend per person supported (GBP)"],
                              "value": [round(spend), per_person if isinstance(per_person, str)
                                        else round(per_person)]})
        head = pd.concat([counts, money], ignore_index=True)
        tables = [self._publish_table("headline", f"Headline figures, {self.label}", head, ["value"],
                                      specs=(*_HEADLINE_SUMS, *_HEADLINE_LINKS), label_column="measure")]

        by_need, need_sums = self._by_need_table()
        tables.append(self._publish_table("by_lead_need", f"People, episodes and spend by lead need, {self.label}",
                                          by_need, ["people", "episodes", "started"],
                                          specs=(*need_sums, dc.Total(row="All"),
                                                 dc.Same("people", "people | lead need {row}", "people"),
                                                 dc.Same("episodes", "episodes active | lead need {row}", "sum"),
                                                 dc.Same("started", "episodes started | lead need {row}", "sum"),
                                                 dc.Same(("All", "people"), _K_PEOPLE),
                                                 dc.Same(("All", "episodes"), _K_ACTIVE),
                                                 dc.Same(("All", "started"), _K_STARTED)),
                                          free=("spend_gbp", "spend_per_person_gbp"), label_column="lead_need"))

        # Trend over the financial years up to this one.
        trend = self._trend_table()
        this = domain.fy_label(self.year)
        tables.append(self._publish_table("trend", f"People supported, episodes started and spend by year, {self.area}",
                                          trend, ["people", "started"], free=("spend_gbp",),
                                          specs=(dc.Same("people", "people | year {row}", "people"),
                                                 dc.Same("started", "episodes started | year {row}", "sum"),
                                                 dc.Same((this, "people"), _K_PEOPLE),
                                                 dc.Same((this, "started"), _K_STARTED)),
                                          label_column="financial_year"))

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
        x = np.arange(len(trend))
        for ax, col, title, scale in ((axes[0], "people", "People supported", 1.0),
                                      (axes[1], "spend_gbp", "Spend (GBP million)", 1e6)):
            vals = [v / scale if _is_number(v) else np.nan for v in trend[col]]
            ax.bar(x, np.nan_to_num(vals), color=PALETTE[0] if col == "people" else PALETTE[1])
            for xi, v in zip(x, trend[col]):
                if not _is_number(v):
                    ax.annotate(str(v), (xi, 0), ha="center", va="bottom", fontsize=8)
            top = np.nanmax(vals) if np.isfinite(vals).any() else 0.0
            ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)
            if col == "people":
                ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            if top <= 0:
                ax.set_yticks([])
            ax.set_xticks(x, trend["financial_year"], rotation=45, ha="right", fontsize=8)
            ax.set_title(title, fontsize=10)
            ax.spines[["top", "right"]].set_visible(False)
        fig.suptitle(f"{self.area}: people supported and spend by financial year", fontsize=11)
        fig.tight_layout()
        figs = [self._publish_figure("trend", "People supported and spend by financial year "
                                     "(suppressed counts are not drawn and are marked)", fig)]
        text = (f"In {domain.fy_label(self.year)}, {_fmt(head['value'].iat[0])} people were supported in "
                f"{_fmt(head['value'].iat[1])} episodes of support in {self.area}; the programme spent "
                f"£{spend:,.0f}.")
        return self._add(Section("headline", "Headline figures", text, tables, figs))

    def demographics(self) -> Section:
        """People supported in the year by age band and sex (a two-way table with both totals)."""
        out, cols = self._age_sex_table()
        # People of unknown age or sex, or outside the bands, are in no cell: the table counts part of the people.
        links = [dc.Same(c, f"people | sex {c} | age {{row}}", "people") for c in cols]
        t = self._publish_table("age_sex", f"People supported by age band and sex, {self.label}", out, cols,
                                specs=(dc.Total(row="All", column="all"), *links,
                                       dc.Same(("All", "all"), _K_PEOPLE, part=True)), label_column="age_band")
        return self._add(Section("demographics", "Who was supported",
                                 "Age is reached during the financial year; each person is counted once.", [t]))

    def _age_sex_table(self) -> tuple[pd.DataFrame, list[str]]:
        """People supported by age band and sex, as published (and its count columns)."""
        st, y = self.study, self.year
        act = self._active_episodes()
        first = act.sort_values(["person_id", "start_date"], kind="stable").drop_duplicates("person_id")
        ppl = first[["person_id", "start_date"]].merge(st.people, on="person_id", how="left")
        age = y - ppl["birth_year"].astype("float64")  # age during the year
        ppl = ppl.assign(age_band=domain.age_band(age))
        sexes = list(domain.SEXES) + sorted(set(ppl["sex"].dropna().astype(str).unique()) - set(domain.SEXES))
        cnt = ppl.groupby([ppl["age_band"].astype(str), ppl["sex"].astype(str)]).size()
        tab = pd.DataFrame(0, index=list(domain.AGE_BANDS), columns=sexes, dtype="int64")
        for (band, sex), n in cnt.items():
            if band in tab.index and sex in tab.columns:
                tab.loc[band, sex] = int(n)
        tab["all"] = tab.sum(axis=1)
        tab.loc["All"] = tab.sum(axis=0)
        tab = tab.rename_axis(index=None, columns=None).reset_index(names="age_band")
        cols = sexes + ["all"]
        # The grand total is the headline's people supported: suppressed here only when it is there.
        grand = [("All", "all")]
        shown = self._headline_shown()[_PEOPLE]
        fixed, hidden = self._across("age_sex", grand if shown else (), () if shown else grand)
        out = dc.suppress(tab, cols, total_column="all", total_row="All", label_column="age_band",
                          fixed=fixed, hidden=hidden)
        return out, cols

    def completeness(self) -> Section:
        """How complete the year's Journey of Change records are, overall and by outcome area."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        tables = self._completeness_tables()
        by_pub = tables[-1].data.iloc[:-1]  # the figure: the outcome areas

        fig, ax = plt.subplots(figsize=(8, 4.2))
        yy = np.arange(len(by_pub))[::-1]
        vals = [v if _is_number(v) else np.nan for v in by_pub["percent_two_plus"]]
        ax.barh(yy, np.nan_to_num(vals), color=PALETTE[2])
        for yi, v in zip(yy, by_pub["percent_two_plus"]):
            mark = f"{v:.0f}%" if _is_number(v) else ("no need" if pd.isna(v) else str(v))
            ax.annotate(mark, (np.nan_to_num(v) if _is_number(v) else 0, yi),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
        ax.set_yticks(yy, by_pub["outcome"], fontsize=8)
        ax.set_xlim(0, 105)
        ax.set_xlabel("% of episodes with a need that have two or more scored readings")
        ax.set_title(f"{self.label}: records that can show change", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        figs = [self._publish_figure("completeness", "Share of episodes with a need in each area that have "
                                     "at least two scored readings (start and a later one)", fig)]
        text = ("A blank score means *no need in this area*, not a missing value. Change can only be measured "
                "for episodes with at least two scored readings in an area.")
        return self._add(Section("completeness", "Data completeness", text, tables, figs))

    def _completeness_tables(self) -> list[PublishedTable]:
        """The completeness tables, as published (overall, by outcome area)."""
        st, y = self.study, self.year
        ep = st.episodes
        act = self._active_episodes()
        act_ids = set(act["episode_id"])
        year_end = domain.fy_bounds(y)[1]
        # Readings of the active episodes up to the year's end (as every analysis section sees them).
        rd_all = st.readings[st.readings["episode_id"].isin(act_ids) & (st.readings["reading_date"] <= year_end)]
        # Every reading taken in the year (follow-ups after an earlier end included), as in the headline.
        rd = st.readings[_in_year(st.readings["reading_date"], y)]
        started = ep[_in_year(ep["start_date"], y)]
        with_start = rd_all.loc[rd_all["reading_type"] == "start", "episode_id"]
        ended = ep[_in_year(ep["end_date"], y)]
        with_end = rd_all.loc[rd_all["reading_type"] == "end", "episode_id"]
        planned = ended[ended["end_reason"] == "planned"]
        no_reason = int(ended["end_reason"].isna().sum())
        read_in_year = int(act["episode_id"].isin(rd["episode_id"]).sum())

        # Each count sits beside its base: the share with the reading, and what is left without it, are
        # derived from the two and protected with them.
        m_started, m_ended, m_planned, m_none, m_active = (
            "Episodes started in the year", "Episodes ended in the year", "Planned ends in the year",
            "Ended episodes without an end reason", "Active episodes in the year")
        overall = pd.DataFrame({
            "measure": [m_started, m_ended, m_planned, m_none, m_active],
            "episodes": [len(started), len(ended), len(planned), no_reason, len(act)],
            "with_reading": [int(started["episode_id"].isin(with_start).sum()),
                             int(ended["episode_id"].isin(with_end).sum()),
                             int(planned["episode_id"].isin(with_end).sum()), np.nan, read_in_year],
        })
        overall["percent_with_reading"] = _pct(overall["with_reading"], overall["episodes"])
        sums = (dc.Sum(("with_reading",), "episodes"),
                dc.Sum(((m_planned, "episodes"), (m_none, "episodes")), (m_ended, "episodes")),
                dc.Sum(((m_planned, "with_reading"),), (m_ended, "with_reading")))
        # Episodes started, ended and active are the headline's: suppressed here exactly when they are there.
        shown = self._headline_shown()
        repeats = {(m_started, "episodes"): _STARTED, (m_ended, "episodes"): _ENDED, (m_active, "episodes"): _ACTIVE}
        fixed, hidden = self._across("completeness", [c for c, m in repeats.items() if shown[m]],
                                     [c for c, m in repeats.items() if not shown[m]])
        overall_pub = dc.suppress(overall, ["episodes", "with_reading"], label_column="measure", sums=sums,
                                  derived={"percent_with_reading": ["episodes", "with_reading"]},
                                  fixed=fixed, hidden=hidden)
        tables = [self._publish_table(
            "completeness", f"Completeness of the records, {self.label}: episodes, and those with the reading that "
            "should be there (started: a start reading; ended and planned ends: an end reading; active: any reading "
            "in the year)", overall_pub, ["episodes", "with_reading"],
            specs=(*sums, dc.Share("percent_with_reading", "episodes", scale=100, decimals=1),
                   dc.Same("episodes", "completeness episodes | {row}", "sum"),
                   dc.Same("with_reading", "completeness with the reading | {row}", "sum"),
                   dc.Same((m_started, "episodes"), _K_STARTED), dc.Same((m_ended, "episodes"), _K_ENDED),
                   dc.Same((m_active, "episodes"), _K_ACTIVE)),
            label_column="measure")]

        rows = []
        scored_all = rd_all[rd_all["score"].notna()]
        n_scored_per = scored_all.groupby(["outcome", "episode_id"], observed=True).size()
        for code in domain.OUTCOME_CODES:
            r = rd[rd["outcome"] == code]
            per = n_scored_per.xs(code, level="outcome") if code in n_scored_per.index.get_level_values(0) else \
                pd.Series(dtype="int64")
            rows.append({"outcome": domain.OUTCOMES[code].name, "readings": len(r),
                         "scored": int(r["score"].notna().sum()), "blank_no_need": int(r["score"].isna().sum()),
                         "episodes_with_need": int((per > 0).sum()), "episodes_two_plus": int((per >= 2).sum())})
        by_out = pd.DataFrame(rows)
        # A total row of readings so that the headline's totals cannot be used to recover a suppressed area by
        # subtraction. Episodes have needs in several areas, so their columns add up to no total: left blank.
        by_out.loc[len(by_out)] = {"outcome": "All outcome areas", "readings": len(rd),
                                   "scored": int(rd["score"].notna().sum()),
                                   "blank_no_need": int(rd["score"].isna().sum()),
                                   "episodes_with_need": np.nan, "episodes_two_plus": np.nan}
        by_out["percent_scored"] = _pct(by_out["scored"], by_out["readings"])
        by_out["percent_two_plus"] = _pct(by_out["episodes_two_plus"], by_out["episodes_with_need"])
        cc = ["readings", "scored", "blank_no_need", "episodes_with_need", "episodes_two_plus"]
        # scored + blank = readings along each row; each column adds up to the total row. The episodes with two
        # or more readings are the distance table's episodes compared: when those with a need but one reading
        # are few, it is the episodes with a need that are suppressed.
        two_plus = dc.Sum(("episodes_two_plus",), "episodes_with_need")
        _, hidden = self._across("completeness_by_outcome")
        by_pub = dc.suppress(by_out, cc, total_column={"readings": ["scored", "blank_no_need"]},
                             total_row="All outcome areas", label_column="outcome", sums=[two_plus],
                             fixed=["episodes_two_plus"], hidden=hidden,
                             derived={"percent_scored": ["scored", "readings"],
                                      "percent_two_plus": ["episodes_with_need", "episodes_two_plus"]})
        by_pub = by_pub[["outcome", *cc, "percent_scored", "percent_two_plus"]]
        tables.append(self._publish_table(
            "completeness_by_outcome",
            f"Readings in the year and episodes with enough scored readings (to {year_end:%d %B %Y}) to measure "
            f"change, by outcome area, {self.label} (blank = no need in this area)", by_pub, cc,
            specs=(two_plus, dc.Sum(("scored", "blank_no_need"), "readings"),
                   dc.Share("percent_scored", "readings", scale=100, decimals=1),
                   dc.Share("percent_two_plus", "episodes_with_need", scale=100, decimals=1),
                   dc.Total(row="All outcome areas", column="readings", parts=("scored", "blank_no_need")),
                   *(dc.Same(c, f"{c} | outcome {{row}}", "sum") for c in cc),
                   dc.Same("episodes_two_plus", _K_COMPARED, "sum"),
                   dc.Same(("All outcome areas", "readings"), _K_READINGS),
                   dc.Same(("All outcome areas", "scored"), _K_SCORED)), label_column="outcome"))
        return tables


    # ------------------------------------------------------- analyses
    def _year_study(self) -> Study:
        """Episodes active in the year, with their readings up to the year's end (as of 31 March)."""
        if getattr(self, "_ys", None) is None:
            st = self.study
            ep = self._active_episodes()
            end = domain.fy_bounds(self.year)[1]
            rd = st.readings[(st.readings["reading_date"] <= end) & st.readings["episode_id"].isin(ep["episode_id"])]
            ppl = st.people[st.people["person_id"].isin(ep["person_id"].unique())]
            self._ys = Study(ppl.reset_index(drop=True), ep.reset_index(drop=True), rd.reset_index(drop=True),
                             st.spend, truth=st.truth, source=st.source)
        return self._ys

    def distance(self) -> Section:
        """Distance travelled in each of the 11 outcome areas: first vs latest reading by the year's end."""
        import matplotlib

        matplotlib.use("Agg")
        from .distance import plot_profile

        d = self._distance_frame()
        pub = self._distance_published().drop(columns="code")
        stats_cols = ["mean_first", "mean_latest", "mean_change", "ci_lower", "ci_upper"]
        tables = [self._publish_table(
            "distance_travelled", f"Distance travelled by outcome area: first vs latest reading by "
            f"{domain.fy_bounds(self.year)[1]:%d %B %Y}, episodes active in {domain.fy_label(self.year)}, {self.area}",
            pub, ["n_compared"], specs=(*_DISTANCE_SPECS, dc.Same("n_compared", _K_COMPARED, "sum", part=True)),
            label_column="outcome")]
        # The figure shows the published values only: areas whose means are suppressed are left out, and an
        # interval suppressed in the table is not written.
        full = np.array([all(_is_number(v) for v in row) for row in pub[["n_compared", *stats_cols[:3]]].to_numpy()])
        shown = pd.DataFrame({"outcome": d["outcome"].to_numpy()[full],
                              "n": pub.loc[full, "n_compared"].astype("int64").to_numpy(),
                              **{c: pd.to_numeric(pub.loc[full, c], errors="coerce").astype(float).to_numpy()
                                 for c in stats_cols}})
        shown = shown[shown["n"] > 0]
        figs = []
        if len(shown):
            fig = plot_profile(shown, kind="dots", title=f"{self.label}: distance travelled (first vs latest stage)")
            for t in fig.axes[0].texts:
                if "nan" in t.get_text():
                    t.set_text(t.get_text().replace(" (+nan, +nan)", " (CI suppressed)"))
            figs.append(self._publish_figure("distance_travelled", "Mean stage at the first and the latest reading "
                                             "in each outcome area, with the mean change and its 95% CI "
                                             "(areas whose means are suppressed in the table are not shown)", fig))
        text = ("For every episode active in the year and every outcome area with a need, the first score is compared "
                "with the latest score recorded by the end of the year. Episodes with a single reading cannot show "
                "change and are left out. The interval is a 95% t interval of the mean change; *improved* means a "
                "higher stage at the latest reading.")
        return self._add(Section("distance", "Distance travelled in the 11 outcome areas", text, tables, figs))

    def trajectories(self, outcome: str | None = None, min_episodes: int = 30) -> Section:
        """The trajectory (linear mixed) model of one headline outcome area.

        The area is ``outcome`` or, by default, the one with the most episodes
        with two or more scored readings. Fitted only with at least
        ``min_episodes`` such episodes.
        """
        import warnings

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .trajectories import TrajectoryWarning, fit_trajectories

        ys = self._year_study()
        scored = ys.readings[ys.readings["score"].notna()]
        per = scored.groupby(["outcome", "episode_id"], observed=True).size()
        usable = (per >= 2).groupby(level="outcome", observed=True).sum()
        usable = usable.reindex(list(domain.OUTCOME_CODES), fill_value=0)
        code = domain.outcome_code(outcome) if outcome else str(usable.idxmax())
        name = domain.OUTCOMES[code].name
        n_use = int(usable[code])
        heading = f"Trajectory model: {name}"
        if n_use < min_episodes:
            return self._add(Section("trajectories", heading,
                                     f"Too few episodes with two or more scored readings in *{name}* in {self.area} "
                                     f"to fit the model (the report needs at least {min_episodes})."))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrajectoryWarning)
            fit = fit_trajectories(ys, outcome=code)
        fe = fit.fixed_effects.reset_index()
        labels = {"Intercept": "Stage at the start of support", "time": "Change in stage per year of support"}
        fe["term"] = [labels.get(t, t) for t in fe["term"]]
        fe = fe[["term", "estimate", "std_error", "ci_lower", "ci_upper", "p"]].round(
            {"estimate": 3, "std_error": 3, "ci_lower": 3, "ci_upper": 3, "p": 4})
        vc = fit.variance_components().reset_index().round({"estimate": 3})
        info = pd.DataFrame({"measure": ["Readings", "Episodes", "Episodes with a single reading", "Method",
                                         "Converged"],
                             "value": [fit.nobs, fit.ngroups, fit.n_single_reading, fit.method, str(fit.converged)]})
        # The episodes with two or more readings are published (distance table, episodes compared): with the
        # episodes fitted they would give the single-reading ones away, so when those are few the total goes.
        single = dc.Sum((("Episodes with a single reading", "value"),), ("Episodes", "value"), rest_published=True)
        info = dc.suppress(info.iloc[:3], ["value"], label_column="measure", sums=[single]).pipe(
            lambda t: pd.concat([t, info.iloc[3:]], ignore_index=True))
        tables = [self._publish_table("trajectory_fixed_effects", f"Trajectory model for {name}, {self.label}: "
                                      "fixed effects (95% Wald CIs)", fe, free=_numeric_columns(fe)),
                  # Model parameters of at least min_episodes episodes: no column describes a small group.
                  self._publish_table("trajectory_variance", f"Trajectory model for {name}: random-effect SDs and "
                                      "correlation, residual SD", vc,
                                      free=_numeric_columns(vc)),
                  self._publish_table("trajectory_fit", f"Trajectory model for {name}: data and fit", info,
                                      specs=(single,), label_column="measure")]
        # The population mean trajectory only: individual episodes' lines are never drawn in a report.
        tmax = float(min(np.quantile(fit._frame[fit.design.time], 0.95), 5.0))
        pred = fit.predict(pd.DataFrame({fit.design.time: np.linspace(0, tmax, 30)}))
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.fill_between(pred[fit.design.time], pred["lower"], pred["upper"], color=PALETTE[0], alpha=0.25,
                        label="95% CI")
        ax.plot(pred[fit.design.time], pred["mean"], color=PALETTE[0], label="Mean trajectory")
        ax.set_ylim(1, 5)
        ax.set_yticks([1, 2, 3, 4, 5], [domain.SCALE_SHORT[k] for k in range(1, 6)], fontsize=8)
        ax.set_xlabel("Years since the start of support")
        ax.set_title(f"{self.label}: {name}", fontsize=10)
        ax.legend(frameon=False, fontsize=8, loc="lower right")
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        figs = [self._publish_figure("trajectory", f"Estimated mean Journey of Change stage in {name} by time in "
                                     "support (linear mixed model)", fig)]
        text = (f"A linear mixed model of the score in *{name}* (the area with the most episodes with repeated "
                "scores) on years since the start of support, with a random start level and rate of change for each "
                "episode, fitted by REML to every scored reading of the episodes active in the year, up to its end. "
                "The stage is treated as a number; the model describes the average journey, not any one person's.")
        return self._add(Section("trajectories", heading, text, tables, figs))

    def transitions(self, outcome: str | None = None, min_episodes: int = 30) -> Section:
        """Moves between stages in the headline outcome area: observed transitions and a multi-state model.

        The table counts moves between consecutive readings (small counts suppressed, with
        secondary suppression along rows and columns; shares on suppressed bases hidden). With at
        least ``min_episodes`` episodes with two or more readings, a continuous-time Markov model
        (as R's msm) gives each stage's mean sojourn and the expected time to first reach stage 5.
        """
        import warnings

        import matplotlib

        matplotlib.use("Agg")
        from .distance import transition_matrix
        from .transitions import fit_transitions

        code = domain.outcome_code(outcome) if outcome else self._headline_outcome()
        name = domain.OUTCOMES[code].name
        ys = self._year_study()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            tm = transition_matrix(ys, outcome=code)
        wide = tm.pivot(index="from_stage", columns="to_stage", values="count").reindex(
            index=range(1, 6), columns=range(1, 6), fill_value=0).fillna(0).astype("int64")
        to_cols = [f"to stage {k}" for k in range(1, 6)]
        wide.columns = to_cols
        wide["all moves"] = wide[to_cols].sum(axis=1)
        for k, c in zip(range(1, 6), to_cols):
            wide[f"% {c}"] = _pct(wide[c].to_numpy(), wide["all moves"].to_numpy()).round(1)
        wide.insert(0, "from", [domain.SCALE_SHORT[k] for k in range(1, 6)])
        wide = wide.reset_index(drop=True)
        pct_cols = [f"% {c}" for c in to_cols]
        pub = dc.suppress(wide, [*to_cols, "all moves"], total_column="all moves",
                          derived={p_: [c, "all moves"] for p_, c in zip(pct_cols, to_cols)})
        tables = [self._publish_table(
            "transitions_observed", f"Moves between consecutive readings in {name}, episodes active in "
            f"{domain.fy_label(self.year)}, {self.area}: counts and row shares", pub, [*to_cols, "all moves"],
            specs=(dc.Sum(tuple(to_cols), "all moves"), dc.Parts(tuple(pct_cols), "all moves", scale=100, decimals=1)))]
        figs = []
        scored = ys.readings[(ys.readings["outcome"] == code) & ys.readings["score"].notna()]
        n_use = int((scored.groupby("episode_id", observed=True).size() >= 2).sum())
        text = (f"Each pair of consecutive scored readings of an episode in *{name}* is one move (staying at the same "
                "stage counts as a move to it).")
        if n_use >= min_episodes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_transitions(ys, outcome=code)
            soj = fit.sojourn().reset_index()
            fp = fit.first_passage(5).reset_index()
            model = pd.DataFrame({
                "stage": [domain.SCALE_SHORT[int(k)] for k in soj["state"]],
                "mean years in stage": soj["mean_years"].round(2),
                "95% CI": [f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(soj["lower"], soj["upper"])],
                "expected years to first reach stage 5": fp["mean_years"].round(2).to_numpy(),
            })
            tables.append(self._publish_table(
                "transitions_model", f"Multi-state model of {name}, {self.label}: mean time in each stage and "
                "expected time to first reach stage 5 (converged: " + str(bool(fit.converged)) + ")", model,
                free=_numeric_columns(model)))
            figs.append(self._publish_figure(
                "transitions_model", f"Probability of being at each stage over time from each starting stage in "
                f"{name} (multi-state Markov model)", fit.plot()))
            text += (" The multi-state model treats the five stages as states of a continuous-time Markov chain "
                     "observed only at reading dates (the Kalbfleisch–Lawless likelihood, as R's msm), with moves "
                     "allowed to the adjacent stages in both directions.")
        else:
            text += (f" Too few episodes with two or more readings ({'<5' if 0 < n_use < 5 else n_use}; the model "
                     f"needs {min_episodes}) to fit the multi-state model.")
        return self._add(Section("transitions", f"Transitions between stages: {name}", text, tables, figs))

    def _headline_outcome(self) -> str:
        """The outcome area with the most episodes with two or more scored readings in the year."""
        ys = self._year_study()
        scored = ys.readings[ys.readings["score"].notna()]
        per = scored.groupby(["outcome", "episode_id"], observed=True).size()
        usable = (per >= 2).groupby(level="outcome", observed=True).sum()
        return str(usable.reindex(list(domain.OUTCOME_CODES), fill_value=0).idxmax())

    def _survival_table(self, t: pd.DataFrame, values: dict[str, str], *, ci: bool = True,
                        hidden_n: bool = False) -> tuple[pd.DataFrame, tuple]:
        """A curve's table (rows: months, per group) as published, and its disclosure declarations.

        ``values`` maps the shares (0-1) to publish as percentages to their published names; the first is the
        estimate whose ``ci_lower`` / ``ci_upper`` are published with it (``ci``). The rows of one group
        (outcome) are a series: a share at 6 months and one at 12 must not differ by 1-4 people, nor may the
        numbers still at risk. ``hidden_n``: the base is suppressed because another table would give it away.
        """
        t = t.copy()
        group = [c for c in ("outcome",) if c in t.columns]
        if "outcome" in t.columns:
            t["outcome"] = [domain.OUTCOMES[c].name if c in domain.OUTCOMES else c for c in t["outcome"]]
        cis = [c for c in ("ci_lower", "ci_upper") if ci and c in t.columns]
        for c in [*values, *cis]:
            t[c] = 100 * t[c].astype(float)
        t[cis] = t[cis].round(1)
        t = t.drop(columns=[c for c in ("ci_lower", "ci_upper") if c not in cis and c in t.columns])
        t = t.rename(columns=values)
        counts = [c for c in ("n", "at_risk") if c in t.columns]
        for c in counts:
            t[c] = t[c].fillna(0).astype("int64")
        key = tuple(group) or ("n",)  # without groups the whole table is one series (n is the same in every row)
        names = list(values.values())
        specs = [dc.Share(v, "n", scale=100, series=key, decimals=1) for v in names]
        if "at_risk" in t.columns:
            specs.append(dc.Share("at_risk", "n", count=True, series=key))
        specs.append(dc.Together((names[0], *cis)))
        pub = dc.suppress(t, counts, derived={c: ["n"] for c in [*names, *cis]},
                          hidden=["n"] if hidden_n else ())
        return dc.suppress_shares(pub, specs), tuple(specs)

    def _distance_frame(self) -> pd.DataFrame:
        """``distance_travelled`` of the year's episodes (first vs latest), one row per outcome code (cached)."""
        if getattr(self, "_dist", None) is None:
            import warnings

            from .distance import SingleReadingWarning, distance_travelled

            with warnings.catch_warnings():
                # Areas without scores and single readings are shown in the table itself.
                warnings.simplefilter("ignore", SingleReadingWarning)
                warnings.simplefilter("ignore", UserWarning)
                d = distance_travelled(self._year_study(), compare="latest")
            self._dist = d.set_index("outcome").reindex(list(domain.OUTCOME_CODES)).reset_index()
        return self._dist

    def _distance_published(self) -> pd.DataFrame:
        """The distance table as published (cached; column ``code`` added): other sections follow it."""
        if getattr(self, "_dist_pub", None) is None:
            d = self._distance_frame().copy()
            for c in ("n_episodes", "n", "n_single_reading"):
                d[c] = d[c].fillna(0).astype("int64")
            stats_cols = ["mean_first", "mean_latest", "mean_change", "ci_lower", "ci_upper"]
            pct_cols = ["pct_improved", "pct_same", "pct_worse"]
            # Only the episodes compared are counted: publishing the episodes with a need as well would
            # give away the (often small) number with a single reading by subtraction.
            num = d[["n", *stats_cols, *pct_cols]].copy()
            num.insert(0, "outcome", [domain.OUTCOMES[c].name for c in d["outcome"]])
            num[["ci_lower", "ci_upper"]] = num[["ci_lower", "ci_upper"]].round(2)
            num = num.rename(columns={"n": "n_compared"})
            pub = dc.suppress(num, ["n_compared"], derived={c: ["n_compared"] for c in stats_cols + pct_cols})
            pub = dc.suppress_shares(pub, _DISTANCE_SPECS)
            self._dist_pub = pub.assign(code=d["outcome"].to_numpy())
        return self._dist_pub

    def _within_published(self, part: int, code: str) -> bool:
        """Whether a count of episodes of outcome ``code`` that lies within the distance table's episodes
        compared must be suppressed: the difference of the two would be a small count."""
        d = self._distance_frame().set_index("outcome")
        whole = int(d.at[code, "n"]) if pd.notna(d.at[code, "n"]) else 0
        if whole < dc.THRESHOLD:  # suppressed there: nothing to subtract from
            return False
        t = pd.DataFrame({"whole": [max(whole, part)], "part": [min(whole, part)]})
        out = dc.suppress(t, ["whole", "part"], sums=[dc.Sum(("part",), "whole")], fixed=["whole"])
        return out.at[0, "part"] in (dc.PRIMARY, dc.SECONDARY)

    def lasting_impact(self, n_boot: int = 50) -> Section:
        """Whether gains last after a planned end (follow-up readings) and re-referral after it."""
        import warnings

        from .survival import sustained_outcomes

        end = domain.fy_bounds(self.year)[1]
        st = self.study
        # Everything known by the year's end: gains of earlier years can be followed up this year.
        rd = st.readings[st.readings["reading_date"] <= end]
        ep = st.episodes[st.episodes["start_date"] <= end]
        upto = Study(st.people, ep, rd, st.spend)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = sustained_outcomes(upto, by="outcome", n_boot=n_boot, seed=self.seed, censor_date=end)
        except ValueError as exc:
            return self._add(Section("lasting_impact", "Lasting impact", "", notes=[
                f"Lasting impact could not be estimated for {self.area}: {_reason(exc)}"]))
        at = res.at_months() if callable(res.at_months) else res.at_months
        sus, sus_specs = self._survival_table(at, {"survival": "percent_sustained"})
        rr, rr_specs = self._survival_table(res.rereferral, {"cumulative_incidence": "percent_re_referred",
                                                             "died": "died", "moved_away": "moved_away"})
        tables = [self._publish_table("sustained_outcomes", f"Share of end-of-support levels sustained (no loss of a "
                                      f"stage) 6, 12 and 24 months after a planned end, by outcome area, {self.area}, "
                                      f"data to {end:%d %B %Y}", sus, ["n", "at_risk"], specs=sus_specs,
                                      free=("months",)),
                  self._publish_table("re_referral", f"Re-referral after a planned end, {self.area} (died, moved "
                                      "away: percentages, the competing events)", rr,
                                      [c for c in ("n", "at_risk") if c in rr.columns], specs=rr_specs,
                                      free=("months",))]
        text = ("After a planned end of support, follow-up readings show whether the level reached was kept. The "
                "share sustained is estimated allowing for the interval between follow-ups (Turnbull estimator), "
                f"with 95% bootstrap intervals ({n_boot} replicates, seed {self.seed}); re-referral is a cumulative "
                "incidence. Both use all episodes that ended by the year's end.")
        curves = res.curves.assign(outcome=[domain.OUTCOMES[c].name if c in domain.OUTCOMES else c
                                            for c in res.curves["outcome"]])
        kept, notes = self._curve_points(curves, sus, "percent_sustained", "outcome")
        figs = []
        if len(kept):
            import dataclasses

            import matplotlib

            matplotlib.use("Agg")
            top = (sus.assign(n=pd.to_numeric(sus["n"], errors="coerce")).drop_duplicates("outcome")
                   .nlargest(8, "n")["outcome"])
            kept = kept[kept["outcome"].isin(set(top))]
            fig = dataclasses.replace(res, curves=kept).plot(max_groups=8)
            fig.axes[0].set_title(f"{self.label}: outcome levels sustained after a planned end", fontsize=10)
            figs.append(self._publish_figure(
                "sustained_outcomes", "Share of end-of-support levels sustained by months after a planned end, by "
                "outcome area (the 8 areas with the most episodes followed), with 95% bootstrap bands; drawn "
                "through the points the disclosure rule allows", fig,
                kept[["outcome", "time", "survival", "ci_lower", "ci_upper", "n"]]))
        return self._add(Section("lasting_impact", "Lasting impact", text, tables, figs, notes))

    def time_to_independence(self, outcome: str | None = None, stage: int = 5, n_boot: int = 100) -> Section:
        """Time from the start of support to first reaching ``stage`` in the headline outcome area.

        The shares reaching it at 6, 12 and 24 months carry 95% percentile bootstrap intervals from
        ``n_boot`` replicates (seeded with the report's seed).
        """
        import warnings

        from .survival import time_to_independence

        code = domain.outcome_code(outcome) if outcome else self._headline_outcome()
        name = domain.OUTCOMES[code].name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Only the curves are published: covariates=None skips the Cox model, which the report does
                # not show and which is most of the cost at national scale.
                res = time_to_independence(self._year_study(), outcome=code, stage=stage, covariates=None,
                                           n_boot=n_boot, seed=self.seed)
        except ValueError as exc:
            return self._add(Section("time_to_independence", f"Time to independence: {name}", "", notes=[
                f"Time to independence could not be estimated for {self.area}: {_reason(exc)}"]))
        # The episodes followed lie within the distance table's episodes compared for this area.
        n_followed = int(res.survival_at["n"].iloc[0]) if len(res.survival_at) else 0
        within = self._within_published(n_followed, code)
        # The interval of the share reaching the stage is that of the share not yet there, turned over.
        sa = res.survival_at.assign(ci_lower=1 - res.survival_at["ci_upper"], ci_upper=1 - res.survival_at["ci_lower"])
        t, specs = self._survival_table(sa, {"reached": "percent_reached", "survival": "percent_not_yet"},
                                        ci=n_boot > 0, hidden_n=within)
        specs = (*specs, dc.Together(("percent_reached", "percent_not_yet")))
        t = dc.suppress_shares(t, specs)
        t = t[[c for c in ("months", "percent_not_yet", "percent_reached", "ci_lower", "ci_upper", "at_risk", "n")
               if c in t.columns]]
        tables = [self._publish_table("time_to_independence", f"Share reaching stage {stage} in {name} within 6, 12 "
                                      f"and 24 months of the start of support (95% interval of the share reaching "
                                      f"it), {self.label}", t, [c for c in ("n", "at_risk") if c in t.columns],
                                      specs=specs, free=("months",))]
        text = (f"For episodes active in the year that started below stage {stage} in *{name}*, the time to the first "
                f"reading at stage {stage} ({domain.SCALE[stage].lower()}), allowing for the interval between "
                "readings (Turnbull estimator)"
                + (f", with 95% percentile bootstrap intervals ({n_boot} replicates, seed {self.seed})." if n_boot
                   else "; no intervals (n_boot=0)."))
        kept, notes = self._curve_points(res.curves, t, "percent_not_yet", None)
        if within:
            notes = [f"The episodes followed here differ in number from the distance table's episodes compared in "
                     f"{name} by fewer than 5 (episodes already at stage {stage} at their first reading, or scored "
                     "twice only after support ended): the two numbers together would reveal them, so this table "
                     "and its figure are suppressed."]
        figs = []
        if len(kept):
            import dataclasses

            import matplotlib

            matplotlib.use("Agg")
            fig = dataclasses.replace(res, curves=kept).plot(at_risk=False)
            ax = fig.axes[0]
            ax.set_title(f"{self.label}: time to stage {stage} in {name}", fontsize=10)
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            figs.append(self._publish_figure(
                "time_to_independence", f"Share not yet at stage {stage} in {name} by months since support started, "
                + ("with its 95% bootstrap band; " if n_boot else "") + "drawn through the points the disclosure rule "
                "allows (no numbers at risk are drawn)", fig, kept[["time", "survival", "ci_lower", "ci_upper", "n"]]))
        return self._add(Section("time_to_independence", f"Time to independence: {name}", text, tables, figs, notes))

    def _curve_points(self, curves: pd.DataFrame, table: pd.DataFrame, value: str,
                      by: str | None) -> tuple[pd.DataFrame, list[str]]:
        """The points of survival curves a figure may draw, and notes on what it leaves out and why.

        A group is drawn only when its base ``n`` is published and at least 5. Within it, the points of the
        monthly grid are a series with the table's months (:func:`longitudinal.disclosure.series_mask`): the
        months the table shows are kept first, the months it hides are never drawn, and a grid point is drawn
        only if neither it, nor what it leaves out, nor its difference from any point drawn comes to 1-4 people.
        Lines join the points drawn.
        """
        keep, left_out = [], []
        groups = [(None, curves)] if by is None else list(curves.groupby(by, observed=True, sort=True))
        for key, sub in groups:
            rows = table if by is None else table[table[by] == key]
            label = "" if by is None else f"{key}: "
            n = rows["n"].iloc[0] if len(rows) else dc.SECONDARY
            if not _is_number(n) or n < dc.THRESHOLD:
                left_out.append(f"{label}fewer than {dc.THRESHOLD} episode-areas, or a base that is suppressed")
                continue
            sub = sub.sort_values("time")
            shown = {float(m): v for m, v in zip(rows["months"], rows[value])}
            t = sub["time"].to_numpy(dtype=float)
            first = [i for i, x in enumerate(t) if x in shown and _is_number(shown[x])]
            forbid = [i for i, x in enumerate(t) if x in shown and not _is_number(shown[x])]
            hidden = dc.series_mask(n * (1 - sub["survival"].to_numpy(dtype=float)), n, first=first, forbid=forbid)
            if (~hidden).sum() < 2:
                left_out.append(f"{label}too few points can be drawn without revealing 1-4 people")
                continue
            keep.append(sub[~hidden].assign(n=int(n)))
        notes = []
        if left_out:
            what = "The curve is" if by is None else "Curves are"
            notes.append(f"{what} not drawn for " + "; ".join(left_out) + " (a curve of so few would show single "
                         "people's events).")
        return (pd.concat(keep, ignore_index=True) if keep else curves.iloc[:0]), notes

    def outcome_map(self, map_path: str | Path | None = None) -> Section:
        """The programme's outcome map, each step rated for progress and confidence from this area's data."""
        import warnings

        import matplotlib

        matplotlib.use("Agg")
        from .indicators import available as available_indicators
        from .outcome_maps import OutcomeMap, rollup, shipped_map_path

        path = map_path or shipped_map_path("supporting_people")
        omap = OutcomeMap.from_yaml(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = rollup(omap, self._year_study(), areas=[self.area])
        keys = ["pathway", "column", "step"]
        iv = r.indicator_values.copy().reset_index(drop=True)
        kinds = dict(zip(*available_indicators()[["name", "kind"]].to_numpy().T))
        iv["kind"] = [kinds.get(n, "mean") for n in iv["indicator"]]
        for c in ("value", "ci_lower", "ci_upper", "missing_share"):
            iv[c] = iv[c].astype(float)
        iv[["ci_lower", "ci_upper"]] = iv[["ci_lower", "ci_upper"]].round(3)
        iv["n"] = iv["n"].fillna(0).astype("int64")
        iv["row"] = np.arange(len(iv))
        # An indicator of a subgroup (a service type, a lead need) counts episodes within the distance table's
        # episodes compared: suppressed when the two differ by a small count.
        params = [dict(kv.split("=", 1) for kv in str(p).split(", ") if "=" in kv) for p in iv["params"]]
        nested = [i for i, p in enumerate(params)
                  if iv.at[i, "kind"] != "count" and iv.at[i, "indicator"] != "sustained_at_months"
                  and set(p) & {"local_authority", "lead_need", "service_type"} and p.get("outcome") in domain.OUTCOMES
                  and self._within_published(int(iv.at[i, "n"]), p["outcome"])]
        cols = [*keys, "indicator", "params", "kind", "n", "value", "ci_lower", "ci_upper", "missing_share",
                "progress", "confidence"]
        iv_pub = dc.suppress(iv[["row", *cols]], ["n"], label_column="row", hidden=[(i, "n") for i in nested],
                             derived={c: ["n"] for c in ("value", "ci_lower", "ci_upper", "missing_share")})
        # The missing share of a count indicator is of a base the table does not show (all episodes with a
        # reading): with another row of the same area it can give a small count away, so only 0 is shown.
        count_miss = ((iv["kind"] == "count") & (iv["missing_share"] > 0)).to_numpy()
        iv_pub["missing_share"] = dc.hide(iv_pub["missing_share"], count_miss)
        # The share improving and the mean change of a whole area are the distance table's figures: suppressed
        # here when they are there, or the two tables together would undo each other's protection.
        # (The mean change's interval is the distance table's too: hidden there, it hides the value here.)
        dist = self._distance_published().set_index("code")
        same = {"share_improving": ("pct_improved",), "mean_change": ("mean_change", "ci_lower", "ci_upper")}
        as_dist = np.array([iv.at[i, "indicator"] in same and set(p) == {"outcome"} and p["outcome"] in dist.index
                            and not all(_is_number(dist.at[p["outcome"], c]) for c in same[iv.at[i, "indicator"]])
                            for i, p in enumerate(params)], dtype=bool)
        iv_pub["value"] = dc.hide(iv_pub["value"], as_dist & iv_pub["value"].notna().to_numpy())
        iv_pub = dc.suppress_shares(iv_pub, _INDICATOR_SPECS).drop(columns="row")
        # A rating rests on its indicators' values and intervals: hidden with any of them.
        small = (iv_pub["n"].isin([dc.PRIMARY, dc.SECONDARY]) | iv_pub["value"].isin([dc.SECONDARY])).to_numpy()
        iv_pub.loc[small, ["progress", "confidence"]] = dc.SECONDARY
        hidden_steps = set(map(tuple, iv.loc[small, keys].to_numpy()))
        rt = r.ratings[[*keys, "progress", "confidence", "basis"]].copy()
        hide_rt = np.array([tuple(k) in hidden_steps for k in rt[keys].to_numpy()], dtype=bool)
        rt["progress"] = dc.hide(rt["progress"], hide_rt)
        rt["confidence"] = dc.hide(rt["confidence"], hide_rt)
        tables = [self._publish_table("outcome_map_ratings", f"Outcome map ratings, {self.label}", rt),
                  self._publish_table("outcome_map_indicators", f"Indicators behind the ratings, {self.label} "
                                      "(value: a proportion, a mean or a count, per kind)", iv_pub, ["n"],
                                      specs=_INDICATOR_SPECS)]
        figs = []
        if not hide_rt.any():
            m = r.maps[self.area]
            for i, pw in enumerate(m.pathways):
                fig = m.plot(pathway=i)
                figs.append(self._publish_figure(f"outcome_map_{i + 1}", f"Outcome map: {getattr(pw, 'name', pw)}",
                                                 fig))
        text = ("The outcome map sets out how support is expected to lead to change, step by step (contribution "
                "analysis). Steps measured by an indicator are rated from this area's data for the episodes active "
                "in the year; the others carry the programme team's ratings (*manual*).")
        notes = ["Some ratings rest on figures that would reveal fewer than 5 episodes and are hidden; the map "
                 "figure is therefore not shown."] if hide_rt.any() else []
        return self._add(Section("outcome_map", "Outcome map", text, tables, figs, notes))

    def social_return(self, impact_map: str | Path | None = None, draws: int = 2000) -> Section:
        """Social return on investment in the year, with its uncertainty (Monte Carlo, seeded).

        The default impact map is the data-driven ``data/impact_maps/example_study.yaml``: its
        quantities are indicators of this area's data and its inputs are this area's spend.
        """
        import warnings

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from . import sroi

        path = impact_map or Path(sroi.DEFAULT_MAP).with_name("example_study.yaml")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = sroi.evaluate(path, self.study, year=self.year)
                mc = res.monte_carlo(draws=draws, seed=self.seed, level=0.90)
            self.sroi_result_ = res
        except (sroi.ImpactMapError, ValueError) as exc:
            self.sroi_result_ = None
            # Typically a small area: too little follow-up to estimate an adjustment from the data.
            return self._add(Section("social_return", "Social return on investment", "", [], [], [
                f"The social return could not be estimated for {self.area} in {domain.fy_label(self.year)}: "
                f"{_reason(exc)}"]))
        self.sroi_map_ = Path(path)
        out = res.outcomes.copy()
        quantity = out["quantity"].astype(float).round().fillna(0).astype("int64")
        small = ((quantity >= 1) & (quantity < dc.THRESHOLD)).to_numpy()
        self.sroi_small_ = bool(small.any())
        lo, hi = mc.interval
        pay = res.payback_months
        head = pd.DataFrame({
            "measure": ["Inputs: spend (GBP, present value)", "Social value (GBP, present value)",
                        "Net present value (GBP)", "SROI ratio (GBP of social value per GBP 1)",
                        "SROI ratio: median of Monte Carlo draws", "SROI ratio: 90% uncertainty interval",
                        "Probability that the ratio is below 1", "Payback (months)"],
            "value": [f"{res.inputs_value:,.0f}", f"{res.present_value:,.0f}", f"{res.npv:,.0f}",
                      f"{res.sroi_ratio:.2f}", f"{mc.median:.2f}", f"{lo:.2f} to {hi:.2f}",
                      f"{mc.prob_below_one:.3f}",
                      "" if pay is None or not np.isfinite(pay) else f"{pay:.1f}"]})
        pub = pd.DataFrame({"outcome": out["outcome"], "stakeholder": out["stakeholder"],
                            "people": quantity, "proxy_value_gbp": out["proxy_value"].astype(float).round(0),
                            "deadweight": out["deadweight"], "attribution": out["attribution"],
                            "drop_off": out["drop_off"].astype(float).round(3), "duration_years": out["duration_years"],
                            "present_value_gbp": out["present_value"].astype(float).round(0)})
        pub = dc.suppress(pub, ["people"], derived={"present_value_gbp": ["people"]})
        if small.any():
            # The total value less the published outcomes would give a suppressed count away (few integer
            # solutions), so every figure built on the total is hidden for this area.
            head.loc[1:, "value"] = dc.SECONDARY
        tables = [self._publish_table("sroi_headline", f"Social return, {self.label}", head, free=("value",)),
                  self._publish_table("sroi_outcomes", f"Social value by outcome, {self.label}", pub, ["people"],
                                      free=_SROI_OUTCOME_FREE)]
        if small.any():
            return self._add(Section("social_return", "Social return on investment", "", tables, [], [
                "An outcome in this area is reached by fewer than 5 people: its count is suppressed, and so are the "
                "social value, the ratio and its uncertainty, which would reveal it."]))
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.hist(mc.ratios, bins=50, color=PALETTE[2])
        ax.axvline(res.sroi_ratio, color="black", lw=1, label=f"estimate {res.sroi_ratio:.2f}")
        ax.axvspan(lo, hi, color=PALETTE[1], alpha=0.2, label=f"90% interval {lo:.2f} to {hi:.2f}")
        ax.axvline(1.0, color=PALETTE[3], ls="--", lw=1, label="break-even (1.0)")
        ax.set_xlabel("SROI ratio (GBP of social value per GBP 1 spent)")
        ax.set_yticks([])
        ax.set_title(f"{self.label}: uncertainty of the social return ({draws:,} draws)", fontsize=10)
        ax.legend(frameon=False, fontsize=8)
        ax.spines[["top", "right", "left"]].set_visible(False)
        fig.tight_layout()
        figs = [self._publish_figure("sroi_uncertainty", "Distribution of the SROI ratio over the Monte Carlo draws "
                                     "of proxies, deadweight, attribution, displacement and drop-off", fig)]
        text = (f"Social value is estimated from the impact map `{Path(path).name}`: the number of people reaching "
                "each outcome in the year (from the Journey of Change readings), a financial proxy for each outcome, "
                "less deadweight, displacement and attribution, with drop-off over the outcome's duration, "
                "discounted at the HM Treasury Green Book rate and set against the year's spend. The uncertainty "
                f"interval comes from {draws:,} Monte Carlo draws of every assumption (seed {self.seed}).")
        notes = ["Outcomes reached by fewer than 5 people are suppressed; the totals still include them."] \
            if small.any() else []
        return self._add(Section("social_return", "Social return on investment", text, tables, figs, notes))

    def social_return_detail(self) -> Section:
        """The social return's summary, assumptions and sensitivity analyses, as they may be published.

        What ``SROIResult.summary()``, ``one_way()`` and ``switching_values()`` show, for this area, under
        the same rule as :meth:`social_return` (run first if it has not been): the number of people reaching
        an outcome is a count, and when one is 1-4 every figure built on the total value (the ratio, the net
        present value, the payback, the one-way ratios, the switching values) is hidden too, since the total
        less the published outcomes would give it away. Adjustments estimated from this area's data are
        shown without the curve values they were estimated from.
        """
        if not hasattr(self, "sroi_result_"):
            self.social_return()
        res = self.sroi_result_
        heading = f"Social return on investment: summary and sensitivity, {self.label}"
        if res is None:
            return self._add(Section("social_return_detail", heading, "", notes=[
                f"The social return could not be estimated for {self.area} in {domain.fy_label(self.year)}."]))
        small = self.sroi_small_
        m = res.impact_map
        hide = (lambda s: dc.SECONDARY) if small else (lambda s: s)
        pay = res.payback_months
        summary = pd.DataFrame({
            "measure": ["Area", "Financial year", "Impact map", "Prices", "GDP deflators", "Discounting",
                        "Inputs: spend (GBP, present value)", "Social value (GBP, present value)",
                        "Net present value (GBP)", "SROI ratio (GBP of social value per GBP 1)", "Net SROI ratio",
                        "Payback (months)"],
            "value": [self.area, domain.fy_label(self.year), Path(self.sroi_map_).name,
                      f"{m.price_year} ({domain.fy_label(m.price_year)})", res.deflators.title, m.discount.describe(),
                      f"{res.inputs_value:,.0f}", hide(f"{res.present_value:,.0f}"), hide(f"{res.npv:,.0f}"),
                      hide(f"{res.sroi_ratio:.2f}"), hide(f"{res.net_sroi_ratio:.2f}"),
                      hide("" if pay is None or not np.isfinite(pay) else f"{pay:.1f}")]})
        adj = res.adjustments[["stakeholder", "outcome", "adjustment", "value", "status", "basis"]].copy()
        adj["value"] = adj["value"].astype(float).round(3)
        # The basis of an estimate quotes the area's sustained-outcome curve, whose values with the lasting
        # impact table's counts could give a small number away: it names the source instead.
        est = (adj["status"] == "estimated").to_numpy()
        adj.loc[est, "basis"] = f"estimated from {self.area}'s data (sustained-outcome curves or a comparison rate)"
        # A fallback's reason quotes how few people the data follow: the map's value is named instead.
        fb = adj["basis"].astype(str).str.startswith("stated fallback").to_numpy()
        adj.loc[fb, "basis"] = f"stated in the impact map ({self.area}'s data are too few to estimate it)"
        adj["basis"] = [_reason(b) for b in adj["basis"]]
        tables = [self._publish_table("sroi_summary", f"Social return: summary, {self.label} (impact map "
                                      f"{Path(self.sroi_map_).name} evaluated on this area's data)", summary,
                                      free=("value",)),
                  self._publish_table("sroi_adjustments", f"Social return: deadweight, displacement, attribution "
                                      f"and drop-off of each outcome, {self.label}", adj, free=("value",))]
        notes = []
        if small:
            notes.append("An outcome in this area is reached by fewer than 5 people: the social value, the ratio "
                         "and every sensitivity analysis built on them are suppressed, since they would reveal it.")
        else:
            ow = res.one_way()
            sv = res.switching_values()
            if len(ow):
                ow = ow[["stakeholder", "outcome", "parameter", "point", "low", "high", "ratio_low", "ratio_high",
                         "swing"]].copy()
                ow[["point", "low", "high"]] = ow[["point", "low", "high"]].astype(float).round(3)
                ow[["ratio_low", "ratio_high", "swing"]] = ow[["ratio_low", "ratio_high", "swing"]].astype(
                    float).round(3)
                tables.append(self._publish_table(
                    "sroi_one_way", f"Social return: one-way sensitivity (the ratio at the low and high end of each "
                    f"assumption's 90% range, the others held), {self.label}", ow,
                    free=("point", "low", "high", "ratio_low", "ratio_high", "swing")))
            sv = sv[["stakeholder", "outcome", "parameter", "point", "switching_value", "change", "share_of_point",
                     "note"]].copy()
            for c in ("point", "switching_value", "change", "share_of_point"):
                sv[c] = sv[c].astype(float).round(3)
            tables.append(self._publish_table(
                "sroi_switching_values", f"Social return: switching values (the value of each assumption, the "
                f"others held, at which the ratio reaches 1), {self.label}", sv,
                free=("point", "switching_value", "change", "share_of_point")))
        text = (f"The impact map `{Path(self.sroi_map_).name}` evaluated on the data of **{self.area}** for "
                f"{domain.fy_label(self.year)}. The one-way analysis moves one assumption at a time across its "
                "90% range; a switching value is how far an assumption must move, the others held, for the "
                "social value to equal the spend. Quantities are numbers of people (counts): they obey the "
                "report's disclosure rule.")
        return self._add(Section("social_return_detail", heading, text, tables, [], notes))

    def methods(self, extra: str = "") -> Section:
        """Methods, definitions, limitations and the disclosure rule."""
        scale = "\n".join(f"| {k} | {v} |" for k, v in domain.SCALE.items())
        across = " " + dc.RULE_ACROSS_AREAS if self.area == WALES and PROTECT_ACROSS_AREAS else ""
        text = f"""
### Definitions
- **Financial year** runs 1 April to 31 March; {domain.fy_label(self.year)} is the year reported.
- **Episode of support**: one period of Supporting People support for one person, from its start date to its
  end date (open while support continues). An episode is *active* in a year if it overlaps the year.
- **People supported**: distinct people with an active episode in the year; a person with two episodes counts once.
- **Spend**: the programme's recorded spend for the area in the year (all lead needs).
- **Journey of Change**: each outcome area is scored on a 5-point scale at the start, at reviews, at the end of
  support and at follow-ups; a blank score means the person has no need in that area.

| Stage | Journey of Change |
|---|---|
{scale}

In long-term services stage 5 means: {domain.SCALE_LONG_TERM_5.lower()}.

### Methods
All figures are computed by the `longitudinal` Python package from the study's four tables (people,
episodes, readings, spend); the report is a parameterised notebook run unattended by
`longitudinal report annual`. Random steps use the seed recorded in the manifest ({self.seed}).
{extra}

### Limitations
- The study is observational: changes in scores describe people's journeys while supported; they are not by
  themselves the effect of support, since there is no untreated comparison group.
- Scores are practitioners' ratings on an ordinal scale; readings are missed, and missed reviews may not be
  missing at random (people who disengage are less often scored).
- Small areas and small groups give imprecise estimates; counts below 5 are suppressed (see below).

### Disclosure control
{dc.RULE}{across}
"""
        return self._add(Section("methods", "Methods, definitions and limitations", text.strip()))


def _numeric_columns(t: pd.DataFrame) -> tuple[str, ...]:
    """The numeric columns of a table of model parameters (fitted on enough episodes to describe no small group)."""
    return tuple(c for c in t.columns if pd.api.types.is_numeric_dtype(t[c]))


def _reason(exc) -> str:
    """A message fit to publish: a number of 1 to 4 in it (a count of excluded episodes, of people followed)
    is written ``<5``.

    >>> _reason(ValueError("no area can be followed (excluded: {'single_reading': (3, 'one reading')}, 12)"))
    "no area can be followed (excluded: {'single_reading': (<5, 'one reading')}, 12)"
    """
    import re

    return re.sub(r"(?<![\w.])[1-4](?![\w.])", dc.PRIMARY, str(exc))


def _fmt_float(v: float) -> str:
    """Tables are rounded where they are made; show what they hold (large amounts with separators)."""
    if not np.isfinite(v):
        return ""
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _fmt(v) -> str:
    return f"{int(v):,}" if _is_number(v) else str(v)


def data_fingerprint(study: Study) -> str:
    """A short content hash of a loaded study (used to key caches)."""
    h = hashlib.sha256()
    for name, df in study.tables().items():
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]
