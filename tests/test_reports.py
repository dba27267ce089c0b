"""Annual reports: sections, the batch (papermill per area), reproducibility, disclosure, resume, failures.

Executing notebooks is slow, so one small batch (Wales and one authority with only
3 people) is built once per test run and shared (also by test_report_browser.py).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest
from filelock import FileLock

import longitudinal as lg
from longitudinal import domain
from longitudinal.report import protect as dc
from longitudinal.report.batch import ReportLocked, data_hash, run_annual
from longitudinal.report.sections.headline import PER_PERSON, SPEND
from longitudinal.report.sections.social_return import SROI_RATIO
from longitudinal.report_sections import AnnualReport, area_name, area_slug, last_complete_year, save_figure

TINY_LA = "Cardiff"
TINY_SLUG = "cardiff"
YEAR = 2025


def tiny_study() -> lg.Study:
    """300 simulated people, with Cardiff cut down to 3 people."""
    s = lg.simulate(people=300, seed=3)
    ep = s.episodes
    la_people = ep.loc[ep["local_authority"] == TINY_LA, "person_id"].drop_duplicates()
    # Keep 3 who were supported in the report's year, so the report is not empty.
    active = ep[(ep["local_authority"] == TINY_LA) & (ep["start_date"] <= domain.fy_bounds(YEAR)[1])
                & (ep["end_date"].isna() | (ep["end_date"] >= domain.fy_bounds(YEAR)[0]))]
    keep = list(pd.unique(active["person_id"]))[:3]
    drop = set(la_people) - set(keep)
    assert len(keep) == 3
    people = s.people[~s.people["person_id"].isin(drop)]
    episodes = ep[~ep["person_id"].isin(drop)]
    readings = s.readings[~s.readings["person_id"].isin(drop)]
    return lg.Study(people.reset_index(drop=True), episodes.reset_index(drop=True),
                    readings.reset_index(drop=True), s.spend, truth=s.truth)


_OWN_DIR: list[Path] = []


def _shared_dir() -> Path:
    """The xdist workers of one run share a folder (its run id); a run without xdist gets a fresh one (a
    folder named by the pid alone could be an earlier run's, with its ``done.json``, when the pid is reused)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run:
        return Path(tempfile.gettempdir()) / f"longitudinal-test-reports-{run}"
    if not _OWN_DIR:
        _OWN_DIR.append(Path(tempfile.mkdtemp(prefix="longitudinal-test-reports-")))
    return _OWN_DIR[0]


def built_reports() -> Path:
    """Build (once per test run, across xdist workers) the tiny study and its batch of two areas."""
    root = _shared_dir()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / "build.lock")):
        done = root / "done.json"
        if not done.exists():
            tiny_study().write(root / "data", format="parquet")
            res = run_annual(root / "data", root / "reports", year="auto", areas=["Wales", TINY_LA], workers=2,
                             timeout=300, seed=7)
            done.write_text(json.dumps({"exit": res.exit_code, "areas_ok": res.ok, "published": res.published,
                                        "status": {r.area: r.status for r in res.results},
                                        "messages": {r.area: r.message for r in res.results}}))
    return root


@pytest.fixture(scope="module")
def built():
    root = built_reports()
    info = json.loads((root / "done.json").read_text())
    assert info["areas_ok"], info  # whether the year is published is the audit's (tests/test_audit.py)
    return root


# ------------------------------------------------------------------ sections
def test_areas_and_year():
    assert area_name("Caerdydd") == "Cardiff" and area_name("wales") == "Wales"
    assert area_slug("Vale of Glamorgan") == "vale-of-glamorgan"
    with pytest.raises(ValueError, match="unknown area 'Atlantis'.*22 local authorities"):
        area_name("Atlantis")
    s = lg.simulate(people=300, seed=1)
    assert last_complete_year(s) == 2025
    cut = s.subset()
    cut.readings = s.readings[s.readings["reading_date"] <= "2025-10-01"]
    cut.episodes = s.episodes[s.episodes["start_date"] <= "2025-10-01"].assign(
        end_date=lambda d: d["end_date"].where(d["end_date"] <= "2025-10-01"))
    assert last_complete_year(cut) == 2024
    with pytest.raises(ValueError, match="financial year 2030 .*outside the data"):
        AnnualReport(s, 2030)


