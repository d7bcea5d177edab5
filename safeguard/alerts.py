"""Tell the data team when something needs a person: a failed gate, a failed run or sensor, a late drop.

Channels come from the settings (``SAFEGUARD_ALERT_*``): e-mail through the council's SMTP relay
and/or a Microsoft Teams incoming webhook. Alerts carry aggregates only (gate names, counts,
dates, the run id): never a row, a name or an identifier, because e-mail and chat leave the
controlled environment. A channel that fails is logged and the others still get the alert;
alerting never stops a run.

Who calls it: the runner (:func:`safeguard.pipelines.runner.run_pipeline`: a failed gate or a failed run),
and the Dagster sensors the daemon ticks (:mod:`safeguard.pipelines.operations`: a failed scoring run, a
sensor error, a drop not arrived by ``SAFEGUARD_ALERT_DROP_DUE_DAY``). They go through
:func:`alert_data_team`, which reads the channels from this process's settings.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

import httpx

from safeguard.settings import SafeguardSettings, SettingsError, load_settings

LOG = logging.getLogger("safeguard.alerts")
Kind = Literal["failed_gate", "run_failed", "sensor_error", "late_drop"]


@dataclass(frozen=True)
class Alert:
    """One notification: a short subject line and a plain-text body for the data team."""

    kind: Kind
    subject: str
    body: str


class AlertChannel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class SmtpChannel:
    """E-mail through the council's relay (STARTTLS and login when configured)."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    name: str = "email"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = f"[safeguard] {alert.subject}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["X-Safeguard-Alert"] = alert.kind
        message.set_content(alert.body)
        with smtplib.SMTP(self.host, self.port, timeout=20) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


@dataclass(frozen=True)
class TeamsChannel:
    """A Teams incoming webhook (Workflows or connector) posting an Adaptive Card."""

    url: str
    name: str = "teams"

    def send(self, alert: Alert) -> None:
        card = {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": f"safeguard: {alert.subject}", "weight": "Bolder",
                 "wrap": True},
                {"type": "TextBlock", "text": alert.body, "wrap": True},
            ],
        }  # fmt: skip
        payload = {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }
        httpx.post(self.url, json=payload, timeout=20).raise_for_status()


def channels_from_settings(settings: SafeguardSettings) -> list[AlertChannel]:
    """The configured channels (none configured: an empty list, alerts are only logged)."""
    channels: list[AlertChannel] = []
    if settings.alert_smtp_host:
        assert settings.alert_email_from  # the settings model requires it with a host
        channels.append(
            SmtpChannel(
                host=settings.alert_smtp_host,
                port=settings.alert_smtp_port,
                sender=settings.alert_email_from,
                recipients=tuple(settings.alert_email_to),
                starttls=settings.alert_smtp_starttls,
                username=settings.alert_smtp_username,
                password=(
                    settings.alert_smtp_password.get_secret_value()
                    if settings.alert_smtp_password
                    else None
                ),
            )
        )
    if settings.alert_teams_webhook:
        channels.append(TeamsChannel(settings.alert_teams_webhook.get_secret_value()))
    return channels


def notify(alert: Alert, channels: Iterable[AlertChannel]) -> list[str]:
    """Send ``alert`` on every channel; return the channels that failed (each one logged)."""
    LOG.warning("alert (%s): %s", alert.kind, alert.subject)
    failed = []
    for channel in channels:
        try:
            channel.send(alert)
        except (OSError, smtplib.SMTPException, httpx.HTTPError) as error:
            LOG.error("alert not sent by %s: %s", channel.name, error)
            failed.append(channel.name)
    return failed


def alert_data_team(alert: Alert | None) -> list[str]:
    """Send ``alert`` (None: nothing to say) on the channels this process's settings name.

    Returns the channels that failed; settings that cannot be read count as a failed
    ``settings`` channel (logged; the process validated them at start-up, so this is rare).
    """
    if alert is None:
        return []
    try:
        channels = channels_from_settings(load_settings(strict=False))
    except SettingsError as error:
        LOG.error("alert (%s) not sent: the alert settings are invalid: %s", alert.kind, error)
        return ["settings"]
    return notify(alert, channels)


def drop_due_day() -> int | None:
    """The day of the month by which a drop is due (None: late drops are not alerted)."""
    try:
        return load_settings(strict=False).alert_drop_due_day
    except SettingsError as error:
        LOG.error("late-drop alerts off: the settings are invalid: %s", error)
        return None


def run_alert(
    *,
    run_id: str,
    success: bool,
    failed_gates: Sequence[tuple[str, str]] = (),
    error: str | None = None,
) -> Alert | None:
    """The alert for a finished run, or None when it succeeded.

    ``failed_gates`` are ``(asset, check)`` names; ``error`` is the run's one-line cause, which
    names file, column and rule but never a value (the ingest contract guarantees it).
    """
    if success:
        return None
    if failed_gates:
        names = ", ".join(f"{asset}/{check}" for asset, check in failed_gates)
        return Alert(
            "failed_gate",
            f"gate failed: {names}",
            f"Run {run_id} stopped at a blocking gate: {names}.\n"
            "Downstream outputs keep their last good version and the portal keeps serving the "
            "last published flags. Open the Dagster run or the review pack for the details.",
        )
    return Alert(
        "run_failed",
        "pipeline run failed",
        f"Run {run_id} failed: {(error or 'see the Dagster run log')[:500]}",
    )


def sensor_alert(sensor: str, error: str) -> Alert:
    return Alert("sensor_error", f"sensor {sensor} failed", f"{sensor}: {error[:500]}")


def late_drop_alert(landing: Path, today: date, expected_day: int) -> Alert | None:
    """An alert when this month's drop (``LANDING/YYYY-MM-DD/``) has not arrived by its day."""
    if today.day < expected_day:
        return None
    this_month = [
        p.name
        for p in Path(landing).glob(f"{today:%Y-%m}-*")
        if p.is_dir() and len(p.name) == len("YYYY-MM-DD")
    ]
    if this_month:
        return None
    return Alert(
        "late_drop",
        f"no {today:%B %Y} extract by day {expected_day}",
        f"No drop for {today:%Y-%m} has arrived in {landing} (expected by day {expected_day} "
        "of the month). The flags served are from the last complete run.",
    )
