"""Alerts reach the data team by e-mail (a real SMTP server on loopback) and Teams; JSON logs."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pytest

from safeguard.alerts import (
    Alert,
    SmtpChannel,
    TeamsChannel,
    alert_data_team,
    channels_from_settings,
    late_drop_alert,
    notify,
    run_alert,
)
from safeguard.logs import JsonFormatter, configure_logging
from safeguard.pipelines import operations
from safeguard.pipelines.resources import RunSettings
from safeguard.settings import load_settings

if TYPE_CHECKING:
    from conftest import Inbox  # the loopback SMTP server's inbox (tests/conftest.py)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhook", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_failed_gate_reaches_the_data_team_by_email_and_teams(
    smtp_server: tuple[int, Inbox], webhook: tuple[str, list[dict]]
) -> None:
    port, inbox = smtp_server
    url, posted = webhook
    settings = load_settings(
        strict=False,
        alert_smtp_host="127.0.0.1",
        alert_smtp_port=port,
        alert_email_from="safeguard@council.example",
        alert_email_to="data-team@council.example,dpo@council.example",
        alert_teams_webhook=url,
    )
    alert = run_alert(run_id="run-42", success=False, failed_gates=[("risk_model", "fairness")])
    assert alert is not None and alert.kind == "failed_gate"
    assert notify(alert, channels_from_settings(settings)) == []
    ((sender, recipients, raw),) = inbox.messages
    message = message_from_bytes(raw)
    assert sender == "safeguard@council.example"
    assert recipients == ["data-team@council.example", "dpo@council.example"]
    assert message["Subject"] == "[safeguard] gate failed: risk_model/fairness"
    assert "run-42" in message.get_payload() and message["X-Safeguard-Alert"] == "failed_gate"
    (card,) = posted
    text = json.dumps(card)
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "risk_model/fairness" in text


def test_a_channel_that_fails_is_reported_and_the_others_still_send(
    smtp_server: tuple[int, Inbox], caplog: pytest.LogCaptureFixture
) -> None:
    port, inbox = smtp_server
    alert = Alert("run_failed", "pipeline run failed", "Run r1 failed")
    channels = [
        TeamsChannel("http://127.0.0.1:9/nothing-listens"),
        SmtpChannel("127.0.0.1", port, "sg@council.example", ("dt@council.example",)),
    ]
    assert notify(alert, channels) == ["teams"]
    assert len(inbox.messages) == 1
    assert "alert not sent by teams" in caplog.text


def test_only_failures_and_late_drops_alert(tmp_path: Path) -> None:
    assert run_alert(run_id="r", success=True) is None
    failed = run_alert(run_id="r", success=False, error="police.csv row 3: dob is not a date")
    assert failed is not None and failed.kind == "run_failed" and "police.csv" in failed.body
    (tmp_path / "2026-11-01").mkdir()
    assert late_drop_alert(tmp_path, date(2026, 11, 9), expected_day=5) is None  # arrived
    assert late_drop_alert(tmp_path, date(2026, 12, 3), expected_day=5) is None  # not due
    late = late_drop_alert(tmp_path, date(2026, 12, 6), expected_day=5)
    assert late is not None and late.kind == "late_drop" and "2026-12" in late.body


def test_json_logs_are_one_object_per_line_with_extras() -> None:
    stream = io.StringIO()
    configure_logging(load_settings(strict=False, log_format="json"), stream=stream)
    try:
        logging.getLogger("safeguard.test").info("run finished", extra={"run_id": "r7", "rows": 12})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("safeguard.test").exception("step failed")
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_safeguard", False)]:
            root.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines()[:2])
    assert first["message"] == "run finished" and first["run_id"] == "r7" and first["rows"] == 12
    assert first["level"] == "INFO" and first["logger"] == "safeguard.test"
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)


def test_a_successful_run_sends_nothing(alert_mail: Inbox) -> None:
    assert alert_data_team(run_alert(run_id="r1", success=True)) == []
    assert alert_mail.messages == []


def test_a_sensor_error_reaches_the_data_team_and_still_raises(
    alert_mail: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(landing: Path) -> list[object]:
        raise PermissionError("landing folder not readable")

    monkeypatch.setattr(operations, "scan_drops", broken)
    tmp_path.joinpath("landing").mkdir()
    context = dg.build_sensor_context(
        resources={"settings": RunSettings(landing_dir=str(tmp_path / "landing"))}
    )
    with pytest.raises(PermissionError):
        operations.new_drop_sensor(context)
    ((_, _, raw),) = alert_mail.messages
    message = message_from_bytes(raw)
    assert message["X-Safeguard-Alert"] == "sensor_error"
    assert "new_drop_sensor" in message["Subject"] and "not readable" in message.get_payload()


def test_a_late_drop_is_alerted_once_a_month_by_the_sensor(
    alert_mail: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    (landing / "2020-01-01").mkdir(parents=True)  # an old drop; none this month
    resources = {"settings": RunSettings(landing_dir=str(landing))}
    context = dg.build_sensor_context(resources=resources)
    skipped = operations.late_drop_sensor(context)
    assert "not set" in skipped.skip_message and alert_mail.messages == []  # off by default

    monkeypatch.setenv("SAFEGUARD_ALERT_DROP_DUE_DAY", "1")  # due by the 1st: late every day
    operations.late_drop_sensor(context)
    ((_, _, raw),) = alert_mail.messages
    assert message_from_bytes(raw)["X-Safeguard-Alert"] == "late_drop"
    again = operations.late_drop_sensor(
        dg.build_sensor_context(cursor=context.cursor, resources=resources)
    )
    assert "already alerted" in again.skip_message and len(alert_mail.messages) == 1
    (landing / f"{date.today():%Y-%m}-01").mkdir()  # this month's drop has landed
    arrived = operations.late_drop_sensor(dg.build_sensor_context(resources=resources))
    assert "not late" in arrived.skip_message and len(alert_mail.messages) == 1
