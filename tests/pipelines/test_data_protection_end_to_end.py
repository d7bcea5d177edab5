"""Data protection end to end (issue 13): a synthetic estate with planted people goes through the
pipeline and the portal, then a retention purge; an attacker's view of the data directory is
checked at each step.

- keyed pseudonyms: the warehouse's person keys are not reversible from agency numbering;
- every file under the data directory is owner-only (0600 / 0700), WAL and Dagster storage too;
- after the purge, a ``grep -a`` over the *whole* data directory (databases, WAL, Dagster
  storage, reports, case packs, landing drops past their retention, portal database) finds
  none of the planted identifiers or the purged values; the audit trail still verifies.
"""

from __future__ import annotations

import csv
import hashlib
import os
import stat
import subprocess
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from dateutil.relativedelta import relativedelta
from lax_council import LAX
from typer.testing import CliRunner

from safeguard.cli import app
from safeguard.pipelines.runner import RunOutcome, run_pipeline
from safeguard.synth import EstateConfig, generate_estate

PLANTED = {
    "first_name": "Quenby",
    "last_name": "Zarkowitzqa",
    "child_first_name": "Ottoline",
    "address_line": "99 Plantedmarker Lane",
    "housing_event": "HE99999901",
    "housing_person": "NBH9999901",
    "benefit_event": "RB99999901",
    "claimant": "NBCR9999901",
    "episode": "EP99999901",
    "child_id": "NBC9999901",
}
JUDGEMENT_TEXT = "Spoke to Quenby on the doorstep PLANTED-JUDGEMENT-7e1d"
# Agency numbering an attacker can read off any letter or form: prefix and zero-padded width.
NUMBERING = {"social_care": ("EP", 8), "education": ("ED", 9), "housing": ("HE", 8),
             "police": ("INV", 8), "revenues_benefits": ("RB", 8)}  # fmt: skip


def _nhs_number(seed: int) -> str:
    """A synthetic NHS number with a valid modulus-11 check digit (999 prefix: not issued)."""
    while True:
        base = f"999{seed:06d}"
        remainder = sum(int(d) * w for d, w in zip(base, range(10, 1, -1), strict=True)) % 11
        check = 11 - remainder
        if check != 10:
            return base + str(0 if check == 11 else check)
        seed += 1


