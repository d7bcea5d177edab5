"""The portal's door to the hash-chained audit trail (``DIR/audit/audit.jsonl``).

:class:`dpia.audit.AuditLog` locks the file (flock) and fsyncs each entry, so appends from the
server's threads and from the pipeline stay one linear chain. An append that fails raises: a
page that would show identities is never rendered without its audit entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dpia.audit import AuditEntry, AuditLog, VerifyResult


def family_subject(family_key: str) -> str:
    """The audit subject for a family, in the trail's ``<key name>:<pseudonym>`` convention."""
    return f"family_key:{family_key}"


class PortalAudit:
    """The portal's :class:`dpia.audit.AuditLog`, opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._log: AuditLog | None = None

    def _open(self) -> AuditLog:
        if self._log is None:
            # Imported on first use so `import portal` never depends on the audit module loading.
            from dpia.audit import AuditLog

            self._log = AuditLog(self.path)
        return self._log

    def record(self, actor: str, action: str, subject: str | None = None, **details: Any) -> None:
        """Append one entry: who (username), did what (action), about which family (subject)."""
        self._open().append(actor, action, subject=subject, **details)

    def record_family(self, actor: str, action: str, family_key: str, **details: Any) -> None:
        self.record(actor, action, subject=family_subject(family_key), **details)

    def entries(self) -> list[AuditEntry]:
        return list(self._open().entries())

    def verify(self) -> VerifyResult:
        return self._open().verify()
