"""The audit trail's line format and its verification, as pure functions over the file's bytes.

A line is the canonical JSON of an entry's body (sorted keys, no spaces, no NaN) with
``,"hash":"<64 hex>"`` spliced in before the closing brace, then ``\\n``. The hash is
HMAC-SHA256 under the audit key of exactly the body bytes written, so verification checks
the bytes on disk, never a re-serialisation of parsed JSON: whitespace, key order, escapes
and number spellings are all covered. Each body carries ``prev_hash``, the previous line's
hash, so the lines form a keyed chain that only the key holder can extend or rewrite.

Verification never raises on what it reads: garbage, invalid UTF-8, NaN, duplicated or
missing fields, a torn last line all come back as a failed :class:`VerifyResult` naming the
first bad line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from safeguard.dpia.audit_anchor import GENESIS_HASH, Anchor

__all__ = [
    "FIELDS",
    "AuditEntry",
    "VerifyResult",
    "canonical",
    "decode_line",
    "encode_line",
    "entry_hash",
    "verify_bytes",
]

FIELDS = ("seq", "timestamp", "actor", "action", "subject", "details", "prev_hash", "hash")
_BODY_FIELDS = frozenset(FIELDS) - {"hash"}
_ENTRY_DOMAIN = b"safeguard-audit-entry-v1\x00"
_LINE = re.compile(rb'\A(\{.*),"hash":"([0-9a-f]{64})"\}\Z', re.DOTALL)
_HASH = re.compile(r"\A[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail."""

    seq: int
    timestamp: str
    actor: str
    action: str
    subject: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The fields the hash covers (everything but ``hash``)."""
        data = asdict(self)
        del data["hash"]
        return data


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of verifying a trail.

    ``first_bad_seq`` is the sequence number at which the file stops being a valid chain:
    the edited or forged entry, the position of a deleted, inserted or swapped entry, or
    the first entry missing from the tail. ``entries`` counts the entries read as valid
    before it. ``anchored`` says whether an anchor was checked.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str
    anchored: bool = False


def canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(body_bytes: bytes, key: bytes) -> str:
    """HMAC-SHA256 (hex) of the exact body bytes of a line."""
    return hmac.new(key, _ENTRY_DOMAIN + body_bytes, hashlib.sha256).hexdigest()


def encode_line(body: Mapping[str, Any], key: bytes) -> tuple[bytes, str]:
    """The line to append for ``body`` (with newline) and its hash."""
    body_bytes = canonical(body)
    digest = entry_hash(body_bytes, key)
    return body_bytes[:-1] + b',"hash":"' + digest.encode("ascii") + b'"}\n', digest


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def decode_line(raw: bytes) -> tuple[AuditEntry, bytes]:
    """Parse one line (without its newline) into the entry and the body bytes it seals.

    Raises
    ------
    ValueError
        For anything that is not a well-formed entry (the message says what).
    """
    match = _LINE.match(raw)
    if match is None:
        raise ValueError('not of the form {...,"hash":"<64 hex>"}')
    body_bytes = match.group(1) + b"}"
    try:
        data = json.loads(body_bytes.decode("utf-8"), parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(data, dict) or set(data) != _BODY_FIELDS:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"fields {found}, expected {sorted(_BODY_FIELDS)}")
    problems = [
        name
        for name, ok in (
            ("seq", isinstance(data["seq"], int) and not isinstance(data["seq"], bool)),
            ("timestamp", isinstance(data["timestamp"], str)),
            ("actor", isinstance(data["actor"], str)),
            ("action", isinstance(data["action"], str)),
            ("subject", data["subject"] is None or isinstance(data["subject"], str)),
            ("details", isinstance(data["details"], dict)),
            ("prev_hash", isinstance(data["prev_hash"], str) and _HASH.match(data["prev_hash"])),
        )
        if not ok
    ]
    if problems:
        raise ValueError(f"field(s) {problems} have the wrong type")
    return AuditEntry(**data, hash=match.group(2).decode("ascii")), body_bytes


def _decode_seq(raw: bytes) -> int | None:
    try:
        return decode_line(raw)[0].seq
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class _Walk:
    """Position in the chain while verifying."""

    expected_seq: int
    prev_hash: str
    count: int = 0
    hash_at_anchor: str | None = None
    hash_at_base: str | None = None


def _start(first: bytes | None, anchor: Anchor | None) -> _Walk | str:
    """Where the chain must begin: at genesis, or just after a sealed retention cut."""
    if anchor is None or anchor.base_seq == 0:
        return _Walk(1, GENESIS_HASH)
    seq = _decode_seq(first) if first is not None else None
    if seq is None or seq == anchor.base_seq + 1:
        return _Walk(anchor.base_seq + 1, anchor.base_hash)
    if seq == 1:  # the cut was sealed but the old entries not yet removed: check them too
        return _Walk(1, GENESIS_HASH)
    return (
        f"the log starts at seq {seq} but the anchor's retention cut is at seq "
        f"{anchor.base_seq}: entries {anchor.base_seq + 1}..{seq - 1} were removed"
    )


def _check(raw: bytes, walk: _Walk, key: bytes, rest: list[bytes]) -> AuditEntry | str:
    """The entry if ``raw`` extends the chain at ``walk``, else why not."""
    position = walk.expected_seq
    try:
        entry, body_bytes = decode_line(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"entry {position} is not a well-formed audit line ({exc})"
    if not hmac.compare_digest(entry_hash(body_bytes, key), entry.hash):
        return f"entry {position} does not match its keyed hash (edited or forged)"
    if entry.seq > position:
        later = {_decode_seq(line) for line in rest}
        how = "reordered" if position in later else "deleted"
        return f"seq {position} expected but found seq {entry.seq}: an entry was {how}"
    if entry.seq < position:
        return (
            f"seq {entry.seq} appears again at position {position}: "
            "an entry was inserted, duplicated or reordered"
        )
    if entry.prev_hash != walk.prev_hash:
        return f"entry {position} does not link to entry {position - 1} (inserted or replaced)"
    return entry


def verify_bytes(data: bytes, key: bytes, anchor: Anchor | None) -> VerifyResult:
    """Verify a whole trail file's bytes against the key and, when given, its anchor."""
    lines = data.split(b"\n")
    anchored = anchor is not None
    if lines[-1] != b"":
        n = len(lines)
        return VerifyResult(False, n - 1, None, f"line {n} is incomplete (torn write)", anchored)
    lines.pop()
    walk = _start(lines[0] if lines else None, anchor)
    if isinstance(walk, str):
        return VerifyResult(False, 0, None, walk, anchored)
    for index, raw in enumerate(lines):
        checked = _check(raw, walk, key, lines[index + 1 :])
        if isinstance(checked, str):
            return VerifyResult(False, walk.count, walk.expected_seq, checked, anchored)
        walk.count += 1
        if anchor is not None and checked.seq == anchor.seq:
            walk.hash_at_anchor = checked.hash
        if anchor is not None and checked.seq == anchor.base_seq:
            walk.hash_at_base = checked.hash
        walk.prev_hash, walk.expected_seq = checked.hash, checked.seq + 1
    last = walk.expected_seq - 1
    if anchor is None:
        return VerifyResult(
            True, walk.count, None, f"{walk.count} entries, chain intact (no anchor)"
        )
    return _against_anchor(walk, last, anchor)


