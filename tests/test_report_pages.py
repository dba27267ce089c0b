"""The annual report as published (issue 12): one computed report, two pages (Welsh and English) with their
furniture, accessible tables and figures, honest labels, spreadsheets, the bilingual index, and axe-core."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest

import longitudinal as lg
from longitudinal import domain
from longitudinal.i18n import Translator
from longitudinal.palette import MIN_TEXT_PX
from longitudinal.report import AnnualReport
from longitudinal.report.batch import record_failure, write_index

SECTIONS = ["title", "headline", "demographics", "completeness", "distance", "trajectories", "transitions",
            "time_to_independence", "lasting_impact", "effectiveness", "social_return", "outcome_map", "methods"]
AXE = Path(__file__).resolve().parent / "axe"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Wales and one authority for the last complete year of a small synthetic study, published."""
    study = lg.simulate(people=900, seed=3)
    root = tmp_path_factory.mktemp("reports") / str(2025)
    reports = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for area in ("Wales", "Cardiff"):
            # Cardiff with Wales's protection: the year's, computed once as the batch does.
            prot = reports["Wales"].protection if reports else None
            rep = AnnualReport(study, "auto", area, seed=1, out=root / domain.area_slug(area), protection=prot)
            for name in SECTIONS:
                getattr(rep, name)()
            rep.publish("2026-11-30")
            (rep.out / "manifest.json").write_text(json.dumps({"status": "ok", "started": "2026-11-30T00:00:00+00:00",
                                                               "finished": "2026-11-30T00:10:00+00:00"}))
            reports[area] = rep
    # A failed run: an area with no report, and one whose earlier report stays published.
    record_failure(root, "Newport", "failed", "RuntimeError: boom in Newport", started="2026-11-30T01:00:00+00:00")
    record_failure(root, "Cardiff", "timeout", "timeout after 25 s", started="2026-11-30T02:00:00+00:00")
    write_index(root, reports["Wales"].year, domain.all_areas(), release_date="2026-11-30", synthetic=True)
    return root, reports


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.mark.parametrize("lang,page", [("en", "report.html"), ("cy", "report.cy.html")])
def test_each_report_has_both_pages_with_furniture(published, lang, page):
    root, reports = published
    for area, rep in reports.items():
        text = (rep.out / page).read_text(encoding="utf-8")
        assert f'<html lang="{lang}">' in text
        p = parse(rep.out / page)
        # every table has a caption and scoped headers; every figure an alt text that is not its caption
        assert p.tags.count("caption") == sum(len(s.tables) for s in rep.sections_)
        assert all(a.get("scope") in ("col", "row") for t, a in p.attrs if t == "th")
        imgs = [a for t, a in p.attrs if t == "img"]
        assert len(imgs) == sum(len(s.figures) for s in rep.sections_) >= 4
        assert all(len(a["alt"]) > 40 for a in imgs)
        for h in ("Quality and methodology", "Key points", "Release date", "Next update", "Contact"):
            assert rep.sections_ and (h in text if lang == "en" else True)
        if lang == "cy":
            for word in ("Prif bwyntiau", "Ansawdd a methodoleg", "Dyddiad cyhoeddi", "Diweddariad nesaf",
                         "Cynnwys", "Cefnogi Pobl"):
                assert word in text, word
            assert "Cymru" in text if area == "Wales" else "Caerdydd" in text
        # the statistics status says the data are synthetic
        assert ("Synthetic data" in text) if lang == "en" else ("Data synthetig" in text)


