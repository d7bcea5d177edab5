"""Who lived with whom, where and when: membership spells, heads of household, rosters.

Membership spells are the compact form of the month-by-month history: one row per person per
unbroken stay in one family at one address. They answer "who was in family f in month m" for
agencies that record whole households (tenancies, temporary accommodation, witnesses), and they
are written to the truth as ``memberships.csv`` so family recovery can be scored as of any date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safeguard.synth.world import HEAD, PARTNER, History


@dataclass(frozen=True)
class Spells:
    """Membership spells sorted by family: months ``[start, stop)`` in family at address."""

    person: np.ndarray
    family: np.ndarray
    address: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    family_offset: np.ndarray  # spells of family f are [family_offset[f], family_offset[f + 1])

    def roster(self, family: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Members of each (family, month) query: (query index, person) pairs."""
        lo, hi = self.family_offset[family], self.family_offset[family + 1]
        count = hi - lo
        query = np.repeat(np.arange(len(family)), count)
        within = np.arange(len(query)) - np.repeat(np.cumsum(count) - count, count)
        spell = lo[query] + within
        ok = (self.start[spell] <= month[query]) & (month[query] < self.stop[spell])
        return query[ok], self.person[spell[ok]]


def membership_spells(history: History) -> Spells:
    """Run-length encode each person's (family, address) over the simulated months."""
    t = history.n_months
    people, families, addresses, starts, stops = [], [], [], [], []
    prev_f = np.full(history.family_of.shape[1], -1, dtype=np.int32)
    prev_a = np.full_like(prev_f, -1)
    open_start = np.zeros_like(prev_f)
    for m in range(t + 1):
        if m < t:
            f = history.family_of[m]
            a = np.where(f >= 0, history.address[m, np.maximum(f, 0)], -1)
        else:
            f = np.full_like(prev_f, -1)
            a = f
        changed = (f != prev_f) | (a != prev_a)
        closing = np.flatnonzero(changed & (prev_f >= 0))
        people.append(closing)
        families.append(prev_f[closing])
        addresses.append(prev_a[closing])
        starts.append(open_start[closing])
        stops.append(np.full(len(closing), m, dtype=np.int32))
        open_start[changed] = m
        prev_f, prev_a = f, a
    person = np.concatenate(people).astype(np.int32)
    family = np.concatenate(families).astype(np.int32)
    order = np.lexsort((np.concatenate(starts), person, family))
    family = family[order]
    offset = np.searchsorted(family, np.arange(history.n_families + 1)).astype(np.int64)
    return Spells(person[order], family, np.concatenate(addresses)[order].astype(np.int32),
                  np.concatenate(starts)[order].astype(np.int32), np.concatenate(stops)[order].astype(np.int32),
                  offset)  # fmt: skip


def heads_and_partners(history: History) -> tuple[np.ndarray, np.ndarray]:
    """(T, F) matrices of the head and the partner of each family each month (-1 none)."""
    t, f = history.n_months, history.n_families
    heads = np.full((t, f), -1, dtype=np.int32)
    partners = np.full((t, f), -1, dtype=np.int32)
    for m in range(t):
        fam, kin = history.family_of[m], history.kin[m]
        idx = np.flatnonzero((fam >= 0) & (kin == HEAD))
        heads[m, fam[idx]] = idx
        idx = np.flatnonzero((fam >= 0) & (kin == PARTNER))
        partners[m, fam[idx]] = idx
    return heads, partners
