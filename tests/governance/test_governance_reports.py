"""Governance artefacts: every required section in HTML and Markdown, and no personal data."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from governance_estate import EXPIRED_NAME, MOTHER_NAME, OBJECTOR, PLANTED, TARGET

from safeguard.dpia.audit import AuditLog
from safeguard.governance.checklist import (
    ARTEFACTS,
    REQUIRED_PER_ACTIVITY,
    REQUIRED_SECTIONS,
    IncompleteArtefactError,
    check_artefact,
)
from safeguard.governance.document import Fields, render_html, render_markdown
from safeguard.governance.facts import (
    FileFacts,
    GateResult,
    ModelFacts,
    RunFacts,
    collect_run_facts,
)
from safeguard.governance.reports import build_document, build_governance_reports, write_checked


@pytest.fixture(scope="module")
def built(estate, register, profile, lineage, tmp_path_factory):
    """All artefacts built from the estate's aggregate tables into a copy of its reports dir."""
    data_dir = estate[0]
    facts = collect_run_facts(
        data_dir,
        run_id="run-test-1",
        gates=(GateResult("gx_police_records", True), GateResult("performance_gate", False, "AUC 0.61 < 0.70")),
        model=ModelFacts("v1", {"AUC-ROC": 0.74}, gate_passed=False, gate_message="AUC below bar"),
    )  # fmt: skip
    out = tmp_path_factory.mktemp("reports_dir") / "data"
    shutil.copytree(data_dir, out)
    AuditLog(out / "audit" / "audit.jsonl").adopt()  # a copied trail is re-anchored
    files = build_governance_reports(register, facts, lineage, out, profile=profile)
    return out, facts, files


@pytest.mark.parametrize("artefact", ARTEFACTS)
def test_every_required_section_is_in_html_and_markdown(built, register, profile, artefact):
    _, _, files = built
    written = files[artefact]
    assert written.html.parent.name == "reports"
    for path, is_html in ((written.html, True), (written.markdown, False)):
        text = path.read_text(encoding="utf-8")
        assert (
            check_artefact(artefact, text, is_html=is_html, register=register, profile=profile)
            == []
        )


@pytest.mark.parametrize("artefact", ARTEFACTS)
def test_removing_any_top_level_section_is_caught(built, register, profile, lineage, artefact):
    out, facts, _ = built
    doc = build_document(artefact, register, facts, lineage, profile=profile, data_dir=out,
                         out_dir=out / "reports")  # fmt: skip
    for index, section in enumerate(doc.sections):
        cut = dataclasses.replace(doc, sections=doc.sections[:index] + doc.sections[index + 1 :])
        for text, is_html in ((render_html(cut), True), (render_markdown(cut), False)):
            missing = check_artefact(
                artefact, text, is_html=is_html, register=register, profile=profile
            )
            assert section.heading in missing, (
                f"removing {section.heading!r} from {artefact} went unnoticed"
            )
            assert section.heading in REQUIRED_SECTIONS[artefact]


def test_every_activity_needs_its_art30_fields(built, register, profile, lineage):
    out, facts, _ = built
    doc = build_document("record_of_processing", register, facts, lineage, profile=profile,
                         data_dir=out, out_dir=out / "reports")  # fmt: skip
    activities = doc.sections[-1]
    first = activities.subsections[0]
    fields = first.blocks[0]
    assert isinstance(fields, Fields)
    stripped = Fields(tuple(r for r in fields.rows if r[0] != "Appropriate policy document"))
    cut_activity = dataclasses.replace(first, blocks=(stripped,))
    cut = dataclasses.replace(
        doc, sections=(*doc.sections[:-1], dataclasses.replace(activities, subsections=(cut_activity, *activities.subsections[1:])))
    )  # fmt: skip
    missing = check_artefact("record_of_processing", render_markdown(cut), is_html=False,
                             register=register, profile=profile)  # fmt: skip
    n = len(register.processing_activities)
    assert missing == [f"Appropriate policy document (found {n - 1} of {n})"]
    assert "Appropriate policy document" in REQUIRED_PER_ACTIVITY


def test_incomplete_artefact_is_refused_and_not_written(register, profile, tmp_path):
    doc = build_document("dpia_report", register, RunFacts(), [], profile=profile,
                         data_dir=tmp_path, out_dir=tmp_path / "reports")  # fmt: skip
    step7 = next(s for s in doc.sections if s.heading.startswith("Step 7"))
    cut = dataclasses.replace(doc, sections=tuple(s for s in doc.sections if s is not step7))
    with pytest.raises(IncompleteArtefactError, match="Step 7: Sign off and outcomes"):
        write_checked(cut, tmp_path / "reports", register=register, profile=profile)
    assert not (tmp_path / "reports" / "dpia_report.html").exists()


def test_reports_build_before_any_stage_has_run(register, profile, lineage, tmp_path):
    files = build_governance_reports(register, RunFacts(), lineage, tmp_path, profile=profile)
    assert "Not yet available in this run" in files["review_pack"].html.read_text()


