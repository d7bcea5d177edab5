"""Finding 2 (unit level): the objections register's verdicts, from the file alone.

Before the fix a register without its header, with DD/MM/YYYY dates or with no rows was
simply ingested with every row quarantined: nothing judged the register as a whole.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ingest.contract import load_contract
from ingest.drops import Drop, DropStatus
from ingest.objections import RegisterPolicy, assess_register, newer_register_problems
from ingest.reader import read_file

HEADER = ["objection_id", "first_name", "last_name", "dob", "postcode", "received_date"]
ROWS = [
    ["OBJ001", "Ada", "Testperson", "1985-03-14", "NB1 2AB", "2025-01-02"],
    ["OBJ002", "Bram", "Fakeley", "2014-07-02", "", "2025-02-03"],
]


def _register(tmp_path, drop_tools, header, rows):
    drop = drop_tools.make_drop(tmp_path, files={"objections": (header, rows)})
    result = read_file(drop, "objections", load_contract())
    ids = set(result.accepted["objection_id"].dropna().astype(str))
    return result, ids


def test_a_good_register_passes(tmp_path, drop_tools):
    result, ids = _register(tmp_path, drop_tools, HEADER, ROWS)
    verdict = assess_register(result, previous_ids={"OBJ001"}, current_ids=ids)
    assert verdict.passed, verdict.summary
    assert verdict.metrics["rows_accepted"] == 2


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("headerless", "refused whole"),
        ("dd/mm/yyyy", "quarantined (dob type: 2)"),
        ("empty", "holds no objections"),
    ],
)
def test_untrustworthy_registers_fail_with_reasons_that_quote_nothing(
    tmp_path, drop_tools, kind, expected
):
    if kind == "headerless":
        header, rows = ROWS[0], ROWS[1:]
    elif kind == "dd/mm/yyyy":
        flip = lambda v: f"{v[8:]}/{v[5:7]}/{v[:4]}"  # noqa: E731
        header, rows = HEADER, [[*r[:3], flip(r[3]), r[4], flip(r[5])] for r in ROWS]
    else:
        header, rows = HEADER, []
    result, ids = _register(tmp_path, drop_tools, header, rows)
    verdict = assess_register(result, previous_ids={"OBJ001", "OBJ002"}, current_ids=ids)
    assert not verdict.passed
    assert expected in verdict.summary
    assert verdict.volume_problems  # both previous objections are gone from what was accepted
    for cell in ("OBJ00", "Ada", "Testperson", "1985", "14/03", "NB1"):
        assert cell not in verdict.summary


def test_lost_objections_fail_unless_the_council_allows_them(tmp_path, drop_tools):
    result, ids = _register(tmp_path, drop_tools, HEADER, ROWS[:1])
    strict = assess_register(result, previous_ids={"OBJ001", "OBJ002"}, current_ids=ids)
    assert strict.volume_problems and not strict.complete_problems
    assert "1 of 2 objections of the last accepted register are missing" in strict.summary
    allowed = assess_register(
        result,
        previous_ids={"OBJ001", "OBJ002"},
        current_ids=ids,
        policy=RegisterPolicy(max_lost=1),
    )
    assert allowed.passed


def test_an_empty_register_passes_only_when_confirmed(tmp_path, drop_tools):
    result, ids = _register(tmp_path, drop_tools, HEADER, [])
    assert not assess_register(result, current_ids=ids).passed
    assert assess_register(result, current_ids=ids, policy=RegisterPolicy(may_be_empty=True)).passed


def test_an_unreadable_register_fails():
    verdict = assess_register(None, read_error="PermissionError", previous_ids=set())
    assert not verdict.passed and "could not be read (PermissionError)" in verdict.summary


def test_a_newer_delivery_without_its_register_fails():
    current = Drop(date(2026, 10, 1), Path("/x/2026-10-01"))
    newer = Drop(date(2026, 11, 1), Path("/x/2026-11-01"))
    waiting = Drop(date(2026, 12, 1), Path("/x/2026-12-01"))
    statuses = [
        DropStatus(waiting, ("police.csv is missing",), ("police.csv",)),  # still landing
        DropStatus(newer, ("objections.csv is missing",), ("objections.csv",)),
        DropStatus(current, ()),
    ]
    problems = newer_register_problems(statuses, current)
    assert problems == [
        "drop 2026-11-01 holds every agency file but objections.csv is missing: "
        "the newest register cannot be read"
    ]
