"""One model release, outside the asset body: its settings, its audit inputs, its publication.

The approval policy lives here: a fitted model is persisted as its own version, and only a
release that passed both blocking gates gets the ``approved.json`` pointer scoring may follow.
Evaluation, audit tables, model card and pointer are published together in one staged write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from safeguard import models
from safeguard.contracts.tables import APPROVED
from safeguard.features.outcomes import TimeSplit
from safeguard.features.point_in_time import members_at
from safeguard.features.protected import attribute_leakage, build_sensitive_features_many
from safeguard.models.truth import truth_at_dates
from safeguard.monitoring import promise_of

if TYPE_CHECKING:
    from safeguard.contracts.council import CouncilConfig
    from safeguard.pipelines.resources import Warehouse

FAIRNESS_TABLES = ("groups", "group_metrics", "disparities", "coverage", "leakage")
FAIRNESS_FILES = {
    "groups": "fairness_groups",
    "group_metrics": "fairness_metrics",
    "disparities": "fairness_disparities",
    "coverage": "fairness_coverage",
    "leakage": "fairness_leakage",
}


def truth_frame(
    warehouse: Warehouse, truth_dir: str | None, members: pd.DataFrame
) -> pd.DataFrame | None:
    """Oracles and need per (as-of date, family) from the generator's truth (synthetic only).

    Reads the vault's ``identity_vault``.
    """
    if not truth_dir:
        return None
    root = Path(truth_dir)
    records = pd.read_csv(root / "records.csv", dtype=str).drop_duplicates(
        ["source", "record_key"], keep="last"
    )
    vault = warehouse.read_table(
        "identity_vault", vault=True, columns=["source", "record_key", "person_key"]
    )
    vault = vault[vault["person_key"].notna()]  # records dated after the as-of: not linked
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


def total_capacity(warehouse: Warehouse, config: CouncilConfig) -> int:
    """Families practitioners can review per run: the configured total or the workers' sum."""
    if config.flagging.capacity is not None:
        return int(config.flagging.capacity)
    return int(warehouse.read_table("workers", columns=["capacity"])["capacity"].sum())


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
    truth = truth_frame(warehouse, truth_dir, members_at(snapshots, split.test_dates))
    return sensitive, leakage, truth


def train_release(
    warehouse: Warehouse,
    frame: pd.DataFrame,
    settings: models.ReleaseConfig,
    truth_dir: str | None,
) -> models.Release:
    """Fit, evaluate and audit one model on the training frame (nothing is written).

    ``settings`` come from the council configuration
    (:func:`safeguard.pipelines.council.release_config`).
    """
    split = settings.risk.split(frame)
    sensitive, leakage, truth = audit_inputs(warehouse, frame, split, truth_dir)
    return models.train_and_judge(
        frame, sensitive, config=settings, split=split, truth=truth, leakage=leakage
    )


@dataclass(frozen=True)
class Publication:
    """Where a release was published: its record, the evaluation summary and the card."""

    record: models.ModelRecord
    model_path: Path
    summary: dict
    card_html: Path
    approved: bool


def publish_release(
    warehouse: Warehouse,
    release: models.Release,
    config: CouncilConfig,
    as_of: str,
    sign_offs: list[str],
) -> Publication:
    """Persist the model as its own version; publish evaluation, audit, card and (if both gates
    passed) the approval pointer together. A failed gate leaves the last approved model served.

    ``sign_offs``: the council's fairness sign-offs as sentences, for the model card
    (:func:`safeguard.pipelines.council.sign_off_lines`).
    """
    fitted, evaluation, audit = release.fitted, release.evaluation, release.audit
    model_dir = warehouse.artefact_dir("models")
    # A new version's own file: nothing points at it until approved.json (staged below) does.
    record = models.save_risk_model(
        fitted.model, model_dir, training_window=fitted.training_window(),
        metrics={"promise": promise_of(evaluation)},  # what monitoring holds this model to
    )  # fmt: skip
    summary = evaluation.summary()
    with warehouse.stage("train_and_gate_model") as stage:
        stage.write_table("model_evaluation", metric_table(summary))
        stage.write_table("fairness_audit", audit.decisions)
        reports = stage.artefact_dir("model")
        for attribute, name in FAIRNESS_FILES.items():
            table = getattr(audit, attribute)
            if table is not None:
                table.to_csv(reports / f"{name}.csv", index=False)
        _md, html = models.write_model_card(
            fitted, evaluation, audit, reports, version=record.version,
            sign_offs=sign_offs, council=config.council.name, scoring_as_of=as_of,
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
    return Publication(
        record=record,
        model_path=model_dir / record.model_file,
        summary=summary,
        card_html=warehouse.artefact_dir("model") / html.name,  # where the card was published
        approved=release.approved,
    )


def metric_table(summary: dict) -> pd.DataFrame:
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
