"""The simulated world behind an estate: people, families, and their month-by-month history.

Everything here is the truth no agency sees whole. Agencies observe it through events
(:mod:`synth.agencies`) and record it with noise (:mod:`safeguard.synth.registry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Kinship of a person inside their family (household).
HEAD, PARTNER, CHILD, GRANDPARENT, OTHER = 0, 1, 2, 3, 4
#: Sex codes.
MALE, FEMALE = 0, 1
#: Day number far in the future ("never").
NEVER = np.int32(2**31 - 1)


@dataclass
class People:
    """One row per person, capacity fixed at the estate size (later births are pre-allocated)."""

    sex: np.ndarray  # int8
    dob: np.ndarray  # int32 day number
    ethnicity: np.ndarray  # int8 index into ETHNICITY_CODES
    tradition: np.ndarray  # int8 naming tradition
    given: np.ndarray  # int32 given-name id
    surname: np.ndarray  # int32 surname id at birth / start
    new_surname: np.ndarray  # int32 surname id after a change (-1 none)
    surname_change_day: np.ndarray  # int32 (NEVER when unchanged)
    disability: np.ndarray  # bool
    nhs_number: np.ndarray  # int64, 10 digits with a valid mod-11 check digit
    mother: np.ndarray  # int32 birth mother of people born in the simulation (-1 for others)

    @property
    def n(self) -> int:
        return len(self.sex)

    def surname_on(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Surname id of people on given days (after a change, the new one)."""
        changed = day >= self.surname_change_day[person]
        return np.where(changed, self.new_surname[person], self.surname[person])

    def age_on(self, person: np.ndarray, day: np.ndarray | int) -> np.ndarray:
        """Whole years of age on a day (approximate at the day of a birthday: 365.25-day years)."""
        return ((np.asarray(day) - self.dob[person]) / 365.25).astype(np.int32)


@dataclass
class Families:
    """Growable family (household) table: a family id is a household unit over time."""

    need: list[float] = field(default_factory=list)
    low_income: list[bool] = field(default_factory=list)
    child_surname: list[int] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.asarray(self.need, dtype=np.float32),
            np.asarray(self.low_income, dtype=bool),
            np.asarray(self.child_surname, dtype=np.int32),
        )


@dataclass
class History:
    """Month-by-month state of the world (month index m in 0..T-1)."""

    family_of: np.ndarray  # (T, N) int32: family of each person, -1 before birth
    kin: np.ndarray  # (T, N) int8: kinship in that family
    address: np.ndarray  # (T, F) int32: address of each family, -1 when not formed / dissolved
    crisis: np.ndarray  # (T, F) bool: family in an acute crisis that month
    ex_partner: np.ndarray  # (N,) int32: the latest ex-partner of a person, -1 none
    need: np.ndarray  # (F,) float32 latent need of each family
    low_income: np.ndarray  # (F,) bool
    homeless: np.ndarray  # (k, 3) int32: family, month, day of homeless applications
    ta_spells: np.ndarray  # (k, 4) int32: family, start day, end day (NEVER if open), address
    evictions: np.ndarray  # (k, 2) int32: family, day

    @property
    def n_months(self) -> int:
        return self.family_of.shape[0]

    @property
    def n_families(self) -> int:
        return self.address.shape[1]

    def members(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        """People sorted by family in a month, and the start offset of each family's block."""
        fam = self.family_of[month]
        order = np.argsort(fam, kind="stable").astype(np.int32)
        sorted_fam = fam[order]
        starts = np.searchsorted(sorted_fam, np.arange(self.n_families + 1)).astype(np.int64)
        return order, starts
