"""Disclosure of the annual report for authorities of 5 to 20 people.

The three-person authority of test_reports.py has every figure suppressed, so it cannot show a share
that gives a small count away. Here a 400-person study leaves most authorities with 5 to 20 people in
the report's year: every table of the annual report is produced for three of them, read back from the
CSV files written, and checked by :func:`published_leaks`, written independently of
``longitudinal.disclosure``: from the published values alone, with each table's declarations of what
its figures are about (``PublishedTable.specs``), no count of 1 to 4 may be derivable, and every
numeric column must be declared (so a new section cannot slip an unchecked figure in).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal import domain
from longitudinal.i18n import Translator
from longitudinal.report import AnnualReport, PublishedTable, last_complete_year, protect as dc, publish
from longitudinal.report.area import active as _active
from longitudinal.report.present import cells
from longitudinal.report.sections.distance import distance_published
from longitudinal.report.sections.social_return import SROI_RATIO, evaluate, social_return_detail
from longitudinal.results import figure_of

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "annual_report.ipynb"
MARKERS = {"<5", "[c]"}
SMALL = range(1, 5)


# ---------------------------------------------------------------- the checker
def _num(s: str) -> float:
    if s is None or s in MARKERS or str(s).strip() == "":
        return math.nan
    try:
        return float(s)
    except ValueError:
        return math.nan


def _surely_small(lo: float, hi: float) -> bool:
    """A count known to lie in [lo, hi] (the published figure is rounded) is revealed as 1-4 if all of it is."""
    return lo >= 0.5 and hi < 4.5


def _half(spec) -> float:
    d = getattr(spec, "decimals", None)
    return 0.0 if d is None else 0.5 * 10.0 ** -d


def _implied(spec, n: float, v: float) -> tuple[float, float]:
    """(count implied by the figure v, count it leaves out) for a Share declaration."""
    if spec.count:
        return v, n - v
    p = v / spec.scale
    if spec.rest_base:  # a share of n + missing that are missing
        if p >= 1:
            return math.nan, math.nan
        whole = n / (1 - p)
        return whole * p, n
    return n * (p - spec.lo), n * (spec.hi - p)


def _spec_columns(spec) -> set[str]:
    if isinstance(spec, dc.Share):
        return {spec.column, spec.base}
    if isinstance(spec, dc.Parts):
        return {*spec.columns, spec.base}
    if isinstance(spec, dc.Together):
        return {*spec.columns, *spec.when}
    if isinstance(spec, dc.Sum):
        return {c[1] if isinstance(c, tuple) else c for c in (*spec.parts, spec.whole)}
    if isinstance(spec, dc.Total):  # margins and links are for the audit; they name count columns
        return {c for c in (spec.column, *spec.parts) if c is not None}
    if isinstance(spec, dc.Same):
        return {spec.cell[1] if isinstance(spec.cell, tuple) else spec.cell}
    raise AssertionError(f"unknown declaration {spec!r}")


def published_leaks(csv: pd.DataFrame, tab: PublishedTable, ids: set[str]) -> list[str]:
    """Every way the published table ``csv`` (strings, as written) lets a reader work out a count of 1 to 4."""
    out: list[str] = []
    name = tab.name
    err = 4.0 if tab.rounded else 0.0  # a rounded count is within 4 of the true one
    num = csv.apply(lambda s: s.map(_num))
    hidden = csv.isin(MARKERS)
    # No identifier column, no identifier value.
    for c in csv.columns:
        if c in ("person_id", "episode_id", "provider_id") or c.endswith("_id"):
            out.append(f"{name}: identifier column {c}")
        shown = set(csv[c].astype(str)) & ids
        if shown:
            out.append(f"{name}.{c}: identifiers {sorted(shown)[:3]}")
    declared = set(tab.count_columns) | set(tab.free)
    for spec in tab.specs:
        declared |= _spec_columns(spec)
    for c in csv.columns:
        if num[c].notna().any() and c not in declared:
            out.append(f"{name}.{c}: a numeric column that is neither a count nor a declared figure")
    # Counts.
    for c in tab.count_columns:
        for i, v in num[c].items():
            if v in SMALL:
                out.append(f"{name}.{c}[{i}]: the count {v:g}")
    labels = csv[tab.label_column].tolist() if tab.label_column else list(range(len(csv)))

    def cell(c, r):
        if isinstance(c, tuple):
            return labels.index(c[0]), c[1]
        return r, c

    for spec in tab.specs:
        if isinstance(spec, (dc.Total, dc.Same)):
            continue  # relations between tables and areas: the audit (tests/test_audit.py) works them through
        if isinstance(spec, dc.Together):
            for i in range(len(csv)):
                trig = hidden.loc[i, [*spec.columns, *spec.when]].any()
                if trig and not hidden.loc[i, list(spec.columns)].all() and csv.loc[i, list(spec.columns)].ne("").all():
                    out.append(f"{name}[{i}]: {spec.columns} shown in part")
        elif isinstance(spec, dc.Sum):
            rows = range(len(csv)) if not isinstance(spec.whole, tuple) else [None]
            for r in rows:
                wi, wc = cell(spec.whole, r)
                w = num.at[wi, wc]
                if math.isnan(w) or spec.rest_published:
                    continue
                parts = [num.at[cell(p, r)] for p in spec.parts]
                rest = w - sum(p for p in parts if not math.isnan(p))
                if _surely_small(rest, rest):
                    out.append(f"{name}.{wc}[{wi}]: the whole less the parts shown is {rest:g}")
        elif isinstance(spec, dc.Parts):
            h = _half(spec)
            for i in range(len(csv)):
                n = num.at[i, spec.base]
                vals = [num.at[i, c] for c in spec.columns]
                if math.isnan(n):
                    if any(not math.isnan(v) for v in vals) and csv.at[i, spec.base] in MARKERS:
                        out.append(f"{name}[{i}]: shares of a suppressed base")
                    continue
                e = n * h / spec.scale
                shown = [(c, n * v / spec.scale) for c, v in zip(spec.columns, vals) if not math.isnan(v)]
                for c, k in shown:
                    # A rounded base: the true one is within 4, and the share of any of them may be the true one.
                    ends = [(m, m * vals[list(spec.columns).index(c)] / spec.scale) for m in (n - err, n + err)]
                    if all(_surely_small(kk - e, kk + e) or _surely_small(m - kk - e, m - kk + e) for m, kk in ends):
                        out.append(f"{name}.{c}[{i}]: {k:.2f} of {n:g} (or the rest)")
                if len(shown) < len(spec.columns):
                    rest, er = n - sum(k for _, k in shown), e * len(shown)
                    if _surely_small(rest - er, rest + er):
                        out.append(f"{name}[{i}]: the hidden parts of {spec.columns} add up to {rest:.2f}")
        else:  # Share
            h = _half(spec)
            rows = [i for i in range(len(csv)) if spec.where is None or csv.at[i, spec.where[0]] == str(spec.where[1])]
            vis = []
            for i in rows:
                n, v = num.at[i, spec.base], num.at[i, spec.column]
                if math.isnan(v):
                    continue
                if math.isnan(n):
                    if csv.at[i, spec.base] in MARKERS:
                        out.append(f"{name}.{spec.column}[{i}]: a figure on a suppressed base")
                    continue
                for k in range(2):
                    # Small for every base the reader cannot rule out (a rounded base is within 4 of the truth).
                    small = []
                    for m in {n - err, n, n + err}:
                        a, b = _implied(spec, m, v - h), _implied(spec, m, v + h)
                        lo, hi = sorted((a[k], b[k]))
                        small.append(_surely_small(lo, hi))
                    if all(small):
                        out.append(f"{name}.{spec.column}[{i}]: {v:g} of {n:g} implies a small count")
                vis.append((i, _implied(spec, n, v)[0], abs(b[0] - a[0]) / 2))
            if spec.series:
                key = lambda i: tuple(csv.at[i, c] for c in spec.series)  # noqa: E731, B023 - used in this iteration only
                for x in range(len(vis)):
                    for y in range(x + 1, len(vis)):
                        (i, ki, ei), (j, kj, ej) = vis[x], vis[y]
                        d = abs(ki - kj)
                        if key(i) == key(j) and _surely_small(d - ei - ej, d + ei + ej):
                            out.append(f"{name}.{spec.column}[{i},{j}]: the two differ by {d:.2f}")
    return out


# ---------------------------------------------------------------- the study
@pytest.fixture(scope="module")
def study():
    return lg.simulate(people=400, seed=1)


@pytest.fixture(scope="module")
def protection(study):
    """The year's protection of ``study``, computed once as the batch does and handed to each area's report."""
    return AnnualReport(study, "auto", "Wales", seed=3).protection


def _small_areas(study, k: int = 3) -> list[str]:
    y = last_complete_year(study)
    act = study.episodes[_active(study.episodes, y)]
    c = act.groupby("local_authority", observed=True)["person_id"].nunique()
    c = c[(c >= 5) & (c <= 20)].sort_values()
    assert len(c) >= k, c
    return [c.index[0], c.index[len(c) // 2], c.index[-1]]  # smallest, middle, largest


def _notebook_sections() -> list[str]:
    """The AnnualReport methods the annual report notebook calls, in order (new sections are covered)."""
    nb = json.loads(NOTEBOOK.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    names = re.findall(r"^report\.(\w+)\(", code, flags=re.M)
    assert "distance" in names and "outcome_map" in names, names
    return names


def test_checker_sees_the_reviewers_leaks():
    # The rows the reviewer found, as they were published before the rule covered derived figures.
    dist = pd.DataFrame({"outcome": ["Managing relationships"], "n_compared": ["8"], "mean_first": ["3.38"],
                         "pct_improved": ["12.5"], "pct_same": ["62.5"], "pct_worse": ["25.0"]})
    tab = PublishedTable("distance_travelled", "", dist, ("n_compared",), specs=(
        dc.Parts(("pct_improved", "pct_same", "pct_worse"), "n_compared", scale=100, decimals=1),
        dc.Share("mean_first", "n_compared", lo=1, hi=5, decimals=2)))
    leaks = published_leaks(dist, tab, set())
    assert any("pct_improved[0]: 1.00 of 8" in x for x in leaks) and any("pct_worse[0]: 2.00" in x for x in leaks)
    ind = pd.DataFrame({"kind": ["proportion"], "n": ["8"], "value": ["0.25"], "missing_share": ["0.273"]})
    tab = PublishedTable("outcome_map_indicators", "", ind, ("n",), specs=(
        dc.Share("value", "n", where=("kind", "proportion"), decimals=3),
        dc.Share("missing_share", "n", rest_base=True, where=("kind", "proportion"), decimals=3)))
    leaks = published_leaks(ind, tab, set())
    assert any("value[0]: 0.25 of 8 implies a small count" in x for x in leaks)
    assert any("missing_share[0]" in x and "implies a small count" in x for x in leaks)
    # An undeclared figure is a failure too.
    tab = PublishedTable("x", "", pd.DataFrame({"n": ["8"], "share": ["0.5"]}), ("n",))
    assert published_leaks(tab.data, tab, set()) == ["x.share: a numeric column that is neither a count nor a "
                                                     "declared figure"]


def test_small_authorities_publish_no_small_count(study, protection, tmp_path):
    ids = set(study.people["person_id"].astype(str)) | set(study.episodes["episode_id"].astype(str)) \
        | set(study.episodes["provider_id"].astype(str))
    sections = _notebook_sections()
    shares_shown = 0
    for area in _small_areas(study):
        out = tmp_path / area
        rep = AnnualReport(study, "auto", area, seed=3, out=out, protection=protection)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in sections:
                getattr(rep, name)()
        tabs = {t.name: t for s in rep.sections_ for t in s.tables}
        files = sorted((out / "tables").glob("*.csv"))
        assert {f.stem for f in files} == set(tabs), (area, sorted(tabs))
        assert {"distance_travelled", "outcome_map_indicators", "completeness", "headline"} <= set(tabs)
        leaks = []
        for f in files:
            csv = pd.read_csv(f, dtype=str, keep_default_na=False)
            leaks += [f"{area}: {x}" for x in published_leaks(csv, tabs[f.stem], ids)]
            for spec in tabs[f.stem].specs:
                if isinstance(spec, (dc.Share, dc.Parts)) and not getattr(spec, "count", False):
                    cols = [spec.column] if isinstance(spec, dc.Share) else list(spec.columns)
                    shares_shown += int(csv[cols].apply(lambda s: s.map(_num)).notna().to_numpy().sum())
        assert not leaks, "\n".join(leaks)
        # Figures are drawn from published values: no identifier, no percentage of a hidden figure.
        for s in rep.sections_:
            for fig in s.figures:
                assert not set(fig.labels) & ids
    assert shares_shown > 20  # the check is not vacuous: areas of up to 20 people still show shares


def test_distance_table_of_a_small_authority_shows_shares_of_published_counts_only(study, protection):
    """Shares are of the rounded counts, and shown only for at least 10 episodes compared (as published)."""
    area = _small_areas(study)[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = AnnualReport(study, "auto", area, protection=protection)
        pub = rep.distance().tables[0].data
        counts = rep.protection.table(area, "distance").set_index("outcome")
        raw = rep.data_.distance_frame.set_index("outcome")
    for (_, row), code in zip(pub.iterrows(), raw.index):
        n = row["n_compared"]
        exact = 0 if pd.isna(raw.at[code, "n"]) else raw.at[code, "n"]  # no need in this area: none compared
        assert isinstance(n, (int, np.integer)) and n % 5 == 0 and abs(n - exact) <= 4
        figures = row.drop(["outcome", "n_compared"])
        if n == 0:
            assert figures.isna().all()
        elif n < 10:
            assert (figures == dc.SECONDARY).all()
        else:
            for c in ("improved", "same", "worse"):
                k = counts.at[row["outcome"], c]
                assert k % 5 == 0 and row[f"pct_{c}"] == pytest.approx(round(100 * k / n, 1))


# ------------------------------------------------------------ SROI and explore notebooks
def _smallest_area(study) -> str:
    y = last_complete_year(study)
    act = study.episodes[_active(study.episodes, y)]
    c = act.groupby("local_authority", observed=True)["person_id"].nunique()
    return str(c[c > 0].sort_values().index[0])


@pytest.fixture(scope="module")
def small_quantity_area(study, protection) -> str:
    """The smallest authority where an outcome of the impact map is reached by 1 to 4 people (searched once
    for the module: each candidate is a social-return evaluation)."""
    y = last_complete_year(study)
    act = study.episodes[_active(study.episodes, y)]
    sizes = act.groupby("local_authority", observed=True)["person_id"].nunique().sort_values()
    for area in sizes.index:
        # the report's own evaluation, without drawing its section (a quantity rounded to 1-4 is "small")
        if evaluate(AnnualReport(study, "auto", area, protection=protection).data_, draws=50).small:
            return str(area)
    raise AssertionError("no authority with a small quantity")


def test_sroi_of_an_area_with_a_small_quantity_publishes_it_rounded(study, protection, small_quantity_area):
    area = small_quantity_area
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = AnnualReport(study, "auto", area, seed=3, protection=protection)
        head = rep.social_return().tables[0].data.set_index("measure")["value"]
        sec = rep.social_return_detail()
    # The report evaluates the map on the quantities the year's protection publishes: none is 1-4, and every
    # figure built on them is shown (the case the reviewer found: a quantity of 2 with its value, ratio and NPV).
    res = rep.sroi_result_
    q = res.outcomes.set_index("outcome")["quantity"]
    assert q.to_dict() == protection.table(area, "sroi_outcomes").set_index("outcome")["people"].astype(float).to_dict()
    assert not q.between(1, 4).any() and not rep.sroi_small_
    summary = sec.tables[0].data.set_index("measure")["value"]
    assert summary[SROI_RATIO] == round(res.sroi_ratio, 2) and head[SROI_RATIO] == round(res.sroi_ratio, 2)
    assert str(sec.heading).endswith(f"{area}, {domain.fy_label(rep.year)}") and "Wales" not in str(sec.text)
    basis = " ".join(sec.tables[1].data["basis"].astype(str))
    assert not re.search(r"(?<![\w.])[1-4](?![\w.])", basis), basis
    # Evaluated on the exact quantities (without the year's protection), a small one hides everything built on it.
    run = evaluate(rep.data_, draws=50)
    assert run.small and run.result.outcomes["quantity"].round().between(1, 4).any()
    exact = social_return_detail(rep.data_, protection, rep.publisher, run)
    summary = exact.tables[0].data.set_index("measure")["value"]
    for m in ("Social value (£, present value)", "Net present value (£)", SROI_RATIO, "Net SROI ratio",
              "Payback (months)"):
        assert summary[m] == dc.SECONDARY
    assert summary["Inputs: spend (£, present value)"] == round(run.result.inputs_value)
    assert [t.name for t in exact.tables] == ["sroi_summary", "sroi_adjustments"] and exact.notes


def test_sroi_detail_of_a_large_area_shows_the_sensitivity_analyses():
    s = lg.simulate(people=8000, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = AnnualReport(s, "auto", "Wales", seed=3)
        sec = rep.social_return_detail()
    res = rep.sroi_result_
    assert not res.outcomes["quantity"].round().between(1, 4).any()
    tabs = {t.name: t.data for t in sec.tables}
    assert set(tabs) == {"sroi_summary", "sroi_adjustments", "sroi_one_way", "sroi_switching_values"}
    summary = tabs["sroi_summary"].set_index("measure")["value"]
    assert summary[SROI_RATIO] == round(res.sroi_ratio, 2)  # a number, not text
    ow = tabs["sroi_one_way"]
    assert ow["ratio_low"].tolist() == pytest.approx(res.one_way()["ratio_low"].round(3).tolist())
    qty = tabs["sroi_switching_values"].query("parameter == 'People reaching the outcome'")["point"]
    assert len(qty) and not qty.between(1, 4).any()
    # Shown in Welsh: every text through the catalogue; amounts whole, shares to 3 decimals, ratios to 2.
    cy = Translator("cy")
    for t in sec.tables:
        heads, rows = cells(t.data, t.name, cy, t.row_decimals)
        assert heads and all(isinstance(v, str) for r in rows for v in r)
    one_way = next(t for t in sec.tables if t.name == "sroi_one_way")
    _, rows = cells(one_way.data, one_way.name, Translator("en"), one_way.row_decimals)
    proxy = next(r for r in rows if r[2] == "Financial proxy (£ per person)")
    share = next(r for r in rows if r[2] == "Deadweight")
    assert re.fullmatch(r"[\d,]+", proxy[3]) and re.fullmatch(r"0\.\d{3}", share[3])
    assert re.fullmatch(r"\d\.\d\d", share[6])


@pytest.fixture(scope="module")
def store(study, tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    study.write(root / "data", format="parquet")
    return root / "data"


def _run(name: str, out: Path, params: dict) -> str:
    import papermill as pm

    nb = NOTEBOOK.with_name(f"{name}.ipynb")
    out.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(nb), str(out / f"{name}.ipynb"), parameters=params, cwd=str(out),
                        kernel_name="python3", progress_bar=False, log_output=False, start_timeout=120)
    done = json.loads((out / f"{name}.ipynb").read_text())
    texts = []
    for c in done["cells"]:
        for o in c.get("outputs", []):
            texts.append("".join(o.get("text", "")))
            for k, v in o.get("data", {}).items():
                if k.startswith("text/"):
                    texts.append("".join(v))
    return "\n".join(texts)


def test_sroi_notebook_names_the_area_and_prints_no_raw_result(small_quantity_area, store, tmp_path):
    area = small_quantity_area
    text = _run("sroi_report", tmp_path, {"data": str(store), "area": area, "draws": 200, "out": str(tmp_path)})
    assert f"Social return on investment: summary and sensitivity, {area}" in text
    assert "Wales (from the study)" not in text  # the map's own name is not the area's
    # The quantities are the year's rounded ones (none 1-4), so the summary and sensitivity are published (before
    # the quantities were rounded jointly, an exact quantity of 1-4 suppressed them here); no quantity 1-4 shows.
    res_lines = [ln for ln in text.splitlines() if "quantity" in ln.lower() and re.search(r"\b[1-4]\.0\b", ln)]
    assert not res_lines, res_lines
    for f in (tmp_path / "tables").glob("*.csv"):
        t = pd.read_csv(f, dtype=str, keep_default_na=False)
        if "people" in t.columns:
            assert not t["people"].isin(["1", "2", "3", "4"]).any()


def test_explore_notebook_shows_no_identifier_and_no_small_count(study, store, tmp_path):
    area = _smallest_area(study)
    text = _run("explore", tmp_path, {"data": str(store), "area": area})
    ids = set(study.people["person_id"].astype(str)) | set(study.episodes["episode_id"].astype(str)) \
        | set(study.episodes["provider_id"].astype(str))
    assert not [i for i in ids if re.search(rf"\b{re.escape(i)}\b", text)]
    assert not re.search(r"person_id|episode_id|provider_id", text)
    # The area's people are counted, rounded to a multiple of 5 (a 0 rounded down from 1-4 reads "fewer than 5").
    m = re.search(r"were supported in|people were supported", text)
    assert m, "the headline sentence is missing"
    assert re.search(r"In \d{4}-\d{2}, (fewer than 5|\d*[05]) people were supported", text)
    assert not re.search(r"people=\d", text)  # the Study's raw repr is not displayed


# ------------------------------------------------------------ survival figures and intervals (issue 7)
def _check_curve_points(table: pd.DataFrame, fig_data: pd.DataFrame, value: str, by: str | None) -> list[str]:
    """Figure points with the table's shown months: none implies, leaves out, or differs from another by 1-4.

    The table's ``n`` is rounded to a multiple of 5 (the true base within 4 of it): a point gives a count away
    only if it does so whatever the base is in that range (at both ends, the implied counts being monotone in it).
    """
    bad = []
    groups = [(None, fig_data)] if by is None else list(fig_data.groupby(by))
    for key, pts in groups:
        rows = table if by is None else table[table[by] == key]
        n_pub = float(pts["n"].iloc[0])
        assert n_pub >= 5 and str(rows["n"].iloc[0]) == str(int(n_pub)), (key, n_pub)
        shown = {float(m): v for m, v in zip(rows["months"], rows[value])}
        drawn = set(pts["time"].astype(float))
        hidden_months = {m for m, v in shown.items() if not isinstance(v, (int, float, np.floating))}
        assert not drawn & hidden_months, (key, drawn & hidden_months)
        found = []
        for n in (max(n_pub - 4, 1.0), n_pub + 4):
            here = set()
            # (implied count of those who left the curve, rounding half-width): table values are rounded to 0.1%.
            vals = [(n * (1 - s), 0.0) for s in pts["survival"]]
            vals += [(n * (1 - v / 100), n * 0.0005) for m, v in shown.items() if m not in hidden_months]
            for i, (a, ea) in enumerate(vals):
                for what, lo, hi in (("implies", a - ea, a + ea), ("leaves out", n - a - ea, n - a + ea)):
                    if lo >= 0.5 and hi < 4.5:
                        here.add(f"{key}: point {i} {what} a small count of a base of about {n_pub:g}")
                for j, (b, eb) in enumerate(vals[i + 1:], i + 1):
                    d = abs(a - b)
                    if d - ea - eb >= 0.5 and d + ea + eb < 4.5:
                        here.add(f"{key}: points {i} and {j} differ by a small count of about {n_pub:g}")
            found.append(here)
        bad += sorted(found[0] & found[1])
    return bad


def test_time_to_independence_has_seeded_intervals_and_figures_obey_the_rule(study, protection):
    big = lg.simulate(people=2000, seed=1)
    big_protection = AnnualReport(big, "auto", "Wales", seed=5).protection
    checked = 0
    for s, area, prot in [(big, "Wales", big_protection), (big, "Cardiff", big_protection),
                          (study, _small_areas(study)[-1], protection)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = AnnualReport(s, "auto", area, seed=5, protection=prot)
            tti = rep.time_to_independence(n_boot=40)
            again = AnnualReport(s, "auto", area, seed=5, protection=prot).time_to_independence(n_boot=40)
            li = rep.lasting_impact(n_boot=20)
        t = tti.tables[0].data
        assert {"ci_lower", "ci_upper"} <= set(t.columns)
        pd.testing.assert_frame_equal(t, again.tables[0].data)  # seeded: the same intervals every run
        shown = t[[isinstance(v, float) for v in t["percent_reached"]]]
        for _, r in shown.iterrows():
            assert r["ci_lower"] <= r["percent_reached"] + 0.05 and r["percent_reached"] <= r["ci_upper"] + 0.05
        for sec, value, by in ((tti, "percent_not_yet", None), (li, "percent_sustained", "outcome")):
            if not sec.figures:
                assert sec.notes, f"{area} {sec.key}: no figure and no reason given"
                continue
            fig = sec.figures[0]
            assert fig.data is not None and len(fig.data)
            assert not _check_curve_points(sec.tables[0].data, fig.data, value, by)
            checked += 1
            if by:  # groups of fewer than 5, or with a suppressed base, are not drawn, and the note says so
                ns = sec.tables[0].data.drop_duplicates(by).set_index(by)["n"]
                small = [k for k, v in ns.items() if not isinstance(v, (int, np.integer)) or v < 5]
                assert not set(small) & set(fig.data[by])
                if small:
                    assert any(k in " ".join(map(str, sec.notes)) for k in small)
    assert checked >= 3


def test_a_figure_repeated_in_two_tables_is_suppressed_in_both(study, protection):
    """One table must not show what another hides: headline counts, distance figures in the indicators."""
    matched = 0
    for area in _small_areas(study):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = AnnualReport(study, "auto", area, seed=3, protection=protection)
            head = rep.headline().tables
            h = head[0].data.set_index("measure")["value"]
            need = head[1].data.set_index("lead_need")
            ages = rep.demographics().tables[0].data.set_index("age_band")
            comp = rep.completeness().tables[0].data.set_index("measure")["episodes"]
            dist = rep.distance().tables[0].data
            ind = rep.outcome_map().tables[1].data
        pairs = [(h["People supported"], need.at["All", "people"]), (h["People supported"], ages.at["All", "all"]),
                 (h["Episodes of support active"], need.at["All", "episodes"]),
                 (h["Episodes started"], need.at["All", "started"]),
                 (h["Episodes started"], comp["Episodes started in the year"]),
                 (h["Episodes ended"], comp["Episodes ended in the year"]),
                 (h["Episodes of support active"], comp["Active episodes in the year"])]
        for a, b in pairs:
            assert str(a) == str(b), (area, pairs)
        dist = dist.assign(code=distance_published(rep.data_, rep.protection)["code"].to_numpy()).set_index("code")
        # An indicator set by its outcome area alone shows that area's name as its settings.
        by_name = {o.name: c for c, o in lg.domain.OUTCOMES.items()}
        for _, r in ind.iterrows():
            code = by_name.get(str(r["params"]))
            if code is None:
                continue
            matched += 1
            cols = {"share_improving": ["pct_improved"], "mean_change": ["mean_change", "ci_lower", "ci_upper"]}
            if r["indicator"] in cols and (dist.loc[code, cols[r["indicator"]]] == dc.SECONDARY).any():
                assert r["value"] == dc.SECONDARY and r["ci_lower"] == dc.SECONDARY, (area, code, r.to_dict())
    assert matched  # the indicators' settings were read (a rename of the column would skip them all)


# ------------------------------------------------- across areas: Wales minus the authorities
#: The count tables that add up across the authorities (each episode belongs to one authority),
#: with the column naming their rows; the headline's money rows are not counts.
ADDITIVE = {"headline": "measure", "by_lead_need": "lead_need", "trend": "financial_year",
            "age_sex": "age_band", "completeness": "measure", "completeness_by_outcome": "outcome"}


def _published(rep: AnnualReport) -> dict[str, PublishedTable]:
    tabs = [*rep.headline().tables, *rep.demographics().tables, *rep.completeness().tables]
    return {t.name: t for t in tabs if t.name in ADDITIVE}


def cross_area_leaks(wales: dict[str, PublishedTable], areas: dict[str, dict[str, PublishedTable]]) -> list[str]:
    """Hidden authority cells that Wales minus the other authorities' published cells gives away.

    Reads the published tables only. For every cell (row, count column) Wales publishes: the authorities
    that hide it hold, together, Wales minus what the others publish (a row an authority leaves out is 0).
    One such authority: its cell is recovered exactly. Several: their sum is, and must not be 1 to 4.
    """
    leaks = []
    for name, label in ADDITIVE.items():
        w = wales[name]
        for _, row in w.data.iterrows():
            key = row[label]
            if name == "headline" and str(key).startswith("Spend"):
                continue
            for col in w.count_columns:
                wv = _num(None if pd.isna(row[col]) else str(row[col]))
                if math.isnan(wv):
                    continue  # Wales hides it (or it is blank)
                hiders, known = [], 0.0
                for area, tabs in areas.items():
                    d = tabs[name].data
                    hit = d[d[label].astype(str) == str(key)]
                    if hit.empty:
                        continue  # not listed: none
                    v = hit[col].iat[0]
                    if pd.isna(v):
                        continue
                    if str(v) in MARKERS:
                        hiders.append(area)
                    else:
                        known += float(v)
                rest = wv - known
                if len(hiders) == 1 or (hiders and 0.5 <= rest < 4.5):
                    leaks.append(f"{name}[{key}, {col}]: Wales {wv:g} - published = {rest:g} hidden by {hiders}")
    return leaks


def test_cross_area_checker_sees_a_single_hidden_cell():
    def tab(v):
        return PublishedTable("age_sex", "", pd.DataFrame({"age_band": ["75-84"], "all": [v]}), ("all",))
    wales = {n: PublishedTable(n, "", pd.DataFrame({lab: []}), ()) for n, lab in ADDITIVE.items()}
    wales["age_sex"] = tab(12)
    areas = {a: dict(wales) for a in ("A", "B")}
    areas["A"] = {**areas["A"], "age_sex": tab("<5")}
    areas["B"] = {**areas["B"], "age_sex": tab(10)}
    assert cross_area_leaks(wales, areas) == ["age_sex[75-84, all]: Wales 12 - published = 2 hidden by ['A']"]
    wales["age_sex"] = tab("[c]")
    assert cross_area_leaks(wales, areas) == []


@pytest.fixture
def across():
    """The Wales report is protected together with the authorities' (always, since the protection is the year's)."""


def _authorities_hidden(rep, table: str, label: str) -> set:
    """The cells ``(row, column)`` of a count table that some authority of the year's protection hides."""
    out = set()
    for area, tables in rep.protection.published.items():
        if area == "Wales":
            continue
        df = tables[table]
        for col in df.columns:
            out.update((r, col) for r in df.loc[df[col].isin(MARKERS), label])
    return out


