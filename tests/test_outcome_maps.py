"""Outcome maps: the seed 000 map transcribed exactly, validation with places, ratings, roll-up, rendering, CLI."""

import hashlib
import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import longitudinal as lg  # noqa: E402
from longitudinal import domain, indicators  # noqa: E402
from longitudinal.cli import app  # noqa: E402
from longitudinal.outcome_maps import (  # noqa: E402
    COLUMNS,
    PERSONAL_COLUMNS,
    OutcomeMap,
    OutcomeMapError,
    RatedMap,
    shipped_map_path,
)
from longitudinal.outcome_maps.model import describe_params  # noqa: E402
from longitudinal.outcome_maps.render import save_figure  # noqa: E402
from longitudinal.results import figure_of  # noqa: E402
from longitudinal.rubric import Rubric  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PA = ROOT / "data" / "maps" / "pa_programme_board.yaml"
SP = ROOT / "data" / "maps" / "supporting_people.yaml"


# ------------------------------------------------------------------ the seed, parsed
def _cell_steps(cell: str) -> list[tuple[str, str, str]]:
    """(step, progress, confidence) of each card in a pathway cell of the seed."""
    out = []
    paras = re.findall(r"<p>(.*?)</p>", cell)
    if paras:
        texts = [p for p in paras if not p.startswith("Progress:")]
        ratings = re.findall(r"<p>Progress: (\S+) Confidence: (\S+)</p>", cell)
        assert len(texts) == len(ratings)
        return [(html.unescape(t), p, c) for t, (p, c) in zip(texts, ratings)]
    for t, p, c in re.findall(r"<div>([^<]*?) Progress: (\S+) Confidence: (\S+)</div>", cell):
        out.append((html.unescape(t), p, c))
    return out


@pytest.fixture(scope="module")
def seed(seed_text):
    text = seed_text("000_a190769df205c542.txt")
    header = "\t".join(COLUMNS)
    parts = text.split("Our pathways")
    # the map: rows of the first table, a step wherever a cell is filled
    map_lines = parts[0].split(header, 1)[1].strip("\n").split("\n")
    steps = {c: [] for c in COLUMNS}
    for line in map_lines:
        if "\t" not in line:
            break
        for c, cell in zip(COLUMNS, line.split("\t")):
            if cell.strip():
                steps[c].append(cell.strip())
    pathways = []
    for part in parts[1:4]:
        lines = [ln for ln in part.strip().split("\n") if ln.strip()]
        name = lines[0].strip()
        rows = part.split(header, 1)[1].strip("\n").split("\n")
        cols = {c: [] for c in COLUMNS}
        for line in rows:
            if "\t" not in line:
                break
            for c, cell in zip(COLUMNS, line.split("\t")):
                cols[c] += _cell_steps(cell)
        pathways.append((name, cols))
    return steps, pathways


# ------------------------------------------------------------------ the PA map
def test_pa_map_steps_are_the_seed_steps_in_order(seed):
    steps, _ = seed
    m = OutcomeMap.from_yaml(PA)
    assert m.columns == COLUMNS
    assert {c: [s.text for s in m.steps[c]] for c in COLUMNS} == steps
    assert sum(len(v) for v in steps.values()) == 40


def test_pa_pathways_are_the_seed_pathways(seed):
    _, pathways = seed
    m = OutcomeMap.from_yaml(PA)
    assert [p.name for p in m.pathways] == [n for n, _ in pathways] == [
        "Provide training and support that maximises strong mutual relationships between PAs and Employers",
        "Supporting the development of the PA workforce",
        "Value and support employers"]
    for p, (_, cols) in zip(m.pathways, pathways):
        for c in COLUMNS:
            assert [(ps.step, ps.progress, ps.confidence) for ps in p.steps[c]] == cols[c], (p.name, c)
            assert all(ps.rating == ("n/a", "n/a", "manual") for ps in p.steps[c])
        assert p.summaries == {}  # "ADD SUMMARY" placeholders in the seed
    # the third pathway's blank grid cells: every column still has a step
    third = m.pathways[2]
    assert [ps.step for ps in third.steps["What they do differently"]] == ["Problems are resolved early"]
    assert "blank" in third.notes


