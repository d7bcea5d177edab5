"""Where the audit trail's key and anchors live: outside the data directory, by design.

Someone holding (or able to write) a copy of the data directory must not be able to rewrite
the audit trail and make it verify. Two things therefore live elsewhere:

- the **audit key** (HMAC-SHA256) that seals every entry: ``SAFEGUARD_AUDIT_KEY`` (hex, e.g.
  from a secret store), else the file ``SAFEGUARD_AUDIT_KEY_FILE``, else
  ``$XDG_CONFIG_HOME/safeguard/audit.key`` (``~/.config/...``), created 0600 on first append;
- the **anchors**: one small JSON file per audit trail in ``SAFEGUARD_AUDIT_ANCHOR_DIR``, else
  ``$XDG_STATE_HOME/safeguard/audit-anchors`` (``~/.local/state/...``), holding the trail's
  head (last sequence number and hash) and, after a retention cut, the sealed cut point.
  Every writer refreshes the anchor after each batch of entries, so cutting entries off the
  end, or swapping the whole file for an older or rewritten one, no longer verifies.

Both are refused when they resolve inside the data directory. Put them on storage that the
people who administer the data directory cannot write (another account, a mounted secret).

This module reads no environment variable (``dpia`` imports nothing of ours, so it cannot reach
the settings model): the variables above are fields of ``safeguard.settings``, which turns
them into :class:`AuditSettings` (``safeguard.settings.audit_settings``). A caller passes those
to :class:`safeguard.dpia.audit.AuditLog`; a caller that passes none gets
:func:`default_settings`, filled by the provider the ``safeguard`` package installs at import
(:func:`use_default_settings`), i.e. the same settings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ANCHOR_DIR_ENV",
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE_ENV",
    "GENESIS_HASH",
    "Anchor",
    "AuditConfigError",
    "AuditError",
    "AuditSettings",
    "default_settings",
    "use_default_settings",
]

AUDIT_KEY_ENV = "SAFEGUARD_AUDIT_KEY"
AUDIT_KEY_FILE_ENV = "SAFEGUARD_AUDIT_KEY_FILE"
ANCHOR_DIR_ENV = "SAFEGUARD_AUDIT_ANCHOR_DIR"
GENESIS_HASH = "0" * 64
_MIN_KEY_BYTES = 16
_ANCHOR_DOMAIN = b"safeguard-audit-anchor-v1\x00"
_HEX64 = frozenset("0123456789abcdef")


class AuditError(RuntimeError):
    """The audit log cannot be written or read as asked."""


class AuditConfigError(AuditError):
    """The audit key or anchor is missing or malformed, or lies inside the data directory."""


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX64


def _is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Anchor:
    """A trail's sealed head: entries ``base_seq+1 .. seq`` are expected in the log.

    ``base_seq``/``base_hash`` are the retention cut point (0 and the genesis hash until the
    first cut): entries up to ``base_seq`` may have been removed on purpose, and the first
    entry kept must link to ``base_hash``.
    """

    seq: int
    hash: str
    base_seq: int = 0
    base_hash: str = GENESIS_HASH

    def fields(self, log: Path) -> dict[str, Any]:
        return {
            "version": 1,
            "log": str(log),
            "seq": self.seq,
            "hash": self.hash,
            "base_seq": self.base_seq,
            "base_hash": self.base_hash,
        }


def _anchor_mac(key: bytes, fields: dict[str, Any]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, _ANCHOR_DOMAIN + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditSettings:
    """The audit key's source and the anchor directory (see the module docstring).

    Build with :meth:`resolve` from the configured values (``safeguard.settings`` does);
    tests pass explicit paths.
    """

    key_file: Path | None
    anchor_dir: Path
    key_hex: str | None = field(default=None, repr=False)

    @classmethod
    def resolve(
        cls,
        *,
        key_hex: str | None = None,
        key_file: Path | str | None = None,
        anchor_dir: Path | str | None = None,
        config_home: Path | str | None = None,
        state_home: Path | str | None = None,
        data_dir: Path | None = None,
    ) -> AuditSettings:
        """The settings from configured values, defaults filled; refuse locations in ``data_dir``.

        Parameters
        ----------
        key_hex
            The audit key, hex (``SAFEGUARD_AUDIT_KEY``); wins over the key file.
        key_file
            The key file (``SAFEGUARD_AUDIT_KEY_FILE``); default
            ``CONFIG_HOME/safeguard/audit.key``.
        anchor_dir
            The anchor folder (``SAFEGUARD_AUDIT_ANCHOR_DIR``); default
            ``STATE_HOME/safeguard/audit-anchors``.
        config_home, state_home
            ``$XDG_CONFIG_HOME`` and ``$XDG_STATE_HOME``; default ``~/.config`` and
            ``~/.local/state``.
        data_dir
            The data directory the trail belongs to: key file and anchors inside it are refused.
        """
        file = None
        if not key_hex:
            key_hex = None
            config = Path(config_home) if config_home else Path.home() / ".config"
            file = Path(key_file) if key_file else config / "safeguard" / "audit.key"
        state = Path(state_home) if state_home else Path.home() / ".local" / "state"
        anchors = Path(anchor_dir) if anchor_dir else state / "safeguard" / "audit-anchors"
        settings = cls(key_file=file, anchor_dir=anchors, key_hex=key_hex)
        if data_dir is not None:
            settings.check_outside(Path(data_dir))
        return settings

    def check_outside(self, data_dir: Path) -> None:
        """Refuse a key file or anchor directory inside the data directory it protects."""
        root = data_dir.resolve()
        for what, path, variable in (
            ("audit key file", self.key_file, AUDIT_KEY_FILE_ENV),
            ("audit anchor directory", self.anchor_dir, ANCHOR_DIR_ENV),
        ):
            if path is not None and path.resolve().is_relative_to(root):
                raise AuditConfigError(
                    f"the {what} {path} is inside the data directory {root}: anyone who can "
                    f"rewrite the data could rewrite the trail with it. Set {variable} to a "
                    "location outside the data directory."
                )

    def load_key(self, *, create: bool) -> bytes:
        """The audit key; created (32 random bytes, 0600) only when ``create`` and absent."""
        if self.key_hex is not None:
            try:
                key = bytes.fromhex(self.key_hex.strip())
            except ValueError as error:
                raise AuditConfigError(f"{AUDIT_KEY_ENV} must be hex: {error}") from error
            source = AUDIT_KEY_ENV
        else:
            assert self.key_file is not None
            if not self.key_file.exists():
                if not create:
                    raise AuditConfigError(
                        f"no audit key at {self.key_file} (set {AUDIT_KEY_FILE_ENV} or "
                        f"{AUDIT_KEY_ENV} to the key the trail was written with)"
                    )
                from safeguard.dpia.pseudonymise import create_key_file  # pandas: on demand

                self.key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                create_key_file(self.key_file)
            key = self.key_file.read_bytes()
            source = str(self.key_file)
        if len(key) < _MIN_KEY_BYTES:
            raise AuditConfigError(
                f"the audit key in {source} has {len(key)} bytes; at least {_MIN_KEY_BYTES} are needed"
            )
        return key

    def anchor_path(self, log: Path) -> Path:
        """The anchor file of the trail at ``log`` (named after its absolute path)."""
        resolved = str(Path(log).resolve())
        digest = hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:20]
        slug = "".join(c if c.isalnum() else "-" for c in Path(log).resolve().parent.parent.name)
        return self.anchor_dir / f"{slug[:40] or 'trail'}-{digest}.json"

    def read_anchor(self, log: Path, key: bytes, *, path: Path | None = None) -> Anchor | None:
        """The trail's anchor, None when there is none.

        Raises
        ------
        AuditConfigError
            When the anchor file is not a well-formed anchor sealed with ``key``.
        """
        path = path or self.anchor_path(log)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise AuditConfigError(f"anchor {path} is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise AuditConfigError(f"anchor {path} is not a JSON object")
        mac = data.pop("mac", None)
        wanted = {"version", "log", "seq", "hash", "base_seq", "base_hash"}
        if set(data) != wanted or data["version"] != 1:
            raise AuditConfigError(f"anchor {path} has fields {sorted(data)}, not {sorted(wanted)}")
        if (
            not (_is_seq(data["seq"]) and _is_seq(data["base_seq"]))
            or data["base_seq"] > data["seq"]
        ):
            raise AuditConfigError(f"anchor {path}: seq and base_seq must be integers, base <= seq")
        if not (_is_hash(data["hash"]) and _is_hash(data["base_hash"])):
            raise AuditConfigError(f"anchor {path}: hash and base_hash must be 64 hex characters")
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _anchor_mac(key, data)):
            raise AuditConfigError(
                f"anchor {path} is not sealed with this audit key (forged, or another key)"
            )
        return Anchor(data["seq"], data["hash"], data["base_seq"], data["base_hash"])

    def write_anchor(self, log: Path, key: bytes, anchor: Anchor) -> Path:
        """Replace the trail's anchor atomically (write, fsync, rename)."""
        path = self.anchor_path(log)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fields = anchor.fields(Path(log).resolve())
        data = json.dumps({**fields, "mac": _anchor_mac(key, fields)}, sort_keys=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            encoded, written = data.encode("utf-8"), 0
            while written < len(encoded):
                written += os.write(fd, encoded[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        return path


# -- the process's default settings (installed by the ``safeguard`` package) ------------------

SettingsProvider = Callable[[Path | None], AuditSettings]
_provider: SettingsProvider | None = None


def use_default_settings(provider: SettingsProvider | None) -> None:
    """Install what :func:`default_settings` returns (``provider(data_dir)``); None removes it.

    ``safeguard/__init__.py`` installs ``safeguard.settings.audit_settings``, so every process
    of the project gets the deployment's settings without this package reading them.
    """
    global _provider
    _provider = provider


def default_settings(data_dir: Path | None = None) -> AuditSettings:
    """The deployment's audit settings for a trail of ``data_dir`` (checked outside it)."""
    if _provider is None:
        raise AuditConfigError(
            "no audit settings: pass AuditSettings, or install a provider with "
            "safeguard.dpia.audit_anchor.use_default_settings"
        )
    return _provider(data_dir)
