"""How a published table looks to a reader, in Welsh or English, following the GSS guidance.

Plain headers from the catalogue, thousands separators, one number of decimals per column, text
left-aligned and numbers right-aligned, a ``<caption>``, ``<th scope>`` column and row headers, and
the GSS symbols for a cell without a number: ``[c]`` confidential (hidden by the disclosure rule),
``[x]`` not available, ``[z]`` not applicable. The CSV files stay machine-readable (numbers as
numbers, the symbols as they are); :func:`notes_tables` documents their columns and symbols.

A table's values never change here: only how they are shown.

Examples
--------
>>> import pandas as pd
>>> from longitudinal.i18n import Translator
>>> from longitudinal.report.present import cells
>>> t = pd.DataFrame({"lead_need": ["Domestic abuse", "All"], "people": [1234, "[c]"],
...                   "spend_gbp": [10399.0, float("nan")]})
>>> cells(t, "by_lead_need", Translator("cy"))[1]
[['Cam-drin domestig', '1,234', '10,399'], ['Y cyfan', '[c]', '[x]']]
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import LongitudinalError
from ..i18n import N_, Items, Msg, Translator, show

__all__ = ["SYMBOLS", "Column", "COLUMNS", "UnknownColumn", "column", "decimals_of", "cells", "table_html",
           "symbols_html", "notes_tables", "NEUTRAL"]

#: The GSS symbols and what each means (messages of the catalogue).
SYMBOLS: dict[str, str] = {
    "[c]": N_("confidential: hidden so that no one can work out a count of 1 to 4 people or episodes"),
    "[x]": N_("not available: not collected, not linked to these data, or not estimable from them"),
    "[z]": N_("not applicable: the figure has no meaning for this row or column"),
}
#: The disclosure rule's markers, shown as ``[c]`` (the rule's own text explains "<5").
_CONFIDENTIAL = ("[c]", "<5")
#: Text that reads the same in both languages (years, bands, ranges of numbers).
NEUTRAL = re.compile(r"^(?:[\d\s.,:;%£+\-–−/()]|\[[cxz]\]|<5)*$")


_BREAK_AFTER = re.compile(r"([_=/])(?=\w)")
#: More columns than this and a table is set smaller (``lg-wide``).
WIDE_COLUMNS = 10


class UnknownColumn(LongitudinalError, KeyError):
    """A published table has a column without a plain header in :data:`COLUMNS`."""


@dataclass(frozen=True)
class Column:
    """How a column is shown: its header (a catalogue message), decimals and the symbol of a blank cell.

    ``decimals=None``: the fewest decimals that show every value of the column as it was published
    (tables are rounded where they are made), the same for every row. ``text``: the column holds
    words (left-aligned, translated through the catalogue).
    """

    header: str
    decimals: int | None = None
    blank: str = "[x]"
    text: bool = False
    #: The column holds a source document's own words (an outcome map's steps, an impact map's outcomes),
    #: written in English: shown as written, marked ``lang="en"`` on a page in another language.
    source: bool = False
    #: The column holds p-values: one that would show as 0 is shown ``<0.0001``.
    p: bool = False
    #: Codes the column may hold, each with the catalogue message a reader sees instead (the CSV keeps the
    #: code); a code without one is shown as written (and, in a ``source`` column, marked ``lang="en"``).
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, v, _: Translator) -> str | None:
        """The words for code ``v`` in ``_``'s language, or None when the column has none for it."""
        words = dict(self.labels).get(v) if isinstance(v, str) else None
        return None if words is None else _(words)


def _c(header, decimals=None, blank="[x]", text=False, source=False, p=False, labels=None) -> Column:
    return Column(header, decimals, blank, text or source, source, p, tuple((labels or {}).items()))


#: The registered outcome-map indicators in words (an indicator's name is a code of the package, not the
#: map's own wording; a test fails when a registered indicator has none).
INDICATOR_LABELS = {
    "share_improving": N_("Share of episodes improving"),
    "share_reaching_stage": N_("Share of episodes at or above a stage"),
    "mean_change": N_("Mean change (stages)"),
    "moved_between_stages": N_("Episodes that moved between stages"),
    "sustained_at_months": N_("Share of levels sustained after a planned end"),
}


