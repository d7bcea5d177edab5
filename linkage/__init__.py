"""Record linkage of people across agencies, and family formation (a plain library).

``link(records)`` gives every record a ``person_key``; ``form_families`` groups people into
families over time; ``evaluate_links`` and ``plausibility_findings`` judge the result.
Imports nothing of this project: usable on any people table.
"""

from linkage.backends import Backend, DuckDBBackend
from linkage.config import DEFAULT_BLOCKING_RULES, LinkageConfig, LinkageInputError
from linkage.linking import LINK_COLUMNS, LinkageResult, link, link_with_details
from linkage.quality import (
    LinkageScores,
    PlausibilityFinding,
    evaluate_links,
    plausibility_findings,
)

__all__ = [
    "DEFAULT_BLOCKING_RULES",
    "LINK_COLUMNS",
    "Backend",
    "DuckDBBackend",
    "LinkageConfig",
    "LinkageInputError",
    "LinkageResult",
    "LinkageScores",
    "PlausibilityFinding",
    "evaluate_links",
    "link",
    "link_with_details",
    "plausibility_findings",
]
