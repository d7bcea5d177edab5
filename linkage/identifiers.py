"""Strong identifiers: NHS numbers (modulus 11) and UPNs (check letter), validated."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from safeguard.linkage.text import map_unique

__all__ = ["nhs_number_is_valid", "standardise_nhs_number", "standardise_upn", "upn_is_valid"]


def _nhs_check_digit(nine: str) -> int | None:
    total = sum(int(c) * w for c, w in zip(nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_number_is_valid(number: str) -> bool:
    """True for a 10-digit NHS number whose modulus-11 check digit is right."""
    if not re.fullmatch(r"\d{10}", number) or len(set(number)) == 1:
        return False
    return _nhs_check_digit(number[:9]) == int(number[9])


def standardise_nhs_number(values: pd.Series) -> pd.Series:
    """Digits-only NHS numbers; a number failing its check digit becomes missing.

    A mistyped NHS number usually fails the modulus-11 check, and one that passes it is
    very unlikely to be someone else's, which is what makes it safe as a deterministic rule.
    """

    def parse(value: object) -> str | None:
        if isinstance(value, float | np.floating):
            value = int(value)
        digits = re.sub(r"\D", "", str(value))
        return digits if nhs_number_is_valid(digits) else None

    return map_unique(values, parse).astype("string")


_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn_is_valid(upn: str) -> bool:
    """True for a 13-character UPN whose check letter matches its 12 digits (DfE rule).

    The check letter is the sum of the digits in positions 2-13 weighted 2-13, modulo 23,
    as a letter of ``ABCDEFGHJKLMNPQRTUVWXYZ``.
    """
    if not re.fullmatch(r"[A-Z][0-9]{12}", upn):
        return False
    total = sum(int(d) * w for d, w in zip(upn[1:], range(2, 14), strict=True))
    return _UPN_LETTERS[total % 23] == upn[0]


def standardise_upn(values: pd.Series) -> pd.Series:
    """Upper-case UPNs; one failing its check letter (a typo, a temporary UPN) is missing."""

    def parse(value: object) -> str | None:
        compact = re.sub(r"[^A-Z0-9]", "", str(value).upper())
        return compact if upn_is_valid(compact) else None

    return map_unique(values, parse).astype("string")
