"""Append-only, keyed and anchored audit trail of who did what (runs, re-identification, case
views, decisions, exports, subject access, purges).

One JSON object per line (format in :mod:`safeguard.dpia.audit_chain`). Each entry carries the keyed
hash (HMAC-SHA256 under the audit key) of the previous entry, and its own keyed hash over the
exact bytes written, so editing, deleting, inserting, reordering or forging any entry breaks
the chain at that point, and only the holder of the key could re-seal a rewrite. After every
batch of entries the writer refreshes the trail's *anchor* (its sealed head) in a directory
outside the data directory (:mod:`safeguard.dpia.audit_anchor`), so cutting entries off the end, or
replacing the file with an older or rewritten copy, is caught even by someone holding the key.

Appends are group-committed: concurrent appends of one process share one write and one
``fsync``, and an append returns only after the batch holding its entry is on disk, so
integrity does not cost the portal its latency and an acknowledged entry is never lost.

Entries hold pseudonymous subjects and aggregate details only: the log is read by reviewers
and exported in subject access requests, so it must not become a second identity store.

A trail whose file is gone while its anchor remains (the data directory was deleted, e.g. by
``make clean``) is refused like any cut-off trail (:class:`AuditTrailRemoved`): nobody may write
on silently. A fresh start is explicit and recorded: :meth:`AuditLog.restart` archives the old
anchor beside it (outside the data directory) and begins the new trail with an
``audit_restarted`` entry naming the retired trail's last sequence number and head hash.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from safeguard.dpia.audit_anchor import (
    ANCHOR_DIR_ENV,
    AUDIT_KEY_ENV,
    AUDIT_KEY_FILE_ENV,
    GENESIS_HASH,
    Anchor,
    AuditConfigError,
    AuditError,
    AuditSettings,
    default_settings,
)
from safeguard.dpia.audit_chain import (
    FIELDS,
    AuditEntry,
    VerifyResult,
    decode_line,
    encode_line,
    entry_hash,
    verify_bytes,
)

__all__ = [
    "ANCHOR_DIR_ENV",
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE_ENV",
    "AUDIT_RELATIVE_PATH",
    "FIELDS",
    "GENESIS_HASH",
    "KNOWN_ACTIONS",
    "Anchor",
    "AuditConfigError",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditSettings",
    "AuditTrailRemoved",
    "CutResult",
    "RestartResult",
    "VerifyResult",
    "entry_hash",
]

AUDIT_RELATIVE_PATH = Path("audit") / "audit.jsonl"

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
        "keys_rotated",
        "audit_restarted",
    }
)
RESTART_ACTION = "audit_restarted"
_ACTION = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_TAIL_CHUNK = 8192


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
    if isinstance(value, dict):
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


def _fsync(fd: int) -> None:
    """Flush a file to disk (one function, so tests can count the group commits)."""
    os.fsync(fd)


def _write_all(fd: int, data: bytes) -> None:
    written = 0
    while written < len(data):  # os.write may write less than asked
        written += os.write(fd, data[written:])


@dataclass(eq=False)
class _Pending:
    """One append waiting for its batch to reach the disk."""

    actor: str
    action: str
    subject: str | None
    details: dict[str, Any]
    entry: AuditEntry | None = None
    error: AuditError | None = None
    done: bool = False


@dataclass(eq=False)
class _Committer:
    """The append queue of one trail file in this process (shared by its AuditLog objects)."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    queue: list[_Pending] = field(default_factory=list)
    busy: bool = False


_COMMITTERS: dict[Path, _Committer] = {}
_COMMITTERS_LOCK = threading.Lock()


def _committer(path: Path) -> _Committer:
    key = path.resolve()
    with _COMMITTERS_LOCK:
        return _COMMITTERS.setdefault(key, _Committer())


def _data_dir_of(log: Path) -> Path:
    """``DIR`` for the conventional ``DIR/audit/audit.jsonl``, else the log's own folder."""
    return log.parent.parent if log.parent.name == "audit" else log.parent


class AuditTrailRemoved(AuditError):
    """The trail file is missing or empty but its anchor records entries (a deleted data dir).

    Writing on would silently drop the old trail's record; restore the file, or start a new
    trail explicitly (:meth:`AuditLog.restart`, ``safeguard audit restart``).
    """


@dataclass(frozen=True)
class RestartResult:
    """A new trail begun over a removed one: what was retired, where its anchor was archived."""

    retired_seq: int
    retired_hash: str
    archived_anchor: Path
    entry: AuditEntry


