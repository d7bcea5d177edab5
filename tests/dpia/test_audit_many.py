"""Several entries of one action in one commit: in order, one fsync, all acknowledged or none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import safeguard.dpia.audit
from safeguard.dpia.audit import AuditError, AuditLog


def _log(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "data" / "audit" / "audit.jsonl")
    log.append("data_team", "run_started", run_id="r1")
    return log


def test_two_entries_of_one_page_view_share_one_fsync_and_keep_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(tmp_path)
    flushes: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        if os.fstat(fd).st_ino == os.stat(log.path).st_ino:
            flushes.append(log.path.read_bytes().count(b"\n"))
        real(fd)

    monkeypatch.setattr(safeguard.dpia.audit, "_fsync", counting)
    subject = "family_key:00000000000000aa"
    entries = log.append_many(
        [
            ("alex", "case_view", subject, {"flag_id": "flag-1"}),
            ("alex", "reidentification", subject, {"flag_id": "flag-1", "people": 3}),
        ]
    )
    assert [e.action for e in entries] == ["case_view", "reidentification"]
    assert [e.seq for e in entries] == [2, 3]
    assert flushes == [3]  # one flush, after both lines were written
    result = log.verify()
    assert result.ok and result.entries == 3


def test_a_failed_commit_acknowledges_none_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(tmp_path)

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(safeguard.dpia.audit, "_fsync", failing)
    with pytest.raises(AuditError, match="could not be written"):
        log.append_many(
            [
                ("alex", "case_view", "family_key:00000000000000aa", {}),
                ("alex", "reidentification", "family_key:00000000000000aa", {}),
            ]
        )


def test_an_invalid_entry_refuses_the_whole_group_before_writing(tmp_path: Path) -> None:
    log = _log(tmp_path)
    before = log.path.read_bytes()
    with pytest.raises(AuditError):
        log.append_many(
            [("alex", "case_view", "family_key:00000000000000aa", {}), ("", "x", None, {})]
        )
    assert log.path.read_bytes() == before