def test_pa_yaml_round_trip_is_exact():
    text = PA.read_text(encoding="utf-8")
    m = OutcomeMap.from_yaml(PA)
    assert m.to_yaml() == text
    assert OutcomeMap.from_yaml(m.to_yaml()) == m
    assert OutcomeMap.from_dict(m.to_dict()) == m


def test_shipped_map_lookup():
    assert shipped_map_path("pa_programme_board").resolve() == PA.resolve()  # the package links to data/maps
    with pytest.raises(FileNotFoundError, match="available: .*pa_programme_board"):
        shipped_map_path("nope")


# ------------------------------------------------------------------ the SP map
def test_sp_map_later_columns_link_to_all_outcome_areas():
    m = OutcomeMap.from_yaml(SP)
    assert SP.read_text(encoding="utf-8") == m.to_yaml()
    later = COLUMNS[3:]
    linked = {link.params["outcome"] for c in later for s in m.steps[c] for link in s.indicators}
    assert linked == set(domain.OUTCOME_CODES)
    assert all(s.indicators for c in later for s in m.steps[c])
    assert not any(s.indicators for c in COLUMNS[:3] for s in m.steps[c])
    names = set(indicators.available()["name"])
    assert all(link.name in names for c in later for s in m.steps[c] for link in s.indicators)


@pytest.fixture(scope="module")
def study(medium_study):
    return medium_study


@pytest.fixture(scope="module")
def rated(study):
    return OutcomeMap.from_yaml(SP).rate(study)


def test_ratings_are_the_rubric_applied_to_the_indicators(study, rated):
    rubric = Rubric.default()
    m = OutcomeMap.from_yaml(SP)
    vals = rated.indicator_values_
    assert len(vals) > 0 and set(vals["area"]) == {"Wales"}
    for row in vals.itertuples():
        link = next(li for li in m.step_indicators(row.column, row.step)
                    if li.name == row.indicator and describe_params(li.params) == row.params)
        direct = indicators.compute(link.name, study, **link.params)
        assert row.value == pytest.approx(direct.value, nan_ok=True) and row.n == direct.n
        assert (row.progress, row.confidence) == rubric.rate(direct, link.thresholds)
    r = rated.ratings_
    evidence = r[r["basis"] == "evidence"]
    assert (evidence["progress"] == evidence["evidence_progress"]).all()
    assert set(r["basis"]) == {"manual", "evidence", "override"}


def test_summary_counts_ratings_per_pathway(rated):
    text = rated.summary()
    assert "Outcome map: Supporting People Programme (Wales)" in text
    assert text.count("Pathway: ") == 3 and "override 1" in text


def test_summary_tables_are_the_counts_the_text_gives(rated):
    s = rated.summary()
    by_pathway = s.tables["Ratings by pathway"]
    r = rated.ratings_
    for p, row in by_pathway.iterrows():
        rp = r[r["pathway"] == p]
        assert row["steps"] == len(rp) and row["progress good"] == (rp["progress"] == "good").sum()
        assert f"Pathway: {p} ({len(rp)} steps)" in s
    assert s.tables["Steps per column"]["steps"].sum() == sum(len(v) for v in rated.steps.values())


def test_tidy_has_every_pathway_step_and_each_indicator_value(rated):
    """tidy(): one row per pathway step and indicator; the steps and ratings are ratings_'s, the indicator
    rows indicator_values_'s (value as ``estimate``, the rubric's ratings as ``indicator_progress`` ...)."""
    t = rated.tidy()
    keys = ["pathway", "column", "step"]
    steps = t[keys + ["progress", "confidence", "basis"]].drop_duplicates().reset_index(drop=True)
    pd.testing.assert_frame_equal(steps, rated.ratings_[keys + ["progress", "confidence", "basis"]])
    iv = rated.indicator_values_
    got = t.dropna(subset=["indicator"]).reset_index(drop=True)
    assert len(got) == len(iv)
    pd.testing.assert_series_equal(got["estimate"], iv["value"].astype(float), check_names=False)
    for new, old in [("ci_lower", "ci_lower"), ("n", "n"), ("indicator_progress", "progress"),
                     ("indicator_confidence", "confidence"), ("params", "params")]:
        assert got[new].tolist() == iv[old].tolist(), new
    # the map as written: the same rows, no values yet
    written = OutcomeMap.from_yaml(SP).tidy()
    assert len(written) == len(t) and written["estimate"].isna().all() and written["indicator"].notna().sum() == len(iv)


