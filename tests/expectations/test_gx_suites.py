"""Each suite passes on a valid typed frame and fails, on the right rule and column, when one
thing is broken. Assertions name the expectation type and column, so removing the rule from a
suite makes the matching test fail. Row-level rules tolerate a share of failing rows (their
``mostly``; the rows themselves are quarantined at ingest), so tests of a single broken row
run them strictly (``STRICT``) and check the screen names the row."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from gx_frames import (
    EXTRACT,
    FEATURES,
    areas_frame,
    features_frame,
    records_frame,
    workers_frame,
)

from safeguard.expectations import SuiteConfigError, SuiteOutcome, run_suite, screen_rows
from safeguard.expectations.contract import AGENCY_SOURCES, records_table_spec
from safeguard.expectations.records import NON_EVENT_DATES

IN_SET = "expect_column_values_to_be_in_set"
NOT_NULL = "expect_column_values_to_not_be_null"
UNIQUE = "expect_column_values_to_be_unique"
BETWEEN = "expect_column_values_to_be_between"
COLUMNS = "expect_table_columns_to_match_set"
MIN = "expect_column_min_to_be_between"
MAX = "expect_column_max_to_be_between"
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
REGEX = "expect_column_values_to_match_regex"


STRICT = {"row_rule_mostly": 1.0, "plausible_age_mostly": 1.0, "reference_row_rule_mostly": 1.0}


def failed(outcome: SuiteOutcome) -> set[tuple[str, str | None]]:
    return {(f.expectation, f.column) for f in outcome.failures}


def check(source: str, df: pd.DataFrame, **params: object) -> SuiteOutcome:
    return run_suite(source, df, extract_date=EXTRACT, **params)


def strict(source: str, df: pd.DataFrame, **params: object) -> SuiteOutcome:
    return run_suite(source, df, extract_date=EXTRACT, **{**STRICT, **params})


def rejected(source: str, df: pd.DataFrame, **params: object) -> set[tuple[int, str, str]]:
    """(row position, column, rule) of every row-level failure the screen names."""
    screen = screen_rows(source, df, extract_date=EXTRACT, **params)
    return {
        (int(p), str(c), str(r))
        for p, c, r in screen.rejections[["position", "column", "rule"]].itertuples(index=False)
    }


def enum_column(source: str) -> str:
    return records_table_spec(source).of_kind("enum")[0].name


def required_event_column(source: str) -> str:
    spec = records_table_spec(source)
    keys = {"record_pseudo", "agency_person_pseudo", "extract_date", "birth_month", "address_key"}
    return next(c.name for c in spec.columns if c.required and c.name not in keys)


def event_date_column(source: str) -> str:
    spec = records_table_spec(source)
    return next(c.name for c in spec.of_kind("date") if c.name not in NON_EVENT_DATES)


@pytest.mark.parametrize("source", AGENCY_SOURCES)
def test_valid_records_pass(source: str) -> None:
    outcome = check(source, records_frame(source))
    assert outcome.success, outcome.message()
    assert outcome.failed == 0 and outcome.evaluated > 25
    assert outcome.dataset == f"{source}_records" and outcome.row_count == 300


@pytest.mark.parametrize("source", AGENCY_SOURCES)
def test_unknown_enum_value_is_a_row_defect(source: str) -> None:
    df = records_frame(source)
    col = enum_column(source)
    df.loc[3, col] = "not_in_contract"
    assert rejected(source, df) == {(3, col, IN_SET)}
    assert check(source, df).success  # 1 of 300 rows: within the default 1%
    outcome = strict(source, df)
    assert not outcome.success
    assert failed(outcome) == {(IN_SET, col)}
    assert "1 of 300 rows" in outcome.failures[0].observed_summary


@pytest.mark.parametrize("source", AGENCY_SOURCES)
def test_a_row_rule_blocks_when_more_rows_fail_than_its_mostly_allows(source: str) -> None:
    df = records_frame(source)
    col = enum_column(source)
    df.loc[:5, col] = "not_in_contract"  # 6 of 300 rows = 2%
    assert not check(source, df).success
    assert check(source, df, row_rule_mostly=0.95).success
    assert len(screen_rows(source, df, extract_date=EXTRACT).rejections) == 6


@pytest.mark.parametrize("source", AGENCY_SOURCES)
def test_missing_required_value_fails(source: str) -> None:
    df = records_frame(source)
    col = required_event_column(source)
    df.loc[7, col] = pd.NA
    assert failed(check(source, df)) == {(NOT_NULL, col)}


@pytest.mark.parametrize("source", AGENCY_SOURCES)
def test_duplicate_record_pseudo_fails(source: str) -> None:
    df = records_frame(source)
    df.loc[1, "record_pseudo"] = df.loc[0, "record_pseudo"]
    assert failed(check(source, df)) == {(UNIQUE, "record_pseudo")}


@pytest.mark.parametrize("source", AGENCY_SOURCES)
def test_future_event_date_fails(source: str) -> None:
    df = records_frame(source)
    col = event_date_column(source)
    df.loc[5, col] = pd.Timestamp(EXTRACT) + pd.Timedelta(days=30)
    # An end date may legitimately follow its start; the future-date rule is what must fire.
    assert (BETWEEN, col) in failed(strict(source, df))
    assert (5, col, BETWEEN) in rejected(source, df)


def test_event_date_within_slack_passes_and_before_1990_fails() -> None:
    df = records_frame("police")
    df.loc[0, "incident_date"] = pd.Timestamp(EXTRACT) + pd.Timedelta(days=5)
    assert strict("police", df).success
    df.loc[1, "incident_date"] = pd.Timestamp("1985-06-01")
    assert failed(strict("police", df)) == {(BETWEEN, "incident_date")}
    assert rejected("police", df) == {(1, "incident_date", BETWEEN)}


@pytest.mark.parametrize("source", AGENCY_SOURCES)
@pytest.mark.parametrize("birth", ["1850-03-01", "2026-09-01"])
def test_implausible_age_fails(source: str, birth: str) -> None:
    df = records_frame(source)
    df.loc[2, "birth_month"] = pd.Timestamp(birth)  # older than 110, or not yet born
    assert (BETWEEN, "birth_month") in failed(check(source, df))  # 1 of 300 > 0.1%
    assert (2, "birth_month", BETWEEN) in rejected(source, df)


def test_pupils_mostly_aged_2_to_20() -> None:
    df = records_frame("education")
    df.loc[:5, "birth_month"] = pd.Timestamp("1990-01-01")  # 2% adults: tolerated
    assert check("education", df).success
    assert rejected("education", df) == set()  # adult learners are legitimate rows
    df.loc[:60, "birth_month"] = pd.Timestamp("1990-01-01")  # 20% adults: not a pupil roll
    outcome = check("education", df)
    assert failed(outcome) == {(BETWEEN, "birth_month")}
    assert "at most 5% allowed" in outcome.failures[0].observed_summary


@pytest.mark.parametrize("source", AGENCY_SOURCES)
def test_missing_column_fails(source: str) -> None:
    col = enum_column(source)
    outcome = check(source, records_frame(source).drop(columns=[col]))
    assert (COLUMNS, None) in failed(outcome)
    schema = next(f for f in outcome.failures if f.expectation == COLUMNS)
    assert f"missing columns ['{col}']" in schema.observed_summary
    assert any(f.column == col and "does not exist" in f.observed_summary for f in outcome.failures)


def test_identity_column_in_pseudonymised_table_fails() -> None:
    df = records_frame("police").assign(first_name=pd.Series(["x"] * 300, dtype="string"))
    outcome = check("police", df)
    assert failed(outcome) == {(COLUMNS, None)}
    assert "unexpected columns ['first_name']" in outcome.failures[0].observed_summary
    assert check("police", df, allow_extra_columns=True).success


def test_raw_identifier_in_pseudonym_column_fails() -> None:
    df = records_frame("housing")
    df.loc[4, "agency_person_pseudo"] = "HSG-000123"
    df.loc[6, "tenancy_ref"] = "T/2024/0042"
    assert failed(check("housing", df)) == {
        (REGEX, "agency_person_pseudo"),
        (REGEX, "tenancy_ref"),
    }


def test_wrong_dtype_fails_but_integer_width_does_not_matter() -> None:
    df = records_frame("education")
    df["sessions_excluded"] = df["sessions_excluded"].astype("Int32")
    df["sessions_possible"] = df["sessions_possible"].astype("int32")  # DuckDB INTEGER
    assert check("education", df).success
    df["sessions_possible"] = df["sessions_possible"].astype("Float64")
    df["period_start"] = df["period_start"].dt.strftime("%Y-%m-%d").astype("string")
    assert {
        ("expect_column_values_to_be_in_type_list", "sessions_possible"),
        ("expect_column_values_to_be_of_type", "period_start"),
    } <= failed(check("education", df))


def test_optional_column_null_share_is_an_advisory_warning() -> None:
    df = records_frame("social_care")
    df.loc[:149, "sex"] = pd.NA  # half missing; default floor is 80% present
    outcome = check("social_care", df)
    assert failed(outcome) == {(NOT_NULL, "sex")}
    assert outcome.success  # reported, never blocking
    assert [(w.expectation, w.column, w.level) for w in outcome.warnings] == [
        (NOT_NULL, "sex", "advisory")
    ]
    assert "(advisory)" in outcome.message()
    assert not check("social_care", df, null_thresholds={"sex": 0.4}).failures
    assert not check("social_care", df, null_thresholds={"sex": None}).failures


def test_end_before_start_fails() -> None:
    df = records_frame("social_care")
    df.loc[0, "end_date"] = df.loc[0, "start_date"] - pd.Timedelta(days=1)
    assert failed(strict("social_care", df)) == {(PAIR, "end_date, start_date")}
    assert rejected("social_care", df) == {(0, "end_date", PAIR)}


def test_session_counts_checked() -> None:
    df = records_frame("education")
    df.loc[0, "sessions_excluded"] = -1
    df.loc[1, "sessions_missed_unauthorised"] = df.loc[1, "sessions_possible"] + 1
    df.loc[2, "sessions_possible"] = 500
    outcome = strict("education", df)
    assert failed(outcome) == {
        (BETWEEN, "sessions_excluded"),
        (BETWEEN, "sessions_possible"),
        (PAIR, "sessions_possible, sessions_missed_unauthorised"),
    }
    assert rejected("education", df) == {
        (0, "sessions_excluded", BETWEEN),
        (1, "sessions_possible", PAIR),
        (2, "sessions_possible", BETWEEN),
    }


@pytest.mark.parametrize(
    ("source", "col"), [("housing", "arrears_gbp"), ("revenues_benefits", "amount_gbp")]
)
def test_money_mostly_non_negative(source: str, col: str) -> None:
    df = records_frame(source)
    df.loc[:1, col] = -10.0  # under 1%: credits happen
    assert check(source, df).success
    df.loc[:20, col] = -10.0
    assert failed(check(source, df)) == {(BETWEEN, col)}


def test_extract_date_column_must_match_named_extract_date() -> None:
    df = records_frame("police")
    df.loc[0, "extract_date"] = pd.Timestamp("2026-02-28")
    assert failed(check("police", df)) == {(BETWEEN, "extract_date")}
    # Inferred from the column itself, the comparison would be circular and is skipped.
    assert run_suite("police_records", df).success


def test_microsecond_dates_are_accepted() -> None:
    df = records_frame("police")
    dates = [c for c in df.columns if str(df[c].dtype).startswith("datetime")]
    assert check("police", df.astype({c: "datetime64[us]" for c in dates})).success


@pytest.mark.parametrize("source", ["education", "housing"])
def test_table_read_back_from_duckdb_passes(source: str) -> None:
    """The checks read the warehouse: DuckDB returns str, float64, [us] dates and int32."""
    df = records_frame(source)
    con = duckdb.connect()
    con.register("frame", df)
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    if source == "education":
        con.execute("ALTER TABLE t ALTER sessions_excluded TYPE INTEGER")
        con.execute("ALTER TABLE t ALTER period_end TYPE DATE")
    stored = con.sql("SELECT * FROM t").df()
    assert check(source, stored).success


def test_workers_suite() -> None:
    assert run_suite("workers", workers_frame(), **STRICT).success
    df = workers_frame()
    df.loc[0, "capacity"] = 0
    df.loc[1, "worker_id"] = df.loc[2, "worker_id"]
    df.loc[3, "role"] = "volunteer"
    df.loc[4, "area_codes"] = "north side"
    df.loc[5, "worker_id"] = "W 5/../x"  # names a case-pack file
    assert failed(run_suite("workers", df, **STRICT)) == {
        (BETWEEN, "capacity"),
        (UNIQUE, "worker_id"),
        (IN_SET, "role"),
        (REGEX, "area_codes"),
        (REGEX, "worker_id"),
    }
    assert rejected("workers", df) == {
        (0, "capacity", BETWEEN),
        (3, "role", IN_SET),
        (4, "area_codes", REGEX),
        (5, "worker_id", REGEX),
    }
    # 4 of 20 hand-typed rows: quarantined, but not a reason to stop the run; the duplicate
    # key (the door removes duplicates, so one here is a pipeline defect) still blocks
    outcome = run_suite("workers", df)
    assert [f.expectation for f in outcome.blocking_failures] == [UNIQUE]


def test_areas_suite() -> None:
    assert run_suite("areas", areas_frame(), **STRICT).success
    df = areas_frame()
    df.loc[0, "imd_decile"] = 11
    df.loc[1, "imd_decile"] = 0
    df.loc[2, "postcode_district"] = df.loc[3, "postcode_district"]
    df.loc[4, "local_authority"] = pd.NA
    df.loc[5, "postcode_district"] = "North Side"
    assert failed(run_suite("areas", df, **STRICT)) == {
        (BETWEEN, "imd_decile"),
        (UNIQUE, "postcode_district"),
        (NOT_NULL, "local_authority"),
        (REGEX, "postcode_district"),
    }
    assert rejected("areas", df) == {
        (0, "imd_decile", BETWEEN),
        (1, "imd_decile", BETWEEN),
        (5, "postcode_district", REGEX),
    }


def test_family_features_suite() -> None:
    assert run_suite("family_features", features_frame(), feature_dictionary=FEATURES).success
    df = features_frame()
    df.loc[0, "police_incidents_365d"] = 2.5
    df.loc[1, "attendance_rate"] = 1.2
    df.loc[2, "days_since_last_referral"] = pd.NA
    df.loc[3, "child_protection_plan"] = 2
    df.loc[4, "household_size"] = -1
    df.loc[5, "youngest_child_age"] = 140
    df.loc[6, "council_tax_arrears_gbp"] = -5.0
    df.loc[8, "family_key"] = df.loc[7, "family_key"]
    outcome = run_suite("family_features", df, feature_dictionary=FEATURES)
    assert failed(outcome) == {
        ("expect_column_values_to_be_whole_numbers", "police_incidents_365d"),
        (MAX, "attendance_rate"),
        (NOT_NULL, "days_since_last_referral"),
        (IN_SET, "child_protection_plan"),
        (MIN, "household_size"),
        (MAX, "youngest_child_age"),
        (MIN, "council_tax_arrears_gbp"),
        ("expect_compound_columns_to_be_unique", "family_key, as_of_date"),
    }


def test_configuration_errors_are_specific() -> None:
    with pytest.raises(SuiteConfigError, match="no suite for dataset 'prison'"):
        run_suite("prison", areas_frame())
    with pytest.raises(SuiteConfigError, match=r"unknown suite parameter\(s\) \['null_treshold'\]"):
        run_suite("areas", areas_frame(), null_treshold={})
    with pytest.raises(SuiteConfigError, match="needs the feature dictionary"):
        run_suite("family_features", features_frame())
    with pytest.raises(SuiteConfigError, match="unit 'percent'"):
        run_suite(
            "family_features",
            features_frame(),
            feature_dictionary=[{"name": "x", "unit": "percent"}],
        )


def test_a_rare_mistyped_birth_date_is_tolerated_but_reported() -> None:
    # One implausible age in a large extract is an agency's typo, not a reason to stop the run;
    # the tolerance is 0.1% of rows, so the same share in a small frame still fails.
    df = pd.concat([records_frame("police")] * 4, ignore_index=True)
    df["record_pseudo"] = [f"{i:016x}" for i in range(len(df))]
    small = check("police", df, plausible_age_mostly=1.0 - 1.0 / len(df) / 2)
    assert small.success
    df.loc[0, "birth_month"] = pd.Timestamp("1850-01-01")
    assert check("police", df, plausible_age_mostly=1.0 - 2.0 / len(df)).success
    assert (BETWEEN, "birth_month") in failed(check("police", df, plausible_age_mostly=1.0))


def _suites() -> dict[str, list]:
    from safeguard.expectations import DATASETS, build_suite

    return {
        d: build_suite(d, extract_date=EXTRACT, feature_dictionary=FEATURES)
        if d == "family_features"
        else build_suite(d, extract_date=EXTRACT)
        for d in DATASETS
    }


def test_every_expectation_states_its_level_and_row_rules_their_mostly() -> None:
    from safeguard.expectations.levels import LEVEL_KEY, LEVELS

    settings = {"agency": 0.99, "reference": 0.5, "age": 0.999}
    for dataset, suite in _suites().items():
        for expectation in suite:
            config = expectation.configuration
            level = (config.meta or {}).get(LEVEL_KEY)
            assert level in LEVELS, (dataset, config.type)
            if level != "row":
                continue
            mostly = config.kwargs.get("mostly")
            expected = (
                settings["reference"]
                if dataset in ("workers", "areas")
                else settings["age"]
                if config.kwargs.get("column") == "birth_month"
                else settings["agency"]
            )
            assert mostly == expected, (dataset, config.type, config.kwargs.get("column"))
    counts = {
        d: {lvl: sum((e.meta or {})[LEVEL_KEY] == lvl for e in s) for lvl in LEVELS}
        for d, s in _suites().items()
    }
    for dataset in (*AGENCY_SOURCES, "workers", "areas"):
        assert counts[dataset]["row"] >= 2 and counts[dataset]["table"] >= 5, dataset
    assert counts["family_features"]["row"] == 0  # the model's input is judged whole


def _optional_columns(source: str) -> list[str]:
    spec = records_table_spec(source)
    return [c.name for c in spec.columns if not c.required]


def _round_trip(df: pd.DataFrame) -> pd.DataFrame:
    """Through DuckDB, as the checks read the warehouse (all-null columns keep their types)."""
    con = duckdb.connect()
    con.register("frame", df)
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    return con.sql("SELECT * FROM t").df()


@pytest.mark.parametrize(
    ("source", "column"),
    [(s, c) for s in AGENCY_SOURCES for c in _optional_columns(s)],
)
def test_an_optional_column_empty_throughout_is_accepted(source: str, column: str) -> None:
    df = records_frame(source)
    df[column] = pd.Series([pd.NA] * len(df), dtype=df[column].dtype)
    stored = _round_trip(df)
    outcome = check(source, stored)
    assert outcome.success, outcome.message()
    assert {(f.expectation, f.column) for f in outcome.failures} <= {(NOT_NULL, column)}
    assert rejected(source, stored) == set()


def test_sessions_excluded_blank_throughout_passes_the_education_gate() -> None:
    # The drop: no exclusions that period, so the optional count is empty in every row.
    df = records_frame("education")
    df["sessions_excluded"] = pd.array([None] * len(df), dtype="Int64")
    outcome = check("education", _round_trip(df))
    assert outcome.success and not outcome.failures, outcome.message()


@pytest.mark.parametrize("source", AGENCY_SOURCES)
def test_a_required_column_empty_throughout_blocks(source: str) -> None:
    df = records_frame(source)
    col = required_event_column(source)
    df[col] = pd.Series([pd.NA] * len(df), dtype=df[col].dtype)
    outcome = check(source, _round_trip(df))
    assert not outcome.success
    assert (NOT_NULL, col) in {(f.expectation, f.column) for f in outcome.blocking_failures}


def test_row_screen_reasons_describe_the_rule_without_values() -> None:
    df = records_frame("social_care")
    df.loc[0, "end_date"] = df.loc[0, "start_date"] - pd.Timedelta(days=1)
    df.loc[1, "start_date"] = pd.Timestamp("1985-06-01")
    screen = screen_rows("social_care", df, extract_date=EXTRACT)
    text = dict(zip(screen.rejections["position"], screen.rejections["description"], strict=False))
    assert text[0] == "end_date is less than start_date"
    assert text[1] == "value is outside 1990-01-01 to 2026-04-07"
    assert "1985" not in screen.rejections.to_json()
    assert screen.rows_rejected == 2 and screen.keep.sum() == len(df) - 2
    assert screen.rule_counts() == {(PAIR, "end_date"): 1, (BETWEEN, "start_date"): 1}
