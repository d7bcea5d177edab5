"""Value shapes for the contract's text columns: the firewall on values, not only on names.

A column the contract types as ``string`` would otherwise take anything, so a prohibited fact
typed into, say, ``school_urn`` would be stored verbatim. Each text column of the project's
contract therefore names a ``format``; a value that does not have that shape is quarantined
with a reason that quotes nothing. ``free_text`` is the explicit way to declare a column as
free text (addresses, team names).

The shapes are deliberately generous, written from the published formats (DfE URNs and UPNs,
NHS numbers, Royal Mail postcodes) and ordinary reference-number practice, never from what our
own generator happens to emit: another producer that follows the contract must pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FORMATS", "Format", "matches_format"]


@dataclass(frozen=True)
class Format:
    """A value shape: every RE2 pattern must match and the value must fit ``max_chars``.

    Attributes
    ----------
    patterns : tuple[str, ...]
        RE2 regular expressions (pyarrow's engine); all must match the trimmed value.
    max_chars : int
        Longest accepted value, in characters.
    description : str
        What the shape is, for quarantine reasons (never a value).
    """

    patterns: tuple[str, ...]
    max_chars: int
    description: str


_SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9._/:#-]*$"
_DISTRICT = r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]?"

FORMATS: dict[str, Format] = {
    # Record keys, agency person ids and event references (tenancy, incident): one token of
    # letters, digits and the usual separators, with at least one digit, so a word or a
    # sentence (a note, a nationality) is not an identifier.
    "identifier": Format(
        (_SAFE_ID, r"[0-9]"),
        64,
        "an identifier (letters, digits and . _ / : # -, at least one digit, no spaces, "
        "at most 64 characters)",
    ),
    # Codes chosen by the council (worker ids, area codes): the same characters, no digit needed.
    "code": Format(
        (_SAFE_ID,),
        64,
        "a code (letters, digits and . _ / : # -, no spaces, at most 64 characters)",
    ),
    # DfE unique reference number of a school: 6 digits (7 allowed for newer series).
    "urn": Format((r"^[0-9]{6,7}$",), 7, "a school URN (6 or 7 digits)"),
    # DfE unique pupil number: 13 characters, a check letter then digits (a temporary UPN ends
    # in a letter). One character either way is tolerated: a mistyped UPN on an optional
    # identity column should not cost the record, and the value only ever reaches the vault.
    "upn": Format(
        (r"^[A-Za-z][0-9A-Za-z]{11,13}$",),
        14,
        "a UPN (13 letters and digits, starting with the check letter)",
    ),
    # NHS number: 10 digits, as one run or grouped by spaces or hyphens; a digit more or less
    # (a typo) is still an NHS number for this purpose. The mod-11 check digit is not tested.
    "nhs_number": Format(
        (r"^[0-9][0-9 -]*[0-9]$", r"^(?:[^0-9]*[0-9]){9,11}[^0-9]*$"),
        14,
        "an NHS number (10 digits, optionally grouped by spaces or hyphens)",
    ),
    # UK postcode as agencies record it: letters and digits in one group, or two groups with a
    # digit, so a typo'd or partial postcode (``NB6 2Z``, ``2JF NB10``) and the usual
    # placeholders (``NFA``, ``UNKNOWN``) pass, while a phrase does not. Only a UK-shaped
    # postcode's outward code ever reaches the warehouse (safeguard.ingest.identity.postcode_district);
    # the value itself stays in the vault.
    "postcode": Format(
        (r"^(?:[A-Za-z0-9]{1,8}|[A-Za-z0-9]+\s+[A-Za-z0-9]+)$", r"^\S+$|[0-9]"),
        12,
        "a postcode (letters and digits, e.g. AB1 2CD)",
    ),
    "postcode_district": Format(
        (rf"^{_DISTRICT}$",), 4, "a postcode district (outward code, e.g. AB1)"
    ),
    "postcode_districts": Format(
        (rf"^\s*{_DISTRICT}(?:\s*;\s*{_DISTRICT})*\s*;?\s*$",),
        2000,
        "postcode districts separated by semicolons (e.g. AB1;AB2)",
    ),
    # Letters of any script, combining marks, spaces, hyphens, apostrophes and full stops:
    # O'Brien, Jean-Luc, Zoë, Łukasz, St. John; digits too ("Twin 2"), but no other symbols.
    "person_name": Format(
        (r"^[\p{L}\p{M}][\p{L}\p{M}\p{Nd} .'\x{2019}\x{2018}-]*$",),
        100,
        "a name (letters, digits, spaces, hyphens, apostrophes and full stops, at most 100 "
        "characters)",
    ),
    # Declared free text: any printable text, line breaks included, within a length limit.
    "free_text": Format(
        (r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",),
        500,
        "free text (no control characters, at most 500 characters)",
    ),
}


def matches_format(values: pa.Array, name: str) -> np.ndarray:
    """Per value (already trimmed text): True when it has the named shape.

    Empty values are reported as matching; whether a value is required is another rule.
    """
    spec = FORMATS[name]
    ok = pc.less_equal(pc.utf8_length(values), spec.max_chars)
    for pattern in spec.patterns:
        ok = pc.and_(ok, pc.match_substring_regex(values, pattern))
    result = pc.or_(pc.fill_null(ok, False), pc.equal(values, ""))
    return np.asarray(pc.fill_null(result, True).to_numpy(zero_copy_only=False), dtype=bool)
