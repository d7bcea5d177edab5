"""Assemble the simulated world: geography, the starting population, and its monthly history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from safeguard.synth.config import ETHNICITY_CODES
from safeguard.synth.dynamics import Simulation
from safeguard.synth.geography import OWNER, PRIVATE_RENT, SOCIAL_RENT, Geography, build_geography
from safeguard.synth.household import Spells, heads_and_partners, membership_spells
from safeguard.synth.ids import nhs_numbers
from safeguard.synth.names import NameBook, draw_traditions
from safeguard.synth.population import LONE_PARENT, initial_households, name_people
from safeguard.synth.timeline import Timeline
from safeguard.synth.world import NEVER, Families, History, People

#: Crude birth rate (England and Wales 2022: ~10.5 live births per 1,000 people a year).
BIRTHS_PER_PERSON_YEAR = 0.0105


@dataclass
class World:
    """Everything true about the estate."""

    geo: Geography
    names: NameBook
    people: People
    history: History
    timeline: Timeline
    spells: Spells
    heads: np.ndarray  # (T, F) head of each family each month, -1 none
    partners: np.ndarray  # (T, F) partner of the head, -1 none
    month_starts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.month_starts = self.timeline.month_starts

    def month_of(self, day: np.ndarray) -> np.ndarray:
        """Simulated month index of day numbers."""
        idx = np.searchsorted(self.month_starts, day, side="right") - 1
        return np.clip(idx, 0, self.history.n_months - 1)

    def family_on(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Family of people on given days; before birth, the birth mother's family (an unborn
        child on the pre-birth pathway lives where its mother lives). -1 when neither is known."""
        m = self.month_of(day)
        fam = self.history.family_of[m, person]
        mother = self.people.mother[person]
        unborn = (fam < 0) & (mother >= 0)
        if unborn.any():
            fam = fam.copy()
            fam[unborn] = self.history.family_of[m[unborn], mother[unborn]]
        return fam

    def address_on(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Address id of people on given days (the mother's before birth; -1 when unknown)."""
        m = self.month_of(day)
        f = self.family_on(person, day)
        return np.where(f >= 0, self.history.address[m, np.maximum(f, 0)], -1)


def _disability(rng: np.random.Generator, age_years: np.ndarray) -> np.ndarray:
    """Disability by age: ~7% of children, rising to ~35% over 65 (Census 2021: 17.7% overall)."""
    p = np.where(
        age_years < 18, 0.07, np.where(age_years < 45, 0.10, np.where(age_years < 65, 0.2, 0.35))
    )
    return rng.random(len(age_years)) < p


def build_world(
    people: int, councils: int, timeline: Timeline, rngs: dict[str, np.random.Generator],
    on_month: Callable[[int], None] | None = None,
) -> World:  # fmt: skip
    """Simulate ``timeline.n_months`` months of an estate of ``people`` people."""
    rng = rngs["population"]
    geo = build_geography(rngs["geography"], people, councils)
    names = NameBook()
    years = timeline.n_months / 12
    n0 = round(people / (1 + BIRTHS_PER_PERSON_YEAR * years))
    start = initial_households(rng, geo, n0)
    start_day = timeline.start_day
    n = people
    p = People(
        sex=np.zeros(n, np.int8), dob=np.full(n, NEVER, np.int32), ethnicity=np.zeros(n, np.int8),
        tradition=np.zeros(n, np.int8), given=np.zeros(n, np.int32), surname=np.zeros(n, np.int32),
        new_surname=np.full(n, -1, np.int32), surname_change_day=np.full(n, NEVER, np.int32),
        disability=np.zeros(n, bool), nhs_number=nhs_numbers(rng, n),
        mother=np.full(n, -1, np.int32),
    )  # fmt: skip
    p.sex[:n0], p.ethnicity[:n0] = start.sex, start.ethnicity
    p.dob[:n0] = start_day - start.age_days - rng.integers(0, 30, n0)
    birth_year = 1970 + p.dob[:n0] // 365.25
    given, surname, tradition, child_surname = name_people(rng, names, start, birth_year)
    p.given[:n0], p.surname[:n0], p.tradition[:n0] = given, surname, tradition
    p.disability[:n0] = _disability(rng, start.age_days / 365.25)
    h = len(start.family_type)
    need = start.family_need
    score = 0.8 * need + rng.normal(0, 0.6, h)
    low_income = score > np.quantile(score, 0.76)
    families = Families(
        need=need.tolist(), low_income=low_income.tolist(), child_surname=child_surname.tolist()
    )

    def draw_newborn(new: np.ndarray, mothers: np.ndarray) -> None:
        r = rngs["births"]
        p.mother[new] = mothers
        p.sex[new] = r.integers(0, 2, len(new))
        p.tradition[new] = draw_traditions(r, p.ethnicity[new], ETHNICITY_CODES)
        p.given[new] = names.draw_given(r, p.tradition[new], p.sex[new], 1970 + p.dob[new] // 365)
        p.disability[new] = r.random(len(new)) < 0.05

    fam = np.full(n, -1, np.int32)
    fam[:n0] = start.family
    kin = np.zeros(n, np.int8)
    kin[:n0] = start.kin
    sim = Simulation(rngs["dynamics"], geo, p, fam, kin, families, np.full(h, -1, np.int32), n0,
                     timeline.month_starts, draw_newborn)  # fmt: skip
    head_age = np.zeros(h)
    head_age[start.family[start.kin == 0]] = start.age_days[start.kin == 0] / 365.25
    u = rng.random(h)
    p_social = 1 / (1 + np.exp(-(-2.1 + 1.0 * need + 0.6 * (start.family_type == LONE_PARENT))))
    p_private = np.where(head_age < 35, 0.5, 0.17)
    tenure = np.where(
        u < p_social, SOCIAL_RENT, np.where(u < p_social + p_private, PRIVATE_RENT, OWNER)
    )
    sim.move(np.arange(h), tenure, origin=start.family_district, local=1.0)
    sim.on_month = on_month
    births = rngs["births"].multinomial(n - n0, np.full(timeline.n_months, 1 / timeline.n_months))
    history = sim.run(births)
    heads, partners = heads_and_partners(history)
    return World(geo=geo, names=names, people=p, history=history, timeline=timeline,
                 spells=membership_spells(history), heads=heads, partners=partners)  # fmt: skip
