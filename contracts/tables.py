"""Names of the warehouse tables every package shares (no logic, no I/O).

The landing files of a drop and the warehouse tables they land in, the ledgers that account
for every input row, the source name the objections register is linked under and the approval
pointer's file name. Taken from the landing contract (:mod:`safeguard.contracts.landing`);
the pipeline's wiring, ingest and the admin commands use these instead of writing the names.
"""

from __future__ import annotations

from safeguard.contracts.landing import AGENCY_SOURCES, event_date_column
from safeguard.contracts.landing import REFERENCE_FILES as _CONTRACT_REFERENCE_FILES

__all__ = [
    "AGENCY_SOURCES",
    "APPROVED",
    "LANDING_FILES",
    "LEDGERS",
    "OBJECTIONS_SOURCE",
    "RECORDS",
    "REFERENCE_FILES",
    "date_column",
    "table_of",
]

#: The contract's reference files in the order a drop is ingested: the objections register
#: last, after the workers and areas (the same files as the contract's, checked below).
REFERENCE_FILES: tuple[str, ...] = ("workers", "areas", "objections")
if set(REFERENCE_FILES) != set(_CONTRACT_REFERENCE_FILES):  # pragma: no cover - contract edit
    raise RuntimeError(
        f"safeguard.contracts.tables.REFERENCE_FILES {REFERENCE_FILES} no longer match the landing "
        f"contract's reference files {_CONTRACT_REFERENCE_FILES}"
    )
#: Every file of a drop: the agency sources (contract order), then the reference files.
LANDING_FILES: tuple[str, ...] = AGENCY_SOURCES + REFERENCE_FILES
#: The ledgers that account for every input row.
LEDGERS = ("quarantine", "firewall_log", "row_accounting")
#: The warehouse table of each agency source.
RECORDS = tuple(f"{s}_records" for s in AGENCY_SOURCES)

#: The objections register is linked with the agencies' records under this source name.
OBJECTIONS_SOURCE = "objections"
#: The approval pointer (under the artefacts' ``models`` folder): written only when a model
#: passes both blocking gates.
APPROVED = "approved.json"


def table_of(name: str) -> str:
    """Warehouse table of a landing file (``police`` -> ``police_records``, ``workers``)."""
    return f"{name}_records" if name in AGENCY_SOURCES else name


def date_column(source: str) -> str:
    """The column that dates a record of ``source`` (the contract's ``event_date``)."""
    return event_date_column(source)
