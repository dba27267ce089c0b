"""GDP deflator tables: the shipped HM Treasury figures, and reading HM Treasury's own release files."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from longitudinal import prices, sroi
from longitudinal.cli import app
from longitudinal.prices import DeflatorError, Deflators, load_deflators, read_hmt_release

# HM Treasury, "GDP deflators at market prices, and money GDP: March 2026 (Quarterly National Accounts)",
# financial years, 2024-25 = 100 (outturn: ONS L8GG). Pinned so that a silent edit of data/deflators.csv fails.
MARCH_2026_OUTTURN = {2000: 54.3697, 2001: 55.4597, 2002: 56.6, 2003: 57.9885, 2004: 59.7172, 2005: 61.3576,
                      2006: 63.2017, 2007: 64.438, 2008: 66.8397, 2009: 67.7042, 2010: 68.8561, 2011: 70.3261,
                      2012: 71.5454, 2013: 73.0337, 2014: 74.0662, 2015: 74.5804, 2016: 76.0754, 2017: 77.0388,
                      2018: 78.7948, 2019: 80.8738, 2020: 85.1002, 2021: 85.3036, 2022: 91.2996, 2023: 96.1117,
                      2024: 100.0}
# The full-precision forecast levels of the same release, compounded from the OBR per cent changes it prints.
MARCH_2026_FORECAST = {2024: 100.0, 2025: 103.23883115679686, 2026: 105.30953567614671, 2027: 107.35462607349376,
                       2028: 109.3571288243608, 2029: 111.3959473045061, 2030: 113.64164762942663}


def test_shipped_table_is_the_march_2026_release():
    d = load_deflators()
    idx = d.table.set_index("financial_year")["deflator"]
    for year, value in MARCH_2026_OUTTURN.items():
        assert idx[year] == value, year
    for year, value in MARCH_2026_FORECAST.items():
        assert idx[year] == pytest.approx(value, abs=5e-5), year
    status = d.table.set_index("financial_year")["status"]
    assert (status[status.index <= 2024] == "outturn").all()
    assert status[2025].startswith("forecast")
    assert "March 2026" in d.source and "L8GG" in d.source and "OBR" in d.source
    assert d.base == "2024-25 = 100" and "gov.uk" in d.release
    assert d.title == ("HM Treasury, GDP deflators at market prices, and money GDP: "
                       "March 2026 (Quarterly National Accounts)")
    assert list(d.table["financial_year"]) == list(range(2000, 2031))
    # 2022-23 is the year of 7% GDP inflation: £1,000 of 2021-22 is £1,070.29 of 2022-23.
    assert d.restate(1000, 2021, 2022) == pytest.approx(1000 * 91.2996 / 85.3036)
    assert round(d.restate(1000, 2021, 2022), 2) == 1070.29


def test_write_then_load_round_trips_byte_for_byte(tmp_path):
    d = load_deflators()
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    d.write(a)
    again = load_deflators(a)
    assert again.source == d.source and again.release == d.release and again.base == d.base
    again.write(b)
    assert a.read_bytes() == b.read_bytes()


# ----------------------------------------------------------- HM Treasury's release files
# The first rows of HM Treasury's November 2017 (Autumn Budget 2017) CSV, as published, in its layout:
# financial-year block in columns A-E, calendar-year block in G-J, notes above, footnotes below.
NOV_2017_ROWS = [
    ["GDP DEFLATORS AT MARKET PRICES, AND MONEY GDP"] + [""] * 9,
    [""] * 10,
    ["Outturn data are the latest National Accounts figures from ONS - last updated 29 September 2017."] + [""] * 9,
    ["Forecast data are consistent with OBR Autumn Budget 2017 EFO data as at 22 November 2017"] + [""] * 9,
    ["Financial year", "", "", "", "", "", "Calendar year", "", "", ""],
    ["", "GDP deflator at market prices", "", "Money GDP (3), (4)", "", "", "", "GDP deflator at market prices", "",
     "Money GDP (3)"],
    ["Financial year", "2016-17 = 100", "per cent change on previous year", "Cash £ million Non-Seasonally Adjusted",
     "Cash £ million Seasonally Adjusted", "", "Calendar year", "2016 = 100", "per cent change on previous year",
     "Cash £ million Non-Seasonally Adjusted"],
    ["1955-56", "4.321", "", "19,816", "19,829", "", "1955", "4.285", "", "19,415"],
    ["1956-57", "4.593", "6.3", "21,412", "21,387", "", "1956", "4.581", "6.89", "21,088"],
    ["1957-58", "4.808", "4.68", "22,771", "22,788", "", "1957", "4.767", "4.07", "22,365"],
    ["1958-59", "4.929", "2.51", "23,622", "23,593", "", "1958", "4.946", "3.75", "23,500"],
    ["1959-60", "4.952", "0.47", "25,133", "25,185", "", "1959", "4.984", "0.77", "24,655"],
    ["1960-61", "5.055", "2.08", "26,921", "26,941", "", "1960", "5.036", "1.05", "26,476"],
    ["1961-62", "5.223", "3.32", "28,346", "28,375", "", "1961", "5.214", "3.53", "28,142"],
    ["1962-63", "5.387", "3.13", "29,682", "29,699", "", "1962", "5.399", "3.53", "29,460"],
    [""] * 10,
    ["(1) Figures are rounded.", "", "", "", "", "", "", "", "", ""],
]


def write_csv(path, rows, encoding="cp1252"):
    with open(path, "w", newline="", encoding=encoding) as f:
        csv.writer(f).writerows(rows)
    return path


def test_reads_hm_treasury_csv_release(tmp_path):
    path = write_csv(tmp_path / "GDP_Deflators_Autumn_Budget_2017_update.csv", NOV_2017_ROWS)
    d = load_deflators(path)  # no '# source:' line: recognised as the release by its '2016-17 = 100' header
    assert list(d.table["financial_year"]) == list(range(1955, 1963))
    assert list(d.table["deflator"]) == [4.321, 4.593, 4.808, 4.929, 4.952, 5.055, 5.223, 5.387]
    assert d.base == "2016-17 = 100"
    assert d.source.startswith("HM Treasury, GDP DEFLATORS AT MARKET PRICES, AND MONEY GDP (file "
                               "GDP_Deflators_Autumn_Budget_2017_update.csv)")
    assert "29 September 2017" in d.source and "22 November 2017" in d.source
    assert d.title == ("HM Treasury, GDP DEFLATORS AT MARKET PRICES, AND MONEY GDP "
                       "(file GDP_Deflators_Autumn_Budget_2017_update.csv)")
    assert (d.table["status"] == "").all()  # the release states no forecast period in a form we can read
    assert d.factor(1955, 1962) == pytest.approx(5.387 / 4.321)


def march_2026_workbook(path, *, misplace_pct: bool = False):
    """A workbook in the layout of HM Treasury's 2026 releases: the financial-year block in columns B-D
    from row 8, forecast years printing '-' for the index and the OBR per cent change beside it."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "GDP deflators"
    ws["B1"] = "GDP deflators at market prices, and money GDP"
    ws["B2"] = "March 2026 (Quarterly National Accounts)"
    ws["B3"] = ("Outturn data covering the years 1955-56 to 2024-25 (1955 to 2025) are based on the Quarterly "
                "National Accounts, 31 March 2026.")
    ws["B4"] = ("Forecasts covering periods 2025-26 to 2030-31 (2026 to 2030) are from the OBR as at the Spring "
                "Statement 3 March 2026.")
    ws["B7"], ws["C7"], ws["D7"] = "Financial year", "2024-25 = 100", "per cent change on previous year"
    ws["H7"], ws["I7"], ws["J7"] = "Calendar year", "2025 = 100", "per cent change on previous year"
    years = sorted({**MARCH_2026_OUTTURN, **MARCH_2026_FORECAST})
    levels = {**MARCH_2026_OUTTURN, **MARCH_2026_FORECAST}
    for r, y in enumerate(years, start=8):
        label = f"{y}-{(y + 1) % 100:02d}" + (" (1), (2)" if y > 2024 else "")
        ws.cell(r, 2, label)
        pct = 100 * (levels[y] / levels[y - 1] - 1) if y - 1 in levels else None
        if y > 2024:
            ws.cell(r, 3, "-")
            ws.cell(r, 4, pct)
        else:
            ws.cell(r, 3, levels[y])
            if pct is not None:
                ws.cell(r, 4, round(pct + (5.0 if misplace_pct and y == 2022 else 0.0), 2))
        ws.cell(r, 8, y + 1)  # the calendar block beside it is not read
        ws.cell(r, 9, 50.0)
    ws.cell(8 + len(years) + 1, 2, "(1) Forecast. (2) Per cent change from the OBR.")
    wb.save(path)
    return path


