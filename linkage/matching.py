"""Score new identities against records already linked, with a trained model (no relinking).

A subject access request or an objection names a person as they wrote it; the records it
should find were standardised and linked by :func:`safeguard.linkage.link`. :func:`match_records`
standardises the queries the *same* way and scores them against the known records with the
*same* trained Splink model (as saved by the linkage), so a query finds a record that an exact
search would miss (a typo, a nickname, a swapped date). Nothing is clustered or relinked: each
pair is scored on its own, and the caller maps the known records to their people.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from splink import Linker

from safeguard.linkage.backends import Backend, DuckDBBackend
from safeguard.linkage.config import OPTIONAL_COLUMNS, LinkageInputError
from safeguard.linkage.model import MODEL_COLUMNS
from safeguard.linkage.standardise import standardise_records

__all__ = ["MATCH_COLUMNS", "match_records"]

MATCH_COLUMNS = ("query_row", "known_row", "match_probability")
_IDENTIFIERS = ("first_name", "last_name", "dob")


def _tf_columns(model: Mapping[str, Any]) -> list[str]:
    columns = {
        level["tf_adjustment_column"]
        for comparison in model.get("comparisons", [])
        for level in comparison.get("comparison_levels", [])
        if level.get("tf_adjustment_column")
    }
    return sorted(columns)


def _standardised(frame: pd.DataFrame, first_id: int) -> pd.DataFrame:
    missing = [c for c in ("source", "record_key", *_IDENTIFIERS) if c not in frame.columns]
    if missing:
        raise LinkageInputError(f"records to match lack column(s) {missing}")
    table = standardise_records(frame, OPTIONAL_COLUMNS)
    table["unique_id"] = np.arange(first_id, first_id + len(table), dtype=np.int64)
    return table


def match_records(
    queries: pd.DataFrame,
    known: pd.DataFrame,
    model: Mapping[str, Any],
    *,
    floor: float = 0.5,
    backend: Backend | None = None,
) -> pd.DataFrame:
    """Every (query, known record) pair the trained model scores at ``floor`` or above.

    Parameters
    ----------
    queries, known
        Raw identity records: ``source, record_key, first_name, last_name, dob`` and any of
        ``postcode, address_line, sex, upn, nhs_number, agency_id`` (missing optional columns
        are empty). Both are standardised here as :func:`safeguard.linkage.link` standardises records.
    model
        The trained Splink model as saved by the linkage (its JSON settings, with its
        comparisons, blocking rules and term-frequency columns). Name frequencies are taken
        from ``known``, as in training.
    floor
        Lowest match probability returned.
    backend
        Where Splink runs; an in-memory DuckDB by default.

    Returns
    -------
    pandas.DataFrame
        ``query_row, known_row, match_probability``: positions (0-based) in ``queries`` and
        ``known``, one row per scored pair at or above ``floor``, in Splink's order.
    """
    known_table = _standardised(known.reset_index(drop=True), 0)
    query_table = _standardised(queries.reset_index(drop=True), len(known_table))
    db_api = (backend or DuckDBBackend()).create_db_api()
    known_sdf = db_api.register(
        pa.Table.from_pandas(known_table[list(MODEL_COLUMNS)], preserve_index=False),
        table_name="match_known",
    )
    query_sdf = db_api.register(
        pa.Table.from_pandas(query_table[list(MODEL_COLUMNS)], preserve_index=False),
        table_name="match_queries",
    )
    linker = Linker(known_sdf, dict(model), log_level=logging.WARNING)
    for column in _tf_columns(model):  # frequencies of names among the known records
        linker.table_management.compute_tf_table(column)
    predictions = linker.inference.predict_between(
        query_sdf, known_sdf, threshold_match_probability=floor, warning_mode="never"
    )
    pairs = predictions.query_sql(
        "SELECT unique_id_l, unique_id_r, match_probability FROM {this}"
    ).as_pandas_dataframe()
    predictions.drop_table_from_database_and_remove_from_cache()
    n_known = len(known_table)
    left, right = pairs["unique_id_l"].to_numpy(np.int64), pairs["unique_id_r"].to_numpy(np.int64)
    return pd.DataFrame(
        {
            "query_row": np.where(left >= n_known, left, right) - n_known,
            "known_row": np.where(left >= n_known, right, left),
            "match_probability": pairs["match_probability"].to_numpy(np.float64),
        }
    )
