"""Name vocabularies and vectorised drawing of given names and surnames by naming tradition.

Names are held as int ids into two vocabularies (given, surname) so that millions of records can
carry them as int32 arrays; strings are only made when a file is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safeguard.synth import name_data

TRADITIONS = (
    "british",
    "irish",
    "east_european",
    "south_asian_muslim",
    "indian",
    "caribbean",
    "african",
    "chinese",
    "arabic",
)
_T = {name: i for i, name in enumerate(TRADITIONS)}

#: Ethnicity code -> (tradition, probability) choices for the naming tradition of a person.
ETHNICITY_TRADITIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "WBRI": (("british", 1.0),),
    "WIRI": (("irish", 0.7), ("british", 0.3)),
    "WIRT": (("irish", 0.5), ("british", 0.5)),
    "WOTH": (("east_european", 0.8), ("british", 0.2)),
    "WROM": (("east_european", 1.0),),
    "MWBC": (("british", 0.6), ("caribbean", 0.4)),
    "MWBA": (("british", 0.6), ("african", 0.4)),
    "MWAS": (("british", 0.5), ("south_asian_muslim", 0.3), ("indian", 0.2)),
    "MOTH": (("british", 0.7), ("arabic", 0.3)),
    "AIND": (("indian", 1.0),),
    "APKN": (("south_asian_muslim", 1.0),),
    "ABAN": (("south_asian_muslim", 1.0),),
    "AOTH": (("south_asian_muslim", 0.4), ("indian", 0.3), ("arabic", 0.3)),
    "BCRB": (("caribbean", 1.0),),
    "BAFR": (("african", 1.0),),
    "BOTH": (("african", 0.5), ("caribbean", 0.5)),
    "CHNE": (("chinese", 1.0),),
    "OOTH": (("arabic", 0.8), ("british", 0.2)),
}


def _split(text: str) -> list[str]:
    return text.split()


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return weights / weights.sum()


@dataclass(frozen=True)
class _Pool:
    ids: np.ndarray  # vocabulary ids
    cum: np.ndarray  # cumulative probabilities

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        pick = np.searchsorted(self.cum, rng.random(n) * self.cum[-1], side="right")
        return self.ids[np.minimum(pick, len(self.ids) - 1)]


class NameBook:
    """Vocabularies of given names and surnames with Zipf-shaped pools per tradition and sex."""

    def __init__(self) -> None:
        given: dict[str, int] = {}
        surnames: dict[str, int] = {}
        self._given_pools: dict[tuple[str, int], _Pool] = {}
        self._surname_pools: dict[str, _Pool] = {}
        for tradition, (male, female) in name_data.GIVEN.items():
            for sex, text in ((0, male), (1, female)):
                names = _split(text)
                ids = np.array([given.setdefault(n, len(given)) for n in names], dtype=np.int32)
                self._given_pools[(tradition, sex)] = _Pool(ids, np.cumsum(_zipf(len(ids), 0.6)))
        tail = [
            p + s
            for p in _split(name_data.SURNAME_PREFIXES)
            for s in _split(name_data.SURNAME_SUFFIXES)
        ]
        for tradition, text in name_data.SURNAMES.items():
            names = _split(text)
            probs = _zipf(len(names), 0.5 if tradition == "british" else 0.75)
            if tradition == "british":
                names = names + tail
                probs = np.concatenate([0.3 * probs, 0.7 * _zipf(len(tail), 0.3)])
            ids = np.array([surnames.setdefault(n, len(surnames)) for n in names], dtype=np.int32)
            self._surname_pools[tradition] = _Pool(ids, np.cumsum(probs))
        for extra in ("Begum", "Khatun", "Kaur", "Bibi"):
            surnames.setdefault(extra, len(surnames))
        self.given = np.array(list(given), dtype=object)
        self.surnames = np.array(list(surnames), dtype=object)
        self.given_index = given
        self.surname_index = surnames
        self.given_variants = _variants(name_data.VARIANTS)
        self.surname_variants = _variants(name_data.SURNAME_VARIANTS)

    def draw_given(
        self,
        rng: np.random.Generator,
        tradition: np.ndarray,
        sex: np.ndarray,
        birth_year: np.ndarray,
    ) -> np.ndarray:
        """Draw given-name ids; British names depend on the generation (born before 1995 or not)."""
        out = np.zeros(len(tradition), dtype=np.int32)
        for t_name, t in _T.items():
            for s in (0, 1):
                for young in (False, True):
                    mask = (tradition == t) & (sex == s) & ((birth_year >= 1995) == young)
                    if not mask.any():
                        continue
                    key = t_name
                    if t_name == "british":
                        key = "british_young" if young else "british_old"
                    out[mask] = self._given_pools[(key, s)].draw(rng, int(mask.sum()))
        return out

    def draw_surname(self, rng: np.random.Generator, tradition: np.ndarray) -> np.ndarray:
        """Draw surname ids for people of the given naming traditions."""
        out = np.zeros(len(tradition), dtype=np.int32)
        for t_name, t in _T.items():
            mask = tradition == t
            if mask.any():
                out[mask] = self._surname_pools[t_name].draw(rng, int(mask.sum()))
        return out

    def surname_id(self, name: str) -> int:
        """Vocabulary id of a surname that is known to exist."""
        return self.surname_index[name]


def _variants(table: dict[str, str]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(v.replace("_", " ") for v in value.split()) for key, value in table.items()}


def draw_traditions(
    rng: np.random.Generator, ethnicity: np.ndarray, codes: tuple[str, ...]
) -> np.ndarray:
    """Draw a naming tradition for each person from their ethnicity code index."""
    out = np.zeros(len(ethnicity), dtype=np.int8)
    u = rng.random(len(ethnicity))
    for e_idx, code in enumerate(codes):
        choices = ETHNICITY_TRADITIONS.get(code)
        mask = ethnicity == e_idx
        if choices is None or not mask.any():
            continue
        cum = np.cumsum([p for _, p in choices])
        pick = np.searchsorted(cum, u[mask], side="right")
        names = np.array([_T[t] for t, _ in choices], dtype=np.int8)
        out[mask] = names[np.minimum(pick, len(names) - 1)]
    return out
