"""Server-side sessions and CSRF tokens (in the portal database), and login throttling.

The browser holds only a random session id; who is logged in and the CSRF token stay on the
server, so nothing in a cookie can be forged or replayed after logout. Sessions live in the
portal database, so a restart or a second worker process keeps everyone logged in. The login
throttle counts failures there too, so several workers share one count (a reverse proxy's rate
limit still complements it).

The throttle stores each (username, client address) pair as an HMAC-SHA256 under a key derived
from the audit key, which lives outside the data directory: a copy of the portal database alone
cannot confirm a guessed username or address offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from safeguard.portal.schema import login_failures, sessions

if TYPE_CHECKING:
    from safeguard.portal.database import PortalDatabase

TOUCH_EVERY = timedelta(minutes=1)
_COLUMNS = (
    sessions.c.csrf_token,
    sessions.c.username,
    sessions.c.created_at,
    sessions.c.last_seen,
    sessions.c.credential_epoch,
)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    """One browser's session. ``username`` is None until login."""

    session_id: str
    csrf_token: str
    username: str | None
    created_at: datetime
    last_seen: datetime
    credential_epoch: int = 0

    def csrf_matches(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token, str(token))


class SessionStore:
    """Sessions keyed by a 256-bit random id, with idle and absolute expiry, in the portal database.

    Kept in the database, sessions survive a restart and are shared by every worker process;
    the database holds only the SHA-256 of each id, so reading it does not open a session.

    Parameters
    ----------
    database
        The portal database (its ``sessions`` table).
    clock
        Source of the current time.
    idle
        A session unused for this long is gone.
    absolute
        A session older than this is gone however active it is.
    """

    def __init__(
        self,
        database: PortalDatabase,
        clock: Callable[[], datetime],
        *,
        idle: timedelta,
        absolute: timedelta,
    ) -> None:
        self._database = database
        self._clock = clock
        self._idle = idle
        self._absolute = absolute
        # "Last seen" is written at most this often: a write per page would cost every request.
        self._touch_every = min(TOUCH_EVERY, idle / 10)

    def create(self, username: str | None = None, credential_epoch: int = 0) -> Session:
        now = self._clock()
        session = Session(
            session_id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            username=username,
            created_at=now,
            last_seen=now,
            credential_epoch=credential_epoch,
        )
        with self._database.cursor() as conn:
            self._purge(conn, now)
            conn.execute(
                sa.insert(sessions).values(
                    session_hash=_hash(session.session_id),
                    csrf_token=session.csrf_token,
                    username=username,
                    created_at=now,
                    last_seen=now,
                    credential_epoch=credential_epoch,
                )
            )
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for ``session_id``, touched; None if unknown or expired."""
        if not session_id:
            return None
        now = self._clock()
        key = _hash(session_id)
        with self._database.reader() as conn:
            row = conn.execute(sa.select(*_COLUMNS).where(sessions.c.session_hash == key)).first()
        if row is None:
            return None
        session = Session(session_id, *row)
        if self._expired(session, now):
            self.delete(session_id)
            return None
        if now - session.last_seen >= self._touch_every:
            with self._database.cursor() as conn:
                conn.execute(
                    sa.update(sessions).where(sessions.c.session_hash == key).values(last_seen=now)
                )
        return replace(session, last_seen=now)

    def rotate(
        self, old_session_id: str | None, username: str, credential_epoch: int = 0
    ) -> Session:
        """End the pre-login session and start a fresh one (defeats session fixation)."""
        self.delete(old_session_id)
        return self.create(username, credential_epoch)

    def delete(self, session_id: str | None) -> None:
        if session_id:
            with self._database.cursor() as conn:
                conn.execute(
                    sa.delete(sessions).where(sessions.c.session_hash == _hash(session_id))
                )

    def delete_user(self, username: str) -> int:
        """End every session of ``username`` (account disabled); return how many."""
        with self._database.cursor() as conn:
            result = conn.execute(sa.delete(sessions).where(sessions.c.username == username))
        return int(result.rowcount or 0)

    def _expired(self, session: Session, now: datetime) -> bool:
        return now - session.last_seen > self._idle or now - session.created_at > self._absolute

    def _purge(self, conn: sa.Connection, now: datetime) -> None:
        conn.execute(
            sa.delete(sessions).where(
                sa.or_(
                    sessions.c.last_seen < now - self._idle,
                    sessions.c.created_at < now - self._absolute,
                )
            )
        )


class LoginThrottle:
    """Counts failed logins per (username, client address) in a sliding window.

    Keyed on the pair so one attacker cannot lock a colleague out from another desk, while
    password guessing against one account from one address stops after ``max_failures``. The
    failures are rows of the portal database (``login_failures``), so every worker process
    sees them: guessing cannot be spread over workers. The pair is stored only as an
    HMAC-SHA256 under ``secret`` (a key kept outside the data directory, see
    :meth:`safeguard.portal.audit.PortalAudit.derived_key`): without it, the rows of a copied
    database cannot be matched to a guessed username or address.

    Parameters
    ----------
    secret
        Returns the HMAC key (at least 16 bytes); called once, on first use.
    """

    def __init__(
        self,
        database: PortalDatabase,
        clock: Callable[[], datetime],
        *,
        max_failures: int,
        window: timedelta,
        secret: Callable[[], bytes],
    ) -> None:
        self._db = database
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._secret = secret
        self._hmac_key: bytes | None = None

    def _key(self, username: str, client: str) -> str:
        if self._hmac_key is None:
            key = self._secret()
            if len(key) < 16:
                raise ValueError(f"the login throttle key has {len(key)} bytes; 16 are needed")
            self._hmac_key = key
        pair = f"{username.lower()}\x1f{client}".encode()
        return hmac.new(self._hmac_key, pair, hashlib.sha256).hexdigest()

    def blocked(self, username: str, client: str) -> bool:
        since = self._clock() - self._window
        with self._db.reader() as conn:
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(login_failures)
                .where(
                    login_failures.c.key_hash == self._key(username, client),
                    login_failures.c.failed_at >= since,
                )
            ).scalar()
        return int(count or 0) >= self._max

    def record_failure(self, username: str, client: str) -> None:
        now = self._clock()
        with self._db.cursor() as conn:
            conn.execute(
                login_failures.delete().where(login_failures.c.failed_at < now - self._window)
            )
            conn.execute(
                login_failures.insert().values(
                    id=secrets.token_hex(16), key_hash=self._key(username, client), failed_at=now
                )
            )

    def reset(self, username: str, client: str) -> None:
        with self._db.cursor() as conn:
            conn.execute(
                login_failures.delete().where(
                    login_failures.c.key_hash == self._key(username, client)
                )
            )
