"""Portal accounts for the data team: add, disable, reset password, authenticate.

Backs ``safeguard users add/disable/reset``. Passwords are hashed with argon2id (argon2-cffi's
RFC 9106 defaults); the hash is the only thing stored, and no function returns it to a page.

Password policy (NIST SP 800-63B): at least :data:`MIN_PASSWORD_LENGTH` characters and not
guessable, judged by zxcvbn (Dropbox's estimator, MIT): it ships the 30,000 most common
passwords of public breach corpora with English words, names and keyboard patterns, and checks
variants (l33t, reversal, repeats, dates, sequences) and words specific to this account, all
offline, which a council network needs. No composition rules, no expiry.
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
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from safeguard.portal import store
from safeguard.portal.database import open_portal_database
from safeguard.portal.settings import ROLES, WAREHOUSE_FILE, utc_now
from safeguard.portal.store import User

# NIST SP 800-63B (rev. 4) asks at least 15 characters of a password used as a single factor.
MIN_PASSWORD_LENGTH = 15
MAX_PASSWORD_LENGTH = 256
# zxcvbn score 3: about 10^8 guesses or more ("safely unguessable" against online attacks and
# the breach lists); 0-2 are on or near a common-password list.
MIN_ZXCVBN_SCORE = 3
CONTEXT_WORDS = ("safeguard", "portal", "council", "password", "safeguarding")
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
def portal_cursor(data_dir: Path) -> Iterator[sa.Connection]:
    """A short-lived transaction on the configured portal database (migrated first).

    The database is ``SAFEGUARD_PORTAL_DATABASE_URL`` when set, else ``DIR/portal.sqlite``
    (created 0600).
    """
    with open_portal_database(Path(data_dir)) as database, database.cursor() as cur:
        yield cur


def hash_password(password: str, *, context: tuple[str, ...] = ()) -> str:
    check_password(password, context=context)
    return _HASHER.hash(password)


def check_password(password: str, *, context: tuple[str, ...] = ()) -> None:
    """Refuse a short or guessable password; the message never repeats it.

    Parameters
    ----------
    password
        The candidate.
    context
        Words specific to the account (username, display name) that must not carry it.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserAdminError(
            f"password too short: use at least {MIN_PASSWORD_LENGTH} characters "
            "(a passphrase of several unrelated words is easiest)"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserAdminError(f"password too long: at most {MAX_PASSWORD_LENGTH} characters")
    verdict = zxcvbn(password, user_inputs=[*CONTEXT_WORDS, *(c for c in context if c)])
    if verdict["score"] < MIN_ZXCVBN_SCORE:
        warning = verdict["feedback"].get("warning") or "it is too easy to guess"
        raise UserAdminError(
            "password refused: it is on, or close to, the lists of common and breached "
            f"passwords ({warning.rstrip('.')}); choose a passphrase of several unrelated words"
        )


def _known_workers(data_dir: Path) -> dict[str, str | None]:
    """worker_id -> team from the warehouse's ``workers`` table (the council's workers.csv)."""
    path = Path(data_dir) / WAREHOUSE_FILE
    if not path.exists():
        raise UserAdminError(
            f"{path} does not exist: run the pipeline first, so that worker ids can be checked "
            "against workers.csv"
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT worker_id, team FROM workers").fetchall()
    except duckdb.CatalogException as exc:
        raise UserAdminError(
            f"{path} has no workers table: run the pipeline first, so that worker ids can be "
            "checked against workers.csv"
        ) from exc
    finally:
        con.close()
    return {str(worker): None if team is None else str(team) for worker, team in rows}


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


def _check_worker(data_dir: Path, worker_id: str | None, team: str | None) -> None:
    """A worker id (and team) must be one the council's workers table holds."""
    if not worker_id and not team:
        return
    workers = _known_workers(data_dir)
    if worker_id and worker_id not in workers:
        raise UserAdminError(
            f"worker id {worker_id!r} is not in the workers table (workers.csv of the last run): "
            "a practitioner account must belong to a real worker"
        )
    if team and team not in set(workers.values()):
        raise UserAdminError(f"team {team!r} is not a team in the workers table (workers.csv)")


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
        The data directory (the portal database is wherever the settings say).
    username
        Login name (lower case).
    role
        One of ``practitioner``, ``team_manager``, ``reviewer``, ``admin``.
    password
        At least 15 characters and not guessable (see :func:`check_password`); stored only as
        an argon2id hash.
    worker_id
        Required for practitioners: decides which flags they see. Must be in the warehouse's
        ``workers`` table.
    team
        Required for team managers: decides which caseload they manage. Must be a team of the
        ``workers`` table.
    display_name
        Shown in the page header; defaults to the username.
    """
    _validate_account(username, role, worker_id, team)
    _check_worker(data_dir, worker_id, team)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        worker_id=worker_id,
        team=team,
        password_hash=hash_password(password, context=(username, display_name or "")),
        disabled=False,
        created_at=utc_now(),
    )
    with portal_cursor(data_dir) as cur:
        if store.get_user(cur, username) is not None:
            raise UserAdminError(f"user {username!r} already exists (use reset to change password)")
        store.insert_user(cur, user)
    return user


def _existing(cur: sa.Connection, username: str) -> User:
    user = store.get_user(cur, username)
    if user is None:
        raise UserAdminError(f"no user {username!r} in the portal database")
    return user


def disable_user(data_dir: Path, username: str) -> None:
    """Disable an account: every session ends at its next request (credential epoch)."""
    with portal_cursor(data_dir) as cur:
        _existing(cur, username)
        store.set_disabled(cur, username, True)


def reset_password(data_dir: Path, username: str, password: str) -> None:
    """Set a new password (and re-enable the account, as a reset is how access is restored).

    Every existing session of the account ends (the credential epoch moves on).
    """
    password_hash = hash_password(password, context=(username,))
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