#: Plain headers of every column a report publishes; ``(table, column)`` entries override a column's default.
COLUMNS: dict = {
    # labels
    "measure": _c(N_("Measure"), text=True), "lead_need": _c(N_("Lead need"), text=True),
    "financial_year": _c(N_("Financial year"), text=True), "age_band": _c(N_("Age band"), text=True),
    "outcome": _c(N_("Outcome area"), text=True), "term": _c(N_("Term"), text=True),
    "stage": _c(N_("Stage"), text=True), "from": _c(N_("From stage"), text=True),
    "pathway": _c(N_("Pathway"), text=True), "column": _c(N_("Column of the map"), text=True),
    "step": _c(N_("Step"), text=True), "indicator": _c(N_("Indicator"), text=True),
    "params": _c(N_("Indicator settings"), text=True), "kind": _c(N_("Kind of value"), text=True),
    "progress": _c(N_("Progress"), text=True), "confidence": _c(N_("Confidence"), text=True),
    "basis": _c(N_("Basis of the rating"), text=True), "stakeholder": _c(N_("Stakeholder"), text=True),
    "adjustment": _c(N_("Adjustment"), text=True), "status": _c(N_("Status"), text=True),
    "parameter": _c(N_("Assumption"), text=True), "note": _c(N_("Note"), text=True),
    "group": _c(N_("Group"), text=True), "sex": _c(N_("Sex"), text=True),
    # counts
    "value": _c(N_("Value")), "people": _c(N_("People"), 0), "episodes": _c(N_("Episodes"), 0),
    "started": _c(N_("Episodes started"), 0), "with_reading": _c(N_("Episodes with the reading"), 0),
    "readings": _c(N_("Readings"), 0), "scored": _c(N_("Readings scored"), 0),
    "blank_no_need": _c(N_("Readings blank (no need)"), 0),
    "episodes_with_need": _c(N_("Episodes with a need in the area"), 0, "[z]"),
    "episodes_two_plus": _c(N_("Episodes with two or more scored readings"), 0, "[z]"),
    "n_compared": _c(N_("Episodes compared"), 0), "n": _c(N_("Number in the group"), 0),
    "at_risk": _c(N_("Still followed"), 0), "all moves": _c(N_("All moves"), 0),
    "female": _c(N_("Female"), 0), "male": _c(N_("Male"), 0), "other": _c(N_("Other"), 0),
    "All": _c(N_("All"), 0), "all": _c(N_("All"), 0), "total": _c(N_("Total"), 0),
    # money
    "spend_gbp": _c(N_("Spend (£)"), 0), "spend_per_person_gbp": _c(N_("Spend per person supported (£)"), 0),
    "proxy_value_gbp": _c(N_("Financial proxy (£ per person)"), 0),
    "present_value_gbp": _c(N_("Present value (£)"), 0),
    # shares and means
    "percent_with_reading": _c(N_("Percentage with the reading"), 1, "[z]"),
    "percent_scored": _c(N_("Percentage scored"), 1, "[z]"),
    "percent_two_plus": _c(N_("Percentage with two or more scored readings"), 1, "[z]"),
    "pct_improved": _c(N_("Percentage improved"), 1), "pct_same": _c(N_("Percentage same"), 1),
    "pct_worse": _c(N_("Percentage worse"), 1),
    "mean_first": _c(N_("Mean first stage"), 2), "mean_latest": _c(N_("Mean latest stage"), 2),
    "mean_change": _c(N_("Mean change (stages)"), 2),
    "ci_lower": _c(N_("95% CI lower")), "ci_upper": _c(N_("95% CI upper")),
    "estimate": _c(N_("Estimate")), "std_error": _c(N_("Standard error")),
    "p_value": _c(N_("p-value"), 4, p=True),
    "months": _c(N_("Months after the end"), 0),
    "percent_sustained": _c(N_("Percentage sustained"), 1),
    "percent_not_yet": _c(N_("Percentage not yet at the stage"), 1),
    "percent_reached": _c(N_("Percentage who reached the stage"), 1),
    "percent_re_referred": _c(N_("Percentage re-referred"), 1),
    "died": _c(N_("Percentage who died"), 1), "moved_away": _c(N_("Percentage who moved away"), 1),
    "missing_share": _c(N_("Share missing"), 3),
    "deadweight": _c(N_("Deadweight"), 2), "attribution": _c(N_("Attribution"), 2),
    "displacement": _c(N_("Displacement"), 2), "drop_off": _c(N_("Drop-off"), 3),
    "duration_years": _c(N_("Duration (years)"), 0),
    "point": _c(N_("Central value")), "low": _c(N_("Low value")), "high": _c(N_("High value")),
    "ratio_low": _c(N_("Ratio at the low value"), 2), "ratio_high": _c(N_("Ratio at the high value"), 2),
    "swing": _c(N_("Swing of the ratio"), 2), "switching_value": _c(N_("Switching value")),
    "change": _c(N_("Change needed")), "share_of_point": _c(N_("Share of the central value"), 2),
    "mean years in stage": _c(N_("Mean years in the stage"), 2),
    "95% CI": _c(N_("95% CI"), text=True),
    "expected years to first reach stage 5": _c(N_("Expected years to first reach stage 5"), 2),
    "to stage 1": _c(N_("To stage 1"), 0), "to stage 2": _c(N_("To stage 2"), 0),
    "to stage 3": _c(N_("To stage 3"), 0), "to stage 4": _c(N_("To stage 4"), 0),
    "to stage 5": _c(N_("To stage 5"), 0),
    "% to stage 1": _c(N_("Percentage to stage 1"), 1, "[z]"),
    "% to stage 2": _c(N_("Percentage to stage 2"), 1, "[z]"),
    "% to stage 3": _c(N_("Percentage to stage 3"), 1, "[z]"),
    "% to stage 4": _c(N_("Percentage to stage 4"), 1, "[z]"),
    "% to stage 5": _c(N_("Percentage to stage 5"), 1, "[z]"),
    # follow-ups after a planned end (lasting impact, issue 14)
    "follow_up": _c(N_("After a planned end"), text=True),
    "due": _c(N_("Outcome areas due a follow-up"), 0), "followed_up": _c(N_("Followed up"), 0),
    "obtained": _c(N_("Obtained"), 0, "[z]"), "re_referred": _c(N_("Referred again"), 0, "[z]"),
    "no_contact": _c(N_("No contact or reason not known"), 0, "[z]"),
    ("follow_up_flow", "episodes"): _c(N_("Episodes"), 0), ("follow_up_flow", "died"): _c(N_("Died"), 0),
    ("follow_up_flow", "moved_away"): _c(N_("Moved away"), 0),
    "percent_kept_followed_up": _c(N_("Percentage kept, among those followed up"), 1),
    "percent_kept_weighted": _c(N_("Percentage kept, weighted for those not followed up"), 1),
    "percent_kept_imputed": _c(N_("Percentage kept, with missing follow-ups imputed"), 1),
    **{f"{c}_ci_{end}": _c(N_("95% CI lower") if end == "lower" else N_("95% CI upper"), 1)
       for c in ("percent_kept_followed_up", "percent_kept_weighted", "percent_kept_imputed")
       for end in ("lower", "upper")},
    # effectiveness (linked service use)
    "per 1,000 people per month": _c(N_("Events per 1,000 people per month"), 2),
    "per 1,000 people": _c(N_("Events per 1,000 people"), 2),
    "months since the start": _c(N_("Months since the start of support"), 0),
    # The maps' own words (outcome map, impact map).
    ("outcome_map_ratings", "pathway"): _c(N_("Pathway"), source=True),
    ("outcome_map_ratings", "column"): _c(N_("Column of the map"), source=True),
    ("outcome_map_ratings", "step"): _c(N_("Step"), source=True),
    ("outcome_map_indicators", "pathway"): _c(N_("Pathway"), source=True),
    ("outcome_map_indicators", "column"): _c(N_("Column of the map"), source=True),
    ("outcome_map_indicators", "step"): _c(N_("Step"), source=True),
    ("outcome_map_indicators", "indicator"): _c(N_("Indicator"), source=True, labels=INDICATOR_LABELS),

    # Time to independence counts months from the start of support (the lasting-impact tables, from the end).
    ("time_to_independence", "months"): _c(N_("Months since the start of support"), 0),
    ("sroi_adjustments", "basis"): _c(N_("Source of the value"), text=True),
    **{(t, c): _c(N_("Outcome") if c == "outcome" else N_("Stakeholder"), source=True)
       for t in ("sroi_outcomes", "sroi_adjustments", "sroi_one_way", "sroi_switching_values")
       for c in ("outcome", "stakeholder")},
}


