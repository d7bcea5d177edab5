"""Finding 2, end to end: an untrustworthy objections register stops scoring and withdraws flags.

Before the fix a register without its header row, with DD/MM/YYYY dates, or empty had every
row quarantined, no gate noticed, the run succeeded, and an objector's family was flagged to a
practitioner. Now the run stops at the named gate ``objections_register_complete`` (blocking),
nothing downstream runs, every served flag is withdrawn from the portal (recorded, not
deleted), and a run with a good register serves flags again, never the objector's family.

A single objection row quarantined for a defect is different (issue 14: one malformed row must
not stop the run): if it still names someone it is honoured by name, pending verification, so
the run goes on and the objector's family is neither scored nor flagged; if it names nobody
(no usable first and last name) it cannot be honoured and the register gate stops the run.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest
from data_dirs import copy_data_dir
from lax_council import LAX

from safeguard.pipelines.runner import RunOutcome, run_pipeline
from safeguard.portal.warehouse import current_flags
from safeguard.synth import EstateConfig, generate_estate

PEOPLE = 3000
GATE = ("objections", "objections_register_complete")


def _run(landing: Path, data_dir: Path) -> RunOutcome:
    # No ground truth: the planted objection is not in the generator's truth files.
    return run_pipeline(landing=landing, data_dir=data_dir, council=LAX)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("objections-estate") / "landing"
    generate_estate(
        EstateConfig(people=PEOPLE, seed=11, history_months=1),
        out=landing,
        truth_out=landing.parent / "truth",
    )
    return landing


def _query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _served(data_dir: Path) -> set[str]:
    """Family keys a practitioner can see now, read the way the portal reads them."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return {flag.family_key for flag in current_flags(con)}


@pytest.fixture(scope="module")
def first(estate: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunOutcome, dict]:
    """A good run on the newest drop; then one member of a flagged family becomes an objector."""
    data_dir = tmp_path_factory.mktemp("objections-data")
    landing = tmp_path_factory.mktemp("objections-landing")
    newest = sorted(p for p in estate.iterdir() if p.is_dir())[-1]
    shutil.copytree(newest, landing / newest.name)
    outcome = _run(landing, data_dir)
    assert outcome.success, (
        outcome.error,
        [(g.asset, g.check, g.message) for g in outcome.failed_gates],
    )
    flagged = _served(data_dir)
    assert flagged, "the first run is expected to serve flags"
    family = sorted(flagged)[0]
    members = _query(
        data_dir / "warehouse.duckdb",
        "SELECT person_key FROM families WHERE family_key = ?",
        [family],
    )
    person = _query(
        data_dir / "vault.duckdb",
        "SELECT first_name, last_name, dob, postcode FROM identity_vault "
        "WHERE person_key IN (SELECT unnest(?::VARCHAR[])) AND dob IS NOT NULL "
        "AND source <> 'objections' LIMIT 1",
        [[m[0] for m in members]],
    )[0]
    return outcome, {
        "data_dir": data_dir,
        "landing": landing,
        "drop": newest.name,
        "family": family,
        "person": person,
    }


