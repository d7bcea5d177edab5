"""Warehouse reads shared by several assets (no Dagster, no asset imports).

Each takes the warehouse as the calling asset may read it (:class:`~safeguard.pipelines.resources.
DeclaredReads`), so a table read here must be declared by every asset that calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from safeguard.contracts.tables import AGENCY_SOURCES, date_column

if TYPE_CHECKING:
    from safeguard.pipelines.resources import Warehouse


def residence_observations(warehouse: Warehouse) -> pd.DataFrame:
    """One row per linked agency record: who was seen at which address on which date.

    Reads ``record_links`` and every ``<source>_records`` table.
    """
    record_links = warehouse.read_table(
        "record_links", columns=["record_pseudo", "person_key", "source"]
    )
    frames = []
    for source in AGENCY_SOURCES:
        cols = ["record_pseudo", "address_key", date_column(source)]
        if source == "housing":
            cols.append("tenancy_ref")
        df = warehouse.read_table(f"{source}_records", columns=cols).rename(
            columns={date_column(source): "event_date"}
        )
        df["group_key"] = df.pop("tenancy_ref") if "tenancy_ref" in df else pd.NA
        df["source"] = source
        frames.append(df)
    residence = pd.concat(frames, ignore_index=True).merge(
        record_links[["record_pseudo", "person_key"]], on="record_pseudo"
    )
    return residence.drop(columns=["record_pseudo"])


def optional_table(warehouse: Warehouse, name: str) -> pd.DataFrame | None:
    """A table that may not exist yet (first run), or None."""
    return warehouse.read_table(name) if warehouse.table_exists(name) else None
