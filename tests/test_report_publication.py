"""The published page, tables, spreadsheet and index as a reader meets them, in Welsh and English (issue 12)."""

import datetime
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from longitudinal import domain, indicators
from longitudinal.i18n import MissingTranslation, Msg, Number, Translator, Verbatim
from longitudinal.report.page import IndexEntry, Release, index_name, page_name, render_index, render_page
from longitudinal.report.present import (
    COLUMNS,
    INDICATOR_LABELS,
    SYMBOLS,
    UnknownColumn,
    cells,
    decimals_of,
    notes_tables,
    table_html,
)
from longitudinal.report.spreadsheet import spreadsheet_name, write_spreadsheet

EN, CY = Translator("en"), Translator("cy")


@dataclass
class Table:
    name: str
    caption: object
    data: pd.DataFrame
    label_column: str | None = None
    row_decimals: tuple | None = None


@dataclass
class Sec:
    key: str
    heading: object
    text: object = ""
    tables: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def by_need():
    return Table("by_lead_need", Msg("Reports by area, {year}", year="2025-26"), pd.DataFrame({
        "lead_need": ["Domestic abuse", "Older people (55+)", "All"], "people": [1234, "<5", "[c]"],
        "spend_gbp": [10399.0, 6982208.0, np.nan], "mean_change": [0.5, -0.0001, 1.25]}), "lead_need")


class Cells(HTMLParser):
    """Every table cell with its tag and attributes."""

    def __init__(self):
        super().__init__()
        self.cells, self._cur, self.captions, self._cap = [], None, [], False

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td"):
            self._cur = [tag, dict(attrs), ""]
        self._cap = self._cap or tag == "caption"

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cur:
            self.cells.append(tuple(self._cur))
            self._cur = None
        if tag == "caption":
            self._cap = False

    def handle_data(self, data):
        if self._cur:
            self._cur[2] += data
        if self._cap:
            self.captions.append(data)


def test_table_cells_follow_the_gss_guidance():
    t = by_need()
    heads, rows = cells(t.data, t.name, EN)
    assert heads == ["Lead need", "People", "Spend (£)", "Mean change (stages)"]
    assert rows[0] == ["Domestic abuse", "1,234", "10,399", "0.50"]
    # a suppressed count is [c] (never "<5"), a blank is [x], a rounded small negative is 0.00, never -0.00
    assert rows[1][1] == "[c]" and rows[1][3] == "0.00" and rows[2][2] == "[x]"
    assert rows[1][2] == "6,982,208"
    # one number of decimals per column
    for j in (2, 3):
        decs = {len(r[j].split(".")[1]) if "." in r[j] else 0 for r in rows if r[j][0].isdigit()}
        assert len(decs) == 1, (j, decs)
    assert cells(t.data, t.name, CY)[1][0][0] == "Cam-drin domestig"
    assert decimals_of([1.0, 2.5, 3.25]) == 2 and decimals_of([10.0, 11.0]) == 0


def test_table_html_has_caption_scoped_headers_and_aligned_cells():
    t = by_need()
    page = table_html(t.data, t.name, "A caption", EN, label_column="lead_need", number=3, href="tables/x.csv")
    p = Cells()
    p.feed(page)
    assert "".join(p.captions).startswith("Table 3:")
    cols = [c for c in p.cells if c[0] == "th" and c[1].get("scope") == "col"]
    rows = [c for c in p.cells if c[0] == "th" and c[1].get("scope") == "row"]
    assert len(cols) == 4 and [r[2] for r in rows] == ["Domestic abuse", "Older people (55+)", "All"]
    assert all(c[1]["class"] == "num" for c in p.cells if c[0] == "td")  # numbers right-aligned
    assert all(c[1]["class"] == "txt" for c in rows)  # text left-aligned


def test_every_column_header_has_welsh_and_unknown_columns_are_refused():
    for key, spec in COLUMNS.items():
        assert CY(spec.header), key
    with pytest.raises(UnknownColumn, match="no plain header"):
        cells(pd.DataFrame({"spend_per_person_gbp_raw": [1]}), "x", EN)


def test_notes_describe_every_csv_column_and_symbol():
    t = by_need()
    cols, symbols = notes_tables([(t.name, t.data)])
    assert list(cols["column"]) == list(t.data.columns)
    assert cols.set_index("column").at["spend_gbp", "header_cy"] == "Gwariant (£)"
    assert set(SYMBOLS) <= set(symbols["symbol"]) and symbols["meaning_cy"].str.len().min() > 10


