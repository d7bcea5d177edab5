"""Artefacts for reviewers: the trained model and Splink's charts, without personal data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from splink import Linker
from splink.internals.database_api import DatabaseAPISubClass
from splink.internals.splink_dataframe import SplinkDataFrame

__all__ = [
    "PredictionSummary",
    "summarise_predictions",
    "threshold_justification",
    "write_artefacts",
]


@dataclass(frozen=True)
class PredictionSummary:
    """Aggregates of all scored pairs, computed where they live (no pair leaves the database).

    Attributes
    ----------
    histogram
        Scored pairs per unit of match weight: ``bin_lower, bin_upper, pairs``.
    scored_pairs, candidate_pairs
        Pairs scored, and pairs at or above the threshold.
    expected_precision
        Mean match probability of the candidate pairs (the model's own precision estimate).
    expected_recall
        Probability mass of the candidates over all probability mass (pairs that blocking
        never compared are not counted).
    example_pairs
        ``unique_id_l, unique_id_r`` of the weakest accepted and the strongest rejected
        pair, for the waterfall chart.
    """

    histogram: pd.DataFrame
    scored_pairs: int
    candidate_pairs: int
    expected_precision: float
    expected_recall: float
    example_pairs: pd.DataFrame


def _empty_histogram() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bin_lower": pd.Series(dtype="float64"),
            "bin_upper": pd.Series(dtype="float64"),
            "pairs": pd.Series(dtype="int64"),
        }
    )


def summarise_predictions(
    predictions: SplinkDataFrame | None, threshold: float
) -> PredictionSummary:
    """Histogram, threshold statistics and example pairs of Splink's predictions, in SQL."""
    no_pairs = pd.DataFrame({"unique_id_l": [], "unique_id_r": []}, dtype="int64")
    if predictions is None:
        return PredictionSummary(_empty_histogram(), 0, 0, float("nan"), float("nan"), no_pairs)
    # one scan for the histogram and the threshold statistics, one for an example pair
    bins = predictions.query_sql(
        "SELECT floor(match_weight) AS bin_lower, count(*) AS pairs, "
        "sum(match_probability) AS mass, "
        f"sum(CASE WHEN match_probability >= {threshold} THEN 1 ELSE 0 END) AS n_above, "
        f"sum(CASE WHEN match_probability >= {threshold} THEN match_probability ELSE 0 END) "
        "AS mass_above FROM {this} GROUP BY floor(match_weight) ORDER BY bin_lower"
    ).as_pandas_dataframe()
    n, n_above = int(bins["pairs"].sum()), int(bins["n_above"].sum())
    mass, mass_above = float(bins["mass"].sum()), float(bins["mass_above"].sum())
    examples = [
        predictions.query_sql(
            "SELECT unique_id_l, unique_id_r FROM {this} "
            f"WHERE match_probability {where} ORDER BY match_weight {direction}, "
            "unique_id_l, unique_id_r LIMIT 1"
        ).as_pandas_dataframe()
        for where, direction in ((f">= {threshold}", "ASC"), (f"< {threshold}", "DESC"))
    ]
    histogram = bins.assign(bin_upper=bins["bin_lower"] + 1)[["bin_lower", "bin_upper", "pairs"]]
    if histogram.empty:
        histogram = _empty_histogram()
    return PredictionSummary(
        histogram=histogram.astype(
            {"bin_lower": "float64", "bin_upper": "float64", "pairs": "int64"}
        ),
        scored_pairs=n,
        candidate_pairs=n_above,
        expected_precision=mass_above / n_above if n_above else float("nan"),
        expected_recall=mass_above / mass if mass > 0 else float("nan"),
        example_pairs=pd.concat(examples).drop_duplicates().astype("int64").reset_index(drop=True),
    )


def threshold_justification(summary: PredictionSummary, threshold: float) -> str:
    """Why this threshold, with the model's own expected precision and recall at it."""
    weight = float(np.log2(threshold / (1 - threshold)))
    return (
        f"Candidate links need match probability >= {threshold} (match weight >= {weight:.1f}). "
        f"{summary.candidate_pairs} of {summary.scored_pairs} scored pairs pass. By the model's "
        f"own probabilities the expected pairwise precision of those pairs is "
        f"{summary.expected_precision:.4f} and the expected recall among scored pairs is "
        f"{summary.expected_recall:.4f}. A wrong link puts a stranger's records into a "
        "family's explanation, so precision is preferred to recall; links that pass are then "
        "merged only if the two clusters are cohesive (average linkage) and no cannot-link "
        "pair (different given names or dates of birth) lies between them."
    )


def write_artefacts(
    linker: Linker,
    db_api: DatabaseAPISubClass,
    records: SplinkDataFrame,
    example_pairs: pd.DataFrame,
    artefact_dir: Path,
) -> dict[str, Path]:
    """Write the model JSON, the match-weights chart and a waterfall chart to ``artefact_dir``.

    The waterfall explains the two pairs either side of the threshold (the weakest accepted
    link and the strongest rejected pair) with Splink's ``remove_sensitive_data=True``: only
    match weights, never the compared values, end up in the HTML. Without any scored pair
    there is nothing to explain and no waterfall is written.
    """
    artefact_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": artefact_dir / "linkage_model.json",
        "match_weights_chart": artefact_dir / "match_weights_chart.html",
        "waterfall_chart": artefact_dir / "waterfall_chart.html",
    }
    model = linker.misc.save_model_to_json()
    paths["model"].write_text(json.dumps(model, indent=2), encoding="utf-8")
    linker.visualisations.match_weights_chart().save(str(paths["match_weights_chart"]))

    pairs = example_pairs
    if pairs.empty:
        del paths["waterfall_chart"]
        return paths
    # A second linker on the same records, from the trained model, keeps the columns the
    # waterfall needs; the main run does not, to keep predictions small.
    detailed = dict(
        model, retain_matching_columns=True, retain_intermediate_calculation_columns=True
    )
    explainer = Linker(records, detailed, log_level=None)
    blocked = db_api.register(
        pd.DataFrame(
            {
                "match_key": ["0"] * len(pairs),
                "join_key_l": pairs["unique_id_l"].to_numpy(np.int64),
                "join_key_r": pairs["unique_id_r"].to_numpy(np.int64),
            }
        )
    )
    explainer.table_management.register_blocked_pairs_for_predict(blocked)
    scored = explainer.inference.predict(warning_mode="never")
    chart = explainer.visualisations.waterfall_chart(
        scored.as_record_list(), filter_nulls=False, remove_sensitive_data=True
    )
    chart.save(str(paths["waterfall_chart"]))
    scored.drop_table_from_database_and_remove_from_cache()
    return paths
