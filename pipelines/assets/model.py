"""Feature and model assets: events -> family features -> training frame -> gated risk model.

Fitting, evaluation, the fairness audit and the model card run in one step so the fitted
object is judged before it is ever persisted as *approved*: only a model that passes both
blocking gates is written to ``artefacts/models/approved.json``, the one scoring may use.
"""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from dateutil.relativedelta import relativedelta

import models
from features import FEATURE_DICTIONARY, PROTECTED_COLUMNS, assert_no_protected
from features.build import build_family_features
from features.dictionary import ProtectedFeatureError
from features.events import build_events
from features.outcomes import build_training_frame
from features.protected import build_sensitive_features
from pipelines.assets.ingest import AGENCY_SOURCES
from pipelines.assets.linkage import OBJECTIONS_SOURCE, _extract_date
from pipelines.dpia_metadata import dpia_check_spec, summary_metadata
from pipelines.resources import RunSettings, Warehouse

RECORDS = [f"{s}_records" for s in AGENCY_SOURCES]
PERFORMANCE_GATE = "performance_gate"
FAIRNESS_GATE = "fairness_gate"
APPROVED = "approved.json"


class ModelSettings(dg.ConfigurableResource):
    """Training window and gate thresholds; a council may set stricter gates."""

    training_months_back_first: int = 36  # earliest as-of date, months before the extract
    training_months_back_last: int = 12  # latest as-of date with a complete 12-month outcome
    min_precision_lift: float = 3.0
    max_ece: float = 0.05
    threshold: float = 0.2
    random_state: int = 0

    def as_of_dates(self, extract: date) -> list[date]:
        first = extract.replace(day=1) - relativedelta(months=self.training_months_back_first)
        last = extract.replace(day=1) - relativedelta(months=self.training_months_back_last)
        dates, current = [], first
        while current <= last:
            dates.append(current)
            current += relativedelta(months=1)
        return dates


@dg.asset(deps=[*RECORDS, "record_links"], group_name="features", kinds={"duckdb"})
def events(warehouse: Warehouse) -> dg.MaterializeResult:
    """One long, pseudonymised table of every linked agency record."""
    records = {s: warehouse.read_table(f"{s}_records") for s in AGENCY_SOURCES}
    table = build_events(records, warehouse.read_table("record_links"))
    warehouse.write_table("events", table)
    return dg.MaterializeResult(
        metadata={"rows": len(table), "event_types": int(table["event_type"].nunique())}
    )


def objector_person_keys(warehouse: Warehouse) -> set[str]:
    """People matched to the objections register through the linkage (Art 21 / Art 18)."""
    links = warehouse.read_table("record_links", columns=["source", "person_key"])
    return set(links.loc[links["source"] == OBJECTIONS_SOURCE, "person_key"].astype(str))


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
            deps=["events", "families", "people"],
            group_name="features",
            kinds={"duckdb"},
            description="Point-in-time family features at the run's as-of date (events strictly before it).",
        )
    ],
    check_specs=FEATURE_CHECKS,
    name="family_features_at_as_of",
)
def family_features(warehouse: Warehouse, settings: RunSettings):
    from expectations import run_suite

    as_of = settings.as_of_date(_extract_date(warehouse))
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
            "rows": len(table),
            "as_of": as_of.isoformat(),
            "features": len(FEATURE_DICTIONARY),
        },
    )
    dictionary = [
        {"name": f.name, "unit": f.unit, "signed": f.signed, "nullable": f.nullable}
        for f in FEATURE_DICTIONARY
    ]
    outcome = run_suite("family_features", table, feature_dictionary=dictionary)
    yield dg.AssetCheckResult(
        asset_key="family_features",
        check_name="gx_suite",
        passed=outcome.success,
        metadata={
            "expectations_evaluated": outcome.evaluated,
            "failures": "; ".join(f.describe() for f in outcome.failures) or "none",
        },
    )
    feature_columns = [c for c in table.columns if c not in ("family_key", "as_of_date")]
    leaked = sorted(set(feature_columns) & set(PROTECTED_COLUMNS))
    try:
        assert_no_protected(feature_columns)
        problem = ""
    except ProtectedFeatureError as exc:
        problem = str(exc)
    yield dg.AssetCheckResult(
        asset_key="family_features",
        check_name="no_protected_characteristic_in_features",
        passed=not problem and not leaked,
        metadata={
            "columns_checked": len(feature_columns),
            **({"failure": problem} if problem else {}),
        },
    )


