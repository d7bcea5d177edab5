"""Splink on Spark: the scale-out engine behind the same :func:`safeguard.linkage.link`.

:class:`SparkBackend` implements :class:`safeguard.linkage.backends.Backend`, so selecting Spark is
configuration only: ``LinkageConfig(backend=SparkBackend())``. Splink's training, blocking
and scoring then run as Spark SQL; standardisation, the deterministic rules, the cannot-link
constraints and clustering stay local (pandas, SciPy and DuckDB), as described in
``docs/SCALE-OUT.md``.

Spark needs two things Splink does not set up for itself: its Scala UDF jar on the session
(otherwise Spark reports "Cannot resolve routine JARO_WINKLER") and a checkpoint directory
(Splink breaks query lineage with checkpoints). :func:`local_spark_session` does both.
pyspark is imported only when a session is built, so the library imports without it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from splink.internals.database_api import DatabaseAPISubClass

__all__ = ["SparkBackend", "SparkUnavailableError", "local_spark_session", "spark_available"]


class SparkUnavailableError(RuntimeError):
    """Spark cannot run here: Java or pyspark is missing, or the session lacks Splink's jar."""


def spark_available() -> bool:
    """True when a local Spark session can be started: ``java`` on PATH and pyspark importable.

    Checked without starting a JVM, so it is cheap enough for a test's skip condition.
    """
    return shutil.which("java") is not None and importlib.util.find_spec("pyspark") is not None


def local_spark_session(
    *,
    master: str = "local[2]",
    shuffle_partitions: int = 4,
    driver_memory: str = "2g",
    checkpoint_dir: str | None = None,
    adaptive: bool = True,
) -> SparkSession:
    """Start (or reuse) a quiet local Spark session ready for Splink.

    Parameters
    ----------
    master
        Spark master URL; ``local[N]`` runs N worker threads in this process's JVM.
    shuffle_partitions
        ``spark.sql.shuffle.partitions``. Spark's default of 200 makes every join of a
        small table pay for 200 tasks; a few per core suits local mode.
    driver_memory
        JVM heap of the driver (in local mode it also runs the tasks).
    checkpoint_dir
        Where Splink's checkpoints go; a new temporary directory when ``None``.
    adaptive
        Spark's adaptive query execution. It re-plans joins of large tables; on tables of a
        few hundred rows its extra planning is pure overhead (the parity test runs ~20%
        faster without it).

    Returns
    -------
    pyspark.sql.SparkSession

    Raises
    ------
    SparkUnavailableError
        When Java or pyspark is absent, or an already running session (which
        ``getOrCreate`` returns unchanged) does not load Splink's jar.
    """
    if not spark_available():
        raise SparkUnavailableError(
            "Spark needs Java 17 on PATH (`java`) and the pyspark package; install both or "
            "use safeguard.linkage.DuckDBBackend"
        )
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    # Python workers (scoring's mapInPandas) run this interpreter, so they import the same
    # packages; pyspark would otherwise start whatever `python3` is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName("safeguard-linkage")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(shuffle_partitions))
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # Splink writes no managed tables; keep Spark's warehouse out of the working dir.
        .config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "spark-warehouse"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.adaptive.enabled", str(adaptive).lower())
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    if checkpoint_dir is not None or spark.sparkContext.getCheckpointDir() is None:
        spark.sparkContext.setCheckpointDir(
            checkpoint_dir or tempfile.mkdtemp(prefix="splink_ckpt_")
        )
    _check_session(spark)  # a session started earlier without the jar is reused as it is
    return spark


def _check_session(spark: SparkSession) -> None:
    """Fail early, with the fix, when a caller's session lacks what Splink needs."""
    from splink.backends.spark import similarity_jar_location

    jar = similarity_jar_location().rsplit("/", 1)[-1]
    if jar not in spark.sparkContext.getConf().get("spark.jars", ""):
        raise SparkUnavailableError(
            f"the Spark session does not load Splink's UDF jar ({jar}); build it with "
            ".config('spark.jars', splink.backends.spark.similarity_jar_location()) or use "
            "safeguard.linkage.spark.local_spark_session()"
        )
    if spark.sparkContext.getCheckpointDir() is None:
        raise SparkUnavailableError(
            "the Spark session has no checkpoint directory, which Splink needs; call "
            "spark.sparkContext.setCheckpointDir(<path>) first"
        )


@dataclass(frozen=True)
class SparkBackend:
    """Run Splink on Spark (PySpark), for estates too large for one DuckDB process.

    Parameters
    ----------
    spark_session
        A session to use (a cluster's, say). It must load Splink's UDF jar and have a
        checkpoint directory (checked). ``None`` starts :func:`local_spark_session` on the
        first run and reuses it afterwards; stop it with ``SparkSession.getActiveSession()``.
    master, shuffle_partitions, driver_memory
        Passed to :func:`local_spark_session` when no session is given.
    break_lineage_method
        How Splink cuts Spark's query plans between steps: ``"parquet"`` (Splink's default
        outside Databricks: written under the checkpoint directory, safe for any size) or
        ``"persist"`` (cached in executor memory: fewer disk writes, for tables that fit).
    name
        Engine name for reports.
    """

    spark_session: Any = field(default=None, repr=False, compare=False)
    master: str = "local[2]"
    shuffle_partitions: int = 4
    driver_memory: str = "2g"
    break_lineage_method: str = "parquet"
    name: str = "spark"

    def session(self) -> SparkSession:
        """The Spark session runs use: the given one (checked) or a local one."""
        if self.spark_session is not None:
            _check_session(self.spark_session)
            return self.spark_session
        return local_spark_session(
            master=self.master,
            shuffle_partitions=self.shuffle_partitions,
            driver_memory=self.driver_memory,
        )

    def create_db_api(self) -> DatabaseAPISubClass:
        """Wrap a new session of :meth:`session` in Splink's ``SparkAPI`` (one per run)."""
        from splink.backends.spark import SparkAPI

        # A new session per run shares the JVM, jar and checkpoint directory but has its own
        # temporary views, so two runs cannot see each other's tables (as with DuckDB, where
        # every run opens a new connection).
        return SparkAPI(
            spark_session=self.session().newSession(),
            break_lineage_method=self.break_lineage_method,
        )