def test_indicators_are_named_in_words_on_the_page_and_in_the_spreadsheet_and_kept_as_codes_in_the_csv(tmp_path):
    # Every registered indicator has words in both languages (a new one without them fails here).
    assert set(indicators.names()) <= set(INDICATOR_LABELS)
    t = pd.DataFrame({"step": ["Keeps a tenancy", "Own indicator"], "indicator": ["share_improving", "my_own"],
                      "n": [40, 35]})
    cy = table_html(t, "outcome_map_indicators", "x", CY, label_column="step")
    assert '<td class="txt">Cyfran y cyfnodau a wellodd</td>' in cy  # Welsh words, not marked English
    assert '<td class="txt" lang="en">my_<wbr>own</td>' in cy  # a user's own indicator: as written, marked English
    assert "share_improving" not in cy and "Share of episodes improving" in table_html(
        t, "outcome_map_indicators", "x", EN, label_column="step")
    write_spreadsheet(tmp_path / "t.xlsx", [Table("outcome_map_indicators", Msg("Indicator"), t, "step")],
                      RELEASE, "cy")
    import openpyxl

    shown = {c.value for ws in openpyxl.load_workbook(tmp_path / "t.xlsx") for row in ws.iter_rows() for c in row}
    assert "Cyfran y cyfnodau a wellodd" in shown and "share_improving" not in shown


def test_notes_give_the_decimals_each_row_is_shown_with():
    # A table whose rows are different measures (an amount, a ratio) shows each row with its own decimals;
    # the notes must say so, not give the column one number the page contradicts.
    t = pd.DataFrame({"measure": ["Net present value (£)", "Net SROI ratio", "Payback (months)"],
                      "value": [1396442.0, 0.6, 14.25]})
    cols, _ = notes_tables([("sroi_summary", t, (0, 2, 1))])
    assert cols.set_index("column").at["value", "decimals_shown"] == "0;2;1"
    shown = [r[1] for r in cells(t, "sroi_summary", EN, row_decimals=[0, 2, 1])[1]]
    assert shown == ["1,396,442", "0.60", "14.2"] or shown == ["1,396,442", "0.60", "14.3"]
    same, _ = notes_tables([("sroi_summary", t, (2, 2, None))])
    assert same.set_index("column").at["value", "decimals_shown"] == 2


RELEASE = Release("Cardiff", 2025, datetime.date(2026, 11, 30), status="synthetic")


def page(lang, **kw):
    sec = Sec("by-need", Msg("Reports by area, {year}", year="2025-26"),
              Msg("{start} to {end}", start=datetime.date(2025, 4, 1), end=Number(1234)), [by_need()],
              notes=[Msg("{month} (provisional)", month=Verbatim("a model's own words"))])
    return render_page([sec], RELEASE, lang, key_points=[Msg("Not published")], spreadsheet=spreadsheet_name(lang),
                       **kw)


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_page_carries_the_publication_furniture(lang):
    html = page(lang)
    _ = Translator(lang)
    assert f'<html lang="{lang}">' in html
    other = "cy" if lang == "en" else "en"
    assert f'href="{page_name(other)}" lang="{other}"' in html  # the language switch
    assert f'href="../{index_name(lang)}"' in html  # back to the index
    title = _("Supporting People annual report: {area}, {year}", area=_.area("Cardiff"), year="2025-26")
    assert f"<h1>{title}</h1>" in html and f"<title>{title}</title>" in html
    for label in ("Statistics status", "Release date", "Next update", "Contact", "Key points", "Contents"):
        assert _(label) in html, label
    assert _.date(datetime.date(2026, 11, 30)) in html and _.month(datetime.date(2027, 11, 1)) in html
    assert '<a href="#by-need">' in html and 'id="by-need"' in html
    for s in SYMBOLS:
        assert s in html
    # text another language keeps is marked so
    marked = '<span lang="en">a model&#x27;s own words</span>'
    assert (marked in html) == (lang == "cy")


def test_a_welsh_page_with_a_string_lacking_welsh_is_refused():
    sec = Sec("x", "A heading nobody translated")
    render_page([sec], RELEASE, "en")
    with pytest.raises(MissingTranslation, match="A heading nobody translated"):
        render_page([sec], RELEASE, "cy")


