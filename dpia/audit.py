"""Append-only, hash-chained audit trail of who did what (runs, re-identification, case views,
decisions, exports, subject access, purges).

One JSON object per line. Each entry carries the SHA-256 of the previous entry, and its own
hash over a canonical JSON of its other fields, so editing, deleting, inserting or reordering
any entry breaks the chain at that point. Cutting entries off the end leaves a valid chain;
that is caught by comparing with an anchor (``head()``) kept somewhere else.

Entries hold pseudonymous subjects and aggregate details only: the log is read by reviewers
and exported in subject access requests, so it must not become a second identity store.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
FIELDS = ("seq", "timestamp", "actor", "action", "subject", "details", "prev_hash", "hash")

# The actions the pipeline and portal record; others are allowed if they are identifiers.
KNOWN_ACTIONS = frozenset(
    {
        "run_started",
        "run_finished",
        "gate_failed",
        "reidentification",
        "case_view",
        "decision",
        "export",
        "sar",
        "purge",
        "reallocation",
        "login",
        "logout",
        "objection",
    }
)
_ACTION = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_TAIL_CHUNK = 8192


class AuditError(RuntimeError):
    """The audit log cannot be written or read as asked."""


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
    """Outcome of :meth:`AuditLog.verify`.

    ``first_bad_seq`` is the sequence number at which the file stops being a valid chain:
    the edited entry, the position of a deleted, inserted or swapped entry, or the first
    entry missing from the tail when an anchor is given.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str


def _canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry without its ``hash`` field."""
    return hashlib.sha256(_canonical(body)).hexdigest()


def _jsonable(value: Any, where: str) -> Any:
    """Plain JSON types only, so that a verifier re-reading the line gets the same bytes."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise AuditError(f"audit details {where}: {value} is not a finite number")
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path | Enum):
        return str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_jsonable(v, f"{where}[]") for v in items]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item(), where)
    raise AuditError(f"audit details {where}: {type(value).__name__} is not JSON-serialisable")


def _validate(actor: str, action: str, subject: str | None) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise AuditError("audit actor must be a non-empty string (a user id or 'data_team')")
    if not isinstance(action, str) or not _ACTION.match(action):
        raise AuditError(
            f"audit action {action!r} must be a lower-case identifier, e.g. {sorted(KNOWN_ACTIONS)[:4]}"
        )
    if subject is not None and (
        not isinstance(subject, str)
        or not subject
        or len(subject) > 128
        or any(c.isspace() for c in subject)
    ):
        raise AuditError(
            "audit subject must be a pseudonymous key such as 'family_key:3f9a...' "
            "(no spaces, at most 128 characters): names and identifiers never go in the log"
        )


def _parse(line: str) -> AuditEntry:
    data = json.loads(line)
    if not isinstance(data, dict) or tuple(sorted(data)) != tuple(sorted(FIELDS)):
        raise ValueError(
            f"fields {sorted(data) if isinstance(data, dict) else type(data).__name__}"
        )
    if not isinstance(data["seq"], int) or not isinstance(data["details"], dict):
        raise ValueError("seq must be an integer and details an object")
    return AuditEntry(**data)


def _seq_occurs(seq: int, lines: list[bytes]) -> bool:
    for raw in lines:
        try:
            if _parse(raw.decode("utf-8")).seq == seq:
                return True
        except (ValueError, UnicodeDecodeError):
            continue  # judged when verification reaches that line
    return False


