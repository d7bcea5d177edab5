"""Standardise identity columns before record linkage.

Linkage quality is decided here as much as in the model: two records can only agree on a
value if they were written the same way. Everything is vectorised over *unique* values
(names, dates and postcodes repeat a lot), so 400k records standardise in a few seconds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

__all__ = [
    "MISSING_TOKENS",
    "nhs_number_is_valid",
    "standardise_address",
    "standardise_dob",
    "standardise_name",
    "standardise_nhs_number",
    "standardise_postcode",
    "standardise_records",
    "standardise_sex",
    "standardise_upn",
    "upn_is_valid",
]

#: Strings that agencies use for "not known"; they are treated as missing, never as values.
MISSING_TOKENS = frozenset(
    {"", "nan", "none", "null", "n/a", "na", "unknown", "not known", "notknown", "-", "?", "x"}
)
_TITLES = re.compile(r"^(mr|mrs|miss|ms|mx|dr|master|prof|rev|sir|dame)\s+")
_UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
_ADDRESS_WORDS = {
    "rd": "road",
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "dr": "drive",
    "cl": "close",
    "ct": "court",
    "crt": "court",
    "cres": "crescent",
    "gdns": "gardens",
    "gr": "grove",
    "pl": "place",
    "sq": "square",
    "terr": "terrace",
    "tce": "terrace",
    "hse": "house",
    "nth": "north",
    "sth": "south",
}
_ADDRESS_FILLERS = frozenset({"flat", "apartment", "apt", "unit", "the"})
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


def _apply_unique(values: pd.Series, func) -> tuple[np.ndarray, np.ndarray]:
    """``func`` of each distinct value, and where each row's result is (-1: missing input)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    for i, value in enumerate(uniques):
        mapped[i] = func(value)  # element-wise: results may be tuples or lists
    mapped[-1] = func(None)  # code -1 (missing) picks the last slot
    return codes, mapped


def _map_unique(values: pd.Series, func) -> pd.Series:
    """Apply ``func`` once per distinct value (identity columns repeat heavily).

    Missing inputs map to ``func(None)``.
    """
    codes, mapped = _apply_unique(values, func)
    return pd.Series(mapped[codes], index=values.index, dtype="object")


#: Letters that Unicode decomposition leaves alone but agencies write in ASCII.
_TRANSLATE = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d",
     "Đ": "D", "ı": "i", "œ": "oe", "Œ": "OE", "þ": "th", "ð": "d"}
)  # fmt: skip
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _fold(text: object) -> str | None:
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


def _fold_name(text: object) -> str | None:
    folded = _fold(text)
    if folded is None:
        return None
    folded = _TITLES.sub("", folded)
    folded = re.sub(r"[0-9]+", " ", folded)
    folded = re.sub(r"\s+", " ", folded).strip()
    return folded if folded and folded not in MISSING_TOKENS else None


def standardise_name(values: pd.Series) -> pd.Series:
    """Fold a name column: case, diacritics, punctuation, titles and whitespace.

    ``"  O'Brien-Smith "`` becomes ``"obrien smith"`` and ``"José"`` becomes ``"jose"``.
    Missing tokens (``"unknown"``, ``"N/A"``...) become missing.
    """
    return _map_unique(values, _fold_name).astype("string")


@cache
def _variant_groups(table: str) -> dict[str, frozenset[str]]:
    """Variant -> the canonical names it may stand for (a shipped CSV, read once)."""
    text = resources.files("linkage").joinpath(f"data/{table}").read_text("utf-8")
    groups: dict[str, set[str]] = {}
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    for line in lines[1:]:
        canonical, variant = (part.strip() for part in line.split(",", 1))
        groups.setdefault(variant, set()).add(canonical)
        groups.setdefault(canonical, set()).add(canonical)
    return {k: frozenset(v) for k, v in groups.items()}


def name_variants(name: str | None, table: str = "nicknames.csv") -> list[str] | None:
    """Canonical forms a (folded) name may stand for, over all of its parts.

    ``"bill"`` gives ``["william"]``, ``"sam"`` gives ``["samantha", "samuel"]``, an
    unknown name gives itself. Two names are variants of each other when these lists
    overlap, which keeps ``samuel`` and ``samantha`` apart while both match ``sam``.
    Each part of a multi-part name counts (``"smith jones"`` overlaps ``"jones"``).
    ``table`` is ``nicknames.csv`` (given names) or ``surname_variants.csv``.
    """
    if name is None:
        return None
    groups = _variant_groups(table)
    forms: set[str] = set()
    for token in [name, *name.split(" ")]:
        forms |= groups.get(token, frozenset()) | {token}
    return sorted(forms)


