"""Shared test fixtures."""

import pandas as pd
import pytest

import longitudinal as lg


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
