"""The DPIA, following the ICO template's seven steps, from the register, profile and run facts.

The high-risk screening is computed from the register (what data, from how many partners, for
what), the risk matrix from the profile's likelihood and severity, and each measure names a
control whose evidence from this run (gate results, firewall drops, audit integrity) is shown
beside it. A residual high risk turns "ICO prior consultation required" to yes (Art 36).
"""

from __future__ import annotations

from safeguard.dpia.register import DpiaRegister
from safeguard.governance.blocks import (
    categories_of,
    fmt,
    gate_status,
    meta_fields,
    sign_off_section,
    yes_no,
)
from safeguard.governance.document import Bullets, Document, Fields, Paragraph, Section, Table
from safeguard.governance.dpia_steps import describe_processing, necessity_and_proportionality
from safeguard.governance.facts import RunFacts
from safeguard.governance.profile import GovernanceProfile, Likelihood, Severity

__all__ = ["build_dpia", "overall_risk", "screening_criteria"]

_LIKELIHOOD = {"remote": 1, "possible": 2, "probable": 3}
_SEVERITY = {"minimal": 1, "significant": 2, "severe": 3}


def overall_risk(likelihood: Likelihood, severity: Severity) -> str:
    """ICO-style matrix: likelihood x severity scored 1-3 each; >= 6 high, >= 3 medium."""
    score = _LIKELIHOOD[likelihood] * _SEVERITY[severity]
    return "high" if score >= 6 else "medium" if score >= 3 else "low"


def screening_criteria(register: DpiaRegister) -> list[tuple[str, bool, str]]:
    """(criterion, met, evidence from the register) for the ICO high-risk criteria."""
    internal = [n for n, a in register.assets.items() if not a.external]
    activities = register.processing_activities
    linked = [n for n in internal if n in ("record_links", "identity_vault")]
    # Sources that are linked: partner extracts about the same people as the linkage.
    linked_subjects = {
        s for n in linked for s in activities[register.assets[n].processing_activity].data_subjects
    }
    received = {a.processing_activity for a in register.assets.values() if a.external}
    partners = sorted(
        {
            register.data_sharing_agreements[a.data_sharing_agreement].partner
            for a in register.assets.values()
            if a.external
            and a.personal_data
            and a.data_sharing_agreement
            and set(activities[a.processing_activity].data_subjects) & linked_subjects
        }
    )
    models = [n for n in internal if "model_parameters" in register.assets[n].data_categories]
    # Profiling: risk indicators derived here, not gradings received from a partner.
    profiling = [
        n
        for n in internal
        if "derived_risk_indicator" in register.assets[n].data_categories
        and register.assets[n].processing_activity not in received
    ]
    used = categories_of(register, internal)
    special = [c for c in used if register.data_categories[c].special_category]
    criminal = [c for c in used if register.data_categories[c].criminal_offence]
    subjects = sorted({s for a in register.processing_activities.values() for s in a.data_subjects})
    vulnerable = [s for s in subjects if any(w in s for w in ("child", "victim", "young"))]
    return [
        (
            "Innovative technology or AI",
            bool(models),
            f"Trained models ({', '.join(models) or 'none'}).",
        ),
        (
            "Data matching from multiple sources",
            len(partners) > 1 and bool(linked),
            f"{len(partners)} partner extracts linked into people and families: {'; '.join(partners)}.",
        ),
        (
            "Large-scale profiling",
            bool(profiling),
            f"Risk indicators derived about every family ({', '.join(profiling) or 'none'}).",
        ),
        ("Special-category data", bool(special), ", ".join(special) or "none"),
        ("Criminal-offence data", bool(criminal), ", ".join(criminal) or "none"),
        ("Children or vulnerable people", bool(vulnerable), "; ".join(vulnerable) or "none"),
    ]


def _control_evidence(key: str, facts: RunFacts, gate: str | None) -> str:
    if gate:
        return gate_status(facts, gate)
    if key == "firewall":
        files = {d.file for d in facts.firewall}
        return f"{len(facts.firewall)} column(s) dropped from {len(files)} file(s)"
    if key == "quarantine" and facts.files:
        read = sum(f.rows_read for f in facts.files)
        held = sum(f.rows_quarantined for f in facts.files)
        return f"{held:,} of {read:,} rows quarantined; every row accounted for"
    if key == "audit_trail" and facts.audit is not None:
        state = "chain intact" if facts.audit.intact else f"BROKEN: {facts.audit.reason}"
        return f"{facts.audit.entries:,} entries, {state}"
    if key == "human_decision" and facts.overrides is not None:
        return f"{facts.overrides.judgements:,} decisions recorded"
    return "Design control; see where it runs"


