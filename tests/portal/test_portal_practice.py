"""Practitioner and team-manager pages: lists, family page, judgement, reallocation, overdue."""

from __future__ import annotations

import pytest
from portal_client import TestClient, audit_entries, login, make_client, post_form
from portal_fixture import MODEL_VERSION, PortalFixture

from safeguard.portal.audit import family_subject
from safeguard.portal.records import read_portal_table


def _judgements(fixture: PortalFixture) -> list[tuple]:
    frame = read_portal_table(fixture.data_dir, "judgements")  # the app holds it read-write
    assert frame is not None
    columns = ["flag_id", "family_key", "worker_id", "username", "decision", "reason"]
    return frame[[*columns, "model_version"]].astype(object).to_records(index=False).tolist()


def test_my_families_lists_only_current_flags_allocated_to_me(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    page = client.get("/my-families").text
    flags = portal_data.flags
    assert flags["A1"] in page and flags["A2"] in page
    for other in ("B1", "B2", "C1", "OLD"):
        assert flags[other] not in page
    assert "Testperson" not in page  # identities only on the family page


def test_family_page_shows_reasons_evidence_chart_and_statement(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    page = client.get(f"/families/{portal_data.flags['A1']}").text
    assert "2 police-recorded domestic abuse incidents" in page
    assert (
        "Reasons that lowered the indicator" in page
        and "No children&#39;s social care contact" in page
    )
    assert "Police" in page and "domestic abuse" in page and "2026-01-10" in page
    assert "Ada Testperson" in page  # the person an evidence record is about
    assert page.count('class="chart__bar chart__bar--raised"') == 3
    assert page.count('class="chart__bar chart__bar--lowered"') == 1
    assert "supports, and does not replace" in page
    assert MODEL_VERSION in page and "1 March 2026" in page and "62.0%" in page
    assert 'name="decision"' in page and 'name="reason"' in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "Checked school and police records"}, "Select your professional judgement"),
        (
            {"decision": "maybe", "reason": "Checked school and police records"},
            "Select your professional judgement",
        ),
        ({"decision": "agree_act"}, "Give the reason for your judgement"),
        ({"decision": "agree_act", "reason": "   ok   "}, "Give the reason for your judgement"),
    ],
)
def test_judgement_requires_a_decision_and_a_reason(
    client: TestClient, portal_data: PortalFixture, data: dict[str, str], message: str
) -> None:
    login(client, "alex")
    flag = portal_data.flags["A1"]
    response = post_form(client, f"/families/{flag}/judgement", f"/families/{flag}", **data)
    assert response.status_code == 400
    assert message in response.text and "There is a problem" in response.text
    assert _judgements(portal_data) == []
    assert not [e for e in audit_entries(portal_data.data_dir) if e["action"] == "decision"]


def test_a_recorded_judgement_is_saved_and_audited(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    flag = portal_data.flags["A1"]
    response = post_form(
        client,
        f"/families/{flag}/judgement",
        f"/families/{flag}",
        decision="already_known",
        reason="Family already open to early help since January",
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/families/{flag}?recorded=1"
    assert _judgements(portal_data) == [
        (
            flag,
            portal_data.families["f1"],
            "W01",
            "alex",
            "already_known",
            "Family already open to early help since January",
            MODEL_VERSION,
        )
    ]
    decisions = [e for e in audit_entries(portal_data.data_dir) if e["action"] == "decision"]
    assert [(e["actor"], e["subject"]) for e in decisions] == [
        ("alex", family_subject(portal_data.families["f1"]))
    ]
    assert "early help since January" not in str(decisions)  # free text stays out of the trail
    page = client.get(response.headers["location"]).text
    assert "Judgement recorded" in page and "Family already open to early help" in page
    assert "Already known" in client.get("/my-families").text


def test_team_caseload_shows_the_team_and_its_overdue_reviews(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    flag = portal_data.flags["A1"]
    post_form(
        client,
        f"/families/{flag}/judgement",
        f"/families/{flag}",
        decision="agree_act",
        reason="Will offer an early help assessment",
    )
    post_form(client, "/logout", "/my-families")
    login(client, "morgan")
    page = client.get("/team").text
    flags = portal_data.flags
    for name in ("A1", "A2", "B1", "B2"):
        assert flags[name] in page
    assert flags["C1"] not in page  # South team
    assert "Testperson" not in page and "Mockford" not in page
    overdue = page.split('id="overdue"')[1].split('id="caseload"')[0]
    assert flags["A1"] not in overdue  # judged
    assert all(flags[name] in overdue for name in ("A2", "B1", "B2"))


def test_overdue_threshold_is_configurable(portal_data: PortalFixture, clock: object) -> None:
    with make_client(portal_data, clock=clock, overdue_after_days=30) as client:
        login(client, "morgan")
        page = client.get("/team").text
    assert "No reviews are overdue" in page


def test_reallocation_moves_the_family_and_is_audited(
    client: TestClient, portal_data: PortalFixture
) -> None:
    flag = portal_data.flags["A2"]
    login(client, "morgan")
    response = post_form(
        client,
        "/team/reallocate",
        "/team",
        flag_id=flag,
        worker_id="W02",
        reason="Alex is on leave",
    )
    assert response.status_code == 303
    entries = [e for e in audit_entries(portal_data.data_dir) if e["action"] == "reallocation"]
    assert [(e["actor"], e["subject"]) for e in entries] == [
        ("morgan", family_subject(portal_data.families["f2"]))
    ]
    post_form(client, "/logout", "/team")

    login(client, "alex")
    assert client.get(f"/families/{flag}").status_code == 404
    post_form(client, "/logout", "/my-families")
    login(client, "sam")
    assert flag in client.get("/my-families").text
    assert "Dara Fakeley" in client.get(f"/families/{flag}").text


@pytest.mark.parametrize(
    ("flag_name", "worker", "reason", "status"),
    [
        ("A2", "W03", "Moving to South team", 400),  # worker outside the manager's team
        ("A2", "W01", "Same worker again", 400),  # already allocated there
        ("A2", "W02", "   ", 400),  # no reason
        ("C1", "W01", "Not my team's flag", 404),  # flag outside the team
    ],
)
def test_invalid_reallocations_are_refused(
    client: TestClient,
    portal_data: PortalFixture,
    flag_name: str,
    worker: str,
    reason: str,
    status: int,
) -> None:
    login(client, "morgan")
    response = post_form(
        client,
        "/team/reallocate",
        "/team",
        flag_id=portal_data.flags[flag_name],
        worker_id=worker,
        reason=reason,
    )
    assert response.status_code == status
    assert not [e for e in audit_entries(portal_data.data_dir) if e["action"] == "reallocation"]
