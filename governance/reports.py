"""Build and write the governance artefacts (HTML + Markdown) under ``DIR/reports/``.

One function per artefact (:func:`build_report`, for one Dagster asset each) and one for all
(:func:`build_governance_reports`). Every artefact is checked against the checklist in both
renderings before it is written: an incomplete DPIA is an error, not a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from safeguard.contracts.layout import DataDir
from safeguard.dpia.register import DpiaRegister
from safeguard.governance.atrs import build_transparency_record
from safeguard.governance.checklist import ARTEFACTS, IncompleteArtefactError, check_artefact
from safeguard.governance.dataflow import build_data_flow_map
from safeguard.governance.document import Document, ReportFiles, render_html, render_markdown
from safeguard.governance.docx_export import DOCX_ARTEFACTS, write_docx
from safeguard.governance.dpia_report import build_dpia
from safeguard.governance.facts import RunFacts
from safeguard.governance.profile import GovernanceProfile, load_profile
from safeguard.governance.review_pack import build_review_pack
from safeguard.governance.ropa import build_record_of_processing

__all__ = ["build_document", "build_governance_reports", "build_report", "write_checked"]


def build_document(
    name: str,
    register: DpiaRegister,
    facts: RunFacts,
    lineage: Iterable[object],
    *,
    profile: GovernanceProfile,
    data_dir: Path,
    out_dir: Path,
    extra_links: Mapping[str, Path] | None = None,
) -> Document:
    """The :class:`~safeguard.governance.document.Document` of one artefact, by asset name."""
    if name == "dpia_report":
        return build_dpia(register, profile, facts)
    if name == "record_of_processing":
        return build_record_of_processing(register, profile, facts)
    if name == "transparency_record":
        return build_transparency_record(register, profile, facts)
    if name == "data_flow_map":
        return build_data_flow_map(register, lineage, facts)
    if name == "review_pack":
        return build_review_pack(
            register, facts, data_dir=data_dir, out_dir=out_dir, extra_links=extra_links
        )
    raise KeyError(f"{name!r} is not a governance artefact ({', '.join(ARTEFACTS)})")


def write_checked(
    document: Document,
    out_dir: Path,
    *,
    register: DpiaRegister,
    profile: GovernanceProfile,
) -> ReportFiles:
    """Render ``document`` to HTML and Markdown, check both against the checklist, write both.

    Raises
    ------
    IncompleteArtefactError
        Naming the artefact, the rendering and every missing section or field; nothing is
        written in that case, so the last complete artefact stays in place.
    """
    html_text, md_text = render_html(document), render_markdown(document)
    problems = []
    for label, text, is_html in (("HTML", html_text, True), ("Markdown", md_text, False)):
        missing = check_artefact(
            document.key, text, is_html=is_html, register=register, profile=profile
        )
        if missing:
            problems.append(f"{label}: {', '.join(missing)}")
    if problems:
        raise IncompleteArtefactError(
            f"{document.key} lacks required sections or fields ({'; '.join(problems)}); "
            "complete the DPIA register or governance profile, or restore the section"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir / f"{document.key}.html", out_dir / f"{document.key}.md")
    files.html.write_text(html_text, encoding="utf-8")
    files.markdown.write_text(md_text, encoding="utf-8")
    if document.key in DOCX_ARTEFACTS:
        files = ReportFiles(files.html, files.markdown, write_docx(document, out_dir))
    return files


def build_report(
    name: str,
    register: DpiaRegister,
    facts: RunFacts,
    lineage: Iterable[object] = (),
    *,
    data_dir: Path,
    profile: GovernanceProfile | None = None,
    extra_links: Mapping[str, Path] | None = None,
) -> ReportFiles:
    """Build, check and write one artefact to ``data_dir/reports/<name>.{html,md}``.

    Parameters
    ----------
    name
        One of :data:`safeguard.governance.checklist.ARTEFACTS` (the asset names).
    register
        The DPIA register (``safeguard.dpia.register.load_register()``).
    facts
        Aggregate facts of the run (``safeguard.governance.facts.collect_run_facts``).
    lineage
        Lineage nodes (needed by ``data_flow_map`` only).
    data_dir
        The data directory; reports go to ``data_dir/reports``.
    profile
        Governance profile; :func:`safeguard.governance.profile.load_profile` when None.
    extra_links
        Further reviewer documents for the review pack (label -> path), linked if present.
    """
    profile = profile or load_profile()
    out_dir = DataDir(Path(data_dir)).reports
    document = build_document(
        name,
        register,
        facts,
        lineage,
        profile=profile,
        data_dir=Path(data_dir),
        out_dir=out_dir,
        extra_links=extra_links,
    )
    return write_checked(document, out_dir, register=register, profile=profile)


def build_governance_reports(
    register: DpiaRegister,
    facts: RunFacts,
    lineage: Iterable[object],
    data_dir: Path,
    *,
    profile: GovernanceProfile | None = None,
    extra_links: Mapping[str, Path] | None = None,
) -> dict[str, ReportFiles]:
    """Build every governance artefact; the review pack last, so that it links them all.

    Returns the written files by asset name (``dpia_report``, ``record_of_processing``,
    ``transparency_record``, ``data_flow_map``, ``review_pack``).
    """
    profile = profile or load_profile()
    nodes = list(lineage)
    return {
        name: build_report(
            name,
            register,
            facts,
            nodes,
            data_dir=data_dir,
            profile=profile,
            extra_links=extra_links,
        )
        for name in ARTEFACTS
    }