def test_reads_hm_treasury_xlsx_release_and_compounds_forecast_changes(tmp_path):
    path = march_2026_workbook(tmp_path / "GDP_Deflators_Qtrly_National_Accounts_March_2026_update.xlsx")
    d = read_hmt_release(path)
    idx = d.table.set_index("financial_year")["deflator"]
    for y, v in {**MARCH_2026_OUTTURN, **MARCH_2026_FORECAST}.items():
        assert idx[y] == pytest.approx(v, rel=1e-12), y
    status = d.table.set_index("financial_year")["status"]
    assert status[2024] == "outturn"
    assert status[2025] == "forecast (compounded from per cent change)"
    assert "March 2026 (Quarterly National Accounts)" in d.source and "31 March 2026" in d.source
    assert d.base == "2024-25 = 100"
    # The shipped table is this release, rounded to 4 decimals.
    shipped = load_deflators().table.set_index("financial_year")["deflator"]
    for y in idx.index:
        assert shipped[y] == pytest.approx(idx[y], abs=5e-5)


def test_a_misread_column_is_caught_by_the_printed_per_cent_change(tmp_path):
    path = march_2026_workbook(tmp_path / "release.xlsx", misplace_pct=True)
    with pytest.raises(DeflatorError, match=r"row 30, field '2024-25 = 100'.*7.03% growth in 2022-23.*prints 12.03%"
                                            r".*is '2024-25 = 100' the index"):
        read_hmt_release(path)


