"""Police involvements: domestic abuse in households, crime and ASB involvements of people,
missing episodes of children. Rates rise with family need and acute crisis; the recording bias
over-records ASB and "subject" involvements for one group at equal need.
"""

from __future__ import annotations

import numpy as np

from safeguard.synth.build import World
from safeguard.synth.config import ETHNICITY_CODES, RecordingBias
from safeguard.synth.events import Events
from safeguard.synth.world import FEMALE, HEAD, PARTNER

ROLES = ("suspect", "victim", "witness", "subject", "missing_person")
TYPES = ("asb", "domestic_abuse", "violence", "sexual_offence", "drugs", "theft",
         "criminal_damage", "missing_episode", "absent_episode", "exploitation_concern")  # fmt: skip
DASH = ("standard", "medium", "high")
R = {r: i for i, r in enumerate(ROLES)}
T = {t: i for i, t in enumerate(TYPES)}
#: Domestic-abuse incidents per eligible household-month at average need, outside crisis.
DA_BASE = 0.0056

# (incident type, role, per person-year rate, min age, max age, male factor, need, crisis)
PERSON_EVENTS = (
    ("asb", "subject", 0.010, 10, 60, 1.6, 0.7, 0.8),
    ("asb", "victim", 0.004, 18, 90, 1.0, 0.3, 0.3),
    ("asb", "witness", 0.003, 18, 90, 1.0, 0.0, 0.0),
    ("violence", "suspect", 0.006, 14, 60, 2.5, 0.8, 1.0),
    ("violence", "victim", 0.008, 10, 80, 1.2, 0.5, 0.8),
    ("violence", "witness", 0.004, 14, 80, 1.0, 0.2, 0.2),
    ("theft", "victim", 0.012, 18, 90, 1.0, 0.1, 0.0),
    ("theft", "suspect", 0.004, 12, 50, 2.0, 0.8, 0.6),
    ("criminal_damage", "victim", 0.005, 18, 90, 1.0, 0.2, 0.2),
    ("criminal_damage", "suspect", 0.002, 12, 40, 2.5, 0.7, 0.6),
    ("drugs", "suspect", 0.003, 15, 45, 3.0, 0.8, 0.6),
    ("drugs", "subject", 0.0015, 15, 45, 2.0, 0.8, 0.6),
    ("sexual_offence", "victim", 0.0015, 10, 40, 0.2, 0.4, 0.5),
    ("sexual_offence", "suspect", 0.0008, 16, 70, 8.0, 0.4, 0.3),
    ("exploitation_concern", "subject", 0.003, 11, 17, 1.2, 1.1, 1.0),
    ("exploitation_concern", "victim", 0.002, 11, 17, 1.0, 1.1, 1.0),
    ("missing_episode", "missing_person", 0.008, 10, 17, 1.0, 1.0, 1.0),
    ("absent_episode", "missing_person", 0.0004, 10, 17, 1.0, 1.0, 1.0),
)  # fmt: skip


def _in_group(world: World, bias: RecordingBias) -> np.ndarray:
    codes = [ETHNICITY_CODES.index(c) for c in bias.codes]
    return np.isin(world.people.ethnicity, codes)


def person_involvements(rng: np.random.Generator, world: World, bias: RecordingBias) -> Events:
    """Single-person incidents (ASB, crime, missing) over each person's eligible months.

    Drawn by thinning a Poisson process: candidates at a per-person upper bound of the monthly
    rate over the months the person is in the age band, each kept with probability
    rate / bound. Exact, and cheap because involvements are rare.
    """
    h, p = world.history, world.people
    ms = world.month_starts
    t = h.n_months
    mult = np.where(_in_group(world, bias), bias.effective("police_asb_subject_multiplier"), 1.0)
    male = p.sex != FEMALE
    s = world.spells
    parts = []
    for itype, role, rate, lo, hi, male_f, b_need, b_crisis in PERSON_EVENTS:
        person_rate = rate / 12 * np.where(male, male_f, 1.0) / ((male_f + 1) / 2)
        if itype == "asb" or role == "subject":
            person_rate = person_rate * mult
        need_factor = np.exp(b_need * (h.need - 0.5))
        top = np.zeros(p.n)
        np.maximum.at(top, s.person, need_factor[s.family])
        bound = person_rate * top * np.exp(b_crisis)
        # months whose first day finds the person inside the age band
        m_lo = np.searchsorted(ms[:t], p.dob.astype(np.int64) + int(lo * 365.25))
        m_hi = np.searchsorted(ms[:t], p.dob.astype(np.int64) + int((hi + 1) * 365.25))
        months = np.maximum(m_hi - m_lo, 0)
        k = rng.poisson(bound * months)
        who = np.repeat(np.arange(p.n), k)
        month = m_lo[who] + (rng.random(len(who)) * months[who]).astype(np.int64)
        fam = h.family_of[month, who]
        lam = (
            person_rate[who]
            * need_factor[fam]
            * np.where(h.crisis[month, fam], np.exp(b_crisis), 1.0)
        )
        keep = rng.random(len(who)) * bound[who] < lam
        who, month = who[keep], month[keep]
        day = ms[month] + (rng.random(len(who)) * (ms[month + 1] - ms[month])).astype(np.int32)
        n = len(who)
        parts.append(Events(who, day, {
            "itype": np.full(n, T[itype], np.int8), "role": np.full(n, R[role], np.int8),
            "group": np.full(n, -1, np.int64), "dash": np.full(n, -1, np.int8),
        }))  # fmt: skip
    return Events.concat(parts)