@dataclass(frozen=True)
class CutResult:
    """What a retention cut removed: entries ``first_seq..last_seq`` (none when ``removed`` is 0)."""

    removed: int
    first_seq: int | None
    last_seq: int | None
    cutoff: datetime


class AuditLog:
    """The audit trail at ``path`` (JSON lines), safe for concurrent writers on one machine.

    Threads of one process queue their entries and one of them writes the whole batch under
    an exclusive ``flock``, ``fsync``\\ s once and refreshes the anchor; other processes take
    the same lock, so the chain stays linear across threads and processes.

    Parameters
    ----------
    path : Path
        The log file, e.g. ``<data-dir>/audit/audit.jsonl``; created (mode 0600) on first append.
    settings : AuditSettings, optional
        Audit key and anchor directory; by default the deployment's
        (:func:`safeguard.dpia.audit_anchor.default_settings`, from the settings model), and
        refused when they lie inside the data directory (the log's grandparent ``DIR``).
    """

    def __init__(self, path: Path, settings: AuditSettings | None = None) -> None:
        self.path = Path(path)
        self.settings = default_settings(_data_dir_of(self.path)) if settings is None else settings

    @property
    def anchor_path(self) -> Path:
        """Where this trail's anchor lives (outside the data directory)."""
        return self.settings.anchor_path(self.path)

    # -- writing ---------------------------------------------------------------------------

    def append(
        self, actor: str, action: str, subject: str | None = None, **details: Any
    ) -> AuditEntry:
        """Record one event and return the written entry once it is on disk.

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
            On an invalid actor/action/subject or non-JSON details; when the trail does not
            match its anchor, its last line is torn or not sealed with the key (the trail
            must be verified and repaired by a person before anyone writes on); or when the
            disk write fails (then the entry is not acknowledged).
        """
        (entry,) = self.append_many([(actor, action, subject, details)])
        return entry

    def append_many(
        self, events: Sequence[tuple[str, str, str | None, dict[str, Any]]]
    ) -> list[AuditEntry]:
        """Record several events in order, in one commit (one fsync); return them once on disk.

        For one action that must leave several entries before it goes on (the portal's family
        page: ``case_view`` then ``reidentification``): either all are acknowledged or, as
        with :meth:`append`, an :class:`AuditError` is raised and none is.

        Parameters
        ----------
        events
            ``(actor, action, subject, details)`` tuples, as :meth:`append` takes them.
        """
        items = []
        for actor, action, subject, details in events:
            _validate(actor, action, subject)
            items.append(_Pending(actor, action, subject, _jsonable(dict(details), "details")))
        committer = _committer(self.path)
        with committer.cond:
            committer.queue.extend(items)  # consecutive: one leader writes them in one batch
            while not all(item.done for item in items):
                if committer.busy:
                    committer.cond.wait()
                    continue
                committer.busy = True  # this thread leads the next batch
                batch, committer.queue = committer.queue, []
                committer.cond.release()
                try:
                    self._commit(batch)
                finally:
                    committer.cond.acquire()
                    committer.busy = False
                    committer.cond.notify_all()
        for item in items:
            if item.error is not None:
                raise item.error
        return [item.entry for item in items if item.entry is not None]

    def _commit(self, batch: list[_Pending]) -> None:
        """Write ``batch`` as one append + fsync + anchor refresh; mark every item done."""
        error: AuditError | None = None
        committed = False
        try:
            key = self.settings.load_key(create=True)
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = self._open_exclusive()
            try:
                anchor = self.settings.read_anchor(self.path, key)
                seq, prev_hash = self._tail(fd, key, anchor)
                self._check_head(seq, prev_hash, anchor, empty=os.fstat(fd).st_size == 0)
                lines = bytearray()
                for item in batch:
                    seq += 1
                    body: dict[str, Any] = {
                        "seq": seq,
                        "timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
                        "actor": item.actor,
                        "action": item.action,
                        "subject": item.subject,
                        "details": item.details,
                        "prev_hash": prev_hash,
                    }
                    line, prev_hash = encode_line(body, key)
                    lines += line
                    item.entry = AuditEntry(**body, hash=prev_hash)
                _write_all(fd, bytes(lines))
                _fsync(fd)
                base = anchor or Anchor(0, GENESIS_HASH)
                self.settings.write_anchor(
                    self.path, key, Anchor(seq, prev_hash, base.base_seq, base.base_hash)
                )
                committed = True
            finally:
                os.close(fd)  # closing releases the flock
        except AuditError as exc:
            error = exc
        except (OSError, ValueError) as exc:
            error = AuditError(f"{self.path}: the audit entry could not be written ({exc})")
            error.__cause__ = exc
        finally:  # nothing is acknowledged unless the whole batch is on disk and anchored
            for item in batch:
                if not committed:
                    item.entry = None
                    item.error = error or AuditError(f"{self.path}: append did not complete")
                item.done = True

    def _open_exclusive(self) -> int:
        """Open the log for appending under an exclusive lock, on the file now at ``path``.

        A retention cut replaces the file; a writer that opened the old one before it was
        replaced must not append to it, so the lock is retaken until it holds the current file.
        """
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _tail(self, fd: int, key: bytes | None, anchor: Anchor | None) -> tuple[int, str]:
        """(seq, hash) of the last line, read backwards; the cut point for an empty file."""
        size = os.fstat(fd).st_size
        if size == 0:
            return (anchor.base_seq, anchor.base_hash) if anchor else (0, GENESIS_HASH)
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
                f"{self.path}: the last line is incomplete; run `safeguard audit verify` before appending"
            )
        last = buffer[:-1].rsplit(b"\n", 1)[-1]
        try:
            entry, body_bytes = decode_line(last)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuditError(f"{self.path}: the last line is not a valid entry ({exc})") from exc
        if key is not None and entry_hash(body_bytes, key) != entry.hash:
            raise AuditError(
                f"{self.path}: the last entry is not sealed with the audit key (edited or "
                "forged); run `safeguard audit verify`"
            )
        return entry.seq, entry.hash

    def _check_head(
        self, seq: int, head_hash: str, anchor: Anchor | None, *, empty: bool = False
    ) -> None:
        """Refuse to write on (and so bless) a trail cut short, replaced or removed since its
        anchor."""
        if anchor is not None and empty and anchor.seq > anchor.base_seq:
            data_dir = _data_dir_of(self.path)
            raise AuditTrailRemoved(
                f"{self.path} is missing or empty but its anchor ({self.anchor_path}) records "
                f"entries up to {anchor.seq}: the data directory or its trail was removed. If "
                f"that was intended, start a new trail with `safeguard audit restart --data-dir "
                f"{data_dir}` (recorded; the old anchor is archived); otherwise restore the "
                "trail from a backup."
            )
        if anchor is None:
            if seq > 0:
                raise AuditError(
                    f"{self.path} has entries but no anchor at {self.anchor_path} (deleted, or the "
                    "data directory was moved or copied). Check it and re-anchor it with "
                    "`safeguard audit verify --allow-missing-anchor --write-anchor`."
                )
            return
        if seq < anchor.seq or (seq == anchor.seq and head_hash != anchor.hash):
            raise AuditError(
                f"{self.path} does not match its anchor (seq {anchor.seq}): it was cut short or "
                "replaced. Run `safeguard audit verify`; nothing is written until it is resolved."
            )

    def check_writable(self) -> None:
        """Raise :class:`AuditError` now if the next append would be refused; writes nothing.

        For entry points, which should refuse with one clear line before any work starts
        rather than fail at their first audit entry. A missing key or anchor with no trail is
        fine (a first run creates them).
        """
        if not self.path.exists() and not self.anchor_path.exists():
            return
        key = self.settings.load_key(create=False)
        anchor = self.settings.read_anchor(self.path, key)
        if not self.path.exists():
            seq, head = (anchor.base_seq, anchor.base_hash) if anchor else (0, GENESIS_HASH)
            self._check_head(seq, head, anchor, empty=True)
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            seq, head = self._tail(fd, key, anchor)
            self._check_head(seq, head, anchor, empty=os.fstat(fd).st_size == 0)
        finally:
            os.close(fd)

    def restart(self, *, actor: str = "data_team", reason: str = "") -> RestartResult | None:
        """Begin a new trail where the old one was removed, explicitly and on the record.

        Only for a trail file that is missing or empty while its anchor remains (a data
        directory deleted on purpose). The old anchor is archived beside it (outside the data
        directory, ``<anchor>.retired-<UTC time>.json``) and the new trail's first entry,
        ``audit_restarted``, names the retired trail's last sequence number and head hash and
        the archive, so the break is visible to every verifier and reviewer.

        Returns
        -------
        RestartResult, or None when there is no anchor (nothing to retire: a trail starts on
        its own).

        Raises
        ------
        AuditError
            When the trail has entries (check it with ``safeguard audit verify``; restart never
            discards entries), or the anchor is not sealed with the audit key.
        """
        _validate(actor, RESTART_ACTION, None)
        key = self.settings.load_key(create=False) if self.anchor_path.exists() else None
        if key is None:
            return None
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = self._open_exclusive()
        try:
            anchor = self.settings.read_anchor(self.path, key)
            if anchor is None:
                return None
            data = os.pread(fd, os.fstat(fd).st_size, 0)
            if data:
                return self._finish_restart(data, key, anchor)
            archived = self._archive_anchor()
            body: dict[str, Any] = {
                "seq": 1,
                "timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
                "actor": actor,
                "action": RESTART_ACTION,
                "subject": None,
                "details": _jsonable(
                    {
                        "retired_seq": anchor.seq,
                        "retired_hash": anchor.hash,
                        "retired_base_seq": anchor.base_seq,
                        "archived_anchor": archived.name,
                        "reason": reason[:500],
                    },
                    "details",
                ),
                "prev_hash": GENESIS_HASH,
            }
            line, head = encode_line(body, key)
            _write_all(fd, line)
            _fsync(fd)
            self.settings.write_anchor(self.path, key, Anchor(1, head))
        finally:
            os.close(fd)
        return RestartResult(anchor.seq, anchor.hash, archived, AuditEntry(**body, hash=head))

    def _archive_anchor(self) -> Path:
        """Copy the anchor to ``<name>.retired-<UTC time>.json`` beside it (write, fsync, rename)."""
        source = self.anchor_path
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = source.with_name(f"{source.stem}.retired-{stamp}.json")
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, source.read_bytes())
            _fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
        return target

    def _finish_restart(self, data: bytes, key: bytes, anchor: Anchor) -> RestartResult:
        """A restart interrupted after its first entry but before its anchor: finish it.

        Anything else in the file means the trail has entries, and restart refuses.
        """
        lines = data.split(b"\n")
        entry = None
        if len(lines) == 2 and lines[1] == b"":
            try:
                entry, body_bytes = decode_line(lines[0])
            except (ValueError, UnicodeDecodeError):
                entry = None
            if entry is not None and (
                entry_hash(body_bytes, key) != entry.hash
                or entry.seq != 1
                or entry.action != RESTART_ACTION
                or entry.details.get("retired_seq") != anchor.seq
                or entry.details.get("retired_hash") != anchor.hash
            ):
                entry = None
        if entry is None:
            raise AuditError(
                f"{self.path} has entries: `safeguard audit restart` is only for a trail that was "
                "removed with its data directory, and never discards entries. Check the trail "
                "with `safeguard audit verify`."
            )
        self.settings.write_anchor(self.path, key, Anchor(1, entry.hash))
        archived = self.anchor_path.with_name(str(entry.details.get("archived_anchor", "")))
        return RestartResult(anchor.seq, anchor.hash, archived, entry)

    # -- reading ---------------------------------------------------------------------------

    def _read_locked(self) -> bytes:
        """The whole file under a shared lock, so a concurrent append is never seen half-written."""
        if not self.path.exists():
            return b""
        with self.path.open("rb") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
            return fh.read()

    def entries(self) -> Iterator[AuditEntry]:
        """All entries in file order; raises :class:`AuditError` on an unreadable line."""
        for number, raw in enumerate(self._read_locked().split(b"\n")[:-1], 1):
            try:
                yield decode_line(raw)[0]
            except (ValueError, UnicodeDecodeError) as exc:
                raise AuditError(f"{self.path} line {number}: not an audit entry ({exc})") from exc

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry, ``(0, GENESIS_HASH)`` when empty."""
        if not self.path.exists():
            return 0, GENESIS_HASH
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return self._tail(fd, None, None)
        finally:
            os.close(fd)

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

    # -- verifying -------------------------------------------------------------------------

    def verify(
        self, *, require_anchor: bool = True, anchor_file: Path | None = None
    ) -> VerifyResult:
        """Check every line's keyed hash, the chain, and the anchor; never raises on bad input.

        Parameters
        ----------
        require_anchor
            Fail when the trail has entries but no anchor (the default). Pass False only to
            inspect a trail whose anchor is known to be lost: a cut-off tail then goes unseen.
        anchor_file
            Check against this anchor file instead of the trail's own (e.g. the anchor of the
            data directory's old location after a move).
        """
        try:
            data = self._read_locked()
        except OSError as exc:
            return VerifyResult(False, 0, None, f"{self.path} cannot be read ({exc})")
        return self._verify_data(data, require_anchor=require_anchor, anchor_file=anchor_file)

    def _verify_data(
        self, data: bytes, *, require_anchor: bool, anchor_file: Path | None
    ) -> VerifyResult:
        if not data and not (anchor_file or self.anchor_path).exists():
            return VerifyResult(True, 0, None, "no entries yet")
        try:
            key = self.settings.load_key(create=False)
            anchor = self.settings.read_anchor(self.path, key, path=anchor_file)
        except AuditConfigError as exc:
            return VerifyResult(False, 0, None, str(exc))
        if anchor is None and data and require_anchor:
            return VerifyResult(
                False,
                0,
                None,
                f"no anchor for {self.path} at {self.anchor_path}: the anchor was deleted or the "
                "data directory moved, so a cut-off tail could not be seen. Use "
                "--allow-missing-anchor to check the chain alone (and --write-anchor to re-anchor).",
            )
        if not data and anchor is not None and anchor.seq > anchor.base_seq:
            return VerifyResult(
                False,
                0,
                anchor.base_seq + 1,
                f"{self.path} is missing or empty: entries {anchor.base_seq + 1}..{anchor.seq} "
                "were removed (its anchor records them)",
                True,
            )
        return verify_bytes(data, key, anchor)

    def adopt(self, *, anchor_file: Path | None = None) -> VerifyResult:
        """Verify the trail (chain alone, or against ``anchor_file``) and, if intact, anchor it.

        For a data directory that was moved or restored from a backup: its anchor is named
        after its path. Raises :class:`AuditError` when the trail does not verify.
        """
        key = self.settings.load_key(create=False)
        fd = self._open_exclusive()
        try:
            data = os.pread(fd, os.fstat(fd).st_size, 0)
            result = self._verify_data(
                data, require_anchor=anchor_file is not None, anchor_file=anchor_file
            )
            if not result.ok:
                raise AuditError(f"{self.path} was not re-anchored: {result.reason}")
            old = self.settings.read_anchor(self.path, key, path=anchor_file)
            seq, head = self._tail(fd, key, old)
            base = old or Anchor(0, GENESIS_HASH)
            self.settings.write_anchor(
                self.path, key, Anchor(seq, head, base.base_seq, base.base_hash)
            )
        finally:
            os.close(fd)
        return self.verify()

    # -- retention -------------------------------------------------------------------------

    def cut_before(self, cutoff: datetime) -> CutResult:
        """Remove the entries written before ``cutoff`` (retention), keeping the trail verifiable.

        The cut point (the last removed entry's seq and hash) is sealed into the anchor
        *before* the file is rewritten, so a crash in between leaves a trail that still
        verifies; the kept lines are copied byte for byte to a new file that replaces the old
        one atomically. A trail that does not verify is never cut.
        """
        cutoff = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=UTC)
        key = self.settings.load_key(create=False)
        fd = self._open_exclusive()
        try:
            anchor = self.settings.read_anchor(self.path, key)
            data = os.pread(fd, os.fstat(fd).st_size, 0)
            result = verify_bytes(data, key, anchor)
            if anchor is None or not result.ok:
                why = result.reason if anchor is not None else "it has no anchor"
                raise AuditError(f"{self.path} was not cut for retention: {why}")
            lines = data.split(b"\n")[:-1]
            entries = [decode_line(raw)[0] for raw in lines]
            old = [e for e in entries if datetime.fromisoformat(e.timestamp) < cutoff]
            if not old:
                return CutResult(0, None, None, cutoff)
            last = old[-1]
            head = entries[-1]
            self.settings.write_anchor(
                self.path, key, Anchor(head.seq, head.hash, last.seq, last.hash)
            )
            kept = b"".join(raw + b"\n" for raw in lines[len(old) :])
            self._replace(kept)
        finally:
            os.close(fd)
        return CutResult(len(old), old[0].seq, last.seq, cutoff)

    def _replace(self, data: bytes) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.cut")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data)
            _fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            _fsync(directory)
        finally:
            os.close(directory)
