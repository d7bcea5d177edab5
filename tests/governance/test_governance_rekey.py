"""Key rotation: every pseudonym re-keyed consistently, nothing under the old key left behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest
from governance_estate import KEY, PLANTED, TARGET, link_at_past_date
from typer.testing import CliRunner

import safeguard.governance.rekey
from safeguard.cli import app
from safeguard.dpia.audit import AuditLog
from safeguard.dpia.pseudonymise import (
    KEY_FILE_NAME,
    Pseudonymiser,
    PseudonymKeyError,
    load_or_create_key,
)
from safeguard.governance.rekey import PSEUDONYM_COLUMNS, KeyRotationError, rotate_keys
from safeguard.governance.sar import subject_access
from safeguard.portal.records import read_portal_table, read_practitioner_tables
from safeguard.portal.snapshot import current_snapshot, publish_serving_snapshot, serving_dir

DATABASES = (
    "vault.duckdb",
    "warehouse.duckdb",
)  # and the portal's, through safeguard.portal.records


def _query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _pseudonyms(data_dir: Path) -> set[str]:
    """Every value of every pseudonym column in the three databases."""
    values: set[str] = set()
    for frame in read_practitioner_tables(data_dir).values():
        for column in PSEUDONYM_COLUMNS & set(frame.columns):
            values |= set(frame[column].dropna())
    for db in DATABASES:
        for table, column in _query(
            data_dir / db,
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main'",
        ):
            if column in PSEUDONYM_COLUMNS:
                values |= {
                    r[0]
                    for r in _query(data_dir / db, f'SELECT DISTINCT "{column}" FROM "{table}"')
                    if r[0] is not None
                }
    return values


@pytest.fixture()
def keyed_estate(estate_copy: Path) -> Path:
    (estate_copy / KEY_FILE_NAME).write_bytes(KEY)
    os.chmod(estate_copy / KEY_FILE_NAME, 0o600)
    return estate_copy


def test_rotation_re_keys_everything_and_leaves_no_old_pseudonym(keyed_estate: Path) -> None:
    before = _pseudonyms(keyed_estate)
    target = _query(
        keyed_estate / "vault.duckdb",
        f"SELECT record_pseudo, person_key FROM identity_vault WHERE record_key = '{PLANTED.target_records[0][1]}'",
    )[0]
    assert set(target) <= before and len(before) > 500

    report = rotate_keys(keyed_estate, actor="data_team")

    new_key = (keyed_estate / KEY_FILE_NAME).read_bytes()
    assert new_key != KEY and len(new_key) == 32
    after = _pseudonyms(keyed_estate)
    assert not (after & before)  # every pseudonym changed...
    leftovers = []
    for path in keyed_estate.rglob("*"):  # ...and none is left in any file's bytes
        if path.is_file() and path.name not in ("vault.duckdb", "audit.jsonl"):
            data = path.read_bytes()
            leftovers += [f"{path.name}:{v}" for v in before if v.encode() in data]
    assert leftovers == []
    # ...except the vault's mapping for the audit trail's old subjects.
    kept = {
        r[0] for r in _query(keyed_estate / "vault.duckdb", "SELECT old_key FROM key_rotations")
    }
    assert kept and kept <= before and target[1] in kept
    # Recomputable kinds are what the pipeline computes under the new key.
    new = Pseudonymiser(new_key)
    source, key = PLANTED.target_records[0]
    rekeyed = _query(
        keyed_estate / "vault.duckdb",
        f"SELECT record_pseudo, person_key FROM identity_vault WHERE record_key = '{key}'",
    )[0]
    assert rekeyed[0] == new.pseudonym("record", f"{source}:{key}")
    assert report.recomputed["record"] > 200 and report.recomputed["person"] > 100
    assert report.wrapped > 0 and "artefacts/case_packs/W01.html" in report.files


def test_rotation_re_keys_the_records_a_past_as_of_linkage_left_unlinked(
    keyed_estate: Path,
) -> None:
    """A record dated after a past run's as-of date has no person key; its pseudonym still moves."""
    source, key = PLANTED.typo_record
    link_at_past_date(keyed_estate, (PLANTED.typo_record,))
    rotate_keys(keyed_estate, actor="data_team")
    new = Pseudonymiser((keyed_estate / KEY_FILE_NAME).read_bytes())
    vault = keyed_estate / "vault.duckdb"
    row = _query(
        vault,
        f"SELECT record_pseudo, person_key, linked FROM identity_vault WHERE record_key = '{key}'",
    )
    assert row == [(new.pseudonym("record", f"{source}:{key}"), None, False)]
    held = _query(vault, f"SELECT record_pseudo FROM identity_{source} WHERE record_key = '{key}'")
    assert held == [(row[0][0],)]


