"""Pseudonymisation of identifiers with a keyed hash (HMAC-SHA256).

Identifiers that could name a person (``person_id``, and ``episode_id``,
since a provider system's episode number can identify a person too) are
replaced by ``HMAC-SHA256(key, identifier)`` written as the first
:data:`DIGEST_HEX_CHARS` hex characters, before anything is stored. The same
key gives the same pseudonym, so later deliveries link to earlier ones; without
the key a pseudonym cannot be reversed or recomputed from a guessed identifier.

Collision odds: a pseudonym keeps 64 bits. Among *n* distinct identifiers the
chance that any two share a pseudonym is about ``n**2 / 2**65``: about 3 in
100 million for one million identifiers (all of Wales over seven years).
:func:`pseudonymise` checks anyway and raises rather than merge two people.

The key comes from the environment variable :data:`KEY_ENV` or from a key
file kept outside any git work tree (:func:`resolve_key`). The key itself is
never written anywhere; reports carry only :func:`key_fingerprint`.

Examples
--------
>>> from longitudinal.pseudonymise import pseudonymise
>>> pseudonymise(["P0001", "P0002", "P0001"], key=b"an-example-key-not-secret").tolist()
['3fa9d2c0df6087e8', '064b764c7e5bc58b', '3fa9d2c0df6087e8']
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import LongitudinalError

__all__ = [
    "KEY_ENV",
    "DIGEST_HEX_CHARS",
    "MIN_KEY_BYTES",
    "PseudonymKeyError",
    "MissingKeyError",
    "resolve_key",
    "key_fingerprint",
    "pseudonymise",
    "pseudonymise_categorical",
    "pseudonymise_together",
    "PSEUDONYM_FORM",
    "is_pseudonym",
]

#: Environment variable holding the pseudonymisation key.
KEY_ENV = "LONGITUDINAL_PSEUDONYM_KEY"
#: Hex characters kept from the HMAC digest (64 bits).
DIGEST_HEX_CHARS = 16
#: What every pseudonym looks like (so raw ids declared "already pseudonymised" can be told apart).
PSEUDONYM_FORM = re.compile(rf"[0-9a-f]{{{DIGEST_HEX_CHARS}}}")
#: Shortest key accepted: a short key can be guessed by trying every key.
MIN_KEY_BYTES = 16


class PseudonymKeyError(LongitudinalError, ValueError):
    """The pseudonymisation key is unusable (too short, inside a git work tree, unreadable)."""


class MissingKeyError(PseudonymKeyError):
    """No key was given and the data was not declared already pseudonymised."""


def _inside_git_work_tree(path: Path) -> Path | None:
    for parent in [path.parent, *path.parent.parents]:
        if (parent / ".git").exists():
            return parent
    return None


def resolve_key(key: str | bytes | None = None, *, key_file: str | os.PathLike | None = None) -> bytes:
    """The key to use: ``key`` itself, else ``key_file``, else the environment variable.

    Parameters
    ----------
    key : str or bytes, optional
        The key itself.
    key_file : path, optional
        A file holding the key (one trailing newline is ignored). Refused
        when it lies inside a git work tree: a key committed by mistake would
        undo the pseudonymisation of every delivery.

    Raises
    ------
    MissingKeyError
        No key given and ``$LONGITUDINAL_PSEUDONYM_KEY`` unset or empty.
    PseudonymKeyError
        Key shorter than :data:`MIN_KEY_BYTES` bytes, or key file unusable.
    """
    source = "the key argument"
    if key is None and key_file is not None:
        path = Path(key_file).expanduser().resolve()
        repo = _inside_git_work_tree(path)
        if repo is not None:
            raise PseudonymKeyError(
                f"key file {path} is inside the git work tree {repo}; keep the pseudonymisation key "
                "outside any repository (for example in ~/.config/longitudinal/key) so it cannot be committed"
            )
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PseudonymKeyError(f"key file {path} cannot be read: {exc.strerror or exc}") from None
        key = raw[:-1] if raw.endswith(b"\n") else raw
        key = key[:-1] if key.endswith(b"\r") else key
        source = f"key file {path}"
    if key is None:
        key = os.environ.get(KEY_ENV) or None
        source = f"${KEY_ENV}"
    if key is None:
        raise MissingKeyError(
            f"no pseudonymisation key: set the environment variable {KEY_ENV} or pass --key-file PATH "
            "(a file outside the repository), or declare the data already pseudonymised "
            "(--already-pseudonymised) if its person and episode ids are already keyed hashes"
        )
    key_bytes = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(key_bytes) < MIN_KEY_BYTES:
        raise PseudonymKeyError(
            f"the pseudonymisation key from {source} is {len(key_bytes)} bytes; use at least "
            f"{MIN_KEY_BYTES} random bytes (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return key_bytes


def is_pseudonym(values: Iterable) -> np.ndarray:
    """True where a value has the pseudonym form (:data:`PSEUDONYM_FORM`, as :func:`pseudonymise` writes).

    >>> is_pseudonym(["3fa9d2c0df6087e8", "P0000001"]).tolist()
    [True, False]
    """
    return np.array([isinstance(v, str) and PSEUDONYM_FORM.fullmatch(v) is not None for v in values], dtype=bool)


def key_fingerprint(key: bytes) -> str:
    """A short fingerprint that tells keys apart in reports without revealing the key.

    >>> key_fingerprint(b"longitudinal-demo-key-not-secret")
    '307dc8d3694095d8'
    """
    return hashlib.sha256(b"longitudinal key fingerprint v1\x00" + key).hexdigest()[:DIGEST_HEX_CHARS]


def pseudonymise(values: Iterable[str], key: bytes) -> np.ndarray:
    """HMAC-SHA256 pseudonyms (16 hex characters) of identifiers, one per value.

    Hashes each distinct value once. Missing values stay missing (``None``).

    Raises
    ------
    ValueError
        If two distinct identifiers get the same pseudonym (odds in the module notes).
    """
    values = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype="object")
    cat = pd.Categorical(values)
    mapped = _hash_unique(cat.categories, key)
    codes = cat.codes
    out = np.empty(len(codes), dtype=object)
    ok = codes >= 0
    out[ok] = mapped[codes[ok]]
    out[~ok] = None
    return out


def _hash_unique(uniques: Iterable, key: bytes) -> np.ndarray:
    digest = hmac.digest  # one-shot OpenSSL HMAC: several times faster than hmac.new
    n = DIGEST_HEX_CHARS // 2
    out = np.array([digest(key, str(v).encode("utf-8"), "sha256")[:n].hex() for v in uniques], dtype=object)
    if len(pd.unique(out)) != len(out):
        raise ValueError(
            "two distinct identifiers received the same 64-bit pseudonym (odds about n^2/2^65); "
            "report this: the pseudonym length must be increased for this study"
        )
    return out


def pseudonymise_categorical(values: pd.Series, key: bytes) -> pd.Series:
    """Pseudonymise a categorical Series by hashing its categories only (national scale).

    Unused categories are dropped first so the result's categories are exactly
    the pseudonyms present.
    """
    s = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    s = s.cat.remove_unused_categories()
    mapped = _hash_unique(s.cat.categories, key)
    return pd.Series(pd.Categorical.from_codes(s.cat.codes.to_numpy(), categories=pd.Index(mapped)),
                     index=s.index, name=s.name)


def pseudonymise_together(columns: list[pd.Series], key: bytes) -> list[pd.Series]:
    """Pseudonymise several categorical Series of the same identifier, hashing each distinct id once.

    Used for ``person_id`` in people, episodes and readings: the same person gets
    the same pseudonym in every table, and is hashed once.
    """
    cols = [(c if isinstance(c.dtype, pd.CategoricalDtype) else c.astype("category")).cat.remove_unused_categories()
            for c in columns]
    if not cols:
        return []
    union = pd.Index(pd.unique(np.concatenate([np.asarray(c.cat.categories, dtype=object) for c in cols])))
    mapped = pd.Index(_hash_unique(union, key))
    out = []
    for c in cols:
        pos = union.get_indexer(c.cat.categories)
        out.append(pd.Series(pd.Categorical.from_codes(c.cat.codes.to_numpy(), categories=mapped[pos]),
                             index=c.index, name=c.name))
    return out
