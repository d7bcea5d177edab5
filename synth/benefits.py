"""Revenues and benefits: council tax reduction, housing support, council tax arrears,
discretionary housing payments and free-school-meal awards, claimed by the head of a household.

Low-income households claim when they move in and are re-awarded each April; arrears and
discretionary payments rise with need and crisis.
"""

from __future__ import annotations

import numpy as np

from safeguard.synth.build import World
from safeguard.synth.events import Events
from safeguard.synth.geography import OWNER

EVENT_TYPES = ("council_tax_arrears", "council_tax_reduction", "housing_benefit",
               "universal_credit_housing", "discretionary_housing_payment", "free_school_meals")  # fmt: skip
B = {e: i for i, e in enumerate(EVENT_TYPES)}


def _claimant(
    world: World, rng: np.random.Generator, month: np.ndarray, family: np.ndarray
) -> np.ndarray:
    head = world.heads[month, family]
    partner = world.partners[month, family]
    return np.where((partner >= 0) & (rng.random(len(family)) < 0.25), partner, head)


def simulate(rng: np.random.Generator, world: World, first_day: int) -> Events:
    """Benefit and council-tax rows for months from ``first_day`` (the earliest look-back window)."""
    h, geo, p = world.history, world.geo, world.people
    ms = world.month_starts
    m_first = int(world.month_of(np.array([first_day]))[0])
    addr = h.address[m_first:]
    months = np.arange(m_first, h.n_months)
    active = addr >= 0
    prev = np.vstack(
        [
            h.address[m_first - 1 : m_first] if m_first else np.full((1, addr.shape[1]), -1),
            addr[:-1],
        ]
    )
    moved_in = active & (addr != prev)
    april = np.array([np.datetime64(int(d), "D").astype(object).month == 4 for d in ms[months]])
    low = h.low_income[None, :] & active
    renter = active & (geo.addr_tenure[np.maximum(addr, 0)] != OWNER)
    parts = []

    def emit(mask: np.ndarray, etype: int, amount: tuple[float, float] | None) -> None:
        mi, f = np.nonzero(mask)
        m = months[mi]
        who = _claimant(world, rng, m, f)
        ok = who >= 0
        m, f, who = m[ok], f[ok], who[ok]
        day = ms[m] + (rng.random(len(m)) * (ms[m + 1] - ms[m])).astype(np.int32)
        amt = (
            np.round(rng.lognormal(np.log(amount[0]), amount[1], len(m)), 2)
            if amount
            else np.full(len(m), np.nan)
        )
        parts.append(Events(who, day, {"etype": np.full(len(m), etype, np.int8), "amount": amt}))

    award = low & (moved_in | april[:, None])
    emit(award, B["council_tax_reduction"], (1000.0, 0.35))
    housing = award & renter
    head_age = np.zeros(housing.shape)
    mi, f = np.nonzero(housing)
    head = world.heads[months[mi], f]
    head_age[mi, f] = (ms[months[mi]] - p.dob[np.maximum(head, 0)]) / 365.25
    emit(housing & (head_age < 66), B["universal_credit_housing"], (620.0, 0.3))
    emit(housing & (head_age >= 66), B["housing_benefit"], (480.0, 0.3))
    need, crisis = h.need[None, :], h.crisis[m_first:]
    arrears = active & (
        rng.random(addr.shape)
        < 0.004 * np.exp(1.0 * (need - 0.5) + 1.0 * crisis) * np.where(low, 1.5, 1.0)
    )
    emit(arrears, B["council_tax_arrears"], (420.0, 0.6))
    dhp = renter & low & crisis & (rng.random(addr.shape) < 0.03)
    emit(dhp, B["discretionary_housing_payment"], (600.0, 0.6))
    september = np.array([np.datetime64(int(d), "D").astype(object).month == 9 for d in ms[months]])
    school_kids = _school_age_children(world, months)
    emit(low & (school_kids > 0) & (september[:, None] | moved_in), B["free_school_meals"], None)
    return Events.concat(parts)


def _school_age_children(world: World, months: np.ndarray) -> np.ndarray:
    """(months, F) counts of children aged 4-15 in each family."""
    h, p = world.history, world.people
    out = np.zeros((len(months), h.n_families), dtype=np.int16)
    for i, m in enumerate(months):
        fam = h.family_of[m]
        age = (world.month_starts[m] - p.dob) / 365.25
        kids = (fam >= 0) & (age >= 4) & (age < 16)
        out[i] = np.bincount(fam[kids], minlength=h.n_families)
    return out
