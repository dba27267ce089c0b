"""Publishing: what a report shows (tables, figures, sections) and the checks every output passes.

A :class:`Publisher` is the only way a section puts a table or a figure in a
report. It refuses a table whose numeric columns are not all declared (a count,
a figure about counted people, or a value about no group of people): an
undeclared column would go out unchecked by the protection, so it is an error
when the report is built, never a silent publish.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LongitudinalError
from ..io import atomic_path, csv_bytes
from ..palette import PALETTE as _PALETTE
from ..results import figure_of
from . import protect as dc

__all__ = [
    "PALETTE",
    "PublishedTable",
    "PublishedFigure",
    "Section",
    "Publisher",
    "UndeclaredColumnError",
    "figure_labels",
    "save_figure",
    "fmt_float",
    "fmt_count",
    "is_number",
    "numeric_columns",
    "publishable_reason",
    "pct",
]

#: Colours used by every report figure (see :mod:`longitudinal.palette`: each at least 3:1 on white).
PALETTE = _PALETTE


class UndeclaredColumnError(LongitudinalError, ValueError):
    """A table was about to be published with a numeric column no disclosure declaration covers."""


@dataclass
class PublishedTable:
    """A disclosure-controlled table: what the report shows and writes as CSV.

    ``caption`` is a catalogue message (:class:`~longitudinal.i18n.Msg` or plain text): it is shown in
    the page's language.
    """

    name: str
    caption: object
    data: pd.DataFrame
    count_columns: tuple[str, ...] = ()
    #: What each published figure is about (:class:`~longitudinal.report.protect.Share`, ``Parts``, ``Sum``,
    #: ``Together``): checked when published, and by the tests.
    specs: tuple = ()
    #: Numeric columns about no group of people: money, model estimates, fixed assumptions.
    free: tuple[str, ...] = ()
    #: The column whose values name the rows (for ``Sum`` declarations between rows).
    label_column: str | None = None
    #: Its counts are rounded to multiples of 5 (each within 4 of the true count), not suppressed.
    rounded: bool = False
    #: Decimals of each row, for a table whose rows are different measures (see :func:`.present.cells`).
    row_decimals: tuple[int | None, ...] | None = None

    def to_csv_bytes(self) -> bytes:
        return csv_bytes(self.data)  # text that a spreadsheet would run as a formula is neutralised

    def declaration_bytes(self, protection: dict | None = None) -> bytes:
        """The table's disclosure declaration (``tables/<name>.meta.json``): what `longitudinal audit` reads."""
        d = dc.declaration_to_json(count_columns=self.count_columns, specs=self.specs, free=self.free,
                                   label_column=self.label_column, protection=protection)
        return (json.dumps({"table": self.name, **d}, indent=1, sort_keys=True) + "\n").encode("utf-8")

    def to_html(self, lang: str = "en") -> str:
        from ..i18n import Translator, show
        from .present import table_html

        _ = Translator(lang)
        return table_html(self.data, self.name, show(self.caption, _), _, label_column=self.label_column,
                          href=f"tables/{self.name}.csv", row_decimals=self.row_decimals)


@dataclass
class PublishedFigure:
    """A figure as published: a PNG per language (the English one is ``png``), a caption and alt text.

    ``alt`` states what the figure shows (its finding), not the caption again.
    """

    name: str
    caption: object
    png: bytes
    labels: tuple[str, ...] = ()  # every text on the figure, for checking disclosure
    #: The values drawn, where they are not simply a published table's (the points of a curve), for checking.
    data: pd.DataFrame | None = None
    alt: object = None
    pngs: dict = field(default_factory=dict)
    #: The smallest text of the figure on the page, in CSS pixels (see :func:`longitudinal.palette.text_px_on_page`).
    text_px: float = float("inf")

    def png_for(self, lang: str) -> bytes:
        return self.pngs.get(lang, self.png)

    def to_html(self, lang: str = "en") -> str:
        from ..i18n import Translator, render_html

        _ = Translator(lang)
        b64 = base64.b64encode(self.png_for(lang)).decode("ascii")
        alt = render_html(self.alt if self.alt is not None else self.caption, _, html.escape)
        cap = render_html(self.caption, _, html.escape)
        return (f'<figure><img src="data:image/png;base64,{b64}" alt="{alt}">'
                f"<figcaption>{cap}</figcaption></figure>")


