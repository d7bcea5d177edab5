"""read_file: typing, rules, quarantine reasons, firewall log and row accounting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safeguard.ingest.reader import (
    RowAccounting,
    RowAccountingError,
    read_file,
    row_accounting_frame,
)

EXPECTED_DTYPES = {
    "string": "string",
    "enum": "string",
    "date": "datetime64[ns]",
    "int": "Int64",
    "decimal": "Float64",
    "bool": "boolean",
}


def _police(tmp_path, drop_tools, contract, rows, header=None, **csv_options):
    header = header or list(contract.sources["police"].columns)
    drop = drop_tools.make_drop(tmp_path, files={"police": (header, [])})
    drop_tools.write_csv(drop.path / "police.csv", header, rows, **csv_options)
    return read_file(drop, "police", contract)


def _reasons(result) -> dict[int, tuple[str, str, str]]:
    q = result.quarantine
    return {
        int(n): (c if c is not pd.NA else None, r, text)
        for n, c, r, text in zip(q.row_number, q.column, q.rule, q.reason, strict=True)
    }


@pytest.mark.parametrize("name", ["social_care", "education", "housing", "workers", "areas"])
def test_valid_file_is_accepted_with_design_dtypes(tmp_path, drop_tools, contract, name):
    drop = drop_tools.make_drop(tmp_path, rows_per_file=5)
    result = read_file(drop, name, contract)
    spec = contract.file_spec(name)
    assert result.accounting.rows_read == result.accounting.rows_accepted == 5
    assert result.quarantine.empty and result.firewall_log.empty
    assert list(result.accepted.columns) == [*spec.columns, "row_number", "extract_date"]
    for column, column_spec in spec.columns.items():
        assert str(result.accepted[column].dtype) == EXPECTED_DTYPES[column_spec.type], column
    assert result.accepted["row_number"].tolist() == [1, 2, 3, 4, 5]
    assert (result.accepted["extract_date"] == pd.Timestamp("2026-10-01")).all()


def test_liberal_layout_bom_crlf_order_case_quotes(tmp_path, drop_tools, contract):
    columns = list(contract.sources["police"].columns)
    header = [f"  {c.upper()} " for c in reversed(columns)]
    row = drop_tools.valid_row(contract, "police", 1, address_line='Flat 2, "The Rise"\nNorth')
    rows = [[row[c] for c in reversed(columns)]]
    result = _police(tmp_path, drop_tools, contract, rows, header, bom=True, line_ending="\r\n")
    assert result.accounting.rows_accepted == 1, result.quarantine.reason.tolist()
    accepted = result.accepted.iloc[0]
    assert accepted["address_line"] == 'Flat 2, "The Rise"\nNorth'
    assert accepted["involvement_id"] == row["involvement_id"]
    assert accepted["incident_date"] == pd.Timestamp(row["incident_date"])


def test_values_are_trimmed_and_empty_is_missing(tmp_path, drop_tools, contract):
    row = drop_tools.valid_row(contract, "police", 1, role="  victim ", dash_risk="  ", dob="")
    result = _police(tmp_path, drop_tools, contract, [row])
    accepted = result.accepted.iloc[0]
    assert accepted["role"] == "victim"
    assert accepted["dash_risk"] is pd.NA
    assert pd.isna(accepted["dob"])


def test_each_rule_quarantines_with_an_actionable_reason(tmp_path, drop_tools, contract):
    valid = lambda i, **kw: drop_tools.valid_row(contract, "police", i, **kw)  # noqa: E731
    rows = [
        valid(1),
        valid(2, incident_type=""),  # required
        valid(3, incident_date="31/02/2011"),  # type (event: echoed)
        valid(4, incident_date="2011-02-31"),  # type: not a real date
        valid(5, role="Victim"),  # enum: exact match only
        valid(1, incident_ref="INC-7"),  # duplicate of row 1's key
        ["too", "few"],  # row_shape
        valid(8),
    ]
    result = _police(tmp_path, drop_tools, contract, rows)
    reasons = _reasons(result)
    assert set(reasons) == {2, 3, 4, 5, 6, 7}
    assert reasons[2][:2] == ("incident_type", "required")
    assert reasons[3][:2] == ("incident_date", "type")
    assert "'31/02/2011' is not a date (expected YYYY-MM-DD" in reasons[3][2]
    assert reasons[3][2].startswith("police.csv row 3: column incident_date:")
    assert reasons[3][2].endswith("-> quarantined")
    assert reasons[4][:2] == ("incident_date", "type")
    assert reasons[5][:2] == ("role", "enum") and "value is not one of suspect" in reasons[5][2]
    assert "Victim" not in reasons[5][2]  # a bad code can be any word: never quoted
    assert reasons[6][:2] == ("involvement_id", "duplicate_key")
    assert "row 1 has it and was kept" in reasons[6][2]
    assert reasons[7][:2] == (None, "row_shape") and "2 fields" in reasons[7][2]
    assert result.accepted["row_number"].tolist() == [1, 8]
    assert result.accounting == RowAccounting(result.extract_date, "police.csv", 8, 2, 6)


def test_type_rules_for_numbers_and_flags(tmp_path, drop_tools, contract):
    drop = drop_tools.make_drop(tmp_path)
    header = list(contract.sources["education"].columns)
    valid = lambda i, **kw: drop_tools.valid_row(contract, "education", i, **kw)  # noqa: E731
    rows = [valid(1, sessions_possible="12.0"), valid(2, fsm="maybe"), valid(3, fsm="y")]
    drop_tools.write_csv(drop.path / "education.csv", header, rows)
    housing = list(contract.sources["housing"].columns)
    drop_tools.write_csv(
        drop.path / "housing.csv",
        housing,
        [drop_tools.valid_row(contract, "housing", 1, arrears_gbp="1,200.00")],
    )
    education = _reasons(read_file(drop, "education", contract))
    assert education[1][:2] == ("sessions_possible", "type")
    assert "'12.0' is not a whole number" in education[1][2]
    assert education[2][:2] == ("fsm", "type") and "is not Y or N" in education[2][2]
    assert 3 not in education  # lowercase y is accepted as Y
    housing_reasons = _reasons(read_file(drop, "housing", contract))
    assert housing_reasons[1][:2] == ("arrears_gbp", "type")


def test_reasons_never_quote_identity_protected_or_key_values(tmp_path, drop_tools, contract):
    rows = [
        drop_tools.valid_row(contract, "police", 1, dob="NOTADATE-dob-4471"),
        drop_tools.valid_row(contract, "police", 2, sex="SEXMARK-9931"),
        drop_tools.valid_row(contract, "police", 3, involvement_id="KEYMARK-1"),
        drop_tools.valid_row(contract, "police", 4, involvement_id="KEYMARK-1"),
    ]
    result = _police(tmp_path, drop_tools, contract, rows)
    text = " ".join(result.quarantine.reason.tolist())
    assert len(result.quarantine) == 3
    for marker in ("NOTADATE", "4471", "SEXMARK", "KEYMARK"):
        assert marker not in text
    assert "column dob: value is not a date" in text
    assert "column sex: value is not one of M, F, U" in text


def test_reference_files_never_quote_values(tmp_path, drop_tools, contract):
    drop = drop_tools.make_drop(tmp_path)
    header = list(contract.reference["objections"].columns)
    row = drop_tools.valid_row(contract, "objections", 1, dob="1990/01/01", received_date="")
    drop_tools.write_csv(drop.path / "objections.csv", header, [row])
    result = read_file(drop, "objections.csv", contract)
    assert result.quarantine.reason.tolist() == [
        "objections.csv row 1: column dob: value is not a date (expected YYYY-MM-DD between "
        "1800-01-01 and 2199-12-31); also fails: received_date -> quarantined"
    ]


def test_row_numbers_count_records_not_lines(tmp_path, drop_tools, contract):
    header = list(contract.sources["police"].columns)
    multi_line = drop_tools.valid_row(contract, "police", 1, address_line="1\n2\n3")
    bad = drop_tools.valid_row(contract, "police", 2, role="nobody")
    drop = drop_tools.make_drop(tmp_path)
    path = drop.path / "police.csv"
    drop_tools.write_csv(path, header, [multi_line, bad])
    original = path.read_bytes()
    path.write_bytes(original.replace(b"\nINV", b"\n\n\nINV"))  # blank lines before rows
    assert path.read_bytes().count(b"\n") == original.count(b"\n") + 4
    result = read_file(drop, "police", contract)
    assert result.quarantine.row_number.tolist() == [2]
    assert result.accepted.row_number.tolist() == [1]


def test_firewall_drops_columns_and_logs_names_and_counts(tmp_path, drop_tools, contract):
    columns = list(contract.sources["police"].columns)
    header = [*columns, "Immigration Status", "shoe_size", "DOB"]
    rows = [
        [*drop_tools.valid_row(contract, "police", i).values(), "X1", "42", "x"] for i in range(4)
    ]
    result = _police(tmp_path, drop_tools, contract, rows, header)
    log = result.firewall_log
    assert log[["column", "action"]].values.tolist() == [
        ["Immigration Status", "dropped_prohibited"],
        ["shoe_size", "dropped_undeclared"],
        ["DOB", "dropped_duplicate"],
    ]
    assert log.row_count.tolist() == [4, 4, 4]
    assert (log.file == "police.csv").all()
    assert list(result.accepted.columns) == [*columns, "row_number", "extract_date"]
    assert result.accounting.rows_accepted == 4  # the duplicate "DOB" copy was not read


def test_missing_declared_columns(tmp_path, drop_tools, contract):
    columns = [c for c in contract.sources["police"].columns if c not in ("dash_risk", "role")]
    rows = [drop_tools.valid_row(contract, "police", i) for i in range(2)]
    result = _police(tmp_path, drop_tools, contract, rows, columns)
    assert result.missing_columns == ("role", "dash_risk")
    assert result.accepted.empty  # role is required
    assert set(result.quarantine.rule) == {"required"}
    assert result.accepted["dash_risk"].dtype == "string"


def test_file_without_any_declared_column_still_counts_rows(tmp_path, drop_tools, contract):
    result = _police(tmp_path, drop_tools, contract, [["a", "b"], ["c", "d"]], ["x", "y"])
    # Not this file's header: refused whole, the first row counted (and quarantined) as data.
    assert result.refused and result.accounting.rows_read == 3 == result.accounting.rows_quarantined
    assert set(result.quarantine.rule) == {"header"} and result.firewall_log.empty


def test_header_only_file(tmp_path, drop_tools, contract):
    result = _police(tmp_path, drop_tools, contract, [])
    assert result.accounting.rows_read == 0 and result.accepted.empty


def test_invalid_utf8_row_is_quarantined(tmp_path, drop_tools, contract):
    header = list(contract.sources["police"].columns)
    rows = [
        drop_tools.valid_row(contract, "police", i, first_name=f"Nia{'bcd'[i]}") for i in range(3)
    ]
    drop = drop_tools.make_drop(tmp_path)
    path = drop_tools.write_csv(drop.path / "police.csv", header, rows)
    path.write_bytes(path.read_bytes().replace(b"Niac", b"N\xffiac"))
    result = read_file(drop, "police", contract)
    assert _reasons(result)[2][:2] == ("first_name", "row_shape")
    assert "not valid UTF-8" in result.quarantine.reason.iloc[0]
    assert result.accepted.row_number.tolist() == [1, 3]


def test_row_accounting_refuses_inconsistent_counts():
    with pytest.raises(RowAccountingError, match=r"police\.csv"):
        RowAccounting(pd.Timestamp("2026-10-01").date(), "police.csv", 10, 5, 4)


def test_row_accounting_frame(tmp_path, drop_tools, contract):
    drop = drop_tools.make_drop(tmp_path, rows_per_file=2)
    frame = row_accounting_frame(read_file(drop, n, contract) for n in contract.files)
    assert len(frame) == 8
    assert np.array_equal(frame.rows_read, frame.rows_accepted + frame.rows_quarantined)
    assert frame.rows_read.dtype == "Int64"
