"""The ``longitudinal`` command line: a thin layer over the package.

Exit statuses (all commands, :mod:`longitudinal.errors`): 0 success; 1 the work ran but found a
problem the user must act on (rejected rows, failed report areas, invalid map); 2 bad usage or input
that could not be read or written; 3 an unexpected internal error (a bug: one line on the terminal,
the traceback in a log file); 128 + N when stopped by signal N (130 Ctrl-C, 143 SIGTERM).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from .errors import EXIT_INPUT, EXIT_INTERNAL, LongitudinalError

#: Where the traceback of an internal error is written (default ``~/.local/state/longitudinal``).
LOG_DIR_ENV = "LONGITUDINAL_LOG_DIR"


class _Cli(typer.Typer):
    """The console script: what no command handles itself still ends with a documented exit status."""

    def __call__(self, *args, **kwargs):
        if args or kwargs:
            return super().__call__(*args, **kwargs)
        sys.exit(run(sys.argv[1:]))


app = _Cli(
    name="longitudinal",
    help="Research workbench for the longitudinal study of the Welsh Supporting People programme.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Research workbench for the longitudinal study of the Welsh Supporting People programme."""


@app.command()
def simulate(
    people: int = typer.Option(2000, "--people", min=1, help="Distinct people over the study (Wales: about 400,000)."),
    years: int = typer.Option(7, "--years", min=1, help="Number of financial years."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives byte-identical files."),
    out: Path = typer.Option(..., "--out", help="Folder to write people, episodes, readings, spend and truth.json."),
    format: str = typer.Option("csv", "--format", help="csv or parquet."),
    start_year: int = typer.Option(2019, "--start-year", help="First financial year (2019 = 2019-20)."),
    service_use: bool = typer.Option(True, "--service-use/--no-service-use",
                                     help="Also write linked service use and a never-supported comparison pool."),
    follow_up_mnar: float = typer.Option(0.0, "--follow-up-mnar",
                                         help="Follow-up non-response not at random: change in the log-odds of "
                                              "answering per stage of the unseen follow-up score above the end "
                                              "level (0: at random given what is known at the end)."),
) -> None:
    """Write a synthetic study with known ground truth (the four tables, service_use and truth.json)."""
    from .simulate import simulate as _simulate

    if format not in ("csv", "parquet"):
        raise typer.BadParameter(f"--format must be csv or parquet, not {format!r}")
    study = _simulate(people=people, years=years, seed=seed, start_year=start_year, service_use=service_use,
                      follow_up_mnar=follow_up_mnar)
    written = study.write(out, format=format)
    console.print(f"[green]wrote[/] {study!r}")
    for name, path in written.items():
        console.print(f"  {name}: {path}")


@app.command()
def ingest(
    src: Path = typer.Argument(..., help="Folder with people, episodes, readings, spend (.csv, .xlsx or .parquet)."),
    out: Path = typer.Option(..., "--out", help="Store folder to write (Parquet + study.duckdb + rejects/)."),
    allow_rejects: bool = typer.Option(False, "--allow-rejects",
                                       help="Publish the store even if some rows were rejected (exit 0)."),
    key_file: Path | None = typer.Option(None, "--key-file",
                                            help="File holding the pseudonymisation key (outside any git work tree); "
                                                 "default: $LONGITUDINAL_PSEUDONYM_KEY."),
    already_pseudonymised: bool = typer.Option(False, "--already-pseudonymised",
                                               help="person_id and episode_id are already keyed hashes: keep them."),
    lead_needs: Path | None = typer.Option(None, "--lead-needs", help="YAML with the study's own lead-need list."),
    services: Path | None = typer.Option(None, "--services", help="YAML with the study's own list of services "
                                            "for service_use (default: emergency_admission, ae_attendance, "
                                            "outpatient, gp_event, homelessness_presentation)."),
    linkage_window: str | None = typer.Option(None, "--linkage-window", help="START:END (yyyy-mm-dd) the "
                                                 "linked service_use covers; events outside are rejected."),
) -> None:
    """Validate a study's files, pseudonymise identifiers and write the store (exit 1 if rows were rejected)."""
    from .ingest import IngestInputError, RowsRejectedError, ingest as _ingest, print_summary
    from .pseudonymise import PseudonymKeyError

    window = None
    if linkage_window:
        parts = linkage_window.split(":")
        if len(parts) != 2:
            console.print(f"[red]error:[/] --linkage-window should be START:END, e.g. 2017-04-01:2026-03-31, "
                          f"not {linkage_window!r}")
            raise typer.Exit(2)
        window = tuple(p or None for p in parts)
    try:
        report = _ingest(src, out, key_file=key_file, already_pseudonymised=already_pseudonymised,
                         allow_rejects=allow_rejects, lead_needs=lead_needs, services=services,
                         linkage_window=window)
    except RowsRejectedError as exc:
        print_summary(exc.report, console)
        console.print(f"[red]not published:[/] {exc}")
        raise typer.Exit(1) from None
    except (IngestInputError, PseudonymKeyError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    print_summary(report, console)
    console.print(f"[green]store written[/]: {out}")


@app.command("sroi")
def sroi_cmd(
    impact_map: Path = typer.Argument(..., help="Impact map: .yaml, .csv or .xlsx."),
    data: Path | None = typer.Option(None, "--data", help="Study folder (for indicator quantities, spend inputs, "
                                        "estimated adjustments)."),
    year: int | None = typer.Option(None, "--year", help="One financial year (2025 = 2025-26); all years of "
                                       "the study, cumulatively, when omitted."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
    draws: int = typer.Option(0, "--draws", min=0, help="Monte Carlo draws (0: none)."),
    seed: int = typer.Option(0, "--seed", help="Monte Carlo seed: the same seed gives the same figures."),
    comparison: Path | None = typer.Option(None, "--comparison", help="Comparison-group study folder "
                                              "(deadweight estimated from it)."),
    deflators: Path | None = typer.Option(None, "--deflators", help="GDP deflator table: the tidy CSV or HM "
                                             "Treasury's release (.xlsx/.csv) as downloaded; default "
                                             "data/deflators.csv."),
) -> None:
    """Social return on investment of an impact map: PV, NPV, SROI ratio, payback, year by year."""
    import json as _json

    from . import sroi as _sroi
    from .prices import DeflatorError, load_deflators
    from .study import load as _load

    try:
        defl = load_deflators(deflators)
        study = _load(data) if data is not None else None
        comp = _load(comparison) if comparison is not None else None
        result = _sroi.evaluate(impact_map, study, year=year, comparison=comp, deflators=defl)
        mc = result.monte_carlo(draws=draws, seed=seed) if draws else None
    except (FileNotFoundError, DeflatorError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    except (_sroi.ImpactMapError, ValueError) as e:
        console.print(f"[red]invalid impact map:[/] {e}")
        raise typer.Exit(1) from None
    if json_out:
        out = result.to_dict()
        if mc is not None:
            out["monte_carlo"] = mc.to_dict()
        typer.echo(_json.dumps(out, indent=2, default=str))
    else:
        typer.echo(result.summary())
        if mc is not None:
            typer.echo(mc.summary())


@app.command("deflators")
def deflators_cmd(
    release: Path = typer.Argument(..., help="HM Treasury's 'GDP deflators at market prices, and money GDP' file "
                                   "(.xlsx or .csv, as downloaded from GOV.UK), or a tidy deflator CSV."),
    out: Path | None = typer.Option(None, "--out", help="Write the tidy table here (e.g. data/deflators.csv); "
                                       "print it when omitted."),
) -> None:
    """Read a GDP deflator release and show or save it as the table SROI restates prices with."""
    from .prices import DeflatorError, load_deflators

    try:
        table = load_deflators(release)
    except (FileNotFoundError, DeflatorError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    console.print(f"source: {table.source}")
    if out is None:
        typer.echo(table.table.to_string(index=False))
    else:
        table.write(out)
        console.print(f"[green]wrote[/] {len(table.table)} financial years ({table.base}) to {out}")


# ------------------------------------------------------------------ outcome maps
map_app = typer.Typer(help="Outcome maps: validate, render and rate them from a study.", no_args_is_help=True)
app.add_typer(map_app, name="map")


def _load_map(file: Path):
    from .outcome_maps import OutcomeMap, OutcomeMapError

    try:
        return OutcomeMap.from_yaml(Path(file))
    except OutcomeMapError as e:
        typer.echo(("cannot read map: " if getattr(e, "unreadable", False) else "invalid map: ") + str(e), err=True)
        raise typer.Exit(2 if getattr(e, "unreadable", False) else 1) from None


def _load_study(path: Path):
    """The study at ``path``, or exit 2 saying why it cannot be read."""
    from .study import load

    try:
        return load(path)
    except (FileNotFoundError, OSError) as e:
        typer.echo(f"cannot read study: {e}", err=True)
        raise typer.Exit(2) from None


def _rate_args(omap, study_dir: Path | None, rubric: Path | None, area: str | None, year: str | None = None):
    from .errors import InputError
    from .outcome_maps import OutcomeMapError
    from .rubric import RubricError
    if study_dir is None:
        return omap
    study = _load_study(study_dir)
    try:
        return omap.rate(study, rubric=rubric, area=area, year=year)
    except (OutcomeMapError, RubricError, KeyError, InputError) as e:
        typer.echo(f"cannot rate the map: {e}", err=True)
        raise typer.Exit(1) from None


@map_app.command("validate")
def map_validate(file: Path = typer.Argument(..., help="Outcome map YAML file.")) -> None:
    """Check an outcome map; exit 1 naming every problem (file, line, pathway, column, step), 2 if unreadable."""
    omap = _load_map(file)
    n = sum(len(v) for v in omap.steps.values())
    linked = sum(1 for v in omap.steps.values() for s in v if s.indicators)
    typer.echo(f"valid: {file}: {omap.title!r}, {n} steps in {len(omap.columns)} columns "
               f"({linked} linked to indicators), {len(omap.pathways)} pathways")


@map_app.command("render")
def map_render(
    file: Path = typer.Argument(..., help="Outcome map YAML file."),
    out: Path = typer.Option(..., "--out", help="Folder for the figures, map.html and map.md."),
    format: str = typer.Option("png", "--format", help="Figure formats, comma separated: png, svg, pdf."),
    study: Path | None = typer.Option(None, "--study", help="Study folder to rate indicator-linked steps from."),
    area: str | None = typer.Option(None, "--area", help="Local authority to rate for (default Wales)."),
    rubric: Path | None = typer.Option(None, "--rubric", help="Rubric YAML (default: the built-in rubric)."),
    year: str | None = typer.Option(None, "--year", help="Financial year to rate for (2025 or 2025-26), as "
                                    "that year's annual report rates it (default: all the data)."),
) -> None:
    """Draw the map and each pathway, and write HTML and Markdown (byte-identical for the same input)."""
    omap = _rate_args(_load_map(file), study, rubric, area, year)
    try:
        written = omap.render(out, formats=[f.strip() for f in format.split(",") if f.strip()])
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    for name, path in written.items():
        typer.echo(f"{name}: {path}")


@map_app.command("rollup")
def map_rollup(
    file: Path = typer.Argument(..., help="Outcome map YAML file."),
    study: Path = typer.Option(..., "--study", help="Study folder."),
    out: Path = typer.Option(..., "--out", help="Folder for the tables, heat map and one map per area."),
    rubric: Path | None = typer.Option(None, "--rubric", help="Rubric YAML (default: the built-in rubric)."),
    areas: str | None = typer.Option(None, "--areas",
                                     help="Comma-separated areas (default: Wales and every authority in the study)."),
    year: str | None = typer.Option(None, "--year", help="Financial year to rate for (2025 or 2025-26), as "
                                    "that year's annual report rates it (default: all the data)."),
) -> None:
    """Rate the map for Wales and every local authority: tables, a heat map and HTML/Markdown per area."""
    from .domain import slug
    from .errors import InputError
    from .outcome_maps import rollup
    from .outcome_maps.render import plot_rollup

    omap = _load_map(file)
    s = _load_study(study)
    try:
        r = rollup(omap, s, rubric=rubric, year=year,
                   areas=None if areas is None else [a.strip() for a in areas.split(",") if a.strip()])
    except InputError as e:
        raise typer.BadParameter(str(e), param_hint="--year") from e
    except KeyError as e:
        raise typer.BadParameter(str(e.args[0] if e.args else e), param_hint="--areas") from e
    from .io import write_csv

    out.mkdir(parents=True, exist_ok=True)
    write_csv(r.ratings, out / "ratings.csv")
    write_csv(r.indicator_values, out / "indicator_values.csv")
    write_csv(r.table("progress"), out / "progress_by_area.csv", index=True)
    write_csv(r.table("confidence"), out / "confidence_by_area.csv", index=True)
    plot_rollup(r).savefig(out / "rollup.png", dpi=150, metadata={"Software": None})
    for area, m in r.maps.items():
        d = out / "areas" / slug(area)
        d.mkdir(parents=True, exist_ok=True)
        (d / "map.html").write_text(m.to_html(), encoding="utf-8")
        (d / "map.md").write_text(m.to_markdown(), encoding="utf-8")
    typer.echo(f"rated {len(r.maps)} areas; wrote {out}")


# ---------------------------------------------------------------- reports
report_app = typer.Typer(help="Annual reports (papermill notebooks -> HTML, tables, figures, manifests).",
                         no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("annual")
def report_annual(
    year: str = typer.Option("auto", "--year", help="Financial year (2025 = 2025-26) or 'auto' (last complete)."),
    area: str = typer.Option("all", "--area", help="'all' (Wales + 22 authorities), 'Wales', an authority, "
                             "or several separated by commas."),
    data: Path = typer.Option(..., "--data", help="Study folder (ingested store or the four tables)."),
    out: Path = typer.Option(Path("reports"), "--out", help="Output root; writes <out>/<year>/<area>/."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Areas at once (default: one per core)."),
    resume: bool = typer.Option(False, "--resume", help="Re-run only failed areas or those whose inputs changed."),
    timeout: float = typer.Option(1800.0, "--timeout", min=1, help="Seconds allowed per area."),
    seed: int = typer.Option(2019, "--seed", help="Seed of every random step in the reports."),
    notebook: Path | None = typer.Option(None, "--notebook", help="A report notebook other than the "
                                            "shipped notebooks/annual_report.ipynb (same parameters)."),
) -> None:
    """Build the annual reports: exit 0 all ok, 1 some area failed (listed), 2 bad input or locked output."""
    from .report.batch import run_report_cli

    raise typer.Exit(run_report_cli(year=year, area=area, data=data, out=out, workers=workers, resume=resume,
                                    timeout=timeout, seed=seed, console=console, notebook=notebook))


def _emit_table(table, out: Path | None) -> None:
    """Write a tidy table to ``out`` (CSV or Parquet) or print it."""
    if out is not None:
        from .io import write_table

        write_table(table, out)
        console.print(f"[green]wrote[/] {out}")
    else:
        typer.echo(table.to_string(index=False))


@app.command("trajectories")
def trajectories_cmd(
    data: Path = typer.Argument(..., help="Study folder (ingested store or simulated study)."),
    outcome: str = typer.Option("all", "--outcome", help="Outcome area code, or 'all'."),
    formula: str | None = typer.Option(None, "--formula", help="Fixed effects, e.g. '~ time * service_type'."),
    ml: bool = typer.Option(False, "--ml", help="Maximum likelihood instead of REML."),
    keep_baseline: bool = typer.Option(False, "--keep-baseline", help="With start_score in the formula, keep the "
                                       "baseline reading in the response (default: drop it, ANCOVA form)."),
    out: Path | None = typer.Option(None, "--out", help="Write the tidy table as CSV here (else print it)."),
) -> None:
    """Fit trajectory (linear mixed) models of score on time in support: one tidy table."""
    from .study import load as _load
    from .trajectories import fit_trajectories as _fit

    try:
        study = _load(data)
        codes = "all" if outcome == "all" else [outcome]
        table = _fit(study, codes, formula=formula, reml=not ml, warn=False, keep_baseline=keep_baseline)
    except (FileNotFoundError, KeyError, TypeError, ValueError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    _emit_table(table, out)
    if not table["converged"].all():
        bad = sorted(table.loc[~table["converged"], "outcome"].unique())
        console.print(f"[yellow]not converged:[/] {', '.join(bad)}")
        raise typer.Exit(1)


@app.command("distance")
def distance_cmd(
    data: Path = typer.Argument(..., help="Study folder (ingested store or simulated study)."),
    by: str | None = typer.Option(None, "--by",
                                  help="Comma-separated grouping columns, e.g. 'local_authority,lead_need'."),
    outcome: str | None = typer.Option(None, "--outcome", help="Outcome area code (all areas by default)."),
    compare: str = typer.Option("latest", "--compare", help="latest (first vs latest) or end (closed episodes)."),
    table: str = typer.Option("distance", "--table", help="distance, stages, transitions or completeness."),
    out: Path | None = typer.Option(None, "--out", help="Write the tidy table (CSV or Parquet) here (else print it)."),
) -> None:
    """Distance travelled on the Journey of Change (and stage, transition and completeness tables)."""
    import warnings

    from . import distance as _d
    from .study import load as _load

    cols = [c.strip() for c in by.split(",") if c.strip()] if by else None
    try:
        study = _load(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", _d.SingleReadingWarning)
            if table == "distance":
                result = _d.distance_travelled(study, by=cols, outcome=outcome, compare=compare)
            elif table == "stages":
                result = _d.stage_distribution(study, by=cols, outcome=outcome, compare=compare)
            elif table == "transitions":
                result = _d.transition_matrix(study, by=cols, outcome=outcome)
            elif table == "completeness":
                result = _d.reading_completeness(study, by=cols)
            else:
                raise ValueError(f"--table must be distance, stages, transitions or completeness, not {table!r}")
    except (FileNotFoundError, KeyError, TypeError, ValueError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    for w in caught:
        console.print(f"[yellow]note:[/] {w.message}")
    _emit_table(result, out)


@app.command("transitions")
def transitions_cmd(
    data: Path = typer.Argument(..., help="Study folder (ingested store or simulated study)."),
    outcome: str = typer.Option(..., "--outcome", help="Outcome area code, e.g. managing_money."),
    covariates: str | None = typer.Option(None, "--covariates", help="Comma-separated, e.g. 'service_type,age_band'."),
    absorbing: str | None = typer.Option(None, "--absorbing",
                                         help="Add an absorbing state at the end of support, e.g. left_support."),
    table: str = typer.Option("summary", "--table",
                              help="summary, intensities, hazard-ratios, sojourn, passage or prevalence."),
    out: Path | None = typer.Option(None, "--out", help="Write the table (CSV or Parquet) here (else print it)."),
    plot: Path | None = typer.Option(None, "--plot",
                                     help="Save the transition-probability figure here (PNG, PDF, SVG)."),
) -> None:
    """Multi-state Markov model of the Journey of Change stages (as R's msm) for one outcome area."""
    from .study import load as _load
    from .transitions import fit_transitions as _fit

    cols = [c.strip() for c in covariates.split(",") if c.strip()] if covariates else None
    tables = {"intensities": lambda f: f.intensities, "hazard-ratios": lambda f: f.hazard_ratios,
              "sojourn": lambda f: f.sojourn().reset_index(),
              "passage": lambda f: f.first_passage(5, exclude_absorbing=bool(f.absorbing_)).reset_index(),
              "prevalence": lambda f: f.prevalence()}
    try:
        if table != "summary" and table not in tables:
            raise ValueError(f"--table must be summary or one of {', '.join(tables)}, not {table!r}")
        fit = _fit(_load(data), outcome, covariates=cols, absorbing=absorbing)
    except (FileNotFoundError, KeyError, TypeError, ValueError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    if table == "summary":
        if out is not None:
            out.write_text(fit.summary() + "\n", encoding="utf-8")
            console.print(f"[green]wrote[/] {out}")
        else:
            typer.echo(fit.summary())
    else:
        result = tables[table](fit)
        _emit_table(result, out)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        from .results import figure_of

        figure_of(fit.plot()).savefig(plot, dpi=120)  # plot() returns the panels' Axes
        console.print(f"[green]wrote[/] {plot}")
    if not fit.converged:
        console.print("[yellow]the model did not converge[/]")
        raise typer.Exit(1)


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{what} must be numbers separated by commas, got {text!r}") from None


@app.command("power")
def power_cmd(
    target: str = typer.Option("slope", "--target",
                               help="slope (difference in rate of change), level, hazard-ratio or sustained."),
    effect: float | None = typer.Option(None, "--effect",
                                           help="The effect: a difference (slope, level, sustained) or a hazard "
                                                "ratio. Default: the scenario's illustrative value."),
    people: int = typer.Option(2000, "--people", help="People in the study (both groups)."),
    waves: int = typer.Option(5, "--waves", help="Readings per person."),
    interval: float = typer.Option(1.0, "--interval", help="Years between readings."),
    times: str | None = typer.Option(None, "--times", help="Reading schedule in years, e.g. 0,0.5,1,2 "
                                                              "(overrides --waves/--interval)."),
    dropout: float = typer.Option(0.0, "--dropout", help="Chance of being lost before each reading after the first."),
    weibull: str | None = typer.Option(None, "--weibull", help="Weibull time to dropout 'shape,scale' (years), "
                                                                  "instead of --dropout."),
    allocation: float = typer.Option(0.5, "--allocation", help="Share in the comparison group."),
    authorities: int = typer.Option(1, "--authorities", help="Authorities (clusters) of equal size."),
    cluster_allocation: bool = typer.Option(False, "--cluster-allocation",
                                            help="Whole authorities in one group."),
    authority_sd_slope: float = typer.Option(0.0, "--authority-sd-slope",
                                             help="SD of the rate of change between authorities (trajectories)."),
    authority_sd_intercept: float = typer.Option(0.0, "--authority-sd-intercept",
                                                 help="SD of the level between authorities (trajectories)."),
    authority_frailty_sd: float = typer.Option(0.0, "--authority-frailty-sd",
                                               help="SD of the log frailty multiplying an authority's hazards "
                                                    "(hazard-ratio); the test becomes cluster-robust."),
    authority_icc: float = typer.Option(0.0, "--authority-icc",
                                        help="ICC of the outcome within an authority (sustained); the test "
                                             "becomes cluster-robust."),
    share_reference: float = typer.Option(0.7, "--share-reference",
                                          help="Share sustained at 12 months in the reference group (sustained)."),
    transition: str = typer.Option("3,4", "--transition", help="from,to stage of the hazard ratio (hazard-ratio)."),
    curve: str | None = typer.Option(None, "--curve", help="A power curve instead: people=500,1000,2000 or "
                                                              "waves=3,4,5 or effect=0.05,0.1."),
    mde: bool = typer.Option(False, "--mde", help="The minimum detectable effect at --target-power instead."),
    target_power: float = typer.Option(0.8, "--target-power", help="Power of the minimum detectable effect."),
    effects: str | None = typer.Option(None, "--effects", help="Grid of effects for --mde (hazard-ratio, "
                                                                  "sustained), e.g. 1.1,1.3,1.5,2."),
    n_sims: int = typer.Option(1000, "--n-sims", min=1, help="Simulations."),
    alpha: float = typer.Option(0.05, "--alpha", help="Two-sided significance level."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives the same answer on any number of workers."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the figure (PNG)."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
) -> None:
    """Power of a study design by simulation (trajectories, a hazard ratio, sustained outcomes)."""
    import importlib
    import json as _json

    _p = importlib.import_module("longitudinal.power")  # the module: lg.power is the function

    try:
        design = _p.StudyDesign(
            people=people, waves=waves, interval=interval,
            times=tuple(_floats(times, "--times")) if times else None,
            dropout=_p.WeibullDropout(*_floats(weibull, "--weibull")) if weibull else dropout,
            allocation=allocation, authorities=authorities, cluster_allocation=cluster_allocation)
        kw = {} if effect is None else {"effect": effect}
        if target in ("slope", "level"):
            scenario = _p.TrajectoryScenario(term=target, authority_sd_slope=authority_sd_slope,
                                             authority_sd_intercept=authority_sd_intercept, **kw)
        elif target == "hazard-ratio":
            tr = tuple(int(v) for v in _floats(transition, "--transition"))
            scenario = _p.TransitionScenario(transition=tr, authority_sd=authority_frailty_sd,
                                             **({} if effect is None else {"hazard_ratio": effect}))
        elif target == "sustained":
            scenario = _p.SustainedScenario(share_reference=share_reference, authority_icc=authority_icc, **kw)
        else:
            raise ValueError(f"--target must be slope, level, hazard-ratio or sustained, not {target!r}")
        common = dict(n_sims=n_sims, alpha=alpha, seed=seed, workers=workers)
        if curve:
            over, _, vals = curve.partition("=")
            result = _p.power_curve(scenario, design, over=over.strip(), values=_floats(vals, "--curve"), **common)
            payload = {"over": result.over, "seed": seed, "points": result.table.to_dict(orient="records")}
        elif mde:
            grid = _floats(effects, "--effects") if effects else None
            result = _p.minimum_detectable_effect(scenario, design, target=target_power, effects=grid, **common)
            payload = {"effect": result.effect, "ci_lower": result.ci_lower, "ci_upper": result.ci_upper,
                       "target": target_power, "method": result.method, "n_sims": result.n_sims,
                       "n_failed": result.n_failed, "seed": seed}
        else:
            result = _p.power(scenario, design, **common)
            payload = result.to_dict()
    except (TypeError, ValueError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    if json_out:
        typer.echo(_json.dumps(payload, indent=2, default=str))
    else:
        typer.echo(str(result.summary()))
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        result.plot().figure.savefig(plot, dpi=120)
        console.print(f"[green]wrote[/] {plot}")
    if isinstance(result, _p.PowerResults) and result.n_failed == result.n_sims:
        console.print("[red]every fit failed: no power[/]")
        raise typer.Exit(1)


@app.command("audit")
def audit_cmd(
    folder: Path = typer.Argument(..., help="A year's published output, e.g. reports/2025."),
    out: Path | None = typer.Option(None, "--out",
                                    help="Where to write the findings (default <folder>/audit.json)."),
) -> None:
    """Audit a year's published tables for disclosure: exit 0 passed, 1 a hidden count can be worked out (named),
    2 not a batch's output."""
    from .report.audit import run_audit_cli

    raise typer.Exit(run_audit_cli(folder, out=out, console=console))


@app.command("attrition")
def attrition_cmd(
    data: Path = typer.Argument(..., help="Study folder (ingested store or simulated study)."),
    json_out: bool = typer.Option(False, "--json", help="Print the flow and the 12-month shares as JSON on stdout."),
    m: int = typer.Option(20, "--m", help="Number of imputations."),
    seed: int = typer.Option(0, "--seed", help="Seed of the imputations."),
    exits: Path | None = typer.Option(None, "--exits", help="Linked deaths and moves (person_id, date, reason) "
                                      "as CSV or Parquet."),
    plot: Path | None = typer.Option(None, "--plot", help="Save the flow figure here (PNG, PDF, SVG)."),
    workers: int = typer.Option(1, "--workers", help="Processes for the imputations (same result for any number)."),
) -> None:
    """Follow-up attrition after planned ends: flow, response weights, multiple imputation, tipping point."""
    import json as _json

    from .attrition import follow_up_attrition
    from .errors import InputError

    study = _load_study(data)
    try:
        linked = None
        if exits is not None:
            from .io import read_table

            linked = read_table(exits)
        res = follow_up_attrition(study, m=m, seed=seed, exits=linked, workers=workers)
    except (InputError, FileNotFoundError, OSError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    if json_out:
        typer.echo(_json.dumps(res.to_dict(), indent=2))
    else:
        typer.echo(res.summary())
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        from .results import figure_of

        figure_of(res.plot_flow()).savefig(plot, dpi=120)
        console.print(f"[green]wrote[/] {plot}")


@app.command("effectiveness")
def effectiveness_cmd(
    data: Path = typer.Argument(..., help="Study folder (an ingested store or a simulated study) with service_use."),
    service: str = typer.Option(..., "--service", help="Service, e.g. emergency_admission."),
    design: str = typer.Option("did", "--design", help="event-study, did (staggered, not-yet-supported "
                               "controls) or matched (never-supported pool)."),
    anticipation: int = typer.Option(6, "--anticipation", min=0, help="Crisis months before the start left out "
                                     "of control comparisons."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap (and of the pool's pseudo starts)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object: att, ci_lower, ci_upper, n_treated, "
                                  "n_control, design, event_time."),
    plot: Path | None = typer.Option(None, "--plot", help="Also write the event-time figure (PNG/SVG)."),
) -> None:
    """The effect of support on a public service (events per person per month, months 1-12 after the start)."""
    import json as _json

    from .effectiveness import MissingServiceUseError, effectiveness as _fit

    study = _load_study(data)
    try:
        fit = _fit(study, service, design=design, anticipation=anticipation, seed=seed)
    except (MissingServiceUseError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    if json_out:
        typer.echo(_json.dumps(fit.to_dict()))
    else:
        typer.echo(fit.summary())
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        fit.plot().figure.savefig(plot, dpi=120, bbox_inches="tight")


class _Terminated(Exception):
    pass


def _on_sigterm(signum, frame):
    raise _Terminated()  # unwinds like Ctrl-C, so temporary files are removed on the way out


def crash_log(exc: BaseException, argv: Sequence[str]) -> Path:
    """Write the traceback of an internal error to a log file; returns its path."""
    from . import __version__

    folder = Path(os.environ.get(LOG_DIR_ENV) or Path(os.environ.get("XDG_STATE_HOME") or
                                                      Path.home() / ".local" / "state") / "longitudinal")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = (f"longitudinal {__version__}, {stamp}, python {sys.version.split()[0]}\n"
            f"command: longitudinal {' '.join(argv)}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    for where in (folder, Path(os.environ.get("TMPDIR", "/tmp"))):
        try:
            where.mkdir(parents=True, exist_ok=True)
            path = where / f"longitudinal-crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    raise OSError("no writable folder for the crash log")


def run(argv: Sequence[str]) -> int:
    """Run the command line on ``argv`` and return its exit status (see the module notes)."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if hasattr(signal, "SIGTERM") else None
    try:
        rv = typer.Typer.__call__(app, args=list(argv), prog_name="longitudinal", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except typer.Exit as e:
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        console.print("[red]stopped[/] (Ctrl-C / SIGINT)")
        return 128 + signal.SIGINT
    except _Terminated:
        console.print("[red]stopped[/] (SIGTERM)")
        return 128 + signal.SIGTERM
    except typer.TyperException as e:  # bad usage: said with the usage line
        e.show()
        return e.exit_code
    except LongitudinalError as e:
        console.print(f"[red]error:[/] {e}")
        return EXIT_INPUT
    except (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError) as e:
        console.print(f"[red]error:[/] {e.filename or ''}: {e.strerror or e}")
        return EXIT_INPUT
    except Exception as e:  # noqa: BLE001 - the last resort: a bug, said as such
        try:
            where = f"the traceback is in {crash_log(e, argv)}"
        except OSError:
            where = "no log file could be written"
        console.print(f"[red]internal error[/] ({type(e).__name__}: {str(e)[:200]}): this is a bug in "
                      f"longitudinal, not a problem with your data; {where}. Please report it with that file.")
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main() -> None:  # pragma: no cover
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":  # pragma: no cover
    main()