def _against_anchor(walk: _Walk, last: int, anchor: Anchor) -> VerifyResult:
    if last < anchor.seq:
        return VerifyResult(
            False,
            walk.count,
            last + 1,
            f"log ends at seq {last} but the anchor records seq {anchor.seq}: "
            f"entries {last + 1}..{anchor.seq} were removed",
            True,
        )
    # The anchored entry itself, or the cut point when every anchored entry was cut (the first
    # kept entry was already checked to link to it).
    at_anchor = walk.hash_at_anchor if anchor.seq > anchor.base_seq else anchor.base_hash
    if at_anchor != anchor.hash:
        return VerifyResult(
            False,
            walk.count,
            anchor.seq,
            f"entry {anchor.seq} does not match the anchor's hash (log rewritten)",
            True,
        )
    if walk.hash_at_base is not None and walk.hash_at_base != anchor.base_hash:
        return VerifyResult(
            False,
            walk.count,
            anchor.base_seq,
            f"entry {anchor.base_seq} does not match the anchor's retention cut (log rewritten)",
            True,
        )
    after = last - anchor.seq
    note = f"; {after} entries after the anchor, sealed by the key" if after else ""
    return VerifyResult(
        True, walk.count, None, f"{walk.count} entries, chain intact, anchor matches{note}", True
    )