def test_rotation_keeps_every_reference_consistent(keyed_estate: Path) -> None:
    rotate_keys(keyed_estate, actor="data_team")
    vault, warehouse = keyed_estate / "vault.duckdb", keyed_estate / "warehouse.duckdb"
    vault_people = {r[0] for r in _query(vault, "SELECT person_key FROM identity_vault")}
    linked = {r[0] for r in _query(warehouse, "SELECT person_key FROM record_links")}
    assert linked <= vault_people
    pseudos = {r[0] for r in _query(vault, "SELECT record_pseudo FROM identity_vault")}
    assert {r[0] for r in _query(warehouse, "SELECT record_pseudo FROM events")} <= pseudos
    flags = {r[0] for r in _query(warehouse, "SELECT flag_id FROM flags")}
    judged = set(read_portal_table(keyed_estate, "judgements")["flag_id"])
    assert judged and judged <= flags
    cited = [
        item
        for (text,) in _query(warehouse, "SELECT evidence FROM flag_explanations")
        for item in json.loads(text)
    ]
    assert cited and {i["record_pseudo"] for i in cited} - {None} <= pseudos
    assert {i["person_key"] for i in cited} <= vault_people
    families = {r[0] for r in _query(warehouse, "SELECT family_key FROM families")}
    assert {r[0] for r in _query(warehouse, "SELECT family_key FROM flags")} & families


def test_subject_access_after_rotation_still_finds_old_audit_entries(keyed_estate: Path) -> None:
    rotate_keys(keyed_estate, actor="data_team")
    export = subject_access(keyed_estate, requested_by="ig.officer", **TARGET)  # type: ignore[arg-type]
    assert export.status == "matched"
    audit = export.sections["Audit trail: who did what with your data"]
    assert {e["action"] for e in audit} == {"case_view", "reidentification"}


def test_rotation_refuses_a_key_that_did_not_make_the_data(keyed_estate: Path) -> None:
    (keyed_estate / KEY_FILE_NAME).write_bytes(b"not-the-key-the-data-was-made-with")
    before = (keyed_estate / "warehouse.duckdb").read_bytes()
    with pytest.raises(KeyRotationError, match="not made with the current key"):
        rotate_keys(keyed_estate, actor="data_team")
    assert (keyed_estate / "warehouse.duckdb").read_bytes() == before
    assert (keyed_estate / KEY_FILE_NAME).read_bytes() == b"not-the-key-the-data-was-made-with"


def test_an_interrupted_rotation_blocks_the_key_until_finished(
    keyed_estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    calls = []

    def crash_after_two(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(safeguard.governance.rekey.os, "replace", crash_after_two)
    with pytest.raises(OSError, match="power cut"):
        rotate_keys(keyed_estate, actor="data_team")
    monkeypatch.setattr(safeguard.governance.rekey.os, "replace", real_replace)
    with pytest.raises(PseudonymKeyError, match="did not finish"):
        load_or_create_key(keyed_estate)  # the pipeline will not run on half-re-keyed data
    with pytest.raises(KeyRotationError, match="was finished"):
        rotate_keys(keyed_estate, actor="data_team")
    new_key = load_or_create_key(keyed_estate)
    source, key = PLANTED.target_records[0]
    pseudo = _query(
        keyed_estate / "vault.duckdb",
        f"SELECT record_pseudo FROM identity_vault WHERE record_key = '{key}'",
    )[0][0]
    assert pseudo == Pseudonymiser(new_key).pseudonym("record", f"{source}:{key}")
    assert _query(
        keyed_estate / "warehouse.duckdb",
        f"SELECT count(*) FROM {source}_records WHERE record_pseudo = '{pseudo}'",
    ) == [(1,)]


def test_keys_rotate_command_is_audited(keyed_estate: Path) -> None:
    result = CliRunner().invoke(app, ["keys", "rotate", "--data-dir", str(keyed_estate)])
    assert result.exit_code == 0, result.output
    assert "re-derived under the new key" in result.output
    log = AuditLog(keyed_estate / "audit" / "audit.jsonl")
    entry = log.query(action="keys_rotated")[-1]
    assert entry.details["recomputed"]["record"] > 0 and log.verify().ok
    assert KEY.hex() not in (keyed_estate / "audit" / "audit.jsonl").read_text()


def test_a_key_from_the_settings_needs_the_new_key_passed_in(tmp_path: Path, monkeypatch) -> None:
    # the current key comes from the pseudonym_key setting, passed in by the command line;
    # the environment is not read here (no key file, no variable: nothing to rotate)
    monkeypatch.delenv("SAFEGUARD_PSEUDONYM_KEY", raising=False)
    with pytest.raises(KeyRotationError, match="comes from SAFEGUARD_PSEUDONYM_KEY"):
        rotate_keys(tmp_path, actor="data_team", key_hex="00" * 32)
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KEY", "00" * 32)
    with pytest.raises(KeyRotationError, match="nothing to rotate"):
        rotate_keys(tmp_path, actor="data_team")


def test_rotation_republishes_the_serving_snapshot_under_the_new_key(keyed_estate: Path) -> None:
    publish_serving_snapshot(keyed_estate)
    publish_serving_snapshot(keyed_estate)  # the current one and the previous one on disk

    def served() -> set[str]:
        snapshot = current_snapshot(keyed_estate)
        assert snapshot is not None
        return {r[0] for r in _query(snapshot, "SELECT flag_id FROM flags")}

    before = served()
    rotate_keys(keyed_estate, actor="data_team")
    warehouse = {
        r[0] for r in _query(keyed_estate / "warehouse.duckdb", "SELECT flag_id FROM flags")
    }
    assert served() == warehouse and not served() & before  # the portal matches the warehouse
    assert len(list(serving_dir(keyed_estate).glob("snapshot-*"))) == 1  # none under the old key
