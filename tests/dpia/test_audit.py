"""The audit trail: keyed chain, anchors outside the data dir, tamper detection naming the first
bad entry, verification that never crashes, group commit, retention cuts, concurrency."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safeguard.dpia.audit
from safeguard.dpia.audit import (
    GENESIS_HASH,
    AuditConfigError,
    AuditError,
    AuditLog,
    AuditSettings,
    AuditTrailRemoved,
)
from safeguard.dpia.audit_anchor import default_settings
from safeguard.dpia.audit_chain import decode_line, encode_line, entry_hash

REPO = Path(__file__).resolve().parents[2]


def _log(tmp_path: Path, n: int = 10) -> AuditLog:
    log = AuditLog(tmp_path / "data" / "audit" / "audit.jsonl")
    for i in range(1, n + 1):
        log.append("worker_17", "case_view", f"family_key:{i:016x}", flags=i)
    return log


def _lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def _write(log: AuditLog, lines: list[bytes]) -> None:
    log.path.write_bytes(b"".join(lines))


def _forge(seq: int, prev_hash: str, key: bytes = b"attacker-guessed-key-0123456789") -> bytes:
    """A well-formed entry sealed with a key of the attacker's choosing."""
    body = {
        "seq": seq,
        "timestamp": "2026-01-01T00:00:00.000000+00:00",
        "actor": "intruder",
        "action": "decision",
        "subject": "family_key:0000000000000000",
        "details": {},
        "prev_hash": prev_hash,
    }
    return encode_line(body, key)[0]


def _key(log: AuditLog) -> bytes:
    return log.settings.load_key(create=False)


def test_entries_are_chained_keyed_and_round_trip(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.head() == (0, GENESIS_HASH)
    assert log.verify().ok and list(log.entries()) == []
    first = log.append("data_team", "run_started", run_id="r1", as_of=date(2026, 3, 31))
    second = log.append(
        "worker_17", "case_view", "family_key:3f9a0c", sources=("police", "housing")
    )
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    raw = log.path.read_bytes().splitlines()[1]
    assert entry_hash(decode_line(raw)[1], _key(log)) == second.hash
    assert first.details == {"run_id": "r1", "as_of": "2026-03-31"}
    assert second.details == {"sources": ["police", "housing"]}
    assert second.timestamp.endswith("+00:00")
    assert list(log.entries()) == [first, second]
    assert log.head() == (2, second.hash)
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
    result = log.verify()
    assert (result.ok, result.entries, result.first_bad_seq, result.anchored) == (
        True,
        2,
        None,
        True,
    )


def test_anchor_is_written_outside_the_data_dir_by_every_append(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    data_dir = tmp_path / "data"
    assert log.anchor_path.exists() and not log.anchor_path.resolve().is_relative_to(data_dir)
    assert json.loads(log.anchor_path.read_text())["seq"] == 3
    log.append("worker_17", "logout")
    assert json.loads(log.anchor_path.read_text())["seq"] == 4
    assert not list(data_dir.rglob("anchor*"))


def test_key_or_anchors_inside_the_data_dir_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SAFEGUARD_AUDIT_ANCHOR_DIR", str(data_dir / "audit" / "anchors"))
    with pytest.raises(AuditConfigError, match="inside the data directory"):
        AuditLog(data_dir / "audit" / "audit.jsonl")
    monkeypatch.setenv("SAFEGUARD_AUDIT_ANCHOR_DIR", str(tmp_path / "anchors"))
    monkeypatch.setenv("SAFEGUARD_AUDIT_KEY_FILE", str(data_dir / "audit.key"))
    with pytest.raises(AuditConfigError, match="SAFEGUARD_AUDIT_KEY_FILE"):
        AuditLog(data_dir / "audit" / "audit.jsonl")


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


# -- the tamper list: each one is caught, naming where -----------------------------------


def test_edit_is_caught_even_when_the_json_means_the_same(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    edited = [
        *lines[:3],
        lines[3].replace(b'"actor":"worker_17"', b'"actor":"worker_99"'),
        *lines[4:],
    ]
    _write(log, edited)
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 4, 3)
    assert "edited" in result.reason
    # Same parsed JSON, different bytes (a space): the bytes are what is sealed.
    _write(log, [*lines[:3], lines[3].replace(b'"actor":', b'"actor": '), *lines[4:]])
    assert json.loads(_lines(log)[3]) == json.loads(lines[3])
    assert (log.verify().ok, log.verify().first_bad_seq) == (False, 4)


def test_deleted_entry_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    _write(log, [*lines[:4], *lines[5:]])
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 5) and "deleted" in result.reason
    _write(log, lines[1:])  # the first entry
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 1) and "deleted" in result.reason


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    _write(log, lines)
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "reordered" in result.reason