def test_the_map_and_its_curve_are_on_the_results_base(rated):
    """A map is a Results object: the Summary, HTML in Jupyter, and its fitted tables answer to one spelling
    only where it has them (``ratings_`` on a rated map; the map as written has none, not the method)."""
    from longitudinal.results import Results

    assert isinstance(rated, Results) and "<table" in rated._repr_html_()
    assert str(rated) == str(rated.summary())
    assert rated.indicator_values is rated.indicator_values_
    assert callable(OutcomeMap.from_yaml(SP).ratings)


def test_manual_override_is_kept_with_its_reason(rated):
    r = rated.ratings_.set_index(["pathway", "step"])
    row = r.loc[("Economic progress and financial control", "Take up employment or voluntary work")]
    assert (row["progress"], row["confidence"], row["basis"]) == ("low", "medium", "override")
    assert "board rates progress low" in row["reason"]
    assert row["evidence_progress"] in ("no", "low", "some", "good", "n/a")  # the data's view is kept beside it


def test_area_rating_uses_only_that_areas_episodes(study):
    m = OutcomeMap.from_yaml(SP)
    cardiff = m.rate(study, area="Caerdydd")  # Welsh name accepted
    assert cardiff.area == "Cardiff"
    sub = study.subset(local_authority="Cardiff")
    row = cardiff.indicator_values_.iloc[0]
    link = next(li for li in m.step_indicators(row["column"], row["step"])
                if li.name == row["indicator"] and describe_params(li.params) == row["params"])
    assert row["n"] == indicators.compute(link.name, sub, **link.params).n
    assert row["n"] < indicators.compute(link.name, study, **link.params).n


def test_rollup_one_map_per_area_and_wales_pooled(study, rated):
    m = OutcomeMap.from_yaml(SP)
    default = lg.rollup(m, study.subset(local_authority="Ceredigion"))  # default: Wales + authorities present
    assert default.areas == ["Wales", "Ceredigion"]
    assert default.table("progress")["Wales"].equals(default.table("progress")["Ceredigion"])
    r = lg.rollup(m, study, areas=["Wales", "Cardiff", "Powys"])
    assert r.areas == ["Wales", "Cardiff", "Powys"]
    wales = r.ratings[r.ratings["area"] == "Wales"].reset_index(drop=True)
    assert wales.equals(rated.ratings_)
    # the roll-up cuts each authority's tables from the Wales ones: same as rating the authority alone
    assert r.maps["Powys"].indicator_values_.equals(m.rate(study, area="Powys").indicator_values_)
    assert "cut" in study.subset(local_authority="Powys").__dict__["_long_cache"]  # rating Wales built the table
    wide = r.table("progress")
    assert list(wide.columns) == r.areas and len(wide) == len(rated.ratings_)
    counts = r.counts()
    assert counts.loc["Wales", ["no", "low", "some", "good", "n/a"]].sum() == len(rated.ratings_)
    assert counts.loc["Cardiff", "high confidence"] == (r.table("confidence")["Cardiff"] == "high").sum()
    ax = r.plot()
    assert [t.get_text() for t in ax.get_xticklabels()] == r.areas
    plt.close("all")


