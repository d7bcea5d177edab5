"""Columns a police extract carries that the landing contract does not allow.

``nationality`` and ``immigration_status`` are prohibited (the Liberty / Southall Black Sisters
super-complaint); ``officer_notes`` is undeclared free text that names people. They are here so
that every drop exercises the firewall; all values are invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safeguard.synth.columns import Col, Vocab, quote
from safeguard.synth.config import ETHNICITY_CODES

NATIONALITIES = ("British", "Irish", "Polish", "Romanian", "Lithuanian", "Pakistani", "Indian",
                 "Bangladeshi", "Nigerian", "Ghanaian", "Somali", "Jamaican", "Chinese", "Syrian", "Iraqi",
                 "Eritrean", "Sudanese")  # fmt: skip
STATUSES = ("British citizen", "Settled status", "Pre-settled status", "Visa holder", "Asylum seeker",
            "Refugee status", "Unknown", "Overstayer")  # fmt: skip
_FOREIGN = {
    "WOTH": (2, 3, 4), "WROM": (3,), "WIRI": (1,), "APKN": (5,), "AIND": (6,), "ABAN": (7,),
    "BAFR": (8, 9, 10, 15, 16), "BCRB": (11,), "CHNE": (12,), "OOTH": (13, 14), "AOTH": (5, 6),
}  # fmt: skip

_TEMPLATES = {
    "asb": "Call from neighbour re noise and shouting at address. {name} spoken to, words of advice given.",
    "domestic_abuse": 'Attended DA call. {name} states "it was just an argument". DASH completed, '
    "safeguarding referral considered.",
    "violence": "Report of assault outside premises; {name} involved. CCTV requested, enquiries ongoing.",
    "sexual_offence": "Disclosure received, {name} supported by SOIT officer. Details restricted.",
    "drugs": "Stop and search, {name}. Suspected cannabis found, community resolution.",
    "theft": "Theft from vehicle reported by {name}, no lines of enquiry, filed.",
    "criminal_damage": "Window smashed at address, {name} reports ongoing dispute with neighbour.",
    "missing_episode": "{name} reported missing by carer, returned next day, return interview\nrequested.",
    "absent_episode": "{name} not at home at agreed time, located nearby, no concerns.",
    "exploitation_concern": "{name} seen with older males in car, possible county lines, intel submitted.",
}


def nationality_codes(
    rng: np.random.Generator, ethnicity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-person nationality and immigration-status codes (-1 = not recorded)."""
    n = len(ethnicity)
    nat = np.zeros(n, dtype=np.int64)
    for code, options in _FOREIGN.items():
        mask = (ethnicity == ETHNICITY_CODES.index(code)) & (rng.random(n) < 0.45)
        nat[mask] = np.array(options)[rng.integers(0, len(options), int(mask.sum()))]
    nat[rng.random(n) < 0.45] = -1
    status = np.where(nat == 0, 0, rng.integers(1, len(STATUSES), n))
    status[(nat < 0) | (rng.random(n) < 0.8)] = -1
    return nat, status


@dataclass
class Notes(Col):
    """Free-text officer notes naming the person as recorded on the row."""

    incident_type: np.ndarray  # int codes into the police incident types
    types: tuple[str, ...]
    first: Col
    last: Col

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        first = self.first.render(rows, extract_day)
        last = self.last.render(rows, extract_day)
        kinds = self.incident_type[rows].tolist()
        return np.array([_TEMPLATES[self.types[k]].format(name=f"{f} {s}") for k, f, s
                         in zip(kinds, first.tolist(), last.tolist(), strict=True)], dtype=object)  # fmt: skip

    def render_csv(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        return np.array([quote(v) for v in self.render(rows, extract_day).tolist()], dtype=object)


def extra_columns(rng: np.random.Generator, person: np.ndarray, ethnicity: np.ndarray, itype: np.ndarray,
                  types: tuple[str, ...], first: Col, last: Col) -> dict[str, Col]:  # fmt: skip
    """nationality, immigration_status and officer_notes for police rows."""
    nat, status = nationality_codes(rng, ethnicity)
    return {
        "nationality": Vocab(nat[person], np.array(NATIONALITIES, dtype=object)),
        "immigration_status": Vocab(status[person], np.array(STATUSES, dtype=object)),
        "officer_notes": Notes(itype, types, first, last),
    }
