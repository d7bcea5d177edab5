"""Council housing and housing-association records: social tenancies and what happens in them,
homelessness applications, temporary accommodation and evictions.

Tenancies are read off the world's history (a family living at a social-rent address); events in
a tenancy are drawn per family-month with rates rising with need and crisis. Households in
temporary accommodation are recorded member by member, as councils do.
"""

from __future__ import annotations

import numpy as np

from safeguard.synth.build import World
from safeguard.synth.events import Events
from safeguard.synth.geography import SOCIAL_RENT
from safeguard.synth.world import HEAD, PARTNER

EVENT_TYPES = ("tenancy_start", "arrears_notice", "repair_request", "asb_complaint",
               "notice_seeking_possession", "eviction", "homeless_application", "temporary_accommodation")  # fmt: skip
TENANCY_ROLES = ("lead_tenant", "joint_tenant", "household_member")
H = {e: i for i, e in enumerate(EVENT_TYPES)}
# per family-month rates in a social tenancy at need 0: (event, base, need, crisis)
TENANCY_EVENTS = (("repair_request", 0.05, 0.0, 0.0), ("arrears_notice", 0.008, 0.9, 1.0),
                  ("asb_complaint", 0.0015, 0.8, 0.8))  # fmt: skip


def _household_rows(world: World, family: np.ndarray, month: np.ndarray, day: np.ndarray,
                    etype: int, ref: np.ndarray) -> Events:  # fmt: skip
    """One row per member of each family in that month (lead, joint tenant, household member)."""
    q, person = world.spells.roster(family, month)
    kin = world.history.kin[month[q], person]
    role = np.where(kin == HEAD, 0, np.where(kin == PARTNER, 1, 2)).astype(np.int8)
    born = world.people.dob[person] <= day[q]
    q, person, role = q[born], person[born], role[born]
    n = len(q)
    return Events(person, day[q], {"etype": np.full(n, etype, np.int8), "role": role, "ref": ref[q],
                                   "amount": np.full(n, np.nan)})  # fmt: skip


def _lead_rows(world: World, family: np.ndarray, month: np.ndarray, day: np.ndarray, etype: int,
               ref: np.ndarray, amount: np.ndarray, rng: np.random.Generator) -> Events:  # fmt: skip
    head = world.heads[month, family]
    partner = world.partners[month, family]
    joint = (partner >= 0) & (rng.random(len(family)) < 0.2)
    person = np.where(joint, partner, head)
    ok = person >= 0
    return Events(person[ok], day[ok], {
        "etype": np.full(int(ok.sum()), etype, np.int8), "role": np.where(joint, 1, 0)[ok].astype(np.int8),
        "ref": ref[ok], "amount": amount[ok],
    })  # fmt: skip


def simulate(rng: np.random.Generator, world: World) -> Events:
    """Housing rows; ``ref`` is the tenancy / case number shared by rows of one tenancy or case."""
    h, geo = world.history, world.geo
    ms = world.month_starts
    addr = h.address
    social = (addr >= 0) & (geo.addr_tenure[np.maximum(addr, 0)] == SOCIAL_RENT)
    prev = np.vstack([np.full((1, h.n_families), -2, np.int32), addr[:-1]])
    starts = social & (addr != prev)
    starts[0] = False  # tenancies already running when the simulation starts began long before
    s_m, s_f = np.nonzero(starts)
    parts = []
    # a tenancy number for every (month, family) in a social tenancy: id of the run it belongs to
    run_start = social & (addr != prev)
    del prev
    run_id = np.full(addr.shape, -1, dtype=np.int32)
    rm, rf = np.nonzero(run_start)
    run_id[rm, rf] = np.arange(len(rm), dtype=np.int32)
    run_id = np.maximum.accumulate(np.where(social, run_id, -1), axis=0)
    run_id = np.where(social, run_id, -1)
    day = ms[s_m] + rng.integers(0, 7, len(s_m))
    parts.append(_household_rows(world, s_f, s_m, day, H["tenancy_start"], run_id[s_m, s_f]))
    tm, tf = np.nonzero(social)
    need, crisis = h.need[tf], h.crisis[tm, tf]
    mlen = (ms[tm + 1] - ms[tm]).astype(np.int64)
    for etype, base, b_need, b_crisis in TENANCY_EVENTS:
        lam = (
            base
            * np.exp(b_need * (need - 0.5) + b_crisis * crisis)
            * np.where(h.low_income[tf], 1.5, 1.0)
        )
        hit = np.flatnonzero(rng.random(len(tm)) < lam)
        d = ms[tm[hit]] + (rng.random(len(hit)) * mlen[hit]).astype(np.int32)
        amount = np.full(len(hit), np.nan)
        if etype == "arrears_notice":
            amount = np.round(rng.lognormal(np.log(600), 0.6, len(hit)), 2)
            nsp = hit[rng.random(len(hit)) < 0.08]
            later = np.minimum(tm[nsp] + rng.integers(1, 4, len(nsp)), h.n_months - 1)
            still = run_id[later, tf[nsp]] == run_id[tm[nsp], tf[nsp]]
            nsp, later = nsp[still], later[still]
            parts.append(_lead_rows(world, tf[nsp], later, ms[later] + rng.integers(0, 28, len(nsp)),
                                    H["notice_seeking_possession"], run_id[later, tf[nsp]],
                                    np.round(rng.lognormal(np.log(1400), 0.5, len(nsp)), 2), rng))  # fmt: skip
        parts.append(
            _lead_rows(world, tf[hit], tm[hit], d, H[etype], run_id[tm[hit], tf[hit]], amount, rng)
        )
    n_runs = int(run_id.max()) + 1
    # evictions from social tenancies (the month before the family left), homelessness, TA
    ev_f, ev_day = h.evictions[:, 0], h.evictions[:, 1]
    ev_m = np.maximum(world.month_of(ev_day) - 1, 0)
    ok = run_id[ev_m, ev_f] >= 0
    parts.append(_lead_rows(world, ev_f[ok], ev_m[ok], ev_day[ok] - rng.integers(1, 10, ok.sum()),
                            H["eviction"], run_id[ev_m[ok], ev_f[ok]], np.full(ok.sum(), np.nan), rng))  # fmt: skip
    hf, hmon, hday = h.homeless[:, 0], h.homeless[:, 1], h.homeless[:, 2]
    case = n_runs + np.arange(len(hf))
    parts.append(
        _lead_rows(
            world, hf, hmon, hday, H["homeless_application"], case, np.full(len(hf), np.nan), rng
        )
    )
    ta_f, ta_day = h.ta_spells[:, 0], h.ta_spells[:, 1]
    ta_m = world.month_of(ta_day)
    ref = n_runs + len(hf) + np.arange(len(ta_f))
    parts.append(_household_rows(world, ta_f, ta_m, ta_day, H["temporary_accommodation"], ref))
    out = Events.concat(parts)
    out.fields["ref_kind"] = np.select(
        [
            out.fields["etype"] == H["homeless_application"],
            out.fields["etype"] == H["temporary_accommodation"],
        ],
        [1, 2],
        0,
    ).astype(np.int8)
    return out
