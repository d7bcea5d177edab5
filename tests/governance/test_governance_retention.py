"""Retention purge: an expired record is gone from every table and file; counts are audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from governance_estate import EXPIRED_NAME, PLANTED, TODAY, link_at_past_date

from safeguard.dpia.audit import AuditError, AuditLog
from safeguard.governance.retention import months_before, purge_expired
from safeguard.governance.store import list_tables
from safeguard.portal.records import read_portal_table, read_practitioner_tables
from safeguard.portal.snapshot import current_snapshot, publish_serving_snapshot, serving_dir


def _cells(path: Path) -> dict[str, str]:
    """Every table of a database as one text blob (all columns cast to text)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: " ".join(
                str(v) for row in con.execute(f'SELECT * FROM "{t}"').fetchall() for v in row
            )
            for t in list_tables(con)
        }
    finally:
        con.close()


def _everywhere(data_dir: Path, needles: set[str]) -> list[str]:
    """Where any needle still occurs: tables of the three databases and every text file."""
    hits = []
    for db in ("warehouse.duckdb", "vault.duckdb"):
        for table, text in _cells(data_dir / db).items():
            hits += [f"{db}:{table}:{n}" for n in needles if n in text]
    for table, frame in read_practitioner_tables(data_dir).items():
        text = " ".join(str(v) for v in frame.to_numpy().ravel())
        hits += [f"portal:{table}:{n}" for n in needles if n in text]
    for path in data_dir.rglob("*"):
        if path.is_file() and path.suffix not in (".duckdb", ".sqlite"):
            text = path.read_text(encoding="utf-8", errors="replace")
            hits += [f"{path.relative_to(data_dir)}:{n}" for n in needles if n in text]
    return hits


def _count(data_dir: Path, db: str, sql: str) -> int:
    con = duckdb.connect(str(data_dir / db), read_only=True)
    try:
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()


def test_expired_record_is_gone_from_every_table_and_file(estate_copy, estate, register):
    _, pseudo_of = estate
    _, key = PLANTED.expired_record
    needles = {pseudo_of[key], key, EXPIRED_NAME[1]}
    assert (
        len(_everywhere(estate_copy, needles)) >= 8
    )  # planted in records, vault, links, events, evidence, case pack

    report = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")

    assert _everywhere(estate_copy, needles) == []
    assert report.deleted["warehouse.police_records"] == 1
    assert (
        report.deleted["vault.identity_police"] == 1 and report.deleted["vault.identity_vault"] == 1
    )
    assert report.deleted["warehouse.record_links"] == 1 and report.deleted["warehouse.events"] == 1
    assert report.deleted["warehouse.flag_explanations"] == 2  # quotes it + the old flag's reason
    assert "artefacts/case_packs/W01.html" in report.files_removed
    assert report.cutoffs["police_records"] == date(2020, 11, 1)


def test_purge_removes_an_expired_record_a_past_as_of_linkage_left_unlinked(
    estate_copy, estate, register
):
    """A run at a past as-of date leaves later records unlinked; the purge goes by record date."""
    _, pseudo_of = estate
    _, key = PLANTED.expired_record
    link_at_past_date(estate_copy, (PLANTED.expired_record,), as_of=date(2014, 1, 1))
    report = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")
    assert _everywhere(estate_copy, {pseudo_of[key], key, EXPIRED_NAME[1]}) == []
    assert report.deleted["vault.identity_vault"] == 1


def test_purge_keeps_current_records_and_purges_old_flags_quarantine(estate_copy, estate, register):
    _, pseudo_of = estate
    before = _count(estate_copy, "vault.duckdb", "SELECT count(*) FROM identity_vault")
    report = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")
    assert _count(estate_copy, "vault.duckdb", "SELECT count(*) FROM identity_vault") == before - 1
    for _, key in PLANTED.target_records + PLANTED.mother_records:
        assert _everywhere(estate_copy, {pseudo_of[key]})  # still held
    assert (
        _count(
            estate_copy,
            "warehouse.duckdb",
            "SELECT count(*) FROM flags WHERE flag_id = 'flag-old-2023'",
        )
        == 0
    )
    assert (
        _count(
            estate_copy,
            "warehouse.duckdb",
            f"SELECT count(*) FROM flags WHERE flag_id = '{PLANTED.flag_id}'",
        )
        == 1
    )
    judged = read_portal_table(estate_copy, "judgements")
    assert list(judged["flag_id"]) == [PLANTED.flag_id]  # the old one went with its flag
    assert _count(estate_copy, "warehouse.duckdb", "SELECT count(*) FROM quarantine") == 1
    assert report.deleted["warehouse.families"] == 1  # the expired person's membership
    assert report.deleted["warehouse.people"] == 1


def test_purge_is_audit_logged_with_counts_and_idempotent(estate_copy, register):
    report = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")
    log = AuditLog(estate_copy / "audit" / "audit.jsonl")
    entry = log.query(action="purge")[-1]
    assert entry.seq == report.audit_seq and entry.actor == "retention_job"
    assert (
        entry.details["deleted"] == report.deleted
        and entry.details["rows_deleted"] == report.rows_deleted
    )
    assert entry.details["files_removed"] == len(report.files_removed) == 1
    assert EXPIRED_NAME[1] not in (estate_copy / "audit" / "audit.jsonl").read_text()
    again = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")
    assert again.rows_deleted == 0 and again.files_removed == ()
    assert log.verify().ok and len(log.query(action="purge")) == 2