def _append_like(path: Path, changes: dict[str, str]) -> None:
    """Append a copy of the file's first data row with ``changes`` (keeps every enum valid)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, template = reader.fieldnames, next(reader)
    assert header is not None
    row = {**template, **{k: v for k, v in changes.items() if k in header}}
    with path.open("a", newline="", encoding="utf-8") as fh:
        csv.DictWriter(fh, fieldnames=header).writerow(row)


def _plant(drop: Path) -> None:
    """A parent and child known only from records that expire long before the purge date."""
    p = PLANTED
    person = {"first_name": p["first_name"], "last_name": p["last_name"], "dob": "1971-02-03",
              "address_line": p["address_line"], "postcode": "NB9 9ZQ"}  # fmt: skip
    _append_like(drop / "housing.csv", {**person, "event_id": p["housing_event"],
                 "person_ref": p["housing_person"], "tenancy_ref": "T9999901",
                 "event_date": "2019-03-04", "arrears_gbp": ""})  # fmt: skip
    _append_like(drop / "revenues_benefits.csv", {**person, "event_id": p["benefit_event"],
                 "claimant_ref": p["claimant"], "event_date": "2019-05-06"})  # fmt: skip
    _append_like(drop / "social_care.csv", {**person, "first_name": p["child_first_name"],
                 "dob": "2012-06-07", "episode_id": p["episode"], "child_id": p["child_id"],
                 "upn": "", "nhs_number": _nhs_number(4711), "start_date": "2018-01-10",
                 "end_date": "2019-02-01"})  # fmt: skip


def _planted_values() -> set[str]:
    return {*PLANTED.values(), _nhs_number(4711), JUDGEMENT_TEXT}


def _grep(root: Path, needles: set[str]) -> dict[str, list[str]]:
    """``grep -a`` for each needle over every file under ``root``: needle -> files.

    Literally ``grep -Fao``: one pass over each file for all the needles at once (a Python
    ``in`` per needle and file took minutes for the thousands of purged identifiers). grep
    reports the leftmost-longest matches, so a needle inside a matched one (``P00000062`` in
    ``EP00000062``) is added from the match; whether anything at all is found is exact.
    """
    relative = {str(p): str(p.relative_to(root)) for p in sorted(root.rglob("*")) if p.is_file()}
    files = list(relative)
    if not needles or not files:
        return {}
    lengths = sorted({len(n) for n in needles})
    with tempfile.NamedTemporaryFile("w", suffix=".needles", encoding="utf-8") as patterns:
        patterns.write("".join(f"{n}\n" for n in needles))
        patterns.flush()
        found: dict[str, set[str]] = {}  # matched text -> files
        for start in range(0, len(files), 200):
            result = subprocess.run(
                ["grep", "-FaoZH", "-f", patterns.name, "--", *files[start : start + 200]],
                capture_output=True,
                env={**os.environ, "LC_ALL": "C"},
                check=False,
            )
            assert result.returncode in (0, 1), result.stderr  # 1: no match in this chunk
            for line in result.stdout.splitlines():
                name, match = line.split(b"\0", 1)
                found.setdefault(match.decode(), set()).add(name.decode())
    hits: dict[str, set[str]] = {}
    for match, names in found.items():
        inside = {match[i : i + k] for k in lengths for i in range(len(match) - k + 1)}
        for needle in inside & needles:
            hits.setdefault(needle, set()).update(relative[n] for n in names)
    return {needle: sorted(names) for needle, names in hits.items()}


def _query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    root = tmp_path_factory.mktemp("protection")
    data_dir, truth = root / "data", root / "truth"
    landing = data_dir / "landing"  # as `safeguard demo` lays it out: inside the data dir
    generate_estate(
        EstateConfig(people=3000, seed=11, history_months=1), out=landing, truth_out=truth
    )
    for drop in sorted(p for p in landing.iterdir() if p.is_dir()):
        _plant(drop)
    outcome = run_pipeline(  # no truth: it does not know the planted records
        landing=landing,
        data_dir=data_dir,
        council=LAX,
    )
    assert outcome.success, (outcome.error, [g.message for g in outcome.failed_gates])
    return outcome


def test_person_keys_in_the_warehouse_are_not_reversible(run: RunOutcome) -> None:
    """The attack of finding 1, with the warehouse alone and a guess at agency numbering."""
    person_keys = {r[0] for r in _query(run.data_dir / "warehouse.duckdb",
                                        "SELECT DISTINCT person_key FROM record_links")}  # fmt: skip
    family_keys = {r[0] for r in _query(run.data_dir / "warehouse.duckdb",
                                        "SELECT DISTINCT family_key FROM families")}  # fmt: skip
    guesses = {
        hashlib.blake2b(f"{source}\x1f{prefix}{n:0{width}d}".encode(), digest_size=8).hexdigest()
        for source, (prefix, width) in NUMBERING.items()
        for n in range(1, 40_000)
    }
    assert len(person_keys) > 1000
    assert not person_keys & guesses
    unkeyed_families = {
        hashlib.blake2b(f"family\x1f{k}".encode(), digest_size=8).hexdigest() for k in person_keys
    }
    assert family_keys and not family_keys & unkeyed_families


def _judge_a_flag(data_dir: Path) -> None:
    """A practitioner's recorded judgement (free text naming someone), as the portal stores it."""
    from safeguard.portal import store
    from safeguard.portal.users import portal_cursor

    flag_id, family_key, worker_id, version = _query(
        data_dir / "warehouse.duckdb",
        "SELECT flag_id, family_key, worker_id, model_version FROM flags ORDER BY rank LIMIT 1",
    )[0]
    with portal_cursor(data_dir) as cur:
        store.insert_judgement(
            cur, flag_id=flag_id, family_key=family_key, worker_id=worker_id,
            username="pat.practitioner", decision="agree_act", reason=JUDGEMENT_TEXT,
            decided_at=datetime.now(UTC).replace(tzinfo=None), model_version=version,
        )  # fmt: skip


