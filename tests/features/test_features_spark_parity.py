"""The feature build gives identical family features on Spark (local mode) and DuckDB, from the
one definition (the generated DuckDB SQL, transpiled to Spark SQL by sqlglot)."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from random_estate import DATES, random_estate

from features.build import build_family_features_many
from features.engines import DuckDBEngine, SparkEngine, engine_for, to_spark_sql
from linkage.spark import local_spark_session, spark_available

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    if not spark_available():
        reason = "Java 17 (`java` on PATH) and pyspark are needed for the Spark feature engine"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must provide them")
        pytest.skip(reason)
    # one partition and no adaptive planning: the tables are tiny and Spark's cost is per task
    return local_spark_session(shuffle_partitions=1, adaptive=False)


def test_spark_and_duckdb_give_identical_family_features(spark) -> None:
    estate = random_estate(seed=11, people=150)
    for families in (estate["families"], estate["snapshots"]):
        args = (estate["events"], families, estate["people"], DATES)
        on_duckdb = build_family_features_many(*args, engine=DuckDBEngine())
        on_spark = build_family_features_many(*args, engine=SparkEngine(spark))
        assert len(on_duckdb) > 50
        pd.testing.assert_frame_equal(on_spark, on_duckdb)


def test_engines_are_chosen_by_name_and_the_sql_is_transpiled() -> None:
    assert engine_for("duckdb").name == "duckdb"
    with pytest.raises(ValueError, match="needs a SparkSession"):
        engine_for("spark")
    with pytest.raises(ValueError, match="unknown feature engine"):
        engine_for("polars")
    spark_sql = to_spark_sql("SELECT starts_with(event_type, 'police.') AS p FROM ev")
    assert "STARTSWITH" in spark_sql.upper()