def test_rollup_summary_was_the_counts_table_and_still_answers_as_it_with_a_warning(study):
    """``MapRollup.summary()`` is a Summary now (text; HTML in Jupyter); code that used it as the counts
    table keeps working for one release, warning that the table is ``counts()``."""
    r = lg.rollup(OutcomeMap.from_yaml(SP), study, areas=["Wales", "Powys"])
    s = r.summary()
    assert "Outcome map roll-up: Supporting People Programme" in s and "Powys" in s._repr_html_()
    with pytest.warns(DeprecationWarning, match=r"use MapRollup\.counts\(\)"):
        assert s.loc["Powys", "good"] == r.counts().loc["Powys", "good"]
    with pytest.warns(DeprecationWarning, match=r"use MapRollup\.counts\(\)"):
        assert s["n/a"].equals(r.counts()["n/a"])
    with pytest.warns(DeprecationWarning):
        assert s.to_string() == r.counts().to_string()
    assert s[:8] == "Outcome "  # still a str


# ------------------------------------------------------------------ bad input
BASE = """\
title: Test map
columns: default
steps:
  What we do:
  - Fund support
  Who with:
  - Tenants
  How they feel:
  - Safe
  What they learn and gain:
  - text: Money skills
    indicators:
    - name: share_improving
      params: {outcome: managing_money}
  What they do differently:
  - Pay bills
  What difference does this make?:
  - Keep their home
pathways:
- name: Home
  steps:
    What we do: [Fund support]
    Who with: [Tenants]
    How they feel:
    - step: Safe
      progress: some
      confidence: low
    What they learn and gain: [Money skills]
    What they do differently: [Pay bills]
    What difference does this make?: [Keep their home]
"""


def _err(text):
    with pytest.raises(OutcomeMapError) as e:
        OutcomeMap.from_yaml(text)
    return e.value


def test_base_is_valid_and_no_is_a_rating_not_a_boolean():
    m = OutcomeMap.from_yaml(BASE)
    assert m.pathway("Home").step("How they feel", "Safe").rating == ("some", "low", "manual")
    m2 = OutcomeMap.from_yaml(BASE.replace("progress: some", "progress: no"))
    assert m2.pathway("Home").step("How they feel", "Safe").progress == "no"
    m3 = OutcomeMap.from_yaml(BASE.replace("progress: some", "progress: Good progress"))
    assert m3.pathway("Home").step("How they feel", "Safe").progress == "good"


@pytest.mark.parametrize("old, new, message, where", [
    ("  Who with:\n  - Tenants", "  Who wiht:\n  - Tenants", "unknown column 'Who wiht'", {"line": 6}),
    ("  - Fund support\n", "  - Fund support\n  - fund  support\n", "duplicate step",
     {"line": 6, "column": "What we do"}),
    ("  - Pay bills\n", "  - " + "x" * 151 + "\n", "151 characters long; at most 150", {"line": 16}),
    ("    Who with: [Tenants]", "    Who with: [Tennants]", "no such step in column 'Who with'",
     {"line": 23, "pathway": "Home", "column": "Who with", "step": "Tennants"}),
    ("    What they do differently: [Pay bills]\n", "", "no step in this column",
     {"pathway": "Home", "column": "What they do differently"}),
    ("      progress: some", "      progress: great", "progress 'great' is not on the scale",
     {"line": 26, "step": "Safe"}),
    ("      confidence: low", "      confidence: certain", "confidence 'certain' is not on the scale",
     {"line": 27, "step": "Safe"}),
    ("    - name: share_improving", "    - name: share_improvement", "unknown indicator 'share_improvement'",
     {"line": 13, "column": "What they learn and gain", "step": "Money skills"}),
    ("{outcome: managing_money}", "{outcome: managing_honey}", "'managing_honey' is not an outcome area",
     {"line": 14}),
    ("{outcome: managing_money}", "{outcome: managing_money, colour: red}", "takes no parameter 'colour'",
     {"line": 14}),
    ("    What they learn and gain: [Money skills]",
     "    What they learn and gain:\n    - step: Money skills\n      progress: good",
     "needs a recorded `reason`", {"line": 30, "step": "Money skills"}),
    ("- name: Home\n", "- name: Home\n  colour: blue\n", "unknown key 'colour'", {"line": 21, "pathway": "Home"}),
])
def test_bad_input_names_the_place(old, new, message, where):
    assert old in BASE
    e = _err(BASE.replace(old, new))
    hits = [p for p in e.problems if message in p["message"]]
    assert hits, str(e)
    p = hits[0]
    for k, v in where.items():
        assert p[k] == v, (k, p)
    assert message in str(e)


