"""The disclosure audit: planted leaks of each kind are found and named; a protected folder passes.

Each test writes a small published year (areas with ``manifest.json`` and ``tables/*.csv`` beside their
``.meta.json`` declarations), as a batch does, and audits it reading only those files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from longitudinal import domain
from longitudinal.cli import app
from longitudinal.report import protect as dc
from longitudinal.report.audit import AuditError, audit_year

YEAR = 2025


def publish(root: Path, area: str, name: str, rows: list[dict], count_columns, specs=(), *,
            label_column: str | None = None, protection: dict | None = None) -> Path:
    """Write one published table (CSV + declaration) of ``area`` under ``root/<year>``, as a report does."""
    folder = root / str(YEAR) / area.lower().replace(" ", "-")
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"area": area, "financial_year": YEAR, "status": "ok"}))
    pd.DataFrame(rows).to_csv(folder / "tables" / f"{name}.csv", index=False)
    decl = dc.declaration_to_json(count_columns=count_columns, specs=specs, label_column=label_column,
                                  protection=protection)
    (folder / "tables" / f"{name}.meta.json").write_text(json.dumps({"table": name, **decl}))
    return root / str(YEAR)


def audit(year: Path):
    """The audit of ``year``, checked against the exhaustive one (every value's range by its own programmes): the
    budgeted audit's shortcuts must not change a verdict."""
    res = audit_year(year)
    ref = audit_year(year, exhaustive=True)
    assert verdicts(res) == verdicts(ref), (res.summary(), ref.summary())
    return res


def verdicts(res) -> list[tuple]:
    return sorted((f.area, f.table, f.row, f.column, f.kind, f.lo, f.hi) for f in res.findings)


def kinds(res, area=None, table=None, row=None, column=None) -> set[str]:
    return {f.kind for f in res.findings if (area is None or f.area == area) and (table is None or f.table == table)
            and (row is None or f.row == row) and (column is None or f.column == column)}


def only(res, **where):
    hits = [f for f in res.findings if all(getattr(f, k) == v for k, v in where.items())]
    assert len(hits) == 1, (where, [f.message for f in res.findings])
    return hits[0]


def test_margin_differencing_within_a_table(tmp_path):
    # One suppressed cell against a published total: 43 - 40 = 3.
    year = publish(tmp_path, "Cardiff", "by_need", [{"need": "a", "people": "<5"}, {"need": "b", "people": 40},
                                                     {"need": "All", "people": 43}],
                   ["people"], [dc.Total(row="All")], label_column="need")
    res = audit(year)
    f = only(res, area="Cardiff", table="by_need", row="a", column="people")
    assert (f.kind, f.lo, f.hi) == ("recovered", 3, 3)
    assert res.exit_code == 1
    assert "Cardiff / by_need / row 'a', column 'people'" in f.message


def test_secondary_suppression_that_holds_passes(tmp_path):
    # <5 and [c] add up to 20: the <5 may be anything from 1 to 4 (the [c] 16 to 19), nothing is worked out.
    year = publish(tmp_path, "Cardiff", "by_need", [{"need": "a", "people": "<5"}, {"need": "b", "people": "[c]"},
                                                     {"need": "c", "people": 40}, {"need": "All", "people": 60}],
                   ["people"], [dc.Total(row="All")], label_column="need")
    res = audit(year)
    assert res.passed, res.summary()
    assert res.exit_code == 0 and res.targets >= 2


def test_a_promised_width_is_enforced(tmp_path):
    # The same table, judged against a method that promises ranges of at least 5 whole numbers: the [c] is
    # pinned to 16..19.
    prot = {**dc.PROTECTION, "min_width": 4}
    year = publish(tmp_path, "Cardiff", "by_need", [{"need": "a", "people": "<5"}, {"need": "b", "people": "[c]"},
                                                     {"need": "c", "people": 40}, {"need": "All", "people": 60}],
                   ["people"], [dc.Total(row="All")], label_column="need", protection=prot)
    f = only(audit(year), row="b")
    assert (f.kind, f.lo, f.hi) == ("narrow", 16, 19)


def publish_areas(tmp_path, measure: str, values: dict, across: str, protection=None) -> Path:
    """A one-cell headline for Wales and every authority (0 where ``values`` names none)."""
    for area in ("Wales", *domain.LA_NAMES):
        year = publish(tmp_path, area, "headline", [{"measure": measure, "value": values.get(area, 0)}],
                       ["value"], [dc.Same((measure, "value"), measure.lower(), across)], label_column="measure",
                       protection=protection)
    return year


def test_wales_minus_the_authorities(tmp_path):
    # Episodes add up over the areas: Wales 10, Newport 7, the others 0, so Cardiff's <5 is 3.
    res = audit(publish_areas(tmp_path, "Episodes", {"Wales": 10, "Cardiff": "<5", "Newport": 7}, "sum"))
    f = only(res, area="Cardiff", table="headline", row="Episodes")
    assert (f.kind, f.lo, f.hi) == ("recovered", 3, 3)
    assert kinds(res, area="Newport") == set() and kinds(res, area="Wales") == set()


def test_an_authority_missing_from_the_folder_hides_nothing(tmp_path):
    year = publish_areas(tmp_path, "Episodes", {"Wales": 10, "Cardiff": "<5", "Newport": 7}, "sum")
    import shutil

    shutil.rmtree(year / "powys")  # Wales less the published authorities is now Cardiff and Powys together
    assert audit(year).passed


def test_people_across_authorities_allow_for_people_counted_twice(tmp_path):
    # People: a person supported in two authorities is counted once in Wales, so Wales 10, Newport 7 says
    # Cardiff has 3 or more: its <5 is narrowed to 3 or 4 (a failure where the method promises the whole
    # 1 to 4), and the people counted twice to 0 or 1.
    prot = {**dc.PROTECTION, "min_width": 4}
    values = {"Wales": 10, "Cardiff": "<5", "Newport": 7}
    f = only(audit(publish_areas(tmp_path, "People", values, "people", prot)), area="Cardiff")
    assert (f.kind, f.lo, f.hi) == ("narrowed", 3, 4)
    assert audit(publish_areas(tmp_path / "b", "People", values, "people")).passed


def test_share_of_a_small_base(tmp_path):
    # 12.5% of 8 people is 1 person; 50% of 20 is 10 and leaves 10.
    year = publish(tmp_path, "Cardiff", "distance", [{"outcome": "x", "n": 8, "pct": 12.5},
                                                      {"outcome": "y", "n": 20, "pct": 50.0}],
                   ["n"], [dc.Share("pct", "n", scale=100, decimals=1)], label_column="outcome")
    res = audit(year)
    f = only(res, row="x", column="pct")
    assert f.kind == "recovered" and round(f.lo) == 1 and "implied" in f.what
    assert kinds(res, row="y") == set()


def test_bounded_mean(tmp_path):
    # A mean of 1.2 over 10 scores on a 1-5 scale puts them 2 steps above the bottom in all.
    year = publish(tmp_path, "Cardiff", "distance", [{"outcome": "x", "n": 10, "mean": 1.2},
                                                      {"outcome": "y", "n": 10, "mean": 3.0}],
                   ["n"], [dc.Share("mean", "n", lo=1, hi=5, decimals=2)], label_column="outcome")
    res = audit(year)
    f = only(res, row="x", column="mean")
    assert f.kind == "recovered" and round(f.lo) == 2
    assert kinds(res, row="y") == set()


def test_a_count_shared_by_two_tables(tmp_path):
    # Table A hides both needs (30 in all); table B counts the same people by need and shows 27 for b: a is 3.
    publish(tmp_path, "Cardiff", "a", [{"need": "a", "people": "[c]"}, {"need": "b", "people": "[c]"},
                                       {"need": "All", "people": 30}],
            ["people"], [dc.Total(row="All"), dc.Same("people", "people {row}")], label_column="need")
    year = publish(tmp_path, "Cardiff", "b", [{"need": "b", "people": 27, "episodes": 40}],
                   ["people", "episodes"], [dc.Same("people", "people {row}")], label_column="need")
    res = audit(year)
    f = only(res, table="a", row="a")
    assert (f.kind, f.lo, f.hi) == ("recovered", 3, 3)


def test_curve_points_and_parts(tmp_path):
    # Of 40 people, 25% by 6 months (10) and 30% by 12 months (12): 2 reached it in between. Parts of 30:
    # improved 50% (15), worse hidden, same 40% (12): the hidden worse is 3.
    year = publish(tmp_path, "Cardiff", "curve", [{"m": 6, "n": 40, "pct": 25.0}, {"m": 12, "n": 40, "pct": 30.0}],
                   ["n"], [dc.Share("pct", "n", scale=100, series=("n",), decimals=1)], label_column="m")
    publish(tmp_path, "Cardiff", "parts", [{"o": "x", "n": 30, "up": 50.0, "same": 40.0, "down": "[c]"}],
            ["n"], [dc.Parts(("up", "same", "down"), "n", scale=100, decimals=1)], label_column="o")
    res = audit(year)
    f = only(res, table="curve", row="12")
    assert f.kind == "recovered" and round(f.lo) == 2 and "difference" in f.what
    f = only(res, table="parts", column="down")
    assert f.kind == "recovered" and round(f.lo) == 3


def test_a_published_small_count_and_a_broken_relation_are_named(tmp_path):
    year = publish(tmp_path, "Cardiff", "t", [{"need": "a", "people": 3}, {"need": "b", "people": 40},
                                               {"need": "All", "people": 50}],
                   ["people"], [dc.Total(row="All")], label_column="need")
    res = audit(year)
    assert kinds(res, row="a") == {"shown"}
    assert kinds(res, row="All") == {"inconsistent"}


def test_not_a_batch_and_undeclared_tables(tmp_path):
    with pytest.raises(AuditError, match="no such folder"):
        audit_year(tmp_path / "nope")
    (tmp_path / "2025").mkdir()
    with pytest.raises(AuditError, match="not a batch's output"):
        audit_year(tmp_path / "2025")
    year = publish(tmp_path, "Cardiff", "t", [{"need": "b", "people": 40}], ["people"], label_column="need")
    (year / "cardiff" / "tables" / "extra.csv").write_text("need,people\nb,40\n")
    res = audit(year)
    assert [(f.table, f.kind) for f in res.findings] == [("extra", "undeclared")]


def test_command_line_exit_statuses(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["audit", str(tmp_path / "2025")])
    assert r.exit_code == 2, r.output
    year = publish(tmp_path, "Cardiff", "t", [{"need": "a", "people": "<5"}, {"need": "b", "people": 40},
                                               {"need": "All", "people": 43}],
                   ["people"], [dc.Total(row="All")], label_column="need")
    r = runner.invoke(app, ["audit", str(year)])
    assert r.exit_code == 1
    assert "Cardiff / t / row 'a', column 'people'" in r.output
    found = json.loads((year / "audit.json").read_text())
    assert found["passed"] is False and found["findings"][0]["kind"] == "recovered"
    publish(tmp_path, "Cardiff", "t", [{"need": "a", "people": "<5"}, {"need": "b", "people": "[c]"},
                                       {"need": "c", "people": 40}, {"need": "All", "people": 60}],
            ["people"], [dc.Total(row="All")], label_column="need")
    r = runner.invoke(app, ["audit", str(year)])
    assert r.exit_code == 0, r.output


def test_declarations_round_trip():
    specs = (dc.Sum(((("a", "n"),)), ("All", "n")), dc.Share("p", "n", scale=100, series=("g",), where=("k", "x"),
                                                           decimals=1),
             dc.Parts(("u", "v"), "n", scale=100, decimals=1), dc.Together(("a", "b"), when=("c",)),
             dc.Total(row="All", column="all", parts=("f", "m")), dc.Same("n", "people {row}", "people", part=True))
    d = json.loads(json.dumps(dc.declaration_to_json(count_columns=["n"], specs=specs, label_column="g")))
    assert dc.declaration_from_json(d)["specs"] == specs


# ------------------------------------------------------- the batch's own output
@pytest.fixture(scope="module")
def built_year():
    from test_reports import YEAR as REPORT_YEAR, built_reports

    root = built_reports()
    return root, json.loads((root / "done.json").read_text()), root / "reports" / str(REPORT_YEAR)


def test_the_batch_audits_the_year_and_publishes_it_only_if_the_audit_passes(built_year):
    _root, info, year = built_year
    audit = json.loads((year / "audit.json").read_text())
    batch = json.loads((year / "batch.json").read_text())
    assert info["areas_ok"]
    assert batch["published"] is audit["passed"] is info["published"]
    assert info["exit"] == (0 if audit["passed"] else 1)
    index = (year / "index.html").read_text()
    assert ("Published: the disclosure audit" in index) is audit["passed"]
    # What the batch recorded is what the command finds on the same folder.
    again = audit_year(year).to_dict()
    assert [f["message"] for f in again["findings"]] == [f["message"] for f in audit["findings"]]


def test_the_small_batch_output_passes_the_audit(built_year):
    _root, _info, year = built_year
    res = audit(year)
    assert res.passed, res.summary()


ROUNDED = {**dc.PROTECTION, "method": "controlled rounding", "rounding_base": 5, "rounding_error": 4}


def test_rounded_counts_are_ranges_and_exact_counts_elsewhere_can_undo_them(tmp_path):
    # Rounded to 5 (each within 4 of the truth): a 0, b 10, all 10 tells nothing small on its own.
    rows = [{"need": "a", "people": 0}, {"need": "b", "people": 10}, {"need": "All", "people": 10}]
    specs = [dc.Total(row="All"), dc.Same("people", "people {row}")]
    year = publish(tmp_path, "Cardiff", "rounded", rows, ["people"], specs, label_column="need", protection=ROUNDED)
    assert audit(year).passed
    # Another table shows the same people exactly (13 in all, 12 for b): the rounded 0 for a is 1.
    publish(tmp_path, "Cardiff", "exact", [{"need": "b", "people": 12}, {"need": "All", "people": 13}],
            ["people"], [dc.Same("people", "people {row}")], label_column="need")
    f = only(audit(year), table="rounded", row="a")
    assert (f.kind, f.lo, f.hi) == ("recovered", 1, 1) and "rounded to 0" in f.what


def test_people_counted_under_two_lead_needs_are_a_declared_overlap(tmp_path):
    # 10 + 10 people by need, 15 people in all: five were supported for both needs in the year.
    rows = [{"need": "a", "people": 10}, {"need": "b", "people": 10}, {"need": "All", "people": 15}]
    year = publish(tmp_path / "plain", "Cardiff", "by_need", rows, ["people"], [dc.Total(row="All")],
                   label_column="need")
    kinds = [f.kind for f in audit(year).findings]
    assert kinds and set(kinds) == {"inconsistent"}  # declared as if they added up
    year = publish(tmp_path / "overlap", "Cardiff", "by_need", rows, ["people"],
                   [dc.Total(row="All", overlapping=("people",))], label_column="need")
    assert audit(year).passed
    # The overlap still bounds: a total below one of its rows breaks the declaration.
    rows[2]["people"] = 9
    year = publish(tmp_path / "low", "Cardiff", "by_need", rows, ["people"],
                   [dc.Total(row="All", overlapping=("people",))], label_column="need")
    kinds = [f.kind for f in audit(year).findings]
    assert kinds and set(kinds) == {"inconsistent"}


def test_the_social_return_quantities_are_checked_wales_minus_the_authorities(tmp_path):
    # The social-return section declares that its people reaching each outcome add up over the areas, so an
    # authority's suppressed quantity is recovered (and the year refused) when Wales and every other
    # authority publish theirs: Wales 12, Newport 9, the others 0, so Cardiff's <5 is 3.
    from longitudinal.report.sections.social_return import SROI_OUTCOME_LINKS

    values = {"Wales": 12, "Cardiff": "<5", "Newport": 9}
    for area in ("Wales", *domain.LA_NAMES):
        year = publish(tmp_path, area, "sroi_outcomes", [{"outcome": "Keeps a tenancy", "people": values.get(area, 0)}],
                       ["people"], SROI_OUTCOME_LINKS, label_column="outcome")
    f = only(audit(year), area="Cardiff", table="sroi_outcomes", row="Keeps a tenancy")
    assert (f.kind, f.lo, f.hi) == ("recovered", 3, 3)
