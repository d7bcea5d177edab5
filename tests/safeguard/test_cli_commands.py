"""Every `safeguard` command: documented options, `--help`, and one real (cheap) call each.

The full first run (`safeguard demo` on a small estate) is the last, slower test: it must exit 0
when a gate withholds flags, say so in one line, and keep library warnings off the console.
"""

from __future__ import annotations

import logging
import re
import subprocess
import warnings
from pathlib import Path

import click
import pytest
import typer.main
from typer.testing import CliRunner

from safeguard import pipeline_commands
from safeguard.cli import app, package_version
from safeguard.runlog import library_output_to_log

runner = CliRunner()
PASSWORD = "correct horse battery staple lantern"


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    found = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*path, name))
        else:
            found.append((path, command))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = [path for path, _ in _commands()]


def test_every_command_is_listed_here_and_every_option_has_help() -> None:
    assert {p[0] for p in COMMANDS} == {
        "generate", "run", "demo", "monitor", "dev", "sar", "purge", "portal",
        "config", "audit", "keys", "users",
    }  # fmt: skip
    undocumented = [
        f"{' '.join(path)} {param.name}"
        for path, command in _commands()
        for param in command.params
        if not getattr(param, "help", None)
    ]
    assert undocumented == []


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"safeguard {package_version()}"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and "--help" in result.output


def test_readme_command_line_section_names_every_command() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [" ".join(p) for p in COMMANDS if f"safeguard {' '.join(p)}" not in readme]
    assert missing == []


def test_generate_writes_a_drop(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    result = runner.invoke(app, ["generate", "--out", str(out), "--people", "200"])
    assert result.exit_code == 0, result.output
    assert list(out.glob("*/police.csv"))


def test_config_show_and_check(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["config", "show"])
    assert shown.exit_code == 0 and "fairness_gate" in shown.output
    path = tmp_path / "council.yaml"
    path.write_text(shown.output)
    checked = runner.invoke(app, ["config", "check", str(path)])
    assert checked.exit_code == 0 and "valid" in checked.output


def test_users_add_list_reset_disable(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    added = runner.invoke(
        app,
        ["users", "add", "rev1", "--role", "reviewer", "--data-dir", data, "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    reset = runner.invoke(
        app, ["users", "reset", "rev1", "--data-dir", data, "--password-stdin"],
        input=PASSWORD + " again\n",
    )  # fmt: skip
    assert reset.exit_code == 0, reset.output
    assert runner.invoke(app, ["users", "disable", "rev1", "--data-dir", data]).exit_code == 0
    listed = runner.invoke(app, ["users", "list", "--data-dir", data])
    assert listed.exit_code == 0 and "rev1" in listed.output and "yes" in listed.output
    assert PASSWORD not in listed.output


def test_audit_commands_on_a_fresh_directory(tmp_path: Path) -> None:
    verify = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert verify.exit_code == 2 and "no audit trail" in verify.output
    restart = runner.invoke(app, ["audit", "restart", "--data-dir", str(tmp_path)])
    assert restart.exit_code == 0 and "nothing to restart" in restart.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["keys", "rotate"], "nothing to rotate"),
        (["purge"], "holds no completed run"),
        (["monitor"], "holds no completed run"),
        (
            ["sar", "--first-name", "A", "--last-name", "B", "--dob", "2000-01-01", "--out", "sar"],
            "no linkage model",
        ),
    ],
    ids=["keys rotate", "purge", "monitor", "sar"],
)
def test_operations_refuse_a_directory_with_no_run_in_one_line(
    tmp_path: Path, args: list[str], says: str
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    result = runner.invoke(app, [*args, "--data-dir", str(data)])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_portal_refuses_plain_http_off_loopback(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["portal", "--data-dir", str(tmp_path), "--insecure-http", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2 and "refusing --insecure-http" in result.output


def test_dev_starts_dagster_on_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_call(cmd: list[str], env: dict[str, str]) -> int:
        calls.append((cmd, env))
        return 0

    monkeypatch.setattr(subprocess, "call", fake_call)
    result = runner.invoke(app, ["dev", "--data-dir", str(tmp_path), "--port", "3999"])
    assert result.exit_code == 0, result.output
    ((cmd, env),) = calls
    assert cmd[-2:] == ["-p", "3999"] and "safeguard.pipelines.definitions" in cmd
    assert env["DAGSTER_HOME"] == str(tmp_path.resolve() / "dagster_home")


def test_run_without_a_drop_names_the_error_and_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--landing", str(tmp_path / "none"), "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 1, result.output
    assert "NoCompleteDrop" in result.output and "stopped on an error" in result.output
    assert (tmp_path / "d" / "logs" / "safeguard.log").exists()


@pytest.mark.slow
def test_demo_exits_0_when_a_gate_withholds_flags_and_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = []
    monkeypatch.setattr(
        pipeline_commands,
        "_print_demo_accounts",
        lambda d, withheld_by: accounts.append(withheld_by),
    )
    data = tmp_path / "data"
    result = runner.invoke(app, ["demo", "--data-dir", str(data), "--people", "2000"])
    out = result.output
    assert result.exit_code == 0, out
    # at 2,000 people the shipped performance gate cannot be met: a result, not a crash
    assert "model_evaluation/performance_gate: failed: " in out
    assert "withheld the outputs downstream of it (no new flags)" in " ".join(out.split())
    assert accounts == [["model_evaluation/performance_gate"]]
    assert "peak memory" in out and "train_and_gate_model" in out
    assert "FutureWarning" not in out and "UserWarning" not in out
    assert (data / "logs" / "safeguard.log").exists()
    # the review pack leads with the outcome, and every file it links (and they link) exists
    pack = data / "reports" / "review_pack.html"
    assert "No new flags: the check model_evaluation/performance_gate failed" in pack.read_text()
    assert broken_links(pack) == []
    # the portal's "Fairness report" exists although the gate withheld flags
    assert (data / "artefacts" / "model" / "fairness_report.html").exists()
    assert str(data) not in pack.read_text()  # no local path


def test_library_warnings_go_to_the_run_log_not_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with library_output_to_log(tmp_path) as log:
            warnings.warn_explicit("pandas 3 not supported", FutureWarning, "pyspark/x.py", 41)
            logging.getLogger("splink.internals").warning("EM did not converge")
    captured = capsys.readouterr()
    assert "pandas 3" not in captured.err + captured.out
    assert "EM did not converge" not in captured.err + captured.out
    text = log.read_text()
    assert "pandas 3 not supported" in text and "EM did not converge" in text


def broken_links(start: Path) -> list[str]:
    """Every relative href/src in ``start`` and the local HTML pages it reaches that does not
    resolve to a file (links to other sites and in-page anchors are not followed)."""
    seen, queue, broken = set(), [start.resolve()], []
    while queue:
        page = queue.pop()
        if page in seen:
            continue
        seen.add(page)
        for target in re.findall(r'(?:href|src)="([^"#]+)(?:#[^"]*)?"', page.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("/"):
                continue
            path = (page.parent / target).resolve()
            if not path.is_file():
                broken.append(f"{page.name} -> {target}")
            elif path.suffix == ".html":
                queue.append(path)
    return broken


def test_the_link_crawl_finds_a_missing_file_two_pages_deep(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<a href="b.html">b</a> <a href="https://x.example/">x</a>')
    (tmp_path / "b.html").write_text('<img src="chart.png" alt="c"> <a href="#top">top</a>')
    assert broken_links(tmp_path / "a.html") == ["b.html -> chart.png"]
    (tmp_path / "chart.png").write_bytes(b"")
    assert broken_links(tmp_path / "a.html") == []
