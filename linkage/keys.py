"""Opaque keys for people and families: always keyed, never a bare hash of identifiers.

A person's key is derived from their cluster's smallest ``(source, record_key)``, a family's
from its anchor child's person key. Agency record keys follow guessable patterns (``SC-000123``),
so an unkeyed hash of them is reversed by anyone holding the keys table and a guess at the
numbering. The library therefore takes the function that makes keys from the caller, who
holds the secret: :func:`keyed` builds one with HMAC-SHA256, and any callable with the same
shape (for example a secret-store client) will do.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

__all__ = ["KEY_HEX_CHARS", "KeyFunction", "keyed"]

#: ``keys(namespace, values) -> opaque keys``, one per value, deterministic for one secret.
KeyFunction = Callable[[str, Sequence[str]], Sequence[str]]
KEY_HEX_CHARS = 16
_MIN_SECRET_BYTES = 16


def keyed(secret: bytes) -> KeyFunction:
    """Keys = first 16 hex characters of HMAC-SHA256(secret, ``namespace \\x1f value``).

    Parameters
    ----------
    secret
        At least 16 bytes, kept away from the data the keys appear in. Rotating it changes
        every key (a person or family is then unlinkable to their old key without the
        mapping).
    """
    if not isinstance(secret, bytes | bytearray) or len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"the key secret must be at least {_MIN_SECRET_BYTES} bytes")
    base = hmac.new(bytes(secret), digestmod=hashlib.sha256)

    def keys(namespace: str, values: Sequence[str]) -> list[str]:
        out = []
        for value in values:
            mac = base.copy()
            mac.update(f"{namespace}\x1f{value}".encode())
            out.append(mac.hexdigest()[:KEY_HEX_CHARS])
        return out

    return keys


def make_keys(keys: KeyFunction, namespace: str, values: Sequence[str]) -> list[str]:
    """Call ``keys`` and check it kept its contract (one key string per value)."""
    made = list(keys(namespace, list(values)))
    if len(made) != len(values) or not all(isinstance(k, str) and k for k in made):
        raise ValueError(
            f"the key function returned {len(made)} keys for {len(values)} {namespace} values; "
            "it must return one non-empty string per value"
        )
    return made