@dataclass
class Section:
    """A report section: heading, Markdown text, notes, tables and figures; plain-words ``key_points`` for the
    top of the page. Texts are catalogue messages, shown in the page's language. Displays as HTML (English)."""

    key: str
    heading: object
    text: object = ""
    tables: list[PublishedTable] = field(default_factory=list)
    figures: list[PublishedFigure] = field(default_factory=list)
    notes: list = field(default_factory=list)
    key_points: list = field(default_factory=list)

    def _repr_html_(self) -> str:
        from .page import render_section

        return render_section(self, "en", {"figure": 0, "table": 0})

    def __repr__(self) -> str:
        return f"<Section {self.key!r}: {len(self.tables)} table(s), {len(self.figures)} figure(s)>"


def figure_labels(fig) -> tuple[str, ...]:
    """Every non-empty text drawn on a figure (titles, axis and tick labels, annotations, legends)."""
    out = []
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and callable(a.get_text)):
        s = t.get_text()
        if isinstance(s, str) and s.strip():
            out.append(s)
    return tuple(out)


def translate_figure(fig, lang: str, *, drawn: bool = False) -> None:
    """Put every text of a figure into ``lang`` through the catalogue (numbers, years and ranges stay as they
    are); a text without an entry is a :class:`~longitudinal.i18n.MissingTranslation`.

    ``drawn``: the figure was just drawn (saved), so its tick labels are those it shows; else it is laid out
    first to make them."""
    from ..i18n import Translator, catalogue
    from .present import NEUTRAL

    _ = Translator(lang)
    done = set(catalogue(lang).values())  # a text already in the language (a tick label reached twice)

    def tr(s: str) -> str:
        return _(s) if isinstance(s, str) and s.strip() and not NEUTRAL.match(s) and s not in done else s

    # Tick labels are redrawn from the axis's formatter: the formatter gets the translated labels.
    if not drawn:
        fig.draw_without_rendering()
    seen = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            ticks = axis.get_ticklabels()
            seen.update(id(t) for t in axis.get_ticklabels(which="both"))
            texts = [t.get_text() for t in ticks]
            if any(tr(x) != x for x in texts):
                axis.set_ticks(axis.get_ticklocs(), [tr(x) for x in texts])
                seen.update(id(t) for t in axis.get_ticklabels(which="both"))
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "set_text")):
        if id(t) in seen:  # an artist reached twice (a legend's text) is translated once
            continue
        seen.add(id(t))
        t.set_text(tr(t.get_text()))