def test_nothing_expires_when_periods_have_not_passed(estate_copy, register):
    report = purge_expired(estate_copy, register, today=date(2021, 1, 1), actor="retention_job")
    assert report.rows_deleted == 0 and report.files_removed == ()


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [(date(2026, 11, 1), 72, date(2020, 11, 1)), (date(2026, 3, 31), 1, date(2026, 2, 28)),
     (date(2024, 3, 31), 1, date(2024, 2, 29)), (date(2026, 1, 15), 13, date(2024, 12, 15))],
)  # fmt: skip
def test_months_before(day, months, expected):
    assert months_before(day, months) == expected


def _bytes_hits(data_dir: Path, needles: set[str]) -> list[str]:
    """``grep -a`` over every file under the data directory (databases, WAL, everything)."""
    hits = []
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path.relative_to(data_dir)}:{n}" for n in needles if n.encode() in data]
    return hits


def test_purged_values_are_not_left_in_the_bytes_of_any_file(estate_copy, register):
    """DELETE + CHECKPOINT left names, keys and judgement text readable in the .duckdb files."""
    needles = {EXPIRED_NAME[0], EXPIRED_NAME[1], PLANTED.expired_record[1], "flag-old-2023",
               "Already known"}  # fmt: skip
    found_before = {hit.split(":")[-1] for hit in _bytes_hits(estate_copy, needles)}
    assert found_before == needles  # the scan sees each value while it is held
    report = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")
    assert _bytes_hits(estate_copy, needles) == []
    assert report.deleted["portal.judgements"] == 1
    assert not list(estate_copy.rglob("*.wal")) and not list(estate_copy.rglob(".*rewrite*"))


def test_purge_report_lists_every_store_touched(estate_copy, register):
    report = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")
    assert set(report.stores) >= {
        "vault.duckdb", "warehouse.duckdb", "portal database", "artefacts/ and reports/",
        "landing", "audit trail", "dagster_home",
    }  # fmt: skip
    assert "rewritten" in report.stores["vault.duckdb"]
    entry = AuditLog(estate_copy / "audit" / "audit.jsonl").query(action="purge")[-1]
    assert entry.details["stores"] == sorted(report.stores)


def test_landing_drops_are_purged_on_the_register_schedule(estate_copy, register, tmp_path):
    landing = tmp_path / "landing"
    for name in ("2026-04-30", "2026-05-01", "2026-10-01", "notes"):
        (landing / name).mkdir(parents=True)
        (landing / name / "police.csv").write_text("involvement_id\nINV1\n")
    report = purge_expired(
        estate_copy, register, today=TODAY, actor="retention_job", landing=landing
    )
    assert register.retention_for("landing_drops").period_months == 6
    assert report.landing_removed == ("2026-04-30",)  # extracted before 1 May 2026
    assert sorted(p.name for p in landing.iterdir()) == ["2026-05-01", "2026-10-01", "notes"]
    entry = AuditLog(estate_copy / "audit" / "audit.jsonl").query(action="purge")[-1]
    assert entry.details["landing_drops_removed"] == 1


def test_audit_trail_is_cut_on_its_schedule_and_still_verifies(estate_copy, register):
    log = AuditLog(estate_copy / "audit" / "audit.jsonl")
    before = [e.seq for e in log.entries()]
    policy = register.retention_for("audit_trail")
    assert policy.period_months == 72 and policy.action == "delete"
    later = months_before(date.today(), -(policy.period_months + 1))  # 73 months from now
    report = purge_expired(estate_copy, register, today=later, actor="retention_job")
    assert report.audit_entries_removed == len(before)
    assert [e.action for e in log.entries()] == ["purge"]
    result = log.verify()
    assert result.ok and result.anchored, result.reason
    assert log.query(action="purge")[-1].details["audit_entries_removed"] == len(before)


def test_purge_does_not_start_when_the_audit_trail_is_broken(estate_copy, register):
    path = estate_copy / "audit" / "audit.jsonl"
    path.write_bytes(path.read_bytes().replace(b"run-1", b"run-2"))
    with pytest.raises(AuditError, match="does not verify"):
        purge_expired(estate_copy, register, today=TODAY, actor="retention_job")
    assert _count(estate_copy, "warehouse.duckdb", "SELECT count(*) FROM flags") == 2


def _served_flags(data_dir: Path) -> set[str]:
    snapshot = current_snapshot(data_dir)
    assert snapshot is not None
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT flag_id FROM flags").fetchall()}


def test_a_purge_republishes_the_serving_snapshot_and_removes_the_older_ones(estate_copy, register):
    publish_serving_snapshot(estate_copy)
    publish_serving_snapshot(estate_copy)  # the current one and the previous one on disk
    folder = serving_dir(estate_copy)
    assert len(list(folder.glob("snapshot-*.duckdb"))) == 2
    assert "flag-old-2023" in _served_flags(estate_copy)

    report = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")

    assert _served_flags(estate_copy) == {PLANTED.flag_id}  # the portal stops serving it now
    assert [p.name for p in folder.glob("snapshot-*")] == [current_snapshot(estate_copy).name]
    assert not [p for p in folder.rglob("*") if p.is_file() and b"flag-old-2023" in p.read_bytes()]
    assert "republished" in report.stores["serving snapshot"]


def test_a_purge_publishes_nothing_where_the_portal_was_never_served(estate_copy, register):
    report = purge_expired(estate_copy, register, today=TODAY, actor="retention_job")
    assert not serving_dir(estate_copy).exists()
    assert report.stores["serving snapshot"].startswith("none published")
