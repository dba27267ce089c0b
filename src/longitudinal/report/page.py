"""The published page of an annual report, in Welsh and in English, with its publication furniture.

One computed report (its sections) renders as two pages, ``report.html`` (``lang="en"``) and
``report.cy.html`` (``lang="cy"``), each with a language switch, a link back to the index, a
title naming the area and the year, the release date, the next update, the statistics status
(synthetic data labelled as such), a contact, key points in plain words, contents with anchors,
the sections, the key to the table symbols and a quality and methodology section. Every string
comes from the catalogue (:mod:`longitudinal.i18n`); a string without Welsh stops the Welsh page.

The page is self-contained (figures embedded, no script, no network), so it opens offline, the
same, years later.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .. import domain
from ..i18n import LANGUAGE_NAMES, LANGUAGES, N_, Msg, Translator, Verbatim, other_language, render_html
from ..io import atomic_path

__all__ = ["Release", "IndexEntry", "page_name", "index_name", "render_page", "render_section", "render_index",
           "write_report", "markdown_html", "PAGE_CSS", "STATUS"]

#: The statistics status a release can carry (what the page says, in the catalogue).
STATUS = {
    "synthetic": N_("Synthetic data for testing and demonstration: these are not official statistics and they "
                    "describe no real person and no real service."),
    "in_development": N_("Official statistics in development: new statistics, published to involve users in "
                         "their development; they may change as the methods are refined."),
    "official": N_("Official statistics, produced under the Code of Practice for Statistics."),
}


def page_name(lang: str) -> str:
    """``report.html`` (English) or ``report.cy.html`` (Welsh)."""
    return "report.html" if lang == "en" else f"report.{lang}.html"


def index_name(lang: str) -> str:
    return "index.html" if lang == "en" else f"index.{lang}.html"


@dataclass(frozen=True)
class Release:
    """What an official release states about itself (the Code of Practice's furniture)."""

    area: str
    year: int
    release_date: date
    status: str = "in_development"
    contact_team: str = N_("Supporting People longitudinal study team")  # a catalogue message: both languages
    contact_email: str = "sp-study@example.org"
    #: Months to the next release (an annual series).
    interval_months: int = 12

    def __post_init__(self) -> None:
        if self.status not in STATUS:
            raise ValueError(f"status {self.status!r}: expected one of {', '.join(STATUS)}")

    @property
    def next_update(self) -> date:
        d = self.release_date
        m = d.month - 1 + self.interval_months
        return date(d.year + m // 12, m % 12 + 1, 1)


# ------------------------------------------------------------------ text
def markdown_html(text, _: Translator) -> str:
    """A section's text (a ``Msg`` or a catalogue message, in Markdown) as HTML in ``_``'s language.

    Untranslatable fragments (:class:`~longitudinal.i18n.Verbatim`, e.g. a file name) keep their
    language, marked ``lang=`` so that a screen reader reads them right.
    """
    import mistune

    def convert(s: str) -> str:
        # A Markdown table's header cells are column headers (scope), and the table takes the page's style.
        out = mistune.html(s).replace("<th>", '<th scope="col">').replace("<table>", '<table class="lg-table">')
        return re.sub(r'<th style="[^"]*">', '<th scope="col">', out)

    return render_html(text, _, convert)


def _esc(text, _: Translator) -> str:
    return render_html(text, _, html.escape)


# ------------------------------------------------------------------ page
PAGE_CSS = """
:root { color: #0b0c0c; background: #ffffff; }
body { font-family: Arial, Helvetica, sans-serif; font-size: 16px; line-height: 1.5; margin: 0; }
main, header, footer { max-width: 960px; margin: 0 auto; padding: 0 16px; }
a { color: #1d4f91; } a:focus { outline: 3px solid #b35806; }
.lg-skip { position: absolute; left: -999px; } .lg-skip:focus { left: 8px; top: 8px; background: #fff; }
.lg-bar { display: flex; justify-content: space-between; padding: 8px 16px; border-bottom: 1px solid #b1b4b6; }
.lg-meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0 0 1em 0; }
.lg-meta dt { font-weight: bold; } .lg-meta dd { margin: 0; }
.lg-status { border-left: 6px solid #1d4f91; background: #f3f2f1; padding: 8px 12px; }
.lg-keypoints { border-left: 6px solid #0b0c0c; padding: 4px 12px; }
.lg-note { border-left: 6px solid #8a5a00; background: #fff7e6; padding: 4px 12px; }
.lg-table-wrap { overflow-x: auto; }
table.lg-table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; font-size: 15px; }
.lg-table caption { text-align: left; font-weight: bold; padding: 4px 0; caption-side: top; }
.lg-table th, .lg-table td { border-bottom: 1px solid #b1b4b6; padding: 4px 10px; vertical-align: top; }
.lg-table .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.lg-table .txt { text-align: left; }
table.lg-wide { font-size: 13px; } .lg-table.lg-wide th, .lg-table.lg-wide td { padding: 3px; }
.lg-table thead th { border-bottom: 2px solid #0b0c0c; vertical-align: bottom; }
.lg-table thead th.num { white-space: normal; }
.lg-table th, .lg-table td { padding: 4px 6px; }
figure { margin: 0.5em 0 1.5em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 15px; }
.lg-vh { position: absolute; left: -9999px; }
"""


def _head(title: str, lang: str, other_href: str) -> str:
    """The start of every published page (report and index): doctype, language, title, the other
    language's version as an alternate, the page style."""
    other = other_language(lang)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="alternate" hreflang="{other}" href="{other_href}">
<style>{PAGE_CSS}</style></head>"""


def _switch(lang: str, other_href: str, _: Translator) -> str:
    """The language switch: a link to the same page in the other language, named in that language."""
    other = other_language(lang)
    return (f'<nav aria-label="{html.escape(_("Language"))}"><a href="{other_href}" lang="{other}" '
            f'hreflang="{other}">{html.escape(LANGUAGE_NAMES[other])}</a></nav>')


def _figure_html(fig, n: int, _: Translator, lang: str) -> str:
    png = fig.png_for(lang)
    b64 = base64.b64encode(png).decode("ascii")
    alt = _esc(fig.alt if getattr(fig, "alt", None) is not None else fig.caption, _)
    cap = _esc(fig.caption, _)
    return (f'<figure id="figure-{html.escape(fig.name)}"><img src="data:image/png;base64,{b64}" alt="{alt}">'
            f'<figcaption><strong>{html.escape(_("Figure {n}", n=str(n)))}:</strong> {cap}</figcaption></figure>')


def render_section(section, lang: str, counter: dict) -> str:
    """One section as HTML in ``lang``; tables and figures numbered through the page (``counter``)."""
    from .present import table_html

    _ = Translator(lang)
    parts = [f'<section id="{html.escape(section.key)}" aria-labelledby="h-{html.escape(section.key)}">',
             f'<h2 id="h-{html.escape(section.key)}">{_esc(section.heading, _)}</h2>']
    if section.text:
        parts.append(markdown_html(section.text, _))
    for note in section.notes:
        parts.append(f'<p class="lg-note">{_esc(note, _)}</p>')
    for fig in section.figures:
        counter["figure"] += 1
        parts.append(_figure_html(fig, counter["figure"], _, lang))
    for tab in section.tables:
        counter["table"] += 1
        parts.append(table_html(tab.data, tab.name, _esc(tab.caption, _), _, label_column=tab.label_column,
                                number=counter["table"], href=f"tables/{tab.name}.csv", caption_is_html=True,
                                row_decimals=tab.row_decimals))
    parts.append("</section>")
    return "\n".join(parts)


def render_page(sections: list, release: Release, lang: str, *, key_points: list = (),
                quality=None, spreadsheet: str | None = None) -> str:
    """The report's page in ``lang``.

    Parameters
    ----------
    sections : list of Section
        The report's sections in order (the title section, if any, is replaced by the furniture).
    release : Release
    key_points : list of Msg
        Plain-words findings for the top of the page.
    quality : Section, optional
        The quality and methodology section (last, before the footer).
    spreadsheet : str, optional
        File name of the area's accessible spreadsheet, linked from the page.
    """
    from .present import symbols_html

    _ = Translator(lang)
    other = other_language(lang)
    area = _.area(release.area)
    title = _("Supporting People annual report: {area}, {year}", area=area, year=_.financial_year(release.year))
    start, end = domain.fy_bounds(release.year)
    body = [s for s in sections if s.key != "title"]
    if quality is not None:
        body.append(quality)
    counter = {"figure": 0, "table": 0}
    rendered = [render_section(s, lang, counter) for s in body]
    contents = "".join(f'<li><a href="#{html.escape(s.key)}">{_esc(s.heading, _)}</a></li>' for s in body)
    meta = [(_("Area"), area), (_("Period covered"), _("{start} to {end}", start=_.date(start), end=_.date(end))),
            (_("Release date"), _.date(release.release_date)),
            (_("Next update"), _("{month} (provisional)", month=_.month(release.next_update))),
            (_("Contact"), f'{html.escape(_(release.contact_team))}: <a href="mailto:{html.escape(release.contact_email)}">'
                           f"{html.escape(release.contact_email)}</a>")]
    meta_html = "".join(f"<dt>{html.escape(k)}</dt><dd>{v if k == _('Contact') else html.escape(v)}</dd>"
                        for k, v in meta)
    points = "".join(f"<li>{_esc(p, _)}</li>" for p in key_points)
    files = ""
    if spreadsheet:
        files = (f'<p>{html.escape(_("All the tables of this report are in an accessible spreadsheet:"))} '
                 f'<a href="{html.escape(spreadsheet)}">{html.escape(spreadsheet)}</a> '
                 f'{html.escape(_("and as CSV files with their notes (tables/notes.csv)."))}</p>')
    return f"""{_head(title, lang, page_name(other))}
<body>
<a class="lg-skip" href="#main">{html.escape(_("Skip to the content"))}</a>
<header class="lg-bar"><a href="../{index_name(lang)}">{html.escape(_("Back to the index of reports"))}</a>
{_switch(lang, page_name(other), _)}</header>
<main id="main">
<h1>{html.escape(title)}</h1>
<p class="lg-status"><strong>{html.escape(_("Statistics status"))}:</strong> {html.escape(_(STATUS[release.status]))}</p>
<dl class="lg-meta">{meta_html}</dl>
<section id="key-points" aria-labelledby="h-key-points" class="lg-keypoints"><h2 id="h-key-points">{html.escape(_("Key points"))}</h2>
<ul>{points}</ul></section>
<nav aria-labelledby="h-contents"><h2 id="h-contents">{html.escape(_("Contents"))}</h2><ol>{contents}</ol></nav>
{files}
{symbols_html(_)}
{chr(10).join(rendered)}
</main>
<footer class="lg-bar"><span>{html.escape(title)}</span><a href="../{index_name(lang)}">{html.escape(_("Back to the index of reports"))}</a></footer>
</body></html>
"""


@dataclass(frozen=True)
class IndexEntry:
    """One area's line of the index: whether its report is published and, if its latest run failed, why."""

    published: bool
    #: The failed run's reason in one line (``RuntimeError: boom``), as the batch recorded it (English).
    failure: str | None = None
    #: The date (ISO) of the published report kept in place when a later run failed.
    kept: str | None = None
    slug: str = ""


def _failure_text(entry: IndexEntry, _: Translator) -> str:
    reason = Verbatim(entry.failure or "?", "en")  # the program's own words, marked English on a Welsh page
    where = f".failed/{entry.slug}/"
    if entry.published:
        msg = Msg("failed: {reason} (previous report of {date} kept; details in {folder})",
                  reason=reason, date=entry.kept or "?", folder=where)
    else:
        msg = Msg("failed: {reason} (no previous report; details in {folder})", reason=reason, folder=where)
    return _esc(msg, _)


def render_index(year: int, areas: list, entries: dict, lang: str, *, release_date: date, status: str,
                 publication=None) -> str:
    """The year's index page in ``lang``: every area (its name in the language) with links to its report and
    spreadsheet, or "not published", and a failed run's one-line reason; no operators' columns (run times and
    attempts are in ``batch.json``). ``entries`` maps area -> :class:`IndexEntry`; ``publication`` is the
    message saying whether the year is published (the disclosure audit's verdict)."""
    from .spreadsheet import spreadsheet_name

    _ = Translator(lang)
    other = other_language(lang)
    title = _("Supporting People annual reports, {year}", year=_.financial_year(year))
    rows = []
    for a in areas:
        entry = entries.get(a) or IndexEntry(False, slug=domain.slug(a))
        slug = domain.slug(a)
        name = html.escape(_.area(a))
        if entry.published:
            report = f'<a href="{slug}/{page_name(lang)}">{html.escape(_("Report"))}<span class="lg-vh"> {name}</span></a>'
            sheet = (f'<a href="{slug}/{spreadsheet_name(lang)}">{html.escape(_("Spreadsheet"))}'
                     f'<span class="lg-vh"> {name}</span></a>')
        else:
            report, sheet = html.escape(_("Not published")), ""
        if entry.failure:
            report += f"<br>{_failure_text(entry, _)}"
        rows.append(f'<tr><th scope="row" class="txt">{name}</th><td class="txt">{report}</td>'
                    f'<td class="txt">{sheet}</td></tr>')
    verdict = (f'<p id="publication" class="lg-status"><strong>{_esc(publication, _)}</strong></p>'
               if publication is not None else "")
    return f"""{_head(title, lang, index_name(other))}
<body>
<header class="lg-bar"><span>{html.escape(_("Supporting People longitudinal study"))}</span>
{_switch(lang, index_name(other), _)}</header>
<main id="main">
<h1>{html.escape(title)}</h1>
<p class="lg-status"><strong>{html.escape(_("Statistics status"))}:</strong> {html.escape(_(STATUS[status]))}</p>
{verdict}
<p>{html.escape(_("Release date"))}: {html.escape(_.date(release_date))}</p>
<p>{html.escape(_("One report for Wales and one for each of the 22 local authorities, each with its tables in an accessible spreadsheet and as CSV files."))}</p>
<div class="lg-table-wrap"><table class="lg-table">
<caption>{html.escape(_("Reports by area, {year}", year=_.financial_year(year)))}</caption>
<thead><tr><th scope="col" class="txt">{html.escape(_("Area"))}</th><th scope="col" class="txt">{html.escape(_("Report"))}</th>
<th scope="col" class="txt">{html.escape(_("Tables"))}</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></div>
</main></body></html>
"""


def write_report(sections: list, release: Release, out: str | Path, *, quality=None) -> dict[str, Path]:
    """Write one report's pages (``report.html``, ``report.cy.html``), its spreadsheets (``tables.xlsx``,
    ``tables.cy.xlsx``) and the notes of its CSV files (``tables/notes.csv``, ``tables/symbols.csv``).

    Key points are the sections' ``key_points`` in page order. Returns name -> path.
    """
    from .present import notes_tables
    from .publish import PublishedTable
    from .spreadsheet import spreadsheet_name, write_spreadsheet

    out = Path(out)
    tables = [t for s in sections for t in s.tables]
    points = [p for s in sections for p in s.key_points]
    written = {}
    for lang in LANGUAGES:
        page = render_page(sections, release, lang, key_points=points, quality=quality,
                           spreadsheet=spreadsheet_name(lang))
        with atomic_path(out / page_name(lang)) as tmp:
            tmp.write_text(page, encoding="utf-8")
        written[page_name(lang)] = out / page_name(lang)
        written[spreadsheet_name(lang)] = write_spreadsheet(out / spreadsheet_name(lang), tables, release, lang)
    columns, symbols = notes_tables([(t.name, t.data, t.row_decimals) for t in tables])
    for name, frame in (("notes", columns), ("symbols", symbols)):
        # The notes beside the tables, declared (as every CSV there is) for the disclosure audit: they describe
        # the tables and count no one (a column's number of decimals is about no group of people).
        notes = PublishedTable(name, "", frame, free=tuple(c for c in frame.columns if c == "decimals_shown"))
        with atomic_path(out / "tables" / f"{name}.csv") as tmp:
            tmp.write_bytes(notes.to_csv_bytes())
        with atomic_path(out / "tables" / f"{name}.meta.json") as tmp:
            tmp.write_bytes(notes.declaration_bytes())
        written[f"tables/{name}.csv"] = out / "tables" / f"{name}.csv"
    return written