def _register_rows(drop: Path, person: tuple) -> tuple[list[str], list[list[str]]]:
    with (drop / "objections.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    first, last, dob, postcode = person
    rows.append(["OBJ99999", first, last, dob.strftime("%Y-%m-%d"), postcode or "", "2026-10-15"])
    return rows[0], rows[1:]


MALFORMED_DOB = "DOB-NOT-A-DATE-4c1e"


def _broken_register(kind: str, header: list[str], rows: list[list[str]]) -> str:
    lines: list[list[str]]
    planted = rows[-1]  # the objection of a member of a flagged family (see _register_rows)
    if kind == "malformed_dob":
        lines = [header, *rows[:-1], [*planted[:3], MALFORMED_DOB, *planted[4:]]]
    elif kind == "nameless":
        lines = [header, *rows[:-1], [planted[0], "", *planted[2:]]]
    elif kind == "headerless":
        lines = rows
    elif kind == "dd/mm/yyyy":
        flip = lambda v: f"{v[8:10]}/{v[5:7]}/{v[:4]}" if len(v) == 10 and v[4] == "-" else v  # noqa: E731
        lines = [header, *[[flip(v) for v in row] for row in rows]]
    elif kind == "empty":
        lines = [header]
    else:
        raise ValueError(kind)
    return "".join(",".join(f'"{v}"' if "," in v else v for v in line) + "\n" for line in lines)


def _next_drop(state: dict, day: str) -> Path:
    target = state["landing"] / day
    shutil.copytree(state["landing"] / state["drop"], target)
    return target


def _broken_run(base: dict, tmp_path: Path, kind: str) -> tuple[dict, Path, RunOutcome, set[str]]:
    """Copy the first run's state, deliver a drop with a broken register, run."""
    state = {**base, "data_dir": tmp_path / "data", "landing": tmp_path / "landing"}
    copy_data_dir(base["data_dir"], state["data_dir"])
    shutil.copytree(base["landing"], state["landing"])
    drop = _next_drop(state, "2026-12-01")
    header, rows = _register_rows(drop, state["person"])
    text = "" if kind == "zero_bytes" else _broken_register(kind, header, rows)
    (drop / "objections.csv").write_text(text, encoding="utf-8")
    served_before = _served(state["data_dir"])
    assert state["family"] in served_before
    return state, drop, _run(state["landing"], state["data_dir"]), served_before


@pytest.fixture(scope="module")
def headerless(
    first: tuple[RunOutcome, dict], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, Path, RunOutcome, set[str]]:
    """The run with a headerless register, shared by the two tests that start from it (never
    written to: the fixed-register test copies it)."""
    return _broken_run(first[1], tmp_path_factory.mktemp("headerless"), "headerless")


@pytest.mark.parametrize("kind", ["headerless", "dd/mm/yyyy", "empty", "zero_bytes", "nameless"])
def test_untrustworthy_register_stops_scoring_and_withdraws_flags(
    first: tuple[RunOutcome, dict], tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "headerless":
        state, _, outcome, served_before = request.getfixturevalue("headerless")
    else:
        state, _, outcome, served_before = _broken_run(first[1], tmp_path, kind)

    assert not outcome.success
    failed = {(g.asset, g.check) for g in outcome.failed_gates}
    assert GATE in failed, failed
    for asset in ("family_scores", "flags", "caseloads", "identity_vault", "training_frame"):
        assert asset in outcome.skipped, asset
    # Every served flag withdrawn (nothing deleted: the flags table and the ledger keep them).
    assert _served(state["data_dir"]) == set()
    ledger = _query(
        state["data_dir"] / "warehouse.duckdb",
        "SELECT count(*), count(DISTINCT gate), max(reason) FROM flag_withdrawals "
        "WHERE reinstated_at IS NULL",
    )[0]
    assert ledger[0] == len(served_before) and ledger[1] == 1
    assert "OBJ99999" not in ledger[2] and state["person"][1] not in ledger[2]
    assert _query(state["data_dir"] / "warehouse.duckdb", "SELECT count(*) FROM flags")[0][0] > 0
    # The last accepted register is still the one in the vault.
    ids = _query(state["data_dir"] / "vault.duckdb", "SELECT objection_id FROM identity_objections")
    assert ("OBJ99999",) not in ids


def test_a_malformed_objection_still_protects_the_person_it_names(
    first: tuple[RunOutcome, dict], tmp_path: Path
) -> None:
    """The objector's row has a malformed date of birth: the run goes on without their family."""
    state, _, outcome, served_before = _broken_run(first[1], tmp_path, "malformed_dob")

    assert outcome.success, (outcome.error, [(g.check, g.message) for g in outcome.failed_gates])
    checks = {(c.asset, c.check): c for c in outcome.checks}
    assert checks[GATE].passed
    assert checks[GATE].message.startswith("1 objection(s) pending verification")
    assert checks[("flags", "no_objector_scored_or_flagged")].passed
    served = _served(state["data_dir"])
    assert served and state["family"] in served_before and state["family"] not in served
    warehouse = state["data_dir"] / "warehouse.duckdb"
    scored = _query(
        warehouse, "SELECT count(*) FROM family_scores WHERE family_key = ?", [state["family"]]
    )
    assert scored[0][0] == 0
    pending = _query(
        state["data_dir"] / "vault.duckdb", "SELECT objection_id, last_name FROM pending_objections"
    )
    assert pending == [("OBJ99999", state["person"][1])]
    # Counted for reviewers (aggregates only), and the malformed cell is nowhere.
    pack = (state["data_dir"] / "reports" / "review_pack.md").read_text(encoding="utf-8")
    assert "1 objection(s) pending verification" in pack
    assert "OBJ99999" not in pack and state["person"][1] not in pack
    offenders = [
        str(p.relative_to(state["data_dir"]))
        for p in state["data_dir"].rglob("*")
        if p.is_file() and MALFORMED_DOB.encode() in p.read_bytes()
    ]
    assert offenders == []


def test_fixed_register_serves_flags_again_but_never_the_objectors_family(
    headerless: tuple[dict, Path, RunOutcome, set[str]], tmp_path: Path
) -> None:
    shared, shared_broken, outcome, _ = headerless
    state = {**shared, "data_dir": tmp_path / "data", "landing": tmp_path / "landing"}
    copy_data_dir(shared["data_dir"], state["data_dir"])
    shutil.copytree(shared["landing"], state["landing"])
    broken = state["landing"] / shared_broken.name
    assert not outcome.success and _served(state["data_dir"]) == set()

    # Fixed: the register arrives with its header and ISO dates; the objector is honoured.
    fixed = _next_drop(state, "2027-01-01")
    fixed_header, fixed_rows = _register_rows(fixed, state["person"])
    (fixed / "objections.csv").write_text(
        "".join(",".join(r) + "\n" for r in [fixed_header, *fixed_rows]), encoding="utf-8"
    )
    shutil.rmtree(broken)  # the broken delivery is withdrawn by its producer
    again = _run(state["landing"], state["data_dir"])
    assert again.success, (again.error, [(g.asset, g.check, g.message) for g in again.failed_gates])
    checks = {(c.asset, c.check): c.passed for c in again.checks}
    assert checks[("flags", "no_objector_scored_or_flagged")] and checks[GATE]
    served = _served(state["data_dir"])
    assert served and state["family"] not in served
    scored = _query(
        state["data_dir"] / "warehouse.duckdb",
        "SELECT count(*) FROM family_scores WHERE family_key = ?",
        [state["family"]],
    )[0][0]
    assert scored == 0
    # The earlier withdrawals stay on record (those flags were not published again).
    kept = _query(state["data_dir"] / "warehouse.duckdb", "SELECT count(*) FROM flag_withdrawals")
    assert kept[0][0] > 0


def test_a_headerless_agency_file_stops_the_run_and_no_cell_lands_anywhere(
    first: tuple[RunOutcome, dict], tmp_path: Path
) -> None:
    """Finding 3 end to end: the first row of a headerless police.csv reaches no file."""
    state = {**first[1], "data_dir": tmp_path / "data", "landing": tmp_path / "landing"}
    copy_data_dir(first[1]["data_dir"], state["data_dir"])
    shutil.copytree(first[1]["landing"], state["landing"])
    drop = _next_drop(state, "2026-12-01")
    police = drop / "police.csv"
    with police.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    planted = "PLANTEDNATIONALITYX7"
    first_row = [planted if i % 3 == 0 else value for i, value in enumerate(rows[1])]
    with police.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([first_row, *rows[2:]])

    outcome = _run(state["landing"], state["data_dir"])

    assert not outcome.success
    assert outcome.error and "police.csv refused whole" in outcome.error
    assert planted not in outcome.error
    offenders = [
        str(p.relative_to(state["data_dir"]))
        for p in state["data_dir"].rglob("*")
        if p.is_file() and planted.encode() in p.read_bytes()
    ]
    assert offenders == []
