"""School census and attendance returns: termly attendance, suspensions, permanent exclusions and
children missing education for pupils in Reception to Year 11.

Absence is drawn per pupil and term from a logit model whose intercept is calibrated to DfE's
persistent-absence figures (19.2% of pupils missing >= 10% of sessions in autumn + spring 2023/24;
33.0% of pupils eligible for free school meals against 15.6% of others).
"""

from __future__ import annotations

import numpy as np

from safeguard.synth.build import World
from safeguard.synth.events import Events
from safeguard.synth.timeline import Term

RECORD_TYPES = ("attendance", "suspension", "permanent_exclusion", "missing_education")
SEN = ("none", "sen_support", "ehcp")
#: Logit of the per-session absence rate of a pupil at need 0, not FSM, primary, no SEN.
ABSENCE_INTERCEPT = -3.07
#: Absence logit effects: need, FSM, share of the term in crisis, secondary school, SEN.
ABSENCE_EFFECTS = (0.05, 0.28, 0.3, 0.25, 0.3)
#: Spread of pupils' yearly absence propensity (logit scale).
ABSENCE_SPREAD = 0.55
#: Suspensions per pupil-term at need 0 (DfE 2022/23: 9.3 suspensions per 100 pupils a year).
SUSPENSION_BASE = 0.012
EHCP_SHARE, SEN_SUPPORT_SHARE = 0.048, 0.136  # DfE SEN in England 2024


def simulate(rng: np.random.Generator, world: World, first_day: int) -> Events:
    """Education rows for every term ending on or after ``first_day`` (the earliest window)."""
    p = world.people
    sen_u = rng.normal(0, 1, p.n) + 1.6 * p.disability
    parts = []
    year_effect: dict[int, np.ndarray] = {}
    for term in world.timeline.terms():
        if term.end < first_day:
            continue
        if term.year not in year_effect:
            year_effect[term.year] = rng.normal(0, ABSENCE_SPREAD, p.n)
        parts.append(_term(rng, world, term, sen_u, year_effect[term.year]))
    return Events.concat(parts)


def _term(
    rng: np.random.Generator, world: World, term: Term, sen_u: np.ndarray, u_year: np.ndarray
) -> Events:
    p, h, geo = world.people, world.history, world.geo
    aug31 = int(np.datetime64(f"{term.year}-08-31").astype(int))
    age = (aug31 - p.dob) / 365.25
    m0 = int(world.month_of(np.array([term.start]))[0])
    m1 = int(world.month_of(np.array([term.end]))[0])
    fam = h.family_of[m0]
    pupils = np.flatnonzero((age >= 4) & (age < 16) & (fam >= 0) & (p.dob < term.start))
    f = fam[pupils]
    n = len(pupils)
    need = h.need[f]
    fsm = h.low_income[f]
    crisis = h.crisis[m0 : m1 + 1, :][:, f].mean(axis=0)
    secondary = age[pupils] >= 11
    z = sen_u[pupils] + 0.3 * need
    ehcp_cut, sen_cut = np.quantile(z, [1 - EHCP_SHARE, 1 - EHCP_SHARE - SEN_SUPPORT_SHARE])
    sen = np.where(z >= ehcp_cut, 2, np.where(z >= sen_cut, 1, 0)).astype(np.int8)
    addr = h.address[m0, f]
    district = geo.addr_district[addr]
    school = np.where(secondary, geo.school_urn[district, 2], geo.school_urn[district, pupils % 2])
    b_need, b_fsm, b_crisis, b_secondary, b_sen = ABSENCE_EFFECTS
    logit = (ABSENCE_INTERCEPT + b_need * need + b_fsm * fsm + b_crisis * crisis + b_secondary * secondary
             + b_sen * (sen > 0) + u_year[pupils] + rng.normal(0, 0.25, n))  # fmt: skip
    rate = 1 / (1 + np.exp(-logit))
    missed = rng.binomial(term.sessions, rate)
    unauth_share = 1 / (1 + np.exp(-(-1.0 + 0.4 * need + 0.4 * fsm)))
    unauth = rng.binomial(missed, unauth_share)
    base = {"fsm": fsm, "sen": sen, "school": school}
    rows = [_rows(pupils, np.full(n, term.start), np.full(n, term.end), 0, term.end + 1, base,
                  term.sessions, missed - unauth, unauth, -1)]  # fmt: skip
    # suspensions (several days each), permanent exclusions and children missing education
    lam = SUSPENSION_BASE * np.exp(0.8 * need + 0.8 * crisis + 1.0 * secondary + 0.5 * (p.sex[pupils] == 0)
                                   + 0.4 * (sen > 0) - 0.8)  # fmt: skip
    k = rng.poisson(lam)
    idx = np.repeat(np.arange(n), k)
    day = term.start + rng.integers(0, term.end - term.start, len(idx))
    sessions = rng.choice([1, 2, 2, 2, 4, 4, 6, 10], size=len(idx))
    rows.append(_rows(pupils[idx], day, day + (sessions + 1) // 2 - 1, 1, day, _sub(base, idx),
                      -1, -1, -1, sessions))  # fmt: skip
    pe = np.flatnonzero(rng.random(n) < 0.0004 * np.exp(1.0 * need + 1.0 * crisis + secondary))
    day = term.start + rng.integers(0, term.end - term.start, len(pe))
    rows.append(
        _rows(pupils[pe], day, np.full(len(pe), -1), 2, day, _sub(base, pe), -1, -1, -1, -1)
    )
    cme = np.flatnonzero(rng.random(n) < 0.001 * np.exp(1.0 * need + 1.0 * crisis))
    day = term.start + rng.integers(0, term.end - term.start, len(cme))
    rows.append(_rows(pupils[cme], day, day + rng.integers(14, 120, len(cme)), 3, day, _sub(base, cme),
                      -1, -1, -1, -1))  # fmt: skip
    return Events.concat(rows)


def _sub(base: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in base.items()}


def _rows(person: np.ndarray, start: np.ndarray, end: np.ndarray, rtype: int, visible: np.ndarray | int,
          base: dict[str, np.ndarray], possible: int, auth: np.ndarray | int, unauth: np.ndarray | int,
          excluded: np.ndarray | int) -> Events:  # fmt: skip
    n = len(person)

    def full(v: np.ndarray | int) -> np.ndarray:
        return np.broadcast_to(np.asarray(v, dtype=np.int32), (n,)).copy()

    return Events(person, full(start), {
        "rtype": np.full(n, rtype, np.int8), "end": full(end), "visible": full(visible),
        "possible": full(possible), "auth": full(auth), "unauth": full(unauth), "excluded": full(excluded),
        "fsm": base["fsm"].astype(bool), "sen": base["sen"].astype(np.int8),
        "school": base["school"].astype(np.int32),
    })  # fmt: skip
