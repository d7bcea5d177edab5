"""Records in and out: validation, deterministic preparation, and the links table.

The model sees one row per distinct identity, ordered by the smallest (source, record_key)
holding it, so that nothing downstream depends on the order of the input rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from safeguard.linkage.clustering import ClusteringOutcome
from safeguard.linkage.config import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    LinkageConfig,
    LinkageInputError,
)
from safeguard.linkage.deterministic import (
    collapse_identical,
    components,
    must_link_groups,
    trusted_codes,
)
from safeguard.linkage.keys import KeyFunction, make_keys
from safeguard.linkage.standardise import standardise_records

__all__ = ["PreparedRecords", "links_frame", "person_keys", "prepare_records", "validate_records"]


def validate_records(records: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise LinkageInputError(
            f"records is missing required column(s) {missing}; expected "
            f"{list(REQUIRED_COLUMNS)} plus optional {list(OPTIONAL_COLUMNS)}"
        )
    codes = {}
    for column in ("source", "record_key"):
        codes[column], uniques = pd.factorize(records[column], use_na_sentinel=True)
        blank_values = np.flatnonzero(pd.Index(uniques).astype("string").str.strip() == "")
        blank = (codes[column] < 0) | np.isin(codes[column], blank_values)
        if blank.any():
            rows = np.flatnonzero(blank)[:5].tolist()
            raise LinkageInputError(
                f"records.{column} is missing in {int(blank.sum())} row(s) (positions {rows}); "
                "every record needs a source and a record_key to be linked and returned"
            )
    combined = codes["source"].astype(np.int64) * (len(records) + 1) + codes["record_key"]
    duplicated = pd.Series(combined).duplicated(keep=False)
    if duplicated.any():
        rows = np.flatnonzero(duplicated.to_numpy())[:5].tolist()
        raise LinkageInputError(
            f"(source, record_key) is not unique: {int(duplicated.sum())} rows share a key "
            f"(positions {rows}); de-duplicate the extract or make record_key unique per source"
        )


def person_keys(model_table: pd.DataFrame, labels: np.ndarray, keys: KeyFunction) -> np.ndarray:
    """Opaque key per identity: ``keys("person", "<source>\\x1f<record_key>")`` of its cluster's
    smallest record.

    ``model_table`` rows are in (source, record_key) order of their representative, and a
    representative is the smallest of its identical records, so a cluster's first row holds
    its smallest record: the key depends only on the cluster (and the secret behind
    ``keys``), not on input order or run.
    """
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    sources = model_table["source"].to_numpy(dtype=object)[first]
    record_keys = model_table["record_key"].to_numpy(dtype=object)[first]
    anchors = [f"{s}\x1f{k}" for s, k in zip(sources, record_keys, strict=True)]
    return np.array(make_keys(keys, "person", anchors), dtype=object)[inverse]


def links_frame(
    records: pd.DataFrame, prepared: PreparedRecords, outcome: ClusteringOutcome, keys: KeyFunction
) -> pd.DataFrame:
    rep = prepared.rep_of_record
    labels = outcome.labels
    sizes = np.bincount(labels[rep], minlength=labels.max() + 1 if labels.size else 0)
    links = pd.DataFrame(
        {
            "source": records["source"].to_numpy(),
            "record_key": records["record_key"].to_numpy(),
            "person_key": pd.array(
                person_keys(prepared.model_table, labels, keys)[rep], dtype="string"
            ),
            "cluster_size": pd.array(sizes[labels[rep]], dtype="Int64"),
            "linkage_confidence": pd.array(outcome.confidence[rep], dtype="Float64"),
        }
    )
    if len(links) != len(records):  # nothing may be lost between input and output
        raise AssertionError(f"linkage returned {len(links)} rows for {len(records)} records")
    return links


@dataclass(frozen=True)
class PreparedRecords:
    """Standardised records (input order) and the distinct identities the model will see."""

    table: pd.DataFrame
    model_table: pd.DataFrame  # one row per distinct identity in key order, unique_id 0..k-1
    rep_of_record: np.ndarray  # record -> row of model_table
    record_groups: np.ndarray  # must-link group per record
    groups: np.ndarray  # must-link group per model_table row


def _key_rank(table: pd.DataFrame) -> np.ndarray:
    """Position of each record in (source, record_key) order, without sorting the table."""
    source = pd.factorize(table["source"], sort=True)[0]
    key = pd.factorize(table["record_key"], sort=True)[0]
    order = np.lexsort((key, source))
    rank = np.empty(len(table), dtype=np.int64)
    rank[order] = np.arange(len(table))
    return rank


def prepare_records(records: pd.DataFrame, config: LinkageConfig) -> PreparedRecords:
    table = standardise_records(records.reset_index(drop=True), OPTIONAL_COLUMNS)
    n = len(table)
    rank = _key_rank(table)
    # Deterministic rules at record level; the model sees one row per distinct identity.
    record_groups = must_link_groups(n, [trusted_codes(table, c) for c in config.must_link_on])
    representative = collapse_identical(table, rank)
    reps = np.flatnonzero(representative == np.arange(n))
    reps = reps[np.argsort(rank[reps])]  # key order: unique ids do not depend on input order
    row_of = np.empty(n, dtype=np.int64)
    row_of[reps] = np.arange(len(reps))
    rep_of_record = row_of[representative]
    model_table = table.iloc[reps].reset_index(drop=True)
    model_table["unique_id"] = np.arange(len(reps), dtype=np.int64)
    leader = np.empty(n, dtype=np.int64)
    leader[record_groups[::-1]] = np.arange(n)[::-1]
    groups = components(len(reps), rep_of_record, rep_of_record[leader[record_groups]])
    return PreparedRecords(table, model_table, rep_of_record, record_groups, groups)
