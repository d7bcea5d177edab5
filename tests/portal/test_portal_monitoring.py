"""Reviewers reach the monitoring page and its charts; practitioners do not; the guard holds."""

from __future__ import annotations

from portal_client import TestClient, login
from portal_fixture import PortalFixture

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _monitoring_page(fixture: PortalFixture, body: str) -> None:
    reports, charts = fixture.data_dir / "reports", fixture.data_dir / "artefacts" / "monitoring"
    charts.mkdir(parents=True, exist_ok=True)
    (charts / "monitoring_precision_at_capacity.png").write_bytes(PNG)
    (reports / "monitoring.html").write_text(
        "<html><body><h1>Model monitoring</h1>"
        '<img src="../artefacts/monitoring/monitoring_precision_at_capacity.png" '
        f'alt="Precision at capacity for 24 scored months">{body}</body></html>'
    )
    (reports / "monitoring.md").write_text("# Model monitoring\n")


def test_the_reviewer_opens_the_monitoring_page_and_its_chart(
    client: TestClient, portal_data: PortalFixture
) -> None:
    _monitoring_page(portal_data, "<p>Flagging is allowed.</p>")
    login(client, "riley")
    index = client.get("/review")
    assert 'href="/review/monitoring"' in index.text
    response = client.get("/review/monitoring")
    assert response.status_code == 303
    assert response.headers["location"] == "/review/files/reports/monitoring.html"
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and "Flagging is allowed" in page.text
    image = client.get("/review/files/artefacts/monitoring/monitoring_precision_at_capacity.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"


def test_a_monitoring_page_naming_a_person_is_withheld(
    client: TestClient, portal_data: PortalFixture
) -> None:
    _monitoring_page(portal_data, "<p>Example: Ada Testperson</p>")
    login(client, "riley")
    page = client.get("/review/files/reports/monitoring.html")
    assert page.status_code == 500
    assert "Ada Testperson" not in page.text


def test_practitioners_cannot_open_the_monitoring_page(
    client: TestClient, portal_data: PortalFixture
) -> None:
    _monitoring_page(portal_data, "<p>Flagging is allowed.</p>")
    login(client, "alex")
    assert client.get("/review/monitoring").status_code == 403


def test_without_a_monitoring_page_the_reviewer_is_told_so(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "riley")
    response = client.get("/review/monitoring")
    assert response.status_code == 404 and "Model monitoring" in response.text
