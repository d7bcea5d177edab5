"""The serving snapshot: the portal reads what the last run published, never the live warehouse."""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap

import duckdb
from portal_client import TestClient, login
from portal_fixture import PortalFixture

from safeguard.portal.snapshot import (
    POINTER,
    current_snapshot,
    publish_serving_snapshot,
    serving_dir,
)

# A pipeline process writing the warehouse: DuckDB refuses the lock (it does not wait) while any
# other process holds the file open, so this fails at once if the portal had it open.
PIPELINE_WRITE = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("UPDATE flags SET worker_id = 'W02' WHERE flag_id = ?", [sys.argv[2]])
    con.close()
    print("written")
    """
)


def test_a_pipeline_write_does_not_wait_for_an_open_portal(
    client: TestClient, portal_data: PortalFixture
) -> None:
    a1 = portal_data.flags["A1"]
    login(client, "alex")
    assert a1 in client.get("/my-families").text  # the portal has its data open now
    warehouse = portal_data.data_dir / "warehouse.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", PIPELINE_WRITE, str(warehouse), a1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "written" in done.stdout, done.stderr[-500:]
    # Until the run publishes, the portal keeps serving the last published state...
    assert a1 in client.get("/my-families").text
    publish_serving_snapshot(portal_data.data_dir)
    # ...and picks the new one up at the next request, without a restart.
    assert a1 not in client.get("/my-families").text


def test_the_portal_serves_without_the_warehouse_file(
    client: TestClient, portal_data: PortalFixture
) -> None:
    (portal_data.data_dir / "warehouse.duckdb").rename(portal_data.data_dir / "elsewhere.duckdb")
    login(client, "alex")
    page = client.get(f"/families/{portal_data.flags['A1']}")
    assert page.status_code == 200 and "Ada Testperson" in page.text


def test_publishing_is_atomic_private_and_keeps_two_snapshots(
    portal_data: PortalFixture,
) -> None:
    data_dir = portal_data.data_dir
    first = current_snapshot(data_dir)
    second = publish_serving_snapshot(data_dir)
    third = publish_serving_snapshot(data_dir)
    assert first is not None and second is not None and third is not None
    assert current_snapshot(data_dir) == third
    assert (serving_dir(data_dir) / POINTER).read_text().strip() == third.name
    kept = sorted(p.name for p in serving_dir(data_dir).glob("snapshot-*"))
    assert kept == sorted([second.name, third.name])  # the previous stays for readers in flight
    assert not list(serving_dir(data_dir).glob(".*"))  # no staging file left behind
    assert stat.S_IMODE(third.stat().st_mode) == 0o600
    assert stat.S_IMODE(serving_dir(data_dir).stat().st_mode) == 0o700
    con = duckdb.connect(str(third), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        history = con.execute("SELECT count(*) FROM families WHERE valid_to IS NOT NULL")
        assert history.fetchall()[0][0] == 0  # current membership only
    finally:
        con.close()
    assert tables == {"flags", "flag_explanations", "workers", "families"}
    assert not tables & {"identity_vault", "people", "events", "family_features"}


def test_nothing_is_published_before_the_first_run(tmp_path) -> None:
    assert publish_serving_snapshot(tmp_path) is None
    assert current_snapshot(tmp_path) is None
