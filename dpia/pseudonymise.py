"""Keyed pseudonyms (HMAC-SHA256) for every identifier that leaves the identity vault.

A pseudonym is the first 16 hex characters of HMAC-SHA256(key, f"{namespace}\\x1f{value}").
The namespace keeps pseudonyms of different kinds of identifier apart (a record key can never
collide with an address), and the key keeps them unlinkable by anyone who does not hold it.
Pseudonymised data is still personal data: the key must be protected like the vault.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "KEY_ENV_VAR",
    "KEY_FILE_NAME",
    "PSEUDONYM_HEX_CHARS",
    "ROTATION_DIR_NAME",
    "PseudonymKeyError",
    "Pseudonymiser",
    "create_key_file",
    "load_or_create_key",
]

KEY_ENV_VAR = "SAFEGUARD_PSEUDONYM_KEY"
KEY_FILE_NAME = "pseudonym.key"
#: Staging folder of a key rotation (``safeguard.governance.rekey``); while it exists the key is refused.
ROTATION_DIR_NAME = ".key-rotation"
PSEUDONYM_HEX_CHARS = 16
_KEY_BYTES = 32
_MIN_KEY_BYTES = 16
_SHA256_BLOCK = 64
_SEPARATOR = b"\x1f"


class PseudonymKeyError(ValueError):
    """The pseudonymisation key is missing, malformed or too short."""


class Pseudonymiser:
    """Turns identifiers into keyed pseudonyms, deterministically for one key.

    Parameters
    ----------
    key : bytes
        The secret HMAC key (at least 16 bytes; ``load_or_create_key`` makes 32).

    Notes
    -----
    HMAC is computed from precomputed inner and outer SHA-256 states and only once per
    distinct value, which keeps 500k identifiers to well under a second: identifiers repeat a
    lot (one person, many records), so the distinct set is usually much smaller than the column.
    """

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray):
            raise PseudonymKeyError("pseudonymisation key must be bytes")
        if len(key) < _MIN_KEY_BYTES:
            raise PseudonymKeyError(
                f"pseudonymisation key is {len(key)} bytes; at least {_MIN_KEY_BYTES} are needed"
            )
        block = hashlib.sha256(key).digest() if len(key) > _SHA256_BLOCK else bytes(key)
        block = block.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:  # never show key material
        return "Pseudonymiser(<key hidden>)"

    def pseudonym(self, namespace: str, value: str) -> str:
        """Return the pseudonym of one value (same result as :meth:`pseudonymise`)."""
        inner = self._inner.copy()
        inner.update(namespace.encode("utf-8") + _SEPARATOR + value.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[: PSEUDONYM_HEX_CHARS // 2].hex()

    def key_function(self) -> Callable[[str, Sequence[str]], list[str]]:
        """``keys(namespace, values)`` for :mod:`linkage` (person and family keys).

        The same pseudonyms as :meth:`pseudonym`, so that linkage, the pipeline and key
        rotation (:mod:`safeguard.governance.rekey`) derive ``person_key`` and ``family_key`` alike.
        """

        def keys(namespace: str, values: Sequence[str]) -> list[str]:
            return [self.pseudonym(namespace, str(value)) for value in values]

        return keys

    def pseudonymise(self, namespace: str, values: pd.Series) -> pd.Series:
        """Pseudonymise a column of identifiers.

        Parameters
        ----------
        namespace : str
            Kind of identifier (``record``, ``agency_person``, ``address``, ``tenancy``,
            ``incident``, ``objection``); the same value in two namespaces gives two pseudonyms.
        values : pandas.Series
            Identifiers; non-strings are converted with ``str``. Missing values, and strings that
            are empty or only whitespace, stay missing: a shared pseudonym for "no value" would
            falsely link every record that lacks one.

        Returns
        -------
        pandas.Series
            ``string`` dtype, same index and name as ``values``.
        """
        if not namespace or "\x1f" in namespace:
            raise ValueError(f"invalid pseudonym namespace {namespace!r}")
        text = pa.array(values.astype("string").array)
        text = (text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text).cast(
            pa.string()
        )
        blank = pc.equal(pc.utf8_trim_whitespace(text), "")
        text = pc.if_else(blank, pa.scalar(None, pa.string()), text)
        encoded = text.dictionary_encode()
        prefix = namespace.encode("utf-8") + _SEPARATOR
        inner, outer = self._inner, self._outer
        digests = []
        for value in encoded.dictionary.to_pylist():
            i = inner.copy()
            i.update(prefix + value.encode("utf-8"))
            o = outer.copy()
            o.update(i.digest())
            digests.append(o.digest()[: PSEUDONYM_HEX_CHARS // 2].hex())
        pseudonyms = pa.array(digests, pa.string()).take(encoded.indices)
        return pd.Series(pd.array(pseudonyms, dtype="string"), index=values.index, name=values.name)


def load_or_create_key(data_dir: Path, key_hex: str | None = None) -> bytes:
    """Return the pseudonymisation key, creating it on first run.

    Parameters
    ----------
    data_dir : pathlib.Path
        The pipeline's data directory; the key lives at ``data_dir/pseudonym.key``.
    key_hex : str, optional
        The key from the ``pseudonym_key`` setting (``SAFEGUARD_PSEUDONYM_KEY``), passed in by
        the caller (dpia reads no environment: ``safeguard.pipelines.resources.Warehouse`` and the
        command line take it from ``safeguard/settings.py``).

    Returns
    -------
    bytes
        ``key_hex`` (the setting, hex) when given, so that a council can hold the key in a
        secret store; otherwise the key file, created with 32 random bytes and mode 0600
        (created atomically with ``os.open`` so it is never readable by others, not even briefly).

    Raises
    ------
    PseudonymKeyError
        When the environment variable is not hex or either source is shorter than 16 bytes,
        or when a key rotation was interrupted (data and key would not match).
    """
    if (Path(data_dir) / ROTATION_DIR_NAME).exists():
        raise PseudonymKeyError(
            f"a key rotation in {data_dir} did not finish: run `safeguard keys rotate "
            f"--data-dir {data_dir}` to complete it before anything else uses the key"
        )
    from_env = key_hex
    if from_env is not None:
        try:
            key = bytes.fromhex(from_env.strip())
        except ValueError as error:
            raise PseudonymKeyError(
                f"{KEY_ENV_VAR} must be hex (e.g. from `python -c 'import secrets; "
                f"print(secrets.token_hex(32))'`): {error}"
            ) from error
        if len(key) < _MIN_KEY_BYTES:
            raise PseudonymKeyError(
                f"{KEY_ENV_VAR} holds {len(key)} bytes; at least {_MIN_KEY_BYTES} are needed"
            )
        return key
    path = Path(data_dir) / KEY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        create_key_file(path)
    key = path.read_bytes()
    if len(key) < _MIN_KEY_BYTES:
        raise PseudonymKeyError(
            f"{path} holds {len(key)} bytes; at least {_MIN_KEY_BYTES} are needed "
            "(restore it from backup: a new key would change every pseudonym)"
        )
    return key


def create_key_file(path: Path) -> None:
    """Write a new key beside ``path`` with mode 0600, then link it into place atomically.

    Linking (not renaming) fails when another process created the key first, so two runs
    starting together agree on one key and a reader never sees a half-written file.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another run made the key first: theirs wins
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
