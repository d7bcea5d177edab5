"""Blocks shared by several artefacts: run facts as tables, register facts as fields.

Everything here is an aggregate (counts, rates, names of columns and checks); none of it is
read from a row of personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from safeguard.dpia.register import DpiaRegister
from safeguard.governance.document import (
    Block,
    Bullets,
    Fields,
    Paragraph,
    Section,
    Table,
    UntrustedText,
)
from safeguard.governance.facts import GateResult, RunFacts
from safeguard.governance.profile import GovernanceProfile

__all__ = [
    "NOT_RUN",
    "categories_of",
    "fairness_fields",
    "fairness_lists",
    "files_table",
    "firewall_table",
    "fmt",
    "gate_detail",
    "gate_headline",
    "gate_status",
    "gate_verdict",
    "gates_table",
    "linkage_table",
    "meta_fields",
    "metric_label",
    "metric_value",
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
            # the file's name, never where it sits on this machine
            (
                "Register",
                f"dpia/{Path(register.source_path).name} (version {register.register_version})",
            ),
            ("Run", facts.pipeline_run_id or NOT_RUN),
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
        return "Failed: " + "; ".join(f"{g.name}: {gate_headline(g)}" for g in failed)
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


NOT_EVALUATED = "not evaluated"
# Gate messages are stored cut at this length (pipelines/assets/governance.py).
STORED_MESSAGE_LIMIT = 1000


def gate_verdict(gate: GateResult) -> str:
    """Passed, Failed or Not evaluated (a check whose asset did not run this time)."""
    if gate.passed:
        return "Passed"
    return "Not evaluated" if gate.message.startswith(NOT_EVALUATED) else "Failed"


def gate_clauses(message: str) -> list[str]:
    """A gate's conditions, one each; a clause cut off by the stored length is dropped and
    replaced by a pointer to where the whole text is."""
    clauses = [c.strip() for c in message.split("; ") if c.strip()]
    if len(message) >= STORED_MESSAGE_LIMIT and len(clauses) > 1:
        clauses = [*clauses[:-1], "(further conditions: see the model card and the Dagster UI)"]
    return clauses


def gate_headline(gate: GateResult) -> str:
    """The first condition not met (or "All conditions met"), for a table cell."""
    clauses = gate_clauses(gate.message)
    if gate.passed:  # a note that is not a condition (e.g. objections pending) is kept whole
        notes = [c for c in clauses if not c.startswith(("PASS", "NOT MET"))
                 and c.lower().rstrip(".") not in ("none", "passed", "ok")]  # fmt: skip
        return "; ".join(notes) if notes else "All conditions met"
    failing = [c for c in clauses if c.startswith(("FAIL", "BLOCK", "STOP"))] or clauses
    if not failing:
        return "-"
    more = len(failing) - 1
    return failing[0] + (
        f" (and {more} more condition{'s' if more > 1 else ''} not met)" if more > 0 else ""
    )


def gates_table(facts: RunFacts) -> Table:
    return Table(
        ("Check", "Result", "Decision"),
        tuple((g.name, gate_verdict(g), gate_headline(g)) for g in facts.gates),
        caption="Checks of this run (every condition of a failed gate is listed below)",
        empty=NOT_RUN,
    )


def gate_detail(facts: RunFacts) -> tuple[Block, ...]:
    """Every condition of each failed gate, one bullet each."""
    blocks: list[Block] = []
    for gate in facts.gates:
        if gate_verdict(gate) != "Failed":
            continue
        blocks.append(Paragraph(f"{gate.name}: every condition"))
        blocks.append(Bullets(tuple(gate_clauses(gate.message)) or ("failed",)))
    return tuple(blocks)


_PREFIXES = {
    "model": "Model",
    "baseline": "Logistic baseline",
    "oracle": "Need oracle",
    "label_oracle": "Label oracle",
    "model_minus_baseline": "Model minus baseline",
    "true_harm": "True harm (synthetic ground truth)",
}
_LABELS = {
    "auc_roc": "AUC-ROC",
    "auc_pr": "AUC-PR (average precision)",
    "precision_at_capacity": "precision at capacity",
    "recall_at_capacity": "recall at capacity",
    "precision_at_threshold": "precision at the threshold",
    "recall_at_threshold": "recall at the threshold",
    "share_above_threshold": "share of families above the threshold",
    "brier": "Brier score",
    "ece": "expected calibration error",
    "ece_relative_to_base_rate": "calibration error relative to the base rate",
    "ece_uncalibrated": "expected calibration error before calibration",
    "observed_over_expected": "observed / expected outcomes",
    "calibration_slope": "calibration slope",
    "n_test_dates": "test dates pooled",
    "n_test": "family-dates tested",
    "n_families": "families tested",
    "n_boot": "bootstrap resamples",
    "base_rate": "base rate (share with the outcome)",
    "capacity_k": "practitioner capacity (families reviewed per run)",
    "threshold": "flag threshold (calibrated probability)",
    "lift_at_capacity": "lift at capacity (precision / base rate)",
    "precision_at_capacity_ratio_to_oracle": "precision at capacity / need oracle's",
    "precision_at_capacity_ratio_to_label_oracle": "precision at capacity / label oracle's",
    "records": "records linked",
    "people": "people formed",
    "threshold_match_probability": "match probability threshold",
    "largest_cluster": "largest person cluster (records)",
    "singleton_share": "share of people with one record",
    "candidate_pairs_scored": "candidate pairs scored",
    "mean_linkage_confidence": "mean linkage confidence",
    "blocking_expected_coverage": "blocking: expected share of true pairs reached",
    "blocking_comparisons": "blocking: comparisons made",
    "blocking_comparison_budget": "blocking: comparison budget",
    "truth_pairwise_precision": "pairwise precision (against the ground truth)",
    "truth_pairwise_recall": "pairwise recall (against the ground truth)",
    "truth_pairwise_f1": "pairwise F1 (against the ground truth)",
    "truth_cluster_precision": "cluster precision (against the ground truth)",
    "truth_cluster_recall": "cluster recall (against the ground truth)",
}
_COUNT_WORDS = ("n_", "capacity_k", "records", "people", "pairs", "cluster", "comparisons",
                "budget", "rules_added", "components", "merges", "groups", "family_dates",
                "with_harm", "identities", "dates")  # fmt: skip


def metric_label(key: str) -> str:
    """A human label for a stored metric key (``model.auc_roc`` -> "Model: AUC-ROC")."""
    prefix, _, name = key.rpartition(".")
    label = _LABELS.get(name) or name.replace("_", " ")
    if prefix:
        head = _PREFIXES.get(prefix) or prefix.replace("_", " ").capitalize()
        return f"{head}: {label}"
    return label[:1].upper() + label[1:]


def metric_value(key: str, value: float | int | None) -> str:
    """Counts as integers with thousands separators; rates to 3 decimals; shares as %."""
    if value is None:
        return "Not recorded"
    number = float(value)
    name = key.rpartition(".")[2]
    if number.is_integer() and (abs(number) >= 2 or any(w in name for w in _COUNT_WORDS)):
        return f"{int(number):,}"
    if "share" in name:
        return f"{number:.1%}"
    return fmt(number)


def _gate_cell(passed: bool | None, message: str) -> str:
    if passed is None:
        return "Not evaluated"
    return f"{'Passed' if passed else 'Failed'}: {gate_headline(GateResult('', passed, message))}"


def linkage_table(facts: RunFacts) -> Table:
    return Table(
        ("Figure", "Value"),
        tuple(
            (metric_label(k), metric_value(k, v)) for k, v in sorted(facts.linkage_quality.items())
        ),
        caption="Linkage quality figures",
        empty=NOT_RUN,
    )


def model_fields(facts: RunFacts) -> Fields | Paragraph:
    if facts.model is None:
        return Paragraph(f"Model evaluation: {NOT_RUN.lower()}.")
    model = facts.model
    rows = [("Model version", model.version)]
    rows += [
        (metric_label(name), metric_value(name, value)) for name, value in model.metrics.items()
    ]
    gate = (
        "Not evaluated"
        if model.gate_passed is None
        else ("Passed" if model.gate_passed else "Failed")
    )
    rows.append(("Performance gate", gate))
    return Fields(tuple(rows))


def fairness_fields(facts: RunFacts) -> Fields | Paragraph:
    if facts.fairness is None:
        return Paragraph(f"Fairness audit: {NOT_RUN.lower()}.")
    fair = facts.fairness
    rows = [(metric_label(name), fmt(value)) for name, value in fair.headline.items()]
    gate = (
        "Not evaluated"
        if fair.gate_passed is None
        else ("Passed" if fair.gate_passed else "Failed")
    )
    rows.append(("Fairness gate", gate))
    if fair.verdicts:
        rows.append(("Comparisons by verdict",
                     ", ".join(f"{k}: {v}" for k, v in sorted(fair.verdicts.items()))))  # fmt: skip
    if fair.inconclusive:
        rows.append(("Inconclusive (parity neither shown nor ruled out)",
                     f"{len(fair.inconclusive)} comparisons (listed below)"))  # fmt: skip
    if fair.not_assessable:
        rows.append(("Not assessable (too few outcomes)",
                     f"{len(fair.not_assessable)} comparisons (listed below)"))  # fmt: skip
    rows.append(("Sign-offs of inconclusive results", "; ".join(fair.sign_offs) or "None recorded"))
    return Fields(tuple(rows))


def fairness_lists(facts: RunFacts) -> tuple[Block, ...]:
    """The inconclusive and not-assessable comparisons, one bullet each (never one run-on cell)."""
    fair = facts.fairness
    if fair is None:
        return ()
    blocks: list[Block] = []
    for title, items in (("Inconclusive comparisons", fair.inconclusive),
                         ("Not assessable comparisons", fair.not_assessable)):  # fmt: skip
        if items:
            blocks += [Paragraph(title), Bullets(tuple(items))]
    return tuple(blocks)


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
