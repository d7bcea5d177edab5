"""Portal accounts for the data team: add, disable, reset password, authenticate.

Backs ``safeguard users add/disable/reset``. Passwords are hashed with argon2id (argon2-cffi's
RFC 9106 defaults); the hash is the only thing stored, and no function returns it to a page.
"""

from __future__ import annotations

import functools
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from portal import store
from portal.db import ManagedDatabase, create_private_file
from portal.settings import PORTAL_FILE, ROLES, utc_now
from portal.store import User

MIN_PASSWORD_LENGTH = 12
# argon2id at RFC 9106's second recommended profile (64 MiB, 3 passes), above OWASP's minimum.
PRODUCTION_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_HASHER = PRODUCTION_HASHER
# Each verification takes 64 MiB: bound how many run at once so a burst of logins cannot
# exhaust the server's memory (the per-account throttle does not limit many accounts).
_VERIFY_SLOTS = threading.BoundedSemaphore(4)


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so a miss costs as long as a wrong password.
    return _HASHER.hash(secrets.token_urlsafe(16))


class UserAdminError(ValueError):
    """An account operation the data team asked for cannot be done (message says why)."""


@contextmanager
def portal_cursor(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-write cursor on ``DIR/portal.duckdb`` (created 0600 with its schema)."""
    path = Path(data_dir) / PORTAL_FILE
    create_private_file(path)
    database = ManagedDatabase(path, read_only=False)
    try:
        with database.cursor() as cur:
            store.ensure_schema(cur)
            yield cur
    finally:
        database.close()


def hash_password(password: str) -> str:
    _check_password(password)
    return _HASHER.hash(password)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserAdminError(
            f"password too short: use at least {MIN_PASSWORD_LENGTH} characters "
            "(a passphrase of several words is easiest)"
        )


def _validate_account(username: str, role: str, worker_id: str | None, team: str | None) -> None:
    if not _USERNAME.match(username):
        raise UserAdminError(
            f"username {username!r} is not allowed: use 2-64 lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    if role not in ROLES:
        raise UserAdminError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "practitioner" and not worker_id:
        raise UserAdminError(
            "a practitioner needs --worker-id (their worker_id in workers.csv) to receive flags"
        )
    if role == "team_manager" and not team:
        raise UserAdminError("a team manager needs --team (the team name in workers.csv)")


def add_user(
    data_dir: Path,
    username: str,
    role: str,
    password: str,
    worker_id: str | None = None,
    team: str | None = None,
    display_name: str | None = None,
) -> User:
    """Create an account; raise :class:`UserAdminError` if it exists or is invalid.

    Parameters
    ----------
    data_dir
        The data directory holding ``portal.duckdb``.
    username
        Login name (lower case).
    role
        One of ``practitioner``, ``team_manager``, ``reviewer``, ``admin``.
    password
        At least 12 characters; stored only as an argon2id hash.
    worker_id
        Required for practitioners: decides which flags they see.
    team
        Required for team managers: decides which caseload they manage.
    display_name
        Shown in the page header; defaults to the username.
    """
    _validate_account(username, role, worker_id, team)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        worker_id=worker_id,
        team=team,
        password_hash=hash_password(password),
        disabled=False,
        created_at=utc_now(),
    )
    with portal_cursor(data_dir) as cur:
        if store.get_user(cur, username) is not None:
            raise UserAdminError(f"user {username!r} already exists (use reset to change password)")
        store.insert_user(cur, user)
    return user


def _existing(cur: duckdb.DuckDBPyConnection, username: str) -> User:
    user = store.get_user(cur, username)
    if user is None:
        raise UserAdminError(f"no user {username!r} in portal.duckdb")
    return user


def disable_user(data_dir: Path, username: str) -> None:
    """Disable an account: its sessions stop working at their next request."""
    with portal_cursor(data_dir) as cur:
        _existing(cur, username)
        store.set_disabled(cur, username, True)


def reset_password(data_dir: Path, username: str, password: str) -> None:
    """Set a new password (and re-enable the account, as a reset is how access is restored)."""
    password_hash = hash_password(password)
    with portal_cursor(data_dir) as cur:
        _existing(cur, username)
        store.set_password_hash(cur, username, password_hash)
        store.set_disabled(cur, username, False)


def list_users(data_dir: Path) -> list[User]:
    with portal_cursor(data_dir) as cur:
        return store.list_users(cur)


def verify_password(user: User | None, password: str) -> bool:
    """True if ``password`` matches; equal cost for unknown, disabled and real accounts."""
    try:
        with _VERIFY_SLOTS:
            _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return user is not None and not user.disabled
