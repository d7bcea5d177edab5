"""Text helpers shared by the standardisers: missing tokens, folding, per-value mapping."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MISSING_TOKENS", "apply_unique", "fold", "map_unique"]

#: Strings that agencies use for "not known"; they are treated as missing, never as values.
MISSING_TOKENS = frozenset(
    {"", "nan", "none", "null", "n/a", "na", "unknown", "not known", "notknown", "-", "?", "x"}
)


def apply_unique(values: pd.Series, func: Callable[[Any], object]) -> tuple[np.ndarray, np.ndarray]:
    """``func`` of each distinct value, and where each row's result is (-1: missing input)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    for i, value in enumerate(uniques):
        mapped[i] = func(value)  # element-wise: results may be tuples or lists
    mapped[-1] = func(None)  # code -1 (missing) picks the last slot
    return codes, mapped


def map_unique(values: pd.Series, func: Callable[[Any], object]) -> pd.Series:
    """Apply ``func`` once per distinct value (identity columns repeat heavily).

    Missing inputs map to ``func(None)``.
    """
    codes, mapped = apply_unique(values, func)
    return pd.Series(mapped[codes], index=values.index, dtype="object")


#: Letters that Unicode decomposition leaves alone but agencies write in ASCII.
_TRANSLATE = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d",
     "Đ": "D", "ı": "i", "œ": "oe", "Œ": "OE", "þ": "th", "ð": "d"}
)  # fmt: skip
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: object) -> str | None:
    """Lower-case, strip diacritics and punctuation, collapse whitespace."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    raw = str(text).strip()
    if not raw.isascii():  # José -> Jose, Paweł -> Pawel, O’Brien -> OBrien
        decomposed = unicodedata.normalize("NFKD", raw.translate(_TRANSLATE))
        raw = decomposed.encode("ascii", "ignore").decode("ascii")
    lowered = raw.lower()
    if lowered in MISSING_TOKENS:
        return None
    cleaned = _NON_ALNUM.sub(" ", lowered.replace("'", "")).strip()
    return cleaned or None