@pytest.fixture(scope="module")
def purged(run: RunOutcome) -> tuple[set[str], dict[str, list[str]]]:
    """Portal use, then `safeguard purge` 25 months after the newest extract.

    Returns the values the purge must remove (the planted ones, and every record key, agency
    id and NHS number held only by purged records) and where a scan found them just before.
    """
    data_dir = run.data_dir
    _judge_a_flag(data_dir)
    vault = data_dir / "vault.duckdb"
    identifiers = " UNION ".join(
        f"SELECT {c}::VARCHAR AS v FROM identity_vault WHERE length({c}) >= 9"
        for c in ("record_key", "agency_id", "upn", "nhs_number")
    )
    held = {r[0] for r in _query(vault, identifiers)}
    newest = max(date.fromisoformat(p.name) for p in (data_dir / "landing").iterdir())
    today = newest + relativedelta(months=25)
    planted = _planted_values()
    seen_before = _grep(data_dir, planted | held)
    result = CliRunner().invoke(
        app, ["purge", "--data-dir", str(data_dir), "--today", today.isoformat()]
    )
    assert result.exit_code == 0, result.output
    for store in ("vault.duckdb", "warehouse.duckdb", "portal database", "landing", "audit trail"):
        assert store in result.output
    kept = {r[0] for r in _query(vault, identifiers)}
    # A purged value that is part of a kept one (police person P00000062 inside social care
    # episode EP00000062) would be found for the wrong reason: leave such values out.
    kept_text = "\x00".join(kept)
    purged_only = {v for v in held - kept if v not in kept_text}
    return planted | purged_only, seen_before


DATABASES = (".duckdb", ".sqlite")


def test_the_scan_sees_the_values_while_they_are_held(
    purged: tuple[set[str], dict[str, list[str]]],
) -> None:
    needles, seen_before = purged
    assert set(seen_before) >= needles  # in the drops at least
    # ...and in the database files themselves, where a byte scan is the attacker's tool.
    in_databases = {
        n for n, files in seen_before.items() if any(db in f for f in files for db in DATABASES)
    }  # the warehouse, vault and snapshots (DuckDB) and the portal's (SQLite by default)
    assert {PLANTED["last_name"], JUDGEMENT_TEXT} <= in_databases
    assert len(in_databases & needles) > 0.5 * len(needles)


def test_purge_leaves_no_planted_or_purged_value_anywhere_in_the_data_dir(
    run: RunOutcome, purged: tuple[set[str], dict[str, list[str]]]
) -> None:
    needles, _ = purged
    assert len(needles) > 100  # thousands of records expire 72 months back
    assert _grep(run.data_dir, needles) == {}
    assert not any((run.data_dir / "landing").iterdir())  # every drop past 6 months


def test_every_file_under_the_data_dir_is_owner_only(run: RunOutcome, purged: object) -> None:
    loose = [
        f"{path.relative_to(run.data_dir)} {oct(stat.S_IMODE(path.lstat().st_mode))}"
        for path in [run.data_dir, *run.data_dir.rglob("*")]
        if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o077
    ]
    assert loose == []
    assert (run.data_dir / "dagster_home" / "history" / "runs.db").exists()


def test_the_audit_trail_verifies_after_run_portal_and_purge(
    run: RunOutcome, purged: object
) -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(run.data_dir)])
    assert result.exit_code == 0, result.output
    assert "anchor matches" in result.output
