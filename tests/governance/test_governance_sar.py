"""Subject access through the linkage, third-party redaction, audit, and objection matching."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from governance_estate import (
    EXPIRED_NAME,
    MOTHER_NAME,
    OBJECTOR,
    PLANTED,
    TARGET,
    TWIN_WITH_RECORDS,
    TWIN_WITHOUT_RECORDS,
    link_at_past_date,
)
from typer.testing import CliRunner

from safeguard.cli import app
from safeguard.dpia.audit import AuditLog
from safeguard.governance.matching import (
    LinkageIncomplete,
    MatchingUnavailable,
    MatchInputError,
    match_objections,
    match_people,
)
from safeguard.governance.sar import REDACTED, subject_access, write_sar
from safeguard.governance.sar_collect import FREE_TEXT_WITHHELD


def _vault(data_dir: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "vault.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _target_sar(data_dir: Path, **overrides: object):
    request = {**TARGET, "requested_by": "ig.officer", **overrides}
    return subject_access(data_dir, **request)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def target_export(estate, tmp_path_factory):
    """One SAR for the target child, on a private copy (the SAR writes to the audit trail)."""
    import shutil

    data_dir = tmp_path_factory.mktemp("sar") / "data"
    shutil.copytree(estate[0], data_dir)
    AuditLog(data_dir / "audit" / "audit.jsonl").adopt()  # a copied trail is re-anchored
    return data_dir, _target_sar(data_dir)


def test_sar_finds_a_record_reachable_only_through_fuzzy_linkage(target_export):
    data_dir, export = target_export
    source, typo_key = PLANTED.typo_record
    exact = _vault(
        data_dir,
        "SELECT record_key FROM identity_vault WHERE lower(first_name) = ? AND lower(last_name) = ?",
        [TARGET["first_name"].lower(), TARGET["last_name"].lower()],
    )
    assert typo_key not in {r[0] for r in exact}  # an exact search would miss it
    assert export.status == "matched"
    identities = export.sections["Identity vault: identity_vault"]
    assert {r["record_key"] for r in identities} == {k for _, k in PLANTED.target_records}
    typo = next(r for r in identities if r["record_key"] == typo_key)
    assert typo["last_name"] == "Quilfeather" and typo["source"] == source
    records = export.sections[f"Warehouse: {source}_records"]
    assert [r["record_pseudo"] for r in records] == [typo["record_pseudo"]]


def test_sar_exports_everything_derived_about_the_family(target_export):
    _, export = target_export
    titles = set(export.sections)
    for expected in ("Warehouse: record_links", "Warehouse: events", "Warehouse: families",
                     "Warehouse: family_features", "Warehouse: family_scores", "Warehouse: flags",
                     "Warehouse: flag_explanations", "Warehouse: caseloads",
                     "Practitioners' records: judgements",
                     "Audit trail: who did what with your data"):  # fmt: skip
        assert expected in titles, expected
    assert [r["flag_id"] for r in export.sections["Warehouse: flags"]] == [PLANTED.flag_id]
    features = export.sections["Warehouse: family_features"]
    assert [r["police_da_incidents_6m"] for r in features] == [3]  # the family's, kept
    judgement = export.sections["Practitioners' records: judgements"][0]
    assert judgement["decision"] == "agree_act" and "username" not in judgement
    audit = export.sections["Audit trail: who did what with your data"]
    assert {e["action"] for e in audit} == {"case_view", "reidentification"}
    assert "Warehouse: quarantine" not in titles  # no person key: not about them


def test_sar_redacts_third_parties_in_the_same_family(target_export):
    data_dir, export = target_export
    mother_keys = {k for _, k in PLANTED.mother_records}
    mother = _vault(
        data_dir,
        "SELECT record_key, record_pseudo, person_key FROM identity_vault WHERE record_key IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(mother_keys)],
    )
    text = json.dumps(export.as_dict())
    # the mother shares the child's surname; her given name, dob and keys must not appear
    for value in (
        MOTHER_NAME[0],
        MOTHER_NAME[2],
        *EXPIRED_NAME,
        *(v for row in mother for v in row),
    ):
        assert value not in text, value
    members = export.sections["Other members of your family (third parties, redacted)"]
    assert len(members) == 2 and all(m["person_key"] == REDACTED for m in members)
    assert {m["role"] for m in members} == {"adult"}
    evidence = [e for r in export.sections["Warehouse: flag_explanations"] for e in r["evidence"]]
    own = {r["record_pseudo"] for r in export.sections["Identity vault: identity_vault"]}
    assert {e["record_pseudo"] for e in evidence} == {REDACTED} | (
        own & {e["record_pseudo"] for e in evidence}
    )
    assert sum(e["record_pseudo"] == REDACTED for e in evidence) == 3
    assert any(e["record_pseudo"] in own for e in evidence)


def test_sar_redacts_other_members_nested_in_evidence(target_export):
    """Evidence items carry the member's person_key and the event: all of it is theirs."""
    data_dir, export = target_export
    mother = _vault(
        data_dir,
        "SELECT DISTINCT person_key FROM identity_vault WHERE record_key = ?",
        [PLANTED.mother_records[1][1]],
    )[0][0]
    text = json.dumps(export.as_dict())
    assert mother not in text
    for event in (
        "police.domestic_abuse",
        "police.violence",
        "families.adult_joined",
        "2015-03-14",
    ):
        assert event not in text, event
    evidence = [e for r in export.sections["Warehouse: flag_explanations"] for e in r["evidence"]]
    redacted = [e for e in evidence if e["record_pseudo"] == REDACTED]
    assert redacted and all(set(e.values()) == {REDACTED} for e in redacted)
    mine = [e for e in evidence if e["record_pseudo"] != REDACTED]
    assert [e["event_type"] for e in mine] == ["education.attendance"]  # the requester's own


