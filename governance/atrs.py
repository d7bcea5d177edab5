"""The Algorithmic Transparency Recording Standard record (Tier 1 and Tier 2, v3 fields).

Narrative fields come from the governance profile; the data specification comes from the
register (partners, agreements, categories, retention) with this run's completeness figures;
the model specification quotes the measured evaluation and fairness headlines.
"""

from __future__ import annotations

from safeguard.dpia.register import DpiaRegister
from safeguard.governance.blocks import (
    NOT_RUN,
    categories_of,
    fairness_fields,
    fmt,
    linkage_table,
    model_fields,
)
from safeguard.governance.document import (
    Bullets,
    Document,
    Fields,
    Links,
    Paragraph,
    Section,
    Table,
)
from safeguard.governance.facts import RunFacts
from safeguard.governance.profile import GovernanceProfile

__all__ = ["build_transparency_record"]


def _dataset(register: DpiaRegister, landing: str, facts: RunFacts) -> Section:
    record = register.assets[landing]
    dsa = register.data_sharing_agreements[record.data_sharing_agreement or ""]
    stored = [
        n
        for n, a in register.assets.items()
        if not a.external and a.data_sharing_agreement == record.data_sharing_agreement
    ]
    sensitive = [
        c
        for c in record.data_categories
        if register.data_categories[c].special_category
        or register.data_categories[c].criminal_offence
        or register.data_categories[c].protected_characteristic
    ]
    counts = next((f for f in facts.files if f.file == dsa.file), None)
    completeness = (
        f"{counts.rows_accepted:,} of {counts.rows_read:,} rows accepted this run "
        f"({counts.rows_quarantined:,} quarantined). Representativeness is audited by group "
        "in the fairness audit."
        if counts
        else NOT_RUN
    )
    dropped = sum(1 for d in facts.firewall if d.file == dsa.file)
    retention = "; ".join(sorted({register.retention_for(s).summary() for s in stored}))
    return Section(
        f"data-{landing}",
        dsa.file,
        (
            Fields(
                (
                    ("Data source", dsa.partner),
                    (
                        "Data collection",
                        f"Monthly full extract ({dsa.file}) under the landing contract",
                    ),
                    ("Data categories", ", ".join(record.data_categories)),
                    ("Sensitive attributes", ", ".join(sensitive) or "none"),
                    ("Completeness and representativeness", completeness),
                    (
                        "Data cleaning",
                        f"Firewall ({dropped} column(s) dropped this run); quarantine on required, "
                        "type, enum, duplicate-key and row-shape rules; validation suite",
                    ),
                    (
                        "Data sharing agreement",
                        f"{dsa.reference} (signed {fmt(dsa.signed_on)}, review {fmt(dsa.review_date)})",
                    ),
                    (
                        "Data access and storage",
                        f"Identities in the restricted vault; pseudonymised rows in {', '.join(stored)}"
                        f"; retention {retention or 'see register'}",
                    ),
                )
            ),
        ),
    )


