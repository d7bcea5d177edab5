"""Quarantine after the door: a row refused by a later row-level rule keeps the accounts whole,
and a column empty throughout is reported (required: unusable file; optional: legitimate)."""

from __future__ import annotations

import pandas as pd
import pytest

from safeguard.ingest.reader import LaterRejection, quarantine_rows, read_file


def _education(tmp_path, drop_tools, contract, n=6, **overrides):
    header = list(contract.sources["education"].columns)
    rows = [drop_tools.valid_row(contract, "education", i, **overrides) for i in range(1, n + 1)]
    drop = drop_tools.make_drop(tmp_path, files={"education": (header, [])})
    drop_tools.write_csv(drop.path / "education.csv", header, rows)
    return read_file(drop, "education", contract)


def test_blank_optional_column_is_read_and_reported_as_empty(tmp_path, drop_tools, contract):
    result = _education(tmp_path, drop_tools, contract, sessions_excluded="")
    assert result.accounting.rows_accepted == 6
    assert result.empty_columns == ("sessions_excluded",)
    assert result.accepted["sessions_excluded"].isna().all()


def test_blank_required_column_quarantines_every_row_and_is_reported(
    tmp_path, drop_tools, contract
):
    result = _education(tmp_path, drop_tools, contract, period_start="  ")
    assert result.accounting.rows_accepted == 0
    assert "period_start" in result.empty_columns
    assert set(result.quarantine["rule"]) == {"required"}


def test_one_filled_value_means_not_empty(tmp_path, drop_tools, contract):
    header = list(contract.sources["education"].columns)
    rows = [
        drop_tools.valid_row(contract, "education", i, sessions_excluded="" if i > 1 else "2")
        for i in range(1, 5)
    ]
    drop = drop_tools.make_drop(tmp_path, files={"education": (header, [])})
    drop_tools.write_csv(drop.path / "education.csv", header, rows)
    assert read_file(drop, "education", contract).empty_columns == ()


def test_later_rejections_move_rows_to_quarantine_and_keep_the_accounts(
    tmp_path, drop_tools, contract
):
    header = list(contract.sources["education"].columns)
    rows = [drop_tools.valid_row(contract, "education", i) for i in range(1, 7)]
    rows[1]["record_type"] = "nonsense"  # refused at the door (row 2)
    drop = drop_tools.make_drop(tmp_path, files={"education": (header, [])})
    drop_tools.write_csv(drop.path / "education.csv", header, rows)
    result = read_file(drop, "education", contract)
    assert result.accepted["row_number"].tolist() == [1, 3, 4, 5, 6]

    later = quarantine_rows(
        result,
        [
            LaterRejection(3, "period_start", "expect_column_values_to_be_between", "too late"),
            LaterRejection(1, "period_end", "expect_pair", "end before start"),
            LaterRejection(1, "sessions_possible", "expect_x", "also bad"),
            LaterRejection(1, "period_end", "expect_y", "same column twice"),
        ],
    )
    acc = later.accounting
    assert (acc.rows_read, acc.rows_accepted, acc.rows_quarantined) == (6, 3, 3)
    assert later.accepted["row_number"].tolist() == [1, 4, 6]
    q = later.quarantine
    assert q["row_number"].tolist() == [2, 3, 5]  # row order, door rows included
    by_row = q.set_index("row_number")
    assert by_row.loc[3, "column"] == "period_end" and by_row.loc[3, "rule"] == "expect_pair"
    assert by_row.loc[3, "reason"] == (
        "education.csv row 3: column period_end: end before start; also fails: "
        "sessions_possible -> quarantined"
    )
    assert by_row.loc[5, "reason"].startswith("education.csv row 5: column period_start: too late")
    assert (q["extract_date"] == pd.Timestamp(result.extract_date)).all()
    assert quarantine_rows(result, []) is result


def test_a_rejection_outside_the_accepted_rows_is_an_error(tmp_path, drop_tools, contract):
    result = _education(tmp_path, drop_tools, contract, n=2)
    with pytest.raises(IndexError, match="only 2 rows were accepted"):
        quarantine_rows(result, [LaterRejection(2, "x", "rule", "detail")])