def domestic_abuse(rng: np.random.Generator, world: World) -> tuple[Events, np.ndarray]:
    """Household domestic-abuse incidents and the (month, family) count matrix they leave behind.

    The victim is the woman of the couple (or the lone parent, with the ex-partner as suspect);
    children living there are recorded as witnesses about half the time.
    """
    h, p = world.history, world.people
    counts = np.zeros((h.n_months, h.n_families), dtype=np.int8)
    parts, next_group = [], 0
    for m in range(h.n_months):
        day0, mlen = (
            int(world.month_starts[m]),
            int(world.month_starts[m + 1] - world.month_starts[m]),
        )
        fam, kin = h.family_of[m], h.kin[m]
        heads = np.flatnonzero((fam >= 0) & (kin == HEAD))
        partners = np.flatnonzero((fam >= 0) & (kin == PARTNER))
        partner_of = np.full(h.n_families, -1, dtype=np.int64)
        partner_of[fam[partners]] = partners
        f = fam[heads]
        other = partner_of[f]
        other = np.where(other >= 0, other, h.ex_partner[heads])
        ok = (other >= 0) & ((day0 - p.dob[heads]) / 365.25 < 65)
        heads, f, other = heads[ok], f[ok], other[ok]
        lam = DA_BASE * np.exp(0.9 * h.need[f] + 1.3 * h.crisis[m, f] - 0.4)
        k = rng.poisson(lam)
        hit = np.flatnonzero(k)
        if len(hit) == 0:
            continue
        heads, f, other, k = heads[hit], f[hit], other[hit], k[hit]
        counts[m, f] = np.minimum(k, 127)
        inc_head = np.repeat(heads, k)
        inc_fam = np.repeat(f, k)
        inc_other = np.repeat(other, k)
        n_inc = len(inc_head)
        groups = next_group + np.arange(n_inc)
        next_group += n_inc
        day = day0 + rng.integers(0, mlen, n_inc)
        head_f = p.sex[inc_head] == FEMALE
        victim = np.where(head_f, inc_head, inc_other)
        suspect = np.where(head_f, inc_other, inc_head)
        z = h.need[inc_fam] + rng.normal(0, 1, n_inc)
        dash = np.where(z > 2.2, 2, np.where(z > 1.0, 1, 0)).astype(np.int8)
        rows_p = [victim, suspect]
        rows_r = [np.full(n_inc, R["victim"]), np.full(n_inc, R["suspect"])]
        rows_g, rows_d, rows_day = [groups, groups], [dash, dash], [day, day]
        # children at home as witnesses
        kids = np.flatnonzero((fam >= 0) & ((day0 - p.dob) / 365.25 < 18) & (p.dob < day0))
        kid_fam = fam[kids]
        first_inc = np.full(h.n_families, -1, dtype=np.int64)
        first_inc[inc_fam[::-1]] = np.arange(n_inc)[::-1]
        ki = first_inc[kid_fam]
        seen = (ki >= 0) & (rng.random(len(kids)) < 0.5)
        rows_p.append(kids[seen])
        rows_r.append(np.full(seen.sum(), R["witness"]))
        rows_g.append(groups[ki[seen]])
        rows_d.append(np.full(seen.sum(), -1))
        rows_day.append(day[ki[seen]])
        parts.append(Events(np.concatenate(rows_p), np.concatenate(rows_day), {
            "itype": np.full(sum(len(x) for x in rows_p), T["domestic_abuse"], np.int8),
            "role": np.concatenate(rows_r).astype(np.int8),
            "group": np.concatenate(rows_g).astype(np.int64),
            "dash": np.concatenate(rows_d).astype(np.int8),
        }))  # fmt: skip
    return Events.concat(parts), counts


def missing_from_care(rng: np.random.Generator, looked_after: Events, world: World) -> Events:
    """Missing episodes of looked-after children (~1 a year per child, concentrated in a few)."""
    propensity = rng.gamma(1.0, 1.0, looked_after.n)
    start, end = looked_after.day, np.minimum(looked_after.fields["end"], world.timeline.newest_day)
    years = np.maximum(end - start, 0) / 365.25
    age_f = np.where((start - world.people.dob[looked_after.person]) / 365.25 > 11, 1.6, 0.2)
    k = rng.poisson(1.6 * propensity * years * age_f)
    who = np.repeat(np.arange(looked_after.n), k)
    day = start[who] + (rng.random(len(who)) * (end[who] - start[who])).astype(np.int32)
    n = len(who)
    return Events(looked_after.person[who], day, {
        "itype": np.full(n, T["missing_episode"], np.int8), "role": np.full(n, R["missing_person"], np.int8),
        "group": np.full(n, -1, np.int64), "dash": np.full(n, -1, np.int8),
    })  # fmt: skip