def test_truncation_after_the_last_anchor_is_caught(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _write(log, _lines(log)[:7])
    assert log.verify(require_anchor=False, anchor_file=tmp_path / "none.json").ok
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 8, 7)
    assert "8..10 were removed" in result.reason
    log.path.write_bytes(b"")
    assert not log.verify().ok
    log.path.unlink()
    result = log.verify()
    assert not result.ok and "missing" in result.reason


def test_forged_append_is_caught(tmp_path: Path) -> None:
    log = _log(tmp_path)
    entries = list(log.entries())
    with log.path.open("ab") as fh:
        fh.write(_forge(11, entries[-1].hash))
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 11)
    assert "forged" in result.reason
    # ...and nobody writes on after it: the chain is not extended from a forged entry.
    with pytest.raises(AuditError, match="not sealed"):
        log.append("data_team", "run_started")


def test_inserted_forgery_is_caught_where_it_stands(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines, entries = _lines(log), list(log.entries())
    _write(log, [*lines[:6], _forge(7, entries[5].hash), *lines[6:]])
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 7) and "forged" in result.reason


def test_consistent_rewrite_with_a_new_local_anchor_is_caught(tmp_path: Path) -> None:
    """The old attack: recompute the chain from entry 7 and drop a fresh anchor beside the log."""
    log = _log(tmp_path)
    lines, entries = _lines(log), list(log.entries())
    forged = [_forge(7, entries[5].hash)]
    for seq in range(8, 11):
        forged.append(_forge(seq, decode_line(forged[-1].rstrip(b"\n"))[0].hash))
    _write(log, [*lines[:6], *forged])
    last = decode_line(forged[-1].rstrip(b"\n"))[0]
    (log.path.parent / "anchor.json").write_text(json.dumps({"seq": 10, "hash": last.hash}))
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 7)


def test_rewrite_by_a_key_holder_is_still_caught_by_the_anchor(tmp_path: Path) -> None:
    log = _log(tmp_path)
    key = _key(log)
    lines, entries = _lines(log), list(log.entries())
    forged = [_forge(9, entries[7].hash, key)]
    forged.append(_forge(10, decode_line(forged[-1].rstrip(b"\n"))[0].hash, key))
    _write(log, [*lines[:8], *forged])
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 10) and "rewritten" in result.reason
    # Cutting the tail (a key holder can re-seal anything) is still seen.
    _write(log, lines[:9])
    assert log.verify().first_bad_seq == 10


