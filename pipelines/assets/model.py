"""Feature and model assets: events -> family features -> training frame -> gated risk model.

Fitting, evaluation, the fairness audit and the model card run in one step so the fitted
object is judged before it is ever persisted as *approved*: only a model that passes both
blocking gates is written to ``artefacts/models/approved.json``, the one scoring may use
(:mod:`safeguard.pipelines.release`).
"""

import dagster as dg
import pandas as pd

from safeguard.contracts.tables import AGENCY_SOURCES, RECORDS
from safeguard.features import FEATURE_DICTIONARY, PROTECTED_COLUMNS, assert_no_protected
from safeguard.features.build import build_family_features
from safeguard.features.dictionary import ProtectedFeatureError
from safeguard.features.events import build_events
from safeguard.features.history import describe_truncation, history_consistency, history_starts
from safeguard.features.outcomes import build_training_frame, monthly_as_of_dates
from safeguard.pipelines import council as council_settings
from safeguard.pipelines.catalogue import row_count
from safeguard.pipelines.dpia_metadata import dpia_check_spec, summary_metadata
from safeguard.pipelines.release import (
    publish_release,
    total_capacity,
    train_release,
)
from safeguard.pipelines.resources import CouncilSettings, RunSettings, Warehouse, declared_reads
from safeguard.pipelines.run_context import events_known_at, excluded_people, run_dates

PERFORMANCE_GATE = "performance_gate"
FAIRNESS_GATE = "fairness_gate"
HISTORY_CHECK = "history_consistency"
# objections: the register's gates; record_links and identity_vault: objectors and the people
# an objection pending verification may name; row_accounting: the run's dates
TRAINING_INPUTS = ["events", "family_snapshots", "families", "people", "objections",
                   "record_links", "identity_vault", "row_accounting"]  # fmt: skip


@dg.asset(
    deps=[*RECORDS, "record_links", "row_accounting"], group_name="features", kinds={"duckdb"}
)
def events(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: RunSettings
) -> dg.MaterializeResult:
    """One long, pseudonymised table of every linked agency record known at the run's as-of date."""
    warehouse = declared_reads(context, warehouse)
    as_of = run_dates(warehouse, settings).as_of
    records = {s: warehouse.read_table(f"{s}_records") for s in AGENCY_SOURCES}
    table = events_known_at(build_events(records, warehouse.read_table("record_links")), as_of)
    warehouse.write_table("events", table)
    return dg.MaterializeResult(
        metadata={
            **row_count(len(table)),
            "event_types": int(table["event_type"].nunique()),
            "as_of": as_of.isoformat(),
        }
    )


FEATURE_CHECKS = [
    dpia_check_spec(
        "gx_suite",
        "family_features",
        "Blocking: the family_features GX suite (ranges by unit, no nulls, one row per family).",
    ),
    dpia_check_spec(
        "no_protected_characteristic_in_features",
        "family_features",
        "Blocking: no protected characteristic (or a column named after one) is a model input.",
    ),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "family_features",
            deps=["events", "families", "people", "row_accounting"],
            group_name="features",
            kinds={"duckdb"},
            description="Point-in-time family features at the run's as-of date (events strictly before it).",
        )
    ],
    check_specs=FEATURE_CHECKS,
    name="family_features_at_as_of",
)
def family_features(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: RunSettings):
    warehouse = declared_reads(context, warehouse)
    as_of = run_dates(warehouse, settings).as_of
    table = build_family_features(
        warehouse.read_table("events"),
        warehouse.read_table("families"),
        warehouse.read_table("people"),
        as_of,
    )
    warehouse.write_table("family_features", table)
    yield dg.MaterializeResult(
        asset_key="family_features",
        metadata={
            **row_count(len(table)),
            "as_of": as_of.isoformat(),
            "features": len(FEATURE_DICTIONARY),
        },
    )
    yield _features_suite_check(table)
    yield _no_protected_check(table)


