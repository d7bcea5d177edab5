"""The portal's own database through SQLAlchemy: embedded file by default, PostgreSQL in production.

One URL decides where users, sessions, judgements and allocations live
(``SAFEGUARD_PORTAL_DATABASE_URL``): ``sqlite:///DIR/portal.sqlite`` (the embedded default),
``postgresql+psycopg://...`` in production, or ``duckdb:///...``. Alembic migrations
(``portal/migrations``) bring any of them to the current schema at start-up. Everything else
(governance, monitoring, retention, key rotation) reads and writes these tables through
:mod:`safeguard.portal.records`, never by opening the file.

A file database is created owner-only (0600) before anything is written into it. DuckDB lets one
process write a file at a time: the portal closes its connections after a few idle seconds, and
a command-line process waiting for the lock retries briefly before saying who holds it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import duckdb
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl

from safeguard.contracts.layout import LEGACY_PORTAL_FILE, PORTAL_FILE
from safeguard.portal.db import DataUnavailableError
from safeguard.portal.schema import revision as revision_table

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_FILE = PORTAL_FILE
#: The embedded default before SQLite: a data directory that has it (and no SQLite file) keeps
#: using it, so an upgrade never starts an empty portal beside the council's accounts.
LEGACY_FILE = LEGACY_PORTAL_FILE


_REQUEST_STAMPS: ContextVar[dict[int, tuple[int, ...]] | None] = ContextVar(
    "portal_request_stamps", default=None
)


@contextmanager
def request_scope() -> Iterator[None]:
    """Within one request, each database's revision is read at most once (until it writes)."""
    token = _REQUEST_STAMPS.set({})
    try:
        yield
    finally:
        _REQUEST_STAMPS.reset(token)


class _DuckDBImpl(DefaultImpl):
    """Alembic has no DuckDB dialect of its own; DuckDB runs transactional DDL like PostgreSQL."""

    __dialect__ = "duckdb"
    transactional_ddl = True


def default_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in the data directory (WAL, owner-only).

    A data directory from before SQLite became the default keeps its ``portal.duckdb``
    (accounts, judgements) until the deployment names a URL.
    """
    data_dir = Path(data_dir)
    legacy = data_dir / LEGACY_FILE
    if legacy.exists() and not (data_dir / DEFAULT_FILE).exists():
        return f"duckdb:///{legacy.absolute()}"
    return f"sqlite:///{(data_dir / DEFAULT_FILE).absolute()}"


def configured_url(data_dir: Path) -> str:
    """The URL from the settings (environment or settings file), else the embedded default."""
    from safeguard.settings import raw_setting

    return raw_setting("portal_database_url") or default_url(data_dir)


def _file_of(url: sa.URL) -> Path | None:
    if url.get_backend_name() in {"duckdb", "sqlite"} and url.database not in {
        None,
        "",
        ":memory:",
    }:
        return Path(str(url.database))
    return None


def _create_private(url: sa.URL, path: Path) -> None:
    """Create the database file empty and owner-only before any row is written into it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        if url.get_backend_name() == "duckdb":
            duckdb.connect(str(path)).close()
        else:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)


def _sqlite_pragmas(dbapi_connection: object, _: object) -> None:
    # WAL: readers never wait for the writer; FULL: an acknowledged judgement survives power loss.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    # A deleted judgement's bytes are overwritten, whatever the SQLite build's default.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _duckdb_creator(path: Path) -> Callable[[], object]:
    from duckdb_engine import ConnectionWrapper

    return lambda: ConnectionWrapper(duckdb.connect(str(path)))


