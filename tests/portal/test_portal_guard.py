"""The identity guard on reviewer content, report file resolution, and the SHAP chart geometry."""

from __future__ import annotations

from pathlib import Path

import pytest
from portal_fixture import PortalFixture

from safeguard.portal.chart import AXIS_X, WIDTH, shap_chart
from safeguard.portal.db import ManagedDatabase
from safeguard.portal.reports import IdentityGuard, list_review_documents, resolve_review_file
from safeguard.portal.warehouse import Reason


@pytest.fixture
def guard(portal_data: PortalFixture) -> IdentityGuard:
    vault = ManagedDatabase(portal_data.data_dir / "vault.duckdb", read_only=True)
    yield IdentityGuard(vault)
    vault.close()


@pytest.mark.parametrize(
    "text",
    [
        "<p>Case: Ada Testperson</p>",
        "<td>ADA</td><td>testperson</td>",  # split across cells, other case
        "lives at 10 Synthetic Row F1",
        "postcode NB1 1ZZ",
        "postcode nb11zz",
        "NHS 9400000005",
        # Finding 10: forms the guard missed before.
        "<td>TESTPERSON, Ada</td>",
        "Seen: A. Testperson (adult)",
        "Seen: Testperson, A.",
        "DOB: 14/03/1985",
        "born 14 March 1985",
        "Testperson (1985-03-14)",
        "Ada, 14.03.1985, attended",
        "NHS 940 000 0005",
        "NHS 940-000-0005",
    ],
)
def test_guard_finds_identities(guard: IdentityGuard, text: str) -> None:
    assert guard.contains_identity(text)


@pytest.mark.parametrize(
    "text",
    [
        "<h1>Model card</h1><p>Ada boosting, 20000 rows, AUC 0.74, districts NB1-NB5</p>",
        "Testperson",  # a surname alone is too common a word to block on
        "as of 2026-03-01, 14 records",
        "extract of 14/03/1985 to 2026-03-01",  # a date alone is not a date of birth
        "A. Smith and B. Jones",  # initials with surnames nobody in the vault has
        "1,234 of 5,678 rows",  # counts are not joined into an identifier
    ],
)
def test_guard_lets_ordinary_report_text_through(guard: IdentityGuard, text: str) -> None:
    assert not guard.contains_identity(text)


def test_guard_without_a_vault_finds_nothing(tmp_path: Path) -> None:
    guard = IdentityGuard(ManagedDatabase(tmp_path / "vault.duckdb", read_only=True))
    assert not guard.contains_identity("Ada Testperson")


def test_review_files_resolve_only_inside_reports_and_artefacts(portal_data: PortalFixture) -> None:
    data_dir = portal_data.data_dir
    assert resolve_review_file(data_dir, "reports/review_pack.html") is not None
    assert resolve_review_file(data_dir, "artefacts/charts/shap_summary.svg") is not None
    (data_dir / "reports" / "secret.json").write_text("{}")
    for rel in (
        "reports/../vault.duckdb",
        "artefacts/case_packs/W01.html",
        "vault.duckdb",
        "reports/secret.json",
        "reports/missing.html",
        "reports",
    ):
        assert resolve_review_file(data_dir, rel) is None, rel
    outside = data_dir / "reports" / "link.html"
    outside.symlink_to(data_dir / "artefacts" / "case_packs" / "W01.html")
    assert resolve_review_file(data_dir, "reports/link.html") is None


def test_review_documents_list_the_pack_first_and_prefer_html(portal_data: PortalFixture) -> None:
    (portal_data.data_dir / "artefacts" / "model_card.md").write_text("# Model card")
    docs = list_review_documents(portal_data.data_dir)
    assert docs[0].rel_path == "reports/review_pack.html"
    paths = [d.rel_path for d in docs]
    assert "artefacts/model_card.html" in paths and "artefacts/model_card.md" not in paths
    assert not any("case_packs" in p for p in paths)


def _reason(rank: int, contribution: float) -> Reason:
    return Reason(
        rank,
        f"f{rank}",
        f"Feature {rank}",
        "raised" if contribution > 0 else "lowered",
        contribution,
        None,
        "text",
        (),
    )


def test_shap_chart_places_raised_right_and_lowered_left() -> None:
    chart = shap_chart(0.5, [_reason(1, 0.2), _reason(2, 0.1), _reason(3, -0.05)])
    big, small, lowered = chart.bars
    assert big.x == AXIS_X and big.width == pytest.approx(2 * small.width)
    assert lowered.x + lowered.width == pytest.approx(AXIS_X)
    assert max(b.value_x for b in chart.bars) < WIDTH - 30
    assert chart.remainder == pytest.approx(0.25)
