"""Children's social care: referrals and what follows them (assessment, section 47 enquiry,
child-in-need plan, child-protection plan, care).

A child's monthly referral hazard rises with the family's latent need, with an acute crisis and
with a domestic-abuse incident at home in the month before, so agency signals come first and the
social-care outcomes follow. Referral rates and pathway shares are calibrated to DfE's
"Children in need 2024" (see ``synth/README.md``).
"""

from __future__ import annotations

import numpy as np

from synth.build import World
from synth.config import ETHNICITY_CODES, RecordingBias
from synth.events import Events
from synth.world import NEVER

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
#: 10,000 children a year across the estate).
REFERRAL_BASE = 0.0021
NEED_EFFECT, CRISIS_EFFECT, DA_EFFECT = 0.6, 1.3, 1.6
#: Hazard ratio in the year after a referral (closed cases come back: DfE re-referrals ~22%).
RE_REFERRAL_EFFECT = 7.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _lognormal_days(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return (median * np.exp(rng.normal(0, sigma, n))).astype(np.int32) + 1


def simulate(
    rng: np.random.Generator, world: World, da_counts: np.ndarray, bias: RecordingBias
) -> Events:
    """Social-care episodes of every child; fields: episode type, end day, referral source."""
    h, p = world.history, world.people
    n = p.n
    open_until = np.full(n, -1, dtype=np.int64)
    last_referral = np.full(n, -(10**6), dtype=np.int64)
    group = np.isin(p.ethnicity, [ETHNICITY_CODES.index(c) for c in bias.codes])
    label_bias = bias.effective("police_referral_multiplier")
    parts = []
    for m in range(h.n_months):
        day0, mlen = (
            int(world.month_starts[m]),
            int(world.month_starts[m + 1] - world.month_starts[m]),
        )
        fam = h.family_of[m]
        age = (day0 - p.dob) / 365.25
        kids = np.flatnonzero((fam >= 0) & (age < 17.9) & (open_until < day0))
        f = fam[kids]
        da = da_counts[m, f] > 0
        if m:
            da |= da_counts[m - 1, f] > 0
        a = age[kids]
        age_effect = np.where(a < 1, 0.4, np.where(a < 10, 0.0, np.where(a < 16, 0.1, -0.2)))
        da_factor = np.where(
            da, 1 + (np.exp(DA_EFFECT) - 1) * np.where(group[kids], label_bias, 1.0), 1.0
        )
        recent = np.where(day0 - last_referral[kids] < 365, RE_REFERRAL_EFFECT, 1.0)
        lam = REFERRAL_BASE * np.exp(
            NEED_EFFECT * h.need[f] + CRISIS_EFFECT * h.crisis[m, f] + age_effect
        )
        lam = lam * da_factor * recent
        hit = rng.random(len(kids)) < lam
        if not hit.any():
            continue
        child = kids[hit]
        day = day0 + rng.integers(0, mlen, len(child))
        source = np.where(da[hit] & (rng.random(len(child)) < 0.7), 0,
                          rng.choice(len(REFERRAL_SOURCES), size=len(child), p=_SOURCE_P))  # fmt: skip
        ep = _pathways(rng, child, day, h.need[f[hit]], h.crisis[m, f[hit]], source, p.dob[child])
        parts.append(ep)
        last_referral[child] = day
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, ep.person, np.minimum(ep.fields["end"], NEVER - 1).astype(np.int64))
        open_until = np.maximum(open_until, last)
    return Events.concat(parts)


def _pathways(rng: np.random.Generator, child: np.ndarray, ref: np.ndarray, need: np.ndarray,
              crisis: np.ndarray, source: np.ndarray, dob: np.ndarray) -> Events:  # fmt: skip
    """Episodes following each referral, decided at referral time from need and crisis."""
    k = len(child)
    adult = dob + int(18 * 365.25)
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

    assessed = rng.random(k) >= _sigmoid(-1.0 - 0.5 * need)
    a_start = ref + rng.integers(0, 4, k)
    a_end = a_start + rng.integers(10, 46, k)
    add(assessed, "assessment", a_start, a_end)
    s47 = assessed & (rng.random(k) < _sigmoid(-0.8 + 0.3 * need + 0.6 * crisis))
    s_start = a_start + rng.integers(0, 10, k)
    s_end = s_start + rng.integers(5, 26, k)
    add(s47, "s47_enquiry", s_start, s_end)
    cp = s47 & (rng.random(k) < _sigmoid(-1.5 + 0.5 * need))
    c_start = s_end + rng.integers(0, 12, k)
    c_end = c_start + _lognormal_days(rng, 260, 0.6, k)
    add(cp, "cp_plan", c_start, c_end)
    emergency = s47 & ~cp & (rng.random(k) < 0.08)
    after_cp = rng.random(k)
    lac = (cp & (after_cp < 0.25)) | emergency
    l_start = np.where(cp, c_end, s_start + 1)
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
    end = np.concatenate(rows_e)
    keep = start < end  # nothing starts on or after the 18th birthday
    keep[:k] = True
    return Events(
        np.concatenate(rows_c),
        start,
        {
            "etype": np.concatenate(rows_t).astype(np.int8),
            "end": np.maximum(end, start).astype(np.int32),
            "source": np.concatenate(rows_src).astype(np.int8),
        },
    ).select(keep)