class PortalDatabase:
    """The portal database of one deployment, shared by every request of this process.

    Parameters
    ----------
    url
        SQLAlchemy URL (see the module docstring).
    idle_release_s
        An embedded DuckDB file is closed after this many seconds without use, so that
        ``safeguard users`` or the retention job can take the write lock.
    """

    def __init__(self, url: str, *, idle_release_s: float = 5.0) -> None:
        self.url = sa.make_url(url)
        self.backend = self.url.get_backend_name()
        self.path = _file_of(self.url)
        self.idle_release_s = idle_release_s
        if self.path is not None:
            _create_private(self.url, self.path)
        options: dict[str, object] = {}
        if self.backend == "duckdb" and self.path is not None:
            # Opened with DuckDB's default configuration (no engine user agent), so that any
            # other reader in this process (governance, tests) shares the same instance.
            options["creator"] = _duckdb_creator(self.path)
        elif self.backend == "sqlite":
            options["connect_args"] = {"check_same_thread": False, "timeout": 15}
        elif self.backend == "postgresql":
            options["pool_pre_ping"] = True
        self.engine = sa.create_engine(self.url, **options)
        if self.backend == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        # One writer at a time in this process: DuckDB aborts concurrent updates of one row
        # (the revision counter) instead of waiting, and SQLite would only queue them anyway.
        self._write_lock = threading.RLock()
        self._lock = threading.Lock()
        self._in_use = 0
        self._last_used = time.monotonic()

    def __repr__(self) -> str:
        return f"PortalDatabase({self.url.render_as_string(hide_password=True)})"

    def _connect(self) -> sa.Connection:
        last: Exception | None = None
        for attempt in range(10):
            try:
                return self.engine.connect()
            except sa.exc.DBAPIError as error:
                locked = isinstance(error.orig, duckdb.IOException)
                if not locked:
                    raise DataUnavailableError(
                        f"the portal database ({self!r}) cannot be opened: {error.orig}"
                    ) from error
                last = error
                time.sleep(0.05 * (attempt + 1))
        raise DataUnavailableError(
            f"{self.path} is locked by another process (a running portal releases it after "
            f"{self.idle_release_s:g} idle seconds): {last}"
        )

    @contextmanager
    def cursor(self) -> Iterator[sa.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._in_use += 1
        try:
            with self._write_lock:
                connection = self._connect()
                try:
                    with connection.begin():
                        yield connection
                finally:
                    connection.close()
                    scope = _REQUEST_STAMPS.get()
                    if scope is not None:  # this request changed the data: read it afresh
                        scope.pop(id(self), None)
        finally:
            with self._lock:
                self._in_use -= 1
                self._last_used = time.monotonic()

    @contextmanager
    def reader(self) -> Iterator[sa.Connection]:
        """A read-only unit of work that does not queue behind this process's writers."""
        with self._lock:
            self._in_use += 1
        try:
            with self._connect() as connection, connection.begin():
                yield connection
        finally:
            with self._lock:
                self._in_use -= 1
                self._last_used = time.monotonic()

    def stamp(self) -> tuple[int, ...]:
        """The data's revision: moves on with every committed change to users or decisions.

        Read once per request (see :func:`request_scope`): a page asks for several cached
        values, and one consistent revision for all of them is both cheaper and clearer.
        """
        scope = _REQUEST_STAMPS.get()
        if scope is not None and id(self) in scope:
            return scope[id(self)]
        with self.reader() as connection:
            value = connection.execute(sa.select(revision_table.c.revision)).scalar()
        stamp = (int(value or 0),)
        if scope is not None:
            scope[id(self)] = stamp
        return stamp

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent; adopts a pre-Alembic file)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.cursor() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def current_revision(self) -> str | None:
        from alembic.migration import MigrationContext

        with self.reader() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": "portal_alembic_version"}
            )
            return context.get_current_revision()

    def release_if_idle(self) -> bool:
        """Close an embedded DuckDB file nobody has used for a while (frees its lock)."""
        if self.backend != "duckdb":
            return False
        with self._lock:
            idle = time.monotonic() - self._last_used >= self.idle_release_s
            if self._in_use == 0 and idle and self.engine.pool.checkedin():
                self.engine.dispose()
                return True
        return False

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def open_portal_database(data_dir: Path, url: str | None = None) -> Iterator[PortalDatabase]:
    """A short-lived handle (command line, governance jobs), migrated to the newest schema."""
    database = PortalDatabase(url or configured_url(data_dir))
    try:
        database.upgrade()
        yield database
    finally:
        database.close()