def _rounded_from(published, exact) -> bool:
    """A published count is its exact count rounded to a multiple of 5 (up or down, by at most 4)."""
    return int(published) % 5 == 0 and abs(int(published) - int(exact)) <= 4 and (
        exact % 5 or int(published) == exact)


@pytest.fixture(scope="module")
def study1500() -> lg.Study:
    """The sections' study: each report made from it shares one protection of 2024-25 (kept with the study)."""
    return lg.simulate(people=1500, seed=11)


def test_headline_agrees_with_a_direct_count(tmp_path, study1500):
    # Counts are rounded to multiples of 5 (controlled, jointly over the areas): never hidden.
    s = study1500
    rep = AnnualReport(s, 2024, "Wales", out=tmp_path)
    head = rep.headline().tables[0].data.set_index("measure")["value"]
    start, end = domain.fy_bounds(2024)
    ep = s.episodes
    act = ep[(ep["start_date"] <= end) & (ep["end_date"].isna() | (ep["end_date"] >= start))]
    assert _rounded_from(head["People supported"], act["person_id"].nunique())
    assert _rounded_from(head["Episodes of support active"], len(act))
    spend = s.spend.loc[s.spend["financial_year"] == 2024, "spend_gbp"].sum()
    assert head[SPEND] == round(spend)
    # Per person of the published people: the exact count does not follow from the two.
    assert head[PER_PERSON] == round(spend / head["People supported"])
    rd = s.readings[(s.readings["reading_date"] >= start) & (s.readings["reading_date"] <= end)]
    assert _rounded_from(head["Journey of Change readings (scored)"], rd["score"].notna().sum())
    # The table written is the table shown.
    csv = pd.read_csv(tmp_path / "tables" / "headline.csv")
    assert csv["measure"].tolist() == head.index.tolist()
    by_need = pd.read_csv(tmp_path / "tables" / "by_lead_need.csv")
    assert by_need["lead_need"].iloc[-1] == "All"


def test_completeness_counts(tmp_path, study1500):
    s = study1500
    sec = AnnualReport(s, 2024, "Wales", out=tmp_path).completeness()
    by = sec.tables[1].data.set_index("outcome")
    start, end = domain.fy_bounds(2024)
    rd = s.readings[(s.readings["reading_date"] >= start) & (s.readings["reading_date"] <= end)]
    money = rd[rd["outcome"] == "managing_money"]
    assert _rounded_from(by.loc["Managing money", "readings"], len(money))
    assert _rounded_from(by.loc["All outcome areas", "readings"], len(rd))
    assert _rounded_from(by.loc["All outcome areas", "scored"], rd["score"].notna().sum())
    # The columns add up exactly, as published.
    assert by["readings"].iloc[:-1].sum() == by.loc["All outcome areas", "readings"]
    assert (by["scored"] + by["blank_no_need"] == by["readings"]).all()


