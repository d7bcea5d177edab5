"""The asset groups of the code location (Dagster wiring names only; imports nothing).

The landing files, warehouse tables and artefact names the assets share are in
:mod:`safeguard.contracts.tables`; data-directory paths in :mod:`safeguard.contracts.layout`.
"""

from __future__ import annotations

# Asset groups that the monthly scoring job leaves out (they run as their own jobs).
GOVERNANCE_GROUP = "governance"
HISTORY_GROUP = "history"  # partitioned by as-of month: run as backfills
MONITORING_GROUP = "monitoring"