def save_figure(fig, path: str | Path | None = None, *, close: bool = True, bbox=None) -> bytes:
    """PNG bytes of a figure that depend only on what is drawn (no dates, no software stamp).

    Writes them atomically to ``path`` when given. The same figure gives the
    same bytes on the same matplotlib. The PNG is cropped to the figure's tight bounding box (padded):
    ``bbox`` when :func:`longitudinal.palette.lay_out` gave it for the figure as it is now, else laid out here.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    from ..palette import DPI

    buf = io.BytesIO()
    crop = "tight" if bbox is None else bbox.padded(matplotlib.rcParams["savefig.pad_inches"])
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches=crop)
    if close:
        plt.close(fig)
    png = buf.getvalue()
    if path is not None:
        with atomic_path(path) as tmp:
            tmp.write_bytes(png)
    return png


def _declared(count_columns, specs, free) -> set[str]:
    cols = set(count_columns) | set(free)
    for s in specs:
        if isinstance(s, dc.Share):
            cols |= {s.column, s.base}
        elif isinstance(s, dc.Parts):
            cols |= {*s.columns, s.base}
        elif isinstance(s, dc.Together):
            cols |= set(s.columns)
    return cols


class Publisher:
    """Checks and writes one area's tables and figures (to ``out/tables`` and ``out/figures`` when given).

    Parameters
    ----------
    identifiers : callable
        Returns the set of person / episode / provider identifiers of the area; none may appear
        in any output (called once, when the first output is checked).
    out : path, optional
        The report's folder; nothing is written when omitted.
    """

    def __init__(self, identifiers, out: str | Path | None = None, log=None) -> None:
        self._identifiers_of = identifiers
        self._ids: set[str] | None = None
        self.out = Path(out) if out is not None else None
        #: The output-checking log (:class:`~longitudinal.report.disclosure_log.DisclosureLog`), if any.
        self.log = log

    @property
    def identifiers(self) -> set[str]:
        if self._ids is None:
            self._ids = set(self._identifiers_of())
        return self._ids

    def table(self, name: str, caption, data: pd.DataFrame, count_columns=(), *, specs=(), free=(),
              label_column: str | None = None, rounded=None, protection: dict | None = None,
              row_decimals=None) -> PublishedTable:
        """Check a protected table and publish it.

        ``protection``: how the table was protected, as the audit is to judge it, written with its
        declaration (default: :data:`~longitudinal.report.protect.ROUNDING` for a rounded table,
        :data:`~longitudinal.report.protect.PROTECTION`, suppression, otherwise).

        Every numeric column must be declared: a count (``count_columns``), a figure about the
        people of a count (``specs``) or a value about no group of people (``free``).
        ``rounded``: the table's counts are rounded to multiples of 5 (each within 4 of the true
        count); the cells whose published value differs from the exact one (``Change``), for the log.
        ``row_decimals``: the decimals each row is shown with, when its rows are different measures.

        Raises
        ------
        UndeclaredColumnError
            Naming the table and the undeclared column(s).
        ValueError
            If the table shows an identifier, a small count or a figure that gives one away.
        """
        data = data.reset_index(drop=True)
        declared = _declared(count_columns, specs, free)
        numeric = [c for c in data.columns if c not in declared and c != label_column and _holds_numbers(data[c])]
        if numeric:
            raise UndeclaredColumnError(
                f"table {name!r}: column(s) {numeric} carry numbers without a disclosure declaration; declare "
                "each as a count (count_columns), a figure about counted people (specs: Share, Parts, Together) "
                "or a value about no group of people (free)")
        dc.check_no_identifiers(data, self.identifiers)
        dc.check_published(data, count_columns)
        dc.check_derived(data, specs, label_column=label_column, count_error=dc.BASE - 1 if rounded is not None else 0)
        tab = PublishedTable(name, caption, data, tuple(count_columns), tuple(specs), tuple(free), label_column,
                             rounded is not None, None if row_decimals is None else tuple(row_decimals))
        if self.log is not None:
            self.log.add(name, _log_entry(tab, rounded))
        if protection is None:
            protection = dc.ROUNDING if rounded is not None else dc.PROTECTION
        if self.out is not None:
            with atomic_path(self.out / "tables" / f"{name}.csv") as tmp:
                tmp.write_bytes(tab.to_csv_bytes())
            # Beside it, what the table declares (and how it is protected): all the audit reads besides the CSV.
            with atomic_path(self.out / "tables" / f"{name}.meta.json") as tmp:
                tmp.write_bytes(tab.declaration_bytes(protection))
        return tab

    def figure(self, name: str, caption, fig, data: pd.DataFrame | None = None, *, alt=None,
               translate: bool = True) -> PublishedFigure:
        """Publish a figure drawn from published values, in English and in Welsh.

        Its texts are checked for identifiers; the English PNG is ``figures/<name>.png``, the Welsh one
        (every text put into Welsh through the catalogue) ``figures/<name>.cy.png``. ``alt`` states the
        figure's finding for a reader who cannot see it. ``translate=False``: the figure shows a document's
        own words (an outcome map), the same in both languages; its caption must say so.
        """
        from ..i18n import LANGUAGES
        from ..palette import DPI, lay_out, static_layout, text_px_on_page

        fig = figure_of(fig)  # results' plot() return Axes (or an array of them)
        labels = figure_labels(fig)
        leaked = [s for s in labels if s in self.identifiers]
        if leaked:  # pragma: no cover - figures are drawn from published tables only
            raise ValueError(f"figure {name!r} shows identifier(s) {leaked[:3]}")
        # Laid out once, as it is saved: the text-size check and the English PNG's crop share that layout. A figure
        # whose engine still lays it out (constrained layout) is laid out again when saved whatever is done here, and
        # where its engine puts things depends on the layout before: it is laid out at its own resolution, and saved,
        # as it always was.
        reuse = static_layout(fig)
        bbox = lay_out(fig, DPI if reuse else None)
        px = text_px_on_page(fig, bbox=bbox)
        if not reuse:
            bbox = None
        pngs = {}
        for lang in LANGUAGES:
            if lang != "en" and translate:
                translate_figure(fig, lang, drawn=reuse)  # its tick labels are the English PNG's
                # Translated texts have other widths: the crop is measured again (by savefig, for an engine's figure).
                bbox = lay_out(fig) if reuse else None
            stem = name if lang == "en" else f"{name}.{lang}"
            path = self.out / "figures" / f"{stem}.png" if self.out is not None else None
            if lang != "en" and not translate:  # the same figure: the same bytes, without drawing it again
                pngs[lang] = pngs["en"]
                if path is not None:
                    with atomic_path(path) as tmp:
                        tmp.write_bytes(pngs[lang])
                continue
            pngs[lang] = save_figure(fig, path, close=lang == LANGUAGES[-1] or not translate, bbox=bbox)
        return PublishedFigure(name, caption, pngs["en"], labels, data, alt, pngs, px)


def _log_entry(tab: PublishedTable, rounded) -> dict:
    """A table's entry in the output-checking log: how it is protected and every cell rounded or hidden."""
    data, lab = tab.data, tab.label_column
    labels = data[lab].tolist() if lab is not None else list(range(len(data)))
    cells = []
    for col in data.columns:
        for row, v in zip(labels, data[col]):
            if isinstance(v, str) and v in (dc.PRIMARY, dc.SECONDARY):
                cells.append({"row": row, "column": col, "published": v,
                              "rule": "primary" if v == dc.PRIMARY else "secondary"})
    for c in rounded or ():
        cells.append({"row": c.row, "column": c.column, "published": c.published, "rule": "rounded"})
    n_counts = int(sum(data[c].notna().sum() for c in tab.count_columns if c in data.columns))
    return {"protection": "rounded" if rounded is not None else ("suppressed" if tab.count_columns or tab.specs
                                                                  else "none"),
            "count_columns": list(tab.count_columns), "count_cells": n_counts,
            "cells": int(data.size), "rounded": sum(1 for c in cells if c["rule"] == "rounded"),
            "hidden": sum(1 for c in cells if c["rule"] != "rounded"), "changes": cells}