@pytest.fixture
def figures_unpainted(monkeypatch):
    """For tests about published tables only: every section still draws its figures (a section that cannot draw
    one still fails), but they are neither laid out nor painted to PNG, about half of a small report's time
    (tests/test_report_pages.py and tests/test_report_publication.py check painted figures)."""
    import matplotlib.pyplot as plt

    def figure(self, name, caption, fig, data=None, *, alt=None, translate=True):
        fig = figure_of(fig)
        labels = publish.figure_labels(fig)
        plt.close(fig)
        return publish.PublishedFigure(name, caption, b"", labels, data, alt)

    monkeypatch.setattr(publish.Publisher, "figure", figure)


@pytest.fixture(scope="module")
def study3000():
    """A study of 3,000 people: its reports share one protection of the year (kept with the study)."""
    return lg.simulate(people=3000, seed=1)


def test_wales_minus_the_authorities_recovers_no_hidden_cell(across, study3000, figures_unpainted):
    study = study3000
    wales_report = AnnualReport(study, area="Wales")
    wales = _published(wales_report)
    # Each authority with the year's protection, as the batch hands it over (computed once, not 22 times).
    areas = {a: _published(AnnualReport(study, area=a, protection=wales_report.protection))
             for a in lg.domain.LA_NAMES}
    leaks = cross_area_leaks(wales, areas)
    assert not leaks, "\n".join(leaks[:20]) + f"\n({len(leaks)} in all)"


