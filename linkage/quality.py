"""Linkage quality: accuracy against ground truth, and plausibility checks without it.

Pairwise metrics are computed from group sizes (a cluster of n records holds n(n-1)/2 pairs),
never by listing pairs, so 400k records score in well under a second. Results are counts and
rates only: no identity leaves this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "LinkageScores",
    "PlausibilityFinding",
    "evaluate_families",
    "evaluate_links",
    "plausibility_findings",
]


@dataclass(frozen=True)
class LinkageScores:
    """Accuracy of a linkage against ground truth.

    Attributes
    ----------
    pairwise_precision, pairwise_recall, pairwise_f1
        Over record pairs: a predicted pair is two records with the same ``person_key``; a
        true pair is two records of the same true person.
    cluster_precision
        Share of predicted people whose records are exactly one true person's records.
    cluster_recall
        Share of true people recovered exactly (all their records, nothing else).
    records, true_pairs, predicted_pairs, true_positive_pairs, predicted_clusters, true_clusters
        The counts behind the rates.
    """

    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    cluster_precision: float
    cluster_recall: float
    records: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    predicted_clusters: int
    true_clusters: int

    def as_dict(self) -> dict[str, float]:
        """Metric name -> value, for a ``linkage_quality`` table."""
        return {k: float(v) for k, v in self.__dict__.items()}


def _pairs(sizes: pd.Series | np.ndarray) -> int:
    s = np.asarray(sizes, dtype=np.int64)
    return int((s * (s - 1) // 2).sum())


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


def evaluate_links(links: pd.DataFrame, truth: pd.DataFrame) -> LinkageScores:
    """Score ``links`` (``source, record_key, person_key``) against ``truth``.

    Parameters
    ----------
    links
        Output of :func:`safeguard.linkage.link`.
    truth
        ``source, record_key, true_person_id`` for every linked record.

    Raises
    ------
    ValueError
        When a linked record has no ground truth (the scores would silently shrink).
    """
    left = links[["source", "record_key", "person_key"]].astype("string")
    right = truth[["source", "record_key", "true_person_id"]].astype("string")
    joined = left.merge(right, on=["source", "record_key"], how="left", validate="one_to_one")
    unmatched = int(joined["true_person_id"].isna().sum())
    if unmatched:
        raise ValueError(
            f"{unmatched} linked record(s) have no row in truth (matched on source, record_key); "
            "pass the ground truth for every record that was linked"
        )
    predicted_sizes = joined.groupby("person_key").size()
    true_sizes = joined.groupby("true_person_id").size()
    overlap = joined.groupby(["person_key", "true_person_id"]).size().rename("n").reset_index()
    true_positive = _pairs(overlap["n"])
    predicted_pairs, true_pairs = _pairs(predicted_sizes), _pairs(true_sizes)
    precision = _ratio(true_positive, predicted_pairs)
    recall = _ratio(true_positive, true_pairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = (overlap["n"].to_numpy() == predicted_sizes.loc[overlap["person_key"]].to_numpy()) & (
        overlap["n"].to_numpy() == true_sizes.loc[overlap["true_person_id"]].to_numpy()
    )
    n_exact = int(exact.sum())
    return LinkageScores(
        pairwise_precision=precision,
        pairwise_recall=recall,
        pairwise_f1=f1,
        cluster_precision=_ratio(n_exact, len(predicted_sizes)),
        cluster_recall=_ratio(n_exact, len(true_sizes)),
        records=len(joined),
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        true_positive_pairs=true_positive,
        predicted_clusters=len(predicted_sizes),
        true_clusters=len(true_sizes),
    )


@dataclass(frozen=True)
class PlausibilityFinding:
    """One plausibility check over the clusters: how many clusters and records it flags.

    ``share`` is flagged clusters over all clusters, for a tolerance set by the caller.
    """

    check: str
    description: str
    limit: float
    clusters: int
    records: int
    share: float

    @property
    def fired(self) -> bool:
        """True when at least one cluster is flagged."""
        return self.clusters > 0


def _canonical_dob(dob: pd.Series) -> pd.Series:
    """A date that is the same for a date and its day/month swap (year, low, high)."""
    low = np.minimum(dob.dt.month, dob.dt.day)
    high = np.maximum(dob.dt.month, dob.dt.day)
    frame = pd.DataFrame({"year": dob.dt.year, "month": low, "day": high})
    return pd.to_datetime(frame, errors="coerce")


def plausibility_findings(
    links: pd.DataFrame,
    identities: pd.DataFrame,
    *,
    max_cluster_records: int = 150,
    max_distinct_dobs: int = 8,
    max_dob_spread_days: int = 366,
    as_of: dt.date | None = None,
) -> list[PlausibilityFinding]:
    """Flag implausible people: evidence of wrong links when there is no ground truth.

    Parameters
    ----------
    links
        ``source, record_key, person_key``.
    identities
        ``source, record_key, dob`` (dates or strings; unparseable dates are ignored).
    max_cluster_records
        A person with more records than this is a "giant cluster" (chaining). Termly school
        records make 30 to 60 records normal for a child; the largest true person of the
        20k synthetic estate has 114, hence 150.
    max_distinct_dobs
        A person with more distinct dates of birth than this is implausible.
    max_dob_spread_days
        A child whose dates of birth (ignoring day/month swaps) span more than this was
        probably merged with a sibling or a parent.
    as_of
        Date at which "child" (under 18) is judged; today when ``None``.

    Returns
    -------
    list of PlausibilityFinding
        One per check, fired or not, with counts only.
    """
    as_of = as_of or dt.date.today()
    frame = (
        links[["source", "record_key", "person_key"]]
        .astype("string")
        .merge(
            identities[["source", "record_key", "dob"]].astype(
                {"source": "string", "record_key": "string"}
            ),
            on=["source", "record_key"],
            how="left",
        )
    )
    dob = frame["dob"]
    if not pd.api.types.is_datetime64_any_dtype(dob):
        dob = pd.to_datetime(dob.astype("string"), errors="coerce", format="mixed", dayfirst=True)
    frame["dob"] = dob
    frame["canonical"] = _canonical_dob(dob)
    per = frame.groupby("person_key").agg(
        records=("record_key", "size"),
        distinct_dobs=("dob", "nunique"),
        low=("canonical", "min"),
        high=("canonical", "max"),
        youngest=("dob", "max"),
    )
    spread = (per["high"] - per["low"]).dt.days
    is_child = per["youngest"] > pd.Timestamp(as_of) - pd.DateOffset(years=18)
    checks = [
        ("giant_cluster", f"people with more than {max_cluster_records} records",
         max_cluster_records, per["records"] > max_cluster_records),
        ("many_dobs", f"people with more than {max_distinct_dobs} distinct dates of birth",
         max_distinct_dobs, per["distinct_dobs"] > max_distinct_dobs),
        ("child_dob_spread",
         f"children whose dates of birth span more than {max_dob_spread_days} days "
         "(ignoring day/month swaps)", max_dob_spread_days,
         is_child & (spread > max_dob_spread_days)),
        ("dob_spread",
         f"anyone whose dates of birth span more than {max_dob_spread_days} days "
         "(ignoring day/month swaps)", max_dob_spread_days, spread > max_dob_spread_days),
    ]  # fmt: skip
    total = max(len(per), 1)
    return [
        PlausibilityFinding(
            check=name,
            description=description,
            limit=float(limit),
            clusters=int(mask.sum()),
            records=int(per.loc[mask, "records"].sum()),
            share=float(mask.sum()) / total,
        )
        for name, description, limit, mask in checks
    ]


def evaluate_families(
    families: pd.DataFrame,
    links: pd.DataFrame,
    records_truth: pd.DataFrame,
    memberships: pd.DataFrame,
    people_truth: pd.DataFrame,
    as_of: dt.date,
) -> dict[str, float]:
    """How many true families with children are recovered as one ``family_key`` at ``as_of``.

    A true family is the people whose membership spans ``as_of`` (``memberships``:
    ``true_person_id, true_family_id, valid_from, valid_to``) and that has a child (under
    18 by ``people_truth.dob``). Only members with at least one record can be found; a family
    counts when it has a child with records and at least two members with records. It is
    *recovered* when all those members hold the same current ``family_key``. ``purity`` is
    the share of current predicted families whose people all come from one true family.
    """
    as_of_ts = pd.Timestamp(as_of)
    spans = memberships.assign(
        valid_from=pd.to_datetime(memberships["valid_from"]),
        valid_to=pd.to_datetime(memberships["valid_to"]),
    )
    current = spans[
        (spans["valid_from"] <= as_of_ts)
        & (spans["valid_to"].isna() | (spans["valid_to"] > as_of_ts))
    ]
    dob = pd.to_datetime(people_truth.set_index("true_person_id")["dob"])
    current = current.assign(
        child=current["true_person_id"].map(dob) > as_of_ts - pd.DateOffset(years=18)
    )
    owner = (
        links[["source", "record_key", "person_key"]]
        .astype("string")
        .merge(
            records_truth[["source", "record_key", "true_person_id"]].astype("string"),
            on=["source", "record_key"],
        )
        .groupby("true_person_id")["person_key"]
        .agg(lambda s: s.mode().iloc[0])
    )
    now = (
        families[families["valid_to"].isna()]
        .drop_duplicates("person_key")
        .set_index("person_key")["family_key"]
    )
    current = current.assign(person_key=current["true_person_id"].astype("string").map(owner))
    seen = current.dropna(subset=["person_key"])
    seen = seen.assign(family_key=seen["person_key"].map(now))
    per = seen.groupby("true_family_id").agg(
        members=("person_key", "size"), children=("child", "sum"),
        keys=("family_key", "nunique"), unassigned=("family_key", lambda s: int(s.isna().sum())),
    )  # fmt: skip
    eligible = per[(per["children"] > 0) & (per["members"] >= 2)]
    recovered = (eligible["keys"] == 1) & (eligible["unassigned"] == 0)
    truth_of = seen.drop_duplicates("person_key").set_index("person_key")["true_family_id"]
    predicted = pd.DataFrame(
        {"family_key": now, "true_family_id": now.index.map(truth_of)}
    ).dropna()
    purity = predicted.groupby("family_key")["true_family_id"].nunique().eq(1).mean()
    return {
        "true_families": float(len(eligible)),
        "recovered": float(recovered.sum()),
        "recovery": float(recovered.mean()) if len(eligible) else 1.0,
        "predicted_families": float(predicted["family_key"].nunique()),
        "purity": float(purity) if len(predicted) else 1.0,
    }
