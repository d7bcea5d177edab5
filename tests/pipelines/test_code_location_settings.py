"""The code location's resources come from the one settings model (safeguard/settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import definitions


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