def column(table: str, name: str) -> Column:
    """How column ``name`` of table ``table`` is shown."""
    spec = COLUMNS.get((table, name)) or COLUMNS.get(name)
    if spec is None:
        raise UnknownColumn(f"table {table!r}: column {name!r} has no plain header; add it to "
                            "longitudinal.report.present.COLUMNS (and its Welsh to the catalogue)")
    return spec


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def decimals_of(values, most: int = 4) -> int:
    """The fewest decimals (up to ``most``) that show every number of ``values`` as published."""
    nums = [float(v) for v in values if _is_num(v)]
    for d in range(most + 1):
        if all(abs(round(v, d) - v) < 1e-9 * max(1.0, abs(v)) for v in nums):
            return d
    return most


def symbol_of(v, spec: Column) -> str | None:
    if isinstance(v, str) and v in _CONFIDENTIAL:
        return "[c]"
    if isinstance(v, str) and v in SYMBOLS:
        return v
    if v is None or v is pd.NA or v is pd.NaT:
        return spec.blank
    if isinstance(v, (float, np.floating)) and not math.isfinite(v):
        # A blank, or a limit the data do not bound (a confidence limit at infinity): not estimable from them.
        return spec.blank if math.isnan(v) else "[x]"
    return None


def cell_text(v, _: Translator) -> str:
    if isinstance(v, (Msg, Items)):
        return v.render(_)
    s = str(v)
    return s if NEUTRAL.match(s) else show(s, _)


