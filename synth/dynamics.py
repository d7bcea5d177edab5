"""Month-by-month life of the estate: births, leaving home, separations, new partners, moves,
homelessness and temporary accommodation, and the crises that drive agency contact.

Each step is vectorised over people or families; only the loop over months is in Python.
Rates are per month and were chosen so that the yearly figures land near England's (see
``synth/README.md``): ~10% of people move address in a year, ~1.5% of couples with children
separate, ~4% of lone parents re-partner.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from safeguard.synth.config import GenerationError
from safeguard.synth.geography import OWNER, PRIVATE_RENT, SOCIAL_RENT, Geography
from safeguard.synth.household_events import homelessness, partner_up
from safeguard.synth.housing_stock import allocate
from safeguard.synth.population import child_ethnicity
from safeguard.synth.world import CHILD, FEMALE, HEAD, NEVER, PARTNER, Families, History, People

YEAR = 365.25


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Simulation:
    """Mutable state of the world while months are simulated; :meth:`run` returns the history."""

    def __init__(self, rng: np.random.Generator, geo: Geography, people: People, fam: np.ndarray,
                 kin: np.ndarray, families: Families, family_address: np.ndarray, n_born: int,
                 month_starts: np.ndarray, draw_newborn: Callable[[np.ndarray, np.ndarray], None]) -> None:  # fmt: skip
        self.rng, self.geo, self.p = rng, geo, people
        self.fam, self.kin = fam, kin
        self.families = families
        self.need, self.low_income, self.child_surname = families.arrays()
        f0 = len(self.need)
        self.cap = f0 + people.n // 2 + 1000
        self.need = np.resize(self.need, self.cap)
        self.low_income = np.resize(self.low_income, self.cap)
        self.child_surname = np.resize(self.child_surname, self.cap)
        self.n_fam = f0
        self.address = np.full(self.cap, -1, dtype=np.int32)
        self.address[:f0] = family_address
        self.crisis = np.zeros(self.cap, dtype=bool)
        on = self._crisis_on(self.need[:f0])
        self.crisis[:f0] = rng.random(f0) < on / (on + 1 / 7)
        self.ta_until = np.full(self.cap, -1, dtype=np.int32)
        self.moved = np.zeros(self.cap, dtype=bool)
        self.occupied = np.zeros(len(geo.addr_line), dtype=bool)
        self.occupied[family_address[family_address >= 0]] = True
        self.ex_partner = np.full(people.n, -1, dtype=np.int32)
        self.n_born = n_born
        self.month_starts = month_starts
        self.draw_newborn = draw_newborn
        self.on_month: Callable[[int], None] | None = None
        self.homeless: list[tuple[int, int, int]] = []
        self.ta: list[list[int]] = []
        self.ta_open: dict[int, int] = {}
        self.evictions: list[tuple[int, int]] = []

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _crisis_on(need: np.ndarray) -> np.ndarray:
        return np.minimum(0.25, 0.006 * np.exp(0.8 * need))

    def _new_families(self, need: np.ndarray, low: np.ndarray, surname: np.ndarray) -> np.ndarray:
        k = len(need)
        if self.n_fam + k > self.cap:
            raise GenerationError(
                f"family table full ({self.cap} households): the simulation formed more households "
                "than sized for; lower the leaving-home or separation rates"
            )
        ids = np.arange(self.n_fam, self.n_fam + k, dtype=np.int32)
        self.need[ids], self.low_income[ids], self.child_surname[ids] = need, low, surname
        self.n_fam += k
        return ids

    def tenure_for(self, fams: np.ndarray, young: np.ndarray) -> np.ndarray:
        u = self.rng.random(len(fams))
        p_social = _sigmoid(-2.3 + 1.0 * self.need[fams])
        p_private = np.where(young, 0.55, 0.22)
        return np.where(
            u < p_social, SOCIAL_RENT, np.where(u < p_social + p_private, PRIVATE_RENT, OWNER)
        )

    def move(self, fams: np.ndarray, tenure: np.ndarray, origin: np.ndarray | None = None,
             local: float = 0.5) -> None:  # fmt: skip
        """Give families new vacant addresses (same district as ``origin`` with prob. ``local``)."""
        if len(fams) == 0:
            return
        old = self.address[fams]
        if origin is None:
            origin = self.geo.addr_district[np.maximum(old, 0)]
        new = allocate(self.rng, self.geo, self.occupied, origin, tenure, local)
        self.occupied[old[old >= 0]] = False
        self.address[fams] = new
        self.moved[fams] = True

    def _dissolve(self, fams: np.ndarray) -> None:
        old = self.address[fams]
        self.occupied[old[old >= 0]] = False
        self.address[fams] = -1
        self.crisis[fams] = False

    def _set_up_alone(
        self, people: np.ndarray, keep: float, noise: float, young: np.ndarray
    ) -> None:
        """Each person leaves their family and starts a one-person household nearby."""
        if len(people) == 0:
            return
        rng, geo = self.rng, self.geo
        old = self.fam[people]
        need = keep * self.need[old] + noise * rng.normal(0, 1, len(people))
        low = (need + rng.normal(0, 0.8, len(people))) > 1.1
        surname = self.p.surname_on(people, np.full(len(people), NEVER - 1))
        fams = self._new_families(need.astype(np.float32), low, surname)
        self.fam[people], self.kin[people] = fams, HEAD
        origin = geo.addr_district[np.maximum(self.address[old], 0)]
        self.move(fams, self.tenure_for(fams, young), origin=origin)

    # -- monthly steps ---------------------------------------------------------------------
    def step(self, m: int, births: int) -> None:
        """Advance the world by one month."""
        p, rng = self.p, self.rng
        day0 = int(self.month_starts[m])
        mlen = int(self.month_starts[m + 1]) - day0
        self.moved[:] = False
        alive = self.fam >= 0
        age = np.where(alive, (day0 - p.dob) / YEAR, -1.0)
        n = self.n_fam
        counts = np.bincount(self.fam[alive], minlength=n)
        kids = np.bincount(self.fam[alive & (age < 18)], minlength=n)
        head = np.full(n, -1, dtype=np.int64)
        idx = np.flatnonzero(alive & (self.kin == HEAD))
        head[self.fam[idx]] = idx
        partner = np.full(n, -1, dtype=np.int64)
        idx = np.flatnonzero(alive & (self.kin == PARTNER))
        partner[self.fam[idx]] = idx
        self._births(day0, mlen, births, alive, age, kids, partner)
        self._leave_home(alive, age)
        self._separate(age, kids, head, partner)
        partner_up(self, day0, mlen, age, counts, kids, head, partner)
        active = np.zeros(self.n_fam, dtype=bool)
        active[self.fam[self.fam >= 0]] = True
        gone = np.flatnonzero(~active & (self.address[: self.n_fam] >= 0))
        self._dissolve(gone)
        homelessness(self, m, day0, mlen, active, kids)
        cand = np.flatnonzero(
            active & ~self.moved[: self.n_fam] & (self.ta_until[: self.n_fam] < 0)
        )
        tenure = self.geo.addr_tenure[self.address[cand]]
        factor = np.array([0.6, 1.8, 0.8, 0.0])[tenure]
        rate = 0.0075 * np.exp(0.2 * self.need[cand] + 0.3 * self.crisis[cand]) * factor
        movers = cand[rng.random(len(cand)) < rate]
        hd = np.full(self.n_fam, -1, dtype=np.int64)
        hd[: len(head)] = head
        young = age[np.maximum(hd[movers], 0)] < 35
        self.move(movers, self.tenure_for(movers, young))
        c = self.crisis[: self.n_fam]
        u = rng.random(self.n_fam)
        on = u < self._crisis_on(self.need[: self.n_fam])
        self.crisis[: self.n_fam] = np.where(c, u >= 1 / 7, on) & active

    def _births(self, day0: int, mlen: int, births: int, alive: np.ndarray, age: np.ndarray,
                kids: np.ndarray, partner: np.ndarray) -> None:  # fmt: skip
        p, rng = self.p, self.rng
        births = min(births, p.n - self.n_born)
        mothers = np.flatnonzero(
            alive & (p.sex == FEMALE) & (age >= 17) & (age < 46) & (self.kin <= PARTNER)
        )
        if births <= 0 or len(mothers) == 0:
            return
        f = self.fam[mothers]
        w = (
            np.exp(-(((age[mothers] - 30.5) / 6.5) ** 2))
            * np.where(partner[f] >= 0, 1.0, 0.35)
            / (1 + kids[f])
        )
        pick = rng.choice(
            len(mothers), size=min(births, len(mothers)), replace=False, p=w / w.sum()
        )
        chosen = mothers[np.sort(pick)]
        twins = chosen[rng.random(len(chosen)) < 0.015]
        mothers_all = np.concatenate([chosen, twins])[: p.n - self.n_born]
        new = np.arange(self.n_born, self.n_born + len(mothers_all))
        self.n_born += len(new)
        day = day0 + rng.integers(0, mlen, len(new))
        k = len(new) - len(chosen)
        if k > 0:
            day[len(chosen) :] = day[np.searchsorted(chosen, twins[:k])]  # twins share a birthday
        f = self.fam[mothers_all]
        other = np.where(partner[f] >= 0, p.ethnicity[np.maximum(partner[f], 0)], -1).astype(
            np.int8
        )
        p.dob[new] = day
        p.ethnicity[new] = child_ethnicity(p.ethnicity[mothers_all], other)
        p.surname[new] = self.child_surname[f]
        self.fam[new], self.kin[new] = f, CHILD
        self.draw_newborn(new, mothers_all)

    def _leave_home(self, alive: np.ndarray, age: np.ndarray) -> None:
        cand = np.flatnonzero(alive & (self.kin == CHILD) & (age >= 18))
        a = age[cand]
        rate = np.where(a < 22, 0.008, np.where(a < 30, 0.016, 0.006))
        leavers = cand[self.rng.random(len(cand)) < rate]
        self._set_up_alone(leavers, 0.6, 0.8, np.ones(len(leavers), dtype=bool))

    def _separate(
        self, age: np.ndarray, kids: np.ndarray, head: np.ndarray, partner: np.ndarray
    ) -> None:
        rng, p = self.rng, self.p
        n = len(kids)
        f = np.flatnonzero((partner >= 0) & (head >= 0) & (kids > 0) & (self.ta_until[:n] < 0))
        rate = 0.0012 * np.exp(0.35 * self.need[f] + 0.6 * self.crisis[f])
        f = f[rng.random(len(f)) < rate]
        f = f[self.fam[head[f]] == f]  # head still there (not moved out this month)
        if len(f) == 0:
            return
        h, q = head[f], partner[f]
        leaver = np.where(p.sex[h] == FEMALE, q, np.where(p.sex[q] == FEMALE, h, q))
        stayer = np.where(leaver == h, q, h)
        self.kin[stayer] = HEAD
        self.ex_partner[leaver], self.ex_partner[stayer] = stayer, leaver
        self._set_up_alone(leaver, 1.0, 0.5, age[leaver] < 35)

    def run(self, births_per_month: np.ndarray) -> History:
        """Simulate every month and return the recorded history."""
        t = len(births_per_month)
        family_of = np.empty((t, self.p.n), dtype=np.int32)
        kin = np.empty((t, self.p.n), dtype=np.int8)
        address = np.empty((t, self.cap), dtype=np.int32)
        crisis = np.empty((t, self.cap), dtype=bool)
        for m in range(t):
            births = int(births_per_month[m]) if m < t - 1 else self.p.n - self.n_born
            self.step(m, births)
            family_of[m], kin[m] = self.fam, self.kin
            address[m], crisis[m] = self.address, self.crisis
            if self.on_month is not None:
                self.on_month(m)
        f = self.n_fam
        return History(
            family_of=family_of,
            kin=kin,
            address=np.ascontiguousarray(address[:, :f]),
            crisis=np.ascontiguousarray(crisis[:, :f]),
            ex_partner=self.ex_partner,
            need=self.need[:f].copy(),
            low_income=self.low_income[:f].copy(),
            homeless=np.array(self.homeless, dtype=np.int32).reshape(-1, 3),
            ta_spells=np.array(self.ta, dtype=np.int64).reshape(-1, 4).astype(np.int32),
            evictions=np.array(self.evictions, dtype=np.int32).reshape(-1, 2),
        )