@pytest.mark.parametrize("body, message", [
    ("financial_year,deflator\n2024,100\n", "names no source"),
    ("# source: x\nfinancial_year,value\n2024,100\n", r"lacks columns \['deflator'\]"),
    ("# source: x\nfinancial_year,deflator\n2024,100\n2024,101\n", "repeats financial year 2024"),
    ("# source: x\nfinancial_year,deflator\n2023,0\n2024,100\n", r"row 1, field 'deflator'.*must be positive"),
    ("# source: x\nfinancial_year,deflator\n2023,n/a\n",
     r"row 1, field 'deflator'.*expected a financial year and a positive number, got '2023', 'n/a'"),
])
def test_bad_tables_say_what_is_wrong(tmp_path, body, message):
    p = tmp_path / "d.csv"
    p.write_text(body)
    with pytest.raises(DeflatorError, match=message):
        load_deflators(p)


def test_missing_file_and_files_without_a_block(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_deflators(tmp_path / "nope.csv")
    p = write_csv(tmp_path / "r.csv", [["GDP deflators"], ["nothing here"]], encoding="utf-8")
    with pytest.raises(DeflatorError, match="no financial-year GDP deflator block"):
        read_hmt_release(p)


def test_price_year_outside_the_table_is_an_impact_map_error_naming_the_row():
    d = Deflators(load_deflators().table, "test")
    with pytest.raises(DeflatorError, match=r"row 3, field 'price_year': price year 1990 is not in the deflator"):
        d.factor(1990, 2024, row=3)
    assert issubclass(sroi.ImpactMapError, prices.LocatedError)


def test_cli_converts_a_release_and_sroi_uses_it(tmp_path):
    release = march_2026_workbook(tmp_path / "GDP_Deflators_March_2026.xlsx")
    out = tmp_path / "deflators.csv"
    runner = CliRunner()
    r = runner.invoke(app, ["deflators", str(release), "--out", str(out)])
    assert r.exit_code == 0, r.output
    d = load_deflators(out)
    assert d.base == "2024-25 = 100" and "GDP_Deflators_March_2026.xlsx" in d.source
    map_path = tmp_path / "map.yaml"
    map_path.write_text(
        "name: T\nprice_year: 2024\ninputs: [{name: Grant, value: 1000}]\n"
        "outcomes: [{name: Housed, stakeholder: Users, quantity: 1, proxy_value: 1000, price_year: 2021,\n"
        "            duration_years: 1, deadweight: 0, displacement: 0, attribution: 0, drop_off: 0}]\n"
        "discount: {rate: 0.0}\n")
    r = runner.invoke(app, ["sroi", str(map_path), "--json", "--deflators", str(release)])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["present_value"] == pytest.approx(1000 * 100.0 / 85.3036)
    assert "GDP_Deflators_March_2026.xlsx" in res["deflator_source"]
    r = runner.invoke(app, ["sroi", str(map_path), "--deflators", str(tmp_path / "missing.xlsx")])
    assert r.exit_code == 2 and "missing.xlsxdoesnotexist" in "".join(r.output.split())


def test_spacer_rows_inside_the_block_and_a_short_block(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = march_2026_workbook(tmp_path / "release.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    ws.insert_rows(8 + 25)  # a blank row between 2024-25 (outturn) and 2025-26 (the first forecast year)
    wb.save(path)
    d = read_hmt_release(path)
    assert d.table["financial_year"].iloc[-1] == 2030
    assert d.table.set_index("financial_year")["deflator"][2030] == pytest.approx(MARCH_2026_FORECAST[2030])
    # forecast rows missing from the block, though the notes announce them: an error, not a shorter table
    for r in range(8 + 26, 8 + 32):
        for c in (2, 3, 4):
            ws.cell(r, c).value = None
    wb.save(path)
    with pytest.raises(DeflatorError, match="notes give forecasts to 2030-31 but the '2024-25 = 100' block ends "
                                            "at 2024-25"):
        read_hmt_release(path)


def test_unreadable_bytes_are_a_deflator_error(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes(b"# source: x\nfinancial_year,deflator\n2024,100\n\x81\x8d\x90\n")  # undefined in cp1252
    with pytest.raises(DeflatorError, match="not readable as UTF-8 .* nor as Windows-1252"):
        load_deflators(p)
