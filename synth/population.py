"""The households and people living in the estate at the first simulated month.

Household types follow the shape of England's (ONS Families and Households 2023, Census 2021):
about 30% one-person, 27% couples without dependent children, 19% couples with dependent
children, 7.5% lone parents, 9% parents with adult children, 2.5% multi-generational and 5%
shared households, giving ~2.3 people per household and ~21% children.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safeguard.synth.config import ETHNICITY_CODES
from safeguard.synth.geography import Geography
from safeguard.synth.names import NameBook, draw_traditions
from safeguard.synth.world import CHILD, FEMALE, GRANDPARENT, HEAD, MALE, OTHER, PARTNER

SINGLE, COUPLE, COUPLE_KIDS, LONE_PARENT, ADULT_KIDS, MULTIGEN, SHARED = range(7)
TYPE_SHARES = np.array([0.28, 0.27, 0.20, 0.075, 0.09, 0.03, 0.055])
TYPE_NEED_SHIFT = np.array([0.1, -0.25, 0.0, 0.45, -0.1, 0.2, 0.1])
_E = {code: i for i, code in enumerate(ETHNICITY_CODES)}
_WHITE = [_E[c] for c in ("WBRI", "WIRI", "WIRT", "WOTH", "WROM")]
_ASIAN = [_E[c] for c in ("AIND", "APKN", "ABAN", "AOTH")]


@dataclass
class Start:
    """People (first ``n`` rows) and families at the first simulated month."""

    sex: np.ndarray
    age_days: np.ndarray  # age in days at the first month
    ethnicity: np.ndarray
    kin: np.ndarray
    family: np.ndarray
    family_district: np.ndarray
    family_type: np.ndarray
    family_need: np.ndarray


def _n_kids(rng: np.random.Generator, types: np.ndarray) -> np.ndarray:
    kids = np.zeros(len(types), dtype=np.int64)
    for t, p in ((COUPLE_KIDS, [0.42, 0.40, 0.13, 0.05]), (LONE_PARENT, [0.5, 0.33, 0.12, 0.05]),
                 (MULTIGEN, [0.2, 0.35, 0.3, 0.15])):  # fmt: skip
        m = types == t
        kids[m] = rng.choice(np.arange(len(p)) + (t != MULTIGEN), size=m.sum(), p=p)
    return kids


def initial_households(rng: np.random.Generator, geo: Geography, n0: int) -> Start:
    """Draw households until ``n0`` people live in them (the last household is trimmed)."""
    h = int(n0 / 2.2) + 50
    types = rng.choice(len(TYPE_SHARES), size=h, p=TYPE_SHARES)
    partner = np.isin(types, [COUPLE, COUPLE_KIDS]) | (
        np.isin(types, [ADULT_KIDS, MULTIGEN])
        & (rng.random(h) < np.where(types == MULTIGEN, 0.5, 0.7))
    )
    kids = _n_kids(rng, types)
    adult_kids = np.where(types == ADULT_KIDS, rng.integers(1, 3, h), 0)
    grand = np.where(types == MULTIGEN, rng.integers(1, 3, h), 0)
    others = np.where(types == SHARED, rng.integers(1, 4, h), 0)
    sizes = 1 + partner + kids + adult_kids + grand + others
    cum = np.cumsum(sizes)
    h = int(np.searchsorted(cum, n0) + 1)
    types, kids, adult_kids, grand, others = (
        a[:h] for a in (types, kids, adult_kids, grand, others)
    )
    partner = partner[:h]
    sizes = sizes[:h].copy()
    sizes[-1] -= int(cum[h - 1] - n0)
    # Member slots in order: head, partner, kids, adult kids, grandparents, others.
    slots: list[tuple[np.ndarray, int]] = [
        (np.ones(h, dtype=np.int64), HEAD),
        (partner.astype(np.int64), PARTNER),
        (kids, CHILD),
        (adult_kids, CHILD),
        (grand, GRANDPARENT),
        (others, OTHER),
    ]
    fam = np.concatenate([np.repeat(np.arange(h), c) for c, _ in slots])
    kin = np.concatenate([np.full(int(c.sum()), k, dtype=np.int8) for c, k in slots])
    adult_kid = np.concatenate([np.full(int(c.sum()), i == 3) for i, (c, _) in enumerate(slots)])
    order = np.argsort(fam, kind="stable")
    fam, kin, adult_kid = fam[order], kin[order], adult_kid[order]
    # Trim the last household to the exact size.
    rank = np.arange(len(fam)) - np.searchsorted(fam, fam)
    keep = rank < sizes[fam]
    fam, kin, adult_kid = fam[keep], kin[keep], adult_kid[keep]
    n = len(fam)
    # Ages (years) at the first month.
    head_lo = np.array([18, 22, 22, 18, 42, 25, 18])[types]
    head_hi = np.array([90, 90, 55, 52, 70, 50, 40])[types]
    head_age = rng.uniform(head_lo, head_hi)
    single_old = (types == SINGLE) & (rng.random(h) < 0.35)
    head_age[single_old] = rng.uniform(62, 92, single_old.sum())
    age = np.empty(n)
    ha = head_age[fam]
    age[kin == HEAD] = ha[kin == HEAD]
    age[kin == PARTNER] = np.clip(
        ha[kin == PARTNER] + rng.normal(0, 3, (kin == PARTNER).sum()), 18, 95
    )
    is_kid = (kin == CHILD) & ~adult_kid
    age[is_kid] = rng.uniform(0, 1, is_kid.sum()) * np.clip(ha[is_kid] - 16, 1, 18)
    twins = is_kid & (rng.random(n) < 0.03)
    prev = np.maximum(np.arange(n) - 1, 0)
    twins &= is_kid[prev] & (fam[prev] == fam)
    age[twins] = age[prev[twins]]
    age[adult_kid] = rng.uniform(18, np.clip(ha[adult_kid] - 18, 18.5, 30))
    gp = kin == GRANDPARENT
    age[gp] = np.clip(ha[gp] + rng.uniform(20, 35, gp.sum()), 45, 99)
    age[kin == OTHER] = rng.uniform(18, 40, (kin == OTHER).sum())
    # Sex: lone parents mostly mothers; couples mostly opposite-sex.
    sex = rng.integers(0, 2, n).astype(np.int8)
    head_female = np.where(types == LONE_PARENT, rng.random(h) < 0.9, rng.random(h) < 0.5)
    sex[kin == HEAD] = np.where(head_female[fam[kin == HEAD]], FEMALE, MALE)
    same_sex = rng.random(h) < 0.03
    p = kin == PARTNER
    sex[p] = np.where(same_sex[fam[p]], sex[kin == HEAD][fam[p]], 1 - sex[kin == HEAD][fam[p]])
    # Districts weighted by housing stock; ethnicity from the district mix.
    n_d = geo.n_districts
    stock = np.bincount(geo.addr_district, minlength=n_d).astype(float)
    district = rng.choice(n_d, size=h, p=stock / stock.sum())
    eth_cum = geo.district_eth_cum[district[fam]]
    ethnicity = (rng.random(n)[:, None] > eth_cum).sum(axis=1).astype(np.int8)
    head_eth = ethnicity[kin == HEAD][fam]
    partner_eth = np.full(h, -1, dtype=np.int8)
    partner_eth[fam[p]] = np.where(rng.random(p.sum()) < 0.9, head_eth[p], ethnicity[p])
    ethnicity[p] = partner_eth[fam[p]]
    kids = kin == CHILD
    ethnicity[kids] = child_ethnicity(head_eth[kids], partner_eth[fam[kids]])
    ethnicity[gp] = head_eth[gp]
    need = (
        rng.normal(0.0, 1.0, h)
        + 0.45 * (5.5 - geo.district_imd[district]) / 4.5
        + TYPE_NEED_SHIFT[types]
    )
    return Start(sex, (age * 365.25).astype(np.int32), ethnicity, kin, fam.astype(np.int32),
                 district.astype(np.int32), types.astype(np.int8), need.astype(np.float32))  # fmt: skip


def child_ethnicity(mother: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Children of a mixed couple get the matching mixed code; otherwise the parent's code."""
    out = mother.copy()
    mixed = (other >= 0) & (other != mother)
    white = np.isin(mother, _WHITE) | np.isin(other, _WHITE)
    for code, group in (("MWBC", [_E["BCRB"]]), ("MWBA", [_E["BAFR"]]), ("MWAS", _ASIAN)):
        hit = mixed & white & (np.isin(mother, group) | np.isin(other, group))
        out[hit] = _E[code]
    rest = mixed & (out == mother) & white
    out[rest] = _E["MOTH"]
    return out


