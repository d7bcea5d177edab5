"""Children's social care: referrals and what follows them (assessment, section 47 enquiry,
child-in-need plan, child-protection plan, care).

A child's monthly referral hazard rises with the family's latent need, with an acute crisis and
with a domestic-abuse incident at home in the month before, so agency signals come first and the
social-care outcomes follow. Referral rates and pathway shares are calibrated to DfE's
"Children in need 2024" (see ``synth/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safeguard.synth import harm
from safeguard.synth.build import World
from safeguard.synth.config import ETHNICITY_CODES, RecordingBias
from safeguard.synth.events import Events
from safeguard.synth.world import NEVER

EPISODES = ("referral", "assessment", "s47_enquiry", "cin_plan", "cp_plan", "looked_after")
REFERRAL_SOURCES = (
    "police",
    "school",
    "health",
    "housing",
    "la_other",
    "individual",
    "anonymous",
    "other",
)
_SOURCE_P = np.array([0.20, 0.23, 0.16, 0.03, 0.14, 0.07, 0.05, 0.12])
E = {e: i for i, e in enumerate(EPISODES)}

#: Monthly referral hazard of a child at need 0, outside crisis (calibrated: ~518 referrals per
#: 10,000 children a year across the estate, pre-birth referrals included).
REFERRAL_BASE = 0.0020
NEED_EFFECT, CRISIS_EFFECT, DA_EFFECT = 0.6, 1.3, 1.6
#: Hazard ratio in the year after a referral (closed cases come back: DfE re-referrals ~22%).
RE_REFERRAL_EFFECT = 7.0

#: Pre-birth pathway: an unborn child is at risk of a referral in each of the PREBIRTH_MONTHS
#: calendar months before its birth month (after the pregnancy is known to midwives), at
#: PREBIRTH_BASE a month at need 0 outside a crisis, raised by need, crisis, domestic abuse in the
#: household (this month or last) and prior involvement (a child of the family started a CP plan
#: in the last five years, or is open to social care now).
PREBIRTH_MONTHS = 4
PREBIRTH_BASE = 0.003
PREBIRTH_NEED, PREBIRTH_CRISIS, PRIOR_EFFECT = 0.8, 1.3, 1.5
PRIOR_YEARS = 5
#: Logit shifts of the s47 and CP decisions after a pre-birth referral (assessments of unborn
#: children go to strategy discussions and conferences more often) and with prior involvement.
PREBIRTH_S47_SHIFT, PREBIRTH_CP_SHIFT, PRIOR_PATHWAY_SHIFT = 0.8, 1.3, 0.8
#: A referral made after true harm (see :mod:`safeguard.synth.harm`) is always assessed, and its s47 logit
#: is shifted by this much.
HARM_S47_SHIFT = 1.0
_HEALTH = REFERRAL_SOURCES.index("health")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _lognormal_days(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return (median * np.exp(rng.normal(0, sigma, n))).astype(np.int32) + 1


def _s47_logit(need: np.ndarray, crisis: np.ndarray) -> np.ndarray:
    return -0.8 + 0.3 * need + 0.6 * crisis


def _p_assessed(need: np.ndarray) -> np.ndarray:
    return 1.0 - _sigmoid(-1.0 - 0.5 * need)


@dataclass
class SocialCare:
    """Every social-care episode, the true monthly hazard of each family, and which harm events
    led to a referral."""

    episodes: Events
    hazard_family: np.ndarray  # int32 family id per hazard row
    hazard_month: np.ndarray  # int32 simulated month index per hazard row
    hazard: np.ndarray  # float64 chance that a child (or unborn child) starts an s47 that month
    harm_referred: np.ndarray  # bool per harm event (in the order given)


class _Scratch:
    """Per-month working arrays and the families' child-protection history."""

    def __init__(self, n_people: int, n_families: int) -> None:
        self.slot = np.full(n_people, -1, dtype=np.int64)
        self.last_cp = np.full(n_families, -(10**6), dtype=np.int64)
        self.open_family = np.zeros(n_families, dtype=bool)