def test_sar_withholds_free_text_and_shows_staff_by_role(target_export):
    _, export = target_export
    text = json.dumps(export.as_dict())
    for staff in ("pat.practitioner", "sam.social", "Pat Practitioner", '"W01"'):
        assert staff not in text, staff
    assert "Checked school and police records" not in text
    judgement = export.sections["Practitioners' records: judgements"][0]
    assert judgement["reason"] == FREE_TEXT_WITHHELD and judgement["worker_id"] == "practitioner"
    audit = export.sections["Audit trail: who did what with your data"]
    assert {e["actor"] for e in audit} == {"practitioner"}
    assert any("reviewed by the data team" in note for note in export.notes)


def test_sar_for_a_twin_without_records_exports_nothing(estate_copy):
    """Jun (no records) resembles twin Yun (same surname, dob, address): never auto-export."""
    export = subject_access(estate_copy, requested_by="ig.officer", **TWIN_WITHOUT_RECORDS)
    assert export.status == "needs_verification" and export.sections == {}
    assert "first name and date of birth" in export.message
    entry = AuditLog(estate_copy / "audit" / "audit.jsonl").query(action="sar")[-1]
    assert entry.details["status"] == "needs_verification" and entry.subject is None
    yun = subject_access(estate_copy, requested_by="ig.officer", **TWIN_WITH_RECORDS)
    assert yun.status == "matched"
    names = {r["first_name"] for r in yun.sections["Identity vault: identity_vault"]}
    assert names == {"Yun"}


def test_sar_is_audit_logged_without_identifiers(target_export):
    data_dir, export = target_export
    entries = AuditLog(data_dir / "audit" / "audit.jsonl").query(action="sar")
    assert len(entries) == 1 and entries[0].seq == export.audit_seq
    entry = entries[0]
    assert entry.actor == "ig.officer" and entry.subject == f"person_key:{export.person_keys[0]}"
    assert entry.details["rows_exported"] == export.record_count() > 10
    line = (data_dir / "audit" / "audit.jsonl").read_text()
    assert TARGET["last_name"] not in line and TARGET["postcode"] not in line
    assert AuditLog(data_dir / "audit" / "audit.jsonl").verify().ok


