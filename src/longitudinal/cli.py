"""The ``longitudinal`` command line: a thin layer over the package.

Exit statuses (all commands): 0 success; 1 the work ran but found a problem
the user must act on (rejected rows, failed report areas, invalid map);
2 bad usage or input that could not be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

app = typer.Typer(
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
) -> None:
    """Write a synthetic study with known ground truth (the four tables and truth.json)."""
    from .simulate import simulate as _simulate

    if format not in ("csv", "parquet"):
        raise typer.BadParameter(f"--format must be csv or parquet, not {format!r}")
    study = _simulate(people=people, years=years, seed=seed, start_year=start_year)
    written = study.write(out, format=format)
    console.print(f"[green]wrote[/] {study!r}")
    for name, path in written.items():
        console.print(f"  {name}: {path}")


@app.command("sroi")
def sroi_cmd(
    impact_map: Path = typer.Argument(..., help="Impact map: .yaml, .csv or .xlsx."),
    data: Optional[Path] = typer.Option(None, "--data", help="Study folder (for indicator quantities, spend inputs, "
                                        "estimated adjustments)."),
    year: Optional[int] = typer.Option(None, "--year", help="One financial year (2025 = 2025-26); all years of "
                                       "the study, cumulatively, when omitted."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
    draws: int = typer.Option(0, "--draws", min=0, help="Monte Carlo draws (0: none)."),
    seed: int = typer.Option(0, "--seed", help="Monte Carlo seed: the same seed gives the same figures."),
    comparison: Optional[Path] = typer.Option(None, "--comparison", help="Comparison-group study folder "
                                              "(deadweight estimated from it)."),
) -> None:
    """Social return on investment of an impact map: PV, NPV, SROI ratio, payback, year by year."""
    import json as _json

    from . import sroi as _sroi
    from .study import load as _load

    try:
        study = _load(data) if data is not None else None
        comp = _load(comparison) if comparison is not None else None
        result = _sroi.evaluate(impact_map, study, year=year, comparison=comp)
        mc = result.monte_carlo(draws=draws, seed=seed) if draws else None
    except FileNotFoundError as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2)
    except (_sroi.ImpactMapError, ValueError) as e:
        console.print(f"[red]invalid impact map:[/] {e}")
        raise typer.Exit(1)
    if json_out:
        out = result.to_dict()
        if mc is not None:
            out["monte_carlo"] = mc.to_dict()
        typer.echo(_json.dumps(out, indent=2, default=str))
    else:
        typer.echo(result.summary())
        if mc is not None:
            typer.echo(mc.summary())


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
