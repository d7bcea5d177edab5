"""Assemble one monitoring pass's inputs from the warehouse tables (pure functions).

Everything is rebuilt from the tables the pipeline already keeps, with the project's own
point-in-time functions: the label each month's families went on to (``safeguard.features.outcomes``),
their audit attributes as recorded before the month (``safeguard.features.protected``), their features
(``safeguard.features.build``), and each agency's recording volume and coverage (``safeguard.monitoring.drift``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from safeguard.features.build import build_family_features_many
from safeguard.features.outcomes import outcome_labels
from safeguard.features.protected import build_sensitive_features_many
from safeguard.monitoring.drift import calendar_reference, missing_sources, monthly_volumes
from safeguard.monitoring.monitor import MonitoringInputs
from safeguard.monitoring.promise import Promise

#: Reference rows (training-window family-dates) kept for drift; enough for ten PSI bins.
MAX_REFERENCE_ROWS = 200_000


def monitored_scores(
    history: pd.DataFrame, model_version: str, months: int
) -> tuple[pd.DataFrame, list[str]]:
    """The latest ``months`` months the given model scored, and a note on any left out.

    Months scored by another model version are left out (they are compared with that model's
    own card, not this one's): re-run the backfill after a new model is approved.
    """
    history = history.assign(
        as_of_date=pd.to_datetime(history["as_of_date"]).astype("datetime64[ns]")
    )
    mine = history.loc[history["model_version"].astype(str) == str(model_version)]
    stale = sorted(set(history["as_of_date"]) - set(mine["as_of_date"]))
    keep = sorted(mine["as_of_date"].unique())[-months:]
    notes = []
    if stale:
        notes.append(
            f"{len(stale)} scored month(s) ({pd.Timestamp(stale[0]):%Y-%m} to {pd.Timestamp(stale[-1]):%Y-%m}) "
            "were scored by an earlier model and are not monitored against this model's card: "
            "re-run the backfill (safeguard monitor) to score them with the approved model"
        )
    return mine.loc[mine["as_of_date"].isin(keep)].reset_index(drop=True), notes


def build_inputs(
    scores: pd.DataFrame,
    *,
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    observations: pd.DataFrame | None,
    areas: pd.DataFrame | None,
    training_frame: pd.DataFrame | None,
    model: Any,
    training_window: Mapping[str, Sequence[str]],
    promise: Promise | None,
    capacity: int,
    threshold: float,
    extract_date: date,
    harm: pd.DataFrame | None = None,
    horizon_months: int = 12,
) -> MonitoringInputs:
    """The inputs of :func:`safeguard.monitoring.monitor` for the monitored ``scores``.

    Parameters
    ----------
    scores : :func:`monitored_scores` rows (one model version).
    events, families, people : warehouse tables (``families``: the current spells, as scoring
        uses them).
    observations, areas : ``protected_characteristics`` and ``areas``, for the audit
        attributes (fairness is left out without them).
    training_frame, model, training_window : the drift reference: the training-window rows
        the model was trained on (``training_window["train_dates"]``) and its probabilities.
    extract_date : the newest data: a month's outcome window is complete when it ends by then.
    harm : ``as_of_date, family_key, true_harm`` (synthetic estates only).
    """
    months = sorted({pd.Timestamp(d).date() for d in scores["as_of_date"]})
    if not months:
        raise ValueError("no scored months to monitor")
    outcomes = outcome_labels(
        events, families, people, months, extract_date=extract_date, horizon_months=horizon_months
    )
    sensitive = None
    if observations is not None and areas is not None:
        sensitive = build_sensitive_features_many(
            events, families, people, observations, areas, months
        )
    names = list(getattr(model, "feature_names_in_", []))
    keys = scores[["as_of_date", "family_key"]].astype({"family_key": "string"})
    monthly = build_family_features_many(events, families, people, months)
    monthly = monthly.astype({"family_key": "string"}).merge(keys, on=["as_of_date", "family_key"])
    train_months = [pd.Timestamp(d) for d in training_window.get("train_dates", [])]
    # training and calibration dates: the data the model learnt from (the drift reference)
    reference_months = sorted(
        {*train_months, *(pd.Timestamp(d) for d in training_window.get("calibration_dates", []))}
    )
    reference, reference_probability = None, None
    if training_frame is not None and train_months and names:
        reference = training_frame.loc[
            pd.to_datetime(training_frame["as_of_date"]).isin(train_months)
        ]
        if len(reference) > MAX_REFERENCE_ROWS:  # drawn in content order, not keyed family order
            by = [c for c in reference.columns if c != "family_key"]
            by += ["family_key"] if "family_key" in reference.columns else []
            reference = reference.sort_values(by, ignore_index=True)
            reference = reference.sample(MAX_REFERENCE_ROWS, random_state=0)
        if len(reference):
            reference_probability = np.asarray(
                model.predict_proba(reference[names])[:, 1], dtype=float
            )
        else:
            reference = None
    coverage_months = sorted({*reference_months, *(pd.Timestamp(m) for m in months)})
    volume_reference = calendar_reference(reference_months)  # every calendar month of the window
    return MonitoringInputs(
        scores=scores, outcomes=outcomes, promise=promise, capacity=capacity, threshold=threshold,
        sensitive=sensitive, harm=harm, reference_features=reference, monthly_features=monthly,
        feature_names=names, reference_probability=reference_probability,
        volumes=monthly_volumes(events, sorted({*volume_reference, *(pd.Timestamp(m) for m in months)})),
        missing=missing_sources(events, families, coverage_months),
        reference_months=reference_months, volume_reference_months=volume_reference,
        last_recorded={str(k): pd.Timestamp(v) for k, v in events.groupby("source")["event_date"].max().items()},
    )  # fmt: skip