def test_write_sar_writes_private_html_and_json(target_export, tmp_path):
    _, export = target_export
    html_path, json_path = write_sar(export, tmp_path / "out" / "sar_export.html")
    assert (html_path.suffix, json_path.suffix) == (".html", ".json")
    for path in (html_path, json_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(json_path.read_text())
    assert data["status"] == "matched" and data["audit_seq"] == export.audit_seq
    html = html_path.read_text()
    assert "Quilfeather" in html and REDACTED in html and "<script" not in html


def test_sar_with_no_match_says_so_and_is_still_logged(estate_copy):
    export = subject_access(estate_copy, first_name="Nobody", last_name="Atallknown",
                            dob=pd.Timestamp("1990-01-01").date(), requested_by="ig.officer")  # fmt: skip
    assert export.status == "no_match" and not export.sections
    assert "No linked records match" in export.message
    entry = AuditLog(estate_copy / "audit" / "audit.jsonl").query(action="sar")[-1]
    assert entry.details["status"] == "no_match" and entry.subject is None


def test_sar_matching_two_people_exports_nothing(estate_copy):
    con = duckdb.connect(str(estate_copy / "vault.duckdb"))
    try:  # a second person with the same details, kept apart by the linkage (e.g. other NHS no.)
        con.execute(
            "INSERT INTO identity_vault SELECT * REPLACE ('ED-DOUBLE-1' AS record_key, "
            "'ffffffffffffffff' AS record_pseudo, 'ffffffffffff0000' AS person_key) "
            "FROM identity_vault WHERE record_key = 'ED-T-000001'"
        )
    finally:
        con.close()
    export = _target_sar(estate_copy)
    assert export.status == "needs_verification" and not export.sections
    assert "2 different linked people" in export.message and export.person_keys == ()
    assert (
        AuditLog(estate_copy / "audit" / "audit.jsonl")
        .query(action="sar")[-1]
        .details["rows_exported"]
        == 0
    )


def test_objection_matching_finds_the_typod_record(estate):
    data_dir, _ = estate
    objections = pd.DataFrame({"query_id": ["OBJ-1", "OBJ-2"],
                               "first_name": [OBJECTOR["first_name"], "Unknown"],
                               "last_name": [OBJECTOR["last_name"], "Personne"],
                               "dob": [pd.Timestamp(OBJECTOR["dob"]), pd.Timestamp("1970-06-06")],
                               "postcode": [OBJECTOR["postcode"], None]})  # fmt: skip
    matched = match_people(data_dir, objections)
    assert list(matched.columns) == ["query_id", "person_key", "match_probability"]
    assert matched["query_id"].tolist() == ["OBJ-1"]  # the unknown objector matches nobody
    typo_person = _vault(data_dir, "SELECT person_key FROM identity_vault WHERE record_key = ?",
                         [PLANTED.objector_typo_record[1]])[0][0]  # fmt: skip
    brother = _vault(
        data_dir, "SELECT person_key FROM identity_vault WHERE record_key = 'ED-OBJ-BRO01'"
    )[0][0]
    assert matched["person_key"].tolist() == [typo_person]
    assert typo_person != brother  # same surname and address, different person: not excluded
    assert matched["match_probability"].iloc[0] >= 0.99


def test_objections_register_is_matched_through_the_linkage(estate):
    data_dir, _ = estate
    matched = match_objections(data_dir)
    pseudo, typo_person = _vault(
        data_dir,
        "SELECT o.objection_pseudo, v.person_key FROM identity_objections o, identity_vault v "
        "WHERE v.record_key = ?",
        [PLANTED.objector_typo_record[1]],
    )[0]
    assert matched[["objection_pseudo", "person_key"]].values.tolist() == [[pseudo, typo_person]]


def test_match_people_rejects_bad_input_and_missing_linkage(estate, tmp_path):
    data_dir, _ = estate
    with pytest.raises(MatchInputError, match="dob"):
        match_people(
            data_dir, pd.DataFrame({"query_id": ["q"], "first_name": ["a"], "last_name": ["b"]})
        )
    with pytest.raises(MatchingUnavailable, match="no linkage model"):
        match_people(tmp_path, pd.DataFrame({"query_id": ["q"], "first_name": ["a"], "last_name": ["b"],
                                             "dob": [pd.Timestamp("2000-01-01")]}))  # fmt: skip


def test_sar_on_a_linkage_at_a_past_as_of_date_is_refused_never_answered(estate_copy):
    """Records dated after the linkage's as-of date belong to nobody: refuse, name the dates."""
    later = (PLANTED.typo_record,)  # the target's record that only the linkage connects
    link_at_past_date(estate_copy, later)
    log = AuditLog(estate_copy / "audit" / "audit.jsonl")
    before = len(list(log.entries()))
    with pytest.raises(LinkageIncomplete) as refused:
        _target_sar(estate_copy)
    message = str(refused.value)
    assert "stands at 2026-05-01" in message and "extracted 2026-10-01" in message
    assert "1 record(s)" in message and "without --as-of" in message
    assert TARGET["last_name"] not in message
    entries = list(log.entries())
    assert len(entries) == before + 1
    assert (entries[-1].action, entries[-1].subject) == ("sar", None)
    assert entries[-1].details["status"] == "refused_linkage_as_of"
    # the command line says so and exits 2 (refused before any work), writing nothing
    out = estate_copy.parent / "sar-out"
    result = CliRunner().invoke(
        app,
        ["sar", "--data-dir", str(estate_copy), "--first-name", TARGET["first_name"],
         "--last-name", TARGET["last_name"], "--dob", TARGET["dob"].isoformat(),
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "stands at 2026-05-01" in " ".join(result.output.split())
    assert not out.with_suffix(".json").exists()
    # objection matching reads the same vault and is refused the same way
    with pytest.raises(LinkageIncomplete):
        match_objections(estate_copy)


def test_sar_on_a_linkage_at_a_past_date_with_every_record_linked_is_answered(estate_copy):
    """The refusal is about records left out, not about the date alone."""
    link_at_past_date(estate_copy, ())
    export = _target_sar(estate_copy)
    assert export.status == "matched"
