"""Dates of birth written in any common way, parsed to ISO with their day/month swap."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from safeguard.linkage.text import MISSING_TOKENS, map_unique

__all__ = ["standardise_dob"]

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
#: Dates that systems use as placeholders for "unknown"; they would link strangers.
_PLACEHOLDER_DOBS = frozenset({"1900-01-01", "1901-01-01", "1800-01-01", "1970-01-01"})


def _pivot_year(two_digit: int) -> int:
    this_year = date.today().year % 100
    return 2000 + two_digit if two_digit <= this_year else 1900 + two_digit


def _parse_one_dob(value: object) -> str | None:
    """Parse one date of birth written in any common way to ISO ``YYYY-MM-DD``."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | date):
        if pd.isna(value):
            return None
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        value = int(value)
    text = str(value).strip().lower()
    if text in MISSING_TOKENS:
        return None
    text = re.split(r"[t ]\d{1,2}:\d{2}", text)[0].strip()  # drop a time part
    y = m = d = None
    if mt := re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text):
        y, m, d = (int(g) for g in mt.groups())
    elif mt := re.fullmatch(r"(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{2}|\d{4})", text):
        a, b, yy = (int(g) for g in mt.groups())
        y = yy if len(mt.group(3)) == 4 else _pivot_year(yy)
        # UK order (day first) unless only the other reading is a valid date.
        d, m = (b, a) if (a <= 12 < b) else (a, b)
    elif mt := re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text):
        y, m, d = (int(g) for g in mt.groups())
        if not 1800 <= y <= 2200:  # DDMMYYYY
            d, m, y = int(text[:2]), int(text[2:4]), int(text[4:])
    elif mt := re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?[ \-/.]*([a-z]+)[ \-/.,]*(\d{4})", text):
        d, y = int(mt.group(1)), int(mt.group(3))
        m = _MONTHS.get(mt.group(2))
    elif mt := re.fullmatch(r"([a-z]+)[ \-/.]*(\d{1,2})(?:st|nd|rd|th)?[ ,]*(\d{4})", text):
        m, d, y = _MONTHS.get(mt.group(1)), int(mt.group(2)), int(mt.group(3))
    if y is None or m is None or d is None:
        return None
    try:
        parsed = date(y, m, d)
    except ValueError:
        return None
    if not 1900 <= parsed.year <= date.today().year:
        return None
    iso = parsed.isoformat()
    return None if iso in _PLACEHOLDER_DOBS else iso


def standardise_dob(values: pd.Series) -> pd.DataFrame:
    """Parse dates of birth to ISO strings, plus the day/month-swapped reading.

    Accepts datetimes, dates, ISO strings, ``DD/MM/YYYY`` (UK order; ``MM/DD/YYYY`` only
    when the day-first reading is impossible), two-digit years, ``YYYYMMDD`` (also as a
    number, as FEBRL-style extracts store it) and month names. Impossible dates, dates in
    the future or before 1900, and placeholder dates (``1900-01-01``) become missing.

    ``dob_swap`` is the same date with day and month exchanged (missing when the swap is
    not a date or is the same date), so a comparison level can recognise a transposition
    instead of treating it as a different person.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        iso = values.dt.strftime("%Y-%m-%d").astype("object").where(values.notna(), None)
        iso = iso.where(~iso.isin(_PLACEHOLDER_DOBS), None)
    else:
        iso = map_unique(values.astype("object").where(values.notna(), None), _parse_one_dob)

    def swap(value: object) -> str | None:
        if value is None:
            return None
        y, m, d = str(value).split("-")
        if m == d or int(d) > 12:
            return None
        return f"{y}-{d}-{m}"

    out = pd.DataFrame({"dob": iso, "dob_swap": map_unique(iso, swap)}, index=values.index)
    return out.astype("string")
