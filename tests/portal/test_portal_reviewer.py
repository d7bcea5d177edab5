"""Reviewers see the review pack, reports and override statistics, and never an identity."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from urllib.parse import urljoin, urlsplit

from portal_client import TestClient, login, post_form
from portal_fixture import PortalFixture

HREF = re.compile(r"""(?:href|src)\s*=\s*["']([^"'#]+)""", re.IGNORECASE)


def _forbidden_strings(fixture: PortalFixture) -> list[str]:
    values = set(fixture.identities)
    for value in fixture.identities:  # dates of birth also as the portal would format them
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            values.add(date.fromisoformat(value).strftime("%-d %B %Y"))
    return sorted(values)


def _leaks(text: str, forbidden: list[str]) -> list[str]:
    return [v for v in forbidden if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text)]


def _record_judgements(client: TestClient, fixture: PortalFixture) -> None:
    """Give the override statistics something to count, with reasons that name family members."""
    login(client, "alex")
    for name, decision in (("A1", "agree_act"), ("A2", "disagree")):
        flag = fixture.flags[name]
        response = post_form(
            client,
            f"/families/{flag}/judgement",
            f"/families/{flag}",
            decision=decision,
            reason="Spoke with Ada Testperson at 10 Synthetic Row F1",
        )
        assert response.status_code == 303
    post_form(client, "/logout", "/my-families")


def test_reviewer_never_receives_an_identity_on_any_reachable_page(
    client: TestClient, portal_data: PortalFixture
) -> None:
    _record_judgements(client, portal_data)
    login(client, "riley")
    forbidden = _forbidden_strings(portal_data)
    assert "Ada" in forbidden and "14 March 1985" in forbidden and "NB1 1ZZ" in forbidden

    queue, seen, statuses = ["/"], set(), {}
    while queue:
        path = queue.pop()
        if path in seen or path.startswith("/logout"):
            continue
        seen.add(path)
        response = client.get(path)
        statuses[path] = response.status_code
        body = response.content.decode("utf-8", errors="replace")
        assert not _leaks(body, forbidden), (path, _leaks(body, forbidden))
        if response.status_code in (301, 302, 303, 307):
            queue.append(response.headers["location"])
        for link in HREF.findall(body):
            target = urlsplit(urljoin(f"http://testserver{path}", link))
            if target.netloc == "testserver":
                queue.append(target.path + (f"?{target.query}" if target.query else ""))

    # The crawl reached every report, and the guard held back the two that carry identities.
    assert statuses["/review/files/reports/review_pack.html"] == 200
    assert statuses["/review/files/artefacts/model_card.html"] == 200
    assert statuses["/review/files/artefacts/fairness/fairness_report.html"] == 200
    assert statuses["/review/files/reports/dpia.md"] == 200
    assert statuses["/review/overrides"] == 200
    assert statuses["/review/files/reports/leaky_appendix.html"] == 500
    assert statuses["/review/files/artefacts/case_packs/W01.html"] == 404
    # GX Data Docs are served inside the portal, every page and stylesheet they link included
    docs = {p: s for p, s in statuses.items() if p.startswith("/review/files/data_docs/")}
    assert docs["/review/files/data_docs/index.html"] == 200
    assert any("/validations/workers/" in p for p in docs)
    assert any("/expectations/workers" in p for p in docs)
    assert docs["/review/files/data_docs/static/styles/safeguard_offline.css"] == 200
    assert set(docs.values()) == {200}, {p: s for p, s in docs.items() if s != 200}
    assert len(seen) >= 12


def test_override_statistics_count_latest_decisions_by_band(
    client: TestClient, portal_data: PortalFixture, clock: object
) -> None:
    _record_judgements(client, portal_data)
    clock.now += timedelta(hours=1)  # type: ignore[attr-defined]
    login(client, "alex")
    flag = portal_data.flags["A2"]
    post_form(
        client,
        f"/families/{flag}/judgement",
        f"/families/{flag}",
        decision="already_known",
        reason="Changed my mind after the strategy meeting",
    )
    post_form(client, "/logout", "/my-families")
    login(client, "riley")
    page = client.get("/review/overrides").text
    very_high = re.search(r"<th scope=\"row\">very high</th>(.*?)</tr>", page, re.S)
    high = re.search(r"<th scope=\"row\">high</th>(.*?)</tr>", page, re.S)
    assert very_high and high
    # A1 (very high): agree; A2 (high): latest is already_known, the earlier disagree is replaced.
    assert re.findall(r">(\d+) \(", very_high.group(1)) == ["1", "0", "0", "0"]
    assert re.findall(r">(\d+) \(", high.group(1)) == ["0", "1", "0", "0"]
    assert "Changed my mind" not in page and "strategy meeting" not in page


def test_report_files_outside_the_allowed_folders_are_not_served(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "riley")
    for path in (
        "/review/files/reports/../vault.duckdb",
        "/review/files/reports/%2e%2e/portal.duckdb",
        "/review/files/artefacts/case_packs/W01.html",
        "/review/files/warehouse.duckdb",
        "/review/files/audit/audit.jsonl",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Testperson" not in response.text


def test_reviewer_report_pages_cannot_run_script(client: TestClient) -> None:
    login(client, "riley")
    response = client.get("/review/files/reports/review_pack.html")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script" not in csp.replace("default-src 'none'", "")


def test_review_shortcuts_lead_to_the_right_reports(client: TestClient) -> None:
    login(client, "riley")
    assert (
        client.get("/review/model-card").headers["location"].endswith("artefacts/model_card.html")
    )
    assert (
        client.get("/review/fairness").headers["location"].endswith("fairness/fairness_report.html")
    )
    assert client.get("/review/pack").headers["location"].endswith("reports/review_pack.html")


def test_admin_sees_accounts_but_no_password_hashes(client: TestClient) -> None:
    login(client, "root")
    page = client.get("/admin").text
    for username in ("alex", "sam", "jo", "morgan", "riley", "root", "gone"):
        assert f"<td>{username}</td>" in page
    assert "argon2" not in page.replace("argon2 hashes", "")
    audit = client.get("/admin/audit")
    assert audit.status_code == 200 and "The audit trail is intact" in audit.text


def test_admin_audit_page_reports_a_tampered_trail(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "root")
    path = portal_data.data_dir / "audit" / "audit.jsonl"
    path.write_text(path.read_text().replace('"role":"admin"', '"role":"reviewer"'))
    page = client.get("/admin/audit").text
    assert "The audit trail has been altered" in page and "edited" in page


def test_portal_writes_the_anchor_and_admin_audit_checks_it(
    client: TestClient, portal_data: PortalFixture
) -> None:
    from safeguard.dpia.audit import AuditLog

    login(client, "root")
    log = AuditLog(portal_data.data_dir / "audit" / "audit.jsonl")
    entries = list(log.entries())
    assert entries and log.anchor_path.exists()  # the portal, not only the pipeline, anchors
    assert not log.anchor_path.resolve().is_relative_to(portal_data.data_dir.resolve())
    assert json.loads(log.anchor_path.read_text())["seq"] == entries[-1].seq
    saved = log.path.read_bytes()
    log.path.write_bytes(b"".join(saved.splitlines(keepends=True)[:-1]))  # cut the login entry
    page = client.get("/admin/audit").text
    assert "The audit trail has been altered" in page and "were removed" in page
    log.path.write_bytes(saved)
    assert "The audit trail is intact" in client.get("/admin/audit").text
    log.anchor_path.unlink()
    page = client.get("/admin/audit").text
    assert "The audit trail has been altered" in page and "no anchor" in page