def test_wales_and_the_authorities_publish_nothing_hidden_and_add_up(across, study3000):
    # The reviewer's cell: Blaenau Gwent has 2 people aged 75-84. Rounded (0 or 5), not hidden, and
    # Wales's cell is the same population counted over all authorities.
    study = study3000
    wales = AnnualReport(study, area="Wales")
    area = AnnualReport(study, area="Blaenau Gwent", protection=wales.protection)
    a = area.demographics().tables[0].data.set_index("age_band")
    assert a.loc["75-84", "all"] in (0, 5)
    w = wales.demographics().tables[0].data.set_index("age_band")
    assert not w.isin(MARKERS).any().any() and not a.isin(MARKERS).any().any()
    # People: Wales is at least each authority and at most their sum; rows and columns add up.
    las = {la: t["age_sex"].set_index("age_band") for la, t in wales.protection.published.items() if la != "Wales"}
    for col in ("female", "male", "all"):
        for band in w.index:
            vals = [t.at[band, col] for t in las.values()]
            assert max(vals) <= w.at[band, col] <= sum(vals), (band, col)
    assert (w.drop(columns="all").sum(axis=1) == w["all"]).all()
    assert (w.drop(index="All").sum(axis=0) == w.loc["All"]).all()


def test_the_methods_state_the_rule(across, study, monkeypatch):
    from longitudinal.report import YearProtection

    def never(*args, **kwargs):
        raise AssertionError("the methods publish no count: the year's protection is not needed")

    monkeypatch.setattr(YearProtection, "for_study", never)
    text = str(AnnualReport(study, area="Wales").methods().text)  # in English
    assert dc.RULE in text and "rounded to a multiple of 5" in text
