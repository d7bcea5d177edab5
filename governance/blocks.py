"""Blocks shared by several artefacts: run facts as tables, register facts as fields.

Everything here is an aggregate (counts, rates, names of columns and checks); none of it is
read from a row of personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from dpia.register import DpiaRegister
from governance.document import Bullets, Fields, Paragraph, Section, Table, UntrustedText
from governance.facts import RunFacts
from governance.profile import GovernanceProfile

__all__ = [
    "NOT_RUN",
    "categories_of",
    "fairness_fields",
    "files_table",
    "firewall_table",
    "fmt",
    "gate_status",
    "gates_table",
    "linkage_table",
    "meta_fields",
    "model_fields",
    "processors_section",
    "quarantine_table",
    "sign_off_section",
    "yes_no",
]

NOT_RUN = "Not yet available in this run"


def fmt(value: object) -> str:
    """Plain text for a report cell: dates ISO, floats to 3 significant decimals."""
    if value is None or value == "":
        return "Not recorded"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def categories_of(register: DpiaRegister, assets: Iterable[str]) -> list[str]:
    """Data categories carried by ``assets``, in the register's vocabulary order."""
    carried = {c for a in assets for c in register.assets[a].data_categories}
    return [c for c in register.data_categories if c in carried]


def meta_fields(register: DpiaRegister, facts: RunFacts, *extra: tuple[str, str]) -> Fields:
    """Header fields common to every artefact: who, which DPIA, which run, when."""
    return Fields(
        (
            ("Controller", register.controller.name),
            ("DPIA reference", f"{register.dpia.reference} v{register.dpia.version}"),
            ("Register", f"{register.source_path} (version {register.register_version})"),
            ("Run", facts.run_id or NOT_RUN),
            ("Extract date", fmt(facts.extract_date) if facts.extract_date else NOT_RUN),
            ("Generated", fmt(facts.timestamp)),
            *extra,
        )
    )


def gate_status(facts: RunFacts, fragment: str) -> str:
    """One line on the blocking checks whose names contain ``fragment``."""
    found = facts.gates_matching(fragment)
    if not found:
        return NOT_RUN
    failed = [g for g in found if not g.passed]
    if failed:
        return "FAILED: " + "; ".join(f"{g.name}: {g.message or 'failed'}" for g in failed)
    return f"Passed ({len(found)} check{'s' if len(found) != 1 else ''})"


def files_table(facts: RunFacts) -> Table:
    return Table(
        ("File", "Rows read", "Rows accepted", "Rows quarantined", "Accepted share"),
        tuple(
            (
                f.file,
                fmt(f.rows_read),
                fmt(f.rows_accepted),
                fmt(f.rows_quarantined),
                f"{f.rows_accepted / f.rows_read:.1%}" if f.rows_read else "-",
            )
            for f in facts.files
        ),
        caption="Row accounting (rows read = accepted + quarantined)",
    )


def firewall_table(facts: RunFacts) -> Table:
    return Table(
        ("File", "Column dropped", "Action", "Rows"),
        # Header names are the producer's text: escaped in the Markdown twin.
        tuple(
            (d.file, UntrustedText(d.column), d.action, fmt(d.row_count)) for d in facts.firewall
        ),
        caption="Columns dropped by the firewall (names and counts only; values are never read)",
        empty="No column was dropped in this run.",
    )


def quarantine_table(facts: RunFacts) -> Table:
    return Table(
        ("File", "Column", "Rule", "Rows"),
        tuple((q.file, q.column, q.rule, fmt(q.rows)) for q in facts.quarantine),
        caption="Quarantined rows by file, column and rule (counts only)",
        empty="No row was quarantined in this run.",
    )


def gates_table(facts: RunFacts) -> Table:
    return Table(
        ("Check", "Result", "Message"),
        tuple((g.name, "Passed" if g.passed else "FAILED", g.message or "-") for g in facts.gates),
        caption="Blocking checks of this run",
        empty=NOT_RUN,
    )


def linkage_table(facts: RunFacts) -> Table:
    return Table(
        ("Metric", "Value"),
        tuple((k, fmt(v)) for k, v in sorted(facts.linkage_quality.items())),
        caption="Linkage quality figures",
        empty=NOT_RUN,
    )


def model_fields(facts: RunFacts) -> Fields | Paragraph:
    if facts.model is None:
        return Paragraph(f"Model evaluation: {NOT_RUN.lower()}.")
    model = facts.model
    rows = [("Model version", model.version)]
    rows += [(name, fmt(value)) for name, value in model.metrics.items()]
    gate = "Not evaluated" if model.gate_passed is None else yes_no(model.gate_passed)
    rows.append(("Performance gate passed", f"{gate}. {model.gate_message}".strip()))
    return Fields(tuple(rows))


def fairness_fields(facts: RunFacts) -> Fields | Paragraph:
    if facts.fairness is None:
        return Paragraph(f"Fairness audit: {NOT_RUN.lower()}.")
    fair = facts.fairness
    rows = [(name, fmt(value)) for name, value in fair.headline.items()]
    gate = "Not evaluated" if fair.gate_passed is None else yes_no(fair.gate_passed)
    rows.append(("Fairness gate passed", f"{gate}. {fair.gate_message}".strip()))
    if fair.verdicts:
        rows.append(("Comparisons by verdict",
                     ", ".join(f"{k}: {v}" for k, v in sorted(fair.verdicts.items()))))  # fmt: skip
    if fair.inconclusive:
        rows.append(
            ("Inconclusive (parity neither shown nor ruled out)", "; ".join(fair.inconclusive))
        )
    if fair.not_assessable:
        rows.append(("Not assessable (too few outcomes)", "; ".join(fair.not_assessable)))
    rows.append(("Sign-offs of inconclusive results", "; ".join(fair.sign_offs) or "None recorded"))
    return Fields(tuple(rows))


def sign_off_section(facts: RunFacts) -> Section:
    """The council's named acceptances of inconclusive fairness results (DPIA, review pack)."""
    fair = facts.fairness
    lines = fair.sign_offs if fair is not None else ()
    body: tuple = (
        Paragraph(
            "A fairness comparison that can neither show parity nor establish a disparity "
            "blocks the model unless a named person accepts it here, with a reason; an "
            "established disparity can never be signed off."
        ),
        Bullets(tuple(lines)) if lines else Paragraph("No sign-off is recorded."),
    )
    return Section("fairness_sign_offs", "Fairness sign-offs", body)


def processors_section(profile: GovernanceProfile) -> Section:
    """The processors the council uses, as both the DPIA (step 4) and the Art 30 record list them."""
    return Section(
        "processors",
        "Processors",
        (
            Table(
                ("Processor", "Role", "Contract"),
                tuple((p.name, p.role, p.contract) for p in profile.processors),
            ),
        ),
    )
