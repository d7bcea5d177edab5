"""True harm to children: injuries from abuse or neglect and self-harm treated in hospital.

The analogue of the hospital-recorded injuries used to validate the Allegheny Family Screening
Tool: events that happen in the world but that no agency file of the drop records as such. They
are written only to the ground truth (``truth/harm.csv``) so that a model trained on *recorded*
section 47 / child-protection labels can be validated against harm.

Harm depends only on the world (the family's latent need, an acute crisis in the month, the
child's age and sex), never on what agencies record: the planted police recording bias and the
referral label bias leave it unchanged (a test checks this). Some harm leads to a social-care
referral in the same month (:data:`REPORTED`, drawn in :mod:`safeguard.synth.social_care`); the rest stays
unknown to services.

Rates are assumptions, chosen to be rare (about 20 events a year per 10,000 children, below the
~52 child-protection plan starts) and shaped like England's hospital data: maltreatment-related
injury admissions peak in infancy (Gonzalez-Izquierdo et al., Arch Dis Child 2010 and BMJ Open
2014), injuries from neglectful supervision concentrate under five, and hospital-treated
self-harm starts around eleven and is about three times as common in girls.
"""

from __future__ import annotations

import numpy as np

from safeguard.synth.build import World
from safeguard.synth.events import Events
from safeguard.synth.world import FEMALE

KINDS = ("abusive_injury", "neglect_injury", "self_harm")
#: Events per 10,000 child-years at latent need 0 outside a crisis, by age band [lo, hi) years.
AGE_RATES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "abusive_injury": ((0, 1, 14.0), (1, 5, 3.0), (5, 11, 1.0), (11, 18, 2.0)),
    "neglect_injury": ((0, 1, 8.0), (1, 5, 8.0), (5, 11, 2.0)),
    "self_harm": ((11, 18, 18.0),),
}
#: Log-rate effects of latent need and of a crisis month, and the rate ratio of girls to boys.
NEED_EFFECT = {"abusive_injury": 0.9, "neglect_injury": 1.0, "self_harm": 0.5}
CRISIS_EFFECT = {"abusive_injury": 1.2, "neglect_injury": 1.0, "self_harm": 0.8}
GIRLS_TO_BOYS = {"abusive_injury": 1.0, "neglect_injury": 1.0, "self_harm": 3.0}
#: Chance that a harm event leads to a social-care referral in its month (hospitals refer most
#: injuries they suspect were inflicted; many are coded as accidents; self-harm goes mostly to
#: mental-health services). A child already open to social care is not referred again.
REPORTED = {"abusive_injury": 0.5, "neglect_injury": 0.2, "self_harm": 0.15}


def probabilities(world: World, m: int, kids: np.ndarray) -> np.ndarray:
    """(kinds, kids) chance of each kind of harm to each child in month ``m`` (any age; zero
    outside the kind's age bands)."""
    h, p = world.history, world.people
    day0 = int(world.month_starts[m])
    fam = h.family_of[m, kids]
    age = (day0 - p.dob[kids]) / 365.25
    need, crisis = h.need[fam], h.crisis[m, fam]
    girl = p.sex[kids] == FEMALE
    out = np.zeros((len(KINDS), len(kids)))
    for k, kind in enumerate(KINDS):
        per_year = np.zeros(len(kids))
        for lo, hi, rate in AGE_RATES[kind]:
            band = (age < hi) & (age >= lo) if lo > 0 else age < hi  # born this month: infants
            per_year = np.where(band, rate / 1e4, per_year)
        ratio = GIRLS_TO_BOYS[kind]
        sex_factor = np.where(girl, 2 * ratio / (1 + ratio), 2 / (1 + ratio))
        factor = np.exp(NEED_EFFECT[kind] * need + CRISIS_EFFECT[kind] * crisis) * sex_factor
        out[k] = np.minimum(per_year / 12 * factor, 0.5)
    return out


def children(world: World, m: int) -> np.ndarray:
    """Children (aged under 18, born before the end of month ``m``) living in a family in ``m``."""
    fam = world.history.family_of[m]
    age = (int(world.month_starts[m]) - world.people.dob) / 365.25
    return np.flatnonzero((fam >= 0) & (age < 18))


def simulate(rng: np.random.Generator, world: World) -> Events:
    """Harm events of every child; fields: ``kind`` (index into :data:`KINDS`)."""
    ms, dob = world.month_starts, world.people.dob
    parts = []
    for m in range(world.history.n_months):
        kids = children(world, m)
        hit = rng.random((len(KINDS), len(kids))) < probabilities(world, m, kids)
        kind, idx = np.nonzero(hit)
        who = kids[idx]
        lo = np.maximum(int(ms[m]), dob[who])
        day = lo + (rng.random(len(who)) * (int(ms[m + 1]) - lo)).astype(np.int32)
        parts.append(Events(who, day, {"kind": kind.astype(np.int8)}))
    return Events.concat(parts)
