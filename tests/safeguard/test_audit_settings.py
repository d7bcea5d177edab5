"""The audit key and anchor folder come from the settings model; the audit module reads no variable.

``safeguard.dpia.audit_anchor`` (dpia imports nothing of ours) gets them from
``safeguard.settings.audit_settings``, installed as the default by ``safeguard/__init__.py``.
The variables keep their meaning: ``SAFEGUARD_AUDIT_KEY`` over ``SAFEGUARD_AUDIT_KEY_FILE`` over
``$XDG_CONFIG_HOME/safeguard/audit.key``; ``SAFEGUARD_AUDIT_ANCHOR_DIR`` over
``$XDG_STATE_HOME/safeguard/audit-anchors``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from safeguard.dpia import audit_anchor
from safeguard.dpia.audit import AuditConfigError, AuditLog
from safeguard.settings import SETTINGS_FILE_ENV, audit_settings

VARIABLES = ("SAFEGUARD_AUDIT_KEY", "SAFEGUARD_AUDIT_KEY_FILE", "SAFEGUARD_AUDIT_ANCHOR_DIR")


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No audit variable set; XDG folders under ``tmp_path``."""
    for name in (*VARIABLES, SETTINGS_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


def test_defaults_follow_the_xdg_folders(bare: Path) -> None:
    settings = audit_settings()
    assert settings.key_file == bare / "config" / "safeguard" / "audit.key"
    assert settings.anchor_dir == bare / "state" / "safeguard" / "audit-anchors"
    assert settings.key_hex is None


def test_the_variables_keep_their_meaning(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEGUARD_AUDIT_KEY_FILE", str(bare / "keys" / "audit.key"))
    monkeypatch.setenv("SAFEGUARD_AUDIT_ANCHOR_DIR", str(bare / "anchors"))
    settings = audit_settings()
    assert (settings.key_file, settings.anchor_dir) == (
        bare / "keys" / "audit.key",
        bare / "anchors",
    )
    monkeypatch.setenv("SAFEGUARD_AUDIT_KEY", "ab" * 32)  # the key itself wins over the file
    settings = audit_settings()
    assert settings.key_file is None and settings.load_key(create=False) == bytes.fromhex("ab" * 32)


def test_the_settings_file_configures_the_audit_trail_too(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file = bare / "safeguard.toml"
    settings_file.write_text(f'audit_anchor_dir = "{bare / "file-anchors"}"\n')
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(settings_file))
    assert audit_settings().anchor_dir == bare / "file-anchors"
    monkeypatch.setenv("SAFEGUARD_AUDIT_ANCHOR_DIR", str(bare / "env-anchors"))
    assert audit_settings().anchor_dir == bare / "env-anchors"  # environment over file


def test_an_audit_log_uses_the_settings_model(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEGUARD_AUDIT_KEY_FILE", str(bare / "keys" / "audit.key"))
    monkeypatch.setenv("SAFEGUARD_AUDIT_ANCHOR_DIR", str(bare / "anchors"))
    log = AuditLog(bare / "data" / "audit" / "audit.jsonl")
    log.append("data_team", "login")
    assert (bare / "keys" / "audit.key").stat().st_size == 32
    assert log.anchor_path.parent == bare / "anchors" and log.anchor_path.exists()
    monkeypatch.setenv("SAFEGUARD_AUDIT_ANCHOR_DIR", str(bare / "data" / "anchors"))
    with pytest.raises(AuditConfigError, match="SAFEGUARD_AUDIT_ANCHOR_DIR"):
        AuditLog(bare / "data" / "audit" / "audit.jsonl")  # inside the data directory


def test_without_a_provider_the_audit_module_reads_nothing_itself(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEGUARD_AUDIT_ANCHOR_DIR", str(bare / "anchors"))
    monkeypatch.setattr(audit_anchor, "_provider", None)
    with pytest.raises(AuditConfigError, match="no audit settings"):
        AuditLog(bare / "data" / "audit" / "audit.jsonl")
    assert "SAFEGUARD_AUDIT_ANCHOR_DIR" in os.environ  # set, yet not read by dpia
