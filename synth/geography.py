"""Councils, postcode districts, deprivation, schools and the address stock of an estate.

Postcodes are fictional but UK-shaped (``NB3 4QX``): each council has its own two area letters
that no real UK postcode area uses, and ``NB1``..``NBn`` districts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safeguard.synth import name_data
from safeguard.synth.config import ETHNICITY_CODES

#: Household tenure of an address.
OWNER, PRIVATE_RENT, SOCIAL_RENT, TEMPORARY = 0, 1, 2, 3
N_TENURES = 4

#: Ethnicity mix of the estate (an urban English council; Census 2021 England & Wales is
#: 74% White British, this estate is more diverse so that common-name collisions are frequent).
ETHNICITY_MIX: dict[str, float] = {
    "WBRI": 0.60, "WIRI": 0.01, "WIRT": 0.004, "WOTH": 0.08, "WROM": 0.006, "MWBC": 0.016,
    "MWBA": 0.008, "MWAS": 0.012, "MOTH": 0.012, "AIND": 0.04, "APKN": 0.06, "ABAN": 0.025,
    "AOTH": 0.02, "BCRB": 0.025, "BAFR": 0.04, "BOTH": 0.008, "CHNE": 0.01, "OOTH": 0.024,
}  # fmt: skip
_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))  # real inward codes skip C I K M O V
PEOPLE_PER_DISTRICT = 2_500
MIN_DISTRICTS, MAX_DISTRICTS = 10, 30


@dataclass(frozen=True)
class Geography:
    """Districts, addresses and schools; every array is indexed by its own id."""

    council_names: tuple[str, ...]
    council_letters: tuple[str, ...]
    la_numbers: tuple[int, ...]
    district_code: np.ndarray  # object, "NB3"
    district_council: np.ndarray  # int16
    district_imd: np.ndarray  # int8, 1 = most deprived
    district_area_code: np.ndarray  # object
    district_eth_cum: np.ndarray  # (D, E) cumulative ethnicity probabilities
    addr_district: np.ndarray  # int32
    addr_tenure: np.ndarray  # int8
    addr_line: np.ndarray  # object, canonical "Flat 3, 27 Mill Road"
    addr_postcode: np.ndarray  # int32 into postcodes
    postcodes: np.ndarray  # object, canonical "NB3 4QX"
    group_start: np.ndarray  # addresses sorted by (district, tenure): start of each group
    school_urn: np.ndarray  # (D, 3) int: two primaries, one secondary
    school_estab: np.ndarray  # (D, 3) int: DfE establishment numbers (for UPNs)

    @property
    def n_districts(self) -> int:
        return len(self.district_code)

    def group_range(
        self, district: np.ndarray, tenure: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (exclusive) of the address ids of each (district, tenure)."""
        g = district.astype(np.int64) * N_TENURES + tenure
        return self.group_start[g], self.group_start[g + 1]


def districts_per_council(people: int, councils: int) -> int:
    """Districts per council: ~2,500 people each, 10..30 (so every IMD decile appears)."""
    return int(
        np.clip(round(people / councils / PEOPLE_PER_DISTRICT), MIN_DISTRICTS, MAX_DISTRICTS)
    )