def standardise_postcode(values: pd.Series) -> pd.DataFrame:
    """Normalise postcodes; UK-shaped ones also give sector and district.

    Returns columns ``postcode`` (``"NB1 2AB"`` for UK shapes, the upper-case alphanumeric
    string otherwise, so ``"75001"`` or ``"2000"`` still compare exactly), ``postcode_sector``
    and ``postcode_district`` (missing when not UK-shaped: two foreign codes must not "share
    a district" because a UK regex failed on both).
    """

    def parse(value: object) -> tuple[str | None, str | None, str | None]:
        if value is None:
            return (None, None, None)
        compact = re.sub(r"[^A-Z0-9]", "", str(value).upper())
        if compact.lower() in MISSING_TOKENS or len(compact) < 2:
            return (None, None, None)
        if _UK_POSTCODE.match(compact):
            outward, inward = compact[:-3], compact[-3:]
            return (f"{outward} {inward}", f"{outward} {inward[0]}", outward)
        return (compact, None, None)

    codes, mapped = _apply_unique(values, parse)
    columns = ["postcode", "postcode_sector", "postcode_district"]
    parts = {
        name: pd.array(np.array([m[i] for m in mapped], dtype=object)[codes], dtype="string")
        for i, name in enumerate(columns)
    }
    return pd.DataFrame(parts, index=values.index)


def standardise_address(values: pd.Series) -> pd.Series:
    """Canonical address line: folded, abbreviations expanded, words sorted.

    Agencies write one flat as ``"Flat 2, 107 Mill Rd"``, ``"2/107 Mill Road"`` or
    ``"107 Mill Road, Flat 2"``; all become ``"107 2 mill road"``. Sorting the words makes the
    order irrelevant, and filler words (``flat``, ``apartment``) are dropped because the
    numbers carry the information.
    """

    def parse(value: object) -> str | None:
        folded = _fold(value)
        if folded is None:
            return None
        words = {_ADDRESS_WORDS.get(w, w) for w in folded.split(" ")} - _ADDRESS_FILLERS
        return " ".join(sorted(words)) or None

    return _map_unique(values, parse).astype("string")


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
        iso = _map_unique(values.astype("object").where(values.notna(), None), _parse_one_dob)

    def swap(value: object) -> str | None:
        if value is None:
            return None
        y, m, d = str(value).split("-")
        if m == d or int(d) > 12:
            return None
        return f"{y}-{d}-{m}"

    out = pd.DataFrame({"dob": iso, "dob_swap": _map_unique(iso, swap)}, index=values.index)
    return out.astype("string")


def standardise_sex(values: pd.Series) -> pd.Series:
    """Map sex codes to ``M``/``F``; anything else (``U``, ``X``, blank) is missing."""
    table = {"m": "M", "male": "M", "boy": "M", "f": "F", "female": "F", "girl": "F"}
    return _map_unique(values, lambda v: table.get(str(v).strip().lower())).astype("string")


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

    return _map_unique(values, parse).astype("string")


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

    return _map_unique(values, parse).astype("string")


def _surname_variants(name: str | None) -> list[str] | None:
    return name_variants(name, "surname_variants.csv")


def standardise_records(records: pd.DataFrame, optional: Iterable[str] = ()) -> pd.DataFrame:
    """Build the table Splink compares: one row per input record, standardised columns.

    Parameters
    ----------
    records
        Input records with ``source, record_key, first_name, last_name, dob,
        address_line, postcode`` and any of ``sex, upn, nhs_number, agency_id``.
    optional
        Optional columns to standardise when present (missing ones are filled with nulls
        so that every run builds the same table shape).

    Returns
    -------
    pandas.DataFrame
        ``source, record_key`` (as strings) plus ``first_name, first_name_variants,
        last_name, last_name_variants, dob, dob_swap, address_line, postcode,
        postcode_sector, postcode_district`` and the optional identifiers.
    """
    out = pd.DataFrame(index=records.index)
    out["source"] = records["source"].astype("string")
    out["record_key"] = records["record_key"].astype("string")
    out["first_name"] = standardise_name(records["first_name"])
    out["first_name_variants"] = _map_unique(
        out["first_name"].astype("object").where(out["first_name"].notna(), None), name_variants
    )
    out["last_name"] = standardise_name(records["last_name"])
    out["last_name_variants"] = _map_unique(
        out["last_name"].astype("object").where(out["last_name"].notna(), None), _surname_variants
    )
    out[["dob", "dob_swap"]] = standardise_dob(records["dob"])
    out["address_line"] = standardise_address(records["address_line"])
    out[["postcode", "postcode_sector", "postcode_district"]] = standardise_postcode(
        records["postcode"]
    )
    present = set(records.columns) & set(optional)
    missing = pd.Series(pd.NA, index=records.index, dtype="string")
    out["sex"] = standardise_sex(records["sex"]) if "sex" in present else missing
    out["upn"] = standardise_upn(records["upn"]) if "upn" in present else missing
    out["nhs_number"] = (
        standardise_nhs_number(records["nhs_number"]) if "nhs_number" in present else missing
    )
    if "agency_id" in present:
        agency = records["agency_id"].astype("string").str.strip()
        out["agency_id"] = agency.where(agency.str.len() > 0)
    else:
        out["agency_id"] = missing
    return out
