"""The checklist in code: what every governance artefact must contain, in HTML and Markdown.

``REQUIRED_SECTIONS`` lists, per artefact, the headings and field labels that the ICO DPIA
template, UK GDPR Art 30 and the ATRS require. Some fields are required once per processing
activity or per risk; :func:`required_counts` expands those from the register and profile.
Builds call :func:`check_artefact` and refuse to write an incomplete artefact, and the tests
drive the same checklist, so removing a section fails both.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping

from safeguard.dpia.register import DpiaRegister
from safeguard.governance.profile import GovernanceProfile

__all__ = [
    "ARTEFACTS",
    "REQUIRED_PER_ACTIVITY",
    "REQUIRED_SECTIONS",
    "IncompleteArtefactError",
    "check_artefact",
    "required_counts",
    "visible_items",
]

REQUIRED_SECTIONS: dict[str, tuple[str, ...]] = {
    "dpia_report": (
        "Screening: why a DPIA is required",
        "Innovative technology or AI",
        "Data matching from multiple sources",
        "Large-scale profiling",
        "Special-category data",
        "Criminal-offence data",
        "Children or vulnerable people",
        "Step 1: Identify the need for a DPIA",
        "Step 2: Describe the processing",
        "Nature of the processing",
        "Scope of the processing",
        "Context of the processing",
        "Purposes of the processing",
        "Step 3: Consultation process",
        "Step 4: Assess necessity and proportionality",
        "Lawful basis",
        "Necessity",
        "Data minimisation",
        "Accuracy",
        "Retention",
        "Information to individuals",
        "Data subject rights",
        "Processors",
        "International transfers",
        "Step 5: Identify and assess risks",
        "Likelihood",
        "Severity",
        "Overall risk",
        "Step 6: Identify measures to reduce risk",
        "Effect on risk",
        "Residual risk",
        "Measure approved",
        "Controls evidenced by this run",
        "Step 7: Sign off and outcomes",
        "Measures approved by",
        "Residual risks approved by",
        "DPO advice provided",
        "DPO advice followed",
        "Consultation responses reviewed by",
        "This DPIA will be kept under review by",
        "ICO prior consultation required",
    ),
    "record_of_processing": (
        "Controller name and contact details",
        "Joint controllers",
        "Data Protection Officer",
        "Purposes of processing",
        "Categories of data subjects",
        "Categories of personal data",
        "Recipients",
        "International transfers",
        "Retention periods",
        "Security measures",
        "Processors",
        "Processing activities",
    ),
    "transparency_record": (
        "Tier 1: Summary information",
        "Name",
        "Description",
        "Website",
        "Contact email",
        "Organisation",
        "Function",
        "Phase",
        "Geographic region",
        "Tier 2: Detailed information",
        "2.1 Owner and responsibility",
        "Team",
        "Senior responsible owner",
        "External supplier",
        "Role of external supplier",
        "2.2 Description and rationale",
        "Scope",
        "Benefits",
        "Previous process",
        "Alternatives considered",
        "2.3 Decision-making process",
        "Process integration",
        "Provided information",
        "Frequency and scale of usage",
        "Human decisions and review",
        "Required training",
        "Appeals and review",
        "2.4 Tool specification",
        "System architecture",
        "Maintenance",
        "Model specification",
        "Model type",
        "Model task",
        "Model inputs",
        "Model outputs",
        "Performance metrics",
        "Data specification",
        "Data source",
        "Data collection",
        "Sensitive attributes",
        "Completeness and representativeness",
        "Data cleaning",
        "Data sharing agreement",
        "Data access and storage",
        "2.5 Risks, mitigations and impact assessments",
        "Impact assessments",
        "Risks and mitigations",
        "Metadata",
        "Identifier",
        "Standard version",
        "Date completed",
        "Date updated",
    ),
    "data_flow_map": (
        "Assets and stores",
        "Data flows between assets",
        "Where each data category flows",
        "Diagram",
    ),
    "review_pack": (
        "Outcome of this run",
        "What a reviewer can answer here",
        "Governance documents",
        "DPIA",
        "Record of processing",
        "Transparency record",
        "Data-flow map",
        "Run summary",
        "Validation gates",
        "Data quality",
        "Firewall log summary",
        "Quarantine summary",
        "Linkage quality",
        "Model performance",
        "Fairness",
        "Monitoring after go-live",
        "Flags",
        "Practitioners' judgements (override statistics)",
        "Audit trail",
        "Other reviewer documents",
    ),
}
ARTEFACTS = tuple(REQUIRED_SECTIONS)

#: Art 30 fields that the record of processing states for every processing activity.
REQUIRED_PER_ACTIVITY: tuple[str, ...] = (
    "Lawful basis (Art 6)",
    "Special-category condition (Art 9 and DPA 2018 Sch 1)",
    "Criminal-offence basis (Art 10 and DPA 2018 Sch 1)",
    "Appropriate policy document",
    "Statutory gateways",
    "Data subjects",
    "Data categories",
    "Activity recipients",
    "Activity retention",
    "DPIA reference",
)


class IncompleteArtefactError(RuntimeError):
    """A generated artefact lacks a required section or field (named in the message)."""


_TAG = re.compile(r"<[^>]+>")
_HTML_ITEM = re.compile(r"<(h[1-6]|th|td|caption|a)\b[^>]*>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_MD_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
_MD_ROW = re.compile(r"^\|(.*)\|\s*$", re.MULTILINE)
_MD_LINK = re.compile(r"\[([^\]]+)\]\(")
_MD_CAPTION = re.compile(r"^\*\*(.+)\*\*$", re.MULTILINE)


def _clean(text: str) -> str:
    return " ".join(text.split())


def visible_items(text: str, *, is_html: bool) -> list[str]:
    """The headings, table cells, captions and link texts of a rendered artefact.

    Required labels are matched against these whole items, not as substrings of the page,
    so a label cannot be satisfied by a word that happens to occur in a paragraph.
    """
    if is_html:
        return [_clean(html.unescape(_TAG.sub(" ", m.group(2)))) for m in _HTML_ITEM.finditer(text)]
    items = [_clean(m.group(1)) for m in _MD_HEADING.finditer(text)]
    items += [_clean(m.group(1)) for m in _MD_CAPTION.finditer(text)]
    items += [_clean(m.group(1)) for m in _MD_LINK.finditer(text)]
    for row in _MD_ROW.finditer(text):
        cells = re.split(r"(?<!\\)\|", row.group(1))
        items += [_clean(c.replace("\\|", "|")) for c in cells]
    return items


def required_counts(
    artefact: str, register: DpiaRegister, profile: GovernanceProfile
) -> dict[str, int]:
    """Each required string of ``artefact`` with the minimum number of times it must appear."""
    if artefact not in REQUIRED_SECTIONS:
        raise KeyError(f"{artefact!r} is not a governance artefact ({', '.join(ARTEFACTS)})")
    counts = dict.fromkeys(REQUIRED_SECTIONS[artefact], 1)
    if artefact == "record_of_processing":
        for label in REQUIRED_PER_ACTIVITY:
            counts[label] = len(register.processing_activities)
        for name in register.processing_activities:
            counts[name] = 1
    if artefact == "dpia_report":
        for risk in profile.risks:  # once in step 5, once in step 6
            counts[f"{risk.id} {risk.title}"] = 2
    return counts


def check_artefact(
    artefact: str,
    text: str,
    *,
    is_html: bool,
    register: DpiaRegister,
    profile: GovernanceProfile,
) -> list[str]:
    """Required strings missing from ``text`` (or present too few times); empty when complete."""
    found_items = Counter(visible_items(text, is_html=is_html))
    missing = []
    counts: Mapping[str, int] = required_counts(artefact, register, profile)
    for label, minimum in counts.items():
        found = found_items[label]
        if found < minimum:
            missing.append(label if minimum == 1 else f"{label} (found {found} of {minimum})")
    return missing
