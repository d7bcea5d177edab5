"""The feature build, the training frame (features + labels) and the scores are identical on
Spark (local mode) and DuckDB, from one definition (the generated DuckDB SQL, transpiled by
sqlglot) and one persisted model (applied on the executors with mapInPandas)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from random_estate import DATES, random_estate

from safeguard.features.build import build_family_features_many
from safeguard.features.dictionary import FEATURE_NAMES
from safeguard.features.engines import DuckDBEngine, SparkEngine, engine_for, to_spark_sql
from safeguard.features.outcomes import OUTCOME_EVENT_TYPES, build_training_frame
from safeguard.flags.flagging import score_families
from safeguard.linkage.spark import local_spark_session, spark_available
from safeguard.models.estimator import RiskModel
from safeguard.models.scoring_engines import (
    LocalScoring,
    SparkScoring,
    on_engine,
    scoring_engine_for,
)

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


@pytest.fixture(scope="module")
def spells(spark) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Family features of one random estate's spells, built on DuckDB and on Spark."""
    estate = random_estate(seed=11, people=150)
    args = (estate["events"], estate["families"], estate["people"], DATES)
    return (
        build_family_features_many(*args, engine=DuckDBEngine()),
        build_family_features_many(*args, engine=SparkEngine(spark)),
    )


def test_spark_and_duckdb_give_identical_family_features(spells) -> None:
    """Family spells, as scoring uses them (the snapshots are covered by the training frame)."""
    on_duckdb, on_spark = spells
    assert len(on_duckdb) > 50
    pd.testing.assert_frame_equal(on_spark, on_duckdb)


def test_spark_and_duckdb_give_identical_training_frames(spark) -> None:
    """Features at past dates plus the labels (open cases, outcomes, newborns) on both engines."""
    estate = random_estate(seed=5, people=150)
    events = estate["events"]
    # fewer, closed social care episodes, so that most families are not open at the dates
    care = events["event_type"].str.startswith("social_care.").to_numpy(dtype=bool)
    outcome = events["event_type"].isin(OUTCOME_EVENT_TYPES).to_numpy(dtype=bool)
    events = events.loc[~care | outcome | (np.arange(len(events)) % 8 == 0)].copy()
    events["end_date"] = events["end_date"].fillna(events["event_date"] + pd.Timedelta(days=30))
    args = (events, estate["snapshots"], estate["people"], DATES)
    kwargs = {"outcome_families": estate["families"], "extract_date": DATES[-1]}
    on_duckdb = build_training_frame(*args, **kwargs, engine=DuckDBEngine())
    on_spark = build_training_frame(*args, **kwargs, engine=SparkEngine(spark))
    assert len(on_duckdb) > 50 and on_duckdb["label"].any()
    pd.testing.assert_frame_equal(on_spark, on_duckdb)


def test_spark_and_duckdb_give_identical_scores(spark, spells) -> None:
    """Features built and scored on Spark (the model applied with mapInPandas on two
    partitions) equal features built on DuckDB and scored here, float for float."""
    on_duckdb, on_spark = spells
    rng = np.random.default_rng(0)
    X = on_duckdb[list(FEATURE_NAMES)]
    y = (rng.random(len(X)) < 0.3).astype(int)
    cut = int(len(X) * 0.7)
    model = RiskModel(n_estimators=15, min_child_samples=5, num_leaves=4).fit(
        X.iloc[:cut], y[:cut], X_calib=X.iloc[cut:], y_calib=y[cut:]
    )
    prob, log_odds = LocalScoring().predict(model, on_duckdb)
    prob_s, log_odds_s = SparkScoring(spark, partitions=2).predict(model, on_spark)
    assert len(np.unique(log_odds)) > 5
    np.testing.assert_array_equal(prob_s, prob)
    np.testing.assert_array_equal(log_odds_s, log_odds)
    kwargs = {"model_version": "v", "as_of": DATES[-1], "postcode_districts": pd.Series()}
    here = score_families(model, on_duckdb, **kwargs)
    there = score_families(on_engine(model, scoring_engine_for("spark", session=spark)),
                           on_spark, **kwargs)  # fmt: skip
    assert len(here) > 20
    pd.testing.assert_frame_equal(there, here)


def test_engines_are_chosen_by_name_and_the_sql_is_transpiled() -> None:
    assert engine_for("duckdb").name == "duckdb"
    with pytest.raises(ValueError, match="needs a SparkSession"):
        engine_for("spark")
    with pytest.raises(ValueError, match="unknown feature engine"):
        engine_for("polars")
    assert scoring_engine_for("duckdb").name == "duckdb"
    with pytest.raises(ValueError, match="needs a SparkSession"):
        scoring_engine_for("spark")
    with pytest.raises(ValueError, match="unknown scoring engine"):
        scoring_engine_for("polars")
    spark_sql = to_spark_sql("SELECT starts_with(event_type, 'police.') AS p FROM ev")
    assert "STARTSWITH" in spark_sql.upper()