def _features_suite_check(table: pd.DataFrame) -> dg.AssetCheckResult:
    """The family features' GX suite (the feature dictionary's units, signs and nulls)."""
    from safeguard.expectations import run_suite

    dictionary = [
        {"name": f.name, "unit": f.unit, "signed": f.signed, "nullable": f.nullable}
        for f in FEATURE_DICTIONARY
    ]
    outcome = run_suite("family_features", table, feature_dictionary=dictionary)
    return dg.AssetCheckResult(
        asset_key="family_features",
        check_name="gx_suite",
        passed=outcome.success,
        metadata={
            "expectations_evaluated": outcome.evaluated,
            "failures": "; ".join(f.describe() for f in outcome.failures) or "none",
        },
    )


def _no_protected_check(table: pd.DataFrame) -> dg.AssetCheckResult:
    """No protected characteristic is a model input (blocking)."""
    feature_columns = [c for c in table.columns if c not in ("family_key", "as_of_date")]
    leaked = sorted(set(feature_columns) & set(PROTECTED_COLUMNS))
    try:
        assert_no_protected(feature_columns)
        problem = ""
    except ProtectedFeatureError as exc:
        problem = str(exc)
    return dg.AssetCheckResult(
        asset_key="family_features",
        check_name="no_protected_characteristic_in_features",
        passed=not problem and not leaked,
        metadata={
            "columns_checked": len(feature_columns),
            **({"failure": problem} if problem else {}),
        },
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "training_frame",
            deps=TRAINING_INPUTS,
            group_name="model",
            kinds={"duckdb"},
            description="Features at past monthly as-of dates (families as known then) with the "
            "12-month outcome, babies born in the window included; objectors removed.",
        )
    ],
    check_specs=[
        dpia_check_spec(
            HISTORY_CHECK,
            "training_frame",
            "Blocking: no feature's look-back window reaches before its agency's history on any "
            "training date (a truncated feature trends with the calendar, not with the family).",
        )
    ],
    name="build_training_frame",
)
def training_frame(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: RunSettings,
    council: CouncilSettings,
):
    warehouse = declared_reads(context, warehouse)
    as_of = run_dates(warehouse, settings).as_of
    training = council.config().training
    dates = monthly_as_of_dates(
        as_of, training.first_as_of_months_back, training.last_as_of_months_back
    )
    # Objectors, and anyone an objection pending verification may name, are left out of training.
    objectors, pending = excluded_people(warehouse)
    events_table = warehouse.read_table("events")
    table = build_training_frame(
        events_table, warehouse.read_table("family_snapshots"), warehouse.read_table("people"),
        dates, excluded_person_keys=objectors | pending, extract_date=as_of,
        outcome_families=warehouse.read_table("families"),
    )  # fmt: skip
    warehouse.write_table("training_frame", table)
    yield dg.MaterializeResult(
        asset_key="training_frame",
        metadata={
            **row_count(len(table)),
            "as_of_dates": len(dates),
            "first_as_of": dates[0].isoformat(),
            "last_as_of": dates[-1].isoformat(),
            "positive_rate": round(float(table["label"].mean()), 4) if len(table) else 0.0,
            "objectors_excluded": len(objectors | pending),
            "pending_verification_excluded": len(pending),
        },
    )
    yield _history_check(warehouse, table, events_table)


