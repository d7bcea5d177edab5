"""Server-side sessions and CSRF tokens (in the portal database), and login throttling.

The browser holds only a random session id; who is logged in and the CSRF token stay on the
server, so nothing in a cookie can be forged or replayed after logout. Sessions live in the
portal database, so a restart or a second worker process keeps everyone logged in; the login
throttle is per process (memory), which a reverse proxy's rate limit complements.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from safeguard.portal.schema import sessions

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
    password guessing against one account from one address stops after ``max_failures``.
    """

    def __init__(
        self, clock: Callable[[], datetime], *, max_failures: int, window: timedelta
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        stamps = self._failures.setdefault(key, deque())
        while stamps and now - stamps[0] > self._window:
            stamps.popleft()
        return stamps

    def blocked(self, username: str, client: str) -> bool:
        with self._lock:
            return len(self._recent((username.lower(), client), self._clock())) >= self._max

    def record_failure(self, username: str, client: str) -> None:
        now = self._clock()
        with self._lock:
            self._recent((username.lower(), client), now).append(now)

    def reset(self, username: str, client: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), client), None)
