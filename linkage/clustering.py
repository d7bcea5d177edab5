"""Turn scored record pairs into people without chaining.

Splink's default clustering takes connected components of the links above a threshold. One
record that looks like two different people (a missing date of birth, a shared address)
then merges both of them: the components "chain". Here a link above the threshold is only a
*candidate* merge. Clusters are built by average linkage with full evidence:

1. Records sharing a trusted identifier (must-link groups, :mod:`safeguard.linkage.deterministic`)
   start in one cluster.
2. Candidate links (match probability >= threshold) define components. A component whose
   records all pairwise agree (every cross pair scored and above the threshold) is accepted
   as it is: the common case, done without any per-record work.
3. In any other component, every record pair that is not a candidate link is scored
   (``score_missing``), including pairs no blocking rule compared, so the evidence inside
   the component is complete: a strong mismatch between two groups is visible even when
   blocking never paired them. Only candidate links ever leave the database otherwise.
4. Candidate links are replayed strongest first; two clusters merge only if the mean match
   probability over *all* record pairs across them is at least ``cohesion`` and none of
   those pairs is cannot-link (:mod:`safeguard.linkage.constraints`: different given names or dates
   of birth, which family members share everything else with). A bridge record
   has high probability with both sides, but the many pairs between the two sides are low,
   so the mean is low and the merge is refused.

Cannot-link is a tie-breaker, not a veto. A candidate link between two records that
disagree (given names sharing nothing, dates of birth years apart) is refused only when one
of the two has a *competing* partner: another candidate link, an identical record (the same
identity recorded twice) or a record it must link with. Twins each seen twice, or a father
and son each with their own records, are then two people with their own evidence, and the
disagreement decides. A lone pair that disagrees on one field but scores above the
threshold on everything else has no competitor: a corrupted field is the likelier story,
and the model's probability decides. Without the tie-breaker (a veto) a benchmark whose
fields are all corrupted at random loses a twentieth of its true pairs; without any
constraint, a family-rich estate triples its wrong links.

Average linkage (rather than single linkage) is the standard remedy for chaining; requiring
complete evidence makes it robust when blocking only compared part of the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from safeguard.linkage.deterministic import components

__all__ = ["ClusteringOutcome", "cluster_records"]

#: Components larger than this are not rescored pair by pair (quadratic); their merges are
#: judged on the candidate links and their cannot-link flags only. Such components are rare
#: (none on the synthetic estates) and the plausibility checks report giant clusters.
MAX_RESCORE_COMPONENT = 2_000

ScoreMissing = Callable[[pd.DataFrame], pd.DataFrame]
Constraint = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ClusteringOutcome:
    """Cluster label and cohesion for every record, plus counts of what the guard did.

    Attributes
    ----------
    labels
        Cluster id per record (0..n-1 indexing of the input).
    confidence
        Mean match probability over the scored record pairs inside the record's cluster
        (1.0 for a record that is alone or linked only by a trusted identifier).
    components_checked
        Components that were not unanimous and went through average linkage.
    merges_refused
        Candidate links rejected because the clusters were not cohesive.
    pairs_rescored
        Record pairs scored in addition to those produced by blocking.
    """

    labels: np.ndarray
    confidence: np.ndarray
    components_checked: int
    merges_refused: int
    pairs_rescored: int


def _missing_pairs(
    nodes: np.ndarray, groups: np.ndarray, scored: set[tuple[int, int]]
) -> list[tuple[int, int]]:
    nodes = np.sort(nodes)
    i, j = np.triu_indices(nodes.size, k=1)
    cross = groups[nodes[i]] != groups[nodes[j]]
    return [
        (a, b)
        for a, b in zip(nodes[i][cross].tolist(), nodes[j][cross].tolist(), strict=True)
        if (a, b) not in scored
    ]


def _average_linkage(
    ga: np.ndarray,
    gb: np.ndarray,
    sum_p: np.ndarray,
    count: np.ndarray,
    vetoes: np.ndarray,
    max_p: np.ndarray,
    threshold: float,
    cohesion: float,
) -> tuple[dict[int, int], int]:
    """Greedy average linkage over groups, given one row per scored pair of groups.

    Rows are group pairs ``ga < gb`` with the sum and count of the record-pair probabilities
    between them, how many of those pairs are cannot-link, and the strongest probability.
    Components are disjoint, so one pass over all of them at once is the same as one pass
    per component. Returns group -> cluster root and the number of refused merges.
    """
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    neighbours: dict[int, dict[int, list[float]]] = {}
    rows = zip(
        ga.tolist(), gb.tolist(), sum_p.tolist(), count.tolist(), vetoes.tolist(), strict=True
    )
    for a, b, s, c, v in rows:
        shared = [s, c, v]  # one list, seen from both ends
        neighbours.setdefault(a, {})[b] = shared
        neighbours.setdefault(b, {})[a] = shared
    candidates = np.flatnonzero(max_p >= threshold)
    order = candidates[np.lexsort((gb[candidates], ga[candidates], -max_p[candidates]))]
    refused = 0
    for a0, b0 in zip(ga[order].tolist(), gb[order].tolist(), strict=True):
        a, b = find(a0), find(b0)
        if a == b:
            continue
        total, pairs, vetoed = neighbours[a][b]
        if vetoed or total / pairs < cohesion:
            refused += 1
            continue
        if len(neighbours[a]) < len(neighbours[b]):
            a, b = b, a
        parent[b] = a
        moved = neighbours.pop(b)
        mine = neighbours[a]
        mine.pop(b, None)
        for other, (s, c, v) in moved.items():
            if other == a:
                continue
            back = neighbours[other]
            del back[b]
            entry: list[float] | None = mine.get(other)
            if entry is None:
                entry = mine[other] = [0.0, 0, 0]
                back[a] = entry
            entry[0] += s
            entry[1] += c
            entry[2] += v
    return {g: find(g) for g in neighbours.keys() | parent.keys()}, refused


def _contested(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    groups: np.ndarray,
    multiplicity: np.ndarray | None,
) -> np.ndarray:
    """Per candidate link: does one of its two records have another partner?

    Partners are the record's candidate links, the identical records collapsed into it and
    the records of its must-link group. The link itself is one partner of each end.
    """
    partners = np.bincount(left, minlength=n) + np.bincount(right, minlength=n)
    partners += np.bincount(groups, minlength=n)[groups] - 1
    if multiplicity is not None:
        partners += np.asarray(multiplicity, dtype=np.int64) - 1
    return (partners[left] > 1) | (partners[right] > 1)


def _arrays(edges: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ids, probability (0 for cannot-link pairs) and the cannot-link flag of scored pairs."""
    p = edges["match_probability"].to_numpy(np.float64)
    if "cannot_link" in edges.columns:
        veto = edges["cannot_link"].to_numpy(dtype=bool)
    else:
        veto = np.zeros(len(edges), dtype=bool)
    return (
        edges["unique_id_l"].to_numpy(np.int64),
        edges["unique_id_r"].to_numpy(np.int64),
        np.where(veto, 0.0, p),
        veto,
    )


