"""Where the feature SQL runs: DuckDB on one machine, or Spark when one machine is not enough.

The feature query is written once (generated from the dictionary, in DuckDB's dialect, by
``safeguard.features.build.feature_sql``). An engine takes that query and the named input tables and
returns the result as pandas:

* :class:`DuckDBEngine` (the default) runs it in an in-process DuckDB.
* :class:`SparkEngine` transpiles it to Spark SQL with sqlglot and runs it on the caller's
  ``SparkSession`` (local mode in tests, a cluster in production), so both engines compute the
  features from one definition. pyspark is imported only when a Spark engine is used.

Select one by name with :func:`engine_for` (``"duckdb"`` or ``"spark"``), as the linkage
backend is selected, so the choice is configuration, not code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DuckDBEngine", "FeatureEngine", "SparkEngine", "engine_for", "to_spark_sql"]


class FeatureEngine(Protocol):
    """Runs one DuckDB-dialect query over named pandas tables and returns a pandas frame."""

    @property
    def name(self) -> str:
        """Short engine name for metadata (``"duckdb"``, ``"spark"``)."""
        ...

    def run(self, sql: str, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """Register ``tables`` under their names, run ``sql`` and return the result."""
        ...


@dataclass(frozen=True)
class DuckDBEngine:
    """In-process DuckDB (the default)."""

    threads: int = 2

    @property
    def name(self) -> str:
        """``"duckdb"``."""
        return "duckdb"

    def run(self, sql: str, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """Run ``sql`` on a fresh connection with ``tables`` registered as views."""
        con = duckdb.connect()
        try:
            con.execute(f"SET threads TO {int(self.threads)}")
            for name, frame in tables.items():
                con.register(name, frame)
            return con.execute(sql).df()
        finally:
            con.close()


@lru_cache(maxsize=32)
def to_spark_sql(sql: str) -> str:
    """``sql`` (DuckDB dialect) in Spark SQL, by sqlglot."""
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]


@dataclass(frozen=True)
class SparkEngine:
    """Spark SQL on ``session``; tables travel as Arrow and results come back as pandas.

    The session should use UTC and timestamps without time zone (see
    :func:`prepare_session`), so dates mean the same on both engines.
    """

    session: Any  # pyspark.sql.SparkSession (not imported unless used)

    @property
    def name(self) -> str:
        """``"spark"``."""
        return "spark"

    def run(self, sql: str, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """Create temporary views of ``tables``, run the transpiled ``sql``, collect as pandas."""
        import pyarrow as pa

        prepare_session(self.session)
        views = []
        try:
            for name, frame in tables.items():
                table = pa.Table.from_pandas(_spark_ready(frame), preserve_index=False)
                self.session.createDataFrame(table).createOrReplaceTempView(name)
                views.append(name)
            result = self.session.sql(to_spark_sql(sql)).toArrow()
        finally:
            for name in views:
                self.session.catalog.dropTempView(name)
        return result.to_pandas()


def prepare_session(session: SparkSession) -> None:
    """Make ``session`` read timestamps as DuckDB does: UTC, without time zone."""
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.conf.set("spark.sql.timestampType", "TIMESTAMP_NTZ")


def _spark_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns Spark accepts from Arrow: nanosecond timestamps to microseconds, all-null to str."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.astype("datetime64[us]")
        elif values.dtype == object and values.isna().all():
            out[column] = values.astype("string")
    return out


def engine_for(name: str, *, session: SparkSession | None = None) -> FeatureEngine:
    """The engine called ``name`` (``"duckdb"`` or ``"spark"``; Spark needs ``session``)."""
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        if session is None:
            raise ValueError("the spark feature engine needs a SparkSession")
        return SparkEngine(session)
    raise ValueError(f"unknown feature engine {name!r}: expected 'duckdb' or 'spark'")