def cells(data: pd.DataFrame, table: str, _: Translator, row_decimals=None) -> tuple[list[str], list[list[str]]]:
    """Headers and the cells of every row as shown in ``_``'s language (symbols for blank or hidden cells).

    ``row_decimals``: one entry per row, for a table whose rows are different measures (a ratio, an amount
    in pounds, a number of months) in one column: the decimals of that row's numbers in the columns
    without decimals of their own (``None``: the column's).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"measure": ["Net present value (£)", "Net SROI ratio"], "value": [1396442, 0.6]})
    >>> cells(t, "sroi_summary", Translator("en"), row_decimals=[0, 2])[1]
    [['Net present value (£)', '1,396,442'], ['Net SROI ratio', '0.60']]
    """
    specs = [column(table, c) for c in data.columns]
    decimals = [s.decimals if s.decimals is not None else decimals_of(data[c]) for c, s in zip(data.columns, specs)]
    if row_decimals is not None and len(row_decimals) != len(data):
        raise ValueError(f"table {table!r}: {len(row_decimals)} row decimals for {len(data)} rows")
    rows = []
    for k, rec in enumerate(data.itertuples(index=False, name=None)):
        row = []
        by_row = None if row_decimals is None else row_decimals[k]
        for v, s, d in zip(rec, specs, decimals):
            if by_row is not None and s.decimals is None:
                d = by_row
            sym = symbol_of(v, s)
            words = s.label(v, _)
            if sym is not None:
                row.append(sym)
            elif words is not None:
                row.append(words)
            elif _is_num(v) and not s.text:
                row.append(_.p_value(v, d) if s.p else _.number(v, d))
            elif s.source:
                row.append(str(v))
            else:
                row.append(cell_text(v, _))
        rows.append(row)
    return [_(s.header) for s in specs], rows


