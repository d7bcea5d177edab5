"""Server-side sessions, CSRF tokens and login throttling, held in the server's memory.

The browser holds only a random session id; who is logged in and the CSRF token stay on the
server, so nothing in a cookie can be forged or replayed after logout. Sessions are lost when the
portal restarts (everyone logs in again), which is the safe direction for this data.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


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
    """Sessions keyed by a 256-bit random id, with idle and absolute expiry.

    Parameters
    ----------
    clock
        Source of the current time.
    idle
        A session unused for this long is gone.
    absolute
        A session older than this is gone however active it is.
    """

    def __init__(
        self, clock: Callable[[], datetime], *, idle: timedelta, absolute: timedelta
    ) -> None:
        self._clock = clock
        self._idle = idle
        self._absolute = absolute
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            self._purge(now)
            self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for ``session_id``, touched; None if unknown or expired."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[session_id]
                return None
            session = replace(session, last_seen=now)
            self._sessions[session_id] = session
            return session

    def rotate(
        self, old_session_id: str | None, username: str, credential_epoch: int = 0
    ) -> Session:
        """End the pre-login session and start a fresh one (defeats session fixation)."""
        self.delete(old_session_id)
        return self.create(username, credential_epoch)

    def delete(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)

    def delete_user(self, username: str) -> int:
        """End every session of ``username`` (account disabled); return how many."""
        with self._lock:
            ids = [sid for sid, s in self._sessions.items() if s.username == username]
            for sid in ids:
                del self._sessions[sid]
        return len(ids)

    def _expired(self, session: Session, now: datetime) -> bool:
        return now - session.last_seen > self._idle or now - session.created_at > self._absolute

    def _purge(self, now: datetime) -> None:
        for sid in [sid for sid, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[sid]


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