def build_transparency_record(
    register: DpiaRegister, profile: GovernanceProfile, facts: RunFacts
) -> Document:
    """The ATRS record as a :class:`~safeguard.governance.document.Document`."""
    atrs = profile.atrs
    landing = [n for n, a in register.assets.items() if a.external and a.data_sharing_agreement]
    inputs = [n for n in ("family_features",) if n in register.assets]
    model_version = facts.model.version if facts.model else NOT_RUN
    tier1 = Section(
        "tier1",
        "Tier 1: Summary information",
        (
            Fields(
                (
                    ("Name", atrs.name),
                    ("Description", atrs.description),
                    ("Website", atrs.website),
                    ("Contact email", atrs.contact_email),
                    ("Organisation", atrs.organisation),
                    ("Function", atrs.function),
                    ("Phase", atrs.phase),
                    ("Geographic region", profile.region),
                )
            ),
        ),
    )
    owner = Section(
        "owner",
        "2.1 Owner and responsibility",
        (
            Fields(
                (
                    ("Organisation", atrs.organisation),
                    ("Team", atrs.team),
                    ("Senior responsible owner", atrs.senior_responsible_owner),
                    ("External supplier", atrs.external_supplier),
                    ("Role of external supplier", atrs.supplier_role),
                    ("Terms of access to data", atrs.data_access_terms),
                )
            ),
        ),
    )
    rationale = Section(
        "rationale",
        "2.2 Description and rationale",
        (
            Fields(
                (
                    ("Detailed description", atrs.description),
                    ("Scope", atrs.scope),
                    ("Benefits", "; ".join(profile.benefits)),
                    ("Previous process", atrs.previous_process),
                    ("Alternatives considered", "; ".join(atrs.alternatives_considered)),
                )
            ),
        ),
    )
    flagged = f"{sum(facts.flags_per_worker):,} flags across {len(facts.flags_per_worker)} practitioners this run"
    decisions = (
        f"{facts.overrides.judgements:,} decisions recorded: "
        + ", ".join(f"{k} {v:.0%}" for k, v in sorted(facts.overrides.shares.items()))
        if facts.overrides
        else "No decisions recorded yet"
    )
    process = Section(
        "process",
        "2.3 Decision-making process",
        (
            Fields(
                (
                    ("Process integration", atrs.process_integration),
                    ("Provided information", atrs.provided_information),
                    (
                        "Frequency and scale of usage",
                        f"{atrs.frequency_and_scale} "
                        f"{flagged if facts.flags_per_worker else ''}".strip(),
                    ),
                    (
                        "Human decisions and review",
                        f"{atrs.human_decisions_and_review} {decisions}.",
                    ),
                    ("Required training", atrs.training),
                    ("Appeals and review", atrs.appeals),
                )
            ),
        ),
    )
    model = Section(
        "model",
        "Model specification",
        (
            Fields(
                (
                    ("Model name", atrs.name),
                    ("Model version", model_version),
                    ("Model type", atrs.model_type),
                    ("Model task", atrs.model_task),
                    (
                        "Model inputs",
                        "Point-in-time family features from "
                        + (", ".join(categories_of(register, inputs)) or "agency events")
                        + ". Protected characteristics are never inputs; the variable list is "
                        "in the model card.",
                    ),
                    ("Model outputs", atrs.model_outputs),
                )
            ),
        ),
        subsections=(
            Section(
                "performance",
                "Performance metrics",
                (
                    model_fields(facts),
                    fairness_fields(facts),
                    Paragraph("Record linkage (Splink) is a second model; its quality this run:"),
                    linkage_table(facts),
                ),
            ),
        ),
    )
    tool = Section(
        "tool",
        "2.4 Tool specification",
        (
            Fields(
                (
                    ("System architecture", atrs.architecture),
                    ("Phase", atrs.phase),
                    ("Maintenance", atrs.maintenance),
                )
            ),
        ),
        subsections=(
            model,
            Section(
                "data",
                "Data specification",
                subsections=tuple(_dataset(register, n, facts) for n in landing),
            ),
        ),
    )
    assessments = Table(
        ("Impact assessment", "Date", "Link", "Summary"),
        (
            (
                f"DPIA {register.dpia.reference} v{register.dpia.version}",
                fmt(register.dpia.approved_on),
                "dpia_report.html",
                "ICO template, seven steps; rebuilt every run",
            ),
            *((a.name, fmt(a.date), a.link, a.summary) for a in atrs.impact_assessments),
        ),
    )
    risks = Table(
        ("Risk", "Mitigations"),
        tuple(
            (r.title, "; ".join(profile.controls[m].name for m in r.measures))
            for r in profile.risks
        ),
    )
    sections = (
        tier1,
        Section(
            "tier2",
            "Tier 2: Detailed information",
            subsections=(
                owner,
                rationale,
                process,
                tool,
                Section(
                    "risks",
                    "2.5 Risks, mitigations and impact assessments",
                    subsections=(
                        Section("assessments", "Impact assessments", (assessments,)),
                        Section("mitigations", "Risks and mitigations", (risks,)),
                    ),
                ),
            ),
        ),
        Section(
            "metadata",
            "Metadata",
            (
                Fields(
                    (
                        ("Identifier", atrs.identifier),
                        ("Standard version", atrs.standard_version),
                        ("Date completed", fmt(atrs.date_completed)),
                        ("Date updated", fmt(facts.timestamp.date())),
                    )
                ),
                Links((("DPIA", "dpia_report.html", ""), ("Review pack", "review_pack.html", ""))),
                Bullets(("Published with the model card and fairness audit.",)),
            ),
        ),
    )
    return Document(
        "transparency_record",
        f"Algorithmic transparency record: {atrs.name}",
        atrs.description,
        Fields(
            (
                ("Organisation", atrs.organisation),
                ("Run", facts.run_id or NOT_RUN),
                ("Generated", fmt(facts.timestamp)),
            )
        ),
        sections,
    )
