"""The database seam: which engine Splink runs on is one injected object.

Splink runs the same SQL on DuckDB, Spark and others through a ``DatabaseAPI``. The linkage
code never asks which engine it is talking to; it asks a :class:`Backend` for a fresh
database API and uses only Splink's public, engine-neutral calls on it. A Spark backend
(``SparkAPI(spark_session=...)``) therefore needs only a class with the same two members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from splink.internals.database_api import DatabaseAPISubClass

__all__ = ["Backend", "DuckDBBackend"]


@runtime_checkable
class Backend(Protocol):
    """What the linkage needs from a database engine."""

    @property
    def name(self) -> str:
        """Short engine name for reports (``"duckdb"``, ``"spark"``)."""
        ...

    def create_db_api(self) -> DatabaseAPISubClass:
        """Return a new Splink database API for one linkage run.

        A new one per run keeps runs independent: Splink caches intermediate tables
        on the API object, and a cache shared between runs on different data would be
        wrong.
        """
        ...


@dataclass(frozen=True)
class DuckDBBackend:
    """Run Splink on an in-process DuckDB database (the default).

    Parameters
    ----------
    connection
        ``":memory:"`` (default) or a path to a DuckDB file for runs that do not fit in
        memory.
    threads
        Worker threads for DuckDB; ``None`` lets DuckDB use every core.
    memory_limit
        DuckDB memory limit such as ``"8GB"``; ``None`` keeps DuckDB's default (80% of RAM).
    """

    connection: str = ":memory:"
    threads: int | None = None
    memory_limit: str | None = None
    name: str = "duckdb"

    def create_db_api(self) -> DatabaseAPISubClass:
        """Open a DuckDB connection with the configured limits and wrap it for Splink."""
        import duckdb
        from splink import DuckDBAPI

        con = duckdb.connect(self.connection)
        if self.threads is not None:
            con.execute(f"SET threads = {int(self.threads)}")
        if self.memory_limit is not None:
            con.execute("SET memory_limit = ?", [self.memory_limit])
        return DuckDBAPI(connection=con)
