"""Where the approved model scores families: in this process, or on Spark beside the features.

The model is the persisted one (``safeguard.models.registry.load_risk_model``) and the rows are the
``family_features`` built by either feature engine (``safeguard.features.engines``) from the one feature
definition. A scoring engine returns each row's calibrated probability and log-odds:

* :class:`LocalScoring` (``"duckdb"``, the default) calls the model in this process.
* :class:`SparkScoring` (``"spark"``) ships the model to the executors once (a broadcast) and
  applies it to each partition with ``mapInPandas``; a model's score of a row depends on that
  row alone, so every score is the same float as in this process, whatever the partitioning.

Select one by name with :func:`scoring_engine_for`, as the feature engine is selected, and hand
:func:`on_engine` of the model to ``safeguard.flags.flagging.score_families``: ranking, bands and the
output table stay in one place whatever engine computed the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from safeguard.models.estimator import ScoringModel, as_matrix

__all__ = ["LocalScoring", "ScoringEngine", "SparkScoring", "on_engine", "scoring_engine_for"]

_ROW = "_safeguard_row"


class ScoringEngine(Protocol):
    """Computes a model's calibrated probability and log-odds for rows of features."""

    @property
    def name(self) -> str:
        """Short engine name for metadata (``"duckdb"``, ``"spark"``)."""
        ...

    def predict(self, model: ScoringModel, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(probability, log_odds)`` for ``rows``, in their order."""
        ...


def _scores(model: ScoringModel, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """What ``score_families`` reads from a model, computed the same way on every engine."""
    probability = np.asarray(model.predict_proba(X)[:, 1], dtype=float)
    return probability, np.asarray(model.decision_function(X), dtype=float)


@dataclass(frozen=True)
class LocalScoring:
    """The model called in this process (the default, beside DuckDB)."""

    @property
    def name(self) -> str:
        """``"duckdb"``: the single-machine path, named like the feature engine."""
        return "duckdb"

    def predict(self, model: ScoringModel, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Score ``rows`` here."""
        return _scores(model, rows)


@dataclass(frozen=True)
class SparkScoring:
    """The model applied on Spark executors with ``mapInPandas``.

    Only the model's feature columns travel (as float64, missing as NaN, through Arrow), with
    a row number to put the results back in order. Python workers must import this package
    (``safeguard.linkage.spark.local_spark_session`` runs them on the driver's interpreter).

    Attributes
    ----------
    session : pyspark.sql.SparkSession
    partitions : int, optional
        Repartition the rows before scoring (default: as Spark created them).
    """

    session: Any  # pyspark.sql.SparkSession (not imported unless used)
    partitions: int | None = None

    @property
    def name(self) -> str:
        """``"spark"``."""
        return "spark"

    def predict(self, model: ScoringModel, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Score ``rows`` on the executors; results are returned in the order of ``rows``."""
        import pyarrow as pa

        names = [str(n) for n in model.feature_names_in_]
        frame = as_matrix(rows, names).reset_index(drop=True)
        frame.insert(0, _ROW, np.arange(len(frame), dtype=np.int64))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        data = self.session.createDataFrame(table)
        if self.partitions:
            data = data.repartition(self.partitions)
        shipped = self.session.sparkContext.broadcast(model)

        def score(batches: Any) -> Any:
            fitted = shipped.value
            for batch in batches:
                probability, log_odds = _scores(fitted, batch[names].astype("float64"))
                yield pd.DataFrame(
                    {_ROW: batch[_ROW], "probability": probability, "log_odds": log_odds}
                )

        try:
            schema = f"{_ROW} long, probability double, log_odds double"
            out = data.mapInPandas(score, schema=schema).toArrow().to_pandas()
        finally:
            shipped.unpersist()
        out = out.sort_values(_ROW)
        if not np.array_equal(out[_ROW].to_numpy(), np.arange(len(frame))):
            raise RuntimeError(f"Spark scored {len(out)} rows of {len(frame)}")
        return out["probability"].to_numpy(dtype=float), out["log_odds"].to_numpy(dtype=float)


def scoring_engine_for(name: str, *, session: Any = None) -> ScoringEngine:
    """The scoring engine called ``name`` (``"duckdb"`` or ``"spark"``; Spark needs ``session``)."""
    if name == "duckdb":
        return LocalScoring()
    if name == "spark":
        if session is None:
            raise ValueError("the spark scoring engine needs a SparkSession")
        return SparkScoring(session)
    raise ValueError(f"unknown scoring engine {name!r}: expected 'duckdb' or 'spark'")


class _OnEngine:
    """A model whose ``predict_proba`` and ``decision_function`` are computed by an engine.

    Both come from one pass of the engine: the last rows scored are remembered, so the second
    call on the same frame costs nothing.
    """

    def __init__(self, model: ScoringModel, engine: ScoringEngine) -> None:
        self.model, self.engine = model, engine
        self.feature_names_in_ = model.feature_names_in_
        self.classes_ = model.classes_
        self._last: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None

    def _predict(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if self._last is None or self._last[0] is not rows:
            self._last = (rows, *self.engine.predict(self.model, rows))
        return self._last[1], self._last[2]

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape ``(n, 2)``."""
        probability = self._predict(rows)[0]
        return np.c_[1.0 - probability, probability]

    def decision_function(self, rows: pd.DataFrame) -> np.ndarray:
        """The model's log-odds (its ranking score)."""
        return self._predict(rows)[1]


def on_engine(model: ScoringModel, engine: ScoringEngine) -> Any:
    """``model`` scoring on ``engine``: pass it to ``score_families`` in the model's place."""
    return model if isinstance(engine, LocalScoring) else _OnEngine(model, engine)
