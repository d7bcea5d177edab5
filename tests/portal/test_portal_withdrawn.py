"""Withdrawn flags (a failed objections gate) are invisible to practitioners, and recorded."""

from __future__ import annotations

import duckdb
import pandas as pd
from portal_client import TestClient, login
from portal_fixture import PortalFixture

from safeguard.portal.snapshot import publish_serving_snapshot


def _withdraw(data_dir, flag_ids, reinstated=None) -> None:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    try:
        flags = con.execute(
            "SELECT flag_id, family_key, as_of_date, worker_id, model_version FROM flags "
            "WHERE list_contains(?::VARCHAR[], flag_id)",
            [list(flag_ids)],
        ).df()
        flags["withdrawn_at"] = pd.Timestamp("2026-03-20 08:00")
        flags["gate"] = "objections register"
        flags["reason"] = "objections.csv refused whole"
        flags["reinstated_at"] = pd.Timestamp(reinstated) if reinstated else pd.NaT
        con.register("w", flags)
        con.execute("CREATE OR REPLACE TABLE flag_withdrawals AS SELECT * FROM w")
    finally:
        con.close()
    publish_serving_snapshot(
        data_dir
    )  # the failed run still publishes: withdrawals reach the portal


def test_withdrawn_flags_are_not_served_and_the_practitioner_is_told(
    client: TestClient, portal_data: PortalFixture
) -> None:
    a1, a2 = portal_data.flags["A1"], portal_data.flags["A2"]
    _withdraw(portal_data.data_dir, [a1, a2])
    login(client, "alex")
    page = client.get("/my-families")
    assert a1 not in page.text and a2 not in page.text
    assert "Flags are withdrawn while a data check fails" in page.text
    assert client.get(f"/families/{a1}").status_code == 404


def test_reinstated_flags_are_served_again(client: TestClient, portal_data: PortalFixture) -> None:
    a1 = portal_data.flags["A1"]
    _withdraw(portal_data.data_dir, [a1], reinstated="2026-03-21 07:00")
    login(client, "alex")
    page = client.get("/my-families")
    assert a1 in page.text and "Flags are withdrawn" not in page.text