def test_distance_and_trajectory_sections_agree_with_the_models(tmp_path, study1500):
    import warnings

    s = study1500
    rep = AnnualReport(s, 2024, "Wales", out=tmp_path)
    start, end = domain.fy_bounds(2024)
    e = s.episodes
    ep = e[(e["start_date"] <= end) & (e["end_date"].isna() | (e["end_date"] >= start))]
    ys = lg.Study(s.people, ep, s.readings[s.readings["episode_id"].isin(ep["episode_id"])
                                           & (s.readings["reading_date"] <= end)], s.spend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lg.distance_travelled(ys).set_index("outcome_name")
        sec = rep.distance()
    pub = sec.tables[0].data.set_index("outcome")
    for name, row in pub.iterrows():
        assert _rounded_from(row["n_compared"], ref.loc[name, "n"])
        if row["mean_change"] not in (dc.PRIMARY, dc.SECONDARY):
            assert row["mean_change"] == pytest.approx(ref.loc[name, "mean_change"], abs=0.006)
    assert (tmp_path / "figures" / "distance_travelled.png").exists()
    tr = rep.trajectories(outcome="managing_money")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lg.fit_trajectories(ys, outcome="managing_money")
    fe = tr.tables[0].data
    assert fe["estimate"].tolist() == pytest.approx(fit.fixed_effects["estimate"].round(3).tolist())
    # Recovers the simulated average rate of change's sign: people improve while supported.
    assert fe["estimate"].iloc[1] > 0
    small = AnnualReport(s, 2024, "Merthyr Tydfil").trajectories(min_episodes=10_000)
    assert not small.tables and "Too few episodes" in str(small.text)


def test_transitions_section_agrees_with_the_matrix_and_the_model(tmp_path, study1500):
    import warnings

    s = study1500
    rep = AnnualReport(s, 2024, "Wales", out=tmp_path)
    sec = rep.transitions(outcome="managing_money")
    ys = rep.data_.year_study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = lg.transition_matrix(ys, outcome="managing_money")
        fit = lg.fit_transitions(ys, outcome="managing_money")
    pub = sec.tables[0].data
    for _, row in tm.iterrows():
        shown = pub.loc[row["from_stage"] - 1, f"to stage {row['to_stage']}"]
        assert _rounded_from(shown, row["count"])  # rounded, never hidden
    to = [f"to stage {k}" for k in range(1, 6)]
    assert (pub[to].sum(axis=1) == pub["all moves"]).all()
    model = sec.tables[1].data
    assert model["mean years in stage"].tolist() == pytest.approx(fit.sojourn()["mean_years"].round(2).tolist())
    assert (tmp_path / "figures" / "transitions_model.png").exists()
    small = AnnualReport(s, 2024, "Merthyr Tydfil").transitions(min_episodes=10_000)
    assert len(small.tables) == 1 and "Too few episodes" in str(small.text)


def test_social_return_and_outcome_map_sections(tmp_path):
    import warnings

    from longitudinal import sroi

    s = lg.simulate(people=3000, seed=4)
    rep = AnnualReport(s, 2024, "Wales", seed=3, out=tmp_path)
    sec = rep.social_return(draws=500)
    head = sec.tables[0].data.set_index("measure")["value"]
    path = Path(sroi.DEFAULT_MAP).with_name("example_study.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sroi.evaluate(path, s, year=2024)
    # The figures follow from the quantities as published (rounded with the year's counts).
    published = rep.protection.table("Wales", "sroi_outcomes").set_index("outcome")["people"]
    ref = ref.with_quantities([float(published[o.name]) for o in ref.impact_map.outcomes])
    assert not rep.sroi_small_  # no published quantity is 1-4, so nothing built on them is hidden
    assert head[SROI_RATIO] == round(ref.sroi_ratio, 2)  # a number, not text
    assert (tmp_path / "figures" / "sroi_uncertainty.png").exists()
    om = rep.outcome_map()
    ratings = om.tables[0].data
    assert {"pathway", "column", "step", "progress", "confidence"} <= set(ratings.columns)
    ind = om.tables[1].data
    nums = pd.to_numeric(ind["n"], errors="coerce")
    assert not ((nums >= 1) & (nums <= 4)).any()


def test_figures_are_byte_stable():
    import matplotlib.pyplot as plt

    def draw():
        fig, ax = plt.subplots()
        ax.bar([0, 1], [3, 5])
        ax.set_title("x")
        return save_figure(fig)

    a, b = draw(), draw()
    assert a == b and a[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------- batch
def test_batch_writes_every_area_output(built):
    year_dir = built / "reports" / str(YEAR)
    for slug in ("wales", TINY_SLUG):
        d = year_dir / slug
        for f in ("report.ipynb", "report.html", "manifest.json", "tables/headline.csv", "figures/trend.png"):
            assert (d / f).is_file(), f"{slug}/{f} missing"
        m = json.loads((d / "manifest.json").read_text())
        assert m["status"] == "ok" and m["seed"] == 7 and m["financial_year"] == YEAR
        assert m["data_hash"] == data_hash(built / "data")
        assert m["parameters"]["area"] in ("Wales", TINY_LA)
        assert {"pandas", "papermill", "longitudinal", "python"} <= set(m["package_versions"])
        assert m["started"] <= m["finished"]
        html = (d / "report.html").read_text()
        assert "Disclosure control" in html and "rounded to a multiple of 5" in html
        log = json.loads((d / "disclosure.json").read_text())
        audit = json.loads((year_dir / "audit.json").read_text())
        assert log["area"] in ("Wales", TINY_LA)
        # The log carries the audit's verdict on the whole publication, and the area's own findings.
        assert log["audit"]["status"] == ("passed" if audit["passed"] else "failed")
        assert log["audit"]["findings"] == [f for f in audit["findings"] if f["area"] == log["area"]]
        assert {"headline", "age_sex", "distance_travelled"} <= set(log["tables"])
        # No code cells in the HTML; no script fetched from the network.
        assert "import longitudinal" not in html and "AnnualReport(" not in html
        assert not re.search(r"<script[^>]+src=\"https?://", html)
        assert "Warning" not in html and "Traceback" not in html
        nb = json.loads((d / "report.ipynb").read_text())
        assert any("parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
    index = (year_dir / "index.html").read_text()
    assert 'href="wales/report.html"' in index and 'href="cardiff/report.html"' in index
    assert "Wrexham" in index  # every authority is listed, with its status
    assert not list(year_dir.glob(".tmp-*")), "temporary folders left behind"


def test_three_person_authority_discloses_nothing(built):
    d = built / "reports" / str(YEAR) / TINY_SLUG
    study = lg.load(built / "data")
    ids = set(study.people["person_id"].astype(str)) | set(study.episodes["episode_id"].astype(str)) \
        | set(study.episodes["provider_id"].astype(str))
    # Every table: no identifier anywhere, no count from 1 to 4 in any count column.
    # notes.csv and symbols.csv describe the tables' columns and symbols (a column's decimals): no one is counted.
    tables = sorted(f for f in (d / "tables").glob("*.csv") if f.stem not in ("notes", "symbols"))
    assert len(tables) >= 5
    rate_like = re.compile(r"percent|pct|share|spend|gbp|mean|rate|ci_|estimate|std_error|^p$|years|deadweight"
                           r"|attribution|drop_off|displacement|proxy")
    for f in tables:
        t = pd.read_csv(f, dtype=str, keep_default_na=False)
        dc.check_no_identifiers(t, ids)
        for col in t.columns[1:]:
            if rate_like.search(col):
                continue
            # Counts are written as whole numbers; shares, rates and probabilities carry decimals.
            small = t[col][t[col].str.fullmatch(r"[1-4]")]
            assert small.empty, f"{f.name}: column {col} shows {small.tolist()}"
    head = pd.read_csv(d / "tables" / "headline.csv", dtype=str).set_index("measure")["value"]
    assert head["People supported"] in ("0", "5")  # 3 people, rounded
    assert head[PER_PERSON] == ("[c]" if head["People supported"] == "0" else str(round(int(head[SPEND]) / 5)))
    need = pd.read_csv(d / "tables" / "by_lead_need.csv", dtype=str, keep_default_na=False)
    assert set(need["people"]) <= {"0", "5"}
    assert (need["spend_per_person_gbp"][need["people"] == "0"] == "").all()
    # No identifier in the report, the notebook or the manifest.
    for f in ("report.html", "report.ipynb", "manifest.json"):
        text = (d / f).read_text()
        leaked = [i for i in ids if re.search(rf"\b{re.escape(i)}\b", text)]
        assert not leaked, f"{f} shows {leaked[:3]}"
    # Figure labels, drawn from the published tables: suppressed values are marked, never drawn or printed.
    # (the batch's protection, from its cache folder, as the report's notebook reads it)
    cache = next(p for p in (built / "reports" / ".cache").iterdir() if p.is_dir())
    rep = AnnualReport(built / "data", YEAR, TINY_LA, cache=cache)
    for sec in (rep.headline(), rep.completeness()):
        for fig in sec.figures:
            assert not set(fig.labels) & ids
            # Percentages drawn are the table's, of its published (rounded) counts.
            pct = [s for s in fig.labels if re.fullmatch(r"\d+%", s)]
            shown = {f"{v:.0f}%" for t in sec.tables for c in t.data.columns if c.startswith("percent")
                     for v in pd.to_numeric(t.data[c], errors="coerce").dropna()}
            assert set(pct) <= shown, f"{fig.name}: percentages not in the published table {pct}"
    trend = rep.headline().figures[0]
    assert (d / "figures" / "trend.png").read_bytes() == trend.png


@pytest.fixture
def frozen_code(monkeypatch):
    """Other work edits the package while tests run; resume decisions must not see that here."""
    import longitudinal.report.batch as reports

    monkeypatch.setattr(reports, "code_hash", lambda: "test-code")


def test_same_inputs_give_identical_tables_and_figures(built, tmp_path, frozen_code):
    res = run_annual(built / "data", tmp_path, year=YEAR, areas=TINY_LA, workers=1, timeout=300, seed=7)
    assert res.ok, res.results
    a, b = built / "reports" / str(YEAR) / TINY_SLUG, tmp_path / str(YEAR) / TINY_SLUG
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.suffix in (".csv", ".png"))
    assert len(files) >= 7
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f"{f} differs between runs"
    assert (a / "report.html").read_bytes() == (b / "report.html").read_bytes()
    # Resume: nothing changed, so nothing runs.
    again = run_annual(built / "data", tmp_path, year=YEAR, areas=TINY_LA, workers=1, resume=True, seed=7)
    assert [r.status for r in again.results] == ["skipped"]
    # A different seed is a different input: resume re-runs it.
    lock = tmp_path / str(YEAR) / ".lock"
    with FileLock(str(lock)):
        with pytest.raises(ReportLocked, match="being written by another run"):
            run_annual(built / "data", tmp_path, year=YEAR, areas=TINY_LA, resume=True, seed=8)


FAILING_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "p", "metadata": {"tags": ["parameters"]},
         "outputs": [],
         "source": "financial_year = 2025\narea = 'Wales'\ndata = ''\nseed = 0\nout = '.'\ncache = None"},
        {"cell_type": "code", "execution_count": None, "id": "b", "metadata": {}, "outputs": [],
         "source": "import os, pathlib\n"
                   "if area in os.environ.get('LG_TEST_FAIL', '').split(','):\n"
                   "    raise RuntimeError(f'boom in {area}')\n"
                   "if area == os.environ.get('LG_TEST_HANG'):\n"
                   "    import time; time.sleep(600)\n"
                   "pathlib.Path('tables').mkdir()\n"
                   "pathlib.Path('tables/x.csv').write_text(os.environ.get('LG_TEST_TAG', 'v1'))"},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_failing_area_does_not_stop_others_and_keeps_the_old_report(built, tmp_path, monkeypatch, frozen_code):
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps(FAILING_NOTEBOOK))
    out = tmp_path / "out"
    data = built / "data"
    monkeypatch.setenv("LG_TEST_FAIL", "Cardiff")
    monkeypatch.setenv("LG_TEST_HANG", "Newport")
    res = run_annual(data, out, year=YEAR, areas=["Newport", "Cardiff", "Swansea"], workers=2, notebook=nb,
                     timeout=25)
    status = {r.area: r.status for r in res.results}
    assert status == {"Newport": "timeout", "Cardiff": "failed", "Swansea": "ok"} and res.exit_code == 1
    assert "boom in Cardiff" in res.failed[1].message
    assert not (out / str(YEAR) / "newport").exists()
    monkeypatch.delenv("LG_TEST_HANG")
    year_dir = out / str(YEAR)
    assert not (year_dir / "cardiff").exists()  # nothing half-written in place
    failure = json.loads((year_dir / ".failed" / "cardiff" / "failure.json").read_text())
    assert failure["status"] == "failed" and "boom in Cardiff" in failure["reason"]
    assert (year_dir / ".failed" / "cardiff" / "report.ipynb").exists()  # as far as it ran
    timeout = json.loads((year_dir / ".failed" / "newport" / "failure.json").read_text())
    assert timeout["status"] == "timeout" and timeout["reason"] == "timeout after 25 s"
    index = " ".join((year_dir / "index.html").read_text().split())
    assert "failed: timeout after 25 s (no previous report; details in .failed/newport/)" in index
    assert not list(year_dir.glob(".tmp-*"))
    # Resume re-runs only the failed area.
    monkeypatch.setenv("LG_TEST_FAIL", "")
    res = run_annual(data, out, year=YEAR, areas=["Cardiff", "Swansea"], workers=2, notebook=nb, resume=True)
    assert {r.area: r.status for r in res.results} == {"Cardiff": "ok", "Swansea": "skipped"}
    assert not (year_dir / ".failed" / "cardiff").exists()
    # A later failing run leaves the previous good report in place.
    monkeypatch.setenv("LG_TEST_FAIL", "Cardiff")
    monkeypatch.setenv("LG_TEST_TAG", "v2")
    res = run_annual(data, out, year=YEAR, areas="Cardiff", workers=1, notebook=nb)
    assert res.exit_code == 1
    assert (year_dir / "cardiff" / "tables" / "x.csv").read_text() == "v1"
    kept = json.loads((year_dir / "cardiff" / "manifest.json").read_text())["finished"][:10]
    assert "failed: RuntimeError" in (year_dir / "index.html").read_text()
    assert f"(previous report of {kept} kept; details in .failed/cardiff/)" in (year_dir / "index.html").read_text()


def test_cli_exit_statuses(tmp_path):
    from typer.testing import CliRunner

    from longitudinal.cli import app

    r = CliRunner().invoke(app, ["report", "annual", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)])
    text = lambda r: " ".join(r.output.split())  # rich wraps long lines  # noqa: E731
    assert r.exit_code == 2 and "no such study folder" in text(r)
    lg.simulate(people=150, seed=1).write(tmp_path / "d")
    r = CliRunner().invoke(app, ["report", "annual", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o"),
                                 "--year", "1990"])
    assert r.exit_code == 2 and "--year 1990" in text(r)
    r = CliRunner().invoke(app, ["report", "annual", "--data", str(tmp_path / "d"), "--area", "Atlantis"])
    assert r.exit_code == 2 and "unknown area 'Atlantis'" in text(r)


@pytest.mark.parametrize("name", ["annual_report", "sroi_report", "outcome_map_report", "explore"])
def test_notebooks_are_thin_and_parameterised(name):
    import nbformat

    path = Path(__file__).resolve().parents[1] / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    code = [c for c in nb.cells if c.cell_type == "code" and c is not params[0]]
    # Thin: a handful of short cells that call the package; no outputs stored in the repository.
    assert all(len(c.source.splitlines()) <= 8 and not c.get("outputs") for c in code)
    assert any("longitudinal" in c.source for c in code)