class AuditLog:
    """The audit trail at ``path`` (JSON lines), safe for concurrent writers on one machine.

    Writers take an exclusive ``flock`` on their own open file description, read the last
    entry, append one line and ``fsync`` before releasing the lock, so the chain stays linear
    across threads and processes (each append opens the file anew, so threads contend too).

    Parameters
    ----------
    path : Path
        The log file, e.g. ``<data-dir>/audit/audit.jsonl``; created (mode 0600) on first append.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(
        self, actor: str, action: str, subject: str | None = None, **details: Any
    ) -> AuditEntry:
        """Record one event and return the written entry.

        Parameters
        ----------
        actor : str
            Who acted: a user id, or ``data_team`` / ``system`` for pipeline runs.
        action : str
            What happened, e.g. ``case_view``, ``reidentification``, ``purge``.
        subject : str, optional
            Pseudonymous key the event is about (``family_key:...``, ``person_key:...``).
        **details
            Aggregates and references only (counts, run ids, reasons); JSON-serialisable.

        Raises
        ------
        AuditError
            On an invalid actor/action/subject, non-JSON details, or a torn last line
            (the log must be verified and repaired by a person before writing on).
        """
        _validate(actor, action, subject)
        clean = _jsonable(dict(details), "details")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev_hash = self._tail(fd)
            body = {
                "seq": seq + 1,
                "timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": clean,
                "prev_hash": prev_hash,
            }
            entry = AuditEntry(**body, hash=entry_hash(body))
            line = _canonical({**body, "hash": entry.hash}) + b"\n"
            written = 0
            while written < len(line):  # os.write may write less than asked
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the flock
        return entry

    def _tail(self, fd: int) -> tuple[int, str]:
        """(seq, hash) of the last complete line, read backwards from the end of the file."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS_HASH
        buffer = b""
        position = size
        while position > 0:
            step = min(_TAIL_CHUNK, position)
            position -= step
            buffer = os.pread(fd, step, position) + buffer
            if buffer.count(b"\n") >= 2 or position == 0:
                break
        if not buffer.endswith(b"\n"):
            raise AuditError(
                f"{self.path}: the last line is incomplete; run verify before appending"
            )
        last = buffer[:-1].rsplit(b"\n", 1)[-1].decode("utf-8")
        try:
            entry = _parse(last)
        except ValueError as exc:
            raise AuditError(f"{self.path}: the last line is not a valid entry ({exc})") from exc
        return entry.seq, entry.hash

    def entries(self) -> Iterator[AuditEntry]:
        """All entries in file order; raises :class:`AuditError` on an unreadable line."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                try:
                    yield _parse(line)
                except ValueError as exc:
                    raise AuditError(
                        f"{self.path} line {number}: not an audit entry ({exc})"
                    ) from exc

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry, ``(0, GENESIS_HASH)`` when empty: store it elsewhere
        (run metadata, the review pack) so that :meth:`verify` can detect a truncated tail."""
        if not self.path.exists():
            return 0, GENESIS_HASH
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return self._tail(fd)
        finally:
            os.close(fd)

    def _read_locked(self) -> bytes:
        """The whole file under a shared lock, so a concurrent append is never seen half-written."""
        if not self.path.exists():
            return b""
        with self.path.open("rb") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
            return fh.read()

    def query(
        self, *, subject: str | None = None, action: str | None = None, actor: str | None = None
    ) -> list[AuditEntry]:
        """Entries matching every given filter (e.g. all entries about one family for a SAR)."""
        return [
            e
            for e in self.entries()
            if (subject is None or e.subject == subject)
            and (action is None or e.action == action)
            and (actor is None or e.actor == actor)
        ]

    def verify(self, expected_head: tuple[int, str] | None = None) -> VerifyResult:
        """Check the whole chain; with ``expected_head`` also that nothing was cut off the end."""
        lines = self._read_locked().split(b"\n")
        if lines[-1] != b"":
            torn = len(lines)
            return VerifyResult(False, torn - 1, torn, f"line {torn} is incomplete (torn write)")
        lines.pop()
        prev_hash, anchor_hash = GENESIS_HASH, None
        for position, raw in enumerate(lines, 1):
            bad = self._check_line(raw, position, prev_hash, lines)
            if isinstance(bad, str):
                return VerifyResult(False, position - 1, position, bad)
            prev_hash = bad.hash
            if expected_head is not None and position == expected_head[0]:
                anchor_hash = bad.hash
        count = len(lines)
        if expected_head is not None:
            anchor_seq, expected_hash = expected_head
            if count < anchor_seq:
                return VerifyResult(
                    False,
                    count,
                    count + 1,
                    f"log ends at seq {count} but the anchor records seq {anchor_seq}: "
                    f"entries {count + 1}..{anchor_seq} were removed",
                )
            if anchor_seq > 0 and anchor_hash != expected_hash:
                return VerifyResult(
                    False,
                    count,
                    anchor_seq,
                    f"entry {anchor_seq} does not match the anchor hash (log rewritten)",
                )
        return VerifyResult(True, count, None, f"{count} entries, chain intact")

    @staticmethod
    def _check_line(
        raw: bytes, position: int, prev_hash: str, lines: list[bytes]
    ) -> AuditEntry | str:
        """The parsed entry if it extends the chain at ``position``, else the reason it does not."""
        try:
            entry = _parse(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            return f"line {position} is not an audit entry ({exc})"
        if entry.seq > position:
            how = "reordered" if _seq_occurs(position, lines[position:]) else "deleted"
            return f"seq {position} expected but found seq {entry.seq}: an entry was {how}"
        if entry.seq < position:
            return (
                f"seq {entry.seq} appears again at position {position}: "
                "an entry was inserted, duplicated or reordered"
            )
        if entry.prev_hash != prev_hash:
            return f"entry {position} does not link to entry {position - 1} (inserted or replaced)"
        if entry_hash(entry.body()) != entry.hash:
            return f"entry {position} does not match its hash (edited)"
        return entry


def anchor_path(log_path: Path) -> Path:
    """Where the chain's head is kept, beside the log (``anchor.json``)."""
    return log_path.with_name("anchor.json")


def write_anchor(log: AuditLog) -> tuple[int, str]:
    """Record the log's current head outside the log, so a cut tail can be detected later.

    Every writer that appends outside the portal (runs, SARs, purges, user admin) refreshes
    it; entries appended after the anchor are still verified by the chain itself.
    """
    seq, digest = log.head()
    anchor_path(log.path).write_text(json.dumps({"seq": seq, "hash": digest}))
    return seq, digest


def read_anchor(log_path: Path) -> tuple[int, str] | None:
    """The stored head, or None when no anchor was written yet."""
    path = anchor_path(log_path)
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    return int(saved["seq"]), str(saved["hash"])