def build_geography(rng: np.random.Generator, people: int, councils: int) -> Geography:
    """Lay out councils, districts and an address stock sized for ``people`` with room to move."""
    per = districts_per_council(people, councils)
    codes, council_of, imd, area_codes = [], [], [], []
    for c in range(councils):
        letters = name_data.COUNCIL_AREA_LETTERS[c]
        deciles = np.resize(np.arange(1, 11), per)
        rng.shuffle(deciles)
        for d in range(per):
            codes.append(f"{letters}{d + 1}")
            council_of.append(c)
            imd.append(int(deciles[d]))
            area_codes.append(f"E0299{c}{d + 1:03d}")
    n_d = len(codes)
    eth_cum = _district_ethnicity(rng, n_d)
    households = people / 2.3 / n_d * rng.lognormal(0.0, 0.15, n_d)
    lines, pcs, dist, ten = [], [], [], []
    for d in range(n_d):
        # Housing stock with room to move: owner 62%, private rent 21%, social rent 17% of demand.
        sizes = np.ceil(households[d] * 1.25 * np.array([0.62 * 1.5, 0.21 * 2.2, 0.17 * 2.2]) + 12)
        ln, pc = _addresses(rng, codes[d], int(sizes.sum()), flat_share=0.3)
        tenure = rng.choice(3, size=len(ln), p=sizes / sizes.sum()).astype(np.int8)
        order = np.argsort(tenure, kind="stable")
        lines += [ln[i] for i in order]
        pcs += [pc[i] for i in order]
        ten += tenure[order].tolist()
        ta_ln, ta_pc = _hostel_rooms(rng, codes[d], int(np.ceil(households[d] * 0.03)) + 12, d)
        lines += ta_ln
        pcs += ta_pc
        ten += [TEMPORARY] * len(ta_ln)
        dist += [d] * (len(ln) + len(ta_ln))
    postcode_list, postcode_idx = np.unique(np.array(pcs, dtype=object), return_inverse=True)
    addr_district = np.array(dist, dtype=np.int32)
    addr_tenure = np.array(ten, dtype=np.int8)
    group = addr_district.astype(np.int64) * N_TENURES + addr_tenure
    group_start = np.searchsorted(group, np.arange(n_d * N_TENURES + 1)).astype(np.int64)
    urn = 100_000 + np.arange(n_d * 3).reshape(n_d, 3) * 7 + rng.integers(0, 7, (n_d, 3))
    estab = np.tile(np.array([2000, 2500, 4000]), (n_d, 1)) + np.arange(n_d)[:, None]
    return Geography(
        council_names=tuple(name_data.COUNCIL_NAMES[:councils]),
        council_letters=tuple(name_data.COUNCIL_AREA_LETTERS[:councils]),
        la_numbers=tuple(950 + c for c in range(councils)),
        district_code=np.array(codes, dtype=object),
        district_council=np.array(council_of, dtype=np.int16),
        district_imd=np.array(imd, dtype=np.int8),
        district_area_code=np.array(area_codes, dtype=object),
        district_eth_cum=eth_cum,
        addr_district=addr_district,
        addr_tenure=addr_tenure,
        addr_line=np.array(lines, dtype=object),
        addr_postcode=postcode_idx.astype(np.int32),
        postcodes=postcode_list,
        group_start=group_start,
        school_urn=urn,
        school_estab=estab,
    )


def _district_ethnicity(rng: np.random.Generator, n_d: int) -> np.ndarray:
    """Per-district ethnicity mix: the estate mix with residential clustering of minority groups."""
    base = np.array([ETHNICITY_MIX.get(code, 0.0) for code in ETHNICITY_CODES])
    tilt = rng.lognormal(0.0, 0.8, (n_d, len(base)))
    tilt[:, ETHNICITY_CODES.index("WBRI")] = 1.0
    mix = base * tilt
    mix /= mix.sum(axis=1, keepdims=True)
    return np.cumsum(mix, axis=1)


def _addresses(
    rng: np.random.Generator, district: str, size: int, flat_share: float
) -> tuple[list[str], list[str]]:
    """Make up to ``size`` distinct canonical address lines with postcodes (~15 per postcode)."""
    streets = name_data.STREET_NAMES.split()
    street_ids = rng.integers(0, len(streets), size)
    types = rng.integers(0, len(name_data.STREET_TYPES), size)
    numbers = rng.integers(1, 160, size)
    flats = np.where(rng.random(size) < flat_share, rng.integers(1, 13, size), 0)
    order = np.lexsort((flats, numbers, types, street_ids))
    lines = []
    for i in order:
        road = f"{numbers[i]} {streets[street_ids[i]]} {name_data.STREET_TYPES[types[i]][0]}"
        lines.append(f"Flat {flats[i]}, {road}" if flats[i] else road)
    lines = list(dict.fromkeys(lines))
    return lines, _postcodes(rng, district, len(lines))


def _hostel_rooms(
    rng: np.random.Generator, district: str, size: int, offset: int
) -> tuple[list[str], list[str]]:
    """Temporary accommodation: rooms in a few hostels, reused by household after household."""
    streets = name_data.STREET_NAMES.split()
    words = name_data.BUILDING_NAMES.split()
    names = [f"{words[i]} {words[i + 1]}" for i in range(0, len(words) - 1, 2)]
    lines = []
    for i in range(size):
        b = i // 25 + offset
        street = streets[(b * 7) % len(streets)]
        lines.append(f"Room {i % 25 + 1}, {names[b % len(names)]}, {10 + b} {street} Road")
    return lines, _postcodes(rng, district, size, per_unit=25)


def _postcodes(rng: np.random.Generator, district: str, n: int, per_unit: int = 15) -> list[str]:
    units = rng.integers(0, 9 * 400, n // per_unit + 1)
    out = []
    for i in range(n):
        sector, rest = divmod(int(units[i // per_unit]), 400)
        out.append(
            f"{district} {sector + 1}{_INWARD_LETTERS[rest // 20]}{_INWARD_LETTERS[rest % 20]}"
        )
    return out