def _history_check(
    warehouse: Warehouse, table: pd.DataFrame, events_table: pd.DataFrame
) -> dg.AssetCheckResult:
    """No feature window reaches before its agency's first record (blocking); the table is kept
    as ``artefacts/model/history_consistency.csv``."""
    consistency = history_consistency(table, history_starts(events_table))
    warehouse.artefact_dir("model").joinpath("history_consistency.csv").write_text(
        consistency.to_csv(index=False)
    )
    problems = describe_truncation(consistency)
    return dg.AssetCheckResult(
        asset_key="training_frame", check_name=HISTORY_CHECK, passed=not problems,
        metadata={"features_checked": len(consistency),
                  "truncated_features": int((consistency["status"] == "truncated").sum()),
                  **({"failure": "; ".join(problems)} if problems else {})},
    )  # fmt: skip


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "risk_model",
            deps=["training_frame"],
            group_name="model",
            kinds={"lightgbm", "skops"},
            description="Calibrated monotone LightGBM risk model, persisted with skops.",
        ),
        dg.AssetSpec(
            "model_evaluation",
            deps=["risk_model", "training_frame", "workers"],
            group_name="model",
            kinds={"duckdb"},
            description="Performance on pooled test dates vs the baseline, the need oracle and the label oracle.",
        ),
        dg.AssetSpec(
            "fairness_audit",
            deps=[
                "risk_model",
                "training_frame",
                "protected_characteristics",
                "family_snapshots",
                "events",
                "people",
                "areas",
                "workers",
                "identity_vault",  # the synthetic truth is matched through the vault
            ],
            group_name="model",
            kinds={"duckdb"},
            description="Point-in-time group attributes; group-to-rest ratios with equivalence verdicts, coverage, leakage check.",
        ),
        dg.AssetSpec(
            "model_card",
            deps=["risk_model", "model_evaluation", "fairness_audit", "row_accounting"],
            group_name="model",
            kinds={"html"},
            description="Model card generated from the measured figures.",
        ),
    ],
    check_specs=[
        dpia_check_spec(
            PERFORMANCE_GATE,
            "model_evaluation",
            "Blocking: precision at capacity (lower 95% bound) >= 3x base rate, not worse than the "
            "logistic baseline, observed/expected and calibration slope within their bands. The WWCSC "
            "0.65 bar is always reported.",
        ),
        dpia_check_spec(
            FAIRNESS_GATE,
            "fairness_audit",
            "Blocking: every group-to-rest ratio (recall at capacity, observed/expected, equal-need "
            "selection) shown within the band, or inconclusive with a named sign-off; no established "
            "disparity; group attributes point-in-time (leakage check).",
        ),
    ],
    name="train_and_gate_model",
)
def train_and_gate_model(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: RunSettings,
    council: CouncilSettings,
):
    warehouse = declared_reads(context, warehouse)
    config = council.config()
    release_settings = council_settings.release_config(
        config, total_capacity(warehouse, config), config.training.random_state
    )
    release = train_release(warehouse, warehouse.read_table("training_frame"), release_settings,
                            settings.truth_dir)  # fmt: skip
    as_of = run_dates(warehouse, settings).as_of
    published = publish_release(warehouse, release, config, as_of.isoformat(),
                                council_settings.sign_off_lines(config))  # fmt: skip
    fitted, evaluation, audit = release.fitted, release.evaluation, release.audit
    yield dg.MaterializeResult(
        asset_key="risk_model",
        metadata={"version": published.record.version,
                  "path": dg.MetadataValue.path(str(published.model_path)),
                  **summary_metadata(fitted.summary())},
    )  # fmt: skip
    yield dg.MaterializeResult(
        asset_key="model_evaluation", metadata=summary_metadata(published.summary)
    )
    yield dg.MaterializeResult(
        asset_key="fairness_audit", metadata=summary_metadata(audit.summary())
    )
    yield dg.MaterializeResult(
        asset_key="model_card", metadata={"html": dg.MetadataValue.path(str(published.card_html))}
    )
    for asset, check, gate in (("model_evaluation", PERFORMANCE_GATE, evaluation.gate),
                               ("fairness_audit", FAIRNESS_GATE, audit.gate)):  # fmt: skip
        yield dg.AssetCheckResult(
            asset_key=asset, check_name=check, passed=gate.passed,
            metadata={"reasons": "; ".join(gate.reasons),
                      **({} if gate.passed else {"failure": "; ".join(gate.reasons[:6])})},
        )  # fmt: skip
