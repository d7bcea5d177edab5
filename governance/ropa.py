"""The record of processing activities (UK GDPR Art 30) from the DPIA register.

Art 30(1) fields come first (controller, joint controllers, DPO, purposes, subjects,
categories, recipients, transfers, retention, security); then, as good practice, one entry per
processing activity with its lawful basis, Art 9 / Sch 1 condition, Art 10 basis, appropriate
policy document, statutory gateways, the assets it produces and their retention.
"""

from __future__ import annotations

from safeguard.dpia.register import DpiaRegister
from safeguard.governance.blocks import categories_of, fmt, meta_fields, processors_section, yes_no
from safeguard.governance.document import Bullets, Document, Fields, Section, Table
from safeguard.governance.facts import RunFacts
from safeguard.governance.profile import GovernanceProfile

__all__ = ["build_record_of_processing"]


def _activity(register: DpiaRegister, name: str) -> Section:
    activity = register.processing_activities[name]
    assets = [a for a, r in register.assets.items() if r.processing_activity == name]
    needs_apd = bool(activity.special_category_condition or activity.criminal_offence_basis)
    apd = register.appropriate_policy_document
    policies = sorted({register.assets[a].retention for a in assets})
    return Section(
        f"activity-{name}",
        name,
        (
            Fields(
                (
                    ("Description", activity.description),
                    ("Purpose", register.purposes[activity.purpose].description),
                    ("Lawful basis (Art 6)", activity.lawful_basis),
                    (
                        "Special-category condition (Art 9 and DPA 2018 Sch 1)",
                        activity.special_category_condition or "not applicable",
                    ),
                    (
                        "Criminal-offence basis (Art 10 and DPA 2018 Sch 1)",
                        activity.criminal_offence_basis or "not applicable",
                    ),
                    (
                        "Appropriate policy document",
                        f"{apd.reference} v{apd.version}" if needs_apd else "not required",
                    ),
                    ("Statutory gateways", "; ".join(activity.statutory_gateways) or "none"),
                    (
                        "Data subjects",
                        "; ".join(activity.data_subjects) or "none (no personal data)",
                    ),
                    ("Data categories", ", ".join(categories_of(register, assets)) or "none"),
                    ("Activity recipients", "; ".join(activity.recipients)),
                    (
                        "Activity retention",
                        "; ".join(f"{p}: {register.retention[p].summary()}" for p in policies)
                        or "not applicable",
                    ),
                    ("Assets", ", ".join(assets) or "none"),
                    ("DPIA reference", f"{register.dpia.reference} v{register.dpia.version}"),
                )
            ),
        ),
    )


def build_record_of_processing(
    register: DpiaRegister, profile: GovernanceProfile, facts: RunFacts
) -> Document:
    """The Art 30 record as a :class:`~safeguard.governance.document.Document`."""
    controller = register.controller
    dpo = register.dpo
    subjects = sorted({s for a in register.processing_activities.values() for s in a.data_subjects})
    recipients = sorted({r for a in register.processing_activities.values() for r in a.recipients})
    personal = [(n, c) for n, c in register.data_categories.items() if c.personal]
    security = register.security_measures
    sections = (
        Section(
            "controller",
            "Controller name and contact details",
            (
                Fields(
                    (
                        ("Name", controller.name),
                        ("Address", controller.address),
                        ("ICO registration", controller.ico_registration),
                    )
                ),
            ),
            subsections=(
                Section(
                    "joint",
                    "Joint controllers",
                    (
                        Table(
                            ("Joint controller", "Role", "Contact"),
                            tuple((j.name, j.role, j.contact) for j in register.joint_controllers),
                            empty="None.",
                        ),
                    ),
                ),
                Section(
                    "dpo",
                    "Data Protection Officer",
                    (
                        Fields(
                            (
                                ("DPO", dpo.name),
                                ("Email", dpo.email),
                                ("Phone", fmt(dpo.phone)),
                                ("Postal address", fmt(dpo.address)),
                            )
                        ),
                    ),
                ),
            ),
        ),
        Section(
            "purposes",
            "Purposes of processing",
            (
                Table(
                    ("Purpose", "Description"),
                    tuple((k, p.description) for k, p in register.purposes.items()),
                ),
            ),
        ),
        Section("subjects", "Categories of data subjects", (Bullets(tuple(subjects)),)),
        Section(
            "categories",
            "Categories of personal data",
            (
                Table(
                    ("Category", "Description", "Special category", "Criminal offence"),
                    tuple(
                        (n, c.description, yes_no(c.special_category), yes_no(c.criminal_offence))
                        for n, c in personal
                    ),
                ),
            ),
        ),
        Section("recipients", "Recipients", (Bullets(tuple(recipients)),)),
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
                        ("Safeguards and detail", register.international_transfers.detail),
                    )
                ),
            ),
        ),
        Section(
            "retention",
            "Retention periods",
            (
                Table(
                    ("Policy", "Retention", "What it covers"),
                    tuple((n, p.summary(), p.description) for n, p in register.retention.items()),
                ),
            ),
        ),
        Section(
            "security",
            "Security measures",
            (
                Bullets(tuple(f"Technical: {m}" for m in security.technical)),
                Bullets(tuple(f"Organisational: {m}" for m in security.organisational)),
            ),
        ),
        processors_section(profile),
        Section(
            "activities",
            "Processing activities",
            subsections=tuple(_activity(register, n) for n in register.processing_activities),
        ),
    )
    return Document(
        "record_of_processing",
        f"Record of processing activities: {controller.name}",
        "Record of processing activities under UK GDPR Article 30, with the lawful basis, "
        "Schedule 1 condition and appropriate policy document for each activity.",
        meta_fields(register, facts),
        sections,
    )