def test_override_with_reason_is_accepted():
    text = BASE.replace("    What they learn and gain: [Money skills]",
                        "    What they learn and gain:\n    - step: Money skills\n      progress: good\n"
                        "      reason: Provider case reviews show more than the readings capture")
    ps = OutcomeMap.from_yaml(text).pathway("Home").step("What they learn and gain", "Money skills")
    assert ps.progress == "good" and ps.confidence is None and ps.rating[2] == "override"


def test_all_problems_reported_at_once_with_file_and_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(BASE.replace("Who with:\n  - Tenants", "Who wiht:\n  - Tenants").replace("progress: some",
                                                                                          "progress: great"))
    e = _err(f)
    assert len(e.problems) >= 2
    assert f"{f}, line 6" in str(e) and "great" in str(e)


def test_unreadable_and_not_yaml_are_flagged_unreadable(tmp_path):
    e = _err(tmp_path / "missing.yaml")
    assert e.unreadable
    bad = tmp_path / "x.yaml"
    bad.write_text("title: [unclosed\n")
    assert _err(bad).unreadable


def test_personal_map_and_full_round_trip():
    text = BASE.replace("columns: default", "columns: personal").replace("What we do", "What I do")
    text = text.replace("""      confidence: low
""", """      confidence: low
      analysis: |-
        Tenants said they felt safer.
        Two of twelve did not.
      evidence:
      - source: Tenant survey
        description: 12 interviews
        file: surveys/2025.xlsx
        date: '2025-06-30'
      - source: Board minutes
        description: Discussion of survey
        link: https://example.org/minutes
      assumptions:
      - Survey respondents are typical
      risks:
      - Small sample
""")
    m = OutcomeMap.from_yaml(text)
    assert m.columns == PERSONAL_COLUMNS
    ps = m.pathway("Home").step("How they feel", "Safe")
    assert ps.evidence[0].date == "2025-06-30" and ps.evidence[1].link.startswith("https://")
    assert ps.analysis == "Tenants said they felt safer.\nTwo of twelve did not."
    out = m.to_yaml()
    assert OutcomeMap.from_yaml(out) == m and OutcomeMap.from_yaml(out).to_yaml() == out
    assert "analysis: |-" in out


