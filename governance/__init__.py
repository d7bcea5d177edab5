"""Governance: reviewer artefacts (DPIA, Art 30 record, ATRS, data-flow map, review pack) and
data-subject rights (subject access, objection matching, retention purge).

Builds on ``dpia`` (register, audit trail), ``linkage`` (the trained model, standardisation)
and reads the data directory's DuckDB files directly; never imports dagster or ``pipelines``.
"""

from safeguard.governance.checklist import ARTEFACTS, REQUIRED_SECTIONS, IncompleteArtefactError
from safeguard.governance.facts import (
    AuditFacts,
    FairnessFacts,
    FileFacts,
    FirewallDrop,
    GateResult,
    ModelFacts,
    MonitoringFacts,
    OverrideFacts,
    QuarantineCount,
    RunFacts,
    collect_run_facts,
)
from safeguard.governance.matching import (
    LinkageIncomplete,
    MatchingUnavailable,
    match_objections,
    match_people,
)
from safeguard.governance.profile import GovernanceProfile, load_profile
from safeguard.governance.reports import build_governance_reports, build_report
from safeguard.governance.retention import PurgeReport, purge_expired
from safeguard.governance.sar import REDACTED, SarExport, subject_access, write_sar

__all__ = [
    "ARTEFACTS",
    "REDACTED",
    "REQUIRED_SECTIONS",
    "AuditFacts",
    "FairnessFacts",
    "FileFacts",
    "FirewallDrop",
    "GateResult",
    "GovernanceProfile",
    "IncompleteArtefactError",
    "LinkageIncomplete",
    "MatchingUnavailable",
    "ModelFacts",
    "MonitoringFacts",
    "OverrideFacts",
    "PurgeReport",
    "QuarantineCount",
    "RunFacts",
    "SarExport",
    "build_governance_reports",
    "build_report",
    "collect_run_facts",
    "load_profile",
    "match_objections",
    "match_people",
    "purge_expired",
    "subject_access",
    "write_sar",
]