def test_deleted_anchor_fails_unless_explicitly_allowed(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.anchor_path.unlink()
    result = log.verify()
    assert (
        not result.ok and "no anchor" in result.reason and "--allow-missing-anchor" in result.reason
    )
    assert log.verify(require_anchor=False).ok
    with pytest.raises(AuditError, match="no anchor"):  # and nobody writes on meanwhile
        log.append("data_team", "run_started")


def test_a_writer_never_blesses_a_truncated_trail(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _write(log, _lines(log)[:7])
    with pytest.raises(AuditError, match="does not match its anchor"):
        log.append("worker_17", "case_view", "family_key:0000000000000001")
    assert log.verify().first_bad_seq == 8


def test_forged_anchor_is_reported(tmp_path: Path) -> None:
    log = _log(tmp_path)
    saved = json.loads(log.anchor_path.read_text())
    log.anchor_path.write_text(json.dumps({**saved, "seq": 7}))
    result = log.verify()
    assert not result.ok and "not sealed" in result.reason


@pytest.mark.parametrize(
    "anchor_text",
    ["", "not json", "[]", '{"seq": "x"}', '{"seq": NaN, "hash": 1}', "{" * 100_000, "\udcff"],
)
def test_malformed_anchor_is_a_clear_failure(tmp_path: Path, anchor_text: str) -> None:
    log = _log(tmp_path, 2)
    log.anchor_path.write_bytes(anchor_text.encode("utf-8", "surrogateescape"))
    result = log.verify()
    assert not result.ok and "anchor" in result.reason


@pytest.mark.parametrize(
    "bad_line",
    [
        b"garbage",
        b"\xff\xfe\x00",
        b'{"seq":3,"details":{"rows":NaN},"hash":"' + b"0" * 64 + b'"}',
        b'{"seq":NaN,"hash":"' + b"0" * 64 + b'"}',
        b"[" * 50_000 + b',"hash":"' + b"0" * 64 + b'"}',
        b'{"seq":3,"timestamp":1,"actor":[],"action":{},"subject":2,"details":[],"prev_hash":0,'
        b'"hash":"' + b"0" * 64 + b'"}',
        b"{}",
        b"",
    ],
)
def test_malformed_lines_never_crash_verify(tmp_path: Path, bad_line: bytes) -> None:
    log = _log(tmp_path, 4)
    lines = _lines(log)
    _write(log, [*lines[:2], bad_line + b"\n", *lines[2:]])
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    with pytest.raises(AuditError):
        list(log.entries())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(max_size=300))
def test_any_bytes_verify_without_raising(tmp_path: Path, junk: bytes) -> None:
    log = AuditLog(tmp_path / "fuzz" / "audit" / "audit.jsonl")
    log.path.parent.mkdir(parents=True, exist_ok=True)
    log.path.write_bytes(junk)
    result = log.verify(require_anchor=False)
    assert isinstance(result.ok, bool) and result.reason
    assert not result.ok or junk == b""


def test_torn_last_line_blocks_appends(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    with log.path.open("a", encoding="utf-8") as fh:
        fh.write('{"seq":4,"act')
    assert not log.verify().ok and "incomplete" in log.verify().reason
    with pytest.raises(AuditError, match="incomplete"):
        log.append("data_team", "run_started")


def test_a_moved_data_dir_is_re_anchored_explicitly(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    moved = tmp_path / "moved"
    (tmp_path / "data").rename(moved)
    here = AuditLog(moved / "audit" / "audit.jsonl")
    assert not here.verify().ok
    assert here.adopt(anchor_file=log.anchor_path).ok  # checked against the old anchor
    here.append("data_team", "run_started")
    assert here.verify().ok


# -- group commit ---------------------------------------------------------------------------


def test_concurrent_appends_share_fsyncs_and_return_only_once_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(tmp_path, 1)
    writers = 12
    events: list[tuple[str, int]] = []
    first_flush = threading.Event()
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        if os.fstat(fd).st_ino == os.stat(log.path).st_ino:
            if not first_flush.is_set():
                # Hold the first batch on its way to disk until every other writer has queued.
                queue = safeguard.dpia.audit._committer(log.path).queue
                for _ in range(2000):
                    if len(queue) == writers - 1:
                        break
                    threading.Event().wait(0.005)
                first_flush.set()
            real_fsync(fd)
            events.append(("fsync", log.path.read_bytes().count(b"\n")))
        else:
            real_fsync(fd)

    monkeypatch.setattr(safeguard.dpia.audit, "_fsync", counting_fsync)

    def work(i: int) -> None:
        entry = log.append(f"worker_{i}", "case_view", f"family_key:{i:016x}")
        events.append(("ack", entry.seq))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flushes = [n for kind, n in events if kind == "fsync"]
    assert len(flushes) == 2, events  # 12 appends, two group commits
    for index, (kind, seq) in enumerate(events):
        if kind == "ack":  # acknowledged only after a flush that covered it
            assert any(k == "fsync" and n >= seq for k, n in events[:index]), events
    assert log.verify().ok and log.verify().entries == writers + 1


def test_a_failed_flush_acknowledges_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(tmp_path, 2)

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(safeguard.dpia.audit, "_fsync", failing)
    with pytest.raises(AuditError, match="could not be written"):
        log.append("worker_17", "case_view", "family_key:0000000000000009")


def test_concurrent_threads_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "data" / "audit" / "audit.jsonl"

    def work(worker: int) -> None:
        log = AuditLog(path)  # separate objects share the process's queue and the file lock
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
    path = tmp_path / "data" / "audit" / "audit.jsonl"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from safeguard.dpia.audit import AuditLog\n"
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


# -- retention ------------------------------------------------------------------------------


def _age(log: AuditLog, days: list[int]) -> None:
    """Rewrite the trail (a key holder may) so entry i was written ``days[i]`` days ago."""
    key = _key(log)
    prev = GENESIS_HASH
    out = []
    now = datetime.now(UTC)
    for entry, age in zip(log.entries(), days, strict=True):
        body = {**entry.body(), "prev_hash": prev}
        body["timestamp"] = (now - timedelta(days=age)).isoformat(timespec="microseconds")
        line, prev = encode_line(body, key)
        out.append(line)
    _write(log, out)
    seq = len(out)
    log.settings.write_anchor(log.path, key, safeguard.dpia.audit.Anchor(seq, prev))


def test_retention_cut_keeps_the_trail_verifiable(tmp_path: Path) -> None:
    log = _log(tmp_path, 6)
    _age(log, [900, 800, 700, 10, 5, 1])
    cut = log.cut_before(datetime.now(UTC) - timedelta(days=365))
    assert (cut.removed, cut.first_seq, cut.last_seq) == (3, 1, 3)
    assert [e.seq for e in log.entries()] == [4, 5, 6]
    assert log.verify().ok, log.verify().reason
    log.append("retention_job", "purge", audit_entries_removed=cut.removed)
    assert log.verify().ok and log.head()[0] == 7
    lines = _lines(log)
    _write(log, lines[1:])  # removing more than the sealed cut is still caught
    result = log.verify()
    assert not result.ok and "4..4 were removed" in result.reason
    _write(log, lines)
    assert log.cut_before(datetime.now(UTC) - timedelta(days=365)).removed == 0


def test_a_cut_sealed_before_the_file_was_rewritten_still_verifies(tmp_path: Path) -> None:
    log = _log(tmp_path, 4)
    _age(log, [900, 800, 1, 1])
    original = log.path.read_bytes()
    log.cut_before(datetime.now(UTC) - timedelta(days=365))
    log.path.write_bytes(original)  # as if the process died between the anchor and the rename
    assert log.verify().ok
    assert log.cut_before(datetime.now(UTC) - timedelta(days=365)).removed == 2
    assert log.verify().ok


def test_a_broken_trail_is_never_cut(tmp_path: Path) -> None:
    log = _log(tmp_path, 4)
    lines = _lines(log)
    _write(log, [lines[0], lines[2], lines[1], lines[3]])
    with pytest.raises(AuditError, match="not cut"):
        log.cut_before(datetime.now(UTC) + timedelta(days=1))


def test_a_writer_holding_the_old_file_appends_to_the_new_one(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    _age(log, [900, 1, 1])
    other = AuditLog(log.path, default_settings())
    before = os.stat(log.path).st_ino
    log.cut_before(datetime.now(UTC) - timedelta(days=365))
    assert os.stat(log.path).st_ino != before
    other.append("worker_17", "logout")
    assert [e.seq for e in log.entries()] == [2, 3, 4] and log.verify().ok


# -- a removed trail (the data directory deleted) and an explicit, recorded restart ----------


def test_a_removed_trail_is_refused_until_restarted_on_the_record(tmp_path: Path) -> None:
    import shutil

    log = _log(tmp_path)
    old_seq, old_hash = log.head()
    old_anchor = log.anchor_path.read_bytes()
    shutil.rmtree(tmp_path / "data")  # `make clean`: the anchor outside the data dir remains

    again = AuditLog(tmp_path / "data" / "audit" / "audit.jsonl")
    for attempt in (again.check_writable, lambda: again.append("data_team", "run_started")):
        with pytest.raises(AuditTrailRemoved, match="safeguard audit restart --data-dir"):
            attempt()
    assert not again.verify().ok

    result = again.restart(reason="new estate")
    assert result is not None
    assert (result.retired_seq, result.retired_hash) == (old_seq, old_hash) == (10, old_hash)
    archive = result.archived_anchor
    assert archive.parent == again.anchor_path.parent and archive.read_bytes() == old_anchor
    assert not archive.resolve().is_relative_to((tmp_path / "data").resolve())
    first = next(again.entries())
    assert (first.seq, first.action, first.prev_hash) == (1, "audit_restarted", GENESIS_HASH)
    assert first.details["retired_seq"] == 10 and first.details["retired_hash"] == old_hash
    assert first.details["archived_anchor"] == archive.name
    again.check_writable()
    again.append("data_team", "run_started")
    verified = again.verify()
    assert verified.ok and verified.anchored and verified.entries == 2


@pytest.mark.parametrize("state", ["intact", "cut short", "replaced by another key's trail"])
def test_restart_never_discards_entries(tmp_path: Path, state: str) -> None:
    log = _log(tmp_path)
    if state == "cut short":
        _write(log, _lines(log)[:3])
    elif state == "replaced by another key's trail":
        _write(log, [_forge(1, GENESIS_HASH)])
    with pytest.raises(AuditError, match="has entries"):
        log.restart()
    assert not list(log.anchor_path.parent.glob(f"{log.anchor_path.stem}.retired-*"))
    if state != "intact":  # still caught, as before
        with pytest.raises(AuditError):
            log.append("data_team", "run_started")


def test_an_emptied_trail_is_refused_like_a_removed_one(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _write(log, [])
    with pytest.raises(AuditTrailRemoved):
        log.append("data_team", "run_started")
    assert log.verify().first_bad_seq == 1


def test_nothing_to_restart_without_an_anchor(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "data" / "audit" / "audit.jsonl")
    assert log.restart() is None
    log.check_writable()


def test_a_restart_interrupted_before_its_anchor_is_finished_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    log = _log(tmp_path, n=3)
    retired = log.head()
    shutil.rmtree(tmp_path / "data")
    log = AuditLog(log.path)
    real = AuditSettings.write_anchor

    def crash(self, *args, **kwargs):
        raise OSError("killed before the anchor was written")

    monkeypatch.setattr(AuditSettings, "write_anchor", crash)
    with pytest.raises(OSError):
        log.restart()
    monkeypatch.setattr(AuditSettings, "write_anchor", real)
    with pytest.raises(AuditError):  # the first entry is there, the anchor still the old one
        log.append("data_team", "run_started")
    result = log.restart()
    assert result is not None and (result.retired_seq, result.retired_hash) == retired
    assert log.verify().ok
    log.append("data_team", "run_started")
