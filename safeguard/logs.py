"""Logging for every process: plain text on a console, or one JSON object per line for a SIEM.

``SAFEGUARD_LOG_FORMAT=json`` makes each line a JSON object (time in UTC ISO 8601, level,
logger, message, and any ``extra=`` fields), which the council's SIEM can ingest without
parsing. Messages follow the project's rule: aggregates and references, never personal data.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from safeguard.settings import SafeguardSettings

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: SafeguardSettings, stream: TextIO | None = None) -> None:
    """Install one handler on the root logger in the configured format and level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))  # fmt: skip
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_safeguard", False)]:
        root.removeHandler(old)
    handler._safeguard = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
