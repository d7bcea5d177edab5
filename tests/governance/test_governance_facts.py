"""Run facts read from aggregate tables, and the governance profile's validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from safeguard.governance.facts import collect_run_facts
from safeguard.governance.profile import GovernanceProfileError, default_profile_path, load_profile


def test_collect_run_facts_reads_aggregates_of_the_latest_extract(estate):
    facts = collect_run_facts(estate[0], run_id="r1")
    assert facts.extract_date is not None and facts.extract_date.isoformat() == "2026-10-01"
    assert [f.file for f in facts.files][:2] == ["education.csv", "housing.csv"]
    assert all(f.rows_read == f.rows_accepted + f.rows_quarantined for f in facts.files)
    assert [(d.file, d.column, d.row_count) for d in facts.firewall] == [
        ("police.csv", "Immigration Status", 100)
    ]
    assert [(q.column, q.rule, q.rows) for q in facts.quarantine] == [("dob", "type", 1)]
    assert facts.linkage_quality == {"pairwise_precision": 0.995, "pairwise_recall": 0.961}
    assert sorted(facts.flags_per_worker) == [1, 1]
    assert facts.overrides is not None and facts.overrides.shares == {
        "agree_act": 0.5,
        "disagree": 0.5,
    }
    assert facts.audit is not None and facts.audit.intact and facts.audit.entries == 4


def test_collect_run_facts_reports_a_tampered_audit_trail(estate_copy):
    path = estate_copy / "audit" / "audit.jsonl"
    lines = path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["actor"] = "someone.else"
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    facts = collect_run_facts(estate_copy)
    assert facts.audit is not None and not facts.audit.intact
    assert "entry 2" in facts.audit.reason


def test_collect_run_facts_on_an_empty_data_dir(tmp_path):
    facts = collect_run_facts(tmp_path)
    assert facts.files == () and facts.audit is None and facts.overrides is None


def _profile_with(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load(default_profile_path().read_text())
    change(raw)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_profile_measure_must_name_a_control(tmp_path):
    path = _profile_with(tmp_path, lambda raw: raw["risks"][0]["measures"].append("prayer"))
    with pytest.raises(
        GovernanceProfileError, match=r"risks\[0\].measures: 'prayer' is not one of controls"
    ):
        load_profile(path)


def test_profile_errors_name_the_yaml_path(tmp_path):
    path = _profile_with(tmp_path, lambda raw: raw["risks"][1].update(likelihood="certain"))
    with pytest.raises(GovernanceProfileError, match=r"risks\.1\.likelihood"):
        load_profile(path)
    with pytest.raises(GovernanceProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.yaml")


def test_a_councils_profile_is_passed_in_not_read_from_the_environment(tmp_path, monkeypatch):
    # the setting is read by the settings model and passed in by the code location
    # (tests/pipelines/test_code_location_settings.py); governance reads no environment
    path = _profile_with(tmp_path, lambda raw: raw.update(region="Elsewhere"))
    monkeypatch.setenv("SAFEGUARD_GOVERNANCE_PROFILE", str(path))
    assert load_profile().region != "Elsewhere"
    assert load_profile(path).region == "Elsewhere"
