"""Welsh and English: the catalogue is complete, numbers and dates follow the language, nothing falls back silently."""

import datetime
import importlib.util
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from longitudinal import domain, i18n
from longitudinal.i18n import MissingTranslation, Msg, Number, Translator

ROOT = Path(__file__).resolve().parents[1]


def test_every_message_of_the_code_and_every_domain_name_has_a_welsh_entry():
    """The test that fails when a string a report shows has no Welsh: every message the code passes to
    ``_``/``N_``/``Msg`` and every name the reports print (outcome areas, stages, lead needs, domains)."""
    welsh = i18n.catalogue("cy")
    wanted = {**{m: ["domain.py"] for m in i18n.domain_messages()}, **i18n.source_messages()}
    missing = {m: where[:2] for m, where in wanted.items() if not welsh.get(m, "").strip()}
    assert not missing, f"{len(missing)} message(s) without Welsh (run scripts/catalogue.py update, then " \
                        f"translate): {list(missing.items())[:10]}"
    assert len(wanted) >= 40


def test_both_catalogues_hold_the_same_messages_and_placeholders():
    cats = {}
    for lang in i18n.LANGUAGES:
        with open(i18n.po_path(lang), "rb") as fh:
            cats[lang] = {m.id: m.string for m in read_po(fh) if m.id}
    assert set(cats["en"]) == set(cats["cy"])
    import string

    def fields(s):
        return sorted(f for _, f, _, _ in string.Formatter().parse(s) if f)

    bad = [m for m, w in cats["cy"].items() if w and fields(m) != fields(w)]
    assert not bad, f"Welsh entries whose {{fields}} differ from the English: {bad[:5]}"


def test_missing_welsh_is_an_error_never_english():
    with pytest.raises(MissingTranslation, match="no Cymraeg entry for 'Not in the catalogue'"):
        Translator("cy")("Not in the catalogue")
    assert Translator("en")("Not in the catalogue") == "Not in the catalogue"
    with pytest.raises(ValueError, match="expected one of en, cy"):
        Translator("fr")


def test_names_in_welsh():
    cy, en = Translator("cy"), Translator("en")
    assert [cy.area(a) for a in ("Wales", "Cardiff", "Isle of Anglesey", "Swansea")] == \
        ["Cymru", "Caerdydd", "Ynys Môn", "Abertawe"]
    assert en.area("Caerdydd") == "Cardiff"
    assert all(cy.area(la.name) == la.welsh for la in domain.LOCAL_AUTHORITIES)
    assert cy.outcome("managing_money") == "Rheoli arian" and en.outcome("managing_money") == "Managing money"
    assert cy.stage(5) == "5 Annibynnol"
    assert cy.lead_need("domestic_abuse") == "Cam-drin domestig"
    assert cy.lead_need("a_study_own_code") == "a_study_own_code"


def test_numbers_and_dates_per_language():
    cy, en = Translator("cy"), Translator("en")
    assert en.number(6982208) == cy.number(6982208) == "6,982,208"
    assert en.number(1.25, 1) in ("1.2", "1.3") and en.number(12.0, 2) == "12.00"
    assert en.number(-0.0004, 3) == "0.000"  # never "-0"
    assert en.money(124_000_000) == "£124,000,000"
    assert en.date(datetime.date(2026, 3, 31)) == "31 March 2026"
    assert cy.date("2025-04-01") == "1 Ebrill 2025"
    with pytest.raises(ValueError, match="symbol"):
        en.number(float("nan"))


def test_a_message_is_rendered_per_language_with_its_fields():
    m = Msg("Key points")
    assert m.render(Translator("cy")) == "Prif bwyntiau" and str(m) == "Key points"
    n = Number(1234.5, 1)
    assert n.render(Translator("en")) == "1,234.5"
    with pytest.raises(TypeError, match="Number"):
        Msg("{x}", x=0.5).render(Translator("en"))


def test_the_reviewers_list_is_up_to_date():
    spec = importlib.util.spec_from_file_location("catalogue", ROOT / "scripts" / "catalogue.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (ROOT / "docs" / "welsh-terms.md").read_text(encoding="utf-8") == mod.terms_markdown(), \
        "docs/welsh-terms.md is out of date: run python scripts/catalogue.py terms"
    assert len(i18n.review_terms()) >= 10


def test_the_catalogues_are_package_data():
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["longitudinal"]
    pkg = ROOT / "src" / "longitudinal"
    taken = {p for g in globs for p in pkg.glob(g)}
    assert {i18n.po_path(lang) for lang in i18n.LANGUAGES} <= taken


def test_every_note_the_mixed_model_can_give_is_said_in_both_languages():
    # A variance component at the boundary carries a note from the model; the report's table shows it.
    # An untranslated note made an area's Welsh page fail (3,000 simulated people, Bridgend).
    from longitudinal import mixed
    from longitudinal.report.sections.trajectories import MODEL_NOTES

    notes = {getattr(mixed, n) for n in dir(mixed) if n.startswith("NOTE_")}
    assert notes and set(MODEL_NOTES) == notes
    for text in MODEL_NOTES.values():
        assert Translator("cy")(text) != text and Translator("en")(text) == text