def name_people(
    rng: np.random.Generator, names: NameBook, start: Start, birth_year: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Given names, surnames and traditions; children mostly carry the father's surname."""
    tradition = draw_traditions(rng, start.ethnicity, ETHNICITY_CODES)
    given = names.draw_given(rng, tradition, start.sex, birth_year)
    own = names.draw_surname(rng, tradition)
    fam, kin = start.family, start.kin
    h = len(start.family_type)
    head_idx = np.flatnonzero(kin == HEAD)
    head_of = np.empty(h, dtype=np.int64)
    head_of[fam[head_idx]] = head_idx
    family_surname = own[head_of]
    partner_idx = np.flatnonzero(kin == PARTNER)
    partner_of = np.full(h, -1, dtype=np.int64)
    partner_of[fam[partner_idx]] = partner_idx
    surname = own.copy()
    # Partners mostly share the family surname (marriage); a quarter keep their own.
    shares = rng.random(len(partner_idx)) < 0.75
    surname[partner_idx[shares]] = family_surname[fam[partner_idx[shares]]]
    # Father's surname for children: the male adult of the couple if any.
    father = np.where((partner_of >= 0) & (start.sex[head_of] == FEMALE), partner_of, head_of)
    kids = np.flatnonzero((kin == CHILD) | (kin == GRANDPARENT))
    kid_surname = np.where(
        rng.random(len(kids)) < 0.85, surname[father[fam[kids]]], surname[head_of[fam[kids]]]
    )
    lone = start.family_type[fam[kids]] == LONE_PARENT
    absent_father = names.draw_surname(rng, tradition[head_of[fam[kids]]])
    kid_surname = np.where(lone & (rng.random(len(kids)) < 0.45), absent_father, kid_surname)
    surname[kids] = kid_surname
    gp = kin[kids] == GRANDPARENT
    surname[kids[gp]] = family_surname[fam[kids[gp]]]
    surname = _tradition_female_surnames(rng, names, start, surname)
    child_surname = surname[father]
    return given, surname, tradition, child_surname.astype(np.int32)


def _tradition_female_surnames(
    rng: np.random.Generator, names: NameBook, start: Start, surname: np.ndarray
) -> np.ndarray:
    """Bangladeshi women often carry Begum/Khatun and Sikh women Kaur, unlike their husbands."""
    adult_f = (start.sex == FEMALE) & (start.age_days > 18 * 365)
    ban = adult_f & (start.ethnicity == _E["ABAN"]) & (rng.random(n := len(surname)) < 0.5)
    surname[ban] = np.where(
        rng.random(ban.sum()) < 0.7, names.surname_id("Begum"), names.surname_id("Khatun")
    )
    sikh = adult_f & (surname == names.surname_id("Singh")) & (rng.random(n) < 0.7)
    surname[sikh] = names.surname_id("Kaur")
    return surname
