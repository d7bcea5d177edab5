"""Persist and load the fitted risk model safely (skops, never pickle), with its provenance.

A model file is accepted only if its SHA-256 matches its metadata record and it contains no
type outside :data:`TRUSTED_TYPES`; a tampered or foreign file is refused with a reason.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import skops.io as sio

from safeguard.models.estimator import LogisticRiskModel, RiskModel

MODEL_TYPES = (RiskModel, LogisticRiskModel)

# Types in a RiskModel dump that skops does not trust by default, reviewed by us.
TRUSTED_TYPES: tuple[str, ...] = (
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "safeguard.models.estimator.LogOddsLGBMClassifier",
    "safeguard.models.estimator.LogisticRiskModel",
    "safeguard.models.estimator.RiskModel",
    "numpy.dtype",  # the logistic model's imputer records its input dtype
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


class UntrustedModelError(RuntimeError):
    """A model file is not one we wrote: wrong hash, untrusted types, or not a skops file."""


@dataclass(frozen=True)
class ModelRecord:
    """Provenance of one persisted model, written beside it as JSON."""

    version: str
    created_at: str
    sha256: str
    model_file: str
    feature_names: tuple[str, ...]
    training_window: Mapping[str, Any]
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The record as indented JSON (the ``.json`` file next to the model)."""
        payload = asdict(self)
        payload["feature_names"] = list(self.feature_names)
        return json.dumps(payload, indent=2, sort_keys=True, default=str)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_risk_model(
    model: RiskModel,
    directory: Path,
    *,
    training_window: Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> ModelRecord:
    """Write ``model`` as ``risk_model-<version>.skops`` plus its ``.json`` record.

    The version is the UTC timestamp and the first 12 hex characters of the file's SHA-256, so
    two different models never share a version and the file can be checked against it.

    Parameters
    ----------
    training_window : mapping
        e.g. ``{"train_dates": [...], "calibration_dates": [...], "test_date": ...}``.
    metrics : mapping, optional
        JSON-able headline figures (AUC, precision at capacity, gate outcomes).
    """
    if not isinstance(model, MODEL_TYPES):
        raise TypeError(
            f"expected a fitted RiskModel or LogisticRiskModel, got {type(model).__name__}"
        )
    data = sio.dumps(model, compression=zipfile.ZIP_DEFLATED)
    digest = _sha256(data)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    version = f"{stamp}-{digest[:12]}"
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / f"risk_model-{version}.skops"
    model_path.write_bytes(data)
    record = ModelRecord(
        version=version,
        created_at=stamp,
        sha256=digest,
        model_file=model_path.name,
        feature_names=tuple(str(n) for n in model.feature_names_in_),
        training_window=dict(training_window),
        metrics=dict(metrics or {}),
    )
    model_path.with_suffix(".json").write_text(record.to_json(), encoding="utf-8")
    return record


def load_risk_model(
    model_path: Path, *, trusted: Sequence[str] = TRUSTED_TYPES
) -> tuple[RiskModel, ModelRecord]:
    """Load a model written by :func:`save_risk_model`, refusing anything else.

    Raises
    ------
    UntrustedModelError
        If the record is missing, the hash does not match, the file is not a skops archive
        (e.g. a pickle), or it contains a type outside ``trusted``.
    """
    record_path = model_path.with_suffix(".json")
    if not record_path.exists():
        raise UntrustedModelError(
            f"{model_path}: no provenance record {record_path.name} beside it"
        )
    raw = json.loads(record_path.read_text(encoding="utf-8"))
    raw["feature_names"] = tuple(raw["feature_names"])
    record = ModelRecord(**raw)
    data = model_path.read_bytes()
    if _sha256(data) != record.sha256:
        raise UntrustedModelError(
            f"{model_path}: SHA-256 does not match {record_path.name}; the file was altered"
        )
    try:
        found = sio.get_untrusted_types(data=data)
    except zipfile.BadZipFile as exc:
        raise UntrustedModelError(
            f"{model_path}: not a skops archive (refusing to unpickle)"
        ) from exc
    extra = sorted(set(found) - set(trusted))
    if extra:
        raise UntrustedModelError(f"{model_path}: contains untrusted type(s) {extra}; not loaded")
    model = sio.loads(data, trusted=list(trusted))
    if not isinstance(model, MODEL_TYPES):
        raise UntrustedModelError(f"{model_path}: holds a {type(model).__name__}, not a risk model")
    return model, record
