"""The council configuration: one validated file, errors that name the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from safeguard.contracts.council import ConfigError, default_config_text, load_config, parse_config
from safeguard.pipelines import council as council_settings


def test_the_shipped_default_is_valid_and_documents_every_section() -> None:
    config = load_config(None)
    text = default_config_text()
    for section in ("flagging", "training", "performance_gate", "fairness_gate"):
        assert f"\n{section}:" in text
    assert config.fairness_gate.band == (0.8, 1.25)
    assert config.fairness_gate.sign_offs == ()
    gate = council_settings.fairness_gate(config)
    assert gate.band == (0.8, 1.25) and gate.min_expected_outcomes == 30
    # the YAML file states every default explicitly: parsing an empty file gives the same
    assert parse_config("", "empty") == config


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("fairness_gate:\n  bnad: [0.8, 1.25]\n", "fairness_gate.bnad"),
        ("fairness_gate:\n  band: [1.2, 0.8]\n", "fairness_gate.band"),
        ("flagging:\n  threshold: 2\n", "flagging.threshold"),
        ("flagging:\n  approved_model: xgboost\n", "flagging.approved_model"),
        ("training:\n  first_as_of_months_back: 12\n  last_as_of_months_back: 24\n", "training"),
        (
            "fairness_gate:\n  sign_offs:\n    - dimension: disability\n      group: Y\n",
            "fairness_gate.sign_offs.0.signed_by",
        ),
    ],
)
def test_a_bad_file_gets_an_error_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "council.yaml")
    assert f"council.yaml: {key}" in str(raised.value)


def test_not_yaml_or_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("fairness_gate: [unclosed", "x.yaml")
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path / "absent.yaml")


def test_sign_offs_reach_the_gate_and_the_reports(tmp_path: Path) -> None:
    path = tmp_path / "council.yaml"
    path.write_text(yaml.safe_dump({"fairness_gate": {"sign_offs": [{
        "dimension": "ethnicity_group", "group": "Black", "metric": "recall_ratio",
        "signed_by": "A. Patel, Data Protection Officer", "signed_on": "2026-11-20",
        "reason": "Too few outcomes at one council's size to show parity; reviewed monthly.",
        "expires": "2027-05-20"}]}}))  # fmt: skip
    config = load_config(path)
    (sign,) = council_settings.fairness_gate(config).sign_offs
    assert sign.covers("ethnicity_group", "Black", "recall_ratio", date(2027, 1, 1))
    assert not sign.covers("ethnicity_group", "Black", "oe_ratio", date(2027, 1, 1))
    assert not sign.covers("ethnicity_group", "Black", "recall_ratio", date(2027, 6, 1))  # expired
    assert council_settings.sign_off_lines(config) == [sign.describe()]
    assert (
        "A. Patel" in council_settings.sign_off_lines(config)[0]
        and "until 2027-05-20" in council_settings.sign_off_lines(config)[0]
    )


def test_the_cli_checks_a_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from safeguard.cli import app

    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(default_config_text())
    bad.write_text("flagging:\n  treshold: 0.1\n")
    runner = CliRunner()
    assert runner.invoke(app, ["config", "check", str(good)]).exit_code == 0
    result = runner.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 2 and "flagging.treshold" in result.output
    shown = runner.invoke(app, ["config", "show"])
    assert shown.exit_code == 0 and "sign_offs" in shown.output
