"""Names shared by the wiring: landing files, warehouse tables, artefact files (no logic).

The one place the pipeline's assets take these lists from, so that no asset module imports
another. The agency sources and their date columns come from the landing contract
(:mod:`safeguard.contracts.landing`); imports nothing else of ours.
"""

from __future__ import annotations

from safeguard.contracts.landing import AGENCY_SOURCES, event_date_column

REFERENCE_FILES = ("workers", "areas", "objections")
LANDING_FILES = AGENCY_SOURCES + REFERENCE_FILES
LEDGERS = ("quarantine", "firewall_log", "row_accounting")
RECORDS = tuple(f"{s}_records" for s in AGENCY_SOURCES)

# The objections register is linked with the agencies' records under this source name.
OBJECTIONS_SOURCE = "objections"
# The approval pointer: written only when a model passes both blocking gates.
APPROVED = "approved.json"


def table_of(name: str) -> str:
    """Warehouse table of a landing file (``police`` -> ``police_records``, ``workers``)."""
    return f"{name}_records" if name in AGENCY_SOURCES else name


def date_column(source: str) -> str:
    """The column that dates a record of ``source`` (the contract's ``event_date``)."""
    return event_date_column(source)


# Asset groups that the monthly scoring job leaves out (they run as their own jobs).
GOVERNANCE_GROUP = "governance"
HISTORY_GROUP = "history"  # partitioned by as-of month: run as backfills
MONITORING_GROUP = "monitoring"
