"""After a key rotation no old pseudonym is left in the bytes of any file, on every portal backend.

An attacker holding a copy of the data directory must not find an old person or family key
beside its new one (in free pages, a WAL, a stale file): that would link the two. The portal
database is checked on the embedded SQLite default, on a legacy ``portal.duckdb``, and on
PostgreSQL when ``TEST_POSTGRES_URL`` names a server (there its tables are read back: the
server's files are not in the data directory). The vault's ``key_rotations`` table and the
append-only audit trail keep old keys on purpose (subject access) and are not scanned.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from governance_estate import KEY, PLANTED

from safeguard.dpia.pseudonymise import KEY_FILE_NAME
from safeguard.governance.rekey import PSEUDONYM_COLUMNS, rotate_keys
from safeguard.portal.database import open_portal_database
from safeguard.portal.records import read_practitioner_tables, replace_practitioner_tables
from safeguard.portal.schema import metadata

POSTGRES_ENV = "TEST_POSTGRES_URL"
REQUIRED_ENV = "TEST_POSTGRES_REQUIRED"  # CI: an unreachable server fails instead of skipping
URL_SETTING = "SAFEGUARD_PORTAL_DATABASE_URL"
KEPT_ON_PURPOSE = ("vault.duckdb", "audit.jsonl")


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get(REQUIRED_ENV):
            pytest.fail(f"{REQUIRED_ENV} is set but {POSTGRES_ENV} is not: CI must test PostgreSQL")
        pytest.skip(f"PostgreSQL not available: set {POSTGRES_ENV}")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in [*metadata.tables, "portal_alembic_version"]:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    except sa.exc.OperationalError as error:
        pytest.fail(f"{POSTGRES_ENV} is set but the server cannot be reached: {error.orig}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def backend_estate(
    request: pytest.FixtureRequest, estate_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    """The governance estate keyed with KEY, its portal rows on the backend named by the param."""
    data_dir = estate_copy
    (data_dir / KEY_FILE_NAME).write_bytes(KEY)
    os.chmod(data_dir / KEY_FILE_NAME, 0o600)
    if request.param == "sqlite":
        return request.param, data_dir
    url = (
        _postgres_url()
        if request.param == "postgresql"
        else f"duckdb:///{data_dir / 'portal.duckdb'}"  # a data directory from before SQLite
    )
    frames = read_practitioner_tables(data_dir)
    for path in data_dir.glob("portal.sqlite*"):
        path.unlink()
    if request.param == "postgresql":
        monkeypatch.setenv(URL_SETTING, url)
    with open_portal_database(data_dir, url):
        pass  # created and migrated
    replace_practitioner_tables(data_dir, frames)
    assert read_practitioner_tables(data_dir)["judgements"]["family_key"].tolist() == [
        PLANTED.family_key,
        "0ther0family0001",
    ]
    return request.param, data_dir


def _pseudonyms(data_dir: Path) -> set[str]:
    """Every pseudonym-column value in the portal tables, the vault and the warehouse."""
    values: set[str] = set()
    for frame in read_practitioner_tables(data_dir).values():
        for column in PSEUDONYM_COLUMNS & set(frame.columns):
            values |= set(frame[column].dropna())
    for name in ("vault.duckdb", "warehouse.duckdb"):
        con = duckdb.connect(str(data_dir / name), read_only=True)
        try:
            for table, column in con.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'main'"
            ).fetchall():
                if column in PSEUDONYM_COLUMNS:
                    rows = con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall()
                    values |= {r[0] for r in rows if r[0] is not None}
        finally:
            con.close()
    return values


def _leftovers(data_dir: Path, old: set[str]) -> list[str]:
    found = []
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and path.name not in KEPT_ON_PURPOSE:
            data = path.read_bytes()
            found += [
                f"{path.relative_to(data_dir)}:{v}" for v in sorted(old) if v.encode() in data
            ]
    return found


def _postgres_values(url: str) -> set[str]:
    """Every text value of every table of the PostgreSQL portal database."""
    engine = sa.create_engine(url)
    values: set[str] = set()
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    values |= {v for v in row if isinstance(v, str)}
    finally:
        engine.dispose()
    return values


def _postgres_file_bytes(url: str) -> bytes | None:
    """The bytes of every table and index file of the portal (None: not a superuser here)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not conn.execute(
                sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar():
                return None
            conn.execute(sa.text("CHECKPOINT"))  # the pages on disk, not only in shared buffers
            paths = conn.execute(
                sa.text(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i', 't')"
                )
            ).scalars()
            return b"".join(
                conn.execute(sa.text("SELECT pg_read_binary_file(:p)"), {"p": p}).scalar()
                for p in paths
                if p
            )
    finally:
        engine.dispose()


def test_no_old_pseudonym_is_left_in_any_file_after_a_rotation(
    backend_estate: tuple[str, Path],
) -> None:
    backend, data_dir = backend_estate
    old = _pseudonyms(data_dir)
    assert {PLANTED.family_key, "0ther0family0001", PLANTED.flag_id} <= old and len(old) > 500
    people = {v for v in old if len(v) == 16}  # person, family and record keys among them
    assert _leftovers(data_dir, {PLANTED.family_key}) != []  # the scan sees them before

    rotate_keys(data_dir, actor="data_team")

    assert _leftovers(data_dir, old) == []
    judgements = read_practitioner_tables(data_dir)["judgements"]
    assert not set(judgements["family_key"]) & old  # re-keyed, not dropped
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        flagged = dict(con.execute("SELECT flag_id, family_key FROM flags").fetchall())
    finally:
        con.close()
    assert dict(zip(judgements["flag_id"], judgements["family_key"], strict=True)) == flagged
    if backend == "postgresql":
        url = os.environ[URL_SETTING]
        assert not _postgres_values(url) & (old | people)
        files = _postgres_file_bytes(url)  # VACUUM FULL: the dead tuples left the tables' files
        if files is not None:
            assert [v for v in sorted(old) if v.encode() in files] == []
    else:
        wal = [p.name for p in data_dir.glob("portal.*") if p.suffix in {".wal", ".sqlite-wal"}]
        assert all((data_dir / name).stat().st_size == 0 for name in wal)