def test_index_lists_welsh_names_and_no_operator_columns():
    areas = ["Wales", *domain.LA_NAMES]
    kw = {"release_date": datetime.date(2026, 11, 30), "status": "synthetic"}
    entries = {a: IndexEntry(True, slug=domain.slug(a)) for a in areas[:3]}
    en = render_index(2025, areas, entries, "en", **kw)
    cy = render_index(2025, areas, entries, "cy", **kw)
    for la in domain.LOCAL_AUTHORITIES:
        assert f">{la.welsh}</th>" in cy and f">{la.name}</th>" in en
    assert ">Cymru</th>" in cy and 'lang="cy"' in cy and 'href="index.html" lang="en"' in cy
    for word in ("Status", "Finished", "manifest", "ok"):
        assert not re.search(rf"\b{word}\b", en), word
    assert 'href="wales/report.cy.html"' in cy and 'href="wales/tables.cy.xlsx"' in cy
    assert cy.count("Heb ei gyhoeddi") == len(areas) - 3


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_spreadsheet_has_cover_contents_notes_and_one_table_per_sheet(tmp_path, lang):
    from openpyxl import load_workbook

    t = by_need()
    path = write_spreadsheet(tmp_path / spreadsheet_name(lang), [t, t], RELEASE, lang)
    time.sleep(2.1)  # zip entries are stamped to 2 s: written again in another tick, the bytes are the same
    again = write_spreadsheet(tmp_path / "again" / spreadsheet_name(lang), [t, t], RELEASE, lang)
    assert path.read_bytes() == again.read_bytes()
    wb = load_workbook(path)
    _ = Translator(lang)
    assert wb.sheetnames == [_("Cover"), _("Contents"), _("Notes"), "1_by_lead_need", "2_by_lead_need"]
    cover = [c.value for row in wb[_("Cover")].iter_rows() for c in row if c.value]
    assert _("About these data") in cover and _("Contact") in cover
    ws = wb["1_by_lead_need"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    header = next(i for i, r in enumerate(rows) if r[0] == _("Lead need"))
    body = rows[header + 1:]
    assert body[0][1] == 1234 and isinstance(body[0][2], (int, float))  # numbers stored as numbers
    assert body[1][1] == "[c]" and body[2][2] == "[x]"
    notes = [c.value for row in wb[_("Notes")].iter_rows() for c in row if c.value]
    assert any(str(v).startswith("[c]") for v in notes) and any(str(v).startswith("[x]") for v in notes)


# ------------------------------------------------------------------ the trend figure
def trend_table(people, spend):
    years = [domain.fy_label(2021 + i) for i in range(len(people))]
    return pd.DataFrame({"financial_year": years, "people": people, "started": [400] * len(people),
                         "spend_gbp": spend}, dtype=object)


@pytest.mark.parametrize("spend, title, top_tick", [
    ([1_500_000.0, 2_400_000.0], "Spend (£ million)", "2.5"),
    ([40_000.0, 98_000.0], "Spend (£ thousand)", "100"),
    ([310.0, 640.0], "Spend (£)", "600"),
])
def test_spend_axis_takes_its_unit_from_the_amounts(spend, title, top_tick):
    """A small area's spend is not drawn as 0.10 £ million: the axis unit is £ million, £ thousand or £, chosen
    from the largest amount, in both languages."""
    import matplotlib.pyplot as plt

    from longitudinal.report.publish import translate_figure
    from longitudinal.report.sections.headline import trend_figure

    fig = trend_figure(trend_table([120, 130], spend))
    ax = fig.axes[1]
    assert ax.get_title() == title
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_yticklabels() if t.get_position()[1] <= ax.get_ylim()[1]]
    assert shown[-1] == top_tick and shown[0] in ("0", "0.0")
    heights = [p.get_height() for p in ax.patches]
    scale = {"Spend (£ million)": 1e6, "Spend (£ thousand)": 1e3, "Spend (£)": 1.0}[title]
    assert heights == pytest.approx([s / scale for s in spend])
    translate_figure(fig, "cy")
    assert ax.get_title() == CY(title) != title
    plt.close(fig)


@pytest.mark.parametrize("engine", ["tight_layout", None])
def test_a_published_figure_is_what_saving_it_the_ordinary_way_paints(engine):
    """Publishing lays a figure out fewer times than ``savefig(bbox_inches="tight")`` does (no draw before
    measuring, the English crop reused, the Welsh tick labels taken from the English PNG): the PNGs, English and
    Welsh (whose longer labels widen the crop), are the bytes the ordinary way gives, for a figure laid out once by
    ``tight_layout()`` and for one without a layout engine."""
    import io

    import matplotlib.pyplot as plt

    from longitudinal.i18n import N_
    from longitudinal.palette import DPI, figure_style
    from longitudinal.report.publish import Publisher, translate_figure

    def draw():
        with figure_style():
            fig, ax = plt.subplots(figsize=(6.0, 3.0))
            values = [10, 40, 25, 70]
            ax.barh(range(4), values)
            for i, v in enumerate(values):
                ax.annotate(f"{v}%", (v, i), xytext=(3, 0), textcoords="offset points", va="center")
            ax.set_yticks(range(4), [o.name for o in list(domain.OUTCOMES.values())[:4]])
            ax.set_xlabel(N_("% of episodes with a need that have two or more scored readings"))
            if engine == "tight_layout":
                fig.tight_layout()
        return fig

    def ordinary(lang):
        fig = draw()
        if lang != "en":
            translate_figure(fig, lang)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches="tight")
        plt.close(fig)
        return buf.getvalue()

    published = Publisher(set).figure("completeness", "Completeness", draw())
    assert published.pngs["en"] == ordinary("en")
    assert published.pngs["cy"] == ordinary("cy")
    assert published.pngs["cy"][16:24] != published.pngs["en"][16:24]  # the PNGs' sizes: the Welsh crop is its own