def simulate(rng: np.random.Generator, world: World, da_counts: np.ndarray, bias: RecordingBias,
             harm_events: Events, hazard_from: int = 0) -> SocialCare:  # fmt: skip
    """Social-care episodes of every child (fields: episode type, end day, referral source) and
    the true monthly s47 hazard of every family from month ``hazard_from`` on.

    Each month, every child not open to social care may be referred: by the agencies (hazard
    ``lam`` from need, crisis, domestic abuse, age and a recent referral) or after true harm
    reported by the hospital. Unborn children in the months before their birth month may be
    referred on the pre-birth pathway. Every pathway decision is drawn at referral time; a chain
    that reaches a section 47 enquiry starts it in the referral month (the referral and the
    assessment are dated up to 12 days before it). The family's hazard that month is
    ``1 - prod(1 - p)`` over its children and unborn children, where ``p`` is the exact chance
    that the child's referral this month reaches an s47 enquiry.
    """
    h, p = world.history, world.people
    n = p.n
    open_until = np.full(n, -1, dtype=np.int64)
    last_referral = np.full(n, -(10**6), dtype=np.int64)
    group = np.isin(p.ethnicity, [ETHNICITY_CODES.index(c) for c in bias.codes])
    label_bias = bias.effective("police_referral_multiplier")
    reported = np.array([harm.REPORTED[k] for k in harm.KINDS])
    harm_month = world.month_of(harm_events.day)
    harm_order = np.argsort(harm_month, kind="stable")
    harm_bounds = np.searchsorted(harm_month[harm_order], np.arange(h.n_months + 1))
    harm_referred = np.zeros(harm_events.n, dtype=bool)
    birth_month = np.where(p.mother >= 0, world.month_of(p.dob), -1)
    by_birth = np.flatnonzero(p.mother >= 0)
    by_birth = by_birth[np.argsort(birth_month[by_birth], kind="stable")]
    birth_bounds = np.searchsorted(
        birth_month[by_birth], np.arange(h.n_months + PREBIRTH_MONTHS + 2)
    )
    scratch = _Scratch(n, h.n_families)
    parts, hz_f, hz_m, hz_v = [], [], [], []

    def da_factor(f: np.ndarray, who: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        da = da_counts[m, f] > 0
        if m:
            da |= da_counts[m - 1, f] > 0
        bias_f = np.where(group[who], label_bias, 1.0)
        return da, np.where(da, 1 + (np.exp(DA_EFFECT) - 1) * bias_f, 1.0)

    for m in range(h.n_months):
        day0, end = int(world.month_starts[m]), int(world.month_starts[m + 1])
        fam = h.family_of[m]
        age = (day0 - p.dob) / 365.25
        live = (fam >= 0) & (age < 18)
        scratch.open_family[:] = False
        scratch.open_family[fam[live & (open_until >= day0)]] = True
        # children living in a family, not open to social care
        kids = np.flatnonzero(live & (age < 17.9) & (open_until < day0))
        f = fam[kids]
        need, crisis = h.need[f], h.crisis[m, f]
        da, factor = da_factor(f, kids, m)
        a = age[kids]
        age_effect = np.where(a < 1, 0.4, np.where(a < 10, 0.0, np.where(a < 16, 0.1, -0.2)))
        recent = np.where(day0 - last_referral[kids] < 365, RE_REFERRAL_EFFECT, 1.0)
        lam = REFERRAL_BASE * np.exp(NEED_EFFECT * need + CRISIS_EFFECT * crisis + age_effect)
        lam = lam * factor * recent
        g = 1.0 - np.prod(1.0 - harm.probabilities(world, m, kids) * reported[:, None], axis=0)
        s47_logit = _s47_logit(need, crisis)
        p_kid = g * _sigmoid(s47_logit + HARM_S47_SHIFT) + (1.0 - g) * np.minimum(lam, 1.0) * (
            _p_assessed(need) * _sigmoid(s47_logit)
        )
        # true harm this month, reported by the hospital: a referral on the day of the harm
        ev = harm_order[harm_bounds[m] : harm_bounds[m + 1]]
        scratch.slot[kids] = np.arange(len(kids))
        slot = scratch.slot[harm_events.person[ev]]
        told = (slot >= 0) & (rng.random(len(ev)) < reported[harm_events.fields["kind"][ev]])
        harm_referred[ev[told]] = True
        harm_day = np.full(len(kids), -1, dtype=np.int64)
        if told.any():
            first = np.full(len(kids), np.iinfo(np.int64).max)
            np.minimum.at(first, slot[told], harm_events.day[ev[told]])
            harm_day = np.where(first < np.iinfo(np.int64).max, first, -1)
        scratch.slot[kids] = -1
        hit = (rng.random(len(kids)) < lam) | (harm_day >= 0)
        # unborn children in the months before their birth month (the mother's family)
        unborn = by_birth[birth_bounds[m + 1] : birth_bounds[m + 1 + PREBIRTH_MONTHS]]
        uf = fam[p.mother[unborn]]
        keep = (uf >= 0) & (open_until[unborn] < day0)
        unborn, uf = unborn[keep], uf[keep]
        u_need, u_crisis = h.need[uf], h.crisis[m, uf]
        since_cp = day0 - scratch.last_cp[uf]
        prior = scratch.open_family[uf] | ((since_cp > 0) & (since_cp < PRIOR_YEARS * 365.25))
        u_da, u_factor = da_factor(uf, unborn, m)
        u_lam = (
            PREBIRTH_BASE
            * u_factor
            * np.exp(PREBIRTH_NEED * u_need + PREBIRTH_CRISIS * u_crisis + PRIOR_EFFECT * prior)
        )
        u_s47 = PREBIRTH_S47_SHIFT + PRIOR_PATHWAY_SHIFT * prior
        p_unborn = (
            np.minimum(u_lam, 1.0)
            * _p_assessed(u_need)
            * _sigmoid(_s47_logit(u_need, u_crisis) + u_s47)
        )
        u_hit = rng.random(len(unborn)) < u_lam
        if m >= hazard_from:
            both = np.concatenate([f, uf])
            log_survive = np.bincount(both, weights=np.log1p(-np.concatenate([p_kid, p_unborn])),
                                      minlength=h.n_families)  # fmt: skip
            at_risk = np.unique(both)
            value = -np.expm1(log_survive[at_risk])
            nz = value > 0
            hz_f.append(at_risk[nz].astype(np.int32))
            hz_m.append(np.full(int(nz.sum()), m, dtype=np.int32))
            hz_v.append(value[nz])
        if not hit.any() and not u_hit.any():
            continue
        child = np.concatenate([kids[hit], unborn[u_hit]])
        c_fam = np.concatenate([f[hit], uf[u_hit]])
        c_da = np.concatenate([da[hit], u_da[u_hit]])
        k_born = int(hit.sum())
        from_harm = np.concatenate([harm_day[hit], np.full(int(u_hit.sum()), -1)])
        source = np.where(c_da & (rng.random(len(child)) < 0.7), 0,
                          rng.choice(len(REFERRAL_SOURCES), size=len(child), p=_SOURCE_P))  # fmt: skip
        source = np.where(from_harm >= 0, _HEALTH, source)
        s47_shift = np.concatenate([np.zeros(k_born), u_s47[u_hit]])
        cp_shift = np.concatenate(
            [np.zeros(k_born), PREBIRTH_CP_SHIFT + PRIOR_PATHWAY_SHIFT * prior[u_hit]]
        )
        ep = _pathways(rng, child, day0, end, h.need[c_fam], h.crisis[m, c_fam], source, p.dob[child],
                       s47_shift, cp_shift, from_harm)  # fmt: skip
        parts.append(ep)
        last_referral[child] = ep.day[: len(child)]
        cp = ep.fields["etype"] == E["cp_plan"]
        scratch.slot[child] = c_fam
        np.maximum.at(scratch.last_cp, scratch.slot[ep.person[cp]], ep.day[cp].astype(np.int64))
        scratch.slot[child] = -1
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, ep.person, np.minimum(ep.fields["end"], NEVER - 1).astype(np.int64))
        open_until = np.maximum(open_until, last)
    return SocialCare(Events.concat(parts), _cat(hz_f, np.int32), _cat(hz_m, np.int32),
                      _cat(hz_v, np.float64), harm_referred)  # fmt: skip


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def _pathways(rng: np.random.Generator, child: np.ndarray, day0: int, end: int, need: np.ndarray,
              crisis: np.ndarray, source: np.ndarray, dob: np.ndarray, s47_shift: np.ndarray,
              cp_shift: np.ndarray, harm_day: np.ndarray) -> Events:  # fmt: skip
    """Episodes following each referral of the month ``[day0, end)``, decided at referral time.

    A chain that reaches a section 47 enquiry starts it on a day of the month (the referral and
    the assessment are dated 0-12 days before, never before the birth of a born child); other
    chains start with the referral on a day of the month. After harm the referral is on the day
    of the harm and any s47 follows within three days, inside the month. The first ``len(child)``
    rows are the referrals, in the order of ``child``.
    """
    k = len(child)
    adult = dob + int(18 * 365.25)
    after_harm = harm_day >= 0
    assessed = after_harm | (rng.random(k) >= _sigmoid(-1.0 - 0.5 * need))
    s47_logit = _s47_logit(need, crisis) + s47_shift + np.where(after_harm, HARM_S47_SHIFT, 0.0)
    s47 = assessed & (rng.random(k) < _sigmoid(s47_logit))
    gap_a, gap_s = rng.integers(0, 4, k), rng.integers(0, 10, k)
    lo = np.where((dob >= day0) & (dob < end), dob, day0)
    anchor = lo + (rng.random(k) * (end - lo)).astype(np.int64)
    harm_s = harm_day + (rng.random(k) * np.minimum(4, end - harm_day)).astype(np.int64)
    born = dob <= anchor
    s_back = np.where(born, np.maximum(anchor - gap_s, dob), anchor - gap_s)
    r_back = np.where(born, np.maximum(s_back - gap_a, dob), s_back - gap_a)
    ref = np.where(after_harm, harm_day, np.where(s47, r_back, anchor))
    a_start = np.where(after_harm, harm_day, np.where(s47, s_back, anchor + gap_a))
    s_start = np.where(after_harm, harm_s, anchor)
    rows_c, rows_t, rows_s, rows_e, rows_src = (
        [child],
        [np.full(k, E["referral"])],
        [ref],
        [ref + rng.integers(0, 2, k)],
        [source],
    )

    def add(mask: np.ndarray, etype: str, start: np.ndarray, end: np.ndarray) -> None:
        rows_c.append(child[mask])
        rows_t.append(np.full(mask.sum(), E[etype]))
        rows_s.append(start[mask])
        rows_e.append(np.minimum(end[mask], adult[mask]))
        rows_src.append(np.full(mask.sum(), -1))

    a_end = a_start + rng.integers(10, 46, k)
    add(assessed, "assessment", a_start, a_end)
    s_end = s_start + rng.integers(5, 26, k)
    add(s47, "s47_enquiry", s_start, s_end)
    cp = s47 & (rng.random(k) < _sigmoid(-1.5 + 0.5 * need + cp_shift))
    c_start = s_end + rng.integers(0, 12, k)
    c_end = c_start + _lognormal_days(rng, 260, 0.6, k)
    add(cp, "cp_plan", c_start, c_end)
    emergency = s47 & ~cp & (rng.random(k) < 0.08)
    after_cp = rng.random(k)
    lac = (cp & (after_cp < 0.25)) | emergency
    l_start = np.maximum(np.where(cp, c_end, s_start + 1), dob)  # an unborn child: at birth
    l_end = l_start + _lognormal_days(rng, 1050, 0.9, k)
    add(lac, "looked_after", l_start, l_end)
    cin_after_cp = cp & (after_cp >= 0.25) & (after_cp < 0.7)
    cin_direct = assessed & ~s47 & (rng.random(k) < _sigmoid(-1.0 + 0.4 * need))
    cin_after_s47 = s47 & ~cp & ~emergency & (rng.random(k) < 0.45)
    cin = cin_after_cp | cin_direct | cin_after_s47
    i_start = np.where(cin_after_cp, c_end, np.where(cin_after_s47, s_end, a_end))
    i_end = i_start + _lognormal_days(rng, 420, 0.6, k)
    add(cin, "cin_plan", i_start, i_end)
    start = np.concatenate(rows_s)
    end_day = np.concatenate(rows_e)
    keep = start < end_day  # nothing starts on or after the 18th birthday
    keep[:k] = True
    return Events(
        np.concatenate(rows_c),
        start,
        {
            "etype": np.concatenate(rows_t).astype(np.int8),
            "end": np.maximum(end_day, start).astype(np.int32),
            "source": np.concatenate(rows_src).astype(np.int8),
        },
    ).select(keep)
