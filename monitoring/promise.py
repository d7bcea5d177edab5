"""What the model card promised: the figures monitoring holds the deployed model to.

The promise is measured once, when a model is judged on its pooled test dates
(``safeguard.models.evaluation``), and travels with the model's persisted record
(``risk_model-<version>.json``, ``metrics["promise"]``), so that months scored by a model are
always compared with that model's own card, even after a newer model has been trained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

#: Figures of the promise, as named in ``ModelEvaluation.summary()["model"]``.
PROMISED_METRICS = (
    "precision_at_capacity",
    "recall_at_capacity",
    "observed_over_expected",
    "auc_roc",
)


@dataclass(frozen=True)
class Figure:
    """A promised figure with its 95% interval (pooled test dates, family-clustered)."""

    value: float
    lower: float
    upper: float

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Figure:
        def num(key: str) -> float:
            value = raw.get(key)
            return float("nan") if value is None else float(value)

        return cls(num("value"), num("lower"), num("upper"))


@dataclass(frozen=True)
class Promise:
    """The model card's figures for one model version.

    Attributes
    ----------
    figures : metric name -> :class:`Figure` (see :data:`PROMISED_METRICS`).
    base_rate, capacity_k, threshold : the test dates' base rate, flags per run and threshold.
    test_dates : the pooled test dates the promise was measured on.
    """

    figures: Mapping[str, Figure]
    base_rate: float = float("nan")
    capacity_k: int = 0
    threshold: float = float("nan")
    test_dates: tuple[str, ...] = field(default_factory=tuple)

    def figure(self, metric: str) -> Figure | None:
        """The promised figure of ``metric``, if the card gave one."""
        return self.figures.get(metric)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in the model record)."""
        out = asdict(self)
        out["figures"] = {k: asdict(v) for k, v in self.figures.items()}
        out["test_dates"] = list(self.test_dates)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Promise:
        """Inverse of :meth:`as_dict`."""
        return cls(
            figures={k: Figure.from_mapping(v) for k, v in raw.get("figures", {}).items()},
            base_rate=float(raw.get("base_rate", math.nan)),
            capacity_k=int(raw.get("capacity_k", 0)),
            threshold=float(raw.get("threshold", math.nan)),
            test_dates=tuple(raw.get("test_dates", ())),
        )

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> Promise:
        """From ``ModelEvaluation.summary()`` (the figures the model card prints)."""
        model = summary.get("model", {})
        return cls(
            figures={m: Figure.from_mapping(model[m]) for m in PROMISED_METRICS if m in model},
            base_rate=float(summary.get("base_rate", math.nan)),
            capacity_k=int(summary.get("capacity_k", 0)),
            threshold=float(summary.get("threshold", math.nan)),
            test_dates=tuple(summary.get("test_dates", ())),
        )

    @classmethod
    def from_metric_table(cls, table: pd.DataFrame) -> Promise:
        """From the ``model_evaluation`` table (``metric, value, lower, upper``)."""
        rows = table.set_index("metric")
        figures = {
            m: Figure(*(float(rows.loc[f"model.{m}", c]) for c in ("value", "lower", "upper")))
            for m in PROMISED_METRICS
            if f"model.{m}" in rows.index
        }

        def scalar(name: str) -> float:
            return float(rows.loc[name, "value"]) if name in rows.index else math.nan

        k = scalar("capacity_k")
        return cls(
            figures=figures,
            base_rate=scalar("base_rate"),
            capacity_k=0 if math.isnan(k) else int(k),
            threshold=scalar("threshold"),
        )


def promise_of(evaluation: Any) -> dict[str, Any]:
    """The JSON-able promise of a ``safeguard.models.ModelEvaluation`` (for the model's record)."""
    return Promise.from_summary(evaluation.summary()).as_dict()
