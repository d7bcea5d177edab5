"""The firewall at the door: decide, from a file's header alone, which columns may be read.

Only declared columns pass. Prohibited columns (immigration status, nationality and the like:
see the landing contract) are recognised under any spelling a producer is likely to use, and
are dropped before a single value is parsed; undeclared columns are dropped too (data
minimisation). The decision is made from column *names* only, so this module never sees,
returns or logs a value; a first row that looks like data rather than names is refused whole
(:func:`header_refusal`), and a header field shaped like a value is never recorded by name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import cache

from confusable_homoglyphs.confusables import confusables_data

__all__ = [
    "PROHIBITED_ALIASES",
    "FirewallDecision",
    "classify_columns",
    "fold_header",
    "header_refusal",
    "is_prohibited",
    "looks_like_value",
    "normalise_column_name",
    "shown_name",
]

# Spellings that do not contain a contract name but mean the same thing. Matching is on the
# normalised form (lowercase letters and digits only) and by containment, so `nrpf` also
# catches `NRPF_flag`, and `citizenship` catches `citizenship_country`.
PROHIBITED_ALIASES: tuple[str, ...] = (
    "nrpf",  # no recourse to public funds
    "norecourse",
    "immigration",
    "visa",
    "asylum",
    "citizenship",
    "countryofbirth",
    "birthcountry",
    "passport",
    "religious",
    "faith",
    "denomination",
    # Synonyms of nationality and immigration status that share no word with the contract's names.
    "countryoforigin",
    "origincountry",
    "nationalorigin",
    "placeofbirth",
    "birthplace",
    "righttowork",
    "righttorent",
    "righttoreside",
    "leavetoremain",
    "leavetoenter",
    "residencepermit",
    "residencystatus",
    "residencestatus",
    "settledstatus",
    "settlementstatus",
    "refugee",
    "deport",
    "overstay",
    "homeofficeref",
    "ukvi",
)

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
# Digits and symbols standing in for letters (``nati0nality``, ``v1sa``): a second reading of
# the header is checked against the prohibited names, never against declared ones.
_DIGITS_AS_LETTERS = [
    str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"}),
    str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"}),
]
_SYMBOLS_AS_LETTERS = str.maketrans({"@": "a", "$": "s", "!": "i", "|": "l"})


@cache
def _latin_look_alike(character: str) -> str:
    """The ASCII letter or digit a non-ASCII character is confusable with (Unicode TR39 data).

    ``confusable_homoglyphs`` ships the Unicode consortium's confusables table; a Cyrillic
    ``а`` or a Greek ``Ο`` reads as ``a`` or ``O``. Characters without an ASCII look-alike are
    returned unchanged (and later dropped as non-alphanumeric).
    """
    for glyph in confusables_data.get(character, ()):
        candidate = glyph["c"]
        if candidate.isascii() and candidate.isalnum():
            return str(candidate)
    return character


def fold_header(name: str) -> str:
    """A header as a reader sees it: compatibility forms, look-alikes and accents folded away.

    NFKC turns full-width and styled letters (``ｎａｔｉｏｎａｌｉｔｙ``, ``𝐧𝐚𝐭𝐢𝐨𝐧𝐚𝐥𝐢𝐭𝐲``)
    into plain ones; non-ASCII letters that look like Latin ones (Cyrillic, Greek) are mapped
    to them with the Unicode confusables table; accents are removed (``nätionality``).
    """
    text = unicodedata.normalize("NFKC", name.replace("\ufeff", ""))
    text = "".join(ch if ch.isascii() else _latin_look_alike(ch) for ch in text)
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def normalise_column_name(name: str) -> str:
    """Reduce a header to lowercase ASCII letters and digits, after :func:`fold_header`.

    ``" Immigration-Status "``, ``"immigration_status"`` and ``"ImmigrationStatus"`` all become
    ``"immigrationstatus"``: case, whitespace, punctuation and separators carry no meaning in a
    header, and a producer may use any of them. Look-alike letters fold to the Latin ones, so
    ``"nаtionality"`` with a Cyrillic ``а`` is ``"nationality"`` too.
    """
    return _NOT_ALNUM.sub("", fold_header(name))


def _prohibited_readings(name: str) -> list[str]:
    """The normalised header, and the same with digits and symbols read as letters."""
    folded = fold_header(name)
    readings = [_NOT_ALNUM.sub("", folded)]
    symbols = folded.translate(_SYMBOLS_AS_LETTERS)
    readings += [_NOT_ALNUM.sub("", symbols.translate(table)) for table in _DIGITS_AS_LETTERS]
    return [r for r in dict.fromkeys(readings) if r]


# Letters that look alike even in ASCII: the confusables table maps capital I to l, so a
# Cyrillic or Greek capital I reads as l. Both sides are compared with these collapsed too.
_COLLAPSE = str.maketrans({"i": "l", "1": "l", "0": "o"})


def is_prohibited(name: str, prohibited: Collection[str]) -> bool:
    """Whether a header names prohibited data.

    A header is prohibited when its normalised form contains the normalised form of a
    prohibited name or of one of :data:`PROHIBITED_ALIASES` (so suffixes such as ``_code``,
    ``_desc`` or ``_id`` and prefixes such as ``person_`` do not get a column through).
    Look-alike letters, full-width forms, accents and digits standing in for letters are
    folded first (see :func:`fold_header`), so ``"nаtionality"`` (Cyrillic ``а``),
    ``"ＮＡＴＩＯＮＡＬＩＴＹ"`` and ``"nati0nality"`` are all prohibited.
    """
    readings = _prohibited_readings(name)
    if not readings:
        return False
    needles = [normalise_column_name(p) for p in prohibited] + list(PROHIBITED_ALIASES)
    if any(needle and needle in reading for needle in needles for reading in readings):
        return True
    collapsed = [reading.translate(_COLLAPSE) for reading in readings]
    return any(
        needle and needle.translate(_COLLAPSE) in reading
        for needle in needles
        for reading in collapsed
    )


# What a header never looks like but a cell often does: dates, numbers, identifiers with long
# digit runs, postcodes, e-mail addresses, and sentences. Such a "name" is never recorded.
_VALUE_SHAPES = (
    re.compile(r"^\d{1,4}[-/. ]\d{1,2}[-/. ]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$"),
    re.compile(r"\d{3,}"),
    re.compile(r"^[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}$", re.IGNORECASE),
    re.compile(r"@"),
)
MAX_HEADER_CHARS = 64
MAX_HEADER_WORDS = 6


def looks_like_value(name: str) -> bool:
    """Whether a header field looks like a cell value rather than a column name.

    True for dates (``2011-03-04``, ``04/03/2011``), numbers, anything with a run of three or
    more digits (record keys, NHS numbers, URNs), UK postcodes, e-mail addresses, and text
    longer than :data:`MAX_HEADER_CHARS` characters or :data:`MAX_HEADER_WORDS` words (a note,
    not a name). Names such as ``address_line2`` or ``q1_total`` are not values.
    """
    text = unicodedata.normalize("NFKC", name.replace("\ufeff", "")).strip()
    if not text:
        return False
    if len(text) > MAX_HEADER_CHARS or len(text.split()) > MAX_HEADER_WORDS:
        return True
    return any(shape.search(text) for shape in _VALUE_SHAPES)


def shown_name(raw: str, position: int) -> str:
    """How a header may be recorded: stripped, or withheld when blank or shaped like a value."""
    stripped = raw.replace("\ufeff", "").strip()
    if not stripped:
        return f"(blank column {position + 1})"
    if looks_like_value(stripped) or not unicodedata.normalize("NFKC", stripped).isprintable():
        return f"(column {position + 1}: name withheld, looks like a value)"
    return stripped


@dataclass(frozen=True)
class FirewallDecision:
    """What the firewall lets through for one file, decided from its header.

    Attributes
    ----------
    kept : dict[int, str]
        Header position -> declared column name, for the columns that may be read.
    dropped_prohibited : list[str]
        Header names (stripped) recognised as prohibited; only the name may be recorded.
    dropped_undeclared : list[str]
        Header names not in the contract (blank headers appear as ``"(blank column N)"``).
    dropped_duplicate : list[str]
        Headers that repeat a declared column already kept; the first occurrence wins,
        because a second copy of, say, ``dob`` is a producer error we cannot arbitrate.
    missing : list[str]
        Declared columns the header does not have (the reader fills them with missing values).
    """

    kept: dict[int, str]
    dropped_prohibited: list[str] = field(default_factory=list)
    dropped_undeclared: list[str] = field(default_factory=list)
    dropped_duplicate: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def classify_columns(
    header: Sequence[str], declared: Collection[str], prohibited: Collection[str]
) -> FirewallDecision:
    """Sort a file's header into kept, prohibited, undeclared and duplicate columns.

    Parameters
    ----------
    header : Sequence[str]
        Column names in file order, as read (a BOM, whitespace or odd case are fine).
    declared : Collection[str]
        Column names declared for this file in the landing contract.
    prohibited : Collection[str]
        The contract's prohibited names; they win over a declared match.

    Returns
    -------
    FirewallDecision

    Raises
    ------
    ValueError
        When two declared names normalise to the same form (the contract would be ambiguous).
    """
    by_normal: dict[str, str] = {}
    for name in declared:
        normal = normalise_column_name(name)
        if normal in by_normal:
            raise ValueError(
                f"declared columns {by_normal[normal]!r} and {name!r} cannot be told apart "
                "once case and separators are ignored; rename one in the contract"
            )
        by_normal[normal] = name
    kept: dict[int, str] = {}
    seen: set[str] = set()
    decision = FirewallDecision(kept=kept)
    for position, raw in enumerate(header):
        shown = shown_name(raw, position)
        if is_prohibited(raw, prohibited):
            decision.dropped_prohibited.append(shown)
            continue
        match = by_normal.get(normalise_column_name(raw))
        if match is None:
            decision.dropped_undeclared.append(shown)
        elif match in seen:
            decision.dropped_duplicate.append(shown)
        else:
            seen.add(match)
            kept[position] = match
    decision.missing.extend(name for name in declared if name not in seen)
    return decision


def header_refusal(
    header: Sequence[str],
    declared: Collection[str],
    prohibited: Collection[str],
    key_column: str | None = None,
) -> str | None:
    """Why the first row of a file is not a header row, or None when it is one.

    A file written without its header row puts its first data row where the column names
    belong; read as names, its cells would reach the firewall log and every report built from
    it. The first row is refused when no declared column name is in it, when the key column is
    missing and some field looks like a value, or when at least half its fields look like
    values (see :func:`looks_like_value`). The reason gives counts only, never a field.

    Parameters
    ----------
    header : Sequence[str]
        The first row's fields.
    declared : Collection[str]
        The file's declared column names.
    prohibited : Collection[str]
        The contract's prohibited names (prohibited fields count as names, not values).
    key_column : str, optional
        The column that must be unique per row (record key, or a reference file's id).
    """
    decision = classify_columns(header, declared, prohibited)
    fields = [field for field in header if field.replace("\ufeff", "").strip()]
    value_like = sum(looks_like_value(field) for field in fields)
    found = len(decision.kept)
    counts = (
        f"{found} of {len(declared)} declared column names found; {value_like} of "
        f"{len(fields)} fields look like values (dates, numbers, identifiers, postcodes)"
    )
    if found == 0:
        problem = "no declared column name is in it"
    elif key_column is not None and key_column not in decision.kept.values() and value_like:
        problem = f"the key column {key_column} is not in it and some fields look like values"
    elif fields and 2 * value_like >= len(fields):
        problem = "at least half of its fields look like values"
    else:
        return None
    return f"the first row is not a header row ({problem}: {counts})"