def test_trend_figure_marks_a_hidden_count_in_the_figure_and_its_table():
    """A count the protection hides ([c] or <5 in the table) is not drawn: its bar is missing and [c] stands at
    its foot, as the table shows it."""
    import matplotlib.pyplot as plt

    from longitudinal.report.sections.headline import trend_figure

    t = trend_table([120, "[c]", "<5", 135], [50_000.0, 52_000.0, np.nan, 61_000.0])
    fig = trend_figure(t)
    people, spend = fig.axes
    assert [p.get_x() + p.get_width() / 2 for p in people.patches] == pytest.approx([0, 3])
    marks = {round(a.xy[0]): a.get_text() for a in people.texts}
    assert marks == {1: "[c]", 2: "[c]"}
    assert [round(a.xy[0]) for a in spend.texts] == [2]  # the blank spend of 2023-24 is not drawn as 0
    plt.close(fig)
    _, rows = cells(t, "trend", EN)
    assert [r[1] for r in rows] == ["120", "[c]", "[c]", "135"] and rows[2][3] == "[x]"


def test_p_values_are_never_shown_as_zero():
    """A p-value rounded to 0 reads "<0.0001" in a table and "<0.01" in a sentence; the CSV keeps the number."""
    t = pd.DataFrame({"term": ["(Intercept)", "time", "age"], "estimate": [2.1, 0.31, -0.002],
                      "p_value": [0.0, 3e-9, 0.0312]})
    _, rows = cells(t, "trajectory_fixed_effects", EN)
    assert [r[2] for r in rows] == ["<0.0001", "<0.0001", "0.0312"]
    assert [r[1] for r in rows] == ["2.100", "0.310", "-0.002"]  # one number of decimals per column
    assert Number(0.001, 2, p=True).render(CY) == "<0.01" and Number(0.001, 2).render(CY) == "0.00"
    assert Number(0.2468, 2, p=True).render(EN) == "0.25"


def test_headers_say_what_the_column_of_each_table_holds():
    """One column name, two meanings: time to independence counts months from the start of support, the
    lasting-impact tables from its end; an adjustment's basis is where its value comes from."""
    assert COLUMNS[("time_to_independence", "months")].header == "Months since the start of support"
    assert cells(pd.DataFrame({"months": [6]}), "sustained_outcomes", EN)[0] == ["Months after the end"]
    welsh = cells(pd.DataFrame({"months": [6]}), "time_to_independence", CY)[0]
    assert welsh == [CY("Months since the start of support")]
    assert cells(pd.DataFrame({"basis": ["Stated in the impact map"]}), "sroi_adjustments", CY)[1] == [
        [CY("Stated in the impact map")]]


def test_an_unbounded_confidence_limit_is_not_estimable_not_inf_and_the_workbook_is_written(tmp_path):
    # A transition model's upper limit at infinity (3,000 simulated people, Flintshire) reached the
    # spreadsheet as a float xlsxwriter refuses: the area's report failed. It is "[x]" (not estimable).
    from longitudinal.report.page import Release
    from longitudinal.report.present import cells
    from longitudinal.report.spreadsheet import write_spreadsheet

    data = pd.DataFrame({"estimate": [0.5, 0.2], "ci_lower": [0.1, np.nan], "ci_upper": [np.inf, 0.4]})
    _, rows = cells(data, "transitions_model", Translator("en"))
    assert rows[0][2] == "[x]" and rows[1][1] == "[x]" and "inf" not in str(rows)

    @dataclass
    class Table:
        name: str
        caption: str
        data: pd.DataFrame

    for lang in ("en", "cy"):
        path = write_spreadsheet(tmp_path / f"t.{lang}.xlsx", [Table("transitions_model", "Standard error", data)],
                                 Release("Wales", 2025, datetime.date(2026, 11, 30)), lang)
        assert path.stat().st_size > 0
