"""Record linkage for the pipeline, outside the asset body: identities in, links published.

Reads the vault's identity tables (every agency's and the objections register's), links the
records known at the run's as-of date with :mod:`linkage`, and publishes the vault's person
keys, the pseudonymous ``record_links``, the ``linkage_quality`` figures and the linkage files
in one staged write.

Point in time: an agency record dated after the as-of date (its source's contract
``event_date``) did not exist then, so it is not linked: a UPN first recorded later, or a
later record bridging two people, cannot join clusters at an earlier date. It stays in the
vault's ``identity_vault`` with no person key and ``linked`` false (every record is accounted
for), and the vault says which as-of date the linkage stood at (``linkage_as_of``), so subject
access refuses to answer from a linkage that left records out
(:mod:`safeguard.governance.matching`). The objections register is always linked, whatever
an objection's date: an objection protects the person from the day the run is made, and an
objector must never be scored because a backtest stood before their objection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from safeguard import linkage
from safeguard.contracts.landing import event_date_column
from safeguard.contracts.tables import AGENCY_SOURCES, OBJECTIONS_SOURCE
from safeguard.features.point_in_time import known_at
from safeguard.linkage import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    PlausibilityFinding,
    evaluate_links,
    plausibility_findings,
)

if TYPE_CHECKING:
    from safeguard.pipelines.resources import Warehouse

# Everything the library can use; the vault also holds agency_id (same agency's own person id).
LINKAGE_INPUT = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]

# Share of clusters each plausibility check may flag before the gate blocks. Giant clusters and
# people with many dates of birth are never plausible; a child's dates of birth a year apart can
# be a genuine recording error in one agency, so a small share is tolerated.
PLAUSIBILITY_TOLERANCE = {"child_dob_spread": 0.005, "dob_spread": 0.005}


def load_identities(warehouse: Warehouse) -> pd.DataFrame:
    """Union of the vault's identity tables in linkage's input shape, objections included.

    The objections register is linked in the same run as the agencies' records, so an
    objector's records (typo'd ones too) fall into the objector's person cluster.
    """
    frames = [warehouse.read_table(f"identity_{source}", vault=True) for source in AGENCY_SOURCES]
    objections = warehouse.read_table("identity_objections", vault=True)
    frames.append(
        pd.DataFrame(
            {
                "source": OBJECTIONS_SOURCE,
                "record_key": objections["objection_id"],
                "record_pseudo": objections["objection_pseudo"],
                "first_name": objections["first_name"],
                "last_name": objections["last_name"],
                "dob": objections["dob"],
                "postcode": objections["postcode"],
            }
        )
    )
    identities = pd.concat(frames, ignore_index=True)
    for column in LINKAGE_INPUT:
        if column not in identities:
            identities[column] = pd.NA
    return identities


def record_dates(warehouse: Warehouse) -> pd.DataFrame:
    """``source, record_pseudo, record_date`` of every agency record (the contract's event date).

    Read from the pseudonymised ``<source>_records`` (the vault holds no dates but births); a
    record with several rows keeps its latest date (it is known only once all of it is).
    """
    frames = []
    for source in AGENCY_SOURCES:
        column = event_date_column(source)
        table = warehouse.read_table(f"{source}_records", columns=["record_pseudo", column])
        frames.append(
            pd.DataFrame(
                {
                    "source": source,
                    "record_pseudo": table["record_pseudo"].astype("string"),
                    "record_date": pd.to_datetime(table[column], errors="coerce"),
                }
            )
        )
    dates = pd.concat(frames, ignore_index=True)
    return dates.groupby(["source", "record_pseudo"], as_index=False)["record_date"].max()


def linkable(
    identities: pd.DataFrame, dates: pd.DataFrame, as_of: date, extract: date
) -> pd.Series:
    """Which identities the linkage at ``as_of`` may use (boolean, aligned with ``identities``).

    Agency records dated on or before ``as_of`` (every record at the extract date); the
    objections register always (see the module docstring).
    """
    dated = (
        identities[["source", "record_pseudo"]]
        .astype({"source": "string", "record_pseudo": "string"})
        .merge(dates, on=["source", "record_pseudo"], how="left", validate="many_to_one")
    )
    known = known_at(dated["record_date"], as_of, extract).to_numpy(dtype=bool)
    objection = (identities["source"] == OBJECTIONS_SOURCE).to_numpy(dtype=bool)
    return pd.Series(known | objection, index=identities.index, dtype=bool)


def quality_metrics(result: linkage.LinkageResult) -> dict[str, float]:
    """Aggregate figures for the linkage_quality table (no identifiers)."""
    sizes = result.cluster_size_distribution
    hist = result.match_weight_histogram
    metrics = {
        "records": float(len(result.links)),
        "people": float(result.links["person_key"].nunique()),
        "threshold_match_probability": float(result.threshold_match_probability),
        "largest_cluster": float(sizes["cluster_size"].max()) if len(sizes) else 0.0,
        "singleton_share": float(
            sizes.loc[sizes["cluster_size"] == 1, "records"].sum() / max(sizes["records"].sum(), 1)
        ),
        "candidate_pairs_scored": float(hist["pairs"].sum()) if len(hist) else 0.0,
        "mean_linkage_confidence": float(result.links["linkage_confidence"].mean()),
    }
    metrics.update({f"clustering_{k}": float(v) for k, v in result.clustering.items()})
    plan = result.blocking
    if plan is not None:  # the model's own estimate of the matches blocking can ever compare
        metrics.update(
            {
                "blocking_expected_coverage": plan.expected_coverage,
                "blocking_configured_rules_coverage": plan.configured_coverage,
                "blocking_coverage_target": plan.target,
                "blocking_rules_added": float(len(plan.added)),
                "blocking_comparisons": float(plan.comparisons),
                "blocking_comparison_budget": float(plan.budget),
            }
        )
    return metrics


@dataclass(frozen=True)
class Linked:
    """What one linkage published (the frames stay for the checks and the metadata)."""

    result: linkage.LinkageResult
    identities: pd.DataFrame
    vault: pd.DataFrame
    record_links: pd.DataFrame
    quality: dict[str, float]


def link_and_publish(
    warehouse: Warehouse, truth_dir: str | None, *, as_of: date, extract: date
) -> Linked:
    """Link the identities known at ``as_of``; publish vault, links, quality and files together.

    Every identity goes to the vault's ``identity_vault``; those dated after ``as_of`` with no
    person key, ``linked`` false. ``linkage_as_of`` records the date on every row.
    """
    everyone = load_identities(warehouse)
    everyone["linked"] = linkable(everyone, record_dates(warehouse), as_of, extract)
    everyone["linkage_as_of"] = pd.Timestamp(as_of)
    identities = everyone[everyone["linked"]].reset_index(drop=True)
    # One staged commit: the vault's person keys, the warehouse links and the linkage files
    # change together or not at all (warehouse/storage.py).
    with warehouse.stage("link_records") as stage:
        artefacts = stage.artefact_dir("linkage")
        result = linkage.link_with_details(
            identities[LINKAGE_INPUT],
            keys=warehouse.pseudonymiser().key_function(),  # keyed: never a bare hash of record keys
            artefact_dir=artefacts,
        )
        links = result.links
        vault = everyone.drop(columns=["linked", "linkage_as_of"]).merge(
            links[["source", "record_key", "person_key"]], on=["source", "record_key"], how="left"
        )
        vault["linked"] = everyone["linked"].to_numpy()
        vault["linkage_as_of"] = everyone["linkage_as_of"].to_numpy()
        stage.write_table("identity_vault", vault, vault=True)
        record_links = links.merge(
            identities[["source", "record_key", "record_pseudo"]], on=["source", "record_key"]
        )
        record_links = record_links[
            ["source", "record_pseudo", "person_key", "cluster_size", "linkage_confidence"]
        ]
        stage.write_table("record_links", record_links)
        quality = quality_metrics(result)
        quality["records_after_as_of"] = float((~everyone["linked"]).sum())
        if truth_dir:
            truth = pd.read_csv(Path(truth_dir) / "records.csv", dtype=str)
            truth = truth.drop_duplicates(["source", "record_key"], keep="last")
            scores = evaluate_links(links, truth)
            quality.update({f"truth_{k}": v for k, v in scores.as_dict().items()})
        quality_table = pd.DataFrame(
            {"metric": list(quality), "value": [float(v) for v in quality.values()]}
        )
        stage.write_table("linkage_quality", quality_table)
        (artefacts / "linkage_quality.json").write_text(json.dumps(quality, indent=2))
    return Linked(result, identities, vault, record_links, quality)


def implausible_clusters(
    linked: Linked, *, as_of: date
) -> tuple[list[PlausibilityFinding], list[PlausibilityFinding]]:
    """Every plausibility finding, and those beyond their tolerance (the gate's failures)."""
    # Judge clusters by the distinct identities they join, not by event rows: a pupil has a
    # record per term and a claimant one per payment, all carrying the same identity.
    columns = ["source", "record_key", "agency_id", "first_name", "last_name", "dob"]
    profiles = linked.result.links[["source", "record_key", "person_key"]].merge(
        linked.identities[columns], on=["source", "record_key"]
    )
    profiles = profiles.drop_duplicates(
        ["person_key", "source", "agency_id", "first_name", "last_name", "dob"]
    )
    findings = plausibility_findings(profiles, profiles, as_of=as_of)
    failing = [f for f in findings if f.share > PLAUSIBILITY_TOLERANCE.get(f.check, 0.0)]
    return findings, failing
