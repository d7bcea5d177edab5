"""Link person records from several agencies into people (``person_key``).

Pipeline: validate and standardise identities (:mod:`safeguard.linkage.standardise`) -> collapse
records with identical identities and must-link records sharing a trusted identifier
(:mod:`safeguard.linkage.deterministic`) -> train a Splink model on the distinct identities (u by
random sampling, less the matches the sample holds; m of every level by two EM sessions;
the prior from exact name+dob agreements, with that rule's recall derived from the trained
m-probabilities; the shipped model for tables too small to train on) -> loosen blocking
until the model expects it to compare the target share of matches (:mod:`safeguard.linkage.blocking`)
-> score blocked pairs -> cluster by average linkage with complete evidence and cannot-link
as a tie-breaker (:mod:`safeguard.linkage.clustering`, :mod:`safeguard.linkage.constraints`) -> opaque,
deterministic person keys (:mod:`safeguard.linkage.records`). Nothing is fixed in advance that the
records can tell: how often names are corrupted or swapped, how often a rule finds matches,
how much of the matching the blocking can reach. ``bench/bench_linkage_unseen.py`` scores
the defaults on a public benchmark they were not developed on.

Threshold. A candidate link needs match probability >= 0.99 (match weight >= +6.6). A wrong
link puts a stranger's police record into a family's explanation, which is worse than a
missed link (an incomplete picture, which practitioners already expect), so precision is
preferred. On the 20,000-person synthetic estate (111k records) the threshold sweep gave
pairwise precision / recall of 0.9977 / 0.9979 at 0.5, 0.9986 / 0.9964 at 0.9, 0.9994 /
0.9948 at 0.99 and 0.9996 / 0.9923 at 0.999 (measured before the model learned every level;
0.9988 / 0.9908 at 0.99 after, with the harness's input, no agency ids): 0.99 more than halves the wrong links of 0.9
for 0.16 points of recall, while 0.999 starts losing real links (moved address plus a typo).
Every run also reports the model's own expected precision and recall at the threshold in
``LinkageResult.threshold_justification``, because another estate may calibrate differently.

Chaining. Splink's connected components let one record that resembles two people merge
them. Here a candidate link only merges two clusters when the mean probability over all
record pairs between them is at least ``cluster_cohesion`` (pairs blocking never compared
are scored first) and no pair between them is cannot-link (different given names or dates of
birth) where one of the records has a competing partner: the constraint breaks ties
between family members, it does not veto a lone pair with a corrupted field. See
:mod:`safeguard.linkage.clustering` for why.

Deterministic rules. Records sharing a valid UPN (check letter), a valid NHS number
(modulus-11 check digit) or, within one source, an agency person id are must-linked before
clustering, unless the record's date of birth contradicts the identifier group's usual one
(a mistyped identifier must not merge two children). The identifiers are also model
comparisons, so a *different* UPN or NHS number counts against a match.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from splink import Linker
from splink.internals.splink_dataframe import SplinkDataFrame

from safeguard.linkage.blocking import (
    BlockingPlan,
    comparison_distributions,
    null_shares,
    plan_blocking,
)
from safeguard.linkage.charts import draw_linkage_charts
from safeguard.linkage.clustering import ClusteringOutcome, cluster_records
from safeguard.linkage.config import LinkageConfig
from safeguard.linkage.constraints import cannot_link, constraint_table
from safeguard.linkage.keys import KeyFunction
from safeguard.linkage.model import (
    MODEL_COLUMNS,
    OPTIONAL_COMPARISONS,
    build_settings,
    default_model,
    em_failed,
    predictions_to_edges,
    score_pairs,
    train_linker,
    trained_comparisons,
    untrained_linker,
    with_rules,
)
from safeguard.linkage.records import (
    PreparedRecords,
    links_frame,
    prepare_records,
    validate_records,
)
from safeguard.linkage.reporting import (
    PredictionSummary,
    summarise_predictions,
    threshold_justification,
    write_artefacts,
)

__all__ = ["LINK_COLUMNS", "LinkageResult", "link", "link_with_details"]

LINK_COLUMNS = ("source", "record_key", "person_key", "cluster_size", "linkage_confidence")


@dataclass(frozen=True)
class LinkageResult:
    """Everything a reviewer needs about one linkage run; aggregates only, no identities.

    Attributes
    ----------
    links
        One row per input record: ``source, record_key, person_key, cluster_size,
        linkage_confidence`` (mean match probability inside the person's cluster).
    match_weight_histogram
        All pairs that blocking scored, per unit of match weight (distinct identities, not
        records): ``bin_lower, bin_upper, pairs``.
    model_settings
        The Splink model used (``save_model_to_json`` content): trained on these records,
        or the shipped model when they were too few (``clustering["model_trained"]``).
    threshold_match_probability
        The candidate-link threshold used.
    threshold_justification
        Why this threshold, with the model's expected precision and recall at it.
    cluster_size_distribution
        ``cluster_size, clusters, records``.
    clustering
        Counts: records, distinct identities, must-link groups, components checked by the
        chaining guard, merges it refused, pairs rescored, pairs scored and candidates.
    artefacts
        Paths written under ``artefact_dir`` (model JSON and charts), by name.
    timings
        Seconds per stage.
    training_notes
        What could not be estimated from these records and what was done instead.
    blocking
        The blocking rules used and the model's estimate of the share of matching pairs
        they compare (:class:`safeguard.linkage.blocking.BlockingPlan`); ``None`` with fewer than
        two identities (nothing to compare).
    """

    links: pd.DataFrame
    match_weight_histogram: pd.DataFrame
    model_settings: dict[str, Any]
    threshold_match_probability: float
    threshold_justification: str
    cluster_size_distribution: pd.DataFrame
    clustering: dict[str, int]
    artefacts: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    training_notes: tuple[str, ...] = ()
    blocking: BlockingPlan | None = None


@dataclass
class _Scoring:
    """The Splink side of a run: model, scored pairs, and scoring of extra pairs."""

    model_table: pd.DataFrame
    edges: pd.DataFrame
    summary: PredictionSummary | None
    seconds: tuple[float, float]
    trained: bool = False
    linker: Linker | None = None
    db_api: Any = None
    records_sdf: SplinkDataFrame | None = None
    notes: list[str] = field(default_factory=list)
    people: pa.Table | None = None
    blocking: BlockingPlan | None = None
    estimates: pd.DataFrame | None = None  # every training session's m and u (for a chart)

    @classmethod
    def run(cls, model_table: pd.DataFrame, config: LinkageConfig, *, summarise: bool) -> _Scoring:
        """Train (or load the shipped model for small tables), then score blocked pairs.

        With ``summarise``, every scored pair is kept in the database long enough for the
        histogram and threshold statistics; otherwise only candidate links are written.
        """
        threshold = config.threshold_match_probability
        if len(model_table) < 2:  # no pair to score
            summary = summarise_predictions(None, threshold) if summarise else None
            return cls(model_table, predictions_to_edges(None), summary, (0.0, 0.0))
        start = time.perf_counter()
        db_api = config.backend.create_db_api()
        records_sdf = db_api.register(
            pa.Table.from_pandas(model_table[list(MODEL_COLUMNS)], preserve_index=False),
            table_name="linkage_records",
        )
        notes: list[str] = []
        estimates: list[pd.DataFrame] = []
        trained = len(model_table) >= config.min_identities_to_train
        if trained:
            coverage = {
                c: float(model_table[c].notna().mean())
                for c in (*OPTIONAL_COMPARISONS, "postcode_district")
            }
            settings = build_settings(coverage, config)
            linker, notes = train_linker(
                records_sdf, settings, config, model_table, estimates=estimates
            )
            if em_failed(notes):
                trained = False
                notes.append("no EM session succeeded: the shipped model was used instead")
            else:
                comparisons = trained_comparisons(linker, settings)
        if not trained:
            linker = untrained_linker(records_sdf, config)
            comparisons = default_model(config, "duckdb")["comparisons"]
        plan = _plan_blocking(model_table, comparisons, config)
        if plan.added:
            linker = with_rules(linker, records_sdf, plan.rules)
            notes.append(
                f"blocking: the configured rules were expected to compare "
                f"{plan.configured_coverage:.3f} of matching pairs (target "
                f"{plan.target}); added {len(plan.added)} rule(s), expected coverage now "
                f"{plan.expected_coverage:.3f}"
            )
        if plan.below_target:
            notes.append(
                f"blocking: expected coverage {plan.expected_coverage:.3f} is below the target "
                f"{plan.target} within the comparison budget ({plan.budget:,} pairs)"
            )
        trained_at = time.perf_counter()
        if summarise:
            predictions = linker.inference.predict(warning_mode="never")
            summary = summarise_predictions(predictions, threshold)
        else:
            predictions = linker.inference.predict(
                threshold_match_probability=threshold, warning_mode="never"
            )
            summary = None
        # Only candidate links leave the database; clustering scores what else it needs.
        edges = predictions_to_edges(predictions, threshold)
        predictions.drop_table_from_database_and_remove_from_cache()
        seconds = (trained_at - start, time.perf_counter() - trained_at)
        return cls(
            model_table,
            edges,
            summary,
            seconds,
            trained,
            linker,
            db_api,
            records_sdf,
            notes,
            blocking=plan,
            estimates=estimates[0] if estimates and trained else None,
        )

    def cannot_link(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Cannot-link flags (:mod:`safeguard.linkage.constraints`) for pairs of identities."""
        if self.people is None:
            self.people = constraint_table(self.model_table)
        return cannot_link(self.people, left, right)

    def score_missing(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """Score pairs that blocking did not compare."""
        if self.linker is None:
            raise RuntimeError("no model to score pairs with: fewer than two identities")
        return score_pairs(self.linker, self.db_api, pairs)


def _plan_blocking(
    model_table: pd.DataFrame, comparisons: list[dict[str, Any]], config: LinkageConfig
) -> BlockingPlan:
    """The configured rules, loosened until the model expects them to reach the target."""
    nulls = null_shares(model_table, comparisons, seed=config.seed)
    return plan_blocking(
        model_table,
        config.blocking_rules,
        comparison_distributions(comparisons, nulls),
        target=config.blocking_coverage_target,
        budget=int(config.comparisons_per_identity * len(model_table)),
    )


@dataclass(frozen=True)
class _Run:
    links: pd.DataFrame
    prepared: PreparedRecords
    scoring: _Scoring
    outcome: ClusteringOutcome
    timings: dict[str, float]


def _run(
    records: pd.DataFrame, config: LinkageConfig, keys: KeyFunction, *, summarise: bool
) -> _Run:
    validate_records(records)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    prepared = prepare_records(records, config)
    timings["standardise"] = time.perf_counter() - start
    scoring = _Scoring.run(prepared.model_table, config, summarise=summarise)
    timings["train"], timings["predict"] = scoring.seconds
    start = time.perf_counter()
    outcome = cluster_records(
        len(prepared.model_table),
        scoring.edges,
        prepared.groups,
        threshold=config.threshold_match_probability,
        cohesion=config.cluster_cohesion,
        score_missing=scoring.score_missing,
        constraint=scoring.cannot_link,
        multiplicity=np.bincount(prepared.rep_of_record, minlength=len(prepared.model_table)),
        tie_break=scoring.trained,  # the shipped model's weights are not this data's
    )
    links = links_frame(records, prepared, outcome, keys)
    timings["cluster"] = time.perf_counter() - start
    return _Run(links, prepared, scoring, outcome, timings)


def _write_artefacts(scoring: _Scoring, artefact_dir: Path) -> dict[str, Path]:
    if scoring.linker is None or scoring.records_sdf is None or scoring.summary is None:
        return {}  # fewer than two identities: no model, nothing to chart
    return write_artefacts(
        scoring.linker,
        scoring.db_api,
        scoring.records_sdf,
        scoring.summary.example_pairs,
        artefact_dir,
    )


def link_with_details(
    records: pd.DataFrame,
    *,
    keys: KeyFunction,
    config: LinkageConfig | None = None,
    artefact_dir: Path | None = None,
) -> LinkageResult:
    """Link records into people and report how (model, threshold, clusters, charts).

    Parameters
    ----------
    records
        ``source, record_key, first_name, last_name, dob, address_line, postcode`` and
        optionally ``sex, upn, nhs_number, agency_id``. Identity values may be missing or
        malformed; ``dob`` may be a datetime or a string in any common format.
    keys
        Makes the opaque ``person_key`` from the cluster's smallest record (see
        :mod:`safeguard.linkage.keys`); use :func:`safeguard.linkage.keyed` with a secret kept apart from the
        output. There is deliberately no unkeyed default: a bare hash of agency record keys
        is reversed by guessing their numbering.
    config
        Linkage settings; :class:`LinkageConfig` defaults when ``None``.
    artefact_dir
        If given, the trained model JSON and the match-weights and waterfall charts (HTML,
        no personal data) are written there.

    Returns
    -------
    LinkageResult
    """
    config = config or LinkageConfig()
    run = _run(records, config, keys, summarise=True)
    scoring, prepared, outcome, links = run.scoring, run.prepared, run.outcome, run.links
    summary = scoring.summary
    if summary is None:  # pragma: no cover - summarise=True always summarises
        raise RuntimeError("prediction summary missing")
    start = time.perf_counter()
    model_settings: dict[str, Any] = {}
    if scoring.linker is not None:
        model_settings = scoring.linker.misc.save_model_to_json()
    artefacts = _write_artefacts(scoring, artefact_dir) if artefact_dir is not None else {}
    run.timings["artefacts"] = time.perf_counter() - start
    sizes = links.groupby("person_key").size().value_counts().sort_index()
    distribution = pd.DataFrame(
        {"cluster_size": sizes.index.astype("int64"), "clusters": sizes.to_numpy()}
    )
    distribution["records"] = distribution["cluster_size"] * distribution["clusters"]
    if artefact_dir is not None:  # static charts that work offline (Splink's load a CDN)
        artefacts.update(
            draw_linkage_charts(
                artefact_dir,
                model=model_settings,
                histogram=summary.histogram,
                threshold=config.threshold_match_probability,
                distribution=distribution,
                linker=scoring.linker,
                estimates=scoring.estimates,
            )
        )
    group_sizes = np.bincount(prepared.record_groups, minlength=1)
    return LinkageResult(
        links=links,
        match_weight_histogram=summary.histogram,
        model_settings=model_settings,
        threshold_match_probability=config.threshold_match_probability,
        threshold_justification=threshold_justification(
            summary, config.threshold_match_probability
        ),
        cluster_size_distribution=distribution,
        clustering={
            "records": len(prepared.table),
            "distinct_identities": len(prepared.model_table),
            "model_trained": int(scoring.trained),
            "must_link_groups": int((group_sizes > 1).sum()),
            "records_in_must_link_groups": int((group_sizes[prepared.record_groups] > 1).sum()),
            "components_checked": outcome.components_checked,
            "merges_refused": outcome.merges_refused,
            "pairs_rescored": outcome.pairs_rescored,
            "scored_pairs": summary.scored_pairs,
            "candidate_pairs": summary.candidate_pairs,
        },
        artefacts=artefacts,
        timings=run.timings,
        training_notes=tuple(scoring.notes),
        blocking=scoring.blocking,
    )


def link(
    records: pd.DataFrame,
    *,
    keys: KeyFunction,
    config: LinkageConfig | None = None,
    artefact_dir: Path | None = None,
) -> pd.DataFrame:
    """Link records into people: one output row per input row.

    Returns ``source, record_key, person_key, cluster_size, linkage_confidence`` in the
    input's row order. ``person_key`` is ``keys("person", ...)`` of the cluster's smallest
    ``(source, record_key)``, so rerunning on the same records with the same secret gives
    the same keys.
    Unlike :func:`link_with_details` it keeps only candidate links in the database (no
    histogram of all scored pairs), unless ``artefact_dir`` asks for the charts. See
    :func:`link_with_details` for parameters.
    """
    config = config or LinkageConfig()
    run = _run(records, config, keys, summarise=artefact_dir is not None)
    if artefact_dir is not None:
        _write_artefacts(run.scoring, artefact_dir)
    return run.links