def _holds_numbers(s: pd.Series) -> bool:
    """Whether a column shows numbers (numeric dtype, or numbers among markers): labels and text are not."""
    if pd.api.types.is_bool_dtype(s):
        return False
    if pd.api.types.is_numeric_dtype(s):
        return bool(s.notna().any())
    vals = s.dropna()
    return bool(len(vals)) and all(isinstance(v, (int, float, np.integer, np.floating)) or v in
                                   (dc.PRIMARY, dc.SECONDARY) for v in vals) and not vals.isin(
        [dc.PRIMARY, dc.SECONDARY]).all()


# ------------------------------------------------------------- formatting
def pct(num, den) -> np.ndarray:
    """``100 · num / den`` rounded to 1 decimal; NaN where the base is 0."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.round(100.0 * num / den, 1), np.nan)


def is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not (isinstance(v, float) and np.isnan(v))


def fmt_float(v: float) -> str:
    """Tables are rounded where they are made; show what they hold (large amounts with separators)."""
    if not np.isfinite(v):
        return ""
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.4g}"


def fmt_count(v) -> str:
    return f"{int(v):,}" if is_number(v) else str(v)


def numeric_columns(t: pd.DataFrame) -> tuple[str, ...]:
    """The numeric columns of a table of model parameters (fitted on enough episodes to describe no small group)."""
    return tuple(c for c in t.columns if pd.api.types.is_numeric_dtype(t[c]))


def publishable_reason(exc) -> str:
    """A message fit to publish: a number of 1 to 4 in it (a count of excluded episodes, of people followed)
    is written ``<5``.

    >>> publishable_reason(ValueError("no area can be followed (excluded: {'single_reading': (3, 'one reading')}, 12)"))
    "no area can be followed (excluded: {'single_reading': (<5, 'one reading')}, 12)"
    """
    return re.sub(r"(?<![\w.])[1-4](?![\w.])", dc.PRIMARY, str(exc))
