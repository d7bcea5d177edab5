"""Record linkage of people across agencies, and family formation (a plain library).

``link(records, keys=keyed(secret))`` gives every record a ``person_key``; ``form_families``
groups people into families over time (keys are always made with the caller's secret);
``evaluate_links``, ``evaluate_families`` and ``plausibility_findings`` judge the result;
``match_records`` scores new identities against linked records with the trained model (subject
access, objections). Imports nothing of this project: usable on any people table. Other
packages import from here only (``tests/test_imports_matrix.py``), never a module inside.
"""

from safeguard.linkage.addresses import resolve_addresses
from safeguard.linkage.backends import Backend, DuckDBBackend
from safeguard.linkage.blocking import BlockingPlan
from safeguard.linkage.config import (
    DEFAULT_BLOCKING_RULES,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    LinkageConfig,
    LinkageInputError,
)
from safeguard.linkage.dates import standardise_dob
from safeguard.linkage.families import FAMILY_COLUMNS, FamilyRules, form_families, form_families_at
from safeguard.linkage.keys import KeyFunction, keyed
from safeguard.linkage.linking import LINK_COLUMNS, LinkageResult, link, link_with_details
from safeguard.linkage.matching import MATCH_COLUMNS, match_records
from safeguard.linkage.quality import (
    LinkageScores,
    PlausibilityFinding,
    evaluate_families,
    evaluate_links,
    plausibility_findings,
)
from safeguard.linkage.spark import SparkBackend, spark_available
from safeguard.linkage.standardise import standardise_name, standardise_postcode

__all__ = [
    "DEFAULT_BLOCKING_RULES",
    "FAMILY_COLUMNS",
    "LINK_COLUMNS",
    "MATCH_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "Backend",
    "BlockingPlan",
    "DuckDBBackend",
    "FamilyRules",
    "KeyFunction",
    "LinkageConfig",
    "LinkageInputError",
    "LinkageResult",
    "LinkageScores",
    "PlausibilityFinding",
    "SparkBackend",
    "evaluate_families",
    "evaluate_links",
    "form_families",
    "form_families_at",
    "keyed",
    "link",
    "link_with_details",
    "match_records",
    "plausibility_findings",
    "resolve_addresses",
    "spark_available",
    "standardise_dob",
    "standardise_name",
    "standardise_postcode",
]
