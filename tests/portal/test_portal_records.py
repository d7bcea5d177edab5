"""Governance reads and purges the portal's records through the configured database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from test_portal_database import _postgres_url

from safeguard.portal import store
from safeguard.portal.records import purge_practitioner_records, read_portal_table
from safeguard.portal.users import portal_cursor

OLD_REASON = "synthetic reason recorded long ago, to be purged"


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def data_dir(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> Path:
    if request.param == "duckdb":  # sqlite: the embedded default, in the data directory
        monkeypatch.setenv("SAFEGUARD_PORTAL_DATABASE_URL", f"duckdb:///{tmp_path / 'p.duckdb'}")
    elif request.param == "postgresql":
        monkeypatch.setenv("SAFEGUARD_PORTAL_DATABASE_URL", _postgres_url())
    return tmp_path / "data"


def _judge(data_dir: Path, when: datetime, reason: str) -> None:
    with portal_cursor(data_dir) as conn:
        store.insert_judgement(
            conn, flag_id=f"flag-{when:%Y%m}", family_key="fam-1", worker_id="W01",
            username="alex", decision="agree_act", reason=reason, decided_at=when,
            model_version="m1",
        )  # fmt: skip


def test_decisions_are_read_and_expired_ones_purged_on_any_backend(data_dir: Path) -> None:
    before = read_portal_table(data_dir, "judgements")  # none yet: no file, or no rows
    assert before is None or before.empty
    _judge(data_dir, datetime(2023, 1, 5), OLD_REASON)
    _judge(data_dir, datetime(2026, 3, 1), "a recent synthetic reason")
    counts = read_portal_table(
        data_dir,
        "judgements",
        sql="SELECT decision, count(*) AS n FROM judgements GROUP BY decision",
    )
    assert counts is not None and counts.to_dict("records") == [{"decision": "agree_act", "n": 2}]
    assert purge_practitioner_records(data_dir, datetime(2024, 1, 1)) == {
        "judgements": 1,
        "allocations": 0,
    }
    left = read_portal_table(data_dir, "judgements")
    assert left is not None and list(left["flag_id"]) == ["flag-202603"]


# Debian's SQLite is built with secure delete on, and the portal turns it on for every build;
# the purge also vacuums. Either alone passes this test here.
def test_a_purge_leaves_no_bytes_of_the_reason_in_an_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.sqlite3"
    monkeypatch.setenv("SAFEGUARD_PORTAL_DATABASE_URL", f"sqlite:///{path}")
    with portal_cursor(tmp_path) as conn:  # enough rows for whole pages to be freed
        for i in range(400):
            store.insert_judgement(
                conn, flag_id=f"flag-old-{i}", family_key="fam-1", worker_id="W01",
                username="alex", decision="agree_act", reason=f"{OLD_REASON} {i:04d}",
                decided_at=datetime(2023, 1, 5), model_version="m1",
            )  # fmt: skip
    _judge(tmp_path, datetime(2026, 3, 1), "a recent synthetic reason")
    held = b"".join(p.read_bytes() for p in tmp_path.glob("p.sqlite3*"))
    assert OLD_REASON.encode() in held
    purge_practitioner_records(tmp_path, datetime(2024, 1, 1))
    held = b"".join(p.read_bytes() for p in tmp_path.glob("p.sqlite3*"))
    assert OLD_REASON.encode() not in held


def test_only_portal_tables_are_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a portal table"):
        read_portal_table(tmp_path, "identity_vault")
    assert read_portal_table(tmp_path / "never-started", "judgements") is None
