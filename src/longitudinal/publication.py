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
from dataclasses import dataclass
from datetime import date

from . import domain
from .i18n import LANGUAGE_NAMES, N_, Translator, other_language, render_html

__all__ = ["Release", "page_name", "index_name", "render_page", "render_index", "markdown_html", "PAGE_CSS", "STATUS"]

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

    return render_html(text, _, lambda s: mistune.html(s))


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
.lg-table thead th { border-bottom: 2px solid #0b0c0c; }
figure { margin: 0.5em 0 1.5em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 15px; }
"""


def _figure_html(fig, n: int, _: Translator, lang: str) -> str:
    png = fig.png_for(lang)
    b64 = base64.b64encode(png).decode("ascii")
    alt = _esc(fig.alt if getattr(fig, "alt", None) is not None else fig.caption, _)
    cap = _esc(fig.caption, _)
    return (f'<figure id="figure-{html.escape(fig.name)}"><img src="data:image/png;base64,{b64}" alt="{alt}">'
            f'<figcaption><strong>{html.escape(_("Figure {n}", n=str(n)))}:</strong> {cap}</figcaption></figure>')


def render_section(section, _: Translator, lang: str, counter: dict) -> str:
    """One section as HTML in ``lang``; tables and figures numbered through the page (``counter``)."""
    from .presentation import table_html

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
                                number=counter["table"], href=f"tables/{tab.name}.csv", caption_is_html=True))
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
    from .presentation import symbols_html

    _ = Translator(lang)
    other = other_language(lang)
    area = _.area(release.area)
    title = _("Supporting People annual report: {area}, {year}", area=area, year=_.financial_year(release.year))
    start, end = domain.fy_bounds(release.year)
    body = [s for s in sections if s.key != "title"]
    if quality is not None:
        body.append(quality)
    counter = {"figure": 0, "table": 0}
    rendered = [render_section(s, _, lang, counter) for s in body]
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
    switch = (f'<a href="{page_name(other)}" lang="{other}" hreflang="{other}">'
              f"{html.escape(LANGUAGE_NAMES[other])}</a>")
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="alternate" hreflang="{other}" href="{page_name(other)}">
<style>{PAGE_CSS}</style></head>
<body>
<a class="lg-skip" href="#main">{html.escape(_("Skip to the content"))}</a>
<header class="lg-bar"><a href="../{index_name(lang)}">{html.escape(_("Back to the index of reports"))}</a>
<nav aria-label="{html.escape(_("Language"))}">{switch}</nav></header>
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


def render_index(year: int, areas: list, published: set, lang: str, *, release_date: date, status: str) -> str:
    """The year's index page in ``lang``: every area (its name in the language) with links to its report and
    spreadsheet, or "not published"; no operators' columns (status and run times are in ``batch.json``)."""
    from .spreadsheet import spreadsheet_name

    _ = Translator(lang)
    other = other_language(lang)
    title = _("Supporting People annual reports, {year}", year=_.financial_year(year))
    rows = []
    for a in areas:
        slug = domain.slug(a)
        name = html.escape(_.area(a))
        if a in published:
            report = f'<a href="{slug}/{page_name(lang)}">{html.escape(_("Report"))}<span class="lg-vh"> {name}</span></a>'
            sheet = (f'<a href="{slug}/{spreadsheet_name(lang)}">{html.escape(_("Spreadsheet"))}'
                     f'<span class="lg-vh"> {name}</span></a>')
        else:
            report, sheet = html.escape(_("Not published")), ""
        rows.append(f'<tr><th scope="row" class="txt">{name}</th><td class="txt">{report}</td>'
                    f'<td class="txt">{sheet}</td></tr>')
    switch = (f'<a href="{index_name(other)}" lang="{other}" hreflang="{other}">'
              f"{html.escape(LANGUAGE_NAMES[other])}</a>")
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="alternate" hreflang="{other}" href="{index_name(other)}">
<style>{PAGE_CSS} .lg-vh {{ position: absolute; left: -9999px; }}</style></head>
<body>
<header class="lg-bar"><span>{html.escape(_("Supporting People longitudinal study"))}</span>
<nav aria-label="{html.escape(_("Language"))}">{switch}</nav></header>
<main id="main">
<h1>{html.escape(title)}</h1>
<p class="lg-status"><strong>{html.escape(_("Statistics status"))}:</strong> {html.escape(_(STATUS[status]))}</p>
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
