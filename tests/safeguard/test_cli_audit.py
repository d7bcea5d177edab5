"""`safeguard audit verify` catches every tampering on the list, and never crashes; after a data
directory was removed, `run` refuses in one line and `audit restart` starts afresh on the record."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safeguard.cli import app
from safeguard.dpia.audit import AuditLog
from safeguard.dpia.audit_chain import decode_line, encode_line

ATTACKER_KEY = b"attacker-guessed-key-0123456789"


def _trail(data_dir: Path, n: int = 8) -> AuditLog:
    log = AuditLog(data_dir / "audit" / "audit.jsonl")
    for i in range(1, n + 1):
        log.append("worker_17", "case_view", f"family_key:{i:016x}", flags=i)
    return log


def _forge(seq: int, prev_hash: str) -> bytes:
    body = {"seq": seq, "timestamp": "2026-01-01T00:00:00.000000+00:00", "actor": "intruder",
            "action": "decision", "subject": None, "details": {}, "prev_hash": prev_hash}  # fmt: skip
    return encode_line(body, ATTACKER_KEY)[0]


def _lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def _edit(log: AuditLog) -> None:
    lines = _lines(log)
    lines[2] = lines[2].replace(b"worker_17", b"worker_99")
    log.path.write_bytes(b"".join(lines))


def _delete(log: AuditLog) -> None:
    lines = _lines(log)
    log.path.write_bytes(b"".join(lines[:3] + lines[4:]))


def _truncate(log: AuditLog) -> None:
    log.path.write_bytes(b"".join(_lines(log)[:-2]))


def _reorder(log: AuditLog) -> None:
    lines = _lines(log)
    lines[4], lines[5] = lines[5], lines[4]
    log.path.write_bytes(b"".join(lines))


def _rewrite_with_local_anchor(log: AuditLog) -> None:
    lines = _lines(log)
    prev = decode_line(lines[3].rstrip(b"\n"))[0].hash
    forged = []
    for seq in range(5, 9):
        forged.append(_forge(seq, prev))
        prev = decode_line(forged[-1].rstrip(b"\n"))[0].hash
    log.path.write_bytes(b"".join(lines[:4] + forged))
    (log.path.parent / "anchor.json").write_text(json.dumps({"seq": 8, "hash": prev}))


def _forged_append(log: AuditLog) -> None:
    with log.path.open("ab") as fh:
        fh.write(_forge(9, log.head()[1]))


def _delete_anchor(log: AuditLog) -> None:
    log.anchor_path.unlink()


def _nan_in_details(log: AuditLog) -> None:
    lines = _lines(log)
    lines[1] = lines[1].replace(b'"flags":2', b'"flags":NaN')
    log.path.write_bytes(b"".join(lines))


def _malformed_anchor(log: AuditLog) -> None:
    log.anchor_path.write_text('{"seq": "eight", "hash": null}')


def _garbage(log: AuditLog) -> None:
    with log.path.open("ab") as fh:
        fh.write(b"\x00\xffnot json at all\n")


TAMPERING: dict[str, Callable[[AuditLog], None]] = {
    "edit": _edit,
    "delete": _delete,
    "truncate after the last anchor": _truncate,
    "reorder": _reorder,
    "consistent rewrite with a new local anchor": _rewrite_with_local_anchor,
    "forged append": _forged_append,
    "deleted anchor": _delete_anchor,
    "NaN in details": _nan_in_details,
    "malformed anchor": _malformed_anchor,
    "garbage line": _garbage,
}


def test_an_untouched_trail_verifies(tmp_path: Path) -> None:
    _trail(tmp_path / "data")
    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output and "anchor matches" in result.output


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_verify_catches_the_tampering(tmp_path: Path, tampering: str) -> None:
    log = _trail(tmp_path / "data")
    TAMPERING[tampering](log)
    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "audit trail broken" in result.output.replace("\n", " ")


def test_missing_anchor_passes_only_when_explicitly_allowed_and_can_be_re_anchored(
    tmp_path: Path,
) -> None:
    log = _trail(tmp_path / "data")
    _delete_anchor(log)
    args = ["audit", "verify", "--data-dir", str(tmp_path / "data")]
    assert CliRunner().invoke(app, args).exit_code == 1
    allowed = CliRunner().invoke(app, [*args, "--allow-missing-anchor"])
    assert allowed.exit_code == 0 and "no anchor was checked" in allowed.output
    assert (
        CliRunner().invoke(app, [*args, "--allow-missing-anchor", "--write-anchor"]).exit_code == 0
    )
    assert CliRunner().invoke(app, args).exit_code == 0


# -- `make clean && make demo`: a removed data directory, then a fresh start on the record ------


def _removed(tmp_path: Path) -> tuple[Path, tuple[int, str]]:
    data = tmp_path / "data"
    head = _trail(data).head()
    shutil.rmtree(data)  # the anchor, kept outside the data dir, remains
    return data, head


def test_run_after_the_data_dir_was_removed_refuses_with_one_line_naming_restart(
    tmp_path: Path,
) -> None:
    data, _ = _removed(tmp_path)
    result = CliRunner().invoke(
        app, ["run", "--landing", str(tmp_path / "landing"), "--data-dir", str(data)]
    )
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("run refused:")
    assert f"safeguard audit restart --data-dir {data}" in lines[0]


def test_audit_restart_archives_the_anchor_and_records_the_retired_trail(tmp_path: Path) -> None:
    data, (seq, head) = _removed(tmp_path)
    log = AuditLog(data / "audit" / "audit.jsonl")
    old_anchor = log.anchor_path.read_bytes()

    result = CliRunner().invoke(app, ["audit", "restart", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "new audit trail started" in result.output and head in result.output.replace("\n", "")
    first = next(log.entries())
    assert first.action == "audit_restarted" and first.details["retired_seq"] == seq == 8
    archived = log.anchor_path.with_name(first.details["archived_anchor"])
    assert archived.read_bytes() == old_anchor
    verify = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(data)])
    assert verify.exit_code == 0, verify.output
    # Once restarted, the trail has an entry: a second restart would discard it and is refused.
    again = CliRunner().invoke(app, ["audit", "restart", "--data-dir", str(data)])
    assert again.exit_code == 2 and "has entries" in again.output.replace("\n", " ")


def test_audit_restart_refuses_a_trail_that_was_cut_short(tmp_path: Path) -> None:
    log = _trail(tmp_path / "data")
    _truncate(log)
    result = CliRunner().invoke(app, ["audit", "restart", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2 and "has entries" in result.output.replace("\n", " ")
    verify = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(tmp_path / "data")])
    assert verify.exit_code == 1  # still caught


def test_demo_starts_a_new_trail_only_where_no_warehouse_is_left(tmp_path: Path) -> None:
    import typer

    from safeguard.cli import _fresh_trail_for_demo

    data, (seq, _) = _removed(tmp_path)
    data.mkdir()
    (data / "warehouse.duckdb").write_bytes(b"")  # a data dir still holding a warehouse
    with pytest.raises(typer.Exit):
        _fresh_trail_for_demo(data)
    shutil.rmtree(data)
    _fresh_trail_for_demo(data)  # a brand-new estate: the restart is automatic and recorded
    assert data.stat().st_mode & 0o777 == 0o700
    first = next(AuditLog(data / "audit" / "audit.jsonl").entries())
    assert first.action == "audit_restarted" and first.details["retired_seq"] == seq
    assert "safeguard demo" in first.details["reason"]
    _fresh_trail_for_demo(data)  # nothing removed now: nothing more happens
    assert len(list(AuditLog(data / "audit" / "audit.jsonl").entries())) == 1
