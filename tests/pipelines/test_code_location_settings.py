"""The code location's resources come from the one settings model (safeguard/settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from safeguard.dpia.register import default_register_path
from safeguard.governance.profile import default_profile_path
from safeguard.pipelines import definitions, dpia_metadata


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    seen: dict[str, object] = {}
    monkeypatch.setattr(definitions, "build_definitions", lambda **kwargs: seen.update(kwargs))
    monkeypatch.setattr(definitions, "load_config", lambda path: ("council", path))
    for name in ("DATA_DIR", "LANDING", "TRUTH_DIR", "AS_OF", "CONFIG", "SETTINGS_FILE"):
        monkeypatch.delenv(f"SAFEGUARD_{name}", raising=False)
    return seen


def test_defaults_are_the_settings_models(built: dict[str, object]) -> None:
    definitions.definitions_from_settings()
    assert built == {
        "data_dir": "data", "landing_dir": str(Path("data") / "landing"), "truth_dir": None,
        "as_of": None, "council": ("council", None), "council_source": "default council.yaml",
    }  # fmt: skip


def test_environment_and_settings_file_feed_the_resources(
    built: dict[str, object], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings_file = tmp_path / "safeguard.toml"
    settings_file.write_text(f'as_of = "2026-05-01"\nconfig = "{tmp_path / "council.yaml"}"\n')
    monkeypatch.setenv("SAFEGUARD_SETTINGS_FILE", str(settings_file))
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("SAFEGUARD_AS_OF", "2026-04-01")  # the environment wins over the file
    definitions.definitions_from_settings()
    assert built["data_dir"] == str(tmp_path / "d")
    assert built["landing_dir"] == str(tmp_path / "d" / "landing")  # DATA/landing
    assert built["as_of"] == "2026-04-01"
    assert built["council"] == ("council", str(tmp_path / "council.yaml"))
    assert built["council_source"] == str(tmp_path / "council.yaml")


def test_the_register_and_profile_settings_select_a_councils_copies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SAFEGUARD_SETTINGS_FILE", raising=False)
    register, profile = tmp_path / "register.yaml", tmp_path / "profile.yaml"
    raw = yaml.safe_load(default_register_path().read_text(encoding="utf-8"))
    raw["controller"]["name"] = "Southby Council"
    register.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    raw = yaml.safe_load(default_profile_path().read_text(encoding="utf-8"))
    raw["region"] = "Elsewhere"
    profile.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("SAFEGUARD_DPIA_REGISTER", str(register))
    monkeypatch.setenv("SAFEGUARD_GOVERNANCE_PROFILE", str(profile))
    # __wrapped__: the uncached loaders (the cached ones serve the whole test session)
    chosen = dpia_metadata.register.__wrapped__()
    assert chosen.asset_metadata("flags")["dpia/controller"] == "Southby Council"
    assert dpia_metadata.governance_profile.__wrapped__().region == "Elsewhere"
    monkeypatch.delenv("SAFEGUARD_DPIA_REGISTER")
    assert dpia_metadata.register.__wrapped__().source_path == str(default_register_path())
