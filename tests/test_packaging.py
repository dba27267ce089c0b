"""The environment files agree and the package is importable with its CLI."""

import os
import re
import tomllib
from pathlib import Path

import yaml
from typer.testing import CliRunner

import longitudinal as lg
from longitudinal.cli import app

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_NAMES = {"python-duckdb": "duckdb"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in py["dependencies"] + py["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith(("python", "pip")) or dep in ("python-duckdb",):
            name, spec = _split(dep)
            conda[CONDA_NAMES.get(name, name)] = spec
        elif isinstance(dep, str) and dep.startswith("python-"):
            name, spec = _split(dep)
            conda[CONDA_NAMES.get(name, name)] = spec
    assert conda == wanted


def test_every_command_has_help():
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0, top.output
    commands = re.findall(r"^│ (\w[\w-]*)\s", top.output, flags=re.M)
    assert "simulate" in commands
    for name in commands:
        res = runner.invoke(app, [name, "--help"])
        assert res.exit_code == 0, (name, res.output)
        assert "Usage" in res.output


def test_public_api():
    for name in ("simulate", "load", "Study", "domain"):
        assert hasattr(lg, name), name


def test_shipped_resources_resolve_and_are_package_data():
    """The reference files code reads (deflators, proxies, maps, report notebooks) live under the package's
    resources/ (links to data/ and notebooks/ in a checkout), and pyproject's package-data takes every one,
    so an installed wheel has them too."""
    from longitudinal import io, outcome_maps, prices, reports, sroi

    for path in (prices.DEFAULT_DEFLATORS, sroi.DEFAULT_PROXIES, sroi.DEFAULT_MAP, reports.NOTEBOOK,
                 outcome_maps.MAPS_DIR / "supporting_people.yaml"):
        assert path.is_file(), path
        assert io.RESOURCES in path.parents, path
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["longitudinal"]
    pkg = ROOT / "src" / "longitudinal"
    taken = {p for g in globs for p in pkg.glob(g) if p.is_file()}
    shipped = {Path(root) / n for root, _, names in os.walk(io.RESOURCES, followlinks=True) for n in names}
    assert len(shipped) >= 10 and shipped <= taken, sorted(map(str, shipped - taken))


def test_code_is_ruff_clean_and_typed():
    """`make test` runs ruff and mypy; the suite runs ruff too (fast), so a landing cannot skip it."""
    import shutil
    import subprocess
    import sys

    assert (ROOT / "src" / "longitudinal" / "py.typed").is_file()
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        import pytest

        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    res = subprocess.run([ruff, "check", "--no-cache", "src", "tests", "bench"], cwd=ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr
