"""No value from a row reaches a suite outcome, its JSON, or the Data Docs site.

Marker values are planted in columns that fail their rules (so GX would list them as
unexpected values); a control run with GX's SUMMARY format shows the markers really would
leak without our result format and sanitiser.
"""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
import pandas as pd
import pytest
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
)
from gx_frames import EXTRACT, FEATURES, features_frame, records_frame, workers_frame

from safeguard.expectations import (
    SuiteOutcome,
    build_data_docs,
    build_suite,
    run_suite,
    runner,
    screen_rows,
)
from safeguard.expectations.outcome import sanitise_result
from safeguard.expectations.screening import SCREEN_FORMAT

# Every row-level rule strict, so that each planted value fails its rule on its own.
STRICT = {"row_rule_mostly": 1.0, "plausible_age_mostly": 1.0, "reference_row_rule_mostly": 1.0}

MARKERS = (
    "ZZMARKSEX",
    "feedfacecafe0001",
    "MARKRAWID77",
    "MARKINCREF",
    "MARKPC9",
    "MARKADDR",
    "2099-09-09",
    "1850-03",
    "987654.32",
    "MARKTENANCY",
    "MARKROLE",
    "MARKWORKER1",
    "MARKFAM01",
)


def _police() -> pd.DataFrame:
    df = records_frame("police", seed=3)
    df.loc[0, "sex"] = "ZZMARKSEX"
    df.loc[[0, 1], "record_pseudo"] = "feedfacecafe0001"
    df.loc[2, "agency_person_pseudo"] = "MARKRAWID77"
    df.loc[3, "incident_ref"] = "MARKINCREF"
    df.loc[4, "postcode_district"] = "MARKPC9"
    df.loc[5, "address_key"] = "MARKADDR"
    df.loc[6, "incident_date"] = pd.Timestamp("2099-09-09")
    df.loc[7, "birth_month"] = pd.Timestamp("1850-03-01")
    return df


def _housing() -> pd.DataFrame:
    df = records_frame("housing", seed=4)
    df.loc[:30, "arrears_gbp"] = -987654.32
    df.loc[0, "tenancy_ref"] = "MARKTENANCY"
    return df


def _workers() -> pd.DataFrame:
    df = workers_frame()
    df.loc[0, "role"] = "MARKROLE"
    df.loc[[1, 2], "worker_id"] = "MARKWORKER1"
    return df


def _features() -> pd.DataFrame:
    df = features_frame()
    df.loc[[0, 1], "family_key"] = "MARKFAM01"
    return df


@pytest.fixture(scope="module")
def outcomes() -> list[SuiteOutcome]:
    return [
        run_suite("police", _police(), extract_date=EXTRACT, **STRICT),
        run_suite("housing", _housing(), extract_date=EXTRACT, **STRICT),
        run_suite("workers", _workers(), **STRICT),
        run_suite("family_features", _features(), feature_dictionary=FEATURES),
    ]


def _leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m.lower() in text.lower()]


def test_outcomes_fail_with_counts_but_no_values(outcomes: list[SuiteOutcome]) -> None:
    assert not any(o.success for o in outcomes)
    police = outcomes[0]
    assert len(police.failures) == 8  # every planted value broke a rule
    assert any(f.observed_summary.startswith("1 of 300 rows") for f in police.failures)
    for outcome in outcomes:
        text = repr(outcome) + outcome.message() + json.dumps(outcome.as_dict(), default=str)
        assert _leaks(text) == [], outcome.dataset


def test_data_docs_carry_no_values(outcomes: list[SuiteOutcome], tmp_path: Path) -> None:
    index = build_data_docs(outcomes, tmp_path / "data_docs")
    assert index == tmp_path / "data_docs" / "index.html"
    pages = list((tmp_path / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) == len(outcomes)
    assert "police_records" in index.read_text(encoding="utf-8")
    for path in (tmp_path / "data_docs").rglob("*"):
        if path.suffix in {".html", ".json", ".js", ".css"}:
            assert _leaks(path.read_text(encoding="utf-8", errors="replace")) == [], path


def test_data_docs_render_offline_without_script(
    outcomes: list[SuiteOutcome], tmp_path: Path
) -> None:
    """Councils' networks often have no internet: no page may load a remote stylesheet, script,
    image or font, every page links the local stylesheet, and the index lists every page."""
    import re

    index = build_data_docs(outcomes, tmp_path / "site")
    remote = re.compile(r"<(?:script|link|img)\b[^>]*(?:src|href)=[\"']https?://", re.I)
    pages = list((tmp_path / "site").rglob("*.html"))
    assert len(pages) >= 2 * len(outcomes)  # a validation page and a suite page each
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not remote.search(text), page
        assert "<script" not in text.lower(), page
        assert "safeguard_offline.css" in text, page
    for sheet in (tmp_path / "site" / "static" / "styles").glob("*.css"):
        assert "https://" not in sheet.read_text(encoding="utf-8"), sheet
    listing = index.read_text(encoding="utf-8")
    for page in pages:
        if page != index:
            assert page.relative_to(tmp_path / "site").as_posix() in listing, page


def test_data_docs_from_outcome_json_files(outcomes: list[SuiteOutcome], tmp_path: Path) -> None:
    # What the asset checks write: json.dumps(outcome.as_dict(), default=str).
    files = []
    for outcome in outcomes:
        path = tmp_path / f"{outcome.dataset}.json"
        path.write_text(json.dumps(outcome.as_dict(), default=str))
        files.append(path)
    assert SuiteOutcome.from_dict(json.loads(files[0].read_text())) == outcomes[0]
    index = build_data_docs(files, tmp_path / "docs")
    assert index.is_file()
    assert len(list((tmp_path / "docs" / "validations").rglob("*.html"))) == len(files)


def _raw_gx_result(result_format: str | dict[str, object]) -> ExpectationSuiteValidationResult:
    """The police suite run by plain GX, without our sanitiser."""
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("control")
        .add_dataframe_asset("police_records")
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = context.suites.add(
        gx.ExpectationSuite(
            name="control", expectations=build_suite("police", extract_date=EXTRACT)
        )
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name="control", data=batch, suite=suite)
    )
    return validation.run(batch_parameters={"dataframe": _police()}, result_format=result_format)


def test_row_screens_name_rows_and_rules_but_no_values() -> None:
    screens = [
        screen_rows("police", _police(), extract_date=EXTRACT, **STRICT),
        screen_rows("housing", _housing(), extract_date=EXTRACT, **STRICT),
        screen_rows("workers", _workers(), **STRICT),
    ]
    police = screens[0]
    # an unknown code, a future incident and an impossible birth month are row defects; a
    # duplicate key or a raw id in a pseudonym column is the table's (a pipeline defect)
    assert set(police.rejections["position"]) == {0, 6, 7}
    assert set(police.rejections["column"]) == {"sex", "incident_date", "birth_month"}
    assert not police.outcome.success
    assert set(screens[2].rejections["column"]) == {"role"}
    for screen in screens:
        text = (
            repr(screen)
            + screen.rejections.to_json()
            + json.dumps(screen.outcome.as_dict(), default=str)
        )
        assert _leaks(text) == [], screen.dataset


@pytest.mark.parametrize("result_format", [runner.GATE_FORMAT, runner.DETAIL_FORMAT, SCREEN_FORMAT])
def test_our_result_formats_alone_keep_values_out_of_gx_results(
    result_format: dict[str, object],
) -> None:
    raw = _raw_gx_result(result_format)
    assert not raw.success
    assert _leaks(json.dumps(raw.to_json_dict())) == []


def test_sanitiser_strips_what_gx_summary_would_leak(tmp_path: Path) -> None:
    """Control: GX's default SUMMARY format lists the planted values; the sanitiser drops them."""
    raw = _raw_gx_result("SUMMARY")
    assert {"ZZMARKSEX", "feedfacecafe0001", "MARKRAWID77"} <= set(
        _leaks(json.dumps(raw.to_json_dict()))
    )

    clean = sanitise_result(raw.to_json_dict())
    assert _leaks(json.dumps(clean)) == []
    assert any(r["result"].get("unexpected_count") == 2 for r in clean["results"])  # duplicates
    index = build_data_docs([raw], tmp_path / "raw_docs")
    assert (
        _leaks("".join(p.read_text(errors="replace") for p in index.parent.rglob("*.html"))) == []
    )
