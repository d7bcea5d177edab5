"""The review pack: one index for a reviewer, linking every governance artefact and summary.

A reviewer must be able to answer from it: what data, why, on what basis, how good is the
model, is it fair, who saw what. It links the generated documents and whatever reviewer
artefacts exist (model card, fairness audit, linkage charts, Data Docs) and summarises the
run's aggregates. No personal data: counts, shares, check names and file names only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from statistics import median

from safeguard.contracts.layout import ARTEFACTS_DIR, DATA_DOCS_DIR, DataDir
from safeguard.dpia.register import DpiaRegister
from safeguard.governance.blocks import (
    NOT_RUN,
    fairness_fields,
    fairness_lists,
    files_table,
    firewall_table,
    fmt,
    gate_detail,
    gate_headline,
    gate_verdict,
    gates_table,
    linkage_table,
    meta_fields,
    model_fields,
    quarantine_table,
)
from safeguard.governance.document import (
    Block,
    Document,
    Fields,
    Image,
    Links,
    Paragraph,
    Section,
    Table,
)
from safeguard.governance.facts import RunFacts

__all__ = [
    "GOVERNANCE_DOCUMENTS",
    "build_review_pack",
    "discover_reviewer_documents",
    "outcome_sentence",
]

GOVERNANCE_DOCUMENTS = (
    ("DPIA", "dpia_report"),
    ("Record of processing", "record_of_processing"),
    ("Transparency record", "transparency_record"),
    ("Data-flow map", "data_flow_map"),
)
# (label, glob under the data directory); case packs and model binaries are not for reviewers.
_REVIEWER_GLOBS = (
    ("Model card", "**/model_card*.html"),
    ("Fairness report", "**/fairness*.html"),
    ("Model monitoring", "**/monitoring.html"),
    ("Global explanations", "**/global_explanations*.html"),
    ("Global explanations chart", "**/*shap*.png"),
    # Splink's interactive charts load vega from the internet; the static ones are in the pack
    ("Linkage match weights (interactive, needs internet)", "**/match_weights_chart.html"),
    ("Linkage waterfall (interactive, needs internet)", "**/waterfall_chart.html"),
    # linkage_quality.json is not linked: its figures are the pack's "Linkage quality" table,
    # and the portal serves documents and images only
    ("GX Data Docs", "data_docs/index.html"),
)
_EXCLUDED = {"case_packs", "models", "sar"}


def discover_reviewer_documents(data_dir: Path) -> list[tuple[str, Path]]:
    """Reviewer documents present under ``reports/``, ``artefacts/`` and ``data_docs/``."""
    found: list[tuple[str, Path]] = []
    for label, pattern in _REVIEWER_GLOBS:
        roots = (
            [data_dir]
            if pattern.startswith(DATA_DOCS_DIR)
            else [DataDir(data_dir).reports, DataDir(data_dir).artefacts]
        )
        for root in roots:
            for path in sorted(root.glob(pattern)) if root.exists() else []:
                if not _EXCLUDED & set(path.relative_to(data_dir).parts):
                    found.append((label, path))
    return found


def _withholding(facts: RunFacts) -> list:
    return [g for g in facts.gates if gate_verdict(g) == "Failed"]


def outcome_sentence(facts: RunFacts) -> str:
    """What the run came to, in one sentence: flags produced, or which gate withheld them."""
    if not facts.gates:
        return "No check has run yet: this pack describes the set-up only."
    failed = _withholding(facts)
    if failed:
        first = failed[0]
        also = (
            f" {len(failed) - 1} other check{'s' if len(failed) > 2 else ''} also failed."
            if len(failed) > 1
            else ""
        )
        return (
            f"No new flags: the check {first.name} failed, so everything downstream of it "
            f"(flags included) was withheld; first condition not met: "
            f"{gate_headline(first).rstrip('.')}.{also}"
        )
    counts = facts.flags_per_worker
    if counts:
        return (
            f"Every check passed: {sum(counts):,} families were flagged for review by "
            f"{len(counts):,} practitioners."
        )
    return "Every check passed; no family was above the flag threshold, so there are no flags."


def _flags(facts: RunFacts) -> Fields | Paragraph:
    counts = facts.flags_per_worker
    failed = _withholding(facts)
    if failed:
        kept = (
            f" The serving tables keep the last good run's {sum(counts):,} flags." if counts else ""
        )
        return Paragraph(f"No new flags this run: withheld by {failed[0].name}.{kept}")
    if not counts:
        return Paragraph(f"Flags: {NOT_RUN.lower()}.")
    return Fields(
        (
            ("Families flagged", fmt(sum(counts))),
            ("Practitioners with flags", fmt(len(counts))),
            (
                "Flags per practitioner (min / median / max)",
                f"{min(counts)} / {median(counts):g} / {max(counts)}",
            ),
        )
    )


def _overrides(facts: RunFacts) -> tuple[Fields | Table | Paragraph, ...]:
    if facts.overrides is None:
        return (Paragraph("No practitioner decisions recorded yet (the portal has none)."),)
    shares = facts.overrides.shares
    return (
        Fields(
            (
                ("Decisions recorded", fmt(facts.overrides.judgements)),
                ("Override rate (disagree)", f"{shares.get('disagree', 0.0):.1%}"),
            )
        ),
        Table(("Decision", "Share"), tuple((k, f"{v:.1%}") for k, v in sorted(shares.items()))),
    )


def _monitoring(facts: RunFacts) -> tuple[Fields | Table | Paragraph, ...]:
    gate = next(iter(facts.gates_matching("decommission_triggers")), None)
    status = (
        NOT_RUN
        if gate is None
        else ("Allowed: no decommission rule has an open firing" if gate.passed
              else "STOPPED by a decommission rule: no new flags until a named decision to resume is recorded")
    )  # fmt: skip
    blocks: list[Fields | Table | Paragraph] = [
        Fields((("Flagging", status), ("Check message", gate.message if gate else NOT_RUN)))
    ]
    m = facts.monitoring
    if m is None:
        blocks.append(Paragraph("No past runs judged yet (run `safeguard monitor`)."))
        return tuple(blocks)
    blocks.append(Fields((
        ("Past runs monitored", fmt(m.months)),
        ("Runs with complete outcomes", fmt(m.months_with_outcomes)),
        ("Runs below the model card's promised precision", fmt(m.months_below_promise)),
        ("Rules that fired", "; ".join(m.fired) or "None"),
    )))  # fmt: skip
    blocks.append(Table(("Realised precision at capacity against the promise",),
                        tuple((line,) for line in m.realised),
                        empty="No run's 12-month outcome window has closed yet."))  # fmt: skip
    return tuple(blocks)


def _audit(facts: RunFacts) -> tuple[Fields | Table | Paragraph, ...]:
    audit = facts.audit
    if audit is None:
        return (Paragraph("No audit trail exists yet."),)
    when = (
        f"when this pack was written, before run {audit.last_run_id}'s closing run_finished "
        "entry (the trail itself is the final count)"
        if audit.run_open
        else "when this pack was written"
    )
    return (
        Fields(
            (
                (f"Entries ({when})", fmt(audit.entries)),
                ("Chain intact", f"{'Yes' if audit.intact else 'NO'}: {audit.reason}"),
                ("Head (sequence, hash)", f"{audit.head_seq}, {audit.head_hash or '-'}"),
            )
        ),
        Table(
            ("Action", "Entries"),
            tuple((k, fmt(v)) for k, v in sorted(audit.by_action.items())),
            caption="Who saw what: entries by action (individual entries are in the trail)",
        ),
    )


MODEL_CHARTS = Path(ARTEFACTS_DIR) / "model" / "charts.json"
LINKAGE_CHARTS = Path(ARTEFACTS_DIR) / "linkage" / "charts.json"


def chart_blocks(data_dir: Path, out_dir: Path, kind: str) -> tuple[Block, ...]:
    """The charts the run drew, each as an image with its alt text and the numbers it shows in
    a table beside it: ``kind`` "model" or "fairness" (the model card's), or "linkage".
    Nothing when no chart was drawn."""
    blocks: list[Block] = []
    for index in (LINKAGE_CHARTS,) if kind == "linkage" else (MODEL_CHARTS,):
        path = data_dir / index
        if not path.exists():
            continue
        try:
            charts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for chart in charts:
            is_fairness = str(chart["file"]).startswith("chart_fairness")
            if kind != "linkage" and is_fairness != (kind == "fairness"):
                continue
            src = path.parent / str(chart["file"])
            if not src.exists():
                continue
            href = Path(os.path.relpath(src, out_dir)).as_posix()
            blocks.append(Image(href, str(chart["alt"]), str(chart["title"])))
            blocks.append(
                Table(
                    tuple(chart["headers"]),
                    tuple(tuple(str(c) for c in row) for row in chart["rows"]),
                    caption=f"The numbers of the chart above: {chart['title']}",
                )
            )
    return tuple(blocks)


def build_review_pack(
    register: DpiaRegister,
    facts: RunFacts,
    *,
    data_dir: Path,
    out_dir: Path,
    extra_links: Mapping[str, Path] | None = None,
) -> Document:
    """The review pack as a :class:`~safeguard.governance.document.Document`; links are relative to
    ``out_dir`` (where the pack is written)."""

    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, out_dir)).as_posix()

    governance = Links(
        tuple((label, f"{key}.html", f"Markdown: {key}.md") for label, key in GOVERNANCE_DOCUMENTS)
    )
    others = [(label, rel(p), rel(p)) for label, p in discover_reviewer_documents(data_dir)]
    others += [(label, rel(p), rel(p)) for label, p in (extra_links or {}).items() if p.exists()]
    questions = Table(
        ("Question", "Where to look"),
        (
            ("What data is used?", "Data-flow map; Record of processing; Data quality"),
            ("Why?", "DPIA steps 1 and 2; Transparency record 2.2"),
            ("On what basis?", "Record of processing (per activity); DPIA step 4"),
            ("How good is the model?", "Model performance; Model card; Linkage quality"),
            ("Is it fair?", "Fairness; Fairness report; Practitioners' judgements"),
            ("Does it still work?", "Monitoring after go-live; Model monitoring page"),
            ("Who saw what?", "Audit trail (entries by action and integrity)"),
        ),
    )
    sections = (
        Section("outcome", "Outcome of this run", (Paragraph(outcome_sentence(facts)),)),
        Section("questions", "What a reviewer can answer here", (questions,)),
        Section(
            "documents",
            "Governance documents",
            (
                governance,
                Paragraph(
                    "Word copies of the DPIA, the record of processing and the transparency "
                    "record (dpia_report.docx, record_of_processing.docx, "
                    "transparency_record.docx) are written beside them in the reports folder."
                ),
            ),
        ),
        Section(
            "others",
            "Other reviewer documents",
            (Links(tuple(others)) if others else Paragraph(f"None: {NOT_RUN.lower()}."),),
        ),
        Section(
            "run",
            "Run summary",
            (
                Fields(
                    (
                        ("Run (as printed by safeguard run)", facts.pipeline_run_id or NOT_RUN),
                        ("Reports built by Dagster run", facts.run_id or NOT_RUN),
                        (
                            "Extract date",
                            fmt(facts.extract_date) if facts.extract_date else NOT_RUN,
                        ),
                        ("As-of date", fmt(facts.as_of_date) if facts.as_of_date else NOT_RUN),
                        ("Files received", fmt(len(facts.files))),
                        ("Rows read", fmt(sum(f.rows_read for f in facts.files))),
                    ),
                ),
            ),
        ),
        Section("gates", "Validation gates", (gates_table(facts), *gate_detail(facts))),
        Section(
            "quality",
            "Data quality",
            (files_table(facts),),
            subsections=(
                Section("firewall", "Firewall log summary", (firewall_table(facts),)),
                Section("quarantine", "Quarantine summary", (quarantine_table(facts),)),
            ),
        ),
        Section(
            "linkage",
            "Linkage quality",
            (linkage_table(facts), *chart_blocks(data_dir, out_dir, "linkage")),
        ),
        Section(
            "model",
            "Model performance",
            (model_fields(facts), *chart_blocks(data_dir, out_dir, "model")),
        ),
        Section(
            "fairness",
            "Fairness",
            (
                fairness_fields(facts),
                *chart_blocks(data_dir, out_dir, "fairness"),
                *fairness_lists(facts),
            ),
        ),
        Section("monitoring", "Monitoring after go-live", _monitoring(facts)),
        Section("flags", "Flags", (_flags(facts),)),
        Section("overrides", "Practitioners' judgements (override statistics)", _overrides(facts)),
        Section("audit", "Audit trail", _audit(facts)),
    )
    return Document(
        "review_pack",
        "Review pack",
        f"{outcome_sentence(facts)} Everything a reviewer needs to inspect this run: what data, why, on what basis, how "
        "good the model is, whether it is fair, and who saw what. Aggregates only.",
        meta_fields(register, facts),
        sections,
    )