def build_dpia(register: DpiaRegister, profile: GovernanceProfile, facts: RunFacts) -> Document:
    """The DPIA as a :class:`~safeguard.governance.document.Document` (ICO template, seven steps)."""
    criteria = screening_criteria(register)
    met = sum(m for _, m, _ in criteria)
    controls = profile.controls
    sign = profile.sign_off
    residual_high = [
        r
        for r in profile.risks
        if overall_risk(r.residual_likelihood, r.residual_severity) == "high"
    ]
    risks = Table(
        ("Risk", "Source of risk and harm", "Likelihood", "Severity", "Overall risk"),
        tuple(
            (
                f"{r.id} {r.title}",
                r.description,
                r.likelihood,
                r.severity,
                overall_risk(r.likelihood, r.severity),
            )
            for r in profile.risks
        ),
    )
    measures = Table(
        ("Risk", "Measures (controls)", "Effect on risk", "Residual risk", "Measure approved"),
        tuple(
            (
                f"{r.id} {r.title}",
                "; ".join(controls[m].name for m in r.measures),
                r.effect,
                f"{overall_risk(r.residual_likelihood, r.residual_severity)} "
                f"({r.residual_likelihood}, {r.residual_severity})",
                f"Yes: {sign.measures_approved_by}",
            )
            for r in profile.risks
        ),
    )
    evidence = Table(
        ("Control", "Where it runs", "Evidence from this run"),
        tuple((c.name, c.where, _control_evidence(k, facts, c.gate)) for k, c in controls.items()),
    )
    consultation = Table(
        ("Stakeholder", "Method", "Date", "Response", "How addressed"),
        tuple(
            (c.stakeholder, c.method, fmt(c.date), c.response, c.how_addressed)
            for c in profile.consultation
        ),
    )
    ico = (
        (
            f"Yes: residual high risk(s) {', '.join(r.id for r in residual_high)}; consult the "
            "ICO before processing (Art 36)"
        )
        if residual_high
        else "No: no residual risk is high"
    )
    sections = (
        Section(
            "screening",
            "Screening: why a DPIA is required",
            (
                Paragraph(
                    f"This processing meets {met} of {len(criteria)} ICO high-risk criteria, "
                    "so a DPIA is mandatory (UK GDPR Art 35)."
                ),
                Table(
                    ("Criterion", "Met", "Evidence from the register"),
                    tuple((c, yes_no(m), e) for c, m, e in criteria),
                ),
            ),
        ),
        Section(
            "step1",
            "Step 1: Identify the need for a DPIA",
            (
                Paragraph(profile.need),
                Bullets(tuple(p.description for p in register.purposes.values())),
            ),
        ),
        describe_processing(register, profile, facts),
        Section("step3", "Step 3: Consultation process", (consultation,)),
        necessity_and_proportionality(register, profile, facts),
        Section("step5", "Step 5: Identify and assess risks", (risks,)),
        Section(
            "step6",
            "Step 6: Identify measures to reduce risk",
            (measures,),
            subsections=(
                Section("controls", "Controls evidenced by this run", (evidence,)),
                sign_off_section(facts),
            ),
        ),
        Section(
            "step7",
            "Step 7: Sign off and outcomes",
            (
                Fields(
                    (
                        ("Measures approved by", sign.measures_approved_by),
                        ("Residual risks approved by", sign.residual_risks_approved_by),
                        ("DPO advice provided", sign.dpo_advice),
                        (
                            "DPO advice followed",
                            f"{yes_no(sign.dpo_advice_followed)}. {sign.dpo_comments}",
                        ),
                        (
                            "Consultation responses reviewed by",
                            sign.consultation_responses_reviewed_by,
                        ),
                        ("Consultation responses", sign.consultation_summary),
                        ("This DPIA will be kept under review by", sign.review_owner),
                        ("Next review", fmt(register.dpia.review_date)),
                        ("ICO prior consultation required", ico),
                    )
                ),
            ),
        ),
    )
    dpo = register.dpo
    meta = meta_fields(
        register,
        facts,
        ("Data Protection Officer", f"{dpo.name} ({dpo.email})"),
        (
            "Approved",
            f"{fmt(register.dpia.approved_on)} by {register.dpia.approved_by or 'Not recorded'}",
        ),
        ("Owner", register.dpia.owner),
    )
    return Document(
        "dpia_report",
        f"Data protection impact assessment {register.dpia.reference}",
        "DPIA for the safeguarding risk indicator, following the ICO template's seven steps. "
        "Rebuilt every run from the DPIA register, the governance profile and aggregate facts.",
        meta,
        sections,
    )
