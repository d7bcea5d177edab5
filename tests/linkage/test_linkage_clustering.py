"""The chaining guard: average linkage with complete evidence, and must-link groups."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from safeguard.linkage.clustering import cluster_records
from safeguard.linkage.constraints import cannot_link
from safeguard.linkage.deterministic import collapse_identical, must_link_groups, trusted_codes
from safeguard.linkage.standardise import standardise_records


def _edges(pairs: list[tuple[int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["unique_id_l", "unique_id_r", "match_probability"])


def _two_people_and_a_bridge(cross_scored: bool) -> tuple[int, pd.DataFrame]:
    """Records 0-5 are one person, 6-11 another; record 12 links strongly to both."""
    a, b, bridge = range(6), range(6, 12), 12
    pairs = [(i, j, 0.9999) for i, j in itertools.combinations(a, 2)]
    pairs += [(i, j, 0.9999) for i, j in itertools.combinations(b, 2)]
    pairs += [(i, bridge, 0.999) for i in a] + [(i, bridge, 0.995) for i in b]
    if cross_scored:
        pairs += [(i, j, 0.0001) for i in a for j in b]
    return 13, _edges(pairs)


def test_plain_connected_components_would_chain() -> None:
    n, edges = _two_people_and_a_bridge(cross_scored=True)
    out = cluster_records(n, edges, np.arange(n), threshold=0.99, cohesion=0.0)
    assert len(set(out.labels)) == 1  # cohesion 0 is single linkage: everything merges


def test_a_bridge_record_does_not_merge_two_people() -> None:
    n, edges = _two_people_and_a_bridge(cross_scored=True)
    out = cluster_records(n, edges, np.arange(n), threshold=0.99, cohesion=0.5)
    labels = out.labels
    assert len(set(labels[:6])) == 1 and len(set(labels[6:12])) == 1
    assert labels[0] != labels[6]
    assert labels[12] == labels[0]  # the bridge joins the side it matches best
    assert out.merges_refused >= 1


def test_unblocked_pairs_are_scored_before_judging_a_merge() -> None:
    n, edges = _two_people_and_a_bridge(cross_scored=False)
    asked: list[pd.DataFrame] = []

    def score_missing(pairs: pd.DataFrame) -> pd.DataFrame:
        asked.append(pairs)
        return pairs.assign(match_probability=0.0001)

    blind = cluster_records(n, edges, np.arange(n), threshold=0.99, cohesion=0.5)
    assert len(set(blind.labels)) == 1  # without the missing pairs nothing speaks against it
    informed = cluster_records(
        n, edges, np.arange(n), threshold=0.99, cohesion=0.5, score_missing=score_missing
    )
    assert informed.labels[0] != informed.labels[6]
    assert len(asked[0]) == 36 and informed.pairs_rescored == 36
    assert (asked[0]["unique_id_l"] < asked[0]["unique_id_r"]).all()


def test_unanimous_components_are_accepted_without_rescoring() -> None:
    edges = _edges([(0, 1, 0.999), (0, 2, 0.995), (1, 2, 0.999), (3, 4, 0.2)])

    def never(pairs: pd.DataFrame) -> pd.DataFrame:
        raise AssertionError("nothing needed rescoring")

    out = cluster_records(5, edges, np.arange(5), threshold=0.99, cohesion=0.5, score_missing=never)
    assert out.labels[0] == out.labels[1] == out.labels[2]
    assert len({out.labels[0], out.labels[3], out.labels[4]}) == 3
    assert out.components_checked == 0
    assert np.isclose(out.confidence[0], (0.999 + 0.995 + 0.999) / 3)
    assert out.confidence[3] == 1.0


def test_must_link_groups_join_records_sharing_any_identifier() -> None:
    upn = np.array([0, 0, -1, 1, -1])
    nhs = np.array([-1, 2, 2, -1, -1])
    groups = must_link_groups(5, [upn, nhs])
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[0], groups[3], groups[4]}) == 3


def test_must_link_group_is_one_cluster_even_without_scored_pairs() -> None:
    groups = must_link_groups(4, [np.array([5, 5, 5, -1])])
    out = cluster_records(4, _edges([]), groups, threshold=0.99, cohesion=0.5)
    assert out.labels[0] == out.labels[1] == out.labels[2] != out.labels[3]


def _people(rows: list[tuple[str | None, str | None, str | None]]) -> pd.DataFrame:
    records = pd.DataFrame(
        {
            "source": "s",
            "record_key": [str(i) for i in range(len(rows))],
            "first_name": [r[0] for r in rows],
            "last_name": "Smith",
            "dob": [r[1] for r in rows],
            "address_line": "1 High Street",
            "postcode": "NB1 2AB",
            "upn": [r[2] for r in rows],
        }
    )
    table = standardise_records(records, ("upn",))
    return table.assign(unique_id=np.arange(len(table)))


def test_identical_identities_collapse_to_the_first_record() -> None:
    table = _people(
        [("Amy", "2015-03-04", None), ("AMY", "04/03/2015", None), ("Amy", "2015-03-05", None)]
    )
    assert collapse_identical(table).tolist() == [0, 0, 2]


def test_a_shared_upn_is_not_trusted_when_the_dob_contradicts_it() -> None:
    upn = "N801200001234"
    table = _people(
        [
            ("Amy", "2015-03-04", upn),
            ("Amy", "2015-04-03", upn),
            ("Amy", "2015-03-04", upn),
            ("Ben", "2011-01-09", upn),
        ]
    )
    codes = trusted_codes(table, "upn")
    assert codes[0] == codes[1] == codes[2] >= 0  # the swapped day/month still agrees
    assert codes[3] == -1  # a different child typed with Amy's UPN


def test_cannot_link_fires_on_clear_disagreement_only() -> None:
    table = _people(
        [
            ("Florian", "2016-02-09", None),
            ("Lucian", "2016-02-09", None),  # twin: different given name
            ("Florian", "2016-09-02", None),  # swapped day and month
            ("Florian", "2019-07-21", None),  # three years later: a sibling
            ("Florain", None, None),  # typo, no dob
            ("Bill", "2016-02-01", None),
            ("William", "2016-01-01", None),  # nickname, 1 January default
        ]
    )
    left = np.array([0, 0, 0, 0, 5])
    right = np.array([1, 2, 3, 4, 6])
    assert cannot_link(table, left, right).tolist() == [True, False, True, False, False]


def test_no_merge_across_a_cannot_link_pair_even_through_a_bridge() -> None:
    # twins 0 and 1 (cannot-link), record 2 has no given name and matches both strongly
    edges = _edges([(0, 2, 0.9999), (1, 2, 0.999), (0, 1, 0.97)]).assign(
        cannot_link=[False, False, True]
    )
    out = cluster_records(3, edges, np.arange(3), threshold=0.99, cohesion=0.5)
    assert out.labels[0] != out.labels[1]
    assert out.labels[2] == out.labels[0]


def _always(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.ones(len(left), dtype=bool)


def test_a_lone_pair_that_disagrees_is_decided_by_its_probability() -> None:
    # one record each, no other partner: a corrupted field, not two relatives
    edges = _edges([(0, 1, 0.999)])
    out = cluster_records(2, edges, np.arange(2), threshold=0.99, cohesion=0.5, constraint=_always)
    assert out.labels[0] == out.labels[1]
    strict = cluster_records(
        2, edges, np.arange(2), threshold=0.99, cohesion=0.5, constraint=_always, tie_break=False
    )
    assert strict.labels[0] != strict.labels[1]  # the shipped model's scores: a veto


def test_cannot_link_breaks_the_tie_when_a_record_has_a_competing_partner() -> None:
    edges = _edges([(0, 1, 0.999)])
    # record 0 stands for two identical records (a twin seen twice): the veto applies
    twice = cluster_records(
        2, edges, np.arange(2), threshold=0.99, cohesion=0.5, constraint=_always,
        multiplicity=np.array([2, 1]),
    )  # fmt: skip
    assert twice.labels[0] != twice.labels[1]

    # record 0 also links to record 2, which agrees with it: 1 competes and is refused
    def only_0_1(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return (left == 0) & (right == 1)

    three = _edges([(0, 1, 0.999), (0, 2, 0.9995), (1, 2, 0.2)])
    out = cluster_records(3, three, np.arange(3), threshold=0.99, cohesion=0.5, constraint=only_0_1)
    assert out.labels[0] == out.labels[2] != out.labels[1]
