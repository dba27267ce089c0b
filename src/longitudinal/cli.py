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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
