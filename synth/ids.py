"""Identifiers with real check digits: NHS numbers (mod 11) and unique pupil numbers (UPN).

Downstream code may validate them, so they follow the published algorithms:
NHS number - nine digits, weights 10..2, check = 11 - (sum mod 11), 11 -> 0, 10 -> invalid;
UPN - a check letter then 12 digits (LA number, establishment, year, serial); the letter is
``"ABCDEFGHJKLMNPQRTUVWXYZ"[sum(digit_i * i for i in 2..13) mod 23]``.
"""

from __future__ import annotations

import numpy as np

_UPN_LETTERS = np.array(list("ABCDEFGHJKLMNPQRTUVWXYZ"))


def nhs_check_digit(base: np.ndarray) -> np.ndarray:
    """Check digit for nine-digit bases (10 means the base cannot be used)."""
    digits = (base[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    total = (digits * np.arange(10, 1, -1)).sum(axis=1)
    check = 11 - total % 11
    return np.where(check == 11, 0, check)


def nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct valid 10-digit NHS numbers (England range 400 000 000 0 - 699 999 999 9)."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        need = int((n - len(out)) * 1.15) + 16
        base = 400_000_000 + rng.choice(300_000_000, size=need, replace=False).astype(np.int64)
        check = nhs_check_digit(base)
        ok = check < 10
        out = np.concatenate([out, base[ok] * 10 + check[ok]])
        out = out[np.sort(np.unique(out, return_index=True)[1])]
    return out[:n]


def nhs_valid(numbers: np.ndarray) -> np.ndarray:
    """True where a 10-digit NHS number has a valid check digit."""
    base, check = numbers // 10, numbers % 10
    return nhs_check_digit(base) == check


def upn_check_letter(digits12: np.ndarray) -> np.ndarray:
    """Check letters for 12-digit UPN bodies given as int64."""
    digits = (digits12[:, None] // 10 ** np.arange(11, -1, -1)) % 10
    total = (digits * np.arange(2, 14)).sum(axis=1)
    return _UPN_LETTERS[total % 23]


def upns(la: np.ndarray, estab: np.ndarray, year: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """UPN strings from LA number (3 digits), establishment (4), 2-digit year and serial (3)."""
    body = la.astype(np.int64) * 10**9 + estab * 10**5 + (year % 100) * 10**3 + serial % 1000
    letters = upn_check_letter(body)
    return np.array([f"{c}{b:012d}" for c, b in zip(letters, body, strict=True)], dtype=object)


def upn_valid(upn: str) -> bool:
    """True when a UPN string is a check letter followed by 12 digits with a matching letter."""
    if len(upn) != 13 or not upn[1:].isdigit():
        return False
    return bool(upn_check_letter(np.array([int(upn[1:])], dtype=np.int64))[0] == upn[0])
