"""Pseudonymisation: keyed, consistent, irreversible without the key, and the key kept out of reach."""

from __future__ import annotations

import hashlib
import hmac
import subprocess

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from longitudinal.pseudonymise import (
    DIGEST_HEX_CHARS,
    KEY_ENV,
    MissingKeyError,
    PseudonymKeyError,
    key_fingerprint,
    pseudonymise,
    pseudonymise_categorical,
    pseudonymise_together,
    resolve_key,
)

KEY = b"a-test-key-that-is-not-secret"


def test_matches_hmac_sha256_reference():
    got = pseudonymise(["P0000001", "Zoë-42"], KEY)
    want = [hmac.new(KEY, v.encode("utf-8"), hashlib.sha256).hexdigest()[:DIGEST_HEX_CHARS]
            for v in ["P0000001", "Zoë-42"]]
    assert got.tolist() == want


def test_key_changes_every_pseudonym_and_missing_stays_missing():
    a = pseudonymise(["x1", "x2", None], KEY)
    b = pseudonymise(["x1", "x2", None], KEY + b"!")
    assert a[2] is None and b[2] is None
    assert not set(a[:2]) & set(b[:2])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60))
def test_categorical_path_equals_elementwise(ids):
    s = pd.Series(ids, dtype="category")
    assert pseudonymise_categorical(s, KEY).astype(object).tolist() == pseudonymise(ids, KEY).tolist()


def test_together_is_consistent_across_tables():
    people = pd.Series(["a", "b", "c"], dtype="category")
    readings = pd.Series(["c", "a", "a", "c"], dtype="category")
    p, r = pseudonymise_together([people, readings], KEY)
    assert r.astype(object).tolist() == pseudonymise(["c", "a", "a", "c"], KEY).tolist()
    assert set(r) <= set(p)


def test_collision_is_refused(monkeypatch):
    import longitudinal.pseudonymise as ps

    monkeypatch.setattr(ps, "DIGEST_HEX_CHARS", 0)  # every pseudonym the same: a forced collision
    with pytest.raises(ValueError, match="two distinct identifiers received the same 64-bit pseudonym"):
        ps.pseudonymise(["a", "b"], KEY)


def test_key_from_env_and_errors(monkeypatch, tmp_path):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(MissingKeyError, match=f"set the environment variable {KEY_ENV} or pass --key-file"):
        resolve_key()
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(PseudonymKeyError, match="is 5 bytes; use at least 16 random bytes"):
        resolve_key()
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert resolve_key() == KEY


def test_key_file_outside_git_only(tmp_path):
    outside = tmp_path / "key"
    outside.write_bytes(KEY + b"\n")
    assert resolve_key(key_file=outside) == KEY  # trailing newline ignored
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    inside = repo / "secrets" / "key"
    inside.parent.mkdir()
    inside.write_bytes(KEY)
    with pytest.raises(PseudonymKeyError, match="is inside the git work tree"):
        resolve_key(key_file=inside)
    with pytest.raises(PseudonymKeyError, match="cannot be read"):
        resolve_key(key_file=tmp_path / "missing")


def test_fingerprint_does_not_reveal_key():
    fp = key_fingerprint(KEY)
    assert len(fp) == DIGEST_HEX_CHARS and KEY.hex() not in fp and fp != key_fingerprint(KEY + b"x")
    assert fp not in hashlib.sha256(KEY).hexdigest()  # not the plain hash of the key either


def test_scale_is_vectorised_over_distinct_values():
    # a million rows with ten thousand people: only the distinct ids are hashed
    rng = np.random.default_rng(0)
    ids = pd.Series(pd.Categorical.from_codes(rng.integers(0, 10_000, 1_000_000),
                                              [f"P{i:07d}" for i in range(10_000)]))
    out = pseudonymise_categorical(ids, KEY)
    assert len(out.cat.categories) == 10_000 and out.cat.codes.equals(ids.cat.codes.astype(out.cat.codes.dtype))
