"""The firewall at the door: decide, from a file's header alone, which columns may be read.

Only declared columns pass. Prohibited columns (immigration status, nationality and the like:
see the landing contract) are recognised under any spelling a producer is likely to use, and
are dropped before a single value is parsed; undeclared columns are dropped too (data
minimisation). The decision is made from column *names* only, so this module never sees,
returns or logs a value.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

__all__ = [
    "PROHIBITED_ALIASES",
    "FirewallDecision",
    "classify_columns",
    "is_prohibited",
    "normalise_column_name",
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
)

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_column_name(name: str) -> str:
    """Reduce a header to lowercase letters and digits.

    ``" Immigration-Status "``, ``"immigration_status"`` and ``"ImmigrationStatus"`` all become
    ``"immigrationstatus"``: case, whitespace, punctuation and separators carry no meaning in a
    header, and a producer may use any of them.
    """
    return _NOT_ALNUM.sub("", name.replace("\ufeff", "").casefold())


def is_prohibited(name: str, prohibited: Collection[str]) -> bool:
    """Whether a header names prohibited data.

    A header is prohibited when its normalised form contains the normalised form of a
    prohibited name or of one of :data:`PROHIBITED_ALIASES` (so suffixes such as ``_code``,
    ``_desc`` or ``_id`` and prefixes such as ``person_`` do not get a column through).
    """
    normal = normalise_column_name(name)
    if not normal:
        return False
    needles = [normalise_column_name(p) for p in prohibited] + list(PROHIBITED_ALIASES)
    return any(needle and needle in normal for needle in needles)


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
        shown = raw.replace("\ufeff", "").strip() or f"(blank column {position + 1})"
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
