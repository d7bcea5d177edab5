"""Scoring and serving, outside the asset body: score, select, then publish everything together.

:func:`score_and_select` scores every eligible family with the approved model and selects the
flags (nothing is written); :func:`publish` writes scores, flags, explanations, caseloads and
both artefact folders in one staged write, so until it commits the last good set stays served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from safeguard import models
from safeguard.flags.case_pack import build_caseloads, write_case_packs
from safeguard.flags.flagging import (
    FlagConfig,
    FlagSelection,
    family_districts,
    score_families,
    select_flags,
)
from safeguard.flags.global_explain import GlobalExplanation, global_explanations
from safeguard.flags.reasons import explain_flags

if TYPE_CHECKING:
    from safeguard.pipelines.resources import Warehouse


@dataclass(frozen=True)
class Scoring:
    """One scoring at the as-of date, before anything is written."""

    model: models.RiskModel
    version: str
    as_of: date
    features: pd.DataFrame
    events: pd.DataFrame
    families: pd.DataFrame
    workers: pd.DataFrame
    excluded: dict[str, set[str]]
    scores: pd.DataFrame
    selection: FlagSelection


def score_and_select(
    warehouse: Warehouse,
    model: models.RiskModel,
    version: str,
    as_of: date,
    threshold: float,
    exclusions: Callable[[pd.DataFrame, pd.DataFrame], dict[str, set[str]]],
) -> Scoring:
    """Score every family not excluded and select the flags by threshold, routing and capacity.

    Reads family_features, events, families and workers; ``exclusions(events, families)``
    names the families never scored (objectors, pending objections, open cases).
    """
    features = warehouse.read_table("family_features")
    events = warehouse.read_table("events")
    families = warehouse.read_table("families")
    workers = warehouse.read_table("workers")
    excluded = exclusions(events, families)
    config = FlagConfig(threshold_probability=threshold)
    scores = score_families(
        model, features, model_version=version, as_of=as_of,
        postcode_districts=family_districts(events, families, as_of), config=config,
        excluded_family_keys=excluded,
    )  # fmt: skip
    selection = select_flags(
        scores, workers, config=config, excluded_family_keys=excluded,
        pseudonymiser=warehouse.pseudonymiser(),
    )  # fmt: skip
    return Scoring(model, version, as_of, features, events, families, workers, excluded, scores,
                   selection)  # fmt: skip


@dataclass(frozen=True)
class Published:
    explanations: pd.DataFrame
    overview_html: Path
    overview: GlobalExplanation
    caseloads: pd.DataFrame
    packs: list


def publish(warehouse: Warehouse, s: Scoring) -> Published:
    """Scores, flags, explanations, caseloads and both artefact folders, published together."""
    flags = s.selection.flags
    with warehouse.stage("score_and_flag") as stage:
        stage.write_table("family_scores", s.scores)
        stage.write_table("flags", flags)
        explanations = explain_flags(
            s.model, s.features, flags, s.events, s.families, as_of=s.as_of
        )
        stage.write_table("flag_explanations", explanations)
        overview = global_explanations(
            s.model, s.features, stage.artefact_dir("global_explanations"), model_version=s.version
        )
        caseloads = build_caseloads(flags, explanations, s.workers)
        stage.write_table("caseloads", caseloads)
        packs = write_case_packs(
            caseloads, flags, explanations, s.workers, stage.artefact_dir("case_packs"),
            model_version=s.version, as_of=s.as_of,
        )  # fmt: skip
    html = warehouse.artefact_dir("global_explanations") / overview.html.name  # where published
    return Published(explanations, html, overview, caseloads, packs)