def table_html(data: pd.DataFrame, table: str, caption: str, _: Translator, *, label_column: str | None = None,
               number: int | None = None, href: str | None = None, caption_is_html: bool = False,
               row_decimals=None) -> str:
    """An accessible HTML table: ``<caption>``, column headers ``<th scope="col">``, the row label as
    ``<th scope="row">``; numbers right-aligned, text left-aligned; a link to its CSV (``row_decimals``: see
    :func:`cells`)."""
    heads, rows = cells(data, table, _, row_decimals)
    label = list(data.columns).index(label_column) if label_column in data.columns else 0
    text_cols = {i for i, c in enumerate(data.columns) if column(table, c).text}
    cap = caption if caption_is_html else html.escape(caption)
    if number is not None:
        cap = f'<span class="lg-table-number">{html.escape(_("Table {n}", n=str(number)))}:</span> {cap}'
    if href:
        cap += f' <a class="lg-csv" href="{html.escape(href)}">{html.escape(_("download (CSV)"))}</a>'
    # A table of many columns is set a little smaller (13 px), so that it fits the page's 960 px.
    wide = " lg-wide" if len(heads) > WIDE_COLUMNS else ""
    out = [f'<div class="lg-table-wrap"><table class="lg-table{wide}" id="table-{html.escape(table)}">',
           f"<caption>{cap}</caption>", "<thead><tr>"]
    for i, h in enumerate(heads):
        cls = "txt" if i in text_cols or i == label else "num"
        out.append(f'<th scope="col" class="{cls}">{html.escape(h)}</th>')
    out.append("</tr></thead><tbody>")
    specs = [column(table, c) for c in data.columns]
    source = {i for i, s in enumerate(specs) if s.source and _.lang != "en"}
    for row, raw in zip(rows, data.itertuples(index=False, name=None)):
        out.append("<tr>")
        for i, v in enumerate(row):
            cls = "txt" if i in text_cols or i == label else "num"
            tag = f'th scope="row" class="{cls}"' if i == label else f'td class="{cls}"'
            if i in source and specs[i].label(raw[i], _) is None:
                tag += ' lang="en"'
            text = html.escape(v)
            if cls == "txt":  # codes (share_improving, outcome=managing_money) may break after _ = /, not overflow
                text = _BREAK_AFTER.sub(r"\1<wbr>", text)
            out.append(f"<{tag}>{text}</{tag.split()[0]}>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def symbols_html(_: Translator) -> str:
    """The symbols' key, shown once on every page that has a table."""
    items = "".join(f"<li><strong>{html.escape(s)}</strong> {html.escape(_(m))}</li>" for s, m in SYMBOLS.items())
    return f'<div class="lg-symbols"><p>{html.escape(_("Symbols used in the tables"))}</p><ul>{items}</ul></div>'


def notes_tables(tables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The notes of a report's CSV files: every column (headers in both languages, decimals shown) and
    every symbol (meaning in both languages).

    ``tables``: ``(name, data)`` or ``(name, data, row_decimals)`` for each table. A column whose rows are
    shown with different decimals (``row_decimals``, as :func:`cells` shows them) lists them row by row,
    ``;``-separated, so the note says what the page shows.

    >>> t = pd.DataFrame({"measure": ["Net present value (£)", "Net SROI ratio"], "value": [1396442, 0.6]})
    >>> notes_tables([("sroi_summary", t, (0, 2))])[0].set_index("column").at["value", "decimals_shown"]
    '0;2'
    """
    en, cy = Translator("en"), Translator("cy")
    cols = []
    for name, data, *rest in tables:
        row_decimals = rest[0] if rest else None
        for c in data.columns:
            s = column(name, c)
            nums = [v for v in data[c] if _is_num(v)]
            shown: object = ""
            if nums and not s.text:
                shown = s.decimals if s.decimals is not None else decimals_of(data[c])
                if row_decimals is not None and s.decimals is None:
                    by_row = [shown if d is None else d for d in row_decimals]
                    shown = by_row[0] if len(set(by_row)) == 1 else ";".join(map(str, by_row))
            cols.append({"table": f"{name}.csv", "column": c, "header_en": en(s.header), "header_cy": cy(s.header),
                         "kind": "text" if s.text or not nums else "number", "decimals_shown": shown,
                         "blank_means": s.blank})
    suppressed = N_("a count of 1 to 4, suppressed (shown [c] on the page)")
    symbols = pd.DataFrame([{"symbol": k, "meaning_en": en(m), "meaning_cy": cy(m)} for k, m in SYMBOLS.items()]
                           + [{"symbol": "<5", "meaning_en": en(suppressed), "meaning_cy": cy(suppressed)}])
    return pd.DataFrame(cols), symbols
