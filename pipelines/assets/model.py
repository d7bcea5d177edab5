"""Feature and model assets: events -> family features -> training frame -> gated risk model.

Fitting, evaluation, the fairness audit and the model card run in one step so the fitted
object is judged before it is ever persisted as *approved*: only a model that passes both
blocking gates is written to ``artefacts/models/approved.json``, the one scoring may use.
"""

import json
from pathlib import Path

import dagster as dg
import pandas as pd

import models
from features import FEATURE_DICTIONARY, PROTECTED_COLUMNS, assert_no_protected
from features.build import build_family_features
from features.dictionary import ProtectedFeatureError
from features.events import build_events
from features.history import describe_truncation, history_consistency, history_starts
from features.outcomes import TimeSplit, build_training_frame, monthly_as_of_dates
from features.point_in_time import members_at
from features.protected import attribute_leakage, build_sensitive_features_many
from models.truth import truth_at_dates
from monitoring import promise_of
from pipelines.assets.ingest import AGENCY_SOURCES
from pipelines.assets.linkage import OBJECTIONS_SOURCE, _extract_date
from pipelines.council import CouncilConfig
from pipelines.dpia_metadata import dpia_check_spec, summary_metadata
from pipelines.objections import pending_person_keys
from pipelines.resources import CouncilSettings, RunSettings, Warehouse

RECORDS = [f"{s}_records" for s in AGENCY_SOURCES]
PERFORMANCE_GATE = "performance_gate"
FAIRNESS_GATE = "fairness_gate"
APPROVED = "approved.json"


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


HISTORY_CHECK = "history_consistency"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "training_frame",
            deps=["events", "family_snapshots", "families", "people", "objections", "record_links"],
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
def training_frame(warehouse: Warehouse, settings: RunSettings, council: CouncilSettings):
    as_of = settings.as_of_date(_extract_date(warehouse))
    training = council.config().training
    dates = monthly_as_of_dates(
        as_of, training.first_as_of_months_back, training.last_as_of_months_back
    )
    # Objectors, and anyone an objection pending verification may name, are left out of training.
    pending = pending_person_keys(warehouse)
    objectors = objector_person_keys(warehouse) | pending
    events_table = warehouse.read_table("events")
    table = build_training_frame(
        events_table, warehouse.read_table("family_snapshots"), warehouse.read_table("people"),
        dates, excluded_person_keys=objectors, extract_date=as_of,
        outcome_families=warehouse.read_table("families"),
    )  # fmt: skip
    warehouse.write_table("training_frame", table)
    yield dg.MaterializeResult(
        asset_key="training_frame",
        metadata={
            "rows": len(table),
            "as_of_dates": len(dates),
            "first_as_of": dates[0].isoformat(),
            "last_as_of": dates[-1].isoformat(),
            "positive_rate": round(float(table["label"].mean()), 4) if len(table) else 0.0,
            "objectors_excluded": len(objectors),
            "pending_verification_excluded": len(pending),
        },
    )
    consistency = history_consistency(table, history_starts(events_table))
    warehouse.artefact_dir("model").joinpath("history_consistency.csv").write_text(
        consistency.to_csv(index=False)
    )
    problems = describe_truncation(consistency)
    yield dg.AssetCheckResult(
        asset_key="training_frame", check_name=HISTORY_CHECK, passed=not problems,
        metadata={"features_checked": len(consistency),
                  "truncated_features": int((consistency["status"] == "truncated").sum()),
                  **({"failure": "; ".join(problems)} if problems else {})},
    )  # fmt: skip


def _truth(
    warehouse: Warehouse, truth_dir: str | None, members: pd.DataFrame
) -> pd.DataFrame | None:
    """Oracles and need per (as-of date, family) from the generator's truth (synthetic only)."""
    if not truth_dir:
        return None
    root = Path(truth_dir)
    records = pd.read_csv(root / "records.csv", dtype=str).drop_duplicates(
        ["source", "record_key"], keep="last"
    )
    vault = warehouse.read_table(
        "identity_vault", vault=True, columns=["source", "record_key", "person_key"]
    )
    person_truth = vault.merge(records, on=["source", "record_key"])[
        ["person_key", "true_person_id"]
    ].drop_duplicates("person_key")
    people_truth = pd.read_csv(
        root / "people.csv", dtype={"true_person_id": str, "true_family_id": str}
    )
    if (root / "families.csv").exists():
        family_need = pd.read_csv(root / "families.csv", dtype={"true_family_id": str})
    else:
        family_need = people_truth.groupby("true_family_id", as_index=False)["latent_need"].max()
    hazards = None
    if (root / "hazards.csv").exists():
        hazards = pd.read_csv(root / "hazards.csv", dtype={"true_family_id": str})
    bias = (
        json.loads((root / "recording_bias.json").read_text())
        if (root / "recording_bias.json").exists()
        else {}
    )
    return truth_at_dates(
        members, person_truth,
        pd.read_csv(root / "memberships.csv", dtype=str, keep_default_na=False),
        family_need, hazards=hazards,
        bias_codes=set(str(bias.get("group", "")).split(";")) - {""},
        people_ethnicity=people_truth[["true_person_id", "ethnicity"]],
        harm=pd.read_csv(root / "harm.csv", dtype=str) if (root / "harm.csv").exists() else None,
    )  # fmt: skip


