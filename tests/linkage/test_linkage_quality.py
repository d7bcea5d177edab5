"""Accuracy against ground truth and plausibility findings, checked by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from safeguard.linkage.quality import evaluate_links, plausibility_findings


def _links(person_keys: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": "s",
            "record_key": [f"r{i}" for i in range(len(person_keys))],
            "person_key": person_keys,
        }
    )


def test_scores_match_a_hand_count() -> None:
    # truth: {r0,r1,r2} person A, {r3,r4} person B, {r5} person C
    # links: {r0,r1} P1, {r2,r3,r4} P2, {r5} P3
    links = _links(["P1", "P1", "P2", "P2", "P2", "P3"])
    truth = links[["source", "record_key"]].assign(true_person_id=["A", "A", "A", "B", "B", "C"])
    scores = evaluate_links(links, truth)
    # true pairs: A 3 + B 1 = 4; predicted pairs: P1 1 + P2 3 = 4; correct: (r0,r1), (r3,r4) = 2
    assert (scores.true_pairs, scores.predicted_pairs, scores.true_positive_pairs) == (4, 4, 2)
    assert scores.pairwise_precision == pytest.approx(0.5)
    assert scores.pairwise_recall == pytest.approx(0.5)
    assert scores.pairwise_f1 == pytest.approx(0.5)
    # exact clusters: only P3 == C
    assert scores.cluster_precision == pytest.approx(1 / 3)
    assert scores.cluster_recall == pytest.approx(1 / 3)


def test_perfect_linkage_scores_one_and_missing_truth_is_an_error() -> None:
    links = _links(["P1", "P1", "P2"])
    truth = links[["source", "record_key"]].assign(true_person_id=["A", "A", "B"])
    scores = evaluate_links(links, truth)
    assert scores.pairwise_precision == scores.pairwise_recall == scores.cluster_recall == 1.0
    with pytest.raises(ValueError, match="no row in truth"):
        evaluate_links(links, truth.head(2))


def test_scores_count_pairs_without_listing_them() -> None:
    n = 200_000  # one giant true person split in two predicted halves
    links = _links(["P1"] * (n // 2) + ["P2"] * (n // 2))
    truth = links[["source", "record_key"]].assign(true_person_id="A")
    scores = evaluate_links(links, truth)
    assert scores.true_pairs == n * (n - 1) // 2
    assert scores.pairwise_precision == 1.0
    assert scores.pairwise_recall == pytest.approx(2 * (n // 2) * (n // 2 - 1) / (n * (n - 1)))


def _findings(links: pd.DataFrame, dobs: list[str | None]) -> dict[str, object]:
    identities = links[["source", "record_key"]].assign(dob=dobs)
    found = plausibility_findings(
        links, identities, max_cluster_records=5, as_of=dt.date(2026, 11, 1)
    )
    return {f.check: f for f in found}


def test_plausibility_fires_on_a_planted_giant_cluster_and_a_child_with_two_births() -> None:
    keys = ["G"] * 7 + ["C", "C", "C"] + ["OK", "OK"]
    dobs = [f"19{60 + i}-01-01" for i in range(7)] + ["2015-03-04", "2015-04-03", "2012-06-01"]
    dobs += ["1980-05-05", "1980-05-05"]
    found = _findings(_links(keys), dobs)
    assert found["giant_cluster"].clusters == 1 and found["giant_cluster"].records == 7
    assert found["child_dob_spread"].clusters == 1  # 2015 vs 2012 is not a day/month swap
    assert found["dob_spread"].clusters == 2
    assert found["giant_cluster"].share == pytest.approx(1 / 3)
    assert not found["many_dobs"].fired


def test_plausibility_is_quiet_on_clean_clusters_with_swapped_days() -> None:
    keys = ["A", "A", "B", "B"]
    dobs = ["2015-03-04", "04/03/2015", "2015-03-04", "2015-04-03"]  # one swap, ignored
    found = _findings(_links(keys), dobs)
    assert not any(f.fired for f in found.values())
