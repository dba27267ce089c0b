"""Shared fixtures: small simulated studies (built once per test process; treat them as read-only)
and the design's seed texts, found at ``../shared/seeds`` beside the project root."""

import os
from pathlib import Path

import pytest

import longitudinal as lg

ROOT = Path(__file__).resolve().parents[1]
# $LONGITUDINAL_SEEDS overrides, e.g. for a git worktree that does not sit beside shared/.
SEEDS = Path(os.environ.get("LONGITUDINAL_SEEDS", ROOT.parent / "shared" / "seeds"))


def _read_seed(name: str) -> str:
    path = SEEDS / name
    if not path.is_file():
        pytest.skip(f"seed text {name} not found in {SEEDS} (../shared/seeds beside the project root, "
                    "or set $LONGITUDINAL_SEEDS)")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_text():
    """``seed_text(name)``: the text of one seed file, or a skip saying where it was looked for."""
    return _read_seed


@pytest.fixture(scope="session")
def small_study() -> lg.Study:
    """300 people, seed 1: enough for tables and a quick fit."""
    return lg.simulate(people=300, seed=1)


@pytest.fixture(scope="session")
def medium_study() -> lg.Study:
    """700 people, seed 11: enough for every outcome area's survival and rating fits."""
    return lg.simulate(people=700, seed=11)