def release_config(config: CouncilConfig, capacity: int, random_state: int) -> models.ReleaseConfig:
    """The domain settings of one release, from the council configuration."""
    t, threshold = config.training, config.flagging.threshold
    return models.ReleaseConfig(
        risk=models.RiskModelConfig(
            random_state=random_state, embargo_months=t.embargo_months,
            calibration_dates=t.calibration_dates, test_dates=t.test_dates,
            kind=config.flagging.approved_model,
        ),
        evaluation=models.EvaluationConfig(
            total_capacity=capacity, threshold=threshold, gate=config.performance_gate_object()
        ),
        fairness=models.FairnessConfig(
            total_capacity=capacity, threshold=threshold, gate=config.fairness_gate_object(),
            max_leakage_share=config.fairness_gate.max_leakage_share,
        ),
    )  # fmt: skip


def total_capacity(warehouse: Warehouse, config: CouncilConfig) -> int:
    """Families practitioners can review per run: the configured total or the workers' sum."""
    if config.flagging.capacity is not None:
        return int(config.flagging.capacity)
    return int(warehouse.read_table("workers", columns=["capacity"])["capacity"].sum())


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
            ],
            group_name="model",
            kinds={"duckdb"},
            description="Point-in-time group attributes; group-to-rest ratios with equivalence verdicts, coverage, leakage check.",
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
def train_and_gate_model(warehouse: Warehouse, settings: RunSettings, council: CouncilSettings):
    config = council.config()
    frame = warehouse.read_table("training_frame")
    release_settings = release_config(
        config, total_capacity(warehouse, config), config.training.random_state
    )
    split = release_settings.risk.split(frame)
    sensitive, leakage, truth = audit_inputs(warehouse, frame, split, settings.truth_dir)
    release = models.train_and_judge(
        frame, sensitive, config=release_settings, split=split, truth=truth, leakage=leakage
    )
    as_of = settings.as_of_date(_extract_date(warehouse))
    yield from _persist_release(warehouse, release, config, as_of.isoformat())


def audit_inputs(
    warehouse: Warehouse, frame: pd.DataFrame, split: TimeSplit, truth_dir: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """What the fairness audit needs beside the model, at the split's test dates.

    Group attributes as recorded before each test date (families as formed then), the
    leakage check of those attributes, and (synthetic estates) the ground truth.
    """
    snapshots = warehouse.read_table("family_snapshots")
    observations = warehouse.read_table("protected_characteristics")
    sensitive = build_sensitive_features_many(
        warehouse.read_table("events"), snapshots, warehouse.read_table("people"), observations,
        warehouse.read_table("areas"), [d.date() for d in split.test_dates],
    )  # fmt: skip
    _, _, test_rows = split.frames(frame)
    leakage = attribute_leakage(sensitive, test_rows, snapshots, observations)
    truth = _truth(warehouse, truth_dir, members_at(snapshots, split.test_dates))
    return sensitive, leakage, truth


def _persist_release(
    warehouse: Warehouse, release: models.Release, config: CouncilConfig, as_of: str
):
    fitted, evaluation, audit = release.fitted, release.evaluation, release.audit
    model_dir = warehouse.artefact_dir("models")
    # A new version's own file: nothing points at it until approved.json (staged below) does.
    record = models.save_risk_model(
        fitted.model, model_dir, training_window=fitted.training_window(),
        metrics={"promise": promise_of(evaluation)},  # what monitoring holds this model to
    )  # fmt: skip
    summary = evaluation.summary()
    # Evaluation, audit, model card and the approval pointer are published together.
    with warehouse.stage("train_and_gate_model") as stage:
        stage.write_table("model_evaluation", _metric_table(summary))
        stage.write_table("fairness_audit", audit.decisions)
        reports = stage.artefact_dir("model")
        for name, table in (("fairness_groups", audit.groups), ("fairness_metrics", audit.group_metrics),
                            ("fairness_disparities", audit.disparities), ("fairness_coverage", audit.coverage),
                            ("fairness_leakage", audit.leakage)):  # fmt: skip
            if table is not None:
                table.to_csv(reports / f"{name}.csv", index=False)
        _md, html = models.write_model_card(
            fitted, evaluation, audit, reports, version=record.version,
            sign_offs=config.sign_off_lines(), council=config.council.name, scoring_as_of=as_of,
        )  # fmt: skip
        if release.approved:
            stage.artefact_file("models", APPROVED).write_text(
                json.dumps(
                    {
                        "version": record.version,
                        "model_file": record.model_file,
                        "threshold": config.flagging.threshold,
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
    for asset, check, gate in (("model_evaluation", PERFORMANCE_GATE, evaluation.gate),
                               ("fairness_audit", FAIRNESS_GATE, audit.gate)):  # fmt: skip
        yield dg.AssetCheckResult(
            asset_key=asset, check_name=check, passed=gate.passed,
            metadata={"reasons": "; ".join(gate.reasons),
                      **({} if gate.passed else {"failure": "; ".join(gate.reasons[:6])})},
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
