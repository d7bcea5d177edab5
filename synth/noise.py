"""Identifier noise: how each agency mis-records names, dates of birth, sexes and addresses.

Rates are per agency registration (how the person was entered on the agency's system) or per
row (how an address was typed on one record). They are assumptions informed by published
linkage studies; ``synth/README.md`` gives the reasoning and sources. The string perturbations
are the ones synthetic-identifier generators use (ONS/GeCo-style): keyboard typos, deletions,
insertions, transpositions, nickname and transliteration variants, day/month swaps, postcode
re-formatting and errors, and address abbreviations.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class NoiseProfile:
    """Noise rates of one agency (registration-level first, then row-level)."""

    nickname: float
    given_typo: float
    surname_typo: float
    surname_stale: float
    upper_case: float
    ascii_fold: float
    dob_missing: float
    dob_swap: float
    dob_typo: float
    dob_default: float
    sex_unknown: float
    duplicate: float
    postcode_missing: float
    postcode_format: float
    postcode_typo: float
    postcode_garbled: float
    address_abbrev: float
    address_flat: float
    address_typo: float
    address_missing: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


PROFILES: dict[str, NoiseProfile] = {
    "education": NoiseProfile(0.01, 0.005, 0.005, 0.2, 0.0, 0.1, 0.0, 0.001, 0.001, 0.0, 0.002, 0.004,
                              0.01, 0.03, 0.003, 0.001, 0.2, 0.1, 0.005, 0.01),
    "social_care": NoiseProfile(0.03, 0.015, 0.015, 0.3, 0.0, 0.3, 0.0, 0.004, 0.004, 0.001, 0.01, 0.02,
                                0.04, 0.08, 0.008, 0.003, 0.3, 0.2, 0.01, 0.03),
    "housing": NoiseProfile(0.06, 0.02, 0.02, 0.5, 0.1, 0.5, 0.12, 0.01, 0.008, 0.005, 0.0, 0.03,
                            0.0, 0.15, 0.015, 0.004, 0.5, 0.3, 0.02, 0.0),
    "police": NoiseProfile(0.08, 0.03, 0.025, 0.5, 0.4, 0.6, 0.08, 0.015, 0.012, 0.01, 0.02, 0.06,
                           0.12, 0.2, 0.02, 0.012, 0.5, 0.3, 0.03, 0.1),
    "revenues_benefits": NoiseProfile(0.04, 0.015, 0.01, 0.4, 0.05, 0.4, 0.04, 0.008, 0.006, 0.002, 0.0,
                                      0.02, 0.0, 0.1, 0.01, 0.002, 0.4, 0.25, 0.015, 0.0),
    "objections": NoiseProfile(0.1, 0.05, 0.03, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                               0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
}  # fmt: skip

_KEYBOARD = {
    "a": "qsz", "b": "vgn", "c": "xdv", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht", "h": "gjy",
    "i": "uok", "j": "hku", "k": "jli", "l": "kop", "m": "nj", "n": "bmh", "o": "ipl", "p": "ol",
    "q": "wa", "r": "etf", "s": "adw", "t": "ryg", "u": "yij", "v": "cbf", "w": "qes", "x": "zsc",
    "y": "tuh", "z": "xa",
}  # fmt: skip
_STREET_ABBREV = {
    " Road": " Rd", " Street": " St", " Avenue": " Ave", " Close": " Cl", " Lane": " Ln",
    " Drive": " Dr", " Gardens": " Gdns", " Crescent": " Cres", " Terrace": " Terr", " Court": " Ct",
    " Place": " Pl",
}  # fmt: skip
_INWARD = "ABDEFGHJLNPQRSTUWXYZ"


def typo(text: str, rng: np.random.Generator) -> str:
    """One keyboard typo (substitution, deletion, doubling or transposition), not in the initial."""
    if len(text) < 3:
        return text + text[-1:]
    i = int(rng.integers(1, len(text)))
    op = int(rng.integers(0, 4))
    ch = text[i]
    if op == 0 and ch.lower() in _KEYBOARD:
        near = _KEYBOARD[ch.lower()]
        sub = near[int(rng.integers(0, len(near)))]
        return text[:i] + (sub.upper() if ch.isupper() else sub) + text[i + 1 :]
    if op == 1 and len(text) > 3:
        return text[:i] + text[i + 1 :]
    if op == 2:
        return text[:i] + ch + text[i:]
    if i < len(text) - 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + ch + text[i:]


def ascii_fold(text: str) -> str:
    """Drop diacritics the way many agency systems do (Zoë -> Zoe, Łukasz -> Lukasz)."""
    text = text.replace("Ł", "L").replace("ł", "l")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def variant(text: str, table: dict[str, tuple[str, ...]], rng: np.random.Generator) -> str:
    """A nickname or transliteration of ``text`` if one is known, else ``text``."""
    options = table.get(text)
    return options[int(rng.integers(0, len(options)))] if options else text


def abbreviate(line: str) -> str:
    """Road -> Rd and the like."""
    for full, short in _STREET_ABBREV.items():
        if line.endswith(full):
            return line[: -len(full)] + short
    return line


def flat_form(line: str, style: int) -> str:
    """Other ways agencies write a flat: '2/10 Mill Road', 'Flat 2 10 Mill Road', '10 Mill Road'."""
    if not line.startswith("Flat "):
        return line.replace(" ", ", ", 1) if style == 0 and line[:1].isdigit() else line
    flat, _, rest = line[5:].partition(", ")
    return (f"{flat}/{rest}", f"Flat {flat} {rest}", rest, f"{rest}, Flat {flat}")[style % 4]


def postcode_format(pc: str, style: int) -> str:
    """Re-format a postcode: no space, lower case, two spaces."""
    return (pc.replace(" ", ""), pc.lower(), pc.replace(" ", "  "), pc.lower().replace(" ", ""))[
        style % 4
    ]


def postcode_typo(pc: str, rng: np.random.Generator) -> str:
    """One wrong character in the inward code; the result is still UK-shaped."""
    outward, _, inward = pc.partition(" ")
    if len(inward) != 3:
        return pc
    pos = int(rng.integers(0, 3))
    if pos == 0:
        inward = str((int(inward[0]) + int(rng.integers(1, 9))) % 10) + inward[1:]
    else:
        letter = _INWARD[int(rng.integers(0, len(_INWARD)))]
        inward = inward[:pos] + letter + inward[pos + 1 :]
    return f"{outward} {inward}"


def postcode_garble(pc: str, rng: np.random.Generator) -> str:
    """A postcode that is not UK-shaped, or a placeholder: 'NFA', outward code only, swapped."""
    outward, _, inward = pc.partition(" ")
    options = ("NFA", outward, f"{inward} {outward}", f"{outward} {inward[:2]}",
               f"{outward}{inward}{inward[-1]}", "ZZ99 3VZ", "UNKNOWN", outward.replace("B", "8"))  # fmt: skip
    return options[int(rng.integers(0, len(options)))]
