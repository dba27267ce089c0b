"""One accessible spreadsheet per report, following the Analysis Function's "Releasing statistics in
spreadsheets": a cover sheet, a contents sheet, a notes sheet and one table per sheet, each with a
title, plain headers and numbers stored as numbers (the GSS symbols where there is no number).
Written with ``gptables`` (the Analysis Function's own package).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..i18n import N_, Translator, show
from ..io import neutralise_formulas, stable_zip
from .present import SYMBOLS, column, symbol_of

__all__ = ["spreadsheet_name", "write_spreadsheet"]

#: The notes' references (gptables numbers them in order of first use).
_NOTE_REF = {"[c]": "symbol_c", "[x]": "symbol_x", "[z]": "symbol_z"}


def spreadsheet_name(lang: str) -> str:
    """``tables.xlsx`` (English) or ``tables.cy.xlsx`` (Welsh)."""
    return "tables.xlsx" if lang == "en" else f"tables.{lang}.xlsx"


def _sheet_frame(data: pd.DataFrame, table: str, _: Translator) -> pd.DataFrame:
    """The table with translated headers and text, numbers as numbers, symbols where there is none."""
    out = {}
    for c in data.columns:
        spec = column(table, c)
        vals = []
        for v in data[c]:
            sym = symbol_of(v, spec)
            words = spec.label(v, _)
            if sym is not None:
                vals.append(sym)
            elif words is not None:
                vals.append(words)
            elif spec.source:  # a map's own words, as written (the caption says they are in English)
                vals.append(str(v))
            elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and not spec.text:
                vals.append(int(v) if float(v).is_integer() and spec.decimals in (0, None) else float(v))
            else:
                from .present import cell_text

                vals.append(cell_text(v, _))
        out[_(spec.header)] = vals
    return pd.DataFrame(out)


def write_spreadsheet(path: str | Path, tables: list, release, lang: str) -> Path:
    """Write the report's tables as one accessible workbook.

    ``tables``: the report's published tables (``name``, ``caption``, ``data``), in page order.
    """
    import gptables as gpt

    from .page import STATUS

    _ = Translator(lang)
    area = _.area(release.area)
    title = _("Supporting People annual report: {area}, {year}", area=area, year=_.financial_year(release.year))
    sheets, used_symbols = {}, []
    for i, t in enumerate(tables, start=1):
        frame = neutralise_formulas(_sheet_frame(t.data, t.name, _))  # text never runs as a formula
        present = [k for k in SYMBOLS if frame.isin([k]).to_numpy().any()]
        used_symbols += [k for k in present if k not in used_symbols]
        refs = "".join(f"$${_NOTE_REF[k]}$$" for k in present)
        # Sheet names: at most 31 characters, unique (the table's number first).
        sheets[f"{i}_{t.name}"[:31]] = gpt.GPTable(
            table=frame, table_name=f"table_{i}", title=show(t.caption, _),
            subtitles=[_("Cells with a symbol are explained in the notes worksheet") + refs] if present else [],
            instructions=_("This worksheet contains one table."),
            source=_("Source: Supporting People longitudinal study, {area}", area=area))
    notes = pd.DataFrame({_("Note number"): [_NOTE_REF[k] for k in used_symbols],
                          _("Note text"): [f"{k} {_(SYMBOLS[k])}" for k in used_symbols]}) if used_symbols else None
    cover = gpt.Cover(
        title=title,
        intro=[_(STATUS[release.status])],
        about=[_("Release date: {date}", date=_.date(release.release_date)),
               _("Next update: {month} (provisional)", month=_.month(release.next_update)),
               _("Symbols used in the tables"), *[f"{s} {_(m)}" for s, m in SYMBOLS.items()]],
        contact=[f"{_(release.contact_team)}: {release.contact_email}"],
        cover_label=_("Cover"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    one = _("This worksheet contains one table.")
    gpt.write_workbook(filename=str(path), sheets=sheets, cover=cover, contentsheet_label=_("Contents"),
                       contentsheet_options={"title": _("Table of contents"), "instructions": one,
                                             "column_names": [_("Sheet name"), _("Table description")]},
                       notes_table=notes, notesheet_label=_("Notes"),
                       notesheet_options={"title": _("Notes"), "instructions": one}, auto_width=True)
    # the same tables give the same bytes, whenever the batch runs; the cover's headings translated in that pass
    stable_zip(path, replace=_translated_cover_headings(path, _) if lang != "en" else None)
    return path


#: The cover's headings gptables writes in English whatever the language (``gptables.core.wrappers``).
_COVER_HEADINGS = (N_("Introductory information"), N_("About these data"), N_("Contact"))


def _translated_cover_headings(path: Path, _: Translator) -> dict[str, bytes]:
    """The workbook's shared strings with the cover's headings in the workbook's language, for
    :func:`~longitudinal.io.stable_zip` to write.

    Each heading is a shared string of the workbook: replaced where it is stored when the cover alone uses it (a
    table cell of the same words keeps them), which costs no round trip through openpyxl; otherwise the cover's
    cells are rewritten with openpyxl here and nothing is left to replace.
    """
    import re
    import zipfile
    from xml.sax.saxutils import escape

    with zipfile.ZipFile(path) as z:
        files = {i.filename: z.read(i) for i in z.infolist()}
    strings = files.get("xl/sharedStrings.xml")
    cover = min((n for n in files if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
                key=lambda n: int(re.sub(r"\D", "", n)), default=None)
    cell = re.compile(rb'<c [^>]*t="s"[^>]*><v>(\d+)</v>')
    elsewhere = {int(i) for n, data in files.items() if n.startswith("xl/worksheets/sheet") and n != cover
                 for i in cell.findall(data)}
    items = re.findall(rb"<si>.*?</si>|<si/>", strings or b"", flags=re.S)
    found = {k: i for k, item in enumerate(items) for i in _COVER_HEADINGS
             if item == b"<si><t>" + escape(i).encode() + b"</t></si>"}
    if strings is None or cover is None or len(found) != len(_COVER_HEADINGS) or set(found) & elsewhere:
        _translate_cover_headings_openpyxl(path, _)
        return {}
    for k, heading in found.items():
        strings = strings.replace(items[k], b"<si><t>" + escape(_(heading)).encode() + b"</t></si>", 1)
    return {"xl/sharedStrings.xml": strings}


def _translate_cover_headings_openpyxl(path: Path, _: Translator) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb[wb.sheetnames[0]]
    for row in ws.iter_rows():
        for cell in row:
            if cell.value in _COVER_HEADINGS:
                cell.value = _(cell.value)
    wb.save(path)
