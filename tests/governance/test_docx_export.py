"""Word copies of the DPIA, the Art 30 record and the ATRS record: same sections, same tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document as open_docx

from safeguard.governance.checklist import REQUIRED_SECTIONS
from safeguard.governance.docx_export import DOCX_ARTEFACTS
from safeguard.governance.facts import GateResult, RunFacts
from safeguard.governance.reports import build_document, build_report


def _headings(path: Path) -> list[str]:
    return [
        p.text
        for p in open_docx(str(path)).paragraphs
        if p.style.name.startswith(("Heading", "Title"))
    ]


@pytest.mark.parametrize("artefact", DOCX_ARTEFACTS)
def test_each_word_copy_has_the_documents_sections_in_order(
    artefact: str, register, profile, lineage, tmp_path: Path
) -> None:
    facts = RunFacts(run_id="r1", gates=(GateResult("model_evaluation/performance_gate", True),))
    files = build_report(artefact, register, facts, lineage, data_dir=tmp_path, profile=profile)
    assert files.docx is not None and files.docx.suffix == ".docx"
    document = build_document(artefact, register, facts, lineage, profile=profile,
                              data_dir=tmp_path, out_dir=tmp_path / "reports")  # fmt: skip

    def walk(sections) -> list[str]:
        out = []
        for s in sections:
            out += [s.heading, *walk(s.subsections)]
        return out

    headings = _headings(files.docx)
    assert headings[0] == document.title
    body = [h for h in headings[1:] if h != "Contents"]
    assert body == walk(document.sections)
    for required in REQUIRED_SECTIONS[artefact]:
        assert required in headings or any(
            required in c.text
            for t in open_docx(str(files.docx)).tables
            for row in t.rows
            for c in row.cells
        ), required
    # the header fields and tables come across as Word tables, not flattened text
    tables = open_docx(str(files.docx)).tables
    assert [r.cells[0].text for r in tables[0].rows] == [label for label, _ in document.meta.rows]


def test_only_the_three_ig_documents_get_a_word_copy(register, profile, lineage, tmp_path) -> None:
    files = build_report("data_flow_map", register, RunFacts(), lineage, data_dir=tmp_path,
                         profile=profile)  # fmt: skip
    assert files.docx is None and not list((tmp_path / "reports").glob("*.docx"))
