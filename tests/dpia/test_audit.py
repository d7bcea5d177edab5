"""The audit trail: chained entries, tamper detection naming the first bad entry, concurrency."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest

from dpia.audit import GENESIS_HASH, AuditError, AuditLog, entry_hash

REPO = Path(__file__).resolve().parents[2]


def _log(tmp_path: Path, n: int = 10) -> AuditLog:
    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    for i in range(1, n + 1):
        log.append("worker_17", "case_view", f"family_key:{i:016x}", flags=i)
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text(encoding="utf-8").splitlines(keepends=True)


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(lines), encoding="utf-8")


def _forge(seq: int, prev_hash: str) -> str:
    """A well-formed entry an attacker could compute: the chain is not keyed."""
    body = {
        "seq": seq,
        "timestamp": "2026-01-01T00:00:00.000000+00:00",
        "actor": "intruder",
        "action": "decision",
        "subject": "family_key:0000000000000000",
        "details": {},
        "prev_hash": prev_hash,
    }
    return (
        json.dumps({**body, "hash": entry_hash(body)}, sort_keys=True, separators=(",", ":")) + "\n"
    )


def test_entries_are_chained_and_round_trip(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.head() == (0, GENESIS_HASH)
    assert log.verify().ok and list(log.entries()) == []
    first = log.append("data_team", "run_started", run_id="r1", as_of=date(2026, 3, 31))
    second = log.append(
        "worker_17", "case_view", "family_key:3f9a0c", sources=("police", "housing")
    )
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert second.hash == entry_hash(second.body())
    assert first.details == {"run_id": "r1", "as_of": "2026-03-31"}
    assert second.details == {"sources": ["police", "housing"]}
    assert second.timestamp.endswith("+00:00")
    assert list(log.entries()) == [first, second]
    assert log.head() == (2, second.hash)
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
    result = log.verify(expected_head=log.head())
    assert (result.ok, result.entries, result.first_bad_seq) == (True, 2, None)


def test_query_for_subject_access(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    log.append("worker_17", "decision", "family_key:0000000000000002", outcome="no_further_action")
    about = log.query(subject="family_key:0000000000000002")
    assert [e.action for e in about] == ["case_view", "decision"]
    assert [e.seq for e in log.query(action="decision")] == [4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"actor": "", "action": "login"}, "actor"),
        ({"actor": "w1", "action": "Case View"}, "action"),
        ({"actor": "w1", "action": "case_view", "subject": "Jane Smith"}, "pseudonymous"),
        ({"actor": "w1", "action": "export", "rows": float("nan")}, "finite"),
        ({"actor": "w1", "action": "export", "blob": object()}, "JSON-serialisable"),
    ],
)
def test_invalid_entries_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(AuditError, match=message):
        log.append(**kwargs)
    assert not log.path.exists() or log.path.read_text() == ""


def test_edited_field_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[3] = lines[3].replace('"actor":"worker_17"', '"actor":"worker_99"')
    _write(log, lines)
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 4, 3)
    assert "edited" in result.reason


def test_deleted_middle_entry_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    del lines[4]
    _write(log, lines)
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert "deleted" in result.reason


def test_swapped_entries_are_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    _write(log, lines)
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "reordered" in result.reason


def test_inserted_forgeries_are_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    entries = list(log.entries())
    # A careless forgery (copied line, altered, hash not recomputed) is caught where it stands.
    careless = lines[5].replace('"action":"case_view"', '"action":"decision"')
    _write(log, [*lines[:6], careless.replace('"seq":6', '"seq":7'), *lines[6:]])
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 7)
    # A well-formed forgery linking to entry 6 shows up at the next position: seq 7 twice.
    _write(log, [*lines[:6], _forge(7, entries[5].hash), *lines[6:]])
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 8)
    assert "inserted" in result.reason


def test_replaced_entry_breaks_the_next_link(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines, entries = _lines(log), list(log.entries())
    # A well-formed replacement for entry 5 links to entry 4, but entry 6 still links to the
    # original 5: the chain breaks at 6 (which of the two was altered only an anchor can say).
    _write(log, [*lines[:4], _forge(5, entries[3].hash), *lines[5:]])
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 6)
    assert "does not link to entry 5" in result.reason


def test_rewritten_chain_is_caught_by_the_anchor(tmp_path: Path) -> None:
    log = _log(tmp_path)
    anchor = log.head()
    lines, entries = _lines(log), list(log.entries())
    forged = [_forge(7, entries[5].hash)]
    for seq in range(8, 11):  # the forger recomputes every later entry
        forged.append(_forge(seq, json.loads(forged[-1])["hash"]))
    _write(log, [*lines[:6], *forged])
    assert log.verify().ok  # an unkeyed chain alone cannot see a full rewrite
    result = log.verify(expected_head=anchor)
    assert (result.ok, result.first_bad_seq) == (False, 10)


def test_truncated_tail_is_caught_by_the_anchor(tmp_path: Path) -> None:
    log = _log(tmp_path)
    anchor = log.head()
    _write(log, _lines(log)[:7])
    assert log.verify().ok  # without an anchor a shorter log is still a valid chain
    result = log.verify(expected_head=anchor)
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 8, 7)
    assert "8..10 were removed" in result.reason


def test_torn_last_line_blocks_appends(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    with log.path.open("a", encoding="utf-8") as fh:
        fh.write('{"seq":4,"act')
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 4)
    with pytest.raises(AuditError, match="incomplete"):
        log.append("data_team", "run_started")


def test_concurrent_threads_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    def work(worker: int) -> None:
        log = AuditLog(path)  # separate objects: the file lock, not the object, serialises
        for i in range(25):
            log.append(f"worker_{worker}", "case_view", f"family_key:{worker:08x}{i:08x}")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = AuditLog(path)
    result = log.verify()
    assert (result.ok, result.entries) == (True, 200), result.reason
    assert [e.seq for e in log.entries()] == list(range(1, 201))


def test_concurrent_processes_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dpia.audit import AuditLog\n"
        "log = AuditLog(Path(sys.argv[1]))\n"
        "for i in range(25):\n"
        "    log.append(f'proc_{sys.argv[2]}', 'export', rows=i)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path), str(p)], env=env, cwd=REPO)
        for p in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    log = AuditLog(path)
    result = log.verify()
    assert (result.ok, result.entries) == (True, 100), result.reason
    actors = [e.actor for e in log.entries()]
    assert all(actors.count(f"proc_{p}") == 25 for p in range(4))
