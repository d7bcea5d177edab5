"""Changes of household in a month: couples forming (the joiner moves in with the host
household) and homelessness (applications, temporary accommodation, rehousing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from safeguard.synth.geography import PRIVATE_RENT, SOCIAL_RENT, TEMPORARY
from safeguard.synth.world import FEMALE, NEVER, PARTNER

if TYPE_CHECKING:
    from safeguard.synth.dynamics import Simulation


def partner_up(sim: Simulation, day0: int, mlen: int, age: np.ndarray, counts: np.ndarray, kids: np.ndarray,
               head: np.ndarray, partner: np.ndarray) -> None:  # fmt: skip
    """Lone parents and single people form couples; the joiner moves into the host household."""
    rng, p, geo = sim.rng, sim.p, sim.geo
    n = len(counts)
    ok = (head >= 0) & (sim.ta_until[:n] < 0) & ~sim.moved[:n]
    ok[ok] &= sim.fam[head[ok]] == np.flatnonzero(ok)
    ha = np.where(head >= 0, age[np.maximum(head, 0)], 0)
    ok &= (ha >= 20) & (ha < 50)
    single = ok & (counts == 1) & (rng.random(n) < 0.01)
    lone = ok & (partner < 0) & (kids > 0) & (rng.random(n) < 0.003)
    council = geo.district_council[geo.addr_district[np.maximum(sim.address[:n], 0)]]
    hosts_all, joiners_all = [], []
    for c in np.unique(council[single | lone]):
        s_m = rng.permutation(
            np.flatnonzero(single & (council == c) & (p.sex[np.maximum(head, 0)] == 0))
        )
        s_f = rng.permutation(
            np.flatnonzero(single & (council == c) & (p.sex[np.maximum(head, 0)] == FEMALE))
        )
        lones = np.flatnonzero(lone & (council == c))
        l_f = lones[p.sex[head[lones]] == FEMALE]
        l_m = lones[p.sex[head[lones]] != FEMALE]
        k = min(len(l_f), len(s_m))
        hosts_all.append(l_f[:k])
        joiners_all.append(s_m[:k])
        s_m = s_m[k:]
        k2 = min(len(l_m), len(s_f))
        hosts_all.append(l_m[:k2])
        joiners_all.append(s_f[:k2])
        s_f = s_f[k2:]
        k3 = min(len(s_f), len(s_m))
        hosts_all.append(s_f[:k3])
        joiners_all.append(s_m[:k3])
    if not hosts_all:
        return
    hosts = np.concatenate(hosts_all).astype(np.int64)
    joiner_fams = np.concatenate(joiners_all).astype(np.int64)
    if len(hosts) == 0:
        return
    j, h = head[joiner_fams], head[hosts]
    sim.fam[j], sim.kin[j] = hosts, PARTNER
    male = np.where(p.sex[j] == FEMALE, h, j)
    female = np.where(male == j, h, j)
    sim.child_surname[hosts] = p.surname_on(male, np.full(len(male), day0))
    takes = (rng.random(len(female)) < 0.35) & (p.new_surname[female] < 0)
    takes &= sim.child_surname[hosts] != p.surname[female]
    p.new_surname[female[takes]] = sim.child_surname[hosts[takes]]
    p.surname_change_day[female[takes]] = day0 + rng.integers(0, mlen, int(takes.sum()))
    sim.need[hosts] = 0.8 * sim.need[hosts] + 0.2 * sim.need[joiner_fams]
    relocate = hosts[rng.random(len(hosts)) < 0.4]
    sim.move(relocate, sim.tenure_for(relocate, age[head[relocate]] < 35))


def homelessness(
    sim: Simulation, m: int, day0: int, mlen: int, active: np.ndarray, kids: np.ndarray
) -> None:
    """Homeless applications; families with children are mostly placed in temporary housing."""
    rng, geo = sim.rng, sim.geo
    n = sim.n_fam
    ta = sim.ta_until[:n]
    ending = np.flatnonzero((ta >= 0) & ((ta <= m) | ~active))
    for f in ending:
        sim.ta[sim.ta_open.pop(int(f))][2] = day0 + int(rng.integers(0, mlen))
    sim.ta_until[ending] = -1
    rehouse = ending[active[ending]]
    sim.move(rehouse, np.full(len(rehouse), SOCIAL_RENT), local=0.4)
    cand = np.flatnonzero(active & ~sim.moved[:n] & (sim.ta_until[:n] < 0))
    tenure = geo.addr_tenure[sim.address[cand]]
    factor = np.array([0.15, 1.5, 1.0, 0.0])[tenure]
    rate = 0.0005 * np.exp(0.9 * sim.need[cand] + 1.5 * sim.crisis[cand]) * factor
    hit = rng.random(len(cand)) < rate
    fams, tenure = cand[hit], tenure[hit]
    if len(fams) == 0:
        return
    day = day0 + rng.integers(0, mlen, len(fams))
    sim.homeless += [(int(f), m, int(d)) for f, d in zip(fams, day, strict=True)]
    evicted = (tenure == SOCIAL_RENT) & (rng.random(len(fams)) < 0.4)
    sim.evictions += [(int(f), int(d)) for f, d in zip(fams[evicted], day[evicted], strict=True)]
    k = kids[np.minimum(fams, len(kids) - 1)] * (fams < len(kids))
    placed = rng.random(len(fams)) < np.where(k > 0, 0.8, 0.35)
    sim.move(fams[placed], np.full(int(placed.sum()), TEMPORARY), local=0.7)
    for f, d in zip(fams[placed], day[placed], strict=True):
        sim.ta_open[int(f)] = len(sim.ta)
        sim.ta.append([int(f), int(d), int(NEVER), int(sim.address[f])])
    sim.ta_until[fams[placed]] = m + 2 + rng.geometric(1 / 16, int(placed.sum()))
    relief = fams[~placed & (rng.random(len(fams)) < 0.5)]
    sim.move(relief, np.full(len(relief), PRIVATE_RENT))