def test_dpia_quotes_this_runs_evidence_and_screening(built):
    _, _, files = built
    text = files["dpia_report"].markdown.read_text()
    assert "meets 6 of 6 ICO high-risk criteria" in text
    assert "Failed: performance_gate: AUC 0.61 < 0.70" in text  # control evidence from the run
    assert "1 column(s) dropped from 1 file(s)" in text
    assert "No: no residual risk is high" in text


def test_a_residual_high_risk_requires_ico_consultation(register, profile, tmp_path):
    first = profile.risks[0].model_copy(
        update={"residual_likelihood": "probable", "residual_severity": "severe"}
    )
    changed = profile.model_copy(update={"risks": (first, *profile.risks[1:])})
    doc = build_document("dpia_report", register, RunFacts(), [], profile=changed,
                         data_dir=tmp_path, out_dir=tmp_path)  # fmt: skip
    assert f"Yes: residual high risk(s) {first.id}" in render_markdown(doc)


def test_review_pack_links_documents_that_exist_only(built):
    out, _, files = built
    html = files["review_pack"].html.read_text()
    for name in ("dpia_report", "record_of_processing", "transparency_record", "data_flow_map"):
        assert f'href="{name}.html"' in html
        assert (out / "reports" / f"{name}.html").exists()
    assert 'href="../data_docs/index.html"' in html
    assert 'href="../artefacts/linkage/match_weights_chart.html"' in html
    assert "case_packs" not in html  # the allocated worker's view is not for reviewers
    assert "model_card" not in html  # none was written in this estate


def test_review_pack_summarises_overrides_quarantine_and_audit(built):
    _, facts, files = built
    text = files["review_pack"].markdown.read_text()
    assert facts.overrides is not None and facts.overrides.judgements == 2
    assert "| Override rate (disagree) | 50.0% |" in text
    assert "| police.csv | dob | type | 1 |" in text  # latest extract only, counts only
    assert facts.audit is not None and facts.audit.intact
    assert "| case_view | 2 |" in text


def test_data_flow_map_draws_lineage_and_category_flows(built):
    _, _, files = built
    html = files["data_flow_map"].html.read_text()
    assert html.count("<svg") == 1 and "<script" not in html
    md = files["data_flow_map"].markdown.read_text()
    assert "| landing_police | police_records | " in md
    assert re.search(r"\| criminal_offence \| Yes \| Yes \| [^|]*police_records", md)


def _markers(estate) -> set[str]:
    data_dir, _ = estate
    markers = {TARGET["first_name"], TARGET["last_name"], "Quilfeather", *MOTHER_NAME[:2], *EXPIRED_NAME,
               OBJECTOR["first_name"], OBJECTOR["last_name"], TARGET["postcode"], OBJECTOR["postcode"],
               "7 Heron Close", TARGET["dob"].isoformat(), MOTHER_NAME[2], PLANTED.family_key,
               PLANTED.flag_id, "pat.practitioner", "W01"}  # fmt: skip
    con = duckdb.connect(str(data_dir / "vault.duckdb"), read_only=True)
    try:
        for key, pseudo, person in con.execute(
            "SELECT record_key, record_pseudo, person_key FROM identity_vault"
        ).fetchall():
            markers |= {key, pseudo, person}
    finally:
        con.close()
    return markers


def _docx_text(path: Path) -> str:
    from docx import Document as open_docx

    word = open_docx(str(path))
    cells = [c.text for t in word.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in word.paragraphs] + cells)


def test_no_personal_data_in_any_artefact(built, estate):
    out, _, _ = built
    markers = _markers(estate)
    assert len(markers) > 500
    written = sorted((out / "reports").glob("*"))
    assert len(written) == 13  # 5 artefacts x (HTML, Markdown) + 3 Word copies
    for path in written:
        text = _docx_text(path) if path.suffix == ".docx" else path.read_text(encoding="utf-8")
        leaked = sorted(m for m in markers if m in text)
        assert not leaked, f"{path.name} contains {leaked[:5]}"


def test_marker_scan_would_catch_a_leak(built, estate, register, profile, lineage):
    """The privacy scan is not vacuous: a planted name in the facts shows up."""
    out, facts, _ = built
    leaky = dataclasses.replace(facts, files=(FileFacts(f"{TARGET['last_name']}.csv", 1, 1, 0),))
    doc = build_document("review_pack", register, leaky, lineage, profile=profile,
                         data_dir=out, out_dir=out / "reports")  # fmt: skip
    markers = _markers(estate)
    assert {m for m in markers if m in render_html(doc)} == {TARGET["last_name"]}


def test_required_sections_are_not_satisfied_by_paragraph_text(register, profile):
    text = "<html><p>Step 7: Sign off and outcomes</p></html>"
    assert "Step 7: Sign off and outcomes" in check_artefact(
        "dpia_report", text, is_html=True, register=register, profile=profile
    )


def test_reports_dir_is_under_data_dir(built):
    out, _, files = built
    assert all(Path(f.html).parent == out / "reports" for f in files.values())
