"""The portal's door to the keyed, anchored audit trail (``DIR/audit/audit.jsonl``).

:class:`safeguard.dpia.audit.AuditLog` group-commits appends (the server's concurrent requests share one
fsync), locks the file against the pipeline's writers, and refreshes the trail's anchor outside
the data directory after every batch. An append returns once its entry is on disk; one that
fails raises, so a page that would show identities is never rendered without its audit entry.
``/admin/audit`` runs the same verification as ``safeguard audit verify`` (anchor required).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safeguard.dpia.audit import AuditEntry, AuditLog, VerifyResult


def family_subject(family_key: str) -> str:
    """The audit subject for a family, in the trail's ``<key name>:<pseudonym>`` convention."""
    return f"family_key:{family_key}"


class PortalAudit:
    """The portal's :class:`safeguard.dpia.audit.AuditLog`, opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._log: AuditLog | None = None

    def _open(self) -> AuditLog:
        if self._log is None:
            # Imported on first use so `from safeguard import portal` never depends on the audit module loading.
            from safeguard.dpia.audit import AuditLog

            self._log = AuditLog(self.path)
        return self._log

    def derived_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` derived from the audit key (HMAC-SHA256, one key per purpose).

        The audit key lives outside the data directory (``safeguard.dpia.audit_anchor``), so a
        value keyed with it cannot be recomputed from a copy of the data directory.
        """
        key = self._open().settings.load_key(create=True)
        label = f"safeguard-portal-{purpose}-v1".encode()
        return hmac.new(key, label, hashlib.sha256).digest()

    def record(self, actor: str, action: str, subject: str | None = None, **details: Any) -> None:
        """Append one entry: who (username), did what (action), about which family (subject)."""
        self._open().append(actor, action, subject=subject, **details)

    def record_family(self, actor: str, action: str, family_key: str, **details: Any) -> None:
        self.record(actor, action, subject=family_subject(family_key), **details)

    def record_family_many(
        self, actor: str, family_key: str, events: list[tuple[str, dict[str, Any]]]
    ) -> None:
        """Several entries about one family in one commit (one fsync), in order, all or none."""
        subject = family_subject(family_key)
        self._open().append_many([(actor, action, subject, details) for action, details in events])

    def entries(self) -> list[AuditEntry]:
        return list(self._open().entries())

    def verify(self) -> VerifyResult:
        """Keyed chain and anchor, exactly as ``safeguard audit verify`` checks them."""
        return self._open().verify(require_anchor=True)