def cluster_records(
    n: int,
    edges: pd.DataFrame,
    groups: np.ndarray,
    *,
    threshold: float,
    cohesion: float,
    score_missing: ScoreMissing | None = None,
    constraint: Constraint | None = None,
    multiplicity: np.ndarray | None = None,
    tie_break: bool = True,
) -> ClusteringOutcome:
    """Cluster ``n`` records from scored pairs, resisting chaining (see module docstring).

    Parameters
    ----------
    n
        Number of records; ids are ``0..n-1``.
    edges
        Scored pairs: ``unique_id_l < unique_id_r``, ``match_probability`` and optionally
        ``cannot_link`` (:mod:`safeguard.linkage.constraints`): such a pair counts as probability 0
        and no merge may join its two records.
    groups
        Must-link group per record (:func:`safeguard.linkage.deterministic.must_link_groups`).
    threshold
        Candidate links have match probability at least this.
    cohesion
        Minimum mean match probability across two clusters for them to merge.
    score_missing
        Scores pairs (``unique_id_l, unique_id_r``) that blocking did not compare, returning
        the same columns as ``edges``; ``None`` judges components only on the pairs already
        scored.
    constraint
        Flags cannot-link pairs given id arrays (:func:`safeguard.linkage.constraints.cannot_link`).
        It is only asked about pairs that can change a decision: candidate links and pairs
        inside the components that go through average linkage. A flagged candidate link
        only counts as cannot-link when one of its records has a competing partner (see
        the module docstring); other pairs inside a checked component always do.
    multiplicity
        Records behind each of the ``n`` records (identical records collapsed into one);
        more than one is a competing partner for the tie-breaker. ``None``: one each.
    tie_break
        ``False`` makes every flagged candidate link cannot-link (a veto), for scores from
        a model not trained on these records: its weights say nothing about how often
        *these* records carry corrupted fields, so they cannot outweigh a disagreement.
    """
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ClusteringOutcome(empty, np.zeros(0), 0, 0, 0)
    # Pairs in id order: the database returns scored pairs in whatever order its threads
    # finish, and every sum over them (cohesion, confidence) would differ in its last bits.
    edges = edges.sort_values(["unique_id_l", "unique_id_r"], kind="stable", ignore_index=True)
    left, right, p, veto = _arrays(edges)
    cross = groups[left] != groups[right]
    left, right, p, veto = left[cross], right[cross], p[cross], veto[cross]
    strong = p >= threshold
    if constraint is not None:  # contested cannot-link candidates are no candidates
        flagged = constraint(left[strong], right[strong])
        if tie_break:
            flagged &= _contested(n, left[strong], right[strong], groups, multiplicity)
        veto[strong] |= flagged
        p = np.where(veto, 0.0, p)
    asked = strong.copy() if constraint is not None else np.ones(len(p), dtype=bool)
    strong = p >= threshold
    representative = np.empty(n, dtype=np.int64)
    representative[groups[::-1]] = np.arange(n)[::-1]  # smallest record of each group
    comp = components(
        n, np.r_[left[strong], np.arange(n)], np.r_[right[strong], representative[groups]]
    )

    comp_size = np.bincount(comp, minlength=n)
    group_size = np.bincount(groups, minlength=n)
    first_of_group = np.zeros(n, dtype=bool)
    first_of_group[np.unique(groups, return_index=True)[1]] = True
    same_group_pairs = np.bincount(
        comp[first_of_group],
        weights=(group_size[groups[first_of_group]] * (group_size[groups[first_of_group]] - 1)) / 2,
        minlength=n,
    )
    cross_pairs_total = comp_size * (comp_size - 1) / 2 - same_group_pairs

    inside = comp[left] == comp[right]
    left, right, p, veto, asked = (a[inside] for a in (left, right, p, veto, asked))
    scored_count = np.bincount(comp[left], minlength=n)
    all_strong = np.ones(n, dtype=bool)
    np.logical_and.at(all_strong, comp[left], p >= threshold)
    unanimous = (scored_count == cross_pairs_total) & all_strong
    to_check = np.flatnonzero((comp_size >= 2) & ~unanimous & (cross_pairs_total > 0))

    if constraint is not None and to_check.size:  # the rest of the evidence that matters
        ask = ~asked & np.isin(comp[left], to_check)
        veto[ask] |= constraint(left[ask], right[ask])
        p = np.where(veto, 0.0, p)

    extra = pd.DataFrame({"unique_id_l": [], "unique_id_r": [], "match_probability": []})
    extra_arrays = _arrays(extra)
    if score_missing is not None and to_check.size:
        check_mask = np.isin(comp[left], to_check)
        scored = set(zip(left[check_mask].tolist(), right[check_mask].tolist(), strict=True))
        members = pd.Series(np.arange(n)).groupby(comp).indices
        missing: list[tuple[int, int]] = []
        for c in to_check:
            if comp_size[c] <= MAX_RESCORE_COMPONENT:
                missing.extend(_missing_pairs(members[c], groups, scored))
        if missing:
            frame = pd.DataFrame(missing, columns=["unique_id_l", "unique_id_r"])
            extra = score_missing(frame).sort_values(
                ["unique_id_l", "unique_id_r"], kind="stable", ignore_index=True
            )
            if constraint is not None:
                extra = extra.assign(
                    cannot_link=constraint(
                        extra["unique_id_l"].to_numpy(np.int64),
                        extra["unique_id_r"].to_numpy(np.int64),
                    )
                )
            extra_arrays = _arrays(extra)
    left, right, p, veto = (
        np.r_[a, b] for a, b in zip((left, right, p, veto), extra_arrays, strict=True)
    )

    labels = comp.copy()
    refused_total = 0
    check_mask = np.isin(comp[left], to_check)
    if check_mask.any():
        pairs = pd.DataFrame(
            {
                "ga": np.minimum(groups[left[check_mask]], groups[right[check_mask]]),
                "gb": np.maximum(groups[left[check_mask]], groups[right[check_mask]]),
                "p": p[check_mask],
                "veto": veto[check_mask].astype(np.int64),
            }
        )
        stats = (
            pairs.groupby(["ga", "gb"], sort=True)
            .agg(sum_p=("p", "sum"), n=("p", "count"), vetoes=("veto", "sum"), max_p=("p", "max"))
            .reset_index()
        )
        root_of_group, refused_total = _average_linkage(
            stats["ga"].to_numpy(np.int64),
            stats["gb"].to_numpy(np.int64),
            stats["sum_p"].to_numpy(np.float64),
            stats["n"].to_numpy(np.int64),
            stats["vetoes"].to_numpy(np.int64),
            stats["max_p"].to_numpy(np.float64),
            threshold,
            cohesion,
        )
        checked_nodes = np.flatnonzero(np.isin(comp, to_check))
        # Each record's cluster is its group's root; keep ids disjoint from component ids.
        labels[checked_nodes] = n + np.array(
            [root_of_group.get(int(g), int(g)) for g in groups[checked_nodes]], dtype=np.int64
        )

    labels = pd.factorize(labels)[0]
    same = labels[left] == labels[right]
    sums = np.bincount(labels[left[same]], weights=p[same], minlength=labels.max() + 1)
    counts = np.bincount(labels[left[same]], minlength=labels.max() + 1)
    cohesion_of = np.divide(
        sums.astype(np.float64), counts, out=np.ones(sums.size, dtype=np.float64), where=counts > 0
    )
    return ClusteringOutcome(
        labels=labels,
        confidence=cohesion_of[labels],
        components_checked=int(to_check.size),
        merges_refused=refused_total,
        pairs_rescored=len(extra),
    )