@dg.asset(
    deps=["family_features", "events", "objections", "record_links"],
    group_name="model",
    kinds={"duckdb"},
)
def training_frame(warehouse: Warehouse, model_settings: ModelSettings) -> dg.MaterializeResult:
    """Features at past monthly as-of dates with the 12-month outcome; objectors removed."""
    extract = _extract_date(warehouse)
    dates = model_settings.as_of_dates(extract)
    objectors = objector_person_keys(warehouse)
    table = build_training_frame(
        warehouse.read_table("events"),
        warehouse.read_table("families"),
        warehouse.read_table("people"),
        dates,
        excluded_person_keys=objectors,
        extract_date=extract,
    )
    warehouse.write_table("training_frame", table)
    return dg.MaterializeResult(
        metadata={
            "rows": len(table),
            "as_of_dates": len(dates),
            "first_as_of": dates[0].isoformat(),
            "last_as_of": dates[-1].isoformat(),
            "positive_rate": round(float(table["label"].mean()), 4) if len(table) else 0.0,
            "objectors_excluded": len(objectors),
        }
    )


def _truth_need(
    warehouse: Warehouse, truth_dir: str | None, families: pd.DataFrame
) -> pd.DataFrame | None:
    """True latent need and bias group per family_key (synthetic estates only), via the vault."""
    if not truth_dir:
        return None
    root = Path(truth_dir)
    records = pd.read_csv(root / "records.csv", dtype=str).drop_duplicates(
        ["source", "record_key"], keep="last"
    )
    people_truth = pd.read_csv(root / "people.csv", dtype={"true_person_id": str})
    bias = (
        json.loads((root / "recording_bias.json").read_text())
        if (root / "recording_bias.json").exists()
        else {}
    )
    vault = warehouse.read_table(
        "identity_vault", vault=True, columns=["source", "record_key", "person_key"]
    )
    mapped = vault.merge(records, on=["source", "record_key"]).merge(
        people_truth, on="true_person_id"
    )
    person_need = mapped.groupby("person_key").agg(
        latent_need=("latent_need", "mean"), ethnicity=("ethnicity", "first")
    )
    members = families.merge(person_need, left_on="person_key", right_index=True)
    codes = set(str(bias.get("group", "")).split(";")) - {""}
    members["bias_group"] = members["ethnicity"].isin(codes)
    truth = members.groupby("family_key").agg(
        latent_need=("latent_need", "max"), bias_group=("bias_group", "max")
    )
    truth["bias_group"] = truth["bias_group"].map({True: "bias group", False: "other"})
    return truth


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
            deps=["risk_model", "training_frame"],
            group_name="model",
            kinds={"duckdb"},
            description="Performance on the latest complete as-of date vs baseline and oracle.",
        ),
        dg.AssetSpec(
            "fairness_audit",
            deps=["risk_model", "training_frame", "protected_characteristics", "families", "areas"],
            group_name="model",
            kinds={"duckdb"},
            description="fairlearn group metrics, disparities with CIs, proxy check, need-adjusted bias.",
        ),
        dg.AssetSpec(
            "model_card",
            deps=["risk_model", "model_evaluation", "fairness_audit"],
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
            "logistic baseline, ECE <= 0.05. The WWCSC 0.65 bar is always reported.",
        ),
        dpia_check_spec(
            FAIRNESS_GATE,
            "fairness_audit",
            "Blocking: group disparities (FNR, calibration, equal-need score) within thresholds.",
        ),
    ],
    name="train_and_gate_model",
)
def train_and_gate_model(
    warehouse: Warehouse, settings: RunSettings, model_settings: ModelSettings
):
    frame = warehouse.read_table("training_frame")
    fitted = models.fit_risk_model(
        frame, config=models.RiskModelConfig(random_state=model_settings.random_state)
    )
    model_dir = warehouse.artefact_dir("models")
    # A new version's own file: nothing points at it until approved.json (staged below) does.
    record = models.save_risk_model(
        fitted.model, model_dir, training_window=fitted.training_window(), metrics=None
    )
    capacity = int(warehouse.read_table("workers", columns=["capacity"])["capacity"].sum())
    families = warehouse.read_table("families")
    truth = _truth_need(warehouse, settings.truth_dir, families)
    # Evaluation, audit, model card and the approval pointer are published together.
    with warehouse.stage("train_and_gate_model") as stage:
        evaluation = models.evaluate_risk_model(
            fitted, frame,
            config=models.EvaluationConfig(
                total_capacity=capacity, threshold=model_settings.threshold,
                gate=models.PerformanceGate(min_precision_lift=model_settings.min_precision_lift, max_ece=model_settings.max_ece),
            ),
            truth=truth["latent_need"] if truth is not None else None,
        )  # fmt: skip
        summary = evaluation.summary()
        stage.write_table("model_evaluation", _metric_table(summary))

        test_as_of = fitted.split.test_date.date()
        sensitive = build_sensitive_features(
            warehouse.read_table("events"), families, warehouse.read_table("people"),
            warehouse.read_table("protected_characteristics"), warehouse.read_table("areas"), test_as_of,
        )  # fmt: skip
        audit = models.audit_fairness(
            fitted, frame, sensitive,
            config=models.FairnessConfig(total_capacity=capacity, threshold=model_settings.threshold),
            truth=truth, truth_group_columns=("bias_group",) if truth is not None else (),
        )  # fmt: skip
        stage.write_table("fairness_audit", audit.group_metrics)
        reports = stage.artefact_dir("model")
        audit.disparities.to_csv(reports / "fairness_disparities.csv", index=False)
        audit.groups.to_csv(reports / "fairness_groups.csv", index=False)
        _md, html = models.write_model_card(
            fitted, evaluation, audit, reports, version=record.version
        )
        if evaluation.gate.passed and audit.gate.passed:
            stage.artefact_file("models", APPROVED).write_text(
                json.dumps(
                    {
                        "version": record.version,
                        "model_file": record.model_file,
                        "threshold": model_settings.threshold,
                    }
                )
            )

    yield dg.MaterializeResult(
        asset_key="risk_model",
        metadata={
            "version": record.version,
            "path": dg.MetadataValue.path(str(model_dir / record.model_file)),
            **summary_metadata(fitted.summary()),
        },
    )
    yield dg.MaterializeResult(asset_key="model_evaluation", metadata=summary_metadata(summary))
    yield dg.MaterializeResult(
        asset_key="fairness_audit", metadata=summary_metadata(audit.summary())
    )
    html = warehouse.artefact_dir("model") / html.name  # where the card was published
    yield dg.MaterializeResult(
        asset_key="model_card", metadata={"html": dg.MetadataValue.path(str(html))}
    )

    yield dg.AssetCheckResult(
        asset_key="model_evaluation", check_name=PERFORMANCE_GATE, passed=evaluation.gate.passed,
        metadata={"reasons": "; ".join(evaluation.gate.reasons), **({} if evaluation.gate.passed else {"failure": "; ".join(evaluation.gate.reasons)})},
    )  # fmt: skip
    yield dg.AssetCheckResult(
        asset_key="fairness_audit", check_name=FAIRNESS_GATE, passed=audit.gate.passed,
        metadata={"reasons": "; ".join(audit.gate.reasons), **({} if audit.gate.passed else {"failure": "; ".join(audit.gate.reasons)})},
    )  # fmt: skip


def _metric_table(summary: dict) -> pd.DataFrame:
    """One row per figure, nested names joined by dots (``model.auc_roc``), with CIs where given."""
    rows: list[dict] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict) and "value" in value:
            rows.append(
                {
                    "metric": prefix,
                    "value": value.get("value"),
                    "lower": value.get("lower"),
                    "upper": value.get("upper"),
                }
            )
        elif isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            rows.append({"metric": prefix, "value": value, "lower": None, "upper": None})

    walk("", summary)
    table = pd.DataFrame(rows, columns=["metric", "value", "lower", "upper"])
    return table.astype({"value": "float64", "lower": "float64", "upper": "float64"})
