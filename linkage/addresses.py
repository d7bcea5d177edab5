"""Resolve the many spellings of one address to one key, for co-residence.

Families are formed from people seen "at the same address", so an address key must not
split one home because one system wrote ``Statoin Rd`` and dropped the postcode. Keys here
are plain strings (``"<canonical address>|<postcode>"``); the pipeline pseudonymises them.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from safeguard.linkage.standardise import standardise_address, standardise_postcode

__all__ = ["resolve_addresses"]

#: Postcodes that stand for "no fixed abode" or "unknown" rather than a place.
PLACEHOLDER_POSTCODES = frozenset({"ZZ99 3VZ", "ZZ99 3WZ", "ZZ99 3CZ", "NFA"})


def _numbers(address: pd.Series) -> pd.Series:
    return address.str.findall(r"\d+").map(lambda xs: " ".join(sorted(xs)), na_action="ignore")


def _repair_typos(known: pd.DataFrame, similarity: float) -> dict[tuple[str, str], str]:
    """Within a postcode, map a rare spelling to a commoner one with the same numbers."""
    con = duckdb.connect()
    con.register("known", known)
    rows = con.execute(
        f"""
        SELECT a.address, a.postcode, b.address AS target
        FROM known a JOIN known b
          ON a.postcode = b.postcode AND a.numbers = b.numbers AND a.address <> b.address
         AND (b.n > a.n OR (b.n = a.n AND b.address < a.address))
        WHERE jaro_winkler_similarity(a.address, b.address) >= {similarity}
        QUALIFY row_number() OVER (
            PARTITION BY a.address, a.postcode ORDER BY b.n DESC, b.address) = 1
        """
    ).fetchall()
    con.close()
    mapping = {(a, p): t for a, p, t in rows}
    # follow chains (a -> b -> c) to the commonest spelling
    for key, target in list(mapping.items()):
        seen = {key}
        while (target, key[1]) in mapping and (target, key[1]) not in seen:
            seen.add((target, key[1]))
            target = mapping[(target, key[1])]
        mapping[key] = target
    return mapping


def _levenshtein_at_most_one(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _repair_postcodes(frame: pd.DataFrame) -> pd.Series:
    """A line's minority postcode one character away from its majority postcode is a typo."""
    counts = frame.dropna().groupby(["address", "postcode"]).size().rename("n").reset_index()
    share = counts["n"] / counts.groupby("address")["n"].transform("sum")
    usual = counts[share > 0.5].set_index("address")["postcode"]
    rare = counts[share <= 0.5].assign(usual=lambda d: d["address"].map(usual)).dropna()
    fixes = {
        (a, p): u
        for a, p, u in rare[["address", "postcode", "usual"]].itertuples(index=False)
        if _levenshtein_at_most_one(p.replace(" ", ""), u.replace(" ", ""))
    }
    if not fixes:
        return frame["postcode"]
    keys = pd.Series(list(zip(frame["address"], frame["postcode"], strict=True)), index=frame.index)
    fixed = keys.map(fixes)
    return frame["postcode"].where(fixed.isna(), fixed)


def _attach_flatless(frame: pd.DataFrame) -> pd.Series:
    """``"151 church close"`` is the only flat ``"10 151 church close"`` of that postcode."""
    known = frame.dropna().drop_duplicates(["address", "postcode"])
    numbers = known["address"].str.findall(r"\d+")
    words = known["address"].str.replace(r"\d+", "", regex=True).str.split().str.join(" ")
    known = known.assign(numbers=numbers.map(frozenset), words=words)
    flats = known[known["numbers"].map(len) == 2]
    buildings = known[known["numbers"].map(len) == 1]
    matches = buildings.merge(flats, on=["postcode", "words"], suffixes=("", "_flat"))
    inside = np.array(
        [b <= f for b, f in zip(matches["numbers"], matches["numbers_flat"], strict=True)],
        dtype=bool,
    )
    matches = matches.loc[inside]
    candidates = matches.groupby(["address", "postcode"])["address_flat"].transform("size")
    unique = matches[candidates.to_numpy() == 1]
    fixes = {
        (a, p): f
        for a, p, f in unique[["address", "postcode", "address_flat"]].itertuples(index=False)
    }
    if not fixes:
        return frame["address"]
    keys = pd.Series(list(zip(frame["address"], frame["postcode"], strict=True)), index=frame.index)
    fixed = keys.map(fixes)
    return frame["address"].where(fixed.isna(), fixed)


def resolve_addresses(
    address_line: pd.Series,
    postcode: pd.Series,
    *,
    similarity: float = 0.9,
    dominant_share: float = 0.8,
) -> pd.Series:
    """One key per home from raw address lines and postcodes (missing when unknowable).

    Rules: (1) address lines and postcodes are standardised (word order, abbreviations,
    case, spacing); (2) within a postcode, a spelling is mapped to a commoner spelling with
    the same house and flat numbers when their Jaro-Winkler similarity is at least
    ``similarity`` (typos); (3) a line's minority postcode one character away from the
    postcode it has in most of its rows is a postcode typo; (4) a line without
    the flat number (``151 Church Close``) is the flat when the postcode has exactly one
    flat at that number; (5) a line without a usable postcode takes its dominant postcode;
    (6) a postcode without an address line identifies no single home: the key is missing.

    Parameters
    ----------
    address_line, postcode
        Raw values, aligned.

    Returns
    -------
    pandas.Series
        ``"<address>|<postcode>"`` strings (``string`` dtype), missing where unresolved.
    """
    address = standardise_address(address_line)
    parsed = standardise_postcode(postcode)
    code = parsed["postcode"].where(
        parsed["postcode_district"].notna() & ~parsed["postcode"].isin(PLACEHOLDER_POSTCODES)
    )
    frame = pd.DataFrame({"address": address, "postcode": code})
    known = frame.dropna().groupby(["address", "postcode"]).size().rename("n").reset_index()
    if not known.empty:
        known["numbers"] = _numbers(known["address"]).fillna("")
        mapping = _repair_typos(known, similarity)
        if mapping:
            keys = pd.Series(list(zip(frame["address"], frame["postcode"], strict=True)))
            repaired = keys.map(mapping)
            frame["address"] = repaired.where(
                repaired.notna(), frame["address"].to_numpy()
            ).to_numpy()
        frame["postcode"] = _repair_postcodes(frame)
        frame["address"] = _attach_flatless(frame)
        counts = frame.dropna().groupby(["address", "postcode"]).size().rename("n").reset_index()
        share = counts["n"] / counts.groupby("address")["n"].transform("sum")
        dominant = counts[share >= dominant_share].set_index("address")["postcode"]
        fill = frame["address"].map(dominant)
        frame["postcode"] = frame["postcode"].where(frame["postcode"].notna(), fill)
    key = frame["address"] + "|" + frame["postcode"].fillna("")
    return key.where(frame["address"].notna()).astype("string").set_axis(address_line.index)