# ------------------------------------------------------------------ rendering
class _Balanced(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_render_writes_files_that_open_and_are_byte_identical(tmp_path, rated):
    written = rated.render(tmp_path / "a", formats=("png", "svg"))
    again = rated.render(tmp_path / "b", formats=("png",))
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert len(again) > 5 and all(a[name] == b[name] for name in again)
    svg = [save_figure(figure_of(rated.plot(0)), tmp_path / f"p{i}.svg").read_bytes() for i in range(2)]
    plt.close("all")
    assert svg[0] == svg[1]
    pngs = [p for n, p in written.items() if n.endswith(".png")]
    assert len(pngs) == 1 + len(rated.pathways)
    for p in pngs:
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 800
    for n, p in written.items():
        if n.endswith(".svg"):
            ET.parse(p)
            assert "<dc:date>" not in p.read_text()
    parser = _Balanced()
    text = written["map.html"].read_text(encoding="utf-8")
    parser.feed(text)
    parser.close()
    assert parser.stack == [] and parser.tags.count("table") == 1 + len(rated.pathways)
    assert "progress-good" in text or "progress-some" in text
    md = written["map.md"].read_text(encoding="utf-8")
    for c in COLUMNS:
        for s in rated.steps[c]:
            assert s.text in md
    assert "ratings.csv" in written and "Reason for manual rating" in md


def test_pathway_figure_shows_ratings(rated):
    ax = rated.plot(pathway="A safe and settled home")
    texts = " ".join(t.get_text() for t in ax.texts)
    plt.close("all")
    assert "Pathway 1: A safe and settled home" in texts and "Progress: good | Confidence: high" in texts
    with pytest.raises(KeyError, match="no pathway"):
        rated.plot(pathway="nope")


def test_pa_map_html_escapes_apostrophes():
    m = OutcomeMap.from_yaml(PA)
    text = m.to_html(full_document=False)
    assert "Disabled Person&#x27;s Organisations" in text


# ------------------------------------------------------------------ CLI
def test_cli_validate_exit_statuses(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["map", "validate", str(PA)])
    assert ok.exit_code == 0 and "40 steps" in ok.output and "3 pathways" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("Who with: [Tenants]", "Who with: [Tennants]"))
    res = runner.invoke(app, ["map", "validate", str(bad)])
    assert res.exit_code == 1 and "Tennants" in res.output and "line 23" in res.output
    res = runner.invoke(app, ["map", "validate", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2


def test_cli_render_with_a_study(tmp_path):
    """`map render --year` rates the map as that year's report does, so a published map can be reproduced."""
    s = lg.simulate(people=250, seed=3)
    s.write(tmp_path / "study")
    year = lg.load(tmp_path / "study").financial_years[-2]
    res = CliRunner().invoke(app, ["map", "render", str(SP), "--out", str(tmp_path / "out"), "--study",
                                   str(tmp_path / "study"), "--area", "Wales", "--year", domain.fy_label(year)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "map.png").exists()
    written = pd.read_csv(tmp_path / "out" / "ratings.csv", keep_default_na=False)  # "n/a" is a rating
    expected = OutcomeMap.from_yaml(SP).rate(lg.load(tmp_path / "study"), area="Wales", year=year).ratings_
    cols = ["pathway", "column", "step", "progress", "confidence", "basis"]
    assert written[cols].equals(expected[cols].astype(str))
    assert f"(Wales, {domain.fy_label(year)})" in (tmp_path / "out" / "map.html").read_text()
    bad = CliRunner().invoke(app, ["map", "render", str(SP), "--out", str(tmp_path / "o2"), "--study",
                                   str(tmp_path / "study"), "--year", "1990"])
    assert bad.exit_code == 1 and "no readings in it" in bad.output


def test_cli_rollup_writes_tables_and_one_map_per_area(tmp_path):
    s = lg.simulate(people=200, seed=8)
    s.write(tmp_path / "study")
    res = CliRunner().invoke(app, ["map", "rollup", str(SP), "--study", str(tmp_path / "study"), "--out",
                                   str(tmp_path / "out"), "--areas", "Wales,Abertawe,Powys"])
    assert res.exit_code == 0, res.output
    wide = (tmp_path / "out" / "progress_by_area.csv").read_text().splitlines()[0].split(",")
    assert wide[3:] == ["Wales", "Swansea", "Powys"]
    assert (tmp_path / "out" / "areas" / "wales" / "map.html").exists()
    mpimg.imread(tmp_path / "out" / "rollup.png")


def test_count_indicator_without_thresholds_fails_naming_the_step():
    text = BASE.replace("    - name: share_improving\n      params: {outcome: managing_money}",
                        "    - name: moved_between_stages\n      params: {outcome: managing_money}")
    m = OutcomeMap.from_yaml(text)
    with pytest.raises(OutcomeMapError, match="step 'Money skills': no progress thresholds"):
        m.rate(lg.simulate(people=150, seed=1))


def test_sustained_indicator_is_the_survival_estimate_at_12_months():
    from longitudinal.survival import sustained_outcomes

    s = lg.simulate(people=900, seed=6)
    v = indicators.compute("sustained_at_months", s, outcome="managing_accommodation", months=12, n_boot=20)
    ref = sustained_outcomes(s, "managing_accommodation", by="outcome", months=(12,), n_boot=20, seed=0)
    row = ref.at_months([12]).iloc[0]
    assert v.value == pytest.approx(row["survival"]) and v.n == row["n"]
    assert (v.ci_lower, v.ci_upper) == pytest.approx((row["ci_lower"], row["ci_upper"]))
    assert 0 < v.missing_share < 1  # most episodes have no follow-up reading


# ------------------------------------------------------------------ one financial year (issue 12)
def test_rating_for_one_year_uses_that_years_episodes_and_readings_to_its_end(study):
    """``rate(year=)`` rates the map from the study as the year's annual report sees it: the same as rating
    ``study.in_financial_year(year)``, different from all the data, reproducible, and named on the figure."""
    year = study.financial_years[-2]
    m = OutcomeMap.from_yaml(SP)
    by_year = m.rate(study, year=year)
    direct = m.rate(study.in_financial_year(year))
    pd.testing.assert_frame_equal(by_year.indicator_values_, direct.indicator_values_)
    assert by_year.financial_year == year
    whole = m.rate(study)
    assert not by_year.indicator_values_["n"].equals(whole.indicator_values_["n"])
    # the year's study: episodes active in the year, no reading after its end
    ys = study.in_financial_year(year)
    start, end = domain.fy_bounds(year)
    assert ys.readings["reading_date"].max() <= end
    assert ((ys.episodes["start_date"] <= end) & (ys.episodes["end_date"].isna()
                                                  | (ys.episodes["end_date"] >= start))).all()
    r = lg.rollup(m, study, areas=["Wales"], year=year)
    pd.testing.assert_frame_equal(r.indicator_values, by_year.indicator_values_)
    # the year's study a report holds already is rated from, not cut again: the same map, the same year
    from unittest import mock

    with mock.patch.object(lg.Study, "in_financial_year", side_effect=AssertionError("cut again")):
        held = lg.rollup(m, study, areas=["Wales", "Cardiff"], year=year, year_study=ys)
    pd.testing.assert_frame_equal(held.indicator_values[held.indicator_values["area"] == "Wales"],
                                  by_year.indicator_values_)
    assert held.maps["Cardiff"].financial_year == year
    with pytest.raises(ValueError, match="give that year"):
        lg.rollup(m, study, areas=["Wales"], year_study=ys)
    texts = " ".join(t.get_text() for t in by_year.plot().texts)
    plt.close("all")
    assert f"(Wales, {domain.fy_label(year)})" in texts
    with pytest.raises(ValueError, match="no readings in it"):
        m.rate(study, year=1990)


def test_whole_map_figure_shows_ratings_by_default(rated):
    """The whole map is drawn with each step's ratings (fill and last line) unless ``ratings=False``."""
    def badges(ax):
        texts = [t.get_text() for t in ax.texts]
        plt.close("all")
        return texts

    shown = " ".join(badges(rated.plot()))
    assert "Progress: " in shown and "Confidence: " in shown
    bare = " ".join(badges(rated.plot(ratings=False)))
    assert "Progress: " not in bare and "Pathways: 1" in bare
    # a step rated differently on two pathways spells out each pathway's ratings
    r = rated.ratings_
    twice = r.groupby(["column", "step"]).filter(lambda g: len(g[["progress", "confidence"]].drop_duplicates()) > 1)
    if len(twice):
        assert "pathway 1: progress" in shown or "pathway 2: progress" in shown


def test_the_document_and_its_ratings_are_separate_classes(study, rated, tmp_path):
    """``rate`` leaves the document as written and returns a RatedMap (the map with its fitted ratings), which
    names the area and year it is rated for wherever it is shown; the map as written has no fitted tables."""
    m = OutcomeMap.from_yaml(SP)
    assert type(rated) is RatedMap and isinstance(rated, OutcomeMap) and type(m) is OutcomeMap
    assert not hasattr(m, "ratings_") and m.rated_for == (None, None) and m.where() == ""
    assert all(ps.computed is None for p in m.pathways for c in m.columns for ps in p.steps.get(c, []))
    year = study.financial_years[-1]
    again = rated.rate(study, area="Powys", year=year)  # a rated map rates afresh, for its own area and year
    assert again.rated_for == ("Powys", year) and set(again.ratings_["area"]) == {"Powys"}
    where = f"(Powys, {domain.fy_label(year)})"
    assert where in repr(again) and where in again.summary().splitlines()[0]
    assert where in again.to_markdown().splitlines()[0]
    assert f"<h1>{html.escape(m.title)} {where}</h1>" in again.to_html()
    assert set(m.ratings()["area"].isna()) == {True}
    assert "ratings.csv" not in m.render(tmp_path / "doc") and "ratings.csv" in again.render(tmp_path / "rated")
