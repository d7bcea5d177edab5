"""Names and the Data Docs publisher shared by the Great Expectations checks (no definitions)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from safeguard.contracts.layout import DataDir
from safeguard.expectations import build_data_docs

if TYPE_CHECKING:
    from safeguard.pipelines.resources import Warehouse

GX_CHECK = "gx_suite"


def publish_data_docs(warehouse: Warehouse) -> Path:
    """Static GX Data Docs for reviewers, from the aggregate-only results on disk."""
    results = sorted(warehouse.artefact_dir("validation").glob("*.json"))
    return build_data_docs(results, DataDir(warehouse.root).data_docs)