def test_welsh_page_has_no_english_left_unmarked(published):
    """Every English word on the Welsh page sits in an element marked lang="en" (the maps' own wording,
    a model's message) or is a name or code: here, the English-only phrases of the report must not occur."""
    _, reports = published
    text = (reports["Wales"].out / "report.cy.html").read_text(encoding="utf-8")
    body = re.sub(r'<[^>]*lang="en"[^>]*>.*?</(span|td|th|a)>', "", text, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", "", body, flags=re.S))
    for phrase in ("People supported", "Headline figures", "Distance travelled", "Lasting impact", "episodes",
                   "Outcome map", "Social return", "Months after", "not available", "confidence interval"):
        assert phrase not in body, phrase


def test_figures_are_readable_and_drawn_in_both_languages(published):
    _, reports = published
    for rep in reports.values():
        for s in rep.sections_:
            for f in s.figures:
                assert f.text_px >= MIN_TEXT_PX, (f.name, round(f.text_px, 1))
                assert (rep.out / "figures" / f"{f.name}.png").is_file()
                assert (rep.out / "figures" / f"{f.name}.cy.png").is_file()
                if not f.name.startswith("outcome_map"):
                    assert f.pngs["cy"] != f.pngs["en"], f.name  # its words are Welsh


def test_honest_labels(published):
    _, reports = published
    rep = reports["Wales"]
    by = {s.key: s for s in rep.sections_}
    rr = next(t for t in by["lasting_impact"].tables if t.name == "re_referral").data
    # deaths and moves away are not linked in these data: not available, never 0
    assert rr["died"].isna().all() and rr["moved_away"].isna().all()
    cy = (rep.out / "report.cy.html").read_text(encoding="utf-8")
    en = (rep.out / "report.html").read_text(encoding="utf-8")
    assert "not linked to these data" in en and "ILLUSTRATIVE" in en and "ENGHREIFFTIOL" in cy
    head = next(t for t in by["social_return"].tables if t.name == "sroi_headline").data
    assert all(isinstance(v, (int, float)) or v in ("[c]", "<5") for v in head["value"])  # numbers, not text
    model = [t for t in by["transitions"].tables if t.name == "transitions_model"]
    if model:
        horizon = (domain.fy_bounds(rep.year)[1] - rep.study.episodes["start_date"].min()).days / 365.25
        years = model[0].data["expected years to first reach stage 5"].dropna()
        assert (years <= horizon).all()


def test_spreadsheets_and_csv_notes(published):
    from openpyxl import load_workbook

    _, reports = published
    out = reports["Cardiff"].out
    for name, first in (("tables.xlsx", "Cover"), ("tables.cy.xlsx", "Clawr")):
        wb = load_workbook(out / name)
        assert wb.sheetnames[:3] == ([first, "Contents", "Notes"] if first == "Cover"
                                     else [first, "Cynnwys", "Nodiadau"])
        assert len(wb.sheetnames) == 3 + sum(len(s.tables) for s in reports["Cardiff"].sections_)
        # the cover's headings (gptables writes them in English) are in the workbook's language
        heads = ("Introductory information", "About these data", "Contact")
        cover = {c.value for c in wb[first]["A"]}
        assert set(heads if first == "Cover" else map(Translator("cy"), heads)) <= cover, cover
    notes = (out / "tables" / "notes.csv").read_text(encoding="utf-8")
    assert "header_cy" in notes and "Gwariant (£)" in notes
    assert "[c]" in (out / "tables" / "symbols.csv").read_text(encoding="utf-8")


def test_index_in_both_languages(published):
    root, _ = published
    en, cy = (root / "index.html").read_text(encoding="utf-8"), (root / "index.cy.html").read_text(encoding="utf-8")
    assert 'href="cardiff/report.html"' in en and 'href="cardiff/report.cy.html"' in cy and ">Caerdydd</th>" in cy
    assert "Finished" not in en and "Status</th>" not in en
    assert en.count(">Not published<") == 21 and cy.count(">Heb ei gyhoeddi<") == 21
    # the disclosure audit's verdict (none ran here): said in both languages
    assert "Not published: the disclosure audit has not run." in en
    assert "Heb ei gyhoeddi: nid yw&#x27;r archwiliad datgelu wedi&#x27;i gynnal." in cy
    # a failed run's reason, one line, in both languages; the program's own words marked English on the Welsh page
    assert "failed: RuntimeError: boom in Newport (no previous report; details in .failed/newport/)" in en
    assert 'wedi methu: <span lang="en">RuntimeError: boom in Newport</span> (dim adroddiad blaenorol' in cy
    kept = "cardiff/report.cy.html"  # the earlier report stays linked, with the later run's failure beside it
    assert kept in cy and 'wedi methu: <span lang="en">timeout after 25 s</span> (cedwir adroddiad blaenorol' in cy
    assert "failed: timeout after 25 s (previous report of 2026-11-30 kept; details in .failed/cardiff/)" in en


NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def axe_modules() -> Path:
    """tests/axe/node_modules with axe-core and puppeteer-core, installed from the lock file (``npm ci``, as
    ``make axe-deps`` does) when missing; one installer at a time across test workers."""
    import fcntl

    modules = AXE / "node_modules"
    ready = lambda: (modules / "axe-core").is_dir() and (modules / "puppeteer-core").is_dir()  # noqa: E731
    if ready():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("tests/axe/node_modules is missing and npm is not installed: run `make system-deps axe-deps`")
    with open(AXE / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready():
            # puppeteer-core never downloads a browser: Debian's chromium is used.
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=AXE,
                               capture_output=True, text=True, timeout=600)
            assert r.returncode == 0 and ready(), f"npm ci in {AXE} failed: {r.stderr[-2000:]}"
    return modules


def test_axe_core_finds_no_violations(published):
    """axe-core (WCAG 2.1 A/AA and best practice) on every page of the batch in both languages, index included."""
    if CHROMIUM is None or NODE is None:
        pytest.skip("axe-core needs Debian's chromium and nodejs, which are not installed here; `make system-deps` "
                    "installs them where it can (root and apt-get)")
    axe_modules()
    root, reports = published
    pages = [root / "index.html", root / "index.cy.html"]
    pages += [rep.out / name for rep in reports.values() for name in ("report.html", "report.cy.html")]
    r = subprocess.run([NODE, str(AXE / "run_axe.js"), CHROMIUM, *map(str, pages)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    found = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(found) == set(map(str, pages))
    assert {p: v for p, v in found.items() if v} == {}
