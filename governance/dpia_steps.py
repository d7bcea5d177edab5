"""Steps 2 and 4 of the DPIA (description; necessity and proportionality), from the register,
the governance profile and this run's aggregate facts."""

from __future__ import annotations

from safeguard.dpia.register import DpiaRegister
from safeguard.governance.blocks import (
    NOT_RUN,
    files_table,
    firewall_table,
    fmt,
    processors_section,
    quarantine_table,
    yes_no,
)
from safeguard.governance.document import Bullets, Fields, Paragraph, Section, Table
from safeguard.governance.facts import RunFacts
from safeguard.governance.profile import GovernanceProfile

__all__ = ["describe_processing", "necessity_and_proportionality"]


def describe_processing(
    register: DpiaRegister, profile: GovernanceProfile, facts: RunFacts
) -> Section:
    """ICO template step 2: nature, scope, context and purposes."""
    dsas = Table(
        ("Partner", "File", "Agreement", "Signed", "Review"),
        tuple(
            (d.partner, d.file, d.reference, fmt(d.signed_on), fmt(d.review_date))
            for d in register.data_sharing_agreements.values()
        ),
        caption="Sources and data-sharing agreements",
    )
    activities = Table(
        ("Activity", "What is done", "Recipients"),
        tuple(
            (n, a.description, "; ".join(a.recipients))
            for n, a in register.processing_activities.items()
        ),
    )
    categories = Table(
        ("Data category", "Description", "Special category", "Criminal offence"),
        tuple(
            (n, c.description, yes_no(c.special_category), yes_no(c.criminal_offence))
            for n, c in register.data_categories.items()
            if c.personal
        ),
    )
    subjects = sorted({s for a in register.processing_activities.values() for s in a.data_subjects})
    flagged = sum(facts.flags_per_worker)
    return Section(
        "step2",
        "Step 2: Describe the processing",
        subsections=(
            Section(
                "nature",
                "Nature of the processing",
                (
                    Paragraph(
                        "Data is collected from partner extracts under data-sharing agreements, "
                        "checked at the door, pseudonymised, linked into people and families, "
                        "scored, and shown to the allocated practitioner. See the data-flow map."
                    ),
                    dsas,
                    activities,
                ),
            ),
            Section(
                "scope",
                "Scope of the processing",
                (
                    categories,
                    Bullets(tuple(f"Data subjects: {s}" for s in subjects)),
                    files_table(facts),
                    Fields(
                        (
                            ("Geographic area", profile.region),
                            (
                                "Families flagged this run",
                                fmt(flagged) if facts.flags_per_worker else NOT_RUN,
                            ),
                        )
                    ),
                ),
            ),
            Section("context", "Context of the processing", (Bullets(profile.context),)),
            Section(
                "purposes",
                "Purposes of the processing",
                (
                    Table(
                        ("Purpose", "Description"),
                        tuple((k, p.description) for k, p in register.purposes.items()),
                    ),
                    Bullets(tuple(f"Benefit: {b}" for b in profile.benefits)),
                ),
            ),
        ),
    )


def necessity_and_proportionality(
    register: DpiaRegister, profile: GovernanceProfile, facts: RunFacts
) -> Section:
    """ICO template step 4: lawful basis, necessity, minimisation, accuracy, retention,
    information, rights, processors and transfers."""
    bases = Table(
        (
            "Activity",
            "Lawful basis (Art 6)",
            "Art 9 and Sch 1 condition",
            "Art 10 basis",
            "Statutory gateways",
        ),
        tuple(
            (
                n,
                a.lawful_basis,
                a.special_category_condition or "not applicable",
                a.criminal_offence_basis or "not applicable",
                "; ".join(a.statutory_gateways) or "none",
            )
            for n, a in register.processing_activities.items()
        ),
    )
    apd = register.appropriate_policy_document
    retention = Table(
        ("Policy", "Applies to", "Retention"),
        tuple(
            (
                n,
                ", ".join(a for a, r in register.assets.items() if r.retention == n) or "-",
                p.summary(),
            )
            for n, p in register.retention.items()
        ),
    )
    return Section(
        "step4",
        "Step 4: Assess necessity and proportionality",
        subsections=(
            Section(
                "lawful-basis",
                "Lawful basis",
                (
                    bases,
                    Paragraph(
                        f"Appropriate policy document {apd.reference} v{apd.version} (review "
                        f"{fmt(apd.review_date)}): {apd.scope}"
                    ),
                ),
            ),
            Section("necessity", "Necessity", (Bullets(profile.necessity),)),
            Section(
                "minimisation",
                "Data minimisation",
                (
                    Bullets(profile.minimisation),
                    Bullets(tuple(f"Never processed: {p}" for p in register.prohibited_data)),
                    firewall_table(facts),
                ),
            ),
            Section("accuracy", "Accuracy", (Bullets(profile.accuracy), quarantine_table(facts))),
            Section("retention", "Retention", (retention,)),
            Section(
                "information",
                "Information to individuals",
                (Bullets(profile.information_to_individuals),),
            ),
            Section(
                "rights",
                "Data subject rights",
                (
                    Table(
                        ("Right", "How it is honoured"),
                        tuple((r.right, r.how) for r in profile.rights),
                    ),
                ),
            ),
            processors_section(profile),
            Section(
                "transfers",
                "International transfers",
                (
                    Fields(
                        (
                            (
                                "Any transfer outside the UK",
                                yes_no(register.international_transfers.any),
                            ),
                            ("Detail", register.international_transfers.detail),
                        )
                    ),
                ),
            ),
        ),
    )
