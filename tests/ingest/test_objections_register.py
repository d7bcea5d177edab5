"""Finding 2 (unit level): the objections register's verdicts, from the file alone.

Before the fix a register without its header, with DD/MM/YYYY dates or with no rows was
simply ingested with every row quarantined: nothing judged the register as a whole.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from safeguard.ingest.contract import load_contract
from safeguard.ingest.drops import Drop, DropStatus
from safeguard.ingest.objections import (
    PENDING_COLUMNS,
    RegisterPolicy,
    assess_register,
    newer_register_problems,
    quarantined_register_rows,
)
from safeguard.ingest.reader import read_file

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


def _pending(tmp_path, drop_tools, header, rows):
    drop = drop_tools.make_drop(tmp_path, files={"objections": (header, rows)})
    result = read_file(drop, "objections", load_contract())
    return result, quarantined_register_rows(drop, load_contract(), result)


MALFORMED_DOB = "DOB-MARKER-77"
MORE = [
    ["OBJ003", "Cleo", "Sampleton", "1990-01-01", "NB3 1AA", "2025-03-03"],
    ["OBJ004", "Dara", "Mockford", "1970-05-05", "", "2025-04-04"],
]


def test_a_quarantined_row_that_names_someone_is_kept_pending_without_its_defect(
    tmp_path, drop_tools
):
    rows = [[*ROWS[0][:3], MALFORMED_DOB, *ROWS[0][4:]], ROWS[1], *MORE]
    result, salvaged = _pending(tmp_path, drop_tools, HEADER, rows)
    assert result.accounting.rows_quarantined == 1
    assert list(salvaged.columns) == ["row_number", *PENDING_COLUMNS]
    row = salvaged.iloc[0]
    assert (row["row_number"], row["objection_id"], row["first_name"], row["last_name"]) == (
        1,
        "OBJ001",
        "Ada",
        "Testperson",
    )
    assert row["postcode"] == "NB1 2AB" and str(row["received_date"].date()) == "2025-01-02"
    assert "dob" not in salvaged.columns
    assert MALFORMED_DOB not in salvaged.to_string()

    ids = set(result.accepted["objection_id"].astype(str)) | {"OBJ001"}
    verdict = assess_register(
        result, previous_ids={"OBJ001", "OBJ002"}, current_ids=ids, pending_rows={1}
    )
    assert verdict.passed, verdict.summary
    assert verdict.pending == 1 and verdict.metrics["rows_pending_verification"] == 1
    assert verdict.metrics["objections_lost"] == 0  # pending is not lost


def test_a_quarantined_row_without_a_usable_name_fails_the_register(tmp_path, drop_tools):
    rows = [["OBJ001", "", "Testperson", MALFORMED_DOB, "NB1 2AB", "2025-01-02"], ROWS[1], *MORE]
    result, salvaged = _pending(tmp_path, drop_tools, HEADER, rows)
    assert pd.isna(salvaged.iloc[0]["first_name"])
    ids = set(result.accepted["objection_id"].astype(str))
    verdict = assess_register(result, current_ids=ids, pending_rows=set())
    assert not verdict.passed
    assert (
        "1 of 4 rows of objections.csv were quarantined without a usable first and last name"
        in (verdict.summary)
    )
    assert "first_name required: 1" in verdict.summary
    for cell in ("OBJ00", "Testperson", MALFORMED_DOB, "NB1"):
        assert cell not in verdict.summary
    # the same row honoured by name passes (the caller decides what names someone)
    assert assess_register(result, current_ids=ids, pending_rows={1}).passed


def test_a_systemic_share_of_quarantined_rows_fails_even_when_every_row_names_someone(
    tmp_path, drop_tools
):
    rows = [[*r[:3], MALFORMED_DOB, *r[4:]] for r in (*ROWS, *MORE[:1])] + MORE[1:]
    result, salvaged = _pending(tmp_path, drop_tools, HEADER, rows)
    assert len(salvaged) == 3
    verdict = assess_register(result, current_ids=(), pending_rows={1, 2, 3})
    assert not verdict.passed
    assert "3 of 4 rows of objections.csv were quarantined (dob type: 3), 75% of the file" in (
        verdict.summary
    )
    lax = RegisterPolicy(max_quarantined_share=0.8)
    assert assess_register(result, current_ids=(), pending_rows={1, 2, 3}, policy=lax).passed


def test_an_unreadable_or_refused_register_salvages_nothing(tmp_path, drop_tools):
    result, salvaged = _pending(tmp_path, drop_tools, ROWS[0], ROWS[1:])
    assert result.refused and len(salvaged) == result.accounting.rows_quarantined == 2
    assert salvaged[list(PENDING_COLUMNS)].isna().all().all()  # a refused file keeps nothing
    drop = drop_tools.make_drop(tmp_path / "other", files={"objections": (HEADER, ROWS)})
    assert quarantined_register_rows(drop, load_contract(), None).empty
