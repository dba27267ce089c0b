"""Shared fixtures: small simulated studies (built once per test process; treat them as read-only),
the design's seed texts, found at ``../shared/seeds`` beside the project root, and studies as the
text a provider would supply."""

import os
from pathlib import Path

import pandas as pd
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


def provider_text(study) -> dict[str, pd.DataFrame]:
    """A study's tables as the text a provider would supply (every column a string, blank = '')."""
    out = {}
    for name, df in study.tables().items():
        d = df.copy()
        for c in d.columns:
            if pd.api.types.is_datetime64_any_dtype(d[c]):
                d[c] = d[c].dt.strftime("%Y-%m-%d")
            d[c] = d[c].astype(object).where(d[c].notna(), "").astype(str)
        out[name] = d.reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def base() -> dict[str, pd.DataFrame]:
    """A valid 40-person study as provider text."""
    return provider_text(lg.simulate(people=40, seed=5))


@pytest.fixture(scope="session")
def as_text():
    """:func:`provider_text`, for tests that build their own study."""
    return provider_text
